/* test_source_ldap.c - the LDAP source's pure parts (RFC 4515 escaping, filter templates,
 * the config validator of ldap_filter) and the outcomes it reaches without a directory:
 * not configured, configuration errors, a server that is not there, no time left; and a
 * fork with a live connection (against a minimal LDAP responder on loopback: the child
 * never uses nor unbinds its parent's connection). The searches themselves are tested
 * against a real slapd in t_ldap. */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>
#include <cmocka.h>

#include "address.h"
#include "config.h"
#include "rglog.h"
#include "source.h"
#include "ldap_filter.h"

static char logged[2048];

static void hook(int level, const char *line)
{
	if (level == RGLOG_ERROR)
		snprintf(logged, sizeof logged, "%s", line);
}

/* escape(in, n) into a static buffer. */
static const char *esc(const char *in, size_t n)
{
	static char out[256];

	assert_true(ldap_filter_escape(out, sizeof out, in, n) >= 0);
	return out;
}

static void test_escape(void **state)
{
	char small[8];

	(void)state;
	assert_string_equal(esc("alice@example.org", 17), "alice@example.org");
	assert_string_equal(esc("*", 1), "\\2a");
	assert_string_equal(esc("a)(uid=*", 8), "a\\29\\28uid=\\2a");
	assert_string_equal(esc("back\\slash", 10), "back\\5cslash");
	assert_string_equal(esc("nul\0after", 9), "nul\\00after");
	assert_string_equal(esc("caf\xc3\xa9", 5), "caf\\c3\\a9");
	assert_string_equal(esc("tab\tdel\x7f", 8), "tab\\09del\\7f");
	assert_string_equal(esc("", 0), "");
	/* Truncation is an error, never a cut filter value. */
	assert_int_equal(ldap_filter_escape(small, sizeof small, "abcdefg", 7), 7);
	assert_int_equal(ldap_filter_escape(small, sizeof small, "abcdefgh", 8), -1);
	assert_int_equal(ldap_filter_escape(small, sizeof small, "abcde*", 6), -1);
	assert_int_equal(ldap_filter_escape(small, 0, "", 0), -1);
}

/* Expand tmpl for address in; returns the RG_ code, the filter in out. */
static int expand(const char *tmpl, const char *in, char *out, size_t size)
{
	struct address a;
	char err[RG_ERRLEN];

	assert_int_equal(address_parse(in, &a, err, sizeof err), RG_FOUND);
	return ldap_filter_expand(out, size, tmpl, &a, err, sizeof err);
}

static void test_expand(void **state)
{
	char f[512];

	(void)state;
	assert_int_equal(expand("(mail=%s)", "Alice@Example.ORG", f, sizeof f), RG_FOUND);
	assert_string_equal(f, "(mail=Alice@example.org)");
	assert_int_equal(expand("(&(uid=%u)(dc=%d)(x=100%%))", "bob@ex.test", f, sizeof f), RG_FOUND);
	assert_string_equal(f, "(&(uid=bob)(dc=ex.test)(x=100%))");
	/* A client's wildcard or filter syntax is a value, never filter structure. */
	assert_int_equal(expand("(mail=%s)", "*@ex.test", f, sizeof f), RG_FOUND);
	assert_string_equal(f, "(mail=\\2a@ex.test)");
	assert_int_equal(expand("(mail=%s)", "\"a)(|(mail=*\"@ex.test", f, sizeof f), RG_FOUND);
	assert_string_equal(f, "(mail=\"a\\29\\28|\\28mail=\\2a\"@ex.test)");
	assert_int_equal(expand("(uid=%u)", "\"x\\\\y\"@ex.test", f, sizeof f), RG_FOUND);
	assert_string_equal(f, "(uid=\"x\\5c\\5cy\")");
	assert_int_equal(expand(LDAP_FILTER_DEFAULT, "a@b.test", f, sizeof f), RG_FOUND);
	assert_string_equal(f, "(|(mail=a@b.test)(mailLocalAddress=a@b.test))");
	/* Too small a buffer: a configuration error, not a cut filter. */
	assert_int_equal(expand("(mail=%s)", "a*@b.test", f, 14), RG_CONFIG);
	assert_int_equal(expand("(mail=%s)", "a@b.test", f, 16), RG_FOUND);
	assert_int_equal(expand("(mail=%s)", "a@b.test", f, 15), RG_CONFIG);
	/* A bad template is refused by the expansion too (options bypass nothing). */
	assert_int_equal(expand("(mail=%x)", "a@b.test", f, sizeof f), RG_CONFIG);
}

/* The check's verdict on tmpl; err must contain want when refused. */
static void check(const char *tmpl, int rc, const char *want)
{
	char err[RG_ERRLEN] = "";

	assert_int_equal(ldap_filter_check(tmpl, err, sizeof err), rc);
	if (want != NULL && strstr(err, want) == NULL)
		fail_msg("template %s: error \"%s\" lacks \"%s\"", tmpl, err, want);
}

static void test_template(void **state)
{
	(void)state;
	check("(mail=%s)", RG_FOUND, NULL);
	check("(|(mail=%s)(mailLocalAddress=%u@%d))", RG_FOUND, NULL);
	check("(&(mail=%s)(cn=a\\28b\\29))", RG_FOUND, NULL);      /* escaped parentheses are values */
	check("(&(mail=%s)(objectClass=*))", RG_FOUND, NULL);
	check("mail=%s", RG_FOUND, NULL);
	check("(mail=%x)", RG_CONFIG, "unknown escape %x");
	check("(mail=%s)%", RG_CONFIG, "lone %");
	check("(mail=%s", RG_CONFIG, "unbalanced parentheses: 1 '(' not closed");
	check("(mail=%s))", RG_CONFIG, "unbalanced parentheses: ')' at offset 9");
	check(")(mail=%s(", RG_CONFIG, "')' at offset 0");
	check("(mail=a\\2)", RG_CONFIG, "bad escape");
	check("(mail=a\\)", RG_CONFIG, "bad escape");
	check("(mail=%%s)", RG_CONFIG, "none of %s, %u, %d");
	check("(objectClass=*)", RG_CONFIG, "none of %s, %u, %d");
	check("(mail=%s\t)", RG_CONFIG, "control byte");
}

/* Write text to path. */
static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_config_validator(void **state)
{
	char dir[] = "/tmp/rg-test-ldap.XXXXXX", path[128], err[RG_ERRLEN];
	struct config *c = NULL;
	struct settings s;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/rg.conf", dir);
	put(path, "ldap_filter = (mail=%s)\n[domain a.test]\nldap_filter = \"(|(mail=%s)(uid=%u)\"\n");
	assert_int_equal(config_load(path, &c, err, sizeof err), RG_CONFIG);
	assert_non_null(strstr(err, "rg.conf:3:"));
	assert_non_null(strstr(err, "ldap_filter"));
	assert_non_null(strstr(err, "unbalanced parentheses"));
	put(path, "ldap_filter = (mail=%e)\n");
	assert_int_equal(config_load(path, &c, err, sizeof err), RG_CONFIG);
	assert_non_null(strstr(err, "rg.conf:1:"));
	assert_non_null(strstr(err, "unknown escape %e"));
	put(path, "ldap_filter = \"(|(mail=%s)(mailLocalAddress=%s))\"\nldap_tls_cacert = /etc/ssl/ca.pem\n");
	assert_int_equal(config_load(path, &c, err, sizeof err), RG_FOUND);
	config_for_domain(c, "x.test", &s);
	assert_string_equal(s.ldap.filter, "(|(mail=%s)(mailLocalAddress=%s))");
	assert_string_equal(s.ldap.tls_cacert, "/etc/ssl/ca.pem");
	config_free(c);
	/* The ACL's options go through the same validator. */
	assert_int_equal(config_apply_options(&s, "ldap_filter=(uid=%q)", err, sizeof err), RG_CONFIG);
	assert_non_null(strstr(err, "unknown escape %q"));
	unlink(path);
	rmdir(dir);
}

/* Settings for the lookups below: ldap configured, no server needed yet. */
static void ldap_settings(struct settings *s, const char *uri)
{
	config_defaults(s);
	snprintf(s->ldap.uri, sizeof s->ldap.uri, "%s", uri);
	snprintf(s->ldap.base, sizeof s->ldap.base, "dc=rcptguard,dc=test");
	s->ldap.timeout = 2;
}

/* A loopback port on which nothing listens. */
static int dead_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static void test_lookup_outcomes(void **state)
{
	const struct source_ops *src = source_find("ldap");
	struct source_answer ans;
	struct settings s;
	struct address a;
	char err[RG_ERRLEN], uri[64], dir[] = "/tmp/rg-test-ldap.XXXXXX", pw[128];
	int64_t far = util_monotonic_ms() + 60000;

	(void)state;
	assert_non_null(src);
	assert_int_equal(address_parse("alice@ldap.test", &a, err, sizeof err), RG_FOUND);
	rglog_set_hook(hook, 0);

	/* Not configured for this domain: RG_CONFIG, quietly (the chain moves on). */
	config_defaults(&s);
	logged[0] = '\0';
	assert_int_equal(src->lookup(&a, &s, far, &ans, err, sizeof err), RG_CONFIG);
	assert_string_equal(logged, "");

	/* Configured but unusable: RG_CONFIG, logged as a configuration error. */
	snprintf(uri, sizeof uri, "ldap://127.0.0.1:%d/", dead_port());
	ldap_settings(&s, uri);
	s.ldap.base[0] = '\0';
	assert_int_equal(src->lookup(&a, &s, far, &ans, err, sizeof err), RG_CONFIG);
	assert_non_null(strstr(logged, "configuration error: ldap_uri is set but ldap_base is not"));

	ldap_settings(&s, uri);
	snprintf(s.ldap.bind_dn, sizeof s.ldap.bind_dn, "cn=reader,dc=rcptguard,dc=test");
	assert_int_equal(src->lookup(&a, &s, far, &ans, err, sizeof err), RG_CONFIG);
	assert_non_null(strstr(logged, "ldap_bind_password_file is not"));

	assert_non_null(mkdtemp(dir));
	snprintf(s.ldap.bind_password_file, sizeof s.ldap.bind_password_file, "%s/missing.pw", dir);
	assert_int_equal(src->lookup(&a, &s, far, &ans, err, sizeof err), RG_CONFIG);
	assert_non_null(strstr(logged, "missing.pw: No such file or directory"));

	snprintf(pw, sizeof pw, "%s/empty.pw", dir);
	put(pw, "\n");
	snprintf(s.ldap.bind_password_file, sizeof s.ldap.bind_password_file, "%s", pw);
	assert_int_equal(src->lookup(&a, &s, far, &ans, err, sizeof err), RG_CONFIG);
	assert_non_null(strstr(logged, "empty.pw: empty"));

	ldap_settings(&s, "http://127.0.0.1/");
	assert_int_equal(src->lookup(&a, &s, far, &ans, err, sizeof err), RG_CONFIG);
	assert_non_null(strstr(logged, "ldap_uri \"http://127.0.0.1/\""));

	/* A password is there but the server is not: temporary, never "no such user". */
	put(pw, "secret\n");
	ldap_settings(&s, uri);
	snprintf(s.ldap.bind_dn, sizeof s.ldap.bind_dn, "cn=reader,dc=rcptguard,dc=test");
	snprintf(s.ldap.bind_password_file, sizeof s.ldap.bind_password_file, "%s", pw);
	logged[0] = '\0';
	assert_int_equal(src->lookup(&a, &s, far, &ans, err, sizeof err), RG_TEMPFAIL);
	assert_non_null(strstr(err, "bind: "));
	assert_string_equal(logged, "");
	/* The next recipient of the session does not wait for that server again. */
	ldap_settings(&s, uri);
	assert_int_equal(src->lookup(&a, &s, far, &ans, err, sizeof err), RG_TEMPFAIL);
	assert_non_null(strstr(err, "bind: "));
	assert_non_null(strstr(err, "not asked again yet"));
	/* reset (session end) forgets it: asked again, anonymously this time. */
	src->reset();
	assert_int_equal(src->lookup(&a, &s, far, &ans, err, sizeof err), RG_TEMPFAIL);
	assert_non_null(strstr(err, "search: "));
	assert_null(strstr(err, "not asked again yet"));
	assert_int_equal(ans.catchall, 0);

	/* The chain's deadline already passed: no network at all, temporary. */
	src->reset();
	assert_int_equal(src->lookup(&a, &s, util_monotonic_ms() - 1, &ans, err, sizeof err), RG_TEMPFAIL);
	assert_non_null(strstr(err, "no time left"));

	src->reset();
	src->reset();          /* twice: harmless */
	unlink(pw);
	rmdir(dir);
	rglog_set_hook(NULL, 0);
}

/* ---- a minimal LDAP responder on loopback, for the fork test: every search finds one
 * entry; it counts the connections it accepted and the unbinds it received. */
static struct {
	int lfd, port, stop;
	int accepted, unbinds;          /* read with __atomic loads */
	pthread_t thr;
} srv;

/* Read a BER length at p (n bytes available); its value, the bytes it took in *used; -1. */
static long ber_len(const unsigned char *p, size_t n, size_t *used)
{
	size_t k, i;
	long v = 0;

	if (n < 1)
		return -1;
	if (p[0] < 0x80)
		return *used = 1, p[0];
	k = p[0] & 0x7f;
	if (k == 0 || k > 4 || n < 1 + k)
		return -1;
	for (i = 0; i < k; i++)
		v = (v << 8) | p[1 + i];
	*used = 1 + k;
	return v;
}

/* Answer one request msg[0..n) on fd: a search gets an entry and "success". 0 keep, -1 close. */
static int srv_answer(int fd, const unsigned char *msg, size_t n)
{
	static const char dn[] = "uid=alice,dc=rcptguard,dc=test";
	unsigned char out[256], id[8];
	size_t idlen, o = 0, e;

	if (n < 3 || msg[0] != 0x02 || (idlen = msg[1]) > sizeof id || n < 2 + idlen + 1)
		return -1;
	memcpy(id, msg + 2, idlen);
	if (msg[2 + idlen] == 0x42) {                /* unbind */
		__atomic_add_fetch(&srv.unbinds, 1, __ATOMIC_SEQ_CST);
		return -1;
	}
	if (msg[2 + idlen] != 0x63)                  /* not a search: ignored */
		return 0;
	/* SearchResultEntry: [APPLICATION 4] { dn, attributes {} } */
	e = sizeof dn - 1;
	out[o++] = 0x30;
	out[o++] = (unsigned char)(2 + idlen + 2 + 2 + e + 2);
	out[o++] = 0x02;
	out[o++] = (unsigned char)idlen;
	memcpy(out + o, id, idlen), o += idlen;
	out[o++] = 0x64;
	out[o++] = (unsigned char)(2 + e + 2);
	out[o++] = 0x04;
	out[o++] = (unsigned char)e;
	memcpy(out + o, dn, e), o += e;
	out[o++] = 0x30;
	out[o++] = 0x00;
	/* SearchResultDone: [APPLICATION 5] { success, "", "" } */
	out[o++] = 0x30;
	out[o++] = (unsigned char)(2 + idlen + 9);
	out[o++] = 0x02;
	out[o++] = (unsigned char)idlen;
	memcpy(out + o, id, idlen), o += idlen;
	memcpy(out + o, "\x65\x07\x0a\x01\x00\x04\x00\x04\x00", 9), o += 9;
	return write(fd, out, o) == (ssize_t)o ? 0 : -1;
}

/* The responder: one thread polling the listener and up to 8 connections. */
static void *srv_main(void *arg)
{
	struct pollfd pf[9];
	unsigned char buf[8][4096];
	size_t have[8] = { 0 };
	int i, n = 0;

	(void)arg;
	pf[0].fd = srv.lfd;
	pf[0].events = POLLIN;
	for (i = 1; i < 9; i++)
		pf[i].fd = -1, pf[i].events = POLLIN;
	while (!__atomic_load_n(&srv.stop, __ATOMIC_SEQ_CST)) {
		if (poll(pf, 9, 50) <= 0)
			continue;
		if (pf[0].revents & POLLIN) {
			int c = accept(srv.lfd, NULL, NULL);

			for (i = 1; c >= 0 && i < 9 && pf[i].fd >= 0; i++)
				;
			if (c >= 0 && i < 9) {
				pf[i].fd = c;
				have[i - 1] = 0;
				__atomic_add_fetch(&srv.accepted, 1, __ATOMIC_SEQ_CST);
			} else if (c >= 0) {
				close(c);
			}
		}
		for (i = 1; i < 9; i++) {
			unsigned char *b = buf[i - 1];
			size_t *h = &have[i - 1], used;
			ssize_t r;
			long len;

			if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(pf[i].fd, b + *h, sizeof buf[0] - *h);
			if (r <= 0) {
				close(pf[i].fd), pf[i].fd = -1;
				continue;
			}
			*h += (size_t)r;
			/* Every whole message in the buffer. */
			while (*h >= 2 && b[0] == 0x30 && (len = ber_len(b + 1, *h - 1, &used)) >= 0 &&
			       *h >= 1 + used + (size_t)len) {
				size_t whole = 1 + used + (size_t)len;

				n = srv_answer(pf[i].fd, b + 1 + used, (size_t)len);
				memmove(b, b + whole, *h - whole);
				*h -= whole;
				if (n < 0) {
					close(pf[i].fd), pf[i].fd = -1;
					break;
				}
			}
		}
	}
	for (i = 0; i < 9; i++)
		if (pf[i].fd >= 0)
			close(pf[i].fd);
	return NULL;
}

static void srv_start(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;

	memset(&srv, 0, sizeof srv);
	srv.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(srv.lfd >= 0);
	assert_int_equal(bind(srv.lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(srv.lfd, 16), 0);
	assert_int_equal(getsockname(srv.lfd, (struct sockaddr *)&sa, &len), 0);
	srv.port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&srv.thr, NULL, srv_main, NULL), 0);
}

static void srv_stop(void)
{
	__atomic_store_n(&srv.stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(srv.thr, NULL);
	close(srv.lfd);
}

static int srv_count(int *what)
{
	return __atomic_load_n(what, __ATOMIC_SEQ_CST);
}

/* A child forked with a live LDAP connection never uses its parent's (the generation
 * check): it makes its own, and its session end (reset) neither unbinds nor closes the
 * parent's, which answers the next recipient without reconnecting. */
static void test_fork_live_handle(void **state)
{
	const struct source_ops *src = source_find("ldap");
	struct source_answer ans;
	struct settings s;
	struct address a;
	char err[RG_ERRLEN], uri[64];
	int64_t far = util_monotonic_ms() + 60000;
	int st;
	pid_t pid;

	(void)state;
	srv_start();
	snprintf(uri, sizeof uri, "ldap://127.0.0.1:%d/", srv.port);
	ldap_settings(&s, uri);
	assert_int_equal(address_parse("alice@ldap.test", &a, err, sizeof err), RG_FOUND);
	src->reset();
	assert_int_equal(src->lookup(&a, &s, far, &ans, err, sizeof err), RG_FOUND);
	assert_string_equal(ans.text, "entry uid=alice,dc=rcptguard,dc=test");
	assert_int_equal(src->lookup(&a, &s, far, &ans, err, sizeof err), RG_FOUND);
	assert_int_equal(srv_count(&srv.accepted), 1);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int rc = src->lookup(&a, &s, util_monotonic_ms() + 10000, &ans, err, sizeof err);

		src->reset();
		_exit(rc == RG_FOUND ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* The child connected on its own, and unbound only its own connection. */
	assert_int_equal(srv_count(&srv.accepted), 2);
	usleep(100000);
	assert_int_equal(srv_count(&srv.unbinds), 1);
	/* The parent's connection still answers: no reconnect. */
	assert_int_equal(src->lookup(&a, &s, far, &ans, err, sizeof err), RG_FOUND);
	assert_int_equal(srv_count(&srv.accepted), 2);
	src->reset();
	usleep(100000);
	assert_int_equal(srv_count(&srv.unbinds), 2);
	srv_stop();
}

/* The LDAP source is in the registry, with its per-process clean-up. */
static void test_registered(void **state)
{
	(void)state;
	assert_non_null(source_find("ldap"));
	assert_non_null(source_find("ldap")->reset);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_template),
		cmocka_unit_test(test_config_validator),
		cmocka_unit_test(test_lookup_outcomes),
		cmocka_unit_test(test_registered),
		cmocka_unit_test(test_fork_live_handle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
