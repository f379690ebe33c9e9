/*
 * rcptguardctl.c - the operator CLI: runs the checks as Exim would, lists and flushes
 * the verdict cache, probes destinations. Thin: it parses arguments, calls core/ and
 * prints (human-readable, or JSON with --json).
 *
 * Exit status: 0 pass/yes/done, 1 fail/no, 2 defer/unknown/temporary error,
 * 64 usage error, 78 configuration error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "engine.h"
#include "probe.h"
#include "rglog.h"
#include "store.h"
#include "verdict_admin.h"
#include "verify.h"

int ctl_json;
static int ctl_verbose;

/* Core log lines go to stderr: errors always, the rest with -v / -d. */
static void ctl_log(int level, const char *line)
{
	if (level == RGLOG_ERROR || ctl_verbose)
		fprintf(stderr, "%s\n", line);
}

static int ctl_check(int argc, char **argv);
static int ctl_catchall(int argc, char **argv);
static int ctl_cache(int argc, char **argv);
static int ctl_probe(int argc, char **argv);

/* The verbs; each issue's verbs live in their own tools/ctl_*.c file. */
static const struct ctl_verb ctl_verbs[] = {
	{ "check", ctl_check, "check [--sender] ADDRESS [-o OPTIONS]   verify a recipient (or a sender) as Exim would" },
	{ "catchall", ctl_catchall, "catchall DOMAIN [-o OPTIONS]      is the domain's destination a catch-all?" },
	{ "cache", ctl_cache, "cache list [DOMAIN]               cached verdicts and catch-all results\n"
			      "  cache flush ADDRESS|DOMAIN|--all [--negative]" },
	{ "list", ctl_list, "list check FILE | list status [DOMAIN] | list accept DOMAIN   static recipient lists" },
	{ "probe", ctl_probe, "probe DOMAIN [--host H[:P]] [--rcpt ADDRESS]   the SMTP tester" },
	{ "fcrdns", ctl_fcrdns, "fcrdns IP [-o OPTIONS]            forward-confirmed reverse DNS of a client IP" },
	{ "greylist", ctl_greylist, "greylist IP SENDER RCPT [-o OPTIONS]   greylist as Exim would (records the attempt)\n"
				    "  greylist check IP SENDER RCPT [-o OPTIONS]   the same decision, changing nothing\n"
				    "  greylist list | allow IP|CIDR|IP SENDER RCPT | remove IP|CIDR|IP SENDER RCPT" },
	{ "purge", ctl_purge, "purge                             delete expired greylisting records (for cron)" },
	{ "stats", ctl_stats, "stats                             counts of greylisting records" },
	{ NULL, NULL, NULL },
};

/* Usage text. */
int ctl_usage(void)
{
	size_t i;

	fputs("usage: rcptguardctl [-c CONFIG] [--json] [-v] [-d] VERB ...\n", stderr);
	for (i = 0; ctl_verbs[i].name != NULL; i++)
		fprintf(stderr, "  %s\n", ctl_verbs[i].usage);
	return EX_USAGE_;
}

/* Print a JSON string literal. */
void ctl_json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

/* Print a yield line as is, or as a JSON object. */
void ctl_print_yield(const char *line)
{
	const char *p = line;
	int first = 1;

	if (!ctl_json) {
		puts(line);
		return;
	}
	putchar('{');
	while (*p) {
		char key[64], val[YIELD_MAX];
		size_t n = strcspn(p, "=");

		if (p[n] != '=' || n >= sizeof key)
			break;
		memcpy(key, p, n);
		key[n] = '\0';
		if (yield_get(p, key, val, sizeof val) < 0)
			break;
		printf("%s", first ? "" : ",");
		first = 0;
		ctl_json_str(key);
		putchar(':');
		ctl_json_str(val);
		/* Skip to the next pair. */
		p += n + 1;
		if (*p == '"') {
			const char *q = strchr(p + 1, '"');

			p = q ? q + 1 : p + strlen(p);
		} else {
			p += strcspn(p, " ");
		}
		while (*p == ' ')
			p++;
	}
	puts("}");
}

/* Exit status for a check outcome. */
int ctl_status(int rc)
{
	switch (rc) {
	case RG_FOUND: return 0;
	case RG_NOTFOUND: return 1;
	case RG_CONFIG: return EX_CONFIG_;
	default: return 2;
	}
}

/* Parse "-o OPTIONS" after a check verb's argument. */
const char *ctl_options(int argc, char **argv, int i)
{
	if (i + 1 < argc && strcmp(argv[i], "-o") == 0)
		return argv[i + 1];
	return NULL;
}

/* The global settings and the process store. */
const struct store_handle *ctl_store(void)
{
	char err[RG_ERRLEN];
	const struct settings *s;
	const struct store_handle *st;

	if (engine_settings(NULL, "", &s, err, sizeof err) != RG_FOUND) {
		fprintf(stderr, "rcptguardctl: %s\n", err);
		return NULL;
	}
	st = store_process(s, err, sizeof err);
	if (st == NULL)
		fprintf(stderr, "rcptguardctl: store: %s\n", err);
	return st;
}

/* Format a unix time as ISO 8601 UTC. */
const char *ctl_time(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

struct ctl_lister {
	int first;
};

/* Print one cache record (verdict_admin_list callback). */
static int ctl_list_one(const char *name, int catchall, const struct verdict *v, void *arg)
{
	struct ctl_lister *l = arg;
	char t1[32], t2[32];

	if (ctl_json) {
		printf("%s\n {\"type\":\"%s\",\"key\":", l->first ? "" : ",", catchall ? "catchall" : "verdict");
		ctl_json_str(name);
		printf(",\"result\":\"%s\",\"source\":", catchall ? (v->pass ? "yes" : "no") : (v->pass ? "pass" : "fail"));
		ctl_json_str(v->source);
		printf(",\"created\":%lld,\"expires\":%lld,\"text\":", (long long)v->created, (long long)v->expires);
		ctl_json_str(v->text);
		putchar('}');
		l->first = 0;
	} else if (catchall) {
		printf("%s catchall %s created=%s expires=%s %s\n", name, v->pass ? "yes" : "no",
		       ctl_time(v->created, t1, sizeof t1), ctl_time(v->expires, t2, sizeof t2), v->text);
	} else {
		printf("%s %s %s created=%s expires=%s %s\n", name, v->pass ? "pass" : "fail", v->source,
		       ctl_time(v->created, t1, sizeof t1), ctl_time(v->expires, t2, sizeof t2), v->text);
	}
	return 0;
}

/* cache list|flush ... */
static int ctl_cache(int argc, char **argv)
{
	const struct store_handle *st;
	struct ctl_lister l = { 1 };
	char err[RG_ERRLEN], arg[RG_ADDRESS_MAX + 1] = "";
	const char *domain = NULL, *address = NULL;
	int i, all = 0, flush, negative = 0, rc;
	size_t total = 0;

	if (argc < 1 || (strcmp(argv[0], "list") != 0 && strcmp(argv[0], "flush") != 0))
		return ctl_usage();
	flush = strcmp(argv[0], "flush") == 0;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--all") == 0)
			all = 1;
		else if (strcmp(argv[i], "--negative") == 0)
			negative = 1;
		else if (arg[0] == '\0' && util_strlcpy(arg, argv[i], sizeof arg) == 0)
			;
		else
			return ctl_usage();
	}
	if (flush && !all && arg[0] == '\0' && !negative)
		return fprintf(stderr, "rcptguardctl: cache flush needs ADDRESS, DOMAIN, --all or --negative\n"), EX_USAGE_;
	if (arg[0])
		*(strchr(arg, '@') ? &address : &domain) = arg;
	if ((st = ctl_store()) == NULL)
		return 2;
	if (flush) {
		rc = verdict_admin_flush(st, domain, address, negative, &total, err, sizeof err);
	} else {
		if (ctl_json)
			putchar('[');
		rc = verdict_admin_list(st, domain, address, ctl_list_one, &l, err, sizeof err);
	}
	if (rc != RG_FOUND) {
		if (ctl_json && !flush)
			printf("%s]\n", l.first ? "" : "\n");
		return fprintf(stderr, "rcptguardctl: %s\n", err), rc == RG_CONFIG ? EX_USAGE_ : 2;
	}
	if (flush)
		printf(ctl_json ? "{\"flushed\":%zu}\n" : "flushed %zu record(s)\n", total);
	else if (ctl_json)
		printf("%s]\n", l.first ? "" : "\n");
	return 0;
}

/* probe DOMAIN [--host H[:P]] [--rcpt ADDRESS] */
static int ctl_probe(int argc, char **argv)
{
	const char *host = NULL, *rcpt = NULL;
	char err[RG_ERRLEN], opts[CONFIG_HOSTS_MAX + 16];
	struct probe_report r;
	const struct settings *s;
	int i;

	if (argc < 1)
		return ctl_usage();
	for (i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--host") == 0)
			host = argv[i + 1];
		else if (strcmp(argv[i], "--rcpt") == 0)
			rcpt = argv[i + 1];
		else
			return ctl_usage();
	}
	if (i != argc)
		return ctl_usage();
	if (host && util_snprintf(opts, sizeof opts, "hosts=\"%s\"", host) < 0)
		return fprintf(stderr, "rcptguardctl: --host too long\n"), EX_USAGE_;
	if (engine_settings(host ? opts : NULL, argv[0], &s, err, sizeof err) != RG_FOUND)
		return fprintf(stderr, "rcptguardctl: %s\n", err), EX_CONFIG_;
	probe_run(argv[0], s, rcpt, &r);
	if (ctl_json) {
		printf("{\"domain\":");
		ctl_json_str(argv[0]);
		printf(",\"usable\":%s,\"steps\":[", r.usable ? "true" : "false");
		for (size_t k = 0; k < r.n; k++) {
			printf("%s{\"step\":", k ? "," : "");
			ctl_json_str(r.steps[k].name);
			printf(",\"ok\":%s,\"detail\":", r.steps[k].ok == 1 ? "true" : "false");
			ctl_json_str(r.steps[k].detail);
			putchar('}');
		}
		printf("],\"summary\":");
		ctl_json_str(r.summary);
		puts("}");
	} else {
		for (size_t k = 0; k < r.n; k++)
			printf("%-36s %-4s %s\n", r.steps[k].name, r.steps[k].ok == 1 ? "ok" : "FAIL",
			       r.steps[k].detail);
		printf("%s\n", r.summary);
	}
	return r.usable ? 0 : 1;
}

/* check [--sender] ADDRESS [-o OPTIONS] */
static int ctl_check(int argc, char **argv)
{
	struct yield y;
	int rc, sender = argc > 0 && strcmp(argv[0], "--sender") == 0;

	argc -= sender;
	argv += sender;
	if (argc != 1 && argc != 3)
		return ctl_usage();
	rc = (sender ? verify_run_sender : verify_run_recipient)(argv[0], ctl_options(argc, argv, 1), &y);
	ctl_print_yield(y.line);
	return ctl_status(rc);
}

/* catchall DOMAIN [-o OPTIONS] */
static int ctl_catchall(int argc, char **argv)
{
	struct yield y;
	int rc;

	if (argc != 1 && argc != 3)
		return ctl_usage();
	rc = verify_run_catchall(argv[0], ctl_options(argc, argv, 1), &y);
	ctl_print_yield(y.line);
	return ctl_status(rc);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, debug = 0, rc;

	while ((ch = getopt_long(argc, argv, "+c:vdh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			setenv("RCPTGUARD_CONFIG", optarg, 1);
			break;
		case 'j':
			ctl_json = 1;
			break;
		case 'v':
			ctl_verbose = 1;
			break;
		case 'd':
			ctl_verbose = debug = 1;
			break;
		default:
			return ctl_usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return ctl_usage();
	/* --json may also follow the verb. */
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--json") == 0) {
			ctl_json = 1;
			memmove(&argv[i], &argv[i + 1], (size_t)(argc - i - 1) * sizeof *argv);
			argc--;
			i--;
		}
	rglog_set_hook(ctl_log, debug);
	for (size_t i = 0; ctl_verbs[i].name != NULL; i++)
		if (strcmp(argv[0], ctl_verbs[i].name) == 0) {
			rc = ctl_verbs[i].run(argc - 1, argv + 1);
			verify_shutdown();
			return rc;
		}
	return ctl_usage();
}
