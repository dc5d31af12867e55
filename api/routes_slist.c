/* routes_slist.c: STUB, replaced by the issue #5 work. */
#include "api/routes.h"

enum MHD_Result
api_status_list(struct api_req *req)
{
	return api_reply_error(req, 501, "not_implemented", "not implemented");
}
