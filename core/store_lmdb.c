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
#include <sys/stat.h>
#include <unistd.h>

#include "rglog.h"
#include "store.h"

#define STORE_LMDB_FILE "rcptguard.mdb"
#define STORE_LMDB_BATCH 1000          /* records visited per write transaction */
#define STORE_LMDB_MAXREADERS 1024     /* concurrent Exim processes */

struct store {
	MDB_env *env;
	MDB_dbi dbi;
	MDB_txn *rtxn;                 /* reset between reads, renewed: cheaper than begin */
	char path[RG_PATH_MAX];
};

/* Report an LMDB error as RG_TEMPFAIL. */
static int store_lmdb_fail(struct store *s, const char *what, int rc, char *err, size_t errlen)
{
	util_snprintf(err, errlen, "%s: %s: %s", s->path, what, mdb_strerror(rc));
	return RG_TEMPFAIL;
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
static int store_lmdb_try(struct store *s, unsigned map_mib, int *rc_out)
{
	MDB_txn *txn;
	int rc, dead = 0;

	if ((rc = mdb_env_create(&s->env)) != 0)
		return *rc_out = rc, -1;
	mdb_env_set_maxreaders(s->env, STORE_LMDB_MAXREADERS);
	mdb_env_set_mapsize(s->env, (size_t)map_mib << 20);
	/* MDB_NOTLS: reader slots follow the transaction, not the thread (Exim is single
	 * threaded, and it keeps the slot usable across our reset/renew). */
	rc = mdb_env_open(s->env, s->path, MDB_NOSUBDIR | MDB_NOMETASYNC | MDB_NOTLS, 0660);
	if (rc == 0) {
		mdb_reader_check(s->env, &dead);
		if (dead > 0)
			rglog(RGLOG_DEBUG, "rcptguard: store: cleared %d stale reader(s)", dead);
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

/* Open (creating if needed) state_dir/rcptguard.mdb. */
static int store_lmdb_open(const char *state_dir, unsigned map_mib, struct store **out,
			   char *err, size_t errlen)
{
	struct store *s = calloc(1, sizeof *s);
	struct stat st;
	int rc = 0;

	if (s == NULL)
		return util_snprintf(err, errlen, "out of memory"), RG_TEMPFAIL;
	if (util_snprintf(s->path, sizeof s->path, "%s/" STORE_LMDB_FILE, state_dir) < 0) {
		free(s);
		return util_snprintf(err, errlen, "state_dir too long"), RG_CONFIG;
	}
	if (store_lmdb_try(s, map_mib, &rc) < 0) {
		/* Not on MDB_VERSION_MISMATCH: during an LMDB upgrade that is a healthy file
		 * still used by processes of the old version; it is run uncached instead. */
		if ((rc == MDB_INVALID || rc == MDB_CORRUPTED || rc == MDB_PANIC) &&
		    stat(s->path, &st) == 0) {
			store_lmdb_set_aside(state_dir, s->path, st.st_ino);
			if (store_lmdb_try(s, map_mib, &rc) == 0)
				goto opened;
		}
		util_snprintf(err, errlen, "%s: %s", s->path, mdb_strerror(rc));
		free(s);
		return RG_TEMPFAIL;
	}
opened:
	store_lmdb_chown(state_dir, s->path);
	*out = s;
	return RG_FOUND;
}

/* Begin (or renew) the read transaction, following a map grown by another process. */
static int store_lmdb_read_begin(struct store *s)
{
	int rc;

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

/* Get key; the value is copied before the transaction ends. */
static int store_lmdb_get(struct store *s, const char *key, char *val, size_t valsize, size_t *vlen,
			  char *err, size_t errlen)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	int rc;

	if ((rc = store_lmdb_read_begin(s)) != 0)
		return store_lmdb_fail(s, "read", rc, err, errlen);
	rc = mdb_get(s->rtxn, s->dbi, &k, &v);
	if (rc == 0) {
		if (v.mv_size >= valsize) {
			mdb_txn_reset(s->rtxn);
			util_snprintf(err, errlen, "%s: record too large", s->path);
			return RG_NOTFOUND;
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
	int rc = mdb_txn_begin(s->env, NULL, 0, txn);

	if (rc == MDB_MAP_RESIZED) {
		mdb_env_set_mapsize(s->env, 0);
		rc = mdb_txn_begin(s->env, NULL, 0, txn);
	}
	return rc;
}

/* Double the map (no transaction of ours may be live). */
static int store_lmdb_grow(struct store *s)
{
	MDB_envinfo info;

	if (s->rtxn != NULL) {
		mdb_txn_abort(s->rtxn);
		s->rtxn = NULL;
	}
	mdb_env_info(s->env, &info);
	rglog(RGLOG_INFO, "rcptguard: store %s: map full, growing to %zu MiB", s->path,
	      (info.me_mapsize * 2) >> 20);
	return mdb_env_set_mapsize(s->env, info.me_mapsize * 2);
}

/* End a write transaction whose work gave *rc: commit it, or abort it on an error.
 * 1 when the map was full and has grown: run the work again in a new transaction. */
static int store_lmdb_end(struct store *s, MDB_txn *txn, int *rc)
{
	if (*rc == 0)
		*rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
	if (*rc != MDB_MAP_FULL)
		return 0;
	if ((*rc = store_lmdb_grow(s)) != 0)
		return 0;
	*rc = MDB_MAP_FULL;
	return 1;
}

/* Put key=val; the map grows on MDB_MAP_FULL. */
static int store_lmdb_put(struct store *s, const char *key, const char *val, size_t vlen,
			  char *err, size_t errlen)
{
	MDB_val k = { strlen(key), (void *)key }, v = { vlen, (void *)val };
	MDB_txn *txn;
	int rc, tries;

	for (tries = 0; tries < 4; tries++) {
		if ((rc = store_lmdb_write_begin(s, &txn)) != 0)
			return store_lmdb_fail(s, "write", rc, err, errlen);
		rc = mdb_put(txn, s->dbi, &k, &v, 0);
		if (!store_lmdb_end(s, txn, &rc))
			break;
	}
	return rc == 0 ? RG_FOUND : store_lmdb_fail(s, "put", rc, err, errlen);
}

/* Read-modify-write of key in one write transaction; the map grows on MDB_MAP_FULL. */
static int store_lmdb_update(struct store *s, const char *key, store_update_fn *fn, void *arg,
			     char *err, size_t errlen)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	char out[STORE_VAL_MAX];
	size_t outlen;
	MDB_txn *txn;
	int rc, act, tries;

	if (k.mv_size == 0 || k.mv_size > STORE_KEY_MAX)
		return util_snprintf(err, errlen, "%s: bad key length", s->path), RG_CONFIG;
	for (tries = 0; tries < 4; tries++) {
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
		act = fn(rc == 0 ? v.mv_data : NULL, rc == 0 ? v.mv_size : 0, out, sizeof out, &outlen, arg);
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
		if (!store_lmdb_end(s, txn, &rc))
			break;
	}
	return rc == 0 ? RG_FOUND : store_lmdb_fail(s, "update", rc, err, errlen);
}

/* Delete key. */
static int store_lmdb_del(struct store *s, const char *key, char *err, size_t errlen)
{
	MDB_val k = { strlen(key), (void *)key };
	MDB_txn *txn;
	int rc;

	if ((rc = store_lmdb_write_begin(s, &txn)) != 0)
		return store_lmdb_fail(s, "write", rc, err, errlen);
	rc = mdb_del(txn, s->dbi, &k, NULL);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc == MDB_NOTFOUND ? RG_NOTFOUND : store_lmdb_fail(s, "del", rc, err, errlen);
	}
	rc = mdb_txn_commit(txn);
	return rc == 0 ? RG_FOUND : store_lmdb_fail(s, "commit", rc, err, errlen);
}

/* Visit records with prefix in one read transaction. */
static int store_lmdb_iterate(struct store *s, const char *prefix, store_iter_fn *fn, void *arg,
			      char *err, size_t errlen)
{
	size_t plen = strlen(prefix);
	MDB_val k = { plen, (void *)prefix }, v;
	MDB_cursor *cur;
	int rc, op = MDB_SET_RANGE;

	if ((rc = store_lmdb_read_begin(s)) != 0)
		return store_lmdb_fail(s, "read", rc, err, errlen);
	if ((rc = mdb_cursor_open(s->rtxn, s->dbi, &cur)) != 0) {
		mdb_txn_reset(s->rtxn);
		return store_lmdb_fail(s, "cursor", rc, err, errlen);
	}
	if (plen == 0)
		op = MDB_FIRST;
	while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
			break;
		if (fn(k.mv_data, k.mv_size, v.mv_data, v.mv_size, arg))
			break;
	}
	mdb_cursor_close(cur);
	mdb_txn_reset(s->rtxn);
	return (rc == 0 || rc == MDB_NOTFOUND) ? RG_FOUND : store_lmdb_fail(s, "iterate", rc, err, errlen);
}

/* Delete matching records in bounded write transactions (writers are not held up long). */
static int store_lmdb_delete_if(struct store *s, const char *prefix, store_pred_fn *pred, void *arg,
				size_t *deleted, char *err, size_t errlen)
{
	size_t plen = strlen(prefix), visited;
	MDB_val k, v;
	MDB_txn *txn;
	MDB_cursor *cur;
	int rc, more = 1, op;
	char resume[STORE_KEY_MAX + 1];
	size_t rlen = plen;

	memcpy(resume, prefix, plen);
	*deleted = 0;
	while (more) {
		if ((rc = store_lmdb_write_begin(s, &txn)) != 0)
			return store_lmdb_fail(s, "write", rc, err, errlen);
		if ((rc = mdb_cursor_open(txn, s->dbi, &cur)) != 0) {
			mdb_txn_abort(txn);
			return store_lmdb_fail(s, "cursor", rc, err, errlen);
		}
		k.mv_size = rlen;
		k.mv_data = resume;
		op = rlen ? MDB_SET_RANGE : MDB_FIRST;
		more = 0;
		/* Why bounded by records visited, not deleted: a walk that deletes little must
		 * not hold the writer lock (which every Exim process waits on) for long. */
		for (visited = 0; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; visited++) {
			op = MDB_NEXT;
			if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
				break;
			if (visited >= STORE_LMDB_BATCH) {
				/* Resume here in the next transaction. */
				rlen = k.mv_size < sizeof resume ? k.mv_size : sizeof resume - 1;
				memcpy(resume, k.mv_data, rlen);
				more = 1;
				break;
			}
			if (pred(k.mv_data, k.mv_size, v.mv_data, v.mv_size, arg)) {
				if ((rc = mdb_cursor_del(cur, 0)) != 0)
					break;
				(*deleted)++;
				/* LMDB marks the cursor after a delete: MDB_NEXT then
				 * yields the record that followed, without skipping. */
			}
		}
		mdb_cursor_close(cur);
		if (rc != 0 && rc != MDB_NOTFOUND) {
			mdb_txn_abort(txn);
			return store_lmdb_fail(s, "delete", rc, err, errlen);
		}
		if ((rc = mdb_txn_commit(txn)) != 0)
			return store_lmdb_fail(s, "commit", rc, err, errlen);
		/* Why: Exim processes waiting for the writer lock get it between two batches
		 * (a purge of a million records must not stall greylisting for its duration). */
		if (more)
			sched_yield();
	}
	return RG_FOUND;
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
	.open = store_lmdb_open,
	.get = store_lmdb_get,
	.put = store_lmdb_put,
	.del = store_lmdb_del,
	.iterate = store_lmdb_iterate,
	.delete_if = store_lmdb_delete_if,
	.update = store_lmdb_update,
	.close = store_lmdb_close,
};
