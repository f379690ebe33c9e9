#!/usr/bin/env bash
# fcrdns.sh - FCrDNS cost per connection (make bench runs it from tests/bench/run.sh).
#
# Everything runs in a network namespace of its own, made here and removed at exit, so
# that nsd can serve the test zones on port 53 of its loopback and Exim's own resolver
# (which reads /etc/resolv.conf and asks port 53 only) uses it: "ip netns exec" bind-mounts
# /etc/netns/NAME/resolv.conf (nameserver 127.0.0.1) over /etc/resolv.conf. No query
# leaves the namespace.
#
#   1. one check in a fresh process (fork + fcrdns_run + exit, tests/bench/fcrdns_cost.c):
#      first check (lazy dlopen of libunbound, resolver context, PTR + A queries) and a
#      cached verdict (store lookup);
#   2. whole SMTP connections from 127.0.2.1 (PTR good.fcrdns.example, A back to it):
#      connect -> 220 banner time through four Exim fronts, interleaved: no check;
#      rcptguard's connect snippet with the cache off (every connection asks nsd);
#      rcptguard with the cache on; Exim's own "verify = reverse_host_lookup" (asks nsd
#      every connection: Exim's DNS cache lives in the process).
#
# Knobs: BENCH_FCRDNS_FORKS (figure 1 children per kind, 300), BENCH_FCRDNS_CONNS
# (figure 2 connections per front, 300).
set -uo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SRC/../.." && pwd)

if [ "${1:-}" != --inside ]; then
	[ "$(id -u)" -eq 0 ] || { echo "fcrdns bench: must run as root" >&2; exit 1; }
	NS=rgfcrdns$$
	cleanup() {
		ip netns del "$NS" 2>/dev/null
		rm -rf "/etc/netns/$NS"
	}
	trap cleanup EXIT
	ip netns add "$NS" || { echo "fcrdns bench: ip netns add failed" >&2; exit 1; }
	mkdir -p "/etc/netns/$NS"
	echo "nameserver 127.0.0.1" >"/etc/netns/$NS/resolv.conf"
	ip netns exec "$NS" bash "$SRC/fcrdns.sh" --inside
	exit $?
fi

ip link set lo up
. "$REPO/tests/lib/testbed.sh"
. "$REPO/tests/lib/nsd.sh"

FORKS=${BENCH_FCRDNS_FORKS:-300}
CONNS=${BENCH_FCRDNS_CONNS:-300}
say() { printf '%s\n' "$*"; }
kv() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }

say ""
say "== FCrDNS cost per connection (network namespace, nsd on its 127.0.0.1:53)"
grep -q '^nameserver 127.0.0.1' /etc/resolv.conf || bail "the namespace's resolv.conf is not in place"

nsd_zone fcrdns.example <<'EOF'
good   A    127.0.2.1
EOF
nsd_zone 2.0.127.in-addr.arpa <<'EOF'
1      PTR  good.fcrdns.example.
EOF
nsd_start 53

BIN=$TB/bin
mkdir -p "$BIN"
CFLAGS_=$(make -s --no-print-directory -C "$REPO" --eval 'p: ; @echo $(ALL_CFLAGS)' p)
LIBS_=$(make -s --no-print-directory -C "$REPO" --eval 'p: ; @echo $(LIBS)' p)
# shellcheck disable=SC2086
cc $CFLAGS_ -o "$BIN/fcrdns_cost" "$REPO/tests/bench/fcrdns_cost.c" "$REPO/build/librgcore.a" $LIBS_ \
	>"$TB/cc.out" 2>&1 || { cat "$TB/cc.out"; bail "fcrdns_cost.c compiles"; }

tb_conf <<EOF
dns_forward = 127.0.0.1@53
dns_timeout = 5s
EOF
cp "$TB/rcptguard.conf" "$TB/nocache.conf"
echo "fcrdns_cache_ttl = 0" >>"$TB/nocache.conf"

# ---- 1. one check in a fresh process
out=$("$BIN/fcrdns_cost" "$TB/rcptguard.conf" 127.0.2.1 "$FORKS" 2>&1)
if [ $? -eq 0 ]; then
	ok "fcrdns_cost: first check passed from DNS, cached check from the store"
else
	not ok "fcrdns_cost: first check passed from DNS, cached check from the store"
	diag "$out"
fi
l=$(printf '%s\n' "$out" | head -n 1)
say "   1. one check in a fresh process (fork + call + exit, $FORKS of each, medians / p90):"
say "      first check (dlopen libunbound, context, PTR + A) : $(kv first_us_p50 "$l") µs / $(kv first_us_p90 "$l") µs"
say "      cached verdict (store)                           : $(kv cached_us_p50 "$l") µs / $(kv cached_us_p90 "$l") µs"

# ---- 2. whole connections through Exim
# fe NAME CONNECT_ACL_LINES: a front Exim with this connect ACL; sets FE_PORT.
fe() {
	local name=$1 acl=$2 dir="$TB/$1"
	read -r FE_PORT <<<"$(tb_free_ports 1)"
	tb_exim_dir "$dir"
	{
		tb_exim_common "$dir" "$name.test"
		cat <<EOF
RCPTGUARD_SO = $RG_SO
RCPTGUARD_OPTIONS = config=$3
.include $TB_SNIPPETS/rcptguard-main.conf
acl_smtp_connect = acl_connect
begin acl
acl_connect:
$acl
  accept
EOF
	} >"$dir/exim.conf"
	chmod 0644 "$dir/exim.conf"
	tb_exim_check "$dir/exim.conf" "$name Exim config"
	tb_exim_start "$dir/exim.conf" "$dir" "$name Exim" "$FE_PORT"
	FE_PID=$TB_LAST_PID
}
fe plain "" "$TB/rcptguard.conf"
P_PLAIN=$FE_PORT
declare -A PID_OF COST0 COST1
PID_OF[$FE_PORT]=$FE_PID
fe rg-nocache ".include $TB_SNIPPETS/rcptguard-connect.conf" "$TB/nocache.conf"
P_NOCACHE=$FE_PORT
PID_OF[$FE_PORT]=$FE_PID
fe rg-cache ".include $TB_SNIPPETS/rcptguard-connect.conf" "$TB/rcptguard.conf"
P_CACHE=$FE_PORT
PID_OF[$FE_PORT]=$FE_PID
fe exim-reverse "  require verify = reverse_host_lookup" "$TB/rcptguard.conf"
P_EXIM=$FE_PORT
PID_OF[$FE_PORT]=$FE_PID
for p in $P_PLAIN $P_NOCACHE $P_CACHE $P_EXIM; do COST0[$p]=$(tb_exim_cost "${PID_OF[$p]}"); done

out=$(python3 - "$CONNS" "$P_PLAIN" "$P_NOCACHE" "$P_CACHE" "$P_EXIM" <<'PY'
import socket, sys, time
n = int(sys.argv[1]); ports = [int(p) for p in sys.argv[2:]]
times = {p: [] for p in ports}; bad = {p: 0 for p in ports}
for i in range(n + 5):
    for p in ports:
        s = socket.socket(); s.bind(("127.0.2.1", 0))
        t0 = time.perf_counter()
        s.connect(("127.0.0.1", p))
        buf = b""
        while b"\r\n" not in buf:
            d = s.recv(4096)
            if not d: break
            buf += d
        t1 = time.perf_counter()
        s.sendall(b"QUIT\r\n"); s.close()      # not waiting for 221 (Exim corks it ~200 ms)
        if i >= 5:                              # five warm-up rounds
            times[p].append((t1 - t0) * 1e6)
            bad[p] += not buf.startswith(b"220 ")
for p in ports:
    t = sorted(times[p])
    print("port=%d p50_us=%d p90_us=%d not220=%d" % (p, t[len(t) // 2], t[len(t) * 9 // 10], bad[p]))
PY
)
for p in $P_PLAIN $P_NOCACHE $P_CACHE $P_EXIM; do COST1[$p]=$(tb_exim_cost "${PID_OF[$p]}"); done
# per PORT FIELD: tb_exim_cost field FIELD (1-4) per connection of the run (warm-up included).
per() { awk -v a="${COST0[$1]}" -v b="${COST1[$1]}" -v f="$2" -v n="$((CONNS + 5))" \
	'BEGIN { split(a, x, " "); split(b, y, " "); printf "%.0f", (y[f] - x[f]) / n }'; }
m() { printf '%s\n' "$out" | grep "^port=$1 " | tr ' ' '\n' | sed -n "s/^$2=//p"; }
for p in $P_PLAIN $P_NOCACHE $P_CACHE $P_EXIM; do
	assert_eq 0 "$(m "$p" not220)" "every connection to port $p got its 220 banner (127.0.2.1 passes)"
done
# At the default log_cached = no, only a verdict from DNS has a main-log line (figure 1
# filled the store): no line at all means every connection was answered from the store
# (each got its 220, and a check that could not run would have answered 451).
assert_eq 0 "$(grep -c 'rcptguard: fcrdns' "$TB/rg-cache/mainlog")" \
	"cached front: every verdict from the store (log_cached = no: no DNS answer, no line)"
assert_match 'result=pass source=dns hostname=good\.fcrdns\.example' "$(tail -n 3 "$TB/rg-nocache/mainlog")" "uncached front: verdicts from nsd"
base=$(m "$P_PLAIN" p50_us)
d() { awk -v a="$(m "$1" p50_us)" -v b="$base" 'BEGIN { printf "%+d", a - b }'; }
say "   2. connect -> 220 banner from 127.0.2.1, $CONNS connections per front, interleaved (median, p90; added to no check):"
printf '      %-48s %7s µs %7s µs  %s\n' "no check" "$base" "$(m "$P_PLAIN" p90_us)" ""
printf '      %-48s %7s µs %7s µs  %s µs\n' "rcptguard fcrdns, cache off (DNS every time)" "$(m "$P_NOCACHE" p50_us)" "$(m "$P_NOCACHE" p90_us)" "$(d "$P_NOCACHE")"
printf '      %-48s %7s µs %7s µs  %s µs\n' "rcptguard fcrdns, cached verdict" "$(m "$P_CACHE" p50_us)" "$(m "$P_CACHE" p90_us)" "$(d "$P_CACHE")"
printf '      %-48s %7s µs %7s µs  %s µs\n' "Exim verify = reverse_host_lookup" "$(m "$P_EXIM" p50_us)" "$(m "$P_EXIM" p90_us)" "$(d "$P_EXIM")"
say "   the same connections, counted in the real Exim processes (CPU user + system, page faults;"
say "   a connection's process, reaped by its daemon, and the daemon's own share), per connection:"
printf '      %-48s %8s %7s %10s %7s\n' "" "CPU µs" "faults" "daemon µs" "faults"
for p in "$P_PLAIN:no check" "$P_NOCACHE:rcptguard fcrdns, cache off" "$P_CACHE:rcptguard fcrdns, cached verdict" "$P_EXIM:Exim verify = reverse_host_lookup"; do
	printf '      %-48s %8s %7s %10s %7s\n' "${p#*:}" "$(per "${p%%:*}" 1)" "$(per "${p%%:*}" 2)" "$(per "${p%%:*}" 3)" "$(per "${p%%:*}" 4)"
done
# For the summary of tests/bench/run.sh: time added to connect->banner (median over no check).
if [ -n "${BENCH_RESULTS:-}" ]; then
	printf 'fcrdns_cache_cpu_added_us=%s\nfcrdns_exim_cpu_added_us=%s\n' \
		"$(( $(per "$P_CACHE" 1) + $(per "$P_CACHE" 3) - $(per "$P_PLAIN" 1) - $(per "$P_PLAIN" 3) ))" \
		"$(( $(per "$P_EXIM" 1) + $(per "$P_EXIM" 3) - $(per "$P_PLAIN" 1) - $(per "$P_PLAIN" 3) ))" >>"$BENCH_RESULTS"
	printf 'fcrdns_cache_added_us=%s\nfcrdns_exim_added_us=%s\nfcrdns_nocache_added_us=%s\n' \
		"$(( $(m "$P_CACHE" p50_us) - base ))" "$(( $(m "$P_EXIM" p50_us) - base ))" \
		"$(( $(m "$P_NOCACHE" p50_us) - base ))" >>"$BENCH_RESULTS"
fi
