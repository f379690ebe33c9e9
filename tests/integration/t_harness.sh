#!/usr/bin/env bash
# t_harness.sh - the test bed's own assertions give no false failures: assert_match and
# assert_no_match on a long text whose first line matches (grep -q stops reading early;
# under pipefail a "printf | grep -q" then failed with SIGPIPE, always on a long text);
# a mistyped or missing option of tb_front, tb_conf, tb_front_bh or nsd_zone, or an
# environment knob they no longer read, stops the script (never a silently different test); a watched paniclog fails the script unless
# --panic-ok; tb_front's options reach the front's configuration.
. "$(dirname "$0")/../lib/testbed.sh"

big="match-me first line"$'\n'$(head -c 1000000 /dev/zero | tr '\0' 'x' | fold -w 100)
# quiet CMD...: runs an assertion with its TAP line discarded; its status is the result.
quiet() {
	(exec {TB_FD}>/dev/null; "$@")
}
bad=0
for i in $(seq 1 10); do
	quiet assert_match '^match-me' "$big" "inner" || bad=$((bad + 1))
	quiet assert_no_match '^absent' "$big" "inner" || bad=$((bad + 1))
done
assert_eq 0 "$bad" "assert_match/assert_no_match on a 1 MB text: no false failure in 20 runs"
quiet assert_match '^absent' "short"$'\n'"text" "inner"
assert_eq 1 $? "assert_match still fails when no line matches"
quiet assert_no_match '^short' "short"$'\n'"text" "inner"
assert_eq 1 $? "assert_no_match still fails when a line matches"

# ---- options instead of environment knobs: a mistyped option stops the script
# child NAME BODY: a script that loads the test bed and runs BODY; its output in $CHILD_OUT,
# its exit status in $CHILD_RC (its own folder and servers are removed by its own trap).
child() {
	printf '%s\n' ". $TB_REPO/tests/lib/testbed.sh" "$2" >"$TB/$1.sh"
	CHILD_OUT=$(bash "$TB/$1.sh" </dev/null 2>&1)
	CHILD_RC=$?
}
# refused NAME BODY MESSAGE: BODY stops its script with "Bail out! MESSAGE" (exit 1).
refused() {
	child "$1" "$2"$'\necho reached-the-end'
	if [ "$CHILD_RC" = 1 ] && grep -qF -- "Bail out! $3" <<<"$CHILD_OUT" && ! grep -q reached-the-end <<<"$CHILD_OUT"; then
		ok "$1: stops the script with \"$3\""
	else
		not ok "$1: stops the script with \"$3\""
		diag "exit status $CHILD_RC; output:"
		diag "$CHILD_OUT"
	fi
}
refused front_typo 'tb_front --rcpt_pre "  warn"' "tb_front: unknown option or argument '--rcpt_pre'"
refused front_positional 'tb_front "hostlist relay_from_hosts = 127.0.8.1"' \
	"tb_front: unknown option or argument 'hostlist relay_from_hosts = 127.0.8.1'"
refused front_no_value 'tb_front --main' "tb_front: option --main needs a value"
refused conf_typo 'tb_conf --state_dir /x </dev/null' "tb_conf: unknown option or argument '--state_dir'"
refused bh_typo 'tb_front_bh --debgu -d 192.0.2.1' "tb_front_bh: unknown option '--debgu'"
refused front_old_knob 'TB_FRONT_RCPT_PRE="  warn" tb_front' "tb_front: TB_FRONT_RCPT_PRE is not read any more: use tb_front --rcpt-pre"
refused conf_old_knob 'TB_STATE_DIR=/x tb_conf </dev/null' "tb_conf: TB_STATE_DIR is not read any more: use tb_conf --state-dir"
refused nsd_typo '. '"$TB_REPO"'/tests/lib/nsd.sh; nsd_zone --tll 60 a.test </dev/null' "nsd_zone: unknown option '--tll'"

# ---- a watched paniclog: a failure at exit when not empty, unless --panic-ok
child panic_watched 'mkdir -p "$TB/x"; echo boom >"$TB/x/paniclog"; tb_watch_paniclog "$TB/x"'
assert_eq 1 "$CHILD_RC" "a non-empty watched paniclog fails the script"
assert_match '^not ok 1 - x paniclog is empty' "$CHILD_OUT" "... with a \"not ok\" line naming it"
child panic_ok 'mkdir -p "$TB/x"; echo boom >"$TB/x/paniclog"; tb_watch_paniclog "$TB/x" --panic-ok'
assert_eq 0 "$CHILD_RC" "--panic-ok: an expected panic is no failure"

# ---- the options reach the front's configuration
tb_front --name opts --no-quit-acl --domains other.test --mail-acl '  deny message = mail acl says no
          senders = refused@client.test'
assert_eq "$TB/opts/exim.conf" "$FRONT_CONF" "--name opts: the front lives in \$TB/opts"
assert_match '^acl_smtp_quit = *$' "$("$TB_EXIM" -C "$FRONT_CONF" -bP acl_smtp_quit 2>&1)" "--no-quit-acl: no session-end ACL"
assert_match '^550 relay not permitted' "$(tb_rcpt_reply user1@example.org)" "--domains other.test: example.org is not relayed"
assert_match '550 mail acl says no' "$(tb_rcpt_reply user1@other.test --from refused@client.test)" "--mail-acl: the lines are the MAIL ACL"
tb_front --rcpt-pre '  deny message = rcpt pre one
          local_parts = one' --rcpt-pre '  deny message = rcpt pre two
          local_parts = two' --main 'smtp_accept_max_per_connection = 42' --main 'smtp_max_synprot_errors = 7'
assert_match '^acl_smtp_quit = acl_rcptguard_quit$' "$("$TB_EXIM" -C "$FRONT_CONF" -bP acl_smtp_quit 2>&1)" "default front: the session-end ACL"
assert_match '550 rcpt pre one' "$(tb_rcpt_reply one@example.org)" "--rcpt-pre given twice: the first lines are in the RCPT ACL"
assert_match '550 rcpt pre two' "$(tb_rcpt_reply two@example.org)" "... and the second"
assert_match '^smtp_accept_max_per_connection = 42$' "$("$TB_EXIM" -C "$FRONT_CONF" -bP smtp_accept_max_per_connection 2>&1)" "--main given twice: the first line in the main section"
assert_match '^smtp_max_synprot_errors = 7$' "$("$TB_EXIM" -C "$FRONT_CONF" -bP smtp_max_synprot_errors 2>&1)" "... and the second"
