/*
 * greylist_whitelist.c - the greylist whitelist files (formats in greylist_whitelist.h):
 * rcptguard's own KIND VALUE file and postgrey's whitelist_clients / whitelist_recipients.
 *
 * Parsed whole before use: a file with one bad line is refused with file:line, so that a
 * typo can never silently widen or narrow what is exempted. The files are read with a
 * size bound and only when regular (a FIFO or device must not hang an Exim process).
 * postgrey's /regex/ lines go through PCRE2 with match and depth limits.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <fcntl.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "greylist_key.h"
#include "greylist_whitelist.h"

#define GREYLIST_WL_LINE 1024
#define GREYLIST_WL_FILE_MAX (4 << 20)      /* bytes: a whitelist is a short hand-made file */
/* Why limits: a whitelist regex runs on client host names and recipients (attacker
 * text) in every greylist check; a backtracking pattern must fail, not stall Exim. */
#define GREYLIST_WL_MATCH_LIMIT 100000
#define GREYLIST_WL_DEPTH_LIMIT 1000

enum {
	WL_CLIENT, WL_HOSTNAME, WL_RECIPIENT, WL_DOMAIN,
	WL_HOST_REGEX,                  /* postgrey clients /regex/: the host name */
	WL_RCPT_REGEX,                  /* postgrey recipients /regex/: the address */
	WL_RCPT_USER,                   /* postgrey "user@": user or user+ext, any domain */
	WL_RCPT_USER_DOMAIN             /* postgrey "user@domain": user or user+ext at domain */
};

struct greylist_wl_entry {
	int kind;
	int under_only;                 /* hostname/domain: only names under it */
	unsigned prefix;
	unsigned char net[16];
	char *text;                     /* lower-cased name or address (user@domain: "user") */
	char *domain;                   /* WL_RCPT_USER_DOMAIN: the domain */
	pcre2_code *re;
};

struct greylist_whitelist {
	struct greylist_wl_entry *e;
	size_t n, cap;
	pcre2_match_context *mctx;
	pcre2_match_data *md;
};

/* One loaded file per format: a process checks with at most one of each. */
static struct {
	char path[RG_PATH_MAX];
	struct stat st;
	struct greylist_whitelist *w;
} greylist_wl_cur[GREYLIST_WL_FORMATS];

static const char *const greylist_wl_key[GREYLIST_WL_FORMATS] = {
	"greylist_whitelist", "greylist_whitelist_clients", "greylist_whitelist_recipients"
};

/* Free one entry's parts. */
static void greylist_wl_entry_free(struct greylist_wl_entry *e)
{
	free(e->text);
	free(e->domain);
	pcre2_code_free(e->re);
}

/* Free a whitelist. */
void greylist_whitelist_free(struct greylist_whitelist *w)
{
	size_t i;

	if (w == NULL)
		return;
	for (i = 0; i < w->n; i++)
		greylist_wl_entry_free(&w->e[i]);
	free(w->e);
	pcre2_match_context_free(w->mctx);
	pcre2_match_data_free(w->md);
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

/* Compile a postgrey /regex/ (case-insensitive, as postgrey's qr{}i) into e->re. */
static const char *greylist_wl_regex(const char *val, struct greylist_wl_entry *e, char *why, size_t whylen)
{
	size_t n = strlen(val), off;
	int code;

	e->re = pcre2_compile((PCRE2_SPTR)(val + 1), n - 2, PCRE2_CASELESS, &code, &off, NULL);
	if (e->re == NULL) {
		PCRE2_UCHAR msg[120];

		pcre2_get_error_message(code, msg, sizeof msg);
		util_snprintf(why, whylen, "bad regular expression at offset %zu: %s", off, (const char *)msg);
		return why;
	}
	return NULL;
}

/* Whether s is a dotted IPv4 address of parts octets ("192.0.2" = 3), digits only. */
static int greylist_wl_dotted(const char *s, int parts)
{
	int i, digits = 0, value = 0, seen = 1;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == '.') {
			if (digits == 0)
				return 0;
			seen++;
			digits = value = 0;
		} else if (s[i] >= '0' && s[i] <= '9' && digits < 3) {
			value = value * 10 + (s[i] - '0');
			digits++;
			if (value > 255)
				return 0;
		} else {
			return 0;
		}
	}
	return digits > 0 && seen == parts;
}

/* Parse one line of postgrey's whitelist_clients: /regex/, an IP address or network,
 * a partial IPv4 address (a.b.c = /24, a.b = /16), or a host name (itself and the names
 * under it). */
static const char *greylist_wl_client_line(char *val, struct greylist_wl_entry *e, char *why, size_t whylen)
{
	size_t n = strlen(val);
	char cidr[64];

	memset(e, 0, sizeof *e);
	if (n > 2 && val[0] == '/' && val[n - 1] == '/') {
		e->kind = WL_HOST_REGEX;
		return greylist_wl_regex(val, e, why, whylen);
	}
	e->kind = WL_CLIENT;
	if ((greylist_wl_dotted(val, 3) || greylist_wl_dotted(val, 2)) && n < 16) {
		util_snprintf(cidr, sizeof cidr, "%s%s", val, greylist_wl_dotted(val, 3) ? ".0/24" : ".0.0/16");
		if (greylist_key_cidr(cidr, e->net, &e->prefix) == 0)
			return NULL;
		return "not an IP address or network";
	}
	if (strspn(val, "0123456789./") == n || strchr(val, ':') != NULL) {
		if (greylist_key_cidr(val, e->net, &e->prefix) < 0)
			return "not an IP address or network";
		return NULL;
	}
	e->kind = WL_HOSTNAME;
	util_lower(val);
	if (!greylist_wl_name(val))
		return "not a host name, IP address, network or /regex/";
	if ((e->text = strdup(val)) == NULL)
		return "out of memory";
	return NULL;
}

/* Parse one line of postgrey's whitelist_recipients: /regex/, "user@domain", "user@"
 * (user or user+extension), or "domain" (itself and its subdomains). */
static const char *greylist_wl_recipient_line(char *val, struct greylist_wl_entry *e, char *why, size_t whylen)
{
	size_t n = strlen(val);
	char *at;

	memset(e, 0, sizeof *e);
	if (n > 2 && val[0] == '/' && val[n - 1] == '/') {
		e->kind = WL_RCPT_REGEX;
		return greylist_wl_regex(val, e, why, whylen);
	}
	util_lower(val);
	if (n > RG_PATH_OCTETS)
		return "not an address, user@, domain or /regex/";
	if ((at = strchr(val, '@')) == NULL) {
		e->kind = WL_DOMAIN;
		if (!greylist_wl_name(val))
			return "not an address, user@, domain or /regex/";
	} else {
		*at = '\0';
		if (at == val)
			return "not an address (user@domain), user@, domain or /regex/";
		e->kind = at[1] == '\0' ? WL_RCPT_USER : WL_RCPT_USER_DOMAIN;
		if (e->kind == WL_RCPT_USER_DOMAIN) {
			if (!greylist_wl_name(at + 1))
				return "not a domain after '@'";
			if ((e->domain = strdup(at + 1)) == NULL)
				return "out of memory";
		}
	}
	if ((e->text = strdup(val)) == NULL)
		return "out of memory";
	return NULL;
}

/* Open path for reading: a regular file of at most GREYLIST_WL_FILE_MAX bytes. NULL with
 * the problem in err and *rc set. */
static FILE *greylist_wl_open(const char *path, int format, char *err, size_t errlen, int *rc)
{
	struct stat st;
	FILE *f;
	int fd, e;

	/* O_NONBLOCK: opening a FIFO must not block; it is refused below. */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
		e = errno;
		util_snprintf(err, errlen, "%s %s: %s", greylist_wl_key[format], path, strerror(e));
		*rc = e == ENOENT ? RG_CONFIG : RG_TEMPFAIL;
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		e = errno;
		util_snprintf(err, errlen, "%s %s: %s", greylist_wl_key[format], path, strerror(e));
		close(fd);
		*rc = RG_TEMPFAIL;
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > GREYLIST_WL_FILE_MAX) {
		util_snprintf(err, errlen, "%s %s: %s", greylist_wl_key[format], path,
			      !S_ISREG(st.st_mode) ? "not a regular file" : "larger than 4 MiB");
		close(fd);
		*rc = RG_CONFIG;
		return NULL;
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		e = errno;
		util_snprintf(err, errlen, "%s %s: %s", greylist_wl_key[format], path, strerror(e));
		close(fd);
		*rc = RG_TEMPFAIL;
	}
	return f;
}

/* Parse the file at path in the given format. */
int greylist_whitelist_load_format(const char *path, int format, struct greylist_whitelist **out,
				   char *err, size_t errlen)
{
	char line[GREYLIST_WL_LINE + 2], kind[16], why[RG_ERRLEN], *p, *val, *end;
	struct greylist_whitelist *w;
	const char *problem;
	unsigned lineno = 0;
	size_t total = 0;
	FILE *f;
	int rc;

	if (format < 0 || format >= GREYLIST_WL_FORMATS)
		return util_snprintf(err, errlen, "whitelist %s: unknown format", path), RG_CONFIG;
	if ((f = greylist_wl_open(path, format, err, errlen, &rc)) == NULL)
		return rc;
	if ((w = calloc(1, sizeof *w)) == NULL) {
		fclose(f);
		return util_snprintf(err, errlen, "out of memory"), RG_TEMPFAIL;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		struct greylist_wl_entry e;
		size_t n = strlen(line);

		lineno++;
		/* The file may grow after fstat: the size bound holds for what is read. */
		total += n;
		if (total > GREYLIST_WL_FILE_MAX) {
			problem = "file larger than 4 MiB";
			goto bad;
		}
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
		if (format != GREYLIST_WL_NATIVE) {
			/* postgrey: one value per line, taken as it is (regexes keep their case). */
			if (strpbrk(p, " \t") != NULL) {
				problem = "one value per line";
				goto bad;
			}
			problem = format == GREYLIST_WL_CLIENTS ? greylist_wl_client_line(p, &e, why, sizeof why) :
				  greylist_wl_recipient_line(p, &e, why, sizeof why);
			if (problem != NULL) {
				greylist_wl_entry_free(&e);
				goto bad;
			}
			goto add;
		}
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
add:
		if (e.re != NULL && w->md == NULL) {
			w->mctx = pcre2_match_context_create(NULL);
			w->md = pcre2_match_data_create(1, NULL);
			if (w->mctx == NULL || w->md == NULL) {
				greylist_wl_entry_free(&e);
				problem = "out of memory";
				goto bad;
			}
			pcre2_set_match_limit(w->mctx, GREYLIST_WL_MATCH_LIMIT);
			pcre2_set_depth_limit(w->mctx, GREYLIST_WL_DEPTH_LIMIT);
		}
		if (w->n == w->cap) {
			size_t cap = w->cap ? w->cap * 2 : 16;
			struct greylist_wl_entry *ne = realloc(w->e, cap * sizeof *ne);

			if (ne == NULL) {
				greylist_wl_entry_free(&e);
				problem = "out of memory";
				goto bad;
			}
			w->e = ne;
			w->cap = cap;
		}
		w->e[w->n++] = e;
	}
	if (ferror(f)) {
		util_snprintf(err, errlen, "%s %s: read error", greylist_wl_key[format], path);
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

/* Parse rcptguard's own KIND VALUE file at path. */
int greylist_whitelist_load(const char *path, struct greylist_whitelist **out, char *err, size_t errlen)
{
	return greylist_whitelist_load_format(path, GREYLIST_WL_NATIVE, out, err, errlen);
}

/* The process's whitelist for path in format, reloaded when the file changed. */
int greylist_whitelist_get_format(const char *path, int format, const struct greylist_whitelist **out,
				  char *err, size_t errlen)
{
	struct greylist_whitelist *w;
	struct stat st;
	int rc, e;

	if (format < 0 || format >= GREYLIST_WL_FORMATS)
		return util_snprintf(err, errlen, "whitelist %s: unknown format", path), RG_CONFIG;
	if (stat(path, &st) < 0) {
		e = errno;      /* util_snprintf may change errno */
		util_snprintf(err, errlen, "%s %s: %s", greylist_wl_key[format], path, strerror(e));
		return e == ENOENT ? RG_CONFIG : RG_TEMPFAIL;
	}
	if (greylist_wl_cur[format].w != NULL && strcmp(greylist_wl_cur[format].path, path) == 0 &&
	    st.st_ino == greylist_wl_cur[format].st.st_ino && st.st_size == greylist_wl_cur[format].st.st_size &&
	    st.st_mtim.tv_sec == greylist_wl_cur[format].st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == greylist_wl_cur[format].st.st_mtim.tv_nsec) {
		*out = greylist_wl_cur[format].w;
		return RG_FOUND;
	}
	if ((rc = greylist_whitelist_load_format(path, format, &w, err, errlen)) != RG_FOUND)
		return rc;
	greylist_whitelist_free(greylist_wl_cur[format].w);
	greylist_wl_cur[format].w = w;
	greylist_wl_cur[format].st = st;
	if (util_strlcpy(greylist_wl_cur[format].path, path, sizeof greylist_wl_cur[format].path) < 0)
		greylist_wl_cur[format].path[0] = '\0';      /* never matches: reloaded each time */
	*out = w;
	return RG_FOUND;
}

/* The process's whitelist for path (rcptguard's own format). */
int greylist_whitelist_get(const char *path, const struct greylist_whitelist **out, char *err, size_t errlen)
{
	return greylist_whitelist_get_format(path, GREYLIST_WL_NATIVE, out, err, errlen);
}

/* Whether name is suffix, or ends in ".suffix" (only the latter when under_only). */
static int greylist_wl_suffix(const char *name, const char *suffix, int under_only)
{
	size_t n = strlen(name), k = strlen(suffix);

	if (n == k)
		return !under_only && strcmp(name, suffix) == 0;
	return n > k && name[n - k - 1] == '.' && strcmp(name + n - k, suffix) == 0;
}

/* Whether e's regex matches subject. A match error (a limit reached) is no match: the
 * attempt is greylisted, a temporary answer. */
static int greylist_wl_re(const struct greylist_whitelist *w, const struct greylist_wl_entry *e, const char *subject)
{
	return pcre2_match(e->re, (PCRE2_SPTR)subject, strlen(subject), 0, 0, w->md, w->mctx) >= 0;
}

/* Whether the local part local (len bytes) is user, or user+extension (as postgrey). */
static int greylist_wl_user(const char *local, size_t len, const char *user)
{
	size_t k = strlen(user);

	return len >= k && strncmp(local, user, k) == 0 && (len == k || local[k] == '+');
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
		case WL_HOST_REGEX:
			hit = host[0] && greylist_wl_re(w, e, host);
			break;
		case WL_RCPT_REGEX:
			hit = to[0] && greylist_wl_re(w, e, to);
			break;
		case WL_RCPT_USER:
		case WL_RCPT_USER_DOMAIN:
			hit = dom != NULL && greylist_wl_user(to, (size_t)(dom - 1 - to), e->text) &&
			      (e->kind == WL_RCPT_USER || strcmp(dom, e->domain) == 0);
			break;
		}
		if (hit) {
			*why = e->kind == WL_CLIENT ? "client" :
			       e->kind == WL_HOSTNAME || e->kind == WL_HOST_REGEX ? "hostname" :
			       e->kind == WL_DOMAIN ? "domain" : "recipient";
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
