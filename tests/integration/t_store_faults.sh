#!/usr/bin/env bash
# t_store_faults.sh - the cache is a hint: a store file that is not LMDB, a state dir
# Exim cannot read, a full disk. The front keeps answering exactly as it would uncached,
# and the main log says what is wrong with the store.
. "$(dirname "$0")/../lib/testbed.sh"

# The store's file name inside state_dir (core/store_lmdb.c: STORE_LMDB_FILE).
STORE_FILE=${RG_STORE_FILE:-rcptguard.mdb}

tb_backend

# The replies every case must give (as the destination answers them).
check_replies() {
	local what=$1
	tb_rcpts user1@example.org nobody@example.org >/dev/null
	assert_match '^250 ' "$(tb_reply_of user1@example.org)" "$what: known user 250"
	assert_eq "550 <nobody@example.org>: recipient unknown" "$(tb_reply_of nobody@example.org)" \
		"$what: unknown user: 550 recipient unknown"
}

# ---- 1. a state file that is not LMDB
tb_conf <<EOF
$(tb_std_domains)
EOF
for i in $(seq 1 300); do echo "this is not an LMDB file, line $i"; done >"$TB/state/$STORE_FILE"
chown "$TB_EXIM_USER:$TB_EXIM_USER" "$TB/state/$STORE_FILE"
tb_front
tb_mark
check_replies "junk store file"
assert_log "rcptguard: store.*($STORE_FILE|damaged|uncached|unavailable)" "junk store file: the main log says what happened to the store"
assert_no_log 'rcptguard: verify_recipient .* result=defer' "junk store file: no deferral"
aside=$(ls "$TB/state" | grep -c "^$STORE_FILE\.damaged-")
assert_eq 1 "$aside" "junk store file: set aside as $STORE_FILE.damaged-TIME"
if command -v mdb_stat >/dev/null; then
	assert_status 0 "junk store file: the recreated store is a valid LMDB (mdb_stat)" -- mdb_stat -n "$TB/state/$STORE_FILE"
fi
assert_match '^pass callout ' "$(tb_cache_record user1@example.org)" "junk store file: verdicts are cached again in the new store"
tb_mark
check_replies "junk store file, second message"
assert_connections "$BE_USERS" 0 "junk store file: second message answered from the recreated cache"

# ---- 2. a state dir Exim's user cannot read
locked=$TB/state-locked
mkdir -p "$locked"
chown root:root "$locked"
chmod 0700 "$locked"
tb_conf --state-dir "$locked" <<EOF
$(tb_std_domains)
EOF
tb_mark
check_replies "unreadable state dir"
assert_log 'rcptguard: store unavailable, running uncached' "unreadable state dir: log says running uncached"
assert_log "rcptguard: store.*$locked.*(ermission|denied)" "unreadable state dir: log names the path and the error"
assert_no_log 'rcptguard: verify_recipient .* result=defer' "unreadable state dir: no deferral"
tb_mark
check_replies "unreadable state dir, second message"
assert_connections "$BE_USERS" 1 "unreadable state dir: uncached, so the destination is asked again"
assert_eq 0 "$(ls -A "$locked" | wc -l)" "unreadable state dir: nothing was written there"

# ---- 3. a full disk (a 64 KiB tmpfs as state_dir)
full=$TB/state-full
if ! tb_mount_tmpfs "$full" 64k; then
	not ok "full disk: mount a 64k tmpfs on $full"
	exit 1
fi
chown "$TB_EXIM_USER:$TB_EXIM_USER" "$full"
chmod 0750 "$full"
tb_conf --state-dir "$full" <<EOF
$(tb_std_domains)
EOF
# One verdict so that the store exists, then fill the rest of the disk.
r=$(tb_rcpt_reply user3@example.org)
assert_match '^250 ' "$r" "full disk: the store is created on the small tmpfs (250)"
dd if=/dev/zero of="$full/filler" bs=4k 2>/dev/null
chown "$TB_EXIM_USER:$TB_EXIM_USER" "$full/filler"
avail=$(df -k --output=avail "$full" | tail -n 1 | tr -d ' ')
assert_eq 0 "$avail" "full disk: no space left on the tmpfs"
tb_mark
addrs=(user1@example.org user2@example.org alice@example.org bob@example.org)
for i in $(seq 1 16); do addrs+=("nobody$i@example.org"); done
tb_rcpts "${addrs[@]}" >/dev/null
n250=$(cut -f 2 "$TB/last_rcpts" | grep -c '^250 ')
n550=$(cut -f 2 "$TB/last_rcpts" | grep -c '^550 .*recipient unknown')
assert_eq 4 "$n250" "full disk: the 4 known users get 250"
assert_eq 16 "$n550" "full disk: the 16 unknown users get 550 recipient unknown"
assert_log 'rcptguard: store unavailable.*(not cached|uncached)' "full disk: log says verdicts are not cached"
assert_log 'rcptguard: store.*(space|MDB_|full)' "full disk: log gives the reason"
assert_no_log 'rcptguard: verify_recipient .* result=defer' "full disk: no deferral"
check_replies "full disk"
rm -f "$full/filler"
tb_mark
r=$(tb_rcpt_reply carol@example.org)
assert_match '^550 ' "$r" "full disk freed: new address verified"
assert_match '^fail callout ' "$(tb_cache_record carol@example.org)" \
	"full disk freed: verdicts are cached again"
if [ -f "$TB/front/paniclog" ] && grep -q 'signal' "$TB/front/paniclog"; then
	not ok "full disk: no Exim process died of a signal"
	diag "$(tail -n 5 "$TB/front/paniclog")"
else
	ok "full disk: no Exim process died of a signal"
fi
