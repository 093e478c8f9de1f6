/*
 * extract.h - from one object's header to the facts it gives about its series.
 *
 * Data flow: dcm (header) -> extract (this) -> store (SQLite row).
 * The network path (server.c) and the file import use the same call, so the
 * database never depends on how an object arrived.  Patient name, ID and
 * birth date are never read here, so they cannot reach the database.
 */
#ifndef HRAUDIT_EXTRACT_H
#define HRAUDIT_EXTRACT_H

#include <stdbool.h>
#include <stddef.h>

#include "dcm.h"
#include "raw.h"

#define EXTRACT_UID_MAX 65      /* UI: 64 characters + NUL                   */
#define EXTRACT_TEXT_MAX 257    /* LO/SH/CS values; UTF-8 may need more bytes */
#define EXTRACT_DATETIME_MAX 27 /* "YYYY-MM-DDTHH:MM:SS.ffffff" + NUL         */

/* Everything one instance tells about its series.  Numbers are NAN when
 * absent; strings are "" when absent. */
struct instance_info {
	char sop_instance_uid[EXTRACT_UID_MAX];
	char sop_class_uid[EXTRACT_UID_MAX];
	double instance_number;              /* (0020,0013)                     */
	/* (0008,002A), else (0008,0022) with (0008,0032), as extract_datetime
	 * writes it, or "".  Per instance, like the two above: not raw
	 * material, and left as it was by extract_derive. */
	char acquisition_datetime[EXTRACT_DATETIME_MAX];
	char series_uid[EXTRACT_UID_MAX];
	char study_uid[EXTRACT_UID_MAX];
	char accession_number[EXTRACT_TEXT_MAX];
	char study_date[11];                 /* YYYY-MM-DD                     */
	char study_time[9];                  /* HH:MM:SS                       */
	char modality[EXTRACT_TEXT_MAX];
	char manufacturer[EXTRACT_TEXT_MAX];
	char model[EXTRACT_TEXT_MAX];
	char station_name[EXTRACT_TEXT_MAX];
	char institution[EXTRACT_TEXT_MAX];
	char study_description[EXTRACT_TEXT_MAX];
	char series_description[EXTRACT_TEXT_MAX];
	char protocol_name[EXTRACT_TEXT_MAX];
	char scan_options[4096];             /* (0018,0022) verbatim            */
	double series_number;
	double patient_weight_kg;
	double kvp;
	double ctdivol_mgy;                  /* (0018,9345)                     */
	double pitch;                        /* (0018,9311)                     */
	double hr_min_bpm, hr_max_bpm, hr_avg_bpm, hr_var_bpm; /* Scan Options  */
	double heart_rate_bpm;               /* (0018,1088)                     */
	double phase_percent;
	double rr_interval_ms;
	double pulsing_start_percent;
	double pulsing_end_percent;
	bool cardiac_tokens;                 /* Scan Options name a cardiac mode */

	/* Where hr_min/max/avg/var came from: "scan_options", "heart_rate",
	 * "cardiac_sync_seq", "ge_private", "canon_private", or "" */
	char hr_source[24];
	double rr_low_ms, rr_high_ms;        /* (0018,1081), (0018,1082)         */
	double intervals_acquired;           /* (0018,1083)                      */
	double intervals_rejected;           /* (0018,1084)                      */
	double trigger_time_ms;              /* (0018,1060) or (0020,9153)       */
	double single_collimation_mm;        /* (0018,9306)                      */
	double total_collimation_mm;         /* (0018,9307)                      */
	double frames;                       /* (0028,0008) Number of Frames     */
	char acquisition_type[EXTRACT_TEXT_MAX];    /* (0018,9302): SPIRAL, ...  */
	char irradiation_event_uid[EXTRACT_UID_MAX]; /* (0008,3010), first value */
	char exposure_modulation[EXTRACT_TEXT_MAX]; /* (0018,9323): e.g. ECG     */
	bool sequential;                     /* DSEQCARD, or SEQUENCED           */
	bool triggered;                      /* TRGD: prospective ECG trigger   */

	/* Scan type (classify.h): a code, or "" when it cannot be told, and the
	 * rule that decided. */
	char scan_type[24];
	char scan_type_source[96];
};

/* Patterns that make a series cardiac by its description (fnmatch(3) globs,
 * matched case-insensitively against Series Description). */
struct extract_filter {
	char **patterns;
	size_t n;
};

/*
 * Derives every field from raw material (raw.h): a header just gathered,
 * or a series' stored material for `hraudit reparse`.  Never fails: what
 * the material lacks stays NAN or "".  The instance's own identity (SOP
 * Instance UID, Instance Number) is not part of raw material and is left
 * as it was.
 */
void extract_derive(const struct raw *raw, struct instance_info *out);

/*
 * Gathers the raw material of a header into `raw` (emptied first) and
 * derives `out` from it, with the instance's identity.  Returns 0, -EINVAL
 * when the object lacks the UIDs that identify it (SOP instance, series,
 * study), -ENOMEM.
 */
int extract_instance(const struct dcm_header *h, struct raw *raw,
                     struct instance_info *out);

/*
 * True when the instance belongs to a cardiac series: a heart-rate field,
 * a cardiac Scan Options token, or a description matching the filter.
 */
bool extract_is_cardiac(const struct instance_info *info,
                        const struct extract_filter *filter);

/*
 * A DICOM DT ("YYYYMMDDHHMMSS.FFFFFF&ZZXX", at least to the hour) as
 * "YYYY-MM-DDTHH:MM:SS[.FFFFFF]" in out: missing minutes and seconds are 0,
 * the UTC offset is dropped (times stay the scanner's), so SQLite's
 * julianday() reads it.  Returns 0, or -EINVAL (out is then "").
 */
int extract_datetime(const char *dt, char out[EXTRACT_DATETIME_MAX]);

/* True when text matches one of the filter's globs (fnmatch(3),
 * case-insensitive); false for an empty filter.  `hraudit retrieve`
 * matches its query results with it. */
bool extract_filter_match(const struct extract_filter *filter, const char *text);

/*
 * Parses a decimal number filling the whole of s[0..n) (spaces around are
 * allowed, as in DS and IS, and a trailing '%'); NAN otherwise, and for
 * infinities.  Also used for the DS values of SR content (rdsr.c).
 */
double extract_number(const char *s, size_t n);

/* DA "YYYYMMDD" (also the old "YYYY.MM.DD") -> "YYYY-MM-DD"; else "". */
void extract_format_date(const char *da, char out[11]);

#endif
