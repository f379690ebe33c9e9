/* fuzz_greylist_key.c - libFuzzer target: client addresses, CIDRs, senders (BATV, SRS,
 * VERP) and recipients from the SMTP session never crash the key builders, and a key
 * holds no byte at or below space or DEL (a key is one line in listings). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "greylist_key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* abort() if s holds a control byte, a space or DEL. */
static void check_line(const char *s, int spaces_ok)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f || (*s == ' ' && !spaces_ok))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[1024], net[GREYLIST_NET_MAX + 1], snd[600], rcpt[600], key[1500];
	unsigned char a[16], b[16];
	unsigned prefix;

	if (size >= sizeof in)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	if (greylist_key_network(in, 24, 64, net, sizeof net) == 0)
		check_line(net, 0);
	else
		strcpy(net, "192.0.2.0/24");
	if (greylist_key_cidr(in, a, &prefix) == 0) {
		if (prefix > 128)
			abort();
		if (greylist_key_addr("192.0.2.7", b) == 0)
			(void)greylist_key_in(b, a, prefix);
	}
	if (greylist_key_addr(in, a) == 0)
		if (greylist_key_in(a, a, 128) != 1)
			abort();
	if (greylist_key_sender(in, snd, sizeof snd) != 0)
		strcpy(snd, "<>");
	if (greylist_key_recipient(in, rcpt, sizeof rcpt) != 0)
		strcpy(rcpt, "r@example.org");
	if (greylist_key_triplet(key, sizeof key, net, snd, rcpt) == 0)
		check_line(key, 1);
	if (greylist_key_awl(key, sizeof key, net) == 0)
		check_line(key, 0);
	return 0;
}
