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
	unsigned days;  /* validity from now */
	unsigned hours; /* when not 0: validity from now in hours, not days */
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

/*
 * A cache of parsed certificates (by the SHA-256 of their DER) and of the
 * outcome of their chain verification (certcache.c says why).  Thread
 * safe; at most max certificates, the least recently used evicted.
 */
struct crypto_cert_cache;

enum cs_rc crypto_cert_cache_new(
    size_t max, struct crypto_cert_cache **out, struct cs_err *err);
void crypto_cert_cache_free(struct crypto_cert_cache *c);
/*
 * The certificate of DER der (a reference: X509_free), parsed once; with
 * a NULL cache, parsed now.  CS_ERR_INVALID for what is not one.
 */
enum cs_rc crypto_cert_cache_get(struct crypto_cert_cache *c,
    const unsigned char *der, size_t len, X509 **out, struct cs_err *err);
/*
 * Like crypto_cert_verify() with a purpose (0: any), remembering a good
 * result for a cached cert (same object) and root for a few minutes, never
 * past a notAfter of the path.  Only good results are remembered.
 */
enum cs_rc crypto_cert_cache_chain(struct crypto_cert_cache *c, X509 *cert,
    X509 *root, STACK_OF(X509) * untrusted, int purpose, bool *valid,
    char *reason, size_t reasonsz, struct cs_err *err)
    __attribute__((warn_unused_result));

/*
 * A seal template: the parts of a seal that are the same for every
 * document sealed with one key, certificate, chain and image (cms_tmpl.c
 * says why and how).  crypto_seal_tmpl_seal() then makes the seal that
 * crypto_cms_seal() would make, byte for byte except for the signing time
 * and the signature, with one digest and one signature.  Immutable once
 * made: share it between threads.
 */
struct crypto_seal_tmpl;

/*
 * Make the template of o (its key and certificate up-ref'd), by sealing
 * an empty document with crypto_cms_seal(): the same failures.  *out is
 * given (crypto_seal_tmpl_free).
 */
enum cs_rc crypto_seal_tmpl_new(const struct crypto_seal_opts *o,
    struct crypto_seal_tmpl **out, struct cs_err *err);
/*
 * crypto_seal_tmpl_new() for key and cert with issuer as the one chain
 * certificate and image (32 bytes or NULL).
 */
enum cs_rc crypto_seal_tmpl_for(EVP_PKEY *key, X509 *cert, X509 *issuer,
    const unsigned char *image, struct crypto_seal_tmpl **out,
    struct cs_err *err);

/* Another reference to t (freed by as many crypto_seal_tmpl_free()). */
struct crypto_seal_tmpl *crypto_seal_tmpl_ref(struct crypto_seal_tmpl *t);
void crypto_seal_tmpl_free(struct crypto_seal_tmpl *t);
/*
 * Seal doc (detached CMS, DER, *der given) with t, signing-time now; an
 * RSA seal is verified before it is handed over.  A signing time that UTC
 * Time cannot hold (2050 on) goes through crypto_cms_seal().
 */
enum cs_rc crypto_seal_tmpl_seal(const struct crypto_seal_tmpl *t,
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
	/*
	 * The signature timestamp (CAdES-T), as crypto_cms_timestamp() would
	 * say, from the same parse: present/ok/time/reason.
	 */
	bool ts_present, ts_ok;
	int64_t ts_time;
	char ts_reason[256];
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
/*
 * crypto_cms_verify() with the seal's certificates taken from cache (parsed
 * once per process) and their chain's good outcome remembered there; the
 * same answers.  cache NULL is crypto_cms_verify().
 */
enum cs_rc crypto_cms_verify_cached(const unsigned char *doc, size_t len,
    const unsigned char *der, size_t derlen, X509 *root,
    struct crypto_cert_cache *cache, struct crypto_cms_result *res,
    struct cs_err *err) __attribute__((warn_unused_result));
void crypto_cms_result_release(struct crypto_cms_result *res);

struct crypto_ts_result {
	bool present;     /* the signer carries a signatureTimeStampToken */
	bool ok;          /* ... and it verifies (see crypto_cms_timestamp) */
	int64_t time;     /* its genTime (Unix seconds) when ok, else 0 */
	char reason[256]; /* why not ok, "" when ok or absent */
};

/*
 * The RFC 3161 timestamp of a seal (CAdES-T): the unsigned attribute
 * id-aa-signatureTimeStampToken of its one signer.  res->ok only when
 * there is exactly one, its messageImprint is the digest of the
 * SignerInfo's signature value, its signature verifies and the TSA
 * certificate (critical extendedKeyUsage timeStamping) chains to root at
 * the current time.  A seal that does not parse has no timestamp (present
 * false; crypto_cms_verify() says why).  An answer, not an error: CS_OK
 * with res filled; CS_ERR_INVALID for a NULL root or res.
 */
enum cs_rc crypto_cms_timestamp(const unsigned char *der, size_t derlen,
    X509 *root, struct crypto_ts_result *res, struct cs_err *err)
    __attribute__((warn_unused_result));

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

/* --- certificate status: OCSP (RFC 6960, RFC 5019) and CRLs (RFC 5280) --- */

/* CRLReason values (RFC 5280 5.3.1) used by certsvc. */
enum crypto_reason {
	CRYPTO_REASON_NONE = -1, /* no reasonCode at all */
	CRYPTO_REASON_UNSPECIFIED = 0,
	CRYPTO_REASON_KEY_COMPROMISE = 1,
	CRYPTO_REASON_CA_COMPROMISE = 2,
	CRYPTO_REASON_AFFILIATION_CHANGED = 3,
	CRYPTO_REASON_SUPERSEDED = 4,
	CRYPTO_REASON_CESSATION = 5, /* cessationOfOperation */
	CRYPTO_REASON_CERTIFICATE_HOLD = 6,
	CRYPTO_REASON_REMOVE_FROM_CRL = 8,
	CRYPTO_REASON_PRIVILEGE_WITHDRAWN = 9,
	CRYPTO_REASON_AA_COMPROMISE = 10,
};

/*
 * The CRLReason a stored revocation reason names: the text before its
 * first ':' with spaces, '-' and '_' left out, compared without case with
 * the RFC 5280 names ("keyCompromise", "key compromise: laptop lost").
 * Anything else is CRYPTO_REASON_UNSPECIFIED.
 */
enum crypto_reason crypto_reason_from_text(const char *text);

/* The RFC 5280 name of r ("keyCompromise"), NULL when r has none. */
const char *crypto_reason_name(enum crypto_reason r);

/* The largest OCSP request crypto_ocsp_request_parse() looks at. */
#define CRYPTO_OCSP_REQ_MAX 16384
/* A CertID as a lookup key: hash NID, both hashes, the serial. */
#define CRYPTO_OCSP_KEY_MAX (2 + 1 + 2 * EVP_MAX_MD_SIZE + 1 + 32)

/*
 * A CertID (RFC 6960 4.1.1) flattened into bytes that compare equal
 * exactly when the CertIDs name the same certificate with the same hash:
 * hashAlgorithm NID (2 bytes), hash length, issuerNameHash, issuerKeyHash,
 * serial sign and magnitude without leading zeros.
 */
struct crypto_ocsp_key {
	unsigned char b[CRYPTO_OCSP_KEY_MAX];
	size_t len;
};

/* OCSPResponseStatus (RFC 6960 4.2.1). */
enum crypto_ocsp_rstatus {
	CRYPTO_OCSP_SUCCESSFUL = 0,
	CRYPTO_OCSP_MALFORMED = 1,
	CRYPTO_OCSP_INTERNAL_ERROR = 2,
	CRYPTO_OCSP_TRY_LATER = 3,
	CRYPTO_OCSP_UNAUTHORIZED = 6,
};

/*
 * The key of the CertID that a client makes for cert issued by issuer
 * with hash md (EVP_sha1() in RFC 5019, or EVP_sha256()).  CS_ERR_INVALID
 * for a serial of more than 32 octets.
 */
/*
 * The DER of the plainest request for cert (issued by issuer, CertID hash
 * md): one Request, no nonce, no extensions, no requestor name, no
 * signature, as `openssl ocsp -no_nonce` sends it.  *der is given.
 */
enum cs_rc crypto_ocsp_plain_request(const EVP_MD *md, X509 *cert, X509 *issuer,
    struct buf **der, struct cs_err *err);

enum cs_rc crypto_ocsp_key_for(const EVP_MD *md, X509 *cert, X509 *issuer,
    struct crypto_ocsp_key *k, struct cs_err *err);

/*
 * Parse a DER OCSPRequest and give the key of its one CertID.  As RFC 5019
 * 2.1.1 asks, a request holds exactly one Request; request extensions (a
 * nonce) and an optional signature are ignored, since answers are signed
 * ahead of time.  CS_ERR_INVALID (malformedRequest) for an empty or larger
 * than CRYPTO_OCSP_REQ_MAX input, anything that is not one DER
 * OCSPRequest without trailing bytes, none or several Requests, or a
 * CertID that no certificate of ours can match (serial over 32 octets).
 */
enum cs_rc crypto_ocsp_request_parse(const unsigned char *der, size_t len,
    struct crypto_ocsp_key *k, struct cs_err *err);

/*
 * An OCSPResponse (DER) that is only a status: st must not be
 * CRYPTO_OCSP_SUCCESSFUL (CS_ERR_INVALID).  *der is given.
 */
enum cs_rc crypto_ocsp_error_response(
    enum crypto_ocsp_rstatus st, struct buf **der, struct cs_err *err);

/* What one pre-signed OCSP response says (one SingleResponse). */
struct crypto_ocsp_single {
	X509 *cert;         /* the certificate answered for */
	X509 *issuer;       /* the certificate that issued it */
	const EVP_MD *md;   /* CertID hash */
	bool revoked;       /* else good */
	int64_t revoked_at; /* Unix seconds, when revoked */
	enum crypto_reason
	    reason; /* NONE or UNSPECIFIED: no revocationReason */
	int64_t this_update, next_update; /* Unix seconds */
};

/*
 * Sign a successful OCSPResponse with a BasicOCSPResponse holding one
 * SingleResponse for s, in the RFC 5019 profile: responderID byKey,
 * producedAt now, no extensions (no nonce: the response is pre-signed),
 * the signer certificate included unless the signer is s->issuer itself
 * (a CA answering for its own certificates, RFC 6960 4.2.2.2).  signer
 * must be s->issuer or a certificate it issued with id-kp-OCSPSigning
 * (CS_ERR_INVALID); key is signer's key (token-backed in production).
 * The signature algorithm follows the key (crypto_md_for_key), and the
 * response is verified with signer's public key before it is handed out.
 * *der is given; a failing token signer's code passes through.
 */
enum cs_rc crypto_ocsp_sign(const struct crypto_ocsp_single *s, X509 *signer,
    EVP_PKEY *key, struct buf **der, struct cs_err *err);

/* One revoked certificate in a CRL. */
struct crypto_crl_entry {
	const ASN1_INTEGER *serial; /* lent */
	int64_t revoked_at;         /* Unix seconds */
	enum crypto_reason reason;  /* NONE or UNSPECIFIED: no reasonCode */
};

/*
 * Sign a CRL (RFC 5280 section 5) of issuer with its key: v2, signature
 * algorithm of the key, issuer the issuer's subject exactly, thisUpdate
 * and nextUpdate (UTCTime through 2049), the n entries sorted by serial
 * (revokedCertificates absent when n is 0), reasonCode (non-critical) on
 * an entry only for a reason other than unspecified (5.3.1), and the CRL
 * extensions authorityKeyIdentifier (the issuer's subjectKeyIdentifier)
 * and cRLNumber = number (both non-critical).  CS_ERR_INVALID for an
 * issuer that is not a CA with cRLSign, next_update <= this_update or a
 * negative number.  Verified with the issuer's key before it is handed
 * out.  *der is given.
 */
enum cs_rc crypto_crl_sign(X509 *issuer, EVP_PKEY *key,
    const struct crypto_crl_entry *e, size_t n, int64_t this_update,
    int64_t next_update, int64_t number, struct buf **der, struct cs_err *err);

/* --- RFC 3161 timestamps and CAdES-T (issue #7, docs/timestamps.md) --- */

/* The TSA policy (TSTInfo policy), an OID under the UUID arc 2.25. */
extern const char CRYPTO_TS_POLICY[];

/* The largest TimeStampReq crypto_ts_respond() looks at. */
#define CRYPTO_TS_REQ_MAX 4096

/* PKIFailureInfo bits (RFC 3161 2.4.2) certsvc answers with. */
enum crypto_ts_failure {
	CRYPTO_TS_OK = -1, /* no failure: the request is acceptable */
	CRYPTO_TS_BAD_ALG = 0,
	CRYPTO_TS_BAD_REQUEST = 2,
	CRYPTO_TS_BAD_DATA_FORMAT = 5,
	CRYPTO_TS_UNACCEPTED_POLICY = 15,
	CRYPTO_TS_UNACCEPTED_EXTENSION = 16,
	CRYPTO_TS_SYSTEM_FAILURE = 25,
};

/* What a request asked for, or why it is refused. */
struct crypto_ts_req {
	enum crypto_ts_failure fail; /* CRYPTO_TS_OK when acceptable */
	char reason[128];            /* statusString of a rejection */
	enum cs_rc sys_rc;           /* systemFailure: CS_ERR_TOKEN, ... */
	const EVP_MD *md;            /* its hash, when acceptable */
	bool cert_req, has_nonce;
};

struct crypto_ts_tmpl;

/* The TSA: its key (token) and certificate, critical EKU timeStamping. */
struct crypto_ts_signer {
	EVP_PKEY *key;
	X509 *cert;
	STACK_OF(X509) * chain; /* included after cert when certReq, or NULL */
	/* crypto_ts_tmpl_new() of the above, or NULL: TS_RESP_CTX each time */
	const struct crypto_ts_tmpl *tmpl;
};

/*
 * A token template of s (ts.c says why): one token made with TS_RESP_CTX
 * (a token signature), split into the parts that are the same for every
 * timestamp of s.  Then crypto_ts_respond() makes the same tokens with one
 * digest and one signature.  EC keys only (CS_ERR_INVALID otherwise); a
 * failing signer's code passes through.  Immutable: share it between
 * threads.  *out given (crypto_ts_tmpl_free); it keeps a reference to
 * s->key, none to s->cert or s->chain (their DER is copied).
 */
enum cs_rc crypto_ts_tmpl_new(const struct crypto_ts_signer *s,
    struct crypto_ts_tmpl **out, struct cs_err *err);
void crypto_ts_tmpl_free(struct crypto_ts_tmpl *t);

/*
 * Check a DER TimeStampReq: r->fail is CRYPTO_TS_OK or the failure it
 * earns: badDataFormat for empty, oversized (> CRYPTO_TS_REQ_MAX), not one
 * TimeStampReq, not DER, a hashedMessage whose length is not its
 * algorithm's or a nonce over 64 octets; badRequest for a version other
 * than 1; badAlg for a hash other than SHA-256/384/512 (SHA-1 too) or
 * with parameters other than absent or NULL; unacceptedPolicy for a
 * reqPolicy other than CRYPTO_TS_POLICY; unacceptedExtension for any
 * extension.
 */
void crypto_ts_check(
    const unsigned char *der, size_t len, struct crypto_ts_req *r);

/*
 * Answer the DER TimeStampReq der with a DER TimeStampResp (*resp given):
 * granted with a token signed by s (TSTInfo: version 1, CRYPTO_TS_POLICY,
 * the imprint, a 128-bit random serial, genTime in whole seconds with Z,
 * accuracy 1 s, ordering false, the nonce echoed; a CMS SignedData with
 * eContentType id-ct-TSTInfo and the ESS signing-certificate-v2 attribute
 * (SHA-256), s->cert and s->chain included when certReq), or a rejection
 * with the failure crypto_ts_check() found.  s NULL or a signer that
 * fails gives a systemFailure rejection (r->sys_rc says why: CS_ERR_TOKEN
 * for the token).  out (may be NULL) receives the check.  Other codes
 * only when no answer can be made.
 */
enum cs_rc crypto_ts_respond(const struct crypto_ts_signer *s,
    const unsigned char *der, size_t len, struct buf **resp,
    struct crypto_ts_req *out, struct cs_err *err);

/* A rejection TimeStampResp with failure f and text (*resp given). */
enum cs_rc crypto_ts_reject(enum crypto_ts_failure f, const char *text,
    struct buf **resp, struct cs_err *err);

/*
 * The DER of a TimeStampReq v1 for digest (len bytes of md), certReq as
 * given, no nonce, no policy (*der given).  CS_ERR_INVALID when len is
 * not md's size.
 */
enum cs_rc crypto_ts_request(const EVP_MD *md, const unsigned char *digest,
    size_t len, bool cert_req, struct buf **der, struct cs_err *err);

/*
 * The timeStampToken (DER ContentInfo, *token given) of a granted DER
 * TimeStampResp; CS_ERR_INVALID for anything else.
 */
enum cs_rc crypto_ts_token(const unsigned char *resp, size_t len,
    struct buf **token, struct cs_err *err);

/*
 * The signature value (the OCTET STRING's content, lent: points into
 * der) of the one SignerInfo of the DER SignedData der; CS_ERR_INVALID
 * for anything else.
 */
enum cs_rc crypto_cms_signature_value(const unsigned char *der, size_t len,
    const unsigned char **sig, size_t *siglen, struct cs_err *err);

/*
 * der with the timestamp token added to its one SignerInfo as the
 * unsigned attribute id-aa-signatureTimeStampToken (CAdES-T, RFC 5126
 * 6.1.1); every other byte, the signed ones included, kept (*out given).
 * CS_ERR_INVALID for a der that is not a DER SignedData with one signer
 * or already has unsigned attributes.
 */
enum cs_rc crypto_cms_add_timestamp(const unsigned char *der, size_t len,
    const unsigned char *token, size_t toklen, struct buf **out,
    struct cs_err *err);

#endif
