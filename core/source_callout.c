/*
 * source_callout.c - the "callout" source: ask the destination server itself.
 *
 * EHLO, MAIL FROM:<> (as a bounce would), RCPT TO:<address>; no message is ever sent.
 * 2xx = exists, 5xx to RCPT = does not; everything else (4xx, timeouts, refused
 * connections, 5xx to the banner/EHLO/MAIL) is about the destination, not the address:
 * RG_TEMPFAIL. Before trusting a destination's answers, a random local part is probed:
 * a destination that accepts it (a catch-all, or an Exchange that rejects only after
 * DATA) can say nothing about addresses, and the chain moves on.
 *
 * One connection per destination per process serves the probe and every recipient of
 * the SMTP session: recipients share one transaction (up to CALLOUT_TXN_MAX RCPTs, then
 * RSET); a connection found dead is remade once, transparently.
 */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "rglog.h"
#include "source.h"
#include "source_callout.h"
#include "store.h"

#define CALLOUT_SLOTS 4
#define CALLOUT_TXN_MAX 100   /* RFC 5321 4.5.3.1.8: servers take at least 100 */

struct callout_slot {
	unsigned gen;                   /* util_fork_generation() of the opener */
	char hosts[CONFIG_HOSTS_MAX];
	unsigned port;
	char sender[RG_ADDRESS_MAX + 3];
	char helo[RG_DOMAIN_MAX + 1];
	struct smtp_conn *conn;
	int mail_refused;               /* MAIL FROM refused: do not ask again this session */
	int in_txn;
	unsigned rcpts;
	int64_t used;
};

static struct callout_slot callout_slots[CALLOUT_SLOTS];
static int callout_slots_used;          /* a slot was taken in this process (or its parent) */

/* Random probe local part. */
int source_callout_random_local(char *out, size_t size)
{
	unsigned long long r;

	if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
		return -1;
	return util_snprintf(out, size, "rcptguard-probe-%016llx", r);
}

/* Close every connection this process opened (QUIT, no wait). */
static void source_callout_reset(void)
{
	unsigned gen;
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
	unsigned gen = util_fork_generation();
	size_t i;

	for (i = 0; i < CALLOUT_SLOTS; i++) {
		struct callout_slot *sl = &callout_slots[i];

		int busy = sl->conn != NULL || sl->mail_refused;

		if (busy && sl->gen != gen) {
			memset(sl, 0, sizeof *sl);     /* inherited across fork: never used */
			busy = 0;
		}
		if (busy && sl->port == s->port && strcmp(sl->hosts, s->hosts) == 0 &&
		    strcmp(sl->sender, s->callout_sender) == 0 && strcmp(sl->helo, s->callout_helo) == 0)
			return sl;
		if (best == NULL || (best->conn != NULL || best->mail_refused ?
				     !busy || sl->used < best->used : 0))
			best = sl;
	}
	smtp_close(best->conn);
	callout_slots_used = 1;
	memset(best, 0, sizeof *best);
	memcpy(best->hosts, s->hosts, sizeof best->hosts);
	memcpy(best->sender, s->callout_sender, sizeof best->sender);
	memcpy(best->helo, s->callout_helo, sizeof best->helo);
	best->port = s->port;
	return best;
}

/*
 * Whether a 5xx reply to RCPT says "no such mailbox". Why so narrow: a 5xx can also mean
 * policy (5.7.x: our address is blocked), a full mailbox (552: the user exists), or a
 * protocol disagreement (500, 501, 503); none of those may become "recipient unknown".
 * 550, 551 and 553 count, unless an enhanced status code (RFC 3463) says it is not about
 * the address (anything but 5.1.x, or 5.2.1 "mailbox disabled").
 */
static int source_callout_no_mailbox(const struct smtp_reply *r)
{
	const char *t = r->text;
	int cls, sub = -1, n = 0;

	if (r->code != 550 && r->code != 551 && r->code != 553)
		return 0;
	if (sscanf(t, "%1d.%3d.%3d%n", &cls, &sub, &(int){0}, &n) == 3 && n > 0 &&
	    (t[n] == ' ' || t[n] == '\0'))
		return cls == 5 && (sub == 1 || (sub == 2 && strncmp(t, "5.2.1", 5) == 0));
	return 1;
}

/* Drop a slot's connection. */
static void source_callout_drop(struct callout_slot *sl)
{
	smtp_close(sl->conn);
	sl->conn = NULL;
	sl->in_txn = 0;
	sl->rcpts = 0;
}

/*
 * Ask RCPT TO:<rcpt> on the slot's connection (made or remade as needed). RG_FOUND with
 * the reply (any code), or RG_TEMPFAIL when the destination could not be asked.
 */
static int source_callout_rcpt(struct callout_slot *sl, const struct settings *s, const char *rcpt,
			int64_t deadline, struct smtp_reply *r, char *err, size_t errlen)
{
	struct smtp_timeouts t = { s->connect_timeout * 1000, s->command_timeout * 1000 };
	char line[RG_ADDRESS_MAX + 32];
	int attempt, rc, reused;

	/* Why: a destination that refuses the null sender refuses it for every recipient;
	 * asking again would cost it one connection per recipient of the session. */
	if (sl->mail_refused)
		return util_snprintf(err, errlen, "%.100s: MAIL FROM refused earlier in this session",
				     sl->hosts), RG_TEMPFAIL;
	for (attempt = 0; attempt < 2; attempt++) {
		reused = sl->conn != NULL && smtp_alive(sl->conn);
		if (!reused) {
			source_callout_drop(sl);
			rc = smtp_open(s->hosts, s->port, s->callout_helo, &t, deadline, &sl->conn, r,
				       err, errlen);
			if (rc != RG_FOUND) {
				sl->conn = NULL;
				return rc;
			}
			sl->gen = util_fork_generation();
		}
		sl->used = util_monotonic_ms();
		if (!sl->in_txn) {
			if (util_snprintf(line, sizeof line, "MAIL FROM:%s", s->callout_sender) < 0)
				return util_snprintf(err, errlen, "callout_sender too long"), RG_CONFIG;
			rc = smtp_command(sl->conn, line, deadline, r, err, errlen);
			if (rc != RG_FOUND) {
				source_callout_drop(sl);
				if (reused)
					continue;     /* dropped while idle: remake once */
				return rc;
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
			if (reused)
				continue;
			return rc;
		}
		sl->rcpts++;
		if ((r->code == 452 || r->code == 552) && sl->rcpts > 1 && attempt == 0) {
			/* "Too many recipients": start a fresh transaction and ask again. */
			source_callout_drop(sl);
			continue;
		}
		if (r->code == 421) {
			source_callout_drop(sl);
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

/* Read the cached catch-all record of domain: 1 yes, 0 no, -1 none fresh. */
static int source_callout_catchall_cached(const struct store_handle *st, const char *domain,
				   int64_t deadline_ms, char *text, size_t textsize)
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
	return v.pass;
}

/* Probe (or read from the cache) whether domain's destination accepts anything. */
int source_callout_catchall(const char *domain, const struct settings *s, int64_t deadline_ms,
			    int *cached, char *text, size_t textsize, char *err, size_t errlen)
{
	char local[48], rcpt[RG_ADDRESS_MAX + 1], key[STORE_KEY_MAX + 1], val[STORE_VAL_MAX];
	char serr[RG_ERRLEN];
	const struct store_handle *st;
	struct callout_slot *sl;
	struct smtp_reply r;
	struct verdict v;
	int rc, yes;

	*cached = 0;
	if (s->hosts[0] == '\0')
		return util_snprintf(err, errlen, "no hosts configured for %s", domain), RG_CONFIG;
	st = store_process(s, serr, sizeof serr);
	if ((yes = source_callout_catchall_cached(st, domain, deadline_ms, text, textsize)) >= 0) {
		*cached = 1;
		return yes ? RG_FOUND : RG_NOTFOUND;
	}
	if (source_callout_random_local(local, sizeof local) < 0 ||
	    util_snprintf(rcpt, sizeof rcpt, "%s@%s", local, domain) < 0)
		return util_snprintf(err, errlen, "cannot make a probe address"), RG_TEMPFAIL;
	sl = source_callout_slot(s);
	rc = source_callout_rcpt(sl, s, rcpt, deadline_ms, &r, err, errlen);
	if (rc != RG_FOUND)
		return rc;
	snprintf(text, textsize, "%d %.150s", r.code, r.text);
	if (r.code / 100 == 4) {
		util_snprintf(err, errlen, "%s: probe answered %d %.100s", smtp_peer(sl->conn), r.code, r.text);
		return RG_TEMPFAIL;
	}
	if (r.code / 100 != 2 && !source_callout_no_mailbox(&r)) {
		util_snprintf(err, errlen, "%s: probe answered %d %.100s (not a mailbox verdict)",
			      smtp_peer(sl->conn), r.code, r.text);
		return RG_TEMPFAIL;
	}
	memset(&v, 0, sizeof v);
	v.pass = r.code / 100 == 2;
	memcpy(v.source, "catchall", sizeof "catchall");
	v.created = util_now();
	v.expires = v.created + s->catchall_ttl;
	util_strlcpy(v.text, text, sizeof v.text);
	if (st != NULL && verdict_key_catchall(key, sizeof key, domain) == 0 &&
	    verdict_encode(&v, 1, val, sizeof val) == 0 &&
	    store_put(st, key, val, strlen(val), verdict_life(&v, 1, 0), deadline_ms, serr, sizeof serr) != RG_FOUND)
		rglog(RGLOG_INFO, "rcptguard: store unavailable, catch-all result not cached: %s", serr);
	return v.pass ? RG_FOUND : RG_NOTFOUND;
}

/* The source lookup: catch-all guard first, then RCPT TO for the address. */
static int source_callout_lookup(const struct address *addr, const struct settings *s,
				 int64_t deadline_ms, struct source_answer *ans, char *err, size_t errlen)
{
	struct smtp_reply r;
	int rc, cached;

	memset(ans, 0, sizeof *ans);
	if (s->hosts[0] == '\0')
		return util_snprintf(err, errlen, "no hosts configured for %s", addr->domain), RG_CONFIG;
	if (s->catchall_check) {
		rc = source_callout_catchall(addr->domain, s, deadline_ms, &cached, ans->text,
					     sizeof ans->text, err, errlen);
		if (rc == RG_FOUND) {
			ans->catchall = 1;
			util_snprintf(err, errlen, "%s is a catch-all destination", addr->domain);
			return RG_TEMPFAIL;
		}
		/* A probe that got an indefinite reply (4xx, a policy 5xx) cannot tell; the
		 * address itself may still get a definite answer, whatever the catch-all status. */
		if (rc != RG_NOTFOUND && !(rc == RG_TEMPFAIL && ans->text[0] >= '2' && ans->text[0] <= '5'))
			return rc;
	}
	rc = source_callout_rcpt(source_callout_slot(s), s, addr->full, deadline_ms, &r, err, errlen);
	if (rc != RG_FOUND)
		return rc;
	snprintf(ans->text, sizeof ans->text, "%d %.150s", r.code, r.text);
	if (r.code / 100 == 2)
		return RG_FOUND;
	if (source_callout_no_mailbox(&r))
		return RG_NOTFOUND;
	util_snprintf(err, errlen, "RCPT answered %d %.100s%s", r.code, r.text,
		      r.code / 100 == 5 ? " (not a mailbox verdict)" : "");
	return RG_TEMPFAIL;
}

const struct source_ops source_callout_ops = {
	.name = "callout",
	.lookup = source_callout_lookup,
	.reset = source_callout_reset,
};
