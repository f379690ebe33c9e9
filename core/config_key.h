/*
 * config_key.h - what a family member declares to own its rcptguard.conf keys.
 *
 * Why: a member's keys belong to the member (as OpenSMTPD's table_backend has its own
 * config() hook and Postfix's dict_ldap reads its own settings), not to config.c. A member
 * keeps its settings in a struct of its own (core/NAME_conf.h), describes each key with a
 * struct config_key whose offset is into that struct, and may give a check() that judges
 * the struct as a whole once a part of the file (global or a [domain] section) is read.
 * config.c (the generic reader) and config_members.c (the registry that places each
 * member's struct inside struct settings) do the rest. Lower tier: includes only rg.h.
 */
#ifndef RG_CONFIG_KEY_H
#define RG_CONFIG_KEY_H

#include "rg.h"

/* Sizes of the fields that members and the engine share. */
#define CONFIG_NAME_MAX 16
#define CONFIG_HOSTS_MAX 512
#define CONFIG_LIST_MAX 1024

/* How a value is read; every type is validated by config.c's one value parser. */
enum config_type {
	CONFIG_STR,      /* any text without control bytes */
	CONFIG_ASCII,    /* printable ASCII only */
	CONFIG_UINT,     /* decimal, min..max */
	CONFIG_DUR,      /* duration in seconds ("30s 5m 2h 7d 1w"), min..max */
	CONFIG_MS,       /* duration in milliseconds ("250ms 2s"), min..max */
	CONFIG_BOOL,     /* yes/no true/false on/off 1/0, stored as int */
	CONFIG_ENUM,     /* one of choices "a|b", stored in the table's spelling */
	CONFIG_SOURCES,  /* the sources list */
	CONFIG_SENDER,   /* "<>" or an address, stored with its brackets */
	CONFIG_DOMAIN,   /* a host name (HELO), lower-cased */
	CONFIG_DOMAINS,  /* domains and "*.suffix" names, lower-cased, space-separated */
	CONFIG_ADDRESS   /* "" or an address, never "<>", stored with its brackets */
};

/* One key of the file format. */
struct config_key {
	const char *name;     /* as written in rcptguard.conf and ACL options (the contract) */
	enum config_type type;
	size_t off, size;     /* where the field is in its owner's settings struct */
	unsigned min, max;    /* numbers: range; strings: min = shortest length */
	int global_only;      /* refused inside [domain] sections */
	const char *def;      /* default, parsed like any other value */
	const char *choices;  /* CONFIG_ENUM: "a|b" */
	/* Extra rule for a non-empty string value (e.g. an LDAP filter's syntax): RG_FOUND,
	 * or RG_CONFIG with the problem in why. May be NULL. */
	int (*valid)(const char *value, char *why, size_t whylen);
};

/* A member's keys. */
struct config_keyset {
	const char *owner;                 /* "ldap", "callout", ...: prefixes check() errors */
	const struct config_key *keys;
	size_t n;
	/* The member's config() hook: judges its settings as a whole (the effective ones of
	 * a part that set any of its keys). RG_FOUND, or RG_CONFIG with the problem in err
	 * (the caller adds file:line). May be NULL. */
	int (*check)(const void *member_settings, char *err, size_t errlen);
};

/* Helpers for a member's key table (T is its settings struct). */
#define CONFIG_FIELD(T, f) offsetof(T, f), sizeof(((T *)0)->f)
#define CONFIG_KEY_STR(name, T, f, type, def) { name, type, CONFIG_FIELD(T, f), 0, 0, 0, def, NULL, NULL }
#define CONFIG_KEY_NUM(name, T, f, type, lo, hi, def) { name, type, CONFIG_FIELD(T, f), lo, hi, 0, def, NULL, NULL }
/* Timeouts are bounded to an hour: a mail gateway never waits longer, and milliseconds
 * of it always fit an unsigned int. */
#define CONFIG_KEY_TMO(name, T, f, def) CONFIG_KEY_NUM(name, T, f, CONFIG_DUR, 1, 3600, def)
#define CONFIG_DURATION_MAX (10u * 365u * 86400u)
#define CONFIG_KEY_DUR(name, T, f, lo, def) CONFIG_KEY_NUM(name, T, f, CONFIG_DUR, lo, CONFIG_DURATION_MAX, def)

#endif
