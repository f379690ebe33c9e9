/* fuzz_dns.c - libFuzzer target: DNS answers as libunbound hands them over (any rdata,
 * any count, any rcode) never crash the answer handler, and a kept PTR name is a host
 * name (letters, digits, '-', '_', dots). dns.c is included for its static handler. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/dns.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stands in for ub_resolve_free (the fuzzer owns the result). */
static void fuzz_free(struct ub_result *r)
{
	(void)r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *rdata[20], name[DNS_NAME_MAX];
	int len[20], i, k = 0;
	struct ub_result r;
	struct dns_query q;
	size_t p = 4, j;

	if (size < 4)
		return 0;
	ub.resolve_free = fuzz_free;
	memset(&r, 0, sizeof r);
	memset(&q, 0, sizeof q);
	q.type = data[0] % 3 == 0 ? DNS_T_PTR : data[0] % 3 == 1 ? DNS_T_A : DNS_T_AAAA;
	r.rcode = data[1] % 6;
	r.havedata = data[2] & 1;
	r.nxdomain = (data[2] >> 1) & 1;
	r.ttl = data[3];
	/* Records: a length byte, then that many bytes. */
	while (p < size && k < 19) {
		size_t l = data[p++];

		if (l > size - p)
			l = size - p;
		rdata[k] = (char *)data + p;
		len[k++] = (int)l;
		p += l;
	}
	rdata[k] = NULL;
	r.data = r.havedata ? rdata : NULL;
	r.len = len;
	dns_answer(&q, 0, &r);
	if (q.n > DNS_ANSWERS_MAX)
		abort();
	if (q.status == RG_FOUND && q.type == DNS_T_PTR)
		for (i = 0; (size_t)i < q.n; i++)
			for (j = 0; q.rr[i].host[j]; j++) {
				char ch = q.rr[i].host[j];

				if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
				      ch == '.'))
					abort();
			}
	if (size >= 20)
		(void)dns_reverse_name(data + 4, data[0] & 1 ? AF_INET6 : AF_INET, name, sizeof name);
	return 0;
}
