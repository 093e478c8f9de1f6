/*
 * test_extract.c - unit tests of the extraction (src/extract.c, through
 * raw.c): from a DICOM header, built byte by byte here and parsed by the
 * shim (include/dcm.h), to struct instance_info.  Covers a Siemens CT
 * header, dates and times, the heart-rate sources, missing identifiers,
 * the cardiac decision, and that the patient's name, ID and birth date
 * reach neither the struct nor the raw material.
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

#define TS_EXPLICIT "1.2.840.10008.1.2.1"

#define SOP_CLASS  "1.2.840.10008.5.1.4.1.1.2"
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

/* ---- a byte-buffer builder for explicit VR little endian data sets ------ */

struct bytes {
	uint8_t *p;
	size_t len, cap;
};

static void put(struct bytes *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->len + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		assert_non_null(b->p);
		b->cap = cap;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void put_u16(struct bytes *b, uint16_t v)
{
	uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

	put(b, x, 2);
}

static void put_u32(struct bytes *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
	                (uint8_t)(v >> 24)};

	put(b, x, 4);
}

/* Element header, explicit VR (PS3.5 7.1.2): 4-byte length for these. */
static void put_header(struct bytes *b, uint16_t g, uint16_t e, const char *vr,
                       uint32_t length)
{
	static const char *const long_vrs[] = {"OB", "OD", "OF", "OL", "OV", "OW",
	                                       "SQ", "SV", "UC", "UN", "UR", "UT",
	                                       "UV"};
	bool is_long = false;

	for (size_t i = 0; i < sizeof long_vrs / sizeof long_vrs[0]; i++)
		is_long |= memcmp(vr, long_vrs[i], 2) == 0;
	put_u16(b, g);
	put_u16(b, e);
	put(b, vr, 2);
	if (is_long) {
		put_u16(b, 0);
		put_u32(b, length);
	} else {
		put_u16(b, (uint16_t)length);
	}
}

/* A text element, padded to even length: NUL for UI, space otherwise. */
static void put_str(struct bytes *b, uint16_t g, uint16_t e, const char *vr,
                    const char *s)
{
	size_t n = strlen(s);

	put_header(b, g, e, vr, (uint32_t)(n + (n & 1)));
	put(b, s, n);
	if (n & 1)
		put(b, memcmp(vr, "UI", 2) == 0 ? "\0" : " ", 1);
}

static void put_fd(struct bytes *b, uint16_t g, uint16_t e, double v)
{
	uint64_t u;

	memcpy(&u, &v, 8);
	put_header(b, g, e, "FD", 8);
	put_u32(b, (uint32_t)u);
	put_u32(b, (uint32_t)(u >> 32));
}

/* A sequence of explicit-length items, each the bytes of one data set. */
static void put_sq(struct bytes *b, uint16_t g, uint16_t e,
                   const struct bytes *items, size_t n)
{
	uint32_t len = 0;

	for (size_t i = 0; i < n; i++)
		len += 8 + (uint32_t)items[i].len;
	put_header(b, g, e, "SQ", len);
	for (size_t i = 0; i < n; i++) {
		put_u16(b, 0xFFFE);
		put_u16(b, 0xE000);
		put_u32(b, (uint32_t)items[i].len);
		put(b, items[i].p, items[i].len);
	}
}

static void bytes_free(struct bytes *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* ---- headers ------------------------------------------------------------ */

/* What differs between the test headers; NULL leaves an element out. */
struct ct {
	const char *sop_uid, *study_uid, *series_uid;
	const char *date, *time;
	const char *description;
	const char *scan_options;
	const char *heart_rate;
	const char *instance_number;
	bool patient;                  /* the patient module, with canaries */
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
 * order after (0020,0013)) if given. */
static void put_ct(struct bytes *b, const struct ct *c, const struct bytes *extra)
{
	put_str(b, 0x0008, 0x0016, "UI", SOP_CLASS);
	if (c->sop_uid)
		put_str(b, 0x0008, 0x0018, "UI", c->sop_uid);
	if (c->date)
		put_str(b, 0x0008, 0x0020, "DA", c->date);
	if (c->time)
		put_str(b, 0x0008, 0x0030, "TM", c->time);
	put_str(b, 0x0008, 0x0050, "SH", "0012345678");
	put_str(b, 0x0008, 0x0060, "CS", "CT");
	put_str(b, 0x0008, 0x0070, "LO", "SIEMENS");
	put_str(b, 0x0008, 0x0080, "LO", "Fictional Heart Centre");
	put_str(b, 0x0008, 0x1010, "SH", "CTFORCE01");
	put_str(b, 0x0008, 0x1030, "LO", "Cardiac^CorCTA");
	if (c->description)
		put_str(b, 0x0008, 0x103E, "LO", c->description);
	put_str(b, 0x0008, 0x1090, "LO", "SOMATOM Force");
	if (c->patient) {
		put_str(b, 0x0010, 0x0010, "PN", PATIENT_NAME);
		put_str(b, 0x0010, 0x0020, "LO", PATIENT_ID);
		put_str(b, 0x0010, 0x0030, "DA", BIRTH_DATE);
	}
	put_str(b, 0x0010, 0x1030, "DS", "72.5");
	if (c->scan_options)
		put_str(b, 0x0018, 0x0022, "CS", c->scan_options);
	put_str(b, 0x0018, 0x0060, "DS", "100 ");
	if (c->heart_rate)
		put_str(b, 0x0018, 0x1088, "IS", c->heart_rate);
	put_str(b, 0x0018, 0x1030, "LO", "CorCTA_Seq \"Adult\"");
	put_fd(b, 0x0018, 0x9345, 18.56);
	if (c->study_uid)
		put_str(b, 0x0020, 0x000D, "UI", c->study_uid);
	if (c->series_uid)
		put_str(b, 0x0020, 0x000E, "UI", c->series_uid);
	put_str(b, 0x0020, 0x0011, "IS", "4");
	if (c->instance_number)
		put_str(b, 0x0020, 0x0013, "IS", c->instance_number);
	if (extra)
		put(b, extra->p, extra->len);
}

/* The toolkit logs parse warnings to stderr; keep the report readable. */
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
	r = dcm_header_parse(b->p, b->len, TS_EXPLICIT, &h, NULL, &err);
	if (saved >= 0) {
		dup2(saved, 2);
		close(saved);
	}
	if (r != 0)
		fail_msg("dcm_header_parse: %d %s", r, err ? err : "");
	return h;
}

/* Extracts instance_info from the header described by c (+ extra). */
static int extract(const struct ct *c, const struct bytes *extra,
                   struct instance_info *out, struct raw *raw)
{
	struct bytes b = {0};
	struct dcm_header *h;
	int r;

	put_ct(&b, c, extra);
	h = parse(&b);
	r = extract_instance(h, raw, out);
	dcm_header_free(h);
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
 * Synchronization Sequence (0018,9118): a functional group item. */
static void put_sync_group(struct bytes *group, const char *hr)
{
	struct bytes sync = {0};

	put_str(&sync, 0x0018, 0x1088, "IS", hr);
	put_sq(group, 0x0018, 0x9118, &sync, 1);
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
	put_sq(&extra, 0x5200, 0x9230, frames, 3);
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
	put_sq(&extra, 0x5200, 0x9229, &shared, 1);
	assert_int_equal(extract_ok(&c, &extra, &in), 0);
	assert_num(in.heart_rate_bpm, 66);
	assert_num(in.hr_avg_bpm, 66);
	assert_string_equal(in.hr_source, "cardiac_sync_seq");
	bytes_free(&shared);
	bytes_free(&extra);
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
		cmocka_unit_test(test_extract__needs_the_three_uids),
		cmocka_unit_test(test_extract__keeps_the_instance_identity_out_of_the_material),
		cmocka_unit_test(test_extract__derives_the_same_from_stored_material),
		cmocka_unit_test(test_extract__is_cardiac_by_tokens_heart_rate_or_description),
		cmocka_unit_test(test_extract__is_cardiac_for_the_header_of_a_cardiac_series),
		cmocka_unit_test(test_extract__never_reads_the_patient),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
