# redis.sh - throwaway Redis servers for tests, benchmarks and the demo (sourced after
# testbed.sh, or with TB set by the caller).
# shellcheck shell=bash
#
#     . "$(dirname "$0")/../lib/testbed.sh"
#     . "$(dirname "$0")/../lib/redis.sh"
#     tb_redis_start main                 # $TB/redis-main: unix socket + a loopback port
#     tb_redis_start replica main         # a replica of "main"
#     tb_redis_cli main SET k v
#
# Each server: the Debian redis-server binary (never the system daemon), its own folder
# $TB/redis-NAME with its unix socket (redis.sock, mode 0777 so Exim's user can use it)
# and a port on 127.0.0.1 chosen at run time, --save "" --appendonly no (nothing is
# written to disk), in its own process group, registered with the test bed (stopped at
# exit, also when paused).
#
# Variables set per NAME (upper-cased): REDIS_<NAME>_SOCK REDIS_<NAME>_PORT REDIS_<NAME>_PID
# Functions: tb_redis_start NAME [PRIMARY_NAME], tb_redis_stop NAME, tb_redis_kill NAME
#            (SIGKILL), tb_redis_restart NAME (same socket and port, empty, no scripts),
#            tb_redis_pause NAME / tb_redis_resume NAME (SIGSTOP/SIGCONT), tb_redis_cli NAME ARGS,
#            tb_redis_promote NAME (REPLICAOF NO ONE), tb_redis_uri NAME [unix|tcp]

for _rd_tool in redis-server redis-cli; do
	command -v "$_rd_tool" >/dev/null 2>&1 || {
		echo "Bail out! ${TB_NAME:-redis}: $_rd_tool is missing (bash tests/deps.sh installs redis-server)"
		exit 2
	}
done

# _tb_redis_var NAME FIELD: the variable name REDIS_<NAME>_<FIELD>.
_tb_redis_var() {
	local n=${1^^}
	echo "REDIS_${n//[^A-Z0-9]/_}_$2"
}

# _tb_redis_run NAME PORT [PRIMARY_PORT]: start the server (background), set its PID variable.
_tb_redis_run() {
	local name=$1 port=$2 primary=${3:-} dir="$TB/redis-$1" pid
	local -a args=(--port "$port" --bind 127.0.0.1 --unixsocket "$dir/redis.sock" --unixsocketperm 777
		--save "" --appendonly no --dir "$dir" --logfile "$dir/redis.log" --daemonize no
		--protected-mode no)
	[ -n "$primary" ] && args+=(--replicaof 127.0.0.1 "$primary")
	setsid redis-server "${args[@]}" </dev/null >>"$dir/redis.out" 2>&1 &
	pid=$!
	if declare -F tb_track >/dev/null; then tb_track "$pid"; fi
	printf -v "$(_tb_redis_var "$name" PID)" '%s' "$pid"
	local i
	for i in $(seq 1 100); do
		[ -S "$dir/redis.sock" ] && redis-cli -s "$dir/redis.sock" PING 2>/dev/null | grep -q PONG && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "# redis-server $name did not start:" >&2
	tail -n 5 "$dir/redis.log" "$dir/redis.out" 2>/dev/null | sed 's/^/# /' >&2
	return 1
}

# tb_redis_start NAME [PRIMARY_NAME]: a server (a replica of PRIMARY_NAME when given).
tb_redis_start() {
	local name=$1 primary=${2:-} dir="$TB/redis-$1" port pport=
	mkdir -p "$dir"
	chmod 0755 "$dir"
	read -r port <<<"$(tb_free_ports 1)"
	printf -v "$(_tb_redis_var "$name" PORT)" '%s' "$port"
	printf -v "$(_tb_redis_var "$name" SOCK)" '%s' "$dir/redis.sock"
	if [ -n "$primary" ]; then
		local pv
		pv=$(_tb_redis_var "$primary" PORT)
		pport=${!pv}
	fi
	echo "$pport" >"$dir/primary"
	_tb_redis_run "$name" "$port" "$pport" || { declare -F bail >/dev/null && bail "redis-server $name started"; return 1; }
	if [ -n "$primary" ]; then
		local i
		for i in $(seq 1 100); do
			tb_redis_cli "$name" INFO replication | grep -q 'master_link_status:up' && return 0
			sleep 0.05
		done
		declare -F bail >/dev/null && bail "redis replica $name linked to $primary"
		return 1
	fi
}

# tb_redis_cli NAME ARGS...: redis-cli over NAME's socket.
tb_redis_cli() {
	local v
	v=$(_tb_redis_var "$1" SOCK)
	shift
	redis-cli -s "${!v}" "$@"
}

# tb_redis_uri NAME [unix|tcp]: the redis_uri for NAME.
tb_redis_uri() {
	local s p
	s=$(_tb_redis_var "$1" SOCK)
	p=$(_tb_redis_var "$1" PORT)
	if [ "${2:-unix}" = tcp ]; then echo "redis://127.0.0.1:${!p}/0"; else echo "unix:${!s}"; fi
}

# tb_redis_stop NAME: stop it (CONT first: a paused server would not see the TERM).
tb_redis_stop() {
	local v
	v=$(_tb_redis_var "$1" PID)
	[ -n "${!v:-}" ] || return 0
	kill -CONT "${!v}" 2>/dev/null
	if declare -F tb_stop >/dev/null; then tb_stop "${!v}"; else kill -TERM "${!v}" 2>/dev/null; wait "${!v}" 2>/dev/null; fi
	printf -v "$v" '%s' ""
}

# tb_redis_kill NAME: SIGKILL (no shutdown, like a crash); the socket file stays behind.
tb_redis_kill() {
	local v
	v=$(_tb_redis_var "$1" PID)
	[ -n "${!v:-}" ] || return 0
	kill -KILL "${!v}" 2>/dev/null
	wait "${!v}" 2>/dev/null
	printf -v "$v" '%s' ""
}

# tb_redis_restart NAME: start NAME again on its socket and port (empty: no data, no scripts).
tb_redis_restart() {
	local name=$1 dir="$TB/redis-$1" p
	p=$(_tb_redis_var "$name" PORT)
	rm -f "$dir/redis.sock"
	_tb_redis_run "$name" "${!p}" "$(cat "$dir/primary")"
}

# tb_redis_pause NAME / tb_redis_resume NAME: SIGSTOP / SIGCONT (accepts, never answers).
tb_redis_pause() {
	local v
	v=$(_tb_redis_var "$1" PID)
	kill -STOP "${!v}"
}
tb_redis_resume() {
	local v
	v=$(_tb_redis_var "$1" PID)
	kill -CONT "${!v}"
}

# tb_redis_promote NAME: make a replica a primary (what Sentinel or an operator does).
tb_redis_promote() {
	tb_redis_cli "$1" REPLICAOF NO ONE >/dev/null
	echo "" >"$TB/redis-$1/primary"
}
