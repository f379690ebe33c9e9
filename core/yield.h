/*
 * yield.h - the answer line every face prints: "result=pass source=cache message=\"...\"".
 *
 * Exim's ${extract{key}{...}} reads it; values with spaces are double-quoted, and values
 * are sanitised so that no quote, backslash or control byte can break the line.
 */
#ifndef RG_YIELD_H
#define RG_YIELD_H

#include "rg.h"

#define YIELD_MAX 1024
#define YIELD_KEY_MAX 64

struct yield {
	char line[YIELD_MAX];
	size_t len;
	int truncated;
};

/* Start a line with result=VALUE. */
void yield_init(struct yield *y, const char *result);

/* Append key=value (quoted when needed); an empty or NULL value is skipped. */
void yield_add(struct yield *y, const char *key, const char *value);

/* Append key=N. */
void yield_add_int(struct yield *y, const char *key, long long n);

/* Value of key in a yield line (for the lookup face, tests); 0 found, -1 not. */
int yield_get(const char *line, const char *key, char *out, size_t size);

/* The one yield tokenizer: the next key=value pair at *pos, quoted values unescaped;
 * 1 read (*pos moves past it), 0 at the end, -1 a key or value too long for its buffer.
 * Words without "=" are skipped. val NULL: the value is skipped, not copied. */
int yield_next(const char **pos, char *key, size_t keysize, char *val, size_t valsize);

/* Split q in place into up to n blank-separated words (the lookup face's query); a word
 * may be "double quoted" with \" and \\ escapes, as in a yield value. *rest points at
 * what follows them. Returns the number of words, or -1 on an unterminated quote. */
int yield_words(char *q, char **w, int n, char **rest);

#endif
