/*
 * ipaddr.h - the one parser of IP address text (client addresses from Exim, whitelist
 * and config entries): IPv4, IPv6, optionally in brackets ("[2001:db8::1]", as Exim may
 * write it). An IPv4-mapped IPv6 address (::ffff:192.0.2.7) IS its IPv4 address
 * everywhere: the same client must get the same FCrDNS answer, greylist network and
 * whitelist match whichever way the listener wrote it. No zone ("fe80::1%eth0").
 *
 * Lower tier: includes only rg.h.
 */
#ifndef RG_IPADDR_H
#define RG_IPADDR_H

#include "rg.h"

#define IPADDR_TEXT_MAX 46    /* INET6_ADDRSTRLEN */

struct ipaddr {
	int family;               /* AF_INET or AF_INET6 */
	unsigned char a[16];      /* AF_INET: 4 bytes; AF_INET6: 16 */
	unsigned char mapped[16]; /* both families as 16 bytes (IPv4 as ::ffff:a.b.c.d) */
};

/* Parse s; 0, or -1 when it is not an address. */
int ipaddr_parse(const char *s, struct ipaddr *out);

/* Canonical text ("192.0.2.7", "2001:db8::1"); 0, or -1 when it does not fit. */
int ipaddr_text(const struct ipaddr *ip, char *out, size_t size);

#endif
