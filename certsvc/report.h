/*
 * report.h: the report signer and signed verification reports (issue #5).
 *
 * Reports are answers to reads, so signing one must not cost a token
 * operation: they are signed with a short-lived P-256 key that exists only
 * in certsvcd's memory, certified by the issuing CA (whose key is in the
 * token) with the CRYPTO_CERT_REPORT profile for REPORT_CERT_HOURS.  The
 * token signs one certificate a day (report_refresh); every report and
 * every status list is then signed in memory.  Each report certificate is
 * recorded in service_certs (purpose "report") so OCSP and CRLs know it.
 * A report is canonical JSON + a detached CMS seal over those bytes, the
 * licence mechanism, so `openssl cms -verify` checks it against the root.
 */
#ifndef CERTSVC_REPORT_H
#define CERTSVC_REPORT_H

#include <stdatomic.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certsvc/svc.h"

#define REPORT_CERT_HOURS 48   /* validity of a report certificate */
#define REPORT_ROTATE_HOURS 24 /* a new key and certificate this often */

#define REPORT_FORMAT "certsvc-report/1"

/*
 * One report key and its certificate: shared, reference counted.  The
 * fields never change once the key is handed out, so holders of a
 * reference read them without a lock.
 */
struct report_key {
	EVP_PKEY *key;   /* in-memory private key */
	X509 *cert;      /* CRYPTO_CERT_REPORT, issued by svc->issuing */
	X509 *issuer;    /* svc->issuing when it was made (a reference) */
	char serial[80]; /* certificate serial, upper-case hex */
	int64_t not_before;
	int64_t not_after;
	int64_t made;                  /* Unix seconds */
	struct crypto_seal_tmpl *tmpl; /* reports are sealed through it */
	atomic_int refs;
};

/* Create / free svc->reports (svc_open / svc_free call them). */
enum cs_rc report_init(struct svc *svc, struct cs_err *err);
void report_free(struct svc *svc);

/*
 * Make the first key, or the next one when the current one is older than
 * REPORT_ROTATE_HOURS: a token signature, so only the refresher thread
 * calls it (svc_refresh).  Cheap when there is nothing to do.
 */
enum cs_rc report_refresh(struct svc *svc, struct cs_err *err);

/*
 * Make a new key and certificate now, record the certificate in
 * service_certs with its audit event (one transaction), then make it the
 * current key; the previous one lives on until its last reference is put.
 * report_refresh() calls it when a rotation is due (tests call it to
 * rotate at once).  CS_ERR_NOT_FOUND when there is no CA yet; the token's
 * and the store's codes pass through, and then the current key stays.
 */
enum cs_rc report_rotate(struct svc *svc, struct cs_err *err);

/*
 * The current key (a reference: report_key_put; thread-safe, no token
 * operation).  CS_ERR_TOKEN when none has been made yet (the token was
 * never reachable since start) or the current one has expired.
 */
enum cs_rc report_key_get(
    struct svc *svc, struct report_key **out, struct cs_err *err);
void report_key_put(struct report_key *k);

/*
 * Sign report (a JSON object): *doc = its canonical JSON, *seal = detached
 * CMS (DER) made with the current report key, chain included.  Both given.
 * An in-memory signature: CS_ERR_TOKEN only when there is no report key
 * (report_key_get), CS_ERR_INVALID when report cannot be canonicalised.
 */
enum cs_rc report_sign(struct svc *svc, const json_t *report, struct buf **doc,
    struct buf **seal, struct cs_err *err);

/* What report_verify() found. */
struct report_verified {
	bool ok;          /* the seal verifies, by a report signer, see below */
	char reason[256]; /* why not ok, "" when ok */
	char signer[256]; /* subject of the signer certificate, "" if none */
	json_t *report;   /* the report document when ok (given), else NULL */
};

/*
 * Verify a report offline: in is a report envelope {"document": b64,
 * "seal": b64, ...} or a whole POST /v1/verify response (its "report").
 * out->ok only when the seal verifies over the exact document bytes, the
 * signer chains to root at the current time, the signer is a report
 * signer (CN "certsvc report signer ...", no organizationIdentifier, no
 * extendedKeyUsage: a seal certificate cannot pass for one) and the
 * document is canonical certsvc-report/1 JSON.  A bad report is an answer
 * (CS_OK); CS_ERR_INVALID when in holds no envelope or its base64 is bad.
 * Release out with report_verified_release().
 */
enum cs_rc report_verify(const json_t *in, X509 *root,
    struct report_verified *out, struct cs_err *err)
    __attribute__((warn_unused_result));
void report_verified_release(struct report_verified *out);

#endif
