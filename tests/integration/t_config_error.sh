#!/usr/bin/env bash
# t_config_error.sh - a configuration error (unknown key, bad value, missing file): every
# RCPT is answered 451 (nothing rejected, nothing accepted unverified), the error with
# file:line is in the front's main log, rcptguardctl check prints result=defer with the same
# error (exit 78); a fixed file takes effect at the next connection.
. "$(dirname "$0")/../lib/testbed.sh"

tb_backend
conf=$TB/rcptguard.conf
re_conf=$(printf '%s' "$conf" | sed 's/[.[\*^$()+?{|]/\\&/g')

# tb_conf writes two lines first ("# written by", "state_dir"): the heredoc starts at line 3.
tb_conf <<EOF
no_such_key = yes
$(tb_std_domains)
EOF
tb_front

check_all_defer() {
	local what=$1 a r
	tb_rcpts user1@example.org nobody@example.org x@catchall.test >/dev/null
	for a in user1@example.org nobody@example.org x@catchall.test; do
		r=$(tb_reply_of $a)
		assert_match "^451 <$a>: cannot verify recipient now" "$r" "$what: $a answered 451"
	done
	assert_no_match '^[25]' "$(cut -f 2 "$TB/last_rcpts")" "$what: nothing accepted, nothing rejected"
}

tb_mark
check_all_defer "unknown key"
assert_log "rcptguard: configuration error: $re_conf:3: .*no_such_key" "unknown key: main log names $conf:3 and the key"
assert_log "verify_recipient <nobody@example\.org> result=defer reason=config" "unknown key: verdict line says reason=config"
assert_connections "$BE_USERS" 0 "unknown key: no callout made"
out=$(tb_ctl check user1@example.org 2>&1)
rc=$?
assert_match "^result=defer .*$re_conf:3: .*no_such_key" "$out" "unknown key: rcptguardctl check: result=defer with the same error"
assert_eq 78 "$rc" "unknown key: rcptguardctl check exits 78"
logline=$(tb_front_log | grep -o "configuration error: .*" | head -n 1 | sed 's/^configuration error: //')
assert_match "$(printf '%s' "$logline" | sed 's/[.[\*^$()+?{|]/\\&/g')" "$out" "unknown key: the CLI and the log give the same error text"

# A bad value, in a [domain] section.
tb_conf <<EOF
$(tb_std_domains)
[domain bad.test]
hosts = 127.0.0.1:$BE_USERS
positive_ttl = forever
EOF
line=$(grep -n '^positive_ttl = forever' "$conf" | cut -d: -f1)
tb_mark
check_all_defer "bad value"
assert_log "rcptguard: configuration error: $re_conf:$line: .*(positive_ttl|forever)" "bad value: main log names $conf:$line"
out=$(tb_ctl check nobody@example.org 2>&1)
rc=$?
assert_match "^result=defer .*$re_conf:$line:" "$out" "bad value: rcptguardctl check: result=defer with file:line"
assert_eq 78 "$rc" "bad value: rcptguardctl check exits 78"

# A missing file.
rm -f "$conf"
tb_mark
check_all_defer "missing config file"
assert_log "rcptguard: configuration error: .*$re_conf" "missing config file: main log names the file"
out=$(tb_ctl check user1@example.org 2>&1)
rc=$?
assert_match '^result=defer ' "$out" "missing config file: rcptguardctl check: result=defer"
assert_eq 78 "$rc" "missing config file: rcptguardctl check exits 78"

# Fixed: the next connection uses the new file (no Exim restart).
tb_conf <<EOF
$(tb_std_domains)
EOF
tb_mark
tb_rcpts user1@example.org nobody@example.org >/dev/null
assert_match '^250 ' "$(tb_reply_of user1@example.org)" "config fixed: known user 250 at the next connection"
assert_match '^550 .*recipient unknown' "$(tb_reply_of nobody@example.org)" "config fixed: unknown user 550"
assert_no_log 'configuration error' "config fixed: no configuration error logged"

# A bad per-call option from the ACL (OPTIONS) is a configuration error too: 451.
tb_front --rcpt-pre '  warn set acl_m_rg_opts = no_such_option=1'
tb_mark
r=$(tb_rcpt_reply nobody@example.org)
assert_match '^451 ' "$r" "bad ACL option: 451, not 550"
assert_log 'rcptguard: configuration error: .*no_such_option' "bad ACL option: log names the option"
