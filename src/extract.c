/*
 * extract.c - raw material -> struct instance_info (include/extract.h).
 *
 * Only raw_gather() (raw.c) reads DICOM; everything here works on the
 * gathered text, so the same code serves an arriving object and
 * `hraudit reparse` over years of stored material.  The patient module is
 * never gathered, so it cannot reach the database.
 *
 * Heart rate, in order of preference (the first source that has it wins;
 * hr_source names it):
 *   scan_options      Siemens tokens OSCRATEMIN/MAX/AVG/VAR (0018,0022), or
 *                     the private (0021,xx5C) of XA software
 *   heart_rate        Heart Rate (0018,1088)
 *   cardiac_sync_seq  Enhanced CT: Heart Rate in the Cardiac Synchronization
 *                     Sequence, per-frame values summarised (min, max, mean)
 *   ge_private        GEMS_CT_CARDIAC_001 (0049): HR prior to confirm (avg,
 *                     min, max, std dev); else GEMS_HELIOS_01 (0045,xx31)
 *   canon_private     TOSHIBA_MEC_CT3 (7005,xx03): 60000 / mean R-R (ms)
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

#define SHARED    "5200,9229/"
#define PER_FRAME "5200,9230/*/"
#define SYNC      "0018,9118/"
#define GE_HELIOS "0045,GEMS_HELIOS_01,"
#define GE_CARDIAC "0049,GEMS_CT_CARDIAC_001,01/0049,GEMS_CT_CARDIAC_001,"
#define CANON     "7005,TOSHIBA_MEC_CT3,"

/* ---- reading values --------------------------------------------------------- */

static void get_text(const struct raw *raw, const char *key, char *buf, size_t size)
{
	const char *v = raw_get(raw, key);
	const char *t = v ? raw_text(v) : NULL;

	snprintf(buf, size, "%s", t ? t : "");
}

/* A DS or IS number (extract.h). */
double extract_number(const char *s, size_t n)
{
	char buf[64], *end;
	double v;

	while (n > 0 && *s == ' ')
		s++, n--;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '%'))
		n--;
	if (n == 0 || n >= sizeof buf)
		return NAN;
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	v = strtod(buf, &end);
	if (end == buf || *end || errno || !isfinite(v))
		return NAN;
	return v;
}

/*
 * One value: "VR=text", "VR:hex" or plain text (raw.h).  Binary VRs decode
 * as their type; UN (a private element the sender did not know) as a float
 * when `un_float` and four bytes long, else as text.
 */
static double decode_one(const char *s, size_t n, bool un_float)
{
	unsigned char b[8];
	char tmp[80], vr[3];
	int len;

	if (n >= 3 && isupper((unsigned char)s[0]) && isupper((unsigned char)s[1]) &&
	    s[2] == '=')
		return extract_number(s + 3, n - 3);
	if (n < 3 || !(isupper((unsigned char)s[0]) && isupper((unsigned char)s[1]) &&
	               s[2] == ':'))
		return extract_number(s, n);
	if (n >= sizeof tmp)
		return NAN;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	len = raw_decode_bytes(tmp, b, sizeof b, vr);
	if (len < 0)
		return NAN;
	if (strcmp(vr, "FL") == 0 || (strcmp(vr, "UN") == 0 && un_float)) {
		float f;
		if (len < 4)
			return NAN;
		memcpy(&f, b, 4);
		return isfinite(f) ? f : NAN;
	}
	if (strcmp(vr, "FD") == 0 && len >= 8) {
		double d;
		memcpy(&d, b, 8);
		return isfinite(d) ? d : NAN;
	}
	if (strcmp(vr, "US") == 0 && len >= 2)
		return b[0] | b[1] << 8;
	if (strcmp(vr, "UL") == 0 && len >= 4)
		return (double)((unsigned long)b[0] | (unsigned long)b[1] << 8 |
		                (unsigned long)b[2] << 16 | (unsigned long)b[3] << 24);
	if (strcmp(vr, "UN") == 0 || strcmp(vr, "OB") == 0)
		return extract_number((const char *)b, (size_t)len);
	return NAN;
}

/* Summary of the values of one key ('\'-separated: values or frames). */
struct summary {
	unsigned n;
	double min, max, sum, first;
};

/* Heart rates of 0 (or less) mean "no ECG" and are skipped with positive. */
static struct summary summarise_if(const struct raw *raw, const char *key,
                                   bool un_float, bool positive)
{
	struct summary s = {0, NAN, NAN, 0, NAN};
	const char *v = raw_get(raw, key), *p;

	if (!v)
		return s;
	/* a whole "UN:hex" may hold several floats: no separators in hex */
	if (un_float && strncmp(v, "UN:", 3) == 0) {
		unsigned char b[64];
		int len = raw_decode_bytes(v, b, sizeof b, NULL);

		for (int i = 0; i + 4 <= len; i += 4) {
			float f;
			memcpy(&f, b + i, 4);
			if (!isfinite(f) || (positive && !(f > 0)))
				continue;
			if (s.n++ == 0)
				s.min = s.max = s.first = f;
			s.min = fmin(s.min, f);
			s.max = fmax(s.max, f);
			s.sum += f;
		}
		return s;
	}
	for (p = v;; ) {
		size_t len = strcspn(p, "\\");
		double d = decode_one(p, len, un_float);

		if (!isnan(d) && !(positive && !(d > 0))) {
			if (s.n++ == 0)
				s.min = s.max = s.first = d;
			s.min = fmin(s.min, d);
			s.max = fmax(s.max, d);
			s.sum += d;
		}
		if (!p[len])
			break;
		p += len + 1;
	}
	return s;
}

static struct summary summarise(const struct raw *raw, const char *key, bool un_float)
{
	return summarise_if(raw, key, un_float, false);
}

static double first_num(const struct raw *raw, const char *key)
{
	return summarise(raw, key, false).first;
}

/* First of: key at top level, in the shared groups, mean over frames. */
static double fg_num(const struct raw *raw, const char *top, const char *fg)
{
	char key[96];
	struct summary s;
	double v = top ? first_num(raw, top) : NAN;

	if (!isnan(v))
		return v;
	snprintf(key, sizeof key, SHARED "%s", fg);
	v = first_num(raw, key);
	if (!isnan(v))
		return v;
	snprintf(key, sizeof key, PER_FRAME "%s", fg);
	s = summarise(raw, key, false);
	return s.n ? s.sum / s.n : NAN;
}

static void fg_text(const struct raw *raw, const char *top, const char *fg,
                    char *buf, size_t size)
{
	char key[96];
	const char *v;

	get_text(raw, top, buf, size);
	if (buf[0])
		return;
	snprintf(key, sizeof key, SHARED "%s", fg);
	get_text(raw, key, buf, size);
	if (buf[0])
		return;
	snprintf(key, sizeof key, PER_FRAME "%s", fg);
	v = raw_get(raw, key);
	if (v && (v = raw_text(v)))   /* the first frame's value */
		snprintf(buf, size, "%.*s", (int)strcspn(v, "\\"), v);
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static int two(const char *s)
{
	return (s[0] - '0') * 10 + (s[1] - '0');
}

/* DA -> YYYY-MM-DD (extract.h). */
void extract_format_date(const char *da, char out[11])
{
	char d[9];
	size_t n = 0;

	out[0] = '\0';
	for (const char *p = da; *p; p++) {
		if (*p == '.')
			continue;
		if (n == 8)
			return;        /* extra digits: not a date */
		d[n++] = *p;
	}
	if (n != 8 || !all_digits(d, 8) || two(d + 4) < 1 || two(d + 4) > 12 ||
	    two(d + 6) < 1 || two(d + 6) > 31)
		return;
	snprintf(out, 11, "%.4s-%.2s-%.2s", d, d + 4, d + 6);
}

/* TM "HHMMSS.FFFFFF", "HHMM", "HH" (also "HH:MM:SS") -> "HH:MM:SS"; else "". */
static void format_time(const char *tm, char out[9])
{
	char t[7] = "000000";
	size_t n = 0;

	out[0] = '\0';
	for (const char *p = tm; *p && *p != '.'; p++) {
		if (*p == ':')
			continue;
		if (n == 6)
			return;        /* extra digits: not a time */
		t[n++] = *p;
	}
	/* seconds up to 60: PS3.5 6.2 allows a leap second */
	if (n < 2 || n % 2 || !all_digits(t, 6) || two(t) > 23 || two(t + 2) > 59 ||
	    two(t + 4) > 60)
		return;
	snprintf(out, 9, "%.2s:%.2s:%.2s", t, t + 2, t + 4);
}

/* ---- heart rate ------------------------------------------------------------- */

static void heart_rate(const struct raw *raw, struct instance_info *o,
                       const struct scanopts *so)
{
	struct summary s;

	if (!isnan(so->hr_avg_bpm) || !isnan(so->hr_min_bpm) || !isnan(so->hr_max_bpm)) {
		o->hr_min_bpm = so->hr_min_bpm;
		o->hr_max_bpm = so->hr_max_bpm;
		o->hr_avg_bpm = so->hr_avg_bpm;
		o->hr_var_bpm = so->hr_var_bpm;
		strcpy(o->hr_source, "scan_options");
		return;
	}
	if (summarise_if(raw, "0018,1088", false, true).n > 0) {
		o->hr_avg_bpm = o->heart_rate_bpm;
		strcpy(o->hr_source, "heart_rate");
		return;
	}
	s = summarise_if(raw, PER_FRAME SYNC "0018,1088", false, true);
	if (s.n == 0)
		s = summarise_if(raw, SHARED SYNC "0018,1088", false, true);
	if (s.n > 0) {
		o->hr_min_bpm = s.min;
		o->hr_max_bpm = s.max;
		o->hr_avg_bpm = s.sum / s.n;
		strcpy(o->hr_source, "cardiac_sync_seq");
		return;
	}
	o->hr_avg_bpm = summarise_if(raw, GE_CARDIAC "03", true, true).first;
	if (!isnan(o->hr_avg_bpm)) {
		o->hr_min_bpm = summarise(raw, GE_CARDIAC "04", true).first;
		o->hr_max_bpm = summarise(raw, GE_CARDIAC "05", true).first;
		o->hr_var_bpm = summarise(raw, GE_CARDIAC "06", true).first;
		strcpy(o->hr_source, "ge_private");
		return;
	}
	o->hr_avg_bpm = first_num(raw, GE_HELIOS "31");
	if (!isnan(o->hr_avg_bpm) && o->hr_avg_bpm > 0) {
		strcpy(o->hr_source, "ge_private");
		return;
	}
	o->hr_avg_bpm = NAN;
	{
		double rr = first_num(raw, CANON "03");   /* mean R-R, ms */
		if (!isnan(rr) && rr > 0) {
			o->hr_avg_bpm = round(60000.0 / rr * 10) / 10;
			if (isnan(o->rr_interval_ms))
				o->rr_interval_ms = rr;
			strcpy(o->hr_source, "canon_private");
		}
	}
}

/* ---- derivation ------------------------------------------------------------- */

static void set_nan(struct instance_info *o)
{
	double *nums[] = {
		&o->series_number, &o->patient_weight_kg, &o->kvp, &o->ctdivol_mgy,
		&o->pitch, &o->hr_min_bpm, &o->hr_max_bpm, &o->hr_avg_bpm,
		&o->hr_var_bpm, &o->heart_rate_bpm, &o->phase_percent,
		&o->rr_interval_ms, &o->pulsing_start_percent,
		&o->pulsing_end_percent, &o->rr_low_ms, &o->rr_high_ms,
		&o->intervals_acquired, &o->intervals_rejected,
		&o->trigger_time_ms, &o->single_collimation_mm,
		&o->total_collimation_mm, &o->frames,
	};
	for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
		*nums[i] = NAN;
}

void extract_derive(const struct raw *raw, struct instance_info *o)
{
	char buf[64];
	struct scanopts so;
	const char *scan_options;

	/* keep the identity (not raw material), reset everything else */
	{
		struct instance_info keep = *o;
		memset(o, 0, sizeof *o);
		memcpy(o->sop_instance_uid, keep.sop_instance_uid, sizeof o->sop_instance_uid);
		o->instance_number = keep.instance_number;
		memcpy(o->acquisition_datetime, keep.acquisition_datetime,
		       sizeof o->acquisition_datetime);
	}
	set_nan(o);

	get_text(raw, "0008,0016", o->sop_class_uid, sizeof o->sop_class_uid);
	get_text(raw, "0020,000E", o->series_uid, sizeof o->series_uid);
	get_text(raw, "0020,000D", o->study_uid, sizeof o->study_uid);
	get_text(raw, "0008,0050", o->accession_number, sizeof o->accession_number);
	get_text(raw, "0008,0020", buf, sizeof buf);
	extract_format_date(buf, o->study_date);
	get_text(raw, "0008,0030", buf, sizeof buf);
	format_time(buf, o->study_time);
	get_text(raw, "0008,0060", o->modality, sizeof o->modality);
	get_text(raw, "0008,0070", o->manufacturer, sizeof o->manufacturer);
	get_text(raw, "0008,1090", o->model, sizeof o->model);
	get_text(raw, "0008,1010", o->station_name, sizeof o->station_name);
	get_text(raw, "0008,0080", o->institution, sizeof o->institution);
	get_text(raw, "0008,1030", o->study_description, sizeof o->study_description);
	get_text(raw, "0008,103E", o->series_description, sizeof o->series_description);
	get_text(raw, "0018,1030", o->protocol_name, sizeof o->protocol_name);
	get_text(raw, "0008,3010", o->irradiation_event_uid, sizeof o->irradiation_event_uid);
	o->irradiation_event_uid[strcspn(o->irradiation_event_uid, "\\")] = '\0';

	/* Scan Options: the standard attribute, else Siemens XA's private one */
	scan_options = raw_get(raw, "0018,0022");
	if (!scan_options)
		scan_options = raw_get(raw, "0021,SIEMENS*,5C");
	if (scan_options) {
		/* XA's private element arrives as UN where the sender did not
		 * know it: its bytes are the text */
		int n = raw_decode_bytes(scan_options, (unsigned char *)o->scan_options,
		                         sizeof o->scan_options - 1, NULL);
		o->scan_options[n > 0 ? n : 0] = '\0';
		while (n > 0 && (o->scan_options[n - 1] == ' ' ||
		                 o->scan_options[n - 1] == '\0'))
			o->scan_options[--n] = '\0';
	}

	o->series_number = first_num(raw, "0020,0011");
	o->patient_weight_kg = first_num(raw, "0010,1030");
	o->kvp = first_num(raw, "0018,0060");
	o->frames = first_num(raw, "0028,0008");
	o->ctdivol_mgy = fg_num(raw, "0018,9345", "0018,9321/0018,9345");
	o->pitch = fg_num(raw, "0018,9311", "0018,9308/0018,9311");
	o->single_collimation_mm = fg_num(raw, "0018,9306", "0018,9304/0018,9306");
	o->total_collimation_mm = fg_num(raw, "0018,9307", "0018,9304/0018,9307");
	fg_text(raw, "0018,9302", "0018,9301/0018,9302", o->acquisition_type,
	        sizeof o->acquisition_type);
	fg_text(raw, "0018,9323", "0018,9321/0018,9323", o->exposure_modulation,
	        sizeof o->exposure_modulation);

	/* Heart Rate: the attribute, else the mean over frames, else the
	 * shared group; 0 is what some scanners write for "no ECG". */
	{
		struct summary hr = summarise_if(raw, "0018,1088", false, true);
		if (hr.n == 0)
			hr = summarise_if(raw, PER_FRAME SYNC "0018,1088", false, true);
		if (hr.n == 0)
			hr = summarise_if(raw, SHARED SYNC "0018,1088", false, true);
		o->heart_rate_bpm = hr.n ? (hr.n == 1 ? hr.first : hr.sum / hr.n) : NAN;
	}
	o->rr_low_ms = fg_num(raw, "0018,1081", SYNC "0018,1081");
	o->rr_high_ms = fg_num(raw, "0018,1082", SYNC "0018,1082");
	o->intervals_acquired = fg_num(raw, "0018,1083", SYNC "0018,1083");
	o->intervals_rejected = fg_num(raw, "0018,1084", SYNC "0018,1084");
	o->trigger_time_ms = fg_num(raw, "0018,1060", SYNC "0020,9153");

	scanopts_parse(o->scan_options, &so);
	o->cardiac_tokens = so.cardiac;
	o->sequential = so.sequential || strcmp(o->acquisition_type, "SEQUENCED") == 0;
	o->triggered = so.triggered;
	o->pulsing_start_percent = so.pulsing_start_percent;
	o->pulsing_end_percent = so.pulsing_end_percent;
	o->rr_interval_ms = so.rr_interval_ms;
	if (isnan(o->rr_interval_ms))
		o->rr_interval_ms = fg_num(raw, NULL, SYNC "0020,9251");

	/* Phase: Siemens token, else Nominal Percentage of Cardiac Phase, else
	 * GE's PctRpeakDelay, else Canon's gating phase ("80% "). */
	o->phase_percent = so.phase_percent;
	if (isnan(o->phase_percent))
		o->phase_percent = fg_num(raw, "0020,9241", SYNC "0020,9241");
	if (isnan(o->phase_percent))
		o->phase_percent = first_num(raw, GE_HELIOS "33");
	if (isnan(o->phase_percent))
		o->phase_percent = first_num(raw, CANON "04");

	heart_rate(raw, o, &so);
#ifdef HRAUDIT_TEST_WRONG_PARSER
	/* Only in build/wrong/, for the reparse test: a deliberately wrong
	 * parser writes the database that `hraudit reparse` must correct. */
	if (o->hr_source[0]) {
		double t = o->hr_min_bpm;
		o->hr_min_bpm = o->hr_max_bpm;
		o->hr_max_bpm = t;
		o->hr_var_bpm = NAN;
		o->phase_percent = isnan(o->phase_percent) ? 1 : o->phase_percent + 5;
		strcpy(o->hr_source, "wrong");
	}
#endif
}

int extract_datetime(const char *dt, char out[EXTRACT_DATETIME_MAX])
{
	char d[15] = "00000000000000";
	size_t n = strspn(dt, "0123456789"), frac = 0;

	out[0] = '\0';
	/* to the hour at least, then whole minutes and seconds */
	if (n < 10 || n > 14 || n % 2)
		return -EINVAL;
	memcpy(d, dt, n);
	if (dt[n] == '.') {
		frac = strspn(dt + n + 1, "0123456789");
		if (n != 14 || frac == 0 || frac > 6)
			return -EINVAL;
	}
	if (two(d + 4) < 1 || two(d + 4) > 12 || two(d + 6) < 1 || two(d + 6) > 31 ||
	    two(d + 8) > 23 || two(d + 10) > 59 || two(d + 12) > 60)
		return -EINVAL;
	snprintf(out, EXTRACT_DATETIME_MAX, "%.4s-%.2s-%.2sT%.2s:%.2s:%.2s%s%.*s",
	         d, d + 4, d + 6, d + 8, d + 10, d + 12, frac ? "." : "",
	         (int)frac, frac ? dt + n + 1 : "");
	return 0;
}

/* Acquisition DateTime (0008,002A), else Acquisition Date (0008,0022) and
 * Time (0008,0032) (old "HH:MM:SS" times too), into out, or "". */
static void acquisition_datetime(const struct dcm_header *h,
                                 char out[EXTRACT_DATETIME_MAX])
{
	char dt[80], da[32], tm[40], joined[80];
	size_t n = 0;

	if (dcm_header_string(h, DCM_TAG(0x0008, 0x002A), dt, sizeof dt) > 0 &&
	    extract_datetime(dt, out) == 0)
		return;
	out[0] = '\0';
	if (dcm_header_string(h, DCM_TAG(0x0008, 0x0022), da, sizeof da) <= 0 ||
	    dcm_header_string(h, DCM_TAG(0x0008, 0x0032), tm, sizeof tm) <= 0)
		return;
	for (const char *p = da; *p && n < 8; p++)
		if (*p != '.')
			joined[n++] = *p;
	for (const char *p = tm; *p && n < sizeof joined - 1; p++)
		if (*p != ':')
			joined[n++] = *p;
	joined[n] = '\0';
	extract_datetime(joined, out);
}

int extract_instance(const struct dcm_header *h, struct raw *raw,
                     struct instance_info *out)
{
	char buf[80];
	int r;

	raw_release(raw);
	r = raw_gather(h, raw);
	if (r < 0)
		return r;
	memset(out, 0, sizeof *out);
	if (dcm_header_string(h, DCM_TAG(0x0008, 0x0018), out->sop_instance_uid,
	                      sizeof out->sop_instance_uid) < 0)
		out->sop_instance_uid[0] = '\0';
	out->instance_number = NAN;
	if (dcm_header_string(h, DCM_TAG(0x0020, 0x0013), buf, sizeof buf) > 0)
		out->instance_number = extract_number(buf, strcspn(buf, "\\"));
	acquisition_datetime(h, out->acquisition_datetime);
	extract_derive(raw, out);
	if (!out->sop_instance_uid[0] || !out->series_uid[0] || !out->study_uid[0])
		return -EINVAL;
	return 0;
}

bool extract_is_cardiac(const struct instance_info *in,
                        const struct extract_filter *filter)
{
	if (in->cardiac_tokens || in->hr_source[0] || !isnan(in->heart_rate_bpm) ||
	    strcasestr(in->exposure_modulation, "ECG"))
		return true;
	if (!in->series_description[0] || !filter)
		return false;
	return extract_filter_match(filter, in->series_description);
}

bool extract_filter_match(const struct extract_filter *filter, const char *text)
{
	for (size_t i = 0; i < filter->n; i++)
		if (fnmatch(filter->patterns[i], text, FNM_CASEFOLD) == 0)
			return true;
	return false;
}
