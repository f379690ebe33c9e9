/*
 * admin.h - what the rcptguard-admin files share: the request and reply of one HTTP call,
 * tokens and scopes, the handlers of each resource, and the daemon's global state.
 *
 * rcptguard-admin is a face over core/ like rcptguardctl: it parses HTTP and JSON, checks
 * who may do what, calls core/ and answers JSON. core/ keeps per-process state (the
 * engine's config, the store handle, list mappings) that is not thread-safe: every call
 * into core/ holds admin_core_lock.
 */
#ifndef RG_ADMIN_H
#define RG_ADMIN_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>

#include "config.h"

#define ADMIN_BODY_MAX (64u << 20)      /* largest request body: a list upload (64 MiB) */
#define ADMIN_JSON_BODY_MAX 65536       /* largest JSON request body */
#define ADMIN_TOKEN_NAME_MAX 64
#define ADMIN_PROBE_INTERVAL 30         /* seconds between two probes of one domain */

/* One line of the tokens file: "SHA256HEX SCOPE NAME". */
struct admin_token {
	unsigned char hash[32];
	char scope[CONFIG_LIST_MAX];    /* "*" (operator) or "a.example,b.example" */
	char name[ADMIN_TOKEN_NAME_MAX + 1];
};

/* One HTTP request, as the handlers see it. */
struct admin_req {
	const char *method;             /* "GET", "PUT", ... */
	const char *path;               /* decoded by libmicrohttpd, without the query */
	void *conn;                     /* struct MHD_Connection *, for query arguments */
	const struct admin_token *tok;  /* the caller; NULL for /metrics by address */
	const char *body;               /* the request body (NUL-terminated), may be NULL */
	size_t len;
	char peer[64];                  /* the client's address, for the log */
};

/* The answer: a status and a body (malloc'd) of a content type. */
struct admin_reply {
	unsigned status;
	char *body;
	size_t len;
	const char *ctype;
	const char *allow;              /* "Allow" header for a 405 */
};

/* Global state of the daemon (admin_http.c). */
struct admin_state {
	const char *config_path;
	struct settings g;              /* the global settings at start */
	struct admin_token *tokens;
	size_t ntokens;
};
extern struct admin_state admin;
extern pthread_mutex_t admin_core_lock;

/* rcptguard-admin.c: log a line on stderr (systemd's journal). */
void admin_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* admin_http.c */
int admin_serve(void);
/* Answer JSON (takes the reference of j). */
void admin_reply_json(struct admin_reply *r, unsigned status, json_t *j);
/* Answer {"error": "..."} with status. */
void admin_reply_error(struct admin_reply *r, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A query argument of the request, or NULL. */
const char *admin_query(const struct admin_req *q, const char *key);
/* Parse the body as a JSON object; NULL after answering 400. */
json_t *admin_body_json(const struct admin_req *q, struct admin_reply *r);
/* Log a change made by the caller, naming its token. */
void admin_audit(const struct admin_req *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* admin_auth.c */
/* Load the tokens file (bounded, regular, not writable by others). RG_FOUND or RG_CONFIG. */
int admin_tokens_load(const char *path, struct admin_token **out, size_t *n, char *err, size_t errlen);
/* The token whose hash matches the presented secret (compared in constant time), or NULL. */
const struct admin_token *admin_tokens_match(const char *secret);
/* Whether t may act on domain (lower-case). */
int admin_scope_allows(const struct admin_token *t, const char *domain);
/* Whether t is an operator token (scope "*"). */
int admin_is_operator(const struct admin_token *t);
/* token add SCOPE NAME | list | remove NAME; returns the exit status. */
int admin_token_cmd(const char *path, int argc, char **argv);

/* admin_domains.c: /api/v1/domains[/DOMAIN[/cache|/list|/list/accept|/probe]] */
void admin_domains(struct admin_req *q, const char *rest, struct admin_reply *r);

/* admin_ops.c: operator resources. */
void admin_greylist(struct admin_req *q, struct admin_reply *r);
void admin_stats(struct admin_req *q, struct admin_reply *r);
void admin_metrics(struct admin_req *q, struct admin_reply *r);

/* admin_page.c: the web page. */
extern const char admin_page_html[];

#endif
