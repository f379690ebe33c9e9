/*
 * rglog.h - the one logging module of the engine.
 *
 * core/ knows nothing of Exim: each face (the Exim module, the CLI, tests) installs
 * a hook; the module maps it to log_write/debug_printf, the CLI to stderr.
 */
#ifndef RG_RGLOG_H
#define RG_RGLOG_H

enum rglog_level {
	RGLOG_ERROR = 0, /* operator must act: config error, damaged store */
	RGLOG_INFO = 1,  /* one line per verdict, store set aside, running uncached */
	RGLOG_DEBUG = 2  /* SMTP dialogue of callouts and other detail (Exim -d) */
};

typedef void rglog_hook_fn(int level, const char *line);

/* Install the face's hook (NULL: discard everything); debug_on says whether debug lines are wanted. */
void rglog_set_hook(rglog_hook_fn *fn, int debug_on);

/* Whether debug lines are wanted (lets callers skip formatting). */
int rglog_debug_enabled(void);

/* Format and emit one line; the text is cut at 1000 bytes. */
void rglog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
