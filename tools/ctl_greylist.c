/*
 * ctl_greylist.c - rcptguardctl's greylisting verbs:
 *   greylist IP SENDER RCPT [-o OPTIONS]        decide as Exim would: records the attempt
 *   greylist check IP SENDER RCPT [-o OPTIONS]  the same decision, changing nothing
 *   greylist list                               triplets and auto-whitelist entries
 *   greylist allow IP|CIDR | IP SENDER RCPT     release a network or a triplet at once
 *   greylist remove IP|CIDR | IP SENDER RCPT    forget a network (and its triplets) or a triplet
 *   purge                                       delete expired greylisting records (cron)
 *   stats                                       counts
 * Thin: parsing and printing; the work is in core/greylist*.c.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "engine.h"
#include "greylist.h"
#include "fcrdns.h"
#include "greylist_admin.h"
#include "greylist_record.h"
#include "yield.h"

struct ctl_gl_list {
	int first;
	int64_t now;
};

/* The global settings, or NULL after saying why. */
static const struct settings *ctl_gl_settings(void)
{
	const struct settings *s;
	char err[RG_ERRLEN];

	if (engine_settings(NULL, "", &s, err, sizeof err) != RG_FOUND) {
		fprintf(stderr, "rcptguardctl: %s\n", err);
		return NULL;
	}
	return s;
}

/* Print a time field: ISO text, or a number in JSON. */
static void ctl_gl_time(const char *name, int64_t t)
{
	char buf[32];

	if (ctl_json)
		printf(",\"%s\":%lld", name, (long long)t);
	else
		printf(" %s=%s", name, ctl_time(t, buf, sizeof buf));
}

/* greylist_admin_list callback: print one triplet or auto-whitelist entry. */
static int ctl_gl_list_one(const char *net, const char *sender, const char *rcpt,
			   const struct greylist_triplet *t, const struct greylist_awl *a, void *arg)
{
	struct ctl_gl_list *l = arg;

	if (t != NULL) {
		if (ctl_json) {
			printf("%s\n {\"type\":\"triplet\",\"network\":", l->first ? "" : ",");
			ctl_json_str(net);
			printf(",\"sender\":");
			ctl_json_str(sender);
			printf(",\"recipient\":");
			ctl_json_str(rcpt);
			printf(",\"state\":\"%s\"", l->now >= t->expires ? "expired" : t->passed ? "pass" : "wait");
		} else {
			printf("triplet %s %s %s %s", net, sender, rcpt,
			       l->now >= t->expires ? "expired" : t->passed ? "pass" : "wait");
		}
		ctl_gl_time("first", t->first);
		ctl_gl_time("last", t->last);
		ctl_gl_time("expires", t->expires);
		printf(ctl_json ? ",\"defers\":%u}" : " defers=%u\n", t->defers);
	} else {
		if (ctl_json) {
			printf("%s\n {\"type\":\"awl\",\"network\":", l->first ? "" : ",");
			ctl_json_str(net);
			printf(",\"kind\":\"%s\",\"count\":%u", a->manual ? "manual" : "auto", a->count);
		} else {
			printf("awl %s %s count=%u", net, a->manual ? "manual" : "auto", a->count);
		}
		ctl_gl_time("first", a->first);
		ctl_gl_time("last", a->last);
		ctl_gl_time("expires", a->expires);
		printf(ctl_json ? "}" : "\n");
	}
	l->first = 0;
	return 0;
}

/* greylist list */
static int ctl_gl_list(const struct store_handle *st)
{
	struct ctl_gl_list l = { 1, util_now() };
	char err[RG_ERRLEN];

	if (ctl_json)
		putchar('[');
	if (greylist_admin_list(st, ctl_gl_list_one, &l, err, sizeof err) != RG_FOUND) {
		if (ctl_json)
			printf("%s]\n", l.first ? "" : "\n");
		fprintf(stderr, "rcptguardctl: %s\n", err);
		return 2;
	}
	if (ctl_json)
		printf("%s]\n", l.first ? "" : "\n");
	return 0;
}

/* greylist allow|remove IP|CIDR | IP SENDER RCPT */
static int ctl_gl_change(int allow, int argc, char **argv)
{
	const struct settings *s;
	const struct store_handle *st;
	char err[RG_ERRLEN], what[STORE_KEY_MAX + 1];
	size_t n = 0;
	int rc;

	if (argc != 1 && argc != 3)
		return ctl_usage();
	if ((s = ctl_gl_settings()) == NULL)
		return EX_CONFIG_;
	if ((st = ctl_store()) == NULL)
		return 2;
	if (argc == 3 && allow)
		rc = greylist_admin_allow_triplet(s, st, argv[0], argv[1], argv[2], what, sizeof what, err, sizeof err);
	else if (argc == 3)
		rc = greylist_admin_remove_triplet(s, st, argv[0], argv[1], argv[2], err, sizeof err);
	else if (allow)
		rc = greylist_admin_allow_net(s, st, argv[0], &n, what, sizeof what, err, sizeof err);
	else
		rc = greylist_admin_remove_net(s, st, argv[0], &n, err, sizeof err);
	if (rc == RG_CONFIG) {
		fprintf(stderr, "rcptguardctl: %s\n", err);
		return EX_USAGE_;
	}
	if (rc == RG_TEMPFAIL) {
		fprintf(stderr, "rcptguardctl: %s\n", err);
		return 2;
	}
	if (argc == 3 && allow)
		printf(ctl_json ? "{\"allowed\":\"triplet\"}\n" : "triplet released: passes from now on\n");
	else if (argc == 3)
		printf(ctl_json ? "{\"removed\":%d}\n" : "%d triplet removed\n", rc == RG_FOUND);
	else if (allow)
		printf(ctl_json ? "{\"allowed\":%zu}\n" : "%zu network(s) released (first: %s)\n", n, what);
	else
		printf(ctl_json ? "{\"removed\":%zu}\n" : "%zu record(s) removed\n", n);
	return 0;
}

/* greylist [check] IP SENDER RCPT [-o OPTIONS] */
static int ctl_gl_decide(int dry, int argc, char **argv)
{
	struct yield y;
	int rc;

	if (argc != 3 && argc != 5)
		return ctl_usage();
	rc = (dry ? greylist_check : greylist_run)(argv[0], argv[1], argv[2], ctl_options(argc, argv, 3), &y);
	ctl_print_yield(y.line);
	return ctl_status(rc);
}

/* greylist ... */
int ctl_greylist(int argc, char **argv)
{
	const struct store_handle *st;

	if (argc < 1)
		return ctl_usage();
	if (strcmp(argv[0], "check") == 0)
		return ctl_gl_decide(1, argc - 1, argv + 1);
	if (strcmp(argv[0], "list") == 0) {
		if (argc != 1)
			return ctl_usage();
		if ((st = ctl_store()) == NULL)
			return 2;
		return ctl_gl_list(st);
	}
	if (strcmp(argv[0], "allow") == 0 || strcmp(argv[0], "remove") == 0)
		return ctl_gl_change(argv[0][0] == 'a', argc - 1, argv + 1);
	return ctl_gl_decide(0, argc, argv);
}

/* purge */
int ctl_purge(int argc, char **argv)
{
	const struct store_handle *st;
	char err[RG_ERRLEN];
	size_t t, a, f;
	int64_t now = util_now();

	(void)argv;
	if (argc != 0)
		return ctl_usage();
	if ((st = ctl_store()) == NULL)
		return 2;
	if (greylist_admin_purge(st, now, &t, &a, err, sizeof err) != RG_FOUND ||
	    fcrdns_purge(st, now, &f, err, sizeof err) != RG_FOUND) {
		fprintf(stderr, "rcptguardctl: %s\n", err);
		return 2;
	}
	printf(ctl_json ? "{\"triplets\":%zu,\"awl\":%zu,\"fcrdns\":%zu}\n" :
	       "purged %zu triplet(s), %zu auto-whitelist entr(ies), %zu FCrDNS record(s)\n", t, a, f);
	return 0;
}

/* stats */
int ctl_stats(int argc, char **argv)
{
	const struct settings *s;
	const struct store_handle *st;
	struct greylist_stats g;
	char err[RG_ERRLEN];
	struct store_info si;
	long long bytes = -1;

	(void)argv;
	if (argc != 0)
		return ctl_usage();
	if ((s = ctl_gl_settings()) == NULL)
		return EX_CONFIG_;
	if ((st = ctl_store()) == NULL)
		return 2;
	if (greylist_admin_stats(s, st, util_now(), &g, err, sizeof err) != RG_FOUND) {
		fprintf(stderr, "rcptguardctl: %s\n", err);
		return 2;
	}
	if (store_info(st, &si, err, sizeof err) == RG_FOUND)
		bytes = si.bytes;
	if (ctl_json) {
		printf("{\"triplets_waiting\":%zu,\"triplets_passing\":%zu,\"triplets_expired\":%zu,"
		       "\"awl_whitelisted\":%zu,\"awl_counting\":%zu,\"awl_manual\":%zu,\"awl_expired\":%zu,"
		       "\"unreadable\":%zu,\"greylist_data_bytes\":%zu,\"store_file_bytes\":%lld}\n",
		       g.waiting, g.passing, g.expired_triplets, g.awl_whitelisted, g.awl_counting, g.awl_manual,
		       g.expired_awl, g.unreadable, g.key_bytes + g.value_bytes, bytes);
		return 0;
	}
	printf("triplets: %zu waiting, %zu passing, %zu expired (purge removes them)\n",
	       g.waiting, g.passing, g.expired_triplets);
	printf("auto-whitelist: %zu network(s) whitelisted, %zu counting, %zu released by hand, %zu expired\n",
	       g.awl_whitelisted, g.awl_counting, g.awl_manual, g.expired_awl);
	if (g.unreadable)
		printf("unreadable records: %zu (purge removes them)\n", g.unreadable);
	printf("greylisting data: %zu bytes of keys and values; store file: %lld bytes on disk\n",
	       g.key_bytes + g.value_bytes, bytes);
	return 0;
}
