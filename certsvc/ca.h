/*
 * ca.h: certsvc's own certificate authority: a root and an issuing CA whose
 * keys live in the token.
 */
#ifndef CERTSVC_CA_H
#define CERTSVC_CA_H

#include <stdbool.h>

#include "certsvc/svc.h"
#include "crypto/crypto.h"
#include "pkcs11/p11.h"

#define CA_ROOT_DAYS (10 * 365 + 2)
#define CA_ISSUING_DAYS (5 * 365 + 1)

struct ca_init_opts {
	enum p11_alg alg;  /* key algorithm of both CA keys */
	const char *actor; /* who asked, for the audit event */
};

/*
 * Create the root and issuing CA if the store has none: keys generated in
 * the token (a key left by an interrupted earlier run is reused), the
 * self-signed root and the issuing CA certificate, stored with their key
 * inventory and one audit event in a single transaction; then the PEM files
 * are exported.  Idempotent: when the CA exists, *created is false and
 * nothing changes.  Needs svc->store and svc->token.
 */
enum cs_rc ca_init(struct svc *svc, const struct ca_init_opts *opts,
    bool *created, struct cs_err *err);

/*
 * Certify spec->subject_key with the issuing CA, whose key is taken from
 * the token: spec gives the profile, names and lifetime; the issuing CA's
 * CRL, OCSP and caIssuers URLs (under public_url) are added here, except
 * the OCSP URL in an OCSP responder's certificate, whose own status is not
 * checked (ocsp-nocheck).  *out is given (X509_free).  CS_ERR_NOT_FOUND
 * without an issuing CA; token and OpenSSL failures as p11_key_get() and
 * crypto_cert_issue().
 */
enum cs_rc ca_issue(struct svc *svc, const struct crypto_cert_spec *spec,
    X509 **out, struct cs_err *err);

/*
 * Write DATA/ca/root.pem and DATA/ca/issuing.pem from the loaded CA (mode
 * 0644, rewritten only when missing or different).
 */
enum cs_rc ca_export_files(struct svc *svc, struct cs_err *err);

#endif
