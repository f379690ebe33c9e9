/*
 * store_lmdb_conf.c - the LMDB store's keys. Each value is checked alone: a map_max
 * below map_size is not an error, the store then simply does not grow.
 */
#include "store_lmdb_conf.h"

#define T struct lmdb_settings

static const struct config_key lmdb_keys[] = {
	CONFIG_KEY_NUM("store_map_size", T, map_size, CONFIG_UINT, 1, 1048576, "64"),
	{ "store_map_max", CONFIG_UINT, CONFIG_FIELD(T, map_max), 1, 1048576, 1, "4096", NULL, NULL },
	{ "greylist_sync", CONFIG_BOOL, CONFIG_FIELD(T, greylist_sync), 0, 1, 1, "no", NULL, NULL },
};

const struct config_keyset store_lmdb_keyset = {
	"lmdb", lmdb_keys, sizeof lmdb_keys / sizeof lmdb_keys[0], NULL
};
