#!/usr/bin/env bash
# t_misbehave.sh - destinations that misbehave (tests/tools/smtpsim.py): garbage, endless
# or dripped replies, silence, refusals at banner/EHLO/MAIL, dropped connections. The
# front must answer 451 within total_timeout and cache nothing negative; a connection
# dropped after a RCPT is remade for the next recipient.
. "$(dirname "$0")/../lib/testbed.sh"

# Every mode that must end in a deferral.
bad_modes=(garbage hugeline endless drip silent banner554 banner421 ehlo4xx mail5xx
	close_after_banner mixed_codes rcpt451)
# Modes in which the destination still answers for addresses.
good_modes=(ok ehlo5xx drop_after_rcpt)
total_ms=3000

declare -A port
sections=""
for m in "${bad_modes[@]}" "${good_modes[@]}"; do
	if tb_smtpsim "$m"; then
		port[$m]=$SIM_PORT
		sections+=$'\n'"[domain ${m//_/-}.sim.test]"$'\n'"hosts = 127.0.0.1:$SIM_PORT"$'\n'
	else
		not ok "smtpsim --mode $m started"
	fi
done
tb_conf <<EOF
connect_timeout = 1s
command_timeout = 2s
total_timeout = 3s
$sections
EOF
tb_front

# All sessions at once (each is bounded by total_timeout): the script stays short.
tb_mark
jobs_=()
for m in "${bad_modes[@]}"; do
	[ -n "${port[$m]:-}" ] || continue
	(
		t0=$(tb_now_ms)
		tb_swaks --to "nobody@${m//_/-}.sim.test"
		t1=$(tb_now_ms)
		echo $((t1 - t0)) >"$TB/elapsed.$m"
		cp "$TB_SWAKS_OUT" "$TB/swaks.$m.out"
	) &
	jobs_+=($!)
done
# Why by pid: a plain "wait" would also wait for the servers running in the background.
wait "${jobs_[@]}"

for m in "${bad_modes[@]}"; do
	[ -n "${port[$m]:-}" ] || continue
	dom=${m//_/-}.sim.test
	r=$(tb_rcpt_parse "$TB/swaks.$m.out" | head -n 1 | cut -f 2-)
	assert_match "^451 <nobody@$dom>: cannot verify recipient now" "${r:-$(tail -n 3 "$TB/swaks.$m.out")}" "$m: front answers 451"
	ms=$(tb_log_ms "nobody@$dom")
	assert_num "${ms:-999999}" -le $((total_ms + 300)) "$m: verdict within total_timeout ($total_ms ms): log says ms=${ms:-none}"
	el=$(cat "$TB/elapsed.$m" 2>/dev/null)
	assert_num "${el:-999999}" -lt $((total_ms + 2500)) "$m: whole swaks session took ${el:-?} ms"
	assert_log "verify_recipient <nobody@$dom> result=defer reason=tempfail" "$m: log says result=defer reason=tempfail"
	assert_eq 0 "$(tb_cache_count fail "$dom")" "$m: no negative verdict cached"
	assert_eq 0 "$(tb_cache_count verdict "$dom")" "$m: no verdict cached at all"
done

# ---- destinations that answer
if [ -n "${port[ok]:-}" ]; then
	tb_rcpts user1@ok.sim.test nobody@ok.sim.test >/dev/null
	assert_match '^250 ' "$(tb_reply_of user1@ok.sim.test)" "ok: known user 250"
	assert_match '^550 .*recipient unknown' "$(tb_reply_of nobody@ok.sim.test)" "ok: unknown user 550"
fi
if [ -n "${port[ehlo5xx]:-}" ]; then
	tb_rcpts user1@ehlo5xx.sim.test nobody@ehlo5xx.sim.test >/dev/null
	assert_match '^250 ' "$(tb_reply_of user1@ehlo5xx.sim.test)" "ehlo5xx: HELO fallback, known user 250"
	assert_match '^550 ' "$(tb_reply_of nobody@ehlo5xx.sim.test)" "ehlo5xx: HELO fallback, unknown user 550"
	assert_match '^HELO ' "$(grep -oE 'HELO .*' "$TB/smtpsim.ehlo5xx.log" | head -n 1)" "ehlo5xx: the client said HELO after EHLO got 500"
fi
if [ -n "${port[drop_after_rcpt]:-}" ]; then
	dom=drop-after-rcpt.sim.test
	tb_mark
	tb_rcpts user1@$dom nobody@$dom user2@$dom >/dev/null
	assert_match '^250 ' "$(tb_reply_of user1@$dom)" "drop_after_rcpt: first recipient verified (250)"
	assert_match '^550 .*recipient unknown' "$(tb_reply_of nobody@$dom)" "drop_after_rcpt: second recipient still verified (550): connection remade"
	assert_match '^250 ' "$(tb_reply_of user2@$dom)" "drop_after_rcpt: third recipient verified (250)"
	assert_log "verify_recipient <nobody@$dom> result=fail source=callout" "drop_after_rcpt: log says source=callout for the second"
	n=$(grep -c '^conn ' "$TB/smtpsim.drop_after_rcpt.log")
	assert_num "$n" -ge 2 "drop_after_rcpt: the destination saw the connection remade ($n connections)"
fi
