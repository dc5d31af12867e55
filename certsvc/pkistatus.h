/*
 * pkistatus.h: certificate status answers (issue #5): pre-signed OCSP
 * responses (RFC 6960, RFC 5019 profile) for every certificate the issuing
 * CA has issued (seals and certsvc's service certificates), and one CRL per
 * CA.  All of it is signed ahead of time by the refresher (svc_refresh)
 * and served from memory: an OCSP or CRL request never waits on the token.
 */
#ifndef CERTSVC_PKISTATUS_H
#define CERTSVC_PKISTATUS_H

#include <stddef.h>
#include <stdint.h>

#include "certsvc/mem.h"
#include "certsvc/svc.h"

/* Create / free svc->pki (svc_open / svc_free call them). */
enum cs_rc pkistatus_init(struct svc *svc, struct cs_err *err);
void pkistatus_free(struct svc *svc);

/*
 * Bring what is pre-signed up to date: on start, when the "certs"
 * generation moved, and before half the lifetime of what was signed has
 * passed.  Token signatures: only the refresher thread calls it.
 */
enum cs_rc pkistatus_refresh(struct svc *svc, struct cs_err *err);

/* An answer ready to send, with its RFC 5019 caching headers. */
struct pkistatus_answer {
	struct buf *body;                 /* given */
	int64_t this_update, next_update; /* Unix seconds */
	int64_t produced_at;
	char etag[72]; /* quoted strong ETag */
};

/*
 * The OCSP response (DER) to the DER request req: malformedRequest for
 * garbage, unauthorized for a certificate of an issuer certsvc does not
 * answer for, otherwise the pre-signed response.  Never one past its
 * nextUpdate (tryLater instead).  *a filled (pkistatus_answer_release).
 */
enum cs_rc pkistatus_ocsp(struct svc *svc, const uint8_t *req, size_t len,
    struct pkistatus_answer *a, struct cs_err *err);

/* The CRL (DER) of CA name ("root", "issuing"); CS_ERR_NOT_FOUND. */
enum cs_rc pkistatus_crl(struct svc *svc, const char *name,
    struct pkistatus_answer *a, struct cs_err *err);

void pkistatus_answer_release(struct pkistatus_answer *a);

#endif
