/*
 * dynlib.h - load a heavy library (libldap, libunbound) on first use, not at dlopen of
 * the module.
 *
 * Why: Exim dlopen()s the module afresh in every SMTP process. libldap pulls GnuTLS and
 * SASL (about 1.5 ms of dlopen here), libunbound OpenSSL (about 0.5 ms): linked in, every
 * connection would pay that even when no check needs them. A user fills a table of
 * function pointers from the library's symbol names once per process.
 *
 * Ownership: the library stays loaded for the life of the process (never dlclose()d:
 * libraries with TLS state do not unload safely).
 */
#ifndef RG_DYNLIB_H
#define RG_DYNLIB_H

#include <stddef.h>

/* One wanted symbol: its name and where to store its address. */
struct dynlib_sym {
	const char *name;
	void **slot;
};

/* dlopen soname (RTLD_NOW | RTLD_LOCAL) and resolve every symbol of syms[0..n-1].
 * RG_FOUND, or RG_CONFIG with the loader's message in err (library or symbol missing):
 * an operator must install the library. Slots are left NULL on failure. */
int dynlib_load(const char *soname, const struct dynlib_sym *syms, size_t n, char *err, size_t errlen);

#endif
