/*
 * greylist_record.c - the greylisting state machine and its records.
 *
 * Pure functions of (old record, now, settings): the store runs them inside one write
 * transaction (store update), so concurrent Exim processes never lose an attempt, and
 * the unit tests drive them with any clock.
 */
#include <string.h>

#include "greylist_record.h"
#include "record.h"

#define GREYLIST_RECORD_VERSION "1"

/* The name of a reason. */
const char *greylist_reason_name(int reason)
{
	switch (reason) {
	case GREYLIST_NEW: return "new";
	case GREYLIST_EARLY: return "early";
	case GREYLIST_PASSED: return "passed";
	case GREYLIST_AWL: return "awl";
	case GREYLIST_WHITELISTED: return "whitelisted";
	default: return "error";
	}
}

/* Rewrite interval of passing records. */
int64_t greylist_record_renew_step(const struct settings *s)
{
	int64_t step = s->greylist_pass_ttl / 100;

	/* Why not every pass: a write commit costs a disk sync; known triplets are most of
	 * the traffic, and reading them costs a microsecond. */
	if (step > 3600)
		step = 3600;
	return step < 1 ? 1 : step;
}

/* One attempt of a triplet. */
void greylist_record_step(const struct greylist_triplet *old, int64_t now, const struct settings *s,
			  struct greylist_triplet *out, struct greylist_step *st)
{
	memset(st, 0, sizeof *st);
	if (old != NULL && old->passed && now < old->expires) {
		*out = *old;
		st->pass = 1;
		st->reason = GREYLIST_PASSED;
		if (now - old->last >= greylist_record_renew_step(s)) {
			out->last = now;
			out->expires = now + s->greylist_pass_ttl;
			st->write = 1;
		}
		return;
	}
	if (old != NULL && !old->passed && now < old->expires && now >= old->first) {
		*out = *old;
		out->last = now;
		st->write = 1;
		if (now - old->first >= (int64_t)s->greylist_delay) {
			out->passed = 1;
			out->expires = now + s->greylist_pass_ttl;
			st->pass = 1;
			st->reason = GREYLIST_PASSED;
			st->became_passed = 1;
			return;
		}
		out->defers++;
		st->reason = GREYLIST_EARLY;
		st->wait = old->first + s->greylist_delay - now;
		return;
	}
	/* Absent, unreadable, expired, or from the future (a clock set back): a new triplet. */
	memset(out, 0, sizeof *out);
	out->first = out->last = now;
	out->expires = now + s->greylist_retry_window;
	st->write = 1;
	if (s->greylist_delay == 0) {
		/* No delay configured: greylisting only records the triplet. */
		out->passed = 1;
		out->expires = now + s->greylist_pass_ttl;
		st->pass = 1;
		st->reason = GREYLIST_PASSED;
		st->became_passed = 1;
		return;
	}
	out->defers = 1;
	st->reason = GREYLIST_NEW;
	st->wait = s->greylist_delay;
}

/* Whether an auto-whitelist entry lets its network pass. */
int greylist_record_awl_passes(const struct greylist_awl *a, int64_t now, const struct settings *s)
{
	if (now >= a->expires)
		return 0;
	return a->manual || (s->greylist_awl_after > 0 && a->count >= s->greylist_awl_after);
}

/* Encode a triplet record. */
int greylist_record_encode(const struct greylist_triplet *t, char *buf, size_t size)
{
	struct record_writer w;

	record_write_begin(&w, buf, size, GREYLIST_RECORD_VERSION);
	record_write_word(&w, t->passed ? "pass" : "wait");
	record_write_decimal(&w, t->first);
	record_write_decimal(&w, t->last);
	record_write_decimal(&w, t->expires);
	record_write_decimal(&w, t->defers);
	return record_write_end(&w);
}

/* Encode an auto-whitelist record. */
int greylist_record_awl_encode(const struct greylist_awl *a, char *buf, size_t size)
{
	struct record_writer w;

	record_write_begin(&w, buf, size, GREYLIST_RECORD_VERSION);
	record_write_word(&w, a->manual ? "manual" : "auto");
	record_write_decimal(&w, a->count);
	record_write_decimal(&w, a->first);
	record_write_decimal(&w, a->last);
	record_write_decimal(&w, a->expires);
	return record_write_end(&w);
}

/* Decode a triplet record strictly. */
int greylist_record_decode(const char *buf, size_t len, struct greylist_triplet *t)
{
	static const char *const states[] = { "wait", "pass" };
	struct record_reader r;
	int64_t d;
	int passed;

	memset(t, 0, sizeof *t);
	if (record_read_begin(&r, buf, len, GREYLIST_RECORD_VERSION) < 0 ||
	    (passed = record_read_choice(&r, states, 2)) < 0 || record_read_decimal(&r, INT64_MAX, &t->first) < 0 ||
	    record_read_decimal(&r, INT64_MAX, &t->last) < 0 || record_read_decimal(&r, INT64_MAX, &t->expires) < 0 ||
	    record_read_decimal(&r, UINT32_MAX, &d) < 0 || record_read_end(&r) < 0) {
		memset(t, 0, sizeof *t);
		return -1;
	}
	t->passed = passed;
	t->defers = (unsigned)d;
	return 0;
}

/* Decode an auto-whitelist record strictly. */
int greylist_record_awl_decode(const char *buf, size_t len, struct greylist_awl *a)
{
	static const char *const kinds[] = { "auto", "manual" };
	struct record_reader r;
	int64_t c;
	int manual;

	memset(a, 0, sizeof *a);
	if (record_read_begin(&r, buf, len, GREYLIST_RECORD_VERSION) < 0 ||
	    (manual = record_read_choice(&r, kinds, 2)) < 0 || record_read_decimal(&r, UINT32_MAX, &c) < 0 ||
	    record_read_decimal(&r, INT64_MAX, &a->first) < 0 || record_read_decimal(&r, INT64_MAX, &a->last) < 0 ||
	    record_read_decimal(&r, INT64_MAX, &a->expires) < 0 || record_read_end(&r) < 0) {
		memset(a, 0, sizeof *a);
		return -1;
	}
	a->manual = manual;
	a->count = (unsigned)c;
	return 0;
}
