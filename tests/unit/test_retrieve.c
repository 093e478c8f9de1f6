/*
 * test_retrieve.c - the plan of `hraudit retrieve` (src/retrieve.c): the
 * PACS address AET@HOST:PORT, dates and the day-by-day walk of a range,
 * the filters on query results, the instance that stands for its series.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "retrieve.h"

static void test_retrieve__peer_parses_aet_host_and_port(void **state)
{
	struct retrieve_peer p;
	const char *why = NULL;

	(void)state;
	assert_int_equal(retrieve_peer_parse("ORTHANC@127.0.0.1:4242", &p, &why), 0);
	assert_string_equal(p.aet, "ORTHANC");
	assert_string_equal(p.host, "127.0.0.1");
	assert_int_equal(p.port, 4242);
	/* The last '@' ends the title; spaces inside a title are allowed. */
	assert_int_equal(retrieve_peer_parse("PACS FWD@pacs.example.org:104", &p, &why), 0);
	assert_string_equal(p.aet, "PACS FWD");
	assert_string_equal(p.host, "pacs.example.org");
	assert_int_equal(p.port, 104);
	assert_int_equal(retrieve_peer_parse("ABCDEFGHIJKLMNOP@h:1", &p, &why), 0);
	assert_string_equal(p.aet, "ABCDEFGHIJKLMNOP");
	assert_int_equal(retrieve_peer_parse("A@h:65535", &p, &why), 0);
}

static void test_retrieve__peer_refuses_what_is_not_aet_host_port(void **state)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{"PACS127.0.0.1:104", "expected AET@HOST:PORT"},
		{"@127.0.0.1:104", "the ae title must have 1 to 16 characters"},
		{"ABCDEFGHIJKLMNOPQ@h:104", "the ae title must have 1 to 16 characters"},
		{"   @h:104", "the ae title has a character not allowed (PS3.5 6.2)"},
		{"A\\B@h:104", "the ae title has a character not allowed (PS3.5 6.2)"},
		{"PACS@127.0.0.1", "no port: expected AET@HOST:PORT"},
		{"PACS@:104", "no host: expected AET@HOST:PORT"},
		{"PACS@h:", "the port must be a number from 1 to 65535"},
		{"PACS@h:0", "the port must be a number from 1 to 65535"},
		{"PACS@h:65536", "the port must be a number from 1 to 65535"},
		{"PACS@h:104x", "the port must be a number from 1 to 65535"},
		{"PACS@h:-1", "the port must be a number from 1 to 65535"},
		{"PACS@h: 104", "the port must be a number from 1 to 65535"},
	};
	struct retrieve_peer p;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *why = NULL;

		if (retrieve_peer_parse(bad[i].text, &p, &why) != -EINVAL)
			fail_msg("'%s' accepted", bad[i].text);
		if (!why || strcmp(why, bad[i].why) != 0)
			fail_msg("'%s': got '%s', expected '%s'", bad[i].text,
			         why ? why : "(null)", bad[i].why);
	}
}

static void test_retrieve__aet_is_1_to_16_default_characters(void **state)
{
	(void)state;
	assert_true(retrieve_aet_valid("HRAUDIT"));
	assert_true(retrieve_aet_valid("CT_FORCE 1"));
	assert_false(retrieve_aet_valid(""));
	assert_false(retrieve_aet_valid("    "));
	assert_false(retrieve_aet_valid("ABCDEFGHIJKLMNOPQ"));
	assert_false(retrieve_aet_valid("A\\B"));
	assert_false(retrieve_aet_valid("A\tB"));
	assert_false(retrieve_aet_valid("\xc3\xa9T"));
}

static void test_retrieve__dates_parse_in_both_forms_and_check_the_calendar(void **state)
{
	long d, e;
	char out[9];

	(void)state;
	assert_int_equal(retrieve_date_parse("19700101", &d), 0);
	assert_int_equal(d, 0);
	assert_int_equal(retrieve_date_parse("2024-03-12", &e), 0);
	assert_int_equal(retrieve_date_parse("20240312", &d), 0);
	assert_int_equal(d, e);
	assert_int_equal(d, 19794);
	retrieve_date_format(d, out);
	assert_string_equal(out, "20240312");
	assert_int_equal(retrieve_date_parse("20240229", &d), 0);   /* leap year */
	assert_int_equal(retrieve_date_parse("20000229", &d), 0);   /* 400 rule  */
	assert_int_equal(retrieve_date_parse("20230229", &d), -EINVAL);
	assert_int_equal(retrieve_date_parse("19000229", &d), -EINVAL); /* 100 rule */
	assert_int_equal(retrieve_date_parse("20240230", &d), -EINVAL);
	assert_int_equal(retrieve_date_parse("20241301", &d), -EINVAL);
	assert_int_equal(retrieve_date_parse("20240100", &d), -EINVAL);
	assert_int_equal(retrieve_date_parse("2024031", &d), -EINVAL);
	assert_int_equal(retrieve_date_parse("2024-0312", &d), -EINVAL);
	assert_int_equal(retrieve_date_parse("2024031a", &d), -EINVAL);
	assert_int_equal(retrieve_date_parse("", &d), -EINVAL);
}

/* A range is walked one day at a time, across months, leap days and
 * years: each day once, in order, as DICOM dates. */
static void test_retrieve__a_range_splits_into_each_day(void **state)
{
	long first, last;
	char out[9], prev[9] = "";
	size_t n = 0;

	(void)state;
	assert_int_equal(retrieve_date_parse("20231230", &first), 0);
	assert_int_equal(retrieve_date_parse("20240302", &last), 0);
	for (long d = first; d <= last; d++, n++) {
		retrieve_date_format(d, out);
		assert_true(strcmp(out, prev) > 0);
		memcpy(prev, out, sizeof prev);
		if (n == 0)
			assert_string_equal(out, "20231230");
		if (n == 2)
			assert_string_equal(out, "20240101");
		if (n == 33)
			assert_string_equal(out, "20240201");
		if (n == 61)
			assert_string_equal(out, "20240229");
	}
	assert_int_equal(n, 2 + 31 + 29 + 2);
	assert_string_equal(out, "20240302");
	/* Every day of four centuries goes there and back. */
	assert_int_equal(retrieve_date_parse("19000101", &first), 0);
	assert_int_equal(retrieve_date_parse("22991231", &last), 0);
	for (long d = first; d <= last; d++) {
		long back;

		retrieve_date_format(d, out);
		assert_int_equal(retrieve_date_parse(out, &back), 0);
		assert_int_equal(back, d);
	}
}

static struct extract_filter filter_of(char **patterns)
{
	struct extract_filter f = {patterns, 0};

	while (patterns && patterns[f.n])
		f.n++;
	return f;
}

static void test_retrieve__empty_filters_let_everything_through(void **state)
{
	struct retrieve_filter f = {.modality = ""};

	(void)state;
	assert_true(retrieve_study_wanted(&f, "", ""));
	assert_true(retrieve_study_wanted(&f, "Anything", "MR"));
	assert_true(retrieve_series_wanted(&f, "MR", "", ""));
	assert_true(retrieve_series_wanted(&f, "", "Abdomen", "Model"));
}

static void test_retrieve__modality_filters_studies_and_series(void **state)
{
	struct retrieve_filter f = {.modality = "CT"};

	(void)state;
	assert_true(retrieve_study_wanted(&f, "", "CT"));
	assert_true(retrieve_study_wanted(&f, "", "SR\\CT\\PR"));
	assert_true(retrieve_study_wanted(&f, "", "sr\\ct"));
	assert_false(retrieve_study_wanted(&f, "", "MR\\PR"));
	assert_false(retrieve_study_wanted(&f, "", "CTX\\XCT"));
	/* The PACS did not say what the study holds: the series will. */
	assert_true(retrieve_study_wanted(&f, "", ""));
	assert_true(retrieve_series_wanted(&f, "CT", "x", ""));
	assert_true(retrieve_series_wanted(&f, "ct", "x", ""));
	assert_false(retrieve_series_wanted(&f, "SR", "x", ""));
	assert_true(retrieve_series_wanted(&f, "", "x", ""));
}

static void test_retrieve__descriptions_and_models_match_globs_in_any_case(void **state)
{
	char *studies[] = {"*cardiac*", "*coronar*", NULL};
	char *series[] = {"DS_CorAdSeq*", "F1_Cor*", NULL};
	char *models[] = {"SOMATOM Force", "NAEOTOM*", NULL};
	struct retrieve_filter f = {
		.modality = "CT",
		.study_descriptions = filter_of(studies),
		.series_descriptions = filter_of(series),
		.models = filter_of(models),
	};

	(void)state;
	assert_true(retrieve_study_wanted(&f, "Cardiac^CTA Coronary, ECG gated", "CT"));
	assert_true(retrieve_study_wanted(&f, "CT CORONARY ANGIO", ""));
	assert_false(retrieve_study_wanted(&f, "CT Abdomen", "CT"));
	assert_false(retrieve_study_wanted(&f, "", "CT"));
	assert_true(retrieve_series_wanted(&f, "CT", "ds_coradseq  0.6 Bv40", "SOMATOM Force"));
	assert_true(retrieve_series_wanted(&f, "CT", "F1_CorCTA 0.6", "naeotom alpha"));
	assert_false(retrieve_series_wanted(&f, "CT", "Abdomen 5.0 B30f", "SOMATOM Force"));
	assert_false(retrieve_series_wanted(&f, "CT", "DS_CorAdSeq", "Revolution CT"));
	/* A model the PACS did not return cannot be judged. */
	assert_true(retrieve_series_wanted(&f, "CT", "DS_CorAdSeq", ""));
}

static void test_retrieve__dose_reports_are_sought_in_sr_series_of_the_dose_classes(void **state)
{
	(void)state;
	assert_true(retrieve_series_may_hold_dose("SR"));
	assert_true(retrieve_series_may_hold_dose("sr"));
	assert_false(retrieve_series_may_hold_dose("CT"));
	assert_false(retrieve_series_may_hold_dose(""));
	assert_false(retrieve_series_may_hold_dose("SRX"));
	assert_true(retrieve_dose_class("1.2.840.10008.5.1.4.1.1.88.67"));
	assert_true(retrieve_dose_class("1.2.840.10008.5.1.4.1.1.88.76"));
	/* Comprehensive SR, Enhanced SR, a prefix, CT Image Storage. */
	assert_false(retrieve_dose_class("1.2.840.10008.5.1.4.1.1.88.33"));
	assert_false(retrieve_dose_class("1.2.840.10008.5.1.4.1.1.88.22"));
	assert_false(retrieve_dose_class("1.2.840.10008.5.1.4.1.1.88.6"));
	assert_false(retrieve_dose_class("1.2.840.10008.5.1.4.1.1.88.670"));
	assert_false(retrieve_dose_class("1.2.840.10008.5.1.4.1.1.2"));
	assert_false(retrieve_dose_class(""));
}

static void test_retrieve__the_lowest_instance_number_stands_for_the_series(void **state)
{
	struct retrieve_pick p;

	(void)state;
	memset(&p, 0, sizeof p);
	retrieve_pick_offer(&p, "1.2.3.30", "30", "M");
	retrieve_pick_offer(&p, "", "1", "");           /* no UID: ignored    */
	retrieve_pick_offer(&p, "1.2.3.9", " 9", "M");
	retrieve_pick_offer(&p, "1.2.3.x", "", "M");    /* no number: last    */
	retrieve_pick_offer(&p, "1.2.3.10", "10", "M");
	assert_true(p.found);
	assert_string_equal(p.sop_instance_uid, "1.2.3.9");
	assert_true(p.number == 9);
	assert_string_equal(p.model, "M");
	/* Ties, and no numbers at all: the lowest UID as text. */
	memset(&p, 0, sizeof p);
	retrieve_pick_offer(&p, "1.2.3.5", "2", NULL);
	retrieve_pick_offer(&p, "1.2.3.4", "2", NULL);
	assert_string_equal(p.sop_instance_uid, "1.2.3.4");
	assert_string_equal(p.model, "");
	memset(&p, 0, sizeof p);
	retrieve_pick_offer(&p, "1.2.3.7", "", NULL);
	retrieve_pick_offer(&p, "1.2.3.6", "n/a", NULL);
	assert_string_equal(p.sop_instance_uid, "1.2.3.6");
	assert_true(isinf(p.number));
	memset(&p, 0, sizeof p);
	assert_false(p.found);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retrieve__peer_parses_aet_host_and_port),
		cmocka_unit_test(test_retrieve__peer_refuses_what_is_not_aet_host_port),
		cmocka_unit_test(test_retrieve__aet_is_1_to_16_default_characters),
		cmocka_unit_test(test_retrieve__dates_parse_in_both_forms_and_check_the_calendar),
		cmocka_unit_test(test_retrieve__a_range_splits_into_each_day),
		cmocka_unit_test(test_retrieve__empty_filters_let_everything_through),
		cmocka_unit_test(test_retrieve__modality_filters_studies_and_series),
		cmocka_unit_test(test_retrieve__descriptions_and_models_match_globs_in_any_case),
		cmocka_unit_test(test_retrieve__dose_reports_are_sought_in_sr_series_of_the_dose_classes),
		cmocka_unit_test(test_retrieve__the_lowest_instance_number_stands_for_the_series),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
