/*
 * store_copy.h - every record's end of life, and copying one store into another
 * (rcptguardctl store copy --to lmdb|redis: a site that switches loses no state).
 *
 * Record owners (verdict.c, greylist_record.c, fcrdns.c) know how long their records
 * live; this is the one place that asks them for any record, by its key.
 */
#ifndef RG_STORE_COPY_H
#define RG_STORE_COPY_H

#include "store.h"

/* The end of life (unix seconds) of the record key=val, from its owner's decoder; a
 * positive verdict lives stale_ttl after it was made. 0 ok, -1 not a record anyone owns
 * or one that does not decode. */
int store_copy_expiry(const char *key, size_t klen, const char *val, size_t vlen, unsigned stale_ttl,
		      int64_t *expires);

struct store_copy_counts {
	size_t copied;          /* written to the destination with their expiry */
	size_t expired;         /* past their life at now: left behind */
	size_t unreadable;      /* no owner, or did not decode: left behind */
};

/* Copy every live record of from into to, each with its expiry. RG_FOUND, or
 * RG_TEMPFAIL (err says which store failed; what was copied stays copied). */
int store_copy(const struct store_handle *from, const struct store_handle *to, int64_t now, unsigned stale_ttl,
	       struct store_copy_counts *out, char *err, size_t errlen);

/* Open a store of member name for the settings, outside the process's own (the other
 * end of a copy). RG_FOUND with *out to be given to store_copy_close(); RG_CONFIG
 * (no such member), RG_TEMPFAIL. */
int store_copy_open(const char *name, const struct settings *s, struct store_handle *out, char *err, size_t errlen);
void store_copy_close(struct store_handle *h);

#endif
