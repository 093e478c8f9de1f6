/*
 * cmd_series.c - the commands on series rows: series (a table), export
 * (every column, CSV or JSON) and reparse (re-derive from series_raw).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
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

	optind = 1;
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

int cmd_export(struct cli *cli, int argc, char **argv)
{
	enum output_format fmt = OUTPUT_CSV;
	const char *outpath = NULL;
	char sql[2048];
	size_t len;
	int ncols, c, status;
	FILE *f;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", format_options, NULL)) != -1) {
		switch (c) {
		case 'F':
			if (output_parse_format(optarg, &fmt) < 0 || fmt == OUTPUT_TABLE)
				return cli_bad_usage("export: unknown format '%s' (csv or json)",
				                 optarg);
			break;
		case 'o':
			outpath = optarg;
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
	if (cli_open_store(cli, false) < 0)
		return 1;

	len = (size_t)snprintf(sql, sizeof sql, "SELECT ");
	for (ncols = 0; store_series_columns[ncols]; ncols++)
		len += (size_t)snprintf(sql + len, sizeof sql - len, "%s%s",
		                        ncols ? ", " : "", store_series_columns[ncols]);
	snprintf(sql + len, sizeof sql - len, " FROM series ORDER BY study_date, "
	         "study_time, accession_number, series_number, series_uid");

	f = cli_open_output(outpath);
	if (!f)
		return 1;
	status = cli_print_query(cli, sql, NULL, 0, f, fmt, store_series_columns, ncols);
	return cli_close_output(f, outpath, status);
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

	optind = 1;
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

