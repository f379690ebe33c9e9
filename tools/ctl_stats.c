/*
 * ctl_stats.c - the counters part of "rcptguardctl stats": what the Exim processes counted
 * in state_dir/stats (core/stats.c), after the greylisting record counts.
 */
#include <inttypes.h>
#include <stdio.h>

#include "ctl.h"
#include "stats.h"

/* Print one counter (stats_read callback); arg counts the ones printed. */
static void ctl_stats_one(const struct stats_entry *e, void *arg)
{
	unsigned *n = arg;
	char labels[256];

	if (ctl_json) {
		stats_labels_json(e, labels, sizeof labels);
		printf("%s\n {\"metric\":\"%s\",\"labels\":%s,\"value\":%" PRIu64 "}", *n ? "," : "",
		       e->metric, labels, e->value);
	} else if (e->value != 0) {
		printf("  %s%s%s%s %" PRIu64 "\n", e->metric, e->labels[0] ? "{" : "", e->labels,
		       e->labels[0] ? "}" : "", e->value);
	}
	(*n)++;
}

/* The counters, as text lines or a JSON member. */
void ctl_stats_counters(const char *state_dir)
{
	char err[RG_ERRLEN];
	unsigned n = 0;
	int rc;

	if (ctl_json)
		printf(",\"counters\":[");
	else
		printf("counters (since %s/stats was created; zero counters not shown):\n", state_dir);
	rc = stats_read(state_dir, ctl_stats_one, &n, err, sizeof err);
	if (ctl_json)
		printf("%s]", n ? "\n" : "");
	if (rc == RG_TEMPFAIL || rc == RG_CONFIG)
		fprintf(stderr, "rcptguardctl: counters: %s\n", err);
	else if (!ctl_json && rc == RG_NOTFOUND)
		printf("  none yet (no check has run since installation)\n");
}
