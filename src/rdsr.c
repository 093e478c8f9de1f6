/*
 * rdsr.c - the CT Radiation Dose SR content tree -> struct rdsr_report
 * (include/rdsr.h).
 *
 * Data flow: dcm (header, item API) -> rdsr (this) -> store (dose rows).
 * The tree is PS3.16 TID 10011 CT Radiation Dose: the root container
 * (113701, DCM) holds the accumulated dose (TID 10012, container 113811)
 * and one container (113819, DCM) "CT Acquisition" per irradiation event
 * (TID 10013), with its acquisition parameters (TID 10014, 113822) and
 * dose (TID 10015, 113829) below it.  Every content item is found by its
 * Concept Name Code Sequence (0040,A043) code value and coding scheme
 * (PS3.3 C.17.3); where it sits is not trusted, since vendors nest
 * differently: an event is any 113819 container at any depth, and an
 * event's values are read anywhere below it.  When a concept occurs twice
 * in one scope the first value wins.  Values are read by what the item
 * holds rather than by its Value Type (0040,A040): a CODE, TEXT, UIDREF
 * or DATETIME where another was expected is still read.
 *
 * The walk is recursive, at most RDSR_MAX_DEPTH content levels deep:
 * deeper content is skipped, not an error.  How much there is to walk is
 * bounded by the header's size limit (server.max_header_bytes).
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "extract.h"
#include "rdsr.h"

/* Content levels below the root walked: TID 10011 needs 4 (root, event,
 * parameters, source parameters); the rest is room for odd vendors. */
#define RDSR_MAX_DEPTH 16

#define TAG_CODE_VALUE       DCM_TAG(0x0008, 0x0100)
#define TAG_CODING_SCHEME    DCM_TAG(0x0008, 0x0102)
#define TAG_CODE_MEANING     DCM_TAG(0x0008, 0x0104)
#define TAG_LONG_CODE_VALUE  DCM_TAG(0x0008, 0x0119)
#define TAG_URN_CODE_VALUE   DCM_TAG(0x0008, 0x0120)
#define TAG_SOP_CLASS        DCM_TAG(0x0008, 0x0016)
#define TAG_SOP_INSTANCE     DCM_TAG(0x0008, 0x0018)
#define TAG_STUDY_DATE       DCM_TAG(0x0008, 0x0020)
#define TAG_ACCESSION        DCM_TAG(0x0008, 0x0050)
#define TAG_MANUFACTURER     DCM_TAG(0x0008, 0x0070)
#define TAG_STATION          DCM_TAG(0x0008, 0x1010)
#define TAG_MODEL            DCM_TAG(0x0008, 0x1090)
#define TAG_STUDY_UID        DCM_TAG(0x0020, 0x000D)
#define TAG_SERIES_UID       DCM_TAG(0x0020, 0x000E)
#define TAG_UNITS_SEQ        DCM_TAG(0x0040, 0x08EA)
#define TAG_CONCEPT_NAME_SEQ DCM_TAG(0x0040, 0xA043)
#define TAG_DATETIME         DCM_TAG(0x0040, 0xA120)
#define TAG_UID              DCM_TAG(0x0040, 0xA124)
#define TAG_TEXT_VALUE       DCM_TAG(0x0040, 0xA160)
#define TAG_FLOAT_VALUE      DCM_TAG(0x0040, 0xA161)
#define TAG_CONCEPT_CODE_SEQ DCM_TAG(0x0040, 0xA168)
#define TAG_MEASURED_SEQ     DCM_TAG(0x0040, 0xA300)
#define TAG_NUMERIC_VALUE    DCM_TAG(0x0040, 0xA30A)
#define TAG_CONTENT_SEQ      DCM_TAG(0x0040, 0xA730)

/* A coded entry (PS3.3 8.8): the value is CodeValue, LongCodeValue (SCT
 * codes longer than 16 characters) or URNCodeValue. */
struct code {
	char value[RDSR_CODE_MAX];
	char scheme[16];
	char meaning[RDSR_TEXT_MAX];
};

/* ---- coded entries ---------------------------------------------------------- */

static void read_code(const struct dcm_item *it, uint32_t seq, struct code *c)
{
	const struct dcm_item *e = dcm_item_child(it, seq, 0);

	memset(c, 0, sizeof *c);
	if (!e)
		return;
	if (dcm_item_string(e, TAG_CODE_VALUE, c->value, sizeof c->value) < 0 &&
	    dcm_item_string(e, TAG_LONG_CODE_VALUE, c->value, sizeof c->value) < 0 &&
	    dcm_item_string(e, TAG_URN_CODE_VALUE, c->value, sizeof c->value) < 0)
		c->value[0] = '\0';
	if (dcm_item_string(e, TAG_CODING_SCHEME, c->scheme, sizeof c->scheme) < 0)
		c->scheme[0] = '\0';
	if (dcm_item_string(e, TAG_CODE_MEANING, c->meaning, sizeof c->meaning) < 0)
		c->meaning[0] = '\0';
}

static bool is_dcm(const struct code *c, const char *value)
{
	return strcmp(c->value, value) == 0 && strcmp(c->scheme, "DCM") == 0;
}

/* ---- values ------------------------------------------------------------------- */

/* What a NUM measures; each kind has its units (below). */
enum kind {
	DOSE_MGY,
	DLP_MGYCM,
	LENGTH_MM,
	TIME_S,
	RATIO,
	EVENTS,
};

/* UCUM codes (case matters: MGy would be megagray) and the factor to the
 * member's unit.  Besides UCUM's own spelling, what vendors send:
 * "mGycm" (Siemens), "mGy*cm". */
static const struct unit {
	enum kind kind;
	const char *code;
	double factor;
} units[] = {
	{DOSE_MGY,  "mGy",     1},
	{DOSE_MGY,  "Gy",      1000},
	{DOSE_MGY,  "uGy",     0.001},
	{DLP_MGYCM, "mGy.cm",  1},
	{DLP_MGYCM, "mGycm",   1},
	{DLP_MGYCM, "mGy*cm",  1},
	{DLP_MGYCM, "Gy.cm",   1000},
	{DLP_MGYCM, "Gycm",    1000},
	{DLP_MGYCM, "mGy.mm",  0.1},
	{LENGTH_MM, "mm",      1},
	{LENGTH_MM, "cm",      10},
	{LENGTH_MM, "m",       1000},
	{TIME_S,    "s",       1},
	{TIME_S,    "ms",      0.001},
	{TIME_S,    "min",     60},
	{RATIO,     "{ratio}", 1},
	{RATIO,     "1",       1},
	{EVENTS,    "{events}", 1},
	{EVENTS,    "{event}", 1},
	{EVENTS,    "1",       1},
};

/*
 * The first numeric value of a NUM item in the unit of `kind`: Numeric
 * Value (0040,A30A) DS, else Floating Point Value (0040,A161) FD, times
 * the factor of its Measurement Units Code Sequence.  NAN when absent,
 * not a number, or in a unit this table does not know.
 */
static double read_num(const struct dcm_item *it, enum kind kind)
{
	const struct dcm_item *mv = dcm_item_child(it, TAG_MEASURED_SEQ, 0);
	struct code unit;
	char buf[80];
	double v;

	if (!mv)
		return NAN;
	if (dcm_item_string(mv, TAG_NUMERIC_VALUE, buf, sizeof buf) < 0 &&
	    dcm_item_string(mv, TAG_FLOAT_VALUE, buf, sizeof buf) < 0)
		return NAN;
	v = extract_number(buf, strcspn(buf, "\\"));
	read_code(mv, TAG_UNITS_SEQ, &unit);
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (units[i].kind == kind && strcmp(units[i].code, unit.value) == 0)
			return v * units[i].factor;
	return NAN;
}

/*
 * The value of a text-like item into text (and, for a CODE, its code value
 * into code): Text Value, UID, DateTime, or the meaning of the Concept
 * Code Sequence (its code value when the meaning is empty).
 */
static void read_text(const struct dcm_item *it, char *text, size_t tsize,
                      char *code, size_t csize)
{
	static const uint32_t tags[] = {TAG_TEXT_VALUE, TAG_UID, TAG_DATETIME};
	struct code c;

	for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
		if (dcm_item_string(it, tags[i], text, tsize) >= 0)
			return;
	read_code(it, TAG_CONCEPT_CODE_SEQ, &c);
	snprintf(text, tsize, "%s", c.meaning[0] ? c.meaning : c.value);
	if (code)
		snprintf(code, csize, "%s", c.value);
}

/* ---- concepts ------------------------------------------------------------------ */

/* A text member of struct rdsr_event or rdsr_report, and where a CODE's
 * code value goes (0: nowhere). */
struct text_field {
	const char *concept;            /* DCM code value                  */
	size_t offset, size;
	size_t code_offset, code_size;
};

struct num_field {
	const char *concept;
	enum kind kind;
	size_t offset;
};

#define EV_TEXT(c, m) {c, offsetof(struct rdsr_event, m), \
	sizeof ((struct rdsr_event *)0)->m, 0, 0}
#define EV_CODE(c, m, k) {c, offsetof(struct rdsr_event, m), \
	sizeof ((struct rdsr_event *)0)->m, offsetof(struct rdsr_event, k), \
	sizeof ((struct rdsr_event *)0)->k}
#define RP_TEXT(c, m) {c, offsetof(struct rdsr_report, m), \
	sizeof ((struct rdsr_report *)0)->m, 0, 0}

/* TID 10013 (event), 10014 (acquisition parameters), 10015 (dose). */
static const struct text_field event_texts[] = {
	EV_TEXT("113769", event_uid),                 /* Irradiation Event UID */
	EV_TEXT("125203", protocol),                  /* Acquisition Protocol  */
	EV_CODE("123014", target_region, target_region_code),
	EV_CODE("113820", acquisition_type, acquisition_type_code),
	EV_TEXT("111526", start_datetime),            /* DateTime Started      */
	EV_TEXT("113842", exposure_modulation),       /* X-Ray Modulation Type */
};

static const struct num_field event_nums[] = {
	{"113830", DOSE_MGY,  offsetof(struct rdsr_event, ctdivol_mgy)},
	{"113838", DLP_MGYCM, offsetof(struct rdsr_event, dlp_mgycm)},
	{"113828", RATIO,     offsetof(struct rdsr_event, pitch)},
	{"113826", LENGTH_MM, offsetof(struct rdsr_event, single_collimation_mm)},
	{"113827", LENGTH_MM, offsetof(struct rdsr_event, total_collimation_mm)},
	{"113824", TIME_S,    offsetof(struct rdsr_event, exposure_time_s)},
	{"113825", LENGTH_MM, offsetof(struct rdsr_event, scanning_length_mm)},
};

/* TID 10011 (observation context) and 10012 (accumulated dose). */
static const struct text_field report_texts[] = {
	RP_TEXT("113809", start_datetime),            /* Start of X-Ray Irradiation */
	RP_TEXT("113810", end_datetime),              /* End of X-Ray Irradiation   */
};

static const struct num_field report_nums[] = {
	{"113813", DLP_MGYCM, offsetof(struct rdsr_report, total_dlp_mgycm)},
	{"113812", EVENTS,    offsetof(struct rdsr_report, total_events)},
};

/* Stores the value of item `it` (concept c) in the matching field of
 * `base`, unless that field already has one. */
static void read_field(const struct dcm_item *it, const struct code *c, void *base,
                       const struct text_field *texts, size_t ntexts,
                       const struct num_field *nums, size_t nnums)
{
	char *p = base;

	for (size_t i = 0; i < ntexts; i++) {
		const struct text_field *f = &texts[i];

		if (!is_dcm(c, f->concept) || p[f->offset])
			continue;
		read_text(it, p + f->offset, f->size,
		          f->code_size ? p + f->code_offset : NULL, f->code_size);
		return;
	}
	for (size_t i = 0; i < nnums; i++) {
		double *d = (double *)(p + nums[i].offset);

		if (is_dcm(c, nums[i].concept) && isnan(*d)) {
			*d = read_num(it, nums[i].kind);
			return;
		}
	}
}

/* ---- the walk -------------------------------------------------------------------- */

static void event_init(struct rdsr_event *e)
{
	memset(e, 0, sizeof *e);
	for (size_t i = 0; i < sizeof event_nums / sizeof event_nums[0]; i++)
		*(double *)((char *)e + event_nums[i].offset) = NAN;
}

static int add_event(struct rdsr_report *r, const struct rdsr_event *e,
                     size_t *cap)
{
	if (r->nevents == *cap) {
		size_t n = *cap ? *cap * 2 : 8;
		struct rdsr_event *p = realloc(r->events, n * sizeof *p);

		if (!p)
			return -ENOMEM;
		r->events = p;
		*cap = n;
	}
	r->events[r->nevents++] = *e;
	return 0;
}

struct walk {
	struct rdsr_report *report;
	size_t cap;                 /* of report->events                    */
	struct rdsr_event *event;   /* the event being read, or NULL        */
};

/* Reads the content items below `it`, `depth` levels below the root. */
static int walk(struct walk *w, const struct dcm_item *it, unsigned depth)
{
	size_t n = dcm_item_count(it, TAG_CONTENT_SEQ);
	int r = 0;

	if (depth >= RDSR_MAX_DEPTH)
		return 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		const struct dcm_item *c = dcm_item_child(it, TAG_CONTENT_SEQ, i);
		struct rdsr_event ev;
		struct code name;

		if (!c)
			continue;
		read_code(c, TAG_CONCEPT_NAME_SEQ, &name);
		if (!w->event && is_dcm(&name, "113819")) {
			/* CT Acquisition: one irradiation event */
			event_init(&ev);
			w->event = &ev;
			r = walk(w, c, depth + 1);
			w->event = NULL;
			if (r == 0)
				r = add_event(w->report, &ev, &w->cap);
			continue;
		}
		if (w->event)
			read_field(c, &name, w->event, event_texts,
			           sizeof event_texts / sizeof event_texts[0],
			           event_nums, sizeof event_nums / sizeof event_nums[0]);
		else
			read_field(c, &name, w->report, report_texts,
			           sizeof report_texts / sizeof report_texts[0],
			           report_nums, sizeof report_nums / sizeof report_nums[0]);
		r = walk(w, c, depth + 1);
	}
	return r;
}

/* ---- the report ------------------------------------------------------------------ */

/*
 * TID 10011 and the projection X-ray TID 10001 share the root concept;
 * CT is told by Procedure Reported (121058, DCM) = Computed Tomography
 * X-Ray (P5-08000, SRT; 77477000, SCT), or, when that is missing or coded
 * otherwise, by a CT container (113811 or 113819) among the root's items.
 */
static bool root_is_ct(const struct dcm_item *root)
{
	size_t n = dcm_item_count(root, TAG_CONTENT_SEQ);
	bool ct_container = false;

	for (size_t i = 0; i < n; i++) {
		const struct dcm_item *c = dcm_item_child(root, TAG_CONTENT_SEQ, i);
		struct code name, value;

		read_code(c, TAG_CONCEPT_NAME_SEQ, &name);
		if (is_dcm(&name, "121058")) {
			read_code(c, TAG_CONCEPT_CODE_SEQ, &value);
			if ((strcmp(value.value, "P5-08000") == 0 &&
			     strcmp(value.scheme, "SRT") == 0) ||
			    (strcmp(value.value, "77477000") == 0 &&
			     strcmp(value.scheme, "SCT") == 0))
				return true;
		}
		if (is_dcm(&name, "113811") || is_dcm(&name, "113819"))
			ct_container = true;
	}
	return ct_container;
}

bool rdsr_is_ct_dose_report(const struct dcm_header *h)
{
	const struct dcm_item *root = h ? dcm_header_root(h) : NULL;
	char sop_class[RDSR_UID_MAX];
	struct code name;

	if (!root || dcm_item_string(root, TAG_SOP_CLASS, sop_class,
	                             sizeof sop_class) < 0)
		return false;
	if (strcmp(sop_class, RDSR_SOP_CLASS) != 0 &&
	    strcmp(sop_class, RDSR_SOP_CLASS_ENHANCED) != 0)
		return false;
	read_code(root, TAG_CONCEPT_NAME_SEQ, &name);
	return is_dcm(&name, "113701") && root_is_ct(root);
}

static void header_text(const struct dcm_header *h, uint32_t tag, char *buf,
                        size_t size)
{
	if (dcm_header_string(h, tag, buf, size) < 0)
		buf[0] = '\0';
}

int rdsr_parse(const struct dcm_header *h, struct rdsr_report *out,
               char **errmsg)
{
	struct walk w = {out, 0, NULL};
	char date[16];
	int r;

	memset(out, 0, sizeof *out);
	out->total_dlp_mgycm = NAN;
	out->total_events = NAN;
	if (!rdsr_is_ct_dose_report(h)) {
		errmsg_set(errmsg, "not a ct radiation dose report (sop class and "
		           "root concept 113701 with ct content)");
		r = -EINVAL;
		goto out;
	}
	header_text(h, TAG_SOP_INSTANCE, out->sop_instance_uid,
	            sizeof out->sop_instance_uid);
	header_text(h, TAG_STUDY_UID, out->study_uid, sizeof out->study_uid);
	if (!out->sop_instance_uid[0] || !out->study_uid[0]) {
		errmsg_set(errmsg, "dose report '%s' lacks its %s",
		           out->sop_instance_uid,
		           out->sop_instance_uid[0] ? "study instance uid" :
		                                      "sop instance uid");
		r = -EINVAL;
		goto out;
	}
	header_text(h, TAG_SERIES_UID, out->series_uid, sizeof out->series_uid);
	header_text(h, TAG_ACCESSION, out->accession_number,
	            sizeof out->accession_number);
	header_text(h, TAG_MANUFACTURER, out->manufacturer, sizeof out->manufacturer);
	header_text(h, TAG_MODEL, out->model, sizeof out->model);
	header_text(h, TAG_STATION, out->station_name, sizeof out->station_name);
	header_text(h, TAG_STUDY_DATE, date, sizeof date);
	extract_format_date(date, out->study_date);
	r = walk(&w, dcm_header_root(h), 0);
	if (r == -ENOMEM)
		errmsg_set(errmsg, "out of memory reading dose report '%s'",
		           out->sop_instance_uid);
out:
	return r;
}

void rdsr_report_release(struct rdsr_report *r)
{
	if (!r)
		return;
	free(r->events);
	memset(r, 0, sizeof *r);
	r->total_dlp_mgycm = NAN;
	r->total_events = NAN;
}
