/*
 * log.c: one record per call, formatted into a local buffer and written
 * with one write(2) on a descriptor opened O_APPEND, so that lines from
 * several threads (and processes sharing the file) never interleave.  The
 * level, the format and the descriptor are atomics: logging needs no setup
 * and has no global lock.  Reopening (SIGHUP, after logrotate) dup2()s the
 * new file over the descriptor in use, so a writer never sees a closed one.
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
static pthread_mutex_t log_open_mu = PTHREAD_MUTEX_INITIALIZER;

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
		atomic_store(&log_fd, STDERR_FILENO);
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
	old = atomic_load(&log_fd);
	if (old == STDERR_FILENO) {
		atomic_store(&log_fd, fd);
	} else {
		/* Over the file in use: a writer may hold its number. */
		dup2(fd, old);
		close(fd);
	}
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
			/* Atomic: the number stays valid for every writer. */
			if (dup2(fd, atomic_load(&log_fd)) < 0)
				rc = cs_err_set(err, CS_ERR_IO,
				    "log_file: cannot reopen: %s",
				    strerror(errno));
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

/* Write the whole line in one call; a short write is retried. */
static void
log_write(const char *line, size_t len)
{
	int fd = atomic_load(&log_fd);
	ssize_t n;

	while (len > 0) {
		n = write(fd, line, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		line += n;
		len -= (size_t)n;
	}
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
		n = snprintf(line, sizeof(line),
		    "{\"time\":\"%s.%06ldZ\",\"level\":\"%s\",\"msg\":\"%s\"%s%"
		    "s}"
		    "\n",
		    ts, now.tv_nsec / 1000L, log_names[level], esc,
		    members != NULL && *members != '\0' ? "," : "",
		    members != NULL ? members : "");
		if (n >= (int)sizeof(line)) {
			/* Too long: drop the members rather than break JSON. */
			n = snprintf(line, sizeof(line),
			    "{\"time\":\"%s.%06ldZ\",\"level\":\"%s\","
			    "\"msg\":\"%s\",\"truncated\":true}\n",
			    ts, now.tv_nsec / 1000L, log_names[level], esc);
		}
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
		log_write(line, (size_t)n);
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
