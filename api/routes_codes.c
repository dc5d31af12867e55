/*
 * routes_codes.c: 免证办 codes, redemption and usage records (issue #6).  Not
 * built yet: every route answers 501.
 */
#include "api/api.h"
#include "api/routes.h"

enum MHD_Result
api_holder_code_create(struct api_req *req)
{
	return api_reply_error(req, 501, "not_implemented", "not built yet");
}

enum MHD_Result
api_holder_codes_list(struct api_req *req)
{
	return api_reply_error(req, 501, "not_implemented", "not built yet");
}

enum MHD_Result
api_holder_code_get(struct api_req *req)
{
	return api_reply_error(req, 501, "not_implemented", "not built yet");
}

enum MHD_Result
api_holder_code_revoke(struct api_req *req)
{
	return api_reply_error(req, 501, "not_implemented", "not built yet");
}

enum MHD_Result
api_holder_usage(struct api_req *req)
{
	return api_reply_error(req, 501, "not_implemented", "not built yet");
}

enum MHD_Result
api_usage_list(struct api_req *req)
{
	return api_reply_error(req, 501, "not_implemented", "not built yet");
}

enum MHD_Result
api_codes_redeem(struct api_req *req)
{
	return api_reply_error(req, 501, "not_implemented", "not built yet");
}
