/*
 * ingest.c - header to database row (include/ingest.h), and the group
 * commit of the daemon's associations.  A CT Radiation Dose SR takes its
 * own way (rdsr.c -> store_record_dose) through the same group commit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "classify.h"
#include "errmsg.h"
#include "ingest.h"
#include "rdsr.h"

/* Most instances one transaction takes: bounds the time a commit holds
 * the write lock for the CLI and sqlite3 readers' checkpoints. */
#define QUEUE_BATCH_MAX 64

struct waiter {
	struct store_item item;
	bool done;
	struct waiter *next;
};

struct ingest_queue {
	pthread_mutex_t lock;
	pthread_cond_t done;          /* a batch was committed              */
	struct waiter *head, **tail;  /* waiting for the next transaction   */
	bool committing;              /* a thread is in store_record_batch  */
};

struct ingest_queue *ingest_queue_new(void)
{
	struct ingest_queue *q = calloc(1, sizeof *q);

	if (!q)
		return NULL;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->done, NULL);
	q->tail = &q->head;
	return q;
}

void ingest_queue_free(struct ingest_queue *q)
{
	if (!q)
		return;
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->done);
	free(q);
}

/*
 * Leader and followers: the thread that finds no commit in progress takes
 * every waiter (up to QUEUE_BATCH_MAX), commits them in one transaction
 * outside the lock, and wakes them; the others wait for their turn.
 */
static void commit_queued(struct store *store, struct ingest_queue *q,
                          struct waiter *me)
{
	pthread_mutex_lock(&q->lock);
	me->next = NULL;
	*q->tail = me;
	q->tail = &me->next;
	while (!me->done) {
		struct store_item items[QUEUE_BATCH_MAX];
		struct waiter *batch[QUEUE_BATCH_MAX];
		size_t n = 0;

		if (q->committing) {
			pthread_cond_wait(&q->done, &q->lock);
			continue;
		}
		while (q->head && n < QUEUE_BATCH_MAX) {
			batch[n] = q->head;
			items[n] = q->head->item;
			q->head = q->head->next;
			n++;
		}
		if (!q->head)
			q->tail = &q->head;
		q->committing = true;
		pthread_mutex_unlock(&q->lock);
		store_record_batch(store, items, n);
		pthread_mutex_lock(&q->lock);
		for (size_t i = 0; i < n; i++) {
			batch[i]->item = items[i];
			batch[i]->done = true;
		}
		q->committing = false;
		pthread_cond_broadcast(&q->done);
	}
	pthread_mutex_unlock(&q->lock);
}

/* The item alone, or through the group commit; its result. */
static int commit_item(const struct ingest *in, struct waiter *w,
                       enum store_outcome *outcome, char **errmsg)
{
	if (in->queue)
		commit_queued(in->store, in->queue, w);
	else
		store_record_batch(in->store, &w->item, 1);
	if (w->item.r < 0) {
		if (errmsg)
			*errmsg = w->item.errmsg;
		else
			free(w->item.errmsg);
		return w->item.r;
	}
	*outcome = w->item.outcome;
	return 0;
}

/* Target Region codes (SRT, SCT) and meanings of the heart and chest. */
static const char *const cardiac_regions[] = {
	"T-32000", "80891009",          /* Heart             */
	"T-D3000", "51185008",          /* Chest             */
	"T-43000", "41801008",          /* Coronary artery   */
	"T-D3050", "43799004",          /* Thorax (SNOMED)   */
	NULL
};
static const char *const cardiac_words[] = {
	"heart", "chest", "thora", "coronar", "cardi", NULL
};

/*
 * A dose report is the audit's when one of its events targets the heart or
 * the chest, or was ECG modulated.  Other reports are recorded only when
 * their study has a recorded series (store_record_dose).
 */
static bool dose_is_cardiac(const struct rdsr_report *d)
{
	for (size_t i = 0; i < d->nevents; i++) {
		const struct rdsr_event *e = &d->events[i];

		for (size_t k = 0; cardiac_regions[k]; k++)
			if (strcmp(e->target_region_code, cardiac_regions[k]) == 0)
				return true;
		for (size_t k = 0; cardiac_words[k]; k++)
			if (strcasestr(e->target_region, cardiac_words[k]))
				return true;
		if (strcasestr(e->exposure_modulation, "ECG"))
			return true;
	}
	return false;
}

/* A CT Radiation Dose SR: parsed, then recorded as one item. */
static int ingest_dose(const struct ingest *in, const struct dcm_header *h,
                       const char *source, struct instance_info *info,
                       enum store_outcome *outcome, char **errmsg)
{
	struct rdsr_report d = {0};
	char received[STORE_TIME_MAX], *err = NULL;
	struct waiter w = {0};
	int r;

	r = rdsr_parse(h, &d, &err);
	if (r < 0) {
		if (r == -EINVAL)
			errmsg_set(errmsg, "not a readable ct dose report: %s",
			           err ? err : "no reason");
		free(err);
		goto out;
	}
	memset(info, 0, sizeof *info);
	snprintf(info->sop_instance_uid, sizeof info->sop_instance_uid, "%s",
	         d.sop_instance_uid);
	snprintf(info->sop_class_uid, sizeof info->sop_class_uid, "%s", RDSR_SOP_CLASS);
	snprintf(info->series_uid, sizeof info->series_uid, "%s", d.series_uid);
	snprintf(info->study_uid, sizeof info->study_uid, "%s", d.study_uid);
	snprintf(info->accession_number, sizeof info->accession_number, "%s",
	         d.accession_number);
	store_now_utc(received);
	w.item.dose = &d;
	w.item.cardiac = dose_is_cardiac(&d);
	w.item.received_utc = received;
	w.item.calling_aet = source;
	r = commit_item(in, &w, outcome, errmsg);
out:
	rdsr_report_release(&d);
	return r;
}

int ingest_header(const struct ingest *in, const struct dcm_header *h,
                  struct raw *scratch, const char *source,
                  struct instance_info *info, enum store_outcome *outcome,
                  char **errmsg)
{
	char received[STORE_TIME_MAX], *json;
	struct waiter w = {0};
	int r;

	if (rdsr_is_ct_dose_report(h))
		return ingest_dose(in, h, source, info, outcome, errmsg);
	r = extract_instance(h, scratch, info);
	if (r < 0)
		return r;
	w.item.cardiac = extract_is_cardiac(info, &in->cfg->filter);
	classify_scan_type(&in->cfg->scan_type_rules, info);
	json = raw_to_json(scratch);
	if (!json)
		return -ENOMEM;
	store_now_utc(received);
	w.item.info = info;
	w.item.raw_json = json;
	w.item.received_utc = received;
	w.item.calling_aet = source;
	r = commit_item(in, &w, outcome, errmsg);
	free(json);
	return r;
}
