/*
 * compliance.c - the site's scan-selection rules and the verdict on one
 * exam (include/compliance.h).  Pure logic: `hraudit compliance` feeds it
 * the exams of the database, config.c the rules of hrauditd.ini.
 *
 * Rule text is configuration, read as carefully as classify.c reads its
 * own: bounded length, conditions and rules; numbers without strtod (no
 * locale, sign, exponent, hex or inf).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1   /* FNM_CASEFOLD, strndup */
#endif

#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "classify.h"
#include "compliance.h"

#define NUMBER_DIGITS 15   /* digits of a number: exact in a double      */
#define QUOTE_MAX 64       /* bytes of rule text quoted in a message     */

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

/* ---- messages ----------------------------------------------------------- */

static char *msg_fmt(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static char *msg_fmt(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

/* Bytes of s to quote in a message: at most QUOTE_MAX, cut at a UTF-8
 * character boundary. */
static int quote_len(const char *s)
{
	size_t n = strlen(s);

	if (n <= QUOTE_MAX)
		return (int)n;
	n = QUOTE_MAX;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return (int)n;
}

/* ---- parsing ------------------------------------------------------------ */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Strict decimal, "60" or "7.5": digits, optionally '.' and digits, at
 * most NUMBER_DIGITS digits (an exact integer, divided once by an exact
 * power of ten).  Reads up to end (or the NUL).  Returns 0 or -1.
 */
static int parse_number(const char *s, const char *end, double *out)
{
	uint64_t mant = 0;
	double scale = 1.0;
	unsigned digits = 0;
	bool point = false, frac = false;
	const char *p;

	if (s == end || *s < '0' || *s > '9')
		return -1;
	for (p = s; p != end && *p; p++) {
		if (*p == '.' && !point) {
			point = true;
			continue;
		}
		if (*p < '0' || *p > '9' || ++digits > NUMBER_DIGITS)
			return -1;
		mant = mant * 10 + (uint64_t)(*p - '0');
		if (point) {
			scale *= 10.0;
			frac = true;
		}
	}
	if (point && !frac)
		return -1;
	*out = (double)mant / scale;
	return 0;
}

/* The next word of *pos into buf (as long as the text): blanks separate
 * words, double quotes group blanks and are removed.  Returns 1 (a word),
 * 0 (no more) or -1 (unterminated quote). */
static int next_word(const char **pos, char *buf)
{
	const char *p = *pos;
	bool quoted = false;
	size_t n = 0;

	while (is_blank(*p))
		p++;
	if (!*p) {
		*pos = p;
		return 0;
	}
	for (; *p && (quoted || !is_blank(*p)); p++) {
		if (*p == '"')
			quoted = !quoted;
		else
			buf[n++] = *p;
	}
	buf[n] = '\0';
	*pos = p;
	return quoted ? -1 : 1;
}

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
		if (parse_number(value, dash, &c->lo) < 0 ||
		    parse_number(dash + 1, NULL, &c->hi) < 0) {
			*errmsg = msg_fmt("'%.*s' is not a range N-M of numbers "
			                  "in '%.*s'", quote_len(value), value,
			                  quote_len(word), word);
			return -EINVAL;
		}
		if (c->lo > c->hi) {
			*errmsg = msg_fmt("range '%.*s' runs backwards in '%.*s'",
			                  quote_len(value), value,
			                  quote_len(word), word);
			return -EINVAL;
		}
		return 0;
	}
	if (parse_number(value, NULL, &c->lo) < 0) {
		*errmsg = msg_fmt("'%.*s' is not a number (digits, optionally "
		                  "'.' and digits)%s in '%.*s'",
		                  quote_len(value), value,
		                  f->field == COMPLIANCE_HRV ? ", low or high" : "",
		                  quote_len(word), word);
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
	const char *p = word, *value;
	size_t nlen, i;

	memset(c, 0, sizeof(*c));
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
	       *p == '_')
		p++;
	nlen = (size_t)(p - word);
	for (i = 0; i < N_FIELDS; i++)
		if (strlen(field_names[i].name) == nlen &&
		    strncasecmp(field_names[i].name, word, nlen) == 0)
			f = &field_names[i];
	if (!f) {
		*errmsg = nlen == 0
			? msg_fmt("condition '%.*s' does not start with a field "
			          "(one of " FIELD_LIST ")",
			          quote_len(word), word)
			: msg_fmt("unknown field '%.*s' in '%.*s' (one of "
			          FIELD_LIST ")", (int)(nlen > QUOTE_MAX ?
			          QUOTE_MAX : nlen), word, quote_len(word), word);
		return -EINVAL;
	}
	c->field = f->field;
	value = p + 1;
	switch (*p) {
	case '~':
	case '=':
		c->op = *p;
		break;
	case '<':
	case '>':
		c->op = *p;
		if (p[1] == '=') {
			c->op = *p == '<' ? 'l' : 'g';
			value++;
		}
		break;
	case '\0':
		*errmsg = msg_fmt("missing operator after field '%s' in '%.*s'",
		                  f->name, quote_len(word), word);
		return -EINVAL;
	default:
		*errmsg = msg_fmt("unknown operator in '%.*s' (~ for model and "
		                  "station; <, <=, >, >=, = for hr, hrv and "
		                  "calcium)", quote_len(word), word);
		return -EINVAL;
	}
	if (!*value) {
		*errmsg = msg_fmt("missing value in '%.*s'", quote_len(word), word);
		return -EINVAL;
	}
	if (!f->numeric) {
		if (c->op != '~') {
			*errmsg = msg_fmt("field '%s' takes ~GLOB in '%.*s'",
			                  f->name, quote_len(word), word);
			return -EINVAL;
		}
		c->pattern = strdup(value);
		return c->pattern ? 0 : -ENOMEM;
	}
	if (c->op == '~') {
		*errmsg = msg_fmt("field '%s' takes <, <=, >, >= or = in '%.*s'",
		                  f->name, quote_len(word), word);
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
	size_t len, n = 0;
	int r, w;

	memset(rule, 0, sizeof(*rule));
	for (len = 0; len <= COMPLIANCE_RULE_MAX && text[len]; len++) {
		if (((unsigned char)text[len] < 0x20 && text[len] != '\t') ||
		    text[len] == 0x7f) {
			*errmsg = msg_fmt("control character 0x%02x at byte %zu "
			                  "of the rule",
			                  (unsigned)(unsigned char)text[len], len + 1);
			return -EINVAL;
		}
	}
	if (len > COMPLIANCE_RULE_MAX) {
		*errmsg = msg_fmt("rule is longer than %d bytes",
		                  COMPLIANCE_RULE_MAX);
		return -EINVAL;
	}
	while (len > 0 && is_blank(*text)) {
		text++;
		len--;
	}
	while (len > 0 && is_blank(text[len - 1]))
		len--;
	if (len == 0) {
		*errmsg = msg_fmt("empty rule (expected CODE CONDITION...)");
		return -EINVAL;
	}
	rule->text = strndup(text, len);
	word = malloc(len + 1);
	conds = calloc(COMPLIANCE_MAX_CONDS, sizeof(*conds));
	if (!rule->text || !word || !conds) {
		r = -ENOMEM;
		goto out;
	}
	pos = rule->text;
	w = next_word(&pos, word);
	if (w < 0 || strlen(word) >= sizeof(rule->code) ||
	    !classify_code_valid(word)) {
		r = -EINVAL;
		*errmsg = w < 0
			? msg_fmt("unterminated quote in '%.*s'",
			          quote_len(rule->text), rule->text)
			: msg_fmt("unknown scan type '%.*s' (one of " CODE_LIST ")",
			          quote_len(word), word);
		goto out;
	}
	memcpy(rule->code, word, strlen(word) + 1);
	while ((w = next_word(&pos, word)) != 0) {
		r = -EINVAL;
		if (w < 0) {
			*errmsg = msg_fmt("unterminated quote in '%.*s'",
			                  quote_len(rule->text), rule->text);
			goto out;
		}
		if (n == COMPLIANCE_MAX_CONDS) {
			*errmsg = msg_fmt("more than %d conditions in a rule",
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
		*errmsg = msg_fmt("rule '%s' has no condition (expected CODE "
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
		msg = msg_fmt("no rule given");
		goto out;
	}
	if (rules->n >= COMPLIANCE_MAX_RULES) {
		r = -EINVAL;
		msg = msg_fmt("more than %d rules", COMPLIANCE_MAX_RULES);
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
	if (r == -EINVAL && !msg)
		r = -ENOMEM;    /* the message itself could not be made */
	if (errmsg && r == -EINVAL)
		*errmsg = msg;
	else
		free(msg);
	return r;
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
