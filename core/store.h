/*
 * store.h - the persistent key/value store family (ops struct + registry).
 *
 * Members: "lmdb" (store_lmdb.c). A networked store for several gateways can join the
 * registry later without touching callers. Everything that must outlive one Exim
 * process (one SMTP connection) lives here. The store is a hint: callers that get
 * RG_TEMPFAIL from it run uncached and say so.
 *
 * Ownership: values are copied into caller buffers before the read transaction ends.
 */
#ifndef RG_STORE_H
#define RG_STORE_H

#include "rg.h"

#define STORE_KEY_MAX 511        /* LMDB's default maximum key size */
#define STORE_VAL_MAX 1024

struct store;

/* Called per record by iterate(); return non-zero to stop. */
typedef int store_iter_fn(const char *key, size_t klen, const char *val, size_t vlen, void *arg);
/* Called per record by delete_if(); return 1 to delete the record. */
typedef int store_pred_fn(const char *key, size_t klen, const char *val, size_t vlen, void *arg);

/* What an update callback asks for. */
enum store_update_action {
	STORE_UPDATE_KEEP = 0,  /* leave the record as it is (nothing is written) */
	STORE_UPDATE_PUT = 1,   /* write out[0..*outlen) */
	STORE_UPDATE_DEL = 2    /* delete the record */
};
/*
 * Called by update() inside the write transaction with the current value (old = NULL,
 * oldlen = 0 when absent); writes the new value into out (outsize bytes) and returns a
 * store_update_action, or -1 to abandon the update (nothing written). It may be called
 * more than once for one update (after the map has grown): it must compute its answer
 * from old alone and keep its results in arg only for the last call.
 */
typedef int store_update_fn(const char *old, size_t oldlen, char *out, size_t outsize,
			    size_t *outlen, void *arg);

struct store_ops {
	const char *name;
	/* Open (creating if needed) the store under state_dir. */
	int (*open)(const char *state_dir, unsigned map_mib, struct store **out, char *err, size_t errlen);
	/* RG_FOUND with the value copied to val (NUL-terminated), RG_NOTFOUND, RG_TEMPFAIL. */
	int (*get)(struct store *s, const char *key, char *val, size_t valsize, size_t *vlen,
		   char *err, size_t errlen);
	int (*put)(struct store *s, const char *key, const char *val, size_t vlen, char *err, size_t errlen);
	/* RG_FOUND (deleted) or RG_NOTFOUND (was absent). */
	int (*del)(struct store *s, const char *key, char *err, size_t errlen);
	/* Visit records whose key starts with prefix, in key order, in one read transaction. */
	int (*iterate)(struct store *s, const char *prefix, store_iter_fn *fn, void *arg,
		       char *err, size_t errlen);
	/* Delete records with prefix for which pred says 1, in write transactions of bounded size. */
	int (*delete_if)(struct store *s, const char *prefix, store_pred_fn *pred, void *arg,
			 size_t *deleted, char *err, size_t errlen);
	/* Read-modify-write of key in ONE write transaction, so that concurrent processes
	 * never lose an update: fn sees the committed value and decides the new one.
	 * RG_FOUND (done, whatever fn chose), RG_CONFIG (fn returned -1), RG_TEMPFAIL. */
	int (*update)(struct store *s, const char *key, store_update_fn *fn, void *arg,
		      char *err, size_t errlen);
	void (*close)(struct store *s);
};

/* NULL-terminated registry of store members. */
extern const struct store_ops *const store_registry[];

/*
 * The store of this process for state_dir, opened lazily on first use and reused; a handle
 * opened by another pid (before a fork) is abandoned, never used. Returns NULL with err
 * set when it cannot be opened (callers then run uncached).
 */
struct store_handle {
	const struct store_ops *ops;
	struct store *s;
};
const struct store_handle *store_process(const char *state_dir, unsigned map_mib,
					 char *err, size_t errlen);

/* Close the process's store (CLI exit, tests). */
void store_process_close(void);

#endif
