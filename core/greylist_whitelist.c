/*
 * greylist_whitelist.c - the greylist_whitelist file (format in greylist_whitelist.h).
 *
 * Parsed whole before use: a file with one bad line is refused with file:line, so that a
 * typo can never silently widen or narrow what is exempted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "greylist_key.h"
#include "greylist_whitelist.h"

#define GREYLIST_WL_LINE 1024

enum { WL_CLIENT, WL_HOSTNAME, WL_RECIPIENT, WL_DOMAIN };

struct greylist_wl_entry {
	int kind;
	int under_only;                 /* hostname/domain: only names under it */
	unsigned prefix;
	unsigned char net[16];
	char *text;                     /* lower-cased name or address */
};

struct greylist_whitelist {
	struct greylist_wl_entry *e;
	size_t n, cap;
};

static struct {
	char path[RG_PATH_MAX];
	struct stat st;
	struct greylist_whitelist *w;
} greylist_wl_cur;

/* Free a whitelist. */
void greylist_whitelist_free(struct greylist_whitelist *w)
{
	size_t i;

	if (w == NULL)
		return;
	for (i = 0; i < w->n; i++)
		free(w->e[i].text);
	free(w->e);
	free(w);
}

/* Whether s is a host or domain name (letters, digits, '-', '_', '.'). */
static int greylist_wl_name(const char *s)
{
	size_t n = strlen(s);

	size_t i, label = 0;

	if (n == 0 || n > RG_DOMAIN_MAX || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != n)
		return 0;
	/* Labels of 1..63 characters that neither start nor end with '-'. */
	for (i = 0; i <= n; i++) {
		if (i < n && s[i] != '.') {
			label++;
			continue;
		}
		if (label == 0 || label > 63 || s[i - label] == '-' || s[i - 1] == '-')
			return 0;
		label = 0;
	}
	return 1;
}

/* Parse one entry (kind word and value, lower-cased already) into e; NULL or the problem. */
static const char *greylist_wl_entry(const char *kind, char *val, struct greylist_wl_entry *e)
{
	memset(e, 0, sizeof *e);
	if (strcmp(kind, "client") == 0) {
		e->kind = WL_CLIENT;
		if (greylist_key_cidr(val, e->net, &e->prefix) < 0)
			return "not an IP address or CIDR network";
		return NULL;
	}
	if (strcmp(kind, "hostname") == 0 || strcmp(kind, "domain") == 0) {
		e->kind = kind[0] == 'h' ? WL_HOSTNAME : WL_DOMAIN;
		if (strncmp(val, "*.", 2) == 0 || val[0] == '.') {
			e->under_only = 1;
			val += val[0] == '.' ? 1 : 2;
		}
		if (!greylist_wl_name(val))
			return e->kind == WL_HOSTNAME ? "not a host name" : "not a domain name";
	} else if (strcmp(kind, "recipient") == 0) {
		const char *at = strrchr(val, '@');

		e->kind = WL_RECIPIENT;
		if (at == NULL || at == val || !greylist_wl_name(at + 1) || strlen(val) > RG_PATH_OCTETS)
			return "not an address (local@domain)";
	} else {
		return "unknown entry kind (client, hostname, recipient or domain)";
	}
	if ((e->text = strdup(val)) == NULL)
		return "out of memory";
	return NULL;
}

/* Parse the file at path. */
int greylist_whitelist_load(const char *path, struct greylist_whitelist **out, char *err, size_t errlen)
{
	char line[GREYLIST_WL_LINE + 2], kind[16], *p, *val, *end;
	struct greylist_whitelist *w;
	const char *problem;
	unsigned lineno = 0;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		util_snprintf(err, errlen, "greylist_whitelist %s: %s", path, strerror(errno));
		return errno == ENOENT ? RG_CONFIG : RG_TEMPFAIL;
	}
	if ((w = calloc(1, sizeof *w)) == NULL) {
		fclose(f);
		return util_snprintf(err, errlen, "out of memory"), RG_TEMPFAIL;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		struct greylist_wl_entry e;
		size_t n = strlen(line);

		lineno++;
		if (n > GREYLIST_WL_LINE || (n > 0 && line[n - 1] != '\n' && !feof(f))) {
			problem = "line too long";
			goto bad;
		}
		if ((p = strchr(line, '#')) != NULL)
			*p = '\0';
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		for (end = p + strlen(p); end > p && strchr(" \t\r\n", end[-1]); end--)
			;
		*end = '\0';
		if (*p == '\0')
			continue;
		util_lower(p);
		val = p + strcspn(p, " \t");
		if (*val == '\0' || (size_t)(val - p) >= sizeof kind) {
			problem = "expected KIND VALUE (client, hostname, recipient or domain)";
			goto bad;
		}
		memcpy(kind, p, (size_t)(val - p));
		kind[val - p] = '\0';
		val += strspn(val, " \t");
		if (strpbrk(val, " \t") != NULL) {
			problem = "one value per line";
			goto bad;
		}
		if ((problem = greylist_wl_entry(kind, val, &e)) != NULL)
			goto bad;
		if (w->n == w->cap) {
			size_t cap = w->cap ? w->cap * 2 : 16;
			struct greylist_wl_entry *ne = realloc(w->e, cap * sizeof *ne);

			if (ne == NULL) {
				free(e.text);
				problem = "out of memory";
				goto bad;
			}
			w->e = ne;
			w->cap = cap;
		}
		w->e[w->n++] = e;
	}
	if (ferror(f)) {
		util_snprintf(err, errlen, "greylist_whitelist %s: read error", path);
		fclose(f);
		greylist_whitelist_free(w);
		return RG_TEMPFAIL;
	}
	fclose(f);
	*out = w;
	return RG_FOUND;
bad:
	util_snprintf(err, errlen, "%s:%u: %s", path, lineno, problem);
	fclose(f);
	greylist_whitelist_free(w);
	return RG_CONFIG;
}

/* The process's whitelist for path, reloaded when the file changed. */
int greylist_whitelist_get(const char *path, const struct greylist_whitelist **out, char *err, size_t errlen)
{
	struct greylist_whitelist *w;
	struct stat st;
	int rc;

	if (stat(path, &st) < 0) {
		util_snprintf(err, errlen, "greylist_whitelist %s: %s", path, strerror(errno));
		return errno == ENOENT ? RG_CONFIG : RG_TEMPFAIL;
	}
	if (greylist_wl_cur.w != NULL && strcmp(greylist_wl_cur.path, path) == 0 &&
	    st.st_ino == greylist_wl_cur.st.st_ino && st.st_size == greylist_wl_cur.st.st_size &&
	    st.st_mtim.tv_sec == greylist_wl_cur.st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == greylist_wl_cur.st.st_mtim.tv_nsec) {
		*out = greylist_wl_cur.w;
		return RG_FOUND;
	}
	if ((rc = greylist_whitelist_load(path, &w, err, errlen)) != RG_FOUND)
		return rc;
	greylist_whitelist_free(greylist_wl_cur.w);
	greylist_wl_cur.w = w;
	greylist_wl_cur.st = st;
	if (util_strlcpy(greylist_wl_cur.path, path, sizeof greylist_wl_cur.path) < 0)
		greylist_wl_cur.path[0] = '\0';       /* never matches: reloaded each time */
	*out = w;
	return RG_FOUND;
}

/* Whether name is suffix, or ends in ".suffix" (only the latter when under_only). */
static int greylist_wl_suffix(const char *name, const char *suffix, int under_only)
{
	size_t n = strlen(name), k = strlen(suffix);

	if (n == k)
		return !under_only && strcmp(name, suffix) == 0;
	return n > k && name[n - k - 1] == '.' && strcmp(name + n - k, suffix) == 0;
}

/* Whether the attempt is whitelisted. */
int greylist_whitelist_match(const struct greylist_whitelist *w, const char *ip, const char *hostname,
			     const char *rcpt, const char **why)
{
	char host[RG_DOMAIN_MAX + 2] = "", to[RG_ADDRESS_MAX + 1] = "";
	unsigned char addr[16];
	const char *dom = NULL;
	int have_ip;
	size_t i, n;

	have_ip = ip != NULL && greylist_key_addr(ip, addr) == 0;
	if (hostname != NULL && util_strlcpy(host, hostname, sizeof host) == 0) {
		util_lower(host);
		n = strlen(host);
		if (n > 0 && host[n - 1] == '.')
			host[n - 1] = '\0';
	} else {
		host[0] = '\0';
	}
	if (rcpt != NULL && greylist_key_recipient(rcpt, to, sizeof to) == 0 && (dom = strrchr(to, '@')) != NULL)
		dom++;
	for (i = 0; i < w->n; i++) {
		const struct greylist_wl_entry *e = &w->e[i];
		int hit = 0;

		switch (e->kind) {
		case WL_CLIENT:
			hit = have_ip && greylist_key_in(addr, e->net, e->prefix);
			break;
		case WL_HOSTNAME:
			hit = host[0] && greylist_wl_suffix(host, e->text, e->under_only);
			break;
		case WL_RECIPIENT:
			hit = strcmp(to, e->text) == 0;
			break;
		case WL_DOMAIN:
			hit = dom != NULL && greylist_wl_suffix(dom, e->text, e->under_only);
			break;
		}
		if (hit) {
			*why = e->kind == WL_CLIENT ? "client" : e->kind == WL_HOSTNAME ? "hostname" :
			       e->kind == WL_RECIPIENT ? "recipient" : "domain";
			return 1;
		}
	}
	return 0;
}

/* Number of entries. */
size_t greylist_whitelist_count(const struct greylist_whitelist *w)
{
	return w->n;
}
