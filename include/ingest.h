/*
 * ingest.h - one object's header into the database: the path every
 * arrival takes, whether from the network (server.c), from files
 * (`hraudit import`) or retrieved from a PACS.
 *
 *   header -> raw material -> instance_info -> scan type -> store_record()
 */
#ifndef HRAUDIT_INGEST_H
#define HRAUDIT_INGEST_H

#include <pthread.h>

#include "config.h"
#include "dcm.h"
#include "extract.h"
#include "raw.h"
#include "store.h"

/*
 * Group commit for writers on several threads (the daemon's
 * associations): an instance waiting for the database joins the next
 * transaction, and whoever finds no commit in progress commits all that
 * wait, with one fsync.  Each waits until its own instance is committed.
 */
struct ingest_queue;

/* Returns NULL when out of memory. */
struct ingest_queue *ingest_queue_new(void);
/* Accepts NULL; nobody may be waiting. */
void ingest_queue_free(struct ingest_queue *q);

struct ingest {
	const struct config *cfg;     /* filter and scan-type rules          */
	struct store *store;
	struct ingest_queue *queue;   /* shared by the threads; NULL: one
	                               * thread writes alone                */
};

/*
 * Records the object whose header is h, as sent by `source` (the calling
 * AE title, or a label such as "import").  scratch is reused between calls
 * (raw.h; release it at the end).  *info receives what was extracted.
 * A CT Radiation Dose SR (rdsr_is_ct_dose_report) is parsed by rdsr.c and
 * recorded by store_record_dose(): *outcome STORE_DOSE_REPORT (or
 * STORE_DUPLICATE, STORE_IGNORED), *info holds only its UIDs.
 * Returns 0 with *outcome set; -EINVAL when the object cannot be understood
 * (no study, series or instance UID; or a dose report whose tree cannot be
 * read, with *errmsg saying why); -ENOMEM; or store_record's errors
 * (-EBUSY, -ENOSPC, -EIO) with *errmsg.  Nothing is written on error.
 */
int ingest_header(const struct ingest *in, const struct dcm_header *h,
                  struct raw *scratch, const char *source,
                  struct instance_info *info, enum store_outcome *outcome,
                  char **errmsg);

#endif
