/*
 * engine.c - per-process state: loaded configs, cached by path.
 *
 * A config is read at most once per process and path (an Exim process serves one SMTP
 * connection, so an edit takes effect at the next connection). A config that fails to
 * load is not cached: every check says why until it is fixed. A process that inherited a
 * parsed config from its parent (rcptguard's preload in Exim's daemon) checks once that
 * its files are unchanged (one stat() each) and reads them again when they changed.
 *
 * Why the care about writes: after fork() every page a connection's process writes for
 * the first time costs a page fault (a copy, or a fresh zeroed page), and on a busy
 * gateway those faults are most of what the module costs per connection. So the
 * settings of a domain without a [domain] section are the global ones, prepared once
 * (in the daemon, by preload) and handed out by pointer, not copied; and the daemon
 * writes nothing when a preload finds everything current.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "rglog.h"
#include "source.h"
#include "stats.h"
#include "store.h"

#define ENGINE_CONFIGS 4
#define ENGINE_OPTIONS_MAX 512

static struct {
	char path[RG_PATH_MAX];
	struct config *c;
} engine_cache[ENGINE_CONFIGS];

/* The config of the last successful call. Written only when it changes: the preload sets
 * it in the daemon, and a connection's process then only reads it. */
static struct {
	const struct config *current;
} engine_proc;

/* What every new process writes once: on util's per-process page, beside the store handle
 * and the fork generation, so that all of it costs one page fault after fork(). */
struct engine_checks {
	uint64_t checked[ENGINE_CONFIGS]; /* fork generation that last found engine_cache[i] unchanged */
};
static struct engine_checks *engine_checks_p;
static struct engine_checks engine_checks_static;   /* where util has no page left */

/* The per-process checks (taken in the daemon at the preload: children only read the pointer). */
static RG_HOT struct engine_checks *engine_checks(void)
{
	if (engine_checks_p == NULL && (engine_checks_p = util_proc_alloc(sizeof *engine_checks_p)) == NULL)
		engine_checks_p = &engine_checks_static;
	return engine_checks_p;
}

/* A config's global settings with one options string applied: what most calls need. */
static struct {
	const struct config *c;         /* NULL: none prepared */
	size_t slot;                    /* c's place in engine_cache */
	char options[ENGINE_OPTIONS_MAX];
	struct settings s;
} engine_base;

/* Why: a domain with a section of its own needs its own copy; every RCPT of a session
 * asks for the same domain with the same options, so the last one is kept. */
static struct {
	int valid;
	char domain[RG_DOMAIN_MAX + 1];
	char options[ENGINE_OPTIONS_MAX];
	struct settings s;
} engine_last;

/* Forget a config about to be freed, and everything that points into it. */
static void engine_forget(size_t i)
{
	if (engine_proc.current == engine_cache[i].c)
		engine_proc.current = NULL;
	if (engine_base.c == engine_cache[i].c)
		engine_base.c = NULL;
	engine_last.valid = 0;
	config_free(engine_cache[i].c);
	engine_cache[i].c = NULL;
}

/* The loaded config of path, read now if needed; with recheck, its files are stat()ed
 * even when this process already did. *slot: its place in the cache. */
static RG_HOT struct config *engine_config_path(const char *path, int recheck, size_t *slot, char *err, size_t errlen)
{
	struct config *c;
	/* Why not getpid(): it is a system call, and this runs for every RCPT. */
	uint64_t gen = util_fork_generation();
	uint64_t *checked = engine_checks()->checked;
	size_t i;

	for (i = 0; i < ENGINE_CONFIGS; i++)
		if (engine_cache[i].c != NULL && strcmp(engine_cache[i].path, path) == 0)
			break;
	if (i < ENGINE_CONFIGS) {
		*slot = i;
		if (checked[i] == gen && !recheck)
			return engine_cache[i].c;
		if (!config_changed(engine_cache[i].c)) {
			if (checked[i] != gen)
				checked[i] = gen;
			return engine_cache[i].c;
		}
		/* Changed: drop it (and what points into it); read it again below. */
		engine_forget(i);
	}
	if (config_load(path, &c, err, errlen) != RG_FOUND)
		return NULL;
	rglog(RGLOG_DEBUG, "rcptguard: config %.200s read in process %ld", path, (long)getpid());
	for (i = 0; i < ENGINE_CONFIGS - 1 && engine_cache[i].c != NULL; i++)
		;
	/* Why: the evicted config may be the last successful call's; if this call then fails
	 * (bad options), nothing may point at freed memory. */
	if (engine_cache[i].c != NULL)
		engine_forget(i);
	if (engine_cache[i].path != path)       /* path may be this slot's own (a reload) */
		util_strlcpy(engine_cache[i].path, path, sizeof engine_cache[i].path);
	engine_cache[i].c = c;
	checked[i] = gen;
	*slot = i;
	return c;
}

/* The loaded config for options (config=PATH, $RCPTGUARD_CONFIG, or the default). */
static struct config *engine_config(const char *options, int recheck, size_t *slot, char *err, size_t errlen)
{
	char path[RG_PATH_MAX];
	const char *env;

	if (config_option_path(options, path, sizeof path, err, errlen) != RG_FOUND)
		return NULL;
	if (path[0] == '\0') {
		env = getenv("RCPTGUARD_CONFIG");
		if (util_strlcpy(path, env && *env ? env : CONFIG_DEFAULT_PATH, sizeof path) < 0) {
			util_snprintf(err, errlen, "RCPTGUARD_CONFIG too long");
			return NULL;
		}
	}
	return engine_config_path(path, recheck, slot, err, errlen);
}

/* Prepare engine_base: c's global settings with options (olen bytes) applied. */
static int engine_base_make(const struct config *c, size_t slot, const char *options, size_t olen,
			    char *err, size_t errlen)
{
	engine_base.c = NULL;
	if (olen >= sizeof engine_base.options)
		return RG_FOUND;        /* too long to remember: callers copy, as before */
	memcpy(engine_base.options, options, olen);
	engine_base.options[olen] = '\0';
	config_for_domain(c, "", &engine_base.s);
	if (config_apply_options(&engine_base.s, engine_base.options, err, errlen) != RG_FOUND)
		return RG_CONFIG;
	engine_base.c = c;
	engine_base.slot = slot;
	return RG_FOUND;
}

/* Whether engine_base was prepared for these options (olen bytes). */
static RG_HOT int engine_base_for(const char *options, size_t olen)
{
	return engine_base.c != NULL && strlen(engine_base.options) == olen &&
	       memcmp(engine_base.options, options, olen) == 0;
}

/* Options without the blanks around them (the faces pass "MACRO $acl_var"). */
static RG_HOT const char *engine_trim(const char *options, size_t *olen)
{
	size_t n;

	if (options == NULL)
		options = "";
	while (*options == ' ' || *options == '\t')
		options++;
	n = strlen(options);
	while (n > 0 && (options[n - 1] == ' ' || options[n - 1] == '\t'))
		n--;
	*olen = n;
	return options;
}

/* Read the options' config into this process, or check that the copy it holds is current,
 * and load what its store member will need (no connection). */
int engine_preload(const char *options, char *err, size_t errlen)
{
	const struct config *c;
	size_t olen, slot;

	/* Why: util's per-process page and this module's place on it are taken here, once,
	 * in the daemon, instead of in every child (each a write to a page: a fault). */
	(void)engine_checks();
	options = engine_trim(options, &olen);
	/* Why this way round: this runs in the daemon before every fork, and each page it
	 * writes there (its stack included) is a page fault after the fork. With the options
	 * of the prepared base, nothing is parsed and nothing written unless a file changed. */
	if (engine_base_for(options, olen)) {
		c = engine_config_path(engine_cache[engine_base.slot].path, 1, &slot, err, errlen);
		if (c != NULL && c == engine_base.c) {
			stats_preload(engine_base.s.state_dir);
			return RG_FOUND;
		}
	} else {
		c = engine_config(options, 1, &slot, err, errlen);
	}
	if (c == NULL)
		return RG_CONFIG;
	engine_proc.current = c;
	if (engine_base_make(c, slot, options, olen, err, errlen) != RG_FOUND)
		return RG_CONFIG;
	source_configure(c);     /* what every check sets first: done once, before the fork */
	/* Why: the counters file mapped here is inherited by every child (MAP_SHARED), which
	 * then counts without opening and mapping it again (five system calls each). */
	if (engine_base.c != NULL)
		stats_preload(engine_base.s.state_dir);
	/* Why: a shared store's client library is mapped here once and inherited by every
	 * SMTP process (dlopen is fork-safe; a connection is not, and none is made). */
	return engine_base.c != NULL ? store_preload(&engine_base.s, err, errlen) : RG_FOUND;
}

/* Settings for domain under the options' config, with the options applied. */
RG_HOT int engine_settings(const char *options, const char *domain, const struct settings **out,
		    char *err, size_t errlen)
{
	const struct config *c;
	size_t olen, slot;

	if (domain == NULL)
		domain = "";
	/* Why trimmed: checks of one RCPT (recipient, greylist) must find the same settings. */
	options = engine_trim(options, &olen);
	if (engine_base_for(options, olen)) {
		/* The options were parsed when the base was made: only the files are checked. */
		c = engine_config_path(engine_cache[engine_base.slot].path, 0, &slot, err, errlen);
	} else {
		c = engine_config(options, 0, &slot, err, errlen);
	}
	if (c == NULL)
		return RG_CONFIG;
	if (!config_domain_has_section(c, domain)) {
		if ((engine_base.c != c || !engine_base_for(options, olen)) &&
		    engine_base_make(c, slot, options, olen, err, errlen) != RG_FOUND)
			return RG_CONFIG;
		if (engine_base.c == c) {
			if (engine_proc.current != c)
				engine_proc.current = c;
			*out = &engine_base.s;
			return RG_FOUND;
		}
	}
	if (engine_last.valid && strcmp(engine_last.domain, domain) == 0 &&
	    strlen(engine_last.options) == olen && memcmp(engine_last.options, options, olen) == 0) {
		*out = &engine_last.s;
		return RG_FOUND;
	}
	engine_last.valid = 0;
	config_for_domain(c, domain, &engine_last.s);
	if (config_apply_options(&engine_last.s, options, err, errlen) != RG_FOUND)
		return RG_CONFIG;
	engine_proc.current = c;
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
RG_HOT const struct config *engine_current_config(void)
{
	return engine_proc.current;
}
