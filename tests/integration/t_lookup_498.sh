#!/usr/bin/env bash
# t_lookup_498.sh - the matrix's Exim 4.98.2 cell (Debian 13): every check of t_lookup.sh
# (lookup face, and the dlfunc face compiled against 4.98's local_scan.h) on an Exim 4.98.2
# built from source by tests/lib/exim-src.sh --release 4.98.2.
RG_LOOKUP_RELEASE=4.98.2
# shellcheck source=t_lookup.sh
. "$(dirname "$0")/t_lookup.sh"
