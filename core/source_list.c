/*
 * source_list.c - the "list" member of the recipient-source family: a thin adapter from
 * an address to list_lookup() on the domain's list file.
 *
 * It is on the SMTP path: list_lookup() is asked to leave any compile to a detached child
 * (x.detach). The config (which other domains share a file) comes from the chain through
 * the configure operation, never from the engine's globals.
 */
#include <string.h>

#include "list.h"
#include "source_list.h"

static const struct config *source_list_config;  /* set by the chain before lookups */

/* Keep the config in force for the domain check of compiles. */
static RG_HOT void source_list_configure(const struct config *c)
{
	/* Why only on change: a process forked from Exim's daemon, which set it already
	 * (rcptguard's preload), pays a page fault for its first write here. */
	if (source_list_config != c)
		source_list_config = c;
}

/* list_lookup() of addr (lower-cased) in s->list. */
static int source_list_ask(const struct address *addr, const struct settings *s, char *err, size_t errlen)
{
	struct list_ctx x = { source_list_config, s, addr->domain, 1 };
	char key[RG_ADDRESS_MAX + 1];

	memcpy(key, addr->full, sizeof key);
	util_lower(key);
	return list_lookup(&x, key, err, errlen);
}

/* Answer for addr from s->list.path; addresses compare case-insensitively. */
static int source_list_lookup(const struct address *addr, const struct settings *s, int64_t deadline_ms,
			      struct source_answer *ans, char *err, size_t errlen)
{
	int rc;

	/* Why the deadline is not needed: the lookup is a stat and an index probe; no
	 * compile ever runs here. */
	(void)deadline_ms;
	memset(ans, 0, sizeof *ans);
	rc = source_list_ask(addr, s, err, errlen);
	if (rc == RG_FOUND || rc == RG_NOTFOUND)
		util_snprintf(ans->text, sizeof ans->text, "%s list %.150s", rc == RG_FOUND ? "in" : "not in", s->list.path);
	return rc;
}

/*
 * Whether the list in force now contradicts a verdict it gave. Why: the customer's new
 * list is authoritative at once: a mailbox just added must not be refused from the cache
 * for negative_ttl (nor a removed one pass for positive_ttl). Asking costs a stat and an
 * index probe, no more than the cache did.
 */
static int source_list_revalidate(const struct address *addr, const struct settings *s, const struct verdict *cv)
{
	char err[RG_ERRLEN];
	int rc = source_list_ask(addr, s, err, sizeof err);

	return (rc == RG_FOUND || rc == RG_NOTFOUND) && (rc == RG_FOUND) != (cv->pass != 0);
}

const struct source_ops source_list_ops = {
	.name = "list",
	.lookup = source_list_lookup,
	.reset = list_reset,
	.revalidate = source_list_revalidate,
	.configure = source_list_configure,
};
