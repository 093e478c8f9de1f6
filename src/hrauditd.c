/*
 * hrauditd.c - the daemon's main(): arguments, configuration, log, store,
 * server, in that order; notify ready; run; stop in reverse.
 *
 * The main thread runs the accept loop (server_poll) and, between rounds,
 * what the signal handlers asked for (they only set flags): SIGHUP
 * reloads the configuration, SIGTERM and SIGINT stop.  It also keeps
 * systemd informed (sd_notify: READY, STATUS, WATCHDOG, RELOADING,
 * STOPPING; all no-ops without NOTIFY_SOCKET).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "config.h"
#include "log.h"
#include "server.h"
#include "store.h"

static volatile sig_atomic_t stop_requested, reload_requested;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_requested = 1;
	else
		stop_requested = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: hrauditd [-dn] [-f FILE] [-o SECTION.KEY=VALUE]...\n"
	        "  -f FILE   configuration (default " CONFIG_DEFAULT_PATH ")\n"
	        "  -d        stay in the foreground, log to stderr\n"
	        "  -n        check the configuration and exit\n"
	        "  -o S.K=V  override one configuration key (repeatable)\n"
	        "  -h        this help\n");
}

/* The file, then the overrides, then the checks across keys. */
static int load_config(const char *path, char **overrides, size_t n,
                       struct config *cfg, char **err)
{
	int r = config_load(path, cfg, err);

	for (size_t i = 0; r == 0 && i < n; i++)
		r = config_override(cfg, overrides[i], err);
	if (r == 0)
		r = config_check(cfg, err);
	return r;
}

/*
 * Descriptors the server may hold at once: 1024 connections waiting for
 * their association request (server.c), two per association (ours and the
 * toolkit's), and a margin for the listeners, the database and the log.
 */
static rlim_t fds_needed(const struct config *cfg)
{
	return 1024 + 2 * (rlim_t)cfg->server.max_associations + 64;
}

/*
 * The soft limit on open files is often 1024, below what fds_needed()
 * asks; raise it to the hard limit, as is common practice for servers,
 * and warn when even that is too low (LimitNOFILE= in the unit).
 */
static void raise_fd_limit(const struct config *cfg)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max && rl.rlim_cur < fds_needed(cfg)) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < fds_needed(cfg))
		log_warn("open file limit %llu is below the %llu descriptors "
		         "that max_associations %u and 1024 waiting connections "
		         "may take; raise it (LimitNOFILE=)",
		         (unsigned long long)rl.rlim_cur,
		         (unsigned long long)fds_needed(cfg),
		         cfg->server.max_associations);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* "port 104, tls port 2762", or either alone. */
static const char *ports(const struct config *cfg, char *buf, size_t size)
{
	if (cfg->server.port && cfg->tls.port)
		snprintf(buf, size, "port %u, tls port %u", cfg->server.port,
		         cfg->tls.port);
	else if (cfg->server.port)
		snprintf(buf, size, "port %u", cfg->server.port);
	else
		snprintf(buf, size, "tls port %u", cfg->tls.port);
	return buf;
}

/* STATUS= for systemctl status: the listeners and the counters. */
static void notify_status(struct server *srv, const char *prefix)
{
	struct server_counters n;
	char buf[64];

	server_counters(srv, &n);
	sd_notifyf(0, "%sSTATUS=listening on %s: %lu associations "
	           "(%lu active, %lu rejected), %lu stored, %lu new series, "
	           "%lu failed", prefix, ports(server_config(srv), buf, sizeof buf),
	           n.associations, n.active, n.rejected, n.stored, n.series_new,
	           n.failed);
}

/* SIGHUP: the same file and overrides again; a bad one changes nothing. */
static void reload(struct server *srv, const char *path, char **overrides,
                   size_t n)
{
	struct config cfg;
	char *err = NULL;
	int r;

	sd_notify(0, "RELOADING=1");
	r = load_config(path, overrides, n, &cfg, &err);
	if (r == 0)
		r = server_reload(srv, &cfg, &err);
	if (r < 0) {
		log_err("configuration not reloaded: %s; the running one stays",
		        err ? err : "out of memory");
	} else {
		log_set_level(server_config(srv)->log.level);
		log_info("configuration reloaded from '%s'", path);
	}
	config_release(&cfg);
	free(err);
	notify_status(srv, "READY=1\n");
}

int main(int argc, char **argv)
{
	const char *path = CONFIG_DEFAULT_PATH;
	struct store_options sopt = {0};
	struct store *store = NULL;
	struct server *srv = NULL;
	struct server_counters last = {0}, n;
	struct config cfg;
	struct sigaction sa;
	char *err = NULL;
	char **overrides;
	size_t noverrides = 0;
	bool foreground = false, check_only = false;
	uint64_t watchdog_us = 0;
	double last_status = 0, last_watchdog = 0;
	char buf[64];
	int c, r, status = 1;

	overrides = calloc((size_t)argc, sizeof *overrides);
	if (!overrides)
		return 1;
	while ((c = getopt(argc, argv, "df:hno:")) != -1) {
		switch (c) {
		case 'd': foreground = true; break;
		case 'f': path = optarg; break;
		case 'n': check_only = true; break;
		case 'o': overrides[noverrides++] = optarg; break;
		case 'h': usage(stdout); free(overrides); return 0;
		default: usage(stderr); free(overrides); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		free(overrides);
		return 2;
	}

	r = load_config(path, overrides, noverrides, &cfg, &err);
	if (r < 0) {
		fprintf(stderr, "hrauditd: %s\n", err ? err : "bad configuration");
		goto out;
	}
	if (check_only) {
		r = server_check(&cfg, &err);
		if (r < 0) {
			fprintf(stderr, "hrauditd: %s: %s\n", path, err ? err : "bad tls files");
			goto out;
		}
		printf("configuration OK\n");
		status = 0;
		goto out;
	}

	log_init("hrauditd", foreground, cfg.log.level);
	raise_fd_limit(&cfg);
	/* DCMTK reads this when it sets up a connection (DCMTK.md); the
	 * listener sets TCP_NODELAY on accepted sockets itself too. */
	setenv("TCP_NODELAY", "1", 1);
	umask(027);   /* database 0640, directories 0750 */

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	sopt.busy_timeout_ms = (int)cfg.database.busy_timeout_ms;
	sopt.synchronous_full = cfg.database.synchronous_full;
	r = store_open(cfg.database.path, &sopt, &store, &err);
	if (r < 0) {
		log_err("%s", err ? err : "cannot open database");
		goto out;
	}
	if (cfg.access.n == 0)
		log_warn("no [access] allow list: every calling ae title is "
		         "accepted from every address");
	log_info("listening on %s %s as '%s', database '%s'", cfg.server.bind,
	         ports(&cfg, buf, sizeof buf), cfg.server.aetitle,
	         cfg.database.path);
	r = server_start(&cfg, store, &srv, &err);
	if (r < 0) {
		log_err("%s", err ? err : "cannot start server");
		goto out;
	}
	notify_status(srv, "READY=1\n");
	if (sd_watchdog_enabled(0, &watchdog_us) <= 0)
		watchdog_us = 0;

	while (!stop_requested) {
		double t;

		r = server_poll(srv, 1000);
		if (r < 0)
			break;
		if (reload_requested) {
			reload_requested = 0;
			reload(srv, path, overrides, noverrides);
		}
		t = now_s();
		if (watchdog_us && t - last_watchdog >= watchdog_us / 2e6) {
			sd_notify(0, "WATCHDOG=1");
			last_watchdog = t;
		}
		server_counters(srv, &n);
		if (memcmp(&n, &last, sizeof n) != 0 && t - last_status >= 1) {
			notify_status(srv, "");
			last = n;
			last_status = t;
		}
	}

	sd_notify(0, "STOPPING=1\nSTATUS=stopping");
	log_info("stopping: waiting for associations in progress");
	server_shutdown(srv);
	server_counters(srv, &n);
	log_info("stopped: %lu associations (%lu rejected), %lu instances "
	         "stored, %lu new series, %lu ignored, %lu failed",
	         n.associations, n.rejected, n.stored, n.series_new, n.ignored,
	         n.failed);
	if (store_checkpoint(store, &err) < 0) {
		log_warn("cannot checkpoint the database at exit: %s; its wal "
		         "stays beside it, whole, and is replayed at the next start",
		         err);
		free(err);
		err = NULL;
	}
	status = r < 0 ? 1 : 0;
out:
	server_free(srv);
	store_close(store);
	config_release(&cfg);
	free(err);
	free(overrides);
	return status;
}
