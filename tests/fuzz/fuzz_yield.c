/* fuzz_yield.c - libFuzzer target: the yield tokenizer (yield_next, yield_get: the CLI's
 * --json and tests read yield lines with it) and the lookup face's query splitter
 * (yield_words) take any bytes; what yield_add writes reads back unchanged in meaning. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "yield.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[YIELD_MAX * 2], q[YIELD_MAX * 2], k[YIELD_KEY_MAX], v[YIELD_MAX], *w[4], *rest;
	const char *p;
	struct yield y;
	int n = 0, words;

	if (size >= sizeof in)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	p = in;
	while (yield_next(&p, k, sizeof k, v, sizeof v) > 0)
		if (++n > (int)sizeof in)
			abort();
	(void)yield_get(in, "result", v, sizeof v);
	memcpy(q, in, size + 1);
	words = yield_words(q, w, 4, &rest);
	if (words > 4 || (words >= 0 && (rest < q || rest > q + size)))
		abort();
	/* Written by yield_add, read by yield_get: the key is found again. */
	yield_init(&y, "pass");
	yield_add(&y, "detail", in);
	yield_add(&y, "after", "x");
	if (!y.truncated && (yield_get(y.line, "after", v, sizeof v) != 0 || strcmp(v, "x") != 0))
		abort();
	return 0;
}
