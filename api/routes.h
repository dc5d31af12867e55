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

/* routes_codes.c: 免证办 codes, redemption and usage records (issue #6) */
enum MHD_Result api_holder_code_create(struct api_req *req);
enum MHD_Result api_holder_codes_list(struct api_req *req);
enum MHD_Result api_holder_code_get(struct api_req *req); /* qr.png|svg */
enum MHD_Result api_holder_code_revoke(struct api_req *req);
enum MHD_Result api_holder_usage(struct api_req *req);
enum MHD_Result api_usage_list(struct api_req *req); /* issuers */
enum MHD_Result api_codes_redeem(struct api_req *req);

/*
 * The rate-limit key of the caller's address (routes_codes.c): an IPv4
 * address, the /64 of an IPv6 one; "" when unknown.
 */
#define API_SOURCE_MAX 64
void api_source_key(struct api_req *req, char *out, size_t outsz);

/* 429 with Retry-After: retry and the JSON error body "rate_limited". */
enum MHD_Result api_reply_too_many(
    struct api_req *req, unsigned retry, const char *message);

/* routes_web.c: the verification page and its static files */
enum MHD_Result api_web_page(struct api_req *req);
enum MHD_Result api_web_static(struct api_req *req);
enum MHD_Result api_web_verify(struct api_req *req); /* public */

/* routes_tsa.c: the RFC 3161 timestamp authority (issue #7) */
enum MHD_Result api_tsa(struct api_req *req);

#endif
