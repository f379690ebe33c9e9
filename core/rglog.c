/*
 * rglog.c - the one logging module: formats a line and hands it to the face's hook.
 */
#include <stdarg.h>
#include <stdio.h>

#include "rg.h"
#include "rglog.h"

static rglog_hook_fn *rglog_hook;
static int rglog_debug_on;

/* Install the face's hook. Why only on change: the module calls this on every check, and
 * a process forked from Exim's daemon pays a page fault for its first write to the page. */
RG_HOT void rglog_set_hook(rglog_hook_fn *fn, int debug_on)
{
	if (rglog_hook != fn)
		rglog_hook = fn;
	if (rglog_debug_on != debug_on)
		rglog_debug_on = debug_on;
}

/* Whether debug lines are wanted. */
RG_HOT int rglog_debug_enabled(void)
{
	return rglog_hook != NULL && rglog_debug_on;
}

/* Format one line (cut at 1000 bytes) and emit it. */
RG_HOT void rglog(int level, const char *fmt, ...)
{
	char line[1000];
	va_list ap;

	if (rglog_hook == NULL || (level == RGLOG_DEBUG && !rglog_debug_on))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	rglog_hook(level, line);
}
