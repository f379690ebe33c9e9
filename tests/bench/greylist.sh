#!/usr/bin/env bash
# greylist.sh - greylisting figures ("make bench" runs it from tests/bench/run.sh; it also
# runs alone as root: bash tests/bench/greylist.sh).
#
#   1. decisions per second on one triplet stream (client 127.0.0.1, sender
#      bench@client.test, N recipients), in three phases - new (all deferred), retried
#      after the delay (all pass), known (all pass) - side by side:
#        a. the engine: greylist_run(), the call behind ${dlfunc{...}{greylist}} that Exim
#           makes per RCPT, in one long-lived process (gl_bench.c), as a process serving a
#           100-RCPT session does; twice: greylist_sync = no (the default: greylist.mdb
#           commits without fsync) and yes (one fsync per new or retried triplet, as every
#           greylist write was before greylist.mdb). Each the median of GL_RUNS runs: a
#           synced commit's time on a shared virtual disk varies several-fold from one
#           second to the next (that, not the clients, is why two benches minutes apart
#           disagreed 2x last session: both ran this same program);
#        b. a real Exim session: a front Exim with the shipped greylisting snippet,
#           rcptload clients (SMTP, 100 RCPT TO per session);
#        c. postgrey (Debian's package) on loopback, asked over the Postfix policy protocol
#           over one connection (policyload.py), with its auto-whitelist off like ours.
#   2. store bytes per triplet at 1,000,000 triplets (written straight into the store file).
#   3. purge of those 1,000,000 expired triplets (rcptguardctl purge) while another process
#      keeps deciding on live triplets: purge time, and lookup latency before and during.
#
# Knobs: GL_N (stream length, default 5000), GL_FILL (default 1000000), GL_CLIENTS (8),
# GL_RUNS (engine runs per mode, default 3).
# Every figure printed is measured by this run; every step is bounded (timeout).
BENCH_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_SRC/../.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
	echo "greylist bench: must run as root (it starts throwaway Exim and postgrey daemons)" >&2
	exit 1
fi
. "$REPO/tests/lib/testbed.sh"

N=${GL_N:-5000}
FILL=${GL_FILL:-1000000}
CLIENTS=${GL_CLIENTS:-8}
RUNS=${GL_RUNS:-3}
DELAY=1
say() { printf '%s\n' "$*"; }
kv() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }
ph() { printf '%s\n' "$2" | grep "^phase=$1 " | head -n 1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else printf "n/a" }'; }

say ""
say "== Greylisting (N=$N triplets per phase, delay ${DELAY}s, auto-whitelist off on both sides)"
BIN=$TB/bin
mkdir -p "$BIN"
CFL=$(make -s --no-print-directory -C "$REPO" --eval 'p: ; @echo $(ALL_CFLAGS)' p)
LIBS=$(make -s --no-print-directory -C "$REPO" --eval 'p: ; @echo $(LIBS)' p)
# shellcheck disable=SC2086
( cd "$REPO" && cc $CFL -o "$BIN/gl_bench" tests/bench/gl_bench.c build/librgcore.a $LIBS &&
  cc $CFL -o "$BIN/rcptload" tests/bench/rcptload.c ) >"$TB/cc.out" 2>&1 ||
	{ cat "$TB/cc.out"; bail "the greylisting benchmark programs do not compile"; }
: >"$TB/rcpts.txt"
for i in $(seq 0 $((N - 1))); do echo "r$i@d$((i % 100)).test"; done >"$TB/rcpts.txt"

# ---- 1a. the engine, greylist_sync = no (ENG) and yes (ENGS): per phase the median of RUNS
# runs, each on a fresh state dir.
engine_runs() {
	local sync=$1 run out all="" p
	for run in $(seq 1 "$RUNS"); do
		rm -rf "$TB/engine-state"
		mkdir -p "$TB/engine-state"
		printf 'state_dir = %s\ngreylist_delay = %ss\ngreylist_awl_after = 0\ngreylist_sync = %s\n' \
			"$TB/engine-state" "$DELAY" "$sync" >"$TB/engine.conf"
		out=$(timeout 300 "$BIN/gl_bench" engine "$TB/engine.conf" "$N" "$DELAY.05" 2>&1) ||
			{ printf 'error\n%s\n' "$out"; return 1; }
		all+=$out$'\n'
	done
	for p in new retry known; do
		printf 'phase=%s per_s=%s runs=%s\n' "$p" \
			"$(printf '%s' "$all" | grep "^phase=$p " | sed -n 's/.*per_s=\([0-9]*\).*/\1/p' | sort -n |
				awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')" \
			"$(printf '%s' "$all" | grep "^phase=$p " | sed -n 's/.*per_s=\([0-9]*\).*/\1/p' | paste -sd/)"
	done
}
LOAD_BEFORE=$(cut -d ' ' -f 1-3 /proc/loadavg)
ENG=$(engine_runs no)
[ $? -eq 0 ] && ok "engine, greylist_sync = no: every answer as expected (defer, pass, pass), $RUNS runs" ||
	{ not ok "engine stream, greylist_sync = no"; diag "$ENG"; }
ENGS=$(engine_runs yes)
[ $? -eq 0 ] && ok "engine, greylist_sync = yes: every answer as expected, $RUNS runs" ||
	{ not ok "engine stream, greylist_sync = yes"; diag "$ENGS"; }

# ---- 1b. a real Exim session
TB_FRONT_RCPT_SNIPPET=$TB_SNIPPETS/rcptguard-greylist.conf
tb_conf <<EOF
greylist_delay = ${DELAY}s
greylist_awl_after = 0
EOF
tb_front "hostlist relay_from_hosts =
RCPTGUARD_GREYLIST_HOSTNAME =="
# Each client its own share of the stream (rcptload's clients would overlap), sessions of
# per_session RCPTs; the phase's rate = all RCPTs / the slowest client's wall time.
per_client=$(( N / CLIENTS ))
per_session=$(( per_client % 125 == 0 ? 125 : (per_client % 100 == 0 ? 100 : per_client) ))
sessions=$(( per_client / per_session ))
head -n $((per_client * CLIENTS)) "$TB/rcpts.txt" | split -l "$per_client" -d -a 3 - "$TB/rcpts.part."
exim_phase() {
	local name=$1 part pids=() rcpts=0 okc=0 badc=0 wall=0 out
	for part in "$TB"/rcpts.part.???; do
		timeout 120 "$BIN/rcptload" -p "$FRONT_PORT" -c 1 -s "$sessions" -n "$per_session" -f "$part" >"$part.out" 2>&1 &
		pids+=($!)
	done
	wait "${pids[@]}"
	for part in "$TB"/rcpts.part.???; do
		out=$(head -n 1 "$part.out")
		rcpts=$((rcpts + $(kv rcpts "$out"))); okc=$((okc + $(kv ok "$out"))); badc=$((badc + $(kv bad "$out")))
		wall=$(awk -v a="$wall" -v b="$(kv wall_s "$out")" 'BEGIN { print (b > a ? b : a) }')
	done
	printf 'phase=%s decisions=%s ok=%s bad=%s per_s=%s\n' "$name" "$rcpts" "$okc" "$badc" \
		"$(awk -v r="$rcpts" -v w="$wall" 'BEGIN { if (w > 0) printf "%.0f", r / w }')"
}
EXN=$(exim_phase new)
sleep "$DELAY.05"
EXR=$(exim_phase retry)
EXK=$(exim_phase known)
EXIM="$EXN"$'\n'"$EXR"$'\n'"$EXK"
total=$((CLIENTS * sessions * per_session))
[ $total -eq "$N" ] || say "   (the Exim phases use $total of the $N triplets: N is not a multiple of $CLIENTS clients)"
[ "$(kv bad "$EXN")" = "$total" ] && [ "$(kv ok "$EXR")" = "$total" ] && [ "$(kv ok "$EXK")" = "$total" ] &&
	ok "Exim: $total RCPTs per phase, all 451 when new, all 250 on retry and when known" ||
	{ not ok "Exim phases answered as expected"; diag "$EXIM"; }

# ---- 1c. postgrey
read -r PGPORT <<<"$(tb_free_ports 1)"
mkdir -p "$TB/postgrey"
chown postgrey "$TB/postgrey" 2>/dev/null
setsid postgrey --inet="127.0.0.1:$PGPORT" --dbdir="$TB/postgrey" --delay="$DELAY" --auto-whitelist-clients=0 \
	--user=postgrey </dev/null >"$TB/postgrey.out" 2>&1 &
tb_track $!
tb_wait_listen $! 10 "$PGPORT" || bail "postgrey did not start: $(tail -n 5 "$TB/postgrey.out")"
PG=$(timeout 300 python3 "$BENCH_SRC/policyload.py" "$PGPORT" "$N" "$DELAY.05" 2>&1)
[ $? -eq 0 ] && ok "postgrey: every answer as expected" || { not ok "postgrey stream"; diag "$PG"; }

say "   decisions per second (higher is better; load average $LOAD_BEFORE at the start, $(cut -d ' ' -f 1-3 /proc/loadavg) now)"
printf '   %-8s %14s %14s %12s %12s %10s %10s %10s\n' "phase" "engine sync=no" "engine sync=yes" "Exim+module" \
	"postgrey" "no/pg" "yes/pg" "Exim/pg"
for p in new retry known; do
	e=$(kv per_s "$(ph $p "$ENG")"); es=$(kv per_s "$(ph $p "$ENGS")")
	x=$(kv per_s "$(ph $p "$EXIM")"); g=$(kv per_s "$(ph $p "$PG")")
	printf '   %-8s %14s %14s %12s %12s %9sx %9sx %9sx\n' "$p" "$e" "$es" "$x" "$g" "$(ratio "$e" "$g")" \
		"$(ratio "$es" "$g")" "$(ratio "$x" "$g")"
done
say "   engine runs (per_s of each): new $(kv runs "$(ph new "$ENG")") (sync=no), $(kv runs "$(ph new "$ENGS")") (sync=yes)"
say "   (engine: greylist_run() in one process, as Exim calls it per RCPT, the median of $RUNS runs."
say "   greylist_sync = no: greylist.mdb commits without fsync (a crash sets it aside, see"
say "   rcptguard.conf(5)); yes: one fsync per new or retried triplet. Exim: the default (no),"
say "   $CLIENTS parallel SMTP clients, $per_session RCPT per session; postgrey: one policy"
say "   connection, as one Postfix smtpd process uses. Known triplets are read only.)"

# ---- 2. store bytes per triplet at 1M
mkdir -p "$TB/fill-state"
FL=$(timeout 120 "$BIN/gl_bench" fill "$TB/fill-state" "$FILL" 2>&1)
[ $? -eq 0 ] && ok "store filled with $FILL expired + 1000 live triplets" || { not ok "fill"; diag "$FL"; }
say ""
say "   store at $(kv triplets "$FL") triplets: $(kv file_bytes "$FL") bytes, $(kv bytes_per_triplet "$FL") bytes per triplet" \
	"(key + value of one record: $(kv record_bytes "$FL") bytes; the rest is B-tree pages)"

# ---- 3. purge 1M expired triplets while lookups continue
printf 'state_dir = %s\ngreylist_delay = %ss\ngreylist_awl_after = 0\n' "$TB/fill-state" "$DELAY" >"$TB/fill.conf"
BASE=$(timeout 30 "$BIN/gl_bench" lookups "$TB/fill.conf" 2 2>&1)
rm -f "$TB/stop"
timeout 120 "$BIN/gl_bench" lookups "$TB/fill.conf" 100 "$TB/stop" >"$TB/during.out" 2>&1 &
LPID=$!
sleep 0.3
t0=$(tb_now_ms)
PU=$(timeout 120 "$RG_CTL" -c "$TB/fill.conf" purge 2>&1)
prc=$?
t1=$(tb_now_ms)
touch "$TB/stop"
wait "$LPID"
DUR=$(cat "$TB/during.out")
[ $prc -eq 0 ] && grep -q "^purged $FILL triplet" <<<"$PU" && ok "purge removed the $FILL expired triplets" ||
	{ not ok "purge removed the $FILL expired triplets"; diag "$PU"; }
[ "$(kv bad "$DUR")" = 0 ] && ok "every lookup during the purge answered pass" || { not ok "lookups during purge"; diag "$DUR"; }
LEFT=$("$RG_CTL" -c "$TB/fill.conf" --json stats | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["triplets_passing"], d["triplets_expired"])')
assert_eq "1000 0" "$LEFT" "after the purge: the 1000 live triplets remain, no expired one"
say ""
say "   purge of $FILL expired triplets (rcptguardctl purge, batches of 1000): $(( t1 - t0 )) ms"
say "   lookups meanwhile: $(kv lookups "$DUR") decisions, p50 $(kv p50_us "$DUR") µs, p99 $(kv p99_us "$DUR") µs," \
	"p99.9 $(kv p999_us "$DUR") µs, max $(kv max_us "$DUR") µs"
say "   lookups before  : p50 $(kv p50_us "$BASE") µs, p99 $(kv p99_us "$BASE") µs, max $(kv max_us "$BASE") µs"
known_e=$(kv per_s "$(ph known "$ENG")"); known_g=$(kv per_s "$(ph known "$PG")")
say ""
say "   summary: known triplets engine/postgrey $(ratio "$known_e" "$known_g")x," \
	"Exim/postgrey $(ratio "$(kv per_s "$(ph known "$EXIM")")" "$known_g")x;" \
	"new triplets engine/postgrey $(ratio "$(kv per_s "$(ph new "$ENG")")" "$(kv per_s "$(ph new "$PG")")")x (target >= 5x;" \
	"with greylist_sync = yes $(ratio "$(kv per_s "$(ph new "$ENGS")")" "$(kv per_s "$(ph new "$PG")")")x)"
# For the summary of tests/bench/run.sh.
if [ -n "${BENCH_RESULTS:-}" ]; then
	printf 'greylist_new_engine_per_s=%s\ngreylist_new_postgrey_per_s=%s\ngreylist_new_engine_over_postgrey=%s\n' \
		"$(kv per_s "$(ph new "$ENG")")" "$(kv per_s "$(ph new "$PG")")" \
		"$(ratio "$(kv per_s "$(ph new "$ENG")")" "$(kv per_s "$(ph new "$PG")")")" >>"$BENCH_RESULTS"
	printf 'greylist_new_engine_sync_per_s=%s\n' "$(kv per_s "$(ph new "$ENGS")")" >>"$BENCH_RESULTS"
fi
