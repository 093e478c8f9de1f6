/*
 * hrauditd.c - the daemon's main(): arguments, configuration, log, store,
 * server, in that order; notify ready; run; stop in reverse.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "config.h"
#include "log.h"
#include "server.h"
#include "store.h"

/* Seconds associations in progress get to finish after SIGTERM. */
#define SHUTDOWN_GRACE_S 10

static volatile bool stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = true;
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

int main(int argc, char **argv)
{
	const char *path = CONFIG_DEFAULT_PATH;
	struct store_options sopt = {0};
	struct store *store = NULL;
	struct server *srv = NULL;
	struct config cfg;
	struct sigaction sa;
	char *err = NULL;
	char **overrides;
	size_t noverrides = 0;
	bool foreground = false, check_only = false;
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

	r = config_load(path, &cfg, &err);   /* defaults, then the file */
	for (size_t i = 0; r == 0 && i < noverrides; i++)
		r = config_override(&cfg, overrides[i], &err);
	if (r < 0) {
		fprintf(stderr, "hrauditd: %s\n", err ? err : "bad configuration");
		goto out;
	}
	if (check_only) {
		printf("configuration OK\n");
		status = 0;
		goto out;
	}

	log_init("hrauditd", foreground, cfg.log.level);
	/* DCMTK reads this when it sets up a connection (DCMTK.md); the
	 * listener sets TCP_NODELAY on accepted sockets itself too. */
	setenv("TCP_NODELAY", "1", 1);
	umask(027);   /* database 0640, directories 0750 */

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	sopt.busy_timeout_ms = (int)cfg.database.busy_timeout_ms;
	sopt.synchronous_full = cfg.database.synchronous_full;
	r = store_open(cfg.database.path, &sopt, &store, &err);
	if (r < 0) {
		log_err("%s", err ? err : "cannot open database");
		goto out;
	}
	r = server_start(&cfg, store, &srv, &err);
	if (r < 0) {
		log_err("%s", err ? err : "cannot start server");
		goto out;
	}
	log_info("listening on %s:%u as '%s', database '%s'",
	         cfg.server.bind[0] ? cfg.server.bind : "0.0.0.0", cfg.server.port,
	         cfg.server.aetitle, cfg.database.path);
	sd_notifyf(0, "READY=1\nSTATUS=listening on port %u", cfg.server.port);

	r = server_run(srv, &stop_requested, SHUTDOWN_GRACE_S);

	sd_notify(0, "STOPPING=1");
	{
		struct server_counters n;

		server_counters(srv, &n);
		log_info("stopping: %lu associations, %lu instances stored, "
		         "%lu new series, %lu ignored, %lu failed", n.associations,
		         n.stored, n.series_new, n.ignored, n.failed);
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
