/*
 * objection.h: objections (异议).  A holder claims that a licence of
 * theirs is wrong; the issuing department resolves it by a correction (a
 * new version, the old one superseded, in the same transaction as the
 * objection's resolution) or by a rejection with a reason.  The holder
 * sees the outcome.  Everything is audited.
 */
#ifndef CERTSVC_OBJECTION_H
#define CERTSVC_OBJECTION_H

#include <jansson.h>

#include "certsvc/client.h"
#include "certsvc/store.h"
#include "certsvc/svc.h"

#define OBJECTION_TEXT_MAX 2000 /* bytes of UTF-8 */

/*
 * File an objection for holder p from body {"licence_id", "text"}: the
 * licence must be one of p's (else CS_ERR_NOT_FOUND, as for an unknown
 * one), text 1 to OBJECTION_TEXT_MAX bytes of UTF-8 (line breaks and tabs
 * allowed, other controls not).  CS_ERR_DENIED for non-holders,
 * CS_ERR_INVALID naming the member.  The objection concerns the newest
 * version; out is filled (id "O-" + 16 hex, status "open").
 */
enum cs_rc objection_file(struct svc *svc, const struct client_principal *p,
    const json_t *body, struct store_objection *out, struct cs_err *err);

/*
 * Objections p may see, newest first, at most STORE_LIST_MAX: a holder's
 * own, an issuer's department's, or (p NULL, the administrator) dept's,
 * or all when dept is NULL.  status NULL or "open", "corrected",
 * "rejected" (else CS_ERR_INVALID).  Verifiers: CS_ERR_DENIED.  *out is
 * given (free()).
 */
enum cs_rc objection_list(struct svc *svc, const struct client_principal *p,
    const char *dept, const char *status, struct store_objection **out,
    size_t *n, struct cs_err *err);

/*
 * Resolve objection id on behalf of p (an issuer of the licence's
 * department; NULL: the administrator) from body {"outcome": "corrected",
 * "fields": {...}, "holder"?: {"name"}, "reason"} or {"outcome":
 * "rejected", "reason"}.  A correction is the one of lifecycle.h
 * (validated, sealed anew) written in the same transaction as the
 * resolution and both audit events.  CS_ERR_NOT_FOUND for an unknown
 * objection or another department's, CS_ERR_CONFLICT when it is resolved
 * already (or the licence's state forbids a correction), CS_ERR_INVALID
 * naming the member, CS_ERR_DENIED for holders and verifiers.  out gets
 * the resolved objection; lic (may be NULL) the new version of a
 * correction, else it is zeroed (store_licence_release).
 */
enum cs_rc objection_resolve(struct svc *svc, const struct client_principal *p,
    const char *id, const json_t *body, struct store_objection *out,
    struct store_licence *lic, struct cs_err *err);

/*
 * The JSON of o for its holder or its issuer: id, licence_id, version,
 * status, text, created, and once resolved resolution, resolved_at and
 * new_version (corrected).  Never the holder reference.  Given (decref).
 */
json_t *objection_json(const struct store_objection *o);

#endif
