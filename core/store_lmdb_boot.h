/*
 * store_lmdb_boot.h - the boot stamp of the LMDB member's unsynced greylist environment.
 *
 * The greylist environment commits without fsync (MDB_NOSYNC): an OS crash can leave it
 * torn. Beside it, a stamp file says whether it may hold unsynced commits and since which
 * boot: "synced" (all commits are on disk) or "dirty BOOT_ID". A stamp naming another boot
 * than the running one means the system went down with unsynced commits: the environment
 * must be set aside, never used. Why the kernel's boot id and not a dirty marker removed
 * at close: Exim runs many processes at once and they exit without closing anything; the
 * boot id changes exactly when the page cache (the unsynced commits) could have been lost.
 */
#ifndef RG_STORE_LMDB_BOOT_H
#define RG_STORE_LMDB_BOOT_H

#include "rg.h"

#define STORE_LMDB_BOOT_ID_MAX 64

/* What a stamp says. */
enum store_lmdb_boot_state {
	STORE_LMDB_BOOT_ABSENT = 0,     /* no stamp, or one that does not parse */
	STORE_LMDB_BOOT_UNREADABLE,     /* a stamp this process cannot read (errno says why) */
	STORE_LMDB_BOOT_SYNCED,         /* every commit is on disk */
	STORE_LMDB_BOOT_DIRTY_NOW,      /* unsynced commits of this boot: fine */
	STORE_LMDB_BOOT_DIRTY_BEFORE    /* unsynced commits of an earlier boot: set aside */
};

/* The running kernel's boot id into out. 0, or -1 (err says why). */
int store_lmdb_boot_id(char *out, size_t size, char *err, size_t errlen);

/* Read the stamp at path and compare it with boot (the running boot id); the stamp's
 * boot id goes to seen (for the log) when it names one. */
int store_lmdb_boot_read(const char *path, const char *boot, char *seen, size_t seensize);

/* Write the stamp durably: "synced" (boot NULL) or "dirty BOOT". The file is replaced by
 * rename, and file and directory are synced before it returns. 0, or -1 (err). */
int store_lmdb_boot_write(const char *dir, const char *path, const char *boot, char *err, size_t errlen);

#endif
