/* fuzz_dynamic.c - libFuzzer target: the built-in dynamic-host rule on any PTR name, and
 * any dynamic_patterns file (PCRE2 under compile and match limits), never crash, never
 * run away. Input: 16 address bytes, a name line, then the patterns file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dynamic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	char name[300], why[160], err[RG_ERRLEN];
	unsigned char addr[16];
	const uint8_t *nl;
	size_t n;
	FILE *f;
	int family, rc;

	if (size < 17)
		return 0;
	memcpy(addr, data, 16);
	family = data[0] & 1 ? AF_INET6 : AF_INET;
	data += 16;
	size -= 16;
	nl = memchr(data, '\n', size);
	n = nl ? (size_t)(nl - data) : size;
	if (n >= sizeof name)
		return 0;
	memcpy(name, data, n);
	name[n] = '\0';
	(void)dynamic_builtin(name, addr, family, why, sizeof why);
	if (nl == NULL)
		return 0;
	if (path[0] == '\0')
		snprintf(path, sizeof path, "/tmp/rg-fuzz-dynamic.%d", (int)getpid());
	if ((f = fopen(path, "w")) == NULL)
		return 0;
	fwrite(nl + 1, 1, size - n - 1, f);
	fclose(f);
	dynamic_reset();
	rc = dynamic_check(name, addr, family, path, why, sizeof why, err, sizeof err);
	if (rc != RG_FOUND && rc != RG_NOTFOUND && rc != RG_CONFIG && rc != RG_TEMPFAIL)
		abort();
	return 0;
}
