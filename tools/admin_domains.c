/*
 * admin_domains.c - the customer resources: /api/v1/domains and, per domain, its cache
 * (list, flush), its static list (status, upload, accept) and the SMTP tester.
 *
 * Every handler checks the DOMAIN path segment strictly (a domain name and nothing else)
 * and the token's scope before anything is read or changed: a customer token on another
 * domain gets 403 and nothing happens. Every change is logged with the token's name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "admin.h"
#include "engine.h"
#include "list.h"
#include "probe.h"
#include "store.h"
#include "verdict.h"
#include "verdict_admin.h"

#define DOM_CACHE_MAX 10000             /* records one GET returns */
#define DOM_PROBLEMS_MAX 1000           /* problems one refused upload reports */
#define DOM_PROBE_SLOTS 256

/* Parse a DOMAIN path segment of n bytes into out (lower-case). 0 ok, -1 bad. */
static int dom_parse(const char *seg, size_t n, char *out, size_t size)
{
	char tmp[RG_DOMAIN_MAX + 1], err[RG_ERRLEN];
	size_t i;

	if (n == 0 || n >= sizeof tmp)
		return -1;
	for (i = 0; i < n; i++)
		if (!((seg[i] >= 'a' && seg[i] <= 'z') || (seg[i] >= 'A' && seg[i] <= 'Z') ||
		      (seg[i] >= '0' && seg[i] <= '9') || seg[i] == '.' || seg[i] == '-'))
			return -1;
	memcpy(tmp, seg, n);
	tmp[n] = '\0';
	if (tmp[0] == '.' || strstr(tmp, "..") != NULL)
		return -1;
	if (address_parse_domain(tmp, out, size, err, sizeof err) != RG_FOUND)
		return -1;
	util_lower(out);
	return 0;
}

/* The settings of domain, or NULL after answering 500. */
static const struct settings *dom_settings(const char *domain, struct admin_reply *r)
{
	const struct settings *s;
	char err[RG_ERRLEN];

	if (engine_settings(NULL, domain, &s, err, sizeof err) != RG_FOUND) {
		admin_reply_error(r, 500, "configuration error: %s", err);
		return NULL;
	}
	return s;
}

/* The process store, or NULL after answering 503. */
static const struct store_handle *dom_store(const struct settings *s, struct admin_reply *r)
{
	const struct store_handle *st;
	char err[RG_ERRLEN];

	if ((st = store_process(s, err, sizeof err)) == NULL)
		admin_reply_error(r, 503, "store unavailable: %s", err);
	return st;
}

static const char *const dom_src_states[] = { "in_force", "settling", "pending", "refused", "held", "missing" };

/* The list status of domain as JSON. */
static json_t *dom_list_json(const struct settings *s, const char *domain, const struct list_status *ls)
{
	json_t *j = json_object();

	(void)domain;
	if (s->list.path[0] == '\0') {
		json_object_set_new(j, "configured", json_false());
		return j;
	}
	json_object_set_new(j, "configured", json_true());
	json_object_set_new(j, "in_force", json_boolean(ls->in_force));
	if (ls->in_force) {
		json_object_set_new(j, "entries", json_integer((json_int_t)ls->meta.entries));
		json_object_set_new(j, "compiled", json_integer(ls->meta.compiled));
	}
	if (ls->src_state >= 0 && ls->src_state <= LIST_SRC_MISSING)
		json_object_set_new(j, "state", json_string(dom_src_states[ls->src_state]));
	if (ls->src_state == LIST_SRC_REFUSED || ls->src_state == LIST_SRC_HELD)
		json_object_set_new(j, "reason", json_string(ls->state.reason));
	if (ls->src_state == LIST_SRC_HELD) {
		json_object_set_new(j, "held_entries", json_integer((json_int_t)ls->state.entries));
		json_object_set_new(j, "dropped", json_integer((json_int_t)ls->state.dropped));
	}
	if (ls->src_state == LIST_SRC_SETTLING)
		json_object_set_new(j, "ready_at", json_integer(ls->ready_at));
	if (ls->src_state == LIST_SRC_MISSING)
		json_object_set_new(j, "reason", json_string(ls->detail));
	return j;
}

/* The catch-all record of domain as JSON. */
static json_t *dom_catchall_json(const struct store_handle *st, const char *domain)
{
	char key[STORE_KEY_MAX + 1], val[STORE_VAL_MAX], err[RG_ERRLEN];
	struct verdict v;
	size_t vlen;

	if (st == NULL || verdict_key_catchall(key, sizeof key, domain) < 0 ||
	    store_get(st, key, val, sizeof val, &vlen, 0, err, sizeof err) != RG_FOUND ||
	    verdict_decode(val, vlen, 1, &v) < 0 || v.expires <= util_now())
		return json_pack("{s:s}", "result", "unknown");
	return json_pack("{s:s,s:I,s:I,s:s}", "result", v.pass ? "yes" : "no", "checked", (json_int_t)v.created,
			 "expires", (json_int_t)v.expires, "text", v.text);
}

/* One domain's status. */
static json_t *dom_info(const char *domain)
{
	const struct settings *s;
	struct list_status ls;
	char err[RG_ERRLEN];
	json_t *j, *src;
	int i;

	if (engine_settings(NULL, domain, &s, err, sizeof err) != RG_FOUND)
		return json_pack("{s:s,s:s}", "domain", domain, "error", err);
	j = json_pack("{s:s,s:s,s:i}", "domain", domain, "hosts", s->callout.hosts, "port", (int)s->callout.port);
	src = json_array();
	for (i = 0; i < CONFIG_SOURCES_MAX && s->sources[i][0]; i++)
		json_array_append_new(src, json_string(s->sources[i]));
	json_object_set_new(j, "sources", src);
	if (domain[0] != '*') {
		const struct store_handle *st;
		struct settings copy = *s;
		struct list_ctx x = { .c = engine_current_config(), .s = &copy, .domain = domain };

		memset(&ls, 0, sizeof ls);
		if (copy.list.path[0] && list_status(&x, &ls, err, sizeof err) != RG_FOUND) {
			ls.src_state = LIST_SRC_MISSING;
			util_strlcpy(ls.detail, err, sizeof ls.detail);
		}
		json_object_set_new(j, "list", dom_list_json(&copy, domain, &ls));
		st = store_process(&copy, err, sizeof err);
		json_object_set_new(j, "catchall", dom_catchall_json(st, domain));
	}
	return j;
}

/* GET /api/v1/domains */
static void dom_list_domains(struct admin_req *q, struct admin_reply *r)
{
	json_t *arr = json_array();
	char names[CONFIG_LIST_MAX], *w, *save = NULL;
	const struct config *c;
	const struct settings *s;
	char err[RG_ERRLEN];
	size_t i, n;

	if (admin_is_operator(q->tok)) {
		if (engine_settings(NULL, "", &s, err, sizeof err) != RG_FOUND)
			return admin_reply_error(r, 500, "configuration error: %s", err);
		c = engine_current_config();
		n = c ? config_domain_count(c) : 0;
		for (i = 0; i < n; i++) {
			char d[RG_DOMAIN_MAX + 1];

			/* Why a copy: dom_info() reloads settings, which may move the config. */
			util_strlcpy(d, config_domain_name(engine_current_config(), i), sizeof d);
			json_array_append_new(arr, dom_info(d));
		}
	} else {
		util_strlcpy(names, q->tok->scope, sizeof names);
		for (w = strtok_r(names, ",", &save); w; w = strtok_r(NULL, ",", &save))
			json_array_append_new(arr, dom_info(w));
	}
	admin_reply_json(r, 200, json_pack("{s:o,s:s,s:b}", "domains", arr, "token", q->tok->name,
					   "operator", admin_is_operator(q->tok)));
}

struct dom_cache {
	json_t *arr;
	int truncated;
};

/* verdict_admin_list callback: collect a record. */
static int dom_cache_one(const char *name, int catchall, const struct verdict *v, void *arg)
{
	struct dom_cache *f = arg;

	if (json_array_size(f->arr) >= DOM_CACHE_MAX) {
		f->truncated = 1;
		return 1;
	}
	json_array_append_new(f->arr, json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:s}", "type", catchall ? "catchall" : "verdict",
						"key", name, "result",
						catchall ? (v->pass ? "yes" : "no") : (v->pass ? "pass" : "fail"),
						"source", v->source, "created", (json_int_t)v->created, "expires",
						(json_int_t)v->expires, "text", v->text));
	return 0;
}

/* GET|DELETE /api/v1/domains/D/cache */
static void dom_cache(struct admin_req *q, const char *domain, struct admin_reply *r)
{
	struct dom_cache f = { 0 };
	const char *addr = admin_query(q, "address"), *neg = admin_query(q, "negative");
	char address[RG_ADDRESS_MAX + 1] = "", err[RG_ERRLEN];
	const struct store_handle *st;
	const struct settings *s;
	int del = strcmp(q->method, "DELETE") == 0, negative_only;
	size_t n = 0;

	if (!del && strcmp(q->method, "GET") != 0) {
		r->allow = "GET, DELETE";
		return admin_reply_error(r, 405, "method not allowed");
	}
	if (neg && strcmp(neg, "1") != 0 && strcmp(neg, "0") != 0)
		return admin_reply_error(r, 400, "negative must be 1 or 0");
	negative_only = neg && neg[0] == '1';
	if (addr && addr[0]) {
		struct address a;

		if (address_parse(addr, &a, err, sizeof err) != RG_FOUND)
			return admin_reply_error(r, 400, "bad address: %s", err);
		if (strcmp(a.domain, domain) != 0)
			return admin_reply_error(r, 400, "the address is not of %s", domain);
		util_strlcpy(address, a.key, sizeof address);
	}
	if ((s = dom_settings(domain, r)) == NULL || (st = dom_store(s, r)) == NULL)
		return;
	if (del) {
		if (verdict_admin_flush(st, address[0] ? NULL : domain, address[0] ? address : NULL, negative_only, &n,
					err, sizeof err) != RG_FOUND)
			return admin_reply_error(r, 503, "store: %s", err);
		admin_audit(q, "cache flush %s%s%s%s: %zu record(s)", domain, address[0] ? " address " : "", address,
			    negative_only ? " negative only" : "", n);
		return admin_reply_json(r, 200, json_pack("{s:s,s:I}", "domain", domain, "flushed", (json_int_t)n));
	}
	f.arr = json_array();
	if (verdict_admin_list(st, address[0] ? NULL : domain, address[0] ? address : NULL, dom_cache_one, &f,
			       err, sizeof err) != RG_FOUND) {
		json_decref(f.arr);
		return admin_reply_error(r, 503, "store: %s", err);
	}
	admin_reply_json(r, 200, json_pack("{s:s,s:o,s:b}", "domain", domain, "records", f.arr, "truncated", f.truncated));
}

/* list_upload callback: one problem as {line, message} (at most DOM_PROBLEMS_MAX). */
static void dom_problem(void *arg, unsigned line, const char *message)
{
	json_t *arr = arg;

	if (json_array_size(arr) < DOM_PROBLEMS_MAX)
		json_array_append_new(arr, json_pack("{s:i,s:s}", "line", (int)line, "message", message));
}

/* PUT .../list: validate the body and write it beside the list without the core lock,
 * then take the lock only for the hand-off (rename, compile, status). Called, and returns,
 * with the lock held. */
static int dom_upload(struct admin_req *q, const char *domain, struct settings *copy, json_t *problems,
		      struct list_status *ls, char *err, size_t errlen)
{
	const struct settings *s;
	struct list_ctx x = { 0 };
	struct list_pending pd;
	struct config *own = NULL;
	int rc;

	/* Why unlocked: validating and writing a large upload takes seconds, and every other
	 * request needs the lock. Nothing of the engine is used meanwhile: the config is a
	 * private copy (a re-read may replace the engine's) and the settings are copied. */
	pthread_mutex_unlock(&admin_core_lock);
	if (config_load(admin.config_path, &own, err, errlen) != RG_FOUND) {
		rc = RG_TEMPFAIL;
	} else {
		x.c = own;
		x.s = copy;
		x.domain = domain;
		rc = list_upload_prepare(&x, q->body ? q->body : "", q->len, dom_problem, problems, &pd, err, errlen);
		config_free(own);
	}
	pthread_mutex_lock(&admin_core_lock);
	if (rc != RG_FOUND)
		return rc;
	if (engine_settings(NULL, domain, &s, err, errlen) != RG_FOUND) {
		list_upload_abort(&pd);
		return RG_TEMPFAIL;
	}
	*copy = *s;
	x.c = engine_current_config();
	x.s = copy;
	return list_upload_commit(&x, &pd, dom_problem, problems, ls, err, errlen);
}

/* GET|PUT /api/v1/domains/D/list, POST .../list/accept */
static void dom_list(struct admin_req *q, const char *domain, int accept, struct admin_reply *r)
{
	const struct settings *s;
	struct settings copy;
	struct list_status ls;
	struct list_ctx x = { 0 };
	json_t *problems;
	char err[RG_ERRLEN], msg[RG_ERRLEN];
	int rc;

	if ((s = dom_settings(domain, r)) == NULL)
		return;
	copy = *s;
	x.c = engine_current_config();
	x.s = &copy;
	x.domain = domain;
	memset(&ls, 0, sizeof ls);
	if (accept) {
		if (strcmp(q->method, "POST") != 0) {
			r->allow = "POST";
			return admin_reply_error(r, 405, "method not allowed");
		}
		rc = list_accept(&x, msg, sizeof msg, err, sizeof err);
		if (rc == RG_NOTFOUND)
			return admin_reply_error(r, 404, "no version of the list is held: %s", err);
		if (rc != RG_FOUND)
			return admin_reply_error(r, rc == RG_CONFIG ? 404 : 503, "%s", err);
		admin_audit(q, "list accept %s: %s", domain, msg);
		list_status(&x, &ls, err, sizeof err);
		return admin_reply_json(r, 200, json_pack("{s:s,s:s,s:o}", "domain", domain, "message", msg, "list",
							  dom_list_json(&copy, domain, &ls)));
	}
	if (strcmp(q->method, "GET") == 0) {
		if (copy.list.path[0] && list_status(&x, &ls, err, sizeof err) != RG_FOUND)
			return admin_reply_error(r, 503, "%s", err);
		return admin_reply_json(r, 200, json_pack("{s:s,s:o}", "domain", domain, "list",
							  dom_list_json(&copy, domain, &ls)));
	}
	if (strcmp(q->method, "PUT") != 0) {
		r->allow = "GET, PUT";
		return admin_reply_error(r, 405, "method not allowed");
	}
	problems = json_array();
	rc = dom_upload(q, domain, &copy, problems, &ls, err, sizeof err);
	if (rc == RG_NOTFOUND) {
		admin_audit(q, "list upload %s refused: %zu problem(s)", domain, json_array_size(problems));
		return admin_reply_json(r, 422, json_pack("{s:s,s:s,s:o}", "domain", domain, "error",
							  "the list was refused; the list in force is unchanged", "problems",
							  problems));
	}
	json_decref(problems);
	if (rc == RG_CONFIG)
		return admin_reply_error(r, 404, "%s", err);
	if (rc != RG_FOUND)
		return admin_reply_error(r, 503, "%s", err);
	admin_audit(q, "list upload %s: %zu bytes, %s", domain, q->len,
		    ls.src_state == LIST_SRC_HELD ? "held by the shrink guard" : "in force");
	/* The end line the customer's scp uploads should carry (a cut copy cannot forge it). */
	snprintf(msg, sizeof msg, "# end %llu", (unsigned long long)ls.entry_lines);
	admin_reply_json(r, ls.src_state == LIST_SRC_HELD ? 409 : 200,
			 json_pack("{s:s,s:o,s:s}", "domain", domain, "list", dom_list_json(&copy, domain, &ls),
				   "end_marker", msg));
}

/* POST /api/v1/domains/D/probe {"rcpt": "known@D"} */
static void dom_probe(struct admin_req *q, const char *domain, struct admin_reply *r)
{
	static struct { char domain[RG_DOMAIN_MAX + 1]; int64_t at; } slots[DOM_PROBE_SLOTS];
	const struct settings *s;
	struct settings copy;
	struct probe_report rep;
	const char *rcpt = NULL;
	json_t *body, *v, *steps;
	int64_t now = util_now();
	size_t i, slot = 0;

	if (strcmp(q->method, "POST") != 0) {
		r->allow = "POST";
		return admin_reply_error(r, 405, "method not allowed");
	}
	if ((body = admin_body_json(q, r)) == NULL)
		return;
	v = json_object_get(body, "rcpt");
	if (v != NULL && !json_is_string(v) && !json_is_null(v)) {
		json_decref(body);
		return admin_reply_error(r, 400, "rcpt must be a string");
	}
	if (json_is_string(v) && json_string_length(v) > 0) {
		struct address a;
		char err[RG_ERRLEN];

		rcpt = json_string_value(v);
		if (address_parse(rcpt, &a, err, sizeof err) != RG_FOUND || strcmp(a.domain, domain) != 0) {
			json_decref(body);
			return admin_reply_error(r, 400, "rcpt must be an address of %s", domain);
		}
	}
	if ((s = dom_settings(domain, r)) == NULL) {
		json_decref(body);
		return;
	}
	if (s->callout.hosts[0] == '\0') {
		json_decref(body);
		return admin_reply_error(r, 404, "no destination (hosts) is configured for %s", domain);
	}
	/* Why a limit: each probe opens a connection to the customer's server. */
	for (i = 0; i < DOM_PROBE_SLOTS; i++) {
		if (strcmp(slots[i].domain, domain) == 0) {
			slot = i;
			break;
		}
		if (slots[i].at < slots[slot].at)
			slot = i;
	}
	if (strcmp(slots[slot].domain, domain) == 0 && now - slots[slot].at < ADMIN_PROBE_INTERVAL) {
		json_decref(body);
		return admin_reply_error(r, 429, "one probe per %d seconds per domain: try again in %lld s",
					 ADMIN_PROBE_INTERVAL, (long long)(ADMIN_PROBE_INTERVAL - (now - slots[slot].at)));
	}
	util_strlcpy(slots[slot].domain, domain, sizeof slots[slot].domain);
	slots[slot].at = now;
	copy = *s;
	admin_audit(q, "probe %s%s%s", domain, rcpt ? " rcpt " : "", rcpt ? rcpt : "");
	/* The probe talks only to the destination (no core state): other requests go on. */
	pthread_mutex_unlock(&admin_core_lock);
	probe_run(domain, &copy, rcpt, &rep);
	pthread_mutex_lock(&admin_core_lock);
	json_decref(body);
	steps = json_array();
	for (i = 0; i < rep.n; i++)
		json_array_append_new(steps, json_pack("{s:s,s:b,s:s}", "step", rep.steps[i].name, "ok",
						       rep.steps[i].ok == 1, "detail", rep.steps[i].detail));
	admin_reply_json(r, 200, json_pack("{s:s,s:b,s:o,s:s}", "domain", domain, "usable", rep.usable, "steps", steps,
					   "summary", rep.summary));
}

/* Route /api/v1/domains[...]; rest starts after "/api/v1/domains". */
void admin_domains(struct admin_req *q, const char *rest, struct admin_reply *r)
{
	char domain[RG_DOMAIN_MAX + 1];
	const char *seg, *sub;
	size_t n;

	if (rest[0] == '\0' || strcmp(rest, "/") == 0) {
		if (strcmp(q->method, "GET") != 0) {
			r->allow = "GET";
			return admin_reply_error(r, 405, "method not allowed");
		}
		return dom_list_domains(q, r);
	}
	seg = rest + 1;
	n = strcspn(seg, "/");
	if (dom_parse(seg, n, domain, sizeof domain) < 0)
		return admin_reply_error(r, 400, "bad domain in the path");
	if (!admin_scope_allows(q->tok, domain))
		return admin_reply_error(r, 403, "token %s may not act on %s", q->tok->name, domain);
	sub = seg + n;
	if (sub[0] == '\0') {
		if (strcmp(q->method, "GET") != 0) {
			r->allow = "GET";
			return admin_reply_error(r, 405, "method not allowed");
		}
		return admin_reply_json(r, 200, dom_info(domain));
	}
	if (strcmp(sub, "/cache") == 0)
		return dom_cache(q, domain, r);
	if (strcmp(sub, "/list") == 0)
		return dom_list(q, domain, 0, r);
	if (strcmp(sub, "/list/accept") == 0)
		return dom_list(q, domain, 1, r);
	if (strcmp(sub, "/probe") == 0)
		return dom_probe(q, domain, r);
	admin_reply_error(r, 404, "no such resource");
}
