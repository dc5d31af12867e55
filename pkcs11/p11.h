/*
 * p11.h: the token layer.  Everything certsvc does with keys goes through
 * this narrow interface: "sign this digest with the key at that URI" and
 * "the public key at that URI", plus key generation and listing for the
 * administrator.  It is narrow on purpose, so that signing can move into a
 * separate signer process (as OpenSSH's ssh-pkcs11-helper does) without
 * touching its callers.
 *
 * Keys are named by RFC 7512 URIs:
 *   pkcs11:token=certsvc;object=ca-root;id=%01%02...;type=private
 *
 * Only this directory talks PKCS#11.  A struct p11_token is safe to share
 * between threads; signing goes through a pool of sessions and recovers
 * from lost sessions, lost logins and a token that goes away and comes
 * back, without a restart.
 */
#ifndef CERTSVC_P11_H
#define CERTSVC_P11_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "certsvc/err.h"

#define P11_PIN_MAX 128
#define P11_URI_MAX 512
#define P11_LABEL_MAX 64

/*
 * Supplies the user PIN into pin (size pinsz, NUL-terminated).  Called at
 * the first login and at every re-login after recovery, so the PIN need not
 * stay in memory between logins.  The layer wipes pin right after use.
 */
typedef enum cs_rc (*p11_pin_fn)(
    void *arg, char *pin, size_t pinsz, struct cs_err *err);

struct p11_config {
	const char *module;      /* path of the PKCS#11 module (.so) */
	const char *token_label; /* CKA_LABEL of the token, exact match */
	unsigned pool_size;      /* sessions in the pool; 0 = 2 x cores */
	unsigned timeout_ms;     /* longest any call waits; 0 = 2000 */
	unsigned queue_max; /* check-outs waiting at once; more are refused */
	p11_pin_fn pin_fn;  /* never NULL */
	void *pin_arg;
};

struct p11_token;

enum p11_alg {
	P11_ALG_P256 = 1,
	P11_ALG_P384,
	P11_ALG_RSA3072,
};

/* "p256", "p384", "rsa3072"; false if unknown. */
bool p11_alg_parse(const char *name, enum p11_alg *alg);
const char *p11_alg_name(enum p11_alg alg);

struct p11_token_status {
	char label[P11_LABEL_MAX];
	char manufacturer[P11_LABEL_MAX];
	char model[P11_LABEL_MAX];
	char serial[P11_LABEL_MAX];
	char library[P11_LABEL_MAX]; /* module's library description */
	unsigned long slot_id;
	bool present;   /* the token answers */
	bool logged_in; /* a pool session is in a user state */
	unsigned pool_size;
	unsigned pool_idle;
};

struct p11_key_info {
	char label[P11_LABEL_MAX];
	char uri[P11_URI_MAX];
	enum p11_alg alg;
	bool sensitive;
	bool extractable;
	bool always_sensitive;
	bool never_extractable;
};

/* Counters for /metrics; all monotonic since p11_token_open(). */
struct p11_stats {
	uint64_t signs;         /* successful signatures */
	uint64_t sign_failures; /* calls that returned an error */
	uint64_t sign_ns;       /* total wall time of successful signatures */
	uint64_t pool_waits;    /* check-outs that had to wait */
	uint64_t pool_timeouts; /* check-outs that gave up */
	uint64_t pool_shed;     /* check-outs refused: queue_max waiting */
	uint64_t pool_wait_ns;  /* total time check-outs waited */
	uint64_t recoveries;    /* sessions re-opened / re-logged-in */
};

/*
 * Key purposes, named by the first word of the key's label (the object
 * attribute of its URI) as certsvc makes them: "ca-root", "seal-<id>",
 * "ocsp-<time>", "tsa-...", "audit-...", "report-..."; anything else is
 * "other".  Signatures are counted per purpose for /metrics.
 */
enum p11_purpose {
	P11_PURPOSE_CA = 0,
	P11_PURPOSE_SEAL,
	P11_PURPOSE_OCSP,
	P11_PURPOSE_TSA,
	P11_PURPOSE_AUDIT,
	P11_PURPOSE_REPORT,
	P11_PURPOSE_OTHER,
};
#define P11_NPURPOSE 7

/* The purpose of the key at uri (P11_PURPOSE_OTHER when unknown). */
enum p11_purpose p11_uri_purpose(const char *uri);
/* "ca", "seal", ...; "other" for anything out of range. */
const char *p11_purpose_name(enum p11_purpose p);

struct cs_hist;
/*
 * Signatures, failed signing calls and the latency histogram of successful
 * signatures made with keys of purpose p (the histogram is lent: it lives
 * as long as tok).
 */
void p11_stats_purpose(struct p11_token *tok, enum p11_purpose p,
    uint64_t *signs, uint64_t *failures, const struct cs_hist **latency);

/*
 * Initialise a new token with label on the first free (uninitialised) slot
 * of module, set its SO PIN and user PIN.  Fails with CS_ERR_CONFLICT if a
 * token with that label exists already.  Used by "certsvc-admin init".
 */
enum cs_rc p11_token_init(const char *module, const char *label,
    const char *so_pin, const char *user_pin, struct cs_err *err);

/* True if module has an initialised token with that label (no login). */
bool p11_token_exists(const char *module, const char *label);

/*
 * Load the module, find the token by label, log in (PIN from cfg->pin_fn)
 * and fill the session pool.  *out is given to the caller (p11_token_free).
 * CS_ERR_TOKEN when the module, token or login fails (msg says which).
 * The strings in cfg are copied.
 */
enum cs_rc p11_token_open(
    const struct p11_config *cfg, struct p11_token **out, struct cs_err *err);

/* Close all sessions, C_Finalize, unload; NULL does nothing. */
void p11_token_free(struct p11_token *tok);

/* Describe the token; CS_ERR_TOKEN if it cannot be reached. */
enum cs_rc p11_token_info(
    struct p11_token *tok, struct p11_token_status *st, struct cs_err *err);

/*
 * True when a signing session can be checked out and is logged in now
 * (recovering if needed, within the configured timeout): for /readyz.
 */
bool p11_token_ready(struct p11_token *tok);

void p11_stats_get(struct p11_token *tok, struct p11_stats *st);

/*
 * A deadline (cs_now_ns() clock) for every token call the calling thread
 * makes until it sets 0: each call then gives up at the earlier of its
 * own timeout_ms and this, so a request that needs several token
 * operations (a seal, then its timestamp) waits at most one timeout in
 * all.  certsvcd sets it for each request it hands to a route.
 */
void p11_thread_deadline_set(uint64_t ns);

/*
 * Generate a key pair inside the token: private key CKA_TOKEN, CKA_PRIVATE,
 * CKA_SENSITIVE true, CKA_EXTRACTABLE false, CKA_SIGN; public key CKA_TOKEN,
 * CKA_VERIFY; both with label and one random 16-byte CKA_ID.  The private
 * key's URI is written to uri.  CS_ERR_CONFLICT if a key with that label
 * exists.
 */
enum cs_rc p11_key_generate(struct p11_token *tok, enum p11_alg alg,
    const char *label, char *uri, size_t urisz, struct cs_err *err);

/*
 * Destroy the key pair at uri (the one private key it names and every
 * object with its label and CKA_ID).  CS_ERR_NOT_FOUND if there is no such
 * key, CS_ERR_CONFLICT if the URI names several (p11_destroy.c).
 */
enum cs_rc p11_key_destroy(
    struct p11_token *tok, const char *uri, struct cs_err *err);

/* List the private keys of the token; *keys is given (free()), *n its size. */
enum cs_rc p11_key_list(struct p11_token *tok, struct p11_key_info **keys,
    size_t *n, struct cs_err *err);

/* Describe the private key at uri; CS_ERR_NOT_FOUND if there is none. */
enum cs_rc p11_key_info(struct p11_token *tok, const char *uri,
    struct p11_key_info *info, struct cs_err *err);

/*
 * The public key of the key at uri, as a plain software EVP_PKEY (given).
 * CS_ERR_NOT_FOUND if no such key, CS_ERR_INVALID for a malformed URI.
 */
enum cs_rc p11_key_public(
    struct p11_token *tok, const char *uri, EVP_PKEY **out, struct cs_err *err);

/*
 * Sign a digest made with md_nid (NID_sha256, NID_sha384, NID_sha512) with
 * the private key at uri.  The signature is written in its standard
 * encoding: a DER ECDSA-Sig-Value for EC keys, a PKCS#1 v1.5 signature over
 * DigestInfo(md, dgst) for RSA keys.  *siglen is the size of sig on entry,
 * the signature's length on return.  CS_ERR_TOKEN if the token stays
 * unavailable past the timeout ("token unavailable"), CS_ERR_NOT_FOUND if
 * the key does not exist, CS_ERR_INVALID for a bad digest length.
 */
enum cs_rc p11_sign_digest(struct p11_token *tok, const char *uri, int md_nid,
    const unsigned char *dgst, size_t dlen, unsigned char *sig, size_t *siglen,
    struct cs_err *err);

/*
 * A signing callback: the shape of p11_sign_digest() without the token, so
 * that any signer (the token, a software key in tests, later a signer
 * process) can back an EVP_PKEY.  Returns CS_OK or an error code.
 */
typedef enum cs_rc (*p11_sign_fn)(void *arg, int md_nid,
    const unsigned char *dgst, size_t dlen, unsigned char *sig, size_t *siglen,
    struct cs_err *err);

/*
 * An EVP_PKEY that OpenSSL can sign with (X509_sign, CMS_sign, OCSP, CRL,
 * TS) whose private operations call fn(arg, ...).  pub is the public key
 * (EC or RSA) and is up-ref'd; arg is freed with arg_free (may be NULL)
 * when the EVP_PKEY is freed.  *out is given.
 */
enum cs_rc p11_evp_from_signer(EVP_PKEY *pub, p11_sign_fn fn, void *arg,
    void (*arg_free)(void *), EVP_PKEY **out, struct cs_err *err);

/*
 * A token-backed EVP_PKEY for the key at uri (p11_evp_from_signer() over
 * p11_sign_digest()).  *out is given; it holds a reference to nothing but
 * tok, which must outlive it.
 */
enum cs_rc p11_key_get(
    struct p11_token *tok, const char *uri, EVP_PKEY **out, struct cs_err *err);

#endif
