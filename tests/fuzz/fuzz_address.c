/* fuzz_address.c - libFuzzer target: address parsing and the yield line must never crash,
 * and an accepted address must hold no byte that could break an SMTP command. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "yield.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[1024], err[RG_ERRLEN], v[YIELD_MAX];
	struct address a;
	struct yield y;

	if (size >= sizeof in)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	if (address_parse(in, &a, err, sizeof err) == RG_FOUND) {
		for (const char *p = a.full; *p; p++)
			if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
				if (*p != ' ' || a.local[0] != '"')
					abort();
		if (strlen(a.local) > RG_LOCAL_MAX || strlen(a.domain) > RG_DOMAIN_MAX)
			abort();
	}
	yield_init(&y, "fail");
	yield_add(&y, "message", in);
	if (yield_get(y.line, "result", v, sizeof v) != 0 || strcmp(v, "fail") != 0)
		abort();
	return 0;
}
