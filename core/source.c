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
const struct source_ops *source_find(const char *name)
{
	size_t i;

	for (i = 0; source_registry[i] != NULL; i++)
		if (strcmp(source_registry[i]->name, name) == 0)
			return source_registry[i];
	return NULL;
}
