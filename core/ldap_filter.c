/*
 * ldap_filter.c - RFC 4515 filter values and the ldap_filter templates (ldap_filter.h):
 * pure string code, apart from the LDAP connection so that the LDAP source's key table
 * (source_ldap_conf.c, lower tier) can check templates without the connection code.
 */
#include <string.h>

#include "ldap_filter.h"

/* RFC 4515 escaping of n bytes. */
int ldap_filter_escape(char *out, size_t size, const char *in, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)in[i];

		/* Why more than RFC 4515 requires (* ( ) \ NUL): control and 8-bit bytes
		 * escaped too keep the filter plain ASCII, so no server-side UTF-8 check or
		 * log line ever sees raw client bytes. */
		if (ch == '*' || ch == '(' || ch == ')' || ch == '\\' || ch < 0x20 || ch >= 0x7f) {
			if (o + 4 > size)
				return -1;
			out[o++] = '\\';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		} else {
			if (o + 2 > size)
				return -1;
			out[o++] = (char)ch;
		}
	}
	if (size == 0)
		return -1;
	out[o] = '\0';
	return (int)o;
}

/* Whether ch is a hexadecimal digit. */
static int ldap_filter_hex(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* Validate a filter template (see ldap_filter.h). */
int ldap_filter_check(const char *tmpl, char *err, size_t errlen)
{
	size_t i;
	int depth = 0, subst = 0;

	for (i = 0; tmpl[i]; i++) {
		unsigned char ch = (unsigned char)tmpl[i];

		if (ch < 0x20 || ch == 0x7f)
			return util_snprintf(err, errlen, "control byte at offset %zu of the filter", i), RG_CONFIG;
		if (ch == '%') {
			char e = tmpl[i + 1];

			if (e == 's' || e == 'u' || e == 'd')
				subst = 1;
			else if (e != '%')
				return util_snprintf(err, errlen, e ? "unknown escape %%%c at offset %zu (%%s address,"
						     " %%u local part, %%d domain, %%%% a percent sign)"
						     : "lone %% at the end of the filter", e, i), RG_CONFIG;
			i++;
		} else if (ch == '\\') {
			if (!ldap_filter_hex(tmpl[i + 1]) || !ldap_filter_hex(tmpl[i + 2]))
				return util_snprintf(err, errlen, "bad escape at offset %zu (RFC 4515: a backslash"
						     " and two hex digits)", i), RG_CONFIG;
			i += 2;
		} else if (ch == '(') {
			depth++;
		} else if (ch == ')' && --depth < 0) {
			return util_snprintf(err, errlen, "unbalanced parentheses: ')' at offset %zu closes"
					     " nothing", i), RG_CONFIG;
		}
	}
	if (depth != 0)
		return util_snprintf(err, errlen, "unbalanced parentheses: %d '(' not closed", depth), RG_CONFIG;
	/* Why: a filter without the address gives every recipient the same answer: with an
	 * entry everything passes, without one everything is rejected. */
	if (!subst)
		return util_snprintf(err, errlen, "the filter uses none of %%s, %%u, %%d"), RG_CONFIG;
	return RG_FOUND;
}

/* Expand a template for addr, values escaped. */
int ldap_filter_expand(char *out, size_t size, const char *tmpl, const struct address *addr,
			      char *err, size_t errlen)
{
	size_t o = 0, i;
	int n;

	if (ldap_filter_check(tmpl, err, errlen) != RG_FOUND)
		return RG_CONFIG;
	for (i = 0; tmpl[i]; i++) {
		const char *v = NULL;

		if (tmpl[i] == '%') {
			i++;
			v = tmpl[i] == 's' ? addr->full : tmpl[i] == 'u' ? addr->local :
			    tmpl[i] == 'd' ? addr->domain : NULL;
			if (v == NULL) {         /* "%%" */
				if (o + 2 > size)
					goto toolong;
				out[o++] = '%';
				continue;
			}
			if (o >= size || (n = ldap_filter_escape(out + o, size - o, v, strlen(v))) < 0)
				goto toolong;
			o += (size_t)n;
			continue;
		}
		if (o + 2 > size)
			goto toolong;
		out[o++] = tmpl[i];
	}
	if (size == 0)
		goto toolong;
	out[o] = '\0';
	return RG_FOUND;
toolong:
	util_snprintf(err, errlen, "the expanded filter is longer than %zu bytes", size - 1);
	return RG_CONFIG;
}
