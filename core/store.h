/*
 * store.h - the persistent key/value store family (ops struct + registry).
 *
 * Members: "lmdb" (store_lmdb.c, the embedded default, one file in state_dir) and
 * "redis" (store_redis.c, shared by a pool of gateways). Everything that must outlive one
 * Exim process (one SMTP connection) lives here. The store is a hint: callers that get
 * RG_TEMPFAIL from it run uncached and say so.
 *
 * A member owns its config keys and its record layout on disk or on the server; record
 * owners (verdict.c, greylist_record.c, fcrdns.c) own their key prefixes; nobody else
 * knows either. Callers use the store_* wrappers below, never ops directly: the wrappers
 * carry logging, timing and the fallback from a shared store to the local one.
 *
 * Deadlines are absolute util_monotonic_ms() values (0 = none): a member bounds every
 * operation by min(its own timeout, deadline). Expiries are unix seconds: the end of a
 * record's life, carried by every write, so that a member with native expiry (Redis
 * PEXPIREAT) deletes it itself.
 *
 * Ownership: values are copied into caller buffers before any transaction ends; iterate()
 * hands fn copies, outside any transaction.
 */
#ifndef RG_STORE_H
#define RG_STORE_H

#include "rg.h"

struct settings;

#define STORE_KEY_MAX 511        /* LMDB's default maximum key size */
#define STORE_VAL_MAX 1024

/* What a member can do (store_ops.caps). */
#define STORE_CAP_ORDERED 0x1u   /* iterate visits keys in key order, each once (LMDB) */
#define STORE_CAP_EXPIRY  0x2u   /* expired records vanish by themselves: purge has nothing to do */
#define STORE_CAP_SHARED  0x4u   /* one store for several gateways */
#define STORE_CAP_SCRIPT  0x8u   /* runs a record owner's script on the server (script op) */

struct store;

/* Called per record by iterate(), outside any transaction; return non-zero to stop. */
typedef int store_iter_fn(const char *key, size_t klen, const char *val, size_t vlen, void *arg);
/* Called per record by delete_if(); return 1 to delete the record. Must be quick. */
typedef int store_pred_fn(const char *key, size_t klen, const char *val, size_t vlen, void *arg);

/* What an update callback asks for. */
enum store_update_action {
	STORE_UPDATE_KEEP = 0,  /* leave the record as it is (nothing is written) */
	STORE_UPDATE_PUT = 1,   /* write out[0..*outlen), to live until *expires */
	STORE_UPDATE_DEL = 2    /* delete the record */
};
/*
 * Called by update() with the current value (old = NULL, oldlen = 0 when absent); writes
 * the new value into out (outsize bytes) and its expiry (unix seconds) into *expires, and
 * returns a store_update_action, or -1 to abandon the update (nothing written). It may be
 * called more than once for one update (LMDB after the map grew; Redis when another
 * gateway wrote the key meanwhile): it must compute its answer from old alone and keep its
 * results in arg only for the last call.
 */
typedef int store_update_fn(const char *old, size_t oldlen, char *out, size_t outsize,
			    size_t *outlen, int64_t *expires, void *arg);

/* What info() reports (store status, stats). Unknown numbers are -1. */
struct store_info {
	char member[16];                /* "lmdb", "redis" */
	char where[RG_PATH_MAX];        /* the file, or the server in use */
	char role[32];                  /* "file", "master", ... */
	long long keys;                 /* rcptguard records */
	long long bytes;                /* file size, or the server's used memory */
	long long rtt_us;               /* one round trip to the server */
	int fallback;                   /* 1: the shared store is unreachable; this is the local one */
	char detail[RG_ERRLEN];         /* anything else worth a line */
};

/*
 * A record owner's atomic step over a few of its keys, run on the server in one round trip
 * by a member with STORE_CAP_SCRIPT (Redis: EVALSHA, EVAL when the server's script cache is
 * empty). The body is Lua 5.1; it sees ARGV as given and reaches its keys only through
 * the member's helpers, so that key names, types and expiry stay the member's:
 *   rg_get(i)             the value of the i-th key (1-based), or nil (absent, another type)
 *   rg_put(i, v, expires) write it, to live until expires (unix seconds)
 *   rg_del(i)             delete it
 * It returns an array of at most STORE_SCRIPT_REPLY strings. The owner keeps the C
 * definition that members without scripts run (through update) beside it, and a test
 * that proves both decide alike.
 */
#define STORE_SCRIPT_KEYS 4
#define STORE_SCRIPT_REPLY 6
struct store_script {
	const char *name;               /* for logs */
	const char *lua;                /* the body */
};
struct store_script_reply {
	size_t n;
	size_t len[STORE_SCRIPT_REPLY];
	char v[STORE_SCRIPT_REPLY][STORE_VAL_MAX + 1];  /* NUL-terminated */
};

struct store_ops {
	const char *name;
	unsigned caps;                  /* STORE_CAP_* */
	/* Open (creating if needed) the store the settings name. RG_FOUND, RG_TEMPFAIL,
	 * RG_CONFIG (a setting is wrong: err names it). */
	int (*open)(const struct settings *s, struct store **out, char *err, size_t errlen);
	/* RG_FOUND with the value copied to val (NUL-terminated), RG_NOTFOUND, RG_TEMPFAIL.
	 * A value larger than valsize is RG_TEMPFAIL with err saying so, never a miss. */
	int (*get)(struct store *s, const char *key, char *val, size_t valsize, size_t *vlen,
		   int64_t deadline, char *err, size_t errlen);
	int (*put)(struct store *s, const char *key, const char *val, size_t vlen, int64_t expires,
		   int64_t deadline, char *err, size_t errlen);
	/* RG_FOUND (deleted) or RG_NOTFOUND (was absent). */
	int (*del)(struct store *s, const char *key, int64_t deadline, char *err, size_t errlen);
	/* Visit records whose key starts with prefix. Without STORE_CAP_ORDERED there is no
	 * order and a key may come twice (callers de-duplicate); a record written meanwhile
	 * may or may not be seen. fn runs outside any transaction and may be slow. */
	int (*iterate)(struct store *s, const char *prefix, store_iter_fn *fn, void *arg,
		       int64_t deadline, char *err, size_t errlen);
	/* Delete records with prefix for which pred says 1, in batches of bounded size, so
	 * that Exim processes keep writing meanwhile. */
	int (*delete_if)(struct store *s, const char *prefix, store_pred_fn *pred, void *arg,
			 size_t *deleted, int64_t deadline, char *err, size_t errlen);
	/* Atomic read-modify-write of key (one LMDB write transaction; WATCH/MULTI/EXEC or a
	 * script on Redis), so that concurrent processes and gateways never lose an update.
	 * RG_FOUND (done, whatever fn chose), RG_CONFIG (fn returned -1), RG_TEMPFAIL. */
	int (*update)(struct store *s, const char *key, store_update_fn *fn, void *arg,
		      int64_t deadline, char *err, size_t errlen);
	/* Fill out (member, where, role, keys, bytes, rtt). RG_FOUND or RG_TEMPFAIL. */
	int (*info)(struct store *s, struct store_info *out, char *err, size_t errlen);
	/* Walk the whole store and check its structure. RG_FOUND sound, RG_NOTFOUND damaged
	 * (err says where), RG_TEMPFAIL could not tell. NULL when the member cannot tell. */
	int (*check)(struct store *s, char *err, size_t errlen);
	void (*close)(struct store *s);
	/* 1 when the last RG_TEMPFAIL came from a server that did not answer (down, frozen,
	 * gone), not from the data: store.c then falls back (store_fallback). NULL: never. */
	int (*unreachable)(struct store *s);
	/* Run sc over keys (record keys, at most STORE_SCRIPT_KEYS) with args, atomically.
	 * RG_FOUND with *out, RG_TEMPFAIL. NULL without STORE_CAP_SCRIPT. */
	int (*script)(struct store *s, const struct store_script *sc, size_t nkeys, const char *const *keys,
		      size_t nargs, const char *const *args, struct store_script_reply *out, int64_t deadline,
		      char *err, size_t errlen);
	/* Load in this process what a later open needs, connecting nothing (run in Exim's
	 * daemon before it forks: libraries are fork-safe, connections are not). NULL: nothing. */
	int (*preload)(const struct settings *s, char *err, size_t errlen);
};

/* NULL-terminated registry of store members. */
extern const struct store_ops *const store_registry[];

/* The member named name, or NULL. */
const struct store_ops *store_find(const char *name);

/*
 * The store of this process for the settings (key "store", and state_dir or the member's
 * own keys), opened lazily on first use and reused; a handle opened by another pid (before
 * a fork) is abandoned, never used. Returns NULL with err set when no store can be had
 * (callers then run uncached). With store_fallback = local, a shared store that cannot
 * be reached is replaced by the local LMDB store in state_dir for a hold-down period.
 */
struct store_handle {
	const struct store_ops *ops;
	struct store *s;
};
const struct store_handle *store_process(const struct settings *s, char *err, size_t errlen);

/* Close the process's store (CLI exit, tests). */
void store_process_close(void);

/* The wrappers every caller uses: the member's op, plus logging, timing and fallback. */
int store_get(const struct store_handle *h, const char *key, char *val, size_t valsize, size_t *vlen,
	      int64_t deadline, char *err, size_t errlen);
int store_put(const struct store_handle *h, const char *key, const char *val, size_t vlen,
	      int64_t expires, int64_t deadline, char *err, size_t errlen);
int store_del(const struct store_handle *h, const char *key, int64_t deadline, char *err, size_t errlen);
int store_iterate(const struct store_handle *h, const char *prefix, store_iter_fn *fn, void *arg,
		  int64_t deadline, char *err, size_t errlen);
int store_delete_if(const struct store_handle *h, const char *prefix, store_pred_fn *pred, void *arg,
		    size_t *deleted, int64_t deadline, char *err, size_t errlen);
int store_update(const struct store_handle *h, const char *key, store_update_fn *fn, void *arg,
		 int64_t deadline, char *err, size_t errlen);
int store_info(const struct store_handle *h, struct store_info *out, char *err, size_t errlen);
int store_check(const struct store_handle *h, char *err, size_t errlen);
/* script: the member's, timed. RG_FOUND ran, RG_NOTFOUND this store runs no scripts (the
 * caller takes its C path: also after a switch to the local store), RG_TEMPFAIL. */
int store_script(const struct store_handle *h, const struct store_script *sc, size_t nkeys, const char *const *keys,
		 size_t nargs, const char *const *args, struct store_script_reply *out, int64_t deadline,
		 char *err, size_t errlen);
/* The store member the settings name: its preload (Exim's daemon, before forking). */
int store_preload(const struct settings *s, char *err, size_t errlen);

/* iterate() in key order, each key once, whatever the member: records are collected,
 * sorted and de-duplicated first when the member is not STORE_CAP_ORDERED (a member that
 * is, streams). For listings (the CLI, the admin API). */
int store_iterate_sorted(const struct store_handle *h, const char *prefix, store_iter_fn *fn, void *arg,
			 int64_t deadline, char *err, size_t errlen);

#endif
