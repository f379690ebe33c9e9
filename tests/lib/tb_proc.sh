# tb_proc.sh - the test bed's processes: the throwaway folder, free ports, starting and
# stopping servers, the exit trap, tmpfs mounts, option checking.
#
# Part of the test bed (sourced by testbed.sh, never alone). tb_setup, called once by
# testbed.sh, checks the machine (root, tools, the Exim user), makes $TB (mktemp -d, mode
# 0755 so that Debian-exim can use it) and sets the EXIT trap. Every server started here
# runs in its own process group, recorded in $TB/.pids (so that servers started from a
# $(...) subshell are stopped too); at exit the trap runs the tb_on_exit commands, checks
# the watched paniclogs, stops the servers, unmounts what was mounted, prints the summary
# and removes $TB (kept when RG_KEEP=1).
# shellcheck shell=bash

# tb_setup: the checks and the folder every script needs (run once, by testbed.sh).
tb_setup() {
	local tool
	if [ "$(id -u)" -ne 0 ]; then
		echo "Bail out! $TB_NAME: integration tests must run as root (they start Exim daemons and mount tmpfs)"
		exit 2
	fi
	for tool in "$TB_EXIM" swaks python3 ss setsid timeout; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			echo "Bail out! $TB_NAME: $tool is missing (bash tests/deps.sh installs what is needed)"
			exit 2
		fi
	done
	if ! id "$TB_EXIM_USER" >/dev/null 2>&1; then
		echo "Bail out! $TB_NAME: user $TB_EXIM_USER is missing (install exim4-daemon-heavy)"
		exit 2
	fi
	# TAP lines go to the script's own stdout even from inside $(...) or a redirected call.
	exec {TB_FD}>&1
	TB=$(mktemp -d "/tmp/rg-$TB_NAME.XXXXXX") || { echo "Bail out! mktemp failed"; exit 2; }
	chmod 0755 "$TB"
	: >"$TB/.pids"
	: >"$TB/.mounts"
	TB_T0=$(date +%s)
	trap _tb_cleanup EXIT
	trap 'echo "# interrupted"; exit 130' INT TERM
}

# tb_usage_error FUNC TEXT: a test bed function was called wrongly: stop the script.
# Why stop: a mistyped option must never silently change what a test checks.
tb_usage_error() {
	bail "$1: $2"
}

# tb_need_value FUNC OPTION NARGS: OPTION takes a value (NARGS: arguments left, the
# option included); a usage error when there is none.
tb_need_value() {
	[ "$3" -ge 2 ] || tb_usage_error "$1" "option $2 needs a value"
}

# tb_no_knobs FUNC VAR:OPTION...: FUNC once read the environment variable VAR where it
# now takes OPTION; VAR still set (a caller written for the old form) stops the script.
# Why: an old-style knob would otherwise be ignored silently and change what a test checks.
tb_no_knobs() {
	local func=$1 pair var
	shift
	for pair in "$@"; do
		var=${pair%%:*}
		[ -z "${!var+set}" ] || tb_usage_error "$func" "$var is not read any more: use $func ${pair#*:}"
	done
}

# tb_track PID: stop this process group at exit.
tb_track() {
	echo "$1" >>"$TB/.pids"
}

# tb_on_exit CMD: run CMD (a string, eval'ed) at exit, before servers are stopped.
tb_on_exit() {
	printf '%s\n' "$1" >>"$TB/.atexit"
}

# tb_stop PID: stop a process group started here (TERM, then KILL after 2 s).
tb_stop() {
	local pid=$1 i
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 1 20); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$pid" 2>/dev/null
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# tb_free_ports N: N distinct free TCP ports on 127.0.0.1, asked of the kernel.
tb_free_ports() {
	python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# tb_listening PORT: whether something listens on 127.0.0.1:PORT (no connection made).
tb_listening() {
	[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
}

# tb_wait_listen PID TIMEOUT_S PORT...: wait until every PORT listens; 1 if PID died or
# the time ran out.
tb_wait_listen() {
	local pid=$1 tmo=$2 p all i
	shift 2
	for i in $(seq 1 $((tmo * 20))); do
		all=1
		for p in "$@"; do
			tb_listening "$p" || { all=0; break; }
		done
		[ $all = 1 ] && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# tb_now_ms: wall clock in milliseconds (for elapsed-time assertions).
tb_now_ms() {
	date +%s%3N
}

# tb_watch_paniclog DIR [--panic-ok]: at exit, a non-empty DIR/paniclog is a failure
# ("NAME paniclog is empty"), unless --panic-ok (a panic is what the test provokes).
tb_watch_paniclog() {
	local dir=$1
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--panic-ok) TB_PANIC_OK_DIRS="$TB_PANIC_OK_DIRS $dir" ;;
		*) tb_usage_error tb_watch_paniclog "unknown option '$1'" ;;
		esac
		shift
	done
	case " $TB_PANIC_DIRS " in *" $dir "*) ;; *) TB_PANIC_DIRS="$TB_PANIC_DIRS $dir" ;; esac
}

_tb_cleanup() {
	local rc=$? pid mp line
	trap - EXIT
	if [ -s "$TB/.atexit" ]; then
		while IFS= read -r line; do
			eval "$line" >/dev/null 2>&1
		done <"$TB/.atexit"
	fi
	for line in $TB_PANIC_DIRS; do
		case " $TB_PANIC_OK_DIRS " in *" $line "*) continue ;; esac
		if [ -s "$line/paniclog" ]; then
			not ok "$(basename "$line") paniclog is empty (no crash, no panic)"
			diag "$(tail -n 20 "$line/paniclog")"
		fi
	done
	while read -r pid; do
		[ -n "$pid" ] && tb_stop "$pid"
	done < <(tac "$TB/.pids" 2>/dev/null)
	while read -r mp; do
		[ -n "$mp" ] && { umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null; }
	done < <(tac "$TB/.mounts" 2>/dev/null)
	echo "# $TB_NAME: $TB_PASS passed, $TB_FAIL failed, $(( $(date +%s) - TB_T0 ))s" >&"$TB_FD"
	if [ "${RG_KEEP:-0}" = 1 ]; then
		echo "# test folder kept: $TB" >&"$TB_FD"
	else
		# Why the check: never rm -rf a folder that still holds a mount.
		if ! grep -q " $TB/" /proc/mounts; then
			rm -rf "$TB"
		fi
	fi
	if [ "$TB_FAIL" -gt 0 ]; then
		exit 1
	fi
	exit "$rc"
}

# tb_mount_tmpfs DIR SIZE: mount a tmpfs of SIZE (e.g. 64k) on DIR; unmounted at exit.
tb_mount_tmpfs() {
	mkdir -p "$1"
	mount -t tmpfs -o "size=$2,mode=0750" tmpfs "$1" || return 1
	echo "$1" >>"$TB/.mounts"
}
