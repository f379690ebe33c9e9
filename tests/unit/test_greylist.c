/* test_greylist.c - greylisting: sender normalisation, network grouping, the state machine
 * (new, early, passed, expired window, awl) with a driven clock, the whitelist file and
 * its errors, the operator's verbs, and 50 processes deciding at once without losing an
 * attempt or a count. */
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

#include "engine.h"
#include "greylist.h"
#include "greylist_admin.h"
#include "greylist_key.h"
#include "greylist_record.h"
#include "greylist_whitelist.h"
#include "store.h"

static char dir[64], conf[128], wl[128], opts[256];
static int64_t clock_now = 1800000000;

static int64_t test_clock(void)
{
	return clock_now;
}

/* Write path with text. */
static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/rg-greylist-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(conf, sizeof conf, "%s/rcptguard.conf", dir);
	snprintf(wl, sizeof wl, "%s/whitelist", dir);
	write_file(wl, "# test whitelist\nclient 198.51.100.0/24\nhostname .trusted.example\n"
		       "recipient Abuse@Example.org\ndomain optout.example\nclient 2001:db8:1::/48\n");
	{
		char text[512];

		snprintf(text, sizeof text, "state_dir = %s\ngreylist_delay = 5m\ngreylist_retry_window = 2d\n"
			 "greylist_pass_ttl = 10d\ngreylist_awl_after = 3\ngreylist_whitelist = %s\n"
			 "[domain slow.example]\ngreylist_delay = 1h\n", dir, wl);
		write_file(conf, text);
	}
	snprintf(opts, sizeof opts, "config=%s", conf);
	util_set_clock(test_clock);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	store_process_close();
	util_set_clock(NULL);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd);
}

static void test_sender_normalisation(void **state)
{
	static const char *const table[][2] = {
		{ "Bob@Example.COM", "bob@example.com" },
		{ "<bob@example.com>", "bob@example.com" },
		{ "", "<>" },
		{ "<>", "<>" },
		/* BATV: the tag changes every day */
		{ "prvs=1234abcdef=bob@example.com", "bob@example.com" },
		{ "PRVS=0987654321=Bob@example.com", "bob@example.com" },
		{ "msprvs1=17ab3d8GhJ=bounces-42@mail.example.net", "bounces-#@mail.example.net" },
		{ "btv1=0a1b2c3d=bob@example.com", "bob@example.com" },
		/* SRS0 / SRS1: back to the original address */
		{ "SRS0=HHH=TT=orig.example=alice@forwarder.example", "alice@orig.example" },
		{ "srs0+x7Yz=AB=orig.example=alice@fwd.example", "alice@orig.example" },
		{ "SRS1=HHH=first.example==HHH=TT=orig.example=alice@second.example", "alice@orig.example" },
		{ "SRS0=HHH=TT=orig.example=prvs=0123456789=alice@fwd.example", "alice@orig.example" },
		/* VERP numbers, hex message ids */
		{ "bounce-12345-678@list.example.org", "bounce-#-#@list.example.org" },
		{ "bounce-12346-679@list.example.org", "bounce-#-#@list.example.org" },
		{ "0100018c3e2f4a5b-1c2d3e4f-aaaa-bbbb-cccc-000011112222-000000@amazonses.com",
		  "#-#-aaaa-bbbb-cccc-#-#@amazonses.com" },
		{ "user1@example.com", "user1@example.com" },       /* not a token of digits */
		{ "deadbeefcafe@example.com", "deadbeefcafe@example.com" }, /* hex without a digit */
		{ "news.2024.07@example.com", "news.#.#@example.com" },
		/* malformed SRS/BATV stays as it is */
		{ "srs0=only@example.com", "srs0=only@example.com" },
		{ "prvs=notag@example.com", "prvs=notag@example.com" },
	};
	char out[RG_ADDRESS_MAX + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof table / sizeof table[0]; i++) {
		assert_int_equal(greylist_key_sender(table[i][0], out, sizeof out), 0);
		if (strcmp(out, table[i][1]) != 0)
			fail_msg("%s: expected %s, got %s", table[i][0], table[i][1], out);
	}
	/* Spaces and control bytes cannot split a key. */
	assert_int_equal(greylist_key_sender("\"a b\"@x.example", out, sizeof out), 0);
	assert_string_equal(out, "\"a?b\"@x.example");
	assert_int_equal(greylist_key_sender("a@b", out, 3), -1);
}

static void test_networks(void **state)
{
	char out[GREYLIST_NET_MAX];
	unsigned char a[16], n[16];
	unsigned p;

	(void)state;
	assert_int_equal(greylist_key_network("192.0.2.77", 24, 64, out, sizeof out), 0);
	assert_string_equal(out, "192.0.2.0/24");
	assert_int_equal(greylist_key_network("192.0.2.200", 25, 64, out, sizeof out), 0);
	assert_string_equal(out, "192.0.2.128/25");
	assert_int_equal(greylist_key_network("192.0.2.77", 32, 64, out, sizeof out), 0);
	assert_string_equal(out, "192.0.2.77/32");
	assert_int_equal(greylist_key_network("::ffff:192.0.2.77", 24, 64, out, sizeof out), 0);
	assert_string_equal(out, "192.0.2.0/24");
	assert_int_equal(greylist_key_network("2001:db8:1:2:3:4:5:6", 24, 64, out, sizeof out), 0);
	assert_string_equal(out, "2001:db8:1:2::/64");
	assert_int_equal(greylist_key_network("2001:db8:1:2:3:4:5:6", 24, 48, out, sizeof out), 0);
	assert_string_equal(out, "2001:db8:1::/48");
	assert_int_equal(greylist_key_network("[2001:db8::5]", 24, 64, out, sizeof out), 0);
	assert_string_equal(out, "2001:db8::/64");
	assert_int_equal(greylist_key_network("2001:db8::5", 24, 0, out, sizeof out), 0);
	assert_string_equal(out, "::/0");
	assert_int_equal(greylist_key_network("not-an-ip", 24, 64, out, sizeof out), -1);
	assert_int_equal(greylist_key_network("", 24, 64, out, sizeof out), -1);
	assert_int_equal(greylist_key_network("192.0.2.300", 24, 64, out, sizeof out), -1);
	/* CIDRs */
	assert_int_equal(greylist_key_cidr("192.0.2.0/25", n, &p), 0);
	assert_int_equal(p, 96 + 25);
	assert_int_equal(greylist_key_addr("192.0.2.127", a), 0);
	assert_true(greylist_key_in(a, n, p));
	assert_int_equal(greylist_key_addr("192.0.2.128", a), 0);
	assert_false(greylist_key_in(a, n, p));
	assert_int_equal(greylist_key_cidr("192.0.2.0/33", n, &p), -1);
	assert_int_equal(greylist_key_cidr("2001:db8::/129", n, &p), -1);
	assert_int_equal(greylist_key_cidr("2001:db8::/32", n, &p), 0);
	assert_int_equal(greylist_key_addr("2001:db8:ffff::1", a), 0);
	assert_true(greylist_key_in(a, n, p));
	assert_int_equal(greylist_key_cidr("192.0.2.0/x", n, &p), -1);
}

static void test_state_machine(void **state)
{
	struct settings s;
	struct greylist_triplet t, o;
	struct greylist_step st;
	int64_t t0 = 1000000;

	(void)state;
	config_defaults(&s);
	/* new */
	greylist_record_step(NULL, t0, &s, &t, &st);
	assert_int_equal(st.pass, 0);
	assert_int_equal(st.reason, GREYLIST_NEW);
	assert_int_equal(st.wait, 300);
	assert_true(st.write);
	assert_int_equal(t.defers, 1);
	assert_int_equal(t.expires, t0 + 2 * 86400);
	/* early */
	o = t;
	greylist_record_step(&o, t0 + 100, &s, &t, &st);
	assert_int_equal(st.reason, GREYLIST_EARLY);
	assert_int_equal(st.wait, 200);
	assert_int_equal(t.defers, 2);
	assert_int_equal(t.first, t0);
	/* passed, at exactly the delay */
	o = t;
	greylist_record_step(&o, t0 + 300, &s, &t, &st);
	assert_int_equal(st.pass, 1);
	assert_int_equal(st.reason, GREYLIST_PASSED);
	assert_true(st.became_passed);
	assert_int_equal(t.expires, t0 + 300 + 10 * 86400);
	/* passing: no write until the renewal step; then renewed */
	o = t;
	greylist_record_step(&o, t0 + 400, &s, &t, &st);
	assert_int_equal(st.pass, 1);
	assert_false(st.write);
	assert_false(st.became_passed);
	greylist_record_step(&o, t0 + 300 + greylist_record_renew_step(&s), &s, &t, &st);
	assert_true(st.write);
	assert_int_equal(t.expires, t0 + 300 + greylist_record_renew_step(&s) + 10 * 86400);
	/* pass expired: new again */
	greylist_record_step(&o, o.expires, &s, &t, &st);
	assert_int_equal(st.reason, GREYLIST_NEW);
	/* retry after the window: new again */
	greylist_record_step(NULL, t0, &s, &o, &st);
	greylist_record_step(&o, t0 + 2 * 86400, &s, &t, &st);
	assert_int_equal(st.reason, GREYLIST_NEW);
	assert_int_equal(t.first, t0 + 2 * 86400);
	/* a record from the future (clock set back): new */
	greylist_record_step(&o, t0 - 10, &s, &t, &st);
	assert_int_equal(st.reason, GREYLIST_NEW);
	/* records round-trip; junk is refused */
	{
		char buf[128];
		struct greylist_triplet back;
		struct greylist_awl a = { 1, 7, 1, 2, 3 }, ab;

		assert_int_equal(greylist_record_encode(&o, buf, sizeof buf), 0);
		assert_int_equal(greylist_record_decode(buf, strlen(buf), &back), 0);
		assert_memory_equal(&back, &o, sizeof o);
		assert_int_equal(greylist_record_awl_encode(&a, buf, sizeof buf), 0);
		assert_int_equal(greylist_record_awl_decode(buf, strlen(buf), &ab), 0);
		assert_memory_equal(&ab, &a, sizeof a);
		assert_int_equal(greylist_record_decode("1 pass 1 2 3", 12, &back), -1);
		assert_int_equal(greylist_record_decode("2 pass 1 2 3 4", 14, &back), -1);
		assert_int_equal(greylist_record_decode("1 maybe 1 2 3 4", 15, &back), -1);
		assert_int_equal(greylist_record_decode("1 pass 1 2 3 4 5", 16, &back), -1);
		assert_int_equal(greylist_record_decode("1 pass -1 2 3 4", 15, &back), -1);
		assert_int_equal(greylist_record_decode("1 pass +1 2 3 4", 15, &back), -1);
		assert_int_equal(greylist_record_decode("1 pass 1 2 3 4294967296", 23, &back), -1);
		assert_int_equal(greylist_record_awl_decode("1 auto 1 2 3", 12, &ab), -1);
	}
}

/* Run one decision; returns the yield's reason, and the result in *res. */
static const char *decide(const char *ip, const char *sender, const char *rcpt, const char *extra, char *res)
{
	static char reason[32];
	char o[512];
	struct yield y;

	snprintf(o, sizeof o, "%s %s", opts, extra ? extra : "");
	greylist_run(ip, sender, rcpt, o, &y);
	assert_int_equal(yield_get(y.line, "result", res, 16), 0);
	reason[0] = '\0';
	yield_get(y.line, "reason", reason, sizeof reason);
	return reason;
}

static void test_run(void **state)
{
	char res[16], line[64];
	struct yield y;

	(void)state;
	clock_now = 1800000000;
	assert_string_equal(decide("192.0.2.10", "prvs=1111111111=a@sender.example", "u@example.org", NULL, res), "new");
	assert_string_equal(res, "defer");
	/* The yield: wait and the message senders see. */
	greylist_run("192.0.2.10", "a@sender.example", "u@example.org", opts, &y);
	assert_int_equal(yield_get(y.line, "wait", line, sizeof line), 0);
	assert_string_equal(line, "300");
	assert_int_equal(yield_get(y.line, "message", line, sizeof line), 0);
	assert_string_equal(line, GREYLIST_MESSAGE);
	clock_now += 120;
	/* Another host of the /24, a new BATV tag: the same triplet, still early. */
	assert_string_equal(decide("192.0.2.99", "prvs=2222222222=A@Sender.example", "U@example.org", NULL, res), "early");
	greylist_check("192.0.2.10", "a@sender.example", "u@example.org", opts, &y);
	assert_int_equal(yield_get(y.line, "wait", line, sizeof line), 0);
	assert_string_equal(line, "180");
	clock_now += 180;
	/* The dry run says "pass" and changes nothing: the real retry still passes (became). */
	greylist_check("192.0.2.10", "a@sender.example", "u@example.org", opts, &y);
	assert_int_equal(yield_get(y.line, "reason", line, sizeof line), 0);
	assert_string_equal(line, "passed");
	assert_string_equal(decide("192.0.2.10", "a@sender.example", "u@example.org", NULL, res), "passed");
	assert_string_equal(res, "pass");
	clock_now += 5 * 86400;
	assert_string_equal(decide("192.0.2.11", "a@sender.example", "u@example.org", NULL, res), "passed");
	/* Another network: a new triplet. */
	assert_string_equal(decide("192.0.3.10", "a@sender.example", "u@example.org", NULL, res), "new");
	/* A per-domain delay. */
	assert_string_equal(decide("192.0.2.10", "a@sender.example", "u@slow.example", NULL, res), "new");
	clock_now += 600;
	assert_string_equal(decide("192.0.2.10", "a@sender.example", "u@slow.example", NULL, res), "early");
	/* Expired window: the retry two days later starts again. */
	assert_string_equal(decide("203.0.113.1", "x@sender.example", "u@example.org", NULL, res), "new");
	clock_now += 2 * 86400;
	assert_string_equal(decide("203.0.113.1", "x@sender.example", "u@example.org", NULL, res), "new");
	/* Whitelisted: client network, host-name suffix, recipient, recipient domain. */
	assert_string_equal(decide("198.51.100.7", "z@s.example", "u@example.org", NULL, res), "whitelisted");
	assert_string_equal(decide("2001:db8:1:5::1", "z@s.example", "u@example.org", NULL, res), "whitelisted");
	assert_string_equal(decide("192.0.2.50", "z@s.example", "u@example.org", "hostname=mx1.Trusted.Example.", res),
			    "whitelisted");
	assert_string_equal(decide("192.0.2.50", "z@s.example", "u@example.org", "hostname=trusted.example", res), "new");
	assert_string_equal(decide("192.0.2.50", "z@s.example", "ABUSE@example.org", NULL, res), "whitelisted");
	assert_string_equal(decide("192.0.2.50", "z@s.example", "u@optout.example", NULL, res), "whitelisted");
	assert_string_equal(decide("192.0.2.50", "z@s.example", "u@sub.optout.example", NULL, res), "whitelisted");
	assert_string_equal(res, "pass");
	/* Bad arguments never defer by default (greylist_on_error = pass). */
	assert_string_equal(decide("", "z@s.example", "u@example.org", NULL, res), "error");
	assert_string_equal(res, "pass");
	assert_string_equal(decide("bogus", "z@s.example", "u@example.org", "greylist_on_error=defer", res), "error");
	assert_string_equal(res, "defer");
}

static void test_awl(void **state)
{
	char res[16], rcpt[64];
	int i;

	(void)state;
	clock_now = 1810000000;
	/* greylist_awl_after = 3: three triplets of 100.64.1.0/24 pass, then the network does. */
	for (i = 0; i < 3; i++) {
		snprintf(rcpt, sizeof rcpt, "r%d@example.org", i);
		assert_string_equal(decide("100.64.1.1", "s@big.example", rcpt, NULL, res), "new");
	}
	clock_now += 301;
	for (i = 0; i < 3; i++) {
		snprintf(rcpt, sizeof rcpt, "r%d@example.org", i);
		if (i == 2)
			assert_string_equal(decide("100.64.1.9", "other@example.net", "new@example.org", NULL, res), "new");
		assert_string_equal(decide("100.64.1.2", "s@big.example", rcpt, NULL, res), "passed");
	}
	assert_string_equal(decide("100.64.1.200", "t@another.example", "x@example.org", NULL, res), "awl");
	assert_string_equal(res, "pass");
	assert_string_equal(decide("100.64.2.1", "t@another.example", "x@example.org", NULL, res), "new");
	/* The AWL entry lives pass_ttl from its last use. */
	clock_now += 9 * 86400;
	assert_string_equal(decide("100.64.1.3", "u@another.example", "x@example.org", NULL, res), "awl");
	clock_now += 9 * 86400;
	assert_string_equal(decide("100.64.1.3", "v@another.example", "x@example.org", NULL, res), "awl");
	clock_now += 11 * 86400;
	assert_string_equal(decide("100.64.1.3", "w@another.example", "x@example.org", NULL, res), "new");
}

static void test_whitelist_errors(void **state)
{
	static const struct { const char *text; const char *err; } bad[] = {
		{ "client 192.0.2.0/33\n", ":1: not an IP address or CIDR network" },
		{ "# ok\n\nclient 192.0.2.1\nhost example.org\n", ":4: unknown entry kind" },
		{ "hostname bad..name\n", ":1: not a host name" },
		{ "recipient nobody\n", ":1: not an address" },
		{ "domain -\n", ":1: not a domain name" },
		{ "client\n", ":1: expected KIND VALUE" },
		{ "client 192.0.2.1 192.0.2.2\n", ":1: one value per line" },
	};
	struct greylist_whitelist *w;
	char path[160], err[RG_ERRLEN];
	size_t i;

	(void)state;
	snprintf(path, sizeof path, "%s/bad-whitelist", dir);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		write_file(path, bad[i].text);
		assert_int_equal(greylist_whitelist_load(path, &w, err, sizeof err), RG_CONFIG);
		if (strncmp(err, path, strlen(path)) != 0 || strstr(err, bad[i].err) == NULL)
			fail_msg("%s: expected %s, got %s", bad[i].text, bad[i].err, err);
	}
	write_file(path, "client 192.0.2.1 # trailing comment\n\t  domain Example.ORG  \n");
	if (greylist_whitelist_load(path, &w, err, sizeof err) != RG_FOUND)
		fail_msg("%s", err);
	assert_int_equal(greylist_whitelist_count(w), 2);
	greylist_whitelist_free(w);
	snprintf(path, sizeof path, "%s/absent", dir);
	assert_int_equal(greylist_whitelist_load(path, &w, err, sizeof err), RG_CONFIG);
}

/* match W against ip/host/rcpt: the reason word, or "" when not whitelisted. */
static const char *wl_hit(const struct greylist_whitelist *w, const char *ip, const char *host, const char *rcpt)
{
	const char *why = "";

	return greylist_whitelist_match(w, ip, host, rcpt, &why) ? why : "";
}

static void test_whitelist_postgrey(void **state)
{
	static const struct { int format; const char *text; const char *err; } bad[] = {
		{ GREYLIST_WL_CLIENTS, "ok.example\n/a(b/\n", ":2: bad regular expression" },
		{ GREYLIST_WL_CLIENTS, "192.0.2.0/33\n", ":1: not an IP address or network" },
		{ GREYLIST_WL_CLIENTS, "bad..name\n", ":1: not a host name, IP address" },
		{ GREYLIST_WL_CLIENTS, "a.example b.example\n", ":1: one value per line" },
		{ GREYLIST_WL_RECIPIENTS, "@example.org\n", ":1: not an address" },
		{ GREYLIST_WL_RECIPIENTS, "user@bad..domain\n", ":1: not a domain after '@'" },
	};
	struct greylist_whitelist *w;
	char path[160], err[RG_ERRLEN];
	size_t i;

	(void)state;
	/* Debian's postgrey package's own files load unchanged, and say what postgrey says. */
	if (greylist_whitelist_load_format("/etc/postgrey/whitelist_clients", GREYLIST_WL_CLIENTS, &w, err,
					   sizeof err) != RG_FOUND)
		fail_msg("%s", err);
	assert_true(greylist_whitelist_count(w) > 100);
	assert_string_equal(wl_hit(w, "192.0.2.9", "mx3.Vger.Kernel.org.", "u@example.org"), "hostname");
	assert_string_equal(wl_hit(w, "192.0.2.9", "ms-smtp-05.nyroc.rr.com", "u@example.org"), "hostname");
	assert_string_equal(wl_hit(w, "192.0.2.9", "mail12.telekom.de", "u@example.org"), "hostname");
	assert_string_equal(wl_hit(w, "66.216.126.174", "", "u@example.org"), "client");
	assert_string_equal(wl_hit(w, "192.0.2.9", "notvger.kernel.org.evil.example", "u@example.org"), "");
	assert_string_equal(wl_hit(w, "192.0.2.9", "mailx.telekom.de", "u@example.org"), "");
	assert_string_equal(wl_hit(w, "192.0.2.9", "", "u@example.org"), "");
	greylist_whitelist_free(w);
	if (greylist_whitelist_load_format("/etc/postgrey/whitelist_recipients", GREYLIST_WL_RECIPIENTS, &w, err,
					   sizeof err) != RG_FOUND)
		fail_msg("%s", err);
	assert_string_equal(wl_hit(w, "192.0.2.9", "", "Postmaster@customer.example"), "recipient");
	assert_string_equal(wl_hit(w, "192.0.2.9", "", "abuse+x@customer.example"), "recipient");
	assert_string_equal(wl_hit(w, "192.0.2.9", "", "postmasterx@customer.example"), "");
	greylist_whitelist_free(w);

	snprintf(path, sizeof path, "%s/pg-clients", dir);
	write_file(path, "# partial addresses and networks\n10.1.2\n172.16\n2001:db8:5::/48\n/^mx[0-9]+\\.Big\\.example$/\n");
	if (greylist_whitelist_load_format(path, GREYLIST_WL_CLIENTS, &w, err, sizeof err) != RG_FOUND)
		fail_msg("%s", err);
	assert_string_equal(wl_hit(w, "10.1.2.200", "", "u@example.org"), "client");
	assert_string_equal(wl_hit(w, "10.1.3.1", "", "u@example.org"), "");
	assert_string_equal(wl_hit(w, "172.16.254.1", "", "u@example.org"), "client");
	assert_string_equal(wl_hit(w, "2001:db8:5:1::9", "", "u@example.org"), "client");
	assert_string_equal(wl_hit(w, "192.0.2.1", "MX12.big.example", "u@example.org"), "hostname");
	assert_string_equal(wl_hit(w, "192.0.2.1", "mx.big.example", "u@example.org"), "");
	greylist_whitelist_free(w);

	snprintf(path, sizeof path, "%s/pg-recipients", dir);
	write_file(path, "sales@shop.example\noptout.example\n/^list-.*@lists\\.example$/\n");
	if (greylist_whitelist_load_format(path, GREYLIST_WL_RECIPIENTS, &w, err, sizeof err) != RG_FOUND)
		fail_msg("%s", err);
	assert_string_equal(wl_hit(w, "192.0.2.1", "", "Sales+eu@Shop.example"), "recipient");
	assert_string_equal(wl_hit(w, "192.0.2.1", "", "sales@other.example"), "");
	assert_string_equal(wl_hit(w, "192.0.2.1", "", "u@mail.optout.example"), "domain");
	assert_string_equal(wl_hit(w, "192.0.2.1", "", "u@notoptout.example"), "");
	assert_string_equal(wl_hit(w, "192.0.2.1", "", "list-dev@lists.example"), "recipient");
	greylist_whitelist_free(w);

	/* A backtracking pattern hits PCRE2's limit: no match (greylisted), no stall. */
	write_file(path, "/^(a+)+$/\n");
	if (greylist_whitelist_load_format(path, GREYLIST_WL_RECIPIENTS, &w, err, sizeof err) != RG_FOUND)
		fail_msg("%s", err);
	assert_string_equal(wl_hit(w, "192.0.2.1", "", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!@x.example"), "");
	greylist_whitelist_free(w);

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		write_file(path, bad[i].text);
		assert_int_equal(greylist_whitelist_load_format(path, bad[i].format, &w, err, sizeof err), RG_CONFIG);
		if (strncmp(err, path, strlen(path)) != 0 || strstr(err, bad[i].err) == NULL)
			fail_msg("%s: expected %s, got %s", bad[i].text, bad[i].err, err);
	}
	/* Not a regular file: refused at once (a FIFO would block a plain read). */
	snprintf(path, sizeof path, "%s/pg-fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(greylist_whitelist_load_format(path, GREYLIST_WL_CLIENTS, &w, err, sizeof err), RG_CONFIG);
	assert_non_null(strstr(err, "not a regular file"));
	assert_int_equal(greylist_whitelist_load_format(dir, GREYLIST_WL_CLIENTS, &w, err, sizeof err), RG_CONFIG);
	assert_non_null(strstr(err, "not a regular file"));
	unlink(path);
}

static void test_admin(void **state)
{
	const struct settings *s;
	const struct store_handle *st;
	struct greylist_stats gs;
	char err[RG_ERRLEN], first[64], key[STORE_KEY_MAX + 1], res[16];
	size_t n, t, a;

	(void)state;
	clock_now = 1830000000;
	assert_int_equal(engine_settings(opts, "", &s, err, sizeof err), RG_FOUND);
	st = store_process(s, err, sizeof err);
	assert_non_null(st);
	/* allow a /22: four /24 networks pass at once */
	assert_int_equal(greylist_admin_allow_net(s, st, "10.9.4.0/22", &n, first, sizeof first, err, sizeof err), RG_FOUND);
	assert_int_equal(n, 4);
	assert_string_equal(first, "10.9.4.0/24");
	assert_string_equal(decide("10.9.7.255", "a@b.example", "u@example.org", NULL, res), "awl");
	assert_string_equal(decide("10.9.8.1", "a@b.example", "u@example.org", NULL, res), "new");
	assert_int_equal(greylist_admin_allow_net(s, st, "10.0.0.0/7", &n, first, sizeof first, err, sizeof err), RG_CONFIG);
	/* allow a triplet */
	assert_int_equal(greylist_admin_allow_triplet(s, st, "10.9.8.1", "a@b.example", "u@example.org", key, sizeof key,
						      err, sizeof err), RG_FOUND);
	assert_string_equal(decide("10.9.8.1", "a@b.example", "u@example.org", NULL, res), "passed");
	/* remove a network: its entry and its triplets */
	assert_string_equal(decide("10.9.4.1", "c@b.example", "u@example.org", NULL, res), "awl");
	assert_int_equal(greylist_admin_remove_net(s, st, "10.9.4.0/24", &n, err, sizeof err), RG_FOUND);
	assert_int_equal(n, 1);
	assert_string_equal(decide("10.9.4.1", "c@b.example", "u@example.org", NULL, res), "new");
	assert_int_equal(greylist_admin_remove_triplet(s, st, "10.9.4.1", "c@b.example", "u@example.org", err, sizeof err),
			 RG_FOUND);
	assert_int_equal(greylist_admin_remove_triplet(s, st, "10.9.4.1", "c@b.example", "u@example.org", err, sizeof err),
			 RG_NOTFOUND);
	/* purge: everything from the earlier tests has expired a month later */
	assert_int_equal(greylist_admin_stats(s, st, clock_now, &gs, err, sizeof err), RG_FOUND);
	assert_true(gs.passing >= 1);
	assert_true(gs.awl_manual == 3);
	clock_now += 40 * 86400;
	assert_int_equal(greylist_admin_purge(st, clock_now, &t, &a, err, sizeof err), RG_FOUND);
	assert_true(t > 5);
	assert_true(a >= 4);
	assert_int_equal(greylist_admin_stats(s, st, clock_now, &gs, err, sizeof err), RG_FOUND);
	assert_int_equal(gs.waiting + gs.passing + gs.expired_triplets + gs.awl_manual + gs.awl_counting +
			 gs.awl_whitelisted + gs.expired_awl, 0);
}

/* 50 processes at once: the same new triplet (one "new", the rest "early", every attempt
 * counted), then 50 distinct triplets of one network passing (the AWL count is 50). */
static void test_concurrent(void **state)
{
	const struct settings *s;
	const struct store_handle *st;
	char err[RG_ERRLEN], key[STORE_KEY_MAX + 1], val[STORE_VAL_MAX], rcpt[64];
	struct greylist_triplet t;
	struct greylist_awl a;
	int round, i, status, news = 0;
	pid_t pids[50];
	size_t vlen;

	(void)state;
	clock_now = 1900000000;
	store_process_close();
	for (round = 0; round < 3; round++) {
		for (i = 0; i < 50; i++) {
			pids[i] = fork();
			if (pids[i] == 0) {
				char res[16];
				const char *r;

				snprintf(rcpt, sizeof rcpt, round == 0 ? "same@example.org" : "r%02d@example.org", i);
				/* AWL after 1000: each of the 50 triplets must pass on its own. */
				r = decide("172.16.5.1", "s@conc.example", rcpt, "greylist_awl_after=1000", res);
				store_process_close();
				/* round 0: new or early; 1: new; 2 (after the delay): passed */
				if (round == 0)
					_exit(strcmp(r, "new") == 0 ? 10 : strcmp(r, "early") == 0 ? 11 : 1);
				_exit(strcmp(r, round == 1 ? "new" : "passed") == 0 ? 0 : 1);
			}
		}
		for (i = 0; i < 50; i++) {
			assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
			assert_true(WIFEXITED(status));
			if (round == 0) {
				assert_true(WEXITSTATUS(status) == 10 || WEXITSTATUS(status) == 11);
				news += WEXITSTATUS(status) == 10;
			} else {
				assert_int_equal(WEXITSTATUS(status), 0);
			}
		}
		if (round == 1)
			clock_now += 300;
	}
	assert_int_equal(news, 1);
	assert_int_equal(engine_settings(opts, "", &s, err, sizeof err), RG_FOUND);
	st = store_process(s, err, sizeof err);
	assert_non_null(st);
	assert_int_equal(greylist_key_triplet(key, sizeof key, "172.16.5.0/24", "s@conc.example", "same@example.org"), 0);
	assert_int_equal(store_get(st, key, val, sizeof val, &vlen, 0, err, sizeof err), RG_FOUND);
	assert_int_equal(greylist_record_decode(val, vlen, &t), 0);
	assert_int_equal(t.defers, 50);
	assert_int_equal(t.first, 1900000000);
	assert_int_equal(greylist_key_awl(key, sizeof key, "172.16.5.0/24"), 0);
	assert_int_equal(store_get(st, key, val, sizeof val, &vlen, 0, err, sizeof err), RG_FOUND);
	assert_int_equal(greylist_record_awl_decode(val, vlen, &a), 0);
	assert_int_equal(a.count, 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sender_normalisation),
		cmocka_unit_test(test_networks),
		cmocka_unit_test(test_state_machine),
		cmocka_unit_test(test_run),
		cmocka_unit_test(test_awl),
		cmocka_unit_test(test_whitelist_errors),
		cmocka_unit_test(test_whitelist_postgrey),
		cmocka_unit_test(test_admin),
		cmocka_unit_test(test_concurrent),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
