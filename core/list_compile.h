/*
 * list_compile.h - the compile side of static lists (internal to list*.c): reading a
 * customer's file safely (regular files only, bounded, as state_dir's owner when root),
 * validating it, writing the tinycdb index and the state file of a refused or held
 * version, installing an uploaded list. list.c decides when and where this runs (never
 * inside an SMTP RCPT) and keeps the per-process mappings.
 *
 * Files under state_dir/lists/ are described in list.h.
 */
#ifndef RG_LIST_COMPILE_H
#define RG_LIST_COMPILE_H

#include <cdb.h>
#include <sys/stat.h>

#include "list.h"

#define LIST_DIR "lists"

/* The identity of a stat'ed file. */
static inline void list_version_of(const struct stat *st, struct list_version *v)
{
	v->dev = st->st_dev;
	v->ino = st->st_ino;
	v->size = st->st_size;
	v->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	v->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

/* Same version? (ctime is left out: a rename into place changes it, not the content.) */
static inline int list_version_eq(const struct list_version *a, const struct list_version *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

/* Write the file name ending suffix of base into out. */
static inline int list_file(const char *base, const char *suffix, char *out, size_t size)
{
	return util_snprintf(out, size, "%s%s", base, suffix);
}

/* Give a file created by root (the CLI) to the state dir's owner (Exim's user). */
void list_compile_chown(const struct settings *s, int fd);

/* Create state_dir/lists (mode 0750, owned like the state dir); 0, or -1 with err. */
int list_compile_mkdir(const struct settings *s, char *err, size_t errlen);

/* Read the metadata record of a mapped index; 0 ok. */
int list_compile_meta_read(struct cdb *c, struct list_meta *m);

/* base.state: read (0 when one was decoded), write whole (0 ok), remove with base.held.cdb. */
int list_compile_state_read(const char *base, struct list_state *s);
int list_compile_state_write(const struct settings *set, const char *base, const struct list_state *s);
void list_compile_state_remove(const char *base);

/* Whether x's config now lets domain's addresses into path (a refusal to forget). */
int list_compile_allowed(const struct list_ctx *x, const char *path, const char *domain);

/* Bound this process's data memory (RLIMIT_DATA) to what it uses now plus s's
 * list_max_memory (0: 8 x list_max_size + 64 MiB), for a detached compile: a compile that
 * runs out of it is refused with a clear reason. 0, or -1 with err. */
int list_compile_limit_memory(const struct settings *s, char *err, size_t errlen);

/* list_check(): validate path for x. */
int list_compile_check(const struct list_ctx *x, const char *path, list_problem_fn *fn, void *arg,
		       unsigned max_problems, uint64_t *entries, uint64_t *entry_lines, char *err, size_t errlen);

/* Compile version *ver of x->s->list.path into base.cdb (the caller holds base.lock); in_force
 * (NULL: none) with in_force_entries is the index in force, for the shrink guard. 0 in
 * force; 1 refused or held (st filled; a held index in base.held.cdb); -1 not now (the
 * file changed while read, or a system error: err). */
int list_compile(const struct list_ctx *x, const char *base, struct cdb *in_force, uint64_t in_force_entries,
		 const struct list_version *ver, struct list_state *st, char *err, size_t errlen);

/* Validate data[0..len) as x->s->list.path: RG_FOUND (*entry_lines: its entry lines), RG_NOTFOUND
 * (every problem to fn with its line), RG_TEMPFAIL (err). */
int list_compile_upload_check(const struct list_ctx *x, const char *data, size_t len, list_line_problem_fn *fn,
			      void *arg, uint64_t *entry_lines, char *err, size_t errlen);

/* Install data as pd->path in two steps: write a temp file beside it (as root: made with
 * the directory owner's uid and the replaced file's group and mode) and fsync it; then
 * rename it into place and fsync the directory. 0, or -1 with err (the temp file removed). */
int list_compile_install_write(const struct settings *s, const char *path, const char *data, size_t len,
			       struct list_pending *pd, char *err, size_t errlen);
int list_compile_install_rename(struct list_pending *pd, char *err, size_t errlen);
/* Remove a written temp file that will not be renamed. */
void list_compile_install_abort(struct list_pending *pd);

#endif
