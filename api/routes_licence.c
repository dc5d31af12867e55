/*
 * routes_licence.c: the issuer and holder routes for e-licences.
 *   POST /v1/licences                     issue (issuer; Idempotency-Key)
 *   GET  /v1/licences/{id}[?version=N]    metadata + envelope
 *   GET  /v1/licences/{id}/document       the exact sealed bytes
 *   GET  /v1/licences/{id}/seal           the detached CMS (DER)
 *   GET  /v1/licences/{id}/envelope       document + seal in one JSON file
 *   GET  /v1/holder/licences              the holder's own licences
 * Readers see only what they are entitled to; anything else is 404.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "api/api.h"
#include "api/routes.h"
#include "certsvc/licence.h"
#include "certsvc/mem.h"

/* The response holds a holder token: wipe it when MHD is done with it. */
static void
api_wipe_free(void *p)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, strlen(p));
	free(p);
}

enum MHD_Result
api_licence_issue(struct api_req *req)
{
	struct client_principal p;
	struct licence_issued out;
	struct cs_err err = {0};
	struct MHD_Response *resp;
	enum MHD_Result ret;
	const char *key;
	char location[160], *text = NULL;
	size_t len = 0;
	json_t *body;
	enum cs_rc rc;
	int status;

	if (!api_authenticate(req, &p, &ret))
		return ret;
	if (p.role != CLIENT_ISSUER)
		return api_reply_error(
		    req, 403, "denied", "only issuer clients issue licences");
	body = api_json_body(req, &ret);
	if (body == NULL)
		return ret;
	key = MHD_lookup_connection_value(
	    req->conn, MHD_HEADER_KIND, "Idempotency-Key");
	if (licence_issue(req->svc, &p, body, key, 0, &out, &err) != CS_OK) {
		json_decref(body);
		return api_reply_rc(req, &err);
	}
	json_decref(body);
	/* Written directly: json_dumps would rescan the base64 for nothing. */
	rc = licence_issued_text(&out, &text, &len, &err);
	status = out.replayed ? 200 : 201;
	snprintf(location, sizeof(location), "/v1/licences/%s", out.lic.id);
	licence_issued_release(&out);
	if (rc != CS_OK)
		return api_reply_rc(req, &err);
	resp = MHD_create_response_from_buffer_with_free_callback(
	    len, text, api_wipe_free);
	if (resp == NULL) {
		api_wipe_free(text);
		return MHD_NO;
	}
	MHD_add_response_header(
	    resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
	MHD_add_response_header(resp, "X-Request-Id", req->request_id);
	MHD_add_response_header(
	    resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == 200)
		MHD_add_response_header(resp, "Idempotent-Replayed", "true");
	req->status = status;
	ret = MHD_queue_response(req->conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Split "{id}[/part]" into id and part. */
static bool
licence_path(const char *rest, char *id, size_t idsz, const char **part)
{
	const char *slash = strchr(rest, '/');
	size_t n = slash != NULL ? (size_t)(slash - rest) : strlen(rest);

	if (n == 0 || n >= idsz)
		return false;
	memcpy(id, rest, n);
	id[n] = '\0';
	*part = slash != NULL ? slash + 1 : "";
	return true;
}

enum MHD_Result
api_licence_get(struct api_req *req)
{
	char id[STORE_LICENCE_ID_MAX];
	struct client_principal p;
	struct store_licence l;
	struct cs_err err = {0};
	const char *part, *vs;
	long long version = 0;
	enum MHD_Result ret;
	json_t *obj;

	if (!api_authenticate(req, &p, &ret))
		return ret;
	if (!licence_path(
	        api_path_rest(req, "/v1/licences/"), id, sizeof(id), &part))
		return api_reply_error(
		    req, 404, "not_found", "no such licence");
	vs = MHD_lookup_connection_value(
	    req->conn, MHD_GET_ARGUMENT_KIND, "version");
	if (vs != NULL && !cs_parse_ll(vs, 1, 1000000, &version))
		return api_reply_error(
		    req, 400, "invalid", "version: must be a positive integer");
	if (strcmp(part, "") != 0 && strcmp(part, "document") != 0 &&
	    strcmp(part, "seal") != 0 && strcmp(part, "envelope") != 0)
		return api_reply_error(
		    req, 404, "not_found", "no route for '%s'", req->url);
	if (licence_read(req->svc, &p, id, (int)version, &l, &err) != CS_OK)
		return api_reply_rc(req, &err);
	if (strcmp(part, "document") == 0) {
		ret = api_reply(req, 200, "application/json", l.document->data,
		    l.document->len);
	} else if (strcmp(part, "seal") == 0) {
		ret = api_reply(req, 200, "application/pkcs7-signature",
		    l.seal_der->data, l.seal_der->len);
	} else if (strcmp(part, "envelope") == 0) {
		ret = api_reply_json(req, 200, licence_envelope(&l));
	} else {
		obj = licence_summary(&l);
		if (obj != NULL)
			json_object_set_new(
			    obj, "envelope", licence_envelope(&l));
		ret = api_reply_json(req, 200, obj);
	}
	store_licence_release(&l);
	return ret;
}

enum MHD_Result
api_holder_licences(struct api_req *req)
{
	struct client_principal p;
	struct store_licence *list = NULL, full;
	struct cs_err err = {0};
	enum MHD_Result ret;
	json_t *arr, *one;
	size_t n = 0, i;

	if (!api_authenticate(req, &p, &ret))
		return ret;
	if (p.role != CLIENT_HOLDER)
		return api_reply_error(req, 403, "denied",
		    "only holder clients list their licences");
	if (store_licence_list(req->svc->store, p.holder_ref, NULL, 100, &list,
	        &n, &err) != CS_OK)
		return api_reply_rc(req, &err);
	arr = json_array();
	for (i = 0; i < n && arr != NULL; i++) {
		if (licence_read(req->svc, &p, list[i].id, list[i].version,
		        &full, NULL) != CS_OK)
			continue;
		one = licence_summary(&full);
		if (one != NULL)
			json_object_set_new(
			    one, "envelope", licence_envelope(&full));
		json_array_append_new(arr, one);
		store_licence_release(&full);
	}
	for (i = 0; i < n; i++)
		store_licence_release(&list[i]);
	free(list);
	return api_reply_json(req, 200, json_pack("{s:o}", "licences", arr));
}
