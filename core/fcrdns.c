/*
 * fcrdns.c - the FCrDNS check of a client IP, its cache records and its yield (fcrdns.h).
 *
 * Why cache the DNS facts rather than the verdict: a busy client would otherwise cost a
 * DNS round trip per connection, but the dynamic rule and dynamic_action are the
 * operator's and must apply to cached names at once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynamic.h"
#include "engine.h"
#include "fcrdns.h"
#include "ipaddr.h"
#include "record.h"
#include "rglog.h"
#include "stats.h"
#include "store.h"

#define FCRDNS_VERSION "1"

static const char *const fcrdns_words[] = { "confirmed", "noptr", "mismatch" };

struct fcrdns_client {
	int family;                     /* AF_INET / AF_INET6 */
	unsigned char addr[16];
	char text[INET6_ADDRSTRLEN];    /* canonical */
};

/* Store key of ip's record. */
RG_HOT int fcrdns_record_key(char *key, size_t size, const char *canonical_ip)
{
	return util_snprintf(key, size, "f:%s", canonical_ip);
}

/* delete_if predicate: an expired or unreadable record. */
static int fcrdns_expired(const char *k, size_t kl, const char *v, size_t vl, void *arg)
{
	struct fcrdns_record r;

	(void)k;
	(void)kl;
	return fcrdns_record_decode(v, vl, &r) < 0 || *(const int64_t *)arg >= r.expires;
}

/* Delete what expired. */
int fcrdns_purge(const struct store_handle *st, int64_t now, size_t *n, char *err, size_t errlen)
{
	return store_delete_if(st, "f:", fcrdns_expired, &now, n, 0, err, errlen);
}

/* Encode r into buf. */
int fcrdns_record_encode(const struct fcrdns_record *r, char *buf, size_t size)
{
	struct record_writer w;

	if (r->outcome < 0 || r->outcome > FCRDNS_MISMATCH)
		return -1;
	record_write_begin(&w, buf, size, FCRDNS_VERSION);
	record_write_word(&w, fcrdns_words[r->outcome]);
	record_write_decimal(&w, r->created);
	record_write_decimal(&w, r->expires);
	record_write_word(&w, r->name[0] ? r->name : "-");
	return record_write_end(&w);
}

/* Decode strictly: version, outcome word, two timestamps, a host name or "-". */
RG_HOT int fcrdns_record_decode(const char *buf, size_t len, struct fcrdns_record *r)
{
	struct record_reader rd;
	size_t i;
	int k;

	memset(r, 0, sizeof *r);
	if (record_read_begin(&rd, buf, len, FCRDNS_VERSION) < 0 ||
	    (k = record_read_choice(&rd, fcrdns_words, FCRDNS_MISMATCH + 1)) < 0 ||
	    record_read_decimal(&rd, INT64_MAX, &r->created) < 0 || record_read_decimal(&rd, INT64_MAX, &r->expires) < 0 ||
	    record_read_word(&rd, r->name, sizeof r->name) < 0 || record_read_end(&rd) < 0 || r->expires < r->created)
		goto bad;
	/* Only host-name bytes: the name goes into yields and logs. */
	for (i = 0; r->name[i]; i++)
		if (!((r->name[i] >= 'a' && r->name[i] <= 'z') || (r->name[i] >= '0' && r->name[i] <= '9') ||
		      r->name[i] == '-' || r->name[i] == '_' || r->name[i] == '.'))
			goto bad;
	if (strcmp(r->name, "-") == 0)
		r->name[0] = '\0';
	if (k == FCRDNS_CONFIRMED && r->name[0] == '\0')
		goto bad;
	r->outcome = k;
	return 0;
bad:
	memset(r, 0, sizeof *r);
	return -1;
}

/* Parse the client's address (ipaddr: an IPv4-mapped IPv6 address is its IPv4 address). */
static RG_HOT int fcrdns_parse_ip(const char *ip, struct fcrdns_client *c)
{
	struct ipaddr x;

	memset(c, 0, sizeof *c);
	if (ipaddr_parse(ip, &x) < 0)
		return -1;
	c->family = x.family;
	memcpy(c->addr, x.a, sizeof c->addr);
	return ipaddr_text(&x, c->text, sizeof c->text);
}

/* The DNS part: fill rec (outcome, name, TTL-bounded expiry). RG_FOUND when definite,
 * RG_TEMPFAIL/RG_CONFIG with err otherwise. Not inlined, as fcrdns_store(). */
static RG_NOINLINE int fcrdns_dns(const struct fcrdns_client *c, const struct settings *s, int64_t deadline,
		      struct fcrdns_record *rec, unsigned *ttl, char *err, size_t errlen)
{
	static struct dns_query q[1 + FCRDNS_PTR_MAX];   /* tens of KB: kept off the stack */
	size_t i, j, n;
	int rc, tempfail = 0;

	memset(q, 0, sizeof q);
	if (dns_reverse_name(c->addr, c->family, q[0].name, sizeof q[0].name) < 0)
		return util_snprintf(err, errlen, "reverse name"), RG_CONFIG;
	q[0].type = DNS_T_PTR;
	if ((rc = dns_resolve(s, q, 1, deadline, err, errlen)) != RG_FOUND)
		return rc;
	if (q[0].status == RG_TEMPFAIL)
		return util_snprintf(err, errlen, "PTR %s: %s", q[0].name, q[0].why), RG_TEMPFAIL;
	*ttl = q[0].ttl;
	if (q[0].status == RG_NOTFOUND || q[0].n == 0) {
		rec->outcome = FCRDNS_NOPTR;
		util_snprintf(err, errlen, q[0].status == RG_NOTFOUND ? (q[0].nxdomain ? "NXDOMAIN" : "no PTR record")
				      : "no PTR name is a host name");
		return RG_FOUND;
	}
	n = q[0].n < FCRDNS_PTR_MAX ? q[0].n : FCRDNS_PTR_MAX;
	for (i = 0; i < n; i++) {
		memcpy(q[1 + i].name, q[0].rr[i].host, sizeof q[1 + i].name);
		q[1 + i].type = c->family == AF_INET ? DNS_T_A : DNS_T_AAAA;
	}
	util_strlcpy(rec->name, q[1].name, sizeof rec->name);
	if ((rc = dns_resolve(s, q + 1, n, deadline, err, errlen)) != RG_FOUND)
		return rc;
	for (i = 1; i <= n; i++) {
		if (q[i].status == RG_TEMPFAIL) {
			tempfail = 1;
			util_snprintf(err, errlen, "%s %s: %s", q[i].type == DNS_T_A ? "A" : "AAAA", q[i].name, q[i].why);
			continue;
		}
		if (q[i].ttl < *ttl)
			*ttl = q[i].ttl;
		for (j = 0; q[i].status == RG_FOUND && j < q[i].n; j++)
			if (memcmp(q[i].rr[j].addr, c->addr, c->family == AF_INET ? 4 : 16) == 0) {
				rec->outcome = FCRDNS_CONFIRMED;
				util_strlcpy(rec->name, q[i].name, sizeof rec->name);
				*ttl = q[0].ttl < q[i].ttl ? q[0].ttl : q[i].ttl;
				return RG_FOUND;
			}
	}
	/* Why: a name that could not be asked might have confirmed; a mismatch is only
	 * certain when every name answered, and when no name was left unasked. */
	if (tempfail)
		return RG_TEMPFAIL;
	if (q[0].total > n)
		return util_snprintf(err, errlen, "%zu PTR names, only %zu asked, none confirms", q[0].total, n),
		       RG_TEMPFAIL;
	rec->outcome = FCRDNS_MISMATCH;
	util_snprintf(err, errlen, "%s does not resolve to the address", rec->name);
	return RG_FOUND;
}

/* Read the cached record of c; 0 when a live one was decoded. Not inlined: its buffers
 * are gone from the stack before the answer is built and counted. */
static RG_HOT RG_NOINLINE int fcrdns_cached(const struct store_handle *st, const struct fcrdns_client *c, unsigned max_ttl,
			 int64_t deadline, struct fcrdns_record *r)
{
	char key[STORE_KEY_MAX + 1], val[STORE_VAL_MAX], err[RG_ERRLEN];
	size_t vlen;
	int rc;

	/* fcrdns_cache_ttl = 0: no cache at all, neither written nor read. */
	if (st == NULL || max_ttl == 0 || fcrdns_record_key(key, sizeof key, c->text) < 0)
		return -1;
	rc = store_get(st, key, val, sizeof val, &vlen, deadline, err, sizeof err);
	if (rc == RG_TEMPFAIL)
		rglog(RGLOG_INFO, "rcptguard: store unavailable, running uncached: %s", err);
	if (rc != RG_FOUND)
		return -1;
	if (fcrdns_record_decode(val, vlen, r) < 0) {
		rglog(RGLOG_DEBUG, "rcptguard: malformed fcrdns record for %s ignored", c->text);
		return -1;
	}
	/* A lowered fcrdns_cache_ttl shortens records written before it. */
	if (r->expires - r->created > (int64_t)max_ttl)
		r->expires = r->created + max_ttl;
	return util_now() < r->expires ? 0 : -1;
}

/* Cache a definite outcome (best effort: the cache is a hint). Not inlined: a cached
 * answer never comes here, and its buffers would deepen every check's stack. */
static RG_NOINLINE void fcrdns_store(const struct store_handle *st, const struct fcrdns_client *c, struct fcrdns_record *r,
			 unsigned lifetime, int64_t deadline)
{
	char key[STORE_KEY_MAX + 1], val[STORE_VAL_MAX], err[RG_ERRLEN];

	if (st == NULL || lifetime == 0)
		return;
	r->created = util_now();
	r->expires = r->created + lifetime;
	if (fcrdns_record_key(key, sizeof key, c->text) < 0 || fcrdns_record_encode(r, val, sizeof val) < 0)
		return;
	if (store_put(st, key, val, strlen(val), r->expires, deadline, err, sizeof err) != RG_FOUND)
		rglog(RGLOG_INFO, "rcptguard: store unavailable, fcrdns result not cached: %s", err);
}

/* Turn a definite record into the yield (the dynamic rule applied now). */
static RG_HOT int fcrdns_verdict_line(const struct fcrdns_client *c, const struct settings *s,
			       const struct fcrdns_record *r, const char *source, const char *detail,
			       struct yield *y)
{
	char why[160] = "", err[RG_ERRLEN] = "";
	int rc;

	if (r->outcome != FCRDNS_CONFIRMED) {
		yield_init(y, "fail");
		yield_add(y, "source", source);
		yield_add(y, "reason", r->outcome == FCRDNS_NOPTR ? "noptr" : "mismatch");
		yield_add(y, "ptr", r->name);
		yield_add(y, "message", FCRDNS_MSG_NOPTR);
		yield_add(y, "detail", detail);
		return RG_NOTFOUND;
	}
	rc = dynamic_check(r->name, c->addr, c->family, s->fcrdns.dynamic_patterns, why, sizeof why, err, sizeof err);
	if (rc == RG_CONFIG || rc == RG_TEMPFAIL) {
		rglog(RGLOG_ERROR, "rcptguard: configuration error: %s", err);
		yield_init(y, "defer");
		yield_add(y, "reason", "config");
		yield_add(y, "hostname", r->name);
		yield_add(y, "message", FCRDNS_MSG_DEFER);
		yield_add(y, "detail", err);
		return RG_CONFIG;
	}
	if (rc == RG_FOUND && strcmp(s->fcrdns.dynamic_action, "flag") != 0) {
		yield_init(y, "fail");
		yield_add(y, "source", source);
		yield_add(y, "reason", "dynamic");
		yield_add(y, "hostname", r->name);
		yield_add(y, "message", FCRDNS_MSG_DYNAMIC);
		yield_add(y, "detail", why);
		return RG_NOTFOUND;
	}
	yield_init(y, "pass");
	yield_add(y, "source", source);
	yield_add(y, "hostname", r->name);
	if (rc == RG_FOUND) {
		yield_add(y, "dynamic", "yes");
		yield_add(y, "detail", why);
	}
	return RG_FOUND;
}

/* The yield of a definite record, with its remaining lifetime. */
static RG_HOT int fcrdns_verdict(const struct fcrdns_client *c, const struct settings *s,
			  const struct fcrdns_record *r, const char *source, const char *detail, struct yield *y)
{
	int rc = fcrdns_verdict_line(c, s, r, source, detail, y);

	/* ttl: how long this answer is cached (0: not cached), for the log and the operator. */
	if (rc != RG_CONFIG)
		yield_add_int(y, "ttl", r->expires > util_now() ? r->expires - util_now() : 0);
	return rc;
}

/* Fill y with a deferral. */
static void fcrdns_defer(struct yield *y, const char *reason, const char *detail)
{
	yield_init(y, "defer");
	yield_add(y, "reason", reason);
	yield_add(y, "message", FCRDNS_MSG_DEFER);
	yield_add(y, "detail", detail);
}

/* fcrdns IP [OPTIONS]. */
RG_HOT int fcrdns_run(const char *ip, const char *options, struct yield *y)
{
	int64_t t0 = util_monotonic_ms();
	char err[RG_ERRLEN] = "", shown[48];
	const struct settings *s;
	const struct store_handle *st;
	struct fcrdns_client c;
	struct fcrdns_record rec;
	unsigned ttl = 0;
	int rc, quiet = 0;

	memset(&rec, 0, sizeof rec);
	util_sanitise(shown, sizeof shown, ip, strlen(ip));
	if (fcrdns_parse_ip(ip, &c) < 0) {
		util_snprintf(err, sizeof err, "not an IP address: \"%s\"", shown);
		fcrdns_defer(y, "syntax", err);
		rc = RG_CONFIG;
	} else if (engine_settings(options, "", &s, err, sizeof err) != RG_FOUND) {
		rglog(RGLOG_ERROR, "rcptguard: configuration error: %s", err);
		fcrdns_defer(y, "config", err);
		rc = RG_CONFIG;
	} else {
		util_strlcpy(shown, c.text, sizeof shown);
		st = store_process(s, err, sizeof err);
		if (st == NULL)
			rglog(RGLOG_INFO, "rcptguard: store unavailable, running uncached: %s", err);
		if (fcrdns_cached(st, &c, s->fcrdns.cache_ttl, t0 + (int64_t)s->dns.timeout * 1000, &rec) == 0) {
			rc = fcrdns_verdict(&c, s, &rec, "cache", NULL, y);
			quiet = !s->log_cached && rc != RG_CONFIG;
		} else {
			memset(&rec, 0, sizeof rec);
			err[0] = '\0';
			rc = fcrdns_dns(&c, s, t0 + (int64_t)s->dns.timeout * 1000, &rec, &ttl, err, sizeof err);
			if (rc == RG_FOUND) {
				fcrdns_store(st, &c, &rec, ttl < s->fcrdns.cache_ttl ? ttl : s->fcrdns.cache_ttl,
					     t0 + (int64_t)s->dns.timeout * 1000);
				rc = fcrdns_verdict(&c, s, &rec, "dns", rec.outcome == FCRDNS_CONFIRMED ? NULL : err, y);
			} else {
				if (rc == RG_CONFIG)
					rglog(RGLOG_ERROR, "rcptguard: configuration error: %s", err);
				fcrdns_defer(y, rc == RG_CONFIG ? "config" : "dnserror", err);
			}
		}
		stats_yield(s->state_dir, STATS_FCRDNS, y->line);
	}
	if (y->truncated) {
		/* Truncation is an error: a cut line could drop the key an ACL tests. */
		fcrdns_defer(y, "internal", "yield too long");
		rc = RG_TEMPFAIL;
		quiet = 0;
	}
	/* Why a verdict from the cache goes to the debug output only (unless log_cached =
	 * yes): it is the answer to most connections, and Exim logs a refusal itself (the
	 * snippet's log_message names the reason). */
	rglog(quiet ? RGLOG_DEBUG : RGLOG_INFO, "rcptguard: fcrdns [%s] %s ms=%lld", shown, y->line,
	      (long long)(util_monotonic_ms() - t0));
	return rc;
}

/* Per-process teardown. */
RG_HOT void fcrdns_shutdown(void)
{
	dns_shutdown();
}
