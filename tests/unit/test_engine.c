/* test_engine.c - the per-process cache of loaded configs: a call that fails after it
 * evicted the last successful call's config leaves no pointer to freed memory; domains
 * without a section share the prepared global settings (by pointer), domains with one
 * get their own, options apply to both, and an edited file is read again. */
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

/* Write text to a config file numbered i; its path goes to path. */
static void write_text(char *path, size_t size, int i, const char *text)
{
	char tmp[160];
	FILE *f;

	snprintf(path, size, "/tmp/test_engine.%d.%d.conf", (int)getpid(), i);
	snprintf(tmp, sizeof tmp, "%s.new", path);
	f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(rename(tmp, path), 0);
}

/* Sections, the shared global settings, options, and a reload after an edit. */
static void test_sections_and_base(void **state)
{
	char path[128], opts[256], err[RG_ERRLEN];
	const struct settings *s, *g1, *g2;

	(void)state;
	write_text(path, sizeof path, 10, "state_dir = /tmp/x\nport = 2525\n"
		   "[domain sec.example]\nport = 26\n[domain *.wild.example]\nport = 27\n");
	snprintf(opts, sizeof opts, " config=%s positive_ttl=1h ", path);
	assert_int_equal(engine_preload(opts, err, sizeof err), RG_FOUND);
	assert_int_equal(engine_settings(opts, "plain.example", &g1, err, sizeof err), RG_FOUND);
	assert_int_equal(g1->callout.port, 2525);
	assert_int_equal(g1->positive_ttl, 3600);
	assert_int_equal(engine_settings(opts, "other.example", &g2, err, sizeof err), RG_FOUND);
	assert_ptr_equal(g1, g2);                  /* shared, not copied */
	assert_int_equal(engine_settings(opts, "", &g2, err, sizeof err), RG_FOUND);
	assert_ptr_equal(g1, g2);
	assert_int_equal(engine_settings(opts, "SEC.example", &s, err, sizeof err), RG_FOUND);
	assert_ptr_not_equal(s, g1);
	assert_int_equal(s->callout.port, 26);
	assert_int_equal(s->positive_ttl, 3600);   /* options apply to sections too */
	assert_int_equal(engine_settings(opts, "a.wild.example", &s, err, sizeof err), RG_FOUND);
	assert_int_equal(s->callout.port, 27);
	assert_int_equal(engine_settings(opts, "plain.example", &s, err, sizeof err), RG_FOUND);
	assert_int_equal(s->callout.port, 2525);
	/* Other options: their own settings, the section-less domain included. */
	snprintf(opts, sizeof opts, "config=%s port=99", path);
	assert_int_equal(engine_settings(opts, "plain.example", &s, err, sizeof err), RG_FOUND);
	assert_int_equal(s->callout.port, 99);
	assert_int_equal(s->positive_ttl, 7 * 86400);
	/* An edit (a new size: config_changed() looks at size and mtime) is read again. */
	write_text(path, sizeof path, 10, "state_dir = /tmp/x\nport = 2626\n\n");
	assert_int_equal(engine_preload(opts, err, sizeof err), RG_FOUND);
	assert_int_equal(engine_settings(opts, "sec.example", &s, err, sizeof err), RG_FOUND);
	assert_int_equal(s->callout.port, 99);
	snprintf(opts, sizeof opts, "config=%s", path);
	assert_int_equal(engine_settings(opts, "sec.example", &s, err, sizeof err), RG_FOUND);
	assert_int_equal(s->callout.port, 2626);           /* the section is gone */
	/* Bad options: an error naming them, also on the shared path. */
	snprintf(opts, sizeof opts, "config=%s port=0", path);
	assert_int_equal(engine_settings(opts, "plain.example", &s, err, sizeof err), RG_CONFIG);
	assert_non_null(strstr(err, "port"));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_evicted_current),
		cmocka_unit_test(test_sections_and_base),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
