#!/usr/bin/env bash
# t_sender.sh - sender verification for own domains through the shipped sender snippet:
# a spoofed unknown sender of an own domain is refused (550), a known one passes, a
# foreign sender and the null sender are not checked at all (nothing cached), an own
# domain whose destination is down gives 451, never 550. Both placements: the RCPT ACL
# and the MAIL ACL.
. "$(dirname "$0")/../lib/testbed.sh"

tb_backend
tb_conf <<EOF
own_domains = example.org *.own.test
$(tb_std_domains)

[domain sub.own.test]
hosts = 127.0.0.1:$BE_USERS

[domain foreign.test]
hosts = 127.0.0.1:$BE_USERS
EOF
tb_front --rcpt-pre ".include $TB_SNIPPETS/rcptguard-sender.conf"

# sender_reply FROM: the reply to the first RCPT (to a known user of users.test).
sender_reply() {
	tb_rcpt_reply user1@users.test --from "$1"
}

tb_mark
r=$(sender_reply nobody@example.org)
assert_match '^550 <nobody@example\.org>: sender unknown' "$r" "RCPT ACL: spoofed unknown sender of an own domain: 550 sender unknown"
assert_log 'verify_sender <nobody@example\.org> result=fail source=callout' "log: verify_sender result=fail source=callout"
assert_no_log 'verify_recipient <user1@users\.test>' "the recipient is not asked about once the sender is refused"

tb_mark
r=$(sender_reply alice@example.org)
assert_match '^250 ' "$r" "RCPT ACL: a real sender of an own domain: 250"
assert_log 'verify_sender <alice@example\.org> result=pass source=callout' "log: verify_sender result=pass source=callout"

tb_mark
r=$(sender_reply nobody@sub.own.test)
assert_match '^550 <nobody@sub\.own\.test>: sender unknown' "$r" "a *.suffix own domain's unknown sender: 550"

# One sender check per message, however many recipients.
tb_mark
tb_rcpts user1@users.test user2@users.test user3@users.test >/dev/null
assert_eq 3 "$(cut -f 2 "$TB/last_rcpts" | grep -c '^250 ')" "three recipients of one message: all 250"
assert_eq 1 "$(tb_front_log | grep -c 'rcptguard: verify_sender <sender@client\.test>')" \
	"RCPT ACL: the sender is checked once per message, not once per recipient"

# A refused sender refuses every recipient of its message (the check runs once, its
# answer applies to each RCPT).
tb_mark
tb_swaks --to user1@users.test,user2@users.test,user3@users.test --from ghost@example.org
tb_rcpt_parse "$TB_SWAKS_OUT" >"$TB/last_rcpts"
assert_eq 3 "$(cut -f 2 "$TB/last_rcpts" | grep -c '^550 <ghost@example\.org>: sender unknown')" \
	"spoofed sender, three recipients of one message: each 550 sender unknown"
assert_eq 1 "$(tb_front_log | grep -c 'rcptguard: verify_sender <ghost@example\.org>')" \
	"the refused sender was asked about once for the three recipients"

tb_mark
r=$(sender_reply nobody@foreign.test)
assert_match '^250 ' "$r" "a sender of a foreign domain: not checked, 250"
assert_log 'verify_sender <nobody@foreign\.test> result=skip reason=foreign' "log: result=skip reason=foreign"
rec=$(tb_cache_record nobody@foreign.test)
assert_eq "" "$rec" "no verdict cached for the foreign sender"

tb_mark
r=$(sender_reply "<>")
assert_match '^250 ' "$r" "the null sender: not checked, 250"
assert_log 'verify_sender <> result=skip reason=null' "log: result=skip reason=null"

# An own domain whose destination is down: a temporary problem, never a 5xx.
tb_conf <<EOF
own_domains = example.org dead.test
$(tb_std_domains)
EOF
tb_mark
r=$(sender_reply someone@dead.test)
assert_match '^451 <someone@dead\.test>: cannot verify sender now, please try again later' "$r" \
	"own domain with its destination down: 451, not 550"

# The cache is shared with recipient checks: the refused sender is a cached fail.
out=$(tb_ctl check nobody@example.org)
assert_match '^result=fail source=cache' "$out" "rcptguardctl check: the sender's verdict is in the shared cache"
out=$(tb_ctl check --sender nobody@foreign.test)
assert_match '^result=skip reason=foreign' "$out" "rcptguardctl check --sender: foreign sender skipped"

# The MAIL ACL placement: refused at MAIL FROM.
tb_front --mail-acl ".include $TB_SNIPPETS/rcptguard-sender.conf"
tb_mark
tb_swaks --to user1@users.test --from nobody2@example.org
mail_reply=$(grep -E '^<~?\*\* ' "$TB_SWAKS_OUT" | head -n 1)
assert_match '550 <nobody2@example\.org>: sender unknown' "$mail_reply" \
	"MAIL ACL: spoofed unknown sender refused at MAIL FROM with 550"
assert_no_match 'RCPT TO' "$(grep -E '^ ?-?> ' "$TB_SWAKS_OUT")" "MAIL ACL: no RCPT was sent after the refusal"
tb_mark
r=$(sender_reply bob@example.org)
assert_match '^250 ' "$r" "MAIL ACL: a real sender of an own domain: 250"

# Authenticated clients are exempt (their senders follow the submission policy): a
# spoofed unknown own-domain sender passes, rcptguard is not asked.
tb_front --rcpt-pre ".include $TB_SNIPPETS/rcptguard-sender.conf" \
	--acls $'begin authenticators\nplain:\n  driver = plaintext\n  public_name = PLAIN\n  server_prompts = :\n  server_condition = ${if and{{eq{$auth2}{roamer}}{eq{$auth3}{secret}}}}\n  server_set_id = $auth2' \
	--main 'auth_advertise_hosts = *'
tb_mark
r=$(tb_rcpt_reply user1@users.test --from nobody3@example.org --auth PLAIN --auth-user roamer --auth-password secret)
assert_match '^250 ' "$r" "authenticated client, spoofed unknown own-domain sender: exempt, 250"
assert_no_log 'verify_sender <nobody3@example\.org>' "authenticated client: the sender is not asked about"
tb_mark
r=$(sender_reply nobody3@example.org)
assert_match '^550 <nobody3@example\.org>: sender unknown' "$r" "the same sender without AUTH: 550"
