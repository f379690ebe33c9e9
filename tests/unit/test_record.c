/*
 * test_record.c - unit tests for core/record.c (the store records' one field reader and
 * writer) and the codecs on it: verdict (v:, c:), greylist (g:, a:), FCrDNS (f:). The
 * byte strings are today's on-disk format: records written before the shared reader
 * must still read, and encode again to the same bytes.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "fcrdns.h"
#include "greylist_record.h"
#include "record.h"
#include "verdict.h"

/* The reader: fields, choices, canonical decimals, the free text, the end. */
static void test_reader(void **state)
{
	static const char *const words[] = { "no", "yes" };
	struct record_reader r;
	char w[8], rest[16];
	int64_t d;

	(void)state;
	assert_int_equal(record_read_begin(&r, "7 yes 42 abc  two words ", 24, "7"), 0);
	assert_int_equal(record_read_choice(&r, words, 2), 1);
	assert_int_equal(record_read_decimal(&r, 100, &d), 0);
	assert_int_equal(d, 42);
	assert_int_equal(record_read_word(&r, w, sizeof w), 0);
	assert_string_equal(w, "abc");
	assert_int_equal(record_read_end(&r), -1);
	assert_int_equal(record_read_rest(&r, rest, sizeof rest), 0);
	assert_string_equal(rest, " two words ");
	assert_int_equal(record_read_end(&r), 0);

	/* Another version, a control or non-ASCII byte, an empty record. */
	assert_int_equal(record_read_begin(&r, "8 yes", 5, "7"), -1);
	assert_int_equal(record_read_begin(&r, "77 yes", 6, "7"), -1);
	assert_int_equal(record_read_begin(&r, "7 y\tes", 6, "7"), -1);
	assert_int_equal(record_read_begin(&r, "7 y\x80s", 5, "7"), -1);
	assert_int_equal(record_read_begin(&r, "7 y\0s", 5, "7"), -1);
	assert_int_equal(record_read_begin(&r, "", 0, "7"), -1);
	assert_int_equal(record_read_begin(&r, " 7", 2, "7"), -1);
	/* The length given is the record: bytes past it are not read. */
	assert_int_equal(record_read_begin(&r, "7 abcdefgh", 5, "7"), 0);
	assert_int_equal(record_read_word(&r, w, sizeof w), 0);
	assert_string_equal(w, "abc");
	assert_int_equal(record_read_end(&r), 0);

	/* Empty field (two blanks), field longer than its buffer, a word not a choice. */
	assert_int_equal(record_read_begin(&r, "7  a", 4, "7"), 0);
	assert_int_equal(record_read_word(&r, w, sizeof w), -1);
	assert_int_equal(record_read_begin(&r, "7 abcdefgh", 10, "7"), 0);
	assert_int_equal(record_read_word(&r, w, sizeof w), -1);
	assert_int_equal(record_read_begin(&r, "7 maybe", 7, "7"), 0);
	assert_int_equal(record_read_choice(&r, words, 2), -1);
	/* A missing field. */
	assert_int_equal(record_read_begin(&r, "7", 1, "7"), 0);
	assert_int_equal(record_read_word(&r, w, sizeof w), -1);
	/* A trailing blank is not the end. */
	assert_int_equal(record_read_begin(&r, "7 a ", 4, "7"), 0);
	assert_int_equal(record_read_word(&r, w, sizeof w), 0);
	assert_int_equal(record_read_end(&r), -1);
	/* Free text longer than its buffer. */
	assert_int_equal(record_read_begin(&r, "7 0123456789abcdef", 18, "7"), 0);
	assert_int_equal(record_read_rest(&r, rest, sizeof rest), -1);

	/* Decimals: digits only (leading zeros read, as util_decimal and the Redis script
	 * read them), within max. */
	{
		static const char *const bad[] = { "7 +1", "7 -1", "7 1x", "7 0x10", "7 101",
						   "7 99999999999999999999", "7 1.5" };
		size_t i;

		for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			assert_int_equal(record_read_begin(&r, bad[i], strlen(bad[i]), "7"), 0);
			if (record_read_decimal(&r, 100, &d) == 0)
				fail_msg("decimal \"%s\" read", bad[i] + 2);
		}
		assert_int_equal(record_read_begin(&r, "7 007", 5, "7"), 0);
		assert_int_equal(record_read_decimal(&r, 100, &d), 0);
		assert_int_equal(d, 7);
		assert_int_equal(record_read_begin(&r, "7 0 100", 7, "7"), 0);
		assert_int_equal(record_read_decimal(&r, 100, &d), 0);
		assert_int_equal(d, 0);
		assert_int_equal(record_read_decimal(&r, 100, &d), 0);
		assert_int_equal(d, 100);
	}
}

/* The writer: what it writes reads back, and it never cuts. */
static void test_writer(void **state)
{
	struct record_writer w;
	char buf[16];

	(void)state;
	record_write_begin(&w, buf, sizeof buf, "3");
	record_write_word(&w, "ok");
	record_write_decimal(&w, 12);
	record_write_rest(&w, "a b");
	assert_int_equal(record_write_end(&w), 0);
	assert_string_equal(buf, "3 ok 12 a b");

	record_write_begin(&w, buf, sizeof buf, "3");
	record_write_rest(&w, "");
	assert_int_equal(record_write_end(&w), 0);
	assert_string_equal(buf, "3 ");

	/* 15 bytes fit in 16; 16 do not, and nothing is left half-written. */
	record_write_begin(&w, buf, sizeof buf, "3");
	record_write_rest(&w, "0123456789abc");
	assert_int_equal(record_write_end(&w), 0);
	assert_int_equal(strlen(buf), 15);
	record_write_begin(&w, buf, sizeof buf, "3");
	record_write_rest(&w, "0123456789abcd");
	assert_int_equal(record_write_end(&w), -1);
	assert_string_equal(buf, "");

	/* Fields that would not read back. */
	record_write_begin(&w, buf, sizeof buf, "3");
	record_write_word(&w, "a b");
	assert_int_equal(record_write_end(&w), -1);
	record_write_begin(&w, buf, sizeof buf, "3");
	record_write_word(&w, "");
	assert_int_equal(record_write_end(&w), -1);
	record_write_begin(&w, buf, sizeof buf, "3");
	record_write_decimal(&w, -5);
	assert_int_equal(record_write_end(&w), -1);
	record_write_begin(&w, buf, sizeof buf, "3");
	record_write_rest(&w, "a\nb");
	assert_int_equal(record_write_end(&w), -1);
	/* A bad field spoils the record even when later fields are good. */
	record_write_begin(&w, buf, sizeof buf, "3");
	record_write_word(&w, "x\x7f");
	record_write_word(&w, "y");
	assert_int_equal(record_write_end(&w), -1);
	assert_string_equal(buf, "");
}

/* A verdict record of today's format: decodes, and encodes to the same bytes. */
static void verdict_same(const char *rec, int catchall, struct verdict *v)
{
	char buf[512];

	if (verdict_decode(rec, strlen(rec), catchall, v) != 0)
		fail_msg("record \"%s\" did not decode", rec);
	assert_int_equal(verdict_encode(v, catchall, buf, sizeof buf), 0);
	assert_string_equal(buf, rec);
}

static void test_verdict_records(void **state)
{
	static const char *const bad[] = {
		"2 pass callout 1000 2000 x", "1 maybe callout 1000 2000 x", "1 pass callout 2000 1000 x",
		"1 pass callout 1000", "1 pass callout 1000 x", "1 pass  callout 1000 2000 x",
		"1 pass callout 1000 2000 tab\there", "1 pass sixteen-bytes-long 1000 2000 x",
		"1 pass callout 1000 2000\x7fx", "",
	};
	struct verdict v;
	char text[300];
	size_t i;

	(void)state;
	verdict_same("1 pass callout 1700000000 1700604800 250 2.1.5 <a@example.org> ok", 0, &v);
	assert_int_equal(v.pass, 1);
	assert_string_equal(v.source, "callout");
	assert_int_equal(v.created, 1700000000);
	assert_int_equal(v.expires, 1700604800);
	assert_string_equal(v.text, "250 2.1.5 <a@example.org> ok");
	assert_int_equal(v.known, -1);
	verdict_same("1 fail list 1700000000 1700001800 ", 0, &v);
	assert_int_equal(v.pass, 0);
	assert_string_equal(v.text, "");
	verdict_same("1 fail callout 1000 2800 550 5.1.1 unknown", 0, &v);
	assert_string_equal(v.text, "550 5.1.1 unknown");

	verdict_same("2 yes catchall 1700000000 1700086400 accepted 250 accepted", 1, &v);
	assert_int_equal(v.pass, 1);
	assert_int_equal(v.known, 1);
	verdict_same("2 no catchall 1700000000 1700086400 refused 550 no such user", 1, &v);
	assert_int_equal(v.known, 0);
	verdict_same("2 no catchall 1 2 unchecked ", 1, &v);
	assert_int_equal(v.known, -1);
	/* Without a trailing blank an empty text still reads (written so never, read so always). */
	assert_int_equal(verdict_decode("1 pass list 1 2", 15, 0, &v), 0);
	assert_string_equal(v.text, "");

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (verdict_decode(bad[i], strlen(bad[i]), 0, &v) == 0)
			fail_msg("bad verdict \"%s\" decoded", bad[i]);
	/* A version 1 catch-all record (no known field) is a miss: probed again. */
	assert_int_equal(verdict_decode("1 yes catchall 1 2 250 ok", 25, 1, &v), -1);
	assert_int_equal(verdict_decode("2 yes catchall 1 2 maybe 250 ok", 31, 1, &v), -1);
	/* A text of 199 bytes fits, 200 do not. */
	memset(text, 'x', sizeof text);
	memcpy(text, "1 pass ldap 1 2 ", 16);
	assert_int_equal(verdict_decode(text, 16 + 199, 0, &v), 0);
	assert_int_equal(verdict_decode(text, 16 + 200, 0, &v), -1);
}

static void test_greylist_records(void **state)
{
	static const char *const bad[] = {
		"2 wait 1 2 3 4", "1 hold 1 2 3 4", "1 wait 1 2 3", "1 wait 1 2 3 4 5", "1 wait 1 2 3 4 ",
		"1 wait 1 2 3 4294967296", "1 wait -1 2 3 4", "1  wait 1 2 3 4", "1 wait 1 2 3 0x4",
	};
	struct greylist_triplet t;
	struct greylist_awl a;
	char buf[128];
	size_t i;

	(void)state;
	assert_int_equal(greylist_record_decode("1 wait 1700000000 1700000060 1700172800 2", 41, &t), 0);
	assert_int_equal(t.passed, 0);
	assert_int_equal(t.first, 1700000000);
	assert_int_equal(t.last, 1700000060);
	assert_int_equal(t.expires, 1700172800);
	assert_int_equal(t.defers, 2);
	assert_int_equal(greylist_record_encode(&t, buf, sizeof buf), 0);
	assert_string_equal(buf, "1 wait 1700000000 1700000060 1700172800 2");
	assert_int_equal(greylist_record_decode("1 pass 1 2 3 4294967295", 23, &t), 0);
	assert_int_equal(t.passed, 1);
	assert_int_equal(t.defers, 4294967295u);
	assert_int_equal(greylist_record_encode(&t, buf, sizeof buf), 0);
	assert_string_equal(buf, "1 pass 1 2 3 4294967295");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (greylist_record_decode(bad[i], strlen(bad[i]), &t) == 0)
			fail_msg("bad triplet \"%s\" decoded", bad[i]);

	assert_int_equal(greylist_record_awl_decode("1 auto 3 1000 1500 9000", 23, &a), 0);
	assert_int_equal(a.manual, 0);
	assert_int_equal(a.count, 3);
	assert_int_equal(a.first, 1000);
	assert_int_equal(a.last, 1500);
	assert_int_equal(a.expires, 9000);
	assert_int_equal(greylist_record_awl_encode(&a, buf, sizeof buf), 0);
	assert_string_equal(buf, "1 auto 3 1000 1500 9000");
	assert_int_equal(greylist_record_awl_decode("1 manual 0 1 2 3", 16, &a), 0);
	assert_int_equal(a.manual, 1);
	assert_int_equal(greylist_record_awl_encode(&a, buf, sizeof buf), 0);
	assert_string_equal(buf, "1 manual 0 1 2 3");
	assert_int_equal(greylist_record_awl_decode("1 wait 3 1000 1500 9000", 23, &a), -1);
	assert_int_equal(greylist_record_awl_decode("1 auto 3 1000 1500", 18, &a), -1);
	/* Too small a buffer: an error, never a cut record. */
	assert_int_equal(greylist_record_awl_encode(&a, buf, 10), -1);
	assert_string_equal(buf, "");
}

static void test_fcrdns_records(void **state)
{
	static const char *const bad[] = {
		"1 confirmed +100 3700 a.example", "1 confirmed -5 3700 a.example", "1 confirmed 100 3700 -",
		"1 confirmed 100 3700 A", "1 confirmed 100 3700 a.example ", "1 confirmed 100 3700 a.example extra",
		"1 confirmed 3700 100 a.example", "1 confirmed x 3700 a.example", "2 noptr 1 2 -",
		"1 unknown 1 2 -", "1 mismatch 1 2 a/b.example",
	};
	struct fcrdns_record f;
	char buf[512], longname[300];
	size_t i;

	(void)state;
	assert_int_equal(fcrdns_record_decode("1 confirmed 100 3700 mail.example.org", 37, &f), 0);
	assert_int_equal(f.outcome, FCRDNS_CONFIRMED);
	assert_int_equal(f.created, 100);
	assert_int_equal(f.expires, 3700);
	assert_string_equal(f.name, "mail.example.org");
	assert_int_equal(fcrdns_record_encode(&f, buf, sizeof buf), 0);
	assert_string_equal(buf, "1 confirmed 100 3700 mail.example.org");
	assert_int_equal(fcrdns_record_decode("1 noptr 1700000000 1700003600 -", 31, &f), 0);
	assert_int_equal(f.outcome, FCRDNS_NOPTR);
	assert_string_equal(f.name, "");
	assert_int_equal(fcrdns_record_encode(&f, buf, sizeof buf), 0);
	assert_string_equal(buf, "1 noptr 1700000000 1700003600 -");
	assert_int_equal(fcrdns_record_decode("1 mismatch 1 2 dsl-192-0-2-2.pool.example.net", 45, &f), 0);
	assert_int_equal(f.outcome, FCRDNS_MISMATCH);
	assert_int_equal(fcrdns_record_encode(&f, buf, sizeof buf), 0);
	assert_string_equal(buf, "1 mismatch 1 2 dsl-192-0-2-2.pool.example.net");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (fcrdns_record_decode(bad[i], strlen(bad[i]), &f) == 0)
			fail_msg("bad FCrDNS record \"%s\" decoded", bad[i]);
	/* A name of 253 bytes fits (DNS_NAME_MAX - 1), 254 do not. */
	memcpy(longname, "1 confirmed 1 2 ", 16);
	memset(longname + 16, 'a', 254);
	assert_int_equal(fcrdns_record_decode(longname, 16 + 253, &f), 0);
	assert_int_equal(strlen(f.name), 253);
	assert_int_equal(fcrdns_record_decode(longname, 16 + 254, &f), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader),
		cmocka_unit_test(test_writer),
		cmocka_unit_test(test_verdict_records),
		cmocka_unit_test(test_greylist_records),
		cmocka_unit_test(test_fcrdns_records),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
