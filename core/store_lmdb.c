/*
 * store_lmdb.c - the "lmdb" store: LMDB files in state_dir shared by every Exim process.
 *
 * Two environments, by what a crash may cost:
 *   rcptguard.mdb  verdicts, catch-all and FCrDNS records (every key but the greylist's);
 *   greylist.mdb   greylisting triplets and auto-whitelist entries (g: and a:, as
 *                  greylist_key.c makes them), opened on the first greylisting operation.
 *
 * Durability of rcptguard.mdb: MDB_NOMETASYNC. Each commit syncs the data pages but not
 * the meta page, so an OS crash or power loss can undo the last committed transaction(s),
 * and never corrupt the file (LMDB keeps two meta pages and picks the last complete one).
 * That is right for a cache: a lost verdict is asked again.
 *
 * Durability of greylist.mdb (greylist_sync = no, the default): MDB_NOSYNC, no fsync per
 * decision (a new triplet is a write; the fsync was most of its cost). Why it is safe: an
 * OS crash can leave that file torn, so a boot stamp beside it (store_lmdb_boot.c) says
 * whether it holds commits not yet synced and in which boot; a file with unsynced commits
 * of an earlier boot is set aside (greylist.mdb.unsynced-TIME) and recreated, logged once,
 * before anyone uses it. The cost of a crash is bounded to greylisting starting afresh
 * (one more delay per triplet); verdicts are never touched. Every writer checks the stamp
 * inside its write transaction (LMDB's writer lock orders it against the sync below) and
 * marks it "dirty BOOT" durably before its first unsynced commit; the process that closes
 * the store last (the CLI once Exim is stopped, a quiet gateway), or the first to close
 * it a minute after it went dirty (a busy one), syncs the file and marks it "synced".
 * greylist_sync = yes opens greylist.mdb like rcptguard.mdb.
 *
 * MDB_WRITEMAP is not used, because it turns a full disk into SIGBUS in the Exim process;
 * without it a full disk is ENOSPC at commit, which we report as RG_TEMPFAIL (the check
 * runs uncached).
 *
 * Processes killed while reading leave reader slots that pin old pages; every open
 * clears them (mdb_reader_check), so the file stays bounded. A file that is not a valid
 * LMDB is set aside (renamed *.damaged-TIME) and recreated: the store is rebuildable.
 *
 * rcptguard.mdb is opened read-only (MDB_RDONLY) and reopened read-write before this
 * process's first write (store_lmdb_writable). Why: most Exim connection processes only
 * read a cached verdict, and a read-write environment costs each of them LMDB's write-side
 * buffers (3 MiB of free and dirty page lists, mmap'd and unmapped again by malloc, a page
 * buffer, a write transaction) and a second descriptor of the file (O_DSYNC). A file that
 * cannot be opened read-only (missing, empty, damaged) takes the read-write way at once.
 * greylist.mdb is always opened read-write: greylisting writes at nearly every decision
 * (a new triplet, a pass, an auto-whitelist renewal), so a read-only open would only add
 * a close and a second open. The boot id is read when greylist.mdb is first opened.
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
#include "greylist_key.h"
#include "rglog.h"
#include "store.h"
#include "store_lmdb_boot.h"

#define STORE_LMDB_FILE "rcptguard.mdb"
#define STORE_LMDB_GREY_FILE "greylist.mdb"
#define STORE_LMDB_BATCH 1000          /* records visited per write transaction */
#define STORE_LMDB_READ_BATCH 512      /* records copied per read transaction by iterate */
#define STORE_LMDB_READ_BYTES (1u << 20) /* bytes copied per read transaction (at least one record) */
#define STORE_LMDB_MAXREADERS 1024     /* concurrent Exim processes */
#define STORE_LMDB_CHECK_SECONDS 120  /* a check that takes longer cannot tell */
#define STORE_LMDB_CHECK_EVERY 600    /* seconds between checks set off by stale readers */
#define STORE_LMDB_TRIES 8             /* a write after map growth: 64 MiB doubles past 4 GiB in 7 */
#define STORE_LMDB_SYNC_EVERY 60       /* seconds: greylist.mdb unsynced at most this long, while busy */

enum { STORE_LMDB_MAIN = 0, STORE_LMDB_GREY = 1, STORE_LMDB_ENVS = 2 };

/* One LMDB environment (file) of the store. */
struct store_lmdb_env {
	MDB_env *env;                  /* NULL: not open (greylist.mdb until first used) */
	MDB_dbi dbi;
	MDB_txn *rtxn;                 /* reset between reads, renewed: cheaper than begin */
	unsigned flags;                /* mdb_env_open flags (read-write) */
	int rdonly;                    /* 1: opened MDB_RDONLY; the first write reopens it */
	int unsynced;                  /* 1: MDB_NOSYNC, guarded by the boot stamp */
	int dead_readers;              /* stale reader slots cleared at open */
	dev_t stamp_dev;               /* the boot stamp last seen saying "dirty" of this boot */
	ino_t stamp_ino;
	struct timespec stamp_mtime;
	char *path;                    /* in struct store's names[] */
	char *stamp;                   /* path-boot: the boot stamp (greylist.mdb only, else "") */
};

struct store {
	struct store_lmdb_env e[STORE_LMDB_ENVS];
	size_t map_max;                /* bytes: the map never grows past this (store_map_max) */
	unsigned map_mib, map_max_mib;
	char boot[STORE_LMDB_BOOT_ID_MAX]; /* the running kernel's boot id ("" unknown) */
	int grey_sync;                 /* greylist_sync */
	int grey_ready;                /* 1: boot id read, greylist.mdb's flags set */
	char gkey[2][32];              /* the greylist owner's key prefixes ("g:", "a:") */
	int grey_fresh;                /* 1: this process found no greylist.mdb and creates it */
	char *dir;
	/* The state dir and the paths, sized to the state dir, not RG_PATH_MAX each. Why: every
	 * connection process writes this struct, and each page of it costs that process a fault. */
	char names[];
};

static void store_lmdb_suspect(struct store *s, struct store_lmdb_env *e, const char *why);

/* Report an LMDB error as RG_TEMPFAIL (and have the file checked when LMDB saw damage). */
static int store_lmdb_fail(struct store *s, struct store_lmdb_env *e, const char *what, int rc, char *err,
			   size_t errlen)
{
	if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_PANIC)
		store_lmdb_suspect(s, e, mdb_strerror(rc));
	if (rc == MDB_MAP_FULL)
		util_snprintf(err, errlen, "%s: %s: store full at store_map_max = %u MiB (purge, or raise store_map_max)",
			      e->path, what, s->map_max_mib);
	else
		util_snprintf(err, errlen, "%s: %s: %s", e->path, what, mdb_strerror(rc));
	return RG_TEMPFAIL;
}

/* Whether the deadline (absolute monotonic ms; 0 none) has passed. */
static int store_lmdb_late(int64_t deadline)
{
	return deadline > 0 && util_monotonic_ms() >= deadline;
}

/* Give files created by root (the CLI) to the state dir's owner (Exim's user). */
static RG_HOT void store_lmdb_chown(const char *dir, const char *path)
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

/* Rename path (whose inode is bad_ino) to path.KIND-TIME (-TIME.N when that is taken: an
 * earlier file set aside is evidence, never overwritten), and remove its lock file; the
 * caller holds the state dir's flock. 1 renamed (aside names it), 0 not. */
static int store_lmdb_move_aside(const char *path, ino_t bad_ino, const char *kind, char *aside, size_t size)
{
	char lock[RG_PATH_MAX + 8];
	struct stat st;
	int n = 0;

	if (util_snprintf(aside, size, "%s.%s-%lld", path, kind, (long long)util_now()) < 0)
		return 0;
	while (lstat(aside, &st) == 0 && ++n < 100)
		if (util_snprintf(aside, size, "%s.%s-%lld.%d", path, kind, (long long)util_now(), n) < 0)
			return 0;
	if (stat(path, &st) < 0 || st.st_ino != bad_ino || rename(path, aside) < 0)
		return 0;
	if (util_snprintf(lock, sizeof lock, "%s-lock", path) == 0)
		unlink(lock);
	return 1;
}

/* The state dir, opened and flock()ed (-1 when it cannot be). Why a lock on the directory
 * itself: no lock file can end up owned by the wrong user. */
static int store_lmdb_dir_lock(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0 && flock(fd, LOCK_EX) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Rename a damaged file aside (flock on the state dir + inode check: see below). */
static void store_lmdb_set_aside(const char *dir, const char *path, ino_t bad_ino)
{
	char aside[RG_PATH_MAX + 48];
	int fd;

	/* Why: two processes may find the same damaged file; only the first may rename it,
	 * or the second would move away the fresh file the first just created. */
	if ((fd = store_lmdb_dir_lock(dir)) < 0)
		return;
	if (store_lmdb_move_aside(path, bad_ino, "damaged", aside, sizeof aside))
		rglog(RGLOG_ERROR, "rcptguard: store %s was damaged, set aside as %s and recreated", path, aside);
	close(fd);
}

/* Create the environment and open the file once (ro: MDB_RDONLY). */
static RG_HOT int store_lmdb_try(struct store *s, struct store_lmdb_env *e, int ro, int *rc_out)
{
	MDB_txn *txn;
	int rc;

	e->dead_readers = 0;
	e->rdonly = ro;
	if ((rc = mdb_env_create(&e->env)) != 0)
		return *rc_out = rc, -1;
	mdb_env_set_maxreaders(e->env, STORE_LMDB_MAXREADERS);
	mdb_env_set_mapsize(e->env, (size_t)s->map_mib << 20);
	/* MDB_NOTLS: reader slots follow the transaction, not the thread (Exim is single
	 * threaded, and it keeps the slot usable across our reset/renew). */
	rc = mdb_env_open(e->env, e->path, e->flags | (ro ? MDB_RDONLY : 0), 0660);
	if (rc == 0) {
		mdb_reader_check(e->env, &e->dead_readers);
		if (e->dead_readers > 0)
			rglog(RGLOG_DEBUG, "rcptguard: store: cleared %d stale reader(s)", e->dead_readers);
		rc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn);
		if (rc == 0) {
			rc = mdb_dbi_open(txn, NULL, 0, &e->dbi);
			if (rc == 0)
				rc = mdb_txn_commit(txn);
			else
				mdb_txn_abort(txn);
		}
	}
	if (rc != 0) {
		mdb_env_close(e->env);
		e->env = NULL;
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
		/* Why: this child exists to die on a damaged page; its death by SIGSEGV or
		 * SIGBUS is the answer, so no inherited handler (Exim's, a sanitizer's) may
		 * turn it into a crash report or a hang. */
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
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
static void store_lmdb_suspect(struct store *s, struct store_lmdb_env *e, const char *why)
{
	char stamp[RG_PATH_MAX + 8], err[RG_ERRLEN];
	struct stat st;
	pid_t pid;
	int fd;

	if (util_snprintf(stamp, sizeof stamp, "%s-check", e->path) < 0)
		return;
	if (stat(stamp, &st) == 0 && util_now() - (int64_t)st.st_mtime < STORE_LMDB_CHECK_EVERY)
		return;
	if ((fd = open(stamp, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0660)) < 0)
		return;
	futimens(fd, NULL);
	close(fd);
	store_lmdb_chown(s->dir, stamp);
	rglog(RGLOG_INFO, "rcptguard: store %s: %s; checking it", e->path, why);
	if ((pid = fork()) == 0) {
		util_child_signals();
		/* Why: this child may outlive the session; holding its SMTP connection (or a
		 * callout's) open would keep the peer waiting for the close. */
		for (fd = 0; fd < 1024; fd++)
			if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
				close(fd);
		/* The grandchild walks; this child waits for it, logs, sets aside, exits. */
		if (store_lmdb_verify(s->dir, e->path, err, sizeof err) == RG_TEMPFAIL)
			rglog(RGLOG_INFO, "rcptguard: store check: %s", err);
		_exit(0);
	}
}

/* Open env (creating the file if needed), read-only when ro and the file allows it; a
 * file that is not a valid LMDB is set aside and recreated. 0, or the LMDB error (err). */
static RG_HOT int store_lmdb_env_open(struct store *s, struct store_lmdb_env *e, int ro, char *err, size_t errlen)
{
	struct stat st;
	int rc = 0;

	/* Why whatever fails read-only goes the read-write way, as every open did before: a
	 * missing or empty file is created there, a damaged one set aside, and the error of
	 * that open (a version mismatch, a permission) is the one to report. */
	if (ro && store_lmdb_try(s, e, 1, &rc) == 0)
		goto opened;
	if (store_lmdb_try(s, e, 0, &rc) < 0) {
		/* Not on MDB_VERSION_MISMATCH: during an LMDB upgrade that is a healthy file
		 * still used by processes of the old version; it is run uncached instead. */
		if ((rc == MDB_INVALID || rc == MDB_CORRUPTED || rc == MDB_PANIC) && stat(e->path, &st) == 0) {
			store_lmdb_set_aside(s->dir, e->path, st.st_ino);
			if (store_lmdb_try(s, e, 0, &rc) == 0)
				goto opened;
		}
		util_snprintf(err, errlen, "%s: %s", e->path, mdb_strerror(rc));
		return rc;
	}
opened:
	/* Also read-only: the open may have created the lock file. */
	store_lmdb_chown(s->dir, e->path);
	if (e->dead_readers > 0)
		store_lmdb_suspect(s, e, "a process died reading it");
	return 0;
}

/*
 * Before the first write through a read-only env: close it and open it read-write. Why
 * close first: LMDB forbids two environments on one file in one process (the second
 * open would take the first's locks for its own, and closing either drops both). Nothing
 * of the old map is in use: values are copied out and read transactions end before any
 * write begins. When the file cannot be opened read-write, it is opened read-only again,
 * so that reads go on. 0, or the LMDB error of the read-write open.
 */
static int store_lmdb_writable(struct store *s, struct store_lmdb_env *e)
{
	char err[RG_ERRLEN];
	int rc, orc = 0;

	if (e->env == NULL || !e->rdonly)
		return 0;
	if (e->rtxn != NULL)
		mdb_txn_abort(e->rtxn);         /* frees this process's reader slot */
	e->rtxn = NULL;
	mdb_env_close(e->env);
	e->env = NULL;
	if ((rc = store_lmdb_env_open(s, e, 0, err, sizeof err)) != 0 && store_lmdb_try(s, e, 1, &orc) < 0)
		rglog(RGLOG_ERROR, "rcptguard: store %s: cannot reopen: %s", e->path, mdb_strerror(orc));
	return rc;
}

/*
 * Before greylist.mdb is opened: unless its boot stamp says "synced" or "dirty" of this
 * boot, the file may hold commits that an OS crash tore. Under the state dir's lock, look
 * again (another process may have done it), set the file aside, log once, and stamp the
 * fresh one "synced". Also for greylist_sync = yes: it may have been "no" before the crash.
 */
static int store_lmdb_grey_boot(struct store *s, struct store_lmdb_env *e, char *err, size_t errlen)
{
	char seen[STORE_LMDB_BOOT_ID_MAX], aside[RG_PATH_MAX + 48];
	struct stat st;
	int state, fd, rc = RG_FOUND;

	state = store_lmdb_boot_read(e->stamp, s->boot, seen, sizeof seen);
	if (state == STORE_LMDB_BOOT_SYNCED || state == STORE_LMDB_BOOT_DIRTY_NOW)
		return RG_FOUND;
	if ((fd = store_lmdb_dir_lock(s->dir)) < 0)
		return util_snprintf(err, errlen, "%s: cannot lock: %s", s->dir, strerror(errno)), RG_TEMPFAIL;
	state = store_lmdb_boot_read(e->stamp, s->boot, seen, sizeof seen);
	if (state == STORE_LMDB_BOOT_SYNCED || state == STORE_LMDB_BOOT_DIRTY_NOW) {
		close(fd);
		return RG_FOUND;
	}
	/* Why not set aside: a stamp this process cannot read (another user's) says nothing
	 * about the file, which other processes may be using well. */
	if (state == STORE_LMDB_BOOT_UNREADABLE) {
		util_snprintf(err, errlen, "%s: %s", e->stamp, strerror(errno));
		close(fd);
		return RG_TEMPFAIL;
	}
	s->grey_fresh = stat(e->path, &st) < 0 && errno == ENOENT;
	if (!s->grey_fresh) {
		/* A file without a stamp has an unknown past: it is not trusted either. */
		if (store_lmdb_move_aside(e->path, st.st_ino, "unsynced", aside, sizeof aside))
			rglog(RGLOG_ERROR, "rcptguard: store %s %s%.40s: it may be torn, set aside as %s and "
			      "recreated (greylisting starts afresh; verdicts are kept)", e->path,
			      state == STORE_LMDB_BOOT_DIRTY_BEFORE ? "held unsynced commits when the system went "
			      "down, boot " : "has no boot stamp", seen, aside);
		else if (stat(e->path, &st) == 0) {
			util_snprintf(err, errlen, "%s: cannot set aside: %s", e->path, strerror(errno));
			rc = RG_TEMPFAIL;
		}
	}
	if (rc == RG_FOUND && store_lmdb_boot_write(s->dir, e->stamp, NULL, err, errlen) < 0)
		rc = RG_TEMPFAIL;
	close(fd);
	return rc;
}

/* Inside a write transaction of an unsynced env: make sure the boot stamp says "dirty" of
 * this boot, on disk, before the commit. 0, or an errno value. */
static int store_lmdb_grey_dirty(struct store *s, struct store_lmdb_env *e)
{
	char err[RG_ERRLEN];
	struct stat st;

	/* The common case costs one stat(): the stamp is replaced by rename, so the same
	 * inode and time (an inode number alone may be reused) say what they said when this
	 * process last read them. */
	if (stat(e->stamp, &st) == 0 && st.st_ino == e->stamp_ino && st.st_dev == e->stamp_dev &&
	    st.st_mtim.tv_sec == e->stamp_mtime.tv_sec && st.st_mtim.tv_nsec == e->stamp_mtime.tv_nsec)
		return 0;
	if (store_lmdb_boot_read(e->stamp, s->boot, NULL, 0) != STORE_LMDB_BOOT_DIRTY_NOW) {
		if (store_lmdb_boot_write(s->dir, e->stamp, s->boot, err, sizeof err) < 0) {
			int why = errno ? errno : EIO;

			rglog(RGLOG_ERROR, "rcptguard: store: %.200s", err);
			return why;
		}
	}
	if (stat(e->stamp, &st) == 0) {
		e->stamp_ino = st.st_ino;
		e->stamp_dev = st.st_dev;
		e->stamp_mtime = st.st_mtim;
	}
	return 0;
}

/* mdb_reader_list callback: count the lines that name a live reader (a pid first). */
static int store_lmdb_count_reader(const char *line, void *arg)
{
	line += strspn(line, " ");
	if (*line >= '0' && *line <= '9')
		(*(int *)arg)++;
	return 0;
}

/*
 * At close of an unsynced env: sync it and stamp it "synced" when this process is the last
 * one using it (no other live reader slot: the CLI after Exim stopped, a quiet gateway),
 * or when the stamp has said "dirty" for STORE_LMDB_SYNC_EVERY seconds (a busy gateway:
 * one process in a while pays the sync, at its QUIT). Why inside a write transaction:
 * LMDB's writer lock keeps every other process from committing between the sync and the
 * stamp.
 */
static void store_lmdb_grey_sync(struct store *s, struct store_lmdb_env *e)
{
	char err[RG_ERRLEN];
	struct stat st;
	MDB_txn *txn;
	int rc, others = 0, dead;

	if (e->env == NULL || !e->unsynced || stat(e->stamp, &st) < 0 ||
	    store_lmdb_boot_read(e->stamp, s->boot, NULL, 0) != STORE_LMDB_BOOT_DIRTY_NOW)
		return;
	if (e->rtxn != NULL) {
		mdb_txn_abort(e->rtxn);         /* frees this process's reader slot */
		e->rtxn = NULL;
	}
	mdb_reader_check(e->env, &dead);
	mdb_reader_list(e->env, store_lmdb_count_reader, &others);
	if (others > 0 && util_now() - (int64_t)st.st_mtime < STORE_LMDB_SYNC_EVERY)
		return;
	if (mdb_txn_begin(e->env, NULL, 0, &txn) != 0)
		return;
	if ((rc = mdb_env_sync(e->env, 1)) != 0)
		rglog(RGLOG_INFO, "rcptguard: store %s: sync: %s", e->path, mdb_strerror(rc));
	else if (store_lmdb_boot_write(s->dir, e->stamp, NULL, err, sizeof err) < 0)
		rglog(RGLOG_INFO, "rcptguard: store: %.200s", err);
	mdb_txn_abort(txn);
	e->stamp_ino = 0;
}

static void store_lmdb_grey_migrate(struct store *s);

/* Open greylist.mdb on first use (the boot id read then, once). RG_FOUND or RG_TEMPFAIL. */
static int store_lmdb_grey_open(struct store *s, char *err, size_t errlen)
{
	struct store_lmdb_env *e = &s->e[STORE_LMDB_GREY];
	char berr[RG_ERRLEN];

	if (e->env != NULL)
		return RG_FOUND;
	if (!s->grey_ready) {
		if (store_lmdb_boot_id(s->boot, sizeof s->boot, berr, sizeof berr) < 0)
			/* Why synced then: without a boot id, a torn file could not be told apart. */
			rglog(RGLOG_DEBUG, "rcptguard: store: %s: greylist.mdb is synced at each commit", berr);
		else if (!s->grey_sync) {
			e->flags = MDB_NOSUBDIR | MDB_NOSYNC | MDB_NOTLS;
			e->unsynced = 1;
		}
		s->grey_ready = 1;
	}
	s->grey_fresh = 0;
	if (store_lmdb_grey_boot(s, e, err, errlen) != RG_FOUND ||
	    store_lmdb_env_open(s, e, 0, err, errlen) != 0)
		return RG_TEMPFAIL;
	if (s->grey_fresh)
		store_lmdb_grey_migrate(s);
	return RG_FOUND;
}

/* Which env holds every key starting with key[0..len): STORE_LMDB_MAIN or _GREY, or -1
 * when keys of both may (a prefix shorter than the greylist's, such as ""). */
static RG_HOT int store_lmdb_class(const struct store *s, const char *key, size_t len)
{
	int both = 0;
	size_t i, gl;

	for (i = 0; i < 2; i++) {
		gl = strlen(s->gkey[i]);
		if (gl == 0)
			continue;
		if (len >= gl && memcmp(key, s->gkey[i], gl) == 0)
			return STORE_LMDB_GREY;
		if (len < gl && memcmp(key, s->gkey[i], len) == 0)
			both = 1;
	}
	return both ? -1 : STORE_LMDB_MAIN;
}

/* The env of one record's key, opened. NULL with err set when it cannot be. */
static RG_HOT struct store_lmdb_env *store_lmdb_env_of(struct store *s, const char *key, char *err, size_t errlen)
{
	if (store_lmdb_class(s, key, strlen(key)) != STORE_LMDB_GREY)
		return &s->e[STORE_LMDB_MAIN];
	return store_lmdb_grey_open(s, err, errlen) == RG_FOUND ? &s->e[STORE_LMDB_GREY] : NULL;
}

/* Open (creating if needed) state_dir/rcptguard.mdb, read-only until the first write;
 * greylist.mdb waits for first use. */
static RG_HOT int store_lmdb_open(const struct settings *set, struct store **out, char *err, size_t errlen)
{
	size_t dl = strlen(set->state_dir), each = dl + sizeof "/" STORE_LMDB_FILE "/" STORE_LMDB_GREY_FILE "-boot";
	struct store_lmdb_env *m, *g;
	struct store *s;
	char *p;

	/* Each file's path must fit RG_PATH_MAX, as the buffers made from it (lock file,
	 * set-aside names) expect. */
	if (dl + sizeof "/" STORE_LMDB_FILE > RG_PATH_MAX || dl + sizeof "/" STORE_LMDB_GREY_FILE > RG_PATH_MAX)
		return util_snprintf(err, errlen, "state_dir too long"), RG_CONFIG;
	if ((s = calloc(1, sizeof *s + 5 * each)) == NULL)
		return util_snprintf(err, errlen, "out of memory"), RG_TEMPFAIL;
	m = &s->e[STORE_LMDB_MAIN];
	g = &s->e[STORE_LMDB_GREY];
	p = s->names;
	s->dir = p;
	memcpy(p, set->state_dir, dl);
	p += each;
	m->path = p;
	util_snprintf(m->path, each, "%s/" STORE_LMDB_FILE, set->state_dir);
	p += each;
	m->stamp = p;                   /* "": rcptguard.mdb has no boot stamp */
	p += each;
	g->path = p;
	util_snprintf(g->path, each, "%s/" STORE_LMDB_GREY_FILE, set->state_dir);
	p += each;
	g->stamp = p;
	util_snprintf(g->stamp, each, "%s-boot", g->path);
	/* The owner's own prefixes (a key made of empty parts): nobody else spells them. */
	if (greylist_key_triplet(s->gkey[0], sizeof s->gkey[0], "", "", "") < 0 ||
	    greylist_key_awl(s->gkey[1], sizeof s->gkey[1], "") < 0)
		s->gkey[0][0] = s->gkey[1][0] = '\0';
	s->gkey[0][strcspn(s->gkey[0], " ")] = '\0';
	s->map_mib = set->lmdb.map_size;
	/* A ceiling below the initial size is the initial size: the map just never grows. */
	s->map_max_mib = set->lmdb.map_max > s->map_mib ? set->lmdb.map_max : s->map_mib;
	s->map_max = (size_t)s->map_max_mib << 20;
	m->flags = MDB_NOSUBDIR | MDB_NOMETASYNC | MDB_NOTLS;
	g->flags = MDB_NOSUBDIR | MDB_NOMETASYNC | MDB_NOTLS;
	s->grey_sync = set->lmdb.greylist_sync;
	if (store_lmdb_env_open(s, m, 1, err, errlen) != 0) {
		free(s);
		return RG_TEMPFAIL;
	}
	*out = s;
	return RG_FOUND;
}

/* Begin (or renew) the read transaction, following a map grown by another process. */
static RG_HOT int store_lmdb_read_begin(struct store_lmdb_env *e)
{
	int rc;

	if (e->env == NULL)
		return EINVAL;          /* a check found the file damaged and could not recreate it */
	if (e->rtxn != NULL) {
		rc = mdb_txn_renew(e->rtxn);
		if (rc == 0)
			return 0;
		mdb_txn_abort(e->rtxn);
		e->rtxn = NULL;
	}
	rc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, &e->rtxn);
	if (rc == MDB_MAP_RESIZED) {
		mdb_env_set_mapsize(e->env, 0);
		rc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, &e->rtxn);
	}
	if (rc != 0)
		e->rtxn = NULL;
	return rc;
}

/* Get key; the value is copied before the transaction ends. LMDB is local: no deadline. */
static RG_HOT int store_lmdb_get(struct store *s, const char *key, char *val, size_t valsize, size_t *vlen,
			  int64_t deadline, char *err, size_t errlen)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	struct store_lmdb_env *e;
	int rc;

	(void)deadline;
	if (k.mv_size == 0 || k.mv_size > STORE_KEY_MAX)
		return util_snprintf(err, errlen, "%s: bad key length", s->e[0].path), RG_CONFIG;
	if ((e = store_lmdb_env_of(s, key, err, errlen)) == NULL)
		return RG_TEMPFAIL;
	if ((rc = store_lmdb_read_begin(e)) != 0)
		return store_lmdb_fail(s, e, "read", rc, err, errlen);
	rc = mdb_get(e->rtxn, e->dbi, &k, &v);
	if (rc == 0) {
		if (v.mv_size >= valsize) {
			mdb_txn_reset(e->rtxn);
			/* Why not a miss: a miss would be overwritten, or read as "never seen"
			 * (a new greylist triplet); the caller must know it could not read. */
			util_snprintf(err, errlen, "%s: record of %.100s too large (%zu bytes, at most %zu)",
				      e->path, key, v.mv_size, valsize ? valsize - 1 : 0);
			return RG_TEMPFAIL;
		}
		memcpy(val, v.mv_data, v.mv_size);
		val[v.mv_size] = '\0';
		if (vlen)
			*vlen = v.mv_size;
	}
	mdb_txn_reset(e->rtxn);
	if (rc == MDB_NOTFOUND)
		return RG_NOTFOUND;
	return rc == 0 ? RG_FOUND : store_lmdb_fail(s, e, "get", rc, err, errlen);
}

/* Begin a write transaction (a read-only env reopened read-write first), following a map
 * grown by another process; in an unsynced env, with the boot stamp saying "dirty" before
 * anything can be committed. */
static int store_lmdb_write_begin(struct store *s, struct store_lmdb_env *e, MDB_txn **txn)
{
	int rc = store_lmdb_writable(s, e);

	if (rc == 0)
		rc = e->env == NULL ? EINVAL : mdb_txn_begin(e->env, NULL, 0, txn);
	if (rc == MDB_MAP_RESIZED) {
		mdb_env_set_mapsize(e->env, 0);
		rc = mdb_txn_begin(e->env, NULL, 0, txn);
	}
	if (rc == 0 && e->unsynced && (rc = store_lmdb_grey_dirty(s, e)) != 0)
		mdb_txn_abort(*txn);
	return rc;
}

/* Double the map, up to store_map_max (no transaction of ours may be live); a delete may
 * go a quarter past it (why: on a full store, a purge or a flush is what frees room, and
 * LMDB needs fresh pages to delete). 0 grown; MDB_MAP_FULL at the ceiling; an LMDB error. */
static int store_lmdb_grow(struct store *s, struct store_lmdb_env *e, int deleting)
{
	size_t limit = s->map_max + (deleting ? (s->map_max / 4 > (1u << 20) ? s->map_max / 4 : (1u << 20)) : 0);
	MDB_envinfo info;
	size_t want;

	if (e->rtxn != NULL) {
		mdb_txn_abort(e->rtxn);
		e->rtxn = NULL;
	}
	mdb_env_info(e->env, &info);
	if (info.me_mapsize >= limit) {
		rglog(RGLOG_ERROR, "rcptguard: store %s: full at store_map_max = %u MiB", e->path, s->map_max_mib);
		return MDB_MAP_FULL;
	}
	want = info.me_mapsize > limit / 2 ? limit : info.me_mapsize * 2;
	rglog(RGLOG_INFO, "rcptguard: store %s: map full, growing to %zu MiB", e->path, want >> 20);
	return mdb_env_set_mapsize(e->env, want);
}

/* End a write transaction whose work gave *rc: commit it, or abort it on an error.
 * 1 when the map was full and has grown: run the work again in a new transaction. */
static int store_lmdb_end(struct store *s, struct store_lmdb_env *e, MDB_txn *txn, int *rc, int deleting)
{
	if (*rc == 0)
		*rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
	if (*rc != MDB_MAP_FULL)
		return 0;
	if ((*rc = store_lmdb_grow(s, e, deleting)) != 0)
		return 0;
	*rc = MDB_MAP_FULL;
	return 1;
}

/* Put key=val; the map grows on MDB_MAP_FULL. The expiry is in the value (record owners'). */
static int store_lmdb_put(struct store *s, const char *key, const char *val, size_t vlen, int64_t expires,
			  int64_t deadline, char *err, size_t errlen)
{
	MDB_val k = { strlen(key), (void *)key }, v = { vlen, (void *)val };
	struct store_lmdb_env *e;
	MDB_txn *txn;
	int rc = 0, tries;

	(void)expires;
	(void)deadline;
	if (k.mv_size == 0 || k.mv_size > STORE_KEY_MAX)
		return util_snprintf(err, errlen, "%s: bad key length", s->e[0].path), RG_CONFIG;
	if ((e = store_lmdb_env_of(s, key, err, errlen)) == NULL)
		return RG_TEMPFAIL;
	for (tries = 0; tries < STORE_LMDB_TRIES; tries++) {
		if ((rc = store_lmdb_write_begin(s, e, &txn)) != 0)
			return store_lmdb_fail(s, e, "write", rc, err, errlen);
		rc = mdb_put(txn, e->dbi, &k, &v, 0);
		if (!store_lmdb_end(s, e, txn, &rc, 0))
			break;
	}
	return rc == 0 ? RG_FOUND : store_lmdb_fail(s, e, "put", rc, err, errlen);
}

/* Read-modify-write of key in one write transaction; the map grows on MDB_MAP_FULL. */
static int store_lmdb_update(struct store *s, const char *key, store_update_fn *fn, void *arg,
			     int64_t deadline, char *err, size_t errlen)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	struct store_lmdb_env *e;
	char out[STORE_VAL_MAX];
	size_t outlen;
	int64_t expires;
	MDB_txn *txn;
	int rc = 0, act, tries;

	(void)deadline;
	if (k.mv_size == 0 || k.mv_size > STORE_KEY_MAX)
		return util_snprintf(err, errlen, "%s: bad key length", s->e[0].path), RG_CONFIG;
	if ((e = store_lmdb_env_of(s, key, err, errlen)) == NULL)
		return RG_TEMPFAIL;
	for (tries = 0; tries < STORE_LMDB_TRIES; tries++) {
		if ((rc = store_lmdb_write_begin(s, e, &txn)) != 0)
			return store_lmdb_fail(s, e, "write", rc, err, errlen);
		/* Why inside the write transaction: LMDB has one writer at a time, so no other
		 * process can change the record between this read and the write below. */
		rc = mdb_get(txn, e->dbi, &k, &v);
		if (rc != 0 && rc != MDB_NOTFOUND) {
			mdb_txn_abort(txn);
			return store_lmdb_fail(s, e, "get", rc, err, errlen);
		}
		outlen = 0;
		expires = 0;
		act = fn(rc == 0 ? v.mv_data : NULL, rc == 0 ? v.mv_size : 0, out, sizeof out, &outlen, &expires, arg);
		if (act == STORE_UPDATE_KEEP || act < 0 || (act == STORE_UPDATE_DEL && rc != 0)) {
			mdb_txn_abort(txn);
			if (act < 0)
				return util_snprintf(err, errlen, "%s: update of %.100s abandoned", e->path, key),
				       RG_CONFIG;
			return RG_FOUND;
		}
		if (act == STORE_UPDATE_DEL) {
			rc = mdb_del(txn, e->dbi, &k, NULL);
		} else if (outlen > sizeof out) {
			mdb_txn_abort(txn);
			return util_snprintf(err, errlen, "%s: update value too large", e->path), RG_CONFIG;
		} else {
			v.mv_size = outlen;
			v.mv_data = out;
			rc = mdb_put(txn, e->dbi, &k, &v, 0);
		}
		if (!store_lmdb_end(s, e, txn, &rc, act == STORE_UPDATE_DEL))
			break;
	}
	return rc == 0 ? RG_FOUND : store_lmdb_fail(s, e, "update", rc, err, errlen);
}

/* Delete key; the map grows on MDB_MAP_FULL (a delete copies pages too). */
static int store_lmdb_del(struct store *s, const char *key, int64_t deadline, char *err, size_t errlen)
{
	MDB_val k = { strlen(key), (void *)key };
	struct store_lmdb_env *e;
	MDB_txn *txn;
	int rc = 0, tries;

	(void)deadline;
	if (k.mv_size == 0 || k.mv_size > STORE_KEY_MAX)
		return util_snprintf(err, errlen, "%s: bad key length", s->e[0].path), RG_CONFIG;
	if ((e = store_lmdb_env_of(s, key, err, errlen)) == NULL)
		return RG_TEMPFAIL;
	for (tries = 0; tries < STORE_LMDB_TRIES; tries++) {
		if ((rc = store_lmdb_write_begin(s, e, &txn)) != 0)
			return store_lmdb_fail(s, e, "write", rc, err, errlen);
		rc = mdb_del(txn, e->dbi, &k, NULL);
		if (rc == MDB_NOTFOUND) {
			mdb_txn_abort(txn);
			return RG_NOTFOUND;
		}
		if (!store_lmdb_end(s, e, txn, &rc, 1))
			break;
	}
	return rc == 0 ? RG_FOUND : store_lmdb_fail(s, e, "del", rc, err, errlen);
}

/* The envs that hold keys with prefix, opened, into out (1 or 2). 0 with err set when
 * one cannot be opened. */
static int store_lmdb_envs_of(struct store *s, const char *prefix, size_t plen, struct store_lmdb_env **out,
			      char *err, size_t errlen)
{
	int cls = store_lmdb_class(s, prefix, plen), n = 0;

	if (cls != STORE_LMDB_GREY)
		out[n++] = &s->e[STORE_LMDB_MAIN];
	if (cls != STORE_LMDB_MAIN) {
		if (store_lmdb_grey_open(s, err, errlen) != RG_FOUND)
			return 0;
		out[n++] = &s->e[STORE_LMDB_GREY];
	}
	return n;
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
static int store_lmdb_batch_read(struct store_lmdb_env *e, const char *prefix, size_t plen, char *resume,
				 size_t *rlen, struct store_lmdb_batch *b, int *more)
{
	MDB_val k, v;
	MDB_cursor *cur;
	int rc, op;

	b->n = b->used = 0;
	*more = 0;
	if ((rc = store_lmdb_read_begin(e)) != 0)
		return rc;
	if ((rc = mdb_cursor_open(e->rtxn, e->dbi, &cur)) != 0) {
		mdb_txn_reset(e->rtxn);
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
	mdb_txn_reset(e->rtxn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	if (b->n > 0) {
		*rlen = b->off[b->n - 1][1];
		memcpy(resume, b->buf + b->off[b->n - 1][0], *rlen);
	}
	return 0;
}

/* Write (or delete, del = 1) the records of batch b in env e in one write transaction; the
 * map grows on MDB_MAP_FULL. A record already in e is kept (it is newer). 0 or an LMDB error. */
static int store_lmdb_batch_apply(struct store *s, struct store_lmdb_env *e, const struct store_lmdb_batch *b,
				  int del)
{
	MDB_txn *txn;
	MDB_val k, v;
	size_t i;
	int rc = 0, tries;

	for (tries = 0; tries < STORE_LMDB_TRIES; tries++) {
		if ((rc = store_lmdb_write_begin(s, e, &txn)) != 0)
			return rc;
		for (i = 0; i < b->n && rc == 0; i++) {
			k.mv_size = b->off[i][1];
			k.mv_data = b->buf + b->off[i][0];
			v.mv_size = b->off[i][3];
			v.mv_data = b->buf + b->off[i][2];
			rc = del ? mdb_del(txn, e->dbi, &k, NULL) : mdb_put(txn, e->dbi, &k, &v, MDB_NOOVERWRITE);
			if (rc == MDB_NOTFOUND || rc == MDB_KEYEXIST)
				rc = 0;
		}
		if (!store_lmdb_end(s, e, txn, &rc, del))
			break;
	}
	return rc;
}

/* Once, when this process creates greylist.mdb: move the greylist records that an older
 * version kept in rcptguard.mdb into it, batch by batch (why: else an upgrade would cost
 * every triplet one more delay, and the old records would stay in rcptguard.mdb for ever). */
static void store_lmdb_grey_migrate(struct store *s)
{
	struct store_lmdb_batch *b = calloc(1, sizeof *b);
	struct store_lmdb_env *m = &s->e[STORE_LMDB_MAIN], *g = &s->e[STORE_LMDB_GREY];
	char resume[STORE_KEY_MAX + 1];
	size_t moved = 0, rlen, j;
	int rc = 0, more;

	if (b == NULL)
		return;
	for (j = 0; j < 2 && rc == 0; j++) {
		if (s->gkey[j][0] == '\0')
			continue;
		do {
			rlen = 0;       /* from the prefix again: what was moved is gone */
			if ((rc = store_lmdb_batch_read(m, s->gkey[j], strlen(s->gkey[j]), resume, &rlen, b, &more)) != 0 ||
			    b->n == 0 || (rc = store_lmdb_batch_apply(s, g, b, 0)) != 0 ||
			    (rc = store_lmdb_batch_apply(s, m, b, 1)) != 0)
				break;
			moved += b->n;
		} while (more);
	}
	if (rc != 0)
		rglog(RGLOG_ERROR, "rcptguard: store: moving greylist records from %s into %s: %s (%zu moved)", m->path,
		      g->path, mdb_strerror(rc), moved);
	else if (moved > 0)
		rglog(RGLOG_INFO, "rcptguard: store: %zu greylist record(s) moved from %s into %s", moved, m->path,
		      g->path);
	free(b->buf);
	free(b);
}

/* One env's side of an iteration: its current batch and where it stands. */
struct store_lmdb_walker {
	struct store_lmdb_env *e;
	struct store_lmdb_batch b;
	char resume[STORE_KEY_MAX + 1];
	size_t rlen, i;
	int more;
};

/* Whether walker a's current key sorts before b's (b NULL: yes). */
static int store_lmdb_walker_first(const struct store_lmdb_walker *a, const struct store_lmdb_walker *b)
{
	size_t al, bl;
	int d;

	if (b == NULL)
		return 1;
	al = a->b.off[a->i][1];
	bl = b->b.off[b->i][1];
	d = memcmp(a->b.buf + a->b.off[a->i][0], b->b.buf + b->b.off[b->i][0], al < bl ? al : bl);
	return d < 0 || (d == 0 && al < bl);
}

/* Visit records with prefix: copied in batches, fn called between read transactions
 * (why: a slow reader, such as `cache list | less`, must not pin pages that writers need).
 * A prefix that both envs may hold is merged from both, in key order. */
static int store_lmdb_iterate(struct store *s, const char *prefix, store_iter_fn *fn, void *arg,
			      int64_t deadline, char *err, size_t errlen)
{
	struct store_lmdb_walker *w = calloc(STORE_LMDB_ENVS, sizeof *w), *pick;
	struct store_lmdb_env *envs[STORE_LMDB_ENVS];
	size_t plen = strlen(prefix);
	int rc = 0, stop = 0, n, j;

	if (w == NULL)
		return util_snprintf(err, errlen, "out of memory"), RG_TEMPFAIL;
	if ((n = store_lmdb_envs_of(s, prefix, plen, envs, err, errlen)) == 0) {
		free(w);
		return RG_TEMPFAIL;
	}
	for (j = 0; j < n; j++)
		w[j].e = envs[j], w[j].more = 1;
	while (!stop) {
		pick = NULL;
		for (j = 0; j < n && rc == 0; j++) {
			if (w[j].i == w[j].b.n && w[j].more) {
				if (store_lmdb_late(deadline)) {
					rc = -1;
					util_snprintf(err, errlen, "%s: iterate: deadline passed", w[j].e->path);
					break;
				}
				w[j].i = 0;
				if ((rc = store_lmdb_batch_read(w[j].e, prefix, plen, w[j].resume, &w[j].rlen, &w[j].b,
								&w[j].more)) != 0) {
					store_lmdb_fail(s, w[j].e, "iterate", rc, err, errlen);
					break;
				}
			}
			if (w[j].i < w[j].b.n && store_lmdb_walker_first(&w[j], pick))
				pick = &w[j];
		}
		if (rc != 0 || pick == NULL)
			break;
		stop = fn(pick->b.buf + pick->b.off[pick->i][0], pick->b.off[pick->i][1],
			  pick->b.buf + pick->b.off[pick->i][2], pick->b.off[pick->i][3], arg);
		pick->i++;
	}
	for (j = 0; j < n; j++)
		free(w[j].b.buf);
	free(w);
	return rc == 0 ? RG_FOUND : RG_TEMPFAIL;
}

/* One write transaction of delete_if: visit up to STORE_LMDB_BATCH records from resume,
 * delete those pred picks. Sets *more and the next resume key only when it committed. */
static int store_lmdb_delete_batch(struct store *s, struct store_lmdb_env *e, const char *prefix, size_t plen,
				   store_pred_fn *pred, void *arg, char *resume, size_t *rlen, size_t *deleted,
				   int *more)
{
	char next[STORE_KEY_MAX + 1];
	size_t visited, nlen = 0, n = 0;
	MDB_val k, v;
	MDB_txn *txn;
	MDB_cursor *cur;
	int rc, op, again = 0;

	if ((rc = store_lmdb_write_begin(s, e, &txn)) != 0)
		return rc;
	if ((rc = mdb_cursor_open(txn, e->dbi, &cur)) != 0) {
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

/* Delete matching records of one env in bounded write transactions (writers are not held
 * up long); the map grows on MDB_MAP_FULL (a purge must work exactly when the store is full). */
static int store_lmdb_delete_env(struct store *s, struct store_lmdb_env *e, const char *prefix, size_t plen,
				 store_pred_fn *pred, void *arg, size_t *deleted, int64_t deadline, char *err,
				 size_t errlen)
{
	char resume[STORE_KEY_MAX + 1];
	size_t rlen;
	int rc, more = 1, grown = 0;

	memcpy(resume, prefix, plen);
	rlen = plen;
	while (more) {
		if (store_lmdb_late(deadline))
			return util_snprintf(err, errlen, "%s: delete: deadline passed after %zu record(s)",
					     e->path, *deleted), RG_TEMPFAIL;
		rc = store_lmdb_delete_batch(s, e, prefix, plen, pred, arg, resume, &rlen, deleted, &more);
		if (rc == MDB_MAP_FULL && grown < STORE_LMDB_TRIES && (rc = store_lmdb_grow(s, e, 1)) == 0) {
			grown++;
			continue;       /* the batch was aborted: run it again on the larger map */
		}
		if (rc != 0)
			return store_lmdb_fail(s, e, "delete", rc, err, errlen);
		grown = 0;
		/* Why: Exim processes waiting for the writer lock get it between two batches
		 * (a purge of a million records must not stall greylisting for its duration). */
		if (more)
			sched_yield();
	}
	return RG_FOUND;
}

/* Delete matching records with prefix, in each env that may hold them. */
static int store_lmdb_delete_if(struct store *s, const char *prefix, store_pred_fn *pred, void *arg,
				size_t *deleted, int64_t deadline, char *err, size_t errlen)
{
	struct store_lmdb_env *envs[STORE_LMDB_ENVS];
	size_t plen = strlen(prefix);
	int n, j, rc = RG_FOUND;

	*deleted = 0;
	if (plen > STORE_KEY_MAX)
		return util_snprintf(err, errlen, "%s: bad prefix length", s->e[0].path), RG_CONFIG;
	if ((n = store_lmdb_envs_of(s, prefix, plen, envs, err, errlen)) == 0)
		return RG_TEMPFAIL;
	for (j = 0; j < n && rc == RG_FOUND; j++)
		rc = store_lmdb_delete_env(s, envs[j], prefix, plen, pred, arg, deleted, deadline, err, errlen);
	return rc;
}

/* Records, bytes and a line about one env. */
static int store_lmdb_env_info(struct store *s, struct store_lmdb_env *e, long long *keys, long long *bytes,
			       char *line, size_t size, char *err, size_t errlen)
{
	MDB_envinfo ei;
	MDB_stat ms;
	struct stat st;
	int rc;

	if ((rc = store_lmdb_read_begin(e)) != 0)
		return store_lmdb_fail(s, e, "read", rc, err, errlen);
	rc = mdb_stat(e->rtxn, e->dbi, &ms);
	mdb_txn_reset(e->rtxn);
	if (rc != 0)
		return store_lmdb_fail(s, e, "stat", rc, err, errlen);
	*keys += (long long)ms.ms_entries;
	if (stat(e->path, &st) == 0)
		*bytes += (long long)st.st_blocks * 512;
	mdb_env_info(e->env, &ei);
	util_snprintf(line, size, "map %zu MiB, %zu KiB used, %u reader slot(s) in use",
		      ei.me_mapsize >> 20, ((size_t)ei.me_last_pgno + 1) * ms.ms_psize >> 10, ei.me_numreaders);
	return RG_FOUND;
}

/* What the store holds and where: both files. */
static int store_lmdb_info(struct store *s, struct store_info *out, char *err, size_t errlen)
{
	char m[RG_ERRLEN], g[RG_ERRLEN];
	long long keys = 0, bytes = 0;
	struct store_lmdb_env *ge = &s->e[STORE_LMDB_GREY];

	util_strlcpy(out->member, "lmdb", sizeof out->member);
	util_strlcpy(out->where, s->e[STORE_LMDB_MAIN].path, sizeof out->where);
	util_strlcpy(out->role, "file", sizeof out->role);
	out->rtt_us = -1;
	out->fallback = 0;
	if (store_lmdb_env_info(s, &s->e[STORE_LMDB_MAIN], &keys, &bytes, m, sizeof m, err, errlen) != RG_FOUND ||
	    store_lmdb_grey_open(s, err, errlen) != RG_FOUND ||
	    store_lmdb_env_info(s, ge, &keys, &bytes, g, sizeof g, err, errlen) != RG_FOUND)
		return RG_TEMPFAIL;
	out->keys = keys;
	out->bytes = bytes;
	util_snprintf(out->detail, sizeof out->detail, "verdicts: %.70s; greylist.mdb (%s): %.70s; maps grow to "
		      "store_map_max = %u MiB", m, ge->unsynced ? "no fsync per commit" : "synced", g,
		      s->map_max_mib);
	return RG_FOUND;
}

/* Check one env's file in a child; a damaged one is set aside and the env reopened on a
 * fresh file. */
static int store_lmdb_check_env(struct store *s, struct store_lmdb_env *e, char *err, size_t errlen)
{
	int rc = store_lmdb_verify(s->dir, e->path, err, errlen), orc = 0;

	if (rc != RG_NOTFOUND)
		return rc;
	if (e->rtxn != NULL)
		mdb_txn_abort(e->rtxn);
	e->rtxn = NULL;
	mdb_env_close(e->env);
	e->env = NULL;
	if (store_lmdb_try(s, e, 0, &orc) < 0) {
		/* Why not leave env NULL: every later op would crash; reopen or fail loudly. */
		rglog(RGLOG_ERROR, "rcptguard: store %s: cannot recreate: %s", e->path, mdb_strerror(orc));
		return RG_NOTFOUND;
	}
	store_lmdb_chown(s->dir, e->path);
	return RG_NOTFOUND;
}

/* Check both files: RG_NOTFOUND when one was damaged, else RG_TEMPFAIL when one could not
 * be told, else RG_FOUND. */
static int store_lmdb_check(struct store *s, char *err, size_t errlen)
{
	char gerr[RG_ERRLEN] = "";
	int rc = store_lmdb_check_env(s, &s->e[STORE_LMDB_MAIN], err, errlen), grc;

	grc = store_lmdb_grey_open(s, gerr, sizeof gerr);
	if (grc == RG_FOUND)
		grc = store_lmdb_check_env(s, &s->e[STORE_LMDB_GREY], gerr, sizeof gerr);
	if (rc == RG_NOTFOUND || (rc == RG_TEMPFAIL && grc != RG_NOTFOUND))
		return rc;
	if (grc != RG_FOUND)
		util_strlcpy(err, gerr, errlen);
	return grc;
}

/*
 * Close the environments (only in the process that opened them); greylist.mdb is synced
 * and stamped first when due (store_lmdb_grey_sync), so that a reboot keeps it. Why a full
 * mdb_env_close even when the process is about to exit (an Exim connection's QUIT): this
 * close cannot tell an exit from a close followed by another open of the same file in this
 * process (a config change, the CLI), and an env left open there would share its locks with
 * the new one; and the reader slot must be freed before the exit, or the next opener takes
 * this process for one that died in the store and sets off a check. A read-only env costs
 * five system calls here (two munmap, two close, getpid).
 */
static RG_HOT void store_lmdb_close(struct store *s)
{
	int j;

	if (s == NULL)
		return;
	/* Why the test here: most connections never open greylist.mdb, and the sync's code
	 * lies outside the module's hot window (a page fault in each of them). */
	if (s->e[STORE_LMDB_GREY].env != NULL)
		store_lmdb_grey_sync(s, &s->e[STORE_LMDB_GREY]);
	for (j = 0; j < STORE_LMDB_ENVS; j++) {
		if (s->e[j].rtxn != NULL)
			mdb_txn_abort(s->e[j].rtxn);
		if (s->e[j].env != NULL)
			mdb_env_close(s->e[j].env);
	}
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
