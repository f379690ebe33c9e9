#!/usr/bin/env bash
# redis.sh - the shared store's figures ("make bench" runs it from tests/bench/run.sh; it
# also runs alone as root: bash tests/bench/redis.sh).
#
#   1. greylist decisions per second for new, retried and known triplets, side by side:
#      the engine (greylist_run(), gl_bench.c) on LMDB, the engine on Redis over a unix
#      socket, and postgrey (Postfix policy protocol over one connection, policyload.py).
#   2. one cached verdict through Redis: verify_run_recipient() (verdict_loop.c), p50/p99,
#      beside the same on LMDB.
#   3. the added cost of the Redis connection per Exim connection: a fresh process that
#      dlopen()s the module and answers one cached verdict (module_cost.c), Redis vs LMDB,
#      without the preload and with the shipped one (hiredis mapped in Exim's daemon).
#
# Knobs: RB_N (triplets per phase, default 5000), RB_ITER (verdict calls, 100000),
# RB_FORKS (children per kind, 300). Every figure printed is measured by this run.
BENCH_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_SRC/../.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
	echo "redis bench: must run as root (it starts throwaway Exim, Redis and postgrey daemons)" >&2
	exit 1
fi
. "$REPO/tests/lib/testbed.sh"
. "$REPO/tests/lib/redis.sh"

N=${RB_N:-5000}
ITER=${RB_ITER:-100000}
FORKS=${RB_FORKS:-300}
DELAY=1
say() { printf '%s\n' "$*"; }
kv() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }
ph() { printf '%s\n' "$2" | grep "^phase=$1 " | head -n 1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else printf "n/a" }'; }
lt() { [[ "$1" =~ ^-?[0-9]+(\.[0-9]+)?$ ]] && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
ge() { [[ "$1" =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
target() { if "$@"; then printf 'met'; else printf 'MISSED'; fi; }

say ""
say "== Shared store: Redis $(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p') over a unix socket vs LMDB vs postgrey"
BIN=$TB/bin
mkdir -p "$BIN"
CFL=$(make -s --no-print-directory -C "$REPO" --eval 'p: ; @echo $(ALL_CFLAGS)' p)
LIBS=$(make -s --no-print-directory -C "$REPO" --eval 'p: ; @echo $(LIBS)' p)
EXIM_INC=${EXIM_INC:-/usr/include/exim4}
# shellcheck disable=SC2086
( cd "$REPO" && cc $CFL -o "$BIN/gl_bench" tests/bench/gl_bench.c build/librgcore.a $LIBS &&
  cc $CFL -o "$BIN/verdict_loop" tests/bench/verdict_loop.c build/librgcore.a $LIBS &&
  cc $CFL -I"$EXIM_INC" -rdynamic -o "$BIN/module_cost" tests/bench/module_cost.c -ldl &&
  cc $CFL -I"$EXIM_INC" -shared -o "$BIN/null_dlfunc.so" tests/bench/null_dlfunc.c ) >"$TB/cc.out" 2>&1 ||
	{ cat "$TB/cc.out"; bail "the Redis benchmark programs do not compile"; }

tb_redis_start bench
tb_backend
mkdir -p "$TB/lmdb-state" "$TB/redis-state"
chown "$TB_EXIM_USER:$TB_EXIM_USER" "$TB/lmdb-state" "$TB/redis-state"
for m in lmdb redis; do
	{
		echo "state_dir = $TB/$m-state"
		echo "greylist_delay = ${DELAY}s"
		echo "greylist_awl_after = 0"
		echo "hosts = 127.0.0.1:$BE_USERS"
		if [ $m = redis ]; then
			echo "store = redis"
			echo "redis_uri = $(tb_redis_uri bench)"
		fi
	} >"$TB/$m.conf"
	chmod 0644 "$TB/$m.conf"
done

# ---- 1. greylist decisions/s
for m in lmdb redis; do
	out=$(timeout 300 "$BIN/gl_bench" engine "$TB/$m.conf" "$N" "$DELAY.05" 2>&1)
	[ $? -eq 0 ] && ok "engine on $m: every answer as expected (defer, pass, pass)" ||
		{ not ok "engine on $m: the triplet stream"; diag "$out"; }
	printf -v "GL_$m" '%s' "$out"
done
assert_num "$(tb_redis_cli bench DBSIZE)" -ge "$N" "the Redis run wrote its triplets to Redis"
read -r PGPORT <<<"$(tb_free_ports 1)"
mkdir -p "$TB/postgrey"
chown postgrey "$TB/postgrey" 2>/dev/null
setsid postgrey --inet="127.0.0.1:$PGPORT" --dbdir="$TB/postgrey" --delay="$DELAY" --auto-whitelist-clients=0 \
	--user=postgrey </dev/null >"$TB/postgrey.out" 2>&1 &
tb_track $!
tb_wait_listen $! 10 "$PGPORT" || bail "postgrey did not start: $(tail -n 5 "$TB/postgrey.out")"
PG=$(timeout 300 python3 "$BENCH_SRC/policyload.py" "$PGPORT" "$N" "$DELAY.05" 2>&1)
[ $? -eq 0 ] && ok "postgrey: every answer as expected" || { not ok "postgrey stream"; diag "$PG"; }

say "   1. greylist decisions per second, one process, N=$N triplets per phase (higher is better)"
printf '   %-10s %12s %12s %12s %12s\n' "phase" "LMDB" "Redis unix" "postgrey" "Redis/pg"
for p in new retry known; do
	l=$(kv per_s "$(ph $p "$GL_lmdb")"); r=$(kv per_s "$(ph $p "$GL_redis")"); g=$(kv per_s "$(ph $p "$PG")")
	printf '   %-10s %12s %12s %12s %11sx\n' "$p" "$l" "$r" "$g" "$(ratio "$r" "$g")"
done
RNEW=$(ratio "$(kv per_s "$(ph new "$GL_redis")")" "$(kv per_s "$(ph new "$PG")")")
say "   Redis new triplets vs postgrey: ${RNEW}x (target >= 10x: $(target ge "$RNEW" 10))"
say "   (a decision on Redis is one script, EVALSHA: one round trip; LMDB: two reads and, for"
say "   new and retried triplets, one write transaction; postgrey: one policy request over TCP)"

# ---- 2. cached verdict through Redis
: >"$TB/hot.txt"
for d in $(seq -w 1 20); do
	for u in alice bob user1 user2 user3; do echo "$u@d$d.test"; done
done >"$TB/hot.txt"
for m in lmdb redis; do
	warm=0
	while read -r a; do
		"$RG_CTL" -c "$TB/$m.conf" check "$a" >/dev/null 2>&1 && warm=$((warm + 1))
	done <"$TB/hot.txt"
	assert_eq 100 "$warm" "$m: 100 verdicts learned by callout (cache warm)"
	out=$(timeout 300 "$BIN/verdict_loop" "$TB/$m.conf" "$TB/hot.txt" "$ITER" 2>&1)
	[ $? -eq 0 ] && ok "verdict_loop on $m: every answer from the cache" || { not ok "verdict_loop on $m"; diag "$out"; }
	printf -v "VL_$m" '%s' "$(printf '%s\n' "$out" | grep '^calls=')"
done
V50=$(kv p50_ns "$VL_redis")
say ""
say "   2. one cached verdict, verify_run_recipient(), $ITER calls (ns)"
printf '   %-10s %10s %10s %10s %12s\n' "store" "p50" "p90" "p99" "verdicts/s"
for m in lmdb redis; do
	v=VL_$m
	printf '   %-10s %10s %10s %10s %12s\n' "$m" "$(kv p50_ns "${!v}")" "$(kv p90_ns "${!v}")" "$(kv p99_ns "${!v}")" "$(kv per_s "${!v}")"
done
say "   Redis p50 $(awk -v n="$V50" 'BEGIN { printf "%.1f", n / 1000 }') µs (target < 100 µs: $(target lt "${V50:-x}" 100000))"

# ---- 3. the Redis connection per Exim connection
# Two ways a child starts: the module dlopen()ed afresh (no preload), and the shipped
# preload (acl-snippets/rcptguard-main.conf: the daemon loads the module, reads the config
# and maps hiredis before it forks; the child connects on first use).
HOT1=$(head -n 1 "$TB/hot.txt")
# redis2: the same server listed twice in redis_uri, so that each connection asks ROLE
# (several URIs: the first primary is used): what that round trip costs.
sed "s|^redis_uri = .*|redis_uri = $(tb_redis_uri bench) $(tb_redis_uri bench)|" "$TB/redis.conf" >"$TB/redis2.conf"
chmod 0644 "$TB/redis2.conf"
for m in lmdb redis redis2; do
	"$BIN/module_cost" "$RG_SO" "$HOT1" "config=$TB/$m.conf" "$FORKS" "$BIN/null_dlfunc.so" >"$TB/mc.$m" 2>&1
	[ $? -eq 0 ] && ok "module_cost on $m: a fresh process answered from the cache" ||
		{ not ok "module_cost on $m"; diag "$(cat "$TB/mc.$m")"; }
done
# mc MEMBER LINE FIELD: a figure of module_cost's output (LINE: "n=", "preloaded:", "cpu:", "phases:").
mc() { grep "^$2" "$TB/mc.$1" | head -n 1 | tr ' ' '\n' | sed -n "s/^$3=//p" | head -n 1; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print "n/a"; else printf "%d", a - b }'; }
say ""
say "   3. a fresh process per SMTP connection (fork, module, first cached verdict, exit),"
say "      medians of $FORKS children, µs (load: $(cut -d' ' -f1-3 /proc/loadavg))"
printf '      %-44s %9s %9s %9s\n' "" "LMDB" "Redis" "added"
row() { printf '      %-44s %9s %9s %9s\n' "$1" "$2" "$3" "$(sub "$3" "$2")"; }
row "no preload: whole child (dlopen in the child)" "$(mc lmdb n= verify_us)" "$(mc redis n= verify_us)"
row "no preload: its first verdict (store set-up)" "$(mc lmdb phases: phase_verdict_us)" "$(mc redis phases: phase_verdict_us)"
row "shipped preload: whole child" "$(mc lmdb preloaded: preloaded_us)" "$(mc redis preloaded: preloaded_us)"
row "shipped preload: its first verdict" "$(mc lmdb preloaded: phase_verdict_us)" "$(mc redis preloaded: phase_verdict_us)"
printf '      %-44s %9s %9s %9s\n' "shipped preload, two URIs (ROLE at connect)" "$(mc lmdb preloaded: preloaded_us)" \
	"$(mc redis2 preloaded: preloaded_us)" "$(sub "$(mc redis2 preloaded: preloaded_us)" "$(mc lmdb preloaded: preloaded_us)")"
row "CPU time of a child, no preload" "$(mc lmdb cpu: verify_us)" "$(mc redis cpu: verify_us)"
row "CPU time of a child, shipped preload" "$(mc lmdb cpu: preloaded_us)" "$(mc redis cpu: preloaded_us)"
ADD0=$(sub "$(mc redis n= verify_us)" "$(mc lmdb n= verify_us)")
ADD=$(sub "$(mc redis preloaded: preloaded_us)" "$(mc lmdb preloaded: preloaded_us)")
say "      the Redis connection (connect on first use, one GET; hiredis mapped by the preload)"
say "      adds $ADD µs per Exim connection with the shipped preload (target < 100 µs: $(target lt "$ADD" 100)),"
say "      $ADD0 µs without it (the child then dlopen()s hiredis itself); on a loaded machine the"
say "      wall-clock rows are noise (a round trip waits for the scheduler): read the CPU rows"
say ""
say "   summary: greylist new/retry/known on Redis $(kv per_s "$(ph new "$GL_redis")")/$(kv per_s "$(ph retry "$GL_redis")")/$(kv per_s "$(ph known "$GL_redis")")/s" \
	"(postgrey $(kv per_s "$(ph new "$PG")")/$(kv per_s "$(ph retry "$PG")")/$(kv per_s "$(ph known "$PG")")/s);" \
	"cached verdict p50/p99 $(kv p50_ns "$VL_redis")/$(kv p99_ns "$VL_redis") ns; connection +$ADD µs"
