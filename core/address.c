/*
 * address.c - RFC 5321 mailbox syntax, checked before any protocol sees an address.
 *
 * Strict about bytes (no control, no 8-bit, no unbalanced quotes, RFC 5321 lengths),
 * lenient about dots in a dot-atom local part: a destination may accept "a..b", and
 * refusing what the destination would accept would be a false reject.
 */
#include <string.h>
#include <strings.h>

#include "address.h"

/* RFC 5322 atext. */
static RG_HOT int address_atext(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL;
}

/* The one domain-name rule (address.h): letters, digits, '-', '_'; labels 1..63. */
RG_HOT int address_domain_check(const char *in, size_t len, char *err, size_t errlen)
{
	size_t i, label = 0;

	if (len == 0)
		return util_snprintf(err, errlen, "empty domain"), RG_NOTFOUND;
	if (len > RG_DOMAIN_MAX)
		return util_snprintf(err, errlen, "domain longer than %d octets", RG_DOMAIN_MAX), RG_NOTFOUND;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)in[i];

		if (ch == '.') {
			if (label == 0)
				return util_snprintf(err, errlen, "empty label in domain"), RG_NOTFOUND;
			label = 0;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		      ch == '_'))
			return util_snprintf(err, errlen, "bad character 0x%02x in domain", ch), RG_NOTFOUND;
		if (++label > 63)
			return util_snprintf(err, errlen, "domain label longer than 63 octets"), RG_NOTFOUND;
	}
	if (label == 0)
		return util_snprintf(err, errlen, "domain ends with a dot"), RG_NOTFOUND;
	return RG_FOUND;
}

/* Validate a bare domain or an address literal into out (lower-cased). */
RG_HOT int address_parse_domain(const char *in, char *out, size_t outsize, char *err, size_t errlen)
{
	size_t len = strlen(in), i;

	if (len == 0)
		return util_snprintf(err, errlen, "empty domain"), RG_NOTFOUND;
	if (len > RG_DOMAIN_MAX)
		return util_snprintf(err, errlen, "domain longer than %d octets", RG_DOMAIN_MAX), RG_NOTFOUND;
	if (in[0] == '[') {
		/* Address literal: printable, no nested brackets, closed at the end. */
		if (len < 3 || in[len - 1] != ']')
			return util_snprintf(err, errlen, "unterminated address literal"), RG_NOTFOUND;
		for (i = 1; i + 1 < len; i++) {
			unsigned char ch = (unsigned char)in[i];

			if (ch <= 0x20 || ch >= 0x7f || ch == '[' || ch == ']' || ch == '\\')
				return util_snprintf(err, errlen, "bad character in address literal"), RG_NOTFOUND;
		}
	} else if (address_domain_check(in, len, err, errlen) != RG_FOUND) {
		return RG_NOTFOUND;
	}
	if (util_strlcpy(out, in, outsize) < 0)
		return util_snprintf(err, errlen, "domain too long"), RG_NOTFOUND;
	util_lower(out);
	return RG_FOUND;
}

/* Whether domain (dl bytes) lies in zone (zl bytes), case-insensitively: under it
 * (".zone" ends it), or equal to it when self is set. */
int address_in_zone(const char *domain, size_t dl, const char *zone, size_t zl, int self)
{
	if (zl == 0)
		return 0;
	if (dl == zl)
		return self && strncasecmp(domain, zone, zl) == 0;
	return dl > zl && domain[dl - zl - 1] == '.' && strncasecmp(domain + dl - zl, zone, zl) == 0;
}

/* Check the local part (dot-atom or quoted string) of length n. */
static RG_HOT int address_check_local(const char *lp, size_t n, char *err, size_t errlen)
{
	size_t i;

	if (n == 0)
		return util_snprintf(err, errlen, "empty local part"), RG_NOTFOUND;
	if (n > RG_LOCAL_MAX)
		return util_snprintf(err, errlen, "local part longer than %d octets", RG_LOCAL_MAX), RG_NOTFOUND;
	if (lp[0] == '"') {
		if (n < 2 || lp[n - 1] != '"')
			return util_snprintf(err, errlen, "unbalanced quote in local part"), RG_NOTFOUND;
		for (i = 1; i + 1 < n; i++) {
			if (lp[i] == '\\') {
				if (++i + 1 >= n)
					return util_snprintf(err, errlen, "unbalanced quote in local part"), RG_NOTFOUND;
			} else if (lp[i] == '"') {
				return util_snprintf(err, errlen, "unbalanced quote in local part"), RG_NOTFOUND;
			}
		}
		return RG_FOUND;
	}
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)lp[i];

		if (ch == '"')
			return util_snprintf(err, errlen, "unbalanced quote in local part"), RG_NOTFOUND;
		if (ch != '.' && !address_atext(ch))
			return util_snprintf(err, errlen, "bad character 0x%02x in local part", ch), RG_NOTFOUND;
	}
	return RG_FOUND;
}

/* Whether s is well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF). */
static int address_utf8(const unsigned char *s)
{
	while (*s) {
		unsigned c = *s++, n, min, cp;

		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, min = 0x80, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, min = 0x800, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, min = 0x10000, cp = c & 0x07;
		else
			return 0;
		while (n--) {
			if ((*s & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (*s++ & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
	}
	return 1;
}

/* Parse "local@domain" or "<local@domain>" into out. */
RG_HOT int address_parse(const char *in, struct address *out, char *err, size_t errlen)
{
	size_t len, i, at = 0;
	int quoted = 0, found = 0;
	const char *p = in;

	memset(out, 0, sizeof *out);
	/* Why first: CR/LF would inject SMTP commands, NUL would cut keys short. */
	for (i = 0; in[i]; i++) {
		unsigned char ch = (unsigned char)in[i];

		if (ch < 0x20 || ch == 0x7f)
			return util_snprintf(err, errlen, "control character in address"), RG_NOTFOUND;
		if (ch > 0x7f) {
			/* Why not a refusal: a UTF-8 address is legitimate under SMTPUTF8, but a
			 * callout cannot ask about it; the caller must not reject it. */
			if (address_utf8((const unsigned char *)in))
				return util_snprintf(err, errlen, "UTF-8 (SMTPUTF8) address cannot be verified"),
				       RG_TEMPFAIL;
			return util_snprintf(err, errlen, "8-bit character in address (not UTF-8)"), RG_NOTFOUND;
		}
	}
	len = i;
	if (len > 0 && p[0] == '<') {
		if (p[len - 1] != '>')
			return util_snprintf(err, errlen, "unbalanced angle bracket"), RG_NOTFOUND;
		p++;
		len -= 2;
	}
	if (len == 0)
		return util_snprintf(err, errlen, "empty address"), RG_NOTFOUND;
	if (len > RG_LOCAL_MAX + 1 + RG_DOMAIN_MAX)
		return util_snprintf(err, errlen, "address too long"), RG_NOTFOUND;
	for (i = 0; i < len; i++) {
		if (p[i] == '\\' && quoted) {
			i++;
		} else if (p[i] == '"') {
			quoted = !quoted;
		} else if (p[i] == '@' && !quoted) {
			at = i;
			found = 1;
		}
	}
	if (quoted)
		return util_snprintf(err, errlen, "unbalanced quote in local part"), RG_NOTFOUND;
	if (!found)
		return util_snprintf(err, errlen, "no domain in address"), RG_NOTFOUND;
	if (address_check_local(p, at, err, errlen) != RG_FOUND)
		return RG_NOTFOUND;
	memcpy(out->local, p, at);
	out->local[at] = '\0';
	{
		char dom[RG_DOMAIN_MAX + 2];

		if (len - at - 1 > RG_DOMAIN_MAX)
			return util_snprintf(err, errlen, "domain longer than %d octets", RG_DOMAIN_MAX), RG_NOTFOUND;
		memcpy(dom, p + at + 1, len - at - 1);
		dom[len - at - 1] = '\0';
		if (address_parse_domain(dom, out->domain, sizeof out->domain, err, errlen) != RG_FOUND)
			return RG_NOTFOUND;
	}
	if (util_snprintf(out->full, sizeof out->full, "%s@%s", out->local, out->domain) < 0 ||
	    strlen(out->full) > RG_PATH_OCTETS)
		return util_snprintf(err, errlen, "address longer than %d octets", RG_PATH_OCTETS), RG_NOTFOUND;
	/* Why the local part keeps its case: a destination may tell JOHN from john, and a
	 * refusal of one must never be cached as the verdict of the other. */
	memcpy(out->key, out->full, sizeof out->key);
	return RG_FOUND;
}
