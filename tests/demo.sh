#!/usr/bin/env bash
# demo.sh - "make demo": rcptguard at work, in a throwaway folder, in a few seconds.
#
# What it sets up (all on 127.0.0.1, ports picked at run time, stopped at exit):
#
#   client (swaks) --> front Exim, the gateway     --> back-end Exim, the customer's server
#                      rcptguard.so loaded through      example.org: knows alice and bob,
#                      the shipped ACL snippets         550 for anyone else;
#                                                       catchall.example: takes anything
#                                                       down.example: nothing listens
#
# Then it sends a few messages through the gateway and shows, for each, the SMTP
# exchange and what to look for; then the gateway's rcptguard log lines, the verdict
# cache (rcptguardctl cache list) and the SMTP tester (rcptguardctl probe).
# The "ok N - ..." lines are the demo checking itself: "not ok" means rcptguard did
# not behave as described. RG_KEEP=1 keeps the folder (configs, logs, mailboxes).
# Both Exims run with -odq (queue only); the demo delivers with a queue run as root (see
# deliver_now: why), so that messages visibly reach the back-end's mailbox files.
#
# Run as root (it starts Exim daemons): make demo   (or: bash tests/demo.sh)

if [ "$(id -u)" -ne 0 ]; then
	echo "make demo: must run as root (it starts two throwaway Exim daemons)" >&2
	exit 1
fi
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The test bed: $TB, free ports, Exim instances, cleanup at exit, ok/not ok.
# shellcheck source=lib/testbed.sh
. "$REPO/tests/lib/testbed.sh"

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

# send TEXT_FOR_LOG SWAKS_ARGS...: one SMTP session to the gateway; transcript in
# $TB_SWAKS_OUT, RCPT reply in $REPLY_RCPT.
send() {
	TB_SWAKS_OUT=$TB/swaks.$((++SEND_N)).out
	timeout 60 swaks --server 127.0.0.1 --port "$FRONT_PORT" --helo client.example \
		--from sender@client.example "$@" >"$TB_SWAKS_OUT" 2>&1
	REPLY_RCPT=$(tb_rcpt_parse "$TB_SWAKS_OUT" | head -n 1 | cut -f 2-)
	show_transcript "$TB_SWAKS_OUT"
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
# shellcheck disable=SC2034  # BE_LOG, TB_BE_MARK, BE_PID, FRONT_PID, TB_FRONT_STARTED: testbed.sh reads them
BE_LOG=$BE_DIR/mainlog
TB_BE_MARK=0
_tb_exim_dir "$BE_DIR"
mkdir -p "$BE_DIR/mail"
chown "$TB_EXIM_USER:$TB_EXIM_USER" "$BE_DIR/mail"
{
	_tb_exim_common "$BE_DIR" mail.example.org
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
          local_parts = alice : bob
          logwrite    = RCPT <\$local_part@\$domain> from <\$sender_address>: 250
  deny    message     = 550 5.1.1 <\$local_part@\$domain>: no such user here

begin routers

users:
  driver = accept
  domains = example.org
  local_parts = alice : bob
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
_tb_exim_check "$BE_DIR/exim.conf" "back-end Exim config"
_tb_exim_start "$BE_DIR/exim.conf" "$BE_DIR" "back-end Exim" "$BE_ORG:$BE_CATCHALL" -odq
BE_PID=$TB_LAST_PID   # shellcheck disable=SC2034

# ---------------------------------------------------------------- rcptguard and the gateway

tb_conf <<EOF
# Where each customer domain's mail server is (callouts go there).
[domain example.org]
hosts = 127.0.0.1:$BE_ORG

[domain catchall.example]
hosts = 127.0.0.1:$BE_CATCHALL

[domain down.example]
hosts = 127.0.0.1:$BE_DOWN
connect_timeout = 2s
EOF
CONF=$TB/rcptguard.conf

FRONT_DIR=$TB/front
_tb_exim_dir "$FRONT_DIR"
read -r FRONT_PORT <<<"$(tb_free_ports 1)"
{
	_tb_exim_common "$FRONT_DIR" gateway.example
	cat <<EOF
log_selector = +smtp_connection +received_recipients
smtp_banner = \$primary_hostname ESMTP rcptguard demo gateway

# rcptguard: the module and its options, then the shipped main-section snippet
RCPTGUARD_SO = $RG_SO
RCPTGUARD_OPTIONS = config=$CONF
.include $REPO/acl-snippets/rcptguard-main.conf

domainlist relay_to_domains = example.org : catchall.example : down.example
acl_smtp_rcpt = acl_check_rcpt
acl_smtp_quit = acl_rcptguard_quit
acl_smtp_notquit = acl_rcptguard_quit

begin acl

acl_check_rcpt:
  require message = relay not permitted
          domains = +relay_to_domains
  # rcptguard: the shipped RCPT snippet (550 unknown, 451 cannot tell, else go on)
.include $REPO/acl-snippets/rcptguard-rcpt.conf
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
  route_list = example.org 127.0.0.1::$BE_ORG ; catchall.example 127.0.0.1::$BE_CATCHALL ; down.example 127.0.0.1::$BE_DOWN
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
_tb_exim_check "$FRONT_CONF" "gateway Exim config"
_tb_exim_start "$FRONT_CONF" "$FRONT_DIR" "gateway Exim" "$FRONT_PORT" -odq
# shellcheck disable=SC2034  # read by testbed.sh (stop, paniclog check at exit)
FRONT_PID=$TB_LAST_PID
# shellcheck disable=SC2034
TB_FRONT_STARTED=1

step "rcptguard demo"
explain "Folder: $TB (removed at the end; RG_KEEP=1 keeps it)" \
	"Back-end Exim (the customer's server): port $BE_ORG serves example.org (alice and bob only)," \
	"    port $BE_CATCHALL serves catchall.example (accepts anything), port $BE_DOWN is down." \
	"Gateway Exim with rcptguard: port $FRONT_PORT, config $FRONT_CONF" \
	"    (loads $RG_SO through acl-snippets/rcptguard-main.conf and -rcpt.conf)." \
	"rcptguard's config: $CONF"
echo "  ---- the rcptguard parts of the gateway's exim.conf:"
grep -E 'RCPTGUARD|rcptguard-|rcptguard_quit|^acl_check_rcpt:|^acl_smtp_(quit|notquit)|^  (require|accept)' "$FRONT_CONF" | grep -v '^#' | sed 's/^/    /'
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

# ---------------------------------------------------------------- the operator's view

step "The gateway's rcptguard log lines (all of them, from $FRONT_LOG)"
explain "One line per verdict: the check, the address, the answer (as the ACL reads it), the time."
grep 'rcptguard:' "$FRONT_LOG" | sed 's/^/    /'

step "rcptguardctl -c $CONF cache list"
explain "The verdict cache: address, verdict, where it came from, lifetimes, what the server said;" \
	"and one catch-all record per domain. (The down.example deferral is not cached.)" \
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

step "Done: stopping both Exims"
explain "Everything ran in $TB. To use rcptguard on a real gateway: README.md, rcptguard.conf(5)."
