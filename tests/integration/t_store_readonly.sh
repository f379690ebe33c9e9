#!/usr/bin/env bash
# t_store_readonly.sh - Exim connection processes that only read the verdict store (a
# cached verdict), and one that reads and then writes in the same session (a cached
# verdict, then new ones): every verdict written is in the cache for the next session and
# for rcptguardctl, and no process leaves a reader slot behind (the next opener would take
# it for a process that died in the store and set off a check of the file).
# (core/store_lmdb.c opens rcptguard.mdb read-only and reopens it read-write before a
# process's first write.)
. "$(dirname "$0")/../lib/testbed.sh"

STORE_FILE=${RG_STORE_FILE:-rcptguard.mdb}

tb_backend
tb_conf <<EOF
$(tb_std_domains)
EOF
tb_front
f=$TB/state/$STORE_FILE

out=$(tb_ctl check user1@example.org 2>&1)
assert_match '^result=pass source=callout' "$out" "rcptguardctl check caches user1@example.org (and creates the store)"

# Hold the store file open (without a reader slot) for the whole test, as a busy gateway's
# other connections do: else an opener that finds no one else resets the reader table, and
# a slot left behind would vanish unseen. tests/lib/lmdb_pin.c "hold" does just that.
if ! cc -o "$TB/lmdb_pin" "$TB_REPO/tests/lib/lmdb_pin.c" -llmdb 2>"$TB/cc.err"; then
	not ok "compile tests/lib/lmdb_pin.c: $(head -c 200 "$TB/cc.err")"
	exit 1
fi
"$TB/lmdb_pin" "$f" hold >"$TB/hold.out" 2>&1 &
hold=$!
tb_track "$hold"
for i in $(seq 1 50); do
	grep -q '^holding' "$TB/hold.out" && break
	sleep 0.1
done
assert_match '^holding' "$(cat "$TB/hold.out")" "(set-up) the store file is held open by another process"

# other_slots: reader slots in use in the store, but the holder's (mdb_stat -r lists them).
other_slots() {
	mdb_stat -n -r "$f" 2>&1 | awk -v h="$hold" 'p && NF >= 3 && $1 != h { n++ } /pid/ { p = 1 } END { print n + 0 }'
}

# ---- 1. sessions that only read: a cached verdict each
tb_mark
for i in 1 2 3; do
	r=$(tb_rcpt_reply user1@example.org)
	assert_match '^250 ' "$r" "read-only session $i: user1@example.org 250 (cached)"
done
assert_connections "$BE_USERS" 0 "read-only sessions: answered from the cache (no back-end connection)"
assert_eq 0 "$(other_slots)" "read-only sessions: no reader slot left behind (mdb_stat -r)"
assert_no_log 'rcptguard: store' "read-only sessions: no store line in the main log"

# ---- 2. one session that reads (user1, cached), then writes (two new verdicts)
tb_mark
tb_rcpts user1@example.org user2@example.org nobody@example.org >/dev/null
assert_match '^250 ' "$(tb_reply_of user1@example.org)" "read-then-write session: user1@example.org 250 (cached)"
assert_match '^250 ' "$(tb_reply_of user2@example.org)" "read-then-write session: user2@example.org 250 (new)"
assert_eq "550 <nobody@example.org>: recipient unknown" "$(tb_reply_of nobody@example.org)" \
	"read-then-write session: nobody@example.org 550 recipient unknown (new)"
assert_log 'rcptguard: verify_recipient <user2@example\.org> result=pass source=callout' \
	"read-then-write session: user2@example.org verified by callout"
assert_no_log 'rcptguard: store' "read-then-write session: no store line in the main log (the verdicts were written)"
assert_connections "$BE_USERS" 1 "read-then-write session: one back-end connection for the new recipients"
assert_match '^pass callout ' "$(tb_cache_record user2@example.org)" "cache: user2@example.org pass, written by that session"
assert_match '^fail callout ' "$(tb_cache_record nobody@example.org)" "cache: nobody@example.org fail, written by that session"
human=$(tb_ctl cache list 2>&1)
assert_match '^user2@example\.org pass callout ' "$human" "cache list shows user2@example.org"
assert_eq 0 "$(other_slots)" "read-then-write session: no reader slot left behind (mdb_stat -r)"

# ---- 3. the next session reads those verdicts from the cache
tb_mark
tb_rcpts user2@example.org nobody@example.org >/dev/null
assert_match '^250 ' "$(tb_reply_of user2@example.org)" "next session: user2@example.org 250 (cached)"
assert_eq "550 <nobody@example.org>: recipient unknown" "$(tb_reply_of nobody@example.org)" \
	"next session: nobody@example.org 550 (cached)"
assert_connections "$BE_USERS" 0 "next session: answered from the cache (no back-end connection)"

# ---- 4. no opener ever found a dead reader (it logs it, and sets off a check)
assert_no_match 'died reading it|checking it' "$(cat "$FRONT_LOG")" "main log: no process found a dead reader in the store"
assert_status 0 "rcptguardctl store check: the store is sound" -- tb_ctl store check
assert_status 0 "mdb_stat reads the store" -- mdb_stat -n "$f"
tb_stop "$hold"
