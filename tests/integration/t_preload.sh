#!/usr/bin/env bash
# t_preload.sh - the preload path in a real Exim daemon (acl-snippets/rcptguard-main.conf):
# Exim's daemon expands smtp_accept_max_per_host before it forks each SMTP process, and
# rcptguard's "preload" there loads the module and reads rcptguard.conf once, in the daemon.
# Checked here, with the daemon's debug output (-d-all+local_scan: rcptguard's own lines):
#   - the module's constructor and the config read run once, in the daemon, not in the
#     connection processes, while those processes give verdicts;
#   - the daemon holds nothing that is not fork-safe (no store file, no descriptor left open);
#   - an operator's own smtp_accept_max_per_host (RCPTGUARD_MAX_PER_HOST, here an expansion:
#     1 for 127.0.0.9 only) still applies: a second concurrent connection from 127.0.0.9
#     gets 421, another host does not;
#   - a config change is picked up by the next connection, without restarting Exim (read
#     again once, in the daemon);
#   - verdicts from the cache have no main-log line at the default log_cached = no (only in
#     the debug output), and one with log_cached = yes.
. "$(dirname "$0")/../lib/testbed.sh"

tb_backend
tb_conf <<EOF
$(tb_std_domains)
EOF
tb_front
# The same config, started again with rcptguard's debug lines and the operator's limit.
tb_front_stop
dir=$(dirname "$FRONT_CONF")
: >"$dir/daemon.out"
_tb_exim_start "$FRONT_CONF" "$dir" "front Exim (debug)" "$FRONT_PORT" -d-all+local_scan \
	'-DRCPTGUARD_MAX_PER_HOST=${if eq{$sender_host_address}{127.0.0.9}{1}{}}'
FRONT_PID=$TB_LAST_PID
DBG=$dir/daemon.out

assert_no_match 'rcptguard: module loaded' "$(cat "$DBG")" "before any connection the daemon has not loaded the module"
FDS_BEFORE=$(ls "/proc/$FRONT_PID/fd" | wc -l)

# ---- five sessions: verdicts from five processes, one load and one config read
tb_mark
for u in user1 user2 user1 user2 user1; do
	r=$(tb_rcpt_reply "$u@example.org")
	[[ "$r" == 250* ]] || { not ok "session for $u@example.org got 250"; diag "$r"; }
done
n=$(tb_front_log | grep -c 'rcptguard: verify_recipient <user[12]@example\.org> result=pass source=callout')
assert_eq 2 "$n" "five sessions: two verdict lines in the main log, from callouts"
assert_no_log 'rcptguard: verify_recipient .* source=cache' "... and none for the three from the cache (log_cached = no: debug output only)"
n=$(grep -c 'rcptguard: verify_recipient <user[12]@example\.org> result=pass source=cache' "$DBG")
assert_eq 3 "$n" "the three verdicts from the cache are in the debug output (-d+local_scan)"
loads=$(grep -c 'rcptguard: module loaded in process' "$DBG")
assert_eq 1 "$loads" "the module's constructor ran once in five connections"
assert_match "rcptguard: module loaded in process $FRONT_PID\$" "$(cat "$DBG")" "... in the daemon (pid $FRONT_PID)"
reads=$(grep -c 'rcptguard: config .* read in process' "$DBG")
assert_eq 1 "$reads" "rcptguard.conf was read once in five connections"
assert_match "rcptguard: config $TB/rcptguard\\.conf read in process $FRONT_PID\$" "$(cat "$DBG")" "... in the daemon"
assert_match 'rcptguard: verify_recipient <user1@example\.org> result=pass source=cache' "$(cat "$DBG")" \
	"the connection processes used the inherited module (their verdicts in the same debug output)"

# ---- what the daemon holds: the module mapped, nothing that is not fork-safe
maps=$(cat "/proc/$FRONT_PID/maps")
assert_match 'rcptguard\.so$' "$maps" "the daemon has rcptguard.so mapped (children inherit it)"
assert_no_match 'data\.mdb|lock\.mdb' "$maps" "the daemon maps no store file"
fds=$(ls -l "/proc/$FRONT_PID/fd" 2>&1)
assert_no_match "$TB/state" "$fds" "the daemon has no file of the state folder open"
# (Exim itself links libunbound and libldap: their mappings say nothing; open descriptors do.)
assert_num "$(ls "/proc/$FRONT_PID/fd" | wc -l)" -le "$FDS_BEFORE" "the daemon holds no more descriptors than before the first preload ($FDS_BEFORE: no socket, no file left open)"

# ---- a store other than Redis: neither the daemon nor a connection's process loads hiredis
assert_no_match 'libhiredis' "$maps" "the daemon has not loaded libhiredis (store = lmdb)"
python3 - "$FRONT_PORT" >"$TB/held.out" 2>&1 <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rb")
def cmd(c):
    if c: s.sendall(c + b"\r\n")
    while True:
        l = f.readline()
        if l[3:4] != b"-": return l.decode(errors="replace").strip()
print(cmd(None)); print(cmd(b"EHLO held.test")); print(cmd(b"MAIL FROM:<a@held.test>"))
print(cmd(b"RCPT TO:<user1@example.org>"))
time.sleep(3)
s.sendall(b"QUIT\r\n")
PY
held=$!
child_maps=
for i in $(seq 1 25); do
	sleep 0.1
	grep -q '^250 .*' <(sed -n 4p "$TB/held.out") && { child_maps=$(for c in $(tb_front_children); do cat "/proc/$c/maps"; done 2>/dev/null); break; }
done
wait "$held"
assert_match 'rcptguard\.so$' "$child_maps" "a connection's process after its check: rcptguard.so mapped (inherited)"
assert_match 'liblmdb' "$child_maps" "... liblmdb mapped (the module links it)"
assert_no_match 'libhiredis' "$child_maps" "... and no libhiredis: a process that does not use Redis does not load it"

# ---- the operator's own limit (an expansion: 1 for 127.0.0.9, none for others)
out=$(python3 - "$FRONT_PORT" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
def conn(src):
    s = socket.socket(); s.settimeout(10); s.bind((src, 0)); s.connect(("127.0.0.1", port))
    buf = b""
    while b"\r\n" not in buf:
        d = s.recv(4096)
        if not d: break
        buf += d
    return s, buf.decode(errors="replace").split("\r\n")[0]
a, ra = conn("127.0.0.9")
b, rb = conn("127.0.0.9")
c, rc = conn("127.0.0.10")
d, rd = conn("127.0.0.10")
print("first9=" + ra[:3]); print("second9=" + rb); print("first10=" + rc[:3]); print("second10=" + rd[:3])
for s in (a, b, c, d):
    s.sendall(b"QUIT\r\n"); s.close()
# once the first one's process is gone, 127.0.0.9 may connect again
for i in range(50):
    time.sleep(0.1)
    e, re_ = conn("127.0.0.9"); e.sendall(b"QUIT\r\n"); e.close()
    if re_.startswith("220"): break
print("again9=" + re_[:3])
PY
)
assert_match '^first9=220' "$out" "127.0.0.9, first connection: 220"
assert_match '^second9=421 .*[Tt]oo many' "$out" "127.0.0.9, second concurrent connection: 421 too many (the operator's limit 1 applies)"
assert_match '^first10=220' "$out" "127.0.0.10, first connection: 220"
assert_match '^second10=220' "$out" "127.0.0.10, second concurrent connection: 220 (no limit for it)"
assert_match '^again9=220' "$out" "127.0.0.9 again after its first connection ended: 220"
assert_no_match 'smtp_accept_max_per_host' "$(cat "$dir/paniclog" 2>/dev/null)" "no panic-log line about smtp_accept_max_per_host"

# ---- a config change: seen by the next connection, read again once, in the daemon
tb_conf <<EOF
log_cached = yes
$(tb_std_domains | sed "s/^\\[domain example\\.org\\]\$/[domain example.org]\\nhosts = 127.0.0.1:$BE_TEMPFAIL\\n[domain was-example.org]/")
EOF
grep -A1 '^\[domain example\.org\]' "$TB/rcptguard.conf" | grep -q "$BE_TEMPFAIL" || bail "the test's new config routes example.org to the tempfail port"
tb_mark
r=$(tb_rcpt_reply user3@example.org)
assert_match '^451 ' "$r" "after the edit, the next connection uses it: user3@example.org (now at a 451 destination) deferred"
assert_log 'rcptguard: verify_recipient <user3@example\.org> result=defer' "its verdict line says defer"
reads=$(grep -c 'rcptguard: config .* read in process' "$DBG")
assert_eq 2 "$reads" "rcptguard.conf read once more after the edit (two reads in all)"
assert_eq "$FRONT_PID" "$(grep 'rcptguard: config .* read in process' "$DBG" | tail -n 1 | sed 's/.* //')" "... again in the daemon"
tb_mark
r=$(tb_rcpt_reply user1@example.org)
assert_match '^250 ' "$r" "a cached verdict still answers after the edit"
assert_log 'rcptguard: verify_recipient <user1@example\.org> result=pass source=cache' \
	"log_cached = yes (set by the edit): the verdict from the cache has its main-log line"
assert_eq 2 "$(grep -c 'rcptguard: config .* read in process' "$DBG")" "no further read while the files stay unchanged"
assert_eq 1 "$(grep -c 'rcptguard: module loaded in process' "$DBG")" "the module still loaded once, in the daemon"
