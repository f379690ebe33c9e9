/*
 * probe.c - the SMTP tester: runs, step by step and on its own connection, what a
 * callout relies on, and says which step a destination fails.
 */
#include <stdio.h>
#include <string.h>

#include "probe.h"
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

/* Run the probe. */
void probe_run(const char *domain, const struct settings *s, const char *rcpt,
	       struct probe_report *r)
{
	struct smtp_timeouts t = { s->connect_timeout * 1000, s->command_timeout * 1000 };
	int64_t deadline = util_monotonic_ms() + (int64_t)s->total_timeout * 1000;
	char err[RG_ERRLEN], line[RG_ADDRESS_MAX + 32], local[48];
	struct smtp_conn *c = NULL;
	struct smtp_reply rep;
	struct probe_step *st;

	memset(r, 0, sizeof *r);
	st = probe_step(r, "connect, banner, EHLO", 0);
	if (s->hosts[0] == '\0') {
		snprintf(st->detail, sizeof st->detail, "no hosts configured for %s (use --host)", domain);
		goto done;
	}
	if (smtp_open(s->hosts, s->port, s->callout_helo, &t, deadline, &c, &rep, err, sizeof err) != RG_FOUND) {
		snprintf(st->detail, sizeof st->detail, "%s", err);
		goto done;
	}
	st->ok = 1;
	snprintf(st->detail, sizeof st->detail, "%s: EHLO -> %d %s", smtp_peer(c), rep.code, rep.text);

	st = probe_step(r, "null sender accepted", 0);
	snprintf(line, sizeof line, "MAIL FROM:%s", s->callout_sender);
	if (probe_cmd(c, line, deadline, &rep, st) != RG_FOUND || rep.code / 100 != 2)
		goto done;
	st->ok = 1;

	st = probe_step(r, "random recipient rejected at RCPT", 0);
	if (source_callout_random_local(local, sizeof local) < 0)
		goto done;
	snprintf(line, sizeof line, "RCPT TO:<%s@%s>", local, domain);
	if (probe_cmd(c, line, deadline, &rep, st) != RG_FOUND)
		goto done;
	st->ok = rep.code / 100 == 5;
	if (rep.code / 100 == 2)
		strncat(st->detail, " (catch-all, or rejects only after DATA)",
			sizeof st->detail - strlen(st->detail) - 1);

	if (rcpt != NULL && *rcpt) {
		struct probe_step *k = probe_step(r, "known recipient accepted", 0);

		snprintf(line, sizeof line, "RCPT TO:<%s>", rcpt);
		if (probe_cmd(c, line, deadline, &rep, k) == RG_FOUND)
			k->ok = rep.code / 100 == 2;
		if (!k->ok)
			st->ok = 0;
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
