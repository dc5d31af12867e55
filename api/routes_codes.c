/*
 * routes_codes.c: 免证办 codes, redemption and usage records (issue #6,
 * docs/codes.md).
 *   POST   /v1/holder/codes                 holder: a code (201, both forms)
 *   GET    /v1/holder/codes                 holder: the usable ones
 *   GET    /v1/holder/codes/{id}/qr.png|svg holder: the QR of the long form
 *   DELETE /v1/holder/codes/{id}            holder: revoke
 *   GET    /v1/holder/usage                 holder: every use of their licences
 *   GET    /v1/usage[?licence=ID]           issuer: uses of the department's
 *   POST   /v1/codes/redeem                 verifier: envelope + report
 * Answers that carry a code say Cache-Control: no-store.  The work is in
 * certsvc/pcode.c; this file maps HTTP, and gives redemption its source
 * address: an IPv4 address, or the /64 of an IPv6 one (one host usually
 * has a whole /64).  The public POST /verify (routes_web.c) is limited
 * per the same source address and answers 429 the same way.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/crypto.h>

#include "api/api.h"
#include "api/routes.h"
#include "certsvc/mem.h"
#include "certsvc/pcode.h"
#include "certsvc/qr.h"

#define CODES_QR_SCALE 8

static const char *const no_store[] = {"Cache-Control", "no-store", NULL};

/* Authenticate and require role; else a response is queued. */
static bool
auth_role(struct api_req *req, enum client_role role, const char *what,
    struct client_principal *p, enum MHD_Result *ret)
{
	if (!api_authenticate(req, p, ret))
		return false;
	if (p->role == role)
		return true;
	*ret = api_reply_error(req, 403, "denied", "only %s clients %s",
	    client_role_name(role), what);
	return false;
}

/* Reply with obj (stolen) as JSON, with extra headers. */
static enum MHD_Result
reply_json_ex(
    struct api_req *req, int status, json_t *obj, const char *const *headers)
{
	enum MHD_Result ret;
	char *text;

	text = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	if (text == NULL)
		return api_reply_error(
		    req, 500, "out_of_memory", "cannot encode response");
	ret = api_reply_ex(
	    req, status, "application/json", text, strlen(text), headers);
	OPENSSL_cleanse(text, strlen(text));
	free(text);
	return ret;
}

/* A code's JSON with the links to its QR images. */
static json_t *
code_json(struct api_req *req, const struct store_pcode *c)
{
	char path[STORE_CODE_MAX + 32], url[1024];
	json_t *obj = pcode_json(c);

	if (obj == NULL)
		return NULL;
	snprintf(path, sizeof(path), "/v1/holder/codes/%s/qr.png", c->id);
	svc_url(req->svc, path, url, sizeof(url));
	json_object_set_new(obj, "qr_png", json_string(url));
	snprintf(path, sizeof(path), "/v1/holder/codes/%s/qr.svg", c->id);
	svc_url(req->svc, path, url, sizeof(url));
	json_object_set_new(obj, "qr_svg", json_string(url));
	return obj;
}

enum MHD_Result
api_holder_code_create(struct api_req *req)
{
	struct pcode_created out;
	struct client_principal p;
	struct cs_err err = {0};
	enum MHD_Result ret;
	json_t *body, *obj;

	if (!auth_role(req, CLIENT_HOLDER, "create codes", &p, &ret))
		return ret;
	body = api_json_body(req, &ret);
	if (body == NULL)
		return ret;
	if (pcode_create(req->svc, &p, body, &out, &err) != CS_OK) {
		json_decref(body);
		return api_reply_rc(req, &err);
	}
	json_decref(body);
	obj = code_json(req, &out.code);
	if (obj != NULL) {
		json_object_set_new(obj, "code", json_string(out.long_code));
		json_object_set_new(
		    obj, "short_code", json_string(out.short_code));
	}
	OPENSSL_cleanse(&out, sizeof(out));
	return reply_json_ex(req, 201, obj, no_store);
}

enum MHD_Result
api_holder_codes_list(struct api_req *req)
{
	struct store_pcode *list = NULL;
	struct client_principal p;
	struct cs_err err = {0};
	enum MHD_Result ret;
	json_t *arr;
	size_t n = 0, i;

	if (!auth_role(req, CLIENT_HOLDER, "list codes", &p, &ret))
		return ret;
	if (pcode_list(req->svc, &p, &list, &n, &err) != CS_OK)
		return api_reply_rc(req, &err);
	arr = json_array();
	for (i = 0; i < n && arr != NULL; i++)
		json_array_append_new(arr, code_json(req, &list[i]));
	free(list);
	return api_reply_json(req, 200, json_pack("{s:o*}", "codes", arr));
}

/* "{id}" or "{id}/{part}" after /v1/holder/codes/. */
static bool
code_path(struct api_req *req, char id[STORE_CODE_MAX], const char **part)
{
	const char *rest = api_path_rest(req, "/v1/holder/codes/");
	const char *slash;
	size_t n;

	*part = NULL;
	if (rest == NULL)
		return false;
	slash = strchr(rest, '/');
	n = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
	if (n == 0 || n >= STORE_CODE_MAX ||
	    (slash != NULL && strchr(slash + 1, '/') != NULL))
		return false;
	memcpy(id, rest, n);
	id[n] = '\0';
	if (slash != NULL)
		*part = slash + 1;
	return true;
}

enum MHD_Result
api_holder_code_get(struct api_req *req)
{
	char id[STORE_CODE_MAX], code[PCODE_LONG_LEN + 1];
	const char *const png_hdr[] = {"Cache-Control", "no-store", NULL};
	struct client_principal p;
	struct cs_err err = {0};
	struct buf *img = NULL;
	const char *part, *sc;
	long long scale = CODES_QR_SCALE;
	bool png;
	enum MHD_Result ret;
	enum cs_rc rc;

	if (!code_path(req, id, &part) || part == NULL ||
	    (strcmp(part, "qr.png") != 0 && strcmp(part, "qr.svg") != 0))
		return api_reply_error(
		    req, 404, "not_found", "no route for '%s'", req->url);
	if (!auth_role(req, CLIENT_HOLDER, "read codes", &p, &ret))
		return ret;
	png = strcmp(part, "qr.png") == 0;
	sc = MHD_lookup_connection_value(
	    req->conn, MHD_GET_ARGUMENT_KIND, "scale");
	if (sc != NULL && !cs_parse_ll(sc, 1, 32, &scale))
		return api_reply_error(req, 400, "invalid",
		    "scale: must be an integer from 1 to 32");
	rc = pcode_long_of(req->svc, &p, id, code, &err);
	if (rc == CS_OK)
		rc = png ? qr_png(code, (unsigned)scale, &img, &err)
		         : qr_svg(code, &img, &err);
	OPENSSL_cleanse(code, sizeof(code));
	if (rc != CS_OK)
		return api_reply_rc(req, &err);
	ret = api_reply_ex(req, 200, png ? "image/png" : "image/svg+xml",
	    img->data, img->len, png_hdr);
	buf_free(img);
	return ret;
}

enum MHD_Result
api_holder_code_revoke(struct api_req *req)
{
	char id[STORE_CODE_MAX];
	struct client_principal p;
	struct cs_err err = {0};
	enum MHD_Result ret;
	const char *part;

	if (!code_path(req, id, &part) || part != NULL)
		return api_reply_error(
		    req, 404, "not_found", "no route for '%s'", req->url);
	if (!auth_role(req, CLIENT_HOLDER, "revoke codes", &p, &ret))
		return ret;
	if (pcode_revoke(req->svc, &p, id, &err) != CS_OK)
		return api_reply_rc(req, &err);
	return api_reply_json(
	    req, 200, json_pack("{s:s,s:s}", "id", id, "status", "revoked"));
}

/* Reply with the usage records p may see. */
static enum MHD_Result
reply_usage(struct api_req *req, const struct client_principal *p)
{
	struct store_usage *list = NULL;
	struct cs_err err = {0};
	const char *lic;
	json_t *arr;
	size_t n = 0, i;

	lic = MHD_lookup_connection_value(
	    req->conn, MHD_GET_ARGUMENT_KIND, "licence");
	if (pcode_usage_list(req->svc, p, lic, &list, &n, &err) != CS_OK)
		return api_reply_rc(req, &err);
	arr = json_array();
	for (i = 0; i < n && arr != NULL; i++)
		json_array_append_new(arr, pcode_usage_json(&list[i]));
	free(list);
	return api_reply_json(req, 200, json_pack("{s:o*}", "usage", arr));
}

enum MHD_Result
api_holder_usage(struct api_req *req)
{
	struct client_principal p;
	enum MHD_Result ret;

	if (!auth_role(req, CLIENT_HOLDER, "list their usage", &p, &ret))
		return ret;
	return reply_usage(req, &p);
}

enum MHD_Result
api_usage_list(struct api_req *req)
{
	struct client_principal p;
	enum MHD_Result ret;

	if (!auth_role(req, CLIENT_ISSUER, "list usage records", &p, &ret))
		return ret;
	return reply_usage(req, &p);
}

void
api_source_key(struct api_req *req, char *out, size_t outsz)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;
	struct in6_addr a6;
	char text[INET6_ADDRSTRLEN];

	out[0] = '\0';
	ci = MHD_get_connection_info(
	    req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL)
		return;
	sa = ci->client_addr;
	if (sa->sa_family == AF_INET) {
		if (inet_ntop(AF_INET,
		        &((const struct sockaddr_in *)(const void *)sa)
		             ->sin_addr,
		        text, sizeof(text)) != NULL)
			snprintf(out, outsz, "%s", text);
		return;
	}
	if (sa->sa_family != AF_INET6)
		return;
	a6 = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		if (inet_ntop(AF_INET, &a6.s6_addr[12], text, sizeof(text)) !=
		    NULL)
			snprintf(out, outsz, "%s", text);
		return;
	}
	memset(&a6.s6_addr[8], 0, 8);
	if (inet_ntop(AF_INET6, &a6, text, sizeof(text)) != NULL)
		snprintf(out, outsz, "%s/64", text);
}

enum MHD_Result
api_reply_too_many(struct api_req *req, unsigned retry, const char *message)
{
	char wait[16];
	const char *hdr[] = {"Retry-After", wait, NULL};
	json_t *obj;
	enum MHD_Result ret;
	char *text;

	snprintf(wait, sizeof(wait), "%u", retry);
	obj = json_pack("{s:{s:s,s:s}}", "error", "code", "rate_limited",
	    "message", message);
	text = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	if (text == NULL)
		return api_reply_error(
		    req, 500, "out_of_memory", "cannot encode response");
	ret =
	    api_reply_ex(req, 429, "application/json", text, strlen(text), hdr);
	free(text);
	return ret;
}

enum MHD_Result
api_codes_redeem(struct api_req *req)
{
	char source[API_SOURCE_MAX];
	struct client_principal p;
	struct cs_err err = {0};
	unsigned retry = 0;
	enum MHD_Result ret;
	json_t *body, *ans = NULL;
	enum cs_rc rc;

	if (!auth_role(req, CLIENT_VERIFIER, "redeem codes", &p, &ret))
		return ret;
	body = api_json_body(req, &ret);
	if (body == NULL)
		return ret;
	api_source_key(req, source, sizeof(source));
	rc = pcode_redeem(req->svc, &p, source, body, &ans, &retry, &err);
	json_decref(body);
	if (rc != CS_OK && retry > 0)
		return api_reply_too_many(
		    req, retry, "too many failed redemptions");
	if (rc != CS_OK)
		return api_reply_rc(req, &err);
	return reply_json_ex(req, 200, ans, no_store);
}
