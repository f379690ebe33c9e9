/*
 * test_config.c - unit tests for core/config.c: the rcptguard.conf format, sections,
 * includes and ACL options (DESIGN.md "The contract: configuration").
 *
 * Every test works in its own mkdtemp() folder under /tmp, removed afterwards.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

static char dir[64];
static char err[RG_ERRLEN];

/* Remove one entry of the test folder (nftw callback). */
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

/* A fresh folder per test. */
static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/rg-test-config-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

/* Remove the folder and everything in it. */
static int teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Write len bytes to dir/name (creating sub-folders one level deep); returns the path. */
static const char *write_bytes(const char *name, const char *text, size_t len)
{
	static char paths[8][512];
	static int next;
	char *path = paths[next++ % 8], *slash;
	FILE *f;

	snprintf(path, 512, "%s/%s", dir, name);
	slash = strrchr(path, '/');
	*slash = '\0';
	mkdir(path, 0700);
	*slash = '/';
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

static const char *write_file(const char *name, const char *text)
{
	return write_bytes(name, text, strlen(text));
}

/* Load text as dir/rg.conf, expecting success. */
static struct config *load_ok(const char *text)
{
	struct config *c = NULL;
	const char *path = write_file("rg.conf", text);

	err[0] = '\0';
	if (config_load(path, &c, err, sizeof err) != RG_FOUND)
		fail_msg("unexpected error: %s", err);
	assert_non_null(c);
	return c;
}

/* Load len bytes as dir/rg.conf, expecting RG_CONFIG with the message "PATH:" + want. */
static void load_bad_bytes(const char *text, size_t len, const char *want)
{
	struct config *c = (struct config *)1;
	char expect[RG_ERRLEN * 2];
	const char *path = write_bytes("rg.conf", text, len);

	err[0] = '\0';
	assert_int_equal(config_load(path, &c, err, sizeof err), RG_CONFIG);
	assert_null(c);
	snprintf(expect, sizeof expect, "%s:%s", path, want);
	assert_string_equal(err, expect);
}

static void load_bad(const char *text, const char *want)
{
	load_bad_bytes(text, strlen(text), want);
}

/* The global settings of a config loaded from text. */
static void global_of(const char *text, struct settings *s)
{
	struct config *c = load_ok(text);

	config_for_domain(c, NULL, s);
	config_free(c);
}

static void test_defaults(void **state)
{
	struct settings s, g;
	struct config *c;

	(void)state;
	config_defaults(&s);
	assert_string_equal(s.state_dir, "/var/lib/rcptguard");
	assert_string_equal(s.sources[0], "callout");
	assert_string_equal(s.sources[1], "list");
	assert_string_equal(s.sources[2], "ldap");
	assert_string_equal(s.sources[3], "");
	assert_string_equal(s.callout.hosts, "");
	assert_int_equal(s.callout.port, 25);
	assert_int_equal(s.positive_ttl, 7 * 86400);
	assert_int_equal(s.negative_ttl, 30 * 60);
	assert_int_equal(s.stale_ttl, 30 * 86400);
	assert_int_equal(s.callout.catchall_ttl, 86400);
	assert_int_equal(s.callout.catchall_check, 1);
	assert_string_equal(s.callout.sender, "<>");
	assert_string_equal(s.callout.helo, "");
	assert_int_equal(s.callout.connect_timeout, 5);
	assert_int_equal(s.callout.command_timeout, 10);
	assert_int_equal(s.total_timeout, 30);
	assert_string_equal(s.list.path, "");
	assert_int_equal(s.list.settle, 10);
	assert_int_equal(s.list.max_shrink, 50);
	assert_string_equal(s.ldap.uri, "");
	assert_int_equal(s.ldap.starttls, 0);
	assert_int_equal(s.ldap.timeout, 5);
	assert_string_equal(s.own_domains, "");
	assert_string_equal(s.dns.forward, "");
	assert_int_equal(s.dns.timeout, 5);
	assert_string_equal(s.fcrdns.dynamic_patterns, "");
	assert_string_equal(s.fcrdns.dynamic_action, "reject");
	assert_int_equal(s.fcrdns.cache_ttl, 3600);
	assert_int_equal(s.greylist_delay, 300);
	assert_int_equal(s.greylist_retry_window, 2 * 86400);
	assert_int_equal(s.greylist_pass_ttl, 10 * 86400);
	assert_int_equal(s.greylist_ipv4_prefix, 24);
	assert_int_equal(s.greylist_ipv6_prefix, 64);
	assert_int_equal(s.greylist_awl_after, 5);
	assert_string_equal(s.greylist_whitelist, "");
	assert_string_equal(s.greylist_on_error, "pass");
	assert_int_equal(s.lmdb.map_size, 64);
	assert_true(config_has_source(&s, "callout"));
	assert_true(config_has_source(&s, "ldap"));
	assert_false(config_has_source(&s, "smtp"));

	c = config_new();
	assert_non_null(c);
	config_for_domain(c, "example.org", &g);
	assert_memory_equal(&s, &g, sizeof s);
	assert_string_equal(config_path(c), "");
	assert_int_equal(config_domain_count(c), 0);
	assert_null(config_domain_name(c, 0));
	config_free(c);

	/* An empty file (comments only) gives the defaults too. */
	global_of("# nothing\n\n   # indented comment\n", &g);
	assert_memory_equal(&s, &g, sizeof s);
}

static void test_all_keys_good(void **state)
{
	struct settings s;
	struct config *c;

	(void)state;
	c = load_ok("state_dir = /srv/rg\n"
		    "sources = list, ldap\n"
		    "hosts=192.0.2.10:2525, [2001:db8::1]:25 mx.example\n"
		    "port = 2525\n"
		    "positive_ttl = 1w\n"
		    "negative_ttl = 1h30m\n"
		    "stale_ttl = 90\n"
		    "catchall_ttl = 2d\n"
		    "catchall_check = Off\n"
		    "callout_sender = verify@gw.example\n"
		    "callout_helo = GW.Example.NET\n"
		    "connect_timeout = 1s\n"
		    "command_timeout = 20s\n"
		    "total_timeout = 1m\n"
		    "list = /etc/rcptguard/lists/all.txt\n"
		    "list_settle = 0\n"
		    "list_max_shrink = 100\n"
		    "ldap_uri = ldap://ldap.example:389\n"
		    "ldap_base = \"ou=People, dc=example, dc=org\"\n"
		    "ldap_filter = (&(objectClass=inetOrgPerson)(mail=%s))\n"
		    "ldap_bind_dn = cn=rcptguard,dc=example,dc=org\n"
		    "ldap_bind_password_file = /etc/rcptguard/ldap.secret\n"
		    "ldap_starttls = TRUE\n"
		    "ldap_timeout = 3s\n"
		    "own_domains = Example.ORG,  *.Example.NET gw.example\n"
		    "dns_forward = 192.0.2.53@53 2001:db8::53@5353\n"
		    "dns_config = /etc/unbound/rg.conf\n"
		    "dns_trust_anchor = /var/lib/unbound/root.key\n"
		    "dns_timeout = 2s\n"
		    "dynamic_patterns = /etc/rcptguard/dynamic.txt\n"
		    "dynamic_action = FLAG\n"
		    "fcrdns_cache_ttl = 2h\n"
		    "greylist_delay = 1m\n"
		    "greylist_retry_window = 1d\n"
		    "greylist_pass_ttl = 30d\n"
		    "greylist_ipv4_prefix = 32\n"
		    "greylist_ipv6_prefix = 128\n"
		    "greylist_awl_after = 0\n"
		    "greylist_whitelist = /etc/rcptguard/greylist-whitelist\n"
		    "greylist_on_error = defer\n"
		    "store_map_size = 1048576\n");
	assert_int_equal(config_domain_count(c), 0);
	config_for_domain(c, "", &s);
	assert_string_equal(s.state_dir, "/srv/rg");
	assert_string_equal(s.sources[0], "list");
	assert_string_equal(s.sources[1], "ldap");
	assert_string_equal(s.sources[2], "");
	assert_false(config_has_source(&s, "callout"));
	assert_string_equal(s.callout.hosts, "192.0.2.10:2525, [2001:db8::1]:25 mx.example");
	assert_int_equal(s.callout.port, 2525);
	assert_int_equal(s.positive_ttl, 604800);
	assert_int_equal(s.negative_ttl, 5400);
	assert_int_equal(s.stale_ttl, 90);
	assert_int_equal(s.callout.catchall_ttl, 172800);
	assert_int_equal(s.callout.catchall_check, 0);
	assert_string_equal(s.callout.sender, "<verify@gw.example>");
	assert_string_equal(s.callout.helo, "gw.example.net");
	assert_int_equal(s.callout.connect_timeout, 1);
	assert_int_equal(s.callout.command_timeout, 20);
	assert_int_equal(s.total_timeout, 60);
	assert_string_equal(s.list.path, "/etc/rcptguard/lists/all.txt");
	assert_int_equal(s.list.settle, 0);
	assert_int_equal(s.list.max_shrink, 100);
	assert_string_equal(s.ldap.uri, "ldap://ldap.example:389");
	assert_string_equal(s.ldap.base, "ou=People, dc=example, dc=org");
	assert_string_equal(s.ldap.filter, "(&(objectClass=inetOrgPerson)(mail=%s))");
	assert_string_equal(s.ldap.bind_dn, "cn=rcptguard,dc=example,dc=org");
	assert_string_equal(s.ldap.bind_password_file, "/etc/rcptguard/ldap.secret");
	assert_int_equal(s.ldap.starttls, 1);
	assert_int_equal(s.ldap.timeout, 3);
	assert_string_equal(s.own_domains, "example.org *.example.net gw.example");
	assert_string_equal(s.dns.forward, "192.0.2.53@53 2001:db8::53@5353");
	assert_string_equal(s.dns.config, "/etc/unbound/rg.conf");
	assert_string_equal(s.dns.trust_anchor, "/var/lib/unbound/root.key");
	assert_int_equal(s.dns.timeout, 2);
	assert_string_equal(s.fcrdns.dynamic_patterns, "/etc/rcptguard/dynamic.txt");
	assert_string_equal(s.fcrdns.dynamic_action, "flag");
	assert_int_equal(s.fcrdns.cache_ttl, 7200);
	assert_int_equal(s.greylist_delay, 60);
	assert_int_equal(s.greylist_retry_window, 86400);
	assert_int_equal(s.greylist_pass_ttl, 30 * 86400);
	assert_int_equal(s.greylist_ipv4_prefix, 32);
	assert_int_equal(s.greylist_ipv6_prefix, 128);
	assert_int_equal(s.greylist_awl_after, 0);
	assert_string_equal(s.greylist_whitelist, "/etc/rcptguard/greylist-whitelist");
	assert_string_equal(s.greylist_on_error, "defer");
	assert_int_equal(s.lmdb.map_size, 1048576);
	config_free(c);
}

static void test_durations(void **state)
{
	static const struct { const char *v; unsigned want; } good[] = {
		{ "0", 0 }, { "90", 90 }, { "30s", 30 }, { "5m", 300 }, { "2h", 7200 }, { "7d", 604800 },
		{ "1w", 604800 }, { "1h30m", 5400 }, { "1d12h", 129600 }, { "1w2d3h4m5s", 788645 },
		{ "3650d", 315360000 }, { "00010s", 10 },
	};
	static const char *const bad[] = {
		"", "s", "5x", "-1", "+5", "1h30", "5 m", " 5m", "5m ", "1.5h", "5M", "3651d", "315360001",
		"99999999999999999999s", "4294967296", "600w", "1hh", "m5",
	};
	unsigned v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		v = 12345;
		if (config_parse_duration(good[i].v, &v) != 0)
			fail_msg("\"%s\" refused", good[i].v);
		assert_int_equal(v, good[i].want);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (config_parse_duration(bad[i], &v) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
	assert_int_equal(config_parse_duration(NULL, &v), -1);
}

/* Milliseconds (redis_timeout): "ms" joins the units; one parser for both. */
static void test_durations_ms(void **state)
{
	static const struct { const char *v; unsigned want; } good[] = {
		{ "250ms", 250 }, { "2s", 2000 }, { "1s500ms", 1500 }, { "1", 1000 }, { "1m", 60000 }, { "0ms", 0 },
	};
	static const char *const bad[] = { "ms", "5mss", "1.5s", "250 ms", "-1ms", "250MS", "5000000d" };
	struct settings s;
	char why[RG_ERRLEN];
	unsigned v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		if (config_parse_duration_ms(good[i].v, &v) != 0)
			fail_msg("\"%s\" refused", good[i].v);
		assert_int_equal(v, good[i].want);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (config_parse_duration_ms(bad[i], &v) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
	/* A key counted in seconds takes "ms" only for whole seconds. */
	assert_int_equal(config_parse_duration("2000ms", &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(config_parse_duration("1500ms", &v), -1);
	config_defaults(&s);
	assert_int_equal(s.redis.timeout, 500);
	assert_string_equal(s.redis.prefix, "rg:");
	assert_string_equal(s.store_fallback, "local");
	assert_int_equal(config_apply_options(&s, "redis_timeout=250ms store_fallback=none", why, sizeof why), RG_FOUND);
	assert_int_equal(s.redis.timeout, 250);
	assert_string_equal(s.store_fallback, "none");
	assert_int_equal(config_apply_options(&s, "redis_timeout=1500", why, sizeof why), RG_CONFIG);
	assert_non_null(strstr(why, "out of range"));
	assert_int_equal(config_apply_options(&s, "store_fallback=maybe", why, sizeof why), RG_CONFIG);
}

static void test_booleans(void **state)
{
	static const char *const yes[] = { "yes", "YES", "true", "True", "on", "ON", "1" };
	static const char *const no[] = { "no", "No", "false", "FALSE", "off", "Off", "0" };
	char text[64];
	struct settings s;
	size_t i;

	(void)state;
	for (i = 0; i < 7; i++) {
		snprintf(text, sizeof text, "catchall_check = %s\nldap_starttls = %s\n", no[i], yes[i]);
		global_of(text, &s);
		assert_int_equal(s.callout.catchall_check, 0);
		assert_int_equal(s.ldap.starttls, 1);
	}
	load_bad("catchall_check = maybe\n", "1: key \"catchall_check\": \"maybe\" is not a boolean (yes/no)");
	load_bad("\nldap_starttls = 2\n", "2: key \"ldap_starttls\": \"2\" is not a boolean (yes/no)");
	load_bad("ldap_starttls =\n", "1: key \"ldap_starttls\": \"\" is not a boolean (yes/no)");
}

static void test_bad_values(void **state)
{
	(void)state;
	/* Unsigned ints: decimal only, range-checked. */
	load_bad("# c\nport = 0\n", "2: key \"port\": \"0\" is out of range 1..65535");
	load_bad("# c\nport = 65536\n", "2: key \"port\": \"65536\" is out of range 1..65535");
	load_bad("# c\nport = 0x19\n", "2: key \"port\": \"0x19\" is not a decimal number");
	load_bad("# c\nport = -1\n", "2: key \"port\": \"-1\" is not a decimal number");
	load_bad("# c\nport = 25 26\n", "2: key \"port\": \"25 26\" is not a decimal number");
	load_bad("# c\nport = 99999999999999999999\n",
		 "2: key \"port\": \"99999999999999999999\" is not a decimal number");
	load_bad("list_max_shrink = 101\n", "1: key \"list_max_shrink\": \"101\" is out of range 0..100");
	load_bad("greylist_ipv4_prefix = 33\n", "1: key \"greylist_ipv4_prefix\": \"33\" is out of range 0..32");
	load_bad("greylist_ipv6_prefix = 129\n", "1: key \"greylist_ipv6_prefix\": \"129\" is out of range 0..128");
	load_bad("store_map_size = 0\n", "1: key \"store_map_size\": \"0\" is out of range 1..1048576");
	load_bad("store_map_size = 1048577\n", "1: key \"store_map_size\": \"1048577\" is out of range 1..1048576");
	load_bad("greylist_awl_after = 4294967296\n",
		 "1: key \"greylist_awl_after\": \"4294967296\" is not a decimal number");
	/* Durations. */
	load_bad("\n\npositive_ttl = 7x\n",
		 "3: key \"positive_ttl\": \"7x\" is not a duration (30s 5m 2h 7d 1w, at most 10 years)");
	load_bad("stale_ttl = 11000d\n",
		 "1: key \"stale_ttl\": \"11000d\" is not a duration (30s 5m 2h 7d 1w, at most 10 years)");
	load_bad("connect_timeout = 0\n", "1: key \"connect_timeout\": \"0\" is out of range 1..3600 seconds");
	load_bad("command_timeout = 0s\n", "1: key \"command_timeout\": \"0s\" is out of range 1..3600 seconds");
	load_bad("total_timeout = 0m\n", "1: key \"total_timeout\": \"0m\" is out of range 1..3600 seconds");
	load_bad("ldap_timeout = 0\n", "1: key \"ldap_timeout\": \"0\" is out of range 1..3600 seconds");
	load_bad("dns_timeout = 0\n", "1: key \"dns_timeout\": \"0\" is out of range 1..3600 seconds");
	load_bad("total_timeout = 2h\n", "1: key \"total_timeout\": \"2h\" is out of range 1..3600 seconds");
	/* Enums. */
	load_bad("dynamic_action = drop\n", "1: key \"dynamic_action\": \"drop\" is not one of reject|flag");
	load_bad("greylist_on_error = fail\n", "1: key \"greylist_on_error\": \"fail\" is not one of pass|defer");
	load_bad("greylist_on_error = pas\n", "1: key \"greylist_on_error\": \"pas\" is not one of pass|defer");
	/* Sources. */
	load_bad("sources = callout smtp\n",
		 "1: key \"sources\": unknown source \"smtp\" (callout, list, ldap)");
	load_bad("sources = list,list\n", "1: key \"sources\": source \"list\" listed twice");
	load_bad("sources = ,\n", "1: key \"sources\": no sources given");
	load_bad("sources = callout list LDAP ldap\n", "1: key \"sources\": source \"ldap\" listed twice");
	/* Sender. */
	load_bad("callout_sender = nobody\n", "1: key \"callout_sender\": bad sender \"nobody\" (<> or local@domain)");
	load_bad("callout_sender = \"a b@example.org\"\n", "1: key \"callout_sender\": bad sender \"a b@example.org\"");
	load_bad("callout_sender = <a@example.org\n", "1: key \"callout_sender\": bad sender \"<a@example.org\"");
	load_bad("callout_sender = a@\n", "1: key \"callout_sender\": bad sender \"a@\" (<> or local@domain)");
	load_bad("callout_sender =\n", "1: key \"callout_sender\": empty sender (use <> for the null sender)");
	load_bad("callout_sender = \"a\tb@example.org\"\n",
		 "1: key \"callout_sender\": control byte in value \"a?b@example.org\"");
	/* Domains. */
	load_bad("callout_helo = gw_1.example\n", "1: key \"callout_helo\": bad domain \"gw_1.example\"");
	load_bad("callout_helo = gw..example\n", "1: key \"callout_helo\": bad domain \"gw..example\"");
	load_bad("callout_helo = gw.example.\n", "1: key \"callout_helo\": bad domain \"gw.example.\"");
	load_bad("own_domains = a.example, b!.example\n", "1: key \"own_domains\": bad domain \"b!.example\"");
	load_bad("own_domains = *.\n", "1: key \"own_domains\": bad domain \"*.\"");
	load_bad("own_domains = a.*.example\n", "1: key \"own_domains\": bad domain \"a.*.example\"");
	load_bad("own_domains = "
		 "a234567890123456789012345678901234567890123456789012345678901234.example\n",
		 "1: key \"own_domains\": bad domain "
		 "\"a234567890123456789012345678901234567890123456789012345678901234.example\"");
	/* Strings. */
	load_bad("state_dir =\n", "1: key \"state_dir\": must not be empty");
	load_bad("hosts = \"mx\xc3\xa9.example\"\n", "1: key \"hosts\": non-ASCII byte in value \"mx??.example\"");
	/* Syntax. */
	load_bad("# c\nhostz = a\n", "2: unknown key \"hostz\"");
	load_bad("Port = 25\n", "1: unknown key \"Port\"");
	load_bad("port 25\n", "1: expected \"key = value\"");
	load_bad("= 25\n", "1: expected \"key = value\"");
	load_bad("ldap_base = \"ou=x\n", "1: key \"ldap_base\": unterminated quote");
	load_bad("ldap_base = \"ou=x\" y\n", "1: key \"ldap_base\": text after the closing quote");
	load_bad("config = /x\n", "1: unknown key \"config\"");
}

static void test_values_and_comments(void **state)
{
	struct settings s;

	(void)state;
	global_of("list = /a#b   # a comment\n"
		  "ldap_filter = \"(cn=#x%s) # kept\"  # dropped\n"
		  "ldap_base=\"  spaced  \"\n"
		  "ldap_bind_dn = cn=\"quoted\" inside\n"
		  "greylist_whitelist = \"say \\\"hi\\\" \\\\ \\2a\"\n"
		  "\thosts\t=\tmx.example:25\t\n"
		  "dynamic_patterns = # empty value\n"
		  "callout_sender = <>\n", &s);
	assert_string_equal(s.list.path, "/a#b");
	assert_string_equal(s.ldap.filter, "(cn=#x%s) # kept");
	assert_string_equal(s.ldap.base, "  spaced  ");
	assert_string_equal(s.ldap.bind_dn, "cn=\"quoted\" inside");
	assert_string_equal(s.greylist_whitelist, "say \"hi\" \\ \\2a");
	assert_string_equal(s.callout.hosts, "mx.example:25");
	assert_string_equal(s.fcrdns.dynamic_patterns, "");
	assert_string_equal(s.callout.sender, "<>");

	global_of("callout_sender = <postmaster@gw.example>\n", &s);
	assert_string_equal(s.callout.sender, "<postmaster@gw.example>");
}

static void test_sections(void **state)
{
	struct settings s;
	struct config *c;

	(void)state;
	c = load_ok("hosts = global.example\n"
		    "port = 25\n"
		    "[domain *.example.org]\n"
		    "port = 2525\n"
		    "[ domain *.B.example.org ]   # comment\n"
		    "port = 2626\n"
		    "[domain a.b.example.org]\n"
		    "port = 2727\n"
		    "sources = list\n"
		    "[domain Example.COM]\n"
		    "hosts = [2001:db8::25]:2525\n");
	assert_int_equal(config_domain_count(c), 4);
	assert_string_equal(config_domain_name(c, 0), "a.b.example.org");
	assert_string_equal(config_domain_name(c, 1), "example.com");
	assert_non_null(config_domain_name(c, 2));
	assert_non_null(config_domain_name(c, 3));
	assert_null(config_domain_name(c, 4));

	config_for_domain(c, "x.example.org", &s);
	assert_int_equal(s.callout.port, 2525);
	assert_string_equal(s.callout.hosts, "global.example");
	config_for_domain(c, "x.y.example.org", &s);
	assert_int_equal(s.callout.port, 2525);
	config_for_domain(c, "b.example.org", &s);
	assert_int_equal(s.callout.port, 2525);
	config_for_domain(c, "x.b.example.org", &s);
	assert_int_equal(s.callout.port, 2626);
	config_for_domain(c, "a.b.example.org", &s);
	assert_int_equal(s.callout.port, 2727);
	assert_true(config_has_source(&s, "list"));
	assert_false(config_has_source(&s, "callout"));
	assert_string_equal(s.callout.hosts, "global.example");
	config_for_domain(c, "A.B.Example.ORG", &s);
	assert_int_equal(s.callout.port, 2727);
	config_for_domain(c, "z.a.b.example.org", &s);
	assert_int_equal(s.callout.port, 2626);
	config_for_domain(c, "example.org", &s);
	assert_int_equal(s.callout.port, 25);
	config_for_domain(c, "notexample.org", &s);
	assert_int_equal(s.callout.port, 25);
	config_for_domain(c, "EXAMPLE.com", &s);
	assert_string_equal(s.callout.hosts, "[2001:db8::25]:2525");
	assert_int_equal(s.callout.port, 25);
	assert_true(config_has_source(&s, "callout"));
	config_for_domain(c, "x.example.com", &s);
	assert_string_equal(s.callout.hosts, "global.example");
	config_for_domain(c, NULL, &s);
	assert_int_equal(s.callout.port, 25);
	config_free(c);
}

static void test_section_values(void **state)
{
	static const char keys[] = "list = /x\nhosts = \"\"\ncatchall_check = no\ngreylist_awl_after = 0\n"
		"sources = ldap\ndynamic_action = flag\ncallout_sender = <a@b.example>\n"
		"own_domains = A.example\nport = 65535\nstore_map_size = 256\nnegative_ttl = 1w2d\n";
	char text[2048];
	struct settings a, b;
	struct config *c;

	(void)state;
	/* Longer global values first: a section's value must not keep any of their bytes. */
	snprintf(text, sizeof text, "list = /a/long/global/list/file.txt\nhosts = mx.example\n"
		 "callout_sender = <postmaster@gateway.example>\nown_domains = a.example b.example\n"
		 "[domain a.example]\n%s[domain *.example]\nport = 2\n", keys);
	c = load_ok(text);
	config_for_domain(c, "A.example", &a);
	config_free(c);
	global_of(keys, &b);
	assert_memory_equal(&a, &b, sizeof a); /* the same bytes as the keys given globally */
	assert_string_equal(a.list.path, "/x");
	assert_string_equal(a.callout.hosts, "");
	assert_int_equal(a.callout.catchall_check, 0);
	assert_int_equal(a.greylist_awl_after, 0);
	assert_string_equal(a.sources[0], "ldap");
	assert_string_equal(a.sources[1], "");
	assert_string_equal(a.callout.sender, "<a@b.example>");
	assert_int_equal(a.callout.port, 65535);
	assert_int_equal(a.negative_ttl, 9 * 86400);
}

static void test_config_path(void **state)
{
	struct config *c;
	char want[512];

	(void)state;
	c = load_ok("port = 26\n");
	snprintf(want, sizeof want, "%s/rg.conf", dir);
	assert_string_equal(config_path(c), want);
	config_free(c);
}

static void test_many_sections(void **state)
{
	size_t n = 3000, i, cap = n * 64 + 64, o = 0;
	char *text = malloc(cap), name[64];
	struct settings s;
	struct config *c;

	(void)state;
	assert_non_null(text);
	o += (size_t)snprintf(text + o, cap - o, "port = 25\n");
	for (i = 0; i < n; i++) { /* not in sorted order */
		size_t k = (i * 7919) % n;

		o += (size_t)snprintf(text + o, cap - o, "[domain d%zu.example]\nport = %zu\n", k, 1000 + k);
	}
	c = load_ok(text);
	free(text);
	assert_int_equal(config_domain_count(c), n);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof name, "D%zu.Example", i);
		config_for_domain(c, name, &s);
		assert_int_equal(s.callout.port, 1000 + i);
	}
	config_for_domain(c, "d3000.example", &s);
	assert_int_equal(s.callout.port, 25);
	config_free(c);
}

/* Heap bytes in use, mmap()ed blocks included. */
static size_t heap_in_use(void)
{
	struct mallinfo2 m = mallinfo2();

	return m.uordblks + m.hblkhd;
}

static void test_five_thousand_domains(void **state)
{
	size_t n = 5000, i, cap = n * 200, o = 0, heap;
	char *text = malloc(cap);
	struct timespec t0, t1;
	struct settings s;
	struct config *c = NULL;
	const char *path;

	(void)state;
	assert_non_null(text);
	o += (size_t)snprintf(text + o, cap - o, "hosts = mx.gw.example\nport = 25\n");
	for (i = 0; i < n; i++) {
		if (i % 1000 == 500) /* five wildcards among them */
			o += (size_t)snprintf(text + o, cap - o, "[domain *.w%zu.example]\nport = %zu\n", i, 1000 + i);
		else
			o += (size_t)snprintf(text + o, cap - o, "[domain c%zu.example]\n"
					      "hosts = \"mx1.c%zu.example:25 mx2.c%zu.example\"\nport = %zu\n"
					      "list = /etc/rcptguard/lists/c%zu.txt\n%s",
					      i, i, i, 1000 + i, i, i % 2 ? "sources = list\n" : "");
		assert_true(o < cap);
	}
	path = write_bytes("big.conf", text, o);
	free(text);

	heap = heap_in_use();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (config_load(path, &c, err, sizeof err) != RG_FOUND)
		fail_msg("unexpected error: %s", err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	heap = heap_in_use() - heap;
	fprintf(stderr, "5000 [domain] sections: loaded in %.1f ms, %zu heap bytes (%.1f MB)\n",
		(double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
		heap, (double)heap / 1e6);

	assert_int_equal(config_domain_count(c), n);
	config_for_domain(c, "c0.example", &s); /* the first */
	assert_int_equal(s.callout.port, 1000);
	assert_string_equal(s.callout.hosts, "mx1.c0.example:25 mx2.c0.example");
	assert_string_equal(s.list.path, "/etc/rcptguard/lists/c0.txt");
	assert_true(config_has_source(&s, "callout"));
	config_for_domain(c, "C4999.Example", &s); /* the last */
	assert_int_equal(s.callout.port, 5999);
	assert_string_equal(s.callout.hosts, "mx1.c4999.example:25 mx2.c4999.example");
	assert_string_equal(s.list.path, "/etc/rcptguard/lists/c4999.txt");
	assert_string_equal(s.sources[0], "list");
	assert_string_equal(s.sources[1], "");
	config_for_domain(c, "mx.a.w2500.example", &s); /* a wildcard */
	assert_int_equal(s.callout.port, 3500);
	assert_string_equal(s.callout.hosts, "mx.gw.example");
	assert_string_equal(s.list.path, "");
	assert_true(config_has_source(&s, "ldap"));
	config_for_domain(c, "w2500.example", &s); /* "*.w2500.example" does not cover it */
	assert_int_equal(s.callout.port, 25);
	config_for_domain(c, "c5000.example", &s);
	assert_int_equal(s.callout.port, 25);
	assert_string_equal(s.callout.hosts, "mx.gw.example");
	config_free(c);
}

static void test_duplicates(void **state)
{
	char want[512];
	struct config *c = NULL;
	const char *path;

	(void)state;
	path = write_file("rg.conf", "[domain a.example]\nport = 1\n[domain b.example]\n[domain A.Example]\nport = 2\n");
	assert_int_equal(config_load(path, &c, err, sizeof err), RG_CONFIG);
	snprintf(want, sizeof want, "%s:4: duplicate section [domain a.example] (first at %s:1)", path, path);
	assert_string_equal(err, want);

	path = write_file("rg.conf", "[domain *.a.example]\n[domain *.A.example]\n");
	assert_int_equal(config_load(path, &c, err, sizeof err), RG_CONFIG);
	snprintf(want, sizeof want, "%s:2: duplicate section [domain *.a.example] (first at %s:1)", path, path);
	assert_string_equal(err, want);

	load_bad("port = 25\nhosts = a\nport = 26\n", "3: key \"port\" given twice");
	load_bad("port = 25\n[domain a.example]\nport = 26\nport = 27\n", "4: key \"port\" given twice");
	/* The same key in the global part and in sections is the point of sections. */
	c = load_ok("port = 25\n[domain a.example]\nport = 26\n[domain b.example]\nport = 27\n");
	config_free(c);

	load_bad("[domain a.example]\nstate_dir = /x\n",
		 "2: key \"state_dir\" is global only, not allowed in [domain a.example]");
	load_bad("[domain]\n", "1: bad section header (expected [domain NAME])");
	load_bad("[domain a.example\n", "1: bad section header (expected [domain NAME])");
	load_bad("[domain a.example] x\n", "1: bad section header (expected [domain NAME])");
	load_bad("[domain a b]\n", "1: bad section header (expected [domain NAME])");
	load_bad("[host a.example]\n", "1: bad section header (expected [domain NAME])");
	load_bad("[domainexample.org]\n", "1: bad section header (expected [domain NAME])");
	load_bad("[domain a..example]\n", "1: bad domain \"a..example\" in section header");
	load_bad("[domain *]\n", "1: bad domain \"*\" in section header");
	load_bad("[domain *example.org]\n", "1: bad domain \"*example.org\" in section header");
	/* a_b.example: accepted, as in an address (one domain rule: test_parsers). */
	config_free(load_ok("[domain a_b.example]\n"));
}

static void test_include(void **state)
{
	char want[1024];
	struct settings s;
	struct config *c = NULL;
	const char *main_path, *bad;

	(void)state;
	/* Created out of order: sorted order must decide. */
	write_file("conf.d/20-b.conf", "[domain b.example]\nport = 2002\n[domain x.example]\nport = 2\n");
	write_file("conf.d/10-a.conf", "hosts = from-include.example\n[domain a.example]\nport = 2001\n");
	write_file("conf.d/README", "this is not included\n");
	main_path = write_file("rg.conf",
			       "port = 24\n"
			       "include = conf.d/*.conf\n"
			       "include = /nonexistent-rg-dir/*.conf   # no match: fine\n"
			       "include = missing.conf\n"
			       "negative_ttl = 1h   # back in the global part\n"
			       "[domain c.example]\n"
			       "include = \"per-domain/c.inc\"\n"
			       "port = 2003\n");
	write_file("per-domain/c.inc", "list = /lists/c.txt\n[domain d.example]\nport = 2004\n");
	assert_int_equal(config_load(main_path, &c, err, sizeof err), RG_FOUND);
	config_for_domain(c, NULL, &s);
	assert_int_equal(s.callout.port, 24);
	assert_string_equal(s.callout.hosts, "from-include.example");
	assert_int_equal(s.negative_ttl, 3600);
	config_for_domain(c, "a.example", &s);
	assert_int_equal(s.callout.port, 2001);
	assert_string_equal(s.callout.hosts, "from-include.example");
	config_for_domain(c, "b.example", &s);
	assert_int_equal(s.callout.port, 2002);
	config_for_domain(c, "c.example", &s);
	assert_int_equal(s.callout.port, 2003);
	assert_string_equal(s.list.path, "/lists/c.txt");
	config_for_domain(c, "d.example", &s);
	assert_int_equal(s.callout.port, 2004);
	assert_string_equal(s.list.path, "");
	assert_int_equal(config_domain_count(c), 5);
	config_free(c);

	/* Sorted order: 10-a is read before 20-b, so the duplicate is reported in 20-b. */
	bad = write_file("conf.d/30-c.conf", "[domain a.example]\n");
	assert_int_equal(config_load(main_path, &c, err, sizeof err), RG_CONFIG);
	snprintf(want, sizeof want, "%s:1: duplicate section [domain a.example] (first at %s/conf.d/10-a.conf:2)",
		 bad, dir);
	assert_string_equal(err, want);
	unlink(bad);

	/* An error in an included file names that file and its own line. */
	bad = write_file("conf.d/15-bad.conf", "# ok\n\nhostz = a\n");
	assert_int_equal(config_load(main_path, &c, err, sizeof err), RG_CONFIG);
	assert_null(c);
	snprintf(want, sizeof want, "%s:3: unknown key \"hostz\"", bad);
	assert_string_equal(err, want);
	unlink(bad);

	/* A key of the including part given again in the included file. */
	bad = write_file("conf.d/15-bad.conf", "port = 1\n");
	assert_int_equal(config_load(main_path, &c, err, sizeof err), RG_CONFIG);
	snprintf(want, sizeof want, "%s:1: key \"port\" given twice", bad);
	assert_string_equal(err, want);
	unlink(bad);

	/* Included from a section: its leading keys belong to that section, not global. */
	bad = write_file("per-domain/c.inc", "state_dir = /x\n");
	assert_int_equal(config_load(main_path, &c, err, sizeof err), RG_CONFIG);
	snprintf(want, sizeof want, "%s:1: key \"state_dir\" is global only, not allowed in [domain c.example]", bad);
	assert_string_equal(err, want);

	/* Nesting: a file that includes itself stops at depth 8. */
	bad = write_file("loop.conf", "include = loop.conf\n");
	assert_int_equal(config_load(bad, &c, err, sizeof err), RG_CONFIG);
	snprintf(want, sizeof want, "%s:1: includes nested deeper than 8", bad);
	assert_string_equal(err, want);

	/* Eight levels are fine. */
	write_file("n/1.conf", "include = 2.conf\n");
	write_file("n/2.conf", "include = 3.conf\n");
	write_file("n/3.conf", "include = 4.conf\n");
	write_file("n/4.conf", "include = 5.conf\n");
	write_file("n/5.conf", "include = 6.conf\n");
	write_file("n/6.conf", "include = 7.conf\n");
	write_file("n/7.conf", "include = 8.conf\n");
	write_file("n/8.conf", "port = 8\n");
	bad = write_file("n/0.conf", "include = 1.conf\n");
	assert_int_equal(config_load(bad, &c, err, sizeof err), RG_FOUND);
	config_for_domain(c, NULL, &s);
	assert_int_equal(s.callout.port, 8);
	config_free(c);
	write_file("n/8.conf", "include = 9.conf\n");
	write_file("n/9.conf", "port = 9\n");
	assert_int_equal(config_load(bad, &c, err, sizeof err), RG_CONFIG);
	snprintf(want, sizeof want, "%s/n/8.conf:1: includes nested deeper than 8", dir);
	assert_string_equal(err, want);

	load_bad("include =\n", "1: include needs a file name or pattern");
}

/* config_changed(): an edit of the main file or an include, and a file added to a globbed
 * include folder, are seen; an untouched config is not "changed". */
static void test_changed(void **state)
{
	struct config *c = NULL;
	const char *main_path, *inc;

	(void)state;
	inc = write_file("chg.d/10-a.conf", "port = 2001\n");
	main_path = write_file("rg.conf", "include = chg.d/*.conf\nnegative_ttl = 1h\n");
	assert_int_equal(config_load(main_path, &c, err, sizeof err), RG_FOUND);
	assert_int_equal(config_changed(c), 0);
	assert_int_equal(config_changed(c), 0);
	write_file("rg.conf", "include = chg.d/*.conf\nnegative_ttl = 2h\n");
	assert_int_equal(config_changed(c), 1);
	config_free(c);

	assert_int_equal(config_load(main_path, &c, err, sizeof err), RG_FOUND);
	assert_int_equal(config_changed(c), 0);
	write_file("chg.d/10-a.conf", "port = 2002\n");
	assert_int_equal(config_changed(c), 1);
	config_free(c);

	assert_int_equal(config_load(main_path, &c, err, sizeof err), RG_FOUND);
	write_file("chg.d/20-b.conf", "positive_ttl = 2d\n");
	assert_int_equal(config_changed(c), 1);
	config_free(c);

	assert_int_equal(config_load(main_path, &c, err, sizeof err), RG_FOUND);
	assert_int_equal(unlink(inc), 0);
	assert_int_equal(config_changed(c), 1);
	config_free(c);
	unlink(main_path);
	unlink(inc);
}

/* A FIFO (or any non-regular file) as config or include is refused at once, never read:
 * Exim's daemon reads the config (preload), and a read that blocks would stop it. */
static void test_not_regular(void **state)
{
	struct config *c = NULL;
	char fifo[600], want[700];
	const char *main_path;

	(void)state;
	snprintf(fifo, sizeof fifo, "%s/fifo.conf", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(config_load(fifo, &c, err, sizeof err), RG_CONFIG);
	assert_null(c);
	snprintf(want, sizeof want, "%s: not a regular file (a FIFO)", fifo);
	assert_string_equal(err, want);
	main_path = write_file("rg.conf", "port = 26\ninclude = fifo.conf\n");
	assert_int_equal(config_load(main_path, &c, err, sizeof err), RG_CONFIG);
	snprintf(want, sizeof want, "%s:2: include: %s: not a regular file (a FIFO)", main_path, fifo);
	assert_string_equal(err, want);
	unlink(fifo);
}

static void test_missing_file(void **state)
{
	struct config *c = (struct config *)1;
	char path[512], want[600];

	(void)state;
	snprintf(path, sizeof path, "%s/nope.conf", dir);
	assert_int_equal(config_load(path, &c, err, sizeof err), RG_CONFIG);
	assert_null(c);
	snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
	assert_string_equal(err, want);
}

/* An include naming a FIFO, a device or a too large file is refused at once, naming the
 * include line (a FIFO used to block config loading for ever). */
static void test_include_not_regular(void **state)
{
	char fifo[600], want[RG_ERRLEN * 4];
	const char *path;
	struct config *c;
	FILE *f;

	(void)state;
	alarm(10);
	snprintf(fifo, sizeof fifo, "%s/fifo.conf", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	path = write_file("rg.conf", "port = 25\ninclude = fifo.conf\n");
	assert_int_equal(config_load(path, &c, err, sizeof err), RG_CONFIG);
	snprintf(want, sizeof want, "%s:2: include: %s: not a regular file (a FIFO)", path, fifo);
	assert_string_equal(err, want);
	unlink(fifo);

	snprintf(fifo, sizeof fifo, "%s/zero.conf", dir);
	assert_int_equal(symlink("/dev/zero", fifo), 0);
	path = write_file("rg.conf", "include = zero.conf\n");
	assert_int_equal(config_load(path, &c, err, sizeof err), RG_CONFIG);
	snprintf(want, sizeof want, "%s:1: include: %s: not a regular file (a character device)", path, fifo);
	assert_string_equal(err, want);
	unlink(fifo);

	/* An empty include and an empty main file are fine. */
	write_file("empty.conf", "");
	config_free(load_ok("port = 25\ninclude = empty.conf\n"));
	config_free(load_ok(""));

	/* The main file itself, and a file over 16 MB (sparse: no disk used). */
	assert_int_equal(config_load("/dev/null", &c, err, sizeof err), RG_CONFIG);
	assert_string_equal(err, "/dev/null: not a regular file (a character device)");
	snprintf(fifo, sizeof fifo, "%s/huge.conf", dir);
	f = fopen(fifo, "w");
	assert_non_null(f);
	assert_int_equal(ftruncate(fileno(f), (off_t)(17 << 20)), 0);
	fclose(f);
	path = write_file("rg.conf", "include = huge.conf\n");
	assert_int_equal(config_load(path, &c, err, sizeof err), RG_CONFIG);
	snprintf(want, sizeof want, "%s:1: include: %s: larger than 16777216 bytes", path, fifo);
	assert_string_equal(err, want);
	unlink(fifo);
	alarm(0);
}

static void test_crlf_and_control_bytes(void **state)
{
	struct settings s;
	char big[4200];

	(void)state;
	global_of("port = 2525\r\nhosts = mx.example \r\n\r\n# c\r\n[domain a.example]\r\nport = 26\r\n", &s);
	assert_int_equal(s.callout.port, 2525);
	assert_string_equal(s.callout.hosts, "mx.example");
	global_of("port = 2526", &s); /* no final newline */
	assert_int_equal(s.callout.port, 2526);

	load_bad_bytes("port = 25\nhosts = a\0b\n", 20, "2: control byte 0x00 in line");
	load_bad("# c\nhosts = a\x01" "b\n", "2: control byte 0x01 in line");
	load_bad("hosts = a\rb\n", "1: control byte 0x0d in line");
	load_bad("# a \x1b[31m comment\n", "1: control byte 0x1b in line");
	load_bad("hosts = a\x7f\n", "1: control byte 0x7f in line");

	/* 4096 bytes per line are fine, 4097 are not. */
	memset(big, '#', sizeof big);
	strcpy(big + 4096, "\nport = 27\n");
	global_of(big, &s);
	assert_int_equal(s.callout.port, 27);
	strcpy(big + 4096, "\r\nport = 28\n");
	global_of(big, &s);
	assert_int_equal(s.callout.port, 28);
	memset(big, '#', sizeof big);
	strcpy(big + 4097, "\n");
	load_bad(big, "1: line longer than 4096 bytes");
}

static void test_overlong_values(void **state)
{
	char text[2200], opt[2200];
	struct settings s;

	(void)state;
	/* hosts holds 511 bytes: 511 are fine (16 names of 31), 512 are an error, never cut. */
	strcpy(text, "hosts = ");
	memset(text + 8, 'h', 511);
	for (int i = 1; i < 16; i++)
		text[8 + 32 * i - 1] = ' ';
	strcpy(text + 8 + 511, "\n");
	global_of(text, &s);
	assert_int_equal(strlen(s.callout.hosts), 511);
	strcpy(text + 8 + 511, "h\n");
	load_bad(text, "1: key \"hosts\": value too long (512 bytes, at most 511)");

	strcpy(text, "list = /");
	memset(text + 8, 'l', 1100);
	strcpy(text + 8 + 1100, "\n");
	load_bad(text, "1: key \"list\": value too long (1101 bytes, at most 1023)");

	/* own_domains: the normalised list must fit. */
	strcpy(text, "own_domains = ");
	for (int i = 0; i < 100; i++)
		strcat(text, "abcdefgh.example,");
	strcat(text, "\n");
	load_bad(text, "1: key \"own_domains\": value too long (at most 1023 bytes)");

	/* callout_sender: 320 bytes of address at most. */
	strcpy(text, "callout_sender = ");
	memset(text + 17, 'a', 308);
	strcpy(text + 17 + 308, "@example.org\n");
	global_of(text, &s);
	assert_int_equal(strlen(s.callout.sender), 322);
	memset(text + 17, 'a', 309);
	strcpy(text + 17 + 309, "@example.org\n");
	load_bad(text, "1: key \"callout_sender\": sender longer than 320 bytes");

	/* The same through options. */
	config_defaults(&s);
	strcpy(opt, "hosts=");
	memset(opt + 6, 'h', 600);
	opt[606] = '\0';
	assert_int_equal(config_apply_options(&s, opt, err, sizeof err), RG_CONFIG);
	assert_string_equal(err, "option \"hosts\": value too long (600 bytes, at most 511)");
	assert_string_equal(s.callout.hosts, "");
}

/* Members own their keys: each member key is read into its member's settings, in the
 * global part and in sections, given twice is an error, and no two owners share a name. */
static void test_member_keys(void **state)
{
	struct config *c;
	struct settings s;
	size_t i, j, a, b;
	char text[256];

	(void)state;
	assert_true(config_members_n <= 32);   /* config_apply_options' bit mask of members */
	for (i = 0; i < config_members_n; i++) {
		const struct config_keyset *ks = config_members[i].set;

		assert_non_null(ks->owner);
		assert_true(ks->n > 0);
		for (a = 0; a < ks->n; a++) {
			/* Every member key is found, and its own default is a valid value. */
			snprintf(text, sizeof text, "%s = \"%s\"\n", ks->keys[a].name, ks->keys[a].def);
			global_of(text, &s);
			for (j = i; j < config_members_n; j++)
				for (b = j == i ? a + 1 : 0; b < config_members[j].set->n; b++)
					if (!strcmp(ks->keys[a].name, config_members[j].set->keys[b].name))
						fail_msg("key %s owned twice", ks->keys[a].name);
		}
	}
	c = load_ok("ldap_uri = ldap://global.example\n"
		    "list = /g.list\n"
		    "dns_timeout = 7s\n"
		    "[domain a.example]\n"
		    "ldap_base = dc=a\n"
		    "list_settle = 1m\n"
		    "callout_helo = GW.Example\n"
		    "dynamic_action = flag\n");
	config_for_domain(c, "a.example", &s);
	assert_string_equal(s.ldap.uri, "ldap://global.example");
	assert_string_equal(s.ldap.base, "dc=a");
	assert_string_equal(s.list.path, "/g.list");
	assert_int_equal(s.list.settle, 60);
	assert_string_equal(s.callout.helo, "gw.example");
	assert_int_equal(s.dns.timeout, 7);
	assert_string_equal(s.fcrdns.dynamic_action, "flag");
	config_for_domain(c, "b.example", &s);
	assert_string_equal(s.ldap.base, "");
	assert_int_equal(s.list.settle, 10);
	assert_string_equal(s.fcrdns.dynamic_action, "reject");
	config_free(c);

	load_bad("ldap_timeout = 2s\nldap_timeout = 3s\n", "2: key \"ldap_timeout\" given twice");
	load_bad("[domain a.example]\nlist = /a\nlist = /b\n", "3: key \"list\" given twice");
	load_bad("ldap_url = ldap://x\n", "1: unknown key \"ldap_url\"");
	load_bad("[domain a.example]\nredis_prefix = x:\n",
		 "2: key \"redis_prefix\" is global only, not allowed in [domain a.example]");
	load_bad("[domain a.example]\nstore_map_size = 8\nstore_map_max = 16\n",
		 "3: key \"store_map_max\" is global only, not allowed in [domain a.example]");
	load_bad("[domain a.example]\ndns_forwarder = 127.0.0.1\n", "2: unknown key \"dns_forwarder\"");
	load_bad("ldap_filter = (uid=%u\n", "1: key \"ldap_filter\": unbalanced parentheses: 1 '(' not closed");
}

/* A member's check() judges its settings as a whole, after the part is read, and its
 * error names the file and line of the part's last key of that member. */
static void test_member_checks(void **state)
{
	struct config *c;
	struct settings s;
	const char *inc;

	(void)state;
	load_bad("ldap_uri = ldaps://ldap.example\n"
		 "ldap_base = dc=example\n"
		 "ldap_starttls = yes\n",
		 "3: ldap: ldap_starttls = yes with an ldaps:// URI (TLS already: use ldap:// with "
		 "StartTLS, or ldaps:// without)");
	load_bad("ldap_uri = ldap://a.example, ldap.example\n",
		 "1: ldap: ldap_uri \"ldap.example\": not ldap://, ldaps:// or ldapi://");
	/* A section is judged with the global values it inherits. */
	load_bad("ldap_uri = ldaps://ldap.example\n"
		 "[domain a.example]\n"
		 "ldap_base = dc=a\n"
		 "[domain b.example]\n"
		 "ldap_base = dc=b\n"
		 "ldap_starttls = on\n"
		 "hosts = mx.b.example\n",
		 "6: ldap in [domain b.example]: ldap_starttls = yes with an ldaps:// URI (TLS already: use "
		 "ldap:// with StartTLS, or ldaps:// without)");
	load_bad("hosts = mx1.example [2001:db8::1 mx2.example\n",
		 "1: callout: hosts: bad callout host \"[2001:db8::1\"");
	load_bad("port = 2525\n[domain x.example]\nhosts = mx..example\n",
		 "3: callout in [domain x.example]: hosts: bad callout host \"mx..example\"");
	load_bad("dns_forward = 127.0.0.1@53 192.0.2.300\n",
		 "1: dns: dns_forward \"192.0.2.300\": not IP or IP@PORT");
	load_bad("dns_forward = 127.0.0.1@0\n", "1: dns: dns_forward \"127.0.0.1@0\": not IP or IP@PORT");
	/* From an included file: that file's line. */
	inc = write_file("inc.conf", "# the LDAP part\nldap_uri = ldapx://bad.example\n");
	c = (struct config *)1;
	assert_int_equal(config_load(write_file("rg.conf", "include = inc.conf\n"), &c, err, sizeof err), RG_CONFIG);
	assert_null(c);
	assert_non_null(strstr(err, inc));
	assert_string_equal(err + strlen(inc), ":2: ldap: ldap_uri \"ldapx://bad.example\": not ldap://, ldaps:// or "
			    "ldapi://");

	/* What passes the checks. */
	c = load_ok("ldap_uri = ldap://a.example ldaps://b.example,ldapi://%2fvar%2frun%2fslapd\n"
		    "ldap_starttls = no\n"
		    "hosts = mx1.example:2525, [2001:db8::1]:25 192.0.2.1\n"
		    "dns_forward = 127.0.0.1@5353 ::1 192.0.2.53\n"
		    "[domain tls.example]\n"
		    "ldap_uri = ldap://c.example\n"
		    "ldap_starttls = yes\n");
	config_for_domain(c, "tls.example", &s);
	assert_int_equal(s.ldap.starttls, 1);
	config_free(c);

	/* Each section is judged with its own values only: b.example does not inherit the
	 * ldaps:// URI of a.example (checked before it). */
	c = load_ok("ldap_uri = ldap://global.example\n"
		    "[domain a.example]\nldap_uri = ldaps://a.example\n"
		    "[domain b.example]\nldap_starttls = yes\n");
	config_for_domain(c, "b.example", &s);
	assert_string_equal(s.ldap.uri, "ldap://global.example");
	config_free(c);

	/* ACL options are judged the same way, all or nothing. */
	config_defaults(&s);
	assert_int_equal(config_apply_options(&s, "ldap_uri=ldaps://x.example ldap_starttls=yes", err, sizeof err),
			 RG_CONFIG);
	assert_string_equal(err, "options: ldap: ldap_starttls = yes with an ldaps:// URI (TLS already: use "
			    "ldap:// with StartTLS, or ldaps:// without)");
	assert_string_equal(s.ldap.uri, "");
	assert_int_equal(config_apply_options(&s, "hosts=\"a.example b..example\"", err, sizeof err), RG_CONFIG);
	assert_string_equal(err, "options: callout: hosts: bad callout host \"b..example\"");
	assert_int_equal(config_apply_options(&s, "hosts=\"a.example b.example\" ldap_starttls=yes", err, sizeof err),
			 RG_FOUND);
	assert_string_equal(s.callout.hosts, "a.example b.example");
}

static void test_options(void **state)
{
	struct settings s, before;
	char path[RG_PATH_MAX], small[8];

	(void)state;
	config_defaults(&s);
	assert_int_equal(config_apply_options(&s, "config=/etc/rcptguard/x.conf hosts=\"192.0.2.10:2525 [::1]:25\""
					      "  sources=callout,list\tport=2525 own_domains=A.example,*.b.example "
					      "ldap_filter=\"(cn=\\\"x\\\\5c%u\\\")\" catchall_check=no state_dir=/srv/rg "
					      "negative_ttl=1h30m callout_sender=<> list=\"\"",
					      err, sizeof err), RG_FOUND);
	assert_string_equal(s.callout.hosts, "192.0.2.10:2525 [::1]:25");
	assert_string_equal(s.sources[0], "callout");
	assert_string_equal(s.sources[1], "list");
	assert_string_equal(s.sources[2], "");
	assert_int_equal(s.callout.port, 2525);
	assert_string_equal(s.own_domains, "a.example *.b.example");
	assert_string_equal(s.ldap.filter, "(cn=\"x\\5c%u\")");
	assert_int_equal(s.callout.catchall_check, 0);
	assert_string_equal(s.state_dir, "/srv/rg");
	assert_int_equal(s.negative_ttl, 5400);
	assert_string_equal(s.callout.sender, "<>");
	assert_string_equal(s.list.path, "");

	/* Empty and NULL options change nothing. */
	before = s;
	assert_int_equal(config_apply_options(&s, NULL, err, sizeof err), RG_FOUND);
	assert_int_equal(config_apply_options(&s, "", err, sizeof err), RG_FOUND);
	assert_int_equal(config_apply_options(&s, "  \t ", err, sizeof err), RG_FOUND);
	assert_memory_equal(&s, &before, sizeof s);

	/* Errors leave s untouched (all or nothing). */
	assert_int_equal(config_apply_options(&s, "port=26 hostz=a", err, sizeof err), RG_CONFIG);
	assert_string_equal(err, "option \"hostz\": unknown key");
	assert_memory_equal(&s, &before, sizeof s);
	assert_int_equal(config_apply_options(&s, "port=26 port=0", err, sizeof err), RG_CONFIG);
	assert_string_equal(err, "option \"port\": \"0\" is out of range 1..65535");
	assert_memory_equal(&s, &before, sizeof s);
	assert_int_equal(config_apply_options(&s, "port=0", err, sizeof err), RG_CONFIG);
	assert_string_equal(err, "option \"port\": \"0\" is out of range 1..65535");
	assert_int_equal(config_apply_options(&s, "sources=callout,smtp", err, sizeof err), RG_CONFIG);
	assert_string_equal(err, "option \"sources\": unknown source \"smtp\" (callout, list, ldap)");
	assert_int_equal(config_apply_options(&s, "include=/etc/passwd", err, sizeof err), RG_CONFIG);
	assert_string_equal(err, "option \"include\": not allowed in options");
	assert_int_equal(config_apply_options(&s, "port", err, sizeof err), RG_CONFIG);
	assert_string_equal(err, "option \"port\": expected key=value");
	assert_int_equal(config_apply_options(&s, "=25", err, sizeof err), RG_CONFIG);
	assert_string_equal(err, "option \"\": expected key=value");
	assert_int_equal(config_apply_options(&s, "hosts=\"a b", err, sizeof err), RG_CONFIG);
	assert_string_equal(err, "option \"hosts\": bad quoting or value too long");
	assert_int_equal(config_apply_options(&s, "hosts=\"a\"b", err, sizeof err), RG_CONFIG);
	assert_string_equal(err, "option \"hosts\": bad quoting or value too long");
	assert_int_equal(config_apply_options(&s, "hosts=\"a\x01\"", err, sizeof err), RG_CONFIG);
	assert_string_equal(err, "option \"hosts\": control byte in value \"a?\"");
	assert_int_equal(config_apply_options(&s, "callout_sender=\"<a\r\nRSET>\"", err, sizeof err), RG_CONFIG);
	assert_string_equal(err, "option \"callout_sender\": control byte in value \"<a??RSET>\"");
	assert_int_equal(config_apply_options(&s, "callout_sender=a@b\x7f", err, sizeof err), RG_CONFIG);
	assert_memory_equal(&s, &before, sizeof s);

	/* A key given twice: the last one wins (ACLs append per-recipient overrides to global ones). */
	assert_int_equal(config_apply_options(&s, "config=/x hosts=a port=26 sources=callout,list "
					      "hosts=\"b c\" port=2626 sources=ldap", err, sizeof err), RG_FOUND);
	assert_string_equal(s.callout.hosts, "b c");
	assert_int_equal(s.callout.port, 2626);
	assert_string_equal(s.sources[0], "ldap");
	assert_string_equal(s.sources[1], "");
	assert_false(config_has_source(&s, "callout"));
	before = s;
	assert_int_equal(config_apply_options(&s, "hosts=x port=26 hosts=y port=26x", err, sizeof err), RG_CONFIG);
	assert_string_equal(err, "option \"port\": \"26x\" is not a decimal number");
	assert_memory_equal(&s, &before, sizeof s);

	/* config=PATH. */
	assert_int_equal(config_option_path("hosts=a config=\"/etc/rg x.conf\" port=2", path, sizeof path,
					    err, sizeof err), RG_FOUND);
	assert_string_equal(path, "/etc/rg x.conf");
	assert_int_equal(config_option_path("hosts=a", path, sizeof path, err, sizeof err), RG_FOUND);
	assert_string_equal(path, "");
	assert_int_equal(config_option_path(NULL, path, sizeof path, err, sizeof err), RG_FOUND);
	assert_string_equal(path, "");
	assert_int_equal(config_option_path("config=/a config=/b", path, sizeof path, err, sizeof err), RG_CONFIG);
	assert_string_equal(err, "option \"config\": given twice");
	assert_int_equal(config_option_path("config=", path, sizeof path, err, sizeof err), RG_CONFIG);
	assert_string_equal(err, "option \"config\": empty path");
	assert_int_equal(config_option_path("config=/etc/x.conf", small, sizeof small, err, sizeof err), RG_CONFIG);
	assert_string_equal(err, "option \"config\": path too long");
	assert_string_equal(small, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_keys_good, setup, teardown),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_durations_ms),
		cmocka_unit_test_setup_teardown(test_booleans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_values_and_comments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_section_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_sections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_five_thousand_domains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_include, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crlf_and_control_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_include_not_regular, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlong_values, setup, teardown),
		cmocka_unit_test(test_options),
		cmocka_unit_test_setup_teardown(test_member_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_member_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_regular, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
