/* test_source_ldap.c - the LDAP source's pure parts (RFC 4515 escaping, filter templates,
 * the config validator of ldap_filter) and the outcomes it reaches without a directory:
 * not configured, configuration errors, a server that is not there, no time left.
 * The searches themselves are tested against a real slapd in t_ldap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
