/*
 * check_csv.c: tools/csv.c, the incremental CSV reader.  Every input is
 * parsed whole and again one byte at a time and in uneven pieces, which
 * must give the same records: a record split at any byte must not change.
 * Records are flattened to "f1|f2\n" with [line] prefixes for comparison.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certsvc/mem.h"
#include "tools/csv.h"

struct rec {
	char text[8192];
	size_t n;
	int stop_at; /* stop the parse at this record (0: never) */
};

static enum cs_rc
rec_row(void *arg, const struct csv_row *row, struct cs_err *err)
{
	struct rec *r = arg;
	size_t i;
	int w;

	if (r->stop_at != 0 && row->index == (uint64_t)r->stop_at)
		return cs_err_set(err, CS_ERR_CONFLICT, "stopped at %llu",
		    (unsigned long long)row->index);
	w = snprintf(r->text + r->n, sizeof(r->text) - r->n, "[%llu]",
	    (unsigned long long)row->line);
	ck_assert(w > 0 && (size_t)w < sizeof(r->text) - r->n);
	r->n += (size_t)w;
	for (i = 0; i < row->n; i++) {
		ck_assert_uint_eq(strlen(row->field[i]), row->len[i]);
		ck_assert_uint_lt(r->n + row->len[i] + 2, sizeof(r->text));
		if (i > 0)
			r->text[r->n++] = '|';
		memcpy(r->text + r->n, row->field[i], row->len[i]);
		r->n += row->len[i];
	}
	r->text[r->n++] = '\n';
	r->text[r->n] = '\0';
	return CS_OK;
}

/*
 * Parse in pieces of chunk bytes (0: whole); returns the rc, records in
 * out, the message in err.
 */
static enum cs_rc
parse_chunked(const char *in, size_t len, size_t chunk, size_t max_row,
    size_t max_fields, struct rec *out, struct cs_err *err)
{
	struct csv_parser *p;
	enum cs_rc rc = CS_OK;
	size_t off = 0, n;

	p = csv_new(max_row, max_fields);
	ck_assert_ptr_nonnull(p);
	while (rc == CS_OK && off < len) {
		n = chunk == 0 || len - off < chunk ? len - off : chunk;
		rc = csv_feed(p, in + off, n, rec_row, out, err);
		off += n;
		/* Uneven pieces: 1, 2, 3, ... up to chunk. */
		if (chunk > 1)
			chunk = chunk % 7 + 1;
	}
	if (rc == CS_OK)
		rc = csv_finish(p, rec_row, out, err);
	csv_free(p);
	return rc;
}

/* Parse in = want, whole, byte by byte and in uneven pieces. */
static void
expect_records(const char *in, size_t len, const char *want)
{
	static const size_t chunks[] = {0, 1, 2, 5};
	struct cs_err err = {0};
	struct rec r;
	size_t i;

	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		memset(&r, 0, sizeof(r));
		ck_assert_msg(
		    parse_chunked(in, len, chunks[i], 0, 0, &r, &err) == CS_OK,
		    "chunk %zu: %s", chunks[i], err.msg);
		ck_assert_msg(strcmp(r.text, want) == 0,
		    "chunk %zu: got\n%s\nwant\n%s", chunks[i], r.text, want);
	}
}

#define EXPECT(in, want) expect_records(in, sizeof(in) - 1, want)

/* Parse in expecting a failure whose message contains msg. */
static void
expect_error(const char *in, size_t len, size_t max_row, size_t max_fields,
    const char *msg)
{
	static const size_t chunks[] = {0, 1, 3};
	struct cs_err err;
	struct rec r;
	size_t i;

	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		memset(&r, 0, sizeof(r));
		memset(&err, 0, sizeof(err));
		ck_assert_int_eq(parse_chunked(in, len, chunks[i], max_row,
		                     max_fields, &r, &err),
		    CS_ERR_INVALID);
		ck_assert_msg(strstr(err.msg, msg) != NULL,
		    "chunk %zu: '%s' lacks '%s'", chunks[i], err.msg, msg);
	}
}

#define EXPECT_ERROR(in, msg) expect_error(in, sizeof(in) - 1, 0, 0, msg)

/* --- plain records -------------------------------------------------------- */

START_TEST(plain_lf)
{
	EXPECT("a,b,c\n1,2,3\n", "[1]a|b|c\n[2]1|2|3\n");
}
END_TEST

START_TEST(crlf_and_lone_cr)
{
	EXPECT("a,b\r\n1,2\r\n", "[1]a|b\n[2]1|2\n");
	EXPECT("a,b\r1,2\r", "[1]a|b\n[2]1|2\n");
	EXPECT("a\r\n\r\nb\n", "[1]a\n[3]b\n");
}
END_TEST

START_TEST(no_final_line_end)
{
	EXPECT("a,b\n1,2", "[1]a|b\n[2]1|2\n");
	EXPECT("x", "[1]x\n");
	EXPECT("a,", "[1]a|\n");
}
END_TEST

START_TEST(empty_fields)
{
	EXPECT("a,,b,\n", "[1]a||b|\n");
	EXPECT(",\n", "[1]|\n");
	EXPECT("\"\"\n", "[1]\n");
	EXPECT("a,\"\",b\n", "[1]a||b\n");
}
END_TEST

START_TEST(empty_lines_are_no_records)
{
	EXPECT("\n\na\n\n\nb\n\n", "[3]a\n[6]b\n");
	EXPECT("", "");
	EXPECT("\r\n", "");
}
END_TEST

/* --- quoting -------------------------------------------------------------- */

START_TEST(quoted_commas_and_newlines)
{
	EXPECT("\"a,b\",c\n", "[1]a,b|c\n");
	EXPECT("\"line1\nline2\",x\nnext\n", "[1]line1\nline2|x\n[3]next\n");
	EXPECT("\"cr\r\nlf\"\r\n", "[1]cr\r\nlf\n");
}
END_TEST

START_TEST(escaped_quotes)
{
	EXPECT("\"say \"\"hi\"\"\",2\n", "[1]say \"hi\"|2\n");
	EXPECT("\"\"\"\"\n", "[1]\"\n");
	EXPECT("\"a\"\"\",\"\"\"b\"\n", "[1]a\"|\"b\n");
}
END_TEST

START_TEST(utf8_passes_through)
{
	EXPECT("张三,\"餐饮,服务\"\n", "[1]张三|餐饮,服务\n");
}
END_TEST

/* --- byte order mark ------------------------------------------------------ */

START_TEST(bom_skipped)
{
	EXPECT("\xef\xbb\xbf"
	       "a,b\n",
	    "[1]a|b\n");
	EXPECT("\xef\xbb\xbf", "");
	/* Only at the start. */
	EXPECT("a\n\xef\xbb\xbf"
	       "b\n",
	    "[1]a\n[2]\xef\xbb\xbf"
	    "b\n");
}
END_TEST

START_TEST(partial_bom_is_data)
{
	EXPECT("\xef\xbb"
	       "a\n",
	    "[1]\xef\xbb"
	    "a\n");
	EXPECT("\xef", "[1]\xef\n");
	EXPECT("\xef,x\n", "[1]\xef|x\n");
}
END_TEST

/* --- errors --------------------------------------------------------------- */

START_TEST(unterminated_quote_names_its_line)
{
	EXPECT_ERROR("a,b\n1,2\n\"open,\nmore\n",
	    "line 3: quoted field never "
	    "closed");
	EXPECT_ERROR("\"", "line 1:");
}
END_TEST

START_TEST(bare_quote_refused)
{
	EXPECT_ERROR("a,b\nx\"y,2\n", "line 2: a quote inside an unquoted");
}
END_TEST

START_TEST(text_after_closing_quote_refused)
{
	EXPECT_ERROR("a\n\"x\"y\n", "line 2: a quoted field must be followed");
	EXPECT_ERROR("\"x\" ,y\n", "line 1:");
}
END_TEST

START_TEST(column_limit)
{
	struct cs_err err = {0};
	char in[2048];
	struct rec r;
	size_t i, n = 0;

	/* 256 columns: fine; 257: refused on the line they are on. */
	n += (size_t)snprintf(in + n, sizeof(in) - n, "h\n");
	for (i = 0; i < 256; i++)
		n += (size_t)snprintf(
		    in + n, sizeof(in) - n, "%s", i ? ",c" : "c");
	in[n++] = '\n';
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(parse_chunked(in, n, 0, 0, 0, &r, &err), CS_OK);
	in[n - 1] = ',';
	in[n++] = 'x';
	in[n++] = '\n';
	expect_error(in, n, 0, 0, "line 2: more than 256 columns");
	expect_error("a,b,c,d\n", 8, 0, 3, "line 1: more than 3 columns");
}
END_TEST

START_TEST(oversize_row)
{
	struct cs_err err = {0};
	struct rec r;
	char *in;
	size_t n = 100;

	/* Exactly max_row bytes (quotes count, the line end not) pass. */
	in = malloc(3 * n);
	ck_assert_ptr_nonnull(in);
	memset(in, 'x', n);
	in[n] = '\n';
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(parse_chunked(in, n + 1, 0, n, 0, &r, &err), CS_OK);
	in[0] = '"';
	in[n - 1] = '"';
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(parse_chunked(in, n + 1, 0, n, 0, &r, &err), CS_OK);
	memset(in, 'x', 2 * n);
	in[2 * n] = '\n';
	expect_error(in, 2 * n + 1, n, 0, "line 1: row longer than 100 bytes");
	/* Quoted newlines do not start a new row. */
	memset(in, '\n', 2 * n);
	in[0] = '"';
	in[2 * n - 1] = '"';
	expect_error(in, 2 * n + 1, n, 0, "row longer than 100 bytes");
	free(in);
}
END_TEST

START_TEST(default_row_limit_is_64k)
{
	struct cs_err err = {0};
	struct rec r;
	char *in;

	in = malloc(CSV_ROW_MAX + 2);
	ck_assert_ptr_nonnull(in);
	memset(in, 'y', CSV_ROW_MAX + 1);
	in[CSV_ROW_MAX + 1] = '\n';
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(
	    parse_chunked(in, CSV_ROW_MAX + 2, 4096, 0, 0, &r, &err),
	    CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, "line 1: row longer than 65536 bytes");
	free(in);
}
END_TEST

START_TEST(errors_are_sticky)
{
	struct csv_parser *p;
	struct cs_err err = {0};
	struct rec r;

	memset(&r, 0, sizeof(r));
	p = csv_new(0, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(
	    csv_feed(p, "a\"b\n", 4, rec_row, &r, &err), CS_ERR_INVALID);
	memset(&err, 0, sizeof(err));
	ck_assert_int_eq(
	    csv_feed(p, "ok\n", 3, rec_row, &r, &err), CS_ERR_INVALID);
	ck_assert_str_eq(err.msg,
	    "line 1: a quote inside an unquoted field "
	    "(quote the field and double the quote)");
	ck_assert_int_eq(csv_finish(p, rec_row, &r, &err), CS_ERR_INVALID);
	ck_assert_uint_eq(r.n, 0);
	csv_free(p);
}
END_TEST

START_TEST(callback_stops_the_parse)
{
	struct cs_err err = {0};
	struct rec r;

	memset(&r, 0, sizeof(r));
	r.stop_at = 2;
	ck_assert_int_eq(
	    parse_chunked("a\nb\nc\n", 6, 0, 0, 0, &r, &err), CS_ERR_CONFLICT);
	ck_assert_str_eq(err.msg, "stopped at 2");
	ck_assert_str_eq(r.text, "[1]a\n");
}
END_TEST

START_TEST(records_counted)
{
	struct csv_parser *p;
	struct rec r;

	memset(&r, 0, sizeof(r));
	p = csv_new(0, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(csv_feed(p, "h\n1\n\n2", 6, rec_row, &r, NULL), CS_OK);
	ck_assert_uint_eq(csv_records(p), 2);
	ck_assert_int_eq(csv_finish(p, rec_row, &r, NULL), CS_OK);
	ck_assert_uint_eq(csv_records(p), 3);
	csv_free(p);
}
END_TEST

/* --- writing -------------------------------------------------------------- */

START_TEST(append_field_quotes_when_needed)
{
	struct buf *b = buf_new(64);

	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(csv_append_field(b, "plain", 5, true), CS_OK);
	ck_assert_int_eq(csv_append_field(b, "a,b", 3, false), CS_OK);
	ck_assert_int_eq(csv_append_field(b, "say \"hi\"", 8, false), CS_OK);
	ck_assert_int_eq(csv_append_field(b, "l1\nl2", 5, false), CS_OK);
	ck_assert_int_eq(csv_append_field(b, "", 0, false), CS_OK);
	ck_assert_int_eq(csv_append_field(b, " pad", 4, false), CS_OK);
	ck_assert_str_eq((char *)b->data,
	    "plain,\"a,b\",\"say \"\"hi\"\"\",\"l1\nl2\",,\" pad\"");
	buf_free(b);
}
END_TEST

START_TEST(append_field_round_trips)
{
	static const char *const cells[] = {
	    "", "\"", "\"\"", ",", "\r\n", "a\"b,c\nd", "张三", " x ", "last"};
	const size_t n = sizeof(cells) / sizeof(cells[0]);
	struct buf *b = buf_new(64), *want = buf_new(64);
	size_t i;

	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(want);
	ck_assert_int_eq(buf_append_str(want, "[1]"), CS_OK);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(
		    csv_append_field(b, cells[i], strlen(cells[i]), i == 0),
		    CS_OK);
		ck_assert_int_eq(
		    buf_printf(want, "%s%s", i ? "|" : "", cells[i]), CS_OK);
	}
	ck_assert_int_eq(buf_append(b, "\r\n", 2), CS_OK);
	ck_assert_int_eq(buf_append_str(want, "\n"), CS_OK);
	expect_records((char *)b->data, b->len, (char *)want->data);
	buf_free(b);
	buf_free(want);
}
END_TEST

/* --- properties over random input --------------------------------------- */

/* xorshift64*: deterministic, so a failure can be replayed. */
static uint64_t
next_random(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 0x2545f4914f6cdd1dULL;
}

START_TEST(property_split_anywhere)
{
	static const char alphabet[] = {
	    'a', 'b', ',', '"', '\r', '\n', (char)0xef, (char)0xbb, (char)0xbf};
	static const size_t chunks[] = {1, 2, 3};
	struct cs_err e0, e1;
	struct rec r0, r1;
	uint64_t state = 0x9e3779b97f4a7c15ULL;
	enum cs_rc rc0, rc1;
	char in[64];
	size_t len, i, c;
	int round;

	for (round = 0; round < 5000; round++) {
		len = next_random(&state) % sizeof(in);
		for (i = 0; i < len; i++)
			in[i] =
			    alphabet[next_random(&state) % sizeof(alphabet)];
		memset(&r0, 0, sizeof(r0));
		memset(&e0, 0, sizeof(e0));
		rc0 = parse_chunked(in, len, 0, 16, 4, &r0, &e0);
		for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
			memset(&r1, 0, sizeof(r1));
			memset(&e1, 0, sizeof(e1));
			rc1 =
			    parse_chunked(in, len, chunks[c], 16, 4, &r1, &e1);
			ck_assert_int_eq(rc1, rc0);
			ck_assert_str_eq(e1.msg, e0.msg);
			if (rc0 == CS_OK)
				ck_assert_str_eq(r1.text, r0.text);
		}
	}
}
END_TEST

START_TEST(property_written_fields_read_back)
{
	static const char alphabet[] = {'x', ' ', ',', '"', '\r', '\n'};
	struct cs_err err = {0};
	struct buf *b, *want;
	uint64_t state = 42;
	char cell[12];
	size_t n, i, j, len;
	struct rec r;
	int round;

	for (round = 0; round < 2000; round++) {
		b = buf_new(64);
		want = buf_new(64);
		ck_assert_ptr_nonnull(b);
		ck_assert_ptr_nonnull(want);
		ck_assert_int_eq(buf_append_str(want, "[1]"), CS_OK);
		n = next_random(&state) % 5 + 1;
		for (i = 0; i < n; i++) {
			/* A lone empty cell would be an empty line. */
			len = next_random(&state) % sizeof(cell);
			if (n == 1 && len == 0)
				len = 1;
			for (j = 0; j < len; j++)
				cell[j] = alphabet[next_random(&state) %
				    sizeof(alphabet)];
			ck_assert_int_eq(
			    csv_append_field(b, cell, len, i == 0), CS_OK);
			if (i > 0)
				ck_assert_int_eq(
				    buf_append(want, "|", 1), CS_OK);
			ck_assert_int_eq(buf_append(want, cell, len), CS_OK);
		}
		ck_assert_int_eq(buf_append(b, "\n", 1), CS_OK);
		ck_assert_int_eq(buf_append(want, "\n", 1), CS_OK);
		memset(&r, 0, sizeof(r));
		ck_assert_int_eq(
		    parse_chunked((char *)b->data, b->len, 0, 0, 0, &r, &err),
		    CS_OK);
		ck_assert_str_eq(r.text, (char *)want->data);
		buf_free(b);
		buf_free(want);
	}
}
END_TEST

static Suite *
csv_suite(void)
{
	Suite *s = suite_create("csv");
	TCase *tc;

	tc = tcase_create("records");
	tcase_add_test(tc, plain_lf);
	tcase_add_test(tc, crlf_and_lone_cr);
	tcase_add_test(tc, no_final_line_end);
	tcase_add_test(tc, empty_fields);
	tcase_add_test(tc, empty_lines_are_no_records);
	tcase_add_test(tc, records_counted);
	suite_add_tcase(s, tc);

	tc = tcase_create("quoting");
	tcase_add_test(tc, quoted_commas_and_newlines);
	tcase_add_test(tc, escaped_quotes);
	tcase_add_test(tc, utf8_passes_through);
	suite_add_tcase(s, tc);

	tc = tcase_create("bom");
	tcase_add_test(tc, bom_skipped);
	tcase_add_test(tc, partial_bom_is_data);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, unterminated_quote_names_its_line);
	tcase_add_test(tc, bare_quote_refused);
	tcase_add_test(tc, text_after_closing_quote_refused);
	tcase_add_test(tc, column_limit);
	tcase_add_test(tc, oversize_row);
	tcase_add_test(tc, default_row_limit_is_64k);
	tcase_add_test(tc, errors_are_sticky);
	tcase_add_test(tc, callback_stops_the_parse);
	suite_add_tcase(s, tc);

	tc = tcase_create("writing");
	tcase_add_test(tc, append_field_quotes_when_needed);
	tcase_add_test(tc, append_field_round_trips);
	suite_add_tcase(s, tc);

	tc = tcase_create("property");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, property_split_anywhere);
	tcase_add_test(tc, property_written_fields_read_back);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(csv_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
