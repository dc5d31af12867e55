/*
 * fuzz_ltype.c: licence type definitions (`certsvc-admin type add`,
 * ltype_parse() in certsvc/ltype.c), and the fields of a request checked
 * against what parsed: input "<definition>\n\n<fields object>".
 */
#include "certsvc/jcs.h"
#include "certsvc/ltype.h"
#include "fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *sep = NULL, *p;
	struct cs_err err = {0};
	struct ltype *lt = NULL;
	json_t *fields = NULL;
	size_t n = size, i;

	for (p = data; p + 1 < data + size; p++)
		if (p[0] == '\n' && p[1] == '\n') {
			sep = p;
			n = (size_t)(p - data);
			break;
		}
	if (ltype_parse((const char *)data, n, &lt, &err) != CS_OK) {
		FUZZ_CHECK(err.rc == CS_ERR_INVALID && lt == NULL);
		return 0;
	}
	FUZZ_CHECK(lt->nfields <= LTYPE_MAX_FIELDS);
	FUZZ_CHECK(lt->validity_days >= 1 && lt->validity_days <= 36500);
	for (i = 0; i < lt->nfields; i++)
		FUZZ_CHECK(memchr(lt->fields[i].name, '\0',
		               sizeof(lt->fields[i].name)) != NULL);
	if (sep != NULL &&
	    jcs_parse(sep + 2, size - n - 2, &fields, NULL) == CS_OK) {
		if (ltype_check_fields(lt, fields, &err) != CS_OK)
			FUZZ_CHECK(
			    err.rc == CS_ERR_INVALID && FUZZ_MSG_OK(&err));
		json_decref(fields);
	}
	ltype_free(lt);
	return 0;
}
