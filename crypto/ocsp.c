/*
 * ocsp.c: OCSP (RFC 6960) in the RFC 5019 profile, as a responder that
 * signs ahead of time.  A request is reduced to the lookup key of its one
 * CertID (struct crypto_ocsp_key); a response answers one certificate and
 * carries no nonce, so the same bytes serve every client until the
 * refresher signs the next one.  Parsing never signs and signing never
 * parses input from the network.
 *
 * Hash algorithms are not interpreted: a CertID made with any hash gets a
 * key, and only keys the responder signed for are found, so a hash it
 * does not pre-sign for is simply an unknown certificate (unauthorized).
 */
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certsvc/err.h"
#include "certsvc/mem.h"
#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

#define OCSP_SERIAL_MAX 32

static const struct {
	enum crypto_reason r;
	const char *name;
} reason_names[] = {
    {CRYPTO_REASON_UNSPECIFIED, "unspecified"},
    {CRYPTO_REASON_KEY_COMPROMISE, "keyCompromise"},
    {CRYPTO_REASON_CA_COMPROMISE, "cACompromise"},
    {CRYPTO_REASON_AFFILIATION_CHANGED, "affiliationChanged"},
    {CRYPTO_REASON_SUPERSEDED, "superseded"},
    {CRYPTO_REASON_CESSATION, "cessationOfOperation"},
    {CRYPTO_REASON_CERTIFICATE_HOLD, "certificateHold"},
    {CRYPTO_REASON_REMOVE_FROM_CRL, "removeFromCRL"},
    {CRYPTO_REASON_PRIVILEGE_WITHDRAWN, "privilegeWithdrawn"},
    {CRYPTO_REASON_AA_COMPROMISE, "aACompromise"},
};
#define NREASONS (sizeof(reason_names) / sizeof(reason_names[0]))

enum crypto_reason
crypto_reason_from_text(const char *text)
{
	char word[32];
	size_t i, n = 0;

	if (text == NULL)
		return CRYPTO_REASON_UNSPECIFIED;
	for (; *text != '\0' && *text != ':'; text++) {
		if (*text == ' ' || *text == '-' || *text == '_')
			continue;
		if (n + 1 >= sizeof(word))
			return CRYPTO_REASON_UNSPECIFIED;
		word[n++] = *text;
	}
	word[n] = '\0';
	for (i = 0; i < NREASONS; i++)
		if (strcasecmp(word, reason_names[i].name) == 0)
			return reason_names[i].r;
	return CRYPTO_REASON_UNSPECIFIED;
}

const char *
crypto_reason_name(enum crypto_reason r)
{
	size_t i;

	for (i = 0; i < NREASONS; i++)
		if (reason_names[i].r == r)
			return reason_names[i].name;
	return NULL;
}

/* Append len bytes to k; false when they do not fit. */
static bool
key_put(struct crypto_ocsp_key *k, const void *p, size_t len)
{
	if (len > sizeof(k->b) - k->len)
		return false;
	memcpy(k->b + k->len, p, len);
	k->len += len;
	return true;
}

/* The key of a CertID given by its parts. */
static enum cs_rc
key_make(int nid, const ASN1_OCTET_STRING *name_hash,
    const ASN1_OCTET_STRING *key_hash, const ASN1_INTEGER *serial,
    struct crypto_ocsp_key *k, struct cs_err *err)
{
	const unsigned char *sp = ASN1_STRING_get0_data(serial);
	int sl = ASN1_STRING_length(serial);
	int hl = ASN1_STRING_length(name_hash);
	unsigned char hdr[3], sign;

	memset(k, 0, sizeof(*k));
	/* Mismatched hash lengths cannot be a CertID we made. */
	if (hl <= 0 || hl > EVP_MAX_MD_SIZE ||
	    ASN1_STRING_length(key_hash) != hl || nid <= 0 || nid > 0xffff)
		return cs_err_set(
		    err, CS_ERR_INVALID, "CertID hashes are malformed");
	while (sl > 0 && *sp == 0) {
		sp++;
		sl--;
	}
	if (sl > OCSP_SERIAL_MAX)
		return cs_err_set(err, CS_ERR_INVALID,
		    "serial number is longer than %d octets", OCSP_SERIAL_MAX);
	hdr[0] = (unsigned char)(nid >> 8);
	hdr[1] = (unsigned char)nid;
	hdr[2] = (unsigned char)hl;
	sign = ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER ? 1 : 0;
	if (!key_put(k, hdr, sizeof(hdr)) ||
	    !key_put(k, ASN1_STRING_get0_data(name_hash), (size_t)hl) ||
	    !key_put(k, ASN1_STRING_get0_data(key_hash), (size_t)hl) ||
	    !key_put(k, &sign, 1) || !key_put(k, sp, (size_t)sl))
		return cs_err_set(err, CS_ERR_INVALID, "CertID is too long");
	return CS_OK;
}

static enum cs_rc
key_from_certid(OCSP_CERTID *id, struct crypto_ocsp_key *k, struct cs_err *err)
{
	ASN1_OCTET_STRING *nh = NULL, *kh = NULL;
	ASN1_OBJECT *alg = NULL;
	ASN1_INTEGER *serial = NULL;

	if (OCSP_id_get0_info(&nh, &alg, &kh, &serial, id) != 1 || nh == NULL ||
	    kh == NULL || alg == NULL || serial == NULL)
		return cs_err_ossl(err, CS_ERR_INVALID, "CertID is malformed");
	return key_make(OBJ_obj2nid(alg), nh, kh, serial, k, err);
}

enum cs_rc
crypto_ocsp_key_for(const EVP_MD *md, X509 *cert, X509 *issuer,
    struct crypto_ocsp_key *k, struct cs_err *err)
{
	OCSP_CERTID *id;
	enum cs_rc rc;

	memset(k, 0, sizeof(*k));
	if (md == NULL || cert == NULL || issuer == NULL)
		return cs_err_set(err, CS_ERR_INVALID,
		    "a CertID needs a hash, a certificate and its issuer");
	id = OCSP_cert_to_id(md, cert, issuer);
	if (id == NULL)
		return cs_err_ossl(err, CS_ERR_CRYPTO, "cannot make a CertID");
	rc = key_from_certid(id, k, err);
	OCSP_CERTID_free(id);
	return rc;
}

enum cs_rc
crypto_ocsp_plain_request(const EVP_MD *md, X509 *cert, X509 *issuer,
    struct buf **der, struct cs_err *err)
{
	OCSP_REQUEST *req = NULL;
	OCSP_CERTID *id = NULL;
	unsigned char *p;
	enum cs_rc rc = CS_OK;
	int len;

	*der = NULL;
	req = OCSP_REQUEST_new();
	id = req != NULL ? OCSP_cert_to_id(md, cert, issuer) : NULL;
	if (id == NULL || OCSP_request_add0_id(req, id) == NULL) {
		OCSP_CERTID_free(id);
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "cannot make a request");
		goto out;
	}
	len = i2d_OCSP_REQUEST(req, NULL);
	if (len <= 0 || (*der = buf_new((size_t)len)) == NULL) {
		rc = cs_err_ossl(err, CS_ERR_NOMEM, "cannot encode a request");
		goto out;
	}
	p = (*der)->data;
	(*der)->len = (size_t)i2d_OCSP_REQUEST(req, &p);
out:
	OCSP_REQUEST_free(req);
	return rc;
}

enum cs_rc
crypto_ocsp_request_parse(const unsigned char *der, size_t len,
    struct crypto_ocsp_key *k, struct cs_err *err)
{
	const unsigned char *p = der;
	OCSP_REQUEST *req = NULL;
	OCSP_ONEREQ *one;
	enum cs_rc rc;
	int n;

	memset(k, 0, sizeof(*k));
	if (der == NULL || len == 0 || len > CRYPTO_OCSP_REQ_MAX)
		return cs_err_set(err, CS_ERR_INVALID,
		    "OCSP request must be 1 to %d bytes", CRYPTO_OCSP_REQ_MAX);
	req = d2i_OCSP_REQUEST(NULL, &p, (long)len);
	if (req == NULL) {
		rc = cs_err_ossl(
		    err, CS_ERR_INVALID, "OCSP request is not valid DER");
		goto out;
	}
	if (p != der + len) {
		rc = cs_err_set(
		    err, CS_ERR_INVALID, "OCSP request has trailing data");
		goto out;
	}
	n = OCSP_request_onereq_count(req);
	if (n != 1) {
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "OCSP request must hold exactly one request, not %d", n);
		goto out;
	}
	one = OCSP_request_onereq_get0(req, 0);
	if (one == NULL || OCSP_onereq_get0_id(one) == NULL) {
		rc = cs_err_ossl(err, CS_ERR_INVALID, "OCSP request is empty");
		goto out;
	}
	rc = key_from_certid(OCSP_onereq_get0_id(one), k, err);
out:
	OCSP_REQUEST_free(req);
	return rc;
}

static enum cs_rc
ocsp_to_der(OCSP_RESPONSE *resp, struct buf **der, struct cs_err *err)
{
	unsigned char *p;
	struct buf *b;
	int len;

	len = i2d_OCSP_RESPONSE(resp, NULL);
	if (len <= 0)
		return cs_err_ossl(
		    err, CS_ERR_CRYPTO, "cannot encode OCSP response");
	b = buf_new((size_t)len);
	if (b == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	p = b->data;
	if (i2d_OCSP_RESPONSE(resp, &p) != len) {
		buf_free(b);
		return cs_err_ossl(
		    err, CS_ERR_CRYPTO, "cannot encode OCSP response");
	}
	b->len = (size_t)len;
	*der = b;
	return CS_OK;
}

enum cs_rc
crypto_ocsp_error_response(
    enum crypto_ocsp_rstatus st, struct buf **der, struct cs_err *err)
{
	OCSP_RESPONSE *resp;
	enum cs_rc rc;

	*der = NULL;
	if (st != CRYPTO_OCSP_MALFORMED && st != CRYPTO_OCSP_INTERNAL_ERROR &&
	    st != CRYPTO_OCSP_TRY_LATER && st != CRYPTO_OCSP_UNAUTHORIZED)
		return cs_err_set(err, CS_ERR_INVALID,
		    "OCSP error status %d is not an error", (int)st);
	resp = OCSP_response_create((int)st, NULL);
	if (resp == NULL)
		return cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
	rc = ocsp_to_der(resp, der, err);
	OCSP_RESPONSE_free(resp);
	return rc;
}

/* An ASN1_TIME for Unix time t (given), NULL when out of memory. */
static ASN1_TIME *
ocsp_time(int64_t t)
{
	return ASN1_TIME_set(NULL, (time_t)t);
}

/*
 * signer may answer for s->issuer's certificates: it is the issuer, or the
 * issuer issued it for id-kp-OCSPSigning (RFC 6960 4.2.2.2).
 */
static bool
ocsp_signer_ok(X509 *signer, X509 *issuer)
{
	bool ok;

	if (X509_cmp(signer, issuer) == 0)
		return true;
	ok = X509_check_issued(issuer, signer) == X509_V_OK &&
	    (X509_get_extension_flags(signer) & EXFLAG_XKUSAGE) != 0 &&
	    (X509_get_extended_key_usage(signer) & XKU_OCSP_SIGN) != 0;
	crypto_ossl_drain();
	return ok;
}

/* 1 when bs's signature verifies with signer's key (no chain check). */
static int
ocsp_self_check(OCSP_BASICRESP *bs, X509 *signer)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	X509_STORE *store = X509_STORE_new();
	int r = 0;

	if (certs != NULL && store != NULL && sk_X509_push(certs, signer) > 0)
		r = OCSP_basic_verify(bs, certs, store,
		    OCSP_NOINTERN | OCSP_NOVERIFY | OCSP_NOCHECKS);
	sk_X509_free(certs);
	X509_STORE_free(store);
	return r;
}

enum cs_rc
crypto_ocsp_sign(const struct crypto_ocsp_single *s, X509 *signer,
    EVP_PKEY *key, struct buf **der, struct cs_err *err)
{
	OCSP_BASICRESP *bs = NULL;
	OCSP_RESPONSE *resp = NULL;
	OCSP_CERTID *id = NULL;
	ASN1_TIME *tu = NULL, *nu = NULL, *rt = NULL;
	unsigned long flags = OCSP_RESPID_KEY;
	enum cs_rc rc;
	int status, reason;

	*der = NULL;
	if (s == NULL || s->cert == NULL || s->issuer == NULL ||
	    s->md == NULL || signer == NULL || key == NULL)
		return cs_err_set(err, CS_ERR_INVALID,
		    "OCSP response needs a certificate, its issuer, a hash "
		    "and a signer");
	if (s->next_update <= s->this_update)
		return cs_err_set(
		    err, CS_ERR_INVALID, "nextUpdate must be after thisUpdate");
	if (!ocsp_signer_ok(signer, s->issuer))
		return cs_err_set(err, CS_ERR_INVALID,
		    "signer may not answer for this issuer");
	if (X509_check_private_key(signer, key) != 1) {
		crypto_ossl_drain();
		return cs_err_set(err, CS_ERR_INVALID,
		    "signer key does not match the signer certificate");
	}
	if (X509_cmp(signer, s->issuer) == 0)
		flags |= OCSP_NOCERTS;
	id = OCSP_cert_to_id(s->md, s->cert, s->issuer);
	bs = OCSP_BASICRESP_new();
	tu = ocsp_time(s->this_update);
	nu = ocsp_time(s->next_update);
	if (s->revoked)
		rt = ocsp_time(s->revoked_at);
	if (id == NULL || bs == NULL || tu == NULL || nu == NULL ||
	    (s->revoked && rt == NULL)) {
		rc = cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	status =
	    s->revoked ? V_OCSP_CERTSTATUS_REVOKED : V_OCSP_CERTSTATUS_GOOD;
	/* As in CRLs (RFC 5280 5.3.1): unspecified is left out. */
	reason = s->revoked && s->reason > CRYPTO_REASON_UNSPECIFIED
	    ? (int)s->reason
	    : OCSP_REVOKED_STATUS_NOSTATUS;
	/* Dates become GeneralizedTime here, as RFC 6960 requires. */
	if (OCSP_basic_add1_status(bs, id, status, reason, rt, tu, nu) ==
	    NULL) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "cannot add OCSP status");
		goto out;
	}
	if (OCSP_basic_sign(
	        bs, signer, key, crypto_md_for_key(key), NULL, flags) != 1) {
		rc = cs_err_ossl(err, crypto_ossl_rc(CS_ERR_CRYPTO),
		    "cannot sign OCSP response");
		goto out;
	}
	/* A faulty signer must not reach clients: check the signature only. */
	if (ocsp_self_check(bs, signer) != 1) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO,
		    "signature of OCSP response does not verify");
		goto out;
	}
	resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
	if (resp == NULL) {
		rc = cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = ocsp_to_der(resp, der, err);
out:
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(bs);
	OCSP_CERTID_free(id);
	ASN1_TIME_free(tu);
	ASN1_TIME_free(nu);
	ASN1_TIME_free(rt);
	return rc;
}
