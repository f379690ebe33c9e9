/*
 * source.h - the recipient-source family (ops struct + registry).
 *
 * Members: "callout" (source_callout.c); "list" and "ldap" join later. A source answers
 * for one address: RG_FOUND (exists), RG_NOTFOUND (does not), RG_TEMPFAIL (cannot tell
 * now: the chain moves on), RG_CONFIG (not configured for this domain: the chain moves on).
 */
#ifndef RG_SOURCE_H
#define RG_SOURCE_H

#include "address.h"
#include "config.h"
#include "verdict.h"

struct source_answer {
	int catchall;                   /* the destination accepts anything: cannot answer */
	char text[VERDICT_TEXT_MAX];    /* what the source said (remote reply, entry DN, ...) */
};

struct source_ops {
	const char *name;
	/* Answer for addr under settings s, before deadline_ms (util_monotonic_ms clock). */
	int (*lookup)(const struct address *addr, const struct settings *s, int64_t deadline_ms,
		      struct source_answer *ans, char *err, size_t errlen);
	/* Release per-process resources (connections). May be NULL. */
	void (*reset)(void);
};

extern const struct source_ops *const source_registry[];

/* Find a member by name (NULL when unknown). */
const struct source_ops *source_find(const char *name);

#endif
