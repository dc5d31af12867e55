/*
 * fuzz_csv.c: the CSV reader of `licence import` (tools/csv.c) and the
 * cell conversion of each row into a request member (imp_value() in
 * tools/admin_licence.c).  The reader is incremental, so the same bytes
 * fed whole and fed in pieces of any size must give the same records and
 * the same verdict; small limits make the limit paths reachable.
 *
 * Input: byte 0 picks the piece sizes, the rest is the file.
 */
#include "tools/admin_licence.c"

#include "fuzz/fuzz.h"

/* The command table lives in certsvc-admin.c, which has main(). */
const struct admin_command admin_commands[] = {
    {NULL, NULL, NULL, NULL, NULL, NULL}};

#define FUZZ_ROW_MAX 512
#define FUZZ_FIELDS_MAX 16

/* Every record as "<n>:" then "<len>:<bytes>" per field, appended to b. */
static enum cs_rc
fuzz_csv_row(void *arg, const struct csv_row *row, struct cs_err *err)
{
	static const struct ltype_field types[] = {
	    {.name = "s", .type = LTYPE_STRING},
	    {.name = "i", .type = LTYPE_INTEGER},
	    {.name = "n", .type = LTYPE_NUMBER},
	    {.name = "b", .type = LTYPE_BOOLEAN},
	    {.name = "d", .type = LTYPE_DATE},
	};
	struct buf *b = arg;
	json_t *v;
	size_t i, t;

	(void)err;
	FUZZ_CHECK(row->n >= 1 && row->n <= FUZZ_FIELDS_MAX);
	if (buf_printf(b, "%zu:", row->n) != CS_OK)
		abort();
	for (i = 0; i < row->n; i++) {
		FUZZ_CHECK(row->field[i][row->len[i]] == '\0');
		if (buf_printf(b, "%zu:", row->len[i]) != CS_OK ||
		    buf_append(b, row->field[i], row->len[i]) != CS_OK)
			abort();
		/* Cells after the header become request members. */
		if (row->index < 2 || row->len[i] == 0)
			continue;
		for (t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
			v = imp_value(&types[t], row->field[i], row->len[i]);
			json_decref(v);
		}
	}
	return CS_OK;
}

/* Parse data in pieces (sizes from seed; 0: whole); the verdict into err. */
static struct buf *
fuzz_csv_parse(
    const uint8_t *data, size_t size, unsigned seed, struct cs_err *err)
{
	struct csv_parser *p = csv_new(FUZZ_ROW_MAX, FUZZ_FIELDS_MAX);
	struct buf *b = buf_new(64);
	size_t off = 0, n;
	enum cs_rc rc = CS_OK;

	FUZZ_CHECK(p != NULL && b != NULL);
	while (off < size && rc == CS_OK) {
		n = seed == 0 ? size - off : 1 + (seed + off) % (seed % 13 + 1);
		if (n > size - off)
			n = size - off;
		rc = csv_feed(p, data + off, n, fuzz_csv_row, b, err);
		off += n;
	}
	if (rc == CS_OK)
		rc = csv_finish(p, fuzz_csv_row, b, err);
	if (rc != CS_OK) {
		FUZZ_CHECK(err->rc == CS_ERR_INVALID);
		/* After a failure every later call fails the same way. */
		FUZZ_CHECK(
		    csv_feed(p, "a\n", 2, fuzz_csv_row, b, NULL) != CS_OK);
	}
	csv_free(p);
	return b;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cs_err e1 = {0}, e2 = {0};
	struct buf *whole, *pieces;

	if (size < 1)
		return 0;
	whole = fuzz_csv_parse(data + 1, size - 1, 0, &e1);
	pieces = fuzz_csv_parse(data + 1, size - 1, data[0] + 1u, &e2);
	FUZZ_CHECK(e1.rc == e2.rc);
	FUZZ_CHECK(strcmp(e1.msg, e2.msg) == 0);
	FUZZ_CHECK(whole->len == pieces->len &&
	    memcmp(whole->data, pieces->data, whole->len) == 0);
	buf_free(whole);
	buf_free(pieces);
	return 0;
}
