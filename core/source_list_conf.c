/*
 * source_list_conf.c - the static list source's keys (list, list_*). Each value is
 * checked alone; no rule ties them together.
 */
#include <limits.h>

#include "source_list_conf.h"

#define T struct list_settings

static const struct config_key list_keys[] = {
	CONFIG_KEY_STR("list", T, path, CONFIG_STR, ""),
	CONFIG_KEY_DUR("list_settle", T, settle, 0, "10s"),
	CONFIG_KEY_NUM("list_max_shrink", T, max_shrink, CONFIG_UINT, 0, 100, "50"),
	CONFIG_KEY_NUM("list_max_size", T, max_size, CONFIG_UINT, 1, 65536, "256"),
	CONFIG_KEY_NUM("list_max_lines", T, max_lines, CONFIG_UINT, 1, UINT_MAX, "10000000"),
	CONFIG_KEY_NUM("list_end_marker", T, end_marker, CONFIG_BOOL, 0, 1, "no"),
	CONFIG_KEY_NUM("list_max_memory", T, max_memory, CONFIG_UINT, 0, 1048576, "0"),
};

const struct config_keyset source_list_keyset = {
	"list", list_keys, sizeof list_keys / sizeof list_keys[0], NULL
};
