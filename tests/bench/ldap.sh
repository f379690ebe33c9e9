#!/usr/bin/env bash
# ldap.sh - "make bench", LDAP part: LDAP verdicts through the chain, uncached vs cached,
# and the first lookup of a fresh process (libldap dlopen()ed, connect, bind, search).
# Run by tests/bench/run.sh, or alone as root: bash tests/bench/ldap.sh
#
# A throwaway slapd (tests/lib/slapd.sh) holds LDAP_BENCH_ENTRIES mailboxes; the domain's
# only source is ldap (bind as a reader, the default filter on mail / mailLocalAddress).
# tests/bench/ldap_loop.c, linked with build/librgcore.a, calls verify_run_recipient()
# and checks every answer (source=ldap pass/fail, then source=cache): a wrong answer fails
# the run. Every number printed is measured by this run.
#
# Knobs: LDAP_BENCH_FRESH (uncached calls, 2000), LDAP_BENCH_CACHED (cached calls, 100000),
# LDAP_BENCH_FORKS (fresh processes, 200), RG_KEEP=1 keeps the folder.

BENCH_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_SRC/../.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
	echo "ldap.sh: must run as root (the test bed chowns its folder)" >&2
	exit 1
fi
# shellcheck source=../lib/testbed.sh
. "$REPO/tests/lib/testbed.sh"
# shellcheck source=../lib/slapd.sh
. "$REPO/tests/lib/slapd.sh"

FRESH=${LDAP_BENCH_FRESH:-2000}
CACHED=${LDAP_BENCH_CACHED:-100000}
FORKS=${LDAP_BENCH_FORKS:-200}
DOMAIN=ldapbench.test

say() { printf '%s\n' "$*"; }
kv() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }

say ""
say "== LDAP source: verdicts through the chain (verify_run_recipient, sources = ldap)"

BIN=$TB/bin
mkdir -p "$BIN"
BENCH_CFLAGS=$(make -s --no-print-directory -C "$REPO" --eval 'bench-print-cflags: ; @echo $(ALL_CFLAGS)' bench-print-cflags)
BENCH_LIBS=$(make -s --no-print-directory -C "$REPO" --eval 'bench-print-libs: ; @echo $(LIBS)' bench-print-libs)
[ -f "$REPO/build/librgcore.a" ] || bail "build/librgcore.a is missing: run make first"
# shellcheck disable=SC2086
(cd "$REPO" && cc $BENCH_CFLAGS -o "$BIN/ldap_loop" tests/bench/ldap_loop.c build/librgcore.a $BENCH_LIBS) \
	>"$TB/cc.out" 2>&1 || { cat "$TB/cc.out"; bail "ldap_loop compiles"; }

n=$((FRESH + FORKS + 2))
for i in $(seq 0 $((n - 1))); do
	u=$(printf 'user%05d' "$i")
	tb_slapd_person "$u" "$u@$DOMAIN"
done >"$TB/people.ldif"
tb_slapd_start "$TB/people.ldif"
tb_conf <<EOF
[domain $DOMAIN]
sources = ldap
ldap_uri = $SLAPD_URI
ldap_base = ou=people,$SLAPD_BASE
ldap_bind_dn = $SLAPD_BIND_DN
ldap_bind_password_file = $SLAPD_PW_FILE
EOF
say "   load $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at start: other work on this machine skews the figures"
say "   slapd $(slapd -VV 2>&1 | sed -n 's/.*slapd \([0-9.]*\).*/\1/p' | head -n 1) on 127.0.0.1:$SLAPD_PORT (back_mdb, $n entries, mail indexed), simple bind as a reader"

out=$("$BIN/ldap_loop" "$TB/rcptguard.conf" "$DOMAIN" "$FRESH" "$CACHED" "$FORKS" 2>&1)
if [ $? -ne 0 ]; then
	not ok "ldap_loop: every answer as expected (source=ldap pass/fail, then source=cache)"
	diag "$out"
	exit 1
fi
ok "ldap_loop: $FRESH uncached answers from LDAP (pass and fail as the directory says), $CACHED from the cache"
all=$(printf '%s ' $out)
say "   uncached (kept connection, one search per call): p50 $(kv uncached_p50_us "$all") µs, p99 $(kv uncached_p99_us "$all") µs ($FRESH calls, half found, half not)"
say "   cached (LMDB, no LDAP)                        : p50 $(kv cached_p50_us "$all") µs, p99 $(kv cached_p99_us "$all") µs ($CACHED calls)"
say "   first call of a fresh process, uncached        : p50 $(kv first_uncached_p50_us "$all") µs, p99 $(kv first_uncached_p99_us "$all") µs ($FORKS processes: config, store, dlopen libldap, connect, bind, search)"
say "   first call of a fresh process, cached          : p50 $(kv first_cached_p50_us "$all") µs, p99 $(kv first_cached_p99_us "$all") µs (config, store; libldap never loaded)"
say "   (uncached includes the verdict's LMDB commit; load now $(cut -d' ' -f1-3 /proc/loadavg))"
say "   => the first LDAP lookup of an Exim process adds $(awk -v a="$(kv first_uncached_p50_us "$all")" -v b="$(kv first_cached_p50_us "$all")" 'BEGIN { printf "%.0f", a - b }') µs (p50) over a cached answer"
