/*
 * log.c - the log (include/log.h): journald with structured fields under
 * systemd, plain lines on stderr otherwise.  Thread-safe: one write per
 * message.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include <systemd/sd-journal.h>

#include "log.h"

#define LOG_MAX_FIELDS 16

static const char *log_ident = "hraudit";
static bool log_stderr = true;
static int log_level = LOG_INFO;

void log_init(const char *ident, bool to_stderr, int max_level)
{
	log_ident = ident;
	/* The journal only when asked for and when systemd gave us one. */
	log_stderr = to_stderr || !getenv("JOURNAL_STREAM");
	log_level = max_level;
}

void log_set_level(int max_level)
{
	log_level = max_level;
}

bool log_enabled(int level)
{
	return level <= log_level;
}

static const char *level_name(int level)
{
	switch (level) {
	case LOG_EMERG: case LOG_ALERT: case LOG_CRIT: case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE: case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

/*
 * One record is one line: the toolkit's condition texts hold newlines, and
 * AE titles come from the network.  Line breaks become "; ", other control
 * characters '?'.  Works in place on a NUL-terminated buffer of `size`.
 */
static void one_line(char *s, size_t size)
{
	size_t len = strlen(s);

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n' && i + 1 < len && len + 1 < size) {
			memmove(s + i + 2, s + i + 1, len - i);
			s[i] = ';';
			s[++i] = ' ';
			len++;
		} else if (c < 0x20 || c == 0x7f) {
			s[i] = c == '\n' ? ' ' : '?';
		}
	}
}

static void vlog(int level, const char *const *fields, const char *fmt, va_list ap)
{
	char msg[2048];

	if (!log_enabled(level))
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	one_line(msg, sizeof msg);
	if (!log_stderr) {
		struct iovec iov[LOG_MAX_FIELDS + 3];
		char m[2100], p[16], id[64];
		int n = 0;

		snprintf(m, sizeof m, "MESSAGE=%s", msg);
		snprintf(p, sizeof p, "PRIORITY=%d", level);
		snprintf(id, sizeof id, "SYSLOG_IDENTIFIER=%s", log_ident);
		iov[n++] = (struct iovec){m, strlen(m)};
		iov[n++] = (struct iovec){p, strlen(p)};
		iov[n++] = (struct iovec){id, strlen(id)};
		for (size_t i = 0; fields && fields[i] && n < LOG_MAX_FIELDS + 3; i++)
			iov[n++] = (struct iovec){(void *)fields[i], strlen(fields[i])};
		if (sd_journal_sendv(iov, n) >= 0)
			return;
	}

	/* stderr: "hrauditd: info: message [name=value ...]" in one write */
	char line[4096];
	int len = snprintf(line, sizeof line, "%s: %s: %s", log_ident,
	                   level_name(level), msg);
	for (size_t i = 0; fields && fields[i] && len < (int)sizeof line; i++) {
		const char *f = fields[i], *eq = strchr(f, '=');
		int start = len + 1;

		if (!eq)
			continue;
		len += snprintf(line + len, sizeof line - (size_t)len, " %.*s=%s",
		                (int)(eq - f), f, eq + 1);
		for (int j = start; j < len && j < (int)sizeof line; j++)
			if ((unsigned char)line[j] < 0x20 || line[j] == 0x7f)
				line[j] = '?';
	}
	if (len >= (int)sizeof line)
		len = (int)sizeof line - 1;
	line[len++] = '\n';
	fwrite(line, 1, (size_t)len, stderr);
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, NULL, fmt, ap);
	va_end(ap);
}

void log_fields(int level, const char *const *fields, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fields, fmt, ap);
	va_end(ap);
}
