/* test_store_copy.c - records' end of life by their owners (what a copy, or a member with
 * native expiry, carries) and store-to-store copy between two LMDB files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "config.h"
#include "store_copy.h"
#include "verdict.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/rg-copy-XXXXXX");
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

/* The expiry of key=val, or -1. */
static int64_t life(const char *key, const char *val, unsigned stale)
{
	int64_t e = 0;

	if (store_copy_expiry(key, strlen(key), val, strlen(val), stale, &e) < 0)
		return -1;
	return e;
}

static void test_expiry(void **state)
{
	(void)state;
	/* A positive verdict lives stale_ttl after it was made; a negative one until it expires. */
	assert_int_equal(life("v:a@example.org", "1 pass callout 1000 2000 ok", 5000), 6000);
	assert_int_equal(life("v:a@example.org", "1 pass callout 1000 2000 ok", 10), 2000);
	assert_int_equal(life("v:a@example.org", "1 fail callout 1000 2000 no", 5000), 2000);
	assert_int_equal(life("c:example.org", "2 yes catchall 1000 3000 accepted 250 ok", 5000), 3000);
	/* A version 1 catch-all record (before the known address) has no life: a miss. */
	assert_int_equal(life("c:example.org", "1 yes catchall 1000 3000 250 ok", 5000), -1);
	assert_int_equal(life("g:192.0.2.0/24 a@b.example u@example.org", "1 wait 1000 1000 4000 1", 0), 4000);
	assert_int_equal(life("a:192.0.2.0/24", "1 auto 3 1000 1500 9000", 0), 9000);
	assert_int_equal(life("f:192.0.2.1", "1 confirmed 1000 7000 mx.example", 0), 7000);
	/* Junk, a value of another owner's format, a key nobody owns: no life. */
	assert_int_equal(life("v:a@example.org", "garbage", 0), -1);
	assert_int_equal(life("g:192.0.2.0/24 a@b.example u@example.org", "1 pass callout 1 2 x", 0), -1);
	assert_int_equal(life("z:other", "1 pass callout 1000 2000 ok", 0), -1);
	assert_int_equal(life("v", "1 pass callout 1000 2000 ok", 0), -1);
}

static void test_copy(void **state)
{
	struct settings a, b;
	struct store_handle to;
	struct store_copy_counts c;
	const struct store_handle *from;
	char err[RG_ERRLEN], val[STORE_VAL_MAX], sub[96];
	size_t vlen;

	(void)state;
	config_defaults(&a);
	snprintf(a.state_dir, sizeof a.state_dir, "%s", dir);
	from = store_process(&a, err, sizeof err);
	assert_non_null(from);
	assert_int_equal(store_put(from, "v:live@example.org", "1 pass callout 1000 2000 ok", 27, 0, 0, err, sizeof err), RG_FOUND);
	assert_int_equal(store_put(from, "v:dead@example.org", "1 fail callout 1000 2000 no", 27, 0, 0, err, sizeof err), RG_FOUND);
	assert_int_equal(store_put(from, "f:192.0.2.1", "junk", 4, 0, 0, err, sizeof err), RG_FOUND);
	b = a;
	snprintf(sub, sizeof sub, "%s/b", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(b.state_dir, sizeof b.state_dir, "%s", sub);
	assert_int_equal(store_copy_open("lmdb", &b, &to, err, sizeof err), RG_FOUND);
	/* At 3000 with stale_ttl 5000: the pass lives until 6000, the fail died at 2000. */
	assert_int_equal(store_copy(from, &to, 3000, 5000, &c, err, sizeof err), RG_FOUND);
	assert_int_equal(c.copied, 1);
	assert_int_equal(c.expired, 1);
	assert_int_equal(c.unreadable, 1);
	assert_int_equal(store_get(&to, "v:live@example.org", val, sizeof val, &vlen, 0, err, sizeof err), RG_FOUND);
	assert_string_equal(val, "1 pass callout 1000 2000 ok");
	assert_int_equal(store_get(&to, "v:dead@example.org", val, sizeof val, &vlen, 0, err, sizeof err), RG_NOTFOUND);
	store_copy_close(&to);
	assert_int_equal(store_copy_open("nosuch", &b, &to, err, sizeof err), RG_CONFIG);
	store_copy_close(&to);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_copy),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
