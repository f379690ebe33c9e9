#!/bin/bash
# exim-src.sh - an Exim built from source with LOOKUP_MODULE_DIR, for testing the rcptguard
# lookup driver (Debian's own Exim cannot load lookup modules) and other Exim releases
# (Debian 12's 4.96, Debian 13's 4.98.2).
#
# Usage (as root, on Debian 12):
#
#     tests/lib/exim-src.sh [--release R] [--rebuild] [--verify] [--quiet]   prints VAR=value lines:
#     eval "$(tests/lib/exim-src.sh)"                           ... for a shell to use
#     . tests/lib/exim-src.sh                                   exports them (returns 1 on failure)
#
#   --release R  upstream Exim release to build: 4.96 or 4.98.2 (sourced: RG_EXIM_SRC_RELEASE=R);
#               default: the release of the installed Exim (4.96 on Debian 12)
#   --rebuild   build again even when the cache is up to date   (sourced: RG_EXIM_SRC_REBUILD=1)
#   --verify    check a cached build (a build is always checked) (sourced: RG_EXIM_SRC_VERIFY=1)
#   --quiet     no progress messages on stderr                   (sourced: RG_EXIM_SRC_QUIET=1)
#
# Variables printed / exported:
#   RG_EXIM_LOOKUP_BIN  the built exim binary (run it with -C CONF; set exim_path to it)
#   RG_EXIM_SRC         the source tree: $RG_EXIM_SRC/src has lookupapi.h, local_scan.h,
#                       mytypes.h, store.h
#   RG_EXIM_BUILD       the build folder holding the generated config.h
#   RG_EXIM_LOOKUP_DIR  the LOOKUP_MODULE_DIR compiled into the binary (root-owned, 0755);
#                       every *.so in it is dlopen()ed by every exim process at start-up
#   RG_EXIM_RELEASE     upstream release (4.96, 4.98.2)
#   RG_EXIM_VERSION     what was built: a Debian source version (4.96-15+deb12u10) or
#                       "upstream tarball exim4_4.98.2.orig.tar.xz"
# A lookup module compiles with (see tests/lib/exim-src/README.md):
#     cc -shared -fPIC -O2 -D_FILE_OFFSET_BITS=64 -I"$RG_EXIM_BUILD" -I"$RG_EXIM_SRC/src" ...
#
# What it does the first time (~25-60 s; later runs take a few ms):
#   1. derives deb-src entries from the machine's own apt sources (the stanzas of
#      /etc/apt/sources.list.d/debian.sources, or the "deb" lines of /etc/apt/sources.list),
#      with the machine's codename replaced by the release's suite (4.98.2: trixie), into a
#      private apt state folder ($CACHE/apt): the machine's apt configuration and lists are
#      left alone;
#   2. installs libpcre2-dev libdb-dev dpkg-dev build-essential when missing;
#   3. fetches the source, the first that can be had of: the Debian source of exactly the
#      installed Exim; any other Debian source version of the same upstream release (Debian
#      patches applied by dpkg-source); that release's upstream tarball (exim4_R.orig.tar.xz);
#      then writes its own Local/Makefile (not from src/EDITME), fixes the 4.96 drtables.c
#      typo, removes any -fvisibility=hidden, `make -j2`;
#   4. checks the result: -bV lists Expand_dlfunc, Exim's internal symbols are exported, an
#      SMTP front config (manualroute + smtp) routes, and a throw-away lookup module built
#      against the headers answers `${lookup rgprobe{hello}}`.
# It fails (status 1, the reason on stderr) when no source can be had: a caller decides
# whether that is a skip (a laptop) or a failure (CI=true).
# The cache ($RG_EXIM_SRC_CACHE, default /var/cache/rcptguard-test/exim-src-R) is rebuilt
# only when missing or when its stamp (hash of this script + release + installed Debian
# version + cache path) changes. Logs: $CACHE/apt.log, $CACHE/build.log. One run at a time
# (flock on $CACHE.lock).

_rg_es_main() {
	set -euo pipefail
	local script=$1 rebuild=$2 verify=$3 quiet=$4 release=$5

	say() { [ "$quiet" = 1 ] || echo "exim-src: $*" >&2; }
	die() { echo "exim-src: error: $*" >&2; exit 1; }

	[ "$(id -u)" -eq 0 ] || die "must run as root (apt-get, and Exim's -C needs root here)"
	command -v apt-get >/dev/null || die "apt-get is missing: this needs a Debian machine"

	# The installed Exim's Debian version and upstream release.
	local inst_ver inst_rel
	inst_ver=$(dpkg-query -W -f='${source:Version}' exim4-base 2>/dev/null || true)
	inst_rel=$(_rg_es_upstream "$inst_ver")
	[ -n "$release" ] || release=${inst_rel:-4.96}
	case $release in
	[0-9]*.[0-9]*) ;;
	*) die "not an Exim release: $release (e.g. 4.96, 4.98.2)" ;;
	esac
	# Debian suite that carries the release when it is not the machine's own.
	local suite=
	if [ "$release" != "$inst_rel" ]; then
		case $release in
		4.96*) suite=bookworm ;;
		4.98*) suite=trixie ;;
		*) die "no Debian suite known for Exim $release (known: 4.96 bookworm, 4.98 trixie)" ;;
		esac
	fi

	local cache=${RG_EXIM_SRC_CACHE:-/var/cache/rcptguard-test/exim-src-$release}
	case $cache in
	/*) ;;
	*) die "RG_EXIM_SRC_CACHE must be an absolute path: $cache" ;;
	esac
	cache=$(realpath -m -- "$cache") # one spelling per folder: the stamp hashes the path
	case $cache in
	*[[:space:]]*) die "RG_EXIM_SRC_CACHE must not contain white space: $cache" ;;
	esac
	id Debian-exim >/dev/null 2>&1 ||
		say "warning: user Debian-exim is missing (install exim4-daemon-heavy); the binary needs it"

	mkdir -p "$(dirname "$cache")"
	exec 9>"$cache.lock"
	flock 9

	local stamp
	stamp=$({ cat "$script"; echo "release=$release"; echo "installed=${inst_ver:-none}"; echo "cache=$cache"; } |
		sha256sum | cut -d' ' -f1)

	local src=$cache/src
	local build=
	[ -d "$src" ] && build=$src/build-$("$src/scripts/os-type")-$("$src/scripts/arch-type") 2>/dev/null
	if [ "$rebuild" != 1 ] && [ -n "$build" ] && [ -x "$build/exim" ] && [ -f "$build/config.h" ] &&
		[ "$(cat "$cache/stamp" 2>/dev/null)" = "$stamp" ]; then
		say "cached build is up to date ($cache)"
		[ "$verify" = 1 ] && _rg_es_verify "$cache" "$src" "$build"
		_rg_es_print "$cache" "$src" "$build" "$release"
		return 0
	fi

	local t0=$SECONDS
	say "building Exim $release with LOOKUP_MODULE_DIR into $cache"
	mkdir -p "$cache"
	rm -f "$cache/stamp"

	# ---- 1. deb-src entries in a private apt state folder, derived from the machine's own
	# sources (never a host name written here); the machine's codename becomes $suite.
	local apt=$cache/apt codename
	codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
	rm -rf "$apt"
	mkdir -p "$apt/parts" "$apt/lists/partial" "$apt/cache/archives/partial"
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		# Each enabled stanza of type "deb" again as deb-src (one copy per stanza).
		awk -v from="$codename" -v to="$suite" 'BEGIN { RS = ""; ORS = "\n\n" }
		{
			n = split($0, l, "\n"); types = ""; enabled = "yes"; out = ""
			for (i = 1; i <= n; i++) {
				if (l[i] ~ /^#/) continue
				if (tolower(l[i]) ~ /^types:/) { types = " " substr(l[i], 7) " "; continue }
				if (tolower(l[i]) ~ /^enabled:/) enabled = tolower(l[i])
				if (to != "" && from != "" && tolower(l[i]) ~ /^suites:/) {
					m = split(substr(l[i], 8), s, /[ \t]+/); line = "Suites:"
					for (j = 1; j <= m; j++) if (s[j] != "") {
						if (index(s[j], from) == 1) s[j] = to substr(s[j], length(from) + 1)
						line = line " " s[j]
					}
					l[i] = line
				}
				out = out l[i] "\n"
			}
			if (types ~ /[ \t]deb[ \t]/ && enabled !~ /no/)
				printf "Types: deb-src\n%s\n", out
		}' /etc/apt/sources.list.d/debian.sources >"$apt/parts/rcptguard-src.sources"
	fi
	if [ -f /etc/apt/sources.list ]; then
		sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' /etc/apt/sources.list |
			if [ -n "$suite" ] && [ -n "$codename" ]; then
				sed "s/\([[:space:]]\)$codename\([-[:space:]]\)/\1$suite\2/"
			else
				cat
			fi >"$apt/parts/rcptguard-src.list"
	fi
	find "$apt/parts" -type f -empty -delete
	[ -n "$(ls -A "$apt/parts")" ] ||
		die "no deb entry in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list to derive deb-src from"
	local apt_o=(-q -o DPkg::Lock::Timeout=300 -o Dir::Etc::sourcelist=/dev/null
		-o Dir::Etc::sourceparts="$apt/parts" -o Dir::State::Lists="$apt/lists"
		-o Dir::Cache="$apt/cache" -o APT::Get::List-Cleanup=0)
	local aptlog=$cache/apt.log
	: >"$aptlog"
	say "apt-get update (private state in $apt: deb-src${suite:+ for $suite})"
	apt-get "${apt_o[@]}" update >>"$aptlog" 2>&1 || { tail -n 20 "$aptlog" >&2; die "apt-get update failed (log: $aptlog)"; }

	# ---- 2. build dependencies (no full build-dep)
	local p missing=()
	for p in libpcre2-dev libdb-dev dpkg-dev build-essential; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep 'ok installed' >/dev/null || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		say "apt-get install ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 install -y \
			--no-install-recommends "${missing[@]}" >>"$aptlog" 2>&1 || {
			tail -n 20 "$aptlog" >&2
			die "apt-get install ${missing[*]} failed (log: $aptlog)"
		}
	fi

	# ---- 3. source: the installed version, any version of the release, its tarball
	local work=$cache/work
	rm -rf "$work"
	mkdir -p "$work"
	chown _apt:root "$work" 2>/dev/null || true # lets apt download without its sandbox warning
	local cands=() v tree= got=
	[ -n "$inst_ver" ] && [ "$inst_rel" = "$release" ] && cands+=("$inst_ver")
	while read -r v; do
		[ "$(_rg_es_upstream "$v")" = "$release" ] && [ "$v" != "$inst_ver" ] && cands+=("$v")
	done < <(apt-cache "${apt_o[@]}" showsrc exim4 2>>"$aptlog" | sed -n 's/^Version: //p' | sort -urV)
	for v in "${cands[@]}"; do
		say "apt-get source exim4=$v"
		if (cd "$work" && apt-get "${apt_o[@]}" source "exim4=$v" >>"$aptlog" 2>&1); then
			tree=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'exim4-*' | head -n 1)
			[ -f "${tree:-/nonexistent}/src/lookupapi.h" ] && { got=$v; break; }
		fi
		say "exim4=$v: no usable source (see $aptlog)"
		find "$work" -mindepth 1 -delete
	done
	if [ -z "$got" ]; then
		local orig=exim4_$release.orig.tar.xz
		for v in "${cands[@]}"; do
			say "apt-get source --tar-only exim4=$v (the upstream tarball $orig)"
			(cd "$work" && apt-get "${apt_o[@]}" source --tar-only "exim4=$v" >>"$aptlog" 2>&1) || continue
			[ -f "$work/$orig" ] || continue
			mkdir -p "$work/unpack"
			tar -C "$work/unpack" -xJf "$work/$orig" >>"$aptlog" 2>&1 || continue
			tree=$(find "$work/unpack" -mindepth 2 -maxdepth 3 -type f -path '*/src/lookupapi.h' | head -n 1)
			[ -n "$tree" ] && { tree=${tree%/src/lookupapi.h}; got="upstream tarball $orig"; break; }
		done
	fi
	[ -n "$got" ] || {
		tail -n 10 "$aptlog" >&2
		die "no source of Exim $release could be fetched (versions tried: ${cands[*]:-none listed}; log: $aptlog)"
	}
	local up
	up=$(sed -n 's/^EXIM_RELEASE_VERSION=//p' "$tree/src/version.sh" 2>/dev/null | tr -d '"' || true)
	[ -z "$up" ] || [ "$up" = "$release" ] || say "warning: the source says release $up, not $release"
	local debver=$got

	# 4.96 bug: with LOOKUP_MODULE_DIR, drtables.c does not compile (NUL for NULL).
	sed -i 's/\(len, \)NUL))/\1NULL))/' "$tree/src/drtables.c"
	# Debian's 90_localscan_dlopen adds -fvisibility=hidden (to src/EDITME, which is not
	# used here); make sure no file of the build carries it (modules would fail to load).
	{ grep -rlZ --exclude-dir=debian --exclude-dir=.pc -e '-fvisibility=hidden' "$tree" || true; } |
		xargs -0r sed -i 's/[[:space:]]*-fvisibility=hidden//g'

	mkdir -p "$cache/lookups" "$cache/bin" "$cache/etc" "$cache/spool" "$cache/log" "$cache/run"
	chmod 0755 "$cache" "$cache/lookups" "$cache/bin" "$cache/etc"
	chown root:root "$cache/lookups"
	chown Debian-exim:Debian-exim "$cache/spool" "$cache/log" "$cache/run" 2>/dev/null || true

	cat >"$tree/Local/Makefile" <<EOF
# Written by tests/lib/exim-src.sh (rcptguard): an Exim for testing dynamic lookup modules.
BIN_DIRECTORY=$cache/bin
CONFIGURE_FILE=$cache/etc/exim.conf
SPOOL_DIRECTORY=$cache/spool
LOG_FILE_PATH=$cache/log/%slog
PID_FILE_PATH=$cache/run/exim.pid
# "ref:" = look the user up at run time (a bare name is resolved at build time).
EXIM_USER=ref:Debian-exim

# Explicit, so that CFLAGS from the environment cannot change the build (OS/Makefile-Linux
# uses ?=). No -fvisibility=hidden: modules call Exim's internal functions.
CFLAGS=-O2 -g -D_FILE_OFFSET_BITS=64 -D_LARGEFILE_SOURCE

LOOKUP_MODULE_DIR=$cache/lookups
EXPAND_DLFUNC=yes
CFLAGS_DYNAMIC=-shared -rdynamic -fPIC
EXTRALIBS=-export-dynamic -rdynamic -ldl

PCRE2_CONFIG=yes
USE_DB=yes
DBMLIB=-ldb
DISABLE_TLS=yes

LOOKUP_LSEARCH=yes
LOOKUP_DBM=yes
LOOKUP_DNSDB=yes

ROUTER_ACCEPT=yes
ROUTER_DNSLOOKUP=yes
ROUTER_MANUALROUTE=yes
ROUTER_REDIRECT=yes
TRANSPORT_APPENDFILE=yes
SUPPORT_MAILDIR=yes
TRANSPORT_SMTP=yes
EOF

	say "make -j2 (log: $cache/build.log)"
	if ! (cd "$tree" && unset MAKEFLAGS MFLAGS MAKELEVEL CFLAGS LDFLAGS CPPFLAGS &&
		make -j2) >"$cache/build.log" 2>&1; then
		tail -n 30 "$cache/build.log" >&2
		die "make failed (log: $cache/build.log)"
	fi

	rm -rf "$src"
	mv "$tree" "$src"
	build=$src/build-$("$src/scripts/os-type")-$("$src/scripts/arch-type")
	{ [ -x "$build/exim" ] && [ -f "$build/config.h" ]; } || die "no $build/exim after make"
	rm -rf "$work"

	# The compiled-in exim_path ($cache/bin/exim) and configuration file, so that re-execs and
	# a bare `exim -bV` work too (tests still pass -C and set exim_path).
	ln -sfn "$build/exim" "$cache/bin/exim"
	cat >"$cache/etc/exim.conf" <<EOF
# Default configuration of the rcptguard test Exim (tests pass their own with -C).
keep_environment =
exim_path = $cache/bin/exim
tls_advertise_hosts =
EOF
	chmod 0644 "$cache/etc/exim.conf"
	echo "$debver" >"$cache/version"

	_rg_es_verify "$cache" "$src" "$build"
	echo "$stamp" >"$cache/stamp"
	say "built and checked Exim $release ($debver) in $((SECONDS - t0)) s"
	_rg_es_print "$cache" "$src" "$build" "$release"
}

# _rg_es_verify CACHE SRC BUILD: the build has dlfunc, exported symbols, routes through
# manualroute/smtp, and loads a lookup module from LOOKUP_MODULE_DIR.
_rg_es_verify() {
	local cache=$1 src=$2 build=$3 bin=$3/exim dir=$1/lookups tmp out
	tmp=$(mktemp -d /tmp/rg-exim-src.XXXXXX)
	chmod 0755 "$tmp"
	local probe=rg-probe-$$.so
	# shellcheck disable=SC2064  # expand now: the trap runs after these locals are gone
	trap "rm -rf '$tmp'; rm -f '$dir/$probe'" EXIT
	mkdir -p "$tmp/spool"
	chown Debian-exim:Debian-exim "$tmp/spool" 2>/dev/null || true

	cat >"$tmp/exim.conf" <<EOF
keep_environment =
exim_path = $bin
spool_directory = $tmp/spool
log_file_path = $tmp/%slog
pid_file_path = $tmp/exim.pid
host_lookup =
tls_advertise_hosts =
primary_hostname = gateway.test
domainlist relay_to_domains = example.org

begin routers

to_customer:
  driver = manualroute
  domains = +relay_to_domains
  transport = remote_smtp
  route_list = * 127.0.0.1
  self = send

begin transports

remote_smtp:
  driver = smtp
  port = 2525
EOF
	chown root:root "$tmp/exim.conf"
	chmod 0644 "$tmp/exim.conf"

	out=$("$bin" -C "$tmp/exim.conf" -bV 2>&1) || {
		printf '%s\n' "$out" >&2
		die "$bin -bV fails"
	}
	grep -q 'Expand_dlfunc' <<<"$out" || die "$bin -bV does not list Expand_dlfunc"
	nm -D --defined-only "$bin" | grep -w string_catn >/dev/null ||
		die "$bin does not export Exim's internal symbols (hidden visibility?)"
	out=$("$bin" -C "$tmp/exim.conf" -bt user@example.org 2>&1) || true
	grep -q 'transport = remote_smtp' <<<"$out" || {
		printf '%s\n' "$out" >&2
		die "manualroute/smtp routing test failed"
	}

	# A throw-away query-style lookup module, built against the tree's headers.
	cat >"$tmp/rgprobe.c" <<'EOF'
/* rgprobe: trivial query-style lookup module for Exim 4.96 (echoes the query). */
#define DLFUNC_IMPL                 /* local_scan.h: string_copy*() are the exported ones */
#include "local_scan.h"             /* config.h, mytypes.h, store.h, OK/FAIL/DEFER */
typedef struct gstring gstring;     /* lookupapi.h uses it; defined in structs.h */
#include "lookupapi.h"
#ifndef lookup_querystyle
# define lookup_querystyle 1        /* macros.h */
#endif

static void *
rgprobe_open(const uschar *filename, uschar **errmsg)
{
(void)filename; (void)errmsg;
return (void *)1;                   /* anything non-NULL */
}

static int
rgprobe_find(void *handle, const uschar *filename, const uschar *query, int length,
  uschar **result, uschar **errmsg, uint *do_cache, const uschar *opts)
{
(void)handle; (void)filename; (void)errmsg; (void)opts;
*do_cache = 0;                      /* TTL in seconds; 0 = do not cache */
*result = string_copyn(query, length);
return OK;
}

static lookup_info rgprobe_info = {
  .name = US"rgprobe", .type = lookup_querystyle, .open = rgprobe_open, .check = NULL,
  .find = rgprobe_find, .close = NULL, .tidy = NULL, .quote = NULL, .version_report = NULL,
};
static lookup_info *rgprobe_list[] = { &rgprobe_info };
lookup_module_info _lookup_module_info = { LOOKUP_MODULE_INFO_MAGIC, rgprobe_list, 1 };
EOF
	cc -shared -fPIC -O2 -Wall -Werror -D_FILE_OFFSET_BITS=64 -I"$build" -I"$src/src" \
		-o "$tmp/$probe" "$tmp/rgprobe.c" || die "the probe lookup module does not compile"
	install -m 0755 -o root -g root "$tmp/$probe" "$dir/$probe"
	# shellcheck disable=SC2016  # an Exim expansion, not a shell one
	out=$("$bin" -C "$tmp/exim.conf" -be '${lookup rgprobe{hello}}' 2>&1) || true
	rm -f "$dir/$probe"
	[ "$out" = hello ] || {
		printf '%s\n' "$out" >&2
		die "the probe lookup module in $dir did not answer (expected \"hello\")"
	}
	[ "${quiet:-0}" = 1 ] || echo "exim-src: checked: -bV has Expand_dlfunc; symbols exported;" \
		"manualroute+smtp routes; a module in $dir answers \${lookup rgprobe{hello}}" >&2
	rm -rf "$tmp"
	trap - EXIT
}

# _rg_es_upstream DEBIAN_VERSION: its upstream part (4.96-15+deb12u10 -> 4.96, 1:4.98.2-1 -> 4.98.2).
_rg_es_upstream() {
	local v=${1#*:}
	[ -n "$1" ] && printf '%s\n' "${v%-*}"
}

_rg_es_print() {
	local cache=$1 src=$2 build=$3 release=$4
	printf 'RG_EXIM_LOOKUP_BIN=%q\n' "$build/exim"
	printf 'RG_EXIM_SRC=%q\n' "$src"
	printf 'RG_EXIM_BUILD=%q\n' "$build"
	printf 'RG_EXIM_LOOKUP_DIR=%q\n' "$cache/lookups"
	printf 'RG_EXIM_RELEASE=%q\n' "$release"
	printf 'RG_EXIM_VERSION=%q\n' "$(cat "$cache/version" 2>/dev/null)"
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
	# Sourced: run in a subshell (set -e, traps and the lock stay there), export the result.
	_rg_es_out=$(_rg_es_main "$(readlink -f "${BASH_SOURCE[0]}")" "${RG_EXIM_SRC_REBUILD:-0}" \
		"${RG_EXIM_SRC_VERIFY:-0}" "${RG_EXIM_SRC_QUIET:-0}" "${RG_EXIM_SRC_RELEASE:-}") || {
		unset _rg_es_out
		return 1
	}
	eval "$_rg_es_out"
	export RG_EXIM_LOOKUP_BIN RG_EXIM_SRC RG_EXIM_BUILD RG_EXIM_LOOKUP_DIR RG_EXIM_RELEASE RG_EXIM_VERSION
	unset _rg_es_out
	return 0
fi

_rg_es_rebuild=0 _rg_es_verify_flag=0 _rg_es_quiet=0 _rg_es_release=${RG_EXIM_SRC_RELEASE:-}
while [ $# -gt 0 ]; do
	_rg_es_arg=$1
	shift
	case $_rg_es_arg in
	--release)
		[ $# -gt 0 ] || { echo "usage: $0 --release R" >&2; exit 2; }
		_rg_es_release=$1
		shift
		;;
	--release=*) _rg_es_release=${_rg_es_arg#--release=} ;;
	--rebuild) _rg_es_rebuild=1 ;;
	--verify) _rg_es_verify_flag=1 ;;
	--quiet | -q) _rg_es_quiet=1 ;;
	-h | --help)
		sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"
		exit 0
		;;
	*)
		echo "usage: $0 [--release R] [--rebuild] [--verify] [--quiet]" >&2
		exit 2
		;;
	esac
done
_rg_es_main "$(readlink -f "$0")" "$_rg_es_rebuild" "$_rg_es_verify_flag" "$_rg_es_quiet" "$_rg_es_release"
