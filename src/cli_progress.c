/*
 * cli_progress.c - the progress line of the long commands (`hraudit
 * import`, `hraudit retrieve`) on standard error, when it is a terminal
 * (struct cli_progress in src/cli.h).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* The line is redrawn at most 10 times a second. */
#define PROGRESS_INTERVAL_NS 100000000LL
#define PROGRESS_BAR_WIDTH 30

void cli_progress_init(struct cli_progress *p)
{
	p->on = isatty(STDERR_FILENO);
	p->len = 0;
	p->last_ns = 0;
}

static long long monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void cli_progress_clear(struct cli_progress *p)
{
	if (p->len > 0)
		fprintf(stderr, "\r%*s\r", p->len, "");
	p->len = 0;
}

void cli_progress_draw(struct cli_progress *p, bool bar, unsigned long done,
                       unsigned long total, const char *fmt, ...)
{
	static const char hashes[PROGRESS_BAR_WIDTH + 1] =
		"##############################";
	long long now;
	va_list ap;
	int filled, len = 0, n;

	if (!p->on)
		return;
	now = monotonic_ns();
	if (p->last_ns && now - p->last_ns < PROGRESS_INTERVAL_NS)
		return;
	p->last_ns = now;
	fputc('\r', stderr);
	if (bar) {
		if (total < done)
			total = done;
		filled = total ? (int)((double)done / (double)total *
		                       PROGRESS_BAR_WIDTH) : PROGRESS_BAR_WIDTH;
		len = fprintf(stderr, "[%.*s%*s] ", filled, hashes,
		              PROGRESS_BAR_WIDTH - filled, "");
	}
	va_start(ap, fmt);
	n = vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (len >= 0 && n > 0 && len + n > p->len)
		p->len = len + n;
}
