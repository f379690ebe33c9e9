/*
 * list.c - static recipient lists, the per-process side: decide which version is in force,
 * map its index, answer lookups, and say when and where a changed file is compiled (by
 * list_compile.c): in this process for the CLI and the web API, in a detached child for
 * an Exim RCPT, which never waits for a compile.
 *
 * Why an index: a list may hold a million addresses, and Exim runs a process per SMTP
 * connection; reading the file per process would cost seconds. The index is compiled
 * once per change (for the first process that notices a ready, changed file, under a
 * non-blocking lock) and mapped by the others: a lookup costs a stat of the file (has it
 * changed?) and one cdb_find.
 *
 * Why the readiness rule: scp writes in place, so a half-uploaded file is visible. A data
 * write sets mtime and ctime to the same instant; only a later metadata change (rename
 * into place, utimes by scp -p / touch, chmod) makes them differ, and writers do that
 * after their last write. So ctime != mtime means "finished"; otherwise the file counts
 * once it has not been written for list_settle.
 */
#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "list.h"
#include "list_compile.h"
#include "list_parse.h"
#include "rglog.h"

#define LIST_SLOTS 8                    /* list files mapped per process */

/* Per-process view of one list file: the mapped index in force and what is known about
 * the source version that is not in force. */
struct list_proc {
	int used;
	uint64_t gen;                   /* util_fork_generation() that opened it */
	uint64_t stamp;                 /* last use, for replacement */
	char base[RG_PATH_MAX];         /* state_dir/lists/H (files add a suffix) */
	int fd;                         /* -1: no index mapped */
	struct cdb cdb;
	uint64_t idx_dev, idx_ino;
	struct list_meta meta;
	int have_bad;                   /* bad: a refused/held version read from H.state */
	struct list_state bad;
	char why[RG_ERRLEN];            /* why no version is in force */
	int have_failed;                /* failed: a version this process could not compile */
	struct list_version failed;
	int64_t failed_at;
	char failed_why[RG_ERRLEN];
};

#define LIST_RETRY 60                   /* seconds before a process retries a failed compile */
#define LIST_COMPILE_SECONDS 600        /* a detached compile is killed after this */

static struct list_proc list_procs[LIST_SLOTS];
static uint64_t list_uses;

/* ---------------------------------------------------------------- small helpers */

/* Readiness: metadata changed after the last data write, or no write for settle seconds. */
int list_ready(const struct list_version *v, int64_t now, unsigned settle)
{
	return v->ctime_ns != v->mtime_ns || now * 1000000000 - v->mtime_ns >= (int64_t)settle * 1000000000;
}

/* state_dir/lists/H for path (H: FNV-1a 64 of the path). */
static int list_base(const struct settings *s, char *out, size_t size)
{
	return util_snprintf(out, size, "%s/" LIST_DIR "/%016" PRIx64, s->state_dir, list_fnv1a(s->list.path));
}

/* Unmap p's index. */
static void list_close(struct list_proc *p)
{
	if (p->fd >= 0) {
		cdb_free(&p->cdb);
		close(p->fd);
	}
	p->fd = -1;
	p->idx_dev = p->idx_ino = 0;
}

/* Map the index in force (again when the file was replaced). 0 mapped, -1 none (p->why). */
static int list_open_index(struct list_proc *p, const char *path)
{
	char idx[RG_PATH_MAX + 16];
	struct stat st;
	int fd;

	if (list_file(p->base, ".cdb", idx, sizeof idx) < 0)
		return util_snprintf(p->why, sizeof p->why, "state_dir too long"), -1;
	if (stat(idx, &st) < 0) {
		list_close(p);
		if (errno == ENOENT)
			util_snprintf(p->why, sizeof p->why, "no valid version of %.150s in force yet", path);
		else
			util_snprintf(p->why, sizeof p->why, "%.150s: %s", idx, strerror(errno));
		return -1;
	}
	if (p->fd >= 0 && st.st_dev == p->idx_dev && st.st_ino == p->idx_ino)
		return 0;
	list_close(p);
	if ((fd = open(idx, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
		util_snprintf(p->why, sizeof p->why, "%.150s: %s", idx, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (cdb_init(&p->cdb, fd) < 0) {
		util_snprintf(p->why, sizeof p->why, "%.150s: not a readable index", idx);
		close(fd);
		return -1;
	}
	p->fd = fd;
	if (list_compile_meta_read(&p->cdb, &p->meta) < 0 || strcmp(p->meta.path, path) != 0) {
		list_close(p);
		return util_snprintf(p->why, sizeof p->why, "%.150s: damaged or another file's index", idx), -1;
	}
	p->idx_dev = st.st_dev;
	p->idx_ino = st.st_ino;
	return 0;
}

/* ---------------------------------------------------------------- per process */

/* The process's slot for x->s->list.path (made or recycled; reset after fork). */
static struct list_proc *list_proc_get(const struct list_ctx *x, char *err, size_t errlen)
{
	char base[RG_PATH_MAX];
	struct list_proc *p, *victim = &list_procs[0];
	uint64_t gen = util_fork_generation();
	size_t i;

	if (list_base(x->s, base, sizeof base) < 0)
		return util_snprintf(err, errlen, "state_dir too long"), NULL;
	for (i = 0; i < LIST_SLOTS; i++) {
		p = &list_procs[i];
		if (p->used && p->gen != gen) {
			/* Inherited over fork(): released here, never used. */
			list_close(p);
			p->used = 0;
		}
		if (p->used && strcmp(p->base, base) == 0) {
			p->stamp = ++list_uses;
			return p;
		}
		if (!p->used || (victim->used && p->stamp < victim->stamp))
			victim = p;
	}
	if (victim->used)
		list_close(victim);
	memset(victim, 0, sizeof *victim);
	victim->used = 1;
	victim->fd = -1;
	victim->gen = gen;
	victim->stamp = ++list_uses;
	memcpy(victim->base, base, sizeof base);
	return victim;
}

/* Whether a remembered refusal/hold no longer applies (the config changed since). */
static int list_bad_outdated(const struct list_ctx *x, const struct list_state *b)
{
	if (b->fate == LIST_HELD)
		return b->max_shrink != x->s->list.max_shrink;
	return b->domain[0] && list_compile_allowed(x, x->s->list.path, b->domain);
}

/* Take base.lock (LOCK_EX, plus how: LOCK_NB or 0). The lock's fd; -2 busy; -1 error (err). */
static int list_lock(const struct list_ctx *x, const struct list_proc *p, int how, char *err, size_t errlen)
{
	char lock[RG_PATH_MAX + 16];
	int fd;

	if (list_file(p->base, ".lock", lock, sizeof lock) < 0)
		return util_snprintf(err, errlen, "state_dir too long"), -1;
	/* The lists dir is made on first need only: this runs at every RCPT while pending. */
	if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0640)) < 0 && errno == ENOENT) {
		if (list_compile_mkdir(x->s, err, errlen) < 0)
			return -1;
		fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	}
	if (fd < 0)
		return util_snprintf(err, errlen, "%.200s: %s", lock, strerror(errno)), -1;
	list_compile_chown(x->s, fd);
	if (flock(fd, LOCK_EX | how) < 0) {
		int e = errno;          /* close() may change errno */

		close(fd);
		return e == EWOULDBLOCK ? -2 : (util_snprintf(err, errlen, "%.200s: %s", lock, strerror(e)), -1);
	}
	return fd;
}

/* Remember (and log once per process and version) a compile that could not run. */
static void list_failed(struct list_proc *p, const struct list_version *v, const char *path, const char *err)
{
	if (!p->have_failed || !list_version_eq(v, &p->failed))
		rglog(RGLOG_ERROR, "rcptguard: list %.200s: not compiled now (the version in force stays): %s",
		      path, err);
	p->have_failed = 1;
	p->failed = *v;
	p->failed_at = util_now();
	util_strlcpy(p->failed_why, err, sizeof p->failed_why);
}

/* With the lock held: map the newest index, else take the recorded judgement of version
 * *v, else compile it and record the outcome. The src state it leaves (enum
 * list_src_state): in force, refused, held, or pending after a system failure (err). */
static int list_judge(const struct list_ctx *x, struct list_proc *p, const struct list_version *v,
		      char *err, size_t errlen)
{
	struct list_state st;
	int rc;

	/* Someone may have finished while we looked: check again under the lock. */
	list_open_index(p, x->s->list.path);
	if (p->fd >= 0 && list_version_eq(v, &p->meta.src))
		return LIST_SRC_IN_FORCE;
	if (list_compile_state_read(p->base, &st) == 0 && list_version_eq(v, &st.src) && !list_bad_outdated(x, &st)) {
		p->bad = st;
		p->have_bad = 1;
		return st.fate == LIST_HELD ? LIST_SRC_HELD : LIST_SRC_REFUSED;
	}
	if ((rc = list_compile(x, p->base, p->fd >= 0 ? &p->cdb : NULL, p->meta.entries, v, &st, err, errlen)) == 0) {
		list_compile_state_remove(p->base);
		p->have_bad = 0;
		list_open_index(p, x->s->list.path);
		return LIST_SRC_IN_FORCE;
	}
	if (rc < 0)
		return LIST_SRC_PENDING;
	if (list_compile_state_write(x->s, p->base, &st) < 0)
		rglog(RGLOG_ERROR, "rcptguard: list %.200s: cannot record its state in %.200s", x->s->list.path,
		      x->s->state_dir);
	p->bad = st;
	p->have_bad = 1;
	/* Logged once per version: only the compiling process judges it. */
	rglog(RGLOG_ERROR, "rcptguard: list %.200s %s: %s; %s", x->s->list.path,
	      st.fate == LIST_HELD ? "held" : "refused", st.reason,
	      st.fate == LIST_HELD ? "rcptguardctl list accept DOMAIN puts it in force" :
	      "the version in force stays in force");
	return st.fate == LIST_HELD ? LIST_SRC_HELD : LIST_SRC_REFUSED;
}

/* Close every inherited descriptor that is not a regular file (the SMTP connection,
 * callout and LDAP sockets, pipes); stdin/out/err become /dev/null. Log files stay. */
static void list_detach_fds(void)
{
	long max = sysconf(_SC_OPEN_MAX);
	struct stat sb;
	int fd, null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	if (max < 0 || max > 65536)
		max = 65536;
	for (fd = 3; fd < max; fd++)
		if (fd != null && fstat(fd, &sb) == 0 && !S_ISREG(sb.st_mode))
			close(fd);
	if (null > 2)
		close(null);
}

/*
 * Compile version *v in a detached grandchild that holds the lock (inherited): the RCPT that
 * noticed the change answers at once from the index in force, and the lock tells every
 * other process that a compile runs. 0 started, -1 (err) when it could not fork.
 */
static int list_spawn(const struct list_ctx *x, struct list_proc *p, const struct list_version *v,
		      char *err, size_t errlen)
{
	char why[RG_ERRLEN] = "";
	pid_t pid;
	int st;

	if ((pid = fork()) < 0)
		return util_snprintf(err, errlen, "fork: %s", strerror(errno)), -1;
	if (pid == 0) {
		setsid();
		if (fork() != 0)
			_exit(0);
		list_detach_fds();
		util_child_signals();
		alarm(LIST_COMPILE_SECONDS);
		if (list_compile_limit_memory(x->s, why, sizeof why) < 0)
			rglog(RGLOG_ERROR, "rcptguard: list %.200s: compile not bounded in memory: %s", x->s->list.path, why);
		if (list_judge(x, p, v, why, sizeof why) == LIST_SRC_PENDING)
			rglog(RGLOG_ERROR, "rcptguard: list %.200s: not compiled now (the version in force stays): %s",
			      x->s->list.path, why);
		_exit(0);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return 0;
}

/* The source changed (or is new to this process): map the newest index, compile the file
 * when it is ready and nobody else is compiling (in a detached child on the SMTP path).
 * Fills *status for list_status(). */
static void list_update(const struct list_ctx *x, struct list_proc *p, const struct list_version *v,
			int *status)
{
	char err[RG_ERRLEN] = "";
	int fd;

	list_open_index(p, x->s->list.path);
	if (p->fd >= 0 && list_version_eq(v, &p->meta.src)) {
		*status = LIST_SRC_IN_FORCE;
		return;
	}
	if (!p->have_bad || !list_version_eq(v, &p->bad.src))
		p->have_bad = list_compile_state_read(p->base, &p->bad) == 0 && list_version_eq(v, &p->bad.src);
	if (p->have_bad && !list_bad_outdated(x, &p->bad)) {
		*status = p->bad.fate == LIST_HELD ? LIST_SRC_HELD : LIST_SRC_REFUSED;
		return;
	}
	if (!list_ready(v, util_now(), x->s->list.settle)) {
		*status = LIST_SRC_SETTLING;
		return;
	}
	*status = LIST_SRC_PENDING;
	/* Why: a compile that failed for a system reason (disk full, unreadable file) would
	 * otherwise re-read a large file at every RCPT of this process. */
	if (p->have_failed && list_version_eq(v, &p->failed) && util_now() - p->failed_at < LIST_RETRY)
		return;
	/* Why non-blocking: an Exim process must never wait for another's compile; it keeps
	 * answering from the version in force. */
	if ((fd = list_lock(x, p, LOCK_NB, err, sizeof err)) == -2)
		return;
	if (fd < 0) {
		list_failed(p, v, x->s->list.path, err);
		return;
	}
	if (x->detach) {
		/* Why remember it as tried: this process spawns one compile per version and
		 * LIST_RETRY; the child's outcome shows in the index or the state file. */
		if (list_spawn(x, p, v, err, sizeof err) < 0)
			list_failed(p, v, x->s->list.path, err);
		else
			p->have_failed = 1, p->failed = *v, p->failed_at = util_now(), p->failed_why[0] = '\0';
		/* Only this copy is closed: the child's keeps the lock until it is done. */
		close(fd);
		return;
	}
	if ((*status = list_judge(x, p, v, err, sizeof err)) == LIST_SRC_PENDING)
		list_failed(p, v, x->s->list.path, err);
	flock(fd, LOCK_UN);
	close(fd);
}

/* Refresh p for x: stat the source (unless known: the caller's stat of it), update when it
 * differs from the version in force. */
static void list_refresh(const struct list_ctx *x, struct list_proc *p, const struct stat *known,
			 struct list_status *out)
{
	struct list_version v = { 0 };
	struct stat sb;
	int status = LIST_SRC_MISSING;

	if (known)
		sb = *known;
	if (!known && stat(x->s->list.path, &sb) < 0) {
		/* Why keep the index: a deleted or unreadable upload is no reason to reject mail. */
		if (out)
			util_snprintf(out->detail, sizeof out->detail, "%.150s: %s", x->s->list.path, strerror(errno));
		list_open_index(p, x->s->list.path);
	} else {
		list_version_of(&sb, &v);
		if (p->fd >= 0 && list_version_eq(&v, &p->meta.src))
			status = LIST_SRC_IN_FORCE;
		else
			list_update(x, p, &v, &status);
		if (out)
			out->src = v;
	}
	if (out) {
		out->src_state = status;
		if (status == LIST_SRC_SETTLING)
			out->ready_at = v.mtime_ns / 1000000000 + 1 + x->s->list.settle;
		if ((status == LIST_SRC_REFUSED || status == LIST_SRC_HELD) && p->have_bad)
			out->state = p->bad;
		if (status == LIST_SRC_PENDING && p->have_failed && list_version_eq(&v, &p->failed))
			util_strlcpy(out->detail, p->failed_why, sizeof out->detail);
	}
}

/* Is key in x->s->list.path? */
int list_lookup(const struct list_ctx *x, const char *key, char *err, size_t errlen)
{
	struct list_proc *p;
	struct list_version v;
	struct stat sb;
	int r;

	if (x->s->list.path[0] == '\0')
		return util_snprintf(err, errlen, "no list configured for %.100s", x->domain ? x->domain : ""), RG_CONFIG;
	if ((p = list_proc_get(x, err, errlen)) == NULL)
		return RG_TEMPFAIL;
	/* The hot path: one stat says the file is still the version mapped (and is the only
	 * stat when it is not). */
	if (stat(x->s->list.path, &sb) < 0)
		list_refresh(x, p, NULL, NULL);
	else if (list_version_of(&sb, &v), p->fd < 0 || !list_version_eq(&v, &p->meta.src))
		list_refresh(x, p, &sb, NULL);
	if (p->fd < 0) {
		if (p->have_bad)
			util_snprintf(err, errlen, "%.100s (the only version is %s: %.120s)", p->why,
				      p->bad.fate == LIST_HELD ? "held" : "refused", p->bad.reason);
		else
			util_strlcpy(err, p->why, errlen);
		return RG_TEMPFAIL;
	}
	/* Why: tinycdb's -1 is a damaged index; a NOTFOUND would become a cached 550. */
	if ((r = cdb_find(&p->cdb, key, (unsigned)strlen(key))) < 0)
		return util_snprintf(err, errlen, "%.150s: index damaged (%s)", x->s->list.path, strerror(errno)), RG_TEMPFAIL;
	return r > 0 ? RG_FOUND : RG_NOTFOUND;
}

/* Refresh, then describe x->s->list. */
int list_status(const struct list_ctx *x, struct list_status *out, char *err, size_t errlen)
{
	struct list_proc *p;

	memset(out, 0, sizeof *out);
	if (x->s->list.path[0] == '\0')
		return util_snprintf(err, errlen, "no list configured"), RG_CONFIG;
	if ((p = list_proc_get(x, err, errlen)) == NULL)
		return RG_CONFIG;
	list_refresh(x, p, NULL, out);
	if ((out->in_force = p->fd >= 0))
		out->meta = p->meta;
	return RG_FOUND;
}

/* Put the held version in force (under the lock, so that no compile runs meanwhile). */
int list_accept(const struct list_ctx *x, char *msg, size_t msglen, char *err, size_t errlen)
{
	char held[RG_PATH_MAX + 16], idx[RG_PATH_MAX + 16];
	struct list_status ls;
	struct list_proc *p;
	struct list_meta m;
	struct cdb c;
	int fd, lk, ok, mapped, rc = RG_TEMPFAIL;

	if (list_status(x, &ls, err, errlen) != RG_FOUND)
		return RG_CONFIG;
	if (ls.src_state != LIST_SRC_HELD)
		return util_snprintf(err, errlen, "%.150s: no version is held", x->s->list.path), RG_NOTFOUND;
	if ((p = list_proc_get(x, err, errlen)) == NULL || list_file(p->base, ".held.cdb", held, sizeof held) < 0 ||
	    list_file(p->base, ".cdb", idx, sizeof idx) < 0)
		return RG_TEMPFAIL;
	if ((lk = list_lock(x, p, 0, err, errlen)) < 0)
		return RG_TEMPFAIL;
	/* Why check the held index: only the version the operator saw may go in force. */
	if ((fd = open(held, O_RDONLY | O_CLOEXEC)) < 0) {
		util_snprintf(err, errlen, "%.150s: %s", held, strerror(errno));
		goto out;
	}
	mapped = cdb_init(&c, fd) == 0;
	ok = mapped && list_compile_meta_read(&c, &m) == 0 && strcmp(m.path, x->s->list.path) == 0 &&
	     list_version_eq(&m.src, &ls.state.src);
	if (mapped)
		cdb_free(&c);
	close(fd);
	if (!ok) {
		util_snprintf(err, errlen, "%.150s: the held index does not match the held version", held);
		goto out;
	}
	if (rename(held, idx) < 0) {
		util_snprintf(err, errlen, "%.150s: %s", idx, strerror(errno));
		goto out;
	}
	list_compile_state_remove(p->base);
	p->have_bad = 0;
	list_open_index(p, x->s->list.path);
	rglog(RGLOG_INFO, "rcptguard: list %.200s: held version accepted by the operator, %" PRIu64 " entries",
	      x->s->list.path, m.entries);
	util_snprintf(msg, msglen, "%.150s: accepted: %" PRIu64 " entries in force (%" PRIu64 " dropped)",
		      x->s->list.path, m.entries, ls.state.dropped);
	rc = RG_FOUND;
out:
	close(lk);
	return rc;
}

/* Validate path for x (the CLI's list check). */
int list_check(const struct list_ctx *x, const char *path, list_problem_fn *fn, void *arg,
	       unsigned max_problems, uint64_t *entries, uint64_t *entry_lines, char *err, size_t errlen)
{
	return list_compile_check(x, path, fn, arg, max_problems, entries, entry_lines, err, errlen);
}

/* ---------------------------------------------------------------- upload (web API) */

/* Validate an uploaded list and write it beside its file (no per-process state). */
int list_upload_prepare(const struct list_ctx *x, const char *data, size_t len, list_line_problem_fn *fn,
			void *arg, struct list_pending *pd, char *err, size_t errlen)
{
	uint64_t lines = 0;
	int rc;

	memset(pd, 0, sizeof *pd);
	pd->dfd = -1;
	if (x->s == NULL || x->s->list.path[0] == '\0')
		return util_snprintf(err, errlen, "no list configured for %.100s", x->domain ? x->domain : ""), RG_CONFIG;
	if ((rc = list_compile_upload_check(x, data, len, fn, arg, &lines, err, errlen)) != RG_FOUND)
		return rc;
	if (list_compile_install_write(x->s, x->s->list.path, data, len, pd, err, errlen) < 0)
		return RG_TEMPFAIL;
	pd->entry_lines = lines;
	return RG_FOUND;
}

/* Drop a prepared upload. */
void list_upload_abort(struct list_pending *pd)
{
	list_compile_install_abort(pd);
}

/* Put a prepared upload in place and compile it at once. */
int list_upload_commit(const struct list_ctx *x, struct list_pending *pd, list_line_problem_fn *fn, void *arg,
		       struct list_status *out, char *err, size_t errlen)
{
	struct list_version v;
	struct list_proc *p;
	struct stat sb;
	int lk, status;

	memset(out, 0, sizeof *out);
	if (x->s == NULL || strcmp(x->s->list.path, pd->path) != 0) {
		list_upload_abort(pd);
		return util_snprintf(err, errlen, "the domain's list changed meanwhile (config re-read): upload again"),
		       RG_TEMPFAIL;
	}
	if ((p = list_proc_get(x, err, errlen)) == NULL) {
		list_upload_abort(pd);
		return RG_TEMPFAIL;
	}
	/* Why the lock first: no compile of the old file may finish after ours. */
	if ((lk = list_lock(x, p, 0, err, errlen)) < 0) {
		list_upload_abort(pd);
		return RG_TEMPFAIL;
	}
	if (list_compile_install_rename(pd, err, errlen) < 0 || stat(x->s->list.path, &sb) < 0) {
		if (err[0] == '\0')
			util_snprintf(err, errlen, "%.150s: %s", x->s->list.path, strerror(errno));
		close(lk);
		return RG_TEMPFAIL;
	}
	list_version_of(&sb, &v);
	status = list_judge(x, p, &v, err, errlen);
	flock(lk, LOCK_UN);
	close(lk);
	if (status == LIST_SRC_PENDING)
		return RG_TEMPFAIL;
	if (status == LIST_SRC_REFUSED && fn)
		fn(arg, 0, p->bad.reason);
	if (list_status(x, out, err, errlen) != RG_FOUND)
		return RG_TEMPFAIL;
	out->src_state = status;
	out->entry_lines = pd->entry_lines;
	if (status == LIST_SRC_REFUSED)
		return util_snprintf(err, errlen, "%.200s", p->bad.reason), RG_NOTFOUND;
	return RG_FOUND;
}

/* Validate, install and compile an uploaded list at once. */
int list_upload(const struct list_ctx *x, const char *data, size_t len, list_line_problem_fn *fn, void *arg,
		struct list_status *out, char *err, size_t errlen)
{
	struct list_pending pd;
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = list_upload_prepare(x, data, len, fn, arg, &pd, err, errlen)) != RG_FOUND)
		return rc;
	return list_upload_commit(x, &pd, fn, arg, out, err, errlen);
}

/* Release every mapping of this process. */
RG_HOT void list_reset(void)
{
	size_t i;

	/* Why: the slots span several pages; in a process that used none (most SMTP
	 * sessions), touching them would cost a page fault each. */
	if (list_uses == 0)
		return;
	for (i = 0; i < LIST_SLOTS; i++) {
		if (list_procs[i].used)
			list_close(&list_procs[i]);
		list_procs[i].used = 0;
	}
}

