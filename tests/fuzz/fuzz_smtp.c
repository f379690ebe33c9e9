/* fuzz_smtp.c - libFuzzer target: a destination's replies (any bytes on the socket) and
 * host lists never crash the SMTP client; a reply it accepts is a valid code with
 * sanitised text. The first input byte picks host list or reply. smtp.c is included for
 * its static reader (smtp_read_reply); host lists go through smtp_host_parse_list(). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../core/smtp.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feed bytes through a socketpair (closed after them) and read replies until an error. */
static void fuzz_replies(const uint8_t *data, size_t size)
{
	struct smtp_conn c;
	struct smtp_reply r;
	char err[RG_ERRLEN];
	int sv[2], n = 0;

	if (size > 60000 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return;
	if (send(sv[1], data, size, 0) != (ssize_t)size) {
		close(sv[0]);
		close(sv[1]);
		return;
	}
	close(sv[1]);
	memset(&c, 0, sizeof c);
	c.fd = sv[0];
	c.command_ms = 1000;
	strcpy(c.peer, "fuzz:25");
	while (n++ < 200 && smtp_read_reply(&c, util_monotonic_ms(), util_monotonic_ms() + 1000, "reply", &r, err,
					    sizeof err) == 0) {
		if (r.code < 200 || r.code > 599)
			abort();
		for (const char *p = r.text; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e || *p == '"' || *p == '\\')
				abort();
	}
	close(sv[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_host h[SMTP_HOST_LIST_MAX];
	char in[2048], err[RG_ERRLEN];
	size_t n = 0, i;

	if (size == 0)
		return 0;
	if (data[0] & 1) {
		fuzz_replies(data + 1, size - 1);
		return 0;
	}
	if (size - 1 >= sizeof in)
		return 0;
	memcpy(in, data + 1, size - 1);
	in[size - 1] = '\0';
	if (smtp_host_parse_list(in, 25, h, &n, err, sizeof err) == RG_FOUND) {
		if (n == 0 || n > SMTP_HOST_LIST_MAX)
			abort();
		for (i = 0; i < n; i++)
			if (h[i].port == 0 || h[i].port > 65535 || h[i].name[0] == '\0')
				abort();
	}
	return 0;
}
