/*
 * greylist_script.h - the greylisting decision as one atomic step on a shared store's
 * server (the store's script op: a Lua script by EVALSHA on Redis), in one round trip.
 *
 * The C definition (greylist_record.c: the state machine and codecs; greylist.c: the
 * order auto-whitelist, triplet, auto-whitelist count) stays the one members without
 * scripts run; the script mirrors it, and tests/unit/test_greylist_store.c proves that
 * both give the same answers and write the same records for the same sequences.
 */
#ifndef RG_GREYLIST_SCRIPT_H
#define RG_GREYLIST_SCRIPT_H

#include "config.h"
#include "store.h"

/* What one decision came to. */
struct greylist_script_result {
	int pass;               /* 1 pass, 0 defer */
	int reason;             /* GREYLIST_AWL, _NEW, _EARLY or _PASSED */
	int64_t wait;           /* seconds until a retry may pass (defer) */
	char triplet[STORE_VAL_MAX + 1];        /* the triplet's record after it ("" with awl) */
	char awl[STORE_VAL_MAX + 1];            /* the network's record, when read or written */
};

/* The script, for the store's script op (and the tests). */
extern const struct store_script greylist_script;

/*
 * The decision for the triplet key tkey of the network whose auto-whitelist key is akey,
 * at time now (the gateway's clock), under s; dry: change nothing. RG_FOUND decided (*res),
 * RG_NOTFOUND this store runs no scripts (take the C path), RG_TEMPFAIL (err says why).
 */
int greylist_script_decide(const struct store_handle *h, const char *akey, const char *tkey, int64_t now,
			   const struct settings *s, int dry, struct greylist_script_result *res,
			   char *err, size_t errlen);

#endif
