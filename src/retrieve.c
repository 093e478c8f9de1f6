/*
 * retrieve.c - the plan of `hraudit retrieve` (include/retrieve.h): pure
 * functions, unit-tested in tests/unit/test_retrieve.c.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "retrieve.h"

bool retrieve_aet_valid(const char *aet)
{
	size_t n = strlen(aet);
	bool blank = true;

	if (n == 0 || n > 16)
		return false;
	for (const char *p = aet; *p; p++) {
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e || *p == '\\')
			return false;
		if (*p != ' ')
			blank = false;
	}
	return !blank;
}

int retrieve_peer_parse(const char *text, struct retrieve_peer *out,
                        const char **why)
{
	const char *at = strrchr(text, '@'), *colon;
	char *end;
	unsigned long port;
	size_t n;

	memset(out, 0, sizeof *out);
	if (!at) {
		*why = "expected AET@HOST:PORT";
		return -EINVAL;
	}
	n = (size_t)(at - text);
	if (n == 0 || n > 16) {
		*why = "the ae title must have 1 to 16 characters";
		return -EINVAL;
	}
	memcpy(out->aet, text, n);
	if (!retrieve_aet_valid(out->aet)) {
		*why = "the ae title has a character not allowed (PS3.5 6.2)";
		return -EINVAL;
	}
	colon = strrchr(at + 1, ':');
	if (!colon) {
		*why = "no port: expected AET@HOST:PORT";
		return -EINVAL;
	}
	n = (size_t)(colon - (at + 1));
	if (n == 0 || n >= sizeof out->host) {
		*why = "no host: expected AET@HOST:PORT";
		return -EINVAL;
	}
	memcpy(out->host, at + 1, n);
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (!isdigit((unsigned char)colon[1]) || *end || errno || port < 1 ||
	    port > 65535) {
		*why = "the port must be a number from 1 to 65535";
		return -EINVAL;
	}
	out->port = (unsigned)port;
	return 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian): H. Hinnant's
 * days_from_civil. */
static long days_from_civil(long y, unsigned m, unsigned d)
{
	long era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long)doe - 719468;
}

static void civil_from_days(long z, long *y, unsigned *m, unsigned *d)
{
	long era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (long)yoe + era * 400 + (*m <= 2);
}

int retrieve_date_parse(const char *text, long *day)
{
	static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	                                 30, 31};
	char digits[9];
	size_t n = strlen(text), j = 0;
	long y;
	unsigned m, d;

	if (n == 10 && text[4] == '-' && text[7] == '-') {
		for (size_t i = 0; i < n; i++)
			if (i != 4 && i != 7)
				digits[j++] = text[i];
	} else if (n == 8) {
		memcpy(digits, text, 8);
		j = 8;
	} else {
		return -EINVAL;
	}
	digits[j] = '\0';
	for (size_t i = 0; i < 8; i++)
		if (!isdigit((unsigned char)digits[i]))
			return -EINVAL;
	y = 0;
	for (size_t i = 0; i < 4; i++)
		y = y * 10 + (digits[i] - '0');
	m = (unsigned)((digits[4] - '0') * 10 + (digits[5] - '0'));
	d = (unsigned)((digits[6] - '0') * 10 + (digits[7] - '0'));
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return -EINVAL;
	if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -EINVAL;
	*day = days_from_civil(y, m, d);
	return 0;
}

void retrieve_date_format(long day, char out[9])
{
	long y;
	unsigned m, d;

	civil_from_days(day, &y, &m, &d);
	/* Dates come from retrieve_date_parse: years 0000-9999. */
	snprintf(out, 9, "%04u%02u%02u", (unsigned)(y < 0 ? 0 : y % 10000),
	         m % 100, d % 100);
}

/* An empty list lets everything through. */
static bool matches(const struct extract_filter *f, const char *text)
{
	return f->n == 0 || extract_filter_match(f, text);
}

/* Whether the multi-valued CS `list` (values split by '\') holds v. */
static bool has_value(const char *list, const char *v)
{
	size_t n = strlen(v);

	for (const char *p = list; p; p = strchr(p, '\\'), p = p ? p + 1 : NULL) {
		while (*p == ' ')
			p++;
		if (strncasecmp(p, v, n) == 0 &&
		    (p[n] == '\0' || p[n] == '\\' || p[n] == ' '))
			return true;
	}
	return false;
}

bool retrieve_study_wanted(const struct retrieve_filter *f,
                           const char *study_description,
                           const char *modalities_in_study)
{
	if (f->modality[0] && modalities_in_study[0] &&
	    !has_value(modalities_in_study, f->modality))
		return false;
	return matches(&f->study_descriptions, study_description);
}

bool retrieve_series_wanted(const struct retrieve_filter *f,
                            const char *modality,
                            const char *series_description, const char *model)
{
	if (f->modality[0] && modality[0] && strcasecmp(modality, f->modality) != 0)
		return false;
	if (!matches(&f->series_descriptions, series_description))
		return false;
	return !model[0] || matches(&f->models, model);
}

bool retrieve_series_may_hold_dose(const char *modality)
{
	return strcasecmp(modality, "SR") == 0;
}

bool retrieve_dose_class(const char *sop_class_uid)
{
	return strcmp(sop_class_uid, "1.2.840.10008.5.1.4.1.1.88.67") == 0 ||
	       strcmp(sop_class_uid, "1.2.840.10008.5.1.4.1.1.88.76") == 0;
}

void retrieve_pick_offer(struct retrieve_pick *p, const char *sop_instance_uid,
                         const char *instance_number, const char *model)
{
	char *end;
	double n = INFINITY;

	if (!sop_instance_uid[0])
		return;
	if (instance_number && instance_number[0]) {
		double v = strtod(instance_number, &end);

		while (*end == ' ')
			end++;
		if (end != instance_number && !*end && isfinite(v))
			n = v;
	}
	if (p->found && (n > p->number ||
	                 (n == p->number &&
	                  strcmp(sop_instance_uid, p->sop_instance_uid) >= 0)))
		return;
	p->found = true;
	p->number = n;
	snprintf(p->sop_instance_uid, sizeof p->sop_instance_uid, "%s",
	         sop_instance_uid);
	snprintf(p->model, sizeof p->model, "%s", model ? model : "");
}
