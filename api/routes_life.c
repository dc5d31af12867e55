/*
 * routes_life.c: licence status changes, renewals, corrections and
 * objections (docs/licence-states.md).
 *   POST /v1/licences/{id}/suspend|reinstate|revoke|cancel|transfer
 *                                          200, the licence summary
 *   POST /v1/licences/{id}/renew|corrections
 *                                          201, the new version + envelope
 *   POST /v1/holder/objections             holder files one (201)
 *   GET  /v1/holder/objections             the holder's, with outcomes
 *   GET  /v1/objections[?status=...]       the issuer's department's
 *   POST /v1/objections/{id}/resolve       corrected or rejected
 * Issuers act only on their department's licences; another department's
 * licence or objection is 404, exactly like an unknown one.  The work is
 * in certsvc/lifecycle.c and certsvc/objection.c; this file maps HTTP.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/routes.h"
#include "certsvc/licence.h"
#include "certsvc/lifecycle.h"
#include "certsvc/objection.h"

/*
 * The body as a JSON object, or NULL with *none when there is none (an
 * empty body is allowed where nothing is required).  On a bad body a
 * response is queued and *ret holds what to return.
 */
static bool
optional_body(
    struct api_req *req, json_t **body, bool *none, enum MHD_Result *ret)
{
	*body = NULL;
	*none = req->body == NULL || req->body->len == 0;
	if (*none)
		return true;
	*body = api_json_body(req, ret);
	return *body != NULL;
}

/* Split "{id}/{part}" (part without a further '/'). */
static bool
split_path(const char *rest, char *id, size_t idsz, const char **part)
{
	const char *slash = strchr(rest, '/');
	size_t n;

	if (slash == NULL || strchr(slash + 1, '/') != NULL)
		return false;
	n = (size_t)(slash - rest);
	if (n == 0 || n >= idsz)
		return false;
	memcpy(id, rest, n);
	id[n] = '\0';
	*part = slash + 1;
	return true;
}

enum MHD_Result
api_licence_action(struct api_req *req)
{
	char id[STORE_LICENCE_ID_MAX];
	struct client_principal p;
	struct store_licence l;
	struct cs_err err = {0};
	enum lifecycle_action a;
	enum MHD_Result ret;
	const char *part;
	json_t *body = NULL, *obj;
	bool none;

	if (!split_path(
	        api_path_rest(req, "/v1/licences/"), id, sizeof(id), &part))
		return api_reply_error(
		    req, 404, "not_found", "no route for '%s'", req->url);
	if (strcmp(part, "corrections") == 0)
		a = LIFECYCLE_CORRECT;
	else if (strcmp(part, "correct") == 0 ||
	    !lifecycle_action_parse(part, &a))
		return api_reply_error(
		    req, 404, "not_found", "no route for '%s'", req->url);
	if (!api_authenticate(req, &p, &ret))
		return ret;
	if (p.role != CLIENT_ISSUER)
		return api_reply_error(
		    req, 403, "denied", "only issuer clients change licences");
	if (!optional_body(req, &body, &none, &ret))
		return ret;
	if (lifecycle_apply(req->svc, &p, id, a, body, &l, &err) != CS_OK) {
		json_decref(body);
		return api_reply_rc(req, &err);
	}
	json_decref(body);
	obj = licence_summary(&l);
	if (a == LIFECYCLE_RENEW || a == LIFECYCLE_CORRECT) {
		if (obj != NULL)
			json_object_set_new(
			    obj, "envelope", licence_envelope(&l));
		ret = api_reply_json(req, 201, obj);
	} else {
		ret = api_reply_json(req, 200, obj);
	}
	store_licence_release(&l);
	return ret;
}

enum MHD_Result
api_holder_objection_file(struct api_req *req)
{
	struct client_principal p;
	struct store_objection o;
	struct cs_err err = {0};
	enum MHD_Result ret;
	json_t *body;

	if (!api_authenticate(req, &p, &ret))
		return ret;
	if (p.role != CLIENT_HOLDER)
		return api_reply_error(
		    req, 403, "denied", "only holder clients file objections");
	body = api_json_body(req, &ret);
	if (body == NULL)
		return ret;
	if (objection_file(req->svc, &p, body, &o, &err) != CS_OK) {
		json_decref(body);
		return api_reply_rc(req, &err);
	}
	json_decref(body);
	return api_reply_json(req, 201, objection_json(&o));
}

/* Reply with the objections p may see (status filter from the query). */
static enum MHD_Result
reply_objections(struct api_req *req, const struct client_principal *p)
{
	struct store_objection *list = NULL;
	struct cs_err err = {0};
	const char *status;
	json_t *arr;
	size_t n = 0, i;

	status = MHD_lookup_connection_value(
	    req->conn, MHD_GET_ARGUMENT_KIND, "status");
	if (objection_list(req->svc, p, NULL, status, &list, &n, &err) != CS_OK)
		return api_reply_rc(req, &err);
	arr = json_array();
	for (i = 0; i < n && arr != NULL; i++)
		json_array_append_new(arr, objection_json(&list[i]));
	free(list);
	return api_reply_json(req, 200, json_pack("{s:o*}", "objections", arr));
}

enum MHD_Result
api_holder_objections(struct api_req *req)
{
	struct client_principal p;
	enum MHD_Result ret;

	if (!api_authenticate(req, &p, &ret))
		return ret;
	if (p.role != CLIENT_HOLDER)
		return api_reply_error(req, 403, "denied",
		    "only holder clients list their objections");
	return reply_objections(req, &p);
}

enum MHD_Result
api_objections_list(struct api_req *req)
{
	struct client_principal p;
	enum MHD_Result ret;

	if (!api_authenticate(req, &p, &ret))
		return ret;
	if (p.role != CLIENT_ISSUER)
		return api_reply_error(
		    req, 403, "denied", "only issuer clients list objections");
	return reply_objections(req, &p);
}

enum MHD_Result
api_objection_resolve(struct api_req *req)
{
	char id[STORE_CODE_MAX];
	struct client_principal p;
	struct store_objection o;
	struct store_licence l;
	struct cs_err err = {0};
	enum MHD_Result ret;
	const char *part;
	json_t *body, *obj;

	if (!split_path(
	        api_path_rest(req, "/v1/objections/"), id, sizeof(id), &part) ||
	    strcmp(part, "resolve") != 0)
		return api_reply_error(
		    req, 404, "not_found", "no route for '%s'", req->url);
	if (!api_authenticate(req, &p, &ret))
		return ret;
	if (p.role != CLIENT_ISSUER)
		return api_reply_error(req, 403, "denied",
		    "only issuer clients resolve objections");
	body = api_json_body(req, &ret);
	if (body == NULL)
		return ret;
	if (objection_resolve(req->svc, &p, id, body, &o, &l, &err) != CS_OK) {
		json_decref(body);
		return api_reply_rc(req, &err);
	}
	json_decref(body);
	obj = objection_json(&o);
	if (obj != NULL && l.document != NULL) {
		json_t *lic = licence_summary(&l);

		if (lic != NULL)
			json_object_set_new(
			    lic, "envelope", licence_envelope(&l));
		json_object_set_new(obj, "licence", lic);
	}
	store_licence_release(&l);
	return api_reply_json(req, 200, obj);
}
