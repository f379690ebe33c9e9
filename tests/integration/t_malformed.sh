#!/usr/bin/env bash
# t_malformed.sh - malformed addresses fail before any protocol sees them: control bytes,
# RFC 5321 lengths, unbalanced quotes. rcptguardctl check says result=fail with the
# reason; no connection reaches the destination; through Exim, nothing but a 5xx.
. "$(dirname "$0")/../lib/testbed.sh"

tb_backend
tb_conf <<EOF
$(tb_std_domains)
EOF
tb_front

l65=$(printf 'a%.0s' $(seq 1 65))
l64=$(printf 'a%.0s' $(seq 1 64))
lab63() { printf "$1%.0s" $(seq 1 63); }
# 63+63+63+62+1 octets of labels and 4 dots: 256 octets
d256="$(lab63 a).$(lab63 b).$(lab63 c).$(printf 'd%.0s' $(seq 1 62)).e"
# a 255-octet domain (the longest allowed): one octet less
d255="$(lab63 a).$(lab63 b).$(lab63 c).$(printf 'd%.0s' $(seq 1 61)).e"
assert_eq 256 "${#d256}" "test data: the long domain has 256 octets"

# name | address | regex the yield's message must match
cases=(
	"CR LF (SMTP injection)|$(printf 'user1\r\nRSET@example.org')|control character"
	"LF alone|$(printf 'user1\nx@example.org')|control character"
	"CR alone|$(printf 'user1\rx@example.org')|control character"
	"TAB|$(printf 'us\ter1@example.org')|control character"
	"0x01 byte|$(printf 'us\001er1@example.org')|control character"
	"ESC byte|$(printf 'us\033[0mer1@example.org')|control character"
	"DEL byte|$(printf 'us\177er1@example.org')|control character"
	"8-bit byte|$(printf 'us\351r1@example.org')|8-bit"
	"65-octet local part|$l65@example.org|local part longer than 64"
	"256-octet domain|user1@$d256|domain longer than 255"
	"unbalanced quote (open)|\"user1@example.org|unbalanced quote"
	"unbalanced quote (inner)|us\"er1@example.org|unbalanced quote"
	"quoted string left open|\"us\\\"er1\"x@example.org|quote"
	"no domain|user1|no domain"
	"empty local part|@example.org|empty local part"
	"empty label|user1@example..org|empty label"
)

tb_mark
for c in "${cases[@]}"; do
	name=${c%%|*}
	rest=${c#*|}
	addr=${rest%|*}
	want=${rest##*|}
	out=$(tb_ctl check "$addr" 2>&1)
	rc=$?
	assert_match "^result=fail " "$out" "check ($name): result=fail"
	assert_match "reason=syntax .*$want" "$out" "check ($name): the reason names the problem ($want)"
	assert_eq 1 "$rc" "check ($name): exit status 1"
	if printf '%s' "$out" | LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f\x80-\xff]' || [ "$(printf '%s' "$out" | wc -l)" -gt 0 ]; then
		not ok "check ($name): one line, no control or 8-bit bytes echoed"
		diag "$(printf '%s' "$out" | od -c | head -5)"
	else
		ok "check ($name): one line, no control or 8-bit bytes echoed"
	fi
done
assert_connections "$BE_USERS" 0 "no malformed address reached the destination"
# The verdict's log line (what Exim's main log gets) cannot be split by a CR LF either.
logline=$(tb_ctl -v check "$(printf 'user1\r\nX-Forged: yes@example.org')" 2>&1 >/dev/null)
assert_eq 1 "$(printf '%s\n' "$logline" | wc -l)" "log line of a CR LF address stays one line"
assert_match '^rcptguard: verify_recipient <user1\?\?X-Forged: yes@example\.org> result=fail reason=syntax' \
	"$logline" "log line shows the control bytes as '?'"
assert_eq 0 "$(tb_cache_count verdict)" "no malformed address was cached"

# The limits themselves are fine.
out=$(tb_ctl check "$l64@example.org" 2>&1)
assert_match '^result=fail source=callout' "$out" "64-octet local part is checked by callout (not a syntax failure)"
# RFC 5321 4.5.3.1.3: the whole path is at most 256 octets with its angle brackets, so a
# 255-octet domain fits no address; 254 octets of address are the longest allowed.
out=$(tb_ctl check "user1@$d255" -o "hosts=127.0.0.1:$BE_USERS" 2>&1)
assert_match 'result=fail reason=syntax.*address longer than 254 octets' "$out" "user1@ + 255-octet domain: over the RFC 5321 path limit"
d248="$(lab63 a).$(lab63 b).$(lab63 c).$(printf 'd%.0s' $(seq 1 54)).e"
assert_eq 254 "$(( ${#d248} + 6 ))" "test data: user1@ + this domain has 254 octets"
out=$(tb_ctl check "user1@$d248" -o "hosts=127.0.0.1:$BE_USERS" 2>&1)
assert_no_match 'reason=syntax' "$out" "a 254-octet address is not a syntax failure"
out=$(tb_ctl check '"user 1"@example.org' 2>&1)
assert_no_match 'reason=syntax' "$out" "a balanced quoted local part is not a syntax failure"

# ---- through Exim: whatever gets to the ACL fails (5xx), nothing reaches the destination
tb_mark
r=$(tb_rcpt_reply "$l65@example.org")
assert_match '^5[0-9][0-9] ' "$r" "SMTP: 65-octet local part: 5xx"
assert_match "^550 <a+@example\\.org>: malformed address: local part longer than 64" "$r" "SMTP: 65-octet local part (Exim lets it through): 550 from rcptguard naming the problem"
r=$(tb_rcpt_reply "user1@$d256")
assert_match '^5[0-9][0-9] ' "$r" "SMTP: 256-octet domain: 5xx"
# A .test domain of 256 octets, which the relay check lets through to rcptguard.
dt="$(lab63 a).$(lab63 b).$(lab63 c).$(printf 'd%.0s' $(seq 1 59)).test"
r=$(tb_rcpt_reply "user1@$dt")
assert_match '^5[0-9][0-9] ' "$r" "SMTP: 256-octet .test domain: 5xx (${#dt} octets)"
r=$(tb_rcpt_reply '"user1@example.org')
assert_match '^5[0-9][0-9] ' "$r" "SMTP: unbalanced quote: 5xx"
r=$(tb_rcpt_reply "$(printf 'us\001er1@example.org')")
assert_match '^5[0-9][0-9] ' "$r" "SMTP: 0x01 byte in the local part: 5xx"
r=$(tb_rcpt_reply "$(printf 'us\033er1@example.org')")
assert_match '^5[0-9][0-9] ' "$r" "SMTP: ESC byte in the local part: 5xx"
assert_connections "$BE_USERS" 0 "SMTP: no malformed address reached the destination"
assert_no_log 'verify_recipient .* result=pass' "SMTP: no malformed address passed"

# A NUL byte cannot be given in argv; over SMTP Exim itself must refuse it (never pass it on).
tb_mark
reply=$(python3 - "$FRONT_PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rb")
def reply():
    lines = []
    while True:
        l = f.readline()
        if not l:
            return " ".join(lines) or "(closed)"
        lines.append(l.decode("latin-1").rstrip())
        if l[3:4] != b"-":
            return " ".join(lines)
reply()
for cmd in (b"EHLO nul.test\r\n", b"MAIL FROM:<a@nul.test>\r\n"):
    s.sendall(cmd); reply()
s.sendall(b"RCPT TO:<us\x00er1@example.org>\r\n")
print(reply())
s.sendall(b"QUIT\r\n")
PY
)
assert_match '^5[0-9][0-9]' "$reply" "SMTP: NUL byte in RCPT TO: 5xx"
assert_connections "$BE_USERS" 0 "SMTP: the NUL address reached no destination"
