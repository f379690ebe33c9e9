/*
 * greylist_admin.h - the operator's greylisting verbs (rcptguardctl greylist allow/remove,
 * purge, stats): what they do to the store. The CLI only parses and prints.
 *
 * Every change is a store update or a batched delete_if, safe while Exim runs.
 */
#ifndef RG_GREYLIST_ADMIN_H
#define RG_GREYLIST_ADMIN_H

#include "config.h"
#include "greylist_record.h"
#include "store.h"

#define GREYLIST_ADMIN_MAX_NETS 65536   /* networks one allow/remove of a CIDR may touch */

struct greylist_stats {
	size_t waiting, passing, expired_triplets;   /* g: records by state now */
	size_t awl_whitelisted, awl_counting, awl_manual, expired_awl;
	size_t unreadable;                           /* records that do not decode */
	size_t key_bytes, value_bytes;               /* of the greylisting records */
};

/* Release a client network (IP or CIDR, grouped by the configured prefixes) at once: a
 * manual auto-whitelist entry per network, for pass_ttl. *n = networks released; the
 * first network's name in first. RG_FOUND, RG_CONFIG (bad CIDR, too many), RG_TEMPFAIL. */
int greylist_admin_allow_net(const struct settings *s, const struct store_handle *st, const char *cidr,
			     size_t *n, char *first, size_t firstsize, char *err, size_t errlen);

/* Release a triplet at once (it passes for pass_ttl). The triplet's store key in key. */
int greylist_admin_allow_triplet(const struct settings *s, const struct store_handle *st, const char *ip,
				 const char *sender, const char *rcpt, char *key, size_t keysize,
				 char *err, size_t errlen);

/* Forget a network (its auto-whitelist entry and all its triplets). *n = records removed. */
int greylist_admin_remove_net(const struct settings *s, const struct store_handle *st, const char *cidr,
			      size_t *n, char *err, size_t errlen);

/* Forget a triplet. RG_FOUND (removed), RG_NOTFOUND (absent), RG_CONFIG, RG_TEMPFAIL. */
int greylist_admin_remove_triplet(const struct settings *s, const struct store_handle *st, const char *ip,
				  const char *sender, const char *rcpt, char *err, size_t errlen);

/* Delete triplets and auto-whitelist entries expired at now (and unreadable ones), in
 * short write transactions (Exim processes keep deciding meanwhile). */
int greylist_admin_purge(const struct store_handle *st, int64_t now, size_t *triplets, size_t *awl,
			 char *err, size_t errlen);

/* Called per record by greylist_admin_list(), after the store read: a triplet (t set, a
 * NULL; its network, sender and recipient) or an auto-whitelist entry (a set, t NULL;
 * sender and rcpt NULL). Return non-zero to stop. */
typedef int greylist_admin_fn(const char *net, const char *sender, const char *rcpt,
			      const struct greylist_triplet *t, const struct greylist_awl *a, void *arg);

/* Auto-whitelist entries, then triplets, each in key order and once; records that do
 * not decode are skipped. */
int greylist_admin_list(const struct store_handle *st, greylist_admin_fn *fn, void *arg,
			char *err, size_t errlen);

/* Count the greylisting records at now. */
int greylist_admin_stats(const struct settings *s, const struct store_handle *st, int64_t now,
			 struct greylist_stats *out, char *err, size_t errlen);

#endif
