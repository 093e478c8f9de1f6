/*
 * test_dcm.c - unit tests of the header side of the DCMTK shim
 * (src/dcm.cc), driven through include/dcm.h only: data sets are built
 * byte by byte (dicom_bytes.h), in both little endian transfer syntaxes,
 * and parsed with dcm_header_parse() or written to a file for
 * dcm_header_load_file().
 * Covers string trimming, multi-valued and binary values, truncated and
 * garbage input, the stop at Pixel Data, and dcm_header_string()'s
 * snprintf-like truncation.
 */
#define _GNU_SOURCE

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dcm.h"
#include "dicom_bytes.h"

#define TS_EXPLICIT "1.2.840.10008.1.2.1"
#define TS_IMPLICIT "1.2.840.10008.1.2"
#define TS_DEFLATED "1.2.840.10008.1.2.1.99"

#define TAG_SOP_CLASS_UID     DCM_TAG(0x0008, 0x0016)
#define TAG_SOP_INSTANCE_UID  DCM_TAG(0x0008, 0x0018)
#define TAG_MODALITY          DCM_TAG(0x0008, 0x0060)
#define TAG_MANUFACTURER      DCM_TAG(0x0008, 0x0070)
#define TAG_SERIES_DESC       DCM_TAG(0x0008, 0x103E)
#define TAG_PATIENT_NAME      DCM_TAG(0x0010, 0x0010)
#define TAG_SCAN_OPTIONS      DCM_TAG(0x0018, 0x0022)
#define TAG_KVP               DCM_TAG(0x0018, 0x0060)
#define TAG_HEART_RATE        DCM_TAG(0x0018, 0x1088)
#define TAG_CTDIVOL           DCM_TAG(0x0018, 0x9345)
#define TAG_SERIES_UID        DCM_TAG(0x0020, 0x000E)
#define TAG_ROWS              DCM_TAG(0x0028, 0x0010)
#define TAG_PIXEL_DATA        DCM_TAG(0x7FE0, 0x0010)

#define SOP_CLASS  "1.2.840.10008.5.1.4.1.1.2"
#define SOP_UID    "1.2.826.0.1.3680043.10.1234.3.1.1"
#define SERIES_UID "1.2.826.0.1.3680043.10.1234.2.1"
#define SCAN_OPTS  "XOP\\DSEQCARD\\TP70PC1000\\OSCRATEAVG061BPM"

/* ---- a small CT header ------------------------------------------------- */

/* The elements of a small CT header, in tag order.  ends (may be NULL)
 * receives the offset where each element ends. */
static void put_ct_header_at(struct bytes *b, size_t *ends)
{
	static const double ctdivol = 18.56;
	size_t i = 0;

#define END() do { if (ends) ends[i++] = b->len; } while (0)
	put_str(b, TAG_SOP_CLASS_UID, "UI", SOP_CLASS);
	END();
	put_str(b, TAG_SOP_INSTANCE_UID, "UI", SOP_UID);
	END();
	put_str(b, TAG_MODALITY, "CS", "CT");
	END();
	put_str(b, TAG_MANUFACTURER, "LO", "SIEMENS");
	END();
	put_str(b, TAG_SERIES_DESC, "LO", "CorCTA  0.6  Bv40");
	END();
	put_str(b, TAG_SCAN_OPTIONS, "CS", SCAN_OPTS);
	END();
	put_str(b, TAG_KVP, "DS", "100");
	END();
	put_fd(b, TAG_CTDIVOL, &ctdivol, 1);
	END();
	put_str(b, TAG_SERIES_UID, "UI", SERIES_UID);
	END();
	put_us(b, TAG_ROWS, 512);
	END();
#undef END
}

static void put_ct_header(struct bytes *b)
{
	put_ct_header_at(b, NULL);
}

/* ---- helpers ---------------------------------------------------------------- */

/* The toolkit's logger writes parse warnings to stderr (only dcm_net_init
 * silences it); hostile input would bury the test report in them. */
static int quiet_fd = -1;

static void quiet(bool on)
{
	if (on) {
		int null = open("/dev/null", O_WRONLY);

		fflush(stderr);
		quiet_fd = dup(2);
		if (null >= 0 && quiet_fd >= 0)
			dup2(null, 2);
		if (null >= 0)
			close(null);
	} else if (quiet_fd >= 0) {
		fflush(stderr);
		dup2(quiet_fd, 2);
		close(quiet_fd);
		quiet_fd = -1;
	}
}

static int parse(const void *buf, size_t len, const char *ts,
                 struct dcm_header **out, bool *truncated, char **errmsg)
{
	int r;

	quiet(true);
	r = dcm_header_parse(buf, len, ts, out, truncated, errmsg);
	quiet(false);
	return r;
}

static int load(const char *path, struct dcm_header **out, char **errmsg)
{
	int r;

	quiet(true);
	r = dcm_header_load_file(path, out, errmsg);
	quiet(false);
	return r;
}

static struct dcm_header *parse_ok(const struct bytes *b, const char *ts,
                                   bool *truncated)
{
	struct dcm_header *h = NULL;
	char *err = NULL;
	int r = parse(b->p, b->len, ts, &h, truncated, &err);

	if (r != 0)
		fail_msg("dcm_header_parse: %d %s", r, err ? err : "");
	assert_null(err);
	assert_non_null(h);
	return h;
}

static void assert_value(const struct dcm_header *h, uint32_t tag,
                         const char *expected)
{
	char buf[512];
	int n = dcm_header_string(h, tag, buf, sizeof buf);

	if (n < 0)
		fail_msg("(%04X,%04X): %d, expected '%s'", (unsigned)(tag >> 16),
		         (unsigned)(tag & 0xffff), n, expected);
	assert_string_equal(buf, expected);
	assert_int_equal(n, strlen(expected));
}

static void assert_ct_header(const struct dcm_header *h)
{
	assert_value(h, TAG_SOP_CLASS_UID, SOP_CLASS);
	assert_value(h, TAG_SOP_INSTANCE_UID, SOP_UID);
	assert_value(h, TAG_MODALITY, "CT");
	assert_value(h, TAG_MANUFACTURER, "SIEMENS");
	assert_value(h, TAG_SCAN_OPTIONS, SCAN_OPTS);
	assert_value(h, TAG_KVP, "100");
	assert_value(h, TAG_SERIES_UID, SERIES_UID);
	assert_value(h, TAG_ROWS, "512");
}

/* The value printed for a number, read back. */
static double value_as_double(const struct dcm_header *h, uint32_t tag)
{
	char buf[128], *end;
	double v;

	assert_true(dcm_header_string(h, tag, buf, sizeof buf) > 0);
	v = strtod(buf, &end);
	assert_true(end != buf);
	assert_int_equal(*end, '\0');
	return v;
}

/* ---- parsing ------------------------------------------------------------- */

static void test_dcm__parses_explicit_vr_little_endian(void **state)
{
	struct bytes b = {0};
	struct dcm_header *h;
	bool truncated = true;

	(void)state;
	put_ct_header(&b);
	h = parse_ok(&b, TS_EXPLICIT, &truncated);
	assert_false(truncated);
	assert_ct_header(h);
	dcm_header_free(h);
	bytes_free(&b);
}

static void test_dcm__parses_implicit_vr_little_endian(void **state)
{
	struct bytes b = {.implicit = true};
	struct dcm_header *h;
	bool truncated = true;

	(void)state;
	put_ct_header(&b);
	h = parse_ok(&b, TS_IMPLICIT, &truncated);
	assert_false(truncated);
	assert_ct_header(h);
	/* the VR comes from the dictionary: FD is still printed as a number */
	assert_true(value_as_double(h, TAG_CTDIVOL) == 18.56);
	dcm_header_free(h);
	bytes_free(&b);
}

/* A compressed syntax the toolkit may not know still has an explicit VR
 * little endian data set (PS3.5 A.4). */
static void test_dcm__parses_an_encapsulated_syntax_as_explicit(void **state)
{
	static const char *const ts[] = {
		"1.2.840.10008.1.2.4.50",     /* JPEG baseline */
		"1.2.840.10008.1.2.4.90",     /* JPEG 2000 lossless */
		"1.2.840.10008.1.2.4.999",    /* not (yet) defined */
		"1.2.840.10008.1.2.5",        /* RLE lossless */
	};
	struct bytes b = {0};

	(void)state;
	put_ct_header(&b);
	for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
		struct dcm_header *h = parse_ok(&b, ts[i], NULL);

		assert_ct_header(h);
		dcm_header_free(h);
	}
	bytes_free(&b);
}

static void test_dcm__rejects_an_unknown_transfer_syntax(void **state)
{
	struct dcm_header *h = (struct dcm_header *)&h;
	struct bytes b = {0};
	char *err = NULL;

	(void)state;
	put_ct_header(&b);
	assert_int_equal(parse(b.p, b.len, "1.2.3.4", &h, NULL, &err),
	                 -EINVAL);
	assert_null(h);
	assert_non_null(err);
	free(err);
	bytes_free(&b);
}

/* The toolkit's DcmXfer also matches names, and its internal big endian
 * implicit has an empty UID: neither is a transfer syntax UID. */
static void test_dcm__rejects_a_transfer_syntax_name_or_an_empty_uid(void **state)
{
	static const char *const bad[] = {"", "Little Endian Implicit",
	                                  "Little Endian Explicit"};
	struct bytes b = {0};

	(void)state;
	put_ct_header(&b);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct dcm_header *h = (struct dcm_header *)&h;
		char *err = NULL;

		assert_int_equal(parse(b.p, b.len, bad[i], &h, NULL, &err), -EINVAL);
		assert_null(h);
		free(err);
	}
	bytes_free(&b);
}

static void test_dcm__trims_trailing_padding(void **state)
{
	struct bytes b = {0};
	struct dcm_header *h;

	(void)state;
	/* odd lengths: the builder pads CS/LO with a space and UI with NUL */
	put_str(&b, TAG_SOP_INSTANCE_UID, "UI", "1.2.3");
	put_str(&b, TAG_MODALITY, "CS", "CTX");
	/* padding spaces beyond the one the encoding needs */
	put_str(&b, TAG_MANUFACTURER, "LO", "SIEMENS   ");
	put_str(&b, TAG_SERIES_DESC, "LO", "Cor  0.6");
	h = parse_ok(&b, TS_EXPLICIT, NULL);
	assert_value(h, TAG_SOP_INSTANCE_UID, "1.2.3");
	assert_value(h, TAG_MODALITY, "CTX");
	assert_value(h, TAG_MANUFACTURER, "SIEMENS");
	/* inner spaces are part of the value */
	assert_value(h, TAG_SERIES_DESC, "Cor  0.6");
	dcm_header_free(h);
	bytes_free(&b);
}

static void test_dcm__joins_values_with_backslash(void **state)
{
	struct bytes b = {0};
	struct dcm_header *h;

	(void)state;
	put_str(&b, TAG_SCAN_OPTIONS, "CS", "HELIX\\TP70PC1000\\OSCRATEAVG061BPM");
	h = parse_ok(&b, TS_EXPLICIT, NULL);
	assert_value(h, TAG_SCAN_OPTIONS, "HELIX\\TP70PC1000\\OSCRATEAVG061BPM");
	dcm_header_free(h);
	bytes_free(&b);
}

static void test_dcm__prints_binary_numbers_in_decimal(void **state)
{
	static const double two[] = {1.5, -2.25};
	static const double one = 18.56;
	struct bytes b = {0};
	struct dcm_header *h;
	char buf[128], *end;

	(void)state;
	put_fd(&b, DCM_TAG(0x0018, 0x9311), two, 2);  /* Spiral Pitch Factor */
	put_fd(&b, TAG_CTDIVOL, &one, 1);
	put_us(&b, TAG_ROWS, 512);
	h = parse_ok(&b, TS_EXPLICIT, NULL);
	assert_value(h, TAG_ROWS, "512");
	assert_true(value_as_double(h, TAG_CTDIVOL) == 18.56);
	assert_true(dcm_header_string(h, DCM_TAG(0x0018, 0x9311), buf, sizeof buf) > 0);
	assert_true(strtod(buf, &end) == 1.5);
	assert_int_equal(*end, '\\');
	assert_true(strtod(end + 1, &end) == -2.25);
	assert_int_equal(*end, '\0');
	dcm_header_free(h);
	bytes_free(&b);
}

static void test_dcm__returns_enoent_for_an_absent_or_empty_element(void **state)
{
	struct bytes b = {0};
	struct dcm_header *h;
	char buf[16];

	(void)state;
	put_str(&b, TAG_SOP_INSTANCE_UID, "UI", SOP_UID);
	put_raw(&b, TAG_MODALITY, "CS", "", 0);          /* empty */
	put_str(&b, TAG_MANUFACTURER, "LO", "  ");       /* only padding */
	h = parse_ok(&b, TS_EXPLICIT, NULL);
	strcpy(buf, "junk");
	assert_int_equal(dcm_header_string(h, TAG_HEART_RATE, buf, sizeof buf), -ENOENT);
	assert_string_equal(buf, "");
	strcpy(buf, "junk");
	assert_int_equal(dcm_header_string(h, TAG_MODALITY, buf, sizeof buf), -ENOENT);
	assert_string_equal(buf, "");
	assert_int_equal(dcm_header_string(h, TAG_MANUFACTURER, buf, sizeof buf), -ENOENT);
	assert_string_equal(buf, "");
	dcm_header_free(h);
	bytes_free(&b);
}

static void test_dcm__reads_only_top_level_elements(void **state)
{
	struct bytes b = {0};
	struct bytes item = {0};
	struct dcm_header *h;
	char buf[64];

	(void)state;
	/* (0008,1115) Referenced Series Sequence, one item holding a Series
	 * Instance UID that is not this object's */
	put_str(&item, TAG_SERIES_UID, "UI", "9.9.9");
	put_str(&b, TAG_SOP_INSTANCE_UID, "UI", SOP_UID);
	put_header(&b, DCM_TAG(0x0008, 0x1115), "SQ", (uint32_t)(item.len + 8));
	put_u16(&b, 0xFFFE);
	put_u16(&b, 0xE000);
	put_u32(&b, (uint32_t)item.len);
	put(&b, item.p, item.len);
	h = parse_ok(&b, TS_EXPLICIT, NULL);
	assert_value(h, TAG_SOP_INSTANCE_UID, SOP_UID);
	assert_int_equal(dcm_header_string(h, TAG_SERIES_UID, buf, sizeof buf), -ENOENT);
	dcm_header_free(h);
	bytes_free(&item);
	bytes_free(&b);
}

/* ---- dcm_header_string's buffer ------------------------------------------ */

static void test_dcm__string_cuts_to_the_buffer_and_returns_the_full_length(void **state)
{
	struct bytes b = {0};
	struct dcm_header *h;
	char buf[8];

	(void)state;
	put_str(&b, TAG_MANUFACTURER, "LO", "SIEMENS Healthineers");
	h = parse_ok(&b, TS_EXPLICIT, NULL);

	memset(buf, 'x', sizeof buf);
	assert_int_equal(dcm_header_string(h, TAG_MANUFACTURER, buf, 4), 20);
	assert_string_equal(buf, "SIE");
	assert_int_equal(buf[4], 'x');             /* nothing past size */

	memset(buf, 'x', sizeof buf);
	assert_int_equal(dcm_header_string(h, TAG_MANUFACTURER, buf, 1), 20);
	assert_int_equal(buf[0], '\0');
	assert_int_equal(buf[1], 'x');

	/* size 0: nothing written, buf may be NULL, the length still given */
	assert_int_equal(dcm_header_string(h, TAG_MANUFACTURER, NULL, 0), 20);

	/* exactly the value and its NUL */
	{
		char fit[21];

		assert_int_equal(dcm_header_string(h, TAG_MANUFACTURER, fit, sizeof fit), 20);
		assert_string_equal(fit, "SIEMENS Healthineers");
	}
	dcm_header_free(h);
	bytes_free(&b);
}

/* ---- hostile and broken input -------------------------------------------- */

static void test_dcm__keeps_the_elements_before_a_cut(void **state)
{
	struct bytes b = {0};
	struct dcm_header *h;
	bool truncated = false;
	char buf[64];
	size_t whole;

	(void)state;
	put_str(&b, TAG_SOP_CLASS_UID, "UI", SOP_CLASS);
	put_str(&b, TAG_SOP_INSTANCE_UID, "UI", SOP_UID);
	put_str(&b, TAG_MODALITY, "CS", "CT");
	whole = b.len;
	put_str(&b, TAG_SCAN_OPTIONS, "CS", SCAN_OPTS);
	/* cut in the middle of the Scan Options value */
	b.len = whole + 8 + 5;
	h = parse_ok(&b, TS_EXPLICIT, &truncated);
	assert_true(truncated);
	assert_value(h, TAG_SOP_CLASS_UID, SOP_CLASS);
	assert_value(h, TAG_SOP_INSTANCE_UID, SOP_UID);
	assert_value(h, TAG_MODALITY, "CT");
	/* the element cut short is not part of what could be parsed: no
	 * partial value (once padded with uninitialised heap bytes) */
	assert_int_equal(dcm_header_string(h, TAG_SCAN_OPTIONS, buf, sizeof buf),
	                 -ENOENT);
	dcm_header_free(h);
	bytes_free(&b);
}

/* The elements of put_ct_header(), with their values as read back. */
static const struct {
	uint32_t tag;
	const char *value;          /* NULL: the number 18.56 */
} ct_elements[] = {
	{TAG_SOP_CLASS_UID, SOP_CLASS},
	{TAG_SOP_INSTANCE_UID, SOP_UID},
	{TAG_MODALITY, "CT"},
	{TAG_MANUFACTURER, "SIEMENS"},
	{TAG_SERIES_DESC, "CorCTA  0.6  Bv40"},
	{TAG_SCAN_OPTIONS, SCAN_OPTS},
	{TAG_KVP, "100"},
	{TAG_CTDIVOL, NULL},
	{TAG_SERIES_UID, SERIES_UID},
	{TAG_ROWS, "512"},
};
#define N_CT_ELEMENTS (sizeof ct_elements / sizeof ct_elements[0])

/* Cuts the header after every byte: each element reads back whole when it
 * lies before the cut, and not at all otherwise; a cut inside an element
 * sets *truncated. */
static void check_every_cut(bool implicit)
{
	struct bytes b = {.implicit = implicit};
	size_t ends[N_CT_ELEMENTS];
	const char *ts = implicit ? TS_IMPLICIT : TS_EXPLICIT;

	put_ct_header_at(&b, ends);
	assert_int_equal(ends[N_CT_ELEMENTS - 1], b.len);
	for (size_t n = 0; n <= b.len; n++) {
		struct dcm_header *h = NULL;
		bool truncated = false, boundary = n == 0;
		char *err = NULL;
		char buf[256];
		int r;

		for (size_t i = 0; i < N_CT_ELEMENTS; i++)
			boundary |= n == ends[i];
		r = parse(b.p, n, ts, &h, &truncated, &err);
		if (r != 0) {
			/* only when not even the first element is there */
			assert_int_equal(r, -EINVAL);
			assert_null(h);
			assert_true(n < ends[0]);
			free(err);
			continue;
		}
		assert_non_null(h);
		assert_null(err);
		assert_int_equal(truncated, !boundary);
		for (size_t i = 0; i < N_CT_ELEMENTS; i++) {
			if (n < ends[i]) {
				assert_int_equal(dcm_header_string(h, ct_elements[i].tag,
				                                   buf, sizeof buf), -ENOENT);
			} else if (ct_elements[i].value) {
				assert_value(h, ct_elements[i].tag, ct_elements[i].value);
			} else {
				assert_true(value_as_double(h, ct_elements[i].tag) == 18.56);
			}
		}
		dcm_header_free(h);
	}
	bytes_free(&b);
}

static void test_dcm__survives_every_cut_of_an_explicit_header(void **state)
{
	(void)state;
	check_every_cut(false);
}

static void test_dcm__survives_every_cut_of_an_implicit_header(void **state)
{
	(void)state;
	check_every_cut(true);
}

static void test_dcm__survives_garbage(void **state)
{
	uint8_t junk[4096];
	uint32_t x = 0x12345678;

	(void)state;
	for (int round = 0; round < 64; round++) {
		for (size_t i = 0; i < sizeof junk; i++) {
			x ^= x << 13;            /* xorshift32: reproducible noise */
			x ^= x >> 17;
			x ^= x << 5;
			junk[i] = (uint8_t)x;
		}
		for (int implicit = 0; implicit <= 1; implicit++) {
			struct dcm_header *h = NULL;
			char *err = NULL;
			char buf[128];
			int r;

			r = parse(junk, sizeof junk,
			                     implicit ? TS_IMPLICIT : TS_EXPLICIT,
			                     &h, NULL, &err);
			if (r == 0) {
				assert_non_null(h);
				assert_int_equal(dcm_header_string(h, TAG_SOP_INSTANCE_UID,
				                                   buf, sizeof buf), -ENOENT);
			} else {
				assert_true(r == -EINVAL || r == -ENOMEM);
				assert_null(h);
			}
			dcm_header_free(h);
			free(err);
		}
	}
}

static void test_dcm__rejects_text_that_is_not_a_data_set(void **state)
{
	static const char text[] = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";
	struct dcm_header *h = NULL;
	char *err = NULL;
	int r;

	(void)state;
	r = parse(text, sizeof text - 1, TS_EXPLICIT, &h, NULL, &err);
	if (r == 0) {
		char buf[64];

		assert_int_equal(dcm_header_string(h, TAG_SOP_INSTANCE_UID, buf,
		                                   sizeof buf), -ENOENT);
		assert_int_equal(dcm_header_string(h, TAG_SERIES_UID, buf,
		                                   sizeof buf), -ENOENT);
	} else {
		assert_int_equal(r, -EINVAL);
		assert_null(h);
		assert_non_null(err);
	}
	dcm_header_free(h);
	free(err);
}

/* An element whose length runs far past the end of the buffer. */
static void test_dcm__survives_a_length_beyond_the_buffer(void **state)
{
	struct bytes b = {0};
	struct dcm_header *h = NULL;
	bool truncated = false;
	char *err = NULL;
	char buf[64];
	int r;

	(void)state;
	put_str(&b, TAG_SOP_INSTANCE_UID, "UI", SOP_UID);
	put_header(&b, DCM_TAG(0x0018, 0x0022), "UT", 0xFFFFFFF0u);
	put(&b, "XOP\\", 4);
	r = parse(b.p, b.len, TS_EXPLICIT, &h, &truncated, &err);
	if (r == 0) {
		assert_value(h, TAG_SOP_INSTANCE_UID, SOP_UID);
		assert_true(truncated);
		assert_int_equal(dcm_header_string(h, TAG_SCAN_OPTIONS, buf,
		                                   sizeof buf), -ENOENT);
	} else {
		assert_true(r == -EINVAL || r == -ENOMEM);
	}
	dcm_header_free(h);
	free(err);
	bytes_free(&b);
}

/* b as a deflated data set (PS3.5 A.5): raw deflate (RFC 1951), one
 * stored block, so no compressor is needed. */
static void deflate_stored(const struct bytes *b, struct bytes *out)
{
	uint8_t head[5] = {0x01, (uint8_t)b->len, (uint8_t)(b->len >> 8),
	                   (uint8_t)~b->len, (uint8_t)(~b->len >> 8)};

	assert_true(b->len <= 0xFFFF);
	put(out, head, sizeof head);
	put(out, b->p, b->len);
}

/* The toolkit installs its inflater itself: one of ours as well made
 * every deflated data set fail ("too many compression filters"). */
static void test_dcm__parses_a_deflated_data_set(void **state)
{
	struct bytes b = {0}, z = {0};
	struct dcm_header *h;
	bool truncated = true;

	(void)state;
	put_ct_header(&b);
	deflate_stored(&b, &z);
	h = parse_ok(&z, TS_DEFLATED, &truncated);
	assert_false(truncated);
	assert_ct_header(h);
	dcm_header_free(h);
	bytes_free(&b);
	bytes_free(&z);
}

/* Inflated bytes have their lengths clamped like any others: a 4 GiB
 * length is cut, not allocated; what comes before it is kept. */
static void test_dcm__clamps_the_lengths_of_a_deflated_data_set(void **state)
{
	struct bytes b = {0}, z = {0};
	struct dcm_header *h;
	bool truncated = false;
	char buf[64];

	(void)state;
	put_str(&b, TAG_SOP_INSTANCE_UID, "UI", SOP_UID);
	put_header(&b, DCM_TAG(0x0018, 0x0022), "UT", 0xFFFFFFF0u);
	put(&b, "XOP\\", 4);
	deflate_stored(&b, &z);
	h = parse_ok(&z, TS_DEFLATED, &truncated);
	assert_value(h, TAG_SOP_INSTANCE_UID, SOP_UID);
	assert_true(truncated);
	assert_int_equal(dcm_header_string(h, TAG_SCAN_OPTIONS, buf, sizeof buf),
	                 -ENOENT);
	dcm_header_free(h);
	bytes_free(&b);
	bytes_free(&z);
}

static void test_dcm__rejects_bytes_that_do_not_inflate(void **state)
{
	static const uint8_t junk[] = {0x07, 0xFF, 0xFF, 0xFF, 0xFF, 0x00};
	struct dcm_header *h = NULL;
	char *err = NULL;

	(void)state;
	assert_int_equal(parse(junk, sizeof junk, TS_DEFLATED, &h, NULL, &err),
	                 -EINVAL);
	assert_null(h);
	assert_non_null(err);
	free(err);
}

static void test_dcm__stops_at_pixel_data(void **state)
{
	struct bytes b = {0};
	struct dcm_header *h;
	bool truncated = true;
	char buf[64];

	(void)state;
	for (int implicit = 0; implicit <= 1; implicit++) {
		b.implicit = implicit;
		put_ct_header(&b);
		/* 2 GiB of pixels announced, 4 bytes of them present */
		put_header(&b, TAG_PIXEL_DATA, "OW", 0x80000000u);
		put(&b, "\1\2\3\4", 4);
		/* and an element after them that must not be read */
		put_str(&b, DCM_TAG(0x7FE1, 0x0010), "LO", "after pixels");
		h = parse_ok(&b, implicit ? TS_IMPLICIT : TS_EXPLICIT, &truncated);
		assert_ct_header(h);
		assert_int_equal(dcm_header_string(h, TAG_PIXEL_DATA, buf, sizeof buf),
		                 -ENOENT);
		assert_int_equal(dcm_header_string(h, DCM_TAG(0x7FE1, 0x0010), buf,
		                                   sizeof buf), -ENOENT);
		dcm_header_free(h);
		bytes_free(&b);
	}
}

static void test_dcm__stops_at_encapsulated_pixel_data(void **state)
{
	struct bytes b = {0};
	struct dcm_header *h;

	(void)state;
	put_ct_header(&b);
	/* undefined length, one empty offset table item, then nothing */
	put_header(&b, TAG_PIXEL_DATA, "OB", 0xFFFFFFFFu);
	put_u16(&b, 0xFFFE);
	put_u16(&b, 0xE000);
	put_u32(&b, 0);
	h = parse_ok(&b, "1.2.840.10008.1.2.4.50", NULL);
	assert_ct_header(h);
	dcm_header_free(h);
	bytes_free(&b);
}

static void test_dcm__converts_latin1_to_utf8(void **state)
{
	struct bytes b = {0};
	struct dcm_header *h;

	(void)state;
	put_str(&b, DCM_TAG(0x0008, 0x0005), "CS", "ISO_IR 100");
	put_str(&b, TAG_MANUFACTURER, "LO", "Herzzentrum M\xfcnchen");
	h = parse_ok(&b, TS_EXPLICIT, NULL);
	assert_value(h, TAG_MANUFACTURER, "Herzzentrum M\xc3\xbcnchen");
	dcm_header_free(h);
	bytes_free(&b);
}

static void test_dcm__leaves_errmsg_alone_on_success(void **state)
{
	struct bytes b = {0};
	struct dcm_header *h = NULL;
	char sentinel[] = "untouched";
	char *err = sentinel;

	(void)state;
	put_ct_header(&b);
	assert_int_equal(parse(b.p, b.len, TS_EXPLICIT, &h, NULL, &err), 0);
	assert_ptr_equal(err, sentinel);
	dcm_header_free(h);
	/* and errmsg may be NULL on failure */
	assert_int_equal(parse(b.p, b.len, "1.2.3.4", &h, NULL, NULL),
	                 -EINVAL);
	bytes_free(&b);
}

static void test_dcm__free_accepts_null(void **state)
{
	(void)state;
	dcm_header_free(NULL);
}

/* ---- files ------------------------------------------------------------------ */

struct tmpfile {
	char path[64];
};

static void tmp_write(struct tmpfile *t, const void *data, size_t n)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	snprintf(t->path, sizeof t->path, "%s/test_dcm.XXXXXX",
	         dir && *dir && strlen(dir) < 40 ? dir : "/tmp");
	fd = mkstemp(t->path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	assert_int_equal(close(fd), 0);
}

/* A Part 10 file: preamble, "DICM", the meta group (always explicit VR
 * little endian, PS3.10 7.1) naming `ts`, then the data set `ds`. */
static void put_part10(struct bytes *f, const char *ts, const struct bytes *ds)
{
	struct bytes meta = {0};
	static const uint8_t version[2] = {0, 1};
	uint8_t preamble[128] = {0};

	put_raw(&meta, DCM_TAG(0x0002, 0x0001), "OB", version, 2);
	put_str(&meta, DCM_TAG(0x0002, 0x0002), "UI", SOP_CLASS);
	put_str(&meta, DCM_TAG(0x0002, 0x0003), "UI", SOP_UID);
	put_str(&meta, DCM_TAG(0x0002, 0x0010), "UI", ts);
	put_str(&meta, DCM_TAG(0x0002, 0x0012), "UI", "1.2.826.0.1.3680043.10.1234.99");
	put(f, preamble, sizeof preamble);
	put(f, "DICM", 4);
	put_header(f, DCM_TAG(0x0002, 0x0000), "UL", 4);
	put_u32(f, (uint32_t)meta.len);
	put(f, meta.p, meta.len);
	put(f, ds->p, ds->len);
	bytes_free(&meta);
}

static void load_and_check(const struct bytes *file)
{
	struct dcm_header *h = NULL;
	struct tmpfile t;
	char *err = NULL;
	int r;

	tmp_write(&t, file->p, file->len);
	r = load(t.path, &h, &err);
	unlink(t.path);
	if (r != 0)
		fail_msg("dcm_header_load_file: %d %s", r, err ? err : "");
	assert_ct_header(h);
	dcm_header_free(h);
}

static void test_dcm__loads_a_part10_file(void **state)
{
	struct bytes ds = {0}, file = {0};

	(void)state;
	put_ct_header(&ds);
	put_part10(&file, TS_EXPLICIT, &ds);
	load_and_check(&file);
	bytes_free(&file);
	bytes_free(&ds);

	/* the data set in implicit VR, the meta group still explicit */
	ds.implicit = true;
	put_ct_header(&ds);
	put_part10(&file, TS_IMPLICIT, &ds);
	load_and_check(&file);
	bytes_free(&file);
	bytes_free(&ds);
}

static void test_dcm__loads_a_part10_file_up_to_its_pixel_data(void **state)
{
	struct bytes ds = {0}, file = {0};

	(void)state;
	put_ct_header(&ds);
	put_header(&ds, TAG_PIXEL_DATA, "OW", 0x80000000u);
	put(&ds, "\1\2\3\4", 4);
	put_part10(&file, TS_EXPLICIT, &ds);
	load_and_check(&file);
	bytes_free(&file);
	bytes_free(&ds);
}

static void test_dcm__loads_a_bare_data_set(void **state)
{
	struct bytes ds = {0};

	(void)state;
	put_ct_header(&ds);
	load_and_check(&ds);
	bytes_free(&ds);
}

static void test_dcm__load_of_a_missing_file_is_enoent(void **state)
{
	struct dcm_header *h = (struct dcm_header *)&h;
	char *err = NULL;

	(void)state;
	assert_int_equal(load("/nonexistent/hraudit/x.dcm", &h, &err),
	                 -ENOENT);
	assert_null(h);
	assert_non_null(err);
	free(err);
}

static void test_dcm__load_of_a_text_file_is_einval(void **state)
{
	static const char text[] = "[server]\nport = 104\naetitle = HRAUDIT\n";
	struct dcm_header *h = NULL;
	struct tmpfile t;
	char *err = NULL;
	int r;

	(void)state;
	tmp_write(&t, text, sizeof text - 1);
	r = load(t.path, &h, &err);
	unlink(t.path);
	if (r == 0) {
		char buf[64];

		/* the toolkit may take anything for a bare data set; then it
		 * must at least not be an object we would record */
		assert_int_equal(dcm_header_string(h, TAG_SOP_INSTANCE_UID, buf,
		                                   sizeof buf), -ENOENT);
	} else {
		assert_int_equal(r, -EINVAL);
		assert_null(h);
		assert_non_null(err);
	}
	dcm_header_free(h);
	free(err);
}

/* The test objects of tests/data, as the integration tests build them. */
static void test_dcm__loads_a_file_made_by_dump2dcm(void **state)
{
	struct dcm_header *h = NULL;
	char dir[64], cmd[512], path[96];
	const char *tmp = getenv("TMPDIR");
	char *err = NULL;
	int r;

	(void)state;
	if (system("command -v dump2dcm >/dev/null 2>&1") != 0 ||
	    access("tests/data/study.dump", R_OK) != 0) {
		print_message("dump2dcm or tests/data missing (run from the "
		              "source tree): skipped\n");
		skip();
	}
	snprintf(dir, sizeof dir, "%s/test_dcm.XXXXXX",
	         tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/a.dcm", dir);
	snprintf(cmd, sizeof cmd,
	         "cat tests/data/study.dump tests/data/series-a.dump > %s/a.dump && "
	         "dump2dcm -q +te %s/a.dump %s", dir, dir, path);
	r = system(cmd);
	if (r != 0)
		fail_msg("'%s' failed: %d", cmd, r);
	r = load(path, &h, &err);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		print_message("cannot remove %s\n", dir);
	if (r != 0)
		fail_msg("dcm_header_load_file: %d %s", r, err ? err : "");
	assert_value(h, TAG_SOP_INSTANCE_UID, "1.2.826.0.1.3680043.10.1234.3.1.1");
	assert_value(h, TAG_SERIES_UID, "1.2.826.0.1.3680043.10.1234.2.1");
	assert_value(h, TAG_MODALITY, "CT");
	assert_value(h, TAG_MANUFACTURER, "SIEMENS");
	assert_value(h, DCM_TAG(0x0008, 0x0050), "0012345678");
	assert_value(h, TAG_SCAN_OPTIONS,
	             "XOP\\DSEQCARD\\0001\\TRGD\\RSER000001\\RIMA000016\\TP70PC1000\\"
	             "OSCRATEMIN060BPM\\OSCRATEMAX062BPM\\OSCRATEAVG061BPM\\"
	             "OSCRATEVAR002BPM\\SYNCUSREDIT_NO\\PITADP_AUTO\\PITADPKIND_MONO\\"
	             "BESTPHASE_OFF\\FRECONTYPE_TIME\\A4TP000076MS00");
	assert_true(value_as_double(h, TAG_CTDIVOL) == 18.56);
	assert_int_equal(dcm_header_string(h, TAG_PIXEL_DATA, NULL, 0), -ENOENT);
	dcm_header_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dcm__parses_explicit_vr_little_endian),
		cmocka_unit_test(test_dcm__parses_implicit_vr_little_endian),
		cmocka_unit_test(test_dcm__parses_an_encapsulated_syntax_as_explicit),
		cmocka_unit_test(test_dcm__rejects_an_unknown_transfer_syntax),
		cmocka_unit_test(test_dcm__rejects_a_transfer_syntax_name_or_an_empty_uid),
		cmocka_unit_test(test_dcm__trims_trailing_padding),
		cmocka_unit_test(test_dcm__joins_values_with_backslash),
		cmocka_unit_test(test_dcm__prints_binary_numbers_in_decimal),
		cmocka_unit_test(test_dcm__returns_enoent_for_an_absent_or_empty_element),
		cmocka_unit_test(test_dcm__reads_only_top_level_elements),
		cmocka_unit_test(test_dcm__string_cuts_to_the_buffer_and_returns_the_full_length),
		cmocka_unit_test(test_dcm__keeps_the_elements_before_a_cut),
		cmocka_unit_test(test_dcm__survives_every_cut_of_an_explicit_header),
		cmocka_unit_test(test_dcm__survives_every_cut_of_an_implicit_header),
		cmocka_unit_test(test_dcm__survives_garbage),
		cmocka_unit_test(test_dcm__rejects_text_that_is_not_a_data_set),
		cmocka_unit_test(test_dcm__survives_a_length_beyond_the_buffer),
		cmocka_unit_test(test_dcm__parses_a_deflated_data_set),
		cmocka_unit_test(test_dcm__clamps_the_lengths_of_a_deflated_data_set),
		cmocka_unit_test(test_dcm__rejects_bytes_that_do_not_inflate),
		cmocka_unit_test(test_dcm__stops_at_pixel_data),
		cmocka_unit_test(test_dcm__stops_at_encapsulated_pixel_data),
		cmocka_unit_test(test_dcm__converts_latin1_to_utf8),
		cmocka_unit_test(test_dcm__leaves_errmsg_alone_on_success),
		cmocka_unit_test(test_dcm__free_accepts_null),
		cmocka_unit_test(test_dcm__loads_a_part10_file),
		cmocka_unit_test(test_dcm__loads_a_part10_file_up_to_its_pixel_data),
		cmocka_unit_test(test_dcm__loads_a_bare_data_set),
		cmocka_unit_test(test_dcm__load_of_a_missing_file_is_enoent),
		cmocka_unit_test(test_dcm__load_of_a_text_file_is_einval),
		cmocka_unit_test(test_dcm__loads_a_file_made_by_dump2dcm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
