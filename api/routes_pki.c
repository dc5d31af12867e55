/* routes_pki.c: STUB, replaced by the issue #5 work. */
#include "api/routes.h"

enum MHD_Result
api_ocsp_post(struct api_req *req)
{
	return api_reply_error(req, 501, "not_implemented", "not implemented");
}

enum MHD_Result
api_ocsp_get(struct api_req *req)
{
	return api_reply_error(req, 501, "not_implemented", "not implemented");
}

enum MHD_Result
api_crl(struct api_req *req)
{
	return api_reply_error(req, 501, "not_implemented", "not implemented");
}
