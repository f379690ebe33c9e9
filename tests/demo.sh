#!/usr/bin/env bash
# demo.sh - "make demo": rcptguard at work, in a throwaway folder, in a few seconds.
#
# What it sets up (all on loopback, ports picked at run time, stopped at exit):
#
#   client (swaks) --> front Exim, the gateway     --> back-end Exim, the customer's server
#   from 127.0.0.1     rcptguard.so loaded through      example.org: knows alice and bob,
#   (FCrDNS and        the shipped ACL snippets         550 for anyone else;
#   greylisting steps: (connect, sender, RCPT,          catchall.example: takes anything
#   127.0.2.N)         greylist, quit)
#                                                       down.example: nothing listens
#   static lists:  list.example (its server is down), only.example (sources = list)
#   slapd:         the LDAP directory of ldap.example (its server is down, no list)
#   nsd:           reverse and forward DNS of the 127.0.2.N clients; rcptguard asks it
#                  only (dns_forward), no DNS query leaves the machine
#   greylisting:   only for client 127.0.2.3 (every other client is exempt), so that the
#                  other steps are not deferred; greylist_delay = 4s instead of 5m (2s in the pool step)
#
# Then it sends a few messages through the gateway and shows, for each check (recipient
# callout, cache, catch-all, destination down, sender of an own domain, static list, LDAP,
# FCrDNS, greylisting), the SMTP exchange and what to look for; then the greylisting records
# (rcptguardctl greylist list), the gateway's rcptguard log lines, the verdict cache
# (rcptguardctl cache list) and the SMTP tester (rcptguardctl probe).
# The "ok N - ..." lines are the demo checking itself: "not ok" means rcptguard did
# not behave as described. RG_KEEP=1 keeps the folder (configs, logs, mailboxes).
# Both Exims run with -odq (queue only); the demo delivers with a queue run as root (see
# deliver_now: why), so that messages visibly reach the back-end's mailbox files.
#
# Run as root (it starts Exim, slapd and nsd): make demo   (or: bash tests/demo.sh)

if [ "$(id -u)" -ne 0 ]; then
	echo "make demo: must run as root (it starts throwaway Exim, slapd and nsd daemons)" >&2
	exit 1
fi
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The test bed: $TB, free ports, Exim instances, cleanup at exit, ok/not ok.
# shellcheck source=lib/testbed.sh
. "$REPO/tests/lib/testbed.sh"
# shellcheck source=lib/slapd.sh
. "$REPO/tests/lib/slapd.sh"
# shellcheck source=lib/nsd.sh
. "$REPO/tests/lib/nsd.sh"

for f in "$RG_SO" "$RG_CTL"; do
	[ -x "$f" ] || [ -f "$f" ] || bail "$f is missing: run make first"
done

# ---------------------------------------------------------------- presentation

BOLD=
RESET=
if [ -t 1 ]; then
	BOLD=$(printf '\033[1m')
	RESET=$(printf '\033[0m')
fi

# step TITLE: a heading.
step() {
	printf '\n%s=== %s%s\n' "$BOLD" "$*" "$RESET"
}

# explain TEXT...: a few indented lines of explanation.
explain() {
	local line
	for line in "$@"; do
		printf '  %s\n' "$line"
	done
}

# show_transcript FILE: the SMTP exchange of a swaks transcript: commands (->) and
# replies (<-, <** for errors), without EHLO's list of extensions or the message text.
show_transcript() {
	echo "  SMTP exchange (-> client, <- gateway; <** marks a rejection):"
	awk '
		/^ -> DATA$/ { print "    " $0; indata = 1; next }
		indata == 1 && /^<- +354/ { print "    " $0; print "     -> (the message: headers and body)"; indata = 2; next }
		indata == 2 { if ($0 ~ /^ -> \.$/) { print "    " $0; indata = 0 } ; next }
		/^<- +250-/ { next }                       # EHLO extensions
		/^(<-|<\*\*| ->)/ { print "    " $0 }
	' "$1"
}

# send SWAKS_ARGS...: one SMTP session to the gateway; transcript in $TB_SWAKS_OUT, the
# first RCPT reply in $REPLY_RCPT, every RCPT reply for tb_reply_of ADDRESS.
send() {
	TB_SWAKS_OUT=$TB/swaks.$((++SEND_N)).out
	timeout 60 swaks --server 127.0.0.1 --port "$FRONT_PORT" --helo client.example \
		--from sender@client.example "$@" >"$TB_SWAKS_OUT" 2>&1
	tb_rcpt_parse "$TB_SWAKS_OUT" >"$TB/last_rcpts"
	REPLY_RCPT=$(head -n 1 "$TB/last_rcpts" | cut -f 2-)
	show_transcript "$TB_SWAKS_OUT"
}

# first_reply FILE: a swaks transcript's first server reply ("CODE TEXT"), continuation
# lines joined (Exim wraps a long message at a space).
first_reply() {
	awk '/^<(\*\*|-) +[0-9][0-9][0-9][- ]/ { sub(/^<(\*\*|-) +/, ""); t = t == "" ? substr($0, 1, 3) " " substr($0, 5) : t " " substr($0, 5)
	     if (substr($0, 4, 1) == " ") { print t; exit } }' "$1"
}
SEND_N=0

# front_rg_lines: the gateway's rcptguard log lines since the last mark.
front_rg_lines() {
	tb_front_log | grep 'rcptguard:' | sed 's/^/    /'
}

# backend_conns: connections the back-end received (both ports) since the last mark.
backend_conns() {
	tb_backend_log | grep -c 'SMTP connection from'
}

# deliver_now: run the gateway's queue, then the back-end's, as root, in the foreground.
# Why: the daemons run with -odq (queue only). Started with -C, an Exim that re-executes
# itself to deliver loses root ("exim user lost privilege for using -C option" in the
# paniclog); a queue run started here by root keeps it. A real gateway delivers at once.
deliver_now() {
	"$TB_EXIM" -C "$FRONT_CONF" -qff >/dev/null 2>&1
	"$TB_EXIM" -C "$BE_DIR/exim.conf" -qff >/dev/null 2>&1
}

# ---------------------------------------------------------------- the back-end

read -r BE_ORG BE_CATCHALL BE_DOWN <<<"$(tb_free_ports 3)"
BE_DIR=$TB/backend
# shellcheck disable=SC2034  # BE_LOG, BE_PID, FRONT_PID: testbed.sh reads them
BE_LOG=$BE_DIR/mainlog
tb_backend_mark
tb_exim_dir "$BE_DIR"
mkdir -p "$BE_DIR/mail"
chown "$TB_EXIM_USER:$TB_EXIM_USER" "$BE_DIR/mail"
{
	tb_exim_common "$BE_DIR" mail.example.org
	cat <<EOF
log_selector = +smtp_connection +incoming_port +received_recipients
smtp_banner = \$primary_hostname ESMTP the customer's mail server (demo back-end)
acl_smtp_rcpt = acl_rcpt

begin acl

acl_rcpt:
  # the catch-all server takes any recipient
  accept  condition   = \${if =={\$received_port}{$BE_CATCHALL}}
          logwrite    = RCPT <\$local_part@\$domain> from <\$sender_address>: 250 (catch-all server)
  accept  domains     = example.org
          local_parts = alice : bob : postmaster
          logwrite    = RCPT <\$local_part@\$domain> from <\$sender_address>: 250
  deny    message     = 550 5.1.1 <\$local_part@\$domain>: no such user here

begin routers

users:
  driver = accept
  domains = example.org
  local_parts = alice : bob : postmaster
  transport = user_mailbox

catchall:
  driver = accept
  domains = catchall.example
  transport = catchall_mailbox

begin transports

# one file per mailbox in $BE_DIR/mail
user_mailbox:
  driver = appendfile
  file = $BE_DIR/mail/\$local_part_data@\$domain_data
  user = $TB_EXIM_USER
  mode = 0644

catchall_mailbox:
  driver = appendfile
  file = $BE_DIR/mail/catchall.example
  user = $TB_EXIM_USER
  mode = 0644
EOF
} >"$BE_DIR/exim.conf"
chmod 0644 "$BE_DIR/exim.conf"
tb_exim_check "$BE_DIR/exim.conf" "back-end Exim config"
tb_exim_start "$BE_DIR/exim.conf" "$BE_DIR" "back-end Exim" "$BE_ORG:$BE_CATCHALL" -odq
BE_PID=$TB_LAST_PID   # shellcheck disable=SC2034

# ---------------------------------------------------------------- lists, LDAP, DNS

# demo_lists: the static lists (one address per line), in $LISTS, readable by Exim.
demo_lists() {
	LISTS=$TB/lists
	mkdir -p "$LISTS"
	printf '# list.example mailboxes, uploaded by the customer\nalice@list.example\nbob@list.example\n' \
		>"$LISTS/list.example.list"
	printf 'info@only.example\nsales@only.example\n' >"$LISTS/only.example.list"
	# Why the touch: a file renamed into place counts at once; one written in place waits
	# for list_settle (a writer may not be done). A time set after the last write says it is.
	touch -d '-1 min' "$LISTS"/*.list
	chown -R "$TB_EXIM_USER" "$LISTS"
}

# demo_slapd: a throwaway OpenLDAP server with two mailboxes of ldap.example.
demo_slapd() {
	{
		tb_slapd_person carol carol@ldap.example
		tb_slapd_person dave dave@ldap.example
	} >"$TB/people.ldif"
	tb_slapd_start "$TB/people.ldif"
}

# demo_nsd: a throwaway DNS server for the FCrDNS step: 127.0.2.1 has a proper name
# (PTR and A agree), 127.0.2.5 a dynamic-looking one, 127.0.2.2 no PTR at all; and
# 127.0.2.3, the greylisting step's client, a proper name too (it must pass FCrDNS).
demo_nsd() {
	nsd_zone clients.example <<'EOF'
mail                   A    127.0.2.1
mx2                    A    127.0.2.3
dyn-127-0-2-5.pool     A    127.0.2.5
EOF
	nsd_zone 2.0.127.in-addr.arpa <<'EOF'
1      PTR  mail.clients.example.
3      PTR  mx2.clients.example.
5      PTR  dyn-127-0-2-5.pool.clients.example.
EOF
	nsd_start
}

demo_lists
demo_slapd
demo_nsd

# ---------------------------------------------------------------- rcptguard and the gateway

tb_conf <<EOF
# Senders of these domains are checked like recipients (rcptguard-sender.conf).
own_domains = example.org

# FCrDNS asks this DNS server only (the demo's nsd): no query leaves the machine.
dns_forward = 127.0.0.1@$NSD_PORT
dns_timeout = 2s

# Greylisting retries pass after 4 seconds (default 5m), so that the demo need not wait
# long; not less: times are whole seconds, and the "too early" retry must stay too early.
# Only client 127.0.2.3 is greylisted (RCPTGUARD_GREYLIST_EXEMPT_HOSTS in exim.conf).
greylist_delay = 4s

# A line for answers from the cache too (default no: Exim logs its own refusals), so that
# the demo can show where each answer came from.
log_cached = yes

# Where each customer domain's mail server is (callouts go there).
[domain example.org]
hosts = 127.0.0.1:$BE_ORG

[domain catchall.example]
hosts = 127.0.0.1:$BE_CATCHALL

[domain down.example]
hosts = 127.0.0.1:$BE_DOWN
connect_timeout = 2s

# Its server is down: the static list answers (sources: callout list ldap, the default).
[domain list.example]
hosts = 127.0.0.1:$BE_DOWN
list = $LISTS/list.example.list

# "Only the mailboxes I listed": the customer's server is never asked.
[domain only.example]
hosts = 127.0.0.1:$BE_ORG
sources = list
list = $LISTS/only.example.list

# Its server is down and it has no list: the LDAP directory answers, as a last resort.
[domain ldap.example]
hosts = 127.0.0.1:$BE_DOWN
ldap_uri = $SLAPD_URI
ldap_base = ou=people,$SLAPD_BASE
ldap_timeout = 2s
EOF
CONF=$TB/rcptguard.conf

FRONT_DIR=$TB/front
tb_exim_dir "$FRONT_DIR"
read -r FRONT_PORT <<<"$(tb_free_ports 1)"
{
	tb_exim_common "$FRONT_DIR" gateway.example
	cat <<EOF
log_selector = +smtp_connection +received_recipients
smtp_banner = \$primary_hostname ESMTP rcptguard demo gateway

# rcptguard: the module and its options, then the shipped main-section snippet
RCPTGUARD_SO = $RG_SO
RCPTGUARD_OPTIONS = config=$CONF
# the FCrDNS check spares these clients (the demo's other steps come from 127.0.0.1)
RCPTGUARD_FCRDNS_EXEMPT = <; 127.0.0.1
# greylisting spares every client but 127.0.2.3 (the greylisting step), so that it
# defers nothing in the demo's other steps
RCPTGUARD_GREYLIST_EXEMPT_HOSTS = <; !127.0.2.3 ; *
.include $REPO/acl-snippets/rcptguard-main.conf

domainlist relay_to_domains = example.org : catchall.example : down.example : \
                              list.example : only.example : ldap.example
acl_smtp_connect = acl_check_connect
acl_smtp_rcpt = acl_check_rcpt
acl_smtp_quit = acl_rcptguard_quit
acl_smtp_notquit = acl_rcptguard_quit

begin acl

# rcptguard: FCrDNS of the client's IP address, before the banner
acl_check_connect:
.include $REPO/acl-snippets/rcptguard-connect.conf
  accept

acl_check_rcpt:
  require message = relay not permitted
          domains = +relay_to_domains
  # rcptguard: the sender of an own domain must exist (550 sender unknown)
.include $REPO/acl-snippets/rcptguard-sender.conf
  # rcptguard: the shipped RCPT snippet (550 unknown, 451 cannot tell, else go on)
.include $REPO/acl-snippets/rcptguard-rcpt.conf
  # rcptguard: greylisting of known recipients (451 4.7.1 to a new triplet)
.include $REPO/acl-snippets/rcptguard-greylist.conf
  accept

# rcptguard: at the end of the session, QUIT the callout connections kept open
acl_rcptguard_quit:
.include $REPO/acl-snippets/rcptguard-quit.conf
  accept

begin routers

# the same destinations as in rcptguard.conf
customer_servers:
  driver = manualroute
  domains = +relay_to_domains
  route_list = example.org 127.0.0.1::$BE_ORG ; catchall.example 127.0.0.1::$BE_CATCHALL ; \
               only.example 127.0.0.1::$BE_ORG ; \
               down.example 127.0.0.1::$BE_DOWN ; list.example 127.0.0.1::$BE_DOWN ; \
               ldap.example 127.0.0.1::$BE_DOWN
  self = send
  transport = remote_smtp

begin transports

remote_smtp:
  driver = smtp
  allow_localhost
EOF
} >"$FRONT_DIR/exim.conf"
chmod 0644 "$FRONT_DIR/exim.conf"
FRONT_CONF=$FRONT_DIR/exim.conf
FRONT_LOG=$FRONT_DIR/mainlog
tb_exim_check "$FRONT_CONF" "gateway Exim config"
tb_exim_start "$FRONT_CONF" "$FRONT_DIR" "gateway Exim" "$FRONT_PORT" -odq
# shellcheck disable=SC2034  # read by testbed.sh (stop, paniclog check at exit)
FRONT_PID=$TB_LAST_PID
tb_watch_paniclog "$FRONT_DIR"

step "rcptguard demo"
explain "Folder: $TB (removed at the end; RG_KEEP=1 keeps it)" \
	"Back-end Exim (the customer's server): port $BE_ORG serves example.org (alice and bob only)," \
	"    port $BE_CATCHALL serves catchall.example (accepts anything), port $BE_DOWN is down." \
	"Static lists: $LISTS; LDAP directory (slapd): $SLAPD_URI;" \
	"    DNS server (nsd) for the FCrDNS step: 127.0.0.1 port $NSD_PORT." \
	"Gateway Exim with rcptguard: port $FRONT_PORT, config $FRONT_CONF" \
	"    (loads $RG_SO through acl-snippets/rcptguard-main.conf, -connect.conf," \
	"    -sender.conf, -rcpt.conf, -greylist.conf and -quit.conf)." \
	"rcptguard's config: $CONF"
echo "  ---- the rcptguard parts of the gateway's exim.conf:"
grep -E 'RCPTGUARD|rcptguard-|rcptguard_quit|^acl_check_(connect|rcpt):|^acl_smtp_(connect|quit|notquit)|^  (require|accept)' "$FRONT_CONF" | grep -v '^#' | sed 's/^/    /'
echo "  ---- $CONF"
grep -v '^#' "$CONF" | sed -e '/^$/d' -e 's/^/    /'

# ---------------------------------------------------------------- 1. known recipient

step "1. A known recipient: alice@example.org"
explain "The gateway does not know alice; rcptguard asks the customer's server (a callout:" \
	"EHLO, MAIL FROM:<>, RCPT TO:<alice@example.org>, no message sent), gets 250 and says 250." \
	"Look for: '250' after RCPT TO, then the message handed on to the back-end and delivered."
tb_mark
send --to alice@example.org --body "Hello Alice, this is the rcptguard demo."
assert_match '^250 ' "$REPLY_RCPT" "alice@example.org accepted at RCPT time (250)"
echo "  (The demo's Exims queue messages and deliver when told: delivering now.)"
deliver_now
if [ -s "$BE_DIR/mail/alice@example.org" ]; then
	ok "the message reached alice's mailbox on the back-end"
else
	not ok "the message reached alice's mailbox on the back-end"
	diag "$(tail -n 5 "$FRONT_LOG" "$BE_LOG")"
fi
echo "  The gateway's log: rcptguard's verdict, the message received (<=), handed to the back-end (=>):"
tb_front_log | grep -E 'rcptguard:|=> |<= ' | sed 's/^/    /'
echo "  The back-end's log: the callout (null sender <>: a random probe address, then alice; no"
echo "  message), then the gateway's delivery of the message (from sender@client.example):"
tb_backend_log | grep -E 'SMTP connection from \[|RCPT|<= |=> ' | sed 's/^/    /'
echo "  Alice's mailbox on the back-end ($BE_DIR/mail/alice@example.org):"
grep -E '^(From|To|Subject):|Hello Alice' "$BE_DIR/mail/alice@example.org" 2>/dev/null | sed 's/^/    /'

# ---------------------------------------------------------------- 2. unknown recipient

step "2. An unknown recipient: nobody@example.org"
explain "The customer's server answers 550 to RCPT TO:<nobody@example.org>; rcptguard turns that" \
	"into a 550 at the gateway, before any message is taken (no bounce to a forged sender)." \
	"Look for: '<** 550 <nobody@example.org>: recipient unknown'."
tb_mark
send --to nobody@example.org --quit-after RCPT
assert_eq "550 <nobody@example.org>: recipient unknown" "$REPLY_RCPT" "nobody@example.org rejected with 550 recipient unknown"
echo "  The gateway's log (the detail is what the customer's server said):"
front_rg_lines

# ---------------------------------------------------------------- 3. repeat: cache

step "3. alice@example.org again: answered from the cache"
explain "Verdicts are cached (positive 7d, negative 30m by default), so the customer's server is" \
	"asked once, not for every message. Look for: 250, 'source=cache' in the log, and no new" \
	"connection in the back-end's log."
tb_mark
send --to alice@example.org --quit-after RCPT
assert_match '^250 ' "$REPLY_RCPT" "alice@example.org accepted again (250)"
echo "  The gateway's log:"
front_rg_lines
sleep 0.2
n=$(backend_conns)
echo "  Connections the back-end received during this step: $n"
assert_log 'verify_recipient <alice@example\.org> result=pass source=cache' "the verdict came from the cache (source=cache)"
assert_eq 0 "$n" "the back-end was not contacted"

# ---------------------------------------------------------------- 4. catch-all

step "4. A catch-all destination: anyone@catchall.example"
explain "Before trusting a server's answers, rcptguard probes it once with a random local part." \
	"This server accepts even that, so its 250 says nothing about the address: rcptguard" \
	"accepts (the server takes everything anyway) and says so: 'source=catchall'." \
	"Look for: 250, source=catchall, and the probe 'rcptguard-probe-...' in the back-end's log."
tb_mark
send --to anyone@catchall.example --body "Hello, whoever reads catchall.example."
assert_match '^250 ' "$REPLY_RCPT" "anyone@catchall.example accepted (250)"
deliver_now
echo "  The gateway's log:"
front_rg_lines
assert_log 'verify_recipient <anyone@catchall\.example> result=pass source=catchall' "the verdict says source=catchall"
echo "  The back-end's log: the random probe address was accepted (so anyone@ was not asked),"
echo "  then the gateway's delivery of the message:"
tb_backend_log | grep -E 'RCPT|<= ' | sed 's/^/    /'
if grep -q 'whoever reads catchall' "$BE_DIR/mail/catchall.example" 2>/dev/null; then
	ok "the message reached the catch-all server"
else
	not ok "the message reached the catch-all server"
	diag "$(tail -n 5 "$FRONT_LOG" "$BE_LOG")"
fi

# ---------------------------------------------------------------- 5. destination down

step "5. A destination that is down: someone@down.example"
explain "Nothing listens at down.example's server. That says nothing about the address, so" \
	"rcptguard never rejects: it defers (451), and the sender's server tries again later." \
	"Nothing is cached. Look for: '<** 451 ...: cannot verify recipient now'."
tb_mark
send --to someone@down.example --quit-after RCPT
assert_match '^451 ' "$REPLY_RCPT" "someone@down.example deferred (451), not rejected"
echo "  The gateway's log:"
front_rg_lines

# ---------------------------------------------------------------- 6. sender of an own domain

step "6. A forged sender of an own domain: ghost@example.org"
explain "example.org is one of the gateway's own domains (own_domains): mail claiming to come" \
	"from it must come from a real mailbox. rcptguard asks about the sender like a recipient" \
	"(same sources, same cache). Spammers forge such senders; the back-end says 550 to ghost." \
	"Look for: '<** 550 <ghost@example.org>: sender unknown' at RCPT time."
tb_mark
send --from ghost@example.org --to alice@example.org --quit-after RCPT
assert_eq "550 <ghost@example.org>: sender unknown" "$REPLY_RCPT" "forged sender ghost@example.org refused with 550 sender unknown"
echo "  The gateway's log:"
front_rg_lines
assert_log 'verify_sender <ghost@example\.org> result=fail source=callout' "the sender was asked about by callout (verify_sender result=fail)"

step "7. A sender of a foreign domain: sender@client.example"
explain "Senders of other domains are not checked at all (they are not ours to know): result=skip." \
	"Look for: 250, and 'verify_sender <sender@client.example> result=skip reason=foreign'."
tb_mark
send --to bob@example.org --quit-after RCPT
assert_match '^250 ' "$REPLY_RCPT" "bob@example.org from a foreign sender accepted (250)"
echo "  The gateway's log:"
front_rg_lines
assert_log 'verify_sender <sender@client\.example> result=skip reason=foreign' "the foreign sender was not checked (result=skip reason=foreign)"

# ---------------------------------------------------------------- 8. static list

step "8. A static list answers when the server is down: list.example"
explain "The customer uploads a list of its mailboxes ($LISTS/list.example.list: alice, bob)." \
	"list.example's server is down, so the callout cannot answer; the list can, and it is" \
	"definite: listed 250, not listed 550 (a list never answers 'cannot tell')." \
	"Look for: 250 for alice, 550 for nobody, 'source=list' in the log." \
	"An upload is compiled outside the SMTP path: by the hourly housekeeping timer" \
	"('rcptguardctl list status', run here now), or in the background when a RCPT notices it."
"$RG_CTL" -c "$CONF" list status >/dev/null 2>&1
tb_mark
send --to alice@list.example,nobody@list.example --quit-after RCPT
assert_match '^250 ' "$(tb_reply_of alice@list.example)" "alice@list.example (listed) accepted (250) with the server down"
assert_eq "550 <nobody@list.example>: recipient unknown" "$(tb_reply_of nobody@list.example)" \
	"nobody@list.example (not listed) rejected with 550 recipient unknown"
echo "  The gateway's log:"
front_rg_lines
assert_log 'verify_recipient <nobody@list\.example> result=fail source=list ' "the verdict came from the list (source=list)"

step "9. Only the listed mailboxes: only.example (sources = list)"
explain "A customer may want mail only for the mailboxes it listed: 'sources = list' for its" \
	"domain. Its server is up, but rcptguard never asks it." \
	"Look for: 250 for info, 550 for alice, and no connection in the back-end's log."
tb_mark
send --to info@only.example,alice@only.example --quit-after RCPT
assert_match '^250 ' "$(tb_reply_of info@only.example)" "info@only.example (listed) accepted (250)"
assert_eq "550 <alice@only.example>: recipient unknown" "$(tb_reply_of alice@only.example)" \
	"alice@only.example (not listed) rejected with 550 recipient unknown"
echo "  The gateway's log:"
front_rg_lines
sleep 0.2
n=$(backend_conns)
echo "  Connections the back-end received during this step: $n"
assert_eq 0 "$n" "the customer's server was not contacted (sources = list)"

step "rcptguardctl -c $CONF list status"
explain "Each list: the file, the version in force (entries, when compiled), and whether a newer" \
	"upload is waiting or was refused (a half-uploaded or malformed file never replaces it)."
out=$("$RG_CTL" -c "$CONF" list status 2>&1)
printf '%s\n' "$out" | sed 's/^/    /'
assert_match 'list\.example' "$out" "list status shows list.example"
assert_match 'only\.example' "$out" "list status shows only.example"

# ---------------------------------------------------------------- 10. LDAP

step "10. LDAP as the last resort: ldap.example"
explain "ldap.example's server is down and it has no list: rcptguard asks the customer's LDAP" \
	"directory (here a real slapd, $SLAPD_URI): an entry with mail=ADDRESS means the" \
	"mailbox exists. Look for: 250 for carol (an entry), 550 for nobody, 'source=ldap'."
tb_mark
send --to carol@ldap.example,nobody@ldap.example --quit-after RCPT
assert_match '^250 ' "$(tb_reply_of carol@ldap.example)" "carol@ldap.example (an LDAP entry) accepted (250) with the server down"
assert_eq "550 <nobody@ldap.example>: recipient unknown" "$(tb_reply_of nobody@ldap.example)" \
	"nobody@ldap.example (no LDAP entry) rejected with 550 recipient unknown"
echo "  The gateway's log:"
front_rg_lines
assert_log 'verify_recipient <carol@ldap\.example> result=pass source=ldap ' "the verdict came from LDAP (source=ldap)"

# ---------------------------------------------------------------- 11. FCrDNS

MSG_NOPTR="Your IP address does not resolve to a hostname - no proper reverse mapping exists"
MSG_DYN="You are a dynamic host - please use your providers mailserver to send emails"

step "11. FCrDNS: who is the client? (forward-confirmed reverse DNS, before the banner)"
explain "A real mail server has a name (PTR) that points back to its address (A). rcptguard checks" \
	"that when the client connects (acl-snippets/rcptguard-connect.conf), and refuses hosts" \
	"without one and hosts whose name says 'dial-up/dynamic pool'. The clients below connect" \
	"from 127.0.2.N; the demo's DNS server (nsd) answers for them. (127.0.0.1, used by the" \
	"other steps, is exempt: RCPTGUARD_FCRDNS_EXEMPT.)"
echo "  a) 127.0.2.1, PTR mail.clients.example, whose A record is 127.0.2.1: let in"
tb_mark
send --local-interface 127.0.2.1 --to alice@example.org --quit-after RCPT
assert_match '^220 ' "$(first_reply "$TB_SWAKS_OUT")" "127.0.2.1 (proper name) gets the 220 banner"
assert_match '^250 ' "$REPLY_RCPT" "127.0.2.1 then gets 250 for alice@example.org"
echo "  b) 127.0.2.2, no PTR record at all: refused before the banner"
send --local-interface 127.0.2.2 --to alice@example.org --quit-after CONNECT
assert_eq "550 $MSG_NOPTR" "$(first_reply "$TB_SWAKS_OUT")" "127.0.2.2 (no PTR) refused with 550 and the no-reverse-mapping text"
echo "  c) 127.0.2.5, PTR dyn-127-0-2-5.pool.clients.example (its address in its name): refused"
send --local-interface 127.0.2.5 --to alice@example.org --quit-after CONNECT
assert_eq "550 $MSG_DYN" "$(first_reply "$TB_SWAKS_OUT")" "127.0.2.5 (dynamic-looking name) refused with 550 and the dynamic-host text"
echo "  The gateway's log:"
tb_front_log | grep -E 'rcptguard' | sed 's/^/    /'
assert_log 'fcrdns \[127\.0\.2\.1\] result=pass source=dns hostname=mail\.clients\.example' "log: 127.0.2.1 pass, hostname=mail.clients.example"
assert_log 'fcrdns \[127\.0\.2\.2\] result=fail source=dns reason=noptr' "log: 127.0.2.2 fail reason=noptr"
assert_log 'fcrdns \[127\.0\.2\.5\] result=fail source=dns reason=dynamic' "log: 127.0.2.5 fail reason=dynamic"

# ---------------------------------------------------------------- 12. greylisting

MSG_GREY="Greylisting in action, please come back in a few minutes"

step "12. Greylisting: a new (client network, sender, recipient) triplet must come back later"
explain "Real mail servers retry a deferred message; most spam software does not. rcptguard" \
	"defers (451) a triplet it has not seen (client's /24, sender, recipient), also a retry" \
	"that comes too early, and lets a retry after greylist_delay through; the triplet then" \
	"passes at once for 10 days. Only client 127.0.2.3 (PTR mx2.clients.example) is" \
	"greylisted here (RCPTGUARD_GREYLIST_EXEMPT_HOSTS), with greylist_delay = 4s (default 5m)." \
	"Look for: '<** 451 4.7.1 Greylisting in action...' twice, then 250 after the delay."
echo "  a) first attempt from 127.0.2.3: sender@client.example -> bob@example.org"
tb_mark
send --local-interface 127.0.2.3 --to bob@example.org --quit-after RCPT
assert_eq "451 4.7.1 $MSG_GREY" "$REPLY_RCPT" "first attempt of a new triplet deferred with 451 4.7.1 and the greylisting text"
echo "  b) a retry at once, before greylist_delay has passed: deferred again"
send --local-interface 127.0.2.3 --to bob@example.org --quit-after RCPT
assert_eq "451 4.7.1 $MSG_GREY" "$REPLY_RCPT" "early retry deferred again (451 4.7.1)"
echo "  c) (waiting 4 seconds: greylist_delay) a retry after the delay: accepted"
sleep 4.2
send --local-interface 127.0.2.3 --to bob@example.org --quit-after RCPT
assert_match '^250 ' "$REPLY_RCPT" "retry after the delay accepted (250)"
echo "  The gateway's log:"
front_rg_lines
assert_log 'greylist \[127\.0\.2\.3\] <sender@client\.example> -> <bob@example\.org> result=defer reason=new' "log: the first attempt is a new triplet (reason=new)"
assert_log 'greylist \[127\.0\.2\.3\] .*result=defer reason=early' "log: the early retry (reason=early)"
assert_log 'greylist \[127\.0\.2\.3\] .*result=pass reason=passed' "log: the retry after the delay passes (reason=passed)"
others=$(grep 'rcptguard: greylist \[' "$FRONT_LOG" | grep -vc '\[127\.0\.2\.3\]')
assert_eq 0 "$others" "no other client of the demo was greylisted (all its greylist log lines are 127.0.2.3's)"

step "rcptguardctl -c $CONF greylist list"
explain "The greylisting records: each triplet (network, sender, recipient), its state (wait or" \
	"pass), the deferrals counted, and when it expires; and the auto-whitelisted networks." \
	"'rcptguardctl greylist allow|remove' releases or forgets a network or a triplet."
out=$("$RG_CTL" -c "$CONF" greylist list 2>&1)
printf '%s\n' "$out" | sed 's/^/    /'
assert_match '127\.0\.2\.0/24.*sender@client\.example.*bob@example\.org' "$out" "greylist list shows the triplet (127.0.2.0/24, sender, recipient)"

# ---------------------------------------------------------------- the operator's view

step "The gateway's rcptguard log lines (all of them, from $FRONT_LOG)"
explain "One line per verdict: the check, the address, the answer (as the ACL reads it), the time."
grep 'rcptguard:' "$FRONT_LOG" | sed 's/^/    /'

step "rcptguardctl -c $CONF cache list"
explain "The verdict cache: address, verdict, where it came from (callout, list, ldap), lifetimes," \
	"what the source said; and one catch-all record per domain. (The down.example deferral" \
	"is not cached.)" \
	"'rcptguardctl cache flush ADDRESS|DOMAIN|--all' clears it."
out=$("$RG_CTL" -c "$CONF" cache list 2>&1)
printf '%s\n' "$out" | sed 's/^/    /'
assert_no_match '^someone@down\.example' "$out" "no verdict cached for the deferred address"

step "rcptguardctl -c $CONF probe example.org --rcpt alice@example.org"
explain "The SMTP tester: can this destination be used for callouts? (null sender accepted, an" \
	"unknown address rejected at RCPT time, a known one accepted)."
"$RG_CTL" -c "$CONF" probe example.org --rcpt alice@example.org 2>&1 | sed 's/^/    /'

step "rcptguardctl -c $CONF probe catchall.example"
explain "The same against the catch-all server: it cannot verify addresses."
"$RG_CTL" -c "$CONF" probe catchall.example 2>&1 | sed 's/^/    /'

# ---------------------------------------------------------------- 13. a pool of gateways

step "13. Two gateways, one memory: greylisting and verdicts shared through Redis"
explain "A pool of gateways (equal MX) shares one Redis server (store = redis): a triplet" \
	"greylisted at gateway A passes when the retry reaches gateway B, and a verdict learned" \
	"by A's callout answers at B without asking the customer's server. Each gateway keeps its" \
	"own state_dir (its local fallback store); the Redis server listens on a unix socket here."
. "$REPO/tests/lib/redis.sh"
tb_redis_start pool
MAIN_FRONT_PID=$FRONT_PID MAIN_FRONT_PORT=$FRONT_PORT MAIN_FRONT_LOG=$FRONT_LOG
FRONT_PID=
for g in A B; do
	mkdir -p "$TB/pool$g"
	chown "$TB_EXIM_USER:$TB_EXIM_USER" "$TB/pool$g"
	printf '%s\n' "state_dir = $TB/pool$g" "store = redis" "redis_uri = $(tb_redis_uri pool)" \
		"greylist_delay = 2s" "" "[domain example.org]" "hosts = 127.0.0.1:$BE_ORG" >"$TB/pool$g.conf"
	chmod 0644 "$TB/pool$g.conf"
	tb_front --name "pool$g" --rg-conf "$TB/pool$g.conf" --domains example.org \
		--rcpt-pre ".include $REPO/acl-snippets/rcptguard-greylist.conf" \
		--main "hostlist relay_from_hosts = 127.0.0.1"
	printf -v "POOL_$g" '%s' "$FRONT_PORT"
	FRONT_PID=
done
echo "  ---- $TB/poolA.conf (poolB.conf: the same, state_dir $TB/poolB)"
sed 's/^/    /' "$TB/poolA.conf"
# pool_send A|B SWAKS_ARGS...: one session to gateway A or B.
pool_send() {
	local p=POOL_$1
	shift
	FRONT_PORT=${!p}
	send "$@"
}
echo "  a) gateway A (port $POOL_A): first attempt from 127.0.2.9 to alice@example.org"
pool_send A --local-interface 127.0.2.9 --to alice@example.org --quit-after RCPT
assert_eq "451 4.7.1 $MSG_GREY" "$REPLY_RCPT" "gateway A greylists the new triplet (451 4.7.1)"
echo "  b) (waiting 2 seconds) the retry reaches gateway B (port $POOL_B)"
sleep 2.2
pool_send B --local-interface 127.0.2.9 --to alice@example.org --quit-after RCPT
assert_match '^250 ' "$REPLY_RCPT" "gateway B accepts the retry: it knows A's record (250)"
echo "  c) gateway A verifies bob@example.org by callout; then gateway B is asked"
pool_send A --to bob@example.org --quit-after RCPT
tb_backend_mark
pool_send B --to bob@example.org --quit-after RCPT
assert_match '^250 ' "$REPLY_RCPT" "gateway B accepts bob@example.org"
assert_eq 0 "$(backend_conns)" "gateway B asked the customer's server nothing: the verdict came from Redis"
step "rcptguardctl -c $TB/poolB.conf store status"
explain "Which store the gateway uses, the server, its role, round-trip time and key count."
"$RG_CTL" -c "$TB/poolB.conf" store status 2>&1 | sed 's/^/    /'
echo "  The keys in Redis (prefix rg:, each with its time to live):"
tb_redis_cli pool --scan --pattern '*' | head -n 6 | while read -r k; do
	printf '    %s  (ttl %ss)\n' "$k" "$(tb_redis_cli pool TTL "$k")"
done
FRONT_PID=$MAIN_FRONT_PID FRONT_PORT=$MAIN_FRONT_PORT FRONT_LOG=$MAIN_FRONT_LOG

# ---------------------------------------------------------------- the web interface and API

step "rcptguard-admin: the customers' web page and API"
explain "The same engine and store behind HTTP: a customer token sees only its own domains;" \
	"the page at / signs in with it (clear callout cache, upload the list, SMTP tester)." \
	"See man 8 rcptguard-admin."
ADM_CONF=$TB/admin.conf
# shellcheck source=lib/admin.sh
. "$REPO/tests/lib/admin.sh"
awk -v l="$(adm_conf_lines | tr '\n' '|')" '/^\[domain/ && !done { n = split(l, a, "|"); for (i = 1; i < n; i++) print a[i]; done = 1 } { print }' \
	"$CONF" >"$ADM_CONF"
chmod 0644 "$ADM_CONF"
DEMO_TOKEN=$(adm_token example.org acme)
adm_start
echo "  Token for the customer of example.org (printed once by 'rcptguard-admin token add example.org acme'):"
echo "    $DEMO_TOKEN"
echo "  One API call: the customer's domains, with destination, sources, list and catch-all status:"
echo "    curl -H \"Authorization: Bearer \$TOKEN\" $ADM_URL/api/v1/domains"
adm "$DEMO_TOKEN" GET /api/v1/domains
jq . <<<"$ADM_BODY" 2>/dev/null | sed 's/^/    /' || echo "    $ADM_BODY"
assert_eq "200 example.org" "$ADM_STATUS $(adm_json '[.domains[].domain] | join(",")')" \
	"the API answers the customer with its own domain only"
SHOT=$TB_BUILD/demo-admin-page.png
if [ -x /usr/bin/chromium ]; then
	timeout 60 /usr/bin/chromium --headless --no-sandbox --disable-gpu --window-size=1200,700 \
		--screenshot="$SHOT" "$ADM_URL/" >/dev/null 2>&1
fi
if [ -s "$SHOT" ]; then
	echo "  The web page (sign-in), as headless Chromium shows it: $SHOT"
	ok "a screenshot of the web page: $SHOT"
else
	not ok "a screenshot of the web page (is chromium installed? bash tests/deps.sh)"
fi

step "Done: stopping the Exims, slapd, nsd, Redis and rcptguard-admin"
explain "Everything ran in $TB. To use rcptguard on a real gateway: README.md, rcptguard.conf(5)."
