# admin.sh - rcptguard-admin in the test bed (sourced after testbed.sh).
#
#   adm_conf_lines        admin_* lines for tb_conf (picks ADM_PORT; tokens file $TB/admin-tokens)
#   adm_token SCOPE NAME  a new token (printed), added to the tokens file
#   adm_start             rcptguard-admin serve as Debian-exim (as systemd runs it); ADM_URL, ADM_LOG
#   adm TOKEN METHOD PATH [CURL_ARGS...]   one request; body in $ADM_BODY, status in $ADM_STATUS,
#                         response headers in $ADM_HEADERS
#   adm_json FILTER       a jq filter over the last body; prints the result
#
# RG_ADMIN: build/rcptguard-admin.

RG_ADMIN=$TB_BUILD/rcptguard-admin
ADM_LOG=$TB/admin.log
ADM_TOKENS=$TB/admin-tokens
ADM_PID=
ADM_CONF=${ADM_CONF:-$TB/rcptguard.conf}     # the config the daemon and the token verbs read
# Chosen here, not in adm_conf_lines: that one runs inside $(...) in a tb_conf heredoc.
read -r ADM_PORT <<<"$(tb_free_ports 1)"

# adm_conf_lines: the admin_* keys, for the global part of tb_conf.
adm_conf_lines() {
	cat <<EOF
admin_listen = 127.0.0.1:$ADM_PORT
admin_tokens = $ADM_TOKENS
admin_metrics_from = 127.0.0.9/32
EOF
}

# adm_token SCOPE NAME: print a new token; the file stays readable by the daemon's user only.
adm_token() {
	local t
	t=$("$RG_ADMIN" -c "$ADM_CONF" token add "$1" "$2" 2>>"$TB/admin-token.err") || return 1
	chown "root:$TB_EXIM_USER" "$ADM_TOKENS"
	chmod 0640 "$ADM_TOKENS"
	printf '%s\n' "$t"
}

# adm_start: start the daemon as Debian-exim (it must read and write what Exim does) and
# wait until it listens. ADM_URL is its base URL.
adm_start() {
	[ -x "$RG_ADMIN" ] || bail "$RG_ADMIN exists (run make)"
	: >"$ADM_LOG"
	chown "$TB_EXIM_USER" "$ADM_LOG"
	setsid setpriv --reuid "$TB_EXIM_USER" --regid "$TB_EXIM_USER" --init-groups \
		"$RG_ADMIN" -c "$ADM_CONF" serve </dev/null >>"$ADM_LOG" 2>&1 &
	ADM_PID=$!
	tb_track "$ADM_PID"
	if ! tb_wait_listen "$ADM_PID" 5 "$ADM_PORT"; then
		diag "$(tail -n 20 "$ADM_LOG")"
		bail "rcptguard-admin started"
	fi
	ADM_URL=http://127.0.0.1:$ADM_PORT
}

# adm TOKEN METHOD PATH [CURL_ARGS...]: one request ("" TOKEN: none).
adm() {
	local tok=$1 method=$2 path=$3 out hdr
	shift 3
	out=$(mktemp "$TB/adm.XXXXXX")
	hdr=$out.h
	local auth=()
	[ -n "$tok" ] && auth=(-H "Authorization: Bearer $tok")
	ADM_STATUS=$(curl -s -m 60 -o "$out" -D "$hdr" -w '%{http_code}' -X "$method" "${auth[@]}" "$@" \
		"${ADM_URL}$path")
	ADM_BODY=$(cat "$out")
	ADM_HEADERS=$(cat "$hdr" 2>/dev/null)
	rm -f "$out" "$hdr"
}

# adm_json FILTER: a jq filter over the last body (raw output); "ERROR: ..." when not JSON.
# Why jq: it starts in milliseconds where python3 takes seconds on a loaded machine.
adm_json() {
	jq -r "$1" <<<"$ADM_BODY" 2>/dev/null || echo "ERROR: not JSON or filter failed: ${ADM_BODY:0:200}"
}

# adm_metric NAME_WITH_LABELS: the value of one Prometheus sample (operator token in ADM_OP).
adm_metric() {
	curl -s -m 10 -H "Authorization: Bearer $ADM_OP" "$ADM_URL/metrics" |
		awk -v k="$1" '$1 == k { print $2; found = 1 } END { if (!found) print -1 }'
}
