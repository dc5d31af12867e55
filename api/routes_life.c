/* routes_life.c: STUB, replaced by the issue #5 work. */
#include "api/routes.h"

enum MHD_Result
api_licence_action(struct api_req *req)
{
	return api_reply_error(req, 501, "not_implemented", "not implemented");
}

enum MHD_Result
api_holder_objection_file(struct api_req *req)
{
	return api_reply_error(req, 501, "not_implemented", "not implemented");
}

enum MHD_Result
api_holder_objections(struct api_req *req)
{
	return api_reply_error(req, 501, "not_implemented", "not implemented");
}

enum MHD_Result
api_objections_list(struct api_req *req)
{
	return api_reply_error(req, 501, "not_implemented", "not implemented");
}

enum MHD_Result
api_objection_resolve(struct api_req *req)
{
	return api_reply_error(req, 501, "not_implemented", "not implemented");
}
