/*
 * cmd_compliance.c - `hraudit compliance`: was each exam scanned with the
 * scan type the site's scan-selection protocol expects for its heart rate,
 * heart-rate variability, calcium score and scanner?  The protocol is the
 * [compliance] rules of hrauditd.ini, judged by compliance.c; this file
 * reads the exams (cli_load_exams) and prints one row per exam, in order of
 * study date and time, then the rates per scanner.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cli.h"
#include "compliance.h"

static const char *const exam_columns[] = {
	"study_date", "accession_number", "scanner", "station_name", "scan_type",
	"hr_bpm", "hrv_bpm", "calcium_score", "expected", "verdict",
};
#define N_EXAM_COLUMNS (sizeof exam_columns / sizeof exam_columns[0])

static const char *const rate_columns[] = {
	"scanner", "exams", "judged", "compliant", "partial", "rate_percent",
};
#define N_RATE_COLUMNS (sizeof rate_columns / sizeof rate_columns[0])

/* A scanner is its model name, as in the other audit commands. */
struct scanner_rate {
	const char *model;             /* borrowed from the exam rows */
	unsigned long exams, judged, compliant, partial;
};

static int cmp_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

static int cmp_rate(const void *a, const void *b)
{
	const struct scanner_rate *x = a, *y = b;

	return cmp_str(x->model, y->model);
}

/* The rate of the exam's scanner, added if new; NULL when out of memory. */
static struct scanner_rate *rate_of(struct scanner_rate **rates, size_t *n,
                                    const struct cli_exam *e)
{
	struct scanner_rate *v;

	for (size_t i = 0; i < *n; i++)
		if (cmp_str((*rates)[i].model, e->model) == 0)
			return &(*rates)[i];
	v = realloc(*rates, (*n + 1) * sizeof *v);
	if (!v)
		return NULL;
	*rates = v;
	v = &v[(*n)++];
	memset(v, 0, sizeof *v);
	v->model = e->model;
	return v;
}

/* One section of the report (exams or rates) into f. */
struct section {
	struct output *o;
	FILE *f;
	char *json;       /* JSON: the section is built in memory */
	size_t json_len;
};

static int section_begin(struct section *s, FILE *f, enum output_format fmt,
                         int ncols, const char *const *names)
{
	memset(s, 0, sizeof *s);
	s->f = fmt == OUTPUT_JSON ? open_memstream(&s->json, &s->json_len) : f;
	if (!s->f)
		return -ENOMEM;
	s->o = output_new(s->f, fmt);
	if (!s->o || output_header(s->o, ncols, names) < 0)
		return -ENOMEM;
	return 0;
}

/* Finishes the section; JSON sections stay in s->json. */
static int section_end(struct section *s, FILE *f)
{
	int r = s->o ? output_finish(s->o) : -ENOMEM;

	output_free(s->o);
	s->o = NULL;
	if (s->f && s->f != f) {
		if (fclose(s->f) != 0)
			r = -EIO;
		s->f = NULL;
		/* output.c ends an array with a line end: drop it */
		while (s->json_len > 0 && s->json[s->json_len - 1] == '\n')
			s->json[--s->json_len] = '\0';
	}
	return r;
}

static int print_exams(FILE *f, enum output_format fmt, const struct cli_exams *ex,
                       const struct compliance_result *res, struct section *s)
{
	char verdict[64];
	int r = section_begin(s, f, fmt, (int)N_EXAM_COLUMNS, exam_columns);

	for (size_t i = 0; r == 0 && i < ex->n; i++) {
		const struct cli_exam *e = &ex->v[i];
		const char *v[N_EXAM_COLUMNS] = {
			e->study_date, e->accession_number, e->model, e->station_name,
			e->scan_type, e->hr_avg.text, e->hr_var.text, e->calcium_score.text,
			res[i].expected[0] ? res[i].expected : NULL,
			compliance_verdict_text(&res[i], verdict, sizeof verdict),
		};
		const bool num[N_EXAM_COLUMNS] = {   /* hr, hrv, calcium */
			[5] = !isnan(e->hr_avg.value), [6] = !isnan(e->hr_var.value),
			[7] = !isnan(e->calcium_score.value),
		};

		if (output_row(s->o, (int)N_EXAM_COLUMNS, exam_columns, v, num))
			r = -EIO;
	}
	if (section_end(s, f) < 0 && r == 0)
		r = -EIO;
	return r;
}

static int print_rates(FILE *f, enum output_format fmt,
                       const struct scanner_rate *rates, size_t n,
                       struct section *s)
{
	char buf[5][32];
	const char *v[N_RATE_COLUMNS];
	bool num[N_RATE_COLUMNS] = {false, true, true, true, true, true};
	int r = section_begin(s, f, fmt, (int)N_RATE_COLUMNS, rate_columns);

	for (size_t i = 0; r == 0 && i < n; i++) {
		snprintf(buf[0], sizeof buf[0], "%lu", rates[i].exams);
		snprintf(buf[1], sizeof buf[1], "%lu", rates[i].judged);
		snprintf(buf[2], sizeof buf[2], "%lu", rates[i].compliant);
		snprintf(buf[3], sizeof buf[3], "%lu", rates[i].partial);
		snprintf(buf[4], sizeof buf[4], "%.1f",
		         rates[i].judged ? 100.0 * (double)rates[i].compliant /
		                           (double)rates[i].judged : 0.0);
		v[0] = rates[i].model;
		for (int k = 0; k < 4; k++)
			v[1 + k] = buf[k];
		v[5] = rates[i].judged ? buf[4] : NULL;
		if (output_row(s->o, (int)N_RATE_COLUMNS, rate_columns, v, num))
			r = -EIO;
	}
	if (section_end(s, f) < 0 && r == 0)
		r = -EIO;
	return r;
}

static const struct option compliance_options[] = {
	{"from", required_argument, NULL, 'a'},
	{"to", required_argument, NULL, 'b'},
	{"format", required_argument, NULL, 'F'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

int cmd_compliance(struct cli *cli, int argc, char **argv)
{
	enum output_format fmt = OUTPUT_TABLE;
	const char *dates[2] = {NULL, NULL};   /* --from, --to */
	struct cli_exams exams = {0};
	struct compliance_result *res = NULL;
	struct scanner_rate *rates = NULL;
	struct section sec[2] = {{0}};
	size_t nrates = 0;
	unsigned long no_calcium = 0;
	int c, status = 1;

	optind = 0;   /* 0, not 1: glibc then re-reads the option order (main used "+") */
	while ((c = getopt_long(argc, argv, "h", compliance_options, NULL)) != -1) {
		switch (c) {
		case 'a':
		case 'b':
			if (!audit_date_valid(optarg))
				return cli_bad_usage("compliance: '%s' is not a date "
				                     "(YYYY-MM-DD)", optarg);
			dates[c == 'b'] = optarg;
			break;
		case 'F':
			if (output_parse_format(optarg, &fmt) < 0)
				return cli_bad_usage("compliance: unknown format '%s' "
				                     "(table, csv or json)", optarg);
			break;
		case 'h':
			cli_usage(stdout);
			return 0;
		default:
			return cli_bad_usage("%s: bad option", "compliance");
		}
	}
	if (optind != argc)
		return cli_bad_usage("compliance: unexpected argument '%s'", argv[optind]);
	if (dates[0] && dates[1] && strcmp(dates[0], dates[1]) > 0)
		return cli_bad_usage("compliance: --from %s is after --to", dates[0]);
	if (cli_open_store(cli, false) < 0 ||
	    cli_load_exams(cli, dates[0], dates[1], &exams) < 0)
		return 1;

	res = calloc(exams.n ? exams.n : 1, sizeof *res);
	if (!res)
		goto nomem;
	for (size_t i = 0; i < exams.n; i++) {
		const struct cli_exam *x = &exams.v[i];
		struct compliance_exam e = {
			.hr_bpm = x->hr_avg.value,
			.hrv_bpm = x->hr_var.value,
			.calcium = x->calcium_score.value,
			.model = x->model,
			.station = x->station_name,
			.scan_type = x->scan_type,
		};
		struct scanner_rate *rate = rate_of(&rates, &nrates, x);

		if (!rate)
			goto nomem;
		compliance_judge(&cli->cfg.compliance.rules,
		                 cli->cfg.compliance.hrv_high_bpm, &e, &res[i]);
		rate->exams++;
		if (compliance_judged(&res[i])) {
			rate->judged++;
			rate->compliant += res[i].verdict == COMPLIANCE_COMPLIANT;
			rate->partial += res[i].without != 0;
			no_calcium += (res[i].without & COMPLIANCE_WITHOUT_CALCIUM) != 0;
		}
	}
	if (nrates > 1)
		qsort(rates, nrates, sizeof *rates, cmp_rate);

	if (print_exams(stdout, fmt, &exams, res, &sec[0]) < 0)
		goto write_error;
	if (fmt != OUTPUT_JSON)
		fputs(fmt == OUTPUT_CSV ? "\r\n" : "\n", stdout);
	if (print_rates(stdout, fmt, rates, nrates, &sec[1]) < 0)
		goto write_error;
	if (fmt == OUTPUT_JSON)
		printf("{\"exams\": %s,\n\"scanners\": %s}\n", sec[0].json, sec[1].json);
	if (fflush(stdout) != 0 || ferror(stdout))
		goto write_error;
	if (no_calcium)
		fprintf(stderr, "hraudit: %lu exam%s judged without a calcium score "
		        "(hraudit import-calcium adds them)\n", no_calcium,
		        no_calcium == 1 ? "" : "s");
	status = 0;
	goto out;
nomem:
	fprintf(stderr, "hraudit: out of memory\n");
	goto out;
write_error:
	fprintf(stderr, "hraudit: cannot write output: %s\n", strerror(errno));
out:
	free(sec[0].json);
	free(sec[1].json);
	free(rates);
	free(res);
	cli_exams_release(&exams);
	return status;
}
