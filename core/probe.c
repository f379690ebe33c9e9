/*
 * probe.c - the SMTP tester: runs, step by step and on its own connection, what a
 * callout relies on, and says which step a destination fails.
 *
 * Why it shares reply_class and the probe address with the callout source: "usable"
 * must agree with what the engine will do with the same replies, and a greylisting
 * destination must see the same probe address from both.
 */
#include <stdio.h>
#include <string.h>

#include "probe.h"
#include "reply_class.h"
#include "smtp.h"
#include "source_callout.h"

/* Append a step. */
static struct probe_step *probe_step(struct probe_report *r, const char *name, int ok)
{
	struct probe_step *st = &r->steps[r->n < PROBE_STEPS ? r->n++ : PROBE_STEPS - 1];

	st->name = name;
	st->ok = ok;
	st->detail[0] = '\0';
	return st;
}

/* Send one command; the step's detail gets "CMD -> CODE TEXT". RG_ outcome. */
static int probe_cmd(struct smtp_conn *c, const char *cmd, int64_t deadline,
		     struct smtp_reply *rep, struct probe_step *st)
{
	char err[RG_ERRLEN];
	int rc = smtp_command(c, cmd, deadline, rep, err, sizeof err);

	if (rc != RG_FOUND)
		snprintf(st->detail, sizeof st->detail, "%s -> %s", cmd, err);
	else
		snprintf(st->detail, sizeof st->detail, "%s -> %d %s", cmd, rep->code, rep->text);
	return rc;
}

/* Append a note to a step's detail. */
static void probe_note(struct probe_step *st, const char *note)
{
	size_t n = strlen(st->detail);

	snprintf(st->detail + n, sizeof st->detail - n, " (%s)", note);
}

/* A RCPT refused for our sender or HELO name: blame that, not the recipient. 1 when so. */
static int probe_blame(struct probe_step *st, const struct reply_class *cls)
{
	if (cls->kind == REPLY_SENDER)
		st->name = "null sender accepted at RCPT";
	else if (cls->kind == REPLY_HELO)
		st->name = "HELO name accepted";
	else
		return 0;
	probe_note(st, cls->why);
	return 1;
}

/* Run the probe. */
void probe_run(const char *domain, const struct settings *s, const char *rcpt,
	       struct probe_report *r)
{
	struct smtp_timeouts t = { s->callout.connect_timeout * 1000, s->callout.command_timeout * 1000 };
	int64_t deadline = util_monotonic_ms() + (int64_t)s->total_timeout * 1000;
	char err[RG_ERRLEN], line[RG_ADDRESS_MAX + 32], local[48], known[RG_ADDRESS_MAX + 1];
	struct smtp_conn *c = NULL;
	struct reply_class cls;
	struct smtp_reply rep;
	struct probe_step *st;
	int known_ok = -1;

	memset(r, 0, sizeof *r);
	st = probe_step(r, "connect, banner, EHLO", 0);
	if (s->callout.hosts[0] == '\0') {
		snprintf(st->detail, sizeof st->detail, "no hosts configured for %s (use --host)", domain);
		goto done;
	}
	if (smtp_open(s->callout.hosts, s->callout.port, s->callout.helo, &t, deadline, &c, &rep, err, sizeof err) != RG_FOUND) {
		snprintf(st->detail, sizeof st->detail, "%s", err);
		goto done;
	}
	st->ok = 1;
	snprintf(st->detail, sizeof st->detail, "%s: EHLO -> %d %s", smtp_peer(c), rep.code, rep.text);

	st = probe_step(r, "null sender accepted", 0);
	snprintf(line, sizeof line, "MAIL FROM:%s", s->callout.sender);
	if (probe_cmd(c, line, deadline, &rep, st) != RG_FOUND || rep.code / 100 != 2)
		goto done;
	st->ok = 1;

	if (s->callout.postmaster_check) {
		st = probe_step(r, "known address accepted", 0);
		if (source_callout_known_address(domain, s, known, sizeof known) < 0)
			goto done;
		snprintf(line, sizeof line, "RCPT TO:<%s>", known);
		if (probe_cmd(c, line, deadline, &rep, st) != RG_FOUND)
			goto done;
		reply_class(rep.code, rep.text, &cls);
		known_ok = cls.kind == REPLY_ACCEPTED;
		st->ok = known_ok;
		if (!known_ok && !probe_blame(st, &cls) && rep.code / 100 == 5)
			probe_note(st, "its 5xx replies cannot be trusted: every unknown recipient would get 451");
		if (!known_ok)
			goto done;
	}

	st = probe_step(r, "random recipient rejected at RCPT", 0);
	if (source_callout_probe_local(domain, s, local, sizeof local) < 0)
		goto done;
	snprintf(line, sizeof line, "RCPT TO:<%s@%s>", local, domain);
	if (probe_cmd(c, line, deadline, &rep, st) != RG_FOUND)
		goto done;
	reply_class(rep.code, rep.text, &cls);
	st->ok = reply_class_is_negative(&cls) && (!cls.sane_only || known_ok == 1);
	if (cls.kind == REPLY_ACCEPTED)
		probe_note(st, "catch-all, or rejects only after DATA");
	else if (!st->ok && !probe_blame(st, &cls))
		probe_note(st, reply_class_is_negative(&cls) ?
			   "counts only from a destination that accepts postmaster" : cls.why);

	if (rcpt != NULL && *rcpt) {
		struct probe_step *k = probe_step(r, "known recipient accepted", 0);

		snprintf(line, sizeof line, "RCPT TO:<%s>", rcpt);
		if (probe_cmd(c, line, deadline, &rep, k) == RG_FOUND) {
			reply_class(rep.code, rep.text, &cls);
			k->ok = cls.kind == REPLY_ACCEPTED;
			if (!k->ok)
				(void)probe_blame(k, &cls);
		}
	}
done:
	smtp_close(c);
	{
		const struct probe_step *bad = NULL;

		for (size_t i = 0; i < r->n && bad == NULL; i++)
			if (r->steps[i].ok != 1)
				bad = &r->steps[i];
		r->usable = bad == NULL && r->n >= 3;
		if (r->usable)
			snprintf(r->summary, sizeof r->summary, "%s: callouts can verify recipients", domain);
		else
			snprintf(r->summary, sizeof r->summary,
				 "%s: callouts cannot verify recipients (failed: %s)", domain,
				 bad ? bad->name : "incomplete");
	}
}
