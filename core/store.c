/*
 * store.c - the store registry, the one store handle of this process, and the store_*
 * wrappers every caller goes through (debug timing; the place of the fallback from a
 * shared store to the local one).
 *
 * Exim forks one process per SMTP connection and loads the module in each: the store
 * is opened lazily on first use, once per process, and a handle inherited across
 * fork() is abandoned, never used (LMDB forbids using an environment after fork).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "rglog.h"
#include "store.h"

extern const struct store_ops store_lmdb_ops;

const struct store_ops *const store_registry[] = {
	&store_lmdb_ops,
	NULL,
};

/* What names one store in the settings: a handle is reused while it stays the same. */
#define STORE_IDENTITY_MAX (RG_PATH_MAX + 64)

static struct {
	struct store_handle h;
	unsigned gen;                   /* util_fork_generation() of the opener */
	char identity[STORE_IDENTITY_MAX];
} store_cur;

/* The member named name, or NULL. */
const struct store_ops *store_find(const char *name)
{
	size_t i;

	for (i = 0; store_registry[i] != NULL; i++)
		if (strcmp(store_registry[i]->name, name) == 0)
			return store_registry[i];
	return NULL;
}

/* The settings that name the store, as one string (a member's own keys join here). */
static int store_identity(const struct settings *s, char *out, size_t size)
{
	return util_snprintf(out, size, "%s\n%s\n%u\n%u", s->store, s->state_dir, s->store_map_size,
			     s->store_map_max);
}

/* The process's store for the settings, opened on first use. */
const struct store_handle *store_process(const struct settings *s, char *err, size_t errlen)
{
	unsigned gen = util_fork_generation();
	char identity[STORE_IDENTITY_MAX];
	const struct store_ops *ops;

	if (store_cur.h.s != NULL && store_cur.gen != gen)
		memset(&store_cur, 0, sizeof store_cur);   /* inherited: abandon, never close */
	if (store_identity(s, identity, sizeof identity) < 0) {
		util_snprintf(err, errlen, "state_dir too long");
		return NULL;
	}
	if (store_cur.h.s != NULL && strcmp(store_cur.identity, identity) == 0)
		return &store_cur.h;
	store_process_close();
	if ((ops = store_find(s->store)) == NULL) {
		util_snprintf(err, errlen, "store \"%.20s\": no such store member in this build", s->store);
		return NULL;
	}
	/* The fallback to the local LMDB store (store_fallback) goes here and in the wrappers. */
	if (ops->open(s, &store_cur.h.s, err, errlen) != RG_FOUND) {
		memset(&store_cur, 0, sizeof store_cur);
		return NULL;
	}
	store_cur.h.ops = ops;
	store_cur.gen = gen;
	memcpy(store_cur.identity, identity, sizeof identity);
	return &store_cur.h;
}

/* Close the process's store, if this process opened it. */
void store_process_close(void)
{
	if (store_cur.h.s != NULL && store_cur.gen == util_fork_generation())
		store_cur.h.ops->close(store_cur.h.s);
	memset(&store_cur, 0, sizeof store_cur);
}

/* Microseconds of a monotonic clock, for debug timing. */
static int64_t store_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A handle that cannot serve: RG_TEMPFAIL with a reason. */
static int store_unusable(const struct store_handle *h, char *err, size_t errlen)
{
	if (h == NULL || h->ops == NULL || h->s == NULL) {
		util_snprintf(err, errlen, "no store");
		return 1;
	}
	return 0;
}

/* One debug line per operation: member, op, key, outcome, time. */
static void store_trace(const struct store_handle *h, const char *op, const char *key, int rc, int64_t t0,
			const char *err)
{
	char shown[101];

	if (key)
		util_sanitise(shown, sizeof shown, key, strlen(key));
	rglog(RGLOG_DEBUG, "rcptguard: store %s %s %s: %s %lldus%s%.200s", h->ops->name, op, key ? shown : "-",
	      util_status_name(rc), (long long)(store_us() - t0), rc == RG_TEMPFAIL || rc == RG_CONFIG ? " " : "",
	      rc == RG_TEMPFAIL || rc == RG_CONFIG ? err : "");
}

/* get: the member's, timed. */
int store_get(const struct store_handle *h, const char *key, char *val, size_t valsize, size_t *vlen,
	      int64_t deadline, char *err, size_t errlen)
{
	int64_t t0;
	int rc;

	if (store_unusable(h, err, errlen))
		return RG_TEMPFAIL;
	t0 = rglog_debug_enabled() ? store_us() : 0;
	rc = h->ops->get(h->s, key, val, valsize, vlen, deadline, err, errlen);
	if (t0)
		store_trace(h, "get", key, rc, t0, err);
	return rc;
}

/* put: the member's, timed. */
int store_put(const struct store_handle *h, const char *key, const char *val, size_t vlen,
	      int64_t expires, int64_t deadline, char *err, size_t errlen)
{
	int64_t t0;
	int rc;

	if (store_unusable(h, err, errlen))
		return RG_TEMPFAIL;
	t0 = rglog_debug_enabled() ? store_us() : 0;
	rc = h->ops->put(h->s, key, val, vlen, expires, deadline, err, errlen);
	if (t0)
		store_trace(h, "put", key, rc, t0, err);
	return rc;
}

/* del: the member's, timed. */
int store_del(const struct store_handle *h, const char *key, int64_t deadline, char *err, size_t errlen)
{
	int64_t t0;
	int rc;

	if (store_unusable(h, err, errlen))
		return RG_TEMPFAIL;
	t0 = rglog_debug_enabled() ? store_us() : 0;
	rc = h->ops->del(h->s, key, deadline, err, errlen);
	if (t0)
		store_trace(h, "del", key, rc, t0, err);
	return rc;
}

/* iterate: the member's, timed. */
int store_iterate(const struct store_handle *h, const char *prefix, store_iter_fn *fn, void *arg,
		  int64_t deadline, char *err, size_t errlen)
{
	int64_t t0;
	int rc;

	if (store_unusable(h, err, errlen))
		return RG_TEMPFAIL;
	t0 = rglog_debug_enabled() ? store_us() : 0;
	rc = h->ops->iterate(h->s, prefix, fn, arg, deadline, err, errlen);
	if (t0)
		store_trace(h, "iterate", prefix, rc, t0, err);
	return rc;
}

/* delete_if: the member's, timed. */
int store_delete_if(const struct store_handle *h, const char *prefix, store_pred_fn *pred, void *arg,
		    size_t *deleted, int64_t deadline, char *err, size_t errlen)
{
	int64_t t0;
	int rc;

	*deleted = 0;
	if (store_unusable(h, err, errlen))
		return RG_TEMPFAIL;
	t0 = rglog_debug_enabled() ? store_us() : 0;
	rc = h->ops->delete_if(h->s, prefix, pred, arg, deleted, deadline, err, errlen);
	if (t0)
		store_trace(h, "delete_if", prefix, rc, t0, err);
	return rc;
}

/* update: the member's, timed. */
int store_update(const struct store_handle *h, const char *key, store_update_fn *fn, void *arg,
		 int64_t deadline, char *err, size_t errlen)
{
	int64_t t0;
	int rc;

	if (store_unusable(h, err, errlen))
		return RG_TEMPFAIL;
	t0 = rglog_debug_enabled() ? store_us() : 0;
	rc = h->ops->update(h->s, key, fn, arg, deadline, err, errlen);
	if (t0)
		store_trace(h, "update", key, rc, t0, err);
	return rc;
}

/* info: the member's, with its name filled in and unknown numbers at -1. */
int store_info(const struct store_handle *h, struct store_info *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	out->keys = out->bytes = out->rtt_us = -1;
	if (store_unusable(h, err, errlen))
		return RG_TEMPFAIL;
	util_strlcpy(out->member, h->ops->name, sizeof out->member);
	return h->ops->info(h->s, out, err, errlen);
}

/* check: the member's; a member that cannot tell says so. */
int store_check(const struct store_handle *h, char *err, size_t errlen)
{
	if (store_unusable(h, err, errlen))
		return RG_TEMPFAIL;
	if (h->ops->check == NULL)
		return util_snprintf(err, errlen, "store %s cannot check itself", h->ops->name), RG_TEMPFAIL;
	return h->ops->check(h->s, err, errlen);
}

/* A copied record of store_iterate_sorted(): key and value NUL-terminated, one block. */
struct store_rec {
	size_t klen, vlen;
	char data[];            /* key, '\0', value, '\0' */
};

struct store_collect {
	struct store_rec **recs;
	size_t n, cap;
	int oom;
};

/* iterate callback: keep a copy of the record. */
static int store_collect_one(const char *key, size_t klen, const char *val, size_t vlen, void *arg)
{
	struct store_collect *c = arg;
	struct store_rec *r;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		struct store_rec **p = realloc(c->recs, cap * sizeof *p);

		if (p == NULL)
			return c->oom = 1;
		c->recs = p;
		c->cap = cap;
	}
	if ((r = malloc(sizeof *r + klen + vlen + 2)) == NULL)
		return c->oom = 1;
	r->klen = klen;
	r->vlen = vlen;
	memcpy(r->data, key, klen);
	r->data[klen] = '\0';
	memcpy(r->data + klen + 1, val, vlen);
	r->data[klen + 1 + vlen] = '\0';
	c->recs[c->n++] = r;
	return 0;
}

/* qsort: by key bytes. */
static int store_rec_cmp(const void *a, const void *b)
{
	const struct store_rec *x = *(const struct store_rec *const *)a, *y = *(const struct store_rec *const *)b;
	int d = memcmp(x->data, y->data, x->klen < y->klen ? x->klen : y->klen);

	return d ? d : (x->klen > y->klen) - (x->klen < y->klen);
}

/* Records in key order, each once. */
int store_iterate_sorted(const struct store_handle *h, const char *prefix, store_iter_fn *fn, void *arg,
			 int64_t deadline, char *err, size_t errlen)
{
	struct store_collect c = { NULL, 0, 0, 0 };
	size_t i;
	int rc;

	if (store_unusable(h, err, errlen))
		return RG_TEMPFAIL;
	if (h->ops->caps & STORE_CAP_ORDERED)
		return store_iterate(h, prefix, fn, arg, deadline, err, errlen);
	rc = store_iterate(h, prefix, store_collect_one, &c, deadline, err, errlen);
	if (rc == RG_FOUND && c.oom)
		rc = RG_TEMPFAIL, util_snprintf(err, errlen, "out of memory listing the store");
	if (rc == RG_FOUND && c.n > 1)
		qsort(c.recs, c.n, sizeof *c.recs, store_rec_cmp);
	for (i = 0; i < c.n; i++) {
		struct store_rec *r = c.recs[i];

		/* A key may come twice from a member without order (Redis SCAN): once it is. */
		if (rc == RG_FOUND && (i == 0 || store_rec_cmp(&c.recs[i - 1], &c.recs[i]) != 0) &&
		    fn(r->data, r->klen, r->data + r->klen + 1, r->vlen, arg))
			rc = -1;
	}
	for (i = 0; i < c.n; i++)
		free(c.recs[i]);
	free(c.recs);
	return rc == -1 ? RG_FOUND : rc;
}
