/*
 * fuzz_ingest.c - libFuzzer target: raw data set bytes all the way to a
 * database row, by the path a network C-STORE takes.  The bytes go
 * through the DCMTK shim's receive side (dcm_receive_buffer: the bounded
 * header buffer, the stop at Pixel Data, the early store, the parse),
 * then the daemon's callback work, ingest_header(): raw material, scan
 * options, classification, and the group commit into a real SQLite store
 * (in memory, opened once per process and reopened every RESET_EVERY
 * inputs so that it stays small).
 *
 * Input: a selector byte, then the data set.  Selector bits 0-1: the
 * transfer syntax (as fuzz_header.c); bits 2-4: the sizes of the pieces
 * the bytes arrive in; bits 5-7: max_header_bytes.
 *
 * Checked, abort() when violated: the receive path returns our status;
 * ingest_header() returns 0, -EINVAL or -ENOMEM (the store is private and
 * in memory: -EBUSY, -ENOSPC or -EIO would be a bug); a recorded series
 * has its row, readable with SELECT; a duplicate's instance is there; and
 * the rows of a new series (series, series_raw, instance) hold nothing of
 * the test patient's name, ID or birth date (the canaries of
 * tests/data/study.dump) unless the input has it outside those elements.
 *
 * `make fuzz` runs it (and the other targets) for FUZZ_SECONDS each,
 * `make fuzz-smoke` (in `make test`) for FUZZ_SMOKE_SECONDS; seeds are the
 * test objects (the dumps in tests/data, and a small Enhanced CT built from
 * bench/enhanced-ct.dump) in every transfer syntax, and the inputs that
 * once found bugs (tests/fuzz/corpus/ingest).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dcm.h"
#include "ingest.h"
#include "raw.h"
#include "rdsr.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs recorded before the database is emptied (reopened). */
#define RESET_EVERY 2000

static const char *const syntaxes[] = {
	"1.2.840.10008.1.2.1",      /* explicit VR little endian */
	"1.2.840.10008.1.2",        /* implicit VR little endian */
	"1.2.840.10008.1.2.2",      /* explicit VR big endian    */
	"1.2.840.10008.1.2.1.99",   /* deflated                  */
};

/* Piece sizes: 16372 is what a 16 KiB PDU carries. */
static const size_t piece_lists[8][4] = {
	{0}, {1}, {7, 13}, {128}, {1000, 3}, {16372}, {1, 4095, 2}, {3, 5, 8, 200},
};
static const size_t piece_counts[8] = {0, 1, 2, 1, 2, 1, 3, 4};

/* The daemon's default (8 MiB), the configurable minimum, and smaller
 * limits that cut a header short. */
static const size_t header_limits[8] = {
	8388608, 65536, 300, 1000, 2048, 4096, 8192, 100,
};

/* (0010,0010) Patient Name, (0010,0020) Patient ID, (0010,0030) Birth Date */
static const uint32_t patient_tags[] = {
	DCM_TAG(0x0010, 0x0010), DCM_TAG(0x0010, 0x0020), DCM_TAG(0x0010, 0x0030),
};
static const char *const canaries[] = {"AUDIT^TESTPATIENT", "PID-7734521", "19600101"};
#define N_CANARIES (sizeof canaries / sizeof canaries[0])

static struct config cfg;
static struct store *store;
static struct ingest_queue *queue;
static struct raw scratch = RAW_INIT;   /* reused, as an association does */
static unsigned long inputs;

/* One input's state, for the store callback. */
struct run {
	const uint8_t *bytes;
	size_t len;
	bool deflated;
	bool called;
};

static void fail(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));

static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "fuzz_ingest: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

static void open_store(void)
{
	struct store_options opt = {.busy_timeout_ms = 0};
	char *err = NULL;

	store_close(store);
	if (store_open(":memory:", &opt, &store, &err) < 0)
		fail("cannot open the store: %s", err ? err : "?");
}

static void init_once(void)
{
	if (queue)
		return;
	config_defaults(&cfg);
	queue = ingest_queue_new();
	if (!queue)
		fail("out of memory");
	open_store();
}

static size_t count_in(const char *hay, size_t len, const char *needle)
{
	size_t n = 0, k = strlen(needle);
	const char *p = hay, *end = hay + len;

	while ((p = memmem(p, (size_t)(end - p), needle, k))) {
		n++;
		p += k;
	}
	return n;
}

/* Canaries worth looking for in the database: those that the input holds
 * only in the patient elements (a mutation may have copied one into
 * another element, which may then be stored as it should). */
static void patient_only_canaries(const struct run *run,
                                  const struct dcm_header *h,
                                  bool only[N_CANARIES])
{
	char v[256];

	for (size_t c = 0; c < N_CANARIES; c++) {
		size_t in_patient = 0;

		for (size_t t = 0; t < sizeof patient_tags / sizeof patient_tags[0]; t++) {
			int n = dcm_header_string(h, patient_tags[t], v, sizeof v);
			if (n >= 0 && (size_t)n < sizeof v)
				in_patient += count_in(v, (size_t)n, canaries[c]);
		}
		only[c] = !run->deflated && in_patient > 0 &&
		          count_in((const char *)run->bytes, run->len, canaries[c]) ==
		          in_patient;
	}
}

struct rows {
	size_t n;
	const bool *only;
	const char *table;
};

static int check_row(void *ctx, int ncols, const char *const *names,
                     const char *const *values, const bool *numeric)
{
	struct rows *rows = ctx;

	(void)numeric;
	rows->n++;
	for (int i = 0; i < ncols; i++)
		for (size_t c = 0; values[i] && c < N_CANARIES; c++)
			if (rows->only[c] && strstr(values[i], canaries[c]))
				fail("%s.%s holds patient data '%s': %.2000s",
				     rows->table, names[i], canaries[c], values[i]);
	return 0;
}

static size_t query(const char *sql, const char *param, const char *table,
                    const bool only[N_CANARIES])
{
	struct rows rows = {0, only, table};
	char *err = NULL;

	if (store_query(store, sql, &param, 1, check_row, &rows, &err) < 0)
		fail("cannot read back (%s): %s", sql, err ? err : "?");
	return rows.n;
}

/* The daemon's on_store (server.c), with the invariants checked. */
static uint16_t on_store(void *ctx, const struct dcm_store_request *req)
{
	struct run *run = ctx;
	struct instance_info info;
	enum store_outcome outcome;
	bool only[N_CANARIES];
	struct ingest in = {&cfg, store, queue};
	char *err = NULL;
	int r;

	if (run->called)
		fail("store callback called twice");
	run->called = true;
	if (!req->header)
		return DCM_STATUS_CANNOT_UNDERSTAND;
	r = ingest_header(&in, req->header, &scratch, "FUZZ", &info, &outcome, &err);
	if (r < 0) {
		if (r != -EINVAL && r != -ENOMEM)
			fail("ingest_header: %d (%s)", r, err ? err : "no message");
		free(err);
		return DCM_STATUS_CANNOT_UNDERSTAND;
	}
	/* A new series' rows hold this input's material alone: earlier
	 * inputs of a series may have put a canary anywhere. */
	patient_only_canaries(run, req->header, only);
	if (outcome != STORE_NEW_SERIES)
		memset(only, 0, sizeof only);
	switch (outcome) {
	case STORE_NEW_SERIES:
	case STORE_ADDED:
		if (query("SELECT * FROM series WHERE series_uid = ?",
		          info.series_uid, "series", only) != 1)
			fail("series '%s' recorded but not found", info.series_uid);
		(void)query("SELECT * FROM series_raw WHERE series_uid = ?",
		            info.series_uid, "series_raw", only);
		/* fall through */
	case STORE_DUPLICATE:
		/* A dose report sent again: its row, not an instance's. */
		if (rdsr_is_ct_dose_report(req->header)) {
			if (query("SELECT * FROM dose_report WHERE sop_instance_uid = ?",
			          info.sop_instance_uid, "dose_report", only) != 1)
				fail("dose report '%s' counted but not found",
				     info.sop_instance_uid);
			break;
		}
		if (query("SELECT * FROM instance WHERE sop_instance_uid = ?",
		          info.sop_instance_uid, "instance", only) != 1)
			fail("instance '%s' counted but not found",
			     info.sop_instance_uid);
		break;
	case STORE_IGNORED:
		break;
	case STORE_DOSE_REPORT:
		if (query("SELECT * FROM dose_report WHERE sop_instance_uid = ?",
		          info.sop_instance_uid, "dose_report", only) != 1)
			fail("dose report '%s' recorded but not found",
			     info.sop_instance_uid);
		break;
	default:
		fail("ingest_header: outcome %d", (int)outcome);
	}
	return DCM_STATUS_SUCCESS;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run run = {0};
	char *err = NULL;
	unsigned sel;
	int r;

	if (size < 1)
		return 0;
	init_once();
	if (++inputs % RESET_EVERY == 0)
		open_store();
	sel = data[0];
	run.bytes = data + 1;
	run.len = size - 1;
	run.deflated = (sel & 3) == 3;
	r = dcm_receive_buffer(run.bytes, run.len, syntaxes[sel & 3],
	                       header_limits[sel >> 5], piece_lists[(sel >> 2) & 7],
	                       piece_counts[(sel >> 2) & 7], on_store, &run, &err);
	if (r < 0)
		fail("dcm_receive_buffer: %d (%s)", r, err ? err : "no message");
	if (!run.called)
		fail("store callback not called");
	return 0;
}
