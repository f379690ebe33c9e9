/*
 * store_lmdb_conf.h - the settings of the LMDB store (store_map_size, store_map_max,
 * greylist_sync), kept by value in struct settings as s->lmdb. Its keys are in
 * store_lmdb_conf.c.
 */
#ifndef RG_STORE_LMDB_CONF_H
#define RG_STORE_LMDB_CONF_H

#include "config_key.h"

struct lmdb_settings {
	unsigned map_size;                             /* store_map_size: MiB, initial map: 64 */
	unsigned map_max;                              /* store_map_max: MiB, ceiling of growth: 4096 (global only) */
	int greylist_sync;                             /* greylist_sync: no, greylist.mdb commits without
							* fsync (global only) */
};

extern const struct config_keyset store_lmdb_keyset;

#endif
