#!/usr/bin/env bash
# run.sh - run the libFuzzer targets (built by "make fuzz-build" into build/fuzz).
#
#   bash tests/fuzz/run.sh [NAME...]            each for FUZZ_SECONDS (default 60), new inputs
#                                               kept in build/fuzz/NAME.corpus; one summary
#                                               line per target: execs, coverage, crashes
#   bash tests/fuzz/run.sh --check [NAME...]    each briefly (FUZZ_CHECK_SECONDS, default 5)
#                                               on its checked-in corpus only; TAP-like
#                                               "ok"/"not ok" lines (tests/run.sh)
# Seeds: tests/fuzz/corpus/NAME/ (small, checked in). A crash leaves its input in
# build/fuzz/NAME.crashes/ and makes the exit status 1.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
out=${FUZZ_BUILD:-build/fuzz}
check=0
if [ "${1:-}" = --check ]; then
	check=1
	shift
fi
secs=${FUZZ_SECONDS:-60}
[ "$check" = 1 ] && secs=${FUZZ_CHECK_SECONDS:-5}
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for t in tests/fuzz/fuzz_*.c; do
		names+=("$(basename "$t" .c)")
	done
fi
status=0
n=0
for name in "${names[@]}"; do
	n=$((n + 1))
	bin=$out/$name
	seeds=tests/fuzz/corpus/$name
	log=$out/$name.log
	mkdir -p "$seeds" "$out/$name.crashes"
	if [ ! -x "$bin" ]; then
		echo "not ok $n - $name: $bin missing (make fuzz-build)"
		status=1
		continue
	fi
	if [ "$check" = 1 ]; then
		# The checked-in corpus is read, never written: new inputs go to a scratch folder.
		work=$(mktemp -d "/tmp/rg-fuzz-$name.XXXXXX")
		corpora=("$work" "$seeds")
	else
		work=$out/$name.corpus
		mkdir -p "$work"
		corpora=("$work" "$seeds")
	fi
	"$bin" -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
		-artifact_prefix="$out/$name.crashes/" "${corpora[@]}" >"$log" 2>&1
	rc=$?
	[ "$check" = 1 ] && rm -rf "$work"
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | sed 's/cov: //')
	ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -n 1 | sed 's/ft: //')
	crashes=$(find "$out/$name.crashes" -type f -newer "$bin" | wc -l)
	[ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ] && crashes=1
	line="$name: ${execs:-0} execs in ${secs}s, cov ${cov:-?}, ft ${ft:-?}, crashes $crashes"
	if [ "$rc" -eq 0 ]; then
		echo "ok $n - $line"
	else
		echo "not ok $n - $line (exit $rc; log $log)"
		grep -E '^==[0-9]+==ERROR|SUMMARY|runtime error|deadly signal|Test unit written' "$log" | head -n 5 | sed 's/^/#   /'
		status=1
	fi
done
exit $status
