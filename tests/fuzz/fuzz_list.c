/* fuzz_list.c - libFuzzer target: a customer's list file (any bytes) never crashes the list
 * parser, its bounds or its end-marker rule, and a file it accepts sorts cleanly. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "list_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Only example.org and its subdomains may be listed. */
static int fuzz_allowed(void *arg, const char *domain)
{
	size_t n = strlen(domain);

	(void)arg;
	return strcmp(domain, "example.org") == 0 || (n > 12 && strcmp(domain + n - 12, ".example.org") == 0);
}

/* Problems are only counted. */
static void fuzz_problem(void *arg, unsigned long line, const char *what, const char *msg)
{
	(void)line;
	(void)what;
	(void)msg;
	++*(unsigned long *)arg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct list_parse lp;
	unsigned long seen = 0;
	char err[RG_ERRLEN], **v;
	size_t n, i;
	FILE *f;

	if (size < 1)
		return 0;
	memset(&lp, 0, sizeof lp);
	lp.path = "fuzz.list";
	lp.allowed = fuzz_allowed;
	lp.fn = fuzz_problem;
	lp.arg = &seen;
	/* The first byte picks the options: end marker, problem count, small bounds. */
	lp.end_marker = data[0] & 1;
	lp.max = (data[0] >> 1) & 3;
	lp.max_bytes = data[0] & 8 ? 512 : 0;
	lp.max_lines = data[0] & 16 ? 7 : 0;
	/* fmemopen() wants at least one byte: an empty body reads one NUL. */
	if ((f = fmemopen(size > 1 ? (void *)(data + 1) : (void *)"", size > 1 ? size - 1 : 1, "r")) == NULL)
		return 0;
	if (list_parse_stream(&lp, f, err, sizeof err) == 0 && lp.problems == 0 && (v = list_parse_sorted(&lp, &n))) {
		for (i = 1; i < n; i++)
			if (strcmp(v[i - 1], v[i]) >= 0)
				abort();        /* sorted, no duplicates */
		free(v);
	}
	if (seen > lp.problems)
		abort();
	fclose(f);
	list_parse_free(&lp);
	return 0;
}
