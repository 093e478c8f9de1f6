/*
 * cmd_retrieve.c - `hraudit retrieve --pacs AET@HOST:PORT --from DATE --to
 * DATE ...`: backfill the database from a PACS, one instance per series.
 *
 * Day by day (so that each answer stays under a PACS's result limits), on
 * one association (dcm.h's query/retrieve SCU, Study Root):
 *
 *   STUDY  C-FIND on Study Date        -> studies wanted (retrieve.h)
 *   SERIES C-FIND per study            -> series wanted, less those the
 *                                         database knows (resumable)
 *   IMAGE  C-FIND per series           -> its lowest Instance Number
 *   C-GET of that instance             -> ingest_header(), as every arrival
 *   or C-MOVE to a running hrauditd    -> recorded there
 *
 * and, for a study with a cardiac series (recorded now or before), its
 * CT Radiation Dose SR, so that the audit has its DLP:
 *
 *   (the SERIES C-FIND above also lists the study's SR series, whatever
 *   --modality says)
 *   IMAGE  C-FIND per SR series        -> instances of a dose SR class
 *   C-GET or C-MOVE of each            -> recorded as every arrival, less
 *                                         those in dose_report (resumable)
 *
 * After a series' retrieval, store_note_retrieved() notes it in table
 * `retrieved` and marks a row it made as a sample
 * (series.instances_sampled): the C-MOVE
 * path lands in hrauditd, so this needs the daemon's database, and the
 * row is marked here once the C-MOVE response says the transfer ended.
 * Whether a series is cardiac is decided by the header, in ingest, as for
 * every arrival: series that are not are remembered too, and skipped the
 * next time.  Patient name, ID and birth date are never asked for.
 *
 * Exit status: 0 when every wanted series and dose report was fetched; 1
 * when one could not be, on a database error, an unreachable PACS, a refused
 * association, an interruption; 2 for bad arguments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dcm.h"
#include "ingest.h"
#include "retrieve.h"

/* Status of a C-MOVE whose destination the PACS does not know (PS3.4
 * C.4.2.1.5): every later one would fail the same way. */
#define STATUS_MOVE_DESTINATION_UNKNOWN 0xA801

static volatile sig_atomic_t interrupted;

struct found_study {
	char uid[EXTRACT_UID_MAX];
};

struct found_series {
	char series_uid[EXTRACT_UID_MAX];   /* or, of a dose report, its SOP
	                                       Instance UID (do_doses)    */
	char description[EXTRACT_TEXT_MAX];
	long pacs_instances;        /* (0020,1209), -1 when not returned */
};

struct retrieve {
	struct cli *cli;
	struct retrieve_peer pacs;
	char pacs_text[300];        /* as given, for messages */
	struct dcm_scu_config scu_cfg;
	struct dcm_scu *scu;
	const char *move_to;        /* NULL: C-GET */
	bool dry_run;
	struct retrieve_filter filter;
	struct ingest ingest;
	struct raw scratch;

	/* the day being read */
	char day[9];
	struct found_study *studies;
	size_t nstudies, studies_cap;
	struct found_series *series;
	size_t nseries, series_cap;
	struct found_series *sr_series;     /* of the study: may hold dose */
	size_t nsr_series, sr_series_cap;
	struct found_series *doses;         /* of one SR series            */
	size_t ndoses, doses_cap;
	struct retrieve_pick pick;

	/* the C-GET's incoming object */
	bool got;
	int got_r;
	bool moved_any;             /* a retrieval of this run succeeded     */
	char *got_err;

	/* progress and summary */
	struct cli_progress progress;
	long days, days_done;
	unsigned long studies_found, series_found, matched, skipped, retrieved,
	              recorded, not_cardiac, failed, would;
	unsigned long dose_fetched, dose_skipped, dose_failed, dose_would;
};

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* "[####    ] day 3/31 20240312, 12 retrieved". */
static void progress_draw(struct retrieve *rt)
{
	cli_progress_draw(&rt->progress, true, (unsigned long)rt->days_done,
	                  (unsigned long)rt->days, "day %ld/%ld %s, %lu %s",
	                  rt->days_done + 1, rt->days, rt->day,
	                  rt->dry_run ? rt->would : rt->retrieved,
	                  rt->dry_run ? "to retrieve" : "retrieved");
}

/* One line on stderr, below the bar. */
__attribute__((format(printf, 2, 3)))
static void say(struct retrieve *rt, const char *fmt, ...)
{
	va_list ap;

	cli_progress_clear(&rt->progress);
	fputs("hraudit: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* (Re)opens the association when there is none.  Returns 0, or < 0 having
 * said why: the one-line errors of an unreachable PACS or a refusal. */
static int scu_ensure(struct retrieve *rt)
{
	char *err = NULL;
	int r;

	if (rt->scu)
		return 0;
	r = dcm_scu_open(&rt->scu_cfg, &rt->scu, &err);
	switch (r) {
	case 0:
		break;
	case -ECONNREFUSED:
	case -ETIMEDOUT:
	case -EHOSTUNREACH:
		say(rt, "cannot reach pacs '%s': %s", rt->pacs_text,
		    err ? err : strerror(-r));
		break;
	case -EACCES:
		say(rt, "pacs '%s' refused the association: %s", rt->pacs_text,
		    err ? err : "no reason given");
		break;
	case -EPROTONOSUPPORT:
		say(rt, "pacs '%s' does not offer what retrieve needs: %s",
		    rt->pacs_text, err ? err : "");
		break;
	default:
		say(rt, "cannot associate with pacs '%s': %s", rt->pacs_text,
		    err ? err : strerror(-r));
		break;
	}
	free(err);
	return r;
}

/* After an exchange failed at the network level: the association is gone;
 * the next exchange opens another. */
static void scu_drop(struct retrieve *rt)
{
	dcm_scu_close(rt->scu);
	rt->scu = NULL;
}

static const char *status_text(uint16_t st)
{
	switch (st) {
	case 0xA700: case 0xA701: case 0xA702:
		return "out of resources";
	case 0xA801:
		return "move destination unknown";
	case 0xA900:
		return "identifier does not match sop class";
	case 0xFE00:
		return "cancelled";
	case 0x0122:
		return "sop class not supported";
	default:
		if ((st & 0xF000) == 0xC000)
			return "unable to process";
		if (DCM_QR_WARNING(st))
			return "warning";
		return "failure";
	}
}

/* Judges the end of a C-FIND: 0 to use its matches (success, or a
 * warning said), < 0 when it failed (said). */
static int find_judge(struct retrieve *rt, int r, const char *what,
                      const struct dcm_qr_result *res, const char *err)
{
	if (r < 0) {
		say(rt, "%s: %s", what, err ? err : strerror(-r));
		scu_drop(rt);
		return r;
	}
	if (DCM_QR_SUCCESS(res->status))
		return 0;
	if (DCM_QR_WARNING(res->status)) {
		say(rt, "%s: warning 0x%04X%s%s (%u matches kept)", what,
		    res->status, res->comment[0] ? ": " : "", res->comment,
		    res->responses);
		return 0;
	}
	say(rt, "%s failed: status 0x%04X (%s)%s%s", what, res->status,
	    status_text(res->status), res->comment[0] ? ": " : "", res->comment);
	return -EIO;
}

/* One C-FIND, on the association (opened again if need be), judged by
 * find_judge: *failed when its matches are not to be used (said).
 * Returns 0, or < 0 to stop: no association (said), or out of memory. */
static int find(struct retrieve *rt, enum dcm_qr_level level,
                const struct dcm_qr_key *keys, size_t nkeys, dcm_find_fn fn,
                const char *what, bool *failed)
{
	struct dcm_qr_result res;
	char *err = NULL;
	int r;

	*failed = false;
	if ((r = scu_ensure(rt)) < 0)
		return r;
	r = dcm_scu_find(rt->scu, level, keys, nkeys, fn, rt, &res, &err);
	if (r != -ENOMEM) {
		*failed = find_judge(rt, r, what, &res, err) < 0;
		r = 0;
	}
	free(err);
	return r;
}

static void text_of(const struct dcm_header *h, uint32_t tag, char *buf,
                    size_t size)
{
	if (dcm_header_string(h, tag, buf, size) < 0)
		buf[0] = '\0';
}

/* v (n elements of size bytes used, *cap allocated) with room for one
 * more: v itself, or v moved; NULL when out of memory (v is kept). */
static void *grow(void *v, size_t *cap, size_t n, size_t size)
{
	size_t c = *cap ? *cap * 2 : 64;

	if (n < *cap)
		return v;
	v = reallocarray(v, c, size);
	if (v)
		*cap = c;
	return v;
}

/* Appends to the list *v (*n used, *cap allocated) a row of only a UID,
 * id's value of tag, when it has one.  Returns 0, or -ENOMEM (*v kept). */
static int add_uid(struct found_series **v, size_t *n, size_t *cap,
                   const struct dcm_header *id, uint32_t tag)
{
	struct found_series *p = grow(*v, cap, *n, sizeof **v);

	if (!p)
		return -ENOMEM;
	*v = p;
	memset(&p[*n], 0, sizeof p[*n]);
	text_of(id, tag, p[*n].series_uid, sizeof p[*n].series_uid);
	if (p[*n].series_uid[0])
		++*n;
	return 0;
}

static int on_study(void *ctx, const struct dcm_header *id)
{
	struct retrieve *rt = ctx;
	char desc[EXTRACT_TEXT_MAX], mods[EXTRACT_TEXT_MAX];
	struct found_study *s;
	void *p;

	rt->studies_found++;
	text_of(id, DCM_TAG(0x0008, 0x1030), desc, sizeof desc);
	text_of(id, DCM_TAG(0x0008, 0x0061), mods, sizeof mods);
	if (!retrieve_study_wanted(&rt->filter, desc, mods))
		return 0;
	p = grow(rt->studies, &rt->studies_cap, rt->nstudies, sizeof *rt->studies);
	if (!p)
		return -ENOMEM;
	rt->studies = p;
	s = &rt->studies[rt->nstudies];
	text_of(id, DCM_TAG(0x0020, 0x000D), s->uid, sizeof s->uid);
	if (s->uid[0])
		rt->nstudies++;
	return 0;
}

static int on_series(void *ctx, const struct dcm_header *id)
{
	struct retrieve *rt = ctx;
	char modality[EXTRACT_TEXT_MAX], model[EXTRACT_TEXT_MAX], n[32];
	struct found_series *s;
	char *end;
	void *p;

	rt->series_found++;
	p = grow(rt->series, &rt->series_cap, rt->nseries, sizeof *rt->series);
	if (!p)
		return -ENOMEM;
	rt->series = p;
	s = &rt->series[rt->nseries];
	text_of(id, DCM_TAG(0x0008, 0x0060), modality, sizeof modality);
	if (retrieve_series_may_hold_dose(modality))
		return add_uid(&rt->sr_series, &rt->nsr_series, &rt->sr_series_cap,
		               id, DCM_TAG(0x0020, 0x000E));
	text_of(id, DCM_TAG(0x0008, 0x103E), s->description, sizeof s->description);
	text_of(id, DCM_TAG(0x0008, 0x1090), model, sizeof model);
	if (!retrieve_series_wanted(&rt->filter, modality, s->description, model))
		return 0;
	text_of(id, DCM_TAG(0x0020, 0x000E), s->series_uid, sizeof s->series_uid);
	text_of(id, DCM_TAG(0x0020, 0x1209), n, sizeof n);
	s->pacs_instances = strtol(n, &end, 10);
	if (!n[0] || *end || s->pacs_instances < 0)
		s->pacs_instances = -1;
	if (s->series_uid[0])
		rt->nseries++;
	return 0;
}

static int on_image(void *ctx, const struct dcm_header *id)
{
	struct retrieve *rt = ctx;
	char uid[EXTRACT_UID_MAX], number[32], model[EXTRACT_TEXT_MAX];

	text_of(id, DCM_TAG(0x0008, 0x0018), uid, sizeof uid);
	text_of(id, DCM_TAG(0x0020, 0x0013), number, sizeof number);
	text_of(id, DCM_TAG(0x0008, 0x1090), model, sizeof model);
	retrieve_pick_offer(&rt->pick, uid, number, model);
	return 0;
}

/* An instance of an SR series: kept when it is a dose report. */
static int on_dose_image(void *ctx, const struct dcm_header *id)
{
	struct retrieve *rt = ctx;
	char sop_class[EXTRACT_UID_MAX];

	text_of(id, DCM_TAG(0x0008, 0x0016), sop_class, sizeof sop_class);
	if (!retrieve_dose_class(sop_class))
		return 0;
	return add_uid(&rt->doses, &rt->ndoses, &rt->doses_cap, id,
	               DCM_TAG(0x0008, 0x0018));
}

/* The C-STORE of a C-GET: recorded as every arrival is, sent by the PACS. */
static uint16_t on_get_store(void *ctx, const struct dcm_store_request *req)
{
	struct retrieve *rt = ctx;
	struct instance_info info;
	enum store_outcome outcome;

	free(rt->got_err);
	rt->got_err = NULL;
	rt->got = true;
	if (!req->header) {
		rt->got_r = -EINVAL;
		return DCM_STATUS_CANNOT_UNDERSTAND;
	}
	rt->got_r = ingest_header(&rt->ingest, req->header, &rt->scratch,
	                          rt->pacs.aet, &info, &outcome, &rt->got_err);
	if (rt->got_r == -EINVAL)
		return DCM_STATUS_CANNOT_UNDERSTAND;
	return rt->got_r < 0 ? DCM_STATUS_OUT_OF_RESOURCES : DCM_STATUS_SUCCESS;
}

/* Retrieves instance sop_uid of series series_uid of study, by C-GET into
 * the database or C-MOVE; `kind` and `uid` name it in messages ("series",
 * its UID).  *done: it arrived.  Returns 0 (retrieved, or failed and said),
 * or < 0 to stop: a database error, or a C-MOVE destination the PACS does
 * not know (said). */
static int transfer(struct retrieve *rt, const char *study,
                    const char *series_uid, const char *sop_uid,
                    const char *kind, const char *uid, bool *done)
{
	struct dcm_qr_result res;
	char *err = NULL;
	int r;

	*done = false;
	if ((r = scu_ensure(rt)) < 0)
		return r;
	rt->got = false;
	rt->got_r = 0;
	if (rt->move_to)
		r = dcm_scu_move(rt->scu, rt->move_to, study, series_uid, sop_uid,
		                 &res, &err);
	else
		r = dcm_scu_get(rt->scu, study, series_uid, sop_uid, on_get_store,
		                rt, &res, &err);
	if (r < 0) {
		say(rt, "cannot retrieve %s '%s': %s", kind, uid,
		    err ? err : strerror(-r));
		free(err);
		scu_drop(rt);
		return 0;
	}
	if (rt->got && rt->got_r < 0 && rt->got_r != -EINVAL) {
		say(rt, "cannot record %s '%s': %s", kind, uid,
		    rt->got_err ? rt->got_err : strerror(-rt->got_r));
		return rt->got_r;
	}
	if (res.status == STATUS_MOVE_DESTINATION_UNKNOWN) {
		say(rt, "pacs '%s' does not know the move destination '%s' "
		    "(status 0xA801): add it to the pacs's dicom nodes",
		    rt->pacs_text, rt->move_to);
		return -EINVAL;
	}
	/* Some PACS (Orthanc) answer an unknown destination with a plain
	 * failure: when the first move of the run sends nothing, every other
	 * would fail the same way. */
	if (rt->move_to && !rt->moved_any && !DCM_QR_SUCCESS(res.status) &&
	    res.completed == 0) {
		say(rt, "pacs '%s' moved nothing to '%s' (status 0x%04X, %s%s%s): "
		    "is '%s' one of its dicom nodes, and running?", rt->pacs_text,
		    rt->move_to, res.status, status_text(res.status),
		    res.comment[0] ? ": " : "", res.comment, rt->move_to);
		return -EINVAL;
	}
	if (!DCM_QR_SUCCESS(res.status) || res.completed + res.warning == 0 ||
	    (!rt->move_to && (!rt->got || rt->got_r < 0))) {
		say(rt, "%s '%s' not retrieved: status 0x%04X (%s), %u "
		    "completed, %u failed%s%s%s", kind, uid, res.status,
		    DCM_QR_SUCCESS(res.status) ? "nothing sent" :
		    status_text(res.status), res.completed, res.failed,
		    rt->got_r == -EINVAL ? ", not a readable header" : "",
		    res.comment[0] ? ": " : "", res.comment);
		return 0;
	}
	rt->moved_any = true;
	*done = true;
	return 0;
}

/* Fetches the picked instance of series s of study and notes it; *cardiac
 * when it was recorded.  Returns 0 (fetched, or failed and counted), or
 * < 0 to stop, as transfer(). */
static int fetch(struct retrieve *rt, const char *study,
                 const struct found_series *s, bool *cardiac)
{
	struct store_retrieved note;
	char when[STORE_TIME_MAX], *err = NULL;
	bool recorded, done;
	int r;

	*cardiac = false;
	r = transfer(rt, study, s->series_uid, rt->pick.sop_instance_uid,
	             "series", s->series_uid, &done);
	if (r < 0 || !done) {
		rt->failed += r == 0;
		return r;
	}
	rt->retrieved++;
	store_now_utc(when);
	note = (struct store_retrieved){
		.series_uid = s->series_uid, .study_uid = study,
		.sop_instance_uid = rt->pick.sop_instance_uid,
		.pacs_aet = rt->pacs.aet, .method = rt->move_to ? "c-move" : "c-get",
		.retrieved_utc = when, .pacs_instances = s->pacs_instances,
	};
	r = store_note_retrieved(rt->cli->store, &note, &recorded, &err);
	if (r < 0) {
		say(rt, "%s", err ? err : strerror(-r));
		free(err);
		return r;
	}
	if (recorded)
		rt->recorded++;
	else
		rt->not_cardiac++;
	*cardiac = recorded;
	return 0;
}

/* The dose reports of the SR series of study (rt->sr_series): those not
 * in table dose_report are fetched (a dry run lists them).  Returns 0, or
 * < 0 to stop. */
static int do_doses(struct retrieve *rt, const char *study)
{
	char what[160], *err = NULL;
	int r = 0;

	for (size_t i = 0; i < rt->nsr_series && !interrupted; i++) {
		const char *series = rt->sr_series[i].series_uid;
		const struct dcm_qr_key keys[] = {
			{DCM_TAG(0x0020, 0x000D), study},
			{DCM_TAG(0x0020, 0x000E), series},
			{DCM_TAG(0x0008, 0x0018), ""},
			{DCM_TAG(0x0008, 0x0016), ""},
		};

		bool failed;

		rt->ndoses = 0;
		snprintf(what, sizeof what, "c-find of the instances of sr series '%s'",
		         series);
		if ((r = find(rt, DCM_QR_IMAGE, keys, 4, on_dose_image, what,
		              &failed)) < 0)
			return r;
		if (failed) {
			rt->dose_failed++;
			continue;
		}
		for (size_t k = 0; k < rt->ndoses && !interrupted; k++) {
			const char *uid = rt->doses[k].series_uid;
			bool known = false, done;

			if (rt->cli->store &&
			    (r = store_dose_known(rt->cli->store, uid, &known, &err)) < 0) {
				say(rt, "%s", err ? err : strerror(-r));
				free(err);
				return r;
			}
			if (known) {
				rt->dose_skipped++;
				continue;
			}
			if (rt->dry_run) {
				rt->dose_would++;
				cli_progress_clear(&rt->progress);
				printf("%s %s %s 'dose report'\n", rt->day, series, uid);
				continue;
			}
			r = transfer(rt, study, series, uid, "dose report", uid, &done);
			if (r < 0)
				return r;
			if (done)
				rt->dose_fetched++;
			else
				rt->dose_failed++;
		}
	}
	return 0;
}

/* The series of one study.  Returns 0, or < 0 to stop. */
static int do_study(struct retrieve *rt, const char *study)
{
	const struct dcm_qr_key series_keys[] = {
		{DCM_TAG(0x0020, 0x000D), study},
		{DCM_TAG(0x0020, 0x000E), ""},
		/* any: SR series too, for the dose report; the modality
		 * asked for is then checked here (retrieve_series_wanted) */
		{DCM_TAG(0x0008, 0x0060), ""},
		{DCM_TAG(0x0008, 0x103E), ""},
		{DCM_TAG(0x0020, 0x1209), ""},
		{DCM_TAG(0x0008, 0x1090), ""},   /* only with --model */
	};
	char what[160], *err = NULL;
	bool cardiac = false;   /* a series of the study is in table series */
	bool failed;
	int r;

	rt->nseries = 0;
	rt->nsr_series = 0;
	snprintf(what, sizeof what, "c-find of the series of study '%s'", study);
	if ((r = find(rt, DCM_QR_SERIES, series_keys, rt->filter.models.n ? 6 : 5,
	              on_series, what, &failed)) < 0)
		return r;
	if (failed) {
		rt->failed++;
		return 0;
	}
	for (size_t i = 0; i < rt->nseries && !interrupted; i++) {
		const struct found_series *s = &rt->series[i];
		const struct dcm_qr_key image_keys[] = {
			{DCM_TAG(0x0020, 0x000D), study},
			{DCM_TAG(0x0020, 0x000E), s->series_uid},
			{DCM_TAG(0x0008, 0x0018), ""},
			{DCM_TAG(0x0020, 0x0013), ""},
			{DCM_TAG(0x0008, 0x1090), ""},   /* only with --model */
		};
		bool known = false, recorded = false;

		if (rt->cli->store &&
		    ((r = store_series_known(rt->cli->store, s->series_uid, &known,
		                             &err)) < 0 ||
		     (known && (r = store_series_recorded(rt->cli->store,
		                    s->series_uid, &recorded, &err)) < 0))) {
			say(rt, "%s", err ? err : strerror(-r));
			free(err);
			return r;
		}
		if (known) {
			rt->matched++;
			rt->skipped++;
			cardiac = cardiac || recorded;
			continue;
		}
		memset(&rt->pick, 0, sizeof rt->pick);
		snprintf(what, sizeof what, "c-find of the instances of series '%s'",
		         s->series_uid);
		if ((r = find(rt, DCM_QR_IMAGE, image_keys, rt->filter.models.n ? 5 : 4,
		              on_image, what, &failed)) < 0)
			return r;
		if (failed) {
			rt->matched++;
			rt->failed++;
			continue;
		}
		/* The model, when only the image level returns it. */
		if (!retrieve_series_wanted(&rt->filter, "", s->description,
		                            rt->pick.model))
			continue;
		rt->matched++;
		if (!rt->pick.found) {
			say(rt, "series '%s': the pacs lists no instance", s->series_uid);
			rt->failed++;
			continue;
		}
		if (rt->dry_run) {
			/* whether it is cardiac, only its header will say */
			rt->would++;
			cardiac = true;
			cli_progress_clear(&rt->progress);
			printf("%s %s %s '%s'\n", rt->day, s->series_uid,
			       rt->pick.sop_instance_uid, s->description);
			continue;
		}
		if ((r = fetch(rt, study, s, &recorded)) < 0)
			return r;
		cardiac = cardiac || recorded;
		progress_draw(rt);
	}
	/* The dose report matters to the audit for cardiac studies only:
	 * asking for every study's would cost an IMAGE C-FIND per SR series of
	 * every CT study of the range. */
	if (cardiac && !interrupted && (r = do_doses(rt, study)) < 0)
		return r;
	return 0;
}

/* One day: its studies, then their series.  Returns 0, or < 0 to stop. */
static int do_day(struct retrieve *rt, long day)
{
	const struct dcm_qr_key study_keys[] = {
		{DCM_TAG(0x0008, 0x0020), rt->day},
		{DCM_TAG(0x0020, 0x000D), ""},
		{DCM_TAG(0x0008, 0x1030), ""},
		{DCM_TAG(0x0008, 0x0061), ""},
	};
	char what[64];
	bool failed;
	int r;

	retrieve_date_format(day, rt->day);
	progress_draw(rt);
	rt->nstudies = 0;
	snprintf(what, sizeof what, "c-find of the studies of %s", rt->day);
	if ((r = find(rt, DCM_QR_STUDY, study_keys, 4, on_study, what,
	              &failed)) < 0)
		return r;
	if (failed) {
		rt->failed++;
		return 0;
	}
	for (size_t i = 0; i < rt->nstudies && !interrupted; i++)
		if ((r = do_study(rt, rt->studies[i].uid)) < 0)
			return r;
	return interrupted ? -EINTR : 0;
}

static int add_pattern(struct extract_filter *f, const char *p)
{
	char **v = reallocarray(f->patterns, f->n + 1, sizeof *v);

	if (!v)
		return -ENOMEM;
	f->patterns = v;
	f->patterns[f->n++] = (char *)p;   /* borrowed from argv */
	return 0;
}

/* Seconds, 1 to 3600. */
static int parse_seconds(const char *s, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s || *end || v < 1 || v > 3600)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

static int open_store(struct retrieve *rt)
{
	struct cli *cli = rt->cli;

	/* A dry run writes nothing, not even a new database's schema; with
	 * no database yet, every series is new. */
	if (rt->dry_run && cli->db_path && access(cli->db_path, F_OK) < 0)
		return 0;
	return cli_open_store(cli, !rt->dry_run);
}

int cmd_retrieve(struct cli *cli, int argc, char **argv)
{
	enum { O_PACS = 256, O_FROM, O_TO, O_MODALITY, O_STUDY, O_SERIES,
	       O_MODEL, O_DRY, O_AET, O_MOVE, O_TIMEOUT, O_CONNECT };
	static const struct option opts[] = {
		{"pacs", required_argument, NULL, O_PACS},
		{"from", required_argument, NULL, O_FROM},
		{"to", required_argument, NULL, O_TO},
		{"modality", required_argument, NULL, O_MODALITY},
		{"study-description", required_argument, NULL, O_STUDY},
		{"series-description", required_argument, NULL, O_SERIES},
		{"model", required_argument, NULL, O_MODEL},
		{"dry-run", no_argument, NULL, O_DRY},
		{"aet", required_argument, NULL, O_AET},
		{"move-to", required_argument, NULL, O_MOVE},
		{"timeout", required_argument, NULL, O_TIMEOUT},
		{"connect-timeout", required_argument, NULL, O_CONNECT},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct retrieve rt = {.cli = cli, .scratch = RAW_INIT};
	struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
	const char *pacs = NULL, *from = NULL, *to = NULL, *aet = "HRAUDIT";
	const char *why = "";
	long first = 0, last = 0;
	int timeout_s = 30, connect_s = 10;
	int c, r = 0, status = CLI_EXIT_USAGE;

	rt.filter.modality = "CT";
	optind = 0;   /* 0, not 1: glibc then re-reads the option order (main used "+") */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_PACS: pacs = optarg; break;
		case O_FROM: from = optarg; break;
		case O_TO: to = optarg; break;
		case O_MODALITY: rt.filter.modality = optarg; break;
		case O_STUDY: r = add_pattern(&rt.filter.study_descriptions, optarg); break;
		case O_SERIES: r = add_pattern(&rt.filter.series_descriptions, optarg); break;
		case O_MODEL: r = add_pattern(&rt.filter.models, optarg); break;
		case O_DRY: rt.dry_run = true; break;
		case O_AET: aet = optarg; break;
		case O_MOVE: rt.move_to = optarg; break;
		case O_TIMEOUT:
			if (parse_seconds(optarg, &timeout_s) < 0) {
				cli_bad_usage("retrieve: --timeout '%s': seconds, 1 to 3600", optarg);
				goto out;
			}
			break;
		case O_CONNECT:
			if (parse_seconds(optarg, &connect_s) < 0) {
				cli_bad_usage("retrieve: --connect-timeout '%s': seconds, 1 to 3600",
				              optarg);
				goto out;
			}
			break;
		case 'h':
			cli_usage(stdout);
			status = 0;
			goto out;
		default:
			cli_bad_usage("%s: bad option", "retrieve");
			goto out;
		}
		if (r < 0) {
			fprintf(stderr, "hraudit: out of memory\n");
			status = 1;
			goto out;
		}
	}
	if (optind != argc) {
		cli_bad_usage("retrieve: unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (!pacs || !from || !to) {
		cli_bad_usage("retrieve: %s", "--pacs, --from and --to are required");
		goto out;
	}
	if (retrieve_peer_parse(pacs, &rt.pacs, &why) < 0) {
		char msg[400];

		snprintf(msg, sizeof msg, "retrieve: --pacs '%s': %s", pacs, why);
		cli_bad_usage("%s", msg);
		goto out;
	}
	if (retrieve_date_parse(from, &first) < 0) {
		cli_bad_usage("retrieve: --from '%s': expected a date, YYYYMMDD", from);
		goto out;
	}
	if (retrieve_date_parse(to, &last) < 0) {
		cli_bad_usage("retrieve: --to '%s': expected a date, YYYYMMDD", to);
		goto out;
	}
	if (last < first) {
		cli_bad_usage("retrieve: --to '%s' is before --from", to);
		goto out;
	}
	if (!retrieve_aet_valid(aet)) {
		cli_bad_usage("retrieve: --aet '%s': not an ae title (1-16 characters)", aet);
		goto out;
	}
	if (rt.move_to && !retrieve_aet_valid(rt.move_to)) {
		cli_bad_usage("retrieve: --move-to '%s': not an ae title (1-16 characters)",
		              rt.move_to);
		goto out;
	}
	status = 1;
	snprintf(rt.pacs_text, sizeof rt.pacs_text, "%s", pacs);
	/* The configuration now (the PDU limits below); the database only once
	 * the PACS has answered, so that a run that cannot even associate
	 * leaves no database behind. */
	if (cli_load_config(cli) < 0)
		goto out;
	rt.scu_cfg = (struct dcm_scu_config){
		.host = rt.pacs.host, .port = rt.pacs.port,
		.called_aet = rt.pacs.aet, .calling_aet = aet,
		.connect_timeout_s = connect_s, .dimse_timeout_s = timeout_s,
		.max_pdu_bytes = cli->cfg.server.max_pdu_bytes,
		.max_header_bytes = cli->cfg.server.max_header_bytes,
		.get = !rt.dry_run && !rt.move_to,
		.move = !rt.dry_run && rt.move_to,
	};
	cli_progress_init(&rt.progress);
	rt.days = last - first + 1;

	/* DCMTK leaves Nagle's algorithm on unless asked: with C-GET we are
	 * the receiver, whose small responses would wait for delayed ACKs
	 * (../shared/DCMTK.md measures 20x). */
	setenv("TCP_NODELAY", "1", 1);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	/* Before the first day, so that an unreachable PACS is one line. */
	r = scu_ensure(&rt);
	if (r == 0 && open_store(&rt) < 0) {
		scu_drop(&rt);
		r = -EIO;
	}
	rt.ingest = (struct ingest){&cli->cfg, cli->store, NULL};
	for (long d = first; r == 0 && d <= last && !interrupted; d++) {
		r = do_day(&rt, d);
		rt.days_done++;
	}
	if (r == 0 && interrupted)
		r = -EINTR;
	cli_progress_clear(&rt.progress);
	if (r == -ENOMEM)
		fprintf(stderr, "hraudit: out of memory\n");
	else if (r == -EINTR)
		fprintf(stderr, "hraudit: interrupted\n");
	if (r < 0 && rt.days_done > 0)
		fprintf(stderr, "hraudit: retrieve stopped on %s, day %ld of %ld\n",
		        rt.day, rt.days_done, rt.days);
	if (rt.scu || rt.days_done > 0) {
		printf("%ld days: %lu studies found, %lu series matched, ",
		       rt.days, rt.studies_found, rt.matched);
		if (rt.dry_run)
			printf("%lu to retrieve (dry run), %lu skipped, %lu failed; "
			       "dose reports: %lu to fetch, %lu skipped, %lu failed\n",
			       rt.would, rt.skipped, rt.failed, rt.dose_would,
			       rt.dose_skipped, rt.dose_failed);
		else
			printf("%lu retrieved (%lu recorded, %lu not cardiac), "
			       "%lu skipped, %lu failed; dose reports: %lu fetched, "
			       "%lu skipped, %lu failed\n", rt.retrieved, rt.recorded,
			       rt.not_cardiac, rt.skipped, rt.failed, rt.dose_fetched,
			       rt.dose_skipped, rt.dose_failed);
	}
	status = r < 0 || rt.failed || rt.dose_failed ? 1 : 0;
	if (fflush(stdout) != 0 && status == 0) {
		fprintf(stderr, "hraudit: cannot write output: %s\n", strerror(errno));
		status = 1;
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
out:
	dcm_scu_close(rt.scu);
	free(rt.filter.study_descriptions.patterns);
	free(rt.filter.series_descriptions.patterns);
	free(rt.filter.models.patterns);
	free(rt.studies);
	free(rt.series);
	free(rt.sr_series);
	free(rt.doses);
	free(rt.got_err);
	raw_release(&rt.scratch);
	return status;
}
