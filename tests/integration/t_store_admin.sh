#!/usr/bin/env bash
# t_store_admin.sh - the store's operator side through a real front Exim and rcptguardctl:
# purge deletes expired verdicts and catch-all results (15,000 planted expired negative
# verdicts go, live and still-stale-usable ones stay); store status (text and --json);
# store copy into another state_dir; a damaged LMDB file (bytes flipped in data pages):
# store check and cache list do not crash, the file is set aside and logged, mail flows;
# sessions that meet a damaged file get it checked and set aside by themselves.
. "$(dirname "$0")/../lib/testbed.sh"

# The store's file name inside state_dir (core/store_lmdb.c: STORE_LMDB_FILE).
STORE_FILE=${RG_STORE_FILE:-rcptguard.mdb}
DB=$TB/state/$STORE_FILE

tb_backend
tb_std_domains | tb_conf
tb_front

# plant FILE: load "key\nvalue\n" pairs into the store (owned by Exim's user, as Exim would).
plant() {
	mdb_load -T -n -f "$1" "$DB" && chown "$TB_EXIM_USER:$TB_EXIM_USER" "$DB" "$DB-lock"
}

# aside: how many damaged files have been set aside.
aside() {
	ls "$TB/state" | grep -c "^$STORE_FILE\.damaged-"
}

# ---- purge: expired verdicts and catch-all results go, live ones stay
tb_rcpts user1@example.org nobody@example.org >/dev/null
assert_match '^250 ' "$(tb_reply_of user1@example.org)" "a known user: 250 (the store is created)"
python3 -c '
import sys, time
now = int(time.time())
for i in range(15000):                      # a spammer'"'"'s random recipients, expired
    print("v:rnd%05d@example.org" % i); print("1 fail callout %d %d 550 unknown" % (now - 4000, now - 2200))
for i in range(10):                          # expired catch-all results
    print("c:old%d.example" % i); print("2 no catchall %d %d accepted 550 no" % (now - 90000, now - 3600))
print("v:stale@example.org")                 # expired, but within stale_ttl (30d): kept
print("1 pass callout %d %d 250 ok" % (now - 86400 * 8, now - 3600))
print("v:ancient@example.org")               # past stale_ttl too: goes
print("1 pass callout %d %d 250 ok" % (now - 86400 * 40, now - 86400 * 33))
print("v:junk@example.org")                  # does not decode: goes
print("this is not a verdict")
' >"$TB/plant.txt"
plant "$TB/plant.txt"
assert_eq 15001 "$(tb_cache_count fail)" "planted: 15,000 expired negative verdicts (+ the session's)"
assert_status 0 "purge" -- tb_ctl purge
assert_match '15012 verdict\(s\) and catch-all result\(s\)' "$TB_OUT" \
	"purge: 15,000 negative + 10 catch-all + 1 past stale_ttl + 1 unreadable removed"
assert_eq 0 "$(tb_cache_json | grep -c 'rnd[0-9]*@example.org')" "purge: no planted negative verdict is left"
assert_match '^pass callout ' "$(tb_cache_record stale@example.org)" "purge: an expired positive verdict within stale_ttl stays"
assert_eq "" "$(tb_cache_record ancient@example.org)" "purge: a positive verdict past stale_ttl goes"
assert_match '^pass callout ' "$(tb_cache_record user1@example.org)" "purge: the live verdicts stay (user1)"
assert_match '^fail callout ' "$(tb_cache_record nobody@example.org)" "purge: the live verdicts stay (nobody)"
assert_status 0 "purge --json again" -- tb_ctl --json purge
assert_match '"verdicts":0' "$TB_OUT" "purge again: nothing more"

# ---- store status
assert_status 0 "store status" -- tb_ctl store status
assert_match "^where +$DB\$" "$TB_OUT" "store status: the file in use"
assert_match '^member +lmdb$' "$TB_OUT" "store status: the member"
keys=$(mdb_stat -n "$DB" | awk '/Entries:/ {print $2}')
st=$(tb_ctl --json store status | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["member"], d["role"], d["keys"], d["bytes"] > 0, d["rtt_us"], d["fallback"])')
assert_eq "lmdb file $keys True None False" "$st" "store status --json: member, role, keys (as mdb_stat), bytes, rtt, fallback"

# ---- store copy into another state_dir: every live record, none expired
mkdir -p "$TB/copy"
assert_status 0 "store copy --to lmdb --state-dir" -- tb_ctl store copy --to lmdb --state-dir "$TB/copy"
assert_match "^copied $keys record" "$TB_OUT" "store copy: every live record copied"
sed -i "s|^state_dir = .*|state_dir = $TB/copy|" "$TB/rcptguard.conf"
assert_match '^pass callout ' "$(tb_cache_record stale@example.org)" "store copy: the copy answers (stale@)"
assert_match '^fail callout ' "$(tb_cache_record nobody@example.org)" "store copy: the copy answers (nobody@)"
sed -i "s|^state_dir = .*|state_dir = $TB/state|" "$TB/rcptguard.conf"
assert_status 64 "store copy onto the store itself is refused" -- tb_ctl store copy --to lmdb
assert_status 78 "store copy to a member not in this build: a configuration error" -- tb_ctl store copy --to nosuch

# flip_pages SEED: flip 8 bytes in data pages (not the two meta pages) of the store.
flip_pages() {
	python3 -c '
import os, random, sys
p, seed = sys.argv[1], int(sys.argv[2])
random.seed(seed)
pages = os.path.getsize(p) // 4096
with open(p, "r+b") as f:
    for _ in range(8):
        off = random.randrange(2, pages) * 4096 + random.randrange(16, 64)
        f.seek(off); b = f.read(1); f.seek(off); f.write(bytes([b[0] ^ 0xff]))
' "$DB" "$1"
}

# flip_root: garble the node offsets of the main tree's root page (the newer meta page
# names it), which every lookup reads.
flip_root() {
	python3 -c '
import struct, sys
with open(sys.argv[1], "r+b") as f:
    metas = []
    for m in (0, 1):
        f.seek(m * 4096 + 128); root, = struct.unpack("<Q", f.read(8))
        f.seek(m * 4096 + 144); txn, = struct.unpack("<Q", f.read(8))
        metas.append((txn, root))
    root = max(metas)[1] * 4096
    f.seek(root + 12); lower, = struct.unpack("<H", f.read(2))
    for off in range(17, lower, 2):
        f.seek(root + off); b = f.read(1); f.seek(root + off); f.write(bytes([b[0] ^ 0x5a]))
' "$DB"
}

# fill: 3000 live verdicts, so that the file has many data pages.
fill() {
	python3 -c '
import time
now = int(time.time())
for i in range(3000):
    print("v:user%05d@example.org" % i); print("1 pass callout %d %d 250 ok padding-padding-padding" % (now, now + 86400))
' >"$TB/fill.txt"
	plant "$TB/fill.txt"
}

# ---- a damaged file: the CLI checks in a child, sets it aside, never crashes
fill
flip_pages 7
assert_status 1 "store check on a damaged file: exit 1" -- tb_ctl store check
assert_match 'damaged.*set aside' "$TB_OUT" "store check: says damaged and set aside"
assert_eq 1 "$(aside)" "store check: the file is set aside as $STORE_FILE.damaged-TIME"
assert_status 0 "store check on the recreated file: ok" -- tb_ctl store check
fill
flip_pages 7
assert_status 0 "cache list on a damaged file: no crash (checked first)" -- tb_ctl cache list
assert_match 'store check: .*damaged' "$TB_OUT" "cache list: says the store was damaged"
assert_eq 2 "$(aside)" "cache list: the damaged file is set aside"
tb_mark
tb_rcpts user1@example.org nobody@example.org >/dev/null
assert_match '^250 ' "$(tb_reply_of user1@example.org)" "after the set-aside: a known user gets 250"
assert_eq "550 <nobody@example.org>: recipient unknown" "$(tb_reply_of nobody@example.org)" \
	"after the set-aside: an unknown user gets 550"
assert_match '^pass callout ' "$(tb_cache_record user1@example.org)" "after the set-aside: verdicts are cached in the new file"

# ---- sessions meet a damaged file: it is checked and set aside without the operator
fill
flip_root
# The checks that sessions set off are rate-limited by a stamp file (one per 10 minutes):
# the walks above (whose crashed children left reader slots) may have set it already.
rm -f "$DB-check"
tb_mark
for i in $(seq 0 150 2999); do
	tb_rcpt_reply "$(printf 'user%05d@example.org' "$i")" >/dev/null
	[ "$(aside)" = 3 ] && break
done
for i in $(seq 1 50); do
	[ "$(aside)" = 3 ] && break
	sleep 0.2
done
assert_eq 3 "$(aside)" "sessions: the damaged file is set aside by a check they set off"
assert_log "rcptguard: store .*$STORE_FILE is damaged" "sessions: the main log says the store was damaged"
assert_status 0 "sessions: the check left its rate-limiting stamp" -- test -f "$DB-check"
tb_mark
tb_rcpts user1@example.org nobody@example.org >/dev/null
assert_match '^250 ' "$(tb_reply_of user1@example.org)" "sessions: mail flows after (250)"
assert_eq "550 <nobody@example.org>: recipient unknown" "$(tb_reply_of nobody@example.org)" "sessions: and 550 for the unknown"
assert_no_log 'result=defer' "sessions: no deferral"
