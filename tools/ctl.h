/*
 * ctl.h - what the rcptguardctl verb files (tools/ctl_*.c) share with tools/rcptguardctl.c:
 * the verb table entry, output helpers (text or --json) and exit statuses.
 */
#ifndef RG_CTL_H
#define RG_CTL_H

#include <stdint.h>

#include "store.h"

#define EX_USAGE_ 64
#define EX_CONFIG_ 78

/* One verb: run gets the arguments after the verb name and returns the exit status. */
struct ctl_verb {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;      /* one or more "VERB ARGS   what it does" lines */
};

extern int ctl_json;        /* --json given */

/* Print the usage text; returns EX_USAGE_. */
int ctl_usage(void);

/* Print s as a JSON string literal. */
void ctl_json_str(const char *s);

/* Print a yield line as is, or as a JSON object with --json. */
void ctl_print_yield(const char *line);

/* Exit status for a check outcome (0 found, 1 notfound, 2 tempfail, 78 config). */
int ctl_status(int rc);

/* "-o OPTIONS" at argv[i], or NULL. */
const char *ctl_options(int argc, char **argv, int i);

/* The store of the global settings (NULL after printing the reason to stderr), checked
 * for damage first (a damaged file is set aside and recreated, and that is said). */
const struct store_handle *ctl_store(void);
/* The same without the check. */
const struct store_handle *ctl_store_unchecked(void);

/* A unix time as ISO 8601 UTC in buf. */
const char *ctl_time(int64_t t, char *buf, size_t size);

/* fcrdns IP [-o OPTIONS] (tools/ctl_fcrdns.c). */
int ctl_fcrdns(int argc, char **argv);
/* list check|status|accept (tools/ctl_list.c). */
int ctl_list(int argc, char **argv);
/* tools/ctl_greylist.c: greylist ..., purge, stats. */
int ctl_greylist(int argc, char **argv);
int ctl_purge(int argc, char **argv);
int ctl_stats(int argc, char **argv);
/* The counters of state_dir: text lines, or a ,"counters":[...] member with --json
 * (tools/ctl_stats.c). */
void ctl_stats_counters(const char *state_dir);

/* tools/ctl_store.c: store status|check|copy. */
int ctl_store_verb(int argc, char **argv);

#endif
