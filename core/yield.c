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
static RG_HOT void yield_append(struct yield *y, const char *s, size_t n)
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
RG_HOT void yield_init(struct yield *y, const char *result)
{
	y->len = 0;
	y->truncated = 0;
	y->line[0] = '\0';
	yield_add(y, "result", result);
}

/* Append key=value, quoted (and escaped) when needed. Why written straight into the line,
 * not through a copy: this runs for every answer, and a 2 KB copy on the stack made the
 * deepest frame of a check (each new stack page a page fault in a new Exim process). */
RG_HOT void yield_add(struct yield *y, const char *key, const char *value)
{
	size_t o = 0;
	int quote;
	char ch[2];

	if (value == NULL || *value == '\0')
		return;
	quote = strpbrk(value, " =\"\\") != NULL;
	if (y->len > 0)
		yield_append(y, " ", 1);
	yield_append(y, key, strlen(key));
	yield_append(y, quote ? "=\"" : "=", quote ? 2 : 1);
	/* The bound of the copy this replaces (2 * YIELD_MAX - 2 bytes of value): the line
	 * itself is shorter, so past it only the truncation mark matters. */
	for (; *value && o + 2 < 2 * YIELD_MAX; value++) {
		unsigned char c = (unsigned char)*value;
		size_t n = 0;

		if (quote && (c == '"' || c == '\\'))
			ch[n++] = '\\';
		ch[n++] = (c < 0x20 || c > 0x7e) ? '?' : (char)c;
		yield_append(y, ch, n);
		o += n;
	}
	if (*value)
		y->truncated = 1;
	if (quote)
		yield_append(y, "\"", 1);
}

/* Append key=N. */
RG_HOT void yield_add_int(struct yield *y, const char *key, long long n)
{
	char buf[32];

	snprintf(buf, sizeof buf, "%lld", n);
	yield_add(y, key, buf);
}

/* The next key=value pair at *pos (quoted values unescaped); 1 read, 0 at the end, -1 a
 * key or value too long for its buffer. Words without "=" are skipped. */
RG_HOT int yield_next(const char **pos, char *key, size_t keysize, char *val, size_t valsize)
{
	const char *p = *pos, *k;
	size_t n;

	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0') {
			*pos = p;
			return 0;
		}
		k = p;
		while (*p && *p != '=' && *p != ' ')
			p++;
		if (*p == '=')
			break;
	}
	if ((size_t)(p - k) >= keysize)
		return -1;
	memcpy(key, k, (size_t)(p - k));
	key[p - k] = '\0';
	p++;
	n = 0;
	if (*p == '"') {
		/* Quoted: \" and \\ stand for the byte after the backslash. */
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\' && p[1])
				p++;
			if (val != NULL && n + 1 >= valsize)
				return -1;
			if (val != NULL)
				val[n++] = *p;
		}
		if (*p)
			p++;
	} else {
		for (; *p && *p != ' '; p++) {
			if (val != NULL && n + 1 >= valsize)
				return -1;
			if (val != NULL)
				val[n++] = *p;
		}
	}
	if (val != NULL)
		val[n] = '\0';
	*pos = p;
	return 1;
}

/* Value of key in line; 0 found, -1 not (or it did not fit). Why values are skipped, not
 * copied, until the key is found: no line-sized buffer on the stack of every check. */
RG_HOT int yield_get(const char *line, const char *key, char *out, size_t size)
{
	char k[YIELD_KEY_MAX];
	const char *p = line, *at;

	for (at = p; yield_next(&p, k, sizeof k, NULL, 0) > 0; at = p)
		if (strcmp(k, key) == 0)
			return yield_next(&at, k, sizeof k, out, size) > 0 ? 0 : -1;
	return -1;
}

/* Split q in place into up to n words, quoted as yield values are. */
int yield_words(char *q, char **w, int n, char **rest)
{
	int k = 0;

	while (k < n) {
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q == '\0')
			break;
		if (*q == '"') {
			char *o = ++q;

			w[k++] = o;
			for (; *q != '"'; q++) {
				if (*q == '\0')
					return -1;
				if (*q == '\\' && q[1] != '\0')
					q++;
				*o++ = *q;
			}
			*o = '\0';
			q++;
		} else {
			w[k++] = q;
			while (*q && *q != ' ' && *q != '\t')
				q++;
			if (*q)
				*q++ = '\0';
		}
	}
	*rest = q;
	return k;
}
