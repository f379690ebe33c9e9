/*
 * ldap_loop.c - LDAP verdicts through the chain (tests/bench/ldap.sh).
 *
 *   ldap_loop CONFIG DOMAIN FRESH CACHED FORKS
 *
 * DOMAIN's sources are "ldap" alone; its directory holds user00000..user(N-1)@DOMAIN.
 * Every figure is a call of verify_run_recipient() (what the Exim module calls per RCPT):
 *   1. FORKS fresh processes (forked before this one has touched the engine), each timing
 *      its first call: once for an uncached address (config read, store opened, libldap
 *      dlopen()ed, connect, bind, search) and once for a cached one (config, store, no LDAP);
 *      the difference is what the first LDAP lookup of an Exim process costs;
 *   2. FRESH uncached calls in this process on one kept connection, addresses that exist
 *      and addresses that do not, in turn (each answer checked: source=ldap, pass / fail);
 *   3. CACHED calls on one of those, now cached (checked: source=cache).
 * Prints "key=value" lines; exits 1 when an answer is not the expected one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rglog.h"
#include "verify.h"

static char options[1200];
static const char *domain;

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

/* Time one call; -1 when the yield lacks want. */
static int64_t timed(const char *addr, const char *want)
{
	struct yield y;
	int64_t t0 = now_ns(), t;

	verify_run_recipient(addr, options, &y);
	t = now_ns() - t0;
	if (strstr(y.line, want) == NULL) {
		fprintf(stderr, "ldap_loop: %s: expected %s, got %s\n", addr, want, y.line);
		return -1;
	}
	return t;
}

/* Print the percentiles of t[0..n-1] (sorted here) as NAME_p50_us=.. NAME_p99_us=.. */
static void report(const char *name, int64_t *t, size_t n)
{
	qsort(t, n, sizeof *t, cmp_i64);
	printf("%s_n=%zu %s_p50_us=%.1f %s_p99_us=%.1f %s_max_us=%.1f\n", name, n, name, t[n / 2] / 1e3,
	       name, t[n * 99 / 100] / 1e3, name, t[n - 1] / 1e3);
}

/* Phase 1: one fresh child per call; returns 0 or -1. */
static int first_calls(size_t forks, size_t base, int64_t *fresh, int64_t *cached)
{
	char addr[128];
	size_t i;

	for (i = 0; i < 2 * forks; i++) {
		int fd[2], status;
		int64_t t = -1;
		pid_t pid;

		if (pipe(fd) < 0 || (pid = fork()) < 0)
			return -1;
		if (pid == 0) {
			close(fd[0]);
			/* Even i: an address never asked (the directory answers);
			 * odd i: user00000, cached beforehand (no LDAP at all). */
			snprintf(addr, sizeof addr, "user%05zu@%s", i % 2 ? 0 : base + i / 2, domain);
			t = timed(addr, i % 2 ? "source=cache" : "source=ldap");
			if (write(fd[1], &t, sizeof t) != (ssize_t)sizeof t)
				_exit(2);
			_exit(0);
		}
		close(fd[1]);
		if (read(fd[0], &t, sizeof t) != (ssize_t)sizeof t)
			t = -1;
		close(fd[0]);
		waitpid(pid, &status, 0);
		if (t < 0)
			return -1;
		(i % 2 ? cached : fresh)[i / 2] = t;
	}
	return 0;
}

int main(int argc, char **argv)
{
	size_t fresh, cached, forks, i;
	int64_t *t, *tf, *tc;
	char addr[128];
	pid_t pid;
	int status;

	if (argc != 6) {
		fprintf(stderr, "usage: ldap_loop CONFIG DOMAIN FRESH CACHED FORKS\n");
		return 64;
	}
	domain = argv[2];
	fresh = strtoul(argv[3], NULL, 10);
	cached = strtoul(argv[4], NULL, 10);
	forks = strtoul(argv[5], NULL, 10);
	if (fresh < 2 || cached < 1 || forks < 1 ||
	    snprintf(options, sizeof options, "config=%s", argv[1]) >= (int)sizeof options)
		return 64;
	rglog_set_hook(drop_line, 0);
	t = malloc(sizeof *t * (fresh > cached ? fresh : cached));
	tf = malloc(sizeof *tf * forks);
	tc = malloc(sizeof *tc * forks);
	if (t == NULL || tf == NULL || tc == NULL)
		return 2;

	/* user00000 cached by a child, so that this process stays untouched for phase 1. */
	if ((pid = fork()) == 0) {
		snprintf(addr, sizeof addr, "user00000@%s", domain);
		_exit(timed(addr, "result=pass") < 0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || status != 0)
		return 1;
	if (first_calls(forks, fresh + 1, tf, tc) < 0)
		return 1;
	report("first_uncached", tf, forks);
	report("first_cached", tc, forks);

	/* Phase 2: existing (even) and missing (odd) addresses, never asked before. */
	for (i = 0; i < fresh; i++) {
		if (i % 2)
			snprintf(addr, sizeof addr, "nobody%05zu@%s", i, domain);
		else
			snprintf(addr, sizeof addr, "user%05zu@%s", i + 1, domain);
		if ((t[i] = timed(addr, i % 2 ? "result=fail source=ldap" : "result=pass source=ldap")) < 0)
			return 1;
	}
	report("uncached", t, fresh);

	/* Phase 3: one cached address. */
	snprintf(addr, sizeof addr, "user00001@%s", domain);
	for (i = 0; i < cached; i++)
		if ((t[i] = timed(addr, "result=pass source=cache")) < 0)
			return 1;
	report("cached", t, cached);
	verify_shutdown();
	free(t);
	free(tf);
	free(tc);
	return 0;
}
