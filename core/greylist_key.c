/*
 * greylist_key.c - network grouping and sender normalisation of greylisting triplets.
 *
 * Why normalise: a large sender's return path carries per-message parts (BATV tags that
 * change daily, SRS hashes and timestamps, VERP message numbers); kept as they are, each
 * retry would look like a new triplet and the mail would be greylisted for ever.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "greylist_key.h"
#include "ipaddr.h"

/* Parse ip into 16 bytes (IPv4 mapped) and its family (4 or 6), through ipaddr. */
static int greylist_key_parse(const char *ip, unsigned char addr[16], int *fam)
{
	struct ipaddr x;

	if (ipaddr_parse(ip, &x) < 0)
		return -1;
	memcpy(addr, x.mapped, 16);
	*fam = x.family == AF_INET ? 4 : 6;
	return 0;
}

/* Clear the bits of addr after prefix. */
static void greylist_key_mask(unsigned char addr[16], unsigned prefix)
{
	unsigned i;

	for (i = 0; i < 16; i++) {
		if (prefix >= 8 * (i + 1))
			continue;
		addr[i] &= prefix <= 8 * i ? 0 : (unsigned char)(0xff << (8 - (prefix - 8 * i)));
	}
}

/* The client network of ip. */
int greylist_key_network(const char *ip, unsigned v4prefix, unsigned v6prefix, char *out, size_t size)
{
	unsigned char a[16];
	char txt[INET6_ADDRSTRLEN];
	int fam;

	if (greylist_key_parse(ip, a, &fam) < 0 || v4prefix > 32 || v6prefix > 128)
		return -1;
	if (fam == 4) {
		greylist_key_mask(a, v4prefix + 96);
		if (inet_ntop(AF_INET, a + 12, txt, sizeof txt) == NULL)
			return -1;
		return util_snprintf(out, size, "%s/%u", txt, v4prefix);
	}
	greylist_key_mask(a, v6prefix);
	if (inet_ntop(AF_INET6, a, txt, sizeof txt) == NULL)
		return -1;
	return util_snprintf(out, size, "%s/%u", txt, v6prefix);
}

/* An address as 16 bytes. */
int greylist_key_addr(const char *ip, unsigned char addr[16])
{
	int fam;

	return greylist_key_parse(ip, addr, &fam);
}

/* A CIDR or bare address. */
int greylist_key_cidr(const char *cidr, unsigned char addr[16], unsigned *prefix)
{
	char ip[INET6_ADDRSTRLEN + 2];
	const char *slash = strchr(cidr, '/');
	size_t n = slash ? (size_t)(slash - cidr) : strlen(cidr);
	unsigned long p;
	char *e;
	int fam;

	if (n == 0 || n >= sizeof ip)
		return -1;
	memcpy(ip, cidr, n);
	ip[n] = '\0';
	if (greylist_key_parse(ip, addr, &fam) < 0)
		return -1;
	if (slash == NULL) {
		*prefix = 128;
		return 0;
	}
	if (slash[1] < '0' || slash[1] > '9')
		return -1;
	p = strtoul(slash + 1, &e, 10);
	/* A dotted quad counts in IPv4 bits; anything written with ':' in IPv6 bits. */
	if (*e != '\0' || p > (strchr(ip, ':') == NULL ? 32UL : 128UL))
		return -1;
	*prefix = (unsigned)p + (strchr(ip, ':') == NULL ? 96 : 0);
	greylist_key_mask(addr, *prefix);
	return 0;
}

/* Whether addr is in net/prefix. */
int greylist_key_in(const unsigned char addr[16], const unsigned char net[16], unsigned prefix)
{
	unsigned char a[16];

	memcpy(a, addr, 16);
	greylist_key_mask(a, prefix);
	return memcmp(a, net, 16) == 0;
}

/* Copy an address lower-cased, without <>, bytes <= ' ' and DEL as '?'. */
static int greylist_key_clean(const char *in, char *out, size_t size)
{
	size_t n = strlen(in), i;

	if (n >= 2 && in[0] == '<' && in[n - 1] == '>') {
		in++;
		n -= 2;
	}
	if (n >= size)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)in[i];

		out[i] = ch <= ' ' || ch == 0x7f ? '?' : (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : (char)ch;
	}
	out[n] = '\0';
	return 0;
}

/* Whether local starts with word followed by one of seps; returns the text after it. */
static char *greylist_key_tag(char *local, const char *word, const char *seps)
{
	size_t n = strlen(word);

	if (strncmp(local, word, n) != 0 || local[n] == '\0' || strchr(seps, local[n]) == NULL)
		return NULL;
	return local + n + 1;
}

/*
 * SRS0 body "HASH=TT=domain=local" -> local@domain in out. 0 or -1 (not SRS after all).
 */
static int greylist_key_srs0(const char *body, char *out, size_t size)
{
	const char *h = strchr(body, '='), *t, *d;

	if (h == NULL || (t = strchr(h + 1, '=')) == NULL || (d = strchr(t + 1, '=')) == NULL)
		return -1;
	if (d == t + 1 || d[1] == '\0')
		return -1;
	if ((size_t)(d - t - 1) + strlen(d + 1) + 2 > size)
		return -1;
	return util_snprintf(out, size, "%s@%.*s", d + 1, (int)(d - t - 1), t + 1);
}

/* Whether tok[0..n) is a per-message number: digits, or >= 8 hex digits with a digit. */
static int greylist_key_number(const char *tok, size_t n)
{
	size_t i, digits = 0;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (tok[i] >= '0' && tok[i] <= '9')
			digits++;
		else if (!(tok[i] >= 'a' && tok[i] <= 'f'))
			return 0;
	}
	return digits == n || (n >= 8 && digits > 0);
}

/* The normalised sender. */
int greylist_key_sender(const char *sender, char *out, size_t size)
{
	char a[RG_ADDRESS_MAX * 2], b[RG_ADDRESS_MAX * 2], *at, *p, *q;
	size_t i, o, start, lend;
	int round;

	if (greylist_key_clean(sender, a, sizeof a) < 0)
		return -1;
	if (a[0] == '\0')
		return util_strlcpy(out, "<>", size);
	/* Peel the decorations, outermost first (SRS of a BATV address, and so on). */
	for (round = 0; round < 4; round++) {
		if ((at = strrchr(a, '@')) == NULL)
			break;
		*at = '\0';
		if ((p = greylist_key_tag(a, "srs0", "=+-")) != NULL && greylist_key_srs0(p, b, sizeof b) == 0) {
			memcpy(a, b, strlen(b) + 1);
			continue;
		}
		if ((p = greylist_key_tag(a, "srs1", "=+-")) != NULL && (q = strstr(p, "==")) != NULL &&
		    greylist_key_srs0(q + 2, b, sizeof b) == 0) {
			memcpy(a, b, strlen(b) + 1);
			continue;
		}
		if (((p = greylist_key_tag(a, "prvs", "=")) != NULL ||
		     (p = greylist_key_tag(a, "msprvs1", "=")) != NULL ||
		     (p = greylist_key_tag(a, "btv1", "=")) != NULL) &&
		    (q = strchr(p, '=')) != NULL && q[1] != '\0') {
			memmove(a, q + 1, strlen(q + 1) + 1);
			util_snprintf(b, sizeof b, "%s@%s", a, at + 1);
			memcpy(a, b, strlen(b) + 1);
			continue;
		}
		*at = '@';
		break;
	}
	/* Per-message numbers in the local part (the last '@' ends it). */
	at = strrchr(a, '@');
	lend = at ? (size_t)(at - a) : strlen(a);
	for (i = 0, o = 0, start = 0; i <= lend; i++) {
		if (i < lend && strchr("-._+=", a[i]) == NULL)
			continue;
		if (greylist_key_number(a + start, i - start)) {
			b[o++] = '#';
		} else {
			memcpy(b + o, a + start, i - start);
			o += i - start;
		}
		if (i < lend)
			b[o++] = a[i];
		start = i + 1;
	}
	memcpy(b + o, a + lend, strlen(a + lend) + 1);
	return util_strlcpy(out, b, size);
}

/* The recipient as a key. */
int greylist_key_recipient(const char *rcpt, char *out, size_t size)
{
	return greylist_key_clean(rcpt, out, size);
}

/* Store key of a triplet. */
RG_HOT int greylist_key_triplet(char *key, size_t size, const char *net, const char *sender, const char *rcpt)
{
	return util_snprintf(key, size, "g:%s %s %s", net, sender, rcpt);
}

/* Store key of a network's auto-whitelist entry. */
RG_HOT int greylist_key_awl(char *key, size_t size, const char *net)
{
	return util_snprintf(key, size, "a:%s", net);
}
