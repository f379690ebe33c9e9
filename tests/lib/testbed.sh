# testbed.sh - the integration test bed: throwaway Exims, simulators and TAP assertions.
#
# Sourced by every tests/integration/t_*.sh (as root):
#
#     . "$(dirname "$0")/../lib/testbed.sh"
#     tb_backend; tb_conf <<EOF ... EOF; tb_front
#     assert_match '^250 ' "$(tb_rcpt_reply user1@example.org)" "known user accepted"
#
# Everything lives in one folder, $TB (mktemp -d, mode 0755 so that Debian-exim can use
# it). Ports are chosen by the kernel at run time. Every server started here runs in its
# own process group, recorded in $TB/.pids (so that servers started from a $(...)
# subshell are stopped too), and the EXIT trap stops them, unmounts what was mounted and
# removes $TB (kept when RG_KEEP=1).
#
# Output is TAP-like: one "ok N - desc" / "not ok N - desc" line per assertion, "#" lines
# for diagnostics; tests/run.sh counts them. A script exits 0 only when nothing failed.
#
# Variables set for the tests:
#   TB                      the throwaway folder
#   RG_SO RG_CTL            build/rcptguard.so, build/rcptguardctl (absolute)
#   BE_USERS BE_CATCHALL BE_TEMPFAIL BE_AFTERDATA BE_DEAD   back-end ports (tb_backend)
#   FRONT_PORT              the front (gateway) Exim's port (tb_front)
#   FRONT_LOG               its main log
#   SIM_PORT                the last smtpsim's port (tb_smtpsim)
#   TB_SWAKS_OUT            transcript of the last tb_swaks (not across $(...))
#
# Functions (each documented where it is defined):
#   servers     tb_backend [NAME], tb_backend_mark, tb_backend_connections PORT,
#               tb_backend_wait REGEX N [SECONDS],
#               tb_front [EXTRA_MAIN_LINES], tb_front_stop, tb_front_bh IP [SWAKS_ARGS],
#               tb_smtpsim MODE, tb_mount_tmpfs DIR SIZE, tb_track PID, tb_on_exit CMD
#   config      tb_conf <<EOF (state_dir first), tb_std_domains
#   clients     tb_swaks ARGS, tb_rcpt_reply ADDRESS, tb_rcpts ADDRESS..., tb_reply_of ADDRESS,
#               tb_rcpt_parse FILE, tb_ctl ARGS
#   inspection  tb_mark, tb_front_log, tb_log_ms ADDRESS, tb_cache_json [DOMAIN],
#               tb_cache_record KEY, tb_cache_count [FILTER [DOMAIN]], tb_yield_get KEY LINE
#   assertions  ok, not ok, skip, diag, bail, assert_eq, assert_ne, assert_match,
#               assert_no_match, assert_num, assert_status, assert_log, assert_no_log,
#               assert_connections
# An assertion made inside $(...) prints its line (the runner counts it) but does not
# reach this script's own summary: make assertions in the script itself.
#
# Environment: RG_BUILD (default build/), RG_KEEP=1, TB_DOMAINS, TB_SWAKS_TIMEOUT,
# TB_STATE_DIR (for tb_conf), TB_FRONT_RCPT_PRE (ACL lines before the RCPT snippet),
# TB_BH_DEBUG (e.g. -d+expand, for tb_front_bh), TB_PANIC_OK=1 (a non-empty paniclog is
# expected). For a second front (read by tb_front and tb_front_bh; unset = the defaults):
# TB_FRONT_NAME (its folder under $TB, default front), TB_FRONT_EXIM (its Exim binary,
# default $TB_EXIM), TB_FRONT_SO (RCPTGUARD_SO, default $RG_SO), TB_FRONT_RG_CONF (its
# rcptguard.conf, default $TB/rcptguard.conf), TB_FRONT_RCPT_SNIPPET (the RCPT snippet,
# default acl-snippets/rcptguard-rcpt.conf).

set -uo pipefail

TB_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TB_BUILD=${RG_BUILD:-$TB_REPO/build}
RG_SO=$TB_BUILD/rcptguard.so
RG_CTL=$TB_BUILD/rcptguardctl
TB_EXIM=${TB_EXIM:-/usr/sbin/exim4}
TB_EXIM_USER=${TB_EXIM_USER:-Debian-exim}
TB_SNIPPETS=$TB_REPO/acl-snippets
TB_SIM=$TB_REPO/tests/tools/smtpsim.py
TB_NAME=$(basename "$0" .sh)
# Domains the front relays to (the tests give each its destination in rcptguard.conf).
TB_DOMAINS=${TB_DOMAINS:-example.org : example.com : *.test}
# Time limit of one swaks session (a test that hangs must not hang the suite).
TB_SWAKS_TIMEOUT=${TB_SWAKS_TIMEOUT:-60}

TB_N=0
TB_PASS=0
TB_FAIL=0
TB_FRONT_STARTED=0
TB_FRONT_DIRS=
FRONT_PORT=
FRONT_PID=
FRONT_LOG=
BE_PID=
SIM_PORT=
TB_SWAKS_OUT=

if [ "$(id -u)" -ne 0 ]; then
	echo "Bail out! $TB_NAME: integration tests must run as root (they start Exim daemons and mount tmpfs)"
	exit 2
fi
for _tb_tool in "$TB_EXIM" swaks python3 ss setsid timeout; do
	if ! command -v "$_tb_tool" >/dev/null 2>&1; then
		echo "Bail out! $TB_NAME: $_tb_tool is missing (bash tests/deps.sh installs what is needed)"
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

# ---------------------------------------------------------------- assertions (TAP)

# ok DESC: one passing test.
ok() {
	TB_N=$((TB_N + 1))
	TB_PASS=$((TB_PASS + 1))
	echo "ok $TB_N - $*" >&"$TB_FD"
}

# not ok DESC: one failing test (the first word must be "ok", so that it reads as TAP).
not() {
	if [ "${1:-}" = ok ]; then
		shift
	fi
	TB_N=$((TB_N + 1))
	TB_FAIL=$((TB_FAIL + 1))
	echo "not ok $TB_N - $*" >&"$TB_FD"
}

# diag TEXT...: diagnostic lines ("#   ..."), at most 40 lines per call.
diag() {
	local line n=0
	while IFS= read -r line; do
		n=$((n + 1))
		if [ $n -gt 40 ]; then
			echo "#     ... (cut)" >&"$TB_FD"
			break
		fi
		printf '#     %s\n' "$line" >&"$TB_FD"
	done <<<"$*"
}

# skip DESC REASON: a check that cannot run here; tests/run.sh counts it as skipped.
skip() {
	ok "$1 # SKIP ${2:-}"
}

# assert_eq EXPECTED ACTUAL DESC
assert_eq() {
	if [ "$1" = "$2" ]; then
		ok "$3"
		return 0
	fi
	not ok "$3"
	diag "expected: $1"
	diag "seen:     $2"
	return 1
}

# assert_ne UNEXPECTED ACTUAL DESC
assert_ne() {
	if [ "$1" != "$2" ]; then
		ok "$3"
		return 0
	fi
	not ok "$3"
	diag "expected anything but: $1"
	return 1
}

# assert_match REGEX TEXT DESC: some line of TEXT matches the extended REGEX.
assert_match() {
	if grep -qE -- "$1" <<<"$2"; then
		ok "$3"
		return 0
	fi
	not ok "$3"
	diag "expected a line matching: $1"
	diag "seen: ${2:-(nothing)}"
	return 1
}

# assert_no_match REGEX TEXT DESC: no line of TEXT matches REGEX.
assert_no_match() {
	if ! grep -qE -- "$1" <<<"$2"; then
		ok "$3"
		return 0
	fi
	not ok "$3"
	diag "expected no line matching: $1"
	diag "seen: $(printf '%s\n' "$2" | grep -E -- "$1" | head -5)"
	return 1
}

# assert_num A OP B DESC: integer comparison, OP one of -eq -ne -lt -le -gt -ge.
assert_num() {
	local a=$1 op=$2 b=$3 r=1
	if [[ "$a" =~ ^-?[0-9]+$ && "$b" =~ ^-?[0-9]+$ ]]; then
		case $op in
		-eq) ((a == b)) && r=0 ;;
		-ne) ((a != b)) && r=0 ;;
		-lt) ((a < b)) && r=0 ;;
		-le) ((a <= b)) && r=0 ;;
		-gt) ((a > b)) && r=0 ;;
		-ge) ((a >= b)) && r=0 ;;
		esac
	fi
	if [ $r = 0 ]; then
		ok "$4"
		return 0
	fi
	not ok "$4"
	diag "expected: $1 $2 $3 (integers)"
	return 1
}

# assert_status EXPECTED_EXIT DESC -- CMD...: runs CMD, compares its exit status;
# its output is left in $TB_OUT.
assert_status() {
	local want=$1 desc=$2 rc
	shift 2
	[ "${1:-}" = -- ] && shift
	TB_OUT=$("$@" 2>&1)
	rc=$?
	if [ "$rc" = "$want" ]; then
		ok "$desc"
		return 0
	fi
	not ok "$desc"
	diag "command: $*"
	diag "expected exit $want, seen $rc; output:"
	diag "$TB_OUT"
	return 1
}

# assert_log REGEX DESC: a line of the front's main log since the last tb_mark matches.
assert_log() {
	local seen
	seen=$(tb_front_log)
	if grep -qE -- "$1" <<<"$seen"; then
		ok "$2"
		return 0
	fi
	not ok "$2"
	diag "expected a front main-log line matching: $1"
	diag "main log since mark (last 15 lines):"
	diag "$(printf '%s\n' "$seen" | tail -n 15)"
	return 1
}

# assert_no_log REGEX DESC: no line of the front's main log since the last tb_mark matches.
assert_no_log() {
	local seen
	seen=$(tb_front_log | grep -E -- "$1")
	if [ -z "$seen" ]; then
		ok "$2"
		return 0
	fi
	not ok "$2"
	diag "expected no front main-log line matching: $1"
	diag "$(printf '%s\n' "$seen" | head -10)"
	return 1
}

# assert_connections PORT N DESC: the back-end received exactly N connections on PORT
# since the last tb_mark / tb_backend_mark.
assert_connections() {
	local n
	n=$(tb_backend_connections "$1")
	if [ "$n" = "$2" ]; then
		ok "$3"
		return 0
	fi
	not ok "$3"
	diag "expected $2 back-end connection(s) on port $1, seen $n"
	diag "$(tb_backend_log | grep 'SMTP connection from' | tail -n 5)"
	return 1
}

# bail TEXT: stop this script now (a failure, counted).
bail() {
	not ok "$*"
	echo "Bail out! $*" >&"$TB_FD"
	exit 1
}

# ---------------------------------------------------------------- process handling

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

_tb_cleanup() {
	local rc=$? pid mp line
	trap - EXIT
	if [ -s "$TB/.atexit" ]; then
		while IFS= read -r line; do
			eval "$line" >/dev/null 2>&1
		done <"$TB/.atexit"
	fi
	if [ "$TB_FRONT_STARTED" = 1 ] && [ -s "$TB/front/paniclog" ] && [ "${TB_PANIC_OK:-0}" != 1 ]; then
		not ok "front paniclog is empty (no crash, no panic)"
		diag "$(tail -n 20 "$TB/front/paniclog")"
	fi
	# Fronts started with another TB_FRONT_NAME.
	for line in $TB_FRONT_DIRS; do
		if [ "$line" != "$TB/front" ] && [ -s "$line/paniclog" ] && [ "${TB_PANIC_OK:-0}" != 1 ]; then
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
trap _tb_cleanup EXIT
trap 'echo "# interrupted"; exit 130' INT TERM

# tb_mount_tmpfs DIR SIZE: mount a tmpfs of SIZE (e.g. 64k) on DIR; unmounted at exit.
tb_mount_tmpfs() {
	mkdir -p "$1"
	mount -t tmpfs -o "size=$2,mode=0750" tmpfs "$1" || return 1
	echo "$1" >>"$TB/.mounts"
}

# ---------------------------------------------------------------- Exim instances

# Settings every throwaway Exim needs (DIR: its folder).
_tb_exim_common() {
	local dir=$1 name=$2
	cat <<EOF
exim_path = $TB_EXIM
keep_environment =
host_lookup =
rfc1413_hosts =
tls_advertise_hosts =
primary_hostname = $name
qualify_domain = $name
local_interfaces = <; 127.0.0.1
spool_directory = $dir/spool
log_file_path = $dir/%slog
pid_file_path = $dir/exim.pid
smtp_accept_max = 500
smtp_accept_queue_per_connection = 0
smtp_receive_timeout = 60s
recipients_max = 1000
EOF
}

# Make an Exim's folder: config owned by root 0644, spool and logs writable by Exim.
_tb_exim_dir() {
	mkdir -p "$1/spool"
	chown "$TB_EXIM_USER:$TB_EXIM_USER" "$1" "$1/spool"
	chmod 0755 "$1"
}

# Check a config parses; report why not.
_tb_exim_check() {
	local conf=$1 what=$2 out
	if ! out=$("$TB_EXIM" -C "$conf" -bV 2>&1); then
		diag "$(printf '%s\n' "$out" | tail -n 10)"
		bail "$what: exim -C $conf -bV fails"
	fi
}

# Start a foreground daemon; wait until every port listens; bail with the reason otherwise.
_tb_exim_start() {
	local conf=$1 dir=$2 what=$3 ports=$4 pid
	shift 4
	setsid "$TB_EXIM" -C "$conf" -bdf -oX "$ports" "$@" </dev/null >"$dir/daemon.out" 2>&1 &
	pid=$!
	tb_track "$pid"
	# shellcheck disable=SC2086
	if ! tb_wait_listen "$pid" 5 ${ports//:/ }; then
		echo "# $what did not start (ports $ports); its output and logs:" >&"$TB_FD"
		diag "$(cat "$dir/daemon.out" "$dir/paniclog" 2>/dev/null | tail -n 20)"
		diag "$(tail -n 5 "$dir/mainlog" 2>/dev/null)"
		bail "$what started"
	fi
	TB_LAST_PID=$pid
}

# tb_backend [NAME]: one back-end Exim on several ports, one behaviour per port:
#   BE_USERS      user1..user3, alice, bob at any domain: 250; others: 550 5.1.1 unknown user
#   BE_CATCHALL   accepts every recipient
#   BE_TEMPFAIL   451 4.3.0 at RCPT
#   BE_AFTERDATA  accepts every RCPT, 550 after DATA (like Exchange 2013+)
#   BE_DEAD       nothing listens there (connection refused)
# Messages that it accepts are discarded. Every connection is logged (+smtp_connection,
# with the port it came in on): see tb_backend_connections.
tb_backend() {
	local name=${1:-backend} dir="$TB/${1:-backend}" ports
	read -r BE_USERS BE_CATCHALL BE_TEMPFAIL BE_AFTERDATA BE_DEAD <<<"$(tb_free_ports 5)"
	export BE_USERS BE_CATCHALL BE_TEMPFAIL BE_AFTERDATA BE_DEAD
	_tb_exim_dir "$dir"
	{
		_tb_exim_common "$dir" "$name.test"
		cat <<EOF
log_selector = +smtp_connection +incoming_interface +incoming_port +received_recipients
smtp_banner = $name.test ESMTP test back-end
acl_smtp_rcpt = acl_rcpt
acl_smtp_data = acl_data

PORT_USERS = $BE_USERS
PORT_CATCHALL = $BE_CATCHALL
PORT_TEMPFAIL = $BE_TEMPFAIL
PORT_AFTERDATA = $BE_AFTERDATA

begin acl

acl_rcpt:
  defer   condition   = \${if =={\$received_port}{PORT_TEMPFAIL}}
          message     = 451 4.3.0 temporary failure, please try again later
  accept  condition   = \${if or{{=={\$received_port}{PORT_CATCHALL}}{=={\$received_port}{PORT_AFTERDATA}}}}
  accept  condition   = \${if =={\$received_port}{PORT_USERS}}
          local_parts = user1 : user2 : user3 : alice : bob : postmaster
  deny    message     = 550 5.1.1 <\$local_part@\$domain>: unknown user

acl_data:
  deny    condition   = \${if =={\$received_port}{PORT_AFTERDATA}}
          message     = 550 5.1.1 recipient rejected after DATA
  discard

begin routers

blackhole:
  driver = redirect
  data = :blackhole:
EOF
	} >"$dir/exim.conf"
	chown root:root "$dir/exim.conf"
	chmod 0644 "$dir/exim.conf"
	_tb_exim_check "$dir/exim.conf" "back-end Exim config"
	_tb_exim_start "$dir/exim.conf" "$dir" "back-end Exim" "$BE_USERS:$BE_CATCHALL:$BE_TEMPFAIL:$BE_AFTERDATA"
	BE_PID=$TB_LAST_PID
	BE_LOG=$dir/mainlog
	TB_BE_MARK=0
}

# tb_backend_log: the back-end's main log since the last mark.
tb_backend_log() {
	[ -f "${BE_LOG:-/nonexistent}" ] || return 0
	tail -n "+$((TB_BE_MARK + 1))" "$BE_LOG"
}

# tb_backend_mark: count back-end connections from now on.
tb_backend_mark() {
	if [ -f "${BE_LOG:-/nonexistent}" ]; then
		TB_BE_MARK=$(wc -l <"$BE_LOG")
	else
		TB_BE_MARK=0
	fi
}

# tb_backend_wait REGEX N [SECONDS]: wait (default 3 s) until N lines of the back-end's log
# since the mark match REGEX; prints the count seen.
tb_backend_wait() {
	local re=$1 want=$2 secs=${3:-3} n=0 i
	for i in $(seq 1 $((secs * 10))); do
		n=$(tb_backend_log | grep -cE -- "$re")
		[ "$n" -ge "$want" ] && break
		sleep 0.1
	done
	echo "$n"
}

# tb_backend_connections PORT: connections the back-end received on PORT since the mark.
tb_backend_connections() {
	tb_backend_log | grep -cE "SMTP connection from \[[^]]*\]:[0-9]+ I=\[127\.0\.0\.1\]:$1 \(TCP/IP connection count"
}

# tb_front [EXTRA_MAIN_LINES]: the gateway: a front Exim that loads build/rcptguard.so
# through the shipped snippets, unmodified: rcptguard-main.conf, rcptguard-rcpt.conf and
# (when it exists, unless TB_NO_QUIT_ACL=1) rcptguard-quit.conf in acl_smtp_quit and
# acl_smtp_notquit. EXTRA_MAIN_LINES go in its main section.
# TB_FRONT_RCPT_PRE (ACL lines) goes before the RCPT snippet's .include.
# TB_FRONT_MAIL_ACL (ACL lines) becomes the front's acl_smtp_mail (then "accept").
# TB_FRONT_RCPT_PRE (ACL lines) goes before the RCPT snippet's .include; TB_FRONT_ACLS
# (whole ACLs, e.g. one named in acl_smtp_connect) goes at the end of the ACL section.
# Sets FRONT_PORT, FRONT_PID, FRONT_LOG ($TB/front/mainlog). Calling it again restarts it.
# TB_FRONT_NAME, TB_FRONT_EXIM, TB_FRONT_SO, TB_FRONT_RG_CONF, TB_FRONT_RCPT_SNIPPET: see the
# top (to run a second front beside the first, save FRONT_* and empty FRONT_PID first).
tb_front() {
	local extra=${1:-} dir="$TB/${TB_FRONT_NAME:-front}"
	local so=${TB_FRONT_SO:-$RG_SO}
	# Why local: the helpers called below (_tb_exim_common/_check/_start) read $TB_EXIM.
	local TB_EXIM=${TB_FRONT_EXIM:-$TB_EXIM}
	[ -n "$FRONT_PID" ] && tb_front_stop
	[ -f "$so" ] || echo "# warning: $so does not exist (run make): checks will fail" >&"$TB_FD"
	read -r FRONT_PORT <<<"$(tb_free_ports 1)"
	_tb_exim_dir "$dir"
	mkdir -p "$TB/state"
	[ -L "$TB/state" ] || chown "$TB_EXIM_USER:$TB_EXIM_USER" "$TB/state" 2>/dev/null
	[ -f "$TB/rcptguard.conf" ] || tb_conf </dev/null
	# The session-end snippet, as the README installs it (QUIT to open callout connections).
	# TB_FRONT_QUIT_SNIPPET picks another one (the lookup face's twin).
	local quit_main="" quit_acl="" quit_snip=${TB_FRONT_QUIT_SNIPPET:-$TB_SNIPPETS/rcptguard-quit.conf}
	local mail_main="" mail_acl=""
	if [ -n "${TB_FRONT_MAIL_ACL:-}" ]; then
		mail_main="acl_smtp_mail = acl_check_mail"
		mail_acl=$'
acl_check_mail:
'"$TB_FRONT_MAIL_ACL"$'
  accept'
	fi
	if [ -f "$quit_snip" ] && [ "${TB_NO_QUIT_ACL:-0}" != 1 ]; then
		quit_main=$'acl_smtp_quit = acl_rcptguard_quit\nacl_smtp_notquit = acl_rcptguard_quit'
		quit_acl=$'\nacl_rcptguard_quit:\n.include '"$quit_snip"$'\n  accept'
	fi
	{
		_tb_exim_common "$dir" gateway.test
		cat <<EOF
log_selector = +smtp_connection +received_recipients
smtp_banner = gateway.test ESMTP rcptguard test gateway

RCPTGUARD_SO = $so
RCPTGUARD_OPTIONS = config=${TB_FRONT_RG_CONF:-$TB/rcptguard.conf}
.include $TB_SNIPPETS/rcptguard-main.conf

domainlist relay_to_domains = $TB_DOMAINS
acl_smtp_rcpt = acl_check_rcpt
acl_smtp_data = acl_check_data
$quit_main
$mail_main
$extra

begin acl

acl_check_rcpt:
  require message = relay not permitted
          domains = +relay_to_domains
${TB_FRONT_RCPT_PRE:-}
.include ${TB_FRONT_RCPT_SNIPPET:-$TB_SNIPPETS/rcptguard-rcpt.conf}
  accept

acl_check_data:
  discard
$quit_acl
$mail_acl
${TB_FRONT_ACLS:-}

begin routers

blackhole:
  driver = redirect
  data = :blackhole:
EOF
	} >"$dir/exim.conf"
	# Why: Exim refuses a -C file not owned by root (or group/world writable).
	chown root:root "$dir/exim.conf"
	chmod 0644 "$dir/exim.conf"
	FRONT_CONF=$dir/exim.conf
	FRONT_LOG=$dir/mainlog
	_tb_exim_check "$FRONT_CONF" "front Exim config"
	_tb_exim_start "$FRONT_CONF" "$dir" "front Exim" "$FRONT_PORT"
	FRONT_PID=$TB_LAST_PID
	TB_FRONT_STARTED=1
	case " $TB_FRONT_DIRS " in *" $dir "*) ;; *) TB_FRONT_DIRS="$TB_FRONT_DIRS $dir" ;; esac
	TB_FRONT_MARK=0
	[ -f "$FRONT_LOG" ] && TB_FRONT_MARK=$(wc -l <"$FRONT_LOG")
}

# tb_front_stop: stop the front daemon (its running sessions too).
tb_front_stop() {
	[ -n "$FRONT_PID" ] && tb_stop "$FRONT_PID"
	FRONT_PID=
}

# tb_front_log: the front's main log since the last mark.
tb_front_log() {
	[ -f "${FRONT_LOG:-/nonexistent}" ] || return 0
	tail -n "+$((${TB_FRONT_MARK:-0} + 1))" "$FRONT_LOG"
}

# tb_front_mark: assert_log looks only at lines written after this.
tb_front_mark() {
	TB_FRONT_MARK=0
	[ -f "${FRONT_LOG:-/nonexistent}" ] && TB_FRONT_MARK=$(wc -l <"$FRONT_LOG")
}

# tb_mark: mark the front's log and the back-end's connection count.
tb_mark() {
	tb_front_mark
	tb_backend_mark
}

# tb_front_children: pids of the front daemon's session processes.
tb_front_children() {
	[ -n "$FRONT_PID" ] && pgrep -P "$FRONT_PID"
}

# tb_front_bh IP [SWAKS_ARGS...]: an "exim -bh IP" session through swaks --pipe (stdin/out
# SMTP, no daemon). Transcript in $TB_SWAKS_OUT; Exim's stderr (-bh trace, LOG: lines,
# debug output with TB_BH_DEBUG=-d+expand) in $TB_BH_ERR.
tb_front_bh() {
	local ip=$1
	shift
	TB_BH_ERR=$(mktemp "$TB/bh.XXXXXX.err")
	TB_SWAKS_OUT=$(mktemp "$TB/bh.XXXXXX.out")
	timeout "$TB_SWAKS_TIMEOUT" swaks --pipe "${TB_FRONT_EXIM:-$TB_EXIM} -C $FRONT_CONF ${TB_BH_DEBUG:-} -bh $ip 2>>$TB_BH_ERR" \
		--helo client.test --from sender@client.test --quit-after RCPT "$@" >"$TB_SWAKS_OUT" 2>&1
}

# tb_conf: write $TB/rcptguard.conf: "state_dir = $TB/state" (or $TB_STATE_DIR), then
# stdin (a heredoc). Written whole and renamed: a running front never reads half a file.
tb_conf() {
	mkdir -p "$TB/state"
	[ -L "$TB/state" ] || chown "$TB_EXIM_USER:$TB_EXIM_USER" "$TB/state" 2>/dev/null
	{
		echo "# written by $TB_NAME"
		echo "state_dir = ${TB_STATE_DIR:-$TB/state}"
		cat
	} >"$TB/rcptguard.conf.new"
	chmod 0644 "$TB/rcptguard.conf.new"
	mv "$TB/rcptguard.conf.new" "$TB/rcptguard.conf"
}

# tb_std_domains: [domain] sections for the back-end's ports, to put in tb_conf:
#   example.org users.test -> users, catchall.test, afterdata.test, tempfail.test, dead.test
tb_std_domains() {
	cat <<EOF

[domain example.org]
hosts = 127.0.0.1:$BE_USERS

[domain users.test]
hosts = 127.0.0.1:$BE_USERS

[domain catchall.test]
hosts = 127.0.0.1:$BE_CATCHALL

[domain afterdata.test]
hosts = 127.0.0.1:$BE_AFTERDATA

[domain tempfail.test]
hosts = 127.0.0.1:$BE_TEMPFAIL

[domain dead.test]
hosts = 127.0.0.1:$BE_DEAD
EOF
}

# ---------------------------------------------------------------- clients

# tb_swaks ARGS...: swaks against the front, quitting after RCPT; transcript in
# $TB_SWAKS_OUT (and $TB/last_swaks.out); returns swaks' exit status.
tb_swaks() {
	local rc
	TB_SWAKS_OUT=$(mktemp "$TB/swaks.XXXXXX.out")
	timeout "$TB_SWAKS_TIMEOUT" swaks --server 127.0.0.1 --port "$FRONT_PORT" --helo client.test \
		--from sender@client.test --quit-after RCPT "$@" >"$TB_SWAKS_OUT" 2>&1
	rc=$?
	cat "$TB_SWAKS_OUT" >"$TB/last_swaks.out" 2>/dev/null
	return $rc
}

# tb_rcpt_parse FILE: from a swaks transcript, one line per RCPT: "ADDRESS<TAB>CODE TEXT"
# ("(no reply)" when the session ended first). A multi-line reply is joined with single
# spaces: Exim wraps a long ACL message at a space onto "451-" continuation lines, and the
# join gives back the text as the ACL set it.
tb_rcpt_parse() {
	python3 - "$1" <<'PY'
import re, sys
addr = None
reply = []
out = []
def flush():
    global addr, reply
    if addr is not None:
        out.append("%s\t%s" % (addr, " ".join(reply) if reply else "(no reply)"))
    addr, reply = None, []
for line in open(sys.argv[1], errors="replace").read().splitlines():
    m = re.match(r"^ -> RCPT TO:<(.*)>\s*$", line)
    if m:
        flush()
        addr = m.group(1)
        continue
    if addr is None:
        continue
    m = re.match(r"^<(?:-|\*\*) +(\d{3})([- ])(.*)$", line)
    if m:
        reply.append(m.group(1) + " " + m.group(3) if not reply else m.group(3))
        if m.group(2) == " ":
            flush()
        continue
    if line.startswith(" -> ") or line.startswith("*** "):
        flush()
for o in out:
    print(o)
PY
}

# tb_rcpt_reply ADDRESS [SWAKS_ARGS...]: one message to ADDRESS; prints the front's reply
# to its RCPT TO ("CODE TEXT"), or the session's error.
tb_rcpt_reply() {
	local addr=$1 r
	shift
	tb_swaks --to "$addr" "$@"
	r=$(tb_rcpt_parse "$TB_SWAKS_OUT" | head -n 1 | cut -f 2-)
	if [ -z "$r" ]; then
		r="(no RCPT reply) $(grep -E '^(<\*\*|\*\*\*)' "$TB_SWAKS_OUT" | head -n 3 | tr '\n' ' ')"
	fi
	printf '%s\n' "$r"
}

# tb_rcpts ADDRESS...: one message with these recipients; prints "ADDRESS<TAB>CODE TEXT"
# per recipient, also kept in $TB/last_rcpts for tb_reply_of.
tb_rcpts() {
	local list
	list=$(IFS=,; printf '%s' "$*")
	tb_swaks --to "$list"
	tb_rcpt_parse "$TB_SWAKS_OUT" | tee "$TB/last_rcpts"
}

# tb_reply_of ADDRESS: the reply to ADDRESS in the last tb_rcpts.
tb_reply_of() {
	awk -F '\t' -v a="$1" '$1 == a { print $2; exit }' "$TB/last_rcpts" 2>/dev/null
}

# tb_ctl ARGS...: build/rcptguardctl with the test's config.
tb_ctl() {
	"$RG_CTL" -c "$TB/rcptguard.conf" "$@"
}

# tb_cache_json: the cache as JSON (an array of records).
tb_cache_json() {
	tb_ctl --json cache list "$@"
}

# tb_cache_record KEY: "RESULT SOURCE TTL_SECONDS TEXT" of the record KEY (an address, or
# a domain for catch-all records), from cache list --json; nothing when absent.
tb_cache_record() {
	tb_cache_json 2>/dev/null | python3 -c '
import json, sys
key = sys.argv[1].lower()
try:
    recs = json.load(sys.stdin)
except Exception as e:
    print("(cache list --json did not parse: %s)" % e)
    sys.exit(0)
for r in recs:
    if str(r.get("key", "")).lower() == key:
        print(r.get("result"), r.get("source"), int(r.get("expires", 0)) - int(r.get("created", 0)), r.get("text", ""))
        break
' "$1"
}

# tb_cache_count [FILTER [DOMAIN]]: number of cache records (of DOMAIN); FILTER: "" (all),
# verdict, catchall, pass, fail, yes, no. -1 when the list cannot be read.
tb_cache_count() {
	local f=${1:-}
	shift
	tb_cache_json "$@" 2>/dev/null | python3 -c '
import json, sys
f = sys.argv[1]
try:
    recs = json.load(sys.stdin)
except Exception:
    print(-1); sys.exit(0)
print(sum(1 for r in recs if not f or r.get("type") == f or r.get("result") == f))
' "$f"
}

# tb_log_ms ADDRESS: the ms= of the last verify_recipient line for ADDRESS since the mark.
tb_log_ms() {
	tb_front_log | grep -F "verify_recipient <$1> " | tail -n 1 | sed -n 's/.* ms=\([0-9][0-9]*\).*/\1/p'
}

# tb_smtpsim MODE [ARGS...]: start tests/tools/smtpsim.py in MODE; sets SIM_PORT
# (stopped at exit). Its log: $TB/smtpsim.MODE.log.
tb_smtpsim() {
	local mode=$1 pf log pid i
	shift
	pf=$(mktemp "$TB/smtpsim.$mode.XXXXXX.port")
	log=$TB/smtpsim.$mode.log
	: >"$pf"
	SIM_PORT=
	if [ ! -f "$TB_SIM" ]; then
		echo "# $TB_SIM does not exist" >&"$TB_FD"
		return 1
	fi
	setsid python3 "$TB_SIM" --port-file "$pf" --mode "$mode" --log "$log" "$@" \
		</dev/null >>"$log.out" 2>&1 &
	pid=$!
	tb_track "$pid"
	for i in $(seq 1 100); do
		if [ -s "$pf" ]; then
			SIM_PORT=$(tr -dc 0-9 <"$pf")
			[ -n "$SIM_PORT" ] && tb_listening "$SIM_PORT" && return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "# smtpsim --mode $mode did not start:" >&"$TB_FD"
	diag "$(tail -n 10 "$log.out" 2>/dev/null)"
	SIM_PORT=
	return 1
}

# tb_yield_get KEY LINE: the value of KEY in a yield line (key=value, "quoted value").
tb_yield_get() {
	python3 - "$1" "$2" <<'PY'
import shlex, sys
key, line = sys.argv[1], sys.argv[2]
try:
    parts = shlex.split(line, posix=True)
except ValueError:
    parts = line.split()
for p in parts:
    if p.startswith(key + "="):
        print(p[len(key) + 1:])
        break
PY
}
