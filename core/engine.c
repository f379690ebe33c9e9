/*
 * engine.c - per-process state: loaded configs, cached by path.
 *
 * A config is read at most once per process and path (an Exim process serves one SMTP
 * connection, so an edit takes effect at the next connection). A config that fails to
 * load is not cached: every check says why until it is fixed. A process that inherited a
 * parsed config from its parent (rcptguard's preload in Exim's daemon) checks once that
 * its files are unchanged (one stat() each) and reads them again when they changed.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "rglog.h"
#include "store.h"

#define ENGINE_CONFIGS 4

static struct {
	char path[RG_PATH_MAX];
	struct config *c;
	pid_t checked;          /* the process that last found its files unchanged */
} engine_cache[ENGINE_CONFIGS];

/* Why: every RCPT of a session asks for the same domain with the same options; the
 * settings are 14 KB and options must be parsed, so the last answer is kept. */
static struct {
	int valid;
	char domain[RG_DOMAIN_MAX + 1];
	char options[512];
	struct settings s;
} engine_last;

static const struct config *engine_current;     /* of the last successful call */

/* The loaded config for options (config=PATH, $RCPTGUARD_CONFIG, or the default); with
 * recheck, its files are stat()ed even when this process already did. */
static const struct config *engine_config(const char *options, int recheck, char *err, size_t errlen)
{
	char path[RG_PATH_MAX];
	const char *env;
	struct config *c;
	pid_t pid = getpid();
	size_t i;

	if (config_option_path(options, path, sizeof path, err, errlen) != RG_FOUND)
		return NULL;
	if (path[0] == '\0') {
		env = getenv("RCPTGUARD_CONFIG");
		if (util_strlcpy(path, env && *env ? env : CONFIG_DEFAULT_PATH, sizeof path) < 0) {
			util_snprintf(err, errlen, "RCPTGUARD_CONFIG too long");
			return NULL;
		}
	}
	for (i = 0; i < ENGINE_CONFIGS; i++)
		if (engine_cache[i].c != NULL && strcmp(engine_cache[i].path, path) == 0)
			break;
	if (i < ENGINE_CONFIGS) {
		if (engine_cache[i].checked == pid && !recheck)
			return engine_cache[i].c;
		if (!config_changed(engine_cache[i].c)) {
			engine_cache[i].checked = pid;
			return engine_cache[i].c;
		}
		/* Changed: drop it (and what points into it); read it again below. */
		if (engine_current == engine_cache[i].c)
			engine_current = NULL;
		engine_last.valid = 0;
		config_free(engine_cache[i].c);
		engine_cache[i].c = NULL;
	}
	if (config_load(path, &c, err, errlen) != RG_FOUND)
		return NULL;
	rglog(RGLOG_DEBUG, "rcptguard: config %.200s read in process %ld", path, (long)pid);
	for (i = 0; i < ENGINE_CONFIGS - 1 && engine_cache[i].c != NULL; i++)
		;
	/* Why: the evicted config may be the last successful call's; if this call then fails
	 * (bad options), engine_current must not point at freed memory. */
	if (engine_current == engine_cache[i].c)
		engine_current = NULL;
	config_free(engine_cache[i].c);
	memcpy(engine_cache[i].path, path, sizeof path);
	engine_cache[i].c = c;
	engine_cache[i].checked = pid;
	return c;
}

/* Read the options' config into this process, or check that the copy it holds is current,
 * and load what its store member will need (no connection). */
int engine_preload(const char *options, char *err, size_t errlen)
{
	const struct settings *s;

	/* Why: registers the fork hook here, once, instead of in every child (a page fault). */
	(void)util_fork_generation();
	if (engine_config(options ? options : "", 1, err, errlen) == NULL ||
	    engine_settings(options, "", &s, err, errlen) != RG_FOUND)
		return RG_CONFIG;
	/* Why: a shared store's client library is mapped here once and inherited by every
	 * SMTP process (dlopen is fork-safe; a connection is not, and none is made). */
	return store_preload(s, err, errlen);
}

/* Settings for domain under the options' config, with the options applied. */
int engine_settings(const char *options, const char *domain, const struct settings **out,
		    char *err, size_t errlen)
{
	const struct config *c;
	size_t olen;

	if (options == NULL)
		options = "";
	if (domain == NULL)
		domain = "";
	/* Why trimmed: the faces pass "MACRO $acl_var", often with blanks around; checks of
	 * one RCPT (recipient, greylist) must find the same settings, not rebuild them. */
	while (*options == ' ' || *options == '\t')
		options++;
	olen = strlen(options);
	while (olen > 0 && (options[olen - 1] == ' ' || options[olen - 1] == '\t'))
		olen--;
	if (engine_last.valid && strcmp(engine_last.domain, domain) == 0 &&
	    strlen(engine_last.options) == olen && memcmp(engine_last.options, options, olen) == 0) {
		*out = &engine_last.s;
		return RG_FOUND;
	}
	engine_last.valid = 0;
	if ((c = engine_config(options, 0, err, errlen)) == NULL)
		return RG_CONFIG;
	config_for_domain(c, domain, &engine_last.s);
	if (config_apply_options(&engine_last.s, options, err, errlen) != RG_FOUND)
		return RG_CONFIG;
	engine_current = c;
	engine_last.valid = olen < sizeof engine_last.options &&
			    util_strlcpy(engine_last.domain, domain, sizeof engine_last.domain) == 0;
	if (engine_last.valid) {
		memcpy(engine_last.options, options, olen);
		engine_last.options[olen] = '\0';
	}
	*out = &engine_last.s;
	return RG_FOUND;
}

/* The config of the last successful engine_settings() (NULL once it was evicted). */
const struct config *engine_current_config(void)
{
	return engine_current;
}
