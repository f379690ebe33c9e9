#!/usr/bin/env bash
# t_admin.sh - rcptguard-admin beside a real front Exim and back-end, driven by curl:
# tokens and scopes (401, 403 with nothing changed), a cache flush through the API makes
# the next RCPT call out again, a list uploaded through the API answers the next RCPT, a
# bad list is refused with its line numbers while the list in force stays, the shrink
# guard (409, accept), a 1,000,000-line list, the probe matches the CLI's, metrics move
# when Exim handles mail, the greylist API, and the security items: malformed JSON, a
# 100 MB upload (413), path tricks, header injection, slow clients, the token file's
# mode, TLS required off loopback, every change logged with the token's name.
. "$(dirname "$0")/../lib/testbed.sh"
. "$(dirname "$0")/../lib/admin.sh"

# cached KEY: "RESULT SOURCE" of a cache record (an address), nothing when absent.
cached() {
	tb_ctl --json cache list | jq -r --arg k "$1" '.[] | select(.key == $k) | "\(.result) \(.source)"'
}

LISTS=$TB/lists
mkdir -p "$LISTS"
chown "$TB_EXIM_USER:$TB_EXIM_USER" "$LISTS"
tb_backend
tb_conf <<EOF
$(adm_conf_lines)

[domain example.org]
hosts = 127.0.0.1:$BE_USERS
sources = callout

[domain users.test]
hosts = 127.0.0.1:$BE_USERS
sources = callout

[domain only.test]
hosts = 127.0.0.1:$BE_USERS
sources = list
list = $LISTS/only.test.list
EOF
tb_front
ADM_OP=$(adm_token '*' ops)
CUST=$(adm_token example.org,only.test cust1)
OTHER=$(adm_token users.test cust2)
[ -n "$ADM_OP" ] && [ -n "$CUST" ] && [ -n "$OTHER" ] || bail "tokens made ($(cat "$TB/admin-token.err"))"
adm_start

# ---- tokens and scopes
adm "" GET /api/v1/domains
assert_eq 401 "$ADM_STATUS" "no token: 401"
assert_match '^WWW-Authenticate: Bearer' "$ADM_HEADERS" "401 names the Bearer scheme"
adm "${CUST%?}x" GET /api/v1/domains
assert_eq 401 "$ADM_STATUS" "a token differing in its last character: 401"
adm "$CUST" GET /api/v1/domains
assert_eq 200 "$ADM_STATUS" "customer token: GET /api/v1/domains 200"
assert_eq "example.org,only.test" "$(adm_json '[.domains[].domain] | join(",")')" \
	"the customer sees its own domains only"
assert_eq "127.0.0.1:$BE_USERS callout" "$(adm_json '.domains[0].hosts + " " + (.domains[0].sources | join(","))')" \
	"each domain with its destination and sources"
adm "$ADM_OP" GET /api/v1/domains
assert_eq "example.org,only.test,users.test" "$(adm_json '[.domains[].domain] | sort | join(",")')" \
	"the operator sees every domain"

# ---- a flush through the API makes the next RCPT call out again
tb_mark
assert_match '^250 ' "$(tb_rcpt_reply user1@users.test)" "users.test: user1 accepted (callout)"
assert_match '^250 ' "$(tb_rcpt_reply user1@example.org)" "example.org: user1 accepted (callout)"
assert_match '^550 ' "$(tb_rcpt_reply nobody@example.org)" "example.org: nobody refused (callout)"
tb_mark
tb_rcpt_reply user1@example.org >/dev/null
assert_connections "$BE_USERS" 0 "user1@example.org again: from the cache, no callout"

adm "$CUST" DELETE /api/v1/domains/users.test/cache
assert_eq 403 "$ADM_STATUS" "customer token on another customer's domain: 403"
assert_match '"error":"token cust1 may not act on users.test"' "$ADM_BODY" "403 says why"
assert_match '^pass callout' "$(cached user1@users.test)" "after the 403, users.test's verdict is still cached"
adm "$CUST" GET /api/v1/domains/users.test/cache
assert_eq 403 "$ADM_STATUS" "customer token cannot read another domain's cache: 403"
adm "$CUST" GET /api/v1/domains/users.test/list
assert_eq 403 "$ADM_STATUS" "customer token cannot read another domain's list: 403"

adm "$CUST" GET /api/v1/domains/example.org/cache
assert_eq 200 "$ADM_STATUS" "GET cache: 200"
assert_eq "nobody@example.org:fail user1@example.org:pass" \
	"$(adm_json '[.records[] | select(.type == "verdict") | .key + ":" + .result] | sort | join(" ")')" \
	"GET cache lists the domain's verdicts"
adm "$CUST" GET "/api/v1/domains/example.org/cache?address=user1@example.org"
assert_eq "user1@example.org" "$(adm_json '[.records[].key] | join(" ")')" "GET cache ?address= filters"

adm "$CUST" DELETE "/api/v1/domains/example.org/cache?negative=1"
assert_eq 200 "$ADM_STATUS" "DELETE cache ?negative=1: 200"
assert_eq "" "$(cached nobody@example.org)" "?negative=1: the negative verdict is gone"
assert_match '^pass callout' "$(cached user1@example.org)" "?negative=1: the positive verdict stays"
adm "$CUST" DELETE "/api/v1/domains/example.org/cache?address=user1@example.org"
assert_eq 1 "$(adm_json .flushed)" "DELETE cache ?address=: one record flushed"
assert_eq "" "$(cached user1@example.org)" "?address=: that verdict is gone"
tb_mark
assert_match '^250 ' "$(tb_rcpt_reply user1@example.org)" "user1@example.org after the flush: accepted"
assert_connections "$BE_USERS" 1 "after the API flush, the next RCPT called out again"
adm "$CUST" DELETE /api/v1/domains/example.org/cache
assert_eq 200 "$ADM_STATUS" "DELETE cache (all): 200"
assert_num "$(adm_json .flushed)" -ge 1 "DELETE cache (all) flushed the records"
assert_eq 0 "$(tb_ctl --json cache list example.org | jq '[.[] | select(.type == "verdict")] | length')" "no verdict of example.org left"
assert_match '^pass callout' "$(cached user1@users.test)" "users.test's verdict untouched by example.org's flush"
assert_match 'change by token cust1 from 127\.0\.0\.1: cache flush example\.org: ' "$(cat "$ADM_LOG")" \
	"the flush is logged with the token's name"

# ---- list upload
adm "$CUST" PUT /api/v1/domains/only.test/list --data-binary $'# mailboxes\nuser1@only.test\nalice@only.test\n' \
	-H 'Content-Type: text/plain'
assert_eq 200 "$ADM_STATUS" "PUT list: 200"
assert_eq "true 2 in_force" "$(adm_json '"\(.list.in_force) \(.list.entries) \(.list.state)"')" \
	"PUT list: the version in force has 2 entries"
assert_eq "# end 2" "$(adm_json .end_marker)" "PUT list: the answer gives the file's end line (# end N, N entry lines)"
tb_mark
tb_rcpts alice@only.test bob@only.test >/dev/null
assert_match '^250 ' "$(tb_reply_of alice@only.test)" "the uploaded list answers the next RCPT: alice accepted"
assert_match '^550 ' "$(tb_reply_of bob@only.test)" "bob (not in the list) refused"
assert_connections "$BE_USERS" 0 "sources = list: the destination was not asked"
cp "$LISTS/only.test.list" "$TB/list.before"
adm "$CUST" PUT /api/v1/domains/only.test/list \
	--data-binary $'user1@only.test\nnot an address\nalice@only.test\nmallory@example.org\nbob@only.test\n'
assert_eq 422 "$ADM_STATUS" "a bad list: 422"
assert_eq "2 4" "$(adm_json '[.problems[].line | tostring] | join(" ")')" "422 names lines 2 and 4"
assert_match 'example\.org' "$(adm_json '.problems[1].message')" "line 4's problem names the foreign domain"
assert_status 0 "the list file is unchanged after the refusal" -- cmp "$TB/list.before" "$LISTS/only.test.list"
tb_rcpts alice@only.test bob@only.test >/dev/null
assert_match '^250 ' "$(tb_reply_of alice@only.test)" "after the refusal, the list in force still answers (alice)"
assert_match '^550 ' "$(tb_reply_of bob@only.test)" "bob still refused"
adm "$CUST" GET /api/v1/domains/only.test/list
assert_eq "true 2" "$(adm_json '"\(.list.in_force) \(.list.entries)"')" "GET list: 2 entries in force"

# A list of 1,000,000 lines (as large as scp customers send), then the shrink guard.
seq 0 999999 | awk '{ print "user" $1 "@only.test" }' >"$TB/big.list"
adm "$CUST" PUT /api/v1/domains/only.test/list --data-binary @"$TB/big.list"
assert_eq 200 "$ADM_STATUS" "a list of 1,000,000 lines: 200"
assert_eq 1000000 "$(adm_json .list.entries)" "1,000,000 entries in force"
assert_match '^250 ' "$(tb_rcpt_reply user999999@only.test)" "the last line of the big list answers"
# A large upload does not hold the lock every request needs: while its 1,000,000 lines are
# validated (refused here: its last line is bad), other requests are answered. The PUT's
# body is fully sent before the GETs start (http.client returns from request() then); a
# GET that ends well before the PUT's answer was served during the validation.
{ cat "$TB/big.list"; echo "not an address"; } >"$TB/big-bad.list"
lockfree=$(python3 - "$ADM_PORT" "$CUST" "$TB/big-bad.list" <<'PY'
import http.client, sys, threading, time
port, tok, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
body = open(path, "rb").read()
hdr = {"Authorization": "Bearer " + tok, "Content-Type": "text/plain"}
sent, gets = threading.Event(), []
def put():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request("PUT", "/api/v1/domains/only.test/list", body, hdr)
    put.sent_at = time.monotonic()
    sent.set()
    r = c.getresponse()
    put.status = r.status
    r.read()
    put.done_at = time.monotonic()
t = threading.Thread(target=put)
t.start()
sent.wait(120)
while t.is_alive():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    t0 = time.monotonic()
    c.request("GET", "/api/v1/domains/only.test/list", headers=hdr)
    r = c.getresponse()
    r.read()
    gets.append((t0, time.monotonic(), r.status))
    time.sleep(0.02)
t.join()
took = put.done_at - put.sent_at
served = [g for g in gets if g[2] == 200 and g[1] < put.done_at]
# The longest a GET waited, as a share of the upload's time: a GET that arrived while the
# upload held the lock would have waited for most of it.
worst = max([g[1] - g[0] for g in gets] or [took])
print(put.status, len(served), int(100 * worst / took), "%.2f" % took)
PY
)
read -r put_status served worst took <<<"$lockfree"
assert_eq 422 "$put_status" "a 1,000,001-line upload with a bad last line: 422 (after ${took:-?} s)"
assert_num "${served:-0}" -ge 3 "while it was validated, other requests were answered ($served GETs)"
assert_num "${worst:-100}" -lt 50 "no request waited for the upload (the longest GET took ${worst:-?}% of its time)"
adm "$CUST" PUT /api/v1/domains/only.test/list --data-binary $'user1@only.test\nalice@only.test\n'
assert_eq 409 "$ADM_STATUS" "a list dropping most entries: 409 (held by the shrink guard)"
assert_eq held "$(adm_json .list.state)" "409: state held"
assert_match '^250 ' "$(tb_rcpt_reply user5000@only.test)" "while held, the big list stays in force"
adm "$CUST" POST /api/v1/domains/only.test/list/accept
assert_eq 200 "$ADM_STATUS" "POST list/accept: 200"
assert_eq "true 2" "$(adm_json '"\(.list.in_force) \(.list.entries)"')" "accepted: 2 entries in force"
assert_match '^550 ' "$(tb_rcpt_reply user5000@only.test)" "after accept, the new list answers"

# ---- probe: the same steps and verdict as the CLI's
PROBE_JQ='"\(.usable)|" + ([.steps[] | "\(.step)=\(.ok)"] | join(";"))'
PASS_JQ='[.counters[] | select(.metric == "rcptguard_verdicts_total" and .labels == {"source": "callout", "result": "pass"}) | .value][0]'
adm "$CUST" POST /api/v1/domains/example.org/probe --data '{"rcpt": "user1@example.org"}'
assert_eq 200 "$ADM_STATUS" "POST probe: 200"
api=$(adm_json "$PROBE_JQ")
cli=$(tb_ctl --json probe example.org --rcpt user1@example.org | jq -r "$PROBE_JQ")
assert_eq "$cli" "$api" "probe: the API's steps and verdict match rcptguardctl probe"
assert_match '^true\|' "$api" "probe of a well-behaved destination: usable"
adm "$CUST" POST /api/v1/domains/example.org/probe --data '{}'
assert_eq 429 "$ADM_STATUS" "a second probe at once: 429 (rate-limited per domain)"
assert_match '^Retry-After: ' "$ADM_HEADERS" "429 says when to retry"

# ---- metrics move when Exim handles mail
before=$(adm_metric 'rcptguard_verdicts_total{source="callout",result="pass"}')
cbefore=$(adm_metric 'rcptguard_callouts_total{kind="rcpt",outcome="accept"}')
tb_rcpts user2@example.org user3@example.org >/dev/null
after=$(adm_metric 'rcptguard_verdicts_total{source="callout",result="pass"}')
cafter=$(adm_metric 'rcptguard_callouts_total{kind="rcpt",outcome="accept"}')
assert_num "$before" -ge 1 "metrics: callout passes were counted before"
assert_eq $((before + 2)) "$after" "metrics: two RCPTs through Exim, verdicts_total{callout,pass} +2"
assert_eq $((cbefore + 2)) "$cafter" "metrics: callouts_total{rcpt,accept} +2"
adm "" GET /metrics
assert_eq 401 "$ADM_STATUS" "/metrics without a token from 127.0.0.1: 401"
adm "$CUST" GET /metrics
assert_eq 403 "$ADM_STATUS" "/metrics with a customer token: 403"
st=$(curl -s -m 10 -o "$TB/m.txt" -w '%{http_code}' --interface 127.0.0.9 "$ADM_URL/metrics")
assert_eq 200 "$st" "/metrics without a token from admin_metrics_from (127.0.0.9): 200"
assert_match '^# TYPE rcptguard_verdicts_total counter$' "$(cat "$TB/m.txt")" "/metrics is Prometheus text"
adm "$ADM_OP" GET /api/v1/stats
assert_eq "$after" "$(adm_json "$PASS_JQ")" \
	"/api/v1/stats gives the same counter"
ctl_v=$(tb_ctl --json stats | jq -r "($PASS_JQ | tostring) + \" \" + (.triplets_waiting | tostring)")
assert_eq "$after 0" "$ctl_v" "rcptguardctl stats --json: the same counter, greylist figures kept"

# ---- greylist (operator only)
adm "$CUST" GET /api/v1/greylist
assert_eq 403 "$ADM_STATUS" "customer token on /api/v1/greylist: 403"
adm "$CUST" GET /api/v1/stats
assert_eq 403 "$ADM_STATUS" "customer token on /api/v1/stats: 403"
adm "$ADM_OP" POST /api/v1/greylist --data '{"ip": "127.0.3.0/24"}'
assert_eq "200 1" "$ADM_STATUS $(adm_json .allowed)" "POST greylist {ip: CIDR}: one network released"
adm "$ADM_OP" GET /api/v1/greylist
assert_match 'awl 127\.0\.3\.0/24 manual' "$(adm_json '.records[] | "\(.type) \(.network) \(.kind // "")"')" \
	"GET greylist shows the released network"
adm "$ADM_OP" DELETE /api/v1/greylist --data '{"ip": "127.0.3.0/24"}'
assert_eq "200 1" "$ADM_STATUS $(adm_json .removed)" "DELETE greylist: the network forgotten"
assert_match 'change by token ops from 127\.0\.0\.1: greylist allow 127\.0\.3\.0/24' "$(cat "$ADM_LOG")" \
	"greylist changes are logged with the token's name"

# ---- malformed input
adm "$ADM_OP" POST /api/v1/greylist --data '{"ip": "127.0.3.1"'
assert_eq 400 "$ADM_STATUS" "malformed JSON: 400"
assert_match '"error":"malformed JSON: line 1' "$ADM_BODY" "400 says where the JSON is broken"
adm "$ADM_OP" POST /api/v1/greylist --data '["ip"]'
assert_eq 400 "$ADM_STATUS" "JSON that is not an object: 400"
adm "$ADM_OP" POST /api/v1/greylist --data '{"ip": "not-an-ip"}'
assert_eq 400 "$ADM_STATUS" "a bad IP: 400"
adm "$CUST" POST /api/v1/domains/example.org/probe --data '{"rcpt": "x@users.test"}'
assert_eq 400 "$ADM_STATUS" "probe with another domain's address: 400"

# ---- a 100 MB upload: 413, nothing lost
head -c 100000000 /dev/zero | tr '\0' 'a' >"$TB/huge"
cp "$LISTS/only.test.list" "$TB/list.before"
adm "$CUST" PUT /api/v1/domains/only.test/list --data-binary @"$TB/huge"
assert_eq 413 "$ADM_STATUS" "a 100 MB upload (Content-Length): 413"
adm "$CUST" PUT /api/v1/domains/only.test/list -H 'Transfer-Encoding: chunked' --data-binary @"$TB/huge"
assert_eq 413 "$ADM_STATUS" "a 100 MB upload (chunked, no length): 413"
assert_status 0 "after the 413s, the list file is unchanged" -- cmp "$TB/list.before" "$LISTS/only.test.list"
adm "$CUST" GET /api/v1/domains/only.test/list
assert_eq "200 2" "$ADM_STATUS $(adm_json .list.entries)" "after the 413s, the daemon answers and the list in force stays"
rm -f "$TB/huge" "$TB/big.list"

# ---- path tricks in DOMAIN: refused, nothing changed
tb_rcpt_reply user1@users.test >/dev/null
for p in '/api/v1/domains/users.test%2fcache' '/api/v1/domains/example.org%00users.test/cache' \
	'/api/v1/domains/..%2fusers.test/cache' '/api/v1/domains/../users.test/cache' \
	'/api/v1/domains/example.org%2f..%2fusers.test/cache' '/api/v1/domains/EXAMPLE.org%0d%0a/cache'; do
	adm "$CUST" DELETE "$p" --path-as-is
	if [ "$ADM_STATUS" = 400 ] || [ "$ADM_STATUS" = 403 ] || [ "$ADM_STATUS" = 404 ]; then
		ok "path trick $p: refused ($ADM_STATUS)"
	else
		not ok "path trick $p: refused"
		diag "status $ADM_STATUS: $ADM_BODY"
	fi
done
assert_match '^pass callout' "$(cached user1@users.test)" "after the path tricks, users.test's cache is untouched"

# ---- header injection: nothing the client sends reaches a response header or a log line raw
adm "$CUST" GET '/api/v1/domains/example.org/cache?address=a%0d%0aX-Injected:%201@example.org'
assert_eq 400 "$ADM_STATUS" "CR LF in a query argument: 400"
assert_no_match '^X-Injected' "$ADM_HEADERS" "no injected response header"
resp=$(python3 - "$ADM_PORT" "$CUST" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET /api/v1/domains HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + sys.argv[2].encode() +
          b"\rX-Injected: 1\r\nConnection: close\r\n\r\n")
data = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
except Exception:
    pass
print(data.split(b"\r\n")[0].decode(errors="replace"))
print("injected" if b"X-Injected" in data else "clean")
PY
)
assert_match '^HTTP/1\.1 (400|401) ' "$resp" "a bare CR in a header: refused (400/401), not obeyed"
assert_match '^clean$' "$resp" "a bare CR in a header: nothing injected in the answer"
assert_no_match $'\r' "$(cat "$ADM_LOG")" "no raw CR in the daemon's log"

# ---- slow clients: connection limits and timeouts
python3 - "$ADM_PORT" >"$TB/slow.out" 2>&1 <<'PY' &
import socket, sys, time
port = int(sys.argv[1])
socks = []
for i in range(24):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(b"GET /api/v1/domains HTTP/1.1\r\nHost: x\r\n")   # never finished
        socks.append(s)
    except Exception:
        pass
time.sleep(1)
# Which were closed at once (over the per-client limit)?
early = 0
for s in socks:
    s.settimeout(0.05)
    try:
        if s.recv(100) == b"":
            early += 1
    except socket.timeout:
        pass
    except Exception:
        early += 1
print("early", early)
sys.stdout.flush()
time.sleep(13)
late = 0
for s in socks:
    s.settimeout(0.5)
    try:
        if s.recv(100) == b"":
            late += 1
    except socket.timeout:
        pass
    except Exception:
        late += 1
print("closed", late, "of", len(socks))
PY
slow=$!
sleep 1.5
st=$(curl -s -m 5 -o /dev/null -w '%{http_code}' --interface 127.0.0.2 -H "Authorization: Bearer $CUST" "$ADM_URL/api/v1/domains")
assert_eq 200 "$st" "while one client holds many idle connections, another client is served"
wait "$slow"
assert_match '^early ([1-9]|[1-9][0-9])$' "$(cat "$TB/slow.out")" "connections over the per-client limit are closed at once"
assert_match '^closed 24 of 24$' "$(cat "$TB/slow.out")" "idle half-sent requests are closed after the timeout"
adm "$CUST" GET /api/v1/domains
assert_eq 200 "$ADM_STATUS" "after the slow clients, the daemon answers"

# ---- the token file must not be writable by others; tokens re-read when it changes
chmod 0666 "$ADM_TOKENS"
adm "$ADM_OP" GET /api/v1/domains
assert_eq 401 "$ADM_STATUS" "a tokens file writable by others: no token accepted"
assert_match 'writable by group or others' "$(cat "$ADM_LOG")" "the log says why"
chmod 0640 "$ADM_TOKENS"
adm "$ADM_OP" GET /api/v1/domains
assert_eq 200 "$ADM_STATUS" "mode 0640 again: the operator token works"
"$RG_ADMIN" -c "$TB/rcptguard.conf" token remove cust2 2>/dev/null
adm "$OTHER" GET /api/v1/domains
assert_eq 401 "$ADM_STATUS" "token remove: the removed token is refused at once"
assert_eq "cust1 ops" "$("$RG_ADMIN" -c "$TB/rcptguard.conf" token list | awk '{print $1}' | sort | tr '\n' ' ' | sed 's/ $//')" \
	"token list: the remaining tokens"
assert_no_match "$CUST" "$(cat "$ADM_TOKENS")" "the tokens file holds no secret, only hashes"

# ---- every change logged with the token's name
log=$(cat "$ADM_LOG")
assert_match 'change by token cust1 from 127\.0\.0\.1: list upload only\.test: [0-9]+ bytes, in force' "$log" "list upload logged with the token's name"
assert_match 'change by token cust1 from 127\.0\.0\.1: list accept only\.test' "$log" "list accept logged with the token's name"
assert_match 'change by token cust1 from 127\.0\.0\.1: probe example\.org' "$log" "probe logged with the token's name"

# ---- TLS: required off loopback; served with a certificate
cp "$TB/rcptguard.conf" "$TB/exposed.conf"
sed -i "s/^admin_listen = .*/admin_listen = 192.0.2.1:$ADM_PORT/" "$TB/exposed.conf"
assert_status 78 "admin_listen off loopback without TLS: refuses to start (exit 78)" -- \
	timeout 5 "$RG_ADMIN" -c "$TB/exposed.conf" serve
assert_match 'admin_tls_cert and admin_tls_key are required' "$TB_OUT" "it says TLS is required"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TB/admin.key" -out "$TB/admin.pem" -days 2 \
	-subj /CN=localhost >/dev/null 2>&1
read -r TLS_PORT <<<"$(tb_free_ports 1)"
awk -v c="$TB/admin.pem" -v k="$TB/admin.key" \
	'/^\[domain/ && !done { print "admin_tls_cert = " c; print "admin_tls_key = " k; done = 1 } { print }' \
	"$TB/rcptguard.conf" | sed -e "s/^admin_listen = .*/admin_listen = 127.0.0.1:$TLS_PORT/" >"$TB/tls.conf"
setsid "$RG_ADMIN" -c "$TB/tls.conf" serve </dev/null >"$TB/tls.log" 2>&1 &
tb_track $!
tb_wait_listen $! 5 "$TLS_PORT" || diag "$(cat "$TB/tls.log")"
st=$(curl -s -k -m 5 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $CUST" "https://127.0.0.1:$TLS_PORT/api/v1/domains")
assert_eq 200 "$st" "with admin_tls_cert/key: HTTPS answers"
st=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$TLS_PORT/api/v1/domains")
assert_ne 200 "$st" "with TLS configured, plain HTTP gets no answer"

# ---- the config is re-read when it changes (and on SIGHUP); a bad one leaves the one in force
# domains: the operator's list of domains, sorted, comma-separated.
domains() {
	adm "$ADM_OP" GET /api/v1/domains
	adm_json '[.domains[].domain] | sort | join(",")'
}
# wait_domains WANT: up to 10 s for the daemon's list of domains to be WANT; prints the last seen.
wait_domains() {
	local i seen
	for i in $(seq 50); do
		seen=$(domains)
		[ "$seen" = "$1" ] && break
		sleep 0.2
	done
	printf '%s\n' "$seen"
}
sed -n '3,$p' "$TB/rcptguard.conf" >"$TB/conf.body"
tb_conf <<EOF
$(cat "$TB/conf.body")

[domain new.test]
hosts = 127.0.0.1:$BE_USERS
sources = callout
EOF
assert_eq "example.org,new.test,only.test,users.test" "$(wait_domains example.org,new.test,only.test,users.test)" \
	"a domain added to the config is served without a restart"
assert_match "config $TB/rcptguard\\.conf re-read \\(changed\\)" "$(cat "$ADM_LOG")" "the daemon logs that it re-read the config"
tb_conf <<EOF
$(cat "$TB/conf.body")

[domain new.test]
hosts = 127.0.0.1:$BE_USERS
sources = callout
no_such_key = 1
EOF
for _ in $(seq 50); do grep -q 'not re-read' "$ADM_LOG" && break; sleep 0.2; done
assert_match "config $TB/rcptguard\\.conf not re-read \\(the config in force stays\\): .*rcptguard\\.conf:[0-9]+: .*no_such_key" \
	"$(cat "$ADM_LOG")" "a config with an error is logged with its file:line, and not used"
assert_eq "example.org,new.test,only.test,users.test" "$(domains)" "...the config in force stays (new.test still served)"
adm "$CUST" GET /api/v1/domains/only.test/list
assert_eq 200 "$ADM_STATUS" "...and requests still get 200"
assert_eq 1 "$(grep -c 'not re-read' "$ADM_LOG")" "...logged once, not once a second"
tb_conf <"$TB/conf.body"
kill -HUP "$ADM_PID"
assert_eq "example.org,only.test,users.test" "$(wait_domains example.org,only.test,users.test)" \
	"the config repaired (new.test removed): re-read, new.test gone"
kill -0 "$ADM_PID" 2>/dev/null && ok "SIGHUP: the daemon re-reads and keeps running" || not ok "SIGHUP: the daemon re-reads and keeps running"

# ---- the web page is served, self-contained
adm "" GET /
assert_eq 200 "$ADM_STATUS" "GET /: 200"
assert_match "^Content-Security-Policy: default-src 'none'; script-src 'self'" "$ADM_HEADERS" "the page is served with a strict CSP"
assert_no_match 'https?://' "$ADM_BODY" "the page fetches nothing from outside"
kill -0 "$ADM_PID" 2>/dev/null && ok "rcptguard-admin still runs" || not ok "rcptguard-admin still runs"
