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

#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certsvc/svc.h"

#define REPORT_CERT_HOURS 48   /* validity of a report certificate */
#define REPORT_ROTATE_HOURS 24 /* a new key and certificate this often */

/* One report key and its certificate: shared, reference counted. */
struct report_key {
	EVP_PKEY *key;   /* in-memory private key */
	X509 *cert;      /* CRYPTO_CERT_REPORT, issued by svc->issuing */
	char serial[80]; /* certificate serial, upper-case hex */
	int64_t not_after;
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
 * The current key (a reference: report_key_put).  CS_ERR_TOKEN when none
 * has been made yet (the token was never reachable since start).
 */
enum cs_rc report_key_get(
    struct svc *svc, struct report_key **out, struct cs_err *err);
void report_key_put(struct report_key *k);

/*
 * Sign report (a JSON object): *doc = its canonical JSON, *seal = detached
 * CMS (DER) made with the current report key, chain included.  Both given.
 */
enum cs_rc report_sign(struct svc *svc, const json_t *report, struct buf **doc,
    struct buf **seal, struct cs_err *err);

#endif
