/*
 * list_parse.c - reading a static list file: one address per line, blank lines and '#'
 * comments, each address valid (core/address.h) and of a domain whose settings name the
 * file. Problems are reported as "file:line: what", with the offending text sanitised.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "list_parse.h"

/* Record a problem at line. */
void list_parse_problem(struct list_parse *lp, unsigned long line, const char *fmt, ...)
{
	char what[160], msg[RG_ERRLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof msg, "%.80s:%lu: %s", lp->path, line, what);
	if (lp->problems++ == 0)
		memcpy(lp->first, msg, sizeof msg);
	if (lp->fn && lp->problems <= lp->max)
		lp->fn(lp->arg, msg);
}

/* Whether domain's settings name this file, cached per domain in an open-addressing table
 * (why a table: a shared file may serve thousands of domains, each judged once). */
int list_parse_allowed(struct list_parse *lp, const char *domain)
{
	const struct list_ctx *x = lp->x;
	size_t i, mask;

	if (lp->any_domain)
		return 1;
	/* The asking domain's settings may name the file through per-call options. */
	if (x->domain && strcmp(domain, x->domain) == 0 && strcmp(x->s->list, lp->path) == 0)
		return 1;
	if (x->c == NULL)
		return 0;
	if (lp->ndom * 2 >= lp->domcap) {
		size_t cap = lp->domcap ? lp->domcap * 2 : 64;
		struct list_dom *d = calloc(cap, sizeof *d);

		if (d == NULL)
			return -1;
		for (i = 0; i < lp->domcap; i++) {
			size_t j;

			if (lp->dom[i].name == NULL)
				continue;
			for (j = list_fnv1a(lp->dom[i].name) & (cap - 1); d[j].name; j = (j + 1) & (cap - 1))
				;
			d[j] = lp->dom[i];
		}
		free(lp->dom);
		lp->dom = d;
		lp->domcap = cap;
	}
	mask = lp->domcap - 1;
	for (i = list_fnv1a(domain) & mask; lp->dom[i].name; i = (i + 1) & mask)
		if (strcmp(lp->dom[i].name, domain) == 0)
			return lp->dom[i].allowed;
	if (lp->tmp == NULL && (lp->tmp = malloc(sizeof *lp->tmp)) == NULL)
		return -1;
	if ((lp->dom[i].name = strdup(domain)) == NULL)
		return -1;
	config_for_domain(x->c, domain, lp->tmp);
	lp->dom[i].allowed = strcmp(lp->tmp->list, lp->path) == 0;
	lp->ndom++;
	return lp->dom[i].allowed;
}

/* Append a key. */
static int list_parse_add_key(struct list_parse *lp, const char *key)
{
	size_t len = strlen(key) + 1;

	if (lp->used + len > lp->cap) {
		size_t cap = lp->cap ? lp->cap * 2 : 1 << 16;
		char *b = realloc(lp->buf, cap);

		if (b == NULL)
			return -1;
		lp->buf = b;
		lp->cap = cap;
	}
	if (lp->n == lp->ncap) {
		size_t cap = lp->ncap ? lp->ncap * 2 : 4096;
		size_t *o = realloc(lp->off, cap * sizeof *o);

		if (o == NULL)
			return -1;
		lp->off = o;
		lp->ncap = cap;
	}
	memcpy(lp->buf + lp->used, key, len);
	lp->off[lp->n++] = lp->used;
	lp->used += len;
	return 0;
}

/* Free a parse's memory. */
void list_parse_free(struct list_parse *lp)
{
	size_t i;

	for (i = 0; i < lp->domcap; i++)
		free(lp->dom[i].name);
	free(lp->dom);
	free(lp->buf);
	free(lp->off);
	free(lp->tmp);
}

/* Read one line of f into buf (size bytes; the rest of a longer line is read, not kept).
 * Its whole length, or -1 at end of file or on a read error. */
static long list_parse_getline(FILE *f, char *buf, size_t size)
{
	size_t len = 0;
	int ch;

	while ((ch = getc_unlocked(f)) != EOF) {
		if (len < size - 1)
			buf[len] = (char)ch;
		len++;
		if (ch == '\n')
			break;
	}
	buf[len < size - 1 ? len : size - 1] = '\0';
	return len == 0 && ch == EOF ? -1 : (long)len;
}

/* Read every line of f; 0 done (problems counted), -1 out of memory / read error (err). */
int list_parse_stream(struct list_parse *lp, FILE *f, char *err, size_t errlen)
{
	/* Why a fixed buffer: a file without newlines must not be read whole into memory. */
	char line[LIST_LINE_MAX + 2], why[RG_ERRLEN], shown[64];
	unsigned long no = 0;
	long len;
	int rc = 0, allowed;

	while ((len = list_parse_getline(f, line, sizeof line)) >= 0) {
		char *s = line, *e;
		struct address a;

		no++;
		if (len > LIST_LINE_MAX) {
			list_parse_problem(lp, no, "line longer than %d bytes", LIST_LINE_MAX);
			goto next;
		}
		if ((size_t)len != strlen(line)) {
			list_parse_problem(lp, no, "NUL byte in line (not a text file?)");
			goto next;
		}
		e = s + len;
		/* Why CR and blanks are trimmed: files edited on Windows end lines with CR LF. */
		while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		s += strspn(s, " \t");
		if (*s == '\0' || *s == '#')
			continue;
		util_sanitise(shown, sizeof shown, s, strlen(s));
		if (address_parse(s, &a, why, sizeof why) == RG_NOTFOUND) {
			list_parse_problem(lp, no, "\"%s\": %.80s", shown, why);
			goto next;
		}
		if (a.domain[0] == '\0') {
			/* A UTF-8 address: well-formed, but nothing can ask for it. */
			list_parse_problem(lp, no, "\"%s\": UTF-8 addresses cannot be verified; remove the line", shown);
			goto next;
		}
		if ((allowed = list_parse_allowed(lp, a.domain)) < 0) {
			util_snprintf(err, errlen, "out of memory");
			rc = -1;
			break;
		}
		if (!allowed) {
			if (lp->problems == 0)
				util_strlcpy(lp->first_domain, a.domain, sizeof lp->first_domain);
			list_parse_problem(lp, no, "\"%s\": domain %.80s is not configured for this file", shown, a.domain);
			goto next;
		}
		util_lower(a.full);
		if (lp->problems == 0 && list_parse_add_key(lp, a.full) < 0) {
			util_snprintf(err, errlen, "out of memory");
			rc = -1;
			break;
		}
		continue;
next:
		if (lp->max == 0)
			break;
	}
	/* Why: a read that stopped short of the end would compile part of the file as whole. */
	if (rc == 0 && len < 0 && (ferror(f) || !feof(f))) {
		util_snprintf(err, errlen, "%.150s: read error: %s", lp->path, strerror(errno));
		rc = -1;
	}
	return rc;
}

/* qsort/bsearch comparison of key pointers. */
int list_parse_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The parsed keys sorted, duplicates dropped; *n their number. NULL when out of memory. */
char **list_parse_sorted(struct list_parse *lp, size_t *n)
{
	char **v = malloc((lp->n ? lp->n : 1) * sizeof *v);
	size_t i, k = 0;

	if (v == NULL)
		return NULL;
	for (i = 0; i < lp->n; i++)
		v[i] = lp->buf + lp->off[i];
	qsort(v, lp->n, sizeof *v, list_parse_cmp);
	for (i = 0; i < lp->n; i++)
		if (k == 0 || strcmp(v[k - 1], v[i]) != 0)
			v[k++] = v[i];
	*n = k;
	return v;
}

