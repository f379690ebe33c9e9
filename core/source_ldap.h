/*
 * source_ldap.h - the "ldap" recipient source: a directory search, the last resort.
 *
 * The source itself is source_ldap_ops in the registry; the pure parts (RFC 4515
 * escaping, filter templates) are in ldap_filter.h.
 */
#ifndef RG_SOURCE_LDAP_H
#define RG_SOURCE_LDAP_H

#include "source.h"

extern const struct source_ops source_ldap_ops;

#endif
