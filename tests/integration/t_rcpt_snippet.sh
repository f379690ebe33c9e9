#!/usr/bin/env bash
# t_rcpt_snippet.sh - the order of acl-snippets/rcptguard-rcpt.conf within one SMTP session.
# acl_m_ variables keep the previous RCPT's value, and the snippet checks and calls in as
# few statements as it can (issue 11): no recipient may ever be judged on an earlier one's
# verdict. One session, through a real Exim daemon and the real module: fail after pass
# (550), defer after fail (451, never 5xx), pass after fail and defer (250), a module that
# cannot be loaded for one recipient after a pass and after a fail (451 "Temporary local
# problem", never 250 or 550), a forced expansion failure (451, the snippet's placeholder);
# the yield stays in $acl_m_rg for later statements. Then "exim -bh" with a domain the
# snippet does not verify (as in Debian's ACL, which lets local domains reach the hook)
# after a fail and after a defer (250), and a module that cannot be loaded at all (451 for
# every recipient).
. "$(dirname "$0")/../lib/testbed.sh"

tb_backend
tb_conf <<EOF
$(tb_std_domains)
EOF

# RCPTGUARD_SO per recipient, for the ACL only (redefined after rcptguard-main.conf, so the
# daemon's preload loads the real module): local parts starting "broken" name a file that
# does not exist (dlopen fails: a failed expansion), "forced" force-fails the expansion
# (what a dlfunc answering FAIL_FORCED, or an operator's macro, would do).
missing=$TB/missing/rcptguard.so
so_rule="\${if eq{\${substr_0_6:\$local_part}}{broken}{$missing}{\${if !eq{\$local_part}{forced}{$RG_SO}fail}}}"
# A later statement reads the yield: the user contract of $acl_m_rg.
cat >"$TB/rcpt-wrap.conf" <<EOF
.include $TB_SNIPPETS/rcptguard-rcpt.conf
  warn    logwrite      = rg-after <\$local_part@\$domain> \${extract{result}{\$acl_m_rg}} \${extract{source}{\$acl_m_rg}}
EOF
tb_front --panic-ok --rcpt-snippet "$TB/rcpt-wrap.conf" --main "RCPTGUARD_SO == $so_rule"

unknown="<REPLACE>: recipient unknown"
tempfail="<REPLACE>: cannot verify recipient now, please try again later"
local_problem="451 Temporary local problem - please try later"

# ---- one session: every kind of answer after every other
tb_mark
tb_rcpts user1@example.org broken1@example.org nobody@example.org broken2@example.org \
	forced@example.org user2@tempfail.test ghost@example.org user2@example.org \
	user3@tempfail.test user3@example.org >/dev/null
assert_match '^250 ' "$(tb_reply_of user1@example.org)" "pass: 250"
assert_eq "$local_problem" "$(tb_reply_of broken1@example.org)" \
	"module cannot be loaded, after a pass: 451 Temporary local problem (not 250 on the earlier verdict)"
assert_eq "550 ${unknown/<REPLACE>/<nobody@example.org>}" "$(tb_reply_of nobody@example.org)" \
	"fail after a pass (and after a load failure): 550 with the module's message"
assert_eq "$local_problem" "$(tb_reply_of broken2@example.org)" \
	"module cannot be loaded, after a fail: 451 (not 550 on the earlier verdict)"
assert_eq "$local_problem" "$(tb_reply_of forced@example.org)" \
	"forced expansion failure after a load failure: 451 from the placeholder (never an earlier verdict)"
assert_eq "451 ${tempfail/<REPLACE>/<user2@tempfail.test>}" "$(tb_reply_of user2@tempfail.test)" \
	"defer after a fail: 451 with the module's message (never a 5xx)"
assert_eq "550 ${unknown/<REPLACE>/<ghost@example.org>}" "$(tb_reply_of ghost@example.org)" "fail after a defer: 550"
assert_match '^250 ' "$(tb_reply_of user2@example.org)" "pass after a fail: 250"
assert_eq "451 ${tempfail/<REPLACE>/<user3@tempfail.test>}" "$(tb_reply_of user3@tempfail.test)" "defer after a pass: 451"
assert_match '^250 ' "$(tb_reply_of user3@example.org)" "pass after a defer: 250"
assert_log 'rg-after <user1@example\.org> pass callout$' "\$acl_m_rg holds the yield for later statements (pass, source=callout)"
assert_log 'rg-after <user2@example\.org> pass (callout|cache)$' "\$acl_m_rg holds this recipient's yield after a fail"
assert_no_log 'rg-after <(nobody|ghost|broken[12]|forced)@|rg-after <user[23]@tempfail' \
	"no refused recipient reached the statements after the snippet"
assert_log 'temporarily rejected RCPT <broken1@example\.org>: failed to expand ACL string .*dlopen' \
	"main log: the load failure is Exim's own 'temporarily rejected RCPT ... dlopen' line"
assert_log 'temporarily rejected RCPT <forced@example\.org>' "main log: the forced failure's recipient temporarily rejected"

# ---- exim -bh, a domain the snippet does not verify, after a fail and after a defer
# The front's config with a Debian-like "require domains = +local_domains : +relay_to_domains":
# local.example reaches the snippet's place without being one of its domains.
FRONT_CONF_A=$FRONT_CONF
sed 's/^          domains = +relay_to_domains$/          domains = +relay_to_domains : local.example/' \
	"$FRONT_CONF_A" >"$TB/front-local.conf"
chmod 0644 "$TB/front-local.conf"
assert_eq 1 "$(grep -c 'relay_to_domains : local\.example' "$TB/front-local.conf")" "test config: local.example passes the relay check"
FRONT_CONF=$TB/front-local.conf
tb_front_bh 192.0.2.1 --to nobody@example.org,someone@local.example,user2@tempfail.test,other@local.example,user1@example.org
replies=$(tb_rcpt_parse "$TB_SWAKS_OUT")
assert_match $'^nobody@example\\.org\t550 <nobody@example\\.org>: recipient unknown' "$replies" "exim -bh: fail 550"
assert_match $'^someone@local\\.example\t250 ' "$replies" "exim -bh: another domain after a fail: 250 (the stale fail is not applied)"
assert_match $'^user2@tempfail\\.test\t451 <user2@tempfail\\.test>: cannot verify' "$replies" "exim -bh: defer 451"
assert_match $'^other@local\\.example\t250 ' "$replies" "exim -bh: another domain after a defer: 250 (the stale defer is not applied)"
assert_match $'^user1@example\\.org\t250 ' "$replies" "exim -bh: pass 250"
assert_no_match 'verify_recipient <(someone|other)@local\.example>' "$(cat "$TB_BH_ERR")" \
	"exim -bh: rcptguard is not asked about the other domain"
FRONT_CONF=$FRONT_CONF_A

# ---- a module that cannot be loaded at all: 451 for every recipient, never 250, never 5xx
FRONT_PID_A=$FRONT_PID
FRONT_PID=
# (a file that is not a shared object: dlopen fails in the daemon's preload and in every
# session, as for a missing file; a missing one would only add the test bed's warning)
echo "not a module" >"$TB/broken.so"
tb_front --name front-missing --panic-ok --so "$TB/broken.so"
tb_rcpts user1@example.org nobody@example.org user2@tempfail.test user2@example.org >/dev/null
for a in user1@example.org nobody@example.org user2@tempfail.test user2@example.org; do
	assert_eq "$local_problem" "$(tb_reply_of "$a")" "module missing: $a gets 451 Temporary local problem"
done
tb_front_stop
FRONT_PID=$FRONT_PID_A
