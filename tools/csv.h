/*
 * csv.h: an incremental RFC 4180 CSV reader and the writer's quoting.
 *
 * Bytes are fed in pieces of any size (a file is streamed, never loaded
 * whole); every complete record is handed to a callback.  Fields may be
 * quoted, with "" for a quote, and quoted fields may hold commas, CR and LF;
 * records end with CRLF, LF or a lone CR.  A UTF-8 byte order mark at the
 * start is skipped; a line with nothing on it is no record.  Quoting is
 * strict (as Go's encoding/csv without LazyQuotes): a quote inside an
 * unquoted field, or anything but a comma or a line end after a closing
 * quote, is an error naming the line.  Memory is fixed at csv_new(): a
 * record longer than max_row bytes or with more than max_fields fields is
 * an error, whatever the input.
 */
#ifndef CERTSVC_CSV_H
#define CERTSVC_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certsvc/err.h"
#include "certsvc/mem.h"

#define CSV_ROW_MAX (64 * 1024) /* default record limit, bytes */
#define CSV_FIELDS_MAX 256      /* default field limit */

/* One record, lent to the callback for the duration of the call. */
struct csv_row {
	size_t n;                 /* fields, at least 1 */
	const char *const *field; /* each NUL-terminated; may hold NULs */
	const size_t *len;        /* field lengths in bytes */
	uint64_t index;           /* 1 for the first record (a header) */
	uint64_t line;            /* the line the record starts on, 1-based */
};

/*
 * Called for each record; a return other than CS_OK stops csv_feed() or
 * csv_finish(), which return it (the parser then refuses further input).
 */
typedef enum cs_rc (*csv_row_fn)(
    void *arg, const struct csv_row *row, struct cs_err *err);

struct csv_parser;

/*
 * A parser for records of at most max_row bytes as written in the input
 * (quotes included, the line end not) and at most max_fields fields; 0
 * takes CSV_ROW_MAX or CSV_FIELDS_MAX.  NULL when out of memory.
 */
struct csv_parser *csv_new(size_t max_row, size_t max_fields);

/* Wipe (fields may be secret) and free p; NULL does nothing. */
void csv_free(struct csv_parser *p);

/*
 * Parse len more bytes, calling fn for each record they complete.
 * CS_ERR_INVALID "line N: ..." for malformed input or a limit exceeded;
 * after any failure every later call fails the same way.
 */
enum cs_rc csv_feed(struct csv_parser *p, const void *data, size_t len,
    csv_row_fn fn, void *arg, struct cs_err *err);

/*
 * The input is complete: hand over a last record that has no line end.
 * CS_ERR_INVALID "line N: ..." for a quoted field never closed (N is the
 * line of its opening quote).
 */
enum cs_rc csv_finish(
    struct csv_parser *p, csv_row_fn fn, void *arg, struct cs_err *err);

/* Records handed out so far. */
uint64_t csv_records(const struct csv_parser *p);

/*
 * Append len bytes at s to b as one CSV field, quoted when it holds a
 * comma, a quote, CR or LF, or starts or ends with a space; first says
 * whether a comma must precede it.  CS_ERR_NOMEM.
 */
enum cs_rc csv_append_field(
    struct buf *b, const char *s, size_t len, bool first);

#endif
