/*
 * fuzz_audit_export.c: an exported audit checkpoint handed to
 * `certsvc-admin audit verify --checkpoint FILE` (the static
 * audit_parse_export() of certsvc/audit.c, included).
 */
#include "certsvc/audit.c"

#include "fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_checkpoint c;
	struct cs_err err = {0};

	if (audit_parse_export(data, size, &c, &err) == CS_OK) {
		FUZZ_CHECK(c.seq > 0 && c.document != NULL && c.seal != NULL);
		store_checkpoint_release(&c);
	} else {
		FUZZ_CHECK(err.rc == CS_ERR_INVALID);
		FUZZ_CHECK(c.document == NULL && c.seal == NULL);
	}
	return 0;
}
