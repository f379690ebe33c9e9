/*
 * dns_conf.h - the settings of the resolver (dns_*), kept by value in struct settings as
 * s->dns. Its keys and their check are in dns_conf.c.
 */
#ifndef RG_DNS_CONF_H
#define RG_DNS_CONF_H

#include "config_key.h"

struct dns_settings {
	char forward[CONFIG_HOSTS_MAX];                /* dns_forward: "IP@PORT ..."; "" = not forwarding */
	char config[RG_PATH_MAX];                      /* dns_config: an unbound config file */
	char trust_anchor[RG_PATH_MAX];                /* dns_trust_anchor: DNSSEC on */
	unsigned timeout;                              /* dns_timeout: 5s */
};

extern const struct config_keyset dns_keyset;

#endif
