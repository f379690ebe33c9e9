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
 * Is domain a catch-all? From the cached record when fresh (*cached = 1), else by asking
 * its destination, on one connection, for the known address (postmaster@DOMAIN or
 * callout_known, when postmaster_check is on) and for the stable probe address, and
 * caching both answers for catchall_ttl. *known: 1 the known address is accepted, 0
 * refused (the destination's 5xx are then not trusted), -1 not known.
 * RG_FOUND yes, RG_NOTFOUND no, RG_TEMPFAIL cannot tell, RG_CONFIG no hosts.
 * text receives what the destination said (or the cached text).
 */
int source_callout_catchall(const char *domain, const struct settings *s, int64_t deadline_ms,
			    int *cached, int *known, char *text, size_t textsize, char *err, size_t errlen);

/* Random probe local part "rcptguard-probe-<16 hex>". 0 ok, -1 on failure. */
int source_callout_random_local(char *out, size_t size);

/* The probe local part of domain, stable during a catchall_ttl period (callout_key.h). */
int source_callout_probe_local(const char *domain, const struct settings *s, char *out, size_t size);

/* The address that must exist at domain: callout_known, or postmaster@domain; -1 too long. */
int source_callout_known_address(const char *domain, const struct settings *s, char *out, size_t size);

#endif
