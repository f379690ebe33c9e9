/*
 * source_ldap_conf.h - the settings of the LDAP source (ldap_*), kept by value in struct
 * settings as s->ldap. Its keys and their check are in source_ldap_conf.c.
 */
#ifndef RG_SOURCE_LDAP_CONF_H
#define RG_SOURCE_LDAP_CONF_H

#include "config_key.h"

struct ldap_settings {
	char uri[CONFIG_LIST_MAX];                     /* ldap_uri: "ldap://h ldaps://h2 ldapi://..." */
	char base[CONFIG_LIST_MAX];                    /* ldap_base */
	char filter[CONFIG_LIST_MAX];                  /* ldap_filter: "" = LDAP_FILTER_DEFAULT */
	char bind_dn[CONFIG_LIST_MAX];                 /* ldap_bind_dn: "" = anonymous */
	char bind_password_file[RG_PATH_MAX];          /* ldap_bind_password_file */
	char tls_cacert[RG_PATH_MAX];                  /* ldap_tls_cacert: "" = the system's CAs */
	int starttls;                                  /* ldap_starttls: no */
	unsigned timeout;                              /* ldap_timeout: 5s */
};

extern const struct config_keyset source_ldap_keyset;

#endif
