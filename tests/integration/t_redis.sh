#!/usr/bin/env bash
# t_redis.sh - a pool of two gateways sharing one Redis store (store = redis): two front
# Exims (gwA, gwB) with separate state_dirs, one real redis-server (unix socket), one
# back-end Exim, swaks clients. Greylisted at A, retry accepted at B; a verdict learned
# at A answers at B with no back-end connection; a flush at B makes A call out again;
# every key has the prefix and a TTL; junk and wrong-type values are misses; 50 sessions
# on two gateways, one triplet: exactly one "new" (one atomic script per decision); the
# server's script cache emptied: the next decision still right; Redis killed under load: no 5xx,
# greylisting goes on on the local store, and back to Redis (empty) after the hold-down;
# Redis frozen: each session bounded; primary + replica failover (ROLE); the CLI's
# store status / store copy.
. "$(dirname "$0")/../lib/testbed.sh"
. "$(dirname "$0")/../lib/redis.sh"

GL_MSG='Greylisting in action, please come back in a few minutes'
HOLD_S=10                               # core/store.c: STORE_HOLD_S

tb_backend
tb_redis_start main
mkdir -p "$TB/stateA" "$TB/stateB"
chown "$TB_EXIM_USER:$TB_EXIM_USER" "$TB/stateA" "$TB/stateB"

# pool_conf URI [LINES...]: rcptguard.conf of both gateways (same keys, own state_dir);
# greylist_delay is $GL_DELAY (2s unless set).
pool_conf() {
	local uri=$1 g
	shift
	for g in A B; do
		{
			echo "state_dir = $TB/state$g"
			echo "store = redis"
			echo "redis_uri = $uri"
			echo "redis_timeout = 400ms"
			echo "greylist_delay = ${GL_DELAY:-2s}"
			printf '%s\n' "$@"
			tb_std_domains
		} >"$TB/rg$g.conf.new"
		chmod 0644 "$TB/rg$g.conf.new"
		mv "$TB/rg$g.conf.new" "$TB/rg$g.conf"
	done
}
pool_conf "$(tb_redis_uri main)"

# Both fronts: greylisting (relay host 127.0.8.1 exempt) before recipient verification.
TB_FRONT_RCPT_PRE=".include $TB_SNIPPETS/rcptguard-greylist.conf"
for g in A B; do
	TB_FRONT_NAME=gw$g TB_FRONT_RG_CONF=$TB/rg$g.conf tb_front "hostlist relay_from_hosts = 127.0.8.1"
	printf -v "PORT_$g" '%s' "$FRONT_PORT"
	printf -v "PID_$g" '%s' "$FRONT_PID"
	printf -v "LOG_$g" '%s' "$FRONT_LOG"
	FRONT_PID=
done

# gw A|B: talk to (and read the log of) that gateway from now on.
gw() {
	local p=PORT_$1 l=LOG_$1
	FRONT_PORT=${!p}
	FRONT_LOG=${!l}
	GW=$1
}
# ctl A|B ARGS: rcptguardctl with that gateway's config.
ctl() {
	local g=$1
	shift
	"$RG_CTL" -c "$TB/rg$g.conf" "$@"
}
# reply IP FROM TO: the RCPT reply of one session from client IP to the current gateway.
reply() {
	tb_rcpt_reply "$3" --local-interface "$1" --from "$2"
}
# mark: both gateways' logs and the back-end (the current gateway stays the same).
mark() {
	local g cur=${GW:-A}
	for g in A B; do
		gw $g
		tb_front_mark
		printf -v "MARK_$g" '%s' "$TB_FRONT_MARK"
	done
	gw "$cur"
	tb_backend_mark
}
# gl_ms A|B IP: the ms= of that gateway's greylist lines for client IP since the mark.
gl_ms() {
	log_of "$1" | grep -F "greylist [$2]" | sed -n 's/.* ms=\([0-9][0-9]*\).*/\1/p'
}
# log_of A|B: that gateway's log since the last mark.
log_of() {
	local l=LOG_$1 m=MARK_$1
	tail -n "+$((${!m} + 1))" "${!l}"
}
rkeys() {
	tb_redis_cli main --scan --pattern '*'
}

# ---- one greylist for the pool
mark
gw A
r=$(reply 127.0.0.5 alice@sender.test user1@example.org)
assert_eq "451 4.7.1 $GL_MSG" "$r" "gateway A: first attempt greylisted (451 4.7.1)"
assert_match 'reason=new' "$(log_of A | grep 'greylist \[127\.0\.0\.5\]')" "gateway A logs reason=new"
assert_num "$(rkeys | grep -c '^rg:')" -ge 1 "the triplet is a key in Redis (prefix rg:)"
sleep 2.2
gw B
r=$(reply 127.0.0.5 alice@sender.test user1@example.org)
assert_match '^250 ' "$r" "gateway B: the retry after the delay is accepted (250)"
assert_match 'result=pass reason=passed' "$(log_of B | grep 'greylist \[127\.0\.0\.5\]')" \
	"gateway B logs reason=passed (the record gateway A wrote)"
assert_eq 0 "$(find "$TB/stateA" "$TB/stateB" -name '*.mdb' | wc -l)" "no local store file made (no fallback)"

# ---- the shipped preload maps hiredis in each gateway's daemon, and connects nothing there
# (every SMTP process inherits the library and makes its own connection)
assert_match 'libhiredis' "$(cat "/proc/$PID_A/maps")" "gateway A's daemon has hiredis mapped (preload)"
for i in $(seq 1 30); do
	held=$(tb_redis_cli main CLIENT LIST | grep -vc 'cmd=client')
	[ "$held" = 0 ] && break
	sleep 0.1
done
assert_eq 0 "$held" "between sessions no connection to Redis is held (none by the daemons)"

# ---- the server's script cache emptied (SCRIPT FLUSH, as after a restart or a failover):
# a decision is one script (EVALSHA); NOSCRIPT makes the gateway send it again (EVAL)
mark
gw A
r=$(reply 127.0.0.6 carol@sender.test user1@example.org)
assert_eq "451 4.7.1 $GL_MSG" "$r" "gateway A: a new triplet greylisted by the script"
assert_eq "OK" "$(tb_redis_cli main SCRIPT FLUSH)" "the server's script cache is emptied (SCRIPT FLUSH)"
sleep 2.2
gw B
r=$(reply 127.0.0.6 carol@sender.test user1@example.org)
assert_match '^250 ' "$r" "empty script cache: the first decision after it is still right (the retry passes, 250)"
assert_match 'result=pass reason=passed' "$(log_of B | grep 'greylist \[127\.0\.0\.6\]')" \
	"empty script cache: gateway B logs reason=passed (EVAL after NOSCRIPT), not an error"
assert_no_match 'store.*unreachable|reason=error' "$(log_of A; log_of B)" "empty script cache: no fallback, no error"

# ---- one verdict cache for the pool (relay host 127.0.8.1: no greylisting)
mark
gw A
r=$(reply 127.0.8.1 someone@sender.test user2@example.org)
assert_match '^250 ' "$r" "gateway A: user2 verified by callout (250)"
r=$(reply 127.0.8.1 someone@sender.test nobody@example.org)
assert_match '^550 .*nobody@example\.org' "$r" "gateway A: nobody refused by callout (550)"
assert_connections "$BE_USERS" 2 "gateway A: two callouts to the back-end"
tb_backend_mark
gw B
r=$(reply 127.0.8.1 someone@sender.test user2@example.org)
assert_match '^250 ' "$r" "gateway B: user2 accepted from the shared cache"
r=$(reply 127.0.8.1 someone@sender.test nobody@example.org)
assert_match '^550 .*nobody@example\.org' "$r" "gateway B: nobody refused from the shared cache"
assert_connections "$BE_USERS" 0 "gateway B: zero back-end connections"
assert_no_match 'verify_recipient <user2@example\.org>' "$(log_of B)" \
	"gateway B: a verdict from the (shared) cache, no rcptguard line (log_cached = no)"
assert_status 0 "rcptguardctl cache flush at gateway B" -- ctl B cache flush user2@example.org
tb_backend_mark
gw A
r=$(reply 127.0.8.1 someone@sender.test user2@example.org)
assert_match '^250 ' "$r" "after the flush at B, gateway A: user2 accepted"
assert_connections "$BE_USERS" 1 "after the flush at B, gateway A calls out again"

# ---- every key has the prefix and a TTL
keys=$(rkeys)
assert_no_match '^([^r]|r[^g]|rg[^:])' "$keys" "every key in Redis starts with the prefix rg:"
nottl=0
while IFS= read -r k; do
	[ -z "$k" ] && continue
	t=$(tb_redis_cli main PTTL "$k")
	[ "$t" -gt 0 ] 2>/dev/null || { nottl=$((nottl + 1)); diag "no TTL: $k ($t)"; }
done <<<"$keys"
assert_eq 0 "$nottl" "every key has a TTL ($(wc -l <<<"$keys") keys)"
assert_status 0 "rcptguardctl store check: every key a string with a TTL" -- ctl A store check

# ---- junk and wrong-type values are misses, never a 5xx or a crash
vkey=$(grep -F 'user2@example.org' <<<"$keys" | head -n 1)
gkey=$(grep -F 'alice@sender.test' <<<"$keys" | head -n 1)
assert_ne "" "$vkey" "the verdict key of user2 found in Redis ($vkey)"
tb_redis_cli main SET "$vkey" $'\x01junk\xff future-format 99' EX 600 >/dev/null
tb_backend_mark
gw B
r=$(reply 127.0.8.1 someone@sender.test user2@example.org)
assert_match '^250 ' "$r" "junk verdict value: a miss, answered by callout (250)"
assert_connections "$BE_USERS" 1 "junk verdict value: the back-end was asked"
tb_redis_cli main DEL "$vkey" >/dev/null
tb_redis_cli main RPUSH "$vkey" a b >/dev/null
tb_redis_cli main EXPIRE "$vkey" 600 >/dev/null
r=$(reply 127.0.8.1 someone@sender.test user2@example.org)
assert_match '^250 ' "$r" "wrong-type verdict key (a list): a miss, answered (250)"
tb_redis_cli main DEL "$gkey" >/dev/null
tb_redis_cli main HSET "$gkey" f v >/dev/null
tb_redis_cli main EXPIRE "$gkey" 600 >/dev/null
r=$(reply 127.0.0.5 alice@sender.test user1@example.org)
assert_match '^(250|451) ' "$r" "wrong-type greylist key (a hash): a decision, no 5xx ($r)"
assert_eq "string" "$(tb_redis_cli main TYPE "$gkey")" "the wrong-type greylist key was replaced by a record"
assert_no_match '^5' "$(log_of A; log_of B)" "no 5xx caused by the store in either log"

# ---- 50 sessions on two gateways, one triplet: exactly one "new"
# (a delay longer than the 50 sessions take, even on a loaded machine: all get 451)
GL_DELAY=10m pool_conf "$(tb_redis_uri main)"
mark
for i in $(seq 1 50); do
	g=A; [ $((i % 2)) = 0 ] && g=B
	p=PORT_$g
	timeout 60 swaks --server 127.0.0.1 --port "${!p}" --local-interface 127.0.0.9 --helo client.test \
		--from race@sender.test --to user3@example.org --quit-after RCPT >"$TB/race.$i.out" 2>&1 &
	pids="${pids:-} $!"
done
# shellcheck disable=SC2086
wait $pids
pids=
news=$( (log_of A; log_of B) | grep -c 'greylist \[127\.0\.0\.9\] <race@sender\.test> -> <user3@example\.org> result=defer reason=new')
assert_eq 1 "$news" "50 concurrent first attempts on two gateways: exactly one reason=new"
n451=$(cat "$TB"/race.*.out | grep -c '^<\*\* *451 4\.7\.1')
assert_eq 50 "$n451" "all 50 sessions got 451 4.7.1"
pool_conf "$(tb_redis_uri main)"

# ---- Redis killed under load: no 5xx, local greylisting, back to Redis after the hold-down
mark
gw A
(
	for i in $(seq 1 30); do
		timeout 30 swaks --server 127.0.0.1 --port "$PORT_A" --local-interface 127.0.0.20 --helo client.test \
			--from "load$i@sender.test" --to user1@example.org --quit-after RCPT 2>&1 | grep -E '^<\*\* *[0-9]{3} '
	done
) >"$TB/load.out" &
loadpid=$!
sleep 0.5
tb_redis_kill main
wait "$loadpid"
assert_no_match '^<\*\* *5' "$(cat "$TB/load.out")" "Redis killed during load: no 5xx ($(wc -l <"$TB/load.out") replies)"
assert_match 'store.*redis.*(unreachable|local)' "$(log_of A)" "gateway A logs the fallback to its local store"
# Logged when a hold-down starts: never two lines less than a hold-down apart.
gaps=$(log_of A | grep 'store: shared store .* unreachable' | awk '{ split($2, t, ":"); s = t[1] * 3600 + t[2] * 60 + t[3]
	if (NR > 1 && s - last < '"$HOLD_S"' - 1) bad++; last = s } END { print NR + 0, bad + 0 }')
assert_match '^[1-9][0-9]* 0$' "$gaps" "the fallback is logged once per hold-down, not per RCPT (lines, too close: $gaps)"
r=$(reply 127.0.0.30 fb@sender.test user1@example.org)
assert_eq "451 4.7.1 $GL_MSG" "$r" "Redis down: a new triplet is greylisted on the local store (451)"
sleep 2.2
r=$(reply 127.0.0.30 fb@sender.test user1@example.org)
assert_match '^250 ' "$r" "Redis down: its retry passes on the same gateway (250)"
assert_eq "greylist.mdb rcptguard.mdb" "$(cd "$TB/stateA" && ls -- *.mdb | sort | paste -sd ' ')" "gateway A's local store exists (greylist.mdb beside rcptguard.mdb)"
tb_redis_restart main
assert_eq "0" "$(tb_redis_cli main SCRIPT EXISTS 0000000000000000000000000000000000000000 | head -1)" \
	"Redis is back, empty (no data, no scripts)"
sleep "$HOLD_S"
sleep 0.5
mark
r=$(reply 127.0.0.31 back@sender.test user1@example.org)
assert_eq "451 4.7.1 $GL_MSG" "$r" "after the hold-down: a new triplet greylisted"
assert_match 'back@sender\.test' "$(rkeys)" "after the hold-down: the record is in Redis again"
sleep 2.2
r=$(reply 127.0.0.31 back@sender.test user1@example.org)
assert_match '^250 ' "$r" "restarted Redis (no scripts cached): the retry passes (250)"
assert_status 0 "flush through the restarted server (compare-and-delete script reloaded)" -- \
	ctl B cache flush --all

# ---- Redis frozen (SIGSTOP): a session pays redis_timeout at most once
# The module's own time per decision (ms= in the log) is asserted, not the session's wall
# time (swaks and Exim on a loaded machine).
gw A
mark
tb_redis_pause main
tb_rcpts u1@frozen.test user1@example.org user2@example.org user3@example.org alice@example.org >/dev/null
assert_no_match '	5' "$(cat "$TB/last_rcpts")" "frozen Redis: no 5xx"
ms=$(gl_ms A 127.0.0.1 | tr '\n' ' ')
diag "frozen Redis: ms= of the 5 greylist decisions of one session: $ms(redis_timeout 400ms)"
read -r first rest <<<"$ms"
assert_num "${first:-x}" -ge 350 "frozen Redis: the first decision waited for the server (${first:-none} ms)"
assert_num "${first:-x}" -lt 1500 "frozen Redis: ... once, bounded by redis_timeout (${first:-none} ms)"
slow=$(for m in $rest; do [ "$m" -ge 350 ] && echo "$m"; done | wc -l)
assert_eq "4 0" "$(wc -w <<<"$rest") $slow" "frozen Redis: the 4 other decisions of the session waited no redis_timeout"
r=$(reply 127.0.0.5 alice@sender.test user1@example.org)
assert_match '^451 4\.7\.1' "$r" "frozen Redis: the next session is answered (451, local store)"
ms=$(gl_ms A 127.0.0.5 | tail -n 1)
assert_num "${ms:-x}" -lt 350 "frozen Redis: the next session (another process) saw the hold-down: no wait (${ms:-none} ms)"
tb_redis_resume main
sleep "$HOLD_S"
sleep 0.5

# ---- failover: primary and replica; the primary dies, the replica is promoted
tb_redis_start replica main
pool_conf "$(tb_redis_uri main) $(tb_redis_uri replica)"
mark
gw A
r=$(reply 127.0.0.40 fo@sender.test user1@example.org)
assert_match '^451 ' "$r" "primary + replica: greylisted at A, written to the primary"
tb_redis_cli main WAIT 1 1000 >/dev/null
assert_match 'fo@sender\.test' "$(tb_redis_cli replica --scan --pattern '*')" "the replica holds the record"
out=$(ctl B store status 2>&1)
assert_match '^role +master' "$out" "store status: the server in use is a primary"
assert_match '^where +unix:.*redis-main' "$out" "store status: ... the first URI"
assert_match '^fallback +no' "$out" "store status: not on the local fallback"
tb_redis_kill main
tb_redis_promote replica
sleep 2.2
gw B
r=$(reply 127.0.0.40 fo@sender.test user1@example.org)
assert_match '^250 ' "$r" "after failover: the retry passes at B, from the promoted replica (250)"
assert_no_match 'unreachable' "$(log_of B)" "gateway B followed ROLE to the replica without falling back"
out=$(ctl B store status 2>&1)
assert_match '^where +unix:.*redis-replica' "$out" "store status names the promoted replica as the server in use"
assert_match '^keys +[1-9]' "$out" "store status counts the keys of the prefix"

# ---- store copy to Redis and back
# Gateway A's local store (written while Redis was down) into the pool, read as store = lmdb.
{
	echo "state_dir = $TB/stateA"
	echo "store = lmdb"
	echo "redis_uri = $(tb_redis_uri replica)"
} >"$TB/rgA-local.conf"
chmod 0644 "$TB/rgA-local.conf"
assert_status 0 "store copy --to redis: gateway A's local records into the pool" -- \
	"$RG_CTL" -c "$TB/rgA-local.conf" store copy --to redis
assert_match 'copied [1-9]' "$TB_OUT" "store copy says how many records it copied"
assert_match 'fb@sender\.test' "$(tb_redis_cli replica --scan --pattern '*')" \
	"the triplet greylisted locally while Redis was down is now in Redis"
nottl=$(tb_redis_cli replica --scan --pattern '*' | while read -r k; do tb_redis_cli replica PTTL "$k"; done | grep -c '^-')
assert_eq 0 "$nottl" "every copied key has a TTL"
mkdir -p "$TB/stateC"
assert_status 0 "store copy --to lmdb: the pool's records into a local store" -- \
	ctl B store copy --to lmdb --state-dir "$TB/stateC"
printf '%s\n' "state_dir = $TB/stateC" >"$TB/rgC.conf"
assert_match 'fo@sender\.test' "$("$RG_CTL" -c "$TB/rgC.conf" greylist list 2>&1)" \
	"the local copy holds the pool's greylisting records"
