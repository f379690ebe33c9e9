/*
 * fcrdns_conf.h - the settings of the FCrDNS check (dynamic_*, fcrdns_cache_ttl), kept
 * by value in struct settings as s->fcrdns. Its keys are in fcrdns_conf.c.
 */
#ifndef RG_FCRDNS_CONF_H
#define RG_FCRDNS_CONF_H

#include "config_key.h"

struct fcrdns_settings {
	char dynamic_patterns[RG_PATH_MAX];            /* dynamic_patterns: "" = built-in */
	char dynamic_action[CONFIG_NAME_MAX];          /* dynamic_action: "reject" | "flag" */
	unsigned cache_ttl;                            /* fcrdns_cache_ttl: 1h */
};

extern const struct config_keyset fcrdns_keyset;

#endif
