/*
 * ctl_fcrdns.c - "rcptguardctl fcrdns IP [-o OPTIONS]": the FCrDNS check as Exim runs it,
 * printing the yield line (or JSON with --json). Exit 0 pass, 1 fail, 2 defer, 78 config.
 */
#include "ctl.h"
#include "fcrdns.h"

/* fcrdns IP [-o OPTIONS] */
int ctl_fcrdns(int argc, char **argv)
{
	struct yield y;
	int rc;

	if (argc != 1 && argc != 3)
		return ctl_usage();
	if (argc == 3 && ctl_options(argc, argv, 1) == NULL)
		return ctl_usage();
	rc = fcrdns_run(argv[0], ctl_options(argc, argv, 1), &y);
	ctl_print_yield(y.line);
	fcrdns_shutdown();
	return ctl_status(rc);
}
