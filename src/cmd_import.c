/*
 * cmd_import.c - `hraudit import PATH...`: backfill the database from DICOM
 * files on disk.
 *
 * Each file's header is read without its pixel data (dcm_header_load_file)
 * and recorded by ingest_header(), the path every network arrival takes, as
 * if sent by the AE title "IMPORT": a file gives the same row as the same
 * object received by hrauditd.
 *
 * Folders are walked recursively, in name order.  Symbolic links are
 * followed, but a directory is entered only once (by device and inode), so
 * a link to an ancestor (a loop) or a second link to a folder adds nothing.
 * The paths are walked twice: the first walk counts the files (the total of
 * the progress bar), the second imports them.
 *
 * Exit status: 0 when every readable file was recorded (unreadable ones are
 * listed on stderr and skipped); 1 on a database error, out of memory, an
 * interruption, or a PATH given that does not exist.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <search.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "dcm.h"
#include "ingest.h"

/* calling_aet of the rows an import creates: fits the AE title column. */
#define IMPORT_SOURCE "IMPORT"
/* Set by SIGINT/SIGTERM; the walk stops before the next file. */
static volatile sig_atomic_t interrupted;

struct dir_id {
	dev_t dev;
	ino_t ino;
};

struct import {
	struct ingest ingest;
	struct raw scratch;        /* reused by every ingest_header()        */
	bool counting;             /* first walk: count the files only       */
	struct cli_progress progress;
	void *seen;                /* tsearch(3) set of struct dir_id        */
	unsigned long total;       /* files found by the first walk          */
	unsigned long done;        /* files handled by the second            */
	unsigned long recorded, new_series, not_cardiac, duplicates, unreadable;
	unsigned long missing;     /* operands that cannot be accessed       */
};

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* "counting files: N" during the first walk, then "[####    ] done/total
 * files". */
static void progress_draw(struct import *imp)
{
	if (imp->counting)
		cli_progress_draw(&imp->progress, false, 0, 0,
		                  "counting files: %lu", imp->total);
	else
		cli_progress_draw(&imp->progress, true, imp->done, imp->total,
		                  "%lu/%lu files", imp->done,
		                  imp->total > imp->done ? imp->total : imp->done);
}

/* One file or directory that cannot be imported: listed on stderr (second
 * walk only) and counted. */
static void unreadable(struct import *imp, const char *path, const char *reason)
{
	imp->unreadable++;
	if (imp->counting)
		return;
	imp->done++;
	cli_progress_clear(&imp->progress);
	fprintf(stderr, "hraudit: skipped '%s': %s\n", path, reason);
}

/* The toolkit's message without its "cannot read 'PATH': " prefix. */
static const char *load_reason(const char *err, const char *path)
{
	size_t n = strlen(path);

	if (!err)
		return "cannot read";
	if (strncmp(err, "cannot read '", 13) == 0 && strncmp(err + 13, path, n) == 0 &&
	    strncmp(err + 13 + n, "': ", 3) == 0)
		return err + 13 + n + 3;
	return err;
}

/* Imports one regular file.  Returns 0, or < 0 to stop: a database error
 * or no memory (said on stderr). */
static int import_file(struct import *imp, const char *path)
{
	struct dcm_header *h = NULL;
	struct instance_info info;
	enum store_outcome outcome;
	char *err = NULL;
	int r;

	if (imp->counting) {
		imp->total++;
		progress_draw(imp);
		return 0;
	}
	r = dcm_header_load_file(path, &h, &err);
	if (r == -ENOMEM)
		goto fail;
	if (r < 0) {
		char reason[512];

		if (r == -EINVAL)
			snprintf(reason, sizeof reason, "not a dicom file (%s)",
			         load_reason(err, path));
		else
			snprintf(reason, sizeof reason, "%s", load_reason(err, path));
		unreadable(imp, path, reason);
		r = 0;
		goto out;
	}
	r = ingest_header(&imp->ingest, h, &imp->scratch, IMPORT_SOURCE, &info,
	                  &outcome, &err);
	if (r == -EINVAL) {
		unreadable(imp, path, err ? err : "no study, series or instance uid");
		r = 0;
		goto out;
	}
	if (r < 0)
		goto fail;
	imp->done++;
	switch (outcome) {
	case STORE_NEW_SERIES:
		imp->new_series++;
		/* fall through */
	case STORE_ADDED:
	case STORE_DOSE_REPORT:
		imp->recorded++;
		break;
	case STORE_DUPLICATE:
		imp->duplicates++;
		break;
	case STORE_IGNORED:
		imp->not_cardiac++;
		break;
	}
	progress_draw(imp);
	goto out;
fail:
	cli_progress_clear(&imp->progress);
	fprintf(stderr, "hraudit: cannot record '%s': %s\n", path,
	        err ? err : strerror(-r));
out:
	dcm_header_free(h);
	free(err);
	return r;
}

static int dir_id_cmp(const void *a, const void *b)
{
	const struct dir_id *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return 0;
}

static int not_dot_or_dotdot(const struct dirent *e)
{
	return strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
}

static int visit(struct import *imp, const char *path, bool operand);

/* Walks directory `path` (stat st) unless it was entered before. */
static int walk_dir(struct import *imp, const char *path, const struct stat *st)
{
	struct dirent **names = NULL;
	struct dir_id *id, **found;
	char *child;
	int n, i, r = 0;

	id = malloc(sizeof *id);
	if (!id)
		return -ENOMEM;
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	found = tsearch(id, &imp->seen, dir_id_cmp);
	if (!found) {
		free(id);
		return -ENOMEM;
	}
	if (*found != id) {   /* entered already: a loop, or another link */
		free(id);
		return 0;
	}
	n = scandir(path, &names, not_dot_or_dotdot, alphasort);
	if (n < 0) {
		unreadable(imp, path, strerror(errno));
		return 0;
	}
	for (i = 0; i < n && r == 0; i++) {
		if (asprintf(&child, "%s%s%s", path,
		             path[strlen(path) - 1] == '/' ? "" : "/",
		             names[i]->d_name) < 0) {
			r = -ENOMEM;
			break;
		}
		r = visit(imp, child, false);
		free(child);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

/* A path given (operand) or found: a regular file is imported, a directory
 * walked (symbolic links followed).  Returns 0, or < 0 to stop. */
static int visit(struct import *imp, const char *path, bool operand)
{
	struct stat st;

	if (interrupted)
		return -EINTR;
	if (stat(path, &st) < 0) {
		if (operand && !imp->counting)
			imp->missing++;
		unreadable(imp, path, strerror(errno));
		return 0;
	}
	if (S_ISREG(st.st_mode))
		return import_file(imp, path);
	if (S_ISDIR(st.st_mode))
		return walk_dir(imp, path, &st);
	unreadable(imp, path, "not a regular file or directory");
	return 0;
}

/* Walks every path; the first walk counts, the second imports. */
static int walk(struct import *imp, char **paths, int npaths, bool counting)
{
	int r = 0;

	imp->counting = counting;
	imp->unreadable = 0;
	imp->progress.last_ns = 0;
	for (int i = 0; i < npaths && r == 0; i++)
		r = visit(imp, paths[i], true);
	tdestroy(imp->seen, free);
	imp->seen = NULL;
	if (counting)
		imp->total += imp->unreadable;
	return r;
}

int cmd_import(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct import imp = {.scratch = RAW_INIT};
	struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
	int c, r, status = 0;

	optind = 0;   /* 0, not 1: glibc then re-reads the option order (main used "+") */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			cli_usage(stdout);
			return 0;
		}
		return cli_bad_usage("%s: bad option", "import");
	}
	if (optind == argc)
		return cli_bad_usage("%s: no file or folder given", "import");
	if (cli_open_store(cli, true) < 0)
		return 1;
	imp.ingest = (struct ingest){&cli->cfg, cli->store, NULL};
	cli_progress_init(&imp.progress);

	/* Every file is committed on its own: stopping between two files
	 * loses nothing, and the summary says how far the import went. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);

	r = walk(&imp, argv + optind, argc - optind, true);
	if (r == 0)
		r = walk(&imp, argv + optind, argc - optind, false);
	cli_progress_clear(&imp.progress);
	if (r == -ENOMEM)
		fprintf(stderr, "hraudit: out of memory\n");
	else if (r == -EINTR)
		fprintf(stderr, "hraudit: interrupted\n");
	if (r < 0)
		fprintf(stderr, "hraudit: import stopped after %lu of %lu files\n",
		        imp.done, imp.total);
	/* Unreadable files are listed and skipped; a path given that is not
	 * there is probably mistyped: the run fails, like cp(1). */
	if (r < 0 || imp.missing)
		status = 1;
	printf("%lu files: %lu recorded (%lu new series), %lu not cardiac, "
	       "%lu duplicates, %lu unreadable\n", imp.total, imp.recorded,
	       imp.new_series, imp.not_cardiac, imp.duplicates, imp.unreadable);
	if (fflush(stdout) != 0 && status == 0) {
		fprintf(stderr, "hraudit: cannot write output: %s\n", strerror(errno));
		status = 1;
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	raw_release(&imp.scratch);
	return status;
}
