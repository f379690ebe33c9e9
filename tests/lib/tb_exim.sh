# tb_exim.sh - the test bed's Exims: the back-end (one instance, a behaviour per port), the
# front (the gateway with rcptguard through the shipped snippets), "exim -bh" sessions,
# and the building blocks for a script's own Exim (tb_exim_dir, tb_exim_common,
# tb_exim_check, tb_exim_start).
#
# Part of the test bed (sourced by testbed.sh, never alone). Each Exim lives in a folder
# under $TB (config owned by root 0644, spool and logs writable by $TB_EXIM_USER) and runs
# as a foreground daemon in its own process group, stopped at exit (tb_proc.sh).
#
# Sets: BE_USERS BE_CATCHALL BE_TEMPFAIL BE_AFTERDATA BE_DEAD BE_PID BE_LOG (tb_backend);
# FRONT_PORT FRONT_PID FRONT_LOG FRONT_CONF FRONT_EXIM TB_FRONT_MARK (tb_front);
# TB_LAST_PID (tb_exim_start); TB_SWAKS_OUT TB_BH_ERR (tb_front_bh).
# shellcheck shell=bash

# tb_exim_common DIR NAME: the main-section settings every throwaway Exim needs (DIR: its
# folder, NAME: its host name), on stdout.
tb_exim_common() {
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

# tb_exim_dir DIR: make an Exim's folder: spool and logs writable by Exim.
tb_exim_dir() {
	mkdir -p "$1/spool"
	chown "$TB_EXIM_USER:$TB_EXIM_USER" "$1" "$1/spool"
	chmod 0755 "$1"
}

# tb_exim_check CONF WHAT: bail, with Exim's reason, when CONF does not parse.
tb_exim_check() {
	local conf=$1 what=$2 out
	if ! out=$("$TB_EXIM" -C "$conf" -bV 2>&1); then
		diag "$(printf '%s\n' "$out" | tail -n 10)"
		bail "$what: exim -C $conf -bV fails"
	fi
}

# tb_exim_start CONF DIR WHAT PORTS [EXIM_ARGS...]: start a foreground daemon on PORTS
# ("P1:P2"), stopped at exit; wait until every port listens, bail with the reason
# otherwise. Sets TB_LAST_PID.
tb_exim_start() {
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
	tb_exim_dir "$dir"
	{
		tb_exim_common "$dir" "$name.test"
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
	tb_exim_check "$dir/exim.conf" "back-end Exim config"
	tb_exim_start "$dir/exim.conf" "$dir" "back-end Exim" "$BE_USERS:$BE_CATCHALL:$BE_TEMPFAIL:$BE_AFTERDATA"
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

# tb_front [OPTIONS]: the gateway: a front Exim that loads build/rcptguard.so through the
# shipped snippets, unmodified: rcptguard-main.conf, rcptguard-rcpt.conf and (when it
# exists) rcptguard-quit.conf in acl_smtp_quit and acl_smtp_notquit. Its paniclog is
# watched (a failure at exit when not empty). Options (an unknown one stops the script):
#   --main LINES          lines for the main section (after the ACL settings)
#   --rcpt-pre LINES      ACL lines before the RCPT snippet's .include
#   --mail-acl LINES      ACL lines that become the front's acl_smtp_mail (then "accept")
#   --acls TEXT           whole ACLs (e.g. one named in acl_smtp_connect), or any text,
#                         at the end of the ACL section
#   --domains LIST        relay_to_domains (default $TB_DOMAINS)
#   --rcpt-snippet FILE   the RCPT snippet (default acl-snippets/rcptguard-rcpt.conf)
#   --quit-snippet FILE   the session-end snippet (default acl-snippets/rcptguard-quit.conf)
#   --no-quit-acl         no session-end ACL
#   --name NAME           its folder under $TB (default front): a second front beside the
#                         first (save FRONT_* and empty FRONT_PID first)
#   --exim BIN            its Exim binary (default $TB_EXIM)
#   --so FILE             RCPTGUARD_SO (default $RG_SO)
#   --rg-conf FILE        its rcptguard.conf (default $TB/rcptguard.conf)
#   --panic-ok            a non-empty paniclog is expected (not a failure)
# --main, --rcpt-pre, --mail-acl and --acls may be given more than once (lines appended).
# Sets FRONT_PORT, FRONT_PID, FRONT_LOG ($TB/NAME/mainlog), FRONT_CONF, FRONT_EXIM.
# Calling it again restarts it (give the options again: nothing is remembered).
tb_front() {
	local extra="" rcpt_pre="" mail_acl_lines="" acls="" domains=$TB_DOMAINS
	local rcpt_snip=$TB_SNIPPETS/rcptguard-rcpt.conf quit_snip=$TB_SNIPPETS/rcptguard-quit.conf
	local no_quit=0 name=front exim=$TB_EXIM so=$RG_SO rg_conf=$TB/rcptguard.conf panic_ok=
	tb_no_knobs tb_front TB_FRONT_NAME:--name TB_FRONT_EXIM:--exim TB_FRONT_SO:--so \
		TB_FRONT_RG_CONF:--rg-conf TB_FRONT_RCPT_SNIPPET:--rcpt-snippet \
		TB_FRONT_QUIT_SNIPPET:--quit-snippet TB_NO_QUIT_ACL:--no-quit-acl \
		TB_FRONT_RCPT_PRE:--rcpt-pre TB_FRONT_MAIL_ACL:--mail-acl TB_FRONT_ACLS:--acls \
		TB_PANIC_OK:--panic-ok
	while [ $# -gt 0 ]; do
		case $1 in
		--main | --rcpt-pre | --mail-acl | --acls | --domains | --rcpt-snippet | --quit-snippet | \
			--name | --exim | --so | --rg-conf)
			tb_need_value tb_front "$1" $# ;;
		esac
		case $1 in
		--main) extra=${extra:+$extra$'\n'}$2 ;;
		--rcpt-pre) rcpt_pre=${rcpt_pre:+$rcpt_pre$'\n'}$2 ;;
		--mail-acl) mail_acl_lines=${mail_acl_lines:+$mail_acl_lines$'\n'}$2 ;;
		--acls) acls=${acls:+$acls$'\n'}$2 ;;
		--domains) domains=$2 ;;
		--rcpt-snippet) rcpt_snip=$2 ;;
		--quit-snippet) quit_snip=$2 ;;
		--name) name=$2 ;;
		--exim) exim=$2 ;;
		--so) so=$2 ;;
		--rg-conf) rg_conf=$2 ;;
		--no-quit-acl) no_quit=1; shift; continue ;;
		--panic-ok) panic_ok=--panic-ok; shift; continue ;;
		*) tb_usage_error tb_front "unknown option or argument '$1' (main-section lines go after --main)" ;;
		esac
		shift 2
	done
	local dir="$TB/$name"
	# Why local: the helpers called below (tb_exim_common/_check/_start) read $TB_EXIM.
	local TB_EXIM=$exim
	[ -n "$FRONT_PID" ] && tb_front_stop
	[ -f "$so" ] || echo "# warning: $so does not exist (run make): checks will fail" >&"$TB_FD"
	read -r FRONT_PORT <<<"$(tb_free_ports 1)"
	tb_exim_dir "$dir"
	mkdir -p "$TB/state"
	[ -L "$TB/state" ] || chown "$TB_EXIM_USER:$TB_EXIM_USER" "$TB/state" 2>/dev/null
	[ -f "$TB/rcptguard.conf" ] || tb_conf </dev/null
	# The session-end snippet, as the README installs it (QUIT to open callout connections).
	local quit_main="" quit_acl="" mail_main="" mail_acl=""
	if [ -n "$mail_acl_lines" ]; then
		mail_main="acl_smtp_mail = acl_check_mail"
		mail_acl=$'
acl_check_mail:
'"$mail_acl_lines"$'
  accept'
	fi
	if [ -f "$quit_snip" ] && [ "$no_quit" != 1 ]; then
		quit_main=$'acl_smtp_quit = acl_rcptguard_quit\nacl_smtp_notquit = acl_rcptguard_quit'
		quit_acl=$'\nacl_rcptguard_quit:\n.include '"$quit_snip"$'\n  accept'
	fi
	{
		tb_exim_common "$dir" gateway.test
		cat <<EOF
log_selector = +smtp_connection +received_recipients
smtp_banner = gateway.test ESMTP rcptguard test gateway

RCPTGUARD_SO = $so
RCPTGUARD_OPTIONS = config=$rg_conf
.include $TB_SNIPPETS/rcptguard-main.conf

domainlist relay_to_domains = $domains
acl_smtp_rcpt = acl_check_rcpt
acl_smtp_data = acl_check_data
$quit_main
$mail_main
$extra

begin acl

acl_check_rcpt:
  require message = relay not permitted
          domains = +relay_to_domains
$rcpt_pre
.include $rcpt_snip
  accept

acl_check_data:
  discard
$quit_acl
$mail_acl
$acls

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
	FRONT_EXIM=$exim
	tb_exim_check "$FRONT_CONF" "front Exim config"
	tb_exim_start "$FRONT_CONF" "$dir" "front Exim" "$FRONT_PORT"
	FRONT_PID=$TB_LAST_PID
	# shellcheck disable=SC2086  # $panic_ok: empty or one word
	tb_watch_paniclog "$dir" $panic_ok
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

# tb_front_bh [--debug FLAGS] IP [SWAKS_ARGS...]: an "exim -bh IP" session with the last
# front's config ($FRONT_CONF, its binary $FRONT_EXIM) through swaks --pipe (stdin/out
# SMTP, no daemon). Transcript in $TB_SWAKS_OUT; Exim's stderr (-bh trace, LOG: lines,
# debug output with --debug, e.g. --debug -d+expand) in $TB_BH_ERR.
tb_front_bh() {
	local debug=""
	tb_no_knobs tb_front_bh TB_BH_DEBUG:--debug
	while [ $# -gt 0 ]; do
		case $1 in
		--debug) tb_need_value tb_front_bh "$1" $#; debug=$2; shift 2 ;;
		--*) tb_usage_error tb_front_bh "unknown option '$1'" ;;
		*) break ;;
		esac
	done
	[ $# -ge 1 ] || tb_usage_error tb_front_bh "no client IP given"
	local ip=$1
	shift
	TB_BH_ERR=$(mktemp "$TB/bh.XXXXXX.err")
	TB_SWAKS_OUT=$(mktemp "$TB/bh.XXXXXX.out")
	timeout "$TB_SWAKS_TIMEOUT" swaks --pipe "${FRONT_EXIM:-$TB_EXIM} -C $FRONT_CONF $debug -bh $ip 2>>$TB_BH_ERR" \
		--helo client.test --from sender@client.test --quit-after RCPT "$@" >"$TB_SWAKS_OUT" 2>&1
}

# tb_log_ms ADDRESS: the ms= of the last verify_recipient line for ADDRESS since the mark.
tb_log_ms() {
	tb_front_log | grep -F "verify_recipient <$1> " | tail -n 1 | sed -n 's/.* ms=\([0-9][0-9]*\).*/\1/p'
}

# tb_exim_cost PID: what an Exim daemon and the session processes it reaped have used so far:
# "CHILD_CPU_US CHILD_FAULTS DAEMON_CPU_US DAEMON_FAULTS" (CPU = user + system, clock ticks
# turned into µs; faults = minor page faults; /proc/PID/stat fields 14-17, 10, 11). Why
# these: they count the real Exim processes, and other load on the machine skews CPU time
# far less than wall-clock time and page-fault counts not at all.
tb_exim_cost() {
	awk -v hz="$(getconf CLK_TCK)" '{ $0 = substr($0, index($0, ") ") + 2)
		printf "%d %d %d %d\n", ($14 + $15) * 1e6 / hz, $9, ($12 + $13) * 1e6 / hz, $8 }' "/proc/$1/stat"
}
