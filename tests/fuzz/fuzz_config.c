/* fuzz_config.c - libFuzzer target: config files and ACL options never crash the parser. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64] = "/tmp/rg-fuzz-conf-XXXXXX", err[RG_ERRLEN], opts[2048];
	static struct settings s;
	struct config *c;
	int fd;

	if (size < sizeof opts) {
		memcpy(opts, data, size);
		opts[size] = '\0';
		config_defaults(&s);
		config_apply_options(&s, opts, err, sizeof err);
		config_option_path(opts, path, sizeof path, err, sizeof err);
		strcpy(path, "/tmp/rg-fuzz-conf-XXXXXX");
	}
	fd = mkstemp(path);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	if (config_load(path, &c, err, sizeof err) == RG_FOUND) {
		config_for_domain(c, "a.example.org", &s);
		config_free(c);
	}
	unlink(path);
	return 0;
}
