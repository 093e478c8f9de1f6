/*
 * dicom_bytes.h - a byte builder for DICOM data sets, shared by the unit
 * tests (test_dcm.c, test_extract.c).
 *
 * Tests build their input byte by byte, so that every case states exactly
 * what goes on the wire: explicit or implicit VR little endian (PS3.5 7.1),
 * element lengths that may lie, UN-encoded private elements and sequences.
 * A data set is a `struct bytes`; set .implicit before the first put to get
 * implicit VR.  Elements are written in the order they are put: keep them
 * in ascending tag order, as PS3.5 7.1 requires.
 *
 * Test code only: a failed allocation fails the test (cmocka), so include
 * this after <cmocka.h>.  The functions are static inline, so a test file
 * that uses only some of them gets no unused-function warning.
 */
#ifndef HRAUDIT_TEST_DICOM_BYTES_H
#define HRAUDIT_TEST_DICOM_BYTES_H

#ifndef assert_non_null
#error "include <cmocka.h> before dicom_bytes.h"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct bytes {
	uint8_t *p;
	size_t len, cap;
	bool implicit;        /* implicit VR little endian, else explicit */
};

static inline void put(struct bytes *b, const void *d, size_t n)
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

static inline void put_u16(struct bytes *b, uint16_t v)
{
	uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

	put(b, x, 2);
}

static inline void put_u32(struct bytes *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
	                (uint8_t)(v >> 24)};

	put(b, x, 4);
}

/* VRs with 2 reserved bytes and a 4-byte length in explicit VR (PS3.5 7.1.2). */
static inline bool long_vr(const char *vr)
{
	static const char *const l[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ",
	                                "SV", "UC", "UN", "UR", "UT", "UV"};

	for (size_t i = 0; i < sizeof l / sizeof l[0]; i++)
		if (memcmp(vr, l[i], 2) == 0)
			return true;
	return false;
}

/* Element header with an explicit length (which may lie about the value).
 * In implicit VR the VR is not written: the reader takes it from its
 * dictionary, or UN for a private element it does not know. */
static inline void put_header(struct bytes *b, uint32_t tag, const char *vr,
                              uint32_t length)
{
	put_u16(b, (uint16_t)(tag >> 16));
	put_u16(b, (uint16_t)tag);
	if (b->implicit) {
		put_u32(b, length);
	} else if (long_vr(vr)) {
		put(b, vr, 2);
		put_u16(b, 0);
		put_u32(b, length);
	} else {
		put(b, vr, 2);
		put_u16(b, (uint16_t)length);
	}
}

static inline void put_raw(struct bytes *b, uint32_t tag, const char *vr,
                           const void *value, size_t n)
{
	put_header(b, tag, vr, (uint32_t)n);
	put(b, value, n);
}

/* A text element, padded to even length: NUL for UI, space otherwise.
 * With vr "UN" the text goes as the bytes of an unknown element. */
static inline void put_str(struct bytes *b, uint32_t tag, const char *vr,
                           const char *s)
{
	size_t n = strlen(s);

	put_header(b, tag, vr, (uint32_t)(n + (n & 1)));
	put(b, s, n);
	if (n & 1)
		put(b, memcmp(vr, "UI", 2) == 0 ? "\0" : " ", 1);
}

/* n FD values, little endian. */
static inline void put_fd(struct bytes *b, uint32_t tag, const double *v, size_t n)
{
	put_header(b, tag, "FD", (uint32_t)(8 * n));
	for (size_t i = 0; i < n; i++) {
		uint64_t u;

		memcpy(&u, &v[i], 8);
		put_u32(b, (uint32_t)u);
		put_u32(b, (uint32_t)(u >> 32));
	}
}

/* n FL values, little endian, under `vr` ("FL", or "UN" for the raw bytes
 * of a float element the sender did not know). */
static inline void put_fl_as(struct bytes *b, uint32_t tag, const char *vr,
                             const float *v, size_t n)
{
	put_header(b, tag, vr, (uint32_t)(4 * n));
	for (size_t i = 0; i < n; i++) {
		uint32_t u;

		memcpy(&u, &v[i], 4);
		put_u32(b, u);
	}
}

static inline void put_fl(struct bytes *b, uint32_t tag, const float *v, size_t n)
{
	put_fl_as(b, tag, "FL", v, n);
}

static inline void put_us(struct bytes *b, uint32_t tag, uint16_t v)
{
	put_header(b, tag, "US", 2);
	put_u16(b, v);
}

/*
 * A sequence of defined-length items, each the bytes of one data set,
 * itself of defined length, under `vr`: "SQ", or "UN" for a sequence sent
 * by a node that did not know the element (PS3.5 6.2.2: the items must
 * then be implicit VR little endian whatever the transfer syntax).
 */
static inline void put_items(struct bytes *b, uint32_t tag, const char *vr,
                             const struct bytes *items, size_t n)
{
	uint32_t len = 0;

	for (size_t i = 0; i < n; i++)
		len += 8 + (uint32_t)items[i].len;
	put_header(b, tag, vr, len);
	for (size_t i = 0; i < n; i++) {
		put_u16(b, 0xFFFE);
		put_u16(b, 0xE000);
		put_u32(b, (uint32_t)items[i].len);
		put(b, items[i].p, items[i].len);
	}
}

static inline void put_sq(struct bytes *b, uint32_t tag,
                          const struct bytes *items, size_t n)
{
	put_items(b, tag, "SQ", items, n);
}

/* Frees the buffer; b can be reused, in explicit VR. */
static inline void bytes_free(struct bytes *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

#endif
