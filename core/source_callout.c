/*
 * source_callout.c - the "callout" source: ask the destination server itself.
 *
 * EHLO, MAIL FROM:<> (as a bounce would), RCPT TO:<address>; no message is ever sent.
 * 2xx = exists. A 5xx says "does not exist" only when the one table of replies
 * (reply_class.c) says so, and only from a destination known to accept an address that
 * must exist (postmaster@DOMAIN, or callout_known), learned with the catch-all probe on the
 * same connection and cached with it. Everything else (4xx, timeouts, refused
 * connections, 5xx to the banner/EHLO/MAIL, policy, sender and system codes, any 5xx
 * from a destination that refuses postmaster) is about the destination, not the
 * address: RG_TEMPFAIL. A destination that accepts a random local part (a catch-all, or
 * an Exchange that rejects only after DATA) can say nothing about addresses, and the
 * chain moves on.
 *
 * One connection per destination per process serves the probe and every recipient of
 * the SMTP session: recipients share one transaction (up to CALLOUT_TXN_MAX RCPTs, then
 * RSET); a connection found dead, or ended by a 421, is remade once, transparently. A
 * negative answer read on a connection that carried earlier RCPTs is asked again and
 * trusted only when both answers agree (a late duplicate reply must never be read as
 * the next RCPT's answer).
 */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "callout_key.h"
#include "reply_class.h"
#include "rglog.h"
#include "stats.h"
#include "source.h"
#include "source_callout.h"
#include "store.h"

#define CALLOUT_SLOTS 4
#define CALLOUT_TXN_MAX 100   /* RFC 5321 4.5.3.1.8: servers take at least 100 */

struct callout_slot {
	uint64_t gen;                   /* util_fork_generation() of the opener */
	char hosts[CONFIG_HOSTS_MAX];
	unsigned port;
	char sender[RG_ADDRESS_MAX + 3];
	char helo[RG_DOMAIN_MAX + 1];
	struct smtp_conn *conn;
	int mail_refused;               /* MAIL FROM refused: do not ask again this session */
	int in_txn;
	unsigned rcpts;                 /* RCPTs in this transaction */
	unsigned asked;                 /* RCPTs on this connection */
	char known_domain[RG_DOMAIN_MAX + 1]; /* catchall_check = no: domain whose known */
	int known;                      /* address answer is kept for this session */
	int64_t used;
};

static struct callout_slot callout_slots[CALLOUT_SLOTS];
static int callout_slots_used;          /* a slot was taken in this process (or its parent) */

/* Random probe local part (see source_callout.h). */
int source_callout_random_local(char *out, size_t size)
{
	return callout_key_random(out, size);
}

/* The probe local part of domain: stable during a catchall_ttl period, else one-off. */
int source_callout_probe_local(const char *domain, const struct settings *s, char *out, size_t size)
{
	static int warned;
	char err[RG_ERRLEN];
	int64_t period = s->callout.catchall_ttl > 0 ? util_now() / (int64_t)s->callout.catchall_ttl : 0;

	if (callout_key_local(s->state_dir, domain, period, out, size, err, sizeof err) == RG_FOUND)
		return 0;
	if (!warned++)
		rglog(RGLOG_INFO, "rcptguard: no stable probe address (%s): using random ones", err);
	return callout_key_random(out, size);
}

/* The address that must exist at domain: callout_known without its brackets, or
 * postmaster@domain (RFC 5321 4.5.1). -1 when it does not fit. */
int source_callout_known_address(const char *domain, const struct settings *s, char *out, size_t size)
{
	size_t n = strlen(s->callout.known);

	if (n > 2 && s->callout.known[0] == '<' && s->callout.known[n - 1] == '>')
		return util_snprintf(out, size, "%.*s", (int)(n - 2), s->callout.known + 1);
	return util_snprintf(out, size, "postmaster@%s", domain);
}

/* Close every connection this process opened (QUIT, no wait). */
static RG_HOT void source_callout_reset(void)
{
	uint64_t gen;
	size_t i;

	/* Why: the slots span pages that a session without callouts never touched; each
	 * would cost a page fault. */
	if (!callout_slots_used)
		return;
	gen = util_fork_generation();
	for (i = 0; i < CALLOUT_SLOTS; i++) {
		/* Why the generation check: after fork() the socket is shared with the
		 * parent; a QUIT from the child would end the parent's session. */
		if (callout_slots[i].conn != NULL && callout_slots[i].gen == gen)
			smtp_close(callout_slots[i].conn);
		memset(&callout_slots[i], 0, sizeof callout_slots[i]);
	}
}

/* The slot for this destination: reused, free, or the least recently used one. */
static struct callout_slot *source_callout_slot(const struct settings *s)
{
	struct callout_slot *best = NULL;
	uint64_t gen = util_fork_generation();
	size_t i;

	for (i = 0; i < CALLOUT_SLOTS; i++) {
		struct callout_slot *sl = &callout_slots[i];

		int busy = sl->conn != NULL || sl->mail_refused;

		if (busy && sl->gen != gen) {
			memset(sl, 0, sizeof *sl);     /* inherited across fork: never used */
			busy = 0;
		}
		if (busy && sl->port == s->callout.port && strcmp(sl->hosts, s->callout.hosts) == 0 &&
		    strcmp(sl->sender, s->callout.sender) == 0 && strcmp(sl->helo, s->callout.helo) == 0)
			return sl;
		if (best == NULL || (best->conn != NULL || best->mail_refused ?
				     !busy || sl->used < best->used : 0))
			best = sl;
	}
	smtp_close(best->conn);
	callout_slots_used = 1;
	memset(best, 0, sizeof *best);
	memcpy(best->hosts, s->callout.hosts, sizeof best->hosts);
	memcpy(best->sender, s->callout.sender, sizeof best->sender);
	memcpy(best->helo, s->callout.helo, sizeof best->helo);
	best->port = s->callout.port;
	return best;
}

/* Drop a slot's connection. */
static void source_callout_drop(struct callout_slot *sl)
{
	smtp_close(sl->conn);
	sl->conn = NULL;
	sl->in_txn = 0;
	sl->rcpts = 0;
	sl->asked = 0;
}

/*
 * Ask RCPT TO:<rcpt> on the slot's connection (made or remade as needed). RG_FOUND with
 * the reply (any code), or RG_TEMPFAIL when the destination could not be asked.
 */
static int source_callout_rcpt(struct callout_slot *sl, const struct settings *s, const char *rcpt,
			int64_t deadline, struct smtp_reply *r, char *err, size_t errlen)
{
	struct smtp_timeouts t = { s->callout.connect_timeout * 1000, s->callout.command_timeout * 1000 };
	char line[RG_ADDRESS_MAX + 32];
	int attempt, rc, reused, retried = 0;

	/* Why: a destination that refuses the null sender refuses it for every recipient;
	 * asking again would cost it one connection per recipient of the session. */
	if (sl->mail_refused)
		return util_snprintf(err, errlen, "%.100s: MAIL FROM refused earlier in this session",
				     sl->hosts), RG_TEMPFAIL;
	/* Attempts: a connection found dead while idle is remade once, and so is one that a
	 * 421 ended (retried); never more, and never past the deadline. */
	for (attempt = 0; attempt < 3; attempt++) {
		reused = sl->conn != NULL && smtp_alive(sl->conn);
		if (!reused) {
			source_callout_drop(sl);
			rc = smtp_open(s->callout.hosts, s->callout.port, s->callout.helo, &t, deadline, &sl->conn, r,
				       err, errlen);
			if (rc != RG_FOUND) {
				sl->conn = NULL;
				return rc;
			}
			sl->gen = util_fork_generation();
		}
		sl->used = util_monotonic_ms();
		if (!sl->in_txn) {
			if (util_snprintf(line, sizeof line, "MAIL FROM:%s", s->callout.sender) < 0)
				return util_snprintf(err, errlen, "callout_sender too long"), RG_CONFIG;
			rc = smtp_command(sl->conn, line, deadline, r, err, errlen);
			if (rc != RG_FOUND) {
				source_callout_drop(sl);
				if (reused && attempt == 0)
					continue;     /* dropped while idle: remake once */
				return rc;
			}
			if (r->code / 100 == 4) {
				/* Not a refusal of the sender: a busy or closing server. */
				util_snprintf(err, errlen, "%s: MAIL FROM answered %d %.100s",
					      smtp_peer(sl->conn), r->code, r->text);
				source_callout_drop(sl);
				if (r->code == 421 && !retried++)
					continue;
				return RG_TEMPFAIL;
			}
			if (r->code / 100 != 2) {
				/* A destination that refuses the null sender cannot be asked. */
				util_snprintf(err, errlen, "%s: MAIL FROM refused: %d %.100s",
					      smtp_peer(sl->conn), r->code, r->text);
				source_callout_drop(sl);
				sl->mail_refused = 1;
				return RG_TEMPFAIL;
			}
			sl->in_txn = 1;
			sl->rcpts = 0;
		}
		if (util_snprintf(line, sizeof line, "RCPT TO:<%s>", rcpt) < 0)
			return util_snprintf(err, errlen, "address too long"), RG_CONFIG;
		rc = smtp_command(sl->conn, line, deadline, r, err, errlen);
		if (rc != RG_FOUND) {
			source_callout_drop(sl);
			if (reused && attempt == 0)
				continue;
			return rc;
		}
		sl->rcpts++;
		sl->asked++;
		if ((r->code == 452 || r->code == 552) && sl->rcpts > 1 && attempt == 0) {
			/* "Too many recipients": start a fresh transaction and ask again. */
			source_callout_drop(sl);
			continue;
		}
		if (r->code == 421) {
			/* Why ask again: a 421 right after RCPT (Postfix's "too many errors")
			 * means the server closed without reading it; it said nothing about
			 * the address. */
			source_callout_drop(sl);
			if (!retried++) {
				rglog(RGLOG_DEBUG, "rcptguard: callout %.100s: 421 after RCPT, asking again on a new connection",
				      sl->hosts);
				continue;
			}
		} else if (sl->rcpts >= CALLOUT_TXN_MAX) {
			/* Why not RSET after every refusal: Exim counts RSET as a non-mail
			 * command and drops the session after smtp_accept_max_nonmail (10), so
			 * a message with many unknown recipients would cost many connections. */
			struct smtp_reply rr;
			char e2[RG_ERRLEN];

			if (smtp_command(sl->conn, "RSET", deadline, &rr, e2, sizeof e2) != RG_FOUND ||
			    rr.code / 100 != 2)
				source_callout_drop(sl);
			sl->in_txn = 0;
		}
		return RG_FOUND;
	}
	return RG_TEMPFAIL;
}

/*
 * Ask RCPT TO:<rcpt> and classify the reply. A negative reply read on a connection that
 * carried earlier RCPTs is asked again: trusted when both answers agree; otherwise the
 * connection is out of step (a late duplicate reply), dropped, and the question asked on
 * a new one, where it is the first RCPT and nothing earlier can answer for it.
 */
static int source_callout_ask(struct callout_slot *sl, const struct settings *s, const char *rcpt,
			      int64_t deadline, struct smtp_reply *r, struct reply_class *cls,
			      char *err, size_t errlen)
{
	char peer[64];
	struct smtp_reply first;
	int rc;

	rc = source_callout_rcpt(sl, s, rcpt, deadline, r, err, errlen);
	if (rc != RG_FOUND)
		return rc;
	reply_class(r->code, r->text, cls);
	if (!reply_class_is_negative(cls) || sl->asked <= 1)
		return RG_FOUND;
	first = *r;
	util_strlcpy(peer, smtp_peer(sl->conn), sizeof peer);
	rc = source_callout_rcpt(sl, s, rcpt, deadline, r, err, errlen);
	if (rc == RG_FOUND && r->code == first.code && strcmp(r->text, first.text) == 0)
		return RG_FOUND;
	if (rc == RG_FOUND)
		rglog(RGLOG_INFO, "rcptguard: callout %s: two answers to one RCPT disagree (%d, then %d): "
		      "connection out of step, asking on a new one", peer, first.code, r->code);
	else
		rglog(RGLOG_INFO, "rcptguard: callout %s: a %d was not confirmed (%.200s): asking on a new connection",
		      peer, first.code, err);
	source_callout_drop(sl);
	rc = source_callout_rcpt(sl, s, rcpt, deadline, r, err, errlen);
	if (rc != RG_FOUND)
		return rc;
	reply_class(r->code, r->text, cls);
	return RG_FOUND;
}

/* Read the cached catch-all record of domain: 1 yes, 0 no, -1 none fresh; *known set. */
static int source_callout_catchall_cached(const struct store_handle *st, const char *domain,
				   int64_t deadline_ms, char *text, size_t textsize, int *known)
{
	char key[STORE_KEY_MAX + 1], val[STORE_VAL_MAX], err[RG_ERRLEN];
	struct verdict v;
	size_t vlen;

	if (st == NULL || verdict_key_catchall(key, sizeof key, domain) < 0)
		return -1;
	if (store_get(st, key, val, sizeof val, &vlen, deadline_ms, err, sizeof err) != RG_FOUND)
		return -1;
	if (verdict_decode(val, vlen, 1, &v) < 0 || v.expires <= util_now())
		return -1;
	util_strlcpy(text, v.text, textsize);
	*known = v.known;
	return v.pass;
}

/* Ask for the known address: 1 accepted, 0 refused (5xx), or -1 with rc (could not tell). */
static int source_callout_known(struct callout_slot *sl, const char *domain, const struct settings *s,
				int64_t deadline, char *text, size_t textsize, int *rc, char *err, size_t errlen)
{
	char addr[RG_ADDRESS_MAX + 1];
	struct smtp_reply r;

	if (source_callout_known_address(domain, s, addr, sizeof addr) < 0) {
		*rc = RG_CONFIG;
		return util_snprintf(err, errlen, "known address for %s too long", domain), -1;
	}
	*rc = source_callout_rcpt(sl, s, addr, deadline, &r, err, errlen);
	if (*rc != RG_FOUND)
		return -1;
	if (r.code / 100 == 2)
		return 1;
	if (r.code / 100 == 5) {
		(void)util_snprintf(text, textsize, "<%.100s> refused: %d %.100s", addr, r.code, r.text);
		return 0;
	}
	*rc = RG_TEMPFAIL;
	snprintf(text, textsize, "%d %.150s", r.code, r.text);
	util_snprintf(err, errlen, "%s: <%.100s> answered %d %.100s", smtp_peer(sl->conn), addr, r.code, r.text);
	return -1;
}

/*
 * Probe (or read from the cache) whether domain's destination accepts anything and
 * whether it accepts the known address. With probe 0 (catchall_check = no) only the
 * known address is asked, and not cached: RG_NOTFOUND with *known.
 */
static int source_callout_dest(const char *domain, const struct settings *s, int64_t deadline_ms, int probe,
			       int *cached, int *known, char *text, size_t textsize, char *err, size_t errlen)
{
	char local[CALLOUT_KEY_LOCAL_MAX], rcpt[RG_ADDRESS_MAX + 1], key[STORE_KEY_MAX + 1], val[STORE_VAL_MAX];
	char serr[RG_ERRLEN], ktext[VERDICT_TEXT_MAX] = "";
	const struct store_handle *st;
	struct callout_slot *sl;
	struct reply_class cls;
	struct smtp_reply r;
	struct verdict v;
	int rc, yes;

	*cached = 0;
	*known = -1;
	if (s->callout.hosts[0] == '\0')
		return util_snprintf(err, errlen, "no hosts configured for %s", domain), RG_CONFIG;
	st = store_process(s, serr, sizeof serr);
	if ((yes = source_callout_catchall_cached(st, domain, deadline_ms, text, textsize, known)) >= 0) {
		*cached = 1;
		return yes ? RG_FOUND : RG_NOTFOUND;
	}
	if (source_callout_probe_local(domain, s, local, sizeof local) < 0 ||
	    util_snprintf(rcpt, sizeof rcpt, "%s@%s", local, domain) < 0)
		return util_snprintf(err, errlen, "cannot make a probe address"), RG_TEMPFAIL;
	sl = source_callout_slot(s);
	/* Uncached (catchall_check = no): the answer is kept for the session, per slot. */
	if (!probe && sl->known_domain[0] != '\0' && strcmp(sl->known_domain, domain) == 0) {
		*known = sl->known;
		return RG_NOTFOUND;
	}
	/* Why the known address first: it is the first RCPT of a fresh connection, so no
	 * earlier reply can stand in for its answer. */
	if (s->callout.postmaster_check && (*known = source_callout_known(sl, domain, s, deadline_ms, ktext,
								 sizeof ktext, &rc, err, errlen)) < 0) {
		util_strlcpy(text, ktext, textsize);
		return rc;
	}
	if (!probe) {
		util_strlcpy(sl->known_domain, domain, sizeof sl->known_domain);
		sl->known = *known;
		return util_strlcpy(text, ktext, textsize), RG_NOTFOUND;
	}
	rc = source_callout_rcpt(sl, s, rcpt, deadline_ms, &r, err, errlen);
	stats_callout(s->state_dir, "probe", rc == RG_FOUND ? r.code : 0);
	if (rc != RG_FOUND)
		return rc;
	snprintf(text, textsize, "%d %.150s", r.code, r.text);
	reply_class(r.code, r.text, &cls);
	if (cls.kind == REPLY_TEMPORARY) {
		util_snprintf(err, errlen, "%s: probe answered %d %.100s", smtp_peer(sl->conn), r.code, r.text);
		return RG_TEMPFAIL;
	}
	/* A destination that refuses the known address gives no negative verdicts anyway:
	 * whatever its 5xx to the probe means, it is cached as "no" with that fact. */
	if (cls.kind != REPLY_ACCEPTED && *known != 0 &&
	    !(reply_class_is_negative(&cls) && (!cls.sane_only || *known == 1))) {
		util_snprintf(err, errlen, "%s: probe answered %d %.100s (not a mailbox verdict: %s)",
			      smtp_peer(sl->conn), r.code, r.text, cls.why);
		return RG_TEMPFAIL;
	}
	memset(&v, 0, sizeof v);
	v.pass = cls.kind == REPLY_ACCEPTED;
	v.known = *known;
	memcpy(v.source, "catchall", sizeof "catchall");
	v.created = util_now();
	v.expires = v.created + s->callout.catchall_ttl;
	if (*known == 0)
		util_strlcpy(text, ktext, textsize);
	util_strlcpy(v.text, text, sizeof v.text);
	/* Said once per domain and catchall_ttl: the record keeps it from being probed again. */
	if (*known == 0)
		rglog(RGLOG_INFO, "rcptguard: %s: destination %.100s refuses the known address (%s): "
		      "its 5xx replies are not taken as unknown recipients", domain, s->callout.hosts, ktext);
	if (st != NULL && verdict_key_catchall(key, sizeof key, domain) == 0 &&
	    verdict_encode(&v, 1, val, sizeof val) == 0 &&
	    store_put(st, key, val, strlen(val), verdict_life(&v, 1, 0), deadline_ms, serr, sizeof serr) != RG_FOUND)
		rglog(RGLOG_INFO, "rcptguard: store unavailable, catch-all result not cached: %s", serr);
	return v.pass ? RG_FOUND : RG_NOTFOUND;
}

/* Probe (or read from the cache) whether domain's destination accepts anything. */
int source_callout_catchall(const char *domain, const struct settings *s, int64_t deadline_ms,
			    int *cached, int *known, char *text, size_t textsize, char *err, size_t errlen)
{
	return source_callout_dest(domain, s, deadline_ms, 1, cached, known, text, textsize, err, errlen);
}

/* The source lookup: destination probe first, then RCPT TO for the address. */
static int source_callout_lookup(const struct address *addr, const struct settings *s,
				 int64_t deadline_ms, struct source_answer *ans, char *err, size_t errlen)
{
	struct reply_class cls;
	struct smtp_reply r;
	int rc, cached, known = -1;

	memset(ans, 0, sizeof *ans);
	if (s->callout.hosts[0] == '\0')
		return util_snprintf(err, errlen, "no hosts configured for %s", addr->domain), RG_CONFIG;
	if (s->callout.catchall_check || s->callout.postmaster_check) {
		rc = source_callout_dest(addr->domain, s, deadline_ms, s->callout.catchall_check, &cached, &known,
					 ans->text, sizeof ans->text, err, errlen);
		if (rc == RG_FOUND && s->callout.catchall_check) {
			ans->catchall = 1;
			util_snprintf(err, errlen, "%s is a catch-all destination", addr->domain);
			return RG_TEMPFAIL;
		}
		/* A probe that got an indefinite reply (4xx, a policy 5xx) cannot tell; the
		 * address itself may still get a definite answer, whatever the catch-all status. */
		if (rc != RG_NOTFOUND && rc != RG_FOUND &&
		    !(rc == RG_TEMPFAIL && ans->text[0] >= '2' && ans->text[0] <= '5'))
			return rc;
	}
	rc = source_callout_ask(source_callout_slot(s), s, addr->full, deadline_ms, &r, &cls, err, errlen);
	stats_callout(s->state_dir, "rcpt", rc == RG_FOUND ? r.code : 0);
	if (rc != RG_FOUND)
		return rc;
	snprintf(ans->text, sizeof ans->text, "%d %.150s", r.code, r.text);
	if (cls.kind == REPLY_ACCEPTED)
		return RG_FOUND;
	if (reply_class_is_negative(&cls)) {
		if (known == 1 || (!s->callout.postmaster_check && !cls.sane_only))
			return RG_NOTFOUND;
		util_snprintf(err, errlen, "RCPT answered %d %.100s (not trusted: the destination %s)",
			      r.code, r.text, known == 0 ? "refuses the known address" :
			      "has not been seen to accept the known address");
		return RG_TEMPFAIL;
	}
	util_snprintf(err, errlen, "RCPT answered %d %.100s%s%s%s", r.code, r.text,
		      r.code / 100 == 5 ? " (not a mailbox verdict: " : "",
		      r.code / 100 == 5 ? cls.why : "", r.code / 100 == 5 ? ")" : "");
	return RG_TEMPFAIL;
}

const struct source_ops source_callout_ops = {
	.name = "callout",
	.lookup = source_callout_lookup,
	.reset = source_callout_reset,
};
