/*
 * dynlib.c - resolve a library's functions on first use (see dynlib.h for why).
 */
#include <dlfcn.h>
#include <stdio.h>

#include "dynlib.h"
#include "rg.h"

/* dlopen soname and fill every slot; all or nothing. */
int dynlib_load(const char *soname, const struct dynlib_sym *syms, size_t n, char *err, size_t errlen)
{
	void *h;
	size_t i;

	/* RTLD_LOCAL: the library's symbols must not interpose on Exim's or another module's. */
	h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		snprintf(err, errlen, "cannot load %s: %s", soname, dlerror());
		return RG_CONFIG;
	}
	for (i = 0; i < n; i++) {
		*syms[i].slot = dlsym(h, syms[i].name);
		if (*syms[i].slot == NULL) {
			snprintf(err, errlen, "%s has no %s", soname, syms[i].name);
			while (i > 0)
				*syms[--i].slot = NULL;
			return RG_CONFIG;
		}
	}
	return RG_FOUND;
}
