/*
 * server.h - the Storage SCP: listening socket, one thread per association,
 * and the C-STORE path  header -> extract -> store -> response.
 *
 * Connections wait in the listener's poll set until their whole
 * A-ASSOCIATE-RQ has arrived, so a silent or slow client never holds up
 * another; only then is an association thread started.
 */
#ifndef HRAUDIT_SERVER_H
#define HRAUDIT_SERVER_H

#include <stdbool.h>

#include "config.h"
#include "store.h"

struct server;

/* Opens the listening socket and the toolkit's network layer.  The store is
 * borrowed and must outlive the server.  Returns 0 or a negative errno with
 * *errmsg. */
int server_start(const struct config *cfg, struct store *store,
                 struct server **out, char **errmsg);

/*
 * Runs the accept loop until *stop becomes true (checked at least every
 * 200 ms), then stops accepting, waits up to grace_s for associations in
 * progress and aborts the rest.  Returns 0 or a negative errno.
 */
int server_run(struct server *srv, const volatile bool *stop, int grace_s);

/* Counters for STATUS= and the log. */
struct server_counters {
	unsigned long associations, active, stored, series_new, failed, ignored;
};
void server_counters(struct server *srv, struct server_counters *out);

void server_free(struct server *srv);

#endif
