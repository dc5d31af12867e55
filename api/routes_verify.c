/*
 * routes_verify.c: POST /v1/verify, for relying parties (verifier clients
 * only).  The body names what to verify (an envelope, a document and its
 * seal, or a licence id); the answer is 200 whatever the verdict, with the
 * checks and the signed report (certsvc/verify.c).  Errors: 401 without a
 * known token, 403 for other roles, 400 for a malformed body naming the
 * member, 404 for an unknown licence_id, 503 when no report key exists yet
 * (the token has not been reachable since certsvcd started).
 */
#include <stdlib.h>

#include "api/api.h"
#include "api/routes.h"
#include "certsvc/verify.h"

enum MHD_Result
api_verify(struct api_req *req)
{
	struct client_principal p;
	struct cs_err err = {0};
	enum MHD_Result ret;
	json_t *body;
	char *text = NULL;
	size_t len = 0;
	enum cs_rc rc;

	if (!api_authenticate(req, &p, &ret))
		return ret;
	if (p.role != CLIENT_VERIFIER)
		return api_reply_error(req, 403, "denied",
		    "only verifier clients verify licences");
	body = api_json_body(req, &ret);
	if (body == NULL)
		return ret;
	rc = verify_request_text(req->svc, &p, body, &text, &len, &err);
	json_decref(body);
	if (rc != CS_OK) {
		if (err.rc == CS_OK)
			cs_err_set(&err, rc, "verification failed");
		return api_reply_rc(req, &err);
	}
	ret = api_reply(req, 200, "application/json", text, len);
	free(text);
	return ret;
}
