/*
 * test_extract.c - unit tests of the extraction (src/extract.c, through
 * raw.c): from a DICOM header, built byte by byte (dicom_bytes.h) and
 * parsed by the shim (include/dcm.h), to struct instance_info.  Covers a
 * Siemens CT header, dates and times, every heart-rate source and their
 * order (Scan Options and Siemens XA's private copy, the standard
 * attributes, Enhanced CT functional groups, GE and Canon private
 * elements, each in explicit VR, explicit VR as UN, and implicit VR),
 * missing identifiers, raw material and its JSON, the cardiac decision,
 * and that the patient's name, ID and birth date reach neither the struct
 * nor the raw material.
 */
#define _GNU_SOURCE

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dcm.h"
#include "extract.h"
#include "raw.h"
#include "dicom_bytes.h"

#define TS_EXPLICIT "1.2.840.10008.1.2.1"
#define TS_IMPLICIT "1.2.840.10008.1.2"

#define SOP_CLASS  "1.2.840.10008.5.1.4.1.1.2"
#define SOP_CLASS_ENHANCED "1.2.840.10008.5.1.4.1.1.2.1"
#define SOP_UID    "1.2.826.0.1.3680043.10.1234.3.1.7"
#define STUDY_UID  "1.2.826.0.1.3680043.10.1234.1"
#define SERIES_UID "1.2.826.0.1.3680043.10.1234.2.1"
#define SCAN_OPTS_FORCE \
	"XOP\\DSEQCARD\\0001\\TRGD\\RSER000001\\RIMA000016\\TP70PC1000\\" \
	"OSCRATEMIN060BPM\\OSCRATEMAX062BPM\\OSCRATEAVG061BPM\\" \
	"OSCRATEVAR002BPM\\SYNCUSREDIT_NO\\PITADP_AUTO\\PITADPKIND_MONO\\" \
	"BESTPHASE_OFF\\FRECONTYPE_TIME\\A4TP000076MS00"

/* The canaries of tests/data/README.md: they must never be extracted. */
#define PATIENT_NAME "AUDIT^TESTPATIENT"
#define PATIENT_ID   "PID-7734521"
#define BIRTH_DATE   "19600101"

#define assert_nan(x) assert_true(isnan(x))
#define assert_num(x, v) do { \
	if (!((x) == (double)(v))) \
		fail_msg("%s is %g, not %g", #x, (double)(x), (double)(v)); \
} while (0)

/* A check that once failed: `note` says what the bug was. */
#define assert_fixed_bug(cond, note) assert_true(cond)

/* ---- headers ------------------------------------------------------------ */

/* What differs between the test headers; NULL leaves an element out. */
struct ct {
	const char *sop_uid, *study_uid, *series_uid;
	const char *date, *time;
	const char *description;
	const char *scan_options;
	const char *heart_rate;
	const char *instance_number;
	const char *manufacturer;      /* NULL: "SIEMENS"                    */
	const char *model;             /* NULL: "SOMATOM Force"              */
	bool patient;                  /* the patient module, with canaries */
	bool implicit;                 /* implicit VR little endian         */
	bool enhanced;                 /* Enhanced CT: no top-level CTDIvol */
};

static const struct ct siemens = {
	.sop_uid = SOP_UID,
	.study_uid = STUDY_UID,
	.series_uid = SERIES_UID,
	.date = "20240312",
	.time = "093412.000000",
	.description = "DS_CorAdSeq  0.6  Bv40  3  BestDiast 70 %",
	.scan_options = SCAN_OPTS_FORCE,
	.instance_number = "7",
	.patient = true,
};

/* A CT Image header, elements in tag order, then `extra` (already in
 * order after (0020,0013), and in the encoding of b) if given.  An
 * Enhanced CT Image has its CTDIvol in the functional groups only
 * (PS3.3 C.8.15.3.8), which `extra` then holds. */
static void put_ct(struct bytes *b, const struct ct *c, const struct bytes *extra)
{
	put_str(b, DCM_TAG(0x0008, 0x0016), "UI",
	        c->enhanced ? SOP_CLASS_ENHANCED : SOP_CLASS);
	if (c->sop_uid)
		put_str(b, DCM_TAG(0x0008, 0x0018), "UI", c->sop_uid);
	if (c->date)
		put_str(b, DCM_TAG(0x0008, 0x0020), "DA", c->date);
	if (c->time)
		put_str(b, DCM_TAG(0x0008, 0x0030), "TM", c->time);
	put_str(b, DCM_TAG(0x0008, 0x0050), "SH", "0012345678");
	put_str(b, DCM_TAG(0x0008, 0x0060), "CS", "CT");
	put_str(b, DCM_TAG(0x0008, 0x0070), "LO",
	        c->manufacturer ? c->manufacturer : "SIEMENS");
	put_str(b, DCM_TAG(0x0008, 0x0080), "LO", "Fictional Heart Centre");
	put_str(b, DCM_TAG(0x0008, 0x1010), "SH", "CTFORCE01");
	put_str(b, DCM_TAG(0x0008, 0x1030), "LO", "Cardiac^CorCTA");
	if (c->description)
		put_str(b, DCM_TAG(0x0008, 0x103E), "LO", c->description);
	put_str(b, DCM_TAG(0x0008, 0x1090), "LO",
	        c->model ? c->model : "SOMATOM Force");
	if (c->patient) {
		put_str(b, DCM_TAG(0x0010, 0x0010), "PN", PATIENT_NAME);
		put_str(b, DCM_TAG(0x0010, 0x0020), "LO", PATIENT_ID);
		put_str(b, DCM_TAG(0x0010, 0x0030), "DA", BIRTH_DATE);
	}
	put_str(b, DCM_TAG(0x0010, 0x1030), "DS", "72.5");
	if (c->scan_options)
		put_str(b, DCM_TAG(0x0018, 0x0022), "CS", c->scan_options);
	put_str(b, DCM_TAG(0x0018, 0x0060), "DS", "100 ");
	if (c->heart_rate)
		put_str(b, DCM_TAG(0x0018, 0x1088), "IS", c->heart_rate);
	put_str(b, DCM_TAG(0x0018, 0x1030), "LO", "CorCTA_Seq \"Adult\"");
	if (!c->enhanced)
		put_fd(b, DCM_TAG(0x0018, 0x9345), (const double[]){18.56}, 1);
	if (c->study_uid)
		put_str(b, DCM_TAG(0x0020, 0x000D), "UI", c->study_uid);
	if (c->series_uid)
		put_str(b, DCM_TAG(0x0020, 0x000E), "UI", c->series_uid);
	put_str(b, DCM_TAG(0x0020, 0x0011), "IS", "4");
	if (c->instance_number)
		put_str(b, DCM_TAG(0x0020, 0x0013), "IS", c->instance_number);
	if (extra)
		put(b, extra->p, extra->len);
}

/* The toolkit logs parse warnings to stderr; keep the report readable.
 * The transfer syntax is the encoding b was built in. */
static struct dcm_header *parse(const struct bytes *b)
{
	struct dcm_header *h = NULL;
	char *err = NULL;
	int saved, null, r;

	fflush(stderr);
	saved = dup(2);
	null = open("/dev/null", O_WRONLY);
	if (null >= 0) {
		dup2(null, 2);
		close(null);
	}
	r = dcm_header_parse(b->p, b->len, b->implicit ? TS_IMPLICIT : TS_EXPLICIT,
	                     &h, NULL, &err);
	if (saved >= 0) {
		dup2(saved, 2);
		close(saved);
	}
	if (r != 0)
		fail_msg("dcm_header_parse: %d %s", r, err ? err : "");
	return h;
}

/* Parses the data set b and extracts instance_info (and raw) from it. */
static int extract_bytes(const struct bytes *b, struct instance_info *out,
                         struct raw *raw)
{
	struct dcm_header *h = parse(b);
	int r = extract_instance(h, raw, out);

	dcm_header_free(h);
	return r;
}

/* Extracts instance_info from the header described by c (+ extra). */
static int extract(const struct ct *c, const struct bytes *extra,
                   struct instance_info *out, struct raw *raw)
{
	struct bytes b = {.implicit = c->implicit};
	int r;

	put_ct(&b, c, extra);
	r = extract_bytes(&b, out, raw);
	bytes_free(&b);
	return r;
}

static int extract_ok(const struct ct *c, const struct bytes *extra,
                      struct instance_info *out)
{
	struct raw raw = RAW_INIT;
	int r = extract(c, extra, out, &raw);

	raw_release(&raw);
	return r;
}

/* An instance_info with nothing in it, as extraction leaves it. */
static void empty_info(struct instance_info *in)
{
	struct raw raw = RAW_INIT;

	memset(in, 0, sizeof *in);
	extract_derive(&raw, in);
}

/* ---- a Siemens CT header ------------------------------------------------------ */

static void test_extract__reads_a_siemens_ct_header(void **state)
{
	struct instance_info in;

	(void)state;
	assert_int_equal(extract_ok(&siemens, NULL, &in), 0);
	assert_string_equal(in.sop_instance_uid, SOP_UID);
	assert_string_equal(in.sop_class_uid, SOP_CLASS);
	assert_num(in.instance_number, 7);
	assert_string_equal(in.series_uid, SERIES_UID);
	assert_string_equal(in.study_uid, STUDY_UID);
	assert_string_equal(in.accession_number, "0012345678");
	assert_string_equal(in.study_date, "2024-03-12");
	assert_string_equal(in.study_time, "09:34:12");
	assert_string_equal(in.modality, "CT");
	assert_string_equal(in.manufacturer, "SIEMENS");
	assert_string_equal(in.model, "SOMATOM Force");
	assert_string_equal(in.station_name, "CTFORCE01");
	assert_string_equal(in.institution, "Fictional Heart Centre");
	assert_string_equal(in.study_description, "Cardiac^CorCTA");
	/* inner spaces and the phase at the end are kept */
	assert_string_equal(in.series_description,
	                    "DS_CorAdSeq  0.6  Bv40  3  BestDiast 70 %");
	assert_string_equal(in.protocol_name, "CorCTA_Seq \"Adult\"");
	assert_string_equal(in.scan_options, SCAN_OPTS_FORCE);
	assert_num(in.series_number, 4);
	assert_num(in.patient_weight_kg, 72.5);
	assert_num(in.kvp, 100);
	assert_num(in.ctdivol_mgy, 18.56);
	assert_nan(in.pitch);
	/* the heart rate, from the Scan Options tokens */
	assert_num(in.hr_min_bpm, 60);
	assert_num(in.hr_max_bpm, 62);
	assert_num(in.hr_avg_bpm, 61);
	assert_num(in.hr_var_bpm, 2);
	assert_string_equal(in.hr_source, "scan_options");
	assert_nan(in.heart_rate_bpm);      /* (0018,1088) absent */
	assert_num(in.phase_percent, 70);
	assert_num(in.rr_interval_ms, 1000);
	assert_nan(in.pulsing_start_percent);
	assert_nan(in.pulsing_end_percent);
	assert_true(in.cardiac_tokens);
	assert_true(in.sequential);
	assert_true(in.triggered);
	assert_true(extract_is_cardiac(&in, NULL));
}

static void test_extract__leaves_absent_fields_empty(void **state)
{
	struct ct c = {.sop_uid = SOP_UID, .study_uid = STUDY_UID,
	               .series_uid = SERIES_UID};
	struct instance_info in;

	(void)state;
	assert_int_equal(extract_ok(&c, NULL, &in), 0);
	assert_string_equal(in.study_date, "");
	assert_string_equal(in.study_time, "");
	assert_string_equal(in.series_description, "");
	assert_string_equal(in.scan_options, "");
	assert_string_equal(in.hr_source, "");
	assert_nan(in.instance_number);
	assert_nan(in.hr_min_bpm);
	assert_nan(in.hr_max_bpm);
	assert_nan(in.hr_avg_bpm);
	assert_nan(in.hr_var_bpm);
	assert_nan(in.heart_rate_bpm);
	assert_nan(in.phase_percent);
	assert_nan(in.rr_interval_ms);
	assert_nan(in.pitch);
	assert_false(in.cardiac_tokens);
	assert_false(extract_is_cardiac(&in, NULL));
}

/* ---- dates and times ------------------------------------------------------- */

static void test_extract__formats_dates(void **state)
{
	static const struct {
		const char *da, *expected;
	} cases[] = {
		{"20240312", "2024-03-12"},
		{"2024.03.12", "2024-03-12"},   /* ACR-NEMA style */
		{"2024031", ""},
		{"2024-03-12", ""},
		{"abcdefgh", ""},
		{"20240312-20240313", ""},      /* a range is no date */
	};
	struct ct c = siemens;
	struct instance_info in;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		c.date = cases[i].da;
		assert_int_equal(extract_ok(&c, NULL, &in), 0);
		if (strcmp(in.study_date, cases[i].expected) != 0)
			fail_msg("DA '%s' gave '%s', not '%s'", cases[i].da,
			         in.study_date, cases[i].expected);
	}
}

static void test_extract__formats_times(void **state)
{
	static const struct {
		const char *tm, *expected;
	} cases[] = {
		{"093412.000000", "09:34:12"},
		{"093412", "09:34:12"},
		{"0934", "09:34:00"},
		{"09", "09:00:00"},
		{"09:34:12", "09:34:12"},       /* ACR-NEMA style */
		{"235959.999", "23:59:59"},
		{"093", ""},
		{"9", ""},
		{"ab", ""},
	};
	struct ct c = siemens;
	struct instance_info in;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		c.time = cases[i].tm;
		assert_int_equal(extract_ok(&c, NULL, &in), 0);
		if (strcmp(in.study_time, cases[i].expected) != 0)
			fail_msg("TM '%s' gave '%s', not '%s'", cases[i].tm,
			         in.study_time, cases[i].expected);
	}
}

/* DA is exactly 8 digits and TM at most 6 before the fraction (PS3.5
 * 6.2): a longer value is malformed, and its first digits are no date. */
static void test_extract__rejects_dates_and_times_with_extra_digits(void **state)
{
	struct ct c = siemens;
	struct instance_info in;

	(void)state;
	c.date = "202403129";
	c.time = "0934121";
	assert_int_equal(extract_ok(&c, NULL, &in), 0);
	assert_string_equal(in.study_date, "");
	assert_fixed_bug(in.study_time[0] == '\0',
	                 "format_time (src/extract.c) stops reading after 6 "
	                 "digits: TM '0934121' gives '09:34:12'");
}

/* ---- heart rate ---------------------------------------------------------------- */

static void test_extract__reads_the_standard_heart_rate(void **state)
{
	struct ct c = siemens;
	struct instance_info in;

	(void)state;
	c.scan_options = "HELIX";
	c.heart_rate = "58";
	c.description = "Thorax 1.0 B30f";
	assert_int_equal(extract_ok(&c, NULL, &in), 0);
	assert_num(in.heart_rate_bpm, 58);
	assert_num(in.hr_avg_bpm, 58);
	assert_string_equal(in.hr_source, "heart_rate");
	assert_false(in.cardiac_tokens);
	assert_true(extract_is_cardiac(&in, NULL));
}

static void test_extract__takes_a_heart_rate_of_zero_as_absent(void **state)
{
	struct ct c = siemens;
	struct instance_info in;

	(void)state;
	c.scan_options = "HELIX";
	c.heart_rate = "0";
	c.description = "Abdomen 3.0 B30f";
	assert_int_equal(extract_ok(&c, NULL, &in), 0);
	assert_nan(in.heart_rate_bpm);
	assert_nan(in.hr_avg_bpm);
	assert_string_equal(in.hr_source, "");
	assert_false(extract_is_cardiac(&in, NULL));
}

static void test_extract__prefers_scan_options_to_the_standard_heart_rate(void **state)
{
	struct ct c = siemens;
	struct instance_info in;

	(void)state;
	c.heart_rate = "75";
	assert_int_equal(extract_ok(&c, NULL, &in), 0);
	assert_num(in.heart_rate_bpm, 75);
	assert_num(in.hr_avg_bpm, 61);
	assert_string_equal(in.hr_source, "scan_options");
}

/* One item holding Heart Rate (0018,1088), wrapped in a Cardiac
 * Synchronization Sequence (0018,9118): a functional group item, in the
 * encoding of group. */
static void put_sync_group(struct bytes *group, const char *hr)
{
	struct bytes sync = {.implicit = group->implicit};

	put_str(&sync, DCM_TAG(0x0018, 0x1088), "IS", hr);
	put_sq(group, DCM_TAG(0x0018, 0x9118), &sync, 1);
	bytes_free(&sync);
}

/* Enhanced CT (PS3.3 C.7.6.16): the heart rate of each frame. */
static void test_extract__summarises_per_frame_heart_rates(void **state)
{
	static const char *const hr[] = {"60", "70", "65"};
	struct bytes frames[3] = {{0}}, extra = {0};
	struct ct c = siemens;
	struct instance_info in;

	(void)state;
	c.scan_options = NULL;
	for (size_t i = 0; i < 3; i++)
		put_sync_group(&frames[i], hr[i]);
	put_sq(&extra, DCM_TAG(0x5200, 0x9230), frames, 3);
	assert_int_equal(extract_ok(&c, &extra, &in), 0);
	assert_num(in.hr_min_bpm, 60);
	assert_num(in.hr_max_bpm, 70);
	assert_num(in.hr_avg_bpm, 65);
	assert_string_equal(in.hr_source, "cardiac_sync_seq");
	assert_true(extract_is_cardiac(&in, NULL));
	for (size_t i = 0; i < 3; i++)
		bytes_free(&frames[i]);
	bytes_free(&extra);
}

static void test_extract__reads_a_shared_heart_rate(void **state)
{
	struct bytes shared = {0}, extra = {0};
	struct ct c = siemens;
	struct instance_info in;

	(void)state;
	c.scan_options = NULL;
	put_sync_group(&shared, "66");
	put_sq(&extra, DCM_TAG(0x5200, 0x9229), &shared, 1);
	assert_int_equal(extract_ok(&c, &extra, &in), 0);
	assert_num(in.heart_rate_bpm, 66);
	assert_num(in.hr_avg_bpm, 66);
	assert_string_equal(in.hr_source, "cardiac_sync_seq");
	bytes_free(&shared);
	bytes_free(&extra);
}

/* ---- heart rate: standard attributes ---------------------------------------- */

/* The cardiac attributes of PS3.3 C.7.6.18.1 (Cardiac Synchronization) and
 * C.8.15.3 (CT acquisition), top level, as any vendor may write them.  The
 * header is written here whole, since these elements fall between those
 * of put_ct(). */
static void put_standard_cardiac(struct bytes *b)
{
	put_str(b, DCM_TAG(0x0008, 0x0016), "UI", SOP_CLASS);
	put_str(b, DCM_TAG(0x0008, 0x0018), "UI", SOP_UID);
	put_str(b, DCM_TAG(0x0008, 0x0060), "CS", "CT");
	put_str(b, DCM_TAG(0x0008, 0x0070), "LO", "Philips");
	put_str(b, DCM_TAG(0x0018, 0x1060), "DS", "412.5");  /* Trigger Time */
	put_str(b, DCM_TAG(0x0018, 0x1081), "IS", "780");    /* Low R-R */
	put_str(b, DCM_TAG(0x0018, 0x1082), "IS", "1020");   /* High R-R */
	put_str(b, DCM_TAG(0x0018, 0x1083), "IS", "212");    /* Intervals Acquired */
	put_str(b, DCM_TAG(0x0018, 0x1084), "IS", "3");      /* Intervals Rejected */
	put_str(b, DCM_TAG(0x0018, 0x1088), "IS", "68");     /* Heart Rate */
	put_fd(b, DCM_TAG(0x0018, 0x9306), (const double[]){0.625}, 1);
	put_fd(b, DCM_TAG(0x0018, 0x9307), (const double[]){40.0}, 1);
	put_str(b, DCM_TAG(0x0018, 0x9323), "CS", "ECG");    /* Exposure Modulation */
	put_str(b, DCM_TAG(0x0020, 0x000D), "UI", STUDY_UID);
	put_str(b, DCM_TAG(0x0020, 0x000E), "UI", SERIES_UID);
	/* Nominal Percentage of Cardiac Phase */
	put_fl(b, DCM_TAG(0x0020, 0x9241), (const float[]){75.0f}, 1);
}

static void test_extract__reads_the_standard_cardiac_attributes(void **state)
{
	(void)state;
	for (int implicit = 0; implicit <= 1; implicit++) {
		struct bytes b = {.implicit = implicit};
		struct raw raw = RAW_INIT;
		struct instance_info in;

		put_standard_cardiac(&b);
		assert_int_equal(extract_bytes(&b, &in, &raw), 0);
		assert_string_equal(in.manufacturer, "Philips");
		assert_num(in.heart_rate_bpm, 68);
		assert_num(in.hr_avg_bpm, 68);
		assert_nan(in.hr_min_bpm);
		assert_nan(in.hr_max_bpm);
		assert_nan(in.hr_var_bpm);
		assert_string_equal(in.hr_source, "heart_rate");
		assert_num(in.rr_low_ms, 780);
		assert_num(in.rr_high_ms, 1020);
		assert_num(in.intervals_acquired, 212);
		assert_num(in.intervals_rejected, 3);
		assert_num(in.trigger_time_ms, 412.5);
		assert_num(in.phase_percent, 75);
		assert_string_equal(in.exposure_modulation, "ECG");
		assert_num(in.single_collimation_mm, 0.625);
		assert_num(in.total_collimation_mm, 40);
		assert_false(in.cardiac_tokens);
		assert_true(extract_is_cardiac(&in, NULL));
		raw_release(&raw);
		bytes_free(&b);
	}
}

/* ---- heart rate: Enhanced CT functional groups ------------------------------ */

/* One functional group item (PS3.3 C.7.6.16): Cardiac Synchronization
 * (0018,9118) with Heart Rate, CT Acquisition Type (0018,9301) and CT
 * Exposure (0018,9321) with CTDIvol; NULL or NAN leaves one out. */
static void put_group(struct bytes *g, const char *hr, const char *acq_type,
                      double ctdivol)
{
	if (hr)
		put_sync_group(g, hr);
	if (acq_type) {
		struct bytes item = {.implicit = g->implicit};

		put_str(&item, DCM_TAG(0x0018, 0x9302), "CS", acq_type);
		put_sq(g, DCM_TAG(0x0018, 0x9301), &item, 1);
		bytes_free(&item);
	}
	if (!isnan(ctdivol)) {
		struct bytes item = {.implicit = g->implicit};

		put_fd(&item, DCM_TAG(0x0018, 0x9345), &ctdivol, 1);
		put_sq(g, DCM_TAG(0x0018, 0x9321), &item, 1);
		bytes_free(&item);
	}
}

static void test_extract__reads_an_enhanced_ct_with_shared_groups_only(void **state)
{
	(void)state;
	for (int implicit = 0; implicit <= 1; implicit++) {
		struct bytes shared = {.implicit = implicit};
		struct bytes extra = {.implicit = implicit};
		struct ct c = siemens;
		struct instance_info in;

		c.scan_options = NULL;
		c.enhanced = true;
		c.implicit = implicit;
		put_group(&shared, "66", "SEQUENCED", 9.5);
		put_sq(&extra, DCM_TAG(0x5200, 0x9229), &shared, 1);
		assert_int_equal(extract_ok(&c, &extra, &in), 0);
		assert_num(in.heart_rate_bpm, 66);
		assert_num(in.hr_min_bpm, 66);
		assert_num(in.hr_max_bpm, 66);
		assert_num(in.hr_avg_bpm, 66);
		assert_string_equal(in.hr_source, "cardiac_sync_seq");
		assert_num(in.ctdivol_mgy, 9.5);
		assert_string_equal(in.acquisition_type, "SEQUENCED");
		assert_true(in.sequential);
		bytes_free(&shared);
		bytes_free(&extra);
	}
}

static void test_extract__reads_an_enhanced_ct_with_per_frame_groups_only(void **state)
{
	static const char *const hr[] = {"60", "70", "65"};
	static const double ctdivol[] = {10, 12, 14};

	(void)state;
	for (int implicit = 0; implicit <= 1; implicit++) {
		struct bytes frames[3], extra = {.implicit = implicit};
		struct ct c = siemens;
		struct instance_info in;

		c.scan_options = NULL;
		c.enhanced = true;
		c.implicit = implicit;
		for (size_t i = 0; i < 3; i++) {
			frames[i] = (struct bytes){.implicit = implicit};
			put_group(&frames[i], hr[i], "SPIRAL", ctdivol[i]);
		}
		put_sq(&extra, DCM_TAG(0x5200, 0x9230), frames, 3);
		assert_int_equal(extract_ok(&c, &extra, &in), 0);
		assert_num(in.hr_min_bpm, 60);
		assert_num(in.hr_max_bpm, 70);
		assert_num(in.hr_avg_bpm, 65);
		assert_num(in.heart_rate_bpm, 65);      /* mean over frames */
		assert_string_equal(in.hr_source, "cardiac_sync_seq");
		assert_num(in.ctdivol_mgy, 12);         /* mean over frames */
		assert_string_equal(in.acquisition_type, "SPIRAL");
		assert_false(in.sequential);
		for (size_t i = 0; i < 3; i++)
			bytes_free(&frames[i]);
		bytes_free(&extra);
	}
}

/* ---- heart rate: vendors' private elements ---------------------------------- */

/* How a private element travels: with its VR in explicit VR; as UN in
 * explicit VR, 4-byte length (a node on the way did not know it, PS3.5
 * 6.2.2); or in implicit VR, where the reader finds no VR in its
 * dictionary and makes it UN itself. */
enum enc { EXPLICIT, EXPLICIT_UN, IMPLICIT };

#define ALL_ENCODINGS(e) for (enum enc e = EXPLICIT; e <= IMPLICIT; e++)

/* The VR a private element of VR vr is written with in encoding e. */
static const char *vr_in(enum enc e, const char *vr)
{
	return e == EXPLICIT_UN ? "UN" : vr;
}

/* Element ee of the private block `block` of `group` (PS3.5 7.8.1). */
#define PRIV(group, block, ee) DCM_TAG(group, (unsigned)(block) << 8 | (ee))

/* A GE cardiac header: no Scan Options, no standard heart rate. */
static const struct ct ge = {
	.sop_uid = SOP_UID,
	.study_uid = STUDY_UID,
	.series_uid = SERIES_UID,
	.date = "20240312",
	.time = "101500",
	.description = "Cardiac 0.625mm STND 75%",
	.manufacturer = "GE MEDICAL SYSTEMS",
	.model = "Revolution CT",
	.instance_number = "1",
};

/* A Canon cardiac header, likewise. */
static const struct ct canon = {
	.sop_uid = SOP_UID,
	.study_uid = STUDY_UID,
	.series_uid = SERIES_UID,
	.date = "20240312",
	.time = "111500",
	.description = "CARDIAC 0.5 FC43 80%",
	.manufacturer = "CANON_MEC",
	.model = "Aquilion ONE",
	.instance_number = "1",
};

/* Extracts from template c, in encoding e, with `extra` built by fn. */
static void extract_with(const struct ct *tmpl, enum enc e,
                         void (*fn)(struct bytes *, enum enc, uint8_t),
                         uint8_t block, struct instance_info *in)
{
	struct bytes extra = {.implicit = e == IMPLICIT};
	struct ct c = *tmpl;

	c.implicit = e == IMPLICIT;
	fn(&extra, e, block);
	assert_int_equal(extract_ok(&c, &extra, in), 0);
	bytes_free(&extra);
}

/* -- GE GEMS_HELIOS_01 (0045) -- */

/* GEMS_HELIOS_01 at `block` of group 0045: AvgHeartRateForImage (xx31, CS)
 * "62" and PctRpeakDelay (xx33, CS) "75". */
static void put_ge_helios(struct bytes *b, enum enc e, uint8_t block)
{
	put_str(b, DCM_TAG(0x0045, block), "LO", "GEMS_HELIOS_01");
	put_str(b, PRIV(0x0045, block, 0x31), vr_in(e, "CS"), "62");
	put_str(b, PRIV(0x0045, block, 0x33), vr_in(e, "CS"), "75");
}

static void assert_ge_helios(const struct instance_info *in)
{
	assert_num(in->hr_avg_bpm, 62);
	assert_nan(in->hr_min_bpm);
	assert_nan(in->hr_max_bpm);
	assert_nan(in->hr_var_bpm);
	assert_nan(in->heart_rate_bpm);
	assert_string_equal(in->hr_source, "ge_private");
	assert_true(extract_is_cardiac(in, NULL));
}

static void test_extract__reads_ge_average_heart_rate_as_cs_in_explicit_vr(void **state)
{
	struct instance_info in;

	(void)state;
	extract_with(&ge, EXPLICIT, put_ge_helios, 0x10, &in);
	assert_ge_helios(&in);
}

static void test_extract__reads_ge_average_heart_rate_from_un_in_explicit_vr(void **state)
{
	struct instance_info in;

	(void)state;
	extract_with(&ge, EXPLICIT_UN, put_ge_helios, 0x10, &in);
	assert_ge_helios(&in);
}

static void test_extract__reads_ge_average_heart_rate_in_implicit_vr(void **state)
{
	struct instance_info in;

	(void)state;
	extract_with(&ge, IMPLICIT, put_ge_helios, 0x10, &in);
	assert_ge_helios(&in);
}

/* The creator decides the block: at (0045,0011), AvgHeartRateForImage is
 * (0045,1131); (0045,1031) then belongs to another creator. */
static void put_ge_helios_second(struct bytes *b, enum enc e, uint8_t block)
{
	(void)block;
	put_str(b, DCM_TAG(0x0045, 0x0010), "LO", "ACME_CT_01");
	put_str(b, DCM_TAG(0x0045, 0x0011), "LO", "GEMS_HELIOS_01");
	put_str(b, DCM_TAG(0x0045, 0x1031), vr_in(e, "CS"), "99");
	put_str(b, DCM_TAG(0x0045, 0x1131), vr_in(e, "CS"), "62");
}

static void test_extract__reads_ge_average_heart_rate_from_block_0x11(void **state)
{
	(void)state;
	ALL_ENCODINGS(e) {
		struct instance_info in;

		extract_with(&ge, e, put_ge_helios_second, 0x11, &in);
		assert_ge_helios(&in);
	}
}

static void test_extract__takes_ge_r_peak_delay_as_the_phase(void **state)
{
	(void)state;
	ALL_ENCODINGS(e) {
		struct instance_info in;

		extract_with(&ge, e, put_ge_helios, 0x10, &in);
		assert_num(in.phase_percent, 75);
	}
}

/* -- GE GEMS_CT_CARDIAC_001 (0049) -- */

/* Heart rate prior to confirm: average, minimum, maximum, std dev (bpm). */
static const float ge_hr[4] = {58.5f, 55.0f, 63.25f, 2.5f};

/*
 * GEMS_CT_CARDIAC_001 at `block` of group 0049: the CT Cardiac Sequence
 * (xx01), one item that names its own creator at item_block and holds
 * the heart rate prior to confirm as FL (xx03 average, xx04 minimum, xx05
 * maximum, xx06 std dev).  In explicit VR: SQ and FL.  Sent as UN: the
 * value is the items in implicit VR little endian (PS3.5 6.2.2), the
 * floats their raw 4 bytes.  In implicit VR: an unknown element of
 * defined length, which the reader makes UN.
 */
static void put_ge_cardiac_at(struct bytes *b, enum enc e, uint8_t block,
                              uint8_t item_block)
{
	struct bytes item = {.implicit = e != EXPLICIT};

	put_str(&item, DCM_TAG(0x0049, item_block), "LO", "GEMS_CT_CARDIAC_001");
	for (unsigned k = 0; k < 4; k++)
		put_fl(&item, PRIV(0x0049, item_block, 0x03 + k), &ge_hr[k], 1);
	put_str(b, DCM_TAG(0x0049, block), "LO", "GEMS_CT_CARDIAC_001");
	put_items(b, PRIV(0x0049, block, 0x01), e == EXPLICIT ? "SQ" : "UN",
	          &item, 1);
	bytes_free(&item);
}

static void put_ge_cardiac(struct bytes *b, enum enc e, uint8_t block)
{
	put_ge_cardiac_at(b, e, block, block);
}

/* The item's creator at 0x10 whatever the block of the sequence. */
static void put_ge_cardiac_item_at_0x10(struct bytes *b, enum enc e, uint8_t block)
{
	put_ge_cardiac_at(b, e, block, 0x10);
}

static void assert_ge_cardiac(const struct instance_info *in)
{
	assert_num(in->hr_avg_bpm, 58.5);
	assert_num(in->hr_min_bpm, 55);
	assert_num(in->hr_max_bpm, 63.25);
	assert_num(in->hr_var_bpm, 2.5);
	assert_nan(in->heart_rate_bpm);
	assert_string_equal(in->hr_source, "ge_private");
	assert_true(extract_is_cardiac(in, NULL));
}

static void test_extract__reads_ge_cardiac_sequence_as_sq_in_explicit_vr(void **state)
{
	struct instance_info in;

	(void)state;
	extract_with(&ge, EXPLICIT, put_ge_cardiac, 0x10, &in);
	assert_ge_cardiac(&in);
}

static void test_extract__reads_ge_cardiac_sequence_from_un_in_explicit_vr(void **state)
{
	struct instance_info in;

	(void)state;
	extract_with(&ge, EXPLICIT_UN, put_ge_cardiac, 0x10, &in);
	assert_ge_cardiac(&in);
}

static void test_extract__reads_ge_cardiac_sequence_from_un_in_implicit_vr(void **state)
{
	struct instance_info in;

	(void)state;
	extract_with(&ge, IMPLICIT, put_ge_cardiac, 0x10, &in);
	assert_ge_cardiac(&in);
}

static void test_extract__reads_ge_cardiac_sequence_from_block_0x12(void **state)
{
	(void)state;
	ALL_ENCODINGS(e) {
		struct instance_info in;

		extract_with(&ge, e, put_ge_cardiac, 0x12, &in);
		assert_ge_cardiac(&in);
	}
}

/* Each data set, items included, reserves its own blocks (PS3.5 7.8.1). */
static void test_extract__resolves_the_ge_cardiac_item_creator_in_the_item(void **state)
{
	(void)state;
	ALL_ENCODINGS(e) {
		struct instance_info in;

		extract_with(&ge, e, put_ge_cardiac_item_at_0x10, 0x12, &in);
		assert_ge_cardiac(&in);
	}
}

static void put_ge_both(struct bytes *b, enum enc e, uint8_t block)
{
	put_ge_helios(b, e, block);
	put_ge_cardiac(b, e, block);
}

/* extract.c: GEMS_CT_CARDIAC_001 first, else GEMS_HELIOS_01 (0045,xx31). */
static void test_extract__prefers_ge_cardiac_sequence_to_ge_average_heart_rate(void **state)
{
	(void)state;
	ALL_ENCODINGS(e) {
		struct instance_info in;

		extract_with(&ge, e, put_ge_both, 0x10, &in);
		assert_ge_cardiac(&in);
	}
}

/* -- Canon TOSHIBA_MEC_CT3 (7005) -- */

/* TOSHIBA_MEC_CT3 at `block` of group 7005: Cardiac R-R Mean Time (xx03,
 * SH, ms) and the reconstruction gating phase (xx04, SH). */
static void put_canon(struct bytes *b, enum enc e, uint8_t block)
{
	put_str(b, DCM_TAG(0x7005, block), "LO", "TOSHIBA_MEC_CT3");
	put_str(b, PRIV(0x7005, block, 0x03), vr_in(e, "SH"), "857");
	put_str(b, PRIV(0x7005, block, 0x04), vr_in(e, "SH"), "80% ");
}

static void assert_canon(const struct instance_info *in)
{
	assert_num(in->hr_avg_bpm, 70.0);           /* round(60000 / 857, 1) */
	assert_nan(in->hr_min_bpm);
	assert_nan(in->hr_max_bpm);
	assert_nan(in->hr_var_bpm);
	assert_num(in->rr_interval_ms, 857);
	assert_num(in->phase_percent, 80);
	assert_string_equal(in->hr_source, "canon_private");
	assert_true(extract_is_cardiac(in, NULL));
}

static void test_extract__reads_canon_mean_rr_as_sh_in_explicit_vr(void **state)
{
	struct instance_info in;

	(void)state;
	extract_with(&canon, EXPLICIT, put_canon, 0x10, &in);
	assert_canon(&in);
}

static void test_extract__reads_canon_mean_rr_from_un_in_explicit_vr(void **state)
{
	struct instance_info in;

	(void)state;
	extract_with(&canon, EXPLICIT_UN, put_canon, 0x10, &in);
	assert_canon(&in);
}

static void test_extract__reads_canon_mean_rr_in_implicit_vr(void **state)
{
	struct instance_info in;

	(void)state;
	extract_with(&canon, IMPLICIT, put_canon, 0x10, &in);
	assert_canon(&in);
}

static void test_extract__reads_canon_mean_rr_from_block_0x12(void **state)
{
	(void)state;
	ALL_ENCODINGS(e) {
		struct instance_info in;

		extract_with(&canon, e, put_canon, 0x12, &in);
		assert_canon(&in);
	}
}

/* -- Siemens XA: Scan Options in (0021,xx5C) -- */

#define XA_TOKENS \
	"XOP\\DSEQCARD\\TRGD\\TP75PC0800\\OSCRATEMIN072BPM\\" \
	"OSCRATEMAX078BPM\\OSCRATEAVG075BPM\\OSCRATEVAR003BPM"

#define XA_CREATOR "SIEMENS MED SP DXMG WH AWS 1"

/* Siemens creator `creator` at `block` of group 0021, Scan Options in xx5C. */
static void put_siemens_xa_as(struct bytes *b, enum enc e, uint8_t block,
                              const char *creator)
{
	put_str(b, DCM_TAG(0x0021, block), "LO", creator);
	put_str(b, PRIV(0x0021, block, 0x5C), vr_in(e, "LO"), XA_TOKENS);
}

static void put_siemens_xa(struct bytes *b, enum enc e, uint8_t block)
{
	put_siemens_xa_as(b, e, block, XA_CREATOR);
}

/* A header of XA software: no (0018,0022), creator at (0021,0011). */
static void extract_xa(enum enc e, const char *creator, struct instance_info *in)
{
	struct bytes extra = {.implicit = e == IMPLICIT};
	struct ct c = siemens;

	c.implicit = e == IMPLICIT;
	c.scan_options = NULL;
	c.description = "Cardiac 0.6 Bv40 75%";
	c.model = "NAEOTOM Alpha";
	put_siemens_xa_as(&extra, e, 0x11, creator);
	assert_int_equal(extract_ok(&c, &extra, in), 0);
	bytes_free(&extra);
}

static void assert_xa(const struct instance_info *in)
{
	assert_string_equal(in->scan_options, XA_TOKENS);
	assert_num(in->hr_min_bpm, 72);
	assert_num(in->hr_max_bpm, 78);
	assert_num(in->hr_avg_bpm, 75);
	assert_num(in->hr_var_bpm, 3);
	assert_num(in->phase_percent, 75);
	assert_num(in->rr_interval_ms, 800);
	assert_string_equal(in->hr_source, "scan_options");
	assert_true(in->cardiac_tokens);
	assert_true(extract_is_cardiac(in, NULL));
}

static void test_extract__reads_siemens_xa_scan_options_as_lo_in_explicit_vr(void **state)
{
	struct instance_info in;

	(void)state;
	extract_xa(EXPLICIT, XA_CREATOR, &in);
	assert_xa(&in);
}

static void test_extract__reads_siemens_xa_scan_options_from_un_in_explicit_vr(void **state)
{
	struct instance_info in;

	(void)state;
	extract_xa(EXPLICIT_UN, XA_CREATOR, &in);
	assert_xa(&in);
}

static void test_extract__reads_siemens_xa_scan_options_in_implicit_vr(void **state)
{
	struct instance_info in;

	(void)state;
	extract_xa(IMPLICIT, XA_CREATOR, &in);
	assert_xa(&in);
}

/* The creator's name varies with model and software: any SIEMENS one. */
static void test_extract__reads_siemens_xa_scan_options_under_any_siemens_creator(void **state)
{
	static const char *const creators[] = {
		"SIEMENS MR SDS 01", "SIEMENS CT VA1 DUMMY", "SIEMENS XA 0021",
	};

	(void)state;
	for (size_t i = 0; i < sizeof creators / sizeof creators[0]; i++) {
		struct instance_info in;

		extract_xa(EXPLICIT, creators[i], &in);
		assert_xa(&in);
	}
}

static void test_extract__prefers_scan_options_to_the_siemens_xa_element(void **state)
{
	(void)state;
	ALL_ENCODINGS(e) {
		struct instance_info in;

		extract_with(&siemens, e, put_siemens_xa, 0x11, &in);
		assert_string_equal(in.scan_options, SCAN_OPTS_FORCE);
		assert_num(in.hr_avg_bpm, 61);
		assert_num(in.hr_min_bpm, 60);
		assert_num(in.hr_max_bpm, 62);
		assert_num(in.hr_var_bpm, 2);
		assert_num(in.phase_percent, 70);
		assert_string_equal(in.hr_source, "scan_options");
	}
}

/* ---- heart rate: which source wins ------------------------------------------ */

/* Every source at once, each with its own value; `from` names the first
 * one present (the ones before it are left out). */
enum hr_from {
	FROM_SCAN_OPTIONS, FROM_HEART_RATE, FROM_SYNC_SEQ, FROM_GE_SEQUENCE,
	FROM_GE_HELIOS, FROM_CANON,
};

static void extract_all_sources(enum hr_from from, enum enc e,
                                struct instance_info *in)
{
	struct bytes extra = {.implicit = e == IMPLICIT};
	struct ct c = siemens;

	c.implicit = e == IMPLICIT;
	c.scan_options = from <= FROM_SCAN_OPTIONS ? SCAN_OPTS_FORCE : NULL;
	c.heart_rate = from <= FROM_HEART_RATE ? "75" : NULL;
	if (from <= FROM_GE_HELIOS)
		put_ge_helios(&extra, e, 0x10);
	if (from <= FROM_GE_SEQUENCE)
		put_ge_cardiac(&extra, e, 0x10);
	if (from <= FROM_SYNC_SEQ) {
		struct bytes frames[2] = {{.implicit = c.implicit},
		                          {.implicit = c.implicit}};

		put_sync_group(&frames[0], "88");
		put_sync_group(&frames[1], "92");
		put_sq(&extra, DCM_TAG(0x5200, 0x9230), frames, 2);
		bytes_free(&frames[0]);
		bytes_free(&frames[1]);
	}
	put_canon(&extra, e, 0x10);
	assert_int_equal(extract_ok(&c, &extra, in), 0);
	bytes_free(&extra);
}

static void test_extract__prefers_scan_options_to_every_other_heart_rate_source(void **state)
{
	(void)state;
	ALL_ENCODINGS(e) {
		struct instance_info in;

		extract_all_sources(FROM_SCAN_OPTIONS, e, &in);
		assert_num(in.hr_avg_bpm, 61);
		assert_num(in.hr_min_bpm, 60);
		assert_num(in.hr_max_bpm, 62);
		assert_num(in.hr_var_bpm, 2);
		assert_num(in.heart_rate_bpm, 75);     /* still read, not used */
		assert_string_equal(in.hr_source, "scan_options");
	}
}

/* The order of extract.c's header comment, one source dropped at a time. */
static void test_extract__takes_the_heart_rate_sources_in_the_documented_order(void **state)
{
	static const struct {
		enum hr_from from;
		double avg;
		const char *source;
	} steps[] = {
		{FROM_SCAN_OPTIONS, 61, "scan_options"},
		{FROM_HEART_RATE, 75, "heart_rate"},
		{FROM_SYNC_SEQ, 90, "cardiac_sync_seq"},
		{FROM_GE_SEQUENCE, 58.5, "ge_private"},
		{FROM_GE_HELIOS, 62, "ge_private"},
		{FROM_CANON, 70, "canon_private"},
	};

	(void)state;
	ALL_ENCODINGS(e) {
		for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
			struct instance_info in;

			extract_all_sources(steps[i].from, e, &in);
			if (!(in.hr_avg_bpm == steps[i].avg) ||
			    strcmp(in.hr_source, steps[i].source) != 0)
				fail_msg("encoding %d, step %zu: %g from '%s', not "
				         "%g from '%s'", (int)e, i, in.hr_avg_bpm,
				         in.hr_source, steps[i].avg, steps[i].source);
		}
	}
}

/* ---- heart rate: none -------------------------------------------------------- */

static void test_extract__finds_no_heart_rate_in_a_plain_spiral(void **state)
{
	char *patterns[] = {"*cor*", "*cardiac*"};
	struct extract_filter filter = {patterns, 2};
	struct ct c = siemens;
	struct instance_info in;

	(void)state;
	c.scan_options = "HELIX";
	c.description = "Abdomen 3.0 B30f";
	assert_int_equal(extract_ok(&c, NULL, &in), 0);
	assert_string_equal(in.scan_options, "HELIX");
	assert_nan(in.hr_min_bpm);
	assert_nan(in.hr_max_bpm);
	assert_nan(in.hr_avg_bpm);
	assert_nan(in.hr_var_bpm);
	assert_nan(in.heart_rate_bpm);
	assert_nan(in.phase_percent);
	assert_nan(in.rr_interval_ms);
	assert_string_equal(in.hr_source, "");
	assert_false(in.cardiac_tokens);
	assert_false(extract_is_cardiac(&in, NULL));
	assert_false(extract_is_cardiac(&in, &filter));
}

/* ---- raw material of UN elements -------------------------------------------- */

/* GE's two groups, both as UN in explicit VR. */
static void extract_ge_un(struct instance_info *in, struct raw *raw)
{
	struct bytes b = {0};

	put_ct(&b, &ge, NULL);
	put_ge_both(&b, EXPLICIT_UN, 0x10);
	assert_int_equal(extract_bytes(&b, in, raw), 0);
	bytes_free(&b);
}

/* One JSON string of raw_to_json() (escapes \" \\ \u00XX), into out;
 * returns what follows it. */
static const char *json_string_in(const char *p, char *out, size_t size)
{
	size_t n = 0;

	if (*p++ != '"')
		fail_msg("json: string expected at '%.20s'", p - 1);
	while (*p != '"') {
		char c = *p++;

		if (c == '\0')
			fail_msg("json: unterminated string");
		if (c == '\\') {
			c = *p++;
			if (c == 'u') {
				unsigned v;

				if (sscanf(p, "%4x", &v) != 1 || v > 0x7f)
					fail_msg("json: bad escape at '%.10s'", p - 2);
				c = (char)v;
				p += 4;
			} else if (c != '"' && c != '\\') {
				fail_msg("json: bad escape at '%.10s'", p - 2);
			}
		}
		if (n + 1 >= size)
			fail_msg("json: string longer than %zu", size);
		out[n++] = c;
	}
	out[n] = '\0';
	return p + 1;
}

/* The pairs of the JSON object raw_to_json() writes, as series_raw keeps
 * them, back into raw (raw_set per pair): what `hraudit reparse` reads. */
static void raw_from_json(const char *json, struct raw *raw)
{
	static char key[256], value[16384];
	const char *p = json;

	if (*p++ != '{')
		fail_msg("json: '{' expected");
	while (*p != '}') {
		p = json_string_in(p, key, sizeof key);
		if (*p++ != ':')
			fail_msg("json: ':' expected after '%s'", key);
		p = json_string_in(p, value, sizeof value);
		assert_int_equal(raw_set(raw, key, value), 0);
		if (*p == ',')
			p++;
	}
	assert_int_equal(p[1], '\0');
}

static void test_extract__keeps_ge_un_values_verbatim_in_the_raw_json(void **state)
{
	struct raw raw = RAW_INIT;
	struct instance_info in;
	char *json;

	(void)state;
	extract_ge_un(&in, &raw);
	assert_ge_cardiac(&in);
	json = raw_to_json(&raw);
	assert_non_null(json);
	/* "62" as sent; 58.5f is 0x426A0000, little endian */
	if (!strstr(json, "\"0045,GEMS_HELIOS_01,31\":\"UN:3632\"") ||
	    !strstr(json, "\"0049,GEMS_CT_CARDIAC_001,01/"
	                  "0049,GEMS_CT_CARDIAC_001,03\":\"UN:00006A42\"") ||
	    !strstr(json, "\"0049,GEMS_CT_CARDIAC_001,01/"
	                  "0049,GEMS_CT_CARDIAC_001,06\":\"UN:00002040\""))
		fail_msg("UN values not verbatim in %s", json);
	free(json);
	raw_release(&raw);
}

static void test_extract__derives_the_same_from_the_json_of_a_ge_un_header(void **state)
{
	struct raw raw = RAW_INIT, stored = RAW_INIT;
	struct instance_info a, b;
	char *json;

	(void)state;
	extract_ge_un(&a, &raw);
	json = raw_to_json(&raw);
	assert_non_null(json);
	raw_from_json(json, &stored);
	assert_int_equal(stored.n, raw.n);
	memset(&b, 0, sizeof b);
	memcpy(b.sop_instance_uid, a.sop_instance_uid, sizeof b.sop_instance_uid);
	b.instance_number = a.instance_number;
	extract_derive(&stored, &b);
	assert_ge_cardiac(&b);
	assert_memory_equal(&a, &b, sizeof a);
	free(json);
	raw_release(&stored);
	raw_release(&raw);
}

/* ---- identity ------------------------------------------------------------------- */

static void test_extract__needs_the_three_uids(void **state)
{
	struct instance_info in;
	struct ct c;

	(void)state;
	c = siemens;
	c.series_uid = NULL;
	assert_int_equal(extract_ok(&c, NULL, &in), -EINVAL);
	c = siemens;
	c.sop_uid = NULL;
	assert_int_equal(extract_ok(&c, NULL, &in), -EINVAL);
	c = siemens;
	c.study_uid = NULL;
	assert_int_equal(extract_ok(&c, NULL, &in), -EINVAL);
	/* an empty UID is no UID */
	c = siemens;
	c.series_uid = "";
	assert_int_equal(extract_ok(&c, NULL, &in), -EINVAL);
}

/* Instances of a series that agree share one raw record: the identity of
 * the instance is not part of its material. */
static void test_extract__keeps_the_instance_identity_out_of_the_material(void **state)
{
	struct raw r1 = RAW_INIT, r2 = RAW_INIT;
	struct instance_info a, b;
	struct ct c = siemens;
	char *j1, *j2;

	(void)state;
	assert_int_equal(extract(&c, NULL, &a, &r1), 0);
	c.sop_uid = "1.2.826.0.1.3680043.10.1234.3.1.8";
	c.instance_number = "8";
	assert_int_equal(extract(&c, NULL, &b, &r2), 0);
	assert_string_not_equal(a.sop_instance_uid, b.sop_instance_uid);
	assert_num(b.instance_number, 8);
	j1 = raw_to_json(&r1);
	j2 = raw_to_json(&r2);
	assert_non_null(j1);
	assert_non_null(j2);
	assert_string_equal(j1, j2);
	assert_null(strstr(j1, SOP_UID));
	free(j1);
	free(j2);
	raw_release(&r1);
	raw_release(&r2);
}

/* Re-deriving stored material (hraudit reparse) gives what the header gave. */
static void test_extract__derives_the_same_from_stored_material(void **state)
{
	struct raw raw = RAW_INIT;
	struct instance_info a, b;

	(void)state;
	assert_int_equal(extract(&siemens, NULL, &a, &raw), 0);
	memset(&b, 0, sizeof b);
	memcpy(b.sop_instance_uid, a.sop_instance_uid, sizeof b.sop_instance_uid);
	b.instance_number = a.instance_number;
	extract_derive(&raw, &b);
	/* every byte the same, NANs included (same bit pattern) */
	assert_memory_equal(&a, &b, sizeof a);
	raw_release(&raw);
}

/* ---- the cardiac decision ------------------------------------------------------- */

static void test_extract__is_cardiac_by_tokens_heart_rate_or_description(void **state)
{
	char *patterns[] = {"*cor*", "*cardiac*", "CaScore*"};
	struct extract_filter filter = {patterns, 3};
	struct extract_filter none = {NULL, 0};
	struct instance_info in;

	(void)state;
	/* a plain spiral: no tokens, no heart rate, description not matched */
	empty_info(&in);
	strcpy(in.scan_options, "HELIX");
	strcpy(in.series_description, "Abdomen 3.0 B30f");
	assert_false(extract_is_cardiac(&in, &filter));
	assert_false(extract_is_cardiac(&in, NULL));

	/* the description decides, case-insensitively */
	strcpy(in.series_description, "DS_CorAdSeq  0.6  Bv40");
	assert_true(extract_is_cardiac(&in, &filter));
	assert_false(extract_is_cardiac(&in, &none));
	assert_false(extract_is_cardiac(&in, NULL));
	strcpy(in.series_description, "CARDIAC Thorax");
	assert_true(extract_is_cardiac(&in, &filter));
	strcpy(in.series_description, "cascore 3.0 Qr36");
	assert_true(extract_is_cardiac(&in, &filter));
	/* a glob, anchored: "CaScore*" is no substring search */
	strcpy(in.series_description, "Thorax CaSc");
	assert_false(extract_is_cardiac(&in, &filter));
	strcpy(in.series_description, "Calcium Thorax");
	assert_false(extract_is_cardiac(&in, &filter));

	/* tokens */
	empty_info(&in);
	in.cardiac_tokens = true;
	assert_true(extract_is_cardiac(&in, NULL));

	/* a heart rate */
	empty_info(&in);
	in.heart_rate_bpm = 58;
	assert_true(extract_is_cardiac(&in, NULL));

	/* a heart rate from any other source */
	empty_info(&in);
	in.hr_avg_bpm = 64;
	strcpy(in.hr_source, "ge_private");
	assert_true(extract_is_cardiac(&in, NULL));

	/* ECG dose modulation */
	empty_info(&in);
	strcpy(in.exposure_modulation, "ECG_BASED");
	assert_true(extract_is_cardiac(&in, NULL));
}

static void test_extract__is_cardiac_for_the_header_of_a_cardiac_series(void **state)
{
	char *patterns[] = {"*cor*"};
	struct extract_filter filter = {patterns, 1};
	struct instance_info in;
	struct ct c = siemens;

	(void)state;
	c.scan_options = "HELIX";
	c.description = "Abdomen 3.0 B30f";
	assert_int_equal(extract_ok(&c, NULL, &in), 0);
	assert_false(extract_is_cardiac(&in, &filter));
	c.description = "CorCTA 0.6 Bv40";
	assert_int_equal(extract_ok(&c, NULL, &in), 0);
	assert_true(extract_is_cardiac(&in, &filter));
	c.description = "Abdomen 3.0 B30f";
	c.scan_options = "HELIX\\TP70PC1000";
	assert_int_equal(extract_ok(&c, NULL, &in), 0);
	assert_true(in.cardiac_tokens);
	assert_true(extract_is_cardiac(&in, &filter));
}

/* ---- privacy ---------------------------------------------------------------------- */

static void assert_absent(const void *bytes, size_t n, const char *what)
{
	if (memmem(bytes, n, what, strlen(what)))
		fail_msg("'%s' leaked", what);
}

static void test_extract__never_reads_the_patient(void **state)
{
	static const char *const canaries[] = {
		PATIENT_NAME, "TESTPATIENT", PATIENT_ID, BIRTH_DATE, "1960-01-01",
	};
	struct raw raw = RAW_INIT;
	struct instance_info in;
	char *json;

	(void)state;
	assert_int_equal(extract(&siemens, NULL, &in, &raw), 0);
	json = raw_to_json(&raw);
	assert_non_null(json);
	for (size_t i = 0; i < sizeof canaries / sizeof canaries[0]; i++) {
		assert_absent(&in, sizeof in, canaries[i]);
		assert_absent(json, strlen(json), canaries[i]);
	}
	assert_null(raw_get(&raw, "0010,0010"));
	assert_null(raw_get(&raw, "0010,0020"));
	assert_null(raw_get(&raw, "0010,0030"));
	/* sanity: the struct does hold the header's other text */
	assert_non_null(memmem(&in, sizeof in, "CTFORCE01", 9));
	assert_non_null(strstr(json, "CTFORCE01"));
	free(json);
	raw_release(&raw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_extract__reads_a_siemens_ct_header),
		cmocka_unit_test(test_extract__leaves_absent_fields_empty),
		cmocka_unit_test(test_extract__formats_dates),
		cmocka_unit_test(test_extract__formats_times),
		cmocka_unit_test(test_extract__rejects_dates_and_times_with_extra_digits),
		cmocka_unit_test(test_extract__reads_the_standard_heart_rate),
		cmocka_unit_test(test_extract__takes_a_heart_rate_of_zero_as_absent),
		cmocka_unit_test(test_extract__prefers_scan_options_to_the_standard_heart_rate),
		cmocka_unit_test(test_extract__summarises_per_frame_heart_rates),
		cmocka_unit_test(test_extract__reads_a_shared_heart_rate),
		cmocka_unit_test(test_extract__reads_the_standard_cardiac_attributes),
		cmocka_unit_test(test_extract__reads_an_enhanced_ct_with_shared_groups_only),
		cmocka_unit_test(test_extract__reads_an_enhanced_ct_with_per_frame_groups_only),
		cmocka_unit_test(test_extract__reads_ge_average_heart_rate_as_cs_in_explicit_vr),
		cmocka_unit_test(test_extract__reads_ge_average_heart_rate_from_un_in_explicit_vr),
		cmocka_unit_test(test_extract__reads_ge_average_heart_rate_in_implicit_vr),
		cmocka_unit_test(test_extract__reads_ge_average_heart_rate_from_block_0x11),
		cmocka_unit_test(test_extract__takes_ge_r_peak_delay_as_the_phase),
		cmocka_unit_test(test_extract__reads_ge_cardiac_sequence_as_sq_in_explicit_vr),
		cmocka_unit_test(test_extract__reads_ge_cardiac_sequence_from_un_in_explicit_vr),
		cmocka_unit_test(test_extract__reads_ge_cardiac_sequence_from_un_in_implicit_vr),
		cmocka_unit_test(test_extract__reads_ge_cardiac_sequence_from_block_0x12),
		cmocka_unit_test(test_extract__resolves_the_ge_cardiac_item_creator_in_the_item),
		cmocka_unit_test(test_extract__prefers_ge_cardiac_sequence_to_ge_average_heart_rate),
		cmocka_unit_test(test_extract__reads_canon_mean_rr_as_sh_in_explicit_vr),
		cmocka_unit_test(test_extract__reads_canon_mean_rr_from_un_in_explicit_vr),
		cmocka_unit_test(test_extract__reads_canon_mean_rr_in_implicit_vr),
		cmocka_unit_test(test_extract__reads_canon_mean_rr_from_block_0x12),
		cmocka_unit_test(test_extract__reads_siemens_xa_scan_options_as_lo_in_explicit_vr),
		cmocka_unit_test(test_extract__reads_siemens_xa_scan_options_from_un_in_explicit_vr),
		cmocka_unit_test(test_extract__reads_siemens_xa_scan_options_in_implicit_vr),
		cmocka_unit_test(test_extract__reads_siemens_xa_scan_options_under_any_siemens_creator),
		cmocka_unit_test(test_extract__prefers_scan_options_to_the_siemens_xa_element),
		cmocka_unit_test(test_extract__prefers_scan_options_to_every_other_heart_rate_source),
		cmocka_unit_test(test_extract__takes_the_heart_rate_sources_in_the_documented_order),
		cmocka_unit_test(test_extract__finds_no_heart_rate_in_a_plain_spiral),
		cmocka_unit_test(test_extract__keeps_ge_un_values_verbatim_in_the_raw_json),
		cmocka_unit_test(test_extract__derives_the_same_from_the_json_of_a_ge_un_header),
		cmocka_unit_test(test_extract__needs_the_three_uids),
		cmocka_unit_test(test_extract__keeps_the_instance_identity_out_of_the_material),
		cmocka_unit_test(test_extract__derives_the_same_from_stored_material),
		cmocka_unit_test(test_extract__is_cardiac_by_tokens_heart_rate_or_description),
		cmocka_unit_test(test_extract__is_cardiac_for_the_header_of_a_cardiac_series),
		cmocka_unit_test(test_extract__never_reads_the_patient),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
