/*
 * source_ldap_conf.c - the LDAP source's keys and its check: every URI of ldap_uri has a
 * scheme libldap knows, and StartTLS is not asked on a connection that is TLS already.
 * Why here: a mistake is reported at its file:line when the config is read, instead of
 * as a temporary failure at the first RCPT of the domain.
 */
#include <string.h>
#include <strings.h>

#include "ldap_filter.h"
#include "source_ldap_conf.h"

#define T struct ldap_settings

/* ldap_filter: an RFC 4515 template (ldap_filter.c decides). */
static int source_ldap_conf_filter(const char *v, char *why, size_t wl)
{
	return ldap_filter_check(v, why, wl);
}

static const struct config_key ldap_keys[] = {
	CONFIG_KEY_STR("ldap_uri", T, uri, CONFIG_STR, ""),
	CONFIG_KEY_STR("ldap_base", T, base, CONFIG_STR, ""),
	{ "ldap_filter", CONFIG_STR, CONFIG_FIELD(T, filter), 0, 0, 0, "", NULL, source_ldap_conf_filter },
	CONFIG_KEY_STR("ldap_bind_dn", T, bind_dn, CONFIG_STR, ""),
	CONFIG_KEY_STR("ldap_bind_password_file", T, bind_password_file, CONFIG_STR, ""),
	CONFIG_KEY_NUM("ldap_starttls", T, starttls, CONFIG_BOOL, 0, 1, "no"),
	CONFIG_KEY_STR("ldap_tls_cacert", T, tls_cacert, CONFIG_STR, ""),
	CONFIG_KEY_TMO("ldap_timeout", T, timeout, "5s"),
};

/* The LDAP settings as a whole. */
static int source_ldap_conf_check(const void *member, char *err, size_t errlen)
{
	static const char *const schemes[] = { "ldap://", "ldaps://", "ldapi://" };
	const struct ldap_settings *l = member;
	const char *p = l->uri;
	char show[104];
	size_t n, i;

	while (*(p += strspn(p, " ,\t"))) {
		n = strcspn(p, " ,\t");
		for (i = 0; i < 3 && strncasecmp(p, schemes[i], strlen(schemes[i])); i++)
			;
		if (i == 3) {
			util_sanitise(show, 101, p, n);
			return util_snprintf(err, errlen, "ldap_uri \"%s\": not ldap://, ldaps:// or ldapi://", show),
			       RG_CONFIG;
		}
		if (i == 1 && l->starttls)
			return util_snprintf(err, errlen, "ldap_starttls = yes with an ldaps:// URI (TLS already: "
					     "use ldap:// with StartTLS, or ldaps:// without)"), RG_CONFIG;
		p += n;
	}
	return RG_FOUND;
}

const struct config_keyset source_ldap_keyset = {
	"ldap", ldap_keys, sizeof ldap_keys / sizeof ldap_keys[0], source_ldap_conf_check
};
