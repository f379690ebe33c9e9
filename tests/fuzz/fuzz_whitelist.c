/* fuzz_whitelist.c - libFuzzer target: any greylist whitelist file parses or is refused
 * with an error, never crashes, and a loaded one matches any attempt safely. Input: the
 * file, then after a NUL byte the attempt's "IP HOSTNAME RCPT". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "greylist_whitelist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct greylist_whitelist *w = NULL;
	char err[RG_ERRLEN], attempt[600], *ip, *host, *rcpt, *save;
	const uint8_t *z = memchr(data, '\0', size);
	size_t n = z ? (size_t)(z - data) : size;
	const char *why = NULL;
	FILE *f;

	if (path[0] == '\0')
		snprintf(path, sizeof path, "/tmp/rg-fuzz-whitelist.%d", (int)getpid());
	if ((f = fopen(path, "w")) == NULL)
		return 0;
	fwrite(data, 1, n, f);
	fclose(f);
	if (greylist_whitelist_load(path, &w, err, sizeof err) != RG_FOUND)
		return 0;
	(void)greylist_whitelist_count(w);
	attempt[0] = '\0';
	if (z != NULL && size - n - 1 < sizeof attempt) {
		memcpy(attempt, z + 1, size - n - 1);
		attempt[size - n - 1] = '\0';
	}
	ip = strtok_r(attempt, " ", &save);
	host = ip ? strtok_r(NULL, " ", &save) : NULL;
	rcpt = host ? strtok_r(NULL, " ", &save) : NULL;
	(void)greylist_whitelist_match(w, ip ? ip : "192.0.2.1", host, rcpt, &why);
	greylist_whitelist_free(w);
	return 0;
}
