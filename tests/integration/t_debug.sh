#!/usr/bin/env bash
# t_debug.sh - what an operator sees when debugging: "exim -d -bh IP" shows the callout's
# SMTP dialogue ("callout HOST:PORT >> RCPT TO:<...>", "<< 250 ..."); without -d the main
# log has only the one verdict line per recipient, never the dialogue.
. "$(dirname "$0")/../lib/testbed.sh"

tb_backend
tb_conf <<EOF
$(tb_std_domains)
EOF
tb_front

# ---- exim -d+expand -bh: the dialogue
tb_front_bh --debug -d+expand 192.0.2.1 --to user1@example.org,nobody@example.org
replies=$(tb_rcpt_parse "$TB_SWAKS_OUT")
assert_match $'^user1@example\\.org\t250 ' "$replies" "-bh session: known user 250"
assert_match $'^nobody@example\\.org\t550 <nobody@example\\.org>: recipient unknown' "$replies" "-bh session: unknown user 550"
dbg=$(cat "$TB_BH_ERR")
hp="127\\.0\\.0\\.1:$BE_USERS"
assert_match "callout $hp: connecting|callout $hp << 220" "$dbg" "-d: the callout's connection to $hp"
assert_match "callout $hp << 220 " "$dbg" "-d: the destination's banner (<< 220)"
assert_match "callout $hp >> (EHLO|HELO) " "$dbg" "-d: >> EHLO"
assert_match "callout $hp >> MAIL FROM:<>" "$dbg" "-d: >> MAIL FROM:<> (null sender)"
assert_match "callout $hp >> RCPT TO:<rcptguard-probe-[0-9a-f]+@example\\.org>" "$dbg" "-d: >> RCPT TO the random probe address"
assert_match "callout $hp >> RCPT TO:<user1@example\\.org>" "$dbg" "-d: >> RCPT TO:<user1@example.org>"
assert_match "callout $hp << 250 " "$dbg" "-d: << 250 reply"
assert_match "callout $hp >> RCPT TO:<nobody@example\\.org>" "$dbg" "-d: >> RCPT TO:<nobody@example.org>"
assert_match "callout $hp << 550 5\\.1\\.1" "$dbg" "-d: << 550 5.1.1 reply"
assert_match 'rcptguard: verify_recipient <nobody@example\.org> result=fail source=callout' "$dbg" "-d: the verdict line too"

# Cached now: -d shows the verdict from the cache and no dialogue.
tb_front_bh --debug -d 192.0.2.1 --to user1@example.org
dbg=$(cat "$TB_BH_ERR")
assert_match 'rcptguard: verify_recipient <user1@example\.org> result=pass source=cache' "$dbg" "-d, cached: source=cache"
assert_no_match "callout .* >> RCPT TO:<user1@example\\.org>" "$dbg" "-d, cached: no callout dialogue"

# ---- without -d, in the daemon: one verdict line per recipient, no dialogue
tb_mark
tb_rcpts user2@example.org ghost@example.org >/dev/null
assert_log 'rcptguard: verify_recipient <user2@example\.org> result=pass source=callout' "daemon: verdict line for user2"
assert_no_log '>> RCPT TO|<< 250|callout .* >> ' "daemon without -d: no dialogue in the main log"
n=$(tb_front_log | grep -c 'rcptguard: verify_recipient <ghost@example\.org>')
assert_eq 1 "$n" "daemon: exactly one verdict line per recipient"
