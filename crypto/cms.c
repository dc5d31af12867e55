/*
 * cms.c: e-seals, detached CMS SignedData (RFC 5652) with CAdES-BES signed
 * attributes, made and verified.  docs/seal-format.md is the profile.
 *
 * A seal is made over the exact bytes of the document (CMS_BINARY: no MIME
 * canonicalisation) with one SignerInfo, signed attributes content-type,
 * message-digest, signing-time, signing-certificate-v2 (RFC 5035) and, for
 * seals with an image, the seal-image hash; no S/MIME capabilities.  The
 * signer certificate and the chain up to, not including, the root are
 * included.  Signing goes through EVP (CMS_add1_signer + CMS_final), so a
 * token-backed key works as a software key does, and every seal is
 * verified with the signer's public key before it is handed out: a faulty
 * signer (or an RSA fault) never produces a seal that leaves this file.
 *
 * OpenSSL's CMS_CADES writes signing-certificate-v2 with the signature's
 * digest and issuerSerial.  Our profile hashes the certificate with SHA-256
 * whatever the key (hashAlgorithm then omitted: it is the DEFAULT), so for
 * P-384 keys the attribute is replaced by the SHA-256 one.
 *
 * Verification is an answer, not an error: whatever the DER holds (empty,
 * garbage, truncated, a bad signature, a broken chain) fills the result and
 * returns CS_OK.  It checks more than CMS_verify() does: the structure of
 * every attribute we rely on, that the digest is the one of the profile
 * for the signer key, and that signing-certificate(-v2) names the signer.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/ess.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certsvc/err.h"
#include "certsvc/mem.h"
#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

/*
 * ITU-T X.667 UUID arc: 2.25.<UUID 5f7545fd-0b1e-44dd-a24d-2f77bdc7e9f1 as
 * an integer>, minted once for certsvc; no registration needed.
 */
const char CRYPTO_OID_SEAL_IMAGE_HASH[] =
    "2.25.126885577866444278924505968379691526641";

#define CRYPTO_SHA256_LEN 32

/*
 * SealImageHash ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier,
 * hashValue OCTET STRING } with id-sha256 (2.16.840.1.101.3.4.2.1): the
 * DER up to the 32 hash octets.  We write parameters absent (RFC 5754
 * 2: SHOULD omit); RFC 5754 asks receivers to accept NULL too.
 */
static const unsigned char crypto_img_absent[] = {0x30, 0x2f, 0x30, 0x0b, 0x06,
    0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x04, 0x20};
static const unsigned char crypto_img_null[] = {0x30, 0x31, 0x30, 0x0d, 0x06,
    0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
    0x04, 0x20};

/* --- helpers -------------------------------------------------------------- */

/* keyUsage, when present, allows digitalSignature or nonRepudiation. */
static bool
crypto_ku_signs(X509 *x)
{
	uint32_t ku = X509_get_key_usage(x);

	return (ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)) != 0;
}

/*
 * The single value of signed attribute obj: 0 when absent, 1 with *out
 * set for exactly one attribute holding exactly one value of ASN.1 type
 * type (-1: any), -1 otherwise (repeated, several values, wrong type).
 */
static int
crypto_attr_one(
    CMS_SignerInfo *si, const ASN1_OBJECT *obj, int type, const ASN1_TYPE **out)
{
	X509_ATTRIBUTE *a;
	ASN1_TYPE *t;
	int i;

	*out = NULL;
	i = CMS_signed_get_attr_by_OBJ(si, obj, -1);
	if (i < 0)
		return 0;
	if (CMS_signed_get_attr_by_OBJ(si, obj, i) >= 0)
		return -1;
	a = CMS_signed_get_attr(si, i);
	if (a == NULL || X509_ATTRIBUTE_count(a) != 1)
		return -1;
	t = X509_ATTRIBUTE_get0_type(a, 0);
	if (t == NULL || (type >= 0 && ASN1_TYPE_get(t) != type))
		return -1;
	*out = t;
	return 1;
}

/* The DER of signing-certificate-v2 naming cert by its SHA-256 hash. */
static enum cs_rc
crypto_ess_der(X509 *cert, unsigned char **der, int *len, struct cs_err *err)
{
	ESS_SIGNING_CERT_V2 *sc;

	*der = NULL;
	*len = 0;
	/*
	 * SHA-256: hashAlgorithm omitted (DEFAULT).  issuerSerial included:
	 * optional in RFC 5035, what OpenSSL writes and checks.
	 */
	sc = OSSL_ESS_signing_cert_v2_new_init(EVP_sha256(), cert, NULL, 1);
	if (sc == NULL)
		return cs_err_ossl(
		    err, CS_ERR_CRYPTO, "cannot make signing-certificate-v2");
	*len = i2d_ESS_SIGNING_CERT_V2(sc, der);
	ESS_SIGNING_CERT_V2_free(sc);
	if (*len <= 0) {
		*der = NULL;
		return cs_err_ossl(
		    err, CS_ERR_CRYPTO, "cannot encode signing-certificate-v2");
	}
	return CS_OK;
}

/*
 * CMS_CADES has added signing-certificate-v2; keep it if it is ours byte
 * for byte, else (a P-384 key: SHA-384 with an explicit hashAlgorithm)
 * replace it.
 */
static enum cs_rc
crypto_ess_fix(CMS_SignerInfo *si, X509 *cert, struct cs_err *err)
{
	const ASN1_OBJECT *obj =
	    OBJ_nid2obj(NID_id_smime_aa_signingCertificateV2);
	const ASN1_TYPE *t;
	unsigned char *want = NULL;
	int wantlen, i;
	enum cs_rc rc;

	rc = crypto_ess_der(cert, &want, &wantlen, err);
	if (rc != CS_OK)
		return rc;
	if (crypto_attr_one(si, obj, V_ASN1_SEQUENCE, &t) != 1) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO,
		    "CMS_CADES wrote no signing-certificate-v2");
		goto out;
	}
	if (ASN1_STRING_length(t->value.sequence) == wantlen &&
	    memcmp(ASN1_STRING_get0_data(t->value.sequence), want,
	        (size_t)wantlen) == 0)
		goto out;
	i = CMS_signed_get_attr_by_OBJ(si, obj, -1);
	X509_ATTRIBUTE_free(CMS_signed_delete_attr(si, i));
	if (CMS_signed_add1_attr_by_NID(si,
	        NID_id_smime_aa_signingCertificateV2, V_ASN1_SEQUENCE, want,
	        wantlen) != 1)
		rc = cs_err_ossl(
		    err, CS_ERR_CRYPTO, "cannot add signing-certificate-v2");
out:
	OPENSSL_free(want);
	return rc;
}

static enum cs_rc
crypto_image_add(
    CMS_SignerInfo *si, const unsigned char *sha256, struct cs_err *err)
{
	unsigned char v[sizeof(crypto_img_absent) + CRYPTO_SHA256_LEN];
	ASN1_OBJECT *obj = OBJ_txt2obj(CRYPTO_OID_SEAL_IMAGE_HASH, 1);
	enum cs_rc rc = CS_OK;

	memcpy(v, crypto_img_absent, sizeof(crypto_img_absent));
	memcpy(v + sizeof(crypto_img_absent), sha256, CRYPTO_SHA256_LEN);
	if (obj == NULL ||
	    CMS_signed_add1_attr_by_OBJ(
	        si, obj, V_ASN1_SEQUENCE, v, (int)sizeof(v)) != 1)
		rc = cs_err_ossl(
		    err, CS_ERR_CRYPTO, "cannot add the seal image hash");
	ASN1_OBJECT_free(obj);
	return rc;
}

/* Chain certificates, leaving out the self-signed (a root is not sent). */
static enum cs_rc
crypto_chain_add(CMS_ContentInfo *cms, X509 *signer, STACK_OF(X509) * chain,
    struct cs_err *err)
{
	X509 *x;
	int i, j;
	bool dup;

	for (i = 0; i < sk_X509_num(chain); i++) {
		x = sk_X509_value(chain, i);
		if (x == NULL)
			return cs_err_set(
			    err, CS_ERR_INVALID, "seal chain has a NULL entry");
		dup = X509_cmp(x, signer) == 0;
		for (j = 0; j < i && !dup; j++)
			dup = X509_cmp(x, sk_X509_value(chain, j)) == 0;
		if (dup || (X509_get_extension_flags(x) & EXFLAG_SS) != 0)
			continue;
		if (CMS_add1_cert(cms, x) != 1)
			return cs_err_ossl(err, CS_ERR_CRYPTO,
			    "cannot add a chain certificate");
	}
	return CS_OK;
}

static BIO *
crypto_doc_bio(const unsigned char *doc, size_t len)
{
	return BIO_new_mem_buf(len > 0 ? (const void *)doc : "", (int)len);
}

/*
 * 1 when the signature of the one SignerInfo covers doc (signed attributes
 * and message digest, no certificate verification); with certs, the
 * signer is looked for there only.  0 otherwise; the queue is left alone.
 */
static int
crypto_sig_verify(CMS_ContentInfo *cms, STACK_OF(X509) * certs,
    const unsigned char *doc, size_t len)
{
	unsigned int flags =
	    CMS_DETACHED | CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY;
	BIO *in = crypto_doc_bio(doc, len);
	int r;

	if (in == NULL)
		return 0;
	if (certs != NULL)
		flags |= CMS_NOINTERN;
	r = CMS_verify(cms, certs, NULL, in, NULL, flags);
	BIO_free(in);
	return r == 1;
}

/* --- sealing -------------------------------------------------------------- */

static enum cs_rc
crypto_seal_check(const struct crypto_seal_opts *o, const unsigned char *doc,
    size_t len, struct cs_err *err)
{
	if (o == NULL || o->key == NULL || o->cert == NULL)
		return cs_err_set(err, CS_ERR_INVALID,
		    "seal needs a signer key and certificate");
	if ((doc == NULL && len > 0) || len > INT_MAX)
		return cs_err_set(err, CS_ERR_INVALID,
		    "document must be at most %d bytes", INT_MAX);
	if (X509_check_private_key(o->cert, o->key) != 1) {
		crypto_ossl_drain();
		return cs_err_set(err, CS_ERR_INVALID,
		    "seal key does not match the seal certificate");
	}
	if (!crypto_ku_signs(o->cert))
		return cs_err_set(err, CS_ERR_INVALID,
		    "seal certificate key usage does not allow signing");
	return CS_OK;
}

static enum cs_rc
crypto_cms_encode(CMS_ContentInfo *cms, struct buf **out, struct cs_err *err)
{
	struct buf *b;
	unsigned char *p;
	int len;

	*out = NULL;
	len = i2d_CMS_ContentInfo(cms, NULL);
	if (len <= 0)
		return cs_err_ossl(err, CS_ERR_CRYPTO, "cannot encode seal");
	b = buf_new((size_t)len);
	if (b == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	p = b->data;
	if (i2d_CMS_ContentInfo(cms, &p) != len) {
		buf_free(b);
		return cs_err_ossl(err, CS_ERR_CRYPTO, "cannot encode seal");
	}
	b->len = (size_t)len;
	b->data[len] = '\0';
	*out = b;
	return CS_OK;
}

enum cs_rc
crypto_cms_seal(const struct crypto_seal_opts *o, const unsigned char *doc,
    size_t len, struct buf **der, struct cs_err *err)
{
	const unsigned int flags = CMS_DETACHED | CMS_BINARY;
	CMS_ContentInfo *cms = NULL;
	STACK_OF(X509) *signer = NULL;
	CMS_SignerInfo *si;
	BIO *in = NULL;
	enum cs_rc rc;

	*der = NULL;
	rc = crypto_seal_check(o, doc, len, err);
	if (rc != CS_OK)
		goto out;
	cms = CMS_sign(NULL, NULL, NULL, NULL, flags | CMS_PARTIAL);
	if (cms == NULL) {
		rc = cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	si = CMS_add1_signer(cms, o->cert, o->key, crypto_md_for_key(o->key),
	    flags | CMS_NOSMIMECAP | CMS_CADES);
	if (si == NULL) {
		rc = cs_err_ossl(err, crypto_ossl_rc(CS_ERR_CRYPTO),
		    "cannot add the seal signer");
		goto out;
	}
	rc = crypto_ess_fix(si, o->cert, err);
	if (rc == CS_OK && o->image_sha256 != NULL)
		rc = crypto_image_add(si, o->image_sha256, err);
	if (rc == CS_OK)
		rc = crypto_chain_add(cms, o->cert, o->chain, err);
	if (rc != CS_OK)
		goto out;
	/* Digests doc, adds signing-time and message-digest, signs. */
	in = crypto_doc_bio(doc, len);
	if (in == NULL || CMS_final(cms, in, NULL, flags) != 1) {
		rc = cs_err_ossl(err, crypto_ossl_rc(CS_ERR_CRYPTO),
		    "cannot seal the document");
		goto out;
	}
	/*
	 * An RSA-CRT signature computed with a fault gives away the key in
	 * one go (Boneh, DeMillo, Lipton), so a fresh RSA seal is verified
	 * before it leaves.  A faulty ECDSA signature only fails to verify at
	 * the relying party; checking it here would cost about 90 us of CPU
	 * per licence (BENCHMARKS.md) for no protection of the key.
	 */
	if (EVP_PKEY_is_a(o->key, "RSA")) {
		signer = sk_X509_new_null();
		if (signer == NULL || sk_X509_push(signer, o->cert) <= 0) {
			rc = cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
			goto out;
		}
		if (!crypto_sig_verify(cms, signer, doc, len)) {
			rc = cs_err_ossl(err, CS_ERR_CRYPTO,
			    "the seal made does not verify: the signer is "
			    "faulty");
			goto out;
		}
	}
	rc = crypto_cms_encode(cms, der, err);
out:
	sk_X509_free(signer);
	BIO_free(in);
	CMS_ContentInfo_free(cms);
	return rc;
}

/* --- verification --------------------------------------------------------- */

/* Set res->reason (the first failure only) and return false. */
static bool crypto_fail(struct crypto_cms_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static bool
crypto_fail(struct crypto_cms_result *res, const char *fmt, ...)
{
	va_list ap;

	if (res->reason[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
		va_end(ap);
	}
	return false;
}

/*
 * RFC 5652 11.3: UTCTime YYMMDDHHMMSSZ for 1950 to 2049, GeneralizedTime
 * YYYYMMDDHHMMSSZ (no fraction) outside; a valid date.  Seconds since the
 * epoch into *out.
 */
static bool
crypto_signing_time(const ASN1_TYPE *t, int64_t *out)
{
	const ASN1_STRING *s = t->value.asn1_string;
	const unsigned char *d = ASN1_STRING_get0_data(s);
	int n = ASN1_STRING_length(s), i, days = 0, secs = 0;
	int want = ASN1_TYPE_get(t) == V_ASN1_UTCTIME ? 13 : 15;
	ASN1_TIME *epoch = NULL;
	struct tm tm;
	bool ok = false;

	if (n != want || d[n - 1] != 'Z')
		return false;
	for (i = 0; i < n - 1; i++)
		if (d[i] < '0' || d[i] > '9')
			return false;
	if (ASN1_TIME_check(s) != 1 || ASN1_TIME_to_tm(s, &tm) != 1)
		goto out;
	if (want == 15 && tm.tm_year + 1900 >= 1950 &&
	    tm.tm_year + 1900 <= 2049)
		goto out;
	epoch = ASN1_TIME_set(NULL, 0);
	if (epoch == NULL || ASN1_TIME_diff(&days, &secs, epoch, s) != 1)
		goto out;
	*out = (int64_t)days * 86400 + secs;
	ok = true;
out:
	ASN1_TIME_free(epoch);
	return ok;
}

/* The seal-image attribute, when present, is exactly our DER. */
static bool
crypto_image_check(CMS_SignerInfo *si, struct crypto_cms_result *res)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(CRYPTO_OID_SEAL_IMAGE_HASH, 1);
	const ASN1_TYPE *t = NULL;
	const unsigned char *d;
	size_t n, pre;
	int r;

	if (obj == NULL)
		return crypto_fail(res, "cannot make the image OID");
	r = crypto_attr_one(si, obj, V_ASN1_SEQUENCE, &t);
	ASN1_OBJECT_free(obj);
	if (r == 0)
		return true;
	if (r < 0)
		return crypto_fail(
		    res, "seal image hash attribute is malformed");
	d = ASN1_STRING_get0_data(t->value.sequence);
	n = (size_t)ASN1_STRING_length(t->value.sequence);
	if (n == sizeof(crypto_img_absent) + CRYPTO_SHA256_LEN &&
	    memcmp(d, crypto_img_absent, sizeof(crypto_img_absent)) == 0)
		pre = sizeof(crypto_img_absent);
	else if (n == sizeof(crypto_img_null) + CRYPTO_SHA256_LEN &&
	    memcmp(d, crypto_img_null, sizeof(crypto_img_null)) == 0)
		pre = sizeof(crypto_img_null);
	else
		return crypto_fail(
		    res, "seal image hash is not a DER SHA-256 SealImageHash");
	memcpy(res->image_sha256, d + pre, CRYPTO_SHA256_LEN);
	res->has_image_hash = true;
	return true;
}

/*
 * signing-certificate (v1, v2), when present (one of them when required),
 * names the signer first and, after it, certificates of chain; chain is
 * the signer followed by the others it may name.
 */
static bool
crypto_ess_check(CMS_SignerInfo *si, STACK_OF(X509) * chain, bool required,
    struct crypto_cms_result *res)
{
	ESS_SIGNING_CERT_V2 *v2 = NULL;
	ESS_SIGNING_CERT *v1 = NULL;
	const ASN1_TYPE *t1, *t2;
	const unsigned char *p;
	bool ok = false;
	int r1, r2;

	r1 =
	    crypto_attr_one(si, OBJ_nid2obj(NID_id_smime_aa_signingCertificate),
	        V_ASN1_SEQUENCE, &t1);
	r2 = crypto_attr_one(si,
	    OBJ_nid2obj(NID_id_smime_aa_signingCertificateV2), V_ASN1_SEQUENCE,
	    &t2);
	if (r1 < 0 || r2 < 0)
		return crypto_fail(
		    res, "signing-certificate attribute is malformed");
	if (r1 == 0 && r2 == 0 && required)
		return crypto_fail(
		    res, "signing-certificate attribute is missing");
	if (r1 == 0 && r2 == 0)
		return true;
	if (r1 == 1) {
		p = ASN1_STRING_get0_data(t1->value.sequence);
		v1 = d2i_ESS_SIGNING_CERT(
		    NULL, &p, ASN1_STRING_length(t1->value.sequence));
		if (v1 == NULL ||
		    p !=
		        ASN1_STRING_get0_data(t1->value.sequence) +
		            ASN1_STRING_length(t1->value.sequence)) {
			crypto_fail(
			    res, "signing-certificate attribute is malformed");
			goto out;
		}
	}
	if (r2 == 1) {
		p = ASN1_STRING_get0_data(t2->value.sequence);
		v2 = d2i_ESS_SIGNING_CERT_V2(
		    NULL, &p, ASN1_STRING_length(t2->value.sequence));
		if (v2 == NULL ||
		    p !=
		        ASN1_STRING_get0_data(t2->value.sequence) +
		            ASN1_STRING_length(t2->value.sequence)) {
			crypto_fail(res,
			    "signing-certificate-v2 attribute is malformed");
			goto out;
		}
	}
	/* The first ESSCertID(v2) must name chain[0], the signer. */
	if (OSSL_ESS_check_signing_certs(v1, v2, chain, 0) != 1) {
		crypto_fail(res,
		    "signing-certificate attribute does not name the signer "
		    "certificate");
		goto out;
	}
	ok = true;
out:
	ESS_SIGNING_CERT_V2_free(v2);
	ESS_SIGNING_CERT_free(v1);
	return ok;
}

/*
 * OpenSSL does not look at signatureAlgorithm when it verifies.  ECDSA:
 * ecdsa-with-<digest>, parameters absent (RFC 5753 2.1.1, RFC 5758 3.2).
 * RSA: rsaEncryption or <digest>WithRSAEncryption, parameters NULL or
 * absent (RFC 3370 3.2, RFC 5754 3.2).
 */
static bool
crypto_sigalg_ok(const X509_ALGOR *sig, int dnid, EVP_PKEY *pub)
{
	const ASN1_OBJECT *obj;
	int ptype, snid, hnid = NID_undef, pknid = NID_undef;

	X509_ALGOR_get0(&obj, &ptype, NULL, sig);
	snid = OBJ_obj2nid(obj);
	if (pub != NULL && EVP_PKEY_is_a(pub, "EC"))
		return ptype == V_ASN1_UNDEF &&
		    OBJ_find_sigid_algs(snid, &hnid, &pknid) == 1 &&
		    pknid == NID_X9_62_id_ecPublicKey && hnid == dnid;
	if (pub != NULL && EVP_PKEY_is_a(pub, "RSA"))
		return (ptype == V_ASN1_NULL || ptype == V_ASN1_UNDEF) &&
		    (snid == NID_rsaEncryption ||
		        (OBJ_find_sigid_algs(snid, &hnid, &pknid) == 1 &&
		            pknid == NID_rsaEncryption && hnid == dnid));
	return false;
}

/*
 * The algorithms and attributes CMS_verify() does not look at: the
 * digest is the profile's for the signer key (crypto_md_for_key()) with
 * absent or NULL parameters and the signature algorithm agrees with both;
 * content-type is id-data; message-digest is one OCTET STRING of the
 * digest's length; signing-time is well formed; signing-certificate(-v2)
 * and the image hash as above.
 */
static bool
crypto_attrs_check(CMS_SignerInfo *si, X509 *signer, STACK_OF(X509) * chain,
    struct crypto_cms_result *res)
{
	const EVP_MD *want = crypto_md_for_key(X509_get0_pubkey(signer));
	X509_ALGOR *dig = NULL, *sig = NULL;
	const ASN1_OBJECT *obj;
	const ASN1_TYPE *t;
	int ptype, nid, r;

	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, &sig);
	X509_ALGOR_get0(&obj, &ptype, NULL, dig);
	nid = OBJ_obj2nid(obj);
	if (nid != EVP_MD_get_type(want))
		return crypto_fail(res,
		    "digest algorithm is not %s, the one for the signer key",
		    EVP_MD_get0_name(want));
	if (ptype != V_ASN1_UNDEF && ptype != V_ASN1_NULL)
		return crypto_fail(res, "digest algorithm has parameters");
	if (!crypto_sigalg_ok(sig, nid, X509_get0_pubkey(signer)))
		return crypto_fail(res,
		    "signature algorithm is not one for the key and the "
		    "digest algorithm");
	if (crypto_attr_one(si, OBJ_nid2obj(NID_pkcs9_contentType),
	        V_ASN1_OBJECT, &t) != 1 ||
	    OBJ_obj2nid(t->value.object) != NID_pkcs7_data)
		return crypto_fail(
		    res, "content-type attribute is not one id-data");
	if (crypto_attr_one(si, OBJ_nid2obj(NID_pkcs9_messageDigest),
	        V_ASN1_OCTET_STRING, &t) != 1 ||
	    ASN1_STRING_length(t->value.octet_string) != EVP_MD_get_size(want))
		return crypto_fail(
		    res, "message-digest attribute is not one digest value");
	r = crypto_attr_one(si, OBJ_nid2obj(NID_pkcs9_signingTime), -1, &t);
	if (r < 0 ||
	    (r == 1 &&
	        ((ASN1_TYPE_get(t) != V_ASN1_UTCTIME &&
	             ASN1_TYPE_get(t) != V_ASN1_GENERALIZEDTIME) ||
	            !crypto_signing_time(t, &res->signing_time))))
		return crypto_fail(res, "signing-time attribute is malformed");
	return crypto_ess_check(si, chain, false, res) &&
	    crypto_image_check(si, res);
}

/* The first reason OpenSSL gives for a failed verification. */
static void
crypto_ossl_reason(struct crypto_cms_result *res, const char *what)
{
	const char *r = ERR_reason_error_string(ERR_peek_error());

	if (res->reason[0] == '\0')
		snprintf(res->reason, sizeof(res->reason), "%s: %s", what,
		    r != NULL ? r : "unknown error");
	crypto_ossl_drain();
}

/* Step over the DER TLV at *p: its tag, class and content. */
static bool
crypto_der_next(const unsigned char **p, long *left, int *tag, int *cls,
    const unsigned char **c, long *clen)
{
	const unsigned char *start = *p;
	int r;

	r = ASN1_get_object(p, clen, tag, cls, *left);
	if ((r & 0x80) != 0 || (r & 0x01) != 0) /* error, indefinite */
		return false;
	*c = *p;
	*p += *clen;
	*left -= (long)(*p - start);
	return true;
}

/* Step into the DER TLV at *p (of tag, if tag >= 0): *p, *left its content. */
static bool
crypto_der_into(const unsigned char **p, long *left, int tag)
{
	const unsigned char *c;
	long clen;
	int t, cls;

	/* Only a constructed encoding has content to step into. */
	if (*left <= 0 || (**p & V_ASN1_CONSTRUCTED) == 0 ||
	    !crypto_der_next(p, left, &t, &cls, &c, &clen) ||
	    (tag >= 0 && (t != tag || cls != V_ASN1_UNIVERSAL)))
		return false;
	*p = c;
	*left = clen;
	return true;
}

/* An INTEGER TLV holding small value want. */
static bool
crypto_der_int_is(const unsigned char **p, long *left, int want)
{
	const unsigned char *c;
	long clen;
	int tag, cls;

	return crypto_der_next(p, left, &tag, &cls, &c, &clen) &&
	    tag == V_ASN1_INTEGER && cls == V_ASN1_UNIVERSAL && clen == 1 &&
	    c[0] == want;
}

/* The AlgorithmIdentifier dig is one of the SET OF at c. */
static bool
crypto_der_set_has(const unsigned char *c, long clen, const X509_ALGOR *dig)
{
	const unsigned char *p = c;
	X509_ALGOR *a;
	bool found = false;

	while (!found && p < c + clen) {
		a = d2i_X509_ALGOR(NULL, &p, (long)(c + clen - p));
		if (a == NULL)
			return false;
		found = X509_ALGOR_cmp(a, dig) == 0;
		X509_ALGOR_free(a);
	}
	return found;
}

/*
 * What OpenSSL parses and never checks (RFC 5652 5.1, 5.3): SignedData
 * version 1 and SignerInfo version 1 for an issuerAndSerialNumber signer,
 * both 3 for a subjectKeyIdentifier one (id-data content, X.509
 * certificates only); the signer's digestAlgorithm listed in the
 * SignedData's digestAlgorithms.  der is DER already.
 */
static bool
crypto_cms_outer_check(const unsigned char *der, size_t derlen,
    CMS_SignerInfo *si, struct crypto_cms_result *res)
{
	const unsigned char *p = der, *c = NULL;
	long left = (long)derlen, clen = 0;
	ASN1_OCTET_STRING *keyid = NULL;
	X509_ALGOR *dig = NULL;
	int tag = -1, cls, v;

	if (CMS_SignerInfo_get0_signer_id(si, &keyid, NULL, NULL) != 1)
		return crypto_fail(res, "seal signer has no identifier");
	v = keyid != NULL ? 3 : 1;
	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, NULL);
	/* ContentInfo { contentType, [0] { SignedData { version, ... */
	if (!crypto_der_into(&p, &left, V_ASN1_SEQUENCE) ||
	    !crypto_der_next(&p, &left, &tag, &cls, &c, &clen) ||
	    !crypto_der_into(&p, &left, -1) ||
	    !crypto_der_into(&p, &left, V_ASN1_SEQUENCE))
		return crypto_fail(res, "seal is not DER");
	if (!crypto_der_int_is(&p, &left, v))
		return crypto_fail(res, "SignedData version is not %d", v);
	if (!crypto_der_next(&p, &left, &tag, &cls, &c, &clen) ||
	    tag != V_ASN1_SET || !crypto_der_set_has(c, clen, dig))
		return crypto_fail(
		    res, "signer digest algorithm is not in digestAlgorithms");
	/* encapContentInfo, [0] certificates, [1] crls: signerInfos last. */
	while (left > 0)
		if (!crypto_der_next(&p, &left, &tag, &cls, &c, &clen))
			return crypto_fail(res, "seal is not DER");
	p = c;
	left = clen;
	if (tag != V_ASN1_SET || !crypto_der_into(&p, &left, V_ASN1_SEQUENCE))
		return crypto_fail(res, "seal is not DER");
	if (!crypto_der_int_is(&p, &left, v))
		return crypto_fail(res, "SignerInfo version is not %d", v);
	return true;
}

/*
 * Split a ContentInfo { contentType, [0] { SignedData } } into the same
 * DER without SignedData's certificates [0] field (*out, given) and the
 * certificates' own encodings (pointers into der, at most max).  false
 * when der is not shaped so (then it is parsed whole, and its faults are
 * reported from there) or has no certificates.
 */
static bool
crypto_cms_strip(const unsigned char *der, size_t derlen, struct buf **out,
    const unsigned char **cert, size_t *certlen, int max, int *ncert)
{
	const unsigned char *p = der, *sd, *c, *el, *certs = NULL, *q;
	long left = (long)derlen, sdlen, clen, certslen = 0, ql;
	unsigned char *w;
	int tag = -1, cls, n = 0, sdhdr, explhdr, cihdr;
	long sdbody = 0, explbody, cibody, certsel = 0;
	const unsigned char *oid;
	long oidlen;
	struct buf *b = NULL;

	*out = NULL;
	*ncert = 0;
	/* ContentInfo SEQUENCE, contentType OID, [0] EXPLICIT, SignedData. */
	if (!crypto_der_into(&p, &left, V_ASN1_SEQUENCE))
		return false;
	oid = p;
	if (!crypto_der_next(&p, &left, &tag, &cls, &c, &clen) ||
	    tag != V_ASN1_OBJECT || cls != V_ASN1_UNIVERSAL)
		return false;
	oidlen = (long)(p - oid);
	/*
	 * content [0] EXPLICIT: exactly that tag, or no split.  The headers
	 * rebuilt below must be constructed in der too (found by fuzz/: a
	 * primitive one was repaired here, refused by the whole parse).
	 */
	el = p;
	if (left <= 0 || (*el & V_ASN1_CONSTRUCTED) == 0 ||
	    !crypto_der_next(&p, &left, &tag, &cls, &c, &clen) ||
	    cls != V_ASN1_CONTEXT_SPECIFIC || tag != 0 || left != 0)
		return false;
	p = c;
	left = clen;
	if (!crypto_der_into(&p, &left, V_ASN1_SEQUENCE) || left <= 0)
		return false;
	sd = p;
	sdlen = left;
	/* Measure SignedData without certificates, and find them. */
	while (left > 0) {
		el = p;
		if (!crypto_der_next(&p, &left, &tag, &cls, &c, &clen))
			return false;
		if (cls == V_ASN1_CONTEXT_SPECIFIC && tag == 0) {
			if ((*el & V_ASN1_CONSTRUCTED) == 0)
				return false;
			certs = c;
			certslen = clen;
			certsel = (long)(p - el);
		} else {
			sdbody += (long)(p - el);
		}
	}
	if (certs == NULL)
		return false;
	q = certs;
	ql = certslen;
	while (ql > 0) {
		el = q;
		if (n == max ||
		    !crypto_der_next(&q, &ql, &tag, &cls, &c, &clen) ||
		    tag != V_ASN1_SEQUENCE || cls != V_ASN1_UNIVERSAL)
			return false;
		cert[n] = el;
		certlen[n] = (size_t)(q - el);
		n++;
	}
	sdhdr = ASN1_object_size(1, sdbody, V_ASN1_SEQUENCE) - (int)sdbody;
	explbody = sdhdr + sdbody;
	explhdr = ASN1_object_size(1, explbody, 0) - (int)explbody;
	cibody = oidlen + explhdr + explbody;
	cihdr = ASN1_object_size(1, cibody, V_ASN1_SEQUENCE) - (int)cibody;
	if (sdhdr <= 0 || explhdr <= 0 || cihdr <= 0)
		return false;
	/*
	 * Only a seal whose headers are all DER (minimal lengths) is split:
	 * any other is parsed whole, where the DER check reports it.
	 */
	if (certsel != ASN1_object_size(1, certslen, 0))
		return false;
	explbody = ASN1_object_size(1, sdbody + certsel, V_ASN1_SEQUENCE);
	cibody = oidlen + ASN1_object_size(1, explbody, 0);
	if ((size_t)ASN1_object_size(1, cibody, V_ASN1_SEQUENCE) != derlen)
		return false;
	explbody = sdhdr + sdbody;
	cibody = oidlen + explhdr + explbody;
	b = buf_new((size_t)(cihdr + cibody));
	if (b == NULL)
		return false;
	w = b->data;
	ASN1_put_object(&w, 1, cibody, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	memcpy(w, oid, (size_t)oidlen);
	w += oidlen;
	ASN1_put_object(&w, 1, explbody, 0, V_ASN1_CONTEXT_SPECIFIC);
	ASN1_put_object(&w, 1, sdbody, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	p = sd;
	left = sdlen;
	while (left > 0) {
		el = p;
		if (!crypto_der_next(&p, &left, &tag, &cls, &c, &clen))
			break;
		if (cls == V_ASN1_CONTEXT_SPECIFIC && tag == 0)
			continue;
		memcpy(w, el, (size_t)(p - el));
		w += p - el;
	}
	b->len = (size_t)(w - b->data);
	if (b->len != (size_t)(cihdr + cibody)) {
		buf_free(b);
		return false;
	}
	*out = b;
	*ncert = n;
	return true;
}

/* Parse der as a detached SignedData over id-data with one signer. */
static bool
crypto_cms_parse(const unsigned char *der, size_t derlen, CMS_ContentInfo **out,
    struct crypto_cms_result *res)
{
	const unsigned char *p = der;
	unsigned char *enc = NULL;
	CMS_ContentInfo *cms;
	ASN1_OCTET_STRING **content;
	bool same;
	int len;

	*out = NULL;
	if (derlen == 0 || derlen > CRYPTO_CMS_MAX) {
		snprintf(res->reason, sizeof(res->reason),
		    "seal must be 1 to %d bytes", CRYPTO_CMS_MAX);
		return false;
	}
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)derlen);
	if (cms == NULL) {
		crypto_ossl_reason(res, "seal is not DER CMS");
		return false;
	}
	*out = cms;
	if (p != der + derlen)
		return crypto_fail(res, "seal has trailing data");
	/* DER, not BER: encoded again, it is the same octets. */
	len = i2d_CMS_ContentInfo(cms, &enc);
	same =
	    len > 0 && (size_t)len == derlen && memcmp(enc, der, derlen) == 0;
	OPENSSL_free(enc);
	if (!same)
		return crypto_fail(res, "seal is BER, not DER");
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed)
		return crypto_fail(res, "seal is not a SignedData");
	if (OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_pkcs7_data)
		return crypto_fail(res, "seal content type is not id-data");
	content = CMS_get0_content(cms);
	if (content == NULL || *content != NULL)
		return crypto_fail(res, "seal is not detached");
	if (sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) != 1)
		return crypto_fail(res, "seal must have exactly one signer");
	return crypto_cms_outer_check(der, derlen,
	    sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0), res);
}

/* The signer's certificate among certs, or NULL. */
static X509 *
crypto_signer_find(CMS_SignerInfo *si, STACK_OF(X509) * certs)
{
	int i;

	for (i = 0; i < sk_X509_num(certs); i++)
		if (CMS_SignerInfo_cert_cmp(si, sk_X509_value(certs, i)) == 0)
			return sk_X509_value(certs, i);
	return NULL;
}

#define CRYPTO_CMS_CERTS_MAX 16

static void crypto_ts_of(CMS_ContentInfo *cms, X509 *root,
    struct crypto_cert_cache *cache, struct crypto_ts_result *ts);

/*
 * The ncert certificates cut out of a SignedData (crypto_cms_strip()),
 * from cache, into *certs (given).  *bad: 0, or the 1-based index of the
 * first one that is not DER X.509 (then *certs is NULL).
 */
static enum cs_rc
crypto_certs_get(struct crypto_cert_cache *cache, const unsigned char **cert,
    const size_t *certlen, int ncert, STACK_OF(X509) * *certs, int *bad,
    struct cs_err *err)
{
	X509 *x;
	enum cs_rc rc = CS_OK;
	int i;

	*bad = 0;
	*certs = sk_X509_new_null();
	if (*certs == NULL)
		return cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
	for (i = 0; i < ncert && rc == CS_OK; i++) {
		rc = crypto_cert_cache_get(cache, cert[i], certlen[i], &x, err);
		if (rc == CS_ERR_INVALID) {
			cs_err_clear(err);
			*bad = i + 1;
			rc = CS_OK;
			break;
		}
		if (rc == CS_OK && sk_X509_push(*certs, x) <= 0) {
			X509_free(x);
			rc = cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
		}
	}
	if (rc != CS_OK || *bad != 0) {
		sk_X509_pop_free(*certs, X509_free);
		*certs = NULL;
	}
	return rc;
}

/*
 * Parse der (through the cache's certificates when it can be split) into
 * *cms and *certs (given: the seal's certificates).
 */
static enum cs_rc
crypto_cms_load(const unsigned char *der, size_t derlen,
    struct crypto_cert_cache *cache, CMS_ContentInfo **cms,
    STACK_OF(X509) * *certs, struct crypto_cms_result *res, struct cs_err *err)
{
	const unsigned char *cert[CRYPTO_CMS_CERTS_MAX];
	size_t certlen[CRYPTO_CMS_CERTS_MAX];
	struct buf *stripped = NULL;
	int ncert = 0, bad = 0;
	enum cs_rc rc;

	*certs = NULL;
	if (cache == NULL || derlen == 0 || derlen > CRYPTO_CMS_MAX ||
	    !crypto_cms_strip(der, derlen, &stripped, cert, certlen,
	        CRYPTO_CMS_CERTS_MAX, &ncert)) {
		res->parsed = crypto_cms_parse(der, derlen, cms, res);
		if (res->parsed)
			*certs = CMS_get1_certs(*cms);
		return CS_OK;
	}
	res->parsed = crypto_cms_parse(stripped->data, stripped->len, cms, res);
	/* The outer checks walk the seal as it came. */
	if (res->parsed)
		res->parsed = crypto_cms_outer_check(der, derlen,
		    sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(*cms), 0),
		    res);
	buf_free(stripped);
	if (!res->parsed)
		return CS_OK;
	rc = crypto_certs_get(cache, cert, certlen, ncert, certs, &bad, err);
	if (rc == CS_OK && bad != 0)
		res->parsed = crypto_fail(
		    res, "seal certificate %d is not DER X.509", bad);
	return rc;
}

enum cs_rc
crypto_cms_verify(const unsigned char *doc, size_t len,
    const unsigned char *der, size_t derlen, X509 *root,
    struct crypto_cms_result *res, struct cs_err *err)
{
	return crypto_cms_verify_cached(
	    doc, len, der, derlen, root, NULL, res, err);
}

enum cs_rc
crypto_cms_verify_cached(const unsigned char *doc, size_t len,
    const unsigned char *der, size_t derlen, X509 *root,
    struct crypto_cert_cache *cache, struct crypto_cms_result *res,
    struct cs_err *err)
{
	struct crypto_ts_result ts;
	CMS_ContentInfo *cms = NULL;
	STACK_OF(X509) *certs = NULL, *chain = NULL;
	CMS_SignerInfo *si;
	X509 *signer;
	enum cs_rc rc = CS_OK;
	int i;

	if (res == NULL)
		return cs_err_set(err, CS_ERR_INVALID, "no result to fill");
	memset(res, 0, sizeof(*res));
	if (root == NULL || (doc == NULL && len > 0) ||
	    (der == NULL && derlen > 0) || len > INT_MAX)
		return cs_err_set(err, CS_ERR_INVALID,
		    "verify needs a document of at most %d bytes, a seal and "
		    "a root",
		    INT_MAX);
	rc = crypto_cms_load(der, derlen, cache, &cms, &certs, res, err);
	if (rc != CS_OK || !res->parsed)
		goto out;
	si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
	signer = crypto_signer_find(si, certs);
	if (signer == NULL) {
		crypto_fail(res, "signer certificate is not in the seal");
		goto timestamp;
	}
	if (X509_up_ref(signer) != 1) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "cannot keep the signer");
		goto out;
	}
	res->signer = signer;
	/* The signer first, then the other certificates of the seal. */
	chain = sk_X509_new_null();
	if (chain == NULL || sk_X509_push(chain, signer) <= 0) {
		rc = cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < sk_X509_num(certs); i++)
		if (sk_X509_value(certs, i) != signer &&
		    sk_X509_push(chain, sk_X509_value(certs, i)) <= 0) {
			rc = cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
			goto out;
		}

	/* The signature over the signed attributes, and their digest. */
	res->signature_ok = crypto_sig_verify(cms, certs, doc, len);
	if (!res->signature_ok)
		crypto_ossl_reason(res, "signature does not verify");
	else
		res->signature_ok = crypto_attrs_check(si, signer, chain, res);
	if (!res->signature_ok) {
		/* Attributes of a bad signature are not the signer's word. */
		res->signing_time = 0;
		res->has_image_hash = false;
		memset(res->image_sha256, 0, sizeof(res->image_sha256));
	}

	/* The signer certificate alone, to root, at the current time. */
	rc = crypto_cert_cache_chain(cache, signer, root, certs,
	    X509_PURPOSE_ANY, &res->chain_ok,
	    res->reason[0] == '\0' ? res->reason : NULL, sizeof(res->reason),
	    err);
	if (rc != CS_OK)
		goto out;
	if (res->chain_ok && !crypto_ku_signs(signer))
		res->chain_ok = crypto_fail(
		    res, "signer certificate key usage does not allow signing");
timestamp:
	/* As crypto_cms_timestamp() says, whatever the seal's own checks. */
	crypto_ts_of(cms, root, cache, &ts);
	res->ts_present = ts.present;
	res->ts_ok = ts.ok;
	res->ts_time = ts.time;
	memcpy(res->ts_reason, ts.reason, sizeof(res->ts_reason));
out:
	crypto_ossl_drain();
	sk_X509_free(chain);
	sk_X509_pop_free(certs, X509_free);
	CMS_ContentInfo_free(cms);
	if (rc != CS_OK)
		crypto_cms_result_release(res);
	return rc;
}

void
crypto_cms_result_release(struct crypto_cms_result *res)
{
	if (res == NULL)
		return;
	X509_free(res->signer);
	memset(res, 0, sizeof(*res));
}

/* --- timestamps (CAdES-T) ------------------------------------------------- */

/* Set res->reason (the first failure only) and return false. */
static bool crypto_ts_fail(struct crypto_ts_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static bool
crypto_ts_fail(struct crypto_ts_result *res, const char *fmt, ...)
{
	va_list ap;

	if (res->reason[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
		va_end(ap);
	}
	crypto_ossl_drain();
	return false;
}

/* genTime of a verified token, in Unix seconds. */
static bool
crypto_ts_time(const TS_TST_INFO *info, int64_t *out)
{
	const ASN1_GENERALIZEDTIME *gt = TS_TST_INFO_get_time(info);
	ASN1_TIME *epoch = NULL;
	int days = 0, secs = 0;
	bool ok = false;

	epoch = ASN1_TIME_set(NULL, 0);
	if (gt != NULL && epoch != NULL &&
	    ASN1_TIME_diff(&days, &secs, epoch, gt) == 1) {
		*out = (int64_t)days * 86400 + secs;
		ok = true;
	}
	ASN1_TIME_free(epoch);
	return ok;
}

/*
 * Parse the token (the DER of a ContentInfo) into *cms and *certs (both
 * given; *cms NULL when it does not parse).  With cache, the way seals
 * are (crypto_cms_load()): the certificates cut out and taken from the
 * cache, the rest parsed; a token that cannot be split so, or with a
 * certificate that is not DER, is parsed whole as without the cache, so
 * both ways give the same answer.
 */
static enum cs_rc
crypto_ts_load(const unsigned char *der, size_t len,
    struct crypto_cert_cache *cache, CMS_ContentInfo **cms,
    STACK_OF(X509) * *certs, struct cs_err *err)
{
	const unsigned char *cert[CRYPTO_CMS_CERTS_MAX], *p;
	size_t certlen[CRYPTO_CMS_CERTS_MAX];
	struct buf *stripped = NULL;
	int ncert = 0, bad = 0;
	enum cs_rc rc = CS_OK;

	*cms = NULL;
	*certs = NULL;
	if (cache != NULL &&
	    crypto_cms_strip(der, len, &stripped, cert, certlen,
	        CRYPTO_CMS_CERTS_MAX, &ncert)) {
		p = stripped->data;
		*cms = d2i_CMS_ContentInfo(NULL, &p, (long)stripped->len);
		if (*cms != NULL && p == stripped->data + stripped->len)
			rc = crypto_certs_get(
			    cache, cert, certlen, ncert, certs, &bad, err);
		if (rc != CS_OK || *certs != NULL)
			goto out;
		CMS_ContentInfo_free(*cms);
		*cms = NULL;
		crypto_ossl_drain();
	}
	p = der;
	*cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	if (*cms != NULL && p != der + len) {
		CMS_ContentInfo_free(*cms);
		*cms = NULL;
	}
	if (*cms != NULL)
		*certs = CMS_get1_certs(*cms);
out:
	buf_free(stripped);
	return rc;
}

/*
 * The path X509_verify_cert() builds from the TSA certificate to root, as
 * TS_RESP_verify_signature() has it for the ESS check, or NULL.
 */
static STACK_OF(X509) *
    crypto_ts_path(X509 *tsa, X509 *root, STACK_OF(X509) * certs)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *path = NULL;

	if (store != NULL && ctx != NULL &&
	    X509_STORE_add_cert(store, root) == 1 &&
	    X509_STORE_CTX_init(ctx, store, tsa, certs) == 1 &&
	    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_TIMESTAMP_SIGN) == 1) {
		X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT);
		if (X509_verify_cert(ctx) == 1)
			path = X509_STORE_CTX_get1_chain(ctx);
	}
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return path;
}

/*
 * RFC 3161 2.4.1 and RFC 5816: the token's signing-certificate(-v2), which
 * must be there, names the TSA certificate first and the others it names
 * are on its path to root.  The TSA certificate alone answers it unless
 * the attribute names more; then the path is built again.
 */
static bool
crypto_ts_ess(CMS_SignerInfo *si, X509 *tsa, X509 *root, STACK_OF(X509) * certs,
    struct crypto_ts_result *res)
{
	struct crypto_cms_result r, again;
	STACK_OF(X509) *chain = sk_X509_new_null();
	bool ok;

	memset(&r, 0, sizeof(r));
	if (chain == NULL || sk_X509_push(chain, tsa) <= 0) {
		sk_X509_free(chain);
		return crypto_ts_fail(res, "out of memory");
	}
	ok = crypto_ess_check(si, chain, true, &r);
	sk_X509_free(chain);
	if (!ok) {
		crypto_ossl_drain();
		chain = crypto_ts_path(tsa, root, certs);
		memset(&again, 0, sizeof(again));
		ok = chain != NULL && crypto_ess_check(si, chain, true, &again);
		sk_X509_pop_free(chain, X509_free);
		if (again.reason[0] != '\0')
			r = again;
	}
	if (!ok)
		crypto_ts_fail(res, "timestamp does not verify: %s", r.reason);
	return ok;
}

/*
 * The token's signature: one SignerInfo naming the TSA certificate by
 * issuer and serial number (RFC 3161 2.4.1), content-type id-ct-TSTInfo
 * (RFC 5652 11.1), its signing-certificate, the signature over the signed
 * attributes and their message-digest over the TSTInfo.  *tsa: the TSA
 * certificate (not owned) when it verifies.
 */
static bool
crypto_ts_sig(CMS_ContentInfo *cms, STACK_OF(X509) * certs, X509 *root,
    struct crypto_cert_cache *cache, X509 **tsa, struct crypto_ts_result *res)
{
	ASN1_OCTET_STRING *keyid = NULL;
	STACK_OF(X509) *one = NULL;
	CMS_SignerInfo *si;
	const ASN1_TYPE *t;
	struct cs_err err;
	char why[128];
	bool ok = false;
	X509 *x;
	int r;

	*tsa = NULL;
	if (sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) != 1)
		return crypto_ts_fail(res,
		    "timestamp does not verify: token must have exactly "
		    "one signer");
	si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
	if (CMS_SignerInfo_get0_signer_id(si, &keyid, NULL, NULL) != 1 ||
	    keyid != NULL)
		return crypto_ts_fail(res,
		    "timestamp does not verify: signer is not named by "
		    "issuer and serial number");
	x = crypto_signer_find(si, certs);
	if (x == NULL)
		return crypto_ts_fail(res,
		    "timestamp does not verify: token does not carry the "
		    "TSA certificate");
	/* RFC 3161 2.3: a critical extendedKeyUsage of timeStamping only. */
	cs_err_clear(&err);
	if (crypto_cert_cache_chain(cache, x, root, certs,
	        X509_PURPOSE_TIMESTAMP_SIGN, &ok, why, sizeof(why),
	        &err) != CS_OK)
		return crypto_ts_fail(
		    res, "timestamp chain cannot be verified: %s", err.msg);
	if (!ok)
		return crypto_ts_fail(res,
		    "timestamp does not verify: TSA certificate chain: %s",
		    why);
	if (!crypto_ts_ess(si, x, root, certs, res))
		return false;
	if (crypto_attr_one(si, OBJ_nid2obj(NID_pkcs9_contentType),
	        V_ASN1_OBJECT, &t) != 1 ||
	    OBJ_obj2nid(t->value.object) != NID_id_smime_ct_TSTInfo)
		return crypto_ts_fail(res,
		    "timestamp does not verify: content-type attribute "
		    "is not one id-ct-TSTInfo");
	one = sk_X509_new_null();
	if (one == NULL || sk_X509_push(one, x) <= 0) {
		sk_X509_free(one);
		return crypto_ts_fail(res, "out of memory");
	}
	r = CMS_verify(cms, one, NULL, NULL, NULL,
	    CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY | CMS_NOINTERN);
	sk_X509_free(one);
	if (r != 1) {
		const char *e = ERR_reason_error_string(ERR_peek_error());

		return crypto_ts_fail(res,
		    "timestamp does not verify: bad signature: %s",
		    e != NULL ? e : "unknown error");
	}
	*tsa = x;
	return true;
}

/*
 * RFC 3161 2.4.2: TSTInfo version 1 and a messageImprint (parameters
 * absent or NULL) that is the digest of sig, the seal's signature value.
 */
static bool
crypto_ts_imprint(TS_TST_INFO *info, const ASN1_OCTET_STRING *sig,
    struct crypto_ts_result *res)
{
	TS_MSG_IMPRINT *mi = TS_TST_INFO_get_msg_imprint(info);
	const X509_ALGOR *alg = TS_MSG_IMPRINT_get_algo(mi);
	const ASN1_OCTET_STRING *h = TS_MSG_IMPRINT_get_msg(mi);
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	const ASN1_OBJECT *obj;
	const EVP_MD *md;
	int ptype;

	if (TS_TST_INFO_get_version(info) != 1)
		return crypto_ts_fail(
		    res, "timestamp does not verify: TSTInfo version is not 1");
	X509_ALGOR_get0(&obj, &ptype, NULL, alg);
	md = EVP_get_digestbyobj(obj);
	if (md == NULL)
		return crypto_ts_fail(res,
		    "timestamp does not verify: imprint hash algorithm "
		    "is not known");
	if ((ptype != V_ASN1_UNDEF && ptype != V_ASN1_NULL) ||
	    EVP_Digest(ASN1_STRING_get0_data(sig),
	        (size_t)ASN1_STRING_length(sig), d, &dlen, md, NULL) != 1 ||
	    (size_t)ASN1_STRING_length(h) != dlen ||
	    memcmp(ASN1_STRING_get0_data(h), d, dlen) != 0)
		return crypto_ts_fail(res,
		    "timestamp does not verify: imprint is not the "
		    "digest of the seal signature");
	return true;
}

/*
 * Verify the token (DER, the attribute value) over sig (the signature
 * value) against root: what TS_RESP_verify_token() checks with
 * TS_VFY_SIGNATURE | TS_VFY_VERSION | TS_VFY_DATA, done the way a seal is
 * verified so that a known TSA certificate is neither parsed nor its chain
 * verified again (cache; NULL: every time).
 */
static bool
crypto_ts_verify(const unsigned char *der, size_t len,
    const ASN1_OCTET_STRING *sig, X509 *root, struct crypto_cert_cache *cache,
    struct crypto_ts_result *res)
{
	CMS_ContentInfo *cms = NULL;
	STACK_OF(X509) *certs = NULL;
	ASN1_OCTET_STRING **content;
	TS_TST_INFO *info = NULL;
	const unsigned char *p;
	struct cs_err err;
	X509 *tsa;
	bool ok = false;

	cs_err_clear(&err);
	if (crypto_ts_load(der, len, cache, &cms, &certs, &err) != CS_OK) {
		crypto_ts_fail(res, "timestamp cannot be checked: %s", err.msg);
		goto out;
	}
	if (cms == NULL) {
		crypto_ts_fail(res, "timestamp token is not DER CMS");
		goto out;
	}
	/* RFC 3161 2.4.2: SignedData with an encapsulated TSTInfo. */
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed ||
	    OBJ_obj2nid(CMS_get0_eContentType(cms)) !=
	        NID_id_smime_ct_TSTInfo) {
		crypto_ts_fail(res,
		    "timestamp does not verify: token is not a "
		    "SignedData of a TSTInfo");
		goto out;
	}
	content = CMS_get0_content(cms);
	if (content != NULL && *content != NULL) {
		p = ASN1_STRING_get0_data(*content);
		info = d2i_TS_TST_INFO(NULL, &p, ASN1_STRING_length(*content));
	}
	if (info == NULL) {
		crypto_ts_fail(
		    res, "timestamp does not verify: token has no TSTInfo");
		goto out;
	}
	if (!crypto_ts_sig(cms, certs, root, cache, &tsa, res) ||
	    !crypto_ts_imprint(info, sig, res))
		goto out;
	if (!crypto_ts_time(info, &res->time)) {
		crypto_ts_fail(res, "timestamp has no readable time");
		goto out;
	}
	ok = true;
out:
	TS_TST_INFO_free(info);
	sk_X509_pop_free(certs, X509_free);
	CMS_ContentInfo_free(cms);
	crypto_ossl_drain();
	return ok;
}

/* The timestamp of the one signer of a parsed seal, into ts. */
static void
crypto_ts_of(CMS_ContentInfo *cms, X509 *root, struct crypto_cert_cache *cache,
    struct crypto_ts_result *ts)
{
	CMS_SignerInfo *si;
	X509_ATTRIBUTE *a;
	ASN1_TYPE *t;
	int i;

	memset(ts, 0, sizeof(*ts));
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed ||
	    sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) != 1)
		return;
	si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
	i = CMS_unsigned_get_attr_by_NID(
	    si, NID_id_smime_aa_timeStampToken, -1);
	if (i < 0)
		return;
	ts->present = true;
	if (CMS_unsigned_get_attr_by_NID(
	        si, NID_id_smime_aa_timeStampToken, i) >= 0) {
		crypto_ts_fail(ts, "more than one timestamp attribute");
		return;
	}
	a = CMS_unsigned_get_attr(si, i);
	t = a != NULL && X509_ATTRIBUTE_count(a) == 1
	    ? X509_ATTRIBUTE_get0_type(a, 0)
	    : NULL;
	if (t == NULL || ASN1_TYPE_get(t) != V_ASN1_SEQUENCE) {
		crypto_ts_fail(ts, "timestamp attribute is malformed");
		return;
	}
	ts->ok = crypto_ts_verify(ASN1_STRING_get0_data(t->value.sequence),
	    (size_t)ASN1_STRING_length(t->value.sequence),
	    CMS_SignerInfo_get0_signature(si), root, cache, ts);
	if (!ts->ok)
		ts->time = 0;
	crypto_ossl_drain();
}

enum cs_rc
crypto_cms_timestamp(const unsigned char *der, size_t derlen, X509 *root,
    struct crypto_ts_result *res, struct cs_err *err)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = NULL;

	if (res == NULL || root == NULL)
		return cs_err_set(
		    err, CS_ERR_INVALID, "timestamp check needs a root");
	memset(res, 0, sizeof(*res));
	if (der == NULL || derlen == 0 || derlen > CRYPTO_CMS_MAX)
		return CS_OK;
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)derlen);
	if (cms != NULL)
		crypto_ts_of(cms, root, NULL, res);
	crypto_ossl_drain();
	CMS_ContentInfo_free(cms);
	return CS_OK;
}
