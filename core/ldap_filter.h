/*
 * ldap_filter.h - RFC 4515 filter values and the ldap_filter templates of the LDAP
 * source: escaping, template checks (the ldap_filter key, source_ldap_conf.c) and expansion for an address.
 *
 * Lower tier: includes only address.h. Ownership: every function writes into caller
 * buffers; nothing is allocated for the caller.
 */
#ifndef RG_LDAP_FILTER_H
#define RG_LDAP_FILTER_H

#include "address.h"

/* Used when ldap_filter is empty: the address as a mailbox or as one of its aliases. */
#define LDAP_FILTER_DEFAULT "(|(mail=%s)(mailLocalAddress=%s))"

/* RFC 4515 value escaping of in[0..n-1] into out (NUL-terminated): '*', '(', ')', '\\',
 * NUL, control and 8-bit bytes become \XX. Returns the length, or -1 when out is too small. */
int ldap_filter_escape(char *out, size_t size, const char *in, size_t n);

/* Check a filter template: only %s %u %d %% escapes, at least one of %s %u %d, balanced
 * parentheses (\28 \29 are values, not parentheses), no control bytes.
 * RG_FOUND, or RG_CONFIG with the problem in err. */
int ldap_filter_check(const char *tmpl, char *err, size_t errlen);

/* Expand tmpl for addr (%s = local@domain, %u = local part as given, %d = domain), every
 * value escaped. RG_FOUND, or RG_CONFIG (bad template, or the result does not fit). */
int ldap_filter_expand(char *out, size_t size, const char *tmpl, const struct address *addr,
		       char *err, size_t errlen);

#endif
