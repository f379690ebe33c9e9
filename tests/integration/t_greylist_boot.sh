#!/usr/bin/env bash
# t_greylist_boot.sh - greylist records live in their own LMDB file (greylist.mdb), written
# without fsync; a greylist.mdb left with unsynced commits by an earlier boot (its boot stamp
# names another kernel boot id: the system went down before a sync) is set aside with one
# main-log line by the first Exim process that greylists, verdicts in rcptguard.mdb survive,
# and greylisting goes on in a fresh file. The last process to close greylist.mdb syncs it
# (one that closes while another uses it does not). The CLI (store status, check, greylist
# list) covers both files.
. "$(dirname "$0")/../lib/testbed.sh"

GL_MSG='Greylisting in action, please come back in a few minutes'
tb_backend
tb_conf <<EOF2
greylist_delay = 2s
greylist_awl_after = 0
$(tb_std_domains)
EOF2
TB_FRONT_RCPT_SNIPPET=$TB_SNIPPETS/rcptguard-greylist.conf
tb_front "hostlist relay_from_hosts =
RCPTGUARD_GREYLIST_HOSTNAME =="
ST=$TB/state
BOOT=$(cat /proc/sys/kernel/random/boot_id)

reply() {
	tb_rcpt_reply "$3" --local-interface "$1" --from "$2"
}

# ---- a verdict (the CLI asks the back-end) and a triplet that passes
assert_status 0 "a verdict learned by callout (rcptguardctl check)" -- tb_ctl check user1@example.org
assert_match '^pass callout ' "$(tb_cache_record user1@example.org)" "the verdict is in the cache"
# held IP FROM TO: an SMTP session that stays open after its RCPT (its Exim process keeps
# greylist.mdb open) until $TB/release exists; its RCPT reply goes to $TB/held.out.
held() {
	rm -f "$TB/release"
	timeout 60 python3 - "$FRONT_PORT" "$@" "$TB/release" >"$TB/held.out" 2>&1 <<'PY' &
import os, socket, sys, time
port, ip, frm, to, release = sys.argv[1:6]
s = socket.create_connection(("127.0.0.1", int(port)), source_address=(ip, 0))
f = s.makefile("rb")
def reply():
    lines = []
    while True:
        l = f.readline().decode("ascii", "replace").rstrip("\r\n")
        lines.append(l)
        if len(l) < 4 or l[3] != "-":
            return " ".join(lines)
reply()
for cmd in ("EHLO client.test", "MAIL FROM:<%s>" % frm):
    s.sendall((cmd + "\r\n").encode()); reply()
s.sendall(("RCPT TO:<%s>\r\n" % to).encode())
print(reply(), flush=True)
while not os.path.exists(release):
    time.sleep(0.05)
s.sendall(b"QUIT\r\n"); reply()
PY
	HELD_PID=$!
	for _ in $(seq 1 200); do [ -s "$TB/held.out" ] && break; sleep 0.05; done
}

# Another session keeps greylist.mdb open: a session that ends meanwhile leaves it unsynced.
held 127.0.0.9 carol@sender.test user1@example.org
assert_match '^451 4\.7\.1' "$(cat "$TB/held.out")" "a session held open after its RCPT (451: greylisted)"
r=$(reply 127.0.0.5 alice@sender.test user1@example.org)
assert_eq "451 4.7.1 $GL_MSG" "$r" "first attempt of the triplet: 451 4.7.1"
assert_eq "dirty $BOOT" "$(cat "$ST/greylist.mdb-boot")" \
	"a session ended while another uses greylist.mdb: its stamp says unsynced commits of this boot"
touch "$TB/release"
wait "$HELD_PID"
assert_eq "synced" "$(cat "$ST/greylist.mdb-boot")" \
	"the last session to close greylist.mdb synced it and stamped it \"synced\""
assert_eq "$TB_EXIM_USER $TB_EXIM_USER" "$(stat -c '%U %G' "$ST/greylist.mdb" "$ST/greylist.mdb-boot" | sort -u)" \
	"greylist.mdb and its stamp belong to Exim's user"
sleep 2.2
r=$(reply 127.0.0.5 alice@sender.test user1@example.org)
assert_match '^250 ' "$r" "retry after the delay: 250"
assert_status 0 "store status" -- tb_ctl store status
assert_match 'greylist\.mdb \(no fsync per commit\)' "$TB_OUT" "store status: describes greylist.mdb beside the verdicts"
assert_status 0 "store check: both files sound" -- tb_ctl store check
assert_eq "synced" "$(cat "$ST/greylist.mdb-boot")" "after the CLI: greylist.mdb synced"
assert_eq "$TB_EXIM_USER" "$(stat -c %U "$ST/greylist.mdb-boot")" "the stamp still belongs to Exim's user"
r=$(reply 127.0.0.5 alice@sender.test user1@example.org)
assert_match '^250 ' "$r" "a synced greylist.mdb is kept: the known triplet passes"

# ---- an earlier boot went down with unsynced commits
printf 'dirty 00000000-1111-2222-3333-444444444444\n' >"$ST/greylist.mdb-boot"
chown "$TB_EXIM_USER:$TB_EXIM_USER" "$ST/greylist.mdb-boot"
tb_mark
r=$(reply 127.0.0.5 alice@sender.test user1@example.org)
assert_eq "451 4.7.1 $GL_MSG" "$r" "after the earlier boot's crash: the triplet is new again (451: one more delay)"
assert_log "rcptguard: store .*/greylist\.mdb held unsynced commits when the system went down, boot 00000000-1111-2222-3333-444444444444: it may be torn, set aside as .*/greylist\.mdb\.unsynced-[0-9]+ and recreated" \
	"main log: greylist.mdb set aside, naming the earlier boot and the file it became"
assert_eq 1 "$(ls "$ST" | grep -c '^greylist\.mdb\.unsynced-')" "greylist.mdb.unsynced-TIME exists, once"
r=$(reply 127.0.0.6 bob@sender.test user1@example.org)
assert_match '^451 4\.7\.1' "$r" "greylisting goes on: another new triplet 451"
assert_eq 1 "$(tb_front_log | grep -c 'held unsynced commits')" "one log line for the set-aside, not one per session"
assert_match '^pass callout ' "$(tb_cache_record user1@example.org)" "the verdict survived in rcptguard.mdb"
assert_status 0 "greylist list (CLI) reads the fresh greylist.mdb" -- tb_ctl --json greylist list
assert_eq 2 "$(python3 -c 'import json,sys; print(len([r for r in json.load(sys.stdin) if r["type"] == "triplet"]))' <<<"$TB_OUT")" \
	"greylist list: the two triplets written since"
