/*
 * source_ldap.c - the "ldap" source: is there a directory entry for the address?
 *
 * One subtree search under ldap_base with the domain's ldap_filter template (%s address,
 * %u local part, %d domain; every value RFC 4515-escaped), asking for no attributes
 * ("1.1") and at most one entry. An entry = RG_FOUND, no entry = RG_NOTFOUND; a server
 * down, slow, refusing the bind or answering with an error is RG_TEMPFAIL (the chain
 * moves on or defers), never RG_NOTFOUND. An unset ldap_uri is RG_CONFIG (not configured
 * for this domain); a missing password file or a bad template is RG_CONFIG too, and is
 * logged as a configuration error.
 *
 * libldap is not linked: it is dlopen()ed on first use (core/dynlib.h says why) into the
 * table L. One connection per process is made lazily, reused for every recipient of the
 * SMTP session, remade once when found dead, and abandoned (never used) after fork().
 * Every step is bounded by min(ldap_timeout, the chain's deadline); a server found
 * unreachable is left alone by this process for LDAP_HOLD_MS (temporary failures).
 */
#include <errno.h>
#include <fcntl.h>
#include <ldap.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "dynlib.h"
#include "rglog.h"
#include "source.h"
#include "ldap_filter.h"
#include "source_ldap.h"

#ifndef RG_LDAP_SONAME
#define RG_LDAP_SONAME "libldap-2.5.so.0" /* the Makefile passes the build host's soname */
#endif

#define LDAP_FILTER_MAX 8192
#define LDAP_PASSWORD_MAX 1024
/* After a server was unreachable or frozen, this process does not ask it again for this
 * long: otherwise each recipient of a 100-RCPT message would wait ldap_timeout again. */
#define LDAP_HOLD_MS 10000

/* The libldap functions used, resolved by name on first use. */
static struct {
	__typeof__(ldap_initialize) *initialize;
	__typeof__(ldap_set_option) *set_option;
	__typeof__(ldap_get_option) *get_option;
	__typeof__(ldap_start_tls_s) *start_tls_s;
	__typeof__(ldap_sasl_bind) *sasl_bind;
	__typeof__(ldap_search_ext) *search_ext;
	__typeof__(ldap_result) *result;
	__typeof__(ldap_parse_result) *parse_result;
	__typeof__(ldap_count_entries) *count_entries;
	__typeof__(ldap_count_references) *count_references;
	__typeof__(ldap_first_entry) *first_entry;
	__typeof__(ldap_get_dn) *get_dn;
	__typeof__(ldap_memfree) *memfree;
	__typeof__(ldap_msgfree) *msgfree;
	__typeof__(ldap_abandon_ext) *abandon_ext;
	__typeof__(ldap_unbind_ext) *unbind_ext;
	__typeof__(ldap_err2string) *err2string;
} L;

#define SYM(f) { "ldap_" #f, (void **)&L.f }
static const struct dynlib_sym ldap_syms[] = {
	SYM(initialize), SYM(set_option), SYM(get_option), SYM(start_tls_s), SYM(sasl_bind),
	SYM(search_ext), SYM(result), SYM(parse_result), SYM(count_entries),
	SYM(count_references), SYM(first_entry), SYM(get_dn), SYM(memfree), SYM(msgfree),
	SYM(abandon_ext), SYM(unbind_ext), SYM(err2string),
};

static int ldap_loaded;

/* The process's connection and what it was made for. */
static struct {
	uint64_t gen;                     /* util_fork_generation() of the opener */
	LDAP *ld;
	char uri[CONFIG_LIST_MAX];
	char bind_dn[CONFIG_LIST_MAX];
	char pwfile[RG_PATH_MAX];
	char cacert[RG_PATH_MAX];
	int starttls;
} conn;

/* The server last found unreachable by this process, and until when to leave it alone. */
static struct {
	uint64_t gen;
	int64_t until;
	char uri[CONFIG_LIST_MAX];
	char why[RG_ERRLEN / 2];
} down;

/* Set by the steps below when the server did not answer (timeout, gone, refused). */
static int unreachable;

/* Whether this process (or its parent) asked LDAP: conn, down and pwcache are untouched
 * otherwise, and reset leaves them alone. */
static int ldap_touched;

/* The bind password, read once per process and path. */
static struct {
	uint64_t gen;
	char path[RG_PATH_MAX];
	char pw[LDAP_PASSWORD_MAX];
	size_t len;
} pwcache;

/* Milliseconds left before dl, as a timeval; -1 when none are left. */
static int source_ldap_left(int64_t dl, struct timeval *tv)
{
	int64_t left = dl - util_monotonic_ms();

	if (left <= 0)
		return -1;
	tv->tv_sec = (time_t)(left / 1000);
	tv->tv_usec = (suseconds_t)(left % 1000) * 1000;
	return 0;
}

/* The handle's own last error text ("Can't contact LDAP server", ...). */
static const char *source_ldap_errtext(LDAP *ld, int rc)
{
	if (ld != NULL && rc == 0)
		L.get_option(ld, LDAP_OPT_RESULT_CODE, &rc);
	return L.err2string(rc);
}

/* Drop the connection (unbind when this process made it). */
static void source_ldap_drop(void)
{
	/* Why the generation check: after fork() the socket is shared with the parent; an
	 * unbind from the child would end the parent's connection. The child leaks it. */
	if (conn.ld != NULL && conn.gen == util_fork_generation()) {
		struct util_sigpipe g;

		util_sigpipe_hold(&g);
		L.unbind_ext(conn.ld, NULL, NULL);
		util_sigpipe_release(&g);
	}
	conn.ld = NULL;
}

/* Source op reset: unbind, forget the password. */
static RG_HOT void source_ldap_reset(void)
{
	/* Why: the three span pages that a session without LDAP never touched; clearing
	 * them at every QUIT would cost a page fault each. */
	if (!ldap_touched)
		return;
	ldap_touched = 0;
	source_ldap_drop();
	memset(&conn, 0, sizeof conn);
	memset(&down, 0, sizeof down);
	/* Why explicit_bzero: the secret must not linger in a core dump of an Exim process. */
	explicit_bzero(&pwcache, sizeof pwcache);
}

/* The bind password of path (read once per process). RG_FOUND or RG_CONFIG. */
static int source_ldap_password(const char *path, struct berval *cred, char *err, size_t errlen)
{
	char buf[LDAP_PASSWORD_MAX + 1];
	ssize_t r;
	size_t len = 0;
	int fd;

	if (pwcache.gen == util_fork_generation() && pwcache.len > 0 && strcmp(pwcache.path, path) == 0)
		goto done;
	explicit_bzero(&pwcache, sizeof pwcache);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return util_snprintf(err, errlen, "ldap_bind_password_file %.200s: %s", path, strerror(errno)),
		       RG_CONFIG;
	while (len < sizeof buf && (r = read(fd, buf + len, sizeof buf - len)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			util_snprintf(err, errlen, "ldap_bind_password_file %.200s: %s", path, strerror(errno));
			close(fd);
			explicit_bzero(buf, sizeof buf);
			return RG_CONFIG;
		}
		len += (size_t)r;
	}
	close(fd);
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len == 0 || len > LDAP_PASSWORD_MAX - 1) {
		explicit_bzero(buf, sizeof buf);
		/* Why an empty password is refused: a simple bind with a DN and no password is
		 * an unauthenticated bind (RFC 4513 5.1.2) that servers may accept as anonymous. */
		return util_snprintf(err, errlen, "ldap_bind_password_file %.200s: %s", path,
				     len ? "longer than 1023 bytes" : "empty"), RG_CONFIG;
	}
	memcpy(pwcache.pw, buf, len);
	explicit_bzero(buf, sizeof buf);
	pwcache.len = len;
	pwcache.gen = util_fork_generation();
	util_strlcpy(pwcache.path, path, sizeof pwcache.path);
done:
	cred->bv_val = pwcache.pw;
	cred->bv_len = pwcache.len;
	return RG_FOUND;
}

/* Whether the kept connection was made for these settings by this process. */
static int source_ldap_reusable(const struct settings *s)
{
	return conn.ld != NULL && conn.gen == util_fork_generation() && conn.starttls == s->ldap.starttls &&
	       !strcmp(conn.uri, s->ldap.uri) && !strcmp(conn.bind_dn, s->ldap.bind_dn) &&
	       !strcmp(conn.pwfile, s->ldap.bind_password_file) && !strcmp(conn.cacert, s->ldap.tls_cacert);
}

/* Put the time left before dl on the handle (connect, TLS handshake, synchronous calls). */
static int source_ldap_bound(LDAP *ld, int64_t dl)
{
	struct timeval tv;

	if (source_ldap_left(dl, &tv) < 0)
		return -1;
	if (L.set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) != LDAP_OPT_SUCCESS ||
	    L.set_option(ld, LDAP_OPT_TIMEOUT, &tv) != LDAP_OPT_SUCCESS)
		return -1;
	return 0;
}

/* Simple bind as s->ldap.bind_dn, bounded by dl. */
static int source_ldap_bind(LDAP *ld, const struct settings *s, struct berval *cred, int64_t dl,
			    char *err, size_t errlen)
{
	struct timeval tv;
	LDAPMessage *res = NULL;
	char *diag = NULL;
	int msgid, rc, code = 0;

	rc = L.sasl_bind(ld, s->ldap.bind_dn, LDAP_SASL_SIMPLE, cred, NULL, NULL, &msgid);
	unreachable = rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || rc == LDAP_TIMEOUT;
	if (rc != LDAP_SUCCESS)
		return util_snprintf(err, errlen, "bind: %s", L.err2string(rc)), RG_TEMPFAIL;
	if (source_ldap_left(dl, &tv) < 0 || (rc = L.result(ld, msgid, LDAP_MSG_ALL, &tv, &res)) == 0) {
		L.abandon_ext(ld, msgid, NULL, NULL);
		unreachable = 1;
		return util_snprintf(err, errlen, "bind: timed out"), RG_TEMPFAIL;
	}
	unreachable = rc < 0;
	if (rc < 0)
		return util_snprintf(err, errlen, "bind: %s", source_ldap_errtext(ld, 0)), RG_TEMPFAIL;
	rc = L.parse_result(ld, res, &code, NULL, &diag, NULL, NULL, 1);
	if (rc == LDAP_SUCCESS && code != LDAP_SUCCESS)
		rc = code;
	if (rc != LDAP_SUCCESS) {
		/* A refused bind is the directory's or the operator's problem, never the
		 * address's: temporary, and the reason goes to the log via the yield's detail. */
		util_snprintf(err, errlen, "bind as %.100s refused: %s%s%.60s", s->ldap.bind_dn,
			      L.err2string(rc), diag && *diag ? ": " : "", diag ? diag : "");
		L.memfree(diag);
		return RG_TEMPFAIL;
	}
	L.memfree(diag);
	return RG_FOUND;
}

/* Make the connection for s (TLS, bind), bounded by dl. */
static int source_ldap_connect(const struct settings *s, int64_t dl, char *err, size_t errlen)
{
	struct berval cred = { 0, NULL };
	int v3 = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND, zero = 0, rc;
	LDAP *ld = NULL;

	source_ldap_drop();
	if (s->ldap.bind_dn[0] && source_ldap_password(s->ldap.bind_password_file, &cred, err, errlen) != RG_FOUND)
		return RG_CONFIG;
	if ((rc = L.initialize(&ld, s->ldap.uri)) != LDAP_SUCCESS)
		return util_snprintf(err, errlen, "ldap_uri \"%.200s\": %s", s->ldap.uri, L.err2string(rc)), RG_CONFIG;
	L.set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
	/* Why no referrals: chasing them would bind elsewhere with our credentials. */
	L.set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
	if (s->ldap.starttls || strcasestr(s->ldap.uri, "ldaps:") != NULL) {
		/* Why demand: an unverified certificate lets anyone in the path answer "exists". */
		if ((s->ldap.tls_cacert[0] &&
		     L.set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, s->ldap.tls_cacert) != LDAP_OPT_SUCCESS) ||
		    L.set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) != LDAP_OPT_SUCCESS ||
		    L.set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero) != LDAP_OPT_SUCCESS) {
			L.unbind_ext(ld, NULL, NULL);
			return util_snprintf(err, errlen, "cannot set up TLS (ldap_tls_cacert \"%.200s\")",
					     s->ldap.tls_cacert), RG_CONFIG;
		}
	}
	if (source_ldap_bound(ld, dl) < 0) {
		L.unbind_ext(ld, NULL, NULL);
		return util_snprintf(err, errlen, "no time left"), RG_TEMPFAIL;
	}
	if (s->ldap.starttls && (rc = L.start_tls_s(ld, NULL, NULL)) != LDAP_SUCCESS) {
		char *diag = NULL;

		/* Not LDAP_CONNECT_ERROR: that is also a certificate that does not verify. */
		unreachable = rc == LDAP_SERVER_DOWN || rc == LDAP_TIMEOUT;
		L.get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
		util_snprintf(err, errlen, "StartTLS: %s%s%.100s", L.err2string(rc),
			      diag && *diag ? ": " : "", diag ? diag : "");
		L.memfree(diag);
		L.unbind_ext(ld, NULL, NULL);
		return RG_TEMPFAIL;
	}
	if (s->ldap.bind_dn[0] && (rc = source_ldap_bind(ld, s, &cred, dl, err, errlen)) != RG_FOUND) {
		L.unbind_ext(ld, NULL, NULL);
		return rc;
	}
	conn.ld = ld;
	conn.gen = util_fork_generation();
	conn.starttls = s->ldap.starttls;
	util_strlcpy(conn.uri, s->ldap.uri, sizeof conn.uri);
	util_strlcpy(conn.bind_dn, s->ldap.bind_dn, sizeof conn.bind_dn);
	util_strlcpy(conn.pwfile, s->ldap.bind_password_file, sizeof conn.pwfile);
	util_strlcpy(conn.cacert, s->ldap.tls_cacert, sizeof conn.cacert);
	return RG_FOUND;
}

/* One search on the kept connection; *dead = 1 when the connection is gone. */
static int source_ldap_search(const struct settings *s, const char *filter, int64_t dl, int *dead,
			      struct source_answer *ans, char *err, size_t errlen)
{
	static char attr_none[] = LDAP_NO_ATTRS;   /* "1.1": no attributes, only the DN */
	char *attrs[] = { attr_none, NULL }, *diag = NULL, *dn;
	struct source_ldap_result r;
	struct timeval tv, limit;
	LDAPMessage *res = NULL;
	int msgid, rc, code = 0;

	*dead = 0;
	if (source_ldap_bound(conn.ld, dl) < 0 || source_ldap_left(dl, &limit) < 0)
		return util_snprintf(err, errlen, "no time left"), RG_TEMPFAIL;
	/* The server's own time limit, whole seconds, at least 1. */
	limit.tv_sec = limit.tv_sec > 0 ? limit.tv_sec : 1;
	limit.tv_usec = 0;
	rc = L.search_ext(conn.ld, s->ldap.base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, NULL, NULL, &limit, 1, &msgid);
	if (rc != LDAP_SUCCESS) {
		*dead = unreachable = rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR;
		return util_snprintf(err, errlen, "search: %s", L.err2string(rc)), RG_TEMPFAIL;
	}
	if (source_ldap_left(dl, &tv) < 0 || (rc = L.result(conn.ld, msgid, LDAP_MSG_ALL, &tv, &res)) == 0) {
		/* The server may be stopped or overloaded: give up on this connection. */
		L.abandon_ext(conn.ld, msgid, NULL, NULL);
		source_ldap_drop();
		unreachable = 1;
		return util_snprintf(err, errlen, "search timed out"), RG_TEMPFAIL;
	}
	if (rc < 0) {
		L.get_option(conn.ld, LDAP_OPT_RESULT_CODE, &code);
		*dead = unreachable = 1;
		return util_snprintf(err, errlen, "search: %s", L.err2string(code)), RG_TEMPFAIL;
	}
	memset(&r, 0, sizeof r);
	r.entries = L.count_entries(conn.ld, res);
	r.refs = L.count_references(conn.ld, res);
	dn = r.entries > 0 ? L.get_dn(conn.ld, L.first_entry(conn.ld, res)) : NULL;
	rc = L.parse_result(conn.ld, res, &code, NULL, &diag, NULL, NULL, 1);
	r.code = rc == LDAP_SUCCESS ? code : rc;
	r.codetext = L.err2string(r.code);
	r.dn = dn;
	r.diag = diag;
	if (r.code == LDAP_SERVER_DOWN)
		*dead = 1;
	rc = source_ldap_judge(&r, s->ldap.base, ans, err, errlen);
	L.memfree(dn);
	L.memfree(diag);
	return rc;
}

/* What a search's result says about the address. */
int source_ldap_judge(const struct source_ldap_result *r, const char *base, struct source_answer *ans,
		      char *err, size_t errlen)
{
	char text[VERDICT_TEXT_MAX], diag[128] = "";

	if (r->entries > 0 && r->dn != NULL) {
		util_snprintf(text, sizeof text, "entry %s", r->dn);
		util_sanitise(ans->text, sizeof ans->text, text, strlen(text));
	}
	/* Size limit 1 exceeded with an entry in hand: the address exists (several times). */
	if (r->entries > 0 && (r->code == LDAP_SUCCESS || r->code == LDAP_SIZELIMIT_EXCEEDED)) {
		if (!ans->text[0])
			util_strlcpy(ans->text, "entry found", sizeof ans->text);
		return RG_FOUND;
	}
	if (r->code == LDAP_SUCCESS && r->entries == 0 && r->refs == 0) {
		util_snprintf(ans->text, sizeof ans->text, "no entry under %.150s", base);
		return RG_NOTFOUND;
	}
	/* Anything else (no such base, busy, unwilling, a continuation reference that we do
	 * not follow) says nothing about the address. Why sanitised: the diagnostic is the
	 * server's text and goes to Exim's log. */
	if (r->diag != NULL && r->diag[0])
		util_sanitise(diag, sizeof diag, r->diag, strnlen(r->diag, 80));
	util_snprintf(err, errlen, "search: %s%s%s", r->code == LDAP_SUCCESS ? "referral not followed" :
		      r->codetext ? r->codetext : "unknown error", diag[0] ? ": " : "", diag);
	return RG_TEMPFAIL;
}

/* Connect when needed and search; a kept connection found dead is remade once. */
static int source_ldap_ask(const struct settings *s, const char *filter, int64_t dl,
			   struct source_answer *ans, char *err, size_t errlen)
{
	int rc = RG_TEMPFAIL, dead, attempt;

	ldap_touched = 1;
	if (down.gen == util_fork_generation() && util_monotonic_ms() < down.until && !strcmp(down.uri, s->ldap.uri))
		return util_snprintf(err, errlen, "%s (a moment ago; not asked again yet)", down.why), RG_TEMPFAIL;
	for (attempt = 0; attempt < 2; attempt++) {
		unreachable = 0;
		int reused = source_ldap_reusable(s);

		if (!reused && (rc = source_ldap_connect(s, dl, err, errlen)) != RG_FOUND)
			break;
		rc = source_ldap_search(s, filter, dl, &dead, ans, err, errlen);
		if (dead)
			source_ldap_drop();
		/* A kept connection the server closed since (idle timeout, restart): once more. */
		if (!(dead && reused))
			break;
		rglog(RGLOG_DEBUG, "rcptguard: ldap connection lost (%s), reconnecting", err);
	}
	if (rc == RG_TEMPFAIL && unreachable) {
		down.gen = util_fork_generation();
		down.until = util_monotonic_ms() + LDAP_HOLD_MS;
		util_strlcpy(down.uri, s->ldap.uri, sizeof down.uri);
		util_strlcpy(down.why, err, sizeof down.why);
	}
	return rc;
}

/* Log a configuration error (the chain moves on). */
static int source_ldap_config_error(const char *err)
{
	rglog(RGLOG_ERROR, "rcptguard: configuration error: %s", err);
	return RG_CONFIG;
}

/* Source op lookup. */
static int source_ldap_lookup(const struct address *addr, const struct settings *s, int64_t deadline_ms,
			      struct source_answer *ans, char *err, size_t errlen)
{
	char filter[LDAP_FILTER_MAX];
	int64_t dl = util_monotonic_ms() + (int64_t)s->ldap.timeout * 1000;
	struct berval cred;
	struct util_sigpipe g;
	int rc;

	memset(ans, 0, sizeof *ans);
	if (!s->ldap.uri[0])
		return util_snprintf(err, errlen, "ldap_uri not set"), RG_CONFIG;
	if (!s->ldap.base[0]) {
		/* Why required: a search from the root DSE finds nothing on most servers, and
		 * "nothing" would reject every recipient. */
		util_snprintf(err, errlen, "ldap_uri is set but ldap_base is not");
		return source_ldap_config_error(err);
	}
	if (ldap_filter_expand(filter, sizeof filter, s->ldap.filter[0] ? s->ldap.filter :
				      LDAP_FILTER_DEFAULT, addr, err, errlen) != RG_FOUND) {
		char why[RG_ERRLEN];

		util_snprintf(why, sizeof why, "ldap_filter: %s", err);
		util_strlcpy(err, why, errlen);
		return source_ldap_config_error(err);
	}
	if (s->ldap.bind_dn[0] && !s->ldap.bind_password_file[0]) {
		util_snprintf(err, errlen, "ldap_bind_dn is set but ldap_bind_password_file is not");
		return source_ldap_config_error(err);
	}
	/* The password before anything else: a configuration problem is reported as one,
	 * whatever the server's state. */
	if (s->ldap.bind_dn[0] && source_ldap_password(s->ldap.bind_password_file, &cred, err, errlen) != RG_FOUND)
		return source_ldap_config_error(err);
	if (!ldap_loaded) {
		if (dynlib_load(RG_LDAP_SONAME, ldap_syms, sizeof ldap_syms / sizeof ldap_syms[0], err, errlen) != RG_FOUND)
			return source_ldap_config_error(err);
		ldap_loaded = 1;
	}
	if (deadline_ms < dl)
		dl = deadline_ms;
	util_sigpipe_hold(&g);
	rc = source_ldap_ask(s, filter, dl, ans, err, errlen);
	util_sigpipe_release(&g);
	return rc == RG_CONFIG ? source_ldap_config_error(err) : rc;
}

const struct source_ops source_ldap_ops = {
	.name = "ldap",
	.lookup = source_ldap_lookup,
	.reset = source_ldap_reset,
};
