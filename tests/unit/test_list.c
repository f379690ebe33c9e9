/* test_list.c - static recipient lists: parsing and validation (file:line), the readiness
 * rule (renamed into place at once, written in place after list_settle), refused and
 * truncated versions never replacing the one in force, the shrink guard and list_accept,
 * one judgement (and one log line) per version, the source through the verify chain (the
 * RCPT leaves the compile to a detached child; the list voids its own cached verdicts),
 * a child never reusing its parent's slot, list_upload(). */
#include <cdb.h>
#include <fcntl.h>
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine.h"
#include "list.h"
#include "rglog.h"
#include "verify.h"

static char dir[64], conf[128], lfile[128], other[128];
static int64_t clock_now;
static int errors;                      /* RGLOG_ERROR lines seen */
static char last_error[1024];
static struct config *cfg;
static struct settings set;

static int64_t test_clock(void)
{
	return clock_now;
}

static void test_log(int level, const char *line)
{
	if (level == RGLOG_ERROR) {
		errors++;
		snprintf(last_error, sizeof last_error, "%s", line);
	}
}

/* The driven clock catches up with path's mtime, rounded up to a whole second, so that
 * "+ N s" means at least N s after it. Why rounded up: a file made at 13.001 s after the
 * clock read 12 would otherwise be 0.001 s short of N s at "+ N s" (a flaky test). */
static void catch_up(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	if (clock_now < (int64_t)st.st_mtim.tv_sec + (st.st_mtim.tv_nsec > 0))
		clock_now = st.st_mtim.tv_sec + (st.st_mtim.tv_nsec > 0);
}

/* Write text to path in place (open, write, close: ctime == mtime); the clock catches up. */
static void write_in_place(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	catch_up(path);
}

/* Write text to a temp file, then rename it over path (as "scp f.tmp; mv f.tmp f" does). */
static void write_renamed(const char *path, const char *text)
{
	char tmp[160];
	struct timespec ts = { 0, 20 * 1000000 };

	snprintf(tmp, sizeof tmp, "%s.upload", path);
	write_in_place(tmp, text);
	/* A real upload-then-rename takes longer than a timestamp tick (4 ms on HZ=250). */
	nanosleep(&ts, NULL);
	assert_int_equal(rename(tmp, path), 0);
}

/* Load the config naming lfile for example.org and *.sub.test, olist for other.test. */
static void load_config2(const char *extra, const char *olist)
{
	char err[RG_ERRLEN];
	FILE *f = fopen(conf, "w");

	assert_non_null(f);
	fprintf(f, "state_dir = %s/state\nsources = list\nlist_settle = 10s\n%s\n"
		"[domain example.org]\nlist = %s\n[domain *.sub.test]\nlist = %s\n"
		"[domain other.test]\nlist = %s\n", dir, extra, lfile, lfile, olist);
	fclose(f);
	config_free(cfg);
	assert_int_equal(config_load(conf, &cfg, err, sizeof err), RG_FOUND);
	config_for_domain(cfg, "example.org", &set);
}

/* The usual config: other.test has its own list. */
static void load_config(const char *extra)
{
	load_config2(extra, other);
}

static int setup(void **state)
{
	char cmd[160];

	(void)state;
	snprintf(dir, sizeof dir, "/tmp/rg-test-list.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof cmd, "%s/state", dir);
	assert_int_equal(mkdir(cmd, 0750), 0);
	snprintf(conf, sizeof conf, "%s/rcptguard.conf", dir);
	snprintf(lfile, sizeof lfile, "%s/example.org.list", dir);
	snprintf(other, sizeof other, "%s/other.list", dir);
	clock_now = (int64_t)time(NULL);
	util_set_clock(test_clock);
	rglog_set_hook(test_log, 0);
	errors = 0;
	load_config("");
	return 0;
}

static int teardown(void **state)
{
	char cmd[160];

	(void)state;
	list_reset();
	verify_shutdown();
	config_free(cfg);
	cfg = NULL;
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* Look key up as example.org would. */
static int lookup(const char *key, char *err)
{
	struct list_ctx x = { cfg, &set, "example.org", 0 };

	return list_lookup(&x, key, err, RG_ERRLEN);
}

static void test_ready_rule(void **state)
{
	struct list_version v = { .mtime_ns = 1000 * 1000000000LL, .ctime_ns = 1000 * 1000000000LL };

	(void)state;
	assert_false(list_ready(&v, 1005, 10));      /* written 5 s ago, in place */
	assert_false(list_ready(&v, 1009, 10));
	assert_true(list_ready(&v, 1010, 10));       /* unchanged for list_settle */
	v.ctime_ns += 1;                             /* renamed (or touched) after the last write */
	assert_true(list_ready(&v, 1000, 10));
	v.ctime_ns = v.mtime_ns - 5;                 /* times set to the future (scp -p from a fast clock) */
	assert_true(list_ready(&v, 1000, 10));
}

static void test_parse_and_lookup(void **state)
{
	char err[RG_ERRLEN] = "";

	(void)state;
	write_renamed(lfile, "# mailboxes of example.org\n\n  Alice@Example.ORG  \r\nbob@example.org\n"
		      "bob@example.org\n<carol@example.org>\nx@a.sub.test\n");
	assert_int_equal(lookup("alice@example.org", err), RG_FOUND);
	assert_int_equal(lookup("bob@example.org", err), RG_FOUND);
	assert_int_equal(lookup("carol@example.org", err), RG_FOUND);
	assert_int_equal(lookup("x@a.sub.test", err), RG_FOUND);
	assert_int_equal(lookup("nobody@example.org", err), RG_NOTFOUND);
	assert_int_equal(lookup("# mailboxes of example.org", err), RG_NOTFOUND);
	assert_int_equal(errors, 0);
	{
		struct list_ctx x = { cfg, &set, "example.org", 0 };
		struct list_status ls;

		assert_int_equal(list_status(&x, &ls, err, sizeof err), RG_FOUND);
		assert_true(ls.in_force);
		assert_int_equal(ls.meta.entries, 4);   /* bob once */
		assert_int_equal(ls.src_state, LIST_SRC_IN_FORCE);
		assert_string_equal(ls.meta.path, lfile);
	}
}

static void test_no_list_is_config(void **state)
{
	struct settings s2;
	struct list_ctx x = { cfg, &s2, "unlisted.test", 0 };
	char err[RG_ERRLEN];

	(void)state;
	config_for_domain(cfg, "unlisted.test", &s2);
	assert_int_equal(list_lookup(&x, "a@unlisted.test", err, sizeof err), RG_CONFIG);
}

static void test_malformed_refused(void **state)
{
	char err[RG_ERRLEN] = "", want[200];

	(void)state;
	write_renamed(lfile, "alice@example.org\nbob@example.org\nbad line@example.org\n");
	assert_int_equal(lookup("alice@example.org", err), RG_TEMPFAIL);   /* nothing in force */
	snprintf(want, sizeof want, "%s:3: ", lfile);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "refused"));
	assert_int_equal(errors, 1);
	assert_non_null(strstr(last_error, want));
	/* Asked again, and by a fresh process: judged once, logged once. */
	assert_int_equal(lookup("alice@example.org", err), RG_TEMPFAIL);
	list_reset();
	assert_int_equal(lookup("bob@example.org", err), RG_TEMPFAIL);
	assert_int_equal(errors, 1);
}

static void test_other_domain_refused(void **state)
{
	char err[RG_ERRLEN] = "", want[200];
	struct list_ctx x = { cfg, &set, "example.org", 0 };
	struct list_status ls;

	(void)state;
	write_renamed(lfile, "alice@example.org\n");
	assert_int_equal(lookup("alice@example.org", err), RG_FOUND);
	write_renamed(lfile, "alice@example.org\nbob@example.org\nmallory@other.test\n");
	assert_int_equal(lookup("bob@example.org", err), RG_NOTFOUND);      /* old version answers */
	assert_int_equal(lookup("alice@example.org", err), RG_FOUND);
	assert_int_equal(list_status(&x, &ls, err, sizeof err), RG_FOUND);
	assert_int_equal(ls.src_state, LIST_SRC_REFUSED);
	snprintf(want, sizeof want, "%s:3: domain other.test is not configured", lfile);
	assert_non_null(strstr(ls.state.reason, want));
	assert_int_equal(errors, 1);
	/* The operator gives other.test this file too: the same version is judged again. */
	load_config2("", lfile);
	assert_int_equal(lookup("bob@example.org", err), RG_FOUND);
	assert_int_equal(lookup("mallory@other.test", err), RG_FOUND);
	assert_int_equal(errors, 1);
}

static void test_in_place_settles(void **state)
{
	char err[RG_ERRLEN] = "";
	struct list_ctx x = { cfg, &set, "example.org", 0 };
	struct list_status ls;

	(void)state;
	write_renamed(lfile, "alice@example.org\nbob@example.org\n");
	assert_int_equal(lookup("alice@example.org", err), RG_FOUND);
	/* An scp writing in place, stopped half-way through a line. */
	write_in_place(lfile, "alice@example.org\nbob@example.org\ncarol@exa");
	assert_int_equal(lookup("carol@exa", err), RG_NOTFOUND);
	assert_int_equal(lookup("bob@example.org", err), RG_FOUND);
	assert_int_equal(list_status(&x, &ls, err, sizeof err), RG_FOUND);
	assert_int_equal(ls.src_state, LIST_SRC_SETTLING);
	assert_true(ls.ready_at > clock_now);
	assert_int_equal(errors, 0);             /* not judged while settling */
	/* It finishes the line; still settling until list_settle passes. */
	write_in_place(lfile, "alice@example.org\nbob@example.org\ncarol@example.org\n");
	clock_now += 9;
	assert_int_equal(lookup("carol@example.org", err), RG_NOTFOUND);
	clock_now += 2;
	assert_int_equal(lookup("carol@example.org", err), RG_FOUND);
	assert_int_equal(errors, 0);
}

static void test_truncated_refused(void **state)
{
	char err[RG_ERRLEN] = "", want[200];

	(void)state;
	write_renamed(lfile, "alice@example.org\nbob@example.org\ncarol@example.org\n");
	assert_int_equal(lookup("carol@example.org", err), RG_FOUND);
	/* An upload that died mid-line and settled: refused, the version in force stays. */
	write_in_place(lfile, "alice@example.org\nbob@example.org\ncarol@examp");
	clock_now += 11;
	assert_int_equal(lookup("carol@example.org", err), RG_FOUND);
	snprintf(want, sizeof want, "%s:3: domain examp is not configured", lfile);
	assert_non_null(strstr(last_error, want));
	/* Cut inside the local part. */
	write_in_place(lfile, "alice@example.org\nbob@example.org\ncar");
	clock_now += 11;
	assert_int_equal(lookup("bob@example.org", err), RG_FOUND);
	assert_non_null(strstr(last_error, ":3: not an address: no domain in address"));
	assert_int_equal(errors, 2);
	/* An empty file (the upload truncated it and died). */
	write_in_place(lfile, "");
	clock_now += 11;
	assert_int_equal(lookup("bob@example.org", err), RG_FOUND);
	assert_non_null(strstr(last_error, "no addresses"));
}

static void test_shrink_guard_and_accept(void **state)
{
	char err[RG_ERRLEN] = "", msg[RG_ERRLEN], big[2048] = "";
	struct list_ctx x = { cfg, &set, "example.org", 0 };
	struct list_status ls;
	int i;

	(void)state;
	for (i = 0; i < 10; i++)
		snprintf(big + strlen(big), sizeof big - strlen(big), "user%d@example.org\n", i);
	write_renamed(lfile, big);
	assert_int_equal(lookup("user9@example.org", err), RG_FOUND);
	assert_int_equal(list_accept(&x, msg, sizeof msg, err, sizeof err), RG_NOTFOUND);  /* nothing held */
	/* 5 of 10 dropped: exactly list_max_shrink (50%): allowed. */
	write_renamed(lfile, "user0@example.org\nuser1@example.org\nuser2@example.org\nuser3@example.org\n"
		      "user4@example.org\nnew@example.org\n");
	assert_int_equal(lookup("new@example.org", err), RG_FOUND);
	assert_int_equal(lookup("user9@example.org", err), RG_NOTFOUND);
	/* 4 of 6 dropped (67%): held. */
	write_renamed(lfile, "user0@example.org\nuser1@example.org\nother@example.org\n");
	assert_int_equal(lookup("other@example.org", err), RG_NOTFOUND);
	assert_int_equal(lookup("user4@example.org", err), RG_FOUND);
	assert_int_equal(list_status(&x, &ls, err, sizeof err), RG_FOUND);
	assert_int_equal(ls.src_state, LIST_SRC_HELD);
	assert_int_equal(ls.state.dropped, 4);
	assert_int_equal(ls.state.entries, 3);
	assert_non_null(strstr(ls.state.reason, "drops 4 of the 6 entries"));
	assert_int_equal(errors, 1);
	assert_non_null(strstr(last_error, "held"));
	/* A fresh process also answers from the version in force, without judging again. */
	list_reset();
	assert_int_equal(lookup("user4@example.org", err), RG_FOUND);
	assert_int_equal(errors, 1);
	assert_int_equal(list_accept(&x, msg, sizeof msg, err, sizeof err), RG_FOUND);
	assert_non_null(strstr(msg, "3 entries"));
	assert_int_equal(lookup("other@example.org", err), RG_FOUND);
	assert_int_equal(lookup("user4@example.org", err), RG_NOTFOUND);
	assert_int_equal(list_status(&x, &ls, err, sizeof err), RG_FOUND);
	assert_int_equal(ls.src_state, LIST_SRC_IN_FORCE);
	/* Guard off: any drop is taken. */
	load_config("list_max_shrink = 0");
	write_renamed(lfile, "solo@example.org\n");
	assert_int_equal(lookup("solo@example.org", err), RG_FOUND);
}

static void test_missing_file_keeps_version(void **state)
{
	char err[RG_ERRLEN] = "";

	(void)state;
	assert_int_equal(lookup("alice@example.org", err), RG_TEMPFAIL);   /* never existed */
	write_renamed(lfile, "alice@example.org\n");
	assert_int_equal(lookup("alice@example.org", err), RG_FOUND);
	assert_int_equal(unlink(lfile), 0);
	assert_int_equal(lookup("alice@example.org", err), RG_FOUND);
	list_reset();
	assert_int_equal(lookup("alice@example.org", err), RG_FOUND);
}

/* A child starts with a clean slot: what its parent's slot remembers (a mapping, a failed
 * compile) is never used after fork() (util_fork_generation). */
static void test_after_fork(void **state)
{
	char err[RG_ERRLEN] = "", path[160];
	pid_t pid;
	int st;

	(void)state;
	/* The parent fails to compile (state_dir/lists is a plain file) and remembers it:
	 * it does not try again for LIST_RETRY. */
	snprintf(path, sizeof path, "%s/state/lists", dir);
	write_in_place(path, "");
	write_renamed(lfile, "alice@example.org\nzed@example.org\n");
	assert_int_equal(lookup("zed@example.org", err), RG_TEMPFAIL);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(lookup("zed@example.org", err), RG_TEMPFAIL);
	pid = fork();
	if (pid == 0) {
		/* The child has no such memory: it compiles at once. */
		_exit(lookup("zed@example.org", err) == RG_FOUND ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* The parent maps what the child compiled. */
	assert_int_equal(lookup("zed@example.org", err), RG_FOUND);
}

static void test_system_failure_logged_once(void **state)
{
	char err[RG_ERRLEN] = "", path[160];

	(void)state;
	/* state_dir/lists is a plain file: no index can be written. */
	snprintf(path, sizeof path, "%s/state/lists", dir);
	write_in_place(path, "");
	write_renamed(lfile, "alice@example.org\n");
	assert_int_equal(lookup("alice@example.org", err), RG_TEMPFAIL);
	assert_int_equal(errors, 1);
	assert_non_null(strstr(last_error, "not compiled now"));
	assert_int_equal(lookup("alice@example.org", err), RG_TEMPFAIL);
	assert_int_equal(errors, 1);             /* once per process and version */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(lookup("alice@example.org", err), RG_TEMPFAIL);   /* retried after a while */
	clock_now += 61;
	assert_int_equal(lookup("alice@example.org", err), RG_FOUND);
	assert_int_equal(errors, 1);
}

/* Point the hash table of key's bucket in the compiled index outside the file: the
 * metadata record stays readable, a lookup of key (listed: its bucket is not empty) meets
 * tinycdb's -1. */
static void damage_bucket(const char *key)
{
	char pattern[160];
	unsigned char bad[4] = { 0xf0, 0xff, 0xff, 0xff };
	glob_t g;
	int fd;

	snprintf(pattern, sizeof pattern, "%s/state/lists/*[0-9a-f].cdb", dir);
	assert_int_equal(glob(pattern, 0, NULL, &g), 0);
	assert_int_equal(g.gl_pathc, 1);
	assert_int_not_equal(cdb_hash(key, strlen(key)) & 255, cdb_hash("\0rcptguard-meta", 15) & 255);
	assert_int_not_equal(cdb_hash(key, strlen(key)) & 255, 0);
	fd = open(g.gl_pathv[0], O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, bad, 4, (cdb_hash(key, strlen(key)) & 255) * 8), 4);
	close(fd);
	globfree(&g);
}

static void test_damaged_index_defers(void **state)
{
	char err[RG_ERRLEN] = "";

	(void)state;
	write_renamed(lfile, "alice@example.org\nbob@example.org\n");
	assert_int_equal(lookup("alice@example.org", err), RG_FOUND);
	damage_bucket("bob@example.org");
	/* A damaged index is a temporary problem, never a 550. */
	assert_int_equal(lookup("bob@example.org", err), RG_TEMPFAIL);
	assert_non_null(strstr(err, "index damaged"));
	list_reset();
	assert_int_equal(lookup("bob@example.org", err), RG_TEMPFAIL);
	assert_non_null(strstr(err, "index damaged"));
}

static unsigned long problems_seen;

static char last_problem[RG_ERRLEN];

static void count_problem(void *arg, const char *problem)
{
	(void)arg;
	snprintf(last_problem, sizeof last_problem, "%s", problem);
	problems_seen++;
}

static void test_check(void **state)
{
	struct list_ctx x = { cfg, &set, "example.org", 0 };
	struct list_ctx loose = { NULL, NULL, "", 0 };
	char err[RG_ERRLEN] = "";
	uint64_t n, lines;

	(void)state;
	/* Root's check of a file no domain names reads as Exim's user: let it in. */
	assert_int_equal(chmod(dir, 0755), 0);
	write_in_place(lfile, "a@example.org\nb c@example.org\nd@other.test\ne@example.org\n\001@x\n");
	problems_seen = 0;
	assert_int_equal(list_check(&x, lfile, count_problem, NULL, 10, &n, &lines, err, sizeof err), RG_NOTFOUND);
	assert_int_equal(problems_seen, 3);
	assert_string_equal(err, "3 problem(s)");
	problems_seen = 0;
	assert_int_equal(list_check(&x, lfile, count_problem, NULL, 2, &n, &lines, err, sizeof err), RG_NOTFOUND);
	assert_int_equal(problems_seen, 2);
	write_in_place(other, "A@Other.test\na@other.test\nb@example.org\n");
	assert_int_equal(list_check(&loose, other, NULL, NULL, 10, &n, &lines, err, sizeof err), RG_FOUND);
	assert_int_equal(n, 2);
	assert_int_equal(list_check(&loose, "/nonexistent/file", NULL, NULL, 10, &n, &lines, err, sizeof err), RG_TEMPFAIL);
	/* A file without newlines: refused at line 1, read through a bounded buffer. */
	{
		char *big = malloc(200001);

		assert_non_null(big);
		memset(big, 'a', 200000);
		big[200000] = '\0';
		write_in_place(other, big);
		free(big);
		problems_seen = 0;
		assert_int_equal(list_check(&loose, other, count_problem, NULL, 10, &n, &lines, err, sizeof err), RG_NOTFOUND);
		assert_int_equal(problems_seen, 1);
		assert_non_null(strstr(last_problem, "other.list:1: line longer than"));
	}
	write_in_place(other, "a@other.test\nb@other.test");
	assert_int_equal(list_check(&loose, other, NULL, NULL, 10, &n, &lines, err, sizeof err), RG_FOUND);
	assert_int_equal(n, 2);
}

struct problems {
	unsigned n, line[8];
	char msg[8][200];
};

static void collect(void *arg, unsigned line, const char *message)
{
	struct problems *p = arg;

	if (p->n < 8) {
		p->line[p->n] = line;
		snprintf(p->msg[p->n], sizeof p->msg[0], "%s", message);
	}
	p->n++;
}

/* Whole content of path ("" when unreadable). */
static const char *slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	return buf;
}

static void test_upload(void **state)
{
	const char *good = "alice@example.org\nbob@example.org\ncarol@example.org\n";
	const char *bad = "alice@example.org\nnot an address\nmallory@elsewhere.test\n";
	char err[RG_ERRLEN] = "", path[160];
	struct list_ctx x = { cfg, &set, "example.org", 0 };
	struct list_ctx none = { cfg, NULL, "nolist.test", 0 };
	struct settings s2;
	struct list_status ls;
	struct problems pr = { 0 };
	struct stat st;

	(void)state;
	/* Installed and in force at once: no list_settle, no lookup needed first. */
	assert_int_equal(list_upload(&x, good, strlen(good), collect, &pr, &ls, err, sizeof err), RG_FOUND);
	assert_int_equal(pr.n, 0);
	assert_int_equal(ls.src_state, LIST_SRC_IN_FORCE);
	assert_true(ls.in_force);
	assert_int_equal(ls.meta.entries, 3);
	assert_string_equal(slurp(lfile), good);
	assert_int_equal(stat(lfile, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(lookup("carol@example.org", err), RG_FOUND);
	/* Refused: every problem with its line; the file and the list in force unchanged. */
	assert_int_equal(list_upload(&x, bad, strlen(bad), collect, &pr, &ls, err, sizeof err), RG_NOTFOUND);
	assert_int_equal(pr.n, 2);
	assert_int_equal(pr.line[0], 2);
	assert_non_null(strstr(pr.msg[0], "not an address"));
	assert_int_equal(pr.line[1], 3);
	assert_string_equal(pr.msg[1], "domain elsewhere.test is not configured for this file");
	assert_string_equal(slurp(lfile), good);
	assert_int_equal(lookup("carol@example.org", err), RG_FOUND);
	/* An empty upload is refused, as an empty file is. */
	pr.n = 0;
	assert_int_equal(list_upload(&x, "", 0, collect, &pr, &ls, err, sizeof err), RG_NOTFOUND);
	assert_int_equal(pr.n, 1);
	assert_int_equal(pr.line[0], 0);
	/* Dropping two of three: held by the shrink guard, the old version still answers. */
	pr.n = 0;
	assert_int_equal(list_upload(&x, "alice@example.org\n", 18, collect, &pr, &ls, err, sizeof err), RG_FOUND);
	assert_int_equal(ls.src_state, LIST_SRC_HELD);
	assert_int_equal(ls.state.dropped, 2);
	assert_int_equal(lookup("carol@example.org", err), RG_FOUND);
	assert_string_equal(slurp(lfile), "alice@example.org\n");
	/* With list_end_marker = yes, a body without its last "# end" line is refused. */
	load_config("list_end_marker = yes");
	pr.n = 0;
	assert_int_equal(list_upload(&x, good, strlen(good), collect, &pr, &ls, err, sizeof err), RG_NOTFOUND);
	assert_int_equal(pr.n, 1);
	assert_int_equal(pr.line[0], 0);
	assert_non_null(strstr(pr.msg[0], "no \"# end\" line"));
	snprintf(path, sizeof path, "%s# end\n", good);
	assert_int_equal(list_upload(&x, path, strlen(path), collect, &pr, &ls, err, sizeof err), RG_FOUND);
	assert_int_equal(ls.src_state, LIST_SRC_IN_FORCE);
	/* No list for the domain: a configuration matter. */
	config_for_domain(cfg, "nolist.test", &s2);
	none.s = &s2;
	assert_int_equal(list_upload(&none, good, strlen(good), collect, &pr, &ls, err, sizeof err), RG_CONFIG);
}

/* What list_status() says of example.org's list. */
static int status_of(struct list_status *ls)
{
	char err[RG_ERRLEN] = "";
	struct list_ctx x = { cfg, &set, "example.org", 0 };

	assert_int_equal(list_status(&x, ls, err, sizeof err), RG_FOUND);
	return ls->src_state;
}

/* Defect 1: only a regular file is read; a FIFO, a link to /dev/zero, a file too large or
 * too long is refused at once, named, and the version in force stays. */
static void test_not_a_list(void **state)
{
	char err[RG_ERRLEN] = "", big[200];
	struct list_status ls;
	time_t t0 = time(NULL);
	FILE *f;
	int i;

	(void)state;
	write_renamed(lfile, "alice@example.org\n");
	assert_int_equal(lookup("alice@example.org", err), RG_FOUND);
	/* A FIFO nobody writes: open() must not block, the read must not wait. */
	assert_int_equal(unlink(lfile), 0);
	assert_int_equal(mkfifo(lfile, 0644), 0);
	catch_up(lfile);
	clock_now += 11;
	assert_int_equal(status_of(&ls), LIST_SRC_REFUSED);
	assert_non_null(strstr(ls.state.reason, "not a regular file"));
	assert_int_equal(lookup("alice@example.org", err), RG_FOUND);
	/* A link to /dev/zero: would never end. */
	assert_int_equal(unlink(lfile), 0);
	assert_int_equal(symlink("/dev/zero", lfile), 0);
	assert_int_equal(status_of(&ls), LIST_SRC_REFUSED);
	assert_non_null(strstr(ls.state.reason, "not a regular file"));
	assert_int_equal(lookup("alice@example.org", err), RG_FOUND);
	assert_true(time(NULL) - t0 < 5);
	/* 2 MiB (sparse) with list_max_size = 1 (MiB): refused unread. */
	load_config("list_max_size = 1\nlist_max_lines = 3");
	assert_int_equal(unlink(lfile), 0);
	f = fopen(lfile, "w");
	assert_non_null(f);
	assert_int_equal(ftruncate(fileno(f), 2 << 20), 0);
	fclose(f);
	catch_up(lfile);
	clock_now += 11;
	assert_int_equal(status_of(&ls), LIST_SRC_REFUSED);
	assert_non_null(strstr(ls.state.reason, "larger than list_max_size = 1 MiB"));
	/* Four lines with list_max_lines = 3. */
	big[0] = '\0';
	for (i = 0; i < 4; i++)
		snprintf(big + strlen(big), sizeof big - strlen(big), "u%d@example.org\n", i);
	write_renamed(lfile, big);
	assert_int_equal(status_of(&ls), LIST_SRC_REFUSED);
	assert_non_null(strstr(ls.state.reason, ":0: more than list_max_lines = 3 lines"));
	assert_int_equal(lookup("alice@example.org", err), RG_FOUND);
	assert_int_equal(lookup("u0@example.org", err), RG_NOTFOUND);
}

/* Defect 6: with list_end_marker = yes, 600 of 1,000 lines written in place and left for
 * list_settle stay out of force; the whole file with its "# end" goes in. */
static void test_end_marker(void **state)
{
	char err[RG_ERRLEN] = "";
	struct list_status ls;
	size_t cap = 1000 * 32, len = 0;
	char *text = malloc(cap);
	int i;

	(void)state;
	assert_non_null(text);
	load_config("list_end_marker = yes");
	for (i = 0; i < 1000; i++)
		len += (size_t)snprintf(text + len, cap - len, "user%d@example.org\n", i);
	write_renamed(lfile, text);
	assert_int_equal(status_of(&ls), LIST_SRC_REFUSED);  /* no marker */
	assert_non_null(strstr(ls.state.reason, ":0: no \"# end\" line at the end"));
	snprintf(text + len, cap - len, "# end\n");
	write_renamed(lfile, text);
	assert_int_equal(status_of(&ls), LIST_SRC_IN_FORCE);
	assert_int_equal(lookup("user999@example.org", err), RG_FOUND);
	/* The upload dies after line 600 (a line boundary): 40% fewer, the shrink guard lets
	 * it pass; only the marker keeps it out. */
	text[strlen("user0@example.org\n") * 10 + strlen("user10@example.org\n") * 90 +
	     strlen("user100@example.org\n") * 500] = '\0';
	write_in_place(lfile, text);
	clock_now += 11;
	assert_int_equal(lookup("user999@example.org", err), RG_FOUND);
	assert_int_equal(status_of(&ls), LIST_SRC_REFUSED);
	assert_int_equal(ls.src.size, 10 * 18 + 90 * 19 + 500 * 20);
	/* The same cut (written again) without the key: in force (what the key is for). */
	load_config("");
	write_in_place(lfile, text);
	clock_now += 11;
	assert_int_equal(lookup("user999@example.org", err), RG_NOTFOUND);
	assert_int_equal(lookup("user599@example.org", err), RG_FOUND);
	free(text);
}

/* Write len bytes of text over the start of path without truncating it, as legacy scp
 * (scp -O) does before its final ftruncate; ctime == mtime, so the file settles. */
static void write_over(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	catch_up(path);
}

/* n lines "PREFIXi@example.org" and, with end, the end line end ("# end N" or "# end"). */
static char *list_text(const char *prefix, int n, const char *end)
{
	size_t cap = (size_t)n * 40 + 64, len = 0;
	char *t = malloc(cap);
	int i;

	assert_non_null(t);
	t[0] = '\0';
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(t + len, cap - len, "%s%d@example.org\n", prefix, i);
	if (end)
		snprintf(t + len, cap - len, "%s\n", end);
	return t;
}

/* The counted end line "# end N": checked whenever present; a legacy scp copy written over
 * a longer file (whole but not truncated, or cut short) is refused, naming file and line,
 * and the version in force stays; list_check() gives the count to write. */
static void test_end_count(void **state)
{
	struct list_ctx x = { cfg, &set, "example.org", 0 };
	char err[RG_ERRLEN] = "", *old, *neu;
	struct list_status ls;
	uint64_t n, lines;

	(void)state;
	/* The shrink guard off: only the end line may keep a copy out of force. */
	load_config("list_max_shrink = 0");
	/* Without list_end_marker: a count that matches is in force, one that does not is refused. */
	write_renamed(lfile, "a@example.org\n# a comment\n\nb@example.org\nb@example.org\n# end 3\n");
	assert_int_equal(status_of(&ls), LIST_SRC_IN_FORCE);
	assert_int_equal(list_check(&x, lfile, NULL, NULL, 10, &n, &lines, err, sizeof err), RG_FOUND);
	assert_int_equal(n, 2);
	assert_int_equal(lines, 3);
	write_renamed(lfile, "a@example.org\nc@example.org\n# end 3\n");
	assert_int_equal(status_of(&ls), LIST_SRC_REFUSED);
	assert_non_null(strstr(ls.state.reason, ".list:3: the end line says 3 entries, the file has 2"));
	/* "# end of list" is a comment, not a marker. */
	write_renamed(lfile, "a@example.org\nc@example.org\n# end of list\n");
	assert_int_equal(status_of(&ls), LIST_SRC_IN_FORCE);

	/* 1,000 entries in force; the customer sends 900 others with legacy scp. */
	old = list_text("user", 1000, "# end 1000");
	neu = list_text("member", 900, "# end 900");
	assert_true(strlen(neu) < strlen(old));
	write_renamed(lfile, old);
	assert_int_equal(status_of(&ls), LIST_SRC_IN_FORCE);
	assert_int_equal(lookup("user999@example.org", err), RG_FOUND);
	/* Whole, but the final ftruncate never came: the old tail follows "# end 900". */
	write_over(lfile, neu, strlen(neu));
	clock_now += 11;
	assert_int_equal(status_of(&ls), LIST_SRC_REFUSED);
	assert_non_null(strstr(ls.state.reason, ":901: entry after the end line 901") ?
			strstr(ls.state.reason, ":901: entry after the end line 901") :
			strstr(ls.state.reason, ":902: entry after the end line 901"));
	assert_int_equal(lookup("user999@example.org", err), RG_FOUND);
	assert_int_equal(lookup("member1@example.org", err), RG_NOTFOUND);
	/* Cut after 600 lines: the old file's tail still ends with "# end 1000". */
	write_renamed(lfile, old);
	assert_int_equal(status_of(&ls), LIST_SRC_IN_FORCE);
	write_over(lfile, neu, strstr(neu, "member600@") - neu);
	clock_now += 11;
	assert_int_equal(status_of(&ls), LIST_SRC_REFUSED);
	assert_non_null(strstr(ls.state.reason, ":941: the end line says 1000 entries, the file has 940: an incomplete upload?"));
	assert_int_equal(lookup("user999@example.org", err), RG_FOUND);
	assert_int_equal(lookup("member1@example.org", err), RG_NOTFOUND);
	/* The bare "# end" (list_end_marker = yes) still catches the uncut copy. */
	free(old);
	free(neu);
	load_config("list_end_marker = yes\nlist_max_shrink = 0");
	old = list_text("user", 1000, "# end");
	neu = list_text("member", 900, "# end");
	write_renamed(lfile, old);
	assert_int_equal(status_of(&ls), LIST_SRC_IN_FORCE);
	write_over(lfile, neu, strlen(neu));
	clock_now += 11;
	assert_int_equal(status_of(&ls), LIST_SRC_REFUSED);
	assert_non_null(strstr(ls.state.reason, "entry after the end line 901"));
	assert_int_equal(lookup("user999@example.org", err), RG_FOUND);
	free(old);
	free(neu);
}

/* Root's list check of a file that no domain names: read as its directory's owner (or
 * Exim's user when root owns the directory), never through a symlink, nothing echoed. */
static void test_check_no_domain_as_root(void **state)
{
	struct list_ctx loose = { NULL, NULL, "", 0 };
	char err[RG_ERRLEN] = "", cdir[160], secret[200], link[200], plain[200];
	uint64_t n, lines;
	FILE *f;

	(void)state;
	if (geteuid() != 0) {
		print_message("test_check_no_domain_as_root needs root (it is the root CLI's rule)\n");
		skip();
	}
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(cdir, sizeof cdir, "%s/customer", dir);
	assert_int_equal(mkdir(cdir, 0755), 0);
	assert_int_equal(chown(cdir, 65534, 65534), 0);
	snprintf(secret, sizeof secret, "%s/secret.list", cdir);
	f = fopen(secret, "w");
	assert_non_null(f);
	fputs("x@secrethash.example\n", f);
	fclose(f);
	assert_int_equal(chmod(secret, 0600), 0);
	/* Root-only, in nobody's directory: nobody cannot read it, so neither does root. */
	assert_int_equal(list_check(&loose, secret, NULL, NULL, 10, &n, &lines, err, sizeof err), RG_TEMPFAIL);
	assert_non_null(strstr(err, "Permission denied"));
	assert_null(strstr(err, "secrethash"));
	/* Readable by nobody: checked. */
	assert_int_equal(chown(secret, 65534, 65534), 0);
	assert_int_equal(list_check(&loose, secret, NULL, NULL, 10, &n, &lines, err, sizeof err), RG_FOUND);
	assert_int_equal(n, 1);
	/* A link, even to a readable list: refused unread. */
	snprintf(link, sizeof link, "%s/link.list", cdir);
	assert_int_equal(symlink(secret, link), 0);
	assert_int_equal(list_check(&loose, link, NULL, NULL, 10, &n, &lines, err, sizeof err), RG_NOTFOUND);
	assert_non_null(strstr(err, "a symbolic link"));
	/* A root-only file in root's directory: read as Exim's user, not as root. */
	snprintf(plain, sizeof plain, "%s/root.list", dir);
	f = fopen(plain, "w");
	assert_non_null(f);
	fputs("x@secrethash.example\n", f);
	fclose(f);
	assert_int_equal(chown(dir, 0, 0), 0);
	assert_int_equal(chmod(plain, 0600), 0);
	assert_int_equal(list_check(&loose, plain, NULL, NULL, 10, &n, &lines, err, sizeof err), RG_TEMPFAIL);
	assert_non_null(strstr(err, "Permission denied"));
}

/* Defect 5: as root, a list linked to a root-only file is opened as state_dir's owner
 * (here nobody): "Permission denied", and nothing of the file in the state or messages. */
static void test_root_reads_as_owner(void **state)
{
	char err[RG_ERRLEN] = "", secret[160], sdir[160], cmd[400];
	struct list_ctx x = { cfg, &set, "example.org", 0 };
	struct list_status ls;
	uint64_t n, lines;
	FILE *f;

	(void)state;
	if (geteuid() != 0) {
		print_message("test_root_reads_as_owner needs root (it is the root CLI's rule)\n");
		skip();
	}
	snprintf(sdir, sizeof sdir, "%s/state", dir);
	assert_int_equal(chown(sdir, 65534, 65534), 0);
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(secret, sizeof secret, "%s/shadow", dir);
	f = fopen(secret, "w");
	assert_non_null(f);
	fputs("x@secrethash.example\n", f);
	fclose(f);
	assert_int_equal(chmod(secret, 0600), 0);
	assert_int_equal(symlink(secret, lfile), 0);
	clock_now += 11;
	assert_int_equal(status_of(&ls), LIST_SRC_PENDING);
	assert_non_null(strstr(ls.detail, "Permission denied"));
	assert_null(strstr(ls.detail, "secrethash"));
	assert_int_equal(lookup("x@example.org", err), RG_TEMPFAIL);
	assert_null(strstr(err, "secrethash"));
	assert_int_equal(list_check(&x, lfile, NULL, NULL, 10, &n, &lines, err, sizeof err), RG_TEMPFAIL);
	assert_non_null(strstr(err, "Permission denied"));
	assert_null(strstr(last_error, "secrethash"));
	snprintf(cmd, sizeof cmd, "! grep -rq secrethash %s/state", dir);
	assert_int_equal(system(cmd), 0);
	/* Readable by its owner's group or others: read, and judged (refused here). */
	assert_int_equal(chmod(secret, 0644), 0);
	write_in_place(secret, "x@secrethash.example\n");
	clock_now += 11;
	assert_int_equal(status_of(&ls), LIST_SRC_REFUSED);
}

/* An upload by root over a list path that is a customer's symlink replaces the link with a
 * plain file owned and moded like a new list (never like the link's target), and leaves
 * the target alone. */
static void test_upload_over_link(void **state)
{
	const char *good = "alice@example.org\nbob@example.org\n";
	char err[RG_ERRLEN] = "", target[160];
	struct list_ctx x = { cfg, &set, "example.org", 0 };
	struct list_status ls;
	struct problems pr = { 0 };
	struct stat st;
	FILE *f;

	(void)state;
	if (geteuid() != 0) {
		print_message("test_upload_over_link needs root (it is the root web API's rule)\n");
		skip();
	}
	snprintf(target, sizeof target, "%s/target", dir);
	f = fopen(target, "w");
	assert_non_null(f);
	fputs("x@example.org\n", f);
	fclose(f);
	assert_int_equal(chown(target, 4242, 4242), 0);
	assert_int_equal(chmod(target, 0604), 0);
	assert_int_equal(symlink(target, lfile), 0);
	assert_int_equal(list_upload(&x, good, strlen(good), collect, &pr, &ls, err, sizeof err), RG_FOUND);
	assert_int_equal(lstat(lfile, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_not_equal(st.st_uid, 4242);
	assert_string_equal(slurp(lfile), good);
	assert_string_equal(slurp(target), "x@example.org\n");
	assert_int_equal(stat(target, &st), 0);
	assert_int_equal(st.st_uid, 4242);
}

/* Root's upload into a customer's directory: the temp file is made as the directory's
 * owner (the new list is theirs, with the replaced file's group and mode), and where the
 * owner may not write, root does not either. */
static void test_upload_as_dir_owner(void **state)
{
	const char *good = "alice@example.org\nbob@example.org\n";
	char err[RG_ERRLEN] = "", cmd[300];
	struct list_ctx x = { cfg, &set, "example.org", 0 };
	struct list_status ls;
	struct problems pr = { 0 };
	struct stat st;

	(void)state;
	if (geteuid() != 0) {
		print_message("test_upload_as_dir_owner needs root (it is the root web API's rule)\n");
		skip();
	}
	write_renamed(lfile, "alice@example.org\n");
	assert_int_equal(chown(lfile, 0, 4243), 0);
	assert_int_equal(chmod(lfile, 0604), 0);
	assert_int_equal(chown(dir, 65534, 65534), 0);
	assert_int_equal(list_upload(&x, good, strlen(good), collect, &pr, &ls, err, sizeof err), RG_FOUND);
	assert_int_equal(stat(lfile, &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(st.st_gid, 4243);
	assert_int_equal(st.st_mode & 0777, 0604);
	assert_string_equal(slurp(lfile), good);
	/* The owner cannot write its directory: neither can the upload; nothing changes. */
	assert_int_equal(chmod(dir, 0555), 0);
	assert_int_equal(list_upload(&x, "carol@example.org\n", 18, collect, &pr, &ls, err, sizeof err), RG_TEMPFAIL);
	assert_non_null(strstr(err, "Permission denied"));
	assert_string_equal(slurp(lfile), good);
	snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s | grep upload)\"", dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(chmod(dir, 0700), 0);
	/* This process is root again afterwards: its own files are root's. */
	assert_int_equal(setfsuid(-1), 0);
}

/* Verify addr until the answer is not a deferral, or (want set) a deferral naming want;
 * at most 10 s (a detached compile runs meanwhile). */
static int verify_until(const char *addr, const char *opts, struct yield *y, const char *want)
{
	struct timespec ts = { 0, 20 * 1000000 };
	int i, rc = RG_TEMPFAIL;

	for (i = 0; i < 500; i++) {
		rc = verify_run_recipient(addr, opts, y);
		if (want ? strstr(y->line, want) != NULL : rc != RG_TEMPFAIL)
			break;
		nanosleep(&ts, NULL);
	}
	return rc;
}

static void test_verify_chain(void **state)
{
	char opts[256];
	struct yield y;

	(void)state;
	write_renamed(lfile, "alice@example.org\n");
	snprintf(opts, sizeof opts, "config=%s", conf);
	/* The RCPT never compiles: it defers while a detached child does. */
	assert_int_equal(verify_run_recipient("Alice@example.org", opts, &y), RG_TEMPFAIL);
	assert_int_equal(verify_until("Alice@example.org", opts, &y, NULL), RG_FOUND);
	assert_non_null(strstr(y.line, "result=pass source=list"));
	assert_int_equal(verify_run_recipient("ghost@example.org", opts, &y), RG_NOTFOUND);
	assert_non_null(strstr(y.line, "result=fail source=list"));
	assert_int_equal(verify_run_recipient("ghost@example.org", opts, &y), RG_NOTFOUND);
	assert_non_null(strstr(y.line, "result=fail source=cache"));
	/* The customer adds ghost: the list (through its revalidate operation) voids the cached
	 * 550 as soon as the new version is in force. */
	write_renamed(lfile, "alice@example.org\nghost@example.org\n");
	assert_int_equal(verify_until("ghost@example.org", opts, &y, "source=list"), RG_FOUND);
	assert_non_null(strstr(y.line, "result=pass source=list"));
	/* A domain sharing the file in force (*.sub.test): not listed, fail. */
	assert_int_equal(verify_run_recipient("a@x.sub.test", opts, &y), RG_NOTFOUND);
	/* A domain whose list has no valid version: defer, never fail; the detail names the
	 * refused file's line. */
	write_in_place(other, "bad\n");
	clock_now += 60;
	assert_int_equal(verify_until("a@other.test", opts, &y, "other.list:1: "), RG_TEMPFAIL);
	assert_non_null(strstr(y.line, "result=defer reason=tempfail"));
}

/* A detached compile is bounded in memory (list_max_memory beyond what the process used):
 * one that runs out is refused with a clear reason in the list status, not retried, and
 * the version in force stays. */
static void test_compile_memory_bound(void **state)
{
	char opts[256], err[RG_ERRLEN], *big;
	struct list_status ls;
	struct yield y;
	int i;

	(void)state;
	load_config("list_max_memory = 1\nlist_max_shrink = 0");
	write_renamed(lfile, "alice@example.org\n");
	assert_int_equal(status_of(&ls), LIST_SRC_IN_FORCE);
	big = list_text("user", 300000, "# end 300000");
	write_renamed(lfile, big);
	free(big);
	snprintf(opts, sizeof opts, "config=%s", conf);
	/* The RCPT answers from the version in force and leaves the compile to a child. */
	assert_int_equal(verify_run_recipient("alice@example.org", opts, &y), RG_FOUND);
	for (i = 0; i < 500 && status_of(&ls) == LIST_SRC_PENDING; i++)
		usleep(20000);
	assert_int_equal(ls.src_state, LIST_SRC_REFUSED);
	assert_non_null(strstr(ls.state.reason, "the compile ran out of memory (list_max_memory = 1 MiB)"));
	assert_int_equal(verify_run_recipient("alice@example.org", opts, &y), RG_FOUND);
	assert_int_equal(verify_run_recipient("user1@example.org", opts, &y), RG_NOTFOUND);
	/* With room (the default bound), the same file goes into force. */
	load_config("list_max_shrink = 0");
	assert_int_equal(engine_preload(opts, err, sizeof err), RG_FOUND);
	big = list_text("user", 300000, "# end 300000");
	write_renamed(lfile, big);
	free(big);
	assert_int_equal(verify_run_recipient("alice@example.org", opts, &y), RG_FOUND);
	for (i = 0; i < 500 && status_of(&ls) == LIST_SRC_PENDING; i++)
		usleep(20000);
	assert_int_equal(ls.src_state, LIST_SRC_IN_FORCE);
	assert_int_equal(ls.meta.entries, 300000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready_rule),
		cmocka_unit_test_setup_teardown(test_parse_and_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_list_is_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_domain_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_place_settles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shrink_guard_and_accept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file_keeps_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_after_fork, setup, teardown),
		cmocka_unit_test_setup_teardown(test_system_failure_logged_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_index_defers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_end_marker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_end_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_no_domain_as_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_root_reads_as_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upload_over_link, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upload_as_dir_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compile_memory_bound, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
