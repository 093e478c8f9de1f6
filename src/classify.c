/*
 * classify.c - the scan type of a series: site rules, then inference.
 *
 * Runs after extract (the header facts of one object) and before store.
 * The site rules are data from hrauditd.ini ([scan_type] rule = ...): the
 * site protocol table differs from site to site (../shared/DOMAIN.md), and
 * so do the series names that say which scan type was chosen.  Without a
 * matching rule the type is inferred from acquisition facts, in this order
 * (hraudit(1), SCAN TYPE, says the same for users):
 *
 *   1. flash:       spiral, pitch >= 1.5 (high-pitch dual-source spiral)
 *   2. sequential:  seq_diastolic when the phase is >= 50 % of R-R, else
 *                   seq_systolic; the phase from the middle of the ECG
 *                   pulsing window, else phase_percent, else trigger time / R-R
 *   3. spiral_retro: spiral, pitch < 1.5, with ECG gating evidence
 *   4. UHR:         NAEOTOM Alpha at <= 0.25 mm single collimation turns
 *                   spiral_retro and seq_diastolic into their uhr_ codes
 *
 * Rule text is configuration, but it is written to be fuzzed all the same:
 * its length, its conditions and the number of rules are bounded, numbers
 * are read without strtod (rule.c: no locale, no hex, no inf), and every
 * string read from struct instance_info is bounded by its field size.
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
#include "rule.h"

#define CLASSIFY_RULE_MAX 1024    /* bytes of one rule's text              */
#define CLASSIFY_MAX_CONDS 16     /* conditions of one rule                */
#define CLASSIFY_MAX_RULES 256    /* rules in all                          */

/*
 * Inference thresholds.  Pitch: a dual-source high-pitch ("Flash") spiral
 * runs at 3.2-3.4, single-source spirals stay below 1.5, retrospectively
 * gated ones at 0.2-0.5.  Phase: systole ends near 40-45 % of R-R and the
 * diastolic rest phase is at 65-80 %; 50 % splits them.  UHR: the NAEOTOM
 * Alpha ultra-high-resolution mode is 120 x 0.2 mm (seed talk).
 */
#define FLASH_MIN_PITCH 1.5
#define DIASTOLE_MIN_PERCENT 50.0
#define UHR_MODEL_GLOB "*NAEOTOM Alpha*"
#define UHR_MAX_SINGLE_COLLIMATION_MM 0.25

static const char *const codes[] = {
	"flash", "seq_diastolic", "seq_systolic", "spiral_retro",
	"uhr_spiral_retro", "uhr_seq_diastolic",
};

#define N_CODES (sizeof(codes) / sizeof(codes[0]))

struct field_name {
	const char *name;
	enum classify_field field;
	bool numeric;
};

static const struct field_name field_names[] = {
	{ "description", CLASSIFY_DESCRIPTION, false },
	{ "protocol", CLASSIFY_PROTOCOL, false },
	{ "study_description", CLASSIFY_STUDY_DESCRIPTION, false },
	{ "model", CLASSIFY_MODEL, false },
	{ "token", CLASSIFY_TOKEN, false },
	{ "phase", CLASSIFY_PHASE, true },
	{ "pitch", CLASSIFY_PITCH, true },
};

#define N_FIELDS (sizeof(field_names) / sizeof(field_names[0]))

/* ---- messages ----------------------------------------------------------- */

/* "flash, seq_diastolic, ..." and "description, ..." for messages. */
static char *list_codes(void)
{
	return rule_msg("%s, %s, %s, %s, %s, %s", codes[0], codes[1], codes[2],
	                codes[3], codes[4], codes[5]);
}

static char *list_fields(void)
{
	return rule_msg("%s, %s, %s, %s, %s, %s, %s", field_names[0].name,
	                field_names[1].name, field_names[2].name,
	                field_names[3].name, field_names[4].name,
	                field_names[5].name, field_names[6].name);
}

/* ---- rule parsing ------------------------------------------------------- */

bool classify_code_valid(const char *code)
{
	size_t i;

	if (!code)
		return false;
	for (i = 0; i < N_CODES; i++)
		if (strcmp(code, codes[i]) == 0)
			return true;
	return false;
}

/*
 * Parses one condition word into c (c->pattern malloc'd for '~').
 * Returns 0, -EINVAL with *errmsg, or -ENOMEM.
 */
static int parse_cond(const char *word, struct classify_cond *c,
                      char **errmsg)
{
	const struct field_name *f = NULL;
	const char *p, *value;
	size_t nlen, i;
	char *list;
	int r = -EINVAL;

	nlen = rule_name_len(word);
	if (nlen == 0) {
		*errmsg = rule_msg("condition '%.*s' does not start with a "
		                   "field", rule_quote_len(word), word);
		goto out;
	}
	for (i = 0; i < N_FIELDS; i++)
		if (strlen(field_names[i].name) == nlen &&
		    memcmp(field_names[i].name, word, nlen) == 0)
			f = &field_names[i];
	if (!f) {
		list = list_fields();
		*errmsg = rule_msg("unknown field '%.*s' in '%.*s' (one of %s)",
		                   (int)(nlen > RULE_QUOTE_MAX ?
		                         RULE_QUOTE_MAX : nlen), word,
		                   rule_quote_len(word), word,
		                   list ? list : "?");
		free(list);
		goto out;
	}

	c->field = f->field;
	p = word + nlen;
	value = rule_op(p, &c->op);
	if (!value) {
		if (!*p)
			*errmsg = rule_msg("missing operator after field '%s' "
			                   "in '%.*s'", f->name,
			                   rule_quote_len(word), word);
		else if (*p > 0x20 && *p < 0x7f)
			*errmsg = rule_msg("unknown operator '%c' in '%.*s' "
			                   "(~ for text fields; <, <=, >, >=, "
			                   "= for numbers)", *p,
			                   rule_quote_len(word), word);
		else
			*errmsg = rule_msg("unknown operator (byte 0x%02x) "
			                   "in '%.*s'",
			                   (unsigned)(unsigned char)*p,
			                   rule_quote_len(word), word);
		goto out;
	}

	if (!f->numeric) {
		if (c->op != '~') {
			*errmsg = rule_msg("field '%s' takes ~GLOB in '%.*s'",
			                   f->name, rule_quote_len(word), word);
			goto out;
		}
		if (!*value) {
			*errmsg = rule_msg("missing glob in '%.*s'",
			                   rule_quote_len(word), word);
			goto out;
		}
		c->pattern = strdup(value);
		r = c->pattern ? 0 : -ENOMEM;
		goto out;
	}
	if (c->op == '~') {
		*errmsg = rule_msg("field '%s' takes a comparison with a "
		                   "number (<, <=, >, >=, =) in '%.*s'",
		                   f->name, rule_quote_len(word), word);
		goto out;
	}
	if (rule_number(value, NULL, &c->number) < 0) {
		*errmsg = rule_msg("'%.*s' is not a number (digits, optionally "
		                   "'.' and digits) in '%.*s'",
		                   rule_quote_len(value), value,
		                   rule_quote_len(word), word);
		goto out;
	}
	r = 0;
out:
	return r;
}

static void rule_free(struct classify_rule *rule)
{
	size_t i;

	for (i = 0; i < rule->nconds; i++)
		free(rule->conds[i].pattern);
	free(rule->conds);
	free(rule->text);
	rule->conds = NULL;
	rule->nconds = 0;
	rule->text = NULL;
}

/* Parses text into rule; on error rule holds nothing to free. */
static int rule_parse(struct classify_rule *rule, const char *text,
                      char **errmsg)
{
	struct classify_cond *conds = NULL;
	const char *pos;
	char *word = NULL, *list;
	size_t n = 0;
	int r;

	memset(rule, 0, sizeof(*rule));
	r = rule_text(text, CLASSIFY_RULE_MAX, &rule->text, errmsg);
	if (r < 0)
		goto out;
	word = malloc(strlen(rule->text) + 1);
	conds = calloc(CLASSIFY_MAX_CONDS, sizeof(*conds));
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
		list = list_codes();
		*errmsg = rule_msg("unknown scan type '%.*s' (one of %s)",
		                   rule_quote_len(word), word,
		                   list ? list : "?");
		free(list);
		goto out;
	}
	memcpy(rule->code, word, strlen(word) + 1);

	while ((r = rule_next_word(rule->text, &pos, word, errmsg)) != 0) {
		if (r < 0)
			goto out;
		if (n == CLASSIFY_MAX_CONDS) {
			r = -EINVAL;
			*errmsg = rule_msg("more than %d conditions in a rule",
			                   CLASSIFY_MAX_CONDS);
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
		while (n > 0)
			free(conds[--n].pattern);
		free(conds);
	}
	if (r < 0)
		rule_free(rule);
	free(word);
	return r;
}

int classify_rule_add(struct classify_rules *rules, const char *text,
                      char **errmsg)
{
	struct classify_rule rule, *v;
	char *msg = NULL;
	int r;

	if (!rules || !text) {
		r = -EINVAL;
		msg = rule_msg("no rule given");
		goto out;
	}
	if (rules->n >= CLASSIFY_MAX_RULES) {
		r = -EINVAL;
		msg = rule_msg("more than %d rules", CLASSIFY_MAX_RULES);
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

void classify_rules_release(struct classify_rules *rules)
{
	size_t i;

	if (!rules)
		return;
	for (i = 0; i < rules->n; i++)
		rule_free(&rules->rules[i]);
	free(rules->rules);
	rules->rules = NULL;
	rules->n = 0;
}

/* ---- matching ----------------------------------------------------------- */

/* Copies at most size - 1 bytes of a char[size] field, NUL-terminated. */
static void field_copy(char *dst, const char *src, size_t size)
{
	size_t n = 0;

	while (n + 1 < size && src[n])
		n++;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static bool glob_match(const char *pattern, const char *s)
{
	return fnmatch(pattern, s, FNM_CASEFOLD) == 0;
}

/* Matches a field of struct instance_info, a char[size], to pattern. */
static bool field_match(const char *pattern, const char *field, size_t size)
{
	char buf[EXTRACT_TEXT_MAX];

	if (size > sizeof(buf))
		size = sizeof(buf);
	field_copy(buf, field, size);
	return glob_match(pattern, buf);
}

/* Does any '\'-separated value of Scan Options match?  Values are
 * trimmed of spaces (PS3.5 6.2); empty ones are skipped. */
static bool token_match(const char *pattern, const struct instance_info *info)
{
	char buf[sizeof(info->scan_options)];
	const char *v = info->scan_options;
	size_t len = 0, start = 0, i, a, b;

	while (len + 1 < sizeof(info->scan_options) && v[len])
		len++;
	for (i = 0; i <= len; i++) {
		if (i < len && v[i] != '\\')
			continue;
		a = start;
		b = i;
		start = i + 1;
		while (a < b && v[a] == ' ')
			a++;
		while (b > a && v[b - 1] == ' ')
			b--;
		if (a == b)
			continue;
		memcpy(buf, v + a, b - a);
		buf[b - a] = '\0';
		if (glob_match(pattern, buf))
			return true;
	}
	return false;
}

/* A comparison with an absent (NAN) value is false. */
static bool number_match(char op, double have, double want)
{
	if (isnan(have))
		return false;
	switch (op) {
	case '<': return have < want;
	case '>': return have > want;
	case '=': return have == want;
	case 'l': return have <= want;
	case 'g': return have >= want;
	}
	return false;
}

static bool cond_match(const struct classify_cond *c,
                       const struct instance_info *info)
{
	switch (c->field) {
	case CLASSIFY_DESCRIPTION:
		return field_match(c->pattern, info->series_description,
		                   sizeof(info->series_description));
	case CLASSIFY_PROTOCOL:
		return field_match(c->pattern, info->protocol_name,
		                   sizeof(info->protocol_name));
	case CLASSIFY_STUDY_DESCRIPTION:
		return field_match(c->pattern, info->study_description,
		                   sizeof(info->study_description));
	case CLASSIFY_MODEL:
		return field_match(c->pattern, info->model,
		                   sizeof(info->model));
	case CLASSIFY_TOKEN:
		return token_match(c->pattern, info);
	case CLASSIFY_PHASE:
		return number_match(c->op, info->phase_percent, c->number);
	case CLASSIFY_PITCH:
		return number_match(c->op, info->pitch, c->number);
	}
	return false;
}

static bool rule_match(const struct classify_rule *rule,
                       const struct instance_info *info)
{
	size_t i;

	for (i = 0; i < rule->nconds; i++)
		if (!cond_match(&rule->conds[i], info))
			return false;
	return rule->nconds > 0;
}

/* ---- inference ---------------------------------------------------------- */

/* Case-insensitive, bounded: does field (a char[size]) contain word? */
static bool field_contains(const char *field, size_t size, const char *word)
{
	size_t wlen = strlen(word), n = 0, i;

	while (n < size && field[n])
		n++;
	for (i = 0; i + wlen <= n; i++)
		if (strncasecmp(field + i, word, wlen) == 0)
			return true;
	return false;
}

static bool field_is(const char *field, size_t size, const char *word)
{
	size_t wlen = strlen(word);

	return wlen < size && strncasecmp(field, word, wlen + 1) == 0;
}

#define FIELD_IS(info, f, word) field_is((info)->f, sizeof((info)->f), word)

static bool have_pitch(const struct instance_info *info)
{
	/* Some writers put 0 in Spiral Pitch Factor of axial scans. */
	return isfinite(info->pitch) && info->pitch > 0;
}

static bool percent_ok(double p)
{
	return isfinite(p) && p >= 0 && p <= 100;
}

/*
 * Sequential (step-and-shoot): DSEQCARD or Acquisition Type (0018,9302)
 * SEQUENCED (info->sequential), Acquisition Type STATIONARY, or a
 * prospective trigger (TRGD) without a pitch and not declared SPIRAL.
 */
static bool is_sequential(const struct instance_info *info)
{
	if (info->sequential || FIELD_IS(info, acquisition_type, "SEQUENCED") ||
	    FIELD_IS(info, acquisition_type, "STATIONARY"))
		return true;
	return info->triggered && !have_pitch(info) &&
	       !FIELD_IS(info, acquisition_type, "SPIRAL");
}

/* What says the spiral was ECG-gated, or NULL. */
static const char *ecg_evidence(const struct instance_info *info)
{
	if (field_contains(info->exposure_modulation,
	                   sizeof(info->exposure_modulation), "ECG"))
		return "ECG exposure modulation";
	if (isfinite(info->pulsing_start_percent) ||
	    isfinite(info->pulsing_end_percent))
		return "ECG pulsing window";
	if (isfinite(info->hr_min_bpm) || isfinite(info->hr_max_bpm) ||
	    isfinite(info->hr_avg_bpm) || isfinite(info->hr_var_bpm) ||
	    isfinite(info->heart_rate_bpm))
		return "heart rate";
	if (info->cardiac_tokens)
		return "cardiac Scan Options";
	return NULL;
}

/*
 * The phase of a sequential scan: the middle of the pulsing window, else
 * phase_percent, else trigger time over R-R.  Writes the reason into why
 * and returns the code, or NULL when no phase is known.
 */
static const char *sequential_phase(const struct instance_info *info,
                                    char *why, size_t size)
{
	double p, s = info->pulsing_start_percent;
	double e = info->pulsing_end_percent;
	double t = info->trigger_time_ms, rr = info->rr_interval_ms;
	const char *code;
	int n;

	/* The pulsing window belongs to the acquisition, the phase to one
	 * reconstruction of it ("BestSyst 40 %" of a diastolic scan): the
	 * window first, so the reconstructions of one scan agree. */
	if (percent_ok(s) && percent_ok(e) && s <= e) {
		p = (s + e) / 2;
		n = snprintf(why, size, "sequential, pulsing %g-%g %%, "
		             "middle %.4g %%", s, e, p);
	} else if (percent_ok(info->phase_percent)) {
		p = info->phase_percent;
		n = snprintf(why, size, "sequential, phase %g %%", p);
	} else if (isfinite(t) && t >= 0 && isfinite(rr) && rr > 0 &&
	           t <= rr) {
		p = 100 * t / rr;
		n = snprintf(why, size, "sequential, trigger %g ms of "
		             "R-R %g ms = %.4g %%", t, rr, p);
	} else {
		return NULL;
	}
	code = p >= DIASTOLE_MIN_PERCENT ? "seq_diastolic" : "seq_systolic";
	if (n >= 0 && (size_t)n < size)
		snprintf(why + n, size - (size_t)n, " %s %g",
		         p >= DIASTOLE_MIN_PERCENT ? ">=" : "<",
		         DIASTOLE_MIN_PERCENT);
	return code;
}

/* NAEOTOM Alpha in its 0.2 mm ultra-high-resolution collimation? */
static bool is_uhr(const struct instance_info *info)
{
	char model[sizeof(info->model)];

	if (!isfinite(info->single_collimation_mm) ||
	    info->single_collimation_mm <= 0 ||
	    info->single_collimation_mm > UHR_MAX_SINGLE_COLLIMATION_MM)
		return false;
	field_copy(model, info->model, sizeof(model));
	return glob_match(UHR_MODEL_GLOB, model);
}

/* Returns the inferred code, or NULL; the reason goes into why. */
static const char *infer(const struct instance_info *info, char *why,
                         size_t size)
{
	const char *code = NULL, *evidence;
	bool seq = is_sequential(info);
	bool spiral = !seq && (have_pitch(info) ||
	                       FIELD_IS(info, acquisition_type, "SPIRAL"));
	size_t n;

	if (spiral && have_pitch(info) && info->pitch >= FLASH_MIN_PITCH) {
		snprintf(why, size, "pitch %g >= %g (high-pitch spiral)",
		         info->pitch, FLASH_MIN_PITCH);
		return "flash";   /* a UHR flash stays flash: no code for it */
	}
	if (seq) {
		code = sequential_phase(info, why, size);
	} else if (spiral && (evidence = ecg_evidence(info)) != NULL) {
		if (have_pitch(info))
			snprintf(why, size, "spiral, pitch %g < %g, %s",
			         info->pitch, FLASH_MIN_PITCH, evidence);
		else
			snprintf(why, size, "spiral (acquisition type), %s",
			         evidence);
		code = "spiral_retro";
	}
	if (!code || !is_uhr(info))
		return code;

	n = strlen(why);
	if (strcmp(code, "spiral_retro") == 0 ||
	    strcmp(code, "seq_diastolic") == 0) {
		snprintf(why + n, size - n, ", UHR %g mm",
		         info->single_collimation_mm);
		return strcmp(code, "spiral_retro") == 0 ? "uhr_spiral_retro"
		                                         : "uhr_seq_diastolic";
	}
	/* The code list has no uhr_seq_systolic: the site protocol table
	 * has no systolic UHR scan.  It stays seq_systolic, and says so. */
	snprintf(why + n, size - n, ", UHR (no uhr_ code)");
	return code;
}

/*
 * Copies src into the char[size] dst, cut if need be at a UTF-8
 * character boundary, so the database never holds half a character.
 */
static void copy_text(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size) {
		n = size - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

void classify_scan_type(const struct classify_rules *rules,
                        struct instance_info *info)
{
	char source[CLASSIFY_RULE_MAX + 64], why[256];
	const char *code;
	size_t i;

	if (!info)
		return;
	info->scan_type[0] = '\0';
	info->scan_type_source[0] = '\0';

	for (i = 0; rules && i < rules->n; i++) {
		if (!rule_match(&rules->rules[i], info))
			continue;
		copy_text(info->scan_type, sizeof(info->scan_type),
		          rules->rules[i].code);
		snprintf(source, sizeof(source), "rule %zu: %s", i + 1,
		         rules->rules[i].text ? rules->rules[i].text : "");
		copy_text(info->scan_type_source,
		          sizeof(info->scan_type_source), source);
		return;
	}

	why[0] = '\0';
	code = infer(info, why, sizeof(why));
	if (!code)
		return;
	copy_text(info->scan_type, sizeof(info->scan_type), code);
	snprintf(source, sizeof(source), "inferred: %s", why);
	copy_text(info->scan_type_source, sizeof(info->scan_type_source),
	          source);
}
