/*
 * config.h - hrauditd.ini: one table maps [section] key to type, bounds,
 * default and field (config.c); every error names file:line.
 *
 * The daemon and the CLI both load it; nothing starts on a bad file.
 */
#ifndef HRAUDIT_CONFIG_H
#define HRAUDIT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "access.h"
#include "classify.h"
#include "compliance.h"
#include "extract.h"

#define CONFIG_DEFAULT_PATH "/etc/hraudit/hrauditd.ini"
#define CONFIG_MAX_KEYS 64

enum config_tls_verify {
	CONFIG_TLS_REQUIRE,          /* a client certificate from ca_file     */
	CONFIG_TLS_VERIFY,           /* checked if the client sends one       */
	CONFIG_TLS_IGNORE,           /* not asked for                         */
};

enum config_tls_profile {
	CONFIG_TLS_BCP195_ND,        /* BCP 195, non-downgrading (default)    */
	CONFIG_TLS_BCP195,
	CONFIG_TLS_BCP195_EX,        /* BCP 195, extended                     */
};

struct config {
	struct {
		char aetitle[17];
		bool check_called_aetitle;
		char bind[64];               /* IPv4 address; 0.0.0.0 for any      */
		unsigned port;               /* 0: no plain listener               */
		unsigned max_associations;
		unsigned max_pdu_bytes;
		unsigned acse_timeout_s;
		unsigned dimse_timeout_s;
		unsigned socket_timeout_s;   /* a read or write making no progress */
		unsigned max_header_bytes;
		unsigned shutdown_grace_s;   /* after SIGTERM                      */
	} server;
	/* [access] allow = AETITLE [ADDRESS[/PREFIX]]..., repeated. */
	struct access_list access;
	/* [tls]: the DICOM TLS listener (PS3.15 B.1, BCP 195 profiles). */
	struct {
		unsigned port;               /* 0: none                            */
		char certificate[4096];      /* PEM                                */
		char private_key[4096];      /* PEM, unencrypted                   */
		char ca_file[4096];          /* PEM, CAs trusted for clients       */
		int client_certificate;      /* enum config_tls_verify             */
		int profile;                 /* enum config_tls_profile            */
	} tls;
	struct {
		char path[4096];
		unsigned busy_timeout_ms;
		bool synchronous_full;
	} database;
	struct extract_filter filter;  /* [filter] description = GLOB, repeated */
	/* [scan_type] rule = CODE COND..., repeated; first match wins, in file
	 * order, then -o order.  None by default. */
	struct classify_rules scan_type_rules;
	/* [compliance]: the site's scan-selection protocol (compliance.h). */
	struct {
		unsigned hrv_high_bpm;         /* hr_var at or above: hrv=high  */
		/* rule = CODE COND..., repeated; the first rule in a file (or
		 * -o) replaces the built-in list, the seed site's table. */
		struct compliance_rules rules;
	} compliance;
	struct {
		int level;                   /* LOG_ERR .. LOG_DEBUG                */
	} log;

	/* Where each key was set, for config_check()'s messages: the file
	 * (borrowed from config_load's caller) and the line, 0 when it was
	 * not set by the file. */
	const char *path;
	unsigned key_line[CONFIG_MAX_KEYS];
};

/* Fills cfg with the built-in defaults (no file read); cfg need not be
 * initialised and is not freed first.  Release it with config_release(). */
void config_defaults(struct config *cfg);

/*
 * Fills cfg with the defaults, then loads path over them (do not call
 * config_defaults() first: its allocations would leak).  Returns 0, or -ENOENT / -EINVAL with a
 * message "path:line: ..." in *errmsg (malloc'd).  On error cfg holds the
 * defaults only.
 */
int config_load(const char *path, struct config *cfg, char **errmsg);

/*
 * Sets one key, "section.key=value" (the -o option of hrauditd): the same
 * checks as a file line.  A scan_type.rule is appended after the rules of
 * the file; so is a compliance.rule, except that the first one replaces
 * the built-in rules if they are still in force.  Returns 0 or -EINVAL
 * with *errmsg.
 */
int config_override(struct config *cfg, const char *assignment, char **errmsg);

/*
 * The checks that involve more than one key, for the daemon, once the file
 * and the -o overrides are in: at least one listener, the TLS files that
 * [tls] port needs.  Returns 0 or -EINVAL with *errmsg "path:line: ..."
 * (the line of the key at fault when the file set it).
 */
int config_check(const struct config *cfg, char **errmsg)
	__attribute__((warn_unused_result));

/* Frees what config_load allocated (the filter patterns, the scan type
 * and compliance rules, the access list).  Accepts NULL. */
void config_release(struct config *cfg);

#endif
