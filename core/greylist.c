/*
 * greylist.c - the greylisting decision: whitelist, auto-whitelist, then the triplet.
 *
 * Hot path: known triplets and auto-whitelisted networks are answered by two reads (no
 * write, no disk sync); a record is rewritten only when its state changes or its expiry
 * is due for renewal (greylist_record_renew_step). State changes go through the store's
 * update op, so that concurrent Exim processes never lose an attempt or a count. A store
 * that runs scripts (Redis) takes the whole decision in one step on its server instead
 * (greylist_script.c: one round trip).
 */
#include <string.h>

#include "engine.h"
#include "greylist.h"
#include "greylist_key.h"
#include "greylist_record.h"
#include "greylist_script.h"
#include "greylist_whitelist.h"
#include "rglog.h"
#include "stats.h"
#include "store.h"

#define GREYLIST_OPTIONS_MAX 1024

struct greylist_ctx {
	const char *ip, *sender, *rcpt;
	const struct settings *s;
	int dry;                        /* rcptguardctl greylist check: write nothing */
	int64_t now, t0;
	char host[RG_DOMAIN_MAX + 2];
	char net[GREYLIST_NET_MAX];
	char skey[RG_ADDRESS_MAX + 1], rkey[RG_ADDRESS_MAX + 1];
	char tkey[STORE_KEY_MAX + 1], akey[STORE_KEY_MAX + 1];
};

struct greylist_upd {
	const struct settings *s;
	int64_t now;
	struct greylist_triplet rec;
	struct greylist_step st;
	struct greylist_awl awl;
};

/* Split "hostname=NAME" (NAME possibly "quoted") out of options; the rest goes to rest,
 * each option as written. Through the one options tokenizer (config_next_option); from a
 * malformed option on, the text goes to rest as it is, for engine_settings to name. */
static int greylist_options(const char *options, char *rest, size_t restsize, char *host, size_t hostsize)
{
	const char *p = options ? options : "", *start;
	char key[64], val[CONFIG_OPTION_MAX + 1], err[RG_ERRLEN];
	size_t o = 0, n;
	int r;

	host[0] = rest[0] = '\0';
	for (;;) {
		start = p + strspn(p, " \t");
		if ((r = config_next_option(&p, key, sizeof key, val, sizeof val, err, sizeof err)) == 0)
			break;
		if (r > 0 && strcmp(key, "hostname") == 0) {
			if (util_strlcpy(host, val, hostsize) < 0)
				return -1;
			continue;
		}
		n = r > 0 ? (size_t)(p - start) : strlen(start);
		if (o + n + 2 > restsize)
			return -1;
		if (o)
			rest[o++] = ' ';
		memcpy(rest + o, start, n);
		o += n;
		rest[o] = '\0';
		if (r < 0)
			break;
	}
	return 0;
}

/* One log line per decision; attacker text bounded and without control bytes. */
static void greylist_log(const struct greylist_ctx *cx, const struct yield *y)
{
	char ip[64], from[101], to[101];

	util_sanitise(ip, sizeof ip, cx->ip, strlen(cx->ip));
	util_sanitise(from, sizeof from, cx->sender, strlen(cx->sender));
	util_sanitise(to, sizeof to, cx->rcpt, strlen(cx->rcpt));
	rglog(RGLOG_INFO, "rcptguard: greylist [%s] <%s> -> <%s> %s ms=%lld", ip, from, to, y->line,
	      (long long)(util_monotonic_ms() - cx->t0));
}

/* Fill y with a decision. */
static void greylist_yield(struct greylist_ctx *cx, struct yield *y, int pass, int reason, int64_t wait)
{
	yield_init(y, pass ? "pass" : "defer");
	yield_add(y, "reason", greylist_reason_name(reason));
	if (!pass) {
		yield_add_int(y, "wait", wait > 0 ? wait : 1);
		yield_add(y, "message", GREYLIST_MESSAGE);
	}
	yield_add(y, "network", cx->net);
}

/* The store or the whitelist failed: greylist_on_error decides (default: pass). */
static int greylist_error(struct greylist_ctx *cx, struct yield *y, const char *what, const char *err)
{
	int defer = cx->s != NULL && strcmp(cx->s->greylist_on_error, "defer") == 0;

	rglog(RGLOG_ERROR, "rcptguard: greylist: %s, %s: %s", what, defer ? "deferring" : "passing", err);
	yield_init(y, defer ? "defer" : "pass");
	yield_add(y, "reason", "error");
	if (defer)
		yield_add(y, "message", GREYLIST_MESSAGE);
	yield_add(y, "detail", err);
	return defer ? RG_TEMPFAIL : RG_FOUND;
}

/* update callback: one attempt of the triplet. */
static int greylist_upd_triplet(const char *old, size_t oldlen, char *out, size_t outsize, size_t *outlen,
				int64_t *expires, void *arg)
{
	struct greylist_upd *u = arg;
	struct greylist_triplet o;
	int have = old != NULL && greylist_record_decode(old, oldlen, &o) == 0;

	greylist_record_step(have ? &o : NULL, u->now, u->s, &u->rec, &u->st);
	if (!u->st.write)
		return STORE_UPDATE_KEEP;
	if (greylist_record_encode(&u->rec, out, outsize) < 0)
		return -1;
	*outlen = strlen(out);
	*expires = u->rec.expires;
	return STORE_UPDATE_PUT;
}

/* update callback: a triplet of the network passed; count it. */
static int greylist_upd_awl_count(const char *old, size_t oldlen, char *out, size_t outsize, size_t *outlen,
				  int64_t *expires, void *arg)
{
	struct greylist_upd *u = arg;
	struct greylist_awl a;

	if (old == NULL || greylist_record_awl_decode(old, oldlen, &a) < 0 || u->now >= a.expires) {
		memset(&a, 0, sizeof a);
		a.first = u->now;
	}
	a.count++;
	a.last = u->now;
	a.expires = u->now + u->s->greylist_pass_ttl;
	u->awl = a;
	if (greylist_record_awl_encode(&a, out, outsize) < 0)
		return -1;
	*outlen = strlen(out);
	*expires = a.expires;
	return STORE_UPDATE_PUT;
}

/* update callback: the network passed on its auto-whitelist entry; renew it when due. */
static int greylist_upd_awl_renew(const char *old, size_t oldlen, char *out, size_t outsize, size_t *outlen,
				  int64_t *expires, void *arg)
{
	struct greylist_upd *u = arg;
	struct greylist_awl a;

	if (old == NULL || greylist_record_awl_decode(old, oldlen, &a) < 0 ||
	    !greylist_record_awl_passes(&a, u->now, u->s) || u->now - a.last < greylist_record_renew_step(u->s))
		return STORE_UPDATE_KEEP;
	a.last = u->now;
	a.expires = u->now + u->s->greylist_pass_ttl;
	if (greylist_record_awl_encode(&a, out, outsize) < 0)
		return -1;
	*outlen = strlen(out);
	*expires = a.expires;
	return STORE_UPDATE_PUT;
}

/* The decision once the whitelist has said no. */
static int greylist_stored(struct greylist_ctx *cx, struct yield *y)
{
	char err[RG_ERRLEN] = "", val[STORE_VAL_MAX];
	const struct store_handle *st;
	struct greylist_upd u = { .s = cx->s, .now = cx->now };
	struct greylist_script_result sr;
	struct greylist_triplet t;
	struct greylist_awl a;
	size_t vlen;
	int rc;

	st = store_process(cx->s, err, sizeof err);
	if (st == NULL)
		return greylist_error(cx, y, "store unavailable", err);
	/* A store that runs scripts (Redis) decides on its server, in one round trip; the
	 * others (LMDB, or the local store standing in for it) take the steps below. */
	rc = greylist_script_decide(st, cx->akey, cx->tkey, cx->now, cx->s, cx->dry, &sr, err, sizeof err);
	if (rc == RG_TEMPFAIL)
		return greylist_error(cx, y, "store unavailable", err);
	if (rc == RG_FOUND) {
		greylist_yield(cx, y, sr.pass, sr.reason, sr.wait);
		return sr.pass ? RG_FOUND : RG_NOTFOUND;
	}
	rc = store_get(st, cx->akey, val, sizeof val, &vlen, 0, err, sizeof err);
	if (rc == RG_TEMPFAIL)
		return greylist_error(cx, y, "store unavailable", err);
	if (rc == RG_FOUND && greylist_record_awl_decode(val, vlen, &a) == 0 &&
	    greylist_record_awl_passes(&a, cx->now, cx->s)) {
		if (!cx->dry && cx->now - a.last >= greylist_record_renew_step(cx->s) &&
		    store_update(st, cx->akey, greylist_upd_awl_renew, &u, 0, err, sizeof err) != RG_FOUND)
			rglog(RGLOG_INFO, "rcptguard: greylist: auto-whitelist entry not renewed: %s", err);
		greylist_yield(cx, y, 1, GREYLIST_AWL, 0);
		return RG_FOUND;
	}
	rc = store_get(st, cx->tkey, val, sizeof val, &vlen, 0, err, sizeof err);
	if (rc == RG_TEMPFAIL)
		return greylist_error(cx, y, "store unavailable", err);
	greylist_record_step(rc == RG_FOUND && greylist_record_decode(val, vlen, &t) == 0 ? &t : NULL,
			     cx->now, cx->s, &u.rec, &u.st);
	if (u.st.write && !cx->dry) {
		/* Why again inside update: another process may have changed the record since
		 * the read above; the decision is the one made on the committed value. */
		if ((rc = store_update(st, cx->tkey, greylist_upd_triplet, &u, 0, err, sizeof err)) != RG_FOUND)
			return greylist_error(cx, y, "store not writable", err);
		if (u.st.became_passed && cx->s->greylist_awl_after > 0 &&
		    store_update(st, cx->akey, greylist_upd_awl_count, &u, 0, err, sizeof err) != RG_FOUND)
			rglog(RGLOG_INFO, "rcptguard: greylist: auto-whitelist count not recorded: %s", err);
	}
	greylist_yield(cx, y, u.st.pass, u.st.reason, u.st.wait);
	return u.st.pass ? RG_FOUND : RG_NOTFOUND;
}

/* postgrey's whitelist files (greylist_whitelist_clients, _recipients): 1 with *rc set
 * when they decide (whitelisted, or a file unusable), 0 to go on. */
static int greylist_postgrey(struct greylist_ctx *cx, struct yield *y, int *rc)
{
	const char *path[2] = { cx->s->greylist_whitelist_clients, cx->s->greylist_whitelist_recipients };
	const int format[2] = { GREYLIST_WL_CLIENTS, GREYLIST_WL_RECIPIENTS };
	const struct greylist_whitelist *wl;
	char err[RG_ERRLEN];
	const char *why;
	int i;

	for (i = 0; i < 2; i++) {
		if (path[i][0] == '\0')
			continue;
		if ((*rc = greylist_whitelist_get_format(path[i], format[i], &wl, err, sizeof err)) != RG_FOUND) {
			*rc = greylist_error(cx, y, "whitelist unusable", err);
			return 1;
		}
		if (greylist_whitelist_match(wl, cx->ip, cx->host, cx->rcpt, &why)) {
			greylist_yield(cx, y, 1, GREYLIST_WHITELISTED, 0);
			yield_add(y, "whitelist", why);
			*rc = RG_FOUND;
			return 1;
		}
	}
	return 0;
}

/* The decision for one attempt; dry: change nothing. */
static int greylist_decide(struct greylist_ctx *cx, const char *options, struct yield *y)
{
	char opts[GREYLIST_OPTIONS_MAX], err[RG_ERRLEN];
	const struct greylist_whitelist *wl;
	const char *dom, *why;
	int rc, net_ok;

	if (greylist_options(options, opts, sizeof opts, cx->host, sizeof cx->host) < 0)
		return greylist_error(cx, y, "bad options", "options or hostname= too long");
	dom = strrchr(cx->rcpt, '@');
	if (engine_settings(opts, dom ? dom + 1 : "", &cx->s, err, sizeof err) != RG_FOUND) {
		rglog(RGLOG_ERROR, "rcptguard: configuration error: %s", err);
		yield_init(y, "defer");
		yield_add(y, "reason", "config");
		yield_add(y, "message", GREYLIST_MESSAGE);
		yield_add(y, "detail", err);
		return RG_CONFIG;
	}
	/* The network first, so that every answer (whitelisted too) names it. */
	net_ok = greylist_key_network(cx->ip, cx->s->greylist_ipv4_prefix, cx->s->greylist_ipv6_prefix,
				      cx->net, sizeof cx->net) == 0;
	if (!net_ok)
		cx->net[0] = '\0';
	if (cx->s->greylist_whitelist[0]) {
		rc = greylist_whitelist_get(cx->s->greylist_whitelist, &wl, err, sizeof err);
		if (rc != RG_FOUND)
			return greylist_error(cx, y, "whitelist unusable", err);
		if (greylist_whitelist_match(wl, cx->ip, cx->host, cx->rcpt, &why)) {
			greylist_yield(cx, y, 1, GREYLIST_WHITELISTED, 0);
			yield_add(y, "whitelist", why);
			return RG_FOUND;
		}
	}
	if (greylist_postgrey(cx, y, &rc))
		return rc;
	if (!net_ok)
		return greylist_error(cx, y, "bad argument", "client IP is not an IP address");
	if (greylist_key_sender(cx->sender, cx->skey, sizeof cx->skey) < 0 ||
	    greylist_key_recipient(cx->rcpt, cx->rkey, sizeof cx->rkey) < 0 || cx->rkey[0] == '\0' ||
	    greylist_key_triplet(cx->tkey, sizeof cx->tkey, cx->net, cx->skey, cx->rkey) < 0 ||
	    greylist_key_awl(cx->akey, sizeof cx->akey, cx->net) < 0)
		return greylist_error(cx, y, "bad argument", "sender or recipient missing or too long");
	return greylist_stored(cx, y);
}

/* Run a decision, log it, and make sure a cut yield never goes out. */
static int greylist_entry(const char *ip, const char *sender, const char *rcpt, const char *options,
			  struct yield *y, int dry)
{
	struct greylist_ctx cx;
	int rc;

	memset(&cx, 0, sizeof cx);
	cx.ip = ip ? ip : "";
	cx.sender = sender ? sender : "";
	cx.rcpt = rcpt ? rcpt : "";
	cx.dry = dry;
	cx.now = util_now();
	cx.t0 = util_monotonic_ms();
	rc = greylist_decide(&cx, options, y);
	if (y->truncated)
		rc = greylist_error(&cx, y, "internal", "answer too long");
	if (!dry)
		greylist_log(&cx, y);
	if (!dry && cx.s != NULL) stats_yield(cx.s->state_dir, STATS_GREYLIST, y->line);
	return rc;
}

/* greylist IP SENDER RECIPIENT [OPTIONS], recording the attempt. */
int greylist_run(const char *ip, const char *sender, const char *rcpt, const char *options, struct yield *y)
{
	return greylist_entry(ip, sender, rcpt, options, y, 0);
}

/* The same decision, changing nothing. */
int greylist_check(const char *ip, const char *sender, const char *rcpt, const char *options, struct yield *y)
{
	return greylist_entry(ip, sender, rcpt, options, y, 1);
}
