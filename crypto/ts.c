/*
 * ts.c: RFC 3161 timestamps (crypto.h, docs/timestamps.md).  A request is
 * checked here, strictly, before OpenSSL's TS_RESP_CTX sees it: DER only,
 * version 1, SHA-256/384/512 with an imprint of the hash's length, our
 * policy or none, no extensions.  Each fault has its PKIFailureInfo bit,
 * so a client learns exactly what was wrong.  A granted token is made
 * either by TS_RESP_CTX (TSTInfo, ESS signing-certificate-v2, signature
 * with the token key it is handed) or, much cheaper, from a template of
 * one such token (crypto_ts_tmpl_new(), at the end of this file).
 *
 * The same path timestamps licence seals (CAdES-T): the seal's signature
 * value is hashed into a request, and the token of the answer goes into
 * the SignerInfo's unsigned attributes.  Unsigned attributes are outside
 * the signature, so the seal is spliced at the DER level: the signed bytes
 * are kept exactly and only the lengths around them change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/ts.h>
#include <openssl/x509.h>

#include "certsvc/err.h"
#include "certsvc/mem.h"
#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

/* 2.25 + a UUID (6a659446-308a-481b-a08d-2f6d9ec8d906) + .1: policy 1. */
const char CRYPTO_TS_POLICY[] =
    "2.25.141425596893528269318560698155393407238.1";

/* Nonces longer than this are not echoed but refused (badDataFormat). */
#define TS_NONCE_MAX 64
#define TS_ACCURACY_S 1

/* PKIStatus values (RFC 3161 2.4.2). */
#define TS_GRANTED 0
#define TS_REJECTION 2

/* DER of id-aa-signatureTimeStampToken, 1.2.840.113549.1.9.16.2.14. */
static const unsigned char ts_oid_sig_ts[] = {0x06, 0x0b, 0x2a, 0x86, 0x48,
    0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x02, 0x0e};

static void
ts_fail(struct crypto_ts_req *r, enum crypto_ts_failure f, const char *why)
{
	if (r->fail != CRYPTO_TS_OK)
		return;
	r->fail = f;
	cs_strlcpy(r->reason, why, sizeof(r->reason));
}

/* The digest of an accepted hash algorithm OID, or NULL. */
static const EVP_MD *
ts_md_of(const X509_ALGOR *alg)
{
	const ASN1_OBJECT *oid;
	const void *pval;
	int ptype;

	X509_ALGOR_get0(&oid, &ptype, &pval, alg);
	/* RFC 5754 3: parameters absent, or NULL from older clients. */
	if (ptype != V_ASN1_UNDEF && ptype != V_ASN1_NULL)
		return NULL;
	switch (OBJ_obj2nid(oid)) {
	case NID_sha256:
		return EVP_sha256();
	case NID_sha384:
		return EVP_sha384();
	case NID_sha512:
		return EVP_sha512();
	default:
		return NULL; /* SHA-1 included: docs/timestamps.md */
	}
}

/* The checks of a parsed request q whose DER is der. */
static void
ts_check_req(TS_REQ *q, struct crypto_ts_req *r)
{
	TS_MSG_IMPRINT *mi = TS_REQ_get_msg_imprint(q);
	const ASN1_OBJECT *pol = TS_REQ_get_policy_id(q);
	const ASN1_INTEGER *nonce = TS_REQ_get_nonce(q);
	ASN1_OBJECT *ours = NULL;
	ASN1_OCTET_STRING *h;

	if (TS_REQ_get_version(q) != 1) {
		ts_fail(r, CRYPTO_TS_BAD_REQUEST, "version is not 1");
		return;
	}
	r->md = ts_md_of(TS_MSG_IMPRINT_get_algo(mi));
	if (r->md == NULL) {
		ts_fail(r, CRYPTO_TS_BAD_ALG,
		    "hash algorithm is not SHA-256, SHA-384 or SHA-512");
		return;
	}
	h = TS_MSG_IMPRINT_get_msg(mi);
	if (ASN1_STRING_length(h) != EVP_MD_get_size(r->md)) {
		ts_fail(r, CRYPTO_TS_BAD_DATA_FORMAT,
		    "hashedMessage length does not match its algorithm");
		return;
	}
	if (pol != NULL) {
		ours = OBJ_txt2obj(CRYPTO_TS_POLICY, 1);
		if (ours == NULL || OBJ_cmp(pol, ours) != 0)
			ts_fail(r, CRYPTO_TS_UNACCEPTED_POLICY,
			    "reqPolicy is not this TSA's policy");
		ASN1_OBJECT_free(ours);
		if (r->fail != CRYPTO_TS_OK)
			return;
	}
	if (nonce != NULL && ASN1_STRING_length(nonce) > TS_NONCE_MAX) {
		ts_fail(r, CRYPTO_TS_BAD_DATA_FORMAT, "nonce is too long");
		return;
	}
	if (TS_REQ_get_ext_count(q) > 0) {
		ts_fail(r, CRYPTO_TS_UNACCEPTED_EXTENSION,
		    "request extensions are not supported");
		return;
	}
	r->cert_req = TS_REQ_get_cert_req(q) != 0;
	r->has_nonce = nonce != NULL;
}

/* Parse and check der; the request (given) when acceptable, else NULL. */
static TS_REQ *
ts_parse(const unsigned char *der, size_t len, struct crypto_ts_req *r)
{
	const unsigned char *p = der;
	unsigned char *re = NULL;
	TS_REQ *q = NULL;
	int n;

	memset(r, 0, sizeof(*r));
	r->fail = CRYPTO_TS_OK;
	if (der == NULL || len == 0 || len > CRYPTO_TS_REQ_MAX) {
		ts_fail(r, CRYPTO_TS_BAD_DATA_FORMAT,
		    "request is empty or too large");
		return NULL;
	}
	q = d2i_TS_REQ(NULL, &p, (long)len);
	if (q == NULL || p != der + len) {
		ts_fail(r, CRYPTO_TS_BAD_DATA_FORMAT,
		    "request is not one TimeStampReq");
		goto out;
	}
	/* DER: the parse re-encodes to exactly the bytes received. */
	n = i2d_TS_REQ(q, &re);
	if (n < 0 || (size_t)n != len || memcmp(re, der, len) != 0) {
		ts_fail(r, CRYPTO_TS_BAD_DATA_FORMAT, "request is not DER");
		goto out;
	}
	ts_check_req(q, r);
out:
	OPENSSL_free(re);
	crypto_ossl_drain();
	if (r->fail != CRYPTO_TS_OK) {
		r->md = NULL;
		TS_REQ_free(q);
		return NULL;
	}
	return q;
}

void
crypto_ts_check(const unsigned char *der, size_t len, struct crypto_ts_req *r)
{
	TS_REQ_free(ts_parse(der, len, r));
}

/*
 * One piece of DER for ts_cat(): n bytes at p (tag < 0), or the header of
 * a TLV of tag, class and form with content length n.
 */
struct ts_part {
	int tag, cls, cons;
	const void *p;
	size_t n;
};
#define TS_BYTES(ptr, len)                                                     \
	{                                                                      \
		-1, 0, 0, (ptr), (len)                                         \
	}
#define TS_HDR(tag, cls, len)                                                  \
	{                                                                      \
		(tag), (cls), 1, NULL, (len)                                   \
	}
#define TS_PRIM(tag, len)                                                      \
	{                                                                      \
		(tag), V_ASN1_UNIVERSAL, 0, NULL, (len)                        \
	}

/* The n parts one after the other, in a new buffer (NULL: no memory). */
static struct buf *
ts_cat(const struct ts_part *parts, size_t n)
{
	size_t i, total = 0;
	unsigned char *w;
	struct buf *b;

	for (i = 0; i < n; i++)
		total += parts[i].tag < 0
		    ? parts[i].n
		    : (size_t)ASN1_object_size(
		          parts[i].cons, (long)parts[i].n, parts[i].tag) -
		        parts[i].n;
	b = buf_new(total);
	if (b == NULL)
		return NULL;
	w = b->data;
	for (i = 0; i < n; i++) {
		if (parts[i].tag >= 0)
			ASN1_put_object(&w, parts[i].cons, (long)parts[i].n,
			    parts[i].tag, parts[i].cls);
		else if (parts[i].n > 0) {
			memcpy(w, parts[i].p, parts[i].n);
			w += parts[i].n;
		}
	}
	b->len = (size_t)(w - b->data);
	return b;
}

/* The length of a TLV with content length n. */
static size_t
ts_tlv_len(size_t n, int tag)
{
	return (size_t)ASN1_object_size(1, (long)n, tag);
}

enum cs_rc
crypto_ts_reject(enum crypto_ts_failure f, const char *text, struct buf **resp,
    struct cs_err *err)
{
	ASN1_BIT_STRING *bits = NULL;
	ASN1_UTF8STRING *s = NULL;
	unsigned char *bder = NULL, *sder = NULL;
	int blen, slen;
	size_t info, free_text;
	struct buf *b = NULL;
	enum cs_rc rc = CS_OK;

	*resp = NULL;
	if (f == CRYPTO_TS_OK)
		return cs_err_set(
		    err, CS_ERR_INVALID, "a rejection needs a failure");
	bits = ASN1_BIT_STRING_new();
	s = ASN1_UTF8STRING_new();
	if (bits == NULL || s == NULL ||
	    ASN1_BIT_STRING_set_bit(bits, (int)f, 1) != 1 ||
	    ASN1_STRING_set(s, text != NULL ? text : "rejected", -1) != 1 ||
	    (blen = i2d_ASN1_BIT_STRING(bits, &bder)) <= 0 ||
	    (slen = i2d_ASN1_UTF8STRING(s, &sder)) <= 0) {
		rc = cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	/*
	 * TimeStampResp { PKIStatusInfo { status 2, statusString
	 * SEQUENCE { UTF8String }, failInfo BIT STRING } }
	 */
	free_text = ts_tlv_len((size_t)slen, V_ASN1_SEQUENCE);
	info = 3 + free_text + (size_t)blen;
	{
		const struct ts_part parts[] = {
		    TS_HDR(V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL,
		        ts_tlv_len(info, V_ASN1_SEQUENCE)),
		    TS_HDR(V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, info),
		    TS_BYTES("\x02\x01\x02", 3),
		    TS_HDR(V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, (size_t)slen),
		    TS_BYTES(sder, (size_t)slen),
		    TS_BYTES(bder, (size_t)blen),
		};

		b = ts_cat(parts, sizeof(parts) / sizeof(parts[0]));
	}
	if (b == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	*resp = b;
	b = NULL;
out:
	buf_free(b);
	OPENSSL_free(bder);
	OPENSSL_free(sder);
	ASN1_BIT_STRING_free(bits);
	ASN1_UTF8STRING_free(s);
	return rc;
}

/*
 * TS_RESP_CTX serial callback: 126 random bits, positive, never 0, with a
 * first octet that is not 0 so that it is always 16 octets long, like
 * ts_serial_der's.
 */
static ASN1_INTEGER *
ts_serial(TS_RESP_CTX *ctx, void *data)
{
	unsigned char rnd[16];
	ASN1_INTEGER *serial = NULL;
	BIGNUM *bn = NULL;

	(void)data;
	if (RAND_bytes(rnd, sizeof(rnd)) == 1) {
		rnd[sizeof(rnd) - 1] |= 1; /* never 0 */
		rnd[0] |= 1;
		bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
	}
	if (bn != NULL)
		serial = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	if (serial == NULL) {
		TS_RESP_CTX_set_status_info(
		    ctx, TS_STATUS_REJECTION, "cannot make a serial number");
		TS_RESP_CTX_add_failure_info(
		    ctx, TS_INFO_ADD_INFO_NOT_AVAILABLE);
	}
	return serial;
}

/* A TS_RESP_CTX for s with our policy and the accepted hashes. */
static TS_RESP_CTX *
ts_ctx_new(const struct crypto_ts_signer *s)
{
	TS_RESP_CTX *ctx = TS_RESP_CTX_new();
	ASN1_OBJECT *pol = OBJ_txt2obj(CRYPTO_TS_POLICY, 1);
	bool ok;

	ok = ctx != NULL && pol != NULL &&
	    TS_RESP_CTX_set_signer_cert(ctx, s->cert) == 1 &&
	    TS_RESP_CTX_set_signer_key(ctx, s->key) == 1 &&
	    TS_RESP_CTX_set_signer_digest(ctx, crypto_md_for_key(s->key)) ==
	        1 &&
	    TS_RESP_CTX_set_ess_cert_id_digest(ctx, EVP_sha256()) == 1 &&
	    TS_RESP_CTX_set_def_policy(ctx, pol) == 1 &&
	    TS_RESP_CTX_add_md(ctx, EVP_sha256()) == 1 &&
	    TS_RESP_CTX_add_md(ctx, EVP_sha384()) == 1 &&
	    TS_RESP_CTX_add_md(ctx, EVP_sha512()) == 1 &&
	    TS_RESP_CTX_set_accuracy(ctx, TS_ACCURACY_S, 0, 0) == 1 &&
	    TS_RESP_CTX_set_clock_precision_digits(ctx, 0) == 1 &&
	    (s->chain == NULL || TS_RESP_CTX_set_certs(ctx, s->chain) == 1);
	ASN1_OBJECT_free(pol);
	if (!ok) {
		TS_RESP_CTX_free(ctx);
		return NULL;
	}
	TS_RESP_CTX_set_serial_cb(ctx, ts_serial, NULL);
	return ctx;
}

/* Fill out as a systemFailure with why and its code rc. */
static void
ts_system_failure(struct crypto_ts_req *r, enum cs_rc rc, const char *why)
{
	r->fail = CRYPTO_TS_OK;
	ts_fail(r, CRYPTO_TS_SYSTEM_FAILURE, why);
	r->sys_rc = rc;
}

/* Sign q (DER der) with OpenSSL's TS_RESP_CTX: a granted reply. */
static enum cs_rc
ts_sign_ossl(const struct crypto_ts_signer *s, const unsigned char *der,
    size_t len, struct buf **resp, struct cs_err *err)
{
	TS_RESP_CTX *ctx = NULL;
	TS_RESP *tr = NULL;
	BIO *in = NULL;
	unsigned char *rd = NULL;
	enum cs_rc rc = CS_OK;
	int n;

	ctx = ts_ctx_new(s);
	in = BIO_new_mem_buf(der, (int)len);
	if (ctx == NULL || in == NULL) {
		rc = cs_err_ossl(
		    err, CS_ERR_CRYPTO, "cannot set up the timestamp signer");
		goto out;
	}
	tr = TS_RESP_create_response(ctx, in);
	/* The request was checked: only the signer can fail now. */
	if (tr == NULL ||
	    ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(
	        TS_RESP_get_status_info(tr))) != TS_GRANTED) {
		rc = cs_err_ossl(err, crypto_ossl_rc(CS_ERR_CRYPTO),
		    "timestamp signature failed");
		goto out;
	}
	n = i2d_TS_RESP(tr, &rd);
	if (n <= 0 || (*resp = buf_from(rd, (size_t)n)) == NULL)
		rc = cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
out:
	OPENSSL_free(rd);
	BIO_free(in);
	TS_RESP_free(tr);
	TS_RESP_CTX_free(ctx);
	return rc;
}

static enum cs_rc ts_sign_tmpl(const struct crypto_ts_tmpl *t, TS_REQ *q,
    struct buf **resp, struct cs_err *err);

/* True when the signing time can be a UTCTime (1950 to 2049). */
static bool
ts_utctime_now(void)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	return tm.tm_year + 1900 >= 1950 && tm.tm_year + 1900 < 2050;
}

enum cs_rc
crypto_ts_respond(const struct crypto_ts_signer *s, const unsigned char *der,
    size_t len, struct buf **resp, struct crypto_ts_req *out,
    struct cs_err *err)
{
	struct crypto_ts_req r;
	struct cs_err serr;
	TS_REQ *q = NULL;
	enum cs_rc rc = CS_OK;

	*resp = NULL;
	q = ts_parse(der, len, &r);
	if (q != NULL && (s == NULL || s->key == NULL || s->cert == NULL))
		ts_system_failure(&r, CS_ERR_TOKEN, "the TSA key is not ready");
	if (r.fail != CRYPTO_TS_OK || s == NULL)
		goto reject;
	cs_err_clear(&serr);
	/* cppcheck-suppress ctunullpointer ; s == NULL went to reject */
	rc = s->tmpl != NULL && ts_utctime_now()
	    ? ts_sign_tmpl(s->tmpl, q, resp, &serr)
	    : ts_sign_ossl(s, der, len, resp, &serr);
	if (rc == CS_OK)
		goto out;
	ts_system_failure(&r, rc,
	    rc == CS_ERR_TOKEN ? "the token is not available"
	                       : "the timestamp cannot be signed");
reject:
	rc = crypto_ts_reject(r.fail, r.reason, resp, err);
out:
	crypto_ossl_drain();
	if (out != NULL)
		*out = r;
	TS_REQ_free(q);
	return rc;
}

enum cs_rc
crypto_ts_request(const EVP_MD *md, const unsigned char *digest, size_t len,
    bool cert_req, struct buf **der, struct cs_err *err)
{
	TS_REQ *q = TS_REQ_new();
	TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
	X509_ALGOR *alg = X509_ALGOR_new();
	unsigned char *d = NULL;
	enum cs_rc rc = CS_OK;
	int n = 0;

	*der = NULL;
	if (md == NULL || len != (size_t)EVP_MD_get_size(md))
		rc = cs_err_set(
		    err, CS_ERR_INVALID, "digest does not match its algorithm");
	else if (q == NULL || mi == NULL || alg == NULL ||
	    X509_ALGOR_set0(alg, OBJ_nid2obj(EVP_MD_get_type(md)), V_ASN1_UNDEF,
	        NULL) != 1 ||
	    TS_MSG_IMPRINT_set_algo(mi, alg) != 1 ||
	    TS_MSG_IMPRINT_set_msg(mi, (unsigned char *)digest, (int)len) !=
	        1 ||
	    TS_REQ_set_version(q, 1) != 1 ||
	    TS_REQ_set_msg_imprint(q, mi) != 1 ||
	    TS_REQ_set_cert_req(q, cert_req ? 1 : 0) != 1 ||
	    (n = i2d_TS_REQ(q, &d)) <= 0 ||
	    (*der = buf_from(d, (size_t)n)) == NULL)
		rc = cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
	OPENSSL_free(d);
	X509_ALGOR_free(alg);
	TS_MSG_IMPRINT_free(mi);
	TS_REQ_free(q);
	return rc;
}

/* --- CAdES-T: the timestamp in the seal's unsigned attributes ----------- */

/* The next TLV within *left at *p; its content in c/clen. DER lengths. */
static bool
ts_next(const unsigned char **p, long *left, int *tag, int *cls,
    const unsigned char **c, long *clen)
{
	const unsigned char *start = *p;
	int r;

	r = ASN1_get_object(p, clen, tag, cls, *left);
	if ((r & 0x80) != 0 || (r & 0x01) != 0)
		return false;
	*c = *p;
	*p += *clen;
	*left -= (long)(*p - start);
	return true;
}

/* Where a seal's parts are: all pointers into the seal's DER. */
struct ts_seal_parts {
	const unsigned char *oid; /* ContentInfo contentType TLV */
	size_t oidlen;
	const unsigned char *sd; /* SignedData content before signerInfos */
	size_t sdlen;
	const unsigned char *si; /* the one SignerInfo's content */
	size_t silen;
	const unsigned char *sig; /* its signature value (content) */
	size_t siglen;
	bool has_unsigned; /* [1] unsignedAttrs after the signature */
};

/*
 * ContentInfo { contentType, [0] { SignedData { ..., signerInfos SET {
 * SignerInfo } } } } with one SignerInfo, located in der.
 */
static bool
ts_seal_split(const unsigned char *der, size_t len, struct ts_seal_parts *s)
{
	const unsigned char *p = der, *c, *el;
	long left = (long)len, clen;
	int tag, cls;

	memset(s, 0, sizeof(*s));
	if (len == 0 || len > CRYPTO_CMS_MAX ||
	    !ts_next(&p, &left, &tag, &cls, &c, &clen) ||
	    tag != V_ASN1_SEQUENCE || left != 0)
		return false;
	p = c;
	left = clen;
	el = p;
	if (!ts_next(&p, &left, &tag, &cls, &c, &clen) || tag != V_ASN1_OBJECT)
		return false;
	s->oid = el;
	s->oidlen = (size_t)(p - el);
	if (!ts_next(&p, &left, &tag, &cls, &c, &clen) ||
	    cls != V_ASN1_CONTEXT_SPECIFIC || tag != 0 || left != 0)
		return false;
	p = c;
	left = clen;
	if (!ts_next(&p, &left, &tag, &cls, &c, &clen) ||
	    tag != V_ASN1_SEQUENCE || left != 0)
		return false;
	s->sd = p = c;
	left = clen;
	do {
		el = p;
		if (!ts_next(&p, &left, &tag, &cls, &c, &clen))
			return false;
	} while (left > 0);
	if (tag != V_ASN1_SET || cls != V_ASN1_UNIVERSAL)
		return false;
	s->sdlen = (size_t)(el - s->sd);
	p = c;
	left = clen;
	if (!ts_next(&p, &left, &tag, &cls, &c, &clen) ||
	    tag != V_ASN1_SEQUENCE || left != 0)
		return false;
	s->si = p = c;
	s->silen = (size_t)clen;
	left = clen;
	/* The first universal OCTET STRING is the signature (RFC 5652). */
	while (left > 0) {
		if (!ts_next(&p, &left, &tag, &cls, &c, &clen))
			return false;
		if (s->sig == NULL && cls == V_ASN1_UNIVERSAL &&
		    tag == V_ASN1_OCTET_STRING) {
			s->sig = c;
			s->siglen = (size_t)clen;
		} else if (s->sig != NULL) {
			if (cls != V_ASN1_CONTEXT_SPECIFIC || tag != 1 ||
			    left != 0)
				return false;
			s->has_unsigned = true;
		}
	}
	return s->sig != NULL && s->siglen > 0;
}

enum cs_rc
crypto_cms_signature_value(const unsigned char *der, size_t len,
    const unsigned char **sig, size_t *siglen, struct cs_err *err)
{
	struct ts_seal_parts s;

	*sig = NULL;
	*siglen = 0;
	if (!ts_seal_split(der, len, &s))
		return cs_err_set(err, CS_ERR_INVALID,
		    "not a DER SignedData with one signer");
	*sig = s.sig;
	*siglen = s.siglen;
	return CS_OK;
}

enum cs_rc
crypto_cms_add_timestamp(const unsigned char *der, size_t len,
    const unsigned char *token, size_t toklen, struct buf **out,
    struct cs_err *err)
{
	struct ts_seal_parts s;
	size_t attr, uattrs, si, sis, sd, ex, ci;
	struct buf *b = NULL;

	*out = NULL;
	if (!ts_seal_split(der, len, &s))
		return cs_err_set(err, CS_ERR_INVALID,
		    "not a DER SignedData with one signer");
	if (s.has_unsigned)
		return cs_err_set(err, CS_ERR_INVALID,
		    "the seal already has unsigned attributes");
	if (token == NULL || toklen == 0 || toklen > CRYPTO_CMS_MAX)
		return cs_err_set(err, CS_ERR_INVALID, "no timestamp token");
	/*
	 * unsignedAttrs [1] IMPLICIT SET OF Attribute { attrType
	 * id-aa-signatureTimeStampToken, attrValues SET { token } }: one
	 * attribute, so the SET OF is in DER order by itself.
	 */
	attr = sizeof(ts_oid_sig_ts) + ts_tlv_len(toklen, V_ASN1_SET);
	uattrs = ts_tlv_len(attr, V_ASN1_SEQUENCE);
	si = s.silen + ts_tlv_len(uattrs, 1);
	sis = ts_tlv_len(si, V_ASN1_SEQUENCE);
	sd = s.sdlen + ts_tlv_len(sis, V_ASN1_SET);
	ex = ts_tlv_len(sd, V_ASN1_SEQUENCE);
	ci = s.oidlen + ts_tlv_len(ex, 0);
	{
		const struct ts_part parts[] = {
		    TS_HDR(V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, ci),
		    TS_BYTES(s.oid, s.oidlen),
		    TS_HDR(0, V_ASN1_CONTEXT_SPECIFIC, ex),
		    TS_HDR(V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, sd),
		    TS_BYTES(s.sd, s.sdlen),
		    TS_HDR(V_ASN1_SET, V_ASN1_UNIVERSAL, sis),
		    TS_HDR(V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, si),
		    TS_BYTES(s.si, s.silen),
		    TS_HDR(1, V_ASN1_CONTEXT_SPECIFIC, uattrs),
		    TS_HDR(V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, attr),
		    TS_BYTES(ts_oid_sig_ts, sizeof(ts_oid_sig_ts)),
		    TS_HDR(V_ASN1_SET, V_ASN1_UNIVERSAL, toklen),
		    TS_BYTES(token, toklen),
		};

		b = ts_cat(parts, sizeof(parts) / sizeof(parts[0]));
	}
	if (b == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	*out = b;
	return CS_OK;
}

/* --- the fast path: a token template ------------------------------------ */

/*
 * Why: TS_RESP_create_response() costs about twice the P-256 signature
 * around it (building a PKCS7, digesting the certificates for the ESS
 * attribute, encoding twice).  Everything of a token but the TSTInfo, the
 * signing time, the message digest and the signature is the same for one
 * key, so crypto_ts_tmpl_new() has TS_RESP_CTX make one token and keeps
 * its pieces; a timestamp is then a TSTInfo written here, its digest
 * patched into the signed attributes, one signature, and the pieces put
 * back together with fresh lengths, as crypto_seal_tmpl_seal() makes
 * seals.  tests/crypto/check_ts.c verifies both paths' tokens alike.
 */
struct crypto_ts_tmpl {
	EVP_PKEY *key;
	const EVP_MD *md;
	size_t mdlen;
	struct buf *policy;  /* TSTInfo policy OID TLV */
	struct buf *sd_head; /* SignedData version + digestAlgorithms TLVs */
	struct buf *ect;     /* eContentType OID TLV (id-ct-TSTInfo) */
	struct buf *certs;   /* [0] certificates TLV */
	struct buf *si_head; /* SignerInfo content before signedAttrs */
	struct buf *attrs;   /* signedAttrs content */
	size_t off_time;     /* signing-time UTCTime value in attrs */
	size_t off_digest;   /* message-digest value in attrs */
	struct buf *sigalg;  /* signatureAlgorithm TLV */
};

/* DER of id-signedData, pkcs9 signingTime and messageDigest. */
static const unsigned char ts_oid_signed[] = {
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02};
static const unsigned char ts_oid_time[] = {
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x05};
static const unsigned char ts_oid_digest[] = {
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04};
/* PKIStatusInfo { granted }, and accuracy { seconds 1 }. */
static const unsigned char ts_granted[] = {0x30, 0x03, 0x02, 0x01, 0x00};
static const unsigned char ts_accuracy[] = {
    0x30, 0x03, 0x02, 0x01, TS_ACCURACY_S};
#define TS_UTCTIME_LEN 13 /* YYMMDDHHMMSSZ */
#define TS_GENTIME_LEN 15 /* YYYYMMDDHHMMSSZ */

/*
 * TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken
 * ContentInfo OPTIONAL }, PKIStatusInfo ::= SEQUENCE { status INTEGER,
 * ... }.  Walked as DER rather than parsed: d2i_TS_RESP() would decode the
 * key of the TSA certificate inside the token (OpenSSL 3's decoders, a
 * fifth of an issuance's CPU) only to encode the token again.
 */
enum cs_rc
crypto_ts_token(const unsigned char *resp, size_t len, struct buf **token,
    struct cs_err *err)
{
	const unsigned char *p = resp, *c, *q, *st, *tok, *ci;
	long left = (long)len, clen, qleft, stlen, cleft, cilen;
	int tag, cls;

	*token = NULL;
	if (resp == NULL || len == 0 || len > CRYPTO_CMS_MAX ||
	    !ts_next(&p, &left, &tag, &cls, &c, &clen) ||
	    tag != V_ASN1_SEQUENCE || cls != V_ASN1_UNIVERSAL || left != 0)
		goto malformed;
	/* status: a SEQUENCE whose first member is INTEGER 0, granted */
	p = c;
	left = clen;
	if (!ts_next(&p, &left, &tag, &cls, &q, &qleft) ||
	    tag != V_ASN1_SEQUENCE || cls != V_ASN1_UNIVERSAL ||
	    !ts_next(&q, &qleft, &tag, &cls, &st, &stlen) ||
	    tag != V_ASN1_INTEGER || cls != V_ASN1_UNIVERSAL)
		goto malformed;
	if (stlen != 1 || st[0] != TS_GRANTED)
		return cs_err_set(err, CS_ERR_INVALID, "timestamp not granted");
	/* the token: the last member, a ContentInfo of id-signedData */
	tok = p;
	if (left == 0)
		return cs_err_set(err, CS_ERR_INVALID, "timestamp not granted");
	if (!ts_next(&p, &left, &tag, &cls, &ci, &cilen) ||
	    tag != V_ASN1_SEQUENCE || cls != V_ASN1_UNIVERSAL || left != 0 ||
	    (size_t)cilen < sizeof(ts_oid_signed) ||
	    memcmp(ci, ts_oid_signed, sizeof(ts_oid_signed)) != 0)
		goto malformed;
	cleft = cilen - (long)sizeof(ts_oid_signed);
	ci += sizeof(ts_oid_signed);
	if (!ts_next(&ci, &cleft, &tag, &cls, &q, &qleft) || tag != 0 ||
	    cls != V_ASN1_CONTEXT_SPECIFIC || cleft != 0)
		goto malformed;
	*token = buf_from(tok, (size_t)(p - tok));
	if (*token == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	return CS_OK;
malformed:
	crypto_ossl_drain(); /* ASN1_get_object's complaints */
	return cs_err_set(err, CS_ERR_INVALID, "not a DER TimeStampResp");
}

void
crypto_ts_tmpl_free(struct crypto_ts_tmpl *t)
{
	if (t == NULL)
		return;
	EVP_PKEY_free(t->key);
	buf_free(t->policy);
	buf_free(t->sd_head);
	buf_free(t->ect);
	buf_free(t->certs);
	buf_free(t->si_head);
	buf_free(t->attrs);
	buf_free(t->sigalg);
	free(t);
}

/*
 * The offsets in t->attrs of the signing-time and message-digest values:
 * each Attribute is SEQUENCE { OID, SET { one value } }.
 */
static bool
ts_tmpl_offsets(struct crypto_ts_tmpl *t)
{
	const unsigned char *p = t->attrs->data, *c, *a, *v, *oid;
	long left = (long)t->attrs->len, clen, alen, vlen;
	int tag, cls, found = 0;

	while (left > 0) {
		if (!ts_next(&p, &left, &tag, &cls, &c, &clen) ||
		    tag != V_ASN1_SEQUENCE)
			return false;
		a = oid = c;
		alen = clen;
		if (!ts_next(&a, &alen, &tag, &cls, &v, &vlen) ||
		    tag != V_ASN1_OBJECT ||
		    !ts_next(&a, &alen, &tag, &cls, &v, &vlen) ||
		    tag != V_ASN1_SET || alen != 0)
			return false;
		a = v;
		alen = vlen;
		if (!ts_next(&a, &alen, &tag, &cls, &v, &vlen) || alen != 0)
			return false;
		if (memcmp(oid, ts_oid_time, sizeof(ts_oid_time)) == 0) {
			if (tag != V_ASN1_UTCTIME || vlen != TS_UTCTIME_LEN)
				return false;
			t->off_time = (size_t)(v - t->attrs->data);
			found |= 1;
		} else if (memcmp(oid, ts_oid_digest, sizeof(ts_oid_digest)) ==
		    0) {
			if (tag != V_ASN1_OCTET_STRING ||
			    (size_t)vlen != t->mdlen)
				return false;
			t->off_digest = (size_t)(v - t->attrs->data);
			found |= 2;
		}
	}
	return found == 3;
}

/* Split the granted reply resp (made with certReq) into t's pieces. */
static bool
ts_tmpl_split(struct crypto_ts_tmpl *t, const struct buf *resp)
{
	const unsigned char *p = resp->data, *c, *el, *si, *q;
	long left = (long)resp->len, clen, qlen;
	int tag, cls;

	/* TimeStampResp { status, ContentInfo { signedData, [0] { SD */
	if (!ts_next(&p, &left, &tag, &cls, &c, &clen) ||
	    tag != V_ASN1_SEQUENCE)
		return false;
	p = c;
	left = clen;
	if (!ts_next(&p, &left, &tag, &cls, &c, &clen) ||
	    !ts_next(&p, &left, &tag, &cls, &c, &clen) ||
	    tag != V_ASN1_SEQUENCE || left != 0)
		return false;
	p = c;
	left = clen;
	el = p;
	if (!ts_next(&p, &left, &tag, &cls, &c, &clen) ||
	    (size_t)(p - el) != sizeof(ts_oid_signed) ||
	    memcmp(el, ts_oid_signed, sizeof(ts_oid_signed)) != 0 ||
	    !ts_next(&p, &left, &tag, &cls, &c, &clen) ||
	    cls != V_ASN1_CONTEXT_SPECIFIC || tag != 0 || left != 0)
		return false;
	p = c;
	left = clen;
	if (!ts_next(&p, &left, &tag, &cls, &c, &clen) ||
	    tag != V_ASN1_SEQUENCE || left != 0)
		return false;
	/* SignedData { version, digestAlgorithms, eci, [0] certs, SET } */
	p = el = c;
	left = clen;
	if (!ts_next(&p, &left, &tag, &cls, &c, &clen) ||
	    tag != V_ASN1_INTEGER ||
	    !ts_next(&p, &left, &tag, &cls, &c, &clen) || tag != V_ASN1_SET)
		return false;
	t->sd_head = buf_from(el, (size_t)(p - el));
	if (!ts_next(&p, &left, &tag, &cls, &c, &clen) ||
	    tag != V_ASN1_SEQUENCE)
		return false;
	q = el = c;
	qlen = clen;
	if (!ts_next(&q, &qlen, &tag, &cls, &c, &clen) || tag != V_ASN1_OBJECT)
		return false;
	t->ect = buf_from(el, (size_t)(q - el));
	el = p;
	if (!ts_next(&p, &left, &tag, &cls, &c, &clen) ||
	    cls != V_ASN1_CONTEXT_SPECIFIC || tag != 0)
		return false;
	t->certs = buf_from(el, (size_t)(p - el));
	if (!ts_next(&p, &left, &tag, &cls, &c, &clen) || tag != V_ASN1_SET ||
	    left != 0)
		return false;
	p = c;
	left = clen;
	if (!ts_next(&p, &left, &tag, &cls, &c, &clen) ||
	    tag != V_ASN1_SEQUENCE || left != 0)
		return false;
	/* SignerInfo { version, sid, digestAlg, [0] attrs, sigAlg, sig } */
	si = p = c;
	left = clen;
	do {
		el = p;
		if (!ts_next(&p, &left, &tag, &cls, &c, &clen))
			return false;
	} while (left > 0 && !(cls == V_ASN1_CONTEXT_SPECIFIC && tag == 0));
	if (cls != V_ASN1_CONTEXT_SPECIFIC || tag != 0)
		return false;
	t->si_head = buf_from(si, (size_t)(el - si));
	t->attrs = buf_from(c, (size_t)clen);
	el = p;
	if (!ts_next(&p, &left, &tag, &cls, &c, &clen) ||
	    tag != V_ASN1_SEQUENCE)
		return false;
	t->sigalg = buf_from(el, (size_t)(p - el));
	if (!ts_next(&p, &left, &tag, &cls, &c, &clen) ||
	    tag != V_ASN1_OCTET_STRING || left != 0)
		return false;
	return t->sd_head != NULL && t->ect != NULL && t->certs != NULL &&
	    t->si_head != NULL && t->attrs != NULL && t->sigalg != NULL &&
	    ts_tmpl_offsets(t);
}

enum cs_rc
crypto_ts_tmpl_new(const struct crypto_ts_signer *s,
    struct crypto_ts_tmpl **out, struct cs_err *err)
{
	static const unsigned char zero[32];
	struct crypto_ts_signer plain = *s;
	struct crypto_ts_tmpl *t;
	struct buf *q = NULL, *resp = NULL;
	ASN1_OBJECT *pol = NULL;
	unsigned char *d = NULL;
	enum cs_rc rc;
	int n;

	*out = NULL;
	if (!EVP_PKEY_is_a(s->key, "EC"))
		return cs_err_set(
		    err, CS_ERR_INVALID, "timestamp templates are for EC keys");
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	plain.tmpl = NULL;
	rc = crypto_ts_request(EVP_sha256(), zero, sizeof(zero), true, &q, err);
	if (rc == CS_OK)
		rc = ts_sign_ossl(&plain, q->data, q->len, &resp, err);
	if (rc != CS_OK)
		goto out;
	t->md = crypto_md_for_key(s->key);
	t->mdlen = (size_t)EVP_MD_get_size(t->md);
	pol = OBJ_txt2obj(CRYPTO_TS_POLICY, 1);
	n = pol != NULL ? i2d_ASN1_OBJECT(pol, &d) : -1;
	if (n > 0)
		t->policy = buf_from(d, (size_t)n);
	if (EVP_PKEY_up_ref(s->key) == 1)
		t->key = s->key;
	if (t->policy == NULL || t->key == NULL) {
		rc = cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (!ts_tmpl_split(t, resp)) {
		rc = cs_err_set(err, CS_ERR_CRYPTO,
		    "a timestamp of this signer does not have the expected "
		    "form");
		goto out;
	}
	*out = t;
	t = NULL;
out:
	OPENSSL_free(d);
	ASN1_OBJECT_free(pol);
	buf_free(resp);
	buf_free(q);
	crypto_ts_tmpl_free(t);
	return rc;
}

/* DER INTEGER of 128 random bits, positive and never 0, into out[19]. */
static size_t
ts_serial_der(unsigned char out[19])
{
	unsigned char rnd[16];
	size_t pad;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return 0;
	/*
	 * 126 random bits, never zero, and a first byte that is not zero, so
	 * that the minimal DER is always 16 octets (17 with the sign pad):
	 * nothing to strip.
	 */
	rnd[sizeof(rnd) - 1] |= 1;
	rnd[0] |= 1;
	/* A leading zero keeps it positive; DER allows one only then. */
	pad = (rnd[0] & 0x80) != 0 ? 1 : 0;
	out[0] = V_ASN1_INTEGER;
	out[1] = (unsigned char)(sizeof(rnd) + pad);
	out[2] = 0;
	memcpy(out + 2 + pad, rnd, sizeof(rnd));
	return 2 + (size_t)out[1];
}

static enum cs_rc
ts_sign_tmpl(const struct crypto_ts_tmpl *t, TS_REQ *q, struct buf **resp,
    struct cs_err *err)
{
	unsigned char ser[19], sig[256], *mi = NULL, *nonce = NULL, *w;
	unsigned char *attrs = NULL;
	char gen[64];
	size_t serlen, siglen = sizeof(sig), tst, ahdr, oct, eci, si, sd, ex;
	size_t ci, tok, total;
	int milen, nlen = 0;
	struct buf *tb = NULL, *b = NULL;
	EVP_MD_CTX *ctx = NULL;
	time_t now = time(NULL);
	struct tm tm;
	bool cert_req = TS_REQ_get_cert_req(q) != 0;
	enum cs_rc rc = CS_OK;

	gmtime_r(&now, &tm);
	if (snprintf(gen, sizeof(gen), "%04d%02d%02d%02d%02d%02dZ",
	        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	        tm.tm_min, tm.tm_sec) != TS_GENTIME_LEN)
		return cs_err_set(
		    err, CS_ERR_CRYPTO, "the time is out of range");
	milen = i2d_TS_MSG_IMPRINT(TS_REQ_get_msg_imprint(q), &mi);
	if (TS_REQ_get_nonce(q) != NULL)
		nlen = i2d_ASN1_INTEGER(TS_REQ_get_nonce(q), &nonce);
	serlen = ts_serial_der(ser);
	if (milen <= 0 || nlen < 0 || serlen == 0) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "cannot encode TSTInfo");
		goto out;
	}
	/* TSTInfo { 1, policy, imprint, serial, genTime, accuracy, nonce } */
	tst = 3 + t->policy->len + (size_t)milen + serlen + 2 + TS_GENTIME_LEN +
	    sizeof(ts_accuracy) + (size_t)nlen;
	{
		const struct ts_part parts[] = {
		    TS_HDR(V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, tst),
		    TS_BYTES("\x02\x01\x01", 3),
		    TS_BYTES(t->policy->data, t->policy->len),
		    TS_BYTES(mi, (size_t)milen),
		    TS_BYTES(ser, serlen),
		    TS_PRIM(V_ASN1_GENERALIZEDTIME, TS_GENTIME_LEN),
		    TS_BYTES(gen, TS_GENTIME_LEN),
		    TS_BYTES(ts_accuracy, sizeof(ts_accuracy)),
		    TS_BYTES(nonce, (size_t)nlen),
		};

		tb = ts_cat(parts, sizeof(parts) / sizeof(parts[0]));
	}
	if (tb == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* The signed attributes as signed: SET OF, not [0] IMPLICIT. */
	ahdr = ts_tlv_len(t->attrs->len, V_ASN1_SET) - t->attrs->len;
	attrs = malloc(ahdr + t->attrs->len);
	if (attrs == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	w = attrs;
	ASN1_put_object(
	    &w, 1, (long)t->attrs->len, V_ASN1_SET, V_ASN1_UNIVERSAL);
	memcpy(w, t->attrs->data, t->attrs->len);
	memcpy(w + t->off_time, gen + 2, TS_UTCTIME_LEN);
	ctx = EVP_MD_CTX_new();
	if (EVP_Digest(
	        tb->data, tb->len, w + t->off_digest, NULL, t->md, NULL) != 1 ||
	    ctx == NULL ||
	    EVP_DigestSignInit(ctx, NULL, t->md, NULL, t->key) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, attrs, ahdr + t->attrs->len) !=
	        1) {
		rc = cs_err_ossl(err, crypto_ossl_rc(CS_ERR_CRYPTO),
		    "timestamp signature failed");
		goto out;
	}
	/* Lengths from the inside out, then write from the outside in. */
	oct = ts_tlv_len(tb->len, V_ASN1_OCTET_STRING);
	eci = t->ect->len + ts_tlv_len(oct, 0);
	si = t->si_head->len + ts_tlv_len(t->attrs->len, 0) + t->sigalg->len +
	    ts_tlv_len(siglen, V_ASN1_OCTET_STRING);
	sd = t->sd_head->len + ts_tlv_len(eci, V_ASN1_SEQUENCE) +
	    (cert_req ? t->certs->len : 0) +
	    ts_tlv_len(ts_tlv_len(si, V_ASN1_SEQUENCE), V_ASN1_SET);
	ex = ts_tlv_len(sd, V_ASN1_SEQUENCE);
	ci = sizeof(ts_oid_signed) + ts_tlv_len(ex, 0);
	tok = ts_tlv_len(ci, V_ASN1_SEQUENCE);
	total = sizeof(ts_granted) + tok;
	{
		const struct ts_part parts[] = {
		    TS_HDR(V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, total),
		    TS_BYTES(ts_granted, sizeof(ts_granted)),
		    TS_HDR(V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, ci),
		    TS_BYTES(ts_oid_signed, sizeof(ts_oid_signed)),
		    TS_HDR(0, V_ASN1_CONTEXT_SPECIFIC, ex),
		    TS_HDR(V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, sd),
		    TS_BYTES(t->sd_head->data, t->sd_head->len),
		    TS_HDR(V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, eci),
		    TS_BYTES(t->ect->data, t->ect->len),
		    TS_HDR(0, V_ASN1_CONTEXT_SPECIFIC, oct),
		    TS_PRIM(V_ASN1_OCTET_STRING, tb->len),
		    TS_BYTES(tb->data, tb->len),
		    TS_BYTES(t->certs->data, cert_req ? t->certs->len : 0),
		    TS_HDR(V_ASN1_SET, V_ASN1_UNIVERSAL,
		        ts_tlv_len(si, V_ASN1_SEQUENCE)),
		    TS_HDR(V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, si),
		    TS_BYTES(t->si_head->data, t->si_head->len),
		    TS_HDR(0, V_ASN1_CONTEXT_SPECIFIC, t->attrs->len),
		    TS_BYTES(attrs + ahdr, t->attrs->len),
		    TS_BYTES(t->sigalg->data, t->sigalg->len),
		    TS_PRIM(V_ASN1_OCTET_STRING, siglen),
		    TS_BYTES(sig, siglen),
		};

		b = ts_cat(parts, sizeof(parts) / sizeof(parts[0]));
	}
	if (b == NULL || b->len != ts_tlv_len(total, V_ASN1_SEQUENCE)) {
		rc = cs_err_set(err, b == NULL ? CS_ERR_NOMEM : CS_ERR_CRYPTO,
		    "cannot assemble the timestamp");
		goto out;
	}
	*resp = b;
	b = NULL;
out:
	EVP_MD_CTX_free(ctx);
	free(attrs);
	buf_free(b);
	buf_free(tb);
	OPENSSL_free(mi);
	OPENSSL_free(nonce);
	return rc;
}
