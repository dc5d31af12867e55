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
 * b64} or {"licence_id": "..."}) for principal p (a verifier; issuers and
 * holders may verify what they may read).  *out (given) is the response
 * body: result, checks, licence id/version when known, and report (the
 * envelope of the signed report).  Malformed requests are CS_ERR_INVALID;
 * a bad seal or a revoked licence is an answer (CS_OK).
 */
enum cs_rc verify_request(struct svc *svc, const struct client_principal *p,
    const json_t *req, json_t **out, struct cs_err *err)
    __attribute__((warn_unused_result));

#endif
