/*
 * routes.h: handlers of the route table (api/routes_base.c).
 */
#ifndef CERTSVC_ROUTES_H
#define CERTSVC_ROUTES_H

#include "api/api.h"

enum MHD_Result api_licence_issue(struct api_req *req);
enum MHD_Result api_licence_get(struct api_req *req);
enum MHD_Result api_holder_licences(struct api_req *req);

#endif
