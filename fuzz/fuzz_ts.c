/*
 * fuzz_ts.c: POST /tsa bodies, TimeStampReqs checked by crypto_ts_check()
 * and answered by crypto_ts_respond() (crypto/ts.c) without a signer, as
 * when the TSA key is not ready: whatever the bytes, the answer is a DER
 * TimeStampResp rejection whose failure is the check's (systemFailure for
 * an acceptable request), and the OpenSSL error queue is left empty.
 */
#include <openssl/err.h>
#include <openssl/ts.h>

#include "crypto/crypto.h"
#include "fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct crypto_ts_req r, r2;
	struct buf *resp = NULL;
	const unsigned char *p;
	TS_RESP *tr;

	crypto_ts_check(data, size, &r);
	FUZZ_CHECK(r.fail == CRYPTO_TS_OK || r.reason[0] != '\0');
	FUZZ_CHECK((r.fail == CRYPTO_TS_OK) == (r.md != NULL));
	FUZZ_CHECK(
	    crypto_ts_respond(NULL, data, size, &resp, &r2, NULL) == CS_OK);
	FUZZ_CHECK(r2.fail ==
	    (r.fail == CRYPTO_TS_OK ? CRYPTO_TS_SYSTEM_FAILURE : r.fail));
	p = resp->data;
	tr = d2i_TS_RESP(NULL, &p, (long)resp->len);
	FUZZ_CHECK(tr != NULL && p == resp->data + resp->len);
	FUZZ_CHECK(TS_RESP_get_token(tr) == NULL);
	TS_RESP_free(tr);
	buf_free(resp);
	FUZZ_CHECK(ERR_peek_error() == 0);
	return 0;
}
