/*
 * greylist.h - greylisting as the faces call it (Exim module, lookup driver, CLI).
 *
 * A new (client network, sender, recipient) triplet is deferred once; its retry after
 * greylist_delay (within greylist_retry_window) passes, and the triplet then passes for
 * greylist_pass_ttl from its last pass. A network with greylist_awl_after passed
 * triplets passes at once (auto-whitelist). Records live in the shared store; every
 * read-modify-write is one store update (one write transaction).
 *
 * OPTIONS are the config overrides of every check, plus "hostname=NAME": the client's
 * verified host name ($sender_host_name), matched against the whitelist's hostname
 * entries. A store that cannot be read or written does not hold mail up: pass (logged),
 * unless greylist_on_error = defer.
 */
#ifndef RG_GREYLIST_H
#define RG_GREYLIST_H

#include "yield.h"

#define GREYLIST_MESSAGE "Greylisting in action, please come back in a few minutes"

/* greylist IP SENDER RECIPIENT [OPTIONS] -> result=pass|defer, recording the attempt.
 * RG_FOUND pass, RG_NOTFOUND defer (greylisted), RG_TEMPFAIL defer (error), RG_CONFIG. */
int greylist_run(const char *ip, const char *sender, const char *rcpt, const char *options,
		 struct yield *y);

/* The same decision, changing nothing (rcptguardctl greylist check). */
int greylist_check(const char *ip, const char *sender, const char *rcpt, const char *options,
		   struct yield *y);

#endif
