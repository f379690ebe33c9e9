# tb_conf.sh - the test bed's rcptguard.conf: written whole by tb_conf, and the [domain]
# sections that route the test domains to the back-end's ports (tb_std_domains).
#
# Part of the test bed (sourced by testbed.sh, never alone).
# shellcheck shell=bash

# tb_conf [--state-dir DIR]: write $TB/rcptguard.conf: "state_dir = $TB/state" (or DIR),
# then stdin (a heredoc). Written whole and renamed: a running front never reads half a
# file.
tb_conf() {
	local state_dir=$TB/state
	tb_no_knobs tb_conf TB_STATE_DIR:--state-dir
	while [ $# -gt 0 ]; do
		case $1 in
		--state-dir) tb_need_value tb_conf "$1" $#; state_dir=$2; shift 2 ;;
		*) tb_usage_error tb_conf "unknown option or argument '$1' (the config comes on stdin)" ;;
		esac
	done
	mkdir -p "$TB/state"
	[ -L "$TB/state" ] || chown "$TB_EXIM_USER:$TB_EXIM_USER" "$TB/state" 2>/dev/null
	{
		echo "# written by $TB_NAME"
		echo "state_dir = $state_dir"
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
