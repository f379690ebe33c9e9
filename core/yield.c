/*
 * yield.c - builds and reads the "key=value" answer line of every check.
 *
 * Values are sanitised (no quote, backslash, control or 8-bit byte) so that Exim's
 * ${extract} always reads back exactly what was meant, whatever a remote server said.
 */
#include <stdio.h>
#include <string.h>

#include "yield.h"

/* Append raw bytes, marking truncation. */
static void yield_append(struct yield *y, const char *s, size_t n)
{
	if (y->len + n >= sizeof y->line) {
		y->truncated = 1;
		n = sizeof y->line - 1 - y->len;
	}
	memcpy(y->line + y->len, s, n);
	y->len += n;
	y->line[y->len] = '\0';
}

/* Start a line with result=VALUE. */
void yield_init(struct yield *y, const char *result)
{
	y->len = 0;
	y->truncated = 0;
	y->line[0] = '\0';
	yield_add(y, "result", result);
}

/* Append key=value, quoted when it holds a space or '='. */
void yield_add(struct yield *y, const char *key, const char *value)
{
	char clean[YIELD_MAX];
	int quote;

	if (value == NULL || *value == '\0')
		return;
	util_sanitise(clean, sizeof clean, value, strlen(value));
	quote = strpbrk(clean, " =") != NULL;
	if (y->len > 0)
		yield_append(y, " ", 1);
	yield_append(y, key, strlen(key));
	yield_append(y, quote ? "=\"" : "=", quote ? 2 : 1);
	yield_append(y, clean, strlen(clean));
	if (quote)
		yield_append(y, "\"", 1);
}

/* Append key=N. */
void yield_add_int(struct yield *y, const char *key, long long n)
{
	char buf[32];

	snprintf(buf, sizeof buf, "%lld", n);
	yield_add(y, key, buf);
}

/* Value of key in line; 0 found, -1 not (or it did not fit). */
int yield_get(const char *line, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key);
	const char *p = line;

	while (*p) {
		const char *k = p, *v, *end;
		int match;

		while (*p && *p != '=' && *p != ' ')
			p++;
		match = (size_t)(p - k) == klen && strncmp(k, key, klen) == 0;
		if (*p != '=') {
			while (*p == ' ')
				p++;
			continue;
		}
		p++;
		if (*p == '"') {
			v = ++p;
			end = strchr(p, '"');
			if (end == NULL)
				end = p + strlen(p);
			p = *end ? end + 1 : end;
		} else {
			v = p;
			while (*p && *p != ' ')
				p++;
			end = p;
		}
		if (match) {
			if ((size_t)(end - v) >= size)
				return -1;
			memcpy(out, v, (size_t)(end - v));
			out[end - v] = '\0';
			return 0;
		}
		while (*p == ' ')
			p++;
	}
	return -1;
}
