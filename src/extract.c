/*
 * extract.c - one header -> struct instance_info (include/extract.h).
 *
 * Reads only the attributes the audit needs; the patient module is never
 * touched.  Heart rate comes from Siemens Scan Options tokens (scanopts.c)
 * and the standard Heart Rate (0018,1088).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extract.h"
#include "scanopts.h"

/* Attributes read (PS3.6 tags). */
#define TAG_SOP_CLASS_UID        DCM_TAG(0x0008, 0x0016)
#define TAG_SOP_INSTANCE_UID     DCM_TAG(0x0008, 0x0018)
#define TAG_STUDY_DATE           DCM_TAG(0x0008, 0x0020)
#define TAG_STUDY_TIME           DCM_TAG(0x0008, 0x0030)
#define TAG_ACCESSION_NUMBER     DCM_TAG(0x0008, 0x0050)
#define TAG_MODALITY             DCM_TAG(0x0008, 0x0060)
#define TAG_MANUFACTURER         DCM_TAG(0x0008, 0x0070)
#define TAG_INSTITUTION          DCM_TAG(0x0008, 0x0080)
#define TAG_STATION_NAME         DCM_TAG(0x0008, 0x1010)
#define TAG_STUDY_DESCRIPTION    DCM_TAG(0x0008, 0x1030)
#define TAG_SERIES_DESCRIPTION   DCM_TAG(0x0008, 0x103E)
#define TAG_MODEL                DCM_TAG(0x0008, 0x1090)
#define TAG_PATIENT_WEIGHT       DCM_TAG(0x0010, 0x1030)
#define TAG_SCAN_OPTIONS         DCM_TAG(0x0018, 0x0022)
#define TAG_KVP                  DCM_TAG(0x0018, 0x0060)
#define TAG_HEART_RATE           DCM_TAG(0x0018, 0x1088)
#define TAG_PROTOCOL_NAME        DCM_TAG(0x0018, 0x1030)
#define TAG_SPIRAL_PITCH_FACTOR  DCM_TAG(0x0018, 0x9311)
#define TAG_CTDIVOL              DCM_TAG(0x0018, 0x9345)
#define TAG_STUDY_UID            DCM_TAG(0x0020, 0x000D)
#define TAG_SERIES_UID           DCM_TAG(0x0020, 0x000E)
#define TAG_SERIES_NUMBER        DCM_TAG(0x0020, 0x0011)

static void get_text(const struct dcm_header *h, uint32_t tag, char *buf, size_t size)
{
	if (dcm_header_string(h, tag, buf, size) < 0)
		buf[0] = '\0';
}

/* First value of a numeric attribute (DS, IS, FD...); NAN when absent or
 * not a finite number. */
static double get_num(const struct dcm_header *h, uint32_t tag)
{
	char buf[64], *end;
	double v;

	if (dcm_header_string(h, tag, buf, sizeof buf) < 0)
		return NAN;
	buf[strcspn(buf, "\\")] = '\0';
	errno = 0;
	v = strtod(buf, &end);
	while (*end == ' ')
		end++;
	if (end == buf || *end || errno || !isfinite(v))
		return NAN;
	return v;
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* DA "YYYYMMDD" (also the old "YYYY.MM.DD") -> "YYYY-MM-DD"; else "". */
static void format_date(const char *da, char out[11])
{
	char d[9];
	size_t n = 0;

	out[0] = '\0';
	for (const char *p = da; *p && n < sizeof d; p++)
		if (*p != '.')
			d[n++] = *p;
	if (n != 8 || !all_digits(d, 8))
		return;
	snprintf(out, 11, "%.4s-%.2s-%.2s", d, d + 4, d + 6);
}

/* TM "HHMMSS.FFFFFF", "HHMM", "HH" (also "HH:MM:SS") -> "HH:MM:SS"; else "". */
static void format_time(const char *tm, char out[9])
{
	char t[7] = "000000";
	size_t n = 0;

	out[0] = '\0';
	for (const char *p = tm; *p && *p != '.' && n < 6; p++) {
		if (*p == ':')
			continue;
		t[n++] = *p;
	}
	if (n < 2 || n % 2 || !all_digits(t, 6))
		return;
	snprintf(out, 9, "%.2s:%.2s:%.2s", t, t + 2, t + 4);
}

int extract_instance(const struct dcm_header *h, struct instance_info *out)
{
	char buf[64];
	struct scanopts so;

	memset(out, 0, sizeof *out);
	get_text(h, TAG_SOP_INSTANCE_UID, out->sop_instance_uid, sizeof out->sop_instance_uid);
	get_text(h, TAG_SOP_CLASS_UID, out->sop_class_uid, sizeof out->sop_class_uid);
	get_text(h, TAG_SERIES_UID, out->series_uid, sizeof out->series_uid);
	get_text(h, TAG_STUDY_UID, out->study_uid, sizeof out->study_uid);
	get_text(h, TAG_ACCESSION_NUMBER, out->accession_number, sizeof out->accession_number);
	get_text(h, TAG_STUDY_DATE, buf, sizeof buf);
	format_date(buf, out->study_date);
	get_text(h, TAG_STUDY_TIME, buf, sizeof buf);
	format_time(buf, out->study_time);
	get_text(h, TAG_MODALITY, out->modality, sizeof out->modality);
	get_text(h, TAG_MANUFACTURER, out->manufacturer, sizeof out->manufacturer);
	get_text(h, TAG_MODEL, out->model, sizeof out->model);
	get_text(h, TAG_STATION_NAME, out->station_name, sizeof out->station_name);
	get_text(h, TAG_INSTITUTION, out->institution, sizeof out->institution);
	get_text(h, TAG_STUDY_DESCRIPTION, out->study_description, sizeof out->study_description);
	get_text(h, TAG_SERIES_DESCRIPTION, out->series_description, sizeof out->series_description);
	get_text(h, TAG_PROTOCOL_NAME, out->protocol_name, sizeof out->protocol_name);
	get_text(h, TAG_SCAN_OPTIONS, out->scan_options, sizeof out->scan_options);
	out->series_number = get_num(h, TAG_SERIES_NUMBER);
	out->patient_weight_kg = get_num(h, TAG_PATIENT_WEIGHT);
	out->kvp = get_num(h, TAG_KVP);
	out->ctdivol_mgy = get_num(h, TAG_CTDIVOL);
	out->pitch = get_num(h, TAG_SPIRAL_PITCH_FACTOR);
	out->heart_rate_bpm = get_num(h, TAG_HEART_RATE);
	/* Heart Rate 0 is what some scanners write for "no ECG". */
	if (out->heart_rate_bpm <= 0)
		out->heart_rate_bpm = NAN;

	scanopts_parse(out->scan_options, &so);
	out->hr_min_bpm = so.hr_min_bpm;
	out->hr_max_bpm = so.hr_max_bpm;
	out->hr_avg_bpm = so.hr_avg_bpm;
	out->hr_var_bpm = so.hr_var_bpm;
	out->phase_percent = so.phase_percent;
	out->rr_interval_ms = so.rr_interval_ms;
	out->pulsing_start_percent = so.pulsing_start_percent;
	out->pulsing_end_percent = so.pulsing_end_percent;
	out->cardiac_tokens = so.cardiac;

	if (!out->sop_instance_uid[0] || !out->series_uid[0] || !out->study_uid[0])
		return -EINVAL;
	return 0;
}

bool extract_is_cardiac(const struct instance_info *in,
                        const struct extract_filter *filter)
{
	if (in->cardiac_tokens || !isnan(in->heart_rate_bpm) ||
	    !isnan(in->hr_avg_bpm) || !isnan(in->hr_min_bpm) ||
	    !isnan(in->hr_max_bpm))
		return true;
	if (!in->series_description[0] || !filter)
		return false;
	for (size_t i = 0; i < filter->n; i++)
		if (fnmatch(filter->patterns[i], in->series_description, FNM_CASEFOLD) == 0)
			return true;
	return false;
}
