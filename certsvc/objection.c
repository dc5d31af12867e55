/*
 * objection.c: objections (异议) filed by holders and resolved by the
 * issuing department.
 *
 * Scopes follow licence_read(): a holder files only against a licence of
 * theirs and an issuer resolves only its department's objections; anything
 * else gets the answer an unknown id gets, so no one learns what exists
 * outside their scope.  A resolution is guarded by status = 'open' in the
 * store, so resolving twice (also concurrently) gives one resolution and
 * one CS_ERR_CONFLICT.  A correction and the resolution it answers are
 * one transaction: either the licence has its new version and the
 * objection says so, or neither happened.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "certsvc/jreq.h"
#include "certsvc/licence.h"
#include "certsvc/lifecycle.h"
#include "certsvc/mem.h"
#include "certsvc/objection.h"

#define OBJECTION_ID_RAW 8 /* "O-" + 16 hex */

static enum cs_rc
objection_new_id(char *id, size_t idsz, struct cs_err *err)
{
	unsigned char raw[OBJECTION_ID_RAW];

	if (idsz < 3 + 2 * sizeof(raw))
		return cs_err_set(err, CS_ERR_INVALID, "id buffer too small");
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return cs_err_ossl(err, CS_ERR_CRYPTO, "RAND_bytes failed");
	id[0] = 'O';
	id[1] = '-';
	cs_hex(raw, sizeof(raw), id + 2);
	return CS_OK;
}

/* 1 to OBJECTION_TEXT_MAX bytes of UTF-8; of the controls only \t \n \r. */
static bool
objection_text_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > OBJECTION_TEXT_MAX || cs_utf8_count(s, n, true) < 1)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if ((ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') ||
		    ch == 0x7f)
			return false;
	}
	return true;
}

/* Append the audit event of an objection change in tx. */
static enum cs_rc
objection_audit(struct store_tx *tx, const char *actor, const char *action,
    const char *id, json_t *detail, struct cs_err *err)
{
	char object[STORE_CODE_MAX + 16];
	struct store_audit_event ev;
	char *text;
	enum cs_rc rc;

	text = detail != NULL
	    ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS)
	    : NULL;
	json_decref(detail);
	if (text == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	snprintf(object, sizeof(object), "objection:%s", id);
	memset(&ev, 0, sizeof(ev));
	ev.actor = actor;
	ev.action = action;
	ev.object = object;
	ev.outcome = "ok";
	ev.detail = text;
	rc = store_audit_append(tx, &ev, NULL, err);
	free(text);
	return rc;
}

enum cs_rc
objection_file(struct svc *svc, const struct client_principal *p,
    const json_t *body, struct store_objection *out, struct cs_err *err)
{
	static const char *const members[] = {"licence_id", "text", NULL};
	struct store_licence l;
	struct store_tx *tx = NULL;
	const char *lid;
	const json_t *text;
	enum cs_rc rc;

	memset(out, 0, sizeof(*out));
	memset(&l, 0, sizeof(l));
	if (p == NULL || p->role != CLIENT_HOLDER)
		return cs_err_set(
		    err, CS_ERR_DENIED, "only holder clients file objections");
	rc = jreq_body(body, members, err);
	if (rc != CS_OK)
		return rc;
	lid = jreq_str(body, "licence_id");
	if (lid == NULL)
		return cs_err_set(err, CS_ERR_INVALID,
		    "licence_id: required, a licence identifier");
	text = json_object_get(body, "text");
	if (!json_is_string(text) ||
	    !objection_text_ok(
	        json_string_value(text), json_string_length(text)))
		return cs_err_set(err, CS_ERR_INVALID,
		    "text: required, 1 to %d bytes of UTF-8",
		    OBJECTION_TEXT_MAX);
	rc = licence_read(svc, p, lid, 0, &l, err);
	if (rc != CS_OK)
		goto out;
	rc = objection_new_id(out->id, sizeof(out->id), err);
	if (rc != CS_OK)
		goto out;
	cs_strlcpy(out->licence_id, l.id, sizeof(out->licence_id));
	out->version = l.version;
	cs_strlcpy(out->dept, l.dept, sizeof(out->dept));
	cs_strlcpy(out->holder_ref, l.holder_ref, sizeof(out->holder_ref));
	cs_strlcpy(out->client, p->id, sizeof(out->client));
	memcpy(out->text, json_string_value(text), json_string_length(text));
	out->text[json_string_length(text)] = '\0';
	cs_strlcpy(out->status, "open", sizeof(out->status));
	out->created = (int64_t)time(NULL);
	rc = store_tx_begin(svc->store, &tx, err);
	if (rc != CS_OK)
		goto out;
	rc = store_objection_put(tx, out, err);
	if (rc == CS_OK)
		rc = objection_audit(tx, p->id, "objection.file", out->id,
		    json_pack(
		        "{s:s,s:i}", "licence", l.id, "version", l.version),
		    err);
	if (rc != CS_OK)
		goto out;
	rc = store_tx_commit(tx, err);
	tx = NULL;
out:
	store_tx_rollback(tx);
	store_licence_release(&l);
	if (rc != CS_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

enum cs_rc
objection_list(struct svc *svc, const struct client_principal *p,
    const char *dept, const char *status, struct store_objection **out,
    size_t *n, struct cs_err *err)
{
	*out = NULL;
	*n = 0;
	if (p == NULL)
		return store_objection_list(
		    svc->store, NULL, dept, status, 0, out, n, err);
	if (p->role == CLIENT_HOLDER)
		return store_objection_list(
		    svc->store, p->holder_ref, NULL, status, 0, out, n, err);
	if (p->role == CLIENT_ISSUER)
		return store_objection_list(
		    svc->store, NULL, p->dept, status, 0, out, n, err);
	return cs_err_set(
	    err, CS_ERR_DENIED, "only holders and issuers see objections");
}

/* Check the resolution body; *corrected tells the outcome. */
static enum cs_rc
resolve_parse(const json_t *body, bool *corrected, char *reason,
    size_t reasonsz, json_t **corr, struct cs_err *err)
{
	static const char *const when_rejected[] = {"outcome", "reason", NULL};
	static const char *const when_corrected[] = {
	    "outcome", "reason", "fields", "holder", NULL};
	const char *key, *outcome;
	enum cs_rc rc;

	*corr = NULL;
	if (!json_is_object(body))
		return cs_err_set(
		    err, CS_ERR_INVALID, "body: must be a JSON object");
	outcome = json_string_value(json_object_get(body, "outcome"));
	if (outcome == NULL ||
	    (strcmp(outcome, "corrected") != 0 &&
	        strcmp(outcome, "rejected") != 0))
		return cs_err_set(err, CS_ERR_INVALID,
		    "outcome: required, \"corrected\" or \"rejected\"");
	*corrected = strcmp(outcome, "corrected") == 0;
	key = jreq_unknown(body, *corrected ? when_corrected : when_rejected);
	if (key != NULL)
		return cs_err_set(err, CS_ERR_INVALID,
		    "%.64s: unknown member for outcome %s", key, outcome);
	rc = lifecycle_text(json_object_get(body, "reason"), "reason", true,
	    LIFECYCLE_REASON_MAX, reason, reasonsz, err);
	if (rc != CS_OK || !*corrected)
		return rc;
	/* The correction's own body: lifecycle_prepare() checks the rest. */
	*corr = json_deep_copy(body);
	if (*corr == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	json_object_del(*corr, "outcome");
	return CS_OK;
}

enum cs_rc
objection_resolve(struct svc *svc, const struct client_principal *p,
    const char *id, const json_t *body, struct store_objection *out,
    struct store_licence *lic, struct cs_err *err)
{
	char reason[STORE_TEXT_MAX];
	const char *actor = p != NULL ? p->id : "admin";
	struct lifecycle_change c;
	struct store_tx *tx = NULL;
	json_t *corr = NULL, *detail;
	bool corrected = false;
	enum cs_rc rc;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	if (lic != NULL)
		memset(lic, 0, sizeof(*lic));
	if (p != NULL && p->role != CLIENT_ISSUER)
		return cs_err_set(err, CS_ERR_DENIED,
		    "only issuer clients resolve objections");
	rc = store_objection_get(svc->store, id, out, err);
	if (rc == CS_OK && p != NULL && strcmp(out->dept, p->dept) != 0)
		rc = CS_ERR_NOT_FOUND; /* as if unknown: no existence leak */
	if (rc == CS_ERR_NOT_FOUND || rc == CS_ERR_INVALID)
		rc = cs_err_set(
		    err, CS_ERR_NOT_FOUND, "no objection '%.40s'", id);
	if (rc != CS_OK)
		goto out;
	rc =
	    resolve_parse(body, &corrected, reason, sizeof(reason), &corr, err);
	if (rc != CS_OK)
		goto out;
	if (strcmp(out->status, "open") != 0) {
		rc = cs_err_set(err, CS_ERR_CONFLICT,
		    "objection '%s' is %s already", out->id, out->status);
		goto out;
	}
	if (corrected) {
		rc = lifecycle_prepare(
		    svc, p, out->licence_id, LIFECYCLE_CORRECT, corr, &c, err);
		if (rc != CS_OK)
			goto out;
	}
	detail = json_pack("{s:s,s:s,s:s}", "outcome",
	    corrected ? "corrected" : "rejected", "reason", reason, "licence",
	    out->licence_id);
	if (detail != NULL && corrected)
		json_object_set_new(
		    detail, "new_version", json_integer(c.next.version));
	rc = store_tx_begin(svc->store, &tx, err);
	if (rc != CS_OK) {
		json_decref(detail);
		goto out;
	}
	if (corrected)
		rc = lifecycle_write(tx, &c, err);
	if (rc == CS_OK)
		rc = store_objection_resolve(tx, out->id,
		    corrected ? "corrected" : "rejected", reason,
		    corrected ? c.next.version : 0, 0, actor, err);
	if (rc == CS_OK)
		rc = objection_audit(
		    tx, actor, "objection.resolve", out->id, detail, err);
	else
		json_decref(detail);
	if (rc != CS_OK)
		goto out;
	rc = store_tx_commit(tx, err);
	tx = NULL;
	if (rc != CS_OK)
		goto out;
	if (corrected)
		svc_refresher_nudge(svc);
	cs_strlcpy(out->status, corrected ? "corrected" : "rejected",
	    sizeof(out->status));
	cs_strlcpy(out->resolution, reason, sizeof(out->resolution));
	out->new_version = corrected ? c.next.version : 0;
	out->resolved_at = (int64_t)time(NULL);
	cs_strlcpy(out->resolved_by, actor, sizeof(out->resolved_by));
	if (lic != NULL && corrected) {
		*lic = c.next; /* handed over */
		memset(&c.next, 0, sizeof(c.next));
	}
out:
	store_tx_rollback(tx);
	lifecycle_change_release(&c);
	json_decref(corr);
	if (rc != CS_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

json_t *
objection_json(const struct store_objection *o)
{
	char created[32], resolved[32];
	json_t *obj;

	cs_time_utc(o->created, created, sizeof(created));
	obj = json_pack("{s:s,s:s,s:i,s:s,s:s,s:s}", "id", o->id, "licence_id",
	    o->licence_id, "version", o->version, "status", o->status, "text",
	    o->text, "created", created);
	if (obj == NULL || o->resolved_at == 0)
		return obj;
	cs_time_utc(o->resolved_at, resolved, sizeof(resolved));
	json_object_set_new(obj, "resolution", json_string(o->resolution));
	json_object_set_new(obj, "resolved_at", json_string(resolved));
	if (o->new_version > 0)
		json_object_set_new(
		    obj, "new_version", json_integer(o->new_version));
	return obj;
}
