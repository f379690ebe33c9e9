/*
 * yield.c - builds and reads the "key=value" answer line of every check.
 *
 * Values lose control and 8-bit bytes; a value with a space, '=', '"' or '\\' is double
 * quoted with '"' and '\\' escaped, which Exim's ${extract} (string_dequote) reads back
 * exactly, so no text (a quoted local part, a remote reply) can forge another key.
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

/* Append key=value, quoted (and escaped) when needed. */
void yield_add(struct yield *y, const char *key, const char *value)
{
	char clean[2 * YIELD_MAX];
	size_t o = 0;
	int quote;

	if (value == NULL || *value == '\0')
		return;
	quote = strpbrk(value, " =\"\\") != NULL;
	for (; *value && o + 2 < sizeof clean; value++) {
		unsigned char ch = (unsigned char)*value;

		if (quote && (ch == '"' || ch == '\\'))
			clean[o++] = '\\';
		clean[o++] = (ch < 0x20 || ch > 0x7e) ? '?' : (char)ch;
	}
	if (*value)
		y->truncated = 1;
	clean[o] = '\0';
	if (y->len > 0)
		yield_append(y, " ", 1);
	yield_append(y, key, strlen(key));
	yield_append(y, quote ? "=\"" : "=", quote ? 2 : 1);
	yield_append(y, clean, o);
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
			size_t n = 0;

			/* Quoted: unescape \" and \\ while copying (only when it is the key). */
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				if (match) {
					if (n + 1 >= size)
						return -1;
					out[n++] = *p;
				}
			}
			if (*p)
				p++;
			if (match) {
				out[n] = '\0';
				return 0;
			}
			while (*p == ' ')
				p++;
			continue;
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
