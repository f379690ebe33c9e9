#!/usr/bin/env bash
# run.sh - build the libFuzzer targets with clang and run each for FUZZ_SECONDS (default 30).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${FUZZ_SECONDS:-30}
out=build/fuzz
mkdir -p "$out"
flags="-std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Icore"
for t in tests/fuzz/fuzz_*.c; do
	name=$(basename "$t" .c)
	clang $flags -o "$out/$name" "$t" core/*.c -llmdb
	mkdir -p "$out/$name.corpus"
	echo "== $name ($secs s)"
	"$out/$name" -max_total_time="$secs" -max_len=4096 "$out/$name.corpus" 2>&1 | tail -n 3
done
