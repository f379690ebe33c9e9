#!/usr/bin/env bash
# t_peer_opensmtpd.sh - callouts against a real OpenSMTPD 6.8 acting out customer servers
# (issue 12, defect 1): an unknown user of a virtual table gets "524 5.2.4 Mailing list
# expansion problem" there, which must become 550 at the gateway (not 451 for ever),
# but only from a destination that accepts postmaster; a table of valid recipients
# (rcpt-to) refuses with a plain 550; probe agrees with the engine.
. "$(dirname "$0")/../lib/testbed.sh"
. "$(dirname "$0")/../lib/opensmtpd.sh"

os_fetch || bail "cannot unpack Debian's opensmtpd package (apt-get download opensmtpd)"
read -r P_VIRT P_NOPM P_RCPT <<<"$(tb_free_ports 3)"
D=$TB/osd
mkdir -p "$D"
printf 'alice@vdom.test rgvmail\npostmaster@vdom.test rgvmail\n' >"$D/virtuals"
printf 'alice@nopm.test rgvmail\n' >"$D/virtuals_nopm"
printf 'alice@rdom.test\npostmaster@rdom.test\n' >"$D/rcpts"
printf '@rdom.test rgvmail\n' >"$D/virtuals_any"
os_start osd "$P_VIRT" "$P_NOPM" "$P_RCPT" <<EOF || bail "OpenSMTPD did not start"
table virtuals file:$D/virtuals
table virtuals_nopm file:$D/virtuals_nopm
table rcpts file:$D/rcpts
table virtuals_any file:$D/virtuals_any
listen on 127.0.0.1 port $P_VIRT tag VIRT
listen on 127.0.0.1 port $P_NOPM tag NOPM
listen on 127.0.0.1 port $P_RCPT tag RCPT
action "vmail" mbox virtual <virtuals>
action "vmail_nopm" mbox virtual <virtuals_nopm>
action "rmail" mbox virtual <virtuals_any>
match tag VIRT from any for domain "vdom.test" action "vmail"
match tag NOPM from any for domain "nopm.test" action "vmail_nopm"
match tag RCPT from any for domain "rdom.test" rcpt-to <rcpts> action "rmail"
EOF

tb_conf <<EOF
sources = callout
[domain vdom.test]
hosts = 127.0.0.1:$P_VIRT
[domain nopm.test]
hosts = 127.0.0.1:$P_NOPM
[domain rdom.test]
hosts = 127.0.0.1:$P_RCPT
EOF
tb_front

# known_of DOMAIN: the known-address field of DOMAIN's catch-all record (cache list --json).
known_of() {
	tb_cache_json "$1" 2>/dev/null | grep -o "\"key\":\"$1\"[^}]*\"known\":\"[a-z]*\"" | sed 's/.*"known":"//; s/"$//'
}

os_sessions() { os_log osd | grep -c ' smtp connected '; }

# ---- virtual table: 524 5.2.4 for an unknown user, from a destination that accepts postmaster
tb_mark
s0=$(os_sessions)
tb_rcpts alice@vdom.test nosuch@vdom.test other@vdom.test >/dev/null
assert_match '^250 ' "$(tb_reply_of alice@vdom.test)" "virtual table: alice@vdom.test 250"
assert_eq "550 <nosuch@vdom.test>: recipient unknown" "$(tb_reply_of nosuch@vdom.test)" \
	"virtual table: unknown user 550 recipient unknown (OpenSMTPD said 524 5.2.4)"
assert_match '^550 .*recipient unknown' "$(tb_reply_of other@vdom.test)" "virtual table: a second unknown user 550"
assert_match '^fail callout 1800 524 5\.2\.4 Mailing list expansion problem' "$(tb_cache_record nosuch@vdom.test)" \
	"cache: nosuch@vdom.test fail callout, OpenSMTPD's own 524 5.2.4 text"
assert_match '^no catchall .*524 5\.2\.4' "$(tb_cache_record vdom.test)" "cache: vdom.test not a catch-all (its probe got 524 5.2.4)"
assert_eq accepted "$(known_of vdom.test)" "cache: vdom.test accepts postmaster"
assert_log 'verify_recipient <nosuch@vdom\.test> result=fail source=callout .*detail="524 5\.2\.4' \
	"log: result=fail source=callout with the 524 5.2.4 detail"
n=$(( $(os_sessions) - s0 ))
assert_eq 1 "$n" "OpenSMTPD saw one session for three recipients"

# ---- the same table without postmaster: 5.2.4 proves nothing there -> 451, nothing cached
tb_mark
tb_rcpts alice@nopm.test nosuch@nopm.test >/dev/null
assert_match '^250 ' "$(tb_reply_of alice@nopm.test)" "no postmaster: alice@nopm.test 250"
assert_match '^451 ' "$(tb_reply_of nosuch@nopm.test)" "no postmaster: unknown user 451, not 550"
assert_eq "" "$(tb_cache_record nosuch@nopm.test)" "no postmaster: no negative verdict cached"
assert_eq refused "$(known_of nopm.test)" "cache: nopm.test known=refused"

# ---- a recipient table (rcpt-to): plain refusal of unknown users
tb_mark
tb_rcpts alice@rdom.test nosuch@rdom.test >/dev/null
assert_match '^250 ' "$(tb_reply_of alice@rdom.test)" "rcpt-to table: alice@rdom.test 250"
assert_match '^550 .*recipient unknown' "$(tb_reply_of nosuch@rdom.test)" "rcpt-to table: unknown user 550"

# ---- probe agrees with the engine
p=$(tb_ctl probe vdom.test --rcpt alice@vdom.test 2>&1)
assert_match 'vdom\.test: callouts can verify recipients' "$p" "probe vdom.test: usable (the gateway gives 550 there)"
p=$(tb_ctl probe nopm.test 2>&1)
assert_match 'cannot verify recipients \(failed: known address accepted\)' "$p" \
	"probe nopm.test: not usable, the known address is refused (the gateway gives 451 there)"
p=$(tb_ctl --json probe vdom.test 2>&1)
assert_match '"usable": *true' "$p" "probe --json vdom.test: usable true"

# ---- OpenSMTPD's own log: every session ended by QUIT
tb_front_stop
sleep 0.5
n=$(os_log osd | grep -c ' smtp connected ')
m=$(os_log osd | grep -c ' smtp disconnected reason=quit')
assert_eq "$n" "$m" "OpenSMTPD: every session ($n) ended by QUIT"
assert_no_match 'reason=(io-error|timeout|disconnect)' "$(os_log osd)" "OpenSMTPD logs no lost connection"
