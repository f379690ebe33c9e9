#!/usr/bin/env bash
# t_harness.sh - the test bed's own assertions give no false failures: assert_match and
# assert_no_match on a long text whose first line matches (grep -q stops reading early;
# under pipefail a "printf | grep -q" then failed with SIGPIPE, always on a long text).
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
