/*
 * hraudit.c - the query CLI: hraudit [--db PATH] [-f CONFIG] COMMAND [ARGS].
 *
 * main() dispatches to the commands (src/cmd_*.c, sharing src/cli.h); they
 * open the database through store.h and print through output.h, linking
 * the same modules as the daemon.
 * Exit status: 0 success, 1 failure, 2 bad arguments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <fcntl.h>

#include "cli.h"

static const struct {
	const char *name;
	int (*fn)(struct cli *, int, char **);
} commands[] = {
	{"series", cmd_series},
	{"export", cmd_export},
	{"reparse", cmd_reparse},
	{"compliance", cmd_compliance},
	{"import-calcium", cmd_import_calcium},
	{"merge-openrem", cmd_merge_openrem},
	{"summary", cmd_summary},
	{"weekday", cmd_weekday},
	{"histogram", cmd_histogram},
	{"import", cmd_import},
	{"report", cmd_report},
	{"retrieve", cmd_retrieve},
};

void cli_usage(FILE *f)
{
	fprintf(f,
	        "usage: hraudit [--db PATH | -f CONFIG] COMMAND [ARGS]\n"
	        "\n"
	        "commands:\n"
	        "  series [--format table|csv|json]   the recorded series, oldest first\n"
	        "  export [--format csv|json] [-o FILE]\n"
	        "                                     every column of every series\n"
	        "         [--from DATE] [--to DATE]   only studies of these dates (YYYY-MM-DD,\n"
	        "                                     inclusive)\n"
	        "         [--daily DIR]               to DIR/hraudit-YYYY-MM-DD.csv (today),\n"
	        "                                     .json with --format json; -o and --daily\n"
	        "                                     replace the file atomically\n"
	        "  reparse                            re-derive every column from the\n"
	        "                                     stored raw material (series_raw)\n"
	        "  compliance [--from DATE] [--to DATE] [--format table|csv|json]\n"
	        "                                     each exam's scan type against the\n"
	        "                                     [compliance] rules, then rates per scanner\n"
	        "  import-calcium FILE.csv            Agatston scores (columns accession_number,\n"
	        "                                     agatston) into table calcium_score\n"
	        "  merge-openrem OPENREM.csv [-o FILE] [--format csv|json]\n"
	        "                                     our exams joined with OpenREM's CT export\n"
	        "                                     by accession number (DLP, event CTDIvol)\n"
	        "  summary [--by KEYS] [FILTERS] [--format table|csv|json]\n"
	        "                                     exams, mean and median HR, mean HRV,\n"
	        "                                     median CTDIvol and DLP per group; KEYS:\n"
	        "                                     comma list of scanner, scan_type,\n"
	        "                                     month, year (default scanner,scan_type)\n"
	        "  weekday [FILTERS] [--format table|csv|json]\n"
	        "                                     exams and mean HR per weekday, per\n"
	        "                                     scan type and scanner\n"
	        "  histogram [--bin BPM] [FILTERS] [--format table|csv|json]\n"
	        "                                     HR histogram per scanner (bins of BPM,\n"
	        "                                     default 5; bars as wide as $COLUMNS)\n"
	        "    FILTERS: [--from DATE] [--to DATE] (YYYY-MM-DD, inclusive)\n"
	        "             [--scanner MODEL] [--scan-type CODE]   (counts are of exams)\n"
	        "  import PATH...                     record DICOM files, folders recursively,\n"
	        "                                     as if received from AE title IMPORT\n"
	        "  report --html FILE [--from DATE] [--to DATE]\n"
	        "                                     the audit as one self-contained HTML\n"
	        "                                     page with SVG charts (written atomically)\n"
	        "  retrieve --pacs AET@HOST:PORT --from DATE --to DATE\n"
	        "           [--modality CT] [--study-description GLOB]...\n"
	        "           [--series-description GLOB]... [--model GLOB]...\n"
	        "           [--aet AET] [--move-to AET] [--dry-run]\n"
	        "           [--timeout S] [--connect-timeout S]\n"
	        "                                     one instance of each series of the\n"
	        "                                     dates (YYYYMMDD) from a PACS, by C-GET\n"
	        "                                     (or C-MOVE to hrauditd AET); series\n"
	        "                                     already retrieved or recorded skipped;\n"
	        "                                     and the dose SR of cardiac studies\n"
	        "\n"
	        "options:\n"
	        "  --db PATH       database (default: [database] path of the configuration)\n"
	        "  -f, --config F  configuration (default " CONFIG_DEFAULT_PATH ")\n"
	        "  -h, --help      this help\n");
}

int cli_bad_usage(const char *fmt, const char *arg)
{
	fputs("hraudit: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\n(try 'hraudit --help')\n", stderr);
	return CLI_EXIT_USAGE;
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

int cli_load_config(struct cli *cli)
{
	return load_config(cli) == 0 ? 0 : -EINVAL;
}

/* Opens the database named by --db, or by the configuration. */
int cli_open_store(struct cli *cli, bool writable)
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

int cli_print_query(struct cli *cli, const char *sql, const char *const *params,
                    size_t nparams, FILE *f, enum output_format fmt,
                    const char *const *header, int nheader)
{
	struct output *o;
	char *err = NULL;
	int r;

	o = output_new(f, fmt);
	if (!o) {
		fprintf(stderr, "hraudit: out of memory\n");
		return 1;
	}
	if (header && fmt != OUTPUT_TABLE)
		output_header(o, nheader, header);
	r = store_query(cli->store, sql, params, nparams, output_row, o, &err);
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

int cli_output_open(struct cli_output *a, const char *path)
{
	struct stat st;
	mode_t mask;
	int fd;

	a->path = path;
	a->tmp = NULL;
	a->f = stdout;
	if (!path)
		return 0;
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
		a->f = fopen(path, "w");
		if (!a->f)
			fprintf(stderr, "hraudit: cannot write '%s': %s\n", path,
			        strerror(errno));
		return a->f ? 0 : 1;
	}
	if (asprintf(&a->tmp, "%s.XXXXXX", path) < 0) {
		a->tmp = NULL;
		fprintf(stderr, "hraudit: out of memory\n");
		return 1;
	}
	fd = mkstemp(a->tmp);
	if (fd < 0) {
		fprintf(stderr, "hraudit: cannot write '%s': %s\n", path, strerror(errno));
		goto fail;
	}
	/* mkstemp makes it 0600: give it the mode fopen(3) would have. */
	mask = umask(0);
	umask(mask);
	fchmod(fd, 0666 & ~mask);
	a->f = fdopen(fd, "w");
	if (!a->f) {
		fprintf(stderr, "hraudit: cannot write '%s': %s\n", path, strerror(errno));
		close(fd);
		unlink(a->tmp);
		goto fail;
	}
	return 0;
fail:
	free(a->tmp);
	a->tmp = NULL;
	return 1;
}

/* Syncs the directory holding path, so that the rename is on disk too. */
static int sync_parent(const char *path)
{
	char *dir = strdup(path), *slash;
	int fd, r = -1;

	if (!dir)
		return -1;
	slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		r = fsync(fd);
		close(fd);
	}
	free(dir);
	return r;
}

int cli_output_close(struct cli_output *a, int status)
{
	int e = 0;

	if (!a->tmp) {
		if ((fflush(a->f) != 0 || ferror(a->f)) && status == 0) {
			fprintf(stderr, "hraudit: cannot write '%s': %s\n",
			        a->path ? a->path : "standard output", strerror(errno));
			status = 1;
		}
		if (a->f != stdout && fclose(a->f) != 0 && status == 0) {
			fprintf(stderr, "hraudit: cannot write '%s': %s\n", a->path,
			        strerror(errno));
			status = 1;
		}
		return status;
	}
	if (status == 0 && (fflush(a->f) != 0 || ferror(a->f) ||
	                    fsync(fileno(a->f)) < 0))
		e = errno ? errno : EIO;
	if (fclose(a->f) != 0 && status == 0 && !e)
		e = errno;
	if (status == 0 && !e && rename(a->tmp, a->path) < 0)
		e = errno;
	if (status == 0 && e)
		fprintf(stderr, "hraudit: cannot write '%s': %s\n", a->path, strerror(e));
	if (status != 0 || e) {
		unlink(a->tmp);
		status = 1;
	} else {
		sync_parent(a->path);   /* best effort: the data itself is synced */
	}
	free(a->tmp);
	a->tmp = NULL;
	return status;
}


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
		case 'h': cli_usage(stdout); return 0;
		default: cli_usage(stderr); return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return cli_bad_usage("%s", "no command given");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(argv[optind], commands[i].name) == 0) {
			config_defaults(&cli.cfg);
			status = commands[i].fn(&cli, argc - optind, argv + optind);
			store_close(cli.store);
			config_release(&cli.cfg);
			return status;
		}
	}
	return cli_bad_usage("unknown command '%s'", argv[optind]);
}
