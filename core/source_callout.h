/*
 * source_callout.h - the SMTP callout source and the catch-all probe that guards it.
 *
 * Connections are kept per process (one Exim process = one SMTP session) and shared by
 * the catch-all probe and every recipient of the same destination.
 */
#ifndef RG_SOURCE_CALLOUT_H
#define RG_SOURCE_CALLOUT_H

#include "config.h"
#include "smtp.h"

/*
 * Is domain a catch-all? From the cached record when fresh (*cached = 1), else by
 * probing its destination with a random local part and caching the answer.
 * RG_FOUND yes, RG_NOTFOUND no, RG_TEMPFAIL cannot tell, RG_CONFIG no hosts.
 * text receives what the destination said (or the cached text).
 */
int source_callout_catchall(const char *domain, const struct settings *s, int64_t deadline_ms,
			    int *cached, char *text, size_t textsize, char *err, size_t errlen);

/* Random probe local part "rcptguard-probe-<16 hex>". 0 ok, -1 on failure. */
int source_callout_random_local(char *out, size_t size);

#endif
