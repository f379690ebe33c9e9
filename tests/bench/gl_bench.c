/*
 * gl_bench.c - greylisting figures in the engine (tests/bench/greylist.sh).
 *
 *   gl_bench engine CONFIG N DELAY_S    decisions/s through greylist_run() for a stream of
 *                                       N triplets: new, retried after the delay, known
 *   gl_bench fill STATE_DIR N           N expired triplets (+ 1000 live ones) written straight
 *                                       into greylist.mdb in large transactions, synced and
 *                                       stamped "synced" (as core/store_lmdb.c would leave it);
 *                                       prints the file's size per triplet
 *   gl_bench lookups CONFIG SECONDS [STOPFILE]   greylist_run() on the 1000 live triplets
 *                                       in a loop, each timed, until SECONDS have passed or
 *                                       STOPFILE exists; prints the latency distribution
 *
 * The stream (the same as the Exim and postgrey runs): client 127.0.0.1, sender
 * bench@client.test, recipient r<i>@d<i % 100>.test. Output: key=value lines.
 */
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "greylist.h"
#include "greylist_key.h"
#include "greylist_record.h"
#include "rglog.h"
#include "store.h"

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* One phase of the stream; expect: the result every decision must give. */
static int phase(const char *name, const char *opts, long n, const char *expect)
{
	char rcpt[64], res[16];
	struct yield y;
	int64_t t0 = now_ns();
	long i, bad = 0;

	for (i = 0; i < n; i++) {
		snprintf(rcpt, sizeof rcpt, "r%ld@d%ld.test", i, i % 100);
		greylist_run("127.0.0.1", "bench@client.test", rcpt, opts, &y);
		if (yield_get(y.line, "result", res, sizeof res) < 0 || strcmp(res, expect) != 0) {
			if (bad++ == 0)
				fprintf(stderr, "%s: unexpected answer: %s\n", name, y.line);
		}
	}
	printf("phase=%s decisions=%ld bad=%ld per_s=%.0f\n", name, n, bad,
	       (double)n * 1e9 / (double)(now_ns() - t0));
	return bad ? 1 : 0;
}

static int engine(const char *conf, long n, double delay)
{
	char opts[600];
	struct timespec ts = { (time_t)delay, (long)((delay - (time_t)delay) * 1e9) };
	int rc = 0;

	snprintf(opts, sizeof opts, "config=%s", conf);
	rc |= phase("new", opts, n, "defer");
	nanosleep(&ts, NULL);
	rc |= phase("retry", opts, n, "pass");
	rc |= phase("known", opts, n, "pass");
	return rc;
}

/* Write n expired triplets and 1000 live ones straight into the greylist LMDB file. */
static int fill(const char *dir, long n)
{
	char path[512], stamp[520], key[STORE_KEY_MAX + 1], val[128], rcpt[64];
	struct greylist_triplet t;
	FILE *f;
	MDB_env *env;
	MDB_dbi dbi;
	MDB_txn *txn;
	MDB_val k, v;
	struct stat st;
	long i;
	int64_t now = (int64_t)time(NULL);
	int rc;

	snprintf(path, sizeof path, "%s/greylist.mdb", dir);
	if (mdb_env_create(&env) || mdb_env_set_mapsize(env, (size_t)2 << 30) ||
	    (rc = mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOSYNC, 0660)) != 0) {
		fprintf(stderr, "open %s failed\n", path);
		return 1;
	}
	for (i = 0; i < n + 1000; i++) {
		if (i % 100000 == 0) {
			if (i && mdb_txn_commit(txn))
				return 1;
			if (mdb_txn_begin(env, NULL, 0, &txn) || mdb_dbi_open(txn, NULL, 0, &dbi))
				return 1;
		}
		memset(&t, 0, sizeof t);
		if (i < n) {
			/* A realistic mix: a third passed once, the rest never retried; all expired. */
			snprintf(rcpt, sizeof rcpt, "user%ld@customer%ld.example", i, i % 5000);
			t.passed = i % 3 == 0;
			t.first = now - 20 * 86400;
			t.last = t.first + 400;
			t.expires = now - 86400;
			t.defers = 1;
			greylist_key_triplet(key, sizeof key, "198.18.0.0/24", "newsletter@sender.example", rcpt);
			key[2 + 7] = (char)('0' + i % 10);  /* spread over 198.18.0.0/24 .. 198.18.9.0/24 */
		} else {
			snprintf(rcpt, sizeof rcpt, "r%ld@d%ld.test", i - n, (i - n) % 100);
			t.passed = 1;
			t.first = now - 600;
			t.last = now;
			t.expires = now + 10 * 86400;
			greylist_key_triplet(key, sizeof key, "127.0.0.0/24", "bench@client.test", rcpt);
		}
		greylist_record_encode(&t, val, sizeof val);
		k.mv_size = strlen(key);
		k.mv_data = key;
		v.mv_size = strlen(val);
		v.mv_data = val;
		if (mdb_put(txn, dbi, &k, &v, 0))
			return 1;
	}
	if (mdb_txn_commit(txn))
		return 1;
	mdb_env_sync(env, 1);
	mdb_env_close(env);
	/* Synced: the stamp says so (without it the store would set the file aside). */
	snprintf(stamp, sizeof stamp, "%s-boot", path);
	if ((f = fopen(stamp, "w")) == NULL || fputs("synced\n", f) < 0 || fclose(f) != 0)
		return 1;
	stat(path, &st);
	printf("triplets=%ld file_bytes=%lld bytes_per_triplet=%.1f record_bytes=%zu\n", n + 1000,
	       (long long)st.st_size, (double)st.st_size / (double)(n + 1000), strlen(key) + strlen(val));
	return 0;
}

/* Decide on the live triplets in a loop for secs seconds; latency distribution. */
static int lookups(const char *conf, double secs, const char *stop)
{
	static int64_t lat[4000000];
	char opts[600], rcpt[64], res[16];
	struct yield y;
	int64_t end = now_ns() + (int64_t)(secs * 1e9), t0;
	long n = 0, bad = 0;

	snprintf(opts, sizeof opts, "config=%s", conf);
	while ((t0 = now_ns()) < end && n < (long)(sizeof lat / sizeof lat[0])) {
		if (stop != NULL && n % 1000 == 0 && access(stop, F_OK) == 0)
			break;
		snprintf(rcpt, sizeof rcpt, "r%ld@d%ld.test", n % 1000, (n % 1000) % 100);
		greylist_run("127.0.0.1", "bench@client.test", rcpt, opts, &y);
		lat[n++] = now_ns() - t0;
		if (yield_get(y.line, "result", res, sizeof res) < 0 || strcmp(res, "pass") != 0)
			bad++;
	}
	qsort(lat, (size_t)n, sizeof lat[0], cmp_i64);
	printf("lookups=%ld bad=%ld p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f\n", n, bad,
	       lat[n / 2] / 1e3, lat[n * 99 / 100] / 1e3, lat[n * 999 / 1000] / 1e3, lat[n - 1] / 1e3);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	rglog_set_hook(NULL, 0);
	if (argc == 5 && strcmp(argv[1], "engine") == 0)
		return engine(argv[2], atol(argv[3]), atof(argv[4]));
	if (argc == 4 && strcmp(argv[1], "fill") == 0)
		return fill(argv[2], atol(argv[3]));
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "lookups") == 0)
		return lookups(argv[2], atof(argv[3]), argc == 5 ? argv[4] : NULL);
	fprintf(stderr, "usage: gl_bench engine CONFIG N DELAY_S | fill STATE_DIR N | lookups CONFIG SECONDS\n");
	return 64;
}
