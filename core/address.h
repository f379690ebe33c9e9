/*
 * address.h - RFC 5321 mailbox parsing, before any protocol sees an address.
 *
 * Control bytes, 8-bit bytes, over-long parts and unbalanced quotes are refused
 * here, so that nothing malformed ever reaches an SMTP command, an LDAP filter
 * or a store key.
 */
#ifndef RG_ADDRESS_H
#define RG_ADDRESS_H

#include "rg.h"

struct address {
	char local[RG_LOCAL_MAX + 1];    /* as given (case kept: sent in RCPT TO) */
	char domain[RG_DOMAIN_MAX + 1];  /* lower-cased */
	char full[RG_ADDRESS_MAX + 1];   /* local@domain, as sent in RCPT TO */
	char key[RG_ADDRESS_MAX + 1];    /* cache key: local part as given, domain lower-cased
	                                  * (local parts may be case-sensitive, RFC 5321 2.4) */
};

/* Parse "local@domain" or "<local@domain>". RG_FOUND on success, RG_NOTFOUND with a
 * reason in err when malformed, RG_TEMPFAIL for a well-formed UTF-8 (SMTPUTF8) address,
 * which nothing here can verify. The null address "<>" is refused here (callers that
 * accept it check for it first). */
int address_parse(const char *in, struct address *out, char *err, size_t errlen);

/* Validate a bare domain name or an address literal ("[192.0.2.1]") into out, lower-cased.
 * RG_FOUND, or RG_NOTFOUND with the reason in err. */
int address_parse_domain(const char *in, char *out, size_t outsize, char *err, size_t errlen);

/* The one domain-name rule, for addresses, config sections and lists alike: letters,
 * digits, '-' and '_' (seen in real mail domains), labels of 1..63, at most 255 octets,
 * no final dot. RG_FOUND, or RG_NOTFOUND with the reason in err. */
int address_domain_check(const char *in, size_t len, char *err, size_t errlen);

/* The one suffix matcher: whether domain (dl bytes) lies under zone (zl bytes) -- it ends
 * with "." zone -- or, when self is set, equals it. Case-insensitive. */
int address_in_zone(const char *domain, size_t dl, const char *zone, size_t zl, int self);

#endif
