/*
 * util.c - string and clock helpers every core module uses. Truncation is an error
 * everywhere in rcptguard, so the copy helpers report it instead of hiding it. Also the
 * per-process page: the fork generation and what each process writes (see below).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "rg.h"

static int64_t (*util_clock)(void);

/*
 * Per-process memory (util_proc_alloc): one page that every new process sees zeroed, so
 * that no fork() needs a hook and a child that never calls rcptguard pays nothing.
 *
 * Why: Exim forks one process per SMTP connection from a daemon in which the preload has
 * loaded the module. After fork() each page a child writes costs it a page fault (a copy),
 * so what a connection must write (its fork generation, the store handle, the config
 * checks) sits together on this one page. The kernel zeroes the page in each child
 * (MADV_WIPEONFORK, Linux 4.14); where it cannot, a pthread_atfork() child hook does it,
 * which is the old cost (a hook in every child) and the same meaning.
 */
#define UTIL_PROC_SIZE 4096

struct util_proc {
	uint64_t gen;                   /* this process's generation; 0: not yet known */
	uint32_t touched;               /* written first, see util_fork_generation() */
	uint32_t pad;
	unsigned char area[UTIL_PROC_SIZE - 16];   /* util_proc_alloc()'s */
};

static struct util_proc *util_proc;     /* the page (set once; read-only afterwards) */
static size_t util_proc_used;           /* bytes of area handed out */
/* Where no anonymous page can be mapped: this one, cleared by the atfork hook. */
static struct util_proc util_proc_static __attribute__((aligned(UTIL_PROC_SIZE)));

/* Runs in the child of every fork(), only where the kernel cannot wipe the page. */
static void util_atfork_child(void)
{
	memset(util_proc, 0, sizeof *util_proc);
}

/* The per-process page, made on first use (in Exim, by the preload in the daemon). Like all
 * of core's per-process state, not for concurrent first calls (rcptguard-admin serialises
 * its calls into core). */
static RG_HOT struct util_proc *util_proc_page(void)
{
	void *m;

	if (util_proc != NULL)
		return util_proc;
	m = mmap(NULL, sizeof *util_proc, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
#ifdef MADV_WIPEONFORK
	if (m != MAP_FAILED && madvise(m, sizeof *util_proc, MADV_WIPEONFORK) == 0) {
		util_proc = m;
		return util_proc;
	}
#endif
	/* Why the hook: the page must read as zeros in every child, whoever zeroes it. An
	 * old kernel (EINVAL) keeps the mapping, cleared by the hook; a failed map, the static
	 * page. If the hook cannot be registered, nothing would clear the page: refuse. */
	util_proc = m != MAP_FAILED ? (struct util_proc *)m : &util_proc_static;
	if (pthread_atfork(NULL, NULL, util_atfork_child) != 0) {
		if (m != MAP_FAILED)
			munmap(m, sizeof *util_proc);
		util_proc = NULL;
	}
	return util_proc;
}

/* size bytes of per-process memory: zeroed in every child after fork() (rg.h). */
void *util_proc_alloc(size_t size)
{
	struct util_proc *p = util_proc_page();
	void *r;

	size = (size + 15) & ~(size_t)15;
	if (p == NULL || size > sizeof p->area - util_proc_used)
		return NULL;
	r = p->area + util_proc_used;
	util_proc_used += size;
	return r;
}

/* This process's fork generation (rg.h): made at its first call in each process. */
RG_HOT uint64_t util_fork_generation(void)
{
	volatile struct util_proc *p = util_proc_page();
	struct timespec ts;
	uint64_t gen;

	/* No page and no hook (out of memory at the first call): still correct, at the price
	 * of a system call per call. */
	if (p == NULL)
		return (uint64_t)getpid() << 40;
	/* Why write before reading: in a new child the page is absent; a read first would map
	 * the zero page and the write after it fault again. Volatile keeps the order. */
	p->touched = 1;
	if (p->gen != 0)
		return p->gen;
	/*
	 * Why the pid and the time: a descendant can inherit a handle of an ancestor, marked
	 * with the ancestor's generation. The pid of a living process differs from that of
	 * every ancestor; a descendant can get an ancestor's pid only after the ancestor died
	 * and pid numbers wrapped around, and then the time part (microseconds, modulo 12.7
	 * days) differs too. One getpid() per process, not per call.
	 */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	gen = (uint64_t)getpid() << 40 |
	      (((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000) & (((uint64_t)1 << 40) - 1));
	p->gen = gen;
	return gen;
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
RG_HOT int util_strlcpy(char *dst, const char *src, size_t size)
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
RG_HOT int util_snprintf(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, size, fmt, ap);
	va_end(ap);
	return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

/* Wall-clock seconds, or the test clock. */
RG_HOT int64_t util_now(void)
{
	return util_clock ? util_clock() : (int64_t)time(NULL);
}

/* Replace the clock (NULL restores the real one). */
void util_set_clock(int64_t (*clock)(void))
{
	util_clock = clock;
}

/* Monotonic milliseconds. */
RG_HOT int64_t util_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ASCII lower-casing in place (locale-independent on purpose). */
RG_HOT void util_lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* Make remote text safe to echo: printable ASCII only, no quote or backslash. */
RG_HOT void util_sanitise(char *dst, size_t size, const char *src, size_t srclen)
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
RG_HOT int util_decimal(const char *s, int64_t max, int64_t *out)
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
