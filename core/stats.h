/*
 * stats.h - counters written by the Exim processes themselves (verdicts, callouts, defers,
 * greylisting, FCrDNS, store errors) and read by rcptguardctl stats and rcptguard-admin's
 * /metrics.
 *
 * Why a small shared-memory file (state_dir/stats) and not the store: a counter is one
 * atomic add in a page every Exim process maps, costing nanoseconds, never a write
 * transaction per RCPT. The file is mapped lazily on the first count; the mapping is
 * MAP_SHARED, so a child inherits it across fork() and its adds still land in the file. A
 * short or damaged file is replaced by a fresh one (counts start again), never trusted.
 *
 * Lower tier: knows nothing of config or the engine; callers pass their state_dir.
 */
#ifndef RG_STATS_H
#define RG_STATS_H

#include "rg.h"

/* The families of counters; the labels each takes are in stats.c's table. */
enum stats_family {
	STATS_VERDICT,          /* verify_recipient/sender answers: source, result */
	STATS_DEFER,            /* deferrals by check and reason */
	STATS_CALLOUT,          /* callout RCPTs: kind (rcpt|probe), outcome */
	STATS_GREYLIST,         /* greylist decisions: result, reason */
	STATS_FCRDNS,           /* FCrDNS answers: result, reason */
	STATS_STORE_ERROR,      /* store failures by operation */
	STATS_STORE_FALLBACK,   /* switches from the shared store to the local one */
	STATS_FAMILIES
};

/* Count one event of family f with label values a and b (NULL when the family has fewer
 * labels; an unknown value counts as "other"). state_dir NULL: the file this process
 * already counts into (none yet: not counted). Never fails visibly: statistics must not
 * cost mail. */
void stats_count(const char *state_dir, enum stats_family f, const char *a, const char *b);

/* Count one answer from its yield line: STATS_VERDICT (source, result, and a defer's
 * reason), STATS_GREYLIST (result, reason) or STATS_FCRDNS (result, reason, defers). */
void stats_yield(const char *state_dir, enum stats_family f, const char *line);

/* Count a callout RCPT of kind "rcpt" or "probe" from its reply code (0: no reply). */
void stats_callout(const char *state_dir, const char *kind, int code);

/* One counter, as readers print it. */
struct stats_entry {
	const char *metric;     /* "rcptguard_verdicts_total" */
	const char *help;       /* one line */
	char labels[128];       /* "source=\"callout\",result=\"pass\"" ("" when none) */
	uint64_t value;
};

typedef void stats_entry_fn(const struct stats_entry *e, void *arg);

/* Read the counters of state_dir and call fn for each, in a stable order. RG_FOUND,
 * RG_NOTFOUND (no file yet: every counter 0, fn still called), RG_TEMPFAIL (unreadable
 * or damaged: err says why, fn not called). */
int stats_read(const char *state_dir, stats_entry_fn *fn, void *arg, char *err, size_t errlen);

/* The labels of e as a JSON object ({"source":"cache","result":"pass"}, or {}). */
void stats_labels_json(const struct stats_entry *e, char *buf, size_t size);

/* In the process that forks the others (Exim's daemon, at rcptguard's preload): map
 * state_dir/stats now, or check that the mapping held is still the file's (one stat()), so
 * that each child inherits it mapped instead of opening and mapping it again. */
void stats_preload(const char *state_dir);

/* Unmap (tests). */
void stats_reset(void);

#endif
