/*
 * fuzz_b64.c: strict base64 (crypto/b64.c), which decodes every document,
 * seal and OCSP GET request.  Strictness means one text per byte string:
 * what decodes must encode back to the same text, and what is encoded
 * must decode back to the same bytes.
 */
#include <string.h>

#include "crypto/crypto.h"
#include "fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf *dec = NULL, *enc = NULL, *back = NULL;
	struct cs_err err = {0};

	if (crypto_b64_decode((const char *)data, size, &dec, &err) == CS_OK) {
		FUZZ_CHECK(crypto_b64_encode(dec->data, dec->len, &enc, &err) ==
		    CS_OK);
		FUZZ_CHECK(
		    enc->len == size && memcmp(enc->data, data, size) == 0);
		buf_free(enc);
		enc = NULL;
	} else {
		FUZZ_CHECK(dec == NULL && err.rc == CS_ERR_INVALID);
	}
	FUZZ_CHECK(crypto_b64_encode(data, size, &enc, &err) == CS_OK);
	FUZZ_CHECK(crypto_b64_decode((const char *)enc->data, enc->len, &back,
	               &err) == CS_OK);
	FUZZ_CHECK(back->len == size && memcmp(back->data, data, size) == 0);
	buf_free(dec);
	buf_free(enc);
	buf_free(back);
	return 0;
}
