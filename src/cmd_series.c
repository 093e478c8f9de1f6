/*
 * cmd_series.c - the commands on series rows: series (a table), export
 * (every column, CSV or JSON, optionally by study date, written atomically
 * to a file) and reparse (re-derive from series_raw).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "classify.h"
#include "audit.h"
#include "cli.h"
#include "extract.h"

static const struct option format_options[] = {
	{"format", required_argument, NULL, 'F'},
	{"output", required_argument, NULL, 'o'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

int cmd_series(struct cli *cli, int argc, char **argv)
{
	enum output_format fmt = OUTPUT_TABLE;
	int c, r;

	optind = 0;   /* 0, not 1: glibc then re-reads the option order (main used "+") */
	while ((c = getopt_long(argc, argv, "h", format_options, NULL)) != -1) {
		switch (c) {
		case 'F':
			if (output_parse_format(optarg, &fmt) < 0)
				return cli_bad_usage("unknown format '%s'", optarg);
			break;
		case 'h':
			cli_usage(stdout);
			return 0;
		default:
			return cli_bad_usage("%s: bad option", "series");
		}
	}
	if (optind != argc)
		return cli_bad_usage("series: unexpected argument '%s'", argv[optind]);
	if ((r = cli_open_store(cli, false)) < 0)
		return 1;
	return cli_print_query(cli,
	        "SELECT study_date, study_time, accession_number, model, "
	        "series_number AS no, series_description, scan_type, hr_avg, "
	        "hr_min, hr_max, hr_var, heart_rate, phase_percent AS phase, "
	        "ctdivol_mgy, instances FROM series "
	        "ORDER BY study_date, study_time, accession_number, series_number",
	        NULL, 0, stdout, fmt, NULL, 0);
}

static const struct option export_options[] = {
	{"format", required_argument, NULL, 'F'},
	{"output", required_argument, NULL, 'o'},
	{"from", required_argument, NULL, 'A'},
	{"to", required_argument, NULL, 'B'},
	{"daily", required_argument, NULL, 'D'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* DIR/hraudit-YYYY-MM-DD.EXT for today (local time), malloc'd, or NULL. */
static char *daily_path(const char *dir, enum output_format fmt)
{
	char date[16], *path;
	time_t now = time(NULL);
	struct tm tm;

	if (!localtime_r(&now, &tm) || strftime(date, sizeof date, "%Y-%m-%d", &tm) == 0)
		return NULL;
	if (asprintf(&path, "%s%shraudit-%s.%s", dir,
	             dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/", date,
	             fmt == OUTPUT_JSON ? "json" : "csv") < 0)
		return NULL;
	return path;
}

int cmd_export(struct cli *cli, int argc, char **argv)
{
	enum output_format fmt = OUTPUT_CSV;
	const char *outpath = NULL, *daily = NULL;
	const char *dates[2] = {NULL, NULL};   /* ?1 from, ?2 to: NULL for none */
	struct cli_output out;
	char sql[2048], *path = NULL;
	size_t len;
	int ncols, c, status;

	optind = 0;   /* 0, not 1: glibc then re-reads the option order (main used "+") */
	while ((c = getopt_long(argc, argv, "o:h", export_options, NULL)) != -1) {
		switch (c) {
		case 'F':
			if (output_parse_format(optarg, &fmt) < 0 || fmt == OUTPUT_TABLE)
				return cli_bad_usage("export: unknown format '%s' (csv or json)",
				                 optarg);
			break;
		case 'o':
			outpath = optarg;
			break;
		case 'A':
		case 'B':
			if (!audit_date_valid(optarg))
				return cli_bad_usage("export: bad date '%s' (YYYY-MM-DD)", optarg);
			dates[c == 'B'] = optarg;
			break;
		case 'D':
			daily = optarg;
			break;
		case 'h':
			cli_usage(stdout);
			return 0;
		default:
			return cli_bad_usage("%s: bad option", "export");
		}
	}
	if (optind != argc)
		return cli_bad_usage("export: unexpected argument '%s'", argv[optind]);
	if (outpath && daily)
		return cli_bad_usage("export: %s", "-o and --daily exclude each other");
	if (dates[0] && dates[1] && strcmp(dates[0], dates[1]) > 0)
		return cli_bad_usage("export: --from %s is after --to", dates[0]);
	if (cli_open_store(cli, false) < 0)
		return 1;

	/* study_date is text YYYY-MM-DD: compared as text, both ends inclusive;
	 * a series without a study date is left out when a bound is given. */
	len = (size_t)snprintf(sql, sizeof sql, "SELECT ");
	for (ncols = 0; store_series_columns[ncols]; ncols++)
		len += (size_t)snprintf(sql + len, sizeof sql - len, "%s%s",
		                        ncols ? ", " : "", store_series_columns[ncols]);
	snprintf(sql + len, sizeof sql - len, " FROM series "
	         "WHERE (?1 IS NULL OR study_date >= ?1) "
	         "AND (?2 IS NULL OR study_date <= ?2) "
	         "ORDER BY study_date, study_time, accession_number, series_number, "
	         "series_uid");

	if (daily) {
		path = daily_path(daily, fmt);
		if (!path) {
			fprintf(stderr, "hraudit: out of memory\n");
			return 1;
		}
		outpath = path;
	}
	if (outpath) {
		if (cli_output_open(&out, outpath) != 0) {
			free(path);
			return 1;
		}
	} else {
		cli_output_open(&out, NULL);
	}
	status = cli_print_query(cli, sql, dates, 2, out.f, fmt,
	                         store_series_columns, ncols);
	status = cli_output_close(&out, status);
	free(path);
	return status;
}

/* Re-derivation of one series: the same code as on arrival. */
static int derive(void *ctx, const struct raw *raw, struct instance_info *info)
{
	const struct cli *cli = ctx;

	extract_derive(raw, info);
	classify_scan_type(&cli->cfg.scan_type_rules, info);
	return 0;
}

int cmd_reparse(struct cli *cli, int argc, char **argv)
{
	unsigned long examined, changed;
	char *err = NULL;
	int c, r;

	optind = 0;   /* 0, not 1: glibc then re-reads the option order (main used "+") */
	while ((c = getopt_long(argc, argv, "h", format_options, NULL)) != -1) {
		if (c == 'h') {
			cli_usage(stdout);
			return 0;
		}
		return cli_bad_usage("%s: bad option", "reparse");
	}
	if (optind != argc)
		return cli_bad_usage("reparse: unexpected argument '%s'", argv[optind]);
	if (cli_open_store(cli, true) < 0)
		return 1;
	r = store_reparse(cli->store, derive, cli, &examined, &changed, &err);
	if (r < 0) {
		fprintf(stderr, "hraudit: %s\n", err ? err : "reparse failed");
		free(err);
		return 1;
	}
	printf("%lu series re-derived from their stored material, %lu changed\n",
	       examined, changed);
	return 0;
}

