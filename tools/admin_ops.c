/*
 * admin_ops.c - the operator resources: /api/v1/greylist (list, allow, remove),
 * /api/v1/stats (counters and greylisting record counts, JSON) and /metrics (the same
 * counters in Prometheus' text format).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "engine.h"
#include "greylist_admin.h"
#include "greylist_record.h"
#include "stats.h"
#include "store.h"

#define OPS_GREYLIST_MAX 10000          /* records one GET returns */

struct ops_gl {
	json_t *arr;
	int64_t now;
	int truncated;
};

/* greylist_admin_list callback: one triplet or auto-whitelist entry as JSON. */
static int ops_gl_one(const char *net, const char *sender, const char *rcpt, const struct greylist_triplet *t,
		      const struct greylist_awl *a, void *arg)
{
	struct ops_gl *l = arg;

	if (json_array_size(l->arr) >= OPS_GREYLIST_MAX) {
		l->truncated = 1;
		return 1;
	}
	if (t != NULL)
		json_array_append_new(l->arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:i}", "type", "triplet",
							"network", net, "sender", sender, "recipient", rcpt, "state",
							l->now >= t->expires ? "expired" : t->passed ? "pass" : "wait",
							"first", (json_int_t)t->first, "last", (json_int_t)t->last,
							"expires", (json_int_t)t->expires, "defers", (int)t->defers));
	else
		json_array_append_new(l->arr, json_pack("{s:s,s:s,s:s,s:i,s:I,s:I,s:I}", "type", "awl", "network", net,
							"kind", a->manual ? "manual" : "auto", "count", (int)a->count,
							"first", (json_int_t)a->first, "last", (json_int_t)a->last,
							"expires", (json_int_t)a->expires));
	return 0;
}

/* A string member of the body, or the query argument of that name; NULL if neither. */
static const char *ops_arg(const struct admin_req *q, json_t *body, const char *key)
{
	json_t *v = json_object_get(body, key);

	if (json_is_string(v))
		return json_string_value(v);
	return admin_query(q, key);
}

/* GET|POST|DELETE /api/v1/greylist */
void admin_greylist(struct admin_req *q, struct admin_reply *r)
{
	const struct settings *s;
	const struct store_handle *st;
	char err[RG_ERRLEN], what[STORE_KEY_MAX + 1] = "";
	const char *ip, *sender, *rcpt;
	int allow, rc;
	size_t n = 0;
	json_t *body;

	if (engine_settings(NULL, "", &s, err, sizeof err) != RG_FOUND)
		return admin_reply_error(r, 500, "configuration error: %s", err);
	if ((st = store_process(s, err, sizeof err)) == NULL)
		return admin_reply_error(r, 503, "store unavailable: %s", err);
	if (strcmp(q->method, "GET") == 0) {
		struct ops_gl l = { json_array(), util_now(), 0 };

		/* One record decoder for the CLI and the API: greylist_admin_list. */
		if (greylist_admin_list(st, ops_gl_one, &l, err, sizeof err) != RG_FOUND) {
			json_decref(l.arr);
			return admin_reply_error(r, 503, "store: %s", err);
		}
		return admin_reply_json(r, 200, json_pack("{s:o,s:b}", "records", l.arr, "truncated", l.truncated));
	}
	allow = strcmp(q->method, "POST") == 0;
	if (!allow && strcmp(q->method, "DELETE") != 0) {
		r->allow = "GET, POST, DELETE";
		return admin_reply_error(r, 405, "method not allowed");
	}
	if ((body = admin_body_json(q, r)) == NULL)
		return;
	ip = ops_arg(q, body, "ip");
	sender = ops_arg(q, body, "sender");
	rcpt = ops_arg(q, body, "rcpt");
	if (ip == NULL || ip[0] == '\0' || (sender == NULL) != (rcpt == NULL)) {
		json_decref(body);
		return admin_reply_error(r, 400, "want {\"ip\": IP or CIDR} or {\"ip\", \"sender\", \"rcpt\"}");
	}
	if (rcpt && allow)
		rc = greylist_admin_allow_triplet(s, st, ip, sender, rcpt, what, sizeof what, err, sizeof err);
	else if (rcpt)
		rc = greylist_admin_remove_triplet(s, st, ip, sender, rcpt, err, sizeof err);
	else if (allow)
		rc = greylist_admin_allow_net(s, st, ip, &n, what, sizeof what, err, sizeof err);
	else
		rc = greylist_admin_remove_net(s, st, ip, &n, err, sizeof err);
	if (rc == RG_CONFIG || rc == RG_TEMPFAIL) {
		json_decref(body);
		return admin_reply_error(r, rc == RG_CONFIG ? 400 : 503, "%s", err);
	}
	if (rcpt) {
		n = rc == RG_FOUND;
		admin_audit(q, "greylist %s triplet [%s] <%s> -> <%s>", allow ? "allow" : "remove", ip, sender, rcpt);
	} else {
		admin_audit(q, "greylist %s %s: %zu", allow ? "allow" : "remove", ip, n);
	}
	json_decref(body);
	admin_reply_json(r, 200, json_pack("{s:I}", allow ? "allowed" : "removed", (json_int_t)n));
}

/* stats_read callback: a JSON counter. */
static void ops_stats_json(const struct stats_entry *e, void *arg)
{
	char labels[256];
	json_error_t je;
	json_t *l;

	stats_labels_json(e, labels, sizeof labels);
	l = json_loads(labels, 0, &je);
	json_array_append_new(arg, json_pack("{s:s,s:o,s:I}", "metric", e->metric, "labels", l ? l : json_object(),
					     "value", (json_int_t)e->value));
}

/* GET /api/v1/stats */
void admin_stats(struct admin_req *q, struct admin_reply *r)
{
	const struct settings *s;
	const struct store_handle *st;
	struct greylist_stats g;
	char err[RG_ERRLEN];
	json_t *arr, *gl;

	if (strcmp(q->method, "GET") != 0) {
		r->allow = "GET";
		return admin_reply_error(r, 405, "method not allowed");
	}
	if (engine_settings(NULL, "", &s, err, sizeof err) != RG_FOUND)
		return admin_reply_error(r, 500, "configuration error: %s", err);
	arr = json_array();
	if (stats_read(s->state_dir, ops_stats_json, arr, err, sizeof err) == RG_TEMPFAIL) {
		json_decref(arr);
		return admin_reply_error(r, 503, "counters: %s", err);
	}
	gl = json_null();
	if ((st = store_process(s, err, sizeof err)) != NULL &&
	    greylist_admin_stats(s, st, util_now(), &g, err, sizeof err) == RG_FOUND)
		gl = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "triplets_waiting", (json_int_t)g.waiting,
			       "triplets_passing", (json_int_t)g.passing, "triplets_expired", (json_int_t)g.expired_triplets,
			       "awl_whitelisted", (json_int_t)g.awl_whitelisted, "awl_counting", (json_int_t)g.awl_counting,
			       "awl_manual", (json_int_t)g.awl_manual, "awl_expired", (json_int_t)g.expired_awl,
			       "unreadable", (json_int_t)g.unreadable);
	admin_reply_json(r, 200, json_pack("{s:o,s:o}", "counters", arr, "greylist", gl));
}

struct ops_prom {
	char *buf;
	size_t len, cap;
	const char *last;               /* metric whose HELP/TYPE lines are out */
};

/* Append formatted text to the Prometheus page. */
__attribute__((format(printf, 2, 3)))
static void ops_prom_add(struct ops_prom *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(p->buf ? p->buf + p->len : NULL, p->buf ? p->cap - p->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (p->buf && p->len + (size_t)n < p->cap) {
			p->len += (size_t)n;
			return;
		}
		char *nb = realloc(p->buf, p->cap * 2 + (size_t)n + 4096);

		if (nb == NULL)
			return;
		p->buf = nb;
		p->cap = p->cap * 2 + (size_t)n + 4096;
	}
}

/* stats_read callback: a Prometheus sample (with HELP and TYPE before a metric's first). */
static void ops_prom_one(const struct stats_entry *e, void *arg)
{
	struct ops_prom *p = arg;

	if (p->last == NULL || strcmp(p->last, e->metric) != 0) {
		ops_prom_add(p, "# HELP %s %s\n# TYPE %s counter\n", e->metric, e->help, e->metric);
		p->last = e->metric;
	}
	ops_prom_add(p, "%s%s%s%s %" PRIu64 "\n", e->metric, e->labels[0] ? "{" : "", e->labels,
		     e->labels[0] ? "}" : "", e->value);
}

/* GET /metrics */
void admin_metrics(struct admin_req *q, struct admin_reply *r)
{
	struct ops_prom p = { 0 };
	const struct settings *s;
	char err[RG_ERRLEN];
	int rc;

	if (strcmp(q->method, "GET") != 0) {
		r->allow = "GET";
		return admin_reply_error(r, 405, "method not allowed");
	}
	if (engine_settings(NULL, "", &s, err, sizeof err) != RG_FOUND)
		return admin_reply_error(r, 500, "configuration error: %s", err);
	rc = stats_read(s->state_dir, ops_prom_one, &p, err, sizeof err);
	if (rc == RG_TEMPFAIL || rc == RG_CONFIG || p.buf == NULL) {
		free(p.buf);
		return admin_reply_error(r, 503, "counters: %s", rc == RG_FOUND ? "out of memory" : err);
	}
	ops_prom_add(&p, "# HELP rcptguard_up 1 while rcptguard-admin answers.\n# TYPE rcptguard_up gauge\nrcptguard_up 1\n");
	free(r->body);
	r->status = 200;
	r->body = p.buf;
	r->len = p.len;
	r->ctype = "text/plain; version=0.0.4; charset=utf-8";
}
