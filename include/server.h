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

/*
 * Opens the listening sockets ([server] port, [tls] port) and the
 * toolkit's networks (TLS files are loaded now).  On success the server
 * takes over cfg's contents (cfg is left empty; read them back with
 * server_config()).  The store is borrowed and must outlive the server.
 * Returns 0 or a negative errno with *errmsg; cfg is untouched then.
 */
int server_start(struct config *cfg, struct store *store,
                 struct server **out, char **errmsg)
	__attribute__((warn_unused_result));

/*
 * What server_start() would load besides the sockets: the TLS
 * certificate, key and CA files (hrauditd -n).  Returns 0 or -EINVAL with
 * *errmsg.
 */
int server_check(const struct config *cfg, char **errmsg)
	__attribute__((warn_unused_result));

/* The settings new associations get. */
const struct config *server_config(struct server *srv);

/*
 * Puts cfg in force for the associations that start from now on; those in
 * progress finish under the settings they began with.  The listening
 * addresses and the database stay as they are (a change is logged as
 * needing a restart).  On success takes over cfg's contents as
 * server_start() does; on failure (a TLS file) returns -EINVAL with
 * *errmsg and the running settings stay.
 */
int server_reload(struct server *srv, struct config *cfg, char **errmsg)
	__attribute__((warn_unused_result));

/*
 * One round of the accept loop: waits up to timeout_ms (less when a
 * signal arrives) for connections and association requests, hands the
 * complete ones to threads and drops those past acse_timeout.
 * Returns 0 or a negative errno (poll failed).
 */
int server_poll(struct server *srv, int timeout_ms);

/*
 * Stops accepting, waits up to [server] shutdown_grace seconds for
 * associations in progress, then aborts the rest.
 */
void server_shutdown(struct server *srv);

/* Counters for STATUS= and the log. */
struct server_counters {
	unsigned long associations, active, rejected, stored, series_new,
	              failed, ignored;
};
void server_counters(struct server *srv, struct server_counters *out);

/* Frees the server; the store is not closed.  Accepts NULL. */
void server_free(struct server *srv);

#endif
