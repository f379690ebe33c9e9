/*
 * dns.c - libunbound, loaded on first use, with a hard deadline per check (see dns.h).
 *
 * Why asynchronous queries: a dead server makes a synchronous ub_resolve() take 17-30 s,
 * longer than any SMTP client waits. Queries go out with ub_resolve_async(); the caller
 * polls ub_fd() until the deadline, ub_process() delivers answers, ub_cancel() drops the
 * rest. The context resolves in a thread (ub_ctx_async(ctx, 1)), not a forked process:
 * a fork per Exim connection would cost more than the query.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unbound.h>

#include "dns.h"
#include "dynlib.h"
#include "rglog.h"

#define DNS_MAX_RTT_MS "1000"     /* infra-cache-max-rtt: give up on a dead server sooner */

static struct {
	__typeof__(ub_ctx_create) *ctx_create;
	__typeof__(ub_ctx_delete) *ctx_delete;
	__typeof__(ub_ctx_set_option) *ctx_set_option;
	__typeof__(ub_ctx_config) *ctx_config;
	__typeof__(ub_ctx_set_fwd) *ctx_set_fwd;
	__typeof__(ub_ctx_resolvconf) *ctx_resolvconf;
	__typeof__(ub_ctx_add_ta_file) *ctx_add_ta_file;
	__typeof__(ub_ctx_async) *ctx_async;
	__typeof__(ub_resolve_async) *resolve_async;
	__typeof__(ub_fd) *fd;
	__typeof__(ub_process) *process;
	__typeof__(ub_cancel) *cancel;
	__typeof__(ub_resolve_free) *resolve_free;
	__typeof__(ub_strerror) *strerror_;
} ub;
static int dns_loaded;

#define SYM(f, n) { n, (void **)&ub.f }
static const struct dynlib_sym dns_syms[] = {
	SYM(ctx_create, "ub_ctx_create"), SYM(ctx_delete, "ub_ctx_delete"),
	SYM(ctx_set_option, "ub_ctx_set_option"), SYM(ctx_config, "ub_ctx_config"),
	SYM(ctx_set_fwd, "ub_ctx_set_fwd"), SYM(ctx_resolvconf, "ub_ctx_resolvconf"),
	SYM(ctx_add_ta_file, "ub_ctx_add_ta_file"), SYM(ctx_async, "ub_ctx_async"),
	SYM(resolve_async, "ub_resolve_async"), SYM(fd, "ub_fd"), SYM(process, "ub_process"),
	SYM(cancel, "ub_cancel"), SYM(resolve_free, "ub_resolve_free"), SYM(strerror_, "ub_strerror"),
};

/* The process's context and the settings it was made from. */
static struct {
	struct ub_ctx *ctx;
	uint64_t gen;
	char forward[sizeof(((struct settings *)0)->dns.forward)];
	char config[RG_PATH_MAX];
	char anchor[RG_PATH_MAX];
} dns_cur;

/* Whether the context was made from these settings. */
static int dns_same(const struct settings *s)
{
	return strcmp(dns_cur.forward, s->dns.forward) == 0 && strcmp(dns_cur.config, s->dns.config) == 0 &&
	       strcmp(dns_cur.anchor, s->dns.trust_anchor) == 0;
}

/* Set one unbound option; RG_CONFIG naming it on failure. */
static int dns_option(struct ub_ctx *ctx, const char *opt, const char *val, char *err, size_t errlen)
{
	int rc = ub.ctx_set_option(ctx, opt, val);

	if (rc != 0) {
		util_snprintf(err, errlen, "libunbound option %s %s: %s", opt, val, ub.strerror_(rc));
		return RG_CONFIG;
	}
	return RG_FOUND;
}

/* Point ctx at each "IP@PORT" of the dns_forward list (spaces or commas between). */
static int dns_forwarders(struct ub_ctx *ctx, const char *list, char *err, size_t errlen)
{
	char item[64];
	const char *p = list;
	size_t k;
	int rc;

	while (*p) {
		p += strspn(p, " ,\t");
		k = strcspn(p, " ,\t");
		if (k == 0)
			break;
		if (k >= sizeof item) {
			util_snprintf(err, errlen, "dns_forward: %.40s... is not IP or IP@PORT", p);
			return RG_CONFIG;
		}
		memcpy(item, p, k);
		item[k] = '\0';
		p += k;
		if ((rc = ub.ctx_set_fwd(ctx, item)) != 0) {
			util_snprintf(err, errlen, "dns_forward: %s: %s", item, ub.strerror_(rc));
			return RG_CONFIG;
		}
	}
	return RG_FOUND;
}

/* Make a context from s. */
static int dns_make(const struct settings *s, struct ub_ctx **out, char *err, size_t errlen)
{
	struct ub_ctx *ctx = ub.ctx_create();
	int rc = RG_FOUND;

	if (ctx == NULL) {
		util_snprintf(err, errlen, "libunbound: cannot create a resolver context");
		return RG_TEMPFAIL;
	}
	if ((rc = ub.ctx_async(ctx, 1)) != 0) {
		util_snprintf(err, errlen, "libunbound: threads: %s", ub.strerror_(rc));
		ub.ctx_delete(ctx);
		return RG_TEMPFAIL;
	}
	/* Why: the forwarder is often a local resolver (127.0.0.1@53); unbound refuses to
	 * ask localhost by default. A dead server is given up on after 1 s instead of ~2 min
	 * of back-off, so that the deadline is what bounds a check. */
	rc = dns_option(ctx, "do-not-query-localhost:", "no", err, errlen);
	if (rc == RG_FOUND)
		rc = dns_option(ctx, "infra-cache-max-rtt:", DNS_MAX_RTT_MS, err, errlen);
	if (rc == RG_FOUND && s->dns.forward[0]) {
		/* Why transparent: unbound answers the loopback reverse zones itself by default
		 * (127.in-addr.arpa, ::1); with a forwarder, the forwarder is asked like for any
		 * other name, and its answer counts. */
		rc = dns_option(ctx, "local-zone:", "127.in-addr.arpa. transparent", err, errlen);
		if (rc == RG_FOUND)
			rc = dns_option(ctx, "local-zone:", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
					"0.0.0.0.ip6.arpa. transparent", err, errlen);
		/* Why: unbound also answers the private ranges' reverse zones (10/8, 192.168/16,
		 * ...) itself with NXDOMAIN; an internal forwarder may well know those names. */
		if (rc == RG_FOUND)
			rc = dns_option(ctx, "unblock-lan-zones:", "yes", err, errlen);
		if (rc == RG_FOUND)
			rc = dns_option(ctx, "insecure-lan-zones:", "yes", err, errlen);
		if (rc == RG_FOUND)
			rc = dns_forwarders(ctx, s->dns.forward, err, errlen);
	} else if (rc == RG_FOUND && s->dns.config[0]) {
		int e = ub.ctx_config(ctx, s->dns.config);

		if (e != 0) {
			util_snprintf(err, errlen, "dns_config %.200s: %s", s->dns.config, ub.strerror_(e));
			rc = RG_CONFIG;
		}
	} else if (rc == RG_FOUND) {
		int e = ub.ctx_resolvconf(ctx, NULL);

		if (e != 0) {
			util_snprintf(err, errlen, "/etc/resolv.conf: %s", ub.strerror_(e));
			rc = RG_TEMPFAIL;
		}
	}
	if (rc == RG_FOUND && s->dns.trust_anchor[0]) {
		int e = ub.ctx_add_ta_file(ctx, s->dns.trust_anchor);

		if (e != 0) {
			util_snprintf(err, errlen, "dns_trust_anchor %.200s: %s", s->dns.trust_anchor, ub.strerror_(e));
			rc = RG_CONFIG;
		}
	}
	if (rc != RG_FOUND) {
		ub.ctx_delete(ctx);
		return rc;
	}
	*out = ctx;
	return RG_FOUND;
}

/* The process's context for s, made (and libunbound loaded) on first use. */
static struct ub_ctx *dns_context(const struct settings *s, char *err, size_t errlen, int *rc)
{
	uint64_t gen = util_fork_generation();
	struct ub_ctx *ctx;

	if (!dns_loaded) {
		if ((*rc = dynlib_load(RG_UNBOUND_SONAME, dns_syms, sizeof dns_syms / sizeof dns_syms[0],
				       err, errlen)) != RG_FOUND)
			return NULL;
		dns_loaded = 1;
	}
	/* Why abandon: the resolver thread and its pipe belong to the parent; a child that
	 * used them would read the parent's answers (or wait forever). */
	if (dns_cur.ctx != NULL && dns_cur.gen != gen)
		memset(&dns_cur, 0, sizeof dns_cur);
	if (dns_cur.ctx != NULL && dns_same(s))
		return dns_cur.ctx;
	dns_shutdown();
	if ((*rc = dns_make(s, &ctx, err, errlen)) != RG_FOUND)
		return NULL;
	if (util_strlcpy(dns_cur.forward, s->dns.forward, sizeof dns_cur.forward) < 0 ||
	    util_strlcpy(dns_cur.config, s->dns.config, sizeof dns_cur.config) < 0 ||
	    util_strlcpy(dns_cur.anchor, s->dns.trust_anchor, sizeof dns_cur.anchor) < 0) {
		ub.ctx_delete(ctx);
		memset(&dns_cur, 0, sizeof dns_cur);
		*rc = RG_CONFIG;
		util_snprintf(err, errlen, "dns settings too long");
		return NULL;
	}
	dns_cur.ctx = ctx;
	dns_cur.gen = gen;
	return ctx;
}

/* Free the process's context (only if this process made it). */
RG_HOT void dns_shutdown(void)
{
	if (dns_cur.ctx != NULL && dns_cur.gen == util_fork_generation())
		ub.ctx_delete(dns_cur.ctx);
	memset(&dns_cur, 0, sizeof dns_cur);
}

/* Decode an uncompressed wire-format name into lower-case text; -1 unless it is a host
 * name (letters, digits, '-', '_'), so that no odd byte reaches a log or a yield. */
static int dns_wire_name(const unsigned char *p, size_t len, char *out, size_t size)
{
	size_t i = 0, o = 0;

	while (i < len && p[i] != 0) {
		size_t l = p[i++], k;

		if (l > 63 || i + l > len)
			return -1;
		if (o > 0) {
			if (o + 1 >= size)
				return -1;
			out[o++] = '.';
		}
		for (k = 0; k < l; k++) {
			unsigned char ch = p[i + k];

			if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
			      ch == '-' || ch == '_') || o + 1 >= size)
				return -1;
			out[o++] = (char)(ch | ((ch >= 'A' && ch <= 'Z') ? 0x20 : 0));
		}
		i += l;
	}
	if (i >= len || o == 0)
		return -1;
	out[o] = '\0';
	return 0;
}

/* libunbound's callback: copy the answer into the query. */
static void dns_answer(void *arg, int e, struct ub_result *r)
{
	struct dns_query *q = arg;
	int i;

	q->pending = 0;
	if (e != 0 || r == NULL) {
		q->status = RG_TEMPFAIL;
		util_snprintf(q->why, sizeof q->why, "%s", ub.strerror_(e));
		if (r != NULL)
			ub.resolve_free(r);
		return;
	}
	q->ttl = r->ttl > 0 ? (unsigned)r->ttl : 0;
	if (r->bogus) {
		/* Why: a forged or broken signature is an attack or an outage, never proof
		 * that the name is wrong. */
		q->status = RG_TEMPFAIL;
		util_snprintf(q->why, sizeof q->why, "DNSSEC bogus: %.100s", r->why_bogus ? r->why_bogus : "?");
	} else if (r->havedata && r->data != NULL) {
		q->status = RG_FOUND;
		for (i = 0; r->data[i] != NULL; i++) {
			const unsigned char *d = (const unsigned char *)r->data[i];
			size_t len = (size_t)r->len[i];

			q->total++;
			if (q->n >= DNS_ANSWERS_MAX)
				continue;
			if (q->type == DNS_T_PTR) {
				if (dns_wire_name(d, len, q->rr[q->n].host, sizeof q->rr[q->n].host) < 0) {
					q->bad_names++;
					continue;
				}
			} else if (len == (q->type == DNS_T_A ? 4u : 16u)) {
				memcpy(q->rr[q->n].addr, d, len);
			} else {
				continue;
			}
			q->n++;
		}
	} else if (r->rcode == 0 || r->rcode == 3) {
		/* NOERROR without data or NXDOMAIN: a definite "no". */
		q->status = RG_NOTFOUND;
		q->nxdomain = r->nxdomain;
	} else {
		q->status = RG_TEMPFAIL;
		util_snprintf(q->why, sizeof q->why, "rcode %d%s", r->rcode,
			      r->rcode == 2 ? " (SERVFAIL)" : r->rcode == 5 ? " (REFUSED)" : "");
	}
	ub.resolve_free(r);
}

/* Run the queries until all are answered or the deadline passes. */
int dns_resolve(const struct settings *s, struct dns_query *q, size_t n, int64_t deadline_ms,
		char *err, size_t errlen)
{
	struct ub_ctx *ctx;
	sigset_t all, old;
	size_t i, pending = 0;
	int rc, fd, failed = 0;

	for (i = 0; i < n; i++) {
		q[i].status = RG_TEMPFAIL;
		q[i].n = q[i].total = 0;
		q[i].nxdomain = q[i].bad_names = q[i].pending = 0;
		q[i].ttl = 0;
		util_snprintf(q[i].why, sizeof q[i].why, "timeout");
	}
	if ((ctx = dns_context(s, err, errlen, &rc)) == NULL)
		return rc;
	/* Why block signals: the first query starts libunbound's thread, which inherits this
	 * mask; Exim's SIGALRM, SIGCHLD, SIGTERM must reach Exim's own thread, never it. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < n; i++) {
		q[i].pending = 1;
		rc = ub.resolve_async(ctx, q[i].name, q[i].type, 1, &q[i], dns_answer, &q[i].async_id);
		if (rc != 0) {
			q[i].pending = 0;
			util_snprintf(q[i].why, sizeof q[i].why, "%s", ub.strerror_(rc));
		} else {
			pending++;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	fd = ub.fd(ctx);
	while (pending > 0) {
		int64_t left = deadline_ms - util_monotonic_ms();
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (left <= 0)
			break;
		rc = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
		if (rc < 0 && errno != EINTR) {
			util_snprintf(err, errlen, "poll on the resolver: %s", strerror(errno));
			failed = 1;
			break;
		}
		if (rc > 0 && (rc = ub.process(ctx)) != 0) {
			util_snprintf(err, errlen, "libunbound: %s", ub.strerror_(rc));
			failed = 1;
			break;
		}
		for (pending = 0, i = 0; i < n; i++)
			pending += q[i].pending != 0;
	}
	for (i = 0; i < n; i++)
		if (q[i].pending) {
			/* Unanswered by the deadline (or the resolver failed): dropped, a
			 * temporary failure that says which. */
			ub.cancel(ctx, q[i].async_id);
			q[i].pending = 0;
			if (failed)
				util_snprintf(q[i].why, sizeof q[i].why, "%s", err);
		}
	return RG_FOUND;
}

/* The reverse name of an address. */
int dns_reverse_name(const unsigned char *a, int family, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	int i;

	if (family == AF_INET)
		return util_snprintf(out, size, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
	if (size < 16 * 4 + sizeof "ip6.arpa")
		return -1;
	for (i = 15; i >= 0; i--) {
		out[o++] = hex[a[i] & 0xf];
		out[o++] = '.';
		out[o++] = hex[a[i] >> 4];
		out[o++] = '.';
	}
	memcpy(out + o, "ip6.arpa", sizeof "ip6.arpa");
	return 0;
}
