/*
 * cli_exams.c - the one reader of the `exam` view
 * (sql/003-audit.sql) that summary, weekday, histogram, report, compliance
 * and merge-openrem share (cli.h).  One SELECT with optional study_date
 * bounds, every column the reports use, in the order compliance and
 * merge-openrem print; each command filters and aggregates in C.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cli.h"

/* The columns of the SELECT: texts, then numbers, then weekday. */
#define EXAM_SELECT \
	"SELECT accession_number, study_date, study_time, model, station_name, " \
	"series_description, scan_type, hr_source, %s, " \
	"hr_avg, hr_min, hr_max, hr_var, ctdivol_mgy, calcium_score, %s, " \
	"weekday FROM exam " \
	"WHERE (?1 IS NULL OR study_date >= ?1) " \
	"AND (?2 IS NULL OR study_date <= ?2) " \
	"ORDER BY study_date, study_time, accession_number, scan_type"
enum { N_TEXTS = 10, N_NUMBERS = 7, COL_WEEKDAY = N_TEXTS + N_NUMBERS };

struct loading {
	struct cli_exams *ex;
	bool nomem;                /* stopped the query: out of memory */
};

/* One row into e, which must be zeroed.  Returns 0 or -ENOMEM (what was
 * copied stays for cli_exams_release). */
static int exam_copy(struct cli_exam *e, const char *const *v, const bool *numeric)
{
	char **texts[N_TEXTS] = {&e->accession_number, &e->study_date,
		&e->study_time, &e->model, &e->station_name,
		&e->series_description, &e->scan_type, &e->hr_source,
		&e->dlp_source, &e->ctdivol_source};
	struct cli_number *numbers[N_NUMBERS] = {&e->hr_avg, &e->hr_min,
		&e->hr_max, &e->hr_var, &e->ctdivol_mgy, &e->calcium_score,
		&e->dlp_mgycm};

	for (int k = 0; k < N_TEXTS; k++)
		if (v[k] && !(*texts[k] = strdup(v[k])))
			return -ENOMEM;
	for (int k = 0; k < N_NUMBERS; k++) {
		const char *s = v[N_TEXTS + k];

		numbers[k]->value = s && numeric[N_TEXTS + k] ? strtod(s, NULL) : NAN;
		if (s && !(numbers[k]->text = strdup(s)))
			return -ENOMEM;
	}
	if (e->study_date && audit_date_valid(e->study_date))
		memcpy(e->date, e->study_date, sizeof e->date);
	e->weekday = v[COL_WEEKDAY] && numeric[COL_WEEKDAY] ? atoi(v[COL_WEEKDAY]) : -1;
	if (!audit_weekday_name(e->weekday))
		e->weekday = -1;
	return 0;
}

/* store_query row callback: one exam, columns as in EXAM_SELECT. */
static int add_exam(void *ctx, int ncols, const char *const *names,
                    const char *const *v, const bool *numeric)
{
	struct loading *l = ctx;
	struct cli_exams *ex = l->ex;

	(void)names, (void)ncols;
	if (ex->n == ex->cap) {
		size_t cap = ex->cap ? ex->cap * 2 : 256;
		struct cli_exam *p = realloc(ex->v, cap * sizeof *p);

		if (!p)
			goto nomem;
		ex->v = p;
		ex->cap = cap;
	}
	/* counted before the copies: cli_exams_release frees a partial one */
	memset(&ex->v[ex->n], 0, sizeof ex->v[ex->n]);
	if (exam_copy(&ex->v[ex->n++], v, numeric) < 0)
		goto nomem;
	return 0;
nomem:
	l->nomem = true;
	return 1;
}

/* Row callback that notes that there was a row. */
static int found_row(void *ctx, int ncols, const char *const *names,
                     const char *const *values, const bool *numeric)
{
	(void)ncols, (void)names, (void)values, (void)numeric;
	*(bool *)ctx = true;
	return 1;
}

int cli_load_exams(struct cli *cli, const char *from, const char *to,
                   struct cli_exams *out)
{
	const char *params[] = {from, to};
	struct loading l = {.ex = out};
	char sql[1024], *err = NULL;
	int r;

	memset(out, 0, sizeof *out);
	r = store_query(cli->store, "SELECT 1 FROM pragma_table_info('exam') "
	                "WHERE name = 'dlp_source'", NULL, 0, found_row, &out->has_dlp,
	                &err);
	if (r == 0) {
		snprintf(sql, sizeof sql, EXAM_SELECT,
		         out->has_dlp ? "dlp_source, ctdivol_source" : "NULL, NULL",
		         out->has_dlp ? "dlp_mgycm" : "NULL");
		r = store_query(cli->store, sql, params, 2, add_exam, &l, &err);
	}
	if (r == 0 && l.nomem)
		r = -ENOMEM;
	if (r == -ENOMEM)
		fprintf(stderr, "hraudit: out of memory\n");
	else if (r < 0)
		fprintf(stderr, "hraudit: %s\n", err ? err : "query failed");
	free(err);
	if (r < 0)
		cli_exams_release(out);
	return r;
}

void cli_exams_release(struct cli_exams *ex)
{
	for (size_t i = 0; i < ex->n; i++) {
		struct cli_exam *e = &ex->v[i];

		free(e->accession_number);
		free(e->study_date);
		free(e->study_time);
		free(e->model);
		free(e->station_name);
		free(e->series_description);
		free(e->scan_type);
		free(e->hr_source);
		free(e->dlp_source);
		free(e->ctdivol_source);
		free(e->hr_avg.text);
		free(e->hr_min.text);
		free(e->hr_max.text);
		free(e->hr_var.text);
		free(e->ctdivol_mgy.text);
		free(e->dlp_mgycm.text);
		free(e->calcium_score.text);
	}
	free(ex->v);
	memset(ex, 0, sizeof *ex);
}
