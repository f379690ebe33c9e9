/*
 * config.h - the rcptguard.conf format (DESIGN.md "The contract: configuration").
 *
 * "key = value" lines, '#' comments, durations with units (30s 5m 2h 7d), global keys
 * first, then "[domain NAME]" sections (NAME may be "*.example.org") overriding them for
 * that domain, and "include = GLOB". Unknown keys and bad values are errors naming
 * file:line. The same key table parses per-call overrides from an ACL ("options").
 *
 * Ownership: config_load() returns a struct config the caller frees with config_free().
 * struct settings is plain data (fixed arrays), copied by value: no pointers into the config.
 */
#ifndef RG_CONFIG_H
#define RG_CONFIG_H

#include "config_key.h"
#include "dns_conf.h"
#include "fcrdns_conf.h"
#include "source_callout_conf.h"
#include "source_ldap_conf.h"
#include "source_list_conf.h"
#include "store_lmdb_conf.h"
#include "store_redis_conf.h"

#define CONFIG_DEFAULT_PATH "/etc/rcptguard/rcptguard.conf"
#define CONFIG_SOURCES_MAX 8

/* Every key of the format: the engine's own, then each member's settings by value (its
 * keys are in its *_conf.c, placed here by config_members.c). Durations are in seconds.
 * Strings are "" when unset. */
struct settings {
	char state_dir[RG_PATH_MAX];                   /* /var/lib/rcptguard (global only) */
	char sources[CONFIG_SOURCES_MAX][CONFIG_NAME_MAX]; /* "callout","list","ldap"; "" ends */
	unsigned positive_ttl, negative_ttl;           /* 7d, 30m */
	unsigned stale_ttl;                            /* 30d */
	unsigned total_timeout;                        /* 30s: one whole check */
	char own_domains[CONFIG_LIST_MAX];             /* "a.example b.example *.c.example" */
	int own_domain;                                /* no; yes: this domain is ours (sections, ACL options) */
	unsigned greylist_delay, greylist_retry_window, greylist_pass_ttl; /* 5m 2d 10d */
	unsigned greylist_ipv4_prefix, greylist_ipv6_prefix; /* 24, 64 */
	unsigned greylist_awl_after;                   /* 5; 0 = off */
	char greylist_whitelist[RG_PATH_MAX];
	char greylist_whitelist_clients[RG_PATH_MAX];    /* postgrey's whitelist_clients */
	char greylist_whitelist_recipients[RG_PATH_MAX]; /* postgrey's whitelist_recipients */
	char greylist_on_error[CONFIG_NAME_MAX];       /* "pass" | "defer" */
	char admin_listen[CONFIG_LIST_MAX];            /* rcptguard-admin: "127.0.0.1:8025 [::1]:8025" */
	char admin_tls_cert[RG_PATH_MAX];
	char admin_tls_key[RG_PATH_MAX];
	char admin_tokens[RG_PATH_MAX];                /* "SHA256HEX SCOPE NAME" lines */
	char admin_metrics_from[CONFIG_LIST_MAX];      /* CIDRs that may GET /metrics without a token */
	char store[CONFIG_NAME_MAX];                   /* store member: "lmdb" | "redis" (global only) */
	char store_fallback[CONFIG_NAME_MAX];          /* "local" | "none" */
	int log_cached;                                /* no; yes: a line per verdict from the cache too */
	struct callout_settings callout;               /* source_callout_conf.h */
	struct list_settings list;                     /* source_list_conf.h */
	struct ldap_settings ldap;                     /* source_ldap_conf.h */
	struct dns_settings dns;                       /* dns_conf.h */
	struct fcrdns_settings fcrdns;                 /* fcrdns_conf.h */
	struct lmdb_settings lmdb;                     /* store_lmdb_conf.h */
	struct redis_settings redis;                   /* store_redis_conf.h */
};

/* A member's keyset and where its settings are in struct settings (config_members.c). */
struct config_member {
	const struct config_keyset *set;
	size_t off, size;
};

extern const struct config_member config_members[];
extern const size_t config_members_n;

struct config;

/* Fill s with the built-in defaults. */
void config_defaults(struct settings *s);

/* Read path (and its includes). RG_FOUND, or RG_CONFIG with "file:line: problem" in err. */
int config_load(const char *path, struct config **out, char *err, size_t errlen);

/* An empty config (defaults only), for callers that run without a file. */
struct config *config_new(void);

/* The settings in force for domain ("" or NULL: the global ones). An exact
 * [domain NAME] beats the longest matching "*.suffix" section. */
void config_for_domain(const struct config *c, const char *domain, struct settings *out);

/* Apply per-call overrides "key=value key2=\"v a l\"" (the ACL's OPTIONS argument).
 * The key "config" is skipped here (the caller uses config_option_path()).
 * RG_FOUND, or RG_CONFIG naming the bad pair. */
int config_apply_options(struct settings *s, const char *options, char *err, size_t errlen);

#define CONFIG_OPTION_MAX 4096    /* bytes of one option value (= of a config line) */

/* The one options tokenizer: the next "key=value" pair of an ACL options string at *pp
 * (a value may be "double quoted", \" and \\ escaped). 1 read (*pp moves past it), 0 at
 * the end, -1 malformed or too long for key/val (err says which option). */
int config_next_option(const char **pp, char *key, size_t ksz, char *val, size_t vsz, char *err, size_t errlen);

/* Extract "config=PATH" from options into path (empty if absent). RG_CONFIG on a bad value. */
int config_option_path(const char *options, char *path, size_t size, char *err, size_t errlen);

/* The path the config was read from. */
const char *config_path(const struct config *c);

/* Number of [domain] sections; and the name of section i (for the CLI). */
size_t config_domain_count(const struct config *c);
const char *config_domain_name(const struct config *c, size_t i);

/* Parse a duration "30s", "5m", "2h", "7d", "1w" or bare seconds. 0 ok, -1 bad. */
int config_parse_duration(const char *v, unsigned *out);

/* The same, in milliseconds: "250ms", "2s", "1m" (bare numbers are seconds). 0 ok, -1 bad. */
int config_parse_duration_ms(const char *v, unsigned *out);

/* Whether source name is in s->sources. */
int config_has_source(const struct settings *s, const char *name);

void config_free(struct config *c);

/* 1 when a file c was read from (or a globbed include folder) changed since: one stat()
 * per file. Lets a process that inherited a parsed config check it is still current. */
int config_changed(const struct config *c);

/* 1 when a [domain] section applies to domain (exact, or a matching "*.suffix"); 0 when
 * config_for_domain() would give the global settings unchanged. */
int config_domain_has_section(const struct config *c, const char *domain);

#endif
