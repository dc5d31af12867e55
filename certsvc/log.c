/*
 * log.c: one line per call, written with a single fputs on a locked stream
 * so that lines from several threads never interleave.  The level and the
 * format are atomics: logging needs no setup and has no global lock.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "certsvc/log.h"

static _Atomic int log_level = CS_LOG_INFO;
static _Atomic bool log_json = false;

static const char *const log_names[] = {"error", "warn", "info", "debug"};

void
cs_log_set_level(enum cs_log_level level)
{
	atomic_store(&log_level, (int)level);
}

bool
cs_log_level_parse(const char *name, enum cs_log_level *level)
{
	size_t i;

	for (i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
		if (strcmp(name, log_names[i]) == 0) {
			*level = (enum cs_log_level)i;
			return true;
		}
	}
	return false;
}

void
cs_log_set_json(bool json)
{
	atomic_store(&log_json, json);
}

/* Escape msg as the inside of a JSON string into out (always terminated). */
static void
log_json_escape(const char *msg, char *out, size_t outsz)
{
	size_t o = 0;
	const unsigned char *p;

	for (p = (const unsigned char *)msg; *p != '\0' && o + 7 < outsz; p++) {
		if (*p == '"' || *p == '\\') {
			out[o++] = '\\';
			out[o++] = (char)*p;
		} else if (*p < 0x20) {
			o +=
			    (size_t)snprintf(out + o, outsz - o, "\\u%04x", *p);
		} else {
			out[o++] = (char)*p;
		}
	}
	out[o] = '\0';
}

void
cs_log(enum cs_log_level level, const char *fmt, ...)
{
	char msg[1024], esc[2048], line[2300], ts[32];
	struct timespec now;
	struct tm tm;
	va_list ap;

	if ((int)level > atomic_load(&log_level))
		return;
	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	if (atomic_load(&log_json)) {
		log_json_escape(msg, esc, sizeof(esc));
		snprintf(line, sizeof(line),
		    "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":\"%s\"}"
		    "\n",
		    ts, now.tv_nsec / 1000000L, log_names[level], esc);
	} else {
		snprintf(line, sizeof(line), "%s.%03ldZ %s: %s\n", ts,
		    now.tv_nsec / 1000000L, log_names[level], msg);
	}
	fputs(line, stderr);
}
