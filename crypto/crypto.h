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
	CRYPTO_CERT_SEAL,        /* e-seal: digitalSignature+nonRepudiation */
	CRYPTO_CERT_OCSP, /* OCSP responder: id-kp-OCSPSigning, ocsp-nocheck */
	CRYPTO_CERT_REPORT, /* verification reports, status lists (no EKU) */
	CRYPTO_CERT_TSA,    /* RFC 3161 TSA: critical EKU timeStamping */
	CRYPTO_CERT_AUDIT,  /* audit checkpoints (no EKU) */
};

struct crypto_cert_spec {
	enum crypto_profile profile;
	const char *common_name;  /* CN, UTF-8, required */
	const char *organization; /* O, UTF-8, may be NULL */
	const char *country;      /* C, 2 letters, may be NULL */
	/*
	 * organizationIdentifier (X.520 2.5.4.97) in the ETSI EN 319 412-1
	 * form, e.g. "NTRCN-91110000MA01234567": seals carry their
	 * department's unified social credit code here.  May be NULL.
	 */
	const char *org_identifier;
	unsigned days;         /* validity from now */
	EVP_PKEY *subject_key; /* public key to certify (public part used) */
	const char *crl_url;   /* CRL distribution point URI or NULL */
	const char *ocsp_url;  /* AIA id-ad-ocsp URI or NULL */
	const char *ca_issuers_url; /* AIA id-ad-caIssuers URI or NULL */
};

/*
 * Issue a certificate for spec, signed by issuer_key.  issuer is the
 * issuer's certificate, or NULL for a self-signed one (then issuer_key must
 * be the key of spec->subject_key).  The serial is 16 random bytes, positive.
 * The signature algorithm follows the issuer key: ecdsa-with-SHA256 for
 * P-256, ecdsa-with-SHA384 for P-384, sha256WithRSAEncryption for RSA.
 * notAfter is now + days, capped at the issuer's notAfter (CS_ERR_INVALID
 * if the issuer has expired).  CRYPTO_CERT_SEAL needs an issuer, country,
 * organization and org_identifier; it has critical keyUsage
 * digitalSignature + nonRepudiation, no basicConstraints and no
 * extendedKeyUsage (docs/seal-format.md).  The service profiles (OCSP,
 * REPORT, TSA, AUDIT) need an issuer and have no basicConstraints either:
 * OCSP has critical keyUsage digitalSignature, extendedKeyUsage
 * id-kp-OCSPSigning and id-pkix-ocsp-nocheck (RFC 6960 4.2.2.2.1); TSA has
 * digitalSignature + nonRepudiation and a critical extendedKeyUsage with
 * id-kp-timeStamping only (RFC 3161 2.3); REPORT and AUDIT have
 * digitalSignature + nonRepudiation and no extendedKeyUsage.  *out is
 * given.
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

/* --- e-seals: detached CMS SignedData, CAdES-BES (issue #4) --- */

/*
 * The signed attribute that binds a seal image to a signature: OID
 * CRYPTO_OID_SEAL_IMAGE_HASH, value SEQUENCE { hashAlgorithm
 * AlgorithmIdentifier (sha256), hashValue OCTET STRING }.  Documented in
 * docs/seal-format.md.
 */
extern const char CRYPTO_OID_SEAL_IMAGE_HASH[];

/* The largest seal crypto_cms_verify() parses. */
#define CRYPTO_CMS_MAX (4 * 1024 * 1024)

struct crypto_seal_opts {
	EVP_PKEY *key;          /* signer key (token-backed) */
	X509 *cert;             /* signer certificate */
	STACK_OF(X509) * chain; /* more certificates to include, or NULL */
	const unsigned char *image_sha256; /* 32 bytes, or NULL for none */
};

/*
 * Seal doc: a detached CMS SignedData (DER) over the exact bytes, with the
 * signed attributes content-type, message-digest, signing-time,
 * signing-certificate-v2 (RFC 5035) and, when given, the seal image hash;
 * the signer and chain certificates included (self-signed ones and
 * duplicates left out).  The digest is crypto_md_for_key(o->key).  An RSA
 * seal is verified with o->cert before it is handed over (a faulty RSA-CRT
 * signature would reveal the key).  *der is given.
 * CS_ERR_INVALID for a key that does not match o->cert or a certificate
 * whose keyUsage forbids signing; a failing token signer's code
 * (CS_ERR_TOKEN) passes through.
 */
enum cs_rc crypto_cms_seal(const struct crypto_seal_opts *o,
    const unsigned char *doc, size_t len, struct buf **der, struct cs_err *err);

struct crypto_cms_result {
	bool parsed;       /* der is a DER detached SignedData, one signer */
	bool signature_ok; /* the signature covers exactly doc, attributes ok */
	bool chain_ok;     /* signer certificate chains to root */
	char reason[256];  /* why the first false check failed, "" if none */
	X509 *signer;      /* signer certificate (owned: release), or NULL */
	/* The next three are set only when signature_ok. */
	int64_t signing_time; /* from the signed attribute, 0 if none */
	bool has_image_hash;
	unsigned char image_sha256[32];
};

/*
 * Verify der over doc against root (untrusted intermediates taken from the
 * CMS), at the current time.  res is overwritten (release an earlier result
 * first).  Whatever der holds is an answer, CS_OK with res filled: empty,
 * oversized (> CRYPTO_CMS_MAX), garbage, BER, truncated or not a detached
 * SignedData with one signer gives parsed false; a signature that does not
 * cover doc, or a signed attribute out of profile (digest or signature
 * algorithm not the key's, malformed signing-time, signing-certificate(-v2)
 * not naming the signer, malformed image hash) gives signature_ok false;
 * a chain that does not verify (X509_V_FLAG_X509_STRICT, any purpose) or
 * a keyUsage that forbids signing gives chain_ok false.  CS_ERR_INVALID for
 * a NULL root or res; other codes only when verification could not run.
 * The OpenSSL error queue is left empty.  Release res with
 * crypto_cms_result_release().
 */
enum cs_rc crypto_cms_verify(const unsigned char *doc, size_t len,
    const unsigned char *der, size_t derlen, X509 *root,
    struct crypto_cms_result *res, struct cs_err *err)
    __attribute__((warn_unused_result));
void crypto_cms_result_release(struct crypto_cms_result *res);

/* --- base64 (RFC 4648, standard alphabet, padded, no line breaks) --- */

/* Encode len bytes at p into *out (given, NUL-terminated text). */
enum cs_rc crypto_b64_encode(
    const void *p, size_t len, struct buf **out, struct cs_err *err);
/*
 * Strict decode of len characters at s into *out (given): CS_ERR_INVALID on
 * any non-alphabet byte (whitespace, NUL, '-', '_'), a length that is not
 * a multiple of 4, misplaced padding or non-zero pad bits.
 */
enum cs_rc crypto_b64_decode(
    const char *s, size_t len, struct buf **out, struct cs_err *err);

#endif
