/*
 * compliance.h - was the scan type the one the site's scan-selection
 * protocol expects?  The protocol is a list of rules from hrauditd.ini
 * ([compliance] rule = ...): conditions on the exam's heart rate, its
 * heart-rate variability, its calcium score and the scanner, and the scan
 * type they call for.  The first rule that matches gives the expected
 * scan type (`hraudit compliance`, src/cmd_compliance.c).
 *
 * Pure C, no I/O: the CLI fetches the exams and prints the verdicts.
 * A value that is not known is NAN (numbers) or "" (text), as in struct
 * instance_info.
 *
 * Rule syntax, "CODE COND [COND...]", CODE a scan type of classify.h:
 *   hr<N hr<=N hr>N hr>=N hr=N hr=N-M   heart rate (exam hr_avg), bpm;
 *                                       N-M is the closed range [N, M]
 *   hrv=low hrv=high                    heart-rate variability (hr_var)
 *                                       below / at or above hrv_high_bpm
 *   hrv<N ... hrv=N-M                   the same comparisons, bpm
 *   calcium<N ... calcium=N-M           Agatston score, comparisons
 *   model~GLOB station~GLOB             model name, station name:
 *                                       fnmatch(3), case-insensitive
 * Conditions are separated by blanks; double quotes group blanks into a
 * glob and are removed.  Numbers are digits with an optional '.' and
 * digits.
 *
 * Unknown values.  A condition on a heart rate, HRV or calcium score the
 * exam lacks cannot be decided: the rule stays possible, and the search
 * goes on past it.  The expected scan types are then every possible rule's
 * code, up to and including the first rule that matches on known values
 * alone, and the verdict says which values it was judged without.
 */
#ifndef HRAUDIT_COMPLIANCE_H
#define HRAUDIT_COMPLIANCE_H

#include <stdbool.h>
#include <stddef.h>

#define COMPLIANCE_RULE_MAX 1024   /* bytes of one rule's text         */
#define COMPLIANCE_MAX_CONDS 16    /* conditions of one rule           */
#define COMPLIANCE_MAX_RULES 256   /* rules in all                     */
#define COMPLIANCE_EXPECTED_MAX 128 /* "flash|uhr_seq_diastolic", NUL   */

enum compliance_field {
	COMPLIANCE_HR,        /* bpm                                 */
	COMPLIANCE_HRV,       /* bpm                                 */
	COMPLIANCE_CALCIUM,   /* Agatston score                      */
	COMPLIANCE_MODEL,     /* Manufacturer's Model Name, glob     */
	COMPLIANCE_STATION,   /* Station Name, glob                  */
};

struct compliance_cond {
	enum compliance_field field;
	/* '<' '>' '=', 'l' <=, 'g' >=, 'r' lo..hi (closed), '~' glob,
	 * 'L' HRV below the threshold, 'H' HRV at or above it */
	char op;
	double lo, hi;            /* the number ('<' .. 'g': lo), the range  */
	char *pattern;            /* for '~'                                 */
};

struct compliance_rule {
	char code[24];
	struct compliance_cond *conds;
	size_t nconds;
	char *text;               /* as written, blanks trimmed              */
};

struct compliance_rules {
	struct compliance_rule *rules;
	size_t n;
};

/*
 * Parses one rule (syntax above) and appends it to rules.  Returns 0, or
 * -EINVAL with *errmsg (malloc'd, without file:line: the caller adds it),
 * or -ENOMEM; rules is unaltered on error.
 */
int compliance_rule_add(struct compliance_rules *rules, const char *text,
                        char **errmsg)
	__attribute__((warn_unused_result));

/* Frees the rules; the struct can be reused.  Accepts NULL. */
void compliance_rules_release(struct compliance_rules *rules);

/* What is known of one exam. */
struct compliance_exam {
	double hr_bpm;            /* mean heart rate (hr_avg), or NAN        */
	double hrv_bpm;           /* heart-rate variability (hr_var), or NAN */
	double calcium;           /* Agatston score, or NAN                  */
	const char *model;        /* NULL is taken as ""                     */
	const char *station;      /* NULL is taken as ""                     */
	const char *scan_type;    /* the scan type done; NULL or "": unknown */
};

enum compliance_verdict {
	COMPLIANCE_COMPLIANT,     /* the scan type is (one of) the expected  */
	COMPLIANCE_NONCOMPLIANT,
	COMPLIANCE_NO_RULE,       /* no rule applies: not judged             */
	COMPLIANCE_NO_HR,         /* the rules need the heart rate: not judged */
	COMPLIANCE_NO_SCAN_TYPE,  /* scan type unknown: not judged           */
};

/* The values a verdict was judged without (struct compliance_result). */
#define COMPLIANCE_WITHOUT_HRV     0x1u
#define COMPLIANCE_WITHOUT_CALCIUM 0x2u

struct compliance_result {
	enum compliance_verdict verdict;
	unsigned without;         /* COMPLIANCE_WITHOUT_* of a judged exam   */
	/* The expected scan type, or several joined by '|' in rule order when
	 * unknown values leave more than one possible; "" when none. */
	char expected[COMPLIANCE_EXPECTED_MAX];
};

/*
 * Judges one exam against the rules; hrv_high_bpm is the HRV from which
 * hrv=high holds (below it hrv=low).  Fills *res.  An exam without a heart
 * rate is COMPLIANCE_NO_HR as soon as a possible rule has a condition on
 * it.  Without a scan type, the expected one is still given.
 */
void compliance_judge(const struct compliance_rules *rules,
                      double hrv_high_bpm,
                      const struct compliance_exam *exam,
                      struct compliance_result *res);

/* True for COMPLIANCE_COMPLIANT and COMPLIANCE_NONCOMPLIANT. */
bool compliance_judged(const struct compliance_result *res);

/*
 * The verdict as printed: "compliant" or "non-compliant", followed when a
 * possible rule needed a value the exam lacks by " (calcium unknown)",
 * " (HRV unknown)" or " (HRV, calcium unknown)"; "no rule", "no heart
 * rate", "no scan type".  Writes at most size bytes; returns buf.
 */
const char *compliance_verdict_text(const struct compliance_result *res,
                                    char *buf, size_t size);

#endif
