/*
 * test_compliance.c - unit tests of the scan-selection rules and verdicts
 * (src/compliance.c): the seed site's table row by row and at its
 * boundaries, unknown HRV and calcium scores, the verdict texts, and the
 * rule parser with its errors and limits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compliance.h"

#define FORCE "SOMATOM Force"
#define ALPHA "NAEOTOM Alpha"

/* The built-in rules of config.c: the seed's table (DOMAIN.md). */
static const char *const seed_table[] = {
	"flash hr<60 hrv=low calcium=0",
	"seq_diastolic hr=60-65 hrv=low calcium=0-100",
	"seq_systolic hr>65 hrv=high calcium=0-100",
	"uhr_spiral_retro hr>60 hrv=high calcium>100 model~\"*NAEOTOM Alpha*\"",
	"uhr_seq_diastolic hr<60 hrv=low calcium>100 model~\"*NAEOTOM Alpha*\"",
	NULL,
};

static void rules_load(struct compliance_rules *rules, const char *const *text)
{
	char *err = NULL;

	memset(rules, 0, sizeof(*rules));
	for (size_t i = 0; text[i]; i++) {
		assert_int_equal(compliance_rule_add(rules, text[i], &err), 0);
		assert_null(err);
	}
}

/* Judges one exam against the seed table (HRV high from 10 bpm). */
static struct compliance_result judge(const char *model, double hr, double hrv,
                                      double calcium, const char *scan_type)
{
	struct compliance_rules rules;
	struct compliance_result res;
	struct compliance_exam exam = {
		.hr_bpm = hr, .hrv_bpm = hrv, .calcium = calcium,
		.model = model, .station = "CT1", .scan_type = scan_type,
	};

	rules_load(&rules, seed_table);
	compliance_judge(&rules, 10, &exam, &res);
	compliance_rules_release(&rules);
	return res;
}

static void assert_verdict(const struct compliance_result *res,
                           const char *expected, const char *verdict)
{
	char buf[64];

	assert_string_equal(res->expected, expected);
	assert_string_equal(compliance_verdict_text(res, buf, sizeof buf), verdict);
}

static void test_compliance__seed_table_rows(void **state)
{
	struct compliance_result r;

	(void)state;
	r = judge(FORCE, 55, 2, 0, "flash");
	assert_int_equal(r.verdict, COMPLIANCE_COMPLIANT);
	assert_int_equal(r.without, 0);
	assert_verdict(&r, "flash", "compliant");
	r = judge(FORCE, 62, 3, 50, "seq_diastolic");
	assert_verdict(&r, "seq_diastolic", "compliant");
	r = judge(FORCE, 72, 14, 80, "seq_systolic");
	assert_verdict(&r, "seq_systolic", "compliant");
	r = judge(ALPHA, 70, 12, 300, "uhr_spiral_retro");
	assert_verdict(&r, "uhr_spiral_retro", "compliant");
	r = judge(ALPHA, 55, 2, 150, "uhr_seq_diastolic");
	assert_verdict(&r, "uhr_seq_diastolic", "compliant");
}

static void test_compliance__judges_the_wrong_scan_type(void **state)
{
	struct compliance_result r;

	(void)state;
	r = judge(FORCE, 55, 2, 0, "seq_diastolic");
	assert_int_equal(r.verdict, COMPLIANCE_NONCOMPLIANT);
	assert_true(compliance_judged(&r));
	assert_verdict(&r, "flash", "non-compliant");
}

static void test_compliance__table_boundaries(void **state)
{
	struct compliance_result r;

	(void)state;
	/* 60 and 65 bpm are in "60-65", not in "< 60" or "> 65" */
	r = judge(FORCE, 60, 2, 0, "flash");
	assert_verdict(&r, "seq_diastolic", "non-compliant");
	r = judge(FORCE, 65, 2, 100, "seq_diastolic");
	assert_verdict(&r, "seq_diastolic", "compliant");
	r = judge(FORCE, 65.5, 10, 100, "seq_systolic");
	assert_verdict(&r, "seq_systolic", "compliant");
	/* HRV is high from hrv_high_bpm on */
	r = judge(FORCE, 65.5, 9.9, 100, "seq_systolic");
	assert_int_equal(r.verdict, COMPLIANCE_NO_RULE);
	/* calcium 0 is in "0" and in "0-100": the first rule wins */
	r = judge(FORCE, 59, 0, 0, "flash");
	assert_verdict(&r, "flash", "compliant");
	r = judge(FORCE, 59, 0, 0.5, "flash");
	assert_int_equal(r.verdict, COMPLIANCE_NO_RULE);
}

static void test_compliance__uhr_rows_only_on_naeotom_alpha(void **state)
{
	struct compliance_result r;

	(void)state;
	r = judge(FORCE, 70, 12, 300, "spiral_retro");
	assert_int_equal(r.verdict, COMPLIANCE_NO_RULE);
	assert_verdict(&r, "", "no rule");
	assert_false(compliance_judged(&r));
	/* model globs ignore case and match later model names */
	r = judge("naeotom alpha.Pro", 55, 2, 150, "uhr_seq_diastolic");
	assert_verdict(&r, "uhr_seq_diastolic", "compliant");
	r = judge(NULL, 55, 2, 150, "uhr_seq_diastolic");
	assert_int_equal(r.verdict, COMPLIANCE_NO_RULE);
}

static void test_compliance__unknown_calcium_judges_on_hr_and_hrv(void **state)
{
	struct compliance_result r;

	(void)state;
	/* Force: the UHR row cannot apply, flash is the only possibility */
	r = judge(FORCE, 55, 2, NAN, "flash");
	assert_int_equal(r.without, COMPLIANCE_WITHOUT_CALCIUM);
	assert_verdict(&r, "flash", "compliant (calcium unknown)");
	/* Alpha: flash (calcium 0) or UHR sequential (calcium > 100) */
	r = judge(ALPHA, 55, 2, NAN, "uhr_seq_diastolic");
	assert_verdict(&r, "flash|uhr_seq_diastolic", "compliant (calcium unknown)");
	r = judge(ALPHA, 55, 2, NAN, "seq_systolic");
	assert_verdict(&r, "flash|uhr_seq_diastolic",
	               "non-compliant (calcium unknown)");
}

static void test_compliance__unknown_hrv_judges_on_hr_and_calcium(void **state)
{
	struct compliance_result r;

	(void)state;
	r = judge(FORCE, 70, NAN, 0, "seq_systolic");
	assert_int_equal(r.without, COMPLIANCE_WITHOUT_HRV);
	assert_verdict(&r, "seq_systolic", "compliant (HRV unknown)");
	r = judge(FORCE, 62, NAN, NAN, "seq_diastolic");
	assert_int_equal(r.without,
	                 COMPLIANCE_WITHOUT_HRV | COMPLIANCE_WITHOUT_CALCIUM);
	assert_verdict(&r, "seq_diastolic", "compliant (HRV, calcium unknown)");
	r = judge(ALPHA, 62, NAN, NAN, "uhr_spiral_retro");
	assert_verdict(&r, "seq_diastolic|uhr_spiral_retro", "compliant (HRV, calcium unknown)");
}

static void test_compliance__known_values_decide_without_qualifier(void **state)
{
	static const char *const text[] = {
		"seq_systolic hr>=70",
		"flash hr<70 calcium=0",
		NULL,
	};
	struct compliance_rules rules;
	struct compliance_result res;
	struct compliance_exam exam = {
		.hr_bpm = 75, .hrv_bpm = NAN, .calcium = NAN,
		.scan_type = "seq_systolic",
	};

	(void)state;
	rules_load(&rules, text);
	/* The first rule needs neither HRV nor calcium: a plain verdict. */
	compliance_judge(&rules, 10, &exam, &res);
	assert_int_equal(res.without, 0);
	assert_verdict(&res, "seq_systolic", "compliant");
	compliance_rules_release(&rules);
}

static void test_compliance__lists_possible_codes_once(void **state)
{
	static const char *const text[] = {
		"flash calcium=0",
		"flash hr<70",
		"seq_systolic hr>=50",
		NULL,
	};
	struct compliance_rules rules;
	struct compliance_result res;
	struct compliance_exam exam = {
		.hr_bpm = 60, .hrv_bpm = NAN, .calcium = NAN, .scan_type = "flash",
	};

	(void)state;
	rules_load(&rules, text);
	/* the second rule decides: the third is never reached */
	compliance_judge(&rules, 10, &exam, &res);
	assert_verdict(&res, "flash", "compliant (calcium unknown)");
	compliance_rules_release(&rules);
}

static void test_compliance__not_judged_without_hr_or_scan_type(void **state)
{
	struct compliance_result r;

	(void)state;
	r = judge(FORCE, NAN, 2, 0, "flash");
	assert_int_equal(r.verdict, COMPLIANCE_NO_HR);
	assert_verdict(&r, "", "no heart rate");
	r = judge(FORCE, 55, 2, 0, NULL);
	assert_int_equal(r.verdict, COMPLIANCE_NO_SCAN_TYPE);
	assert_verdict(&r, "flash", "no scan type");
	r = judge(FORCE, 55, 2, 0, "");
	assert_int_equal(r.verdict, COMPLIANCE_NO_SCAN_TYPE);
}

static void test_compliance__first_matching_rule_wins(void **state)
{
	static const char *const text[] = {
		"seq_systolic station~\"CT 2\" hr>=60",
		"flash hr<=63.5",
		"flash hr<=70",
		"seq_diastolic hrv<5",
		NULL,
	};
	struct compliance_rules rules;
	struct compliance_result res;
	struct compliance_exam exam = {
		.hr_bpm = 63.5, .hrv_bpm = NAN, .calcium = NAN,
		.station = "ct 2", .scan_type = "seq_systolic",
	};

	(void)state;
	rules_load(&rules, text);
	compliance_judge(&rules, 10, &exam, &res);
	assert_verdict(&res, "seq_systolic", "compliant");
	exam.station = "CT 1";
	compliance_judge(&rules, 10, &exam, &res);
	assert_verdict(&res, "flash", "non-compliant");
	/* a rule on an HRV the exam lacks stays possible */
	exam.hr_bpm = 80;
	compliance_judge(&rules, 10, &exam, &res);
	assert_verdict(&res, "seq_diastolic", "non-compliant (HRV unknown)");
	compliance_rules_release(&rules);
	/* no rules: nothing applies */
	compliance_judge(&rules, 10, &exam, &res);
	assert_int_equal(res.verdict, COMPLIANCE_NO_RULE);
	compliance_judge(NULL, 10, &exam, &res);
	assert_int_equal(res.verdict, COMPLIANCE_NO_RULE);
}

static void test_compliance__parses_conditions(void **state)
{
	struct compliance_rules rules = {0};
	const struct compliance_cond *c;
	char *err = NULL;

	(void)state;
	assert_int_equal(compliance_rule_add(&rules,
		"  seq_diastolic hr>=60.5 hr<=65 HRV=High calcium=10-400.5 "
		"model~\"*Alpha *\" calcium>1 calcium<9 hrv=3\t", &err), 0);
	assert_null(err);
	assert_string_equal(rules.rules[0].text,
	                    "seq_diastolic hr>=60.5 hr<=65 HRV=High "
	                    "calcium=10-400.5 model~\"*Alpha *\" calcium>1 "
	                    "calcium<9 hrv=3");
	assert_int_equal(rules.rules[0].nconds, 8);
	c = rules.rules[0].conds;
	assert_int_equal(c[0].op, 'g');
	assert_true(c[0].lo == 60.5);
	assert_int_equal(c[1].op, 'l');
	assert_int_equal(c[2].field, COMPLIANCE_HRV);
	assert_int_equal(c[2].op, 'H');
	assert_int_equal(c[3].op, 'r');
	assert_true(c[3].lo == 10 && c[3].hi == 400.5);
	assert_string_equal(c[4].pattern, "*Alpha *");
	assert_int_equal(c[7].op, '=');
	compliance_rules_release(&rules);
	assert_int_equal(rules.n, 0);
	compliance_rules_release(&rules);
	compliance_rules_release(NULL);
}

static void assert_rejected(const char *text, const char *message)
{
	struct compliance_rules rules = {0};
	char *err = NULL;

	assert_int_equal(compliance_rule_add(&rules, text, &err), -EINVAL);
	assert_non_null(err);
	assert_string_equal(err, message);
	assert_int_equal(rules.n, 0);
	free(err);
}

static void test_compliance__rejects_bad_rules(void **state)
{
	(void)state;
	assert_rejected("", "empty rule (expected CODE CONDITION...)");
	assert_rejected("flash", "rule 'flash' has no condition (expected CODE "
	                "CONDITION...)");
	assert_rejected("fast hr<60", "unknown scan type 'fast' (one of flash, "
	                "seq_diastolic, seq_systolic, spiral_retro, "
	                "uhr_spiral_retro, uhr_seq_diastolic)");
	assert_rejected("flash bpm<60", "unknown field 'bpm' in 'bpm<60' (one "
	                "of hr, hrv, calcium, model, station)");
	assert_rejected("flash <60", "condition '<60' does not start with a "
	                "field (one of hr, hrv, calcium, model, station)");
	assert_rejected("flash hr", "missing operator after field 'hr' in 'hr'");
	assert_rejected("flash hr<", "missing value in 'hr<'");
	assert_rejected("flash hr!60", "unknown operator in 'hr!60' (~ for "
	                "model and station; <, <=, >, >=, = for hr, hrv and "
	                "calcium)");
	assert_rejected("flash hr~6*", "field 'hr' takes <, <=, >, >= or = in "
	                "'hr~6*'");
	assert_rejected("flash model=Force", "field 'model' takes ~GLOB in "
	                "'model=Force'");
	assert_rejected("flash hr<-1", "'-1' is not a number (digits, optionally "
	                "'.' and digits) in 'hr<-1'");
	assert_rejected("flash hr<6O", "'6O' is not a number (digits, optionally "
	                "'.' and digits) in 'hr<6O'");
	assert_rejected("flash hrv=lo", "'lo' is not a number (digits, optionally "
	                "'.' and digits), low or high in 'hrv=lo'");
	assert_rejected("flash hr>low", "'low' is not a number (digits, "
	                "optionally '.' and digits) in 'hr>low'");
	assert_rejected("flash hr=65-60", "range '65-60' runs backwards in "
	                "'hr=65-60'");
	assert_rejected("flash hr=60-", "'60-' is not a range N-M of numbers in "
	                "'hr=60-'");
	assert_rejected("flash hr<60-65", "'60-65' is not a number (digits, "
	                "optionally '.' and digits) in 'hr<60-65'");
	assert_rejected("flash model~\"*Alpha", "unterminated quote in 'flash "
	                "model~\"*Alpha'");
	assert_rejected("flash hr<60\n", "control character 0x0a at byte 12 of "
	                "the rule");
}

static void test_compliance__limits_rules(void **state)
{
	struct compliance_rules rules = {0};
	char text[COMPLIANCE_RULE_MAX + 64], *err = NULL;
	size_t n;

	(void)state;
	/* 16 conditions, not 17 */
	n = (size_t)snprintf(text, sizeof text, "flash");
	for (int i = 0; i < COMPLIANCE_MAX_CONDS; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, " hr<%d", 100 + i);
	assert_int_equal(compliance_rule_add(&rules, text, &err), 0);
	snprintf(text + n, sizeof text - n, " hr<1");
	assert_rejected(text, "more than 16 conditions in a rule");
	/* length */
	memset(text, ' ', sizeof text);
	memcpy(text, "flash hr<1", 10);
	text[COMPLIANCE_RULE_MAX + 1] = '\0';
	assert_rejected(text, "rule is longer than 1024 bytes");
	text[COMPLIANCE_RULE_MAX] = '\0';
	assert_int_equal(compliance_rule_add(&rules, text, &err), 0);
	/* count */
	while (rules.n < COMPLIANCE_MAX_RULES)
		assert_int_equal(compliance_rule_add(&rules, "flash hr<1", &err), 0);
	assert_int_equal(compliance_rule_add(&rules, "flash hr<1", &err), -EINVAL);
	assert_string_equal(err, "more than 256 rules");
	free(err);
	assert_int_equal(rules.n, COMPLIANCE_MAX_RULES);
	compliance_rules_release(&rules);
	/* no rules object, no text */
	err = NULL;
	assert_int_equal(compliance_rule_add(NULL, "flash hr<1", &err), -EINVAL);
	free(err);
}

static void test_compliance__verdict_text_fits_small_buffers(void **state)
{
	struct compliance_result r = judge(ALPHA, 55, NAN, NAN, "flash");
	char buf[8];

	(void)state;
	assert_string_equal(compliance_verdict_text(&r, buf, sizeof buf),
	                    "complia");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compliance__seed_table_rows),
		cmocka_unit_test(test_compliance__judges_the_wrong_scan_type),
		cmocka_unit_test(test_compliance__table_boundaries),
		cmocka_unit_test(test_compliance__uhr_rows_only_on_naeotom_alpha),
		cmocka_unit_test(test_compliance__unknown_calcium_judges_on_hr_and_hrv),
		cmocka_unit_test(test_compliance__unknown_hrv_judges_on_hr_and_calcium),
		cmocka_unit_test(test_compliance__known_values_decide_without_qualifier),
		cmocka_unit_test(test_compliance__lists_possible_codes_once),
		cmocka_unit_test(test_compliance__not_judged_without_hr_or_scan_type),
		cmocka_unit_test(test_compliance__first_matching_rule_wins),
		cmocka_unit_test(test_compliance__parses_conditions),
		cmocka_unit_test(test_compliance__rejects_bad_rules),
		cmocka_unit_test(test_compliance__limits_rules),
		cmocka_unit_test(test_compliance__verdict_text_fits_small_buffers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
