/*
 * util.c - string and clock helpers every core module uses. Truncation is an error
 * everywhere in rcptguard, so the copy helpers report it instead of hiding it.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rg.h"

static int64_t (*util_clock)(void);
static unsigned util_forks = 1;
static int util_atfork_set;

/* Runs in the child of every fork(). */
static void util_atfork_child(void)
{
	util_forks++;
}

/* The fork generation of this process (registers the fork hook on first use). */
unsigned util_fork_generation(void)
{
	if (!util_atfork_set) {
		/* glibc unregisters this hook if the module is ever dlclose()d. */
		if (pthread_atfork(NULL, NULL, util_atfork_child) == 0)
			util_atfork_set = 1;
	}
	return util_forks;
}

/* Name of an outcome, for logs. */
const char *util_status_name(int status)
{
	switch (status) {
	case RG_FOUND: return "found";
	case RG_NOTFOUND: return "notfound";
	case RG_TEMPFAIL: return "tempfail";
	case RG_CONFIG: return "config";
	default: return "invalid";
	}
}

/* Bounded copy; -1 when src did not fit. */
int util_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size == 0)
		return -1;
	if (n >= size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return -1;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

/* Bounded formatting; -1 on truncation. */
int util_snprintf(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, size, fmt, ap);
	va_end(ap);
	return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

/* Wall-clock seconds, or the test clock. */
int64_t util_now(void)
{
	return util_clock ? util_clock() : (int64_t)time(NULL);
}

/* Replace the clock (NULL restores the real one). */
void util_set_clock(int64_t (*clock)(void))
{
	util_clock = clock;
}

/* Monotonic milliseconds. */
int64_t util_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ASCII lower-casing in place (locale-independent on purpose). */
void util_lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* Make remote text safe to echo: printable ASCII only, no quote or backslash. */
void util_sanitise(char *dst, size_t size, const char *src, size_t srclen)
{
	size_t i, o = 0;

	if (size == 0)
		return;
	for (i = 0; i < srclen && o + 1 < size; i++) {
		unsigned char ch = (unsigned char)src[i];

		dst[o++] = (ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\') ? '?' : (char)ch;
	}
	dst[o] = '\0';
}

/* Hold SIGPIPE (rg.h): the caller's library writes without MSG_NOSIGNAL. */
void util_sigpipe_hold(struct util_sigpipe *g)
{
	sigset_t set, pending;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	g->was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &g->old);
}

/* Discard a SIGPIPE raised meanwhile (not one already pending), restore the mask. */
void util_sigpipe_release(struct util_sigpipe *g)
{
	static const struct timespec zero = { 0, 0 };
	sigset_t set, pending;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	if (!g->was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE))
		while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* A non-negative decimal, strictly (rg.h). */
int util_decimal(const char *s, int64_t max, int64_t *out)
{
	char *e;
	long long n;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoll(s, &e, 10);
	if (errno || *e != '\0' || n > max)
		return -1;
	*out = n;
	return 0;
}

/* A child that outlives the Exim process (or is bounded by alarm()) must not keep Exim's
 * handlers, which only set flags: default actions, nothing blocked, SIGUSR1 (exiwhat)
 * ignored. */
void util_child_signals(void)
{
	static const int dfl[] = { SIGALRM, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD };
	sigset_t none;
	size_t i;

	for (i = 0; i < sizeof dfl / sizeof dfl[0]; i++)
		signal(dfl[i], SIG_DFL);
	signal(SIGUSR1, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}
