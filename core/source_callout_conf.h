/*
 * source_callout_conf.h - the settings of the callout source (hosts, port, callout_*,
 * catchall_*, postmaster_check, connect/command timeouts), kept by value in struct
 * settings as s->callout. Its keys are in source_callout_conf.c.
 */
#ifndef RG_SOURCE_CALLOUT_CONF_H
#define RG_SOURCE_CALLOUT_CONF_H

#include "config_key.h"

struct callout_settings {
	char hosts[CONFIG_HOSTS_MAX];                  /* hosts: "h1:25, [::1]:2525 h3"; "" = none */
	unsigned port;                                 /* port: 25 */
	int catchall_check;                            /* catchall_check: yes, probe before trusting */
	unsigned catchall_ttl;                         /* catchall_ttl: 1d */
	char sender[RG_ADDRESS_MAX + 3];               /* callout_sender: "<>", stored with its brackets */
	char helo[RG_DOMAIN_MAX + 1];                  /* callout_helo: EHLO name; "" = this host's name */
	unsigned connect_timeout, command_timeout;     /* 5s 10s */
	int postmaster_check;                          /* postmaster_check: yes, 5xx count only from a
							* destination that accepts callout_known */
	char known[RG_ADDRESS_MAX + 3];                /* callout_known: "<a@d>"; "" = postmaster@DOMAIN */
};

extern const struct config_keyset source_callout_keyset;

#endif
