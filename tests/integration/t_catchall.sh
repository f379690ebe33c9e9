#!/usr/bin/env bash
# t_catchall.sh - catch-all detection: a destination that accepts a random local part
# (a catch-all, or an Exchange that rejects only after DATA) cannot verify addresses:
# pass with source=catchall, the domain's catch-all result cached, no more connections.
. "$(dirname "$0")/../lib/testbed.sh"

tb_backend
tb_conf <<EOF
$(tb_std_domains)
EOF
tb_front

for kind in catchall afterdata; do
	dom=$kind.test
	case $kind in
	catchall) port=$BE_CATCHALL ;;
	afterdata) port=$BE_AFTERDATA ;;
	esac

	tb_mark
	r=$(tb_rcpt_reply first@$dom)
	assert_match '^250 ' "$r" "$kind: any address is passed (250, not 550)"
	assert_log "rcptguard: verify_recipient <first@$dom> result=pass source=catchall" \
		"$kind: log says result=pass source=catchall"
	assert_connections "$port" 1 "$kind: one back-end connection for the probe"
	rec=$(tb_cache_record "$dom")
	assert_match '^yes catchall 86400 2[0-9][0-9]' "$rec" "$kind: catch-all record 'yes' cached for 1d"
	rec=$(tb_cache_record "first@$dom")
	assert_no_match '^fail' "${rec:-none}" "$kind: no negative verdict cached for the address"

	tb_mark
	tb_rcpts second@$dom third@$dom user1@$dom >/dev/null
	n=$(cut -f 2 "$TB/last_rcpts" | grep -c '^250 ')
	assert_eq 3 "$n" "$kind: three more addresses in one message: all 250"
	assert_log "verify_recipient <second@$dom> result=pass source=catchall" "$kind: second address: source=catchall"
	assert_connections "$port" 0 "$kind: second message to that domain makes no back-end connection"

	out=$(tb_ctl catchall "$dom" 2>&1)
	rc=$?
	assert_match '^result=yes source=cache' "$out" "$kind: rcptguardctl catchall: result=yes source=cache"
	assert_eq 0 "$rc" "$kind: rcptguardctl catchall exits 0 (yes)"
done

# A destination that is not a catch-all: the probe's 550 is recorded as "no".
tb_mark
r=$(tb_rcpt_reply user1@example.org)
assert_match '^250 ' "$r" "users back-end: known user 250"
rec=$(tb_cache_record example.org)
assert_match '^no catchall 86400 550' "$rec" "users back-end: catch-all record 'no' with the probe's 550"
out=$(tb_ctl catchall example.org 2>&1)
rc=$?
assert_match '^result=no' "$out" "rcptguardctl catchall example.org: result=no"
assert_eq 1 "$rc" "rcptguardctl catchall exits 1 (no)"

# The probe's random local part is the one the log and cache talk about, never a real one.
assert_match 'rcptguard-probe-[0-9a-f]+@example\.org' "$rec" "the probe used a random local part"

# catchall_check = no: the destination is trusted, its 250 is a plain callout pass.
tb_conf <<EOF
catchall_check = no
$(tb_std_domains)
[domain nocheck.test]
hosts = 127.0.0.1:$BE_CATCHALL
EOF
tb_mark
r=$(tb_rcpt_reply anything@nocheck.test)
assert_match '^250 ' "$r" "catchall_check = no: 250"
assert_log 'verify_recipient <anything@nocheck\.test> result=pass source=callout' \
	"catchall_check = no: no probe, source=callout"
rec=$(tb_cache_record nocheck.test)
assert_eq "" "$rec" "catchall_check = no: no catch-all record"
