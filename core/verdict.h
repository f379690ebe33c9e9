/*
 * verdict.h - the cached records of recipient verdicts and catch-all probes.
 *
 * Records are text with a version first, parsed strictly: a record that does not parse
 * is a miss (it is then overwritten), never a verdict.
 *   v:<address>  ->  "1 <pass|fail> <source> <created> <expires> <text>"
 *   c:<domain>   ->  "1 <yes|no> catchall <created> <expires> <text>"
 */
#ifndef RG_VERDICT_H
#define RG_VERDICT_H

#include "rg.h"

#define VERDICT_TEXT_MAX 200

struct verdict {
	int pass;                       /* 1 pass / catch-all yes; 0 fail / no */
	char source[16];                /* callout list ldap catchall */
	int64_t created, expires;       /* unix seconds */
	char text[VERDICT_TEXT_MAX];    /* sanitised remote reply, for logs and the CLI */
};

/* Store key of an address verdict ("v:" + lower-cased address); -1 when it does not fit. */
int verdict_key_address(char *key, size_t size, const char *addrkey);
/* Store key of a domain's catch-all record ("c:" + domain). */
int verdict_key_catchall(char *key, size_t size, const char *domain);

/* Encode into buf; -1 when it does not fit. */
int verdict_encode(const struct verdict *v, int catchall, char *buf, size_t size);

/* Decode strictly: 0 ok, -1 malformed (treat as a miss). */
int verdict_decode(const char *buf, size_t len, int catchall, struct verdict *v);

/* The end of a record's life in the store (unix seconds, the expiry every write carries):
 * a positive verdict is kept stale_ttl after it was made (it may still answer when no
 * source can); a negative verdict or a catch-all result until it expires. */
int64_t verdict_life(const struct verdict *v, int catchall, unsigned stale_ttl);

#endif
