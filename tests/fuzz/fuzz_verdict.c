/* fuzz_verdict.c - libFuzzer target: any bytes in the store decode strictly or not at all. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verdict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct verdict v;
	char buf[2048];

	if (verdict_decode((const char *)data, size, size & 1, &v) == 0) {
		if (v.expires < v.created || strlen(v.text) >= sizeof v.text)
			abort();
		/* What decodes must encode again within bounds. */
		if (verdict_encode(&v, size & 1, buf, sizeof buf) != 0)
			abort();
	}
	return 0;
}
