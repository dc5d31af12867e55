/*
 * fuzz_verify.c: POST /v1/verify bodies, through verify_request() as
 * api_verify() calls it (body parsed by jcs_parse(), an object): the
 * envelope form (docs/envelope.md), the document + seal form and the
 * licence_id form, each check of certsvc/verify.c run against a store-only
 * service with the fixed root.  No report key exists, so a request that
 * gets through every check ends in CS_ERR_TOKEN at signing; the checks
 * and the report's canonical form have run by then.
 */
#include "certsvc/jcs.h"
#include "certsvc/verify.h"
#include "fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct client_principal p;
	struct cs_err err = {0};
	json_t *req = NULL, *out = NULL;
	enum cs_rc rc;

	if (jcs_parse(data, size, &req, NULL) != CS_OK)
		return 0;
	if (json_is_object(req)) {
		fuzz_principal(&p, CLIENT_VERIFIER, "C-fuzz");
		rc = verify_request(fuzz_svc(), &p, req, &out, &err);
		FUZZ_CHECK(rc == CS_OK || out == NULL);
		if (rc != CS_OK)
			FUZZ_CHECK(FUZZ_MSG_OK(&err));
		json_decref(out);
	}
	json_decref(req);
	return 0;
}
