#!/usr/bin/env bash
# t_ctl.sh - rcptguardctl as an operator uses it: check and catchall print yield lines with
# the documented exit statuses; cache list shows the records (human and JSON); cache flush
# removes exactly what it is asked to; probe tells whether a destination can be verified.
. "$(dirname "$0")/../lib/testbed.sh"

tb_backend
tb_conf <<EOF
$(tb_std_domains)
EOF
mkdir -p "$TB/state"
chown "$TB_EXIM_USER:$TB_EXIM_USER" "$TB/state"

# ---- check
tb_mark
assert_status 0 "check user1@example.org exits 0 (pass)" -- tb_ctl check user1@example.org
assert_match '^result=pass source=callout' "$TB_OUT" "check: prints result=pass source=callout"
assert_status 1 "check nobody@example.org exits 1 (fail)" -- tb_ctl check nobody@example.org
assert_match '^result=fail source=callout message="<nobody@example\.org>: recipient unknown"' "$TB_OUT" \
	"check: prints result=fail with the recipient-unknown message"
assert_status 2 "check x@tempfail.test exits 2 (defer)" -- tb_ctl check x@tempfail.test
assert_match '^result=defer ' "$TB_OUT" "check: prints result=defer"
assert_status 0 "check user1@example.org again exits 0" -- tb_ctl check user1@example.org
assert_match '^result=pass source=cache' "$TB_OUT" "check again: answered from the cache"
assert_connections "$BE_USERS" 2 "check: two connections (one per CLI run that needed the destination)"
assert_status 0 "check with -o hosts=... for a domain without a section" -- \
	tb_ctl check user1@nosection.test -o "hosts=127.0.0.1:$BE_USERS"
assert_match '^result=pass source=callout' "$TB_OUT" "check -o: the options override the config file"
assert_status 0 "check --json exits 0" -- tb_ctl --json check user2@example.org
if printf '%s' "$TB_OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d.get("result")=="pass" else 1)' 2>/dev/null; then
	ok "check --json: a JSON object with result=pass"
else
	not ok "check --json: a JSON object with result=pass"
	diag "$TB_OUT"
fi
# A value with an escaped quote (the address itself) loses no later key in --json.
plain=$(tb_ctl check '"a b"@example.org' 2>&1)
json=$(tb_ctl --json check '"a b"@example.org' 2>&1)
want=$(grep -oE '(^| )[a-z_]+=' <<<"$plain" | tr -d ' =' | sort | tr '\n' ' ')
seen=$(python3 -c 'import json,sys; print(" ".join(sorted(json.loads(sys.stdin.read()))))' <<<"$json" 2>&1)
assert_eq "${want% }" "$seen" "check --json of '\"a b\"@example.org': every key of the yield line (${want% })"
assert_match 'detail' "$seen" "check --json: the detail after the quoted address is kept"
assert_status 64 "check without an address: usage error 64" -- tb_ctl check

# ---- catchall
assert_status 0 "catchall catchall.test exits 0 (yes)" -- tb_ctl catchall catchall.test
assert_match '^result=yes source=callout' "$TB_OUT" "catchall catchall.test: result=yes source=callout"
assert_status 0 "catchall afterdata.test exits 0 (yes)" -- tb_ctl catchall afterdata.test
assert_match '^result=yes' "$TB_OUT" "catchall afterdata.test: result=yes (accepts at RCPT, rejects after DATA)"
assert_status 1 "catchall example.org exits 1 (no)" -- tb_ctl catchall example.org
assert_match '^result=no source=cache' "$TB_OUT" "catchall example.org: result=no (from the cache: probed by check)"
assert_status 2 "catchall tempfail.test exits 2 (unknown)" -- tb_ctl catchall tempfail.test
assert_match '^result=unknown' "$TB_OUT" "catchall tempfail.test: result=unknown"
assert_status 2 "catchall dead.test exits 2 (unknown)" -- tb_ctl catchall dead.test
assert_match '^result=unknown' "$TB_OUT" "catchall dead.test: result=unknown"

# ---- cache list
for a in user2@example.org user3@example.org ghost1@example.org ghost2@example.org \
	user1@users.test ghost@users.test; do
	tb_ctl check "$a" >/dev/null 2>&1
done
json=$(tb_ctl --json cache list 2>&1)
if printf '%s' "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert isinstance(d, list)' 2>/dev/null; then
	ok "cache list --json: a JSON array"
else
	not ok "cache list --json: a JSON array"
	diag "$json"
fi
keys=$(printf '%s' "$json" | python3 -c '
import json, sys
try:
    recs = json.load(sys.stdin)
except Exception:
    sys.exit(0)
need = {"type", "key", "result", "source", "created", "expires", "text"}
for r in recs:
    print(r.get("type"), r.get("key"), r.get("result"), r.get("source"), "complete" if need <= set(r) else "missing-keys")
' 2>/dev/null)
assert_match '^verdict user1@example\.org pass callout complete$' "$keys" "cache list --json: verdict record with every key"
assert_match '^verdict nobody@example\.org fail callout complete$' "$keys" "cache list --json: fail record"
assert_match '^catchall catchall\.test yes catchall complete$' "$keys" "cache list --json: catch-all record (yes)"
assert_match '^catchall example\.org no catchall complete$' "$keys" "cache list --json: catch-all record (no)"
assert_no_match 'tempfail\.test|dead\.test' "$keys" "cache list: nothing for the domains that could not answer"
human=$(tb_ctl cache list 2>&1)
assert_match '^user1@example\.org pass callout created=[^ ]+ expires=[^ ]+ 250' "$human" "cache list: human line for a pass"
assert_match '^catchall\.test catchall yes created=' "$human" "cache list: human line for a catch-all record"
one=$(tb_ctl cache list users.test 2>&1)
assert_match '^user1@users\.test pass' "$one" "cache list users.test: its records"
assert_no_match '@example\.org|^example\.org' "$one" "cache list users.test: no other domain's records"

# ---- cache flush
assert_status 0 "cache flush ADDRESS exits 0" -- tb_ctl cache flush user2@example.org
assert_eq "flushed 1 record(s)" "$TB_OUT" "cache flush user2@example.org: flushed 1 record(s)"
list=$(tb_ctl cache list 2>&1)
assert_no_match '^user2@example\.org ' "$list" "cache flush ADDRESS: that address is gone"
assert_match '^user3@example\.org pass' "$list" "cache flush ADDRESS: the others stay"

n_neg=$(tb_cache_count fail)
assert_status 0 "cache flush --negative exits 0" -- tb_ctl cache flush --negative
assert_match "^flushed [0-9]+ record\\(s\\)$" "$TB_OUT" "cache flush --negative: says how many ($n_neg fail verdicts before)"
assert_eq 0 "$(tb_cache_count fail)" "cache flush --negative: no fail verdict left"
assert_match '^verdict user1@example\.org pass' "$(tb_cache_json | python3 -c '
import json,sys
for r in json.load(sys.stdin): print(r["type"], r["key"], r["result"])' 2>/dev/null)" "cache flush --negative: pass verdicts stay"

tb_ctl check ghost@users.test >/dev/null 2>&1
assert_status 0 "cache flush DOMAIN exits 0" -- tb_ctl cache flush users.test
assert_eq 0 "$(tb_cache_count "" users.test)" "cache flush users.test: no record of users.test left"
assert_match '^user1@example\.org pass' "$(tb_ctl cache list 2>&1)" "cache flush DOMAIN: other domains stay"

assert_status 0 "cache flush --all exits 0" -- tb_ctl cache flush --all
assert_match '^flushed [1-9][0-9]* record\(s\)$' "$TB_OUT" "cache flush --all: says how many"
assert_eq 0 "$(tb_cache_count)" "cache flush --all: the cache is empty"
assert_status 64 "cache flush without an argument: usage error 64" -- tb_ctl cache flush

# After a flush the next check asks the destination again.
tb_mark
tb_ctl check user1@example.org >/dev/null 2>&1
assert_connections "$BE_USERS" 1 "after flush --all: check asks the destination again"

# ---- probe
assert_status 0 "probe users back-end exits 0 (usable)" -- \
	tb_ctl probe example.org --host "127.0.0.1:$BE_USERS" --rcpt user1@example.org
p=$TB_OUT
assert_match '(banner|220).*\bok\b|\bok\b.*(banner|220)' "$p" "probe: reports the banner / connection"
assert_match '[Nn]ull sender.*\bok\b' "$p" "probe: null sender accepted"
assert_match 'random recipient.*\bok\b.*5[0-9][0-9]' "$p" "probe: random recipient rejected (5xx)"
assert_match 'known recipient.*\bok\b.*250' "$p" "probe: known recipient accepted (250)"
assert_match 'can verify' "$p" "probe: summary says callouts can verify"

assert_status 1 "probe catch-all back-end exits 1 (not usable)" -- \
	tb_ctl probe catchall.test --host "127.0.0.1:$BE_CATCHALL"
p=$TB_OUT
assert_match 'random recipient.*(FAIL|fail).*250' "$p" "probe catch-all: the random recipient was accepted (250)"
assert_match 'catch-all' "$p" "probe catch-all: says catch-all"
assert_match 'cannot verify' "$p" "probe catch-all: summary says callouts cannot verify"

assert_status 1 "probe after-DATA back-end exits 1" -- tb_ctl probe afterdata.test --host "127.0.0.1:$BE_AFTERDATA"
assert_match 'random recipient.*(FAIL|fail).*250' "$TB_OUT" "probe after-DATA back-end: random recipient accepted"

assert_status 1 "probe dead port exits 1" -- tb_ctl probe dead.test --host "127.0.0.1:$BE_DEAD"
assert_match '[Rr]efused' "$TB_OUT" "probe dead port: says connection refused"

assert_status 0 "probe with the destination from the config file" -- tb_ctl probe example.org --rcpt alice@example.org
assert_status 64 "unknown verb: usage error 64" -- tb_ctl frobnicate
