/*
 * admin_http.c - the HTTP side of rcptguard-admin on libmicrohttpd: listening sockets
 * (one daemon per admin_listen address, TLS through GnuTLS), body limits, the routing of
 * paths to handlers, authentication, replies and the request log.
 *
 * Why a thread per connection under connection limits: a slow or idle client holds one
 * thread until the connection timeout, never the others; the limits bound the threads.
 * Calls into core/ are serialised by admin_core_lock (core keeps per-process state).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin.h"
#include "engine.h"
#include "ipaddr.h"

#define HTTP_LISTEN_MAX 8
#define HTTP_CONN_LIMIT 64              /* connections per listening address */
#define HTTP_PER_IP_LIMIT 16            /* connections per client address */
#define HTTP_TIMEOUT 10                 /* seconds a connection may stay idle */
#define HTTP_PEM_MAX (1u << 20)
#define HTTP_RELOAD_SECONDS 1           /* how often a changed config is looked for */

struct admin_state admin;
pthread_mutex_t admin_core_lock = PTHREAD_MUTEX_INITIALIZER;

/* Per-connection state of one request while its body arrives. */
struct http_conn {
	char *buf;
	size_t len, cap, limit;
	int too_big;
};

struct http_listen {
	struct sockaddr_storage sa;
	int loopback;
	char text[80];
};

/* Log a line: bounded, control bytes replaced (request paths are attacker text). */
void admin_log(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	size_t i;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	for (i = 0; line[i]; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	fprintf(stderr, "rcptguard-admin: %s\n", line);
}

/* Log a change with the token's name. */
void admin_audit(const struct admin_req *q, const char *fmt, ...)
{
	char what[800];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	admin_log("change by token %s from %s: %s", q->tok ? q->tok->name : "-", q->peer, what);
}

/* Answer JSON. */
void admin_reply_json(struct admin_reply *r, unsigned status, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	free(r->body);
	r->status = s ? status : 500;
	r->body = s ? s : strdup("{\"error\":\"out of memory\"}");
	r->len = r->body ? strlen(r->body) : 0;
	r->ctype = "application/json";
}

/* Answer {"error": "..."}. */
void admin_reply_error(struct admin_reply *r, unsigned status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	admin_reply_json(r, status, json_pack("{s:s}", "error", msg));
}

/* A query argument. */
const char *admin_query(const struct admin_req *q, const char *key)
{
	return MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, key);
}

/* The body as a JSON object. */
json_t *admin_body_json(const struct admin_req *q, struct admin_reply *r)
{
	json_error_t e;
	json_t *j;

	if (q->body == NULL || q->len == 0)
		return json_object();
	j = json_loadb(q->body, q->len, JSON_REJECT_DUPLICATES, &e);
	if (j == NULL) {
		admin_reply_error(r, 400, "malformed JSON: line %d column %d: %.100s", e.line, e.column, e.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		admin_reply_error(r, 400, "malformed JSON: the body must be an object");
		return NULL;
	}
	return j;
}

/*
 * Why our own unescaping: a decoded NUL would cut the path short ("example.org%00x" would
 * reach example.org) and a decoded '/' would make one path segment two. Both, and every
 * other control byte, become 0x01, which no domain or address accepts: the request is
 * refused instead of silently meaning something else.
 */
static size_t http_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	char *r = s, *w = s;

	(void)cls;
	(void)c;
	while (*r) {
		if (r[0] == '%' && r[1] && r[2] && strchr("0123456789abcdefABCDEF", r[1]) &&
		    strchr("0123456789abcdefABCDEF", r[2])) {
			char hex[3] = { r[1], r[2], 0 };
			unsigned v = (unsigned)strtoul(hex, NULL, 16);

			*w++ = (char)(v < 0x20 || v == 0x7f || v == '/' || v == '\\' ? 0x01 : v);
			r += 3;
		} else {
			*w++ = (char)((unsigned char)*r < 0x20 ? 0x01 : *r);
			r++;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

/* libmicrohttpd's own error messages. */
static void http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	(void)cls;
	vsnprintf(line, sizeof line, fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	admin_log("http: %s", line);
}

/* The client's address as text, and whether it is in admin_metrics_from. */
static int http_peer(struct MHD_Connection *c, char *text, size_t size)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	unsigned char addr[16];
	int alen = 0, allowed = 0;
	char list[CONFIG_LIST_MAX], *tok, *save = NULL;

	util_strlcpy(text, "?", size);
	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		memcpy(addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		alen = 4;
	} else if (sa->sa_family == AF_INET6) {
		memcpy(addr, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
		alen = 16;
		if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)(const void *)addr)) {
			memmove(addr, addr + 12, 4);
			alen = 4;
		}
	}
	if (alen == 0)
		return 0;
	inet_ntop(alen == 4 ? AF_INET : AF_INET6, addr, text, (socklen_t)size);
	util_strlcpy(list, admin.g.admin_metrics_from, sizeof list);
	for (tok = strtok_r(list, " ,", &save); tok && !allowed; tok = strtok_r(NULL, " ,", &save)) {
		struct ipaddr ip;
		const unsigned char *net = ip.a;
		char *slash = strchr(tok, '/');
		int nlen;
		long bits;
		int i;

		if (slash)
			*slash = '\0';
		/* The one IP rule (ipaddr_parse): a ::ffff: network is its IPv4 one, as the client is. */
		if (ipaddr_parse(tok, &ip) < 0)
			continue;
		nlen = ip.family == AF_INET ? 4 : 16;
		bits = slash ? strtol(slash + 1, NULL, 10) : nlen * 8;
		if (nlen != alen || bits < 0 || bits > nlen * 8)
			continue;
		allowed = 1;
		for (i = 0; i < nlen && allowed; i++) {
			int b = bits - i * 8 >= 8 ? 8 : bits - i * 8 <= 0 ? 0 : (int)(bits - i * 8);
			unsigned char m = (unsigned char)(b ? 0xff << (8 - b) : 0);

			allowed = (addr[i] & m) == (net[i] & m);
		}
	}
	return allowed;
}

/* Queue the reply. */
static enum MHD_Result http_send(struct MHD_Connection *c, struct admin_reply *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (r->body == NULL)
		admin_reply_error(r, 500, "no answer");
	resp = MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(r->body);
		return MHD_NO;
	}
	r->body = NULL;
	MHD_add_response_header(resp, "Content-Type", r->ctype ? r->ctype : "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	/* Why: the page runs only its own script and style and talks only to this daemon. */
	MHD_add_response_header(resp, "Content-Security-Policy",
				"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
				"img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'");
	if (r->status == 401)
		MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"rcptguard\"");
	if (r->allow)
		MHD_add_response_header(resp, "Allow", r->allow);
	if (r->status == 429)
		MHD_add_response_header(resp, "Retry-After", "30");
	ret = MHD_queue_response(c, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* The Bearer secret of the request, or NULL. */
static const char *http_bearer(struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return h;
}

/* A static file of the page. */
static void http_static(struct admin_reply *r, const char *body, const char *ctype)
{
	r->status = 200;
	r->body = strdup(body);
	r->len = r->body ? strlen(r->body) : 0;
	r->ctype = ctype;
}

extern const char admin_page_css[], admin_page_js[];

/* Route one complete request. */
static void http_route(struct admin_req *q, int metrics_ok, struct admin_reply *r)
{
	const char *secret;

	if (strcmp(q->path, "/") == 0 || strcmp(q->path, "/admin.css") == 0 || strcmp(q->path, "/admin.js") == 0) {
		if (strcmp(q->method, "GET") != 0 && strcmp(q->method, "HEAD") != 0) {
			r->allow = "GET, HEAD";
			return admin_reply_error(r, 405, "method not allowed");
		}
		if (q->path[1] == '\0')
			http_static(r, admin_page_html, "text/html; charset=utf-8");
		else if (q->path[7] == 'c')
			http_static(r, admin_page_css, "text/css; charset=utf-8");
		else
			http_static(r, admin_page_js, "text/javascript; charset=utf-8");
		return;
	}
	secret = http_bearer(q->conn);
	q->tok = admin_tokens_match(secret);
	if (strcmp(q->path, "/metrics") == 0) {
		if (!metrics_ok && !admin_is_operator(q->tok))
			return admin_reply_error(r, q->tok ? 403 : 401, "an operator token (or admin_metrics_from) is needed");
		return admin_metrics(q, r);
	}
	if (strncmp(q->path, "/api/v1/", 8) != 0)
		return admin_reply_error(r, 404, "no such resource");
	if (q->tok == NULL)
		return admin_reply_error(r, 401, secret ? "unknown token" : "a Bearer token is needed");
	if (strcmp(q->path, "/api/v1/domains") == 0 || strncmp(q->path, "/api/v1/domains/", 16) == 0)
		return admin_domains(q, q->path + 15, r);
	if (strcmp(q->path, "/api/v1/greylist") == 0 || strcmp(q->path, "/api/v1/stats") == 0) {
		if (!admin_is_operator(q->tok))
			return admin_reply_error(r, 403, "an operator token is needed");
		return q->path[8] == 'g' ? admin_greylist(q, r) : admin_stats(q, r);
	}
	admin_reply_error(r, 404, "no such resource");
}

/* Whether a request carries a list upload (the larger body limit). */
static int http_is_upload(const char *method, const char *url)
{
	size_t n = strlen(url);

	return strcmp(method, "PUT") == 0 && n > 5 && strcmp(url + n - 5, "/list") == 0;
}

/* libmicrohttpd's access handler: collect the body, then route. */
static enum MHD_Result http_handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				    const char *version, const char *upload_data, size_t *upload_data_size,
				    void **con_cls)
{
	struct http_conn *hc = *con_cls;
	struct admin_reply r = { 0 };
	struct admin_req q = { 0 };
	enum MHD_Result ret;
	int metrics_ok;

	(void)cls;
	(void)version;
	if (hc == NULL) {
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

		if ((hc = calloc(1, sizeof *hc)) == NULL)
			return MHD_NO;
		*con_cls = hc;
		hc->limit = http_is_upload(method, url) ? ADMIN_BODY_MAX : ADMIN_JSON_BODY_MAX;
		/* Why at once: a declared size over the limit is refused before a byte of it
		 * is read (libmicrohttpd then closes the connection). */
		if (cl != NULL && strtoull(cl, NULL, 10) > hc->limit) {
			hc->too_big = 1;
			admin_reply_error(&r, 413, "request body larger than %zu bytes", hc->limit);
			admin_log("%s %.100s -> 413 (Content-Length %.20s)", method, url, cl);
			return http_send(c, &r);
		}
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		if (!hc->too_big && hc->len + *upload_data_size > hc->limit) {
			hc->too_big = 1;
			free(hc->buf);
			hc->buf = NULL;
		}
		if (!hc->too_big) {
			if (hc->len + *upload_data_size + 1 > hc->cap) {
				size_t cap = hc->cap ? hc->cap : 65536;
				char *nb;

				while (cap < hc->len + *upload_data_size + 1)
					cap *= 2;
				if ((nb = realloc(hc->buf, cap)) == NULL)
					return MHD_NO;
				hc->buf = nb;
				hc->cap = cap;
			}
			memcpy(hc->buf + hc->len, upload_data, *upload_data_size);
			hc->len += *upload_data_size;
			hc->buf[hc->len] = '\0';
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	q.method = method;
	q.path = url;
	q.conn = c;
	q.body = hc->buf;
	q.len = hc->len;
	/* Why under the lock: a config re-read (admin_metrics_from) may run meanwhile. */
	pthread_mutex_lock(&admin_core_lock);
	metrics_ok = http_peer(c, q.peer, sizeof q.peer);
	if (hc->too_big)
		admin_reply_error(&r, 413, "request body larger than %zu bytes", hc->limit);
	else
		http_route(&q, metrics_ok, &r);
	pthread_mutex_unlock(&admin_core_lock);
	admin_log("%s %s %.200s -> %u%s%s", q.peer, method, url, r.status, q.tok ? " token " : "",
		  q.tok ? q.tok->name : "");
	ret = http_send(c, &r);
	return ret;
}

/* Free a connection's request state. */
static void http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			   enum MHD_RequestTerminationCode toe)
{
	struct http_conn *hc = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (hc) {
		free(hc->buf);
		free(hc);
	}
	*con_cls = NULL;
}

/* Parse one admin_listen word ("IP:PORT" or "[IPv6]:PORT"). 0 ok, -1 bad. */
static int http_parse_listen(const char *w, struct http_listen *l)
{
	char host[64];
	const char *colon;
	long port;
	size_t n;

	memset(l, 0, sizeof *l);
	util_strlcpy(l->text, w, sizeof l->text);
	if (w[0] == '[') {
		const char *end = strchr(w, ']');

		if (end == NULL || end[1] != ':' || (n = (size_t)(end - w - 1)) >= sizeof host)
			return -1;
		memcpy(host, w + 1, n);
		host[n] = '\0';
		colon = end + 1;
	} else {
		colon = strrchr(w, ':');
		if (colon == NULL || (n = (size_t)(colon - w)) >= sizeof host)
			return -1;
		memcpy(host, w, n);
		host[n] = '\0';
	}
	port = strtol(colon + 1, NULL, 10);
	if (port < 1 || port > 65535 || strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return -1;
	if (w[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&l->sa;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return -1;
		l->loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&l->sa;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -1;
		l->loopback = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	return 0;
}

/* Read a PEM file (bounded, regular). malloc'd, or NULL after logging why. */
static char *http_read_pem(const char *path)
{
	struct stat sb;
	char *buf = NULL;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > HTTP_PEM_MAX ||
	    (buf = calloc(1, (size_t)sb.st_size + 1)) == NULL ||
	    read(fd, buf, (size_t)sb.st_size) != (ssize_t)sb.st_size) {
		admin_log("%s: cannot read (a regular file of at most %u bytes): %s", path, HTTP_PEM_MAX,
			  strerror(errno));
		free(buf);
		buf = NULL;
	}
	if (fd >= 0)
		close(fd);
	return buf;
}

/* Re-read the config when a file of it changed, or on SIGHUP (hup): a config with an error
 * is logged (once per error) and the one in force stays, as Exim keeps running. */
static void http_reload(int hup)
{
	static char last_err[RG_ERRLEN];
	const struct config *cur;
	const struct settings *s;
	struct config *probe;
	struct settings old;
	char err[RG_ERRLEN];

	pthread_mutex_lock(&admin_core_lock);
	cur = engine_current_config();
	if (!hup && cur != NULL && !config_changed(cur))
		goto out;
	/* Why read it apart first: the engine drops its copy before reading the new one. */
	if (config_load(admin.config_path, &probe, err, sizeof err) != RG_FOUND) {
		if (hup || strcmp(err, last_err) != 0)
			admin_log("config %s not re-read (the config in force stays): %s", admin.config_path, err);
		util_strlcpy(last_err, err, sizeof last_err);
		goto out;
	}
	config_free(probe);
	last_err[0] = '\0';
	if (engine_preload(NULL, err, sizeof err) != RG_FOUND || engine_settings(NULL, "", &s, err, sizeof err) != RG_FOUND) {
		admin_log("config %s: %s", admin.config_path, err);
		goto out;
	}
	old = admin.g;
	admin.g = *s;
	/* The listeners and their certificates are set up once. */
	if (strcmp(old.admin_listen, s->admin_listen) != 0 || strcmp(old.admin_tls_cert, s->admin_tls_cert) != 0 ||
	    strcmp(old.admin_tls_key, s->admin_tls_key) != 0)
		admin_log("admin_listen / admin_tls_*: changed; restart the daemon to apply them");
	memcpy(admin.g.admin_listen, old.admin_listen, sizeof old.admin_listen);
	memcpy(admin.g.admin_tls_cert, old.admin_tls_cert, sizeof old.admin_tls_cert);
	memcpy(admin.g.admin_tls_key, old.admin_tls_key, sizeof old.admin_tls_key);
	admin_log("config %s re-read%s", admin.config_path, hup ? " (SIGHUP)" : " (changed)");
out:
	pthread_mutex_unlock(&admin_core_lock);
}

/* Start a daemon per admin_listen address and wait for SIGTERM/SIGINT. Exit status. */
int admin_serve(void)
{
	struct http_listen l[HTTP_LISTEN_MAX];
	struct MHD_Daemon *d[HTTP_LISTEN_MAX];
	char list[CONFIG_LIST_MAX], *w, *save = NULL, *cert = NULL, *key = NULL;
	size_t n = 0, i;
	int all_loopback = 1, tls, sig;
	sigset_t set;

	util_strlcpy(list, admin.g.admin_listen, sizeof list);
	for (w = strtok_r(list, " ,", &save); w; w = strtok_r(NULL, " ,", &save)) {
		if (n == HTTP_LISTEN_MAX)
			return admin_log("admin_listen: more than %d addresses", HTTP_LISTEN_MAX), 78;
		if (http_parse_listen(w, &l[n]) < 0)
			return admin_log("admin_listen: \"%.100s\" is not IP:PORT or [IPv6]:PORT", w), 78;
		all_loopback &= l[n].loopback;
		n++;
	}
	if (n == 0)
		return admin_log("admin_listen is not set in %s", admin.config_path), 78;
	tls = admin.g.admin_tls_cert[0] && admin.g.admin_tls_key[0];
	/* Why: tokens travel in every request; off the machine they travel encrypted only. */
	if (!all_loopback && !tls)
		return admin_log("admin_listen has a non-loopback address: admin_tls_cert and admin_tls_key "
				 "are required (refusing to start)"), 78;
	if (tls && ((cert = http_read_pem(admin.g.admin_tls_cert)) == NULL ||
		    (key = http_read_pem(admin.g.admin_tls_key)) == NULL)) {
		free(cert);
		return 78;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < n; i++) {
		unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
				 (l[i].sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0) | (tls ? MHD_USE_TLS : 0);
		uint16_t port = ntohs(l[i].sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&l[i].sa)->sin6_port :
				      ((struct sockaddr_in *)&l[i].sa)->sin_port);

		d[i] = MHD_start_daemon(flags, port, NULL, NULL, http_handler, NULL,
					MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, NULL,
					MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&l[i].sa,
					MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONN_LIMIT,
					MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)HTTP_PER_IP_LIMIT,
					MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT,
					MHD_OPTION_NOTIFY_COMPLETED, http_completed, NULL,
					MHD_OPTION_UNESCAPE_CALLBACK, http_unescape, NULL,
					tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert,
					MHD_OPTION_HTTPS_MEM_KEY, key,
					MHD_OPTION_END);
		if (d[i] == NULL) {
			admin_log("cannot listen on %s", l[i].text);
			while (i-- > 0)
				MHD_stop_daemon(d[i]);
			free(cert);
			free(key);
			return 2;
		}
		admin_log("listening on %s%s", l[i].text, tls ? " (TLS)" : " (loopback, plain HTTP)");
	}
	/* Why once a second: one stat per config file; a change is seen without a restart. */
	for (;;) {
		struct timespec one = { HTTP_RELOAD_SECONDS, 0 };

		sig = sigtimedwait(&set, NULL, &one);
		if (sig < 0 && errno != EAGAIN && errno != EINTR)
			break;
		if (sig == SIGTERM || sig == SIGINT)
			break;
		http_reload(sig == SIGHUP);
	}
	admin_log("stopping");
	for (i = 0; i < n; i++)
		MHD_stop_daemon(d[i]);
	free(cert);
	free(key);
	return 0;
}
