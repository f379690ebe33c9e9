/*
 * smtp.h - a small, strict SMTP client for callouts.
 *
 * It speaks only what a callout needs (banner, EHLO with HELO fallback, MAIL, RCPT,
 * RSET, QUIT), bounds everything a remote can send (line length, number of
 * continuation lines, time), and reports every misbehaviour as RG_TEMPFAIL: a broken
 * destination says nothing about an address.
 *
 * Ownership: smtp_open() returns a connection the caller ends with smtp_close().
 */
#ifndef RG_SMTP_H
#define RG_SMTP_H

#include "rg.h"

#define SMTP_TEXT_MAX 256     /* sanitised reply text kept (first line, then "/" ...) */

struct smtp_reply {
	int code;                       /* 3-digit reply code, 0 when none was read */
	char text[SMTP_TEXT_MAX];       /* sanitised text of the reply, lines joined by " / " */
};

struct smtp_timeouts {
	unsigned connect_ms;   /* per TCP connect attempt */
	unsigned command_ms;   /* per command: from send to the whole reply */
};

struct smtp_conn;

/*
 * Connect to the first host of hosts that answers ("h", "h:port", "[v6]", "[v6]:port",
 * "ip", separated by spaces or commas; names resolved with getaddrinfo), read the banner
 * and say EHLO helo (HELO when EHLO gets 5xx). Stops at deadline_ms (util_monotonic_ms
 * clock). RG_FOUND with *out set; RG_TEMPFAIL (refused, timeout, 4xx/5xx banner or EHLO,
 * garbage) with the last reply in *last (code 0 when none) and the reason in err;
 * RG_CONFIG when hosts does not parse.
 */
int smtp_open(const char *hosts, unsigned default_port, const char *helo,
	      const struct smtp_timeouts *t, int64_t deadline_ms,
	      struct smtp_conn **out, struct smtp_reply *last, char *err, size_t errlen);

/*
 * Send one command line (without CRLF; must hold no CR/LF: RG_CONFIG otherwise) and
 * read its whole reply, within min(command timeout, deadline_ms).
 * RG_FOUND with *r filled (any code); RG_TEMPFAIL on I/O error, timeout, malformed,
 * over-long or endless replies, after which the connection is dead (smtp_alive() is 0).
 */
int smtp_command(struct smtp_conn *c, const char *line, int64_t deadline_ms,
		 struct smtp_reply *r, char *err, size_t errlen);

/* Whether the connection can still be used. */
int smtp_alive(const struct smtp_conn *c);

/* "host:port" of the peer, for logs. */
const char *smtp_peer(const struct smtp_conn *c);

/* Send QUIT (if alive) without waiting for the 221, close, free. NULL is fine. */
void smtp_close(struct smtp_conn *c);

#endif
