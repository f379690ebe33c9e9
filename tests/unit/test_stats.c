/* test_stats.c - the shared counters file: counts land in the file, a forked child's counts
 * too (the mapping is shared), unknown labels count as "other", a short or damaged file is
 * replaced (never trusted, never a crash), readers see a missing file as zeros; the preload's
 * mapping follows a removed or damaged file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "stats.h"

struct find {
	const char *metric, *labels;
	uint64_t value;
	int seen, total;
};

/* stats_read callback: remember the value of one counter. */
static void find_one(const struct stats_entry *e, void *arg)
{
	struct find *f = arg;

	f->total++;
	if (strcmp(e->metric, f->metric) == 0 && strcmp(e->labels, f->labels) == 0) {
		f->value = e->value;
		f->seen = 1;
	}
}

/* The value of metric{labels} in dir; -1 when unreadable. */
static long long value_of(const char *dir, const char *metric, const char *labels)
{
	struct find f = { metric, labels, 0, 0, 0 };
	char err[256];
	int rc = stats_read(dir, find_one, &f, err, sizeof err);

	if (rc != RG_FOUND && rc != RG_NOTFOUND)
		return -1;
	assert_true(f.seen);
	return (long long)f.value;
}

static char *mkdir_tmp(void)
{
	static char dir[64];

	strcpy(dir, "/tmp/test_stats.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return dir;
}

static void cleanup(const char *dir)
{
	char cmd[128];

	stats_reset();
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_stats_counts(void **state)
{
	const char *dir = mkdir_tmp();
	int i;

	(void)state;
	assert_int_equal(value_of(dir, "rcptguard_verdicts_total", "source=\"callout\",result=\"pass\""), 0);
	for (i = 0; i < 3; i++)
		stats_yield(dir, STATS_VERDICT, "result=pass source=callout detail=\"250 ok\"");
	stats_yield(dir, STATS_VERDICT, "result=defer reason=tempfail message=\"x\"");
	stats_yield(dir, STATS_GREYLIST, "result=defer reason=new wait=300");
	stats_yield(dir, STATS_FCRDNS, "result=fail reason=noptr");
	stats_callout(dir, "rcpt", 550);
	stats_callout(dir, "probe", 0);
	stats_count(dir, STATS_STORE_ERROR, "weird-op", NULL);
	stats_count(dir, STATS_STORE_FALLBACK, NULL, NULL);
	assert_int_equal(value_of(dir, "rcptguard_verdicts_total", "source=\"callout\",result=\"pass\""), 3);
	assert_int_equal(value_of(dir, "rcptguard_verdicts_total", "source=\"none\",result=\"defer\""), 1);
	assert_int_equal(value_of(dir, "rcptguard_defers_total", "check=\"recipient\",reason=\"tempfail\""), 1);
	assert_int_equal(value_of(dir, "rcptguard_greylist_decisions_total", "result=\"defer\",reason=\"new\""), 1);
	assert_int_equal(value_of(dir, "rcptguard_fcrdns_total", "result=\"fail\",reason=\"noptr\""), 1);
	assert_int_equal(value_of(dir, "rcptguard_callouts_total", "kind=\"rcpt\",outcome=\"reject\""), 1);
	assert_int_equal(value_of(dir, "rcptguard_callouts_total", "kind=\"probe\",outcome=\"error\""), 1);
	assert_int_equal(value_of(dir, "rcptguard_store_errors_total", "op=\"other\""), 1);
	assert_int_equal(value_of(dir, "rcptguard_store_fallbacks_total", ""), 1);
	cleanup(dir);
}

static void test_stats_fork(void **state)
{
	const char *dir = mkdir_tmp();
	pid_t pid;
	int i, st;

	(void)state;
	stats_callout(dir, "rcpt", 250);          /* mapped before the fork, as in Exim's daemon */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		for (i = 0; i < 1000; i++)
			stats_callout(dir, "rcpt", 250);
		_exit(0);
	}
	for (i = 0; i < 1000; i++)
		stats_callout(dir, "rcpt", 250);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(value_of(dir, "rcptguard_callouts_total", "kind=\"rcpt\",outcome=\"accept\""), 2001);
	cleanup(dir);
}

static void test_stats_damaged(void **state)
{
	const char *dir = mkdir_tmp();
	struct find f = { "rcptguard_verdicts_total", "source=\"cache\",result=\"fail\"", 0, 0, 0 };
	char path[128], err[256];
	FILE *fp;

	(void)state;
	snprintf(path, sizeof path, "%s/stats", dir);
	/* Short file: readers refuse it; the next count replaces it. */
	fp = fopen(path, "w");
	fputs("garbage", fp);
	fclose(fp);
	assert_int_equal(stats_read(dir, find_one, &f, err, sizeof err), RG_TEMPFAIL);
	assert_non_null(strstr(err, "damaged"));
	stats_yield(dir, STATS_VERDICT, "result=fail source=cache");
	assert_int_equal(value_of(dir, "rcptguard_verdicts_total", "source=\"cache\",result=\"fail\""), 1);
	/* Right size, wrong magic (another program's file): replaced too, on the next mapping. */
	stats_reset();
	fp = fopen(path, "r+");
	fputs("XXXXXXXX", fp);
	fclose(fp);
	assert_int_equal(stats_read(dir, find_one, &f, err, sizeof err), RG_TEMPFAIL);
	stats_yield(dir, STATS_VERDICT, "result=fail source=cache");
	assert_int_equal(value_of(dir, "rcptguard_verdicts_total", "source=\"cache\",result=\"fail\""), 1);
	/* A directory where the file should be: no crash, counts are dropped. */
	stats_reset();
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	stats_yield(dir, STATS_VERDICT, "result=fail source=cache");
	assert_int_equal(stats_read(dir, find_one, &f, err, sizeof err), RG_TEMPFAIL);
	cleanup(dir);
}

/* The preload maps the file in the forking process; a child counts into that mapping; the
 * next preload notices a removed or damaged file and maps a fresh one (counts then land in
 * the file that readers see, not in a removed one). */
static void test_stats_preload(void **state)
{
	const char *dir = mkdir_tmp();
	char path[128];
	struct stat a, b;
	pid_t pid;
	int st;
	FILE *fp;

	(void)state;
	snprintf(path, sizeof path, "%s/stats", dir);
	stats_preload(dir);
	assert_int_equal(stat(path, &a), 0);      /* made by the preload, before any count */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		stats_callout(dir, "rcpt", 250);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(value_of(dir, "rcptguard_callouts_total", "kind=\"rcpt\",outcome=\"accept\""), 1);
	/* Unchanged: the same mapping is kept. */
	stats_preload(dir);
	stats_callout(dir, "rcpt", 250);
	assert_int_equal(value_of(dir, "rcptguard_callouts_total", "kind=\"rcpt\",outcome=\"accept\""), 2);
	/* Removed by the operator (counts start afresh): the next preload maps a new file. */
	assert_int_equal(unlink(path), 0);
	stats_preload(dir);
	assert_int_equal(stat(path, &b), 0);
	stats_callout(dir, "rcpt", 250);
	assert_int_equal(value_of(dir, "rcptguard_callouts_total", "kind=\"rcpt\",outcome=\"accept\""), 1);
	/* Damaged in place (same file, wrong magic): replaced at the next preload. */
	fp = fopen(path, "r+");
	assert_non_null(fp);
	fputs("XXXXXXXX", fp);
	fclose(fp);
	stats_preload(dir);
	stats_callout(dir, "rcpt", 250);
	assert_int_equal(value_of(dir, "rcptguard_callouts_total", "kind=\"rcpt\",outcome=\"accept\""), 1);
	cleanup(dir);
}

static void test_stats_labels_json(void **state)
{
	struct stats_entry e = { "m", "h", "source=\"cache\",result=\"pass\"", 1 };
	char buf[128];

	(void)state;
	stats_labels_json(&e, buf, sizeof buf);
	assert_string_equal(buf, "{\"source\":\"cache\",\"result\":\"pass\"}");
	e.labels[0] = '\0';
	stats_labels_json(&e, buf, sizeof buf);
	assert_string_equal(buf, "{}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stats_counts),
		cmocka_unit_test(test_stats_fork),
		cmocka_unit_test(test_stats_damaged),
		cmocka_unit_test(test_stats_preload),
		cmocka_unit_test(test_stats_labels_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
