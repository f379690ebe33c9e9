#!/usr/bin/env bash
# t_greylist_postgrey.sh - an operator moving from postgrey keeps its whitelists:
# greylist_whitelist_clients and greylist_whitelist_recipients name the files Debian's
# postgrey package ships (/etc/postgrey/whitelist_clients, whitelist_recipients), read as
# they are. Through a real front Exim with the greylisting snippet: clients whose verified
# host name matches a listed name or /regex/ pass at once, others are greylisted; "postmaster@"
# recipients pass; a broken file is reported with file:line and never turns into a 5xx.
. "$(dirname "$0")/../lib/testbed.sh"

PG_CLIENTS=/etc/postgrey/whitelist_clients
PG_RECIPIENTS=/etc/postgrey/whitelist_recipients
if [ ! -f "$PG_CLIENTS" ] || [ ! -f "$PG_RECIPIENTS" ]; then
	if [ "${CI:-}" = true ]; then
		not ok "postgrey's whitelist files are installed (package postgrey)"
		exit 1
	fi
	skip "postgrey whitelists" "postgrey's files are missing (bash tests/deps.sh installs postgrey)"
	exit 0
fi
# The patterns below are lines of Debian's file: make sure they are (the test reads it as is).
for line in 'vger.kernel.org' '/^mail\d+\.telekom\.de$/' '66.216.126.174'; do
	assert_eq 1 "$(grep -cxF -- "$line" "$PG_CLIENTS")" "Debian's $PG_CLIENTS has the line $line"
done
assert_eq 1 "$(grep -cxF 'postmaster@' "$PG_RECIPIENTS")" "Debian's $PG_RECIPIENTS has the line postmaster@"

GL_MSG='Greylisting in action, please come back in a few minutes'
# pg_conf CLIENTS RECIPIENTS: rcptguard.conf with these whitelist files.
pg_conf() {
	printf '%s\n' "greylist_delay = 1h" "greylist_whitelist_clients = $1" \
		"greylist_whitelist_recipients = $2" | tb_conf
}
pg_conf "$PG_CLIENTS" "$PG_RECIPIENTS"
# The verified host name per client IP, from a table (no reverse DNS for 127.x here).
tb_front --rcpt-snippet "$TB_SNIPPETS/rcptguard-greylist.conf" --main "hostlist relay_from_hosts = 127.0.8.1
RCPTGUARD_GREYLIST_HOSTNAME == \${lookup{\$sender_host_address}lsearch{$TB/names}{\$value}}"
cat >"$TB/names" <<EOF
127.0.7.1: mx3.vger.kernel.org
127.0.7.2: mail12.telekom.de
127.0.7.3: mailx.telekom.de
127.0.7.4: evilvger.kernel.org
EOF
chmod 0644 "$TB/names"

# reply IP TO: the RCPT reply of one session from client IP.
reply() {
	tb_rcpt_reply "$2" --local-interface "$1" --from sender@remote.test
}

tb_mark
assert_match '^250 ' "$(reply 127.0.7.1 user@example.org)" \
	"host name under a listed name (mx3.vger.kernel.org, line vger.kernel.org): 250 at once"
assert_log 'greylist \[127\.0\.7\.1\] .* result=pass reason=whitelisted .*whitelist=hostname' \
	"main log: reason=whitelisted whitelist=hostname"
assert_match '^250 ' "$(reply 127.0.7.2 user@example.org)" \
	"host name matching a /regex/ line (mail12.telekom.de): 250 at once"
assert_eq "451 4.7.1 $GL_MSG" "$(reply 127.0.7.3 user@example.org)" \
	"host name the regex does not match (mailx.telekom.de): greylisted"
assert_eq "451 4.7.1 $GL_MSG" "$(reply 127.0.7.4 user@example.org)" \
	"a name that only ends in the listed text (evilvger.kernel.org): greylisted"
assert_eq "451 4.7.1 $GL_MSG" "$(reply 127.0.7.5 user@example.org)" "a client without a host name: greylisted"
assert_match '^250 ' "$(reply 127.0.7.5 postmaster@example.org)" \
	"recipient matching a whitelist_recipients line (postmaster@): 250 at once"
assert_log 'greylist \[127\.0\.7\.5\] .*<postmaster@example\.org> result=pass reason=whitelisted .*whitelist=recipient' \
	"main log: whitelist=recipient"
assert_eq "451 4.7.1 $GL_MSG" "$(reply 127.0.7.5 user@example.org)" "another recipient from that client: still greylisted"

# An operator's local file with a broken regex: named with file:line; the decision falls
# back to greylist_on_error (default pass), never a 5xx.
cp "$PG_CLIENTS" "$TB/whitelist_clients"
echo '/^mx(\d+\.example$/' >>"$TB/whitelist_clients"
chmod 0644 "$TB/whitelist_clients"
pg_conf "$TB/whitelist_clients" "$PG_RECIPIENTS"
lines=$(wc -l <"$TB/whitelist_clients")
tb_mark
r=$(reply 127.0.7.3 other@example.org)
assert_match '^[24][0-9][0-9] ' "$r" "broken clients file: no 5xx ($r)"
assert_log "whitelist_clients:$lines: bad regular expression" "main log: the broken file is named with file:line"

# Not a regular file: refused, named.
rm -f "$TB/whitelist_clients"
mkfifo -m 0644 "$TB/whitelist_clients"
tb_mark
r=$(reply 127.0.7.3 third@example.org)
assert_match '^[24][0-9][0-9] ' "$r" "a FIFO as clients file: answered at once, no 5xx ($r)"
assert_log 'whitelist_clients: not a regular file' "main log: a FIFO is refused as not a regular file"
