/*
 * retrieve.h - the plan of `hraudit retrieve`, without the network: the
 * PACS's address, the days of a date range, which query results are
 * fetched, and which instance stands for its series.
 *
 * The command (src/cmd_retrieve.c) asks the PACS through dcm.h's
 * query/retrieve SCU and records through ingest.h, like every arrival.
 */
#ifndef HRAUDIT_RETRIEVE_H
#define HRAUDIT_RETRIEVE_H

#include <stdbool.h>

#include "extract.h"

/* A DICOM node: AE title, host and port, as "AET@HOST:PORT". */
struct retrieve_peer {
	char aet[17];               /* 1-16 characters, PS3.5 6.2 (AE)        */
	char host[256];
	unsigned port;              /* 1..65535                               */
};

/* Checks an AE title: 1 to 16 characters of the default repertoire, no
 * backslash nor control character, not only spaces (PS3.5 6.2). */
bool retrieve_aet_valid(const char *aet);

/*
 * Parses "AET@HOST:PORT" into *out.  The last '@' ends the AE title and
 * the last ':' starts the port ("[ADDR]:PORT" for IPv6 is not handled).
 * Returns 0, or -EINVAL with *why (static text) saying what is wrong.
 */
int retrieve_peer_parse(const char *text, struct retrieve_peer *out,
                        const char **why);

/*
 * Parses a calendar date, YYYYMMDD (DICOM DA) or YYYY-MM-DD, into *day,
 * days since 1970-01-01 (proleptic Gregorian).  Returns 0, or -EINVAL for
 * anything else, February 30 included.
 */
int retrieve_date_parse(const char *text, long *day);

/* Writes day (as from retrieve_date_parse) as YYYYMMDD. */
void retrieve_date_format(long day, char out[9]);

/*
 * What to fetch.  Each list of globs (fnmatch(3), case-insensitive, as
 * [filter] description) lets everything through when empty; otherwise a
 * value must match one of them.
 */
struct retrieve_filter {
	const char *modality;                   /* e.g. "CT"; "" for any     */
	struct extract_filter study_descriptions;   /* (0008,1030)            */
	struct extract_filter series_descriptions;  /* (0008,103E)            */
	struct extract_filter models;               /* (0008,1090)            */
};

/* A study found by date: wanted when its description matches, and when it
 * holds the modality (if the PACS said which it holds, (0008,0061)). */
bool retrieve_study_wanted(const struct retrieve_filter *f,
                           const char *study_description,
                           const char *modalities_in_study);

/* A series of a wanted study: its modality (when the PACS gave one) is
 * the one asked for, its description matches, and so does its model; a
 * model the PACS did not return cannot be judged and lets it through. */
bool retrieve_series_wanted(const struct retrieve_filter *f,
                            const char *modality,
                            const char *series_description, const char *model);

/*
 * Dose reports (README "Dose from the CT Radiation Dose SR"): a series of
 * Modality SR may hold the study's CT Radiation Dose SR, whatever the
 * modality asked for; its instances of an X-Ray Radiation Dose SR class
 * (1.2.840.10008.5.1.4.1.1.88.67, or the Enhanced one, .88.76; PS3.4
 * B.5) are the reports to fetch.
 */
bool retrieve_series_may_hold_dose(const char *modality);
bool retrieve_dose_class(const char *sop_class_uid);

/* The instance that stands for its series: the lowest Instance Number,
 * as the `series` row's own rule (ties and no number: the lowest UID, as
 * text; numbered instances before unnumbered ones). */
struct retrieve_pick {
	bool found;
	double number;                          /* INFINITY when none         */
	char sop_instance_uid[EXTRACT_UID_MAX];
	char model[EXTRACT_TEXT_MAX];           /* (0008,1090), if returned   */
};

/* Offers one instance of the series to *p (zero it first). */
void retrieve_pick_offer(struct retrieve_pick *p, const char *sop_instance_uid,
                         const char *instance_number, const char *model);

#endif
