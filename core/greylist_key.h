/*
 * greylist_key.h - what identifies a greylisting triplet: the client's network (not its
 * address: large senders retry from another host of the same farm), the sender with its
 * per-message decorations removed (BATV tags, SRS rewriting, VERP numbers: a large
 * sender's return path changes with every message), and the recipient.
 *
 * Store keys:  g:<network> <sender> <recipient>   (a triplet)
 *              a:<network>                        (the network's auto-whitelist entry)
 * Bytes at or below space and DEL become '?' in keys (a key is one line in listings).
 */
#ifndef RG_GREYLIST_KEY_H
#define RG_GREYLIST_KEY_H

#include "rg.h"

#define GREYLIST_NET_MAX 64       /* "ffff:...:ffff/128" */

/* The network of ip ("192.0.2.7", "2001:db8::5", "::ffff:192.0.2.7") with the prefix
 * for its family: "192.0.2.0/24", "2001:db8::/64". 0, or -1 when ip is not an address. */
int greylist_key_network(const char *ip, unsigned v4prefix, unsigned v6prefix, char *out, size_t size);

/* A CIDR ("192.0.2.0/25", "2001:db8::/48", or a bare address: /32, /128) parsed into
 * 16 bytes (IPv4 as ::ffff:a.b.c.d, its prefix + 96) and a prefix length. 0 or -1. */
int greylist_key_cidr(const char *cidr, unsigned char addr[16], unsigned *prefix);

/* An address ("192.0.2.7") as 16 bytes, IPv4 mapped as above. 0 or -1. */
int greylist_key_addr(const char *ip, unsigned char addr[16]);

/* Whether addr lies in net/prefix (all three as greylist_key_cidr makes them). */
int greylist_key_in(const unsigned char addr[16], const unsigned char net[16], unsigned prefix);

/* The sender as greylisting sees it: "<>" for the null sender; lower-cased; BATV
 * (prvs=TAG=, msprvs1=TAG=, btv1=TAG=) removed; SRS0/SRS1 turned back into the original
 * address; in the local part, tokens (between - . _ + =) of digits, or of 8 or more hex
 * digits with at least one digit, become '#'. 0, or -1 when it does not fit. */
int greylist_key_sender(const char *sender, char *out, size_t size);

/* The recipient as a key: lower-cased, brackets removed. 0 or -1. */
int greylist_key_recipient(const char *rcpt, char *out, size_t size);

/* Store keys of a triplet and of a network's auto-whitelist entry. 0 or -1 (too long). */
int greylist_key_triplet(char *key, size_t size, const char *net, const char *sender, const char *rcpt);
int greylist_key_awl(char *key, size_t size, const char *net);

#endif
