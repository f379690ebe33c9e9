/* test_store.c - the LMDB store: round trips, prefix walks, batched deletes, map growth,
 * a damaged file set aside, fork safety of the per-process handle, and the update op
 * (read-modify-write in one transaction: map growth, 50 processes losing no update). */
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

#include "store.h"

static char dir[64];

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

static void test_roundtrip(void **state)
{
	const struct store_handle *h;
	char err[RG_ERRLEN], val[STORE_VAL_MAX], key[32];
	size_t vlen, n = 0, deleted;
	int i;

	(void)state;
	h = store_process(dir, 4, err, sizeof err);
	assert_non_null(h);
	assert_int_equal(h->ops->get(h->s, "v:none@example.org", val, sizeof val, &vlen, err, sizeof err), RG_NOTFOUND);
	assert_int_equal(h->ops->put(h->s, "v:a@example.org", "1 pass", 6, err, sizeof err), RG_FOUND);
	assert_int_equal(h->ops->get(h->s, "v:a@example.org", val, sizeof val, &vlen, err, sizeof err), RG_FOUND);
	assert_int_equal(vlen, 6);
	assert_string_equal(val, "1 pass");
	/* A value larger than the caller's buffer is a miss, never a cut value. */
	assert_int_equal(h->ops->get(h->s, "v:a@example.org", val, 4, &vlen, err, sizeof err), RG_NOTFOUND);
	assert_int_equal(h->ops->del(h->s, "v:a@example.org", err, sizeof err), RG_FOUND);
	assert_int_equal(h->ops->del(h->s, "v:a@example.org", err, sizeof err), RG_NOTFOUND);
	/* 2500 records: deletes cross the 1000-per-transaction boundary. */
	for (i = 0; i < 2500; i++) {
		snprintf(key, sizeof key, "x:%05d", i);
		assert_int_equal(h->ops->put(h->s, key, "v", 1, err, sizeof err), RG_FOUND);
	}
	assert_int_equal(h->ops->put(h->s, "y:other", "v", 1, err, sizeof err), RG_FOUND);
	assert_int_equal(h->ops->iterate(h->s, "x:", count_cb, &n, err, sizeof err), RG_FOUND);
	assert_int_equal(n, 2500);
	assert_int_equal(h->ops->delete_if(h->s, "x:", even_pred, NULL, &deleted, err, sizeof err), RG_FOUND);
	assert_int_equal(deleted, 1250);
	n = 0;
	assert_int_equal(h->ops->iterate(h->s, "x:", count_cb, &n, err, sizeof err), RG_FOUND);
	assert_int_equal(n, 1250);
	assert_int_equal(h->ops->get(h->s, "y:other", val, sizeof val, &vlen, err, sizeof err), RG_FOUND);
	assert_int_equal(h->ops->get(h->s, "x:00001", val, sizeof val, &vlen, err, sizeof err), RG_FOUND);
	assert_int_equal(h->ops->get(h->s, "x:00002", val, sizeof val, &vlen, err, sizeof err), RG_NOTFOUND);
	/* Deleting every record (long runs, pages merging) across many transactions. */
	for (i = 0; i < 5000; i++) {
		snprintf(key, sizeof key, "z:%05d", i);
		assert_int_equal(h->ops->put(h->s, key, "value-value-value", 17, err, sizeof err), RG_FOUND);
	}
	assert_int_equal(h->ops->delete_if(h->s, "z:", all_pred, NULL, &deleted, err, sizeof err), RG_FOUND);
	assert_int_equal(deleted, 5000);
	n = 0;
	assert_int_equal(h->ops->iterate(h->s, "z:", count_cb, &n, err, sizeof err), RG_FOUND);
	assert_int_equal(n, 0);
	assert_int_equal(h->ops->get(h->s, "y:other", val, sizeof val, &vlen, err, sizeof err), RG_FOUND);
}

static void test_map_growth(void **state)
{
	const struct store_handle *h;
	char err[RG_ERRLEN], key[32], val[600], back[700];
	size_t vlen;
	int i;

	(void)state;
	store_process_close();
	h = store_process(dir, 1, err, sizeof err);   /* 1 MiB map */
	assert_non_null(h);
	memset(val, 'v', sizeof val);
	for (i = 0; i < 8000; i++) {                 /* ~5 MiB of values */
		snprintf(key, sizeof key, "g:%06d", i);
		if (h->ops->put(h->s, key, val, sizeof val, err, sizeof err) != RG_FOUND)
			fail_msg("put %d: %s", i, err);
	}
	assert_int_equal(h->ops->get(h->s, "g:000000", back, sizeof back, &vlen, err, sizeof err), RG_FOUND);
	assert_int_equal(vlen, 600);
}

static void test_damaged_set_aside(void **state)
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
	h = store_process(dir, 4, err, sizeof err);
	if (h == NULL)
		fail_msg("damaged file not recreated: %s", err);
	assert_int_equal(h->ops->put(h->s, "k", "v", 1, err, sizeof err), RG_FOUND);
	assert_int_equal(h->ops->get(h->s, "k", val, sizeof val, &vlen, err, sizeof err), RG_FOUND);
	d = opendir(dir);
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "rcptguard.mdb.damaged-", 22) == 0)
			aside++;
	closedir(d);
	assert_int_equal(aside, 1);
}

static void test_fork(void **state)
{
	const struct store_handle *h, *h2;
	char err[RG_ERRLEN], val[16];
	size_t vlen;
	pid_t pid;
	int status;

	(void)state;
	h = store_process(dir, 4, err, sizeof err);
	assert_non_null(h);
	assert_int_equal(h->ops->put(h->s, "f:parent", "p", 1, err, sizeof err), RG_FOUND);
	pid = fork();
	if (pid == 0) {
		/* The child must get its own environment, never the inherited one. */
		h2 = store_process(dir, 4, err, sizeof err);
		if (h2 == NULL || h2->ops->get(h2->s, "f:parent", val, sizeof val, &vlen, err, sizeof err) != RG_FOUND ||
		    h2->ops->put(h2->s, "f:child", "c", 1, err, sizeof err) != RG_FOUND)
			_exit(1);
		store_process_close();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(h->ops->get(h->s, "f:child", val, sizeof val, &vlen, err, sizeof err), RG_FOUND);
}

/* update callback: add 1 to a decimal counter (absent = 0). */
static int incr_fn(const char *old, size_t oldlen, char *out, size_t outsize, size_t *outlen, void *arg)
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
	return STORE_UPDATE_PUT;
}

static int keep_fn(const char *old, size_t oldlen, char *out, size_t outsize, size_t *outlen, void *arg)
{
	(void)old; (void)oldlen; (void)out; (void)outsize; (void)outlen;
	(*(int *)arg)++;
	return STORE_UPDATE_KEEP;
}

static int del_fn(const char *old, size_t oldlen, char *out, size_t outsize, size_t *outlen, void *arg)
{
	(void)old; (void)oldlen; (void)out; (void)outsize; (void)outlen; (void)arg;
	return STORE_UPDATE_DEL;
}

static int abandon_fn(const char *old, size_t oldlen, char *out, size_t outsize, size_t *outlen, void *arg)
{
	(void)old; (void)oldlen; (void)outsize; (void)arg;
	out[0] = 'x';
	*outlen = 1;
	return -1;
}

/* A big value, so that the map fills. */
static int big_fn(const char *old, size_t oldlen, char *out, size_t outsize, size_t *outlen, void *arg)
{
	(void)old; (void)oldlen; (void)arg;
	memset(out, 'b', 900 < outsize ? 900 : outsize);
	*outlen = 900;
	return STORE_UPDATE_PUT;
}

static void test_update(void **state)
{
	const struct store_handle *h;
	char err[RG_ERRLEN], val[64];
	size_t vlen;
	int calls = 0;

	(void)state;
	h = store_process(dir, 4, err, sizeof err);
	assert_non_null(h);
	/* Absent: the callback sees NULL and creates the record. */
	assert_int_equal(h->ops->update(h->s, "u:n", incr_fn, NULL, err, sizeof err), RG_FOUND);
	assert_int_equal(h->ops->update(h->s, "u:n", incr_fn, NULL, err, sizeof err), RG_FOUND);
	assert_int_equal(h->ops->get(h->s, "u:n", val, sizeof val, &vlen, err, sizeof err), RG_FOUND);
	assert_string_equal(val, "2");
	/* KEEP writes nothing; DEL deletes; DEL of an absent record is no error. */
	assert_int_equal(h->ops->update(h->s, "u:n", keep_fn, &calls, err, sizeof err), RG_FOUND);
	assert_int_equal(calls, 1);
	assert_int_equal(h->ops->get(h->s, "u:n", val, sizeof val, &vlen, err, sizeof err), RG_FOUND);
	assert_string_equal(val, "2");
	assert_int_equal(h->ops->update(h->s, "u:n", del_fn, NULL, err, sizeof err), RG_FOUND);
	assert_int_equal(h->ops->get(h->s, "u:n", val, sizeof val, &vlen, err, sizeof err), RG_NOTFOUND);
	assert_int_equal(h->ops->update(h->s, "u:n", del_fn, NULL, err, sizeof err), RG_FOUND);
	/* An abandoned update writes nothing and says so. */
	assert_int_equal(h->ops->update(h->s, "u:a", abandon_fn, NULL, err, sizeof err), RG_CONFIG);
	assert_int_equal(h->ops->get(h->s, "u:a", val, sizeof val, &vlen, err, sizeof err), RG_NOTFOUND);
	/* An empty key is refused. */
	assert_int_equal(h->ops->update(h->s, "", incr_fn, NULL, err, sizeof err), RG_CONFIG);
}

static void test_update_map_growth(void **state)
{
	const struct store_handle *h;
	char err[RG_ERRLEN], key[32], val[1000];
	size_t vlen;
	int i;

	(void)state;
	store_process_close();
	h = store_process(dir, 1, err, sizeof err);   /* 1 MiB map */
	assert_non_null(h);
	for (i = 0; i < 6000; i++) {                 /* ~5 MiB of values */
		snprintf(key, sizeof key, "ug:%06d", i);
		if (h->ops->update(h->s, key, big_fn, NULL, err, sizeof err) != RG_FOUND)
			fail_msg("update %d: %s", i, err);
	}
	assert_int_equal(h->ops->get(h->s, "ug:000000", val, sizeof val, &vlen, err, sizeof err), RG_FOUND);
	assert_int_equal(vlen, 900);
}

/* 50 processes add 1 to the same counter 40 times each, and to counters of their own:
 * no update may be lost. */
static void test_update_concurrent(void **state)
{
	const struct store_handle *h;
	char err[RG_ERRLEN], val[64], key[32];
	pid_t pids[50];
	size_t vlen;
	int i, status;

	(void)state;
	store_process_close();
	h = store_process(dir, 4, err, sizeof err);
	assert_non_null(h);
	for (i = 0; i < 50; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			const struct store_handle *c = store_process(dir, 4, err, sizeof err);
			char k[32];

			snprintf(k, sizeof k, "uc:own%02d", i);
			for (int j = 0; j < 40; j++)
				if (c == NULL || c->ops->update(c->s, "uc:shared", incr_fn, NULL, err, sizeof err) != RG_FOUND ||
				    c->ops->update(c->s, k, incr_fn, NULL, err, sizeof err) != RG_FOUND) {
					fprintf(stderr, "child %d: %s\n", i, c ? err : "no store");
					_exit(1);
				}
			_exit(0);
		}
	}
	for (i = 0; i < 50; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(h->ops->get(h->s, "uc:shared", val, sizeof val, &vlen, err, sizeof err), RG_FOUND);
	assert_string_equal(val, "2000");
	for (i = 0; i < 50; i++) {
		snprintf(key, sizeof key, "uc:own%02d", i);
		assert_int_equal(h->ops->get(h->s, key, val, sizeof val, &vlen, err, sizeof err), RG_FOUND);
		assert_string_equal(val, "40");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_map_growth),
		cmocka_unit_test(test_damaged_set_aside),
		cmocka_unit_test(test_fork),
		cmocka_unit_test(test_update),
		cmocka_unit_test(test_update_map_growth),
		cmocka_unit_test(test_update_concurrent),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
