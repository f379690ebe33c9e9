#!/usr/bin/env bash
# list.sh - figures of the static list source ("make bench" runs it; it also runs alone):
#   1. compile time of a list of LIST_N (1,000,000) addresses, renamed into place;
#   2. list_lookup() per call with that list: the stat that tells the file is unchanged,
#      plus the cdb_find (what every RCPT pays), half hits, half misses: p50 / p90 / p99;
#   3. the first lookup of a fresh process (after fork: open + mmap of the index).
# Programs: list_lookup.c, linked with build/librgcore.a, compiled here with the main
# Makefile's flags. Everything lives in a throwaway folder (RG_KEEP=1 keeps it). Every
# number printed is measured by this run. Knobs: LIST_N, LIST_LOOKUPS (200000), LIST_FORKS (200).
set -uo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SRC/../.." && pwd)
N=${LIST_N:-1000000}
LOOKUPS=${LIST_LOOKUPS:-200000}
FORKS=${LIST_FORKS:-200}

[ -f "$REPO/build/librgcore.a" ] || { echo "list.sh: build/librgcore.a missing: run make first" >&2; exit 1; }
DIR=$(mktemp -d /tmp/rg-bench-list.XXXXXX) || exit 1
[ "${RG_KEEP:-0}" = 1 ] || trap 'rm -rf "$DIR"' EXIT
CFLAGS_=$(make -s --no-print-directory -C "$REPO" --eval 'p: ; @echo $(ALL_CFLAGS)' p)
LIBS_=$(make -s --no-print-directory -C "$REPO" --eval 'p: ; @echo $(LIBS)' p)
# shellcheck disable=SC2086
(cd "$REPO" && cc $CFLAGS_ -o "$DIR/list_lookup" tests/bench/list_lookup.c build/librgcore.a $LIBS_) ||
	{ echo "not ok - list_lookup.c does not compile"; exit 1; }
mkdir -p "$DIR/state"
cat >"$DIR/rcptguard.conf" <<CONF
state_dir = $DIR/state
[domain bench.test]
sources = list
list = $DIR/bench.list
CONF

echo ""
echo "== Static list source: a list of $N addresses ($(nproc) CPU(s), load $(cut -d' ' -f1 /proc/loadavg))"
out=$("$DIR/list_lookup" "$DIR/rcptguard.conf" "$DIR/bench.list" "$N" "$LOOKUPS" "$FORKS" 2>&1)
rc=$?
kv() { printf '%s\n' "$out" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }
if [ $rc -ne 0 ]; then
	echo "not ok - list benchmark: every lookup gave the right answer"
	printf '%s\n' "$out" | sed 's/^/#   /'
	exit 1
fi
echo "ok - list benchmark: $(kv entries) entries compiled, $(kv lookups) lookups, each hit found and each miss not found"
idx=$(find "$DIR/state/lists" -name '*.cdb' -printf '%s\n' | head -n 1)
echo "   compile (parse, validate, sort, write index, fsync, rename): $(kv compile_ms) ms" \
	"for a $(( $(kv file_bytes) / 1048576 )) MiB file; index $(( ${idx:-0} / 1048576 )) MiB"
echo "   lookup per RCPT (stat of the file + cdb_find): p50 $(kv p50_ns) ns, p90 $(kv p90_ns) ns, p99 $(kv p99_ns) ns"
echo "   first lookup in a fresh process (open + mmap of the index + metadata): p50 $(kv first_lookup_p50_ns) ns" \
	"over $(kv forks) forks"
