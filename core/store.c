/*
 * store.c - the store registry, the one store handle of this process, and the store_*
 * wrappers every caller goes through (debug timing; the place of the fallback from a
 * shared store to the local one).
 *
 * Exim forks one process per SMTP connection and loads the module in each: the store
 * is opened lazily on first use, once per process, and a handle inherited across
 * fork() is abandoned, never used (LMDB forbids using an environment after fork).
 *
 * The fallback (store_fallback): a shared store (STORE_CAP_SHARED) that cannot be reached
 * when opened, or whose server stops answering mid-way (its unreachable op says so), is
 * replaced by the local store in state_dir (local) or by none (the checks run uncached),
 * for a hold-down of STORE_HOLD_S. Why a stamp file in state_dir: each SMTP connection is
 * a new Exim process, and none of them may wait redis_timeout again while the hold-down
 * runs, so the hold-down must be seen by every process of the gateway; the process that
 * starts it logs it, once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "rglog.h"
#include "stats.h"
#include "store.h"

extern const struct store_ops store_lmdb_ops;
extern const struct store_ops store_redis_ops;

const struct store_ops *const store_registry[] = {
	&store_lmdb_ops,
	&store_redis_ops,
	NULL,
};

/* What names one store in the settings: a handle is reused while it stays the same. */
#define STORE_IDENTITY_MAX (2 * RG_PATH_MAX + CONFIG_LIST_MAX + 160)
#define STORE_HOLD_S 10                 /* a shared store found unreachable is left alone this long */
#define STORE_STAMP "store-fallback"    /* in state_dir: the hold-down, for every process */

struct store_proc {
	struct store_handle h;
	uint64_t gen;                   /* util_fork_generation() of the opener */
	int fallback;                   /* 1: h is the local store standing in for the shared one */
	char why[RG_ERRLEN];            /* why the shared store is not in use */
	char identity[STORE_IDENTITY_MAX];   /* last: only its first bytes are usually written */
};

/* The process's store handle. Why on util's per-process page (util_proc_alloc): every
 * connection's process writes it, as it writes its fork generation and the engine's config
 * checks there: one page fault for all of them after fork(). The generation check stays:
 * the handle must never be used by a process that did not open it, whoever zeroes it. */
static struct store_proc *store_cur;
static struct store_proc store_cur_static;   /* where util has no page left */

/* store_cur, placed on first use (in Exim, by the preload in the daemon). */
static RG_HOT struct store_proc *store_proc(void)
{
	if (store_cur == NULL && (store_cur = util_proc_alloc(sizeof *store_cur)) == NULL)
		store_cur = &store_cur_static;
	return store_cur;
}

/* The member named name, or NULL. */
RG_HOT const struct store_ops *store_find(const char *name)
{
	size_t i;

	for (i = 0; store_registry[i] != NULL; i++)
		if (strcmp(store_registry[i]->name, name) == 0)
			return store_registry[i];
	return NULL;
}

#define STORE_ID_PARTS 9

/* n in decimal, into buf (12 bytes). Why not snprintf: this runs at every check, and
 * printf's frame is the deepest stack of it (a new stack page: a page fault per process). */
static RG_HOT void store_decimal(char *buf, unsigned n)
{
	char tmp[12];
	size_t i = 0, o = 0;

	do
		tmp[i++] = (char)('0' + n % 10);
	while ((n /= 10) != 0);
	while (i > 0)
		buf[o++] = tmp[--i];
	buf[o] = '\0';
}

/* The settings that name the store, in order (a member's own keys join here); num holds
 * the numbers as text. */
static RG_HOT void store_identity_parts(const struct settings *s, char num[3][12], const char *part[STORE_ID_PARTS])
{
	store_decimal(num[0], s->lmdb.map_size);
	store_decimal(num[1], s->lmdb.map_max);
	store_decimal(num[2], s->redis.timeout);
	part[0] = s->store;
	part[1] = s->state_dir;
	part[2] = num[0];
	part[3] = num[1];
	part[4] = s->redis.uri;
	part[5] = s->redis.password_file;
	part[6] = s->redis.prefix;
	part[7] = num[2];
	part[8] = s->store_fallback;
}

/* The identity: the parts joined by newlines; -1 when it does not fit. */
static RG_HOT int store_identity(const struct settings *s, char *out, size_t size)
{
	char num[3][12];
	const char *part[STORE_ID_PARTS];
	size_t i, o = 0, n;

	store_identity_parts(s, num, part);
	for (i = 0; i < STORE_ID_PARTS; i++) {
		n = strlen(part[i]);
		if (n + 2 > size - o)
			return -1;
		memcpy(out + o, part[i], n);
		o += n;
		out[o++] = i + 1 < STORE_ID_PARTS ? '\n' : '\0';
	}
	return 0;
}

/* Whether id is s's identity. Why compared part by part, not formatted and compared: this
 * runs at every check, and a formatted copy (3 KB) made the deepest stack of the path, each
 * new stack page a page fault in a new process. */
static RG_HOT int store_identity_is(const struct settings *s, const char *id)
{
	char num[3][12];
	const char *part[STORE_ID_PARTS];
	size_t i, n;

	store_identity_parts(s, num, part);
	for (i = 0; i < STORE_ID_PARTS; i++) {
		n = strlen(part[i]);
		if (strncmp(id, part[i], n) != 0 || id[n] != (i + 1 < STORE_ID_PARTS ? '\n' : '\0'))
			return 0;
		id += n + 1;
	}
	return 1;
}

/* The settings of the shared store in use, kept for a switch to the local one mid-way. */
static struct settings store_set;

/* The hold-down stamp's path in dir. */
static int store_stamp_path(const char *dir, char *out, size_t size)
{
	return util_snprintf(out, size, "%s/" STORE_STAMP, dir);
}

/* Whether the shared store is on hold for this gateway: a stamp younger than the hold-down.
 * Not inlined: its path buffer stays out of store_process()'s frame on the common path. */
static RG_NOINLINE int store_held(const char *dir)
{
	char path[RG_PATH_MAX + 32];
	struct timespec now;
	struct stat st;

	if (store_stamp_path(dir, path, sizeof path) < 0 || lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	clock_gettime(CLOCK_REALTIME, &now);
	/* A stamp from the future (the clock was stepped back) does not hold for ever. */
	return st.st_mtime <= now.tv_sec + 1 && now.tv_sec < st.st_mtime + STORE_HOLD_S;
}

/* Start or renew the hold-down for every process of the gateway: a fresh stamp, made by
 * rename so that any process (Exim's user or root) can renew it. 1 when none was held. */
static int store_hold(const char *dir, const char *why)
{
	char path[RG_PATH_MAX + 32], tmp[RG_PATH_MAX + 64], line[RG_ERRLEN + 2];
	int held = store_held(dir), fd;
	ssize_t n;

	if (store_stamp_path(dir, path, sizeof path) < 0 ||
	    util_snprintf(tmp, sizeof tmp, "%s.%ld", path, (long)getpid()) < 0)
		return !held;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		rglog(RGLOG_INFO, "rcptguard: store: cannot write %.200s: %s", tmp, strerror(errno));
		return !held;
	}
	util_sanitise(line, sizeof line - 1, why, strlen(why));
	strcat(line, "\n");
	n = write(fd, line, strlen(line));
	(void)n;                        /* the text is for people; the time is what counts */
	close(fd);
	if (rename(tmp, path) < 0)
		unlink(tmp);
	return !held;
}

/* End the hold-down (the shared store answered); 1 when there was one. Not inlined, as
 * store_held(). */
static RG_NOINLINE int store_unhold(const char *dir)
{
	char path[RG_PATH_MAX + 32];

	return store_stamp_path(dir, path, sizeof path) == 0 && unlink(path) == 0;
}

/*
 * The shared store cannot be used (why): hold it off for STORE_HOLD_S, log (once per
 * hold-down: the process that starts it), and make the process's handle the local store
 * (store_fallback = local) or nothing (none). RG_FOUND with a local handle, else RG_TEMPFAIL.
 */
static int store_fall_back(const struct settings *s, const char *member, const char *why, int quiet,
			   char *err, size_t errlen)
{
	int none = strcmp(s->store_fallback, "none") == 0;
	char local_err[RG_ERRLEN];

	if (!quiet)
		stats_count(s->state_dir, STATS_STORE_FALLBACK, NULL, NULL);
	if (!quiet && store_hold(s->state_dir, why))
		rglog(RGLOG_ERROR, "rcptguard: store: shared store %s unreachable (%.200s): %s for %d s",
		      member, why, none ? "running uncached" : "using the local store in state_dir", STORE_HOLD_S);
	util_strlcpy(store_cur->why, why, sizeof store_cur->why);
	if (none) {
		util_snprintf(err, errlen, "shared store %s unreachable, store_fallback = none: running uncached (%.150s)",
			      member, why);
		return RG_TEMPFAIL;
	}
	/* Why the first member: the registry's first is the embedded local default (LMDB). */
	if (store_registry[0]->open(s, &store_cur->h.s, local_err, sizeof local_err) != RG_FOUND) {
		store_cur->h.s = NULL;
		util_snprintf(err, errlen, "shared store %s unreachable, local store unusable: %.150s", member, local_err);
		return RG_TEMPFAIL;
	}
	store_cur->h.ops = store_registry[0];
	store_cur->fallback = 1;
	return RG_FOUND;
}

/* A shared store's operation failed because its server did not answer: switch this
 * process to the fallback at once. 1 when h is now the local store (redo the operation). */
static int store_switch(const struct store_handle *h, const char *err)
{
	char why[RG_ERRLEN], ignore[RG_ERRLEN];
	const char *member = h->ops->name;

	if (h != &store_proc()->h || store_cur->fallback || !(h->ops->caps & STORE_CAP_SHARED) ||
	    h->ops->unreachable == NULL || !h->ops->unreachable(h->s))
		return 0;
	util_strlcpy(why, err, sizeof why);
	h->ops->close(h->s);
	store_cur->h.s = NULL;
	store_cur->h.ops = NULL;
	return store_fall_back(&store_set, member, why, 0, ignore, sizeof ignore) == RG_FOUND;
}

/* The process's store for the settings, opened on first use (or its fallback). */
RG_HOT const struct store_handle *store_process(const struct settings *s, char *err, size_t errlen)
{
	uint64_t gen = util_fork_generation();
	char why[RG_ERRLEN];
	const struct store_ops *ops;
	int rc;

	store_proc();
	if (store_cur->gen != gen)
		memset(store_cur, 0, sizeof *store_cur);   /* inherited: abandon, never close */
	if (store_cur->h.s != NULL && store_identity_is(s, store_cur->identity)) {
		if (!store_cur->fallback || store_held(s->state_dir))
			return &store_cur->h;
		/* else the hold-down is over: the shared store again */
	}
	store_process_close();
	if (store_identity(s, store_cur->identity, sizeof store_cur->identity) < 0) {
		store_cur->identity[0] = '\0';
		util_snprintf(err, errlen, "state_dir too long");
		return NULL;
	}
	if ((ops = store_find(s->store)) == NULL) {
		util_snprintf(err, errlen, "store \"%.20s\": no such store member in this build", s->store);
		return NULL;
	}
	store_cur->gen = gen;
	if (ops->caps & STORE_CAP_SHARED) {
		memcpy(&store_set, s, sizeof store_set);
		if (store_held(s->state_dir)) {
			rc = store_fall_back(s, ops->name, "on hold after a failure", 1, err, errlen);
			return rc == RG_FOUND ? &store_cur->h : NULL;
		}
	}
	if ((rc = ops->open(s, &store_cur->h.s, err, errlen)) != RG_FOUND) {
		store_cur->h.s = NULL;
		stats_count(s->state_dir, STATS_STORE_ERROR, "open", NULL);
		if (!(ops->caps & STORE_CAP_SHARED)) {
			memset(store_cur, 0, sizeof *store_cur);
			return NULL;
		}
		if (rc == RG_CONFIG)
			rglog(RGLOG_ERROR, "rcptguard: store: %s: %.200s", ops->name, err);
		util_strlcpy(why, err, sizeof why);
		rc = store_fall_back(s, ops->name, why, 0, err, errlen);
		return rc == RG_FOUND ? &store_cur->h : NULL;
	}
	store_cur->h.ops = ops;
	if ((ops->caps & STORE_CAP_SHARED) && store_unhold(s->state_dir))
		rglog(RGLOG_INFO, "rcptguard: store: shared store %s answers again: local store left", ops->name);
	return &store_cur->h;
}

/* Close the process's store, if this process opened it. */
RG_HOT void store_process_close(void)
{
	/* Why the generation first: in a new process it writes the per-process page before
	 * anything reads it (a read first would fault once more; see util_fork_generation). */
	uint64_t gen = util_fork_generation();

	store_proc();
	if (store_cur->h.s != NULL && store_cur->h.ops != NULL && store_cur->gen == gen)
		store_cur->h.ops->close(store_cur->h.s);
	memset(store_cur, 0, sizeof *store_cur);
}

/* Microseconds of a monotonic clock, for debug timing. */
static int64_t store_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A handle that cannot serve: RG_TEMPFAIL with a reason. */
static RG_HOT int store_unusable(const struct store_handle *h, char *err, size_t errlen)
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
RG_HOT int store_get(const struct store_handle *h, const char *key, char *val, size_t valsize, size_t *vlen,
	      int64_t deadline, char *err, size_t errlen)
{
	int64_t t0;
	int rc;

	if (store_unusable(h, err, errlen))
		return RG_TEMPFAIL;
	t0 = rglog_debug_enabled() ? store_us() : 0;
	rc = h->ops->get(h->s, key, val, valsize, vlen, deadline, err, errlen);
	if (rc == RG_TEMPFAIL && store_switch(h, err))
		rc = h->ops->get(h->s, key, val, valsize, vlen, deadline, err, errlen);
	if (t0)
		store_trace(h, "get", key, rc, t0, err);
	if (rc == RG_TEMPFAIL) stats_count(NULL, STATS_STORE_ERROR, "get", NULL);
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
	if (rc == RG_TEMPFAIL && store_switch(h, err))
		rc = h->ops->put(h->s, key, val, vlen, expires, deadline, err, errlen);
	if (t0)
		store_trace(h, "put", key, rc, t0, err);
	if (rc == RG_TEMPFAIL) stats_count(NULL, STATS_STORE_ERROR, "put", NULL);
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
	if (rc == RG_TEMPFAIL && store_switch(h, err))
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
	if (rc == RG_TEMPFAIL)
		store_switch(h, err);      /* a listing or a flush is not redone on the local store */
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
	if (rc == RG_TEMPFAIL)
		store_switch(h, err);      /* a listing or a flush is not redone on the local store */
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
	if (rc == RG_TEMPFAIL && store_switch(h, err))
		rc = h->ops->update(h->s, key, fn, arg, deadline, err, errlen);
	if (t0)
		store_trace(h, "update", key, rc, t0, err);
	return rc;
}

/* info: the member's, with its name filled in and unknown numbers at -1. */
int store_info(const struct store_handle *h, struct store_info *out, char *err, size_t errlen)
{
	int rc;

	memset(out, 0, sizeof *out);
	out->keys = out->bytes = out->rtt_us = -1;
	if (store_unusable(h, err, errlen))
		return RG_TEMPFAIL;
	util_strlcpy(out->member, h->ops->name, sizeof out->member);
	rc = h->ops->info(h->s, out, err, errlen);
	if (h == &store_proc()->h && store_cur->fallback) {
		char detail[sizeof out->detail];

		out->fallback = 1;
		util_snprintf(detail, sizeof detail, "fallback: the shared store %s is unreachable (%.120s); %.100s",
			      store_set.store, store_cur->why, out->detail);
		util_strlcpy(out->detail, detail, sizeof out->detail);
	}
	return rc;
}

/* script: the member's, timed; a store without scripts (or the local one after a switch)
 * says RG_NOTFOUND, and the caller takes its C path. */
int store_script(const struct store_handle *h, const struct store_script *sc, size_t nkeys, const char *const *keys,
		 size_t nargs, const char *const *args, struct store_script_reply *out, int64_t deadline,
		 char *err, size_t errlen)
{
	int64_t t0;
	int rc;

	if (store_unusable(h, err, errlen))
		return RG_TEMPFAIL;
	if (h->ops->script == NULL || !(h->ops->caps & STORE_CAP_SCRIPT))
		return RG_NOTFOUND;
	t0 = rglog_debug_enabled() ? store_us() : 0;
	rc = h->ops->script(h->s, sc, nkeys, keys, nargs, args, out, deadline, err, errlen);
	if (rc == RG_TEMPFAIL && store_switch(h, err))
		rc = h->ops->script && (h->ops->caps & STORE_CAP_SCRIPT)
		     ? h->ops->script(h->s, sc, nkeys, keys, nargs, args, out, deadline, err, errlen) : RG_NOTFOUND;
	if (t0)
		store_trace(h, sc->name, nkeys ? keys[nkeys - 1] : NULL, rc, t0, err);
	if (rc == RG_TEMPFAIL) stats_count(NULL, STATS_STORE_ERROR, "update", NULL);   /* a script is an update */
	return rc;
}

/* preload: the member's, if it has one (an unknown member is the later open's to report). */
int store_preload(const struct settings *s, char *err, size_t errlen)
{
	const struct store_ops *ops = store_find(s->store);

	store_proc();           /* its place on the per-process page, taken in the daemon */
	return ops != NULL && ops->preload != NULL ? ops->preload(s, err, errlen) : RG_FOUND;
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
