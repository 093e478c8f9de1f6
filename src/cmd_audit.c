/*
 * cmd_audit.c - the audit reports the physicists made by hand (DOMAIN.md,
 * the seed's Results pages): summary (exams, HR, HRV and dose per scanner,
 * scan type, month or year), weekday (count and mean HR per weekday, per
 * scan type and scanner) and histogram (HR per scanner).
 *
 * Every report reads the `exam` view (sql/003-audit.sql: counts are of
 * exams, not series) with cli_load_exams(), filters and aggregates in C
 * with audit.h and prints through output.h.  A scanner is the model name.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "classify.h"
#include "cli.h"

#define MAX_KEYS 4              /* --by scanner,scan_type,month,year       */
#define MAX_BINS 1000           /* histogram bins between lowest and highest */
#define MIN_BAR 10              /* histogram bar columns, at least          */
#define MAX_BAR 1000            /* and at most                              */
#define UNKNOWN_LABEL "(unknown)" /* a missing key, in table format only    */

/* The options every report takes. */
struct report_args {
	const char *from, *to;      /* study_date bounds, inclusive, or NULL   */
	const char *scanner;        /* model, or NULL                          */
	const char *scan_type;      /* scan type code, or NULL                 */
	enum output_format fmt;
};

/* One exam, as the reports group it: strings (borrowed from struct
 * cli_exam) NULL and numbers NAN when missing. */
struct exam {
	const char *scanner;        /* model                                   */
	const char *scan_type;
	char month[8];              /* YYYY-MM of study_date, or ""            */
	char year[5];               /* YYYY, or ""                             */
	int weekday;                /* 0 Sunday .. 6 Saturday, -1 unknown      */
	double hr_bpm;              /* hr_avg                                  */
	double hrv_bpm;             /* hr_var                                  */
	double ctdivol_mgy;
	double dlp_mgycm;
	bool dlp_rdsr;              /* dlp_mgycm is from the dose SR           */
	const int *by;              /* summary: the --by keys (enum by_key)    */
	int nkeys;
	size_t cell;                /* weekday: (type, scanner, day) index     */
};

struct exams {
	struct cli_exams all;       /* as read                                 */
	struct exam *v;             /* those that pass the filters             */
	size_t n;
};

enum { OPT_FROM = 256, OPT_TO, OPT_SCANNER, OPT_SCAN_TYPE, OPT_FORMAT, OPT_BY, OPT_BIN };

/* ---- arguments --------------------------------------------------------------- */

static int report_bad_usage(const char *cmd, const char *what, const char *arg)
{
	char msg[512];

	snprintf(msg, sizeof msg, "%s: %s", cmd, what);
	return cli_bad_usage(msg, arg);
}

/* Handles an option every report shares.  Returns 0, CLI_EXIT_USAGE (said
 * why), or -1 when c is not one of them. */
static int common_option(const char *cmd, int c, const char *arg,
                         struct report_args *a)
{
	switch (c) {
	case OPT_FROM:
	case OPT_TO:
		if (!audit_date_valid(arg))
			return report_bad_usage(cmd, "bad date '%s' (YYYY-MM-DD)", arg);
		*(c == OPT_FROM ? &a->from : &a->to) = arg;
		return 0;
	case OPT_SCANNER:
		if (!*arg)
			return report_bad_usage(cmd, "empty --scanner%s", "");
		a->scanner = arg;
		return 0;
	case OPT_SCAN_TYPE:
		if (!classify_code_valid(arg))
			return report_bad_usage(cmd, "unknown scan type '%s' (flash, seq_diastolic, "
			                  "seq_systolic, spiral_retro, uhr_spiral_retro, "
			                  "uhr_seq_diastolic)", arg);
		a->scan_type = arg;
		return 0;
	case OPT_FORMAT:
		if (output_parse_format(arg, &a->fmt) < 0)
			return report_bad_usage(cmd, "unknown format '%s' (table, csv or json)", arg);
		return 0;
	default:
		return -1;
	}
}

/* After the options: no operands, and --from not after --to. */
static int check_args(const char *cmd, int argc, char **argv,
                      const struct report_args *a)
{
	if (optind != argc)
		return report_bad_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (a->from && a->to && strcmp(a->from, a->to) > 0)
		return report_bad_usage(cmd, "--from %s is after --to", a->from);
	return 0;
}

#define COMMON_OPTIONS \
	{"from", required_argument, NULL, OPT_FROM}, \
	{"to", required_argument, NULL, OPT_TO}, \
	{"scanner", required_argument, NULL, OPT_SCANNER}, \
	{"scan-type", required_argument, NULL, OPT_SCAN_TYPE}, \
	{"format", required_argument, NULL, OPT_FORMAT}, \
	{"help", no_argument, NULL, 'h'}

/* ---- fetching exams ------------------------------------------------------------ */

/*
 * Opens the database and reads the exams that pass the filters (a NULL
 * model or scan type passes none).  DLP is NAN when the exam view has no
 * dlp_mgycm column (an older schema).  Returns 0, or 1 having said why.
 */
static int fetch_exams(struct cli *cli, const struct report_args *a, struct exams *ex)
{
	if (cli_open_store(cli, false) < 0 ||
	    cli_load_exams(cli, a->from, a->to, &ex->all) < 0)
		return 1;
	ex->v = malloc((ex->all.n ? ex->all.n : 1) * sizeof *ex->v);
	if (!ex->v) {
		fprintf(stderr, "hraudit: out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < ex->all.n; i++) {
		const struct cli_exam *x = &ex->all.v[i];
		struct exam *e = &ex->v[ex->n];

		if ((a->scanner && (!x->model || strcmp(x->model, a->scanner) != 0)) ||
		    (a->scan_type && (!x->scan_type || strcmp(x->scan_type, a->scan_type) != 0)))
			continue;
		*e = (struct exam){
			.scanner = cli_known(x->model), .scan_type = cli_known(x->scan_type),
			.weekday = x->weekday, .hr_bpm = x->hr_avg.value,
			.hrv_bpm = x->hr_var.value, .ctdivol_mgy = x->ctdivol_mgy.value,
			.dlp_mgycm = x->dlp_mgycm.value,
			.dlp_rdsr = x->dlp_source && strcmp(x->dlp_source, "rdsr") == 0,
		};
		if (x->date[0]) {
			memcpy(e->month, x->date, 7);
			memcpy(e->year, x->date, 4);
		}
		ex->n++;
	}
	return 0;
}

static void exams_release(struct exams *ex)
{
	cli_exams_release(&ex->all);
	free(ex->v);
	memset(ex, 0, sizeof *ex);
}

/* ---- shared helpers ------------------------------------------------------------ */

/* Strings in order, NULL (unknown) after every known value. */
static int cmp_key(const char *a, const char *b)
{
	if (!a || !b)
		return !a - !b;
	return strcmp(a, b);
}

static int cmp_key_ptr(const void *pa, const void *pb)
{
	return cmp_key(*(const char *const *)pa, *(const char *const *)pb);
}

/* The distinct values of one key, sorted (NULL last), as an array of n
 * borrowed pointers into the exams.  Returns NULL when out of memory (and
 * for no exams). */
static const char **distinct(const struct exams *ex, bool scanner, size_t *n)
{
	const char **v = malloc((ex->n ? ex->n : 1) * sizeof *v);
	size_t k = 0;

	*n = 0;
	if (!v)
		return NULL;
	for (size_t i = 0; i < ex->n; i++)
		v[i] = scanner ? ex->v[i].scanner : ex->v[i].scan_type;
	qsort(v, ex->n, sizeof *v, cmp_key_ptr);
	for (size_t i = 0; i < ex->n; i++)
		if (k == 0 || cmp_key(v[k - 1], v[i]) != 0)
			v[k++] = v[i];
	*n = k;
	return v;
}

static size_t index_of(const char **v, size_t n, const char *key)
{
	const char **p = bsearch(&key, v, n, sizeof *v, cmp_key_ptr);

	return p ? (size_t)(p - v) : 0;
}

/* A missing key: empty (CSV) or null (JSON), "(unknown)" in a table. */
static const char *key_text(const char *s, enum output_format fmt)
{
	if (s)
		return s;
	return fmt == OUTPUT_TABLE ? UNKNOWN_LABEL : NULL;
}

/* x with one decimal (halves away from zero, as sqlite3 and spreadsheets
 * round) into buf, or NULL for NAN. */
static const char *one_decimal(char *buf, size_t size, double x)
{
	if (isnan(x))
		return NULL;
	snprintf(buf, size, "%.1f", audit_round1(x));
	return buf;
}

static const char *count_text(char *buf, size_t size, size_t n)
{
	snprintf(buf, size, "%zu", n);
	return buf;
}

/* Finishes o: reports a failed write once.  Returns an exit status. */
static int finish(struct output *o, int status)
{
	if (output_finish(o) < 0 && status == 0) {
		fprintf(stderr, "hraudit: cannot write output: %s\n", strerror(errno));
		status = 1;
	}
	output_free(o);
	return status;
}

/* Starts the output with its header; NULL (said why) when out of memory. */
static struct output *start(enum output_format fmt, int ncols, const char *const *names)
{
	struct output *o = output_new(stdout, fmt);

	if (!o || output_header(o, ncols, names) < 0) {
		fprintf(stderr, "hraudit: out of memory\n");
		output_free(o);
		return NULL;
	}
	return o;
}

/* ---- summary ---------------------------------------------------------------- */

enum by_key { BY_SCANNER, BY_SCAN_TYPE, BY_MONTH, BY_YEAR };
static const char *const by_names[] = {"scanner", "scan_type", "month", "year"};

/* Parses --by's comma list into keys[], each name at most once.
 * Returns the number of keys, or CLI_EXIT_USAGE negated (said why). */
static int parse_by(const char *arg, int *keys)
{
	char name[32];
	int n = 0;

	for (const char *p = arg;; ) {
		size_t len = strcspn(p, ",");
		int k;

		if (len == 0 || len >= sizeof name)
			return -report_bad_usage("summary", "bad --by '%s' (a comma list of "
			                   "scanner, scan_type, month, year)", arg);
		memcpy(name, p, len);
		name[len] = '\0';
		for (k = 0; k < MAX_KEYS && strcmp(name, by_names[k]) != 0; k++)
			;
		if (k == MAX_KEYS)
			return -report_bad_usage("summary", "unknown --by key '%s' (scanner, "
			                   "scan_type, month, year)", name);
		for (int i = 0; i < n; i++)
			if (keys[i] == k)
				return -report_bad_usage("summary", "--by names '%s' twice", name);
		keys[n++] = k;
		if (!p[len])
			break;
		p += len + 1;
	}
	return n;
}

static const char *exam_key(const struct exam *e, int k)
{
	switch (k) {
	case BY_SCANNER: return e->scanner;
	case BY_SCAN_TYPE: return e->scan_type;
	case BY_MONTH: return e->month[0] ? e->month : NULL;
	case BY_YEAR: return e->year[0] ? e->year : NULL;
	}
	return NULL;
}

static int cmp_group(const void *pa, const void *pb)
{
	const struct exam *a = pa, *b = pb;

	for (int i = 0; i < a->nkeys; i++) {
		int c = cmp_key(exam_key(a, a->by[i]), exam_key(b, b->by[i]));
		if (c)
			return c;
	}
	return 0;
}

/* Prints one group: the exams ex->v[first..end). */
static int summary_row(struct output *o, const struct report_args *a,
                       const struct exams *ex, size_t first, size_t end,
                       int nkeys, const char *const *names, double *scratch)
{
	enum { NSTATS = 7 };
	const char *values[MAX_KEYS + NSTATS];
	bool numeric[MAX_KEYS + NSTATS];
	char buf[NSTATS][48];
	size_t n = end - first;
	int c = 0;

	for (int i = 0; i < nkeys; i++) {
		values[c] = key_text(exam_key(&ex->v[first], ex->v[first].by[i]), a->fmt);
		numeric[c++] = false;
	}
	values[c] = count_text(buf[0], sizeof buf[0], n);
	for (size_t i = 0; i < n; i++)
		scratch[i] = ex->v[first + i].hr_bpm;
	values[c + 1] = count_text(buf[1], sizeof buf[1], audit_count_known(scratch, n));
	values[c + 2] = one_decimal(buf[2], sizeof buf[2], audit_mean(scratch, n));
	values[c + 3] = one_decimal(buf[3], sizeof buf[3], audit_median(scratch, n));
	for (size_t i = 0; i < n; i++)
		scratch[i] = ex->v[first + i].hrv_bpm;
	values[c + 4] = one_decimal(buf[4], sizeof buf[4], audit_mean(scratch, n));
	for (size_t i = 0; i < n; i++)
		scratch[i] = ex->v[first + i].ctdivol_mgy;
	values[c + 5] = one_decimal(buf[5], sizeof buf[5], audit_median(scratch, n));
	for (size_t i = 0; i < n; i++)
		scratch[i] = ex->v[first + i].dlp_mgycm;
	values[c + 6] = one_decimal(buf[6], sizeof buf[6], audit_median(scratch, n));
	for (int i = 0; i < NSTATS; i++)
		numeric[c + i] = true;
	return output_row(o, c + NSTATS, names, values, numeric);
}

/* The line saying where the exams' DLP came from (standard error, so
 * that the CSV and JSON on standard output stay one table): the exam
 * view takes it from the dose SR (sql/005-dose.sql) or has none. */
static void summary_dlp_sources(const struct exams *ex, FILE *f)
{
	size_t rdsr = 0, none = 0;

	for (size_t i = 0; i < ex->n; i++) {
		if (isnan(ex->v[i].dlp_mgycm))
			none++;
		else if (ex->v[i].dlp_rdsr)
			rdsr++;
	}
	fprintf(f, "DLP from: dose SR (%zu exam%s), none (%zu)\n", rdsr,
	        rdsr == 1 ? "" : "s", none);
}

int cmd_summary(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_OPTIONS,
		{"by", required_argument, NULL, OPT_BY},
		{NULL, 0, NULL, 0},
	};
	static const char *const stats[] = {"exams", "exams_with_hr", "mean_hr_bpm",
		"median_hr_bpm", "mean_hrv_bpm", "median_ctdivol_mgy", "median_dlp_mgycm"};
	struct report_args a = {.fmt = OUTPUT_TABLE};
	int keys[MAX_KEYS] = {BY_SCANNER, BY_SCAN_TYPE};   /* enum by_key */
	const char *names[MAX_KEYS + 7];
	struct exams ex = {0};
	struct output *o = NULL;
	double *scratch = NULL;
	int nkeys = 2, ncols, c, r, status = 1;

	optind = 0;   /* 0, not 1: glibc then re-reads the option order (main used "+") */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if ((r = common_option("summary", c, optarg, &a)) >= 0) {
			if (r)
				return r;
		} else if (c == OPT_BY) {
			if ((nkeys = parse_by(optarg, keys)) < 0)
				return -nkeys;
		} else if (c == 'h') {
			cli_usage(stdout);
			return 0;
		} else {
			return cli_bad_usage("%s: bad option", "summary");
		}
	}
	if ((r = check_args("summary", argc, argv, &a)) != 0)
		return r;
	if (fetch_exams(cli, &a, &ex) != 0)
		goto out;

	for (ncols = 0; ncols < nkeys; ncols++)
		names[ncols] = by_names[keys[ncols]];
	for (size_t i = 0; i < sizeof stats / sizeof stats[0]; i++)
		names[ncols++] = stats[i];
	for (size_t i = 0; i < ex.n; i++) {
		ex.v[i].by = keys;
		ex.v[i].nkeys = nkeys;
	}
	qsort(ex.v, ex.n, sizeof *ex.v, cmp_group);

	scratch = malloc((ex.n ? ex.n : 1) * sizeof *scratch);
	if (!scratch) {
		fprintf(stderr, "hraudit: out of memory\n");
		goto out;
	}
	if (!(o = start(a.fmt, ncols, names)))
		goto out;
	status = 0;
	for (size_t first = 0, end; first < ex.n; first = end) {
		for (end = first + 1; end < ex.n && cmp_group(&ex.v[first], &ex.v[end]) == 0; end++)
			;
		if (summary_row(o, &a, &ex, first, end, nkeys, names, scratch) != 0)
			break;   /* output_finish reports it */
	}
	status = finish(o, status);
	if (status == 0 && ex.all.has_dlp)
		summary_dlp_sources(&ex, a.fmt == OUTPUT_TABLE ? stdout : stderr);
out:
	free(scratch);
	exams_release(&ex);
	return status;
}

/* ---- weekday ---------------------------------------------------------------- */

static int cmp_cell(const void *pa, const void *pb)
{
	const struct exam *a = pa, *b = pb;

	return (a->cell > b->cell) - (a->cell < b->cell);
}

int cmd_weekday(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	static const char *const names[] = {"scan_type", "scanner", "weekday",
		"exams", "mean_hr_bpm"};
	static const bool numeric[] = {false, false, false, true, true};
	struct report_args a = {.fmt = OUTPUT_TABLE};
	struct exams ex = {0};
	struct output *o = NULL;
	const char **types = NULL, **scanners = NULL;
	double *scratch = NULL;
	size_t ntypes, nscanners, undated = 0, k = 0;
	int c, r, status = 1;

	optind = 0;   /* 0, not 1: glibc then re-reads the option order (main used "+") */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if ((r = common_option("weekday", c, optarg, &a)) >= 0) {
			if (r)
				return r;
		} else if (c == 'h') {
			cli_usage(stdout);
			return 0;
		} else {
			return cli_bad_usage("%s: bad option", "weekday");
		}
	}
	if ((r = check_args("weekday", argc, argv, &a)) != 0)
		return r;
	if (fetch_exams(cli, &a, &ex) != 0)
		goto out;

	/* Every scan type seen with every scanner seen, seven days each, as
	 * in the seed's tables (a scanner without a scan type shows zeros). */
	types = distinct(&ex, false, &ntypes);
	scanners = distinct(&ex, true, &nscanners);
	scratch = malloc((ex.n ? ex.n : 1) * sizeof *scratch);
	if (!types || !scanners || !scratch) {
		fprintf(stderr, "hraudit: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < ex.n; i++) {
		struct exam *e = &ex.v[i];

		if (e->weekday < 0) {
			undated++;
			e->cell = SIZE_MAX;
			continue;
		}
		e->cell = (index_of(types, ntypes, e->scan_type) * nscanners +
		           index_of(scanners, nscanners, e->scanner)) * 7 + (size_t)e->weekday;
	}
	qsort(ex.v, ex.n, sizeof *ex.v, cmp_cell);

	if (!(o = start(a.fmt, 5, names)))
		goto out;
	status = 0;
	for (size_t cell = 0; cell < ntypes * nscanners * 7; cell++) {
		const char *values[5];
		char nbuf[24], hbuf[48];
		size_t n = 0;

		for (; k < ex.n && ex.v[k].cell == cell; k++)
			scratch[n++] = ex.v[k].hr_bpm;
		values[0] = key_text(types[cell / 7 / nscanners], a.fmt);
		values[1] = key_text(scanners[cell / 7 % nscanners], a.fmt);
		values[2] = audit_weekday_name((int)(cell % 7));
		values[3] = count_text(nbuf, sizeof nbuf, n);
		values[4] = one_decimal(hbuf, sizeof hbuf, audit_mean(scratch, n));
		if (output_row(o, 5, names, values, numeric) != 0)
			break;
	}
	status = finish(o, status);
	if (undated)
		fprintf(stderr, "hraudit: %zu exam%s without a study date left out\n",
		        undated, undated == 1 ? "" : "s");
out:
	free(types);
	free(scanners);
	free(scratch);
	exams_release(&ex);
	return status;
}

/* ---- histogram -------------------------------------------------------------- */

/* Columns for the bars: the terminal's width (COLUMNS, else 80) less the
 * other columns and their gaps. */
static int bar_columns(int used)
{
	const char *env = getenv("COLUMNS");
	char *end;
	long cols = 80;

	if (env && *env) {
		long v = strtol(env, &end, 10);
		if (*end == '\0' && v > 0)
			cols = v;
	}
	cols -= used;
	return cols < MIN_BAR ? MIN_BAR : cols > MAX_BAR ? MAX_BAR : (int)cols;
}

struct histogram {
	int width_bpm;
	long lo_bpm;                /* lower edge of the first bin             */
	size_t nbins;
	const char **scanners;
	size_t nscanners;
	unsigned long *count;       /* [scanner][bin]                          */
	unsigned long *no_hr;       /* [scanner]                               */
};

static void histogram_release(struct histogram *h)
{
	free(h->scanners);
	free(h->count);
	free(h->no_hr);
}

/* Counts the exams into h (width_bpm set).  Returns 0, or 1 having said
 * why. */
static int histogram_fill(struct histogram *h, const struct exams *ex)
{
	long lo = 0, hi = 0, from;
	bool any = false;

	for (size_t i = 0; i < ex->n; i++) {
		if (audit_bin(ex->v[i].hr_bpm, h->width_bpm, &from) < 0)
			continue;
		if (!any || from < lo)
			lo = from;
		if (!any || from > hi)
			hi = from;
		any = true;
	}
	if (any && (hi - lo) / h->width_bpm >= MAX_BINS) {
		fprintf(stderr, "hraudit: heart rates from %ld to %ld bpm need more than "
		        "%d bins of %d bpm\n", lo, hi + h->width_bpm - 1, MAX_BINS,
		        h->width_bpm);
		return 1;
	}
	h->lo_bpm = lo;
	h->nbins = any ? (size_t)((hi - lo) / h->width_bpm) + 1 : 0;
	h->scanners = distinct(ex, true, &h->nscanners);
	h->count = calloc(h->nscanners * h->nbins + 1, sizeof *h->count);
	h->no_hr = calloc(h->nscanners + 1, sizeof *h->no_hr);
	if (!h->scanners || !h->count || !h->no_hr) {
		fprintf(stderr, "hraudit: out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < ex->n; i++) {
		size_t s = index_of(h->scanners, h->nscanners, ex->v[i].scanner);

		if (audit_bin(ex->v[i].hr_bpm, h->width_bpm, &from) < 0)
			h->no_hr[s]++;
		else
			h->count[s * h->nbins + (size_t)((from - h->lo_bpm) / h->width_bpm)]++;
	}
	return 0;
}

/* csv/json: scanner, bin_from_bpm, bin_to_bpm, exams, where bin_to_bpm is
 * the last whole bpm of the bin as in its label (55 and 59 for "55-59", the
 * rates 55 <= HR < 60); then a row with empty bin edges counting the exams
 * without HR. */
static int histogram_rows(const struct histogram *h, enum output_format fmt)
{
	static const char *const names[] = {"scanner", "bin_from_bpm", "bin_to_bpm",
		"exams"};
	static const bool numeric[] = {false, true, true, true};
	struct output *o = start(fmt, 4, names);

	if (!o)
		return 1;
	for (size_t s = 0; s < h->nscanners; s++) {
		for (size_t b = 0; b <= h->nbins; b++) {
			char from[24], to[24], n[24];
			long lo = h->lo_bpm + (long)b * h->width_bpm;
			const char *values[4] = {key_text(h->scanners[s], fmt), NULL, NULL, n};

			if (b < h->nbins) {
				snprintf(from, sizeof from, "%ld", lo);
				snprintf(to, sizeof to, "%ld", lo + h->width_bpm - 1);
				values[1] = from;
				values[2] = to;
				count_text(n, sizeof n, h->count[s * h->nbins + b]);
			} else {
				count_text(n, sizeof n, h->no_hr[s]);   /* the "no HR" row */
			}
			if (output_row(o, 4, names, values, numeric) != 0)
				return finish(o, 0);   /* output_finish reports it */
		}
	}
	return finish(o, 0);
}

/* table: one line per bin, the scanner named on its first line, a bar of
 * U+2588 FULL BLOCK scaled to the scanner's fullest line. */
static int histogram_draw(const struct histogram *h)
{
	static const char *const names[] = {"scanner", "hr_bpm", "exams", ""};
	static const bool numeric[] = {false, false, true, false};
	static const char block[] = "\xe2\x96\x88";
	size_t wscanner = strlen(names[0]), wlabel = strlen(names[1]), wcount = strlen(names[2]);
	struct output *o = start(OUTPUT_TABLE, 4, names);
	char *bar = NULL;
	int bar_max, status = 0;

	if (!o)
		return 1;
	for (size_t s = 0; s < h->nscanners; s++) {
		const char *name = key_text(h->scanners[s], OUTPUT_TABLE);
		size_t len = 0;

		for (const char *p = name; *p; p++)   /* UTF-8 code points */
			len += ((unsigned char)*p & 0xc0) != 0x80;
		if (len > wscanner)
			wscanner = len;
		for (size_t b = 0; b <= h->nbins; b++) {
			unsigned long n = b < h->nbins ? h->count[s * h->nbins + b] : h->no_hr[s];
			char buf[24];
			long lo = h->lo_bpm + (long)b * h->width_bpm;

			if ((size_t)snprintf(buf, sizeof buf, "%lu", n) > wcount)
				wcount = strlen(buf);
			if (b < h->nbins &&
			    (size_t)audit_bin_label(buf, sizeof buf, lo, h->width_bpm) > wlabel)
				wlabel = strlen(buf);
		}
	}
	bar_max = bar_columns((int)(wscanner + wlabel + wcount + 6));
	bar = malloc((size_t)bar_max * (sizeof block - 1) + 1);
	if (!bar) {
		fprintf(stderr, "hraudit: out of memory\n");
		output_free(o);
		return 1;
	}
	for (size_t s = 0; s < h->nscanners && status == 0; s++) {
		unsigned long top = h->no_hr[s];

		for (size_t b = 0; b < h->nbins; b++)
			if (h->count[s * h->nbins + b] > top)
				top = h->count[s * h->nbins + b];
		for (size_t b = 0; b <= h->nbins && status == 0; b++) {
			unsigned long n = b < h->nbins ? h->count[s * h->nbins + b] : h->no_hr[s];
			long len = top ? lround((double)n * bar_max / (double)top) : 0;
			char label[24], nbuf[24];
			const char *values[4];

			if (n > 0 && len == 0)
				len = 1;   /* a single exam stays visible */
			bar[0] = '\0';
			for (long i = 0; i < len; i++)
				memcpy(bar + i * (long)(sizeof block - 1), block, sizeof block);
			if (b < h->nbins)
				audit_bin_label(label, sizeof label,
				                h->lo_bpm + (long)b * h->width_bpm, h->width_bpm);
			else
				snprintf(label, sizeof label, "no HR");
			values[0] = b == 0 ? key_text(h->scanners[s], OUTPUT_TABLE) : "";
			values[1] = label;
			values[2] = count_text(nbuf, sizeof nbuf, n);
			values[3] = bar;
			if (output_row(o, 4, names, values, numeric) != 0)
				status = 1;   /* output_finish reports it */
		}
	}
	free(bar);
	return finish(o, 0);
}

int cmd_histogram(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_OPTIONS,
		{"bin", required_argument, NULL, OPT_BIN},
		{NULL, 0, NULL, 0},
	};
	struct report_args a = {.fmt = OUTPUT_TABLE};
	struct histogram h = {.width_bpm = 5};
	struct exams ex = {0};
	char *end;
	long v;
	int c, r, status = 1;

	optind = 0;   /* 0, not 1: glibc then re-reads the option order (main used "+") */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if ((r = common_option("histogram", c, optarg, &a)) >= 0) {
			if (r)
				return r;
		} else if (c == OPT_BIN) {
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] < '0' || optarg[0] > '9' ||
			    v < 1 || v > AUDIT_BIN_MAX_BPM)
				return report_bad_usage("histogram", "bad --bin '%s' (whole bpm, 1 to "
				                  "100)", optarg);
			h.width_bpm = (int)v;
		} else if (c == 'h') {
			cli_usage(stdout);
			return 0;
		} else {
			return cli_bad_usage("%s: bad option", "histogram");
		}
	}
	if ((r = check_args("histogram", argc, argv, &a)) != 0)
		return r;
	if (fetch_exams(cli, &a, &ex) != 0 || histogram_fill(&h, &ex) != 0)
		goto out;
	status = a.fmt == OUTPUT_TABLE ? histogram_draw(&h) : histogram_rows(&h, a.fmt);
out:
	histogram_release(&h);
	exams_release(&ex);
	return status;
}
