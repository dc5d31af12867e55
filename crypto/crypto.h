/*
 * crypto.h: certificates and the other OpenSSL structures certsvc makes.
 * crypto/ never talks to the token: it signs with the EVP_PKEY it is given
 * (a token-backed key in production, a software key in tests), and follows
 * RFC 5280 to the letter so that any conforming verifier accepts the result.
 */
#ifndef CERTSVC_CRYPTO_H
#define CERTSVC_CRYPTO_H

#include <stdbool.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certsvc/err.h"
#include "certsvc/mem.h"

enum crypto_profile {
	CRYPTO_CERT_ROOT_CA = 1, /* self-signed trust anchor */
	CRYPTO_CERT_SUB_CA,      /* issuing CA, pathLen 0 */
};

struct crypto_cert_spec {
	enum crypto_profile profile;
	const char *common_name;  /* CN, UTF-8, required */
	const char *organization; /* O, UTF-8, may be NULL */
	const char *country;      /* C, 2 letters, may be NULL */
	unsigned days;            /* validity from now */
	EVP_PKEY *subject_key;    /* public key to certify (public part used) */
	const char *crl_url;      /* CRL distribution point URI or NULL */
	const char *ocsp_url;     /* AIA id-ad-ocsp URI or NULL */
	const char *ca_issuers_url; /* AIA id-ad-caIssuers URI or NULL */
};

/*
 * Issue a certificate for spec, signed by issuer_key.  issuer is the
 * issuer's certificate, or NULL for a self-signed one (then issuer_key must
 * be the key of spec->subject_key).  The serial is 16 random bytes, positive.
 * The signature algorithm follows the issuer key: ecdsa-with-SHA256 for
 * P-256, ecdsa-with-SHA384 for P-384, sha256WithRSAEncryption for RSA.
 * *out is given.
 */
enum cs_rc crypto_cert_issue(const struct crypto_cert_spec *spec, X509 *issuer,
    EVP_PKEY *issuer_key, X509 **out, struct cs_err *err);

/* The digest certsvc uses with key k: SHA-384 for P-384, else SHA-256. */
const EVP_MD *crypto_md_for_key(const EVP_PKEY *k);

/* Encode as PEM / DER into a new buffer (*out given). */
enum cs_rc crypto_cert_to_pem(X509 *cert, struct buf **out, struct cs_err *err);
enum cs_rc crypto_cert_to_der(X509 *cert, struct buf **out, struct cs_err *err);

/* Decode one certificate from PEM or DER (*out given); CS_ERR_INVALID. */
enum cs_rc crypto_cert_from_pem(
    const void *p, size_t len, X509 **out, struct cs_err *err);
enum cs_rc crypto_cert_from_der(
    const void *p, size_t len, X509 **out, struct cs_err *err);

/*
 * Verify cert against trust anchor root with optional untrusted
 * intermediates at the current time.  *valid is true only when OpenSSL
 * says 1; reason (may be NULL) receives OpenSSL's verify error string.
 */
enum cs_rc crypto_cert_verify(X509 *cert, X509 *root, STACK_OF(X509) * chain,
    bool *valid, char *reason, size_t reasonsz, struct cs_err *err)
    __attribute__((warn_unused_result));

/* True when the public key of cert equals pub. */
bool crypto_cert_matches_key(X509 *cert, EVP_PKEY *pub);

/* One-line description "CN=..., O=..." of the subject into out. */
void crypto_cert_subject(X509 *cert, char *out, size_t outsz);

#endif
