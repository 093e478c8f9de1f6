/*
 * test_store.c - unit tests of the SQLite store (src/store.c): schema set-up,
 * upgrade and recognition, one row per series, instance counting and
 * duplicates, the row shown from the lowest Instance Number whatever the
 * order of arrival, shared raw material, reparse, read-only opens,
 * store_query and a busy database.  Every test works on real SQLite files in
 * its own mkdtemp(3) directory; a second sqlite3 handle stands in for the
 * CLI or a physicist.
 */
#define _GNU_SOURCE

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "raw.h"
#include "rdsr.h"
#include "store.h"

/* build/schema.c, generated from sql/ by make: the schema files, in order */
extern const char *const store_schema[];
extern const size_t store_schema_count;

#define SERIES_UID "1.2.826.0.1.3680043.10.1234.2.1"
#define STUDY_UID  "1.2.826.0.1.3680043.10.1234.1"
#define SOP_UID(n) "1.2.826.0.1.3680043.10.1234.3.1." #n
#define T1 "2024-03-12T09:40:00Z"
#define T2 "2024-03-12T09:41:00Z"
#define T3 "2024-03-12T09:42:00Z"
/* Looked for in the database file itself (see test at the end). */
#define MARKER "MARKER-7f3a-series-description"

struct fixture {
	char dir[64];
	char path[128];
	struct store *s;
	char *err;
};

/* A check that once failed: `note` says what the bug was. */
#define assert_fixed_bug(cond, note) assert_true(cond)

static const struct store_options rw_opts = {.busy_timeout_ms = 1000};
static const struct store_options ro_opts = {.readonly = true,
                                             .busy_timeout_ms = 1000};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	const char *tmp = getenv("TMPDIR");

	if (!f)
		return -1;
	snprintf(f->dir, sizeof f->dir, "%s/test_store.XXXXXX",
	         tmp && *tmp && strlen(tmp) < 32 ? tmp : "/tmp");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof f->path, "%s/hraudit.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	struct dirent *e;
	char p[512];
	DIR *d;

	store_close(f->s);
	free(f->err);
	d = opendir(f->dir);
	if (d) {
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(p, sizeof p, "%s/%s", f->dir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* An instance with nothing known: every number NAN, every string "". */
static void info_init(struct instance_info *in)
{
	memset(in, 0, sizeof *in);
	in->instance_number = NAN;
	in->series_number = NAN;
	in->patient_weight_kg = NAN;
	in->kvp = NAN;
	in->ctdivol_mgy = NAN;
	in->pitch = NAN;
	in->hr_min_bpm = NAN;
	in->hr_max_bpm = NAN;
	in->hr_avg_bpm = NAN;
	in->hr_var_bpm = NAN;
	in->heart_rate_bpm = NAN;
	in->phase_percent = NAN;
	in->rr_interval_ms = NAN;
	in->pulsing_start_percent = NAN;
	in->pulsing_end_percent = NAN;
	in->rr_low_ms = NAN;
	in->rr_high_ms = NAN;
	in->intervals_acquired = NAN;
	in->intervals_rejected = NAN;
	in->trigger_time_ms = NAN;
	in->single_collimation_mm = NAN;
	in->total_collimation_mm = NAN;
	in->frames = NAN;
}

/* Instance n of series A of the fictional test study (tests/data). */
static void info_series_a(struct instance_info *in, int n)
{
	info_init(in);
	snprintf(in->sop_instance_uid, sizeof in->sop_instance_uid,
	         "1.2.826.0.1.3680043.10.1234.3.1.%d", n);
	in->instance_number = n;
	strcpy(in->sop_class_uid, "1.2.840.10008.5.1.4.1.1.2");
	strcpy(in->series_uid, SERIES_UID);
	strcpy(in->study_uid, STUDY_UID);
	strcpy(in->accession_number, "0012345678");
	strcpy(in->study_date, "2024-03-12");
	strcpy(in->study_time, "09:30:00");
	strcpy(in->modality, "CT");
	strcpy(in->manufacturer, "SIEMENS");
	strcpy(in->model, "SOMATOM Force");
	strcpy(in->series_description, "DS_CorAdSeq  0.6  Bv40  3  BestDiast 70 %");
	strcpy(in->scan_options, "XOP\\DSEQCARD\\TP70PC1000\\OSCRATEAVG061BPM");
	in->series_number = 4;
	in->kvp = 100;
	in->ctdivol_mgy = 18.56;
	in->hr_min_bpm = 60;
	in->hr_max_bpm = 62;
	in->hr_avg_bpm = 61;
	in->hr_var_bpm = 2;
	in->phase_percent = 70;
	in->rr_interval_ms = 1000;
	in->cardiac_tokens = true;
	strcpy(in->hr_source, "scan_options");
}

static void open_rw(struct fixture *f)
{
	int r = store_open(f->path, &rw_opts, &f->s, &f->err);

	if (r != 0)
		fail_msg("store_open: %d %s", r, f->err ? f->err : "");
	assert_non_null(f->s);
}

static void reopen(struct fixture *f, const struct store_options *opt)
{
	int r;

	store_close(f->s);
	f->s = NULL;
	r = store_open(f->path, opt, &f->s, &f->err);
	if (r != 0)
		fail_msg("store_open: %d %s", r, f->err ? f->err : "");
}

/* The raw material (raw_to_json) of series A: instances that agree on it
 * share a series_raw row. */
#define RAW_A "{\"0008,103E\":\"DS_CorAdSeq\",\"0018,0022\":\"XOP\\\\DSEQCARD\"}"

static enum store_outcome record_raw(struct fixture *f,
                                     const struct instance_info *in,
                                     const char *raw_json, bool cardiac,
                                     const char *received)
{
	enum store_outcome o = (enum store_outcome)-1;
	int r = store_record(f->s, in, raw_json, cardiac, received, "SCANNER01",
	                     &o, &f->err);

	if (r != 0)
		fail_msg("store_record: %d %s", r, f->err ? f->err : "");
	return o;
}

static enum store_outcome record(struct fixture *f,
                                 const struct instance_info *in,
                                 bool cardiac, const char *received)
{
	enum store_outcome o = (enum store_outcome)-1;
	int r = store_record(f->s, in, RAW_A, cardiac, received, "SCANNER01",
	                     &o, &f->err);

	if (r != 0)
		fail_msg("store_record: %d %s", r, f->err ? f->err : "");
	return o;
}

/* ---- a side connection, as the CLI or sqlite3(1) would have ------------ */

static sqlite3 *side_open(const char *path)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	                                 SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
	return db;
}

static void side_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err ? err : "?");
}

/* Creates the file at path with the given SQL, outside of the store. */
static void make_db(const char *path, const char *sql)
{
	sqlite3 *db = side_open(path);

	side_exec(db, sql);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* The first column of the single row of sql, read on a side connection. */
static void side_value(const char *path, const char *sql, char *out, size_t size)
{
	sqlite3 *db = side_open(path);
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* ---- reading results through store_query ------------------------------- */

/* The first row of a query, as text; "NULL" for SQL NULL, "" for no row. */
struct first_row {
	int rows;
	int ncols;
	char value[8][256];
	bool is_null[8];
	bool numeric[8];
};

static int collect_row(void *ctx, int ncols, const char *const *names,
                       const char *const *values, const bool *numeric)
{
	struct first_row *fr = ctx;

	(void)names;
	if (fr->rows++ == 0) {
		fr->ncols = ncols;
		for (int i = 0; i < ncols && i < 8; i++) {
			fr->is_null[i] = values[i] == NULL;
			fr->numeric[i] = numeric[i];
			snprintf(fr->value[i], sizeof fr->value[i], "%s",
			         values[i] ? values[i] : "NULL");
		}
	}
	return 0;
}

static struct first_row query(struct fixture *f, const char *sql)
{
	struct first_row fr;
	int r;

	memset(&fr, 0, sizeof fr);
	r = store_query(f->s, sql, NULL, 0, collect_row, &fr, &f->err);
	if (r != 0)
		fail_msg("store_query: %d %s, in '%.200s'", r, f->err ? f->err : "", sql);
	return fr;
}

/* The first column of the first row of sql, which must return one row. */
static const char *query1(struct fixture *f, const char *sql)
{
	static struct first_row fr;

	fr = query(f, sql);
	if (fr.rows != 1)
		fail_msg("%d rows, not 1, from '%.200s'", fr.rows, sql);
	return fr.value[0];
}

/* ---- opening ------------------------------------------------------------ */

/* The user_version of a database holding the whole schema. */
static const char *schema_version(void)
{
	static char v[16];

	snprintf(v, sizeof v, "%zu", store_schema_count);
	return v;
}

static void test_store__open_creates_the_schema(void **state)
{
	struct fixture *f = *state;
	char id[32], buf[32];

	open_rw(f);
	assert_int_equal(access(f->path, F_OK), 0);
	snprintf(id, sizeof id, "%d", STORE_APPLICATION_ID);
	assert_string_equal(query1(f, "PRAGMA application_id"), id);
	/* one user_version per file in sql/, the first being 1 */
	assert_true(store_schema_count >= 1);
	assert_string_equal(query1(f, "PRAGMA user_version"), schema_version());
	/* WAL, as another connection sees it (store_query refuses this pragma,
	 * which can write) */
	side_value(f->path, "PRAGMA journal_mode", buf, sizeof buf);
	assert_string_equal(buf, "wal");
	assert_string_equal(query1(f, "SELECT count(*) FROM sqlite_master "
	                               "WHERE type = 'table' AND name IN "
	                               "('series', 'instance')"), "2");
	assert_null(f->err);
}

/* A database made by the first release (sql/001 only) gains the rest of
 * the schema when the daemon opens it, and keeps its rows. */
static void test_store__open_upgrades_an_older_schema(void **state)
{
	struct fixture *f = *state;
	struct instance_info in;
	sqlite3 *db;
	char sql[128];

	db = side_open(f->path);
	side_exec(db, "BEGIN");
	side_exec(db, store_schema[0]);
	snprintf(sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = 1",
	         STORE_APPLICATION_ID);
	side_exec(db, sql);
	side_exec(db, "INSERT INTO series (series_uid, study_uid, hr_avg, instances, "
	              "first_received, last_received) VALUES ('1.2.3', '1.2', 70, 3, "
	              "'" T1 "', '" T1 "')");
	side_exec(db, "COMMIT");
	assert_int_equal(sqlite3_close(db), SQLITE_OK);

	open_rw(f);
	assert_string_equal(query1(f, "PRAGMA user_version"), schema_version());
	assert_string_equal(query1(f, "SELECT hr_avg || '/' || instances FROM series "
	                               "WHERE series_uid = '1.2.3'"), "70/3");
	info_series_a(&in, 1);
	assert_int_equal(record(f, &in, true, T2), STORE_NEW_SERIES);
	assert_string_equal(query1(f, "SELECT count(*) FROM series"), "2");
}

static void test_store__series_columns_match_the_table(void **state)
{
	struct fixture *f = *state;
	char sql[128];
	size_t n;

	open_rw(f);
	for (n = 0; store_series_columns[n]; n++) {
		snprintf(sql, sizeof sql, "SELECT name FROM pragma_table_info('series') "
		         "WHERE cid = %zu", n);
		assert_string_equal(query1(f, sql), store_series_columns[n]);
	}
	snprintf(sql, sizeof sql, "SELECT count(*) = %zu FROM pragma_table_info('series')", n);
	assert_string_equal(query1(f, sql), "1");
}

static void test_store__reopen_keeps_the_data(void **state)
{
	struct fixture *f = *state;
	struct instance_info in;

	open_rw(f);
	info_series_a(&in, 1);
	assert_int_equal(record(f, &in, true, T1), STORE_NEW_SERIES);
	reopen(f, &rw_opts);
	assert_null(f->err);
	assert_string_equal(query1(f, "PRAGMA user_version"), schema_version());
	assert_string_equal(query1(f, "SELECT instances FROM series"), "1");
	/* the schema was not applied again, and the store still writes */
	info_series_a(&in, 2);
	assert_int_equal(record(f, &in, true, T2), STORE_ADDED);
	reopen(f, &ro_opts);
	assert_string_equal(query1(f, "SELECT instances FROM series"), "2");
}

static void test_store__readonly_open_of_a_missing_file_is_enoent(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(store_open(f->path, &ro_opts, &f->s, &f->err), -ENOENT);
	assert_null(f->s);
	assert_non_null(f->err);
	/* and it did not create the file */
	assert_int_equal(access(f->path, F_OK), -1);
}

static void test_store__readonly_open_of_a_foreign_database_is_eproto(void **state)
{
	struct fixture *f = *state;

	make_db(f->path, "CREATE TABLE patients (name TEXT); "
	                 "INSERT INTO patients VALUES ('x')");
	assert_int_equal(store_open(f->path, &ro_opts, &f->s, &f->err), -EPROTO);
	assert_null(f->s);
	assert_non_null(f->err);
}

static void test_store__readonly_open_of_a_non_sqlite_file_is_eproto(void **state)
{
	struct fixture *f = *state;
	FILE *fp = fopen(f->path, "w");
	char junk[4096];

	assert_non_null(fp);
	memset(junk, 'x', sizeof junk);
	assert_int_equal(fwrite(junk, 1, sizeof junk, fp), sizeof junk);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(store_open(f->path, &ro_opts, &f->s, &f->err), -EPROTO);
	assert_null(f->s);
}

static void test_store__open_of_a_database_of_another_application_is_eproto(void **state)
{
	struct fixture *f = *state;

	make_db(f->path, "PRAGMA application_id = 1234; "
	                 "CREATE TABLE t (x INTEGER)");
	assert_int_equal(store_open(f->path, &rw_opts, &f->s, &f->err), -EPROTO);
	assert_null(f->s);
	assert_non_null(f->err);
}

/* Any SQLite file with tables but no hraudit identity: a wrong
 * database.path must not turn another application's database into ours. */
static void test_store__open_of_a_foreign_database_is_eproto(void **state)
{
	struct fixture *f = *state;
	char buf[32];
	int r;

	make_db(f->path, "CREATE TABLE patients (name TEXT); "
	                 "INSERT INTO patients VALUES ('x')");
	r = store_open(f->path, &rw_opts, &f->s, &f->err);
	side_value(f->path, "SELECT count(*) FROM sqlite_master WHERE name = 'series'",
	           buf, sizeof buf);
	assert_fixed_bug(r == -EPROTO && strcmp(buf, "0") == 0,
	                 "store_open (read-write) applies the schema to a "
	                 "non-empty SQLite file whose application_id and "
	                 "user_version are 0");
	assert_null(f->s);
}

/* The same, when the other application has a table named like ours. */
static void test_store__open_of_a_foreign_database_with_our_table_names_is_eproto(void **state)
{
	struct fixture *f = *state;
	int r;

	make_db(f->path, "CREATE TABLE series (x)");
	r = store_open(f->path, &rw_opts, &f->s, &f->err);
	assert_true(r < 0);
	assert_null(f->s);
	assert_fixed_bug(r == -EPROTO, "store_open gives -EIO ('table series "
	                 "already exists'), not -EPROTO, for a foreign database");
}

static void test_store__open_of_a_newer_schema_is_eproto(void **state)
{
	struct fixture *f = *state;
	char buf[32];

	open_rw(f);
	store_close(f->s);
	f->s = NULL;
	make_db(f->path, "PRAGMA user_version = 99");
	assert_int_equal(store_open(f->path, &rw_opts, &f->s, &f->err), -EPROTO);
	assert_null(f->s);
	assert_non_null(f->err);
	/* nothing was applied: the version is still the newer one */
	side_value(f->path, "PRAGMA user_version", buf, sizeof buf);
	assert_string_equal(buf, "99");
}

static void test_store__readonly_open_of_a_newer_schema_is_eproto(void **state)
{
	struct fixture *f = *state;

	open_rw(f);
	store_close(f->s);
	f->s = NULL;
	make_db(f->path, "PRAGMA user_version = 99");
	assert_int_equal(store_open(f->path, &ro_opts, &f->s, &f->err), -EPROTO);
	assert_null(f->s);
}

/* ---- recording ------------------------------------------------------------ */

static void test_store__creates_a_row_for_a_cardiac_instance(void **state)
{
	struct fixture *f = *state;
	struct instance_info in;
	struct first_row fr;

	open_rw(f);
	info_series_a(&in, 1);
	assert_int_equal(record(f, &in, true, T1), STORE_NEW_SERIES);

	fr = query(f, "SELECT series_uid, study_uid, accession_number, "
	              "typeof(accession_number), study_date, study_time, "
	              "manufacturer, model FROM series");
	assert_int_equal(fr.rows, 1);
	assert_string_equal(fr.value[0], SERIES_UID);
	assert_string_equal(fr.value[1], STUDY_UID);
	assert_string_equal(fr.value[2], "0012345678");
	assert_string_equal(fr.value[3], "text");
	assert_false(fr.numeric[2]);
	assert_string_equal(fr.value[4], "2024-03-12");
	assert_string_equal(fr.value[5], "09:30:00");
	assert_string_equal(fr.value[6], "SIEMENS");
	assert_string_equal(fr.value[7], "SOMATOM Force");

	fr = query(f, "SELECT hr_avg, typeof(hr_avg), ctdivol_mgy, "
	              "typeof(ctdivol_mgy), series_number, typeof(series_number), "
	              "kvp, typeof(kvp) FROM series");
	assert_string_equal(fr.value[0], "61");
	assert_true(fr.numeric[0]);
	assert_string_equal(fr.value[1], "integer");
	assert_string_equal(fr.value[2], "18.56");
	assert_true(fr.numeric[2]);
	assert_string_equal(fr.value[3], "real");
	assert_string_equal(fr.value[4], "4");
	assert_string_equal(fr.value[5], "integer");
	assert_string_equal(fr.value[6], "100");
	assert_string_equal(fr.value[7], "integer");

	fr = query(f, "SELECT hr_min, hr_max, hr_var, phase_percent, "
	              "rr_interval_ms, scan_options, series_description FROM series");
	assert_string_equal(fr.value[0], "60");
	assert_string_equal(fr.value[1], "62");
	assert_string_equal(fr.value[2], "2");
	assert_string_equal(fr.value[3], "70");
	assert_string_equal(fr.value[4], "1000");
	assert_string_equal(fr.value[5], "XOP\\DSEQCARD\\TP70PC1000\\OSCRATEAVG061BPM");
	assert_string_equal(fr.value[6], "DS_CorAdSeq  0.6  Bv40  3  BestDiast 70 %");

	fr = query(f, "SELECT instances, first_received, last_received, "
	              "calling_aet FROM series");
	assert_string_equal(fr.value[0], "1");
	assert_string_equal(fr.value[1], T1);
	assert_string_equal(fr.value[2], T1);
	assert_string_equal(fr.value[3], "SCANNER01");

	fr = query(f, "SELECT sop_instance_uid, series_uid, received FROM instance");
	assert_int_equal(fr.rows, 1);
	assert_string_equal(fr.value[0], SOP_UID(1));
	assert_string_equal(fr.value[1], SERIES_UID);
	assert_string_equal(fr.value[2], T1);
}

static void test_store__stores_absent_fields_as_null(void **state)
{
	struct fixture *f = *state;
	struct instance_info in;
	struct first_row fr;

	open_rw(f);
	info_init(&in);
	strcpy(in.sop_instance_uid, SOP_UID(1));
	strcpy(in.series_uid, SERIES_UID);
	strcpy(in.study_uid, STUDY_UID);
	in.heart_rate_bpm = 58;
	assert_int_equal(record(f, &in, true, T1), STORE_NEW_SERIES);
	fr = query(f, "SELECT accession_number, series_description, hr_avg, "
	              "kvp, pitch, heart_rate, scan_type FROM series");
	for (int i = 0; i < 5; i++) {
		assert_true(fr.is_null[i]);
		assert_false(fr.numeric[i]);
	}
	assert_false(fr.is_null[5]);
	assert_string_equal(fr.value[5], "58");
	assert_true(fr.is_null[6]);
}

static void test_store__counts_a_second_instance_of_a_series(void **state)
{
	struct fixture *f = *state;
	struct instance_info in;
	struct first_row fr;

	open_rw(f);
	info_series_a(&in, 1);
	assert_int_equal(record(f, &in, true, T1), STORE_NEW_SERIES);
	info_series_a(&in, 2);
	assert_int_equal(record(f, &in, true, T2), STORE_ADDED);

	fr = query(f, "SELECT instances, first_received, last_received, "
	              "source_instance_number, calling_aet FROM series");
	assert_int_equal(fr.rows, 1);
	assert_string_equal(fr.value[0], "2");
	assert_string_equal(fr.value[1], T1);
	assert_string_equal(fr.value[2], T2);
	assert_string_equal(fr.value[3], "1");
	assert_string_equal(fr.value[4], "SCANNER01");
	assert_string_equal(query1(f, "SELECT count(*) FROM instance"), "2");
	/* instances that agree share their material */
	fr = query(f, "SELECT count(*), sum(instances), min(first_instance_number), "
	              "min(raw_json) FROM series_raw");
	assert_string_equal(fr.value[0], "1");
	assert_string_equal(fr.value[1], "2");
	assert_string_equal(fr.value[2], "1");
	assert_string_equal(fr.value[3], RAW_A);
}

/* Material B: instance 2 of series A as another reconstruction wrote it. */
#define RAW_B "{\"0008,103E\":\"other\"}"

static void info_series_a_other(struct instance_info *in, int n)
{
	info_series_a(in, n);
	in->pitch = 3.2;
	in->kvp = 120;
	strcpy(in->manufacturer, "OTHER");
	strcpy(in->accession_number, "999");
}

static void test_store__shows_the_instance_with_the_lowest_number(void **state)
{
	struct fixture *f = *state;
	struct instance_info in;
	struct first_row fr;

	open_rw(f);
	info_series_a_other(&in, 2);
	assert_int_equal(record_raw(f, &in, RAW_B, true, T1), STORE_NEW_SERIES);
	assert_string_equal(query1(f, "SELECT kvp FROM series"), "120");

	/* instance 1 arrives later: its material replaces the whole row, also
	 * where it lacks a value (pitch) */
	info_series_a(&in, 1);
	assert_int_equal(record_raw(f, &in, RAW_A, true, T2), STORE_ADDED);
	fr = query(f, "SELECT kvp, pitch, manufacturer, accession_number, "
	              "source_instance_number, instances, first_received, "
	              "last_received FROM series");
	assert_string_equal(fr.value[0], "100");
	assert_true(fr.is_null[1]);
	assert_string_equal(fr.value[2], "SIEMENS");
	assert_string_equal(fr.value[3], "0012345678");
	assert_string_equal(fr.value[4], "1");
	assert_string_equal(fr.value[5], "2");
	assert_string_equal(fr.value[6], T1);
	assert_string_equal(fr.value[7], T2);

	/* a later instance 3 with B's material counts, and changes nothing */
	info_series_a_other(&in, 3);
	assert_int_equal(record_raw(f, &in, RAW_B, true, T3), STORE_ADDED);
	fr = query(f, "SELECT kvp, source_instance_number, instances FROM series");
	assert_string_equal(fr.value[0], "100");
	assert_string_equal(fr.value[1], "1");
	assert_string_equal(fr.value[2], "3");
	fr = query(f, "SELECT group_concat(instances || '@' || first_instance_number, ' ') "
	              "FROM (SELECT * FROM series_raw ORDER BY first_instance_number)");
	assert_string_equal(fr.value[0], "1@1 2@2");
}

/* Every column but the series UID, as one text: rows compare equal when
 * they show the same thing. */
static void row_text(struct fixture *f, const char *series_uid, char *out, size_t size)
{
	char sql[4096];
	size_t n = 0;

	n += (size_t)snprintf(sql + n, sizeof sql - n, "SELECT ''");
	for (size_t i = 0; store_series_columns[i]; i++)
		if (strcmp(store_series_columns[i], "series_uid") != 0)
			n += (size_t)snprintf(sql + n, sizeof sql - n, " || '|' || quote(%s)",
			                      store_series_columns[i]);
	snprintf(sql + n, sizeof sql - n, " FROM series WHERE series_uid = '%s'",
	         series_uid);
	assert_true(n < sizeof sql - 100);
	snprintf(out, size, "%s", query1(f, sql));
}

static void test_store__row_does_not_depend_on_the_order_of_arrival(void **state)
{
	struct fixture *f = *state;
	struct instance_info one, two;
	char x[2048], y[2048];

	open_rw(f);
	/* series X: 1 then 2; series Y: 2 then 1 (same times, same senders) */
	info_series_a(&one, 1);
	info_series_a_other(&two, 2);
	strcpy(one.sop_instance_uid, "1.2.826.0.1.3680043.10.1234.3.88.1");
	strcpy(two.sop_instance_uid, "1.2.826.0.1.3680043.10.1234.3.88.2");
	strcpy(one.series_uid, "1.2.826.0.1.3680043.10.1234.2.88");
	strcpy(two.series_uid, one.series_uid);
	assert_int_equal(record_raw(f, &one, RAW_A, true, T1), STORE_NEW_SERIES);
	assert_int_equal(record_raw(f, &two, RAW_B, true, T2), STORE_ADDED);
	strcpy(one.sop_instance_uid, "1.2.826.0.1.3680043.10.1234.3.99.1");
	strcpy(two.sop_instance_uid, "1.2.826.0.1.3680043.10.1234.3.99.2");
	strcpy(one.series_uid, "1.2.826.0.1.3680043.10.1234.2.99");
	strcpy(two.series_uid, one.series_uid);
	assert_int_equal(record_raw(f, &two, RAW_B, true, T1), STORE_NEW_SERIES);
	assert_int_equal(record_raw(f, &one, RAW_A, true, T2), STORE_ADDED);
	row_text(f, "1.2.826.0.1.3680043.10.1234.2.88", x, sizeof x);
	row_text(f, "1.2.826.0.1.3680043.10.1234.2.99", y, sizeof y);
	assert_string_equal(x, y);

	/* without Instance Numbers, the material's hash decides: still the
	 * same row for either order */
	one.instance_number = NAN;
	two.instance_number = NAN;
	strcpy(one.sop_instance_uid, "1.2.826.0.1.3680043.10.1234.3.77.1");
	strcpy(two.sop_instance_uid, "1.2.826.0.1.3680043.10.1234.3.77.2");
	strcpy(one.series_uid, "1.2.826.0.1.3680043.10.1234.2.77");
	strcpy(two.series_uid, one.series_uid);
	assert_int_equal(record_raw(f, &one, RAW_A, true, T1), STORE_NEW_SERIES);
	assert_int_equal(record_raw(f, &two, RAW_B, true, T2), STORE_ADDED);
	strcpy(one.sop_instance_uid, "1.2.826.0.1.3680043.10.1234.3.66.1");
	strcpy(two.sop_instance_uid, "1.2.826.0.1.3680043.10.1234.3.66.2");
	strcpy(one.series_uid, "1.2.826.0.1.3680043.10.1234.2.66");
	strcpy(two.series_uid, one.series_uid);
	assert_int_equal(record_raw(f, &two, RAW_B, true, T1), STORE_NEW_SERIES);
	assert_int_equal(record_raw(f, &one, RAW_A, true, T2), STORE_ADDED);
	row_text(f, "1.2.826.0.1.3680043.10.1234.2.77", x, sizeof x);
	row_text(f, "1.2.826.0.1.3680043.10.1234.2.66", y, sizeof y);
	assert_string_equal(x, y);
}

static void test_store__keeps_the_latest_last_received(void **state)
{
	struct fixture *f = *state;
	struct instance_info in;
	struct first_row fr;

	open_rw(f);
	info_series_a(&in, 1);
	assert_int_equal(record(f, &in, true, T2), STORE_NEW_SERIES);
	info_series_a(&in, 2);
	/* an earlier time (a clock step, a resend): last_received stays */
	assert_int_equal(record(f, &in, true, T1), STORE_ADDED);
	fr = query(f, "SELECT first_received, last_received FROM series");
	assert_string_equal(fr.value[0], T2);
	assert_string_equal(fr.value[1], T2);
}

static void test_store__counts_a_duplicate_instance_once(void **state)
{
	struct fixture *f = *state;
	struct instance_info in;

	open_rw(f);
	info_series_a(&in, 1);
	assert_int_equal(record(f, &in, true, T1), STORE_NEW_SERIES);
	info_series_a(&in, 2);
	assert_int_equal(record(f, &in, true, T2), STORE_ADDED);
	/* instance 2 again, later and with other material */
	in.pitch = 1.5;
	assert_int_equal(record_raw(f, &in, RAW_B, true, T3), STORE_DUPLICATE);
	assert_string_equal(query1(f, "SELECT count(*) || '/' || sum(instances) "
	                               "FROM series_raw"), "1/2");
	assert_string_equal(query1(f, "SELECT instances FROM series"), "2");
	assert_string_equal(query1(f, "SELECT last_received FROM series"), T2);
	assert_string_equal(query1(f, "SELECT pitch IS NULL FROM series"), "1");
	assert_string_equal(query1(f, "SELECT count(*) FROM instance"), "2");
	assert_string_equal(query1(f, "SELECT received FROM instance WHERE "
	                               "sop_instance_uid = '" SOP_UID(2) "'"), T2);
}

static void test_store__ignores_a_non_cardiac_instance_of_an_unknown_series(void **state)
{
	struct fixture *f = *state;
	struct instance_info in;

	open_rw(f);
	info_series_a(&in, 1);
	assert_int_equal(record(f, &in, false, T1), STORE_IGNORED);
	assert_string_equal(query1(f, "SELECT count(*) FROM series"), "0");
	assert_string_equal(query1(f, "SELECT count(*) FROM instance"), "0");
	/* ignored, not remembered: the series' first cardiac instance is new */
	assert_int_equal(record(f, &in, true, T2), STORE_NEW_SERIES);
	assert_string_equal(query1(f, "SELECT first_received FROM series"), T2);
}

static void test_store__counts_a_non_cardiac_instance_of_a_recorded_series(void **state)
{
	struct fixture *f = *state;
	struct instance_info in;

	open_rw(f);
	info_series_a(&in, 1);
	assert_int_equal(record(f, &in, true, T1), STORE_NEW_SERIES);
	/* e.g. a scout or a dose report in the series, without ECG tokens */
	info_init(&in);
	strcpy(in.sop_instance_uid, SOP_UID(2));
	strcpy(in.series_uid, SERIES_UID);
	strcpy(in.study_uid, STUDY_UID);
	strcpy(in.station_name, "CTFORCE01");
	assert_int_equal(record_raw(f, &in, "{\"0008,1010\":\"CTFORCE01\"}",
	                            false, T2), STORE_ADDED);
	assert_string_equal(query1(f, "SELECT instances FROM series"), "2");
	assert_string_equal(query1(f, "SELECT last_received FROM series"), T2);
	/* the row still shows instance 1 */
	assert_string_equal(query1(f, "SELECT hr_avg FROM series"), "61");
	assert_string_equal(query1(f, "SELECT station_name IS NULL FROM series"), "1");
	assert_int_equal(record_raw(f, &in, "{}", false, T3), STORE_DUPLICATE);
}

static void test_store__keeps_series_apart(void **state)
{
	struct fixture *f = *state;
	struct instance_info in;

	open_rw(f);
	info_series_a(&in, 1);
	assert_int_equal(record(f, &in, true, T1), STORE_NEW_SERIES);
	info_series_a(&in, 2);
	strcpy(in.series_uid, "1.2.826.0.1.3680043.10.1234.2.2");
	in.hr_avg_bpm = 75;
	assert_int_equal(record(f, &in, true, T2), STORE_NEW_SERIES);
	assert_string_equal(query1(f, "SELECT count(*) FROM series"), "2");
	assert_string_equal(query1(f, "SELECT group_concat(hr_avg || ':' || "
	                               "instances, ',') FROM (SELECT * FROM "
	                               "series ORDER BY hr_avg)"), "61:1,75:1");
}

/* ---- store_query ---------------------------------------------------------- */

static void test_store__query_refuses_a_write_statement(void **state)
{
	struct fixture *f = *state;
	struct instance_info in;
	struct first_row fr;
	static const char *const writes[] = {
		"DELETE FROM series",
		"UPDATE series SET hr_avg = 0",
		"INSERT INTO instance VALUES ('1', '2', '3')",
		"DROP TABLE series",
		"CREATE TABLE x (y)",
	};

	open_rw(f);
	info_series_a(&in, 1);
	assert_int_equal(record(f, &in, true, T1), STORE_NEW_SERIES);
	for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++) {
		memset(&fr, 0, sizeof fr);
		assert_int_equal(store_query(f->s, writes[i], NULL, 0, collect_row,
		                             &fr, &f->err), -EINVAL);
		assert_non_null(f->err);
		assert_int_equal(fr.rows, 0);
	}
	assert_string_equal(query1(f, "SELECT hr_avg FROM series"), "61");
	assert_string_equal(query1(f, "SELECT count(*) FROM sqlite_master "
	                               "WHERE name = 'x'"), "0");
	/* the store still records after the refusals */
	info_series_a(&in, 2);
	assert_int_equal(record(f, &in, true, T2), STORE_ADDED);
}

/* Statements SQLite calls read-only that still change the connection the
 * daemon writes through. */
static void test_store__query_refuses_transaction_control(void **state)
{
	struct fixture *f = *state;
	struct instance_info in;
	struct first_row fr;
	enum store_outcome o;
	int r;

	open_rw(f);
	memset(&fr, 0, sizeof fr);
	r = store_query(f->s, "BEGIN", NULL, 0, collect_row, &fr, &f->err);
	info_series_a(&in, 1);
	o = STORE_IGNORED;
	/* whatever store_query said, the store must still record */
	{
		char *err = NULL;
		int rr = store_record(f->s, &in, RAW_A, true, T1, "SCANNER01", &o, &err);

		free(err);
		assert_fixed_bug(r == -EINVAL && rr == 0,
		                 "store_query accepts BEGIN (sqlite3_stmt_readonly is "
		                 "true for it): the connection stays in a transaction "
		                 "and every later store_record fails with -EIO");
		assert_int_equal(o, STORE_NEW_SERIES);
	}
}

static void test_store__query_rejects_bad_sql(void **state)
{
	struct fixture *f = *state;
	struct first_row fr;

	open_rw(f);
	memset(&fr, 0, sizeof fr);
	assert_int_equal(store_query(f->s, "SELEKT 1", NULL, 0, collect_row,
	                             &fr, &f->err), -EINVAL);
	assert_non_null(f->err);
	assert_int_equal(fr.rows, 0);
}

static void test_store__query_passes_null_as_null(void **state)
{
	struct fixture *f = *state;
	struct first_row fr;

	open_rw(f);
	fr = query(f, "SELECT NULL, 1, 2.5, 'x', ''");
	assert_int_equal(fr.rows, 1);
	assert_int_equal(fr.ncols, 5);
	assert_true(fr.is_null[0]);
	assert_false(fr.numeric[0]);
	assert_true(fr.numeric[1]);
	assert_string_equal(fr.value[1], "1");
	assert_true(fr.numeric[2]);
	assert_string_equal(fr.value[2], "2.5");
	assert_false(fr.numeric[3]);
	assert_false(fr.is_null[4]);
	assert_string_equal(fr.value[4], "");
}

struct names_seen {
	int rows;
	char names[2][32];
};

static int stop_after_two(void *ctx, int ncols, const char *const *names,
                          const char *const *values, const bool *numeric)
{
	struct names_seen *ns = ctx;

	(void)values;
	(void)numeric;
	assert_int_equal(ncols, 2);
	snprintf(ns->names[0], sizeof ns->names[0], "%s", names[0]);
	snprintf(ns->names[1], sizeof ns->names[1], "%s", names[1]);
	return ++ns->rows == 2;
}

static void test_store__query_binds_parameters_and_stops_when_asked(void **state)
{
	struct fixture *f = *state;
	struct instance_info in;
	struct names_seen ns;
	struct first_row fr;
	const char *params[] = {SERIES_UID};

	open_rw(f);
	for (int i = 1; i <= 4; i++) {
		info_series_a(&in, i);
		record(f, &in, true, T1);
	}
	memset(&ns, 0, sizeof ns);
	assert_int_equal(store_query(f->s, "SELECT sop_instance_uid AS uid, "
	                             "received FROM instance WHERE series_uid = ?",
	                             params, 1, stop_after_two, &ns, &f->err), 0);
	assert_int_equal(ns.rows, 2);
	assert_string_equal(ns.names[0], "uid");
	assert_string_equal(ns.names[1], "received");

	memset(&fr, 0, sizeof fr);
	params[0] = "0012345678";
	assert_int_equal(store_query(f->s, "SELECT instances FROM series WHERE "
	                             "accession_number = ?1", params, 1,
	                             collect_row, &fr, &f->err), 0);
	assert_int_equal(fr.rows, 1);
	assert_string_equal(fr.value[0], "4");
}

static void test_store__readonly_store_queries(void **state)
{
	struct fixture *f = *state;
	struct instance_info in;

	open_rw(f);
	info_series_a(&in, 1);
	assert_int_equal(record(f, &in, true, T1), STORE_NEW_SERIES);
	reopen(f, &ro_opts);
	assert_string_equal(query1(f, "SELECT accession_number FROM series"),
	                    "0012345678");
}

/* ---- a busy database ------------------------------------------------------ */

static void test_store__returns_ebusy_while_another_writer_holds_the_lock(void **state)
{
	struct fixture *f = *state;
	const struct store_options opt = {.busy_timeout_ms = 50};
	enum store_outcome o = STORE_IGNORED;
	struct instance_info in;
	sqlite3 *side;
	int r;

	assert_int_equal(store_open(f->path, &opt, &f->s, &f->err), 0);
	info_series_a(&in, 1);
	assert_int_equal(record(f, &in, true, T1), STORE_NEW_SERIES);

	side = side_open(f->path);
	side_exec(side, "BEGIN IMMEDIATE");
	info_series_a(&in, 2);
	r = store_record(f->s, &in, RAW_A, true, T2, "SCANNER01", &o, &f->err);
	assert_int_equal(r, -EBUSY);
	assert_non_null(f->err);
	side_exec(side, "ROLLBACK");
	assert_int_equal(sqlite3_close(side), SQLITE_OK);

	/* nothing of the refused instance reached the database */
	assert_string_equal(query1(f, "SELECT instances FROM series"), "1");
	assert_string_equal(query1(f, "SELECT count(*) FROM instance"), "1");
	assert_string_equal(query1(f, "SELECT last_received FROM series"), T1);

	/* the sender's retry is then counted, once */
	assert_int_equal(record(f, &in, true, T3), STORE_ADDED);
	assert_string_equal(query1(f, "SELECT instances FROM series"), "2");
	assert_int_equal(record(f, &in, true, T3), STORE_DUPLICATE);
}

static void test_store__a_reader_does_not_block_the_writer(void **state)
{
	struct fixture *f = *state;
	const struct store_options opt = {.busy_timeout_ms = 50};
	struct instance_info in;
	sqlite3 *side;
	sqlite3_stmt *st;

	assert_int_equal(store_open(f->path, &opt, &f->s, &f->err), 0);
	info_series_a(&in, 1);
	assert_int_equal(record(f, &in, true, T1), STORE_NEW_SERIES);

	/* a physicist's sqlite3 in the middle of a read transaction (WAL) */
	side = side_open(f->path);
	side_exec(side, "BEGIN");
	assert_int_equal(sqlite3_prepare_v2(side, "SELECT instances FROM series",
	                                    -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 1);
	sqlite3_reset(st);

	info_series_a(&in, 2);
	assert_int_equal(record(f, &in, true, T2), STORE_ADDED);

	/* the reader keeps its snapshot until it ends its transaction */
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 1);
	sqlite3_reset(st);
	side_exec(side, "COMMIT");
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 2);
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_close(side), SQLITE_OK);
}

/* ---- reparse ---------------------------------------------------------------- */

#define RAW_ONE "{\"0008,103E\":\"one\",\"0020,000D\":\"" STUDY_UID "\"}"
#define RAW_TWO "{\"0008,103E\":\"two\",\"0020,000D\":\"" STUDY_UID "\"}"

struct derive_ctx {
	int calls;
	int fail_at;              /* call number that fails, 0: none */
	double instance_number;   /* as given to the last call */
};

/* A stand-in for extract_derive: the description from the material, in
 * capitals, and the study UID; everything else absent. */
static int derive(void *ctx, const struct raw *raw, struct instance_info *info)
{
	struct derive_ctx *c = ctx;
	double number = info->instance_number;
	const char *v;

	if (++c->calls == c->fail_at)
		return -EINVAL;
	c->instance_number = number;
	info_init(info);
	info->instance_number = number;
	v = raw_get(raw, "0020,000D");
	snprintf(info->study_uid, sizeof info->study_uid, "%s", v ? v : "");
	v = raw_get(raw, "0008,103E");
	for (size_t i = 0; v && v[i] && i + 1 < sizeof info->series_description; i++)
		info->series_description[i] = (char)(v[i] >= 'a' && v[i] <= 'z'
		                                     ? v[i] - 'a' + 'A' : v[i]);
	return 0;
}

static void test_store__reparse_derives_again_from_the_winning_material(void **state)
{
	struct fixture *f = *state;
	struct derive_ctx c = {0};
	struct instance_info in;
	unsigned long examined = 99, changed = 99;

	open_rw(f);
	info_series_a(&in, 2);
	record_raw(f, &in, RAW_TWO, true, T1);
	info_series_a(&in, 1);
	record_raw(f, &in, RAW_ONE, true, T2);
	assert_string_equal(query1(f, "SELECT series_description FROM series"),
	                    "DS_CorAdSeq  0.6  Bv40  3  BestDiast 70 %");

	assert_int_equal(store_reparse(f->s, derive, &c, &examined, &changed, &f->err), 0);
	assert_int_equal(c.calls, 1);
	assert_true(c.instance_number == 1);
	assert_int_equal(examined, 1);
	assert_int_equal(changed, 1);
	assert_string_equal(query1(f, "SELECT series_description FROM series"), "ONE");
	assert_string_equal(query1(f, "SELECT hr_avg IS NULL AND kvp IS NULL "
	                               "FROM series"), "1");
	/* counts and times are not derived: they stay */
	assert_string_equal(query1(f, "SELECT instances || ' ' || first_received "
	                               "FROM series"), "2 " T1);

	/* a second pass finds nothing to change */
	assert_int_equal(store_reparse(f->s, derive, &c, &examined, &changed, &f->err), 0);
	assert_int_equal(examined, 1);
	assert_int_equal(changed, 0);
}

static void test_store__reparse_changes_nothing_when_one_series_fails(void **state)
{
	struct fixture *f = *state;
	struct derive_ctx c = {.fail_at = 2};
	struct instance_info in;
	unsigned long examined, changed;

	open_rw(f);
	info_series_a(&in, 1);
	record_raw(f, &in, RAW_ONE, true, T1);
	strcpy(in.series_uid, "1.2.826.0.1.3680043.10.1234.2.2");
	strcpy(in.sop_instance_uid, "1.2.826.0.1.3680043.10.1234.3.2.1");
	record_raw(f, &in, RAW_TWO, true, T1);

	assert_int_equal(store_reparse(f->s, derive, &c, &examined, &changed, &f->err),
	                 -EINVAL);
	assert_non_null(f->err);
	assert_string_equal(query1(f, "SELECT count(*) FROM series WHERE "
	                               "series_description LIKE 'DS_%'"), "2");
	/* and the store goes on */
	info_series_a(&in, 2);
	assert_int_equal(record(f, &in, true, T2), STORE_ADDED);
}

/* ---- privacy -------------------------------------------------------------- */

static bool file_contains(const char *path, const char *needle)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	size_t n;
	long sz;
	bool found;

	if (!fp)
		return false;
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	sz = ftell(fp);
	assert_true(sz >= 0);
	rewind(fp);
	buf = malloc((size_t)sz + 1);
	assert_non_null(buf);
	n = fread(buf, 1, (size_t)sz, fp);
	fclose(fp);
	found = memmem(buf, n, needle, strlen(needle)) != NULL;
	free(buf);
	return found;
}

/* struct instance_info has no patient fields, so no patient data can be
 * written; this checks the other half of that argument: what is recorded
 * really is in the file, so the integration test's grep for the canaries
 * (tests/data/README.md) would find a leak. */
static void test_store__recorded_text_is_in_the_database_file(void **state)
{
	struct fixture *f = *state;
	struct instance_info in;
	char wal[160];

	open_rw(f);
	info_series_a(&in, 1);
	strcpy(in.series_description, MARKER);
	assert_int_equal(record(f, &in, true, T1), STORE_NEW_SERIES);
	snprintf(wal, sizeof wal, "%s-wal", f->path);
	assert_true(file_contains(f->path, MARKER) || file_contains(wal, MARKER));
	store_close(f->s);
	f->s = NULL;
	/* closing checkpoints the WAL into the database file */
	assert_true(file_contains(f->path, MARKER));
	assert_false(file_contains(f->path, "AUDIT^TESTPATIENT"));
}

/* ---- dose reports (sql/005-dose.sql) ------------------------------------ */

#define DOSE_SOP "1.2.826.0.1.3680043.10.1234.8.1.1"
#define EVENT_UID(n) "1.2.826.0.1.3680043.10.1234.8.3." #n

/* One event: protocol, its UID, DT started, exposure time, DLP. */
static void dose_event_set(struct rdsr_event *e, const char *protocol,
                           const char *uid, const char *started,
                           double exposure_s, double dlp)
{
	memset(e, 0, sizeof *e);
	snprintf(e->protocol, sizeof e->protocol, "%s", protocol);
	snprintf(e->event_uid, sizeof e->event_uid, "%s", uid);
	snprintf(e->start_datetime, sizeof e->start_datetime, "%s", started);
	strcpy(e->target_region, "Heart");
	strcpy(e->target_region_code, "T-32000");
	e->exposure_time_s = exposure_s;
	e->dlp_mgycm = dlp;
	e->ctdivol_mgy = dlp / 10;
	e->pitch = e->single_collimation_mm = e->total_collimation_mm = NAN;
	e->scanning_length_mm = NAN;
}

/* The test study's dose report, as tests/data/study-dose.sr: a topogram,
 * then the events of series A (by UID), B (by time and protocol) and C (by
 * protocol).  events must have room for 4. */
static void dose_report_init(struct rdsr_report *r, struct rdsr_event *events)
{
	memset(r, 0, sizeof *r);
	strcpy(r->sop_instance_uid, DOSE_SOP);
	strcpy(r->study_uid, STUDY_UID);
	strcpy(r->accession_number, "0012345678");
	strcpy(r->study_date, "2024-03-12");
	strcpy(r->model, "SOMATOM Force");
	strcpy(r->start_datetime, "20240312093300");
	r->total_dlp_mgycm = 614.3;
	r->total_events = 4;
	dose_event_set(&events[0], "Topogram", EVENT_UID(1), "20240312093300", 2.5, 6.1);
	dose_event_set(&events[1], "DS_CorAdSeq", EVENT_UID(2), "20240312093405", 0.75, 215.3);
	dose_event_set(&events[2], "Cor_Flash", EVENT_UID(3), "20240312094010.2", 0.3, 38.2);
	dose_event_set(&events[3], "Cardiac CTA Prospective", EVENT_UID(4),
	               "20240312095500+0100", 0.35, 354.7);
	r->events = events;
	r->nevents = 4;
}

static enum store_outcome record_dose(struct fixture *f, const struct rdsr_report *r,
                                      bool cardiac)
{
	enum store_outcome o = (enum store_outcome)-1;
	int rc = store_record_dose(f->s, r, cardiac, T3, "SCANNER01", &o, &f->err);

	if (rc != 0)
		fail_msg("store_record_dose: %d %s", rc, f->err ? f->err : "");
	return o;
}

/* Series A, B and C of the study, one instance each, with what links
 * them: A the UID of event 2, B a time in event 3 and a description that
 * starts with its protocol, C the protocol name of event 4. */
static void record_linked_series(struct fixture *f)
{
	struct instance_info in;

	info_series_a(&in, 1);
	strcpy(in.irradiation_event_uid, EVENT_UID(2));
	strcpy(in.scan_type, "seq_diastolic");
	assert_int_equal(record(f, &in, true, T1), STORE_NEW_SERIES);
	info_series_a(&in, 1);
	strcpy(in.series_uid, "1.2.826.0.1.3680043.10.1234.2.2");
	strcpy(in.sop_instance_uid, "1.2.826.0.1.3680043.10.1234.3.2.1");
	strcpy(in.series_description, "Cor_Flash  0.4  Qr40  Q2  60 %");
	strcpy(in.scan_type, "flash");
	strcpy(in.acquisition_datetime, "2024-03-12T09:40:11");
	assert_int_equal(record(f, &in, true, T1), STORE_NEW_SERIES);
	info_series_a(&in, 1);
	strcpy(in.series_uid, "1.2.826.0.1.3680043.10.1234.2.3");
	strcpy(in.sop_instance_uid, "1.2.826.0.1.3680043.10.1234.3.3.1");
	strcpy(in.series_description, "Cardiac CTA 0.625mm STND");
	strcpy(in.protocol_name, " cardiac cta PROSPECTIVE ");
	strcpy(in.scan_type, "seq_systolic");
	assert_int_equal(record(f, &in, true, T1), STORE_NEW_SERIES);
}

#define LINKS_SQL "SELECT group_concat(substr(series_uid, 29) || ':' || " \
	"event_number || ':' || link, ' ') FROM (SELECT * FROM dose_link " \
	"ORDER BY series_uid)"
#define LINKS_WANT "2.1:2:event-uid 2.2:3:time+protocol 2.3:4:protocol"

static void test_store__records_a_dose_report_once(void **state)
{
	struct fixture *f = *state;
	struct rdsr_event ev[4];
	struct rdsr_report r;

	open_rw(f);
	dose_report_init(&r, ev);
	assert_int_equal(record_dose(f, &r, true), STORE_DOSE_REPORT);
	assert_int_equal(record_dose(f, &r, true), STORE_DUPLICATE);
	assert_string_equal(query1(f, "SELECT count(*) FROM dose_report"), "1");
	assert_string_equal(query1(f, "SELECT count(*) FROM dose_event"), "4");
	assert_string_equal(query1(f, "SELECT accession_number || ' ' || "
	                    "typeof(accession_number) || ' ' || total_dlp_mgycm || ' ' || "
	                    "events || ' ' || start_datetime FROM dose_report"),
	                    "0012345678 text 614.3 4 2024-03-12T09:33:00");
	/* DT as extract_datetime writes it: fraction kept, offset dropped */
	assert_string_equal(query1(f, "SELECT group_concat(start_datetime, ' ') FROM "
	                    "(SELECT * FROM dose_event WHERE event_number > 2 "
	                    "ORDER BY event_number)"),
	                    "2024-03-12T09:40:10.2 2024-03-12T09:55:00");
	assert_string_equal(query1(f, "SELECT count(*) FROM dose_event WHERE "
	                    "pitch IS NULL AND scanning_length_mm IS NULL"), "4");
}

static void test_store__says_which_series_and_dose_reports_retrieve_has(void **state)
{
	struct fixture *f = *state;
	struct rdsr_event ev[4];
	struct rdsr_report r;
	struct instance_info in;
	bool yes = true;

	open_rw(f);
	assert_int_equal(store_series_recorded(f->s, SERIES_UID, &yes, &f->err), 0);
	assert_false(yes);
	assert_int_equal(store_dose_known(f->s, DOSE_SOP, &yes, &f->err), 0);
	assert_false(yes);
	info_series_a(&in, 1);
	assert_int_equal(record(f, &in, true, T1), STORE_NEW_SERIES);
	dose_report_init(&r, ev);
	assert_int_equal(record_dose(f, &r, true), STORE_DOSE_REPORT);
	assert_int_equal(store_series_recorded(f->s, SERIES_UID, &yes, &f->err), 0);
	assert_true(yes);
	assert_int_equal(store_dose_known(f->s, DOSE_SOP, &yes, &f->err), 0);
	assert_true(yes);
	/* the series' UID is no dose report's */
	assert_int_equal(store_dose_known(f->s, SERIES_UID, &yes, &f->err), 0);
	assert_false(yes);
}

static void test_store__links_series_to_events_whatever_the_order(void **state)
{
	struct fixture *f = *state;
	struct rdsr_event ev[4];
	struct rdsr_report r;

	dose_report_init(&r, ev);
	/* images first */
	open_rw(f);
	record_linked_series(f);
	assert_string_equal(query1(f, "SELECT count(*) FROM dose_link"), "0");
	assert_int_equal(record_dose(f, &r, true), STORE_DOSE_REPORT);
	assert_string_equal(query1(f, LINKS_SQL), LINKS_WANT);
	assert_string_equal(query1(f, "SELECT group_concat(scan_type || ':' || dlp_mgycm "
	                    "|| ':' || dlp_source || ':' || study_dlp_mgycm, ' ') FROM "
	                    "(SELECT * FROM exam ORDER BY scan_type)"),
	                    "flash:38.2:rdsr:614.3 seq_diastolic:215.3:rdsr:614.3 "
	                    "seq_systolic:354.7:rdsr:614.3");
	store_close(f->s);
	f->s = NULL;

	/* the report first, in another database */
	snprintf(f->path, sizeof f->path, "%s/other.db", f->dir);
	open_rw(f);
	assert_int_equal(record_dose(f, &r, true), STORE_DOSE_REPORT);
	assert_string_equal(query1(f, "SELECT count(*) FROM dose_link"), "0");
	record_linked_series(f);
	assert_string_equal(query1(f, LINKS_SQL), LINKS_WANT);
}

static void test_store__widens_the_acquisition_span_over_instances(void **state)
{
	struct fixture *f = *state;
	struct instance_info in;

	open_rw(f);
	info_series_a(&in, 2);
	strcpy(in.acquisition_datetime, "2024-03-12T09:34:06.5");
	record(f, &in, true, T1);
	info_series_a(&in, 1);
	strcpy(in.acquisition_datetime, "2024-03-12T09:34:05.25");
	record(f, &in, true, T1);
	info_series_a(&in, 3);
	strcpy(in.acquisition_datetime, "2024-03-12T09:34:05.9");
	record(f, &in, true, T1);
	info_series_a(&in, 3);   /* a duplicate changes nothing */
	strcpy(in.acquisition_datetime, "2024-03-12T09:59:00");
	assert_int_equal(record(f, &in, true, T1), STORE_DUPLICATE);
	assert_string_equal(query1(f, "SELECT acquisition_start || ' ' || acquisition_end "
	                    "FROM series"), "2024-03-12T09:34:05.25 2024-03-12T09:34:06.5");
}

static void test_store__ignores_a_dose_report_of_another_region_of_an_unknown_study(void **state)
{
	struct fixture *f = *state;
	struct rdsr_event ev[4];
	struct rdsr_report r;
	struct instance_info in;

	open_rw(f);
	dose_report_init(&r, ev);
	assert_int_equal(record_dose(f, &r, false), STORE_IGNORED);
	assert_string_equal(query1(f, "SELECT count(*) FROM dose_report"), "0");
	info_series_a(&in, 1);
	record(f, &in, true, T1);
	assert_int_equal(record_dose(f, &r, false), STORE_DOSE_REPORT);
}

static void test_store__a_later_report_with_the_same_events_replaces_the_earlier(void **state)
{
	struct fixture *f = *state;
	struct rdsr_event ev[4], ev2[4];
	struct rdsr_report r, corrected;

	open_rw(f);
	record_linked_series(f);
	dose_report_init(&r, ev);
	assert_int_equal(record_dose(f, &r, true), STORE_DOSE_REPORT);
	dose_report_init(&corrected, ev2);
	strcpy(corrected.sop_instance_uid, "1.2.826.0.1.3680043.10.1234.8.1.2");
	ev2[1].dlp_mgycm = 220.5;
	corrected.total_dlp_mgycm = 619.5;
	assert_int_equal(record_dose(f, &corrected, true), STORE_DOSE_REPORT);
	assert_string_equal(query1(f, "SELECT replaced_by FROM dose_report WHERE "
	                    "sop_instance_uid = '" DOSE_SOP "'"),
	                    "1.2.826.0.1.3680043.10.1234.8.1.2");
	assert_string_equal(query1(f, "SELECT count(*) FROM dose_event WHERE "
	                    "replaced_by IS NULL"), "4");
	assert_string_equal(query1(f, "SELECT dlp_mgycm || ' ' || study_dlp_mgycm FROM exam "
	                    "WHERE scan_type = 'seq_diastolic'"), "220.5 619.5");
	assert_string_equal(query1(f, "SELECT count(*) FROM dose_link WHERE "
	                    "sop_instance_uid = '" DOSE_SOP "'"), "0");
}

static void test_store__does_not_link_by_a_protocol_two_events_share(void **state)
{
	struct fixture *f = *state;
	struct rdsr_event ev[4];
	struct rdsr_report r;

	open_rw(f);
	record_linked_series(f);
	dose_report_init(&r, ev);
	strcpy(ev[0].protocol, "Cardiac CTA Prospective");   /* the topogram too */
	assert_int_equal(record_dose(f, &r, true), STORE_DOSE_REPORT);
	assert_string_equal(query1(f, LINKS_SQL), "2.1:2:event-uid 2.2:3:time+protocol");
	assert_string_equal(query1(f, "SELECT coalesce(dlp_mgycm, 'NULL') || ' ' || "
	                    "coalesce(dlp_source, 'NULL') || ' ' || dose_events FROM exam "
	                    "WHERE scan_type = 'seq_systolic'"), "NULL NULL 0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_store__open_creates_the_schema),
		T(test_store__open_upgrades_an_older_schema),
		T(test_store__series_columns_match_the_table),
		T(test_store__reopen_keeps_the_data),
		T(test_store__readonly_open_of_a_missing_file_is_enoent),
		T(test_store__readonly_open_of_a_foreign_database_is_eproto),
		T(test_store__readonly_open_of_a_non_sqlite_file_is_eproto),
		T(test_store__open_of_a_database_of_another_application_is_eproto),
		T(test_store__open_of_a_foreign_database_is_eproto),
		T(test_store__open_of_a_foreign_database_with_our_table_names_is_eproto),
		T(test_store__open_of_a_newer_schema_is_eproto),
		T(test_store__readonly_open_of_a_newer_schema_is_eproto),
		T(test_store__creates_a_row_for_a_cardiac_instance),
		T(test_store__stores_absent_fields_as_null),
		T(test_store__counts_a_second_instance_of_a_series),
		T(test_store__shows_the_instance_with_the_lowest_number),
		T(test_store__row_does_not_depend_on_the_order_of_arrival),
		T(test_store__keeps_the_latest_last_received),
		T(test_store__counts_a_duplicate_instance_once),
		T(test_store__ignores_a_non_cardiac_instance_of_an_unknown_series),
		T(test_store__counts_a_non_cardiac_instance_of_a_recorded_series),
		T(test_store__keeps_series_apart),
		T(test_store__query_refuses_a_write_statement),
		T(test_store__query_refuses_transaction_control),
		T(test_store__query_rejects_bad_sql),
		T(test_store__query_passes_null_as_null),
		T(test_store__query_binds_parameters_and_stops_when_asked),
		T(test_store__readonly_store_queries),
		T(test_store__reparse_derives_again_from_the_winning_material),
		T(test_store__reparse_changes_nothing_when_one_series_fails),
		T(test_store__returns_ebusy_while_another_writer_holds_the_lock),
		T(test_store__a_reader_does_not_block_the_writer),
		T(test_store__recorded_text_is_in_the_database_file),
		T(test_store__records_a_dose_report_once),
		T(test_store__says_which_series_and_dose_reports_retrieve_has),
		T(test_store__links_series_to_events_whatever_the_order),
		T(test_store__widens_the_acquisition_span_over_instances),
		T(test_store__ignores_a_dose_report_of_another_region_of_an_unknown_study),
		T(test_store__a_later_report_with_the_same_events_replaces_the_earlier),
		T(test_store__does_not_link_by_a_protocol_two_events_share),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
