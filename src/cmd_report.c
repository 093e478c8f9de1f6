/*
 * cmd_report.c - `hraudit report --html FILE`: the audit as one
 * self-contained HTML5 page, the charts of the seed's Results pages drawn
 * as inline SVG.
 *
 * Reads the `exam` view (sql/003-audit.sql: counts are of exams, not of
 * series) with cli_load_exams(), aggregates with audit.h and writes the
 * page atomically (a temporary file beside FILE, renamed over it).  The
 * page needs nothing else: no script, no external style sheet, font or
 * image, so it can be mailed or archived and opens offline.  Every text
 * taken from the database is escaped for HTML.
 *
 * Sections: summary table; (a) HR histogram per scanner; (b) scan-type mix
 * per scanner and month, quarter or year; (c) mean HR by weekday per scan
 * type; (d) median CTDIvol (and DLP when the exam view has dlp_mgycm) per
 * scan type and scanner; (e) compliance with the site's scan-selection
 * protocol (compliance.h, the [compliance] rules); and heart-rate control
 * against the published thresholds.  Each chart is an
 * <svg class="chart"> with a fixed id, inside a <figure>.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "cli.h"
#include "compliance.h"

#define HIST_BIN_BPM 5          /* histogram bin width                        */
#define HIST_MAX_BINS 60        /* wider spreads fold into the end bins       */
#define HR_TARGET_BPM 65        /* beta-blocker target: HR below it (DOMAIN.md) */
#define HR_RISK_BPM 70          /* failed prospective gating predicted from it */
#define HRV_RISK_BPM 10         /* and from this HR variation                 */
#define MONTHS_MAX 24           /* longer periods are shown by quarter...     */
#define QUARTERS_MAX 40         /* ...and longer ones still by year           */
#define CHART_W 960             /* SVG user units; the page scales them       */
#define LABEL_CHARS 34          /* longer names are cut (full in the tooltip) */
#define LABEL_BUF 512           /* room for a cut name                        */
#define SHARE_LEFT 300          /* 100 % bars: row labels end here            */
#define SHARE_W 420             /* and the bar is this wide                   */
#define NOTE_COL1 (SHARE_LEFT + SHARE_W + 16) /* the numbers right of it      */
#define NOTE_COL2 (NOTE_COL1 + 76)
#define NOTE_COL3 (NOTE_COL2 + 96)

/* One exam as the report needs it: strings (borrowed from struct
 * cli_exam) NULL and numbers NAN when missing. */
struct rexam {
	const char *scanner;        /* model                                      */
	const char *type;           /* scan type code                             */
	const char *date;           /* YYYY-MM-DD, or "" when missing or invalid  */
	int weekday;                /* 0 Sunday .. 6 Saturday, -1 unknown or no date */
	double hr_bpm, hrv_bpm, ctdivol_mgy, dlp_mgycm, calcium;
	size_t si, ti;              /* index in report.scanners / report.types    */
	const char *station;        /* station_name, for the compliance rules     */
	struct compliance_result res; /* the protocol's verdict                   */
};

struct report {
	FILE *f;
	bool nomem;                 /* a formatted text could not be allocated    */
	const char *from, *to;      /* --from/--to, or NULL                       */
	const struct compliance_rules *rules; /* the configuration's protocol    */
	unsigned hrv_high_bpm;      /* hrv=high from this HRV on                  */
	struct cli_exams all;       /* as read; has_dlp: the view has dlp_mgycm   */
	struct rexam *v;            /* all.v, as the report needs them            */
	size_t n;
	const char **scanners;      /* distinct, sorted, NULL (unknown) last      */
	size_t nscanners;
	const char **types;         /* distinct, in scan_type_order, NULL last    */
	size_t ntypes;
	double *scratch;            /* n values, for audit_mean / audit_median    */
	size_t undated;             /* exams without a valid study date           */
	char first[11], last[11];   /* study dates of the dated exams             */
};

/* ---- writing: markup, and text escaped for HTML ------------------------------ */

/* Markup of our own, written as is. */
__attribute__((format(printf, 2, 3)))
static void put(struct report *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(r->f, fmt, ap);
	va_end(ap);
}

/* s escaped for text and attribute values: the five HTML specials, and
 * control characters (not allowed in HTML text) as U+FFFD. */
static void esc(struct report *r, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '&': fputs("&amp;", r->f); break;
		case '<': fputs("&lt;", r->f); break;
		case '>': fputs("&gt;", r->f); break;
		case '"': fputs("&quot;", r->f); break;
		case '\'': fputs("&#39;", r->f); break;
		default:
			if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
				fputs("&#xFFFD;", r->f);
			else
				putc(c, r->f);
		}
	}
}

/* Formatted text, escaped as a whole: the arguments may come from the
 * database. */
__attribute__((format(printf, 2, 3)))
static void text(struct report *r, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		r->nomem = true;
		return;
	}
	esc(r, s);
	free(s);
}

/* s cut to at most max (>= 1) characters of UTF-8, the last one an
 * ellipsis when cut; into buf when cut. */
static const char *cut(char *buf, size_t size, const char *s, size_t max)
{
	size_t chars = 0, i, end = 0;

	if (max > (size - 4) / 4)
		max = (size - 4) / 4;   /* max - 1 characters and "..." fit */
	for (i = 0; s[i]; i++) {
		if (((unsigned char)s[i] & 0xc0) == 0x80)
			continue;
		if (chars == max)
			break;
		if (chars++ == max - 1)
			end = i;
	}
	if (!s[i])
		return s;
	memcpy(buf, s, end);
	memcpy(buf + end, "\xe2\x80\xa6", 4);
	return buf;
}

/* ---- names and colours ------------------------------------------------------- */

/* The classifier's codes (classify.h), in the order of the site table. */
static const struct {
	const char *code, *label, *colour;
} scan_types[] = {
	{"flash", "Flash (high-pitch spiral)", "#E69F00"},
	{"seq_diastolic", "Diastolic sequential", "#0072B2"},
	{"seq_systolic", "Systolic sequential", "#56B4E9"},
	{"spiral_retro", "Retrospective spiral", "#009E73"},
	{"uhr_spiral_retro", "UHR retrospective spiral", "#CC79A7"},
	{"uhr_seq_diastolic", "UHR diastolic sequential", "#D55E00"},
};
#define NSCAN_TYPES (sizeof scan_types / sizeof scan_types[0])
#define OTHER_TYPE_COLOUR "#6B4C9A"
#define UNKNOWN_COLOUR "#AAAAAA"

/* Scanners: Paul Tol's "bright" scheme, distinct for colour-blind readers. */
static const char *const scanner_colours[] = {
	"#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#555555",
};

static int type_rank(const char *code)
{
	if (!code)
		return NSCAN_TYPES + 1;
	for (size_t i = 0; i < NSCAN_TYPES; i++)
		if (strcmp(code, scan_types[i].code) == 0)
			return (int)i;
	return NSCAN_TYPES;
}

static const char *type_label(const char *code)
{
	int k = type_rank(code);

	if (!code)
		return "Unclassified";
	return k < (int)NSCAN_TYPES ? scan_types[k].label : code;
}

static const char *type_colour(const char *code)
{
	int k = type_rank(code);

	if (!code)
		return UNKNOWN_COLOUR;
	return k < (int)NSCAN_TYPES ? scan_types[k].colour : OTHER_TYPE_COLOUR;
}

static const char *scanner_label(const char *model)
{
	return model ? model : "(unknown scanner)";
}

static const char *scanner_colour(size_t i)
{
	return scanner_colours[i % (sizeof scanner_colours / sizeof scanner_colours[0])];
}

/* ---- fetching the exams -------------------------------------------------------- */

/* Reads the exams of the period.  Returns 0, or 1 having said why. */
static int fetch(struct cli *cli, struct report *r)
{
	if (cli_open_store(cli, false) < 0 ||
	    cli_load_exams(cli, r->from, r->to, &r->all) < 0)
		return 1;
	r->v = malloc((r->all.n ? r->all.n : 1) * sizeof *r->v);
	if (!r->v) {
		fprintf(stderr, "hraudit: out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < r->all.n; i++) {
		const struct cli_exam *x = &r->all.v[i];

		r->v[i] = (struct rexam){
			.scanner = cli_known(x->model), .type = cli_known(x->scan_type),
			.station = cli_known(x->station_name), .date = x->date,
			.weekday = x->date[0] ? x->weekday : -1,
			.hr_bpm = x->hr_avg.value, .hrv_bpm = x->hr_var.value,
			.ctdivol_mgy = x->ctdivol_mgy.value, .dlp_mgycm = x->dlp_mgycm.value,
			.calcium = x->calcium_score.value,
		};
	}
	r->n = r->all.n;
	return 0;
}

static int cmp_scanner(const void *pa, const void *pb)
{
	const char *a = *(const char *const *)pa, *b = *(const char *const *)pb;

	if (!a || !b)
		return !a - !b;
	return strcmp(a, b);
}

/* The site table's order, other codes by name, unclassified last. */
static int cmp_type(const void *pa, const void *pb)
{
	const char *a = *(const char *const *)pa, *b = *(const char *const *)pb;
	int ra = type_rank(a), rb = type_rank(b);

	if (ra != rb)
		return ra - rb;
	return a && b ? strcmp(a, b) : 0;
}

/* The distinct values of one key, sorted by cmp, as borrowed pointers. */
static const char **distinct(const struct report *r, bool scanner,
                             int (*cmp)(const void *, const void *), size_t *n)
{
	const char **v = malloc((r->n ? r->n : 1) * sizeof *v);
	size_t k = 0;

	*n = 0;
	if (!v)
		return NULL;
	for (size_t i = 0; i < r->n; i++)
		v[i] = scanner ? r->v[i].scanner : r->v[i].type;
	qsort(v, r->n, sizeof *v, cmp);
	for (size_t i = 0; i < r->n; i++)
		if (k == 0 || cmp(&v[k - 1], &v[i]) != 0)
			v[k++] = v[i];
	*n = k;
	return v;
}

static size_t index_of(const char **v, size_t n, const char *key,
                       int (*cmp)(const void *, const void *))
{
	const char **p = bsearch(&key, v, n, sizeof *v, cmp);

	return p ? (size_t)(p - v) : 0;
}

/* Distinct scanners and types, each exam's indices, the date range. */
static int prepare(struct report *r)
{
	r->scanners = distinct(r, true, cmp_scanner, &r->nscanners);
	r->types = distinct(r, false, cmp_type, &r->ntypes);
	r->scratch = malloc((r->n ? r->n : 1) * sizeof *r->scratch);
	if (!r->scanners || !r->types || !r->scratch)
		return -ENOMEM;
	for (size_t i = 0; i < r->n; i++) {
		struct rexam *e = &r->v[i];

		e->si = index_of(r->scanners, r->nscanners, e->scanner, cmp_scanner);
		e->ti = index_of(r->types, r->ntypes, e->type, cmp_type);
		compliance_judge(r->rules, r->hrv_high_bpm, &(struct compliance_exam){
			.hr_bpm = e->hr_bpm, .hrv_bpm = e->hrv_bpm, .calcium = e->calcium,
			.model = e->scanner, .station = e->station, .scan_type = e->type,
		}, &e->res);
		if (!e->date[0]) {
			r->undated++;
			continue;
		}
		if (!r->first[0] || strcmp(e->date, r->first) < 0)
			memcpy(r->first, e->date, 11);
		if (!r->last[0] || strcmp(e->date, r->last) > 0)
			memcpy(r->last, e->date, 11);
	}
	return 0;
}

static void report_release(struct report *r)
{
	cli_exams_release(&r->all);
	free(r->v);
	free(r->scanners);
	free(r->types);
	free(r->scratch);
}

/* ---- statistics ---------------------------------------------------------------- */

enum field { F_HR, F_HRV, F_CTDIVOL, F_DLP };

static double field_of(const struct rexam *e, enum field f)
{
	switch (f) {
	case F_HR: return e->hr_bpm;
	case F_HRV: return e->hrv_bpm;
	case F_CTDIVOL: return e->ctdivol_mgy;
	case F_DLP: return e->dlp_mgycm;
	}
	return NAN;
}

/* SIZE_MAX matches any scanner or type. */
#define ANY SIZE_MAX

struct stats {
	size_t n, known;            /* exams, and exams with the value            */
	double mean, median;
};

/* The exams of scanner si and type ti (ANY for all): their value f. */
static struct stats stats_of(struct report *r, size_t si, size_t ti, enum field f)
{
	struct stats s = {0};

	for (size_t i = 0; i < r->n; i++) {
		const struct rexam *e = &r->v[i];

		if ((si == ANY || e->si == si) && (ti == ANY || e->ti == ti))
			r->scratch[s.n++] = field_of(e, f);
	}
	s.known = audit_count_known(r->scratch, s.n);
	s.mean = audit_mean(r->scratch, s.n);
	s.median = audit_median(r->scratch, s.n);
	return s;
}

/* ---- SVG pieces ----------------------------------------------------------------- */

/* A step of 1, 2 or 5 times a power of ten giving about `ticks` ticks up
 * to max; at least 1 when the values are counts. */
static double nice_step(double max, int ticks, bool counts)
{
	double raw = max / ticks, mag, f, step;

	if (!(raw > 0) || !isfinite(raw))
		return 1;
	mag = pow(10, floor(log10(raw)));
	f = raw / mag;
	step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
	return counts && step < 1 ? 1 : step;
}

/* The top of an axis: max rounded up to a step (one step when max is 0);
 * with headroom, a step more when the highest bar would leave no room for
 * the value above it. */
static double axis_top(double max, double step, bool headroom)
{
	double top = ceil(max / step - 1e-9) * step;

	if (top <= 0)
		return step;
	return headroom && max > top * 0.9 ? top + step : top;
}

static void svg_open(struct report *r, const char *id, int w, int h,
                     const char *title, const char *desc)
{
	put(r, "<svg class=\"chart\" id=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" "
	    "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
	    "aria-labelledby=\"%s-title %s-desc\">\n", id, w, h, w, h, id, id);
	put(r, "<title id=\"%s-title\">", id);
	esc(r, title);
	put(r, "</title>\n<desc id=\"%s-desc\">", id);
	esc(r, desc);
	put(r, "</desc>\n");
}

/* Grid lines and labels of a vertical value axis: value 0 at y0, top at
 * y0 - h; lines across x0..x0 + w; label rotated on the left. */
static void y_axis(struct report *r, double x0, double y0, double w, double h,
                   double top, double step, const char *label)
{
	int nticks = (int)lround(top / step);

	for (int i = 0; i <= nticks; i++) {
		double v = i * step, y = y0 - v / top * h;

		put(r, "<line class=\"%s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
		    i ? "grid" : "axis", x0, y, x0 + w, y);
		put(r, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
		    "dy=\"0.32em\">%.10g</text>\n", x0 - 6, y, v);
	}
	if (label) {
		put(r, "<text class=\"axis-label\" transform=\"translate(%.1f %.1f) rotate(-90)\" "
		    "text-anchor=\"middle\">", x0 - 44, y0 - h / 2);
		esc(r, label);
		put(r, "</text>\n");
	}
}

/* A rectangle with a tooltip (the tooltip text is formatted and escaped). */
__attribute__((format(printf, 7, 8)))
static void bar(struct report *r, double x, double y, double w, double h,
                const char *colour, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (h < 0)
		h = 0;
	put(r, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
	    "<title>", x, y, w, h, colour);
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		r->nomem = true;
	else {
		esc(r, s);
		free(s);
	}
	va_end(ap);
	put(r, "</title></rect>\n");
}

/* A legend: swatches and labels from (x, y) on, wrapping at CHART_W - 20
 * (widths estimated at 7 units a character).  Draws it unless dry.
 * Returns the y below it. */
static double legend(struct report *r, double x, double y, size_t n,
                     const char *const *labels, const char *const *colours, bool dry)
{
	double x0 = x;

	if (!dry)
		put(r, "<g class=\"legend\">\n");
	for (size_t i = 0; i < n; i++) {
		char buf[LABEL_BUF];
		const char *l = cut(buf, sizeof buf, labels[i], LABEL_CHARS);
		double w = 17 + 7.0 * (double)strlen(l) + 22;

		if (x > x0 && x + w > CHART_W - 20) {
			x = x0;
			y += 20;
		}
		if (!dry) {
			put(r, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" rx=\"2\" "
			    "fill=\"%s\"/><text x=\"%.1f\" y=\"%.1f\">", x, y - 10, colours[i],
			    x + 17, y);
			esc(r, l);
			put(r, "<title>");
			esc(r, labels[i]);
			put(r, "</title></text>\n");
		}
		x += w;
	}
	if (!dry)
		put(r, "</g>\n");
	return y + 20;
}

/* The key of the dashed target line, at (x, y) like a legend entry. */
static void target_key(struct report *r, double x, double y)
{
	put(r, "<line class=\"target\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
	    "<text x=\"%.1f\" y=\"%.1f\">%d bpm, the beta-blocker target</text>\n",
	    x, y - 4, x + 24, y - 4, x + 30, y, HR_TARGET_BPM);
}

/* A figure's caption and end. */
__attribute__((format(printf, 2, 3)))
static void figure_end(struct report *r, const char *fmt, ...)
{
	va_list ap;
	char *s;

	put(r, "</svg>\n<figcaption>");
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		r->nomem = true;
	else {
		esc(r, s);
		free(s);
	}
	va_end(ap);
	put(r, "</figcaption>\n</figure>\n");
}

static void section_end(struct report *r)
{
	put(r, "</section>\n");
}

static void section_start(struct report *r, const char *id, const char *heading)
{
	put(r, "<section aria-labelledby=\"h-%s\">\n<h2 id=\"h-%s\">", id, id);
	esc(r, heading);
	put(r, "</h2>\n<figure>\n");
}

/* x with one decimal, or an en dash for NAN (tables). */
static void cell_number(struct report *r, double x)
{
	if (isnan(x))
		put(r, "<td class=\"num missing\">&ndash;</td>");
	else
		put(r, "<td class=\"num\">%.1f</td>", x);
}

/* ---- summary ---------------------------------------------------------------------- */

static void summary_row(struct report *r, size_t si, size_t ti, const char *cls,
                        bool first)
{
	struct stats hr = stats_of(r, si, ti, F_HR), hrv = stats_of(r, si, ti, F_HRV);

	if (hr.n == 0)
		return;
	if (cls)
		put(r, "<tr class=\"%s\">", cls);
	else
		put(r, "<tr>");
	if (si == ANY) {
		put(r, "<th scope=\"row\" colspan=\"2\">All scanners</th>");
	} else {
		put(r, "<th scope=\"row\">");
		if (first)
			esc(r, scanner_label(r->scanners[si]));
		put(r, "</th><td>");
		if (ti == ANY) {
			put(r, "All scan types");
		} else {
			put(r, "<span class=\"swatch\" style=\"background:%s\"></span>",
			    type_colour(r->types[ti]));
			esc(r, type_label(r->types[ti]));
		}
		put(r, "</td>");
	}
	put(r, "<td class=\"num\">%zu</td><td class=\"num\">%zu</td>", hr.n, hr.known);
	cell_number(r, hr.mean);
	cell_number(r, hr.median);
	cell_number(r, hrv.mean);
	put(r, "</tr>\n");
}

static void render_summary(struct report *r)
{
	struct stats hr = stats_of(r, ANY, ANY, F_HR);
	size_t on_target = 0;

	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].hr_bpm < HR_TARGET_BPM)
			on_target++;
	put(r, "<section aria-labelledby=\"h-summary\">\n<h2 id=\"h-summary\">Summary</h2>\n"
	    "<dl class=\"cards\">\n");
	put(r, "<div><dt>Exams</dt><dd>%zu</dd></div>\n", r->n);
	put(r, "<div><dt>Scanners</dt><dd>%zu</dd></div>\n", r->nscanners);
	if (hr.known) {
		put(r, "<div><dt>Mean heart rate</dt><dd>%.1f<small> bpm</small></dd></div>\n",
		    hr.mean);
		put(r, "<div><dt>Heart rate below %d bpm</dt><dd>%.0f<small> %% of %zu</small>"
		    "</dd></div>\n", HR_TARGET_BPM,
		    100.0 * (double)on_target / (double)hr.known, hr.known);
	}
	put(r, "</dl>\n<table class=\"grouped\">\n<caption>Exams per scanner and scan type</caption>\n"
	    "<thead><tr><th scope=\"col\">Scanner</th><th scope=\"col\">Scan type</th>"
	    "<th scope=\"col\" class=\"num\">Exams</th>"
	    "<th scope=\"col\" class=\"num\">With HR</th>"
	    "<th scope=\"col\" class=\"num\">Mean HR (bpm)</th>"
	    "<th scope=\"col\" class=\"num\">Median HR (bpm)</th>"
	    "<th scope=\"col\" class=\"num\">Mean HRV (bpm)</th></tr></thead>\n");
	for (size_t si = 0; si < r->nscanners; si++) {
		size_t rows = 0;

		put(r, "<tbody>\n");
		for (size_t ti = 0; ti < r->ntypes; ti++)
			if (stats_of(r, si, ti, F_HR).n)
				summary_row(r, si, ti, NULL, rows++ == 0);
		if (rows > 1)
			summary_row(r, si, ANY, "subtotal", false);
		put(r, "</tbody>\n");
	}
	put(r, "<tfoot>\n");
	summary_row(r, ANY, ANY, "total", true);
	put(r, "</tfoot>\n</table>\n");
	if (r->undated) {
		put(r, "<p class=\"note\">");
		text(r, "%zu exam%s without a study date %s counted here but left out of "
		     "the charts by period and weekday.", r->undated,
		     r->undated == 1 ? "" : "s", r->undated == 1 ? "is" : "are");
		put(r, "</p>\n");
	}
	section_end(r);
}

/* ---- (a) HR histogram per scanner ------------------------------------------------ */

/* The label of histogram bin b of nbins from lo_bpm; the last one takes
 * every higher rate when the spread was folded (folded). */
static void hist_label(char *buf, size_t size, long lo_bpm, size_t b, size_t nbins,
                       bool folded)
{
	long edge = lo_bpm + (long)b * HIST_BIN_BPM;

	if (b == nbins - 1 && folded)
		snprintf(buf, size, "%ld or more", edge);
	else if (audit_bin_label(buf, size, edge, HIST_BIN_BPM) < 0)
		snprintf(buf, size, "%ld", edge);
}

static void histogram_panel(struct report *r, size_t si, const unsigned long *count,
                            size_t nbins, long lo, bool folded, double y0)
{
	const double left = 70, plot_w = CHART_W - left - 24, plot_h = 96;
	const double bw = plot_w / (double)nbins;
	struct stats s = stats_of(r, si, ANY, F_HR);
	char name[LABEL_BUF], label[48];
	double max = 0, step, top;

	for (size_t b = 0; b < nbins; b++)
		if ((double)count[b] > max)
			max = (double)count[b];
	step = nice_step(max, 3, true);
	top = axis_top(max, step, false);
	put(r, "<g class=\"panel\">\n<text class=\"panel-title\" x=\"%.1f\" y=\"%.1f\">",
	    left, y0 - plot_h - 10);
	esc(r, cut(name, sizeof name, scanner_label(r->scanners[si]), (size_t)2 * LABEL_CHARS));
	put(r, "<tspan class=\"sub\">");
	if (s.known)
		text(r, "  %zu exam%s, mean %.1f bpm", s.known, s.known == 1 ? "" : "s",
		     s.mean);
	if (s.n > s.known)
		text(r, "%s%zu without a heart rate", s.known ? ", " : "  ", s.n - s.known);
	put(r, "</tspan></text>\n");
	y_axis(r, left, y0, plot_w, plot_h, top, step, "Exams");
	for (size_t b = 0; b < nbins; b++) {
		double bh = (double)count[b] / top * plot_h;

		if (count[b] == 0)
			continue;
		hist_label(label, sizeof label, lo, b, nbins, folded);
		bar(r, left + (double)b * bw + 1, y0 - bh, bw - 2, bh, scanner_colour(si),
		    "%s: %s bpm, %lu exam%s", scanner_label(r->scanners[si]), label, count[b],
		    count[b] == 1 ? "" : "s");
	}
	/* bin edges on the x axis, every one or every other */
	for (size_t b = 0; b <= nbins; b += nbins > 24 ? 2 : 1)
		put(r, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
		    "%ld</text>", left + (double)b * bw, y0 + 14, lo + (long)b * HIST_BIN_BPM);
	if (HR_TARGET_BPM >= lo && HR_TARGET_BPM <= lo + (long)nbins * HIST_BIN_BPM) {
		double x = left + (double)(HR_TARGET_BPM - lo) / HIST_BIN_BPM * bw;

		put(r, "\n<line class=\"target\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
		    "y2=\"%.1f\"/>", x, y0 - plot_h - 4, x, y0);
	}
	put(r, "\n</g>\n");
}

static void render_histogram(struct report *r)
{
	const double top_y = 30, panel_h = 150;
	unsigned long *count = NULL;
	long lo = 0, hi = 0, from;
	size_t nbins, with_hr = 0;
	bool folded = false;
	int h;

	for (size_t i = 0; i < r->n; i++) {
		if (audit_bin(r->v[i].hr_bpm, HIST_BIN_BPM, &from) < 0)
			continue;
		if (!with_hr || from < lo)
			lo = from;
		if (!with_hr || from > hi)
			hi = from;
		with_hr++;
	}
	nbins = (size_t)((hi - lo) / HIST_BIN_BPM) + 1;
	if (nbins > HIST_MAX_BINS) {
		nbins = HIST_MAX_BINS;   /* the last bin takes every higher rate */
		folded = true;
	}
	section_start(r, "histogram", "Heart rate per scanner");
	if (!with_hr || !(count = calloc(nbins * r->nscanners, sizeof *count))) {
		r->nomem |= with_hr > 0;
		svg_open(r, "hr-histogram", CHART_W, 80, "Heart-rate histogram per scanner",
		         "No exam has a heart rate.");
		put(r, "<text class=\"empty\" x=\"%d\" y=\"44\" text-anchor=\"middle\">"
		    "No exam in the period has a heart rate.</text>\n", CHART_W / 2);
		figure_end(r, "No heart rates recorded.");
		section_end(r);
		return;
	}
	for (size_t i = 0; i < r->n; i++) {
		size_t b;

		if (audit_bin(r->v[i].hr_bpm, HIST_BIN_BPM, &from) < 0)
			continue;
		b = (size_t)((from - lo) / HIST_BIN_BPM);
		count[r->v[i].si * nbins + (b < nbins ? b : nbins - 1)]++;
	}
	h = (int)(top_y + (double)(r->nscanners - 1) * panel_h + 22 + 96 + 44);
	svg_open(r, "hr-histogram", CHART_W, h, "Heart-rate histogram per scanner",
	         "Number of exams in each 5 bpm bin of the mean heart rate, one panel "
	         "per scanner; a dashed line marks 65 bpm.");
	target_key(r, 70, 18);
	for (size_t si = 0; si < r->nscanners; si++)
		histogram_panel(r, si, count + si * nbins, nbins, lo, folded,
		                top_y + (double)si * panel_h + 22 + 96);
	put(r, "<text class=\"axis-label\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">"
	    "Mean heart rate during the scan (bpm, %d bpm bins)</text>\n",
	    70 + (CHART_W - 94) / 2.0, h - 6, HIST_BIN_BPM);
	free(count);
	figure_end(r, "Exams per %d bpm bin of the mean heart rate during the scan "
	           "(hr_avg), one panel per scanner. The dashed line marks %d bpm. "
	           "Hover over a bar for its count.", HIST_BIN_BPM, HR_TARGET_BPM);
	section_end(r);
}

/* ---- (b) scan-type mix per scanner and period ------------------------------------- */

enum period { BY_MONTH, BY_QUARTER, BY_YEAR };

/* Months since year 0 of a YYYY-MM-DD date. */
static long month_index(const char *date)
{
	return atol(date) * 12 + atol(date + 5) - 1;
}

static long period_index(long month, enum period p)
{
	return p == BY_MONTH ? month : p == BY_QUARTER ? month / 3 : month / 12;
}

static void period_label(char *buf, size_t size, long idx, enum period p)
{
	if (p == BY_MONTH)
		snprintf(buf, size, "%04ld-%02ld", idx / 12, idx % 12 + 1);
	else if (p == BY_QUARTER)
		snprintf(buf, size, "%04ld Q%ld", idx / 4, idx % 4 + 1);
	else
		snprintf(buf, size, "%04ld", idx);
}

/* The scan types' labels and colours, for a legend (malloc'd arrays). */
static int type_legend(const struct report *r, const char ***labels,
                       const char ***colours)
{
	*labels = malloc((r->ntypes ? r->ntypes : 1) * sizeof **labels);
	*colours = malloc((r->ntypes ? r->ntypes : 1) * sizeof **colours);
	if (!*labels || !*colours)
		return -ENOMEM;
	for (size_t t = 0; t < r->ntypes; t++) {
		(*labels)[t] = type_label(r->types[t]);
		(*colours)[t] = type_colour(r->types[t]);
	}
	return 0;
}

struct mix {
	enum period p;
	long p0;                    /* index of the first period                  */
	size_t nper;
	size_t *count;              /* [period][scanner][type]                    */
	bool rotate;                /* period labels slanted: too narrow a slot   */
	const char **labels, **colours;
};

static void mix_panel(struct report *r, const struct mix *m, size_t si, double y0)
{
	const double left = 70, plot_w = CHART_W - left - 24, plot_h = 110;
	const double slot = plot_w / (double)m->nper;
	double max = 0, step, top;
	char name[LABEL_BUF];

	for (size_t k = 0; k < m->nper; k++) {
		double tot = 0;

		for (size_t t = 0; t < r->ntypes; t++)
			tot += (double)m->count[(k * r->nscanners + si) * r->ntypes + t];
		if (tot > max)
			max = tot;
	}
	step = nice_step(max, 3, true);
	top = axis_top(max, step, true);
	put(r, "<g class=\"panel\">\n<text class=\"panel-title\" x=\"%.1f\" y=\"%.1f\">",
	    left, y0 - plot_h - 10);
	esc(r, cut(name, sizeof name, scanner_label(r->scanners[si]), (size_t)2 * LABEL_CHARS));
	put(r, "</text>\n");
	y_axis(r, left, y0, plot_w, plot_h, top, step, "Exams");
	for (size_t k = 0; k < m->nper; k++) {
		const size_t *c = m->count + (k * r->nscanners + si) * r->ntypes;
		double x = left + (double)k * slot + slot * 0.15, w = slot * 0.7, y = y0;
		size_t tot = 0;
		char pl[48];

		period_label(pl, sizeof pl, m->p0 + (long)k, m->p);
		for (size_t t = 0; t < r->ntypes; t++)
			tot += c[t];
		for (size_t t = 0; t < r->ntypes; t++) {
			double bh = (double)c[t] / top * plot_h;

			if (!c[t])
				continue;
			y -= bh;
			bar(r, x, y, w, bh, m->colours[t], "%s, %s: %s, %zu of %zu exam%s (%.0f %%)",
			    scanner_label(r->scanners[si]), pl, m->labels[t], c[t], tot,
			    tot == 1 ? "" : "s", 100.0 * (double)c[t] / (double)tot);
		}
		if (tot && slot >= 18)
			put(r, "<text class=\"value\" x=\"%.1f\" y=\"%.1f\" "
			    "text-anchor=\"middle\">%zu</text>", x + w / 2, y - 4, tot);
		if (!m->rotate)
			put(r, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" "
			    "text-anchor=\"middle\">%s</text>\n", x + w / 2, y0 + 15, pl);
		else if (m->nper <= 60 || k % 2 == 0)
			put(r, "<text class=\"tick\" text-anchor=\"end\" "
			    "transform=\"translate(%.1f %.1f) rotate(-45)\">%s</text>\n",
			    x + w / 2 + 3, y0 + 12, pl);
	}
	put(r, "</g>\n");
}

static void render_mix(struct report *r)
{
	static const char *const pname[] = {"month", "quarter", "year"};
	struct mix m = {.p = BY_MONTH};
	long m0, m1;
	double top_y, panel_h;
	int h;

	section_start(r, "mix", "Scan-type mix");
	if (!r->first[0]) {
		svg_open(r, "scan-type-mix", CHART_W, 80, "Scan-type mix per scanner and period",
		         "No exam has a study date.");
		put(r, "<text class=\"empty\" x=\"%d\" y=\"44\" text-anchor=\"middle\">"
		    "No exam in the period has a study date.</text>\n", CHART_W / 2);
		figure_end(r, "No dated exams.");
		section_end(r);
		return;
	}
	m0 = month_index(r->first);
	m1 = month_index(r->last);
	if (m1 - m0 + 1 > MONTHS_MAX)
		m.p = m1 / 3 - m0 / 3 + 1 > QUARTERS_MAX ? BY_YEAR : BY_QUARTER;
	m.p0 = period_index(m0, m.p);
	m.nper = (size_t)(period_index(m1, m.p) - m.p0 + 1);
	m.count = calloc(m.nper * r->nscanners * r->ntypes, sizeof *m.count);
	if (!m.count || type_legend(r, &m.labels, &m.colours) < 0) {
		r->nomem = true;
		goto out;
	}
	for (size_t i = 0; i < r->n; i++) {
		const struct rexam *e = &r->v[i];

		if (e->date[0])
			m.count[((size_t)(period_index(month_index(e->date), m.p) - m.p0) *
			         r->nscanners + e->si) * r->ntypes + e->ti]++;
	}
	m.rotate = (CHART_W - 94) / (double)m.nper < 62;   /* mix_panel's plot_w */
	panel_h = m.rotate ? 196 : 170;
	top_y = legend(r, 70, 18, r->ntypes, m.labels, m.colours, true);
	h = (int)(top_y + (double)r->nscanners * panel_h + 4);
	svg_open(r, "scan-type-mix", CHART_W, h, "Scan-type mix per scanner and period",
	         "Stacked bars: exams of each scan type per scanner and period.");
	legend(r, 70, 18, r->ntypes, m.labels, m.colours, false);
	for (size_t si = 0; si < r->nscanners; si++)
		mix_panel(r, &m, si, top_y + (double)si * panel_h + 24 + 110);
	figure_end(r, "Scan types per scanner and %s: each bar is stacked by scan type, "
	           "the number above it is the exams of that %s.%s", pname[m.p], pname[m.p],
	           r->undated ? " Exams without a study date are left out." : "");
out:
	section_end(r);
	free(m.count);
	free(m.labels);
	free(m.colours);
}

/* ---- (c) mean HR by weekday per scan type ----------------------------------------- */

static void render_weekday(struct report *r)
{
	static const int order[7] = {1, 2, 3, 4, 5, 6, 0};   /* Monday first */
	const double left = 70, plot_w = CHART_W - left - 24, plot_h = 260;
	const char **labels = NULL, **colours = NULL;
	double *mean = NULL, max = HR_TARGET_BPM, step, top, y0, group, bw, top_y;
	size_t *n = NULL;

	section_start(r, "weekday", "Heart rate by weekday");
	mean = malloc((r->ntypes ? r->ntypes : 1) * 7 * sizeof *mean);
	n = calloc((r->ntypes ? r->ntypes : 1) * 7, sizeof *n);
	if (!mean || !n || type_legend(r, &labels, &colours) < 0) {
		r->nomem = true;
		goto out;
	}
	for (size_t t = 0; t < r->ntypes; t++) {
		for (int d = 0; d < 7; d++) {
			size_t k = 0, cell = t * 7 + (size_t)d;

			for (size_t i = 0; i < r->n; i++)
				if (r->v[i].ti == t && r->v[i].weekday == d)
					r->scratch[k++] = r->v[i].hr_bpm;
			mean[cell] = audit_mean(r->scratch, k);
			n[cell] = audit_count_known(r->scratch, k);
			if (mean[cell] > max)
				max = mean[cell];
		}
	}
	step = nice_step(max, 5, false);
	top = axis_top(max, step, true);
	top_y = legend(r, left, 18, r->ntypes, labels, colours, true) + 30;
	y0 = top_y + plot_h;
	svg_open(r, "weekday-hr", CHART_W, (int)(y0 + 30), "Mean heart rate by weekday "
	         "per scan type", "Grouped bars: mean heart rate of the exams of each "
	         "weekday, Monday to Sunday, one bar per scan type; a dashed line marks "
	         "65 bpm.");
	legend(r, left, 18, r->ntypes, labels, colours, false);
	target_key(r, left, top_y - 24);
	y_axis(r, left, y0, plot_w, plot_h, top, step, "Mean heart rate (bpm)");
	group = plot_w / 7;
	bw = group * 0.8 / (double)r->ntypes;
	for (int k = 0; k < 7; k++) {
		int d = order[k];
		double gx = left + k * group + group * 0.1;

		for (size_t t = 0; t < r->ntypes; t++) {
			double m = mean[t * 7 + (size_t)d], bh;
			size_t c = n[t * 7 + (size_t)d];

			if (isnan(m))
				continue;
			bh = m / top * plot_h;
			bar(r, gx + (double)t * bw + 1, y0 - bh, bw - 2, bh, colours[t],
			    "%s, %s: mean %.1f bpm, %zu exam%s", labels[t],
			    audit_weekday_name(d), m, c, c == 1 ? "" : "s");
			if (bw >= 22)
				put(r, "<text class=\"value\" x=\"%.1f\" y=\"%.1f\" "
				    "text-anchor=\"middle\">%.0f</text>\n", gx + (double)t * bw + bw / 2,
				    y0 - bh - 4, m);
		}
		put(r, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
		    "%s</text>\n", left + k * group + group / 2, y0 + 18, audit_weekday_name(d));
	}
	{
		double y = y0 - HR_TARGET_BPM / top * plot_h;

		put(r, "<line class=\"target\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
		    "y2=\"%.1f\"/>\n", left, y, left + plot_w, y);
	}
	figure_end(r, "Mean heart rate by weekday, one bar per scan type; the dashed line "
	           "marks %d bpm. Hover over a bar for the number of exams.%s",
	           HR_TARGET_BPM,
	           r->undated ? " Exams without a study date are left out." : "");
out:
	section_end(r);
	free(mean);
	free(n);
	free(labels);
	free(colours);
}

/* ---- (d) dose per scan type and scanner -------------------------------------------- */

/* One panel of grouped bars: the median of f per scan type (groups) and
 * scanner (bars).  y0 is the panel's baseline. */
static void dose_panel(struct report *r, enum field f, double y0, double plot_h,
                       const char *axis, const char *unit)
{
	const double left = 70, plot_w = CHART_W - left - 24;
	const double group = plot_w / (double)r->ntypes;
	const double bw = group * 0.8 / (double)r->nscanners;
	double max = 0, step, top;

	for (size_t t = 0; t < r->ntypes; t++)
		for (size_t s = 0; s < r->nscanners; s++) {
			struct stats st = stats_of(r, s, t, f);
			if (st.median > max)
				max = st.median;
		}
	step = nice_step(max, 5, false);
	top = axis_top(max, step, true);
	y_axis(r, left, y0, plot_w, plot_h, top, step, axis);
	for (size_t t = 0; t < r->ntypes; t++) {
		double gx = left + (double)t * group + group * 0.1;
		char name[LABEL_BUF];

		for (size_t s = 0; s < r->nscanners; s++) {
			struct stats st = stats_of(r, s, t, f);
			double bh;

			if (isnan(st.median))
				continue;
			bh = st.median / top * plot_h;
			bar(r, gx + (double)s * bw + 1, y0 - bh, bw - 2, bh, scanner_colour(s),
			    "%s on %s: median %.2f %s (%zu exam%s with a value)",
			    type_label(r->types[t]), scanner_label(r->scanners[s]), st.median,
			    unit, st.known, st.known == 1 ? "" : "s");
			if (bw >= 26)
				put(r, "<text class=\"value\" x=\"%.1f\" y=\"%.1f\" "
				    "text-anchor=\"middle\">%.*f</text>\n", gx + (double)s * bw + bw / 2,
				    y0 - bh - 4, st.median < 100 ? 1 : 0, st.median);
		}
		put(r, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
		    left + (double)t * group + group / 2, y0 + 18);
		esc(r, cut(name, sizeof name, type_label(r->types[t]),
		           (size_t)(group / 6.2 > 8 ? group / 6.2 : 8)));
		put(r, "<title>");
		esc(r, type_label(r->types[t]));
		put(r, "</title></text>\n");
	}
	if (max == 0)
		put(r, "<text class=\"empty\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
		    "No exam has this value.</text>\n", left + plot_w / 2, y0 - plot_h / 2);
}

static void dose_table(struct report *r)
{
	put(r, "<table>\n<caption>Dose per scan type and scanner</caption>\n<thead><tr>"
	    "<th scope=\"col\">Scan type</th><th scope=\"col\">Scanner</th>"
	    "<th scope=\"col\" class=\"num\">Exams</th>"
	    "<th scope=\"col\" class=\"num\">Mean HR (bpm)</th>"
	    "<th scope=\"col\" class=\"num\">Median CTDIvol (mGy)</th>%s</tr></thead>\n"
	    "<tbody>\n", r->all.has_dlp ? "<th scope=\"col\" class=\"num\">Median DLP "
	    "(mGy\xc2\xb7" "cm)</th>" : "");
	for (size_t t = 0; t < r->ntypes; t++) {
		for (size_t s = 0; s < r->nscanners; s++) {
			struct stats ct = stats_of(r, s, t, F_CTDIVOL);

			if (ct.n == 0)
				continue;
			put(r, "<tr><td><span class=\"swatch\" style=\"background:%s\"></span>",
			    type_colour(r->types[t]));
			esc(r, type_label(r->types[t]));
			put(r, "</td><td>");
			esc(r, scanner_label(r->scanners[s]));
			put(r, "</td><td class=\"num\">%zu</td>", ct.n);
			cell_number(r, stats_of(r, s, t, F_HR).mean);
			cell_number(r, ct.median);
			if (r->all.has_dlp)
				cell_number(r, stats_of(r, s, t, F_DLP).median);
			put(r, "</tr>\n");
		}
	}
	put(r, "</tbody>\n</table>\n");
}

static void render_dose(struct report *r)
{
	const double plot_h = 220, panel_h = plot_h + 62;
	const char **labels = malloc((r->nscanners ? r->nscanners : 1) * sizeof *labels);
	const char **colours = malloc((r->nscanners ? r->nscanners : 1) * sizeof *colours);
	double top_y;

	section_start(r, "dose", "Dose per scan type");
	if (!labels || !colours) {
		r->nomem = true;
		goto out;
	}
	for (size_t s = 0; s < r->nscanners; s++) {
		labels[s] = scanner_label(r->scanners[s]);
		colours[s] = scanner_colour(s);
	}
	top_y = legend(r, 70, 18, r->nscanners, labels, colours, true) + 22;
	svg_open(r, "dose", CHART_W, (int)(top_y + panel_h * (r->all.has_dlp ? 2 : 1)),
	         "Median dose per scan type and scanner", r->all.has_dlp ?
	         "Grouped bars: median CTDIvol and median DLP of the exams of each scan "
	         "type, one bar per scanner." : "Grouped bars: median CTDIvol of the "
	         "exams of each scan type, one bar per scanner.");
	legend(r, 70, 18, r->nscanners, labels, colours, false);
	put(r, "<text class=\"panel-title\" x=\"70\" y=\"%.1f\">CTDIvol</text>\n", top_y - 8);
	dose_panel(r, F_CTDIVOL, top_y + plot_h, plot_h, "Median CTDIvol (mGy)", "mGy");
	if (r->all.has_dlp) {
		put(r, "<text class=\"panel-title\" x=\"70\" y=\"%.1f\">DLP</text>\n",
		    top_y + panel_h - 8);
		dose_panel(r, F_DLP, top_y + panel_h + plot_h, plot_h,
		           "Median DLP (mGy\xc2\xb7" "cm)", "mGy\xc2\xb7" "cm");
	}
	figure_end(r, "Median CTDIvol%s per scan type, one bar per scanner. Hover over a "
	           "bar for the number of exams with a value.%s",
	           r->all.has_dlp ? " and median DLP" : "",
	           r->all.has_dlp ? "" : " This database does not record DLP.");
	dose_table(r);
out:
	section_end(r);
	free(labels);
	free(colours);
}

/* ---- (e) compliance ---------------------------------------------------------------- */

/* A 100 % stacked bar of counts c[0..ncat) with its label on the left. */
static void share_row(struct report *r, double y, const char *label, bool strong,
                      const size_t *c, int ncat, const char *const *labels,
                      const char *const *colours)
{
	const double left = SHARE_LEFT, plot_w = SHARE_W, bh = 20;
	char name[LABEL_BUF];
	size_t n = 0;
	double x = left;

	for (int k = 0; k < ncat; k++)
		n += c[k];
	put(r, "<text class=\"row-label%s\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">",
	    strong ? " strong" : "", left - 10, y + bh / 2 + 4);
	esc(r, cut(name, sizeof name, label, LABEL_CHARS + 6));
	put(r, "<title>");
	esc(r, label);
	put(r, "</title></text>\n");
	for (int k = 0; k < ncat && n; k++) {
		double w = plot_w * (double)c[k] / (double)n;

		if (!c[k])
			continue;
		bar(r, x, y, w, bh, colours[k], "%s: %s, %zu of %zu exam%s (%.0f %%)", label,
		    labels[k], c[k], n, n == 1 ? "" : "s", 100.0 * (double)c[k] / (double)n);
		if (w >= 36)
			put(r, "<text class=\"in-bar\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
			    "%.0f%%</text>\n", x + w / 2, y + bh / 2 + 4,
			    100.0 * (double)c[k] / (double)n);
		x += w;
	}
}

/* The rows of a share chart: all exams, then each scanner and its scan
 * types.  row(r, si, ti, y, label, strong) draws one. */
typedef void share_row_fn(struct report *r, size_t si, size_t ti, double y,
                          const char *label, bool strong);

static size_t share_rows(struct report *r)
{
	size_t rows = 1;

	for (size_t s = 0; s < r->nscanners; s++) {
		rows++;
		for (size_t t = 0; t < r->ntypes; t++)
			rows += stats_of(r, s, t, F_HR).n ? 1 : 0;
	}
	return rows;
}

#define SHARE_ROW_H 28
#define SHARE_GAP 12

static double share_chart_height(struct report *r, double top)
{
	return top + SHARE_ROW_H * (double)share_rows(r) +
	       SHARE_GAP * (double)(r->nscanners + 1) + 8;
}

static void share_chart_rows(struct report *r, double y, share_row_fn *row)
{
	row(r, ANY, ANY, y, "All exams", true);
	y += SHARE_ROW_H + SHARE_GAP;
	for (size_t s = 0; s < r->nscanners; s++) {
		row(r, s, ANY, y, scanner_label(r->scanners[s]), true);
		y += SHARE_ROW_H;
		for (size_t t = 0; t < r->ntypes; t++) {
			if (stats_of(r, s, t, F_HR).n == 0)
				continue;
			row(r, s, t, y, type_label(r->types[t]), false);
			y += SHARE_ROW_H;
		}
		y += SHARE_GAP;
	}
}

static bool in_cell(const struct rexam *e, size_t si, size_t ti)
{
	return (si == ANY || e->si == si) && (ti == ANY || e->ti == ti);
}

/* Protocol compliance: the verdicts of compliance.h. */
#define NVERDICTS (COMPLIANCE_NO_SCAN_TYPE + 1)

static const char *const verdict_labels[NVERDICTS] = {
	[COMPLIANCE_COMPLIANT] = "Scan type as the protocol says",
	[COMPLIANCE_NONCOMPLIANT] = "Another scan type",
	[COMPLIANCE_NO_RULE] = "No rule applies",
	[COMPLIANCE_NO_HR] = "Not judged: no heart rate",
	[COMPLIANCE_NO_SCAN_TYPE] = "Not judged: scan type unknown",
};
static const char *const verdict_colours[NVERDICTS] = {
	[COMPLIANCE_COMPLIANT] = "#009E73",
	[COMPLIANCE_NONCOMPLIANT] = "#D55E00",
	[COMPLIANCE_NO_RULE] = "#C8C8C8",
	[COMPLIANCE_NO_HR] = "#A0A0A0",
	[COMPLIANCE_NO_SCAN_TYPE] = "#707070",
};

static void verdict_row(struct report *r, size_t si, size_t ti, double y,
                        const char *label, bool strong)
{
	size_t c[NVERDICTS] = {0}, judged, partial = 0;

	for (size_t i = 0; i < r->n; i++) {
		const struct rexam *e = &r->v[i];

		if (!in_cell(e, si, ti))
			continue;
		c[e->res.verdict]++;
		partial += compliance_judged(&e->res) && e->res.without;
	}
	share_row(r, y, label, strong, c, NVERDICTS, verdict_labels, verdict_colours);
	judged = c[COMPLIANCE_COMPLIANT] + c[COMPLIANCE_NONCOMPLIANT];
	put(r, "<text class=\"row-note\" x=\"%d\" y=\"%.1f\">%zu", NOTE_COL1, y + 14, judged);
	if (judged)
		put(r, "<tspan class=\"rate\" x=\"%d\">%.0f %%</tspan>", NOTE_COL2,
		    100.0 * (double)c[COMPLIANCE_COMPLIANT] / (double)judged);
	if (partial)
		put(r, "<tspan x=\"%d\">%zu</tspan>", NOTE_COL3, partial);
	put(r, "</text>\n");
}

/* "Diastolic sequential or Flash (high-pitch spiral)" for "seq_diastolic|flash". */
static void expected_text(struct report *r, const char *expected)
{
	char code[COMPLIANCE_EXPECTED_MAX];

	if (!*expected) {
		put(r, "&ndash;");
		return;
	}
	for (const char *p = expected; *p; ) {
		size_t len = strcspn(p, "|");

		if (len >= sizeof code)
			len = sizeof code - 1;
		memcpy(code, p, len);
		code[len] = '\0';
		if (p != expected)
			put(r, " or ");
		esc(r, type_label(code));
		p += len;
		p += *p == '|';
	}
}

static int cmp_noncompliant(const void *pa, const void *pb)
{
	const struct rexam *a = *(const struct rexam *const *)pa;
	const struct rexam *b = *(const struct rexam *const *)pb;

	if (a->si != b->si)
		return a->si < b->si ? -1 : 1;
	if (a->ti != b->ti)
		return a->ti < b->ti ? -1 : 1;
	return strcmp(a->res.expected, b->res.expected);
}

/* The non-compliant exams, grouped by scanner, scan type done and scan
 * type expected. */
static void noncompliant_table(struct report *r)
{
	const struct rexam **v = malloc((r->n ? r->n : 1) * sizeof *v);
	size_t n = 0, rows = 0;

	if (!v) {
		r->nomem = true;
		return;
	}
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].res.verdict == COMPLIANCE_NONCOMPLIANT)
			v[n++] = &r->v[i];
	if (n == 0) {
		put(r, "<p class=\"note\">Every judged exam had the scan type the protocol "
		    "calls for.</p>\n");
		free(v);
		return;
	}
	qsort(v, n, sizeof *v, cmp_noncompliant);
	put(r, "<table>\n<caption>Exams with another scan type than the protocol's"
	    "</caption>\n<thead><tr><th scope=\"col\">Scanner</th>"
	    "<th scope=\"col\">Scan type done</th><th scope=\"col\">Protocol says</th>"
	    "<th scope=\"col\" class=\"num\">Exams</th></tr></thead>\n<tbody>\n");
	for (size_t first = 0, end; first < n; first = end) {
		for (end = first + 1; end < n && cmp_noncompliant(&v[first], &v[end]) == 0; end++)
			;
		put(r, "<tr><td>");
		esc(r, scanner_label(r->scanners[v[first]->si]));
		put(r, "</td><td><span class=\"swatch\" style=\"background:%s\"></span>",
		    type_colour(v[first]->type));
		esc(r, type_label(v[first]->type));
		put(r, "</td><td>");
		expected_text(r, v[first]->res.expected);
		put(r, "</td><td class=\"num\">%zu</td></tr>\n", end - first);
		rows++;
	}
	put(r, "</tbody>\n</table>\n");
	free(v);
}

static void rules_list(struct report *r)
{
	const struct compliance_rules *rules = r->rules;

	put(r, "<details>\n<summary>The protocol: %zu rule%s, first match wins "
	    "(HRV high from %u bpm)</summary>\n<ol class=\"rules\">\n", rules->n,
	    rules->n == 1 ? "" : "s", r->hrv_high_bpm);
	for (size_t i = 0; i < rules->n; i++) {
		put(r, "<li><code>");
		esc(r, rules->rules[i].text ? rules->rules[i].text : rules->rules[i].code);
		put(r, "</code></li>\n");
	}
	put(r, "</ol>\n<p class=\"note\">From the [compliance] rules of the "
	    "configuration; without any, the seed site's table.</p>\n</details>\n");
}

static void render_compliance(struct report *r)
{
	double y;

	section_start(r, "compliance", "Compliance with the scan-selection protocol");
	y = legend(r, 70, 18, NVERDICTS, verdict_labels, verdict_colours, true) + 24;
	svg_open(r, "compliance", CHART_W, (int)share_chart_height(r, y),
	         "Protocol compliance per scanner and scan type",
	         "100 % stacked bars: share of exams scanned with the scan type the "
	         "site's scan-selection protocol calls for, with another one, or not "
	         "judged, for all exams, each scanner and each scan type done.");
	legend(r, 70, 18, NVERDICTS, verdict_labels, verdict_colours, false);
	put(r, "<text class=\"row-note head\" x=\"%d\" y=\"%.1f\">Judged</text>"
	    "<text class=\"row-note head\" x=\"%d\" y=\"%.1f\">Compliant</text>"
	    "<text class=\"row-note head\" x=\"%d\" y=\"%.1f\">Partial</text>\n",
	    NOTE_COL1, y - 8, NOTE_COL2, y - 8, NOTE_COL3, y - 8);
	share_chart_rows(r, y, verdict_row);
	figure_end(r, "Was the scan type the one the site's protocol calls for, given the "
	           "exam's heart rate, heart-rate variability, calcium score and scanner? "
	           "Compliant is the share of the judged exams; partial counts the judged "
	           "exams that lacked a calcium score or HRV (judged on what was known; "
	           "hraudit import-calcium adds the scores). Hover over a bar for its "
	           "count.");
	noncompliant_table(r);
	rules_list(r);
	section_end(r);
}

/* Heart-rate control against the published thresholds (DOMAIN.md). */
enum hr_class { HR_ON_TARGET, HR_ABOVE_TARGET, HR_HIGH, HR_MISSING, HR_NCLASSES };

static const char *const hr_class_labels[HR_NCLASSES] = {
	[HR_ON_TARGET] = "HR below 65 bpm (target)",
	[HR_ABOVE_TARGET] = "HR 65 to 69 bpm",
	[HR_HIGH] = "HR 70 bpm or more",
	[HR_MISSING] = "HR not recorded",
};
static const char *const hr_class_colours[HR_NCLASSES] = {
	[HR_ON_TARGET] = "#009E73",
	[HR_ABOVE_TARGET] = "#E69F00",
	[HR_HIGH] = "#D55E00",
	[HR_MISSING] = "#A0A0A0",
};

static enum hr_class hr_class_of(double hr)
{
	if (isnan(hr))
		return HR_MISSING;
	return hr < HR_TARGET_BPM ? HR_ON_TARGET : hr < HR_RISK_BPM ? HR_ABOVE_TARGET : HR_HIGH;
}

/* Prospectively ECG-triggered: the sequential modes and the flash spiral. */
static bool prospective(const char *type)
{
	return type && (strcmp(type, "flash") == 0 || strcmp(type, "seq_diastolic") == 0 ||
	                strcmp(type, "seq_systolic") == 0 ||
	                strcmp(type, "uhr_seq_diastolic") == 0);
}

static void hr_control_row(struct report *r, size_t si, size_t ti, double y,
                           const char *label, bool strong)
{
	size_t c[HR_NCLASSES] = {0}, n = 0, gated = 0, risk = 0;

	for (size_t i = 0; i < r->n; i++) {
		const struct rexam *e = &r->v[i];

		if (!in_cell(e, si, ti))
			continue;
		n++;
		c[hr_class_of(e->hr_bpm)]++;
		if (prospective(e->type)) {
			gated++;
			risk += e->hr_bpm >= HR_RISK_BPM || e->hrv_bpm >= HRV_RISK_BPM;
		}
	}
	share_row(r, y, label, strong, c, HR_NCLASSES, hr_class_labels, hr_class_colours);
	put(r, "<text class=\"row-note\" x=\"%d\" y=\"%.1f\">%zu", NOTE_COL1, y + 14, n);
	if (gated)
		put(r, "<tspan x=\"%d\"%s>%zu of %zu</tspan>", NOTE_COL2,
		    risk ? " class=\"risk\"" : "", risk, gated);
	put(r, "</text>\n");
}

static void render_hr_control(struct report *r)
{
	double y;

	section_start(r, "hr-control", "Heart-rate control");
	y = legend(r, 70, 18, HR_NCLASSES, hr_class_labels, hr_class_colours, true) + 24;
	svg_open(r, "hr-control", CHART_W, (int)share_chart_height(r, y),
	         "Heart-rate control per scanner and scan type",
	         "100 % stacked bars: share of exams with the heart rate below 65 bpm, "
	         "65 to 69 bpm, 70 bpm or more, or not recorded, with the number of "
	         "prospectively gated exams at risk of failing.");
	legend(r, 70, 18, HR_NCLASSES, hr_class_labels, hr_class_colours, false);
	put(r, "<text class=\"row-note head\" x=\"%d\" y=\"%.1f\">Exams</text>"
	    "<text class=\"row-note head\" x=\"%d\" y=\"%.1f\">Gated at risk</text>\n",
	    NOTE_COL1, y - 8, NOTE_COL2, y - 8);
	share_chart_rows(r, y, hr_control_row);
	figure_end(r, "Heart rates against the published thresholds: below %d bpm is the "
	           "beta-blocker target. \"Gated at risk\" counts the prospectively gated "
	           "exams (sequential or flash) with a heart rate of %d bpm or more or a "
	           "heart-rate variation of %d bpm or more, which predict a failed scan. "
	           "Hover over a bar for its count.", HR_TARGET_BPM, HR_RISK_BPM,
	           HRV_RISK_BPM);
	section_end(r);
}

/* ---- the page ----------------------------------------------------------------------- */

static const char style[] =
	":root{color-scheme:light;--ink:#1f2328;--muted:#59636e;--line:#d1d9e0;"
	"--panel:#f6f8fa;--accent:#0b5cad}\n"
	"*{box-sizing:border-box}\n"
	"body{margin:0;font:15px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,"
	"\"Noto Sans\",\"DejaVu Sans\",sans-serif;color:var(--ink);background:#fff}\n"
	"header{background:#12355b;color:#fff;padding:28px 0 22px}\n"
	"header>div,main,footer{max-width:1040px;margin:0 auto;padding:0 24px}\n"
	"h1{margin:0 0 6px;font-size:28px;font-weight:650;letter-spacing:-.01em}\n"
	"header p{margin:0;color:#d6e4f5}\n"
	"header strong{color:#fff}\n"
	"h2{font-size:20px;margin:40px 0 12px;padding-bottom:6px;"
	"border-bottom:1px solid var(--line)}\n"
	"figure{margin:0 0 16px}\n"
	"figcaption{color:var(--muted);font-size:14px;margin-top:6px;max-width:80ch}\n"
	"svg.chart{display:block;width:100%;height:auto;max-width:960px;"
	"font-family:inherit}\n"
	"svg.chart text{font-size:12px;fill:var(--ink)}\n"
	"svg.chart .tick{fill:var(--muted);font-size:11px}\n"
	"svg.chart .axis-label{font-size:12px;fill:var(--muted)}\n"
	"svg.chart .panel-title{font-size:13px;font-weight:600}\n"
	"svg.chart .panel-title .sub{font-weight:400;fill:var(--muted)}\n"
	"svg.chart .value{font-size:10.5px;fill:var(--muted)}\n"
	"svg.chart .in-bar{font-size:11px;fill:#fff;font-weight:600;pointer-events:none}\n"
	"svg.chart .row-label{font-size:12.5px}\n"
	"svg.chart .row-label.strong{font-weight:600}\n"
	"svg.chart .row-note{font-size:12px;fill:var(--muted)}\n"
	"svg.chart .row-note .risk,svg.chart .risk{fill:#b42318;font-weight:600}\n"
	"svg.chart .rate{font-weight:600;fill:var(--ink)}\n"
	"svg.chart .row-note.head{font-size:11px;text-transform:uppercase;"
	"letter-spacing:.04em}\n"
	"svg.chart .empty{font-size:14px;fill:var(--muted)}\n"
	"svg.chart .grid{stroke:#e6eaef;stroke-width:1}\n"
	"svg.chart .axis{stroke:#8c959f;stroke-width:1}\n"
	"svg.chart .target{stroke:#b42318;stroke-width:1.5;stroke-dasharray:5 4}\n"
	"svg.chart .target-label{fill:#b42318;font-size:11px}\n"
	"svg.chart rect:hover{opacity:.8}\n"
	".cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));"
	"gap:12px;margin:0 0 20px;padding:0}\n"
	".cards div{background:var(--panel);border:1px solid var(--line);"
	"border-radius:8px;padding:12px 16px}\n"
	".cards dt{color:var(--muted);font-size:13px}\n"
	".cards dd{margin:0;font-size:26px;font-weight:650;"
	"font-variant-numeric:tabular-nums}\n"
	".cards small{font-size:14px;font-weight:400;color:var(--muted)}\n"
	"table{border-collapse:collapse;width:100%;margin:8px 0 16px;font-size:14px}\n"
	"caption{text-align:left;font-weight:600;padding:4px 0 8px}\n"
	"th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left}\n"
	"thead th{background:var(--panel);font-weight:600;font-size:13px}\n"
	".num{text-align:right;font-variant-numeric:tabular-nums}\n"
	"td.missing{color:var(--muted)}\n"
	"table:not(.grouped) tbody tr:nth-child(even){background:#fbfcfd}\n"
	"table.grouped tbody+tbody tr:first-child>*{border-top:2px solid var(--line)}\n"
	"tr.subtotal td,tr.subtotal th{font-style:italic;color:var(--muted)}\n"
	"tr.total th,tr.total td{font-weight:650;border-top:2px solid var(--ink)}\n"
	".swatch{display:inline-block;width:10px;height:10px;border-radius:2px;"
	"margin-right:7px;vertical-align:baseline}\n"
	".note,.empty-page{color:var(--muted)}\n"
	".empty-page{font-size:18px;margin:40px 0;padding:24px;background:var(--panel);"
	"border:1px solid var(--line);border-radius:8px}\n"
	"details{margin:8px 0 16px;font-size:14px}\n"
	"summary{cursor:pointer;color:var(--accent)}\n"
	".rules code{font:13px ui-monospace,\"DejaVu Sans Mono\",monospace}\n"
	"footer{color:var(--muted);font-size:13px;margin-top:40px;padding-bottom:32px}\n"
	"@media print{header{background:none;color:var(--ink)}header p{color:var(--ink)}"
	"header strong{color:var(--ink)}section,figure{break-inside:avoid}}\n";

/* "2024-01-01 to 2024-12-31", from the options or else from the data. */
static void period_text(const struct report *r, char *buf, size_t size)
{
	const char *from = r->from ? r->from : r->first[0] ? r->first : NULL;
	const char *to = r->to ? r->to : r->last[0] ? r->last : NULL;

	if (from && to)
		snprintf(buf, size, "%s to %s", from, to);
	else if (from)
		snprintf(buf, size, "from %s", from);
	else if (to)
		snprintf(buf, size, "up to %s", to);
	else
		snprintf(buf, size, "all recorded exams");
}

static void render_page(struct report *r)
{
	char period[64], now[64];
	time_t t = time(NULL);
	struct tm tm;

	period_text(r, period, sizeof period);
	if (!localtime_r(&t, &tm) ||
	    strftime(now, sizeof now, "%Y-%m-%d %H:%M %Z", &tm) == 0)
		snprintf(now, sizeof now, "(unknown time)");
	put(r, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	    "<meta name=\"generator\" content=\"hraudit report\">\n"
	    "<title>Cardiac CT heart-rate audit, ");
	esc(r, period);
	put(r, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<header><div>\n"
	    "<h1>Cardiac CT heart-rate audit</h1>\n<p>Period: <strong>", style);
	esc(r, period);
	put(r, "</strong> &middot; generated <time>");
	esc(r, now);
	put(r, "</time></p>\n</div></header>\n<main>\n");
	if (r->n == 0) {
		put(r, "<p class=\"empty-page\">No exams in the period.</p>\n");
	} else {
		render_summary(r);
		render_histogram(r);
		render_mix(r);
		render_weekday(r);
		render_dose(r);
		render_compliance(r);
		render_hr_control(r);
	}
	put(r, "</main>\n<footer><p>Exams are counted once however many series they "
	    "were reconstructed into. Heart rate is the mean during the scan (hr_avg), "
	    "HRV the scanner's variation (hr_var). Made by <code>hraudit report</code> "
	    "from the exam view of the hraudit database.</p></footer>\n</body>\n</html>\n");
}

/* ---- writing the file ------------------------------------------------------------ */

/* Renders the page into path, replaced atomically (cli_output_open).
 * Returns an exit status, having said why on failure. */
static int write_page(struct report *r, const char *path)
{
	struct cli_output out;
	int status = 0;

	if (cli_output_open(&out, path) != 0)
		return 1;
	r->f = out.f;
	render_page(r);
	if (r->nomem) {
		fprintf(stderr, "hraudit: out of memory\n");
		status = 1;
	}
	r->f = NULL;
	return cli_output_close(&out, status);
}

/* ---- the command --------------------------------------------------------------------- */

int cmd_report(struct cli *cli, int argc, char **argv)
{
	enum { OPT_HTML = 256, OPT_FROM, OPT_TO };
	static const struct option opts[] = {
		{"html", required_argument, NULL, OPT_HTML},
		{"from", required_argument, NULL, OPT_FROM},
		{"to", required_argument, NULL, OPT_TO},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct report r = {0};
	const char *html = NULL;
	int c, status = 1;

	optind = 0;   /* 0, not 1: glibc then re-reads the option order (main used "+") */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HTML:
			html = optarg;
			break;
		case OPT_FROM:
		case OPT_TO:
			if (!audit_date_valid(optarg))
				return cli_bad_usage("report: bad date '%s' (YYYY-MM-DD)", optarg);
			*(c == OPT_FROM ? &r.from : &r.to) = optarg;
			break;
		case 'h':
			cli_usage(stdout);
			return 0;
		default:
			return cli_bad_usage("%s: bad option", "report");
		}
	}
	if (optind != argc)
		return cli_bad_usage("report: unexpected argument '%s'", argv[optind]);
	if (!html || !*html)
		return cli_bad_usage("report: %s", "--html FILE is required");
	if (r.from && r.to && strcmp(r.from, r.to) > 0)
		return cli_bad_usage("report: --from %s is after --to", r.from);

	if (fetch(cli, &r) != 0)
		goto out;
	r.rules = &cli->cfg.compliance.rules;
	r.hrv_high_bpm = cli->cfg.compliance.hrv_high_bpm;
	if (prepare(&r) < 0) {
		fprintf(stderr, "hraudit: out of memory\n");
		goto out;
	}
	status = write_page(&r, html);
out:
	report_release(&r);
	return status;
}
