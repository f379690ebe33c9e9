/*
 * store_redis.c - the "redis" store: one Redis (or Valkey) server shared by a pool of
 * gateways, so that a triplet greylisted at one gateway passes at another and a verdict
 * learned by one answers at all.
 *
 * hiredis (0.14, synchronous API) is not linked: it is dlopen()ed on first use
 * (core/dynlib.h says why), or once in Exim's daemon by the preload op. One connection per
 * process, made lazily, to the first server of redis_uri that answers and says it is a
 * primary (ROLE; with one URI nothing is asked: a replica there refuses the first write,
 * READONLY, and is dropped like a dead server), so that a replica promoted by Sentinel or
 * by hand takes over without a config change. A connection is never used
 * after fork() (the generation check). Every command is bounded by min(redis_timeout,
 * the caller's deadline) through the socket's send/receive timeouts; a server that did
 * not answer is dropped and reported RG_TEMPFAIL with down set, so that store.c can fall
 * back to the local store.
 *
 * Layout: each record is a string key redis_prefix + record key holding the record's
 * bytes, written with its end of life (SET ... PXAT, the one-command form of PEXPIREAT):
 * no key without a TTL, so Redis deletes expired records itself (STORE_CAP_EXPIRY).
 * update() is WATCH / GET / MULTI / SET|DEL / EXEC, retried when another process or
 * gateway wrote the key meanwhile. script() runs a record owner's Lua step (the greylist
 * decision) atomically in one round trip, behind a prelude of this member's own (rg_get,
 * rg_put, rg_del: the layout stays here). delete_if() deletes by a compare-and-delete
 * script, so a record rewritten between the read and the delete survives. Scripts go by
 * EVALSHA (the SHA1 computed here), and by EVAL when the server's script cache is empty
 * after a restart or failover.
 *
 * Bad data (a key of another type, a value of a future format, junk) is a miss, never a
 * crash: the record owners decode values strictly, and a WRONGTYPE key reads as absent.
 */
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <nettle/sha1.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "dynlib.h"
#include "ipaddr.h"
#include "rglog.h"
#include "store.h"

#ifndef RG_HIREDIS_SONAME
#define RG_HIREDIS_SONAME "libhiredis.so.0.14" /* the Makefile passes the build host's soname */
#endif

#define REDIS_PASSWORD_MAX 512
#define REDIS_SCAN_COUNT "500"         /* keys per SCAN step: bounded work per round trip */
#define REDIS_UPDATE_TRIES 1000        /* WATCH conflicts before giving up (RG_TEMPFAIL) */
#define REDIS_TTL_MAX_S (400LL * 86400) /* a write without an expiry lives at most this long */
#define REDIS_KEY_MAX (64 + STORE_KEY_MAX + 1)

/* The hiredis functions used, resolved by name on first use. */
static struct {
	__typeof__(redisConnectWithTimeout) *connect_tcp;
	__typeof__(redisConnectUnixWithTimeout) *connect_unix;
	__typeof__(redisSetTimeout) *set_timeout;
	__typeof__(redisAppendCommandArgv) *append_argv;
	__typeof__(redisGetReply) *get_reply;
	__typeof__(freeReplyObject) *free_reply;
	__typeof__(redisFree) *free_ctx;
} H;

static const struct dynlib_sym hiredis_syms[] = {
	{ "redisConnectWithTimeout", (void **)&H.connect_tcp },
	{ "redisConnectUnixWithTimeout", (void **)&H.connect_unix },
	{ "redisSetTimeout", (void **)&H.set_timeout },
	{ "redisAppendCommandArgv", (void **)&H.append_argv },
	{ "redisGetReply", (void **)&H.get_reply },
	{ "freeReplyObject", (void **)&H.free_reply },
	{ "redisFree", (void **)&H.free_ctx },
};

static int hiredis_loaded;

/* Compare-and-delete: KEYS[i] is deleted only while it still holds ARGV[i]. */
static const struct store_script cad_script = {
	"compare-and-delete",
	"local n = 0 for i, k in ipairs(KEYS) do "
	"local v = redis.pcall('GET', k) "
	"if type(v) == 'string' and v == ARGV[i] then n = n + redis.call('DEL', k) end end "
	"return n"
};

/*
 * What the member puts before a record owner's script body (store.h, struct store_script):
 * the owner reaches its keys only through these, so that the layout stays the member's:
 * another type reads as absent (junk is a miss), and every write carries its end of life
 * (PXAT), capped like store_redis_pxat() so that no key lives for ever or overflows.
 */
static const char lua_prelude[] =
	"local function rg_get(i) local v = redis.pcall('GET', KEYS[i]) "
	"if type(v) == 'string' then return v end return nil end\n"
	"local cap\n"
	"local function rg_put(i, v, e) "
	"if cap == nil then cap = tonumber(redis.call('TIME')[1]) + 34560000 end "      /* REDIS_TTL_MAX_S */
	"if e <= 0 or e > cap then e = cap end "
	"redis.call('SET', KEYS[i], v, 'PXAT', string.format('%.0f', e * 1000)) end\n"
	"local function rg_del(i) redis.call('DEL', KEYS[i]) end\n";

/* A script as the server knows it: its whole text and SHA1 (hex), made once per process,
 * so that EVALSHA costs no SCRIPT LOAD round trip (hiredis has no SHA1; nettle has). */
struct redis_lua {
	const struct store_script *sc;
	char *text;
	size_t len;
	char sha[41];
};
#define REDIS_LUA_MAX 8
static struct redis_lua lua_cache[REDIS_LUA_MAX];

struct store {
	redisContext *c;
	uint64_t gen;                  /* util_fork_generation() of the connection */
	int fresh;                     /* the connection was made for the current operation */
	int down;                      /* the last RG_TEMPFAIL was the server, not the data */
	int timedout;                  /* ... and it was a timeout (not worth a second try) */
	int last_errno;                /* errno of the last failed socket step */
	char uris[CONFIG_LIST_MAX];
	char uri[CONFIG_LIST_MAX];     /* the one in use */
	char role[32];
	char pwfile[RG_PATH_MAX];
	char prefix[64];
	size_t plen;
	unsigned timeout_ms;
	int several;                   /* redis_uri lists more than one server: ROLE picks */
	int connecting;                /* the connect's own commands are running */
	int64_t tv_ms;                 /* the socket's timeout as last set on c (0: unknown) */
};

/* Milliseconds left for one step: min(redis_timeout, deadline - now); 0 = none left. */
static int64_t store_redis_budget(const struct store *s, int64_t deadline)
{
	int64_t t = s->timeout_ms, left;

	if (deadline > 0) {
		left = deadline - util_monotonic_ms();
		if (left < t)
			t = left;
	}
	return t > 0 ? t : 0;
}

static struct timeval store_redis_tv(int64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

	return tv;
}

/* Drop the connection (closing it only when this process made it). */
static void store_redis_drop(struct store *s)
{
	/* Why the generation check: after fork() the socket is shared with the parent;
	 * the child leaves it alone and leaks the context. */
	if (s->c != NULL && s->gen == util_fork_generation())
		H.free_ctx(s->c);
	s->c = NULL;
	s->role[0] = '\0';
}

/* A server failure: drop the connection, mark down, RG_TEMPFAIL. */
static int store_redis_down(struct store *s, const char *what, char *err, size_t errlen)
{
	char why[128];

	util_sanitise(why, sizeof why, s->c ? s->c->errstr : "no connection",
		      strlen(s->c ? s->c->errstr : "no connection"));
	util_snprintf(err, errlen, "redis %.200s: %s: %s", s->uri, what, why[0] ? why : "connection lost");
	/* Why: a server that did not answer in time is not asked again at once; a second
	 * wait would double the delay of this RCPT (a frozen server). */
	s->timedout = s->last_errno == EAGAIN || s->last_errno == EWOULDBLOCK || s->last_errno == ETIMEDOUT ||
		      s->last_errno == EINPROGRESS;
	store_redis_drop(s);
	s->down = 1;
	return RG_TEMPFAIL;
}

/* A reply that is not what the command must answer: the server is not a sound Redis. */
static int store_redis_bad_reply(struct store *s, const char *what, const redisReply *r,
				 char *err, size_t errlen)
{
	char text[104];

	if (r != NULL && r->type == REDIS_REPLY_ERROR && r->str)
		util_sanitise(text, sizeof text, r->str, r->len);
	else
		util_snprintf(text, sizeof text, "unexpected reply type %d", r ? r->type : -1);
	util_snprintf(err, errlen, "redis %.200s: %s: %s", s->uri, what, text);
	return RG_TEMPFAIL;
}

/* Free n replies (NULL ones skipped). */
static void store_redis_free(redisReply **r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (r[i])
			H.free_reply(r[i]);
}

/*
 * An error reply that says this server cannot serve us now, whatever the command: a
 * replica (READONLY, MASTERDOWN: a primary demoted by a failover, or the one URI names a
 * replica), a server still loading its data, one that wants a password or refuses our
 * user a command. Why it matters: that is a server failure, not bad data, so the
 * connection is dropped and the server marked down (store.c falls back; a list of URIs
 * is walked again by ROLE). NULL for any other reply.
 */
static const char *store_redis_unusable(const redisReply *r)
{
	static const char *const words[] = { "READONLY", "MASTERDOWN", "LOADING", "NOAUTH", "NOPERM" };
	size_t i, n;

	if (r == NULL || r->type != REDIS_REPLY_ERROR || r->str == NULL)
		return NULL;
	for (i = 0; i < sizeof words / sizeof words[0]; i++) {
		n = strlen(words[i]);
		if ((size_t)r->len >= n && strncmp(r->str, words[i], n) == 0)
			return words[i];
	}
	return NULL;
}

/* SIGPIPE blocked around a command; 1 when the quick release may be used. Why not
 * util_sigpipe_hold() every time: its sigpending()s were two of a decision's six system
 * calls. When the caller did not block SIGPIPE, none of its own can be pending (it would
 * have been delivered), and a write that raised one failed with EPIPE; so a command that
 * succeeded only needs the mask restored. Otherwise util_sigpipe's full rule. */
static int store_redis_pipe_hold(struct util_sigpipe *g)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	g->was_pending = 0;
	if (pthread_sigmask(SIG_BLOCK, &set, &g->old) == 0 && !sigismember(&g->old, SIGPIPE))
		return 1;
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
	util_sigpipe_hold(g);
	return 0;
}

/* Undo store_redis_pipe_hold(): discard a SIGPIPE our failed write raised, restore the mask. */
static void store_redis_pipe_release(struct util_sigpipe *g, int quick, int failed)
{
	if (quick && !failed)
		pthread_sigmask(SIG_SETMASK, &g->old, NULL);
	else
		util_sigpipe_release(g);
}

/* Send n commands in one write and read their n replies into r[] (all NULL on failure).
 * Bounded by the budget; RG_FOUND or RG_TEMPFAIL (down, connection dropped). */
static int store_redis_run(struct store *s, size_t n, const int *argc, const char *const *argv[],
			   const size_t *const argvlen[], redisReply **r, int64_t deadline,
			   const char *what, char *err, size_t errlen)
{
	struct util_sigpipe g;
	int64_t ms = store_redis_budget(s, deadline);
	size_t i;
	int rc = RG_FOUND, quick;

	for (i = 0; i < n; i++)
		r[i] = NULL;
	if (s->c == NULL) {             /* dropped meanwhile (an iterate callback's failure) */
		util_snprintf(err, errlen, "redis %.200s: %s: connection lost", s->uri, what);
		s->down = 1;
		return RG_TEMPFAIL;
	}
	if (ms == 0) {
		util_snprintf(err, errlen, "redis %.200s: %s: deadline passed", s->uri, what);
		return RG_TEMPFAIL;
	}
	/* Why only on a change: two setsockopt()s per command were a tenth of a decision */
	if (ms != s->tv_ms) {
		if (H.set_timeout(s->c, store_redis_tv(ms)) != REDIS_OK)
			return store_redis_down(s, what, err, errlen);
		s->tv_ms = ms;
	}
	quick = store_redis_pipe_hold(&g);
	s->last_errno = 0;
	for (i = 0; i < n && rc == RG_FOUND; i++)
		if (H.append_argv(s->c, argc[i], (const char **)argv[i], argvlen[i]) != REDIS_OK)
			rc = RG_TEMPFAIL;
	for (i = 0; i < n && rc == RG_FOUND; i++)
		if (H.get_reply(s->c, (void **)&r[i]) != REDIS_OK || r[i] == NULL) {
			s->last_errno = errno;
			rc = RG_TEMPFAIL;
		}
	store_redis_pipe_release(&g, quick, rc != RG_FOUND);
	if (rc != RG_FOUND) {
		for (i = 0; i < n; i++) {
			if (r[i])
				H.free_reply(r[i]);
			r[i] = NULL;
		}
		return store_redis_down(s, what, err, errlen);
	}
	for (i = 0; i < n && !s->connecting; i++) {
		const char *word = store_redis_unusable(r[i]);
		char text[104];

		if (word == NULL)
			continue;
		util_sanitise(text, sizeof text, r[i]->str, r[i]->len);
		util_snprintf(err, errlen, "redis %.200s: %s: %s%s", s->uri, what, text,
			      strcmp(word, "NOAUTH") == 0 ? " (the server wants a password: redis_password_file)" : "");
		store_redis_free(r, n);
		for (i = 0; i < n; i++)
			r[i] = NULL;
		store_redis_drop(s);
		s->down = 1;
		s->timedout = 0;
		return RG_TEMPFAIL;
	}
	return RG_FOUND;
}

/* One command; its reply in *r. */
static int store_redis_cmd(struct store *s, int argc, const char **argv, const size_t *argvlen,
			   redisReply **r, int64_t deadline, const char *what, char *err, size_t errlen)
{
	const char *const *av[1] = { argv };
	const size_t *const al[1] = { argvlen };

	return store_redis_run(s, 1, &argc, av, al, r, deadline, what, err, errlen);
}

/* The AUTH arguments from the password file: "password" or "user password" (Redis 6 ACL
 * user). The file must be a regular file not readable by others. RG_FOUND or RG_CONFIG. */
static int store_redis_password(const char *path, char *user, char *pw, char *err, size_t errlen)
{
	char buf[REDIS_PASSWORD_MAX + 1], *sp;
	struct stat st;
	ssize_t r;
	size_t len = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0)
		return util_snprintf(err, errlen, "redis_password_file %.200s: %s", path, strerror(errno)),
		       RG_CONFIG;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return util_snprintf(err, errlen, "redis_password_file %.200s: not a regular file", path), RG_CONFIG;
	}
	/* Why: a password others can read is no secret; refuse it rather than use it. */
	if (st.st_mode & (S_IROTH | S_IWOTH)) {
		close(fd);
		return util_snprintf(err, errlen, "redis_password_file %.200s: readable by others "
				     "(chmod o-rw)", path), RG_CONFIG;
	}
	while (len < sizeof buf && (r = read(fd, buf + len, sizeof buf - len)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			explicit_bzero(buf, sizeof buf);
			return util_snprintf(err, errlen, "redis_password_file %.200s: %s", path,
					     strerror(errno)), RG_CONFIG;
		}
		len += (size_t)r;
	}
	close(fd);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (len == 0 || len >= REDIS_PASSWORD_MAX || memchr(buf, '\n', len)) {
		explicit_bzero(buf, sizeof buf);
		return util_snprintf(err, errlen, "redis_password_file %.200s: %s", path,
				     len == 0 ? "empty" : len >= REDIS_PASSWORD_MAX ? "longer than 511 bytes"
				     : "more than one line"), RG_CONFIG;
	}
	buf[len] = '\0';
	user[0] = '\0';
	if ((sp = strchr(buf, ' ')) != NULL) {
		*sp = '\0';
		util_strlcpy(user, buf, REDIS_PASSWORD_MAX);
		util_strlcpy(pw, sp + 1, REDIS_PASSWORD_MAX);
	} else {
		util_strlcpy(pw, buf, REDIS_PASSWORD_MAX);
	}
	explicit_bzero(buf, sizeof buf);
	return RG_FOUND;
}

/* Parse one URI: "unix:/path" or "redis://IP[:PORT][/DB]" ("[v6]" for IPv6). */
static int store_redis_parse_uri(const char *uri, char *host, size_t hsize, int *port, int *unixsock,
				 unsigned *db, char *err, size_t errlen)
{
	const char *p, *end;
	char *e;
	unsigned long n;
	struct ipaddr ip;

	*db = 0;
	*port = 6379;
	*unixsock = 0;
	if (strncmp(uri, "unix:", 5) == 0) {
		*unixsock = 1;
		if (uri[5] != '/' || util_strlcpy(host, uri + 5, hsize) < 0)
			goto bad;
		return RG_FOUND;
	}
	if (strncmp(uri, "redis://", 8) != 0)
		goto bad;
	p = uri + 8;
	if (*p == '[') {
		if ((end = strchr(p, ']')) == NULL || (size_t)(end - p - 1) >= hsize)
			goto bad;
		memcpy(host, p + 1, (size_t)(end - p - 1));
		host[end - p - 1] = '\0';
		p = end + 1;
	} else {
		end = p + strcspn(p, ":/");
		if ((size_t)(end - p) >= hsize)
			goto bad;
		memcpy(host, p, (size_t)(end - p));
		host[end - p] = '\0';
		p = end;
	}
	/* Why an address, not a name: a name lookup cannot be bounded by redis_timeout, and
	 * the RCPT path must never wait on DNS for its cache. */
	if (ipaddr_parse(host, &ip) < 0) {        /* the one IP rule */
		util_snprintf(err, errlen, "redis_uri \"%.200s\": the host must be an IP address", uri);
		return RG_CONFIG;
	}
	if (*p == ':') {
		errno = 0;
		n = strtoul(p + 1, &e, 10);
		if (e == p + 1 || errno || n == 0 || n > 65535)
			goto bad;
		*port = (int)n;
		p = e;
	}
	if (*p == '/' && p[1]) {
		errno = 0;
		n = strtoul(p + 1, &e, 10);
		if (e == p + 1 || errno || *e || n > 1000)
			goto bad;
		*db = (unsigned)n;
		p = e;
	} else if (*p == '/') {
		p++;
	}
	if (*p == '\0')
		return RG_FOUND;
bad:
	util_snprintf(err, errlen, "redis_uri \"%.200s\": not unix:/PATH or redis://IP[:PORT][/DB]", uri);
	return RG_CONFIG;
}

/*
 * Connect to one URI: AUTH, SELECT and ROLE (when redis_uri lists several servers) in one
 * round trip. RG_FOUND (a primary, or the one server), RG_NOTFOUND (answers, but a
 * replica: role says which), RG_TEMPFAIL, RG_CONFIG. Why no ROLE for a single URI: there
 * is nothing to choose, and the round trip is most of what a connection costs; a replica
 * there answers reads and refuses writes (READONLY: store_redis_unusable), which is the
 * same fallback that ROLE would have led to, one command later.
 */
static int store_redis_connect_one(struct store *s, const char *uri, int64_t deadline,
				   char *err, size_t errlen)
{
	char host[RG_PATH_MAX], user[REDIS_PASSWORD_MAX], pw[REDIS_PASSWORD_MAX], dbs[16];
	const char *auth[3], *sel[2] = { "SELECT", dbs }, *role[1] = { "ROLE" };
	size_t authl[3], sell[2], rolel[1] = { 4 };
	const char *const *av[3];
	const size_t *const *al;
	const size_t *alv[3];
	int argc[3], port, unixsock, rc, na = 0, i, with_role = s->several;
	unsigned db;
	redisReply *r[3];
	int64_t ms;

	if ((rc = store_redis_parse_uri(uri, host, sizeof host, &port, &unixsock, &db, err, errlen)) != RG_FOUND)
		return rc;
	util_strlcpy(s->uri, uri, sizeof s->uri);
	if (s->pwfile[0]) {
		if (store_redis_password(s->pwfile, user, pw, err, errlen) != RG_FOUND)
			return RG_CONFIG;
		auth[0] = "AUTH";
		auth[1] = user[0] ? user : pw;
		auth[2] = pw;
		argc[na] = user[0] ? 3 : 2;
		for (i = 0; i < argc[na]; i++)
			authl[i] = strlen(auth[i]);
		av[na] = auth;
		alv[na++] = authl;
	}
	if (db) {
		util_snprintf(dbs, sizeof dbs, "%u", db);
		sell[0] = 6;
		sell[1] = strlen(dbs);
		argc[na] = 2;
		av[na] = sel;
		alv[na++] = sell;
	}
	if (with_role) {
		argc[na] = 1;
		av[na] = role;
		alv[na++] = rolel;
	}
	al = alv;
	if ((ms = store_redis_budget(s, deadline)) == 0) {
		explicit_bzero(pw, sizeof pw);
		util_snprintf(err, errlen, "redis %.200s: connect: deadline passed", uri);
		return RG_TEMPFAIL;
	}
	s->c = unixsock ? H.connect_unix(host, store_redis_tv(ms)) : H.connect_tcp(host, port, store_redis_tv(ms));
	s->tv_ms = 0;
	if (s->c == NULL || s->c->err) {
		explicit_bzero(pw, sizeof pw);
		if (s->c == NULL) {
			util_snprintf(err, errlen, "redis %.200s: connect: out of memory", uri);
			s->down = 1;
			return RG_TEMPFAIL;
		}
		s->gen = util_fork_generation();
		s->last_errno = errno;
		return store_redis_down(s, "connect", err, errlen);
	}
	s->gen = util_fork_generation();
	s->fresh = 1;
	s->role[0] = '\0';
	if (na == 0)
		return RG_FOUND;               /* nothing to ask: the first command is the first round trip */
	s->connecting = 1;
	rc = store_redis_run(s, (size_t)na, argc, av, al, r, deadline, "connect", err, errlen);
	s->connecting = 0;
	explicit_bzero(pw, sizeof pw);
	if (rc != RG_FOUND)
		return rc;
	for (i = 0; i < na - with_role; i++) {
		if (r[i]->type == REDIS_REPLY_ERROR) {
			char text[104];

			util_sanitise(text, sizeof text, r[i]->str, r[i]->len);
			util_snprintf(err, errlen, "redis %.200s: %s refused: %s", uri,
				      av[i] == sel ? "SELECT" : "AUTH", text);
			store_redis_free(r, (size_t)na);
			store_redis_drop(s);
			/* Why a config error: a wrong password or database is the operator's to fix;
			 * the pool still runs (fallback), but the log must say what is wrong. */
			return RG_CONFIG;
		}
	}
	if (!with_role) {
		store_redis_free(r, (size_t)na);
		return RG_FOUND;
	}
	i = na - 1;
	if (r[i]->type == REDIS_REPLY_ARRAY && r[i]->elements > 0 &&
	    r[i]->element[0]->type == REDIS_REPLY_STRING) {
		util_sanitise(s->role, sizeof s->role, r[i]->element[0]->str, r[i]->element[0]->len);
		rc = strcmp(s->role, "master") == 0 ? RG_FOUND : RG_NOTFOUND;
	} else if (r[i]->type == REDIS_REPLY_ERROR && (strncmp(r[i]->str, "NOAUTH", 6) == 0 ||
							 strncmp(r[i]->str, "NOPERM", 6) == 0)) {
		util_snprintf(err, errlen, "redis %.200s: the server wants a password (redis_password_file)%s", uri,
			      r[i]->str[2] == 'P' ? " allowing ROLE" : "");
		store_redis_free(r, (size_t)na);
		store_redis_drop(s);
		return RG_CONFIG;
	} else {
		rc = store_redis_bad_reply(s, "ROLE", r[i], err, errlen);
	}
	store_redis_free(r, (size_t)na);
	if (rc == RG_NOTFOUND) {
		util_snprintf(err, errlen, "redis %.200s: a %s, not a primary", uri, s->role);
		store_redis_drop(s);
	} else if (rc != RG_FOUND) {
		store_redis_drop(s);
		s->down = 1;
	}
	return rc;
}

/* The next URI of a redis_uri list (spaces, commas or tabs between) into uri: 1, 0 at
 * the end, -1 (err set) when one is too long. */
static int store_redis_next_uri(const char **pp, char *uri, size_t size, char *err, size_t errlen)
{
	const char *p = *pp + strspn(*pp, " ,\t");
	size_t n = strcspn(p, " ,\t");

	if (n == 0)
		return 0;
	if (n >= size)
		return util_snprintf(err, errlen, "redis_uri: a URI longer than %zu bytes", size - 1), -1;
	memcpy(uri, p, n);
	uri[n] = '\0';
	*pp = p + n;
	return 1;
}

/* Make sure there is a connection to a primary: the first URI that answers as one. */
static int store_redis_ensure(struct store *s, int64_t deadline, char *err, size_t errlen)
{
	char uri[CONFIG_LIST_MAX], first[RG_ERRLEN] = "";
	const char *p = s->uris;
	int n, rc, config = 0;

	s->down = s->timedout = 0;
	if (s->c != NULL && s->gen != util_fork_generation())
		s->c = NULL;                   /* inherited across fork(): abandoned, never used */
	if (s->c != NULL) {
		s->fresh = 0;
		return RG_FOUND;
	}
	/* Why one redis_timeout for all URIs together: a frozen first server must not cost
	 * a RCPT more than that; the next try (after store.c's hold-down) goes on. */
	if (deadline == 0 || deadline > util_monotonic_ms() + s->timeout_ms)
		deadline = util_monotonic_ms() + s->timeout_ms;
	while ((n = store_redis_next_uri(&p, uri, sizeof uri, err, errlen)) > 0) {
		rc = store_redis_connect_one(s, uri, deadline, err, errlen);
		if (rc == RG_FOUND)
			return RG_FOUND;
		if (rc == RG_CONFIG)
			config = 1;
		if (!first[0])
			util_strlcpy(first, err, sizeof first);
		if (store_redis_budget(s, deadline) == 0)
			break;
	}
	if (n < 0)
		return RG_CONFIG;
	if (!first[0])
		util_snprintf(first, sizeof first, "redis_uri is empty");
	util_strlcpy(err, first, errlen);
	s->down = !config;
	return config ? RG_CONFIG : RG_TEMPFAIL;
}

/* prefix + key into buf; its length, or 0 (with err) when the key is too long or has a NUL. */
static size_t store_redis_key(const struct store *s, const char *key, char *buf, char *err, size_t errlen)
{
	size_t n = strlen(key);

	if (n == 0 || n > STORE_KEY_MAX) {
		util_snprintf(err, errlen, "redis: key of %zu bytes (1..%d)", n, STORE_KEY_MAX);
		return 0;
	}
	memcpy(buf, s->prefix, s->plen);
	memcpy(buf + s->plen, key, n + 1);
	return s->plen + n;
}

/* Run one operation step, remaking a reused connection once when it was found dead (the
 * server restarted since this process last spoke to it). */
#define REDIS_RETRY(s, rc, call) do { \
		(rc) = (call); \
		if ((rc) == RG_TEMPFAIL && (s)->down && !(s)->fresh && !(s)->timedout) \
			(rc) = (call); \
	} while (0)

/* The expiry in unix milliseconds for PXAT: a record without one lives REDIS_TTL_MAX_S. */
static long long store_redis_pxat(int64_t expires)
{
	int64_t now = util_now();

	if (expires <= 0 || expires > now + REDIS_TTL_MAX_S)
		expires = now + REDIS_TTL_MAX_S;
	return (long long)expires * 1000;
}

/* Send "VERB key" (key as its Redis name, into k[REDIS_KEY_MAX]) on a live connection:
 * the one path of the single-key commands. RG_FOUND with *r, else the failure. */
static int store_redis_key_cmd(struct store *s, const char *verb, const char *key, char *k, redisReply **r,
			       int64_t deadline, char *err, size_t errlen)
{
	const char *argv[2] = { verb, k };
	size_t argvlen[2] = { strlen(verb), 0 };
	int rc;

	if ((argvlen[1] = store_redis_key(s, key, k, err, errlen)) == 0)
		return RG_CONFIG;
	if ((rc = store_redis_ensure(s, deadline, err, errlen)) != RG_FOUND)
		return rc == RG_CONFIG ? RG_TEMPFAIL : rc;
	return store_redis_cmd(s, 2, argv, argvlen, r, deadline, verb, err, errlen);
}

static int store_redis_get1(struct store *s, const char *key, char *val, size_t valsize, size_t *vlen,
			    int64_t deadline, char *err, size_t errlen)
{
	char k[REDIS_KEY_MAX];
	redisReply *r;
	int rc;

	if ((rc = store_redis_key_cmd(s, "GET", key, k, &r, deadline, err, errlen)) != RG_FOUND)
		return rc;
	if (r->type == REDIS_REPLY_NIL) {
		rc = RG_NOTFOUND;
	} else if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "WRONGTYPE", 9) == 0) {
		/* Why a miss: a key of another type is not ours (junk); the next write replaces it. */
		rglog(RGLOG_DEBUG, "rcptguard: store redis: %.200s holds another type: a miss", k);
		rc = RG_NOTFOUND;
	} else if (r->type != REDIS_REPLY_STRING) {
		rc = store_redis_bad_reply(s, "GET", r, err, errlen);
	} else if (r->len >= valsize) {
		util_snprintf(err, errlen, "redis: value of %.200s too large: %zu bytes (at most %zu)", k, r->len,
			      valsize - 1);
		rc = RG_TEMPFAIL;
	} else {
		memcpy(val, r->str, r->len);
		val[r->len] = '\0';
		*vlen = r->len;
		rc = RG_FOUND;
	}
	H.free_reply(r);
	return rc;
}

static int store_redis_get(struct store *s, const char *key, char *val, size_t valsize, size_t *vlen,
			   int64_t deadline, char *err, size_t errlen)
{
	int rc;

	REDIS_RETRY(s, rc, store_redis_get1(s, key, val, valsize, vlen, deadline, err, errlen));
	return rc;
}

static int store_redis_put1(struct store *s, const char *key, const char *val, size_t vlen, int64_t expires,
			    int64_t deadline, char *err, size_t errlen)
{
	char k[REDIS_KEY_MAX], at[24];
	const char *argv[5] = { "SET", k, val, "PXAT", at };
	size_t argvlen[5] = { 3, 0, vlen, 4, 0 };
	redisReply *r;
	int rc;

	if ((argvlen[1] = store_redis_key(s, key, k, err, errlen)) == 0)
		return RG_CONFIG;
	if (vlen > STORE_VAL_MAX) {
		util_snprintf(err, errlen, "redis: value of %zu bytes (at most %d)", vlen, STORE_VAL_MAX);
		return RG_TEMPFAIL;
	}
	argvlen[4] = (size_t)snprintf(at, sizeof at, "%lld", store_redis_pxat(expires));
	if ((rc = store_redis_ensure(s, deadline, err, errlen)) != RG_FOUND)
		return rc == RG_CONFIG ? RG_TEMPFAIL : rc;
	if ((rc = store_redis_cmd(s, 5, argv, argvlen, &r, deadline, "SET", err, errlen)) != RG_FOUND)
		return rc;
	rc = r->type == REDIS_REPLY_STATUS ? RG_FOUND : store_redis_bad_reply(s, "SET", r, err, errlen);
	H.free_reply(r);
	return rc;
}

static int store_redis_put(struct store *s, const char *key, const char *val, size_t vlen, int64_t expires,
			   int64_t deadline, char *err, size_t errlen)
{
	int rc;

	REDIS_RETRY(s, rc, store_redis_put1(s, key, val, vlen, expires, deadline, err, errlen));
	return rc;
}

static int store_redis_del1(struct store *s, const char *key, int64_t deadline, char *err, size_t errlen)
{
	char k[REDIS_KEY_MAX];
	redisReply *r;
	int rc;

	if ((rc = store_redis_key_cmd(s, "DEL", key, k, &r, deadline, err, errlen)) != RG_FOUND)
		return rc;
	rc = r->type != REDIS_REPLY_INTEGER ? store_redis_bad_reply(s, "DEL", r, err, errlen)
	     : r->integer > 0 ? RG_FOUND : RG_NOTFOUND;
	H.free_reply(r);
	return rc;
}

static int store_redis_del(struct store *s, const char *key, int64_t deadline, char *err, size_t errlen)
{
	int rc;

	REDIS_RETRY(s, rc, store_redis_del1(s, key, deadline, err, errlen));
	return rc;
}

/* One read-modify-write attempt: RG_FOUND done, RG_NOTFOUND lost a race (try again),
 * RG_CONFIG fn gave up, RG_TEMPFAIL. */
static int store_redis_update_once(struct store *s, const char *k, size_t klen, store_update_fn *fn, void *arg,
				   int64_t deadline, char *err, size_t errlen)
{
	char out[STORE_VAL_MAX], at[24];
	const char *watch[2] = { "WATCH", k }, *get[2] = { "GET", k }, *multi[1] = { "MULTI" },
		   *set[5] = { "SET", k, out, "PXAT", at }, *del[2] = { "DEL", k }, *exec[1] = { "EXEC" },
		   *unwatch[1] = { "UNWATCH" };
	size_t watchl[2] = { 5, klen }, getl[2] = { 3, klen }, multil[1] = { 5 }, setl[5] = { 3, klen, 0, 4, 0 },
	       dell[2] = { 3, klen }, execl[1] = { 4 }, unwatchl[1] = { 7 }, outlen = 0;
	const char *const *av[3];
	const size_t *const *alp;
	const size_t *al[3];
	int argc[3], rc, action;
	int64_t expires = 0;
	redisReply *r[3];
	const char *old = NULL;
	size_t oldlen = 0;

	av[0] = watch; al[0] = watchl; argc[0] = 2;
	av[1] = get; al[1] = getl; argc[1] = 2;
	alp = al;
	if ((rc = store_redis_run(s, 2, argc, av, alp, r, deadline, "WATCH/GET", err, errlen)) != RG_FOUND)
		return rc;
	if (r[0]->type != REDIS_REPLY_STATUS) {
		rc = store_redis_bad_reply(s, "WATCH", r[0], err, errlen);
		store_redis_free(r, 2);
		return rc;
	}
	if (r[1]->type == REDIS_REPLY_STRING && r[1]->len <= STORE_VAL_MAX) {
		old = r[1]->str;
		oldlen = r[1]->len;
	} else if (r[1]->type == REDIS_REPLY_STRING) {
		rglog(RGLOG_INFO, "rcptguard: store redis: %.200s holds %zu bytes: replaced", k, r[1]->len);
	} else if (r[1]->type != REDIS_REPLY_NIL && !(r[1]->type == REDIS_REPLY_ERROR &&
						      strncmp(r[1]->str, "WRONGTYPE", 9) == 0)) {
		rc = store_redis_bad_reply(s, "GET", r[1], err, errlen);
		store_redis_free(r, 2);
		store_redis_drop(s);           /* a WATCH is pending on it */
		return rc;
	}
	action = fn(old, oldlen, out, sizeof out, &outlen, &expires, arg);
	store_redis_free(r, 2);
	if (action < 0 || action == STORE_UPDATE_KEEP || outlen > sizeof out) {
		if ((rc = store_redis_cmd(s, 1, unwatch, unwatchl, r, deadline, "UNWATCH", err, errlen)) != RG_FOUND)
			return rc;
		store_redis_free(r, 1);
		if (outlen > sizeof out && action == STORE_UPDATE_PUT) {
			util_snprintf(err, errlen, "redis: update of %.200s: value of %zu bytes", k, outlen);
			return RG_CONFIG;
		}
		return action < 0 ? RG_CONFIG : RG_FOUND;
	}
	av[0] = multi; al[0] = multil; argc[0] = 1;
	if (action == STORE_UPDATE_PUT) {
		setl[2] = outlen;
		setl[4] = (size_t)snprintf(at, sizeof at, "%lld", store_redis_pxat(expires));
		av[1] = set; al[1] = setl; argc[1] = 5;
	} else {
		av[1] = del; al[1] = dell; argc[1] = 2;
	}
	av[2] = exec; al[2] = execl; argc[2] = 1;
	if ((rc = store_redis_run(s, 3, argc, av, alp, r, deadline, "MULTI/EXEC", err, errlen)) != RG_FOUND)
		return rc;
	if (r[2]->type == REDIS_REPLY_NIL)
		rc = RG_NOTFOUND;              /* the key changed since WATCH: another writer won */
	else if (r[2]->type == REDIS_REPLY_ARRAY && r[2]->elements == 1 &&
		 r[2]->element[0]->type != REDIS_REPLY_ERROR)
		rc = RG_FOUND;
	else
		rc = store_redis_bad_reply(s, "EXEC", r[2]->type == REDIS_REPLY_ARRAY && r[2]->elements == 1
					   ? r[2]->element[0] : r[2], err, errlen);
	store_redis_free(r, 3);
	return rc;
}

static int store_redis_update1(struct store *s, const char *key, store_update_fn *fn, void *arg,
			       int64_t deadline, char *err, size_t errlen)
{
	static unsigned seed;
	char k[REDIS_KEY_MAX];
	size_t klen;
	int rc, tries;
	int64_t t0;

	if ((klen = store_redis_key(s, key, k, err, errlen)) == 0)
		return RG_CONFIG;
	if ((rc = store_redis_ensure(s, deadline, err, errlen)) != RG_FOUND)
		return rc == RG_CONFIG ? RG_TEMPFAIL : rc;
	t0 = util_monotonic_ms();
	for (tries = 0; tries < REDIS_UPDATE_TRIES; tries++) {
		rc = store_redis_update_once(s, k, klen, fn, arg, deadline, err, errlen);
		if (rc != RG_NOTFOUND)
			return rc;
		s->fresh = 1;                  /* a lost race is not a dead connection */
		/* Why a random, growing pause: contenders that retry in lockstep keep
		 * invalidating each other's WATCH (50 first attempts of one triplet). */
		seed ^= (unsigned)util_monotonic_ms() * 2654435761u + (unsigned)getpid();
		usleep((useconds_t)(rand_r(&seed) % (100u << (tries < 6 ? tries : 6))));
		/* Bounded in time too: contention never holds a RCPT longer than this. */
		if (store_redis_budget(s, deadline) == 0 || util_monotonic_ms() - t0 > 10 * (int64_t)s->timeout_ms)
			break;
	}
	util_snprintf(err, errlen, "redis: update of %.200s: %d conflicting writes in a row", k, tries + 1);
	return RG_TEMPFAIL;
}

static int store_redis_update(struct store *s, const char *key, store_update_fn *fn, void *arg,
			      int64_t deadline, char *err, size_t errlen)
{
	int rc;

	REDIS_RETRY(s, rc, store_redis_update1(s, key, fn, arg, deadline, err, errlen));
	return rc;
}

/* The SCAN pattern for prefix: the store's prefix and glob characters escaped. */
static int store_redis_pattern(const struct store *s, const char *prefix, char *pat, size_t size)
{
	const char *parts[2] = { s->prefix, prefix };
	size_t o = 0, i;
	const char *p;

	for (i = 0; i < 2; i++) {
		for (p = parts[i]; *p; p++) {
			if (o + 3 >= size)
				return -1;
			if (strchr("*?[]\\", *p))
				pat[o++] = '\\';
			pat[o++] = *p;
		}
	}
	pat[o++] = '*';
	pat[o] = '\0';
	return 0;
}

/*
 * Walk the keys of prefix: SCAN (no order; a key may come twice), then MGET of each batch.
 * visit is called per string record (key without the store's prefix), outside any
 * transaction; with batch set it is called per batch instead (delete_if). A non-zero
 * answer from visit stops the walk.
 */
struct redis_batch {
	size_t n;
	redisReply *keys;              /* SCAN's key array */
	redisReply *vals;              /* MGET's value array */
};
typedef int store_redis_batch_fn(struct store *s, struct redis_batch *b, void *arg, int64_t deadline,
				 char *err, size_t errlen);

static int store_redis_scan(struct store *s, const char *prefix, store_redis_batch_fn *visit, void *arg,
			    int64_t deadline, char *err, size_t errlen)
{
	char cursor[32] = "0", pat[2 * REDIS_KEY_MAX + 2];
	const char *scan[6] = { "SCAN", cursor, "MATCH", pat, "COUNT", REDIS_SCAN_COUNT };
	size_t scanl[6] = { 4, 1, 5, 0, 5, sizeof REDIS_SCAN_COUNT - 1 };
	redisReply *r, *m;
	const char **argv;
	size_t *argvlen, i;
	struct redis_batch b;
	int rc;

	if (store_redis_pattern(s, prefix, pat, sizeof pat) < 0) {
		util_snprintf(err, errlen, "redis: prefix too long");
		return RG_TEMPFAIL;
	}
	scanl[3] = strlen(pat);
	if ((rc = store_redis_ensure(s, deadline, err, errlen)) != RG_FOUND)
		return rc == RG_CONFIG ? RG_TEMPFAIL : rc;
	do {
		if ((rc = store_redis_cmd(s, 6, scan, scanl, &r, deadline, "SCAN", err, errlen)) != RG_FOUND)
			return rc;
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
		    r->element[0]->len >= sizeof cursor || r->element[1]->type != REDIS_REPLY_ARRAY) {
			rc = store_redis_bad_reply(s, "SCAN", r, err, errlen);
			H.free_reply(r);
			return rc;
		}
		memcpy(cursor, r->element[0]->str, r->element[0]->len);
		cursor[r->element[0]->len] = '\0';
		scanl[1] = r->element[0]->len;
		b.n = r->element[1]->elements;
		b.keys = r->element[1];
		b.vals = NULL;
		rc = RG_FOUND;
		if (b.n > 0) {
			argv = calloc(b.n + 1, sizeof *argv);
			argvlen = calloc(b.n + 1, sizeof *argvlen);
			if (argv == NULL || argvlen == NULL) {
				free(argv);
				free(argvlen);
				H.free_reply(r);
				util_snprintf(err, errlen, "redis: out of memory");
				return RG_TEMPFAIL;
			}
			argv[0] = "MGET";
			argvlen[0] = 4;
			for (i = 0; i < b.n; i++) {
				argv[i + 1] = b.keys->element[i]->str ? b.keys->element[i]->str : "";
				argvlen[i + 1] = b.keys->element[i]->str ? b.keys->element[i]->len : 0;
			}
			rc = store_redis_cmd(s, (int)b.n + 1, argv, argvlen, &m, deadline, "MGET", err, errlen);
			free(argv);
			free(argvlen);
			if (rc == RG_FOUND && (m->type != REDIS_REPLY_ARRAY || m->elements != b.n)) {
				rc = store_redis_bad_reply(s, "MGET", m, err, errlen);
				H.free_reply(m);
			}
			if (rc == RG_FOUND) {
				b.vals = m;
				rc = visit(s, &b, arg, deadline, err, errlen);
				H.free_reply(m);
			}
		}
		H.free_reply(r);
		if (rc != RG_FOUND)
			return rc == RG_NOTFOUND ? RG_FOUND : rc;   /* RG_NOTFOUND: visit said stop */
	} while (strcmp(cursor, "0") != 0);
	return RG_FOUND;
}

struct redis_iter {
	store_iter_fn *fn;
	void *arg;
};

/* Hand each string record of a batch to the iterate callback (without the store prefix). */
static int store_redis_iter_batch(struct store *s, struct redis_batch *b, void *arg, int64_t deadline,
				  char *err, size_t errlen)
{
	struct redis_iter *it = arg;
	const redisReply *k, *v;
	size_t i;

	(void)deadline; (void)err; (void)errlen;
	for (i = 0; i < b->n; i++) {
		k = b->keys->element[i];
		v = b->vals->element[i];
		if (k->type != REDIS_REPLY_STRING || k->len <= s->plen || v->type != REDIS_REPLY_STRING ||
		    v->len > STORE_VAL_MAX || memchr(k->str, '\0', k->len))
			continue;              /* expired meanwhile, another type, or junk */
		if (it->fn(k->str + s->plen, k->len - s->plen, v->str, v->len, it->arg))
			return RG_NOTFOUND;
	}
	return RG_FOUND;
}

static int store_redis_iterate1(struct store *s, const char *prefix, store_iter_fn *fn, void *arg,
				int64_t deadline, char *err, size_t errlen)
{
	struct redis_iter it = { fn, arg };

	return store_redis_scan(s, prefix, store_redis_iter_batch, &it, deadline, err, errlen);
}

static int store_redis_iterate(struct store *s, const char *prefix, store_iter_fn *fn, void *arg,
			       int64_t deadline, char *err, size_t errlen)
{
	int rc;

	/* A retry may visit records twice: allowed without STORE_CAP_ORDERED. */
	REDIS_RETRY(s, rc, store_redis_iterate1(s, prefix, fn, arg, deadline, err, errlen));
	return rc;
}

struct redis_delete {
	store_pred_fn *pred;
	void *arg;
	size_t deleted;
};

/* The server's text of sc (the member's prelude before an owner's body) and its SHA1,
 * made on first use in this process; NULL when out of memory. */
static const struct redis_lua *store_redis_lua(const struct store_script *sc, int prelude)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t d[SHA1_DIGEST_SIZE];
	struct sha1_ctx ctx;
	struct redis_lua *L;
	size_t i, pl = prelude ? sizeof lua_prelude - 1 : 0, bl = strlen(sc->lua);

	for (i = 0; i < REDIS_LUA_MAX && lua_cache[i].sc != NULL; i++)
		if (lua_cache[i].sc == sc)
			return &lua_cache[i];
	if (i == REDIS_LUA_MAX)
		return NULL;
	L = &lua_cache[i];
	if ((L->text = malloc(pl + bl + 1)) == NULL)
		return NULL;
	memcpy(L->text, lua_prelude, pl);
	memcpy(L->text + pl, sc->lua, bl + 1);
	L->len = pl + bl;
	sha1_init(&ctx);
	sha1_update(&ctx, L->len, (const uint8_t *)L->text);
	sha1_digest(&ctx, sizeof d, d);
	for (i = 0; i < sizeof d; i++) {
		L->sha[2 * i] = hex[d[i] >> 4];
		L->sha[2 * i + 1] = hex[d[i] & 15];
	}
	L->sha[40] = '\0';
	L->sc = sc;
	return L;
}

/*
 * Run a script: argv[2..argc) are its numkeys, keys and args; argv[0..1] are filled here.
 * EVALSHA first (one round trip); when the server's script cache does not hold it (after
 * a restart, a failover, SCRIPT FLUSH: NOSCRIPT), EVAL with the text, which also caches it
 * there. RG_FOUND with the reply in *r (which may be an error reply), or the failure.
 */
static int store_redis_eval(struct store *s, const struct redis_lua *L, int argc, const char **argv,
			    size_t *argvlen, redisReply **r, int64_t deadline, char *err, size_t errlen)
{
	int rc, pass;

	for (pass = 0; pass < 2; pass++) {
		argv[0] = pass == 0 ? "EVALSHA" : "EVAL";
		argvlen[0] = pass == 0 ? 7 : 4;
		argv[1] = pass == 0 ? L->sha : L->text;
		argvlen[1] = pass == 0 ? 40 : L->len;
		if ((rc = store_redis_cmd(s, argc, argv, argvlen, r, deadline, argv[0], err, errlen)) != RG_FOUND)
			return rc;
		if (pass == 0 && (*r)->type == REDIS_REPLY_ERROR && (*r)->str != NULL &&
		    strncmp((*r)->str, "NOSCRIPT", 8) == 0) {
			rglog(RGLOG_DEBUG, "rcptguard: store redis: %.200s: script %s not cached there, EVAL",
			      s->uri, L->sc->name);
			H.free_reply(*r);
			*r = NULL;
			continue;
		}
		return RG_FOUND;
	}
	util_snprintf(err, errlen, "redis %.200s: script %s: NOSCRIPT after EVAL", s->uri, L->sc->name);
	return RG_TEMPFAIL;
}

/* The compare-and-delete script over keys/vals (argv[3..3+2n)); *deleted: how many. */
static int store_redis_cad(struct store *s, size_t n, const char **argv, size_t *argvlen, char nk[24],
			   long long *deleted, int64_t deadline, char *err, size_t errlen)
{
	const struct redis_lua *L = store_redis_lua(&cad_script, 0);
	redisReply *r;
	int rc;

	if (L == NULL)
		return util_snprintf(err, errlen, "redis: out of memory"), RG_TEMPFAIL;
	argvlen[2] = (size_t)snprintf(nk, 24, "%zu", n);
	argv[2] = nk;
	if ((rc = store_redis_eval(s, L, (int)(3 + 2 * n), argv, argvlen, &r, deadline, err, errlen)) != RG_FOUND)
		return rc;
	rc = r->type == REDIS_REPLY_INTEGER ? RG_FOUND : store_redis_bad_reply(s, "EVAL", r, err, errlen);
	if (rc == RG_FOUND)
		*deleted = r->integer;
	H.free_reply(r);
	return rc;
}

/* Ask pred about each record of a batch; delete those it wants, if still unchanged. */
static int store_redis_delete_batch(struct store *s, struct redis_batch *b, void *arg, int64_t deadline,
				    char *err, size_t errlen)
{
	struct redis_delete *d = arg;
	const redisReply *k, *v;
	const char **argv;
	size_t *argvlen, *pick, i, n = 0;
	long long got = 0;
	char nk[24];
	int rc = RG_FOUND;

	argv = calloc(3 + 2 * b->n, sizeof *argv);
	argvlen = calloc(3 + 2 * b->n, sizeof *argvlen);
	pick = calloc(b->n, sizeof *pick);
	if (argv == NULL || argvlen == NULL || pick == NULL) {
		free(argv);
		free(argvlen);
		free(pick);
		util_snprintf(err, errlen, "redis: out of memory");
		return RG_TEMPFAIL;
	}
	for (i = 0; i < b->n; i++) {
		k = b->keys->element[i];
		v = b->vals->element[i];
		if (k->type != REDIS_REPLY_STRING || k->len <= s->plen || v->type != REDIS_REPLY_STRING ||
		    v->len > STORE_VAL_MAX || memchr(k->str, '\0', k->len))
			continue;
		if (d->pred(k->str + s->plen, k->len - s->plen, v->str, v->len, d->arg) == 1)
			pick[n++] = i;
	}
	/* KEYS first, then the values they must still hold (ARGV). */
	for (i = 0; i < n; i++) {
		argv[3 + i] = b->keys->element[pick[i]]->str;
		argvlen[3 + i] = b->keys->element[pick[i]]->len;
		argv[3 + n + i] = b->vals->element[pick[i]]->str;
		argvlen[3 + n + i] = b->vals->element[pick[i]]->len;
	}
	if (n > 0) {
		rc = store_redis_cad(s, n, argv, argvlen, nk, &got, deadline, err, errlen);
		if (rc == RG_FOUND)
			d->deleted += (size_t)got;
	}
	free(argv);
	free(argvlen);
	free(pick);
	return rc;
}

static int store_redis_delete_if1(struct store *s, const char *prefix, store_pred_fn *pred, void *arg,
				  size_t *deleted, int64_t deadline, char *err, size_t errlen)
{
	struct redis_delete d = { pred, arg, 0 };
	int rc;

	rc = store_redis_scan(s, prefix, store_redis_delete_batch, &d, deadline, err, errlen);
	if (deleted)
		*deleted += d.deleted;
	return rc;
}

static int store_redis_delete_if(struct store *s, const char *prefix, store_pred_fn *pred, void *arg,
				 size_t *deleted, int64_t deadline, char *err, size_t errlen)
{
	int rc;

	if (deleted)
		*deleted = 0;
	REDIS_RETRY(s, rc, store_redis_delete_if1(s, prefix, pred, arg, deleted, deadline, err, errlen));
	return rc;
}

#define REDIS_SCRIPT_ARGS 16

/* A record owner's script over its keys, in one round trip (store.h, struct store_script). */
static int store_redis_script1(struct store *s, const struct store_script *sc, size_t nkeys, const char *const *keys,
			       size_t nargs, const char *const *args, struct store_script_reply *out, int64_t deadline,
			       char *err, size_t errlen)
{
	char k[STORE_SCRIPT_KEYS][REDIS_KEY_MAX], nk[8];
	const char *argv[3 + STORE_SCRIPT_KEYS + REDIS_SCRIPT_ARGS];
	size_t argvlen[3 + STORE_SCRIPT_KEYS + REDIS_SCRIPT_ARGS], i;
	const struct redis_lua *L;
	redisReply *r, *e;
	int rc;

	out->n = 0;
	if (nkeys > STORE_SCRIPT_KEYS || nargs > REDIS_SCRIPT_ARGS)
		return util_snprintf(err, errlen, "redis: script %s: %zu keys, %zu args (at most %d, %d)", sc->name,
				     nkeys, nargs, STORE_SCRIPT_KEYS, REDIS_SCRIPT_ARGS), RG_TEMPFAIL;
	if ((L = store_redis_lua(sc, 1)) == NULL)
		return util_snprintf(err, errlen, "redis: out of memory"), RG_TEMPFAIL;
	argvlen[2] = (size_t)snprintf(nk, sizeof nk, "%zu", nkeys);
	argv[2] = nk;
	for (i = 0; i < nkeys; i++) {
		if ((argvlen[3 + i] = store_redis_key(s, keys[i], k[i], err, errlen)) == 0)
			return RG_TEMPFAIL;
		argv[3 + i] = k[i];
	}
	for (i = 0; i < nargs; i++) {
		argv[3 + nkeys + i] = args[i];
		argvlen[3 + nkeys + i] = strlen(args[i]);
	}
	if ((rc = store_redis_ensure(s, deadline, err, errlen)) != RG_FOUND)
		return rc == RG_CONFIG ? RG_TEMPFAIL : rc;
	if ((rc = store_redis_eval(s, L, (int)(3 + nkeys + nargs), argv, argvlen, &r, deadline, err, errlen)) != RG_FOUND)
		return rc;
	/* Why every element checked: a script that failed half-way (a Lua error, a server
	 * out of memory) answers an error, which is a temporary failure, never a decision. */
	if (r->type != REDIS_REPLY_ARRAY || r->elements > STORE_SCRIPT_REPLY) {
		rc = store_redis_bad_reply(s, sc->name, r, err, errlen);
		H.free_reply(r);
		return rc;
	}
	for (i = 0; i < r->elements; i++) {
		e = r->element[i];
		if (e->type == REDIS_REPLY_INTEGER) {
			out->len[i] = (size_t)snprintf(out->v[i], sizeof out->v[i], "%lld", e->integer);
		} else if ((e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS) && e->len <= STORE_VAL_MAX) {
			memcpy(out->v[i], e->str, e->len);
			out->v[i][e->len] = '\0';
			out->len[i] = e->len;
		} else {
			rc = store_redis_bad_reply(s, sc->name, e, err, errlen);
			H.free_reply(r);
			return rc;
		}
	}
	out->n = r->elements;
	H.free_reply(r);
	return RG_FOUND;
}

static int store_redis_script(struct store *s, const struct store_script *sc, size_t nkeys, const char *const *keys,
			      size_t nargs, const char *const *args, struct store_script_reply *out, int64_t deadline,
			      char *err, size_t errlen)
{
	int rc;

	REDIS_RETRY(s, rc, store_redis_script1(s, sc, nkeys, keys, nargs, args, out, deadline, err, errlen));
	return rc;
}

/* Count our keys (SCAN, whatever their type) and those without a TTL (PTTL -1). */
struct redis_count {
	long long keys, nottl, wrongtype;
};

static int store_redis_count_batch(struct store *s, struct redis_batch *b, void *arg, int64_t deadline,
				   char *err, size_t errlen)
{
	struct redis_count *c = arg;
	const char *(*argv)[2];
	size_t (*argvlen)[2], i;
	const char *const **av;
	const size_t **al;
	int *argc, rc;
	redisReply **r;

	c->keys += (long long)b->n;
	argv = calloc(b->n, sizeof *argv);
	argvlen = calloc(b->n, sizeof *argvlen);
	av = calloc(b->n, sizeof *av);
	al = calloc(b->n, sizeof *al);
	argc = calloc(b->n, sizeof *argc);
	r = calloc(b->n, sizeof *r);
	rc = RG_TEMPFAIL;
	if (argv && argvlen && av && al && argc && r) {
		for (i = 0; i < b->n; i++) {
			argv[i][0] = "PTTL";
			argvlen[i][0] = 4;
			argv[i][1] = b->keys->element[i]->str ? b->keys->element[i]->str : "";
			argvlen[i][1] = b->keys->element[i]->str ? b->keys->element[i]->len : 0;
			av[i] = argv[i];
			al[i] = argvlen[i];
			argc[i] = 2;
			if (b->vals->element[i]->type != REDIS_REPLY_STRING)
				c->wrongtype++;  /* MGET answers nil for another type (or expired) */
		}
		rc = store_redis_run(s, b->n, argc, av, al, r, deadline, "PTTL", err, errlen);
		for (i = 0; rc == RG_FOUND && i < b->n; i++)
			if (r[i]->type == REDIS_REPLY_INTEGER && r[i]->integer == -1)
				c->nottl++;
		if (rc == RG_FOUND)
			store_redis_free(r, b->n);
	} else {
		util_snprintf(err, errlen, "redis: out of memory");
	}
	free(argv); free(argvlen); free(av); free(al); free(argc); free(r);
	return rc;
}

/* A value of INFO's text: "name:value\r\n". */
static long long store_redis_info_field(const char *text, size_t len, const char *name)
{
	size_t n = strlen(name);
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if ((size_t)(end - p) > n + 1 && memcmp(p, name, n) == 0 && p[n] == ':')
			return strtoll(p + n + 1, NULL, 10);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return -1;
}

static int store_redis_info1(struct store *s, struct store_info *out, char *err, size_t errlen)
{
	const char *ping[1] = { "PING" }, *info[2] = { "INFO", "memory" };
	size_t pingl[1] = { 4 }, infol[2] = { 4, 6 };
	struct redis_count c = { 0, 0, 0 };
	int64_t deadline = util_monotonic_ms() + 5000, t0;
	struct timespec a, z;
	redisReply *r;
	int rc;

	memset(out, 0, sizeof *out);
	util_strlcpy(out->member, "redis", sizeof out->member);
	out->keys = out->bytes = out->rtt_us = -1;
	if ((rc = store_redis_ensure(s, deadline, err, errlen)) != RG_FOUND)
		return RG_TEMPFAIL;
	util_strlcpy(out->where, s->uri, sizeof out->where);
	if (!s->role[0]) {                 /* one URI: not asked at connect */
		const char *role[1] = { "ROLE" };
		size_t rolel[1] = { 4 };

		if ((rc = store_redis_cmd(s, 1, role, rolel, &r, deadline, "ROLE", err, errlen)) != RG_FOUND)
			return rc;
		if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 && r->element[0]->type == REDIS_REPLY_STRING)
			util_sanitise(s->role, sizeof s->role, r->element[0]->str, r->element[0]->len);
		H.free_reply(r);
	}
	util_strlcpy(out->role, s->role, sizeof out->role);
	clock_gettime(CLOCK_MONOTONIC, &a);
	if ((rc = store_redis_cmd(s, 1, ping, pingl, &r, deadline, "PING", err, errlen)) != RG_FOUND)
		return rc;
	clock_gettime(CLOCK_MONOTONIC, &z);
	H.free_reply(r);
	t0 = (int64_t)(z.tv_sec - a.tv_sec) * 1000000 + (z.tv_nsec - a.tv_nsec) / 1000;
	out->rtt_us = t0;
	if ((rc = store_redis_cmd(s, 2, info, infol, &r, deadline, "INFO", err, errlen)) != RG_FOUND)
		return rc;
	if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
		out->bytes = store_redis_info_field(r->str, r->len, "used_memory");
	H.free_reply(r);
	/* Why SCAN and not DBSIZE: the database may hold other sites' keys (other prefixes). */
	rc = store_redis_scan(s, "", store_redis_count_batch, &c, deadline, err, errlen);
	if (rc == RG_FOUND) {
		out->keys = c.keys;
		util_snprintf(out->detail, sizeof out->detail, "prefix \"%s\": %lld keys counted by SCAN, "
			      "%lld without a TTL, %lld of another type; timeout %ums", s->prefix, c.keys,
			      c.nottl, c.wrongtype, s->timeout_ms);
	} else {
		util_snprintf(out->detail, sizeof out->detail, "keys not counted: %.200s", err);
	}
	return RG_FOUND;
}

static int store_redis_info(struct store *s, struct store_info *out, char *err, size_t errlen)
{
	int rc;

	REDIS_RETRY(s, rc, store_redis_info1(s, out, err, errlen));
	return rc;
}

/* Every key of our prefix must be a string with a TTL. */
static int store_redis_check(struct store *s, char *err, size_t errlen)
{
	struct redis_count c = { 0, 0, 0 };
	int rc;

	rc = store_redis_scan(s, "", store_redis_count_batch, &c, util_monotonic_ms() + 60000, err, errlen);
	if (rc != RG_FOUND)
		return RG_TEMPFAIL;
	if (c.nottl || c.wrongtype) {
		util_snprintf(err, errlen, "redis %.200s: prefix \"%s\": %lld of %lld keys without a TTL, %lld of "
			      "another type (they read as misses)", s->uri, s->prefix, c.nottl, c.keys, c.wrongtype);
		return RG_NOTFOUND;
	}
	util_snprintf(err, errlen, "redis %.200s: prefix \"%s\": %lld keys, each with a TTL", s->uri,
		      s->prefix, c.keys);
	return RG_FOUND;
}

/* hiredis, loaded once per process (or inherited from Exim's daemon: store_redis_preload). */
static int store_redis_load(char *err, size_t errlen)
{
	if (hiredis_loaded)
		return RG_FOUND;
	if (dynlib_load(RG_HIREDIS_SONAME, hiredis_syms, sizeof hiredis_syms / sizeof hiredis_syms[0],
			err, errlen) != RG_FOUND)
		return RG_CONFIG;
	hiredis_loaded = 1;
	return RG_FOUND;
}

/* In Exim's daemon, before it forks: map hiredis once, so that no SMTP process pays its
 * dlopen (a fresh one costs 200-300 µs here, an inherited one nothing). No connection:
 * a socket shared by every child would mix their replies. */
static int store_redis_preload(const struct settings *set, char *err, size_t errlen)
{
	(void)set;
	return store_redis_load(err, errlen);
}

static int store_redis_open(const struct settings *set, struct store **out, char *err, size_t errlen)
{
	struct store *s;
	char ignore[RG_PATH_MAX], host[RG_PATH_MAX];
	const char *p = set->redis.uri;
	int n, port, unixsock, uris = 0;
	unsigned db;

	*out = NULL;
	if (!set->redis.uri[0]) {
		util_snprintf(err, errlen, "store = redis but redis_uri is not set");
		return RG_CONFIG;
	}
	/* Every URI checked now: a typo in the second one must not wait for a failover. */
	while ((n = store_redis_next_uri(&p, ignore, sizeof ignore, err, errlen)) > 0) {
		if (store_redis_parse_uri(ignore, host, sizeof host, &port, &unixsock, &db, err, errlen) != RG_FOUND)
			return RG_CONFIG;
		uris++;
	}
	if (n < 0)
		return RG_CONFIG;
	if (store_redis_load(err, errlen) != RG_FOUND)
		return RG_CONFIG;
	if ((s = calloc(1, sizeof *s)) == NULL) {
		util_snprintf(err, errlen, "redis: out of memory");
		return RG_TEMPFAIL;
	}
	util_strlcpy(s->uris, set->redis.uri, sizeof s->uris);
	util_strlcpy(s->pwfile, set->redis.password_file, sizeof s->pwfile);
	util_strlcpy(s->prefix, set->redis.prefix, sizeof s->prefix);
	s->plen = strlen(s->prefix);
	s->timeout_ms = set->redis.timeout ? set->redis.timeout : 500;
	s->several = uris > 1;
	/* Why connect now: open is lazy already (first use in the process), and a server
	 * that cannot be reached must be known here, so store.c can fall back at once. */
	switch (store_redis_ensure(s, 0, err, errlen)) {
	case RG_FOUND:
		*out = s;
		return RG_FOUND;
	case RG_CONFIG:
		free(s);
		return RG_CONFIG;
	default:
		free(s);
		return RG_TEMPFAIL;
	}
}

/* Whether the last RG_TEMPFAIL was the server not answering (store.c falls back). */
static int store_redis_unreachable(struct store *s)
{
	return s != NULL && s->down;
}

static void store_redis_close(struct store *s)
{
	if (s == NULL)
		return;
	store_redis_drop(s);
	free(s);
}

const struct store_ops store_redis_ops = {
	.name = "redis",
	.caps = STORE_CAP_SHARED | STORE_CAP_EXPIRY | STORE_CAP_SCRIPT,
	.open = store_redis_open,
	.get = store_redis_get,
	.put = store_redis_put,
	.del = store_redis_del,
	.iterate = store_redis_iterate,
	.delete_if = store_redis_delete_if,
	.update = store_redis_update,
	.info = store_redis_info,
	.check = store_redis_check,
	.close = store_redis_close,
	.unreachable = store_redis_unreachable,
	.script = store_redis_script,
	.preload = store_redis_preload,
};
