/*
 * audit.h - the arithmetic of the audit reports (hraudit summary, weekday,
 * histogram): mean and median with missing values, weekday names, heart-rate
 * bins, and the strict date syntax of --from/--to.
 *
 * Pure C, no I/O, no allocation: the CLI (src/cmd_audit.c) fetches exams
 * with store_query() and aggregates them with these.  A missing value is NAN
 * throughout, as in struct instance_info.
 */
#ifndef HRAUDIT_AUDIT_H
#define HRAUDIT_AUDIT_H

#include <stdbool.h>
#include <stddef.h>

#define AUDIT_BIN_MAX_BPM 100   /* widest histogram bin accepted */

/* Mean of the values of v[0..n) that are not NAN; NAN when there are none
 * (n == 0, or all NAN).  Infinities count like any other value. */
double audit_mean(const double *v, size_t n);

/*
 * Median of the values of v[0..n) that are not NAN: the middle one of an
 * odd count, the mean of the two middle ones of an even count; NAN when
 * there are none.  Sorts v in place, NANs last (the caller's array is
 * scratch space).
 */
double audit_median(double *v, size_t n);

/* How many values of v[0..n) are not NAN. */
size_t audit_count_known(const double *v, size_t n);

/* x rounded to one decimal, halves away from zero (60.25 -> 60.3,
 * -2.25 -> -2.3), as SQLite's round(x, 1) and spreadsheets give it, where
 * printf("%.1f") alone would print 60.2.  NAN and infinities unchanged. */
double audit_round1(double x);

/* "Sunday" for 0 up to "Saturday" for 6 (SQLite strftime('%w') and the
 * exam view's weekday column); NULL for any other number. */
const char *audit_weekday_name(int weekday);

/*
 * The histogram bin of a heart rate: bins are width_bpm wide and start at
 * multiples of it, [k * width, (k + 1) * width), so with width 5 the rates
 * 55 and 59.9 fall in the bin from 55 and 60 in the next one.  Stores the
 * bin's lower edge, bpm, in *from_bpm.  Returns 0, or -EDOM when hr_bpm is
 * NAN or infinite or |hr_bpm| >= 1e9, -EINVAL when width_bpm is not within
 * 1..AUDIT_BIN_MAX_BPM (*from_bpm is then unchanged).
 */
int audit_bin(double hr_bpm, int width_bpm, long *from_bpm);

/*
 * The label of the bin starting at from_bpm: "55-59" for [55, 60) with
 * width 5, the upper number being the last whole bpm in the bin (so "55-55"
 * for width 1).  Writes at most size bytes, NUL included.  Returns the
 * length of the label, or -EINVAL when width_bpm is out of range or the
 * label does not fit (buf then holds "").
 */
int audit_bin_label(char *buf, size_t size, long from_bpm, int width_bpm);

/* True when s is a calendar date written exactly as YYYY-MM-DD (year 0001
 * to 9999, month 01 to 12, a day that month has, leap years counted), with
 * nothing before or after: the form of series.study_date. */
bool audit_date_valid(const char *s);

#endif
