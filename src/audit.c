/*
 * audit.c - mean, median, weekday names, heart-rate bins and date syntax
 * for the audit reports (include/audit.h).  Pure: no I/O, no allocation.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "audit.h"

double audit_mean(const double *v, size_t n)
{
	double sum = 0;
	size_t known = 0;

	for (size_t i = 0; i < n; i++) {
		if (isnan(v[i]))
			continue;
		sum += v[i];
		known++;
	}
	return known ? sum / (double)known : NAN;
}

size_t audit_count_known(const double *v, size_t n)
{
	size_t known = 0;

	for (size_t i = 0; i < n; i++)
		if (!isnan(v[i]))
			known++;
	return known;
}

/* Ascending, NAN after every number (qsort needs a total order). */
static int cmp_nan_last(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;

	if (isnan(a) || isnan(b))
		return isnan(a) - isnan(b);
	return (a > b) - (a < b);
}

double audit_median(double *v, size_t n)
{
	size_t known;

	if (n == 0)
		return NAN;
	qsort(v, n, sizeof *v, cmp_nan_last);
	known = audit_count_known(v, n);
	if (known == 0)
		return NAN;
	if (known % 2)
		return v[known / 2];
	return (v[known / 2 - 1] + v[known / 2]) / 2;
}

double audit_round1(double x)
{
	if (!isfinite(x) || fabs(x) >= 1e15)   /* x * 10 must stay exact */
		return x;
	return round(x * 10) / 10;
}

const char *audit_weekday_name(int weekday)
{
	static const char *const names[] = {
		"Sunday", "Monday", "Tuesday", "Wednesday",
		"Thursday", "Friday", "Saturday",
	};

	if (weekday < 0 || weekday > 6)
		return NULL;
	return names[weekday];
}

int audit_bin(double hr_bpm, int width_bpm, long *from_bpm)
{
	if (width_bpm < 1 || width_bpm > AUDIT_BIN_MAX_BPM)
		return -EINVAL;
	/* |hr| < 1e9 keeps the edge within a long on every platform. */
	if (!isfinite(hr_bpm) || fabs(hr_bpm) >= 1e9)
		return -EDOM;
	*from_bpm = (long)floor(hr_bpm / width_bpm) * width_bpm;
	return 0;
}

int audit_bin_label(char *buf, size_t size, long from_bpm, int width_bpm)
{
	int n;

	if (size == 0)
		return -EINVAL;
	buf[0] = '\0';
	if (width_bpm < 1 || width_bpm > AUDIT_BIN_MAX_BPM)
		return -EINVAL;
	n = snprintf(buf, size, "%ld-%ld", from_bpm, from_bpm + width_bpm - 1);
	if (n < 0 || (size_t)n >= size) {
		buf[0] = '\0';
		return -EINVAL;
	}
	return n;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

bool audit_date_valid(const char *s)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, m, d, last;

	if (!s)
		return false;
	for (int i = 0; i < 10; i++) {
		if (i == 4 || i == 7) {
			if (s[i] != '-')
				return false;
		} else if (!is_digit(s[i])) {
			return false;   /* also stops at the NUL of a short string */
		}
	}
	if (s[10] != '\0')
		return false;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1 || m < 1 || m > 12 || d < 1)
		return false;
	last = mdays[m - 1];
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		last = 29;
	return d <= last;
}
