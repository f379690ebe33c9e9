/*
 * source_callout_conf.c - the callout source's keys and its check: the hosts list must
 * parse (a typo is reported at its file:line when the config is read, not at the first
 * RCPT of the domain).
 */
#include <string.h>

#include "smtp_host.h"
#include "source_callout_conf.h"

#define T struct callout_settings

static const struct config_key callout_keys[] = {
	CONFIG_KEY_STR("hosts", T, hosts, CONFIG_ASCII, ""),
	CONFIG_KEY_NUM("port", T, port, CONFIG_UINT, 1, 65535, "25"),
	CONFIG_KEY_DUR("catchall_ttl", T, catchall_ttl, 0, "1d"),
	CONFIG_KEY_NUM("catchall_check", T, catchall_check, CONFIG_BOOL, 0, 1, "yes"),
	CONFIG_KEY_STR("callout_sender", T, sender, CONFIG_SENDER, "<>"),
	CONFIG_KEY_STR("callout_helo", T, helo, CONFIG_DOMAIN, ""),
	CONFIG_KEY_TMO("connect_timeout", T, connect_timeout, "5s"),
	CONFIG_KEY_TMO("command_timeout", T, command_timeout, "10s"),
	CONFIG_KEY_NUM("postmaster_check", T, postmaster_check, CONFIG_BOOL, 0, 1, "yes"),
	CONFIG_KEY_STR("callout_known", T, known, CONFIG_ADDRESS, ""),
};

/* The callout settings as a whole: the hosts list parses with the port in force. */
static int source_callout_conf_check(const void *member, char *err, size_t errlen)
{
	const struct callout_settings *c = member;
	struct smtp_host h[SMTP_HOST_LIST_MAX];
	char why[RG_ERRLEN];
	size_t n;

	if (!c->hosts[0])
		return RG_FOUND;
	if (smtp_host_parse_list(c->hosts, c->port, h, &n, why, sizeof why) != RG_FOUND)
		return util_snprintf(err, errlen, "hosts: %s", why), RG_CONFIG;
	return RG_FOUND;
}

const struct config_keyset source_callout_keyset = {
	"callout", callout_keys, sizeof callout_keys / sizeof callout_keys[0], source_callout_conf_check
};
