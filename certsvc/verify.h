/*
 * verify.h: licence verification (issue #5, POST /v1/verify).  Every check
 * is reported on its own with a result and a reason; the overall result is
 * valid, invalid or indeterminate (docs/verification.md gives the rules).
 */
#ifndef CERTSVC_VERIFY_H
#define CERTSVC_VERIFY_H

#include <jansson.h>

#include "certsvc/client.h"
#include "certsvc/svc.h"

/*
 * Verify what req names ({"envelope": {...}}, {"document": b64, "seal":
 * b64} or {"licence_id": "...", "version": n}) for principal p, who must
 * be a verifier (else CS_ERR_DENIED); verifiers may verify any licence by
 * id.  *out (given) is the response body: result, checks, licence_id and
 * version (null when unknown), and report (the envelope of the signed
 * report).  Malformed requests, bad base64, a document over 1 MiB or a
 * seal over CRYPTO_CMS_MAX are CS_ERR_INVALID naming the member; an
 * unknown licence_id is CS_ERR_NOT_FOUND; no report key yet is
 * CS_ERR_TOKEN.  A bad seal or a revoked licence is an answer (CS_OK).
 */
enum cs_rc verify_request(struct svc *svc, const struct client_principal *p,
    const json_t *req, json_t **out, struct cs_err *err)
    __attribute__((warn_unused_result));

/*
 * verify_request() with the answer as compact JSON text (*text given,
 * free(); *len its length): the same members, the report's base64 written
 * in as it is rather than passed through json_dumps (it is most of the
 * body).  What POST /v1/verify sends.
 */
enum cs_rc verify_request_text(struct svc *svc,
    const struct client_principal *p, const json_t *req, char **text,
    size_t *len, struct cs_err *err) __attribute__((warn_unused_result));

#endif
