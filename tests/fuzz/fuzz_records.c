/* fuzz_records.c - libFuzzer target: every record decoder of the store (verdict, catch-all
 * verdict, greylist triplet, greylist auto-whitelist, FCrDNS) takes any bytes strictly or
 * not at all, and what decodes encodes again within bounds to a record that decodes to
 * the same values (all through record.c, the one field reader and writer). The first
 * byte picks the decoder (a damaged or hostile store, or a shared store another host
 * wrote). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fcrdns.h"
#include "greylist_record.h"
#include "verdict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *d = (const char *)data + 1;
	struct greylist_triplet t, t2;
	struct greylist_awl a, a2;
	struct fcrdns_record f, f2;
	struct verdict v, v2;
	char buf[4096];
	size_t n;

	if (size == 0)
		return 0;
	n = size - 1;
	switch (data[0] % 5) {
	case 0:
	case 1:
		if (verdict_decode(d, n, data[0] % 5, &v) == 0) {
			if (v.expires < v.created || strlen(v.text) >= sizeof v.text)
				abort();
			if (verdict_encode(&v, data[0] % 5, buf, sizeof buf) != 0 ||
			    verdict_decode(buf, strlen(buf), data[0] % 5, &v2) != 0 || memcmp(&v, &v2, sizeof v) != 0)
				abort();
		}
		break;
	case 2:
		if (greylist_record_decode(d, n, &t) == 0 &&
		    (greylist_record_encode(&t, buf, sizeof buf) < 0 || greylist_record_decode(buf, strlen(buf), &t2) != 0 ||
		     memcmp(&t, &t2, sizeof t) != 0))
			abort();
		break;
	case 3:
		if (greylist_record_awl_decode(d, n, &a) == 0 &&
		    (greylist_record_awl_encode(&a, buf, sizeof buf) < 0 ||
		     greylist_record_awl_decode(buf, strlen(buf), &a2) != 0 || memcmp(&a, &a2, sizeof a) != 0))
			abort();
		break;
	default:
		if (fcrdns_record_decode(d, n, &f) == 0) {
			if (strlen(f.name) >= sizeof f.name)
				abort();
			if (fcrdns_record_encode(&f, buf, sizeof buf) < 0 || fcrdns_record_decode(buf, strlen(buf), &f2) != 0 ||
			    memcmp(&f, &f2, sizeof f) != 0)
				abort();
		}
		break;
	}
	return 0;
}
