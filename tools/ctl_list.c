/*
 * ctl_list.c - "rcptguardctl list": check a static list file, show which version of each
 * list is in force (and what is held or refused, and why), accept a held version.
 * Thin: the work is core/list.c; this file finds the domains and prints.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "engine.h"
#include "list.h"

#define CTL_LIST_PROBLEMS 50            /* problems printed by list check */

/* The loaded config (after engine_settings for the global settings). */
static const struct config *ctl_list_config(void)
{
	const struct settings *s;
	char err[RG_ERRLEN];

	if (engine_settings(NULL, "", &s, err, sizeof err) != RG_FOUND) {
		fprintf(stderr, "rcptguardctl: %s\n", err);
		return NULL;
	}
	return engine_current_config();
}

/* Settings of domain ("" = global) copied into out; 0 ok. */
static int ctl_list_settings(const char *domain, struct settings *out)
{
	const struct settings *s;
	char err[RG_ERRLEN];

	if (engine_settings(NULL, domain, &s, err, sizeof err) != RG_FOUND) {
		fprintf(stderr, "rcptguardctl: %s\n", err);
		return -1;
	}
	*out = *s;
	return 0;
}

/* The names of the config's scopes whose settings name path: "" (global) first, then the
 * [domain] sections. Returns how many were stored in names (at most max). */
static size_t ctl_list_domains(const struct config *c, const char *path, const char **names, size_t max)
{
	static struct settings tmp;
	size_t i, n = 0;

	config_for_domain(c, "", &tmp);
	if (strcmp(tmp.list.path, path) == 0 && n < max)
		names[n++] = "";
	for (i = 0; i < config_domain_count(c) && n < max; i++) {
		config_for_domain(c, config_domain_name(c, i), &tmp);
		if (strcmp(tmp.list.path, path) == 0)
			names[n++] = config_domain_name(c, i);
	}
	return n;
}

/* The configured spelling of file (same string, or same file after realpath), else file;
 * a result other than file is the caller's to free. */
static const char *ctl_list_configured(const struct config *c, const char *file)
{
	static struct settings tmp;
	char *want = realpath(file, NULL), *have;
	const char *found = file;
	size_t i;

	for (i = 0; want != NULL && i <= config_domain_count(c); i++) {
		config_for_domain(c, i == 0 ? "" : config_domain_name(c, i - 1), &tmp);
		if (tmp.list.path[0] == '\0')
			continue;
		if (strcmp(tmp.list.path, file) == 0)
			break;
		if ((have = realpath(tmp.list.path, NULL)) != NULL && strcmp(have, want) == 0) {
			free(have);
			/* Why the configured string: the index and the domain check key on it. */
			found = strdup(tmp.list.path);
			break;
		}
		free(have);
	}
	free(want);
	return found ? found : file;
}

struct ctl_problems {
	int first;
};

/* Print one problem of list check. */
static void ctl_list_problem(void *arg, const char *problem)
{
	struct ctl_problems *p = arg;

	if (ctl_json) {
		printf("%s", p->first ? "" : ",");
		ctl_json_str(problem);
	} else {
		printf("%s\n", problem);
	}
	p->first = 0;
}

/* list check FILE */
static int ctl_list_check(int argc, char **argv)
{
	const char *names[64];
	struct settings s;
	struct list_ctx x = { NULL, NULL, "", 0 };
	struct ctl_problems pr = { 1 };
	const struct config *c;
	char err[RG_ERRLEN] = "";
	const char *path;
	uint64_t entries, lines;
	size_t n;
	int rc;

	if (argc != 1)
		return ctl_usage();
	if ((c = ctl_list_config()) == NULL)
		return EX_CONFIG_;
	path = ctl_list_configured(c, argv[0]);
	n = ctl_list_domains(c, path, names, 64);
	if (n > 0) {
		if (ctl_list_settings(names[0], &s) < 0) {
			if (path != argv[0])
				free((char *)path);
			return EX_CONFIG_;
		}
		x.c = c;
		x.s = &s;
	} else if (!ctl_json) {
		fprintf(stderr, "rcptguardctl: note: %s is the list of no domain in %s: its domains are not checked\n",
			argv[0], config_path(c));
	}
	if (ctl_json) {
		printf("{\"file\":");
		ctl_json_str(argv[0]);
		printf(",\"problems\":[");
	}
	rc = list_check(&x, path, ctl_list_problem, &pr, CTL_LIST_PROBLEMS, &entries, &lines, err, sizeof err);
	if (ctl_json) {
		printf("],\"domains_checked\":%s,\"result\":\"%s\",\"entries\":%" PRIu64 ",\"entry_lines\":%" PRIu64
		       ",\"end_marker\":\"# end %" PRIu64 "\",\"detail\":",
		       n > 0 ? "true" : "false", rc == RG_FOUND ? "valid" : rc == RG_NOTFOUND ? "refused" : "error",
		       entries, lines, lines);
		ctl_json_str(err);
		puts("}");
	} else if (rc == RG_FOUND) {
		/* The end line a customer's upload should carry: scp -O cut short cannot forge it. */
		printf("%s: valid, %" PRIu64 " address(es), %" PRIu64 " entry line(s); its end line: # end %" PRIu64 "\n",
		       argv[0], entries, lines, lines);
	} else if (rc == RG_NOTFOUND) {
		printf("%s: refused: %s\n", argv[0], err);
	} else {
		fprintf(stderr, "rcptguardctl: %s\n", err);
	}
	if (path != argv[0])
		free((char *)path);
	return rc == RG_FOUND ? 0 : rc == RG_NOTFOUND ? 1 : 2;
}

static const char *const ctl_list_states[] = {
	[LIST_SRC_IN_FORCE] = "in_force", [LIST_SRC_SETTLING] = "settling", [LIST_SRC_PENDING] = "pending",
	[LIST_SRC_REFUSED] = "refused", [LIST_SRC_HELD] = "held", [LIST_SRC_MISSING] = "missing",
};

/* Print the status of one list file (its scopes in names); returns 1 when it needs care. */
static int ctl_list_show(const struct config *c, const char *path, const char **names, size_t n, int first)
{
	struct settings s;
	struct list_ctx x = { c, &s, names[0], 0 };
	struct list_status ls;
	char err[RG_ERRLEN] = "", t1[32], t2[32];
	size_t i;

	if (ctl_list_settings(names[0], &s) < 0 || list_status(&x, &ls, err, sizeof err) != RG_FOUND) {
		fprintf(stderr, "rcptguardctl: %s: %s\n", path, err);
		return 1;
	}
	if (ctl_json) {
		printf("%s\n {\"path\":", first ? "" : ",");
		ctl_json_str(path);
		printf(",\"domains\":[");
		for (i = 0; i < n; i++) {
			printf("%s", i ? "," : "");
			ctl_json_str(names[i][0] ? names[i] : "*");
		}
		printf("],\"in_force\":");
		if (ls.in_force)
			printf("{\"since\":%" PRId64 ",\"entries\":%" PRIu64 ",\"size\":%" PRId64 ",\"mtime\":%" PRId64 "}",
			       ls.meta.compiled, ls.meta.entries, ls.meta.src.size, ls.meta.src.mtime_ns / 1000000000);
		else
			printf("null");
		printf(",\"file\":{\"state\":\"%s\"", ctl_list_states[ls.src_state]);
		if (ls.src_state != LIST_SRC_MISSING)
			printf(",\"size\":%" PRId64 ",\"mtime\":%" PRId64, ls.src.size, ls.src.mtime_ns / 1000000000);
		if (ls.src_state == LIST_SRC_SETTLING)
			printf(",\"ready_at\":%" PRId64, ls.ready_at);
		if (ls.src_state == LIST_SRC_HELD)
			printf(",\"entries\":%" PRIu64 ",\"dropped\":%" PRIu64, ls.state.entries, ls.state.dropped);
		if (ls.src_state == LIST_SRC_REFUSED || ls.src_state == LIST_SRC_HELD) {
			printf(",\"since\":%" PRId64 ",\"reason\":", ls.state.at);
			ctl_json_str(ls.state.reason);
		}
		if (ls.src_state == LIST_SRC_MISSING || (ls.src_state == LIST_SRC_PENDING && ls.detail[0])) {
			printf(",\"reason\":");
			ctl_json_str(ls.detail);
		}
		printf("}}");
	} else {
		printf("%s\n  domains : ", path);
		for (i = 0; i < n; i++)
			printf("%s%s", i ? " " : "", names[i][0] ? names[i] : "(global: every domain without its own list)");
		if (ls.in_force)
			printf("\n  in force: since %s, %" PRIu64 " entries (file of %" PRId64 " bytes modified %s)\n",
			       ctl_time(ls.meta.compiled, t1, sizeof t1), ls.meta.entries, ls.meta.src.size,
			       ctl_time(ls.meta.src.mtime_ns / 1000000000, t2, sizeof t2));
		else
			printf("\n  in force: none (lookups defer: the chain moves on to the next source)\n");
		switch (ls.src_state) {
		case LIST_SRC_IN_FORCE:
			printf("  file    : the version in force\n");
			break;
		case LIST_SRC_SETTLING:
			printf("  file    : written in place at %s; counts from %s if unchanged (list_settle)\n",
			       ctl_time(ls.src.mtime_ns / 1000000000, t1, sizeof t1), ctl_time(ls.ready_at, t2, sizeof t2));
			break;
		case LIST_SRC_PENDING:
			if (ls.detail[0])
				printf("  file    : changed, NOT COMPILED (retried later): %s\n", ls.detail);
			else
				printf("  file    : changed, being compiled by another process\n");
			break;
		case LIST_SRC_REFUSED:
			printf("  file    : REFUSED since %s: %s\n", ctl_time(ls.state.at, t1, sizeof t1), ls.state.reason);
			break;
		case LIST_SRC_HELD:
			printf("  file    : HELD since %s (%" PRIu64 " entries): %s\n            to put it in force: "
			       "rcptguardctl list accept %s\n", ctl_time(ls.state.at, t1, sizeof t1), ls.state.entries,
			       ls.state.reason, names[0][0] ? names[0] : "DOMAIN");
			break;
		default:
			printf("  file    : MISSING: %s\n", ls.detail);
		}
	}
	return !ls.in_force || ls.src_state == LIST_SRC_REFUSED || ls.src_state == LIST_SRC_HELD;
}

/* One scope naming a list file, for list status. */
struct ctl_scope {
	char *path;
	const char *scope;
	size_t order;                   /* config order: "" (global) first */
};

/* Order scopes by list file, then config order. */
static int ctl_scope_cmp(const void *a, const void *b)
{
	const struct ctl_scope *x = a, *y = b;
	int r = strcmp(x->path, y->path);

	return r ? r : x->order < y->order ? -1 : x->order > y->order;
}

/* Every list file once, with the scopes that name it (one pass over the scopes, then
 * grouped by file: a config with thousands of [domain] sections stays linear). */
static int ctl_list_status_all(const struct config *c, int *care, size_t *shown)
{
	size_t i, j, k, n = 0, count = config_domain_count(c) + 1;
	struct ctl_scope *v = calloc(count, sizeof *v);
	const char **names = calloc(count, sizeof *names);
	struct settings s;
	int rc = 0;

	if (v == NULL || names == NULL) {
		fprintf(stderr, "rcptguardctl: out of memory\n");
		rc = EX_CONFIG_;
		goto out;
	}
	for (i = 0; i < count; i++) {
		const char *scope = i == 0 ? "" : config_domain_name(c, i - 1);

		if (ctl_list_settings(scope, &s) < 0) {
			rc = EX_CONFIG_;
			goto out;
		}
		if (s.list.path[0] == '\0')
			continue;
		if ((v[n].path = strdup(s.list.path)) == NULL) {
			fprintf(stderr, "rcptguardctl: out of memory\n");
			rc = EX_CONFIG_;
			goto out;
		}
		v[n].scope = scope;
		v[n++].order = i;
	}
	qsort(v, n, sizeof *v, ctl_scope_cmp);
	for (i = 0; i < n; i = j) {
		for (j = i, k = 0; j < n && strcmp(v[j].path, v[i].path) == 0; j++)
			names[k++] = v[j].scope;
		*care |= ctl_list_show(c, v[i].path, names, k, *shown == 0);
		++*shown;
	}
out:
	for (i = 0; v != NULL && i < n; i++)
		free(v[i].path);
	free(v);
	free(names);
	return rc;
}

/* list status [DOMAIN] */
static int ctl_list_status(int argc, char **argv)
{
	const char *names[1];
	const struct config *c;
	struct settings s;
	size_t shown = 0;
	int care = 0, rc;

	if (argc > 1)
		return ctl_usage();
	if ((c = ctl_list_config()) == NULL)
		return EX_CONFIG_;
	if (ctl_json)
		putchar('[');
	if (argc == 1) {
		if (ctl_list_settings(argv[0], &s) < 0)
			return EX_CONFIG_;
		if (s.list.path[0] == '\0') {
			if (ctl_json)
				puts("]");
			fprintf(stderr, "rcptguardctl: %s has no list\n", argv[0]);
			return 1;
		}
		names[0] = argv[0];
		care = ctl_list_show(c, s.list.path, names, 1, 1);
		shown = 1;
	} else if ((rc = ctl_list_status_all(c, &care, &shown)) != 0) {
		return rc;
	}
	if (ctl_json)
		printf("%s]\n", shown ? "\n" : "");
	else if (shown == 0)
		printf("no static lists configured in %s\n", config_path(c));
	return care ? 1 : 0;
}

/* list accept DOMAIN */
static int ctl_list_accept(int argc, char **argv)
{
	const struct config *c;
	struct settings s;
	struct list_ctx x = { NULL, &s, "", 0 };
	char err[RG_ERRLEN] = "", msg[RG_ERRLEN] = "";
	int rc;

	if (argc != 1)
		return ctl_usage();
	if ((c = ctl_list_config()) == NULL || ctl_list_settings(argv[0], &s) < 0)
		return EX_CONFIG_;
	x.c = c;
	x.domain = argv[0];
	rc = list_accept(&x, msg, sizeof msg, err, sizeof err);
	if (ctl_json) {
		printf("{\"domain\":");
		ctl_json_str(argv[0]);
		printf(",\"accepted\":%s,\"detail\":", rc == RG_FOUND ? "true" : "false");
		ctl_json_str(rc == RG_FOUND ? msg : err);
		puts("}");
	} else if (rc == RG_FOUND) {
		printf("%s\n", msg);
	} else {
		fprintf(stderr, "rcptguardctl: %s\n", err);
	}
	return rc == RG_FOUND ? 0 : rc == RG_NOTFOUND ? 1 : rc == RG_CONFIG ? EX_CONFIG_ : 2;
}

/* list check|status|accept ... */
int ctl_list(int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "check") == 0)
		return ctl_list_check(argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "status") == 0)
		return ctl_list_status(argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "accept") == 0)
		return ctl_list_accept(argc - 1, argv + 1);
	return ctl_usage();
}
