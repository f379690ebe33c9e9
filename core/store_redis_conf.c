/*
 * store_redis_conf.c - the Redis store's keys, all global only (one shared store per
 * gateway). The URIs are parsed where they are used (store_redis.c), at open.
 */
#include "store_redis_conf.h"

#define T struct redis_settings
#define GLOBAL(name, type, f, lo, hi, def) { name, type, CONFIG_FIELD(T, f), lo, hi, 1, def, NULL, NULL }

static const struct config_key redis_keys[] = {
	GLOBAL("redis_uri", CONFIG_ASCII, uri, 0, 0, ""),
	GLOBAL("redis_password_file", CONFIG_STR, password_file, 0, 0, ""),
	GLOBAL("redis_prefix", CONFIG_ASCII, prefix, 0, 0, "rg:"),
	GLOBAL("redis_timeout", CONFIG_MS, timeout, 1, 60000, "500ms"),
};

const struct config_keyset store_redis_keyset = {
	"redis", redis_keys, sizeof redis_keys / sizeof redis_keys[0], NULL
};
