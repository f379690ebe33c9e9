/*
 * linefile.c - bounded, non-blocking reading of text files, line by line (linefile.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "linefile.h"

/* Open and read the whole file, refusing what is not a regular file or is too large. */
int linefile_open(struct linefile *lf, const char *path, size_t max_bytes, size_t line_max, char *err,
		  size_t errlen)
{
	struct stat st;
	size_t got = 0;
	ssize_t n;
	int fd, e;

	memset(lf, 0, sizeof *lf);
	lf->line_max = line_max;
	if (util_strlcpy(lf->path, path, sizeof lf->path) < 0)
		return util_snprintf(err, errlen, "%.100s...: path too long", path), RG_CONFIG;
	/* Why O_NONBLOCK: opening a FIFO with no writer would block for ever. */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) < 0) {
		e = errno;
		util_snprintf(err, errlen, "%s: cannot open: %s", path, strerror(e));
		return e == ENOENT ? RG_NOTFOUND : RG_CONFIG;
	}
	if (fstat(fd, &st) != 0) {
		e = errno;
		close(fd);
		return util_snprintf(err, errlen, "%s: cannot stat: %s", path, strerror(e)), RG_CONFIG;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return util_snprintf(err, errlen, "%s: not a regular file (%s)", path,
				     S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISDIR(st.st_mode) ? "a directory" :
				     S_ISCHR(st.st_mode) ? "a character device" : S_ISSOCK(st.st_mode) ? "a socket" :
				     "a device"), RG_CONFIG;
	}
	if ((uintmax_t)st.st_size > max_bytes) {
		close(fd);
		return util_snprintf(err, errlen, "%s: larger than %zu bytes", path, max_bytes), RG_CONFIG;
	}
	if (!(lf->buf = malloc((size_t)st.st_size + 2))) {
		close(fd);
		return util_snprintf(err, errlen, "%s: out of memory", path), RG_TEMPFAIL;
	}
	/* Read at most one byte more than fstat said: a file that grows meanwhile stays bounded. */
	while (got < (size_t)st.st_size + 1) {
		n = read(fd, lf->buf + got, (size_t)st.st_size + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			close(fd);
			linefile_close(lf);
			return util_snprintf(err, errlen, "%s: read error: %s", path, strerror(e)), RG_TEMPFAIL;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got > (size_t)st.st_size) {
		linefile_close(lf);
		return util_snprintf(err, errlen, "%s: changed while being read", path), RG_TEMPFAIL;
	}
	lf->buf[got] = '\0';
	lf->len = got;
	return RG_FOUND;
}

/* The next line, cut at "\n" with one "\r" dropped; -1 when longer than line_max. */
int linefile_next(struct linefile *lf, char **line, size_t *len, char *err, size_t errlen)
{
	char *s, *nl;
	size_t n;

	if (lf->buf == NULL || lf->pos >= lf->len)
		return 0;
	s = lf->buf + lf->pos;
	nl = memchr(s, '\n', lf->len - lf->pos);
	n = nl ? (size_t)(nl - s) : lf->len - lf->pos;
	lf->pos += n + (nl != NULL);
	lf->line++;
	if (n && s[n - 1] == '\r')
		n--;
	s[n] = '\0';
	if (n > lf->line_max) {
		util_snprintf(err, errlen, "%s:%u: line longer than %zu bytes", lf->path, lf->line, lf->line_max);
		return -1;
	}
	*line = s;
	*len = n;
	return 1;
}

/* Free the buffer. */
void linefile_close(struct linefile *lf)
{
	free(lf->buf);
	lf->buf = NULL;
	lf->len = lf->pos = 0;
}
