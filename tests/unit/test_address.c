/* test_address.c - RFC 5321 address parsing: what passes, what is refused and why. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "address.h"

/* Parse in; assert the outcome and, when refused, that err names the problem. */
static void expect(const char *in, int rc, const char *needle)
{
	struct address a;
	char err[RG_ERRLEN] = "";
	int got = address_parse(in, &a, err, sizeof err);

	if (got != rc)
		fail_msg("%s: expected %d got %d (%s)", in, rc, got, err);
	if (needle != NULL && strstr(err, needle) == NULL)
		fail_msg("%s: error \"%s\" lacks \"%s\"", in, err, needle);
}

static void test_good(void **state)
{
	struct address a;
	char err[RG_ERRLEN];

	(void)state;
	assert_int_equal(address_parse("<User.Name+tag@Example.ORG>", &a, err, sizeof err), RG_FOUND);
	assert_string_equal(a.local, "User.Name+tag");
	assert_string_equal(a.domain, "example.org");
	assert_string_equal(a.full, "User.Name+tag@example.org");
	assert_string_equal(a.key, "User.Name+tag@example.org");
	assert_int_equal(address_parse("\"john smith\"@example.org", &a, err, sizeof err), RG_FOUND);
	assert_string_equal(a.local, "\"john smith\"");
	assert_int_equal(address_parse("\"a@b\"@example.org", &a, err, sizeof err), RG_FOUND);
	assert_string_equal(a.domain, "example.org");
	assert_int_equal(address_parse("postmaster@[192.0.2.1]", &a, err, sizeof err), RG_FOUND);
	expect("a..b@example.org", RG_FOUND, NULL);  /* lenient: the destination decides */
}

static void test_control_bytes(void **state)
{
	(void)state;
	expect("us\rer@example.org", RG_NOTFOUND, "control character");
	expect("user@example.org\r\nRSET", RG_NOTFOUND, "control character");
	expect("us\ter@example.org", RG_NOTFOUND, "control character");
	expect("us\x7f" "er@example.org", RG_NOTFOUND, "control character");
	expect("us\xe9r@example.org", RG_NOTFOUND, "8-bit character in address (not UTF-8)");
	expect("us\xc3\xa9r@example.org", RG_TEMPFAIL, "UTF-8");       /* SMTPUTF8: not refused */
	expect("us\xc0\xafr@example.org", RG_NOTFOUND, "not UTF-8");   /* overlong */
	expect("us\xed\xa0\x80r@example.org", RG_NOTFOUND, "not UTF-8"); /* surrogate */
}

static void test_lengths(void **state)
{
	char buf[600];

	(void)state;
	memset(buf, 'a', 64);
	strcpy(buf + 64, "@example.org");
	expect(buf, RG_FOUND, NULL);
	memset(buf, 'a', 65);
	strcpy(buf + 65, "@example.org");
	expect(buf, RG_NOTFOUND, "local part longer than 64");
	/* 256-octet domain of 63-octet labels */
	strcpy(buf, "u@");
	for (int i = 0; i < 4; i++) {
		memset(buf + strlen(buf), 'd', 63);
		buf[2 + (i + 1) * 63 + i] = '\0';
		strcat(buf, ".");
	}
	strcat(buf, "xyz");
	expect(buf, RG_NOTFOUND, "domain longer than 255");
	strcpy(buf, "u@");
	memset(buf + 2, 'd', 64);
	strcpy(buf + 66, ".org");
	expect(buf, RG_NOTFOUND, "label longer than 63");
	/* RFC 5321 path limit: 254 octets of address (256 with the brackets). */
	strcpy(buf, "u@");
	for (int i = 0; i < 4; i++) {
		memset(buf + strlen(buf), 'd', 62);
		buf[2 + (i + 1) * 62 + i] = '\0';
		strcat(buf, ".");
	}
	strcat(buf, "o");                             /* 2 + 4*63 + 1 = 255 octets */
	expect(buf, RG_NOTFOUND, "address longer than 254");
	buf[strlen(buf) - 2] = '\0';                  /* "...d." cut to 253 octets, no dot */
	expect(buf, RG_FOUND, NULL);
}

static void test_malformed(void **state)
{
	(void)state;
	expect("\"unbalanced@example.org", RG_NOTFOUND, "unbalanced quote");
	expect("un\"balanced@example.org", RG_NOTFOUND, "unbalanced quote");
	expect("<user@example.org", RG_NOTFOUND, "angle");
	expect("user", RG_NOTFOUND, "no domain");
	expect("@example.org", RG_NOTFOUND, "empty local part");
	expect("user@", RG_NOTFOUND, "empty domain");
	expect("<>", RG_NOTFOUND, "empty address");
	expect("us er@example.org", RG_NOTFOUND, "bad character");
	expect("user@exa mple.org", RG_NOTFOUND, "bad character");
	expect("user@example..org", RG_NOTFOUND, "empty label");
	expect("user@example.org.", RG_NOTFOUND, "ends with a dot");
	expect("a(b)@example.org", RG_NOTFOUND, "bad character");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_control_bytes),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
