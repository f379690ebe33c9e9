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

/* What a finished search returned, as libldap decoded it (bytes from the server). */
struct source_ldap_result {
	int entries, refs;              /* entries and continuation references counted */
	const char *dn;                 /* the first entry's DN, NULL when none */
	int code;                       /* the result code (or libldap's own error) */
	const char *codetext;           /* its text (ldap_err2string) */
	const char *diag;               /* the server's diagnostic message, may be NULL */
};

/* What r says about the address searched under base: RG_FOUND (ans->text names the entry),
 * RG_NOTFOUND (no entry, success), RG_TEMPFAIL (err: anything else says nothing about the
 * address). Server text is bounded and sanitised. The seam of fuzz_ldap_result. */
int source_ldap_judge(const struct source_ldap_result *r, const char *base, struct source_answer *ans,
		      char *err, size_t errlen);

#endif
