/*
 * cmd_merge.c - the commands that bring other systems' CSV files in:
 * import-calcium (Agatston scores into table calcium_score, which the exam
 * view and `hraudit compliance` read) and merge-openrem (our exams joined
 * with OpenREM's CT export by accession number).  Both read with csv.h.
 *
 * Accession numbers stay text throughout, compared exactly once the blanks
 * around them are trimmed: "0012345678" and "12345678" are two exams.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "csv.h"

#define MAX_BAD_ROWS_SHOWN 50     /* import-calcium: then "and N more"   */
#define ACCESSION_MAX 64          /* DICOM allows 16; room for prefixes  */

/*
 * merge-openrem: an OpenREM event matches an exam when its CTDIvol is the
 * closest to the exam's ctdivol_mgy and within this much of it: the image
 * header and the dose report carry the same scanner value, so they differ
 * by rounding only; 10 % also covers a mean over a sequence's steps.
 */
#define EVENT_MATCH_FRACTION 0.10
#define EVENT_MATCH_MIN_MGY 0.05

/* ---- helpers ------------------------------------------------------------ */

/* s without leading and trailing blanks, in place. */
static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
	                   end[-1] == '\r' || end[-1] == '\n'))
		*--end = '\0';
	return s;
}

/* Field col of rec, trimmed; "" when the record is shorter or col < 0. */
static char *field_at(const struct csv_record *rec, int col)
{
	static char empty[1];

	if (col < 0 || (size_t)col >= rec->n)
		return empty;
	return trim(rec->fields[col]);
}

static bool record_blank(const struct csv_record *rec)
{
	for (size_t i = 0; i < rec->n; i++)
		if (*field_at(rec, (int)i))
			return false;
	return true;
}

/* A JSON number (RFC 8259 section 6), so that it can be printed bare. */
static bool json_number(const char *s)
{
	const char *p = s;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return false;
	if (*p == '.') {
		if (*++p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

/* A decimal number as written in a CSV file ("12", "0.5", "-3", "1e2");
 * returns 0 or -1 (anything else, including inf, nan and hex). */
static int parse_decimal(const char *s, double *out)
{
	const char *p = s;
	char *end;
	bool digits = false;

	if (*p == '-' || *p == '+')
		p++;
	for (; *p >= '0' && *p <= '9'; p++)
		digits = true;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			digits = true;
	if (!digits)
		return -1;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p != '\0')
		return -1;
	*out = strtod(s, &end);
	return isfinite(*out) ? 0 : -1;
}

/* Opens path for reading as CSV.  Says why on stderr when it cannot. */
static struct csv_reader *csv_open(const char *path, FILE **fp)
{
	struct csv_reader *r;

	*fp = fopen(path, "re");
	if (!*fp) {
		fprintf(stderr, "hraudit: cannot open '%s': %s\n", path, strerror(errno));
		return NULL;
	}
	r = csv_reader_new(*fp);
	if (!r) {
		fprintf(stderr, "hraudit: out of memory\n");
		fclose(*fp);
		*fp = NULL;
	}
	return r;
}

/* Reads a record; on error says why (naming the file) on stderr.
 * Returns 1, 0 (end) or < 0. */
static int csv_next(struct csv_reader *r, const char *path, struct csv_record *rec)
{
	char *err = NULL;
	int e = csv_read(r, rec, &err);

	if (e < 0)
		fprintf(stderr, "hraudit: %s: %s\n", path, err ? err : strerror(-e));
	free(err);
	return e;
}

/*
 * The column of header named by one of names[] (csv_name_equal); what
 * names the column for messages.  Returns its index, or -1 (says so on
 * stderr when required) or -2 (two columns: said on stderr).
 */
static int find_column(const struct csv_record *header, const char *path,
                       const char *const *names, const char *what, bool required)
{
	int second, col = csv_find_column(header, names, &second);

	if (col >= 0 && second >= 0) {
		fprintf(stderr, "hraudit: %s:%lu: two columns could be the %s, "
		        "'%s' and '%s': keep one\n", path, header->line, what,
		        header->fields[col], header->fields[second]);
		return -2;
	}
	if (col < 0 && required)
		fprintf(stderr, "hraudit: %s:%lu: no %s column (%s%s%s%s%s)\n",
		        path, header->line, what, names[0],
		        names[1] ? ", " : "", names[1] ? names[1] : "",
		        names[1] && names[2] ? ", " : "",
		        names[1] && names[2] ? names[2] : "");
	return col;
}

/* ---- import-calcium ----------------------------------------------------- */

static const char *const accession_names[] = {
	"accession_number", "accession", "accession_no", NULL,
};

static const char *const score_names[] = {
	"agatston", "calcium_score", "score", "agatston_score", NULL,
};

struct calcium_row {
	char *accession;
	double agatston;
	unsigned long line;
};

struct calcium_file {
	struct calcium_row *rows;
	size_t n, cap;
	unsigned long bad;         /* rows refused                         */
	const char *path;
};

static void calcium_free(struct calcium_file *cf)
{
	for (size_t i = 0; i < cf->n; i++)
		free(cf->rows[i].accession);
	free(cf->rows);
}

static void bad_row(struct calcium_file *cf, unsigned long line,
                    const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Reports one refused row (the first MAX_BAD_ROWS_SHOWN of them). */
static void bad_row(struct calcium_file *cf, unsigned long line,
                    const char *fmt, ...)
{
	va_list ap;

	if (++cf->bad > MAX_BAD_ROWS_SHOWN)
		return;
	fprintf(stderr, "hraudit: %s:%lu: ", cf->path, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static bool text_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* Checks one data row and keeps it.  Returns 0, or -ENOMEM. */
static int calcium_row_add(struct calcium_file *cf, const struct csv_record *rec,
                           int acol, int scol)
{
	char *acc = field_at(rec, acol), *score = field_at(rec, scol);
	struct calcium_row *row;
	double v;

	if (!*acc) {
		bad_row(cf, rec->line, "no accession number");
		return 0;
	}
	if (strlen(acc) > ACCESSION_MAX || !text_printable(acc)) {
		bad_row(cf, rec->line, "'%.*s' is not an accession number (at "
		        "most %d printable characters)", ACCESSION_MAX, acc,
		        ACCESSION_MAX);
		return 0;
	}
	if (!*score) {
		bad_row(cf, rec->line, "no Agatston score for accession '%s'", acc);
		return 0;
	}
	/* plain decimals only: a sign or exponent is no spreadsheet's */
	if (strpbrk(score, "+-eE") || parse_decimal(score, &v) < 0) {
		bad_row(cf, rec->line, "'%s' is not an Agatston score (a number, "
		        "0 or more, with a '.' for decimals)", score);
		return 0;
	}
	if (cf->n == cf->cap) {
		size_t cap = cf->cap ? cf->cap * 2 : 256;
		struct calcium_row *r = realloc(cf->rows, cap * sizeof *r);

		if (!r)
			return -ENOMEM;
		cf->rows = r;
		cf->cap = cap;
	}
	row = &cf->rows[cf->n];
	row->accession = strdup(acc);
	if (!row->accession)
		return -ENOMEM;
	row->agatston = v;
	row->line = rec->line;
	cf->n++;
	return 0;
}

static int cmp_calcium(const void *a, const void *b)
{
	const struct calcium_row *x = a, *y = b;
	int c = strcmp(x->accession, y->accession);

	return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* Sorts the rows by accession; drops repeats of the same score, refuses
 * accessions given two different scores. */
static void calcium_dedup(struct calcium_file *cf)
{
	size_t out = 0;

	if (cf->n > 1)
		qsort(cf->rows, cf->n, sizeof *cf->rows, cmp_calcium);
	for (size_t i = 0; i < cf->n; i++) {
		struct calcium_row *keep = out ? &cf->rows[out - 1] : NULL;

		if (keep && strcmp(keep->accession, cf->rows[i].accession) == 0) {
			if (keep->agatston != cf->rows[i].agatston)
				bad_row(cf, cf->rows[i].line, "accession '%s' has "
				        "another score on line %lu", keep->accession,
				        keep->line);
			free(cf->rows[i].accession);
			continue;
		}
		cf->rows[out++] = cf->rows[i];
	}
	cf->n = out;
}

/* Reads and checks the whole file.  Returns 0 (see cf->bad) or < 0 (said
 * on stderr). */
static int calcium_read(struct calcium_file *cf)
{
	struct csv_record rec;
	struct csv_reader *r;
	int acol, scol, e;
	FILE *fp;

	r = csv_open(cf->path, &fp);
	if (!r)
		return -EIO;
	e = csv_next(r, cf->path, &rec);
	if (e == 0) {
		fprintf(stderr, "hraudit: %s: empty file (expected a header "
		        "line: accession_number,agatston)\n", cf->path);
		e = -EINVAL;
	}
	if (e < 0)
		goto out;
	acol = find_column(&rec, cf->path, accession_names,
	                   "accession number", true);
	scol = find_column(&rec, cf->path, score_names, "Agatston score", true);
	if (acol < 0 || scol < 0) {
		e = -EINVAL;
		goto out;
	}
	while ((e = csv_next(r, cf->path, &rec)) > 0)
		if (!record_blank(&rec) && (e = calcium_row_add(cf, &rec, acol, scol)) < 0)
			break;
	if (e == -ENOMEM)
		fprintf(stderr, "hraudit: out of memory\n");
	if (e == 0)
		calcium_dedup(cf);
out:
	csv_reader_free(r);
	fclose(fp);
	return e;
}

/* store_query's row callback: keeps the first value of the first row. */
static int first_value(void *ctx, int ncols, const char *const *names,
                       const char *const *values, const bool *numeric)
{
	char **out = ctx;

	(void)names;
	(void)numeric;
	if (ncols > 0 && values[0])
		*out = strdup(values[0]);
	return 1;
}

/* After the import: how many of the accessions match no series (a
 * spreadsheet that dropped leading zeros, another site's file). */
static void calcium_report_unknown(struct cli *cli, const char *stamp,
                                   size_t n)
{
	const char *params[] = {stamp};
	char *count = NULL, *err = NULL;

	if (store_query(cli->store,
	        "SELECT count(*) FROM calcium_score c WHERE c.imported = ?1 "
	        "AND NOT EXISTS (SELECT 1 FROM series s "
	        "WHERE s.accession_number = c.accession_number)",
	        params, 1, first_value, &count, &err) == 0 &&
	    count && strcmp(count, "0") != 0)
		fprintf(stderr, "hraudit: %s of the %zu accession numbers match no "
		        "recorded series (leading zeros lost in a spreadsheet?)\n",
		        count, n);
	free(count);
	free(err);
}

static const struct option help_options[] = {
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static const struct option merge_options[] = {
	{"format", required_argument, NULL, 'F'},
	{"output", required_argument, NULL, 'o'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

int cmd_import_calcium(struct cli *cli, int argc, char **argv)
{
	struct calcium_file cf = {0};
	struct store_calcium *rows = NULL;
	char stamp[STORE_TIME_MAX], *err = NULL;
	int c, status = 1;

	optind = 0;   /* 0, not 1: glibc then re-reads the option order (main used "+") */
	while ((c = getopt_long(argc, argv, "h", help_options, NULL)) != -1) {
		if (c == 'h') {
			cli_usage(stdout);
			return 0;
		}
		return cli_bad_usage("%s: bad option", "import-calcium");
	}
	if (optind == argc)
		return cli_bad_usage("%s: no file given (import-calcium FILE.csv)",
		                     "import-calcium");
	if (optind + 1 != argc)
		return cli_bad_usage("import-calcium: unexpected argument '%s'",
		                     argv[optind + 1]);
	cf.path = argv[optind];

	/* The whole file is checked before the database is touched. */
	if (calcium_read(&cf) < 0)
		goto out;
	if (cf.bad) {
		if (cf.bad > MAX_BAD_ROWS_SHOWN)
			fprintf(stderr, "hraudit: ... and %lu more\n",
			        cf.bad - MAX_BAD_ROWS_SHOWN);
		fprintf(stderr, "hraudit: %s: %lu bad row%s: nothing imported\n",
		        cf.path, cf.bad, cf.bad == 1 ? "" : "s");
		goto out;
	}
	rows = calloc(cf.n ? cf.n : 1, sizeof *rows);
	if (!rows) {
		fprintf(stderr, "hraudit: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < cf.n; i++) {
		rows[i].accession_number = cf.rows[i].accession;
		rows[i].agatston = cf.rows[i].agatston;
	}
	/* Read-only first: a database that is not there is not created. */
	if (cli_open_store(cli, false) < 0)
		goto out;
	store_close(cli->store);
	cli->store = NULL;
	if (cli_open_store(cli, true) < 0)
		goto out;
	store_now_utc(stamp);
	if (store_import_calcium(cli->store, rows, cf.n, stamp, &err) < 0) {
		fprintf(stderr, "hraudit: %s\n", err ? err : "import failed");
		goto out;
	}
	printf("%zu calcium scores imported\n", cf.n);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "hraudit: cannot write output: %s\n", strerror(errno));
		goto out;
	}
	calcium_report_unknown(cli, stamp, cf.n);
	status = 0;
out:
	free(rows);
	free(err);
	calcium_free(&cf);
	return status;
}

/* ---- merge-openrem ------------------------------------------------------ */

static const char *const openrem_accession[] = {
	"Accession number", "accession", NULL,
};
static const char *const openrem_date[] = {"Study date", NULL};
static const char *const openrem_dlp_total[] = {
	"DLP total (mGy.cm)", "Total DLP (mGy.cm)", NULL,
};
static const char *const openrem_events[] = {
	"No. events", "Number of events", NULL,
};

/* The columns of one event n ("En Protocol", "En CTDIvol (mGy)", ...). */
enum { EV_PROTOCOL, EV_TYPE, EV_CTDIVOL, EV_DLP, N_EV };
static const char *const event_names[N_EV] = {"Protocol", "Type", "CTDIvol", "DLP"};

struct event_cols {
	int col[N_EV];            /* -1 when absent */
};

struct or_event {
	unsigned number;          /* n of "En ..."                 */
	char *v[N_EV];            /* trimmed text, never NULL      */
	double ctdivol_mgy;       /* NAN when not a number         */
};

struct or_study {
	char *accession;
	char *date;               /* as written                    */
	char iso[11];             /* YYYY-MM-DD, or "" if unknown  */
	char *dlp_total;
	char *events_n;
	struct or_event *ev;
	size_t nev;
	unsigned long line;
	bool matched;
};

struct or_file {
	const char *path;
	int acol, dcol, tcol, ncol;
	struct event_cols *events;  /* index n - 1                 */
	unsigned nevents;
	struct or_study *studies;
	size_t n, cap;
	unsigned long no_accession; /* rows without one            */
};

static void or_free(struct or_file *of)
{
	for (size_t i = 0; i < of->n; i++) {
		struct or_study *s = &of->studies[i];

		free(s->accession);
		free(s->date);
		free(s->dlp_total);
		free(s->events_n);
		for (size_t k = 0; k < s->nev; k++)
			for (int j = 0; j < N_EV; j++)
				free(s->ev[k].v[j]);
		free(s->ev);
	}
	free(of->studies);
	free(of->events);
}

/* "E12 CTDIvol (mGy)": 12 and the index of "CTDIvol" in event_names;
 * returns -1 when the name is not an event column we use. */
static int event_column(const char *name, unsigned *n)
{
	const char *p = name;
	unsigned long v = 0;

	while (*p == ' ')
		p++;
	if (*p != 'E' && *p != 'e')
		return -1;
	p++;
	if (*p < '1' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++)
		if ((v = v * 10 + (unsigned long)(*p - '0')) > CSV_MAX_FIELDS)
			return -1;
	if (*p == '\0' || isalnum((unsigned char)*p))   /* "E1 ", "E1_" */
		return -1;
	for (int k = 0; k < N_EV; k++)
		if (csv_name_equal(p, event_names[k])) {
			*n = (unsigned)v;
			return k;
		}
	return -1;
}

/* Finds the columns of the header line.  Returns 0, or < 0 (said). */
static int or_header(struct or_file *of, const struct csv_record *h)
{
	unsigned n, ctdivol_cols = 0;
	int k;

	of->acol = find_column(h, of->path, openrem_accession, "accession number", true);
	of->dcol = find_column(h, of->path, openrem_date, "study date", false);
	of->tcol = find_column(h, of->path, openrem_dlp_total, "DLP total", false);
	of->ncol = find_column(h, of->path, openrem_events, "number of events", false);
	if (of->acol < 0 || of->dcol == -2 || of->tcol == -2 || of->ncol == -2)
		return -EINVAL;
	if (of->tcol < 0)
		fprintf(stderr, "hraudit: %s: no 'DLP total (mGy.cm)' column\n", of->path);
	for (size_t i = 0; i < h->n; i++) {
		if ((k = event_column(h->fields[i], &n)) < 0)
			continue;
		if (n > of->nevents) {
			struct event_cols *e = realloc(of->events, n * sizeof *e);

			if (!e) {
				fprintf(stderr, "hraudit: out of memory\n");
				return -ENOMEM;
			}
			for (unsigned j = of->nevents; j < n; j++)
				for (int c = 0; c < N_EV; c++)
					e[j].col[c] = -1;
			of->events = e;
			of->nevents = n;
		}
		if (of->events[n - 1].col[k] < 0) {
			of->events[n - 1].col[k] = (int)i;
			ctdivol_cols += k == EV_CTDIVOL;
		}
	}
	if (ctdivol_cols == 0)
		fprintf(stderr, "hraudit: %s: no event CTDIvol columns (E1 CTDIvol, "
		        "...): no event can be matched\n", of->path);
	return 0;
}

/* OpenREM writes dates as YYYY-MM-DD; a spreadsheet may have made them
 * DD/MM/YYYY or YYYYMMDD.  "" when it is none of these. */
static void iso_date(const char *s, char out[11])
{
	bool ok = true;

	out[0] = '\0';
	if (strlen(s) >= 10 && s[4] == '-' && s[7] == '-' &&
	    (s[10] == '\0' || s[10] == ' ' || s[10] == 'T'))
		snprintf(out, 11, "%.10s", s);
	else if (strlen(s) == 10 && s[2] == '/' && s[5] == '/')
		snprintf(out, 11, "%.4s-%.2s-%.2s", s + 6, s + 3, s);
	else if (strlen(s) == 8)
		snprintf(out, 11, "%.4s-%.2s-%.2s", s, s + 4, s + 6);
	for (int i = 0; out[0] && i < 10; i++)
		if (i == 4 || i == 7 ? out[i] != '-' : out[i] < '0' || out[i] > '9')
			ok = false;
	if (!ok)
		out[0] = '\0';
}

static int or_row(struct or_file *of, const struct csv_record *rec)
{
	struct or_study *s;
	const char *acc = field_at(rec, of->acol);

	if (!*acc) {
		of->no_accession++;
		fprintf(stderr, "hraudit: %s:%lu: no accession number: row "
		        "left out\n", of->path, rec->line);
		return 0;
	}
	if (of->n == of->cap) {
		size_t cap = of->cap ? of->cap * 2 : 256;
		struct or_study *v = realloc(of->studies, cap * sizeof *v);

		if (!v)
			return -ENOMEM;
		of->studies = v;
		of->cap = cap;
	}
	s = &of->studies[of->n];
	memset(s, 0, sizeof *s);
	of->n++;
	s->line = rec->line;
	if (!(s->accession = strdup(acc)) ||
	    !(s->date = strdup(field_at(rec, of->dcol))) ||
	    !(s->dlp_total = strdup(field_at(rec, of->tcol))) ||
	    !(s->events_n = strdup(field_at(rec, of->ncol))))
		return -ENOMEM;
	iso_date(s->date, s->iso);
	if (of->nevents && !(s->ev = calloc(of->nevents, sizeof *s->ev)))
		return -ENOMEM;
	for (unsigned n = 1; n <= of->nevents; n++) {
		struct or_event *e = &s->ev[s->nev];
		bool any = false;

		for (int k = 0; k < N_EV; k++)
			any |= *field_at(rec, of->events[n - 1].col[k]) != '\0';
		if (!any)
			continue;
		e->number = n;
		s->nev++;   /* counted before the copies: freed on error */
		for (int k = 0; k < N_EV; k++)
			if (!(e->v[k] = strdup(field_at(rec, of->events[n - 1].col[k]))))
				return -ENOMEM;
		if (parse_decimal(e->v[EV_CTDIVOL], &e->ctdivol_mgy) < 0)
			e->ctdivol_mgy = NAN;
	}
	return 0;
}

static int cmp_study(const void *a, const void *b)
{
	const struct or_study *x = a, *y = b;
	int c = strcmp(x->accession, y->accession);

	return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* Reads the OpenREM export.  Returns 0 or < 0 (said on stderr). */
static int or_read(struct or_file *of)
{
	struct csv_record rec;
	struct csv_reader *r;
	FILE *fp;
	int e;

	r = csv_open(of->path, &fp);
	if (!r)
		return -EIO;
	e = csv_next(r, of->path, &rec);
	if (e == 0) {
		fprintf(stderr, "hraudit: %s: empty file (expected OpenREM's CT "
		        "export)\n", of->path);
		e = -EINVAL;
	}
	if (e > 0)
		e = or_header(of, &rec);
	while (e >= 0 && (e = csv_next(r, of->path, &rec)) > 0)
		if (!record_blank(&rec) && (e = or_row(of, &rec)) < 0)
			break;
	if (e == -ENOMEM)
		fprintf(stderr, "hraudit: out of memory\n");
	csv_reader_free(r);
	fclose(fp);
	if (e == 0 && of->n > 1)
		qsort(of->studies, of->n, sizeof *of->studies, cmp_study);
	return e;
}

/* Our columns of the merge, the first N_X of merge_columns. */
enum {
	X_ACCESSION, X_DATE, X_TIME, X_MODEL, X_STATION, X_DESCRIPTION,
	X_SCAN_TYPE, X_HR_AVG, X_HR_MIN, X_HR_MAX, X_HR_VAR, X_HR_SOURCE,
	X_CALCIUM, X_CTDIVOL, X_DLP, X_DLP_SOURCE, N_X
};

static const char *const merge_columns[] = {
	"accession_number", "study_date", "study_time", "model", "station_name",
	"series_description", "scan_type", "hr_avg", "hr_min", "hr_max",
	"hr_var", "hr_source", "calcium_score", "ctdivol_mgy",
	"dlp_mgycm", "dlp_source",   /* ours: the exam view's, from the dose SR */
	"openrem_study_date", "openrem_events", "openrem_dlp_total_mgycm",
	"event", "event_protocol", "event_type", "event_ctdivol_mgy",
	"event_dlp_mgycm",
};
#define N_MERGE_COLUMNS (sizeof merge_columns / sizeof merge_columns[0])

/* An exam of ours that OpenREM lacks, for the report. */
struct ours_only {
	char *accession;           /* "" when the exam has none */
	char *date;                /* "" when unknown            */
};

struct merge {
	struct or_file *of;
	struct output *o;
	char from[11], to[11];     /* the OpenREM file's date span, or "" */
	unsigned long exams, with_event;
	struct ours_only *only;
	size_t nonly, cap;
	bool failed;               /* out of memory, or a write error */
};

static int cmp_accession(const void *key, const void *elem)
{
	return strcmp(key, ((const struct or_study *)elem)->accession);
}

/* The OpenREM study for an exam: same accession, and the same study date
 * when more than one has the accession, else the first in the file.
 * NULL when there is none. */
static struct or_study *study_for(struct or_file *of, const char *acc,
                                  const char *date)
{
	struct or_study *s, *end = of->studies + of->n;

	s = bsearch(acc, of->studies, of->n, sizeof *s, cmp_accession);
	if (!s)
		return NULL;
	while (s > of->studies && strcmp(s[-1].accession, acc) == 0)
		s--;
	for (struct or_study *t = s; t < end && strcmp(t->accession, acc) == 0; t++)
		if (date && strcmp(t->iso, date) == 0)
			return t;
	return s;
}

/* The event whose CTDIvol is closest to the exam's, if close enough
 * (EVENT_MATCH_*); the lowest event number of equals.  NULL if none. */
static const struct or_event *event_for(const struct or_study *s,
                                        double ctdivol_mgy)
{
	const struct or_event *best = NULL;
	double d, best_d = INFINITY;

	if (isnan(ctdivol_mgy))
		return NULL;
	for (size_t i = 0; i < s->nev; i++) {
		if (isnan(s->ev[i].ctdivol_mgy))
			continue;
		d = fabs(s->ev[i].ctdivol_mgy - ctdivol_mgy);
		if (d < best_d) {
			best = &s->ev[i];
			best_d = d;
		}
	}
	if (best && best_d > fmax(EVENT_MATCH_MIN_MGY,
	                          EVENT_MATCH_FRACTION * fabs(ctdivol_mgy)))
		best = NULL;
	return best;
}

static bool in_span(const struct merge *m, const char *date)
{
	if (!m->from[0] || !date)
		return true;
	return strcmp(date, m->from) >= 0 && strcmp(date, m->to) <= 0;
}

static int only_add(struct merge *m, const char *acc, const char *date)
{
	struct ours_only *v;

	if (m->nonly == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;

		v = realloc(m->only, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		m->only = v;
		m->cap = cap;
	}
	v = &m->only[m->nonly];
	v->accession = strdup(acc);
	v->date = strdup(date ? date : "");
	if (!v->accession || !v->date) {
		free(v->accession);
		free(v->date);
		return -ENOMEM;
	}
	m->nonly++;
	return 0;
}

/* OpenREM's text as an output value: NULL when empty. */
static const char *or_value(const char *v, bool *numeric)
{
	*numeric = v && *v && json_number(v);
	return v && *v ? v : NULL;
}

/* One exam of ours, joined and printed.  Returns 0, or -1 with m->failed
 * set. */
static int merge_exam(struct merge *m, const struct cli_exam *e)
{
	const char *v[N_MERGE_COLUMNS] = {
		e->accession_number, e->study_date, e->study_time, e->model,
		e->station_name, e->series_description, e->scan_type,
		e->hr_avg.text, e->hr_min.text, e->hr_max.text, e->hr_var.text,
		e->hr_source, e->calcium_score.text, e->ctdivol_mgy.text,
		e->dlp_mgycm.text, e->dlp_source,
	};
	bool num[N_MERGE_COLUMNS] = {
		[X_HR_AVG] = !isnan(e->hr_avg.value), [X_HR_MIN] = !isnan(e->hr_min.value),
		[X_HR_MAX] = !isnan(e->hr_max.value), [X_HR_VAR] = !isnan(e->hr_var.value),
		[X_CALCIUM] = !isnan(e->calcium_score.value),
		[X_CTDIVOL] = !isnan(e->ctdivol_mgy.value),
		[X_DLP] = !isnan(e->dlp_mgycm.value),
	};
	const struct or_event *ev;
	struct or_study *s;
	char acc[ACCESSION_MAX + 1] = "", evno[16];

	if (e->accession_number) {
		char *t;

		snprintf(acc, sizeof acc, "%s", e->accession_number);
		t = trim(acc);
		memmove(acc, t, strlen(t) + 1);
	}
	s = *acc ? study_for(m->of, acc, e->study_date) : NULL;
	if (!s) {
		if (in_span(m, e->study_date) && only_add(m, acc, e->study_date) < 0)
			goto fail;
		return 0;
	}
	s->matched = true;
	ev = event_for(s, e->ctdivol_mgy.value);
	v[N_X] = or_value(s->date, &num[N_X]);
	num[N_X] = false;   /* a date, even if it looks like a number */
	v[N_X + 1] = or_value(s->events_n, &num[N_X + 1]);
	v[N_X + 2] = or_value(s->dlp_total, &num[N_X + 2]);
	if (ev) {
		snprintf(evno, sizeof evno, "%u", ev->number);
		v[N_X + 3] = evno;
		num[N_X + 3] = true;
	} else {
		v[N_X + 3] = NULL;
		num[N_X + 3] = false;
	}
	for (int k = 0; k < N_EV; k++)
		v[N_X + 4 + k] = or_value(ev ? ev->v[k] : NULL, &num[N_X + 4 + k]);
	m->exams++;
	m->with_event += ev != NULL;
	if (output_row(m->o, (int)N_MERGE_COLUMNS, merge_columns, v, num))
		goto fail;
	return 0;
fail:
	m->failed = true;
	return -1;
}

static int cmp_only(const void *a, const void *b)
{
	const struct ours_only *x = a, *y = b;
	int c = strcmp(x->accession, y->accession);

	return c ? c : strcmp(x->date, y->date);
}

/* A matched study of the same accession as studies[i] (they are sorted by
 * accession), or NULL. */
static const struct or_study *study_used(const struct or_file *of, size_t i)
{
	const char *acc = of->studies[i].accession;
	size_t k = i;

	while (k > 0 && strcmp(of->studies[k - 1].accession, acc) == 0)
		k--;
	for (; k < of->n && strcmp(of->studies[k].accession, acc) == 0; k++)
		if (of->studies[k].matched)
			return &of->studies[k];
	return NULL;
}

/* Reports on stderr what is only on one side, then the summary line. */
static void merge_report(struct merge *m)
{
	struct or_file *of = m->of;
	unsigned long or_only = 0, ours = 0;

	for (size_t i = 0; i < of->n; i++) {
		struct or_study *s = &of->studies[i];
		const struct or_study *used;

		if (s->matched)
			continue;
		used = study_used(of, i);
		if (used) {
			fprintf(stderr, "hraudit: %s:%lu: accession %s again: line "
			        "%lu used\n", of->path, s->line, s->accession,
			        used->line);
			continue;
		}
		or_only++;
		fprintf(stderr, "hraudit: only in OpenREM: %s (%s, line %lu)\n",
		        s->accession, *s->date ? s->date : "no study date", s->line);
	}
	if (m->nonly > 1)
		qsort(m->only, m->nonly, sizeof *m->only, cmp_only);
	for (size_t i = 0; i < m->nonly; i++) {
		const struct ours_only *o = &m->only[i];

		if (i > 0 && *o->accession &&
		    strcmp(o->accession, m->only[i - 1].accession) == 0)
			continue;   /* several exams of one accession */
		ours++;
		if (*o->accession)
			fprintf(stderr, "hraudit: only in hraudit: %s (%s)\n",
			        o->accession, *o->date ? o->date : "no study date");
		else
			fprintf(stderr, "hraudit: only in hraudit: exam without an "
			        "accession number (%s)\n",
			        *o->date ? o->date : "no study date");
	}
	fprintf(stderr, "hraudit: exams merged: %lu (%lu with a matching "
	        "event); OpenREM rows only in OpenREM: %lu; accessions only in "
	        "hraudit: %lu (", m->exams, m->with_event, or_only, ours);
	if (m->from[0])
		fprintf(stderr, "study dates %s to %s)", m->from, m->to);
	else
		fputs("any study date)", stderr);
	if (of->no_accession)
		fprintf(stderr, "; OpenREM rows without an accession number: %lu",
		        of->no_accession);
	fputc('\n', stderr);
}

int cmd_merge_openrem(struct cli *cli, int argc, char **argv)
{
	enum output_format fmt = OUTPUT_CSV;
	struct or_file of = {0};
	struct cli_exams exams = {0};
	struct merge m = {0};
	const char *outpath = NULL;
	struct cli_output out;
	int c, status = 1;

	optind = 0;   /* 0, not 1: glibc then re-reads the option order (main used "+") */
	while ((c = getopt_long(argc, argv, "o:h", merge_options, NULL)) != -1) {
		switch (c) {
		case 'F':
			if (output_parse_format(optarg, &fmt) < 0 || fmt == OUTPUT_TABLE)
				return cli_bad_usage("merge-openrem: unknown format '%s' "
				                     "(csv or json)", optarg);
			break;
		case 'o':
			outpath = optarg;
			break;
		case 'h':
			cli_usage(stdout);
			return 0;
		default:
			return cli_bad_usage("%s: bad option", "merge-openrem");
		}
	}
	if (optind == argc)
		return cli_bad_usage("%s: no file given (merge-openrem OPENREM.csv)",
		                     "merge-openrem");
	if (optind + 1 != argc)
		return cli_bad_usage("merge-openrem: unexpected argument '%s'",
		                     argv[optind + 1]);
	of.path = argv[optind];
	if (or_read(&of) < 0)
		goto out;
	for (size_t i = 0; i < of.n; i++) {
		const char *d = of.studies[i].iso;

		if (!*d)
			continue;
		if (!m.from[0] || strcmp(d, m.from) < 0)
			memcpy(m.from, d, sizeof m.from);
		if (!m.to[0] || strcmp(d, m.to) > 0)
			memcpy(m.to, d, sizeof m.to);
	}
	if (cli_open_store(cli, false) < 0)
		goto out;
	if (cli_output_open(&out, outpath) != 0)
		goto out;
	m.of = &of;
	m.o = output_new(out.f, fmt);
	if (!m.o || output_header(m.o, (int)N_MERGE_COLUMNS, merge_columns) < 0) {
		fprintf(stderr, "hraudit: out of memory\n");
		goto close;
	}
	if (cli_load_exams(cli, NULL, NULL, &exams) < 0)
		goto close;
	for (size_t i = 0; i < exams.n && merge_exam(&m, &exams.v[i]) == 0; i++)
		;
	if (output_finish(m.o) < 0 || m.failed) {
		fprintf(stderr, "hraudit: cannot write output: %s\n",
		        errno ? strerror(errno) : "out of memory");
		goto close;
	}
	merge_report(&m);
	status = 0;
close:
	status = cli_output_close(&out, status);
out:
	output_free(m.o);
	for (size_t i = 0; i < m.nonly; i++) {
		free(m.only[i].accession);
		free(m.only[i].date);
	}
	free(m.only);
	cli_exams_release(&exams);
	or_free(&of);
	return status;
}
