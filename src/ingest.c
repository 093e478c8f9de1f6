/*
 * ingest.c - header to database row (include/ingest.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "classify.h"
#include "ingest.h"

int ingest_header(const struct ingest *in, const struct dcm_header *h,
                  struct raw *scratch, const char *source,
                  struct instance_info *info, enum store_outcome *outcome,
                  char **errmsg)
{
	char received[STORE_TIME_MAX], *json;
	bool cardiac;
	int r;

	r = extract_instance(h, scratch, info);
	if (r < 0)
		return r;
	cardiac = extract_is_cardiac(info, &in->cfg->filter);
	classify_scan_type(&in->cfg->scan_type_rules, info);
	json = raw_to_json(scratch);
	if (!json)
		return -ENOMEM;
	store_now_utc(received);
	if (in->store_lock)
		pthread_mutex_lock(in->store_lock);
	r = store_record(in->store, info, json, cardiac, received, source, outcome,
	                 errmsg);
	if (in->store_lock)
		pthread_mutex_unlock(in->store_lock);
	free(json);
	return r;
}
