/*
 * routes_tsa.c: POST /tsa, the RFC 3161 timestamp authority over HTTP
 * (RFC 3161 3.4): a DER TimeStampReq as application/timestamp-query in, a
 * DER TimeStampResp as application/timestamp-reply out.  No API token: a
 * timestamp proves only that a hash existed at a time, and says nothing
 * about who asked.
 *
 * A request refused for what it asks is a TimeStampResp too (status
 * rejection with its PKIFailureInfo) and goes out with 200, as the
 * protocol's answer; only a TSA that cannot sign (token away: systemFailure)
 * answers 503, still with the rejection as its body, so that a load
 * balancer can tell.  Anything that is not a timestamp query at all gets
 * an HTTP error: 415 for another Content-Type, 413 for a body larger than
 * CRYPTO_TS_REQ_MAX.
 */
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "api/routes.h"
#include "certsvc/tsa.h"

#define TSA_QUERY_TYPE "application/timestamp-query"
#define TSA_REPLY_TYPE "application/timestamp-reply"

/* True when the Content-Type is application/timestamp-query. */
static bool
api_tsa_is_query(struct api_req *req)
{
	const char *ct;
	size_t n = strlen(TSA_QUERY_TYPE);

	ct = MHD_lookup_connection_value(
	    req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	return ct != NULL && strncasecmp(ct, TSA_QUERY_TYPE, n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

enum MHD_Result
api_tsa(struct api_req *req)
{
	static const char *const no_store[] = {
	    "Cache-Control", "no-store", NULL};
	static const char *const retry[] = {
	    "Cache-Control", "no-store", "Retry-After", "1", NULL};
	struct crypto_ts_req r;
	struct cs_err err = {0};
	struct buf *resp = NULL;
	enum MHD_Result ret;
	bool down;

	if (!api_tsa_is_query(req))
		return api_reply_error(req, 415, "unsupported_media_type",
		    "Content-Type must be " TSA_QUERY_TYPE);
	if (req->body != NULL && req->body->len > CRYPTO_TS_REQ_MAX)
		return api_reply_error(req, 413, "too_large",
		    "a timestamp query is at most %d bytes", CRYPTO_TS_REQ_MAX);
	if (tsa_respond(req->svc, req->body != NULL ? req->body->data : NULL,
	        req->body != NULL ? req->body->len : 0, &resp, &r,
	        &err) != CS_OK)
		return api_reply_rc(req, &err);
	down = r.fail == CRYPTO_TS_SYSTEM_FAILURE;
	ret = api_reply_ex(req, down ? 503 : 200, TSA_REPLY_TYPE, resp->data,
	    resp->len, down ? retry : no_store);
	buf_free(resp);
	return ret;
}
