# nsd.sh - a throwaway authoritative DNS server (nsd) for tests and benchmarks.
#
# Sourced after tests/lib/testbed.sh (it uses $TB, tb_track, tb_free_ports, diag, bail):
#
#     . "$(dirname "$0")/../lib/nsd.sh"
#     nsd_zone fcrdns.test <<EOF
#     good   A    127.0.2.1
#     EOF
#     nsd_zone 2.0.127.in-addr.arpa <<EOF
#     1      PTR  good.fcrdns.test.
#     EOF
#     nsd_start                      # sets NSD_PORT; "dns_forward = 127.0.0.1@$NSD_PORT"
#
# nsd_zone [--ttl SECONDS] [--neg-ttl SECONDS] NAME: the zone's records from stdin
#   (relative or absolute names), after an SOA (negative TTL --neg-ttl, default 300) and an
#   NS record that nsd_zone adds; records without a TTL get --ttl (default 3600). Call
#   before nsd_start (or nsd_restart).
# nsd_start [PORT]: start nsd on 127.0.0.1:PORT (default: a port picked at run time; the
#   benchmark passes 53 inside its own network namespace); waits until it answers; stops
#   at exit (tb_track). Sets NSD_PORT, NSD_DIR.
# nsd_stop, nsd_restart: stop it; stop it and start it again with the zones as they are.
# nsd_blackhole: a UDP and TCP socket on 127.0.0.1 that reads queries and never answers
#   (a dead DNS server); sets BLACKHOLE_PORT.

NSD_DIR=${NSD_DIR:-$TB/nsd}
NSD_PORT=
NSD_PID=
NSD_ZONES=()
BLACKHOLE_PORT=

nsd_zone() {
	local ttl=3600 neg_ttl=300 zone
	tb_no_knobs nsd_zone NSD_TTL:--ttl NSD_NEG_TTL:--neg-ttl
	while [ $# -gt 0 ]; do
		case $1 in
		--ttl | --neg-ttl)
			tb_need_value nsd_zone "$1" $#
			if [ "$1" = --ttl ]; then ttl=$2; else neg_ttl=$2; fi
			shift 2 ;;
		--*) tb_usage_error nsd_zone "unknown option '$1'" ;;
		*) break ;;
		esac
	done
	[ $# -eq 1 ] || tb_usage_error nsd_zone "one zone name expected, got: $*"
	zone=$1
	mkdir -p "$NSD_DIR"
	{
		echo "\$ORIGIN $zone."
		echo "\$TTL $ttl"
		echo "@ IN SOA ns.$zone. hostmaster.$zone. ( 1 3600 600 86400 $neg_ttl )"
		echo "@ IN NS ns.$zone."
		cat
	} >"$NSD_DIR/$zone.zone"
	case " ${NSD_ZONES[*]} " in *" $zone "*) ;; *) NSD_ZONES+=("$zone") ;; esac
	if ! nsd-checkzone "$zone" "$NSD_DIR/$zone.zone" >"$NSD_DIR/check.out" 2>&1; then
		diag "$(cat "$NSD_DIR/check.out")"
		bail "nsd zone $zone is valid"
	fi
}

# _nsd_conf PORT: the server's configuration.
_nsd_conf() {
	local z
	cat <<EOF
server:
	port: $1
	ip-address: 127.0.0.1
	username: ""
	chroot: ""
	database: ""
	zonesdir: "$NSD_DIR"
	pidfile: "$NSD_DIR/nsd.pid"
	logfile: "$NSD_DIR/nsd.log"
	xfrdfile: "$NSD_DIR/xfrd.state"
	xfrdir: "$NSD_DIR"
	zonelistfile: "$NSD_DIR/zone.list"
	server-count: 1
	verbosity: 1
	hide-version: yes
remote-control:
	control-enable: no
EOF
	for z in "${NSD_ZONES[@]}"; do
		printf 'zone:\n\tname: "%s"\n\tzonefile: "%s.zone"\n' "$z" "$z"
	done
}

# _nsd_answers PORT: whether nsd answers a query for the first zone's SOA.
_nsd_answers() {
	python3 - "$1" "${NSD_ZONES[0]}" <<'PY'
import socket, struct, sys
port, zone = int(sys.argv[1]), sys.argv[2]
q = struct.pack(">HHHHHH", 0x4242, 0, 1, 0, 0, 0)
for label in zone.split("."):
    q += bytes([len(label)]) + label.encode()
q += b"\0" + struct.pack(">HH", 6, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.2)
try:
    s.sendto(q, ("127.0.0.1", port))
    r = s.recv(512)
    sys.exit(0 if r[:2] == b"\x42\x42" and (r[3] & 0xf) == 0 else 1)
except OSError:
    sys.exit(1)
PY
}

nsd_start() {
	local port=${1:-} i
	command -v nsd >/dev/null || bail "nsd is missing (bash tests/deps.sh installs it)"
	[ ${#NSD_ZONES[@]} -gt 0 ] || bail "nsd_start: no zone (call nsd_zone first)"
	[ -n "$port" ] || read -r port <<<"$(tb_free_ports 1)"
	_nsd_conf "$port" >"$NSD_DIR/nsd.conf"
	if ! nsd-checkconf "$NSD_DIR/nsd.conf" >"$NSD_DIR/check.out" 2>&1; then
		diag "$(cat "$NSD_DIR/check.out")"
		bail "nsd configuration is valid"
	fi
	setsid nsd -d -c "$NSD_DIR/nsd.conf" </dev/null >"$NSD_DIR/nsd.out" 2>&1 &
	NSD_PID=$!
	tb_track "$NSD_PID"
	for i in $(seq 1 100); do
		_nsd_answers "$port" && break
		if ! kill -0 "$NSD_PID" 2>/dev/null || [ "$i" = 100 ]; then
			diag "$(cat "$NSD_DIR/nsd.out" "$NSD_DIR/nsd.log" 2>/dev/null | tail -n 15)"
			bail "nsd started on 127.0.0.1:$port"
		fi
		sleep 0.05
	done
	NSD_PORT=$port
}

nsd_stop() {
	[ -n "$NSD_PID" ] && tb_stop "$NSD_PID"
	NSD_PID=
}

nsd_restart() {
	local port=$NSD_PORT
	nsd_stop
	nsd_start "$port"
}

nsd_blackhole() {
	local pf=$TB/blackhole.port pid i
	: >"$pf"
	setsid python3 - "$pf" >"$TB/blackhole.out" 2>&1 <<'PY' &
import socket, sys, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0))
port = u.getsockname()[1]
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("127.0.0.1", port))
t.listen(16)
t.setblocking(False)
open(sys.argv[1], "w").write("%d\n" % port)
held = []
while True:                      # read every query, answer none
    try:
        u.settimeout(0.5)
        u.recv(4096)
    except OSError:
        pass
    try:
        held.append(t.accept()[0])
    except OSError:
        pass
PY
	pid=$!
	tb_track "$pid"
	for i in $(seq 1 100); do
		[ -s "$pf" ] && break
		sleep 0.05
	done
	BLACKHOLE_PORT=$(tr -dc 0-9 <"$pf")
	[ -n "$BLACKHOLE_PORT" ] || bail "the never-answering DNS socket started"
}
