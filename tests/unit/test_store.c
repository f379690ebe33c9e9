/* test_store.c - the store conformance suite: every member of the store family passes
 * the same tests (round trips, prefix walks that may call the store, batched deletes,
 * oversized values, update, fork safety of the per-process handle (a child's and a
 * grandchild's), 50 processes losing
 * no update, info), run once per member with that member's settings; then what is
 * particular to LMDB (map growth and its ceiling, a damaged file set aside, check, the
 * greylist records in their own unsynced file, set aside after an earlier boot's crash), and
 * to Redis (against a real redis-server started here: prefix and TTL on every key, bad
 * data, ROLE and several URIs, AUTH, a frozen and a restarted server, the script cache,
 * and the fallback to the local store). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <lmdb.h>

#include "config.h"
#include "rglog.h"
#include "store.h"

static char dir[64];

/* A member under test: its name, and the settings that make a store of it in dir. */
struct member {
	const char *name;
	void (*settings)(struct settings *s, const char *d, unsigned mib);
};

/* lmdb: a file in state_dir. */
static void lmdb_settings(struct settings *s, const char *d, unsigned mib)
{
	snprintf(s->store, sizeof s->store, "lmdb");
	snprintf(s->state_dir, sizeof s->state_dir, "%s", d);
	s->lmdb.map_size = mib;
}

static char rsrv[64];                   /* the conformance suite's redis-server folder */

/* redis: the server started by main(); a prefix of each test's own (its folder's name),
 * so that tests see none of each other's keys; the local fallback store in state_dir. */
static void redis_member_settings(struct settings *s, const char *d, unsigned mib)
{
	(void)mib;
	snprintf(s->store, sizeof s->store, "redis");
	snprintf(s->state_dir, sizeof s->state_dir, "%s", d);
	snprintf(s->redis.uri, sizeof s->redis.uri, "unix:%s/r.sock", rsrv);
	snprintf(s->redis.prefix, sizeof s->redis.prefix, "%s:", strrchr(d, '/') + 1);
	s->redis.timeout = 2000;
}

static const struct member members[] = {
	{ "lmdb", lmdb_settings },
	{ "redis", redis_member_settings },
};

static const struct member *M;          /* the member of the group running */
static struct settings S;

/* The process store of the member under test (map of mib MiB where that means something). */
static const struct store_handle *open_store(unsigned mib)
{
	char err[RG_ERRLEN];
	const struct store_handle *h;

	config_defaults(&S);
	M->settings(&S, dir, mib);
	h = store_process(&S, err, sizeof err);
	if (h == NULL)
		fail_msg("%s: cannot open: %s", M->name, err);
	return h;
}

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/rg-store-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	store_process_close();
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd);
}

static int count_cb(const char *k, size_t kl, const char *v, size_t vl, void *arg)
{
	(void)k; (void)kl; (void)v; (void)vl;
	(*(size_t *)arg)++;
	return 0;
}

static int even_pred(const char *k, size_t kl, const char *v, size_t vl, void *arg)
{
	(void)kl; (void)v; (void)vl; (void)arg;
	return (atoi(k + 2) % 2) == 0;
}

static int all_pred(const char *k, size_t kl, const char *v, size_t vl, void *arg)
{
	(void)k; (void)kl; (void)v; (void)vl; (void)arg;
	return 1;
}

#define E err, sizeof err
#define FAR (util_now() + 86400)

static void test_roundtrip(void **state)
{
	const struct store_handle *h;
	char err[RG_ERRLEN], val[STORE_VAL_MAX], key[32];
	size_t vlen, n = 0, deleted;
	int i;

	(void)state;
	h = open_store(4);
	assert_int_equal(store_get(h, "v:none@example.org", val, sizeof val, &vlen, 0, E), RG_NOTFOUND);
	assert_int_equal(store_put(h, "v:a@example.org", "1 pass", 6, FAR, 0, E), RG_FOUND);
	assert_int_equal(store_get(h, "v:a@example.org", val, sizeof val, &vlen, 0, E), RG_FOUND);
	assert_int_equal(vlen, 6);
	assert_string_equal(val, "1 pass");
	/* A value larger than the caller's buffer is an error that says so, never a miss
	 * (a miss is overwritten, or read as "never seen") and never a cut value. */
	err[0] = '\0';
	assert_int_equal(store_get(h, "v:a@example.org", val, 4, &vlen, 0, E), RG_TEMPFAIL);
	assert_non_null(strstr(err, "too large"));
	assert_int_equal(store_del(h, "v:a@example.org", 0, E), RG_FOUND);
	assert_int_equal(store_del(h, "v:a@example.org", 0, E), RG_NOTFOUND);
	/* 2500 records: deletes cross the 1000-per-transaction boundary. */
	for (i = 0; i < 2500; i++) {
		snprintf(key, sizeof key, "x:%05d", i);
		assert_int_equal(store_put(h, key, "v", 1, FAR, 0, E), RG_FOUND);
	}
	assert_int_equal(store_put(h, "y:other", "v", 1, FAR, 0, E), RG_FOUND);
	assert_int_equal(store_iterate_sorted(h, "x:", count_cb, &n, 0, E), RG_FOUND);
	assert_int_equal(n, 2500);
	assert_int_equal(store_delete_if(h, "x:", even_pred, NULL, &deleted, 0, E), RG_FOUND);
	assert_int_equal(deleted, 1250);
	n = 0;
	assert_int_equal(store_iterate_sorted(h, "x:", count_cb, &n, 0, E), RG_FOUND);
	assert_int_equal(n, 1250);
	assert_int_equal(store_get(h, "y:other", val, sizeof val, &vlen, 0, E), RG_FOUND);
	assert_int_equal(store_get(h, "x:00001", val, sizeof val, &vlen, 0, E), RG_FOUND);
	assert_int_equal(store_get(h, "x:00002", val, sizeof val, &vlen, 0, E), RG_NOTFOUND);
	/* Deleting every record (long runs, pages merging) across many transactions. */
	for (i = 0; i < 5000; i++) {
		snprintf(key, sizeof key, "z:%05d", i);
		assert_int_equal(store_put(h, key, "value-value-value", 17, FAR, 0, E), RG_FOUND);
	}
	assert_int_equal(store_delete_if(h, "z:", all_pred, NULL, &deleted, 0, E), RG_FOUND);
	assert_int_equal(deleted, 5000);
	n = 0;
	assert_int_equal(store_iterate_sorted(h, "z:", count_cb, &n, 0, E), RG_FOUND);
	assert_int_equal(n, 0);
	assert_int_equal(store_get(h, "y:other", val, sizeof val, &vlen, 0, E), RG_FOUND);
	/* A bad key is a clear refusal. */
	assert_int_equal(store_put(h, "", "v", 1, FAR, 0, E), RG_CONFIG);
}

struct walk {
	const struct store_handle *h;
	size_t n, bad;
	char last[64];
	int ordered;
};

/* iterate callback that uses the store itself (allowed: fn runs outside any transaction)
 * and checks what it was given. */
static int walk_cb(const char *k, size_t kl, const char *v, size_t vl, void *arg)
{
	struct walk *w = arg;
	char err[RG_ERRLEN], val[64], key[64];
	size_t vlen;

	if (kl >= sizeof key || k[kl] != '\0' || v[vl] != '\0') {
		w->bad++;
		return 0;
	}
	memcpy(key, k, kl + 1);
	if (store_get(w->h, key, val, sizeof val, &vlen, 0, E) != RG_FOUND || vlen != vl || memcmp(val, v, vl) != 0)
		w->bad++;
	if (w->ordered && w->n > 0 && strcmp(w->last, key) >= 0)
		w->bad++;
	snprintf(w->last, sizeof w->last, "%s", key);
	/* Write too: another record of another prefix, each visit. */
	snprintf(key, sizeof key, "wq:%05zu", w->n);
	if (store_put(w->h, key, "w", 1, FAR, 0, E) != RG_FOUND)
		w->bad++;
	w->n++;
	return 0;
}

static int stop_cb(const char *k, size_t kl, const char *v, size_t vl, void *arg)
{
	(void)k; (void)kl; (void)v; (void)vl;
	return ++*(size_t *)arg == 7;
}

/* Prefix walks: every record once, NUL-terminated copies, the store usable from fn,
 * order where the member promises it, and a stop. */
static void test_iterate(void **state)
{
	struct walk w = { 0 };
	char err[RG_ERRLEN], key[32], val[32];
	size_t n = 0;
	int i;

	(void)state;
	w.h = open_store(4);
	for (i = 0; i < 1700; i++) {       /* more than one read batch */
		snprintf(key, sizeof key, "w:%05d", (i * 7919) % 1700);
		snprintf(val, sizeof val, "value %d", (i * 7919) % 1700);
		assert_int_equal(store_put(w.h, key, val, strlen(val), FAR, 0, E), RG_FOUND);
	}
	assert_int_equal(store_put(w.h, "w", "not under w:", 12, FAR, 0, E), RG_FOUND);
	w.ordered = (w.h->ops->caps & STORE_CAP_ORDERED) != 0;
	assert_int_equal(store_iterate(w.h, "w:", walk_cb, &w, 0, E), RG_FOUND);
	if (w.ordered)
		assert_int_equal(w.n, 1700);
	else
		assert_true(w.n >= 1700);
	assert_int_equal(w.bad, 0);
	/* The sorted walk: in order and once, whatever the member. */
	memset(&w, 0, sizeof w);
	w.h = open_store(4);
	w.ordered = 1;
	assert_int_equal(store_iterate_sorted(w.h, "w:", walk_cb, &w, 0, E), RG_FOUND);
	assert_int_equal(w.n, 1700);
	assert_int_equal(w.bad, 0);
	assert_int_equal(store_iterate_sorted(w.h, "w:", stop_cb, &n, 0, E), RG_FOUND);
	assert_int_equal(n, 7);
	/* A deadline already past: a clear temporary failure, not a partial success. */
	assert_int_equal(store_iterate(w.h, "w:", count_cb, &n, 1, E), RG_TEMPFAIL);
}

/* The child's store must be its own, never the handle inherited from the parent:
 * exit 2 says it got the inherited one. */
static int child_store_own(const struct store_handle *inherited, const struct store *inherited_s)
{
	const struct store_handle *c;
	char err[RG_ERRLEN];

	c = store_process(&S, E);
	if (c == NULL)
		return fprintf(stderr, "child: %s\n", err), 1;
	if (c->s == inherited_s || (c == inherited && c->s == inherited_s))
		return fprintf(stderr, "child: uses the store handle opened before fork()\n"), 2;
	return 0;
}

static void test_fork(void **state)
{
	const struct store_handle *h, *h2;
	const struct store *hs;
	char err[RG_ERRLEN], val[16];
	size_t vlen;
	pid_t pid;
	int status;

	(void)state;
	h = open_store(4);
	hs = h->s;
	assert_int_equal(store_put(h, "f:parent", "p", 1, FAR, 0, E), RG_FOUND);
	assert_int_equal(store_get(h, "f:parent", val, sizeof val, &vlen, 0, E), RG_FOUND);
	pid = fork();
	if (pid == 0) {
		int own = child_store_own(h, hs);

		if (own != 0)
			_exit(own);
		h2 = store_process(&S, E);
		if (store_get(h2, "f:parent", val, sizeof val, &vlen, 0, E) != RG_FOUND ||
		    store_put(h2, "f:child", "c", 1, FAR, 0, E) != RG_FOUND)
			_exit(1);
		store_process_close();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) != 0)
		fail_msg("child exit %d (2: it used the handle inherited across fork)", WEXITSTATUS(status));
	/* The parent's handle is untouched by the child's close. */
	assert_ptr_equal(open_store(4)->s, hs);
	assert_int_equal(store_get(h, "f:child", val, sizeof val, &vlen, 0, E), RG_FOUND);
}

/* update callback: add 1 to a decimal counter (absent = 0). */
static int incr_fn(const char *old, size_t oldlen, char *out, size_t outsize, size_t *outlen,
		   int64_t *expires, void *arg)
{
	char buf[32] = "0";

	(void)arg;
	if (old != NULL) {
		if (oldlen >= sizeof buf)
			return -1;
		memcpy(buf, old, oldlen);
		buf[oldlen] = '\0';
	}
	*outlen = (size_t)snprintf(out, outsize, "%d", atoi(buf) + 1);
	*expires = FAR;
	return STORE_UPDATE_PUT;
}

static int keep_fn(const char *old, size_t oldlen, char *out, size_t outsize, size_t *outlen,
		   int64_t *expires, void *arg)
{
	(void)old; (void)oldlen; (void)out; (void)outsize; (void)outlen; (void)expires;
	(*(int *)arg)++;
	return STORE_UPDATE_KEEP;
}

static int del_fn(const char *old, size_t oldlen, char *out, size_t outsize, size_t *outlen,
		  int64_t *expires, void *arg)
{
	(void)old; (void)oldlen; (void)out; (void)outsize; (void)outlen; (void)expires; (void)arg;
	return STORE_UPDATE_DEL;
}

static int abandon_fn(const char *old, size_t oldlen, char *out, size_t outsize, size_t *outlen,
		      int64_t *expires, void *arg)
{
	(void)old; (void)oldlen; (void)outsize; (void)arg; (void)expires;
	out[0] = 'x';
	*outlen = 1;
	return -1;
}

/* A big value, so that the map fills. */
static int big_fn(const char *old, size_t oldlen, char *out, size_t outsize, size_t *outlen,
		  int64_t *expires, void *arg)
{
	(void)old; (void)oldlen; (void)arg;
	memset(out, 'b', 900 < outsize ? 900 : outsize);
	*outlen = 900;
	*expires = FAR;
	return STORE_UPDATE_PUT;
}

/* A child that opened its own store and then forks (Exim's SMTP process forking a delivery
 * process): the grandchild must not use the child's handle either. */
static void test_fork_grandchild(void **state)
{
	const struct store_handle *h;
	const struct store *hs;
	char err[RG_ERRLEN];
	pid_t pid, gpid;
	int status;

	(void)state;
	h = open_store(4);
	pid = fork();
	if (pid == 0) {
		int own = child_store_own(h, h->s);

		if (own != 0)
			_exit(own);
		h = store_process(&S, E);
		hs = h->s;
		gpid = fork();
		if (gpid == 0)
			_exit(child_store_own(h, hs));
		if (waitpid(gpid, &status, 0) != gpid || !WIFEXITED(status))
			_exit(1);
		_exit(WEXITSTATUS(status) == 0 && store_process(&S, E)->s == hs ? 0 : 10 + WEXITSTATUS(status));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) != 0)
		fail_msg("child exit %d (2: a child used the handle of its parent; 12: the grandchild did)",
			 WEXITSTATUS(status));
}

static void test_update(void **state)
{
	const struct store_handle *h;
	char err[RG_ERRLEN], val[64];
	size_t vlen;
	int calls = 0;

	(void)state;
	h = open_store(4);
	/* Absent: the callback sees NULL and creates the record. */
	assert_int_equal(store_update(h, "u:n", incr_fn, NULL, 0, E), RG_FOUND);
	assert_int_equal(store_update(h, "u:n", incr_fn, NULL, 0, E), RG_FOUND);
	assert_int_equal(store_get(h, "u:n", val, sizeof val, &vlen, 0, E), RG_FOUND);
	assert_string_equal(val, "2");
	/* KEEP writes nothing; DEL deletes; DEL of an absent record is no error. */
	assert_int_equal(store_update(h, "u:n", keep_fn, &calls, 0, E), RG_FOUND);
	assert_int_equal(calls, 1);
	assert_int_equal(store_get(h, "u:n", val, sizeof val, &vlen, 0, E), RG_FOUND);
	assert_string_equal(val, "2");
	assert_int_equal(store_update(h, "u:n", del_fn, NULL, 0, E), RG_FOUND);
	assert_int_equal(store_get(h, "u:n", val, sizeof val, &vlen, 0, E), RG_NOTFOUND);
	assert_int_equal(store_update(h, "u:n", del_fn, NULL, 0, E), RG_FOUND);
	/* An abandoned update writes nothing and says so. */
	assert_int_equal(store_update(h, "u:a", abandon_fn, NULL, 0, E), RG_CONFIG);
	assert_int_equal(store_get(h, "u:a", val, sizeof val, &vlen, 0, E), RG_NOTFOUND);
	/* An empty key is refused. */
	assert_int_equal(store_update(h, "", incr_fn, NULL, 0, E), RG_CONFIG);
}

/* 50 processes add 1 to the same counter 40 times each, and to counters of their own:
 * no update may be lost; each child works on a store of its own (exit 2 otherwise). */
static void test_update_concurrent(void **state)
{
	const struct store_handle *h;
	const struct store *hs;
	char err[RG_ERRLEN], val[64], key[32];
	pid_t pids[50];
	size_t vlen;
	int i, status;

	(void)state;
	store_process_close();
	h = open_store(4);
	hs = h->s;
	/* The parent has used its handle before forking, as an Exim daemon would not, but
	 * a module in a long-lived process might. */
	assert_int_equal(store_get(h, "uc:shared", val, sizeof val, &vlen, 0, E), RG_NOTFOUND);
	for (i = 0; i < 50; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			const struct store_handle *c;
			char k[32];
			int own = child_store_own(h, hs);

			if (own != 0)
				_exit(own);
			c = store_process(&S, E);
			snprintf(k, sizeof k, "uc:own%02d", i);
			for (int j = 0; j < 40; j++)
				if (store_update(c, "uc:shared", incr_fn, NULL, 0, E) != RG_FOUND ||
				    store_update(c, k, incr_fn, NULL, 0, E) != RG_FOUND) {
					fprintf(stderr, "child %d: %s\n", i, err);
					_exit(1);
				}
			_exit(0);
		}
	}
	for (i = 0; i < 50; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		if (WEXITSTATUS(status) != 0)
			fail_msg("child %d exit %d (2: it used the handle inherited across fork)", i, WEXITSTATUS(status));
	}
	assert_int_equal(store_get(h, "uc:shared", val, sizeof val, &vlen, 0, E), RG_FOUND);
	assert_string_equal(val, "2000");
	for (i = 0; i < 50; i++) {
		snprintf(key, sizeof key, "uc:own%02d", i);
		assert_int_equal(store_get(h, key, val, sizeof val, &vlen, 0, E), RG_FOUND);
		assert_string_equal(val, "40");
	}
}

/* info: the member, where, and a key count that follows the records. */
static void test_info(void **state)
{
	const struct store_handle *h;
	struct store_info a, b;
	char err[RG_ERRLEN];
	size_t d;

	(void)state;
	h = open_store(4);
	assert_int_equal(store_info(h, &a, E), RG_FOUND);
	assert_string_equal(a.member, M->name);
	assert_true(a.where[0] != '\0');
	assert_true(a.keys >= 0);
	assert_int_equal(store_put(h, "i:1", "1", 1, FAR, 0, E), RG_FOUND);
	assert_int_equal(store_put(h, "i:2", "2", 1, FAR, 0, E), RG_FOUND);
	assert_int_equal(store_info(h, &b, E), RG_FOUND);
	assert_int_equal(b.keys, a.keys + 2);
	assert_int_equal(store_delete_if(h, "i:", all_pred, NULL, &d, 0, E), RG_FOUND);
	assert_int_equal(d, 2);
}

/* LMDB: the map grows on MDB_MAP_FULL, for put and update alike. */
static void test_lmdb_map_growth(void **state)
{
	const struct store_handle *h;
	char err[RG_ERRLEN], key[32], val[600], back[1000];
	size_t vlen;
	int i;

	(void)state;
	store_process_close();
	h = open_store(1);                          /* 1 MiB map */
	memset(val, 'v', sizeof val);
	for (i = 0; i < 8000; i++) {                 /* ~5 MiB of values */
		snprintf(key, sizeof key, "g:%06d", i);
		if (store_put(h, key, val, sizeof val, FAR, 0, E) != RG_FOUND)
			fail_msg("put %d: %s", i, err);
	}
	assert_int_equal(store_get(h, "g:000000", back, sizeof back, &vlen, 0, E), RG_FOUND);
	assert_int_equal(vlen, 600);
	for (i = 0; i < 6000; i++) {                 /* ~5 MiB more */
		snprintf(key, sizeof key, "ug:%06d", i);
		if (store_update(h, key, big_fn, NULL, 0, E) != RG_FOUND)
			fail_msg("update %d: %s", i, err);
	}
	assert_int_equal(store_get(h, "ug:000000", back, sizeof back, &vlen, 0, E), RG_FOUND);
	assert_int_equal(vlen, 900);
	store_process_close();
}

/* LMDB: growth stops at store_map_max with a clear error; deletes still work on the
 * full store (a purge is needed exactly then), and writes work again after. */
static void test_lmdb_map_ceiling(void **state)
{
	const struct store_handle *h;
	char err[RG_ERRLEN], key[32], val[600];
	size_t d, n = 0;
	int i, rc = RG_FOUND;
	char sub[96];

	(void)state;
	store_process_close();

	snprintf(sub, sizeof sub, "%s/ceiling", dir);     /* a fresh file: the others hold megabytes */
	assert_int_equal(mkdir(sub, 0700), 0);
	config_defaults(&S);
	M->settings(&S, sub, 1);
	S.lmdb.map_max = 2;
	h = store_process(&S, E);
	assert_non_null(h);
	memset(val, 'c', sizeof val);
	for (i = 0; i < 20000 && rc == RG_FOUND; i++) {
		snprintf(key, sizeof key, "mc:%06d", i);
		rc = store_put(h, key, val, sizeof val, FAR, 0, E);
	}
	assert_int_equal(rc, RG_TEMPFAIL);
	if (strstr(err, "store_map_max = 2 MiB") == NULL)
		fail_msg("unclear error at the ceiling: %s", err);
	if (i < 1000 || i >= 20000)
		fail_msg("full after %d records: %s", i, err);
	/* A single delete on the full map, then all of them in batches. */
	assert_int_equal(store_del(h, "mc:000000", 0, E), RG_FOUND);
	assert_int_equal(store_delete_if(h, "mc:", all_pred, NULL, &d, 0, E), RG_FOUND);
	assert_int_equal(d, (size_t)i - 2);
	assert_int_equal(store_iterate(h, "mc:", count_cb, &n, 0, E), RG_FOUND);
	assert_int_equal(n, 0);
	assert_int_equal(store_put(h, "mc:again", val, sizeof val, FAR, 0, E), RG_FOUND);
	store_process_close();
}

/* LMDB: a file that is not an LMDB file is set aside and recreated at open. */
static void test_lmdb_damaged_set_aside(void **state)
{
	char path[128], err[RG_ERRLEN], val[16];
	const struct store_handle *h;
	struct dirent *de;
	size_t vlen;
	int fd, aside = 0;
	DIR *d;

	(void)state;
	store_process_close();
	snprintf(path, sizeof path, "%s/rcptguard.mdb", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/rcptguard.mdb-lock", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/rcptguard.mdb", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	for (int i = 0; i < 64; i++)
		assert_int_equal(write(fd, "this is not an LMDB file at all.", 32), 32);
	close(fd);
	h = open_store(4);
	assert_int_equal(store_put(h, "k", "v", 1, FAR, 0, E), RG_FOUND);
	assert_int_equal(store_get(h, "k", val, sizeof val, &vlen, 0, E), RG_FOUND);
	d = opendir(dir);
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "rcptguard.mdb.damaged-", 22) == 0)
			aside++;
	closedir(d);
	assert_int_equal(aside, 1);
}

/* The lines logged at error level (the LMDB tests that watch for "set aside"). */
static char logged[4096];
static int logged_n;

static void log_hook(int level, const char *line)
{
	if (level != RGLOG_ERROR)
		return;
	logged_n++;
	snprintf(logged + strlen(logged), sizeof logged - strlen(logged), "%s\n", line);
}

/* Entries of the LMDB file dir/name, read with LMDB itself (-1 when it cannot be opened). */
static long lmdb_entries(const char *name)
{
	char path[128];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_stat ms;
	long n = -1;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (mdb_env_create(&env) != 0)
		return -1;
	if (mdb_env_open(env, path, MDB_NOSUBDIR | MDB_RDONLY | MDB_NOTLS | MDB_NOLOCK, 0) == 0 &&
	    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0) {
		if (mdb_dbi_open(txn, NULL, 0, &dbi) == 0 && mdb_stat(txn, dbi, &ms) == 0)
			n = (long)ms.ms_entries;
		mdb_txn_abort(txn);
	}
	mdb_env_close(env);
	return n;
}

/* The first line of dir/name ("" when absent). */
static const char *file_line(const char *name)
{
	static char line[128];
	char path[128];
	FILE *f;

	line[0] = '\0';
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((f = fopen(path, "r")) != NULL) {
		if (fgets(line, sizeof line, f) == NULL)
			line[0] = '\0';
		fclose(f);
	}
	line[strcspn(line, "\n")] = '\0';
	return line;
}

/* Files of dir whose name starts with prefix. */
static int files_named(const char *prefix)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(dir);

	while (d != NULL && (de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	if (d != NULL)
		closedir(d);
	return n;
}

/* Remove the store's files from dir: each LMDB test starts from none. */
static void lmdb_clean(void)
{
	char cmd[320];

	store_process_close();
	snprintf(cmd, sizeof cmd, "rm -f %s/rcptguard.mdb* %s/greylist.mdb*", dir, dir);
	assert_int_equal(system(cmd), 0);
}

struct keys_seen {
	char all[512];
};

static int keys_cb(const char *k, size_t kl, const char *v, size_t vl, void *arg)
{
	struct keys_seen *ks = arg;

	(void)v; (void)vl;
	snprintf(ks->all + strlen(ks->all), sizeof ks->all - strlen(ks->all), "%.*s ", (int)kl, k);
	return 0;
}

/* LMDB: greylist records (g:, a:) live in greylist.mdb, everything else in rcptguard.mdb;
 * one key space for callers (get, walks in key order across both, delete_if, info); the
 * boot stamp says "dirty" of this boot after an unsynced write, "synced" after close. */
static void test_lmdb_two_envs(void **state)
{
	static const char *const keys[] = { "v:b@x.test", "g:192.0.2.0/24 s@x.test r@y.test", "c:x.test",
					    "a:192.0.2.0/24", "f:192.0.2.7", "ab:1" };
	char err[RG_ERRLEN], val[64], boot[80] = "", want[128];
	const struct store_handle *h;
	struct keys_seen ks;
	struct store_info info;
	size_t vlen, i, d;
	FILE *f;

	(void)state;
	lmdb_clean();
	f = fopen("/proc/sys/kernel/random/boot_id", "r");
	assert_non_null(f);
	assert_non_null(fgets(boot, sizeof boot, f));
	fclose(f);
	boot[strcspn(boot, "\n")] = '\0';
	h = open_store(4);
	assert_int_equal(files_named("greylist.mdb"), 0);   /* opened on first use only */
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
		assert_int_equal(store_put(h, keys[i], keys[i], strlen(keys[i]), FAR, 0, E), RG_FOUND);
	snprintf(want, sizeof want, "dirty %s", boot);
	assert_string_equal(file_line("greylist.mdb-boot"), want);
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		assert_int_equal(store_get(h, keys[i], val, sizeof val, &vlen, 0, E), RG_FOUND);
		assert_string_equal(val, keys[i]);
	}
	memset(&ks, 0, sizeof ks);
	assert_int_equal(store_iterate(h, "", keys_cb, &ks, 0, E), RG_FOUND);
	assert_string_equal(ks.all, "a:192.0.2.0/24 ab:1 c:x.test f:192.0.2.7 g:192.0.2.0/24 s@x.test r@y.test v:b@x.test ");
	memset(&ks, 0, sizeof ks);
	assert_int_equal(store_iterate(h, "a", keys_cb, &ks, 0, E), RG_FOUND);
	assert_string_equal(ks.all, "a:192.0.2.0/24 ab:1 ");
	memset(&ks, 0, sizeof ks);
	assert_int_equal(store_iterate(h, "g:", keys_cb, &ks, 0, E), RG_FOUND);
	assert_string_equal(ks.all, "g:192.0.2.0/24 s@x.test r@y.test ");
	assert_int_equal(store_info(h, &info, E), RG_FOUND);
	assert_int_equal(info.keys, 6);
	assert_non_null(strstr(info.detail, "greylist.mdb (no fsync per commit)"));
	assert_int_equal(store_check(h, E), RG_FOUND);
	store_process_close();
	assert_string_equal(file_line("greylist.mdb-boot"), "synced");
	assert_int_equal(lmdb_entries("greylist.mdb"), 2);
	assert_int_equal(lmdb_entries("rcptguard.mdb"), 4);
	h = open_store(4);
	assert_int_equal(store_del(h, "a:192.0.2.0/24", 0, E), RG_FOUND);
	assert_string_equal(file_line("greylist.mdb-boot"), want);
	assert_int_equal(store_delete_if(h, "", all_pred, NULL, &d, 0, E), RG_FOUND);
	assert_int_equal(d, 5);
	store_process_close();
	assert_int_equal(lmdb_entries("greylist.mdb"), 0);
	assert_int_equal(lmdb_entries("rcptguard.mdb"), 0);
}

/* LMDB: greylist.mdb with unsynced commits of an earlier boot (a stamp naming another boot
 * id: the system went down before a sync) is set aside with one log line before anyone
 * reads it; verdicts in rcptguard.mdb are kept; greylisting goes on in a fresh file. So is
 * one without a stamp. A stamp of this boot, or "synced", keeps the file; an unreadable
 * one is a temporary failure. */
static void test_lmdb_new_boot(void **state)
{
	char err[RG_ERRLEN], val[64], path[128];
	const struct store_handle *h;
	size_t vlen;
	FILE *f;

	(void)state;
	lmdb_clean();
	rglog_set_hook(log_hook, 0);
	h = open_store(4);
	assert_int_equal(store_put(h, "v:kept@x.test", "1", 1, FAR, 0, E), RG_FOUND);
	assert_int_equal(store_put(h, "g:old", "1", 1, FAR, 0, E), RG_FOUND);
	store_process_close();
	/* A stamp that says "synced": the file is trusted. */
	h = open_store(4);
	assert_int_equal(store_get(h, "g:old", val, sizeof val, &vlen, 0, E), RG_FOUND);
	store_process_close();
	/* The previous boot wrote without a sync and went down. */
	snprintf(path, sizeof path, "%s/greylist.mdb-boot", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "dirty 00000000-1111-2222-3333-444444444444\n");
	fclose(f);
	logged[0] = '\0';
	logged_n = 0;
	h = open_store(4);
	assert_int_equal(store_get(h, "v:kept@x.test", val, sizeof val, &vlen, 0, E), RG_FOUND);
	assert_int_equal(logged_n, 0);          /* verdicts alone do not open greylist.mdb */
	assert_int_equal(store_get(h, "g:old", val, sizeof val, &vlen, 0, E), RG_NOTFOUND);
	assert_int_equal(logged_n, 1);
	assert_non_null(strstr(logged, "held unsynced commits when the system went down, boot 00000000-1111"));
	assert_non_null(strstr(logged, "set aside as"));
	assert_int_equal(files_named("greylist.mdb.unsynced-"), 1);
	assert_string_equal(file_line("greylist.mdb-boot"), "synced");
	assert_int_equal(store_put(h, "g:new", "1", 1, FAR, 0, E), RG_FOUND);
	assert_int_equal(store_get(h, "g:new", val, sizeof val, &vlen, 0, E), RG_FOUND);
	store_process_close();
	h = open_store(4);
	assert_int_equal(store_get(h, "g:new", val, sizeof val, &vlen, 0, E), RG_FOUND);
	assert_int_equal(logged_n, 1);          /* once */
	store_process_close();
	/* No stamp beside an existing file: an unknown past, not trusted either. */
	assert_int_equal(unlink(path), 0);
	h = open_store(4);
	assert_int_equal(store_get(h, "g:new", val, sizeof val, &vlen, 0, E), RG_NOTFOUND);
	assert_int_equal(logged_n, 2);
	assert_non_null(strstr(logged, "has no boot stamp"));
	assert_int_equal(store_get(h, "v:kept@x.test", val, sizeof val, &vlen, 0, E), RG_FOUND);
	store_process_close();
	/* A stamp that cannot be read (here: not a regular file) says nothing about the file:
	 * a temporary failure naming it, and nothing is set aside. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	h = open_store(4);
	assert_int_equal(store_get(h, "g:new", val, sizeof val, &vlen, 0, E), RG_TEMPFAIL);
	assert_non_null(strstr(err, "greylist.mdb-boot"));
	assert_int_equal(logged_n, 2);
	assert_int_equal(files_named("greylist.mdb.unsynced-"), 2);
	store_process_close();
	assert_int_equal(rmdir(path), 0);
	rglog_set_hook(NULL, 0);
}

/* LMDB, an upgrade: greylist records that an older version kept in rcptguard.mdb move
 * into greylist.mdb when it is created; verdicts stay; a newer record already moved wins. */
static void test_lmdb_migrate(void **state)
{
	char err[RG_ERRLEN], val[64], path[128];
	const struct store_handle *h;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v;
	size_t vlen;
	int i;
	static const char *const old[][2] = { { "g:192.0.2.0/24 a@x.test b@y.test", "old triplet" },
					      { "a:192.0.2.0/24", "old awl" }, { "v:kept@x.test", "verdict" } };

	(void)state;
	lmdb_clean();
	snprintf(path, sizeof path, "%s/rcptguard.mdb", dir);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_open(env, path, MDB_NOSUBDIR, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
	for (i = 0; i < 3; i++) {
		k.mv_size = strlen(old[i][0]);
		k.mv_data = (void *)old[i][0];
		v.mv_size = strlen(old[i][1]);
		v.mv_data = (void *)old[i][1];
		assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	}
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	h = open_store(4);
	assert_int_equal(store_get(h, old[0][0], val, sizeof val, &vlen, 0, E), RG_FOUND);
	assert_string_equal(val, "old triplet");
	assert_int_equal(store_get(h, old[1][0], val, sizeof val, &vlen, 0, E), RG_FOUND);
	assert_string_equal(val, "old awl");
	assert_int_equal(store_get(h, old[2][0], val, sizeof val, &vlen, 0, E), RG_FOUND);
	store_process_close();
	assert_int_equal(lmdb_entries("rcptguard.mdb"), 1);
	assert_int_equal(lmdb_entries("greylist.mdb"), 2);
}

/* LMDB, greylist_sync = yes: greylist.mdb is synced at each commit; the stamp stays
 * "synced" (and an earlier boot's "dirty" stamp is still honoured). */
static void test_lmdb_greylist_sync(void **state)
{
	char err[RG_ERRLEN];
	const struct store_handle *h;
	struct store_info info;

	(void)state;
	lmdb_clean();
	config_defaults(&S);
	M->settings(&S, dir, 4);
	S.lmdb.greylist_sync = 1;
	h = store_process(&S, E);
	assert_non_null(h);
	assert_int_equal(store_put(h, "g:x", "1", 1, FAR, 0, E), RG_FOUND);
	assert_string_equal(file_line("greylist.mdb-boot"), "synced");
	assert_int_equal(store_info(h, &info, E), RG_FOUND);
	assert_non_null(strstr(info.detail, "greylist.mdb (synced)"));
	store_process_close();
}

/* Write records into dir/rcptguard.mdb with LMDB itself (as another process would have). */
static void lmdb_seed(const char *const kv[][2], size_t n)
{
	char path[128];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v;
	size_t i;

	snprintf(path, sizeof path, "%s/rcptguard.mdb", dir);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxreaders(env, 1024), 0);
	assert_int_equal(mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOTLS, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
	for (i = 0; i < n; i++) {
		k.mv_size = strlen(kv[i][0]);
		k.mv_data = (void *)kv[i][0];
		v.mv_size = strlen(kv[i][1]);
		v.mv_data = (void *)kv[i][1];
		assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	}
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/* iterate callback that writes a record of its own per visit (r:KEY), from inside the walk. */
static int copy_cb(const char *k, size_t kl, const char *v, size_t vl, void *arg)
{
	const struct store_handle *h = arg;
	char err[RG_ERRLEN], key[64];

	snprintf(key, sizeof key, "r:%.*s", (int)kl, k);
	return store_put(h, key, v, vl, FAR, 0, E) != RG_FOUND;
}

/* LMDB: a process that has only read rcptguard.mdb (a cached verdict) and then writes, by
 * each way there is to write (put, update, del, delete_if, a put from inside a walk): the
 * write lands, this process reads it back at once, the walk goes on where it was, and the
 * records are in the file for every other process. */
static void test_lmdb_read_then_write(void **state)
{
	static const char *const seed[][2] = { { "v:a@x.test", "1 pass" }, { "v:b@x.test", "1 fail" },
					       { "v:c@x.test", "1 pass" }, { "w:1", "one" }, { "w:2", "two" },
					       { "w:3", "three" } };
	char err[RG_ERRLEN], val[64];
	const struct store_handle *h;
	size_t vlen, d, n;
	int op;

	(void)state;
	lmdb_clean();
	lmdb_seed(seed, sizeof seed / sizeof seed[0]);
	for (op = 0; op < 5; op++) {
		store_process_close();
		h = open_store(4);
		assert_int_equal(store_get(h, "v:a@x.test", val, sizeof val, &vlen, 0, E), RG_FOUND);
		assert_string_equal(val, "1 pass");
		assert_int_equal(store_get(h, "v:none@x.test", val, sizeof val, &vlen, 0, E), RG_NOTFOUND);
		switch (op) {
		case 0:
			assert_int_equal(store_put(h, "v:new@x.test", "1 pass new", 10, FAR, 0, E), RG_FOUND);
			assert_int_equal(store_get(h, "v:new@x.test", val, sizeof val, &vlen, 0, E), RG_FOUND);
			assert_string_equal(val, "1 pass new");
			break;
		case 1:
			assert_int_equal(store_update(h, "u:n", incr_fn, NULL, 0, E), RG_FOUND);
			assert_int_equal(store_get(h, "u:n", val, sizeof val, &vlen, 0, E), RG_FOUND);
			assert_string_equal(val, "1");
			break;
		case 2:
			assert_int_equal(store_del(h, "v:b@x.test", 0, E), RG_FOUND);
			assert_int_equal(store_get(h, "v:b@x.test", val, sizeof val, &vlen, 0, E), RG_NOTFOUND);
			break;
		case 3:
			assert_int_equal(store_delete_if(h, "v:c", all_pred, NULL, &d, 0, E), RG_FOUND);
			assert_int_equal(d, 1);
			assert_int_equal(store_get(h, "v:c@x.test", val, sizeof val, &vlen, 0, E), RG_NOTFOUND);
			break;
		case 4:
			assert_int_equal(store_iterate(h, "w:", copy_cb, (void *)h, 0, E), RG_FOUND);
			n = 0;
			assert_int_equal(store_iterate(h, "r:w:", count_cb, &n, 0, E), RG_FOUND);
			assert_int_equal(n, 3);
			assert_int_equal(store_get(h, "r:w:3", val, sizeof val, &vlen, 0, E), RG_FOUND);
			assert_string_equal(val, "three");
			break;
		}
		/* Reads go on after the write, records of before included. */
		assert_int_equal(store_get(h, "v:a@x.test", val, sizeof val, &vlen, 0, E), RG_FOUND);
	}
	store_process_close();
	/* v:a v:new u:n w:1-3 r:w:1-3 */
	assert_int_equal(lmdb_entries("rcptguard.mdb"), 9);
}

/* LMDB: the first open by a process that only reads, of a store file that does not exist
 * yet, or is empty (created, never written): the file is created, a read is a miss, a
 * write lands. */
static void test_lmdb_read_no_file(void **state)
{
	char err[RG_ERRLEN], val[64], path[128];
	const struct store_handle *h;
	struct store_info info;
	struct stat st;
	size_t vlen;
	int fd, round;

	(void)state;
	snprintf(path, sizeof path, "%s/rcptguard.mdb", dir);
	for (round = 0; round < 2; round++) {
		lmdb_clean();
		if (round == 1) {
			fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
			assert_true(fd >= 0);
			close(fd);
		}
		h = open_store(4);
		assert_int_equal(stat(path, &st), 0);
		assert_true(st.st_size > 0);
		assert_int_equal(store_get(h, "v:a@x.test", val, sizeof val, &vlen, 0, E), RG_NOTFOUND);
		assert_int_equal(store_info(h, &info, E), RG_FOUND);
		assert_int_equal(info.keys, 0);
		assert_int_equal(store_put(h, "v:a@x.test", "1 pass", 6, FAR, 0, E), RG_FOUND);
		assert_int_equal(store_get(h, "v:a@x.test", val, sizeof val, &vlen, 0, E), RG_FOUND);
		store_process_close();
		assert_int_equal(lmdb_entries("rcptguard.mdb"), 1);
		assert_int_equal(files_named("rcptguard.mdb.damaged-"), 0);
	}
}

/* LMDB: a process that has read with a small map while another process grows the file far
 * past it reads the new records (its map follows), and then writes. */
static void test_lmdb_read_while_grown(void **state)
{
	char err[RG_ERRLEN], val[600], back[700], key[32];
	const struct store_handle *h;
	size_t vlen;
	pid_t pid;
	int status, i;

	(void)state;
	lmdb_clean();
	h = open_store(1);
	assert_int_equal(store_put(h, "m:seed", "s", 1, FAR, 0, E), RG_FOUND);
	store_process_close();
	h = open_store(1);                          /* 1 MiB map, read-only so far */
	assert_int_equal(store_get(h, "m:seed", back, sizeof back, &vlen, 0, E), RG_FOUND);
	assert_int_equal(store_get(h, "m:007999", back, sizeof back, &vlen, 0, E), RG_NOTFOUND);
	pid = fork();
	if (pid == 0) {
		const struct store_handle *c = store_process(&S, E);

		memset(val, 'g', sizeof val);
		for (i = 0; c != NULL && i < 8000; i++) {    /* ~5 MiB */
			snprintf(key, sizeof key, "m:%06d", i);
			if (store_put(c, key, val, sizeof val, FAR, 0, E) != RG_FOUND) {
				fprintf(stderr, "child: put %d: %s\n", i, err);
				_exit(1);
			}
		}
		store_process_close();
		_exit(c == NULL);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	if (store_get(h, "m:007999", back, sizeof back, &vlen, 0, E) != RG_FOUND)
		fail_msg("read after another process grew the map: %s", err);
	assert_int_equal(vlen, 600);
	assert_int_equal(back[599], 'g');
	assert_int_equal(store_put(h, "m:after", "a", 1, FAR, 0, E), RG_FOUND);
	assert_int_equal(store_get(h, "m:after", back, sizeof back, &vlen, 0, E), RG_FOUND);
	assert_int_equal(store_get(h, "m:000000", back, sizeof back, &vlen, 0, E), RG_FOUND);
	store_process_close();
	assert_int_equal(lmdb_entries("rcptguard.mdb"), 8002);
}

/* mdb_reader_list callback: count the reader slots of the pid in arg ("pid thread txnid"). */
static int slot_of_cb(const char *line, void *arg)
{
	long *want = arg;

	if (strtol(line, NULL, 10) == want[0])
		want[1]++;
	return 0;
}

/* In a child (another process, as mdb_stat -r would be): the reader slots of pid in
 * dir/rcptguard.mdb, and the dead ones, as exit status slots * 16 + dead (255 on error). */
static int lmdb_slots(pid_t pid, int *dead)
{
	char path[128];
	pid_t c;
	int status;

	snprintf(path, sizeof path, "%s/rcptguard.mdb", dir);
	if ((c = fork()) == 0) {
		MDB_env *env;
		long want[2] = { (long)pid, 0 };
		int d = 0;

		if (mdb_env_create(&env) != 0 || mdb_env_set_maxreaders(env, 1024) != 0 ||
		    mdb_env_open(env, path, MDB_NOSUBDIR | MDB_RDONLY | MDB_NOTLS, 0) != 0)
			_exit(255);
		mdb_reader_list(env, slot_of_cb, want);
		mdb_reader_check(env, &d);
		mdb_env_close(env);
		_exit((int)(want[1] * 16 + d));
	}
	if (c < 0 || waitpid(c, &status, 0) != c || !WIFEXITED(status) || WEXITSTATUS(status) == 255)
		fail_msg("cannot list the reader slots of %s", path);
	*dead = WEXITSTATUS(status) % 16;
	return WEXITSTATUS(status) / 16;
}

/* LMDB: a process that read (a connection with a cached verdict), and one that read then
 * wrote, leave no reader slot behind when they close the store and end: a slot left
 * behind reads as a process that died in the store (the next opener clears it and sets
 * off a check of the file). This process holds the file open meanwhile, as a busy
 * gateway's other connections do (else the next opener would reset the reader table and
 * hide a slot left behind). */
static void test_lmdb_no_reader_left(void **state)
{
	char err[RG_ERRLEN], val[64];
	const struct store_handle *h;
	size_t vlen;
	pid_t pid;
	int status, dead, writes;

	(void)state;
	lmdb_clean();
	h = open_store(4);
	assert_int_equal(store_put(h, "v:a@x.test", "1 pass", 6, FAR, 0, E), RG_FOUND);
	assert_int_equal(store_get(h, "v:a@x.test", val, sizeof val, &vlen, 0, E), RG_FOUND);
	for (writes = 0; writes < 2; writes++) {
		pid = fork();
		if (pid == 0) {
			const struct store_handle *c = store_process(&S, E);

			if (c == NULL || store_get(c, "v:a@x.test", val, sizeof val, &vlen, 0, E) != RG_FOUND ||
			    (writes && store_put(c, "v:b@x.test", "1 fail", 6, FAR, 0, E) != RG_FOUND) ||
			    store_get(c, "v:a@x.test", val, sizeof val, &vlen, 0, E) != RG_FOUND)
				_exit(1);
			store_process_close();
			_exit(0);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
		assert_int_equal(lmdb_slots(pid, &dead), 0);
		assert_int_equal(dead, 0);
	}
	/* The check does see a slot left behind: a process that ends inside a read. */
	pid = fork();
	if (pid == 0) {
		MDB_env *env;
		MDB_txn *txn;
		char path[128];

		snprintf(path, sizeof path, "%s/rcptguard.mdb", dir);
		if (mdb_env_create(&env) != 0 || mdb_env_set_maxreaders(env, 1024) != 0 ||
		    mdb_env_open(env, path, MDB_NOSUBDIR | MDB_RDONLY | MDB_NOTLS, 0) != 0 ||
		    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0)
			_exit(1);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(lmdb_slots(pid, &dead), 1);
	assert_int_equal(dead, 1);
	assert_int_equal(store_get(h, "v:b@x.test", val, sizeof val, &vlen, 0, E), RG_FOUND);
	store_process_close();
}

/* LMDB: a state_dir whose longest file path (rcptguard.mdb's) just fits RG_PATH_MAX works,
 * both files and the boot stamp; one byte longer is a clear configuration error. */
static void test_lmdb_long_state_dir(void **state)
{
	char err[RG_ERRLEN], val[16], deep[RG_PATH_MAX + 8], cmd[RG_PATH_MAX + 32];
	const struct store_handle *h;
	struct settings *set = calloc(1, sizeof *set);
	size_t vlen, len;

	(void)state;
	lmdb_clean();
	assert_non_null(set);
	snprintf(deep, sizeof deep, "%s", dir);
	/* dir/ddd.../ddd...: components of at most 200 bytes, the whole RG_PATH_MAX - 15 long. */
	while ((len = strlen(deep)) < RG_PATH_MAX - 15) {
		size_t n = RG_PATH_MAX - 15 - len - 1;

		if (n > 200)
			n = 200;
		if (n == 0)
			n = 1;
		strcat(deep, "/");
		memset(deep + len + 1, 'd', n);
		deep[len + 1 + n] = '\0';
		assert_int_equal(mkdir(deep, 0700), 0);
	}
	assert_int_equal(strlen(deep) + strlen("/rcptguard.mdb"), RG_PATH_MAX - 1);
	config_defaults(set);
	M->settings(set, deep, 4);
	h = store_process(set, E);
	if (h == NULL)
		fail_msg("open with a state_dir of %zu bytes: %s", strlen(deep), err);
	assert_int_equal(store_put(h, "v:long@x.test", "1", 1, FAR, 0, E), RG_FOUND);
	assert_int_equal(store_put(h, "g:long", "1", 1, FAR, 0, E), RG_FOUND);
	assert_int_equal(store_get(h, "v:long@x.test", val, sizeof val, &vlen, 0, E), RG_FOUND);
	assert_int_equal(store_get(h, "g:long", val, sizeof val, &vlen, 0, E), RG_FOUND);
	store_process_close();
	len = strlen(deep);
	strcat(deep, "/greylist.mdb-boot");
	assert_int_equal(access(deep, R_OK), 0);
	strcpy(deep + len, "/rcptguard.mdb");
	assert_int_equal(access(deep, R_OK), 0);
	deep[len] = '\0';
	strcat(deep, "e");
	assert_int_equal(mkdir(deep, 0700), 0);
	config_defaults(set);
	M->settings(set, deep, 4);
	err[0] = '\0';
	assert_null(store_process(set, E));
	assert_non_null(strstr(err, "state_dir too long"));
	snprintf(cmd, sizeof cmd, "rm -rf %s/dd*", dir);
	assert_int_equal(system(cmd), 0);
	free(set);
}

/* A member name that is not in the registry: a clear error, no store. */
static void test_unknown_member(void **state)
{
	char err[RG_ERRLEN] = "";
	struct settings s;

	(void)state;
	store_process_close();
	config_defaults(&s);
	snprintf(s.store, sizeof s.store, "nosuch");
	assert_null(store_process(&s, E));
	assert_non_null(strstr(err, "no such store member"));
	assert_null(store_find("nosuch"));
	assert_non_null(store_find("lmdb"));
}

/* ---------------------------------------------------------------- the redis member
 *
 * A real redis-server per test group (unix socket in the test folder, --save "",
 * --appendonly no), started and stopped here. Checks what only a shared store has: the
 * prefix and a TTL on every key, ROLE, AUTH, bad data as a miss, bounded waits on a
 * frozen server, reconnection after a restart, and the fallback to the local store. */

static char rdir[64];
static pid_t rpid, rpid2;

/* Scripts for the script op: one that puts ARGV[1] (old value, new value, 7), one that fails. */
static const struct store_script put_script = {
	"test-put",
	"local old = rg_get(1) rg_put(1, ARGV[1], tonumber(redis.call('TIME')[1]) + 3600) "
	"return {old or '-', rg_get(1), 7}"
};
static const struct store_script bad_script = { "test-bad", "return bad_script_fails.x" };

/* Start redis-server on sock (a replica of primary_sock's server when not NULL). */
static pid_t redis_start(const char *sock, const char *extra1, const char *extra2)
{
	char cmd[512];
	pid_t pid = fork();
	int i;

	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 1);
		dup2(fd, 2);
		setsid();
		execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
		       "--save", "", "--appendonly", "no", "--dir", rdir,
		       extra1 ? extra1 : "--loglevel", extra2 ? extra2 : "warning", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {
		snprintf(cmd, sizeof cmd, "redis-cli -s %s PING 2>/dev/null | grep -q PONG", sock);
		if (system(cmd) == 0)
			return pid;
		usleep(20000);
	}
	fail_msg("redis-server did not start on %s", sock);
	return -1;
}

static void redis_stop(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGCONT);
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

/* redis-cli output of a command on the main server, first line. */
static void rcli(char *out, size_t size, const char *fmt, ...)
{
	char cmd[1024], args[900];
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof cmd, "redis-cli -s %s/r.sock %s 2>&1", rdir, args);
	out[0] = '\0';
	assert_non_null(p = popen(cmd, "r"));
	if (fgets(out, (int)size, p) == NULL)
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	pclose(p);
}

static int redis_setup(void **state)
{
	char sock[128];

	(void)state;
	strcpy(rdir, "/tmp/rg-redis-XXXXXX");
	if (mkdtemp(rdir) == NULL)
		return -1;
	snprintf(sock, sizeof sock, "%s/r.sock", rdir);
	rpid = redis_start(sock, NULL, NULL);
	return rpid > 0 ? 0 : -1;
}

static int redis_teardown(void **state)
{
	char cmd[128];

	(void)state;
	store_process_close();
	redis_stop(&rpid);
	redis_stop(&rpid2);
	snprintf(cmd, sizeof cmd, "rm -rf %s", rdir);
	return system(cmd);
}

/* Settings for the redis member on the test server. */
static void redis_settings(struct settings *s)
{
	config_defaults(s);
	snprintf(s->state_dir, sizeof s->state_dir, "%s", rdir);
	snprintf(s->store, sizeof s->store, "redis");
	snprintf(s->redis.uri, sizeof s->redis.uri, "unix:%s/r.sock", rdir);
	s->redis.timeout = 300;
}

static const struct store_ops *redis_ops(void)
{
	const struct store_ops *ops = store_find("redis");

	assert_non_null(ops);
	assert_true(ops->caps & STORE_CAP_SHARED);
	assert_true(ops->caps & STORE_CAP_EXPIRY);
	assert_false(ops->caps & STORE_CAP_ORDERED);
	return ops;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Every key has the prefix and a TTL close to the record's expiry. */
static void test_redis_prefix_ttl(void **state)
{
	const struct store_ops *ops = redis_ops();
	struct settings set;
	struct store *s;
	char err[RG_ERRLEN], out[256];

	(void)state;
	redis_settings(&set);
	snprintf(set.redis.prefix, sizeof set.redis.prefix, "site1:");
	assert_int_equal(ops->open(&set, &s, err, sizeof err), RG_FOUND);
	assert_int_equal(ops->put(s, "v:a@example.org", "1 pass", 6, util_now() + 3600, 0, err, sizeof err), RG_FOUND);
	rcli(out, sizeof out, "GET site1:v:a@example.org");
	assert_string_equal(out, "1 pass");
	rcli(out, sizeof out, "TTL site1:v:a@example.org");
	assert_in_range(atoi(out), 3590, 3600);
	/* A write without an expiry still gets a TTL (no key lives for ever). */
	assert_int_equal(ops->put(s, "v:b@example.org", "x", 1, 0, 0, err, sizeof err), RG_FOUND);
	rcli(out, sizeof out, "TTL site1:v:b@example.org");
	assert_true(atoi(out) > 0);
	/* Glob characters in a prefix walk match only themselves. */
	assert_int_equal(ops->put(s, "v:*x", "y", 1, util_now() + 60, 0, err, sizeof err), RG_FOUND);
	{
		size_t n = 0;

		assert_int_equal(ops->iterate(s, "v:*", count_cb, &n, 0, err, sizeof err), RG_FOUND);
		assert_int_equal(n, 1);
	}
	assert_int_equal(ops->check(s, err, sizeof err), RG_FOUND);
	rcli(out, sizeof out, "SET site1:v:forever x");
	assert_int_equal(ops->check(s, err, sizeof err), RG_NOTFOUND);
	assert_non_null(strstr(err, "without a TTL"));
	ops->close(s);
}

/* Junk, a wrong type, an oversized value: misses or errors, never a crash. */
static void test_redis_bad_data(void **state)
{
	const struct store_ops *ops = redis_ops();
	struct settings set;
	struct store *s;
	char err[RG_ERRLEN], val[STORE_VAL_MAX], out[64];
	size_t vlen;

	(void)state;
	redis_settings(&set);
	assert_int_equal(ops->open(&set, &s, err, sizeof err), RG_FOUND);
	rcli(out, sizeof out, "RPUSH rg:v:list@example.org a b");
	assert_int_equal(ops->get(s, "v:list@example.org", val, sizeof val, &vlen, 0, err, sizeof err), RG_NOTFOUND);
	/* update over a key of another type replaces it with a record */
	assert_int_equal(ops->update(s, "v:list@example.org", incr_fn, NULL, 0, err, sizeof err), RG_FOUND);
	rcli(out, sizeof out, "TYPE rg:v:list@example.org");
	assert_string_equal(out, "string");
	rcli(out, sizeof out, "SET rg:v:big %s", "0123456789012345678901234567890123456789");
	assert_int_equal(ops->get(s, "v:big", val, 8, &vlen, 0, err, sizeof err), RG_TEMPFAIL);
	assert_non_null(strstr(err, "bytes"));
	assert_int_equal(ops->unreachable(s), 0);      /* bad data is not a server failure */
	ops->close(s);
}

/* update from many processes at once: no update lost (WATCH/MULTI/EXEC with retry). */
static void test_redis_update_concurrent(void **state)
{
	const struct store_ops *ops = redis_ops();
	struct settings set;
	struct store *s;
	char err[RG_ERRLEN], val[64];
	size_t vlen;
	int i, status;

	(void)state;
	redis_settings(&set);
	assert_int_equal(ops->open(&set, &s, err, sizeof err), RG_FOUND);
	pid_t kids[20];

	for (i = 0; i < 20; i++) {
		if ((kids[i] = fork()) == 0) {
			int j, bad = 0;

			/* The inherited connection is abandoned: the child makes its own. */
			for (j = 0; j < 20; j++)
				bad |= ops->update(s, "c:counter", incr_fn, NULL, 0, err, sizeof err) != RG_FOUND;
			_exit(bad);
		}
	}
	for (i = 0; i < 20; i++) {
		assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(ops->get(s, "c:counter", val, sizeof val, &vlen, 0, err, sizeof err), RG_FOUND);
	assert_int_equal(atoi(val), 400);
	ops->close(s);
}

/* delete_if's script: EVALSHA, and EVAL when the server's script cache was emptied. */
static void test_redis_delete_noscript(void **state)
{
	const struct store_ops *ops = redis_ops();
	struct settings set;
	struct store *s;
	char err[RG_ERRLEN], key[32], out[64];
	size_t deleted = 0, n = 0;
	int i;

	(void)state;
	redis_settings(&set);
	assert_int_equal(ops->open(&set, &s, err, sizeof err), RG_FOUND);
	for (i = 0; i < 1200; i++) {
		snprintf(key, sizeof key, "x:%05d", i);
		assert_int_equal(ops->put(s, key, "v", 1, util_now() + 60, 0, err, sizeof err), RG_FOUND);
	}
	assert_int_equal(ops->delete_if(s, "x:", even_pred, NULL, &deleted, 0, err, sizeof err), RG_FOUND);
	assert_int_equal(deleted, 600);
	rcli(out, sizeof out, "SCRIPT FLUSH");
	assert_int_equal(ops->delete_if(s, "x:", all_pred, NULL, &deleted, 0, err, sizeof err), RG_FOUND);
	assert_int_equal(deleted, 600);
	assert_int_equal(ops->iterate(s, "x:", count_cb, &n, 0, err, sizeof err), RG_FOUND);
	assert_int_equal(n, 0);
	ops->close(s);
}

/* The script op: the member's helpers (prefix, TTL, another type as absent), one round
 * trip, EVAL after SCRIPT FLUSH; a script's own error is a temporary failure, not the server's. */
static void test_redis_script(void **state)
{
	const struct store_ops *ops = redis_ops();
	const char *keys[2] = { "s:a", "s:b" }, *args[1] = { "v1" };
	struct store_script_reply r;
	struct settings set;
	struct store *s;
	char err[RG_ERRLEN], out[64];

	(void)state;
	assert_true(ops->caps & STORE_CAP_SCRIPT);
	redis_settings(&set);
	assert_int_equal(ops->open(&set, &s, err, sizeof err), RG_FOUND);
	assert_int_equal(ops->script(s, &put_script, 1, keys, 1, args, &r, 0, err, sizeof err), RG_FOUND);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.v[0], "-");               /* absent before */
	assert_string_equal(r.v[1], "v1");
	assert_string_equal(r.v[2], "7");               /* an integer, as text */
	rcli(out, sizeof out, "GET rg:s:a");
	assert_string_equal(out, "v1");
	rcli(out, sizeof out, "TTL rg:s:a");
	assert_in_range(atoi(out), 3500, 3600);         /* rg_put's expiry */
	rcli(out, sizeof out, "SCRIPT FLUSH");
	args[0] = "v2";
	assert_int_equal(ops->script(s, &put_script, 1, keys, 1, args, &r, 0, err, sizeof err), RG_FOUND);
	assert_string_equal(r.v[0], "v1");
	rcli(out, sizeof out, "HSET rg:s:b f v");
	assert_int_equal(ops->script(s, &put_script, 1, keys + 1, 1, args, &r, 0, err, sizeof err), RG_FOUND);
	assert_string_equal(r.v[0], "-");               /* another type reads as absent */
	rcli(out, sizeof out, "TYPE rg:s:b");
	assert_string_equal(out, "string");
	assert_int_equal(ops->script(s, &bad_script, 1, keys, 0, NULL, &r, 0, err, sizeof err), RG_TEMPFAIL);
	assert_int_equal(ops->unreachable(s), 0);
	assert_non_null(strstr(err, "bad_script_fails"));
	ops->close(s);
}

/* A frozen server costs one redis_timeout, says unreachable; a restarted one is found again. */
static void test_redis_frozen_and_restart(void **state)
{
	const struct store_ops *ops = redis_ops();
	struct settings set;
	struct store *s;
	char err[RG_ERRLEN], val[64], sock[128];
	size_t vlen;
	int64_t t0, el;

	(void)state;
	redis_settings(&set);
	assert_int_equal(ops->open(&set, &s, err, sizeof err), RG_FOUND);
	assert_int_equal(ops->put(s, "v:k", "1", 1, util_now() + 60, 0, err, sizeof err), RG_FOUND);
	kill(rpid, SIGSTOP);
	t0 = mono_ms();
	assert_int_equal(ops->get(s, "v:k", val, sizeof val, &vlen, 0, err, sizeof err), RG_TEMPFAIL);
	el = mono_ms() - t0;
	assert_in_range(el, 250, 700);                  /* one redis_timeout (300 ms), not two */
	assert_int_equal(ops->unreachable(s), 1);
	/* The caller's deadline is a bound too. */
	t0 = mono_ms();
	assert_int_equal(ops->get(s, "v:k", val, sizeof val, &vlen, mono_ms() + 100, err, sizeof err), RG_TEMPFAIL);
	assert_in_range(mono_ms() - t0, 50, 250);
	kill(rpid, SIGCONT);
	assert_int_equal(ops->get(s, "v:k", val, sizeof val, &vlen, 0, err, sizeof err), RG_FOUND);
	/* Killed and restarted: the dead connection is remade once, without an error. */
	redis_stop(&rpid);
	snprintf(sock, sizeof sock, "%s/r.sock", rdir);
	unlink(sock);
	rpid = redis_start(sock, NULL, NULL);
	assert_int_equal(ops->put(s, "v:k", "2", 1, util_now() + 60, 0, err, sizeof err), RG_FOUND);
	assert_int_equal(ops->get(s, "v:k", val, sizeof val, &vlen, 0, err, sizeof err), RG_FOUND);
	assert_string_equal(val, "2");
	ops->close(s);
}

/* Several URIs: a replica first is skipped (ROLE), a dead one too; bad URIs are config errors. */
static void test_redis_role_and_uris(void **state)
{
	const struct store_ops *ops = redis_ops();
	struct settings set;
	struct store *s;
	struct store_info info;
	char err[RG_ERRLEN], sock2[128], port[64], val[64];
	size_t vlen;

	(void)state;
	snprintf(sock2, sizeof sock2, "%s/replica.sock", rdir);
	/* A replica of nothing reachable still answers ROLE "slave". */
	rpid2 = redis_start(sock2, "--replicaof", "127.0.0.1 1");
	(void)port;
	redis_settings(&set);
	snprintf(set.redis.uri, sizeof set.redis.uri, "unix:%s/none.sock unix:%s unix:%s/r.sock", rdir, sock2, rdir);
	assert_int_equal(ops->open(&set, &s, err, sizeof err), RG_FOUND);
	assert_int_equal(ops->info(s, &info, err, sizeof err), RG_FOUND);
	assert_string_equal(info.role, "master");
	assert_non_null(strstr(info.where, "/r.sock"));
	assert_true(info.rtt_us >= 0);
	assert_true(info.bytes > 0);
	assert_int_equal(ops->put(s, "v:x", "1", 1, util_now() + 60, 0, err, sizeof err), RG_FOUND);
	assert_int_equal(ops->get(s, "v:x", val, sizeof val, &vlen, 0, err, sizeof err), RG_FOUND);
	ops->close(s);
	/* One URI: no ROLE round trip at connect. A replica there answers reads and refuses
	 * writes (READONLY), a script too: that is the server failing (unreachable, so store.c
	 * falls back), never bad data. */
	snprintf(set.redis.uri, sizeof set.redis.uri, "unix:%s", sock2);
	assert_int_equal(ops->open(&set, &s, err, sizeof err), RG_FOUND);
	assert_int_equal(ops->get(s, "v:x", val, sizeof val, &vlen, 0, err, sizeof err), RG_NOTFOUND);
	assert_int_equal(ops->put(s, "v:x", "1", 1, util_now() + 60, 0, err, sizeof err), RG_TEMPFAIL);
	assert_non_null(strstr(err, "READONLY"));
	assert_int_equal(ops->unreachable(s), 1);
	{
		const char *keys[1] = { "v:x" }, *args[1] = { "1" };
		struct store_script_reply r;

		assert_int_equal(ops->script(s, &put_script, 1, keys, 1, args, &r, 0, err, sizeof err), RG_TEMPFAIL);
		assert_non_null(strstr(err, "READONLY"));
		assert_int_equal(ops->unreachable(s), 1);
	}
	assert_int_equal(ops->info(s, &info, err, sizeof err), RG_FOUND);
	assert_string_equal(info.role, "slave");        /* asked by info, not at connect */
	ops->close(s);
	/* Only replicas among several: no primary, a temporary failure that says so. */
	snprintf(set.redis.uri, sizeof set.redis.uri, "unix:%s unix:%s/none.sock", sock2, rdir);
	assert_int_equal(ops->open(&set, &s, err, sizeof err), RG_TEMPFAIL);
	assert_non_null(strstr(err, "not a primary"));
	snprintf(set.redis.uri, sizeof set.redis.uri, "redis://redis.example:6379/0");
	assert_int_equal(ops->open(&set, &s, err, sizeof err), RG_CONFIG);
	assert_non_null(strstr(err, "IP address"));
	snprintf(set.redis.uri, sizeof set.redis.uri, "unix:%s/r.sock http://127.0.0.1/", rdir);
	assert_int_equal(ops->open(&set, &s, err, sizeof err), RG_CONFIG);
	assert_non_null(strstr(err, "http://127.0.0.1/"));
	redis_stop(&rpid2);
}

/* AUTH: a password file readable by others is refused; "user password" logs in as an ACL user. */
static void test_redis_auth(void **state)
{
	const struct store_ops *ops = redis_ops();
	struct settings set;
	struct store *s;
	char err[RG_ERRLEN], out[64], pw[128];
	FILE *f;

	(void)state;
	rcli(out, sizeof out, "ACL SETUSER gw on '>s3cret' '~rg:*' +@all");
	rcli(out, sizeof out, "CONFIG SET requirepass adminpw");
	redis_settings(&set);
	/* One URI, no password: nothing asked at connect; the first command's NOAUTH is the
	 * server refusing us (unreachable: store.c falls back and logs this text). */
	assert_int_equal(ops->open(&set, &s, err, sizeof err), RG_FOUND);
	assert_int_equal(ops->put(s, "v:auth", "1", 1, util_now() + 60, 0, err, sizeof err), RG_TEMPFAIL);
	assert_non_null(strstr(err, "NOAUTH"));
	assert_non_null(strstr(err, "redis_password_file"));
	assert_int_equal(ops->unreachable(s), 1);
	ops->close(s);
	/* Several URIs: ROLE at connect says it at once, as a config error. */
	snprintf(set.redis.uri, sizeof set.redis.uri, "unix:%s/r.sock unix:%s/r.sock", rdir, rdir);
	assert_int_equal(ops->open(&set, &s, err, sizeof err), RG_CONFIG);   /* NOAUTH at ROLE */
	redis_settings(&set);
	snprintf(pw, sizeof pw, "%s/pw", rdir);
	assert_non_null(f = fopen(pw, "w"));
	fputs("gw s3cret\n", f);
	fclose(f);
	chmod(pw, 0644);
	snprintf(set.redis.password_file, sizeof set.redis.password_file, "%s", pw);
	assert_int_equal(ops->open(&set, &s, err, sizeof err), RG_CONFIG);
	assert_non_null(strstr(err, pw));
	assert_non_null(strstr(err, "readable by others"));
	chmod(pw, 0640);
	assert_int_equal(ops->open(&set, &s, err, sizeof err), RG_FOUND);
	assert_int_equal(ops->put(s, "v:auth", "1", 1, util_now() + 60, 0, err, sizeof err), RG_FOUND);
	ops->close(s);
	assert_non_null(f = fopen(pw, "w"));
	fputs("gw wrong\n", f);
	fclose(f);
	assert_int_equal(ops->open(&set, &s, err, sizeof err), RG_CONFIG);
	assert_non_null(strstr(err, "AUTH refused"));
	/* the plain password form */
	assert_non_null(f = fopen(pw, "w"));
	fputs("adminpw\n", f);
	fclose(f);
	assert_int_equal(ops->open(&set, &s, err, sizeof err), RG_FOUND);
	ops->close(s);
}

/* The fallback: an unreachable shared store is replaced by the local one for the hold-down,
 * seen by other processes (the stamp), then the shared store is used again. */
static void test_redis_fallback(void **state)
{
	const struct store_handle *h;
	struct store_info info;
	struct settings set;
	char err[RG_ERRLEN], val[64], stamp[128];
	size_t vlen;
	int64_t t0;
	struct stat st;
	int status;
	pid_t kid;

	(void)state;
	redis_settings(&set);
	snprintf(stamp, sizeof stamp, "%s/store-fallback", rdir);
	h = store_process(&set, err, sizeof err);
	assert_non_null(h);
	assert_string_equal(h->ops->name, "redis");
	assert_int_equal(store_put(h, "v:f", "1", 1, util_now() + 60, 0, err, sizeof err), RG_FOUND);
	/* Frozen mid-way: the operation is answered by the local store, once redis_timeout late. */
	kill(rpid, SIGSTOP);
	t0 = mono_ms();
	assert_int_equal(store_put(h, "v:f", "2", 1, util_now() + 60, 0, err, sizeof err), RG_FOUND);
	assert_in_range(mono_ms() - t0, 250, 1000);
	assert_string_equal(h->ops->name, "lmdb");
	assert_int_equal(stat(stamp, &st), 0);
	assert_int_equal(store_info(h, &info, err, sizeof err), RG_FOUND);
	assert_int_equal(info.fallback, 1);
	/* Another process (a new SMTP connection) sees the hold-down and does not wait. */
	if ((kid = fork()) == 0) {
		const struct store_handle *c;
		int64_t c0 = mono_ms();

		c = store_process(&set, err, sizeof err);
		_exit(c == NULL || strcmp(c->ops->name, "lmdb") != 0 || mono_ms() - c0 > 100 ? 1 : 0);
	}
	assert_int_equal(waitpid(kid, &status, 0), kid);
	assert_int_equal(WEXITSTATUS(status), 0);
	/* store_fallback = none: no store, at once (callers run uncached). */
	store_process_close();
	snprintf(set.store_fallback, sizeof set.store_fallback, "none");
	t0 = mono_ms();
	assert_null(store_process(&set, err, sizeof err));
	assert_true(mono_ms() - t0 < 100);
	assert_non_null(strstr(err, "none"));
	snprintf(set.store_fallback, sizeof set.store_fallback, "local");
	kill(rpid, SIGCONT);
	/* After the hold-down the shared store is used again, and the stamp removed. */
	unlink(stamp);                                  /* the hold-down's end, without waiting 10 s */
	h = store_process(&set, err, sizeof err);
	assert_non_null(h);
	assert_string_equal(h->ops->name, "redis");
	/* "1", or "2": a write that timed out may still be applied when the server wakes up. */
	assert_int_equal(store_get(h, "v:f", val, sizeof val, &vlen, 0, err, sizeof err), RG_FOUND);
	store_process_close();
}

int main(void)
{
	const struct CMUnitTest conformance[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_iterate),
		cmocka_unit_test(test_fork),
		cmocka_unit_test(test_fork_grandchild),
		cmocka_unit_test(test_update),
		cmocka_unit_test(test_update_concurrent),
		cmocka_unit_test(test_info),
	};
	const struct CMUnitTest redis[] = {
		cmocka_unit_test_setup_teardown(test_redis_prefix_ttl, redis_setup, redis_teardown),
		cmocka_unit_test_setup_teardown(test_redis_bad_data, redis_setup, redis_teardown),
		cmocka_unit_test_setup_teardown(test_redis_update_concurrent, redis_setup, redis_teardown),
		cmocka_unit_test_setup_teardown(test_redis_delete_noscript, redis_setup, redis_teardown),
		cmocka_unit_test_setup_teardown(test_redis_script, redis_setup, redis_teardown),
		cmocka_unit_test_setup_teardown(test_redis_frozen_and_restart, redis_setup, redis_teardown),
		cmocka_unit_test_setup_teardown(test_redis_role_and_uris, redis_setup, redis_teardown),
		cmocka_unit_test_setup_teardown(test_redis_auth, redis_setup, redis_teardown),
		cmocka_unit_test_setup_teardown(test_redis_fallback, redis_setup, redis_teardown),
	};
	const struct CMUnitTest lmdb[] = {
		cmocka_unit_test(test_lmdb_map_growth),
		cmocka_unit_test(test_lmdb_map_ceiling),
		cmocka_unit_test(test_lmdb_damaged_set_aside),
		cmocka_unit_test(test_lmdb_two_envs),
		cmocka_unit_test(test_lmdb_new_boot),
		cmocka_unit_test(test_lmdb_migrate),
		cmocka_unit_test(test_lmdb_greylist_sync),
		cmocka_unit_test(test_lmdb_read_then_write),
		cmocka_unit_test(test_lmdb_read_no_file),
		cmocka_unit_test(test_lmdb_read_while_grown),
		cmocka_unit_test(test_lmdb_no_reader_left),
		cmocka_unit_test(test_lmdb_long_state_dir),
		cmocka_unit_test(test_unknown_member),
	};
	int failed = 0;
	size_t i;

	pid_t srv;
	char sock[128];

	/* The redis member's server for the conformance suite (each test: its own prefix). */
	strcpy(rsrv, "/tmp/rg-redis-XXXXXX");
	if (mkdtemp(rsrv) == NULL)
		return 1;
	strcpy(rdir, rsrv);
	snprintf(sock, sizeof sock, "%s/r.sock", rsrv);
	srv = redis_start(sock, NULL, NULL);
	for (i = 0; i < sizeof members / sizeof members[0]; i++) {
		M = &members[i];
		failed += _cmocka_run_group_tests(M->name, conformance, sizeof conformance / sizeof conformance[0],
						  setup, teardown);
	}
	redis_stop(&srv);
	snprintf(sock, sizeof sock, "rm -rf %s", rsrv);
	if (system(sock) != 0)
		failed++;
	failed += cmocka_run_group_tests_name("redis only", redis, NULL, NULL);
	M = &members[0];
	failed += cmocka_run_group_tests_name("lmdb only", lmdb, setup, teardown);
	return failed != 0;
}
