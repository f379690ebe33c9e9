/* test_smtp.c - the callout SMTP client against tests/tools/smtpsim.py in each of its
 * modes: normal dialogue, every misbehaviour bounded by the deadline and reported as
 * RG_TEMPFAIL, host-list syntax, host order, EHLO->HELO fallback, command-line checks.
 * Run from the repository root (the simulator's path is relative to it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "rg.h"
#include "rglog.h"
#include "smtp.h"

#define SIMS_MAX 4

static char dir[64];
static pid_t sims[SIMS_MAX];
static int nsims;
static char debug_log[8192];

/* Timeouts short enough for the whole binary to run in a few seconds. */
static const struct smtp_timeouts tmo = { 1000, 1000 };

/* Start smtpsim.py in mode, logging to DIR/log<i>; its port. */
static int sim_start(const char *mode)
{
	char pf[128], lf[128], buf[16] = "";
	FILE *f;
	pid_t pid;
	int i, port;

	assert_true(nsims < SIMS_MAX);
	snprintf(pf, sizeof pf, "%s/port%d", dir, nsims);
	snprintf(lf, sizeof lf, "%s/log%d", dir, nsims);
	unlink(pf);
	unlink(lf);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);   /* never outlive a crashed test binary */
		execlp("python3", "python3", "tests/tools/smtpsim.py", "--port-file", pf, "--mode", mode,
		       "--log", lf, (char *)NULL);
		_exit(127);
	}
	sims[nsims++] = pid;
	for (i = 0; i < 400 && buf[0] == '\0'; i++) {
		usleep(10000);
		if ((f = fopen(pf, "r")) != NULL) {
			if (fgets(buf, sizeof buf, f) == NULL)
				buf[0] = '\0';
			fclose(f);
		}
	}
	port = atoi(buf);
	assert_true(port > 0);
	return port;
}

/* Stop every simulator started (SIGTERM, then reap). */
static void sims_stop(void)
{
	while (nsims > 0) {
		pid_t pid = sims[--nsims];

		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
}

/* Count lines of simulator i's log that hold s (after "conn " or "cmd PEER "). */
static int log_grep(int i, const char *s)
{
	char path[128], line[2048];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof path, "%s/log%d", dir, i);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL)
		if (strstr(line, s) != NULL)
			n++;
	fclose(f);
	return n;
}

/* Count lines of simulator i's log that start with prefix. */
static int log_count(int i, const char *prefix)
{
	char path[128], line[2048];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof path, "%s/log%d", dir, i);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, prefix, strlen(prefix)) == 0)
			n++;
	fclose(f);
	return n;
}

/* A TCP port on 127.0.0.1 that nothing listens on (bound, then closed). */
static int closed_port(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static void debug_hook(int level, const char *line)
{
	size_t o = strlen(debug_log);

	(void)level;
	snprintf(debug_log + o, sizeof debug_log - o, "%s\n", line);
}

static int group_setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/rg-smtp-XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	sims_stop();
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Per test: whatever happened, no simulator survives the test. */
static int teardown(void **state)
{
	(void)state;
	sims_stop();
	rglog_set_hook(NULL, 0);
	return 0;
}

/* Open hosts (port default_port) with tmo and a deadline ms from now. */
static int open_hosts(const char *hosts, unsigned default_port, int64_t ms, struct smtp_conn **c,
		      struct smtp_reply *last, char *err)
{
	return smtp_open(hosts, default_port, "client.example", &tmo, util_monotonic_ms() + ms, c,
			 last, err, RG_ERRLEN);
}

/* Open 127.0.0.1:port. */
static int open_port(int port, int64_t ms, struct smtp_conn **c, struct smtp_reply *last, char *err)
{
	char hosts[64];

	snprintf(hosts, sizeof hosts, "127.0.0.1:%d", port);
	return open_hosts(hosts, 25, ms, c, last, err);
}

/* Send line within ms. */
static int cmd(struct smtp_conn *c, const char *line, int64_t ms, struct smtp_reply *r, char *err)
{
	return smtp_command(c, line, util_monotonic_ms() + ms, r, err, RG_ERRLEN);
}

static void assert_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

static void test_ok_dialogue(void **state)
{
	struct smtp_conn *c = NULL;
	struct smtp_reply r;
	char err[RG_ERRLEN], peer[32];
	int port = sim_start("ok");

	(void)state;
	rglog_set_hook(debug_hook, 1);
	debug_log[0] = '\0';
	assert_int_equal(open_port(port, 3000, &c, &r, err), RG_FOUND);
	assert_non_null(c);
	assert_true(smtp_alive(c));
	snprintf(peer, sizeof peer, "127.0.0.1:%d", port);
	assert_string_equal(smtp_peer(c), peer);
	assert_int_equal(r.code, 250);
	assert_string_equal(r.text, "smtpsim greets you / PIPELINING / SIZE 10240000 / 8BITMIME");

	assert_int_equal(cmd(c, "MAIL FROM:<>", 2000, &r, err), RG_FOUND);
	assert_int_equal(r.code, 250);
	assert_string_equal(r.text, "2.1.0 Ok");
	assert_int_equal(cmd(c, "RCPT TO:<good1@example.org>", 2000, &r, err), RG_FOUND);
	assert_int_equal(r.code, 250);
	assert_int_equal(cmd(c, "RCPT TO:<user7@example.org>", 2000, &r, err), RG_FOUND);
	assert_int_equal(r.code, 250);
	assert_int_equal(cmd(c, "RCPT TO:<nobody@example.org>", 2000, &r, err), RG_FOUND);
	assert_int_equal(r.code, 550);
	assert_contains(r.text, "5.1.1 <nobody@example.org>: Recipient address rejected");
	assert_int_equal(cmd(c, "RSET", 2000, &r, err), RG_FOUND);
	assert_int_equal(r.code, 250);
	assert_true(smtp_alive(c));
	smtp_close(c);

	/* The dialogue is in the debug log, both ways. */
	assert_contains(debug_log, ">> EHLO client.example");
	assert_contains(debug_log, "<< 250-smtpsim greets you");
	assert_contains(debug_log, ">> RCPT TO:<nobody@example.org>");
	assert_contains(debug_log, "<< 550 5.1.1");
	assert_contains(debug_log, ">> QUIT");
	assert_int_equal(log_count(0, "conn "), 1);
}

static void test_default_helo(void **state)
{
	struct smtp_conn *c = NULL;
	struct smtp_reply r;
	char err[RG_ERRLEN], hosts[64], me[256], want[300];
	int port = sim_start("ok");

	(void)state;
	if (gethostname(me, sizeof me) < 0 || me[0] == '\0')
		strcpy(me, "localhost");
	snprintf(want, sizeof want, " EHLO %s\n", me);
	snprintf(hosts, sizeof hosts, "127.0.0.1:%d", port);
	assert_int_equal(smtp_open(hosts, 25, NULL, &tmo, util_monotonic_ms() + 3000, &c, &r, err,
				   sizeof err), RG_FOUND);
	smtp_close(c);
	assert_int_equal(smtp_open(hosts, 25, "", &tmo, util_monotonic_ms() + 3000, &c, &r, err,
				   sizeof err), RG_FOUND);
	smtp_close(c);
	assert_int_equal(log_grep(0, want), 2);
	/* A HELO name with a space or CR is refused before any connection. */
	assert_int_equal(smtp_open(hosts, 25, "a b", &tmo, util_monotonic_ms() + 3000, &c, &r, err,
				   sizeof err), RG_CONFIG);
	assert_null(c);
}

static void test_bad_host_lists(void **state)
{
	static const char *bad[] = {
		"", " , ,", "[::1", "[::1]x", "[::1]:", "[::1]:0", "[zz::1]:25", "[]", "host:",
		"host:0", "host:65536", "host:12ab", ":25", "a:b:c", "999.1.2.3", "host/x",
		"-host", ".host", "a..b.example", "ok.example bad!host", "[127.0.0.1]",
		"h1 h2 h3 h4 h5 h6 h7 h8 h9 h10 h11 h12 h13 h14 h15 h16 h17",
	};
	struct smtp_conn *c = NULL;
	struct smtp_reply r;
	char err[RG_ERRLEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = open_hosts(bad[i], 25, 2000, &c, &r, err);

		if (rc != RG_CONFIG)
			fail_msg("\"%s\": %d (%s), want RG_CONFIG", bad[i], rc, err);
		assert_null(c);
		assert_true(err[0] != '\0');
	}
	assert_int_equal(open_hosts(NULL, 25, 2000, &c, &r, err), RG_CONFIG);
	assert_int_equal(open_hosts("127.0.0.1", 0, 2000, &c, &r, err), RG_CONFIG);
	assert_int_equal(open_hosts("127.0.0.1", 70000, 2000, &c, &r, err), RG_CONFIG);
	/* Control bytes of a bad entry are not echoed. */
	assert_int_equal(open_hosts("bad\x01host", 25, 2000, &c, &r, err), RG_CONFIG);
	assert_null(strchr(err, '\x01'));
}

static void test_good_host_lists(void **state)
{
	struct smtp_conn *c = NULL;
	struct smtp_reply r;
	char err[RG_ERRLEN], hosts[512];
	int port = sim_start("ok"), dead = closed_port(), rc, i;
	size_t o;

	(void)state;
	/* Default port, bare IPv4 literal. */
	assert_int_equal(open_hosts("127.0.0.1", (unsigned)port, 3000, &c, &r, err), RG_FOUND);
	smtp_close(c);
	/* A name with several addresses (::1 refused, 127.0.0.1 answers), commas and spaces. */
	snprintf(hosts, sizeof hosts, " ,localhost:%d, ", port);
	assert_int_equal(open_hosts(hosts, 25, 3000, &c, &r, err), RG_FOUND);
	smtp_close(c);
	/* IPv6 forms parse; nothing listens there, so they are only refused. */
	snprintf(hosts, sizeof hosts, "[::1]:%d ::1 [::1]", dead);
	rc = open_hosts(hosts, (unsigned)dead, 3000, &c, &r, err);
	assert_int_equal(rc, RG_TEMPFAIL);
	assert_null(c);
	/* 16 entries are allowed: 15 refused, then the simulator. */
	for (o = 0, i = 0; i < 15; i++)
		o += (size_t)snprintf(hosts + o, sizeof hosts - o, "127.0.0.1:%d,", dead);
	snprintf(hosts + o, sizeof hosts - o, "127.0.0.1:%d", port);
	assert_int_equal(open_hosts(hosts, 25, 3000, &c, &r, err), RG_FOUND);
	smtp_close(c);
}

static void test_refused(void **state)
{
	struct smtp_conn *c = NULL;
	struct smtp_reply r;
	char err[RG_ERRLEN], want[64];
	int port = closed_port();
	int64_t t0 = util_monotonic_ms();

	(void)state;
	assert_int_equal(open_port(port, 3000, &c, &r, err), RG_TEMPFAIL);
	assert_true(util_monotonic_ms() - t0 < 500);
	assert_null(c);
	assert_int_equal(r.code, 0);
	snprintf(want, sizeof want, "127.0.0.1:%d: connect: Connection refused", port);
	assert_string_equal(err, want);
}

static void test_host_order(void **state)
{
	struct smtp_conn *c = NULL;
	struct smtp_reply r;
	char err[RG_ERRLEN], hosts[128], peer[32];
	int dead = closed_port(), p554 = sim_start("banner554"), pok = sim_start("ok");

	(void)state;
	/* First refused, second gives 554, third works. */
	snprintf(hosts, sizeof hosts, "127.0.0.1:%d 127.0.0.1:%d,127.0.0.1:%d", dead, p554, pok);
	assert_int_equal(open_hosts(hosts, 25, 3000, &c, &r, err), RG_FOUND);
	snprintf(peer, sizeof peer, "127.0.0.1:%d", pok);
	assert_string_equal(smtp_peer(c), peer);
	smtp_close(c);
	assert_int_equal(log_count(0, "conn "), 1);
	assert_int_equal(log_count(1, "conn "), 1);
	/* None works: the last reason, and the last reply seen (the 554 banner). */
	snprintf(hosts, sizeof hosts, "127.0.0.1:%d 127.0.0.1:%d", p554, dead);
	assert_int_equal(open_hosts(hosts, 25, 3000, &c, &r, err), RG_TEMPFAIL);
	assert_null(c);
	assert_int_equal(r.code, 554);
	assert_contains(err, "connect: Connection refused");
}

static void test_ehlo_fallback(void **state)
{
	struct smtp_conn *c = NULL;
	struct smtp_reply r;
	char err[RG_ERRLEN];
	int port = sim_start("ehlo5xx");

	(void)state;
	assert_int_equal(open_port(port, 3000, &c, &r, err), RG_FOUND);
	assert_int_equal(r.code, 250);
	assert_int_equal(cmd(c, "MAIL FROM:<>", 2000, &r, err), RG_FOUND);
	assert_int_equal(r.code, 250);
	smtp_close(c);
	assert_int_equal(log_grep(0, " EHLO client.example\n"), 1);
	assert_int_equal(log_grep(0, " HELO client.example\n"), 1);
}

static void test_command_refused(void **state)
{
	static const char *bad[] = { "RCPT TO:<a@b>\r\nRSET", "RCPT TO:<a@b>\nRSET", "NOOP\r" };
	struct smtp_conn *c = NULL;
	struct smtp_reply r;
	char err[RG_ERRLEN], longline[1100];
	int port = sim_start("ok");
	size_t i;

	(void)state;
	assert_int_equal(open_port(port, 3000, &c, &r, err), RG_FOUND);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(cmd(c, bad[i], 2000, &r, err), RG_CONFIG);
		assert_int_equal(r.code, 0);
		assert_true(smtp_alive(c));
	}
	memset(longline, 'x', sizeof longline - 1);
	longline[sizeof longline - 1] = '\0';
	assert_int_equal(cmd(c, longline, 2000, &r, err), RG_CONFIG);
	/* Nothing was sent: the next command gets its own reply. */
	assert_int_equal(cmd(c, "RSET", 2000, &r, err), RG_FOUND);
	assert_int_equal(r.code, 250);
	assert_int_equal(log_count(0, "cmd "), 2);    /* EHLO, RSET */
	smtp_close(c);
	/* A dead or absent connection is a temporary failure, not a crash. */
	assert_int_equal(smtp_command(NULL, "NOOP", util_monotonic_ms() + 100, &r, err, sizeof err),
			 RG_TEMPFAIL);
	assert_false(smtp_alive(NULL));
	smtp_close(NULL);
}

/* smtp_open in mode: RG_TEMPFAIL within deadline + 500 ms, with err holding want. */
static void open_fails(const char *mode, int64_t deadline, const struct smtp_timeouts *t,
		       const char *want, int want_code)
{
	struct smtp_conn *c = (struct smtp_conn *)&c;
	struct smtp_reply r;
	char err[RG_ERRLEN], hosts[64];
	int port = sim_start(mode);
	int64_t t0 = util_monotonic_ms(), took;
	int rc;

	snprintf(hosts, sizeof hosts, "127.0.0.1:%d", port);
	rc = smtp_open(hosts, 25, "client.example", t, t0 + deadline, &c, &r, err, sizeof err);
	took = util_monotonic_ms() - t0;
	if (rc != RG_TEMPFAIL)
		fail_msg("%s: %d (%s), want RG_TEMPFAIL", mode, rc, err);
	if (took > deadline + 500)
		fail_msg("%s: took %lld ms, deadline %lld ms", mode, (long long)took, (long long)deadline);
	assert_null(c);
	assert_contains(err, want);
	assert_int_equal(r.code, want_code);
	sims_stop();
}

static void test_open_misbehaviour(void **state)
{
	const struct smtp_timeouts slow = { 1000, 5000 };

	(void)state;
	open_fails("garbage", 3000, &tmo, "malformed reply to EHLO", 220);
	open_fails("hugeline", 3000, &tmo, "reply too long", 220);
	open_fails("endless", 5000, &slow, "reply too long", 220);
	open_fails("drip", 3000, &tmo, "timeout after 1000 ms waiting for reply to EHLO", 220);
	open_fails("drip", 1200, &slow, " ms waiting for reply to EHLO", 220);
	open_fails("silent", 3000, &tmo, "timeout after 1000 ms waiting for banner", 0);
	open_fails("banner554", 3000, &tmo, "banner: 554 5.3.2 smtpsim: no service here", 554);
	open_fails("banner421", 3000, &tmo, "banner: 421", 421);
	open_fails("ehlo4xx", 3000, &tmo, "EHLO refused: 451", 451);
	open_fails("close_after_banner", 3000, &tmo, "close",
		   220);
	/* A reset reads as a closed connection too (which one comes is a matter of timing). */
	open_fails("reset_after_ehlo", 3000, &tmo, "connection closed", 220);
	open_fails("mixed_codes", 3000, &tmo, "malformed reply to EHLO (codes 250 and 251)",
		   220);
}

static void test_command_replies(void **state)
{
	struct smtp_conn *c = NULL;
	struct smtp_reply r;
	char err[RG_ERRLEN];
	int port;

	(void)state;
	port = sim_start("mail5xx");
	assert_int_equal(open_port(port, 3000, &c, &r, err), RG_FOUND);
	assert_int_equal(cmd(c, "MAIL FROM:<>", 2000, &r, err), RG_FOUND);
	assert_int_equal(r.code, 550);
	assert_string_equal(r.text, "5.7.1 null sender refused");
	smtp_close(c);
	sims_stop();

	port = sim_start("rcpt451");
	assert_int_equal(open_port(port, 3000, &c, &r, err), RG_FOUND);
	assert_int_equal(cmd(c, "MAIL FROM:<>", 2000, &r, err), RG_FOUND);
	assert_int_equal(cmd(c, "RCPT TO:<good1@example.org>", 2000, &r, err), RG_FOUND);
	assert_int_equal(r.code, 451);
	assert_true(smtp_alive(c));
	smtp_close(c);
}

static void test_drop_after_rcpt(void **state)
{
	struct smtp_conn *c = NULL;
	struct smtp_reply r;
	char err[RG_ERRLEN], want[128];
	int port = sim_start("drop_after_rcpt");
	int64_t t0;

	(void)state;
	assert_int_equal(open_port(port, 3000, &c, &r, err), RG_FOUND);
	assert_int_equal(cmd(c, "MAIL FROM:<>", 2000, &r, err), RG_FOUND);
	assert_int_equal(cmd(c, "RCPT TO:<good1@example.org>", 2000, &r, err), RG_FOUND);
	assert_int_equal(r.code, 250);
	t0 = util_monotonic_ms();
	assert_int_equal(cmd(c, "RCPT TO:<good2@example.org>", 2000, &r, err), RG_TEMPFAIL);
	assert_true(util_monotonic_ms() - t0 < 1000);
	assert_int_equal(r.code, 0);
	snprintf(want, sizeof want, "127.0.0.1:%d: connection closed waiting for reply to RCPT TO",
		 port);
	assert_string_equal(err, want);
	assert_false(smtp_alive(c));
	/* Once dead, it stays dead, and closing it sends nothing. */
	assert_int_equal(cmd(c, "RSET", 2000, &r, err), RG_TEMPFAIL);
	smtp_close(c);
}

static void test_command_timeout(void **state)
{
	const struct smtp_timeouts t = { 1000, 1000 };
	struct smtp_conn *c = NULL;
	struct smtp_reply r;
	char err[RG_ERRLEN], hosts[64];
	int port = sim_start("ok");
	int64_t t0;

	(void)state;
	snprintf(hosts, sizeof hosts, "127.0.0.1:%d", port);
	assert_int_equal(smtp_open(hosts, 25, "x", &t, util_monotonic_ms() + 3000, &c, &r, err,
				   sizeof err), RG_FOUND);
	/* A deadline already passed: nothing is sent, the connection is given up. */
	t0 = util_monotonic_ms();
	assert_int_equal(smtp_command(c, "NOOP", t0 - 1, &r, err, sizeof err), RG_TEMPFAIL);
	assert_contains(err, "no time left for NOOP");
	assert_false(smtp_alive(c));
	smtp_close(c);
	/* A deadline passed before smtp_open: nothing is tried. */
	assert_int_equal(smtp_open(hosts, 25, "x", &t, util_monotonic_ms() - 1, &c, &r, err,
				   sizeof err), RG_TEMPFAIL);
	assert_null(c);
	assert_contains(err, "no time left");
	assert_int_equal(log_count(0, "conn "), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_ok_dialogue, teardown),
		cmocka_unit_test_teardown(test_default_helo, teardown),
		cmocka_unit_test_teardown(test_bad_host_lists, teardown),
		cmocka_unit_test_teardown(test_good_host_lists, teardown),
		cmocka_unit_test_teardown(test_refused, teardown),
		cmocka_unit_test_teardown(test_host_order, teardown),
		cmocka_unit_test_teardown(test_ehlo_fallback, teardown),
		cmocka_unit_test_teardown(test_command_refused, teardown),
		cmocka_unit_test_teardown(test_open_misbehaviour, teardown),
		cmocka_unit_test_teardown(test_command_replies, teardown),
		cmocka_unit_test_teardown(test_drop_after_rcpt, teardown),
		cmocka_unit_test_teardown(test_command_timeout, teardown),
	};

	/* Why: a peer that resets the connection must not kill the test with SIGPIPE either
	 * (smtp.c uses MSG_NOSIGNAL; this guards the test's own sockets). */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
