/*
 * list_parse.h - reading a static list file: lines, comments, addresses, bounds, and the
 * end marker (lower tier: it knows nothing of the config; which domains a file may hold
 * is the caller's callback). See list.h for the format.
 *
 * Ownership: a struct list_parse owns its keys until list_parse_free().
 */
#ifndef RG_LIST_PARSE_H
#define RG_LIST_PARSE_H

#include <stdint.h>
#include <stdio.h>

#include "rg.h"

#define LIST_LINE_MAX 1024
#define LIST_END_MARKER "# end"     /* "# end" or, recommended, "# end N": N entry lines */

/* Whether the file may hold addresses of domain: 1 yes, 0 no, -1 out of memory. */
typedef int list_parse_allowed_fn(void *arg, const char *domain);

/* One problem: its line (0: the whole file), what is wrong, and "file:line: what". */
typedef void list_parse_problem_fn(void *arg, unsigned long line, const char *what, const char *msg);

struct list_parse {
	const char *path;               /* named in problems */
	list_parse_allowed_fn *allowed; /* NULL: any domain */
	void *allowed_arg;
	list_parse_problem_fn *fn;      /* may be NULL */
	void *arg;
	unsigned max;                   /* problems passed to fn; 0: stop at the first */
	int end_marker;                 /* the last non-blank line must be an end marker */
	uint64_t max_bytes;             /* 0: unbounded */
	unsigned long max_lines;        /* 0: unbounded */
	unsigned long problems;
	char first[RG_ERRLEN];          /* the first problem */
	char first_domain[RG_DOMAIN_MAX + 1]; /* its domain, when it is "not configured" */
	char *buf;                      /* keys, NUL-terminated, back to back */
	size_t used, cap;
	size_t *off, n, ncap;
	unsigned long entries;          /* entry lines read (not blank, not a comment) */
	unsigned long end_line;         /* the last end marker's line (0: none) */
	int end_count;                  /* it carries a count: "# end N" */
	unsigned long end_n;            /* that count */
};

/* FNV-1a 64 of a string (index file names, the domain cache). */
static inline uint64_t list_fnv1a(const char *str)
{
	uint64_t h = 1469598103934665603ULL;
	const unsigned char *p;

	for (p = (const unsigned char *)str; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

/* Record a problem at line ("file:line: what"); the first is kept in lp->first. */
void list_parse_problem(struct list_parse *lp, unsigned long line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Read every line of f (keys kept while no problem was found); 0, or -1 with err. */
int list_parse_stream(struct list_parse *lp, FILE *f, char *err, size_t errlen);

/* qsort/bsearch comparison of key pointers. */
int list_parse_cmp(const void *a, const void *b);

/* The keys sorted, duplicates dropped, *n their number (caller frees the array; the keys
 * stay owned by lp). NULL when out of memory. */
char **list_parse_sorted(struct list_parse *lp, size_t *n);

/* Free lp's memory. */
void list_parse_free(struct list_parse *lp);

#endif
