/*
 * greylist_admin.c - operator changes to greylisting records: release, forget, purge,
 * count. Each read-modify-write is a store update (never a get then a put, which would
 * race with Exim processes); purges delete in bounded batches.
 */
#include <arpa/inet.h>
#include <string.h>

#include "greylist_admin.h"
#include "greylist_key.h"
#include "greylist_record.h"

struct greylist_admin_upd {
	const struct settings *s;
	int64_t now;
};

typedef int greylist_net_fn(const char *net, void *arg, char *err, size_t errlen);

/* The next network: add 1 at the last bit of a group prefix (group >= 1), with carry. */
static void greylist_admin_next(unsigned char a[16], unsigned group)
{
	int byte = (int)(group - 1) / 8;
	unsigned add = 1u << (7 - (group - 1) % 8), v;

	for (; byte >= 0; byte--) {
		v = a[byte] + add;
		a[byte] = (unsigned char)v;
		if (v < 256)
			break;
		add = 1;
	}
}

/* Call fn for each client network (at the configured prefixes) that cidr covers. */
static int greylist_admin_nets(const struct settings *s, const char *cidr, greylist_net_fn *fn, void *arg,
			       size_t *n, char *err, size_t errlen)
{
	unsigned char a[16];
	unsigned prefix, group;
	char ip[INET6_ADDRSTRLEN], net[GREYLIST_NET_MAX];
	size_t count, i;
	int v4, rc;

	*n = 0;
	if (greylist_key_cidr(cidr, a, &prefix) < 0)
		return util_snprintf(err, errlen, "not an IP address or CIDR network: %.100s", cidr), RG_CONFIG;
	v4 = strchr(cidr, ':') == NULL;
	group = v4 ? s->greylist_ipv4_prefix + 96 : s->greylist_ipv6_prefix;
	count = 1;
	if (prefix < group) {
		if (group - prefix > 16)
			return util_snprintf(err, errlen, "%.100s covers more than %d networks of /%u",
					     cidr, GREYLIST_ADMIN_MAX_NETS, v4 ? group - 96 : group), RG_CONFIG;
		count = (size_t)1 << (group - prefix);
	}
	for (i = 0; i < count; i++) {
		if (inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? a + 12 : a, ip, sizeof ip) == NULL ||
		    greylist_key_network(ip, s->greylist_ipv4_prefix, s->greylist_ipv6_prefix, net, sizeof net) < 0)
			return util_snprintf(err, errlen, "cannot name a network of %.100s", cidr), RG_CONFIG;
		if ((rc = fn(net, arg, err, errlen)) != RG_FOUND)
			return rc;
		(*n)++;
		if (i + 1 < count)
			greylist_admin_next(a, group);
	}
	return RG_FOUND;
}

/* update callback: make the network's entry a manual release. */
static int greylist_admin_upd_allow(const char *old, size_t oldlen, char *out, size_t outsize, size_t *outlen,
				    int64_t *expires, void *arg)
{
	const struct greylist_admin_upd *u = arg;
	struct greylist_awl a;

	if (old == NULL || greylist_record_awl_decode(old, oldlen, &a) < 0) {
		memset(&a, 0, sizeof a);
		a.first = u->now;
	}
	a.manual = 1;
	a.last = u->now;
	a.expires = u->now + u->s->greylist_pass_ttl;
	if (greylist_record_awl_encode(&a, out, outsize) < 0)
		return -1;
	*outlen = strlen(out);
	*expires = a.expires;
	return STORE_UPDATE_PUT;
}

struct greylist_admin_net_arg {
	const struct store_handle *st;
	struct greylist_admin_upd u;
	char *first;
	size_t firstsize, removed;
};

/* Release one network. */
static int greylist_admin_allow_one(const char *net, void *arg, char *err, size_t errlen)
{
	struct greylist_admin_net_arg *na = arg;
	char key[STORE_KEY_MAX + 1];

	if (na->first[0] == '\0')
		util_strlcpy(na->first, net, na->firstsize);
	if (greylist_key_awl(key, sizeof key, net) < 0)
		return util_snprintf(err, errlen, "key too long"), RG_CONFIG;
	return store_update(na->st, key, greylist_admin_upd_allow, &na->u, 0, err, errlen);
}

/* Release a client network. */
int greylist_admin_allow_net(const struct settings *s, const struct store_handle *st, const char *cidr,
			     size_t *n, char *first, size_t firstsize, char *err, size_t errlen)
{
	struct greylist_admin_net_arg na = { st, { s, util_now() }, first, firstsize, 0 };

	first[0] = '\0';
	return greylist_admin_nets(s, cidr, greylist_admin_allow_one, &na, n, err, errlen);
}

/* The store key of a triplet given as the ACL gives it. */
static int greylist_admin_tkey(const struct settings *s, const char *ip, const char *sender, const char *rcpt,
			       char *key, size_t keysize, char *err, size_t errlen)
{
	char net[GREYLIST_NET_MAX], sk[RG_ADDRESS_MAX + 1], rk[RG_ADDRESS_MAX + 1];

	if (greylist_key_network(ip, s->greylist_ipv4_prefix, s->greylist_ipv6_prefix, net, sizeof net) < 0)
		return util_snprintf(err, errlen, "not an IP address: %.100s", ip), RG_CONFIG;
	if (greylist_key_sender(sender, sk, sizeof sk) < 0 || greylist_key_recipient(rcpt, rk, sizeof rk) < 0 ||
	    rk[0] == '\0' || greylist_key_triplet(key, keysize, net, sk, rk) < 0)
		return util_snprintf(err, errlen, "sender or recipient missing or too long"), RG_CONFIG;
	return RG_FOUND;
}

/* update callback: the triplet passes from now on. */
static int greylist_admin_upd_pass(const char *old, size_t oldlen, char *out, size_t outsize, size_t *outlen,
				   int64_t *expires, void *arg)
{
	const struct greylist_admin_upd *u = arg;
	struct greylist_triplet t;

	if (old == NULL || greylist_record_decode(old, oldlen, &t) < 0) {
		memset(&t, 0, sizeof t);
		t.first = u->now;
	}
	t.passed = 1;
	t.last = u->now;
	t.expires = u->now + u->s->greylist_pass_ttl;
	if (greylist_record_encode(&t, out, outsize) < 0)
		return -1;
	*outlen = strlen(out);
	*expires = t.expires;
	return STORE_UPDATE_PUT;
}

/* Release a triplet. */
int greylist_admin_allow_triplet(const struct settings *s, const struct store_handle *st, const char *ip,
				 const char *sender, const char *rcpt, char *key, size_t keysize,
				 char *err, size_t errlen)
{
	struct greylist_admin_upd u = { s, util_now() };
	int rc;

	if ((rc = greylist_admin_tkey(s, ip, sender, rcpt, key, keysize, err, errlen)) != RG_FOUND)
		return rc;
	return store_update(st, key, greylist_admin_upd_pass, &u, 0, err, errlen);
}

/* delete_if predicate: everything under the prefix. */
static int greylist_admin_all(const char *k, size_t kl, const char *v, size_t vl, void *arg)
{
	(void)k; (void)kl; (void)v; (void)vl; (void)arg;
	return 1;
}

/* Forget one network. */
static int greylist_admin_remove_one(const char *net, void *arg, char *err, size_t errlen)
{
	struct greylist_admin_net_arg *na = arg;
	char key[STORE_KEY_MAX + 1];
	size_t n = 0;
	int rc;

	if (greylist_key_awl(key, sizeof key, net) < 0)
		return util_snprintf(err, errlen, "key too long"), RG_CONFIG;
	rc = store_del(na->st, key, 0, err, errlen);
	if (rc == RG_FOUND)
		na->removed++;
	else if (rc != RG_NOTFOUND)
		return rc;
	/* "g:NET " (with the space): 192.0.2.0/24 must not take 192.0.2.0/240... */
	if (util_snprintf(key, sizeof key, "g:%s ", net) < 0)
		return util_snprintf(err, errlen, "key too long"), RG_CONFIG;
	if ((rc = store_delete_if(na->st, key, greylist_admin_all, NULL, &n, 0, err, errlen)) != RG_FOUND)
		return rc;
	na->removed += n;
	return RG_FOUND;
}

/* Forget a network. */
int greylist_admin_remove_net(const struct settings *s, const struct store_handle *st, const char *cidr,
			      size_t *n, char *err, size_t errlen)
{
	char first[GREYLIST_NET_MAX];
	struct greylist_admin_net_arg na = { st, { s, 0 }, first, sizeof first, 0 };
	size_t nets;
	int rc;

	rc = greylist_admin_nets(s, cidr, greylist_admin_remove_one, &na, &nets, err, errlen);
	*n = na.removed;
	return rc;
}

/* Forget a triplet. */
int greylist_admin_remove_triplet(const struct settings *s, const struct store_handle *st, const char *ip,
				  const char *sender, const char *rcpt, char *err, size_t errlen)
{
	char key[STORE_KEY_MAX + 1];
	int rc;

	if ((rc = greylist_admin_tkey(s, ip, sender, rcpt, key, sizeof key, err, errlen)) != RG_FOUND)
		return rc;
	return store_del(st, key, 0, err, errlen);
}

/* delete_if predicate: an expired (or unreadable) triplet. */
static int greylist_admin_expired_triplet(const char *k, size_t kl, const char *v, size_t vl, void *arg)
{
	struct greylist_triplet t;

	(void)k; (void)kl;
	return greylist_record_decode(v, vl, &t) < 0 || *(const int64_t *)arg >= t.expires;
}

/* delete_if predicate: an expired (or unreadable) auto-whitelist entry. */
static int greylist_admin_expired_awl(const char *k, size_t kl, const char *v, size_t vl, void *arg)
{
	struct greylist_awl a;

	(void)k; (void)kl;
	return greylist_record_awl_decode(v, vl, &a) < 0 || *(const int64_t *)arg >= a.expires;
}

/* Delete what expired. */
int greylist_admin_purge(const struct store_handle *st, int64_t now, size_t *triplets, size_t *awl,
			 char *err, size_t errlen)
{
	int rc;

	*triplets = *awl = 0;
	rc = store_delete_if(st, "g:", greylist_admin_expired_triplet, &now, triplets, 0, err, errlen);
	if (rc != RG_FOUND)
		return rc;
	return store_delete_if(st, "a:", greylist_admin_expired_awl, &now, awl, 0, err, errlen);
}

struct greylist_admin_count {
	const struct settings *s;
	int64_t now;
	struct greylist_stats *out;
};

/* iterate callback: count one record. */
static int greylist_admin_count_one(const char *k, size_t kl, const char *v, size_t vl, void *arg)
{
	struct greylist_admin_count *c = arg;
	struct greylist_triplet t;
	struct greylist_awl a;

	c->out->key_bytes += kl;
	c->out->value_bytes += vl;
	if (k[0] == 'g') {
		if (greylist_record_decode(v, vl, &t) < 0)
			c->out->unreadable++;
		else if (c->now >= t.expires)
			c->out->expired_triplets++;
		else if (t.passed)
			c->out->passing++;
		else
			c->out->waiting++;
	} else if (greylist_record_awl_decode(v, vl, &a) < 0) {
		c->out->unreadable++;
	} else if (c->now >= a.expires) {
		c->out->expired_awl++;
	} else if (a.manual) {
		c->out->awl_manual++;
	} else if (greylist_record_awl_passes(&a, c->now, c->s)) {
		c->out->awl_whitelisted++;
	} else {
		c->out->awl_counting++;
	}
	return 0;
}

/* Count the greylisting records. */
int greylist_admin_stats(const struct settings *s, const struct store_handle *st, int64_t now,
			 struct greylist_stats *out, char *err, size_t errlen)
{
	struct greylist_admin_count c = { s, now, out };
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = store_iterate(st, "g:", greylist_admin_count_one, &c, 0, err, errlen)) != RG_FOUND)
		return rc;
	return store_iterate(st, "a:", greylist_admin_count_one, &c, 0, err, errlen);
}

struct greylist_admin_lister {
	greylist_admin_fn *fn;
	void *arg;
	int stopped;
};

/* iterate callback: decode one record and deliver it. */
static int greylist_admin_list_one(const char *k, size_t kl, const char *v, size_t vl, void *arg)
{
	struct greylist_admin_lister *l = arg;
	char key[STORE_KEY_MAX + 1], *w[3], *p;
	struct greylist_triplet t;
	struct greylist_awl a;
	int i;

	if (kl < 2 || kl >= sizeof key)
		return 0;
	memcpy(key, k + 2, kl - 2);
	key[kl - 2] = '\0';
	if (k[0] != 'g')
		return greylist_record_awl_decode(v, vl, &a) < 0 ? 0 :
		       (l->stopped = l->fn(key, NULL, NULL, NULL, &a, l->arg));
	if (greylist_record_decode(v, vl, &t) < 0)
		return 0;
	/* "g:NET SENDER RCPT": the sender may be empty (the null sender), never the others. */
	for (i = 0, p = key; i < 3; i++) {
		w[i] = p;
		if (i < 2 && (p = strchr(p, ' ')) == NULL)
			return 0;
		if (i < 2)
			*p++ = '\0';
	}
	return l->stopped = l->fn(w[0], w[1], w[2], &t, NULL, l->arg);
}

/* Auto-whitelist entries, then triplets. */
int greylist_admin_list(const struct store_handle *st, greylist_admin_fn *fn, void *arg,
			char *err, size_t errlen)
{
	struct greylist_admin_lister l = { fn, arg, 0 };
	int rc;

	if ((rc = store_iterate_sorted(st, "a:", greylist_admin_list_one, &l, 0, err, errlen)) != RG_FOUND ||
	    l.stopped)
		return rc;
	return store_iterate_sorted(st, "g:", greylist_admin_list_one, &l, 0, err, errlen);
}
