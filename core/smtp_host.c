/*
 * smtp_host.c - callout host lists and resolving (see smtp_host.h).
 *
 * Why strict: a host list may come from an ACL option, i.e. expanded text; an entry that
 * does not parse is a configuration error naming it, never something sent to DNS.
 * IP literals never wait on DNS.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "address.h"
#include "ipaddr.h"
#include "smtp_host.h"

/* Whether ch is an ASCII digit. */
static int smtp_host_is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* Parse a decimal port 1..65535 from s[0..len); -1 when it is not one. */
static int smtp_host_port(const char *s, size_t len)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0 || len > 5)
		return -1;
	for (i = 0; i < len; i++) {
		if (!smtp_host_is_digit(s[i]))
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	return (v >= 1 && v <= 65535) ? (int)v : -1;
}

/* Whether s[0..len) is an IPv6 literal (ipaddr_parse, the one IP rule; brackets are the
 * caller's, and an IPv4 text in them is refused as before). */
static int smtp_host_valid_v6(const char *s, size_t len)
{
	char tmp[IPADDR_TEXT_MAX + 1];
	struct ipaddr a;

	if (len == 0 || len >= sizeof tmp || memchr(s, ':', len) == NULL || s[0] == '[')
		return 0;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return ipaddr_parse(tmp, &a) == 0;
}

/* Whether s[0..len) is a host name (address_domain_check, the one domain rule, '_' allowed;
 * one final dot allowed as in an FQDN; no leading '-') or an IPv4 literal (ipaddr_parse). */
static int smtp_host_valid_name(const char *s, size_t len)
{
	char tmp[SMTP_HOST_NAME_MAX + 1], why[RG_ERRLEN];
	struct ipaddr a;
	int numeric = 1;
	size_t i;

	if (len == 0 || len > SMTP_HOST_NAME_MAX || s[0] == '-')
		return 0;
	for (i = 0; i < len; i++)
		if (!smtp_host_is_digit(s[i]) && s[i] != '.')
			numeric = 0;
	if (!numeric)
		return address_domain_check(s, s[len - 1] == '.' ? len - 1 : len, why, sizeof why) == RG_FOUND;
	/* Why: "999.1.2.3" is a typo, not a name to send to DNS. */
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return ipaddr_parse(tmp, &a) == 0 && a.family == AF_INET;
}

/* Parse one host-list entry s[0..len) into h; -1 on bad syntax. */
static int smtp_host_parse_entry(const char *s, size_t len, unsigned default_port, struct smtp_host *h)
{
	const char *colon = NULL, *rb;
	size_t i, ncolons = 0, hl = len;
	int port = (int)default_port;

	if (s[0] == '[') {                       /* [IPv6] or [IPv6]:port */
		rb = memchr(s, ']', len);
		if (rb == NULL)
			return -1;
		hl = (size_t)(rb - s) - 1;
		if (!smtp_host_valid_v6(s + 1, hl))
			return -1;
		if (hl + 2 < len && (rb[1] != ':' || (port = smtp_host_port(rb + 2, len - hl - 3)) < 0))
			return -1;
		memcpy(h->name, s + 1, hl);
	} else {
		for (i = 0; i < len; i++)
			if (s[i] == ':') {
				ncolons++;
				colon = s + i;
			}
		if (ncolons > 1) {               /* bare IPv6 literal: no port possible */
			if (!smtp_host_valid_v6(s, len))
				return -1;
		} else if (ncolons == 1) {       /* host:port */
			hl = (size_t)(colon - s);
			if (!smtp_host_valid_name(s, hl) || (port = smtp_host_port(colon + 1, len - hl - 1)) < 0)
				return -1;
		} else if (!smtp_host_valid_name(s, len)) {
			return -1;
		}
		memcpy(h->name, s, hl);
	}
	h->name[hl] = '\0';
	h->port = (unsigned)port;
	return 0;
}

/* Split hosts (separated by spaces and/or commas) into h[0..*n); RG_CONFIG on bad syntax. */
int smtp_host_parse_list(const char *hosts, unsigned default_port, struct smtp_host *h, size_t *n,
		       char *err, size_t errlen)
{
	const char *p = hosts, *tok;
	char shown[64];
	size_t len;

	*n = 0;
	if (hosts == NULL)
		return util_snprintf(err, errlen, "no callout hosts"), RG_CONFIG;
	if (default_port == 0 || default_port > 65535)
		return util_snprintf(err, errlen, "bad default port %u", default_port), RG_CONFIG;
	for (;;) {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		tok = p;
		while (*p != '\0' && *p != ' ' && *p != ',' && *p != '\t')
			p++;
		len = (size_t)(p - tok);
		if (*n == SMTP_HOST_LIST_MAX)
			return util_snprintf(err, errlen, "more than %d callout hosts", SMTP_HOST_LIST_MAX),
			       RG_CONFIG;
		if (smtp_host_parse_entry(tok, len, default_port, &h[*n]) < 0) {
			/* Why sanitised: the list may come from an ACL option, i.e. expanded text. */
			util_sanitise(shown, sizeof shown, tok, len);
			return util_snprintf(err, errlen, "bad callout host \"%s\"", shown), RG_CONFIG;
		}
		(*n)++;
	}
	if (*n == 0)
		return util_snprintf(err, errlen, "no callout hosts"), RG_CONFIG;
	return RG_FOUND;
}

/* "name:port", or "[v6]:port", for messages. */
void smtp_host_label(char *dst, size_t size, const struct smtp_host *h)
{
	if (strchr(h->name, ':') != NULL)
		util_snprintf(dst, size, "[%s]:%u", h->name, h->port);
	else
		util_snprintf(dst, size, "%s:%u", h->name, h->port);
}

/* Resolve h into TCP addresses (*res, for freeaddrinfo); RG_TEMPFAIL with err when it fails. */
int smtp_host_resolve(const struct smtp_host *h, struct addrinfo **res, char *err, size_t errlen)
{
	struct addrinfo hints;
	char port[8], label[SMTP_HOST_LABEL_MAX];
	int rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	snprintf(port, sizeof port, "%u", h->port);
	/* Why numeric first: getaddrinfo has no timeout, and an IP literal must never wait on
	 * DNS. Operators who need a hard bound configure literals. */
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	rc = getaddrinfo(h->name, port, &hints, res);
	if (rc == EAI_NONAME) {
		/* Why no AI_ADDRCONFIG: it ignores loopback when looking for configured
		 * addresses, so "localhost" resolves to nothing on a host without others.
		 * Note: this call is bounded by the resolver's own timeouts, not our deadline. */
		hints.ai_flags = AI_NUMERICSERV;
		rc = getaddrinfo(h->name, port, &hints, res);
	}
	if (rc == 0)
		return RG_FOUND;
	smtp_host_label(label, sizeof label, h);
	util_snprintf(err, errlen, "%.200s: cannot resolve: %s", label,
		      rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	*res = NULL;
	return RG_TEMPFAIL;
}

