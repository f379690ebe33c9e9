#!/usr/bin/env bash
# t_greylist.sh - greylisting through a real front Exim with the shipped snippet
# (acl-snippets/rcptguard-greylist.conf), swaks clients on several 127.x addresses and,
# in a network namespace, on IPv6: first attempt 451 4.7.1 with the message, early retry
# 451, retry after the delay 250, later mails 250 at once; network grouping (/24, /25,
# IPv6 /64); auto-whitelist; whitelist file; BATV tags; exemptions (null sender, relay
# hosts); the CLI (check changes nothing, list, allow, remove, purge, stats); 50
# concurrent sessions losing no update.
. "$(dirname "$0")/../lib/testbed.sh"

GL_MSG='Greylisting in action, please come back in a few minutes'
printf '%s\n' '# clients and recipients never greylisted' 'client 127.0.9.0/24' \
	'recipient postmaster@example.org' 'domain optout.test' 'hostname .trusted.test' >"$TB/whitelist"
chmod 0644 "$TB/whitelist"
# Why 4 s and not less: each step is a whole swaks session (perl start, SMTP dialogue); on a
# busy machine two of them take longer than a shorter delay, and the early retry then passes.
GL_DELAY=4
# gl_conf [--state-dir DIR] LINE...: the test's rcptguard.conf with these extra lines
# (greylist_delay = GL_DELAY); --state-dir goes to tb_conf.
gl_conf() {
	local opts=()
	if [ "${1:-}" = --state-dir ]; then
		opts=(--state-dir "$2")
		shift 2
	fi
	{
		echo "greylist_delay = ${GL_DELAY}s"
		echo "greylist_whitelist = $TB/whitelist"
		printf '%s\n' "$@"
	} | tb_conf "${opts[@]}"
}
gl_conf "greylist_awl_after = 3"
# Relay clients (exempt): 127.0.8.1. The verified host name: from a test table, since
# this machine has no reverse DNS for 127.x (Exim would look it up).
tb_front --rcpt-snippet "$TB_SNIPPETS/rcptguard-greylist.conf" --main "hostlist relay_from_hosts = 127.0.8.1
RCPTGUARD_GREYLIST_HOSTNAME == \${if eq{\$sender_host_address}{127.0.7.7}{mx1.trusted.test}{}}"

# reply IP FROM TO: the RCPT reply of one session from client IP.
reply() {
	tb_rcpt_reply "$3" --local-interface "$1" --from "$2"
}

# ---- the basic cycle
r=$(reply 127.0.0.5 alice@sender.test user@example.org)
assert_eq "451 4.7.1 $GL_MSG" "$r" "first attempt: 451 4.7.1 with the greylisting message"
assert_log "greylist \[127\.0\.0\.5\] <alice@sender\.test> -> <user@example\.org> result=defer reason=new wait=$GL_DELAY" \
	"main log: the decision (reason=new, wait=$GL_DELAY)"
assert_status 1 "rcptguardctl greylist check (dry run) before the delay: defer, exit 1" -- \
	tb_ctl greylist check 127.0.0.5 alice@sender.test user@example.org
assert_match 'reason=early' "$TB_OUT" "dry run: reason=early"
r=$(reply 127.0.0.5 alice@sender.test user@example.org)
assert_match '^451 4\.7\.1 Greylisting' "$r" "early retry: 451 again"
sleep "$GL_DELAY.2"
assert_status 0 "dry run after the delay: pass" -- tb_ctl greylist check 127.0.0.5 alice@sender.test user@example.org
assert_match 'result=pass reason=passed' "$TB_OUT" "dry run: would pass"
before=$(tb_ctl --json greylist list)
# Another client of the same /24 retries (a server farm): the same triplet.
r=$(reply 127.0.0.77 alice@sender.test user@example.org)
assert_match '^250 ' "$r" "retry after the delay from another host of the /24: 250"
assert_log 'result=pass reason=passed network=127\.0\.0\.0/24' "main log: reason=passed"
for i in 1 2 3; do
	r=$(reply 127.0.0.5 alice@sender.test user@example.org)
	[ "${r:0:3}" = 250 ] || break
done
assert_match '^250 ' "$r" "later mails: 250 at once (three in a row)"
state=$(tb_ctl --json greylist list | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    if r["type"] == "triplet" and r["sender"] == "alice@sender.test":
        print(r["state"], r["defers"], r["network"], r["expires"] - r["last"])')
assert_eq "pass 2 127.0.0.0/24 864000" "$state" "greylist list: the triplet passes for 10 days, 2 defers recorded"
assert_match '"state":"wait"' "$before" "greylist check changed nothing (the record was still waiting)"

# ---- one session, several recipients: each judged on its own answer (the snippet sets
# and tests in one statement; acl_m_ variables keep the previous RCPT's value)
tb_swaks --local-interface 127.0.0.5 --from alice@sender.test \
	--to fresh1@example.org,user@example.org,postmaster@example.org,fresh2@example.org
tb_rcpt_parse "$TB_SWAKS_OUT" >"$TB/last_rcpts"
assert_eq "451 4.7.1 $GL_MSG" "$(tb_reply_of fresh1@example.org)" "one session: a new triplet 451"
assert_match '^250 ' "$(tb_reply_of user@example.org)" "one session: a passed triplet after it 250 (not the earlier 451)"
assert_match '^250 ' "$(tb_reply_of postmaster@example.org)" "one session: a whitelisted recipient 250"
assert_eq "451 4.7.1 $GL_MSG" "$(tb_reply_of fresh2@example.org)" "one session: a new triplet after passes 451"

# ---- network grouping
r=$(reply 127.0.1.5 alice@sender.test user@example.org)
assert_match '^451 4\.7\.1' "$r" "another /24: a new triplet (451)"
# A /25 prefix: 127.0.2.1 and 127.0.2.200 are in different /25s.
gl_conf "greylist_awl_after = 3" "greylist_ipv4_prefix = 25"
r=$(reply 127.0.2.1 bob@sender.test user@example.org)
assert_match '^451 ' "$r" "/25: first attempt from 127.0.2.1 deferred"
sleep "$GL_DELAY.2"
r=$(reply 127.0.2.200 bob@sender.test user@example.org)
assert_match '^451 4\.7\.1' "$r" "/25: the retry from 127.0.2.200 (other /25) is a new triplet"
r=$(reply 127.0.2.100 bob@sender.test user@example.org)
assert_match '^250 ' "$r" "/25: the retry from 127.0.2.100 (same /25) passes"
gl_conf "greylist_awl_after = 3"

# ---- BATV: a new tag on the retry is the same sender
r=$(reply 127.0.3.1 prvs=1234567890=carol@batv.test user@example.org)
assert_match '^451 ' "$r" "BATV sender: first attempt deferred"
sleep "$GL_DELAY.2"
r=$(reply 127.0.3.1 prvs=0987654321=carol@batv.test user@example.org)
assert_match '^250 ' "$r" "BATV sender retried with a new tag: passes"

# ---- auto-whitelist after 3 passed triplets of 127.0.4.0/24
for n in 1 2 3; do reply 127.0.4.1 "s$n@awl.test" user@example.org >/dev/null; done
sleep "$GL_DELAY.2"
for n in 1 2; do reply 127.0.4.2 "s$n@awl.test" user@example.org >/dev/null; done
r=$(reply 127.0.4.3 before-awl@awl.test user2@example.org)
assert_match '^451 ' "$r" "AWL: after 2 passed triplets a new sender is still greylisted"
reply 127.0.4.2 s3@awl.test user@example.org >/dev/null
tb_front_mark
r=$(reply 127.0.4.3 never-seen@awl.test user2@example.org)
assert_match '^250 ' "$r" "AWL: after 3 passed triplets a new sender passes at once"
assert_log 'never-seen@awl\.test.*result=pass reason=awl' "main log: reason=awl"

# ---- whitelist and exemptions: never greylisted
tb_front_mark
assert_match '^250 ' "$(reply 127.0.9.4 x@wl.test user@example.org)" "whitelisted client network: 250"
assert_match '^250 ' "$(reply 127.0.5.1 x@wl.test postmaster@example.org)" "opted-out recipient: 250"
assert_match '^250 ' "$(reply 127.0.5.1 x@wl.test anyone@optout.test)" "opted-out recipient domain: 250"
assert_match '^250 ' "$(reply 127.0.7.7 x@wl.test user@example.org)" "verified host name under .trusted.test: 250"
assert_log 'result=pass reason=whitelisted network=127\.0\.9\.0/24 whitelist=client' "main log: whitelist=client"
assert_log 'whitelist=hostname' "main log: whitelist=hostname"
assert_match '^250 ' "$(reply 127.0.5.2 '<>' user@example.org)" "null sender: exempt (250)"
assert_match '^250 ' "$(reply 127.0.8.1 x@relay.test user@example.org)" "relay client (relay_from_hosts): exempt (250)"
assert_no_log 'greylist \[127\.0\.(5\.2|8\.1)\]' "exempt sessions never reached the module"
r=$(reply 127.0.5.3 x@wl.test user@example.org)
assert_match '^451 4\.7\.1' "$r" "a client outside the whitelist is greylisted"

# ---- the CLI: allow, remove, stats, purge
assert_status 0 "greylist allow 127.0.6.0/24" -- tb_ctl greylist allow 127.0.6.0/24
assert_match '^250 ' "$(reply 127.0.6.9 new@allow.test user@example.org)" "released network: 250 at once"
assert_status 0 "greylist allow IP SENDER RCPT" -- tb_ctl greylist allow 127.0.5.3 x@wl.test user@example.org
assert_match '^250 ' "$(reply 127.0.5.3 x@wl.test user@example.org)" "released triplet: 250 at once"
assert_status 0 "greylist remove IP SENDER RCPT" -- tb_ctl greylist remove 127.0.5.3 x@wl.test user@example.org
assert_match '^451 ' "$(reply 127.0.5.3 x@wl.test user@example.org)" "removed triplet: greylisted again"
assert_status 0 "stats" -- tb_ctl --json stats
waiting=$(printf '%s' "$TB_OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["triplets_waiting"])')
assert_num "$waiting" -ge 2 "stats: waiting triplets counted ($waiting)"
assert_status 0 "purge (nothing expired yet)" -- tb_ctl purge
assert_match '^purged 0 triplet' "$TB_OUT" "purge removes nothing that has not expired"
gl_conf "greylist_awl_after = 3" "greylist_retry_window = 3s"
reply 127.0.5.30 short@window.test user@example.org >/dev/null
sleep 3.2
assert_status 0 "purge with a 3s retry window" -- tb_ctl purge
assert_match '^purged [1-9][0-9]* triplet' "$TB_OUT" "purge removes a waiting triplet whose window (3s) ended"
gl_conf "greylist_awl_after = 3"

# ---- whitelist file errors: named with file:line; mail is not held up (on_error=pass)
printf 'client 127.0.9.0/24\nclinet 10.0.0.0/8\n' >"$TB/whitelist"
tb_front_mark
r=$(reply 127.0.5.9 err@wl.test user@example.org)
assert_match '^250 ' "$r" "broken whitelist file: mail passes (greylist_on_error = pass)"
assert_log "greylist: whitelist unusable, passing: $TB/whitelist:2: unknown entry kind" \
	"main log names the whitelist file and line"
printf 'client 127.0.9.0/24\n' >"$TB/whitelist"

# ---- broken store: pass by default, defer with greylist_on_error = defer
gl_conf --state-dir /nonexistent/rcptguard ""
tb_front_mark
assert_match '^250 ' "$(reply 127.0.5.10 st@err.test user@example.org)" "store unavailable: pass"
assert_log 'greylist: store unavailable, passing' "main log: store unavailable, passing"
gl_conf --state-dir /nonexistent/rcptguard "greylist_on_error = defer"
assert_match '^451 4\.7\.1' "$(reply 127.0.5.10 st@err.test user@example.org)" "store unavailable, greylist_on_error = defer: 451"
assert_log 'greylist: store unavailable, deferring' "main log: store unavailable, deferring"
# Why a long delay here: the 50 sessions must all fall within one delay, however busy the machine.
GL_DELAY=120 gl_conf "greylist_awl_after = 0"

# ---- 50 concurrent sessions: the same triplet and 50 others of one /24
tb_front_mark
pids=()
for n in $(seq 1 50); do
	timeout 60 swaks --server 127.0.0.1 --port "$FRONT_PORT" --local-interface "127.0.20.$n" --helo c.test \
		--from conc@many.test --to "same@example.org,r$n@example.org" --quit-after RCPT \
		>"$TB/conc.$n.out" 2>&1 &
	pids+=($!)
done
wait "${pids[@]}"
n451=$(cat "$TB"/conc.*.out | grep -c '^<\*\* *451 4\.7\.1')
assert_eq 100 "$n451" "50 concurrent sessions x 2 new triplets: 100 answers 451 4.7.1"
counts=$(tb_ctl --json greylist list | python3 -c '
import json, sys
recs = [r for r in json.load(sys.stdin) if r["type"] == "triplet" and r["sender"] == "conc@many.test"]
same = [r["defers"] for r in recs if r["recipient"] == "same@example.org"]
others = sum(1 for r in recs if r["recipient"] != "same@example.org" and r["defers"] == 1)
print(len(recs), same, others)')
assert_eq "51 [50] 50" "$counts" "store: one shared triplet with 50 defers, 50 others with 1 each (no update lost)"
assert_no_log 'greylist: .*(unavailable|not writable)' "no store error during the concurrent sessions"
gl_conf "greylist_awl_after = 0"

# ---- IPv6, in a network namespace: /64 grouping
NS=rg-gl-$$
if ip netns add "$NS" 2>/dev/null; then
	tb_on_exit "ip netns del $NS"
	ip netns exec "$NS" ip link set lo up
	for a in 2001:db8::1 2001:db8::5 2001:db8::6 2001:db8:0:1::5; do
		ip netns exec "$NS" ip -6 addr add "$a/128" dev lo nodad
	done
	sed -e 's/^local_interfaces = .*/local_interfaces = <; 2001:db8::1/' \
		-e "s|^pid_file_path = .*|pid_file_path = $TB/front/exim6.pid|" "$FRONT_CONF" >"$TB/front/exim6.conf"
	chmod 0644 "$TB/front/exim6.conf"
	setsid ip netns exec "$NS" "$TB_EXIM" -C "$TB/front/exim6.conf" -bdf -oX 2525 </dev/null >"$TB/front/exim6.out" 2>&1 &
	tb_track $!
	for i in $(seq 1 50); do
		grep -q . <<<"$(ip netns exec "$NS" ss -Hltn 'sport = :2525')" && break
		sleep 0.1
	done
	reply6() {
		timeout 30 ip netns exec "$NS" swaks --server 2001:db8::1 --port 2525 --local-interface "$1" \
			--helo c6.test --from "$2" --to "$3" --quit-after RCPT >"$TB/swaks6.out" 2>&1
		tb_rcpt_parse "$TB/swaks6.out" | head -n 1 | cut -f 2-
	}
	assert_match '^451 4\.7\.1 Greylisting' "$(reply6 2001:db8::5 v6@sender.test user@example.org)" \
		"IPv6 client 2001:db8::5: first attempt 451 4.7.1"
	sleep "$GL_DELAY.2"
	assert_match '^451 4\.7\.1' "$(reply6 2001:db8:0:1::5 v6@sender.test user@example.org)" \
		"IPv6: the retry from another /64 is a new triplet"
	assert_match '^250 ' "$(reply6 2001:db8::6 v6@sender.test user@example.org)" \
		"IPv6: the retry from another host of the same /64 passes"
	assert_match 'network=2001:db8::/64' "$(grep 'v6@sender' "$FRONT_LOG")" "main log: network=2001:db8::/64"
else
	skip "IPv6 in a network namespace" "ip netns add failed"
fi
