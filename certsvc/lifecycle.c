/*
 * lifecycle.c: what happens to a licence after issuance (docs/
 * licence-states.md): suspend, reinstate, revoke (撤销 or 吊销), cancel,
 * transfer, renew and correct.
 *
 * Every action applies to the newest version only and is checked twice:
 * against the state machine on the state read before (to answer 409 with
 * the state and the action), and again inside the transaction by an
 * UPDATE guarded by that state (store_licence_set_status), so that of two
 * concurrent changes exactly one passes.  Renewal and correction seal the
 * new version before the transaction (the token is never used under the
 * write lock); if the guard then fails, the sealed version is dropped and
 * its status-list slot stays unused, which is harmless.
 *
 * Expired (失效) is derived from valid_until and never stored.  An expired
 * licence can still be renewed (延续), corrected, revoked or cancelled (the
 * record of a licence matters after its validity); suspending, reinstating
 * and transferring an expired licence mean nothing and are refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certsvc/jreq.h"
#include "certsvc/lifecycle.h"
#include "certsvc/log.h"
#include "certsvc/mem.h"

static const char *const action_names[] = {
    [LIFECYCLE_SUSPEND] = "suspend",
    [LIFECYCLE_REINSTATE] = "reinstate",
    [LIFECYCLE_REVOKE] = "revoke",
    [LIFECYCLE_CANCEL] = "cancel",
    [LIFECYCLE_TRANSFER] = "transfer",
    [LIFECYCLE_RENEW] = "renew",
    [LIFECYCLE_CORRECT] = "correct",
};

#define ACTION_COUNT (sizeof(action_names) / sizeof(action_names[0]))

bool
lifecycle_action_parse(const char *name, enum lifecycle_action *a)
{
	size_t i;

	for (i = 1; name != NULL && i < ACTION_COUNT; i++)
		if (strcmp(name, action_names[i]) == 0) {
			*a = (enum lifecycle_action)i;
			return true;
		}
	return false;
}

const char *
lifecycle_action_name(enum lifecycle_action a)
{
	if ((size_t)a < 1 || (size_t)a >= ACTION_COUNT)
		return "?";
	return action_names[a];
}

const char *
lifecycle_next(
    const char *status, bool expired, enum lifecycle_action a, bool penalty)
{
	bool valid = strcmp(status, LICENCE_VALID) == 0;
	bool suspended = strcmp(status, LICENCE_SUSPENDED) == 0;

	/* Every other stored state is final. */
	if (!valid && !suspended)
		return NULL;
	switch (a) {
	case LIFECYCLE_SUSPEND:
		return valid && !expired ? LICENCE_SUSPENDED : NULL;
	case LIFECYCLE_REINSTATE:
		return suspended && !expired ? LICENCE_VALID : NULL;
	case LIFECYCLE_REVOKE:
		return penalty ? LICENCE_PENALTY_REVOKED : LICENCE_REVOKED;
	case LIFECYCLE_CANCEL:
		return LICENCE_CANCELLED;
	case LIFECYCLE_TRANSFER:
		return valid && !expired ? LICENCE_TRANSFERRED : NULL;
	case LIFECYCLE_RENEW:
	case LIFECYCLE_CORRECT:
		return valid ? LICENCE_SUPERSEDED : NULL;
	}
	return NULL;
}

enum cs_rc
lifecycle_text(const json_t *v, const char *name, bool required, size_t max,
    char *out, size_t outsz, struct cs_err *err)
{
	const char *s;
	size_t n;

	out[0] = '\0';
	if (v == NULL) {
		if (required)
			return cs_err_set(
			    err, CS_ERR_INVALID, "%s: required", name);
		return CS_OK;
	}
	s = json_string_value(v);
	n = s != NULL ? json_string_length(v) : 0;
	if (s == NULL || n == 0 || n > max || n >= outsz ||
	    cs_utf8_count(s, n, false) < 1)
		return cs_err_set(err, CS_ERR_INVALID,
		    "%s: must be a string of 1 to %zu bytes of UTF-8 without "
		    "control characters",
		    name, max < outsz - 1 ? max : outsz - 1);
	memcpy(out, s, n + 1);
	return CS_OK;
}

/* Refuse members of body that action a does not take. */
static enum cs_rc
body_only(const json_t *body, enum lifecycle_action a, struct cs_err *err)
{
	static const char *const common[] = {"reason", NULL};
	static const char *const revoke[] = {"reason", "kind", NULL};
	static const char *const transfer[] = {"reason", "to", NULL};
	static const char *const renew[] = {
	    "reason", "valid_from", "valid_until", NULL};
	static const char *const correct[] = {
	    "reason", "fields", "holder", NULL};
	const char *const *allowed = common;
	const char *key;

	if (a == LIFECYCLE_REVOKE)
		allowed = revoke;
	else if (a == LIFECYCLE_TRANSFER)
		allowed = transfer;
	else if (a == LIFECYCLE_RENEW)
		allowed = renew;
	else if (a == LIFECYCLE_CORRECT)
		allowed = correct;
	key = jreq_unknown(body, allowed);
	if (key != NULL)
		return cs_err_set(err, CS_ERR_INVALID,
		    "%.64s: unknown member for %s", key,
		    lifecycle_action_name(a));
	return CS_OK;
}

/* A date member (YYYY-MM-DD) of body, or -1 when absent. */
static enum cs_rc
body_date(const json_t *body, const char *name, bool required, int64_t *day,
    struct cs_err *err)
{
	const json_t *v = json_object_get(body, name);

	*day = -1;
	if (v == NULL && !required)
		return CS_OK;
	if (!json_is_string(v) ||
	    !licence_date_parse(json_string_value(v), day))
		return cs_err_set(err, CS_ERR_INVALID,
		    "%s: %smust be a date YYYY-MM-DD", name,
		    required ? "required, " : "");
	return CS_OK;
}

/* Parse body into c (and the edit of a new version) for c->action. */
static enum cs_rc
body_parse(const json_t *body, struct lifecycle_change *c,
    struct licence_edit *e, bool *penalty, struct cs_err *err)
{
	const json_t *kind, *holder;
	enum cs_rc rc;

	*penalty = false;
	memset(e, 0, sizeof(*e));
	e->from_day = e->until_day = -1;
	if (body != NULL && !json_is_object(body))
		return cs_err_set(
		    err, CS_ERR_INVALID, "body: must be a JSON object");
	if (body == NULL)
		body = json_object();
	else
		json_incref((json_t *)body);
	if (body == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	rc = body_only(body, c->action, err);
	if (rc == CS_OK)
		rc = lifecycle_text(json_object_get(body, "reason"), "reason",
		    c->action == LIFECYCLE_REVOKE ||
		        c->action == LIFECYCLE_CORRECT,
		    LIFECYCLE_REASON_MAX, c->reason, sizeof(c->reason), err);
	if (rc != CS_OK)
		goto out;
	switch (c->action) {
	case LIFECYCLE_REVOKE:
		kind = json_object_get(body, "kind");
		if (kind == NULL ||
		    (json_is_string(kind) &&
		        strcmp(json_string_value(kind), "authority") == 0)) {
			cs_strlcpy(c->kind, "authority", sizeof(c->kind));
		} else if (json_is_string(kind) &&
		    strcmp(json_string_value(kind), "penalty") == 0) {
			cs_strlcpy(c->kind, "penalty", sizeof(c->kind));
			*penalty = true;
		} else {
			rc = cs_err_set(err, CS_ERR_INVALID,
			    "kind: must be \"authority\" (撤销) or \"penalty\" "
			    "(吊销)");
		}
		break;
	case LIFECYCLE_TRANSFER:
		rc = lifecycle_text(json_object_get(body, "to"), "to", false,
		    LIFECYCLE_REASON_MAX, c->transfer_to,
		    sizeof(c->transfer_to), err);
		break;
	case LIFECYCLE_RENEW:
		rc = body_date(body, "valid_until", true, &e->until_day, err);
		if (rc == CS_OK)
			rc = body_date(
			    body, "valid_from", false, &e->from_day, err);
		break;
	case LIFECYCLE_CORRECT:
		e->fields = json_object_get(body, "fields");
		if (!json_is_object(e->fields)) {
			rc = cs_err_set(err, CS_ERR_INVALID,
			    "fields: required, an object with every field");
			break;
		}
		holder = json_object_get(body, "holder");
		if (holder == NULL)
			break;
		if (!json_is_object(holder) || json_object_size(holder) != 1 ||
		    !json_is_string(json_object_get(holder, "name"))) {
			rc = cs_err_set(err, CS_ERR_INVALID,
			    "holder: only {\"name\": \"...\"} can be "
			    "corrected");
			break;
		}
		e->holder_name =
		    json_string_value(json_object_get(holder, "name"));
		break;
	default:
		break;
	}
out:
	/*
	 * The edit points into body: a caller's body outlives this call; our
	 * empty object holds nothing that e points to.
	 */
	json_decref((json_t *)body);
	return rc;
}

/* The newest version of id as p may act on it. */
static enum cs_rc
read_newest(struct svc *svc, const struct client_principal *p, const char *id,
    struct store_licence *l, struct cs_err *err)
{
	enum cs_rc rc;

	if (p != NULL && p->role != CLIENT_ISSUER)
		return cs_err_set(
		    err, CS_ERR_DENIED, "only issuer clients change licences");
	if (p != NULL)
		return licence_read(svc, p, id, 0, l, err);
	/* The administrator acts on any department's licences. */
	rc = store_licence_get(svc->store, id, 0, l, err);
	if (rc == CS_ERR_NOT_FOUND || rc == CS_ERR_INVALID)
		rc =
		    cs_err_set(err, CS_ERR_NOT_FOUND, "no licence '%.96s'", id);
	return rc;
}

enum cs_rc
lifecycle_prepare(struct svc *svc, const struct client_principal *p,
    const char *id, enum lifecycle_action a, const json_t *body,
    struct lifecycle_change *c, struct cs_err *err)
{
	struct licence_edit e;
	const char *to;
	bool penalty = false, expired;
	time_t now = time(NULL);
	int64_t old_until;
	enum cs_rc rc;

	memset(c, 0, sizeof(*c));
	c->action = a;
	cs_strlcpy(c->actor, p != NULL ? p->id : "admin", sizeof(c->actor));
	if (lifecycle_action_name(a)[0] == '?')
		return cs_err_set(err, CS_ERR_INVALID, "unknown action");
	rc = read_newest(svc, p, id, &c->cur, err);
	if (rc != CS_OK)
		goto out;
	rc = body_parse(body, c, &e, &penalty, err);
	if (rc != CS_OK)
		goto out;
	expired = licence_is_expired(&c->cur, now);
	to = lifecycle_next(c->cur.status, expired, a, penalty);
	if (to == NULL) {
		rc = cs_err_set(err, CS_ERR_CONFLICT,
		    "licence '%.96s' version %d is %s%s: cannot %s", c->cur.id,
		    c->cur.version, c->cur.status,
		    expired && strcmp(c->cur.status, LICENCE_VALID) != 0
		        ? " and " LICENCE_EXPIRED
		        : expired ? " but " LICENCE_EXPIRED
		                  : "",
		    lifecycle_action_name(a));
		goto out;
	}
	cs_strlcpy(c->to, to, sizeof(c->to));
	if (a == LIFECYCLE_RENEW) {
		/* A renewal extends: it starts today unless told otherwise. */
		if (e.from_day < 0)
			e.from_day = licence_today(now);
		old_until = licence_today((time_t)c->cur.valid_until);
		if (e.until_day <= old_until) {
			rc = cs_err_set(err, CS_ERR_INVALID,
			    "valid_until: must be after the current "
			    "valid_until");
			goto out;
		}
	}
	if (a == LIFECYCLE_RENEW || a == LIFECYCLE_CORRECT) {
		rc = licence_new_version(svc, &c->cur, &e, &c->next, err);
		if (rc != CS_OK)
			goto out;
		c->has_next = true;
	}
out:
	if (rc != CS_OK)
		lifecycle_change_release(c);
	return rc;
}

enum cs_rc
lifecycle_write(
    struct store_tx *tx, struct lifecycle_change *c, struct cs_err *err)
{
	char object[STORE_LICENCE_ID_MAX + 32], action[32];
	struct store_audit_event ev;
	int64_t now = (int64_t)time(NULL);
	json_t *detail;
	char *text = NULL;
	enum cs_rc rc;

	snprintf(
	    object, sizeof(object), "licence:%s/%d", c->cur.id, c->cur.version);
	snprintf(action, sizeof(action), "licence.%s",
	    lifecycle_action_name(c->action));
	/* States, reason and versions only: never a holder identifier. */
	detail = json_pack("{s:s,s:s,s:s}", "from", c->cur.status, "to", c->to,
	    "reason", c->reason);
	if (detail != NULL && c->kind[0] != '\0')
		json_object_set_new(detail, "kind", json_string(c->kind));
	if (detail != NULL && c->transfer_to[0] != '\0')
		json_object_set_new(
		    detail, "transfer_to", json_string(c->transfer_to));
	if (detail != NULL && c->has_next)
		json_object_set_new(
		    detail, "new_version", json_integer(c->next.version));
	if (detail != NULL)
		text = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(detail);
	if (text == NULL) /* nothing written yet: the caller rolls back */
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	memset(&ev, 0, sizeof(ev));
	ev.actor = c->actor;
	ev.action = action;
	ev.object = object;
	ev.outcome = "ok";
	ev.detail = text;
	rc = store_licence_set_status(tx, c->cur.id, c->cur.version,
	    c->cur.status, c->to, c->reason, now, err);
	if (rc == CS_ERR_CONFLICT)
		rc = cs_err_set(err, CS_ERR_CONFLICT,
		    "licence '%.96s' version %d changed meanwhile: cannot %s",
		    c->cur.id, c->cur.version,
		    lifecycle_action_name(c->action));
	if (rc == CS_OK && c->has_next)
		rc = store_licence_put(tx, &c->next, err);
	if (rc == CS_OK)
		rc = store_audit_append(tx, &ev, NULL, err);
	free(text);
	if (rc != CS_OK)
		return rc;
	cs_strlcpy(c->cur.status, c->to, sizeof(c->cur.status));
	cs_strlcpy(
	    c->cur.status_reason, c->reason, sizeof(c->cur.status_reason));
	c->cur.status_changed = now;
	return CS_OK;
}

void
lifecycle_change_release(struct lifecycle_change *c)
{
	if (c == NULL)
		return;
	store_licence_release(&c->cur);
	store_licence_release(&c->next);
	memset(c, 0, sizeof(*c));
}

enum cs_rc
lifecycle_apply(struct svc *svc, const struct client_principal *p,
    const char *id, enum lifecycle_action a, const json_t *body,
    struct store_licence *out, struct cs_err *err)
{
	struct lifecycle_change c;
	struct store_tx *tx = NULL;
	enum cs_rc rc;

	memset(out, 0, sizeof(*out));
	rc = lifecycle_prepare(svc, p, id, a, body, &c, err);
	if (rc != CS_OK)
		return rc;
	rc = store_tx_begin(svc->store, &tx, err);
	if (rc != CS_OK)
		goto out;
	rc = lifecycle_write(tx, &c, err);
	if (rc != CS_OK)
		goto out;
	rc = store_tx_commit(tx, err);
	tx = NULL;
	if (rc != CS_OK)
		goto out;
	svc_refresher_nudge(svc);
	/* Hand over the newest version: the caller owns it now. */
	if (c.has_next) {
		*out = c.next;
		memset(&c.next, 0, sizeof(c.next));
	} else {
		*out = c.cur;
		memset(&c.cur, 0, sizeof(c.cur));
	}
out:
	store_tx_rollback(tx);
	lifecycle_change_release(&c);
	return rc;
}
