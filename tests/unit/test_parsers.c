/* test_parsers.c - the one parser per kind: IP addresses (ipaddr: brackets, ::ffff: as
 * IPv4 for every caller), the domain-name rule (an address at a_b.example and a config
 * section [domain a_b.example] agree), the suffix matcher (address_in_zone). */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "address.h"
#include "config.h"
#include "greylist_key.h"
#include "ipaddr.h"

static void test_ipaddr(void **state)
{
	struct ipaddr a, b;
	char t[IPADDR_TEXT_MAX], net[GREYLIST_NET_MAX + 1];

	(void)state;
	assert_int_equal(ipaddr_parse("192.0.2.7", &a), 0);
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(ipaddr_parse("::ffff:192.0.2.7", &b), 0);
	assert_int_equal(b.family, AF_INET);                   /* mapped = the IPv4 address */
	assert_memory_equal(a.a, b.a, 16);
	assert_memory_equal(a.mapped, b.mapped, 16);
	assert_int_equal(ipaddr_text(&b, t, sizeof t), 0);
	assert_string_equal(t, "192.0.2.7");
	assert_int_equal(ipaddr_parse("[2001:DB8::1]", &a), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(ipaddr_text(&a, t, sizeof t), 0);
	assert_string_equal(t, "2001:db8::1");
	assert_int_equal(ipaddr_parse("[::ffff:192.0.2.7]", &b), 0);
	assert_int_equal(b.family, AF_INET);
	assert_int_equal(ipaddr_parse("", &a), -1);
	assert_int_equal(ipaddr_parse("[]", &a), -1);
	assert_int_equal(ipaddr_parse("192.0.2", &a), -1);
	assert_int_equal(ipaddr_parse("fe80::1%eth0", &a), -1);
	assert_int_equal(ipaddr_parse("192.0.2.7 ", &a), -1);
	assert_int_equal(ipaddr_parse("[192.0.2.7", &a), -1);
	/* Callers agree: the greylist network of a mapped address is its IPv4 network. */
	assert_int_equal(greylist_key_network("::ffff:192.0.2.7", 24, 64, net, sizeof net), 0);
	assert_string_equal(net, "192.0.2.0/24");
	assert_int_equal(greylist_key_network("[192.0.2.7]", 24, 64, net, sizeof net), 0);
	assert_string_equal(net, "192.0.2.0/24");
}

static void test_domain_rule(void **state)
{
	char path[64], err[RG_ERRLEN], out[RG_DOMAIN_MAX + 1];
	struct address a;
	struct config *c;
	FILE *f;

	(void)state;
	assert_int_equal(address_domain_check("a_b.example", 11, err, sizeof err), RG_FOUND);
	assert_int_equal(address_domain_check("a..b", 4, err, sizeof err), RG_NOTFOUND);
	assert_string_equal(err, "empty label in domain");
	assert_int_equal(address_domain_check("a.b.", 4, err, sizeof err), RG_NOTFOUND);
	assert_int_equal(address_domain_check("a b", 3, err, sizeof err), RG_NOTFOUND);
	assert_int_equal(address_parse_domain("A_B.Example", out, sizeof out, err, sizeof err), RG_FOUND);
	assert_string_equal(out, "a_b.example");
	/* The address parser and the config accept the same domain. */
	assert_int_equal(address_parse("user@a_b.example", &a, err, sizeof err), RG_FOUND);
	snprintf(path, sizeof path, "/tmp/test_parsers.%d.conf", (int)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("[domain a_b.example]\nport = 26\n[domain *.c_d.example]\nport = 27\n", f);
	fclose(f);
	if (config_load(path, &c, err, sizeof err) != RG_FOUND)
		fail_msg("config refused a domain the address parser accepts: %s", err);
	config_free(c);
	f = fopen(path, "w");
	fputs("[domain a..example]\n", f);
	fclose(f);
	assert_int_equal(config_load(path, &c, err, sizeof err), RG_CONFIG);
	assert_non_null(strstr(err, ":1: bad domain \"a..example\""));
	unlink(path);
}

static void test_zone(void **state)
{
	(void)state;
	assert_int_equal(address_in_zone("mx.example.org", 14, "example.org", 11, 0), 1);
	assert_int_equal(address_in_zone("MX.Example.ORG", 14, "example.org", 11, 0), 1);
	assert_int_equal(address_in_zone("example.org", 11, "example.org", 11, 0), 0);
	assert_int_equal(address_in_zone("example.org", 11, "example.org", 11, 1), 1);
	assert_int_equal(address_in_zone("badexample.org", 14, "example.org", 11, 1), 0);
	assert_int_equal(address_in_zone("org", 3, "example.org", 11, 1), 0);
	assert_int_equal(address_in_zone("x.org", 5, "", 0, 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipaddr),
		cmocka_unit_test(test_domain_rule),
		cmocka_unit_test(test_zone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
