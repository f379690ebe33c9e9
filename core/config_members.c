/*
 * config_members.c - the registry of members that own config keys (as source.c is the
 * registry of sources): each keyset and where its member's settings sit in struct
 * settings. config.c reads the engine's own keys, then these, in this order.
 */
#include "config.h"

#define MEMBER(set, field) { &set, offsetof(struct settings, field), sizeof(((struct settings *)0)->field) }

const struct config_member config_members[] = {
	MEMBER(source_callout_keyset, callout),
	MEMBER(source_list_keyset, list),
	MEMBER(source_ldap_keyset, ldap),
	MEMBER(dns_keyset, dns),
	MEMBER(fcrdns_keyset, fcrdns),
	MEMBER(store_lmdb_keyset, lmdb),
	MEMBER(store_redis_keyset, redis),
};

const size_t config_members_n = sizeof config_members / sizeof config_members[0];
