/*
 * probe.h - the SMTP tester behind "rcptguardctl probe": can a destination be used for
 * callouts? (banner, EHLO, null sender accepted, random recipient rejected at RCPT,
 * a known recipient accepted).
 */
#ifndef RG_PROBE_H
#define RG_PROBE_H

#include "config.h"

#define PROBE_STEPS 6

struct probe_step {
	const char *name;       /* static text */
	int ok;                 /* 1 as wanted, 0 not, -1 could not be tried */
	char detail[300];       /* the command and the destination's reply */
};

struct probe_report {
	struct probe_step steps[PROBE_STEPS];
	size_t n;
	int usable;             /* callouts to this destination can verify addresses */
	char summary[200];
};

/* Run the probe of domain against s->hosts; rcpt (may be NULL) is a known recipient. */
void probe_run(const char *domain, const struct settings *s, const char *rcpt,
	       struct probe_report *r);

#endif
