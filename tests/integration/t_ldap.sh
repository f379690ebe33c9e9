#!/usr/bin/env bash
# t_ldap.sh - the LDAP recipient source through the shipped ACL snippets, against a real
# slapd: the callout cannot answer (destination down, no list) and LDAP decides; entries
# by mail and mailLocalAddress, ldapi:// with %u, StartTLS with a throwaway CA; injection
# attempts match nothing; a refused bind, a missing password file, a stopped or frozen
# server are temporary (451, or a stale positive verdict), never 550; a connection the
# server dropped is remade within a session; the callout still comes first.
. "$(dirname "$0")/../lib/testbed.sh"
. "$(dirname "$0")/../lib/slapd.sh"

tb_backend
{
	tb_slapd_person alice alice@ldap.test
	tb_slapd_person bob bob@ldap.test b.alias@ldap.test
	tb_slapd_person star 'st*r@ldap.test'
	tb_slapd_person quoted '"a b"@ldap.test'
	tb_slapd_person carol carol@ldap.test
	tb_slapd_person dave dave@ldap.test
	tb_slapd_person ldaponly ldaponly@callout.test
} >"$TB/people.ldif"
tb_slapd_tls
tb_slapd_start "$TB/people.ldif"
printf 'not-the-password\n' >"$TB/wrong.pw"
chown "$TB_EXIM_USER" "$TB/wrong.pw"
chmod 0400 "$TB/wrong.pw"

# The LDAP lines most sections share (bind as the reader; the password file comes apart).
ldap_common="ldap_uri = $SLAPD_URI
ldap_base = ou=people,$SLAPD_BASE
ldap_bind_dn = $SLAPD_BIND_DN
ldap_timeout = 2s"

tb_conf <<EOF
[domain ldap.test]
hosts = 127.0.0.1:$BE_DEAD
$ldap_common
ldap_bind_password_file = $SLAPD_PW_FILE

[domain stale.test]
hosts = 127.0.0.1:$BE_DEAD
$ldap_common
ldap_bind_password_file = $SLAPD_PW_FILE
ldap_filter = (uid=%u)
positive_ttl = 0s

[domain ldapi.test]
hosts = 127.0.0.1:$BE_DEAD
ldap_uri = $SLAPD_LDAPI
ldap_base = $SLAPD_BASE
ldap_filter = "(&(objectClass=inetOrgPerson)(uid=%u))"

[domain tls.test]
hosts = 127.0.0.1:$BE_DEAD
ldap_uri = $SLAPD_URI
ldap_base = $SLAPD_BASE
ldap_filter = (uid=%u)
ldap_starttls = yes
ldap_tls_cacert = $SLAPD_CA

[domain ldaps.test]
hosts = 127.0.0.1:$BE_DEAD
ldap_uri = $SLAPD_LDAPS
ldap_base = $SLAPD_BASE
ldap_filter = (uid=%u)
ldap_tls_cacert = $SLAPD_CA

[domain tlsbad.test]
hosts = 127.0.0.1:$BE_DEAD
ldap_uri = $SLAPD_URI
ldap_base = $SLAPD_BASE
ldap_filter = (uid=%u)
ldap_starttls = yes

[domain badpw.test]
hosts = 127.0.0.1:$BE_DEAD
$ldap_common
ldap_filter = (uid=%u)
ldap_bind_password_file = $TB/wrong.pw

[domain nopw.test]
hosts = 127.0.0.1:$BE_DEAD
$ldap_common
ldap_filter = (uid=%u)
ldap_bind_password_file = $TB/no-such.pw

[domain callout.test]
hosts = 127.0.0.1:$BE_USERS
$ldap_common
ldap_bind_password_file = $SLAPD_PW_FILE
EOF
tb_front

defer_text='cannot verify recipient now, please try again later'

# ---- callout down, no list: LDAP decides
tb_mark
tb_rcpts alice@ldap.test bob@ldap.test b.alias@ldap.test BOB@ldap.test nobody@ldap.test >/dev/null
assert_match '^250 ' "$(tb_reply_of alice@ldap.test)" "entry by mail: 250"
assert_match '^250 ' "$(tb_reply_of bob@ldap.test)" "second entry by mail: 250"
assert_match '^250 ' "$(tb_reply_of b.alias@ldap.test)" "entry by mailLocalAddress (the default filter): 250"
assert_match '^250 ' "$(tb_reply_of BOB@ldap.test)" "upper-case local part: the directory's case-insensitive match: 250"
assert_eq "550 <nobody@ldap.test>: recipient unknown" "$(tb_reply_of nobody@ldap.test)" "no entry: 550 recipient unknown"
assert_log 'verify_recipient <alice@ldap\.test> result=pass source=ldap detail="entry uid=alice,ou=people,dc=rcptguard,dc=test"' \
	"log: result=pass source=ldap with the entry's DN"
assert_log 'verify_recipient <nobody@ldap\.test> result=fail source=ldap ' "log: result=fail source=ldap"
assert_match '^pass ldap 604800 entry uid=alice,' "$(tb_cache_record alice@ldap.test)" "cache: alice pass, source ldap, positive_ttl"
assert_match '^fail ldap 1800 no entry under ou=people' "$(tb_cache_record nobody@ldap.test)" "cache: nobody fail, source ldap, negative_ttl"

tb_mark
tb_rcpts alice@ldap.test nobody@ldap.test >/dev/null
assert_no_log 'verify_recipient <(alice|nobody)@ldap\.test>' "second message: from the cache (no rcptguard line at log_cached = no)"
assert_log 'rejected RCPT <nobody@ldap\.test>: <nobody@ldap\.test>: recipient unknown' "second message: the 550 in Exim's own line"

# ---- injection attempts: values, never filter syntax
tb_mark
tb_rcpts 'st*r@ldap.test' '*@ldap.test' 's*@ldap.test' 'alice*@ldap.test' '"a)(mail=*"@ldap.test' \
	'"*)(|(mail=*"@ldap.test' '"x\\2a"@ldap.test' '"a b"@ldap.test' >/dev/null
assert_match '^250 ' "$(tb_reply_of 'st*r@ldap.test')" "an address with a literal '*' matches its own entry: 250"
assert_match '^550 .*recipient unknown' "$(tb_reply_of '*@ldap.test')" "'*' as local part matches nothing: 550"
assert_match '^550 .*recipient unknown' "$(tb_reply_of 's*@ldap.test')" "'s*' does not match st*r's entry: 550"
assert_match '^550 .*recipient unknown' "$(tb_reply_of 'alice*@ldap.test')" "'alice*' does not match alice: 550"
assert_match '^550 .*recipient unknown' "$(tb_reply_of '"a)(mail=*"@ldap.test')" "')(' in a quoted local part matches nothing: 550"
assert_match '^550 .*recipient unknown' "$(tb_reply_of '"*)(|(mail=*"@ldap.test')" "a filter-breaking quoted local part matches nothing: 550"
# (awk -v, in tb_reply_of, would eat the backslashes: the line is picked with grep -F)
assert_match '	550 .*recipient unknown' "$(grep -F '"x\\2a"@ldap.test' "$TB/last_rcpts")" \
	"a backslash escape in the local part matches nothing: 550"
assert_match '^250 ' "$(tb_reply_of '"a b"@ldap.test')" "a quoted local part with a space matches its own entry: 250"
assert_no_log 'ldap: search: (Bad search filter|Filter error)' "no injection attempt broke the filter"

# NUL and 8-bit bytes, sent raw (swaks would not).
raw_rcpt() {
	python3 - "$FRONT_PORT" "$1" <<'PY'
import os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
f = s.makefile("rb")
def reply():
    out = b""
    while True:
        l = f.readline()
        out += l
        if not l or l[3:4] != b"-":
            return out.decode("latin-1").strip()
reply()
for cmd in (b"EHLO raw.test\r\n", b"MAIL FROM:<a@raw.test>\r\n"):
    s.sendall(cmd)
    reply()
s.sendall(b"RCPT TO:<" + os.fsencode(sys.argv[2]).replace(b"NUL", b"\0") + b">\r\n")
print(reply().splitlines()[-1])
s.sendall(b"QUIT\r\n")
reply()
PY
}
tb_mark
r=$(raw_rcpt 'aliceNUL@ldap.test')
assert_match '^5[0-9][0-9] ' "$r" "a NUL after a known local part is refused with a 5xx, not accepted ($r)"
r=$(raw_rcpt "$(printf 'al\xe9ice@ldap.test')")
assert_match '^550 .*8-bit character' "$r" "a Latin-1 byte in the local part: malformed, never looked up ($r)"
r=$(raw_rcpt "$(printf 'al\xc3\xa9ice@ldap.test')")
assert_log 'verify_recipient <"al\?\?ice"@ldap\.test> result=pass reason=unverifiable' \
	"a UTF-8 local part passes unverified (SMTPUTF8), never matched against the directory ($r)"
assert_no_log 'source=ldap' "no raw-byte address reached LDAP"

# ---- ldapi:// (anonymous, %u) and StartTLS
tb_mark
tb_rcpts alice@ldapi.test ghost@ldapi.test alice@tls.test ghost@tls.test alice@ldaps.test ghost@ldaps.test >/dev/null
assert_match '^250 ' "$(tb_reply_of alice@ldapi.test)" "ldapi:// anonymous, filter with %u: 250"
assert_match '^550 ' "$(tb_reply_of ghost@ldapi.test)" "ldapi:// no entry: 550"
assert_log 'verify_recipient <alice@ldapi\.test> result=pass source=ldap ' "log: ldapi:// lookup is source=ldap"
assert_match '^250 ' "$(tb_reply_of alice@tls.test)" "StartTLS with the throwaway CA (ldap_tls_cacert): 250"
assert_match '^550 ' "$(tb_reply_of ghost@tls.test)" "StartTLS, no entry: 550"
assert_match '^250 ' "$(tb_reply_of alice@ldaps.test)" "ldaps:// with the throwaway CA: 250"
assert_match '^550 ' "$(tb_reply_of ghost@ldaps.test)" "ldaps://, no entry: 550"

# ---- problems of the directory or its configuration: 451, never 550
tb_mark
tb_rcpts alice@tlsbad.test ghost@tlsbad.test alice@badpw.test ghost@badpw.test alice@nopw.test ghost@nopw.test >/dev/null
for a in alice@tlsbad.test ghost@tlsbad.test; do
	assert_eq "451 <$a>: $defer_text" "$(tb_reply_of $a)" "StartTLS with an unverifiable certificate: $a 451"
done
assert_log 'verify_recipient <ghost@tlsbad\.test> result=defer reason=tempfail .*ldap: StartTLS' "log: the StartTLS failure is the reason"
for a in alice@badpw.test ghost@badpw.test; do
	assert_eq "451 <$a>: $defer_text" "$(tb_reply_of $a)" "wrong bind password: $a 451, never 550"
done
assert_log 'verify_recipient <ghost@badpw\.test> result=defer .*bind as cn=reader,dc=rcptguard,dc=test refused: Invalid credentials' \
	"log: the refused bind is the reason"
for a in alice@nopw.test ghost@nopw.test; do
	assert_eq "451 <$a>: $defer_text" "$(tb_reply_of $a)" "missing password file: $a 451, never 550"
done
assert_log "configuration error: ldap_bind_password_file $TB/no-such\.pw: No such file or directory" \
	"log: a missing password file is a configuration error"
assert_eq "" "$(tb_cache_record ghost@badpw.test)" "no verdict cached for a temporary failure"

# ---- the callout comes first; LDAP only when it cannot answer
tb_mark
tb_rcpts user1@callout.test ldaponly@callout.test >/dev/null
assert_match '^250 ' "$(tb_reply_of user1@callout.test)" "callout up: user1 250"
assert_log 'verify_recipient <user1@callout\.test> result=pass source=callout ' "callout up: source=callout"
assert_match '^550 ' "$(tb_reply_of ldaponly@callout.test)" "callout's 550 decides even though LDAP has an entry"
assert_log 'verify_recipient <ldaponly@callout\.test> result=fail source=callout ' "callout's answer is the verdict (order callout, list, ldap)"

# ---- a connection the server dropped is remade within one SMTP session
tb_mark
python3 - "$FRONT_PORT" "$TB/fifo.go" "$TB/fifo.done" <<'PY' >"$TB/midsession.out" 2>&1 &
import os, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
f = s.makefile("rb")
def reply():
    out = b""
    while True:
        l = f.readline()
        out += l
        if not l or l[3:4] != b"-":
            return out.decode("latin-1").strip()
reply()
for cmd in (b"EHLO mid.test\r\n", b"MAIL FROM:<a@mid.test>\r\n"):
    s.sendall(cmd); reply()
s.sendall(b"RCPT TO:<carol@ldap.test>\r\n"); print("carol", reply())
sys.stdout.flush()
open(sys.argv[2], "w").close()
for _ in range(300):
    if os.path.exists(sys.argv[3]): break
    time.sleep(0.05)
s.sendall(b"RCPT TO:<dave@ldap.test>\r\n"); print("dave", reply())
s.sendall(b"QUIT\r\n"); reply()
PY
mid=$!
for _ in $(seq 1 200); do [ -e "$TB/fifo.go" ] && break; sleep 0.05; done
tb_slapd_restart
touch "$TB/fifo.done"
wait "$mid"
assert_match '^carol 250' "$(cat "$TB/midsession.out")" "mid-session: first recipient 250"
assert_match '^dave 250' "$(cat "$TB/midsession.out")" "mid-session: after a slapd restart, the next recipient 250 (connection remade)"

# ---- a frozen server (accepts, never answers): bounded by ldap_timeout, then 451
tb_mark
tb_slapd_pause
tb_rcpts frozen@ldap.test frozen2@ldap.test >/dev/null
tb_slapd_resume
assert_eq "451 <frozen@ldap.test>: $defer_text" "$(tb_reply_of frozen@ldap.test)" "frozen slapd: 451"
assert_eq "451 <frozen2@ldap.test>: $defer_text" "$(tb_reply_of frozen2@ldap.test)" "frozen slapd: next recipient 451"
assert_log 'verify_recipient <frozen2@ldap\.test> result=defer .*not asked again yet' \
	"frozen slapd: the next recipient of the session does not wait for it again"
assert_log 'verify_recipient <frozen@ldap\.test> result=defer .*ldap: (search timed out|bind: timed out)' "log: the LDAP timeout is the reason"
ms=$(tb_log_ms frozen@ldap.test)
assert_num "${ms:-999999}" -lt 10000 "frozen slapd: the verdict took ${ms:-?} ms, bounded by ldap_timeout = 2s (not total_timeout 30s)"

# ---- slapd stopped: stale positive verdicts pass, anything else defers
tb_mark
tb_rcpts alice@stale.test >/dev/null
assert_log 'verify_recipient <alice@stale\.test> result=pass source=ldap ' "stale.test: alice asked of LDAP while it runs"
tb_slapd_stop
tb_mark
tb_rcpts alice@stale.test ghost@stale.test newcomer@ldap.test alice@ldap.test >/dev/null
assert_match '^250 ' "$(tb_reply_of alice@stale.test)" "slapd stopped: an expired positive verdict within stale_ttl still 250"
assert_log 'verify_recipient <alice@stale\.test> result=pass source=cache .*stale=yes' "log: source=cache stale=yes"
assert_eq "451 <ghost@stale.test>: $defer_text" "$(tb_reply_of ghost@stale.test)" "slapd stopped: unknown address 451, never 550"
assert_eq "451 <newcomer@ldap.test>: $defer_text" "$(tb_reply_of newcomer@ldap.test)" "slapd stopped: new address 451 with the defer message"
assert_match '^250 ' "$(tb_reply_of alice@ldap.test)" "slapd stopped: a cached verdict still answers"
assert_log "verify_recipient <newcomer@ldap\.test> result=defer reason=tempfail .*ldap: " "log: defer, reason=tempfail, the LDAP error in the detail"
assert_eq "" "$(tb_cache_record newcomer@ldap.test)" "nothing cached for the deferred address"

# ---- the CLI runs the same chain
tb_slapd_restart
out=$(tb_ctl check bob@ldapi.test 2>&1)
assert_match '^result=pass source=ldap ' "$out" "rcptguardctl check: result=pass source=ldap"
