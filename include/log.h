/*
 * log.h - one log for the daemon: the journal (with structured fields) when
 * running under systemd, stderr otherwise (-d, or the CLI).
 */
#ifndef HRAUDIT_LOG_H
#define HRAUDIT_LOG_H

#include <stdbool.h>
#include <syslog.h>

/* to_stderr: write plain lines to stderr even when the journal is there.
 * max_level: LOG_ERR .. LOG_DEBUG; messages above it are dropped. */
void log_init(const char *ident, bool to_stderr, int max_level);
void log_set_level(int max_level);
bool log_enabled(int level);

void log_msg(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A message with journal fields, each "NAME=value" (NULL-terminated list);
 * on stderr the fields are appended as name=value. */
void log_fields(int level, const char *const *fields, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
