/*
 * mem.h: growable byte buffers, bounded string copies, checked number
 * parsing, whole-file I/O, hex and UTC time text: the few helpers every
 * module needs.
 */
#ifndef CERTSVC_MEM_H
#define CERTSVC_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "certsvc/err.h"

/* A byte buffer; data is always followed by a NUL (not counted in len). */
struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

/* A new empty buffer with room for cap bytes; NULL when out of memory. */
struct buf *buf_new(size_t cap);

/* A new buffer holding a copy of len bytes at p; NULL when out of memory. */
struct buf *buf_from(const void *p, size_t len);

/* Wipe and free b; NULL does nothing. */
void buf_free(struct buf *b);

/* Make room for n more bytes; CS_ERR_NOMEM on failure (b unchanged). */
enum cs_rc buf_reserve(struct buf *b, size_t n);

/* Append len bytes; CS_ERR_NOMEM on failure (b unchanged). */
enum cs_rc buf_append(struct buf *b, const void *p, size_t len);

/* Append a NUL-terminated string (without its NUL). */
enum cs_rc buf_append_str(struct buf *b, const char *s);

/* Append printf-style text. */
enum cs_rc buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Copy src into dst of size dstsz, always NUL-terminated.  Returns false
 * (and copies nothing) when src does not fit.
 */
bool cs_strlcpy(char *dst, const char *src, size_t dstsz);

/*
 * calloc(1, size) with the pthread_mutex_t at byte offset mu_off
 * initialised: how every shared cache of the service starts.  NULL when
 * either fails (nothing is kept).  CS_LOCKED_NEW(T) does it for a struct T
 * whose mutex is its member mu; pthread_mutex_destroy() and free() undo it.
 */
void *cs_locked_alloc(size_t size, size_t mu_off);
#define CS_LOCKED_NEW(T) ((T *)cs_locked_alloc(sizeof(T), offsetof(T, mu)))

/*
 * Parse all of s as a base-10 integer within [min, max].  Returns false on
 * empty input, trailing characters or overflow.
 */
bool cs_parse_ll(const char *s, long long min, long long max, long long *out);

/* Read a whole file of at most maxlen bytes into *out (given). */
enum cs_rc cs_file_read(
    const char *path, size_t maxlen, struct buf **out, struct cs_err *err);

/*
 * Write len bytes to path atomically (temporary file, fsync, rename) with
 * the given mode.  With excl, fails with CS_ERR_CONFLICT if path exists.
 */
enum cs_rc cs_file_write(const char *path, const void *p, size_t len,
    mode_t mode, bool excl, struct cs_err *err);

/* mkdir -p with mode for the directories it creates. */
enum cs_rc cs_mkdir_p(const char *path, mode_t mode, struct cs_err *err);

/*
 * The number of code points in len bytes of UTF-8, or -1 when they are not
 * well-formed (overlong forms, surrogates, above U+10FFFF) or hold a NUL;
 * without controls, also -1 for C0, DEL and C1 control characters.
 */
long cs_utf8_count(const char *p, size_t len, bool controls);

/*
 * n bytes at p as 2n lower-case hex digits and a NUL into out, which has
 * room for 2n + 1 bytes.
 */
void cs_hex(const void *p, size_t n, char *out);

/*
 * Unix time t as UTC "YYYY-MM-DDTHH:MM:SSZ" (RFC 3339) into out, which has
 * room for 21 bytes (a smaller one gets "").
 */
void cs_time_utc(int64_t t, char *out, size_t outsz);

/* Monotonic clock in nanoseconds. */
uint64_t cs_now_ns(void);

#endif
