/*
 * log.h: process-wide logging to stderr (or a file).  Never pass a secret,
 * a request body or a holder identifier to it.
 */
#ifndef CERTSVC_LOG_H
#define CERTSVC_LOG_H

#include <stdbool.h>

enum cs_log_level {
	CS_LOG_ERR = 0,
	CS_LOG_WARN,
	CS_LOG_INFO,
	CS_LOG_DEBUG,
};

/* Set the most verbose level written (default CS_LOG_INFO). */
void cs_log_set_level(enum cs_log_level level);

/* Parse "error", "warn", "info", "debug"; false if unknown. */
bool cs_log_level_parse(const char *name, enum cs_log_level *level);

/* One JSON object per line when true (the daemon), plain text otherwise. */
void cs_log_set_json(bool json);

/* Write one line at level; thread-safe. */
void cs_log(enum cs_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
