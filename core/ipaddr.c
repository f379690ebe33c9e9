/*
 * ipaddr.c - IP address text to bytes, one rule for every caller (ipaddr.h).
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "ipaddr.h"

static const unsigned char ipaddr_v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* Parse an address, brackets allowed, ::ffff:a.b.c.d as IPv4. */
RG_HOT int ipaddr_parse(const char *s, struct ipaddr *out)
{
	char buf[IPADDR_TEXT_MAX + 1];
	size_t n = strlen(s);

	memset(out, 0, sizeof *out);
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, out->a) == 1) {
		out->family = AF_INET;
	} else if (inet_pton(AF_INET6, buf, out->a) == 1) {
		out->family = AF_INET6;
		if (memcmp(out->a, ipaddr_v4mapped, sizeof ipaddr_v4mapped) == 0) {
			memmove(out->a, out->a + 12, 4);
			memset(out->a + 4, 0, 12);
			out->family = AF_INET;
		}
	} else {
		return -1;
	}
	if (out->family == AF_INET) {
		memcpy(out->mapped, ipaddr_v4mapped, sizeof ipaddr_v4mapped);
		memcpy(out->mapped + 12, out->a, 4);
	} else {
		memcpy(out->mapped, out->a, 16);
	}
	return 0;
}

/* Canonical text of ip. */
RG_HOT int ipaddr_text(const struct ipaddr *ip, char *out, size_t size)
{
	return inet_ntop(ip->family, ip->a, out, (socklen_t)size) ? 0 : -1;
}
