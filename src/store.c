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
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"

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
	"instances", "first_received", "last_received", "calling_aet", NULL
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *series_exists;
	sqlite3_stmt *insert_instance;
	sqlite3_stmt *upsert_series;
};

static void set_err(char **errmsg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_err(char **errmsg, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (!errmsg)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	free(*errmsg);
	*errmsg = s;
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
	int app = 0, version = 0, rc;
	char *err = NULL;
	char sql[128];

	rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &err);
	if (rc != SQLITE_OK)
		goto fail;
	if ((rc = pragma_int(db, "PRAGMA application_id", &app)) != SQLITE_OK ||
	    (rc = pragma_int(db, "PRAGMA user_version", &version)) != SQLITE_OK)
		goto fail;
	if ((app != 0 && app != STORE_APPLICATION_ID) ||
	    (app == 0 && version != 0)) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		set_err(errmsg, "not an hraudit database (application_id %d)", app);
		return -EPROTO;
	}
	if (version > (int)store_schema_count) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		set_err(errmsg, "database schema %d is newer than this program's (%zu)",
		        version, store_schema_count);
		return -EPROTO;
	}
	for (size_t i = (size_t)version; i < store_schema_count; i++) {
		rc = sqlite3_exec(db, store_schema[i], NULL, NULL, &err);
		if (rc != SQLITE_OK)
			goto fail;
	}
	snprintf(sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = %zu",
	         STORE_APPLICATION_ID, store_schema_count);
	if ((rc = sqlite3_exec(db, sql, NULL, NULL, &err)) != SQLITE_OK ||
	    (rc = sqlite3_exec(db, "COMMIT", NULL, NULL, &err)) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	set_err(errmsg, "cannot set up schema: %s", err ? err : sqlite3_errmsg(db));
	sqlite3_free(err);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return errno_of(rc);
}

static int check_readonly(sqlite3 *db, char **errmsg)
{
	int app = 0, version = 0, rc;

	if ((rc = pragma_int(db, "PRAGMA application_id", &app)) != SQLITE_OK ||
	    (rc = pragma_int(db, "PRAGMA user_version", &version)) != SQLITE_OK) {
		set_err(errmsg, "cannot read database: %s", sqlite3_errmsg(db));
		return errno_of(rc);
	}
	if (app != STORE_APPLICATION_ID || version < 1) {
		set_err(errmsg, "not an hraudit database");
		return -EPROTO;
	}
	return 0;
}

#define SERIES_FIELDS \
	"study_uid, accession_number, study_date, study_time, modality, " \
	"manufacturer, model, station_name, institution, study_description, " \
	"series_description, protocol_name, series_number, patient_weight_kg, " \
	"kvp, ctdivol_mgy, pitch, scan_options, hr_min, hr_max, hr_avg, " \
	"hr_var, heart_rate, phase_percent, rr_interval_ms, " \
	"pulsing_start_percent, pulsing_end_percent"

/* Parameters ?1 series_uid, ?2..?28 SERIES_FIELDS, ?29 received, ?30 aet.
 * The first value seen for a field is kept (COALESCE). */
static const char upsert_sql[] =
	"INSERT INTO series (series_uid, " SERIES_FIELDS ", instances, "
	"first_received, last_received, calling_aet) VALUES (?1, ?2, ?3, ?4, "
	"?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, "
	"?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, 1, ?29, ?29, ?30) "
	"ON CONFLICT (series_uid) DO UPDATE SET instances = instances + 1, "
	"last_received = max(last_received, excluded.last_received), "
	"accession_number = coalesce(accession_number, excluded.accession_number), "
	"study_date = coalesce(study_date, excluded.study_date), "
	"study_time = coalesce(study_time, excluded.study_time), "
	"modality = coalesce(modality, excluded.modality), "
	"manufacturer = coalesce(manufacturer, excluded.manufacturer), "
	"model = coalesce(model, excluded.model), "
	"station_name = coalesce(station_name, excluded.station_name), "
	"institution = coalesce(institution, excluded.institution), "
	"study_description = coalesce(study_description, excluded.study_description), "
	"series_description = coalesce(series_description, excluded.series_description), "
	"protocol_name = coalesce(protocol_name, excluded.protocol_name), "
	"series_number = coalesce(series_number, excluded.series_number), "
	"patient_weight_kg = coalesce(patient_weight_kg, excluded.patient_weight_kg), "
	"kvp = coalesce(kvp, excluded.kvp), "
	"ctdivol_mgy = coalesce(ctdivol_mgy, excluded.ctdivol_mgy), "
	"pitch = coalesce(pitch, excluded.pitch), "
	"scan_options = coalesce(scan_options, excluded.scan_options), "
	"hr_min = coalesce(hr_min, excluded.hr_min), "
	"hr_max = coalesce(hr_max, excluded.hr_max), "
	"hr_avg = coalesce(hr_avg, excluded.hr_avg), "
	"hr_var = coalesce(hr_var, excluded.hr_var), "
	"heart_rate = coalesce(heart_rate, excluded.heart_rate), "
	"phase_percent = coalesce(phase_percent, excluded.phase_percent), "
	"rr_interval_ms = coalesce(rr_interval_ms, excluded.rr_interval_ms), "
	"pulsing_start_percent = coalesce(pulsing_start_percent, excluded.pulsing_start_percent), "
	"pulsing_end_percent = coalesce(pulsing_end_percent, excluded.pulsing_end_percent) "
	"RETURNING instances";

int store_open(const char *path, const struct store_options *opt,
               struct store **out, char **errmsg)
{
	struct store *s;
	int flags, rc, r;

	*out = NULL;
	if (opt->readonly && access(path, F_OK) < 0) {
		r = -errno;
		set_err(errmsg, "cannot open '%s': %s", path, strerror(errno));
		return r;
	}
	s = calloc(1, sizeof *s);
	if (!s) {
		set_err(errmsg, "out of memory");
		return -ENOMEM;
	}
	flags = opt->readonly ? SQLITE_OPEN_READONLY
	                      : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	rc = sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		set_err(errmsg, "cannot open '%s': %s", path,
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
		set_err(errmsg, "cannot open '%s': %s", path, sqlite3_errmsg(s->db));
		r = errno_of(rc);
		goto fail;
	}
	r = migrate(s->db, errmsg);
	if (r < 0)
		goto fail;
	if ((rc = sqlite3_prepare_v3(s->db, "SELECT 1 FROM series WHERE series_uid = ?",
	                             -1, SQLITE_PREPARE_PERSISTENT, &s->series_exists, NULL)) ||
	    (rc = sqlite3_prepare_v3(s->db,
	                             "INSERT INTO instance (sop_instance_uid, series_uid, received) "
	                             "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
	                             -1, SQLITE_PREPARE_PERSISTENT, &s->insert_instance, NULL)) ||
	    (rc = sqlite3_prepare_v3(s->db, upsert_sql, -1, SQLITE_PREPARE_PERSISTENT,
	                             &s->upsert_series, NULL))) {
		set_err(errmsg, "cannot prepare statements: %s", sqlite3_errmsg(s->db));
		r = errno_of(rc);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	store_close(s);
	return r;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	sqlite3_finalize(s->series_exists);
	sqlite3_finalize(s->insert_instance);
	sqlite3_finalize(s->upsert_series);
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

static void bind_series(sqlite3_stmt *st, const struct instance_info *in,
                        const char *received, const char *aet)
{
	int i = 1;

	bind_text(st, i++, in->series_uid);
	bind_text(st, i++, in->study_uid);
	bind_text(st, i++, in->accession_number);
	bind_text(st, i++, in->study_date);
	bind_text(st, i++, in->study_time);
	bind_text(st, i++, in->modality);
	bind_text(st, i++, in->manufacturer);
	bind_text(st, i++, in->model);
	bind_text(st, i++, in->station_name);
	bind_text(st, i++, in->institution);
	bind_text(st, i++, in->study_description);
	bind_text(st, i++, in->series_description);
	bind_text(st, i++, in->protocol_name);
	bind_num(st, i++, in->series_number);
	bind_num(st, i++, in->patient_weight_kg);
	bind_num(st, i++, in->kvp);
	bind_num(st, i++, in->ctdivol_mgy);
	bind_num(st, i++, in->pitch);
	bind_text(st, i++, in->scan_options);
	bind_num(st, i++, in->hr_min_bpm);
	bind_num(st, i++, in->hr_max_bpm);
	bind_num(st, i++, in->hr_avg_bpm);
	bind_num(st, i++, in->hr_var_bpm);
	bind_num(st, i++, in->heart_rate_bpm);
	bind_num(st, i++, in->phase_percent);
	bind_num(st, i++, in->rr_interval_ms);
	bind_num(st, i++, in->pulsing_start_percent);
	bind_num(st, i++, in->pulsing_end_percent);
	bind_text(st, i++, received);
	bind_text(st, i++, aet);
}

int store_record(struct store *s, const struct instance_info *info,
                 bool cardiac, const char *received_utc,
                 const char *calling_aet, enum store_outcome *outcome,
                 char **errmsg)
{
	int rc, instances = 0;

	rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	if (!cardiac) {
		sqlite3_bind_text(s->series_exists, 1, info->series_uid, -1, SQLITE_STATIC);
		rc = sqlite3_step(s->series_exists);
		sqlite3_reset(s->series_exists);
		if (rc == SQLITE_DONE) {
			*outcome = STORE_IGNORED;
			goto rollback;
		}
		if (rc != SQLITE_ROW)
			goto fail;
	}
	sqlite3_bind_text(s->insert_instance, 1, info->sop_instance_uid, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->insert_instance, 2, info->series_uid, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->insert_instance, 3, received_utc, -1, SQLITE_STATIC);
	rc = sqlite3_step(s->insert_instance);
	sqlite3_reset(s->insert_instance);
	if (rc != SQLITE_DONE)
		goto fail;
	if (sqlite3_changes(s->db) == 0) {
		*outcome = STORE_DUPLICATE;
		goto rollback;
	}
	bind_series(s->upsert_series, info, received_utc, calling_aet);
	rc = sqlite3_step(s->upsert_series);
	if (rc == SQLITE_ROW) {
		instances = sqlite3_column_int(s->upsert_series, 0);
		rc = sqlite3_step(s->upsert_series);
	}
	sqlite3_reset(s->upsert_series);
	sqlite3_clear_bindings(s->upsert_series);
	if (rc != SQLITE_DONE)
		goto fail;
	rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	*outcome = instances == 1 ? STORE_NEW_SERIES : STORE_ADDED;
	return 0;
rollback:
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return 0;
fail:
	set_err(errmsg, "cannot record instance '%s': %s", info->sop_instance_uid,
	        sqlite3_errstr(rc));
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return errno_of(rc);
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
		set_err(errmsg, "cannot query: %s", sqlite3_errmsg(s->db));
		return -EINVAL;
	}
	if (!sqlite3_stmt_readonly(st)) {
		set_err(errmsg, "not a read-only query");
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
		set_err(errmsg, "out of memory");
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
		set_err(errmsg, "cannot query: %s", sqlite3_errmsg(s->db));
		r = errno_of(rc);
	}
out:
	free(names);
	free(values);
	free(numeric);
	sqlite3_finalize(st);
	return r;
}
