#!/usr/bin/env bash
# run.sh - the test runner ("make test" runs it after building).
#
#   bash tests/run.sh [NAME...]      NAME: a unit binary (test_store) or a script (t_callout)
#
# 1. every build/tests/test_* (cmocka), counting "[  PASSED  ] N test(s)." and
#    "[  FAILED  ] N test(s)." lines;
# 2. unless RG_UNIT_ONLY=1, every tests/integration/t_*.sh (real Exims, swaks), counting
#    "ok" / "not ok" lines;
# 3. unless RG_UNIT_ONLY=1, every libFuzzer target (tests/fuzz/fuzz_*.c, built by
#    "make fuzz-build") for a few seconds on its checked-in corpus: one pass/fail per target.
# A binary or script that crashes, times out or reports nothing counts as one failure.
# Full output of each: build/test-logs/NAME.log. RG_VERBOSE=1 prints it all.
# The last line is always "tests: N passed, N failed, N skipped"; when checks were skipped,
# the line before it names each one and why. The exit status is 0 only when nothing failed.
#
# Environment: RG_UNIT_ONLY=1, RG_VERBOSE=1, FUZZ_CHECK_SECONDS (default 5), RG_TEST_TIMEOUT (seconds per file, default 300),
# RG_KEEP=1 (keep each script's test folder), RG_BUILD (build folder, default build/).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

unit_only=${RG_UNIT_ONLY:-0}
tmo=${RG_TEST_TIMEOUT:-300}
build=${RG_BUILD:-build}
logs=$build/test-logs
passed=0
failed=0
skipped=0
crashed=()
skip_reasons=()

if [ "$unit_only" != 1 ] && [ "$(id -u)" -ne 0 ]; then
	echo "tests/run.sh: the integration tests must run as root: they start Exim daemons (which" >&2
	echo "drop to Debian-exim), chown test folders and mount a tmpfs. Run: sudo make test" >&2
	echo "(or RG_UNIT_ONLY=1 bash tests/run.sh for the unit tests alone)." >&2
	echo "tests: 0 passed, 1 failed, 0 skipped"
	exit 1
fi
mkdir -p "$logs"

# selected NAME: whether NAME was asked for (no arguments: everything).
selected() {
	[ $# -ge 1 ] || return 1
	local name=$1 want
	shift
	[ $# -eq 0 ] && return 0
	for want in "$@"; do
		[ "$want" = "$name" ] || [ "$want" = "$name.sh" ] && return 0
	done
	return 1
}

# A NAME that is no test is an error, not an empty run that passes (a typo must not
# pass for a green run).
unknown=()
for want in "$@"; do
	w=${want%.sh}
	[ -e "$build/tests/$w" ] || [ -f "tests/integration/$w.sh" ] || [ -f "tests/fuzz/$w.c" ] ||
		unknown+=("$want")
done
if [ ${#unknown[@]} -gt 0 ]; then
	echo "tests/run.sh: no test named: ${unknown[*]} (a unit binary in $build/tests, tests/integration/t_*.sh or tests/fuzz/fuzz_*.c)" >&2
	echo "tests: 0 passed, ${#unknown[@]} failed, 0 skipped"
	exit 1
fi

# report KIND NAME PASS FAIL SECONDS LOG NOTE
report() {
	local kind=$1 name=$2 p=$3 f=$4 secs=$5 log=$6 note=${7:-}
	local verdict=PASS
	[ "$f" -gt 0 ] && verdict=FAIL
	printf '%-4s  %-28s %4d passed, %3d failed  (%ds)%s\n' "$verdict" "$kind/$name" "$p" "$f" "$secs" \
		"${note:+  $note}"
	if [ "${RG_VERBOSE:-0}" = 1 ]; then
		sed 's/^/      | /' "$log"
	elif [ "$f" -gt 0 ]; then
		# Each failure with its diagnostics ("#" lines after a "not ok"); cmocka's own lines.
		awk '/^not ok |^Bail out!/ { print "      | " $0; d = 1; next }
		     d && /^#/ { print "      | " $0; next }
		     { d = 0 }
		     /^\[  FAILED  \]|^\[  ERROR   \]|^\[   LINE   \]|[Ff]ailure!|^ERROR/ { print "      | " $0 }' "$log" | head -n 150
		if ! grep -qE '^not ok |^\[  FAILED  \]' "$log"; then
			echo "      | (no failing test reported; last lines of $log:)"
			tail -n 15 "$log" | sed 's/^/      | /'
		fi
	fi
}

# ---- 1. unit tests (cmocka)
units=()
for b in "$build"/tests/test_*; do
	[ -f "$b" ] && [ -x "$b" ] && units+=("$b")
done
if [ ${#units[@]} -eq 0 ]; then
	echo "(no unit test binaries in $build/tests: run make unit)"
fi
for b in "${units[@]}"; do
	name=$(basename "$b")
	selected "$name" "$@" || continue
	log=$logs/$name.log
	t0=$(date +%s)
	CMOCKA_MESSAGE_OUTPUT=stdout timeout "$tmo" "$b" >"$log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - t0 ))
	p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test.*/\1/p' "$log" | awk '{ s += $1 } END { print s + 0 }')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test.*/\1/p' "$log" | awk '{ s += $1 } END { print s + 0 }')
	note=
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		note="exited with status $rc$([ "$rc" = 124 ] && echo " (timeout ${tmo}s)")$([ "$rc" -gt 128 ] && [ "$rc" != 124 ] && echo " (signal $((rc - 128)))")"
		crashed+=("$name")
	elif [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		f=1
		note="no cmocka summary line"
		crashed+=("$name")
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	report unit "$name" "$p" "$f" "$secs" "$log" "$note"
done

# ---- 2. integration tests
if [ "$unit_only" != 1 ]; then
	for f in build/rcptguard.so build/rcptguardctl; do
		f=${f/#build/$build}
		[ -f "$f" ] || echo "warning: $f is missing (run make): the integration tests will fail"
	done
	for t in tests/integration/t_*.sh; do
		[ -f "$t" ] || continue
		name=$(basename "$t" .sh)
		selected "$name" "$@" || continue
		log=$logs/$name.log
		t0=$(date +%s)
		# On timeout the script gets SIGTERM: its EXIT trap stops the servers it started.
		# A script may ask for more time with a "# rg-timeout: SECONDS" line.
		t_tmo=$(sed -n 's/^# rg-timeout: \([0-9][0-9]*\).*/\1/p' "$t" | head -n 1)
		[ -n "$t_tmo" ] && [ "$t_tmo" -gt "$tmo" ] || t_tmo=$tmo
		timeout --kill-after=10 "$t_tmo" bash "$t" </dev/null >"$log" 2>&1
		rc=$?
		secs=$(( $(date +%s) - t0 ))
		# A skipped check ("ok N - ... # SKIP why") is counted apart, never as passed.
		sk=$(grep -c '^ok .*# SKIP' "$log")
		p=$(( $(grep -c '^ok ' "$log") - sk ))
		fl=$(grep -c '^not ok ' "$log")
		skipped=$((skipped + sk))
		# Each skip's reason, for the summary ("NAME: what (why)").
		while IFS= read -r line; do
			skip_reasons+=("$name: $line")
		done < <(sed -n 's/^ok [0-9]* - \(.*\) # SKIP *\(.*\)$/\1 (\2)/p' "$log" | cut -c1-300)
		note=
		if [ "$rc" -ne 0 ] && [ "$fl" -eq 0 ]; then
			fl=1
			note="exited with status $rc$([ "$rc" = 124 ] && echo " (timeout ${tmo}s)")"
			crashed+=("$name")
		elif [ "$p" -eq 0 ] && [ "$fl" -eq 0 ] && [ "$sk" -eq 0 ]; then
			fl=1
			note="no test ran"
			crashed+=("$name")
		elif grep -q '^Bail out!' "$log"; then
			note="bailed out"
		fi
		passed=$((passed + p))
		failed=$((failed + fl))
		report integration "$name" "$p" "$fl" "$secs" "$log" "$note"
	done
fi

# ---- 3. fuzz targets, briefly, on their checked-in corpora
if [ "$unit_only" != 1 ]; then
	for t in tests/fuzz/fuzz_*.c; do
		[ -f "$t" ] || continue
		name=$(basename "$t" .c)
		selected "$name" "$@" || continue
		log=$logs/$name.log
		t0=$(date +%s)
		# A target that does not build fails here: a check never skips silently.
		if make --no-print-directory -s fuzz-build "FUZZ_BIN=build/fuzz/$name" >"$log" 2>&1; then
			bash tests/fuzz/run.sh --check "$name" >>"$log" 2>&1
		fi
		p=$(grep -c '^ok ' "$log")
		fl=$(grep -c '^not ok ' "$log")
		note=$(sed -n 's/^\(not \)\{0,1\}ok [0-9]* - [^:]*: //p' "$log" | tail -n 1)
		if [ "$p" -eq 0 ] && [ "$fl" -eq 0 ]; then
			fl=1
			note="did not build or run"
			crashed+=("$name")
		fi
		secs=$(( $(date +%s) - t0 ))
		passed=$((passed + p))
		failed=$((failed + fl))
		report fuzz "$name" "$p" "$fl" "$secs" "$log" "$note"
	done
fi

if [ ${#crashed[@]} -gt 0 ]; then
	echo "crashed or reported nothing: ${crashed[*]} (see $logs/)"
fi
if [ "$skipped" -gt 0 ]; then
	echo "skipped: ${#skip_reasons[@]} check(s): $(IFS=';'; printf '%s' "${skip_reasons[*]}" | sed 's/;/; /g')"
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
