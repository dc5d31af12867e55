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
 * Write DATA/ca/<name>.pem for every CA loaded (root.pem, issuing.pem and
 * one per rollover: issuing-2.pem, ...), mode 0644, rewritten only when
 * missing or different.
 */
enum cs_rc ca_export_files(struct svc *svc, struct cs_err *err);

/*
 * Issuing-CA rollover (issue #9).  A rollover adds an issuing CA under the
 * same root, named "issuing-N"; the newest is the current one: it issues
 * every new seal and service certificate (ca_issue).  The older ones keep
 * their names, CRLs (/crl/<name>.crl) and certificates (/ca/<name>.cer),
 * which the certificates they issued point at, and OCSP keeps answering
 * for what they issued until it expires.
 */
#define CA_MAX 8 /* the root and up to 7 issuing CAs */

struct ca_entry {
	char name[STORE_NAME_MAX]; /* "root", "issuing", "issuing-2", ... */
	char key_uri[STORE_URI_MAX];
	X509 *cert;
};

/* svc->cas: the root first, then the issuing CAs oldest first. */
struct ca_set {
	size_t n;
	struct ca_entry e[CA_MAX];
};

/*
 * Load every CA of the store into svc->cas, svc->root and svc->issuing
 * (the newest issuing CA).  CS_ERR_NOT_FOUND when there is none.
 */
enum cs_rc ca_set_load(struct svc *svc, struct cs_err *err);
void ca_set_free(struct svc *svc);

/*
 * The loaded issuing CA that issued cert (lent), or svc->issuing when
 * none did.
 */
X509 *ca_issuer_of(const struct svc *svc, X509 *cert);

/* The loaded CA named name (lent), or NULL. */
const struct ca_entry *ca_by_name(const struct svc *svc, const char *name);

/* The current issuing CA's name ("issuing" before any rollover). */
const char *ca_current_name(const struct svc *svc);

struct ca_rollover_opts {
	bool has_alg; /* else the current issuing CA's algorithm */
	enum p11_alg alg;
	const char *actor;
};

/*
 * Add a new issuing CA under the root: a key in the token (one left by an
 * interrupted run is reused), its certificate signed by the root key, the
 * key inventory and the audit event "ca.rollover" in one transaction; then
 * svc's CAs are reloaded and the PEM files written.  Its name goes to name
 * (size namesz).  A running certsvcd goes on with the CAs it loaded until
 * it is restarted (docs/operations.md).  CS_ERR_NOT_FOUND without a CA,
 * CS_ERR_CONFLICT past CA_MAX.
 */
enum cs_rc ca_rollover(struct svc *svc, const struct ca_rollover_opts *o,
    char *name, size_t namesz, struct cs_err *err);

#endif
