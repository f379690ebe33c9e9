/*
 * source.c - the registry of recipient sources, in the order DESIGN.md names them.
 */
#include <string.h>

#include "source.h"

extern const struct source_ops source_callout_ops;
extern const struct source_ops source_list_ops;
extern const struct source_ops source_ldap_ops;

const struct source_ops *const source_registry[] = {
	&source_callout_ops,
	&source_list_ops,
	&source_ldap_ops,
	NULL,
};

/* Find a source by name. */
RG_HOT const struct source_ops *source_find(const char *name)
{
	size_t i;

	for (i = 0; source_registry[i] != NULL; i++)
		if (strcmp(source_registry[i]->name, name) == 0)
			return source_registry[i];
	return NULL;
}

/* Give every member the config in force. */
RG_HOT void source_configure(const struct config *c)
{
	size_t i;

	for (i = 0; source_registry[i] != NULL; i++)
		if (source_registry[i]->configure)
			source_registry[i]->configure(c);
}

/* Ask the member that gave cv whether it still stands. */
RG_HOT int source_revalidate(const struct address *addr, const struct settings *s, const struct verdict *cv)
{
	const struct source_ops *src = source_find(cv->source);

	return src != NULL && src->revalidate != NULL && config_has_source(s, src->name) &&
	       src->revalidate(addr, s, cv) == 1;
}
