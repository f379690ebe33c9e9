/*
 * callout_key.c - the stable probe address (see callout_key.h).
 *
 * Why a keyed hash and not a fixed name: a fixed or guessable probe address could be
 * created (or filtered) by a destination's owner to pass for "not a catch-all". Why
 * stable: a destination behind greylisting answers a new probe address 4xx, so a fresh
 * one per probe would never get through and would fill its greylist database.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nettle/hmac.h>

#include "callout_key.h"

#define CALLOUT_KEY_BYTES 32

static unsigned char callout_key_secret[CALLOUT_KEY_BYTES];
static char callout_key_dir[RG_PATH_MAX];     /* state_dir the secret was read from; "" none */

/* Read exactly the secret from path: 0, -1 with errno (ENOENT: no file yet; EINVAL: bad file). */
static int callout_key_read(const char *path, unsigned char *key)
{
	struct stat st;
	ssize_t n;
	int fd, e;

	/* Why NOFOLLOW, NONBLOCK and fstat: state_dir is ours, but a FIFO or a symlink there
	 * must never hang or redirect an Exim process. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != CALLOUT_KEY_BYTES) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	n = read(fd, key, CALLOUT_KEY_BYTES);
	e = errno;
	close(fd);
	if (n != CALLOUT_KEY_BYTES) {
		errno = n < 0 ? e : EINVAL;
		return -1;
	}
	return 0;
}

/* Create the secret at path atomically (0600, owned like dir): 0, or -1 with errno. */
static int callout_key_create(const char *dir, const char *path)
{
	unsigned char key[CALLOUT_KEY_BYTES];
	char tmp[RG_PATH_MAX + 32];
	struct stat ds;
	int fd, rc, e;

	if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key)
		return -1;
	if (util_snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()) < 0)
		return errno = ENAMETOOLONG, -1;
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	/* Why the owner of state_dir: a root CLI creating it must not lock Exim out. */
	rc = write(fd, key, sizeof key) == (ssize_t)sizeof key ? 0 : -1;
	if (rc == 0 && geteuid() == 0 && stat(dir, &ds) == 0)
		rc = fchown(fd, ds.st_uid, ds.st_gid);
	if (rc == 0)
		rc = fsync(fd);
	e = errno;
	close(fd);
	/* Why link(): it never replaces a secret another process made first; both then use
	 * that one. */
	if (rc == 0 && link(tmp, path) < 0 && errno != EEXIST) {
		rc = -1;
		e = errno;
	}
	(void)unlink(tmp);
	errno = e;
	return rc;
}

/* The secret of state_dir into callout_key_secret: 0, or -1 with err. */
static int callout_key_load(const char *state_dir, char *err, size_t errlen)
{
	char path[RG_PATH_MAX + 32];

	if (callout_key_dir[0] != '\0' && strcmp(callout_key_dir, state_dir) == 0)
		return 0;
	if (util_snprintf(path, sizeof path, "%s/%s", state_dir, CALLOUT_KEY_FILE) < 0)
		return util_snprintf(err, errlen, "state_dir too long"), -1;
	if (callout_key_read(path, callout_key_secret) < 0) {
		if (errno != ENOENT || callout_key_create(state_dir, path) < 0 ||
		    callout_key_read(path, callout_key_secret) < 0) {
			util_snprintf(err, errlen, "%.200s: %s", path,
				      errno == EINVAL ? "not a regular file of 32 bytes" : strerror(errno));
			return -1;
		}
	}
	util_strlcpy(callout_key_dir, state_dir, sizeof callout_key_dir);
	return 0;
}

/* The stable probe local part of domain in period (see callout_key.h). */
int callout_key_local(const char *state_dir, const char *domain, int64_t period, char *out,
		      size_t size, char *err, size_t errlen)
{
	struct hmac_sha256_ctx ctx;
	unsigned char mac[SHA256_DIGEST_SIZE];
	char msg[RG_DOMAIN_MAX + 32];
	int n;

	if (callout_key_load(state_dir, err, errlen) < 0)
		return RG_TEMPFAIL;
	n = util_snprintf(msg, sizeof msg, "%s|%lld", domain, (long long)period);
	if (n < 0)
		return util_snprintf(err, errlen, "domain too long"), RG_TEMPFAIL;
	util_lower(msg);
	hmac_sha256_set_key(&ctx, sizeof callout_key_secret, callout_key_secret);
	hmac_sha256_update(&ctx, strlen(msg), (const uint8_t *)msg);
	hmac_sha256_digest(&ctx, sizeof mac, mac);
	if (util_snprintf(out, size, "rcptguard-probe-%02x%02x%02x%02x%02x%02x%02x%02x", mac[0], mac[1],
			  mac[2], mac[3], mac[4], mac[5], mac[6], mac[7]) < 0)
		return util_snprintf(err, errlen, "no room for the probe address"), RG_TEMPFAIL;
	return RG_FOUND;
}

/* A one-off random probe local part. */
int callout_key_random(char *out, size_t size)
{
	unsigned long long r;

	if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
		return -1;
	return util_snprintf(out, size, "rcptguard-probe-%016llx", r);
}
