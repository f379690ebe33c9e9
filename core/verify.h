/*
 * verify.h - the checks as the faces call them (Exim module, lookup driver, CLI).
 *
 * Each call loads (once per process and path) the config, applies the ACL's options,
 * and always produces a yield line: errors become result=defer with the reason, never
 * a rejection. The faces only translate arguments in and the yield out.
 */
#ifndef RG_VERIFY_H
#define RG_VERIFY_H

#include "yield.h"

/* verify_recipient ADDRESS [OPTIONS] -> result=pass|fail|defer. Returns the RG_ outcome. */
int verify_run_recipient(const char *address, const char *options, struct yield *y);

/* verify_sender ADDRESS [OPTIONS] -> result=pass|fail|defer|skip. skip: the null sender,
 * or a domain that is not ours (own_domains, or own_domain=yes in its section or the
 * options). Our own senders go through the recipient chain and share its cache. */
int verify_run_sender(const char *address, const char *options, struct yield *y);

/* catchall DOMAIN [OPTIONS] -> result=yes|no|unknown. */
int verify_run_catchall(const char *domain, const char *options, struct yield *y);

/* Per-process teardown: close callout connections (QUIT) and the store. */
void verify_shutdown(void);

#endif
