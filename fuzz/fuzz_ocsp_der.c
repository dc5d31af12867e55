/*
 * fuzz_ocsp_der.c: POST /ocsp bodies, DER OCSPRequests parsed by
 * crypto_ocsp_request_parse() (crypto/ocsp.c) whenever a request is not
 * byte for byte the usual one.  The answer is a key or malformedRequest,
 * the OpenSSL error queue left empty either way.
 */
#include <openssl/err.h>

#include "crypto/crypto.h"
#include "fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct crypto_ocsp_key k, k2;
	struct cs_err err = {0};

	if (crypto_ocsp_request_parse(data, size, &k, &err) == CS_OK) {
		FUZZ_CHECK(k.len > 0 && k.len <= sizeof(k.b));
		FUZZ_CHECK(
		    crypto_ocsp_request_parse(data, size, &k2, NULL) == CS_OK);
		FUZZ_CHECK(k.len == k2.len && memcmp(k.b, k2.b, k.len) == 0);
	} else {
		FUZZ_CHECK(err.rc == CS_ERR_INVALID);
	}
	FUZZ_CHECK(ERR_peek_error() == 0);
	return 0;
}
