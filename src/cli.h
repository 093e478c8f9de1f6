/*
 * cli.h - what the commands of hraudit share (private to the CLI).
 *
 * Each command lives in src/cmd_*.c as `int cmd_NAME(struct cli *, int
 * argc, char **argv)`: argv[0] is the command's name, the return value the
 * exit status (0 success, 1 failure, CLI_EXIT_USAGE bad arguments).
 */
#ifndef HRAUDIT_CLI_H
#define HRAUDIT_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "output.h"
#include "store.h"

#define CLI_EXIT_USAGE 2

struct cli {
	const char *db_path;       /* --db, or NULL                          */
	const char *config_path;   /* -f, or NULL for the default            */
	struct config cfg;         /* defaults until cli_open_store loads it */
	struct store *store;       /* open after cli_open_store()            */
};

/* Prints "hraudit: MESSAGE" (fmt with one %s) and a hint; returns
 * CLI_EXIT_USAGE. */
int cli_bad_usage(const char *fmt, const char *arg);

/* The usage text of the whole program, to f. */
void cli_usage(FILE *f);

/* Loads the configuration and opens the database (read-only unless
 * writable), saying why on stderr when it cannot.  Returns 0 or < 0. */
int cli_open_store(struct cli *cli, bool writable);

/* Loads the configuration (-f, or the default file) without opening the
 * database, which cli_open_store() does (loading it again).  Returns 0, or
 * < 0 having said why. */
int cli_load_config(struct cli *cli);

/* Runs one read-only query and prints its rows; header (may be NULL) gives
 * the column names when there is no row.  Returns an exit status. */
int cli_print_query(struct cli *cli, const char *sql, const char *const *params,
                    size_t nparams, FILE *f, enum output_format fmt,
                    const char *const *header, int nheader);

/*
 * An output file (-o FILE, --html FILE...) replaced atomically: written to
 * FILE.XXXXXX beside it, flushed to disk, then renamed over FILE, so that a
 * reader (a spreadsheet, a copy job, a browser) finds the previous file or
 * the whole new one, never a part.  A FILE that exists and is a device, a
 * FIFO or a symbolic link is written in place (-o /dev/stdout works); a
 * NULL path is standard output.
 */
struct cli_output {
	const char *path;
	char *tmp;                 /* NULL when written in place */
	FILE *f;                   /* where to write                */
};

/* Returns 0, or 1 having said why. */
int cli_output_open(struct cli_output *o, const char *path);

/* With status 0: flushes, syncs and renames the file into place; otherwise
 * (or when that fails) removes the temporary file, leaving FILE as it was.
 * Returns the exit status. */
int cli_output_close(struct cli_output *o, int status);

/*
 * The progress line of a long command on standard error, drawn only when
 * it is a terminal, at most 10 times a second (src/cli_progress.c).
 */
struct cli_progress {
	bool on;                   /* standard error is a terminal           */
	int len;                   /* characters on screen, or 0             */
	long long last_ns;         /* CLOCK_MONOTONIC of the last drawing; 0
	                              draws the next one at once              */
};

void cli_progress_init(struct cli_progress *p);

/* Draws "[####      ] TEXT" (done of total; with bar false, TEXT alone)
 * over the previous line, unless that was drawn less than 0.1 s ago. */
void cli_progress_draw(struct cli_progress *p, bool bar, unsigned long done,
                       unsigned long total, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Removes the line, so that a message or the summary starts clean. */
void cli_progress_clear(struct cli_progress *p);

/*
 * The exams of the `exam` view (sql/003-audit.sql), read once for every
 * report (src/cli_exams.c).  Texts are as stored, "" kept apart from NULL;
 * a number keeps its text too, so that a report prints it as sqlite3 does.
 */
struct cli_number {
	double value;              /* NAN when NULL or not a number (stored as
	                              text): print text as a number otherwise */
	char *text;                /* malloc'd, NULL when NULL                */
};

struct cli_exam {
	char *accession_number, *study_date, *study_time, *model,
	     *station_name, *series_description, *scan_type, *hr_source;
	char *dlp_source;          /* "rdsr" or NULL (sql/005-dose.sql)       */
	char *ctdivol_source;      /* "image", "rdsr" or NULL                 */
	char date[11];             /* study_date if a valid YYYY-MM-DD, or "" */
	int weekday;               /* of study_date: 0 Sunday .. 6 Saturday,
	                              -1 unknown                              */
	struct cli_number hr_avg, hr_min, hr_max, hr_var;       /* bpm        */
	struct cli_number ctdivol_mgy, dlp_mgycm, calcium_score;
};

struct cli_exams {
	struct cli_exam *v;        /* ordered by study_date, study_time,
	                              accession_number, scan_type (NULL first) */
	size_t n, cap;
	bool has_dlp;              /* the view has dlp_mgycm and dlp_source
	                              (schema 5); otherwise they are NULL      */
};

/* Reads into *out (zeroed) the exams with from <= study_date <= to, either
 * bound NULL for none, from the store cli_open_store() opened.  Returns 0,
 * or < 0 having said why on stderr (then *out holds nothing). */
int cli_load_exams(struct cli *cli, const char *from, const char *to,
                   struct cli_exams *out) __attribute__((warn_unused_result));

/* Frees the exams; *ex is left empty.  Accepts an empty one. */
void cli_exams_release(struct cli_exams *ex);

/* s, or NULL when it is "": the audit reports group "" with NULL. */
static inline const char *cli_known(const char *s)
{
	return s && *s ? s : NULL;
}

int cmd_series(struct cli *cli, int argc, char **argv);
int cmd_export(struct cli *cli, int argc, char **argv);
int cmd_reparse(struct cli *cli, int argc, char **argv);
int cmd_compliance(struct cli *cli, int argc, char **argv);
int cmd_import_calcium(struct cli *cli, int argc, char **argv);
int cmd_merge_openrem(struct cli *cli, int argc, char **argv);
int cmd_summary(struct cli *cli, int argc, char **argv);
int cmd_weekday(struct cli *cli, int argc, char **argv);
int cmd_histogram(struct cli *cli, int argc, char **argv);
int cmd_import(struct cli *cli, int argc, char **argv);
int cmd_report(struct cli *cli, int argc, char **argv);
int cmd_retrieve(struct cli *cli, int argc, char **argv);

#endif
