# sshd.sh - a throwaway OpenSSH server on loopback, for tests that upload files by scp as a
# customer does. Source it after testbed.sh:
#
#     . "$(dirname "$0")/../lib/sshd.sh"
#     sshd_start                          # sets SSHD_PORT
#     sshd_scp ./local.list /srv/lists/example.org.list
#     sshd_ssh "mv /srv/lists/x.tmp /srv/lists/x"
#
# Everything lives in $TB/sshd: a host key and a user key made here (ed25519, no passphrase),
# an sshd_config of its own (127.0.0.1 only, a port the kernel picks, key login only, the
# sftp subsystem that scp uses by default since OpenSSH 9.0). The user key logs in as root
# (the test bed runs as root); nothing outside $TB is touched but /run/sshd, the
# privilege-separation folder sshd requires (created empty when missing). The daemon runs
# in the foreground in its own process group (tb_track): the EXIT trap stops it.

SSHD_DIR=
SSHD_PORT=
SSHD_BIN=${SSHD_BIN:-/usr/sbin/sshd}
SSHD_SFTP=${SSHD_SFTP:-/usr/lib/openssh/sftp-server}

# sshd_start: make the keys and the config, start sshd, wait until it listens.
sshd_start() {
	local pid
	for _sshd_tool in "$SSHD_BIN" ssh-keygen scp ssh; do
		command -v "$_sshd_tool" >/dev/null 2>&1 ||
			bail "$_sshd_tool is missing (bash tests/deps.sh installs openssh-server)"
	done
	[ -x "$SSHD_SFTP" ] || bail "$SSHD_SFTP is missing (openssh-sftp-server)"
	SSHD_DIR=$TB/sshd
	mkdir -p "$SSHD_DIR"
	chmod 0700 "$SSHD_DIR"
	mkdir -p /run/sshd
	ssh-keygen -q -t ed25519 -N '' -C "rcptguard-test-host" -f "$SSHD_DIR/host_key" ||
		bail "ssh-keygen (host key) failed"
	ssh-keygen -q -t ed25519 -N '' -C "rcptguard-test-user" -f "$SSHD_DIR/user_key" ||
		bail "ssh-keygen (user key) failed"
	cp "$SSHD_DIR/user_key.pub" "$SSHD_DIR/authorized_keys"
	chmod 0600 "$SSHD_DIR/authorized_keys"
	echo "[127.0.0.1]:PORT $(cat "$SSHD_DIR/host_key.pub")" >"$SSHD_DIR/known_hosts.in"
	read -r SSHD_PORT <<<"$(tb_free_ports 1)"
	sed -i "s/PORT/$SSHD_PORT/" "$SSHD_DIR/known_hosts.in"
	mv "$SSHD_DIR/known_hosts.in" "$SSHD_DIR/known_hosts"
	cat >"$SSHD_DIR/sshd_config" <<EOF
# throwaway sshd of $TB_NAME
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $SSHD_DIR/host_key
PidFile $SSHD_DIR/sshd.pid
AuthorizedKeysFile $SSHD_DIR/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# Why: the keys live under /tmp (world-writable), which StrictModes refuses.
StrictModes no
X11Forwarding no
AllowTcpForwarding no
PrintMotd no
Subsystem sftp $SSHD_SFTP
LogLevel VERBOSE
EOF
	"$SSHD_BIN" -t -f "$SSHD_DIR/sshd_config" >"$SSHD_DIR/check.out" 2>&1 ||
		bail "sshd -t: $(head -n 5 "$SSHD_DIR/check.out")"
	setsid "$SSHD_BIN" -D -e -f "$SSHD_DIR/sshd_config" >"$SSHD_DIR/sshd.log" 2>&1 &
	pid=$!
	tb_track "$pid"
	tb_wait_listen "$pid" 10 "$SSHD_PORT" || bail "sshd did not start: $(tail -n 5 "$SSHD_DIR/sshd.log")"
}

# Options every client here uses: our key, our known host, no prompts.
_sshd_opts() {
	printf '%s\n' -i "$SSHD_DIR/user_key" -o IdentitiesOnly=yes -o BatchMode=yes \
		-o StrictHostKeyChecking=yes -o UserKnownHostsFile="$SSHD_DIR/known_hosts" \
		-o GlobalKnownHostsFile=/dev/null -o ConnectTimeout=10
}

# sshd_scp [SCP_OPTIONS...] SRC DEST: upload SRC to DEST on the loopback sshd (SFTP
# protocol unless -O is given); returns scp's status, output in $SSHD_DIR/scp.out.
sshd_scp() {
	local n=$# src dest
	src=${*:n-1:1}
	dest=${*:n:1}
	mapfile -t _o < <(_sshd_opts)
	timeout 30 scp -q "${_o[@]}" -P "$SSHD_PORT" "${@:1:n-2}" "$src" "root@127.0.0.1:$dest" \
		>"$SSHD_DIR/scp.out" 2>&1
}

# sshd_ssh COMMAND: run COMMAND through the loopback sshd (as a customer's "mv" would).
sshd_ssh() {
	mapfile -t _o < <(_sshd_opts)
	timeout 30 ssh "${_o[@]}" -p "$SSHD_PORT" root@127.0.0.1 "$@" 2>>"$SSHD_DIR/ssh.err"
}
