/*
 * greylist_record.h - greylisting records and the state machine of one triplet.
 *
 * Records are text with a version first, decoded strictly: a record that does not parse
 * is treated as absent (it is then overwritten), never as a decision.
 *   g:<triplet>  ->  "1 <wait|pass> <first> <last> <expires> <defers>"
 *       wait: greylisted since <first>; a new triplet again after <expires> (first + window)
 *       pass: passes until <expires> (last pass + pass_ttl); <last> = last renewal
 *   a:<network>  ->  "1 <auto|manual> <count> <first> <last> <expires>"
 *       auto: <count> triplets of the network passed; it passes when count >= awl_after
 *       manual: released by the operator (rcptguardctl greylist allow); always passes
 */
#ifndef RG_GREYLIST_RECORD_H
#define RG_GREYLIST_RECORD_H

#include "config.h"

enum greylist_reason {
	GREYLIST_NEW = 0,       /* first sight (or after the window): defer */
	GREYLIST_EARLY,         /* retried before the delay: defer */
	GREYLIST_PASSED,        /* retried after the delay, or passed before: pass */
	GREYLIST_AWL,           /* the client network is auto-whitelisted (or released): pass */
	GREYLIST_WHITELISTED,   /* greylist_whitelist: pass */
	GREYLIST_ERROR          /* could not decide (store, whitelist file): greylist_on_error */
};

struct greylist_triplet {
	int passed;
	int64_t first, last, expires;
	unsigned defers;
};

struct greylist_awl {
	int manual;
	unsigned count;
	int64_t first, last, expires;
};

/* What one attempt of a triplet leads to. */
struct greylist_step {
	int pass;               /* 1 pass, 0 defer */
	int reason;             /* GREYLIST_NEW, _EARLY or _PASSED */
	int64_t wait;           /* seconds until a retry may pass (defer) */
	int became_passed;      /* this attempt ended the greylisting of the triplet */
	int write;              /* the record changed and must be written */
};

/* The name of a reason, as in the yield ("new", "early", ...). */
const char *greylist_reason_name(int reason);

/* How often a passing record is rewritten: the expiry runs from the last pass to within
 * this many seconds (min(1h, pass_ttl / 100), at least 1 s). */
int64_t greylist_record_renew_step(const struct settings *s);

/* One attempt at time now: old (NULL when absent or unreadable) -> *out and *st. */
void greylist_record_step(const struct greylist_triplet *old, int64_t now, const struct settings *s,
			  struct greylist_triplet *out, struct greylist_step *st);

/* Whether an auto-whitelist entry lets its network pass at time now. */
int greylist_record_awl_passes(const struct greylist_awl *a, int64_t now, const struct settings *s);

/* Encode; -1 when it does not fit. Decode strictly; 0 ok, -1 malformed. */
int greylist_record_encode(const struct greylist_triplet *t, char *buf, size_t size);
int greylist_record_decode(const char *buf, size_t len, struct greylist_triplet *t);
int greylist_record_awl_encode(const struct greylist_awl *a, char *buf, size_t size);
int greylist_record_awl_decode(const char *buf, size_t len, struct greylist_awl *a);

#endif
