/*
 * store.c - the store registry and the one store handle of this process.
 *
 * Exim forks one process per SMTP connection and loads the module in each: the store
 * is opened lazily on first use, once per process, and a handle inherited across
 * fork() is abandoned, never used (LMDB forbids using an environment after fork).
 */
#include <string.h>

#include "stats.h"
#include "store.h"

extern const struct store_ops store_lmdb_ops;

const struct store_ops *const store_registry[] = {
	&store_lmdb_ops,
	NULL,
};

static struct {
	struct store_handle h;
	unsigned gen;                   /* util_fork_generation() of the opener */
	char state_dir[RG_PATH_MAX];
} store_cur;

/* The process's store for state_dir, opened on first use. */
const struct store_handle *store_process(const char *state_dir, unsigned map_mib,
					 char *err, size_t errlen)
{
	unsigned gen = util_fork_generation();

	if (store_cur.h.s != NULL && store_cur.gen != gen)
		memset(&store_cur, 0, sizeof store_cur);   /* inherited: abandon, never close */
	if (store_cur.h.s != NULL && strcmp(store_cur.state_dir, state_dir) == 0)
		return &store_cur.h;
	store_process_close();
	if (util_strlcpy(store_cur.state_dir, state_dir, sizeof store_cur.state_dir) < 0) {
		util_snprintf(err, errlen, "state_dir too long");
		return NULL;
	}
	store_cur.h.ops = store_registry[0];
	if (store_cur.h.ops->open(state_dir, map_mib, &store_cur.h.s, err, errlen) != RG_FOUND) {
		stats_count(state_dir, STATS_STORE_ERROR, "open", NULL);
		memset(&store_cur, 0, sizeof store_cur);
		return NULL;
	}
	store_cur.gen = gen;
	return &store_cur.h;
}

/* Close the process's store, if this process opened it. */
void store_process_close(void)
{
	if (store_cur.h.s != NULL && store_cur.gen == util_fork_generation())
		store_cur.h.ops->close(store_cur.h.s);
	memset(&store_cur, 0, sizeof store_cur);
}
