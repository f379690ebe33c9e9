/*
 * source_list.c - the "list" member of the recipient-source family: a thin adapter from
 * an address to list_lookup() on the domain's list file.
 */
#include <string.h>

#include "engine.h"
#include "list.h"
#include "source_list.h"

/* Answer for addr from s->list; addresses compare case-insensitively. */
static int source_list_lookup(const struct address *addr, const struct settings *s, int64_t deadline_ms,
			      struct source_answer *ans, char *err, size_t errlen)
{
	struct list_ctx x = { engine_current_config(), s, addr->domain, 1 };
	char key[RG_ADDRESS_MAX + 1];
	int rc;

	(void)deadline_ms;
	memset(ans, 0, sizeof *ans);
	memcpy(key, addr->full, sizeof key);
	util_lower(key);
	rc = list_lookup(&x, key, err, errlen);
	if (rc == RG_FOUND || rc == RG_NOTFOUND)
		util_snprintf(ans->text, sizeof ans->text, "%s list %.150s", rc == RG_FOUND ? "in" : "not in", s->list);
	return rc;
}

const struct source_ops source_list_ops = {
	.name = "list",
	.lookup = source_list_lookup,
	.reset = list_reset,
};
