/*
 * verdict_admin.h - the operator's side of cached verdicts and catch-all results
 * (rcptguardctl cache list|flush, purge; the admin API's /domains/DOMAIN/cache): what
 * they do to the store. verdict.c owns the records; the faces only parse and print.
 */
#ifndef RG_VERDICT_ADMIN_H
#define RG_VERDICT_ADMIN_H

#include "store.h"
#include "verdict.h"

/*
 * Called per record by verdict_admin_list(), after the store read (no transaction held),
 * in order: catch-all results by domain, then verdicts by address, each once. name is
 * the address (catchall 0) or the domain (catchall 1). Return non-zero to stop.
 */
typedef int verdict_admin_fn(const char *name, int catchall, const struct verdict *v, void *arg);

/* The records of domain (NULL: all; its catch-all result and its addresses' verdicts),
 * or of one address (NULL: any; its verdict only). Domains compare case-insensitively.
 * Records that do not decode are skipped. RG_FOUND, RG_TEMPFAIL (err says why). */
int verdict_admin_list(const struct store_handle *st, const char *domain, const char *address,
		       verdict_admin_fn *fn, void *arg, char *err, size_t errlen);

/* Delete the records list() would give for domain/address (both NULL: all, and then
 * records that do not decode too); negative_only: only failed verdicts and "no" catch-all
 * results. *flushed = records deleted. Batched: safe while Exim runs. */
int verdict_admin_flush(const struct store_handle *st, const char *domain, const char *address,
			int negative_only, size_t *flushed, char *err, size_t errlen);

/* Delete verdicts and catch-all results past their life at now (a positive verdict lives
 * stale_ttl after it was made, the largest stale_ttl of the config) and records that do
 * not decode. A member whose records expire by themselves (STORE_CAP_EXPIRY): nothing to do. */
int verdict_admin_purge(const struct store_handle *st, int64_t now, size_t *n, char *err, size_t errlen);

#endif
