/*
 * test_audit.c - unit tests of the audit arithmetic (src/audit.c): mean and
 * median with missing values, weekday names, heart-rate bins at their
 * edges, and the strict date syntax of --from/--to.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_audit__mean_skips_nan(void **state)
{
	const double v[] = {60, NAN, 70, NAN, 65};
	const double one[] = {NAN, 58.5};

	(void)state;
	assert_float_equal(audit_mean(v, N(v)), 65.0, 1e-12);
	assert_float_equal(audit_mean(one, N(one)), 58.5, 1e-12);
	assert_int_equal(audit_count_known(v, N(v)), 3);
}

static void test_audit__mean_of_nothing_is_nan(void **state)
{
	const double nans[] = {NAN, NAN};

	(void)state;
	assert_true(isnan(audit_mean(NULL, 0)));
	assert_true(isnan(audit_mean(nans, N(nans))));
	assert_int_equal(audit_count_known(nans, N(nans)), 0);
}

static void test_audit__median_of_odd_count_is_middle_value(void **state)
{
	double v[] = {72, 55, 61};
	double one[] = {3.1};

	(void)state;
	assert_float_equal(audit_median(v, N(v)), 61.0, 1e-12);
	assert_float_equal(audit_median(one, N(one)), 3.1, 1e-12);
}

static void test_audit__median_of_even_count_is_mean_of_middle_two(void **state)
{
	double v[] = {16.3, 12.0, 21.1, 12.8};
	double two[] = {57, 60};

	(void)state;
	assert_float_equal(audit_median(v, N(v)), (12.8 + 16.3) / 2, 1e-12);
	assert_float_equal(audit_median(two, N(two)), 58.5, 1e-12);
}

static void test_audit__median_skips_nan_wherever_it_is(void **state)
{
	/* 5 known values, NANs first, middle and last: median 3 */
	double v[] = {NAN, 5, 1, NAN, 4, 2, 3, NAN};
	/* 4 known: (2 + 3) / 2 */
	double w[] = {4, NAN, 1, 3, NAN, 2};

	(void)state;
	assert_float_equal(audit_median(v, N(v)), 3.0, 1e-12);
	assert_float_equal(audit_median(w, N(w)), 2.5, 1e-12);
	/* sorted in place, NANs last */
	assert_float_equal(v[0], 1.0, 0);
	assert_float_equal(v[4], 5.0, 0);
	assert_true(isnan(v[5]) && isnan(v[6]) && isnan(v[7]));
}

static void test_audit__median_of_nothing_is_nan(void **state)
{
	double nans[] = {NAN, NAN, NAN};

	(void)state;
	assert_true(isnan(audit_median(NULL, 0)));
	assert_true(isnan(audit_median(nans, N(nans))));
}

static void test_audit__median_keeps_duplicates_and_negatives(void **state)
{
	double v[] = {60, 60, 60, 90};
	double neg[] = {-2, -1, 0};

	(void)state;
	assert_float_equal(audit_median(v, N(v)), 60.0, 1e-12);
	assert_float_equal(audit_median(neg, N(neg)), -1.0, 1e-12);
}

static void test_audit__round1_takes_halves_away_from_zero(void **state)
{
	char buf[32];

	(void)state;
	assert_float_equal(audit_round1(60.25), 60.3, 1e-12);
	assert_float_equal(audit_round1(60.75), 60.8, 1e-12);
	assert_float_equal(audit_round1(-2.25), -2.3, 1e-12);
	assert_float_equal(audit_round1(57.14285714), 57.1, 1e-12);
	assert_float_equal(audit_round1(18.585), 18.6, 1e-12);
	assert_float_equal(audit_round1(61), 61.0, 0);
	assert_true(isnan(audit_round1(NAN)));
	assert_true(isinf(audit_round1(INFINITY)));
	/* what the CLI prints */
	snprintf(buf, sizeof buf, "%.1f", audit_round1(60.25));
	assert_string_equal(buf, "60.3");
	snprintf(buf, sizeof buf, "%.1f", audit_round1(0.15));
	assert_string_equal(buf, "0.2");
}

static void test_audit__weekday_zero_is_sunday(void **state)
{
	static const char *const want[] = {"Sunday", "Monday", "Tuesday",
		"Wednesday", "Thursday", "Friday", "Saturday"};

	(void)state;
	for (int i = 0; i < 7; i++)
		assert_string_equal(audit_weekday_name(i), want[i]);
	assert_null(audit_weekday_name(-1));
	assert_null(audit_weekday_name(7));
}

static void test_audit__bin_edges_belong_to_the_upper_bin(void **state)
{
	long from = -1;

	(void)state;
	assert_int_equal(audit_bin(55, 5, &from), 0);
	assert_int_equal(from, 55);
	assert_int_equal(audit_bin(59, 5, &from), 0);
	assert_int_equal(from, 55);
	assert_int_equal(audit_bin(59.999, 5, &from), 0);
	assert_int_equal(from, 55);
	assert_int_equal(audit_bin(60, 5, &from), 0);
	assert_int_equal(from, 60);
	assert_int_equal(audit_bin(54.999, 5, &from), 0);
	assert_int_equal(from, 50);
	assert_int_equal(audit_bin(0, 5, &from), 0);
	assert_int_equal(from, 0);
}

static void test_audit__bin_other_widths(void **state)
{
	long from = -1;

	(void)state;
	assert_int_equal(audit_bin(61.5, 1, &from), 0);
	assert_int_equal(from, 61);
	assert_int_equal(audit_bin(69, 10, &from), 0);
	assert_int_equal(from, 60);
	assert_int_equal(audit_bin(70, 10, &from), 0);
	assert_int_equal(from, 70);
	assert_int_equal(audit_bin(64, 3, &from), 0);
	assert_int_equal(from, 63);
	/* below zero the bins go on: [-5, 0) */
	assert_int_equal(audit_bin(-0.5, 5, &from), 0);
	assert_int_equal(from, -5);
}

static void test_audit__bin_rejects_missing_rate_and_bad_width(void **state)
{
	long from = 42;

	(void)state;
	assert_int_equal(audit_bin(NAN, 5, &from), -EDOM);
	assert_int_equal(audit_bin(INFINITY, 5, &from), -EDOM);
	assert_int_equal(audit_bin(1e12, 5, &from), -EDOM);
	assert_int_equal(audit_bin(60, 0, &from), -EINVAL);
	assert_int_equal(audit_bin(60, -5, &from), -EINVAL);
	assert_int_equal(audit_bin(60, AUDIT_BIN_MAX_BPM + 1, &from), -EINVAL);
	assert_int_equal(from, 42);
}

static void test_audit__bin_label_names_last_whole_bpm(void **state)
{
	char buf[32], tiny[4];

	(void)state;
	assert_int_equal(audit_bin_label(buf, sizeof buf, 55, 5), 5);
	assert_string_equal(buf, "55-59");
	assert_int_equal(audit_bin_label(buf, sizeof buf, 100, 10), 7);
	assert_string_equal(buf, "100-109");
	assert_int_equal(audit_bin_label(buf, sizeof buf, 61, 1), 5);
	assert_string_equal(buf, "61-61");
	assert_int_equal(audit_bin_label(buf, sizeof buf, -5, 5), 5);
	assert_string_equal(buf, "-5--1");
	assert_int_equal(audit_bin_label(tiny, sizeof tiny, 55, 5), -EINVAL);
	assert_string_equal(tiny, "");
	assert_int_equal(audit_bin_label(buf, sizeof buf, 55, 0), -EINVAL);
	assert_string_equal(buf, "");
}

static void test_audit__date_valid_accepts_real_dates(void **state)
{
	(void)state;
	assert_true(audit_date_valid("2024-03-12"));
	assert_true(audit_date_valid("2025-10-31"));
	assert_true(audit_date_valid("2024-02-29"));   /* leap year */
	assert_true(audit_date_valid("2000-02-29"));   /* 400 rule  */
	assert_true(audit_date_valid("0001-01-01"));
	assert_true(audit_date_valid("9999-12-31"));
}

static void test_audit__date_valid_rejects_everything_else(void **state)
{
	static const char *const bad[] = {
		"", "2024", "2024-3-12", "2024-03-1", "20240312", "2024/03/12",
		"2024-03-12 ", " 2024-03-12", "2024-03-12T00:00", "2024-13-01",
		"2024-00-10", "2024-03-00", "2024-04-31", "2023-02-29",
		"1900-02-29", "0000-01-01", "2024-0a-12", "+024-03-12", "2024-03-32",
	};

	(void)state;
	for (size_t i = 0; i < N(bad); i++) {
		if (audit_date_valid(bad[i]))
			fail_msg("accepted '%s'", bad[i]);
	}
	assert_false(audit_date_valid(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_audit__mean_skips_nan),
		cmocka_unit_test(test_audit__mean_of_nothing_is_nan),
		cmocka_unit_test(test_audit__median_of_odd_count_is_middle_value),
		cmocka_unit_test(test_audit__median_of_even_count_is_mean_of_middle_two),
		cmocka_unit_test(test_audit__median_skips_nan_wherever_it_is),
		cmocka_unit_test(test_audit__median_of_nothing_is_nan),
		cmocka_unit_test(test_audit__median_keeps_duplicates_and_negatives),
		cmocka_unit_test(test_audit__round1_takes_halves_away_from_zero),
		cmocka_unit_test(test_audit__weekday_zero_is_sunday),
		cmocka_unit_test(test_audit__bin_edges_belong_to_the_upper_bin),
		cmocka_unit_test(test_audit__bin_other_widths),
		cmocka_unit_test(test_audit__bin_rejects_missing_rate_and_bad_width),
		cmocka_unit_test(test_audit__bin_label_names_last_whole_bpm),
		cmocka_unit_test(test_audit__date_valid_accepts_real_dates),
		cmocka_unit_test(test_audit__date_valid_rejects_everything_else),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
