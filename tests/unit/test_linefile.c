/* test_linefile.c - the one line reader: one "line too long" rule (file:line), CR
 * handling, a last line without "\n", refusal of FIFOs, devices and too large files. */
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

#include "linefile.h"

static char path[128];

/* Write text (len bytes) to the test file. */
static void put(const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
}

static void test_lines(void **state)
{
	struct linefile lf;
	char err[RG_ERRLEN], *line;
	size_t len;

	(void)state;
	snprintf(path, sizeof path, "/tmp/test_linefile.%d", (int)getpid());
	put("one\r\ntwo\n\nfour\0x\nlast", 22);
	assert_int_equal(linefile_open(&lf, path, 100, 10, err, sizeof err), RG_FOUND);
	assert_int_equal(linefile_next(&lf, &line, &len, err, sizeof err), 1);
	assert_string_equal(line, "one");
	assert_int_equal(linefile_next(&lf, &line, &len, err, sizeof err), 1);
	assert_string_equal(line, "two");
	assert_int_equal(linefile_next(&lf, &line, &len, err, sizeof err), 1);
	assert_int_equal(len, 0);
	assert_int_equal(linefile_next(&lf, &line, &len, err, sizeof err), 1);
	assert_int_equal(len, 6);               /* the NUL is kept for the caller to name */
	assert_int_equal(linefile_next(&lf, &line, &len, err, sizeof err), 1);
	assert_string_equal(line, "last");
	assert_int_equal(lf.line, 5);
	assert_int_equal(linefile_next(&lf, &line, &len, err, sizeof err), 0);
	linefile_close(&lf);

	/* 10 bytes are fine (with or without a CR), 11 are not. */
	put("0123456789\r\n0123456789\n01234567890\n", 35);
	assert_int_equal(linefile_open(&lf, path, 100, 10, err, sizeof err), RG_FOUND);
	assert_int_equal(linefile_next(&lf, &line, &len, err, sizeof err), 1);
	assert_int_equal(linefile_next(&lf, &line, &len, err, sizeof err), 1);
	assert_int_equal(linefile_next(&lf, &line, &len, err, sizeof err), -1);
	{
		char want[RG_ERRLEN];

		snprintf(want, sizeof want, "%s:3: line longer than 10 bytes", path);
		assert_string_equal(err, want);
	}
	linefile_close(&lf);

	/* Size bound. */
	assert_int_equal(linefile_open(&lf, path, 34, 10, err, sizeof err), RG_CONFIG);
	assert_non_null(strstr(err, "larger than 34 bytes"));
	unlink(path);
	assert_int_equal(linefile_open(&lf, path, 34, 10, err, sizeof err), RG_NOTFOUND);
	assert_non_null(strstr(err, "cannot open: No such file"));
}

static void test_not_regular(void **state)
{
	struct linefile lf;
	char err[RG_ERRLEN];

	(void)state;
	alarm(10);
	snprintf(path, sizeof path, "/tmp/test_linefile.%d.fifo", (int)getpid());
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(linefile_open(&lf, path, 100, 10, err, sizeof err), RG_CONFIG);
	assert_non_null(strstr(err, "not a regular file (a FIFO)"));
	unlink(path);
	assert_int_equal(linefile_open(&lf, "/dev/zero", 100, 10, err, sizeof err), RG_CONFIG);
	assert_string_equal(err, "/dev/zero: not a regular file (a character device)");
	assert_int_equal(linefile_open(&lf, "/tmp", 100, 10, err, sizeof err), RG_CONFIG);
	assert_string_equal(err, "/tmp: not a regular file (a directory)");
	alarm(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_not_regular),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
