/*
 * seal.h: e-seals (电子印章).  A seal belongs to one department; its key is
 * generated in the token and certified by the issuing CA with the seal
 * profile (subject names the department, organizationIdentifier carries
 * its credit code).  An optional PNG image is stored and its SHA-256 is
 * bound into every signature made with the seal.
 */
#ifndef CERTSVC_SEAL_H
#define CERTSVC_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certsvc/store.h"
#include "certsvc/svc.h"
#include "pkcs11/p11.h"

#define SEAL_DAYS_DEFAULT (3 * 365)
#define SEAL_IMAGE_MAX (1 << 20)

struct seal_create_opts {
	const char *dept; /* credit code of the owning department */
	const char *name; /* 1-128 bytes UTF-8 */
	enum p11_alg alg;
	const unsigned char *image; /* PNG bytes or NULL */
	size_t image_len;
	unsigned days; /* 0 = SEAL_DAYS_DEFAULT */
	const char *actor;
};

/*
 * Create a seal: key in the token, certificate, stored with its audit
 * event; its id ("S-" + 16 hex) goes to id.  CS_ERR_NOT_FOUND for an
 * unknown department, CS_ERR_INVALID for a bad name or an image that is
 * not a PNG, CS_ERR_NOT_FOUND if the CA does not exist yet.
 */
enum cs_rc seal_create(struct svc *svc, const struct seal_create_opts *o,
    char *id, size_t idsz, struct cs_err *err);

/*
 * Certify the token key at uri for a seal of dept named o->name (o->days)
 * with the issuing CA (seal profile).  *out is given.
 */
enum cs_rc seal_certify(struct svc *svc, const struct seal_create_opts *o,
    const struct store_dept *dept, const char *uri, X509 **out,
    struct cs_err *err);

/*
 * A seal ready to sign: its token key, certificate and image hash.  Kept
 * in a cache inside svc so issuance does not parse certificates or look up
 * keys per request.
 */
struct seal_signer {
	char id[STORE_CODE_MAX];
	char dept[STORE_CODE_MAX];
	EVP_PKEY *key;
	X509 *cert;
	bool has_image;
	unsigned char image_sha256[32];
	unsigned char cert_sha256[32];
	/*
	 * The seal's CMS template (its chain: the issuing CA), made when the
	 * signer is loaded; NULL when it could not be (then seals go through
	 * crypto_cms_seal()).
	 */
	struct crypto_seal_tmpl *tmpl;
};

/*
 * The signer of seal id (or of dept's newest active seal when id is NULL),
 * checked to belong to dept and to be active: CS_ERR_DENIED for another
 * department's seal, CS_ERR_CONFLICT for a revoked one, CS_ERR_NOT_FOUND.
 * *out is given (seal_signer_free).
 */
enum cs_rc seal_signer_get(struct svc *svc, const char *id, const char *dept,
    struct seal_signer **out, struct cs_err *err);
void seal_signer_free(struct seal_signer *s);

/*
 * Forget cached signers: seal id's entry (and every department default),
 * or all when id is NULL.
 */
void seal_cache_drop(struct svc *svc, const char *id);

/* Create svc's signer cache (svc_open calls it). */
enum cs_rc seal_cache_init(struct svc *svc, struct cs_err *err);

/* Free svc's signer cache (svc_free calls it). */
void seal_cache_free(struct svc *svc);

/*
 * Revoke seal id: status, reason (1 to 200 bytes of text, no control
 * characters) and time with the audit event, one transaction.  The reason
 * text starts with the RFC 5280 CRLReason name that the CRL and OCSP carry
 * ("keyCompromise", "keyCompromise: laptop stolen"); text that names none
 * is unspecified (crypto_reason_from_text).  The "certs" generation moves
 * with it, and the refresher of this process is nudged, so certsvcd
 * re-signs within a second.  CS_ERR_INVALID for a bad reason,
 * CS_ERR_NOT_FOUND for an unknown seal, CS_ERR_CONFLICT when it is revoked
 * already.
 */
enum cs_rc seal_revoke(struct svc *svc, const char *id, const char *reason,
    const char *actor, struct cs_err *err);

#endif
