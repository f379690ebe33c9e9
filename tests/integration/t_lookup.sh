#!/usr/bin/env bash
# t_lookup.sh - the Exim lookup driver ("lookup face"): an Exim (4.96, or RG_LOOKUP_RELEASE) built with
# LOOKUP_MODULE_DIR (tests/lib/exim-src.sh) loads build/shared/lookups/rcptguard.so, and a
# front using acl-snippets/rcptguard-rcpt-lookup.conf answers every RCPT exactly like the
# dlfunc face (Debian's Exim, rcptguard-rcpt.conf): same codes, same texts. Then -be and
# -d -bV checks, the taint check of Exim 4.96 (quote_rcptguard), and the one-engine
# guarantee: an Exim process using both faces maps one librcptguard.so.0 and one LMDB
# environment, and both faces give the same answer.
# shellcheck disable=SC2016  # Exim expansions ($value, $local_part) in single quotes
. "$(dirname "$0")/../lib/testbed.sh"

# ---------------------------------------------------------------- the Exim and the module

# The matrix: RG_LOOKUP_RELEASE picks the Exim release built from source (t_lookup_498.sh
# sets 4.98.2; default: the installed Exim's, 4.96 on Debian 12). Under CI=true an Exim
# that cannot be built is a failure, never a skip: CI must test the lookup face.
LK_RELEASE=${RG_LOOKUP_RELEASE:-}
if ! envs=$("$TB_REPO/tests/lib/exim-src.sh" ${LK_RELEASE:+--release "$LK_RELEASE"} --quiet 2>"$TB/exim-src.err"); then
	why="no Exim ${LK_RELEASE:-(installed release)} with LOOKUP_MODULE_DIR: tests/lib/exim-src.sh failed: $(tail -n 1 "$TB/exim-src.err")"
	if [ "${CI:-}" = true ]; then
		diag "$(tail -n 15 "$TB/exim-src.err")"
		bail "$why (CI=true: the lookup face must be tested)"
	fi
	skip "lookup driver tests" "$why"
	exit 0
fi
eval "$envs"
LK_BIN=$RG_EXIM_LOOKUP_BIN
LK_DIR=$RG_EXIM_LOOKUP_DIR
# Exim's own log folder of that build (logs written before a -C config is read).
LK_CACHE_PANIC=$(dirname "$LK_DIR")/log/paniclog
# One build folder per release: both faces are compiled against that Exim's own headers
# (local_scan.h of 4.98 differs from 4.96's in const-ness).
LK_SHARED=$TB_BUILD/lk-$RG_EXIM_RELEASE/shared
ok "Exim $RG_EXIM_RELEASE built from source ($RG_EXIM_VERSION) with LOOKUP_MODULE_DIR"

if ! out=$(make -C "$TB_REPO" --no-print-directory B="$TB_BUILD/lk-$RG_EXIM_RELEASE" lookups \
	EXIM_SRC="$RG_EXIM_SRC" EXIM_INC="$RG_EXIM_SRC/src" CFLAGS="-O2 -g -I$RG_EXIM_BUILD" 2>&1); then
	diag "$(printf '%s\n' "$out" | tail -n 15)"
	bail "make lookups EXIM_SRC=$RG_EXIM_SRC"
fi
assert_no_match 'warning:' "$out" "make lookups against Exim $RG_EXIM_RELEASE's headers: no compiler warning"
ok "make lookups EXIM_SRC=\$RG_EXIM_SRC builds the lookup module, the shared engine and the shared dlfunc module"
for f in "$LK_SHARED/lookups/rcptguard.so" "$LK_SHARED/librcptguard.so.0" "$LK_SHARED/rcptguard.so"; do
	[ -f "$f" ] || bail "$f was not built"
done

# Every run of that Exim dlopen()s every *.so of LK_DIR: installed for this test only.
tb_on_exit "rm -f '$LK_DIR/rcptguard.so' '$LK_DIR/librcptguard.so.0'"
if ! install -m 0755 -o root -g root "$LK_SHARED/librcptguard.so.0" "$LK_DIR/librcptguard.so.0" ||
	! install -m 0755 -o root -g root "$LK_SHARED/lookups/rcptguard.so" "$LK_DIR/rcptguard.so"; then
	bail "install the lookup module into $LK_DIR"
fi
lk_panic0=0
[ -f "$LK_CACHE_PANIC" ] && lk_panic0=$(wc -l <"$LK_CACHE_PANIC")

# ---------------------------------------------------------------- two fronts

tb_backend
# dlfunc front: $TB/rcptguard.conf, state in $TB/state
tb_conf <<EOF
$(tb_std_domains)
EOF
# lookup front: the same domains, its own cache
LK_RG_CONF=$TB/lookup-rcptguard.conf
mkdir -p "$TB/lookup-state"
chown "$TB_EXIM_USER:$TB_EXIM_USER" "$TB/lookup-state"
sed "s|^state_dir = .*|state_dir = $TB/lookup-state|" "$TB/rcptguard.conf" >"$LK_RG_CONF"
chmod 0644 "$LK_RG_CONF"

tb_front
DL_PORT=$FRONT_PORT DL_LOG=$FRONT_LOG DL_CONF=$FRONT_CONF

FRONT_PID=
tb_front --name lookup --exim "$LK_BIN" --rg-conf "$LK_RG_CONF" \
	--rcpt-snippet "$TB_SNIPPETS/rcptguard-rcpt-lookup.conf" \
	--quit-snippet "$TB_SNIPPETS/rcptguard-quit-lookup.conf"
LK_PORT=$FRONT_PORT LK_LOG=$FRONT_LOG LK_CONF=$FRONT_CONF
FRONT_PID=

assert_match '^exim_path = '"$LK_BIN"'$' "$(cat "$LK_CONF")" "lookup front: exim_path is the built Exim"

# use_front dlfunc|lookup: tb_swaks, tb_rcpts, tb_front_log and assert_log act on that front.
use_front() {
	case $1 in
	dlfunc) FRONT_PORT=$DL_PORT FRONT_LOG=$DL_LOG FRONT_CONF=$DL_CONF ;;
	lookup) FRONT_PORT=$LK_PORT FRONT_LOG=$LK_LOG FRONT_CONF=$LK_CONF ;;
	esac
}

# both_rcpts TAG ADDRESS...: one message through each front, the dlfunc one first; replies
# in $TB/TAG.dlfunc and $TB/TAG.lookup ("ADDRESS<TAB>CODE TEXT"); each front's main-log
# mark before its session in ${MARK[FACE]} (for face_log); the back-end's log
# during each front's session in $TB/TAG.FACE.backend (for connections).
declare -A MARK
both_rcpts() {
	local tag=$1 face
	shift
	for face in dlfunc lookup; do
		use_front "$face"
		tb_mark
		MARK[$face]=$TB_FRONT_MARK
		tb_rcpts "$@" >"$TB/$tag.$face"
		tb_backend_log >"$TB/$tag.$face.backend"
	done
}

# face_log FACE MARK: that front's main log from the mark on.
face_log() {
	use_front "$1"
	tail -n "+$(($2 + 1))" "$FRONT_LOG"
}

# reply TAG FACE ADDRESS
reply() {
	awk -F '\t' -v a="$3" '$1 == a { print $2; exit }' "$TB/$1.$2"
}

# same_reply TAG ADDRESS REGEX DESC: both fronts gave identical replies, matching REGEX.
same_reply() {
	local d l
	d=$(reply "$1" dlfunc "$2")
	l=$(reply "$1" lookup "$2")
	assert_match "$3" "$d" "$4: dlfunc face: ${d:-(none)}"
	assert_eq "$d" "$l" "$4: lookup face gives the identical reply"
}

# connections FILE PORT: back-end connections on PORT in a saved back-end log excerpt.
connections() {
	grep -cE "SMTP connection from \[[^]]*\]:[0-9]+ I=\[127\.0\.0\.1\]:$2 \(TCP/IP connection count" "$1"
}

# ---------------------------------------------------------------- the same scenarios, both faces

q_local='"a b"@example.org'
both_rcpts first user1@example.org nobody@example.org first@catchall.test \
	user1@tempfail.test user1@dead.test "$q_local" NoBody@Example.ORG
same_reply first user1@example.org '^250 ' "known user"
same_reply first nobody@example.org '^550 <nobody@example\.org>: recipient unknown$' "unknown user"
same_reply first first@catchall.test '^250 ' "catch-all destination"
same_reply first user1@tempfail.test '^451 <user1@tempfail\.test>: cannot verify recipient now, please try again later$' \
	"destination answers 451"
same_reply first user1@dead.test '^451 <user1@dead\.test>: cannot verify recipient now' "nothing listens at the destination"
same_reply first NoBody@Example.ORG '^550 <nobody@example\.org>: recipient unknown$' "mixed-case address of an unknown user"
# A quoted local part: Exim gives $local_part unquoted ("a b"); both snippets quote it
# again (${quote_local_part:}), so the destination is asked about "a b"@example.org (it
# does not know it: 550) and both faces say so with the same text.
d=$(reply first dlfunc "$q_local")
l=$(reply first lookup "$q_local")
assert_eq '550 <"a b"@example.org>: recipient unknown' "$d" "quoted local part with a space: dlfunc face asks the destination: 550 recipient unknown"
assert_eq "$d" "$l" "quoted local part with a space: lookup face gives the identical reply"
assert_match 'verify_recipient <"a b"@example\.org> result=fail source=callout' "$(face_log lookup "${MARK[lookup]}")" \
	"quoted local part: quote_rcptguard kept \"a b\"@example.org one query word (the engine got the whole address)"
# Session end through each face's quit snippet: the destination sees QUIT, never a drop.
be_log=$(tb_backend_log)
assert_match 'closed by QUIT' "$be_log" "session end: callout connections of both faces end with QUIT"
assert_no_match 'unexpected disconnection|lost (connection|while)' "$be_log" \
	"session end: the destination logs no dropped callout connection (lookup face included)"
for face in dlfunc lookup; do
	log=$(face_log "$face" "${MARK[$face]}")
	assert_match 'rcptguard: verify_recipient <user1@example\.org> result=pass source=callout ' "$log" \
		"$face face: log: user1@example.org result=pass source=callout"
	assert_match 'rcptguard: verify_recipient <first@catchall\.test> result=pass source=catchall ' "$log" \
		"$face face: log: first@catchall.test result=pass source=catchall"
	assert_match 'rcptguard: verify_recipient <user1@dead\.test> result=defer .*[Cc]onnection refused' "$log" \
		"$face face: log: user1@dead.test result=defer (connection refused)"
	assert_eq 1 "$(connections "$TB/first.$face.backend" "$BE_USERS")" \
		"$face face: one connection to the users back-end for the whole message"
	assert_eq 1 "$(connections "$TB/first.$face.backend" "$BE_CATCHALL")" \
		"$face face: one connection to the catch-all back-end (the probe)"
done
log=$(face_log lookup "${MARK[lookup]}")
assert_match 'temporarily rejected RCPT <user1@tempfail\.test>: <user1@tempfail\.test>: cannot verify recipient now' "$log" \
	"lookup face: main log: the deferral is logged as a temporary rejection"

# ---- a repeat: from each front's own cache, no back-end connection
both_rcpts again user1@example.org nobody@example.org first@catchall.test
same_reply again user1@example.org '^250 ' "repeat: known user"
same_reply again nobody@example.org '^550 <nobody@example\.org>: recipient unknown$' "repeat: unknown user"
same_reply again first@catchall.test '^250 ' "repeat: catch-all destination"
for face in dlfunc lookup; do
	log=$(face_log "$face" "${MARK[$face]}")
	assert_no_match 'verify_recipient <(user1|nobody)@example\.org>' "$log" "repeat, $face face: from the cache, no rcptguard line (log_cached = no)"
	assert_match 'rejected RCPT <nobody@example\.org>: <nobody@example\.org>: recipient unknown' "$log" "repeat, $face face: the 550 in Exim's own line"
	n=$(grep -c 'SMTP connection from' "$TB/again.$face.backend")
	assert_eq 0 "$n" "repeat, $face face: no back-end connection at all"
done
assert_match '^pass callout ' "$(tb_cache_record user1@example.org)" "dlfunc front's own cache holds user1@example.org"
n=$("$RG_CTL" -c "$LK_RG_CONF" cache list 2>/dev/null | grep -c '^user1@example\.org pass callout')
assert_eq 1 "$n" "lookup front's own cache (its state_dir) holds user1@example.org too"

# ---------------------------------------------------------------- the dlfunc face on this Exim

# The dlfunc module compiled against this release's local_scan.h, loaded by this Exim
# through the plain dlfunc snippet (its own cache): the same replies as on Debian's Exim.
DS_RG_CONF=$TB/dlsrc-rcptguard.conf
mkdir -p "$TB/dlsrc-state"
chown "$TB_EXIM_USER:$TB_EXIM_USER" "$TB/dlsrc-state"
sed "s|^state_dir = .*|state_dir = $TB/dlsrc-state|" "$TB/rcptguard.conf" >"$DS_RG_CONF"
chmod 0644 "$DS_RG_CONF"
FRONT_PID=
tb_front --name dlsrc --exim "$LK_BIN" --so "$LK_SHARED/rcptguard.so" --rg-conf "$DS_RG_CONF"
DS_PID=$FRONT_PID
FRONT_PID=
tb_rcpts user1@example.org nobody@example.org first@catchall.test user1@tempfail.test "$q_local" >"$TB/first.dlsrc"
for a in user1@example.org nobody@example.org first@catchall.test user1@tempfail.test "$q_local"; do
	d=$(reply first dlfunc "$a")
	s=$(reply first dlsrc "$a")
	assert_match '^[245][0-9][0-9] ' "$s" "dlfunc face on Exim $RG_EXIM_RELEASE: $a: ${s:-(none)}"
	assert_eq "$d" "$s" "dlfunc face on Exim $RG_EXIM_RELEASE: $a: the same reply as on Debian's Exim"
done
assert_match 'rcptguard: verify_recipient <nobody@example\.org> result=fail source=callout ' \
	"$(cat "$TB/dlsrc/mainlog")" "dlfunc face on Exim $RG_EXIM_RELEASE: the verdict's log line (log_write through local_scan.h)"
tb_stop "$DS_PID"
use_front lookup

# ---------------------------------------------------------------- -be, -d -bV, taint

be() {
	"$LK_BIN" -C "$LK_CONF" -be "$1" 2>/dev/null
}
r=$(be '${lookup rcptguard{catchall catchall.test config='"$LK_RG_CONF"'}{found:$value}{notfound}}')
assert_match '^found:result=yes ' "$r" "-be: catchall catchall.test: found, \$value is the yield line"
r=$(be '${lookup rcptguard{catchall example.org config='"$LK_RG_CONF"'}{found:$value}{notfound}}')
assert_eq notfound "$r" "-be: catchall example.org (a real destination): not found"
r=$(be '${lookup rcptguard{catchall afterdata.test config='"$LK_RG_CONF"'}{found:$value}{notfound}}')
assert_match '^found:result=yes ' "$r" "-be: catchall afterdata.test (probed now): found"
r=$(be '${lookup rcptguard{catchall dead.test config='"$LK_RG_CONF"'}{found:$value}{notfound}}')
assert_match 'lookup of "catchall dead\.test .*" gave DEFER: result=unknown ' "$r" "-be: catchall of a dead destination: DEFER"
r=$(be '${lookup rcptguard{sender nobody@example.org config='"$LK_RG_CONF"' own_domains=example.org}{found:$value}{notfound}}')
assert_eq notfound "$r" "-be: sender nobody@example.org of an own domain: not found (fail)"
r=$(be '${lookup rcptguard{sender nobody@other.test config='"$LK_RG_CONF"' own_domains=example.org}{found:$value}{notfound}}')
assert_match '^found:result=skip reason=foreign' "$r" "-be: sender of a foreign domain: found, result=skip"
r=$(be '${lookup rcptguard{recipient ${quote_rcptguard:user1@example.org} config='"$LK_RG_CONF"'}{found:$value}{notfound}}')
assert_match '^found:result=pass source=cache' "$r" "-be: recipient (quoted with quote_rcptguard): found, from the cache"
r=$(be '${quote_rcptguard:a b"c\\d}')
assert_eq '"a b\"c\\d"' "$r" "-be: quote_rcptguard quotes a value with space, quote and backslash"
r=$(be '${lookup rcptguard{nosuchcheck x@example.org}{found}{notfound}}')
assert_match 'gave DEFER: rcptguard: unknown or unavailable function "nosuchcheck"' "$r" "-be: an unknown function: DEFER"

out=$("$LK_BIN" -C "$LK_CONF" -d -bV 2>&1)
assert_match '^Library version: rcptguard lookup driver [0-9]' "$out" "-d -bV shows the driver's version line"

# Negative control: an unquoted tainted query does reach the panic log (so its absence
# from the lookup front's panic log means something).
ctl=$TB/taintctl
mkdir -p "$ctl/spool"
chown "$TB_EXIM_USER:$TB_EXIM_USER" "$ctl" "$ctl/spool"
sed -e "s|$TB/lookup/|$ctl/|g" \
	-e 's|\${quote_rcptguard:\$local_part@\$domain}|$local_part@$domain|' "$LK_CONF" >"$ctl/exim.conf"
sed "s|^\.include .*rcptguard-rcpt-lookup\.conf$|.include $ctl/rcpt.conf|" -i "$ctl/exim.conf"
sed 's|\${quote_rcptguard:\${quote_local_part:\$local_part}@\$domain}|$local_part@$domain|' \
	"$TB_SNIPPETS/rcptguard-rcpt-lookup.conf" >"$ctl/rcpt.conf"
grep -v '^#' "$ctl/rcpt.conf" | grep -c 'quote_rcptguard:' >/dev/null && bail "control: could not take quote_rcptguard out of the snippet"
chmod 0644 "$ctl/exim.conf" "$ctl/rcpt.conf"
# (-bh writes log lines, the panic log's too, to stderr as "LOG: ...".)
printf 'EHLO c.test\r\nMAIL FROM:<s@c.test>\r\nRCPT TO:<user1@example.org>\r\nQUIT\r\n' |
	"$LK_BIN" -C "$ctl/exim.conf" -bh 127.0.0.1 >"$ctl/bh.out" 2>&1
assert_match '^LOG: tainted search query is not properly quoted' "$(cat "$ctl/bh.out")" \
	"control: the same snippet without quote_rcptguard makes Exim complain of a tainted query"

# ---------------------------------------------------------------- deferral never accepts

# -bh on the lookup front's config: a dead destination defers (451) through the snippet,
# the warn statement with the lookup is skipped, and $acl_m_rg says result=defer.
printf 'EHLO c.test\r\nMAIL FROM:<s@c.test>\r\nRCPT TO:<x@dead.test>\r\nRCPT TO:<user1@example.org>\r\nRCPT TO:<y@dead.test>\r\nRCPT TO:<nobody@example.org>\r\nRCPT TO:<z@dead.test>\r\nRCPT TO:<user2@example.org>\r\nQUIT\r\n' |
	"$LK_BIN" -C "$LK_CONF" -bh 127.0.0.1 >"$TB/bh-defer.out" 2>&1
bh=$(cat "$TB/bh-defer.out")
assert_match '^451 <x@dead\.test>: cannot verify recipient now' "$bh" "-bh: dead destination: 451"
assert_match '^451 <y@dead\.test>: cannot verify recipient now' "$bh" \
	"-bh: a deferral after a pass (same session) still 451: \$acl_m_rg never keeps the previous answer"
assert_match 'ACL "warn" statement skipped: condition test deferred: result=defer reason=tempfail message="<x@dead\.test>' "$bh" \
	"-bh: the deferred lookup's yield line is logged (warn statement skipped)"
assert_match '^250 ' "$(printf '%s\n' "$bh" | grep -E '^[0-9]{3} ' | sed -n 5p)" "-bh: the pass between the deferrals: 250"
# One reply line per command: banner, EHLO, MAIL, then the six RCPTs (lines 4-9).
bh_rcpt() { printf '%s\n' "$bh" | grep -E '^[0-9]{3} ' | sed -n "$1p"; }
assert_match '^550 <nobody@example\.org>: recipient unknown' "$(bh_rcpt 7)" "-bh: a fail after a deferral and a pass: 550"
assert_match '^451 <z@dead\.test>: cannot verify recipient now' "$(bh_rcpt 8)" "-bh: a deferral after a fail: 451 (not 550 on the earlier answer)"
assert_match '^250 ' "$(bh_rcpt 9)" "-bh: a pass after a fail and a deferral: 250"
assert_no_match 'tainted search query' "$bh" "-bh with the shipped lookup snippet: no taint complaint"

# The module missing (not installed, failed to load): an ACL error, 451, never accepted.
mv "$LK_DIR/rcptguard.so" "$TB/rcptguard.so.aside"
printf 'EHLO c.test\r\nMAIL FROM:<s@c.test>\r\nRCPT TO:<user1@example.org>\r\nQUIT\r\n' |
	"$LK_BIN" -C "$LK_CONF" -bh 127.0.0.1 >"$TB/bh-nomodule.out" 2>&1
mv "$TB/rcptguard.so.aside" "$LK_DIR/rcptguard.so"
bh=$(cat "$TB/bh-nomodule.out")
assert_match '^451 Temporary local problem' "$bh" "-bh without the lookup module: 451 (not accepted)"
assert_match 'unknown lookup type "rcptguard"' "$bh" "-bh without the lookup module: Exim says unknown lookup type"

# ---------------------------------------------------------------- make without an Exim source

assert_status 2 "make lookups EXIM_SRC=/nonexistent fails" -- \
	make -C "$TB_REPO" --no-print-directory B="$TB_BUILD" lookups EXIM_SRC=/nonexistent
assert_match 'EXIM_SRC' "$TB_OUT" "make lookups EXIM_SRC=/nonexistent: the message names EXIM_SRC"

# ---------------------------------------------------------------- one engine, both faces

# both_front NAME DLFUNC_SO: a front on the built Exim whose RCPT ACL asks the lookup face
# and the dlfunc face DLFUNC_SO for the same recipient (logged as "both-faces <ADDRESS>
# lookup=[...] dlfunc=[...]") before the lookup snippet decides; the lookup front's
# rcptguard.conf, so both answers come from its cache. Sets BOTH_PORT BOTH_PID BOTH_LOG.
both_front() {
	FRONT_PID=
	tb_front --name "$1" --exim "$LK_BIN" --so "$2" --rg-conf "$LK_RG_CONF" \
		--rcpt-snippet "$TB_SNIPPETS/rcptguard-rcpt-lookup.conf" \
		--rcpt-pre '  warn    set acl_m_lk = ${lookup rcptguard{recipient ${quote_rcptguard:$local_part@$domain} RCPTGUARD_OPTIONS}{$value}{NOTFOUND}}
          set acl_m_dl = ${dlfunc{RCPTGUARD_SO}{verify_recipient}{$local_part@$domain}{RCPTGUARD_OPTIONS}}
          logwrite = both-faces <$local_part@$domain> lookup=[$acl_m_lk] dlfunc=[$acl_m_dl]'
	BOTH_PORT=$FRONT_PORT BOTH_PID=$FRONT_PID BOTH_LOG=$FRONT_LOG
	FRONT_PID=
}

# hold_session TAG: one SMTP session to BOTH_PORT (RCPT user1@ and nobody@example.org),
# held open after the RCPTs while its Exim process's /proc/PID/maps is copied to
# $TB/TAG.maps; the RCPT replies in $TB/TAG.replies; the pid in HOLD_CHILD.
hold_session() {
	local tag=$1 hold_pid
	rm -f "$TB/$tag.replies" "$TB/$tag.go"
	: >"$TB/$tag.maps"
	python3 - "$BOTH_PORT" "$TB/$tag.replies" "$TB/$tag.go" >"$TB/$tag.out" 2>&1 <<'PY2' &
import os, socket, sys, time
port, out, go = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), timeout=20)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
f = s.makefile("rb")
def reply():
    lines = []
    while True:
        l = f.readline().decode(errors="replace").rstrip("\r\n")
        lines.append(l)
        if not l or l[3:4] != "-":
            return " ".join(lines)
reply()
res = []
for cmd in ("EHLO hold.test", "MAIL FROM:<s@hold.test>", "RCPT TO:<user1@example.org>",
            "RCPT TO:<nobody@example.org>"):
    s.sendall((cmd + "\r\n").encode())
    r = reply()
    if cmd.startswith("RCPT"):
        res.append(cmd[9:-1] + "\t" + r)
with open(out + ".tmp", "w") as fh:
    fh.write("\n".join(res) + "\n")
os.rename(out + ".tmp", out)
t = time.time() + 15
while not os.path.exists(go) and time.time() < t:
    time.sleep(0.02)
s.sendall(b"QUIT\r\n")
reply()
PY2
	hold_pid=$!
	for _ in $(seq 1 200); do
		[ -f "$TB/$tag.replies" ] && break
		kill -0 "$hold_pid" 2>/dev/null || break
		sleep 0.05
	done
	HOLD_CHILD=$(pgrep -P "$BOTH_PID" | head -n 1)
	[ -f "$TB/$tag.replies" ] && [ -n "$HOLD_CHILD" ] && cat "/proc/$HOLD_CHILD/maps" >"$TB/$tag.maps" 2>/dev/null
	touch "$TB/$tag.go"
	wait "$hold_pid"
}

# mapped_lib_sets MAPS: how many times librcptguard.so.0 is mapped (first segments).
mapped_lib_sets() {
	awk '$6 ~ /\/librcptguard\.so\.0$/ && $3 == "00000000"' "$1" | wc -l
}

# mapped_mdb MAPS: how many mappings of rcptguard.mdb (one per LMDB environment).
mapped_mdb() {
	awk '$6 ~ /\/rcptguard\.mdb$/' "$1" | wc -l
}

both_front both "$LK_SHARED/rcptguard.so"
hold_session both
maps=$TB/both.maps
if [ ! -s "$maps" ]; then
	not ok "one engine: held a session of the both-faces front open and read its /proc/PID/maps"
	diag "$(cat "$TB/both.out" "$TB/both.replies" 2>/dev/null)"
else
	ok "one engine: session process $HOLD_CHILD of the both-faces front held open after RCPT"
	lib_paths=$(awk '$6 ~ /\/librcptguard\.so\.0$/ { print $6 }' "$maps" | sort -u)
	assert_eq 1 "$(printf '%s\n' "$lib_paths" | grep -c .)" "one engine: one librcptguard.so.0 file mapped (${lib_paths//$'\n'/ })"
	assert_eq 1 "$(mapped_lib_sets "$maps")" "one engine: librcptguard.so.0 mapped once (one mapping set)"
	assert_match "^.* $LK_DIR/rcptguard\.so\$" "$(cat "$maps")" "one engine: the lookup module is loaded in that process"
	assert_match "^.* $LK_SHARED/rcptguard\.so\$" "$(cat "$maps")" "one engine: the dlfunc module (build/shared) is loaded in that process"
	assert_eq 1 "$(mapped_mdb "$maps")" "one engine: rcptguard.mdb mapped by exactly one LMDB environment"
	assert_match " $TB/lookup-state/rcptguard\.mdb\$" "$(cat "$maps")" "one engine: the mapped rcptguard.mdb is the configured state_dir's"
fi
hr=$(cat "$TB/both.replies" 2>/dev/null)
assert_match '^user1@example\.org	250 ' "$hr" "both faces in one process: known user 250"
assert_match '^nobody@example\.org	550 <nobody@example\.org>: recipient unknown$' "$hr" "both faces in one process: unknown user 550"
# both_answer ADDRESS lookup|dlfunc: that face's answer in the both-faces log line.
both_answer() {
	local n=1
	[ "$2" = dlfunc ] && n=2
	sed -n "s/.*both-faces <${1//./\\.}> lookup=\[\(.*\)\] dlfunc=\[\(.*\)\]\$/\\$n/p" "$BOTH_LOG" | tail -n 1
}
d=$(both_answer user1@example.org dlfunc)
l=$(both_answer user1@example.org lookup)
assert_match '^result=pass source=cache' "$d" "both faces in one process: dlfunc answer for user1: ${d:-(none)}"
assert_eq "$d" "$l" "both faces in one process: the lookup's \$value is the dlfunc's yield line, byte for byte"
assert_eq NOTFOUND "$(both_answer nobody@example.org lookup)" "both faces in one process: lookup of nobody: not found"
assert_match '^result=fail source=cache ' "$(both_answer nobody@example.org dlfunc)" \
	"both faces in one process: dlfunc for nobody: result=fail source=cache"

# Control: with the stand-alone dlfunc module (build/rcptguard.so, its own static copy of
# core) the same process has two engines, and the count above sees two environments.
tb_stop "$BOTH_PID"
both_front two "$RG_SO"
hold_session two
if [ -s "$TB/two.maps" ]; then
	assert_eq 2 "$(mapped_mdb "$TB/two.maps")" \
		"control: lookup face + stand-alone build/rcptguard.so in one process map rcptguard.mdb twice (two engines)"
else
	not ok "control: held a session of the two-engine front open and read its maps"
	diag "$(cat "$TB/two.out" "$TB/two.replies" 2>/dev/null)"
fi
tb_stop "$BOTH_PID"

# ---------------------------------------------------------------- panic logs

for f in "$TB/lookup/paniclog" "$TB/both/paniclog" "$TB/two/paniclog"; do
	assert_no_match 'tainted search query is not properly quoted' "$(cat "$f" 2>/dev/null)" \
		"no taint complaint in $(basename "$(dirname "$f")")/paniclog"
done
new_panic=
[ -f "$LK_CACHE_PANIC" ] && new_panic=$(tail -n "+$((lk_panic0 + 1))" "$LK_CACHE_PANIC")
assert_no_match 'tainted search query is not properly quoted|rcptguard' "$new_panic" \
	"nothing about rcptguard in the built Exim's own paniclog during the run"
