/*
 * list_parse.h - reading a static list file: lines, comments, addresses, the domains the
 * file may hold (internal to list.c; see list.h for the format).
 *
 * Ownership: a struct list_parse owns its keys and domain cache until list_parse_free().
 */
#ifndef RG_LIST_PARSE_H
#define RG_LIST_PARSE_H

#include <stdint.h>
#include <stdio.h>

#include "list.h"

#define LIST_LINE_MAX 1024

struct list_dom {                       /* a domain already judged, for the file's lines */
	char *name;
	int allowed;
};

struct list_parse {
	const struct list_ctx *x;
	const char *path;
	int any_domain;                 /* no domain restriction (list check of a loose file) */
	list_problem_fn *fn;
	void *arg;
	unsigned max;                   /* problems passed to fn; 0: stop at the first */
	unsigned long problems;
	char first[RG_ERRLEN];          /* the first problem */
	char first_domain[RG_DOMAIN_MAX + 1]; /* its domain, when it is "not configured" */
	char *buf;                      /* keys, NUL-terminated, back to back */
	size_t used, cap;
	size_t *off, n, ncap;
	struct list_dom *dom;
	size_t ndom, domcap;
	struct settings *tmp;
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

/* Whether domain's settings name lp->path: 1 yes, 0 no, -1 out of memory. */
int list_parse_allowed(struct list_parse *lp, const char *domain);

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
