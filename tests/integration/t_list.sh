#!/usr/bin/env bash
# t_list.sh - static recipient lists in a real Exim, uploaded by a real scp to a loopback
# sshd: the list answers when the callout destination is down; "sources = list" never
# contacts the destination; a file written in place counts after list_settle, one renamed
# into place at once; a writer paused half-way through a line, a truncated file, a
# malformed line and another domain's addresses never replace the list in force; the
# shrink guard holds a list that drops most entries until "rcptguardctl list accept".
# The RCPT never compiles: it answers from the version in force (451 when none) and a
# detached child compiles; the new version is in force a moment later.
. "$(dirname "$0")/../lib/testbed.sh"
. "$(dirname "$0")/../lib/sshd.sh"

LISTS=$TB/lists
mkdir -p "$LISTS"
chmod 0755 "$LISTS"
sshd_start
tb_backend
tb_conf <<EOF
# callout first; its destination is down, so the list answers
[domain example.org]
hosts = 127.0.0.1:$BE_DEAD
sources = callout list
list = $LISTS/example.org.list

# "only accept mail to the mailboxes I defined": the destination is never asked
[domain only.test]
hosts = 127.0.0.1:$BE_USERS
sources = list
list = $LISTS/only.test.list
list_settle = 5s
EOF
tb_front

# upload_renamed LOCAL NAME: scp to NAME.upload, then mv into place over ssh (the way a
# customer's script uploads): counts at once.
upload_renamed() {
	sshd_scp "$1" "$LISTS/$2.upload" && sshd_ssh "mv $LISTS/$2.upload $LISTS/$2"
}
# judged FILE ADDRESS: one RCPT to ADDRESS (answered from the version in force; it starts
# the detached compile), then wait up to 10 s for the front's log (since the last mark)
# to say how FILE was judged. Status 1 when it never says.
judged() {
	local file=$1 addr=$2 i
	tb_rcpt_reply "$addr" >/dev/null
	for i in $(seq 100); do
		tb_front_log | grep -qE "rcptguard: list $file(: new version in force| refused| held)" && return 0
		sleep 0.1
	done
	return 1
}
# flush DOMAIN: forget cached verdicts, so that the list answers again.
flush() { tb_ctl cache flush "$1" >/dev/null; }
# status_state DOMAIN: the file's state from list status --json.
status_state() {
	tb_ctl --json list status "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["file"]["state"])'
}

# ---------------------------------------------------------------- callout down -> list answers

printf '# example.org mailboxes\nalice@example.org\nBob@Example.org\n' >"$TB/ex1"
tb_mark
upload_renamed "$TB/ex1" example.org.list
assert_eq 0 $? "scp (SFTP protocol) upload + ssh mv succeed"
r=$(tb_rcpt_reply alice@example.org)
assert_match '^451 ' "$r" "first RCPT after a new list: no version in force yet, 451 (the compile runs detached)"
assert_log 'detail="list: no valid version of .*example\.org\.list in force yet"' "log: the deferral says no version is in force yet"
for _ in $(seq 100); do tb_front_log | grep -q 'example\.org\.list: new version in force' && break; sleep 0.1; done
tb_rcpts alice@example.org BOB@example.org nobody@example.org >/dev/null
assert_match '^250 ' "$(tb_reply_of alice@example.org)" "callout down: listed alice@example.org gets 250"
assert_match '^250 ' "$(tb_reply_of BOB@example.org)" "callout down: BOB@example.org matches Bob@Example.org (case-insensitive)"
assert_eq "550 <nobody@example.org>: recipient unknown" "$(tb_reply_of nobody@example.org)" \
	"callout down: unlisted address gets 550 recipient unknown"
assert_log 'verify_recipient <alice@example\.org> result=pass source=list ' "log: alice passed by source=list"
assert_log 'verify_recipient <nobody@example\.org> result=fail source=list ' "log: nobody failed by source=list"
assert_log "rcptguard: list $LISTS/example\.org\.list: new version in force, 2 entries" \
	"log: the compiled version came into force (2 entries)"
rec=$(tb_cache_record nobody@example.org)
assert_match '^fail list 1800 ' "$rec" "cache: the list's negative verdict kept with negative_ttl (30m)"

# ---------------------------------------------------------------- exclusive list mode

tb_mark   # the back-end's connection count runs from here to the end
printf 'alice@only.test\nbob@only.test\ndave@only.test\n' >"$TB/only1"
sshd_scp "$TB/only1" "$LISTS/only.test.list"
assert_eq 0 $? "scp upload written in place (no rename)"
assert_eq settling "$(status_state only.test)" "list status: the file is settling"
r=$(tb_rcpt_reply alice@only.test)
assert_match '^451 .*cannot verify recipient now, please try again later' "$r" \
	"written in place just now: not in force before list_settle, and never 5xx (451)"
assert_log 'verify_recipient <alice@only\.test> result=defer reason=tempfail' "log: the settling list deferred (reason=tempfail)"
sleep 6.2   # list_settle (5s), and a second for the whole-second clock
tb_front_mark
judged "$LISTS/only\.test\.list" alice@only.test
assert_eq 0 $? "after list_settle: the first RCPT starts the compile, judged within 10 s"
tb_rcpts alice@only.test dave@only.test ghost@only.test >/dev/null
assert_match '^250 ' "$(tb_reply_of alice@only.test)" "after list_settle: listed alice@only.test 250"
assert_match '^250 ' "$(tb_reply_of dave@only.test)" "after list_settle: listed dave@only.test 250"
assert_match '^550 <ghost@only\.test>: recipient unknown' "$(tb_reply_of ghost@only.test)" "exclusive mode: unlisted 550"
assert_log 'verify_recipient <ghost@only\.test> result=fail source=list ' "log: ghost failed by source=list"

# scp -p (SFTP) sets the file's times after its last write: finished, counts at once.
printf 'alice@only.test\nbob@only.test\ndave@only.test\nerin@only.test\n' >"$TB/only2"
touch -d '2 hours ago' "$TB/only2"
tb_front_mark
sshd_scp -p "$TB/only2" "$LISTS/only.test.list"
flush only.test
judged "$LISTS/only\.test\.list" erin@only.test
assert_eq 0 $? "scp -p in place (times set after the data): compiled at once, without list_settle"
flush only.test
r=$(tb_rcpt_reply erin@only.test)
assert_match '^250 ' "$r" "scp -p in place: erin 250"

# A writer that stops half-way through a line, for longer than lookups take.
python3 - "$LISTS/only.test.list" "$TB/writer" <<'PY' &
import os, sys, time
path, flag = sys.argv[1], sys.argv[2]
with open(path, "w") as f:
    f.write("alice@only.test\nbob@only.test\nerin@only.test\ncar")
    f.flush()
    open(flag + ".paused", "w").close()
    while not os.path.exists(flag + ".go"):
        time.sleep(0.05)
    f.write("ol@only.test\n")
PY
writer=$!
for _ in $(seq 100); do [ -e "$TB/writer.paused" ] && break; sleep 0.05; done
flush only.test
assert_eq settling "$(status_state only.test)" "writer paused mid-line: list status says settling"
tb_rcpts carol@only.test dave@only.test alice@only.test >/dev/null
assert_match '^550 ' "$(tb_reply_of carol@only.test)" "writer paused mid-line: the new line is not in force (carol 550)"
assert_match '^250 ' "$(tb_reply_of dave@only.test)" "writer paused mid-line: the list in force still answers (dave 250)"
touch "$TB/writer.go"
wait "$writer"
sleep 6.2   # list_settle (5s), and a second for the whole-second clock
tb_front_mark
judged "$LISTS/only\.test\.list" ghost@only.test
flush only.test
tb_rcpts carol@only.test dave@only.test >/dev/null
assert_match '^250 ' "$(tb_reply_of carol@only.test)" "writer finished and settled: carol 250"
assert_match '^550 ' "$(tb_reply_of dave@only.test)" "writer finished and settled: dave (dropped) 550"

# A truncated upload (cut mid-line) that settles: refused, the list in force stays.
tb_front_mark
printf 'alice@only.test\nbob@only.test\nerin@only.test\ncarol@only.te' >"$TB/trunc"
sshd_scp "$TB/trunc" "$LISTS/only.test.list"
sleep 6.2   # list_settle (5s), and a second for the whole-second clock
flush only.test
judged "$LISTS/only\.test\.list" carol@only.test
flush only.test
r=$(tb_rcpt_reply carol@only.test)
assert_match '^250 ' "$r" "truncated file: refused, carol still 250 from the version in force"
assert_log "rcptguard: list $LISTS/only\.test\.list refused: $LISTS/only\.test\.list:4: domain only\.te is not configured" \
	"log: truncated file refused, naming file:4"
assert_status 1 "list status exits 1 when a file is refused" -- tb_ctl list status only.test
assert_match "REFUSED since .*only\.test\.list:4: " "$TB_OUT" "list status names the refusal and file:line"
n=$(tb_front_log | grep -c 'only\.test\.list refused')
r=$(tb_rcpt_reply erin@only.test)
assert_eq "$n" "$(tb_front_log | grep -c 'only\.test\.list refused')" "the refusal is logged once per version, not per RCPT"

# A malformed line, renamed into place: refused at once.
tb_front_mark
printf 'alice@only.test\nbob@only.test\nfrank at only.test\n' >"$TB/bad"
upload_renamed "$TB/bad" only.test.list
flush only.test
judged "$LISTS/only\.test\.list" carol@only.test
flush only.test
assert_match '^250 ' "$(tb_rcpt_reply carol@only.test)" "malformed line: refused, the version in force answers"
assert_log "only\.test\.list:3: not an address: " "log: malformed line refused, naming file:3"
assert_eq 0 "$(tb_front_log | grep -c 'frank')" "log: the refused line's text is not echoed"
assert_status 1 "list check on the malformed file exits 1" -- tb_ctl list check "$LISTS/only.test.list"
assert_match "only\.test\.list:3: " "$TB_OUT" "list check prints the problem with file:line"

# A file for another domain.
tb_front_mark
printf 'alice@example.org\nbob@example.org\n' >"$TB/wrong"
upload_renamed "$TB/wrong" only.test.list
flush only.test
judged "$LISTS/only\.test\.list" carol@only.test
flush only.test
assert_match '^250 ' "$(tb_rcpt_reply carol@only.test)" "another domain's file: refused, the version in force answers"
assert_log "only\.test\.list:1: domain example\.org is not configured for this file" \
	"log: another domain's addresses refused, naming file:1"

# The shrink guard: a list that drops 3 of the 4 entries is held until accepted.
tb_front_mark
printf 'alice@only.test\n' >"$TB/small"
upload_renamed "$TB/small" only.test.list
flush only.test
judged "$LISTS/only\.test\.list" carol@only.test
flush only.test
assert_match '^250 ' "$(tb_rcpt_reply carol@only.test)" "list dropping 75%: held, carol (dropped) still 250"
assert_log 'only\.test\.list held: drops 3 of the 4 entries in force' "log: the held list and why"
assert_eq held "$(status_state only.test)" "list status: held"
assert_status 0 "list accept only.test" -- tb_ctl list accept only.test
assert_match 'accepted: 1 entries in force' "$TB_OUT" "list accept says what is now in force"
flush only.test
assert_match '^550 ' "$(tb_rcpt_reply carol@only.test)" "after list accept: carol 550"
assert_match '^250 ' "$(tb_rcpt_reply alice@only.test)" "after list accept: alice 250"
assert_status 0 "list status exits 0 when every list is in force" -- tb_ctl list status
assert_eq 2 "$(grep -c '^  domains : ' <<<"$TB_OUT")" "list status: each list file shown once"
assert_eq in_force "$(status_state only.test)" "list status: in force"

assert_connections "$BE_USERS" 0 "exclusive list mode: no connection ever reached the destination"

# ---------------------------------------------------------------- legacy scp cut short

# legacy scp (scp -O) writes over the old file and truncates it only at its end
sed -n '3,$p' "$TB/rcptguard.conf" >"$TB/conf.body"
tb_conf <<EOF
$(cat "$TB/conf.body")

[domain legacy.test]
hosts = 127.0.0.1:$BE_USERS
sources = list
list = $LISTS/legacy.test.list
list_settle = 1s
list_max_shrink = 0
EOF
# lines PREFIX N END: N addresses PREFIXi@legacy.test, then the end line END.
lines() {
	python3 -c 'import sys; p, n, e = sys.argv[1], int(sys.argv[2]), sys.argv[3]; sys.stdout.write("".join("%s%d@legacy.test\n" % (p, i) for i in range(n)) + e + "\n")' "$@"
}
lines user 20000 "# end 20000" >"$LISTS/legacy-old"
lines member 19000 "# end 19000" >"$LISTS/legacy-new"
TB_OUT=$(tb_ctl list check "$LISTS/legacy-old" 2>&1)
assert_match 'valid, 20000 address\(es\), 20000 entry line\(s\); its end line: # end 20000' "$TB_OUT" \
	"list check prints the counted end line for the file"
tb_front_mark
upload_renamed "$LISTS/legacy-old" legacy.test.list
judged "$LISTS/legacy\\.test\\.list" user1@legacy.test
assert_log "list $LISTS/legacy\\.test\\.list: new version in force, 20000 entries" "legacy.test: 20,000 entries ending '# end 20000' in force"
# The legacy protocol's sink (scp -t, what scp -O runs on the server) gets the header and
# 100,000 of the new file's bytes, then the connection drops: it exits before its ftruncate.
{
	printf 'C0644 %d legacy.test.list\n' "$(stat -c %s "$LISTS/legacy-new")"
	head -c 100000 "$LISTS/legacy-new"
} | scp -t "$LISTS/legacy.test.list" >/dev/null 2>&1
size=$(stat -c %s "$LISTS/legacy.test.list")
assert_eq "$(stat -c %s "$LISTS/legacy-old")" "$size" "the cut scp -O left a file of the old size (new bytes over the old, not truncated)"
assert_eq "# end 20000" "$(tail -n 1 "$LISTS/legacy.test.list")" "...that still ends with the old file's '# end 20000'"
assert_match '^member0@legacy\.test$' "$(head -n 1 "$LISTS/legacy.test.list")" "...and starts with the new content"
sleep 2.2   # list_settle (1s), and a second for the whole-second clock
tb_front_mark
flush legacy.test
judged "$LISTS/legacy\\.test\\.list" user1@legacy.test
assert_log "list $LISTS/legacy\\.test\\.list refused: $LISTS/legacy\\.test\\.list:[0-9]+: the end line says 20000 entries, the file has [0-9]+: an incomplete upload\\?" \
	"the cut copy is refused: its entry count differs from its (old) end line, named with file:line"
flush legacy.test
assert_match '^250 ' "$(tb_rcpt_reply user0@legacy.test)" "the old version stays in force (user0 250)"
assert_match '^550 ' "$(tb_rcpt_reply member0@legacy.test)" "the cut copy is not in force (member0 550)"
TB_OUT=$(tb_ctl list status legacy.test 2>&1)
assert_match 'REFUSED since .*the end line says 20000 entries' "$TB_OUT" "list status: refused, and why"
# The same upload, whole: scp -O truncates at its end; in force.
sshd_scp -O "$LISTS/legacy-new" "$LISTS/legacy.test.list"
assert_eq 0 $? "a whole scp -O upload succeeds"
sleep 2.2
tb_front_mark
flush legacy.test
judged "$LISTS/legacy\\.test\\.list" user1@legacy.test
assert_log "list $LISTS/legacy\\.test\\.list: new version in force, 19000 entries" "the whole scp -O upload (# end 19000) goes into force"
flush legacy.test
assert_match '^250 ' "$(tb_rcpt_reply member18999@legacy.test)" "after it: member18999 250"
assert_match '^550 ' "$(tb_rcpt_reply user0@legacy.test)" "after it: user0 550"

# Files made by root in the state dir belong to Exim's user (it must replace them).
bad_owner=$(find "$TB/state/lists" ! -user "$TB_EXIM_USER" | head -n 3)
assert_eq "" "$bad_owner" "every file under state_dir/lists belongs to $TB_EXIM_USER"
