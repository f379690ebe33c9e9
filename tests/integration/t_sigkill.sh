#!/usr/bin/env bash
# t_sigkill.sh - Exim session processes killed (SIGKILL) while they verify and write the
# store (a few hundred of them): afterwards the LMDB file is intact (mdb_stat), its size
# stays bounded, and checks still work. Then, deterministically, a reader killed in the
# middle of a read while another process keeps the file open: the next open of the store
# (by rcptguardctl, by an Exim session) clears its slot, so that it does not pin old pages
# (and grow the file) for ever.
. "$(dirname "$0")/../lib/testbed.sh"

STORE_FILE=${RG_STORE_FILE:-rcptguard.mdb}
KILLS_MIN=${RG_SIGKILL_KILLS:-200}
MAX_BYTES=$((16 * 1024 * 1024))

tb_backend
tb_smtpsim drip || not ok "smtpsim --mode drip started"
drip=${SIM_PORT:-$BE_DEAD}
tb_conf <<EOF
negative_ttl = 1s
positive_ttl = 1s
connect_timeout = 1s
command_timeout = 2s
total_timeout = 3s
$(tb_std_domains)
[domain slow.test]
hosts = 127.0.0.1:$drip
EOF
tb_front

# load_and_kill TARGET SECONDS: SMTP load on the front while session processes are killed
# (SIGKILL, about half of those alive at each moment) until TARGET kills or SECONDS.
# Sessions have 5 recipients each, most of them new, so that each writes verdicts (short
# lifetimes keep the writes coming); a share goes to a slow destination, so that some
# sessions are killed in the middle of a callout. Sets KILLS, prints the load's figures.
load_and_kill() {
	local target=$1 secs=$2 end l1= l2= pid
	end=$(( $(date +%s) + secs ))
	KILLS=0
	while [ "$KILLS" -lt "$target" ] && [ "$(date +%s)" -lt "$end" ]; do
		if [ -z "$l1" ] || ! kill -0 "$l1" 2>/dev/null; then
			[ -n "$l1" ] && wait "$l1" && echo "# load: $(cat "$TB/load1.out")"
			python3 "$TB_REPO/tests/lib/smtpload.py" --port "$FRONT_PORT" --sessions 150 \
				--concurrency 16 --rcpts 5 --domain example.org --timeout 10 >"$TB/load1.out" 2>&1 &
			l1=$!
		fi
		if [ -z "$l2" ] || ! kill -0 "$l2" 2>/dev/null; then
			[ -n "$l2" ] && wait "$l2"
			python3 "$TB_REPO/tests/lib/smtpload.py" --port "$FRONT_PORT" --sessions 8 \
				--concurrency 4 --rcpts 2 --domain slow.test --timeout 10 >"$TB/load2.out" 2>&1 &
			l2=$!
		fi
		sleep "0.0$((RANDOM % 9 + 1))"
		for pid in $(tb_front_children); do
			if [ $((RANDOM % 2)) = 0 ] && kill -KILL "$pid" 2>/dev/null; then
				KILLS=$((KILLS + 1))
			fi
		done
	done
	wait "$l1" && echo "# load: $(cat "$TB/load1.out")"
	wait "$l2" && echo "# slow load: $(cat "$TB/load2.out")"
}

load_and_kill "$KILLS_MIN" 60
assert_num "$KILLS" -ge "$KILLS_MIN" "$KILLS session processes killed mid-session (want $KILLS_MIN within 60 s)"
n=$(grep -c 'verify_recipient' "$FRONT_LOG")
assert_num "$n" -ge 100 "verdicts were given between the kills ($n)"

# Give the killed sessions' leftovers a moment (the daemon reaps its children).
sleep 0.5
f=$TB/state/$STORE_FILE
assert_status 0 "mdb_stat reads the store after the kills" -- mdb_stat -n "$f"
assert_status 0 "mdb_stat -e (environment) reads the store after the kills" -- mdb_stat -n -e "$f"
size=$(stat -c %s "$f" 2>/dev/null || echo 0)
assert_num "$size" -lt "$MAX_BYTES" "store file size bounded: $size bytes < 16 MiB"

# More load and kills must not make the file grow without bound.
load_and_kill 100 30
size2=$(stat -c %s "$f" 2>/dev/null || echo 0)
assert_num "$size2" -lt "$MAX_BYTES" "store file still bounded after $KILLS more kills: $size2 bytes"
readers=$(mdb_stat -n -r "$f" 2>/dev/null | awk 'p && NF >= 3 { n++ } /pid/ { p = 1 } END { print n + 0 }')
echo "# reader slots in use after the kills: $readers"

# ---- a reader killed in the middle of a read while other processes keep the file open:
# its slot pins the snapshot (the file would grow for ever) until an open clears it.
# tests/lib/lmdb_pin.c plays both parts: "hold" keeps the file open (so that no opener can
# reset the reader table), "pin" begins a read and is killed.
if command -v cc >/dev/null && cc -o "$TB/lmdb_pin" "$TB_REPO/tests/lib/lmdb_pin.c" -llmdb 2>"$TB/cc.err"; then
	"$TB/lmdb_pin" "$f" hold >"$TB/hold.out" 2>&1 &
	hold=$!
	tb_track "$hold"
	for via in rcptguardctl exim; do
		"$TB/lmdb_pin" "$f" pin >"$TB/pin.out" 2>&1 &
		pin=$!
		for i in $(seq 1 50); do
			grep -q '^pinned' "$TB/pin.out" && break
			sleep 0.1
		done
		kill -KILL "$pin"
		wait "$pin" 2>/dev/null
		assert_match "^ *$pin " "$(mdb_stat -n -r "$f" 2>&1)" "$via: (set-up) the killed reader $pin still holds a slot"
		if [ $via = rcptguardctl ]; then
			tb_ctl check user3@example.org >/dev/null 2>&1
		else
			tb_rcpt_reply alice@example.org >/dev/null
		fi
		assert_no_match "^ *$pin " "$(mdb_stat -n -r "$f" 2>&1)" "$via: the next open of the store cleared the killed reader's slot"
	done
	tb_stop "$hold"
else
	skip "killed reader's slot cleared" "cannot compile tests/lib/lmdb_pin.c: $(head -c 200 "$TB/cc.err")"
fi

# Normal service afterwards.
tb_mark
tb_rcpts user1@example.org nobody@example.org >/dev/null
assert_match '^250 ' "$(tb_reply_of user1@example.org)" "after the kills: known user 250"
assert_match '^550 .*recipient unknown' "$(tb_reply_of nobody@example.org)" "after the kills: unknown user 550"
assert_log 'verify_recipient <user1@example\.org> result=pass' "after the kills: verdict logged"
assert_no_log 'rcptguard: store unavailable' "after the kills: the store opens normally"
out=$(tb_ctl check user2@example.org 2>&1)
assert_match '^result=pass source=(callout|cache)' "$out" "after the kills: rcptguardctl check works"
n=$(tb_cache_count)
assert_num "$n" -ge 1 "after the kills: cache list reads the store ($n records)"
assert_status 0 "mdb_stat reads the store at the end" -- mdb_stat -n "$f"
