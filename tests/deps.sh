#!/usr/bin/env bash
# deps.sh - install the Debian packages the build, the demo and the tests need, if missing.
# Never installs postfix (it would remove Exim). Safe to run again: a no-op when all is there.
set -euo pipefail
# One package a line (merges stay simple); .ci/run installs exactly this list too.
pkgs=(
	build-essential pkg-config make
	liblmdb-dev lmdb-utils              # the store; mdb_stat for the tests
	libcmocka-dev                       # unit tests
	libunbound-dev libldap2-dev libcdb-dev
	libhiredis-dev redis-server         # the shared store and a real server for its tests
	libmicrohttpd-dev libgnutls28-dev   # rcptguard-admin
	libjansson-dev                      # rcptguard-admin: JSON in and out
	nettle-dev                          # HMAC-SHA256: the stable catch-all probe address
	libpcre2-dev libdb-dev              # dynamic patterns; Exim source builds (lookup face)
	exim4-daemon-heavy exim4-dev        # Exim with Expand_dlfunc; local_scan.h
	swaks python3 curl                  # SMTP and HTTP clients
	jq                                  # JSON in the admin tests
	procps iproute2 psmisc util-linux coreutils xz-utils
	slapd ldap-utils nsd postgrey
	openssh-server openssh-client openssl
	chromium chromium-driver python3-selenium   # the admin web page in a real browser
	dpkg-dev debhelper fakeroot lintian          # the Debian package
	clang libclang-rt-14-dev                     # make fuzz: libFuzzer (tests/fuzz)
)
missing=()
for p in "${pkgs[@]}"; do
	grep -q "install ok installed" <<<"$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	# Why a policy-rc.d: the package would start a system Exim on port 25 otherwise.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	# Why the preseed: slapd would otherwise build a default database of its own.
	echo "slapd slapd/no_configuration boolean true" | debconf-set-selections 2>/dev/null || true
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		-o DPkg::Lock::Timeout=600 "${missing[@]}"
fi
# The daemon-light package has no ${dlfunc}: the module cannot load there.
if ! grep -q Expand_dlfunc <<<"$(exim4 -bV 2>/dev/null)"; then
	echo "deps: this Exim lacks Expand_dlfunc; install exim4-daemon-heavy" >&2
	exit 1
fi
