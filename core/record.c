/*
 * record.c - the one field reader and writer of the store's record values (record.h).
 *
 * Why one: four codecs each had their own splitting (a field reader, a word splitter,
 * sscanf with a re-encode to refuse what sscanf let through), each with its own idea of
 * a blank, a sign or a long field. A damaged or foreign value must be a miss, the same
 * way for every record kind.
 */
#include <stdio.h>
#include <string.h>

#include "record.h"

/* Start reading: printable bytes only, then the version field. */
RG_HOT int record_read_begin(struct record_reader *r, const char *buf, size_t len, const char *version)
{
	char ver[RECORD_WORD_MAX];
	size_t i;

	r->p = buf;
	r->end = buf + len;
	r->dangling = 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] > 0x7e)
			return -1;
	if (record_read_word(r, ver, sizeof ver) < 0 || strcmp(ver, version) != 0)
		return -1;
	return 0;
}

/* The next field, up to a blank or the end; the one blank after it is consumed. */
RG_HOT int record_read_word(struct record_reader *r, char *out, size_t size)
{
	size_t n = 0;

	while (r->p < r->end && *r->p != ' ') {
		if (n + 1 >= size)
			return -1;
		out[n++] = *r->p++;
	}
	if (size)
		out[n] = '\0';
	if (n == 0)
		return -1;
	r->dangling = 0;
	if (r->p < r->end) {
		r->p++;
		r->dangling = r->p == r->end;
	}
	return 0;
}

/* The next field as one of words. */
RG_HOT int record_read_choice(struct record_reader *r, const char *const *words, int n)
{
	char w[RECORD_WORD_MAX];
	int i;

	if (record_read_word(r, w, sizeof w) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (strcmp(w, words[i]) == 0)
			return i;
	return -1;
}

/* The next field as a decimal by util_decimal's rule (digits only, at most max; leading
 * zeros are read, as the Redis greylist script reads them too: greylist_script.c). */
RG_HOT int record_read_decimal(struct record_reader *r, int64_t max, int64_t *out)
{
	char w[RECORD_WORD_MAX];

	if (record_read_word(r, w, sizeof w) < 0)
		return -1;
	return util_decimal(w, max, out);
}

/* The rest of the record, as it is. */
RG_HOT int record_read_rest(struct record_reader *r, char *out, size_t size)
{
	size_t n = (size_t)(r->end - r->p);

	if (n >= size)
		return -1;
	memcpy(out, r->p, n);
	out[n] = '\0';
	r->p = r->end;
	r->dangling = 0;
	return 0;
}

/* Nothing left, not even the blank after the last field. */
RG_HOT int record_read_end(const struct record_reader *r)
{
	return r->p == r->end && !r->dangling ? 0 : -1;
}

/* Append len bytes (after a blank unless first), or mark the record bad. */
static void record_put(struct record_writer *w, const char *s, size_t len, int first)
{
	size_t need = len + (first ? 0 : 1);

	if (w->bad || w->size - w->n <= need) {
		w->bad = 1;
		return;
	}
	if (!first)
		w->buf[w->n++] = ' ';
	memcpy(w->buf + w->n, s, len);
	w->n += len;
	w->buf[w->n] = '\0';
}

/* Whether s[0..len) is a field that reads back: printable, no blank (unless free text). */
static int record_fits(const char *s, size_t len, int blanks)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < (blanks ? 0x20 : 0x21) || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

/* Start a record: the version field. */
void record_write_begin(struct record_writer *w, char *buf, size_t size, const char *version)
{
	w->buf = buf;
	w->size = size;
	w->n = 0;
	w->bad = size == 0;
	if (!w->bad)
		buf[0] = '\0';
	record_write_word(w, version);
}

/* Append a field. */
void record_write_word(struct record_writer *w, const char *word)
{
	size_t len = strlen(word);

	if (len == 0 || !record_fits(word, len, 0))
		w->bad = 1;
	record_put(w, word, len, w->n == 0);
}

/* Append a decimal field. */
void record_write_decimal(struct record_writer *w, int64_t v)
{
	char d[RECORD_WORD_MAX];

	if (v < 0) {
		w->bad = 1;
		return;
	}
	snprintf(d, sizeof d, "%lld", (long long)v);
	record_write_word(w, d);
}

/* Append the free text that ends the record. */
void record_write_rest(struct record_writer *w, const char *text)
{
	size_t len = strlen(text);

	if (!record_fits(text, len, 1))
		w->bad = 1;
	record_put(w, text, len, 0);
}

/* Finish: 0, or -1 with buf emptied. */
int record_write_end(struct record_writer *w)
{
	if (w->bad) {
		if (w->size)
			w->buf[0] = '\0';
		return -1;
	}
	return 0;
}
