/*
 * test_classify.c - unit tests of the scan type (src/classify.c): each
 * inference path, the UHR modes, site rules and their parser, and rule
 * text that is long or garbage.
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

#include "classify.h"

/* An instance with nothing known: numbers NAN, strings "". */
static void info_blank(struct instance_info *info)
{
	memset(info, 0, sizeof(*info));
	info->series_number = NAN;
	info->patient_weight_kg = NAN;
	info->kvp = NAN;
	info->ctdivol_mgy = NAN;
	info->pitch = NAN;
	info->hr_min_bpm = NAN;
	info->hr_max_bpm = NAN;
	info->hr_avg_bpm = NAN;
	info->hr_var_bpm = NAN;
	info->heart_rate_bpm = NAN;
	info->phase_percent = NAN;
	info->rr_interval_ms = NAN;
	info->pulsing_start_percent = NAN;
	info->pulsing_end_percent = NAN;
	info->rr_low_ms = NAN;
	info->rr_high_ms = NAN;
	info->intervals_acquired = NAN;
	info->intervals_rejected = NAN;
	info->trigger_time_ms = NAN;
	info->single_collimation_mm = NAN;
	info->total_collimation_mm = NAN;
	info->frames = NAN;
	/* Stale values must be overwritten. */
	strcpy(info->scan_type, "stale");
	strcpy(info->scan_type_source, "stale");
}

/* A SOMATOM Force diastolic sequential scan, as in the seed talk. */
static void info_force_sequential(struct instance_info *info)
{
	info_blank(info);
	strcpy(info->model, "SOMATOM Force");
	strcpy(info->series_description, "DS_CorAdSeq  0.6  Bv40  3  BestDiast 70 %");
	strcpy(info->scan_options, "XOP\\DSEQCARD\\0001\\TRGD\\RSER000001\\"
	       "RIMA000016\\TP70PC1000\\OSCRATEMIN060BPM\\OSCRATEMAX060BPM\\"
	       "OSCRATEAVG060BPM\\OSCRATEVAR000BPM\\SYNCUSREDIT_NO");
	info->sequential = true;
	info->triggered = true;
	info->cardiac_tokens = true;
	info->phase_percent = 70;
	info->rr_interval_ms = 1000;
	info->hr_avg_bpm = 60;
}

static void classify(const struct classify_rules *rules,
                     struct instance_info *info, const char *code,
                     const char *source)
{
	classify_scan_type(rules, info);
	assert_string_equal(info->scan_type, code);
	if (source)
		assert_string_equal(info->scan_type_source, source);
}

static void add_ok(struct classify_rules *rules, const char *text)
{
	char *err = NULL;

	assert_int_equal(classify_rule_add(rules, text, &err), 0);
	assert_null(err);
}

/* ---- inference ---------------------------------------------------------- */

static void test_classify__infers_flash_from_high_pitch(void **state)
{
	struct instance_info info;

	(void)state;
	info_blank(&info);
	info.pitch = 3.2;
	info.triggered = true;   /* a Flash spiral is ECG-triggered too */
	classify(NULL, &info, "flash",
	         "inferred: pitch 3.2 >= 1.5 (high-pitch spiral)");

	info_blank(&info);
	info.pitch = 1.5;
	strcpy(info.acquisition_type, "SPIRAL");
	classify(NULL, &info, "flash",
	         "inferred: pitch 1.5 >= 1.5 (high-pitch spiral)");

	/* A sequential scan with a pitch written anyway is not a spiral. */
	info_force_sequential(&info);
	info.pitch = 3.4;
	classify(NULL, &info, "seq_diastolic", NULL);
}

static void test_classify__infers_sequential_phase(void **state)
{
	struct instance_info info;

	(void)state;
	info_force_sequential(&info);
	classify(NULL, &info, "seq_diastolic",
	         "inferred: sequential, phase 70 % >= 50");

	info.phase_percent = 40;
	classify(NULL, &info, "seq_systolic",
	         "inferred: sequential, phase 40 % < 50");

	info.phase_percent = 50;
	classify(NULL, &info, "seq_diastolic",
	         "inferred: sequential, phase 50 % >= 50");

	/* Acquisition Type alone says sequential; CONSTANT_ANGLE does not. */
	info_blank(&info);
	info.phase_percent = 75;
	strcpy(info.acquisition_type, "SEQUENCED");
	classify(NULL, &info, "seq_diastolic", NULL);
	strcpy(info.acquisition_type, "STATIONARY");
	classify(NULL, &info, "seq_diastolic", NULL);
	strcpy(info.acquisition_type, "CONSTANT_ANGLE");
	classify(NULL, &info, "", "");

	/* TRGD without a pitch is a triggered sequence ... */
	info_blank(&info);
	info.triggered = true;
	info.phase_percent = 35;
	classify(NULL, &info, "seq_systolic", NULL);
	/* ... but not when the header says SPIRAL. */
	strcpy(info.acquisition_type, "SPIRAL");
	info.cardiac_tokens = true;
	classify(NULL, &info, "spiral_retro", NULL);
}

static void test_classify__infers_phase_from_pulsing_window(void **state)
{
	struct instance_info info;

	(void)state;
	info_force_sequential(&info);
	info.phase_percent = NAN;
	info.pulsing_start_percent = 60;
	info.pulsing_end_percent = 80;
	classify(NULL, &info, "seq_diastolic",
	         "inferred: sequential, pulsing 60-80 %, middle 70 % >= 50");

	info.pulsing_start_percent = 30;
	info.pulsing_end_percent = 50;
	classify(NULL, &info, "seq_systolic",
	         "inferred: sequential, pulsing 30-50 %, middle 40 % < 50");

	/* The window (the acquisition) comes before phase_percent (one
	 * reconstruction of it): a systolic window with a diastolic
	 * reconstruction is still a systolic scan. */
	info.phase_percent = 75;
	classify(NULL, &info, "seq_systolic",
	         "inferred: sequential, pulsing 30-50 %, middle 40 % < 50");

	/* Without a window, phase_percent decides; out of range, it is skipped. */
	info.pulsing_start_percent = NAN;
	info.pulsing_end_percent = NAN;
	classify(NULL, &info, "seq_diastolic", "inferred: sequential, phase 75 % >= 50");
	info.phase_percent = 250;
	classify(NULL, &info, "", "");
	info.pulsing_start_percent = 30;
	info.pulsing_end_percent = 50;

	/* Half a window, or a reversed one, gives no phase. */
	info.phase_percent = NAN;
	info.pulsing_end_percent = NAN;
	classify(NULL, &info, "", "");
	info.pulsing_start_percent = 80;
	info.pulsing_end_percent = 30;
	classify(NULL, &info, "", "");
}

static void test_classify__infers_phase_from_trigger_time(void **state)
{
	struct instance_info info;

	(void)state;
	info_force_sequential(&info);
	info.phase_percent = NAN;
	info.trigger_time_ms = 300;
	info.rr_interval_ms = 1000;
	classify(NULL, &info, "seq_systolic",
	         "inferred: sequential, trigger 300 ms of R-R 1000 ms = 30 % "
	         "< 50");
	info.trigger_time_ms = 700;
	classify(NULL, &info, "seq_diastolic",
	         "inferred: sequential, trigger 700 ms of R-R 1000 ms = 70 % "
	         ">= 50");

	/* Either one missing, or nonsense, gives no phase. */
	info.rr_interval_ms = NAN;
	classify(NULL, &info, "", "");
	info.rr_interval_ms = 0;
	classify(NULL, &info, "", "");
	info.rr_interval_ms = 500;
	classify(NULL, &info, "", "");   /* 700 ms > R-R */
	info.trigger_time_ms = NAN;
	classify(NULL, &info, "", "");
}

static void test_classify__infers_retrospective_spiral(void **state)
{
	struct instance_info info;

	(void)state;
	info_blank(&info);
	info.pitch = 0.25;
	strcpy(info.exposure_modulation, "ecg");
	classify(NULL, &info, "spiral_retro",
	         "inferred: spiral, pitch 0.25 < 1.5, ECG exposure modulation");

	info_blank(&info);
	info.pitch = 0.3;
	info.pulsing_start_percent = 30;
	classify(NULL, &info, "spiral_retro",
	         "inferred: spiral, pitch 0.3 < 1.5, ECG pulsing window");

	info_blank(&info);
	info.pitch = 0.3;
	info.heart_rate_bpm = 72;
	classify(NULL, &info, "spiral_retro",
	         "inferred: spiral, pitch 0.3 < 1.5, heart rate");

	info_blank(&info);
	strcpy(info.acquisition_type, "SPIRAL");
	info.cardiac_tokens = true;
	classify(NULL, &info, "spiral_retro",
	         "inferred: spiral (acquisition type), cardiac Scan Options");

	/* A spiral without ECG evidence is not told. */
	info_blank(&info);
	info.pitch = 0.9;
	strcpy(info.exposure_modulation, "XYZ");
	classify(NULL, &info, "", "");
}

static void test_classify__infers_uhr_modes_on_naeotom_alpha(void **state)
{
	struct instance_info info;

	(void)state;
	info_blank(&info);
	strcpy(info.model, "NAEOTOM Alpha");
	info.single_collimation_mm = 0.2;
	info.total_collimation_mm = 24;
	info.pitch = 0.2;
	info.hr_avg_bpm = 64;
	classify(NULL, &info, "uhr_spiral_retro",
	         "inferred: spiral, pitch 0.2 < 1.5, heart rate, UHR 0.2 mm");

	info_blank(&info);
	strcpy(info.model, "naeotom alpha.Pro");
	info.single_collimation_mm = 0.2;
	info.sequential = true;
	info.phase_percent = 70;
	classify(NULL, &info, "uhr_seq_diastolic",
	         "inferred: sequential, phase 70 % >= 50, UHR 0.2 mm");

	/* No uhr_seq_systolic code: it stays seq_systolic. */
	info.phase_percent = 40;
	classify(NULL, &info, "seq_systolic",
	         "inferred: sequential, phase 40 % < 50, UHR (no uhr_ code)");

	/* A UHR flash is a flash. */
	info.sequential = false;
	info.pitch = 3.2;
	classify(NULL, &info, "flash", NULL);

	/* Standard collimation, a missing one, or another model: no UHR,
	 * and a 24 mm total alone does not say 0.2 mm. */
	info.pitch = NAN;
	info.sequential = true;
	info.phase_percent = 70;
	info.single_collimation_mm = 0.4;
	classify(NULL, &info, "seq_diastolic", NULL);
	info.single_collimation_mm = NAN;
	info.total_collimation_mm = 19.2;
	classify(NULL, &info, "seq_diastolic", NULL);
	strcpy(info.model, "SOMATOM Force");
	info.single_collimation_mm = 0.2;
	classify(NULL, &info, "seq_diastolic", NULL);
}

static void test_classify__leaves_unknown_empty(void **state)
{
	struct instance_info info;

	(void)state;
	info_blank(&info);
	classify(NULL, &info, "", "");
	/* Sequential with no phase at all. */
	info.sequential = true;
	classify(NULL, &info, "", "");
	/* A zero pitch is no pitch. */
	info_blank(&info);
	info.pitch = 0;
	info.hr_avg_bpm = 60;
	classify(NULL, &info, "", "");
	classify_scan_type(NULL, NULL);
}

/* ---- site rules --------------------------------------------------------- */

static void test_classify__site_rules_win_over_inference(void **state)
{
	struct classify_rules rules = { 0 };
	struct instance_info info;

	(void)state;
	add_ok(&rules, "seq_systolic description~DS_*");
	info_force_sequential(&info);
	classify(&rules, &info, "seq_systolic",
	         "rule 1: seq_systolic description~DS_*");

	/* Not matching: inference. */
	strcpy(info.series_description, "CorCTA");
	classify(&rules, &info, "seq_diastolic",
	         "inferred: sequential, phase 70 % >= 50");
	classify_rules_release(&rules);
	assert_int_equal(rules.n, 0);
	assert_null(rules.rules);
	classify_rules_release(&rules);
	classify_rules_release(NULL);
}

static void test_classify__first_matching_rule_wins(void **state)
{
	struct classify_rules rules = { 0 };
	struct instance_info info;

	(void)state;
	add_ok(&rules, "flash description~F1_*");
	add_ok(&rules, "  seq_systolic   description~*SysAdSeq*  ");
	add_ok(&rules, "seq_diastolic description~*AdSeq*");
	assert_int_equal(rules.n, 3);
	assert_string_equal(rules.rules[1].code, "seq_systolic");
	assert_string_equal(rules.rules[1].text,
	                    "seq_systolic   description~*SysAdSeq*");

	info_blank(&info);
	strcpy(info.series_description, "ss_sysadseq 0.6 Bv40");
	classify(&rules, &info, "seq_systolic",
	         "rule 2: seq_systolic   description~*SysAdSeq*");
	strcpy(info.series_description, "DS_CorAdSeq");
	classify(&rules, &info, "seq_diastolic",
	         "rule 3: seq_diastolic description~*AdSeq*");
	strcpy(info.series_description, "F1_CorCTA");
	classify(&rules, &info, "flash", "rule 1: flash description~F1_*");
	classify_rules_release(&rules);
}

static void test_classify__all_conditions_must_hold(void **state)
{
	struct classify_rules rules = { 0 };
	struct instance_info info;

	(void)state;
	add_ok(&rules, "uhr_seq_diastolic model~*Alpha* protocol~*Seq* "
	               "study_description~Cardiac*");
	info_blank(&info);
	strcpy(info.model, "NAEOTOM Alpha");
	strcpy(info.protocol_name, "UHR_CorAdSeq");
	classify(&rules, &info, "", "");
	strcpy(info.study_description, "CARDIAC^CTA");
	classify(&rules, &info, "uhr_seq_diastolic", NULL);
	classify_rules_release(&rules);
}

static void test_classify__quoted_globs(void **state)
{
	struct classify_rules rules = { 0 };
	struct instance_info info;

	(void)state;
	add_ok(&rules, "seq_systolic description~\"CorCTA sys*\"");
	add_ok(&rules, "spiral_retro \"description~CTA Coronary*\"");
	add_ok(&rules, "flash description~\"CorCTA\"\" \"60*");
	assert_string_equal(rules.rules[0].conds[0].pattern, "CorCTA sys*");
	assert_string_equal(rules.rules[1].conds[0].pattern, "CTA Coronary*");
	assert_string_equal(rules.rules[2].conds[0].pattern, "CorCTA 60*");

	info_blank(&info);
	strcpy(info.series_description, "CorCTA sys 40%");
	classify(&rules, &info, "seq_systolic", NULL);
	strcpy(info.series_description, "CTA Coronary 0.75 Bv36");
	classify(&rules, &info, "spiral_retro", NULL);
	strcpy(info.series_description, "CorCTA 60-80");
	classify(&rules, &info, "flash", NULL);
	/* "CorCTA" and "sys*" are not two conditions. */
	strcpy(info.series_description, "CorCTA");
	classify(&rules, &info, "", "");
	classify_rules_release(&rules);
}

static void test_classify__token_conditions(void **state)
{
	struct classify_rules rules = { 0 };
	struct instance_info info;

	(void)state;
	add_ok(&rules, "seq_systolic token~TP4?PC*");
	add_ok(&rules, "seq_diastolic token~dseqcard");
	add_ok(&rules, "flash token~*Flash*");

	info_force_sequential(&info);
	classify(&rules, &info, "seq_diastolic",
	         "rule 2: seq_diastolic token~dseqcard");
	strcpy(info.scan_options, " XOP \\TRGD\\ TP40PC0850 \\\\");
	classify(&rules, &info, "seq_systolic", NULL);
	/* A glob is matched against each value, not the whole string. */
	strcpy(info.scan_options, "TRGD\\XOP");
	info.sequential = false;
	info.phase_percent = NAN;
	classify(&rules, &info, "", "");
	strcpy(info.scan_options, "A\\B\\HIGHPITCH_FLASH_1");
	classify(&rules, &info, "flash", NULL);
	classify_rules_release(&rules);
}

static void test_classify__numeric_conditions(void **state)
{
	static const struct {
		const char *rule;
		double value;
		bool match;
	} cases[] = {
		{ "flash pitch>=3.2", 3.2, true },
		{ "flash pitch>=3.2", 3.1999, false },
		{ "flash pitch>3.2", 3.2, false },
		{ "flash pitch>3.2", 3.4, true },
		{ "flash pitch=3.2", 3.2, true },
		{ "flash pitch=3", 3.2, false },
		{ "flash pitch<1.5", 1.4, true },
		{ "flash pitch<1.5", 1.5, false },
		{ "flash pitch<=1.5", 1.5, true },
		{ "flash pitch<=0.25", 0.25, true },
		{ "flash pitch<=000.250", 0.25, true },
		{ "flash pitch>0", NAN, false },
		{ "flash pitch<999999", NAN, false },
	};
	struct classify_rules rules = { 0 };
	struct instance_info info;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		add_ok(&rules, cases[i].rule);
		info_blank(&info);
		info.pitch = cases[i].value;
		classify_scan_type(&rules, &info);
		if (cases[i].match != (strncmp(info.scan_type_source, "rule 1",
		                               6) == 0))
			fail_msg("'%s' with pitch %g", cases[i].rule,
			         cases[i].value);
		classify_rules_release(&rules);
	}

	add_ok(&rules, "seq_diastolic phase>=60 phase<=80");
	info_blank(&info);
	info.phase_percent = 70;
	classify(&rules, &info, "seq_diastolic",
	         "rule 1: seq_diastolic phase>=60 phase<=80");
	info.phase_percent = 81;
	classify(&rules, &info, "", "");
	classify_rules_release(&rules);
}

static void test_classify__rejects_bad_rules(void **state)
{
	static const struct {
		const char *text;
		const char *message;
	} bad[] = {
		{ "", "empty rule (expected CODE CONDITION...)" },
		{ "   \t ", "empty rule (expected CODE CONDITION...)" },
		{ "flash", "rule 'flash' has no condition (expected CODE "
		           "CONDITION...)" },
		{ "Flash description~x", "unknown scan type 'Flash' (one of "
		  "flash, seq_diastolic, seq_systolic, spiral_retro, "
		  "uhr_spiral_retro, uhr_seq_diastolic)" },
		{ "uhr_seq_systolic pitch<1", "unknown scan type "
		  "'uhr_seq_systolic' (one of flash, seq_diastolic, "
		  "seq_systolic, spiral_retro, uhr_spiral_retro, "
		  "uhr_seq_diastolic)" },
		{ "flash descr~F1*", "unknown field 'descr' in 'descr~F1*' (one "
		  "of description, protocol, study_description, model, token, "
		  "phase, pitch)" },
		{ "flash ~F1*", "condition '~F1*' does not start with a field" },
		{ "flash pitch", "missing operator after field 'pitch' in "
		  "'pitch'" },
		{ "flash pitch!=3", "unknown operator '!' in 'pitch!=3' (~ for "
		  "text fields; <, <=, >, >=, = for numbers)" },
		{ "flash pitch=>3", "'>3' is not a number (digits, optionally "
		  "'.' and digits) in 'pitch=>3'" },
		{ "flash pitch~3*", "field 'pitch' takes a comparison with a "
		  "number (<, <=, >, >=, =) in 'pitch~3*'" },
		{ "flash description=F1", "field 'description' takes ~GLOB in "
		  "'description=F1'" },
		{ "flash description~", "missing glob in 'description~'" },
		{ "flash description~\"\"", "missing glob in 'description~'" },
		{ "flash description~\"F1 *", "unterminated quote in "
		  "'flash description~\"F1 *'" },
		{ "flash pitch>=1,5", "'1,5' is not a number (digits, "
		  "optionally '.' and digits) in 'pitch>=1,5'" },
		{ "flash pitch>=-1", "'-1' is not a number (digits, optionally "
		  "'.' and digits) in 'pitch>=-1'" },
		{ "flash pitch>=1e3", "'1e3' is not a number (digits, optionally "
		  "'.' and digits) in 'pitch>=1e3'" },
		{ "flash pitch>=1.", "'1.' is not a number (digits, optionally "
		  "'.' and digits) in 'pitch>=1.'" },
		{ "flash pitch>=.5", "'.5' is not a number (digits, optionally "
		  "'.' and digits) in 'pitch>=.5'" },
		{ "flash pitch>=1.2.3", "'1.2.3' is not a number (digits, "
		  "optionally '.' and digits) in 'pitch>=1.2.3'" },
		{ "flash pitch>=nan", "'nan' is not a number (digits, optionally "
		  "'.' and digits) in 'pitch>=nan'" },
		{ "flash pitch<1234567890123456", "'1234567890123456' is not a "
		  "number (digits, optionally '.' and digits) in "
		  "'pitch<1234567890123456'" },
		{ "flash pitch>3 pitch>", "'' is not a number (digits, optionally "
		  "'.' and digits) in 'pitch>'" },
		{ "flash description~a\nb", "control character 0x0a at byte 20 "
		  "of the rule" },
		{ "flash p\xc3\xa9tch<1", "unknown field 'p' in "
		  "'p\xc3\xa9tch<1' (one of description, protocol, "
		  "study_description, model, token, phase, pitch)" },
		{ "flash pitch\xc3\xa9<1", "unknown operator (byte 0xc3) in "
		  "'pitch\xc3\xa9<1'" },
		{ "flash a~1 a~2 a~3", "unknown field 'a' in 'a~1' (one of "
		  "description, protocol, study_description, model, token, "
		  "phase, pitch)" },
		{ "flash pitch>1 pitch>1 pitch>1 pitch>1 pitch>1 pitch>1 "
		  "pitch>1 pitch>1 pitch>1 pitch>1 pitch>1 pitch>1 pitch>1 "
		  "pitch>1 pitch>1 pitch>1 pitch>1",
		  "more than 16 conditions in a rule" },
	};
	struct classify_rules rules = { 0 };
	size_t i;
	char *err;
	int r;

	(void)state;
	add_ok(&rules, "flash pitch>=1.5");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		r = classify_rule_add(&rules, bad[i].text, &err);
		if (r != -EINVAL || !err || strcmp(err, bad[i].message) != 0)
			fail_msg("rule '%s': %d '%s', expected '%s'", bad[i].text,
			         r, err ? err : "(null)", bad[i].message);
		free(err);
		/* On error the list is unaltered. */
		assert_int_equal(rules.n, 1);
		assert_string_equal(rules.rules[0].text, "flash pitch>=1.5");
	}
	/* A NULL errmsg is allowed; NULL rules or text are errors. */
	assert_int_equal(classify_rule_add(&rules, "x", NULL), -EINVAL);
	assert_int_equal(classify_rule_add(NULL, "flash pitch>1", NULL),
	                 -EINVAL);
	assert_int_equal(classify_rule_add(&rules, NULL, NULL), -EINVAL);
	assert_int_equal(rules.n, 1);
	classify_rules_release(&rules);
}

static void test_classify__knows_its_codes(void **state)
{
	(void)state;
	assert_true(classify_code_valid("flash"));
	assert_true(classify_code_valid("seq_diastolic"));
	assert_true(classify_code_valid("seq_systolic"));
	assert_true(classify_code_valid("spiral_retro"));
	assert_true(classify_code_valid("uhr_spiral_retro"));
	assert_true(classify_code_valid("uhr_seq_diastolic"));
	assert_false(classify_code_valid("uhr_seq_systolic"));
	assert_false(classify_code_valid(""));
	assert_false(classify_code_valid("FLASH"));
	assert_false(classify_code_valid(NULL));
}

static void test_classify__limits_rule_length_and_count(void **state)
{
	struct classify_rules rules = { 0 };
	char *text, *err = NULL;
	size_t i;

	(void)state;
	/* 10000 characters: refused whole, nothing read past the limit
	 * matters. */
	text = malloc(10001);
	assert_non_null(text);
	memcpy(text, "flash description~", 18);
	memset(text + 18, 'x', 10000 - 18);
	text[10000] = '\0';
	assert_int_equal(classify_rule_add(&rules, text, &err), -EINVAL);
	assert_string_equal(err, "rule is longer than 1024 bytes");
	free(err);
	err = NULL;

	/* 1024 bytes exactly is accepted. */
	text[1024] = '\0';
	add_ok(&rules, text);
	classify_rules_release(&rules);
	free(text);

	for (i = 0; i < 256; i++)
		add_ok(&rules, "flash pitch>3");
	assert_int_equal(classify_rule_add(&rules, "flash pitch>3", &err),
	                 -EINVAL);
	assert_string_equal(err, "more than 256 rules");
	free(err);
	classify_rules_release(&rules);
}

static void test_classify__source_fits_and_stays_utf8(void **state)
{
	struct classify_rules rules = { 0 };
	struct instance_info info;
	char text[400];
	size_t n;

	(void)state;
	/* "rule 1: " and "flash description~" are 26 bytes; 68 more put a
	 * two-byte character at bytes 94 and 95, across the end of the
	 * field (95 bytes and the NUL). */
	n = (size_t)snprintf(text, sizeof(text), "flash description~");
	memset(text + n, 'a', 68);
	n += 68;
	strcpy(text + n, "\xc3\xa9*");
	add_ok(&rules, text);
	info_blank(&info);
	memset(info.series_description, 'a', 200);
	strcpy(info.series_description + 200, "\xc3\xa9!");
	/* The description does not match, the glob needs aaa...é. */
	classify_scan_type(&rules, &info);
	assert_string_equal(info.scan_type, "");

	memset(info.series_description, 'a', sizeof(info.series_description));
	info.series_description[n - 18] = '\xc3';
	info.series_description[n - 18 + 1] = '\xa9';
	info.series_description[n - 18 + 2] = '\0';
	classify_scan_type(&rules, &info);
	assert_string_equal(info.scan_type, "flash");
	n = strlen(info.scan_type_source);
	assert_true(n < sizeof(info.scan_type_source));
	/* Cut before the é, not in it. */
	assert_int_equal(n, 94);
	assert_int_equal((unsigned char)info.scan_type_source[n - 1], 'a');
	classify_rules_release(&rules);
}

static void test_classify__survives_unterminated_fields(void **state)
{
	struct classify_rules rules = { 0 };
	struct instance_info info;

	(void)state;
	add_ok(&rules, "flash description~*b model~* protocol~* "
	               "study_description~* token~*");
	info_blank(&info);
	memset(info.series_description, 'b', sizeof(info.series_description));
	memset(info.model, 'b', sizeof(info.model));
	memset(info.protocol_name, 'b', sizeof(info.protocol_name));
	memset(info.study_description, 'b', sizeof(info.study_description));
	memset(info.scan_options, 'b', sizeof(info.scan_options));
	memset(info.exposure_modulation, 'E', sizeof(info.exposure_modulation));
	memset(info.acquisition_type, 'S', sizeof(info.acquisition_type));
	classify(&rules, &info, "flash", NULL);
	classify(NULL, &info, "", "");
	classify_rules_release(&rules);
}

/* Deterministic xorshift, so a failure can be replayed. */
static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void test_classify__garbage_rules_do_not_crash(void **state)
{
	static const char alphabet[] = "~<>=\"\\ \t*?[]!^-.0123456789"
	                               "abcdefghijklmnopqrstuvwxyz_";
	static const char *const words[] = {
		"flash ", "seq_diastolic ", "description~", "token~", "pitch",
		"phase", ">=", "<=", "\"", " ", "1.5", "[", "*", "\\",
	};
	struct classify_rules rules = { 0 };
	struct instance_info info;
	char text[1100], *err;
	uint32_t seed = 0x2545F491u;
	size_t i, n, len, accepted = 0;
	int r;

	(void)state;
	info_force_sequential(&info);
	for (i = 0; i < 20000; i++) {
		len = rnd(&seed) % (sizeof(text) - 1);
		for (n = 0; n < len; n++) {
			switch (rnd(&seed) % 3) {
			case 0:   /* any byte but NUL */
				text[n] = (char)(rnd(&seed) % 255 + 1);
				break;
			case 1:
				text[n] = alphabet[rnd(&seed) %
				                   (sizeof(alphabet) - 1)];
				break;
			default: {
				const char *w = words[rnd(&seed) %
				                      (sizeof(words) /
				                       sizeof(words[0]))];
				size_t wl = strlen(w);

				if (n + wl > len)
					wl = len - n;
				memcpy(text + n, w, wl);
				n += wl - (wl > 0);
			}
			}
		}
		text[len] = '\0';
		if (i % 4 == 0) {
			char tail[sizeof(text) / 2 + 1];

			memcpy(tail, text + len / 2, len - len / 2 + 1);
			snprintf(text, sizeof(text), "flash %s", tail);
		}
		err = NULL;
		r = classify_rule_add(&rules, text, &err);
		assert_true(r == 0 || r == -EINVAL);
		assert_true((r == 0) == (err == NULL));
		free(err);
		if (r == 0)
			accepted++;
		if (rules.n == 200) {
			classify_scan_type(&rules, &info);
			classify_rules_release(&rules);
		}
	}
	classify_scan_type(&rules, &info);
	assert_true(strlen(info.scan_type_source) < 96);
	classify_rules_release(&rules);
	/* The generator does make valid rules too. */
	assert_true(accepted > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify__infers_flash_from_high_pitch),
		cmocka_unit_test(test_classify__infers_sequential_phase),
		cmocka_unit_test(test_classify__infers_phase_from_pulsing_window),
		cmocka_unit_test(test_classify__infers_phase_from_trigger_time),
		cmocka_unit_test(test_classify__infers_retrospective_spiral),
		cmocka_unit_test(test_classify__infers_uhr_modes_on_naeotom_alpha),
		cmocka_unit_test(test_classify__leaves_unknown_empty),
		cmocka_unit_test(test_classify__site_rules_win_over_inference),
		cmocka_unit_test(test_classify__first_matching_rule_wins),
		cmocka_unit_test(test_classify__all_conditions_must_hold),
		cmocka_unit_test(test_classify__quoted_globs),
		cmocka_unit_test(test_classify__token_conditions),
		cmocka_unit_test(test_classify__numeric_conditions),
		cmocka_unit_test(test_classify__rejects_bad_rules),
		cmocka_unit_test(test_classify__knows_its_codes),
		cmocka_unit_test(test_classify__limits_rule_length_and_count),
		cmocka_unit_test(test_classify__source_fits_and_stays_utf8),
		cmocka_unit_test(test_classify__survives_unterminated_fields),
		cmocka_unit_test(test_classify__garbage_rules_do_not_crash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
