/*
 * routes.h: handlers of the route table (api/routes_base.c).
 */
#ifndef CERTSVC_ROUTES_H
#define CERTSVC_ROUTES_H

#include "api/api.h"

enum MHD_Result api_licence_issue(struct api_req *req);
enum MHD_Result api_licence_get(struct api_req *req);
enum MHD_Result api_holder_licences(struct api_req *req);

/* routes_life.c: licence status changes, corrections, objections */
enum MHD_Result api_licence_action(struct api_req *req);
enum MHD_Result api_holder_objection_file(struct api_req *req);
enum MHD_Result api_holder_objections(struct api_req *req);
enum MHD_Result api_objections_list(struct api_req *req);
enum MHD_Result api_objection_resolve(struct api_req *req);

/* routes_verify.c */
enum MHD_Result api_verify(struct api_req *req);

/* routes_pki.c: OCSP and CRLs */
enum MHD_Result api_ocsp_post(struct api_req *req);
enum MHD_Result api_ocsp_get(struct api_req *req);
enum MHD_Result api_crl(struct api_req *req);

/* routes_slist.c */
enum MHD_Result api_status_list(struct api_req *req);

#endif
