/*
 * store_lmdb_boot.c - the boot stamp beside the unsynced greylist environment (see
 * store_lmdb_boot.h): the kernel's boot id, and the stamp's reading and durable writing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_lmdb_boot.h"

#define STORE_LMDB_BOOT_FILE "/proc/sys/kernel/random/boot_id"
#define STORE_LMDB_STAMP_MAX 128

/* Read at most size - 1 bytes of a regular file into buf, cut at the first line end. */
static int store_lmdb_boot_line(const char *path, char *buf, size_t size, int regular)
{
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -1;
	/* Why: the stamp lies in a directory Exim's user writes; a FIFO or device there must
	 * not hang or feed an Exim process. /proc files are not regular in the same way. */
	if (regular && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return 0;
}

/* Whether s is a boot id as the kernel writes it: hex digits and dashes, not empty. */
static int store_lmdb_boot_valid(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef-");

	return n > 0 && n < STORE_LMDB_BOOT_ID_MAX && s[n] == '\0';
}

/* The running kernel's boot id. */
int store_lmdb_boot_id(char *out, size_t size, char *err, size_t errlen)
{
	char line[STORE_LMDB_STAMP_MAX];

	if (store_lmdb_boot_line(STORE_LMDB_BOOT_FILE, line, sizeof line, 0) < 0)
		return util_snprintf(err, errlen, "%s: %s", STORE_LMDB_BOOT_FILE, strerror(errno)), -1;
	if (!store_lmdb_boot_valid(line))
		return util_snprintf(err, errlen, "%s: not a boot id", STORE_LMDB_BOOT_FILE), -1;
	return util_strlcpy(out, line, size);
}

/* What the stamp at path says, against the running boot id. */
int store_lmdb_boot_read(const char *path, const char *boot, char *seen, size_t seensize)
{
	char line[STORE_LMDB_STAMP_MAX];

	if (seensize)
		seen[0] = '\0';
	if (store_lmdb_boot_line(path, line, sizeof line, 1) < 0)
		return errno == ENOENT ? STORE_LMDB_BOOT_ABSENT : STORE_LMDB_BOOT_UNREADABLE;
	if (strcmp(line, "synced") == 0)
		return STORE_LMDB_BOOT_SYNCED;
	if (strncmp(line, "dirty ", 6) != 0 || !store_lmdb_boot_valid(line + 6))
		return STORE_LMDB_BOOT_ABSENT;
	util_strlcpy(seen, line + 6, seensize);
	return strcmp(line + 6, boot) == 0 ? STORE_LMDB_BOOT_DIRTY_NOW : STORE_LMDB_BOOT_DIRTY_BEFORE;
}

/* Write the stamp durably (temporary file, fsync, rename, fsync of the directory). */
int store_lmdb_boot_write(const char *dir, const char *path, const char *boot, char *err, size_t errlen)
{
	char tmp[RG_PATH_MAX + 32], line[STORE_LMDB_STAMP_MAX];
	struct stat st;
	size_t len;
	int fd, ok;

	if (util_snprintf(tmp, sizeof tmp, "%s.%ld", path, (long)getpid()) < 0 ||
	    util_snprintf(line, sizeof line, boot ? "dirty %s\n" : "synced\n", boot) < 0)
		return util_snprintf(err, errlen, "%s: path too long", path), -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0660);
	if (fd < 0)
		return util_snprintf(err, errlen, "%s: %s", tmp, strerror(errno)), -1;
	/* Why before the rename: a stamp owned by root (the CLI) that Exim's user cannot read
	 * would read as absent, and the file beside it would be set aside. */
	if (geteuid() == 0 && stat(dir, &st) == 0 && st.st_uid != 0 && fchown(fd, st.st_uid, st.st_gid) < 0) {
		util_snprintf(err, errlen, "%s: chown: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	len = strlen(line);
	/* Why fsync before rename: "dirty" must be on disk before any unsynced commit can be,
	 * or a crash could leave a torn environment beside a stamp that vouches for it. */
	ok = write(fd, line, len) == (ssize_t)len && fsync(fd) == 0;
	if (close(fd) < 0)
		ok = 0;
	if (!ok || rename(tmp, path) < 0) {
		util_snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		ok = fsync(fd) == 0;
		close(fd);
		if (!ok)
			return util_snprintf(err, errlen, "%s: fsync: %s", dir, strerror(errno)), -1;
	}
	return 0;
}
