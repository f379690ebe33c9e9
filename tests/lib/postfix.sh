#!/usr/bin/env bash
# postfix.sh - a real Postfix 3.7 as a customer's server (or a sending MTA) in the test
# bed, sourced after testbed.sh.
#
# Never `apt-get install postfix` (it removes Exim): the Debian package is fetched with
# `apt-get download` and unpacked with `dpkg-deb -x` into a cache folder under build/.
# Postfix wants its users (mail_owner, setgid_group) and looks them up by name, so it runs
# inside `unshare -m --propagation private` with copies of /etc/passwd and /etc/group
# bind-mounted over the originals: the users exist only there.
#
#   pf_fetch                  unpack the package (cached); sets PF_ROOT
#   pf_start NAME PORT...     start an instance in $TB/NAME; stdin: its own master.cf lines
#                             (smtpd services); $TB/NAME/main.cf.extra, when present, is
#                             appended to the common main.cf; waits for PORTs; sets PF_PID
#   pf_log NAME               the instance's log
#   pf_cmd NAME CMD ARGS...   a command of the package (postconf, sendmail) inside

PF_CACHE=${PF_CACHE:-$TB_BUILD/peers}
PF_UID=${PF_UID:-64990}
PF_ROOT=

# pf_fetch: download and unpack postfix into $PF_CACHE/postfix (once); 1 when impossible.
pf_fetch() {
	local deb
	PF_ROOT=$PF_CACHE/postfix
	[ -x "$PF_ROOT/usr/lib/postfix/sbin/master" ] && return 0
	mkdir -p "$PF_CACHE/debs"
	chmod 0777 "$PF_CACHE/debs"     # apt's _apt user downloads into it
	deb=$(ls "$PF_CACHE"/debs/postfix_*.deb 2>/dev/null | head -n 1)
	if [ -z "$deb" ]; then
		(cd "$PF_CACHE/debs" && timeout 300 apt-get download postfix >/dev/null 2>&1)
		deb=$(ls "$PF_CACHE"/debs/postfix_*.deb 2>/dev/null | head -n 1)
	fi
	[ -n "$deb" ] || { echo "# apt-get download postfix failed" >&"$TB_FD"; return 1; }
	rm -rf "$PF_ROOT.tmp"
	dpkg-deb -x "$deb" "$PF_ROOT.tmp" || return 1
	rm -rf "$PF_ROOT"
	mv "$PF_ROOT.tmp" "$PF_ROOT"
}

# _pf_users DIR: passwd and group copies with Postfix's users and the local test users.
_pf_users() {
	local d=$1
	cp /etc/passwd "$d/passwd"
	cp /etc/group "$d/group"
	{
		echo "rgpostfix:x:$PF_UID:$PF_UID::/nonexistent:/usr/sbin/nologin"
		echo "alice:x:$((PF_UID + 2)):$PF_UID::/nonexistent:/usr/sbin/nologin"
		echo "bob:x:$((PF_UID + 3)):$PF_UID::/nonexistent:/usr/sbin/nologin"
	} >>"$d/passwd"
	{
		echo "rgpostfix:x:$PF_UID:"
		echo "rgpostdrop:x:$((PF_UID + 1)):"
	} >>"$d/group"
}

# pf_ns NAME CMD...: run CMD inside a private mount namespace with NAME's users.
pf_ns() {
	local d=$TB/$1
	shift
	unshare -m --propagation private -- /bin/bash -c '
		mount --bind "$1/passwd" /etc/passwd && mount --bind "$1/group" /etc/group || exit 97
		export LD_LIBRARY_PATH=$2/usr/lib/postfix
		shift 2
		exec "$@"' pf_ns "$d" "$PF_ROOT" "$@"
}

# pf_start NAME PORT...: see the header.
pf_start() {
	local name=$1 d=$TB/$1
	shift
	mkdir -p "$d/etc" "$d/queue" "$d/data"
	_pf_users "$d"
	chown "$PF_UID" "$d/data"
	cat >"$d/etc/main.cf" <<EOF
compatibility_level = 3.6
mail_owner = rgpostfix
setgid_group = rgpostdrop
myhostname = $name.customer.test
mydomain = customer.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
queue_directory = $d/queue
data_directory = $d/data
daemon_directory = $PF_ROOT/usr/lib/postfix/sbin
command_directory = $PF_ROOT/usr/sbin
shlib_directory = $PF_ROOT/usr/lib/postfix
meta_directory = $PF_ROOT/etc/postfix
maillog_file = $d/maillog
maillog_file_prefixes = $d
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME LD_LIBRARY_PATH=$PF_ROOT/usr/lib/postfix
alias_maps = inline:{postmaster=root}
alias_database =
local_recipient_maps = unix:passwd.byname \$alias_maps
local_transport = discard
virtual_transport = discard
relay_transport = discard
default_transport = discard
smtputf8_enable = no
biff = no
smtpd_error_sleep_time = 0
mynetworks = 127.0.0.0/8
EOF
	[ -f "$d/main.cf.extra" ] && cat "$d/main.cf.extra" >>"$d/etc/main.cf"
	{
		cat
		cat <<'EOF'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	} >"$d/etc/master.cf"
	if ! pf_ns "$name" "$PF_ROOT/usr/sbin/postfix" -c "$d/etc" check >"$d/check.out" 2>&1; then
		echo "# postfix check failed for $name:" >&"$TB_FD"
		diag "$(tail -n 5 "$d/check.out" "$d/maillog" 2>/dev/null)"
		return 1
	fi
	# Why setsid: tb_stop ends the whole process group (master and its children).
	setsid bash -c "$(declare -f pf_ns); TB='$TB' PF_ROOT='$PF_ROOT'; pf_ns '$name' '$PF_ROOT/usr/lib/postfix/sbin/master' -c '$d/etc' -d" \
		</dev/null >"$d/master.out" 2>&1 &
	PF_PID=$!
	tb_track "$PF_PID"
	if ! tb_wait_listen "$PF_PID" 20 "$@"; then
		echo "# Postfix $name did not start:" >&"$TB_FD"
		diag "$(tail -n 5 "$d/master.out" "$d/maillog" 2>/dev/null)"
		return 1
	fi
}

# pf_log NAME: the instance's log.
pf_log() {
	cat "$TB/$1/maillog" 2>/dev/null
}

# pf_cmd NAME CMD ARGS...: a command of the package inside NAME's namespace.
pf_cmd() {
	local name=$1 cmd=$2
	shift 2
	pf_ns "$name" "$PF_ROOT/usr/sbin/$cmd" "$@"
}
