/*
 * dynamic.c - dial-up / dynamic pool names: the built-in rule and the operator's
 * dynamic_patterns file (format and reasoning in dynamic.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "dynamic.h"
#include "linefile.h"

#define DYNAMIC_LABELS_MAX 64
#define DYNAMIC_NUMS_MAX 64
#define DYNAMIC_LINE_MAX 1024

/* Pool words: an alphabetic run of a label that starts with one of these... */
static const char *const dynamic_pool_prefix[] = {
	"dyn", "dial", "ppp", "dhcp", "pool", "client", "cable", "broadband", "cust", "catv",
	"resid", "modem", NULL,
};
/* ...or contains this (adsl, vdsl, xdsl)... */
static const char *const dynamic_pool_infix[] = { "dsl", NULL };
/* ...or is exactly one of these. */
static const char *const dynamic_pool_exact[] = {
	"dip", "cpe", "hsd", "res", "ftth", "fttb", "fttc", "fttx", "user", "users", "home", "nat",
	"bb", "dialin", "dhcpd", "wimax", NULL,
};
/* Server words: a run that starts with one of these says "a server", never dynamic... */
static const char *const dynamic_server_prefix[] = { "static", "mail", "smtp", "relay", "fixed", NULL };
/* ...or is exactly one of these. */
static const char *const dynamic_server_exact[] = { "mx", "mta", "fix", "ns", "www", "srv", NULL };

/* Whether word (length n) starts with or equals one of the list. */
static int dynamic_word_in(const char *w, size_t n, const char *const *prefix, const char *const *infix,
			   const char *const *exact)
{
	size_t i, k;

	for (i = 0; prefix && prefix[i]; i++)
		if (n >= (k = strlen(prefix[i])) && memcmp(w, prefix[i], k) == 0)
			return 1;
	for (i = 0; infix && infix[i]; i++)
		for (k = 0; k + strlen(infix[i]) <= n; k++)
			if (memcmp(w + k, infix[i], strlen(infix[i])) == 0)
				return 1;
	for (i = 0; exact && exact[i]; i++)
		if (n == strlen(exact[i]) && memcmp(w, exact[i], n) == 0)
			return 1;
	return 0;
}

/* Whether some alphabetic run of labels [from, to) of name is in the word lists; the
 * word found goes to hit. */
static RG_HOT int dynamic_words(const char *name, size_t from, size_t to, const char *const *prefix,
			 const char *const *infix, const char *const *exact, char *hit, size_t hitlen)
{
	size_t label = 0;
	const char *p = name;

	while (*p && label < to) {
		if (*p == '.') {
			label++;
			p++;
			continue;
		}
		if (*p >= 'a' && *p <= 'z') {
			const char *w = p;

			while (*p >= 'a' && *p <= 'z')
				p++;
			if (label >= from && dynamic_word_in(w, (size_t)(p - w), prefix, infix, exact)) {
				snprintf(hit, hitlen, "%.*s", (int)(p - w > 30 ? 30 : p - w), w);
				return 1;
			}
			continue;
		}
		p++;
	}
	return 0;
}

/* IPv4: the octets in decimal as consecutive numbers (4, or the last 3), in either
 * order; a 12-digit zero-padded run; or the 8 hex digits. */
static RG_HOT int dynamic_has_ipv4(const char *name, const unsigned char *a, const char **how)
{
	unsigned nums[DYNAMIC_NUMS_MAX];
	char hex[9], pad[13];
	size_t n = 0, i;
	const char *p = name;

	snprintf(hex, sizeof hex, "%02x%02x%02x%02x", a[0], a[1], a[2], a[3]);
	snprintf(pad, sizeof pad, "%03u%03u%03u%03u", a[0], a[1], a[2], a[3]);
	if (strstr(name, hex) != NULL) {
		*how = "the address in hex";
		return 1;
	}
	while (*p && n < DYNAMIC_NUMS_MAX) {
		if (*p >= '0' && *p <= '9') {
			const char *d = p;
			unsigned v = 0;

			while (*p >= '0' && *p <= '9')
				p++;
			if (p - d == 12 && memcmp(d, pad, 12) == 0) {
				*how = "the address zero-padded";
				return 1;
			}
			for (; d < p && v < 1000; d++)
				v = v * 10 + (unsigned)(*d - '0');
			/* A run over 3 digits is no octet: it breaks a sequence. */
			nums[n++] = (p - d > 0 || v > 255) ? 1000 : v;
			continue;
		}
		p++;
	}
	for (i = 0; i + 3 <= n; i++) {
		int fwd4 = i + 4 <= n && nums[i] == a[0] && nums[i + 1] == a[1] && nums[i + 2] == a[2] &&
			   nums[i + 3] == a[3];
		int rev4 = i + 4 <= n && nums[i] == a[3] && nums[i + 1] == a[2] && nums[i + 2] == a[1] &&
			   nums[i + 3] == a[0];
		int fwd3 = nums[i] == a[1] && nums[i + 1] == a[2] && nums[i + 2] == a[3];
		int rev3 = nums[i] == a[3] && nums[i + 1] == a[2] && nums[i + 2] == a[1];

		if (fwd4 || rev4 || fwd3 || rev3) {
			*how = fwd4 || rev4 ? "the address's four octets" : "the address's last three octets";
			return 1;
		}
	}
	return 0;
}

/* IPv6: four consecutive 16-bit groups as hex words of one label ("2a02-8108-1d40-5b00"),
 * or the first 12 or more nibbles of the address in one run ("p200300e1c70f..."). */
static int dynamic_has_ipv6(const char *name, const unsigned char *a, const char **how)
{
	unsigned g[8], words[DYNAMIC_NUMS_MAX];
	char nib[33];
	size_t i, k, n = 0;
	const char *p = name;

	for (i = 0; i < 8; i++)
		g[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
	for (i = 0; i < 16; i++)
		snprintf(nib + 2 * i, 3, "%02x", a[i]);
	nib[12] = '\0';
	if (strstr(name, nib) != NULL) {
		*how = "the address's first nibbles";
		return 1;
	}
	/* Hex words between '-' and '_'; a label boundary breaks a sequence. */
	while (*p && n + 1 < DYNAMIC_NUMS_MAX) {
		size_t len = strcspn(p, "-_."), j;
		unsigned v = 0;
		int hexword = len >= 1 && len <= 4;

		for (j = 0; hexword && j < len; j++) {
			char ch = p[j];

			if (ch >= '0' && ch <= '9')
				v = v << 4 | (unsigned)(ch - '0');
			else if (ch >= 'a' && ch <= 'f')
				v = v << 4 | (unsigned)(ch - 'a' + 10);
			else
				hexword = 0;
		}
		words[n++] = hexword ? v : 0x10000;     /* 0x10000: no group, breaks a sequence */
		p += len;
		if (*p == '.')
			words[n++] = 0x10000;
		if (*p)
			p++;
	}
	for (i = 0; i + 4 <= n; i++)
		for (k = 0; k + 4 <= 8; k++)
			if (words[i] == g[k] && words[i + 1] == g[k + 1] && words[i + 2] == g[k + 2] &&
			    words[i + 3] == g[k + 3]) {
				*how = "four groups of the address";
				return 1;
			}
	return 0;
}

/* The built-in rule. */
RG_HOT int dynamic_builtin(const char *name, const unsigned char *addr, int family, char *why, size_t whylen)
{
	char lname[256], word[32];
	const char *how = NULL;
	size_t labels = 1, i;

	if (util_strlcpy(lname, name, sizeof lname) < 0)
		return 0;
	util_lower(lname);
	for (i = 0; lname[i]; i++)
		labels += lname[i] == '.';
	if (!(family == AF_INET ? dynamic_has_ipv4(lname, addr, &how) : dynamic_has_ipv6(lname, addr, &how)))
		return 0;
	/* Server words count outside the registered domain (the last two labels): an ISP
	 * called "mailnet" does not make its pool static. */
	if (dynamic_words(lname, 0, labels > 2 ? labels - 2 : labels - 1, dynamic_server_prefix, NULL,
			  dynamic_server_exact, word, sizeof word))
		return 0;
	/* Pool words anywhere but the top-level domain. */
	if (!dynamic_words(lname, 0, labels - 1, dynamic_pool_prefix, dynamic_pool_infix, dynamic_pool_exact,
			   word, sizeof word))
		return 0;
	if (why != NULL)
		snprintf(why, whylen, "built-in: %s and pool word \"%s\"", how, word);
	return 1;
}

/* ---------------------------------------------------------------- the patterns file */

/* Why these bounds: the file is read in every Exim process that runs an FCrDNS check; a
 * pattern (glibc's regcomp took over 4 GB for "a" and 25 "+") or a match (nested
 * quantifiers backtrack exponentially) must never take the process's memory or time.
 * PCRE2, which Exim itself uses, counts both. */
#define DYNAMIC_FILE_BYTES_MAX (1u << 20)
#define DYNAMIC_RULES_MAX 1000
#define DYNAMIC_COMPILE_BYTES_MAX (256u << 10)   /* per pattern */
#define DYNAMIC_MATCH_LIMIT 100000               /* backtracking steps per match */
#define DYNAMIC_DEPTH_LIMIT 1000
#define DYNAMIC_HEAP_LIMIT_KB 1024

struct dynamic_rule {
	int dynamic;          /* 1: "dynamic" line, 0: "static" line */
	unsigned line;
	pcre2_code *re;
};

static struct {
	char path[RG_PATH_MAX];
	struct stat st;       /* of the file as loaded: reloaded when it changes */
	struct dynamic_rule *rules;
	size_t n;
	int builtin;
	int loaded;
} dynamic_file;

/* Bytes handed out by dynamic_malloc for the pattern being compiled. */
static size_t dynamic_compile_bytes;

/* PCRE2's allocator while compiling: refuses past DYNAMIC_COMPILE_BYTES_MAX. */
static void *dynamic_malloc(size_t n, void *data)
{
	size_t *p;

	(void)data;
	if (n > DYNAMIC_COMPILE_BYTES_MAX || dynamic_compile_bytes + n > DYNAMIC_COMPILE_BYTES_MAX)
		return NULL;
	if ((p = malloc(n + sizeof *p)) == NULL)
		return NULL;
	*p = n;
	dynamic_compile_bytes += n;
	return p + 1;
}

/* Its free. */
static void dynamic_free(void *ptr, void *data)
{
	size_t *p = ptr;

	(void)data;
	if (p == NULL)
		return;
	p--;
	dynamic_compile_bytes -= *p < dynamic_compile_bytes ? *p : dynamic_compile_bytes;
	free(p);
}

/* Forget the loaded file. */
void dynamic_reset(void)
{
	size_t i;

	for (i = 0; i < dynamic_file.n; i++)
		pcre2_code_free(dynamic_file.rules[i].re);
	free(dynamic_file.rules);
	memset(&dynamic_file, 0, sizeof dynamic_file);
}

/* Compile one pattern with bounded memory; NULL with msg set on error. */
static pcre2_code *dynamic_compile(const char *rx, char *msg, size_t msglen)
{
	pcre2_general_context *g;
	pcre2_compile_context *cc;
	pcre2_code *re = NULL;
	PCRE2_SIZE off = 0;
	int ec = 0;

	g = pcre2_general_context_create(dynamic_malloc, dynamic_free, NULL);
	cc = g ? pcre2_compile_context_create(g) : NULL;
	if (cc == NULL) {
		util_snprintf(msg, msglen, "out of memory");
	} else {
		pcre2_set_parens_nest_limit(cc, 50);
		dynamic_compile_bytes = 0;
		re = pcre2_compile((PCRE2_SPTR)rx, PCRE2_ZERO_TERMINATED, PCRE2_CASELESS | PCRE2_NO_AUTO_CAPTURE,
				   &ec, &off, cc);
		if (re == NULL) {
			PCRE2_UCHAR text[120];

			if (ec == PCRE2_ERROR_HEAPLIMIT || (pcre2_get_error_message(ec, text, sizeof text) < 0))
				util_snprintf(msg, msglen, "too complex (over %u KB to compile)",
					      DYNAMIC_COMPILE_BYTES_MAX >> 10);
			else
				util_snprintf(msg, msglen, "%s at offset %zu", (char *)text, (size_t)off);
		}
	}
	pcre2_compile_context_free(cc);
	pcre2_general_context_free(g);
	return re;
}

/* Parse one line into the table; RG_CONFIG naming file:line. */
static int dynamic_line(const char *path, unsigned ln, char *line, size_t len, char *err, size_t errlen)
{
	char *kw, *rest, *end, msg[160];
	struct dynamic_rule *r;

	if (memchr(line, '\0', len) != NULL)
		return util_snprintf(err, errlen, "%s:%u: NUL byte in line", path, ln), RG_CONFIG;
	kw = line + strspn(line, " \t");
	end = kw + strlen(kw);
	while (end > kw && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	if (*kw == '\0' || *kw == '#')
		return RG_FOUND;
	rest = kw + strcspn(kw, " \t");
	if (*rest)
		*rest++ = '\0';
	rest += strspn(rest, " \t");
	if (strcmp(kw, "builtin") == 0) {
		if (strcmp(rest, "off") != 0 && strcmp(rest, "on") != 0)
			return util_snprintf(err, errlen, "%s:%u: \"builtin\" takes on or off", path, ln), RG_CONFIG;
		dynamic_file.builtin = strcmp(rest, "on") == 0;
		return RG_FOUND;
	}
	if (strcmp(kw, "dynamic") != 0 && strcmp(kw, "static") != 0) {
		util_sanitise(msg, 41, kw, strlen(kw));
		return util_snprintf(err, errlen, "%s:%u: unknown keyword \"%s\" (dynamic, static or builtin)",
				     path, ln, msg), RG_CONFIG;
	}
	if (*rest == '\0')
		return util_snprintf(err, errlen, "%s:%u: %s needs a regular expression", path, ln, kw), RG_CONFIG;
	if (dynamic_file.n >= DYNAMIC_RULES_MAX)
		return util_snprintf(err, errlen, "%s:%u: more than %d rules", path, ln, DYNAMIC_RULES_MAX), RG_CONFIG;
	r = realloc(dynamic_file.rules, (dynamic_file.n + 1) * sizeof *r);
	if (r == NULL)
		return util_snprintf(err, errlen, "%s: out of memory", path), RG_TEMPFAIL;
	dynamic_file.rules = r;
	r += dynamic_file.n;
	if ((r->re = dynamic_compile(rest, msg, sizeof msg)) == NULL)
		return util_snprintf(err, errlen, "%s:%u: bad regular expression: %s", path, ln, msg), RG_CONFIG;
	r->dynamic = kw[0] == 'd';
	r->line = ln;
	dynamic_file.n++;
	return RG_FOUND;
}

/* Load path (if not loaded, or changed on disk since). */
static int dynamic_load(const char *path, char *err, size_t errlen)
{
	struct linefile lf;
	struct stat st;
	char why[RG_ERRLEN], *line;
	size_t len;
	int rc = RG_FOUND, more;

	if (stat(path, &st) != 0)
		return util_snprintf(err, errlen, "dynamic_patterns %.200s: %s", path, strerror(errno)), RG_CONFIG;
	if (dynamic_file.loaded && strcmp(dynamic_file.path, path) == 0 && st.st_ino == dynamic_file.st.st_ino &&
	    st.st_size == dynamic_file.st.st_size && st.st_mtim.tv_sec == dynamic_file.st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == dynamic_file.st.st_mtim.tv_nsec)
		return RG_FOUND;
	dynamic_reset();
	if (util_strlcpy(dynamic_file.path, path, sizeof dynamic_file.path) < 0)
		return util_snprintf(err, errlen, "dynamic_patterns: path too long"), RG_CONFIG;
	if (linefile_open(&lf, path, DYNAMIC_FILE_BYTES_MAX, DYNAMIC_LINE_MAX, why, sizeof why) != RG_FOUND)
		return util_snprintf(err, errlen, "dynamic_patterns %s", why), RG_CONFIG;
	dynamic_file.builtin = 1;
	while (rc == RG_FOUND && (more = linefile_next(&lf, &line, &len, err, errlen)) != 0)
		rc = more < 0 ? RG_CONFIG : dynamic_line(path, lf.line, line, len, err, errlen);
	linefile_close(&lf);
	if (rc != RG_FOUND) {
		/* A bad file is never half-used: the check defers until it is fixed. */
		dynamic_reset();
		return rc;
	}
	dynamic_file.st = st;
	dynamic_file.loaded = 1;
	return RG_FOUND;
}

/* Match one rule within the step, depth and heap limits: 1 match, 0 none, -1 over a limit. */
static RG_HOT int dynamic_match(const pcre2_code *re, const char *name)
{
	static pcre2_match_context *mc;
	static pcre2_match_data *md;
	int rc;

	if (mc == NULL) {
		if ((mc = pcre2_match_context_create(NULL)) == NULL)
			return -1;
		pcre2_set_match_limit(mc, DYNAMIC_MATCH_LIMIT);
		pcre2_set_depth_limit(mc, DYNAMIC_DEPTH_LIMIT);
		pcre2_set_heap_limit(mc, DYNAMIC_HEAP_LIMIT_KB);
	}
	if (md == NULL && (md = pcre2_match_data_create(1, NULL)) == NULL)
		return -1;
	rc = pcre2_match(re, (PCRE2_SPTR)name, PCRE2_ZERO_TERMINATED, 0, 0, md, mc);
	return rc >= 0 ? 1 : rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

/* The rule in force for name. */
RG_HOT int dynamic_check(const char *name, const unsigned char *addr, int family, const char *path,
		  char *why, size_t whylen, char *err, size_t errlen)
{
	char lname[256];
	size_t i;
	int rc, m;

	if (path == NULL || path[0] == '\0')
		return dynamic_builtin(name, addr, family, why, whylen) ? RG_FOUND : RG_NOTFOUND;
	if ((rc = dynamic_load(path, err, errlen)) != RG_FOUND)
		return rc;
	if (util_strlcpy(lname, name, sizeof lname) < 0)
		return RG_NOTFOUND;
	util_lower(lname);
	for (i = 0; i < dynamic_file.n; i++) {
		if ((m = dynamic_match(dynamic_file.rules[i].re, lname)) < 0)
			/* A match that runs over its limits decides nothing: the check defers. */
			return util_snprintf(err, errlen, "%.100s:%u: regular expression over its match limits",
					     path, dynamic_file.rules[i].line), RG_CONFIG;
		if (m) {
			if (why != NULL)
				snprintf(why, whylen, "%.100s:%u", path, dynamic_file.rules[i].line);
			return dynamic_file.rules[i].dynamic ? RG_FOUND : RG_NOTFOUND;
		}
	}
	if (!dynamic_file.builtin)
		return RG_NOTFOUND;
	return dynamic_builtin(lname, addr, family, why, whylen) ? RG_FOUND : RG_NOTFOUND;
}
