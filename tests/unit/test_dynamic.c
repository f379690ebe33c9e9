/* test_dynamic.c - the dynamic-host rule: the built-in set against the labelled table of
 * realistic PTR names (tests/data/dynamic-names.tsv; every misclassification is printed),
 * and the dynamic_patterns file (order, overrides, "builtin off", errors naming file:line). */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "dynamic.h"

#define TABLE "tests/data/dynamic-names.tsv"

/* Parse an address into addr; returns its family. */
static int parse_ip(const char *ip, unsigned char *addr)
{
	if (inet_pton(AF_INET, ip, addr) == 1)
		return AF_INET;
	assert_int_equal(inet_pton(AF_INET6, ip, addr), 1);
	return AF_INET6;
}

/* Every line of the table: no static name called dynamic, ever; dynamic names missed are
 * listed, and at least 90% of them must be caught. */
static void test_table(void **state)
{
	char line[512], why[160];
	unsigned char addr[16];
	unsigned n = 0, dyn = 0, caught = 0, false_pos = 0, ln = 0;
	FILE *f = fopen(TABLE, "r");

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof line, f) != NULL) {
		char *cls, *ip, *name, *save;
		int is, want;

		ln++;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		cls = strtok_r(line, "\t", &save);
		ip = strtok_r(NULL, "\t", &save);
		name = strtok_r(NULL, "\t", &save);
		assert_non_null(name);
		want = strcmp(cls, "dynamic") == 0;
		assert_true(want || strcmp(cls, "static") == 0);
		why[0] = '\0';
		is = dynamic_builtin(name, addr, parse_ip(ip, addr), why, sizeof why);
		n++;
		dyn += want;
		caught += want && is;
		if (is && !want) {
			false_pos++;
			printf("FALSE POSITIVE %s:%u: %s (%s) called dynamic: %s\n", TABLE, ln, name, ip, why);
		} else if (want && !is) {
			printf("missed (dynamic, not caught) %s:%u: %s (%s)\n", TABLE, ln, name, ip);
		}
	}
	fclose(f);
	printf("dynamic-names.tsv: %u names, %u dynamic, %u caught, %u false positives\n", n, dyn, caught, false_pos);
	assert_true(n >= 300);
	assert_int_equal(false_pos, 0);
	assert_true(caught * 10 >= dyn * 9);
}

/* A few exact cases: address must be the client's own, server words win. */
static void test_builtin_cases(void **state)
{
	unsigned char a[16];

	(void)state;
	parse_ip("84.1.2.3", a);
	assert_int_equal(dynamic_builtin("dsl-84-1-2-3.pool.example.net", a, AF_INET, NULL, 0), 1);
	assert_int_equal(dynamic_builtin("dsl-3-2-1-84.pool.example.net", a, AF_INET, NULL, 0), 1);
	assert_int_equal(dynamic_builtin("dsl-084-001-002-003.pool.example.net", a, AF_INET, NULL, 0), 1);
	assert_int_equal(dynamic_builtin("p54010203.dip0.t-ipconnect.de", a, AF_INET, NULL, 0), 1);
	/* another address's name */
	assert_int_equal(dynamic_builtin("dsl-84-1-2-4.pool.example.net", a, AF_INET, NULL, 0), 0);
	/* the address but no pool word */
	assert_int_equal(dynamic_builtin("host-84-1-2-3.example.net", a, AF_INET, NULL, 0), 0);
	/* a pool word but not the address */
	assert_int_equal(dynamic_builtin("mail.dynamic.example.net", a, AF_INET, NULL, 0), 0);
	/* server words win */
	assert_int_equal(dynamic_builtin("static-84-1-2-3.dsl.example.net", a, AF_INET, NULL, 0), 0);
	assert_int_equal(dynamic_builtin("mail-84-1-2-3.cable.example.net", a, AF_INET, NULL, 0), 0);
	assert_int_equal(dynamic_builtin("mx1.84-1-2-3.pool.example.net", a, AF_INET, NULL, 0), 0);
	/* ...but not in the registered domain */
	assert_int_equal(dynamic_builtin("dsl-84-1-2-3.pool.mailnet.example", a, AF_INET, NULL, 0), 1);
	/* numbers glued to more digits are no octets */
	assert_int_equal(dynamic_builtin("dsl-84-1-2-31.pool.example.net", a, AF_INET, NULL, 0), 0);
	parse_ip("2a02:8108:1d40:5b00::17", a);
	assert_int_equal(dynamic_builtin("2a02-8108-1d40-5b00-0-0-0-17.dyn6.example.net", a, AF_INET6, NULL, 0), 1);
	assert_int_equal(dynamic_builtin("p2a0281081d405b00.dip0.example.net", a, AF_INET6, NULL, 0), 1);
	assert_int_equal(dynamic_builtin("2a02-8108-1d40-5b01.dyn6.example.net", a, AF_INET6, NULL, 0), 0);
	assert_int_equal(dynamic_builtin("2a02-8108-1d40-5b00.fixed6.example.net", a, AF_INET6, NULL, 0), 0);
}

/* Write a patterns file; returns its path. */
static const char *patterns(const char *text)
{
	static char path[64];
	FILE *f;

	snprintf(path, sizeof path, "/tmp/test_dynamic.%d.patterns", (int)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	/* mtime granularity: make sure a rewrite is seen as a change */
	dynamic_reset();
	return path;
}

static void test_file(void **state)
{
	char why[160], err[RG_ERRLEN];
	unsigned char a[16];
	const char *p;

	(void)state;
	parse_ip("84.1.2.3", a);
	p = patterns("# comment\n\nstatic ^dsl-84-1-2-3\\.pool\\.example\\.net$\ndynamic \\.dialin\\.example\\.org$\n");
	assert_int_equal(dynamic_check("dsl-84-1-2-3.pool.example.net", a, AF_INET, p, why, sizeof why, err, sizeof err),
			 RG_NOTFOUND);
	assert_int_equal(dynamic_check("HOST7.DIALIN.example.org", a, AF_INET, p, why, sizeof why, err, sizeof err),
			 RG_FOUND);
	assert_non_null(strstr(why, ":4"));
	/* no line matches: the built-in rule */
	assert_int_equal(dynamic_check("dsl-3-2-1-84.pool.example.net", a, AF_INET, p, why, sizeof why, err, sizeof err),
			 RG_FOUND);
	p = patterns("builtin off\ndynamic ^x\n");
	assert_int_equal(dynamic_check("dsl-3-2-1-84.pool.example.net", a, AF_INET, p, why, sizeof why, err, sizeof err),
			 RG_NOTFOUND);
	p = patterns("static ok\ndynamic (unclosed\n");
	assert_int_equal(dynamic_check("x", a, AF_INET, p, why, sizeof why, err, sizeof err), RG_CONFIG);
	assert_non_null(strstr(err, ".patterns:2: bad regular expression"));
	p = patterns("dynamic ok\nsometimes x\n");
	assert_int_equal(dynamic_check("x", a, AF_INET, p, why, sizeof why, err, sizeof err), RG_CONFIG);
	assert_non_null(strstr(err, ".patterns:2: unknown keyword \"sometimes\""));
	p = patterns("static\n");
	assert_int_equal(dynamic_check("x", a, AF_INET, p, why, sizeof why, err, sizeof err), RG_CONFIG);
	assert_non_null(strstr(err, ".patterns:1: static needs a regular expression"));
	unlink(p);
	assert_int_equal(dynamic_check("x", a, AF_INET, p, why, sizeof why, err, sizeof err), RG_CONFIG);
	assert_non_null(strstr(err, "No such file"));
	dynamic_reset();
}

/* Patterns that would eat memory or time are refused or bounded, naming file:line; the
 * check defers (RG_CONFIG), the process lives on. */
static void test_pathological(void **state)
{
	char why[160], err[RG_ERRLEN], text[200], name[64];
	unsigned char a[16];
	const char *p;

	(void)state;
	parse_ip("84.1.2.3", a);
	/* "a" and 25 "+": glibc's regcomp took over 4 GB for it. */
	snprintf(text, sizeof text, "static ok\ndynamic a%s\n", "+++++++++++++++++++++++++");
	p = patterns(text);
	assert_int_equal(dynamic_check("x", a, AF_INET, p, why, sizeof why, err, sizeof err), RG_CONFIG);
	assert_non_null(strstr(err, ".patterns:2: bad regular expression: "));
	/* A pattern that needs more than its compile budget. */
	p = patterns("dynamic ((((a{1000}){100}){100}){100})\n");
	assert_int_equal(dynamic_check("x", a, AF_INET, p, why, sizeof why, err, sizeof err), RG_CONFIG);
	assert_non_null(strstr(err, ".patterns:1: bad regular expression: "));
	/* Nested quantifiers: exponential backtracking stops at the match limit. */
	p = patterns("static ^mx\\.\ndynamic ^(a+)+$\n");
	memset(name, 'a', 40);
	strcpy(name + 40, "b.example");
	assert_int_equal(dynamic_check(name, a, AF_INET, p, why, sizeof why, err, sizeof err), RG_CONFIG);
	assert_non_null(strstr(err, ".patterns:2: regular expression over its match limits"));
	/* The same file still answers names that the first line decides. */
	assert_int_equal(dynamic_check("mx.example", a, AF_INET, p, why, sizeof why, err, sizeof err), RG_NOTFOUND);
	/* PCRE2 syntax, case-insensitive. */
	p = patterns("dynamic ^\\d+-\\d+\\.POOL\\.\n");
	assert_int_equal(dynamic_check("12-34.pool.example", a, AF_INET, p, why, sizeof why, err, sizeof err),
			 RG_FOUND);
	unlink(p);
	dynamic_reset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_builtin_cases),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_pathological),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
