/*
 * verdict.c - encoding of cached verdicts and catch-all records.
 *
 * Text with a version first, written and read field by field through record.c, decoded
 * strictly: anything that does not parse (another version, a torn or foreign value) is a
 * miss, so a bad record can never decide.
 */
#include <string.h>

#include "record.h"
#include "verdict.h"

#define VERDICT_VERSION "1"
#define VERDICT_CATCHALL_VERSION "2"   /* 2: the known-address field */

/* Store key of an address verdict. */
RG_HOT int verdict_key_address(char *key, size_t size, const char *addrkey)
{
	return util_snprintf(key, size, "v:%s", addrkey);
}

/* Store key of a domain's catch-all record. */
int verdict_key_catchall(char *key, size_t size, const char *domain)
{
	return util_snprintf(key, size, "c:%s", domain);
}

/* Static word for a c: record's known field. */
const char *verdict_known_name(int known)
{
	return known > 0 ? "accepted" : known == 0 ? "refused" : "unchecked";
}

/* Encode v into buf. */
int verdict_encode(const struct verdict *v, int catchall, char *buf, size_t size)
{
	struct record_writer w;

	record_write_begin(&w, buf, size, catchall ? VERDICT_CATCHALL_VERSION : VERDICT_VERSION);
	record_write_word(&w, catchall ? (v->pass ? "yes" : "no") : (v->pass ? "pass" : "fail"));
	record_write_word(&w, v->source);
	record_write_decimal(&w, v->created);
	record_write_decimal(&w, v->expires);
	if (catchall)
		record_write_word(&w, verdict_known_name(v->known));
	record_write_rest(&w, v->text);
	return record_write_end(&w);
}

/* Decode strictly; -1 means "treat as a miss". */
RG_HOT int verdict_decode(const char *buf, size_t len, int catchall, struct verdict *v)
{
	static const char *const verdicts[] = { "fail", "pass" }, *const catchalls[] = { "no", "yes" };
	static const char *const known[] = { "refused", "accepted", "unchecked" };
	struct record_reader r;
	int pass, k = 2;

	memset(v, 0, sizeof *v);
	if (record_read_begin(&r, buf, len, catchall ? VERDICT_CATCHALL_VERSION : VERDICT_VERSION) < 0 ||
	    (pass = record_read_choice(&r, catchall ? catchalls : verdicts, 2)) < 0 ||
	    record_read_word(&r, v->source, sizeof v->source) < 0 ||
	    record_read_decimal(&r, INT64_MAX, &v->created) < 0 || record_read_decimal(&r, INT64_MAX, &v->expires) < 0 ||
	    (catchall && (k = record_read_choice(&r, known, 3)) < 0) ||
	    record_read_rest(&r, v->text, sizeof v->text) < 0 || v->expires < v->created) {
		memset(v, 0, sizeof *v);
		return -1;
	}
	v->pass = pass;
	v->known = k == 2 ? -1 : k;
	return 0;
}

/* The end of a record's life in the store. */
int64_t verdict_life(const struct verdict *v, int catchall, unsigned stale_ttl)
{
	int64_t stale = v->created + (int64_t)stale_ttl;

	if (catchall || !v->pass || stale < v->expires)
		return v->expires;
	return stale;
}
