/*
 * verdict_admin.c - list, flush and purge cached verdicts and catch-all results.
 *
 * Listings are read first and delivered after (store_iterate_sorted): a slow reader
 * (`rcptguardctl cache list | less`, an HTTP client) holds nothing in the store. Flush
 * and purge are batched delete_if walks, safe while Exim processes write.
 */
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "verdict_admin.h"

struct verdict_admin_sel {
	char domain[RG_DOMAIN_MAX + 1];         /* "" all */
	char address[RG_ADDRESS_MAX + 1];       /* "" any */
	size_t plen;                            /* length of the key prefix ("v:", "c:") */
	int catchall, negative_only;
	int64_t now, stale_max;                 /* purge */
	verdict_admin_fn *fn;
	void *arg;
};

/* The key prefix to read for f: of verdicts (f->catchall 0) or catch-all results (1),
 * with f->plen its fixed part; an address or a catch-all domain narrows it, so that only
 * what starts so is read. RG_FOUND, or RG_CONFIG when it does not fit a key. */
static int verdict_admin_prefix(struct verdict_admin_sel *f, char *buf, size_t size, char *err, size_t errlen)
{
	if ((f->catchall ? verdict_key_catchall(buf, size, "") : verdict_key_address(buf, size, "")) < 0)
		buf[0] = '\0';
	f->plen = strlen(buf);
	if ((f->address[0] && util_strlcpy(buf + f->plen, f->address, size - f->plen) < 0) ||
	    (f->catchall && util_strlcpy(buf + f->plen, f->domain, size - f->plen) < 0))
		return util_snprintf(err, errlen, "key too long"), RG_CONFIG;
	return RG_FOUND;
}

/* Fill the selection; RG_CONFIG when domain or address cannot be a key. */
static int verdict_admin_select(struct verdict_admin_sel *f, const char *domain, const char *address,
				char *err, size_t errlen)
{
	char *at;

	memset(f, 0, sizeof f[0]);
	if (domain && (util_strlcpy(f->domain, domain, sizeof f->domain) < 0 || strchr(domain, '@')))
		return util_snprintf(err, errlen, "not a domain: %.100s", domain), RG_CONFIG;
	if (address && (util_strlcpy(f->address, address, sizeof f->address) < 0 ||
			(at = strrchr(f->address, '@')) == NULL))
		return util_snprintf(err, errlen, "not an address: %.100s", address), RG_CONFIG;
	util_lower(f->domain);
	if (f->address[0])
		util_lower(strrchr(f->address, '@'));   /* the domain part, as address keys have it */
	return RG_FOUND;
}

/* Whether a record (name without its prefix) is selected. */
static int verdict_admin_selected(const struct verdict_admin_sel *f, const char *name, size_t nlen,
				  const struct verdict *v)
{
	size_t dl = strlen(f->domain);

	if (f->negative_only && v->pass)
		return 0;
	if (f->address[0])
		return !f->catchall && strlen(f->address) == nlen && memcmp(f->address, name, nlen) == 0;
	if (dl == 0)
		return 1;
	if (f->catchall)
		return dl == nlen && memcmp(f->domain, name, nlen) == 0;
	return nlen > dl + 1 && name[nlen - dl - 1] == '@' && memcmp(name + nlen - dl, f->domain, dl) == 0;
}

/* iterate callback of list: decode, select, deliver. */
static int verdict_admin_list_one(const char *key, size_t klen, const char *val, size_t vlen, void *arg)
{
	struct verdict_admin_sel *f = arg;
	char name[STORE_KEY_MAX + 1];
	struct verdict v;

	if (klen < f->plen || klen - f->plen >= sizeof name || verdict_decode(val, vlen, f->catchall, &v) < 0)
		return 0;
	if (!verdict_admin_selected(f, key + f->plen, klen - f->plen, &v))
		return 0;
	memcpy(name, key + f->plen, klen - f->plen);
	name[klen - f->plen] = '\0';
	return f->fn(name, f->catchall, &v, f->arg);
}

/* The records of a domain or an address, or all. */
int verdict_admin_list(const struct store_handle *st, const char *domain, const char *address,
		       verdict_admin_fn *fn, void *arg, char *err, size_t errlen)
{
	struct verdict_admin_sel f;
	char prefix[STORE_KEY_MAX + 1];
	int rc;

	if ((rc = verdict_admin_select(&f, domain, address, err, errlen)) != RG_FOUND)
		return rc;
	f.fn = fn;
	f.arg = arg;
	for (f.catchall = 1; f.catchall >= 0; f.catchall--) {
		if (f.catchall && f.address[0])
			continue;
		if ((rc = verdict_admin_prefix(&f, prefix, sizeof prefix, err, errlen)) != RG_FOUND)
			return rc;
		if ((rc = store_iterate_sorted(st, prefix, verdict_admin_list_one, &f, 0, err, errlen)) != RG_FOUND)
			return rc;
	}
	return RG_FOUND;
}

/* delete_if predicate of flush. */
static int verdict_admin_flush_one(const char *key, size_t klen, const char *val, size_t vlen, void *arg)
{
	const struct verdict_admin_sel *f = arg;
	struct verdict v;

	if (klen < f->plen)
		return 0;
	if (verdict_decode(val, vlen, f->catchall, &v) < 0)
		return !f->negative_only && !f->domain[0] && !f->address[0];  /* all: junk too */
	return verdict_admin_selected(f, key + f->plen, klen - f->plen, &v);
}

/* Delete the selected records. */
int verdict_admin_flush(const struct store_handle *st, const char *domain, const char *address,
			int negative_only, size_t *flushed, char *err, size_t errlen)
{
	struct verdict_admin_sel f;
	char prefix[STORE_KEY_MAX + 1];
	size_t n;
	int rc;

	*flushed = 0;
	if ((rc = verdict_admin_select(&f, domain, address, err, errlen)) != RG_FOUND)
		return rc;
	f.negative_only = negative_only;
	for (f.catchall = 1; f.catchall >= 0; f.catchall--) {
		if (f.catchall && f.address[0])
			continue;
		if ((rc = verdict_admin_prefix(&f, prefix, sizeof prefix, err, errlen)) != RG_FOUND)
			return rc;
		rc = store_delete_if(st, prefix, verdict_admin_flush_one, &f, &n, 0, err, errlen);
		*flushed += n;
		if (rc != RG_FOUND)
			return rc;
	}
	return RG_FOUND;
}

/* The largest stale_ttl of the config in force (global and every [domain] section): a
 * positive verdict may answer that long after it was made, whichever domain it is of. */
int verdict_admin_stale_max(int64_t *out, char *err, size_t errlen)
{
	const struct settings *s;
	const struct config *c;
	struct settings *d;
	size_t i, n;

	if (engine_settings(NULL, "", &s, err, errlen) != RG_FOUND || (c = engine_current_config()) == NULL)
		return RG_CONFIG;
	*out = s->stale_ttl;
	if ((n = config_domain_count(c)) == 0)
		return RG_FOUND;
	if ((d = malloc(sizeof *d)) == NULL)
		return util_snprintf(err, errlen, "out of memory"), RG_TEMPFAIL;
	for (i = 0; i < n; i++) {
		config_for_domain(c, config_domain_name(c, i), d);
		if ((int64_t)d->stale_ttl > *out)
			*out = d->stale_ttl;
	}
	free(d);
	return RG_FOUND;
}

/* delete_if predicate of purge: past its life, or unreadable. */
static int verdict_admin_expired(const char *key, size_t klen, const char *val, size_t vlen, void *arg)
{
	const struct verdict_admin_sel *f = arg;
	struct verdict v;

	(void)key;
	(void)klen;
	if (verdict_decode(val, vlen, f->catchall, &v) < 0)
		return 1;
	return f->now >= verdict_life(&v, f->catchall, f->stale_max > UINT32_MAX ? UINT32_MAX : (unsigned)f->stale_max);
}

/* Delete what has lived its life. */
int verdict_admin_purge(const struct store_handle *st, int64_t now, size_t *n, char *err, size_t errlen)
{
	struct verdict_admin_sel f;
	char prefix[STORE_KEY_MAX + 1];
	size_t k;
	int rc;

	*n = 0;
	if (st != NULL && st->ops != NULL && (st->ops->caps & STORE_CAP_EXPIRY))
		return RG_FOUND;
	memset(&f, 0, sizeof f);
	f.now = now;
	if ((rc = verdict_admin_stale_max(&f.stale_max, err, errlen)) != RG_FOUND)
		return rc;
	for (f.catchall = 1; f.catchall >= 0; f.catchall--) {
		if ((rc = verdict_admin_prefix(&f, prefix, sizeof prefix, err, errlen)) != RG_FOUND)
			return rc;
		rc = store_delete_if(st, prefix, verdict_admin_expired, &f, &k, 0, err, errlen);
		*n += k;
		if (rc != RG_FOUND)
			return rc;
	}
	return RG_FOUND;
}
