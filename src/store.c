/*
 * store.c - the SQLite database behind include/store.h.
 *
 * Data flow: extract (struct instance_info) -> store_record() -> one
 * committed transaction.  The schema is sql/NNN-*.sql, compiled in by the
 * Makefile as store_schema[] (build/schema.c); file N is applied when the
 * database's user_version is below N, all in one transaction.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "raw.h"
#include "rdsr.h"
#include "store.h"
#include "errmsg.h"

/* build/schema.c, generated from sql/ */
extern const char *const store_schema[];
extern const size_t store_schema_count;

const char *const store_series_columns[] = {
	"series_uid", "study_uid", "accession_number", "study_date",
	"study_time", "modality", "manufacturer", "model", "station_name",
	"institution", "study_description", "series_description",
	"protocol_name", "series_number", "patient_weight_kg", "kvp",
	"ctdivol_mgy", "pitch", "scan_options", "hr_min", "hr_max", "hr_avg",
	"hr_var", "heart_rate", "phase_percent", "rr_interval_ms",
	"pulsing_start_percent", "pulsing_end_percent", "scan_type",
	"instances", "first_received", "last_received", "calling_aet",
	"hr_source", "scan_type_source", "trigger_time_ms", "rr_low_ms",
	"rr_high_ms", "intervals_acquired", "intervals_rejected",
	"single_collimation_mm", "total_collimation_mm", "acquisition_type",
	"exposure_modulation", "frames", "source_instance_number",
	"instances_sampled", "irradiation_event_uid", "acquisition_start",
	"acquisition_end", NULL
};

/* The columns derived from an instance's material, and where in struct
 * instance_info each comes from: one table for insert, update and reparse. */
struct derived_column {
	const char *name;
	bool text;
	size_t offset;
};

#define TEXT_COL(c, f) {c, true, offsetof(struct instance_info, f)}
#define NUM_COL(c, f)  {c, false, offsetof(struct instance_info, f)}

static const struct derived_column derived[] = {
	TEXT_COL("study_uid", study_uid),
	TEXT_COL("accession_number", accession_number),
	TEXT_COL("study_date", study_date),
	TEXT_COL("study_time", study_time),
	TEXT_COL("modality", modality),
	TEXT_COL("manufacturer", manufacturer),
	TEXT_COL("model", model),
	TEXT_COL("station_name", station_name),
	TEXT_COL("institution", institution),
	TEXT_COL("study_description", study_description),
	TEXT_COL("series_description", series_description),
	TEXT_COL("protocol_name", protocol_name),
	NUM_COL("series_number", series_number),
	NUM_COL("patient_weight_kg", patient_weight_kg),
	NUM_COL("kvp", kvp),
	NUM_COL("ctdivol_mgy", ctdivol_mgy),
	NUM_COL("pitch", pitch),
	TEXT_COL("scan_options", scan_options),
	NUM_COL("hr_min", hr_min_bpm),
	NUM_COL("hr_max", hr_max_bpm),
	NUM_COL("hr_avg", hr_avg_bpm),
	NUM_COL("hr_var", hr_var_bpm),
	NUM_COL("heart_rate", heart_rate_bpm),
	NUM_COL("phase_percent", phase_percent),
	NUM_COL("rr_interval_ms", rr_interval_ms),
	NUM_COL("pulsing_start_percent", pulsing_start_percent),
	NUM_COL("pulsing_end_percent", pulsing_end_percent),
	TEXT_COL("scan_type", scan_type),
	TEXT_COL("hr_source", hr_source),
	TEXT_COL("scan_type_source", scan_type_source),
	NUM_COL("trigger_time_ms", trigger_time_ms),
	NUM_COL("rr_low_ms", rr_low_ms),
	NUM_COL("rr_high_ms", rr_high_ms),
	NUM_COL("intervals_acquired", intervals_acquired),
	NUM_COL("intervals_rejected", intervals_rejected),
	NUM_COL("single_collimation_mm", single_collimation_mm),
	NUM_COL("total_collimation_mm", total_collimation_mm),
	TEXT_COL("acquisition_type", acquisition_type),
	TEXT_COL("exposure_modulation", exposure_modulation),
	NUM_COL("frames", frames),
	NUM_COL("source_instance_number", instance_number),
	TEXT_COL("irradiation_event_uid", irradiation_event_uid),
};
#define NDERIVED (sizeof derived / sizeof derived[0])

struct store {
	sqlite3 *db;
	sqlite3_stmt *series_exists;
	sqlite3_stmt *insert_instance;
	sqlite3_stmt *upsert_raw;
	sqlite3_stmt *winner;
	sqlite3_stmt *upsert_series;  /* row from this instance's material   */
	sqlite3_stmt *bump_series;    /* counts, widens the acquisition span */
	/* Transaction control, prepared once: sqlite3_exec() would compile
	 * each of them again for every instance. */
	sqlite3_stmt *begin, *commit, *rollback, *savepoint, *release, *undo;
};

void store_now_utc(char out[STORE_TIME_MAX])
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(out, STORE_TIME_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	         tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

static int errno_of(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return -EPROTO;
	default:
		return -EIO;
	}
}

static int pragma_int(sqlite3 *db, const char *pragma, int *out)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(db, pragma, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Applies the schema files the database lacks, in one transaction. */
static int migrate(sqlite3 *db, char **errmsg)
{
	int app = 0, version = 0, tables = 0, rc;
	char *err = NULL;
	char sql[128];

	rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &err);
	if (rc != SQLITE_OK)
		goto fail;
	if ((rc = pragma_int(db, "PRAGMA application_id", &app)) != SQLITE_OK ||
	    (rc = pragma_int(db, "PRAGMA user_version", &version)) != SQLITE_OK)
		goto fail;
	/* A file with neither our id nor a version is ours only when empty:
	 * a mistyped path must not put our tables into another database. */
	if (app == 0 && version == 0 &&
	    (rc = pragma_int(db, "SELECT count(*) FROM sqlite_master", &tables)) != SQLITE_OK)
		goto fail;
	if ((app != 0 && app != STORE_APPLICATION_ID) ||
	    (app == 0 && (version != 0 || tables != 0))) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		errmsg_set(errmsg, "not an hraudit database (application_id %d)", app);
		return -EPROTO;
	}
	if (version > (int)store_schema_count) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		errmsg_set(errmsg, "database schema %d is newer than this program's (%zu)",
		        version, store_schema_count);
		return -EPROTO;
	}
	for (size_t i = (size_t)version; i < store_schema_count; i++) {
		rc = sqlite3_exec(db, store_schema[i], NULL, NULL, &err);
		if (rc != SQLITE_OK)
			goto fail;
	}
	/* A current database is not written: the daemon then starts on a
	 * full disk, and answers 0xA700 until there is room again. */
	if (app != STORE_APPLICATION_ID || version != (int)store_schema_count) {
		snprintf(sql, sizeof sql, "PRAGMA application_id = %d; "
		         "PRAGMA user_version = %zu", STORE_APPLICATION_ID,
		         store_schema_count);
		rc = sqlite3_exec(db, sql, NULL, NULL, &err);
		if (rc != SQLITE_OK)
			goto fail;
	}
	if ((rc = sqlite3_exec(db, "COMMIT", NULL, NULL, &err)) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	errmsg_set(errmsg, "cannot set up schema: %s", err ? err : sqlite3_errmsg(db));
	sqlite3_free(err);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return errno_of(rc);
}

static int check_readonly(sqlite3 *db, char **errmsg)
{
	int app = 0, version = 0, rc;

	if ((rc = pragma_int(db, "PRAGMA application_id", &app)) != SQLITE_OK ||
	    (rc = pragma_int(db, "PRAGMA user_version", &version)) != SQLITE_OK) {
		errmsg_set(errmsg, "cannot read database: %s", sqlite3_errmsg(db));
		return errno_of(rc);
	}
	if (app != STORE_APPLICATION_ID || version < 1) {
		errmsg_set(errmsg, "not an hraudit database");
		return -EPROTO;
	}
	if (version > (int)store_schema_count) {
		errmsg_set(errmsg, "database schema %d is newer than this program's (%zu)",
		        version, store_schema_count);
		return -EPROTO;
	}
	return 0;
}

/* Parameters: ?1 series_uid, ?2.. the derived columns, then received,
 * calling_aet.  Every derived column is overwritten: the row shows the
 * material of one instance (the winner, see store_record). */
/*
 * The SET terms that widen a series' acquisition span to take in the time
 * T (an SQL expression; NULL leaves the span as it is): every instance
 * counted, whichever statement counts it.
 */
#define WIDEN_ACQUISITION(T) \
	"acquisition_start = CASE WHEN " T " IS NOT NULL AND (acquisition_start " \
	"IS NULL OR " T " < acquisition_start) THEN " T " ELSE acquisition_start " \
	"END, acquisition_end = CASE WHEN " T " IS NOT NULL AND (acquisition_end " \
	"IS NULL OR " T " > acquisition_end) THEN " T " ELSE acquisition_end END"

static char *upsert_sql(void)
{
	char *sql = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&sql, &len);

	if (!f)
		return NULL;
	fputs("INSERT INTO series (series_uid", f);
	for (size_t i = 0; i < NDERIVED; i++)
		fprintf(f, ", %s", derived[i].name);
	fputs(", instances, first_received, last_received, calling_aet, "
	      "acquisition_start, acquisition_end) VALUES (?1", f);
	for (size_t i = 0; i < NDERIVED; i++)
		fprintf(f, ", ?%zu", i + 2);
	fprintf(f, ", 1, ?%zu, ?%zu, ?%zu, ?%zu, ?%zu) ON CONFLICT (series_uid) "
	        "DO UPDATE SET instances = instances + 1, last_received = "
	        "max(last_received, excluded.last_received), "
	        WIDEN_ACQUISITION("excluded.acquisition_start"),
	        NDERIVED + 2, NDERIVED + 2, NDERIVED + 3, NDERIVED + 4, NDERIVED + 4);
	for (size_t i = 0; i < NDERIVED; i++)
		fprintf(f, ", %s = excluded.%s", derived[i].name, derived[i].name);
	if (fclose(f) != 0) {
		free(sql);
		return NULL;
	}
	return sql;
}

/* UPDATE of the derived columns of ?1 that changes only what differs. */
static char *reparse_sql(void)
{
	char *sql = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&sql, &len);

	if (!f)
		return NULL;
	fputs("UPDATE series SET ", f);
	for (size_t i = 0; i < NDERIVED; i++)
		fprintf(f, "%s%s = ?%zu", i ? ", " : "", derived[i].name, i + 2);
	fputs(" WHERE series_uid = ?1 AND (", f);
	for (size_t i = 0; i < NDERIVED; i++)
		fprintf(f, "%s%s IS NOT ?%zu", i ? " OR " : "", derived[i].name, i + 2);
	fputs(")", f);
	if (fclose(f) != 0) {
		free(sql);
		return NULL;
	}
	return sql;
}

static int prepare(struct store *s, const char *sql, sqlite3_stmt **st)
{
	return sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
}

int store_open(const char *path, const struct store_options *opt,
               struct store **out, char **errmsg)
{
	struct store *s;
	int flags, rc, r;

	*out = NULL;
	if (opt->readonly && access(path, F_OK) < 0) {
		r = -errno;
		errmsg_set(errmsg, "cannot open '%s': %s", path, strerror(errno));
		return r;
	}
	s = calloc(1, sizeof *s);
	if (!s) {
		errmsg_set(errmsg, "out of memory");
		return -ENOMEM;
	}
	flags = opt->readonly ? SQLITE_OPEN_READONLY
	                      : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	rc = sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		errmsg_set(errmsg, "cannot open '%s': %s", path,
		        s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		r = errno_of(rc);
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, opt->busy_timeout_ms);
	if (opt->readonly) {
		r = check_readonly(s->db, errmsg);
		if (r < 0)
			goto fail;
		*out = s;
		return 0;
	}
	/* WAL: readers never block the writer nor the other way round. */
	rc = sqlite3_exec(s->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->db, opt->synchronous_full
		                  ? "PRAGMA synchronous = FULL"
		                  : "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		errmsg_set(errmsg, "cannot open '%s': %s", path, sqlite3_errmsg(s->db));
		r = errno_of(rc);
		goto fail;
	}
	r = migrate(s->db, errmsg);
	if (r < 0)
		goto fail;
	{
		char *upsert = upsert_sql();

		rc = SQLITE_NOMEM;
		if (!upsert ||
		    (rc = prepare(s, "SELECT 1 FROM series WHERE series_uid = ?",
		                  &s->series_exists)) ||
		    (rc = prepare(s, "INSERT INTO instance (sop_instance_uid, series_uid, "
		                  "received) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
		                  &s->insert_instance)) ||
		    (rc = prepare(s, "INSERT INTO series_raw (series_uid, raw_hash, "
		                  "raw_json, instances, first_instance_number) "
		                  "VALUES (?1, ?2, ?3, 1, ?4) ON CONFLICT DO UPDATE SET "
		                  "instances = instances + 1, first_instance_number = "
		                  "CASE WHEN first_instance_number IS NULL "
		                  "OR excluded.first_instance_number < first_instance_number "
		                  "THEN excluded.first_instance_number "
		                  "ELSE first_instance_number END", &s->upsert_raw)) ||
		    (rc = prepare(s, "SELECT raw_hash, first_instance_number FROM series_raw WHERE series_uid = ? "
		                  "ORDER BY first_instance_number IS NULL, "
		                  "first_instance_number, raw_hash LIMIT 1", &s->winner)) ||
		    (rc = prepare(s, upsert, &s->upsert_series)) ||
		    (rc = prepare(s, "UPDATE series SET instances = instances + 1, "
		                  "last_received = max(last_received, ?2), "
		                  WIDEN_ACQUISITION("?3") " WHERE series_uid = ?1",
		                  &s->bump_series)) ||
		    (rc = prepare(s, "BEGIN IMMEDIATE", &s->begin)) ||
		    (rc = prepare(s, "COMMIT", &s->commit)) ||
		    (rc = prepare(s, "ROLLBACK", &s->rollback)) ||
		    (rc = prepare(s, "SAVEPOINT one", &s->savepoint)) ||
		    (rc = prepare(s, "RELEASE one", &s->release)) ||
		    (rc = prepare(s, "ROLLBACK TO one", &s->undo))) {
			errmsg_set(errmsg, "cannot prepare statements: %s", sqlite3_errmsg(s->db));
			free(upsert);
			r = errno_of(rc);
			goto fail;
		}
		free(upsert);
	}
	*out = s;
	return 0;
fail:
	store_close(s);
	return r;
}

int store_checkpoint(struct store *s, char **errmsg)
{
	int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
	                                   NULL, NULL);

	if (rc == SQLITE_OK)
		return 0;
	errmsg_set(errmsg, "%s", sqlite3_errmsg(s->db));
	return errno_of(rc);
}

void store_close(struct store *s)
{
	if (!s)
		return;
	sqlite3_finalize(s->series_exists);
	sqlite3_finalize(s->insert_instance);
	sqlite3_finalize(s->upsert_raw);
	sqlite3_finalize(s->winner);
	sqlite3_finalize(s->upsert_series);
	sqlite3_finalize(s->bump_series);
	sqlite3_finalize(s->begin);
	sqlite3_finalize(s->commit);
	sqlite3_finalize(s->rollback);
	sqlite3_finalize(s->savepoint);
	sqlite3_finalize(s->release);
	sqlite3_finalize(s->undo);
	sqlite3_close(s->db);
	free(s);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v && *v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* Integral numbers are bound as integers, so sqlite3 shows 60, not 60.0. */
static void bind_num(sqlite3_stmt *st, int i, double v)
{
	if (isnan(v))
		sqlite3_bind_null(st, i);
	else if (v == floor(v) && fabs(v) < 9e15)
		sqlite3_bind_int64(st, i, (sqlite3_int64)v);
	else
		sqlite3_bind_double(st, i, v);
}

/* Binds the derived columns from ?first on. */
static void bind_derived(sqlite3_stmt *st, int first, const struct instance_info *in)
{
	for (size_t i = 0; i < NDERIVED; i++) {
		const char *p = (const char *)in + derived[i].offset;

		if (derived[i].text)
			bind_text(st, first + (int)i, p);
		else
			bind_num(st, first + (int)i, *(const double *)(const void *)p);
	}
}

/* 64-bit FNV-1a: equal material, equal hash (and so one series_raw row). */
static sqlite3_int64 hash64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return (sqlite3_int64)h;
}

/*
 * One instance, inside the batch's transaction (store_record_batch): its
 * changes, or none.  Returns an SQLite result code; SQLITE_OK with
 * it->outcome set.
 */
static int record_one(struct store *s, struct store_item *it)
{
	const struct instance_info *info = it->info;
	sqlite3_int64 hash = hash64(it->raw_json);
	struct instance_info shown;
	bool winner, existed;
	int rc;

	sqlite3_bind_text(s->series_exists, 1, info->series_uid, -1, SQLITE_STATIC);
	rc = sqlite3_step(s->series_exists);
	sqlite3_reset(s->series_exists);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return rc;
	existed = rc == SQLITE_ROW;
	if (!it->cardiac && !existed) {
		it->outcome = STORE_IGNORED;
		return SQLITE_OK;
	}
	sqlite3_bind_text(s->insert_instance, 1, info->sop_instance_uid, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->insert_instance, 2, info->series_uid, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->insert_instance, 3, it->received_utc, -1, SQLITE_STATIC);
	rc = sqlite3_step(s->insert_instance);
	sqlite3_reset(s->insert_instance);
	if (rc != SQLITE_DONE)
		return rc;
	if (sqlite3_changes(s->db) == 0) {
		it->outcome = STORE_DUPLICATE;
		return SQLITE_OK;
	}

	/* The material of the instance, shared by the instances that agree. */
	sqlite3_bind_text(s->upsert_raw, 1, info->series_uid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s->upsert_raw, 2, hash);
	sqlite3_bind_text(s->upsert_raw, 3, it->raw_json, -1, SQLITE_STATIC);
	bind_num(s->upsert_raw, 4, info->instance_number);
	rc = sqlite3_step(s->upsert_raw);
	sqlite3_reset(s->upsert_raw);
	if (rc != SQLITE_DONE)
		return rc;

	/* The row shows the material of the lowest Instance Number (then the
	 * lowest hash): the same set of instances gives the same row whatever
	 * the order they arrive in. */
	sqlite3_bind_text(s->winner, 1, info->series_uid, -1, SQLITE_STATIC);
	rc = sqlite3_step(s->winner);
	winner = rc == SQLITE_ROW && sqlite3_column_int64(s->winner, 0) == hash;
	if (winner) {
		/* the row names the lowest instance with this material */
		shown = *info;
		shown.instance_number = sqlite3_column_type(s->winner, 1) == SQLITE_NULL
		                        ? NAN : sqlite3_column_double(s->winner, 1);
	}
	sqlite3_reset(s->winner);
	if (rc != SQLITE_ROW)
		return rc;

	if (winner) {
		sqlite3_bind_text(s->upsert_series, 1, info->series_uid, -1, SQLITE_STATIC);
		bind_derived(s->upsert_series, 2, &shown);
		bind_text(s->upsert_series, (int)NDERIVED + 2, it->received_utc);
		bind_text(s->upsert_series, (int)NDERIVED + 3, it->calling_aet);
		bind_text(s->upsert_series, (int)NDERIVED + 4,
		          info->acquisition_datetime);
		rc = sqlite3_step(s->upsert_series);
		sqlite3_reset(s->upsert_series);
		sqlite3_clear_bindings(s->upsert_series);
	} else {
		sqlite3_bind_text(s->bump_series, 1, info->series_uid, -1, SQLITE_STATIC);
		sqlite3_bind_text(s->bump_series, 2, it->received_utc, -1, SQLITE_STATIC);
		bind_text(s->bump_series, 3, info->acquisition_datetime);
		rc = sqlite3_step(s->bump_series);
		sqlite3_reset(s->bump_series);
	}
	if (rc != SQLITE_DONE)
		return rc;
	it->outcome = existed ? STORE_ADDED : STORE_NEW_SERIES;
	return SQLITE_OK;
}

/* A DT of the report as extract_datetime() writes it, bound; NULL when
 * absent or not a date and time. */
static void bind_datetime(sqlite3_stmt *st, int i, const char *dt)
{
	char iso[EXTRACT_DATETIME_MAX];

	if (extract_datetime(dt, iso) == 0)
		sqlite3_bind_text(st, i, iso, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static const char dose_report_sql[] =
	"INSERT INTO dose_report (sop_instance_uid, study_uid, series_uid, "
	"accession_number, study_date, manufacturer, model, station_name, "
	"start_datetime, end_datetime, total_dlp_mgycm, total_events, events, "
	"received, calling_aet) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
	"?10, ?11, ?12, ?13, ?14, ?15) ON CONFLICT DO NOTHING";

static const char dose_event_sql[] =
	"INSERT INTO dose_event (sop_instance_uid, event_number, study_uid, "
	"event_uid, protocol, target_region, target_region_code, "
	"acquisition_type, acquisition_type_code, start_datetime, "
	"exposure_time_s, scanning_length_mm, ctdivol_mgy, dlp_mgycm, pitch, "
	"single_collimation_mm, total_collimation_mm, exposure_modulation) "
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
	"?15, ?16, ?17, ?18)";

/* A later report carrying an event's UID replaces the earlier ones: their
 * events, then the reports those events belong to.  ?1 the new report. */
static const char dose_replace_events_sql[] =
	"UPDATE dose_event SET replaced_by = ?1 WHERE replaced_by IS NULL "
	"AND sop_instance_uid <> ?1 AND event_uid IN (SELECT event_uid FROM "
	"dose_event WHERE sop_instance_uid = ?1 AND event_uid IS NOT NULL) "
	"AND study_uid = (SELECT study_uid FROM dose_report "
	"WHERE sop_instance_uid = ?1)";
static const char dose_replace_reports_sql[] =
	"UPDATE dose_report SET replaced_by = ?1 WHERE replaced_by IS NULL "
	"AND sop_instance_uid IN (SELECT sop_instance_uid FROM dose_event "
	"WHERE replaced_by = ?1)";

/* Runs sql once with ?1 = param: SQLITE_ROW, SQLITE_DONE or an error. */
static int step_once(sqlite3 *db, const char *sql, const char *param)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(st, 1, param, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc;
}

/* One dose report, inside the batch's transaction; as record_one(). */
static int record_dose_one(struct store *s, struct store_item *it)
{
	const struct rdsr_report *d = it->dose;
	sqlite3_stmt *st = NULL;
	int rc;

	if (!it->cardiac) {
		/* not the heart's, unless a series of its study is recorded */
		rc = step_once(s->db, "SELECT 1 FROM series WHERE study_uid = ?1 "
		               "LIMIT 1", d->study_uid);
		if (rc == SQLITE_DONE) {
			it->outcome = STORE_IGNORED;
			return SQLITE_OK;
		}
		if (rc != SQLITE_ROW)
			goto out;
	}
	rc = sqlite3_prepare_v2(s->db, dose_report_sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, d->sop_instance_uid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, d->study_uid, -1, SQLITE_STATIC);
	bind_text(st, 3, d->series_uid);
	bind_text(st, 4, d->accession_number);
	bind_text(st, 5, d->study_date);
	bind_text(st, 6, d->manufacturer);
	bind_text(st, 7, d->model);
	bind_text(st, 8, d->station_name);
	bind_datetime(st, 9, d->start_datetime);
	bind_datetime(st, 10, d->end_datetime);
	bind_num(st, 11, d->total_dlp_mgycm);
	bind_num(st, 12, d->total_events);
	sqlite3_bind_int64(st, 13, (sqlite3_int64)d->nevents);
	sqlite3_bind_text(st, 14, it->received_utc, -1, SQLITE_STATIC);
	bind_text(st, 15, it->calling_aet);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	st = NULL;
	if (rc != SQLITE_DONE)
		goto out;
	if (sqlite3_changes(s->db) == 0) {
		it->outcome = STORE_DUPLICATE;
		return SQLITE_OK;
	}

	rc = sqlite3_prepare_v2(s->db, dose_event_sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto out;
	for (size_t i = 0; i < d->nevents; i++) {
		const struct rdsr_event *e = &d->events[i];

		sqlite3_bind_text(st, 1, d->sop_instance_uid, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)i + 1);
		sqlite3_bind_text(st, 3, d->study_uid, -1, SQLITE_STATIC);
		bind_text(st, 4, e->event_uid);
		bind_text(st, 5, e->protocol);
		bind_text(st, 6, e->target_region);
		bind_text(st, 7, e->target_region_code);
		bind_text(st, 8, e->acquisition_type);
		bind_text(st, 9, e->acquisition_type_code);
		bind_datetime(st, 10, e->start_datetime);
		bind_num(st, 11, e->exposure_time_s);
		bind_num(st, 12, e->scanning_length_mm);
		bind_num(st, 13, e->ctdivol_mgy);
		bind_num(st, 14, e->dlp_mgycm);
		bind_num(st, 15, e->pitch);
		bind_num(st, 16, e->single_collimation_mm);
		bind_num(st, 17, e->total_collimation_mm);
		bind_text(st, 18, e->exposure_modulation);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (rc != SQLITE_DONE)
			goto out;
	}
	sqlite3_finalize(st);
	st = NULL;

	if ((rc = step_once(s->db, dose_replace_events_sql,
	                    d->sop_instance_uid)) != SQLITE_DONE ||
	    (rc = step_once(s->db, dose_replace_reports_sql,
	                    d->sop_instance_uid)) != SQLITE_DONE)
		goto out;
	it->outcome = STORE_DOSE_REPORT;
	rc = SQLITE_OK;
out:
	sqlite3_finalize(st);
	return rc;
}

/* Runs a prepared statement without results; SQLITE_OK or its error. */
static int run(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* The message is the reason alone: the callers name the instance (the
 * daemon's log line) or the file (hraudit import). */
static void item_fail(struct store_item *it, int rc)
{
	it->r = errno_of(rc);
	errmsg_set(&it->errmsg, "%s", sqlite3_errstr(rc));
}

int store_record_batch(struct store *s, struct store_item *items, size_t n)
{
	size_t i, done = 0;
	int rc;

	for (i = 0; i < n; i++) {
		items[i].r = 0;
		items[i].errmsg = NULL;
	}
	rc = run(s->begin);
	if (rc != SQLITE_OK)
		goto fail;
	if (n == 1) {
		/* Alone: the transaction is the savepoint. */
		rc = items[0].dose ? record_dose_one(s, &items[0])
		                   : record_one(s, &items[0]);
		if (rc != SQLITE_OK)
			goto fail;
	}
	for (i = 0; n > 1 && i < n; i++) {
		/* Each in a savepoint: one that fails leaves the others. */
		rc = run(s->savepoint);
		if (rc != SQLITE_OK)
			goto fail;
		rc = items[i].dose ? record_dose_one(s, &items[i])
		                   : record_one(s, &items[i]);
		if (rc != SQLITE_OK) {
			item_fail(&items[i], rc);
			run(s->undo);
		}
		rc = run(s->release);
		if (rc != SQLITE_OK)
			goto fail;
	}
	rc = run(s->commit);
	if (rc != SQLITE_OK)
		goto fail;
	for (i = 0; i < n; i++)
		done += items[i].r == 0;
	return (int)done;
fail:
	/* Nothing of the batch is kept: every item fails with rc. */
	for (i = 0; i < n; i++) {
		free(items[i].errmsg);
		items[i].errmsg = NULL;
		item_fail(&items[i], rc);
	}
	if (!sqlite3_get_autocommit(s->db))
		run(s->rollback);
	return 0;
}

/* One item in its own transaction: store_record(), store_record_dose(). */
static int record_alone(struct store *s, struct store_item *it,
                        enum store_outcome *outcome, char **errmsg)
{
	store_record_batch(s, it, 1);
	if (it->r < 0) {
		if (errmsg)
			*errmsg = it->errmsg;
		else
			free(it->errmsg);
		return it->r;
	}
	*outcome = it->outcome;
	return 0;
}

int store_record(struct store *s, const struct instance_info *info,
                 const char *raw_json, bool cardiac, const char *received_utc,
                 const char *calling_aet, enum store_outcome *outcome,
                 char **errmsg)
{
	struct store_item it = {
		.info = info, .raw_json = raw_json, .cardiac = cardiac,
		.received_utc = received_utc, .calling_aet = calling_aet,
	};

	return record_alone(s, &it, outcome, errmsg);
}

int store_record_dose(struct store *s, const struct rdsr_report *report,
                      bool cardiac, const char *received_utc,
                      const char *calling_aet, enum store_outcome *outcome,
                      char **errmsg)
{
	struct store_item it = {
		.dose = report, .cardiac = cardiac,
		.received_utc = received_utc, .calling_aet = calling_aet,
	};

	return record_alone(s, &it, outcome, errmsg);
}

int store_query(struct store *s, const char *sql, const char *const *params,
                size_t nparams, store_row_fn fn, void *ctx, char **errmsg)
{
	sqlite3_stmt *st = NULL;
	const char **names = NULL, **values = NULL;
	bool *numeric = NULL;
	int rc, n, r = 0;

	rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		errmsg_set(errmsg, "cannot query: %s", sqlite3_errmsg(s->db));
		return -EINVAL;
	}
	/* Only queries (and PRAGMAs that read): sqlite3_stmt_readonly() also
	 * passes BEGIN, ATTACH and PRAGMAs that change the connection. */
	while (*sql == ' ' || *sql == '\n' || *sql == '\t')
		sql++;
	if (!sqlite3_stmt_readonly(st) ||
	    !(strncasecmp(sql, "SELECT", 6) == 0 || strncasecmp(sql, "WITH", 4) == 0 ||
	      (strncasecmp(sql, "PRAGMA", 6) == 0 && !strpbrk(sql, "=(")))) {
		errmsg_set(errmsg, "not a read-only query");
		r = -EINVAL;
		goto out;
	}
	for (size_t i = 0; i < nparams; i++)
		sqlite3_bind_text(st, (int)i + 1, params[i], -1, SQLITE_STATIC);
	n = sqlite3_column_count(st);
	names = calloc((size_t)n + 1, sizeof *names);
	values = calloc((size_t)n + 1, sizeof *values);
	numeric = calloc((size_t)n + 1, sizeof *numeric);
	if (!names || !values || !numeric) {
		errmsg_set(errmsg, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++)
		names[i] = sqlite3_column_name(st, i);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int i = 0; i < n; i++) {
			int t = sqlite3_column_type(st, i);
			numeric[i] = t == SQLITE_INTEGER || t == SQLITE_FLOAT;
			values[i] = (const char *)sqlite3_column_text(st, i);
		}
		if (fn(ctx, n, names, values, numeric))
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		errmsg_set(errmsg, "cannot query: %s", sqlite3_errmsg(s->db));
		r = errno_of(rc);
	}
out:
	free(names);
	free(values);
	free(numeric);
	sqlite3_finalize(st);
	return r;
}

/* Loads a JSON object of strings (raw_to_json) into raw, through SQLite's
 * own JSON reader. */
static int raw_from_json(sqlite3 *db, const char *json, struct raw *raw)
{
	sqlite3_stmt *st;
	int rc, r = 0;

	rc = sqlite3_prepare_v2(db, "SELECT key, value FROM json_each(?)", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return errno_of(rc);
	sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		const char *v = (const char *)sqlite3_column_text(st, 1);
		if (k && v)
			r = raw_set(raw, k, v);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = errno_of(rc);
	sqlite3_finalize(st);
	return r;
}

int store_reparse(struct store *s, store_derive_fn fn, void *ctx,
                  unsigned long *examined, unsigned long *changed,
                  char **errmsg)
{
	sqlite3_stmt *list = NULL, *update = NULL;
	struct raw raw = RAW_INIT;
	char *sql = reparse_sql();
	int rc, r = 0;

	*examined = *changed = 0;
	if (!sql) {
		errmsg_set(errmsg, "out of memory");
		return -ENOMEM;
	}
	rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	/* each series' winning material (as store_record chooses it) */
	rc = sqlite3_prepare_v2(s->db,
	        "SELECT s.series_uid, r.raw_json, r.first_instance_number "
	        "FROM series s JOIN series_raw r ON r.series_uid = s.series_uid "
	        "AND r.raw_hash = (SELECT raw_hash FROM series_raw x "
	        "WHERE x.series_uid = s.series_uid ORDER BY "
	        "first_instance_number IS NULL, first_instance_number, raw_hash "
	        "LIMIT 1)", -1, &list, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->db, sql, -1, &update, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(list)) == SQLITE_ROW) {
		struct instance_info info;
		const char *uid = (const char *)sqlite3_column_text(list, 0);

		raw_release(&raw);
		r = raw_from_json(s->db, (const char *)sqlite3_column_text(list, 1), &raw);
		if (r < 0)
			break;
		memset(&info, 0, sizeof info);
		info.instance_number = sqlite3_column_type(list, 2) == SQLITE_NULL
		                       ? NAN : sqlite3_column_double(list, 2);
		r = fn(ctx, &raw, &info);
		if (r < 0)
			break;
		sqlite3_bind_text(update, 1, uid, -1, SQLITE_TRANSIENT);
		bind_derived(update, 2, &info);
		rc = sqlite3_step(update);
		sqlite3_reset(update);
		if (rc != SQLITE_DONE)
			goto fail;
		(*examined)++;
		*changed += (unsigned long)sqlite3_changes(s->db);
	}
	if (r < 0) {
		errmsg_set(errmsg, "cannot re-derive: %s", strerror(-r));
		goto out;
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(list);
	sqlite3_finalize(update);
	list = update = NULL;
	rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	goto out;
fail:
	errmsg_set(errmsg, "cannot re-derive: %s", sqlite3_errmsg(s->db));
	r = errno_of(rc);
out:
	sqlite3_finalize(list);
	sqlite3_finalize(update);
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	raw_release(&raw);
	free(sql);
	return r;
}

int store_import_calcium(struct store *s, const struct store_calcium *rows,
                         size_t n, const char *imported_utc, char **errmsg)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	rc = sqlite3_prepare_v2(s->db,
	        "INSERT INTO calcium_score (accession_number, agatston, imported) "
	        "VALUES (?1, ?2, ?3) ON CONFLICT (accession_number) DO UPDATE SET "
	        "agatston = excluded.agatston, imported = excluded.imported",
	        -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_text(st, 1, rows[i].accession_number, -1, SQLITE_STATIC);
		bind_num(st, 2, rows[i].agatston);
		sqlite3_bind_text(st, 3, imported_utc, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			goto fail;
	}
	sqlite3_finalize(st);
	st = NULL;
	rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	return 0;
fail:
	errmsg_set(errmsg, "cannot import calcium scores: %s", sqlite3_errmsg(s->db));
	sqlite3_finalize(st);
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return errno_of(rc);
}

/* *found: the first of the n statements sql[] that the schema can
 * prepare returns a row for ?1 = key; none preparable: false, when
 * missing_ok (an older read-only schema), else an error. */
static int exists_row(struct store *s, const char *const *sql, size_t n,
                      bool missing_ok, const char *key, bool *found,
                      char **errmsg)
{
	sqlite3_stmt *st = NULL;
	int rc = SQLITE_ERROR;

	*found = false;
	for (size_t i = 0; i < n && rc != SQLITE_OK; i++)
		rc = sqlite3_prepare_v2(s->db, sql[i], -1, &st, NULL);
	if (rc != SQLITE_OK && missing_ok)
		return 0;
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto fail;
	*found = rc == SQLITE_ROW;
	sqlite3_finalize(st);
	return 0;
fail:
	errmsg_set(errmsg, "cannot read database: %s", sqlite3_errmsg(s->db));
	sqlite3_finalize(st);
	return errno_of(rc);
}

int store_series_known(struct store *s, const char *series_uid, bool *known,
                       char **errmsg)
{
	/* table retrieved is new in schema 4: a read-only database (a dry
	 * run) may be older. */
	static const char *const sql[] = {
		"SELECT 1 FROM series WHERE series_uid = ?1 UNION ALL "
		"SELECT 1 FROM retrieved WHERE series_uid = ?1",
		"SELECT 1 FROM series WHERE series_uid = ?1",
	};

	return exists_row(s, sql, 2, false, series_uid, known, errmsg);
}

int store_series_recorded(struct store *s, const char *series_uid,
                          bool *recorded, char **errmsg)
{
	static const char *const sql[] = {
		"SELECT 1 FROM series WHERE series_uid = ?1",
	};

	return exists_row(s, sql, 1, false, series_uid, recorded, errmsg);
}

int store_dose_known(struct store *s, const char *sop_instance_uid,
                     bool *known, char **errmsg)
{
	/* table dose_report is new in schema 5 */
	static const char *const sql[] = {
		"SELECT 1 FROM dose_report WHERE sop_instance_uid = ?1",
	};

	return exists_row(s, sql, 1, true, sop_instance_uid, known, errmsg);
}

int store_note_retrieved(struct store *s, const struct store_retrieved *r,
                         bool *recorded, char **errmsg)
{
	sqlite3_stmt *mark = NULL, *exists = NULL, *note = NULL;
	int rc;

	*recorded = false;
	rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	/* The row is a sample when the fetched instance is its only one:
	 * this fetch made it. */
	if ((rc = sqlite3_prepare_v2(s->db,
	        "UPDATE series SET instances_sampled = 1 WHERE series_uid = ?1 "
	        "AND instances = 1 AND EXISTS (SELECT 1 FROM instance WHERE "
	        "sop_instance_uid = ?2 AND series_uid = ?1)", -1, &mark, NULL)) ||
	    (rc = sqlite3_prepare_v2(s->db,
	        "SELECT 1 FROM series WHERE series_uid = ?1", -1, &exists, NULL)) ||
	    (rc = sqlite3_prepare_v2(s->db,
	        "INSERT OR REPLACE INTO retrieved (series_uid, study_uid, "
	        "sop_instance_uid, pacs_aet, method, retrieved, pacs_instances, "
	        "recorded) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", -1, &note,
	        NULL)))
		goto fail;
	sqlite3_bind_text(mark, 1, r->series_uid, -1, SQLITE_STATIC);
	sqlite3_bind_text(mark, 2, r->sop_instance_uid, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(mark)) != SQLITE_DONE)
		goto fail;
	sqlite3_bind_text(exists, 1, r->series_uid, -1, SQLITE_STATIC);
	rc = sqlite3_step(exists);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto fail;
	*recorded = rc == SQLITE_ROW;
	sqlite3_bind_text(note, 1, r->series_uid, -1, SQLITE_STATIC);
	sqlite3_bind_text(note, 2, r->study_uid, -1, SQLITE_STATIC);
	sqlite3_bind_text(note, 3, r->sop_instance_uid, -1, SQLITE_STATIC);
	sqlite3_bind_text(note, 4, r->pacs_aet, -1, SQLITE_STATIC);
	sqlite3_bind_text(note, 5, r->method, -1, SQLITE_STATIC);
	sqlite3_bind_text(note, 6, r->retrieved_utc, -1, SQLITE_STATIC);
	if (r->pacs_instances >= 0)
		sqlite3_bind_int64(note, 7, r->pacs_instances);
	else
		sqlite3_bind_null(note, 7);
	sqlite3_bind_int(note, 8, *recorded);
	if ((rc = sqlite3_step(note)) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(mark);
	sqlite3_finalize(exists);
	sqlite3_finalize(note);
	mark = exists = note = NULL;
	rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	return 0;
fail:
	errmsg_set(errmsg, "cannot note the retrieval of series '%s': %s",
	           r->series_uid, sqlite3_errmsg(s->db));
	sqlite3_finalize(mark);
	sqlite3_finalize(exists);
	sqlite3_finalize(note);
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	*recorded = false;
	return errno_of(rc);
}
