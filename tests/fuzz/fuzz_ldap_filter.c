/* fuzz_ldap_filter.c - libFuzzer target: RFC 4515 escaping and filter templates never
 * crash, and no escaped value ever carries filter syntax (a bare * ( ) or NUL, or a
 * backslash not followed by two hex digits): an address can only ever be a value. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ldap_filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* abort() unless s is a well-escaped filter value. */
static void check_value(const char *s)
{
	for (; *s; s++) {
		if (*s == '*' || *s == '(' || *s == ')' || (unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			abort();
		if (*s == '\\') {
			if (!isxdigit((unsigned char)s[1]) || !isxdigit((unsigned char)s[2]))
				abort();
			s += 2;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[512], out[2048], err[RG_ERRLEN];
	struct address a;

	if (size >= sizeof in)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	if (ldap_filter_escape(out, sizeof out, (const char *)data, size) >= 0)
		check_value(out);
	/* As a template: checked and expanded without crashing. */
	memset(&a, 0, sizeof a);
	strcpy(a.local, "x*)(");
	strcpy(a.domain, "d.test");
	strcpy(a.full, "x*)(@d.test");
	if (ldap_filter_check(in, err, sizeof err) == RG_FOUND)
		ldap_filter_expand(out, sizeof out, in, &a, err, sizeof err);
	/* As an address: substituted, it is one value between "(mail=" and ")". */
	if (address_parse(in, &a, err, sizeof err) == RG_FOUND &&
	    ldap_filter_expand(out, sizeof out, "(mail=%s)", &a, err, sizeof err) == RG_FOUND) {
		size_t n = strlen(out);

		if (n < 7 || strncmp(out, "(mail=", 6) != 0 || out[n - 1] != ')')
			abort();
		out[n - 1] = '\0';
		check_value(out + 6);
	}
	return 0;
}
