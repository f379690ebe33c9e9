/*
 * config.c - reads rcptguard.conf (and its includes) and the per-call ACL options into
 * struct settings (DESIGN.md "The contract: configuration").
 *
 * One key table per owner drives everything: the engine's own keys here, each member's in
 * its *_conf.c (config_key.h), placed in struct settings by config_members.c. The file
 * parser, the defaults and the ACL options all go through config_set_value(), so a value
 * is validated the same way wherever it comes from and nothing is ever silently cut
 * (truncation is an error). A member's check() then judges its settings as a whole, for
 * each part (global, or a section with its global values) that set any of its keys.
 *
 * The config is parsed in every Exim process, and gateways have thousands of [domain]
 * sections, so a section keeps only the keys it sets: a list of entries holding each
 * value in its parsed form, compacted (see struct entry), in one arena per config.
 * config_for_domain() copies the global settings and applies the entries of the exact
 * section (sorted, bsearch()) or else of the longest matching "*.suffix" one.
 *
 * Quoted values ("a b") keep spaces and '#'; inside them \" and \\ are escapes and any
 * other backslash is literal. An included file starts in the part (global or section) of
 * its include line; when it ends, the including file goes on in its own part.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "linefile.h"

#define LINE_BYTES_MAX 4096
/* One config file (each include counts apart): far above any real one. */
#define CONFIG_FILE_BYTES_MAX (16u << 20)
#define INCLUDE_DEPTH_MAX 8
#define DURATION_MAX CONFIG_DURATION_MAX
#define ARENA_BLOCK_BYTES 16384
#define WS " \t\r\n"

#define F(n) offsetof(struct settings, n), sizeof(((struct settings *)0)->n)
#define STR(n, t, def) { #n, t, F(n), 0, 0, 0, def, NULL, NULL }
#define NUM(n, t, lo, hi, def) { #n, t, F(n), lo, hi, 0, def, NULL, NULL }
#define DUR(n, lo, def) NUM(n, CONFIG_DUR, lo, DURATION_MAX, def)
#define TMO(n, def) NUM(n, CONFIG_DUR, 1, 3600, def)
#define ENUM(n, def, choices) { #n, CONFIG_ENUM, F(n), 0, 0, 0, def, choices, NULL }
#define GLOBAL(n, t, lo, hi, def, choices) { #n, t, F(n), lo, hi, 1, def, choices, NULL }

/* The engine's own keys: those read by the engine, or by more than one member. */
static const struct config_key keys[] = {
	GLOBAL(state_dir, CONFIG_STR, 1, 0, "/var/lib/rcptguard", NULL),
	STR(sources, CONFIG_SOURCES, "callout list ldap"),
	DUR(positive_ttl, 0, "7d"), DUR(negative_ttl, 0, "30m"),
	DUR(stale_ttl, 0, "30d"),
	TMO(total_timeout, "30s"),
	STR(own_domains, CONFIG_DOMAINS, ""),
	NUM(own_domain, CONFIG_BOOL, 0, 1, "no"),
	DUR(greylist_delay, 0, "5m"), DUR(greylist_retry_window, 0, "2d"), DUR(greylist_pass_ttl, 0, "10d"),
	NUM(greylist_ipv4_prefix, CONFIG_UINT, 0, 32, "24"),
	NUM(greylist_ipv6_prefix, CONFIG_UINT, 0, 128, "64"),
	NUM(greylist_awl_after, CONFIG_UINT, 0, UINT_MAX, "5"),
	STR(greylist_whitelist, CONFIG_STR, ""),
	STR(greylist_whitelist_clients, CONFIG_STR, ""), STR(greylist_whitelist_recipients, CONFIG_STR, ""),
	ENUM(greylist_on_error, "pass", "pass|defer"),
	GLOBAL(admin_listen, CONFIG_ASCII, 0, 0, "", NULL),
	GLOBAL(admin_tls_cert, CONFIG_STR, 0, 0, "", NULL),
	GLOBAL(admin_tls_key, CONFIG_STR, 0, 0, "", NULL),
	GLOBAL(admin_tokens, CONFIG_STR, 0, 0, "", NULL),
	GLOBAL(admin_metrics_from, CONFIG_ASCII, 0, 0, "", NULL),
	GLOBAL(store, CONFIG_ENUM, 0, 0, "lmdb", "lmdb|redis"),
	GLOBAL(store_fallback, CONFIG_ENUM, 0, 0, "local", "local|none"),
	NUM(log_cached, CONFIG_BOOL, 0, 1, "no"),
};
#define NKEYS (sizeof keys / sizeof keys[0])
#define KEYSET_WORDS 4     /* bits for up to 256 keys (the engine's and every member's) */

/* Key number idx of all keys (the engine's, then each member's in config_members order):
 * its entry, where its owner's settings are in struct settings, and its owner (-1: the
 * engine). */
struct slot {
	const struct config_key *k;
	size_t base;
	int member;
	unsigned idx;
};

/*
 * One key a section sets. Its value is the field exactly as config_set_value() wrote it
 * (into a zeroed field), trailing zero bytes cut: a string takes its length, a number its
 * 4 bytes or fewer, sources the names given. Applying writes the bytes, zeroes the rest.
 */
struct entry {
	struct entry *next;
	unsigned key, len;
	unsigned char bytes[];
};

struct section {
	const char *name;             /* in the arena: "example.org" or "*.example.org" */
	struct entry *entries;        /* the keys it sets, in no particular order */
	uint64_t set[KEYSET_WORDS];   /* bit i: key number i (struct slot) is among them */
	unsigned file, line, seq;     /* where it was opened, for duplicate reports */
};

struct block {                        /* arena: section names and entries, freed at once */
	struct block *next;
	size_t used, size;
	char data[];
};
_Static_assert(offsetof(struct block, data) % _Alignof(struct entry) == 0, "aligned arena");

/* What a file (or folder) looked like when it was read; ino 0: it did not exist. */
struct config_stamp {
	char *path;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim, ctim;
};

struct config {
	char path[RG_PATH_MAX];
	struct settings global;
	uint64_t global_set[KEYSET_WORDS];
	struct section *sec;          /* after loading: exact ones sorted by name, then wildcards */
	size_t nsec, nexact, cap;
	struct block *arena;
	struct config_stamp *stamps;  /* every file read, and the folders of include globs */
	size_t nstamps;
};

struct parser {
	struct config *c;
	char **files;                 /* every file read so far (messages name them) */
	size_t nfiles;
	char *err;
	size_t errlen;
	struct settings scratch;      /* a section's value is parsed here before being kept */
	/* Per part (0 global, 1 + seq a section) and member: the last line that set one of
	 * the member's keys (line 0: none), where a check() failure is reported. */
	struct config_where {
		unsigned file, line;
	} *where;
	size_t nwhere;
};

/* The slot of key number idx; 0, or -1 past the last key. */
static int config_slot(size_t idx, struct slot *out)
{
	size_t i, n = idx;

	if (n < NKEYS) {
		*out = (struct slot){ &keys[n], 0, -1, (unsigned)idx };
		return 0;
	}
	for (n -= NKEYS, i = 0; i < config_members_n; n -= config_members[i++].set->n)
		if (n < config_members[i].set->n) {
			*out = (struct slot){ &config_members[i].set->keys[n], config_members[i].off, (int)i,
					      (unsigned)idx };
			return 0;
		}
	return -1;
}

/* Format an error into err; returns RG_CONFIG. */
__attribute__((format(printf, 3, 4)))
static int config_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return RG_CONFIG;
}

/* Format "FILE:LINE: problem" into the parser's err, for file number fi; returns RG_CONFIG. */
__attribute__((format(printf, 4, 5)))
static int config_fail_at(const struct parser *p, size_t fi, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->err && p->errlen) {
		n = snprintf(p->err, p->errlen, "%s:%u: ", p->files[fi], line);
		va_start(ap, fmt);
		if (n >= 0 && (size_t)n < p->errlen)
			vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return RG_CONFIG;
}

/* User text made printable and cut to 100 bytes, for messages. */
static const char *config_shown(char buf[104], const char *s, size_t n)
{
	util_sanitise(buf, 101, s, n);
	return buf;
}

/* The slot of the key called name: 0, or -1 when no owner has it. */
static int config_find_key(const char *name, struct slot *out)
{
	size_t i, j, idx;

	/* Why the first byte apart: a config of thousands of sections is read in every
	 * process that finds it changed; most names differ there. */
	for (i = 0; i < NKEYS; i++)
		if (keys[i].name[0] == name[0] && !strcmp(keys[i].name, name))
			return config_slot(i, out);
	for (idx = NKEYS, j = 0; j < config_members_n; idx += config_members[j++].set->n)
		for (i = 0; i < config_members[j].set->n; i++)
			if (config_members[j].set->keys[i].name[0] == name[0] &&
			    !strcmp(config_members[j].set->keys[i].name, name))
				/* beyond the bitmap: config_load refuses */
				return idx + i < KEYSET_WORDS * 64 ? config_slot(idx + i, out) : -1;
	return -1;
}

/* Whether d breaks the domain-name rule (address_domain_check: the one rule). */
static int config_bad_domain(const char *d)
{
	char why[RG_ERRLEN];

	return address_domain_check(d, strlen(d), why, sizeof why) == RG_FOUND ? 0 : -1;
}

/* Decimal digits only, within unsigned range. */
static int config_parse_uint(const char *v, unsigned *out)
{
	unsigned long long n = 0;

	if (!*v)
		return -1;
	for (; *v; v++) {
		if (*v < '0' || *v > '9' || (n = n * 10 + (unsigned)(*v - '0')) > UINT_MAX)
			return -1;
	}
	*out = (unsigned)n;
	return 0;
}

/* The one duration parser: "500ms", "30s", "5m", "2h", "7d", "1w", "1h30m" or bare
 * seconds, at most 10 years, into milliseconds. 0 ok, -1 bad. */
static int config_parse_span_ms(const char *v, unsigned long long *out)
{
	unsigned long long total = 0, n, unit;
	const unsigned long long max = (unsigned long long)DURATION_MAX * 1000;
	int bare;

	if (!v || !*v)
		return -1;
	bare = strspn(v, "0123456789") == strlen(v); /* "90", but "1h30" is a typo */
	while (*v) {
		if (*v < '0' || *v > '9')
			return -1;
		for (n = 0; *v >= '0' && *v <= '9'; v++)
			if ((n = n * 10 + (unsigned)(*v - '0')) > max)
				return -1;
		switch (*v++) {
		case 's': unit = 1000; break;
		case 'm': unit = *v == 's' ? (v++, 1) : 60000; break;
		case 'h': unit = 3600000; break;
		case 'd': unit = 86400000; break;
		case 'w': unit = 604800000; break;
		case '\0': if (!bare) return -1; unit = 1000; v--; break;
		default: return -1;
		}
		if ((total += n * unit) > max)
			return -1;
	}
	*out = total;
	return 0;
}

/* A duration in whole seconds ("1500ms" is refused: the key counts seconds). 0 ok, -1 bad. */
int config_parse_duration(const char *v, unsigned *out)
{
	unsigned long long ms;

	if (config_parse_span_ms(v, &ms) || ms % 1000)
		return -1;
	*out = (unsigned)(ms / 1000);
	return 0;
}

/* A duration in milliseconds ("250ms", "2s"; bare numbers are seconds). 0 ok, -1 bad. */
int config_parse_duration_ms(const char *v, unsigned *out)
{
	unsigned long long ms;

	if (config_parse_span_ms(v, &ms) || ms > UINT_MAX)
		return -1;
	*out = (unsigned)ms;
	return 0;
}

/* The next word of a space/comma separated list; its length, 0 at the end. */
static size_t config_next_word(const char **p, const char **word)
{
	size_t n;

	*p += strspn(*p, " ,\t");
	*word = *p;
	n = strcspn(*p, " ,\t");
	*p += n;
	return n;
}

/* sources: 1..8 of callout/list/ldap, no duplicates. */
static int config_set_sources(char *field, const char *v, char *why, size_t wl)
{
	char tmp[CONFIG_SOURCES_MAX][CONFIG_NAME_MAX], show[104];
	const char *w;
	size_t n, count = 0, i;

	memset(tmp, 0, sizeof tmp);
	while ((n = config_next_word(&v, &w)) > 0) {
		if (count == CONFIG_SOURCES_MAX)
			return config_fail(why, wl, "more than %d sources", CONFIG_SOURCES_MAX);
		if (n >= CONFIG_NAME_MAX)
			return config_fail(why, wl, "unknown source \"%s\"", config_shown(show, w, n));
		memcpy(tmp[count], w, n);
		util_lower(tmp[count]);
		if (strcmp(tmp[count], "callout") && strcmp(tmp[count], "list") && strcmp(tmp[count], "ldap"))
			return config_fail(why, wl, "unknown source \"%s\" (callout, list, ldap)",
					   config_shown(show, w, n));
		for (i = 0; i < count; i++)
			if (!strcmp(tmp[i], tmp[count]))
				return config_fail(why, wl, "source \"%s\" listed twice", tmp[count]);
		count++;
	}
	if (count == 0)
		return config_fail(why, wl, "no sources given");
	memcpy(field, tmp, sizeof tmp);
	return RG_FOUND;
}

/* own_domains: domains or *.suffix, stored lower-cased and space-separated. */
static int config_set_domains(char *field, size_t size, const char *v, char *why, size_t wl)
{
	char tmp[CONFIG_LIST_MAX], word[RG_DOMAIN_MAX + 3], show[104];
	const char *w;
	size_t n, o = 0;

	while ((n = config_next_word(&v, &w)) > 0) {
		if (n >= sizeof word)
			return config_fail(why, wl, "bad domain \"%s\"", config_shown(show, w, n));
		memcpy(word, w, n);
		word[n] = '\0';
		util_lower(word);
		if (config_bad_domain(strncmp(word, "*.", 2) ? word : word + 2))
			return config_fail(why, wl, "bad domain \"%s\"", config_shown(show, w, n));
		if (o + n + 2 > sizeof tmp || o + n + 2 > size)
			return config_fail(why, wl, "value too long (at most %zu bytes)", size - 1);
		if (o)
			tmp[o++] = ' ';
		memcpy(tmp + o, word, n);
		o += n;
	}
	tmp[o] = '\0';
	memcpy(field, tmp, o + 1);
	return RG_FOUND;
}

/* callout_sender: "<>", "<local@domain>" or "local@domain", stored with its brackets. */
static int config_set_sender(char *field, size_t size, const char *v, char *why, size_t wl)
{
	size_t n = strlen(v), i, at = 0;
	char show[104];

	if (n >= 2 && v[0] == '<' && v[n - 1] == '>') {
		v++;
		n -= 2;
	} else if (n == 0) {
		return config_fail(why, wl, "empty sender (use <> for the null sender)");
	}
	if (n > RG_ADDRESS_MAX)
		return config_fail(why, wl, "sender longer than %d bytes", RG_ADDRESS_MAX);
	for (i = 0; i < n; i++) {
		if (v[i] <= ' ' || v[i] >= 0x7f || v[i] == '<' || v[i] == '>')
			return config_fail(why, wl, "bad sender \"%s\"", config_shown(show, v, n));
		if (v[i] == '@')
			at = i;
	}
	if (n && (at == 0 || at == n - 1))
		return config_fail(why, wl, "bad sender \"%s\" (<> or local@domain)", config_shown(show, v, n));
	if (util_snprintf(field, size, "<%.*s>", (int)n, v))
		return config_fail(why, wl, "sender too long");
	return RG_FOUND;
}

/* Validate v for key k and store it in its owner's settings at base (the field zeroed
 * first); on error a problem in why. */
static int config_set_value(const struct config_key *k, void *base, const char *v, char *why, size_t wl)
{
	static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false", "off", "0" };
	char *field = (char *)base + k->off, show[104];
	size_t n = strlen(v), i;
	const char *c;
	unsigned u;
	int b;

	memset(field, 0, k->size);
	config_shown(show, v, n);
	for (i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return config_fail(why, wl, "control byte in value \"%s\"", show);
	switch (k->type) {
	case CONFIG_STR:
	case CONFIG_ASCII:
		if (n && k->valid && k->valid(v, why, wl) != RG_FOUND)
			return RG_CONFIG;
		for (i = 0; k->type == CONFIG_ASCII && i < n; i++)
			if ((unsigned char)v[i] > 0x7e)
				return config_fail(why, wl, "non-ASCII byte in value \"%s\"", show);
		if (n < k->min)
			return config_fail(why, wl, "must not be empty");
		if (n >= k->size)
			return config_fail(why, wl, "value too long (%zu bytes, at most %zu)", n, k->size - 1);
		memcpy(field, v, n + 1);
		return RG_FOUND;
	case CONFIG_UINT:
	case CONFIG_DUR:
	case CONFIG_MS:
		if (k->type == CONFIG_UINT ? config_parse_uint(v, &u) : k->type == CONFIG_MS ?
		    config_parse_duration_ms(v, &u) : config_parse_duration(v, &u))
			return config_fail(why, wl, k->type == CONFIG_UINT ? "\"%s\" is not a decimal number"
					   : k->type == CONFIG_MS ? "\"%s\" is not a duration (250ms 2s, ...)"
					   : "\"%s\" is not a duration (30s 5m 2h 7d 1w, at most 10 years)", show);
		if (u < k->min || u > k->max)
			return config_fail(why, wl, "\"%s\" is out of range %u..%u%s", show, k->min, k->max,
					   k->type == CONFIG_DUR ? " seconds" : k->type == CONFIG_MS ? " milliseconds" : "");
		memcpy(field, &u, sizeof u);
		return RG_FOUND;
	case CONFIG_BOOL:
		for (i = 0, b = -1; i < 4; i++)
			b = !strcasecmp(v, yes[i]) ? 1 : !strcasecmp(v, no[i]) ? 0 : b;
		if (b < 0)
			return config_fail(why, wl, "\"%s\" is not a boolean (yes/no)", show);
		memcpy(field, &b, sizeof b);
		return RG_FOUND;
	case CONFIG_ENUM:
		for (c = k->choices; *c; c += strcspn(c, "|"), c += *c == '|') {
			if (strcspn(c, "|") == n && !strncasecmp(c, v, n)) {
				memcpy(field, c, n); /* the table's own spelling; the NUL is there */
				return RG_FOUND;
			}
		}
		return config_fail(why, wl, "\"%s\" is not one of %s", show, k->choices);
	case CONFIG_SOURCES:
		return config_set_sources(field, v, why, wl);
	case CONFIG_SENDER:
		return config_set_sender(field, k->size, v, why, wl);
	case CONFIG_DOMAIN:
		/* Why stricter than the domain rule: this is a host name we send (HELO), and a
		 * peer may refuse one with '_' (RFC 5321 Domain syntax has none). */
		if (n && (config_bad_domain(v) || strchr(v, '_') != NULL))
			return config_fail(why, wl, "bad domain \"%s\"", show);
		memcpy(field, v, n + 1); /* <= 255 bytes: fits */
		util_lower(field);
		return RG_FOUND;
	case CONFIG_DOMAINS:
		return config_set_domains(field, k->size, v, why, wl);
	case CONFIG_ADDRESS:      /* "" (none), else like a sender but never <> */
		if (n == 0)
			return RG_FOUND;
		if (strcmp(v, "<>") == 0)
			return config_fail(why, wl, "the null address is not an address");
		return config_set_sender(field, k->size, v, why, wl);
	}
	return config_fail(why, wl, "internal: bad key type");
}

/* Fill s with the built-in defaults (the table's, through the same parser). */
void config_defaults(struct settings *s)
{
	char why[RG_ERRLEN];
	size_t i;

	struct slot sl;

	memset(s, 0, sizeof *s);
	for (i = 0; config_slot(i, &sl) == 0; i++)
		config_set_value(sl.k, (char *)s + sl.base, sl.k->def, why, sizeof why);
}

/* n bytes from the config's arena (aligned for struct entry), or NULL. */
static void *config_alloc(struct config *c, size_t n)
{
	struct block *b = c->arena;

	n = (n + _Alignof(struct entry) - 1) / _Alignof(struct entry) * _Alignof(struct entry);
	if (!b || b->size - b->used < n) {
		size_t size = n > ARENA_BLOCK_BYTES ? n : ARENA_BLOCK_BYTES;

		if (!(b = malloc(offsetof(struct block, data) + size)))
			return NULL;
		b->next = c->arena;
		b->used = 0;
		b->size = size;
		c->arena = b;
	}
	b->used += n;
	return b->data + b->used - n;
}

/* Keep key sl of p->scratch (just parsed) in section sec, compacted as struct entry says. */
static int config_keep(struct parser *p, struct section *sec, const struct slot *sl)
{
	const struct config_key *k = sl->k;
	const unsigned char *field = (const unsigned char *)&p->scratch + sl->base + k->off;
	size_t len = k->size;
	struct entry *e;

	if (k->type == CONFIG_UINT || k->type == CONFIG_DUR || k->type == CONFIG_MS || k->type == CONFIG_BOOL || k->type == CONFIG_SOURCES)
		while (len && !field[len - 1])
			len--;
	else
		len = strlen((const char *)field); /* the zeroes after it are the field's tail */
	if (!(e = config_alloc(p->c, sizeof *e + len)))
		return RG_CONFIG;
	e->key = sl->idx;
	e->len = (unsigned)len;
	memcpy(e->bytes, field, len);
	e->next = sec->entries;
	sec->entries = e;
	return RG_FOUND;
}

/* Copy the double-quoted value at s (\" and \\ escaped) into out; past the quote, or NULL. */
static const char *config_unquote(const char *s, char *out, size_t size)
{
	size_t o = 0;

	for (s++; *s && *s != '"'; s++) {
		if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
			s++;
		if (o + 1 >= size)
			return NULL;
		out[o++] = *s;
	}
	if (*s != '"')
		return NULL;
	out[o] = '\0';
	return s + 1;
}

static int config_parse_file(struct parser *p, const char *path, int depth, long cur, size_t from_fi,
			     unsigned from_line);

/* Remember what path looked like (st NULL: it did not exist), for config_changed(). */
static int config_stamp(struct config *c, const char *path, const struct stat *st)
{
	struct config_stamp *a, *x;

	if (!(a = realloc(c->stamps, (c->nstamps + 1) * sizeof *a)))
		return -1;
	c->stamps = a;
	x = &a[c->nstamps];
	memset(x, 0, sizeof *x);
	if (!(x->path = strdup(path)))
		return -1;
	if (st) {
		x->dev = st->st_dev;
		x->ino = st->st_ino;
		x->size = st->st_size;
		x->mtim = st->st_mtim;
		x->ctim = st->st_ctim;
	}
	c->nstamps++;
	return 0;
}

/* Sort glob results bytewise, whatever the locale. */
static int config_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "include = GLOB" in file fi: relative to that file, matches in sorted order. */
static int config_include(struct parser *p, size_t fi, unsigned line, const char *pat, int depth, long cur)
{
	const char *file = p->files[fi], *slash = strrchr(file, '/');
	char full[RG_PATH_MAX], show[104];
	glob_t g;
	size_t i, n;
	int rc = RG_FOUND, grc;

	if (!*pat)
		return config_fail_at(p, fi, line, "include needs a file name or pattern");
	if (depth >= INCLUDE_DEPTH_MAX)
		return config_fail_at(p, fi, line, "includes nested deeper than %d", INCLUDE_DEPTH_MAX);
	if ((pat[0] != '/' && slash) ? util_snprintf(full, sizeof full, "%.*s/%s", (int)(slash - file), file, pat)
	    : util_snprintf(full, sizeof full, "%s", pat))
		return config_fail_at(p, fi, line, "include path too long");
	/* Why: a file added to or removed from a globbed folder changes the config too. */
	if ((slash = strrchr(full, '/')) && strpbrk(slash, "*?[") && !memchr(full, '*', (size_t)(slash - full)) &&
	    !memchr(full, '?', (size_t)(slash - full)) && !memchr(full, '[', (size_t)(slash - full))) {
		struct stat dst;
		char dir[RG_PATH_MAX];

		util_snprintf(dir, sizeof dir, "%.*s", slash == full ? 1 : (int)(slash - full), full);
		if (config_stamp(p->c, dir, stat(dir, &dst) ? NULL : &dst))
			return config_fail_at(p, fi, line, "out of memory");
	}
	memset(&g, 0, sizeof g);
	grc = glob(full, GLOB_NOSORT | GLOB_MARK, NULL, &g);
	if (grc && grc != GLOB_NOMATCH)
		rc = config_fail_at(p, fi, line, "include \"%s\": cannot expand", config_shown(show, pat, strlen(pat)));
	if (!grc) {
		qsort(g.gl_pathv, g.gl_pathc, sizeof *g.gl_pathv, config_cmp_str);
		for (i = 0; rc == RG_FOUND && i < g.gl_pathc; i++)
			if ((n = strlen(g.gl_pathv[i])) && g.gl_pathv[i][n - 1] != '/') /* skip folders */
				rc = config_parse_file(p, g.gl_pathv[i], depth + 1, cur, fi, line);
	}
	globfree(&g);
	return rc;
}

/* "[domain NAME]" or "[domain *.SUFFIX]": opens a new section, which becomes *cur. */
static int config_parse_header(struct parser *p, size_t fi, unsigned line, char *s, long *cur)
{
	struct config *c = p->c;
	char *end = strchr(s, ']'), *name, *e, *copy, show[104];
	struct section *sec;
	size_t n;

	if (end)
		e = end + 1 + strspn(end + 1, " \t");
	if (!end || (*e && *e != '#'))
		return config_fail_at(p, fi, line, "bad section header (expected [domain NAME])");
	*end = '\0';
	s += 1 + strspn(s + 1, " \t");
	/* "domain" and its blank are checked before anything past them is read. */
	if (strncmp(s, "domain", 6) || (s[6] != ' ' && s[6] != '\t'))
		return config_fail_at(p, fi, line, "bad section header (expected [domain NAME])");
	name = s + 6 + strspn(s + 6, " \t");
	e = name + strcspn(name, " \t");
	if (!*name || e[strspn(e, " \t")])
		return config_fail_at(p, fi, line, "bad section header (expected [domain NAME])");
	*e = '\0';
	util_lower(name);
	if (config_bad_domain(strncmp(name, "*.", 2) ? name : name + 2))
		return config_fail_at(p, fi, line, "bad domain \"%s\" in section header",
				      config_shown(show, name, strlen(name)));
	if (c->nsec == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;

		if (!(sec = realloc(c->sec, cap * sizeof *sec)))
			return config_fail_at(p, fi, line, "out of memory");
		c->sec = sec;
		c->cap = cap;
	}
	n = strlen(name) + 1;
	if (!(copy = config_alloc(c, n)))
		return config_fail_at(p, fi, line, "out of memory");
	memcpy(copy, name, n);
	sec = &c->sec[c->nsec];
	*sec = (struct section){ .name = copy, .file = (unsigned)fi, .line = line, .seq = (unsigned)c->nsec };
	*cur = (long)c->nsec++;
	return RG_FOUND;
}

/* Note that line `line` of file fi set a key of member m in part (0 global, 1 + seq). */
static int config_where(struct parser *p, size_t part, size_t m, size_t fi, unsigned line)
{
	size_t need = (part + 1) * config_members_n, n;
	struct config_where *w;

	if (need > p->nwhere) {
		n = need > 2 * p->nwhere ? need : 2 * p->nwhere;
		if (!(w = realloc(p->where, n * sizeof *w)))
			return -1;
		memset(w + p->nwhere, 0, (n - p->nwhere) * sizeof *w);
		p->where = w;
		p->nwhere = n;
	}
	p->where[part * config_members_n + m] = (struct config_where){ (unsigned)fi, line };
	return 0;
}

/* Write the entries of sec that belong to member m (-1: all) over out; or, with from,
 * put those fields back as they are in from. */
static void config_apply_section(const struct section *sec, int m, struct settings *out,
				 const struct settings *from)
{
	const struct entry *e;
	struct slot sl;
	char *field;

	for (e = sec ? sec->entries : NULL; e; e = e->next) {
		if (config_slot(e->key, &sl) || (m >= 0 && sl.member != m))
			continue;
		field = (char *)out + sl.base + sl.k->off;
		if (from) {
			memcpy(field, (const char *)from + sl.base + sl.k->off, sl.k->size);
			continue;
		}
		memcpy(field, e->bytes, e->len);
		memset(field + e->len, 0, sl.k->size - e->len);
	}
}

/* Each member's check() on each part that set one of its keys: the global settings, and
 * a section's as they apply to its domain (the global ones, its own over them). */
static int config_check_parts(struct parser *p)
{
	const struct config *c = p->c;
	const struct config_member *m;
	const struct config_where *w;
	const struct section *sec;
	char why[RG_ERRLEN];
	size_t i, j;
	int rc;

	for (j = 0; j < config_members_n; j++) {
		m = &config_members[j];
		if (!m->set->check)
			continue;
		w = p->nwhere > j ? &p->where[j] : NULL;
		if (w && w->line && m->set->check((const char *)&c->global + m->off, why, sizeof why) != RG_FOUND)
			return config_fail_at(p, w->file, w->line, "%s: %s", m->set->owner, why);
		/* The member's global settings once; each section's own fields over them, put
		 * back after its check (cheaper than a copy per section). */
		memcpy((char *)&p->scratch + m->off, (const char *)&c->global + m->off, m->size);
		for (i = 0; i < c->nsec; i++) {
			sec = &c->sec[i];
			if ((1 + (size_t)sec->seq) * config_members_n + j >= p->nwhere)
				continue;
			w = &p->where[(1 + (size_t)sec->seq) * config_members_n + j];
			if (!w->line)
				continue;
			config_apply_section(sec, (int)j, &p->scratch, NULL);
			rc = m->set->check((const char *)&p->scratch + m->off, why, sizeof why);
			config_apply_section(sec, (int)j, &p->scratch, &c->global);
			if (rc != RG_FOUND)
				return config_fail_at(p, w->file, w->line, "%s in [domain %s]: %s", m->set->owner,
						      sec->name, why);
		}
	}
	return RG_FOUND;
}

/* One line (no line end, no NUL inside): comment, section header, include or key. */
static int config_parse_line(struct parser *p, size_t fi, unsigned line, char *s, size_t len, int depth,
			     long *cur)
{
	char val[LINE_BYTES_MAX + 1], why[RG_ERRLEN], show[104], *key, *keyend, *v, *e;
	struct section *sec = *cur >= 0 ? &p->c->sec[*cur] : NULL;
	uint64_t *set = sec ? sec->set : p->c->global_set, bit;
	size_t word;
	const char *end;
	const struct config_key *k;
	struct slot sl;
	size_t i;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
			return config_fail_at(p, fi, line, "control byte 0x%02x in line", (unsigned char)s[i]);
	s += strspn(s, " \t");
	if (!*s || *s == '#')
		return RG_FOUND;
	if (*s == '[')
		return config_parse_header(p, fi, line, s, cur);
	key = s;
	keyend = s + strcspn(s, " \t=");
	v = keyend + strspn(keyend, " \t");
	if (*v != '=' || keyend == key)
		return config_fail_at(p, fi, line, "expected \"key = value\"");
	v++;
	*keyend = '\0';
	v += strspn(v, " \t");
	if (*v == '"') {
		if (!(end = config_unquote(v, val, sizeof val)))
			return config_fail_at(p, fi, line, "key \"%s\": unterminated quote",
					      config_shown(show, key, strlen(key)));
		end += strspn(end, " \t");
		if (*end && *end != '#')
			return config_fail_at(p, fi, line, "key \"%s\": text after the closing quote",
					      config_shown(show, key, strlen(key)));
	} else {
		for (e = v; *e && !(*e == '#' && (e[-1] == ' ' || e[-1] == '\t')); e++)
			;
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		memcpy(val, v, (size_t)(e - v));
		val[e - v] = '\0';
	}
	if (!strcmp(key, "include"))
		return config_include(p, fi, line, val, depth, *cur);
	if (config_find_key(key, &sl))
		return config_fail_at(p, fi, line, "unknown key \"%s\"", config_shown(show, key, strlen(key)));
	k = sl.k;
	if (sec && k->global_only)
		return config_fail_at(p, fi, line, "key \"%s\" is global only, not allowed in [domain %s]",
				      k->name, sec->name);
	word = sl.idx / 64;
	bit = (uint64_t)1 << (sl.idx % 64);
	if (set[word] & bit)
		return config_fail_at(p, fi, line, "key \"%s\" given twice", k->name);
	if (config_set_value(k, (char *)(sec ? &p->scratch : &p->c->global) + sl.base, val, why, sizeof why))
		return config_fail_at(p, fi, line, "key \"%s\": %s", k->name, why);
	if (sec && config_keep(p, sec, &sl))
		return config_fail_at(p, fi, line, "out of memory");
	if (sl.member >= 0 && config_where(p, sec ? 1 + sec->seq : 0, (size_t)sl.member, fi, line))
		return config_fail_at(p, fi, line, "out of memory");
	set[word] |= bit;
	return RG_FOUND;
}

/* Read one file; cur is the part it starts in (-1 global, else a section index);
 * from_line > 0: the include line (of file from_fi) that names it. */
static int config_parse_file(struct parser *p, const char *path, int depth, long cur, size_t from_fi,
			     unsigned from_line)
{
	struct linefile lf;
	struct stat st;
	int stamped;
	char **files, *line, why[RG_ERRLEN];
	size_t len, fi;
	int rc = RG_FOUND, more;

	/* Why stat before reading: the stamp is what later processes compare (preload); a
	 * file replaced after the stat then looks changed at the next check, never the reverse. */
	stamped = stat(path, &st) == 0;
	/* Through linefile: an include naming a FIFO or a device is refused, never read. */
	if (linefile_open(&lf, path, CONFIG_FILE_BYTES_MAX, LINE_BYTES_MAX, why, sizeof why) != RG_FOUND)
		return from_line ? config_fail_at(p, from_fi, from_line, "include: %s", why)
				 : config_fail(p->err, p->errlen, "%s", why);
	if (!stamped || config_stamp(p->c, path, &st)) {
		linefile_close(&lf);
		return config_fail(p->err, p->errlen, "%s: cannot record its identity", path);
	}
	if (!(files = realloc(p->files, (p->nfiles + 1) * sizeof *files))) {
		linefile_close(&lf);
		return config_fail(p->err, p->errlen, "%s: out of memory", path);
	}
	p->files = files;
	if (!(files[p->nfiles] = strdup(path))) {
		linefile_close(&lf);
		return config_fail(p->err, p->errlen, "%s: out of memory", path);
	}
	fi = p->nfiles++;
	while ((more = linefile_next(&lf, &line, &len, p->err, p->errlen)) > 0)
		if ((rc = config_parse_line(p, fi, lf.line, line, len, depth, &cur)) != RG_FOUND)
			break;
	if (more < 0)
		rc = RG_CONFIG;
	linefile_close(&lf);
	return rc;
}

/* Exact sections first, sorted by name (then by order of appearance); then wildcards. */
static int config_cmp_section(const void *a, const void *b)
{
	const struct section *x = a, *y = b;
	int r = (x->name[0] == '*') - (y->name[0] == '*');

	if (!r)
		r = strcmp(x->name, y->name);
	return r ? r : (x->seq > y->seq) - (x->seq < y->seq);
}

/* An empty config (defaults only), for callers that run without a file. */
struct config *config_new(void)
{
	struct config *c = calloc(1, sizeof *c);

	if (c)
		config_defaults(&c->global);
	return c;
}

/* Read path and its includes; sort the sections and refuse duplicate ones. */
int config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	struct parser p = { .err = err, .errlen = errlen };
	struct section *sec;
	struct slot sl;
	struct config *c;
	size_t i;
	int rc;

	*out = NULL;
	if (!path || !*path)
		path = CONFIG_DEFAULT_PATH;
	if (!(p.c = c = config_new()))
		return config_fail(err, errlen, "%s: out of memory", path);
	if (util_strlcpy(c->path, path, sizeof c->path))
		rc = config_fail(err, errlen, "%.100s...: path too long", path);
	else if (config_slot(KEYSET_WORDS * 64, &sl) == 0 || config_members_n > 32)
		rc = config_fail(err, errlen, "internal: more keys than KEYSET_WORDS holds, or members than 32");
	else
		rc = config_parse_file(&p, path, 0, -1, 0, 0);
	if (rc == RG_FOUND && c->nsec) {
		if ((sec = realloc(c->sec, c->nsec * sizeof *sec))) { /* give back the spare room */
			c->sec = sec;
			c->cap = c->nsec;
		}
		qsort(c->sec, c->nsec, sizeof *c->sec, config_cmp_section);
		for (i = 0; i < c->nsec && c->sec[i].name[0] != '*'; i++)
			;
		c->nexact = i;
		for (i = 1, sec = c->sec; rc == RG_FOUND && i < c->nsec; i++)
			if (!strcmp(sec[i].name, sec[i - 1].name))
				rc = config_fail_at(&p, sec[i].file, sec[i].line, "duplicate section [domain %s] "
						    "(first at %s:%u)", sec[i].name, p.files[sec[i - 1].file], sec[i - 1].line);
	}
	if (rc == RG_FOUND)
		rc = config_check_parts(&p);
	for (i = 0; i < p.nfiles; i++)
		free(p.files[i]);
	free(p.files);
	free(p.where);
	if (rc != RG_FOUND) {
		config_free(c);
		return rc;
	}
	*out = c;
	return RG_FOUND;
}

/* bsearch comparison: a domain against a section name. */
static int config_cmp_name(const void *key, const void *elem)
{
	return strcmp(key, ((const struct section *)elem)->name);
}

/* Global settings, overridden by the exact section or else the longest matching wildcard. */
void config_for_domain(const struct config *c, const char *domain, struct settings *out)
{
	char d[RG_DOMAIN_MAX + 1];
	const struct section *best;
	size_t i, n, sl, best_len = 0;

	if (!c) {
		config_defaults(out);
		return;
	}
	*out = c->global;
	if (!domain || !*domain || !c->nsec || util_strlcpy(d, domain, sizeof d))
		return;
	util_lower(d);
	n = strlen(d);
	best = bsearch(d, c->sec, c->nexact, sizeof *c->sec, config_cmp_name);
	if (!best) {
		for (i = c->nexact; i < c->nsec; i++) {
			const char *zone = c->sec[i].name + 2; /* "*.example.org": under example.org */

			sl = strlen(zone);
			if (sl > best_len && address_in_zone(d, n, zone, sl, 0)) {
				best = &c->sec[i];
				best_len = sl;
			}
		}
	}
	config_apply_section(best, -1, out, NULL);
}

/* The next "key=value" pair of an options string: 1, 0 at the end, -1 with err set. */
int config_next_option(const char **pp, char *key, size_t ksz, char *val, size_t vsz,
			      char *err, size_t errlen)
{
	const char *s = *pp + strspn(*pp, WS), *end;
	size_t kn = strcspn(s, "=" WS), vn;
	char show[104];

	if (!*s)
		return 0;
	config_shown(show, s, kn);
	if (s[kn] != '=' || kn == 0)
		return config_fail(err, errlen, "option \"%s\": expected key=value", show), -1;
	if (kn >= ksz)
		return config_fail(err, errlen, "option \"%s\": unknown key", show), -1;
	memcpy(key, s, kn);
	key[kn] = '\0';
	s += kn + 1;
	if (*s == '"') {
		if (!(end = config_unquote(s, val, vsz)) || (*end && !strchr(WS, *end)))
			return config_fail(err, errlen, "option \"%s\": bad quoting or value too long", show), -1;
	} else {
		if ((vn = strcspn(s, WS)) >= vsz)
			return config_fail(err, errlen, "option \"%s\": value too long", show), -1;
		memcpy(val, s, vn);
		val[vn] = '\0';
		end = s + vn;
	}
	*pp = end;
	return 1;
}

/* Apply "key=value ..." overrides to s, all or nothing; of a key given twice the last wins. */
int config_apply_options(struct settings *s, const char *options, char *err, size_t errlen)
{
	char key[64], val[LINE_BYTES_MAX + 1], why[RG_ERRLEN];
	const struct config_member *m;
	unsigned touched = 0;          /* members whose keys the options set */
	struct settings tmp;
	struct slot sl;
	int r, copied = 0;
	size_t j;

	if (!options)
		return RG_FOUND;
	while ((r = config_next_option(&options, key, sizeof key, val, sizeof val, err, errlen)) > 0) {
		if (!strcmp(key, "config"))
			continue;
		if (!strcmp(key, "include"))
			return config_fail(err, errlen, "option \"include\": not allowed in options");
		if (config_find_key(key, &sl))
			return config_fail(err, errlen, "option \"%s\": unknown key", config_shown(why, key, strlen(key)));
		/* Why copied only now: most calls pass config=PATH alone; the settings are 14 KB
		 * and each page of them copied is a page fault in a fresh Exim process. */
		if (!copied) {
			tmp = *s;
			copied = 1;
		}
		if (config_set_value(sl.k, (char *)&tmp + sl.base, val, why, sizeof why))
			return config_fail(err, errlen, "option \"%s\": %s", sl.k->name, why);
		if (sl.member >= 0)
			touched |= 1u << sl.member;
	}
	if (r < 0)
		return RG_CONFIG;
	for (j = 0; j < config_members_n; j++) {
		m = &config_members[j];
		if ((touched >> j & 1) && m->set->check &&
		    m->set->check((const char *)&tmp + m->off, why, sizeof why) != RG_FOUND)
			return config_fail(err, errlen, "options: %s: %s", m->set->owner, why);
	}
	if (copied)
		*s = tmp;
	return RG_FOUND;
}

/* Extract "config=PATH" from options ("" when absent). */
int config_option_path(const char *options, char *path, size_t size, char *err, size_t errlen)
{
	char key[64], val[LINE_BYTES_MAX + 1];
	int r, seen = 0;
	size_t i;

	if (size)
		path[0] = '\0';
	if (!options)
		return RG_FOUND;
	while ((r = config_next_option(&options, key, sizeof key, val, sizeof val, err, errlen)) > 0) {
		if (strcmp(key, "config"))
			continue;
		if (seen++)
			return config_fail(err, errlen, "option \"config\": given twice");
		for (i = 0; val[i]; i++)
			if ((unsigned char)val[i] < 0x20 || val[i] == 0x7f)
				return config_fail(err, errlen, "option \"config\": control byte in path");
		if (!val[0] || util_strlcpy(path, val, size)) {
			if (size)
				path[0] = '\0';
			return config_fail(err, errlen, "option \"config\": %s", val[0] ? "path too long" : "empty path");
		}
	}
	return r < 0 ? RG_CONFIG : RG_FOUND;
}

/* The path the config was read from ("" for config_new()). */
const char *config_path(const struct config *c)
{
	return c ? c->path : "";
}

/* Number of [domain] sections. */
size_t config_domain_count(const struct config *c)
{
	return c ? c->nsec : 0;
}

/* Name of section i: exact ones in sorted order, then wildcards; NULL past the end. */
const char *config_domain_name(const struct config *c, size_t i)
{
	return c && i < c->nsec ? c->sec[i].name : NULL;
}

/* Whether name is one of s->sources. */
int config_has_source(const struct settings *s, const char *name)
{
	size_t i;

	for (i = 0; s && name && i < CONFIG_SOURCES_MAX && s->sources[i][0]; i++)
		if (!strcmp(s->sources[i], name))
			return 1;
	return 0;
}

/* Free a config from config_load() or config_new(), its arena with it. */
void config_free(struct config *c)
{
	struct block *b;
	size_t i;

	if (!c)
		return;
	while ((b = c->arena)) {
		c->arena = b->next;
		free(b);
	}
	free(c->sec);
	for (i = 0; i < c->nstamps; i++)
		free(c->stamps[i].path);
	free(c->stamps);
	free(c);
}

/* Whether a file the config was read from (or a globbed include folder) changed since. */
RG_HOT int config_changed(const struct config *c)
{
	const struct config_stamp *x;
	struct stat st;
	size_t i;

	for (i = 0; c && i < c->nstamps; i++) {
		x = &c->stamps[i];
		if (stat(x->path, &st))
			st.st_ino = 0;
		if (st.st_ino != x->ino)
			return 1;
		if (x->ino && (st.st_dev != x->dev || st.st_size != x->size ||
			       st.st_mtim.tv_sec != x->mtim.tv_sec || st.st_mtim.tv_nsec != x->mtim.tv_nsec ||
			       st.st_ctim.tv_sec != x->ctim.tv_sec || st.st_ctim.tv_nsec != x->ctim.tv_nsec))
			return 1;
	}
	return 0;
}

/* Whether a [domain] section applies to domain: config_for_domain() would change the
 * global settings. Why: a process that asks for a domain without a section can use the
 * global settings it already holds instead of copying them (engine.c). */
RG_HOT int config_domain_has_section(const struct config *c, const char *domain)
{
	char d[RG_DOMAIN_MAX + 1];
	size_t i, n;

	if (!c || !domain || !*domain || !c->nsec || util_strlcpy(d, domain, sizeof d))
		return 0;
	util_lower(d);
	if (bsearch(d, c->sec, c->nexact, sizeof *c->sec, config_cmp_name))
		return 1;
	n = strlen(d);
	for (i = c->nexact; i < c->nsec; i++)
		if (address_in_zone(d, n, c->sec[i].name + 2, strlen(c->sec[i].name + 2), 0))
			return 1;
	return 0;
}
