/*
 * smtp.c - a small, strict SMTP client for callouts.
 *
 * What: connect to the first host of a list that answers (smtp_host.c parses and
 * resolves the list), read its banner, say EHLO (HELO when EHLO gets 5xx), then send one
 * command at a time and read its whole reply.
 *
 * Why strict: the peer is a customer's server that may be broken, overloaded or hostile,
 * and we run inside an Exim process that has a client waiting. So the peer can never hold
 * us past the caller's deadline (every wait is a poll() bounded by it), never grow our
 * memory (fixed per-connection buffer, limits on line length, lines and bytes per reply),
 * and never put control bytes into logs or replies (text is sanitised). Every
 * misbehaviour is RG_TEMPFAIL: a broken destination says nothing about an address.
 *
 * Library code: no exit, no abort, no printing; the dialogue goes to rglog at debug level.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "rglog.h"
#include "smtp.h"
#include "smtp_host.h"

#define SMTP_CMD_MAX 1000              /* command line, without its CRLF */
#define SMTP_LINE_MAX 2048             /* reply line, without its CR LF */
#define SMTP_REPLY_LINES_MAX 100       /* lines in one reply */
#define SMTP_REPLY_BYTES_MAX (32 * 1024) /* bytes in one reply */
#define SMTP_BUF_SIZE 4096             /* > SMTP_LINE_MAX + 2: a whole line always fits */
#define SMTP_PEER_MAX 64               /* "[" IPv6 "]:" port */
#define SMTP_LOG_MAX 200               /* bytes of a line shown in the debug log */

struct smtp_conn {
	int fd;                  /* -1 once the connection is dead */
	unsigned command_ms;     /* per-command bound */
	char peer[SMTP_PEER_MAX];
	size_t start, end;       /* unread bytes are buf[start..end) */
	char buf[SMTP_BUF_SIZE]; /* per connection, so bytes that arrive early are kept */
};


/* Whether ch is an ASCII letter (locale-independent on purpose). */
static int smtp_is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* Whether ch is an ASCII digit. */
static int smtp_is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* The earlier of now + ms and the deadline (ms 0: the deadline alone). */
static int64_t bound_end(int64_t now, unsigned ms, int64_t deadline)
{
	if (ms == 0 || now + (int64_t)ms > deadline)
		return deadline;
	return now + (int64_t)ms;
}

/* Wait until fd is ready for events or end passes: 1 ready, 0 timed out, -1 error (errno). */
static int smtp_wait_fd(int fd, short events, int64_t end)
{
	struct pollfd pfd;
	int64_t left;
	int rc;

	for (;;) {
		left = end - util_monotonic_ms();
		if (left <= 0)
			return 0;
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		rc = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (rc > 0)
			return 1;    /* POLLERR/POLLHUP too: the next call reports them */
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

/* Format the numeric address of sa as "ip:port" or "[v6]:port". */
static void smtp_format_peer(char *dst, size_t size, const struct sockaddr *sa, socklen_t salen)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	if (getnameinfo(sa, salen, host, sizeof host, serv, sizeof serv,
			NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		util_strlcpy(dst, "?", size);
		return;
	}
	if (sa->sa_family == AF_INET6)
		util_snprintf(dst, size, "[%s]:%s", host, serv);
	else
		util_snprintf(dst, size, "%s:%s", host, serv);
}

/* Connect to ai without blocking, within min(connect_ms, deadline); the fd, or -1 with err. */
static int smtp_tcp_connect(const struct addrinfo *ai, const char *peer, unsigned connect_ms,
		       int64_t deadline, char *err, size_t errlen)
{
	int64_t start = util_monotonic_ms(), end = bound_end(start, connect_ms, deadline);
	socklen_t sl = sizeof(int);
	int fd, rc, soerr = 0, one = 1;

	/* Why CLOEXEC: Exim forks and execs pipe transports; the socket must not leak into them.
	 * Why NONBLOCK: every wait must be a poll() bounded by our deadline. */
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0) {
		util_snprintf(err, errlen, "%s: socket: %s", peer, strerror(errno));
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS && errno != EINTR) {
			util_snprintf(err, errlen, "%s: connect: %s", peer, strerror(errno));
			close(fd);
			return -1;
		}
		rc = smtp_wait_fd(fd, POLLOUT, end);
		if (rc == 0) {
			util_snprintf(err, errlen, "%s: connect: timeout after %lld ms", peer,
				      (long long)(end - start));
			close(fd);
			return -1;
		}
		if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			soerr = errno;
		if (soerr != 0) {
			util_snprintf(err, errlen, "%s: connect: %s", peer, strerror(soerr));
			close(fd);
			return -1;
		}
	}
	/* Why TCP_NODELAY: we send small commands and wait for each reply; with Nagle, a
	 * command that follows an unacknowledged one waits for the peer's delayed ACK (~40 ms). */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

/* Mark c dead: close its socket and forget buffered bytes. */
static void smtp_conn_kill(struct smtp_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->start = c->end = 0;
}

/* Log one dialogue line, sanitised and bounded, when debug output is wanted. */
static void smtp_log_line(const struct smtp_conn *c, const char *dir, const char *line, size_t len)
{
	char shown[SMTP_LOG_MAX + 1];

	if (!rglog_debug_enabled())
		return;
	util_sanitise(shown, sizeof shown, line, len);
	rglog(RGLOG_DEBUG, "callout %s %s %.200s", c->peer, dir, shown);
}

/* Send all of buf before end; 0, or -1 with err. */
static int smtp_send_all(struct smtp_conn *c, const char *buf, size_t len, int64_t start, int64_t end,
		    const char *what, char *err, size_t errlen)
{
	size_t off = 0;
	ssize_t n;
	int rc;

	while (off < len) {
		/* Why MSG_NOSIGNAL: a peer that has gone would raise SIGPIPE, which kills Exim. */
		n = send(c->fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			rc = smtp_wait_fd(c->fd, POLLOUT, end);
			if (rc > 0)
				continue;
			if (rc == 0)
				util_snprintf(err, errlen, "%s: timeout after %lld ms sending %s", c->peer,
					      (long long)(end - start), what);
			else
				util_snprintf(err, errlen, "%s: poll: %s", c->peer, strerror(errno));
			return -1;
		}
		if (errno == EPIPE || errno == ECONNRESET)
			util_snprintf(err, errlen, "%s: connection closed sending %s", c->peer, what);
		else
			util_snprintf(err, errlen, "%s: send %s: %s", c->peer, what, strerror(errno));
		return -1;
	}
	return 0;
}

/* Next reply line before end: 0 with *line and *len (CR LF cut; valid until the next call)
 * and *raw (bytes consumed), or -1 with err. */
static int smtp_read_line(struct smtp_conn *c, int64_t start, int64_t end, const char *what,
		     const char **line, size_t *len, size_t *raw, char *err, size_t errlen)
{
	char *lf;
	size_t n;
	ssize_t got;
	int rc;

	for (;;) {
		lf = memchr(c->buf + c->start, '\n', c->end - c->start);
		if (lf != NULL) {
			*line = c->buf + c->start;
			n = (size_t)(lf - *line);
			*raw = n + 1;
			c->start += n + 1;
			if (n > 0 && (*line)[n - 1] == '\r')
				n--;
			*len = n;
			if (n > SMTP_LINE_MAX) {
				smtp_log_line(c, "<<", *line, n);   /* its start, for -d */
				break;
			}
			return 0;
		}
		/* Why: a line cannot be longer than this; waiting for its end would let the
		 * peer fill memory or time. (+1: its CR may be here already.) */
		if (c->end - c->start > SMTP_LINE_MAX + 1) {
			smtp_log_line(c, "<<", c->buf + c->start, c->end - c->start);
			break;
		}
		if (c->start > 0) {
			memmove(c->buf, c->buf + c->start, c->end - c->start);
			c->end -= c->start;
			c->start = 0;
		}
		rc = smtp_wait_fd(c->fd, POLLIN, end);
		if (rc == 0) {
			util_snprintf(err, errlen, "%s: timeout after %lld ms waiting for %s", c->peer,
				      (long long)(end - start), what);
			return -1;
		}
		if (rc < 0) {
			util_snprintf(err, errlen, "%s: poll: %s", c->peer, strerror(errno));
			return -1;
		}
		got = recv(c->fd, c->buf + c->end, sizeof c->buf - c->end, 0);
		if (got == 0) {
			util_snprintf(err, errlen, "%s: connection closed waiting for %s", c->peer, what);
			return -1;
		}
		if (got < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			/* Why the same words as EOF: a peer that closes with our command unread
			 * resets instead; which one we see is a matter of timing. */
			if (errno == ECONNRESET) {
				util_snprintf(err, errlen, "%s: connection closed (reset) waiting for %s",
					      c->peer, what);
				return -1;
			}
			util_snprintf(err, errlen, "%s: recv waiting for %s: %s", c->peer, what,
				      strerror(errno));
			return -1;
		}
		c->end += (size_t)got;
	}
	util_snprintf(err, errlen, "%s: reply too long (a line over %d bytes) waiting for %s",
		      c->peer, SMTP_LINE_MAX, what);
	return -1;
}

/* Read one whole reply before end into r; 0, or -1 with err (r->code is then 0). */
static int smtp_read_reply(struct smtp_conn *c, int64_t start, int64_t end, const char *what,
		      struct smtp_reply *r, char *err, size_t errlen)
{
	const char *l, *text;
	size_t len, raw, total = 0, o, textlen;
	int lines = 0, code;

	r->code = 0;
	r->text[0] = '\0';
	for (;;) {
		if (smtp_read_line(c, start, end, what, &l, &len, &raw, err, errlen) < 0)
			return -1;
		smtp_log_line(c, "<<", l, len);
		total += raw;
		/* Why: an endless reply would otherwise hold us until the deadline, or forever. */
		if (++lines > SMTP_REPLY_LINES_MAX || total > SMTP_REPLY_BYTES_MAX) {
			util_snprintf(err, errlen,
				      "%s: reply too long (over %d lines or %d bytes) waiting for %s",
				      c->peer, SMTP_REPLY_LINES_MAX, SMTP_REPLY_BYTES_MAX, what);
			r->code = 0;
			return -1;
		}
		/* Strict syntax (RFC 5321 4.2): a peer that sends anything else is not speaking
		 * SMTP, and guessing what it meant could turn garbage into a verdict. */
		if (len < 3 || l[0] < '2' || l[0] > '5' || !smtp_is_digit(l[1]) || !smtp_is_digit(l[2]) ||
		    (len > 3 && l[3] != '-' && l[3] != ' ')) {
			util_snprintf(err, errlen, "%s: malformed %s", c->peer, what);
			r->code = 0;
			return -1;
		}
		code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
		if (lines > 1 && code != r->code) {
			util_snprintf(err, errlen, "%s: malformed %s (codes %d and %d)", c->peer,
				      what, r->code, code);
			r->code = 0;
			return -1;
		}
		r->code = code;
		text = len > 4 ? l + 4 : "";
		textlen = len > 4 ? len - 4 : 0;
		/* Kept text is for display only: truncation is fine, control bytes are not. */
		if (lines == 1) {
			util_sanitise(r->text, sizeof r->text, text, textlen);
		} else {
			o = strlen(r->text);
			if (o + 4 < sizeof r->text) {
				memcpy(r->text + o, " / ", 4);
				util_sanitise(r->text + o + 3, sizeof r->text - o - 3, text, textlen);
			}
		}
		if (len == 3 || l[3] == ' ')
			return 0;
	}
}

/* The verb of a command for messages ("RCPT TO", "EHLO"), never its argument. */
static void smtp_command_name(char *dst, size_t size, const char *line)
{
	size_t i = 0, j;

	while (i < 8 && smtp_is_alpha(line[i]))
		i++;
	if (line[i] == ' ') {
		for (j = i + 1; j < i + 9 && smtp_is_alpha(line[j]); j++)
			;
		if (line[j] == ':' && j > i + 1)
			i = j;              /* "MAIL FROM", "RCPT TO" */
	}
	if (i == 0 || i + 1 > size) {
		util_strlcpy(dst, "command", size);
		return;
	}
	memcpy(dst, line, i);
	dst[i] = '\0';
}

/* Whether anything (bytes or EOF) arrived that no command asked for. */
static int smtp_unasked(const struct smtp_conn *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };

	if (c->start != c->end)
		return 1;
	return poll(&p, 1, 0) != 0;
}

/* Send one command line and read its whole reply (see smtp.h). */
int smtp_command(struct smtp_conn *c, const char *line, int64_t deadline_ms,
		 struct smtp_reply *r, char *err, size_t errlen)
{
	char out[SMTP_CMD_MAX + 2], verb[16], what[32];
	int64_t start, end;
	size_t len;

	r->code = 0;
	r->text[0] = '\0';
	if (errlen > 0)
		err[0] = '\0';
	if (line == NULL)
		return util_snprintf(err, errlen, "no command"), RG_CONFIG;
	/* Why these checks: a CR or LF would smuggle a second command (say, a RCPT built
	 * from an address) into the session. A NUL cannot be sent: the line ends at it. */
	len = strnlen(line, SMTP_CMD_MAX + 1);
	if (len > SMTP_CMD_MAX)
		return util_snprintf(err, errlen, "command line longer than %d bytes", SMTP_CMD_MAX),
		       RG_CONFIG;
	if (strpbrk(line, "\r\n") != NULL)
		return util_snprintf(err, errlen, "command line holds CR or LF"), RG_CONFIG;
	if (c == NULL || c->fd < 0)
		return util_snprintf(err, errlen, "%s: connection is closed",
				     c ? c->peer : "callout"), RG_TEMPFAIL;
	smtp_command_name(verb, sizeof verb, line);
	util_snprintf(what, sizeof what, "reply to %s", verb);
	/* Why: bytes that came unasked (a doubled reply, a 421 sent while idle, EOF) would
	 * be read as the answer to this command and could turn a good address into a 550.
	 * A connection that is not quiet is out of step: dead, never trusted. */
	if (smtp_unasked(c)) {
		util_snprintf(err, errlen, "%s: unexpected data or close before %s", c->peer, verb);
		smtp_conn_kill(c);
		return RG_TEMPFAIL;
	}
	start = util_monotonic_ms();
	/* Why one bound for send and the WHOLE reply: a peer dripping a byte at a time
	 * must not reset a per-read timer and so hold us forever. */
	end = bound_end(start, c->command_ms, deadline_ms);
	if (end <= start) {
		util_snprintf(err, errlen, "%s: no time left for %s", c->peer, verb);
		smtp_conn_kill(c);   /* every RG_TEMPFAIL leaves the connection dead, as smtp.h says */
		return RG_TEMPFAIL;
	}
	smtp_log_line(c, ">>", line, len);
	memcpy(out, line, len);
	out[len] = '\r';
	out[len + 1] = '\n';
	if (smtp_send_all(c, out, len + 2, start, end, verb, err, errlen) < 0 ||
	    smtp_read_reply(c, start, end, what, r, err, errlen) < 0) {
		smtp_conn_kill(c);
		return RG_TEMPFAIL;
	}
	return RG_FOUND;
}

/* Whether helo can go on an EHLO line: 1..255 printable ASCII bytes, no space. */
static int smtp_valid_helo(const char *helo)
{
	size_t i;

	for (i = 0; helo[i] != '\0'; i++)
		if (i >= RG_DOMAIN_MAX || (unsigned char)helo[i] <= 0x20 || (unsigned char)helo[i] >= 0x7f)
			return 0;
	return i > 0;
}

/* Connect to one address, read the banner, EHLO/HELO: RG_FOUND with *out, or RG_TEMPFAIL. */
static int smtp_try_address(const struct addrinfo *ai, const char *helo, const struct smtp_timeouts *t,
		       int64_t deadline, struct smtp_conn **out, struct smtp_reply *last,
		       char *err, size_t errlen)
{
	struct smtp_conn *c;
	struct smtp_reply rep;
	char cmd[RG_DOMAIN_MAX + 8];
	int64_t start;

	c = calloc(1, sizeof *c);
	if (c == NULL)
		return util_snprintf(err, errlen, "out of memory"), RG_TEMPFAIL;
	c->fd = -1;
	c->command_ms = t->command_ms;
	smtp_format_peer(c->peer, sizeof c->peer, ai->ai_addr, ai->ai_addrlen);
	if (util_monotonic_ms() >= deadline) {
		util_snprintf(err, errlen, "%s: no time left to connect", c->peer);
		goto fail;
	}
	if (rglog_debug_enabled())
		rglog(RGLOG_DEBUG, "callout %s: connecting", c->peer);
	c->fd = smtp_tcp_connect(ai, c->peer, t->connect_ms, deadline, err, errlen);
	if (c->fd < 0)
		goto fail;
	start = util_monotonic_ms();
	if (smtp_read_reply(c, start, bound_end(start, t->command_ms, deadline), "banner", &rep,
		       err, errlen) < 0) {
		smtp_conn_kill(c);
		goto fail;
	}
	*last = rep;
	if (rep.code / 100 != 2) {
		util_snprintf(err, errlen, "%s: banner: %d %.100s", c->peer, rep.code, rep.text);
		goto fail;
	}
	util_snprintf(cmd, sizeof cmd, "EHLO %s", helo);
	if (smtp_command(c, cmd, deadline, &rep, err, errlen) != RG_FOUND)
		goto fail;
	*last = rep;
	if (rep.code / 100 == 5) {
		/* An old server that knows no EHLO: HELO is all a callout needs. */
		util_snprintf(cmd, sizeof cmd, "HELO %s", helo);
		if (smtp_command(c, cmd, deadline, &rep, err, errlen) != RG_FOUND)
			goto fail;
		*last = rep;
	}
	if (rep.code / 100 != 2) {
		util_snprintf(err, errlen, "%s: %.4s refused: %d %.100s", c->peer, cmd, rep.code,
			      rep.text);
		goto fail;
	}
	*out = c;
	return RG_FOUND;
fail:
	smtp_close(c);
	return RG_TEMPFAIL;
}

/* Connect to the first host that answers, banner, EHLO/HELO (see smtp.h). */
int smtp_open(const char *hosts, unsigned default_port, const char *helo,
	      const struct smtp_timeouts *t, int64_t deadline_ms,
	      struct smtp_conn **out, struct smtp_reply *last, char *err, size_t errlen)
{
	struct smtp_host h[SMTP_HOST_LIST_MAX];
	struct addrinfo *res, *ai;
	char myname[RG_DOMAIN_MAX + 1], label[SMTP_HOST_LABEL_MAX], prev[RG_ERRLEN];
	size_t n, i;

	*out = NULL;
	last->code = 0;
	last->text[0] = '\0';
	if (errlen > 0)
		err[0] = '\0';
	if (t == NULL)
		return util_snprintf(err, errlen, "no callout timeouts"), RG_CONFIG;
	if (smtp_host_parse_list(hosts, default_port, h, &n, err, errlen) != RG_FOUND)
		return RG_CONFIG;
	if (helo == NULL || helo[0] == '\0') {
		if (gethostname(myname, sizeof myname) < 0 ||
		    (myname[sizeof myname - 1] = '\0', !smtp_valid_helo(myname)))
			util_strlcpy(myname, "localhost", sizeof myname);
		helo = myname;
	} else if (!smtp_valid_helo(helo)) {
		return util_snprintf(err, errlen, "bad callout HELO name"), RG_CONFIG;
	}
	for (i = 0; i < n; i++) {
		if (util_monotonic_ms() >= deadline_ms) {
			/* Say which hosts were never tried, after the reason the others failed. */
			smtp_host_label(label, sizeof label, &h[i]);
			util_strlcpy(prev, err, sizeof prev);
			if (prev[0] != '\0')
				util_snprintf(err, errlen, "%.150s; no time left for %.80s", prev, label);
			else
				util_snprintf(err, errlen, "no time left for %.80s", label);
			break;
		}
		if (smtp_host_resolve(&h[i], &res, err, errlen) != RG_FOUND)
			continue;
		for (ai = res; ai != NULL; ai = ai->ai_next)
			if (smtp_try_address(ai, helo, t, deadline_ms, out, last, err, errlen) == RG_FOUND) {
				freeaddrinfo(res);
				return RG_FOUND;
			}
		freeaddrinfo(res);
	}
	return RG_TEMPFAIL;
}

/* Whether c can still be used. */
int smtp_alive(const struct smtp_conn *c)
{
	return c != NULL && c->fd >= 0;
}

/* "ip:port" ("[v6]:port") of the peer. */
const char *smtp_peer(const struct smtp_conn *c)
{
	return c != NULL ? c->peer : "(no connection)";
}

/* QUIT without waiting for the 221, close, free. */
void smtp_close(struct smtp_conn *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0) {
		smtp_log_line(c, ">>", "QUIT", 4);
		/* Why not wait for the 221: nothing depends on it, and Exim corks it (TCP_CORK)
		 * for ~200 ms. Why MSG_DONTWAIT: a full send buffer must not block us here. */
		(void)send(c->fd, "QUIT\r\n", 6, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	smtp_conn_kill(c);
	free(c);
}
