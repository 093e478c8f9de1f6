/*
 * scanopts.h - Siemens Scan Options (0018,0022) token parser.
 *
 * Siemens writes the ECG data of a cardiac scan as tokens in the multi-valued
 * Scan Options attribute, e.g. TP70PC1000\OSCRATEMIN060BPM\OSCRATEAVG060BPM.
 * Order and set vary by model and software version, so every token is
 * recognised by its name, never by its position (../shared/DOMAIN.md).
 * Pure C, no I/O: the extraction (extract.c) calls it for each instance.
 */
#ifndef HRAUDIT_SCANOPTS_H
#define HRAUDIT_SCANOPTS_H

#include <stdbool.h>
#include <stddef.h>

/* Longest Scan Options value we look at; longer values are cut here. */
#define SCANOPTS_MAX_VALUE 4096

struct scanopts {
	/* NAN where the token is absent or malformed. */
	double hr_min_bpm;             /* OSCRATEMIN<n>BPM                         */
	double hr_max_bpm;             /* OSCRATEMAX<n>BPM                         */
	double hr_avg_bpm;             /* OSCRATEAVG<n>BPM                         */
	double hr_var_bpm;             /* OSCRATEVAR<n>BPM                         */
	double phase_percent;          /* TP<p>PC<rrrr> or PHSP<p>PC<rrrr>: p      */
	double rr_interval_ms;         /* ... : rrrr                               */
	double pulsing_start_percent;  /* PULSTART_P<nnnn>PC                       */
	double pulsing_end_percent;    /* PULSEND_P<nnnn>PC or PULSEEND_P<nnnn>PC  */
	double best_diastolic_percent; /* BESTPH_D_P<nnnn>PC                       */
	bool cardiac;                  /* any ECG token, or DSEQCARD/TRGD/A4CS     */
	bool sequential;               /* DSEQCARD: cardiac sequential mode        */
	bool triggered;                /* TRGD: prospectively ECG-triggered        */
	unsigned tokens;               /* values seen                              */
	unsigned malformed;            /* known names with unreadable numbers      */
	unsigned unknown;              /* values of no family we decode (kept raw) */
};

/*
 * Parses one Scan Options value (values separated by '\', as on the wire;
 * surrounding spaces ignored).  Never fails: fields not found stay NAN.
 * Tokens of a known family whose number is malformed are counted in
 * `malformed` and ignored; others are counted in `unknown`: the verbatim
 * value is stored by the caller, so nothing is lost.
 * `value` may be NULL (treated as empty).
 */
void scanopts_parse(const char *value, struct scanopts *out);

#endif
