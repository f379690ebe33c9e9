# tb_smtp.sh - the test bed's SMTP clients and servers: swaks sessions against the front,
# their RCPT replies parsed, and tests/tools/smtpsim.py as a misbehaving destination.
#
# Part of the test bed (sourced by testbed.sh, never alone). Sets TB_SWAKS_OUT (the last
# transcript; not across $(...)) and SIM_PORT (the last smtpsim's port).
# shellcheck shell=bash

# tb_swaks ARGS...: swaks against the front, quitting after RCPT; transcript in
# $TB_SWAKS_OUT (and $TB/last_swaks.out); returns swaks' exit status.
tb_swaks() {
	local rc
	TB_SWAKS_OUT=$(mktemp "$TB/swaks.XXXXXX.out")
	timeout "$TB_SWAKS_TIMEOUT" swaks --server 127.0.0.1 --port "$FRONT_PORT" --helo client.test \
		--from sender@client.test --quit-after RCPT "$@" >"$TB_SWAKS_OUT" 2>&1
	rc=$?
	cat "$TB_SWAKS_OUT" >"$TB/last_swaks.out" 2>/dev/null
	return $rc
}

# tb_rcpt_parse FILE: from a swaks transcript, one line per RCPT: "ADDRESS<TAB>CODE TEXT"
# ("(no reply)" when the session ended first). A multi-line reply is joined with single
# spaces: Exim wraps a long ACL message at a space onto "451-" continuation lines, and the
# join gives back the text as the ACL set it.
tb_rcpt_parse() {
	python3 - "$1" <<'PY'
import re, sys
addr = None
reply = []
out = []
def flush():
    global addr, reply
    if addr is not None:
        out.append("%s\t%s" % (addr, " ".join(reply) if reply else "(no reply)"))
    addr, reply = None, []
for line in open(sys.argv[1], errors="replace").read().splitlines():
    m = re.match(r"^ -> RCPT TO:<(.*)>\s*$", line)
    if m:
        flush()
        addr = m.group(1)
        continue
    if addr is None:
        continue
    m = re.match(r"^<(?:-|\*\*) +(\d{3})([- ])(.*)$", line)
    if m:
        reply.append(m.group(1) + " " + m.group(3) if not reply else m.group(3))
        if m.group(2) == " ":
            flush()
        continue
    if line.startswith(" -> ") or line.startswith("*** "):
        flush()
for o in out:
    print(o)
PY
}

# tb_rcpt_reply ADDRESS [SWAKS_ARGS...]: one message to ADDRESS; prints the front's reply
# to its RCPT TO ("CODE TEXT"), or the session's error.
tb_rcpt_reply() {
	local addr=$1 r
	shift
	tb_swaks --to "$addr" "$@"
	r=$(tb_rcpt_parse "$TB_SWAKS_OUT" | head -n 1 | cut -f 2-)
	if [ -z "$r" ]; then
		r="(no RCPT reply) $(grep -E '^(<\*\*|\*\*\*)' "$TB_SWAKS_OUT" | head -n 3 | tr '\n' ' ')"
	fi
	printf '%s\n' "$r"
}

# tb_rcpts ADDRESS...: one message with these recipients; prints "ADDRESS<TAB>CODE TEXT"
# per recipient, also kept in $TB/last_rcpts for tb_reply_of.
tb_rcpts() {
	local list
	list=$(IFS=,; printf '%s' "$*")
	tb_swaks --to "$list"
	tb_rcpt_parse "$TB_SWAKS_OUT" | tee "$TB/last_rcpts"
}

# tb_reply_of ADDRESS: the reply to ADDRESS in the last tb_rcpts.
tb_reply_of() {
	awk -F '\t' -v a="$1" '$1 == a { print $2; exit }' "$TB/last_rcpts" 2>/dev/null
}

# tb_smtpsim MODE [ARGS...]: start tests/tools/smtpsim.py in MODE; sets SIM_PORT
# (stopped at exit). Its log: $TB/smtpsim.MODE.log.
tb_smtpsim() {
	local mode=$1 pf log pid i
	shift
	pf=$(mktemp "$TB/smtpsim.$mode.XXXXXX.port")
	log=$TB/smtpsim.$mode.log
	: >"$pf"
	SIM_PORT=
	if [ ! -f "$TB_SIM" ]; then
		echo "# $TB_SIM does not exist" >&"$TB_FD"
		return 1
	fi
	setsid python3 "$TB_SIM" --port-file "$pf" --mode "$mode" --log "$log" "$@" \
		</dev/null >>"$log.out" 2>&1 &
	pid=$!
	tb_track "$pid"
	for i in $(seq 1 100); do
		if [ -s "$pf" ]; then
			SIM_PORT=$(tr -dc 0-9 <"$pf")
			[ -n "$SIM_PORT" ] && tb_listening "$SIM_PORT" && return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "# smtpsim --mode $mode did not start:" >&"$TB_FD"
	diag "$(tail -n 10 "$log.out" 2>/dev/null)"
	SIM_PORT=
	return 1
}
