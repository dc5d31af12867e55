/*
 * tsa.h: certsvc's RFC 3161 timestamp authority (issue #7,
 * docs/timestamps.md): answers POST /tsa and timestamps licence seals
 * (CAdES-T) and, when configured, verification reports.  Its key lives in
 * the token (purpose "tsa", CRYPTO_CERT_TSA from the issuing CA, made on
 * first use like the audit key) and is loaded once per process.
 */
#ifndef CERTSVC_TSA_H
#define CERTSVC_TSA_H

#include <stdint.h>

#include "certsvc/err.h"
#include "certsvc/mem.h"
#include "certsvc/svc.h"
#include "crypto/crypto.h"

#define TSA_KEY_DAYS 365 /* validity of a TSA certificate */

/* What the TSA answered since the process started. */
struct tsa_stats {
	uint64_t granted;  /* timestamps signed (requests and seals) */
	uint64_t rejected; /* requests refused for what they asked */
	uint64_t failed;   /* systemFailure: no key, token away */
};

/* The TSA state of svc->tsa; tsa_free(NULL svc->tsa) does nothing. */
enum cs_rc tsa_init(struct svc *svc, struct cs_err *err);
void tsa_free(struct svc *svc);

/*
 * Answer the DER TimeStampReq der (crypto_ts_respond() with the TSA key):
 * *resp is a DER TimeStampResp, granted or a rejection, given.  When the
 * key cannot be loaded or made, or the token fails, the answer is a
 * systemFailure rejection and r->sys_rc says why (CS_ERR_TOKEN: the caller
 * answers 503).  r (may be NULL) receives the check.  Other codes only
 * when no answer can be made.
 */
enum cs_rc tsa_respond(struct svc *svc, const unsigned char *der, size_t len,
    struct buf **resp, struct crypto_ts_req *r, struct cs_err *err);

/*
 * Make *seal (a DER CMS SignedData with one signer) CAdES-T: timestamp the
 * SHA-256 of its signature value and add the token as the unsigned
 * attribute id-aa-signatureTimeStampToken.  *seal is replaced only on
 * success.  One token signature: never call it under a store transaction.
 * CS_ERR_TOKEN when the token or the key is unavailable.
 */
enum cs_rc tsa_stamp_seal(
    struct svc *svc, struct buf **seal, struct cs_err *err);

/* Counters since the start (zero without svc->tsa). */
void tsa_stats(struct svc *svc, struct tsa_stats *out);

#endif
