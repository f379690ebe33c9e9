/*
 * rg.h - outcomes, limits and small helpers shared by every core module.
 *
 * Every lookup in rcptguard has exactly four outcomes and they never blur:
 * a timeout or a 4xx is RG_TEMPFAIL, never RG_NOTFOUND.
 */
#ifndef RG_H
#define RG_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

enum rg_status {
	RG_FOUND = 0,    /* definite yes (address exists, record present, ...) */
	RG_NOTFOUND = 1, /* definite no */
	RG_TEMPFAIL = 2, /* could not tell now: try again later, never reject */
	RG_CONFIG = 3    /* operator error (bad config, bad arguments) */
};

#define RG_ERRLEN 256         /* size of every error-text buffer */
#define RG_LOCAL_MAX 64       /* RFC 5321 4.5.3.1.1 */
#define RG_DOMAIN_MAX 255     /* RFC 5321 4.5.3.1.2 */
#define RG_ADDRESS_MAX 320    /* buffer size for local@domain */
#define RG_PATH_OCTETS 254     /* RFC 5321 4.5.3.1.3: 256 with the angle brackets */
#define RG_PATH_MAX 1024

#define RG_VERSION "0.1.0"

/* Code that a connection's process runs for a cached verdict or a cached FCrDNS answer.
 * Why: GCC places it in .text.hot, which the linker puts together at the start of .text;
 * each 64 KiB of the module's code that a new Exim process touches costs it a page fault
 * (fork() does not copy the page tables of file mappings). */
#define RG_HOT __attribute__((hot))

/* Not inlined: a function with large buffers that the common path does not call, or calls
 * and returns from before going deeper, keeps them out of its caller's frame (each new
 * stack page is a page fault in a new Exim process). */
#define RG_NOINLINE __attribute__((noinline))

/* Name of an outcome, for logs. */
const char *util_status_name(int status);

/* Copy src into dst; returns -1 (dst holds a truncated copy) when it does not fit. */
int util_strlcpy(char *dst, const char *src, size_t size);

/* snprintf that returns -1 on truncation or encoding error. */
int util_snprintf(char *dst, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Wall-clock seconds; tests may replace the clock with util_set_clock(). */
int64_t util_now(void);
void util_set_clock(int64_t (*clock)(void));

/* A number of this process, different in every child after fork(): handles (LMDB, sockets)
 * remember the generation that opened them and are abandoned, never used, when it
 * differs. Cheaper than getpid() on every call (one per process), and no fork hook. */
uint64_t util_fork_generation(void);

/* size bytes of per-process memory, on the one page a connection's process writes: it
 * reads as zeros in every child after fork(). Take it once (in Exim, at the preload, before
 * the daemon forks) and keep the pointer; NULL when the page is full. */
void *util_proc_alloc(size_t size);

/* In a child of an Exim process: signals at their default actions, none blocked. */
void util_child_signals(void);

/* Monotonic milliseconds, for deadlines. */
int64_t util_monotonic_ms(void);

/* Case-insensitive ASCII lower-casing in place. */
void util_lower(char *s);

/* Replace control and non-ASCII bytes (and '"', '\\') with '?' and cut at max-1 bytes:
 * makes remote text safe to echo in a yield, a log line or an SMTP reply. */
void util_sanitise(char *dst, size_t size, const char *src, size_t srclen);

/* SIGPIPE held back while a library writes with plain write() (hiredis, libldap): a
 * server gone between two writes must not kill the Exim process. */
struct util_sigpipe {
	sigset_t old;
	int was_pending;
};

/* Block SIGPIPE, noting whether one was already pending. */
void util_sigpipe_hold(struct util_sigpipe *g);

/* Discard a SIGPIPE raised meanwhile (not one already pending), restore the mask. */
void util_sigpipe_release(struct util_sigpipe *g);

/* The one strict decimal of the record codecs (verdict, greylist): digits only, no sign,
 * no blank, at most max. 0, or -1 when s is not one. */
int util_decimal(const char *s, int64_t max, int64_t *out);

#endif
