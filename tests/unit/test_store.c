/* test_store.c - the store conformance suite: every member of the store family passes
 * the same tests (round trips, prefix walks that may call the store, batched deletes,
 * oversized values, update, fork safety of the per-process handle, 50 processes losing
 * no update, info), run once per member with that member's settings; then what is
 * particular to LMDB (map growth and its ceiling, a damaged file set aside, check). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
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
	s->store_map_size = mib;
}

static const struct member members[] = {
	{ "lmdb", lmdb_settings },
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
	S.store_map_max = 2;
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

int main(void)
{
	const struct CMUnitTest conformance[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_iterate),
		cmocka_unit_test(test_fork),
		cmocka_unit_test(test_update),
		cmocka_unit_test(test_update_concurrent),
		cmocka_unit_test(test_info),
	};
	const struct CMUnitTest lmdb[] = {
		cmocka_unit_test(test_lmdb_map_growth),
		cmocka_unit_test(test_lmdb_map_ceiling),
		cmocka_unit_test(test_lmdb_damaged_set_aside),
		cmocka_unit_test(test_unknown_member),
	};
	int failed = 0;
	size_t i;

	for (i = 0; i < sizeof members / sizeof members[0]; i++) {
		M = &members[i];
		failed += _cmocka_run_group_tests(M->name, conformance, sizeof conformance / sizeof conformance[0],
						  setup, teardown);
	}
	M = &members[0];
	failed += cmocka_run_group_tests_name("lmdb only", lmdb, setup, teardown);
	return failed != 0;
}
