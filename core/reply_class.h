/*
 * reply_class.h - one classification of callout replies to RCPT: does this reply say
 * "this mailbox does not exist", or only something about the destination?
 *
 * Used by the callout source and by the SMTP tester (probe), so that both read every
 * reply the same way. The table is written down in rcptguard.conf(5), section "CALLOUT
 * REPLIES"; keep the two in step.
 */
#ifndef RG_REPLY_CLASS_H
#define RG_REPLY_CLASS_H

#include "rg.h"

enum reply_kind {
	REPLY_ACCEPTED,    /* 2xx: the mailbox exists (or the destination takes anything) */
	REPLY_NO_MAILBOX,  /* 5xx that says "no such mailbox" (see .sane_only) */
	REPLY_TEMPORARY,   /* 4xx: ask again later */
	REPLY_SENDER,      /* 5xx about our sender (X.1.7, X.1.8, "Sender address rejected") */
	REPLY_HELO,        /* 5xx about our HELO name ("Helo command rejected") */
	REPLY_POLICY,      /* 5xx X.7.x: policy, our host or address is blocked */
	REPLY_FULL,        /* 5xx X.2.2 (or 552): the mailbox exists but is full */
	REPLY_SYSTEM,      /* 5xx X.3.x, X.4.x: the destination's own trouble */
	REPLY_PROTOCOL,    /* 5xx X.5.x, 500-504: we and the destination disagree */
	REPLY_OTHER        /* any other reply: cannot tell */
};

struct reply_class {
	enum reply_kind kind;
	int sane_only;     /* REPLY_NO_MAILBOX only from a destination known to accept a
			    * mailbox that must exist, even when postmaster_check = no */
	char status[16];   /* the enhanced status code found ("5.1.1"), or "" */
	const char *why;   /* static text naming the rule, for logs and the tester */
};

/* Classify a reply to RCPT: code (3 digits) and its sanitised text (lines joined by " / "). */
void reply_class(int code, const char *text, struct reply_class *out);

/* Whether the kind says the address does not exist (REPLY_NO_MAILBOX). */
int reply_class_is_negative(const struct reply_class *rc);

/* Static name of a kind, for logs ("no-mailbox", "sender", ...). */
const char *reply_class_name(enum reply_kind kind);

#endif
