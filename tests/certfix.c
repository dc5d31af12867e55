/*
 * certfix.c: the software PKI and token stand-in of certfix.h.  Nothing
 * here asserts: the suites build their PKI once in main(), outside any
 * test, and fail the run when it cannot be made; tests assert on the NULL
 * a failed call returns.
 */
#include <string.h>

#include "pkcs11/p11.h"
#include "tests/certfix.h"
#include "tests/testutil.h"

X509 *
certfix_issue(enum crypto_profile p, const char *cn, EVP_PKEY *key,
    X509 *issuer, EVP_PKEY *issuer_key)
{
	struct crypto_cert_spec s;
	X509 *x = NULL;

	memset(&s, 0, sizeof(s));
	s.profile = p;
	s.common_name = cn;
	s.organization = "某市数据局";
	s.country = "CN";
	s.days = 30;
	s.subject_key = key;
	if (p == CRYPTO_CERT_SEAL)
		s.org_identifier = "NTRCN-11350100MB0123456X";
	if (crypto_cert_issue(&s, issuer, issuer_key, &x, NULL) != CS_OK)
		return NULL;
	return x;
}

bool
certfix_pki_init(struct certfix_pki *k)
{
	memset(k, 0, sizeof(*k));
	k->root_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	k->iss_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	k->seal_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (k->root_key == NULL || k->iss_key == NULL || k->seal_key == NULL)
		return false;
	k->root = certfix_issue(
	    CRYPTO_CERT_ROOT_CA, "Root", k->root_key, NULL, k->root_key);
	if (k->root == NULL)
		return false;
	k->iss = certfix_issue(
	    CRYPTO_CERT_SUB_CA, "Issuing", k->iss_key, k->root, k->root_key);
	if (k->iss == NULL)
		return false;
	k->seal = certfix_issue(
	    CRYPTO_CERT_SEAL, "Seal", k->seal_key, k->iss, k->iss_key);
	k->seal2 = certfix_issue(
	    CRYPTO_CERT_SEAL, "Seal 2", k->seal_key, k->iss, k->iss_key);
	return k->seal != NULL && k->seal2 != NULL;
}

void
certfix_pki_free(struct certfix_pki *k)
{
	X509_free(k->root);
	X509_free(k->iss);
	X509_free(k->seal);
	X509_free(k->seal2);
	EVP_PKEY_free(k->root_key);
	EVP_PKEY_free(k->iss_key);
	EVP_PKEY_free(k->seal_key);
	memset(k, 0, sizeof(*k));
}

/* The p11_sign_fn of certfix_token_key(): arg is a struct certfix_signer. */
static enum cs_rc
signer_sign(void *arg, int md_nid, const unsigned char *dgst, size_t dlen,
    unsigned char *sig, size_t *siglen, struct cs_err *err)
{
	struct certfix_signer *s = arg;
	enum cs_rc rc;

	s->calls++;
	if (s->fail != CS_OK)
		return cs_err_set(err, s->fail, "token unavailable");
	rc = testutil_sw_sign(s->priv, md_nid, dgst, dlen, sig, siglen, err);
	/* The last byte is in the RSA value or in ECDSA's s: still DER. */
	if (rc == CS_OK && s->faulty)
		sig[*siglen - 1] ^= 0x01;
	return rc;
}

EVP_PKEY *
certfix_token_key(struct certfix_signer *s)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *pub = NULL, *tk = NULL;
	int len = i2d_PUBKEY(s->priv, &der);

	if (len <= 0)
		return NULL;
	p = der;
	pub = d2i_PUBKEY(NULL, &p, len);
	OPENSSL_free(der);
	if (pub == NULL)
		return NULL;
	if (p11_evp_from_signer(pub, signer_sign, s, NULL, &tk, NULL) != CS_OK)
		tk = NULL;
	EVP_PKEY_free(pub);
	return tk;
}
