/* test_verify.c - the verification chain with a driven clock: cache lifetimes, stale
 * positive verdicts, temporary failures never cached, config and syntax errors. The
 * destination is tests/tools/smtpsim.py ("good*"/"user*" exist, others get 550). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine.h"
#include "source_callout.h"
#include "store.h"
#include "verdict.h"
#include "verify.h"

static char dir[64], conf[128], opts[256];
static pid_t sim = -1;
static int port;
static int64_t clock_now = 1800000000;

static int64_t test_clock(void)
{
	return clock_now;
}

/* Stop the simulator and drop the callout connection to it. */
static void sim_stop(void)
{
	if (sim > 0) {
		kill(sim, SIGTERM);
		waitpid(sim, NULL, 0);
		sim = -1;
	}
	verify_shutdown();
}

/* Start smtpsim.py in mode; sets port. */
static void sim_start(const char *mode)
{
	char pf[128], lf[128], buf[16] = "";
	FILE *f;

	sim_stop();          /* one left by a failed test must not outlive it */
	snprintf(pf, sizeof pf, "%s/port", dir);
	snprintf(lf, sizeof lf, "%s/simlog", dir);
	unlink(pf);
	unlink(lf);
	sim = fork();
	if (sim == 0) {
		execlp("python3", "python3", "tests/tools/smtpsim.py", "--port-file", pf, "--mode", mode,
		       "--log", lf, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 800 && buf[0] == '\0'; i++) {      /* 20 s: python3 on a loaded machine */
		usleep(25000);
		if ((f = fopen(pf, "r")) != NULL) {
			if (fgets(buf, sizeof buf, f) == NULL)
				buf[0] = '\0';
			fclose(f);
		}
	}
	port = atoi(buf);
	assert_true(port > 0);
}

/* Connections the simulator received (its log's "conn " lines). */
static int sim_connections(void)
{
	char lf[128], line[512];
	int n = 0;
	FILE *f;

	snprintf(lf, sizeof lf, "%s/simlog", dir);
	if ((f = fopen(lf, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL)
		n += strncmp(line, "conn ", 5) == 0;
	fclose(f);
	return n;
}

static int setup(void **state)
{
	FILE *f;

	(void)state;
	strcpy(dir, "/tmp/rg-verify-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(conf, sizeof conf, "%s/rcptguard.conf", dir);
	f = fopen(conf, "w");
	fprintf(f, "state_dir = %s\nsources = callout\nconnect_timeout = 1s\ncommand_timeout = 2s\n"
		   "total_timeout = 3s\ncatchall_check = no\n", dir);
	fclose(f);
	util_set_clock(test_clock);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	sim_stop();
	store_process_close();
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd);
}

/* Run verify_recipient; return the yield's result and keep the line. */
static const char *check(const char *addr, struct yield *y)
{
	static char result[16];

	snprintf(opts, sizeof opts, "config=%s hosts=127.0.0.1:%d", conf, port);
	verify_run_recipient(addr, opts, y);
	yield_get(y->line, "result", result, sizeof result);
	return result;
}

/* Run verify_sender with extra options; return the yield's result. */
static const char *check_sender(const char *addr, const char *extra, struct yield *y)
{
	static char result[16];

	snprintf(opts, sizeof opts, "config=%s hosts=127.0.0.1:%d %s", conf, port, extra);
	verify_run_sender(addr, opts, y);
	yield_get(y->line, "result", result, sizeof result);
	return result;
}

static void assert_source(const struct yield *y, const char *want)
{
	char v[32] = "";

	yield_get(y->line, "source", v, sizeof v);
	if (strcmp(v, want) != 0)
		fail_msg("source %s, want %s: %s", v, want, y->line);
}

/* The process store on dir (the default member), with a map of mib MiB. */
static const struct store_handle *store_at(const char *d, unsigned mib, char *err, size_t errlen)
{
	static struct settings ss;

	config_defaults(&ss);
	snprintf(ss.state_dir, sizeof ss.state_dir, "%s", d);
	ss.lmdb.map_size = mib;
	return store_process(&ss, err, errlen);
}

/* Read the cached record of addr: 1 found (into v), 0 none. */
static int record(const char *addr, struct verdict *v)
{
	char key[STORE_KEY_MAX + 1], val[STORE_VAL_MAX], err[RG_ERRLEN];
	const struct store_handle *h = store_at(dir, 64, err, sizeof err);
	size_t vlen;

	assert_non_null(h);
	verdict_key_address(key, sizeof key, addr);
	if (store_get(h, key, val, sizeof val, &vlen, 0, err, sizeof err) != RG_FOUND)
		return 0;
	assert_int_equal(verdict_decode(val, vlen, 0, v), 0);
	return 1;
}

static void test_lifetimes(void **state)
{
	struct yield y;
	struct verdict v;

	(void)state;
	sim_start("ok");
	assert_string_equal(check("good1@example.org", &y), "pass");
	assert_source(&y, "callout");
	assert_string_equal(check("nobody@example.org", &y), "fail");
	assert_source(&y, "callout");
	assert_non_null(strstr(y.line, "message=\"<nobody@example.org>: recipient unknown\""));
	assert_true(record("good1@example.org", &v));
	assert_int_equal(v.expires - v.created, 7 * 86400);
	assert_true(record("nobody@example.org", &v));
	assert_int_equal(v.pass, 0);
	assert_int_equal(v.expires - v.created, 30 * 60);
	sim_stop();
	/* Destination gone: both answered from the cache. */
	assert_string_equal(check("good1@example.org", &y), "pass");
	assert_source(&y, "cache");
	assert_string_equal(check("nobody@example.org", &y), "fail");
	assert_source(&y, "cache");
	/* 31 minutes on: the negative verdict has expired and is never used stale. */
	clock_now += 31 * 60;
	assert_string_equal(check("nobody@example.org", &y), "defer");
	/* 8 days on: the positive one is expired but within stale_ttl. */
	clock_now += 8 * 86400;
	assert_string_equal(check("good1@example.org", &y), "pass");
	assert_non_null(strstr(y.line, "stale=yes"));
	/* 31 days on: too old even for that. */
	clock_now += 31 * 86400;
	assert_string_equal(check("good1@example.org", &y), "defer");
	assert_non_null(strstr(y.line, "message=\"<good1@example.org>: cannot verify recipient now"));
}

static void test_tempfail_not_cached(void **state)
{
	struct yield y;
	struct verdict v;

	(void)state;
	sim_start("ok");
	assert_string_equal(check("good2@example.org", &y), "pass");
	sim_stop();
	clock_now += 8 * 86400;      /* expired positive verdict */
	sim_start("rcpt451");
	assert_string_equal(check("good2@example.org", &y), "pass");   /* stale, not overwritten */
	assert_true(record("good2@example.org", &v));
	assert_int_equal(v.pass, 1);
	assert_string_equal(check("other@example.org", &y), "defer");
	assert_false(record("other@example.org", &v));
	sim_stop();
}

/* Bytes that no command asked for (a doubled reply) must never be read as an answer. */
static void test_out_of_step(void **state)
{
	struct yield y;
	struct verdict v;

	(void)state;
	sim_start("double_reply");
	assert_string_equal(check("nobody1@example.org", &y), "fail");
	/* The second 550 is still unread: the connection is out of step, and is remade. */
	assert_string_equal(check("good3@example.org", &y), "pass");
	assert_source(&y, "callout");
	assert_true(record("good3@example.org", &v));
	assert_int_equal(v.pass, 1);
	sim_stop();
}

/* Issue 13 defect 2: a 550 repeated late must not be read as the next RCPT's answer. */
static void test_late_duplicate(void **state)
{
	struct yield y;
	struct verdict v;

	(void)state;
	sim_start("late_duplicate");
	/* The catch-all probe's 550 comes twice; the next RCPT would read the second one. */
	snprintf(opts, sizeof opts, "config=%s hosts=127.0.0.1:%d catchall_check=yes", conf, port);
	verify_run_recipient("good4@dup.example", opts, &y);
	assert_non_null(strstr(y.line, "result=pass"));
	assert_source(&y, "callout");
	assert_true(record("good4@dup.example", &v));
	assert_int_equal(v.pass, 1);
	assert_int_equal(sim_connections(), 2);                            /* out of step: a new one */
	sim_stop();
}

/* A 421 right after RCPT: the connection is remade and the recipient asked once more. */
static void test_421_after_rcpt(void **state)
{
	struct yield y;

	(void)state;
	sim_start("rcpt421");
	/* RCPTs 1 and 2 of the connection: postmaster and the probe; the 3rd gets the 421. */
	snprintf(opts, sizeof opts, "config=%s hosts=127.0.0.1:%d catchall_check=yes", conf, port);
	verify_run_recipient("nobody3@r421.example", opts, &y);
	assert_non_null(strstr(y.line, "result=fail"));
	assert_source(&y, "callout");
	assert_int_equal(sim_connections(), 2);
	sim_stop();
}

/* A destination that refuses the null sender at RCPT with a plain 550 (and so refuses
 * postmaster too) cannot give negative verdicts: defer, never fail, and cached so. */
static void test_admin_550(void **state)
{
	struct yield y;
	struct verdict v;

	(void)state;
	sim_start("admin550");
	assert_string_equal(check("good5@admin.example", &y), "defer");
	assert_non_null(strstr(y.line, "refuses the known address"));
	assert_false(record("good5@admin.example", &v));
	assert_string_equal(check("nobody5@admin.example", &y), "defer");
	assert_false(record("nobody5@admin.example", &v));
	assert_int_equal(sim_connections(), 1);
	sim_stop();
	/* With postmaster_check = no, the operator says its 5xx are to be believed. */
	sim_start("admin550");
	snprintf(opts, sizeof opts, "config=%s hosts=127.0.0.1:%d postmaster_check=no", conf, port);
	verify_run_recipient("nobody6@admin2.example", opts, &y);
	assert_non_null(strstr(y.line, "result=fail"));
	sim_stop();
}

/* OpenSMTPD's 524 5.2.4 for an unknown virtual user: fail, from a sane destination only. */
static void test_smtpd_524(void **state)
{
	struct yield y;

	(void)state;
	sim_start("smtpd524");
	assert_string_equal(check("nobody7@smtpd.example", &y), "fail");
	assert_string_equal(check("good7@smtpd.example", &y), "pass");
	sim_stop();
	/* Without the postmaster check, 5.2.4 proves nothing: defer. */
	sim_start("smtpd524");
	snprintf(opts, sizeof opts, "config=%s hosts=127.0.0.1:%d postmaster_check=no", conf, port);
	verify_run_recipient("nobody8@smtpd2.example", opts, &y);
	assert_non_null(strstr(y.line, "result=defer"));
	sim_stop();
}

/* Commands the simulator received that start with prefix. */
static int sim_commands(const char *prefix)
{
	char lf[128], line[512];
	int n = 0;
	FILE *f;

	snprintf(lf, sizeof lf, "%s/simlog", dir);
	if ((f = fopen(lf, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL) {
		char *sp = strncmp(line, "cmd ", 4) == 0 ? strchr(line + 4, ' ') : NULL;

		n += sp != NULL && strncmp(sp + 1, prefix, strlen(prefix)) == 0;
	}
	fclose(f);
	return n;
}

/* catchall_check = no: the known address is asked once per session and domain, not per RCPT. */
static void test_known_once(void **state)
{
	struct yield y;

	(void)state;
	sim_start("ok");
	assert_string_equal(check("good6@once.example", &y), "pass");
	assert_string_equal(check("nosuch6@once.example", &y), "fail");
	assert_string_equal(check("good7@once.example", &y), "pass");
	assert_int_equal(sim_commands("RCPT TO:<postmaster@once.example>"), 1);
	assert_int_equal(sim_commands("RCPT TO:<rcptguard-probe-"), 0);
	/* callout_known names the address that must exist instead of postmaster. */
	snprintf(opts, sizeof opts, "config=%s hosts=127.0.0.1:%d callout_known=<good0@known.example>", conf, port);
	verify_run_recipient("nosuch9@known.example", opts, &y);
	assert_non_null(strstr(y.line, "result=fail"));
	assert_int_equal(sim_commands("RCPT TO:<good0@known.example>"), 1);
	assert_int_equal(sim_commands("RCPT TO:<postmaster@known.example>"), 0);
	snprintf(opts, sizeof opts, "config=%s hosts=127.0.0.1:%d callout_known=nosuch0@known2.example", conf, port);
	verify_run_recipient("nosuch9@known2.example", opts, &y);
	assert_non_null(strstr(y.line, "result=defer"));
	snprintf(opts, sizeof opts, "config=%s hosts=127.0.0.1:%d callout_known=<>", conf, port);
	verify_run_recipient("nosuch9@known3.example", opts, &y);
	assert_non_null(strstr(y.line, "reason=config"));
	sim_stop();
}

/* The probe address is stable for a domain (and a catchall_ttl period), and secret. */
static void test_probe_address(void **state)
{
	const struct settings *s;
	char a[64], b[64], c[64], err[RG_ERRLEN], path[128];
	struct stat st;

	(void)state;
	snprintf(opts, sizeof opts, "config=%s", conf);
	assert_int_equal(engine_settings(opts, "example.org", &s, err, sizeof err), RG_FOUND);
	assert_int_equal(source_callout_probe_local("example.org", s, a, sizeof a), 0);
	assert_int_equal(source_callout_probe_local("EXAMPLE.org", s, b, sizeof b), 0);
	assert_string_equal(a, b);
	assert_int_equal(source_callout_probe_local("example.net", s, c, sizeof c), 0);
	assert_string_not_equal(a, c);
	assert_int_equal(strncmp(a, "rcptguard-probe-", 16), 0);
	assert_int_equal(strlen(a), 32);
	snprintf(path, sizeof path, "%s/probe.secret", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 32);
	clock_now += 2 * 86400;                      /* the next catchall_ttl period: another */
	assert_int_equal(source_callout_probe_local("example.org", s, b, sizeof b), 0);
	assert_string_not_equal(a, b);
}

/* A 5xx about policy or a full mailbox is not "no such user". */
static void test_policy_5xx(void **state)
{
	struct yield y;
	struct verdict v;

	(void)state;
	sim_start("policy5xx");
	assert_string_equal(check("someone@example.org", &y), "defer");
	assert_non_null(strstr(y.line, "not a mailbox verdict"));
	assert_false(record("someone@example.org", &v));
	assert_string_equal(check("full1@example.org", &y), "defer");
	assert_false(record("full1@example.org", &v));
	sim_stop();
}

/* A destination that refuses the null sender is asked once per session, not per recipient. */
static void test_mail_refused(void **state)
{
	struct yield y;

	(void)state;
	sim_start("mail5xx");
	assert_string_equal(check("someone1@example.org", &y), "defer");
	assert_non_null(strstr(y.line, "MAIL FROM refused"));
	assert_string_equal(check("someone2@example.org", &y), "defer");
	assert_string_equal(check("someone3@example.org", &y), "defer");
	assert_int_equal(sim_connections(), 1);
	sim_stop();
}

static void test_errors(void **state)
{
	struct yield y;
	char bad[128];
	FILE *f;

	(void)state;
	assert_string_equal(check("us\r\ner@example.org", &y), "fail");
	assert_non_null(strstr(y.line, "reason=syntax"));
	snprintf(bad, sizeof bad, "%s/bad.conf", dir);
	f = fopen(bad, "w");
	fprintf(f, "state_dir = %s\nhostz = 1.2.3.4\n", dir);
	fclose(f);
	snprintf(opts, sizeof opts, "config=%s", bad);
	verify_run_recipient("good1@example.org", opts, &y);
	assert_non_null(strstr(y.line, "result=defer reason=config"));
	assert_non_null(strstr(y.line, "bad.conf:2: unknown key"));
}

/* verify_sender: skip the null sender and foreign domains; ask about our own. */
static void test_sender(void **state)
{
	struct yield y;
	int before;

	(void)state;
	sim_start("ok");
	before = sim_connections();
	assert_string_equal(check_sender("", "own_domains=example.org", &y), "skip");
	assert_non_null(strstr(y.line, "reason=null"));
	assert_string_equal(check_sender("<>", "own_domains=example.org", &y), "skip");
	assert_string_equal(check_sender("someone@example.net", "own_domains=example.org", &y), "skip");
	assert_non_null(strstr(y.line, "reason=foreign"));
	/* A subdomain is not the domain, and "*.example.org" is only its subdomains. */
	assert_string_equal(check_sender("x@sub.example.org", "own_domains=example.org", &y), "skip");
	assert_string_equal(check_sender("x@example.org", "own_domains=*.example.org", &y), "skip");
	assert_int_equal(sim_connections(), before);          /* nothing was asked */
	assert_string_equal(check_sender("nobody9@sub.example.org", "own_domains=\"a.example *.example.org\"", &y),
			    "fail");
	assert_non_null(strstr(y.line, "message=\"<nobody9@sub.example.org>: sender unknown\""));
	assert_string_equal(check_sender("good9@example.org", "own_domains=example.org", &y), "pass");
	assert_source(&y, "callout");
	/* The ACL may flag the domain as ours itself. */
	assert_string_equal(check_sender("nobody8@example.com", "own_domain=yes", &y), "fail");
	/* The verdict cache is shared with recipient checks. */
	assert_string_equal(check("nobody8@example.com", &y), "fail");
	assert_source(&y, "cache");
	sim_stop();
	assert_string_equal(check_sender("other8@example.org", "own_domains=example.org", &y), "defer");
	assert_non_null(strstr(y.line, "cannot verify sender now"));
	/* Syntax errors fail as for recipients. */
	assert_string_equal(check_sender("bad@@example.org", "own_domains=example.org", &y), "fail");
}

/* fork() with a live callout connection: the child abandons the inherited one (it dials
 * its own, and its shutdown sends no QUIT on the parent's), the parent goes on using it. */
static void test_fork_live_callout(void **state)
{
	struct yield y;
	pid_t pid;
	int status, before;

	(void)state;
	sim_start("ok");
	before = sim_connections();
	assert_string_equal(check("good31@example.org", &y), "pass");
	assert_source(&y, "callout");
	assert_int_equal(sim_connections(), before + 1);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int ok = strcmp(check("good32@example.org", &y), "pass") == 0 && strstr(y.line, "source=callout");

		verify_shutdown();
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(sim_connections(), before + 2);           /* the child dialled its own */
	assert_string_equal(check("good33@example.org", &y), "pass");
	assert_source(&y, "callout");
	assert_string_equal(check("nobody33@example.org", &y), "fail");
	/* The parent's connection survived the child: no new one. */
	assert_int_equal(sim_connections(), before + 2);
	sim_stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lifetimes),
		cmocka_unit_test(test_tempfail_not_cached),
		cmocka_unit_test(test_out_of_step),
		cmocka_unit_test(test_late_duplicate),
		cmocka_unit_test(test_421_after_rcpt),
		cmocka_unit_test(test_admin_550),
		cmocka_unit_test(test_smtpd_524),
		cmocka_unit_test(test_probe_address),
		cmocka_unit_test(test_known_once),
		cmocka_unit_test(test_policy_5xx),
		cmocka_unit_test(test_mail_refused),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_sender),
		cmocka_unit_test(test_fork_live_callout),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
