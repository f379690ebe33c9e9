/*
 * list.h - static recipient lists: a file of valid addresses per domain, uploaded by the
 * customer (scp), compiled into a tinycdb index under state_dir/lists/ that every Exim
 * process maps and asks with one hash lookup.
 *
 * A version of the file takes effect only when it is ready and valid: ready = its
 * metadata changed after its last data write (renamed into place, or its times set by
 * scp -p / touch), or it has not been written for list_settle; valid = a regular file of
 * at most list_max_size MiB and list_max_lines lines, every line an address (or blank,
 * or a '#' comment) of a domain whose settings name this file, at least one address, and
 * with list_end_marker = yes a last line "# end" or "# end N" (a last line "# end N", with
 * N the number of entry lines, is checked whenever it is present). A version that drops more than
 * list_max_shrink percent of the entries in force is held until list_accept(). Until
 * then, and whenever a version is refused, the index in force stays in force.
 *
 * Where it is compiled: never inside an SMTP RCPT. A lookup from Exim (x->detach) answers
 * from the index in force and leaves the compile to a detached child it does not wait
 * for; the CLI and the web API compile in their own process. Run as root, the source is
 * opened with the privileges of state_dir's owner (Exim's user): root never reads for a
 * customer what Exim could not.
 *
 * Files, for a list file PATH (H = 16 hex digits of a hash of PATH):
 *   lists/H.cdb        the index in force (keys: lower-cased addresses; one metadata record)
 *   lists/H.held.cdb   a compiled version held by the shrink guard
 *   lists/H.state      the source version that is refused or held, and why
 *   lists/H.lock       flock: one compiler at a time; the others never wait
 *
 * Ownership: callers own every struct they pass; the module keeps per-process mappings
 * (released by list_reset(), abandoned after fork()).
 */
#ifndef RG_LIST_H
#define RG_LIST_H

#include "config.h"

/* Identity of one version of a source file. */
struct list_version {
	uint64_t dev, ino;
	int64_t size, mtime_ns, ctime_ns;
};

/* The metadata record of a compiled index. */
struct list_meta {
	char path[RG_PATH_MAX];         /* the source file */
	struct list_version src;        /* the version it was compiled from */
	uint64_t entries;               /* distinct addresses */
	int64_t compiled;               /* unix time it was compiled (came into force) */
};

enum list_fate { LIST_REFUSED = 1, LIST_HELD = 2 };

/* A source version that is not in force, and why (lists/H.state). */
struct list_state {
	int fate;                       /* LIST_REFUSED or LIST_HELD */
	struct list_version src;
	int64_t at;                     /* when it was judged */
	uint64_t entries;               /* held: distinct addresses of the held version */
	uint64_t dropped;               /* held: entries in force that it drops */
	unsigned max_shrink;            /* held: the list_max_shrink it was judged with */
	char domain[RG_DOMAIN_MAX + 1]; /* refused for this domain (not configured for the file) */
	char reason[RG_ERRLEN];         /* "file:line: problem" or the shrink figures */
};

/* Who asks: the loaded config (which domains a file serves; may be NULL), the asking
 * domain's effective settings (list, state_dir, list_settle, list_max_shrink) and that
 * domain ("" from the CLI). */
struct list_ctx {
	const struct config *c;
	const struct settings *s;
	const char *domain;
	int detach;                     /* on the SMTP path: compile in a detached child */
};

/* What list_status() reports about s->list. */
enum list_src_state {
	LIST_SRC_IN_FORCE,   /* the file is the version in force */
	LIST_SRC_SETTLING,   /* written in place less than list_settle ago */
	LIST_SRC_PENDING,    /* ready, not compiled yet (another process is compiling) */
	LIST_SRC_REFUSED,
	LIST_SRC_HELD,
	LIST_SRC_MISSING     /* cannot stat the file */
};

struct list_status {
	int in_force;                   /* an index is in force: meta is valid */
	struct list_meta meta;
	int src_state;                  /* enum list_src_state */
	struct list_version src;        /* when the file exists */
	int64_t ready_at;               /* settling: unix time it becomes ready */
	struct list_state state;        /* refused / held */
	char detail[RG_ERRLEN];         /* missing: the stat error; pending: why it was not compiled */
	uint64_t entry_lines;           /* list_upload: the entry lines of the upload ("# end N") */
};

/* One problem of a file being checked ("file:line: problem"). */
typedef void list_problem_fn(void *arg, const char *problem);

/* One problem of an uploaded list: its line (0: the whole file) and what is wrong. */
typedef void list_line_problem_fn(void *arg, unsigned line, const char *message);

/* Readiness of a version at unix time now: its metadata changed after its last data write,
 * or it has not been written for settle seconds. */
int list_ready(const struct list_version *v, int64_t now, unsigned settle);

/* Validate path as a list for x (the domains whose settings name path, and x->domain when
 * x->s->list.path is path; with x->s NULL or no domain naming path, any domain). fn gets up to
 * max_problems problems. RG_FOUND valid (*entries = distinct addresses, *entry_lines = the
 * N of its end line "# end N"), RG_NOTFOUND refused, RG_TEMPFAIL unreadable (reason in err). */
int list_check(const struct list_ctx *x, const char *path, list_problem_fn *fn, void *arg,
	       unsigned max_problems, uint64_t *entries, uint64_t *entry_lines, char *err, size_t errlen);

/* Is key (a lower-cased address) in x->s->list.path? Compiles a changed, ready file first when
 * no other process is doing it. RG_FOUND, RG_NOTFOUND, RG_TEMPFAIL (no valid version in
 * force, or the index is unreadable; reason in err), RG_CONFIG (no list configured). */
int list_lookup(const struct list_ctx *x, const char *key, char *err, size_t errlen);

/* Bring x->s->list.path up to date as a lookup would, then describe it. RG_FOUND, or RG_CONFIG
 * when the domain has no list. */
int list_status(const struct list_ctx *x, struct list_status *out, char *err, size_t errlen);

/* Put the held version of x->s->list.path in force (it must still be the file's content).
 * RG_FOUND with what was done in msg, RG_NOTFOUND when nothing is held, RG_TEMPFAIL. */
int list_accept(const struct list_ctx *x, char *msg, size_t msglen, char *err, size_t errlen);

/* An uploaded list written beside its file, not yet in place (list_upload_prepare). */
struct list_pending {
	int dfd;                        /* the list's directory; -1: nothing pending */
	char tmp[RG_PATH_MAX + 64];     /* the temp file's name in it */
	char name[RG_PATH_MAX];         /* the list's name in it */
	char path[RG_PATH_MAX];
	int as_owner;                   /* root acts as the directory's owner there */
	uid_t uid;
	gid_t gid;
	uint64_t entry_lines;           /* the upload's entry lines ("# end N") */
};

/* The upload's first half, which touches no per-process state (the web API runs it
 * without its core lock; x->c may be a private copy of the config): validate data as
 * x->s->list.path and write it to a temp file beside it. RG_FOUND (pd pending: commit or abort
 * it), RG_NOTFOUND refused (every problem to fn with its line), RG_CONFIG no list,
 * RG_TEMPFAIL (err). */
int list_upload_prepare(const struct list_ctx *x, const char *data, size_t len, list_line_problem_fn *fn,
			void *arg, struct list_pending *pd, char *err, size_t errlen);

/* The second half: rename pd into place and compile it at once (as list_upload). pd is
 * consumed. */
int list_upload_commit(const struct list_ctx *x, struct list_pending *pd, list_line_problem_fn *fn, void *arg,
		       struct list_status *out, char *err, size_t errlen);

/* Drop a prepared upload (its temp file is removed). */
void list_upload_abort(struct list_pending *pd);

/* Install data[0..len) as x->s->list.path (the web API's upload): the same validation as an scp
 * upload, then a settle-free atomic install (temp file beside the list, fsync, rename) and
 * a compile at once. RG_FOUND installed (out->src_state LIST_SRC_IN_FORCE, or
 * LIST_SRC_HELD when the shrink guard holds it), RG_NOTFOUND refused (every problem to fn
 * with its line; file and list in force unchanged), RG_CONFIG no list for the domain,
 * RG_TEMPFAIL I/O (err). */
int list_upload(const struct list_ctx *x, const char *data, size_t len, list_line_problem_fn *fn, void *arg,
		struct list_status *out, char *err, size_t errlen);

/* Release this process's mappings. */
void list_reset(void);

#endif
