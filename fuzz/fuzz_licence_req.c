/*
 * fuzz_licence_req.c: POST /v1/licences bodies and Idempotency-Key
 * headers, checked as licence_issue() checks them before it touches the
 * store (certsvc/licence.c, included for its static req_parse() and
 * idem_key_ok()): the body's shape, its fields against a licence type
 * with every field type (ltype_check_fields), the holder reference
 * (holder_ref_make) and the canonical form the idempotency hash is taken
 * over.  Every refusal's message is UTF-8, since it reaches the client.
 */
#include "certsvc/licence.c"

#include "fuzz/fuzz.h"

static const char fuzz_type[] =
    "{\"code\": \"TA01\", \"name\": \"食品经营许可证\", "
    "\"departments\": [\"91110105MA0123453U\"], \"validity_days\": 365, "
    "\"fields\": ["
    "{\"name\": \"scope\", \"type\": \"string\", \"required\": true, "
    "\"max_length\": 64},"
    "{\"name\": \"capital\", \"type\": \"number\"},"
    "{\"name\": \"staff\", \"type\": \"integer\"},"
    "{\"name\": \"chain\", \"type\": \"boolean\"},"
    "{\"name\": \"since\", \"type\": \"date\"},"
    "{\"name\": \"owner_id\", \"type\": \"string\", \"sensitive\": true}]}";

static struct ltype *lt;
static struct svc fake; /* holder_ref_make() reads the holder key only */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct cs_err err = {0};

	(void)argc;
	(void)argv;
	fuzz_init();
	if (ltype_parse(fuzz_type, strlen(fuzz_type), &lt, &err) != CS_OK) {
		fprintf(stderr, "fuzz: type: %s\n", err.msg);
		abort();
	}
	memset(fake.holder_key, 0x5a, sizeof(fake.holder_key));
	fake.has_holder_key = true;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char ref[STORE_CODE_MAX + 8];
	struct licence_req r;
	struct cs_err err = {0};
	struct buf *canon = NULL;
	json_t *req = NULL;
	char *key;

	/* The header: the first line of the input. */
	key = fuzz_strndup(data, size);
	key[strcspn(key, "\n")] = '\0';
	if (idem_key_ok(key))
		FUZZ_CHECK(strlen(key) <= LICENCE_IDEM_KEY_MAX);
	free(key);

	if (jcs_parse(data, size, &req, NULL) != CS_OK)
		return 0;
	if (req_parse(req, &r, &err) != CS_OK) {
		FUZZ_CHECK(err.rc == CS_ERR_INVALID && FUZZ_MSG_OK(&err));
		goto out;
	}
	FUZZ_CHECK(r.type != NULL && r.holder_name != NULL &&
	    r.id_type != NULL && r.id_number != NULL && r.fields != NULL);
	if (ltype_check_fields(lt, r.fields, &err) != CS_OK)
		FUZZ_CHECK(err.rc == CS_ERR_INVALID && FUZZ_MSG_OK(&err));
	cs_err_clear(&err);
	if (holder_ref_make(
	        &fake, r.id_type, r.id_number, ref, sizeof(ref), &err) == CS_OK)
		FUZZ_CHECK(strlen(ref) == 64);
	else
		FUZZ_CHECK(FUZZ_MSG_OK(&err));
	if (jcs_encode(req, &canon, &err) != CS_OK)
		FUZZ_CHECK(FUZZ_MSG_OK(&err));
out:
	buf_free(canon);
	json_decref(req);
	return 0;
}
