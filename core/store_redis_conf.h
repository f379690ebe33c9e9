/*
 * store_redis_conf.h - the settings of the Redis store (redis_*, global only), kept by
 * value in struct settings as s->redis. Its keys are in store_redis_conf.c.
 */
#ifndef RG_STORE_REDIS_CONF_H
#define RG_STORE_REDIS_CONF_H

#include "config_key.h"

struct redis_settings {
	char uri[CONFIG_LIST_MAX];                     /* redis_uri: "unix:/path redis://IP:PORT/DB ..." */
	char password_file[RG_PATH_MAX];               /* redis_password_file: "password" or "user password" */
	char prefix[64];                               /* redis_prefix: "rg:", before every key */
	unsigned timeout;                              /* redis_timeout: milliseconds, 500 */
};

extern const struct config_keyset store_redis_keyset;

#endif
