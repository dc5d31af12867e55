/*
 * mem.c: buffers are wiped when freed because some of them carry secrets
 * (API tokens before hashing, holder identifiers); wiping all of them is
 * cheaper than tracking which ones do.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "certsvc/mem.h"

struct buf *
buf_new(size_t cap)
{
	struct buf *b;

	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return NULL;
	b->cap = cap < 16 ? 16 : cap;
	b->data = calloc(b->cap + 1, 1);
	if (b->data == NULL) {
		free(b);
		return NULL;
	}
	return b;
}

struct buf *
buf_from(const void *p, size_t len)
{
	struct buf *b;

	b = buf_new(len);
	if (b == NULL)
		return NULL;
	if (len > 0)
		memcpy(b->data, p, len);
	b->len = len;
	return b;
}

void
buf_free(struct buf *b)
{
	if (b == NULL)
		return;
	OPENSSL_clear_free(b->data, b->cap + 1);
	free(b);
}

enum cs_rc
buf_reserve(struct buf *b, size_t n)
{
	size_t ncap;
	uint8_t *p;

	if (n <= b->cap - b->len)
		return CS_OK;
	if (n > SIZE_MAX / 2 - b->len)
		return CS_ERR_NOMEM;
	ncap = b->cap * 2;
	if (ncap < b->len + n)
		ncap = b->len + n;
	p = calloc(ncap + 1, 1);
	if (p == NULL)
		return CS_ERR_NOMEM;
	memcpy(p, b->data, b->len);
	OPENSSL_clear_free(b->data, b->cap + 1);
	b->data = p;
	b->cap = ncap;
	return CS_OK;
}

enum cs_rc
buf_append(struct buf *b, const void *p, size_t len)
{
	if (buf_reserve(b, len) != CS_OK)
		return CS_ERR_NOMEM;
	if (len > 0)
		memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return CS_OK;
}

enum cs_rc
buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

enum cs_rc
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return CS_ERR_INVALID;
	if (buf_reserve(b, (size_t)n + 1) != CS_OK)
		return CS_ERR_NOMEM;
	va_start(ap, fmt);
	n = vsnprintf((char *)b->data + b->len, b->cap - b->len + 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return CS_ERR_INVALID;
	b->len += (size_t)n;
	return CS_OK;
}

bool
cs_strlcpy(char *dst, const char *src, size_t dstsz)
{
	size_t n;

	n = strlen(src);
	if (dstsz == 0 || n >= dstsz)
		return false;
	memcpy(dst, src, n + 1);
	return true;
}

void *
cs_locked_alloc(size_t size, size_t mu_off)
{
	unsigned char *p;

	if (size < mu_off + sizeof(pthread_mutex_t))
		return NULL;
	p = calloc(1, size);
	if (p != NULL &&
	    pthread_mutex_init((pthread_mutex_t *)(void *)(p + mu_off), NULL) !=
	        0) {
		free(p);
		p = NULL;
	}
	return p;
}

bool
cs_parse_ll(const char *s, long long min, long long max, long long *out)
{
	char *end = NULL;
	long long v;

	if (s == NULL || *s == '\0')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

enum cs_rc
cs_file_read(
    const char *path, size_t maxlen, struct buf **out, struct cs_err *err)
{
	struct buf *b = NULL;
	char chunk[8192];
	enum cs_rc rc = CS_OK;
	size_t n;
	FILE *f;

	*out = NULL;
	f = fopen(path, "rb");
	if (f == NULL)
		return cs_err_set(err,
		    errno == ENOENT ? CS_ERR_NOT_FOUND : CS_ERR_IO,
		    "cannot open '%s': %s", path, strerror(errno));
	b = buf_new(4096);
	if (b == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (b->len + n > maxlen) {
			rc = cs_err_set(err, CS_ERR_INVALID,
			    "file '%s' is larger than %zu bytes", path, maxlen);
			goto out;
		}
		if (buf_append(b, chunk, n) != CS_OK) {
			rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	if (ferror(f)) {
		rc = cs_err_set(err, CS_ERR_IO, "cannot read '%s'", path);
		goto out;
	}
	*out = b;
	b = NULL;
out:
	OPENSSL_cleanse(chunk, sizeof(chunk));
	buf_free(b);
	fclose(f);
	return rc;
}

enum cs_rc
cs_file_write(const char *path, const void *p, size_t len, mode_t mode,
    bool excl, struct cs_err *err)
{
	char tmp[PATH_MAX];
	const uint8_t *q = p;
	enum cs_rc rc = CS_OK;
	size_t done = 0;
	ssize_t n;
	int fd;

	if (excl && access(path, F_OK) == 0)
		return cs_err_set(
		    err, CS_ERR_CONFLICT, "'%s' exists already", path);
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
	    (int)sizeof(tmp))
		return cs_err_set(err, CS_ERR_INVALID, "path too long");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return cs_err_set(err, CS_ERR_IO, "cannot create '%s': %s", tmp,
		    strerror(errno));
	if (fchmod(fd, mode) != 0) {
		rc = cs_err_set(err, CS_ERR_IO, "cannot chmod '%s': %s", tmp,
		    strerror(errno));
		goto fail;
	}
	while (done < len) {
		n = write(fd, q + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = cs_err_set(err, CS_ERR_IO, "cannot write '%s': %s",
			    tmp, strerror(errno));
			goto fail;
		}
		done += (size_t)n;
	}
	if (fsync(fd) != 0) {
		rc = cs_err_set(err, CS_ERR_IO, "cannot sync '%s': %s", tmp,
		    strerror(errno));
		goto fail;
	}
	close(fd);
	fd = -1;
	if (excl ? link(tmp, path) != 0 : rename(tmp, path) != 0) {
		rc = cs_err_set(err,
		    errno == EEXIST ? CS_ERR_CONFLICT : CS_ERR_IO,
		    "cannot create '%s': %s", path, strerror(errno));
		goto fail;
	}
	if (excl)
		unlink(tmp);
	return CS_OK;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}

enum cs_rc
cs_mkdir_p(const char *path, mode_t mode, struct cs_err *err)
{
	char tmp[PATH_MAX];
	char *p;

	if (!cs_strlcpy(tmp, path, sizeof(tmp)))
		return cs_err_set(err, CS_ERR_INVALID, "path too long");
	for (p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) != 0 && errno != EEXIST)
			return cs_err_set(err, CS_ERR_IO,
			    "cannot create directory '%s': %s", tmp,
			    strerror(errno));
		*p = '/';
	}
	if (mkdir(tmp, mode) != 0 && errno != EEXIST)
		return cs_err_set(err, CS_ERR_IO,
		    "cannot create directory '%s': %s", tmp, strerror(errno));
	return CS_OK;
}

long
cs_utf8_count(const char *p, size_t len, bool controls)
{
	const unsigned char *s = (const unsigned char *)p;
	uint32_t cp, min;
	size_t i = 0, n, k;
	long count = 0;

	while (i < len) {
		cp = s[i];
		if (cp < 0x80) {
			n = 0;
			min = 0;
		} else if ((cp & 0xe0) == 0xc0) {
			n = 1;
			cp &= 0x1f;
			min = 0x80;
		} else if ((cp & 0xf0) == 0xe0) {
			n = 2;
			cp &= 0x0f;
			min = 0x800;
		} else if ((cp & 0xf8) == 0xf0) {
			n = 3;
			cp &= 0x07;
			min = 0x10000;
		} else {
			return -1;
		}
		if (n > len - i - 1)
			return -1;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return -1;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp == 0 || cp < min || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		if (!controls && (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)))
			return -1;
		i += n + 1;
		count++;
	}
	return count;
}

uint64_t
cs_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void
cs_hex(const void *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

void
cs_time_utc(int64_t t, char *out, size_t outsz)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	if (strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0 && outsz > 0)
		out[0] = '\0';
}
