/*
 * callout_key.h - the stable probe address of a destination: the same random-looking
 * local part for a domain during one catchall_ttl period, derived from a per-installation
 * secret in state_dir, so that a greylisting destination lets the probe through on its
 * retry (and learns one entry), while outsiders cannot guess it.
 */
#ifndef RG_CALLOUT_KEY_H
#define RG_CALLOUT_KEY_H

#include "rg.h"

#define CALLOUT_KEY_FILE "probe.secret"
#define CALLOUT_KEY_LOCAL_MAX 48

/*
 * "rcptguard-probe-<16 hex>" for domain (case-insensitive) and period (e.g. now divided by
 * catchall_ttl): HMAC-SHA256 under the secret in state_dir/probe.secret, which the first
 * process that needs it creates (0600, owned like state_dir, atomically). RG_FOUND; or
 * RG_TEMPFAIL with err when the secret cannot be read or made (the caller then uses a
 * one-off random local part).
 */
int callout_key_local(const char *state_dir, const char *domain, int64_t period, char *out,
		      size_t size, char *err, size_t errlen);

/* A one-off random local part "rcptguard-probe-<16 hex>". 0, or -1 on failure. */
int callout_key_random(char *out, size_t size);

#endif
