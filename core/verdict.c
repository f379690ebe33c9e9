/*
 * verdict.c - encoding of cached verdicts and catch-all records.
 *
 * Text with a version first, decoded strictly: anything that does not parse (another
 * version, a torn or foreign value) is a miss, so a bad record can never decide.
 */
#include <string.h>

#include "verdict.h"

#define VERDICT_VERSION "1"
#define VERDICT_CATCHALL_VERSION "2"   /* 2: the known-address field */

/* Store key of an address verdict. */
int verdict_key_address(char *key, size_t size, const char *addrkey)
{
	return util_snprintf(key, size, "v:%s", addrkey);
}

/* Store key of a domain's catch-all record. */
int verdict_key_catchall(char *key, size_t size, const char *domain)
{
	return util_snprintf(key, size, "c:%s", domain);
}

/* Static word for a c: record's known field. */
const char *verdict_known_name(int known)
{
	return known > 0 ? "accepted" : known == 0 ? "refused" : "unchecked";
}

/* Encode v into buf. */
int verdict_encode(const struct verdict *v, int catchall, char *buf, size_t size)
{
	const char *word = catchall ? (v->pass ? "yes" : "no") : (v->pass ? "pass" : "fail");

	if (catchall)
		return util_snprintf(buf, size, VERDICT_CATCHALL_VERSION " %s %s %lld %lld %s %s", word,
				     v->source, (long long)v->created, (long long)v->expires,
				     verdict_known_name(v->known), v->text);
	return util_snprintf(buf, size, VERDICT_VERSION " %s %s %lld %lld %s", word, v->source,
			     (long long)v->created, (long long)v->expires, v->text);
}

/* Read one space-terminated field of at most size-1 bytes. */
static const char *verdict_field(const char *p, const char *end, char *out, size_t size)
{
	size_t n = 0;

	while (p < end && *p != ' ') {
		if (n + 1 >= size)
			return NULL;
		out[n++] = *p++;
	}
	out[n] = '\0';
	if (n == 0)
		return NULL;
	return (p < end) ? p + 1 : p;
}

/* Decode strictly; -1 means "treat as a miss". */
int verdict_decode(const char *buf, size_t len, int catchall, struct verdict *v)
{
	const char *end = buf + len, *p = buf;
	char ver[4], word[8], t1[24], t2[24], kn[12];
	size_t i;

	memset(v, 0, sizeof *v);
	for (i = 0; i < len; i++)
		if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] > 0x7e)
			return -1;
	if ((p = verdict_field(p, end, ver, sizeof ver)) == NULL ||
	    strcmp(ver, catchall ? VERDICT_CATCHALL_VERSION : VERDICT_VERSION) != 0)
		return -1;
	if ((p = verdict_field(p, end, word, sizeof word)) == NULL)
		return -1;
	if (strcmp(word, catchall ? "yes" : "pass") == 0)
		v->pass = 1;
	else if (strcmp(word, catchall ? "no" : "fail") != 0)
		return -1;
	if ((p = verdict_field(p, end, v->source, sizeof v->source)) == NULL)
		return -1;
	if ((p = verdict_field(p, end, t1, sizeof t1)) == NULL || util_decimal(t1, INT64_MAX, &v->created) < 0)
		return -1;
	if ((p = verdict_field(p, end, t2, sizeof t2)) == NULL || util_decimal(t2, INT64_MAX, &v->expires) < 0)
		return -1;
	v->known = -1;
	if (catchall) {
		if ((p = verdict_field(p, end, kn, sizeof kn)) == NULL)
			return -1;
		if (strcmp(kn, "accepted") == 0)
			v->known = 1;
		else if (strcmp(kn, "refused") == 0)
			v->known = 0;
		else if (strcmp(kn, "unchecked") != 0)
			return -1;
	}
	if (v->expires < v->created || (size_t)(end - p) >= sizeof v->text)
		return -1;
	memcpy(v->text, p, (size_t)(end - p));
	v->text[end - p] = '\0';
	return 0;
}

/* The end of a record's life in the store. */
int64_t verdict_life(const struct verdict *v, int catchall, unsigned stale_ttl)
{
	int64_t stale = v->created + (int64_t)stale_ttl;

	if (catchall || !v->pass || stale < v->expires)
		return v->expires;
	return stale;
}
