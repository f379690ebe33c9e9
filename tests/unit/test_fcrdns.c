/* test_fcrdns.c - the FCrDNS cache record (strict format) and the cache in use: a stored
 * record answers with source=cache and no DNS query, the dynamic rule applies to cached
 * names, an expired record is asked again, deferrals are never cached. Time is driven with
 * util_set_clock(); the resolver is pointed at a closed loopback port (nothing leaves). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "fcrdns.h"
#include "store.h"

static char dir[64], conf[128], opts[256];
static int64_t clock_now = 1800000000;

static int64_t test_clock(void)
{
	return clock_now;
}

static void test_record_roundtrip(void **state)
{
	struct fcrdns_record r = { FCRDNS_CONFIRMED, 100, 3700, "mail.example.org" }, d;
	char buf[STORE_VAL_MAX];

	(void)state;
	assert_int_equal(fcrdns_record_encode(&r, buf, sizeof buf), 0);
	assert_string_equal(buf, "1 confirmed 100 3700 mail.example.org");
	assert_int_equal(fcrdns_record_decode(buf, strlen(buf), &d), 0);
	assert_int_equal(d.outcome, FCRDNS_CONFIRMED);
	assert_int_equal(d.created, 100);
	assert_int_equal(d.expires, 3700);
	assert_string_equal(d.name, "mail.example.org");
	r.outcome = FCRDNS_NOPTR;
	r.name[0] = '\0';
	assert_int_equal(fcrdns_record_encode(&r, buf, sizeof buf), 0);
	assert_string_equal(buf, "1 noptr 100 3700 -");
	assert_int_equal(fcrdns_record_decode(buf, strlen(buf), &d), 0);
	assert_int_equal(d.outcome, FCRDNS_NOPTR);
	assert_string_equal(d.name, "");
	assert_int_equal(fcrdns_record_key(buf, sizeof buf, "2001:db8::5"), 0);
	assert_string_equal(buf, "f:2001:db8::5");
}

/* Anything but the exact format is a miss. */
static void test_record_strict(void **state)
{
	static const char *const bad[] = {
		"", "1", "2 confirmed 100 3700 a.example", "1 confirmed 100 3700 -",
		"1 maybe 100 3700 a.example", "1 confirmed 3700 100 a.example", "1 confirmed x 3700 a.example",
		"1 confirmed 100 3700 a.example extra", "1 confirmed 100 3700 A\"B", "1 noptr 100 3700 a\tb",
		"1 confirmed -5 3700 a.example", "1  confirmed 100 3700 a.example",
		"1 confirmed +100 3700 a.example", "1 confirmed 100 3700 a.example ",
	};
	struct fcrdns_record d;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(fcrdns_record_decode(bad[i], strlen(bad[i]), &d), -1);
	assert_int_equal(fcrdns_record_decode("1 mismatch 1 2 x.example\n", 25, &d), -1);
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

/* Put a raw record for ip. */
static void put(const char *ip, const char *val)
{
	char key[STORE_KEY_MAX + 1], err[RG_ERRLEN];
	const struct store_handle *st = store_at(dir, 8, err, sizeof err);

	assert_non_null(st);
	fcrdns_record_key(key, sizeof key, ip);
	assert_int_equal(store_put(st, key, val, strlen(val), 0, 0, err, sizeof err), RG_FOUND);
}

/* The raw record of ip, or "" */
static const char *get(const char *ip)
{
	static char val[STORE_VAL_MAX];
	char key[STORE_KEY_MAX + 1], err[RG_ERRLEN];
	const struct store_handle *st = store_at(dir, 8, err, sizeof err);
	size_t vlen;

	assert_non_null(st);
	fcrdns_record_key(key, sizeof key, ip);
	if (store_get(st, key, val, sizeof val, &vlen, 0, err, sizeof err) != RG_FOUND)
		return "";
	return val;
}

static void test_cache(void **state)
{
	struct yield y;
	char v[64], rec[128], o2[320];

	(void)state;
	snprintf(rec, sizeof rec, "1 confirmed %lld %lld mx1.example.org", (long long)clock_now, (long long)clock_now + 600);
	put("127.0.9.1", rec);
	assert_int_equal(fcrdns_run("127.0.9.1", opts, &y), RG_FOUND);
	assert_int_equal(yield_get(y.line, "source", v, sizeof v), 0);
	assert_string_equal(v, "cache");
	assert_int_equal(yield_get(y.line, "hostname", v, sizeof v), 0);
	assert_string_equal(v, "mx1.example.org");
	assert_int_equal(yield_get(y.line, "ttl", v, sizeof v), 0);
	assert_string_equal(v, "600");
	/* IPv4-mapped form: the same client, the same record */
	assert_int_equal(fcrdns_run("::ffff:127.0.9.1", opts, &y), RG_FOUND);

	/* cached names get today's dynamic rule */
	snprintf(rec, sizeof rec, "1 confirmed %lld %lld dsl-192-0-2-2.pool.example.net", (long long)clock_now,
		 (long long)clock_now + 600);
	put("192.0.2.2", rec);
	assert_int_equal(fcrdns_run("192.0.2.2", opts, &y), RG_NOTFOUND);
	assert_non_null(strstr(y.line, "result=fail source=cache reason=dynamic"));
	assert_non_null(strstr(y.line, FCRDNS_MSG_DYNAMIC));
	snprintf(o2, sizeof o2, "%s dynamic_action=flag", opts);
	assert_int_equal(fcrdns_run("192.0.2.2", o2, &y), RG_FOUND);
	assert_non_null(strstr(y.line, "dynamic=yes"));

	/* negative records */
	snprintf(rec, sizeof rec, "1 noptr %lld %lld -", (long long)clock_now, (long long)clock_now + 300);
	put("2001:db8::5", rec);
	assert_int_equal(fcrdns_run("2001:0db8:0:0::5", opts, &y), RG_NOTFOUND);
	assert_non_null(strstr(y.line, "result=fail source=cache reason=noptr"));
	assert_non_null(strstr(y.line, FCRDNS_MSG_NOPTR));

	/* expired: asked again; the resolver cannot answer -> defer, and nothing is cached */
	clock_now += 601;
	assert_int_equal(fcrdns_run("127.0.9.1", opts, &y), RG_TEMPFAIL);
	assert_non_null(strstr(y.line, "result=defer reason=dnserror"));
	assert_non_null(strstr(get("127.0.9.1"), "mx1.example.org"));   /* the old record, untouched */

	/* a malformed record is a miss, never a verdict */
	put("127.0.9.3", "1 confirmed 1 99999999999 bad\"name");
	assert_int_equal(fcrdns_run("127.0.9.3", opts, &y), RG_TEMPFAIL);
}

/* purge deletes expired and unreadable records, keeps live ones. */
static void test_purge(void **state)
{
	char err[RG_ERRLEN], val[STORE_VAL_MAX];
	const struct store_handle *st;
	size_t n = 99, vlen;

	(void)state;
	st = store_at(dir, 8, err, sizeof err);
	assert_non_null(st);
	/* What earlier tests left and has expired by 500 goes first. */
	assert_int_equal(fcrdns_purge(st, 500, &n, err, sizeof err), RG_FOUND);
	put("192.0.2.10", "1 confirmed 100 200 old.example");
	put("192.0.2.11", "1 confirmed 100 999999 live.example");
	put("192.0.2.12", "garbage");
	assert_int_equal(fcrdns_purge(st, 500, &n, err, sizeof err), RG_FOUND);
	assert_int_equal(n, 2);
	assert_int_equal(store_get(st, "f:192.0.2.10", val, sizeof val, &vlen, 0, err, sizeof err), RG_NOTFOUND);
	assert_int_equal(store_get(st, "f:192.0.2.12", val, sizeof val, &vlen, 0, err, sizeof err), RG_NOTFOUND);
	assert_int_equal(store_get(st, "f:192.0.2.11", val, sizeof val, &vlen, 0, err, sizeof err), RG_FOUND);
}

static void test_bad_input(void **state)
{
	struct yield y;
	char o2[320];

	(void)state;
	assert_int_equal(fcrdns_run("192.0.2.300", opts, &y), RG_CONFIG);
	assert_non_null(strstr(y.line, "result=defer reason=syntax"));
	assert_int_equal(fcrdns_run("", opts, &y), RG_CONFIG);
	assert_int_equal(fcrdns_run("1.2.3.4\r\nX", opts, &y), RG_CONFIG);
	assert_null(strchr(y.line, '\r'));
	snprintf(o2, sizeof o2, "%s dns_timeout=forever", opts);
	assert_int_equal(fcrdns_run("127.0.9.1", o2, &y), RG_CONFIG);
	assert_non_null(strstr(y.line, "dns_timeout"));
	assert_non_null(strstr(y.line, "result=defer reason=config"));
}

static int setup(void **state)
{
	FILE *f;

	(void)state;
	snprintf(dir, sizeof dir, "/tmp/test_fcrdns.%d", (int)getpid());
	snprintf(conf, sizeof conf, "%s/rcptguard.conf", dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	f = fopen(conf, "w");
	/* port 1 on loopback: closed; nothing can leave the machine */
	fprintf(f, "state_dir = %s\ndns_forward = 127.0.0.1@1\ndns_timeout = 1s\n", dir);
	fclose(f);
	snprintf(opts, sizeof opts, "config=%s", conf);
	util_set_clock(test_clock);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	fcrdns_shutdown();
	store_process_close();
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_roundtrip),
		cmocka_unit_test(test_record_strict),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_purge),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
