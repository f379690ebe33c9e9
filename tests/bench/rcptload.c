/*
 * rcptload.c - a small SMTP load client for the benchmark (tests/bench/run.sh).
 *
 *   rcptload -p PORT[,PORT...] -f ADDRESSES [-c CLIENTS] [-t SECONDS] [-s SESSIONS] [-n RCPTS]
 *
 * CLIENTS processes each run SMTP sessions against 127.0.0.1:PORT, one after the other,
 * until SECONDS have passed (a session under way is finished) or, with -s, SESSIONS
 * sessions each. A session: read the banner, EHLO, MAIL FROM, RCPTS x RCPT TO (the
 * addresses of the file, one per line, in turn), RSET, QUIT. With several ports, each
 * client's sessions go to them in turn (interleaved, so that drift in the machine's load
 * touches every port alike). Nothing is pipelined: each
 * command waits for its reply. The 221 to QUIT is not waited for (Exim 4.96 corks it,
 * which would add ~200 ms to every session).
 *
 * Prints one line of key=value figures:
 *   clients sessions rcpts ok bad errors wall_s rcpt_per_s session_us_p50 session_us_p99
 * then, with several ports, one line per port: port sessions session_us_p50 session_us_p90;
 * and the first unexpected reply (if any) on a line "first_bad=...". Exit 0 when every
 * session completed and every RCPT got a 250, 1 otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 64
#define MAX_ADDRS 10000
#define MAX_PORTS 5
#define MAX_SAMPLES 20000     /* session durations kept per client and port */
#define LINE_MAX_ 1024

struct client_result {
	long sessions, rcpts, ok, bad, errors;
	long nsamples[MAX_PORTS];
	char first_bad[200];
	uint32_t samples_us[MAX_PORTS][MAX_SAMPLES];
};

struct conn {
	int fd;
	char buf[8192];
	size_t len, off;
};

static char *addrs[MAX_ADDRS];
static size_t naddrs;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read one line (without CRLF) into line; 0 ok, -1 on EOF/error/timeout. */
static int read_line(struct conn *c, char *line, size_t size)
{
	size_t n = 0;

	for (;;) {
		while (c->off < c->len) {
			char ch = c->buf[c->off++];

			if (ch == '\n') {
				if (n > 0 && line[n - 1] == '\r')
					n--;
				line[n] = '\0';
				return 0;
			}
			if (n + 1 < size)
				line[n++] = ch;
		}
		ssize_t r = read(c->fd, c->buf, sizeof c->buf);

		if (r <= 0)
			return -1;
		c->len = (size_t)r;
		c->off = 0;
	}
}

/* Read a whole (multi-line) reply; returns its code, -1 on error. last gets the last line. */
static int read_reply(struct conn *c, char *last, size_t size)
{
	for (;;) {
		if (read_line(c, last, size) < 0)
			return -1;
		if (strlen(last) < 3)
			return -1;
		if (last[3] != '-')
			return atoi(last);
	}
}

static int send_all(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, s, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Send a command, read its reply; returns the code or -1. */
static int command(struct conn *c, const char *cmd, char *last, size_t size)
{
	char out[LINE_MAX_];
	int n = snprintf(out, sizeof out, "%s\r\n", cmd);

	if (n < 0 || (size_t)n >= sizeof out || send_all(c->fd, out, (size_t)n) < 0)
		return -1;
	return read_reply(c, last, size);
}

static void note_bad(struct client_result *r, const char *what, const char *reply)
{
	if (r->first_bad[0] == '\0')
		snprintf(r->first_bad, sizeof r->first_bad, "%.80s -> %.110s", what, reply);
}

/* One SMTP session; counts into r. */
static void session(int port, unsigned nrcpt, size_t *next, struct client_result *r)
{
	struct sockaddr_in sa;
	struct timeval tv = { 30, 0 };
	struct conn c;
	char line[LINE_MAX_], cmd[LINE_MAX_];
	int one = 1, code;
	unsigned i;

	memset(&c, 0, sizeof c);
	c.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c.fd < 0) {
		r->errors++;
		return;
	}
	setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c.fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		note_bad(r, "connect", strerror(errno));
		r->errors++;
		close(c.fd);
		return;
	}
	if ((code = read_reply(&c, line, sizeof line)) != 220) {
		note_bad(r, "banner", code < 0 ? "(no reply)" : line);
		goto fail;
	}
	if ((code = command(&c, "EHLO bench-client.test", line, sizeof line)) != 250) {
		note_bad(r, "EHLO", code < 0 ? "(no reply)" : line);
		goto fail;
	}
	if ((code = command(&c, "MAIL FROM:<bench@client.test>", line, sizeof line)) != 250) {
		note_bad(r, "MAIL", code < 0 ? "(no reply)" : line);
		goto fail;
	}
	for (i = 0; i < nrcpt; i++) {
		snprintf(cmd, sizeof cmd, "RCPT TO:<%s>", addrs[*next]);
		*next = (*next + 1) % naddrs;
		code = command(&c, cmd, line, sizeof line);
		if (code < 0) {
			note_bad(r, cmd, "(no reply)");
			goto fail;
		}
		r->rcpts++;
		if (code == 250) {
			r->ok++;
		} else {
			r->bad++;
			note_bad(r, cmd, line);
		}
	}
	if ((code = command(&c, "RSET", line, sizeof line)) != 250) {
		note_bad(r, "RSET", code < 0 ? "(no reply)" : line);
		goto fail;
	}
	send_all(c.fd, "QUIT\r\n", 6);
	close(c.fd);
	r->sessions++;
	return;
fail:
	r->errors++;
	close(c.fd);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int usage(void)
{
	fprintf(stderr, "usage: rcptload -p PORT[,PORT...] -f ADDRESSES [-c CLIENTS] [-t SECONDS] [-s SESSIONS] [-n RCPTS]\n");
	return 64;
}

int main(int argc, char **argv)
{
	int ports[MAX_PORTS], nports = 0, clients = 8, opt, k, q, failed = 0;
	double seconds = 5, t0, wall;
	long max_sessions = 0;
	unsigned nrcpt = 100;
	const char *file = NULL;
	struct client_result *res, tot;
	char line[LINE_MAX_];
	uint32_t *all;
	size_t nall = 0;
	FILE *f;

	while ((opt = getopt(argc, argv, "p:f:c:t:s:n:")) != -1) {
		switch (opt) {
		case 'p':
			for (char *tok = strtok(optarg, ","); tok; tok = strtok(NULL, ",")) {
				if (nports == MAX_PORTS) {
					fprintf(stderr, "rcptload: more than %d ports\n", MAX_PORTS);
					return 2;
				}
				if ((ports[nports] = atoi(tok)) > 0)
					nports++;
			}
			break;
		case 'f': file = optarg; break;
		case 'c': clients = atoi(optarg); break;
		case 't': seconds = atof(optarg); break;
		case 's': max_sessions = atol(optarg); break;
		case 'n': nrcpt = (unsigned)atoi(optarg); break;
		default: return usage();
		}
	}
	if (nports == 0 || file == NULL || clients < 1 || clients > MAX_CLIENTS)
		return usage();
	if ((f = fopen(file, "r")) == NULL) {
		perror(file);
		return 2;
	}
	while (naddrs < MAX_ADDRS && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] && (addrs[naddrs] = strdup(line)) != NULL)
			naddrs++;
	}
	fclose(f);
	if (naddrs == 0) {
		fprintf(stderr, "rcptload: no addresses in %s\n", file);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	res = mmap(NULL, sizeof *res * (size_t)clients, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	memset(res, 0, sizeof *res * (size_t)clients);
	t0 = now_s();
	for (k = 0; k < clients; k++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("fork");
			return 2;
		}
		if (pid == 0) {
			struct client_result *r = &res[k];
			size_t next = ((size_t)k * 37) % naddrs;   /* clients start at different addresses */
			long done = 0;

			for (;; done++) {
				double s0 = now_s();
				int pi = (int)((done + k) % nports);
				long before = r->sessions;

				if (max_sessions > 0 ? done >= max_sessions * nports : s0 - t0 >= seconds)
					break;
				session(ports[pi], nrcpt, &next, r);
				if (r->sessions > before && r->nsamples[pi] < MAX_SAMPLES)
					r->samples_us[pi][r->nsamples[pi]++] = (uint32_t)((now_s() - s0) * 1e6);
				if (r->errors > 20)
					break;
			}
			_exit(0);
		}
	}
	for (k = 0; k < clients; k++) {
		int st;

		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed = 1;
	}
	wall = now_s() - t0;
	memset(&tot, 0, sizeof tot);
	all = malloc(sizeof *all * (size_t)clients * MAX_SAMPLES * MAX_PORTS);
	if (all == NULL)
		return 2;
	for (k = 0; k < clients; k++) {
		tot.sessions += res[k].sessions;
		tot.rcpts += res[k].rcpts;
		tot.ok += res[k].ok;
		tot.bad += res[k].bad;
		tot.errors += res[k].errors;
		if (tot.first_bad[0] == '\0' && res[k].first_bad[0])
			memcpy(tot.first_bad, res[k].first_bad, sizeof tot.first_bad);
		for (q = 0; q < nports; q++) {
			memcpy(all + nall, res[k].samples_us[q], sizeof *all * (size_t)res[k].nsamples[q]);
			nall += (size_t)res[k].nsamples[q];
		}
	}
	qsort(all, nall, sizeof *all, cmp_u32);
	printf("clients=%d sessions=%ld rcpts=%ld ok=%ld bad=%ld errors=%ld wall_s=%.3f rcpt_per_s=%.0f "
	       "session_us_p50=%u session_us_p99=%u\n",
	       clients, tot.sessions, tot.rcpts, tot.ok, tot.bad, tot.errors, wall,
	       wall > 0 ? (double)tot.ok / wall : 0.0,
	       nall ? all[nall / 2] : 0, nall ? all[nall * 99 / 100] : 0);
	for (q = 0; nports > 1 && q < nports; q++) {
		nall = 0;
		for (k = 0; k < clients; k++) {
			memcpy(all + nall, res[k].samples_us[q], sizeof *all * (size_t)res[k].nsamples[q]);
			nall += (size_t)res[k].nsamples[q];
		}
		qsort(all, nall, sizeof *all, cmp_u32);
		printf("port=%d sessions=%zu session_us_p50=%u session_us_p90=%u\n", ports[q], nall,
		       nall ? all[nall / 2] : 0, nall ? all[nall * 90 / 100] : 0);
	}
	if (tot.first_bad[0])
		printf("first_bad=%s\n", tot.first_bad);
	return failed || tot.bad || tot.errors ? 1 : 0;
}
