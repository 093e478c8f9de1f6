/*
 * store.h - the SQLite database: one row per series, one per instance seen.
 *
 * The schema is the numbered files in sql/, compiled into the binary and
 * applied in one transaction when a database is opened; PRAGMA
 * application_id and user_version name it.  WAL mode, so readers (the CLI,
 * a physicist's sqlite3) never block the daemon.  Every store_record() (or
 * store_record_batch()) is one committed transaction: the row is on disk
 * before the caller answers the C-STORE.
 *
 * A struct store is used by one thread at a time; the daemon's threads
 * write through ingest.c's group commit, which also serialises them.
 */
#ifndef HRAUDIT_STORE_H
#define HRAUDIT_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "extract.h"

struct rdsr_report;

#define STORE_APPLICATION_ID 0x48524144 /* "HRAD" */

struct store;

/* Times in the database (received, imported) are ISO 8601 UTC with
 * milliseconds, "2026-11-25T03:12:45.123Z"; this is the buffer they need. */
#define STORE_TIME_MAX 64

/* The time now, in that form. */
void store_now_utc(char out[STORE_TIME_MAX]);

struct store_options {
	bool readonly;            /* the CLI's queries: never creates or migrates */
	int busy_timeout_ms;      /* wait this long for a lock before failing     */
	bool synchronous_full;    /* fsync the WAL at every commit (power safety) */
};

/*
 * Opens (creating it and its schema unless readonly) the database at path.
 * Returns 0; -ENOENT (readonly and missing), -EPROTO (not an hraudit database,
 * or a newer schema), -EIO.  A message goes to *errmsg (malloc'd).
 */
int store_open(const char *path, const struct store_options *opt,
               struct store **out, char **errmsg);

/*
 * Copies the WAL into the database and empties it, as closing does; for
 * the daemon to say so when it cannot (a full disk: the WAL then stays
 * beside the database, whole, and the next open replays it).  Returns 0,
 * or -ENOSPC, -EBUSY, -EIO with *errmsg.
 */
int store_checkpoint(struct store *s, char **errmsg);

/* Closes the database (checkpointing the WAL).  Accepts NULL. */
void store_close(struct store *s);

enum store_outcome {
	STORE_NEW_SERIES,     /* first instance of a series: row created        */
	STORE_ADDED,          /* a new instance of a recorded series            */
	STORE_DUPLICATE,      /* an instance already counted: nothing changed   */
	STORE_IGNORED,        /* not cardiac and its series is not recorded     */
	STORE_DOSE_REPORT,    /* a dose report recorded, with its events        */
};

/*
 * Records one received instance.  A cardiac instance creates its series row
 * if needed; any instance of a recorded series counts in it.  raw_json is
 * the instance's raw material (raw_to_json): instances that agree share a
 * series_raw row.  The series row's derived columns show the material of
 * the instance with the lowest Instance Number (ties: lowest material
 * hash), so the row does not depend on the order of arrival.
 * received_utc: ISO 8601 time of arrival; calling_aet: sender's AE title.
 * Returns 0 with *outcome set, or -EBUSY (lock not obtained in time),
 * -ENOSPC (disk or database full), -EIO; the database is then unchanged,
 * and *errmsg (if errmsg is not NULL) the reason, without the instance.
 */
int store_record(struct store *s, const struct instance_info *info,
                 const char *raw_json, bool cardiac, const char *received_utc,
                 const char *calling_aet, enum store_outcome *outcome,
                 char **errmsg);

/* One instance of a batch (store_record_batch), with its result: an
 * image (info and raw_json), or a dose report (dose; info and raw_json
 * unused), as store_record() or store_record_dose() records it. */
struct store_item {
	const struct instance_info *info;     /* as for store_record()      */
	const char *raw_json;
	const struct rdsr_report *dose;       /* as for store_record_dose() */
	bool cardiac;
	const char *received_utc;
	const char *calling_aet;
	enum store_outcome outcome;           /* out: when r == 0            */
	int r;                                /* out: 0 or a negative errno  */
	char *errmsg;                         /* out: malloc'd when r < 0    */
};

/*
 * Records n instances in one transaction, one commit (one fsync): the
 * group commit of concurrent associations (ingest.c).  Each item is
 * recorded or not on its own (a savepoint each), as store_record() would;
 * if the commit itself fails, every item fails.  Returns how many items
 * were recorded (r == 0).
 */
int store_record_batch(struct store *s, struct store_item *items, size_t n);

/*
 * Records one CT Radiation Dose SR (sql/005-dose.sql): a dose_report row
 * and a dose_event row per event, when `cardiac` (the caller's judgement
 * of its events: heart or chest) or when a series of its study is
 * recorded; otherwise *outcome is STORE_IGNORED.  The same SOP Instance
 * UID again changes nothing (STORE_DUPLICATE).  A report that carries an
 * Irradiation Event UID of an earlier report of the study replaces that
 * report and those events (their replaced_by names it).  Series are linked
 * to events when read (view dose_link), so the order of arrival does not
 * matter.  One committed transaction; errors as store_record().
 */
int store_record_dose(struct store *s, const struct rdsr_report *report,
                      bool cardiac, const char *received_utc,
                      const char *calling_aet, enum store_outcome *outcome,
                      char **errmsg);

/* Called once per result row; return non-zero to stop.  values[i] is NULL
 * for SQL NULL; numeric[i] says it is an INTEGER or REAL value. */
typedef int (*store_row_fn)(void *ctx, int ncols, const char *const *names,
                            const char *const *values, const bool *numeric);

/*
 * Runs a read-only query (one statement, positional text parameters) and
 * calls fn for each row, NULL values as NULL.  Returns 0, or -EINVAL / -EIO
 * with *errmsg.
 */
int store_query(struct store *s, const char *sql, const char *const *params,
                size_t nparams, store_row_fn fn, void *ctx, char **errmsg);

/* Re-derives one series' columns from its material: fills *info from raw
 * (extract_derive, then classification).  Returns 0 or a negative errno. */
typedef int (*store_derive_fn)(void *ctx, const struct raw *raw,
                               struct instance_info *info);

/*
 * `hraudit reparse`: for every series, takes the winning material from
 * series_raw, derives it again with fn and updates the columns that
 * differ, all in one transaction.  *examined and *changed count series.
 * Returns 0, or a negative errno with *errmsg (nothing changed then).
 */
int store_reparse(struct store *s, store_derive_fn fn, void *ctx,
                  unsigned long *examined, unsigned long *changed,
                  char **errmsg);

/* One Agatston calcium score, for store_import_calcium(). */
struct store_calcium {
	const char *accession_number;  /* text as written: leading zeros kept */
	double agatston;               /* Agatston score                      */
};

/*
 * `hraudit import-calcium`: inserts the scores rows[0..n) into table
 * calcium_score, replacing those of the same accession numbers, stamped
 * imported_utc (ISO 8601), in one transaction.  Needs a writable store.
 * Returns 0, or -EBUSY (lock not obtained in time), -ENOSPC, -EACCES,
 * -EIO with *errmsg; nothing is changed then.
 */
int store_import_calcium(struct store *s, const struct store_calcium *rows,
                         size_t n, const char *imported_utc, char **errmsg)
	__attribute__((warn_unused_result));

/* One series `hraudit retrieve` fetched an instance of (table retrieved,
 * sql/004-retrieve.sql).  Strings are borrowed. */
struct store_retrieved {
	const char *series_uid, *study_uid;
	const char *sop_instance_uid;  /* the instance fetched               */
	const char *pacs_aet;          /* the PACS it came from              */
	const char *method;            /* "c-get" or "c-move"                */
	const char *retrieved_utc;     /* ISO 8601 (store_now_utc)           */
	long pacs_instances;           /* (0020,1209) as the PACS said; < 0
	                                * when it did not                    */
};

/*
 * Notes, once the instance has been fetched and recorded (or not), that
 * `hraudit retrieve` fetched it: a row in table retrieved, and, when the
 * series row exists with that instance as its only one (this fetch made
 * it), series.instances_sampled = 1.  *recorded says whether a series row
 * exists (the instance was cardiac).  One transaction; needs a writable
 * store.  Returns 0, or -EBUSY, -ENOSPC, -EACCES, -EIO with *errmsg
 * (nothing changed then, *recorded false).
 */
int store_note_retrieved(struct store *s, const struct store_retrieved *r,
                         bool *recorded, char **errmsg)
	__attribute__((warn_unused_result));

/* *known: series_uid has a row in table series or in table retrieved
 * (read-only stores of older schemas: series only).  Returns 0 or a
 * negative errno with *errmsg. */
int store_series_known(struct store *s, const char *series_uid, bool *known,
                       char **errmsg) __attribute__((warn_unused_result));

/* *recorded: series_uid has a row in table series (a cardiac series
 * recorded), not only in table retrieved.  Returns 0 or a negative errno
 * with *errmsg. */
int store_series_recorded(struct store *s, const char *series_uid,
                          bool *recorded, char **errmsg)
	__attribute__((warn_unused_result));

/* *known: a dose report of that SOP Instance UID has a row in table
 * dose_report (read-only stores of schemas before 5: never).  Returns 0
 * or a negative errno with *errmsg. */
int store_dose_known(struct store *s, const char *sop_instance_uid,
                     bool *known, char **errmsg)
	__attribute__((warn_unused_result));

/* The public column list of table `series`, in schema order, for the CLI. */
extern const char *const store_series_columns[];

#endif
