# slapd.sh - a throwaway OpenLDAP server for tests and benchmarks (sourced after testbed.sh).
# shellcheck shell=bash
#
#     . "$(dirname "$0")/../lib/testbed.sh"
#     . "$(dirname "$0")/../lib/slapd.sh"
#     tb_slapd_start "$TB/people.ldif"      # extra entries under $SLAPD_BASE (optional)
#
# One mdb database with the suffix $SLAPD_BASE (dc=rcptguard,dc=test), schemas core cosine
# inetorgperson misc (misc gives mailLocalAddress, objectClass inetLocalMailRecipient), the
# entries ou=people and cn=reader (a bind identity whose password is in $SLAPD_PW_FILE,
# readable by Exim's user), listening on ldap://127.0.0.1:$SLAPD_PORT/ and on a ldapi://
# socket in the test folder. The server runs in its own process group, registered with
# the test bed (stopped at exit). Anonymous reads are allowed (slapd's default access).
#
# Variables set: SLAPD_DIR SLAPD_PORT SLAPD_URI SLAPD_LDAPI SLAPD_BASE SLAPD_BIND_DN
#                SLAPD_PW_FILE SLAPD_PID; with tb_slapd_tls also SLAPD_CA, SLAPD_LDAPS_PORT
#                and SLAPD_LDAPS (ldaps://127.0.0.1:PORT/)
# Functions:     tb_slapd_start [LDIF], tb_slapd_stop, tb_slapd_restart, tb_slapd_pause,
#                tb_slapd_resume, tb_slapd_person UID [MAIL [ALIAS...]] (LDIF on stdout),
#                tb_slapd_tls (before tb_slapd_start: a certificate for 127.0.0.1 from a
#                throwaway CA, offered through StartTLS and on an ldaps:// port)

SLAPD_BASE=dc=rcptguard,dc=test
SLAPD_BIND_DN=cn=reader,$SLAPD_BASE
SLAPD_DIR=$TB/slapd
SLAPD_PORT=
SLAPD_URI=
SLAPD_LDAPI=
SLAPD_PID=
SLAPD_CA=
SLAPD_LDAPS=
SLAPD_LDAPS_PORT=
SLAPD_PW_FILE=$SLAPD_DIR/reader.pw
_SLAPD_TLS=0

for _sl_tool in slapd slapadd; do
	command -v "$_sl_tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$_sl_tool" ] || {
		echo "Bail out! $TB_NAME: $_sl_tool is missing (bash tests/deps.sh installs slapd)"
		exit 2
	}
done

# tb_slapd_person UID [MAIL [ALIAS...]]: the LDIF of one mailbox entry under ou=people.
tb_slapd_person() {
	local uid=$1 mail=${2:-} a
	shift
	[ $# -gt 0 ] && shift
	printf 'dn: uid=%s,ou=people,%s\nobjectClass: inetOrgPerson\nobjectClass: inetLocalMailRecipient\n' "$uid" "$SLAPD_BASE"
	printf 'uid: %s\ncn: %s\nsn: %s\n' "$uid" "$uid" "$uid"
	[ -n "$mail" ] && printf 'mail: %s\n' "$mail"
	for a in "$@"; do
		printf 'mailLocalAddress: %s\n' "$a"
	done
	printf '\n'
}

# tb_slapd_tls: make a throwaway CA and a server certificate for 127.0.0.1 (openssl CLI);
# the next tb_slapd_start offers StartTLS with it. Sets SLAPD_CA (the CA file to trust).
tb_slapd_tls() {
	local d=$SLAPD_DIR/tls
	command -v openssl >/dev/null 2>&1 || bail "openssl is missing (bash tests/deps.sh installs it)"
	mkdir -p "$d"
	(
		cd "$d" || exit 1
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=rcptguard test CA" \
			-keyout ca.key -out ca.pem &&
		openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key -out server.csr &&
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >ext.cnf &&
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
			-extfile ext.cnf -out server.pem
	) >"$d/openssl.out" 2>&1 || { diag "$(cat "$d/openssl.out")"; bail "throwaway certificate made"; }
	chmod 0644 "$d/ca.pem"
	SLAPD_CA=$d/ca.pem
	_SLAPD_TLS=1
}

# _tb_slapd_config: the cn=config LDIF (database 1 = mdb in $SLAPD_DIR/db).
_tb_slapd_config() {
	local s
	cat <<EOF
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: $SLAPD_DIR/slapd.pid
EOF
	if [ "$_SLAPD_TLS" = 1 ]; then
		cat <<EOF
olcTLSCACertificateFile: $SLAPD_DIR/tls/ca.pem
olcTLSCertificateFile: $SLAPD_DIR/tls/server.pem
olcTLSCertificateKeyFile: $SLAPD_DIR/tls/server.key
EOF
	fi
	cat <<EOF

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

EOF
	for s in core cosine inetorgperson misc; do
		echo "include: file:///etc/ldap/schema/$s.ldif"
		echo
	done
	cat <<EOF
dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: $SLAPD_BASE
olcRootDN: cn=admin,$SLAPD_BASE
olcRootPW: admin-secret
olcDbDirectory: $SLAPD_DIR/db
olcDbMaxSize: 104857600
olcDbIndex: objectClass eq
olcDbIndex: mail,mailLocalAddress eq
olcAccess: {0}to attrs=userPassword by anonymous auth by * none
olcAccess: {1}to * by * read
EOF
}

# tb_slapd_start [LDIF]: build the databases (once) and start slapd; sets the variables.
tb_slapd_start() {
	local extra=${1:-} pw
	mkdir -p "$SLAPD_DIR/db" "$SLAPD_DIR/slapd.d"
	chmod 0755 "$SLAPD_DIR"
	if [ ! -s "$SLAPD_DIR/db/data.mdb" ]; then
		_tb_slapd_config >"$SLAPD_DIR/config.ldif"
		slapadd -n0 -F "$SLAPD_DIR/slapd.d" -l "$SLAPD_DIR/config.ldif" >"$SLAPD_DIR/slapadd.out" 2>&1 ||
			{ diag "$(cat "$SLAPD_DIR/slapadd.out")"; bail "slapd configuration loaded (slapadd -n0)"; }
		pw=reader-$RANDOM$RANDOM
		# Why printf and no newline handling here: the source strips one trailing newline.
		printf '%s\n' "$pw" >"$SLAPD_PW_FILE"
		chown "$TB_EXIM_USER" "$SLAPD_PW_FILE" 2>/dev/null
		chmod 0400 "$SLAPD_PW_FILE"
		{
			printf 'dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: rcptguard\no: rcptguard tests\n\n' "$SLAPD_BASE"
			printf 'dn: ou=people,%s\nobjectClass: organizationalUnit\nou: people\n\n' "$SLAPD_BASE"
			printf 'dn: %s\nobjectClass: person\nobjectClass: simpleSecurityObject\ncn: reader\nsn: reader\nuserPassword: %s\n\n' \
				"$SLAPD_BIND_DN" "$pw"
			[ -n "$extra" ] && cat "$extra"
		} >"$SLAPD_DIR/data.ldif"
		slapadd -n1 -F "$SLAPD_DIR/slapd.d" -l "$SLAPD_DIR/data.ldif" >"$SLAPD_DIR/slapadd.out" 2>&1 ||
			{ diag "$(cat "$SLAPD_DIR/slapadd.out")"; bail "slapd data loaded (slapadd -n1)"; }
	fi
	[ -n "$SLAPD_PORT" ] || read -r SLAPD_PORT <<<"$(tb_free_ports 1)"
	SLAPD_URI=ldap://127.0.0.1:$SLAPD_PORT/
	SLAPD_LDAPI=ldapi://$(printf '%s' "$SLAPD_DIR/ldapi" | sed 's|/|%2F|g')/
	if [ "$_SLAPD_TLS" = 1 ]; then
		[ -n "$SLAPD_LDAPS_PORT" ] || read -r SLAPD_LDAPS_PORT <<<"$(tb_free_ports 1)"
		SLAPD_LDAPS=ldaps://127.0.0.1:$SLAPD_LDAPS_PORT/
	fi
	_tb_slapd_run
}

# _tb_slapd_run: start slapd on the set port and socket; wait until it listens.
_tb_slapd_run() {
	rm -f "$SLAPD_DIR/ldapi"
	setsid slapd -F "$SLAPD_DIR/slapd.d" -h "$SLAPD_URI $SLAPD_LDAPI${SLAPD_LDAPS:+ $SLAPD_LDAPS}" -d 0 \
		</dev/null >"$SLAPD_DIR/slapd.out" 2>&1 &
	SLAPD_PID=$!
	tb_track "$SLAPD_PID"
	# shellcheck disable=SC2086
	if ! tb_wait_listen "$SLAPD_PID" 5 "$SLAPD_PORT" $SLAPD_LDAPS_PORT; then
		diag "$(tail -n 20 "$SLAPD_DIR/slapd.out")"
		bail "slapd started on port $SLAPD_PORT"
	fi
	# The ldapi socket: Exim's processes (Debian-exim) connect to it too.
	chmod 0777 "$SLAPD_DIR/ldapi" 2>/dev/null
}

# tb_slapd_stop: stop slapd (the data stay; tb_slapd_restart brings it back on the same port).
tb_slapd_stop() {
	# Why CONT first: a paused slapd would not see the TERM until killed.
	[ -n "$SLAPD_PID" ] && kill -CONT "$SLAPD_PID" 2>/dev/null
	[ -n "$SLAPD_PID" ] && tb_stop "$SLAPD_PID"
	SLAPD_PID=
}

# tb_slapd_restart: start the stopped slapd again, same port, same data.
tb_slapd_restart() {
	tb_slapd_stop
	_tb_slapd_run
}

# tb_slapd_pause / tb_slapd_resume: SIGSTOP / SIGCONT (a server that accepts and never answers).
tb_slapd_pause() {
	kill -STOP "$SLAPD_PID"
}
tb_slapd_resume() {
	kill -CONT "$SLAPD_PID"
}
