/*
 * rcptguard.c - the Exim dlfunc module: ${dlfunc{.../rcptguard.so}{FUNCTION}{ARG}...}.
 *
 * Thin on purpose: it takes Exim's arguments, calls core/, copies the yield into
 * Exim's store and maps core's log lines to log_write()/debug_printf(). It calls
 * nothing of Exim outside local_scan.h (Debian's Exim hides every other symbol).
 * Every answer returns OK with a yield; FAIL only for misuse (the ACL then says
 * "451 temporary local problem"); never FAIL_FORCED, which would silently skip a deny.
 */
#define DLFUNC_IMPL
/* Exim's header declares "void (*fn)()": not ours to fix. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <local_scan.h>
#pragma GCC diagnostic pop

#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <unistd.h>

#include "engine.h"
#include "fcrdns.h"
#include "greylist.h"
#include "rglog.h"
#include "verify.h"

#define RG_EXPORT __attribute__((visibility("default")))

int verify_recipient(uschar **yield, int argc, uschar *argv[]) RG_EXPORT;
int verify_sender(uschar **yield, int argc, uschar *argv[]) RG_EXPORT;
int catchall(uschar **yield, int argc, uschar *argv[]) RG_EXPORT;
int quit(uschar **yield, int argc, uschar *argv[]) RG_EXPORT;
int fcrdns(uschar **yield, int argc, uschar *argv[]) RG_EXPORT;
int greylist(uschar **yield, int argc, uschar *argv[]) RG_EXPORT;
int preload(uschar **yield, int argc, uschar *argv[]) RG_EXPORT;

/* Core log lines to Exim: verdicts and errors to the main log, detail to -d output. */
static RG_HOT void rg_exim_log(int level, const char *line)
{
	if (level == RGLOG_DEBUG)
		debug_printf("%s\n", line);
	else
		log_write(0, LOG_MAIN, "%s", line);
}

/* Set up logging for this call (Exim's debug state may change between calls). */
static RG_HOT void rg_exim_begin(void)
{
	rglog_set_hook(rg_exim_log, debug_selector != 0);
}

/* Misuse: a clear error and FAIL, so that the ACL defers instead of guessing. */
static int rg_exim_usage(uschar **yield, const char *text)
{
	*yield = string_copy((const uschar *)text);
	return FAIL;
}

/* verify_recipient ADDRESS [OPTIONS] -> result=pass|fail|defer ... */
RG_HOT int verify_recipient(uschar **yield, int argc, uschar *argv[])
{
	struct yield y;

	if (argc < 1 || argc > 2)
		return rg_exim_usage(yield, "rcptguard: verify_recipient needs ADDRESS [OPTIONS]");
	rg_exim_begin();
	verify_run_recipient((const char *)argv[0], argc > 1 ? (const char *)argv[1] : NULL, &y);
	*yield = string_copy((const uschar *)y.line);
	return OK;
}

/* verify_sender ADDRESS [OPTIONS] -> result=pass|fail|defer|skip ... */
int verify_sender(uschar **yield, int argc, uschar *argv[])
{
	struct yield y;

	if (argc < 1 || argc > 2)
		return rg_exim_usage(yield, "rcptguard: verify_sender needs ADDRESS [OPTIONS]");
	rg_exim_begin();
	verify_run_sender((const char *)argv[0], argc > 1 ? (const char *)argv[1] : NULL, &y);
	*yield = string_copy((const uschar *)y.line);
	return OK;
}

/* catchall DOMAIN [OPTIONS] -> result=yes|no|unknown ... */
int catchall(uschar **yield, int argc, uschar *argv[])
{
	struct yield y;

	if (argc < 1 || argc > 2)
		return rg_exim_usage(yield, "rcptguard: catchall needs DOMAIN [OPTIONS]");
	rg_exim_begin();
	verify_run_catchall((const char *)argv[0], argc > 1 ? (const char *)argv[1] : NULL, &y);
	*yield = string_copy((const uschar *)y.line);
	return OK;
}

/* fcrdns IP [OPTIONS] -> result=pass|fail|defer ... */
RG_HOT int fcrdns(uschar **yield, int argc, uschar *argv[])
{
	struct yield y;

	if (argc < 1 || argc > 2)
		return rg_exim_usage(yield, "rcptguard: fcrdns needs IP [OPTIONS]");
	rg_exim_begin();
	fcrdns_run((const char *)argv[0], argc > 1 ? (const char *)argv[1] : NULL, &y);
	*yield = string_copy((const uschar *)y.line);
	return OK;
}

/* greylist IP SENDER RECIPIENT [OPTIONS] -> result=pass|defer ... (hostname= in OPTIONS) */
int greylist(uschar **yield, int argc, uschar *argv[])
{
	struct yield y;

	if (argc < 3 || argc > 4)
		return rg_exim_usage(yield, "rcptguard: greylist needs IP SENDER RECIPIENT [OPTIONS]");
	rg_exim_begin();
	greylist_run((const char *)argv[0], (const char *)argv[1], (const char *)argv[2],
		     argc > 3 ? (const char *)argv[3] : NULL, &y);
	*yield = string_copy((const uschar *)y.line);
	return OK;
}

/*
 * quit -> result=ok: end of the SMTP session (called from acl_smtp_quit and
 * acl_smtp_notquit). Why: Exim's SMTP processes end with _exit(), which runs no
 * destructor, so without this call callout connections would end without QUIT.
 */
RG_HOT int quit(uschar **yield, int argc, uschar *argv[])
{
	(void)argc;
	(void)argv;
	rg_exim_begin();
	verify_shutdown();
	*yield = string_copy((const uschar *)"result=ok");
	return OK;
}

/* dl_iterate_phdr callback: read one byte of each page of the writable segment of the
 * object loaded at *data (this module). Why no_sanitize_address: the byte read is any byte
 * of the page, between objects too (an ASan build's redzones); nothing is read for its
 * value. */
__attribute__((no_sanitize_address))
static int rg_exim_touch_object(struct dl_phdr_info *info, size_t size, void *data)
{
	uintptr_t p, end;
	int i;

	(void)size;
	if (info->dlpi_addr != (uintptr_t)data)
		return 0;
	for (i = 0; i < info->dlpi_phnum; i++) {
		if (info->dlpi_phdr[i].p_type != PT_LOAD || !(info->dlpi_phdr[i].p_flags & PF_W))
			continue;
		p = (info->dlpi_addr + info->dlpi_phdr[i].p_vaddr) & ~(uintptr_t)4095;
		end = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr + info->dlpi_phdr[i].p_memsz;
		for (; p < end; p += 4096)
			(void)*(volatile const char *)p;
	}
	return 1;
}

/*
 * Map this module's static state (.data, .bss) in the process that preloads it. Why: a
 * page of it that the daemon never touched is not mapped in a forked connection process,
 * and every first read there costs a page fault; read here once, the pages are inherited
 * mapped (the untouched ones as the kernel's shared zero page: no memory is used).
 */
static void rg_exim_touch_static(void)
{
	Dl_info self;

	if (dladdr((const void *)rg_exim_touch_static, &self) != 0)
		dl_iterate_phdr(rg_exim_touch_object, self.dli_fbase);
}

/*
 * preload [OPTIONS] -> "" (empty): for smtp_accept_max_per_host, which Exim's daemon
 * expands before it forks each SMTP process. Why: the module is then loaded once, in the
 * daemon, and every connection's process inherits it mapped and its config parsed, instead
 * of loading both afresh. Why so little here: it runs in the daemon, where a crash stops
 * the whole gateway, and whatever it opened would be shared by every child: so it reads
 * the config file(s) and maps the counters file (a MAP_SHARED mapping, which children may
 * share), nothing else (no store, resolver, LDAP or socket). A config it
 * cannot read is left for the checks to report (the yield stays empty); only misuse (more
 * than one argument) gives FAIL, which Exim's daemon writes to its panic log.
 */
int preload(uschar **yield, int argc, uschar *argv[])
{
	static int touched;
	char err[RG_ERRLEN];

	if (argc > 1)
		return rg_exim_usage(yield, "rcptguard: preload takes [OPTIONS] only");
	rg_exim_begin();
	if (!touched) {
		rg_exim_touch_static();
		touched = 1;
	}
	if (engine_preload(argc > 0 ? (const char *)argv[0] : NULL, err, sizeof err) != RG_FOUND)
		rglog(RGLOG_DEBUG, "rcptguard: preload: %.200s", err);
	*yield = string_copy((const uschar *)"");
	return OK;
}

/* At load: says in which process (Exim -d), so that one can see where the module loads. */
__attribute__((constructor)) static void rg_exim_init(void)
{
	if (debug_selector != 0)
		debug_printf("rcptguard: module loaded in process %ld\n", (long)getpid());
}

/* At exit() (not _exit()): QUIT open callout connections this process opened. */
__attribute__((destructor)) static void rg_exim_fini(void)
{
	rglog_set_hook(NULL, 0);   /* Exim's logging may already be torn down */
	verify_shutdown();
}
