#!/usr/bin/env bash
# t_chain.sh - the three recipient sources in their order of preference, in one real Exim
# (swaks clients, the shipped snippets), against a real back-end and a real slapd:
# callout down -> the static list answers; no list for the domain -> LDAP answers; all
# three unavailable -> 451, never 550; the first definite answer decides (the list's
# "no" is not overruled by LDAP); a list version put in force overrides verdicts the
# old version left in the cache at once.
. "$(dirname "$0")/../lib/testbed.sh"
. "$(dirname "$0")/../lib/slapd.sh"

tb_backend
{
	tb_slapd_person alice alice@chain.test
	tb_slapd_person ldapuser ldapuser@chain.test
	tb_slapd_person bob bob@nolist.test
} >"$TB/people.ldif"
tb_slapd_start "$TB/people.ldif"

LISTS=$TB/lists
mkdir -p "$LISTS"
printf 'alice@chain.test\ncarol@chain.test\n' >"$LISTS/chain.test.list"
printf 'alice@broken.test\n' >"$TB/broken.list"
printf 'no-at-sign\n' >>"$TB/broken.list"
cp "$TB/broken.list" "$LISTS/broken.test.list"
# Why the touch: a file renamed into place counts at once; written in place, it would
# wait for list_settle. A metadata change after the last write says the writer is done.
touch -d '-1 min' "$LISTS"/*.list
chown -R "$TB_EXIM_USER" "$LISTS"

ldap="ldap_uri = $SLAPD_URI
ldap_base = ou=people,$SLAPD_BASE
ldap_timeout = 2s"

# write_conf: the test's rcptguard.conf; chain.test's callout goes to $CHAIN_HOSTS.
CHAIN_HOSTS=127.0.0.1:$BE_DEAD
write_conf() {
	tb_conf <<EOF
sources = callout list ldap
$(tb_std_domains)

# callout first (its destination is down), then the list, then LDAP
[domain chain.test]
hosts = $CHAIN_HOSTS
list = $LISTS/chain.test.list
$ldap

# no list: LDAP answers
[domain nolist.test]
hosts = 127.0.0.1:$BE_DEAD
$ldap

# a list that was never valid, and LDAP (stopped below)
[domain broken.test]
hosts = 127.0.0.1:$BE_DEAD
list = $LISTS/broken.test.list
$ldap
EOF
}
write_conf
tb_front
# An RCPT never compiles a list (a detached child does, after it): compile them now, as
# "rcptguardctl list status" from cron after an upload does.
tb_ctl list status chain.test >/dev/null

# ---------------------------------------------------------------- callout down -> list
tb_mark
tb_rcpts alice@chain.test carol@chain.test ldapuser@chain.test >/dev/null
assert_match '^250 ' "$(tb_reply_of alice@chain.test)" "callout down: alice (listed) 250"
assert_match '^250 ' "$(tb_reply_of carol@chain.test)" "callout down: carol (listed, not in LDAP) 250"
assert_match '^550 <ldapuser@chain\.test>: recipient unknown' "$(tb_reply_of ldapuser@chain.test)" \
	"callout down: ldapuser (not listed) 550: the list's definite no decides, LDAP is not asked"
assert_log 'verify_recipient <carol@chain\.test> result=pass source=list ' "log: carol source=list"
assert_log 'verify_recipient <ldapuser@chain\.test> result=fail source=list ' "log: ldapuser fail source=list"

# ---------------------------------------------------------------- no list -> LDAP
tb_mark
tb_rcpts bob@nolist.test nobody@nolist.test >/dev/null
assert_match '^250 ' "$(tb_reply_of bob@nolist.test)" "callout down, no list: bob (an LDAP entry) 250"
assert_match '^550 <nobody@nolist\.test>: recipient unknown' "$(tb_reply_of nobody@nolist.test)" \
	"callout down, no list: nobody (no LDAP entry) 550"
assert_log 'verify_recipient <bob@nolist\.test> result=pass source=ldap ' "log: bob source=ldap"

# ---------------------------------------------------------------- a refused list, LDAP up
tb_mark
r=$(tb_rcpt_reply alice@broken.test)
assert_match '^550 ' "$r" "refused list (no version in force): LDAP answers (alice@broken.test is no entry: 550)"
assert_log 'verify_recipient <alice@broken\.test> result=fail source=ldap ' "log: source=ldap after the refused list"
for _ in $(seq 100); do tb_front_log | grep -q 'broken\.test\.list refused' && break; sleep 0.1; done
assert_log "broken\.test\.list:2" "the refused list is logged with file:line (by the detached compile the RCPT started)"

# ---------------------------------------------------------------- all three unavailable
tb_slapd_stop
tb_mark
r=$(tb_rcpt_reply someone@broken.test)
assert_match '^451 <someone@broken\.test>: cannot verify recipient now, please try again later' "$r" \
	"callout down, list refused, LDAP stopped: 451, never 550"
assert_log 'verify_recipient <someone@broken\.test> result=defer reason=tempfail' "log: result=defer reason=tempfail"
rec=$(tb_cache_record someone@broken.test)
assert_eq "" "$rec" "the deferral is not cached"
r=$(tb_rcpt_reply bob@nolist.test)
assert_match '^250 ' "$r" "LDAP stopped: bob's cached positive verdict still answers"

# ---------------------------------------------------------------- a new list version wins over the cache
rec=$(tb_cache_record ldapuser@chain.test)
assert_match '^fail list ' "$rec" "the list's negative verdict for ldapuser is cached"
printf 'alice@chain.test\ncarol@chain.test\nldapuser@chain.test\n' >"$LISTS/new.list"
chown "$TB_EXIM_USER" "$LISTS/new.list"
mv "$LISTS/new.list" "$LISTS/chain.test.list"
tb_ctl list status chain.test >/dev/null
tb_mark
r=$(tb_rcpt_reply ldapuser@chain.test)
assert_match '^250 ' "$r" "ldapuser added to the list (renamed into place, in force): 250 at once, despite the cached 550"
assert_log 'verify_recipient <ldapuser@chain\.test> result=pass source=list ' "log: the new list answered, source=list"
rec=$(tb_cache_record ldapuser@chain.test)
assert_match '^pass list ' "$rec" "the cached verdict is now the new list's pass"
r=$(tb_rcpt_reply carol@chain.test)
assert_match '^250 ' "$r" "carol, still listed, still 250"

# ---------------------------------------------------------------- a removal voids the cached pass
printf 'alice@chain.test\nldapuser@chain.test\n' >"$LISTS/new.list"
chown "$TB_EXIM_USER" "$LISTS/new.list"
mv "$LISTS/new.list" "$LISTS/chain.test.list"
tb_ctl list status chain.test >/dev/null
tb_mark
r=$(tb_rcpt_reply carol@chain.test)
assert_match '^550 <carol@chain\.test>: recipient unknown' "$r" "carol removed from the list (in force): 550 at once, despite the cached pass"
assert_log 'verify_recipient <carol@chain\.test> result=fail source=list ' "log: carol fail source=list"
rec=$(tb_cache_record carol@chain.test)
assert_match '^fail list ' "$rec" "the cached verdict is now the new list's fail"

# The chain runs again in its order: with the destination back, the callout (first) decides.
rec=$(tb_cache_record alice@chain.test)
assert_match '^pass list ' "$rec" "alice's pass from the list is cached"
printf 'ldapuser@chain.test\n' >"$LISTS/new.list"
chown "$TB_EXIM_USER" "$LISTS/new.list"
mv "$LISTS/new.list" "$LISTS/chain.test.list"
tb_ctl list status chain.test >/dev/null
CHAIN_HOSTS=127.0.0.1:$BE_USERS
write_conf
tb_mark
r=$(tb_rcpt_reply alice@chain.test)
assert_match '^250 ' "$r" "alice removed from the list, destination back up: the callout (first in the chain) answers 250"
assert_log 'verify_recipient <alice@chain\.test> result=pass source=callout ' "log: alice pass source=callout, not the list's fail"
