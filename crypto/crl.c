/*
 * crl.c: certificate revocation lists, RFC 5280 section 5 to the letter.
 * A CRL here is complete for its issuer (no issuingDistributionPoint, no
 * deltas), v2, with exactly the two extensions a conforming CRL issuer
 * must include (authorityKeyIdentifier, cRLNumber) and, per entry, a
 * reasonCode only when it says more than "unspecified".  The caller
 * chooses the times and the number (certsvc/pkistatus.c documents how it
 * keeps cRLNumber increasing); this file only encodes and signs.
 */
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certsvc/err.h"
#include "certsvc/mem.h"
#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

/* RFC 5280 5.1.2.4: UTCTime through 2049, GeneralizedTime after. */
static ASN1_TIME *
crl_time(int64_t t)
{
	return ASN1_TIME_set(NULL, (time_t)t);
}

static enum cs_rc
crl_entry_add(
    X509_CRL *crl, const struct crypto_crl_entry *e, struct cs_err *err)
{
	X509_REVOKED *r = X509_REVOKED_new();
	ASN1_TIME *t = crl_time(e->revoked_at);
	ASN1_ENUMERATED *reason = NULL;
	enum cs_rc rc = CS_OK;

	if (r == NULL || t == NULL) {
		rc = cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (e->serial == NULL ||
	    X509_REVOKED_set_serialNumber(r, (ASN1_INTEGER *)e->serial) != 1 ||
	    X509_REVOKED_set_revocationDate(r, t) != 1) {
		rc = cs_err_ossl(err, CS_ERR_INVALID, "bad CRL entry");
		goto out;
	}
	/* 5.3.1: unspecified SHOULD be absent rather than coded. */
	if (e->reason > CRYPTO_REASON_UNSPECIFIED) {
		reason = ASN1_ENUMERATED_new();
		if (reason == NULL ||
		    ASN1_ENUMERATED_set(reason, (long)e->reason) != 1 ||
		    X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, reason, 0,
		        X509V3_ADD_DEFAULT) != 1) {
			rc = cs_err_ossl(
			    err, CS_ERR_CRYPTO, "cannot add reasonCode");
			goto out;
		}
	}
	if (X509_CRL_add0_revoked(crl, r) != 1) {
		rc = cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	r = NULL; /* the CRL owns it */
out:
	ASN1_ENUMERATED_free(reason);
	ASN1_TIME_free(t);
	X509_REVOKED_free(r);
	return rc;
}

/* authorityKeyIdentifier: keyIdentifier only, the issuer's SKI (5.2.1). */
static enum cs_rc
crl_ext_akid(X509_CRL *crl, X509 *issuer, struct cs_err *err)
{
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(issuer);
	AUTHORITY_KEYID *akid = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	enum cs_rc rc = CS_OK;

	akid = AUTHORITY_KEYID_new();
	if (akid == NULL) {
		rc = cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (ski != NULL) {
		akid->keyid = ASN1_OCTET_STRING_dup(ski);
	} else if (X509_pubkey_digest(issuer, EVP_sha1(), md, &mdlen) == 1) {
		/* RFC 5280 4.2.1.2 method 1, as crypto/cert.c uses. */
		akid->keyid = ASN1_OCTET_STRING_new();
		if (akid->keyid != NULL &&
		    ASN1_OCTET_STRING_set(akid->keyid, md, (int)mdlen) != 1) {
			ASN1_OCTET_STRING_free(akid->keyid);
			akid->keyid = NULL;
		}
	}
	if (akid->keyid == NULL) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO,
		    "cannot make the authority key identifier");
		goto out;
	}
	if (X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, akid, 0,
	        X509V3_ADD_DEFAULT) != 1)
		rc = cs_err_ossl(err, CS_ERR_CRYPTO,
		    "cannot add the authority key identifier");
out:
	AUTHORITY_KEYID_free(akid);
	return rc;
}

static enum cs_rc
crl_ext_number(X509_CRL *crl, int64_t number, struct cs_err *err)
{
	ASN1_INTEGER *n = ASN1_INTEGER_new();
	enum cs_rc rc = CS_OK;

	if (n == NULL || ASN1_INTEGER_set_int64(n, number) != 1 ||
	    X509_CRL_add1_ext_i2d(
	        crl, NID_crl_number, n, 0, X509V3_ADD_DEFAULT) != 1)
		rc = cs_err_ossl(
		    err, CS_ERR_CRYPTO, "cannot add the CRL number");
	ASN1_INTEGER_free(n);
	return rc;
}

static enum cs_rc
crl_to_der(X509_CRL *crl, struct buf **der, struct cs_err *err)
{
	unsigned char *p;
	struct buf *b;
	int len;

	len = i2d_X509_CRL(crl, NULL);
	if (len <= 0)
		return cs_err_ossl(err, CS_ERR_CRYPTO, "cannot encode the CRL");
	b = buf_new((size_t)len);
	if (b == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	p = b->data;
	if (i2d_X509_CRL(crl, &p) != len) {
		buf_free(b);
		return cs_err_ossl(err, CS_ERR_CRYPTO, "cannot encode the CRL");
	}
	b->len = (size_t)len;
	*der = b;
	return CS_OK;
}

enum cs_rc
crypto_crl_sign(X509 *issuer, EVP_PKEY *key, const struct crypto_crl_entry *e,
    size_t n, int64_t this_update, int64_t next_update, int64_t number,
    struct buf **der, struct cs_err *err)
{
	X509_CRL *crl = NULL;
	ASN1_TIME *tu = NULL, *nu = NULL;
	enum cs_rc rc = CS_OK;
	size_t i;

	*der = NULL;
	if (issuer == NULL || key == NULL || (n > 0 && e == NULL))
		return cs_err_set(
		    err, CS_ERR_INVALID, "a CRL needs its issuer and key");
	if (next_update <= this_update || number < 0)
		return cs_err_set(err, CS_ERR_INVALID,
		    "CRL nextUpdate must follow thisUpdate and its number "
		    "must not be negative");
	/* 5.1.2.3 and 4.2.1.3: only a CA with cRLSign signs CRLs. */
	if (X509_check_ca(issuer) < 1 ||
	    ((X509_get_extension_flags(issuer) & EXFLAG_KUSAGE) != 0 &&
	        (X509_get_key_usage(issuer) & KU_CRL_SIGN) == 0)) {
		crypto_ossl_drain();
		return cs_err_set(err, CS_ERR_INVALID,
		    "issuer certificate may not sign CRLs");
	}
	if (X509_check_private_key(issuer, key) != 1) {
		crypto_ossl_drain();
		return cs_err_set(err, CS_ERR_INVALID,
		    "CRL key does not match the issuer certificate");
	}
	crl = X509_CRL_new();
	tu = crl_time(this_update);
	nu = crl_time(next_update);
	if (crl == NULL || tu == NULL || nu == NULL) {
		rc = cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (X509_CRL_set_version(crl, X509_CRL_VERSION_2) != 1 ||
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) != 1 ||
	    X509_CRL_set1_lastUpdate(crl, tu) != 1 ||
	    X509_CRL_set1_nextUpdate(crl, nu) != 1) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "cannot fill the CRL");
		goto out;
	}
	for (i = 0; i < n && rc == CS_OK; i++)
		rc = crl_entry_add(crl, &e[i], err);
	if (rc == CS_OK)
		rc = crl_ext_akid(crl, issuer, err);
	if (rc == CS_OK)
		rc = crl_ext_number(crl, number, err);
	if (rc != CS_OK)
		goto out;
	if (X509_CRL_sort(crl) != 1) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "cannot sort the CRL");
		goto out;
	}
	if (X509_CRL_sign(crl, key, crypto_md_for_key(key)) <= 0) {
		rc = cs_err_ossl(
		    err, crypto_ossl_rc(CS_ERR_CRYPTO), "cannot sign the CRL");
		goto out;
	}
	/* A faulty signer must not reach clients. */
	if (X509_CRL_verify(crl, X509_get0_pubkey(issuer)) != 1) {
		rc = cs_err_ossl(
		    err, CS_ERR_CRYPTO, "signature of the CRL does not verify");
		goto out;
	}
	rc = crl_to_der(crl, der, err);
out:
	ASN1_TIME_free(tu);
	ASN1_TIME_free(nu);
	X509_CRL_free(crl);
	return rc;
}
