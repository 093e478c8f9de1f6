/*
 * hraudit.c - the query CLI: hraudit [--db PATH | -f CONFIG] COMMAND [ARGS].
 *
 * Opens the database read-only through store.h and prints through output.h;
 * it links the same modules as the daemon and knows nothing of SQLite.
 * Exit status: 0 success, 1 failure, 2 bad arguments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "classify.h"
#include "config.h"
#include "extract.h"
#include "output.h"
#include "store.h"

#define EXIT_USAGE 2

struct cli {
	const char *db_path;
	const char *config_path;
	struct config cfg;
	struct store *store;
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: hraudit [--db PATH | -f CONFIG] COMMAND [ARGS]\n"
	        "\n"
	        "commands:\n"
	        "  series [--format table|csv|json]   the recorded series, oldest first\n"
	        "  export [--format csv|json] [-o FILE]\n"
	        "                                     every column of every series\n"
	        "  reparse                            re-derive every column from the\n"
	        "                                     stored raw material (series_raw)\n"
	        "\n"
	        "options:\n"
	        "  --db PATH       database (default: [database] path of the configuration)\n"
	        "  -f, --config F  configuration (default " CONFIG_DEFAULT_PATH ")\n"
	        "  -h, --help      this help\n");
}

static int bad_usage(const char *fmt, const char *arg)
{
	fputs("hraudit: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\n(try 'hraudit --help')\n", stderr);
	return EXIT_USAGE;
}

/* Loads the configuration: -f, else the default file when it is there
 * (with --db the database needs none).  Returns 0 or an exit status. */
static int load_config(struct cli *cli)
{
	const char *path = cli->config_path ? cli->config_path : CONFIG_DEFAULT_PATH;
	char *err = NULL;
	int r;

	if (!cli->config_path && cli->db_path && access(path, F_OK) < 0)
		return 0;   /* the defaults (main) */
	config_release(&cli->cfg);
	r = config_load(path, &cli->cfg, &err);
	if (r < 0) {
		fprintf(stderr, "hraudit: %s\n", err ? err : "bad configuration");
		if (!cli->config_path && r == -ENOENT)
			fprintf(stderr, "hraudit: name the database with --db PATH\n");
		free(err);
		return 1;
	}
	return 0;
}

/* Opens the database named by --db, or by the configuration. */
static int open_store(struct cli *cli, bool writable)
{
	struct store_options opt = {.readonly = !writable, .busy_timeout_ms = 5000,
	                            .synchronous_full = true};
	char *err = NULL;
	int r;

	if (load_config(cli) != 0)
		return -EINVAL;
	r = store_open(cli->db_path ? cli->db_path : cli->cfg.database.path, &opt,
	               &cli->store, &err);
	if (r < 0)
		fprintf(stderr, "hraudit: %s\n", err ? err : "cannot open database");
	free(err);
	return r;
}

/* Runs one query into one output; returns an exit status. */
static int print_query(struct cli *cli, const char *sql, FILE *f,
                       enum output_format fmt, int max_width,
                       const char *const *header, int nheader)
{
	struct output *o;
	char *err = NULL;
	int r;

	o = output_new(f, fmt, max_width);
	if (!o) {
		fprintf(stderr, "hraudit: out of memory\n");
		return 1;
	}
	if (header && fmt != OUTPUT_TABLE)
		output_header(o, nheader, header);
	r = store_query(cli->store, sql, NULL, 0, output_row, o, &err);
	if (r < 0)
		fprintf(stderr, "hraudit: %s\n", err ? err : "query failed");
	if (output_finish(o) < 0 && r == 0) {
		fprintf(stderr, "hraudit: cannot write output: %s\n", strerror(errno));
		r = -EIO;
	}
	output_free(o);
	free(err);
	return r < 0 ? 1 : 0;
}

static const struct option format_options[] = {
	{"format", required_argument, NULL, 'F'},
	{"output", required_argument, NULL, 'o'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int cmd_series(struct cli *cli, int argc, char **argv)
{
	enum output_format fmt = OUTPUT_TABLE;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", format_options, NULL)) != -1) {
		switch (c) {
		case 'F':
			if (output_parse_format(optarg, &fmt) < 0)
				return bad_usage("unknown format '%s'", optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_usage("%s: bad option", "series");
		}
	}
	if (optind != argc)
		return bad_usage("series: unexpected argument '%s'", argv[optind]);
	if ((r = open_store(cli, false)) < 0)
		return 1;
	return print_query(cli,
	        "SELECT study_date, study_time, accession_number, model, "
	        "series_number AS no, series_description, scan_type, hr_avg, "
	        "hr_min, hr_max, hr_var, heart_rate, phase_percent AS phase, "
	        "ctdivol_mgy, instances FROM series "
	        "ORDER BY study_date, study_time, accession_number, series_number",
	        stdout, fmt, 0, NULL, 0);
}

static int cmd_export(struct cli *cli, int argc, char **argv)
{
	enum output_format fmt = OUTPUT_CSV;
	const char *outpath = NULL;
	char sql[2048];
	size_t len;
	int ncols, c, status;
	FILE *f = stdout;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", format_options, NULL)) != -1) {
		switch (c) {
		case 'F':
			if (output_parse_format(optarg, &fmt) < 0 || fmt == OUTPUT_TABLE)
				return bad_usage("export: unknown format '%s' (csv or json)",
				                 optarg);
			break;
		case 'o':
			outpath = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_usage("%s: bad option", "export");
		}
	}
	if (optind != argc)
		return bad_usage("export: unexpected argument '%s'", argv[optind]);
	if (open_store(cli, false) < 0)
		return 1;

	len = (size_t)snprintf(sql, sizeof sql, "SELECT ");
	for (ncols = 0; store_series_columns[ncols]; ncols++)
		len += (size_t)snprintf(sql + len, sizeof sql - len, "%s%s",
		                        ncols ? ", " : "", store_series_columns[ncols]);
	snprintf(sql + len, sizeof sql - len, " FROM series ORDER BY study_date, "
	         "study_time, accession_number, series_number, series_uid");

	if (outpath) {
		f = fopen(outpath, "w");
		if (!f) {
			fprintf(stderr, "hraudit: cannot write '%s': %s\n", outpath,
			        strerror(errno));
			return 1;
		}
	}
	status = print_query(cli, sql, f, fmt, 0, store_series_columns, ncols);
	if (f != stdout && fclose(f) != 0 && status == 0) {
		fprintf(stderr, "hraudit: cannot write '%s': %s\n", outpath, strerror(errno));
		status = 1;
	}
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

static int cmd_reparse(struct cli *cli, int argc, char **argv)
{
	unsigned long examined, changed;
	char *err = NULL;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", format_options, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		return bad_usage("%s: bad option", "reparse");
	}
	if (optind != argc)
		return bad_usage("reparse: unexpected argument '%s'", argv[optind]);
	if (open_store(cli, true) < 0)
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

static const struct {
	const char *name;
	int (*fn)(struct cli *, int, char **);
} commands[] = {
	{"series", cmd_series},
	{"export", cmd_export},
	{"reparse", cmd_reparse},
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"db", required_argument, NULL, 'D'},
		{"config", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct cli cli = {0};
	int c, status;

	/* '+': options after the command belong to the command */
	while ((c = getopt_long(argc, argv, "+f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'D': cli.db_path = optarg; break;
		case 'f': cli.config_path = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return bad_usage("%s", "no command given");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(argv[optind], commands[i].name) == 0) {
			config_defaults(&cli.cfg);
			status = commands[i].fn(&cli, argc - optind, argv + optind);
			store_close(cli.store);
			config_release(&cli.cfg);
			return status;
		}
	}
	return bad_usage("unknown command '%s'", argv[optind]);
}
