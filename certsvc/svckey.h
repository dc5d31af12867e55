/*
 * svckey.h: keys of certsvc's own services that live in the token (the
 * OCSP responder, the TSA, the audit checkpoint signer): a key generated
 * in the token and certified by the issuing CA with the service's profile,
 * recorded in the key inventory and in service_certs together with its
 * audit event, in one transaction.  OCSP and CRLs then answer for the
 * certificate like for a seal's.  The report signer's in-memory key
 * (report.c) is recorded the same way, through svckey_record().
 */
#ifndef CERTSVC_SVCKEY_H
#define CERTSVC_SVCKEY_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certsvc/store.h"
#include "certsvc/svc.h"
#include "crypto/crypto.h"

/* A service key ready to sign. */
struct svckey {
	char purpose[16]; /* "ocsp", "tsa", "audit" */
	char key_uri[STORE_URI_MAX];
	char serial[STORE_SERIAL_MAX]; /* its certificate's, upper-case hex */
	EVP_PKEY *key;                 /* token-backed */
	X509 *cert;
	int64_t not_after;
};

/*
 * Make a new service key: P-256 in the token labelled
 * "<purpose>-<UTC time>", certified by the issuing CA with profile for
 * days, named CN "certsvc <cn>", recorded (store_key_put, store_svc_cert_put
 * and the audit event "<purpose>.certify" by actor) in one transaction.
 * purpose is "ocsp", "tsa" or "audit".  CS_ERR_NOT_FOUND when there is no
 * CA yet.  out is filled (svckey_release).
 */
enum cs_rc svckey_create(struct svc *svc, const char *purpose,
    enum crypto_profile profile, const char *cn, unsigned days,
    const char *actor, struct svckey *out, struct cs_err *err);

/*
 * The current key of purpose (store_svc_cert_current at now and its token
 * key); CS_ERR_NOT_FOUND when there is none.  out filled (svckey_release).
 */
enum cs_rc svckey_load(struct svc *svc, const char *purpose, struct svckey *out,
    struct cs_err *err);

/*
 * c->serial (upper-case hex), c->not_before and c->not_after from cert;
 * CS_ERR_CRYPTO when they cannot be read.
 */
enum cs_rc svckey_cert_info(
    X509 *cert, struct store_svc_cert *c, struct cs_err *err);

/*
 * Record the service certificate c (c->purpose "ocsp", "report", ...) with
 * the audit event "<purpose>.certify" by actor (NULL: "system") and, for a
 * key in the token, its inventory row key (NULL for a key that lives only
 * in memory), in one transaction.  Store errors as store_tx_commit().
 */
enum cs_rc svckey_record(struct svc *svc, const struct store_key *key,
    const struct store_svc_cert *c, const char *actor, struct cs_err *err);

/* Free what out holds; NULL does nothing. */
void svckey_release(struct svckey *k);

#endif
