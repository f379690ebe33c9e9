#!/usr/bin/env bash
# asan.sh - "make asan": the unit tests and the named integration tests with rcptguard
# built with AddressSanitizer and UBSan (build/asan), the module running inside real
# Exims: libasan is preloaded into every Exim the test bed starts, through a wrapper
# that the test bed uses as its Exim binary (TB_EXIM; also exim_path, so re-execs keep it).
# Any sanitizer report, from a unit test, rcptguardctl or an Exim process, fails the run.
#
#   bash tests/asan.sh [t_NAME...]      (make asan ASAN_TESTS="t_callout t_fcrdns")
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
build=$PWD/build/asan
for f in "$build/rcptguard.so" "$build/rcptguardctl"; do
	[ -f "$f" ] || { echo "asan.sh: $f missing: run make asan" >&2; exit 1; }
done
libasan=$(readlink -f "$(gcc -print-file-name=libasan.so)")
[ -f "$libasan" ] || { echo "asan.sh: libasan.so not found (gcc -print-file-name=libasan.so)" >&2; exit 1; }

# Why allocator_may_return_null=1 everywhere: the list compile runs under RLIMIT_DATA and
# must see malloc() return NULL there, as with glibc; ASan's default aborts instead.
# Reports go to files in a folder every Exim (Debian-exim after its privilege drop) can write.
reports=$(mktemp -d /tmp/rg-asan.XXXXXX)
chmod 1777 "$reports"
trap 'rm -rf "$reports"' EXIT
# Why no leak detection in Exim: Exim frees little before _exit(); the unit tests check leaks.
cat >"$reports/exim4" <<WRAP
#!/bin/sh
LD_PRELOAD=$libasan
ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:allocator_may_return_null=1:log_path=$reports/asan
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan
export LD_PRELOAD ASAN_OPTIONS UBSAN_OPTIONS
exec /usr/sbin/exim4 "\$@"
WRAP
chmod 0755 "$reports/exim4"

status=0
echo "== unit tests (ASan, UBSan, leak detection)"
ASAN_OPTIONS=allocator_may_return_null=1:log_path=$reports/asan UBSAN_OPTIONS=print_stacktrace=1:log_path=$reports/ubsan \
	RG_UNIT_ONLY=1 RG_BUILD=$build bash tests/run.sh || status=1
# "all": every integration script that runs the module through the test bed's Exim, so
# under the wrapper. Left out: t_deb (the packaged build), t_lookup and t_lookup_498 (Exims
# built from source, which load the lookup module themselves), and t_debug: Exim 4.96's
# own "-d+expand" trace of ${quote_local_part:...} reads past a heap block under ASan
# (reproduced with no rcptguard in the config at all).
if [ "$*" = all ]; then
	set -- $(cd tests/integration && ls t_*.sh | sed 's/\.sh$//' | grep -vxE 't_deb|t_lookup|t_lookup_498|t_debug')
fi
if [ $# -gt 0 ]; then
	echo "== integration tests with the module under ASan inside Exim: $*"
	# The CLI is ASan-built too: no leak reports from its exit paths.
	ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:log_path=$reports/asan UBSAN_OPTIONS=print_stacktrace=1:log_path=$reports/ubsan \
		TB_EXIM=$reports/exim4 RG_BUILD=$build bash tests/run.sh "$@" || status=1
fi
n=$(find "$reports" -name 'asan.*' -o -name 'ubsan.*' | wc -l)
if [ "$n" -gt 0 ]; then
	echo "asan: $n sanitizer report(s):"
	for f in "$reports"/asan.* "$reports"/ubsan.*; do
		[ -f "$f" ] || continue
		echo "---- $f"
		head -n 40 "$f"
	done
	status=1
else
	echo "asan: no sanitizer report"
fi
exit $status
