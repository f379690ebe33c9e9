/*
 * fcrdns_cost.c - what one FCrDNS check costs a fresh process (tests/bench/fcrdns.sh).
 *
 *   fcrdns_cost CONFIG IP FORKS
 *
 * Exim forks a process per SMTP connection; each child here plays one: fork, one
 * fcrdns_run(IP), exit, timed in the child from just before the call to just after it.
 * Two kinds, interleaved: "first" (fcrdns_cache_ttl=0: the lazy dlopen of libunbound,
 * the resolver context and thread, the PTR and A queries to the server) and "cached"
 * (the verdict from the store: config read, LMDB opened, one get). Prints
 *   first_us_p50=.. first_us_p90=.. cached_us_p50=.. cached_us_p90=.. first_yield=.. cached_yield=..
 * and exits 1 unless the first kind passed from DNS and the cached one from the cache.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fcrdns.h"
#include "rglog.h"

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* One child: the call, its time and its yield through the pipe. */
static int64_t child(const char *ip, const char *options, char *yl, size_t ylen)
{
	int fd[2];
	pid_t pid;
	struct {
		int64_t us;
		char line[YIELD_MAX];
	} r;

	memset(&r, 0, sizeof r);
	if (pipe(fd) != 0 || (pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		struct yield y;
		int64_t t0 = now_us();

		close(fd[0]);
		fcrdns_run(ip, options, &y);
		r.us = now_us() - t0;
		memcpy(r.line, y.line, sizeof r.line);
		if (write(fd[1], &r, sizeof r) != (ssize_t)sizeof r)
			_exit(1);
		_exit(0);
	}
	close(fd[1]);
	if (read(fd[0], &r, sizeof r) != (ssize_t)sizeof r)
		r.us = -1;
	close(fd[0]);
	waitpid(pid, NULL, 0);
	snprintf(yl, ylen, "%s", r.line);
	return r.us;
}

int main(int argc, char **argv)
{
	char first[1200], cached[1200], yf[YIELD_MAX] = "", yc[YIELD_MAX] = "";
	int64_t *tf, *tc;
	int i, n;

	if (argc != 4 || (n = atoi(argv[3])) <= 0) {
		fprintf(stderr, "usage: fcrdns_cost CONFIG IP FORKS\n");
		return 64;
	}
	snprintf(first, sizeof first, "config=%s fcrdns_cache_ttl=0", argv[1]);
	snprintf(cached, sizeof cached, "config=%s", argv[1]);
	tf = calloc((size_t)n, sizeof *tf);
	tc = calloc((size_t)n, sizeof *tc);
	if (tf == NULL || tc == NULL)
		return 1;
	rglog_set_hook(NULL, 0);
	child(argv[2], cached, yc, sizeof yc);          /* fills the cache */
	for (i = 0; i < n; i++) {
		tf[i] = child(argv[2], first, yf, sizeof yf);
		tc[i] = child(argv[2], cached, yc, sizeof yc);
		if (tf[i] < 0 || tc[i] < 0)
			return 1;
	}
	qsort(tf, (size_t)n, sizeof *tf, cmp_i64);
	qsort(tc, (size_t)n, sizeof *tc, cmp_i64);
	printf("first_us_p50=%lld first_us_p90=%lld cached_us_p50=%lld cached_us_p90=%lld\n",
	       (long long)tf[n / 2], (long long)tf[n * 9 / 10], (long long)tc[n / 2], (long long)tc[n * 9 / 10]);
	printf("first_yield=%s\ncached_yield=%s\n", yf, yc);
	return strstr(yf, "result=pass source=dns") && strstr(yc, "result=pass source=cache") ? 0 : 1;
}
