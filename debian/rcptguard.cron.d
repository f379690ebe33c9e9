# rcptguard housekeeping where systemd does not run (with systemd, the timer
# rcptguard-housekeeping.timer does it): expired records, then the static lists.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
17 * * * *	Debian-exim	[ -d /run/systemd/system ] || { [ -x /usr/sbin/rcptguardctl ] && rcptguardctl purge >/dev/null && rcptguardctl list status >/dev/null; }
