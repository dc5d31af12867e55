/*
 * licence.h: sealed e-licences (电子证照).  A licence's document is the
 * RFC 8785 canonical JSON of its content and its seal a detached CAdES-BES
 * CMS SignedData over exactly those bytes, made with a seal of the issuing
 * department; both are stored with the licence's metadata and its audit
 * event in one transaction.
 */
#ifndef CERTSVC_LICENCE_H
#define CERTSVC_LICENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "certsvc/client.h"
#include "certsvc/store.h"
#include "certsvc/svc.h"

#define LICENCE_IDEM_KEY_MAX 128

/*
 * Licence states (docs/licence-states.md), as stored in
 * store_licence.status.  Expired (失效) is derived from valid_until and
 * never stored.
 */
#define LICENCE_VALID "valid"                     /* 有效 */
#define LICENCE_SUSPENDED "suspended"             /* 暂扣 */
#define LICENCE_REVOKED "revoked"                 /* 撤销, by the authority */
#define LICENCE_PENALTY_REVOKED "penalty_revoked" /* 吊销, as a penalty */
#define LICENCE_CANCELLED "cancelled"             /* 注销, holder's request */
#define LICENCE_SUPERSEDED "superseded"           /* 变更/延续 */
#define LICENCE_TRANSFERRED "transferred"         /* 转出 */
#define LICENCE_EXPIRED "expired"                 /* 失效: derived only */

/* What issuance gives back. */
struct licence_issued {
	struct store_licence lic;             /* metadata, document and seal */
	bool replayed;                        /* an Idempotency-Key retry */
	char holder_token[CLIENT_SECRET_MAX]; /* "" when replayed */
	char holder_client[STORE_CODE_MAX];
};

/* licence_issue() flags */
enum {
	/* No holder token (batch import: holders get tokens on request). */
	LICENCE_NO_HOLDER_TOKEN = 1 << 0,
};

/*
 * Issue a licence from a request (the JSON body of POST /v1/licences,
 * docs/api.md) on behalf of principal p (an issuer), with idem_key (1-128
 * printable ASCII, required).  Validation against the type: CS_ERR_INVALID
 * naming the field; entitlement: CS_ERR_DENIED; a known key with the same
 * body returns the licence it made (replayed = true), with another body
 * CS_ERR_CONFLICT.  out is filled (licence_issued_release).
 */
enum cs_rc licence_issue(struct svc *svc, const struct client_principal *p,
    const json_t *req, const char *idem_key, unsigned flags,
    struct licence_issued *out, struct cs_err *err);
void licence_issued_release(struct licence_issued *out);

/*
 * The answer of POST /v1/licences for out, as text: licence_summary() with
 * "envelope" (licence_envelope()), "replayed" and, unless replayed,
 * "holder_token" and "holder_client", the bytes json_dumps(JSON_COMPACT)
 * makes of that object.  *text is given (NUL-ended; it holds the holder
 * token, so wipe it before freeing), *len its length.  CS_ERR_INVALID when
 * the id, token or client id would need escaping (never for what
 * licence_issue() makes), CS_ERR_NOMEM.
 */
enum cs_rc licence_issued_text(const struct licence_issued *out, char **text,
    size_t *len, struct cs_err *err);

/*
 * A licence the principal may read: issuers their department's, holders
 * their own; anything else is CS_ERR_NOT_FOUND (no existence leak).
 * version 0 = newest.  l filled (store_licence_release).
 */
enum cs_rc licence_read(struct svc *svc, const struct client_principal *p,
    const char *id, int version, struct store_licence *l, struct cs_err *err);

/* The envelope JSON of l: {"format", "id", "version", "document", "seal"}. */
json_t *licence_envelope(const struct store_licence *l);

/* Create svc's serial allocator (svc_open calls it). */
enum cs_rc licence_serials_init(struct svc *svc, struct cs_err *err);

/* Free svc's serial allocator (svc_free calls it). */
void licence_serials_free(struct svc *svc);

/*
 * Parse YYYY-MM-DD (a real calendar date from 1970) to its day number
 * since 1970-01-01; false when it is not one.
 */
bool licence_date_parse(const char *s, int64_t *days);

/* The day number of today in China Standard Time (UTC+8). */
int64_t licence_today(time_t now);

/* True when l's validity ended before now (失效, derived, never stored). */
bool licence_is_expired(const struct store_licence *l, time_t now);

/* What a new version changes; the rest comes from the previous one. */
struct licence_edit {
	const json_t *fields;    /* the complete corrected fields, or NULL */
	const char *holder_name; /* or NULL: unchanged */
	int64_t from_day;        /* licence_date_parse() days, -1: unchanged */
	int64_t until_day;       /* -1: unchanged */
	const char *seal_id; /* seal it, or NULL: the department's current */
};

/*
 * Make version cur->version + 1 of licence cur (its newest version, with
 * its document): the previous document's content with e applied, fields
 * checked against the type (CS_ERR_INVALID naming the field), the
 * department still entitled (CS_ERR_DENIED), a new status-list slot,
 * sealed with the department's current seal (CS_ERR_NOT_FOUND when it has
 * none).  Nothing is stored: the caller writes next (store_licence_put)
 * with the supersession and its audit event in one transaction.  next is
 * filled (store_licence_release), status "valid".
 */
enum cs_rc licence_new_version(struct svc *svc, const struct store_licence *cur,
    const struct licence_edit *e, struct store_licence *next,
    struct cs_err *err);

/*
 * Metadata JSON of l (no document, no holder identifier); with
 * status_reason and status_changed once its status changed.
 */
json_t *licence_summary(const struct store_licence *l);

#endif
