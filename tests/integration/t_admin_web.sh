#!/usr/bin/env bash
# t_admin_web.sh - rcptguard-admin's web page in a real headless Chromium (Debian's chromium,
# chromium-driver, python3-selenium): a customer signs in with the keyboard only, clears its
# callout cache (the next RCPT calls out again), uploads a bad list (problems shown line by
# line, the list in force kept) and a good one (it answers the next RCPT), reads the SMTP
# tester's steps; the operator sees counters and greylisting. A screenshot of each page
# is kept in build/test-logs/t_admin_web/.
. "$(dirname "$0")/../lib/testbed.sh"
. "$(dirname "$0")/../lib/admin.sh"

SHOTS=$TB_BUILD/test-logs/t_admin_web
rm -rf "$SHOTS"
mkdir -p "$SHOTS"
for f in /usr/bin/chromium /usr/bin/chromedriver; do
	[ -x "$f" ] || bail "$f exists (bash tests/deps.sh installs chromium and chromium-driver)"
done
/usr/bin/python3 -c 'import selenium' 2>/dev/null || bail "python3-selenium is installed (bash tests/deps.sh)"

LISTS=$TB/lists
mkdir -p "$LISTS"
chown "$TB_EXIM_USER:$TB_EXIM_USER" "$LISTS"
printf 'user1@only.test\n' >"$LISTS/only.test.list"
chown "$TB_EXIM_USER:$TB_EXIM_USER" "$LISTS/only.test.list"
tb_backend
tb_conf <<EOF
$(adm_conf_lines)

[domain example.org]
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
adm_start

printf 'user1@only.test\nnot an address\nalice@only.test\nmallory@example.org\n' >"$TB/bad.list"
printf '# our mailboxes\nuser1@only.test\nalice@only.test\n' >"$TB/good.list"
chmod 0644 "$TB/bad.list" "$TB/good.list"

# Something in the cache and the counters first; the list compiled (the CLI compiles in
# its own process; an RCPT leaves it to a detached child and defers until it is done).
tb_ctl list status only.test >/dev/null 2>&1
assert_match '^250 ' "$(tb_rcpt_reply user1@example.org)" "example.org: user1 accepted (callout)"
assert_match '^550 ' "$(tb_rcpt_reply alice@only.test)" "only.test: alice refused (not in the list yet)"
assert_match '^pass' "$(tb_ctl cache list example.org | awk '$1 == "user1@example.org" { print $2 }')" \
	"user1@example.org is cached"

timeout 240 /usr/bin/python3 "$TB_REPO/tests/lib/admin_browser.py" "$ADM_URL" "$CUST" "$ADM_OP" "$SHOTS" \
	"$TB/bad.list" "$TB/good.list" >"$TB/browser.out" 2>"$TB/browser.err"
get() { awk -F '\t' -v k="$1" '$1 == k { sub(/^[^\t]*\t/, ""); print; exit }' "$TB/browser.out"; }
if [ -n "$(get exception)" ]; then
	not ok "the browser session ran to the end"
	diag "$(get exception)"
	diag "$(tail -n 5 "$TB/browser.err")"
else
	ok "the browser session ran to the end"
fi

assert_eq token "$(get focus_at_start)" "the page opens with the focus in the token field"
assert_eq "Signed in as cust1" "$(get who)" "keyboard-only sign-in with the customer token"
assert_eq "example.org,only.test" "$(get domains)" "the customer sees its own domains"
assert_match "Destination \\| 127\\.0\\.0\\.1:$BE_USERS" "$(get status_example)" "domain status shows the destination"
assert_match 'Clear all verdicts' "$(get tab_order)" "Tab reaches the cache buttons (keyboard only)"
assert_match '^Cleared [1-9][0-9]* cached verdict' "$(get flush)" "clear cache (keyboard, Enter): the page reports the records cleared"
assert_eq "" "$(tb_ctl cache list example.org | awk '$1 == "user1@example.org"')" "after the page's flush, the verdict is gone"
tb_mark
assert_match '^250 ' "$(tb_rcpt_reply user1@example.org)" "user1@example.org after the flush: accepted"
assert_connections "$BE_USERS" 1 "after the page's flush, the next RCPT called out again"

assert_match '^List refused: 2 problem' "$(get upload_bad)" "bad list: the page says it was refused"
assert_match '^line 2: .*;line 4: .*example\.org' "$(get problems)" "the problems are shown line by line (2 and 4)"
assert_match '^List in force: 2 addresses' "$(get upload_good)" "good list: the page says it is in force"
assert_match '2 addresses in force' "$(get status_only)" "the domain status shows the new list"
assert_match '^250 ' "$(tb_rcpt_reply alice@only.test)" "the list uploaded from the page answers the next RCPT"

assert_match '^Usable' "$(get probe)" "SMTP tester: the page shows the verdict"
cli=$(tb_ctl --json probe example.org --rcpt user1@example.org |
	jq -r '[.steps[] | "\(.step)=" + (if .ok then "ok" else "FAIL" end)] | join(";")')
assert_eq "$cli" "$(get probe_steps)" "SMTP tester: the page's steps are the CLI's"

assert_eq "Signed in as ops (operator)" "$(get who_op)" "the operator signs in"
assert_match 'rcptguard_verdicts_total \{source=callout, result=pass\} [1-9]' "$(get counters)" "the operator sees the counters"
assert_match '^Released 1 network' "$(get greylist_msg)" "the operator releases a network from the page"
assert_match 'awl 127\.0\.4\.0/24' "$(get greylist)" "the greylist view shows it"
assert_eq 0 "$(get console_errors)" "no script errors or CSP violations in the browser console" ||
	diag "$(get console)"

n=0
for f in 01-signin 02-domains 03-flushed 04-upload-refused 05-upload-in-force 06-tester 07-operator; do
	if [ -s "$SHOTS/$f.png" ] && [ "$(head -c 4 "$SHOTS/$f.png" | od -An -c | tr -d ' ')" = '211PNG' ]; then
		n=$((n + 1))
	fi
done
assert_eq 7 "$n" "a PNG screenshot of each page in $SHOTS"
assert_match 'change by token cust1 from 127\.0\.0\.1: cache flush example\.org' "$(cat "$ADM_LOG")" \
	"the page's flush is logged with the token's name"
