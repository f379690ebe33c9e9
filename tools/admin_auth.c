/*
 * admin_auth.c - tokens: the admin_tokens file ("SHA256HEX SCOPE NAME" lines), matching a
 * presented Bearer secret, scopes, and the "token add|list|remove" verbs.
 *
 * Only SHA-256 hashes are stored: a copy of the file gives nobody a token. Hashes and
 * random secrets come from GnuTLS (gnutls_hash_fast, gnutls_rnd), never our own code.
 */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "address.h"
#include "admin.h"

#define TOKENS_FILE_MAX (1u << 20)      /* bytes: thousands of customers */
#define TOKEN_SECRET_BYTES 32

/* Hex digit value, or -1. */
static int auth_hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Whether a token name is acceptable: [A-Za-z0-9._@-]{1,64}. */
static int auth_name_ok(const char *n)
{
	size_t i;

	for (i = 0; n[i]; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= 'A' && n[i] <= 'Z') || (n[i] >= '0' && n[i] <= '9') ||
		      strchr("._@-", n[i]) != NULL))
			return 0;
	return i > 0 && i <= ADMIN_TOKEN_NAME_MAX;
}

/* Normalise a scope: "*" or domains separated by commas, each a valid domain, lower-cased.
 * 0 ok, -1 with err. */
static int auth_scope_parse(const char *in, char *out, size_t size, char *err, size_t errlen)
{
	char dom[RG_DOMAIN_MAX + 1], one[RG_DOMAIN_MAX + 2], e[RG_ERRLEN];
	size_t o = 0, n;

	if (strcmp(in, "*") == 0)
		return util_strlcpy(out, "*", size) < 0 ? -1 : 0;
	out[0] = '\0';
	while (*in) {
		n = strcspn(in, ",");
		if (n == 0 || n >= sizeof one)
			return util_snprintf(err, errlen, "bad scope: an empty or too long domain"), -1;
		memcpy(one, in, n);
		one[n] = '\0';
		if (address_parse_domain(one, dom, sizeof dom, e, sizeof e) != RG_FOUND)
			return util_snprintf(err, errlen, "bad scope domain \"%.100s\": %s", one, e), -1;
		util_lower(dom);
		if (o + strlen(dom) + 2 > size)
			return util_snprintf(err, errlen, "scope too long"), -1;
		o += (size_t)snprintf(out + o, size - o, "%s%s", o ? "," : "", dom);
		in += n + (in[n] == ',');
	}
	return o ? 0 : (util_snprintf(err, errlen, "empty scope"), -1);
}

/* Open the tokens file for reading: regular, bounded, not writable by group or others.
 * Returns its contents (malloc'd, NUL-terminated) or NULL with err. *missing set on ENOENT. */
static char *auth_read(const char *path, int *missing, char *err, size_t errlen)
{
	struct stat sb;
	char *buf;
	ssize_t n;
	int fd;

	*missing = 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		*missing = errno == ENOENT;
		util_snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		util_snprintf(err, errlen, "%s: not a regular file", path);
		return NULL;
	}
	/* Why: whoever can write this file can make themselves an operator. */
	if (sb.st_mode & (S_IWGRP | S_IWOTH)) {
		close(fd);
		util_snprintf(err, errlen, "%s: writable by group or others (mode %03o): refused", path,
			      (unsigned)(sb.st_mode & 0777));
		return NULL;
	}
	if (sb.st_size > TOKENS_FILE_MAX || (buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		close(fd);
		util_snprintf(err, errlen, "%s: larger than %u bytes", path, TOKENS_FILE_MAX);
		return NULL;
	}
	n = read(fd, buf, (size_t)sb.st_size);
	close(fd);
	if (n != (ssize_t)sb.st_size) {
		free(buf);
		util_snprintf(err, errlen, "%s: short read", path);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

/* Load the tokens file. */
int admin_tokens_load(const char *path, struct admin_token **out, size_t *count, char *err, size_t errlen)
{
	struct admin_token *t = NULL, *nt;
	char *buf, *line, *next, *w[4], e[RG_ERRLEN];
	size_t n = 0, cap = 0, i;
	unsigned lineno = 0;
	int missing, k;

	*out = NULL;
	*count = 0;
	if ((buf = auth_read(path, &missing, err, errlen)) == NULL)
		return RG_CONFIG;
	for (line = buf; line != NULL && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		for (k = 0; k < 4; k++) {
			line += strspn(line, " \t\r");
			w[k] = *line ? line : NULL;
			line += strcspn(line, " \t\r");
			if (*line)
				*line++ = '\0';
		}
		if (w[0] == NULL || w[0][0] == '#')
			continue;
		if (w[2] == NULL || w[3] != NULL) {
			util_snprintf(err, errlen, "%s:%u: want \"SHA256HEX SCOPE NAME\"", path, lineno);
			goto fail;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nt = realloc(t, cap * sizeof *t)) == NULL) {
				util_snprintf(err, errlen, "out of memory");
				goto fail;
			}
			t = nt;
		}
		memset(&t[n], 0, sizeof t[n]);
		if (strlen(w[0]) != 64) {
			util_snprintf(err, errlen, "%s:%u: the hash is not 64 hex digits", path, lineno);
			goto fail;
		}
		for (i = 0; i < 32; i++) {
			int hi = auth_hexval(w[0][2 * i]), lo = auth_hexval(w[0][2 * i + 1]);

			if (hi < 0 || lo < 0) {
				util_snprintf(err, errlen, "%s:%u: the hash is not 64 hex digits", path, lineno);
				goto fail;
			}
			t[n].hash[i] = (unsigned char)(hi << 4 | lo);
		}
		if (auth_scope_parse(w[1], t[n].scope, sizeof t[n].scope, e, sizeof e) < 0) {
			util_snprintf(err, errlen, "%s:%u: %s", path, lineno, e);
			goto fail;
		}
		if (!auth_name_ok(w[2])) {
			util_snprintf(err, errlen, "%s:%u: bad name (letters, digits, . _ @ -; at most %d)", path,
				      lineno, ADMIN_TOKEN_NAME_MAX);
			goto fail;
		}
		memcpy(t[n].name, w[2], strlen(w[2]) + 1);
		n++;
	}
	free(buf);
	*out = t;
	*count = n;
	return RG_FOUND;
fail:
	free(buf);
	free(t);
	return RG_CONFIG;
}

/* Re-read the tokens file when it changed (token add/remove take effect at once). A file
 * that can no longer be read leaves no token valid: the daemon fails closed. */
static void auth_refresh(void)
{
	static struct stat last;
	static int tried;
	struct admin_token *t;
	char err[RG_ERRLEN];
	struct stat sb;
	size_t n;

	if (stat(admin.g.admin_tokens, &sb) != 0)
		memset(&sb, 0, sizeof sb);
	if (sb.st_ino == last.st_ino && sb.st_size == last.st_size && sb.st_mode == last.st_mode &&
	    sb.st_mtim.tv_sec == last.st_mtim.tv_sec && sb.st_mtim.tv_nsec == last.st_mtim.tv_nsec &&
	    sb.st_ctim.tv_nsec == last.st_ctim.tv_nsec && tried)
		return;
	last = sb;
	tried = 1;
	free(admin.tokens);
	admin.tokens = NULL;
	admin.ntokens = 0;
	if (admin_tokens_load(admin.g.admin_tokens, &t, &n, err, sizeof err) != RG_FOUND) {
		admin_log("tokens: %s (no token is accepted until it is fixed)", err);
		return;
	}
	admin.tokens = t;
	admin.ntokens = n;
	admin_log("tokens: %zu loaded from %s", n, admin.g.admin_tokens);
}

/* The token matching secret. */
const struct admin_token *admin_tokens_match(const char *secret)
{
	unsigned char h[32];
	const struct admin_token *found = NULL;
	size_t i, k;

	auth_refresh();

	if (secret == NULL || secret[0] == '\0' || strlen(secret) > 512)
		return NULL;
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, secret, strlen(secret), h) != 0)
		return NULL;
	/* Why: every token is compared over all 32 bytes with no early exit, so the time
	 * taken tells an attacker nothing about how close a guess came. */
	for (i = 0; i < admin.ntokens; i++) {
		unsigned char d = 0;

		for (k = 0; k < 32; k++)
			d |= (unsigned char)(h[k] ^ admin.tokens[i].hash[k]);
		if (d == 0 && found == NULL)
			found = &admin.tokens[i];
	}
	return found;
}

/* Whether t is an operator. */
int admin_is_operator(const struct admin_token *t)
{
	return t != NULL && strcmp(t->scope, "*") == 0;
}

/* Whether t may act on domain. */
int admin_scope_allows(const struct admin_token *t, const char *domain)
{
	const char *p;
	size_t dl = strlen(domain), n;

	if (t == NULL)
		return 0;
	if (admin_is_operator(t))
		return 1;
	for (p = t->scope; *p; p += n + (p[n] == ',')) {
		n = strcspn(p, ",");
		if (n == dl && memcmp(p, domain, n) == 0)
			return 1;
	}
	return 0;
}

/* token add SCOPE NAME: print a new secret once, append its hash. */
static int auth_add(const char *path, const char *scope_in, const char *name)
{
	unsigned char raw[TOKEN_SECRET_BYTES], h[32];
	char secret[2 * TOKEN_SECRET_BYTES + 1], line[CONFIG_LIST_MAX + 200], scope[CONFIG_LIST_MAX], err[RG_ERRLEN];
	struct admin_token *t;
	size_t n, i;
	int fd, missing;
	char *buf;

	if (auth_scope_parse(scope_in, scope, sizeof scope, err, sizeof err) < 0)
		return fprintf(stderr, "rcptguard-admin: %s\n", err), 64;
	if (!auth_name_ok(name))
		return fprintf(stderr, "rcptguard-admin: bad name \"%.100s\" (letters, digits, . _ @ -)\n", name), 64;
	if ((buf = auth_read(path, &missing, err, sizeof err)) == NULL && !missing)
		return fprintf(stderr, "rcptguard-admin: %s\n", err), 78;
	free(buf);
	if (!missing) {
		if (admin_tokens_load(path, &t, &n, err, sizeof err) != RG_FOUND)
			return fprintf(stderr, "rcptguard-admin: %s\n", err), 78;
		for (i = 0; i < n && strcmp(t[i].name, name) != 0; i++)
			;
		free(t);
		if (i < n)
			return fprintf(stderr, "rcptguard-admin: a token named %s exists (remove it first)\n", name), 64;
	}
	if (gnutls_rnd(GNUTLS_RND_KEY, raw, sizeof raw) != 0)
		return fprintf(stderr, "rcptguard-admin: no randomness\n"), 2;
	for (i = 0; i < sizeof raw; i++)
		snprintf(secret + 2 * i, 3, "%02x", raw[i]);
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, secret, strlen(secret), h) != 0)
		return fprintf(stderr, "rcptguard-admin: hash failed\n"), 2;
	n = 0;
	for (i = 0; i < 32; i++)
		n += (size_t)snprintf(line + n, sizeof line - n, "%02x", h[i]);
	snprintf(line + n, sizeof line - n, " %s %s\n", scope, name);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0 || write(fd, line, strlen(line)) != (ssize_t)strlen(line) || fsync(fd) != 0) {
		fprintf(stderr, "rcptguard-admin: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 2;
	}
	close(fd);
	printf("%s\n", secret);
	fprintf(stderr, "rcptguard-admin: token %s (scope %s) added to %s; the secret above is shown only once\n",
		name, scope, path);
	return 0;
}

/* token remove NAME: rewrite the file without it (temp file, rename: never half a file). */
static int auth_remove(const char *path, const char *name)
{
	char err[RG_ERRLEN], tmp[RG_PATH_MAX + 16], *buf, *line, *next;
	struct stat sb;
	int fd, missing, found = 0;
	FILE *f;

	if ((buf = auth_read(path, &missing, err, sizeof err)) == NULL)
		return fprintf(stderr, "rcptguard-admin: %s\n", err), 78;
	if (stat(path, &sb) != 0 || util_snprintf(tmp, sizeof tmp, "%s.tmp", path) < 0) {
		free(buf);
		return fprintf(stderr, "rcptguard-admin: %s: cannot stat\n", path), 2;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, sb.st_mode & 0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		free(buf);
		return fprintf(stderr, "rcptguard-admin: %s: %s\n", tmp, strerror(errno)), 2;
	}
	if (fchown(fd, sb.st_uid, sb.st_gid) != 0 || fchmod(fd, sb.st_mode & 0640) != 0)
		fprintf(stderr, "rcptguard-admin: %s: keeping owner and mode: %s\n", tmp, strerror(errno));
	for (line = buf; *line; line = next) {
		char copy[CONFIG_LIST_MAX + 200], *w[3];
		int k;

		next = strchr(line, '\n');
		next = next ? next + 1 : line + strlen(line);
		if ((size_t)(next - line) < sizeof copy) {
			memcpy(copy, line, (size_t)(next - line));
			copy[next - line] = '\0';
			w[0] = strtok(copy, " \t\r\n");
			for (k = 1; k < 3; k++)
				w[k] = w[0] ? strtok(NULL, " \t\r\n") : NULL;
			if (w[0] && w[0][0] != '#' && w[2] && strcmp(w[2], name) == 0) {
				found = 1;
				continue;
			}
		}
		fwrite(line, 1, (size_t)(next - line), f);
	}
	free(buf);
	if (fflush(f) != 0 || fsync(fd) != 0 || fclose(f) != 0 || (found && rename(tmp, path) != 0)) {
		unlink(tmp);
		return fprintf(stderr, "rcptguard-admin: %s: %s\n", path, strerror(errno)), 2;
	}
	if (!found) {
		unlink(tmp);
		return fprintf(stderr, "rcptguard-admin: no token named %s\n", name), 1;
	}
	fprintf(stderr, "rcptguard-admin: token %s removed\n", name);
	return 0;
}

/* token add|list|remove */
int admin_token_cmd(const char *path, int argc, char **argv)
{
	struct admin_token *t;
	char err[RG_ERRLEN];
	size_t n, i;

	if (path[0] == '\0')
		return fprintf(stderr, "rcptguard-admin: admin_tokens is not set in the config\n"), 78;
	if (argc == 3 && strcmp(argv[0], "add") == 0)
		return auth_add(path, argv[1], argv[2]);
	if (argc == 2 && strcmp(argv[0], "remove") == 0)
		return auth_remove(path, argv[1]);
	if (argc == 1 && strcmp(argv[0], "list") == 0) {
		if (admin_tokens_load(path, &t, &n, err, sizeof err) != RG_FOUND)
			return fprintf(stderr, "rcptguard-admin: %s\n", err), 78;
		for (i = 0; i < n; i++)
			printf("%s %s %s\n", t[i].name, admin_is_operator(&t[i]) ? "operator" : "customer", t[i].scope);
		free(t);
		return 0;
	}
	fprintf(stderr, "usage: rcptguard-admin [-c CONFIG] token add SCOPE NAME | token list | token remove NAME\n");
	return 64;
}
