/*
 * cms_tmpl.c: seal templates (crypto.h).
 *
 * Why: building a CMS SignedData through OpenSSL's CMS API costs several
 * times the P-256 signature itself (CMS_add1_signer, the ESS attribute,
 * CMS_final, re-encoding; bench/issue and bench/verify profiles), yet for
 * one seal everything but the signing time, the message digest and the
 * signature is the same from one document to the next.
 *
 * How: crypto_cms_seal() seals an empty document once; that seal is split
 * into the bytes before signerInfos, the SignerInfo's fields before its
 * signed attributes, the signed attributes (with the offsets of the
 * signing-time and message-digest values) and the signature algorithm.  A
 * seal is then: patch the two values, sign the DER of the attribute SET
 * (RFC 5652 5.4: the SET OF tag replaces [0] IMPLICIT), and put the pieces
 * back together around the new signature with fresh lengths.  The
 * attributes keep their DER order, which depends only on their encodings'
 * lengths and OIDs (every attribute's length is fixed: a 13-octet UTCTime,
 * a digest of the key's hash), so the patched SET is still DER.
 * tests/crypto/check_cms.c proves the result equal, octet for octet, to
 * crypto_cms_seal()'s for a deterministic (RSA) signature.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certsvc/mem.h"
#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

#define TMPL_UTCTIME_LEN 13 /* YYMMDDHHMMSSZ */

struct crypto_seal_tmpl {
	atomic_int refs;
	struct crypto_seal_opts opts; /* for the slow path (2050 on) */
	STACK_OF(X509) * chain;
	unsigned char image[32];
	EVP_PKEY *key;
	X509 *cert;
	const EVP_MD *md;
	bool rsa;
	struct buf *oid;     /* ContentInfo contentType TLV */
	struct buf *sd_head; /* SignedData content before signerInfos */
	struct buf *si_head; /* SignerInfo content before signedAttrs */
	struct buf *attrs;   /* signedAttrs content */
	size_t off_time;     /* signing-time UTCTime value in attrs */
	size_t off_digest;   /* message-digest value in attrs */
	size_t mdlen;
	struct buf *sigalg; /* signatureAlgorithm TLV */
};

/* DER of the attribute type OIDs whose values are patched. */
static const unsigned char tmpl_oid_time[] = {
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x05};
static const unsigned char tmpl_oid_digest[] = {
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04};

struct crypto_seal_tmpl *
crypto_seal_tmpl_ref(struct crypto_seal_tmpl *t)
{
	if (t != NULL)
		atomic_fetch_add(&t->refs, 1);
	return t;
}

void
crypto_seal_tmpl_free(struct crypto_seal_tmpl *t)
{
	if (t == NULL || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	EVP_PKEY_free(t->key);
	X509_free(t->cert);
	sk_X509_pop_free(t->chain, X509_free);
	buf_free(t->oid);
	buf_free(t->sd_head);
	buf_free(t->si_head);
	buf_free(t->attrs);
	buf_free(t->sigalg);
	free(t);
}

/* The TLV at *p within *left: header+content in [*tlv, *p). */
static bool
tmpl_next(const unsigned char **p, long *left, int *tag, int *cls,
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

/* Offset in a of the value that follows type OID, SET, value header. */
static bool
tmpl_value_at(const struct buf *a, const unsigned char *oid, size_t oidlen,
    int want_tag, size_t want_len, size_t *off)
{
	const unsigned char *p, *c;
	long left, clen;
	int tag, cls;
	size_t i, found = 0;

	for (i = 0; i + oidlen <= a->len; i++) {
		if (memcmp(a->data + i, oid, oidlen) != 0)
			continue;
		p = a->data + i + oidlen;
		left = (long)(a->len - i - oidlen);
		if (!tmpl_next(&p, &left, &tag, &cls, &c, &clen) ||
		    tag != V_ASN1_SET)
			return false;
		p = c;
		left = clen;
		if (!tmpl_next(&p, &left, &tag, &cls, &c, &clen) ||
		    tag != want_tag || (size_t)clen != want_len || left != 0)
			return false;
		*off = (size_t)(c - a->data);
		found++;
	}
	return found == 1;
}

/* Split the seal der into t's parts. */
static bool
tmpl_split(struct crypto_seal_tmpl *t, const struct buf *der)
{
	const unsigned char *p = der->data, *c, *el, *sd, *si;
	const unsigned char *attrs = NULL, *sigalg = NULL;
	long left = (long)der->len, clen, attrslen = 0, sigalglen = 0;
	int tag, cls, n = 0;

	/* ContentInfo { OID, [0] { SignedData } } */
	if (!tmpl_next(&p, &left, &tag, &cls, &c, &clen) ||
	    tag != V_ASN1_SEQUENCE)
		return false;
	p = c;
	left = clen;
	el = p;
	if (!tmpl_next(&p, &left, &tag, &cls, &c, &clen) ||
	    tag != V_ASN1_OBJECT)
		return false;
	t->oid = buf_from(el, (size_t)(p - el));
	if (!tmpl_next(&p, &left, &tag, &cls, &c, &clen) ||
	    cls != V_ASN1_CONTEXT_SPECIFIC || tag != 0)
		return false;
	p = c;
	left = clen;
	if (!tmpl_next(&p, &left, &tag, &cls, &c, &clen) ||
	    tag != V_ASN1_SEQUENCE)
		return false;
	sd = p = c;
	left = clen;
	/* Everything up to the last element (signerInfos). */
	for (;;) {
		el = p;
		if (!tmpl_next(&p, &left, &tag, &cls, &c, &clen))
			return false;
		if (left == 0)
			break;
	}
	if (tag != V_ASN1_SET)
		return false;
	t->sd_head = buf_from(sd, (size_t)(el - sd));
	/* signerInfos SET { SignerInfo SEQUENCE { ... } } */
	p = c;
	left = clen;
	if (!tmpl_next(&p, &left, &tag, &cls, &c, &clen) ||
	    tag != V_ASN1_SEQUENCE || left != 0)
		return false;
	si = p = c;
	left = clen;
	while (left > 0) {
		el = p;
		if (!tmpl_next(&p, &left, &tag, &cls, &c, &clen))
			return false;
		n++;
		if (cls == V_ASN1_CONTEXT_SPECIFIC && tag == 0) {
			t->si_head = buf_from(si, (size_t)(el - si));
			attrs = c;
			attrslen = clen;
		} else if (attrs != NULL && sigalg == NULL) {
			sigalg = el;
			sigalglen = (long)(p - el);
		} else if (attrs != NULL && tag != V_ASN1_OCTET_STRING) {
			return false; /* unsigned attributes: not ours */
		}
	}
	if (attrs == NULL || sigalg == NULL || n != 6)
		return false;
	t->attrs = buf_from(attrs, (size_t)attrslen);
	t->sigalg = buf_from(sigalg, (size_t)sigalglen);
	return t->oid != NULL && t->sd_head != NULL && t->si_head != NULL &&
	    t->attrs != NULL && t->sigalg != NULL;
}

enum cs_rc
crypto_seal_tmpl_new(const struct crypto_seal_opts *o,
    struct crypto_seal_tmpl **out, struct cs_err *err)
{
	struct crypto_seal_tmpl *t;
	struct buf *der = NULL;
	enum cs_rc rc;
	int i;

	*out = NULL;
	rc = crypto_cms_seal(o, (const unsigned char *)"", 0, &der, err);
	if (rc != CS_OK)
		return rc;
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		buf_free(der);
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	}
	atomic_init(&t->refs, 1);
	t->md = crypto_md_for_key(o->key);
	t->mdlen = (size_t)EVP_MD_get_size(t->md);
	t->rsa = EVP_PKEY_is_a(o->key, "RSA");
	if (EVP_PKEY_up_ref(o->key) == 1)
		t->key = o->key;
	if (X509_up_ref(o->cert) == 1)
		t->cert = o->cert;
	t->chain = sk_X509_new_null();
	for (i = 0; t->chain != NULL && i < sk_X509_num(o->chain); i++) {
		X509 *x = sk_X509_value(o->chain, i);

		if (X509_up_ref(x) != 1 || sk_X509_push(t->chain, x) <= 0) {
			X509_free(x);
			break;
		}
	}
	if (t->key == NULL || t->cert == NULL || t->chain == NULL ||
	    i < sk_X509_num(o->chain)) {
		rc = cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	t->opts = *o;
	t->opts.key = t->key;
	t->opts.cert = t->cert;
	t->opts.chain = t->chain;
	if (o->image_sha256 != NULL) {
		memcpy(t->image, o->image_sha256, sizeof(t->image));
		t->opts.image_sha256 = t->image;
	}
	if (!tmpl_split(t, der) ||
	    !tmpl_value_at(t->attrs, tmpl_oid_time, sizeof(tmpl_oid_time),
	        V_ASN1_UTCTIME, TMPL_UTCTIME_LEN, &t->off_time) ||
	    !tmpl_value_at(t->attrs, tmpl_oid_digest, sizeof(tmpl_oid_digest),
	        V_ASN1_OCTET_STRING, t->mdlen, &t->off_digest)) {
		rc = cs_err_set(err, CS_ERR_CRYPTO,
		    "a seal of this signer does not have the expected form");
		goto out;
	}
	*out = t;
	t = NULL;
out:
	crypto_seal_tmpl_free(t);
	buf_free(der);
	return rc;
}

enum cs_rc
crypto_seal_tmpl_for(EVP_PKEY *key, X509 *cert, X509 *issuer,
    const unsigned char *image, struct crypto_seal_tmpl **out,
    struct cs_err *err)
{
	struct crypto_seal_opts o;
	STACK_OF(X509) * chain;
	enum cs_rc rc;

	*out = NULL;
	chain = sk_X509_new_null();
	if (chain == NULL || sk_X509_push(chain, issuer) <= 0) {
		sk_X509_free(chain);
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	}
	memset(&o, 0, sizeof(o));
	o.key = key;
	o.cert = cert;
	o.chain = chain;
	o.image_sha256 = image;
	rc = crypto_seal_tmpl_new(&o, out, err);
	sk_X509_free(chain);
	return rc;
}

/* Append the header of a TLV of tag/class with content length n. */
static void
tmpl_hdr(unsigned char **w, int tag, int cls, size_t n)
{
	ASN1_put_object(w, 1, (long)n, tag, cls);
}

static size_t
tmpl_tlv_len(size_t n, int tag)
{
	return (size_t)ASN1_object_size(1, (long)n, tag);
}

enum cs_rc
crypto_seal_tmpl_seal(const struct crypto_seal_tmpl *t,
    const unsigned char *doc, size_t len, struct buf **der, struct cs_err *err)
{
	unsigned char sig[1024], *attrs = NULL, *w;
	size_t siglen = sizeof(sig), ahdr, si_len, sis_len, sd_len, ex_len;
	size_t ci_len, sig_tlv, attrs_tlv, total;
	EVP_MD_CTX *ctx = NULL;
	struct buf *b = NULL;
	time_t now = time(NULL);
	struct tm tm;
	char stamp[64];
	enum cs_rc rc = CS_OK;

	*der = NULL;
	if (t == NULL || (doc == NULL && len > 0))
		return cs_err_set(err, CS_ERR_INVALID, "nothing to seal");
	gmtime_r(&now, &tm);
	if (tm.tm_year + 1900 >= 2050 || tm.tm_year + 1900 < 1950)
		return crypto_cms_seal(&t->opts, doc, len, der, err);
	snprintf(stamp, sizeof(stamp), "%02d%02d%02d%02d%02d%02dZ",
	    tm.tm_year % 100, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec);
	/* The signed attributes as signed: SET OF, not [0] IMPLICIT. */
	ahdr = tmpl_tlv_len(t->attrs->len, V_ASN1_SET) - t->attrs->len;
	attrs = malloc(ahdr + t->attrs->len);
	if (attrs == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	w = attrs;
	tmpl_hdr(&w, V_ASN1_SET, V_ASN1_UNIVERSAL, t->attrs->len);
	memcpy(w, t->attrs->data, t->attrs->len);
	memcpy(w + t->off_time, stamp, TMPL_UTCTIME_LEN);
	if (EVP_Digest(doc != NULL ? doc : (const unsigned char *)"", len,
	        w + t->off_digest, NULL, t->md, NULL) != 1) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "cannot digest document");
		goto out;
	}
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL ||
	    EVP_DigestSignInit(ctx, NULL, t->md, NULL, t->key) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, attrs, ahdr + t->attrs->len) !=
	        1) {
		rc = cs_err_ossl(err, crypto_ossl_rc(CS_ERR_CRYPTO),
		    "cannot seal the document");
		goto out;
	}
	/* A faulty RSA-CRT signature gives the key away: check it first. */
	if (t->rsa) {
		EVP_MD_CTX_free(ctx);
		ctx = EVP_MD_CTX_new();
		if (ctx == NULL ||
		    EVP_DigestVerifyInit(ctx, NULL, t->md, NULL,
		        X509_get0_pubkey(t->cert)) != 1 ||
		    EVP_DigestVerify(
		        ctx, sig, siglen, attrs, ahdr + t->attrs->len) != 1) {
			rc = cs_err_ossl(err, CS_ERR_CRYPTO,
			    "the seal made does not verify: the signer is "
			    "faulty");
			goto out;
		}
	}
	/* Lengths from the inside out, then write from the outside in. */
	attrs_tlv = tmpl_tlv_len(t->attrs->len, 0);
	sig_tlv = tmpl_tlv_len(siglen, V_ASN1_OCTET_STRING);
	si_len = t->si_head->len + attrs_tlv + t->sigalg->len + sig_tlv;
	sis_len = tmpl_tlv_len(si_len, V_ASN1_SEQUENCE);
	sd_len = t->sd_head->len + tmpl_tlv_len(sis_len, V_ASN1_SET);
	ex_len = tmpl_tlv_len(sd_len, V_ASN1_SEQUENCE);
	ci_len = t->oid->len + tmpl_tlv_len(ex_len, 0);
	total = tmpl_tlv_len(ci_len, V_ASN1_SEQUENCE);
	b = buf_new(total);
	if (b == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	w = b->data;
	tmpl_hdr(&w, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, ci_len);
	memcpy(w, t->oid->data, t->oid->len);
	w += t->oid->len;
	tmpl_hdr(&w, 0, V_ASN1_CONTEXT_SPECIFIC, ex_len);
	tmpl_hdr(&w, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, sd_len);
	memcpy(w, t->sd_head->data, t->sd_head->len);
	w += t->sd_head->len;
	tmpl_hdr(&w, V_ASN1_SET, V_ASN1_UNIVERSAL, sis_len);
	tmpl_hdr(&w, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, si_len);
	memcpy(w, t->si_head->data, t->si_head->len);
	w += t->si_head->len;
	tmpl_hdr(&w, 0, V_ASN1_CONTEXT_SPECIFIC, t->attrs->len);
	memcpy(w, attrs + ahdr, t->attrs->len);
	w += t->attrs->len;
	memcpy(w, t->sigalg->data, t->sigalg->len);
	w += t->sigalg->len;
	ASN1_put_object(
	    &w, 0, (long)siglen, V_ASN1_OCTET_STRING, V_ASN1_UNIVERSAL);
	memcpy(w, sig, siglen);
	w += siglen;
	b->len = (size_t)(w - b->data);
	if (b->len != total) {
		rc = cs_err_set(err, CS_ERR_CRYPTO, "seal length mismatch");
		goto out;
	}
	*der = b;
	b = NULL;
out:
	crypto_ossl_drain();
	EVP_MD_CTX_free(ctx);
	OPENSSL_cleanse(sig, sizeof(sig));
	free(attrs);
	buf_free(b);
	return rc;
}
