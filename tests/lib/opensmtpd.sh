#!/usr/bin/env bash
# opensmtpd.sh - a real OpenSMTPD 6.8 as a customer's server in the test bed, sourced
# after testbed.sh.
#
# Never `apt-get install opensmtpd` (it removes Exim): the Debian package is fetched with
# `apt-get download` and unpacked with `dpkg-deb -x` into a cache folder under build/.
# smtpd has fixed paths (/var/spool/smtpd, /var/lib/opensmtpd/empty, /run/smtpd.sock) and
# users (opensmtpd, opensmtpq): it runs inside `unshare -m --propagation private` with
# test folders bind-mounted over /var/spool, /var/lib and /run, and copies of /etc/passwd
# and /etc/group with its users, so nothing of the host is touched.
#
#   os_fetch                  unpack the package (cached); sets OS_ROOT
#   os_start NAME PORT...     start smtpd -d in $TB/NAME with stdin as smtpd.conf; waits for
#                             PORTs; sets OS_PID; its output (the log) is $TB/NAME/smtpd.log
#   os_log NAME               that log

OS_CACHE=${OS_CACHE:-$TB_BUILD/peers}
OS_UID=${OS_UID:-64980}
OS_ROOT=

# os_fetch: download and unpack opensmtpd into $OS_CACHE/opensmtpd (once); 1 when impossible.
os_fetch() {
	local deb
	OS_ROOT=$OS_CACHE/opensmtpd
	[ -x "$OS_ROOT/usr/sbin/smtpd" ] && return 0
	mkdir -p "$OS_CACHE/debs"
	chmod 0777 "$OS_CACHE/debs"     # apt's _apt user downloads into it
	deb=$(ls "$OS_CACHE"/debs/opensmtpd_*.deb 2>/dev/null | head -n 1)
	if [ -z "$deb" ]; then
		(cd "$OS_CACHE/debs" && timeout 300 apt-get download opensmtpd >/dev/null 2>&1)
		deb=$(ls "$OS_CACHE"/debs/opensmtpd_*.deb 2>/dev/null | head -n 1)
	fi
	[ -n "$deb" ] || { echo "# apt-get download opensmtpd failed" >&"$TB_FD"; return 1; }
	rm -rf "$OS_ROOT.tmp"
	dpkg-deb -x "$deb" "$OS_ROOT.tmp" || return 1
	rm -rf "$OS_ROOT"
	mv "$OS_ROOT.tmp" "$OS_ROOT"
}

# os_start NAME PORT...: see the header.
os_start() {
	local name=$1 d=$TB/$1
	shift
	mkdir -p "$d/spool" "$d/lib/opensmtpd/empty" "$d/run"
	cp /etc/passwd "$d/passwd"
	cp /etc/group "$d/group"
	{
		echo "opensmtpd:x:$OS_UID:$OS_UID::/var/lib/opensmtpd/empty:/usr/sbin/nologin"
		echo "opensmtpq:x:$((OS_UID + 1)):$((OS_UID + 1))::/var/lib/opensmtpd/empty:/usr/sbin/nologin"
		echo "rgvmail:x:$((OS_UID + 2)):$((OS_UID + 2))::/nonexistent:/usr/sbin/nologin"
	} >>"$d/passwd"
	{
		echo "opensmtpd:x:$OS_UID:"
		echo "opensmtpq:x:$((OS_UID + 1)):"
		echo "rgvmail:x:$((OS_UID + 2)):"
	} >>"$d/group"
	cat >"$d/smtpd.conf"
	chmod 0644 "$d/smtpd.conf"
	# Why setsid: tb_stop ends the whole process group (smtpd forks its processes).
	setsid unshare -m --propagation private -- /bin/bash -c '
		d=$1
		for m in passwd:/etc/passwd group:/etc/group spool:/var/spool lib:/var/lib run:/run; do
			mount --bind "$d/${m%%:*}" "${m#*:}" || exit 97
		done
		exec "$2" -d -f "$d/smtpd.conf"' os_ns "$d" "$OS_ROOT/usr/sbin/smtpd" \
		</dev/null >"$d/smtpd.log" 2>&1 &
	OS_PID=$!
	tb_track "$OS_PID"
	if ! tb_wait_listen "$OS_PID" 20 "$@"; then
		echo "# OpenSMTPD $name did not start:" >&"$TB_FD"
		diag "$(tail -n 5 "$d/smtpd.log" 2>/dev/null)"
		return 1
	fi
}

# os_log NAME: the instance's log (smtpd -d writes it to stderr).
os_log() {
	cat "$TB/$1/smtpd.log" 2>/dev/null
}
