/* test_engine.c - the per-process cache of loaded configs: a call that fails after it
 * evicted the last successful call's config leaves no pointer to freed memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine.h"

/* Write a one-line config numbered i; its path goes to path. */
static void write_conf(char *path, size_t size, int i)
{
	FILE *f;

	snprintf(path, size, "/tmp/test_engine.%d.%d.conf", (int)getpid(), i);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "state_dir = /tmp/test_engine.%d\n", i);
	fclose(f);
}

/* Four configs fill the cache; the fifth evicts the fourth, then its options fail. */
static void test_evicted_current(void **state)
{
	char path[5][128], opts[1024], err[RG_ERRLEN];
	const struct settings *s;
	const struct config *c4;
	int i;

	(void)state;
	for (i = 0; i < 5; i++)
		write_conf(path[i], sizeof path[i], i);
	for (i = 0; i < 4; i++) {
		snprintf(opts, sizeof opts, "config=%s", path[i]);
		assert_int_equal(engine_settings(opts, "example.org", &s, err, sizeof err), RG_FOUND);
	}
	c4 = engine_current_config();
	assert_non_null(c4);
	snprintf(opts, sizeof opts, "config=%s no_such_key=1", path[4]);
	assert_int_equal(engine_settings(opts, "example.org", &s, err, sizeof err), RG_CONFIG);
	assert_non_null(strstr(err, "no_such_key"));
	/* c4 was freed by the eviction: engine_current must not still name it. */
	assert_true(engine_current_config() != c4);
	if (engine_current_config() != NULL)
		config_for_domain(engine_current_config(), "example.org", &(struct settings){ 0 });
	snprintf(opts, sizeof opts, "config=%s", path[0]);
	assert_int_equal(engine_settings(opts, "example.org", &s, err, sizeof err), RG_FOUND);
	assert_non_null(engine_current_config());
	for (i = 0; i < 5; i++)
		unlink(path[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_evicted_current),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
