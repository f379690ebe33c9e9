/*
 * linefile.h - the one reader of operator- and customer-controlled text files (config,
 * includes, dynamic_patterns, whitelists, lists): bounded in size and line length, never
 * blocking, refusing what is not a regular file.
 *
 * Why: a FIFO blocks open() and read() for ever, /dev/zero never ends, a huge file eats
 * an Exim process's memory. The file is opened with O_NONBLOCK, checked with fstat()
 * on the open descriptor (no race with a rename), read whole up to max_bytes, then
 * handed out line by line. One rule for every caller: a line is cut at "\n", one
 * trailing "\r" is dropped, a line longer than line_max bytes is an error
 * "FILE:LINE: line longer than N bytes". NUL bytes are left in the line (len counts
 * them): the caller decides how to name them.
 *
 * Lower tier: includes only rg.h.
 */
#ifndef RG_LINEFILE_H
#define RG_LINEFILE_H

#include "rg.h"

struct linefile {
	char *buf;            /* the whole file, NUL-terminated */
	size_t len, pos;
	unsigned line;        /* number of the line last returned */
	size_t line_max;
	char path[RG_PATH_MAX];
};

/* Open and read path. RG_FOUND, RG_NOTFOUND (no such file: err says so), RG_CONFIG (not a
 * regular file, larger than max_bytes, unreadable: err names the file and the problem),
 * RG_TEMPFAIL (out of memory, read error). */
int linefile_open(struct linefile *lf, const char *path, size_t max_bytes, size_t line_max, char *err,
		  size_t errlen);

/* The next line in *line (NUL-terminated, no line end) and *len: 1; 0 at the end;
 * -1 when the line is too long (err: "FILE:LINE: line longer than N bytes"). */
int linefile_next(struct linefile *lf, char **line, size_t *len, char *err, size_t errlen);

/* Free the buffer (safe on a zeroed or closed struct). */
void linefile_close(struct linefile *lf);

#endif
