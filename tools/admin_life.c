/*
 * admin_life.c: "licence suspend|reinstate|revoke|cancel|transfer|renew|
 * correct" and "objection list|resolve".
 *
 * The administrator acts as the actor "admin" on any department's
 * licences, through the functions the API calls (lifecycle_apply,
 * objection_resolve): the options are turned into the same JSON body an
 * issuer would send, so the same checks, state machine, transaction and
 * audit event apply.  Exit codes: 0 done, 2 invalid input, 3 no such
 * licence or objection, 4 the state forbids it (or resolved already), 5
 * token, 6 store (docs/cli.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certsvc/jcs.h"
#include "certsvc/licence.h"
#include "certsvc/lifecycle.h"
#include "certsvc/mem.h"
#include "certsvc/objection.h"
#include "tools/admin_life.h"

#define FIELDS_FILE_MAX (1024 * 1024)

/* Set key of body to the string v (when v is given). */
static bool
body_set(json_t *body, const char *key, const char *v)
{
	return v == NULL || json_object_set_new(body, key, json_string(v)) == 0;
}

/* Set body.holder to {"name": name} (when name is given). */
static bool
body_holder(json_t *body, const char *name)
{
	json_t *holder;

	if (name == NULL)
		return true;
	holder = json_pack("{s:s}", "name", name);
	return holder != NULL &&
	    json_object_set_new(body, "holder", holder) == 0;
}

/* Read a JSON object (the complete fields) from path into body.fields. */
static enum cs_rc
body_fields(json_t *body, const char *path, struct cs_err *err)
{
	struct cs_err perr = {0};
	struct buf *text = NULL;
	json_t *v = NULL;
	enum cs_rc rc;

	rc = cs_file_read(path, FIELDS_FILE_MAX, &text, err);
	if (rc != CS_OK)
		return rc;
	rc = jcs_parse(text->data, text->len, &v, &perr);
	buf_free(text);
	if (rc != CS_OK)
		return cs_err_set(err, CS_ERR_INVALID,
		    "fields file '%.100s': %.120s", path, perr.msg);
	if (!json_is_object(v)) {
		json_decref(v);
		return cs_err_set(err, CS_ERR_INVALID,
		    "fields file '%.100s': must hold a JSON object", path);
	}
	if (json_object_set_new(body, "fields", v) != 0)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	return CS_OK;
}

static void
print_licence(const struct admin_ctx *ctx, const struct store_licence *l,
    bool new_version)
{
	json_t *obj;

	if (ctx->json) {
		obj = licence_summary(l);
		if (obj != NULL && new_version)
			json_object_set_new(
			    obj, "envelope", licence_envelope(l));
		admin_print_json(obj);
		return;
	}
	if (new_version)
		printf("licence %s version %d issued (version %d superseded)\n"
		       "status:  %s\n",
		    l->id, l->version, l->version - 1, l->status);
	else
		printf("licence %s version %d: %s\n", l->id, l->version,
		    l->status);
}

int
admin_licence_change(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"id", required_argument, NULL, 'i'},
	    {"reason", required_argument, NULL, 'r'},
	    {"kind", required_argument, NULL, 'k'},
	    {"to", required_argument, NULL, 't'},
	    {"valid-from", required_argument, NULL, 'f'},
	    {"valid-until", required_argument, NULL, 'u'},
	    {"fields-file", required_argument, NULL, 'F'},
	    {"holder-name", required_argument, NULL, 'n'},
	    ADMIN_COMMON_OPTIONS,
	};
	const char *id = NULL, *reason = NULL, *kind = NULL, *to = NULL;
	const char *from = NULL, *until = NULL, *fields = NULL, *name = NULL;
	const char *verb = strchr(ctx->cmd, ' ');
	struct store_licence l;
	struct cs_err err = {0};
	struct svc *svc = NULL;
	enum lifecycle_action a;
	json_t *body = NULL;
	bool newver;
	int ch, ret;

	memset(&l, 0, sizeof(l));
	if (verb == NULL || !lifecycle_action_parse(verb + 1, &a))
		return admin_usage_error(ctx, "unknown licence action");
	newver = a == LIFECYCLE_RENEW || a == LIFECYCLE_CORRECT;
	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE) {
		if (ch == 'i')
			id = optarg;
		else if (ch == 'r')
			reason = optarg;
		else if (ch == 'k')
			kind = optarg;
		else if (ch == 't')
			to = optarg;
		else if (ch == 'f')
			from = optarg;
		else if (ch == 'u')
			until = optarg;
		else if (ch == 'F')
			fields = optarg;
		else if (ch == 'n')
			name = optarg;
	}
	if (ret != -1)
		return ret;
	if (id == NULL)
		return admin_usage_error(ctx, "--id is required");
	/* Options of other actions are refused, not silently ignored. */
	if ((kind != NULL && a != LIFECYCLE_REVOKE) ||
	    (to != NULL && a != LIFECYCLE_TRANSFER) ||
	    ((from != NULL || until != NULL) && a != LIFECYCLE_RENEW) ||
	    ((fields != NULL || name != NULL) && a != LIFECYCLE_CORRECT))
		return admin_usage_error(
		    ctx, "an option of another action was given; see --help");
	if (a == LIFECYCLE_RENEW && until == NULL)
		return admin_usage_error(ctx, "--valid-until is required");
	if (a == LIFECYCLE_CORRECT && fields == NULL)
		return admin_usage_error(ctx, "--fields-file is required");
	if ((a == LIFECYCLE_REVOKE || a == LIFECYCLE_CORRECT) && reason == NULL)
		return admin_usage_error(ctx, "--reason is required");
	body = json_object();
	if (body == NULL || !body_set(body, "reason", reason) ||
	    !body_set(body, "kind", kind) || !body_set(body, "to", to) ||
	    !body_set(body, "valid_from", from) ||
	    !body_set(body, "valid_until", until) || !body_holder(body, name)) {
		cs_err_set(&err, CS_ERR_NOMEM, "out of memory");
		goto fail;
	}
	ret = admin_open(ctx, newver ? SVC_OPEN_ALL : SVC_OPEN_STORE, &svc);
	if (ret != ADMIN_EXIT_OK)
		goto out;
	if (fields != NULL && body_fields(body, fields, &err) != CS_OK)
		goto fail;
	if (lifecycle_apply(svc, NULL, id, a, body, &l, &err) != CS_OK)
		goto fail;
	print_licence(ctx, &l, newver);
	ret = ADMIN_EXIT_OK;
	goto out;
fail:
	ret = admin_fail(ctx, &err);
out:
	store_licence_release(&l);
	json_decref(body);
	svc_free(svc);
	return ret;
}

int
admin_objection_list(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"dept", required_argument, NULL, 'd'},
	    {"status", required_argument, NULL, 's'},
	    ADMIN_COMMON_OPTIONS,
	};
	const char *dept = NULL, *status = NULL;
	struct store_objection *list = NULL;
	struct cs_err err = {0};
	struct svc *svc = NULL;
	json_t *arr;
	size_t n = 0, i;
	int ch, ret;

	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE) {
		if (ch == 'd')
			dept = optarg;
		else if (ch == 's')
			status = optarg;
	}
	if (ret != -1)
		return ret;
	ret = admin_open(ctx, SVC_OPEN_STORE, &svc);
	if (ret != ADMIN_EXIT_OK)
		return ret;
	if (objection_list(svc, NULL, dept, status, &list, &n, &err) != CS_OK) {
		ret = admin_fail(ctx, &err);
		goto out;
	}
	if (ctx->json) {
		arr = json_array();
		for (i = 0; i < n && arr != NULL; i++)
			json_array_append_new(arr, objection_json(&list[i]));
		admin_print_json(arr);
	} else {
		for (i = 0; i < n; i++)
			printf("%s  %-9s  %s v%d  %s\n", list[i].id,
			    list[i].status, list[i].licence_id, list[i].version,
			    list[i].dept);
		if (n == 0)
			printf("no objections\n");
	}
	ret = ADMIN_EXIT_OK;
out:
	free(list);
	svc_free(svc);
	return ret;
}

int
admin_objection_resolve(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"id", required_argument, NULL, 'i'},
	    {"outcome", required_argument, NULL, 'o'},
	    {"reason", required_argument, NULL, 'r'},
	    {"fields-file", required_argument, NULL, 'F'},
	    {"holder-name", required_argument, NULL, 'n'},
	    ADMIN_COMMON_OPTIONS,
	};
	const char *id = NULL, *outcome = NULL, *reason = NULL;
	const char *fields = NULL, *name = NULL;
	struct store_objection o;
	struct store_licence l;
	struct cs_err err = {0};
	struct svc *svc = NULL;
	json_t *body = NULL, *obj;
	bool corrected;
	int ch, ret;

	memset(&l, 0, sizeof(l));
	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE) {
		if (ch == 'i')
			id = optarg;
		else if (ch == 'o')
			outcome = optarg;
		else if (ch == 'r')
			reason = optarg;
		else if (ch == 'F')
			fields = optarg;
		else if (ch == 'n')
			name = optarg;
	}
	if (ret != -1)
		return ret;
	if (id == NULL || outcome == NULL || reason == NULL)
		return admin_usage_error(
		    ctx, "--id, --outcome and --reason are required");
	corrected = strcmp(outcome, "corrected") == 0;
	if (!corrected && strcmp(outcome, "rejected") != 0)
		return admin_usage_error(
		    ctx, "--outcome must be corrected or rejected");
	if (corrected && fields == NULL)
		return admin_usage_error(
		    ctx, "--outcome corrected needs --fields-file");
	if (!corrected && (fields != NULL || name != NULL))
		return admin_usage_error(ctx,
		    "--fields-file and --holder-name go with --outcome "
		    "corrected");
	body = json_pack("{s:s,s:s}", "outcome", outcome, "reason", reason);
	if (body == NULL || !body_holder(body, name)) {
		cs_err_set(&err, CS_ERR_NOMEM, "out of memory");
		goto fail;
	}
	ret = admin_open(ctx, corrected ? SVC_OPEN_ALL : SVC_OPEN_STORE, &svc);
	if (ret != ADMIN_EXIT_OK)
		goto out;
	if (fields != NULL && body_fields(body, fields, &err) != CS_OK)
		goto fail;
	if (objection_resolve(svc, NULL, id, body, &o, &l, &err) != CS_OK)
		goto fail;
	if (ctx->json) {
		obj = objection_json(&o);
		if (obj != NULL && l.document != NULL)
			json_object_set_new(
			    obj, "licence", licence_summary(&l));
		admin_print_json(obj);
	} else {
		printf("objection %s: %s\n", o.id, o.status);
		if (l.document != NULL)
			printf("licence %s version %d issued (version %d "
			       "superseded)\n",
			    l.id, l.version, l.version - 1);
	}
	ret = ADMIN_EXIT_OK;
	goto out;
fail:
	ret = admin_fail(ctx, &err);
out:
	store_licence_release(&l);
	json_decref(body);
	svc_free(svc);
	return ret;
}
