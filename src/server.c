/*
 * server.c - the Storage SCP (include/server.h).
 *
 * Listener: one poll loop owns the listening socket and every connection
 * whose A-ASSOCIATE-RQ has not fully arrived.  SO_RCVLOWAT makes poll report
 * a connection only once the PDU header (6 bytes), then the whole PDU, is
 * there, so waiting costs nothing and a silent client holds up no one.
 * Then one thread per association: dcm_assoc_accept(), dcm_assoc_serve(),
 * and for each C-STORE  extract -> store -> status  (on_store below).
 *
 * Two listeners at most: plain DICOM ([server] port) and DICOM TLS ([tls]
 * port).  A TLS connection waits the same way for its ClientHello record;
 * the handshake and the association request are then read on its thread,
 * bounded by the socket timeout.
 *
 * Configuration: the settings in force, with the toolkit networks made
 * from them, form a generation.  Each association holds a reference to
 * the generation it started under; a reload (SIGHUP) makes a new one for
 * the associations that follow, and the old one goes with its last user.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dcm.h"
#include "ingest.h"
#include "log.h"
#include "server.h"

/* Connections waiting for their A-ASSOCIATE-RQ; more are closed at once. */
#define MAX_PENDING 1024
/* An A-ASSOCIATE-RQ larger than this is handed over once this much is in;
 * the toolkit reads the rest (its own limit is 1 MiB). */
#define ASSOC_RQ_WAIT_BYTES 65536
#define PDU_A_ASSOCIATE_RQ 0x01
/* RFC 8446 5.1: a TLS record header is 5 bytes; 22 is a handshake record,
 * and a ClientHello fits in one record of at most 2^14 bytes plus slack. */
#define TLS_RECORD_HANDSHAKE 0x16
#define TLS_RECORD_MAX (16384 + 2048)

enum listener { PLAIN, TLS, N_LISTENERS };

struct pending {
	int fd;
	enum listener kind;
	int need;                /* bytes that must be readable: the PDU or
	                          * record header, then all of it           */
	struct timespec deadline;
	char peer[64];
};

/* The settings in force and the toolkit networks made from them. */
struct generation {
	struct config cfg;
	struct dcm_net *net[N_LISTENERS];  /* NULL where there is no listener */
	unsigned refs;                     /* under server.lock               */
};

struct server {
	struct store *store;
	struct ingest_queue *queue;   /* group commit of the associations      */
	int listen_fd[N_LISTENERS];   /* -1 where there is none                */

	struct pending pending[MAX_PENDING];
	size_t npending;
	bool accept_paused;           /* out of descriptors: listeners rest    */
	struct timespec accept_resume;

	pthread_mutex_t lock;         /* gen, refs, threads, the cond below    */
	struct generation *gen;       /* for new associations                  */
	pthread_cond_t idle;          /* signalled when a thread ends          */
	unsigned threads;             /* association threads alive             */
	volatile bool abort_all;      /* set when the shutdown grace is over   */

	atomic_ulong associations, active, rejected, stored, series_new,
	             failed, ignored;
};

struct assoc_job {
	struct server *srv;
	struct generation *gen;       /* a reference, dropped at the end       */
	struct ingest ingest;         /* header -> row, with gen's settings    */
	int fd;
	enum listener kind;
	bool busy;
	char peer[64];
	struct dcm_assoc *assoc;
	struct dcm_assoc_info info;
	struct raw raw;               /* reused for every instance             */
	unsigned recorded, ignored;   /* instances of this association         */
};

static void gen_free(struct generation *g)
{
	if (!g)
		return;
	for (int i = 0; i < N_LISTENERS; i++)
		dcm_net_free(g->net[i]);
	config_release(&g->cfg);
	free(g);
}

/* Drops one reference; the last one frees it.  Takes srv->lock. */
static void gen_put(struct server *srv, struct generation *g)
{
	bool last;

	pthread_mutex_lock(&srv->lock);
	last = --g->refs == 0;
	pthread_mutex_unlock(&srv->lock);
	if (last)
		gen_free(g);
}

/* The toolkit networks for cfg's listeners (TLS files are loaded here).
 * Returns 0, or a negative errno with *errmsg and nothing made. */
static int make_nets(const struct config *cfg, struct dcm_net *net[N_LISTENERS],
                     char **errmsg)
{
	struct dcm_tls_config tls = {
		.certificate = cfg->tls.certificate,
		.private_key = cfg->tls.private_key,
		.ca_file = cfg->tls.ca_file,
		.verify = (enum dcm_tls_verify)cfg->tls.client_certificate,
		.profile = (enum dcm_tls_profile)cfg->tls.profile,
	};
	struct dcm_net_config nc = {
		.max_pdu_bytes = cfg->server.max_pdu_bytes,
		.acse_timeout_s = (int)cfg->server.acse_timeout_s,
		.dimse_timeout_s = (int)cfg->server.dimse_timeout_s,
		.socket_timeout_s = (int)cfg->server.socket_timeout_s,
		.max_header_bytes = cfg->server.max_header_bytes,
	};
	int r = 0;

	net[PLAIN] = net[TLS] = NULL;
	if (cfg->server.port)
		r = dcm_net_init(&nc, &net[PLAIN], errmsg);
	nc.tls = &tls;
	if (r == 0 && cfg->tls.port)
		r = dcm_net_init(&nc, &net[TLS], errmsg);
	if (r < 0) {
		dcm_net_free(net[PLAIN]);
		net[PLAIN] = NULL;
	}
	return r;
}

int server_check(const struct config *cfg, char **errmsg)
{
	struct dcm_net *net[N_LISTENERS];
	int r = make_nets(cfg, net, errmsg);

	for (int i = 0; r == 0 && i < N_LISTENERS; i++)
		dcm_net_free(net[i]);
	return r;
}

/*
 * A generation for cfg, whose contents it takes over (cfg is left
 * empty) once the networks are made.  Returns NULL with *errmsg (and cfg
 * untouched) on failure.
 */
static struct generation *gen_new(struct config *cfg, char **errmsg)
{
	struct generation *g = calloc(1, sizeof *g);

	if (!g)
		return NULL;
	if (make_nets(cfg, g->net, errmsg) < 0) {
		free(g);
		return NULL;
	}
	g->cfg = *cfg;                 /* moved: the lists now belong to g */
	memset(cfg, 0, sizeof *cfg);
	g->refs = 1;
	return g;
}

/* Who may associate: the allow list, our AE title, the limit. */
static enum dcm_refusal admit(void *ctx, const struct dcm_assoc_info *info,
                              const char **why)
{
	struct assoc_job *job = ctx;
	const struct config *cfg = &job->gen->cfg;

	if (!access_allowed(&cfg->access, info->calling_aet, job->peer, why))
		return DCM_REFUSE_CALLING_AET;
	if (cfg->server.check_called_aetitle &&
	    !access_aetitle_equal(info->called_aet, cfg->server.aetitle)) {
		*why = "called ae title is not ours";
		return DCM_REFUSE_CALLED_AET;
	}
	if (job->busy) {
		*why = "too many associations";
		return DCM_REFUSE_BUSY;
	}
	return DCM_ADMIT;
}

/* Journal fields naming the association (log.h): "NAME=value" strings. */
struct assoc_fields {
	char calling[40], called[40], peer[80], series[96], status[32];
	const char *list[6];
};

static const char *const *assoc_fields(struct assoc_fields *f,
                                       const struct assoc_job *job,
                                       const char *series_uid, uint16_t status)
{
	size_t n = 0;

	snprintf(f->calling, sizeof f->calling, "CALLING_AET=%s", job->info.calling_aet);
	snprintf(f->called, sizeof f->called, "CALLED_AET=%s", job->info.called_aet);
	snprintf(f->peer, sizeof f->peer, "PEER=%s", job->peer);
	f->list[n++] = f->calling;
	f->list[n++] = f->called;
	f->list[n++] = f->peer;
	if (series_uid) {
		snprintf(f->series, sizeof f->series, "SERIES_UID=%s", series_uid);
		f->list[n++] = f->series;
	}
	if (status) {
		snprintf(f->status, sizeof f->status, "DICOM_STATUS=0x%04X", status);
		f->list[n++] = f->status;
	}
	f->list[n] = NULL;
	return f->list;
}

/* The C-STORE decision: runs on the association's thread. */
static uint16_t on_store(void *ctx, const struct dcm_store_request *req)
{
	struct assoc_job *job = ctx;
	struct server *srv = job->srv;
	struct assoc_fields f;
	struct instance_info info;
	enum store_outcome outcome;
	char *err = NULL;
	int r;

	if (!req->header)
		r = -EINVAL;
	else
		r = ingest_header(&job->ingest, req->header, &job->raw,
		                  job->info.calling_aet, &info, &outcome, &err);
	if (r == -EINVAL) {
		log_fields(LOG_WARNING, assoc_fields(&f, job, NULL,
		                                     DCM_STATUS_CANNOT_UNDERSTAND),
		           "cannot understand instance '%s' from '%s' (%s): %s",
		           req->sop_instance_uid, job->info.calling_aet, job->peer,
		           err ? err : req->header ? "no study, series or instance uid"
		                                   : "not a dicom data set");
		free(err);
		atomic_fetch_add(&srv->failed, 1);
		return DCM_STATUS_CANNOT_UNDERSTAND;
	}
	if (r < 0) {
		log_fields(LOG_ERR, assoc_fields(&f, job, NULL,
		                                 DCM_STATUS_OUT_OF_RESOURCES),
		           "cannot record instance '%s': %s; answered out of "
		           "resources so that '%s' retries", req->sop_instance_uid,
		           err ? err : strerror(-r), job->info.calling_aet);
		free(err);
		atomic_fetch_add(&srv->failed, 1);
		return DCM_STATUS_OUT_OF_RESOURCES;
	}
	if (req->header_truncated)
		log_debug("instance '%s': header longer than max_header_bytes, "
		          "read what fits", info.sop_instance_uid);
	switch (outcome) {
	case STORE_NEW_SERIES:
		atomic_fetch_add(&srv->series_new, 1);
		log_fields(LOG_INFO, assoc_fields(&f, job, info.series_uid, 0),
		           "new series '%s' (%s) from '%s'", info.series_uid,
		           info.series_description, job->info.calling_aet);
		/* fall through */
	case STORE_ADDED:
	case STORE_DUPLICATE:
		atomic_fetch_add(&srv->stored, 1);
		job->recorded++;
		break;
	case STORE_IGNORED:
		atomic_fetch_add(&srv->ignored, 1);
		job->ignored++;
		break;
	case STORE_DOSE_REPORT:
		log_fields(LOG_INFO, assoc_fields(&f, job, NULL, 0),
		           "dose report '%s' of study '%s' from '%s'",
		           info.sop_instance_uid, info.study_uid,
		           job->info.calling_aet);
		atomic_fetch_add(&srv->stored, 1);
		job->recorded++;
		break;
	}
	return DCM_STATUS_SUCCESS;
}

static void *assoc_thread(void *arg)
{
	struct assoc_job *job = arg;
	struct server *srv = job->srv;
	struct dcm_assoc_stats st = {0};
	struct assoc_fields f;
	char *err = NULL;
	int r;

	r = dcm_assoc_accept(job->gen->net[job->kind], job->fd, admit, job,
	                     &job->info, &job->assoc, &err);
	if (r == -ECONNREFUSED) {
		atomic_fetch_add(&srv->rejected, 1);
		log_fields(LOG_WARNING, assoc_fields(&f, job, NULL, 0),
		           "association from '%s' (%s) to '%s' rejected: %s",
		           job->info.calling_aet, job->peer, job->info.called_aet,
		           err ? err : "refused");
		goto out;
	}
	if (r < 0) {
		log_warn("connection from %s%s: %s", job->peer,
		         job->kind == TLS ? " (tls)" : "", err ? err : "failed");
		goto out;
	}
	log_debug("association from '%s' to '%s' (%s%s) accepted",
	          job->info.calling_aet, job->info.called_aet, job->peer,
	          job->kind == TLS ? ", tls" : "");
	r = dcm_assoc_serve(job->assoc, on_store, job, &srv->abort_all, &st, &err);
	log_fields(r < 0 ? LOG_WARNING : LOG_INFO, assoc_fields(&f, job, NULL, 0),
	           "association from '%s' (%s%s) %s: %u acknowledged (%u recorded, "
	           "%u not cardiac), %u failed, %u echoes, %llu bytes%s%s",
	           job->info.calling_aet, job->peer,
	           job->kind == TLS ? ", tls" : "", r < 0 ? "ended" : "released",
	           st.stores - st.failures, job->recorded, job->ignored, st.failures,
	           st.echoes,
	           (unsigned long long)st.bytes, r < 0 ? ": " : "",
	           r < 0 && err ? err : "");
	dcm_assoc_free(job->assoc);
out:
	if (!job->busy)
		atomic_fetch_sub(&srv->active, 1);
	raw_release(&job->raw);
	free(err);
	gen_put(srv, job->gen);
	pthread_mutex_lock(&srv->lock);
	srv->threads--;
	pthread_cond_broadcast(&srv->idle);
	pthread_mutex_unlock(&srv->lock);
	free(job);
	return NULL;
}

/* Bounds every read and write of the toolkit on fd, the TLS handshake
 * included: a peer that stops sending or reading is dropped. */
static void set_socket_timeouts(int fd, unsigned seconds)
{
	struct timeval tv = {.tv_sec = seconds};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Hands a connection whose association request has arrived to a thread. */
static void start_association(struct server *srv, struct pending *p)
{
	struct assoc_job *job;
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t tid;
	int one = 1, r;

	setsockopt(p->fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one);
	job = calloc(1, sizeof *job);
	if (!job) {
		log_err("out of memory: connection from %s closed", p->peer);
		close(p->fd);
		return;
	}
	job->srv = srv;
	job->fd = p->fd;
	job->kind = p->kind;
	memcpy(job->peer, p->peer, sizeof job->peer);
	pthread_mutex_lock(&srv->lock);
	job->gen = srv->gen;
	job->gen->refs++;
	pthread_mutex_unlock(&srv->lock);
	job->ingest = (struct ingest){&job->gen->cfg, srv->store, srv->queue};
	set_socket_timeouts(p->fd, job->gen->cfg.server.socket_timeout_s);
	/* Over the limit the thread still runs, to send A-ASSOCIATE-RJ
	 * (transient, local limit exceeded) so the sender retries later. */
	if (atomic_load(&srv->active) >= job->gen->cfg.server.max_associations)
		job->busy = true;
	else
		atomic_fetch_add(&srv->active, 1);
	atomic_fetch_add(&srv->associations, 1);

	/* Signals are for the main thread: association threads block them. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_mutex_lock(&srv->lock);
	r = pthread_create(&tid, &attr, assoc_thread, job);
	if (r == 0)
		srv->threads++;
	pthread_mutex_unlock(&srv->lock);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		log_err("cannot start association thread: %s", strerror(r));
		if (!job->busy)
			atomic_fetch_sub(&srv->active, 1);
		gen_put(srv, job->gen);
		close(p->fd);
		free(job);
	}
}

static void drop_pending(struct server *srv, size_t i, const char *why)
{
	struct pending *p = &srv->pending[i];

	if (why)
		log_warn("connection from %s closed: %s", p->peer, why);
	close(p->fd);
	srv->pending[i] = srv->pending[--srv->npending];
}

static bool expired(const struct timespec *deadline, const struct timespec *now)
{
	return now->tv_sec > deadline->tv_sec ||
	       (now->tv_sec == deadline->tv_sec && now->tv_nsec >= deadline->tv_nsec);
}

/* Why the first byte of a connection is wrong for its listener, or NULL. */
static const char *wrong_first_byte(enum listener kind, unsigned char b)
{
	if (kind == TLS) {
		if (b == TLS_RECORD_HANDSHAKE)
			return NULL;
		return b == PDU_A_ASSOCIATE_RQ
		       ? "not a tls handshake (plain dicom on the tls port?)"
		       : "not a tls handshake";
	}
	if (b == PDU_A_ASSOCIATE_RQ)
		return NULL;
	return b == TLS_RECORD_HANDSHAKE
	       ? "a tls handshake on the plain dicom port (use the tls port)"
	       : "not a dicom association request";
}

/*
 * How many bytes the first PDU (plain) or record (TLS) of a connection
 * takes, from its header: 6 bytes for a PDU (PS3.8 9.3.1), 5 for a
 * record (RFC 8446 5.1).  0 with *why when the length is absurd.
 */
static uint32_t first_message_bytes(enum listener kind, const unsigned char *hdr,
                                    const char **why)
{
	uint32_t len;

	if (kind == TLS) {
		len = (uint32_t)hdr[3] << 8 | hdr[4];
		if (len == 0 || len > TLS_RECORD_MAX) {
			*why = "absurd tls record length";
			return 0;
		}
		return len + 5;
	}
	len = (uint32_t)hdr[2] << 24 | (uint32_t)hdr[3] << 16 |
	      (uint32_t)hdr[4] << 8 | hdr[5];
	if (len < 68 || len > (1u << 20)) {
		/* PS3.8 9.3.2: the fixed part alone is 68 bytes */
		*why = "absurd a-associate-rq length";
		return 0;
	}
	return len + 6;
}

/*
 * A pending connection is readable: at least p->need bytes are there, or
 * the peer has closed its side (revents has POLLRDHUP, POLLHUP or
 * POLLERR), when fewer may be.  Returns true when it was handed over or
 * dropped (slot i is then reused).
 */
static bool advance_pending(struct server *srv, size_t i, short revents)
{
	struct pending *p = &srv->pending[i];
	unsigned char hdr[6];
	const char *why = NULL;
	ssize_t n;
	uint32_t len;
	int need, avail = 0, header = p->kind == TLS ? 5 : 6;
	bool hup;

	n = recv(p->fd, hdr, sizeof hdr, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0) {
		drop_pending(srv, i, NULL);   /* closed before asking anything */
		return true;
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return false;
		drop_pending(srv, i, strerror(errno));
		return true;
	}
	why = wrong_first_byte(p->kind, hdr[0]);
	if (why) {
		drop_pending(srv, i, why);
		return true;
	}
	/* Closed before the rest can come: poll would report it again at
	 * once, for ever (SO_RCVLOWAT does not hold back end of file). */
	hup = revents & (POLLRDHUP | POLLHUP | POLLERR);
	if (n < header) {
		if (hup)
			drop_pending(srv, i, "closed in the middle of its first pdu");
		return hup;
	}
	len = first_message_bytes(p->kind, hdr, &why);
	if (len == 0) {
		drop_pending(srv, i, why);
		return true;
	}
	need = len > ASSOC_RQ_WAIT_BYTES ? ASSOC_RQ_WAIT_BYTES : (int)len;
	if (ioctl(p->fd, FIONREAD, &avail) == 0 && avail < need) {
		if (hup) {
			drop_pending(srv, i, "closed in the middle of its first pdu");
			return true;
		}
		p->need = need;
		setsockopt(p->fd, SOL_SOCKET, SO_RCVLOWAT, &need, sizeof need);
		return false;
	}
	start_association(srv, p);
	srv->pending[i] = srv->pending[--srv->npending];
	return true;
}

static void accept_connections(struct server *srv, enum listener kind)
{
	for (;;) {
		struct sockaddr_in sa;
		socklen_t salen = sizeof sa;
		struct pending *p;
		unsigned acse_s;
		int fd, one = 1, lowat = kind == TLS ? 5 : 6;

		fd = accept4(srv->listen_fd[kind], (struct sockaddr *)&sa, &salen,
		             SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* The connection stays queued and the listener
				 * readable: rest instead of spinning on it. */
				if (!srv->accept_paused)
					log_warn("accept: %s; pausing for 100 ms",
					         strerror(errno));
				srv->accept_paused = true;
				clock_gettime(CLOCK_MONOTONIC, &srv->accept_resume);
				srv->accept_resume.tv_nsec += 100000000;
				if (srv->accept_resume.tv_nsec >= 1000000000) {
					srv->accept_resume.tv_sec++;
					srv->accept_resume.tv_nsec -= 1000000000;
				}
			} else if (errno != EAGAIN && errno != EINTR &&
			           errno != ECONNABORTED) {
				log_warn("accept: %s", strerror(errno));
			}
			return;
		}
		srv->accept_paused = false;
		if (srv->npending >= MAX_PENDING) {
			log_warn("too many connections waiting for an association "
			         "request; one closed");
			close(fd);
			continue;
		}
		/* Small C-STORE responses must not wait for delayed ACKs
		 * (DCMTK.md: 9.2 s against 0.4 s for 200 images). */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat);
		p = &srv->pending[srv->npending++];
		p->fd = fd;
		p->kind = kind;
		p->need = lowat;
		inet_ntop(AF_INET, &sa.sin_addr, p->peer, sizeof p->peer);
		pthread_mutex_lock(&srv->lock);
		acse_s = srv->gen->cfg.server.acse_timeout_s;
		pthread_mutex_unlock(&srv->lock);
		clock_gettime(CLOCK_MONOTONIC, &p->deadline);
		p->deadline.tv_sec += acse_s;
	}
}

/* Opens one listening socket; returns it or -errno with *errmsg. */
static int listen_on(const char *bind_addr, unsigned port, const char *what,
                     char **errmsg)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int fd, one = 1, r;

	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, bind_addr, &sa.sin_addr) != 1) {
		if (errmsg)
			asprintf(errmsg, "bad bind address '%s'", bind_addr);
		return -EINVAL;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    listen(fd, 128) < 0) {
		r = -errno;
		if (errmsg)
			asprintf(errmsg, "cannot listen on %s:%u (%s): %s", bind_addr,
			         port, what, strerror(errno));
		if (fd >= 0)
			close(fd);
		return r;
	}
	return fd;
}

int server_start(struct config *cfg, struct store *store,
                 struct server **out, char **errmsg)
{
	struct server *srv;
	const char *bind_addr = cfg->server.bind[0] ? cfg->server.bind : "0.0.0.0";
	int r;

	*out = NULL;
	srv = calloc(1, sizeof *srv);
	if (!srv)
		return -ENOMEM;
	srv->store = store;
	srv->listen_fd[PLAIN] = srv->listen_fd[TLS] = -1;
	srv->queue = ingest_queue_new();
	if (!srv->queue) {
		free(srv);
		return -ENOMEM;
	}
	pthread_mutex_init(&srv->lock, NULL);
	pthread_cond_init(&srv->idle, NULL);

	if (cfg->server.port) {
		r = listen_on(bind_addr, cfg->server.port, "dicom", errmsg);
		if (r < 0)
			goto fail;
		srv->listen_fd[PLAIN] = r;
	}
	if (cfg->tls.port) {
		r = listen_on(bind_addr, cfg->tls.port, "dicom tls", errmsg);
		if (r < 0)
			goto fail;
		srv->listen_fd[TLS] = r;
	}
	srv->gen = gen_new(cfg, errmsg);
	if (!srv->gen) {
		r = -EINVAL;
		goto fail;
	}
	*out = srv;
	return 0;
fail:
	server_free(srv);
	return r;
}

const struct config *server_config(struct server *srv)
{
	return &srv->gen->cfg;
}

/* Settings read only at start: a new value waits for a restart. */
static void keep_running_values(const struct config *run, struct config *cfg)
{
	static const char fmt[] = "%s changed: takes effect after a restart";

	if (strcmp(run->server.bind, cfg->server.bind) != 0)
		log_warn(fmt, "[server] bind");
	if (run->server.port != cfg->server.port)
		log_warn(fmt, "[server] port");
	if (run->tls.port != cfg->tls.port)
		log_warn(fmt, "[tls] port");
	if (strcmp(run->database.path, cfg->database.path) != 0 ||
	    run->database.busy_timeout_ms != cfg->database.busy_timeout_ms ||
	    run->database.synchronous_full != cfg->database.synchronous_full)
		log_warn(fmt, "[database]");
	memcpy(cfg->server.bind, run->server.bind, sizeof cfg->server.bind);
	cfg->server.port = run->server.port;
	cfg->tls.port = run->tls.port;
	cfg->database = run->database;
}

int server_reload(struct server *srv, struct config *cfg, char **errmsg)
{
	struct generation *g, *old;

	keep_running_values(&srv->gen->cfg, cfg);
	g = gen_new(cfg, errmsg);
	if (!g)
		return -EINVAL;
	pthread_mutex_lock(&srv->lock);
	old = srv->gen;
	srv->gen = g;
	pthread_mutex_unlock(&srv->lock);
	gen_put(srv, old);
	return 0;
}

/* Waits until no association thread is left or the deadline passes. */
static bool wait_threads(struct server *srv, int seconds)
{
	struct timespec dl;
	bool none;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += seconds;
	pthread_mutex_lock(&srv->lock);
	while (srv->threads > 0)
		if (pthread_cond_timedwait(&srv->idle, &srv->lock, &dl) == ETIMEDOUT)
			break;
	none = srv->threads == 0;
	pthread_mutex_unlock(&srv->lock);
	return none;
}

int server_poll(struct server *srv, int timeout_ms)
{
	struct pollfd pfd[N_LISTENERS + MAX_PENDING];
	enum listener kind[N_LISTENERS];
	struct timespec now;
	size_t n = 0, nl;
	bool paused;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &now);
	paused = srv->accept_paused && !expired(&srv->accept_resume, &now);
	for (int k = 0; k < N_LISTENERS && !paused; k++)
		if (srv->listen_fd[k] >= 0) {
			kind[n] = (enum listener)k;
			pfd[n++] = (struct pollfd){.fd = srv->listen_fd[k], .events = POLLIN};
		}
	nl = n;
	for (size_t i = 0; i < srv->npending; i++)
		pfd[n++] = (struct pollfd){.fd = srv->pending[i].fd,
		                           .events = POLLIN | POLLRDHUP};
	/* Pending deadlines are checked at least every 200 ms. */
	r = poll(pfd, n, timeout_ms < 200 ? timeout_ms : 200);
	if (r < 0) {
		if (errno == EINTR)
			return 0;
		log_err("poll: %s", strerror(errno));
		return -errno;
	}
	/* Pending connections first, from the end: slots move down. */
	for (size_t i = n; i-- > nl && r > 0;)
		if (pfd[i].revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR))
			advance_pending(srv, i - nl, pfd[i].revents);
	clock_gettime(CLOCK_MONOTONIC, &now);
	for (size_t i = srv->npending; i-- > 0;)
		if (expired(&srv->pending[i].deadline, &now))
			drop_pending(srv, i, "no association request in time");
	for (size_t i = 0; r > 0 && i < nl; i++)
		if (pfd[i].revents & POLLIN)
			accept_connections(srv, kind[i]);
	return 0;
}

void server_shutdown(struct server *srv)
{
	unsigned grace_s, dimse_s;

	/* Stop accepting; let associations in progress finish. */
	for (int k = 0; k < N_LISTENERS; k++)
		if (srv->listen_fd[k] >= 0) {
			close(srv->listen_fd[k]);
			srv->listen_fd[k] = -1;
		}
	while (srv->npending > 0)
		drop_pending(srv, srv->npending - 1, NULL);
	pthread_mutex_lock(&srv->lock);
	grace_s = srv->gen->cfg.server.shutdown_grace_s;
	dimse_s = srv->gen->cfg.server.dimse_timeout_s;
	pthread_mutex_unlock(&srv->lock);
	if (!wait_threads(srv, (int)grace_s)) {
		log_warn("aborting %lu associations still open after %u s",
		         atomic_load(&srv->active), grace_s);
		srv->abort_all = true;
		wait_threads(srv, 5 + (int)dimse_s);
	}
}

void server_counters(struct server *srv, struct server_counters *out)
{
	out->associations = atomic_load(&srv->associations);
	out->active = atomic_load(&srv->active);
	out->rejected = atomic_load(&srv->rejected);
	out->stored = atomic_load(&srv->stored);
	out->series_new = atomic_load(&srv->series_new);
	out->failed = atomic_load(&srv->failed);
	out->ignored = atomic_load(&srv->ignored);
}

void server_free(struct server *srv)
{
	if (!srv)
		return;
	for (int k = 0; k < N_LISTENERS; k++)
		if (srv->listen_fd[k] >= 0)
			close(srv->listen_fd[k]);
	while (srv->npending > 0)
		drop_pending(srv, srv->npending - 1, NULL);
	/* Threads still alive after server_shutdown's bounded wait keep
	 * their generation and the locks: then nothing is freed. */
	if (srv->threads == 0) {
		if (srv->gen)
			gen_put(srv, srv->gen);
		ingest_queue_free(srv->queue);
		pthread_mutex_destroy(&srv->lock);
		pthread_cond_destroy(&srv->idle);
		free(srv);
	}
}
