/*
 * routes_tsa.c: the RFC 3161 timestamp authority (issue #7).  Not built yet:
 * every route answers 501.
 */
#include "api/api.h"
#include "api/routes.h"

enum MHD_Result
api_tsa(struct api_req *req)
{
	return api_reply_error(req, 501, "not_implemented", "not built yet");
}
