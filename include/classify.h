/*
 * classify.h - the scan type of a series: site rules first, then inference
 * from the header (pitch, sequential/triggered acquisition, cardiac phase,
 * ECG pulsing window, model and collimation for the ultra-high-resolution
 * modes).  Pure C, no I/O: runs after extract, before store.
 *
 * Codes: flash, seq_diastolic, seq_systolic, spiral_retro,
 * uhr_spiral_retro, uhr_seq_diastolic; "" when it cannot be told.
 */
#ifndef HRAUDIT_CLASSIFY_H
#define HRAUDIT_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "extract.h"

/* One condition of a site rule: field ~ glob, or number comparison. */
enum classify_field {
	CLASSIFY_DESCRIPTION,       /* series description, glob              */
	CLASSIFY_PROTOCOL,          /* protocol name, glob                   */
	CLASSIFY_STUDY_DESCRIPTION, /* study description, glob               */
	CLASSIFY_MODEL,             /* manufacturer's model name, glob       */
	CLASSIFY_TOKEN,             /* any Scan Options value, glob          */
	CLASSIFY_PHASE,             /* phase_percent, comparison             */
	CLASSIFY_PITCH,             /* pitch, comparison                     */
};

struct classify_cond {
	enum classify_field field;
	char op;                    /* '~' glob, '<', '>', '=', 'l' <=, 'g' >= */
	char *pattern;              /* for '~'                                */
	double number;              /* for comparisons                        */
};

/* A site rule: all conditions must hold; the first rule that matches wins. */
struct classify_rule {
	char code[24];
	struct classify_cond *conds;
	size_t nconds;
	char *text;                 /* as written, for scan_type_source       */
};

struct classify_rules {
	struct classify_rule *rules;
	size_t n;
};

/* True for the six codes above. */
bool classify_code_valid(const char *code);

/*
 * Parses one rule, "CODE COND [COND...]" where COND is field~GLOB or
 * field<N, field>N, field<=N, field>=N, field=N; fields: description,
 * protocol, study_description, model, token, phase, pitch.  Appends it to
 * rules.  Returns 0, or -EINVAL with *errmsg (malloc'd, no file:line: the
 * caller adds it), -ENOMEM.
 */
int classify_rule_add(struct classify_rules *rules, const char *text,
                      char **errmsg);

/* Frees the rules; the struct can be reused.  Accepts NULL. */
void classify_rules_release(struct classify_rules *rules);

/*
 * Sets info->scan_type and info->scan_type_source: the first site rule that
 * matches ("rule N: TEXT"), else the inference ("inferred: REASON"), else
 * "" and "".
 */
void classify_scan_type(const struct classify_rules *rules,
                        struct instance_info *info);

#endif
