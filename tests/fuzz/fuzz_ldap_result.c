/* fuzz_ldap_result.c - libFuzzer target: what the LDAP source makes of a search result
 * (source_ldap_judge: entry and reference counts, the first entry's DN, the result code,
 * the server's diagnostic message, all bytes from the server) never crashes, gives one of
 * three outcomes, "no such user" only for a successful search without entries or
 * references, "exists" only with an entry, and never lets a control byte of the server's
 * text into the answer or the error (both go to Exim's log and the SMTP reply). */
#include <ldap.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "source_ldap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* abort() unless s is NUL-terminated within size and free of control bytes. */
static void check_text(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	if (n == size)
		abort();
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			abort();
}

/* Input: entries, refs, the result code (signed: libldap's own errors are negative), then
 * the DN and the diagnostic message separated by a NUL (no NUL: no diagnostic). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[4096], err[RG_ERRLEN];
	struct source_ldap_result r;
	struct source_answer ans;
	size_t n;
	int rc;

	if (size < 3 || size - 3 >= sizeof buf)
		return 0;
	memset(&r, 0, sizeof r);
	r.entries = data[0] % 4;
	r.refs = data[1] % 3;
	r.code = (int8_t)data[2];
	r.codetext = "result code text";
	n = size - 3;
	memcpy(buf, data + 3, n);
	buf[n] = '\0';
	r.dn = data[0] & 0x80 ? NULL : buf;
	if (strlen(buf) < n)
		r.diag = buf + strlen(buf) + 1;
	memset(&ans, 0, sizeof ans);
	err[0] = '\0';
	rc = source_ldap_judge(&r, "dc=rcptguard,dc=test", &ans, err, sizeof err);
	if (rc == RG_NOTFOUND && !(r.code == LDAP_SUCCESS && r.entries == 0 && r.refs == 0))
		abort();
	if (rc == RG_FOUND && r.entries == 0)
		abort();
	if (rc != RG_FOUND && rc != RG_NOTFOUND && rc != RG_TEMPFAIL)
		abort();
	check_text(ans.text, sizeof ans.text);
	if (rc == RG_TEMPFAIL)
		check_text(err, sizeof err);
	return 0;
}
