/* test_yield.c - the yield line (what Exim's ${extract} reads) and the record codec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "verdict.h"
#include "yield.h"

static void test_yield_format(void **state)
{
	struct yield y;
	char v[256];

	(void)state;
	yield_init(&y, "fail");
	yield_add(&y, "source", "cache");
	yield_add(&y, "message", "<nobody@example.org>: recipient unknown");
	yield_add(&y, "empty", "");
	yield_add_int(&y, "wait", 300);
	assert_string_equal(y.line,
		"result=fail source=cache message=\"<nobody@example.org>: recipient unknown\" wait=300");
	assert_int_equal(yield_get(y.line, "message", v, sizeof v), 0);
	assert_string_equal(v, "<nobody@example.org>: recipient unknown");
	assert_int_equal(yield_get(y.line, "wait", v, sizeof v), 0);
	assert_string_equal(v, "300");
	assert_int_equal(yield_get(y.line, "empty", v, sizeof v), -1);
}

static void test_yield_hostile(void **state)
{
	struct yield y;
	char v[256];

	(void)state;
	yield_init(&y, "defer");
	/* A remote reply trying to inject a key and break the quoting. */
	yield_add(&y, "detail", "550 \"x\" result=pass\\ \r\n\x01\xff");
	/* Quotes and backslashes are escaped the way Exim's string_dequote() reads them. */
	assert_string_equal(y.line, "result=defer detail=\"550 \\\"x\\\" result=pass\\\\ ????\"");
	assert_int_equal(yield_get(y.line, "result", v, sizeof v), 0);
	assert_string_equal(v, "defer");
	assert_int_equal(yield_get(y.line, "detail", v, sizeof v), 0);
	assert_string_equal(v, "550 \"x\" result=pass\\ ????");
	/* A quoted local part survives the round trip. */
	yield_init(&y, "fail");
	yield_add(&y, "message", "<\"a b\"@example.org>: recipient unknown");
	assert_int_equal(yield_get(y.line, "message", v, sizeof v), 0);
	assert_string_equal(v, "<\"a b\"@example.org>: recipient unknown");
	/* Overflow is marked, never a broken line. */
	char big[3000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	yield_add(&y, "more", big);
	assert_true(y.truncated);
	assert_true(strlen(y.line) < YIELD_MAX);
}

/* The one tokenizer: quoted values with escapes, words without "=", bounds. */
static void test_yield_next(void **state)
{
	const char *p = "result=fail junk message=\"<\\\"a b\\\"@x>: no \\\\ way\" detail=after  x=";
	char k[YIELD_KEY_MAX], v[YIELD_MAX], small[4];

	(void)state;
	assert_int_equal(yield_next(&p, k, sizeof k, v, sizeof v), 1);
	assert_string_equal(k, "result");
	assert_string_equal(v, "fail");
	assert_int_equal(yield_next(&p, k, sizeof k, v, sizeof v), 1);
	assert_string_equal(k, "message");
	assert_string_equal(v, "<\"a b\"@x>: no \\ way");
	assert_int_equal(yield_next(&p, k, sizeof k, v, sizeof v), 1);
	assert_string_equal(k, "detail");
	assert_string_equal(v, "after");
	assert_int_equal(yield_next(&p, k, sizeof k, v, sizeof v), 1);
	assert_string_equal(k, "x");
	assert_string_equal(v, "");
	assert_int_equal(yield_next(&p, k, sizeof k, v, sizeof v), 0);
	p = "k=long";
	assert_int_equal(yield_next(&p, k, sizeof k, small, sizeof small), -1);
	p = "unterminated=\"abc";
	assert_int_equal(yield_next(&p, k, sizeof k, v, sizeof v), 1);
	assert_string_equal(v, "abc");
	assert_int_equal(yield_get("a=\"x\\\"y z\" b=2", "b", v, sizeof v), 0);
	assert_string_equal(v, "2");
}

/* The lookup face's query splitter: plain and quoted words, the rest, a bad quote. */
static void test_yield_words(void **state)
{
	char q[128], *w[4], *rest;

	(void)state;
	strcpy(q, " recipient  \"a \\\"b\\\\@x.test\" config=/c x=1");
	assert_int_equal(yield_words(q, w, 2, &rest), 2);
	assert_string_equal(w[0], "recipient");
	assert_string_equal(w[1], "a \"b\\@x.test");
	assert_string_equal(rest, " config=/c x=1");
	strcpy(q, "one");
	assert_int_equal(yield_words(q, w, 2, &rest), 1);
	assert_string_equal(rest, "");
	strcpy(q, "f \"open");
	assert_int_equal(yield_words(q, w, 2, &rest), -1);
}

static void test_verdict_codec(void **state)
{
	struct verdict v = { .pass = 1, .source = "callout", .created = 1000, .expires = 2000,
			     .text = "250 2.1.5 ok" }, w;
	char buf[512];

	(void)state;
	assert_int_equal(verdict_encode(&v, 0, buf, sizeof buf), 0);
	assert_string_equal(buf, "1 pass callout 1000 2000 250 2.1.5 ok");
	assert_int_equal(verdict_decode(buf, strlen(buf), 0, &w), 0);
	assert_int_equal(w.pass, 1);
	assert_string_equal(w.source, "callout");
	assert_int_equal(w.expires, 2000);
	assert_string_equal(w.text, "250 2.1.5 ok");
	/* A catch-all record is not a verdict and vice versa. */
	assert_int_equal(verdict_decode(buf, strlen(buf), 1, &w), -1);
	v.pass = 0;
	v.known = 0;
	assert_int_equal(verdict_encode(&v, 1, buf, sizeof buf), 0);
	assert_string_equal(buf, "2 no callout 1000 2000 refused 250 2.1.5 ok");
	assert_int_equal(verdict_decode(buf, strlen(buf), 1, &w), 0);
	assert_int_equal(w.pass, 0);
	assert_int_equal(w.known, 0);
	v.known = 1;
	assert_int_equal(verdict_encode(&v, 1, buf, sizeof buf), 0);
	assert_int_equal(verdict_decode(buf, strlen(buf), 1, &w), 0);
	assert_int_equal(w.known, 1);
	v.known = -1;
	assert_int_equal(verdict_encode(&v, 1, buf, sizeof buf), 0);
	assert_int_equal(verdict_decode(buf, strlen(buf), 1, &w), 0);
	assert_int_equal(w.known, -1);
	/* A version 1 catch-all record (no known-address field) is a miss: probed again. */
	assert_int_equal(verdict_decode("1 no catchall 1000 2000 550 5.1.1 unknown",
					strlen("1 no catchall 1000 2000 550 5.1.1 unknown"), 1, &w), -1);
	assert_int_equal(verdict_decode("2 no catchall 1000 2000 maybe 550 x", strlen("2 no catchall 1000 2000 maybe 550 x"), 1, &w), -1);
}

static void test_verdict_strict(void **state)
{
	static const char *bad[] = {
		"", "1", "2 pass callout 1 2 x", "1 maybe callout 1 2 x", "1 pass callout x 2 y",
		"1 pass callout 1 2x", "1 pass callout 5 2 expires before created",
		"1 pass callout -1 2 x", "1  pass callout 1 2", "1 pass callout 1 2 \x01",
	};
	struct verdict w;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (verdict_decode(bad[i], strlen(bad[i]), 0, &w) != -1)
			fail_msg("accepted malformed record \"%s\"", bad[i]);
	/* A torn write (a prefix of a good record) never decodes as a different verdict. */
	const char *good = "1 fail callout 1000 2800 550 5.1.1 unknown";
	for (i = 0; i < strlen(good); i++) {
		if (verdict_decode(good, i, 0, &w) == 0)
			assert_int_equal(w.pass, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yield_format),
		cmocka_unit_test(test_yield_hostile),
		cmocka_unit_test(test_yield_next),
		cmocka_unit_test(test_yield_words),
		cmocka_unit_test(test_verdict_codec),
		cmocka_unit_test(test_verdict_strict),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
