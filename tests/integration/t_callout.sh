#!/usr/bin/env bash
# t_callout.sh - recipient verification by SMTP callout through the shipped ACL snippets:
# replies, the main-log line, the cached verdicts and their lifetimes, the number of
# connections the destination sees.
. "$(dirname "$0")/../lib/testbed.sh"

tb_backend
tb_conf <<EOF
$(tb_std_domains)

# lifetimes overridden for one domain
[domain short.test]
hosts = 127.0.0.1:$BE_USERS
positive_ttl = 1h
negative_ttl = 5m
EOF
tb_front

# ---- first message: the destination is asked
tb_mark
tb_rcpts user1@example.org nobody@example.org >/dev/null
r=$(tb_reply_of user1@example.org)
assert_match '^250 ' "$r" "known user: 250"
r=$(tb_reply_of nobody@example.org)
assert_match '^550 ' "$r" "unknown user: 550"
assert_match '^550 <nobody@example\.org>: recipient unknown$' "$r" "unknown user: reply text says recipient unknown"
assert_log 'rcptguard: verify_recipient <user1@example\.org> result=pass source=callout .*ms=[0-9]+' \
	"log: verify_recipient <user1@example.org> result=pass source=callout ms=N"
assert_log 'rcptguard: verify_recipient <nobody@example\.org> result=fail source=callout .*ms=[0-9]+' \
	"log: verify_recipient <nobody@example.org> result=fail source=callout ms=N"
assert_log 'rcptguard: verify_recipient <nobody@example\.org> .*detail="550 5\.1\.1' \
	"log: the destination's own 550 reply is in the detail"
assert_connections "$BE_USERS" 1 "first message: one back-end connection (catch-all probe and both recipients)"

n=$(tb_backend_wait "I=\[127\.0\.0\.1\]:$BE_USERS closed by QUIT" 1)
assert_eq 1 "$n" "session end (rcptguard-quit.conf): the callout connection ends with QUIT"
assert_no_match "(lost|unexpected disconnection).* I=\[127\.0\.0\.1\]:$BE_USERS " "$(tb_backend_log)" \
	"session end: the destination logs no lost connection"

# ---- the cache
rec=$(tb_cache_record user1@example.org)
assert_match '^pass callout 604800 250' "$rec" "cache: user1@example.org pass, source callout, lifetime 7d (default positive_ttl)"
rec=$(tb_cache_record nobody@example.org)
assert_match '^fail callout 1800 550' "$rec" "cache: nobody@example.org fail, source callout, lifetime 30m (default negative_ttl)"
rec=$(tb_cache_record example.org)
assert_match '^no catchall 86400 ' "$rec" "cache: example.org catch-all record 'no', lifetime 1d (default catchall_ttl)"
human=$(tb_ctl cache list 2>&1)
assert_match '^user1@example\.org pass callout created=[^ ]+ expires=[^ ]+ 250' "$human" "cache list (human): user1@example.org pass callout"
assert_match '^nobody@example\.org fail callout created=[^ ]+ expires=[^ ]+ 550' "$human" "cache list (human): nobody@example.org fail callout"

# ---- second message to the same addresses: from the cache, no connection
tb_mark
tb_rcpts user1@example.org nobody@example.org >/dev/null
assert_match '^250 ' "$(tb_reply_of user1@example.org)" "second message: known user still 250"
assert_eq "550 <nobody@example.org>: recipient unknown" "$(tb_reply_of nobody@example.org)" \
	"second message: unknown user: same 550 reply and text"
# Verdicts from the cache: no line of rcptguard's (log_cached = no); Exim logs the 550 itself.
assert_no_log 'rcptguard: verify_recipient' "second message: no rcptguard line for verdicts from the cache (log_cached = no)"
assert_log 'rejected RCPT <nobody@example\.org>: <nobody@example\.org>: recipient unknown' "second message: Exim's own line for the 550"
assert_connections "$BE_USERS" 0 "second message: no back-end connection at all"

# ---- a third SMTP session mixing cached and new addresses: one connection for the new one
tb_mark
tb_rcpts user1@example.org user2@example.org >/dev/null
assert_match '^250 ' "$(tb_reply_of user2@example.org)" "new known address next to a cached one: 250"
assert_log 'verify_recipient <user2@example\.org> result=pass source=callout' "new address asked by callout"
assert_connections "$BE_USERS" 1 "only the new address makes a connection (catch-all status from cache)"

# ---- per-domain lifetimes
tb_mark
tb_rcpts user2@short.test ghost@short.test >/dev/null
assert_match '^250 ' "$(tb_reply_of user2@short.test)" "short.test: known user 250"
assert_match '^550 .*recipient unknown' "$(tb_reply_of ghost@short.test)" "short.test: unknown user 550"
rec=$(tb_cache_record user2@short.test)
assert_match '^pass callout 3600 ' "$rec" "per-domain positive_ttl = 1h honoured"
rec=$(tb_cache_record ghost@short.test)
assert_match '^fail callout 300 ' "$rec" "per-domain negative_ttl = 5m honoured"
rec=$(tb_cache_record user1@example.org)
assert_match '^pass callout 604800 ' "$rec" "other domains keep the global lifetime"

# ---- 50 new recipients in one message to one destination: exactly one connection
known=(user1 user2 user3 alice bob)
addrs=()
for l in "${known[@]}"; do addrs+=("$l@users.test"); done
for i in $(seq 1 45); do addrs+=("nobody$i@users.test"); done
tb_mark
t0=$(tb_now_ms)
tb_rcpts "${addrs[@]}" >/dev/null
t1=$(tb_now_ms)
n250=$(cut -f 2 "$TB/last_rcpts" | grep -c '^250 ')
n550=$(cut -f 2 "$TB/last_rcpts" | grep -c '^550 .*recipient unknown')
assert_eq 5 "$n250" "50 recipients: the 5 known ones get 250"
assert_eq 45 "$n550" "50 recipients: the 45 unknown ones get 550 recipient unknown"
assert_connections "$BE_USERS" 1 "50 new recipients to one destination: exactly 1 back-end connection"
n=$(tb_front_log | grep -c 'rcptguard: verify_recipient <[^>]*@users\.test> result=[a-z]* source=callout')
assert_eq 50 "$n" "50 log lines with source=callout"
n=$(tb_cache_count verdict users.test)
assert_eq 50 "$n" "50 verdicts cached for users.test"
echo "# 50 recipients took $((t1 - t0)) ms (whole swaks session)"

# ---- a client that drops the connection without QUIT (acl_smtp_notquit)
tb_mark
python3 - "$FRONT_PORT" <<'PY2'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rb")
def reply():
    while True:
        l = f.readline()
        if not l or l[3:4] != b"-":
            return l
reply()
for cmd in (b"EHLO drop.test\r\n", b"MAIL FROM:<a@drop.test>\r\n", b"RCPT TO:<user3@example.org>\r\n"):
    s.sendall(cmd)
    reply()
s.close()
PY2
n=$(tb_backend_wait "I=\[127\.0\.0\.1\]:$BE_USERS closed by QUIT" 1)
assert_eq 1 "$n" "client dropped without QUIT (acl_smtp_notquit): the callout connection still ends with QUIT"

# ---- address case: the domain is case-insensitive
tb_mark
r=$(tb_rcpt_reply user1@EXAMPLE.ORG)
assert_match '^250 ' "$r" "upper-case domain of a cached address: 250"
assert_connections "$BE_USERS" 0 "upper-case domain answered from the same cache record"
