/*
 * verdict_loop.c - one cached verdict in the engine (tests/bench/run.sh, figure 2).
 *
 *   verdict_loop CONFIG ADDRESSES ITERATIONS
 *
 * Calls verify_run_recipient() (what the Exim module calls for every RCPT) on addresses
 * whose verdicts are already in the LMDB cache, ITERATIONS times in turn, timing each
 * call with clock_gettime(CLOCK_MONOTONIC), and prints
 *   calls=N p50_ns=.. p90_ns=.. p99_ns=.. max_ns=.. mean_ns=.. per_s=..
 * The first round (one call per address, not timed) warms the process (config loaded,
 * store opened) and checks that every answer comes from the cache: exit 1 otherwise.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rglog.h"
#include "verify.h"

#define MAX_ADDRS 10000

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void drop_line(int level, const char *line)
{
	(void)level;
	(void)line;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static char *addrs[MAX_ADDRS];
	char options[1200], line[1024];
	size_t naddrs = 0, i, n;
	int64_t *t, sum = 0, t0, t1;
	struct yield y;
	FILE *f;

	if (argc != 4) {
		fprintf(stderr, "usage: verdict_loop CONFIG ADDRESSES ITERATIONS\n");
		return 64;
	}
	n = (size_t)strtoul(argv[3], NULL, 10);
	if (n == 0 || snprintf(options, sizeof options, "config=%s", argv[1]) >= (int)sizeof options)
		return 64;
	if ((f = fopen(argv[2], "r")) == NULL) {
		perror(argv[2]);
		return 2;
	}
	while (naddrs < MAX_ADDRS && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] && (addrs[naddrs] = strdup(line)) != NULL)
			naddrs++;
	}
	fclose(f);
	if (naddrs == 0)
		return 2;
	/* As in Exim without -d: each verdict line is formatted and handed to the hook, which
	 * here drops it (in Exim, log_write then writes it to the main log: Exim's cost). */
	rglog_set_hook(drop_line, 0);
	for (i = 0; i < naddrs; i++) {
		verify_run_recipient(addrs[i], options, &y);
		if (strstr(y.line, "source=cache") == NULL) {
			fprintf(stderr, "verdict_loop: %s is not answered from the cache: %s\n", addrs[i], y.line);
			return 1;
		}
	}
	printf("sample_yield=%s\n", y.line);
	t = malloc(sizeof *t * n);
	if (t == NULL)
		return 2;
	for (i = 0; i < n; i++) {
		t0 = now_ns();
		verify_run_recipient(addrs[i % naddrs], options, &y);
		t1 = now_ns();
		t[i] = t1 - t0;
		sum += t[i];
	}
	qsort(t, n, sizeof *t, cmp_i64);
	printf("calls=%zu p50_ns=%lld p90_ns=%lld p99_ns=%lld max_ns=%lld mean_ns=%lld per_s=%.0f\n", n,
	       (long long)t[n / 2], (long long)t[n * 90 / 100], (long long)t[n * 99 / 100],
	       (long long)t[n - 1], (long long)(sum / (int64_t)n), 1e9 * (double)n / (double)sum);
	verify_shutdown();
	free(t);
	return 0;
}
