/*
 * smtp_host.h - callout host lists: parse "h", "h:port", "[v6]", "[v6]:port", "ip"
 * entries and resolve them to TCP addresses.
 *
 * Kept apart from the SMTP dialogue (smtp.c): this part reads configuration and asks
 * the resolver; the dialogue reads a remote peer.
 */
#ifndef RG_SMTP_HOST_H
#define RG_SMTP_HOST_H

#include <netdb.h>

#include "rg.h"

#define SMTP_HOST_LIST_MAX 16          /* entries in a host list */
#define SMTP_HOST_NAME_MAX 255         /* host name or address literal */
#define SMTP_HOST_LABEL_MAX (SMTP_HOST_NAME_MAX + 16)

struct smtp_host {
	char name[SMTP_HOST_NAME_MAX + 1];  /* name or address literal, without brackets */
	unsigned port;
};

/*
 * Split hosts (entries separated by spaces and/or commas) into h[0..*n), at most
 * SMTP_HOST_LIST_MAX. RG_FOUND, or RG_CONFIG with err naming the bad entry.
 */
int smtp_host_parse_list(const char *hosts, unsigned default_port, struct smtp_host *h, size_t *n,
			 char *err, size_t errlen);

/* "name:port", or "[v6]:port", for messages. */
void smtp_host_label(char *dst, size_t size, const struct smtp_host *h);

/* Resolve h into TCP addresses (*res, for freeaddrinfo); RG_TEMPFAIL with err when it fails. */
int smtp_host_resolve(const struct smtp_host *h, struct addrinfo **res, char *err, size_t errlen);

#endif
