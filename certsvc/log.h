/*
 * log.h: process-wide logging to stderr or a file, and the lock-free
 * latency histogram that /metrics renders.  Never pass a secret, a request
 * body or a holder identifier to either.
 */
#ifndef CERTSVC_LOG_H
#define CERTSVC_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certsvc/err.h"
#include "certsvc/mem.h"

enum cs_log_level {
	CS_LOG_ERR = 0,
	CS_LOG_WARN,
	CS_LOG_INFO,
	CS_LOG_DEBUG,
};

/* Set the most verbose level written (default CS_LOG_INFO). */
void cs_log_set_level(enum cs_log_level level);

/* True when a record at level would be written. */
bool cs_log_enabled(enum cs_log_level level);

/* Parse "error", "warn", "info", "debug"; false if unknown. */
bool cs_log_level_parse(const char *name, enum cs_log_level *level);

/* One JSON object per line when true (the daemon), plain text otherwise. */
void cs_log_set_json(bool json);

/*
 * Write records to path from now on (opened O_APPEND, created mode 0640),
 * or to stderr when path is NULL or "", after writing what is buffered
 * where it was going.  The path is kept for
 * cs_log_reopen().  CS_ERR_IO when the file cannot be opened (logging
 * then stays where it was).
 */
enum cs_rc cs_log_open(const char *path, struct cs_err *err);

/*
 * Open the file of cs_log_open() again (after logrotate moved it, on
 * SIGHUP) and switch to it atomically: no record is lost or split, and
 * the buffered ones are written to the old file first.  Does nothing when
 * logging goes to stderr.
 */
enum cs_rc cs_log_reopen(struct cs_err *err);

/* How late a buffered info or debug line may reach the file. */
#define CS_LOG_FLUSH_BOUND_MS 100

/*
 * Buffer info and debug lines from now on (certsvcd): a flusher thread
 * writes them within CS_LOG_FLUSH_BOUND_MS; warn and error lines are
 * written at once, after all that is buffered.  Start it after the
 * signals are blocked (the thread inherits the mask).  CS_ERR_NOMEM when
 * the thread cannot be created (logging then stays unbuffered).  Without
 * it every line is one write(2), as before.
 */
enum cs_rc cs_log_buffer_start(struct cs_err *err);

/* Write what is buffered now, in order; nothing when nothing is. */
void cs_log_flush(void);

/*
 * Stop the flusher and write what is buffered (the daemon's last log
 * call before it exits); lines after it are written unbuffered.  Does
 * nothing more than cs_log_flush() when buffering never started.
 */
void cs_log_buffer_stop(void);

/* Write one line at level; thread-safe. */
void cs_log(enum cs_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Write one record whose members after "time", "level" and "msg" are
 * members: JSON object members without braces (`"status":200,...`),
 * already encoded (cs_log_escape() for strings).  In plain text mode the
 * members follow msg.
 */
void cs_log_rec(enum cs_log_level level, const char *msg, const char *members);

/*
 * Escape s as the inside of a JSON string into out (outsz >= 1, always
 * terminated; cut at a character boundary of the escape when too long).
 */
void cs_log_escape(const char *s, char *out, size_t outsz);

/* --- latency histograms (Prometheus, seconds) --------------------------- */

#define CS_HIST_NBOUNDS 18 /* 50 us ... 10 s, then +Inf */

/*
 * Counts per bucket (not cumulative) and the total, all relaxed atomics:
 * observing takes no lock.  Zero-initialise it (static or calloc).
 */
struct cs_hist {
	atomic_uint_fast64_t bucket[CS_HIST_NBOUNDS + 1];
	atomic_uint_fast64_t sum_ns;
};

/* Count one observation of ns nanoseconds. */
void cs_hist_observe(struct cs_hist *h, uint64_t ns);

/* How many observations h holds (the sum of its buckets). */
uint64_t cs_hist_count(const struct cs_hist *h);

/*
 * Append name_bucket{labels,le="..."} (cumulative, ending with +Inf),
 * name_sum and name_count to out; labels is "" or `k="v",...` (escaped by
 * the caller).  _count is the +Inf bucket, so the two always agree.  No
 * HELP/TYPE lines: the caller writes them once per metric.
 */
enum cs_rc cs_hist_render(const struct cs_hist *h, const char *name,
    const char *labels, struct buf *out);

#endif
