/*
 * store_copy.c - records' end of life by their owners' decoders, and store-to-store copy.
 *
 * The copy reads the source in batches (iterate: no transaction held while writing the
 * destination) and writes each live record with its own expiry, so that a member with
 * native expiry (Redis) deletes it when its owner would consider it gone.
 */
#include <string.h>

#include "config.h"
#include "fcrdns.h"
#include "greylist_key.h"
#include "greylist_record.h"
#include "store_copy.h"
#include "verdict.h"

/* Whether key starts with the prefix that make() gives for an empty name. */
static int store_copy_is(const char *key, size_t klen, const char *prefix)
{
	size_t n = strcspn(prefix, " ");        /* "g:  " (empty triplet) -> "g:" */

	return klen > n && memcmp(key, prefix, n) == 0;
}

/* The end of life of one record, by its owner. */
int store_copy_expiry(const char *key, size_t klen, const char *val, size_t vlen, unsigned stale_ttl,
		      int64_t *expires)
{
	char p[STORE_KEY_MAX + 1];
	struct verdict v;
	struct greylist_triplet t;
	struct greylist_awl a;
	struct fcrdns_record f;

	if (verdict_key_address(p, sizeof p, "") == 0 && store_copy_is(key, klen, p))
		return verdict_decode(val, vlen, 0, &v) < 0 ? -1 : (*expires = verdict_life(&v, 0, stale_ttl), 0);
	if (verdict_key_catchall(p, sizeof p, "") == 0 && store_copy_is(key, klen, p))
		return verdict_decode(val, vlen, 1, &v) < 0 ? -1 : (*expires = verdict_life(&v, 1, stale_ttl), 0);
	if (greylist_key_triplet(p, sizeof p, "", "", "") == 0 && store_copy_is(key, klen, p))
		return greylist_record_decode(val, vlen, &t) < 0 ? -1 : (*expires = t.expires, 0);
	if (greylist_key_awl(p, sizeof p, "") == 0 && store_copy_is(key, klen, p))
		return greylist_record_awl_decode(val, vlen, &a) < 0 ? -1 : (*expires = a.expires, 0);
	if (fcrdns_record_key(p, sizeof p, "") == 0 && store_copy_is(key, klen, p))
		return fcrdns_record_decode(val, vlen, &f) < 0 ? -1 : (*expires = f.expires, 0);
	return -1;
}

struct store_copy_run {
	const struct store_handle *to;
	int64_t now;
	unsigned stale_ttl;
	struct store_copy_counts *c;
	int failed;
	char *err;
	size_t errlen;
};

/* iterate callback: write one live record into the destination. */
static int store_copy_one(const char *key, size_t klen, const char *val, size_t vlen, void *arg)
{
	struct store_copy_run *r = arg;
	int64_t expires;

	if (store_copy_expiry(key, klen, val, vlen, r->stale_ttl, &expires) < 0) {
		r->c->unreadable++;
		return 0;
	}
	if (expires <= r->now) {
		r->c->expired++;
		return 0;
	}
	/* key is NUL-terminated by iterate(). */
	if (store_put(r->to, key, val, vlen, expires, 0, r->err, r->errlen) != RG_FOUND) {
		r->failed = 1;
		return 1;
	}
	r->c->copied++;
	return 0;
}

/* Copy every live record. */
int store_copy(const struct store_handle *from, const struct store_handle *to, int64_t now, unsigned stale_ttl,
	       struct store_copy_counts *out, char *err, size_t errlen)
{
	struct store_copy_run r = { to, now, stale_ttl, out, 0, err, errlen };
	char serr[RG_ERRLEN];
	int rc;

	memset(out, 0, sizeof *out);
	rc = store_iterate(from, "", store_copy_one, &r, 0, serr, sizeof serr);
	if (r.failed)
		return RG_TEMPFAIL;     /* err: the destination's */
	if (rc != RG_FOUND)
		util_snprintf(err, errlen, "%s", serr);
	return rc;
}

/* Open a store of another member (or another place) than the process's. */
int store_copy_open(const char *name, const struct settings *s, struct store_handle *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	if ((out->ops = store_find(name)) == NULL)
		return util_snprintf(err, errlen, "store \"%.20s\": no such store member in this build", name), RG_CONFIG;
	return out->ops->open(s, &out->s, err, errlen);
}

/* Close what store_copy_open() opened. */
void store_copy_close(struct store_handle *h)
{
	if (h->ops != NULL && h->s != NULL)
		h->ops->close(h->s);
	memset(h, 0, sizeof *h);
}
