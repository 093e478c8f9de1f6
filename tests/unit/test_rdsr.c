/*
 * test_rdsr.c - unit tests of the CT Radiation Dose SR reader (src/rdsr.c)
 * through include/rdsr.h, on objects loaded with the shim (dcm.h).
 *
 * Two sources of objects:
 *  - the real Siemens Definition Flash report of ../shared/data (OpenREM's
 *    test file, GPLv3, never copied into the project), read where it is
 *    (HRAUDIT_SHARED_DATA overrides the folder); the test says SKIPPED
 *    when it is not there.  The expected values were read by hand with
 *    `dsrdump +Pc`.
 *  - fictional reports of other layouts, tests/data/rdsr-*.sr, turned into
 *    dumps by tests/data/sr2dump.awk and into files by dump2dcm in a
 *    temporary folder before the tests (README.md there).
 * Run from the source tree (as `make unit` does).
 */
#define _GNU_SOURCE

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dcm.h"
#include "rdsr.h"

#define SIEMENS_FILE "CT-RDSR-Siemens_Flash-QA-DS.dcm"

/* The generated objects: tests/data/<name>.sr -> <dir>/<name>.dcm */
static const char *const generated[] = {
	"rdsr-ge", "rdsr-philips", "rdsr-odd", "rdsr-deep", "rdsr-comprehensive",
	"rdsr-projection", "rdsr-nostudy",
};

/* The folder they were built in, or "" when they could not be. */
static char built[64];

#define assert_nan(x) do { \
	if (!isnan(x)) \
		fail_msg("%s is %g, not NAN", #x, (double)(x)); \
} while (0)
#define assert_near(x, v) do { \
	double x_ = (x), v_ = (v); \
	if (!(fabs(x_ - v_) <= 1e-9 * fmax(1, fabs(v_)))) \
		fail_msg("%s is %.12g, not %.12g", #x, x_, v_); \
} while (0)

/* ---- objects ------------------------------------------------------------ */

static int build_objects(void **state)
{
	const char *tmp = getenv("TMPDIR");
	char cmd[512];

	(void)state;
	built[0] = '\0';
	if (system("command -v dump2dcm >/dev/null 2>&1 && command -v awk "
	           ">/dev/null 2>&1") != 0 ||
	    access("tests/data/sr2dump.awk", R_OK) != 0)
		return 0;   /* each test that needs them says it skipped */
	snprintf(built, sizeof built, "%s/test_rdsr.XXXXXX",
	         tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
	if (!mkdtemp(built)) {
		built[0] = '\0';
		return -1;
	}
	for (size_t i = 0; i < sizeof generated / sizeof generated[0]; i++) {
		snprintf(cmd, sizeof cmd,
		         "awk -f tests/data/sr2dump.awk tests/data/%s.sr > %s/%s.dump && "
		         "dump2dcm -q +te %s/%s.dump %s/%s.dcm",
		         generated[i], built, generated[i], built, generated[i],
		         built, generated[i]);
		if (system(cmd) != 0) {
			fprintf(stderr, "'%s' failed\n", cmd);
			return -1;
		}
	}
	/* a CT image, for the negative case */
	snprintf(cmd, sizeof cmd, "cat tests/data/study.dump tests/data/series-a.dump "
	         "> %s/ct.dump && dump2dcm -q +te %s/ct.dump %s/ct.dcm",
	         built, built, built);
	return system(cmd) == 0 ? 0 : -1;
}

static int remove_objects(void **state)
{
	char cmd[128];

	(void)state;
	if (!built[0])
		return 0;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", built);
	return system(cmd) == 0 ? 0 : -1;
}

/* Loads <built>/<name>.dcm, or skips when the objects could not be built. */
static struct dcm_header *load(const char *name)
{
	struct dcm_header *h = NULL;
	char path[128], *err = NULL;
	int r;

	if (!built[0]) {
		print_message("dump2dcm, awk or tests/data missing (run from the "
		              "source tree): skipped\n");
		skip();
	}
	snprintf(path, sizeof path, "%s/%s.dcm", built, name);
	r = dcm_header_load_file(path, &h, &err);
	if (r != 0)
		fail_msg("cannot load '%s': %d %s", path, r, err ? err : "");
	return h;
}

/* Loads and parses a generated object that must parse. */
static void parse(const char *name, struct rdsr_report *rep)
{
	struct dcm_header *h = load(name);
	char *err = NULL;
	int r;

	assert_true(rdsr_is_ct_dose_report(h));
	r = rdsr_parse(h, rep, &err);
	dcm_header_free(h);
	if (r != 0)
		fail_msg("rdsr_parse '%s': %d %s", name, r, err ? err : "");
	free(err);
}

/* ---- the real Siemens report ------------------------------------------------ */

#define SIEMENS_UID "1.3.6.1.4.1.5962.99.1.3532166422.478333303.1485295916310."

static const struct {
	const char *protocol, *region, *region_code, *type_code;
	double ctdivol, dlp, pitch, exposure_time, length, total_coll;
} flash[9] = {
	{"DE_laser align", "Abdomen", "T-D4000", "113806", 15.45, 29.67, NAN, 0.5, 19, 19.2},
	{"DS axial std", "Heart", "T-32000", "113806", 21.95, 84.28, NAN, 0.48, 38, 38.4},
	{"DS 50mAs", "Heart", "T-32000", "113806", 5.52, 21.18, NAN, 0.48, 38, 38.4},
	{"DS 140kV", "Heart", "T-32000", "113806", 33.83, 129.89, NAN, 0.48, 38, 38.4},
	{"DS 100kV", "Heart", "T-32000", "113806", 13.17, 50.58, NAN, 0.48, 38, 38.4},
	{"DS 80kV", "Heart", "T-32000", "113806", 6.26, 24.05, NAN, 0.48, 38, 38.4},
	{"DS axial std", "Heart", "T-32000", "113806", 17.1, 65.68, NAN, 0.24, 38, 38.4},
	{"DS_helical", "Heart", "T-32000", "P5-08001", 65.47, 815.33, 0.19, 5.99, 151, 38.4},
	{"DS_hel p 0.23", "Heart", "T-32000", "P5-08001", 29.67, 369.34, 0.19, 5.99, 151, 38.4},
};

static void test_rdsr__reads_the_siemens_flash_report(void **state)
{
	const char *dir = getenv("HRAUDIT_SHARED_DATA");
	struct rdsr_report rep;
	struct dcm_header *h = NULL;
	char path[512], uid[RDSR_UID_MAX], *err = NULL;
	double sum = 0;
	int heart = 0;

	(void)state;
	snprintf(path, sizeof path, "%s/" SIEMENS_FILE,
	         dir && *dir ? dir : "../shared/data");
	if (access(path, R_OK) != 0) {
		print_message("'%s' not found: SKIPPED\n", path);
		skip();
	}
	assert_int_equal(dcm_header_load_file(path, &h, &err), 0);
	assert_true(rdsr_is_ct_dose_report(h));
	assert_int_equal(rdsr_parse(h, &rep, &err), 0);
	dcm_header_free(h);

	assert_string_equal(rep.sop_instance_uid, SIEMENS_UID "13.0");
	assert_string_equal(rep.study_uid, SIEMENS_UID "3.0");
	assert_string_equal(rep.series_uid, SIEMENS_UID "14.0");
	assert_string_equal(rep.study_date, "2013-06-11");
	assert_string_equal(rep.manufacturer, "SIEMENS");
	assert_string_equal(rep.model, "SOMATOM Definition Flash");
	assert_string_equal(rep.station_name, "CTAWP91919");
	assert_string_equal(rep.start_datetime, "20130611140817.965005");
	assert_string_equal(rep.end_datetime, "20130611141347.005023");
	assert_near(rep.total_dlp_mgycm, 1590);   /* sent as "mGycm" */
	assert_near(rep.total_events, 9);
	assert_int_equal(rep.nevents, 9);
	for (size_t i = 0; i < rep.nevents; i++) {
		const struct rdsr_event *e = &rep.events[i];

		snprintf(uid, sizeof uid, SIEMENS_UID "%zu.0", i + 4);
		assert_string_equal(e->event_uid, uid);
		assert_string_equal(e->protocol, flash[i].protocol);
		assert_string_equal(e->target_region, flash[i].region);
		assert_string_equal(e->target_region_code, flash[i].region_code);
		assert_string_equal(e->acquisition_type_code, flash[i].type_code);
		assert_string_equal(e->acquisition_type,
		                    flash[i].type_code[0] == 'P' ? "Spiral Acquisition" :
		                                                   "Stationary Acquisition");
		assert_near(e->ctdivol_mgy, flash[i].ctdivol);
		assert_near(e->dlp_mgycm, flash[i].dlp);
		if (isnan(flash[i].pitch))
			assert_nan(e->pitch);
		else
			assert_near(e->pitch, flash[i].pitch);
		assert_near(e->exposure_time_s, flash[i].exposure_time);
		assert_near(e->scanning_length_mm, flash[i].length);
		assert_near(e->single_collimation_mm, 0.6);
		assert_near(e->total_collimation_mm, flash[i].total_coll);
		assert_string_equal(e->start_datetime, "");
		assert_string_equal(e->exposure_modulation, "");
		heart += strcmp(e->target_region_code, "T-32000") == 0;
		sum += e->dlp_mgycm;
	}
	assert_int_equal(heart, 8);
	assert_near(sum, 1590);
	rdsr_report_release(&rep);
	free(err);
}

/* ---- generated layouts ------------------------------------------------------- */

static void test_rdsr__reads_a_ge_layout(void **state)
{
	struct rdsr_report rep;
	const struct rdsr_event *e;

	(void)state;
	parse("rdsr-ge", &rep);
	assert_string_equal(rep.sop_instance_uid, "1.2.826.0.1.3680043.10.1234.9.1.1");
	assert_string_equal(rep.study_uid, "1.2.826.0.1.3680043.10.1234.9.1");
	assert_string_equal(rep.series_uid, "1.2.826.0.1.3680043.10.1234.9.2.1");
	assert_string_equal(rep.accession_number, "0098765432");
	assert_string_equal(rep.study_date, "2024-03-12");
	assert_string_equal(rep.manufacturer, "GE MEDICAL SYSTEMS");
	assert_string_equal(rep.model, "Revolution CT");
	assert_string_equal(rep.station_name, "CTGE01");
	assert_string_equal(rep.start_datetime, "20240312101502");
	assert_string_equal(rep.end_datetime, "20240312102233");
	/* without a CT Accumulated Dose Data container */
	assert_near(rep.total_dlp_mgycm, 412.6);
	assert_near(rep.total_events, 2);
	assert_int_equal(rep.nevents, 2);

	e = &rep.events[0];                  /* the scout: no CTDIvol */
	assert_string_equal(e->protocol, "Scout");
	assert_string_equal(e->target_region, "Chest");
	assert_string_equal(e->target_region_code, "51185008");
	assert_string_equal(e->acquisition_type, "Constant Angle Acquisition");
	assert_string_equal(e->acquisition_type_code, "113805");
	assert_string_equal(e->event_uid, "1.2.826.0.1.3680043.10.1234.9.3.1");
	assert_nan(e->ctdivol_mgy);
	assert_near(e->dlp_mgycm, 9.7);      /* CT Dose inside the parameters */
	assert_near(e->exposure_time_s, 3.1);
	assert_near(e->scanning_length_mm, 400);
	assert_nan(e->pitch);

	e = &rep.events[1];
	assert_string_equal(e->protocol, "5.1 Cardiac CTA");
	assert_string_equal(e->target_region, "Heart");
	assert_string_equal(e->target_region_code, "80891009");  /* SCT */
	assert_string_equal(e->acquisition_type, "Spiral Acquisition");
	assert_string_equal(e->acquisition_type_code, "116152004");
	assert_string_equal(e->exposure_modulation, "ECG");
	assert_near(e->ctdivol_mgy, 24.31);
	assert_near(e->dlp_mgycm, 402.9);
	assert_near(e->pitch, 0.16);
	assert_near(e->single_collimation_mm, 0.625);
	assert_near(e->total_collimation_mm, 40);
	assert_near(e->exposure_time_s, 4.2);
	assert_near(e->scanning_length_mm, 140);
	rdsr_report_release(&rep);
}

static void test_rdsr__converts_philips_units(void **state)
{
	struct rdsr_report rep;
	const struct rdsr_event *e;

	(void)state;
	parse("rdsr-philips", &rep);
	assert_near(rep.total_dlp_mgycm, 337.6);   /* 0.3376 Gy.cm */
	assert_near(rep.total_events, 3);          /* unit "1" */
	assert_int_equal(rep.nevents, 3);

	e = &rep.events[0];
	assert_string_equal(e->protocol, "Surview");
	assert_string_equal(e->target_region_code, "T-D3000");
	assert_near(e->ctdivol_mgy, 0.35);         /* 0.00035 Gy */
	assert_near(e->dlp_mgycm, 12.1);           /* 0.0121 Gy.cm */
	assert_near(e->exposure_time_s, 2.5);      /* 2500 ms */
	assert_near(e->scanning_length_mm, 352);   /* 35.2 cm */

	e = &rep.events[1];
	assert_string_equal(e->protocol, "CaScore");
	assert_string_equal(e->target_region, "Heart");
	assert_string_equal(e->target_region_code, "T-32000");  /* SRT */
	assert_string_equal(e->acquisition_type_code, "113804");
	assert_near(e->ctdivol_mgy, 2.9);
	assert_near(e->dlp_mgycm, 41.3);           /* mGy.cm */
	assert_near(e->exposure_time_s, 0.35);
	assert_near(e->scanning_length_mm, 128);
	assert_near(e->single_collimation_mm, 0.625);
	assert_near(e->total_collimation_mm, 40);  /* 4 cm */

	e = &rep.events[2];
	assert_string_equal(e->protocol, "Cardiac CTA Step&Shoot");
	assert_near(e->ctdivol_mgy, 18.7);         /* the first of two */
	assert_near(e->dlp_mgycm, 284.2);
	assert_string_equal(e->exposure_modulation, "ECG triggered");  /* CODE */
	rdsr_report_release(&rep);
}

static void test_rdsr__reads_datetime_started(void **state)
{
	struct rdsr_report rep;

	(void)state;
	parse("rdsr-philips", &rep);
	assert_int_equal(rep.nevents, 3);
	assert_string_equal(rep.events[0].start_datetime, "20240313084230.000");
	assert_string_equal(rep.events[1].start_datetime, "20240313084512.250");
	assert_string_equal(rep.events[2].start_datetime, "20240313084901");
	assert_string_equal(rep.start_datetime, "20240313084230");
	assert_string_equal(rep.end_datetime, "20240313085010");
	rdsr_report_release(&rep);
}

static void test_rdsr__leaves_missing_and_unknown_values_nan(void **state)
{
	struct rdsr_report rep;
	const struct rdsr_event *e;

	(void)state;
	parse("rdsr-odd", &rep);
	assert_nan(rep.total_dlp_mgycm);           /* no 113813 */
	assert_near(rep.total_events, 3);
	assert_string_equal(rep.station_name, "");
	assert_string_equal(rep.start_datetime, "");
	assert_int_equal(rep.nevents, 3);

	e = &rep.events[0];
	assert_string_equal(e->protocol, "Cardiac Prospective");
	assert_string_equal(e->event_uid, "");
	assert_near(e->ctdivol_mgy, 31.2);
	assert_nan(e->dlp_mgycm);                  /* no DLP */

	e = &rep.events[1];
	assert_string_equal(e->protocol, "Cardiac Helical");
	assert_nan(e->ctdivol_mgy);                /* "mGy/s" */
	assert_near(e->dlp_mgycm, 75.5);           /* "mGycm" */
	assert_nan(e->exposure_time_s);            /* no unit */
	assert_nan(e->scanning_length_mm);         /* no measured value */
	assert_near(e->pitch, 0.2);                /* the first of "0.2\0.3" */
	assert_nan(e->single_collimation_mm);
	rdsr_report_release(&rep);
}

static void test_rdsr__finds_events_in_odd_nesting(void **state)
{
	struct rdsr_report rep;
	const struct rdsr_event *e;

	(void)state;
	parse("rdsr-odd", &rep);
	assert_int_equal(rep.nevents, 3);
	e = &rep.events[2];
	assert_string_equal(e->protocol, "Wrapped");
	assert_near(e->ctdivol_mgy, 7.5);
	assert_near(e->dlp_mgycm, 60);
	assert_string_equal(e->target_region, "");
	rdsr_report_release(&rep);
}

static void test_rdsr__skips_content_deeper_than_the_limit(void **state)
{
	struct rdsr_report rep;

	(void)state;
	parse("rdsr-deep", &rep);   /* Enhanced X-Ray Radiation Dose SR */
	assert_int_equal(rep.nevents, 1);
	assert_string_equal(rep.events[0].protocol, "Found");
	assert_near(rep.events[0].ctdivol_mgy, 3);
	assert_nan(rep.total_dlp_mgycm);
	assert_nan(rep.total_events);
	rdsr_report_release(&rep);
}

/* Not a CT dose report: rdsr_is_ct_dose_report says no, rdsr_parse fails. */
static void assert_rejected(const char *name)
{
	struct dcm_header *h = load(name);
	struct rdsr_report rep;
	char *err = NULL;

	assert_false(rdsr_is_ct_dose_report(h));
	assert_int_equal(rdsr_parse(h, &rep, &err), -EINVAL);
	assert_non_null(err);
	assert_int_equal(rep.nevents, 0);
	rdsr_report_release(&rep);
	dcm_header_free(h);
	free(err);
}

static void test_rdsr__rejects_a_comprehensive_sr(void **state)
{
	(void)state;
	assert_rejected("rdsr-comprehensive");
}

static void test_rdsr__rejects_a_projection_xray_dose_report(void **state)
{
	(void)state;
	assert_rejected("rdsr-projection");
}

static void test_rdsr__rejects_a_ct_image(void **state)
{
	(void)state;
	assert_rejected("ct");
	assert_false(rdsr_is_ct_dose_report(NULL));
}

static void test_rdsr__needs_a_study_uid(void **state)
{
	struct dcm_header *h = load("rdsr-nostudy");
	struct rdsr_report rep;
	char *err = NULL;

	(void)state;
	assert_true(rdsr_is_ct_dose_report(h));
	assert_int_equal(rdsr_parse(h, &rep, &err), -EINVAL);
	assert_non_null(err);
	assert_non_null(strstr(err, "study instance uid"));
	assert_non_null(strstr(err, "1.2.826.0.1.3680043.10.1234.9.1.7"));
	rdsr_report_release(&rep);
	dcm_header_free(h);
	free(err);
}

static void test_rdsr__release_empties_and_accepts_an_empty_report(void **state)
{
	struct rdsr_report rep;

	(void)state;
	parse("rdsr-ge", &rep);
	rdsr_report_release(&rep);
	assert_null(rep.events);
	assert_int_equal(rep.nevents, 0);
	assert_string_equal(rep.study_uid, "");
	rdsr_report_release(&rep);
	rdsr_report_release(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rdsr__reads_the_siemens_flash_report),
		cmocka_unit_test(test_rdsr__reads_a_ge_layout),
		cmocka_unit_test(test_rdsr__converts_philips_units),
		cmocka_unit_test(test_rdsr__reads_datetime_started),
		cmocka_unit_test(test_rdsr__leaves_missing_and_unknown_values_nan),
		cmocka_unit_test(test_rdsr__finds_events_in_odd_nesting),
		cmocka_unit_test(test_rdsr__skips_content_deeper_than_the_limit),
		cmocka_unit_test(test_rdsr__rejects_a_comprehensive_sr),
		cmocka_unit_test(test_rdsr__rejects_a_projection_xray_dose_report),
		cmocka_unit_test(test_rdsr__rejects_a_ct_image),
		cmocka_unit_test(test_rdsr__needs_a_study_uid),
		cmocka_unit_test(test_rdsr__release_empties_and_accepts_an_empty_report),
	};

	return cmocka_run_group_tests(tests, build_objects, remove_objects);
}
