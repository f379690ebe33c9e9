/* test_greylist_store.c - greylisting decides identically on every store member: the
 * same sequences (a driven clock across the delay, window, pass-ttl and renewal
 * boundaries; several networks, senders, recipients; IPv4 and IPv6; delay 0; the
 * auto-whitelist on and off; dry checks; odd, junk and future-format records planted in
 * both stores) run through greylist_run() on LMDB (the C steps, greylist_record.c) and on
 * a real redis-server (the server-side script, greylist_script.c), and every answer and
 * every record written must be byte-identical. Also: the script's path when the server's
 * script cache is empty (NOSCRIPT, then EVAL), and 20 processes deciding one triplet at
 * once on Redis: exactly one "new". */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine.h"
#include "greylist.h"
#include "greylist_key.h"
#include "greylist_record.h"
#include "greylist_script.h"
#include "rglog.h"
#include "store.h"

static char dir[64], sock[128];
static pid_t rpid;
static int64_t clock_now;

static int64_t test_clock(void)
{
	return clock_now;
}

static const char *const member[2] = { "lmdb", "redis" };
static char conf[2][128], opts[2][300];
static long seen[4];                    /* answers of the walk: new, early, passed, awl */

/* Write path with text. */
static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* redis-cli on the test server: its first line of output. */
static void rcli(char *out, size_t size, const char *args)
{
	char cmd[512];
	FILE *p;

	snprintf(cmd, sizeof cmd, "redis-cli -s %s %s 2>&1", sock, args);
	out[0] = '\0';
	assert_non_null(p = popen(cmd, "r"));
	if (fgets(out, (int)size, p) == NULL)
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	pclose(p);
}

static int setup(void **state)
{
	char text[1024], cmd[256], d[2][80];
	int i;

	(void)state;
	rglog_set_hook(NULL, 0);
	strcpy(dir, "/tmp/rg-glstore-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(sock, sizeof sock, "%s/r.sock", dir);
	if ((rpid = fork()) == 0) {
		if (freopen("/dev/null", "w", stdout) == NULL)
			_exit(127);
		setsid();
		execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
		       "--save", "", "--appendonly", "no", "--dir", dir, "--loglevel", "warning", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {
		snprintf(cmd, sizeof cmd, "redis-cli -s %s PING 2>/dev/null | grep -q PONG", sock);
		if (system(cmd) == 0)
			break;
		usleep(20000);
	}
	if (i == 200)
		return -1;
	for (i = 0; i < 2; i++) {
		snprintf(d[i], sizeof d[i], "%s/%s", dir, member[i]);
		mkdir(d[i], 0700);
		snprintf(conf[i], sizeof conf[i], "%s/%s.conf", dir, member[i]);
		/* Per-domain variety: delay 0 (greylisting only records), the auto-whitelist off. */
		snprintf(text, sizeof text, "state_dir = %s\nstore = %s\nredis_uri = unix:%s\nredis_timeout = 3s\n"
			 "greylist_delay = 5m\ngreylist_retry_window = 2d\ngreylist_pass_ttl = 10d\n"
			 "greylist_awl_after = 3\n[domain zero.example]\ngreylist_delay = 0\n"
			 "[domain noawl.example]\ngreylist_awl_after = 0\ngreylist_pass_ttl = 1h\n",
			 d[i], member[i], sock);
		write_file(conf[i], text);
		snprintf(opts[i], sizeof opts[i], "config=%s", conf[i]);
	}
	util_set_clock(test_clock);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	store_process_close();
	if (rpid > 0) {
		kill(rpid, SIGKILL);
		waitpid(rpid, NULL, 0);
	}
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd);
}

/* The process's store for member m (switching the process's one handle to it). */
static const struct store_handle *store_of(int m)
{
	const struct settings *s;
	const struct store_handle *h;
	char err[RG_ERRLEN];

	assert_int_equal(engine_settings(opts[m], "", &s, err, sizeof err), RG_FOUND);
	h = store_process(s, err, sizeof err);
	if (h == NULL)
		fail_msg("store %s: %s", member[m], err);
	assert_string_equal(h->ops->name, member[m]);
	return h;
}

/* key's value in member m ("-" when absent). */
static void value_of(int m, const char *key, char *val, size_t size)
{
	char err[RG_ERRLEN];
	size_t vlen;
	int rc = store_get(store_of(m), key, val, size, &vlen, 0, err, sizeof err);

	if (rc == RG_NOTFOUND)
		snprintf(val, size, "-");
	else if (rc != RG_FOUND)
		fail_msg("get %s from %s: %s", key, member[m], err);
}

/* The same record planted in both stores. */
static void plant(const char *key, const char *val)
{
	char err[RG_ERRLEN];
	int m;

	for (m = 0; m < 2; m++)
		assert_int_equal(store_put(store_of(m), key, val, strlen(val), clock_now + 86400, 0, err, sizeof err),
				 RG_FOUND);
}

/* The keys of a triplet and of its network. */
static void keys_of(const char *ip, const char *from, const char *to, char *tkey, char *akey)
{
	char net[GREYLIST_NET_MAX], s[RG_ADDRESS_MAX + 1], r[RG_ADDRESS_MAX + 1];

	assert_int_equal(greylist_key_network(ip, 24, 64, net, sizeof net), 0);
	assert_int_equal(greylist_key_sender(from, s, sizeof s), 0);
	assert_int_equal(greylist_key_recipient(to, r, sizeof r), 0);
	assert_int_equal(greylist_key_triplet(tkey, STORE_KEY_MAX + 1, net, s, r), 0);
	assert_int_equal(greylist_key_awl(akey, STORE_KEY_MAX + 1, net), 0);
}

static const char *const ips[] = { "10.1.1.5", "10.1.1.77", "10.1.2.5", "2001:db8:1:2::5", "2001:db8:1:2::99",
				   "2001:db8:1:3::5" };
static const char *const senders[] = { "alice@sender.test", "Bob@Sender.Test", "" };
static const char *const rcpts[] = { "u1@example.org", "u2@example.org", "u3@example.org", "u4@example.org",
				     "z1@zero.example", "n1@noawl.example", "n2@noawl.example" };
/* Clock steps, most of them on a boundary of the settings above (5m, 2d, 10d, 1h, and
 * the renewal step min(1h, pass_ttl / 100): 36 s for noawl.example, 1h elsewhere); the
 * long ones rarer (one in ten), and now and then the clock set back (records from the
 * future). */
static const int64_t steps[] = { 0, 1, 35, 36, 37, 299, 300, 301, 3599, 3600, 3601, 7, -1, -400 };
static const int64_t long_steps[] = { 86400, 172799, 172800, 172801, 863999, 864000, 864001 };

/* Odd records planted in place of a triplet's (t) or a network's (a): what the C codec
 * takes (leading zeros, the largest numbers, a passed record from the future) and what it
 * refuses (junk, a word too long, a number too large, a future format) - both members
 * must read them alike. %lld: the clock now. */
static const char *const odd_t[] = {
	"1 wait %lld %lld 9999999999 1", "1 wait 000%lld 0 %lld 00", "1 pass 1 1 9223372036854775807 4294967295",
	"1 wait %lld %lld 9223372036854775807 4294967295", "1 pass 9223372036854775807 0 9223372036854775807 0",
	"1 wait 9999999999 1 99999999999 3", "1 pass 1 1 9223372036854775808 0", "1 wait 1 1 1 4294967296",
	"1 pass 000000000000000000000000001 1 1 1", "2 pass 1 1 99999999999 1", "1 pass 1 1 99999999999",
	"1 pass 1 1 99999999999 1 ", "1  pass 1 1 99999999999 1", "1 PASS 1 1 99999999999 1", "junk", "",
	"1 pass -1 1 99999999999 1", "1 pass +1 1 99999999999 1", "1 wait %lld 1 %lld\t1",
};
static const char *const odd_a[] = {
	"1 auto 2 1 %lld 99999999999", "1 auto 3 1 1 99999999999", "1 manual 0 1 1 99999999999",
	"1 auto 4294967295 1 1 9223372036854775807", "1 auto 4294967296 1 1 99999999999", "1 manual 0 1 1 %lld",
	"1 auto 0003 000 1 99999999999", "1 automatic 3 1 1 99999999999", "2 auto 3 1 1 99999999999", "x",
	"1 auto 3 1 1 1", "1 manual 0 1 %lld 99999999999",
};

/* One decision on both members: the same yield, the same records. */
static void decide_both(const char *ip, const char *from, const char *to, int dry, long step)
{
	char tkey[STORE_KEY_MAX + 1], akey[STORE_KEY_MAX + 1], line[2][YIELD_MAX], v[2][2][STORE_VAL_MAX];
	struct yield y;
	int m, rc[2];

	keys_of(ip, from, to, tkey, akey);
	for (m = 0; m < 2; m++) {
		rc[m] = dry ? greylist_check(ip, from, to, opts[m], &y) : greylist_run(ip, from, to, opts[m], &y);
		memcpy(line[m], y.line, sizeof y.line);
		value_of(m, tkey, v[m][0], sizeof v[m][0]);
		value_of(m, akey, v[m][1], sizeof v[m][1]);
	}
	for (m = 0; m < 4; m++)
		seen[m] += strstr(line[0], (const char *const[]){ "reason=new", "reason=early", "reason=passed",
								 "reason=awl" }[m]) != NULL;
	if (strcmp(line[0], line[1]) != 0 || rc[0] != rc[1])
		fail_msg("step %ld, now %lld, %s%s <%s> -> <%s>:\n  lmdb  %d %s\n  redis %d %s", step, (long long)clock_now,
			 dry ? "dry " : "", ip, from, to, rc[0], line[0], rc[1], line[1]);
	if (strstr(line[0], "reason=error") != NULL)
		fail_msg("step %ld: an error, not a decision: %s", step, line[0]);
	for (m = 0; m < 2; m++)
		if (strcmp(v[0][m], v[1][m]) != 0)
			fail_msg("step %ld, now %lld, %s after %s <%s> -> <%s> (%s):\n  lmdb  %s\n  redis %s", step,
				 (long long)clock_now, m ? "auto-whitelist record" : "triplet record", ip, from, to,
				 line[0], v[0][m], v[1][m]);
}

/* Set the clock to one of the triplet record's boundaries (the delay after first, the
 * expiry, the renewal step after last), plus -1, 0 or +1 s; pick chooses. */
static void boundary_jump(const char *ip, const char *from, const char *to, unsigned pick)
{
	char tkey[STORE_KEY_MAX + 1], akey[STORE_KEY_MAX + 1], val[STORE_VAL_MAX];
	struct greylist_triplet t;
	int64_t at, renew = strstr(to, "noawl") ? 36 : 3600;

	keys_of(ip, from, to, tkey, akey);
	value_of(0, tkey, val, sizeof val);
	if (greylist_record_decode(val, strlen(val), &t) < 0)
		return;
	switch (pick % 3) {
	case 0: at = t.first + (strstr(to, "zero") ? 0 : 300); break;
	case 1: at = t.expires; break;
	default: at = t.last + renew; break;
	}
	/* Only near the clock (a planted record may hold the largest number) */
	if (at > clock_now - 86400 && at < clock_now + 30LL * 86400)
		clock_now = at + (int64_t)(pick / 3 % 3) - 1;
}

/* Thousands of random steps (a fixed seed: a failure names its step) through both members. */
static void test_same_decisions(void **state)
{
	unsigned seed = 20261129;
	char tkey[STORE_KEY_MAX + 1], akey[STORE_KEY_MAX + 1], val[160];
	long step, decisions = 0, planted = 0;
	int r;

	(void)state;
	clock_now = 1800000000;            /* ahead of the server's clock: no key expires by itself */
	memset(seen, 0, sizeof seen);
	for (step = 0; step < 3000; step++) {
		r = rand_r(&seed) % 100;
		const char *ip = ips[rand_r(&seed) % 6], *from = senders[rand_r(&seed) % 3],
			   *to = rcpts[rand_r(&seed) % 7];

		if (r < 60) {
			decide_both(ip, from, to, r < 6, step);
			decisions++;
		} else if (r < 75) {
			/* To a boundary of this triplet's record, give or take a second, and decide. */
			boundary_jump(ip, from, to, rand_r(&seed));
			decide_both(ip, from, to, 0, step);
			decisions++;
		} else if (r < 92) {
			if (rand_r(&seed) % 10)
				clock_now += steps[rand_r(&seed) % (sizeof steps / sizeof steps[0])];
			else
				clock_now += long_steps[rand_r(&seed) % (sizeof long_steps / sizeof long_steps[0])];
		} else {
			keys_of(ip, from, to, tkey, akey);
			if (r < 96)
				snprintf(val, sizeof val, odd_t[rand_r(&seed) % (sizeof odd_t / sizeof odd_t[0])],
					 (long long)clock_now - 100, (long long)clock_now + 100);
			else
				snprintf(val, sizeof val, odd_a[rand_r(&seed) % (sizeof odd_a / sizeof odd_a[0])],
					 (long long)clock_now - 100);
			plant(r < 96 ? tkey : akey, val);
			planted++;
		}
	}
	print_message("%ld decisions (new %ld, early %ld, passed %ld, awl %ld), %ld planted records, clock +%lld s\n",
		      decisions, seen[0], seen[1], seen[2], seen[3], planted, (long long)(clock_now - 1800000000));
	/* The walk must have met every kind of answer often, or it proves little. */
	assert_true(decisions > 2000);
	for (r = 0; r < 4; r++)
		assert_true(seen[r] >= 50);
}

/* Every kind of answer, on purpose, on both members (the random walk counts on them). */
static void test_each_reason(void **state)
{
	struct yield y;
	int k;

	(void)state;
	clock_now = 1800000000 + 300LL * 86400 / 10;
	for (k = 0; k < 2; k++) {
		const char *to = k ? "u9@example.org" : "u8@example.org";

		decide_both("10.9.9.1", "s@x.test", to, 0, -1);
		clock_now += 10;
		decide_both("10.9.9.1", "s@x.test", to, 0, -2);
		clock_now += 300;
		decide_both("10.9.9.1", "s@x.test", to, 0, -3);
	}
	decide_both("10.9.9.1", "s@x.test", "u7@example.org", 0, -4);
	clock_now += 300;
	decide_both("10.9.9.1", "s@x.test", "u7@example.org", 0, -5);   /* the 3rd passed triplet */
	decide_both("10.9.9.1", "other@x.test", "u7@example.org", 0, -6);  /* the network: awl */
	greylist_run("10.9.9.1", "s@x.test", "new1@example.org", opts[1], &y);
	assert_non_null(strstr(y.line, "reason=awl"));
	greylist_run("10.9.10.1", "s@x.test", "new1@example.org", opts[1], &y);
	assert_non_null(strstr(y.line, "reason=new"));
	greylist_run("10.9.10.1", "s@x.test", "new1@example.org", opts[1], &y);
	assert_non_null(strstr(y.line, "reason=early"));
}

/* The server's script cache emptied (a restart, a failover, SCRIPT FLUSH): the next
 * decision is still right (EVALSHA answers NOSCRIPT, EVAL runs it and caches it again). */
static void test_noscript(void **state)
{
	struct yield y;
	char out[64];

	(void)state;
	clock_now = 1800000000 + 40LL * 86400;
	greylist_run("10.7.7.7", "ns@x.test", "u1@example.org", opts[1], &y);
	assert_non_null(strstr(y.line, "result=defer reason=new"));
	rcli(out, sizeof out, "SCRIPT FLUSH");
	assert_string_equal(out, "OK");
	clock_now += 301;
	greylist_run("10.7.7.7", "ns@x.test", "u1@example.org", opts[1], &y);
	assert_non_null(strstr(y.line, "result=pass reason=passed"));
	rcli(out, sizeof out, "INFO stats");
	/* and the script is cached again: the next decision needs no EVAL */
	greylist_run("10.7.7.7", "ns@x.test", "u2@example.org", opts[1], &y);
	assert_non_null(strstr(y.line, "result=defer reason=new"));
}

/* 20 processes, one new triplet, at once: exactly one "new" (the script is atomic). */
static void test_concurrent_new(void **state)
{
	int fd[2], i, status, news = 0, early = 0;
	char buf[16];
	pid_t kids[20];

	(void)state;
	clock_now = 1800000000 + 50LL * 86400;
	store_process_close();
	assert_int_equal(pipe(fd), 0);
	for (i = 0; i < 20; i++) {
		if ((kids[i] = fork()) == 0) {
			struct yield y;

			close(fd[0]);
			greylist_run("10.5.5.5", "race@x.test", "u1@example.org", opts[1], &y);
			_exit(write(fd[1], strstr(y.line, "reason=new") ? "n" : strstr(y.line, "reason=early") ? "e" : "x",
				    1) == 1 ? 0 : 1);
		}
	}
	close(fd[1]);
	for (i = 0; i < 20; i++) {
		assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	while (read(fd[0], buf, 1) == 1) {
		news += buf[0] == 'n';
		early += buf[0] == 'e';
	}
	close(fd[0]);
	assert_int_equal(news, 1);
	assert_int_equal(early, 19);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_reason),
		cmocka_unit_test(test_same_decisions),
		cmocka_unit_test(test_noscript),
		cmocka_unit_test(test_concurrent_new),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
