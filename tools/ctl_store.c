/*
 * ctl_store.c - rcptguardctl's store verbs:
 *   store status                   member, where, role, keys, bytes, round trip, fallback
 *   store check                    walk the whole store in a child process; a damaged
 *                                  file is set aside and recreated
 *   store copy --to lmdb|redis [--state-dir DIR]
 *                                  copy every live record of the configured store into
 *                                  a store of the named member (the same settings; for
 *                                  lmdb, another state_dir), each with its expiry
 * Thin: parsing and printing; the work is in core/store*.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "engine.h"
#include "store_copy.h"
#include "verdict_admin.h"

/* Print one "name: value" line, or a JSON member. */
static void ctl_store_field(const char *name, const char *value, int first)
{
	if (ctl_json) {
		printf("%s\"%s\":", first ? "" : ",", name);
		ctl_json_str(value);
	} else {
		printf("%-9s %s\n", name, value);
	}
}

/* Print a number that may be unknown (-1). */
static void ctl_store_num(const char *name, long long v)
{
	if (ctl_json) {
		if (v < 0)
			printf(",\"%s\":null", name);
		else
			printf(",\"%s\":%lld", name, v);
	} else if (v < 0) {
		printf("%-9s -\n", name);
	} else {
		printf("%-9s %lld\n", name, v);
	}
}

/* store status */
static int ctl_store_status(const struct store_handle *st)
{
	struct store_info si;
	char err[RG_ERRLEN];

	if (store_info(st, &si, err, sizeof err) != RG_FOUND)
		return fprintf(stderr, "rcptguardctl: %s\n", err), 2;
	if (ctl_json)
		putchar('{');
	ctl_store_field("member", si.member, 1);
	ctl_store_field("where", si.where, 0);
	ctl_store_field("role", si.role, 0);
	ctl_store_num("keys", si.keys);
	ctl_store_num("bytes", si.bytes);
	ctl_store_num(ctl_json ? "rtt_us" : "rtt(us)", si.rtt_us);
	if (ctl_json)
		printf(",\"fallback\":%s", si.fallback ? "true" : "false");
	else
		printf("%-9s %s\n", "fallback", si.fallback ? "yes (the shared store is unreachable)" : "no");
	ctl_store_field("detail", si.detail, 0);
	if (ctl_json)
		puts("}");
	return 0;
}

/* store check */
static int ctl_store_check(const struct store_handle *st)
{
	char err[RG_ERRLEN] = "";
	int rc = store_check(st, err, sizeof err);
	const char *word = rc == RG_FOUND ? "ok" : rc == RG_NOTFOUND ? "damaged" : "unknown";

	if (ctl_json) {
		printf("{\"result\":\"%s\",\"detail\":", word);
		ctl_json_str(err);
		puts("}");
	} else if (rc == RG_FOUND) {
		puts("store ok");
	} else {
		printf("store %s: %s\n", word, err);
	}
	return rc == RG_FOUND ? 0 : rc == RG_NOTFOUND ? 1 : 2;
}

/* store copy --to MEMBER [--state-dir DIR] */
static int ctl_store_copy(const struct store_handle *st, int argc, char **argv)
{
	const struct settings *s;
	struct settings *d;
	struct store_handle to;
	struct store_copy_counts c;
	const char *member = NULL, *sdir = NULL;
	char err[RG_ERRLEN];
	int64_t stale;
	int i, rc;

	for (i = 0; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--to") == 0)
			member = argv[i + 1];
		else if (strcmp(argv[i], "--state-dir") == 0)
			sdir = argv[i + 1];
		else
			return ctl_usage();
	}
	if (i != argc || member == NULL)
		return ctl_usage();
	if (engine_settings(NULL, "", &s, err, sizeof err) != RG_FOUND ||
	    verdict_admin_stale_max(&stale, err, sizeof err) != RG_FOUND)
		return fprintf(stderr, "rcptguardctl: %s\n", err), EX_CONFIG_;
	if ((d = malloc(sizeof *d)) == NULL)
		return fprintf(stderr, "rcptguardctl: out of memory\n"), 2;
	*d = *s;
	if (util_strlcpy(d->store, member, sizeof d->store) < 0 ||
	    (sdir && util_strlcpy(d->state_dir, sdir, sizeof d->state_dir) < 0)) {
		free(d);
		return fprintf(stderr, "rcptguardctl: --to or --state-dir too long\n"), EX_USAGE_;
	}
	/* Why: copying a store onto itself would only rewrite it; say so instead. */
	if (strcmp(d->store, s->store) == 0 && strcmp(d->state_dir, s->state_dir) == 0 && strcmp(member, "lmdb") == 0) {
		free(d);
		return fprintf(stderr, "rcptguardctl: the destination is the configured store itself (give --state-dir)\n"),
		       EX_USAGE_;
	}
	rc = store_copy_open(member, d, &to, err, sizeof err);
	free(d);
	if (rc != RG_FOUND) {
		store_copy_close(&to);
		return fprintf(stderr, "rcptguardctl: %s\n", err), rc == RG_CONFIG ? EX_CONFIG_ : 2;
	}
	rc = store_copy(st, &to, util_now(), stale > 0xffffffffLL ? 0xffffffffu : (unsigned)stale, &c, err, sizeof err);
	store_copy_close(&to);
	if (rc != RG_FOUND)
		return fprintf(stderr, "rcptguardctl: copy stopped after %zu record(s): %s\n", c.copied, err), 2;
	if (ctl_json)
		printf("{\"copied\":%zu,\"expired\":%zu,\"unreadable\":%zu}\n", c.copied, c.expired, c.unreadable);
	else
		printf("copied %zu record(s) to %s; left behind %zu expired and %zu unreadable\n",
		       c.copied, member, c.expired, c.unreadable);
	return 0;
}

/* store status|check|copy ... */
int ctl_store_verb(int argc, char **argv)
{
	const struct store_handle *st;

	if (argc < 1)
		return ctl_usage();
	if ((strcmp(argv[0], "status") == 0 || strcmp(argv[0], "check") == 0) && argc != 1)
		return ctl_usage();
	if (strcmp(argv[0], "status") != 0 && strcmp(argv[0], "check") != 0 && strcmp(argv[0], "copy") != 0)
		return ctl_usage();
	if ((st = ctl_store_unchecked()) == NULL)
		return 2;
	if (strcmp(argv[0], "status") == 0)
		return ctl_store_status(st);
	if (strcmp(argv[0], "check") == 0)
		return ctl_store_check(st);
	return ctl_store_copy(st, argc - 1, argv + 1);
}
