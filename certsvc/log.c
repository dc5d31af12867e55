/*
 * log.c: one record per call, formatted into a local buffer, whole lines
 * only, on a descriptor opened O_APPEND, so that lines from several
 * threads (and processes sharing the file) never interleave or tear.  The
 * level, the format and the descriptor are atomics: logging needs no setup.
 * Reopening (SIGHUP, after logrotate) dup2()s the new file over the
 * descriptor in use, so a writer never sees a closed one.
 *
 * Unbuffered (the default, and what certsvc-admin and the tests get), each
 * line is one write(2).  certsvcd calls cs_log_buffer_start(): a write(2)
 * per request line cost it 13-23% of its rate on answers served from
 * memory, so from then on a line is only copied into a 256 KiB ring under
 * log_mu (a memcpy, no system call) and written in bulk, one write(2) of
 * whole lines for many, by the holder of log_flush_mu, one at a time and
 * in order, without log_mu:
 *  - the flusher thread, LOG_FLUSH_MS (50 ms) after the first line went
 *    into the empty ring, or as soon as the ring is half full; so a line
 *    reaches the file within 100 ms (CS_LOG_FLUSH_BOUND_MS: the 50 ms,
 *    the write and scheduling); an info line costs its thread no system
 *    call;
 *  - a warn or error line's own thread, at once: the line goes after what
 *    is buffered and all of it is written before cs_log() returns, so the
 *    file keeps the order and no warning or error is held back;
 *  - cs_log_open() and cs_log_reopen() before they switch files (lines go
 *    to the file they were logged for), cs_log_flush(), and
 *    cs_log_buffer_stop() (certsvcd's shutdown).
 * When the disk cannot keep up and the ring is full, appenders wait for
 * the flusher, as they would have waited in write(2).  stderr (no
 * log_file) is buffered the same way: under systemd it is a stream to
 * journald, as costly per line as a file.  What a crash or SIGKILL loses
 * is at most the last 100 ms of info and debug lines; every warn and
 * error line is already written.
 *
 * In JSON mode (certsvcd) every record is one object on one line:
 * {"time","level","msg",...}; the extra members come from the caller
 * (cs_log_rec), which never passes a secret or a holder identifier.
 *
 * The histograms of /metrics live here too because pkcs11/ and api/ both
 * fill them and this is the one module every layer may include.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "certsvc/log.h"
#include "certsvc/mem.h"

#define LOG_LINE_MAX 4096

static _Atomic int log_level = CS_LOG_INFO;
static _Atomic bool log_json = false;
static _Atomic int log_fd = STDERR_FILENO;
/* The file of cs_log_open(), for cs_log_reopen(); "" = stderr. */
static char log_path[PATH_MAX];
/* Lock order: log_open_mu, log_flush_mu, log_mu. */
static pthread_mutex_t log_open_mu = PTHREAD_MUTEX_INITIALIZER;

/* --- buffering (cs_log_buffer_start) --- */
#define LOG_RING_SIZE (256 * 1024)
#define LOG_FLUSH_MS 50
_Static_assert(LOG_RING_SIZE / 2 >= LOG_LINE_MAX, "a line fits the ring");
_Static_assert(2 * LOG_FLUSH_MS <= CS_LOG_FLUSH_BOUND_MS, "the bound holds");

/*
 * log_ring holds the bytes log_tail..log_head (running totals, taken
 * modulo the size): whole lines, appended at log_head under log_mu.  Only
 * the holder of log_flush_mu writes them out and moves log_tail, which
 * it changes under log_mu too; appenders never touch tail..head, so the
 * write(2) runs without log_mu.
 */
static char log_ring[LOG_RING_SIZE];
static uint64_t log_head, log_tail; /* log_mu */
/* A hint read without the lock; under log_mu it decides. */
static _Atomic bool log_buffered = false;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static bool log_stopping = false; /* log_mu */
/* To the flusher: a first line, the ring half full, or the stop. */
static pthread_cond_t log_cv;
/* To appenders waiting for room: the flusher wrote some out. */
static pthread_cond_t log_room_cv;
static pthread_mutex_t log_flush_mu = PTHREAD_MUTEX_INITIALIZER;
/* Set under log_open_mu and log_mu (log_flush_locked() reads it). */
static pthread_t log_flusher;
static bool log_flusher_running = false;

static void log_write(const char *a, size_t alen, const char *b, size_t blen);

static const char *const log_names[] = {"error", "warn", "info", "debug"};

void
cs_log_set_level(enum cs_log_level level)
{
	atomic_store(&log_level, (int)level);
}

bool
cs_log_enabled(enum cs_log_level level)
{
	return (int)level <= atomic_load(&log_level);
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

/*
 * Write what is in the ring, in order; the caller holds log_flush_mu.
 * What is appended meanwhile waits for the next flush.
 */
static void
log_flush_locked(void)
{
	uint64_t tail, head;
	size_t off, n;

	pthread_mutex_lock(&log_mu);
	tail = log_tail;
	head = log_head;
	pthread_mutex_unlock(&log_mu);
	if (head == tail)
		return;
	off = (size_t)(tail % LOG_RING_SIZE);
	n = (size_t)(head - tail);
	if (off + n <= LOG_RING_SIZE)
		log_write(log_ring + off, n, NULL, 0);
	else /* wrapped: still one call, lines stay whole */
		log_write(log_ring + off, LOG_RING_SIZE - off, log_ring,
		    n - (LOG_RING_SIZE - off));
	pthread_mutex_lock(&log_mu);
	log_tail = head;
	if (log_flusher_running)
		pthread_cond_broadcast(&log_room_cv);
	pthread_mutex_unlock(&log_mu);
}

void
cs_log_flush(void)
{
	pthread_mutex_lock(&log_flush_mu);
	log_flush_locked();
	pthread_mutex_unlock(&log_flush_mu);
}

static bool
log_half_full(void)
{
	return log_head - log_tail >= LOG_RING_SIZE / 2;
}

/*
 * The flusher: asleep while the ring is empty; once a line is in it,
 * LOG_FLUSH_MS for more to join (less when the ring is half full), then
 * one write.  So appenders only copy, and the write(2) is done here.
 */
static void *
log_flusher_main(void *arg)
{
	struct timespec until;

	(void)arg;
	pthread_mutex_lock(&log_mu);
	while (!log_stopping) {
		if (log_head == log_tail) {
			pthread_cond_wait(&log_cv, &log_mu);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += LOG_FLUSH_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!log_stopping && !log_half_full() &&
		    pthread_cond_timedwait(&log_cv, &log_mu, &until) !=
		        ETIMEDOUT)
			;
		pthread_mutex_unlock(&log_mu);
		cs_log_flush();
		pthread_mutex_lock(&log_mu);
	}
	pthread_mutex_unlock(&log_mu);
	return NULL;
}

enum cs_rc
cs_log_buffer_start(struct cs_err *err)
{
	pthread_condattr_t ca;
	enum cs_rc rc = CS_OK;
	int e;

	pthread_mutex_lock(&log_open_mu);
	if (log_flusher_running)
		goto out;
	/* Monotonic: a clock step must not stretch the wait. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&log_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&log_room_cv, NULL);
	log_stopping = false;
	e = pthread_create(&log_flusher, NULL, log_flusher_main, NULL);
	if (e != 0) {
		pthread_cond_destroy(&log_cv);
		pthread_cond_destroy(&log_room_cv);
		rc = cs_err_set(err, CS_ERR_NOMEM,
		    "log: cannot start the flusher: %s", strerror(e));
		goto out;
	}
	pthread_mutex_lock(&log_mu);
	log_flusher_running = true;
	atomic_store(&log_buffered, true);
	pthread_mutex_unlock(&log_mu);
out:
	pthread_mutex_unlock(&log_open_mu);
	return rc;
}

void
cs_log_buffer_stop(void)
{
	pthread_mutex_lock(&log_open_mu);
	if (log_flusher_running) {
		/* Appenders that see this under log_mu write directly. */
		pthread_mutex_lock(&log_mu);
		atomic_store(&log_buffered, false);
		log_stopping = true;
		pthread_cond_signal(&log_cv);
		pthread_cond_broadcast(&log_room_cv);
		pthread_mutex_unlock(&log_mu);
		pthread_join(log_flusher, NULL);
		pthread_mutex_lock(&log_mu);
		log_flusher_running = false;
		pthread_mutex_unlock(&log_mu);
		pthread_cond_destroy(&log_cv);
		pthread_cond_destroy(&log_room_cv);
	}
	cs_log_flush();
	pthread_mutex_unlock(&log_open_mu);
}

static int
log_file_open(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

enum cs_rc
cs_log_open(const char *path, struct cs_err *err)
{
	int fd, old;

	pthread_mutex_lock(&log_open_mu);
	if (path == NULL || *path == '\0') {
		/* The file stays open: a writer may still hold its number. */
		pthread_mutex_lock(&log_flush_mu);
		log_flush_locked();
		atomic_store(&log_fd, STDERR_FILENO);
		pthread_mutex_unlock(&log_flush_mu);
		log_path[0] = '\0';
		pthread_mutex_unlock(&log_open_mu);
		return CS_OK;
	}
	if (strlen(path) >= sizeof(log_path)) {
		pthread_mutex_unlock(&log_open_mu);
		return cs_err_set(err, CS_ERR_IO, "log_file: path too long");
	}
	fd = log_file_open(path);
	if (fd < 0) {
		pthread_mutex_unlock(&log_open_mu);
		return cs_err_set(err, CS_ERR_IO,
		    "log_file: cannot open '%s': %s", path, strerror(errno));
	}
	memcpy(log_path, path, strlen(path) + 1);
	/* What was logged before goes where it was logged for. */
	pthread_mutex_lock(&log_flush_mu);
	log_flush_locked();
	old = atomic_load(&log_fd);
	if (old == STDERR_FILENO) {
		atomic_store(&log_fd, fd);
	} else {
		/* Over the file in use: a writer may hold its number. */
		dup2(fd, old);
		close(fd);
	}
	pthread_mutex_unlock(&log_flush_mu);
	pthread_mutex_unlock(&log_open_mu);
	return CS_OK;
}

enum cs_rc
cs_log_reopen(struct cs_err *err)
{
	enum cs_rc rc = CS_OK;
	int fd;

	pthread_mutex_lock(&log_open_mu);
	if (log_path[0] != '\0') {
		fd = log_file_open(log_path);
		if (fd < 0) {
			rc = cs_err_set(err, CS_ERR_IO,
			    "log_file: cannot reopen '%s': %s", log_path,
			    strerror(errno));
		} else {
			/* The lines logged so far go to the old file. */
			pthread_mutex_lock(&log_flush_mu);
			log_flush_locked();
			/* Atomic: the number stays valid for every writer. */
			if (dup2(fd, atomic_load(&log_fd)) < 0)
				rc = cs_err_set(err, CS_ERR_IO,
				    "log_file: cannot reopen: %s",
				    strerror(errno));
			pthread_mutex_unlock(&log_flush_mu);
			close(fd);
		}
	}
	pthread_mutex_unlock(&log_open_mu);
	return rc;
}

/*
 * The length of the well-formed UTF-8 sequence at p (RFC 3629: no
 * overlong forms, no surrogates, nothing past U+10FFFF), 0 if none.
 */
static size_t
log_utf8_len(const unsigned char *p)
{
	size_t n, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80) /* the NUL ends it too */
			return 0;
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
	    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
		return 0;
	return n;
}

void
cs_log_escape(const char *s, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p;
	size_t o = 0, n;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\') {
			if (o + 2 >= outsz)
				break;
			out[o++] = '\\';
			out[o++] = (char)*p;
		} else if (*p < 0x20 || *p == 0x7f) {
			if (o + 6 >= outsz)
				break;
			memcpy(out + o, "\\u00", 4);
			out[o + 4] = hex[*p >> 4];
			out[o + 5] = hex[*p & 15];
			o += 6;
		} else if (*p < 0x80) {
			if (o + 1 >= outsz)
				break;
			out[o++] = (char)*p;
		} else if ((n = log_utf8_len(p)) > 0) {
			if (o + n >= outsz)
				break;
			memcpy(out + o, p, n);
			o += n;
			p += n - 1;
		} else {
			/* Not UTF-8 (a percent-decoded path): U+FFFD. */
			if (o + 6 >= outsz)
				break;
			memcpy(out + o, "\\ufffd", 6);
			o += 6;
		}
	}
	out[o] = '\0';
}

/*
 * Write a then b (b may be NULL) in one call, whole lines only, so that
 * O_APPEND keeps them together; a short write is retried with the rest.
 */
static void
log_write(const char *a, size_t alen, const char *b, size_t blen)
{
	int fd = atomic_load(&log_fd);
	struct iovec iov[2];
	ssize_t n;
	size_t k;

	while (alen + blen > 0) {
		iov[0].iov_base = (void *)(uintptr_t)a;
		iov[0].iov_len = alen;
		iov[1].iov_base = (void *)(uintptr_t)b;
		iov[1].iov_len = blen;
		n = writev(fd, alen > 0 ? iov : iov + 1, alen > 0 ? 2 : 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		k = (size_t)n;
		if (k < alen) {
			a += k;
			alen -= k;
			continue;
		}
		k -= alen;
		alen = 0;
		if (k > 0) { /* b is not NULL then */
			b += k;
			blen -= k;
		}
	}
}

/*
 * One whole line (len <= LOG_LINE_MAX) into the file: appended to the
 * buffer when buffering, then for warn and error written at once with all
 * that came before it; directly otherwise.
 */
static void
log_put(enum cs_log_level level, const char *line, size_t len)
{
	bool buffered;
	size_t off, first;

	if (!atomic_load_explicit(&log_buffered, memory_order_relaxed)) {
		log_write(line, len, NULL, 0);
		return;
	}
	pthread_mutex_lock(&log_mu);
	/* Full: wake the flusher and wait for it (the disk is the limit). */
	while ((buffered = atomic_load(&log_buffered)) &&
	    log_head - log_tail + len > LOG_RING_SIZE) {
		pthread_cond_signal(&log_cv);
		pthread_cond_wait(&log_room_cv, &log_mu);
	}
	if (buffered) {
		/* The flusher's clock starts, or it is time to write. */
		if (log_head == log_tail ||
		    (!log_half_full() &&
		        log_head - log_tail + len >= LOG_RING_SIZE / 2))
			pthread_cond_signal(&log_cv);
		off = (size_t)(log_head % LOG_RING_SIZE);
		first = len < LOG_RING_SIZE - off ? len : LOG_RING_SIZE - off;
		memcpy(log_ring + off, line, first);
		memcpy(log_ring, line + first, len - first);
		log_head += len;
	}
	pthread_mutex_unlock(&log_mu);
	if (!buffered)
		log_write(line, len, NULL, 0); /* stopped meanwhile */
	else if (level <= CS_LOG_WARN)
		cs_log_flush();
}

/*
 * "YYYY-MM-DDTHH:MM:SS" of t (UTC) into ts.  Each thread keeps the last
 * second it formatted: a busy server logs many lines a second, and
 * gmtime_r() takes glibc's time-zone lock on every call.
 */
static void
log_second(time_t t, char *ts, size_t tssz)
{
	static _Thread_local time_t last = (time_t)-1;
	static _Thread_local char text[32];
	struct tm tm;

	if (t != last) {
		gmtime_r(&t, &tm);
		strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &tm);
		last = t;
	}
	cs_strlcpy(ts, text, tssz);
}

/* Append the n bytes of s to line at *len (the caller made room). */
static void
log_cat(char *line, size_t *len, const char *s, size_t n)
{
	memcpy(line + *len, s, n);
	*len += n;
}

#define LOG_CAT_LIT(line, len, lit) log_cat(line, len, lit, sizeof(lit) - 1)

/*
 * {"time":"<ts>.<usec>Z","level":"..","msg":"<esc>",<members>}\n into
 * line (LOG_LINE_MAX), by memcpy: snprintf's %s copying took most of the
 * time of a request line.  Members too long for the line are dropped
 * rather than break the JSON: "truncated":true instead.  esc is shorter
 * than LOG_LINE_MAX / 2, so the line always fits.  Returns its length.
 */
static size_t
log_json_line(char *line, const char *ts, long usec, const char *level,
    const char *esc, const char *members)
{
	static const char truncated[] = "\"truncated\":true";
	size_t len = 0, esclen = strlen(esc), mlen;
	char frac[8];
	int i;

	frac[0] = '.';
	for (i = 6; i >= 1; i--, usec /= 10)
		frac[i] = (char)('0' + usec % 10);
	frac[7] = 'Z';
	LOG_CAT_LIT(line, &len, "{\"time\":\"");
	log_cat(line, &len, ts, strlen(ts));
	log_cat(line, &len, frac, sizeof(frac));
	LOG_CAT_LIT(line, &len, "\",\"level\":\"");
	log_cat(line, &len, level, strlen(level));
	LOG_CAT_LIT(line, &len, "\",\"msg\":\"");
	log_cat(line, &len, esc, esclen);
	LOG_CAT_LIT(line, &len, "\"");
	mlen = members != NULL ? strlen(members) : 0;
	if (len + 1 + mlen + 2 >= LOG_LINE_MAX) {
		members = truncated;
		mlen = sizeof(truncated) - 1;
	}
	if (mlen > 0) {
		LOG_CAT_LIT(line, &len, ",");
		log_cat(line, &len, members, mlen);
	}
	LOG_CAT_LIT(line, &len, "}\n");
	return len;
}

static void
log_emit(enum cs_log_level level, const char *msg, const char *members)
{
	char line[LOG_LINE_MAX], esc[2048], ts[32];
	struct timespec now;
	int n;

	clock_gettime(CLOCK_REALTIME, &now);
	log_second(now.tv_sec, ts, sizeof(ts));
	if (atomic_load(&log_json)) {
		cs_log_escape(msg, esc, sizeof(esc));
		n = (int)log_json_line(line, ts, now.tv_nsec / 1000L,
		    log_names[level], esc, members);
	} else {
		n = snprintf(line, sizeof(line), "%s.%03ldZ %s: %s%s%s\n", ts,
		    now.tv_nsec / 1000000L, log_names[level], msg,
		    members != NULL && *members != '\0' ? " " : "",
		    members != NULL ? members : "");
		if (n >= (int)sizeof(line)) {
			line[sizeof(line) - 2] = '\n';
			n = (int)sizeof(line) - 1;
		}
	}
	if (n > 0)
		log_put(level, line, (size_t)n);
}

void
cs_log(enum cs_log_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!cs_log_enabled(level))
		return;
	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	log_emit(level, msg, NULL);
}

void
cs_log_rec(enum cs_log_level level, const char *msg, const char *members)
{
	if (cs_log_enabled(level))
		log_emit(level, msg, members);
}

/* --- histograms --------------------------------------------------------- */

/* Upper bounds in nanoseconds and as Prometheus writes them (seconds). */
static const uint64_t hist_ns[CS_HIST_NBOUNDS] = {50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000, 25000000, 50000000, 100000000,
    250000000, 500000000, 1000000000, 2500000000u, 5000000000u, 10000000000u,
    30000000000u};
static const char *const hist_le[CS_HIST_NBOUNDS] = {"0.00005", "0.0001",
    "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
    "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30"};

void
cs_hist_observe(struct cs_hist *h, uint64_t ns)
{
	size_t i = 0;

	while (i < CS_HIST_NBOUNDS && ns > hist_ns[i])
		i++;
	atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
}

uint64_t
cs_hist_count(const struct cs_hist *h)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i <= CS_HIST_NBOUNDS; i++)
		n += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
	return n;
}

enum cs_rc
cs_hist_render(const struct cs_hist *h, const char *name, const char *labels,
    struct buf *out)
{
	const char *sep = labels != NULL && *labels != '\0' ? "," : "";
	uint64_t cum = 0, sum;
	size_t i;

	if (labels == NULL)
		labels = "";
	/* Read the buckets once: _count is their sum, whatever races. */
	for (i = 0; i <= CS_HIST_NBOUNDS; i++) {
		cum +=
		    atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
		if (buf_printf(out, "%s_bucket{%s%sle=\"%s\"} %llu\n", name,
		        labels, sep, i < CS_HIST_NBOUNDS ? hist_le[i] : "+Inf",
		        (unsigned long long)cum) != CS_OK)
			return CS_ERR_NOMEM;
	}
	sum = atomic_load_explicit(&h->sum_ns, memory_order_relaxed);
	if (buf_printf(out, "%s_sum%s%s%s %.9f\n%s_count%s%s%s %llu\n", name,
	        *labels != '\0' ? "{" : "", labels, *labels != '\0' ? "}" : "",
	        (double)sum / 1e9, name, *labels != '\0' ? "{" : "", labels,
	        *labels != '\0' ? "}" : "", (unsigned long long)cum) != CS_OK)
		return CS_ERR_NOMEM;
	return CS_OK;
}
