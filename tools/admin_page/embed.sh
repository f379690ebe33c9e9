#!/bin/sh
# embed.sh OUT - write the web page of rcptguard-admin (page.html, page.css, page.js beside
# this script) as C strings into OUT: the daemon serves them from memory, fetching nothing.
set -eu
dir=$(dirname "$0")
out=$1
{
	echo "/* Generated from tools/admin_page/ by tools/admin_page/embed.sh: edit those files. */"
	for part in html:admin_page_html css:admin_page_css js:admin_page_js; do
		printf 'const char %s[] =\n' "${part#*:}"
		awk '{ gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); gsub(/\t/, "\\t"); printf "\t\"%s\\n\"\n", $0 }' \
			"$dir/page.${part%%:*}"
		echo "\t\"\";"
	done
} >"$out.tmp"
mv "$out.tmp" "$out"
