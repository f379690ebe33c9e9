/*
 * stats.c - the shared counters file (state_dir/stats): a 64-byte header, then one
 * 64-bit counter per (family, label values) slot, incremented with relaxed atomic adds
 * by every process that maps the file.
 *
 * Slots are laid out by the table below, family after family; a new family is appended
 * at the end so that older files keep their meaning (the header says how many slots).
 * Creation is a fresh file linked into place (never a half-written one seen); a file of
 * the wrong size or magic is replaced the same way.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stats.h"
#include "yield.h"

#define STATS_MAGIC "RGSTAT01"
#define STATS_SLOTS 448
#define STATS_HEADER 64
#define STATS_FILE_SIZE (STATS_HEADER + STATS_SLOTS * 8)

struct stats_header {
	char magic[8];
	uint32_t slots;
	uint32_t header;
	int64_t created;
};

struct stats_family_def {
	const char *metric, *help;
	const char *l1name, *const *l1;      /* label values, NULL-terminated; last = fallback */
	const char *l2name, *const *l2;
};

static const char *const v_source[] = { "cache", "callout", "list", "ldap", "catchall", "none", NULL };
static const char *const v_vresult[] = { "pass", "fail", "defer", "skip", NULL };
static const char *const v_check[] = { "recipient", "fcrdns", NULL };
static const char *const v_dreason[] = { "tempfail", "config", "internal", "dnserror", "other", NULL };
static const char *const v_kind[] = { "rcpt", "probe", NULL };
static const char *const v_outcome[] = { "accept", "reject", "tempfail", "error", NULL };
static const char *const v_gresult[] = { "pass", "defer", NULL };
static const char *const v_greason[] = { "new", "early", "passed", "whitelisted", "awl", "config", "error", "other", NULL };
static const char *const v_fresult[] = { "pass", "fail", "defer", NULL };
static const char *const v_freason[] = { "none", "noptr", "mismatch", "dynamic", "dnserror", "internal", "other", NULL };
static const char *const v_op[] = { "open", "get", "put", "del", "iterate", "update", "other", NULL };

/* Indexed by enum stats_family; the order of this table is the file's layout. */
static const struct stats_family_def stats_families[STATS_FAMILIES] = {
	[STATS_VERDICT] = { "rcptguard_verdicts_total", "Recipient and sender verdicts by source and result.",
			    "source", v_source, "result", v_vresult },
	[STATS_DEFER] = { "rcptguard_defers_total", "Deferrals (451) by check and reason.",
			  "check", v_check, "reason", v_dreason },
	[STATS_CALLOUT] = { "rcptguard_callouts_total", "Callout RCPTs (rcpt) and catch-all probes (probe) by outcome.",
			    "kind", v_kind, "outcome", v_outcome },
	[STATS_GREYLIST] = { "rcptguard_greylist_decisions_total", "Greylisting decisions by result and reason.",
			     "result", v_gresult, "reason", v_greason },
	[STATS_FCRDNS] = { "rcptguard_fcrdns_total", "FCrDNS answers by result and reason.",
			   "result", v_fresult, "reason", v_freason },
	[STATS_STORE_ERROR] = { "rcptguard_store_errors_total", "Store operations that failed, by operation.",
				"op", v_op, NULL, NULL },
	[STATS_STORE_FALLBACK] = { "rcptguard_store_fallbacks_total",
				   "Switches from the shared store to the local one.", NULL, NULL, NULL, NULL },
};

/* Why no page of its own any more: with the preload, Exim's daemon maps the file and writes
 * this; a connection's process inherits both and only reads them (free after fork()). */
static struct {
	uint64_t *slots;                 /* the mapping (MAP_SHARED: valid in forked children) */
	dev_t dev;                       /* the file mapped, for stats_preload()'s check */
	ino_t ino;
	char dir[RG_PATH_MAX];           /* set with slots NULL: this dir could not be mapped */
} stats_map;

/* Number of values of a NULL-terminated list (1 for a family without that label). */
static RG_HOT unsigned stats_nvalues(const char *const *v)
{
	unsigned n = 0;

	if (v == NULL)
		return 1;
	while (v[n] != NULL)
		n++;
	return n;
}

/* Index of value in v; the last one (the fallback) when absent. */
static RG_HOT unsigned stats_index(const char *const *v, const char *value)
{
	unsigned i, n = stats_nvalues(v);

	if (v == NULL)
		return 0;
	for (i = 0; value != NULL && i < n; i++)
		if (strcmp(v[i], value) == 0)
			return i;
	return n - 1;
}

/* First slot of family f. */
static RG_HOT unsigned stats_base(enum stats_family f)
{
	unsigned base = 0;
	int i;

	for (i = 0; i < (int)f; i++)
		base += stats_nvalues(stats_families[i].l1) * stats_nvalues(stats_families[i].l2);
	return base;
}

/* Write a fresh file next to path and link it into place; replace an existing one only
 * when replace is set. 0 ok (or another process won the race), -1 error. */
static int stats_create(const char *dir, const char *path, int replace)
{
	char tmp[RG_PATH_MAX + 48];
	struct stats_header h;
	struct stat ds;
	int fd, rc = -1;

	if (util_snprintf(tmp, sizeof tmp, "%s/.stats.%ld", dir, (long)getpid()) < 0)
		return -1;
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	memset(&h, 0, sizeof h);
	memcpy(h.magic, STATS_MAGIC, sizeof h.magic);
	h.slots = STATS_SLOTS;
	h.header = STATS_HEADER;
	h.created = util_now();
	/* Why: root (the CLI) may create it; the Exim processes must still write to it. */
	if (geteuid() == 0 && stat(dir, &ds) == 0 && fchown(fd, ds.st_uid, ds.st_gid) != 0)
		goto out;
	if (ftruncate(fd, STATS_FILE_SIZE) != 0 || pwrite(fd, &h, sizeof h, 0) != (ssize_t)sizeof h)
		goto out;
	if (replace)
		rc = rename(tmp, path);
	else
		rc = (link(tmp, path) == 0 || errno == EEXIST) ? 0 : -1;
out:
	close(fd);
	unlink(tmp);
	return rc;
}

/* Whether h is the header of a counters file of this layout. */
static int stats_header_ok(const struct stats_header *h)
{
	return memcmp(h->magic, STATS_MAGIC, sizeof h->magic) == 0 && h->slots == STATS_SLOTS &&
	       h->header == STATS_HEADER;
}

/* Map state_dir/stats read-write, creating or replacing it as needed. */
static uint64_t *stats_open(const char *state_dir)
{
	char path[RG_PATH_MAX + 16];
	struct stats_header h;
	struct stat sb;
	void *m;
	int fd, attempt;

	if (util_snprintf(path, sizeof path, "%s/stats", state_dir) < 0)
		return NULL;
	for (attempt = 0; attempt < 3; attempt++) {
		fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			if (errno != ENOENT || stats_create(state_dir, path, 0) < 0)
				return NULL;
			continue;
		}
		if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
			close(fd);
			return NULL;
		}
		if (sb.st_size != STATS_FILE_SIZE || pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h ||
		    !stats_header_ok(&h)) {
			close(fd);
			/* Damaged or short: start again rather than add to garbage. */
			if (stats_create(state_dir, path, 1) < 0)
				return NULL;
			continue;
		}
		m = mmap(NULL, STATS_FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		if (m == MAP_FAILED)
			return NULL;
		stats_map.dev = sb.st_dev;
		stats_map.ino = sb.st_ino;
		return (uint64_t *)((char *)m + STATS_HEADER);
	}
	return NULL;
}

/* Unmap. */
void stats_reset(void)
{
	if (stats_map.slots != NULL)
		munmap((char *)stats_map.slots - STATS_HEADER, STATS_FILE_SIZE);
	memset(&stats_map, 0, sizeof stats_map);
}

/* The counters of state_dir, mapped on first use. */
static RG_HOT uint64_t *stats_slots(const char *state_dir)
{
	if (state_dir == NULL)
		return stats_map.slots;
	if (state_dir[0] == '\0')
		return NULL;
	if (strcmp(stats_map.dir, state_dir) == 0)
		return stats_map.slots;
	stats_reset();
	if (util_strlcpy(stats_map.dir, state_dir, sizeof stats_map.dir) < 0)
		return NULL;
	stats_map.slots = stats_open(state_dir);
	return stats_map.slots;
}

/*
 * Map state_dir/stats in the process that forks the others (stats.h). Why the check at each
 * call: an operator may remove the file to start the counts afresh, and a damaged one is
 * replaced by whichever process finds it; a daemon that kept its first mapping would make
 * every later process count into a file nobody reads. So the mapping is kept only while the
 * path still names the file mapped and its header is intact; else it is mapped again (and
 * a failed one is retried: one attempt per connection, in the daemon).
 */
void stats_preload(const char *state_dir)
{
	char path[RG_PATH_MAX + 16];
	const struct stats_header *h;
	struct stat st;

	if (state_dir == NULL || state_dir[0] == '\0' || util_snprintf(path, sizeof path, "%s/stats", state_dir) < 0)
		return;
	if (stats_map.slots != NULL && strcmp(stats_map.dir, state_dir) == 0) {
		h = (const struct stats_header *)(const void *)((const char *)stats_map.slots - STATS_HEADER);
		if (stat(path, &st) == 0 && st.st_dev == stats_map.dev && st.st_ino == stats_map.ino &&
		    st.st_size == STATS_FILE_SIZE && stats_header_ok(h))
			return;
	}
	stats_reset();
	(void)stats_slots(state_dir);
}

/* Count one event. */
RG_HOT void stats_count(const char *state_dir, enum stats_family f, const char *a, const char *b)
{
	const struct stats_family_def *d;
	uint64_t *slots;
	unsigned i;

	if ((unsigned)f >= STATS_FAMILIES || (slots = stats_slots(state_dir)) == NULL)
		return;
	d = &stats_families[f];
	i = stats_base(f) + stats_index(d->l1, a) * stats_nvalues(d->l2) + stats_index(d->l2, b);
	if (i < STATS_SLOTS)
		__atomic_fetch_add(&slots[i], 1, __ATOMIC_RELAXED);
}

/* Count an answer from its yield line. */
RG_HOT void stats_yield(const char *state_dir, enum stats_family f, const char *line)
{
	char result[16] = "", source[16] = "none", reason[16] = "";

	yield_get(line, "result", result, sizeof result);
	yield_get(line, "source", source, sizeof source);
	yield_get(line, "reason", reason, sizeof reason);
	switch (f) {
	case STATS_VERDICT:
		stats_count(state_dir, STATS_VERDICT, source, result);
		if (strcmp(result, "defer") == 0)
			stats_count(state_dir, STATS_DEFER, "recipient", reason);
		break;
	case STATS_GREYLIST:
		stats_count(state_dir, STATS_GREYLIST, result, reason);
		break;
	case STATS_FCRDNS:
		stats_count(state_dir, STATS_FCRDNS, result, reason[0] ? reason : "none");
		if (strcmp(result, "defer") == 0)
			stats_count(state_dir, STATS_DEFER, "fcrdns", reason);
		break;
	default:
		break;
	}
}

/* Count a callout RCPT from its reply code. */
void stats_callout(const char *state_dir, const char *kind, int code)
{
	const char *o = code / 100 == 2 ? "accept" : code / 100 == 5 ? "reject" :
			code / 100 == 4 ? "tempfail" : "error";

	stats_count(state_dir, STATS_CALLOUT, kind, o);
}

/* Read the counters and call fn for each. */
int stats_read(const char *state_dir, stats_entry_fn *fn, void *arg, char *err, size_t errlen)
{
	static uint64_t buf[STATS_SLOTS];
	char path[RG_PATH_MAX + 16];
	struct stats_header h;
	struct stat sb;
	struct stats_entry e;
	unsigned f, i, j, slot = 0;
	int fd, rc = RG_FOUND;

	memset(buf, 0, sizeof buf);
	if (util_snprintf(path, sizeof path, "%s/stats", state_dir) < 0)
		return util_snprintf(err, errlen, "state_dir too long"), RG_CONFIG;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && errno != ENOENT)
		return util_snprintf(err, errlen, "%s: %s", path, strerror(errno)), RG_TEMPFAIL;
	if (fd < 0) {
		rc = RG_NOTFOUND;
	} else {
		/* Bounded read of a regular file of the exact size; anything else is damage. */
		if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size != STATS_FILE_SIZE ||
		    pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h || memcmp(h.magic, STATS_MAGIC, 8) != 0 ||
		    h.slots != STATS_SLOTS || pread(fd, buf, sizeof buf, STATS_HEADER) != (ssize_t)sizeof buf) {
			close(fd);
			return util_snprintf(err, errlen, "%s: damaged (it is recreated at the next count)", path),
			       RG_TEMPFAIL;
		}
		close(fd);
	}
	for (f = 0; f < STATS_FAMILIES; f++) {
		const struct stats_family_def *d = &stats_families[f];

		for (i = 0; i < stats_nvalues(d->l1); i++)
			for (j = 0; j < stats_nvalues(d->l2); j++, slot++) {
				e.metric = d->metric;
				e.help = d->help;
				e.labels[0] = '\0';
				if (d->l1 && d->l2)
					snprintf(e.labels, sizeof e.labels, "%s=\"%s\",%s=\"%s\"", d->l1name, d->l1[i],
						 d->l2name, d->l2[j]);
				else if (d->l1)
					snprintf(e.labels, sizeof e.labels, "%s=\"%s\"", d->l1name, d->l1[i]);
				e.value = __atomic_load_n(&buf[slot], __ATOMIC_RELAXED);
				fn(&e, arg);
			}
	}
	return rc;
}

/* The labels as a JSON object: name="value" pairs become "name":"value". */
void stats_labels_json(const struct stats_entry *e, char *buf, size_t size)
{
	const char *p;
	size_t o = 0;

	if (size < 3)
		return;
	buf[o++] = '{';
	for (p = e->labels; *p && o + 4 < size; p++) {
		if (p == e->labels || p[-1] == ',')
			buf[o++] = '"';
		if (*p == '=')
			buf[o++] = '"', buf[o++] = ':';
		else
			buf[o++] = *p;
	}
	buf[o++] = '}';
	buf[o] = '\0';
}
