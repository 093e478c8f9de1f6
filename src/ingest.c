/*
 * ingest.c - header to database row (include/ingest.h), and the group
 * commit of the daemon's associations.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "classify.h"
#include "ingest.h"

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

int ingest_header(const struct ingest *in, const struct dcm_header *h,
                  struct raw *scratch, const char *source,
                  struct instance_info *info, enum store_outcome *outcome,
                  char **errmsg)
{
	char received[STORE_TIME_MAX], *json;
	struct waiter w = {0};
	int r;

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
	if (in->queue)
		commit_queued(in->store, in->queue, &w);
	else
		store_record_batch(in->store, &w.item, 1);
	free(json);
	if (w.item.r < 0) {
		if (errmsg)
			*errmsg = w.item.errmsg;
		else
			free(w.item.errmsg);
		return w.item.r;
	}
	*outcome = w.item.outcome;
	return 0;
}
