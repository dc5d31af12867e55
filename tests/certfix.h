/*
 * certfix.h: a software PKI for the suites that test certificates,
 * CRLs, OCSP and signed lists without a token: P-256 keys made in memory
 * and certificates issued by crypto_cert_issue() with fixed names, and a
 * software signer that stands in for the token behind p11_evp_from_signer().
 * Links crypto/ and pkcs11/ (both under every crypto/ suite), so the
 * crypto/ suites and every layer above can use it (tests/testutil.c stays
 * free of crypto/ for the pkcs11/ suites).
 */
#ifndef CERTSVC_TESTS_CERTFIX_H
#define CERTSVC_TESTS_CERTFIX_H

#include <stdbool.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "crypto/crypto.h"

/* A root, an issuing CA under it and two seal certificates of one key. */
struct certfix_pki {
	EVP_PKEY *root_key, *iss_key, *seal_key;
	X509 *root, *iss, *seal, *seal2;
};

/*
 * A certificate of profile p for key named CN cn, O 某市数据局, C CN,
 * valid 30 days (a seal's with an organizationIdentifier), issued by
 * issuer with issuer_key (issuer NULL: self-signed).  Given (X509_free);
 * NULL on failure, so it can be called outside a test.
 */
X509 *certfix_issue(enum crypto_profile p, const char *cn, EVP_PKEY *key,
    X509 *issuer, EVP_PKEY *issuer_key);

/*
 * Fill k: P-256 keys, root "Root", issuing CA "Issuing", seals "Seal" and
 * "Seal 2" (both of seal_key).  false (k partly filled: certfix_pki_free)
 * on failure.
 */
bool certfix_pki_init(struct certfix_pki *k);

/* Free what k holds and zero it. */
void certfix_pki_free(struct certfix_pki *k);

/*
 * A software signer standing in for the token: it signs with priv (RSA
 * with PKCS#1 v1.5 padding), counts its calls, fails with fail ("token
 * unavailable") when fail is not CS_OK, and with faulty signs correctly,
 * then flips the signature's last bit, as a glitched token would.
 */
struct certfix_signer {
	EVP_PKEY *priv;
	enum cs_rc fail;
	int calls;
	bool faulty;
};

/*
 * A provider-backed key over s, as p11_key_get() makes for the token: its
 * private operations call s, which must outlive it.  Given (EVP_PKEY_free);
 * NULL on failure.
 */
EVP_PKEY *certfix_token_key(struct certfix_signer *s);

#endif
