/*
 * compliance.c - the site's scan-selection rules and the verdict on one
 * exam (include/compliance.h).  Pure logic: `hraudit compliance` feeds it
 * the exams of the database, config.c the rules of hrauditd.ini.
 *
 * Rule text is configuration, read as carefully as classify.c reads its
 * own, with the same words (rule.c): bounded length, conditions and rules;
 * numbers without strtod (no locale, sign, exponent, hex or inf).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1   /* FNM_CASEFOLD */
#endif

#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "classify.h"
#include "compliance.h"
#include "rule.h"

struct field_name {
	const char *name;
	enum compliance_field field;
	bool numeric;
};

static const struct field_name field_names[] = {
	{ "hr", COMPLIANCE_HR, true },
	{ "hrv", COMPLIANCE_HRV, true },
	{ "calcium", COMPLIANCE_CALCIUM, true },
	{ "model", COMPLIANCE_MODEL, false },
	{ "station", COMPLIANCE_STATION, false },
};

#define N_FIELDS (sizeof(field_names) / sizeof(field_names[0]))
#define FIELD_LIST "hr, hrv, calcium, model, station"
#define CODE_LIST "flash, seq_diastolic, seq_systolic, spiral_retro, " \
                  "uhr_spiral_retro, uhr_seq_diastolic"

/* ---- parsing ------------------------------------------------------------ */

/* The value of a numeric condition after its operator: N, or N-M after
 * '=', or low/high for hrv=.  Returns 0 or -EINVAL with *errmsg. */
static int parse_numeric_value(const struct field_name *f, const char *value,
                               const char *word, struct compliance_cond *c,
                               char **errmsg)
{
	const char *dash;

	if (c->op == '=' && f->field == COMPLIANCE_HRV) {
		if (strcasecmp(value, "low") == 0) {
			c->op = 'L';
			return 0;
		}
		if (strcasecmp(value, "high") == 0) {
			c->op = 'H';
			return 0;
		}
	}
	dash = c->op == '=' ? strchr(value, '-') : NULL;
	if (dash) {
		c->op = 'r';
		if (rule_number(value, dash, &c->lo) < 0 ||
		    rule_number(dash + 1, NULL, &c->hi) < 0) {
			*errmsg = rule_msg("'%.*s' is not a range N-M of "
			                   "numbers in '%.*s'",
			                   rule_quote_len(value), value,
			                   rule_quote_len(word), word);
			return -EINVAL;
		}
		if (c->lo > c->hi) {
			*errmsg = rule_msg("range '%.*s' runs backwards in "
			                   "'%.*s'",
			                   rule_quote_len(value), value,
			                   rule_quote_len(word), word);
			return -EINVAL;
		}
		return 0;
	}
	if (rule_number(value, NULL, &c->lo) < 0) {
		*errmsg = rule_msg("'%.*s' is not a number (digits, optionally "
		                   "'.' and digits)%s in '%.*s'",
		                   rule_quote_len(value), value,
		                   f->field == COMPLIANCE_HRV ? ", low or high"
		                                              : "",
		                   rule_quote_len(word), word);
		return -EINVAL;
	}
	c->hi = c->lo;
	return 0;
}

/* One condition word into c (c->pattern malloc'd for '~').  Returns 0,
 * -EINVAL with *errmsg, or -ENOMEM. */
static int parse_cond(const char *word, struct compliance_cond *c,
                      char **errmsg)
{
	const struct field_name *f = NULL;
	const char *value;
	size_t nlen, i;

	memset(c, 0, sizeof(*c));
	nlen = rule_name_len(word);
	for (i = 0; i < N_FIELDS; i++)
		if (strlen(field_names[i].name) == nlen &&
		    strncasecmp(field_names[i].name, word, nlen) == 0)
			f = &field_names[i];
	if (!f) {
		*errmsg = nlen == 0
			? rule_msg("condition '%.*s' does not start with a "
			           "field (one of " FIELD_LIST ")",
			           rule_quote_len(word), word)
			: rule_msg("unknown field '%.*s' in '%.*s' (one of "
			           FIELD_LIST ")", (int)(nlen > RULE_QUOTE_MAX ?
			           RULE_QUOTE_MAX : nlen), word,
			           rule_quote_len(word), word);
		return -EINVAL;
	}
	c->field = f->field;
	value = rule_op(word + nlen, &c->op);
	if (!value) {
		*errmsg = !word[nlen]
			? rule_msg("missing operator after field '%s' in "
			           "'%.*s'", f->name, rule_quote_len(word),
			           word)
			: rule_msg("unknown operator in '%.*s' (~ for model "
			           "and station; <, <=, >, >=, = for hr, hrv "
			           "and calcium)", rule_quote_len(word), word);
		return -EINVAL;
	}
	if (!*value) {
		*errmsg = rule_msg("missing value in '%.*s'",
		                   rule_quote_len(word), word);
		return -EINVAL;
	}
	if (!f->numeric) {
		if (c->op != '~') {
			*errmsg = rule_msg("field '%s' takes ~GLOB in '%.*s'",
			                   f->name, rule_quote_len(word), word);
			return -EINVAL;
		}
		c->pattern = strdup(value);
		return c->pattern ? 0 : -ENOMEM;
	}
	if (c->op == '~') {
		*errmsg = rule_msg("field '%s' takes <, <=, >, >= or = in "
		                   "'%.*s'", f->name, rule_quote_len(word),
		                   word);
		return -EINVAL;
	}
	return parse_numeric_value(f, value, word, c, errmsg);
}

static void rule_free(struct compliance_rule *rule)
{
	for (size_t i = 0; i < rule->nconds; i++)
		free(rule->conds[i].pattern);
	free(rule->conds);
	free(rule->text);
	memset(rule, 0, sizeof(*rule));
}

/* Parses text into rule; on error rule holds nothing to free. */
static int rule_parse(struct compliance_rule *rule, const char *text,
                      char **errmsg)
{
	struct compliance_cond *conds = NULL;
	const char *pos;
	char *word = NULL;
	size_t n = 0;
	int r;

	memset(rule, 0, sizeof(*rule));
	r = rule_text(text, COMPLIANCE_RULE_MAX, &rule->text, errmsg);
	if (r < 0)
		goto out;
	word = malloc(strlen(rule->text) + 1);
	conds = calloc(COMPLIANCE_MAX_CONDS, sizeof(*conds));
	if (!word || !conds) {
		r = -ENOMEM;
		goto out;
	}
	pos = rule->text;
	r = rule_next_word(rule->text, &pos, word, errmsg);
	if (r < 0)
		goto out;
	if (strlen(word) >= sizeof(rule->code) || !classify_code_valid(word)) {
		r = -EINVAL;
		*errmsg = rule_msg("unknown scan type '%.*s' (one of "
		                   CODE_LIST ")", rule_quote_len(word), word);
		goto out;
	}
	memcpy(rule->code, word, strlen(word) + 1);
	while ((r = rule_next_word(rule->text, &pos, word, errmsg)) != 0) {
		if (r < 0)
			goto out;
		if (n == COMPLIANCE_MAX_CONDS) {
			r = -EINVAL;
			*errmsg = rule_msg("more than %d conditions in a rule",
			                   COMPLIANCE_MAX_CONDS);
			goto out;
		}
		r = parse_cond(word, &conds[n], errmsg);
		if (r < 0)
			goto out;
		n++;
	}
	if (n == 0) {
		r = -EINVAL;
		*errmsg = rule_msg("rule '%s' has no condition (expected CODE "
		                   "CONDITION...)", rule->code);
		goto out;
	}
	rule->conds = conds;
	rule->nconds = n;
	conds = NULL;
	r = 0;
out:
	if (conds) {
		for (size_t i = 0; i <= n && i < COMPLIANCE_MAX_CONDS; i++)
			free(conds[i].pattern);
		free(conds);
	}
	if (r < 0)
		rule_free(rule);
	free(word);
	return r;
}

int compliance_rule_add(struct compliance_rules *rules, const char *text,
                        char **errmsg)
{
	struct compliance_rule rule, *v;
	char *msg = NULL;
	int r;

	if (!rules || !text) {
		r = -EINVAL;
		msg = rule_msg("no rule given");
		goto out;
	}
	if (rules->n >= COMPLIANCE_MAX_RULES) {
		r = -EINVAL;
		msg = rule_msg("more than %d rules", COMPLIANCE_MAX_RULES);
		goto out;
	}
	r = rule_parse(&rule, text, &msg);
	if (r < 0)
		goto out;
	v = realloc(rules->rules, (rules->n + 1) * sizeof(*v));
	if (!v) {
		rule_free(&rule);
		r = -ENOMEM;
		goto out;
	}
	v[rules->n++] = rule;
	rules->rules = v;
out:
	return rule_result(r, msg, errmsg);
}

void compliance_rules_release(struct compliance_rules *rules)
{
	if (!rules)
		return;
	for (size_t i = 0; i < rules->n; i++)
		rule_free(&rules->rules[i]);
	free(rules->rules);
	rules->rules = NULL;
	rules->n = 0;
}

/* ---- judging ------------------------------------------------------------ */

#define WITHOUT_HR 0x100u   /* internal: a possible rule needs the HR */

static unsigned unknown_bit(enum compliance_field field)
{
	switch (field) {
	case COMPLIANCE_HR: return WITHOUT_HR;
	case COMPLIANCE_HRV: return COMPLIANCE_WITHOUT_HRV;
	case COMPLIANCE_CALCIUM: return COMPLIANCE_WITHOUT_CALCIUM;
	default: return 0;
	}
}

/* 1 (holds), 0 (does not) or -1 (the value is not known). */
static int cond_holds(const struct compliance_cond *c, double hrv_high_bpm,
                      const struct compliance_exam *exam)
{
	const char *text;
	double v;

	switch (c->field) {
	case COMPLIANCE_MODEL:
	case COMPLIANCE_STATION:
		text = c->field == COMPLIANCE_MODEL ? exam->model : exam->station;
		return fnmatch(c->pattern, text ? text : "", FNM_CASEFOLD) == 0;
	case COMPLIANCE_HR: v = exam->hr_bpm; break;
	case COMPLIANCE_HRV: v = exam->hrv_bpm; break;
	case COMPLIANCE_CALCIUM: v = exam->calcium; break;
	default: return 0;
	}
	if (isnan(v))
		return -1;
	switch (c->op) {
	case '<': return v < c->lo;
	case 'l': return v <= c->lo;
	case '>': return v > c->lo;
	case 'g': return v >= c->lo;
	case '=': return v == c->lo;
	case 'r': return v >= c->lo && v <= c->hi;
	case 'L': return v < hrv_high_bpm;
	case 'H': return v >= hrv_high_bpm;
	default: return 0;
	}
}

/* 1 (matches on known values), 0 (does not), or -1 with *unknown: it
 * matches unless a value it needs but the exam lacks rules it out. */
static int rule_matches(const struct compliance_rule *rule,
                        double hrv_high_bpm,
                        const struct compliance_exam *exam, unsigned *unknown)
{
	*unknown = 0;
	for (size_t i = 0; i < rule->nconds; i++) {
		int h = cond_holds(&rule->conds[i], hrv_high_bpm, exam);

		if (h == 0)
			return 0;
		if (h < 0)
			*unknown |= unknown_bit(rule->conds[i].field);
	}
	return *unknown ? -1 : 1;
}

void compliance_judge(const struct compliance_rules *rules,
                      double hrv_high_bpm,
                      const struct compliance_exam *exam,
                      struct compliance_result *res)
{
	const char *codes[COMPLIANCE_MAX_RULES];
	size_t ncodes = 0, len = 0, i, k;
	unsigned without = 0, unknown;
	bool done = false;
	int m;

	memset(res, 0, sizeof(*res));
	for (i = 0; rules && i < rules->n && !done; i++) {
		m = rule_matches(&rules->rules[i], hrv_high_bpm, exam, &unknown);
		if (m == 0)
			continue;
		without |= unknown;
		done = m > 0;
		for (k = 0; k < ncodes; k++)
			if (strcmp(codes[k], rules->rules[i].code) == 0)
				break;
		if (k == ncodes)
			codes[ncodes++] = rules->rules[i].code;
	}
	if (without & WITHOUT_HR) {
		res->verdict = COMPLIANCE_NO_HR;
		return;
	}
	if (ncodes == 0) {
		res->verdict = COMPLIANCE_NO_RULE;
		return;
	}
	/* At most the six codes of classify.h, each under 24 bytes: fits. */
	for (k = 0; k < ncodes && len < sizeof(res->expected); k++)
		len += (size_t)snprintf(res->expected + len,
		                        sizeof(res->expected) - len, "%s%s",
		                        k ? "|" : "", codes[k]);
	if (!exam->scan_type || !*exam->scan_type) {
		res->verdict = COMPLIANCE_NO_SCAN_TYPE;
		return;
	}
	res->without = without;
	res->verdict = COMPLIANCE_NONCOMPLIANT;
	for (k = 0; k < ncodes; k++)
		if (strcmp(codes[k], exam->scan_type) == 0)
			res->verdict = COMPLIANCE_COMPLIANT;
}

bool compliance_judged(const struct compliance_result *res)
{
	return res->verdict == COMPLIANCE_COMPLIANT ||
	       res->verdict == COMPLIANCE_NONCOMPLIANT;
}

const char *compliance_verdict_text(const struct compliance_result *res,
                                    char *buf, size_t size)
{
	const char *verdict = "no rule", *unknown = "";

	switch (res->verdict) {
	case COMPLIANCE_COMPLIANT: verdict = "compliant"; break;
	case COMPLIANCE_NONCOMPLIANT: verdict = "non-compliant"; break;
	case COMPLIANCE_NO_RULE: verdict = "no rule"; break;
	case COMPLIANCE_NO_HR: verdict = "no heart rate"; break;
	case COMPLIANCE_NO_SCAN_TYPE: verdict = "no scan type"; break;
	}
	if (compliance_judged(res)) {
		switch (res->without & (COMPLIANCE_WITHOUT_HRV |
		                        COMPLIANCE_WITHOUT_CALCIUM)) {
		case COMPLIANCE_WITHOUT_CALCIUM: unknown = " (calcium unknown)"; break;
		case COMPLIANCE_WITHOUT_HRV: unknown = " (HRV unknown)"; break;
		case COMPLIANCE_WITHOUT_HRV | COMPLIANCE_WITHOUT_CALCIUM:
			unknown = " (HRV, calcium unknown)";
			break;
		}
	}
	snprintf(buf, size, "%s%s", verdict, unknown);
	return buf;
}
