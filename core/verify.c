/*
 * verify.c - the recipient verification chain and the catch-all check.
 *
 * Cache first; then each source in the domain's order of preference until one gives a
 * definite answer; definite answers are cached with the domain's TTLs. A temporary
 * failure is never cached and never overwrites a positive verdict; when no source can
 * answer, a positive verdict younger than stale_ttl still passes, a catch-all
 * destination passes (it takes everything anyway), and anything else defers.
 */
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "rglog.h"
#include "source.h"
#include "source_callout.h"
#include "stats.h"
#include "store.h"
#include "verify.h"

struct verify_ctx {
	const char *func;               /* name in the log line */
	const char *role;               /* "recipient" or "sender", in messages */
	const char *shown;              /* the address or domain as logged (bounded) */
	int64_t t0;
	int quiet;                      /* a verdict from the cache, log_cached = no: debug only */
};

/* Emit the one log line of a verdict; a yield that did not fit becomes a deferral. Why a
 * verdict from the cache goes to the debug output only (unless log_cached = yes): Exim
 * logs the rejection of a 550 itself, an accepted RCPT needs no line, and on a busy
 * gateway most checks are answered from the cache: a line each is three system calls. */
static RG_HOT void verify_log(const struct verify_ctx *cx, struct yield *y)
{
	char shown[101];
	size_t i;
	int level = cx->quiet && !y->truncated ? RGLOG_DEBUG : RGLOG_INFO;

	if (level == RGLOG_DEBUG && !rglog_debug_enabled())
		return;
	if (y->truncated) {
		/* Truncation is an error: a cut line could drop the key an ACL tests. */
		yield_init(y, "defer");
		yield_add(y, "reason", "internal");
		yield_add(y, "message", "recipient verification failed internally, please try again later");
	}
	/* Why: the shown text may be what a client sent (a malformed address); a CR or LF
	 * in Exim's main log would forge lines. Bounded, control and 8-bit bytes as '?'. */
	for (i = 0; i + 1 < sizeof shown && cx->shown[i]; i++)
		shown[i] = ((unsigned char)cx->shown[i] < 0x20 || (unsigned char)cx->shown[i] > 0x7e) ?
			   '?' : cx->shown[i];
	shown[i] = '\0';
	rglog(level, "rcptguard: %s <%s> %s ms=%lld", cx->func, shown, y->line,
	      (long long)(util_monotonic_ms() - cx->t0));
}

/* Cache a definite verdict (best effort: the cache is a hint). Not inlined: a cached
 * verdict never comes here, and its buffers would deepen every check's stack. */
static RG_NOINLINE void verify_store(const struct store_handle *st, const struct address *a,
			 const struct settings *s, int pass, const char *source, const char *text,
			 int64_t deadline)
{
	char key[STORE_KEY_MAX + 1], val[STORE_VAL_MAX], err[RG_ERRLEN];
	struct verdict v;

	if (st == NULL)
		return;
	memset(&v, 0, sizeof v);
	v.pass = pass;
	util_strlcpy(v.source, source, sizeof v.source);
	v.created = util_now();
	v.expires = v.created + (pass ? s->positive_ttl : s->negative_ttl);
	util_sanitise(v.text, sizeof v.text, text, strlen(text));
	if (verdict_key_address(key, sizeof key, a->key) < 0 || verdict_encode(&v, 0, val, sizeof val) < 0)
		return;
	if (store_put(st, key, val, strlen(val), verdict_life(&v, 0, s->stale_ttl), deadline, err, sizeof err) != RG_FOUND)
		rglog(RGLOG_INFO, "rcptguard: store unavailable, verdict not cached: %s", err);
}

/* Read the cached verdict of a; 0 when one was decoded. Not inlined: its buffers are gone
 * from the stack before the answer is built and counted. */
static RG_HOT RG_NOINLINE int verify_cached(const struct store_handle *st, const struct address *a, int64_t deadline,
			 struct verdict *v)
{
	char key[STORE_KEY_MAX + 1], val[STORE_VAL_MAX], err[RG_ERRLEN];
	size_t vlen;
	int rc;

	if (st == NULL || verdict_key_address(key, sizeof key, a->key) < 0)
		return -1;
	rc = store_get(st, key, val, sizeof val, &vlen, deadline, err, sizeof err);
	if (rc == RG_TEMPFAIL)
		rglog(RGLOG_INFO, "rcptguard: store unavailable, running uncached: %s", err);
	if (rc != RG_FOUND)
		return -1;
	if (verdict_decode(val, vlen, 0, v) < 0) {
		rglog(RGLOG_DEBUG, "rcptguard: malformed record for %.100s ignored", a->key);
		return -1;
	}
	return 0;
}

/* Fill y with a definite or cached verdict. */
static RG_HOT void verify_yield_verdict(struct yield *y, const char *role, const struct address *a, int pass,
				 const char *source, const char *detail)
{
	char msg[RG_ADDRESS_MAX + 64];

	yield_init(y, pass ? "pass" : "fail");
	yield_add(y, "source", source);
	if (!pass) {
		snprintf(msg, sizeof msg, "<%s>: %s unknown", a->full, role);
		yield_add(y, "message", msg);
	}
	yield_add(y, "detail", detail);
}

/* Fill y with a deferral. */
static void verify_yield_defer(struct yield *y, const char *role, const char *shown, const char *reason,
			       const char *detail)
{
	char msg[RG_ADDRESS_MAX + 80];

	snprintf(msg, sizeof msg, "<%.100s>: cannot verify %s now, please try again later", shown, role);
	yield_init(y, "defer");
	yield_add(y, "reason", reason);
	yield_add(y, "message", msg);
	yield_add(y, "detail", detail);
}

/* Ask the sources of s for a (no live verdict in the cache; cv: a cached one, or NULL);
 * returns the RG_ outcome and fills y. Not inlined: a cached verdict never comes here, and
 * its buffers would deepen every check's stack. */
static RG_NOINLINE int verify_sources(const struct address *a, const struct settings *s, const struct verify_ctx *cx,
				      const struct store_handle *st, const struct verdict *cv, int64_t deadline,
				      struct yield *y)
{
	char err[RG_ERRLEN] = "", last[RG_ERRLEN] = "no source configured";
	struct source_answer ans;
	int i, rc, catchall = 0, tempfailed = 0;

	for (i = 0; i < CONFIG_SOURCES_MAX && s->sources[i][0]; i++) {
		const struct source_ops *src = source_find(s->sources[i]);

		if (src == NULL) {
			rglog(RGLOG_DEBUG, "rcptguard: source %s is not available in this build", s->sources[i]);
			continue;
		}
		err[0] = '\0';
		rc = src->lookup(a, s, deadline, &ans, err, sizeof err);
		rglog(RGLOG_DEBUG, "rcptguard: source %s for %.100s: %s %s", src->name, a->full,
		      util_status_name(rc), rc == RG_FOUND || rc == RG_NOTFOUND ? ans.text : err);
		if (rc == RG_FOUND || rc == RG_NOTFOUND) {
			verify_store(st, a, s, rc == RG_FOUND, src->name, ans.text, deadline);
			verify_yield_verdict(y, cx->role, a, rc == RG_FOUND, src->name, ans.text);
			return rc;
		}
		catchall |= ans.catchall;
		/* Why: a source not configured for the domain (RG_CONFIG) is not why the chain
		 * could not answer; an earlier source's temporary failure is what to report. */
		if (rc != RG_CONFIG || !tempfailed)
			snprintf(last, sizeof last, "%s: %s", src->name, err);
		tempfailed |= rc == RG_TEMPFAIL;
	}
	if (cv != NULL && cv->pass && util_now() - cv->created < (int64_t)s->stale_ttl) {
		verify_yield_verdict(y, cx->role, a, 1, "cache", cv->text);
		yield_add(y, "stale", "yes");
		return RG_FOUND;
	}
	if (catchall) {
		verify_yield_verdict(y, cx->role, a, 1, "catchall", "destination accepts any recipient");
		return RG_FOUND;
	}
	verify_yield_defer(y, cx->role, a->full, "tempfail", last);
	return RG_TEMPFAIL;
}

/* Answer from the cache, else from the sources of s; returns the RG_ outcome and fills y. */
static RG_HOT int verify_chain(struct verify_ctx *cx, const struct address *a, const struct settings *s,
			struct yield *y)
{
	char err[RG_ERRLEN] = "";
	int64_t deadline = cx->t0 + (int64_t)s->total_timeout * 1000;
	const struct store_handle *st;
	struct verdict cv;
	int have_cached;

	st = store_process(s, err, sizeof err);
	if (st == NULL)
		rglog(RGLOG_INFO, "rcptguard: store unavailable, running uncached: %s", err);
	have_cached = verify_cached(st, a, deadline, &cv) == 0;
	/* The member that gave a live verdict may void it (a list changed since). */
	source_configure(engine_current_config());
	if (have_cached && util_now() < cv.expires && source_revalidate(a, s, &cv))
		have_cached = 0;          /* void: never a stale pass either */
	if (have_cached && util_now() < cv.expires) {
		cx->quiet = !s->log_cached;
		verify_yield_verdict(y, cx->role, a, cv.pass, "cache", cv.text);
		return cv.pass ? RG_FOUND : RG_NOTFOUND;
	}
	return verify_sources(a, s, cx, st, have_cached ? &cv : NULL, deadline, y);
}

/* Whether domain (lower-case) is one of s->own_domains ("*.suffix": its subdomains). */
static int verify_own_domain(const struct settings *s, const char *domain)
{
	const char *p = s->own_domains;
	size_t dl = strlen(domain), n;

	if (s->own_domain)
		return 1;
	while (*p) {
		n = strcspn(p, " ");
		if (n > 2 && p[0] == '*' && p[1] == '.') {
			if (address_in_zone(domain, dl, p + 2, n - 2, 0))
				return 1;
		} else if (n == dl && memcmp(domain, p, n) == 0) {
			return 1;
		}
		p += n;
		while (*p == ' ')
			p++;
	}
	return 0;
}

/* The checks of one address: syntax, settings, then (for senders) ownership, the chain. */
static RG_HOT int verify_run_address(struct verify_ctx *cx, int sender, const char *address,
			      const char *options, struct yield *y)
{
	char err[RG_ERRLEN];
	const struct settings *s;
	struct address a;
	int rc;

	if (sender && (address[0] == '\0' || strcmp(address, "<>") == 0)) {
		/* The null sender (bounces) has no mailbox to ask about. */
		yield_init(y, "skip");
		yield_add(y, "reason", "null");
		verify_log(cx, y);
		return RG_FOUND;
	}
	rc = address_parse(address, &a, err, sizeof err);
	if (rc == RG_TEMPFAIL) {
		/* Well-formed but unverifiable (SMTPUTF8): never a reason to refuse. */
		yield_init(y, "pass");
		yield_add(y, "reason", "unverifiable");
		yield_add(y, "detail", err);
		verify_log(cx, y);
		return RG_FOUND;
	}
	if (rc != RG_FOUND) {
		char msg[256];

		snprintf(msg, sizeof msg, "<%.100s>: malformed address: %.80s", address, err);
		yield_init(y, "fail");
		yield_add(y, "reason", "syntax");
		yield_add(y, "message", msg);
		verify_log(cx, y);
		return RG_NOTFOUND;
	}
	cx->shown = a.full;
	if (engine_settings(options, a.domain, &s, err, sizeof err) != RG_FOUND) {
		rglog(RGLOG_ERROR, "rcptguard: configuration error: %s", err);
		verify_yield_defer(y, cx->role, a.full, "config", err);
		verify_log(cx, y);
		return RG_CONFIG;
	}
	if (sender && !verify_own_domain(s, a.domain)) {
		/* Only our own domains' mailboxes are ours to vouch for. */
		yield_init(y, "skip");
		yield_add(y, "reason", "foreign");
		verify_log(cx, y);
		return RG_FOUND;
	}
	rc = verify_chain(cx, &a, s, y);
	stats_yield(s->state_dir, STATS_VERDICT, y->line);
	verify_log(cx, y);
	return rc;
}

/* verify_recipient ADDRESS [OPTIONS]. */
RG_HOT int verify_run_recipient(const char *address, const char *options, struct yield *y)
{
	struct verify_ctx cx = { "verify_recipient", "recipient", address, util_monotonic_ms(), 0 };

	return verify_run_address(&cx, 0, address, options, y);
}

/* verify_sender ADDRESS [OPTIONS]. */
int verify_run_sender(const char *address, const char *options, struct yield *y)
{
	struct verify_ctx cx = { "verify_sender", "sender", address, util_monotonic_ms(), 0 };

	return verify_run_address(&cx, 1, address, options, y);
}

/* catchall DOMAIN [OPTIONS]. */
int verify_run_catchall(const char *domain, const char *options, struct yield *y)
{
	struct verify_ctx cx = { "catchall", "domain", domain, util_monotonic_ms(), 0 };
	char dom[RG_DOMAIN_MAX + 1], err[RG_ERRLEN] = "", text[VERDICT_TEXT_MAX] = "";
	const struct settings *s;
	int rc, cached = 0, known = -1;

	if (address_parse_domain(domain, dom, sizeof dom, err, sizeof err) != RG_FOUND) {
		yield_init(y, "unknown");
		yield_add(y, "reason", "syntax");
		yield_add(y, "detail", err);
		verify_log(&cx, y);
		return RG_CONFIG;
	}
	cx.shown = dom;
	if (engine_settings(options, dom, &s, err, sizeof err) != RG_FOUND) {
		rglog(RGLOG_ERROR, "rcptguard: configuration error: %s", err);
		yield_init(y, "unknown");
		yield_add(y, "reason", "config");
		yield_add(y, "detail", err);
		verify_log(&cx, y);
		return RG_CONFIG;
	}
	rc = source_callout_catchall(dom, s, cx.t0 + (int64_t)s->total_timeout * 1000, &cached,
				     &known, text, sizeof text, err, sizeof err);
	yield_init(y, rc == RG_FOUND ? "yes" : rc == RG_NOTFOUND ? "no" : "unknown");
	yield_add(y, "source", rc == RG_FOUND || rc == RG_NOTFOUND ? (cached ? "cache" : "callout") : NULL);
	yield_add(y, "reason", rc == RG_CONFIG ? "config" : rc == RG_TEMPFAIL ? "tempfail" : NULL);
	yield_add(y, "detail", rc == RG_FOUND || rc == RG_NOTFOUND ? text : err);
	yield_add(y, "known", rc == RG_FOUND || rc == RG_NOTFOUND ? verdict_known_name(known) : NULL);
	cx.quiet = cached && (rc == RG_FOUND || rc == RG_NOTFOUND) && !s->log_cached;
	verify_log(&cx, y);
	return rc;
}

/* Per-process teardown. */
RG_HOT void verify_shutdown(void)
{
	size_t i;

	for (i = 0; source_registry[i] != NULL; i++)
		if (source_registry[i]->reset != NULL)
			source_registry[i]->reset();
	store_process_close();
}
