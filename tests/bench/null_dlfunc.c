/*
 * null_dlfunc.c - the smallest possible Exim dlfunc module, for figure 3 of the benchmark:
 * loading it and calling it shows what any ${dlfunc} module costs per connection on this
 * machine (fresh process, dlopen, one call), the floor under rcptguard.so's figure. Also
 * behind the shipped snippets in figure 1 (front D): preload and quit as well, so that
 * the RCPT/s of that front are what Exim's ACL and ${dlfunc} cost with any module.
 */
#define DLFUNC_IMPL
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <local_scan.h>
#pragma GCC diagnostic pop

int verify_recipient(uschar **yield, int argc, uschar *argv[]) __attribute__((visibility("default")));
int preload(uschar **yield, int argc, uschar *argv[]) __attribute__((visibility("default")));
int quit(uschar **yield, int argc, uschar *argv[]) __attribute__((visibility("default")));

int verify_recipient(uschar **yield, int argc, uschar *argv[])
{
	(void)argc;
	(void)argv;
	*yield = string_copy((const uschar *)"result=pass source=null");
	return OK;
}

int preload(uschar **yield, int argc, uschar *argv[])
{
	(void)argc;
	(void)argv;
	*yield = string_copy((const uschar *)"");
	return OK;
}

int quit(uschar **yield, int argc, uschar *argv[])
{
	(void)argc;
	(void)argv;
	*yield = string_copy((const uschar *)"result=ok");
	return OK;
}
