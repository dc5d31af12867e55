/*
 * fuzz_jcs.c: canonical JSON (certsvc/jcs.c), the parser of every request
 * body and of every document certsvc verifies.  What jcs_encode() writes
 * for a parsed value, jcs_parse() must read back into a value that
 * encodes to the same bytes; an 8-byte input is also a double, whose
 * ECMAScript form must read back as that double.
 */
#include <math.h>
#include <string.h>

#include "certsvc/jcs.h"
#include "fuzz/fuzz.h"

static void
fuzz_number(const uint8_t *data)
{
	char out[64], *end;
	struct cs_err err = {0};
	double d, back;

	memcpy(&d, data, sizeof(d));
	if (jcs_number(d, out, sizeof(out), &err) != CS_OK) {
		FUZZ_CHECK(!isfinite(d));
		return;
	}
	FUZZ_CHECK(isfinite(d));
	back = strtod(out, &end);
	FUZZ_CHECK(*end == '\0');
	FUZZ_CHECK(back == d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cs_err err = {0};
	struct buf *a = NULL, *b = NULL;
	json_t *v = NULL, *w = NULL;

	if (size == sizeof(double))
		fuzz_number(data);
	if (jcs_parse(data, size, &v, &err) != CS_OK) {
		FUZZ_CHECK(err.rc == CS_ERR_INVALID && v == NULL);
		FUZZ_CHECK(FUZZ_MSG_OK(&err));
		return 0;
	}
	if (jcs_encode(v, &a, &err) == CS_OK) {
		FUZZ_CHECK(jcs_parse(a->data, a->len, &w, &err) == CS_OK);
		FUZZ_CHECK(jcs_encode(w, &b, &err) == CS_OK);
		FUZZ_CHECK(
		    a->len == b->len && memcmp(a->data, b->data, a->len) == 0);
	}
	buf_free(a);
	buf_free(b);
	json_decref(v);
	json_decref(w);
	return 0;
}
