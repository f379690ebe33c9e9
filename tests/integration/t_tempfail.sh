#!/usr/bin/env bash
# t_tempfail.sh - a destination that cannot answer (451 at RCPT, nothing listening) gives
# 451, never a 5xx, and nothing negative is cached; an expired positive verdict still
# passes within stale_ttl, and defers after it.
. "$(dirname "$0")/../lib/testbed.sh"

tb_backend
tb_conf <<EOF
connect_timeout = 2s
command_timeout = 3s
total_timeout = 5s
$(tb_std_domains)
EOF
tb_front

# ---- 451 at RCPT
tb_mark
tb_rcpts user1@tempfail.test nobody@tempfail.test >/dev/null
for a in user1@tempfail.test nobody@tempfail.test; do
	r=$(tb_reply_of $a)
	assert_match "^451 <$a>: cannot verify recipient now, please try again later$" "$r" \
		"tempfail back-end: $a gets 451 with the deferral text"
done
assert_no_match '^5' "$(cut -f 2 "$TB/last_rcpts")" "tempfail back-end: no 5xx at all"
assert_log 'verify_recipient <nobody@tempfail\.test> result=defer reason=tempfail' "tempfail back-end: log says result=defer"
assert_log 'verify_recipient <nobody@tempfail\.test> .*451 4\.3\.0' "tempfail back-end: the destination's 451 is in the detail"
assert_eq 0 "$(tb_cache_count "" tempfail.test)" "tempfail back-end: nothing cached for the domain (no verdict, no catch-all record)"
tb_mark
r=$(tb_rcpt_reply nobody@tempfail.test)
assert_match '^451 ' "$r" "tempfail back-end: asked again: still 451"
assert_connections "$BE_TEMPFAIL" 1 "tempfail back-end: asked again (nothing was cached)"

# ---- nothing listens
tb_mark
t0=$(tb_now_ms)
tb_rcpts user1@dead.test nobody@dead.test >/dev/null
t1=$(tb_now_ms)
assert_match '^451 <user1@dead\.test>: cannot verify' "$(tb_reply_of user1@dead.test)" "dead port: 451"
assert_match '^451 ' "$(tb_reply_of nobody@dead.test)" "dead port: 451 for the second recipient too"
assert_log 'verify_recipient <user1@dead\.test> result=defer .*[Cc]onnection refused' "dead port: log says connection refused"
assert_eq 0 "$(tb_cache_count "" dead.test)" "dead port: nothing cached"
assert_num $((t1 - t0)) -lt 5000 "dead port: answered at once (refused, no timeout): $((t1 - t0)) ms"

# ---- stale positive verdicts
# stale_conf PORT [EXTRA_GLOBAL_LINE]: positive_ttl 1s, stale.test's destination on PORT.
stale_conf() {
	tb_conf <<EOF
positive_ttl = 1s
${2:-}
connect_timeout = 2s
command_timeout = 3s
total_timeout = 5s
$(tb_std_domains)
[domain stale.test]
hosts = 127.0.0.1:$1
EOF
}
stale_conf "$BE_USERS"
tb_mark
r=$(tb_rcpt_reply user1@stale.test)
assert_match '^250 ' "$r" "stale: user1@stale.test verified (250) while the destination is up"
assert_match '^pass callout 1 ' "$(tb_cache_record user1@stale.test)" "stale: cached with positive_ttl = 1s"
sleep 2
# The destination goes away (nothing listens on its new address).
stale_conf "$BE_DEAD"
tb_mark
r=$(tb_rcpt_reply user1@stale.test)
assert_match '^250 ' "$r" "stale: expired positive verdict, destination dead: still 250 (within stale_ttl)"
assert_log 'verify_recipient <user1@stale\.test> result=pass source=cache.* stale=yes' "stale: log says source=cache stale=yes"
assert_match '^pass callout ' "$(tb_cache_record user1@stale.test)" "stale: the positive record is still there (a failure never overwrites it)"
r=$(tb_rcpt_reply other@stale.test)
assert_match '^451 ' "$r" "stale: an address never verified gets 451 from the dead destination"

stale_conf "$BE_DEAD" "stale_ttl = 1s"
tb_mark
r=$(tb_rcpt_reply user1@stale.test)
assert_match '^451 ' "$r" "stale: with stale_ttl = 1s too: 451"
assert_log 'verify_recipient <user1@stale\.test> result=defer' "stale: log says result=defer"

# ---- a 451 destination never turns a cached pass into a fail
# flip_conf PORT: flip.test's destination on PORT, negative_ttl 1s.
flip_conf() {
	tb_conf <<EOF
connect_timeout = 2s
command_timeout = 3s
total_timeout = 5s
$(tb_std_domains)
[domain flip.test]
hosts = 127.0.0.1:$1
negative_ttl = 1s
EOF
}
flip_conf "$BE_USERS"
tb_mark
r=$(tb_rcpt_reply ghost@flip.test)
assert_match '^550 ' "$r" "flip: unknown user 550 while the destination is up"
sleep 2
flip_conf "$BE_TEMPFAIL"
r=$(tb_rcpt_reply ghost@flip.test)
assert_match '^451 ' "$r" "flip: expired negative verdict and a 451 destination: 451, not a stale 550"
