/*
 * source_list.h - the "list" recipient source: the domain's static list (core/list.h).
 *
 * RG_CONFIG when the domain has no list (the chain moves on), RG_TEMPFAIL when a list is
 * configured but no valid version of it is in force, else RG_FOUND / RG_NOTFOUND. The
 * destination is never contacted.
 */
#ifndef RG_SOURCE_LIST_H
#define RG_SOURCE_LIST_H

#include "source.h"

extern const struct source_ops source_list_ops;

#endif
