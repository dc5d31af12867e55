/*
 * fuzz_report.c: report envelopes verified offline (`certsvc-admin report
 * verify`, report_verify() in certsvc/report.c): an envelope or a whole
 * POST /v1/verify response, read with jcs_parse() as the tool reads it.
 */
#include <openssl/err.h>

#include "certsvc/jcs.h"
#include "certsvc/report.h"
#include "fuzz/fuzz.h"

static X509 *root;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init();
	root = fuzz_cert("root.pem");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct report_verified out;
	struct cs_err err = {0};
	json_t *in = NULL;
	enum cs_rc rc;

	if (jcs_parse(data, size, &in, NULL) != CS_OK)
		return 0;
	rc = report_verify(in, root, &out, &err);
	FUZZ_CHECK(rc == CS_OK || rc == CS_ERR_INVALID);
	FUZZ_CHECK(!out.ok || (rc == CS_OK && out.report != NULL));
	FUZZ_CHECK(out.ok || out.report == NULL);
	FUZZ_CHECK(ERR_peek_error() == 0);
	report_verified_release(&out);
	json_decref(in);
	return 0;
}
