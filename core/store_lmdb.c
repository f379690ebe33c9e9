/*
 * store_lmdb.c - the "lmdb" store: one LMDB file shared by every Exim process.
 *
 * Durability: MDB_NOMETASYNC. Each commit syncs the data pages but not the meta page,
 * so an OS crash or power loss can undo the last committed transaction(s), and never
 * corrupt the file (LMDB keeps two meta pages and picks the last complete one). That is
 * right for a cache: a lost verdict is asked again. MDB_WRITEMAP is not used, because it
 * turns a full disk into SIGBUS in the Exim process; without it a full disk is ENOSPC
 * at commit, which we report as RG_TEMPFAIL (the check runs uncached).
 *
 * Processes killed while reading leave reader slots that pin old pages; every open
 * clears them (mdb_reader_check), so the file stays bounded. A file that is not a valid
 * LMDB is set aside (renamed *.damaged-TIME) and recreated: the store is rebuildable.
 */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "rglog.h"
#include "store.h"

#define STORE_LMDB_FILE "rcptguard.mdb"
#define STORE_LMDB_BATCH 1000          /* records visited per write transaction */
#define STORE_LMDB_READ_BATCH 512      /* records copied per read transaction by iterate */
#define STORE_LMDB_READ_BYTES (1u << 20) /* bytes copied per read transaction (at least one record) */
#define STORE_LMDB_MAXREADERS 1024     /* concurrent Exim processes */
#define STORE_LMDB_CHECK_SECONDS 120  /* a check that takes longer cannot tell */
#define STORE_LMDB_CHECK_EVERY 600    /* seconds between checks set off by stale readers */
#define STORE_LMDB_TRIES 8             /* a write after map growth: 64 MiB doubles past 4 GiB in 7 */

struct store {
	MDB_env *env;
	MDB_dbi dbi;
	MDB_txn *rtxn;                 /* reset between reads, renewed: cheaper than begin */
	size_t map_max;                /* bytes: the map never grows past this (store_map_max) */
	unsigned map_mib, map_max_mib;
	int dead_readers;              /* stale reader slots cleared at open */
	char dir[RG_PATH_MAX];
	char path[RG_PATH_MAX];
};

static void store_lmdb_suspect(struct store *s, const char *why);

/* Report an LMDB error as RG_TEMPFAIL (and have the file checked when LMDB saw damage). */
static int store_lmdb_fail(struct store *s, const char *what, int rc, char *err, size_t errlen)
{
	if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_PANIC)
		store_lmdb_suspect(s, mdb_strerror(rc));
	if (rc == MDB_MAP_FULL)
		util_snprintf(err, errlen, "%s: %s: store full at store_map_max = %u MiB (purge, or raise store_map_max)",
			      s->path, what, s->map_max_mib);
	else
		util_snprintf(err, errlen, "%s: %s: %s", s->path, what, mdb_strerror(rc));
	return RG_TEMPFAIL;
}

/* Whether the deadline (absolute monotonic ms; 0 none) has passed. */
static int store_lmdb_late(int64_t deadline)
{
	return deadline > 0 && util_monotonic_ms() >= deadline;
}

/* Give files created by root (the CLI) to the state dir's owner (Exim's user). */
static void store_lmdb_chown(const char *dir, const char *path)
{
	struct stat d, f;
	char lock[RG_PATH_MAX + 8];

	if (geteuid() != 0 || stat(dir, &d) < 0 || d.st_uid == 0)
		return;
	if (stat(path, &f) == 0 && f.st_uid == 0 && chown(path, d.st_uid, d.st_gid) < 0)
		rglog(RGLOG_INFO, "rcptguard: store: cannot chown %s: %s", path, strerror(errno));
	if (util_snprintf(lock, sizeof lock, "%s-lock", path) == 0 && stat(lock, &f) == 0 &&
	    f.st_uid == 0 && chown(lock, d.st_uid, d.st_gid) < 0)
		rglog(RGLOG_INFO, "rcptguard: store: cannot chown %s: %s", lock, strerror(errno));
}

/* Rename a damaged file aside (flock on the state dir + inode check: see below). */
static void store_lmdb_set_aside(const char *dir, const char *path, ino_t bad_ino)
{
	char aside[RG_PATH_MAX + 48];
	struct stat st;
	int fd;

	if (util_snprintf(aside, sizeof aside, "%s.damaged-%lld", path, (long long)util_now()) < 0)
		return;
	/* Why: two processes may find the same damaged file; only the first may rename it,
	 * or the second would move away the fresh file the first just created. The lock is
	 * on the directory itself, so no lock file can end up owned by the wrong user. */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (flock(fd, LOCK_EX) == 0 && stat(path, &st) == 0 && st.st_ino == bad_ino) {
		if (rename(path, aside) == 0) {
			char lock[RG_PATH_MAX + 8];

			if (util_snprintf(lock, sizeof lock, "%s-lock", path) == 0)
				unlink(lock);
			rglog(RGLOG_ERROR, "rcptguard: store %s was damaged, set aside as %s and recreated",
			      path, aside);
		}
	}
	close(fd);
}

/* Create the environment and open the file once. */
static int store_lmdb_try(struct store *s, int *rc_out)
{
	MDB_txn *txn;
	int rc;

	s->dead_readers = 0;
	if ((rc = mdb_env_create(&s->env)) != 0)
		return *rc_out = rc, -1;
	mdb_env_set_maxreaders(s->env, STORE_LMDB_MAXREADERS);
	mdb_env_set_mapsize(s->env, (size_t)s->map_mib << 20);
	/* MDB_NOTLS: reader slots follow the transaction, not the thread (Exim is single
	 * threaded, and it keeps the slot usable across our reset/renew). */
	rc = mdb_env_open(s->env, s->path, MDB_NOSUBDIR | MDB_NOMETASYNC | MDB_NOTLS, 0660);
	if (rc == 0) {
		mdb_reader_check(s->env, &s->dead_readers);
		if (s->dead_readers > 0)
			rglog(RGLOG_DEBUG, "rcptguard: store: cleared %d stale reader(s)", s->dead_readers);
		rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
		if (rc == 0) {
			rc = mdb_dbi_open(txn, NULL, 0, &s->dbi);
			if (rc == 0)
				rc = mdb_txn_commit(txn);
			else
				mdb_txn_abort(txn);
		}
	}
	if (rc != 0) {
		mdb_env_close(s->env);
		s->env = NULL;
		return *rc_out = rc, -1;
	}
	return 0;
}

/* End the walking child: release its reader slot (a slot left behind reads as a process
 * that died in the store, and would set off another check), then exit. */
__attribute__((noreturn))
static void store_lmdb_walk_exit(MDB_env *env, MDB_txn *txn, int code)
{
	if (txn != NULL)
		mdb_txn_abort(txn);
	mdb_env_close(env);
	_exit(code);
}

/* In a child: walk every record of path's main tree, the free list and, by a compacting
 * copy to /dev/null, every page. Exit 0 sound, 1 damaged (message on fd), 2 cannot tell.
 * Why a child: LMDB has no checksums; a damaged page can crash the walker. */
static void store_lmdb_walk(const char *path, int fd)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_envinfo ei;
	MDB_stat ms;
	MDB_dbi dbi;
	MDB_val k, v;
	size_t n = 0, sum = 0, i;
	char msg[RG_ERRLEN];
	int rc, nul;

	if ((rc = mdb_env_create(&env)) != 0 || (rc = mdb_env_set_maxreaders(env, STORE_LMDB_MAXREADERS)) != 0 ||
	    (rc = mdb_env_open(env, path, MDB_NOSUBDIR | MDB_RDONLY | MDB_NOTLS, 0)) != 0 ||
	    (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0 || (rc = mdb_dbi_open(txn, NULL, 0, &dbi)) != 0 ||
	    (rc = mdb_stat(txn, dbi, &ms)) != 0) {
		snprintf(msg, sizeof msg, "cannot open: %s", mdb_strerror(rc));
		(void)!write(fd, msg, strlen(msg));
		_exit(rc == MDB_CORRUPTED || rc == MDB_INVALID || rc == MDB_PAGE_NOTFOUND || rc == MDB_PANIC ? 1 : 2);
	}
	mdb_env_info(env, &ei);
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) == 0) {
		while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
			for (i = 0; i < k.mv_size; i++)
				sum += ((const unsigned char *)k.mv_data)[i];
			for (i = 0; i < v.mv_size; i++)
				sum += ((const unsigned char *)v.mv_data)[i];
			n++;
		}
		mdb_cursor_close(cur);
	}
	if (rc != MDB_NOTFOUND || n != ms.ms_entries) {
		snprintf(msg, sizeof msg, "records: %s after %zu of %zu", rc == MDB_NOTFOUND ? "count differs" :
			 mdb_strerror(rc), n, (size_t)ms.ms_entries);
		(void)!write(fd, msg, strlen(msg));
		store_lmdb_walk_exit(env, txn, 1);
	}
	/* The free list: each record is a count and that many page numbers inside the file. */
	if ((rc = mdb_cursor_open(txn, 0, &cur)) == 0) {
		while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
			const size_t *ids = v.mv_data;

			if (v.mv_size < sizeof *ids || v.mv_size != (ids[0] + 1) * sizeof *ids)
				break;
			for (i = 1; i <= ids[0] && ids[i] <= ei.me_last_pgno; i++)
				;
			if (i <= ids[0])
				break;
		}
		mdb_cursor_close(cur);
	}
	if (rc != MDB_NOTFOUND) {
		snprintf(msg, sizeof msg, "free list: %s", rc == 0 ? "a page number out of the file" : mdb_strerror(rc));
		(void)!write(fd, msg, strlen(msg));
		store_lmdb_walk_exit(env, txn, 1);
	}
	mdb_txn_abort(txn);
	if ((nul = open("/dev/null", O_WRONLY | O_CLOEXEC)) >= 0 && (rc = mdb_env_copyfd2(env, nul, MDB_CP_COMPACT)) != 0) {
		snprintf(msg, sizeof msg, "pages: %s", mdb_strerror(rc));
		(void)!write(fd, msg, strlen(msg));
		store_lmdb_walk_exit(env, NULL, 1);
	}
	(void)sum;
	store_lmdb_walk_exit(env, NULL, 0);
}

/* Check path in a child process, bounded in time; a damaged file is set aside (the next
 * open recreates it) and logged. RG_FOUND sound, RG_NOTFOUND damaged, RG_TEMPFAIL. */
static int store_lmdb_verify_child(const char *path, const struct stat *stp, const char *dir, char *err,
				   size_t errlen);

static int store_lmdb_verify(const char *dir, const char *path, char *err, size_t errlen)
{
	struct sigaction dfl, old;
	struct stat st;
	int rc;

	if (stat(path, &st) < 0)
		return util_snprintf(err, errlen, "%s: %s", path, strerror(errno)), RG_TEMPFAIL;
	/* Why: a process that ignores SIGCHLD (as an Exim process may) gets its children
	 * reaped by the kernel, and waitpid() could not tell how the walk ended. */
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &dfl, &old);
	rc = store_lmdb_verify_child(path, &st, dir, err, errlen);
	sigaction(SIGCHLD, &old, NULL);
	return rc;
}

/* store_lmdb_verify() with SIGCHLD at its default. */
static int store_lmdb_verify_child(const char *path, const struct stat *stp, const char *dir, char *err,
				   size_t errlen)
{
	char msg[RG_ERRLEN] = "";
	struct stat st = *stp;
	int fds[2], status = 0, waited = 0;
	ssize_t got;
	pid_t pid, w;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return util_snprintf(err, errlen, "pipe: %s", strerror(errno)), RG_TEMPFAIL;
	if ((pid = fork()) < 0) {
		close(fds[0]);
		close(fds[1]);
		return util_snprintf(err, errlen, "fork: %s", strerror(errno)), RG_TEMPFAIL;
	}
	if (pid == 0) {
		close(fds[0]);
		util_child_signals();
		signal(SIGPIPE, SIG_IGN);
		alarm(STORE_LMDB_CHECK_SECONDS + 5);
		store_lmdb_walk(path, fds[1]);
		_exit(2);
	}
	close(fds[1]);
	while ((w = waitpid(pid, &status, WNOHANG)) == 0 && waited < STORE_LMDB_CHECK_SECONDS * 100) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
		waited++;
	}
	if (w == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		close(fds[0]);
		return util_snprintf(err, errlen, "%s: check took longer than %d s", path, STORE_LMDB_CHECK_SECONDS),
		       RG_TEMPFAIL;
	}
	got = read(fds[0], msg, sizeof msg - 1);
	msg[got > 0 ? got : 0] = '\0';
	close(fds[0]);
	if (w < 0)
		return util_snprintf(err, errlen, "waitpid: %s", strerror(errno)), RG_TEMPFAIL;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return RG_FOUND;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 2)
		return util_snprintf(err, errlen, "%s: cannot check: %s", path, msg), RG_TEMPFAIL;
	if (WIFSIGNALED(status))
		snprintf(msg, sizeof msg, "the walk crashed (signal %d)", WTERMSIG(status));
	rglog(RGLOG_ERROR, "rcptguard: store %s is damaged: %s", path, msg);
	util_snprintf(err, errlen, "%s is damaged: %s; set aside and recreated", path, msg);
	store_lmdb_set_aside(dir, path, st.st_ino);
	return RG_NOTFOUND;
}

/* Something suggests damage: stale reader slots at open (a process died inside the store,
 * perhaps on a damaged page), or LMDB said MDB_CORRUPTED. Check the file once (at most
 * every STORE_LMDB_CHECK_EVERY seconds, by a stamp file), in a detached child, so that
 * the session goes on at once. */
static void store_lmdb_suspect(struct store *s, const char *why)
{
	char stamp[RG_PATH_MAX + 8], err[RG_ERRLEN];
	struct stat st;
	pid_t pid;
	int fd;

	if (util_snprintf(stamp, sizeof stamp, "%s-check", s->path) < 0)
		return;
	if (stat(stamp, &st) == 0 && util_now() - (int64_t)st.st_mtime < STORE_LMDB_CHECK_EVERY)
		return;
	if ((fd = open(stamp, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0660)) < 0)
		return;
	futimens(fd, NULL);
	close(fd);
	store_lmdb_chown(s->dir, stamp);
	rglog(RGLOG_INFO, "rcptguard: store %s: %s; checking it", s->path, why);
	if ((pid = fork()) == 0) {
		util_child_signals();
		/* Why: this child may outlive the session; holding its SMTP connection (or a
		 * callout's) open would keep the peer waiting for the close. */
		for (fd = 0; fd < 1024; fd++)
			if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
				close(fd);
		/* The grandchild walks; this child waits for it, logs, sets aside, exits. */
		if (store_lmdb_verify(s->dir, s->path, err, sizeof err) == RG_TEMPFAIL)
			rglog(RGLOG_INFO, "rcptguard: store check: %s", err);
		_exit(0);
	}
}

/* Open (creating if needed) state_dir/rcptguard.mdb. */
static int store_lmdb_open(const struct settings *set, struct store **out, char *err, size_t errlen)
{
	struct store *s = calloc(1, sizeof *s);
	struct stat st;
	int rc = 0;

	if (s == NULL)
		return util_snprintf(err, errlen, "out of memory"), RG_TEMPFAIL;
	if (util_strlcpy(s->dir, set->state_dir, sizeof s->dir) < 0 ||
	    util_snprintf(s->path, sizeof s->path, "%s/" STORE_LMDB_FILE, set->state_dir) < 0) {
		free(s);
		return util_snprintf(err, errlen, "state_dir too long"), RG_CONFIG;
	}
	s->map_mib = set->lmdb.map_size;
	/* A ceiling below the initial size is the initial size: the map just never grows. */
	s->map_max_mib = set->lmdb.map_max > s->map_mib ? set->lmdb.map_max : s->map_mib;
	s->map_max = (size_t)s->map_max_mib << 20;
	if (store_lmdb_try(s, &rc) < 0) {
		/* Not on MDB_VERSION_MISMATCH: during an LMDB upgrade that is a healthy file
		 * still used by processes of the old version; it is run uncached instead. */
		if ((rc == MDB_INVALID || rc == MDB_CORRUPTED || rc == MDB_PANIC) &&
		    stat(s->path, &st) == 0) {
			store_lmdb_set_aside(s->dir, s->path, st.st_ino);
			if (store_lmdb_try(s, &rc) == 0)
				goto opened;
		}
		util_snprintf(err, errlen, "%s: %s", s->path, mdb_strerror(rc));
		free(s);
		return RG_TEMPFAIL;
	}
opened:
	store_lmdb_chown(s->dir, s->path);
	if (s->dead_readers > 0)
		store_lmdb_suspect(s, "a process died reading it");
	*out = s;
	return RG_FOUND;
}

/* Begin (or renew) the read transaction, following a map grown by another process. */
static int store_lmdb_read_begin(struct store *s)
{
	int rc;

	if (s->env == NULL)
		return EINVAL;          /* a check found the file damaged and could not recreate it */
	if (s->rtxn != NULL) {
		rc = mdb_txn_renew(s->rtxn);
		if (rc == 0)
			return 0;
		mdb_txn_abort(s->rtxn);
		s->rtxn = NULL;
	}
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->rtxn);
	if (rc == MDB_MAP_RESIZED) {
		mdb_env_set_mapsize(s->env, 0);
		rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->rtxn);
	}
	if (rc != 0)
		s->rtxn = NULL;
	return rc;
}

/* Get key; the value is copied before the transaction ends. LMDB is local: no deadline. */
static int store_lmdb_get(struct store *s, const char *key, char *val, size_t valsize, size_t *vlen,
			  int64_t deadline, char *err, size_t errlen)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	int rc;

	(void)deadline;
	if (k.mv_size == 0 || k.mv_size > STORE_KEY_MAX)
		return util_snprintf(err, errlen, "%s: bad key length", s->path), RG_CONFIG;
	if ((rc = store_lmdb_read_begin(s)) != 0)
		return store_lmdb_fail(s, "read", rc, err, errlen);
	rc = mdb_get(s->rtxn, s->dbi, &k, &v);
	if (rc == 0) {
		if (v.mv_size >= valsize) {
			mdb_txn_reset(s->rtxn);
			/* Why not a miss: a miss would be overwritten, or read as "never seen"
			 * (a new greylist triplet); the caller must know it could not read. */
			util_snprintf(err, errlen, "%s: record of %.100s too large (%zu bytes, at most %zu)",
				      s->path, key, v.mv_size, valsize ? valsize - 1 : 0);
			return RG_TEMPFAIL;
		}
		memcpy(val, v.mv_data, v.mv_size);
		val[v.mv_size] = '\0';
		if (vlen)
			*vlen = v.mv_size;
	}
	mdb_txn_reset(s->rtxn);
	if (rc == MDB_NOTFOUND)
		return RG_NOTFOUND;
	return rc == 0 ? RG_FOUND : store_lmdb_fail(s, "get", rc, err, errlen);
}

/* Begin a write transaction, following a map grown by another process. */
static int store_lmdb_write_begin(struct store *s, MDB_txn **txn)
{
	int rc = s->env == NULL ? EINVAL : mdb_txn_begin(s->env, NULL, 0, txn);

	if (rc == MDB_MAP_RESIZED) {
		mdb_env_set_mapsize(s->env, 0);
		rc = mdb_txn_begin(s->env, NULL, 0, txn);
	}
	return rc;
}

/* Double the map, up to store_map_max (no transaction of ours may be live); a delete may
 * go a quarter past it (why: on a full store, a purge or a flush is what frees room, and
 * LMDB needs fresh pages to delete). 0 grown; MDB_MAP_FULL at the ceiling; an LMDB error. */
static int store_lmdb_grow(struct store *s, int deleting)
{
	size_t limit = s->map_max + (deleting ? (s->map_max / 4 > (1u << 20) ? s->map_max / 4 : (1u << 20)) : 0);
	MDB_envinfo info;
	size_t want;

	if (s->rtxn != NULL) {
		mdb_txn_abort(s->rtxn);
		s->rtxn = NULL;
	}
	mdb_env_info(s->env, &info);
	if (info.me_mapsize >= limit) {
		rglog(RGLOG_ERROR, "rcptguard: store %s: full at store_map_max = %u MiB", s->path, s->map_max_mib);
		return MDB_MAP_FULL;
	}
	want = info.me_mapsize > limit / 2 ? limit : info.me_mapsize * 2;
	rglog(RGLOG_INFO, "rcptguard: store %s: map full, growing to %zu MiB", s->path, want >> 20);
	return mdb_env_set_mapsize(s->env, want);
}

/* End a write transaction whose work gave *rc: commit it, or abort it on an error.
 * 1 when the map was full and has grown: run the work again in a new transaction. */
static int store_lmdb_end(struct store *s, MDB_txn *txn, int *rc, int deleting)
{
	if (*rc == 0)
		*rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
	if (*rc != MDB_MAP_FULL)
		return 0;
	if ((*rc = store_lmdb_grow(s, deleting)) != 0)
		return 0;
	*rc = MDB_MAP_FULL;
	return 1;
}

/* Put key=val; the map grows on MDB_MAP_FULL. The expiry is in the value (record owners'). */
static int store_lmdb_put(struct store *s, const char *key, const char *val, size_t vlen, int64_t expires,
			  int64_t deadline, char *err, size_t errlen)
{
	MDB_val k = { strlen(key), (void *)key }, v = { vlen, (void *)val };
	MDB_txn *txn;
	int rc = 0, tries;

	(void)expires;
	(void)deadline;
	if (k.mv_size == 0 || k.mv_size > STORE_KEY_MAX)
		return util_snprintf(err, errlen, "%s: bad key length", s->path), RG_CONFIG;
	for (tries = 0; tries < STORE_LMDB_TRIES; tries++) {
		if ((rc = store_lmdb_write_begin(s, &txn)) != 0)
			return store_lmdb_fail(s, "write", rc, err, errlen);
		rc = mdb_put(txn, s->dbi, &k, &v, 0);
		if (!store_lmdb_end(s, txn, &rc, 0))
			break;
	}
	return rc == 0 ? RG_FOUND : store_lmdb_fail(s, "put", rc, err, errlen);
}

/* Read-modify-write of key in one write transaction; the map grows on MDB_MAP_FULL. */
static int store_lmdb_update(struct store *s, const char *key, store_update_fn *fn, void *arg,
			     int64_t deadline, char *err, size_t errlen)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	char out[STORE_VAL_MAX];
	size_t outlen;
	int64_t expires;
	MDB_txn *txn;
	int rc = 0, act, tries;

	(void)deadline;
	if (k.mv_size == 0 || k.mv_size > STORE_KEY_MAX)
		return util_snprintf(err, errlen, "%s: bad key length", s->path), RG_CONFIG;
	for (tries = 0; tries < STORE_LMDB_TRIES; tries++) {
		if ((rc = store_lmdb_write_begin(s, &txn)) != 0)
			return store_lmdb_fail(s, "write", rc, err, errlen);
		/* Why inside the write transaction: LMDB has one writer at a time, so no other
		 * process can change the record between this read and the write below. */
		rc = mdb_get(txn, s->dbi, &k, &v);
		if (rc != 0 && rc != MDB_NOTFOUND) {
			mdb_txn_abort(txn);
			return store_lmdb_fail(s, "get", rc, err, errlen);
		}
		outlen = 0;
		expires = 0;
		act = fn(rc == 0 ? v.mv_data : NULL, rc == 0 ? v.mv_size : 0, out, sizeof out, &outlen, &expires, arg);
		if (act == STORE_UPDATE_KEEP || act < 0 || (act == STORE_UPDATE_DEL && rc != 0)) {
			mdb_txn_abort(txn);
			if (act < 0)
				return util_snprintf(err, errlen, "%s: update of %.100s abandoned", s->path, key),
				       RG_CONFIG;
			return RG_FOUND;
		}
		if (act == STORE_UPDATE_DEL) {
			rc = mdb_del(txn, s->dbi, &k, NULL);
		} else if (outlen > sizeof out) {
			mdb_txn_abort(txn);
			return util_snprintf(err, errlen, "%s: update value too large", s->path), RG_CONFIG;
		} else {
			v.mv_size = outlen;
			v.mv_data = out;
			rc = mdb_put(txn, s->dbi, &k, &v, 0);
		}
		if (!store_lmdb_end(s, txn, &rc, act == STORE_UPDATE_DEL))
			break;
	}
	return rc == 0 ? RG_FOUND : store_lmdb_fail(s, "update", rc, err, errlen);
}

/* Delete key; the map grows on MDB_MAP_FULL (a delete copies pages too). */
static int store_lmdb_del(struct store *s, const char *key, int64_t deadline, char *err, size_t errlen)
{
	MDB_val k = { strlen(key), (void *)key };
	MDB_txn *txn;
	int rc = 0, tries;

	(void)deadline;
	if (k.mv_size == 0 || k.mv_size > STORE_KEY_MAX)
		return util_snprintf(err, errlen, "%s: bad key length", s->path), RG_CONFIG;
	for (tries = 0; tries < STORE_LMDB_TRIES; tries++) {
		if ((rc = store_lmdb_write_begin(s, &txn)) != 0)
			return store_lmdb_fail(s, "write", rc, err, errlen);
		rc = mdb_del(txn, s->dbi, &k, NULL);
		if (rc == MDB_NOTFOUND) {
			mdb_txn_abort(txn);
			return RG_NOTFOUND;
		}
		if (!store_lmdb_end(s, txn, &rc, 1))
			break;
	}
	return rc == 0 ? RG_FOUND : store_lmdb_fail(s, "del", rc, err, errlen);
}

/* Records copied out of one read transaction: keys and values NUL-terminated in buf. */
struct store_lmdb_batch {
	char *buf;
	size_t used, cap, n;
	size_t off[STORE_LMDB_READ_BATCH][4];   /* key offset, key length, value offset, value length */
};

/* Append one record to the batch; -1 out of memory. */
static int store_lmdb_batch_add(struct store_lmdb_batch *b, const MDB_val *k, const MDB_val *v)
{
	size_t need = k->mv_size + v->mv_size + 2;

	if (b->used + need > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		char *p;

		while (cap < b->used + need)
			cap *= 2;
		if ((p = realloc(b->buf, cap)) == NULL)
			return -1;
		b->buf = p;
		b->cap = cap;
	}
	b->off[b->n][0] = b->used;
	b->off[b->n][1] = k->mv_size;
	memcpy(b->buf + b->used, k->mv_data, k->mv_size);
	b->used += k->mv_size;
	b->buf[b->used++] = '\0';
	b->off[b->n][2] = b->used;
	b->off[b->n][3] = v->mv_size;
	memcpy(b->buf + b->used, v->mv_data, v->mv_size);
	b->used += v->mv_size;
	b->buf[b->used++] = '\0';
	b->n++;
	return 0;
}

/* Copy the next batch of records with prefix, from the key after resume (or the first
 * one when rlen is 0), in one read transaction. *more: records may follow. */
static int store_lmdb_batch_read(struct store *s, const char *prefix, size_t plen, char *resume, size_t *rlen,
				 struct store_lmdb_batch *b, int *more)
{
	MDB_val k, v;
	MDB_cursor *cur;
	int rc, op;

	b->n = b->used = 0;
	*more = 0;
	if ((rc = store_lmdb_read_begin(s)) != 0)
		return rc;
	if ((rc = mdb_cursor_open(s->rtxn, s->dbi, &cur)) != 0) {
		mdb_txn_reset(s->rtxn);
		return rc;
	}
	k.mv_size = *rlen ? *rlen : plen;
	k.mv_data = *rlen ? resume : (void *)prefix;
	op = k.mv_size ? MDB_SET_RANGE : MDB_FIRST;
	while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (*rlen && k.mv_size == *rlen && memcmp(k.mv_data, resume, *rlen) == 0)
			continue;       /* the last record of the previous batch */
		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
			break;
		if (b->n == STORE_LMDB_READ_BATCH || (b->n > 0 && b->used + k.mv_size + v.mv_size > STORE_LMDB_READ_BYTES)) {
			*more = 1;
			break;
		}
		if (k.mv_size > STORE_KEY_MAX || store_lmdb_batch_add(b, &k, &v) < 0) {
			rc = ENOMEM;
			break;
		}
	}
	mdb_cursor_close(cur);
	mdb_txn_reset(s->rtxn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	if (b->n > 0) {
		*rlen = b->off[b->n - 1][1];
		memcpy(resume, b->buf + b->off[b->n - 1][0], *rlen);
	}
	return 0;
}

/* Visit records with prefix: copied in batches, fn called between read transactions
 * (why: a slow reader, such as `cache list | less`, must not pin pages that writers need). */
static int store_lmdb_iterate(struct store *s, const char *prefix, store_iter_fn *fn, void *arg,
			      int64_t deadline, char *err, size_t errlen)
{
	struct store_lmdb_batch *b = calloc(1, sizeof *b);
	char resume[STORE_KEY_MAX + 1];
	size_t plen = strlen(prefix), rlen = 0, i;
	int rc = 0, more = 1, stop = 0;

	if (b == NULL)
		return util_snprintf(err, errlen, "out of memory"), RG_TEMPFAIL;
	while (more && !stop) {
		if (store_lmdb_late(deadline)) {
			rc = -1;
			util_snprintf(err, errlen, "%s: iterate: deadline passed", s->path);
			break;
		}
		if ((rc = store_lmdb_batch_read(s, prefix, plen, resume, &rlen, b, &more)) != 0) {
			store_lmdb_fail(s, "iterate", rc, err, errlen);
			break;
		}
		for (i = 0; i < b->n && !stop; i++)
			stop = fn(b->buf + b->off[i][0], b->off[i][1], b->buf + b->off[i][2], b->off[i][3], arg);
	}
	free(b->buf);
	free(b);
	return rc == 0 ? RG_FOUND : RG_TEMPFAIL;
}

/* One write transaction of delete_if: visit up to STORE_LMDB_BATCH records from resume,
 * delete those pred picks. Sets *more and the next resume key only when it committed. */
static int store_lmdb_delete_batch(struct store *s, const char *prefix, size_t plen, store_pred_fn *pred,
				   void *arg, char *resume, size_t *rlen, size_t *deleted, int *more)
{
	char next[STORE_KEY_MAX + 1];
	size_t visited, nlen = 0, n = 0;
	MDB_val k, v;
	MDB_txn *txn;
	MDB_cursor *cur;
	int rc, op, again = 0;

	if ((rc = store_lmdb_write_begin(s, &txn)) != 0)
		return rc;
	if ((rc = mdb_cursor_open(txn, s->dbi, &cur)) != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	k.mv_size = *rlen;
	k.mv_data = resume;
	op = *rlen ? MDB_SET_RANGE : MDB_FIRST;
	/* Why bounded by records visited, not deleted: a walk that deletes little must
	 * not hold the writer lock (which every Exim process waits on) for long. */
	for (visited = 0; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; visited++) {
		op = MDB_NEXT;
		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
			break;
		if (visited >= STORE_LMDB_BATCH) {
			/* Resume here in the next transaction. */
			nlen = k.mv_size < sizeof next ? k.mv_size : sizeof next - 1;
			memcpy(next, k.mv_data, nlen);
			again = 1;
			break;
		}
		if (pred(k.mv_data, k.mv_size, v.mv_data, v.mv_size, arg)) {
			if ((rc = mdb_cursor_del(cur, 0)) != 0)
				break;
			n++;
			/* LMDB marks the cursor after a delete: MDB_NEXT then
			 * yields the record that followed, without skipping. */
		}
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return rc;
	*deleted += n;
	*more = again;
	if (again) {
		memcpy(resume, next, nlen);
		*rlen = nlen;
	}
	return 0;
}

/* Delete matching records in bounded write transactions (writers are not held up long);
 * the map grows on MDB_MAP_FULL (a purge must work exactly when the store is full). */
static int store_lmdb_delete_if(struct store *s, const char *prefix, store_pred_fn *pred, void *arg,
				size_t *deleted, int64_t deadline, char *err, size_t errlen)
{
	char resume[STORE_KEY_MAX + 1];
	size_t plen = strlen(prefix), rlen;
	int rc, more = 1, grown = 0;

	if (plen > STORE_KEY_MAX)
		return util_snprintf(err, errlen, "%s: bad prefix length", s->path), RG_CONFIG;
	memcpy(resume, prefix, plen);
	rlen = plen;
	*deleted = 0;
	while (more) {
		if (store_lmdb_late(deadline))
			return util_snprintf(err, errlen, "%s: delete: deadline passed after %zu record(s)",
					     s->path, *deleted), RG_TEMPFAIL;
		rc = store_lmdb_delete_batch(s, prefix, plen, pred, arg, resume, &rlen, deleted, &more);
		if (rc == MDB_MAP_FULL && grown < STORE_LMDB_TRIES && (rc = store_lmdb_grow(s, 1)) == 0) {
			grown++;
			continue;       /* the batch was aborted: run it again on the larger map */
		}
		if (rc != 0)
			return store_lmdb_fail(s, "delete", rc, err, errlen);
		grown = 0;
		/* Why: Exim processes waiting for the writer lock get it between two batches
		 * (a purge of a million records must not stall greylisting for its duration). */
		if (more)
			sched_yield();
	}
	return RG_FOUND;
}

/* What the store holds and where. */
static int store_lmdb_info(struct store *s, struct store_info *out, char *err, size_t errlen)
{
	MDB_envinfo ei;
	MDB_stat ms;
	struct stat st;
	int rc;

	util_strlcpy(out->member, "lmdb", sizeof out->member);
	util_strlcpy(out->where, s->path, sizeof out->where);
	util_strlcpy(out->role, "file", sizeof out->role);
	out->rtt_us = -1;
	out->fallback = 0;
	if ((rc = store_lmdb_read_begin(s)) != 0)
		return store_lmdb_fail(s, "read", rc, err, errlen);
	rc = mdb_stat(s->rtxn, s->dbi, &ms);
	mdb_txn_reset(s->rtxn);
	if (rc != 0)
		return store_lmdb_fail(s, "stat", rc, err, errlen);
	out->keys = (long long)ms.ms_entries;
	out->bytes = stat(s->path, &st) == 0 ? (long long)st.st_blocks * 512 : -1;
	if (s->env == NULL)
		return store_lmdb_fail(s, "info", EINVAL, err, errlen);
	mdb_env_info(s->env, &ei);
	util_snprintf(out->detail, sizeof out->detail,
		      "map %zu MiB (grows to store_map_max = %u MiB), %zu KiB used, %u reader slot(s) in use",
		      ei.me_mapsize >> 20, s->map_max_mib,
		      ((size_t)ei.me_last_pgno + 1) * ms.ms_psize >> 10, ei.me_numreaders);
	return RG_FOUND;
}

/* Check the file in a child; a damaged one is set aside and this handle reopened on a
 * fresh file. */
static int store_lmdb_check(struct store *s, char *err, size_t errlen)
{
	int rc = store_lmdb_verify(s->dir, s->path, err, errlen), orc = 0;

	if (rc != RG_NOTFOUND)
		return rc;
	if (s->rtxn != NULL)
		mdb_txn_abort(s->rtxn);
	s->rtxn = NULL;
	mdb_env_close(s->env);
	s->env = NULL;
	if (store_lmdb_try(s, &orc) < 0) {
		/* Why not leave env NULL: every later op would crash; reopen or fail loudly. */
		rglog(RGLOG_ERROR, "rcptguard: store %s: cannot recreate: %s", s->path, mdb_strerror(orc));
		return RG_NOTFOUND;
	}
	store_lmdb_chown(s->dir, s->path);
	return RG_NOTFOUND;
}

/* Close the environment (only in the process that opened it). */
static void store_lmdb_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->rtxn != NULL)
		mdb_txn_abort(s->rtxn);
	mdb_env_close(s->env);
	free(s);
}

const struct store_ops store_lmdb_ops = {
	.name = "lmdb",
	.caps = STORE_CAP_ORDERED,
	.open = store_lmdb_open,
	.get = store_lmdb_get,
	.put = store_lmdb_put,
	.del = store_lmdb_del,
	.iterate = store_lmdb_iterate,
	.delete_if = store_lmdb_delete_if,
	.update = store_lmdb_update,
	.info = store_lmdb_info,
	.check = store_lmdb_check,
	.close = store_lmdb_close,
};
