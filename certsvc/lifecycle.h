/*
 * lifecycle.h: licence status changes, renewals and corrections, checked
 * against the state machine of docs/licence-states.md.  Each change is one
 * store transaction with its audit event; renewals and corrections make a
 * new version (same identifier, version + 1, sealed anew, new status-list
 * slot) and supersede the old one in that same transaction.
 */
#ifndef CERTSVC_LIFECYCLE_H
#define CERTSVC_LIFECYCLE_H

#include <stdbool.h>

#include <jansson.h>

#include "certsvc/client.h"
#include "certsvc/licence.h"
#include "certsvc/store.h"
#include "certsvc/svc.h"

#define LIFECYCLE_REASON_MAX 200 /* bytes of UTF-8 */

enum lifecycle_action {
	LIFECYCLE_SUSPEND = 1, /* 暂扣 */
	LIFECYCLE_REINSTATE,   /* 恢复 */
	LIFECYCLE_REVOKE,      /* 撤销, or 吊销 with kind "penalty" */
	LIFECYCLE_CANCEL,      /* 注销 */
	LIFECYCLE_TRANSFER,    /* 转出 */
	LIFECYCLE_RENEW,       /* 延续: new version, new validity */
	LIFECYCLE_CORRECT,     /* 变更: new version, corrected content */
};

/* "suspend", ..., "renew", "correct" to an action; false if none. */
bool lifecycle_action_parse(const char *name, enum lifecycle_action *a);

/* The action's name ("suspend", ...; "?" for an unknown value). */
const char *lifecycle_action_name(enum lifecycle_action a);

/*
 * The state machine.  The stored state that the newest version gets when
 * action a applies to it in stored state `status`, expired or not
 * (penalty: a revocation as a penalty, 吊销); for renew and correct that
 * is "superseded" (the new version is "valid").  NULL when the action is
 * not allowed.  A lent constant.
 */
const char *lifecycle_next(
    const char *status, bool expired, enum lifecycle_action a, bool penalty);

/* A change checked and prepared (new version sealed), not yet written. */
struct lifecycle_change {
	enum lifecycle_action action;
	char actor[STORE_NAME_MAX];  /* "client:<id>" style id or "admin" */
	struct store_licence cur;    /* the newest version, as read */
	char to[16];                 /* cur's status after the change */
	char reason[STORE_TEXT_MAX]; /* "" when none was given */
	char kind[16];               /* revoke: "authority" or "penalty" */
	char transfer_to[STORE_TEXT_MAX];
	bool has_next;
	struct store_licence next; /* renew, correct: the new version */
};

/*
 * Check and prepare action a on the newest version of licence id, on
 * behalf of p (an issuer of the licence's department; NULL: the
 * administrator, who may act on any department), with body the request's
 * JSON object (NULL: empty).  Bodies: {"reason"} for every action
 * (required for revoke and correct, at most LIFECYCLE_REASON_MAX bytes),
 * revoke {"kind": "authority"|"penalty"}, transfer {"to"}, renew
 * {"valid_until", "valid_from"?}, correct {"fields", "holder": {"name"}?}.
 * CS_ERR_DENIED for holders and verifiers, CS_ERR_NOT_FOUND for an
 * unknown licence or another department's, CS_ERR_INVALID naming the
 * member, CS_ERR_CONFLICT naming the current state and the action when the
 * state machine forbids it.  Renew and correct seal the new version here,
 * outside any transaction.  c is filled (lifecycle_change_release).
 */
enum cs_rc lifecycle_prepare(struct svc *svc, const struct client_principal *p,
    const char *id, enum lifecycle_action a, const json_t *body,
    struct lifecycle_change *c, struct cs_err *err);

/*
 * Write c in the caller's transaction: the guarded status change of the
 * old version (CS_ERR_CONFLICT when a concurrent change came first), the
 * new version if any, and the audit event.  On success c->cur holds the
 * new status.  On failure the caller rolls tx back.
 */
enum cs_rc lifecycle_write(
    struct store_tx *tx, struct lifecycle_change *c, struct cs_err *err);

void lifecycle_change_release(struct lifecycle_change *c);

/*
 * lifecycle_prepare() + lifecycle_write() in one transaction + commit,
 * then nudge the refresher.  out is the newest version afterwards: the old
 * one with its new status, or the new version (with document and seal)
 * for renew and correct (store_licence_release).
 */
enum cs_rc lifecycle_apply(struct svc *svc, const struct client_principal *p,
    const char *id, enum lifecycle_action a, const json_t *body,
    struct store_licence *out, struct cs_err *err);

/*
 * Check a free-text member (reasons, transfer targets): a string of 1 to
 * max bytes of UTF-8 without control characters.  CS_ERR_INVALID naming
 * it; NULL v is fine when not required (out "").
 */
enum cs_rc lifecycle_text(const json_t *v, const char *name, bool required,
    size_t max, char *out, size_t outsz, struct cs_err *err);

#endif
