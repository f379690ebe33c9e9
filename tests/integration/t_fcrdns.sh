#!/usr/bin/env bash
# t_fcrdns.sh - FCrDNS and dynamic-host detection against a real nsd on loopback, through
# a real Exim that loads the module via the shipped snippet (rcptguard-connect.conf) in
# its connect ACL, then in its RCPT ACL (authenticated clients spared); clients connect
# from chosen 127.0.2.N addresses with swaks. Every DNS query goes to the test's nsd (or
# to a socket that never answers): nothing leaves the machine.
. "$(dirname "$0")/../lib/testbed.sh"
. "$(dirname "$0")/../lib/nsd.sh"

MSG_NOPTR="Your IP address does not resolve to a hostname - no proper reverse mapping exists"
MSG_DYN="You are a dynamic host - please use your providers mailserver to send emails"
TIMEOUT_S=2

nsd_zone --ttl 3600 fcrdns.example <<'EOF'
good                      A     127.0.2.1
noaddr                    TXT   "a name without an address"
elsewhere                 A     127.0.2.99
dyn-127-0-2-5.pool        A     127.0.2.5
multi-a                   A     127.0.2.66
multi-b                   A     127.0.2.6
alias                     CNAME target
target                    A     127.0.2.7
static-127-0-2-8.dsl      A     127.0.2.8
short           120       A     127.0.2.10
v6good                    AAAA  ::1
EOF
nsd_zone 2.0.127.in-addr.arpa <<'EOF'
1      PTR  good.fcrdns.example.
3      PTR  noaddr.fcrdns.example.
4      PTR  elsewhere.fcrdns.example.
5      PTR  dyn-127-0-2-5.pool.fcrdns.example.
6      PTR  multi-a.fcrdns.example.
6      PTR  multi-b.fcrdns.example.
7      PTR  alias.fcrdns.example.
8      PTR  static-127-0-2-8.dsl.fcrdns.example.
10     PTR  short.fcrdns.example.
EOF
nsd_zone 1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa <<'EOF'
@      PTR  v6good.fcrdns.example.
EOF
nsd_start
nsd_blackhole
tb_backend
diag "nsd on 127.0.0.1:$NSD_PORT, never-answering socket on 127.0.0.1:$BLACKHOLE_PORT"

# Scenario zone for a server that never answers: only through dns_config (a forward-zone
# of its own), every other name still goes to nsd.
cat >"$TB/unbound.conf" <<EOF
server:
	do-not-query-localhost: no
	local-zone: "127.in-addr.arpa." transparent
forward-zone:
	name: "9.2.0.127.in-addr.arpa."
	forward-addr: 127.0.0.1@$BLACKHOLE_PORT
forward-zone:
	name: "."
	forward-addr: 127.0.0.1@$NSD_PORT
EOF
chmod 0644 "$TB/unbound.conf"

# FC_LOG_CACHED: the log_cached line (these checks read verdicts from the cache in the log).
FC_LOG_CACHED="log_cached = yes"
conf_forward() {
	tb_conf <<EOF
dns_forward = 127.0.0.1@$NSD_PORT
dns_timeout = ${TIMEOUT_S}s
$FC_LOG_CACHED
$*
$(tb_std_domains)
EOF
}
conf_forward

# banner IP [SWAKS_ARGS]: the front's first reply line ("CODE TEXT") to a client at IP.
banner() {
	local ip=$1
	shift
	tb_swaks --local-interface "$ip" --to user1@example.org --quit-after CONNECT "$@"
	# The first reply, continuation lines joined (Exim wraps long messages at a space).
	awk '/^<(\*\*|-) +[0-9][0-9][0-9][- ]/ { sub(/^<(\*\*|-) +/, ""); t = t == "" ? substr($0, 1, 3) " " substr($0, 5) : t " " substr($0, 5)
	     if (substr($0, 4, 1) == " ") { print t; exit } }' "$TB_SWAKS_OUT"
}
# log_of IP: the last fcrdns log line of IP since the mark.
log_of() {
	tb_front_log | grep -F "rcptguard: fcrdns [$1] " | tail -n 1
}
ms_of() {
	log_of "$1" | sed -n 's/.* ms=\([0-9][0-9]*\)$/\1/p'
}

# ---------------------------------------------------------------- connect ACL placement

tb_front --main "acl_smtp_connect = acl_check_connect" \
	--acls $'acl_check_connect:\n.include '"$TB_SNIPPETS"$'/rcptguard-connect.conf\n  accept'

tb_mark
assert_match '^220 ' "$(banner 127.0.2.1)" "proper host (PTR good.fcrdns.example, A back to it): 220 banner"
assert_match 'result=pass source=dns hostname=good\.fcrdns\.example ttl=3600' "$(log_of 127.0.2.1)" \
	"log: pass source=dns hostname=good.fcrdns.example, cached for the DNS TTL (3600)"

r=$(banner 127.0.2.2)
assert_eq "550 $MSG_NOPTR" "$r" "no PTR (NXDOMAIN): 550 and the operators' no-reverse-mapping text"
assert_match 'result=fail source=dns reason=noptr .*detail=NXDOMAIN' "$(log_of 127.0.2.2)" "log: fail reason=noptr (NXDOMAIN)"

r=$(banner 127.0.2.3)
assert_eq "550 $MSG_NOPTR" "$r" "PTR name without an address: 550, same text"
assert_match 'result=fail source=dns reason=mismatch ptr=noaddr\.fcrdns\.example' "$(log_of 127.0.2.3)" "log: reason=mismatch ptr=noaddr.fcrdns.example"

r=$(banner 127.0.2.4)
assert_eq "550 $MSG_NOPTR" "$r" "PTR name pointing elsewhere: 550, same text"
assert_match 'reason=mismatch ptr=elsewhere\.fcrdns\.example' "$(log_of 127.0.2.4)" "log: reason=mismatch ptr=elsewhere.fcrdns.example"

r=$(banner 127.0.2.5)
assert_eq "550 $MSG_DYN" "$r" "confirmed dynamic-looking name: 550 and the dynamic-host text"
assert_match 'result=fail source=dns reason=dynamic hostname=dyn-127-0-2-5\.pool\.fcrdns\.example' "$(log_of 127.0.2.5)" \
	"log: reason=dynamic hostname=dyn-127-0-2-5.pool.fcrdns.example"

assert_match '^220 ' "$(banner 127.0.2.6)" "two PTRs, the second one confirmed: 220"
assert_match 'result=pass .*hostname=multi-b\.fcrdns\.example' "$(log_of 127.0.2.6)" "log: the confirmed one of two names"
assert_match '^220 ' "$(banner 127.0.2.7)" "PTR name that is a CNAME to an A record of the address: 220"
assert_match '^220 ' "$(banner 127.0.2.8)" "IP-shaped name that says static: not dynamic, 220"

# TTLs bound the cache: short.fcrdns.example has an A TTL of 120 s (fcrdns_cache_ttl 1h).
assert_match '^220 ' "$(banner 127.0.2.10)" "proper host with a short TTL: 220"
assert_match 'result=pass source=dns .*ttl=120 ' "$(log_of 127.0.2.10)" "cached for the shortest TTL of the answers (120 s)"
neg=$(log_of 127.0.2.2 | sed -n 's/.* ttl=\([0-9]*\) .*/\1/p')
assert_num "${neg:-99999}" -le 300 "a negative answer is cached no longer than the zone's negative TTL (300 s)"

# ---- the cache: a second connection is served from the store, no DNS query
tb_mark
nsd_stop
assert_match '^220 ' "$(banner 127.0.2.1)" "second connection, nsd stopped: still 220 (from the store)"
assert_match 'result=pass source=cache hostname=good\.fcrdns\.example' "$(log_of 127.0.2.1)" "log: source=cache"
assert_eq "550 $MSG_NOPTR" "$(banner 127.0.2.4)" "cached mismatch: still 550"
assert_match 'result=fail source=cache reason=mismatch' "$(log_of 127.0.2.4)" "log: cached mismatch, source=cache"
out=$(tb_ctl fcrdns 127.0.2.1)
assert_match '^result=pass source=cache hostname=good\.fcrdns\.example ttl=[0-9]+' "$out" "rcptguardctl fcrdns: the record in the store"
# At the default log_cached = no, a verdict from the cache has no line of rcptguard's in
# the main log (a refusal is logged by Exim, with the snippet's log_message).
FC_LOG_CACHED= conf_forward
tb_mark
assert_match '^220 ' "$(banner 127.0.2.1)" "log_cached = no: cached pass still 220"
assert_eq "550 $MSG_NOPTR" "$(banner 127.0.2.4)" "log_cached = no: cached mismatch still 550"
assert_no_match 'rcptguard: fcrdns' "$(tb_front_log)" "log_cached = no: no rcptguard line for the two verdicts from the cache"
assert_match 'rejected connection in "connect" ACL: rcptguard fcrdns: mismatch' "$(tb_front_log | grep -F '[127.0.2.4]')" \
	"log_cached = no: Exim's own line for the refusal, with the reason"
conf_forward

# ---- DNS outage: nsd down -> uncached names defer (451), never 5xx
r=$(banner 127.0.2.11)
assert_match '^451 ' "$r" "DNS server down (nothing cached for the client): 451, never a 5xx"
assert_match 'result=defer reason=dnserror' "$(log_of 127.0.2.11)" "log: defer reason=dnserror"
ms=$(ms_of 127.0.2.11)
assert_num "${ms:-999999}" -le $((TIMEOUT_S * 1000 + 200)) "the outage costs at most dns_timeout ($TIMEOUT_S s, + 200 ms slack): ms=$ms"
nsd_start "$NSD_PORT"
tb_ctl fcrdns 127.0.2.11 >/dev/null
out=$(tb_ctl fcrdns 127.0.2.11)
assert_match '^result=fail source=cache reason=noptr' "$out" "the deferral was not cached: after the outage the real answer (noptr) is"

# ---- REFUSED (a zone nsd does not serve) is SERVFAIL to the resolver: defer
tb_mark
assert_match '^451 ' "$(banner 127.0.3.1)" "SERVFAIL/REFUSED for the reverse zone: 451"
assert_match 'result=defer reason=dnserror .*detail="PTR 1\.3\.0\.127\.in-addr\.arpa: rcode 2' "$(log_of 127.0.3.1)" \
	"log: defer dnserror, SERVFAIL named"

# ---- a zone whose server never answers (dns_config with a forward-zone to a dead socket)
tb_conf <<EOF
dns_config = $TB/unbound.conf
dns_timeout = ${TIMEOUT_S}s
EOF
tb_mark
r=$(banner 127.0.2.9)
assert_match '^451 ' "$r" "reverse zone served by a server that never answers: 451"
assert_match "^451 Cannot check the reverse DNS of your IP address now" "$r" "451 with the deferral text"
assert_match 'result=defer reason=dnserror .*detail="PTR 9\.2\.0\.127\.in-addr\.arpa: timeout"' "$(log_of 127.0.2.9)" "log: defer dnserror, timeout"
ms=$(ms_of 127.0.2.9)
assert_num "${ms:-999999}" -le $((TIMEOUT_S * 1000 + 200)) "within dns_timeout: ms=$ms"
assert_num "${ms:-0}" -ge $((TIMEOUT_S * 1000 - 50)) "it waited for the answer until the deadline (ms=$ms)"
assert_match '^220 ' "$(banner 127.0.2.7)" "dns_config: other names still resolved (through its forward-zone to nsd): 220"

# ---- dynamic_action = flag, and a patterns file
conf_forward "dynamic_action = flag"
tb_mark
assert_match '^220 ' "$(banner 127.0.2.5)" "dynamic_action = flag: the dynamic host is let in"
assert_match 'result=pass source=cache hostname=dyn-127-0-2-5\.pool\.fcrdns\.example dynamic=yes' "$(log_of 127.0.2.5)" \
	"log: pass dynamic=yes, from the cached name (the rule applies at once)"
cat >"$TB/dynamic.patterns" <<'EOF'
# test patterns
static  ^dyn-127-0-2-5\.pool\.fcrdns\.example$
dynamic ^good\.
EOF
chmod 0644 "$TB/dynamic.patterns"
conf_forward "dynamic_patterns = $TB/dynamic.patterns"
assert_match '^220 ' "$(banner 127.0.2.5)" "patterns file: a static line overrides the built-in rule"
assert_eq "550 $MSG_DYN" "$(banner 127.0.2.1)" "patterns file: a dynamic line marks another name"
assert_match "reason=dynamic .*detail=$TB/dynamic\.patterns:3" "$(log_of 127.0.2.1)" "log: the matching file:line"
printf 'dynamic (unclosed\n' >"$TB/dynamic.patterns"
tb_mark
assert_eq "451 Cannot check the reverse DNS of your IP address now, please try again later" "$(banner 127.0.2.1)" \
	"a broken patterns file: 451 with the deferral text, never 5xx"
assert_match "reason=config .*$TB/dynamic\.patterns:1: bad regular expression" "$(log_of 127.0.2.1)" "log: the error names file:line"
# Pathological patterns (glibc's regcomp took over 4 GB for "a" and 25 "+"; nested
# quantifiers backtrack exponentially): refused or stopped at PCRE2's limits, the Exim
# process answers at once with the deferral, the log names file:line.
printf 'static ^nothing$\ndynamic a+++++++++++++++++++++++++\n' >"$TB/dynamic.patterns"
tb_mark
assert_eq "451 Cannot check the reverse DNS of your IP address now, please try again later" "$(banner 127.0.2.1)" \
	"a pattern of 'a' and 25 '+': 451 at once, the session answers"
assert_match "reason=config .*$TB/dynamic\.patterns:2: bad regular expression: quantifier does not follow a repeatable item" \
	"$(log_of 127.0.2.1)" "log: the refused pattern names file:line and why"
printf 'static ^nothing$\ndynamic ^([a-z.]+)+\\d\n' >"$TB/dynamic.patterns"
tb_mark
assert_eq "451 Cannot check the reverse DNS of your IP address now, please try again later" "$(banner 127.0.2.1)" \
	"nested quantifiers: the match stops at its limit, 451"
assert_match "reason=config .*$TB/dynamic\.patterns:2: regular expression over its match limits" "$(log_of 127.0.2.1)" \
	"log: the runaway match names file:line"
assert_eq 0 "$(tb_front_log | grep -c 'SIGSEGV\|SIGKILL\|Out of memory')" "no Exim process died on the patterns"

# ---- RCPT ACL placement: authenticated clients and exempt relays are spared
conf_forward
tb_front --acls $'begin authenticators\nplain:\n  driver = plaintext\n  public_name = PLAIN\n  server_prompts = :\n  server_condition = ${if and{{eq{$auth2}{roamer}}{eq{$auth3}{secret}}}}\n  server_set_id = $auth2' \
	--rcpt-pre ".include $TB_SNIPPETS/rcptguard-connect.conf" \
	--main $'RCPTGUARD_FCRDNS_EXEMPT == <; 127.0.2.4\nauth_advertise_hosts = *'
tb_mark
r=$(tb_rcpt_reply user1@example.org --local-interface 127.0.2.2)
assert_eq "550 $MSG_NOPTR" "$r" "RCPT placement: no PTR: 550 with the text"
r=$(tb_rcpt_reply user1@example.org --local-interface 127.0.2.2 --auth PLAIN --auth-user roamer --auth-password secret)
assert_match '^250 ' "$r" "RCPT placement: the same client, authenticated: 250"
r=$(tb_rcpt_reply user1@example.org --local-interface 127.0.2.4)
assert_match '^250 ' "$r" "RCPT placement: an exempt relay (RCPTGUARD_FCRDNS_EXEMPT) with a mismatching PTR: 250"
r=$(tb_rcpt_reply user1@example.org --local-interface 127.0.2.1)
assert_match '^250 ' "$r" "RCPT placement: proper host: 250"

# ---- RCPT placement: a call that could not run is tried again at the next RCPT
# RCPTGUARD_SO per recipient, for the ACL only (the daemon's preload loads the real
# module): for the local part "broken" it names a missing file (dlopen fails), for
# "forced" the expansion is force-failed (the snippet's placeholder then answers 451).
# Only the connect snippet in this front's RCPT ACL (the recipient snippet would answer
# 451 to "forced" by itself).
so_rule="\${if eq{\$local_part}{broken}{$TB/missing/rcptguard.so}{\${if !eq{\$local_part}{forced}{$RG_SO}fail}}}"
: >"$TB/no-rcpt-snippet.conf"
tb_front --panic-ok --rcpt-pre ".include $TB_SNIPPETS/rcptguard-connect.conf" --rcpt-snippet "$TB/no-rcpt-snippet.conf" \
	--main "RCPTGUARD_SO == $so_rule"
tb_swaks --local-interface 127.0.2.2 --to broken@example.org,user1@example.org
tb_rcpt_parse "$TB_SWAKS_OUT" >"$TB/last_rcpts"
assert_eq "451 Temporary local problem - please try later" "$(tb_reply_of broken@example.org)" \
	"RCPT placement: the module cannot be loaded for the first RCPT: 451"
assert_eq "550 $MSG_NOPTR" "$(tb_reply_of user1@example.org)" "RCPT placement: the next RCPT calls it again: 550 (no PTR)"
tb_swaks --local-interface 127.0.2.2 --to forced@example.org,user2@example.org
tb_rcpt_parse "$TB_SWAKS_OUT" >"$TB/last_rcpts"
assert_match '^451 ' "$(tb_reply_of forced@example.org)" "RCPT placement: a forced failure of the call: 451 (the placeholder), never a pass"
assert_eq "550 $MSG_NOPTR" "$(tb_reply_of user2@example.org)" "RCPT placement: after a forced failure the next RCPT calls again: 550"

# ---- IPv6: ::1 through exim -bh and the CLI
tb_front_bh ::1 --to user1@example.org
assert_match '^<- +250 ' "$(grep -E '^<- +250 .*Accepted|^<[-*]+ +[0-9]{3} ' "$TB_SWAKS_OUT" | tail -n 2)" \
	"IPv6 client ::1 (PTR v6good.fcrdns.example, AAAA ::1): accepted (exim -bh)"
out=$(tb_ctl fcrdns ::1)
assert_match '^result=pass source=(dns|cache) hostname=v6good\.fcrdns\.example' "$out" "rcptguardctl fcrdns ::1: pass v6good.fcrdns.example"
out=$(tb_ctl fcrdns ::2)
assert_match '^result=defer reason=dnserror' "$out" "rcptguardctl fcrdns ::2 (reverse zone not served): defer"
assert_status 2 "rcptguardctl fcrdns: a deferral exits 2" -- tb_ctl fcrdns ::2
assert_status 1 "rcptguardctl fcrdns: a fail exits 1" -- tb_ctl fcrdns 127.0.2.2
assert_status 78 "rcptguardctl fcrdns: not an IP address exits 78" -- tb_ctl fcrdns not-an-ip
assert_match 'reason=syntax' "$TB_OUT" "not an IP address: reason=syntax"
out=$(tb_ctl --json fcrdns 127.0.2.1)
assert_match '^\{"result":"pass","source":"cache","hostname":"good\.fcrdns\.example"' "$out" "rcptguardctl --json fcrdns"

# ---- DNSSEC: a trust anchor for the reverse zone, which nsd serves unsigned -> bogus -> defer
printf '2.0.127.in-addr.arpa. DS 12345 13 2 %s\n' "$(printf 'x%.0s' {1..64} | tr x a)" >"$TB/anchor"
out=$(tb_ctl fcrdns 127.0.2.12 -o "dns_trust_anchor=$TB/anchor")
assert_match '^result=defer reason=dnserror .*DNSSEC bogus' "$out" "DNSSEC: a bogus answer (unsigned under a trust anchor) is a deferral, not a fail"
out=$(tb_ctl fcrdns 127.0.2.12)
assert_match '^result=fail source=dns reason=noptr' "$out" "without the anchor the same query is a plain noptr"

# ---- the lookup face (an Exim built with LOOKUP_MODULE_DIR, as in t_lookup): fcrdns IP
# shellcheck disable=SC2016
if envs=$("$TB_REPO/tests/lib/exim-src.sh" --quiet 2>"$TB/exim-src.err"); then
	eval "$envs"
	if out=$(make -C "$TB_REPO" --no-print-directory B="$TB_BUILD" lookups EXIM_SRC="$RG_EXIM_SRC" 2>&1); then
		tb_on_exit "rm -f '$RG_EXIM_LOOKUP_DIR/rcptguard.so' '$RG_EXIM_LOOKUP_DIR/librcptguard.so.0'"
		install -m 0755 "$TB_BUILD/shared/librcptguard.so.0" "$RG_EXIM_LOOKUP_DIR/librcptguard.so.0"
		install -m 0755 "$TB_BUILD/shared/lookups/rcptguard.so" "$RG_EXIM_LOOKUP_DIR/rcptguard.so"
		mkdir -p "$TB/lk/spool"
		printf 'keep_environment =\nspool_directory = %s\nlog_file_path = %s\n' "$TB/lk/spool" "$TB/lk/%slog" >"$TB/lk/exim.conf"
		chmod 0644 "$TB/lk/exim.conf"
		lk() { "$RG_EXIM_LOOKUP_BIN" -C "$TB/lk/exim.conf" -be "\${lookup rcptguard{fcrdns $1 config=$TB/rcptguard.conf}{\$value}{NOTFOUND}}" 2>"$TB/lk/err"; }
		assert_match '^result=pass source=cache hostname=good\.fcrdns\.example' "$(lk 127.0.2.1)" "lookup face: fcrdns 127.0.2.1 found, the yield line"
		assert_eq NOTFOUND "$(lk 127.0.2.5)" "lookup face: fcrdns of a dynamic host: not found"
		assert_match 'result=defer reason=dnserror' "$(lk 127.0.3.1; cat "$TB/lk/err")" "lookup face: a DNS failure defers (the expansion fails with the yield line)"
	else
		not ok "make lookups EXIM_SRC=$RG_EXIM_SRC"
		diag "$(printf '%s\n' "$out" | tail -n 10)"
	fi
else
	skip "lookup face: fcrdns IP" "no Exim with LOOKUP_MODULE_DIR: $(tail -n 1 "$TB/exim-src.err")"
fi
