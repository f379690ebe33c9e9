/*
 * list.c - static recipient lists: parse and validate a customer's file, compile it into a
 * tinycdb index shared by every Exim process, decide which version is in force.
 *
 * Why an index: a list may hold a million addresses, and Exim runs a process per SMTP
 * connection; reading the file per process would cost seconds. The index is compiled
 * once per change (by the first process that notices a ready, changed file, under a
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "list.h"
#include "list_parse.h"
#include "rglog.h"

#define LIST_DIR "lists"
#define LIST_SLOTS 8                    /* list files mapped per process */
/* Why a leading NUL: no address can start with one, so the record never shadows a key. */
static const char list_meta_key[] = "\0rcptguard-meta";
#define LIST_META_KLEN (sizeof list_meta_key - 1)

/* Per-process view of one list file: the mapped index in force and what is known about
 * the source version that is not in force. */
struct list_proc {
	int used;
	unsigned gen;                   /* util_fork_generation() that opened it */
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
};

#define LIST_RETRY 60                   /* seconds before a process retries a failed compile */

static struct list_proc list_procs[LIST_SLOTS];
static uint64_t list_uses;

/* ---------------------------------------------------------------- small helpers */

/* The identity of a stat'ed file. */
static void list_version_of(const struct stat *st, struct list_version *v)
{
	v->dev = st->st_dev;
	v->ino = st->st_ino;
	v->size = st->st_size;
	v->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	v->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

/* Same version? (ctime is left out: a rename into place changes it, not the content.) */
static int list_version_eq(const struct list_version *a, const struct list_version *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

/* Readiness: metadata changed after the last data write, or no write for settle seconds. */
int list_ready(const struct list_version *v, int64_t now, unsigned settle)
{
	return v->ctime_ns != v->mtime_ns || now * 1000000000 - v->mtime_ns >= (int64_t)settle * 1000000000;
}

/* state_dir/lists/H for path (H: FNV-1a 64 of the path). */
static int list_base(const struct settings *s, char *out, size_t size)
{
	return util_snprintf(out, size, "%s/" LIST_DIR "/%016" PRIx64, s->state_dir, list_fnv1a(s->list));
}

/* Give a file created by root (the CLI) to the state dir's owner (Exim's user). */
static void list_chown(const struct settings *s, int fd)
{
	struct stat d, f;

	if (geteuid() != 0 || stat(s->state_dir, &d) < 0 || d.st_uid == 0)
		return;
	if (fstat(fd, &f) == 0 && f.st_uid == 0 && fchown(fd, d.st_uid, d.st_gid) < 0)
		rglog(RGLOG_INFO, "rcptguard: list: cannot chown in %s: %s", s->state_dir, strerror(errno));
}

/* Create state_dir/lists (mode 0750, owned like the state dir). */
static int list_mkdir(const struct settings *s, char *err, size_t errlen)
{
	char dir[RG_PATH_MAX];
	int fd;

	if (util_snprintf(dir, sizeof dir, "%s/" LIST_DIR, s->state_dir) < 0)
		return util_snprintf(err, errlen, "state_dir too long"), -1;
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return util_snprintf(err, errlen, "%.200s: %s", dir, strerror(errno)), -1;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		list_chown(s, fd);
		close(fd);
	}
	return 0;
}

/* Write the file name ending suffix of base into out. */
static int list_file(const char *base, const char *suffix, char *out, size_t size)
{
	return util_snprintf(out, size, "%s%s", base, suffix);
}

/* ---------------------------------------------------------------- index files */

/* Format the metadata record. */
static int list_meta_format(const struct list_meta *m, char *out, size_t size)
{
	return util_snprintf(out, size, "v1 %" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64 " %" PRId64
			     " %" PRIu64 " %" PRId64 " %s", m->src.dev, m->src.ino, m->src.size,
			     m->src.mtime_ns, m->src.ctime_ns, m->entries, m->compiled, m->path);
}

/* Read the metadata record of a mapped index; 0 ok. */
static int list_meta_read(struct cdb *c, struct list_meta *m)
{
	char buf[RG_PATH_MAX + 200];
	unsigned len;
	int n = 0;

	if (cdb_find(c, list_meta_key, LIST_META_KLEN) <= 0 || (len = cdb_datalen(c)) >= sizeof buf ||
	    cdb_read(c, buf, len, cdb_datapos(c)) < 0)
		return -1;
	buf[len] = '\0';
	memset(m, 0, sizeof *m);
	if (sscanf(buf, "v1 %" SCNu64 " %" SCNu64 " %" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNu64 " %" SCNd64 " %n",
		   &m->src.dev, &m->src.ino, &m->src.size, &m->src.mtime_ns, &m->src.ctime_ns,
		   &m->entries, &m->compiled, &n) != 7 || n == 0)
		return -1;
	return util_strlcpy(m->path, buf + n, sizeof m->path);
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
	if (list_meta_read(&p->cdb, &p->meta) < 0 || strcmp(p->meta.path, path) != 0) {
		list_close(p);
		return util_snprintf(p->why, sizeof p->why, "%.150s: damaged or another file's index", idx), -1;
	}
	p->idx_dev = st.st_dev;
	p->idx_ino = st.st_ino;
	return 0;
}

/* ---------------------------------------------------------------- state file */

/* Read base.state; 0 when one was decoded. */
static int list_state_read(const char *base, struct list_state *s)
{
	char file[RG_PATH_MAX + 16], buf[RG_ERRLEN + 512];
	unsigned max_shrink;
	int n = 0, fate;
	ssize_t len;
	int fd;

	if (list_file(base, ".state", file, sizeof file) < 0 || (fd = open(file, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	len = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (len <= 0)
		return -1;
	buf[len] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	memset(s, 0, sizeof *s);
	if (sscanf(buf, "v1 %d %" SCNu64 " %" SCNu64 " %" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNu64
		   " %" SCNu64 " %u %255s %n", &fate, &s->src.dev, &s->src.ino, &s->src.size, &s->src.mtime_ns,
		   &s->src.ctime_ns, &s->at, &s->entries, &s->dropped, &max_shrink, s->domain, &n) != 11 || n == 0 ||
	    (fate != LIST_REFUSED && fate != LIST_HELD))
		return -1;
	s->fate = fate;
	s->max_shrink = max_shrink;
	if (strcmp(s->domain, "-") == 0)
		s->domain[0] = '\0';
	util_strlcpy(s->reason, buf + n, sizeof s->reason);
	return 0;
}

/* Write base.state whole (temp file, fsync, rename): readers never see half a record. */
static int list_state_write(const struct settings *set, const char *base, const struct list_state *s)
{
	char file[RG_PATH_MAX + 16], tmp[RG_PATH_MAX + 16], buf[RG_ERRLEN + 512];
	int fd, ok;

	if (list_file(base, ".state", file, sizeof file) < 0 || list_file(base, ".state.tmp", tmp, sizeof tmp) < 0 ||
	    util_snprintf(buf, sizeof buf, "v1 %d %" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64
			  " %" PRIu64 " %" PRIu64 " %u %s %s\n", s->fate, s->src.dev, s->src.ino, s->src.size,
			  s->src.mtime_ns, s->src.ctime_ns, s->at, s->entries, s->dropped, s->max_shrink,
			  s->domain[0] ? s->domain : "-", s->reason) < 0)
		return -1;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) < 0)
		return -1;
	list_chown(set, fd);
	ok = write(fd, buf, strlen(buf)) == (ssize_t)strlen(buf) && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	if (ok && rename(tmp, file) == 0)
		return 0;
	unlink(tmp);
	return -1;
}

/* Forget the refused/held record (a valid version is now in force). */
static void list_state_remove(const char *base)
{
	char file[RG_PATH_MAX + 16];

	if (list_file(base, ".state", file, sizeof file) == 0)
		unlink(file);
	if (list_file(base, ".held.cdb", file, sizeof file) == 0)
		unlink(file);
}

/* Read f into lp; without problems, its keys sorted into *v (*n of them; caller frees), an
 * empty list being a problem. 0 (problems counted in lp), -1 with err. */
static int list_read(struct list_parse *lp, FILE *f, char ***v, size_t *n, char *err, size_t errlen)
{
	*v = NULL;
	*n = 0;
	if (list_parse_stream(lp, f, err, errlen) < 0)
		return -1;
	if (lp->problems)
		return 0;
	if ((*v = list_parse_sorted(lp, n)) == NULL)
		return util_snprintf(err, errlen, "out of memory"), -1;
	if (*n == 0)
		list_parse_problem(lp, 0, "no addresses (an empty list would reject every recipient)");
	return 0;
}

/* Validate path for x (the CLI's list check). */
int list_check(const struct list_ctx *x, const char *path, list_problem_fn *fn, void *arg,
	       unsigned max_problems, uint64_t *entries, char *err, size_t errlen)
{
	struct list_parse lp = { .x = x, .path = path, .fn = fn, .arg = arg, .max = max_problems ? max_problems : 1 };
	char **v = NULL;
	size_t n = 0;
	FILE *f;
	int rc;

	lp.any_domain = x->s == NULL;
	*entries = 0;
	if ((f = fopen(path, "re")) == NULL)
		return util_snprintf(err, errlen, "%.200s: %s", path, strerror(errno)), RG_TEMPFAIL;
	rc = list_read(&lp, f, &v, &n, err, errlen);
	fclose(f);
	free(v);
	list_parse_free(&lp);
	*entries = n;
	if (rc < 0)
		return RG_TEMPFAIL;
	if (lp.problems)
		util_snprintf(err, errlen, "%lu problem(s)", lp.problems);
	return lp.problems ? RG_NOTFOUND : RG_FOUND;
}

/* ---------------------------------------------------------------- compiling */

/* Write the index of keys v[0..n) to file (temp, fsync, rename): readers never map half an
 * index, and a crash leaves the old one or the new one. */
static int list_write_index(const struct list_ctx *x, const char *base, const char *suffix,
			    const struct list_meta *m, char **v, size_t n, char *err, size_t errlen)
{
	char tmp[RG_PATH_MAX + 16], file[RG_PATH_MAX + 16], meta[RG_PATH_MAX + 200], dir[RG_PATH_MAX];
	struct cdb_make cm;
	size_t i;
	int fd, dfd, ok;

	if (list_file(base, ".tmp", tmp, sizeof tmp) < 0 || list_file(base, suffix, file, sizeof file) < 0 ||
	    list_meta_format(m, meta, sizeof meta) < 0 ||
	    util_snprintf(dir, sizeof dir, "%s/" LIST_DIR, x->s->state_dir) < 0)
		return util_snprintf(err, errlen, "path too long"), -1;
	if ((fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) < 0)
		return util_snprintf(err, errlen, "%.150s: %s", tmp, strerror(errno)), -1;
	list_chown(x->s, fd);
	ok = cdb_make_start(&cm, fd) == 0 &&
	     cdb_make_add(&cm, list_meta_key, LIST_META_KLEN, meta, (unsigned)strlen(meta)) == 0;
	for (i = 0; ok && i < n; i++)
		ok = cdb_make_add(&cm, v[i], (unsigned)strlen(v[i]), "", 0) == 0;
	ok = cdb_make_finish(&cm) == 0 && ok;
	/* Why fsync before rename: after a crash the name must never point at unwritten blocks. */
	ok = ok && fsync(fd) == 0;
	if (!ok)
		util_snprintf(err, errlen, "%.150s: %s", tmp, strerror(errno));
	if (close(fd) < 0 && ok)
		ok = 0, util_snprintf(err, errlen, "%.150s: %s", tmp, strerror(errno));
	if (ok && rename(tmp, file) < 0)
		ok = 0, util_snprintf(err, errlen, "%.150s: %s", file, strerror(errno));
	if (!ok) {
		unlink(tmp);
		return -1;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

/* Entries of p's index in force that keys v[0..n) lack. */
static uint64_t list_dropped(struct list_proc *p, char **v, size_t n)
{
	char key[RG_ADDRESS_MAX + 1];
	const char *kp = key;
	uint64_t dropped = 0;
	unsigned pos;

	cdb_seqinit(&pos, &p->cdb);
	while (cdb_seqnext(&pos, &p->cdb) > 0) {
		unsigned kl = cdb_keylen(&p->cdb);

		if (kl == 0 || kl >= sizeof key || cdb_read(&p->cdb, key, kl, cdb_keypos(&p->cdb)) < 0 || key[0] == '\0')
			continue;
		key[kl] = '\0';
		if (bsearch(&kp, v, n, sizeof *v, list_parse_cmp) == NULL)
			dropped++;
	}
	return dropped;
}

/* Compile version *ver of x->s->list (the caller holds the lock). 0 in force; 1 refused or
 * held (st filled, logged); -1 not now (file changed while read, or a system error: err). */
static int list_compile(const struct list_ctx *x, struct list_proc *p, const struct list_version *ver,
			struct list_state *st, char *err, size_t errlen)
{
	struct list_parse lp = { .x = x, .path = x->s->list };
	struct list_version after;
	struct list_meta m;
	struct stat sb;
	char **v = NULL;
	size_t n = 0;
	int64_t t0 = util_monotonic_ms();
	int rc = -1, fd;
	FILE *f;

	memset(st, 0, sizeof *st);
	if ((fd = open(x->s->list, O_RDONLY | O_CLOEXEC)) < 0)
		return util_snprintf(err, errlen, "%.150s: %s", x->s->list, strerror(errno)), -1;
	if (fstat(fd, &sb) < 0 || (list_version_of(&sb, &after), !list_version_eq(&after, ver)) ||
	    (f = fdopen(fd, "r")) == NULL) {
		close(fd);
		return util_snprintf(err, errlen, "%.150s changed while opened", x->s->list), -1;
	}
	rc = list_read(&lp, f, &v, &n, err, errlen);
	/* Why a second stat: a writer may have written while we read; what we read is then
	 * no version at all. Not judged: the next lookup looks again. */
	if (rc == 0 && (fstat(fileno(f), &sb) < 0 || (list_version_of(&sb, &after), !list_version_eq(&after, ver)))) {
		util_snprintf(err, errlen, "%.150s changed while read", x->s->list);
		rc = -1;
	}
	fclose(f);
	if (rc < 0)
		goto out;
	st->src = *ver;
	st->at = util_now();
	if (lp.problems) {
		st->fate = LIST_REFUSED;
		util_strlcpy(st->domain, lp.first_domain, sizeof st->domain);
		util_strlcpy(st->reason, lp.first, sizeof st->reason);
		rc = 1;
		goto out;
	}
	memset(&m, 0, sizeof m);
	util_strlcpy(m.path, x->s->list, sizeof m.path);
	m.src = *ver;
	m.entries = n;
	m.compiled = util_now();
	st->entries = n;
	if (p->fd >= 0 && p->meta.entries > 0 && x->s->list_max_shrink > 0) {
		st->dropped = list_dropped(p, v, n);
		/* Why: a truncated upload that still parses (cut at a line end) would make every
		 * dropped mailbox a 550; a large drop waits for the operator. */
		if (st->dropped * 100 > (uint64_t)x->s->list_max_shrink * p->meta.entries) {
			st->fate = LIST_HELD;
			st->max_shrink = x->s->list_max_shrink;
			util_snprintf(st->reason, sizeof st->reason, "drops %" PRIu64 " of the %" PRIu64
				      " entries in force (more than list_max_shrink = %u%%)",
				      st->dropped, p->meta.entries, st->max_shrink);
			rc = list_write_index(x, p->base, ".held.cdb", &m, v, n, err, errlen) < 0 ? -1 : 1;
			goto out;
		}
	}
	rc = list_write_index(x, p->base, ".cdb", &m, v, n, err, errlen);
	if (rc == 0)
		rglog(RGLOG_INFO, "rcptguard: list %.200s: new version in force, %zu entries (compiled in %lld ms)",
		      x->s->list, n, (long long)(util_monotonic_ms() - t0));
out:
	free(v);
	list_parse_free(&lp);
	return rc;
}

/* ---------------------------------------------------------------- per process */

/* The process's slot for x->s->list (made or recycled; reset after fork). */
static struct list_proc *list_proc_get(const struct list_ctx *x, char *err, size_t errlen)
{
	char base[RG_PATH_MAX];
	struct list_proc *p, *victim = &list_procs[0];
	unsigned gen = util_fork_generation();
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
	struct list_parse lp = { .x = x, .path = x->s->list };
	int r = 0;

	if (b->fate == LIST_HELD)
		return b->max_shrink != x->s->list_max_shrink;
	if (b->domain[0]) {
		r = list_parse_allowed(&lp, b->domain) == 1;
		list_parse_free(&lp);
	}
	return r;
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
		if (list_mkdir(x->s, err, errlen) < 0)
			return -1;
		fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	}
	if (fd < 0)
		return util_snprintf(err, errlen, "%.200s: %s", lock, strerror(errno)), -1;
	list_chown(x->s, fd);
	if (flock(fd, LOCK_EX | how) < 0) {
		close(fd);
		return errno == EWOULDBLOCK ? -2 : (util_snprintf(err, errlen, "%.200s: %s", lock, strerror(errno)), -1);
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
}

/* The source changed (or is new to this process): map the newest index, compile the file
 * when it is ready and nobody else is compiling. Fills *status for list_status(). */
static void list_update(const struct list_ctx *x, struct list_proc *p, const struct list_version *v,
			int *status)
{
	char err[RG_ERRLEN] = "";
	struct list_state st;
	int fd, rc;

	list_open_index(p, x->s->list);
	if (p->fd >= 0 && list_version_eq(v, &p->meta.src)) {
		*status = LIST_SRC_IN_FORCE;
		return;
	}
	if (!p->have_bad || !list_version_eq(v, &p->bad.src))
		p->have_bad = list_state_read(p->base, &p->bad) == 0 && list_version_eq(v, &p->bad.src);
	if (p->have_bad && !list_bad_outdated(x, &p->bad)) {
		*status = p->bad.fate == LIST_HELD ? LIST_SRC_HELD : LIST_SRC_REFUSED;
		return;
	}
	if (!list_ready(v, util_now(), x->s->list_settle)) {
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
		list_failed(p, v, x->s->list, err);
		return;
	}
	/* Someone may have finished while we looked: check again under the lock. */
	list_open_index(p, x->s->list);
	if (p->fd >= 0 && list_version_eq(v, &p->meta.src)) {
		*status = LIST_SRC_IN_FORCE;
	} else if (list_state_read(p->base, &st) == 0 && list_version_eq(v, &st.src) && !list_bad_outdated(x, &st)) {
		p->bad = st;
		p->have_bad = 1;
		*status = st.fate == LIST_HELD ? LIST_SRC_HELD : LIST_SRC_REFUSED;
	} else if ((rc = list_compile(x, p, v, &st, err, sizeof err)) == 0) {
		list_state_remove(p->base);
		p->have_bad = 0;
		list_open_index(p, x->s->list);
		*status = LIST_SRC_IN_FORCE;
	} else if (rc > 0) {
		if (list_state_write(x->s, p->base, &st) < 0)
			rglog(RGLOG_ERROR, "rcptguard: list %.200s: cannot record its state in %.200s", x->s->list,
			      x->s->state_dir);
		p->bad = st;
		p->have_bad = 1;
		*status = st.fate == LIST_HELD ? LIST_SRC_HELD : LIST_SRC_REFUSED;
		/* Logged once per version: only the compiling process judges it. */
		rglog(RGLOG_ERROR, "rcptguard: list %.200s %s: %s; %s", x->s->list,
		      st.fate == LIST_HELD ? "held" : "refused", st.reason,
		      st.fate == LIST_HELD ? "rcptguardctl list accept DOMAIN puts it in force" :
		      "the version in force stays in force");
	} else {
		list_failed(p, v, x->s->list, err);
	}
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
	if (!known && stat(x->s->list, &sb) < 0) {
		/* Why keep the index: a deleted or unreadable upload is no reason to reject mail. */
		if (out)
			util_snprintf(out->detail, sizeof out->detail, "%.150s: %s", x->s->list, strerror(errno));
		list_open_index(p, x->s->list);
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
			out->ready_at = v.mtime_ns / 1000000000 + 1 + x->s->list_settle;
		if ((status == LIST_SRC_REFUSED || status == LIST_SRC_HELD) && p->have_bad)
			out->state = p->bad;
	}
}

/* Is key in x->s->list? */
int list_lookup(const struct list_ctx *x, const char *key, char *err, size_t errlen)
{
	struct list_proc *p;
	struct list_version v;
	struct stat sb;
	int r;

	if (x->s->list[0] == '\0')
		return util_snprintf(err, errlen, "no list configured for %.100s", x->domain ? x->domain : ""), RG_CONFIG;
	if ((p = list_proc_get(x, err, errlen)) == NULL)
		return RG_TEMPFAIL;
	/* The hot path: one stat says the file is still the version mapped (and is the only
	 * stat when it is not). */
	if (stat(x->s->list, &sb) < 0)
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
		return util_snprintf(err, errlen, "%.150s: index damaged (%s)", x->s->list, strerror(errno)), RG_TEMPFAIL;
	return r > 0 ? RG_FOUND : RG_NOTFOUND;
}

/* Refresh, then describe x->s->list. */
int list_status(const struct list_ctx *x, struct list_status *out, char *err, size_t errlen)
{
	struct list_proc *p;

	memset(out, 0, sizeof *out);
	if (x->s->list[0] == '\0')
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
		return util_snprintf(err, errlen, "%.150s: no version is held", x->s->list), RG_NOTFOUND;
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
	ok = mapped && list_meta_read(&c, &m) == 0 && strcmp(m.path, x->s->list) == 0 &&
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
	list_state_remove(p->base);
	p->have_bad = 0;
	list_open_index(p, x->s->list);
	rglog(RGLOG_INFO, "rcptguard: list %.200s: held version accepted by the operator, %" PRIu64 " entries",
	      x->s->list, m.entries);
	util_snprintf(msg, msglen, "%.150s: accepted: %" PRIu64 " entries in force (%" PRIu64 " dropped)",
		      x->s->list, m.entries, ls.state.dropped);
	rc = RG_FOUND;
out:
	close(lk);
	return rc;
}

/* Release every mapping of this process. */
void list_reset(void)
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
