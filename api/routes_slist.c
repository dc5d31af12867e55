/*
 * routes_slist.c: GET /v1/status-lists/{n}, the licence status lists
 * (docs/status-list.md).  Public: no token, so that a verifier can check
 * a licence's status without telling certsvc who it is or which licence
 * it holds.  The answer is the Status List Token signed ahead of time by
 * the refresher; this path only copies it from memory.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "api/routes.h"
#include "certsvc/statuslist.h"

/*
 * The list number of the path: decimal digits, no sign, no leading zero
 * (one spelling per list, so caches hold one copy), within int64_t.
 */
static bool
slist_number(const char *s, int64_t *n)
{
	long long v;
	size_t len = s != NULL ? strlen(s) : 0;

	if (len == 0 || len > 19 || strspn(s, "0123456789") != len ||
	    (s[0] == '0' && len > 1))
		return false;
	if (!cs_parse_ll(s, 0, INT64_MAX, &v))
		return false;
	*n = (int64_t)v;
	return true;
}

enum MHD_Result
api_status_list(struct api_req *req)
{
	struct statuslist_token tok;
	struct cs_err err = {0};
	struct MHD_Response *resp;
	const struct buf *jwt;
	void *hold;
	enum MHD_Result ret;
	int64_t n, now, max_age;
	char cc[48];

	if (!slist_number(api_path_rest(req, "/v1/status-lists/"), &n))
		return api_reply_error(
		    req, 404, "not_found", "no such status list");
	/* draft-ietf-oauth-status-list, historical resolution: not kept. */
	if (MHD_lookup_connection_value(
	        req->conn, MHD_GET_ARGUMENT_KIND, "time") != NULL)
		return api_reply_error(req, 501, "not_implemented",
		    "historical status lists are not kept");
	if (statuslist_fetch_shared(req->svc, n, &tok, &jwt, &hold, &err) !=
	    CS_OK)
		return api_reply_rc(req, &err);
	now = (int64_t)time(NULL);
	max_age = tok.exp - now < tok.ttl ? tok.exp - now : tok.ttl;
	if (max_age < 0)
		max_age = 0;
	snprintf(cc, sizeof(cc), "public, max-age=%lld", (long long)max_age);
	/* The snapshot's bytes, no copy: MHD drops the hold when done. */
	resp = MHD_create_response_from_buffer_with_free_callback_cls(
	    jwt->len, jwt->data, statuslist_unhold, hold);
	if (resp == NULL) {
		statuslist_unhold(hold);
		return MHD_NO;
	}
	MHD_add_response_header(
	    resp, MHD_HTTP_HEADER_CONTENT_TYPE, STATUSLIST_MEDIA_TYPE);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cc);
	/* The draft asks for CORS so that browser-based verifiers can read. */
	MHD_add_response_header(
	    resp, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, "*");
	MHD_add_response_header(resp, "X-Request-Id", req->request_id);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	req->status = 200;
	ret = MHD_queue_response(req->conn, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}
