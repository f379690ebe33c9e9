#!/usr/bin/env bash
# t_peer_postfix_sender.sh - a real Postfix 3.7 as the SENDING MTA (issue 12): its message
# is greylisted by the gateway, and its own queue retries it until the gateway takes it.
# Asserts the gateway's decisions (defer, then pass), and Postfix's own log (deferred with
# the greylisting text, then sent; one delivery, no bounce).
. "$(dirname "$0")/../lib/testbed.sh"
. "$(dirname "$0")/../lib/postfix.sh"

GL_MSG='Greylisting in action, please come back in a few minutes'
pf_fetch || bail "cannot unpack Debian's postfix package (apt-get download postfix)"

tb_conf <<EOF
greylist_delay = 2s
EOF
tb_front --rcpt-snippet "$TB_SNIPPETS/rcptguard-greylist.conf" --main "hostlist relay_from_hosts = 127.0.8.1"

read -r P_SUBMIT <<<"$(tb_free_ports 1)"
mkdir -p "$TB/sender"
# Why the overrides after the common ones: the last setting of a key wins in main.cf.
cat >"$TB/sender/main.cf.extra" <<EOF
default_transport = smtp
relay_transport = smtp
relayhost = [127.0.0.1]:$FRONT_PORT
smtp_helo_name = mta.sender.test
queue_run_delay = 1s
minimal_backoff_time = 2s
maximal_backoff_time = 4s
EOF
pf_start sender "$P_SUBMIT" <<EOF || bail "sending Postfix did not start"
127.0.0.1:$P_SUBMIT inet n - n - - smtpd
EOF

# ---- hand one message to the sending Postfix (its own SMTP port, from mynetworks)
tb_mark
timeout 60 swaks --server 127.0.0.1 --port "$P_SUBMIT" --from alice@sender.test --to user1@example.org \
	--helo client.sender.test >"$TB/submit.out" 2>&1
assert_match '^<- +250 2\.0\.0 Ok: queued' "$(grep '^<- *250 2.0.0' "$TB/submit.out")" "the sending Postfix queued the message"

# ---- wait for its own queue to retry it until the gateway takes it (greylist_delay 2 s)
sent=0
for i in $(seq 1 300); do
	if pf_log sender | grep -q 'to=<user1@example.org>.*status=sent'; then
		sent=1
		break
	fi
	sleep 0.1
done
assert_eq 1 "$sent" "the sending Postfix delivered the message on its own retry"
n=$(pf_log sender | grep -c "to=<user1@example.org>.*status=deferred (host 127\.0\.0\.1\[127\.0\.0\.1\] said: 451 4\.7\.1 $GL_MSG")
assert_num "$n" -ge 1 "Postfix: first attempt deferred with the gateway's greylisting text ($n times)"
n=$(pf_log sender | grep -c 'to=<user1@example.org>.*status=sent (250 ')
assert_eq 1 "$n" "Postfix: sent once (250 from the gateway)"
n=$(pf_log sender | grep -c 'status=bounced')
assert_eq 0 "$n" "Postfix: no bounce"
assert_log 'greylist \[127\.0\.0\.1\] <alice@sender\.test> -> <user1@example\.org> result=defer reason=new' \
	"gateway log: the first attempt is greylisted (reason=new)"
assert_log 'greylist \[127\.0\.0\.1\] <alice@sender\.test> -> <user1@example\.org> result=pass' \
	"gateway log: the retry passes"
assert_log '<= alice@sender\.test H=\(mta\.sender\.test\)' "gateway log: the message arrived from the sending Postfix"
