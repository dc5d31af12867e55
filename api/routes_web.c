/*
 * routes_web.c: the verification page (issue #6).  Not built yet: every route
 * answers 501.
 */
#include "api/api.h"
#include "api/routes.h"

enum MHD_Result
api_web_page(struct api_req *req)
{
	return api_reply_error(req, 501, "not_implemented", "not built yet");
}

enum MHD_Result
api_web_static(struct api_req *req)
{
	return api_reply_error(req, 501, "not_implemented", "not built yet");
}
