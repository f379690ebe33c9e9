/* test_reply_class.c - the one classification of callout replies, on reply texts real
 * servers send (Postfix, OpenSMTPD, Exim, Exchange, Microsoft 365, Gmail, Dovecot LMTP
 * proxies, qmail), as smtp.c keeps them (code apart, lines joined by " / "). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "reply_class.h"

struct sample {
	int code;
	const char *text;
	enum reply_kind kind;
	int sane_only;
};

static const struct sample samples[] = {
	/* Postfix 3.7 */
	{ 550, "5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in local recipient table", REPLY_NO_MAILBOX, 0 },
	{ 550, "5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in virtual mailbox table", REPLY_NO_MAILBOX, 0 },
	{ 550, "5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in relay recipient table", REPLY_NO_MAILBOX, 0 },
	{ 550, "5.7.1 <>: Sender address rejected: Access denied", REPLY_SENDER, 0 },
	{ 553, "5.1.8 <>: Sender address rejected: Domain not found", REPLY_SENDER, 0 },
	{ 504, "5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname", REPLY_HELO, 0 },
	{ 554, "5.7.1 <nobody@example.org>: Relay access denied", REPLY_POLICY, 0 },
	{ 450, "4.2.0 <user@example.org>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/", REPLY_TEMPORARY, 0 },
	{ 450, "4.1.1 <nobody@example.org>: Recipient address rejected: unverified address", REPLY_TEMPORARY, 0 },
	{ 421, "4.7.0 mx.example.org Error: too many errors", REPLY_TEMPORARY, 0 },
	{ 250, "2.1.5 Ok", REPLY_ACCEPTED, 0 },
	/* OpenSMTPD 6.8: an unknown user of a virtual table */
	{ 524, "5.2.4 Mailing list expansion problem", REPLY_NO_MAILBOX, 1 },
	{ 550, "Invalid recipient: <nobody@example.org>", REPLY_NO_MAILBOX, 0 },
	{ 550, "5.7.1 Delivery not authorized, message refused", REPLY_POLICY, 0 },
	/* Exim */
	{ 550, "Administrative prohibition", REPLY_NO_MAILBOX, 0 },      /* safe only by the postmaster check */
	{ 550, "Unrouteable address", REPLY_NO_MAILBOX, 0 },
	{ 550, "5.1.1 <nobody@example.org>: unknown user", REPLY_NO_MAILBOX, 0 },
	{ 451, "Temporary local problem - please try later", REPLY_TEMPORARY, 0 },
	/* Exchange, Microsoft 365, Gmail */
	{ 550, "5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient nobody@example.org not found by SMTP address lookup", REPLY_NO_MAILBOX, 0 },
	{ 550, "5.4.1 Recipient address rejected: Access denied. For more information see https://aka.ms/EXOSmtpErrors [AM0PR10MB1234.EURPRD10.PROD.OUTLOOK.COM]", REPLY_NO_MAILBOX, 1 },
	{ 550, "5.4.1 Relay Access Denied", REPLY_SYSTEM, 0 },
	{ 550, "5.1.1 The email account that you tried to reach does not exist. Please try / 5.1.1 double-checking the recipient's email address for typos or / 5.1.1 unnecessary spaces. Learn more at / 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1si123 - gsmtp", REPLY_NO_MAILBOX, 0 },
	{ 552, "5.2.2 The email account that you tried to reach is over quota. - gsmtp", REPLY_FULL, 0 },
	{ 550, "5.7.1 [203.0.113.5] Our system has detected an unusual rate of unsolicited mail - gsmtp", REPLY_POLICY, 0 },
	/* Dovecot LMTP (and proxies in front of it) */
	{ 550, "5.1.1 <nobody@example.org> User doesn't exist: nobody@example.org", REPLY_NO_MAILBOX, 0 },
	{ 451, "4.3.0 <user@example.org> Temporary internal error", REPLY_TEMPORARY, 0 },
	/* qmail */
	{ 511, "sorry, no mailbox here by that name (#5.1.1)", REPLY_NO_MAILBOX, 0 },
	{ 553, "sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)", REPLY_POLICY, 0 },
	/* codes that are never "does not exist" */
	{ 550, "5.3.0 Mail system full", REPLY_SYSTEM, 0 },
	{ 550, "5.5.1 Protocol error", REPLY_PROTOCOL, 0 },
	{ 550, "5.1.7 Invalid sender address", REPLY_SENDER, 0 },
	{ 550, "5.1.2 Bad destination system address", REPLY_OTHER, 0 },
	{ 550, "4.1.1 class does not match the reply code", REPLY_OTHER, 0 },
	{ 552, "Requested mail action aborted: exceeded storage allocation", REPLY_FULL, 0 },
	{ 503, "5.5.1 Error: need MAIL command", REPLY_PROTOCOL, 0 },
	{ 554, "Transaction failed", REPLY_OTHER, 0 },
	{ 521, "Host does not accept mail", REPLY_OTHER, 0 },
	{ 354, "go ahead", REPLY_OTHER, 0 },
	{ 550, "5.1.1.1 not a status code", REPLY_NO_MAILBOX, 0 },      /* no status code: plain 550 */
};

static void test_samples(void **state)
{
	struct reply_class rc;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof samples / sizeof samples[0]; i++) {
		reply_class(samples[i].code, samples[i].text, &rc);
		if (rc.kind != samples[i].kind || rc.sane_only != samples[i].sane_only)
			fail_msg("%d %s: got %s%s, want %s%s", samples[i].code, samples[i].text,
				 reply_class_name(rc.kind), rc.sane_only ? " (sane only)" : "",
				 reply_class_name(samples[i].kind), samples[i].sane_only ? " (sane only)" : "");
		assert_non_null(rc.why);
		assert_int_equal(reply_class_is_negative(&rc), samples[i].kind == REPLY_NO_MAILBOX);
	}
}

static void test_status(void **state)
{
	struct reply_class rc;

	(void)state;
	reply_class(511, "sorry, no mailbox here by that name (#5.1.1)", &rc);
	assert_string_equal(rc.status, "5.1.1");
	reply_class(550, "5.1.10 RESOLVER.ADR.RecipientNotFound", &rc);
	assert_string_equal(rc.status, "5.1.10");
	reply_class(550, "Administrative prohibition", &rc);
	assert_string_equal(rc.status, "");
	reply_class(550, NULL, &rc);
	assert_int_equal(rc.kind, REPLY_NO_MAILBOX);
	reply_class(550, "5.", &rc);
	assert_string_equal(rc.status, "");
	reply_class(550, "(#5.1.1", &rc);
	assert_string_equal(rc.status, "");
	assert_string_equal(reply_class_name(REPLY_SENDER), "sender");
	assert_string_equal(reply_class_name((enum reply_kind)99), "other");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_samples),
		cmocka_unit_test(test_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
