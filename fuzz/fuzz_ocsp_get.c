/*
 * fuzz_ocsp_get.c: GET /ocsp/{base64} (RFC 6960 A.1), the path as
 * api_ocsp_get() (api/routes_pki.c, included for its static decoder)
 * decodes it: percent-decoding, strict base64, then the DER request.
 */
#include <openssl/err.h>

#include "api/routes_pki.c"

#include "fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct crypto_ocsp_key k;
	struct buf *text, *der = NULL;
	char *path = fuzz_strndup(data, size);
	size_t len = strlen(path);

	if (len == 0 || len > API_OCSP_GET_MAX) {
		free(path);
		return 0;
	}
	text = buf_new(len + 1);
	FUZZ_CHECK(text != NULL);
	if (api_pct_decode(path, (char *)text->data, len + 1)) {
		text->len = strlen((char *)text->data);
		FUZZ_CHECK(text->len <= len);
	}
	if (text->len > 0 &&
	    crypto_b64_decode((char *)text->data, text->len, &der, NULL) ==
	        CS_OK) {
		if (crypto_ocsp_request_parse(der->data, der->len, &k, NULL) ==
		    CS_OK)
			FUZZ_CHECK(k.len <= sizeof(k.b));
	}
	FUZZ_CHECK(ERR_peek_error() == 0);
	buf_free(der);
	buf_free(text);
	free(path);
	return 0;
}
