#!/usr/bin/env bash
# t_peer_postfix.sh - callouts against a real Postfix 3.7 acting out customer servers
# (issue 12): unknown users on local, virtual and relay maps; catch-alls by virtual alias
# and luser_relay (no local recipient check); 450 to every RCPT; postgrey in front; the
# null sender refused at RCPT and at MAIL; a strict HELO policy; error limits that end in
# 421; accept at RCPT and refuse after DATA; postscreen's greeting delay; and an Exim that
# refuses the null sender with a plain 550 (no enhanced code). Asserts the
# gateway's replies, the cache, the front's log, probe, and Postfix's own log.
. "$(dirname "$0")/../lib/testbed.sh"
. "$(dirname "$0")/../lib/postfix.sh"

pf_fetch || bail "cannot unpack Debian's postfix package (apt-get download postfix)"
read -r P_MAIN P_LUSER P_450 P_GREY P_NULLRCPT P_NULLMAIL P_HELO P_ERRLIM P_DATA P_SCREEN PG_PORT \
	<<<"$(tb_free_ports 11)"

# ---- postgrey, in front of one smtpd (short delay)
mkdir -p "$TB/postgrey"
chown postgrey "$TB/postgrey"
setsid postgrey --inet="127.0.0.1:$PG_PORT" --dbdir="$TB/postgrey" --delay=2 --user=postgrey \
	--pidfile="$TB/postgrey/pid" >"$TB/postgrey/out" 2>&1 </dev/null &
PG_PID=$!
tb_track "$PG_PID"
tb_wait_listen "$PG_PID" 20 "$PG_PORT" || bail "postgrey did not start: $(tail -n 3 "$TB/postgrey/out")"

mkdir -p "$TB/cust"
cat >"$TB/cust/main.cf.extra" <<EOF
mynetworks = 192.0.2.1/32
mydestination = local.test, luser.test, data.test, errlim.test, grey.test, screen.test, defer.test, nullrcpt.test, nullmail.test, helo.test
luser_relay = root
virtual_mailbox_domains = virt.test
virtual_mailbox_maps = inline:{ bob@virt.test=x, postmaster@virt.test=x }
relay_domains = relay.test
relay_recipient_maps = inline:{ carol@relay.test=x, postmaster@relay.test=x }
virtual_alias_domains = alias.test
virtual_alias_maps = inline:{ @alias.test=root }
postscreen_greet_wait = 3s
postscreen_cache_map = btree:\$data_directory/postscreen_cache
EOF
pf_start cust "$P_MAIN" "$P_LUSER" "$P_450" "$P_GREY" "$P_NULLRCPT" "$P_NULLMAIL" "$P_HELO" \
	"$P_ERRLIM" "$P_DATA" "$P_SCREEN" <<EOF || bail "Postfix did not start"
127.0.0.1:$P_MAIN      inet n - n - - smtpd
127.0.0.1:$P_LUSER     inet n - n - - smtpd -o local_recipient_maps=
127.0.0.1:$P_450       inet n - n - - smtpd -o smtpd_recipient_restrictions=defer
127.0.0.1:$P_GREY      inet n - n - - smtpd -o smtpd_recipient_restrictions=check_policy_service,inet:127.0.0.1:$PG_PORT
127.0.0.1:$P_NULLRCPT  inet n - n - - smtpd -o smtpd_sender_restrictions=check_sender_access,inline:{<>=REJECT}
127.0.0.1:$P_NULLMAIL  inet n - n - - smtpd -o smtpd_sender_restrictions=check_sender_access,inline:{<>=REJECT} -o smtpd_delay_reject=no
127.0.0.1:$P_HELO      inet n - n - - smtpd -o smtpd_helo_required=yes -o smtpd_helo_restrictions=reject_non_fqdn_helo_hostname
127.0.0.1:$P_ERRLIM    inet n - n - - smtpd -o smtpd_hard_error_limit=3 -o smtpd_soft_error_limit=2
127.0.0.1:$P_DATA      inet n - n - - smtpd -o local_recipient_maps= -o smtpd_data_restrictions=reject
127.0.0.1:$P_SCREEN    inet n - n - 1 postscreen
smtpd     pass  -       -       n       -       -       smtpd
EOF

# An Exim customer server that refuses the null sender at RCPT with its default text, a
# plain "550 Administrative prohibition" (no enhanced status code): the reply Postfix
# never sends.
read -r P_ADMIN <<<"$(tb_free_ports 1)"
EX=$TB/nullexim
tb_exim_dir "$EX"
{
	tb_exim_common "$EX" nullexim.test
	cat <<'EOF'
log_selector = +smtp_connection
acl_smtp_rcpt = acl_rcpt

begin acl

acl_rcpt:
  deny    senders     = :
  accept  local_parts = user1 : postmaster
  deny    message     = 550 5.1.1 unknown user

begin routers

blackhole:
  driver = redirect
  data = :blackhole:
EOF
} >"$EX/exim.conf"
chown root:root "$EX/exim.conf"
chmod 0644 "$EX/exim.conf"
tb_exim_check "$EX/exim.conf" "null-sender refusing Exim"
tb_exim_start "$EX/exim.conf" "$EX" "null-sender refusing Exim" "$P_ADMIN"

tb_conf <<EOF
sources = callout
[domain local.test]
hosts = 127.0.0.1:$P_MAIN
[domain virt.test]
hosts = 127.0.0.1:$P_MAIN
[domain relay.test]
hosts = 127.0.0.1:$P_MAIN
[domain alias.test]
hosts = 127.0.0.1:$P_MAIN
[domain luser.test]
hosts = 127.0.0.1:$P_LUSER
[domain defer.test]
hosts = 127.0.0.1:$P_450
[domain grey.test]
hosts = 127.0.0.1:$P_GREY
[domain nullrcpt.test]
hosts = 127.0.0.1:$P_NULLRCPT
[domain nullmail.test]
hosts = 127.0.0.1:$P_NULLMAIL
[domain helo.test]
hosts = 127.0.0.1:$P_HELO
callout_helo = gateway
[domain errlim.test]
hosts = 127.0.0.1:$P_ERRLIM
[domain data.test]
hosts = 127.0.0.1:$P_DATA
[domain screen.test]
hosts = 127.0.0.1:$P_SCREEN
[domain admin.test]
hosts = 127.0.0.1:$P_ADMIN
EOF
# Postfix's own domains, as seen from Postfix (local.test etc.), are ours at the front.
tb_front

# known_of DOMAIN: the known-address field of DOMAIN's catch-all record (cache list --json).
known_of() {
	tb_cache_json "$1" 2>/dev/null | grep -o "\"key\":\"$1\"[^}]*\"known\":\"[a-z]*\"" | sed 's/.*"known":"//; s/"$//'
}

pf_connects() { pf_log cust | grep -c "postfix/smtpd\[[0-9]*\]: connect from"; }

# ---- unknown users on local, virtual and relay maps; one connection for the session
tb_mark
c0=$(pf_connects)
tb_rcpts alice@local.test nosuch@local.test bob@virt.test ghost@virt.test carol@relay.test ghost@relay.test >/dev/null
assert_match '^250 ' "$(tb_reply_of alice@local.test)" "local table: alice@local.test 250"
assert_eq "550 <nosuch@local.test>: recipient unknown" "$(tb_reply_of nosuch@local.test)" "local table: unknown user 550 recipient unknown"
assert_match '^250 ' "$(tb_reply_of bob@virt.test)" "virtual mailbox table: bob@virt.test 250"
assert_match '^550 .*recipient unknown' "$(tb_reply_of ghost@virt.test)" "virtual mailbox table: unknown user 550"
assert_match '^250 ' "$(tb_reply_of carol@relay.test)" "relay recipient table: carol@relay.test 250"
assert_match '^550 .*recipient unknown' "$(tb_reply_of ghost@relay.test)" "relay recipient table: unknown user 550"
assert_match '^fail callout 1800 550 5\.1\.1 .*User unknown in local recipient table' "$(tb_cache_record nosuch@local.test)" \
	"cache: nosuch@local.test fail callout, Postfix's own text"
assert_match '^fail callout 1800 550 5\.1\.1 .*User unknown in virtual mailbox table' "$(tb_cache_record ghost@virt.test)" \
	"cache: ghost@virt.test fail callout (virtual mailbox table)"
assert_match '^fail callout 1800 550 5\.1\.1 .*User unknown in relay recipient table' "$(tb_cache_record ghost@relay.test)" \
	"cache: ghost@relay.test fail callout (relay recipient table)"
assert_eq accepted "$(known_of local.test)" "cache: local.test's destination accepts postmaster (known=accepted)"
assert_eq 1 "$(( $(pf_connects) - c0 ))" "Postfix saw one connection for six recipients of three domains"

# ---- catch-alls: a virtual alias for @domain, and an smtpd without a local recipient check
tb_mark
tb_rcpts anything@alias.test anything@luser.test >/dev/null
assert_match '^250 ' "$(tb_reply_of anything@alias.test)" "virtual alias catch-all: 250"
assert_match '^250 ' "$(tb_reply_of anything@luser.test)" "luser_relay catch-all: 250"
assert_log 'verify_recipient <anything@alias\.test> result=pass source=catchall' "log: alias.test is a catch-all (source=catchall)"
assert_log 'verify_recipient <anything@luser\.test> result=pass source=catchall' "log: luser.test is a catch-all (source=catchall)"
assert_match '^yes catchall ' "$(tb_cache_record alias.test)" "cache: alias.test catch-all yes"
assert_match '^yes catchall ' "$(tb_cache_record luser.test)" "cache: luser.test catch-all yes"

# ---- accept at RCPT, refuse after DATA: a catch-all as far as RCPT can tell
tb_mark
r=$(tb_rcpt_reply whoever@data.test)
assert_match '^250 ' "$r" "refuses after DATA: 250 at RCPT (the destination decides after DATA)"
assert_log 'verify_recipient <whoever@data\.test> result=pass source=catchall' "refuses after DATA: source=catchall"

# ---- 450 to every RCPT: 451, nothing cached
tb_mark
r=$(tb_rcpt_reply alice@defer.test)
assert_match '^451 ' "$r" "450 to every RCPT: 451 at the gateway"
assert_eq "" "$(tb_cache_record alice@defer.test)" "450 to every RCPT: nothing cached"

# ---- the null sender refused at RCPT (5.7.1 Sender address rejected) and at MAIL
tb_mark
tb_rcpts alice@nullrcpt.test nosuch@nullrcpt.test alice@nullmail.test nosuch@nullmail.test >/dev/null
for a in alice@nullrcpt.test nosuch@nullrcpt.test alice@nullmail.test nosuch@nullmail.test; do
	assert_match '^451 ' "$(tb_reply_of "$a")" "null sender refused: $a gets 451, never 550"
done
assert_match '^no catchall .*Sender address rejected' "$(tb_cache_record nullrcpt.test)" \
	"cache: nullrcpt.test record says postmaster was refused (Sender address rejected)"
assert_eq refused "$(known_of nullrcpt.test)" "cache: nullrcpt.test known=refused"
assert_log 'nullrcpt\.test: destination .* refuses the known address' "log: why, once per domain"
n=$(tb_front_log | grep -c 'nullrcpt\.test: destination .* refuses the known address')
assert_eq 1 "$n" "log: the refusal is said once for nullrcpt.test"
assert_log 'verify_recipient <alice@nullmail\.test> result=defer .*MAIL FROM refused' "log: null sender refused at MAIL"
p=$(tb_ctl probe nullrcpt.test 2>&1)
assert_match 'cannot verify recipients \(failed: null sender accepted at RCPT\)' "$p" \
	"probe nullrcpt.test: blames the null sender at RCPT, not the random recipient"
p=$(tb_ctl probe nullmail.test 2>&1)
assert_match 'cannot verify recipients \(failed: null sender accepted\)' "$p" "probe nullmail.test: blames the null sender"

# ---- an Exim refusing the null sender at RCPT: plain 550, no enhanced code
tb_mark
tb_rcpts user1@admin.test nosuch@admin.test >/dev/null
assert_match '^451 ' "$(tb_reply_of user1@admin.test)" "plain 550 Administrative prohibition: a valid user gets 451, not 550"
assert_match '^451 ' "$(tb_reply_of nosuch@admin.test)" "plain 550 Administrative prohibition: 451 for anyone"
assert_eq "" "$(tb_cache_record nosuch@admin.test)" "plain 550: no negative verdict cached"
n=$(grep -c 'F=<> rejected RCPT <postmaster@admin\.test>' "$EX/mainlog" 2>/dev/null)
assert_num "${n:-0}" -ge 1 "the Exim refused postmaster with its plain 550 Administrative prohibition (acted out)"
p=$(tb_ctl probe admin.test 2>&1)
assert_match 'cannot verify recipients \(failed: known address accepted\)' "$p" "probe admin.test: the known address is refused"
assert_match '550 Administrative prohibition' "$p" "probe admin.test: shows the destination's reply"
y=$(tb_ctl catchall admin.test 2>&1)
assert_match '^result=no source=cache .*known=refused' "$y" "catchall admin.test: known=refused"

# ---- strict HELO policy
tb_mark
r=$(tb_rcpt_reply alice@helo.test)
assert_match '^451 ' "$r" "HELO refused (504 5.5.2 need fully-qualified hostname): 451"
p=$(tb_ctl probe helo.test 2>&1)
assert_match 'failed: HELO name accepted' "$p" "probe helo.test: blames the HELO name"

# ---- error limits ending in 421 (hard limit 3): every answer still right
tb_mark
c0=$(pf_connects)
tb_rcpts n1@errlim.test n2@errlim.test alice@errlim.test n3@errlim.test n4@errlim.test bob@errlim.test n5@errlim.test >/dev/null
for a in n1 n2 n3 n4 n5; do
	assert_match '^550 .*recipient unknown' "$(tb_reply_of "$a@errlim.test")" "error limit: $a@errlim.test 550"
done
assert_match '^250 ' "$(tb_reply_of alice@errlim.test)" "error limit: alice@errlim.test 250"
assert_match '^250 ' "$(tb_reply_of bob@errlim.test)" "error limit: bob@errlim.test 250"
n=$(pf_log cust | grep -c 'too many errors')
assert_num "$n" -ge 1 "Postfix said 421 too many errors ($n times: the case is acted out)"
n=$(( $(pf_connects) - c0 ))
assert_num "$n" -ge 2 "error limit: the callout reconnected after the 421 ($n connections)"

# ---- postgrey in front: first 451, then (stable probe address) answers and a catch-all record
tb_mark
tb_rcpts alice@grey.test nosuch@grey.test >/dev/null
assert_match '^451 ' "$(tb_reply_of alice@grey.test)" "postgrey: first try 451"
assert_match '^451 ' "$(tb_reply_of nosuch@grey.test)" "postgrey: unknown user's first try 451 (greylisted, not judged)"
sleep 3
tb_mark
tb_rcpts alice@grey.test nosuch@grey.test >/dev/null
assert_match '^250 ' "$(tb_reply_of alice@grey.test)" "postgrey: retry after the delay: 250"
assert_match '^550 .*recipient unknown' "$(tb_reply_of nosuch@grey.test)" "postgrey: retry: unknown user 550"
assert_match '^no catchall ' "$(tb_cache_record grey.test)" \
	"postgrey: the same probe address passed on retry, the catch-all status is learned"
n=$(pf_log cust | grep -o 'rcptguard-probe-[0-9a-f]*@grey\.test' | sort -u | wc -l)
assert_eq 1 "$n" "postgrey: one probe address for grey.test, both times"

# ---- postscreen's greeting delay
tb_mark
tb_rcpts alice@screen.test nosuch@screen.test >/dev/null
assert_match '^250 ' "$(tb_reply_of alice@screen.test)" "postscreen: waits out the greeting, alice 250"
assert_match '^550 .*recipient unknown' "$(tb_reply_of nosuch@screen.test)" "postscreen: unknown user 550"

# ---- probe agrees with the engine
p=$(tb_ctl probe local.test --rcpt alice@local.test 2>&1)
assert_match 'local\.test: callouts can verify recipients' "$p" "probe local.test: usable"
p=$(tb_ctl probe alias.test 2>&1)
assert_match 'cannot verify recipients \(failed: random recipient rejected at RCPT\)' "$p" "probe alias.test: catch-all, not usable"

# ---- Postfix's own log: no lost connections
tb_front_stop
sleep 0.5
assert_no_match 'lost connection' "$(pf_log cust)" "Postfix logs no lost connection"

