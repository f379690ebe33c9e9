/*
 * list_parse.c - reading a static list file: one address per line, blank lines and '#'
 * comments, each address valid (core/address.h) and of a domain the caller allows, the
 * file bounded in bytes and lines, optionally closed by an end marker: "# end", or
 * "# end N" with N the number of entry lines, checked whenever it is present.
 *
 * Problems are reported as "file:line: what" and never quote the line: a list may be a
 * link to a secret file (issue 13, defect 5), and the line number identifies the problem.
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
		lp->fn(lp->arg, line, what, msg);
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
	free(lp->buf);
	free(lp->off);
	lp->buf = NULL;
	lp->off = NULL;
	lp->used = lp->cap = lp->n = lp->ncap = 0;
}

/* Read one line of f into buf (size bytes; the rest of a longer line is read, not kept),
 * reading no more than *budget bytes (0: unbounded), which it lowers. The line's whole
 * length, -1 at end of file or on a read error, -2 when the budget ran out. */
static long list_parse_getline(FILE *f, char *buf, size_t size, uint64_t *budget)
{
	size_t len = 0;
	int ch;

	while ((ch = getc_unlocked(f)) != EOF) {
		if (*budget && --*budget == 0)
			return -2;
		if (len < size - 1)
			buf[len] = (char)ch;
		len++;
		if (ch == '\n')
			break;
	}
	buf[len < size - 1 ? len : size - 1] = '\0';
	return len == 0 && ch == EOF ? -1 : (long)len;
}

/* Whether s is an end marker: 1 "# end", 2 "# end N" (*n = N), 0 neither. */
static int list_parse_marker(const char *s, unsigned long *n)
{
	char *end;

	if (strncmp(s, LIST_END_MARKER, sizeof LIST_END_MARKER - 1) != 0)
		return 0;
	s += sizeof LIST_END_MARKER - 1;
	if (*s == '\0')
		return 1;
	if (*s != ' ' && *s != '\t')
		return 0;
	s += strspn(s, " \t");
	if (*s < '0' || *s > '9' || strlen(s) > 12)
		return 0;
	errno = 0;
	*n = strtoul(s, &end, 10);
	return *end == '\0' && errno == 0 ? 2 : 0;
}

/* Read every line of f; 0 done (problems counted), -1 out of memory / read error (err). */
int list_parse_stream(struct list_parse *lp, FILE *f, char *err, size_t errlen)
{
	/* Why a fixed buffer: a file without newlines must not be read whole into memory. */
	char line[LIST_LINE_MAX + 2], why[RG_ERRLEN];
	/* Why one more byte than allowed: reading it is how "larger than" is seen. */
	uint64_t budget = lp->max_bytes ? lp->max_bytes + 1 : 0;
	unsigned long no = 0, count = 0;
	long len;
	int rc = 0, allowed, ended = 0, marker;

	while ((len = list_parse_getline(f, line, sizeof line, &budget)) >= 0) {
		char *s = line, *e;
		struct address a;

		if (lp->max_lines && no == lp->max_lines) {
			list_parse_problem(lp, 0, "more than list_max_lines = %lu lines", lp->max_lines);
			return 0;
		}
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
		if (*s == '\0')
			continue;
		if ((marker = list_parse_marker(s, &count)) != 0) {
			lp->end_line = no;
			lp->end_count = marker == 2;
			lp->end_n = count;
		}
		ended = marker != 0;
		if (*s == '#')
			continue;
		lp->entries++;
		/* Why: legacy scp (scp -O) writes over the old file without truncating it first;
		 * a copy cut before its end keeps the old file's tail, and its end line. Nothing
		 * may follow an end line that says "the file ends here". */
		if (lp->end_line && (lp->end_count || lp->end_marker)) {
			list_parse_problem(lp, no, "entry after the end line %lu: the rest of an older, longer file?",
					   lp->end_line);
			goto next;
		}
		if (address_parse(s, &a, why, sizeof why) == RG_NOTFOUND) {
			list_parse_problem(lp, no, "not an address: %.80s", why);
			goto next;
		}
		if (a.domain[0] == '\0') {
			/* A UTF-8 address: well-formed, but nothing can ask for it. */
			list_parse_problem(lp, no, "UTF-8 addresses cannot be verified; remove the line");
			goto next;
		}
		if ((allowed = lp->allowed ? lp->allowed(lp->allowed_arg, a.domain) : 1) < 0) {
			util_snprintf(err, errlen, "out of memory");
			rc = -1;
			break;
		}
		if (!allowed) {
			if (lp->problems == 0)
				util_strlcpy(lp->first_domain, a.domain, sizeof lp->first_domain);
			list_parse_problem(lp, no, "domain %.80s is not configured for this file", a.domain);
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
			return 0;
	}
	if (len == -2) {
		list_parse_problem(lp, 0, "larger than list_max_size = %llu bytes", (unsigned long long)lp->max_bytes);
		return 0;
	}
	/* Why: a read that stopped short of the end would compile part of the file as whole. */
	if (rc == 0 && (ferror(f) || !feof(f))) {
		util_snprintf(err, errlen, "%.150s: read error: %s", lp->path, strerror(errno));
		return -1;
	}
	/* Why: scp writes in place; a copy cut at a line end parses as a shorter list. The
	 * marker says the customer's file is whole. */
	if (rc == 0 && lp->end_marker && !ended)
		list_parse_problem(lp, 0, "no \"" LIST_END_MARKER "\" line at the end (list_end_marker = yes): "
				   "an incomplete upload?");
	/* Why a count: a copy cut short, over an older file's tail, can still end with the
	 * old end line; its entry count then differs from the one the customer wrote. */
	if (rc == 0 && lp->end_line && lp->end_count && lp->end_n != lp->entries)
		list_parse_problem(lp, lp->end_line, "the end line says %lu entries, the file has %lu: "
				   "an incomplete upload?", lp->end_n, lp->entries);
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

