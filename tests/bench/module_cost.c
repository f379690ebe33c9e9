/*
 * module_cost.c - what the module adds to one SMTP connection (tests/bench/run.sh, figure 3).
 *
 *   module_cost MODULE.so ADDRESS OPTIONS N [NULL.so]
 *
 * Exim forks one process per SMTP connection and dlopen()s the module afresh in each.
 * This harness plays Exim: it provides the few Exim symbols the module uses (log_write,
 * debug_printf, string_copy_function, debug_selector; linked with -rdynamic so that
 * the module binds to them), then, N times each, interleaved, times from fork() to
 * waitpid() a child that
 *   empty:    exits at once                                      (the baseline)
 *   dlopen:   dlopen()s MODULE.so, looks up verify_recipient, exits
 *   verify:   the same, then verifies ADDRESS once (a cached verdict), exits
 *   floor:    dlopen()s NULL.so (null_dlfunc.c: a dlfunc that only copies a constant
 *             yield), calls its verify_recipient, exits: what any dlfunc module costs
 *             per connection on this machine (only with NULL.so)
 * Children leave with exit(), as Exim does, so the module's destructor (QUIT callout
 * connections, close the store) is counted. Prints the medians and the differences:
 *   n=N empty_us=.. dlopen_us=.. verify_us=.. module_us=.. (verify - empty) ...
 * and where a verify child's time goes (medians; CLOCK_MONOTONIC is system-wide):
 *   phase_fork_us (fork until the child runs) phase_dlopen_us (dlopen + dlsym)
 *   phase_verdict_us (the first call: config read, store opened, lookup)
 *   phase_exit_us (exit, the module's destructor, reaped by the parent)
 * A first child checks the answer (result=pass source=cache): exit 1 otherwise.
 *
 * And a fifth kind, as with rcptguard's preload in Exim's daemon (acl-snippets/
 * rcptguard-main.conf): a helper process, forked before anything is loaded, dlopen()s
 * MODULE.so once and, for each child, calls preload(OPTIONS) (as the daemon does before
 * each fork: it stat()s the config) and forks a verify child, which inherits the mapped
 * module and the parsed config. Timed from before preload() to waitpid():
 *   preloaded: preloaded_us=.. preloaded_cost_us=.. (preloaded - empty) phase_*_us=..
 * and the median page faults (minor) of each kind's children, which load does not skew:
 *   faults: empty=.. dlopen=.. verify=.. floor=.. preloaded=..
 * and the median CPU time (user + system, wait4) the children used, µs, which load skews
 * far less than the wall-clock figures (the parent's side of fork is not in it):
 *   cpu: empty_us=.. dlopen_us=.. verify_us=.. floor_us=.. preloaded_us=..
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DLFUNC_IMPL     /* the declarations a dlfunc module sees */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <local_scan.h>
#pragma GCC diagnostic pop

#define EXPORT __attribute__((visibility("default")))

/* ---- the Exim symbols the module may use (local_scan.h API) ---- */

EXPORT unsigned int debug_selector = 0;
static FILE *log_sink;

EXPORT void log_write(unsigned int selector, int flags, const char *format, ...)
{
	va_list ap;

	(void)selector;
	(void)flags;
	if (log_sink == NULL)
		return;
	va_start(ap, format);
	vfprintf(log_sink, format, ap);
	va_end(ap);
	fputc('\n', log_sink);
}

EXPORT void debug_printf(const char *format, ...)
{
	(void)format;
}

EXPORT uschar *string_copy_function(const uschar *s)
{
	return (uschar *)strdup((const char *)s);
}

EXPORT uschar *string_copyn_function(const uschar *s, int n)
{
	return (uschar *)strndup((const char *)s, (size_t)n);
}

/* ---- the harness ---- */

enum mode { M_EMPTY, M_DLOPEN, M_VERIFY, M_FLOOR, M_COUNT };
static const char *const mode_name[M_COUNT] = { "empty", "dlopen", "verify", "floor" };
static const char *floor_so;

/* Timestamps a verify child writes for the phase figures (shared with the parent). */
struct phases {
	int64_t start, dl, verdict;
};
static struct phases *phase_slot;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The child's work; never returns. With out >= 0, the yield is written there. */
static void child(enum mode m, const char *so, const char *address, const char *options, int out)
{
	exim_dlfunc_t *fn;
	uschar *argv[2], *yield = NULL;
	void *h;
	int rc;

	if (m == M_EMPTY)
		exit(0);
	if (phase_slot)
		phase_slot->start = now_ns();
	h = dlopen(m == M_FLOOR ? floor_so : so, RTLD_LAZY);     /* as Exim 4.96 expand.c does for ${dlfunc} */
	if (h == NULL) {
		if (out >= 0)
			dprintf(out, "dlopen: %s", dlerror());
		exit(2);
	}
	fn = (exim_dlfunc_t *)dlsym(h, "verify_recipient");
	if (fn == NULL)
		exit(2);
	if (phase_slot)
		phase_slot->dl = now_ns();
	if (m == M_VERIFY || m == M_FLOOR) {
		argv[0] = (uschar *)address;
		argv[1] = (uschar *)options;
		rc = fn(&yield, 2, argv);
		if (phase_slot)
			phase_slot->verdict = now_ns();
		if (out >= 0)
			dprintf(out, "rc=%d yield=%s", rc, yield ? (char *)yield : "(null)");
		if (rc != OK)
			exit(3);
	}
	exit(0);
}

/* What the preload helper reports for one child (ns; total -1: it failed). */
struct preloaded {
	int64_t total, fork, dl, verdict, exit, minflt, cpu;
};

/* Page faults and CPU time (user + system, ns) of the last child reaped (wait4): figures
 * that other load on the machine skews far less than wall-clock time. */
static long last_minflt;
static int64_t last_cpu;

/* User + system time of a rusage, ns. */
static int64_t ru_cpu_ns(const struct rusage *ru)
{
	return ((int64_t)ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1000000000 +
	       ((int64_t)ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) * 1000;
}

/* The preload helper: loads so once, then per request byte: preload(), fork a verify
 * child, report a struct preloaded. Never returns. */
static void preload_helper(int req, int resp, const char *so, const char *address, const char *options,
			   struct phases *ph)
{
	exim_dlfunc_t *pre;
	struct preloaded r;
	struct rusage ru;
	uschar *argv[1], *yield;
	void *h;
	int64_t t0;
	pid_t pid;
	char c;
	int st;

	h = dlopen(so, RTLD_LAZY);
	pre = h ? (exim_dlfunc_t *)dlsym(h, "preload") : NULL;
	while (read(req, &c, 1) == 1) {
		memset(&r, 0, sizeof r);
		memset(ph, 0, sizeof *ph);
		t0 = now_ns();
		argv[0] = (uschar *)options;
		yield = NULL;
		if (pre == NULL || pre(&yield, 1, argv) != OK || yield == NULL || *yield != '\0') {
			r.total = -1;
		} else if ((pid = fork()) == 0) {
			phase_slot = ph;
			child(M_VERIFY, so, address, options, -1);
		} else if (pid < 0 || wait4(pid, &st, 0, &ru) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			r.total = -1;
		} else {
			r.total = now_ns() - t0;
			r.fork = ph->start - t0;
			r.dl = ph->dl - ph->start;
			r.verdict = ph->verdict - ph->dl;
			r.exit = t0 + r.total - ph->verdict;
			r.minflt = ru.ru_minflt;
			r.cpu = ru_cpu_ns(&ru);
		}
		if (write(resp, &r, sizeof r) != (ssize_t)sizeof r)
			break;
	}
	_exit(0);
}

/* Time one child of mode m (ns), or -1 when it failed. ph (verify children): the phases. */
static int64_t run_one(enum mode m, const char *so, const char *address, const char *options,
		       struct phases *ph, int64_t *t0_out)
{
	int64_t t0, t1;
	struct rusage ru;
	int st;
	pid_t pid;

	phase_slot = m == M_VERIFY ? ph : NULL;
	t0 = now_ns();
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		child(m, so, address, options, -1);
	if (t0_out)
		*t0_out = t0;
	if (wait4(pid, &st, 0, &ru) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	last_minflt = ru.ru_minflt;
	last_cpu = ru_cpu_ns(&ru);
	t1 = now_ns();
	return t1 - t0;
}

int main(int argc, char **argv)
{
	const char *so, *address, *options;
	int64_t *t[M_COUNT], med[M_COUNT], p90[M_COUNT], *pf, *pd, *pv, *pe, t0;
	struct phases *ph;
	char buf[2048];
	int fds[2], st, i, m, nmodes = M_FLOOR, req[2], resp[2];
	struct phases *ph2;
	struct preloaded pr;
	int64_t *tp, *qf, *qd, *qv, *qe, *flt[M_COUNT + 1], *cpu[M_COUNT + 1];
	pid_t helper;
	size_t n, k;
	ssize_t got;
	pid_t pid;

	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: module_cost MODULE.so ADDRESS OPTIONS N [NULL.so]\n");
		return 64;
	}
	so = argv[1];
	address = argv[2];
	options = argv[3];
	n = (size_t)strtoul(argv[4], NULL, 10);
	if (argc == 6) {
		floor_so = argv[5];
		nmodes = M_COUNT;
	}
	if (n < 3)
		return 64;
	if (getenv("MODULE_COST_LOG"))
		log_sink = stderr;

	/* The preload helper, forked before this process loads anything. */
	ph2 = mmap(NULL, sizeof *ph2, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ph2 == MAP_FAILED || pipe(req) < 0 || pipe(resp) < 0)
		return 2;
	if ((helper = fork()) == 0) {
		close(req[1]);
		close(resp[0]);
		preload_helper(req[0], resp[1], so, address, options, ph2);
	}
	close(req[0]);
	close(resp[1]);
	if (helper < 0)
		return 2;

	/* Check once what the module answers. */
	if (pipe(fds) < 0)
		return 2;
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		log_sink = stderr;
		child(M_VERIFY, so, address, options, fds[1]);
	}
	close(fds[1]);
	got = read(fds[0], buf, sizeof buf - 1);
	buf[got > 0 ? got : 0] = '\0';
	close(fds[0]);
	waitpid(pid, &st, 0);
	printf("check: %s\n", buf);
	fflush(stdout);     /* children exit() and would flush a copy of the buffer */
	if (strstr(buf, "rc=0 ") == NULL || strstr(buf, "result=pass") == NULL || strstr(buf, "source=cache") == NULL) {
		fprintf(stderr, "module_cost: the module did not answer pass from the cache\n");
		return 1;
	}

	for (m = 0; m < M_COUNT; m++)
		if ((t[m] = malloc(sizeof *t[m] * n)) == NULL)
			return 2;
	pf = malloc(sizeof *pf * n);
	pd = malloc(sizeof *pd * n);
	pv = malloc(sizeof *pv * n);
	pe = malloc(sizeof *pe * n);
	ph = mmap(NULL, sizeof *ph, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	for (m = 0; m <= M_COUNT; m++)
		if ((flt[m] = calloc(n, sizeof *flt[m])) == NULL || (cpu[m] = calloc(n, sizeof *cpu[m])) == NULL)
			return 2;
	tp = malloc(sizeof *tp * n);
	qf = malloc(sizeof *qf * n);
	qd = malloc(sizeof *qd * n);
	qv = malloc(sizeof *qv * n);
	qe = malloc(sizeof *qe * n);
	if (!pf || !pd || !pv || !pe || ph == MAP_FAILED || !tp || !qf || !qd || !qv || !qe)
		return 2;
	/* Warm the page cache and the dynamic loader's files. */
	for (i = 0; i < 20; i++) {
		run_one(M_VERIFY, so, address, options, ph, NULL);
		if (write(req[1], "x", 1) != 1 || read(resp[0], &pr, sizeof pr) != (ssize_t)sizeof pr)
			return 2;
	}
	for (k = 0; k < n; k++) {
		for (m = 0; m < nmodes; m++) {
			memset(ph, 0, sizeof *ph);
			if ((t[m][k] = run_one((enum mode)m, so, address, options, ph, &t0)) < 0) {
				fprintf(stderr, "module_cost: a %s child failed\n", mode_name[m]);
				return 1;
			}
			flt[m][k] = last_minflt;
			cpu[m][k] = last_cpu;
			if (m == M_VERIFY) {
				pf[k] = ph->start - t0;
				pd[k] = ph->dl - ph->start;
				pv[k] = ph->verdict - ph->dl;
				pe[k] = t0 + t[m][k] - ph->verdict;
			}
		}
		/* The preloaded kind, interleaved with the others. */
		if (write(req[1], "x", 1) != 1 || read(resp[0], &pr, sizeof pr) != (ssize_t)sizeof pr || pr.total < 0) {
			fprintf(stderr, "module_cost: a preloaded child failed (does MODULE.so export preload?)\n");
			return 1;
		}
		tp[k] = pr.total;
		qf[k] = pr.fork;
		qd[k] = pr.dl;
		qv[k] = pr.verdict;
		qe[k] = pr.exit;
		flt[M_COUNT][k] = pr.minflt;
		cpu[M_COUNT][k] = pr.cpu;
	}
	for (m = 0; m <= M_COUNT; m++) {
		qsort(flt[m], n, sizeof *flt[m], cmp_i64);
		qsort(cpu[m], n, sizeof *cpu[m], cmp_i64);
	}
	close(req[1]);
	waitpid(helper, &st, 0);
	qsort(tp, n, sizeof *tp, cmp_i64);
	qsort(qf, n, sizeof *qf, cmp_i64);
	qsort(qd, n, sizeof *qd, cmp_i64);
	qsort(qv, n, sizeof *qv, cmp_i64);
	qsort(qe, n, sizeof *qe, cmp_i64);
	qsort(pf, n, sizeof *pf, cmp_i64);
	qsort(pd, n, sizeof *pd, cmp_i64);
	qsort(pv, n, sizeof *pv, cmp_i64);
	qsort(pe, n, sizeof *pe, cmp_i64);
	for (m = 0; m < nmodes; m++) {
		qsort(t[m], n, sizeof *t[m], cmp_i64);
		med[m] = t[m][n / 2];
		p90[m] = t[m][n * 90 / 100];
	}
	printf("n=%zu empty_us=%.1f dlopen_us=%.1f verify_us=%.1f empty_p90_us=%.1f verify_p90_us=%.1f "
	       "dlopen_cost_us=%.1f module_us=%.1f\n",
	       n, med[M_EMPTY] / 1e3, med[M_DLOPEN] / 1e3, med[M_VERIFY] / 1e3,
	       p90[M_EMPTY] / 1e3, p90[M_VERIFY] / 1e3,
	       (med[M_DLOPEN] - med[M_EMPTY]) / 1e3, (med[M_VERIFY] - med[M_EMPTY]) / 1e3);
	if (floor_so)
		printf("floor: floor_us=%.1f floor_cost_us=%.1f module_above_floor_us=%.1f\n", med[M_FLOOR] / 1e3,
		       (med[M_FLOOR] - med[M_EMPTY]) / 1e3, (med[M_VERIFY] - med[M_FLOOR]) / 1e3);
	printf("preloaded: preloaded_us=%.1f preloaded_p90_us=%.1f preloaded_cost_us=%.1f phase_fork_us=%.1f "
	       "phase_dlopen_us=%.1f phase_verdict_us=%.1f phase_exit_us=%.1f\n",
	       tp[n / 2] / 1e3, tp[n * 90 / 100] / 1e3, (tp[n / 2] - med[M_EMPTY]) / 1e3,
	       qf[n / 2] / 1e3, qd[n / 2] / 1e3, qv[n / 2] / 1e3, qe[n / 2] / 1e3);
	printf("faults: empty=%lld dlopen=%lld verify=%lld floor=%lld preloaded=%lld\n",
	       (long long)flt[M_EMPTY][n / 2], (long long)flt[M_DLOPEN][n / 2], (long long)flt[M_VERIFY][n / 2],
	       (long long)flt[M_FLOOR][n / 2], (long long)flt[M_COUNT][n / 2]);
	printf("cpu: empty_us=%.1f dlopen_us=%.1f verify_us=%.1f floor_us=%.1f preloaded_us=%.1f\n",
	       cpu[M_EMPTY][n / 2] / 1e3, cpu[M_DLOPEN][n / 2] / 1e3, cpu[M_VERIFY][n / 2] / 1e3,
	       cpu[M_FLOOR][n / 2] / 1e3, cpu[M_COUNT][n / 2] / 1e3);
	printf("phases: phase_fork_us=%.1f phase_dlopen_us=%.1f phase_verdict_us=%.1f phase_exit_us=%.1f\n",
	       pf[n / 2] / 1e3, pd[n / 2] / 1e3, pv[n / 2] / 1e3, pe[n / 2] / 1e3);
	return 0;
}
