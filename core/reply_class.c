/*
 * reply_class.c - the one table that turns a reply to RCPT into "no such mailbox" or
 * "cannot tell" (see reply_class.h and rcptguard.conf(5), CALLOUT REPLIES).
 *
 * Why so narrow: a 5xx can also mean "I do not take mail from you" (sender, HELO,
 * policy), "the mailbox is full" (it exists), "my own system is broken", or "we do not
 * speak the same protocol". Turning any of those into a 550 at the gateway would refuse
 * a customer's real mail. So only the codes that name the address itself count, and
 * the caller also requires a destination that accepts a mailbox that must exist.
 */
#include <string.h>
#include <strings.h>

#include "reply_class.h"

/* Parse "C.SSS.DDD" at s (C one digit 2/4/5, S and D 1-3 digits); its length, or 0. */
static size_t reply_class_status_at(const char *s, int *cls, int *sub, int *det)
{
	const char *p = s;
	int v[3], i, n;

	for (i = 0; i < 3; i++) {
		for (n = 0, v[i] = 0; n < 3 && p[n] >= '0' && p[n] <= '9'; n++)
			v[i] = v[i] * 10 + (p[n] - '0');
		if (n == 0 || (i == 0 && n != 1))
			return 0;
		p += n;
		if (i < 2) {
			if (*p != '.')
				return 0;
			p++;
		}
	}
	if (v[0] != 2 && v[0] != 4 && v[0] != 5)
		return 0;
	*cls = v[0];
	*sub = v[1];
	*det = v[2];
	return (size_t)(p - s);
}

/* Find the enhanced status code: first in the text (RFC 2034), else qmail's "(#5.1.1)". */
static int reply_class_status(const char *text, int *cls, int *sub, int *det)
{
	const char *q;
	size_t n;

	n = reply_class_status_at(text, cls, sub, det);
	if (n > 0 && (text[n] == ' ' || text[n] == '\0'))
		return 1;
	for (q = strstr(text, "(#"); q != NULL; q = strstr(q + 2, "(#")) {
		n = reply_class_status_at(q + 2, cls, sub, det);
		if (n > 0 && q[2 + n] == ')')
			return 1;
	}
	return 0;
}

/* Set the result; 0, so that each rule is one return. */
static int reply_class_set(struct reply_class *out, enum reply_kind kind, int sane_only, const char *why)
{
	out->kind = kind;
	out->sane_only = sane_only;
	out->why = why;
	return 0;
}

/* Apply the table to a reply whose status code (if any) is already in out->status. */
static int reply_class_rules(int code, const char *text, int has, int cls, int sub, int det,
			     struct reply_class *out)
{
	if (code >= 200 && code <= 299)
		return reply_class_set(out, REPLY_ACCEPTED, 0, "accepted");
	if (code >= 400 && code <= 499)
		return reply_class_set(out, REPLY_TEMPORARY, 0, "temporary (4xx)");
	if (code < 500 || code > 599)
		return reply_class_set(out, REPLY_OTHER, 0, "not a reply to RCPT");
	/* Why the texts first: Postfix's restrictions say who they refuse in words, under
	 * whatever code the operator chose (5.7.1 by default, even 5.1.1 by hand). */
	if (strcasestr(text, "Sender address rejected") != NULL)
		return reply_class_set(out, REPLY_SENDER, 0, "the sender is refused");
	if (strcasestr(text, "Helo command rejected") != NULL)
		return reply_class_set(out, REPLY_HELO, 0, "the HELO name is refused");
	if (has && cls != 5)
		return reply_class_set(out, REPLY_OTHER, 0, "status code class differs from the reply code");
	if (has) {
		if (sub == 1 && (det == 1 || det == 6 || det == 10))
			return reply_class_set(out, REPLY_NO_MAILBOX, 0, "no such mailbox (X.1.1, X.1.6, X.1.10)");
		if (sub == 2 && det == 1)
			return reply_class_set(out, REPLY_NO_MAILBOX, 0, "mailbox disabled (X.2.1)");
		/* Why 5.2.4 counts, and only from a sane destination: OpenSMTPD expands every
		 * recipient through its tables and answers an unknown virtual user "524 5.2.4
		 * Mailing list expansion problem". Elsewhere 5.2.4 is a broken list, i.e. the
		 * destination's trouble; a destination that resolved postmaster has working
		 * expansion, so there it means the address has none. */
		if (sub == 2 && det == 4)
			return reply_class_set(out, REPLY_NO_MAILBOX, 1, "no expansion for the address (X.2.4)");
		/* Microsoft 365 with directory-based edge blocking refuses an unknown address
		 * with "550 5.4.1 Recipient address rejected: Access denied". */
		if (sub == 4 && det == 1 && strcasestr(text, "Recipient address rejected") != NULL)
			return reply_class_set(out, REPLY_NO_MAILBOX, 1, "recipient not in the directory (X.4.1)");
		if (sub == 1 && (det == 7 || det == 8))
			return reply_class_set(out, REPLY_SENDER, 0, "the sender is refused (X.1.7, X.1.8)");
		if (sub == 2 && det == 2)
			return reply_class_set(out, REPLY_FULL, 0, "mailbox full (X.2.2)");
		if (sub == 7)
			return reply_class_set(out, REPLY_POLICY, 0, "policy (X.7.x)");
		if (sub == 3 || sub == 4)
			return reply_class_set(out, REPLY_SYSTEM, 0, "destination system or network (X.3.x, X.4.x)");
		if (sub == 5)
			return reply_class_set(out, REPLY_PROTOCOL, 0, "protocol (X.5.x)");
		return reply_class_set(out, REPLY_OTHER, 0, "status code not about the mailbox");
	}
	if (code == 550 || code == 551 || code == 553)
		return reply_class_set(out, REPLY_NO_MAILBOX, 0, "no such mailbox (550, 551, 553)");
	if (code == 552)
		return reply_class_set(out, REPLY_FULL, 0, "mailbox full (552)");
	if (code >= 500 && code <= 504)
		return reply_class_set(out, REPLY_PROTOCOL, 0, "protocol (500-504)");
	return reply_class_set(out, REPLY_OTHER, 0, "reply code not about the mailbox");
}

/* Classify a reply to RCPT (see reply_class.h). */
void reply_class(int code, const char *text, struct reply_class *out)
{
	int cls = 0, sub = 0, det = 0, has;

	memset(out, 0, sizeof *out);
	if (text == NULL)
		text = "";
	has = reply_class_status(text, &cls, &sub, &det);
	if (has)
		util_snprintf(out->status, sizeof out->status, "%d.%d.%d", cls, sub, det);
	(void)reply_class_rules(code, text, has, cls, sub, det, out);
}

/* Whether the reply says the address does not exist. */
int reply_class_is_negative(const struct reply_class *rc)
{
	return rc->kind == REPLY_NO_MAILBOX;
}

/* Static name of a kind. */
const char *reply_class_name(enum reply_kind kind)
{
	static const char *const names[] = { "accepted", "no-mailbox", "temporary", "sender", "helo",
					     "policy", "full", "system", "protocol", "other" };

	return (unsigned)kind < sizeof names / sizeof names[0] ? names[kind] : "other";
}
