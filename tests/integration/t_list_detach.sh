#!/usr/bin/env bash
# t_list_detach.sh - the detached list compile an Exim RCPT starts (issue 13, defect 3),
# seen from outside as an operator would: it holds the list's lock and no socket or pipe
# of Exim's, runs in its own session, is killed by SIGTERM (Exim's own SIGTERM handler
# only sets a flag for the SMTP dialogue: a compile inheriting it would ignore a stop),
# and a killed compile leaves nothing stuck: the next session compiles the version again.
. "$(dirname "$0")/../lib/testbed.sh"

LISTS=$TB/lists
mkdir -p "$LISTS"
chmod 0755 "$LISTS"
tb_conf <<EOF
sources = list
total_timeout = 5s
list_settle = 1s

[domain big.test]
list = $LISTS/big.list
EOF
tb_front

# lines PREFIX DOMAIN N: N addresses PREFIX0@DOMAIN ... on stdout.
lines() {
	python3 -c 'import sys; p, d, n = sys.argv[1], sys.argv[2], int(sys.argv[3]); sys.stdout.write("".join("%s%d@%s\n" % (p, i, d) for i in range(n)))' "$@"
}
# in_force N: wait up to 120 s for the log to say a version of N entries came into force.
in_force() {
	local i
	for ((i = 0; i < 1200; i++)); do
		tb_front_log | grep -q "rcptguard: list $LISTS/big\\.list: new version in force, $1 entries" && return 0
		sleep 0.1
	done
	return 1
}
# holder: the pids holding the list's lock file open.
holder() {
	fuser "$TB"/state/lists/*.lock 2>/dev/null | tr -s ' ' '\n' | grep -E '^[0-9]+$'
}

echo "first@big.test" >"$LISTS/big.list.new"
mv "$LISTS/big.list.new" "$LISTS/big.list"
tb_front_mark
tb_rcpt_reply first@big.test >/dev/null
in_force 1
assert_eq 0 $? "the small first version came into force"

{ echo "first@big.test"; lines user big.test 3000000; } >"$LISTS/big.list.new"
mv "$LISTS/big.list.new" "$LISTS/big.list"
tb_front_mark
R=$(tb_rcpt_reply user2999999@big.test)
assert_match '^550 .*recipient unknown' "$R" "the RCPT answers from the version in force (550), the compile left to a child"
pid=""
for ((i = 0; i < 200; i++)); do
	pid=$(holder | head -n 1)
	[ -n "$pid" ] && break
	sleep 0.05
done
assert_match '^[0-9]+$' "$pid" "a detached compile holds the list's lock (pid ${pid:-none})" ||
	tb_front_log | grep rcptguard | tail -n 5 | sed 's/^/# /'
pid=${pid:-0}
kill -STOP "$pid" 2>/dev/null
assert_eq "" "$(ls -l /proc/$pid/fd 2>/dev/null | grep -E 'socket:|pipe:')" "the compile holds no socket or pipe (Exim's SMTP connection closed)"
read -r _ _ _ sid _ < <(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null)
front_sid=$(ps -o sid= -p "$FRONT_PID" 2>/dev/null | tr -d ' ')
assert_match '^[0-9]+$' "${sid:-}" "the compile's session is readable"
[ "${sid:-x}" != "${front_sid:-y}" ]
assert_eq 0 $? "the compile runs in a session of its own (sid $sid, the daemon's ${front_sid:-?})"
kill -TERM "$pid"
kill -CONT "$pid"
for ((i = 0; i < 30; i++)); do
	[ -d "/proc/$pid" ] && [ "$(sed 's/^.*) //' "/proc/$pid/stat" | cut -d ' ' -f 1)" != Z ] || break
	sleep 0.1
done
assert_eq "" "$(holder)" "SIGTERM ends the detached compile at once: nothing holds the lock"
sleep 1
assert_no_log "list $LISTS/big\\.list: new version in force, 3000001 entries" "the killed compile put nothing in force"
# The next session finds the version still pending and compiles it.
tb_front_mark
tb_rcpt_reply first@big.test >/dev/null
in_force 3000001
assert_eq 0 $? "the next session compiled the version again: 3,000,001 entries in force"
tb_ctl cache flush big.test >/dev/null
assert_match '^250 ' "$(tb_rcpt_reply user2999999@big.test)" "after it: user2999999@big.test 250"
