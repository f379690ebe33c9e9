/*
 * dns.h - bounded DNS queries through libunbound, for the FCrDNS check.
 *
 * libunbound is loaded on first use (core/dynlib.h), never linked: every Exim connection
 * would otherwise pay its dlopen. One resolver context per process, made lazily from the
 * settings (dns_forward "IP@PORT ...", else dns_config, an unbound config file, else the
 * system's resolv.conf; dns_trust_anchor turns DNSSEC validation on), remade when those
 * settings change, abandoned (never used, never freed) in a child after fork().
 *
 * Several queries run at once and all end by one deadline: what is unanswered then is
 * cancelled and is a temporary failure. SERVFAIL, REFUSED, a bogus (DNSSEC) answer and a
 * timeout are RG_TEMPFAIL; only NXDOMAIN or an empty answer is RG_NOTFOUND.
 *
 * Ownership: struct dns_query belongs to the caller; answers are copied into it.
 */
#ifndef RG_DNS_H
#define RG_DNS_H

#include "config.h"

#define DNS_T_A 1
#define DNS_T_PTR 12
#define DNS_T_AAAA 28
#define DNS_ANSWERS_MAX 8          /* records kept per query; more are counted, not kept */
#define DNS_NAME_MAX 254           /* a presentation name without its final dot, + NUL */

struct dns_query {
	char name[DNS_NAME_MAX];   /* in: the name asked */
	int type;                  /* in: DNS_T_A, DNS_T_AAAA, DNS_T_PTR */
	int status;                /* out: RG_FOUND, RG_NOTFOUND, RG_TEMPFAIL */
	int nxdomain;              /* out: the name does not exist */
	unsigned ttl;              /* out: lifetime of the answer (negative answers too) */
	size_t n, total;           /* out: records kept, records in the answer */
	int bad_names;             /* out (PTR): names that are not host names, skipped */
	union {
		char host[DNS_NAME_MAX];   /* PTR: lower-case, no final dot */
		unsigned char addr[16];    /* A: 4 bytes, AAAA: 16 */
	} rr[DNS_ANSWERS_MAX];
	char why[128];             /* out (RG_TEMPFAIL): what went wrong */
	/* private */
	int pending, async_id;
};

/*
 * Run q[0..n-1] at once until all are answered or deadline_ms (util_monotonic_ms()) passes.
 * RG_FOUND when the queries ran (each has its own status; unanswered ones are RG_TEMPFAIL
 * "timeout"), RG_CONFIG (library missing, bad dns_* settings) or RG_TEMPFAIL (the resolver
 * could not start) with err set.
 */
int dns_resolve(const struct settings *s, struct dns_query *q, size_t n, int64_t deadline_ms,
		char *err, size_t errlen);

/* The reverse name of an address (4 or 16 bytes): "4.3.2.1.in-addr.arpa", nibbles for IPv6. */
int dns_reverse_name(const unsigned char *addr, int family, char *out, size_t size);

/* Free this process's context (tests, CLI exit); a context inherited over fork() is
 * only forgotten. */
void dns_shutdown(void);

#endif
