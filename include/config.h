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

#include "classify.h"
#include "compliance.h"
#include "extract.h"

#define CONFIG_DEFAULT_PATH "/etc/hraudit/hrauditd.ini"

struct config {
	struct {
		char aetitle[17];
		bool check_called_aetitle;
		char bind[64];               /* IPv4 address; 0.0.0.0 for any      */
		unsigned port;
		unsigned max_associations;
		unsigned max_pdu_bytes;
		unsigned acse_timeout_s;
		unsigned dimse_timeout_s;
		unsigned max_header_bytes;
	} server;
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

/* Frees what config_load allocated (the filter patterns, the scan type
 * and compliance rules).  Accepts NULL. */
void config_release(struct config *cfg);

#endif
