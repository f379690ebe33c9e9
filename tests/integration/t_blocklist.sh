#!/usr/bin/env bash
# t_blocklist.sh - acl-snippets/rcptguard-blocklist.conf: Exim's own dnslists against a real
# nsd serving a DNSBL zone, and a local file of IP addresses and networks. A listed client
# gets "550 We don't accept mail from your IP" (with the list's name for a DNSBL), an
# unlisted one passes on to recipient verification, an exempt one is spared, and with the
# DNS server down a listed client is not refused with a 5xx.
# Exim asks the DNS through /etc/resolv.conf (port 53 only): the whole test runs inside its
# own network namespace, where "ip netns exec" puts /etc/netns/NAME/resolv.conf
# (nameserver 127.0.0.1) in place and nsd answers on 127.0.0.1:53. No query leaves it.

if [ "${1:-}" != --inside ]; then
	NS=rgbl$$
	if [ "$(id -u)" -ne 0 ]; then
		echo "Bail out! t_blocklist: integration tests must run as root"
		exit 2
	fi
	if ! ip netns add "$NS" 2>/dev/null; then
		if [ "${CI:-}" = true ]; then
			echo "not ok 1 - blocklist snippet (ip netns add failed)"
			exit 1
		fi
		echo "ok 1 - blocklist snippet # SKIP ip netns add failed"
		exit 0
	fi
	# shellcheck disable=SC2064  # expand now
	trap "ip netns del '$NS' 2>/dev/null; rm -rf '/etc/netns/$NS'" EXIT
	mkdir -p "/etc/netns/$NS"
	echo "nameserver 127.0.0.1" >"/etc/netns/$NS/resolv.conf"
	ip netns exec "$NS" ip link set lo up
	ip netns exec "$NS" bash "$0" --inside
	exit $?
fi

. "$(dirname "$0")/../lib/testbed.sh"
. "$(dirname "$0")/../lib/nsd.sh"

assert_match '^nameserver 127\.0\.0\.1$' "$(cat /etc/resolv.conf)" "inside the namespace, the resolver is 127.0.0.1"

# The DNSBL: 127.0.0.2 is listed (A 127.0.0.2 and a TXT), 127.0.0.3 is not.
nsd_zone bl.test <<EOF
2.0.0.127   A    127.0.0.2
2.0.0.127   TXT  "listed for testing"
5.0.0.127   A    127.0.0.2
EOF
nsd_start 53
ok "nsd serves the DNSBL zone bl.test on 127.0.0.1:53"

cidr=$TB/blocklist-cidr
cat >"$cidr" <<EOF
# local blocklist (t_blocklist)
127.0.0.8/30
::2
EOF
chmod 0644 "$cidr"

tb_backend
# log_cached = yes: the checks below count verdict lines, those from the cache included.
tb_conf <<EOF
log_cached = yes
$(tb_std_domains)
EOF
TB_FRONT_RCPT_PRE=".include $TB_SNIPPETS/rcptguard-blocklist.conf" tb_front "RCPTGUARD_DNSLISTS = bl.test
RCPTGUARD_BLOCKLIST_CIDR = $cidr
RCPTGUARD_BLOCKLIST_EXEMPT = 127.0.0.5"

# from IP ADDRESS: the RCPT reply for ADDRESS from client IP.
from() {
	tb_swaks --local-interface "$1" --to "$2" >/dev/null
	tb_rcpt_parse "$TB_SWAKS_OUT" | cut -f 2
}

tb_mark
r=$(from 127.0.0.2 user1@example.org)
assert_eq "550 We don't accept mail from your IP (listed in bl.test)" "$r" "DNSBL-listed client: 550 with the list's name"
r=$(from 127.0.0.9 user1@example.org)
assert_eq "550 We don't accept mail from your IP" "$r" "client in the CIDR file (127.0.0.8/30): 550"
r=$(from 127.0.0.3 user1@example.org)
assert_match '^250 ' "$r" "unlisted client: 250 (recipient verified)"
r=$(from 127.0.0.3 nobody@example.org)
assert_match '^550 <nobody@example\.org>: recipient unknown$' "$r" "unlisted client: recipient verification still runs (550 recipient unknown)"
r=$(from 127.0.0.5 user1@example.org)
assert_match '^250 ' "$r" "DNSBL-listed but exempt client (RCPTGUARD_BLOCKLIST_EXEMPT): 250"
r=$(from 127.0.0.12 user1@example.org)
assert_match '^250 ' "$r" "client just outside the CIDR network: 250"
log=$(tb_front_log)
assert_match 'rejected RCPT <user1@example\.org>: rcptguard blocklist: 127\.0\.0\.2 listed in bl\.test \(127\.0\.0\.2\)' "$log" \
	"main log: the DNSBL rejection names the list and its answer"
assert_match "rejected RCPT <user1@example\\.org>: rcptguard blocklist: 127\\.0\\.0\\.9 listed in ${cidr//./\\.}" "$log" \
	"main log: the CIDR rejection names the file"
n=$(grep -c 'verify_recipient <user1@example\.org>' <<<"$log")
assert_eq 3 "$n" "refused clients never reach recipient verification (3 verifications for 3 passing sessions)"

# The DNS server down: the listed client is not refused with a 5xx.
nsd_stop
r=$(from 127.0.0.2 user1@example.org)
assert_match '^[24][0-9][0-9] ' "$r" "DNS down: DNSBL-listed client gets no 5xx ($r)"
r=$(from 127.0.0.9 user1@example.org)
assert_eq "550 We don't accept mail from your IP" "$r" "DNS down: the CIDR file still refuses 127.0.0.9"

# A missing CIDR file: the check defers (451), never a 5xx, and says why in the log.
mv "$cidr" "$cidr.aside"
tb_mark
r=$(from 127.0.0.3 user1@example.org)
assert_eq "451 Temporary local problem - please try later" "$r" "CIDR file missing: 451"
assert_match "temporarily rejected RCPT <user1@example\.org>: rcptguard blocklist: ${cidr//./\.} is missing" \
	"$(tb_front_log)" "CIDR file missing: the main log names the file"
mv "$cidr.aside" "$cidr"
r=$(from 127.0.0.9 user1@example.org)
assert_eq "550 We don't accept mail from your IP" "$r" "CIDR file back: 127.0.0.9 refused again"
