/*
 * dns_conf.c - the resolver's keys (dns_*) and their check: every dns_forward entry is
 * an IP address, optionally "@PORT", as libunbound takes it (a typo is reported at its
 * file:line, not as a failed FCrDNS check at the first connection).
 */
#include <string.h>

#include "dns_conf.h"
#include "ipaddr.h"

#define T struct dns_settings

static const struct config_key dns_keys[] = {
	CONFIG_KEY_STR("dns_forward", T, forward, CONFIG_ASCII, ""),
	CONFIG_KEY_STR("dns_config", T, config, CONFIG_STR, ""),
	CONFIG_KEY_STR("dns_trust_anchor", T, trust_anchor, CONFIG_STR, ""),
	CONFIG_KEY_TMO("dns_timeout", T, timeout, "5s"),
};

/* One "IP" or "IP@PORT" entry of n bytes: 0, or -1. */
static int dns_conf_forwarder(const char *p, size_t n)
{
	char item[64];
	const char *at;
	struct ipaddr ip;
	int64_t port;

	if (n >= sizeof item)
		return -1;
	memcpy(item, p, n);
	item[n] = '\0';
	if ((at = strchr(item, '@'))) {
		item[at - item] = '\0';
		if (util_decimal(at + 1, 65535, &port) || port == 0)
			return -1;
	}
	return ipaddr_parse(item, &ip) ? -1 : 0;
}

/* The resolver settings as a whole: the forwarders parse. */
static int dns_conf_check(const void *member, char *err, size_t errlen)
{
	const struct dns_settings *d = member;
	const char *p = d->forward;
	char show[104];
	size_t n;

	while (*(p += strspn(p, " ,\t"))) {
		n = strcspn(p, " ,\t");
		if (dns_conf_forwarder(p, n)) {
			util_sanitise(show, 101, p, n);
			return util_snprintf(err, errlen, "dns_forward \"%s\": not IP or IP@PORT", show), RG_CONFIG;
		}
		p += n;
	}
	return RG_FOUND;
}

const struct config_keyset dns_keyset = { "dns", dns_keys, sizeof dns_keys / sizeof dns_keys[0], dns_conf_check };
