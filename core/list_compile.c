/*
 * list_compile.c - the compile side of static lists: read a customer's list file safely,
 * validate it, compile it into the tinycdb index every Exim process maps, record why a
 * version is refused or held, install an uploaded list (see list_compile.h).
 *
 * Why the reading rules: the file is the customer's. Only a regular file is read (a FIFO
 * would block open(), /dev/zero would never end), opened non-blocking and checked with
 * fstat before a byte is read, bounded by list_max_size and list_max_lines; run as root,
 * it is opened as state_dir's owner, so that root never reads for a customer what Exim
 * could not (a link to /etc/shadow); problems name file:line, never the line's text.
 */
#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "list_compile.h"
#include "list_parse.h"
#include "rglog.h"

#define LIST_DEFAULT_MAX_MIB 256        /* bounds of a file checked for no domain (list check) */
#define LIST_DEFAULT_MAX_LINES 10000000
/* Why a leading NUL: no address can start with one, so the record never shadows a key. */
static const char list_meta_key[] = "\0rcptguard-meta";
#define LIST_META_KLEN (sizeof list_meta_key - 1)

/* ---------------------------------------------------------------- files under state_dir/lists */

/* Give a file created by root (the CLI) to the state dir's owner (Exim's user). */
void list_compile_chown(const struct settings *s, int fd)
{
	struct stat d, f;

	if (geteuid() != 0 || stat(s->state_dir, &d) < 0 || d.st_uid == 0)
		return;
	if (fstat(fd, &f) == 0 && f.st_uid == 0 && fchown(fd, d.st_uid, d.st_gid) < 0)
		rglog(RGLOG_INFO, "rcptguard: list: cannot chown in %s: %s", s->state_dir, strerror(errno));
}

/* Create state_dir/lists (mode 0750, owned like the state dir). */
int list_compile_mkdir(const struct settings *s, char *err, size_t errlen)
{
	char dir[RG_PATH_MAX];
	int fd;

	if (util_snprintf(dir, sizeof dir, "%s/" LIST_DIR, s->state_dir) < 0)
		return util_snprintf(err, errlen, "state_dir too long"), -1;
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return util_snprintf(err, errlen, "%.200s: %s", dir, strerror(errno)), -1;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		list_compile_chown(s, fd);
		close(fd);
	}
	return 0;
}

/* ---------------------------------------------------------------- index files */

/* Format the metadata record. */
static int list_compile_meta_format(const struct list_meta *m, char *out, size_t size)
{
	return util_snprintf(out, size, "v1 %" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64 " %" PRId64
			     " %" PRIu64 " %" PRId64 " %s", m->src.dev, m->src.ino, m->src.size,
			     m->src.mtime_ns, m->src.ctime_ns, m->entries, m->compiled, m->path);
}

/* Read the metadata record of a mapped index; 0 ok. */
int list_compile_meta_read(struct cdb *c, struct list_meta *m)
{
	char buf[RG_PATH_MAX + 200];
	unsigned len;
	int n = 0;

	if (cdb_find(c, list_meta_key, LIST_META_KLEN) <= 0 || (len = cdb_datalen(c)) >= sizeof buf ||
	    cdb_read(c, buf, len, cdb_datapos(c)) < 0)
		return -1;
	buf[len] = '\0';
	memset(m, 0, sizeof *m);
	if (sscanf(buf, "v1 %" SCNu64 " %" SCNu64 " %" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNu64 " %" SCNd64 " %n",
		   &m->src.dev, &m->src.ino, &m->src.size, &m->src.mtime_ns, &m->src.ctime_ns,
		   &m->entries, &m->compiled, &n) != 7 || n == 0)
		return -1;
	return util_strlcpy(m->path, buf + n, sizeof m->path);
}

/* ---------------------------------------------------------------- state file */

/* Read base.state; 0 when one was decoded. */
int list_compile_state_read(const char *base, struct list_state *s)
{
	char file[RG_PATH_MAX + 16], buf[RG_ERRLEN + 512];
	unsigned max_shrink;
	int n = 0, fate;
	ssize_t len;
	int fd;

	if (list_file(base, ".state", file, sizeof file) < 0 || (fd = open(file, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	len = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (len <= 0)
		return -1;
	buf[len] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	memset(s, 0, sizeof *s);
	if (sscanf(buf, "v1 %d %" SCNu64 " %" SCNu64 " %" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNu64
		   " %" SCNu64 " %u %255s %n", &fate, &s->src.dev, &s->src.ino, &s->src.size, &s->src.mtime_ns,
		   &s->src.ctime_ns, &s->at, &s->entries, &s->dropped, &max_shrink, s->domain, &n) != 11 || n == 0 ||
	    (fate != LIST_REFUSED && fate != LIST_HELD))
		return -1;
	s->fate = fate;
	s->max_shrink = max_shrink;
	if (strcmp(s->domain, "-") == 0)
		s->domain[0] = '\0';
	util_strlcpy(s->reason, buf + n, sizeof s->reason);
	return 0;
}

/* Write base.state whole (temp file, fsync, rename): readers never see half a record. */
int list_compile_state_write(const struct settings *set, const char *base, const struct list_state *s)
{
	char file[RG_PATH_MAX + 16], tmp[RG_PATH_MAX + 16], buf[RG_ERRLEN + 512];
	int fd, ok;

	if (list_file(base, ".state", file, sizeof file) < 0 || list_file(base, ".state.tmp", tmp, sizeof tmp) < 0 ||
	    util_snprintf(buf, sizeof buf, "v1 %d %" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64
			  " %" PRIu64 " %" PRIu64 " %u %s %s\n", s->fate, s->src.dev, s->src.ino, s->src.size,
			  s->src.mtime_ns, s->src.ctime_ns, s->at, s->entries, s->dropped, s->max_shrink,
			  s->domain[0] ? s->domain : "-", s->reason) < 0)
		return -1;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) < 0)
		return -1;
	list_compile_chown(set, fd);
	ok = write(fd, buf, strlen(buf)) == (ssize_t)strlen(buf) && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	if (ok && rename(tmp, file) == 0)
		return 0;
	unlink(tmp);
	return -1;
}

/* Forget the refused/held record (a valid version is now in force). */
void list_compile_state_remove(const char *base)
{
	char file[RG_PATH_MAX + 16];

	if (list_file(base, ".state", file, sizeof file) == 0)
		unlink(file);
	if (list_file(base, ".held.cdb", file, sizeof file) == 0)
		unlink(file);
}

/* ---------------------------------------------------------------- reading a source */

/* Which domains a list file may hold: the asking domain when its settings name the file,
 * and every domain whose settings name it, cached per domain in an open-addressing table
 * (why a table: a shared file may serve thousands of domains, each judged once). */
struct list_compile_dom {
	char *name;
	int allowed;
};

struct list_compile_allow {
	const struct list_ctx *x;
	const char *path;
	struct list_compile_dom *dom;
	size_t ndom, domcap;
	struct settings *tmp;
};

/* list_parse_allowed_fn over a struct list_compile_allow. */
static int list_compile_domain_ok(void *arg, const char *domain)
{
	struct list_compile_allow *al = arg;
	const struct list_ctx *x = al->x;
	size_t i, mask;

	/* The asking domain's settings may name the file through per-call options. */
	if (x->domain && strcmp(domain, x->domain) == 0 && strcmp(x->s->list.path, al->path) == 0)
		return 1;
	if (x->c == NULL)
		return 0;
	if (al->ndom * 2 >= al->domcap) {
		size_t cap = al->domcap ? al->domcap * 2 : 64;
		struct list_compile_dom *d = calloc(cap, sizeof *d);

		if (d == NULL)
			return -1;
		for (i = 0; i < al->domcap; i++) {
			size_t j;

			if (al->dom[i].name == NULL)
				continue;
			for (j = list_fnv1a(al->dom[i].name) & (cap - 1); d[j].name; j = (j + 1) & (cap - 1))
				;
			d[j] = al->dom[i];
		}
		free(al->dom);
		al->dom = d;
		al->domcap = cap;
	}
	mask = al->domcap - 1;
	for (i = list_fnv1a(domain) & mask; al->dom[i].name; i = (i + 1) & mask)
		if (strcmp(al->dom[i].name, domain) == 0)
			return al->dom[i].allowed;
	if (al->tmp == NULL && (al->tmp = malloc(sizeof *al->tmp)) == NULL)
		return -1;
	if ((al->dom[i].name = strdup(domain)) == NULL)
		return -1;
	config_for_domain(x->c, domain, al->tmp);
	al->dom[i].allowed = strcmp(al->tmp->list.path, al->path) == 0;
	al->ndom++;
	return al->dom[i].allowed;
}

/* Free an allow table. */
static void list_compile_allow_free(struct list_compile_allow *al)
{
	size_t i;

	for (i = 0; i < al->domcap; i++)
		free(al->dom[i].name);
	free(al->dom);
	free(al->tmp);
}

/* Set up lp and al to read path for x: its domains, bounds and end marker (x->s NULL: any
 * domain, the default bounds, no marker). */
static void list_compile_setup(struct list_parse *lp, struct list_compile_allow *al, const struct list_ctx *x,
			     const char *path)
{
	memset(lp, 0, sizeof *lp);
	memset(al, 0, sizeof *al);
	al->x = x;
	al->path = path;
	lp->path = path;
	lp->max_bytes = (uint64_t)(x->s ? x->s->list.max_size : LIST_DEFAULT_MAX_MIB) << 20;
	lp->max_lines = x->s ? x->s->list.max_lines : LIST_DEFAULT_MAX_LINES;
	if (x->s) {
		lp->allowed = list_compile_domain_ok;
		lp->allowed_arg = al;
		lp->end_marker = x->s->list.end_marker;
	}
}

/* Whether the remembered refusal of domain no longer applies (its settings now name path). */
int list_compile_allowed(const struct list_ctx *x, const char *path, const char *domain)
{
	struct list_compile_allow al = { .x = x, .path = path };
	int r = list_compile_domain_ok(&al, domain) == 1;

	list_compile_allow_free(&al);
	return r;
}

/* Open path read-only without blocking (a FIFO must not hang open()), with extra flags
 * (O_NOFOLLOW): fd, or -1 with the errno in *e. */
static int list_compile_open_plain(const char *path, int flags, int *e)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | flags);

	*e = fd < 0 ? errno : 0;
	return fd;
}

/* Open path as uid/gid in a child (fd passed back over a socket pair): what root's CLI
 * reads for a list is what Exim's user could read, no more. fd, or -1 with *e. */
static int list_compile_open_as(const char *path, uid_t uid, gid_t gid, int flags, int *e)
{
	char cbuf[CMSG_SPACE(sizeof(int))], byte = 0;
	struct iovec iov = { &byte, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	struct cmsghdr *cm;
	int sv[2], fd = -1, code, st;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return *e = errno, -1;
	if ((pid = fork()) < 0) {
		*e = errno;
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
			code = errno, fd = -1;
		else
			fd = list_compile_open_plain(path, flags, &code);
		byte = (char)(code & 0x7f);
		memset(cbuf, 0, sizeof cbuf);
		if (fd >= 0) {
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &fd, sizeof fd);
		} else {
			mh.msg_control = NULL;
			mh.msg_controllen = 0;
		}
		_exit(sendmsg(sv[1], &mh, 0) == 1 ? 0 : 1);
	}
	close(sv[1]);
	*e = EIO;
	if (recvmsg(sv[0], &mh, MSG_CMSG_CLOEXEC) == 1) {
		*e = byte;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
				memcpy(&fd, CMSG_DATA(cm), sizeof fd), *e = 0;
	}
	close(sv[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return fd;
}

/* Who reads a file that no domain names, for root's list check: the owner of its directory,
 * or Exim's user when root owns the directory (never root). */
static void list_compile_reader(const char *path, uid_t *uid, gid_t *gid)
{
	char dir[RG_PATH_MAX];
	const char *slash = strrchr(path, '/');
	const struct passwd *pw;
	struct stat d;

	*uid = *gid = 65534;            /* nobody, when nothing better is known */
	if (slash == NULL)
		util_strlcpy(dir, ".", sizeof dir);
	else
		util_snprintf(dir, sizeof dir, "%.*s", (int)(slash - path) + (slash == path), path);
	if (stat(dir, &d) == 0 && d.st_uid != 0) {
		*uid = d.st_uid;
		*gid = d.st_gid;
	} else if ((pw = getpwnam("Debian-exim")) != NULL || (pw = getpwnam("exim")) != NULL) {
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
	}
}

/*
 * Open x's list source path for reading: not blocking, as state_dir's owner when run as
 * root, only a regular file of at most list_max_size. fd and its stat in *sb; -1 with err
 * when it cannot be read now (a system error), -2 with err when it is no list at all (a
 * refusal: a FIFO, a device, a directory, too large).
 */
static int list_compile_open(const struct list_ctx *x, const char *path, struct stat *sb, char *err, size_t errlen)
{
	uint64_t max = (uint64_t)(x->s ? x->s->list.max_size : LIST_DEFAULT_MAX_MIB) << 20;
	struct stat d;
	int fd, e = 0;

	/* Why: a root CLI following a customer's link to /etc/shadow must get "Permission
	 * denied", as Exim (state_dir's owner) would. */
	if (geteuid() == 0 && x->s && stat(x->s->state_dir, &d) == 0 && d.st_uid != 0) {
		fd = list_compile_open_as(path, d.st_uid, d.st_gid, 0, &e);
	} else if (geteuid() == 0 && x->s == NULL) {
		uid_t uid;
		gid_t gid;

		/* Why: a file no domain names (root's list check FILE) has no Exim reader to
		 * stand for; root reads it as whoever owns its directory, and never through a
		 * link (which could point anywhere). */
		list_compile_reader(path, &uid, &gid);
		fd = list_compile_open_as(path, uid, gid, O_NOFOLLOW, &e);
		if (fd < 0 && e == ELOOP)
			return util_snprintf(err, errlen, "%.150s: a symbolic link (root checks only the file itself)",
					     path), -2;
	} else {
		fd = list_compile_open_plain(path, 0, &e);
	}
	if (fd < 0)
		return util_snprintf(err, errlen, "%.150s: %s", path, strerror(e)), -1;
	if (fstat(fd, sb) < 0) {
		e = errno;
		close(fd);
		return util_snprintf(err, errlen, "%.150s: %s", path, strerror(e)), -1;
	}
	if (!S_ISREG(sb->st_mode)) {
		close(fd);
		return util_snprintf(err, errlen, "%.150s: not a regular file (a list must be a plain file)", path), -2;
	}
	if ((uint64_t)sb->st_size > max) {
		close(fd);
		return util_snprintf(err, errlen, "%.150s: larger than list_max_size = %" PRIu64 " MiB", path,
				     max >> 20), -2;
	}
	/* A regular file never blocks; the flag is cleared for plain stdio reads. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

/* Read f into lp; without problems, its keys sorted into *v (*n of them; caller frees), an
 * empty list being a problem. 0 (problems counted in lp), -1 with err. */
static int list_compile_read(struct list_parse *lp, FILE *f, char ***v, size_t *n, char *err, size_t errlen)
{
	*v = NULL;
	*n = 0;
	if (list_parse_stream(lp, f, err, errlen) < 0)
		return -1;
	if (lp->problems)
		return 0;
	if ((*v = list_parse_sorted(lp, n)) == NULL)
		return util_snprintf(err, errlen, "out of memory"), -1;
	if (*n == 0)
		list_parse_problem(lp, 0, "no addresses (an empty list would reject every recipient)");
	return 0;
}

/* list_parse_problem_fn of list_check: the message to the caller's list_problem_fn. */
struct list_compile_check_cb {
	list_problem_fn *fn;
	void *arg;
};

static void list_compile_check_problem(void *arg, unsigned long line, const char *what, const char *msg)
{
	struct list_compile_check_cb *cb = arg;

	(void)line;
	(void)what;
	cb->fn(cb->arg, msg);
}

/* Free a validation's memory (lp, al, the sorted keys v); its outcome: RG_TEMPFAIL (rc < 0),
 * RG_NOTFOUND with the problem count in err, or RG_FOUND. */
static int list_compile_outcome(struct list_parse *lp, struct list_compile_allow *al, char **v, int rc,
				char *err, size_t errlen)
{
	unsigned long problems = lp->problems;

	free(v);
	list_parse_free(lp);
	list_compile_allow_free(al);
	if (rc < 0)
		return RG_TEMPFAIL;
	if (problems)
		util_snprintf(err, errlen, "%lu problem(s)", problems);
	return problems ? RG_NOTFOUND : RG_FOUND;
}

/* Validate path for x (list_check). */
int list_compile_check(const struct list_ctx *x, const char *path, list_problem_fn *fn, void *arg,
	       unsigned max_problems, uint64_t *entries, uint64_t *entry_lines, char *err, size_t errlen)
{
	struct list_compile_check_cb cb = { fn, arg };
	struct list_parse lp;
	struct list_compile_allow al;
	struct stat sb;
	char **v = NULL;
	size_t n = 0;
	FILE *f;
	int rc, fd;

	*entries = *entry_lines = 0;
	list_compile_setup(&lp, &al, x, path);
	lp.fn = fn ? list_compile_check_problem : NULL;
	lp.arg = &cb;
	lp.max = max_problems ? max_problems : 1;
	if ((fd = list_compile_open(x, path, &sb, err, errlen)) == -2) {
		if (fn)
			fn(arg, err);
		return RG_NOTFOUND;
	}
	if (fd < 0 || (f = fdopen(fd, "r")) == NULL) {
		if (fd >= 0)
			util_snprintf(err, errlen, "%.150s: %s", path, strerror(errno)), close(fd);
		return RG_TEMPFAIL;
	}
	rc = list_compile_read(&lp, f, &v, &n, err, errlen);
	fclose(f);
	*entries = n;
	*entry_lines = lp.entries;
	return list_compile_outcome(&lp, &al, v, rc, err, errlen);
}

/* ---------------------------------------------------------------- compiling */

static uint64_t list_compile_mem_mib;   /* the bound set by list_compile_limit_memory (MiB) */

/* The data memory this process uses now (VmData), in bytes; 0 when unknown. */
static uint64_t list_compile_vmdata(void)
{
	char line[128];
	unsigned long long kb = 0;
	FILE *f = fopen("/proc/self/status", "re");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "VmData: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb << 10;
}

/* Bound the data memory of a detached compile. */
int list_compile_limit_memory(const struct settings *s, char *err, size_t errlen)
{
	uint64_t mib = s->list.max_memory ? s->list.max_memory : 8 * (uint64_t)s->list.max_size + 64;
	uint64_t base = list_compile_vmdata(), want = base + (mib << 20);
	struct rlimit rl;

	if (base == 0)
		return util_snprintf(err, errlen, "cannot read /proc/self/status"), -1;
	if (getrlimit(RLIMIT_DATA, &rl) < 0)
		return util_snprintf(err, errlen, "getrlimit: %s", strerror(errno)), -1;
	/* Why: a compile's memory follows its file (keys, offsets, the sorted array, the cdb
	 * tables); the file is bounded, and so must be what the compile may take from the
	 * machine that Exim runs on. Only ever lowered. */
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur <= want)
		return 0;
	rl.rlim_cur = want;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
		rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_DATA, &rl) < 0)
		return util_snprintf(err, errlen, "setrlimit: %s", strerror(errno)), -1;
	list_compile_mem_mib = mib;
	return 0;
}

/* Whether err says an allocation failed (under the bound set above). */
static int list_compile_oom(const char *err)
{
	return list_compile_mem_mib && (strstr(err, "out of memory") || strstr(err, strerror(ENOMEM)));
}

/* Finish a temp file written through fd (ok: every write went through): fsync, close,
 * rename over file, fsync dir; on any failure tmp is removed. 0, or -1 with err. */
static int list_compile_commit(int fd, int ok, const char *tmp, const char *file, const char *dir,
			       char *err, size_t errlen)
{
	int dfd;

	/* Why fsync before rename: after a crash the name must never point at unwritten blocks. */
	ok = ok && fsync(fd) == 0;
	if (!ok)
		util_snprintf(err, errlen, "%.150s: %s", tmp, strerror(errno));
	if (close(fd) < 0 && ok)
		ok = 0, util_snprintf(err, errlen, "%.150s: %s", tmp, strerror(errno));
	if (ok && rename(tmp, file) < 0)
		ok = 0, util_snprintf(err, errlen, "%.150s: %s", file, strerror(errno));
	if (!ok) {
		unlink(tmp);
		return -1;
	}
	/* Why the directory too: the rename itself must survive a crash. */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

/* Write the index of keys v[0..n) to file (temp, fsync, rename): readers never map half an
 * index, and a crash leaves the old one or the new one. */
static int list_compile_write_index(const struct list_ctx *x, const char *base, const char *suffix,
			    const struct list_meta *m, char **v, size_t n, char *err, size_t errlen)
{
	char tmp[RG_PATH_MAX + 16], file[RG_PATH_MAX + 16], meta[RG_PATH_MAX + 200], dir[RG_PATH_MAX];
	struct cdb_make cm;
	size_t i;
	int fd, ok;

	if (list_file(base, ".tmp", tmp, sizeof tmp) < 0 || list_file(base, suffix, file, sizeof file) < 0 ||
	    list_compile_meta_format(m, meta, sizeof meta) < 0 ||
	    util_snprintf(dir, sizeof dir, "%s/" LIST_DIR, x->s->state_dir) < 0)
		return util_snprintf(err, errlen, "path too long"), -1;
	if ((fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) < 0)
		return util_snprintf(err, errlen, "%.150s: %s", tmp, strerror(errno)), -1;
	list_compile_chown(x->s, fd);
	ok = cdb_make_start(&cm, fd) == 0 &&
	     cdb_make_add(&cm, list_meta_key, LIST_META_KLEN, meta, (unsigned)strlen(meta)) == 0;
	for (i = 0; ok && i < n; i++)
		ok = cdb_make_add(&cm, v[i], (unsigned)strlen(v[i]), "", 0) == 0;
	ok = cdb_make_finish(&cm) == 0 && ok;
	return list_compile_commit(fd, ok, tmp, file, dir, err, errlen);
}

/* Entries of p's index in force that keys v[0..n) lack. */
static uint64_t list_compile_dropped(struct cdb *c, char **v, size_t n)
{
	char key[RG_ADDRESS_MAX + 1];
	const char *kp = key;
	uint64_t dropped = 0;
	unsigned pos;

	cdb_seqinit(&pos, c);
	while (cdb_seqnext(&pos, c) > 0) {
		unsigned kl = cdb_keylen(c);

		if (kl == 0 || kl >= sizeof key || cdb_read(c, key, kl, cdb_keypos(c)) < 0 || key[0] == '\0')
			continue;
		key[kl] = '\0';
		if (bsearch(&kp, v, n, sizeof *v, list_parse_cmp) == NULL)
			dropped++;
	}
	return dropped;
}

/* Compile version *ver of x->s->list.path into base's index (the caller holds the lock). */
int list_compile(const struct list_ctx *x, const char *base, struct cdb *in_force, uint64_t in_force_entries,
		 const struct list_version *ver, struct list_state *st, char *err, size_t errlen)
{
	struct list_parse lp;
	struct list_compile_allow al;
	struct list_version after;
	struct list_meta m;
	struct stat sb;
	char **v = NULL;
	size_t n = 0;
	int64_t t0 = util_monotonic_ms();
	int rc = -1, fd;
	FILE *f;

	memset(st, 0, sizeof *st);
	list_compile_setup(&lp, &al, x, x->s->list.path);
	if ((fd = list_compile_open(x, x->s->list.path, &sb, err, errlen)) == -2) {
		/* Not a list at all (a FIFO, /dev/zero, too large): judged, so that nobody retries. */
		st->src = *ver;
		st->at = util_now();
		st->fate = LIST_REFUSED;
		util_strlcpy(st->reason, err, sizeof st->reason);
		return 1;
	}
	if (fd < 0)
		return -1;
	if ((list_version_of(&sb, &after), !list_version_eq(&after, ver)) || (f = fdopen(fd, "r")) == NULL) {
		close(fd);
		return util_snprintf(err, errlen, "%.150s changed while opened", x->s->list.path), -1;
	}
	rc = list_compile_read(&lp, f, &v, &n, err, errlen);
	/* Why a second stat: a writer may have written while we read; what we read is then
	 * no version at all. Not judged: the next lookup looks again. */
	if (rc == 0 && (fstat(fileno(f), &sb) < 0 || (list_version_of(&sb, &after), !list_version_eq(&after, ver)))) {
		util_snprintf(err, errlen, "%.150s changed while read", x->s->list.path);
		rc = -1;
	}
	fclose(f);
	if (rc < 0)
		goto out;
	st->src = *ver;
	st->at = util_now();
	if (lp.problems) {
		st->fate = LIST_REFUSED;
		util_strlcpy(st->domain, lp.first_domain, sizeof st->domain);
		util_strlcpy(st->reason, lp.first, sizeof st->reason);
		rc = 1;
		goto out;
	}
	memset(&m, 0, sizeof m);
	util_strlcpy(m.path, x->s->list.path, sizeof m.path);
	m.src = *ver;
	m.entries = n;
	m.compiled = util_now();
	st->entries = n;
	if (in_force && in_force_entries > 0 && x->s->list.max_shrink > 0) {
		st->dropped = list_compile_dropped(in_force, v, n);
		/* Why: a truncated upload that still parses (cut at a line end) would make every
		 * dropped mailbox a 550; a large drop waits for the operator. */
		if (st->dropped * 100 > (uint64_t)x->s->list.max_shrink * in_force_entries) {
			st->fate = LIST_HELD;
			st->max_shrink = x->s->list.max_shrink;
			util_snprintf(st->reason, sizeof st->reason, "drops %" PRIu64 " of the %" PRIu64
				      " entries in force (more than list_max_shrink = %u%%)",
				      st->dropped, in_force_entries, st->max_shrink);
			rc = list_compile_write_index(x, base, ".held.cdb", &m, v, n, err, errlen) < 0 ? -1 : 1;
			goto out;
		}
	}
	rc = list_compile_write_index(x, base, ".cdb", &m, v, n, err, errlen);
	if (rc == 0)
		rglog(RGLOG_INFO, "rcptguard: list %.200s: new version in force, %zu entries (compiled in %lld ms)",
		      x->s->list.path, n, (long long)(util_monotonic_ms() - t0));
out:
	/* Out of memory under the compile's bound: judged (refused), not retried; it would
	 * run out again. */
	if (rc < 0 && list_compile_oom(err)) {
		memset(st, 0, sizeof *st);
		st->src = *ver;
		st->at = util_now();
		st->fate = LIST_REFUSED;
		util_snprintf(st->reason, sizeof st->reason, "%.150s: the compile ran out of memory (list_max_memory = %"
			      PRIu64 " MiB): the list is too large; split it or raise list_max_memory",
			      x->s->list.path, list_compile_mem_mib);
		rc = 1;
	}
	free(v);
	list_parse_free(&lp);
	list_compile_allow_free(&al);
	return rc;
}

/* ---------------------------------------------------------------- upload (web API) */

struct list_compile_upload_cb {
	list_line_problem_fn *fn;
	void *arg;
};

/* list_parse_problem_fn of list_upload: the line and what is wrong. */
static void list_compile_upload_problem(void *arg, unsigned long line, const char *what, const char *msg)
{
	struct list_compile_upload_cb *cb = arg;

	(void)msg;
	if (cb->fn)
		cb->fn(cb->arg, line > UINT_MAX ? UINT_MAX : (unsigned)line, what);
}

/* Validate data[0..len) as x's list (list_upload). */
int list_compile_upload_check(const struct list_ctx *x, const char *data, size_t len, list_line_problem_fn *fn,
			      void *arg, uint64_t *entry_lines, char *err, size_t errlen)
{
	struct list_compile_upload_cb cbs = { fn, arg };
	struct list_parse lp;
	struct list_compile_allow al;
	char **v = NULL;
	size_t n = 0;
	FILE *f;
	int rc;

	list_compile_setup(&lp, &al, x, x->s->list.path);
	lp.fn = list_compile_upload_problem;
	lp.arg = &cbs;
	lp.max = UINT_MAX;
	if (len > lp.max_bytes) {
		list_parse_problem(&lp, 0, "larger than list_max_size = %u MiB", x->s->list.max_size);
		rc = 0;
	} else if (len == 0) {
		list_parse_problem(&lp, 0, "no addresses (an empty list would reject every recipient)");
		rc = 0;
	} else if ((f = fmemopen((void *)data, len, "r")) == NULL) {
		util_snprintf(err, errlen, "fmemopen: %s", strerror(errno));
		rc = -1;
	} else {
		rc = list_compile_read(&lp, f, &v, &n, err, errlen);
		fclose(f);
	}
	*entry_lines = lp.entries;
	return list_compile_outcome(&lp, &al, v, rc, err, errlen);
}

/* Create a temp file ".NAME.upload.N" in dfd, never through an existing name; fd, or -1. */
static int list_compile_tmp(int dfd, const char *name, mode_t mode, char *tmp, size_t size)
{
	static unsigned seq;
	int fd = -1, i;

	for (i = 0; fd < 0 && i < 100; i++) {
		if (util_snprintf(tmp, size, ".%s.upload.%ld.%u", name, (long)getpid(),
				  __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED) ^ (unsigned)util_monotonic_ms()) < 0)
			return errno = ENAMETOOLONG, -1;
		/* Why O_EXCL and O_NOFOLLOW: a name prepared by someone else is never written through. */
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd < 0 && errno != EEXIST)
			return -1;
	}
	return fd;
}

/* Act as pd's filesystem identity (the directory's owner) or, back, as root. */
static void list_compile_as_owner(const struct list_pending *pd, int on)
{
	if (!pd->as_owner)
		return;
	setfsgid(on ? pd->gid : 0);
	setfsuid(on ? pd->uid : 0);
}

/* Write data to a temp file beside path and fsync it (pd keeps the directory and the name
 * for list_compile_install_rename). Run as root (the web API), the file is made with the
 * directory owner's uid (per-thread filesystem ids: the daemon's other threads stay root)
 * and the group of the file it replaces (Exim's for a new list), so root never writes
 * where the customer could not; mode that of the file it replaces (0640 for a new one). */
int list_compile_install_write(const struct settings *s, const char *path, const char *data, size_t len,
			       struct list_pending *pd, char *err, size_t errlen)
{
	char dir[RG_PATH_MAX];
	const char *slash = strrchr(path, '/'), *name = slash ? slash + 1 : path;
	struct stat old, d, sd;
	mode_t mode = 0640;
	size_t off = 0;
	int fd, have_old, e = 0;

	memset(pd, 0, sizeof *pd);
	pd->dfd = -1;
	if (slash == NULL)
		util_strlcpy(dir, ".", sizeof dir);
	else if (util_snprintf(dir, sizeof dir, "%.*s", (int)(slash - path) + (slash == path), path) < 0)
		return util_snprintf(err, errlen, "list path too long"), -1;
	if (util_strlcpy(pd->name, name, sizeof pd->name) < 0 || util_strlcpy(pd->path, path, sizeof pd->path) < 0)
		return util_snprintf(err, errlen, "list path too long"), -1;
	/* Why a directory descriptor: every step acts in the directory seen here, even if its
	 * name is swapped meanwhile. */
	if ((pd->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || fstat(pd->dfd, &d) < 0) {
		e = errno;
		list_compile_install_abort(pd);
		return util_snprintf(err, errlen, "%.150s: %s", dir, strerror(e)), -1;
	}
	/* Why no-follow: a customer's link at path is replaced, never copied from (its target
	 * may be root's: its owner and mode must not pass to the new list). */
	have_old = fstatat(pd->dfd, name, &old, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(old.st_mode);
	if (have_old)
		mode = old.st_mode & 0666;
	if (geteuid() == 0 && d.st_uid != 0) {
		pd->as_owner = 1;
		pd->uid = d.st_uid;
		pd->gid = have_old ? old.st_gid : stat(s->state_dir, &sd) == 0 ? sd.st_gid : d.st_gid;
	}
	list_compile_as_owner(pd, 1);
	if ((fd = list_compile_tmp(pd->dfd, name, mode, pd->tmp, sizeof pd->tmp)) < 0) {
		e = errno;
		list_compile_as_owner(pd, 0);
		util_snprintf(err, errlen, "%.150s: %s", path, strerror(e));
		close(pd->dfd);
		pd->dfd = -1;
		return -1;
	}
	/* The umask must not narrow the documented mode. */
	e = fchmod(fd, mode) < 0 ? errno : 0;
	while (e == 0 && off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			e = w < 0 ? errno : EIO;
		else
			off += (size_t)w;
	}
	/* Why fsync before rename: after a crash the name must never point at unwritten blocks. */
	if (e == 0 && fsync(fd) < 0)
		e = errno;
	if (close(fd) < 0 && e == 0)
		e = errno;
	list_compile_as_owner(pd, 0);
	if (e != 0) {
		util_snprintf(err, errlen, "%.150s: %s", path, strerror(e));
		list_compile_install_abort(pd);
		return -1;
	}
	return 0;
}

/* Rename pd's temp file over its list and fsync the directory (as the directory's owner). */
int list_compile_install_rename(struct list_pending *pd, char *err, size_t errlen)
{
	int e = 0;

	list_compile_as_owner(pd, 1);
	if (renameat(pd->dfd, pd->tmp, pd->dfd, pd->name) < 0)
		e = errno;
	else
		fsync(pd->dfd);         /* the rename itself must survive a crash */
	list_compile_as_owner(pd, 0);
	if (e != 0) {
		util_snprintf(err, errlen, "%.150s: %s", pd->path, strerror(e));
		list_compile_install_abort(pd);
		return -1;
	}
	close(pd->dfd);
	pd->dfd = -1;
	return 0;
}

/* Remove pd's temp file (when there is one) and forget it. */
void list_compile_install_abort(struct list_pending *pd)
{
	if (pd->dfd >= 0) {
		if (pd->tmp[0]) {
			list_compile_as_owner(pd, 1);
			unlinkat(pd->dfd, pd->tmp, 0);
			list_compile_as_owner(pd, 0);
		}
		close(pd->dfd);
	}
	pd->dfd = -1;
	pd->tmp[0] = '\0';
}
