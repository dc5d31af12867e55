/*
 * fuzz_lifecycle.c: bodies of POST /v1/licences/{id}/suspend, reinstate,
 * revoke, cancel, transfer, renew and corrections, checked by the static
 * body_parse() of certsvc/lifecycle.c (included), the step of
 * lifecycle_prepare() that reads the request; and the action names of the
 * path (lifecycle_action_parse).
 *
 * Input: byte 0 picks the action, the rest is the body (empty: none).
 */
#include "certsvc/lifecycle.c"

#include "certsvc/jcs.h"
#include "fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lifecycle_change c;
	struct licence_edit e;
	struct cs_err err = {0};
	enum lifecycle_action a;
	json_t *body = NULL;
	bool penalty = false;
	char *name;

	if (size < 1)
		return 0;
	name = fuzz_strndup(data + 1, size - 1);
	if (lifecycle_action_parse(name, &a))
		FUZZ_CHECK(strcmp(lifecycle_action_name(a), name) == 0);
	free(name);
	if (size > 1 && jcs_parse(data + 1, size - 1, &body, NULL) != CS_OK)
		return 0;
	memset(&c, 0, sizeof(c));
	c.action = (enum lifecycle_action)(1 + data[0] % LIFECYCLE_CORRECT);
	if (body_parse(body, &c, &e, &penalty, &err) == CS_OK) {
		FUZZ_CHECK(strlen(c.reason) <= LIFECYCLE_REASON_MAX);
		FUZZ_CHECK(!penalty || c.action == LIFECYCLE_REVOKE);
		FUZZ_CHECK(c.action != LIFECYCLE_CORRECT || e.fields != NULL);
		FUZZ_CHECK(c.action != LIFECYCLE_RENEW || e.until_day >= 0);
	} else {
		FUZZ_CHECK(err.rc == CS_ERR_INVALID && FUZZ_MSG_OK(&err));
	}
	json_decref(body);
	return 0;
}
