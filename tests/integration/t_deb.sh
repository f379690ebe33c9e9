#!/usr/bin/env bash
# t_deb.sh - the Debian package: dpkg-buildpackage from a copy of the tree, then
# `apt-get install ./rcptguard_*.deb` on this machine; the conf.d files change nothing until
# RCPTGUARD_ENABLE is defined; with it, the system's Exim (/usr/sbin/exim4, started by this
# test on a loopback port with a copy of Debian's configuration built by update-exim4.conf)
# verifies recipients through the packaged module, snippets, rcptguard.conf and
# /var/lib/rcptguard; the housekeeping commands of the timer run; then `apt-get purge` leaves
# no file, folder or user behind. lintian runs beside it (no errors).
# rcptguard-admin is its own binary package, installed beside it: its unit is neither enabled
# nor started; `rcptguard-admin token add` writes the packaged tokens file, and the unit's own
# ExecStart= started by hand as its User= answers GET /api/v1/domains with that token.
# The machine's own Exim configuration is never rebuilt and no system daemon is started
# (no systemd here, and the package starts none itself); a machine where rcptguard is
# already installed is left alone (skipped; a failure under CI=true).
# rg-timeout: 900  (tests/run.sh: the package build alone takes 30 s idle, minutes under load)
. "$(dirname "$0")/../lib/testbed.sh"

# skip_or_fail DESC WHY: a check that cannot run here; under CI=true a failure.
skip_or_fail() {
	if [ "${CI:-}" = true ]; then
		not ok "$1 ($2)"
	else
		skip "$1" "$2"
	fi
}

for tool in dpkg-buildpackage dh lintian update-exim4.conf apt-get; do
	if ! command -v "$tool" >/dev/null; then
		skip_or_fail "Debian package" "$tool is missing (tests/deps.sh installs it)"
		exit 0
	fi
done
# One t_deb at a time on this machine: dpkg's state is shared, and a second run's purge at
# exit would remove the first run's packages half-way through its checks.
exec 9>/run/lock/rcptguard-t_deb.lock
if ! flock -w 600 9; then
	skip_or_fail "Debian package" "another t_deb held /run/lock/rcptguard-t_deb.lock for 600 s"
	exit 0
fi
for p in rcptguard rcptguard-admin; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'installed'; then
		skip_or_fail "Debian package" "$p is installed on this machine already: not touched"
		exit 0
	fi
done

# ---------------------------------------------------------------- build

# The tree as it is now (committed or not), without build products.
src=$TB/src/rcptguard
mkdir -p "$src"
tar -C "$TB_REPO" --exclude=./build --exclude=./.git -cf - . | tar -C "$src" -xf -
t0=$(date +%s)
# unshare -n: the build runs in a network namespace with no network at all.
(cd "$src" && DEB_BUILD_OPTIONS="nocheck noautodbgsym parallel=2" unshare -n dpkg-buildpackage -us -uc -b) \
	>"$TB/build.log" 2>&1
rc=$?
debs=("$TB"/src/rcptguard_*_amd64.deb)
if [ "$rc" -ne 0 ] || [ ! -f "${debs[0]}" ]; then
	not ok "dpkg-buildpackage -us -uc -b builds rcptguard_VERSION_amd64.deb"
	diag "$(tail -n 25 "$TB/build.log")"
	exit 1
fi
deb=${debs[0]}
ok "dpkg-buildpackage -us -uc -b builds $(basename "$deb") without network (unshare -n; $(($(date +%s) - t0)) s)"
adebs=("$TB"/src/rcptguard-admin_*_amd64.deb)
if [ ! -f "${adebs[0]}" ]; then
	not ok "dpkg-buildpackage builds rcptguard-admin_VERSION_amd64.deb too"
	exit 1
fi
adeb=${adebs[0]}
ok "dpkg-buildpackage builds $(basename "$adeb") too"
# lintian beside the rest (it takes a while); its verdict is read at the end.
lintian --no-tag-display-limit "$deb" "$adeb" >"$TB/lintian.out" 2>&1 &
lintian_pid=$!
tb_track "$lintian_pid"

fields=$(dpkg-deb -f "$deb")
assert_match '^Depends: .*exim4-daemon-heavy' "$fields" "Depends: exim4-daemon-heavy"
assert_match '^Depends: .*liblmdb0' "$fields" "Depends: the libraries, through \${shlibs:Depends} (liblmdb0)"
mkdir -p "$TB/ctrl"
dpkg-deb -e "$deb" "$TB/ctrl"
conffiles=$(cat "$TB/ctrl/conffiles" 2>/dev/null)
for f in /etc/rcptguard/rcptguard.conf /etc/exim4/conf.d/main/00_rcptguard_macros \
	/etc/exim4/conf.d/acl/30_rcptguard_quit /etc/exim4/rcptguard-rcpt.conf /etc/cron.d/rcptguard; do
	assert_match "^${f//./\\.}\$" "$conffiles" "conffile $f"
done
contents=$(dpkg-deb -c "$deb" | awk '{ print $6 }')
for f in ./usr/lib/exim4/rcptguard.so ./usr/sbin/rcptguardctl ./lib/systemd/system/rcptguard-housekeeping.timer \
	./lib/systemd/system/rcptguard-housekeeping.service ./usr/share/doc/rcptguard/README.Debian \
	./usr/share/rcptguard/acl-snippets/rcptguard-rcpt.conf ./usr/share/rcptguard/acl-snippets/rcptguard-blocklist.conf; do
	assert_match "^${f//./\\.}\$" "$contents" "the package holds $f"
done
assert_no_match '^\./var/lib/rcptguard' "$contents" "the state folder is not in the package (postinst makes it)"
assert_no_match 'rcptguard-admin' "$contents" "rcptguard holds nothing of rcptguard-admin"
assert_no_match '^Depends: .*(libmicrohttpd|libgnutls|libjansson)' "$fields" \
	"rcptguard does not depend on libmicrohttpd, GnuTLS or jansson (gateways without the web API)"

afields=$(dpkg-deb -f "$adeb")
version=$(dpkg-deb -f "$deb" Version)
assert_match "^Depends: rcptguard \\(= ${version//./\\.}\\)" "$afields" "rcptguard-admin Depends: rcptguard (= $version)"
assert_match '^Depends: .*libmicrohttpd12' "$afields" "rcptguard-admin Depends: libmicrohttpd12 (\${shlibs:Depends})"
acontents=$(dpkg-deb -c "$adeb" | awk '{ print $6 }')
for f in ./usr/sbin/rcptguard-admin ./lib/systemd/system/rcptguard-admin.service \
	./usr/share/man/man8/rcptguard-admin.8.gz ./usr/share/doc/rcptguard-admin/README.Debian; do
	assert_match "^${f//./\\.}\$" "$acontents" "rcptguard-admin holds $f"
done

# ---------------------------------------------------------------- install

users0=$(getent passwd | cut -d: -f1 | sort)
groups0=$(getent group | cut -d: -f1 | sort)
autogen=/var/lib/exim4/config.autogenerated
sum0=$(sha256sum "$autogen" 2>/dev/null)
# Purged at exit whatever happens (the test must leave the machine as it found it).
# setsid: a runner's time-out signal to this script's process group must not cut dpkg short.
tb_on_exit "dpkg-query -W rcptguard >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive setsid -w apt-get purge -y -q -o DPkg::Lock::Timeout=600 rcptguard rcptguard-admin >/dev/null 2>&1"
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 \
	"$deb" "$adeb" >"$TB/install.log" 2>&1; then
	not ok "apt-get install ./$(basename "$deb") ./$(basename "$adeb")"
	diag "$(tail -n 20 "$TB/install.log")"
	exit 1
fi
ok "apt-get install ./$(basename "$deb") ./$(basename "$adeb")"
assert_match '^install ok installed$' "$(dpkg-query -W -f='${Status}' rcptguard)" "dpkg: rcptguard installed"
assert_match '^install ok installed$' "$(dpkg-query -W -f='${Status}' rcptguard-admin)" "dpkg: rcptguard-admin installed"
assert_eq "" "$(find /etc/systemd/system -name 'rcptguard-admin*' 2>/dev/null)" \
	"rcptguard-admin.service is not enabled on install (no link under /etc/systemd/system)"
assert_eq "" "$(pgrep -x rcptguard-admin)" "no rcptguard-admin daemon was started on install"
assert_eq "root:Debian-exim 640 0" "$(stat -c '%U:%G %a %s' /etc/rcptguard/admin-tokens 2>&1)" \
	"postinst: an empty tokens file, root:Debian-exim, mode 0640"
assert_eq "Debian-exim:Debian-exim 750" "$(stat -c '%U:%G %a' /var/lib/rcptguard 2>&1)" \
	"postinst: /var/lib/rcptguard owned by Debian-exim, mode 0750"
assert_eq "$sum0" "$(sha256sum "$autogen" 2>/dev/null)" "installing did not rebuild the system's Exim configuration"
assert_match 'Expand_dlfunc' "$(/usr/sbin/exim4 -bV 2>/dev/null)" "the system's Exim has \${dlfunc} (exim4-daemon-heavy)"

# ---------------------------------------------------------------- Debian's configuration

tb_backend
# The packaged rcptguard.conf (a conffile; purged below), with the test's destinations.
read -r aport <<<"$(tb_free_ports 1)"
cat >>/etc/rcptguard/rcptguard.conf <<EOF

# added by $TB_NAME
admin_listen = 127.0.0.1:$aport
admin_tokens = /etc/rcptguard/admin-tokens

[domain example.org]
hosts = 127.0.0.1:$BE_USERS
EOF

# dc_relay_domains/hubbed_hosts as an operator sets them; the copy keeps /etc/exim4 untouched.
conf=$TB/exim4
mkdir -p "$conf" "$TB/deb-spool" "$TB/deb-log"
chown "$TB_EXIM_USER:$TB_EXIM_USER" "$TB/deb-spool" "$TB/deb-log"
cp -a /etc/exim4/. "$conf/"
rm -f "$conf/exim4.conf"
sed -i -e "s/^dc_use_split_config=.*/dc_use_split_config='true'/" \
	-e "s/^dc_relay_domains=.*/dc_relay_domains='example.org'/" \
	-e "s/^dc_relay_nets=.*/dc_relay_nets=''/" "$conf/update-exim4.conf.conf"
grep -q '^dc_use_split_config=' "$conf/update-exim4.conf.conf" || echo "dc_use_split_config='true'" >>"$conf/update-exim4.conf.conf"
grep -q '^dc_relay_domains=' "$conf/update-exim4.conf.conf" || echo "dc_relay_domains='example.org'" >>"$conf/update-exim4.conf.conf"
printf 'example.org: 192.0.2.25\n' >"$conf/hubbed_hosts"
assert_eq yes "$([ -f "$conf/conf.d/main/00_rcptguard_macros" ] && [ -f "$conf/conf.d/acl/30_rcptguard_quit" ] && echo yes)" \
	"the packaged files are in conf.d/main and conf.d/acl, where update-exim4.conf reads them"
# Test paths only: spool, log, interfaces (Debian's macros; main options in a conf.d file).
cat >"$conf/conf.d/main/000_localmacros" <<EOF
# $TB_NAME: this instance's paths
CONFDIR = $conf
SPOOLDIR = $TB/deb-spool
MAIN_HOST_LOOKUP =
MAIN_LOCAL_INTERFACES = 127.0.0.1
log_file_path = $TB/deb-log/%slog
EOF

# build_conf NAME: update-exim4.conf of the copy into $TB/NAME.conf (root-owned, 0644).
build_conf() {
	update-exim4.conf -d "$conf" -o "$TB/$1.conf" >"$TB/$1.out" 2>&1 || return 1
	chown root:root "$TB/$1.conf"
	chmod 0644 "$TB/$1.conf"
}

# ---- not enabled: the packaged files change nothing
if build_conf off; then
	ok "update-exim4.conf with the package installed, rcptguard not enabled"
else
	not ok "update-exim4.conf with the package installed, rcptguard not enabled"
	diag "$(cat "$TB/off.out")"
fi
assert_no_match '^acl_smtp_quit = acl_rcptguard_quit' "$(/usr/sbin/exim4 -C "$TB/off.conf" -bP acl_smtp_quit 2>&1)" \
	"not enabled: no rcptguard session-end ACL"
FRONT_CONF=$TB/off.conf
tb_front_bh 192.0.2.1 --to nobody@example.org
assert_match '^250 ' "$(tb_rcpt_parse "$TB_SWAKS_OUT" | cut -f 2)" "not enabled: nobody@example.org accepted by Debian's ACL (rcptguard not asked)"
assert_no_match 'rcptguard' "$(cat "$TB_BH_ERR")" "not enabled: no rcptguard log line"

# ---- enabled: one macro
echo 'RCPTGUARD_ENABLE = yes' >>"$conf/conf.d/main/000_localmacros"
if build_conf on; then
	ok "update-exim4.conf with RCPTGUARD_ENABLE = yes in conf.d/main/000_localmacros"
else
	not ok "update-exim4.conf with RCPTGUARD_ENABLE = yes in conf.d/main/000_localmacros"
	diag "$(cat "$TB/on.out")"
fi
assert_status 0 "exim4 -C generated.conf -bV parses it" -- /usr/sbin/exim4 -C "$TB/on.conf" -bV
assert_match '^acl_smtp_quit = acl_rcptguard_quit' "$(/usr/sbin/exim4 -C "$TB/on.conf" -bP acl_smtp_quit 2>&1)" \
	"enabled: the session-end ACL is in force"

# The system's Exim as a daemon on a loopback port, with that configuration.
read -r port <<<"$(tb_free_ports 1)"
mkdir -p "$TB/deb-daemon"
tb_exim_start "$TB/on.conf" "$TB/deb-daemon" "Debian-configured Exim" "$port"
deb_pid=$TB_LAST_PID
ok "the system's Exim (/usr/sbin/exim4) listens on 127.0.0.1:$port with Debian's configuration"
FRONT_PORT=$port
# From 127.0.0.2: Debian's relay_from_hosts (127.0.0.1, ::1) is accepted before the hook.
tb_swaks --local-interface 127.0.0.2 --to user1@example.org,nobody@example.org >/dev/null
tb_rcpt_parse "$TB_SWAKS_OUT" >"$TB/on.replies"
assert_match $'^user1@example\\.org\t250 ' "$(cat "$TB/on.replies")" "enabled: known user 250"
assert_match $'^nobody@example\\.org\t550 <nobody@example\\.org>: recipient unknown$' "$(cat "$TB/on.replies")" \
	"enabled: unknown user 550 <nobody@example.org>: recipient unknown"
mainlog=$(cat "$TB/deb-log/mainlog" 2>/dev/null)
assert_match 'rcptguard: verify_recipient <nobody@example\.org> result=fail source=callout' "$mainlog" \
	"enabled: the verdict is in Exim's main log"
n=$(tb_backend_wait "I=\\[127\\.0\\.0\\.1\\]:$BE_USERS closed by QUIT" 1)
assert_eq 1 "$n" "enabled: the callout connection ends with QUIT (packaged 30_rcptguard_quit)"
cache=$(runuser -u Debian-exim -- /usr/sbin/rcptguardctl cache list 2>&1)
assert_match '^user1@example\.org pass callout' "$cache" "the verdict is cached in /var/lib/rcptguard (packaged rcptguardctl)"
assert_eq Debian-exim "$(stat -c %U /var/lib/rcptguard/rcptguard.mdb 2>&1)" "the store file belongs to Debian-exim"
tb_stop "$deb_pid"

# ---- rcptguard-admin: tokens with the packaged paths, the unit's command by hand
optok=$(/usr/sbin/rcptguard-admin token add '*' ops 2>"$TB/token.err")
custok=$(/usr/sbin/rcptguard-admin token add example.org acme 2>>"$TB/token.err")
assert_match '^[0-9a-f]{64}$' "$custok" "rcptguard-admin token add example.org acme prints a token"
assert_match '^[0-9a-f]{64} example\.org acme$' "$(cat /etc/rcptguard/admin-tokens 2>&1)" \
	"token add appends its hash to the packaged /etc/rcptguard/admin-tokens"
assert_eq "root:Debian-exim 640" "$(stat -c '%U:%G %a' /etc/rcptguard/admin-tokens 2>&1)" \
	"the tokens file keeps its owner and mode (the daemon's user can read it)"
unit=/lib/systemd/system/rcptguard-admin.service
user=$(sed -n 's/^User=//p' "$unit")
execstart=$(sed -n 's/^ExecStart=//p' "$unit")
assert_eq "Debian-exim /usr/sbin/rcptguard-admin -c /etc/rcptguard/rcptguard.conf serve" "$user $execstart" \
	"the unit runs rcptguard-admin serve as Debian-exim"
# What systemd would run, by hand (no systemd here): the unit's User= and ExecStart=.
# shellcheck disable=SC2086  # the unit's command line, as systemd splits it
setsid runuser -u "$user" -- $execstart </dev/null >"$TB/admin.log" 2>&1 &
admin_pid=$!
tb_track "$admin_pid"
if tb_wait_listen "$admin_pid" 10 "$aport"; then
	ok "the packaged rcptguard-admin listens on 127.0.0.1:$aport as $user"
else
	not ok "the packaged rcptguard-admin listens on 127.0.0.1:$aport as $user"
	diag "$(tail -n 10 "$TB/admin.log")"
fi
st=$(curl -s -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$aport/api/v1/domains")
assert_eq 401 "$st" "GET /api/v1/domains without a token: 401"
st=$(curl -s -m 10 -o "$TB/domains.json" -w '%{http_code}' -H "Authorization: Bearer $custok" \
	"http://127.0.0.1:$aport/api/v1/domains")
assert_eq 200 "$st" "GET /api/v1/domains with the customer's token: 200"
assert_eq "example.org 127.0.0.1:$BE_USERS" "$(jq -r '.domains[] | .domain + " " + .hosts' "$TB/domains.json" 2>&1)" \
	"the answer names the customer's domain and its destination from the packaged rcptguard.conf"
st=$(curl -s -m 10 -o "$TB/cache.json" -w '%{http_code}' -H "Authorization: Bearer $optok" \
	"http://127.0.0.1:$aport/api/v1/domains/example.org/cache")
assert_eq 200 "$st" "GET /api/v1/domains/example.org/cache with the operator's token: 200"
assert_match '"user1@example\.org"' "$(cat "$TB/cache.json")" "the daemon reads the verdicts Exim cached in /var/lib/rcptguard"
assert_eq "$user" "$(ps -o user= -p "$(pgrep -x -P "$admin_pid" rcptguard-admin || echo "$admin_pid")" 2>&1 | tr -d ' ')" \
	"the daemon runs as $user"
tb_stop "$admin_pid"

# ---- housekeeping: what the timer and the cron file run
svc=/lib/systemd/system/rcptguard-housekeeping.service
assert_match '^User=Debian-exim$' "$(cat "$svc" 2>/dev/null)" "the housekeeping service runs as Debian-exim"
assert_match '^OnCalendar=' "$(cat /lib/systemd/system/rcptguard-housekeeping.timer 2>/dev/null)" "the timer has a schedule"
while IFS= read -r cmd; do
	# shellcheck disable=SC2086  # the service's command line, as systemd splits it
	assert_status 0 "housekeeping as Debian-exim: $cmd" -- runuser -u Debian-exim -- $cmd
done < <(sed -n 's/^ExecStart=//p' "$svc")
assert_match 'Debian-exim.*rcptguardctl purge' "$(cat /etc/cron.d/rcptguard 2>/dev/null)" "cron fallback: rcptguardctl purge as Debian-exim"

# ---- shutdown: greylist.mdb (written without fsync) synced once Exim has stopped
gsvc=/lib/systemd/system/rcptguard-greylist-sync.service
assert_match '^Before=exim4\.service$' "$(cat "$gsvc" 2>/dev/null)" "greylist-sync unit: stopped after Exim (Before=exim4.service)"
assert_match '^User=Debian-exim$' "$(cat "$gsvc" 2>/dev/null)" "greylist-sync unit runs as Debian-exim"
assert_match '^result=defer reason=new ' \
	"$(runuser -u Debian-exim -- /usr/sbin/rcptguardctl greylist 192.0.2.9 sender@deb.example user1@example.org 2>&1)" \
	"a greylisting decision as Debian-exim (a new triplet) writes greylist.mdb"
# As an Exim session leaves it: unsynced commits of this boot.
printf 'dirty %s\n' "$(cat /proc/sys/kernel/random/boot_id)" >/var/lib/rcptguard/greylist.mdb-boot
chown Debian-exim:Debian-exim /var/lib/rcptguard/greylist.mdb-boot
gstop=$(sed -n 's/^ExecStop=//p' "$gsvc")
# shellcheck disable=SC2086  # the unit's command line, as systemd splits it
assert_status 0 "greylist-sync ExecStop as Debian-exim: $gstop" -- runuser -u Debian-exim -- $gstop
assert_eq synced "$(cat /var/lib/rcptguard/greylist.mdb-boot 2>&1)" "after the unit's ExecStop the greylist file is stamped synced (kept after a reboot)"

# ---------------------------------------------------------------- purge

files=$(dpkg-query -L rcptguard rcptguard-admin 2>/dev/null)
if ! DEBIAN_FRONTEND=noninteractive apt-get purge -y -q -o DPkg::Lock::Timeout=600 rcptguard rcptguard-admin >"$TB/purge.log" 2>&1; then
	not ok "apt-get purge rcptguard rcptguard-admin"
	diag "$(tail -n 20 "$TB/purge.log")"
else
	ok "apt-get purge rcptguard rcptguard-admin"
fi
assert_status 1 "dpkg no longer knows rcptguard" -- dpkg-query -W -f='${Status}\n' rcptguard
assert_status 1 "dpkg no longer knows rcptguard-admin" -- dpkg-query -W -f='${Status}\n' rcptguard-admin
left=
while IFS= read -r f; do
	[ -n "$f" ] || continue
	# Shared folders (/etc, /usr/lib/exim4, ...) stay; every file and our own folders go.
	if [ -e "$f" ] && { [ ! -d "$f" ] || case $f in */rcptguard | */rcptguard/*) true ;; *) false ;; esac; }; then
		left="$left $f"
	fi
done <<<"$files"
assert_eq "" "$left" "purge: nothing of the package is left ($(wc -l <<<"$files") paths checked)"
assert_eq no "$([ -e /var/lib/rcptguard ] && echo yes || echo no)" "purge: /var/lib/rcptguard removed"
assert_eq no "$([ -e /etc/rcptguard ] && echo yes || echo no)" "purge: /etc/rcptguard removed"
assert_eq "$users0" "$(getent passwd | cut -d: -f1 | sort)" "purge: no user added or removed"
assert_eq "$groups0" "$(getent group | cut -d: -f1 | sort)" "purge: no group added or removed"
assert_eq "$sum0" "$(sha256sum "$autogen" 2>/dev/null)" "the system's Exim configuration was never rebuilt"

# ---------------------------------------------------------------- lintian

wait "$lintian_pid"
lint=$(grep -E '^[EW]: ' "$TB/lintian.out")
assert_no_match '^E: ' "$lint" "lintian: no error"
[ -n "$lint" ] && diag "lintian: $lint"
exit 0
