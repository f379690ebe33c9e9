# testbed.sh - the integration test bed: throwaway Exims, simulators and TAP assertions.
#
# Sourced by every tests/integration/t_*.sh (as root), by tests/bench/*.sh and the demo:
#
#     . "$(dirname "$0")/../lib/testbed.sh"
#     tb_backend; tb_conf <<EOF ... EOF; tb_front
#     assert_match '^250 ' "$(tb_rcpt_reply user1@example.org)" "known user accepted"
#
# This file only sets the shared paths and loads the parts, one concern each:
#   tb_assert.sh   TAP output: ok, not ok, skip, diag, bail, assert_eq, assert_ne,
#                  assert_match, assert_no_match, assert_num, assert_status, assert_log,
#                  assert_no_log, assert_connections
#   tb_proc.sh     the folder $TB, ports, processes, exit trap: tb_setup, tb_track,
#                  tb_on_exit, tb_stop, tb_free_ports, tb_listening, tb_wait_listen,
#                  tb_now_ms, tb_watch_paniclog DIR [--panic-ok], tb_mount_tmpfs DIR SIZE,
#                  tb_usage_error FUNC TEXT, tb_need_value FUNC OPTION NARGS,
#                  tb_no_knobs FUNC VAR:OPTION... (for the option parsers of the test bed
#                  and tests/lib/*.sh)
#   tb_exim.sh     Exims: tb_backend [NAME], tb_backend_log, tb_backend_mark,
#                  tb_backend_wait REGEX N [SECONDS], tb_backend_connections PORT,
#                  tb_front [OPTIONS] (--main, --rcpt-pre, --mail-acl, --acls, --domains,
#                  --rcpt-snippet, --quit-snippet, --no-quit-acl, --name, --exim, --so,
#                  --rg-conf, --panic-ok), tb_front_stop, tb_front_log, tb_front_mark,
#                  tb_mark, tb_front_children, tb_front_bh [--debug FLAGS] IP [SWAKS_ARGS],
#                  tb_log_ms ADDRESS; for a script's own Exim: tb_exim_dir, tb_exim_common,
#                  tb_exim_check, tb_exim_start
#   tb_conf.sh     tb_conf [--state-dir DIR] <<EOF, tb_std_domains
#   tb_smtp.sh     tb_swaks ARGS, tb_rcpt_parse FILE, tb_rcpt_reply ADDRESS [SWAKS_ARGS],
#                  tb_rcpts ADDRESS..., tb_reply_of ADDRESS, tb_smtpsim MODE [ARGS]
#   tb_ctl.sh      tb_ctl ARGS, tb_cache_json [DOMAIN], tb_cache_record KEY,
#                  tb_cache_count [FILTER [DOMAIN]], tb_yield_get KEY LINE
# Each function is documented where it is defined. Functions take options, never
# environment variables; an unknown option stops the script (tb_usage_error).
#
# Output is TAP-like: one "ok N - desc" / "not ok N - desc" line per assertion, "#" lines
# for diagnostics; tests/run.sh counts them. A script exits 0 only when nothing failed.
# An assertion made inside $(...) prints its line (the runner counts it) but does not
# reach this script's own summary: make assertions in the script itself.
#
# Variables set for the tests:
#   TB                      the throwaway folder (removed at exit unless RG_KEEP=1)
#   RG_SO RG_CTL            build/rcptguard.so, build/rcptguardctl (absolute)
#   TB_EXIM TB_EXIM_USER    the Exim binary, the user its daemons drop to
#   TB_SNIPPETS             acl-snippets/ (absolute)
#   TB_DOMAINS              the front's default relay domains
#   BE_USERS BE_CATCHALL BE_TEMPFAIL BE_AFTERDATA BE_DEAD   back-end ports (tb_backend)
#   FRONT_PORT FRONT_LOG FRONT_CONF FRONT_PID   the front (gateway) Exim (tb_front)
#   SIM_PORT                the last smtpsim's port (tb_smtpsim)
#   TB_SWAKS_OUT            transcript of the last tb_swaks (not across $(...))
#   TB_OUT                  output of the last assert_status command
#
# The environment of the whole run (as tests/run.sh passes it on): RG_BUILD (default
# build/), RG_KEEP=1, TB_EXIM (default /usr/sbin/exim4, e.g. an ASan wrapper),
# TB_EXIM_USER (default Debian-exim).
# shellcheck shell=bash

set -uo pipefail

TB_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TB_BUILD=${RG_BUILD:-$TB_REPO/build}
RG_SO=$TB_BUILD/rcptguard.so
RG_CTL=$TB_BUILD/rcptguardctl
TB_EXIM=${TB_EXIM:-/usr/sbin/exim4}
TB_EXIM_USER=${TB_EXIM_USER:-Debian-exim}
TB_SNIPPETS=$TB_REPO/acl-snippets
TB_SIM=$TB_REPO/tests/tools/smtpsim.py
TB_NAME=$(basename "$0" .sh)
# Domains the front relays to by default (the tests give each its destination in
# rcptguard.conf); tb_front --domains sets others.
TB_DOMAINS='example.org : example.com : *.test'
# Time limit of one swaks session (a test that hangs must not hang the suite).
TB_SWAKS_TIMEOUT=60

TB_N=0
TB_PASS=0
TB_FAIL=0
TB_PANIC_DIRS=
TB_PANIC_OK_DIRS=
FRONT_PORT=
FRONT_PID=
FRONT_LOG=
FRONT_CONF=
FRONT_EXIM=
BE_PID=
SIM_PORT=
TB_SWAKS_OUT=

for _tb_part in tb_assert tb_proc tb_exim tb_conf tb_smtp tb_ctl; do
	# shellcheck source=/dev/null
	. "$TB_REPO/tests/lib/$_tb_part.sh"
done
unset _tb_part
tb_setup
