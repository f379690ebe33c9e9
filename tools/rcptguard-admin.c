/*
 * rcptguard-admin.c - the customers' web interface and API daemon: argument parsing,
 * "serve" and the "token" verbs. The HTTP side is admin_http.c; the resources are
 * admin_domains.c and admin_ops.c; the page is admin_page.c.
 *
 * Exit status: 0 done, 1 not found, 2 temporary error, 64 usage, 78 configuration error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "engine.h"
#include "rglog.h"
#include "verify.h"

/* Core log lines go to stderr (systemd's journal): errors and info, debug with -d. */
static void admin_core_log(int level, const char *line)
{
	(void)level;
	fprintf(stderr, "%s\n", line);
}

/* Usage text; returns 64. */
static int admin_usage(void)
{
	fputs("usage: rcptguard-admin [-c CONFIG] [-d] serve\n"
	      "       rcptguard-admin [-c CONFIG] token add SCOPE NAME   (SCOPE: * or domain[,domain...])\n"
	      "       rcptguard-admin [-c CONFIG] token list\n"
	      "       rcptguard-admin [-c CONFIG] token remove NAME\n", stderr);
	return 64;
}

int main(int argc, char **argv)
{
	const struct settings *s;
	char err[RG_ERRLEN];
	int ch, debug = 0, rc;
	const char *path;

	while ((ch = getopt(argc, argv, "+c:dh")) != -1) {
		switch (ch) {
		case 'c':
			setenv("RCPTGUARD_CONFIG", optarg, 1);
			break;
		case 'd':
			debug = 1;
			break;
		default:
			return admin_usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return admin_usage();
	path = getenv("RCPTGUARD_CONFIG");
	admin.config_path = path && *path ? path : CONFIG_DEFAULT_PATH;
	rglog_set_hook(admin_core_log, debug);
	if (engine_settings(NULL, "", &s, err, sizeof err) != RG_FOUND) {
		fprintf(stderr, "rcptguard-admin: %s\n", err);
		return 78;
	}
	admin.g = *s;
	if (strcmp(argv[0], "token") == 0)
		return admin_token_cmd(admin.g.admin_tokens, argc - 1, argv + 1);
	if (strcmp(argv[0], "serve") != 0 || argc != 1)
		return admin_usage();
	if (admin.g.admin_tokens[0] == '\0') {
		fprintf(stderr, "rcptguard-admin: admin_tokens is not set in %s\n", admin.config_path);
		return 78;
	}
	rc = admin_serve();
	verify_shutdown();
	return rc;
}
