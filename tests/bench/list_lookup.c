/* list_lookup.c - "make bench" figures of the static list source, linked with
 * build/librgcore.a: writes a list of N addresses (renamed into place), times its compile,
 * then list_lookup() per call (the stat of the file + the cdb_find, as every RCPT pays),
 * half hits, half misses, and the first lookup of a fresh process (fork: open + mmap).
 *
 *   list_lookup CONFIG LISTFILE N LOOKUPS FORKS
 * CONFIG must name LISTFILE as the list of [domain bench.test]. Prints key=value lines. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "list.h"
#include "rglog.h"

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static void show(int level, const char *line)
{
	if (level == RGLOG_ERROR)
		fprintf(stderr, "%s\n", line);
}

int main(int argc, char **argv)
{
	char err[RG_ERRLEN], tmp[1100], key[64];
	struct config *c;
	struct settings s;
	struct list_ctx x;
	struct list_status ls;
	long n, lookups, forks, i, hits = 0;
	int64_t t0, *d;
	FILE *f;

	if (argc != 6)
		return fprintf(stderr, "usage: list_lookup CONFIG LISTFILE N LOOKUPS FORKS\n"), 64;
	n = atol(argv[3]);
	lookups = atol(argv[4]);
	forks = atol(argv[5]);
	rglog_set_hook(show, 0);
	if (config_load(argv[1], &c, err, sizeof err) != RG_FOUND)
		return fprintf(stderr, "%s\n", err), 78;
	config_for_domain(c, "bench.test", &s);
	if (strcmp(s.list.path, argv[2]) != 0)
		return fprintf(stderr, "config does not name %s for bench.test\n", argv[2]), 78;
	x = (struct list_ctx){ c, &s, "bench.test", 0 };
	snprintf(tmp, sizeof tmp, "%s.upload", argv[2]);
	if ((f = fopen(tmp, "w")) == NULL)
		return perror(tmp), 1;
	fprintf(f, "# %ld addresses\n", n);
	for (i = 0; i < n; i++)
		fprintf(f, "user%07ld.%lx@bench.test\n", i, (unsigned long)(i * 2654435761u) & 0xffff);
	if (fclose(f) != 0 || usleep(20000) != 0 || rename(tmp, argv[2]) != 0)
		return perror(argv[2]), 1;

	t0 = now_ns();
	if (list_status(&x, &ls, err, sizeof err) != RG_FOUND || !ls.in_force || ls.meta.entries != (uint64_t)n)
		return fprintf(stderr, "compile failed: %s (entries %llu)\n", err, (unsigned long long)ls.meta.entries), 1;
	printf("compile_ms=%.0f entries=%llu file_bytes=%lld\n", (now_ns() - t0) / 1e6,
	       (unsigned long long)ls.meta.entries, (long long)ls.src.size);

	if ((d = malloc(lookups * sizeof *d)) == NULL)
		return 1;
	srand(1);
	for (i = 0; i < lookups; i++) {
		long k = rand() % n;
		int want = i % 2 == 0, rc;

		if (want)
			snprintf(key, sizeof key, "user%07ld.%lx@bench.test", k, (unsigned long)(k * 2654435761u) & 0xffff);
		else
			snprintf(key, sizeof key, "nobody%07ld@bench.test", k);
		t0 = now_ns();
		rc = list_lookup(&x, key, err, sizeof err);
		d[i] = now_ns() - t0;
		if (rc != (want ? RG_FOUND : RG_NOTFOUND))
			return fprintf(stderr, "wrong answer %d for %s: %s\n", rc, key, err), 1;
		hits += rc == RG_FOUND;
	}
	qsort(d, lookups, sizeof *d, cmp64);
	printf("lookups=%ld hits=%ld p50_ns=%lld p90_ns=%lld p99_ns=%lld\n", lookups, hits,
	       (long long)d[lookups / 2], (long long)d[lookups * 9 / 10], (long long)d[lookups * 99 / 100]);

	/* First lookup in a fresh process: open + mmap of the index, its metadata, one find. */
	for (i = 0; i < forks; i++) {
		int p[2], st;
		pid_t pid;

		if (pipe(p) < 0)
			return 1;
		if ((pid = fork()) == 0) {
			int64_t a, ns;
			int rc;

			/* An Exim process starts without the mapping: drop the inherited one first. */
			list_reset();
			a = now_ns();
			rc = list_lookup(&x, "user0000000.0@bench.test", err, sizeof err);

			ns = now_ns() - a;
			_exit(write(p[1], &ns, sizeof ns) == sizeof ns && rc == RG_FOUND ? 0 : 1);
		}
		close(p[1]);
		if (read(p[0], &d[i], sizeof d[i]) != sizeof d[i] || waitpid(pid, &st, 0) != pid || st != 0)
			return fprintf(stderr, "fork lookup failed\n"), 1;
		close(p[0]);
	}
	if (forks > 0) {
		qsort(d, forks, sizeof *d, cmp64);
		printf("forks=%ld first_lookup_p50_ns=%lld\n", forks, (long long)d[forks / 2]);
	}
	free(d);
	config_free(c);
	return 0;
}
