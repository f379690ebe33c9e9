# tb_assert.sh - the test bed's TAP output: ok / not ok lines, diagnostics and assertions.
#
# Part of the test bed (sourced by testbed.sh, never alone). One "ok N - desc" or
# "not ok N - desc" line per check, "#" lines for diagnostics, written to $TB_FD (the
# script's own stdout, even from inside $(...)); tests/run.sh counts them. The counters
# TB_N, TB_PASS and TB_FAIL feed the summary that tb_proc.sh's exit trap prints.
# assert_log and assert_connections read the logs through tb_exim.sh's functions.
# shellcheck shell=bash

# ok DESC: one passing test.
ok() {
	TB_N=$((TB_N + 1))
	TB_PASS=$((TB_PASS + 1))
	echo "ok $TB_N - $*" >&"$TB_FD"
}

# not ok DESC: one failing test (the first word must be "ok", so that it reads as TAP).
not() {
	if [ "${1:-}" = ok ]; then
		shift
	fi
	TB_N=$((TB_N + 1))
	TB_FAIL=$((TB_FAIL + 1))
	echo "not ok $TB_N - $*" >&"$TB_FD"
}

# diag TEXT...: diagnostic lines ("#   ..."), at most 40 lines per call.
diag() {
	local line n=0
	while IFS= read -r line; do
		n=$((n + 1))
		if [ $n -gt 40 ]; then
			echo "#     ... (cut)" >&"$TB_FD"
			break
		fi
		printf '#     %s\n' "$line" >&"$TB_FD"
	done <<<"$*"
}

# skip DESC REASON: a check that cannot run here; tests/run.sh counts it as skipped.
skip() {
	ok "$1 # SKIP ${2:-}"
}

# assert_eq EXPECTED ACTUAL DESC
assert_eq() {
	if [ "$1" = "$2" ]; then
		ok "$3"
		return 0
	fi
	not ok "$3"
	diag "expected: $1"
	diag "seen:     $2"
	return 1
}

# assert_ne UNEXPECTED ACTUAL DESC
assert_ne() {
	if [ "$1" != "$2" ]; then
		ok "$3"
		return 0
	fi
	not ok "$3"
	diag "expected anything but: $1"
	return 1
}

# assert_match REGEX TEXT DESC: some line of TEXT matches the extended REGEX.
assert_match() {
	if grep -qE -- "$1" <<<"$2"; then
		ok "$3"
		return 0
	fi
	not ok "$3"
	diag "expected a line matching: $1"
	diag "seen: ${2:-(nothing)}"
	return 1
}

# assert_no_match REGEX TEXT DESC: no line of TEXT matches REGEX.
assert_no_match() {
	if ! grep -qE -- "$1" <<<"$2"; then
		ok "$3"
		return 0
	fi
	not ok "$3"
	diag "expected no line matching: $1"
	diag "seen: $(printf '%s\n' "$2" | grep -E -- "$1" | head -5)"
	return 1
}

# assert_num A OP B DESC: integer comparison, OP one of -eq -ne -lt -le -gt -ge.
assert_num() {
	local a=$1 op=$2 b=$3 r=1
	if [[ "$a" =~ ^-?[0-9]+$ && "$b" =~ ^-?[0-9]+$ ]]; then
		case $op in
		-eq) ((a == b)) && r=0 ;;
		-ne) ((a != b)) && r=0 ;;
		-lt) ((a < b)) && r=0 ;;
		-le) ((a <= b)) && r=0 ;;
		-gt) ((a > b)) && r=0 ;;
		-ge) ((a >= b)) && r=0 ;;
		esac
	fi
	if [ $r = 0 ]; then
		ok "$4"
		return 0
	fi
	not ok "$4"
	diag "expected: $1 $2 $3 (integers)"
	return 1
}

# assert_status EXPECTED_EXIT DESC -- CMD...: runs CMD, compares its exit status;
# its output is left in $TB_OUT.
assert_status() {
	local want=$1 desc=$2 rc
	shift 2
	[ "${1:-}" = -- ] && shift
	TB_OUT=$("$@" 2>&1)
	rc=$?
	if [ "$rc" = "$want" ]; then
		ok "$desc"
		return 0
	fi
	not ok "$desc"
	diag "command: $*"
	diag "expected exit $want, seen $rc; output:"
	diag "$TB_OUT"
	return 1
}

# assert_log REGEX DESC: a line of the front's main log since the last tb_mark matches.
assert_log() {
	local seen
	seen=$(tb_front_log)
	if grep -qE -- "$1" <<<"$seen"; then
		ok "$2"
		return 0
	fi
	not ok "$2"
	diag "expected a front main-log line matching: $1"
	diag "main log since mark (last 15 lines):"
	diag "$(printf '%s\n' "$seen" | tail -n 15)"
	return 1
}

# assert_no_log REGEX DESC: no line of the front's main log since the last tb_mark matches.
assert_no_log() {
	local seen
	seen=$(tb_front_log | grep -E -- "$1")
	if [ -z "$seen" ]; then
		ok "$2"
		return 0
	fi
	not ok "$2"
	diag "expected no front main-log line matching: $1"
	diag "$(printf '%s\n' "$seen" | head -10)"
	return 1
}

# assert_connections PORT N DESC: the back-end received exactly N connections on PORT
# since the last tb_mark / tb_backend_mark.
assert_connections() {
	local n
	n=$(tb_backend_connections "$1")
	if [ "$n" = "$2" ]; then
		ok "$3"
		return 0
	fi
	not ok "$3"
	diag "expected $2 back-end connection(s) on port $1, seen $n"
	diag "$(tb_backend_log | grep 'SMTP connection from' | tail -n 5)"
	return 1
}

# bail TEXT: stop this script now (a failure, counted).
bail() {
	not ok "$*"
	echo "Bail out! $*" >&"$TB_FD"
	exit 1
}
