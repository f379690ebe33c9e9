/*
 * rcptguard.c - the Exim lookup driver "rcptguard", for Exims built with
 * LOOKUP_MODULE_DIR: ${lookup rcptguard{FUNCTION ARG... [OPTIONS]}{$value}{no}}.
 *
 * Thin on purpose: it splits the query (yield_words), calls core/ and maps the outcome
 * each *_run() returns to Exim's lookup outcomes: RG_FOUND (pass, yes, skip) = OK (the
 * value is the yield line), RG_NOTFOUND (fail, no, greylisted) = FAIL, anything else DEFER
 * with the yield line as the error. The yield text is never parsed back. It links the shared engine (librcptguard.so.0)
 * that the dlfunc module of the same build also links, so both faces loaded in one Exim
 * process share one engine: one LMDB environment, one set of callout connections.
 */
#define DLFUNC_IMPL
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include "local_scan.h"
typedef struct gstring gstring;
#include "lookupapi.h"
#pragma GCC diagnostic pop

#include <string.h>

#include "fcrdns.h"
#include "greylist.h"
#include "rglog.h"
#include "verify.h"

#if LOOKUP_MODULE_INFO_MAGIC != 0x4c4d4935
#error "this Exim's lookup ABI (LOOKUP_MODULE_INFO_MAGIC) is not the 4.96 one this driver is written for"
#endif
#ifndef lookup_querystyle
#define lookup_querystyle 1          /* macros.h, not part of lookupapi.h */
#endif

#define RG_LOOKUP_QUERY_MAX 2048
#define RG_LOOKUP_WORDS 4

/* Exported by an Exim built with -export-dynamic (the only kind that loads modules). */
extern gstring *string_catn(gstring *, const uschar *, int);

/* Core log lines to Exim, as in the dlfunc module. */
static void rg_lookup_log(int level, const char *line)
{
	if (level == RGLOG_DEBUG)
		debug_printf("%s\n", line);
	else
		log_write(0, LOG_MAIN, "%s", line);
}

/* Nothing to open: the engine keeps its own per-process state. */
static void *rg_lookup_open(const uschar *filename, uschar **errmsg)
{
	static int handle;

	(void)filename;
	(void)errmsg;
	return &handle;
}

/* Answer a query. */
static int rg_lookup_find(void *handle, const uschar *filename, const uschar *query, int length,
			  uschar **result, uschar **errmsg, uint *do_cache, const uschar *opts)
{
	char q[RG_LOOKUP_QUERY_MAX], options[RG_LOOKUP_QUERY_MAX + 256];
	char *w[RG_LOOKUP_WORDS], *rest;
	struct yield y;
	int n, rc;

	(void)handle;
	(void)filename;
	rglog_set_hook(rg_lookup_log, debug_selector != 0);
	if (length < 0 || (size_t)length >= sizeof q) {
		*errmsg = string_copy((const uschar *)"rcptguard: query too long");
		return DEFER;
	}
	memcpy(q, query, (size_t)length);
	q[length] = '\0';
	n = yield_words(q, w, 2, &rest);
	if (n < 2) {
		*errmsg = string_copy((const uschar *)"rcptguard: query needs FUNCTION ARGUMENT");
		return DEFER;
	}
	/* Options from the query's tail, then from ${lookup rcptguard,OPTIONS{...}}. */
	if (util_snprintf(options, sizeof options, "%s %s", rest, opts ? (const char *)opts : "") < 0) {
		*errmsg = string_copy((const uschar *)"rcptguard: options too long");
		return DEFER;
	}
	if (strcmp(w[0], "recipient") == 0) {
		rc = verify_run_recipient(w[1], options, &y);
	} else if (strcmp(w[0], "sender") == 0) {
		/* skip (a sender that is not ours to check) is RG_FOUND: the mail goes on. */
		rc = verify_run_sender(w[1], options, &y);
	} else if (strcmp(w[0], "catchall") == 0) {
		rc = verify_run_catchall(w[1], options, &y);
	} else if (strcmp(w[0], "fcrdns") == 0) {
		rc = fcrdns_run(w[1], options, &y);
	} else if (strcmp(w[0], "greylist") == 0) {
		/* greylist IP SENDER RECIPIENT: found = may pass; not found = greylisted (defer
		 * the recipient); DEFER = could not decide. Never cached: each attempt counts. */
		*do_cache = 0;
		if (yield_words(rest, w + 2, 2, &rest) != 2 ||
		    util_snprintf(options, sizeof options, "%s %s", rest, opts ? (const char *)opts : "") < 0) {
			*errmsg = string_copy((const uschar *)"rcptguard: query needs greylist IP SENDER RECIPIENT");
			return DEFER;
		}
		rc = greylist_run(w[1], w[2], w[3], options, &y);
	} else if (strcmp(w[0], "quit") == 0) {
		/* End of the SMTP session (acl_smtp_quit / notquit): QUIT callout connections,
		 * as the dlfunc "quit" does; Exim's _exit() runs no clean-up of modules. */
		verify_shutdown();
		*do_cache = 0;
		*result = string_copy((const uschar *)"result=ok");
		return OK;
	} else {
		*errmsg = string_sprintf("rcptguard: unknown or unavailable function \"%.40s\"", w[0]);
		return DEFER;
	}
	if (rc == RG_FOUND) {
		*result = string_copy((const uschar *)y.line);
		return OK;
	}
	if (rc == RG_NOTFOUND)
		return FAIL;
	/* Nothing to stop here: Exim never caches a DEFER, so a temporary failure is asked
	 * again. */
	*errmsg = string_copy((const uschar *)y.line);
	return DEFER;
}

/* ${quote_rcptguard:VALUE}: one query word, whatever VALUE holds. */
static uschar *rg_lookup_quote(uschar *s, uschar *opt, unsigned idx)
{
	size_t i, n = strlen((const char *)s), extra = 0;
	int plain = n > 0;
	uschar *out, *o;

	if (opt != NULL)
		return NULL;                 /* no options recognised */
	for (i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			extra++;
		if (s[i] <= ' ' || s[i] == '"' || s[i] == '\\')
			plain = 0;
	}
	/* Quoted memory (even when nothing changes) tells Exim the value was quoted. */
	o = out = store_get_quoted((int)(n + extra + 3), s, idx);
	if (plain) {
		memcpy(o, s, n + 1);
		return out;
	}
	*o++ = '"';
	for (i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			*o++ = '\\';
		*o++ = s[i];
	}
	*o++ = '"';
	*o = '\0';
	return out;
}

/* For exim -d -bV. */
static gstring *rg_lookup_version_report(gstring *g)
{
	static const char line[] = "Library version: rcptguard lookup driver " RG_VERSION "\n";

	return string_catn(g, (const uschar *)line, (int)sizeof line - 1);
}

static lookup_info rg_lookup_info = {
	.name = US "rcptguard",
	.type = lookup_querystyle,
	.open = rg_lookup_open,
	.check = NULL,
	.find = rg_lookup_find,
	.close = NULL,
	.tidy = NULL,
	.quote = rg_lookup_quote,
	.version_report = rg_lookup_version_report,
};

static lookup_info *rg_lookup_list[] = { &rg_lookup_info };

__attribute__((visibility("default")))
lookup_module_info _lookup_module_info = { LOOKUP_MODULE_INFO_MAGIC, rg_lookup_list, 1 };
