/*
 * fuzz_objection.c: POST /v1/holder/objections and POST
 * /v1/objections/{id}/resolve bodies.  Filing goes through
 * objection_file() itself for a holder against a store-only service (its
 * checks come before the store lookup, which then answers not found);
 * resolving through the static resolve_parse() of certsvc/objection.c and,
 * for a correction, body_parse() of certsvc/lifecycle.c, as
 * objection_resolve() and lifecycle_prepare() run them (both included).
 *
 * Input: byte 0 picks filing (even) or resolving (odd), the rest is the
 * body.
 */
#include "certsvc/lifecycle.c"
#include "certsvc/objection.c"

#include "certsvc/jcs.h"
#include "fuzz/fuzz.h"

static void
fuzz_file(const json_t *body)
{
	struct client_principal p;
	struct store_objection o;
	struct cs_err err = {0};
	enum cs_rc rc;

	fuzz_principal(&p, CLIENT_HOLDER, "C-holder");
	rc = objection_file(fuzz_svc(), &p, body, &o, &err);
	FUZZ_CHECK(rc == CS_ERR_INVALID || rc == CS_ERR_NOT_FOUND);
	FUZZ_CHECK(FUZZ_MSG_OK(&err));
}

static void
fuzz_resolve(const json_t *body)
{
	char reason[STORE_TEXT_MAX];
	struct lifecycle_change c;
	struct licence_edit e;
	struct cs_err err = {0};
	json_t *corr = NULL;
	bool corrected = false, penalty;

	if (resolve_parse(body, &corrected, reason, sizeof(reason), &corr,
	        &err) != CS_OK) {
		FUZZ_CHECK(err.rc == CS_ERR_INVALID && FUZZ_MSG_OK(&err));
		FUZZ_CHECK(corr == NULL);
		return;
	}
	FUZZ_CHECK(corrected == (corr != NULL));
	if (corr == NULL)
		return;
	memset(&c, 0, sizeof(c));
	c.action = LIFECYCLE_CORRECT;
	if (body_parse(corr, &c, &e, &penalty, &err) != CS_OK)
		FUZZ_CHECK(err.rc == CS_ERR_INVALID && FUZZ_MSG_OK(&err));
	json_decref(corr);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_json_pick(data, size, fuzz_file, fuzz_resolve);
}
