/*
 * record.h - the one field reader and writer of the store's record values: verdicts
 * (v:), catch-all results (c:), greylist triplets (g:) and auto-whitelist entries (a:),
 * FCrDNS answers (f:). Each codec (verdict.c, greylist_record.c, fcrdns.c) says which
 * fields, in which order; this module says how a field is written and read.
 *
 * A record is printable ASCII: its version, then fields each after one space; the last
 * may be a free text (spaces allowed, maybe empty) running to the end. Reading is strict
 * and bounded, because a store is shared and may be damaged: another version, a byte
 * outside 0x20..0x7e, an empty field, a field longer than its buffer, a decimal that is
 * not digits only (util_decimal) or too large, a word not among the choices, a
 * field missing or left over - the record does not read (-1), and the caller treats it
 * as a miss. Writing never cuts: a value that does not fit, or a field that would not
 * read back (empty, a blank or control byte in it, a negative number), fails the record.
 */
#ifndef RG_RECORD_H
#define RG_RECORD_H

#include "rg.h"

#define RECORD_WORD_MAX 24            /* bytes of a decimal or choice field, with its NUL */

struct record_reader {
	const char *p, *end;
	int dangling;                 /* the last field was followed by a blank and nothing */
};

/* Start reading buf[0..len): every byte printable, the first field version. 0, or -1. */
int record_read_begin(struct record_reader *r, const char *buf, size_t len, const char *version);

/* The next field into out (at most size-1 bytes, not empty). 0, or -1. */
int record_read_word(struct record_reader *r, char *out, size_t size);

/* The next field as the index of one of words[0..n). The index, or -1. */
int record_read_choice(struct record_reader *r, const char *const *words, int n);

/* The next field as a decimal 0..max (util_decimal: digits only). 0, or -1. */
int record_read_decimal(struct record_reader *r, int64_t max, int64_t *out);

/* The rest of the record (blanks kept; "" when nothing is left) into out, at most
 * size-1 bytes. 0, or -1. */
int record_read_rest(struct record_reader *r, char *out, size_t size);

/* Whether the record is fully read: 0 when nothing (not even a blank) is left, else -1. */
int record_read_end(const struct record_reader *r);

struct record_writer {
	char *buf;
	size_t size, n;
	int bad;                      /* sticky: a field did not fit or would not read back */
};

/* Start a record of version in buf (size bytes). */
void record_write_begin(struct record_writer *w, char *buf, size_t size, const char *version);

/* Append a field: non-empty, no blank, printable. */
void record_write_word(struct record_writer *w, const char *word);

/* Append a decimal field (v >= 0). */
void record_write_decimal(struct record_writer *w, int64_t v);

/* Append the free text that ends the record (printable, blanks allowed, may be empty). */
void record_write_rest(struct record_writer *w, const char *text);

/* 0 with the record in buf, or -1 (buf then holds ""). */
int record_write_end(struct record_writer *w);

#endif
