/* fuzz_reply_class.c - libFuzzer target: any reply text classifies, within bounds, and a
 * negative reading always comes from a 5xx code. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reply_class.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reply_class rc;
	char text[512];
	int code;

	if (size < 2)
		return 0;
	code = 200 + (data[0] | data[1] << 8) % 400;
	size -= 2;
	if (size >= sizeof text)
		size = sizeof text - 1;
	memcpy(text, data + 2, size);
	text[size] = '\0';
	reply_class(code, text, &rc);
	if (rc.why == NULL || strlen(rc.status) >= sizeof rc.status)
		abort();
	if (reply_class_is_negative(&rc) && (code < 500 || code > 599))
		abort();
	return 0;
}
