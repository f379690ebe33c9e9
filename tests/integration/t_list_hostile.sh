#!/usr/bin/env bash
# t_list_hostile.sh - list files that are not what they claim, in a real Exim (issue 13,
# defects 1, 3, 5, 6): a FIFO, a link to /dev/zero, a 12 GB sparse file and a file of too
# many lines are refused at once (451 from the RCPT, never a hang, the reason in the log
# and in list status); a big list is compiled outside the RCPT (which answers from the
# version in force) and comes into force shortly after; with list_end_marker = yes an
# upload cut at a line boundary stays out of force; a root rcptguardctl reads a list as
# Exim's user, so a link to a root-only file is never read nor echoed.
. "$(dirname "$0")/../lib/testbed.sh"

LISTS=$TB/lists
mkdir -p "$LISTS"
chmod 0755 "$LISTS"
tb_conf <<EOF
sources = list
total_timeout = 5s
list_settle = 1s

[domain fifo.test]
list = $LISTS/fifo.list
[domain zero.test]
list = $LISTS/zero.list
[domain sparse.test]
list = $LISTS/sparse.list
[domain lines.test]
list = $LISTS/lines.list
list_max_lines = 1000
[domain big.test]
list = $LISTS/big.list
[domain end.test]
list = $LISTS/end.list
list_end_marker = yes
list_settle = 2s
[domain noend.test]
list = $LISTS/noend.list
list_settle = 2s
[domain shadow.test]
list = $LISTS/shadow.list
EOF
tb_front

# judged FILE: wait up to SECONDS (default 10) for the front's log (since the last mark)
# to say how FILE was judged. Status 1 when it never says.
judged() {
	local file=$1 n=$((${2:-10} * 10)) i
	for ((i = 0; i < n; i++)); do
		tb_front_log | grep -qE "rcptguard: list $file(: new version in force| refused| held)" && return 0
		sleep 0.1
	done
	return 1
}
# lines PREFIX DOMAIN N: N addresses PREFIX0@DOMAIN ... on stdout.
lines() {
	python3 -c 'import sys; p, d, n = sys.argv[1], sys.argv[2], int(sys.argv[3]); sys.stdout.write("".join("%s%d@%s\n" % (p, i, d) for i in range(n)))' "$@"
}

# ---------------------------------------------------------------- defect 1: not a list

mkfifo "$LISTS/fifo.list"
ln -s /dev/zero "$LISTS/zero.list"
truncate -s 12G "$LISTS/sparse.list"
lines u lines.test 2000 >"$LISTS/lines.list"
sleep 2.2   # list_settle (1s), and a second for the whole-second clock
tb_front_mark
for d in fifo zero sparse lines; do
	R=$(tb_rcpt_reply "a@$d.test")
	assert_match '^451 .*cannot verify recipient now' "$R" "$d: the RCPT gets 451, never a 5xx"
	ms=$(tb_log_ms "a@$d.test")
	assert_num "${ms:-99999}" -lt 3000 "$d: the RCPT is answered at once (${ms:-?} ms in Exim), not held by the file"
	judged "$LISTS/$d\\.list"
	assert_eq 0 $? "$d: judged by the detached compile within 10 s"
done
assert_log "list $LISTS/fifo\\.list refused: $LISTS/fifo\\.list: not a regular file" "log: the FIFO is refused as not a regular file"
assert_log "list $LISTS/zero\\.list refused: $LISTS/zero\\.list: not a regular file" "log: the link to /dev/zero is refused as not a regular file"
tb_front_mark
for d in fifo zero sparse lines; do tb_rcpt_reply "b@$d.test" >/dev/null; done
assert_log 'verify_recipient <b@fifo\.test> result=defer .*the only version is refused: .*fifo\.list: not a regular file' \
	"log: the next RCPT's deferral says why (refused, not a regular file)"
assert_no_log 'rcptguard: list .* refused' "each refusal is judged once, not again at every RCPT"
assert_status 1 "list status: a FIFO list needs care (exit 1), and returns" -- timeout 20 "$RG_CTL" -c "$TB/rcptguard.conf" list status fifo.test
assert_match "REFUSED since .*fifo\\.list: not a regular file" "$TB_OUT" "list status: the FIFO refused, named"
assert_status 1 "list status zero.test (a link to /dev/zero) returns" -- timeout 20 "$RG_CTL" -c "$TB/rcptguard.conf" list status zero.test
assert_match "REFUSED since .*zero\\.list: not a regular file" "$TB_OUT" "list status: the /dev/zero link refused, named"
assert_status 1 "list status sparse.test (12 GB) returns" -- timeout 20 "$RG_CTL" -c "$TB/rcptguard.conf" list status sparse.test
assert_match "REFUSED since .*sparse\\.list: larger than list_max_size = 256 MiB" "$TB_OUT" "list status: the 12 GB file refused by list_max_size"
assert_status 1 "list status lines.test returns" -- timeout 20 "$RG_CTL" -c "$TB/rcptguard.conf" list status lines.test
assert_match "REFUSED since .*lines\\.list:0: more than list_max_lines = 1000 lines" "$TB_OUT" "list status: 2,000 lines refused by list_max_lines = 1000"
assert_status 1 "list check of the FIFO returns at once (exit 1)" -- timeout 20 "$RG_CTL" -c "$TB/rcptguard.conf" list check "$LISTS/fifo.list"
assert_match "not a regular file" "$TB_OUT" "list check names the FIFO as not a regular file"
sleep 0.5
assert_eq "" "$(pgrep -f "$LISTS/fifo" ; for p in /proc/[0-9]*; do ls -l "$p/fd" 2>/dev/null | grep -q "$LISTS/fifo.list" && echo "${p#/proc/}"; done)" \
	"no process is left holding the FIFO"

# ---------------------------------------------------------------- defect 3: big list off the RCPT

echo "first@big.test" >"$LISTS/big.list.new"
mv "$LISTS/big.list.new" "$LISTS/big.list"
tb_front_mark
tb_rcpt_reply first@big.test >/dev/null
judged "$LISTS/big\\.list"
assert_match '^250 ' "$(tb_rcpt_reply first@big.test)" "big.test: the small first version in force"
{ echo "first@big.test"; lines user big.test 1000000; } >"$LISTS/big.list.new"
mv "$LISTS/big.list.new" "$LISTS/big.list"
tb_front_mark
R=$(tb_rcpt_reply user999999@big.test)
assert_match '^550 ' "$R" "a 1,000,000-line version just renamed in: the RCPT answers from the version in force (550)"
ms=$(tb_log_ms user999999@big.test)
assert_num "${ms:-99999}" -lt 3000 "log: that verdict took ${ms:-?} ms inside Exim, far below total_timeout (no compile in the RCPT)"
judged "$LISTS/big\\.list" 120
assert_log "list $LISTS/big\\.list: new version in force, 1000001 entries" "the big version came into force after the RCPT, compiled by a detached child"
tb_ctl cache flush big.test >/dev/null
assert_match '^250 ' "$(tb_rcpt_reply user999999@big.test)" "after it: user999999@big.test 250"

# ---------------------------------------------------------------- defect 6: cut at a line boundary

for d in end noend; do
	{ lines user $d.test 1000; echo "# end"; } >"$LISTS/$d.list.new"
	mv "$LISTS/$d.list.new" "$LISTS/$d.list"
	tb_front_mark
	tb_rcpt_reply user999@$d.test >/dev/null
	judged "$LISTS/$d\\.list"
	tb_ctl cache flush $d.test >/dev/null
	assert_match '^250 ' "$(tb_rcpt_reply user999@$d.test)" "$d.test: 1,000 lines and '# end' in force (user999 250)"
	# 600 of the 1,000 lines written in place, then the upload dies: left for list_settle.
	lines user $d.test 600 >"$LISTS/$d.list"
done
sleep 3.2   # list_settle (2s), and a second for the whole-second clock
tb_front_mark
for d in end noend; do
	tb_ctl cache flush $d.test >/dev/null
	tb_rcpt_reply user1@$d.test >/dev/null
done
judged "$LISTS/end\\.list"
judged "$LISTS/noend\\.list"
tb_ctl cache flush end.test >/dev/null
tb_ctl cache flush noend.test >/dev/null
assert_match '^550 ' "$(tb_rcpt_reply user999@noend.test)" \
	"list_end_marker = no: the cut upload went into force (user999 550: what the key is for)"
assert_match '^250 ' "$(tb_rcpt_reply user999@end.test)" "list_end_marker = yes: the cut upload is not in force (user999 still 250)"
assert_log "list $LISTS/end\\.list refused: $LISTS/end\\.list:0: no \"# end\" line at the end" "log: refused for its missing '# end' line"
assert_status 1 "list status end.test needs care" -- tb_ctl list status end.test
assert_match "REFUSED since .*end\\.list:0: no \"# end\" line at the end \\(list_end_marker = yes\\)" "$TB_OUT" \
	"list status: refused for its missing '# end' line"
# The upload completes (its last line arrives), and settles: now it may go into force.
echo "# end" >>"$LISTS/end.list"
sleep 3.2
tb_front_mark
tb_rcpt_reply user1@end.test >/dev/null
judged "$LISTS/end\\.list"
assert_log "list $LISTS/end\\.list: new version in force, 600 entries" "the completed upload (with '# end') goes into force"

# ---------------------------------------------------------------- defect 5: root never reads for a customer

printf 'x@secrethash-4f2a.example\nroot:$y$j9T$SECRETHASH:19000:0:99999:7:::\n' >"$TB/secret"
chown root:root "$TB/secret"
chmod 0600 "$TB/secret"
ln -s "$TB/secret" "$LISTS/shadow.list"
out=$(tb_ctl check x@shadow.test 2>&1)
assert_match 'result=defer' "$out" "root's rcptguardctl check x@shadow.test defers"
# (check went through the chain, which leaves the compile to a detached child: let it end)
for _ in $(seq 20); do tb_ctl list status shadow.test 2>&1 | grep -q 'being compiled' || break; sleep 0.5; done
assert_status 1 "root's rcptguardctl list status shadow.test: needs care" -- tb_ctl list status shadow.test
out="$out $TB_OUT"
assert_match "NOT COMPILED .*shadow\\.list: Permission denied" "$TB_OUT" "list status: read as Exim's user, the root-only file gives Permission denied"
tb_ctl list check "$LISTS/shadow.list" >"$TB/check.out" 2>&1
out="$out $(cat "$TB/check.out")"
tb_front_mark
assert_match '^451 ' "$(tb_rcpt_reply x@shadow.test)" "the RCPT to shadow.test gets 451"
sleep 1
assert_no_match 'secrethash|SECRETHASH' "$out" "nothing of the root-only file in rcptguardctl's output"
assert_eq "" "$(grep -rlE 'secrethash|SECRETHASH' "$TB/state" 2>/dev/null)" "nothing of it under state_dir (.state, indexes)"
assert_no_log 'secrethash|SECRETHASH' "nothing of it in the front's log"
assert_eq "" "$(find "$TB/state/lists" ! -user "$TB_EXIM_USER" | head -n 3)" "every file under state_dir/lists belongs to $TB_EXIM_USER"

# ---------------------------------------------------------------- a file no domain names

# Root's "list check FILE" of a file no domain names reads it as its directory's owner
# (here nobody), never through a link, and echoes nothing of a refused file.
mkdir -p "$LISTS/cust"
chown nobody: "$LISTS/cust"
printf 'x@secrethash-4f2a.example\n' >"$LISTS/cust/rootonly.list"
chmod 0600 "$LISTS/cust/rootonly.list"
assert_status 2 "root's list check of a root-only file in nobody's directory: unreadable (exit 2)" -- \
	tb_ctl list check "$LISTS/cust/rootonly.list"
assert_match 'rootonly\.list: Permission denied' "$TB_OUT" "...Permission denied, as its directory's owner would get"
assert_no_match 'secrethash' "$TB_OUT" "...and nothing of its content"
cp -p "$TB/secret" "$TB/secret2"   # root-only, and no domain's list
ln -s "$TB/secret2" "$LISTS/cust/link.list"
assert_status 1 "root's list check of a symlink (to a root-only file): refused (exit 1)" -- \
	tb_ctl list check "$LISTS/cust/link.list"
assert_match 'a symbolic link' "$TB_OUT" "...named as a symbolic link"
assert_no_match 'secrethash|SECRETHASH' "$TB_OUT" "...and nothing of its target"
printf 'a@cust.example\n# end 1\n' >"$LISTS/cust/plain.list"
chown nobody: "$LISTS/cust/plain.list"
chmod 0600 "$LISTS/cust/plain.list"
assert_status 0 "root's list check of nobody's own file: valid (exit 0)" -- tb_ctl list check "$LISTS/cust/plain.list"
assert_match 'valid, 1 address\(es\), 1 entry line\(s\); its end line: # end 1' "$TB_OUT" "...with its end line"
