/*
 * fcrdns_conf.c - the FCrDNS check's keys (dynamic_*, fcrdns_cache_ttl). Each value is
 * checked alone (the pattern file is read, bounded, where it is used: dynamic.c).
 */
#include "fcrdns_conf.h"

#define T struct fcrdns_settings

static const struct config_key fcrdns_keys[] = {
	CONFIG_KEY_STR("dynamic_patterns", T, dynamic_patterns, CONFIG_STR, ""),
	{ "dynamic_action", CONFIG_ENUM, CONFIG_FIELD(T, dynamic_action), 0, 0, 0, "reject", "reject|flag", NULL },
	CONFIG_KEY_DUR("fcrdns_cache_ttl", T, cache_ttl, 0, "1h"),
};

const struct config_keyset fcrdns_keyset = {
	"fcrdns", fcrdns_keys, sizeof fcrdns_keys / sizeof fcrdns_keys[0], NULL
};
