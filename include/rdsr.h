/*
 * rdsr.h - the CT Radiation Dose SR: what the audit needs from it.
 *
 * Scanners and PACS send the study's CT Radiation Dose Structured Report
 * (SOP class 1.2.840.10008.5.1.4.1.1.88.67, PS3.16 TID 10011) with its
 * images.  Its content tree holds, per irradiation event (TID 10013), the
 * acquisition protocol, target region, acquisition type, CTDIvol and DLP,
 * and for the study (TID 10012) the total DLP.  rdsr_parse() reads them
 * from a parsed header (dcm.h's item API) by concept name codes, never by
 * their meanings, so any vendor's wording reads the same.
 *
 * Strings are NUL-terminated and cut to their buffers; a missing string is
 * "", a missing number NAN.  Numbers are in the unit of the member's name:
 * a value sent in another UCUM unit this module knows (Gy, Gy.cm, cm...)
 * is converted, one in a unit it does not know is left NAN.
 */
#ifndef HRAUDIT_RDSR_H
#define HRAUDIT_RDSR_H

#include <stdbool.h>
#include <stddef.h>

#include "dcm.h"

#define RDSR_SOP_CLASS "1.2.840.10008.5.1.4.1.1.88.67"  /* X-Ray Radiation Dose SR */
/* Enhanced X-Ray Radiation Dose SR (PS3.4 B.5): the same TID 10011 tree. */
#define RDSR_SOP_CLASS_ENHANCED "1.2.840.10008.5.1.4.1.1.88.76"
#define RDSR_UID_MAX 65        /* UI: 64 characters + NUL                   */
#define RDSR_TEXT_MAX 128
#define RDSR_CODE_MAX 32       /* a code value (SH, or UC for SCT)          */
#define RDSR_DATETIME_MAX 32   /* DT as sent: YYYYMMDDHHMMSS.FFFFFF&ZZXX    */

/* One CT irradiation event (TID 10013 CT Irradiation Event Data). */
struct rdsr_event {
	char event_uid[RDSR_UID_MAX];             /* (113769, DCM) Irradiation Event UID */
	char protocol[RDSR_TEXT_MAX];             /* (125203, DCM) Acquisition Protocol  */
	char target_region[RDSR_TEXT_MAX];        /* (123014, DCM) Target Region: meaning */
	char target_region_code[RDSR_CODE_MAX];   /* its code value (T-32000, 80891009)   */
	char acquisition_type[RDSR_TEXT_MAX];     /* (113820, DCM) CT Acquisition Type    */
	char acquisition_type_code[RDSR_CODE_MAX];/* its code value (P5-08001, 113804)    */
	char start_datetime[RDSR_DATETIME_MAX];   /* (111526, DCM) DateTime Started, or "" */
	char exposure_modulation[RDSR_TEXT_MAX];  /* (113842, DCM) X-Ray Modulation Type  */
	double ctdivol_mgy;                       /* (113830, DCM) Mean CTDIvol           */
	double dlp_mgycm;                         /* (113838, DCM) DLP                    */
	double pitch;                             /* (113828, DCM) Pitch Factor           */
	double single_collimation_mm;             /* (113826, DCM) Nominal Single Coll.   */
	double total_collimation_mm;              /* (113827, DCM) Nominal Total Coll.    */
	double exposure_time_s;                   /* (113824, DCM) Exposure Time          */
	double scanning_length_mm;                /* (113825, DCM) Scanning Length        */
};

/* One dose report: its identity, the study's accumulated dose, the events. */
struct rdsr_report {
	char sop_instance_uid[RDSR_UID_MAX];      /* (0008,0018)                          */
	char study_uid[RDSR_UID_MAX];             /* (0020,000D)                          */
	char series_uid[RDSR_UID_MAX];            /* (0020,000E) the SR's own series       */
	char accession_number[RDSR_TEXT_MAX];     /* (0008,0050)                          */
	char study_date[11];                      /* YYYY-MM-DD of (0008,0020), or ""     */
	char manufacturer[RDSR_TEXT_MAX];         /* (0008,0070)                          */
	char model[RDSR_TEXT_MAX];                /* (0008,1090)                          */
	char station_name[RDSR_TEXT_MAX];         /* (0008,1010)                          */
	char start_datetime[RDSR_DATETIME_MAX];   /* (113809, DCM) Start of X-Ray Irradiation */
	char end_datetime[RDSR_DATETIME_MAX];     /* (113810, DCM) End of X-Ray Irradiation   */
	double total_dlp_mgycm;                   /* (113813, DCM) CT Dose Length Product Total */
	double total_events;                      /* (113812, DCM) Total Number of Irradiation Events */
	struct rdsr_event *events;                /* malloc'd, in the order of the tree   */
	size_t nevents;
};

/*
 * True when h is a CT Radiation Dose SR: its SOP Class is RDSR_SOP_CLASS
 * (or RDSR_SOP_CLASS_ENHANCED), its root concept is (113701, DCM) X-Ray
 * Radiation Dose Report, and the report is of CT: Procedure Reported
 * (121058, DCM) is Computed Tomography X-Ray (P5-08000, SRT; 77477000,
 * SCT), or a CT container (113811 CT Accumulated Dose Data, 113819 CT
 * Acquisition) is among the root's items.  A projection X-ray dose report
 * (TID 10001, same root concept) is not.  NULL gives false.
 */
bool rdsr_is_ct_dose_report(const struct dcm_header *h);

/*
 * Reads the report of h into *out (overwritten; release it with
 * rdsr_report_release, also after an error).  Elements it does not know
 * are skipped; an event without CTDIvol or DLP is still an event.  An
 * event is any (113819, DCM) container, at any depth; its values are read
 * anywhere below it, the first of a concept winning; content more than 16
 * levels deep is skipped.
 * Returns 0; -EINVAL when h is not a CT dose report or its tree is not one
 * (no root container, no SOP Instance or Study Instance UID), with a
 * message in *errmsg; -ENOMEM.
 */
int rdsr_parse(const struct dcm_header *h, struct rdsr_report *out,
               char **errmsg);

/* Frees what rdsr_parse allocated and empties *r.  Accepts an empty one. */
void rdsr_report_release(struct rdsr_report *r);

#endif
