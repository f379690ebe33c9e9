#!/usr/bin/env bash
# run.sh - "make bench": rcptguard's figures, measured now on this machine, side by side
# with Exim's own callout cache. Run as root (it starts throwaway Exim daemons).
#
#   1. cached-verdict RCPTs per second through real Exim sessions: a front Exim whose RCPT
#      ACL uses rcptguard (the shipped snippet) vs. a front Exim using Exim's own
#      "verify = recipient/callout" and its hints-DB callout cache; both before the same
#      back-end Exim; 8 parallel clients, sessions of 100 RCPT TO, both caches warm.
#   2. one cached verdict in the engine: verify_run_recipient() on a warm LMDB cache, ns.
#   3. what the module adds to one SMTP connection (fork, dlopen, one cached verdict), µs,
#      next to a do-nothing dlfunc module; 3b: whole Exim sessions with one cached RCPT,
#      with rcptguard, with Exim's callout cache, and without verification.
#   4. back-end connections for one message of 50 new recipients to one destination.
#   Then tests/bench/fcrdns.sh, list.sh, greylist.sh, and a summary of the comparisons
#   of issue 11, each with its ratio: module cost per connection (with the shipped preload),
#   1-RCPT session added vs Exim's callout cache, connect->banner with a cached FCrDNS
#   verdict vs Exim's verify = reverse_host_lookup, 100-RCPT sessions vs an Exim that
#   verifies nothing (the ceiling), greylisting new triplets vs postgrey.
#
# Programs (compiled here into the throwaway folder, with the main Makefile's flags):
#   rcptload.c      SMTP load client (C, one process per client, nothing pipelined)
#   verdict_loop.c  figure 2, linked with build/librgcore.a
#   module_cost.c   figure 3: plays Exim (stub symbols, fork, dlopen) around build/rcptguard.so
#   null_dlfunc.c   figure 3: the smallest dlfunc module, the floor
#
# Correctness checks print TAP-like "ok N - ..." lines (every RCPT answered 250, caches warm,
# no back-end connection while measuring cached verdicts); make bench fails if one fails.
# A missed performance target is printed as MISSED and does not fail the run.
#
# Everything (Exims, caches, programs) lives in a throwaway folder; ports are picked at
# run time; every server is stopped at exit (tests/lib/testbed.sh). Nothing here is a
# hard-coded figure: every number printed is measured by this run.
#
# Knobs (environment): BENCH_SECONDS (per round of figure 1, default 4), BENCH_ROUNDS (2),
# BENCH_CLIENTS (8), BENCH_ITER (figure 2 calls, 200000), BENCH_FORKS (figure 3 children
# per kind, 300), RG_KEEP=1 keeps the folder.

BENCH_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_SRC/../.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
	echo "make bench: must run as root (it starts throwaway Exim daemons)" >&2
	exit 1
fi

# The test bed: $TB, tb_backend, tb_conf, tb_front, tb_free_ports, cleanup trap.
# shellcheck source=../lib/testbed.sh
. "$REPO/tests/lib/testbed.sh"

SECONDS_PER_ROUND=${BENCH_SECONDS:-4}
ROUNDS=${BENCH_ROUNDS:-2}
CLIENTS=${BENCH_CLIENTS:-8}
ITER=${BENCH_ITER:-200000}
FORKS=${BENCH_FORKS:-300}
RCPTS_PER_SESSION=100

say() { printf '%s\n' "$*"; }
hr() { say ""; say "== $*"; }
# kv KEY LINE: the value of KEY in a "key=value ..." line.
kv() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }
# ratio A B: A/B with two decimals (or "n/a").
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; }
# ge A B / lt A B: float comparisons; false when A is not a number (a failed measurement).
ge() { [[ "$1" =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
lt() { [[ "$1" =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
target() { if "$@"; then printf 'met'; else printf 'MISSED'; fi; }

T_START=$(date +%s)
# Sub-benchmarks (fcrdns.sh, greylist.sh) append "key=value" lines here for the summary.
export BENCH_RESULTS=$TB/results.txt
: >"$BENCH_RESULTS"
# res KEY: a value a sub-benchmark left in $BENCH_RESULTS.
res() { sed -n "s/^$1=//p" "$BENCH_RESULTS" | tail -n 1; }
le() { [[ "$1" =~ ^-?[0-9]+(\.[0-9]+)?$ ]] && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }

# ---------------------------------------------------------------- the machine

say "rcptguard benchmark - every figure below is measured by this run, on this machine"
say "  machine : $(nproc) CPU(s), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(uname -sr)"
say "  memory  : $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
say "  Exim    : $("$TB_EXIM" -bV 2>/dev/null | head -n 1)"
say "  LMDB    : $(dpkg-query -W -f='${Version}' liblmdb0 2>/dev/null || echo unknown)"
say "  module  : $RG_SO"
say "  folder  : $TB (removed at exit; RG_KEEP=1 keeps it)"
say "  load    : $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at start; other work on this machine skews the figures"

# ---------------------------------------------------------------- the programs

BIN=$TB/bin
mkdir -p "$BIN"
# The main Makefile's flags (warnings included), read from it so that they stay the same.
BENCH_CFLAGS=$(make -s --no-print-directory -C "$REPO" --eval 'bench-print-cflags: ; @echo $(ALL_CFLAGS)' bench-print-cflags)
BENCH_LIBS=$(make -s --no-print-directory -C "$REPO" --eval 'bench-print-libs: ; @echo $(LIBS)' bench-print-libs)
EXIM_INC=${EXIM_INC:-/usr/include/exim4}
if [ ! -f "$REPO/build/librgcore.a" ] || [ ! -f "$RG_SO" ]; then
	bail "build/ is incomplete: run make first"
fi
(
	cd "$REPO" || exit 1
	# shellcheck disable=SC2086
	cc $BENCH_CFLAGS -o "$BIN/rcptload" tests/bench/rcptload.c &&
	cc $BENCH_CFLAGS -o "$BIN/verdict_loop" tests/bench/verdict_loop.c build/librgcore.a $BENCH_LIBS &&
	cc $BENCH_CFLAGS -I"$EXIM_INC" -rdynamic -o "$BIN/module_cost" tests/bench/module_cost.c -ldl &&
	cc $BENCH_CFLAGS -I"$EXIM_INC" -shared -o "$BIN/null_dlfunc.so" tests/bench/null_dlfunc.c
) >"$TB/cc.out" 2>&1 || { cat "$TB/cc.out"; bail "the benchmark programs do not compile"; }
if [ -s "$TB/cc.out" ]; then
	say "  (compiler output:)"
	sed 's/^/    /' "$TB/cc.out" | head -n 20
fi

# ---------------------------------------------------------------- the servers

# Addresses: the back-end knows user1..user3, alice and bob at any domain; every domain
# below is routed to the same back-end port ("one destination").
: >"$TB/hot.txt"
for d in $(seq -w 1 20); do
	for u in alice bob user1 user2 user3; do
		echo "$u@d$d.test" >>"$TB/hot.txt"
	done
done
: >"$TB/new50.txt"
for d in $(seq -w 1 10); do
	for u in alice bob user1 user2 user3; do
		echo "$u@n$d.test" >>"$TB/new50.txt"
	done
done
HOT1=$(head -n 1 "$TB/hot.txt")

tb_backend
tb_conf <<EOF
# every test domain lives on the back-end's "users" port
hosts = 127.0.0.1:$BE_USERS
EOF
tb_front
RG_PORT=$FRONT_PORT
RG_PID=$FRONT_PID

# bench_exim_front NAME VERIFY_ACL_LINES: a front Exim without rcptguard that routes
# every relay domain to the back-end's users port; its RCPT ACL runs VERIFY_ACL_LINES.
# Sets BENCH_FRONT_PORT.
bench_exim_front() {
	local name=$1 verify=$2 dir="$TB/$1" port
	read -r port <<<"$(tb_free_ports 1)"
	tb_exim_dir "$dir"
	{
		tb_exim_common "$dir" "$name.test"
		cat <<EOF
log_selector = +smtp_connection +received_recipients
smtp_banner = $name.test ESMTP benchmark front
domainlist relay_to_domains = $TB_DOMAINS
acl_smtp_rcpt = acl_check_rcpt
acl_smtp_data = acl_check_data

begin acl

acl_check_rcpt:
  require message = relay not permitted
          domains = +relay_to_domains
$verify
  accept

acl_check_data:
  discard

begin routers

to_backend:
  driver = manualroute
  domains = +relay_to_domains
  route_list = * 127.0.0.1
  self = send
  transport = to_backend_smtp

begin transports

to_backend_smtp:
  driver = smtp
  port = $BE_USERS
  allow_localhost
EOF
	} >"$dir/exim.conf"
	chmod 0644 "$dir/exim.conf"
	tb_exim_check "$dir/exim.conf" "$name Exim config"
	tb_exim_start "$dir/exim.conf" "$dir" "$name Exim" "$port"
	BENCH_FRONT_PORT=$port
	BENCH_FRONT_PID=$TB_LAST_PID
}

# Exim's own callout; its cache (hints DB) keeps positive answers 24h by default.
bench_exim_front exim-callout "  require verify  = recipient/callout=10s"
EX_PORT=$BENCH_FRONT_PORT
EX_PID=$BENCH_FRONT_PID
# The same front without any recipient verification: the baseline of a whole session.
bench_exim_front exim-plain ""
PLAIN_PORT=$BENCH_FRONT_PORT
PLAIN_PID=$BENCH_FRONT_PID

# Front A again, without the preload (RCPTGUARD_NO_PRELOAD): each connection loads the
# module and reads the config afresh, as before issue 11. Same config, own folder.
NOPRE_DIR=$TB/front-nopreload
tb_exim_dir "$NOPRE_DIR"
{
	echo "RCPTGUARD_NO_PRELOAD = 1"
	sed "s|$TB/front/|$NOPRE_DIR/|g" "$FRONT_CONF"
} >"$NOPRE_DIR/exim.conf"
chmod 0644 "$NOPRE_DIR/exim.conf"
read -r NOPRE_PORT <<<"$(tb_free_ports 1)"
tb_exim_check "$NOPRE_DIR/exim.conf" "front A without preload"
tb_exim_start "$NOPRE_DIR/exim.conf" "$NOPRE_DIR" "front A without preload" "$NOPRE_PORT"
NOPRE_PID=$TB_LAST_PID

# Front D: the shipped snippets (preload, RCPT, quit) around a do-nothing dlfunc module
# (null_dlfunc.c answers result=pass at once): what Exim's ACL and ${dlfunc} cost with
# any module, the floor under front A in figure 1.
A_FRONT=("$FRONT_PID" "$FRONT_PORT" "$FRONT_CONF" "$FRONT_LOG")
FRONT_PID=
tb_front --name front-null --so "$BIN/null_dlfunc.so"
NULL_PORT=$FRONT_PORT
NULL_PID=$FRONT_PID
FRONT_PID=${A_FRONT[0]} FRONT_PORT=${A_FRONT[1]} FRONT_CONF=${A_FRONT[2]} FRONT_LOG=${A_FRONT[3]}


say ""
say "set-up: one back-end Exim (port $BE_USERS: knows alice, bob, user1..3 at any domain),"
say "        front A = Exim + rcptguard via the shipped ACL snippet (port $RG_PORT),"
say "        front B = Exim's own verify = recipient/callout=10s + its callout cache (port $EX_PORT),"
say "        front C = Exim with no recipient verification (port $PLAIN_PORT): the ceiling,"
say "        front A' = front A without the preload line (port $NOPRE_PORT), for figure 3b,"
say "        front D = the shipped snippets around a do-nothing dlfunc module (port $NULL_PORT)."

# load PORT ARGS...: run rcptload against PORT; prints its key=value line.
load() {
	local port=$1
	shift
	"$BIN/rcptload" -p "$port" "$@" 2>&1
}

# ---------------------------------------------------------------- 1. RCPT/s

hr "1. Cached-verdict RCPTs per second through real Exim sessions"
say "   $CLIENTS parallel clients; each session: EHLO, MAIL FROM, $RCPTS_PER_SESSION x RCPT TO (100 known"
say "   addresses, all cached), RSET, QUIT; $ROUNDS round(s) of ${SECONDS_PER_ROUND}s per front, alternating."

# Warm-up: every address once through each front, 10 sessions of 10 in parallel (Exim's
# callouts wait ~200 ms each for the back-end's corked 221: in turn they would take 20 s).
split -n l/10 -d "$TB/hot.txt" "$TB/hot.part."
for f in rg ex; do
	port=$RG_PORT
	[ $f = ex ] && port=$EX_PORT
	tb_backend_mark
	pids=()
	for part in "$TB"/hot.part.??; do
		load "$port" -c 1 -s 1 -n 10 -f "$part" >"$part.$f.out" &
		pids+=($!)
	done
	wait "${pids[@]}"   # only these: a bare wait would wait for the Exim daemons too
	warm_ok=$(cat "$TB"/hot.part.*."$f".out | tr ' ' '\n' | sed -n 's/^ok=//p' | awk '{ s += $1 } END { print s + 0 }')
	if [ "$warm_ok" = "$RCPTS_PER_SESSION" ]; then
		ok "warm-up of front $f: the $RCPTS_PER_SESSION addresses answered 250 ($(tb_backend_connections "$BE_USERS") back-end connection(s) to fill the cache)"
	else
		not ok "warm-up of front $f: the $RCPTS_PER_SESSION addresses answered 250 (saw $warm_ok)"
		diag "$(cat "$TB"/hot.part.*."$f".out)"
	fi
done

declare -A SUM_OK SUM_WALL BACKEND_DURING
SUM_OK=([rg]=0 [ex]=0 [pl]=0 [nl]=0)
SUM_WALL=([rg]=0 [ex]=0 [pl]=0 [nl]=0)
BACKEND_DURING=([rg]=0 [ex]=0 [pl]=0 [nl]=0)
# CPU (µs) the fronts' session processes and daemons used during the rounds (tb_exim_cost).
declare -A SUM_CPU PID_OF_F
SUM_CPU=([rg]=0 [ex]=0 [pl]=0 [nl]=0)
PID_OF_F=([rg]=$RG_PID [ex]=$EX_PID [pl]=$PLAIN_PID [nl]=$NULL_PID)
for r in $(seq 1 "$ROUNDS"); do
	line="   round $r:"
	for f in rg ex pl nl; do
		port=$RG_PORT
		[ $f = ex ] && port=$EX_PORT
		[ $f = pl ] && port=$PLAIN_PORT
		[ $f = nl ] && port=$NULL_PORT
		tb_backend_mark
		c0=$(tb_exim_cost "${PID_OF_F[$f]}")
		out=$(load "$port" -c "$CLIENTS" -t "$SECONDS_PER_ROUND" -n "$RCPTS_PER_SESSION" -f "$TB/hot.txt")
		rc=$?
		sleep 0.5     # the last sessions' processes exit and are reaped
		SUM_CPU[$f]=$(awk -v s="${SUM_CPU[$f]}" -v a="$c0" -v b="$(tb_exim_cost "${PID_OF_F[$f]}")" \
			'BEGIN { split(a, x, " "); split(b, y, " "); print s + (y[1] - x[1]) + (y[3] - x[3]) }')
		BACKEND_DURING[$f]=$((BACKEND_DURING[$f] + $(tb_backend_connections "$BE_USERS")))
		if [ $rc -ne 0 ]; then
			not ok "round $r, front $f: every session completed and every RCPT got 250"
			diag "$out"
		fi
		SUM_OK[$f]=$((SUM_OK[$f] + $(kv ok "$out")))
		SUM_WALL[$f]=$(awk -v a="${SUM_WALL[$f]}" -v b="$(kv wall_s "$out")" 'BEGIN { print a + b }')
		name=rcptguard
		[ $f = ex ] && name="Exim callout"
		[ $f = pl ] && name="no verification"
		[ $f = nl ] && name="do-nothing dlfunc"
		line="$line  $name $(kv rcpt_per_s "$out") RCPT/s ($(kv sessions "$out") sessions, p50 $(awk -v u="$(kv session_us_p50 "$out")" 'BEGIN { printf "%.1f", u / 1000 }') ms each)"
	done
	say "$line"
done
RG_RPS=$(awk -v a="${SUM_OK[rg]}" -v b="${SUM_WALL[rg]}" 'BEGIN { printf "%.0f", (b > 0 ? a / b : 0) }')
EX_RPS=$(awk -v a="${SUM_OK[ex]}" -v b="${SUM_WALL[ex]}" 'BEGIN { printf "%.0f", (b > 0 ? a / b : 0) }')
PL_RPS=$(awk -v a="${SUM_OK[pl]}" -v b="${SUM_WALL[pl]}" 'BEGIN { printf "%.0f", (b > 0 ? a / b : 0) }')
NL_RPS=$(awk -v a="${SUM_OK[nl]}" -v b="${SUM_WALL[nl]}" 'BEGIN { printf "%.0f", (b > 0 ? a / b : 0) }')
RPS_RATIO=$(ratio "$RG_RPS" "$EX_RPS")
CEIL_RATIO=$(ratio "$RG_RPS" "$PL_RPS")
assert_eq 0 "${BACKEND_DURING[rg]}" "front A (rcptguard): no back-end connection during the runs (all answers from its cache)"
assert_eq 0 "${BACKEND_DURING[ex]}" "front B (Exim callout): no back-end connection during the runs (all answers from its cache)"
say "   all rounds: rcptguard $RG_RPS RCPT/s, Exim callout cache $EX_RPS RCPT/s, ratio ${RPS_RATIO}x" \
	"(target >= 1.5x: $(target ge "$RPS_RATIO" 1.5))"
say "   ceiling: Exim verifying nothing $PL_RPS RCPT/s; rcptguard reaches ${CEIL_RATIO}x of it (target >= 0.9x: $(target ge "$CEIL_RATIO" 0.9))"
# cpu_rcpt F: CPU µs per RCPT of front F in the rounds (its Exim processes, counted by the kernel).
cpu_rcpt() { awk -v c="${SUM_CPU[$1]}" -v n="${SUM_OK[$1]}" 'BEGIN { if (n > 0) printf "%.1f", c / n; else printf "n/a" }'; }
CPU_RATIO=$(awk -v a="$(cpu_rcpt pl)" -v b="$(cpu_rcpt rg)" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }')
say "   CPU per RCPT in the fronts' Exim processes (less skewed by load than RCPT/s): rcptguard $(cpu_rcpt rg) µs,"
say "   Exim callout $(cpu_rcpt ex) µs, no verification $(cpu_rcpt pl) µs, do-nothing dlfunc $(cpu_rcpt nl) µs;"
say "   the RCPT/s this allows, rcptguard vs no verification: ${CPU_RATIO}x"
say "   floor of any dlfunc module behind the shipped snippets (front D): $NL_RPS RCPT/s = $(ratio "$NL_RPS" "$PL_RPS")x of the"
say "   ceiling; rcptguard reaches $(ratio "$RG_RPS" "$NL_RPS")x of that floor (the rest is Exim's ACL and \${dlfunc} per RCPT)"

# ---------------------------------------------------------------- 2. one cached verdict

hr "2. One cached verdict in the engine: verify_run_recipient() on a warm LMDB cache"
say "   $ITER calls over the 100 addresses front A cached, each timed with clock_gettime (one core)."
out=$("$BIN/verdict_loop" "$TB/rcptguard.conf" "$TB/hot.txt" "$ITER" 2>&1)
if [ $? -ne 0 ]; then
	not ok "verdict_loop: every address answered from the cache"
	diag "$out"
fi
say "   the answer: $(printf '%s\n' "$out" | sed -n 's/^sample_yield=//p')"
vl=$(printf '%s\n' "$out" | grep '^calls=')
V50=$(kv p50_ns "$vl")
V99=$(kv p99_ns "$vl")
say "   p50 $V50 ns, p90 $(kv p90_ns "$vl") ns, p99 $V99 ns, mean $(kv mean_ns "$vl") ns = $(kv per_s "$vl") verdicts/s" \
	"(target p50 < 2 µs: $(target lt "${V50:-x}" 2000))"

# ---------------------------------------------------------------- 3. per-process cost

hr "3. What the module adds to one SMTP connection (fresh process, dlopen, one cached verdict)"
say "   Exim forks a process per connection and dlopen()s the module in it. $FORKS children of"
say "   each kind, interleaved, timed from fork() to waitpid(); stub Exim symbols, the real module:"
out=$("$BIN/module_cost" "$RG_SO" "$HOT1" "config=$TB/rcptguard.conf" "$FORKS" "$BIN/null_dlfunc.so" 2>&1)
if [ $? -ne 0 ]; then
	not ok "module_cost: the module answered pass from the cache in a fresh process"
	diag "$out"
fi
ml=$(printf '%s\n' "$out" | grep '^n=')
fl=$(printf '%s\n' "$out" | grep '^floor:')
pl=$(printf '%s\n' "$out" | grep '^phases:')
prl=$(printf '%s\n' "$out" | grep '^preloaded:')
fal=$(printf '%s\n' "$out" | grep '^faults:')
PRE_US=$(kv preloaded_cost_us "$prl")
MOD_US=$(kv module_us "$ml")
FLOOR_US=$(kv floor_cost_us "$fl")
say "   fork + exit (baseline)                          : $(kv empty_us "$ml") µs (median)"
say "   fork + dlopen(rcptguard.so) + exit              : $(kv dlopen_us "$ml") µs"
say "   fork + dlopen + verify_recipient (cached) + exit: $(kv verify_us "$ml") µs"
say "   fork + dlopen + call of a do-nothing dlfunc .so : $(kv floor_us "$fl") µs (any module's floor here: +$FLOOR_US µs)"
say "   where a verify child's time goes (medians): fork $(kv phase_fork_us "$pl"), dlopen $(kv phase_dlopen_us "$pl")," \
	"first verdict $(kv phase_verdict_us "$pl") (config read, store opened, lookup), exit $(kv phase_exit_us "$pl") µs"
say "   module cost per connection without preload: $MOD_US µs over the baseline, $(kv module_above_floor_us "$fl") µs over a do-nothing module"
say "   with the shipped preload (module mapped and config read in the parent, preload() before each fork, as in Exim's daemon):"
say "   fork + preload() + dlopen (mapped) + verify_recipient (cached) + exit: $(kv preloaded_us "$prl") µs;" \
	"phases: fork $(kv phase_fork_us "$prl"), dlopen $(kv phase_dlopen_us "$prl"), first verdict $(kv phase_verdict_us "$prl"), exit $(kv phase_exit_us "$prl") µs"
say "   page faults per child (medians, not skewed by load): empty $(kv empty "$fal"), do-nothing module $(kv floor "$fal")," \
	"rcptguard $(kv verify "$fal"), rcptguard preloaded $(kv preloaded "$fal")"
say "   module cost per connection with preload: $PRE_US µs over the baseline (target < 200 µs: $(target lt "${PRE_US:-x}" 200))"

# ---------------------------------------------------------------- 3b. whole sessions

hr "3b. Whole Exim sessions with one cached RCPT, with and without verification"
say "   1 client; session: connect, banner, EHLO, MAIL FROM, 1 RCPT TO (cached), RSET, QUIT;"
say "   300 sessions per front, the five fronts in turn (interleaved); medians."
declare -A COST0 COST1
for f in "$PLAIN_PID" "$RG_PID" "$EX_PID" "$NOPRE_PID" "$NULL_PID"; do COST0[$f]=$(tb_exim_cost "$f"); done
out=$(load "$PLAIN_PORT,$RG_PORT,$EX_PORT,$NOPRE_PORT,$NULL_PORT" -c 1 -s 300 -n 1 -f "$TB/hot.txt")
[ $? -eq 0 ] || { not ok "single-RCPT sessions through fronts A, A', B, C, D"; diag "$out"; }
for f in "$PLAIN_PID" "$RG_PID" "$EX_PID" "$NOPRE_PID" "$NULL_PID"; do COST1[$f]=$(tb_exim_cost "$f"); done
# per PID FIELD: the increase of tb_exim_cost's field FIELD (1-4) per session of the run.
per() { awk -v a="${COST0[$1]}" -v b="${COST1[$1]}" -v f="$2" -v n="$(sess_n "$1")" \
	'BEGIN { split(a, x, " "); split(b, y, " "); if (n > 0) printf "%.0f", (y[f] - x[f]) / n; else printf "n/a" }'; }
sess() { printf '%s\n' "$out" | grep "^port=$1 " | tr ' ' '\n' | sed -n 's/^session_us_p50=//p'; }
# sess_n PID: the sessions of the run through that daemon's port.
sess_n() {
	local p=$PLAIN_PORT
	[ "$1" = "$RG_PID" ] && p=$RG_PORT
	[ "$1" = "$EX_PID" ] && p=$EX_PORT
	[ "$1" = "$NOPRE_PID" ] && p=$NOPRE_PORT
	[ "$1" = "$NULL_PID" ] && p=$NULL_PORT
	printf '%s\n' "$out" | grep "^port=$p " | tr ' ' '\n' | sed -n 's/^sessions=//p'
}
SESS_PLAIN=$(sess "$PLAIN_PORT")
SESS_RG=$(sess "$RG_PORT")
SESS_EX=$(sess "$EX_PORT")
SESS_RG_DELTA=$(awk -v a="$SESS_RG" -v b="$SESS_PLAIN" 'BEGIN { printf "%+d", a - b }')
SESS_EX_DELTA=$(awk -v a="$SESS_EX" -v b="$SESS_PLAIN" 'BEGIN { printf "%+d", a - b }')
SESS_NOPRE=$(sess "$NOPRE_PORT")
SESS_NOPRE_DELTA=$(awk -v a="$SESS_NOPRE" -v b="$SESS_PLAIN" 'BEGIN { printf "%+d", a - b }')
SESS_RATIO=$(awk -v a="$SESS_RG_DELTA" -v b="$SESS_EX_DELTA" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }')
say "   no verification (front C)   : $SESS_PLAIN µs"
say "   rcptguard (front A)         : $SESS_RG µs  ($SESS_RG_DELTA µs)"
say "   Exim callout cache (front B): $SESS_EX µs  ($SESS_EX_DELTA µs)"
say "   rcptguard without preload (front A'): $SESS_NOPRE µs  ($SESS_NOPRE_DELTA µs)"
SESS_NULL=$(sess "$NULL_PORT")
say "   do-nothing dlfunc module, shipped snippets (front D): $SESS_NULL µs  ($(awk -v a="$SESS_NULL" -v b="$SESS_PLAIN" 'BEGIN { printf "%+d", a - b }') µs)"
say "   rcptguard's added time / Exim callout cache's: ${SESS_RATIO}x (target <= 1x, aim 0.5x: $(target le "$SESS_RATIO" 1))"
say "   the same sessions, counted in the real Exim processes (a session's process, reaped by its daemon;"
say "   and the daemon's own share, with the preload before each fork), per session:"
printf '     %-38s %10s %8s %12s %8s\n' "" "CPU µs" "faults" "daemon µs" "faults"
for f in "$PLAIN_PID:no verification (C)" "$RG_PID:rcptguard (A)" "$NOPRE_PID:rcptguard without preload (A')" "$EX_PID:Exim callout cache (B)" \
	"$NULL_PID:do-nothing dlfunc module (D)"; do
	printf '     %-38s %10s %8s %12s %8s\n' "${f#*:}" "$(per "${f%%:*}" 1)" "$(per "${f%%:*}" 2)" "$(per "${f%%:*}" 3)" "$(per "${f%%:*}" 4)"
done
EXIM_CPU_ADDED=$(awk -v a="$(per "$RG_PID" 1)" -v b="$(per "$PLAIN_PID" 1)" -v c="$(per "$RG_PID" 3)" -v d="$(per "$PLAIN_PID" 3)" \
	'BEGIN { printf "%+d", (a + c) - (b + d) }')
EXIM_FLT_ADDED=$(awk -v a="$(per "$RG_PID" 2)" -v b="$(per "$PLAIN_PID" 2)" -v c="$(per "$RG_PID" 4)" -v d="$(per "$PLAIN_PID" 4)" \
	'BEGIN { printf "%+d", (a + c) - (b + d) }')
say "   module cost per connection in real Exim (A - C, session process + daemon): CPU $EXIM_CPU_ADDED µs, $EXIM_FLT_ADDED page faults"
# added PID FIELD_PROC FIELD_DAEMON: PID's per-session figure (process + daemon) over front C's.
added() { awk -v a="$(per "$1" "$2")" -v b="$(per "$PLAIN_PID" "$2")" -v c="$(per "$1" "$3")" -v d="$(per "$PLAIN_PID" "$3")" \
	'BEGIN { printf "%+d", (a + c) - (b + d) }'; }
NULL_CPU_ADDED=$(added "$NULL_PID" 1 3)
NULL_FLT_ADDED=$(added "$NULL_PID" 2 4)
say "   any dlfunc module's floor in real Exim (D - C: the preload, the RCPT and QUIT snippets around a module"
say "   that only copies a constant): CPU $NULL_CPU_ADDED µs, $NULL_FLT_ADDED page faults; rcptguard over that floor (A - D):" \
	"CPU $(awk -v a="$EXIM_CPU_ADDED" -v b="$NULL_CPU_ADDED" 'BEGIN { printf "%+d", a - b }') µs," \
	"$(awk -v a="$EXIM_FLT_ADDED" -v b="$NULL_FLT_ADDED" 'BEGIN { printf "%+d", a - b }') page faults"
say "   (CPU time is counted in clock ticks: a figure over 300 sessions is good to about ±$(( 1000000 / $(getconf CLK_TCK) / 300 * 2 )) µs)"

# ---------------------------------------------------------------- 4. connections per message

hr "4. Back-end connections for one message of 50 new recipients (10 domains x 5 mailboxes, one back-end)"
say "   one swaks message (MAIL FROM, 50 RCPT TO, DATA) through each front; connections counted"
say "   in the back-end's main log (log_selector +smtp_connection). The caches know none of them."
declare -A CONN CONN_OK MS
for f in rg ex; do
	port=$RG_PORT
	[ $f = ex ] && port=$EX_PORT
	tb_backend_mark
	t0=$(tb_now_ms)
	timeout 120 swaks --server 127.0.0.1 --port "$port" --helo bench-client.test --from sender@client.test \
		--to "$(paste -sd, "$TB/new50.txt")" --body "benchmark message" >"$TB/swaks.$f.out" 2>&1
	t1=$(tb_now_ms)
	sleep 0.5   # the back-end logs each connection from its own process
	CONN[$f]=$(tb_backend_connections "$BE_USERS")
	CONN_OK[$f]=$(tb_rcpt_parse "$TB/swaks.$f.out" | cut -f 2 | grep -c '^250')
	MS[$f]=$((t1 - t0))
	assert_eq 50 "${CONN_OK[$f]}" "front $f: the 50 new recipients were accepted (250)"
done
say "   rcptguard (front A)         : ${CONN[rg]} back-end connection(s)  (target 1: $(target [ "${CONN[rg]}" = 1 ]); swaks session ${MS[rg]} ms)"
say "   Exim callout (front B)      : ${CONN[ex]} back-end connection(s)  (swaks session ${MS[ex]} ms)"
say "   (Exim 4.96 corks its 221 reply to QUIT: swaks waits ~200 ms for it at the end of its"
say "   session, and Exim's callout waits as long for each back-end connection it closes)"

bash "$BENCH_SRC/ldap.sh" || not ok "LDAP figures (tests/bench/ldap.sh) measured, every answer as expected"

bash "$BENCH_SRC/fcrdns.sh" || not ok "FCrDNS figures (tests/bench/fcrdns.sh) ran and their checks passed"

bash "$BENCH_SRC/list.sh" || not ok "static list figures (tests/bench/list.sh)"

# Greylisting: decisions/s (engine, Exim, postgrey side by side), store bytes per triplet, purge of 1M.
bash "$BENCH_SRC/greylist.sh" || not ok "greylisting benchmark (tests/bench/greylist.sh)"

# The shared store: greylist decisions/s on LMDB, Redis and postgrey; cached verdicts via Redis.
bash "$BENCH_SRC/redis.sh" || not ok "shared store benchmark (tests/bench/redis.sh)"

# ---------------------------------------------------------------- summary

hr "Summary (this run; $(( $(date +%s) - T_START )) s; load average now $(cut -d' ' -f1-3 /proc/loadavg))"
printf '   %-58s %14s %14s %8s\n' "" "rcptguard" "Exim callout" "ratio"
printf '   %-58s %14s %14s %8s\n' "1. cached RCPT/s, $CLIENTS clients x $RCPTS_PER_SESSION RCPT per session" \
	"$RG_RPS" "$EX_RPS" "${RPS_RATIO}x"
printf '   %-58s %14s %14s %8s\n' "2. one cached verdict in the engine, p50 / p99 (ns)" "$V50 / $V99" "-" ""
printf '   %-58s %14s %14s %8s\n' "3. module cost per connection, preload / none (µs; any dlfunc: +$FLOOR_US)" "$PRE_US / $MOD_US" "-" ""
printf '   %-58s %14s %14s %8s\n' "3b. 1-RCPT Exim session, added to no verification (µs)" "$SESS_RG_DELTA" "$SESS_EX_DELTA" ""
printf '   %-58s %14s %14s %8s\n' "4. back-end connections, 1 message, 50 new recipients" "${CONN[rg]}" "${CONN[ex]}" ""
say ""
say "   targets: 1 >= 1.5x: $(target ge "$RPS_RATIO" 1.5); 2 p50 < 2 µs: $(target lt "${V50:-x}" 2000);" \
	"4 = 1 connection: $(target [ "${CONN[rg]}" = 1 ])"

FC_RG=$(res fcrdns_cache_added_us)
FC_EX=$(res fcrdns_exim_added_us)
FC_RATIO=$(awk -v a="$FC_RG" -v b="$FC_EX" 'BEGIN { if (b > 0 && a != "") printf "%.2f", a / b; else printf "n/a" }')
GL_RATIO=$(res greylist_new_engine_over_postgrey)
say ""
say "   issue 11: cheaper than Exim's own checks (the four comparisons, this run)"
printf '   %-58s %14s %14s %8s  %s\n' "" "rcptguard" "Exim" "ratio" "target"
printf '   %-58s %14s %14s %8s  %s\n' "module cost per connection, with preload (µs over fork)" "$PRE_US" "-" "" \
	"< 200 µs: $(target lt "${PRE_US:-x}" 200) (without preload: $MOD_US)"
printf '   %-58s %14s %14s %8s  %s\n' "  the same in real Exim: CPU µs / page faults over no check" "$EXIM_CPU_ADDED / $EXIM_FLT_ADDED" "-" "" \
	"< 200 µs: $(target le "${EXIM_CPU_ADDED#+}" 199) (do-nothing dlfunc: $NULL_CPU_ADDED / $NULL_FLT_ADDED)"
printf '   %-58s %14s %14s %8s  %s\n' "1-RCPT session, cached, added to no verification (µs)" "$SESS_RG_DELTA" "$SESS_EX_DELTA" "${SESS_RATIO}x" \
	"<= 1x (aim 0.5x): $(target le "$SESS_RATIO" 1)"
printf '   %-58s %14s %14s %8s  %s\n' "connect->banner, cached FCrDNS vs reverse_host_lookup (µs)" "${FC_RG:-n/a}" "${FC_EX:-n/a}" "${FC_RATIO}x" \
	"<= 1x: $(target le "$FC_RATIO" 1)"
FCC_RG=$(res fcrdns_cache_cpu_added_us)
FCC_EX=$(res fcrdns_exim_cpu_added_us)
printf '   %-58s %14s %14s %8s  %s\n' "  the same, CPU µs added per connection in real Exim" "${FCC_RG:-n/a}" "${FCC_EX:-n/a}" \
	"$(awk -v a="$FCC_RG" -v b="$FCC_EX" 'BEGIN { if (b > 0 && a != "") printf "%.2fx", a / b; else printf "n/a" }')" ""
printf '   %-58s %14s %14s %8s  %s\n' "100-RCPT sessions, $CLIENTS clients, RCPT/s vs no verification" "$RG_RPS" "$PL_RPS" "${CEIL_RATIO}x" \
	">= 0.9x: $(target ge "$CEIL_RATIO" 0.9)"
printf '   %-58s %14s %14s %8s  %s\n' "  the same, CPU µs per RCPT (the inverse ratio)" "$(cpu_rcpt rg)" "$(cpu_rcpt pl)" "${CPU_RATIO}x" \
	">= 0.9x: $(target ge "$CPU_RATIO" 0.9) (do-nothing dlfunc: $(cpu_rcpt nl) µs)"
printf '   %-58s %14s %14s %8s  %s\n' "  the same, vs a do-nothing dlfunc behind the same snippets" "$RG_RPS" "$NL_RPS" "$(ratio "$RG_RPS" "$NL_RPS")x" \
	"(the snippets' own floor: $(ratio "$NL_RPS" "$PL_RPS")x)"
printf '   %-58s %14s %14s %8s  %s\n' "greylisting new triplets, engine vs postgrey (decisions/s)" "$(res greylist_new_engine_per_s)" "$(res greylist_new_postgrey_per_s)" "${GL_RATIO:-n/a}x" \
	">= 5x: $(target ge "${GL_RATIO:-x}" 5)"
say "   (load average now $(cut -d' ' -f1-3 /proc/loadavg): other work on this machine skews the timings; the page"
say "   fault counts of figure 3 do not move with load)"
