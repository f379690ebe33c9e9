/*
 * engine.h - per-process state shared by every check: the loaded config (cached by path)
 * and the settings for one call.
 *
 * Exim forks one process per SMTP connection; a config is read at most once per process
 * and path, so an edit takes effect from the next connection on.
 */
#ifndef RG_ENGINE_H
#define RG_ENGINE_H

#include "config.h"

/* Settings for domain under the config named in options (or $RCPTGUARD_CONFIG, or the
 * default path), with options applied. RG_FOUND with *out pointing at the engine's copy
 * (valid until the next call), or RG_CONFIG with the reason in err. */
int engine_settings(const char *options, const char *domain, const struct settings **out,
		    char *err, size_t errlen);

/* The config of the last successful engine_settings() call (NULL before one, or once a
 * later call evicted it from the cache of loaded configs): the list
 * source asks it which domains a list file serves. Valid until the next call. */
const struct config *engine_current_config(void);

/* Read the config named in options into this process, or check (one stat() per file) that
 * the copy it holds is current: for a parent that forks the processes doing the checks
 * (Exim's daemon). Opens nothing else: it only maps the library a shared store member
 * will need (store_preload). RG_FOUND, or RG_CONFIG with the reason in err. */
int engine_preload(const char *options, char *err, size_t errlen);

#endif
