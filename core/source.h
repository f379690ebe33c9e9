/*
 * source.h - the recipient-source family (ops struct + registry).
 *
 * Members: "callout", "list", "ldap" (source_*.c), in source.c's registry. A source answers
 * for one address: RG_FOUND (exists), RG_NOTFOUND (does not), RG_TEMPFAIL (cannot tell
 * now: the chain moves on), RG_CONFIG (not configured for this domain: the chain moves on).
 */
#ifndef RG_SOURCE_H
#define RG_SOURCE_H

#include "address.h"
#include "config.h"
#include "verdict.h"

struct source_answer {
	int catchall;                   /* the destination accepts anything: cannot answer */
	char text[VERDICT_TEXT_MAX];    /* what the source said (remote reply, entry DN, ...) */
};

struct source_ops {
	const char *name;
	/* Answer for addr under settings s, before deadline_ms (util_monotonic_ms clock). */
	int (*lookup)(const struct address *addr, const struct settings *s, int64_t deadline_ms,
		      struct source_answer *ans, char *err, size_t errlen);
	/* Release per-process resources (connections). May be NULL. */
	void (*reset)(void);
	/* Whether a cached verdict this member gave (cv->source is its name) is contradicted
	 * by what it says now: 1 the verdict is void (the chain runs again), 0 it stands.
	 * Cheap and local (no remote call). May be NULL: cached verdicts stand. */
	int (*revalidate)(const struct address *addr, const struct settings *s, const struct verdict *cv);
	/* The config in force for the lookups that follow (a member that reads other
	 * domains' settings keeps it; the caller keeps it alive until the next call).
	 * May be NULL. */
	void (*configure)(const struct config *c);
};

extern const struct source_ops *const source_registry[];

/* Find a member by name (NULL when unknown). */
const struct source_ops *source_find(const char *name);

/* Give every member the config in force (before a chain runs). */
void source_configure(const struct config *c);

/* Whether the cached verdict cv is void: its member (by cv->source) revalidates it, when
 * that member is still among s->sources and has the operation. */
int source_revalidate(const struct address *addr, const struct settings *s, const struct verdict *cv);

#endif
