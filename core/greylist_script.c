/*
 * greylist_script.c - the greylisting decision run on the shared store's server (see
 * greylist_script.h): auto-whitelist, triplet and auto-whitelist count read, decided and
 * written in one atomic script, so that a decision is one round trip and 50 concurrent
 * first attempts over several gateways record exactly one "new".
 *
 * The Lua below mirrors the C definition function by function (greylist_record_step,
 * greylist_record_awl_passes, the codecs with util_decimal's limits, greylist.c's order);
 * a change to one is a change to both, and test_greylist_store.c fails until they agree.
 * Numbers are kept as the decimal text the C codec prints (%lld: no leading zeros), so
 * that values beyond a Lua double's 53 bits are copied exactly; only comparisons with
 * the clock use doubles, where such values are far from it either way.
 *
 * Clock: the gateway's (ARGV[1], util_now()), not the server's TIME. Why: a record is one
 * function of (record, now) on every member, so the local store that stands in while
 * Redis is down, the operator's verbs (greylist allow/remove, store copy) and the CLI and
 * API decoders all read and write the same times as the script; and the tests drive one
 * clock through both members. Gateways of a pool agree when their clocks agree (NTP: a
 * skew of s seconds moves a triplet's delay by s seconds at most).
 */
#include <stdio.h>
#include <string.h>

#include "greylist_record.h"
#include "greylist_script.h"

/* KEYS: 1 the network's auto-whitelist record, 2 the triplet's.
 * ARGV: now, delay, retry_window, pass_ttl, awl_after, renew_step, dry ("1").
 * Reply: reason, pass ("1"/"0"), wait, the triplet's record, the network's record. */
const struct store_script greylist_script = {
	"greylist",
	"local now, delay, window, passttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])\n"
	"local awlafter, renew, dry = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7] == '1'\n"
	"local I64, U32, N = '9223372036854775807', '4294967295', tonumber\n"
	"local function fmt(x) return string.format('%.0f', x) end\n"
	/* util_decimal under greylist_record_words: digits (the pattern), a word of at most
	 * 23 bytes, at most max; kept as %lld prints it */
	"local function dec(w, max)\n"
	"  if w == nil or #w > 23 then return nil end\n"
	"  if string.byte(w) == 48 then w = string.gsub(w, '^0+(%d)', '%1') end\n"
	"  if #w > #max or (#w == #max and w > max) then return nil end\n"
	"  return w\n"
	"end\n"
	/* greylist_record_decode */
	"local function triplet(v)\n"
	"  if v == nil then return nil end\n"
	"  local w, f, l, e, d = string.match(v, '^1 (%a+) (%d+) (%d+) (%d+) (%d+)$')\n"
	"  f, l, e, d = dec(f, I64), dec(l, I64), dec(e, I64), dec(d, U32)\n"
	"  if (w ~= 'pass' and w ~= 'wait') or not (f and l and e and d) then return nil end\n"
	"  return {passed = w == 'pass', first = f, last = l, expires = e, defers = d}\n"
	"end\n"
	/* greylist_record_awl_decode */
	"local function awl(v)\n"
	"  if v == nil then return nil end\n"
	"  local w, c, f, l, e = string.match(v, '^1 (%a+) (%d+) (%d+) (%d+) (%d+)$')\n"
	"  c, f, l, e = dec(c, U32), dec(f, I64), dec(l, I64), dec(e, I64)\n"
	"  if (w ~= 'manual' and w ~= 'auto') or not (c and f and l and e) then return nil end\n"
	"  return {manual = w == 'manual', count = c, first = f, last = l, expires = e}\n"
	"end\n"
	/* greylist_record_encode, greylist_record_awl_encode */
	"local function tenc(t)\n"
	"  return '1 ' .. (t.passed and 'pass' or 'wait') .. ' ' .. t.first .. ' ' .. t.last .. ' ' .. t.expires .. ' ' .. t.defers\n"
	"end\n"
	"local function aenc(a)\n"
	"  return '1 ' .. (a.manual and 'manual' or 'auto') .. ' ' .. a.count .. ' ' .. a.first .. ' ' .. a.last .. ' ' .. a.expires\n"
	"end\n"
	/* greylist.c, greylist_stored: the auto-whitelist first (greylist_record_awl_passes),
	 * renewed when due (greylist_upd_awl_renew) */
	"local a = awl(rg_get(1))\n"
	"if a and now < N(a.expires) and (a.manual or (awlafter > 0 and N(a.count) >= awlafter)) then\n"
	"  if not dry and now - N(a.last) >= renew then\n"
	"    a.last, a.expires = fmt(now), fmt(now + passttl)\n"
	"    rg_put(1, aenc(a), now + passttl)\n"
	"  end\n"
	"  return {'awl', '1', '0', '', aenc(a)}\n"
	"end\n"
	/* greylist_record_step */
	"local o, t, reason, pass, wait, became = triplet(rg_get(2))\n"
	"if o and o.passed and now < N(o.expires) then\n"
	"  t, reason, pass, wait = o, 'passed', 1, 0\n"
	"  if now - N(o.last) >= renew then\n"
	"    t.last, t.expires, t.write = fmt(now), fmt(now + passttl), true\n"
	"  end\n"
	"elseif o and not o.passed and now < N(o.expires) and now >= N(o.first) then\n"
	"  t = o\n"
	"  t.last, t.write = fmt(now), true\n"
	"  if now - N(o.first) >= delay then\n"
	"    t.passed, t.expires = true, fmt(now + passttl)\n"
	"    reason, pass, wait, became = 'passed', 1, 0, true\n"
	"  else\n"
	"    t.defers = fmt((N(o.defers) + 1) % 4294967296)\n"
	"    reason, pass, wait = 'early', 0, N(o.first) + delay - now\n"
	"  end\n"
	"else\n"
	"  t = {passed = false, first = fmt(now), last = fmt(now), expires = fmt(now + window), defers = '1', write = true}\n"
	"  if delay == 0 then\n"
	"    t.passed, t.expires, t.defers = true, fmt(now + passttl), '0'\n"
	"    reason, pass, wait, became = 'passed', 1, 0, true\n"
	"  else\n"
	"    reason, pass, wait = 'new', 0, delay\n"
	"  end\n"
	"end\n"
	/* greylist_upd_triplet, then greylist_upd_awl_count when the triplet passed */
	"local ar = ''\n"
	"if t.write and not dry then\n"
	"  rg_put(2, tenc(t), N(t.expires))\n"
	"  if became and awlafter > 0 then\n"
	"    if a == nil or now >= N(a.expires) then\n"
	"      a = {manual = false, count = '0', first = fmt(now), last = '0', expires = '0'}\n"
	"    end\n"
	"    a.count, a.last, a.expires = fmt((N(a.count) + 1) % 4294967296), fmt(now), fmt(now + passttl)\n"
	"    rg_put(1, aenc(a), now + passttl)\n"
	"  end\n"
	"end\n"
	"if a then ar = aenc(a) end\n"
	"return {reason, tostring(pass), fmt(wait), tenc(t), ar}\n"
};

/* The reason named in the script's reply, or -1. */
static int greylist_script_reason(const char *name)
{
	static const int reasons[] = { GREYLIST_NEW, GREYLIST_EARLY, GREYLIST_PASSED, GREYLIST_AWL };
	size_t i;

	for (i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
		if (strcmp(greylist_reason_name(reasons[i]), name) == 0)
			return reasons[i];
	return -1;
}

/* One decision on the server. */
int greylist_script_decide(const struct store_handle *h, const char *akey, const char *tkey, int64_t now,
			   const struct settings *s, int dry, struct greylist_script_result *res,
			   char *err, size_t errlen)
{
	char a[7][24];
	const char *args[7] = { a[0], a[1], a[2], a[3], a[4], a[5], a[6] }, *keys[2] = { akey, tkey };
	struct store_script_reply r;
	int64_t wait;
	int rc;

	memset(res, 0, sizeof *res);
	snprintf(a[0], sizeof a[0], "%lld", (long long)now);
	snprintf(a[1], sizeof a[1], "%u", s->greylist_delay);
	snprintf(a[2], sizeof a[2], "%u", s->greylist_retry_window);
	snprintf(a[3], sizeof a[3], "%u", s->greylist_pass_ttl);
	snprintf(a[4], sizeof a[4], "%u", s->greylist_awl_after);
	snprintf(a[5], sizeof a[5], "%lld", (long long)greylist_record_renew_step(s));
	snprintf(a[6], sizeof a[6], "%d", dry ? 1 : 0);
	if ((rc = store_script(h, &greylist_script, 2, keys, 7, args, &r, 0, err, errlen)) != RG_FOUND)
		return rc;
	/* Why strict: an answer that is not a decision (another script under our name, a
	 * server that changed it) is a temporary failure, never a guess. */
	if (r.n != 5 || (res->reason = greylist_script_reason(r.v[0])) < 0 ||
	    (strcmp(r.v[1], "0") != 0 && strcmp(r.v[1], "1") != 0) || util_decimal(r.v[2], INT32_MAX, &wait) < 0) {
		char shown[101];

		util_sanitise(shown, sizeof shown, r.n ? r.v[0] : "", r.n ? r.len[0] : 0);
		util_snprintf(err, errlen, "greylist script: not a decision (%zu values, \"%s\")", r.n, shown);
		return RG_TEMPFAIL;
	}
	res->pass = r.v[1][0] == '1';
	res->wait = wait;
	memcpy(res->triplet, r.v[3], r.len[3] + 1);
	memcpy(res->awl, r.v[4], r.len[4] + 1);
	return RG_FOUND;
}
