/*
 * dynamic.h - does a confirmed PTR name look like a dial-up / dynamic pool address?
 *
 * A mistake here rejects real mail, so the built-in rule is narrow: a name is dynamic
 * only when it embeds the client's own address (IPv4: its four octets, or the last
 * three, in decimal in either order, zero-padded or not, or its eight hex digits; IPv6:
 * four consecutive groups, or its first 12+ nibbles) AND carries a pool word (dyn, dip,
 * dial, ppp, pool, dsl, cable, dhcp, client, cpe, ...), AND says nothing of a server
 * (static, mail, mx, smtp, relay, ...).
 *
 * An operator's file (dynamic_patterns) adds or overrides, one rule per line:
 *     # comment
 *     dynamic REGEX      names matching REGEX are dynamic
 *     static  REGEX      names matching REGEX are not dynamic
 *     builtin off        no built-in rule: only the lines above decide
 * REGEX is a PCRE2 (Perl-compatible, as in Exim) regular expression matched
 * case-insensitively against the lower-case name without its final dot. Compile memory
 * (256 KB a pattern), match steps, the file's size (1 MB) and rules (1000) are bounded:
 * a pattern over them is an error naming file:line, never a process out of memory. Lines are tried in order, the first match
 * decides; when none matches, the built-in rule does (unless "builtin off"). A bad line
 * is an error naming file:line, and the check defers until it is fixed.
 *
 * Ownership: the loaded file is kept per process and reloaded when it changes on disk.
 */
#ifndef RG_DYNAMIC_H
#define RG_DYNAMIC_H

#include "rg.h"

/* The built-in rule: 1 dynamic, 0 not; why (may be NULL) says what matched. family is
 * AF_INET (addr: 4 bytes) or AF_INET6 (16 bytes). */
int dynamic_builtin(const char *name, const unsigned char *addr, int family, char *why, size_t whylen);

/* The rule in force: the patterns file at path ("" = none), then the built-in one.
 * RG_FOUND dynamic, RG_NOTFOUND not, RG_CONFIG (err: "file:line: problem"). */
int dynamic_check(const char *name, const unsigned char *addr, int family, const char *path,
		  char *why, size_t whylen, char *err, size_t errlen);

/* Forget the loaded file (tests). */
void dynamic_reset(void);

#endif
