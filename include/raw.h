/*
 * raw.h - the raw material of the extraction: every header element it
 * reads, verbatim, as (key, value) text pairs.
 *
 * Data flow:  dcm header --raw_gather()--> struct raw --extract_instance()-->
 * struct instance_info.  The store keeps each series' raw material as JSON
 * (raw_to_json) in table series_raw, so `hraudit reparse` re-derives every
 * derived column from the database alone: only raw_gather() touches DICOM.
 *
 * Keys name where a value was read (all hexadecimal upper case):
 *   "0018,0022"                         top-level element
 *   "5200,9229/0018,9118/0018,1088"     first item of each sequence on the path
 *   "5200,9230/ * /0018,9118/0018,1088"  (without the spaces) every
 *                                       per-frame item: values joined by '\'
 *   "0045,GEMS_HELIOS_01,31"            private: group, creator, element byte
 *   "0049,GEMS_CT_CARDIAC_001,01/0049,GEMS_CT_CARDIAC_001,03"
 * Values carry their VR, so nothing is decoded before storage and text can
 * never be mistaken for bytes:
 *   "CS=XOP\DSEQCARD"                  a string VR: "VR=" and the text
 *   "FL:0000A042"                       binary VRs and UN: "VR:" and the
 *                                       little-endian bytes in hexadecimal
 * The values of every per-frame item are joined by '\', each with its VR.
 */
#ifndef HRAUDIT_RAW_H
#define HRAUDIT_RAW_H

#include <stddef.h>

#include "dcm.h"

struct raw_pair {
	char *key;
	char *value;
};

struct raw {
	struct raw_pair *pairs;   /* in the order gathered; keys unique */
	size_t n, cap;
};

#define RAW_INIT {NULL, 0, 0}

/* Adds (or replaces) a pair; copies both strings.  Returns 0 or -ENOMEM. */
int raw_set(struct raw *r, const char *key, const char *value);

/* The value stored under key, or NULL. */
const char *raw_get(const struct raw *r, const char *key);

/* Empties r and frees its memory; r can be reused.  Accepts NULL. */
void raw_release(struct raw *r);

/*
 * Reads every element the extraction uses from the header into r (which
 * should be empty).  Returns 0 or -ENOMEM.
 */
int raw_gather(const struct dcm_header *h, struct raw *r);

/*
 * JSON object of the pairs, keys sorted, so that equal material gives equal
 * text.  Returns a malloc'd string, or NULL when out of memory.
 */
char *raw_to_json(const struct raw *r);

/*
 * The text of a value written "VR=text"; a value without a VR prefix (made
 * by hand) is its own text.  NULL for a binary "VR:hex" value.
 */
const char *raw_text(const char *value);

/*
 * Decodes a value: "VR:hex" into its bytes, "VR=text" (or plain) into the
 * bytes of the text.  Copies at most size bytes; returns the number copied,
 * or -EINVAL for bad hexadecimal.  vr (may be NULL) gets the VR or "".
 */
int raw_decode_bytes(const char *value, unsigned char *buf, size_t size,
                     char vr[3]);

#endif
