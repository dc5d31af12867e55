/*
 * pkistatus.h: certificate status answers (issue #5): pre-signed OCSP
 * responses (RFC 6960, RFC 5019 profile) for every certificate the issuing
 * CA has issued (seals and certsvc's service certificates), and one CRL per
 * CA.  All of it is signed ahead of time by the refresher (svc_refresh)
 * and served from memory: an OCSP or CRL request never waits on the token.
 */
#ifndef CERTSVC_PKISTATUS_H
#define CERTSVC_PKISTATUS_H

#include <stdbool.h>
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

/* Lifetimes: thisUpdate to nextUpdate, re-signed after half of it. */
#define PKISTATUS_OCSP_LIFE (24 * 3600)
#define PKISTATUS_CRL_LIFE (24 * 3600)
/* The OCSP responder certificate: renewed when a third is left. */
#define PKISTATUS_RESPONDER_DAYS 30

/*
 * An answer ready to send, with its RFC 5019 caching headers.  Error
 * answers (malformedRequest, unauthorized, tryLater) are not cacheable:
 * times 0 and etag "".
 */
struct pkistatus_answer {
	struct buf *body;                 /* given */
	bool cacheable;                   /* a signed response or CRL */
	int ocsp_status;                  /* OCSPResponseStatus, 0 for CRLs */
	int64_t this_update, next_update; /* Unix seconds */
	int64_t produced_at;              /* when it was signed */
	char etag[72];                    /* quoted strong ETag */
};

/*
 * The OCSP response (DER) to the DER request req: malformedRequest for
 * garbage (crypto_ocsp_request_parse), unauthorized for a certificate of
 * an issuer certsvc does not answer for or a serial it never issued (RFC
 * 5019 2.2.3), otherwise the pre-signed response.  Never one past its
 * nextUpdate, and tryLater before the first refresh.  Takes a read lock
 * and copies: never waits on the token or the store.  CS_OK with *a
 * filled (pkistatus_answer_release) for every request; CS_ERR_NOMEM only.
 */
enum cs_rc pkistatus_ocsp(struct svc *svc, const uint8_t *req, size_t len,
    struct pkistatus_answer *a, struct cs_err *err);

/*
 * The CRL (DER) of CA name ("root", "issuing"), *a filled
 * (pkistatus_answer_release).  CS_ERR_NOT_FOUND for another name,
 * CS_ERR_TOKEN (503) before the first refresh or when the last one signed
 * is past its nextUpdate.
 */
enum cs_rc pkistatus_crl(struct svc *svc, const char *name,
    struct pkistatus_answer *a, struct cs_err *err);

/* Free a->body; a may be reused. */
void pkistatus_answer_release(struct pkistatus_answer *a);

/*
 * How many OCSP responses the current snapshot holds (two per certificate:
 * SHA-1 and SHA-256 CertIDs), its "certs" generation and the cRLNumber of
 * the issuing CA's CRL; all 0 before the first refresh.  For tests and
 * metrics.
 */
void pkistatus_stats(
    struct svc *svc, size_t *responses, int64_t *gen, int64_t *crl_number);

/*
 * The times of what is pre-signed, for /metrics: the oldest thisUpdate
 * and the soonest nextUpdate among the OCSP responses, and per CA ("root",
 * "issuing": index 0, 1) the CRL's; 0 where nothing is signed yet.
 */
struct pkistatus_times {
	int64_t ocsp_oldest, ocsp_next;
	int64_t crl_this[2], crl_next[2];
};
void pkistatus_times(struct svc *svc, struct pkistatus_times *t);

/*
 * Tests only: judge the answers of pkistatus_ocsp() and pkistatus_crl()
 * as if the clock were seconds ahead (0 to stop), so that a test can show
 * that nothing is served past its nextUpdate.
 */
void pkistatus_test_skew_set(int64_t seconds);

#endif
