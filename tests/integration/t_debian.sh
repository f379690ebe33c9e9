#!/usr/bin/env bash
# t_debian.sh - acl-snippets/debian/ in Debian's split configuration: a copy of /etc/exim4
# with 00_rcptguard_macros in conf.d/main, built by update-exim4.conf -d COPY -o FILE;
# Exim parses the result, and "exim -bh" sessions through Debian's own RCPT ACL reach
# rcptguard (250 known, 550 unknown, relay still refused for other domains).
# Nothing under /etc is changed.
. "$(dirname "$0")/../lib/testbed.sh"

deb=$TB_REPO/acl-snippets/debian
if [ ! -d /etc/exim4/conf.d ] || ! command -v update-exim4.conf >/dev/null; then
	skip "Debian split configuration" "no /etc/exim4/conf.d or update-exim4.conf here"
	exit 0
fi
assert_eq yes "$([ -f "$deb/00_rcptguard_macros" ] && [ -f "$deb/30_rcptguard_quit" ] && [ -f "$deb/README" ] && echo yes)" \
	"acl-snippets/debian has 00_rcptguard_macros, 30_rcptguard_quit and README"
assert_eq 1 "$(grep -c 'CHECK_RCPT_LOCAL_ACL_FILE' /etc/exim4/conf.d/acl/30_exim4-config_check_rcpt | awk '{ print ($1 >= 1) }')" \
	"Debian's RCPT ACL has the CHECK_RCPT_LOCAL_ACL_FILE hook"

tb_backend
tb_conf <<EOF
$(tb_std_domains)
EOF

# A private copy of Debian's configuration directory.
conf=$TB/exim4
mkdir -p "$conf"
cp -a /etc/exim4/. "$conf/"
rm -f "$conf/exim4.conf"
install -m 0644 "$deb/00_rcptguard_macros" "$conf/conf.d/main/00_rcptguard_macros"
install -m 0644 "$deb/30_rcptguard_quit" "$conf/conf.d/acl/30_rcptguard_quit"
sed -i -e "s/^dc_use_split_config=.*/dc_use_split_config='true'/" \
	-e "s/^dc_relay_domains=.*/dc_relay_domains='example.org:catchall.test'/" \
	-e "s/^dc_relay_nets=.*/dc_relay_nets=''/" \
	-e "s/^dc_local_interfaces=.*/dc_local_interfaces='127.0.0.1'/" "$conf/update-exim4.conf.conf"
grep -q '^dc_relay_domains=' "$conf/update-exim4.conf.conf" ||
	echo "dc_relay_domains='example.org:catchall.test'" >>"$conf/update-exim4.conf.conf"
grep -q '^dc_use_split_config=' "$conf/update-exim4.conf.conf" ||
	echo "dc_use_split_config='true'" >>"$conf/update-exim4.conf.conf"

# ---- 1. the shipped file alone: the generated config points at /etc/exim4/rcptguard-rcpt.conf
assert_status 0 "update-exim4.conf -d COPY -o FILE builds the configuration" -- \
	update-exim4.conf -d "$conf" -o "$TB/plain.conf"
assert_match '^CHECK_RCPT_LOCAL_ACL_FILE = /etc/exim4/rcptguard-rcpt\.conf' "$(cat "$TB/plain.conf" 2>/dev/null)" \
	"generated config: CHECK_RCPT_LOCAL_ACL_FILE from 00_rcptguard_macros"
assert_match '^RCPTGUARD_SO = /usr/lib/exim4/rcptguard\.so' "$(cat "$TB/plain.conf" 2>/dev/null)" \
	"generated config: RCPTGUARD_SO defined"
assert_match '^acl_smtp_quit = acl_rcptguard_quit' "$(cat "$TB/plain.conf" 2>/dev/null)" \
	"generated config: acl_smtp_quit names the session-end ACL"
assert_match '^acl_rcptguard_quit:' "$(cat "$TB/plain.conf" 2>/dev/null)" \
	"generated config: the session-end ACL from 30_rcptguard_quit is in the ACL section"
out=$("$TB_EXIM" -C "$TB/plain.conf" -bV 2>&1 >/dev/null)
if [ -e /etc/exim4/rcptguard-rcpt.conf ]; then
	assert_eq "" "$out" "exim4 -C generated.conf -bV parses it"
else
	# Without the README's step 2 the only problem is the missing include.
	assert_match 'rcptguard-rcpt\.conf' "${out:-parsed}" "exim4 -bV of it only misses /etc/exim4/rcptguard-rcpt.conf (README step 2)"
fi

# ---- 2. the same with this test's paths, given earlier in conf.d/main (the shipped file
# uses .ifndef, so earlier definitions win; -D cannot be used: Exim cuts long -D names).
mkdir -p "$TB/deb-spool" "$TB/deb-log"
chown "$TB_EXIM_USER:$TB_EXIM_USER" "$TB/deb-spool" "$TB/deb-log"
ln -s "$TB_SNIPPETS/rcptguard-rcpt.conf" "$TB/rcptguard-rcpt.conf"
cat >"$conf/conf.d/main/000_rcptguard_test" <<EOF
# test overrides (t_debian.sh)
CONFDIR = $conf
SPOOLDIR = $TB/deb-spool
MAIN_HOST_LOOKUP =
MAIN_LOCAL_INTERFACES = 127.0.0.1
CHECK_RCPT_LOCAL_ACL_FILE = $TB/rcptguard-rcpt.conf
RCPTGUARD_SO = $RG_SO
RCPTGUARD_OPTIONS = config=$TB/rcptguard.conf
RCPTGUARD_QUIT_SNIPPET = $TB_SNIPPETS/rcptguard-quit.conf
log_file_path = $TB/deb-log/%slog
EOF
# Routing for Debian's "require verify = recipient" (no DNS: an address, never connected to).
printf 'example.org: 192.0.2.25\ncatchall.test: 192.0.2.25\n' >"$conf/hubbed_hosts"
assert_status 0 "update-exim4.conf with the test's overrides" -- update-exim4.conf -d "$conf" -o "$TB/debian.conf"
chown root:root "$TB/debian.conf"
chmod 0644 "$TB/debian.conf"
assert_status 0 "exim4 -C debian.conf -bV parses it" -- "$TB_EXIM" -C "$TB/debian.conf" -bV

# ---- 3. -bh sessions through Debian's ACL
FRONT_CONF=$TB/debian.conf
tb_backend_mark
tb_front_bh 192.0.2.1 --to user1@example.org,nobody@example.org,anyone@catchall.test
replies=$(tb_rcpt_parse "$TB_SWAKS_OUT")
assert_match $'^user1@example\\.org\t250 ' "$replies" "Debian ACL: known user 250"
assert_match $'^nobody@example\\.org\t550 <nobody@example\\.org>: recipient unknown' "$replies" "Debian ACL: unknown user 550 recipient unknown"
assert_match $'^anyone@catchall\\.test\t250 ' "$replies" "Debian ACL: catch-all destination 250"
assert_match 'rcptguard: verify_recipient <nobody@example\.org> result=fail source=callout' "$(cat "$TB_BH_ERR")" \
	"Debian ACL: the verdict is logged"
assert_connections "$BE_USERS" 1 "Debian ACL: one callout connection to the users back-end"
n=$(tb_backend_wait "I=\\[127\\.0\\.0\\.1\\]:$BE_USERS closed by QUIT" 1)
assert_eq 1 "$n" "Debian session-end ACL: the callout connection ends with QUIT"
tb_front_bh 192.0.2.1 --to someone@elsewhere.example
r=$(tb_rcpt_parse "$TB_SWAKS_OUT" | cut -f 2)
assert_match '^550 relay not permitted' "$r" "Debian ACL: other domains still get 'relay not permitted'"
assert_no_match 'verify_recipient' "$(cat "$TB_BH_ERR")" "Debian ACL: rcptguard is not asked for non-relay domains"
