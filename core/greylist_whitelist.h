/*
 * greylist_whitelist.h - the greylist_whitelist file: who is never greylisted.
 *
 * One entry per line, '#' comments, blank lines ignored:
 *   client CIDR          client address or network (192.0.2.0/24, 2001:db8::/32, 192.0.2.7)
 *   hostname NAME        the client's verified host name is NAME or ends in ".NAME";
 *                        ".NAME" or "*.NAME": names under NAME only
 *   recipient ADDRESS    a recipient that opts out (case-insensitive)
 *   domain DOMAIN        a recipient domain that opts out; "*.DOMAIN": its subdomains
 * Any other line is an error naming file:line; a file with an error is not used.
 *
 * postgrey's files, read as they are (greylist_whitelist_clients / _recipients):
 *   clients:     HOST.NAME (itself and names under it), /regex/ (the client's host name,
 *                case-insensitive), IP address, CIDR network, a.b.c (= a.b.c.0/24),
 *                a.b (= a.b.0.0/16)
 *   recipients:  user@domain and user@ (also user+extension), domain (itself and its
 *                subdomains), /regex/ (the whole address, case-insensitive)
 * Files are read only when regular and at most 4 MiB; regexes run with PCRE2 limits.
 *
 * Ownership: greylist_whitelist_get() returns the process's copy (valid until the next
 * call); it is reloaded when the file changes (size, mtime, inode).
 */
#ifndef RG_GREYLIST_WHITELIST_H
#define RG_GREYLIST_WHITELIST_H

#include "rg.h"

struct greylist_whitelist;

enum greylist_wl_format {
	GREYLIST_WL_NATIVE,             /* rcptguard's KIND VALUE file (greylist_whitelist) */
	GREYLIST_WL_CLIENTS,            /* postgrey's whitelist_clients */
	GREYLIST_WL_RECIPIENTS,         /* postgrey's whitelist_recipients */
	GREYLIST_WL_FORMATS
};

/* Parse the file at path. RG_FOUND, or RG_CONFIG with "file:line: problem" in err
 * (RG_TEMPFAIL when it cannot be read). */
int greylist_whitelist_load(const char *path, struct greylist_whitelist **out, char *err, size_t errlen);

/* The same for a file in format (enum greylist_wl_format). */
int greylist_whitelist_load_format(const char *path, int format, struct greylist_whitelist **out,
				   char *err, size_t errlen);

/* The process's whitelist for path in format (one kept per format, reloaded as needed). */
int greylist_whitelist_get_format(const char *path, int format, const struct greylist_whitelist **out,
				  char *err, size_t errlen);

/* The process's whitelist for path (loaded or reloaded as needed); same outcomes. */
int greylist_whitelist_get(const char *path, const struct greylist_whitelist **out, char *err, size_t errlen);

/* Whether the attempt is whitelisted; *why names the entry's kind ("client", ...).
 * ip may be unparsable (no client match), hostname and rcpt may be "" or NULL. */
int greylist_whitelist_match(const struct greylist_whitelist *w, const char *ip, const char *hostname,
			     const char *rcpt, const char **why);

/* Number of entries (for the CLI). */
size_t greylist_whitelist_count(const struct greylist_whitelist *w);

void greylist_whitelist_free(struct greylist_whitelist *w);

#endif
