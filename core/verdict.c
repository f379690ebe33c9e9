/*
 * verdict.c - encoding of cached verdicts and catch-all records.
 *
 * Text with a version first, decoded strictly: anything that does not parse (another
 * version, a torn or foreign value) is a miss, so a bad record can never decide.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "verdict.h"

#define VERDICT_VERSION "1"

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

/* Encode v into buf. */
int verdict_encode(const struct verdict *v, int catchall, char *buf, size_t size)
{
	const char *word = catchall ? (v->pass ? "yes" : "no") : (v->pass ? "pass" : "fail");

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

/* Parse a decimal timestamp strictly. */
static int verdict_time(const char *s, int64_t *out)
{
	char *e;
	long long n;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoll(s, &e, 10);
	if (errno || *e != '\0')
		return -1;
	*out = n;
	return 0;
}

/* Decode strictly; -1 means "treat as a miss". */
int verdict_decode(const char *buf, size_t len, int catchall, struct verdict *v)
{
	const char *end = buf + len, *p = buf;
	char ver[4], word[8], t1[24], t2[24];
	size_t i;

	memset(v, 0, sizeof *v);
	for (i = 0; i < len; i++)
		if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] > 0x7e)
			return -1;
	if ((p = verdict_field(p, end, ver, sizeof ver)) == NULL || strcmp(ver, VERDICT_VERSION) != 0)
		return -1;
	if ((p = verdict_field(p, end, word, sizeof word)) == NULL)
		return -1;
	if (strcmp(word, catchall ? "yes" : "pass") == 0)
		v->pass = 1;
	else if (strcmp(word, catchall ? "no" : "fail") != 0)
		return -1;
	if ((p = verdict_field(p, end, v->source, sizeof v->source)) == NULL)
		return -1;
	if ((p = verdict_field(p, end, t1, sizeof t1)) == NULL || verdict_time(t1, &v->created) < 0)
		return -1;
	if ((p = verdict_field(p, end, t2, sizeof t2)) == NULL || verdict_time(t2, &v->expires) < 0)
		return -1;
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
