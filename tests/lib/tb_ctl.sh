# tb_ctl.sh - the test bed's view of rcptguard's state: rcptguardctl with the test's
# config, the verdict cache as JSON and as single records, and yield lines.
#
# Part of the test bed (sourced by testbed.sh, never alone).
# shellcheck shell=bash

# tb_ctl ARGS...: build/rcptguardctl with the test's config.
tb_ctl() {
	"$RG_CTL" -c "$TB/rcptguard.conf" "$@"
}

# tb_cache_json: the cache as JSON (an array of records).
tb_cache_json() {
	tb_ctl --json cache list "$@"
}

# tb_cache_record KEY: "RESULT SOURCE TTL_SECONDS TEXT" of the record KEY (an address, or
# a domain for catch-all records), from cache list --json; nothing when absent.
tb_cache_record() {
	tb_cache_json 2>/dev/null | python3 -c '
import json, sys
key = sys.argv[1].lower()
try:
    recs = json.load(sys.stdin)
except Exception as e:
    print("(cache list --json did not parse: %s)" % e)
    sys.exit(0)
for r in recs:
    if str(r.get("key", "")).lower() == key:
        print(r.get("result"), r.get("source"), int(r.get("expires", 0)) - int(r.get("created", 0)), r.get("text", ""))
        break
' "$1"
}

# tb_cache_count [FILTER [DOMAIN]]: number of cache records (of DOMAIN); FILTER: "" (all),
# verdict, catchall, pass, fail, yes, no. -1 when the list cannot be read.
tb_cache_count() {
	local f=${1:-}
	shift
	tb_cache_json "$@" 2>/dev/null | python3 -c '
import json, sys
f = sys.argv[1]
try:
    recs = json.load(sys.stdin)
except Exception:
    print(-1); sys.exit(0)
print(sum(1 for r in recs if not f or r.get("type") == f or r.get("result") == f))
' "$f"
}

# tb_yield_get KEY LINE: the value of KEY in a yield line (key=value, "quoted value").
tb_yield_get() {
	python3 - "$1" "$2" <<'PY'
import shlex, sys
key, line = sys.argv[1], sys.argv[2]
try:
    parts = shlex.split(line, posix=True)
except ValueError:
    parts = line.split()
for p in parts:
    if p.startswith(key + "="):
        print(p[len(key) + 1:])
        break
PY
}
