/*
 * source_list_conf.h - the settings of the static list source (list, list_*), kept by
 * value in struct settings as s->list. Its keys are in source_list_conf.c.
 */
#ifndef RG_SOURCE_LIST_CONF_H
#define RG_SOURCE_LIST_CONF_H

#include "config_key.h"

struct list_settings {
	char path[RG_PATH_MAX];                        /* list: the list file */
	unsigned settle;                               /* list_settle: 10s */
	unsigned max_shrink;                           /* list_max_shrink: percent, 50; 0 = no guard */
	unsigned max_size;                             /* list_max_size: MiB, 256 */
	unsigned max_lines;                            /* list_max_lines: 10000000 */
	int end_marker;                                /* list_end_marker: no; yes: ends with "# end" */
	unsigned max_memory;                           /* list_max_memory: MiB a detached compile may add;
							* 0 = 8 x list_max_size + 64 */
};

extern const struct config_keyset source_list_keyset;

#endif
