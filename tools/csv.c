/*
 * csv.c: the incremental CSV reader of csv.h, a byte-at-a-time state
 * machine.  Decoded fields are stored back to back, each followed by a
 * NUL, in one buffer allocated at csv_new(): a decoded field is never
 * longer than its encoded form, and the encoded record is bounded by
 * max_row, so max_row + max_fields bytes always suffice and the input can
 * never make the parser allocate.  Errors are sticky: once the input is
 * known to be malformed, nothing after it is trusted.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "tools/csv.h"

enum csv_state {
	CSV_FIELD_START, /* before the first byte of a field */
	CSV_UNQUOTED,    /* inside an unquoted field */
	CSV_QUOTED,      /* inside a quoted field */
	CSV_QUOTE_SEEN,  /* a quote inside a quoted field: "" or the end */
	CSV_AFTER_CR,    /* a record ended with CR: swallow one LF */
};

static const unsigned char csv_bom[3] = {0xef, 0xbb, 0xbf};

struct csv_parser {
	size_t max_row, max_fields;
	char *data;        /* max_row + max_fields bytes */
	size_t dlen;       /* bytes used in data */
	size_t fstart;     /* where the current field begins in data */
	size_t *len;       /* max_fields */
	const char **ptr;  /* max_fields */
	size_t nfields;    /* fields of the current record completed */
	size_t raw;        /* encoded bytes of the current record */
	uint64_t line;     /* current line, 1-based */
	uint64_t rec_line; /* the line the current record started on */
	uint64_t quote_line;
	uint64_t records;
	enum csv_state state;
	unsigned bom;      /* BOM bytes matched; 3 when past the start */
	enum cs_rc failed; /* sticky */
	char failmsg[CS_ERR_MSG_MAX];
};

struct csv_parser *
csv_new(size_t max_row, size_t max_fields)
{
	struct csv_parser *p;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->max_row = max_row != 0 ? max_row : CSV_ROW_MAX;
	p->max_fields = max_fields != 0 ? max_fields : CSV_FIELDS_MAX;
	p->data = calloc(p->max_row + p->max_fields, 1);
	p->len = calloc(p->max_fields, sizeof(*p->len));
	p->ptr = calloc(p->max_fields, sizeof(*p->ptr));
	if (p->data == NULL || p->len == NULL || p->ptr == NULL) {
		csv_free(p);
		return NULL;
	}
	p->line = p->rec_line = 1;
	p->state = CSV_FIELD_START;
	return p;
}

void
csv_free(struct csv_parser *p)
{
	if (p == NULL)
		return;
	if (p->data != NULL)
		OPENSSL_cleanse(p->data, p->max_row + p->max_fields);
	free(p->data);
	free(p->len);
	free(p->ptr);
	free(p);
}

uint64_t
csv_records(const struct csv_parser *p)
{
	return p->records;
}

/* Record a failure; every later call repeats it. */
static enum cs_rc
csv_fail(
    struct csv_parser *p, enum cs_rc rc, const char *msg, struct cs_err *err)
{
	p->failed = rc;
	cs_strlcpy(p->failmsg, msg, sizeof(p->failmsg));
	return cs_err_set(err, rc, "%s", p->failmsg);
}

static enum cs_rc
csv_fail_line(
    struct csv_parser *p, uint64_t line, const char *what, struct cs_err *err)
{
	struct cs_err e = {0};

	cs_err_set(&e, CS_ERR_INVALID, "line %llu: %s",
	    (unsigned long long)line, what);
	return csv_fail(p, CS_ERR_INVALID, e.msg, err);
}

/* One more encoded byte in the record: check the record limit. */
static enum cs_rc
csv_count(struct csv_parser *p, struct cs_err *err)
{
	struct cs_err e = {0};

	if (++p->raw <= p->max_row)
		return CS_OK;
	cs_err_set(&e, CS_ERR_INVALID, "row longer than %zu bytes", p->max_row);
	return csv_fail_line(p, p->rec_line, e.msg, err);
}

static enum cs_rc
csv_end_field(struct csv_parser *p, struct cs_err *err)
{
	struct cs_err e = {0};

	if (p->nfields == p->max_fields) {
		cs_err_set(
		    &e, CS_ERR_INVALID, "more than %zu columns", p->max_fields);
		return csv_fail_line(p, p->rec_line, e.msg, err);
	}
	p->len[p->nfields] = p->dlen - p->fstart;
	p->ptr[p->nfields] = p->data + p->fstart;
	p->nfields++;
	p->data[p->dlen++] = '\0';
	p->fstart = p->dlen;
	return CS_OK;
}

/*
 * The record is complete (its line end, if any, consumed and counted):
 * hand it over unless the line was empty, then start the next one.
 */
static enum cs_rc
csv_end_record(
    struct csv_parser *p, csv_row_fn fn, void *arg, struct cs_err *err)
{
	struct csv_row row;
	enum cs_rc rc;
	bool empty;

	empty = p->raw == 0 && p->nfields == 0;
	if (!empty) {
		rc = csv_end_field(p, err);
		if (rc != CS_OK)
			return rc;
		p->records++;
		row.n = p->nfields;
		row.field = p->ptr;
		row.len = p->len;
		row.index = p->records;
		row.line = p->rec_line;
		rc = fn(arg, &row, err);
		if (rc != CS_OK) {
			p->failed = rc;
			cs_strlcpy(p->failmsg,
			    err != NULL ? err->msg : "stopped by the caller",
			    sizeof(p->failmsg));
			return rc;
		}
	}
	p->nfields = 0;
	p->dlen = p->fstart = p->raw = 0;
	p->rec_line = p->line;
	return CS_OK;
}

static enum cs_rc
csv_byte(struct csv_parser *p, unsigned char c, csv_row_fn fn, void *arg,
    struct cs_err *err)
{
	enum cs_rc rc;

	switch (p->state) {
	case CSV_AFTER_CR:
		p->state = CSV_FIELD_START;
		if (c == '\n')
			return CS_OK;
		/* A lone CR ended the record: c starts the next one. */
		/* FALLTHROUGH */
	case CSV_FIELD_START:
		if (c == '"') {
			p->state = CSV_QUOTED;
			p->quote_line = p->line;
			return csv_count(p, err);
		}
		/* FALLTHROUGH */
	case CSV_UNQUOTED:
	case CSV_QUOTE_SEEN:
		if (c == ',') {
			rc = csv_count(p, err);
			if (rc == CS_OK)
				rc = csv_end_field(p, err);
			p->state = CSV_FIELD_START;
			return rc;
		}
		if (c == '\r' || c == '\n') {
			p->line++;
			p->state = c == '\r' ? CSV_AFTER_CR : CSV_FIELD_START;
			return csv_end_record(p, fn, arg, err);
		}
		if (p->state == CSV_QUOTE_SEEN) {
			if (c != '"')
				return csv_fail_line(p, p->line,
				    "a quoted field must be followed by a "
				    "comma "
				    "or a line end",
				    err);
			p->state = CSV_QUOTED; /* "" is one quote */
		} else if (c == '"') {
			return csv_fail_line(p, p->line,
			    "a quote inside an unquoted field (quote the "
			    "field and double the quote)",
			    err);
		} else {
			p->state = CSV_UNQUOTED;
		}
		break;
	case CSV_QUOTED:
		if (c == '"') {
			p->state = CSV_QUOTE_SEEN;
			return csv_count(p, err);
		}
		if (c == '\n')
			p->line++;
		break;
	}
	rc = csv_count(p, err);
	if (rc == CS_OK)
		p->data[p->dlen++] = (char)c;
	return rc;
}

enum cs_rc
csv_feed(struct csv_parser *p, const void *data, size_t len, csv_row_fn fn,
    void *arg, struct cs_err *err)
{
	const unsigned char *s = data;
	enum cs_rc rc = CS_OK;
	unsigned k, matched;
	size_t i = 0;

	if (p->failed != CS_OK)
		return cs_err_set(err, p->failed, "%s", p->failmsg);
	/* The BOM may arrive split over calls: match it byte by byte. */
	while (p->bom < 3 && i < len) {
		if (s[i] == csv_bom[p->bom]) {
			p->bom++;
			i++;
			continue;
		}
		/* Not a BOM after all: what matched so far is data. */
		matched = p->bom;
		p->bom = 3;
		for (k = 0; rc == CS_OK && k < matched; k++)
			rc = csv_byte(p, csv_bom[k], fn, arg, err);
		if (rc != CS_OK)
			return rc;
	}
	for (; i < len; i++) {
		rc = csv_byte(p, s[i], fn, arg, err);
		if (rc != CS_OK)
			return rc;
	}
	return CS_OK;
}

enum cs_rc
csv_finish(struct csv_parser *p, csv_row_fn fn, void *arg, struct cs_err *err)
{
	enum cs_rc rc = CS_OK;
	unsigned k, matched;

	if (p->failed != CS_OK)
		return cs_err_set(err, p->failed, "%s", p->failmsg);
	if (p->bom < 3) {
		matched = p->bom;
		p->bom = 3;
		for (k = 0; rc == CS_OK && k < matched; k++)
			rc = csv_byte(p, csv_bom[k], fn, arg, err);
		if (rc != CS_OK)
			return rc;
	}
	if (p->state == CSV_QUOTED)
		return csv_fail_line(
		    p, p->quote_line, "quoted field never closed", err);
	if (p->state == CSV_AFTER_CR ||
	    (p->state == CSV_FIELD_START && p->nfields == 0 && p->raw == 0))
		return CS_OK;
	rc = csv_end_record(p, fn, arg, err);
	p->state = CSV_FIELD_START;
	return rc;
}

enum cs_rc
csv_append_field(struct buf *b, const char *s, size_t len, bool first)
{
	enum cs_rc rc = CS_OK;
	bool quote;
	size_t i, from;

	quote = len > 0 && (s[0] == ' ' || s[len - 1] == ' ');
	for (i = 0; i < len && !quote; i++)
		quote =
		    s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
	if (!first)
		rc = buf_append(b, ",", 1);
	if (rc != CS_OK || !quote)
		return rc == CS_OK ? buf_append(b, s, len) : rc;
	rc = buf_append(b, "\"", 1);
	for (i = from = 0; rc == CS_OK && i < len; i++) {
		if (s[i] != '"')
			continue;
		/* Up to and including the quote, then the quote again. */
		rc = buf_append(b, s + from, i + 1 - from);
		if (rc == CS_OK)
			rc = buf_append(b, "\"", 1);
		from = i + 1;
	}
	if (rc == CS_OK)
		rc = buf_append(b, s + from, len - from);
	if (rc == CS_OK)
		rc = buf_append(b, "\"", 1);
	return rc;
}
