/*
 * fcrdns.h - forward-confirmed reverse DNS of an SMTP client, and dynamic-host names.
 *
 * fcrdns IP: the PTR names of IP (at most FCRDNS_PTR_MAX), then the A (IPv4) or AAAA
 * (IPv6) records of each, CNAMEs followed by the resolver (libunbound bounds the chain);
 * pass with hostname= when a name resolves back to IP; fail reason=noptr (NXDOMAIN, no
 * PTR) or reason=mismatch; defer reason=dnserror on SERVFAIL, timeout or any temporary
 * error (a DNS outage never rejects mail). A confirmed name that looks dynamic
 * (core/dynamic.h) fails with reason=dynamic, or passes with dynamic=yes when
 * dynamic_action = flag.
 *
 * The DNS facts (confirmed name, noptr, mismatch) are cached in the store per IP for no
 * longer than the answers' TTLs and fcrdns_cache_ttl; temporary failures never are. The
 * dynamic rule is applied to the cached name at every check, so a changed patterns file
 * or dynamic_action takes effect at once.
 *
 * Record:  f:<IP>  ->  "1 <confirmed|noptr|mismatch> <created> <expires> <name|->"
 * (decoded strictly: anything else is a miss, never a verdict).
 */
#ifndef RG_FCRDNS_H
#define RG_FCRDNS_H

#include "dns.h"
#include "yield.h"

#define FCRDNS_PTR_MAX DNS_ANSWERS_MAX

#define FCRDNS_MSG_NOPTR "Your IP address does not resolve to a hostname - no proper reverse mapping exists"
#define FCRDNS_MSG_DYNAMIC "You are a dynamic host - please use your providers mailserver to send emails"
#define FCRDNS_MSG_DEFER "Cannot check the reverse DNS of your IP address now, please try again later"

enum fcrdns_outcome { FCRDNS_CONFIRMED = 0, FCRDNS_NOPTR = 1, FCRDNS_MISMATCH = 2 };

struct fcrdns_record {
	int outcome;                    /* enum fcrdns_outcome */
	int64_t created, expires;       /* unix seconds */
	char name[DNS_NAME_MAX];        /* confirmed name, or the first PTR name of a mismatch; "" */
};

/* fcrdns IP [OPTIONS] -> result=pass|fail|defer (see above). Returns the RG_ outcome:
 * RG_FOUND pass, RG_NOTFOUND fail, RG_TEMPFAIL defer, RG_CONFIG defer (bad config/IP). */
int fcrdns_run(const char *ip, const char *options, struct yield *y);

/* Store key of ip's record ("f:" + the address in canonical text). */
int fcrdns_record_key(char *key, size_t size, const char *canonical_ip);

/* Why a declaration, not store.h: the Exim module includes this beside Exim's own
 * store.h, whose include guard is the same name. */
struct store_handle;

/* Delete the expired (or unreadable) records; *n of them. For rcptguardctl purge:
 * without it every client IP ever seen would keep its record. */
int fcrdns_purge(const struct store_handle *st, int64_t now, size_t *n, char *err, size_t errlen);

/* Encode into buf (-1 when it does not fit); decode strictly (0 ok, -1 a miss). */
int fcrdns_record_encode(const struct fcrdns_record *r, char *buf, size_t size);
int fcrdns_record_decode(const char *buf, size_t len, struct fcrdns_record *r);

/* Per-process teardown: the resolver context. */
void fcrdns_shutdown(void);

#endif
