/*
 * check_cms.c: e-seals.  Each seal is verified by crypto_cms_verify() and
 * by "openssl cms -verify", its signed attributes are read back through
 * OpenSSL's API and their DER compared with what docs/seal-format.md says,
 * and every way a seal can be wrong (tampered document, wrong root, bad
 * DER, a signing-certificate or digest that does not match) gives an
 * answer, not an error.  Token keys are stood in for by p11_evp_from_signer
 * with a software signer.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/ess.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certsvc/err.h"
#include "certsvc/mem.h"
#include "crypto/crypto.h"
#include "tests/certfix.h"
#include "tests/testutil.h"

#define ORG_ID "NTRCN-91350100M000100Y43"
#define DOC                                                                    \
	"{\"holder\":\"张三\",\"id\":\"L-2025-000001\",\"type\":\"营业执照\"}"

enum { KEY_P256, KEY_P384, KEY_RSA3072, KEY_N };

/* Made once in main(): forked tests do not pay for RSA key generation. */
static EVP_PKEY *keys[KEY_N];
static EVP_PKEY *root_key, *sub_key, *other_key;

/* SHA-256 of "seal image" (any 32 bytes would do). */
static unsigned char image[32];

struct pki {
	X509 *root;
	X509 *sub;
	X509 *seal;
	STACK_OF(X509) * chain; /* sub */
};

static X509 *
issue(enum crypto_profile profile, const char *cn, EVP_PKEY *key, X509 *issuer,
    EVP_PKEY *issuer_key)
{
	struct crypto_cert_spec s;
	struct cs_err err;
	X509 *x = NULL;

	memset(&s, 0, sizeof(s));
	s.profile = profile;
	s.common_name = cn;
	s.organization = "某市市场监督管理局";
	s.country = "CN";
	s.days = 365;
	s.subject_key = key;
	if (profile == CRYPTO_CERT_SEAL) {
		s.org_identifier = ORG_ID;
		s.crl_url = "http://certsvc.example.gov.cn/crl/issuing.crl";
		s.ocsp_url = "http://certsvc.example.gov.cn/ocsp";
		s.ca_issuers_url =
		    "http://certsvc.example.gov.cn/ca/issuing.cer";
	}
	ck_assert_msg(
	    crypto_cert_issue(&s, issuer, issuer_key, &x, &err) == CS_OK, "%s",
	    err.msg);
	return x;
}

static void
pki_init(struct pki *p, EVP_PKEY *seal_key)
{
	p->root = issue(
	    CRYPTO_CERT_ROOT_CA, "certsvc root", root_key, NULL, root_key);
	p->sub = issue(CRYPTO_CERT_SUB_CA, "certsvc issuing CA", sub_key,
	    p->root, root_key);
	p->seal = issue(CRYPTO_CERT_SEAL, "某市市场监督管理局电子印章",
	    seal_key, p->sub, sub_key);
	p->chain = sk_X509_new_null();
	ck_assert_int_gt(sk_X509_push(p->chain, p->sub), 0);
}

static void
pki_release(struct pki *p)
{
	sk_X509_free(p->chain);
	X509_free(p->seal);
	X509_free(p->sub);
	X509_free(p->root);
}

/* Options to seal with key as p's seal certificate, img (may be NULL). */
static void
seal_opts(struct crypto_seal_opts *o, EVP_PKEY *key, const struct pki *p,
    const unsigned char *img)
{
	memset(o, 0, sizeof(*o));
	o->key = key;
	o->cert = p->seal;
	o->chain = p->chain;
	o->image_sha256 = img;
}

static struct buf *
seal(EVP_PKEY *key, struct pki *p, const unsigned char *img)
{
	struct crypto_seal_opts o;
	struct buf *der = NULL;
	struct cs_err err;

	seal_opts(&o, key, p, img);
	cs_err_clear(&err);
	ck_assert_msg(crypto_cms_seal(&o, (const unsigned char *)DOC,
	                  strlen(DOC), &der, &err) == CS_OK,
	    "%s", err.msg);
	ck_assert_ptr_nonnull(der);
	ck_assert_int_eq(ERR_peek_error(), 0);
	return der;
}

/* The certificate cache of crypto_cms_verify_cached(), one per process. */
static struct crypto_cert_cache *cache;

/*
 * crypto_cms_verify_cached() over doc, twice (the certificates parsed,
 * then from the cache), must say what crypto_cms_verify() says in res.
 */
static void
verify_cached_agrees(const void *doc, size_t len, const struct buf *der,
    X509 *root, const struct crypto_cms_result *res)
{
	struct crypto_cms_result c;
	int round;

	if (cache == NULL)
		ck_assert_int_eq(
		    crypto_cert_cache_new(64, &cache, NULL), CS_OK);
	for (round = 0; round < 2; round++) {
		ck_assert_int_eq(crypto_cms_verify_cached(doc, len, der->data,
		                     der->len, root, cache, &c, NULL),
		    CS_OK);
		ck_assert_int_eq(c.parsed, res->parsed);
		ck_assert_int_eq(c.signature_ok, res->signature_ok);
		ck_assert_int_eq(c.chain_ok, res->chain_ok);
		ck_assert_int_eq(c.signing_time, res->signing_time);
		ck_assert_int_eq(c.has_image_hash, res->has_image_hash);
		ck_assert_mem_eq(
		    c.image_sha256, res->image_sha256, sizeof(c.image_sha256));
		ck_assert_int_eq(c.signer != NULL, res->signer != NULL);
		if (c.signer != NULL)
			ck_assert_int_eq(X509_cmp(c.signer, res->signer), 0);
		ck_assert_int_eq(c.ts_present, res->ts_present);
		ck_assert_int_eq(c.ts_ok, res->ts_ok);
		crypto_cms_result_release(&c);
		ck_assert_int_eq(ERR_peek_error(), 0);
	}
}

/*
 * crypto_cms_verify() over doc; the error queue is always left empty.
 * The cached path must agree on every seal a test verifies.
 */
static void
verify(const void *doc, size_t len, const struct buf *der, X509 *root,
    struct crypto_cms_result *res)
{
	struct cs_err err;

	cs_err_clear(&err);
	ck_assert_msg(crypto_cms_verify(doc, len, der->data, der->len, root,
	                  res, &err) == CS_OK,
	    "%s", err.msg);
	ck_assert_int_eq(ERR_peek_error(), 0);
	verify_cached_agrees(doc, len, der, root, res);
}

static void
write_file(const char *dir, const char *name, const void *p, size_t len,
    char *path, size_t pathsz)
{
	ck_assert_int_lt(
	    snprintf(path, pathsz, "%s/%s", dir, name), (int)pathsz);
	ck_assert_int_eq(cs_file_write(path, p, len, 0600, false, NULL), CS_OK);
}

static void
write_pem(const char *dir, const char *name, X509 *x, char *path, size_t pathsz)
{
	struct buf *pem = NULL;

	ck_assert_int_eq(crypto_cert_to_pem(x, &pem, NULL), CS_OK);
	write_file(dir, name, pem->data, pem->len, path, pathsz);
	buf_free(pem);
}

/*
 * "openssl cms -verify -binary -inform DER -content doc -CAfile root"
 * with purpose (NULL: the default, S/MIME signing) and, with cades, its
 * check of signing-certificate(-v2) against the verified chain; its exit
 * status.  On success the content it writes out must be doc.
 */
static int
openssl_verify_ex(const void *doc, size_t len, const struct buf *der,
    X509 *root, const char *purpose, bool cades)
{
	char dir[PATH_MAX], docp[PATH_MAX + 16], sealp[PATH_MAX + 16];
	char rootp[PATH_MAX + 16], outp[PATH_MAX + 16];
	char *argv[20];
	struct buf *out = NULL;
	int n = 0, r;

	testutil_tmpdir(dir, sizeof(dir));
	write_file(dir, "document.json", doc, len, docp, sizeof(docp));
	write_file(dir, "seal.p7s", der->data, der->len, sealp, sizeof(sealp));
	write_pem(dir, "root.pem", root, rootp, sizeof(rootp));
	ck_assert_int_lt(
	    snprintf(outp, sizeof(outp), "%s/out", dir), (int)sizeof(outp));
	argv[n++] = "openssl";
	argv[n++] = "cms";
	argv[n++] = "-verify";
	argv[n++] = "-binary";
	argv[n++] = "-inform";
	argv[n++] = "DER";
	argv[n++] = "-in";
	argv[n++] = sealp;
	argv[n++] = "-content";
	argv[n++] = docp;
	argv[n++] = "-CAfile";
	argv[n++] = rootp;
	argv[n++] = "-out";
	argv[n++] = outp;
	if (purpose != NULL) {
		argv[n++] = "-purpose";
		argv[n++] = (char *)purpose;
	}
	if (cades)
		argv[n++] = "-cades";
	argv[n] = NULL;
	r = testutil_run(argv);
	if (r == 0) {
		ck_assert_int_eq(
		    cs_file_read(outp, 1 << 20, &out, NULL), CS_OK);
		ck_assert_uint_eq(out->len, len);
		ck_assert_mem_eq(out->data, doc, len);
		buf_free(out);
	}
	return r;
}

static int
openssl_verify(const void *doc, size_t len, const struct buf *der, X509 *root,
    const char *purpose)
{
	return openssl_verify_ex(doc, len, der, root, purpose, false);
}

static CMS_ContentInfo *
parse(const struct buf *der)
{
	const unsigned char *p = der->data;
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)der->len);

	ck_assert_ptr_nonnull(cms);
	ck_assert_ptr_eq(p, der->data + der->len);
	return cms;
}

static CMS_SignerInfo *
signer_info(CMS_ContentInfo *cms)
{
	STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);

	ck_assert_int_eq(sk_CMS_SignerInfo_num(sis), 1);
	return sk_CMS_SignerInfo_value(sis, 0);
}

/* The one value of the signed attribute obj (DER of a SEQUENCE value). */
static const ASN1_TYPE *
attr_value(CMS_SignerInfo *si, const ASN1_OBJECT *obj)
{
	int i = CMS_signed_get_attr_by_OBJ(si, obj, -1);
	X509_ATTRIBUTE *a;

	ck_assert_int_ge(i, 0);
	ck_assert_int_lt(CMS_signed_get_attr_by_OBJ(si, obj, i), 0);
	a = CMS_signed_get_attr(si, i);
	ck_assert_int_eq(X509_ATTRIBUTE_count(a), 1);
	return X509_ATTRIBUTE_get0_type(a, 0);
}

/* Step into the TLV at *p (tag, constructed or not); its content length. */
static long
tlv(const unsigned char **p, long *left, int want_tag, int want_cons)
{
	const unsigned char *start = *p;
	long len;
	int tag, cls, r;

	r = ASN1_get_object(p, &len, &tag, &cls, *left);
	ck_assert_int_eq(r & 0x80, 0);
	ck_assert_int_eq(tag, want_tag);
	ck_assert_int_eq(cls,
	    want_tag == 4 && want_cons ? V_ASN1_CONTEXT_SPECIFIC
	                               : V_ASN1_UNIVERSAL);
	ck_assert_int_eq((r & V_ASN1_CONSTRUCTED) != 0, want_cons);
	*left -= (long)(*p - start);
	return len;
}

/*
 * signing-certificate-v2 is, to the octet: SigningCertificateV2 { certs {
 * ESSCertIDv2 { certHash SHA-256(cert DER), issuerSerial { { directoryName
 * issuer }, serial } } } }: hashAlgorithm (DEFAULT sha256) and policies
 * absent.
 */
static void
check_ess(const ASN1_STRING *v, X509 *cert)
{
	unsigned char md[32], *name = NULL, *serial = NULL;
	const unsigned char *p = ASN1_STRING_get0_data(v);
	long left = ASN1_STRING_length(v), len;
	unsigned int mdlen = 0;
	int namelen, seriallen;

	ck_assert_int_eq(X509_digest(cert, EVP_sha256(), md, &mdlen), 1);
	len = tlv(&p, &left, V_ASN1_SEQUENCE, 1); /* SigningCertificateV2 */
	ck_assert_int_eq(len, left);
	len = tlv(&p, &left, V_ASN1_SEQUENCE, 1);     /* certs */
	ck_assert_int_eq(len, left);                  /* no policies */
	len = tlv(&p, &left, V_ASN1_SEQUENCE, 1);     /* ESSCertIDv2 */
	ck_assert_int_eq(len, left);                  /* only one */
	len = tlv(&p, &left, V_ASN1_OCTET_STRING, 0); /* no hashAlgorithm */
	ck_assert_int_eq(len, 32);
	ck_assert_mem_eq(p, md, 32);
	p += 32;
	left -= 32;
	len = tlv(&p, &left, V_ASN1_SEQUENCE, 1); /* issuerSerial */
	ck_assert_int_eq(len, left);
	len = tlv(&p, &left, V_ASN1_SEQUENCE, 1); /* GeneralNames */
	len = tlv(&p, &left, 4, 1);               /* [4] directoryName */
	namelen = i2d_X509_NAME(X509_get_issuer_name(cert), &name);
	ck_assert_int_eq(len, namelen);
	ck_assert_mem_eq(p, name, (size_t)namelen);
	p += len;
	left -= len;
	seriallen = i2d_ASN1_INTEGER(
	    (ASN1_INTEGER *)X509_get0_serialNumber(cert), &serial);
	ck_assert_int_eq(left, seriallen);
	ck_assert_mem_eq(p, serial, (size_t)seriallen);
	OPENSSL_free(serial);
	OPENSSL_free(name);
}

/* The seal-image attribute: SEQUENCE { id-sha256 (absent), OCTET STRING }. */
static void
check_image(const ASN1_STRING *v, const unsigned char *want)
{
	static const unsigned char prefix[] = {0x30, 0x2f, 0x30, 0x0b, 0x06,
	    0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x04,
	    0x20};
	const unsigned char *d = ASN1_STRING_get0_data(v);

	ck_assert_int_eq(ASN1_STRING_length(v), (int)sizeof(prefix) + 32);
	ck_assert_mem_eq(d, prefix, sizeof(prefix));
	ck_assert_mem_eq(d + sizeof(prefix), want, 32);
}

static ASN1_OBJECT *
image_oid(void)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(CRYPTO_OID_SEAL_IMAGE_HASH, 1);

	ck_assert_ptr_nonnull(obj);
	return obj;
}

/* --- seal and verify ------------------------------------------------------ */

START_TEST(seal_verifies)
{
	struct crypto_cms_result res;
	struct pki p;
	struct buf *der;
	time_t now = time(NULL);

	pki_init(&p, keys[_i]);
	der = seal(keys[_i], &p, image);
	verify(DOC, strlen(DOC), der, p.root, &res);
	ck_assert(res.parsed);
	ck_assert_msg(res.signature_ok, "%s", res.reason);
	ck_assert_msg(res.chain_ok, "%s", res.reason);
	ck_assert_str_eq(res.reason, "");
	ck_assert_ptr_nonnull(res.signer);
	ck_assert_int_eq(X509_cmp(res.signer, p.seal), 0);
	ck_assert_int_ge(res.signing_time, (int64_t)now - 5);
	ck_assert_int_le(res.signing_time, (int64_t)now + 5);
	ck_assert(res.has_image_hash);
	ck_assert_mem_eq(res.image_sha256, image, 32);
	crypto_cms_result_release(&res);
	ck_assert_ptr_null(res.signer);

	/* Any conforming verifier: purpose any and the default (smimesign). */
	ck_assert_int_eq(
	    openssl_verify(DOC, strlen(DOC), der, p.root, "any"), 0);
	ck_assert_int_eq(
	    openssl_verify(DOC, strlen(DOC), der, p.root, NULL), 0);
	ck_assert_int_eq(
	    openssl_verify_ex(DOC, strlen(DOC), der, p.root, "any", true), 0);
	buf_free(der);
	pki_release(&p);
}
END_TEST

START_TEST(tampered_document_fails)
{
	struct crypto_cms_result res;
	struct pki p;
	struct buf *der;
	char doc[] = DOC;
	size_t at;

	pki_init(&p, keys[_i]);
	der = seal(keys[_i], &p, image);
	for (at = 0; at < strlen(doc); at += strlen(doc) / 3) {
		doc[at] ^= 0x01;
		verify(doc, strlen(doc), der, p.root, &res);
		ck_assert(res.parsed);
		ck_assert(!res.signature_ok);
		ck_assert(res.chain_ok); /* the certificate is still fine */
		ck_assert_str_ne(res.reason, "");
		ck_assert_ptr_nonnull(strstr(res.reason, "signature"));
		/* Attributes of a bad signature are not reported. */
		ck_assert_int_eq(res.signing_time, 0);
		ck_assert(!res.has_image_hash);
		crypto_cms_result_release(&res);
		ck_assert_int_ne(
		    openssl_verify(doc, strlen(doc), der, p.root, "any"), 0);
		doc[at] ^= 0x01;
	}
	/* A byte more or less is another document too. */
	verify(DOC "\n", strlen(DOC) + 1, der, p.root, &res);
	ck_assert(!res.signature_ok);
	crypto_cms_result_release(&res);
	verify(DOC, strlen(DOC) - 1, der, p.root, &res);
	ck_assert(!res.signature_ok);
	crypto_cms_result_release(&res);
	verify("", 0, der, p.root, &res);
	ck_assert(!res.signature_ok);
	crypto_cms_result_release(&res);
	buf_free(der);
	pki_release(&p);
}
END_TEST

START_TEST(wrong_root_breaks_chain)
{
	struct crypto_cms_result res;
	struct pki p;
	X509 *stranger, *twin;
	struct buf *der;

	pki_init(&p, keys[KEY_P256]);
	der = seal(keys[KEY_P256], &p, NULL);
	stranger = issue(
	    CRYPTO_CERT_ROOT_CA, "another root", other_key, NULL, other_key);
	twin = issue(CRYPTO_CERT_ROOT_CA, "certsvc root", other_key, NULL,
	    other_key); /* same name, other key */

	verify(DOC, strlen(DOC), der, stranger, &res);
	ck_assert(res.parsed);
	ck_assert(res.signature_ok);
	ck_assert(!res.chain_ok);
	ck_assert_str_eq(res.reason, "unable to get local issuer certificate");
	ck_assert_ptr_nonnull(res.signer);
	crypto_cms_result_release(&res);
	ck_assert_int_ne(
	    openssl_verify(DOC, strlen(DOC), der, stranger, "any"), 0);

	verify(DOC, strlen(DOC), der, twin, &res);
	ck_assert(res.signature_ok);
	ck_assert(!res.chain_ok);
	ck_assert_str_ne(res.reason, "");
	crypto_cms_result_release(&res);

	/* The sub-CA is no trust anchor. */
	verify(DOC, strlen(DOC), der, p.sub, &res);
	ck_assert(!res.chain_ok);
	crypto_cms_result_release(&res);

	X509_free(twin);
	X509_free(stranger);
	buf_free(der);
	pki_release(&p);
}
END_TEST

/* Whatever der holds is an answer: parsed false, never an error. */
static void
not_a_seal(const void *der, size_t len, X509 *root, const char *frag)
{
	struct crypto_cms_result res;
	struct cs_err err;

	cs_err_clear(&err);
	ck_assert_int_eq(crypto_cms_verify((const unsigned char *)DOC,
	                     strlen(DOC), der, len, root, &res, &err),
	    CS_OK);
	ck_assert(!res.parsed);
	ck_assert(!res.signature_ok);
	ck_assert(!res.chain_ok);
	ck_assert_ptr_null(res.signer);
	ck_assert_str_ne(res.reason, "");
	if (frag != NULL)
		ck_assert_msg(
		    strstr(res.reason, frag) != NULL, "%s", res.reason);
	ck_assert_int_eq(ERR_peek_error(), 0);
	crypto_cms_result_release(&res);
}

START_TEST(malformed_seals_are_answers)
{
	struct crypto_cms_result res;
	struct pki p;
	struct buf *der, *junk;
	unsigned char *big;
	size_t cut;

	pki_init(&p, keys[_i]);
	der = seal(keys[_i], &p, image);

	not_a_seal("", 0, p.root, "bytes");
	not_a_seal(NULL, 0, p.root, "bytes");
	not_a_seal("garbage, not DER at all", 23, p.root, "DER");
	not_a_seal("\x30\x80\x00\x00", 4, p.root, NULL); /* BER, empty */
	for (cut = 0; cut < der->len; cut++)
		not_a_seal(der->data, cut, p.root, NULL);
	junk = buf_from(der->data, der->len);
	ck_assert_int_eq(buf_append(junk, "\0", 1), CS_OK);
	not_a_seal(junk->data, junk->len, p.root, "trailing");
	buf_free(junk);
	/* Oversized: refused before parsing. */
	big = calloc(5 * 1024 * 1024, 1);
	ck_assert_ptr_nonnull(big);
	memcpy(big, der->data, der->len);
	not_a_seal(big, 5 * 1024 * 1024, p.root, "bytes");
	free(big);
	/* A certificate is DER, but no CMS. */
	{
		struct buf *cert = NULL;

		ck_assert_int_eq(
		    crypto_cert_to_der(p.seal, &cert, NULL), CS_OK);
		not_a_seal(cert->data, cert->len, p.root, NULL);
		buf_free(cert);
	}
	/*
	 * A flipped bit anywhere: never a crash, never an error, never a
	 * valid seal (unsigned fields included: versions, digestAlgorithms,
	 * signatureAlgorithm are checked too).
	 */
	for (cut = 0; cut < der->len; cut++) {
		der->data[cut] ^= 0x80;
		cs_err_clear(NULL);
		ck_assert_int_eq(
		    crypto_cms_verify((const unsigned char *)DOC, strlen(DOC),
		        der->data, der->len, p.root, &res, NULL),
		    CS_OK);
		ck_assert_msg(!(res.parsed && res.signature_ok && res.chain_ok),
		    "flip at %zu of %zu valid", cut, der->len);
		ck_assert_int_eq(ERR_peek_error(), 0);
		verify_cached_agrees(DOC, strlen(DOC), der, p.root, &res);
		crypto_cms_result_release(&res);
		der->data[cut] ^= 0x80;
	}

	/* Caller errors are errors. */
	ck_assert_int_eq(
	    crypto_cms_verify((const unsigned char *)DOC, strlen(DOC),
	        der->data, der->len, NULL, &res, NULL),
	    CS_ERR_INVALID);
	ck_assert_int_eq(
	    crypto_cms_verify(NULL, 3, der->data, der->len, p.root, &res, NULL),
	    CS_ERR_INVALID);
	ck_assert_int_eq(
	    crypto_cms_verify((const unsigned char *)DOC, strlen(DOC),
	        der->data, der->len, p.root, NULL, NULL),
	    CS_ERR_INVALID);
	crypto_cms_result_release(NULL);
	buf_free(der);
	pki_release(&p);
}
END_TEST

/* --- the profile, read back ---------------------------------------------- */

START_TEST(signed_attributes_exact)
{
	struct pki p;
	struct buf *der;
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si;
	X509_ALGOR *dig, *sig;
	const ASN1_OBJECT *obj;
	const ASN1_TYPE *t;
	ASN1_OBJECT *img = image_oid();
	STACK_OF(X509) * certs;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const EVP_MD *want = _i == KEY_P384 ? EVP_sha384() : EVP_sha256();
	int i, ptype, nids[5];

	pki_init(&p, keys[_i]);
	der = seal(keys[_i], &p, image);
	cms = parse(der);
	ck_assert_int_eq(OBJ_obj2nid(CMS_get0_type(cms)), NID_pkcs7_signed);
	ck_assert_int_eq(
	    OBJ_obj2nid(CMS_get0_eContentType(cms)), NID_pkcs7_data);
	ck_assert_ptr_null(*CMS_get0_content(cms)); /* detached */
	si = signer_info(cms);

	/* Exactly these five signed attributes, no unsigned ones. */
	ck_assert_int_eq(CMS_signed_get_attr_count(si), 5);
	for (i = 0; i < 5; i++)
		nids[i] = OBJ_obj2nid(
		    X509_ATTRIBUTE_get0_object(CMS_signed_get_attr(si, i)));
	for (i = 0; i < 5; i++)
		ck_assert(nids[i] == NID_pkcs9_contentType ||
		    nids[i] == NID_pkcs9_messageDigest ||
		    nids[i] == NID_pkcs9_signingTime ||
		    nids[i] == NID_id_smime_aa_signingCertificateV2 ||
		    nids[i] == NID_undef /* the image hash */);
	ck_assert_int_lt(
	    CMS_signed_get_attr_by_NID(si, NID_SMIMECapabilities, -1), 0);
	ck_assert_int_le(CMS_unsigned_get_attr_count(si), 0);

	t = attr_value(si, OBJ_nid2obj(NID_pkcs9_contentType));
	ck_assert_int_eq(ASN1_TYPE_get(t), V_ASN1_OBJECT);
	ck_assert_int_eq(OBJ_obj2nid(t->value.object), NID_pkcs7_data);

	/* Digest per key, parameters absent; message-digest over DOC. */
	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, &sig);
	X509_ALGOR_get0(&obj, &ptype, NULL, dig);
	ck_assert_int_eq(OBJ_obj2nid(obj), EVP_MD_get_type(want));
	ck_assert_int_eq(ptype, V_ASN1_UNDEF);
	ck_assert_int_eq(
	    EVP_Digest(DOC, strlen(DOC), md, &mdlen, want, NULL), 1);
	t = attr_value(si, OBJ_nid2obj(NID_pkcs9_messageDigest));
	ck_assert_int_eq(ASN1_TYPE_get(t), V_ASN1_OCTET_STRING);
	ck_assert_int_eq(ASN1_STRING_length(t->value.octet_string), (int)mdlen);
	ck_assert_mem_eq(
	    ASN1_STRING_get0_data(t->value.octet_string), md, mdlen);
	X509_ALGOR_get0(&obj, NULL, NULL, sig);
	ck_assert_int_eq(OBJ_obj2nid(obj),
	    _i == KEY_P256       ? NID_ecdsa_with_SHA256
	        : _i == KEY_P384 ? NID_ecdsa_with_SHA384
	                         : NID_rsaEncryption);

	/* signing-time: UTCTime YYMMDDHHMMSSZ until 2049. */
	t = attr_value(si, OBJ_nid2obj(NID_pkcs9_signingTime));
	ck_assert_int_eq(ASN1_TYPE_get(t), V_ASN1_UTCTIME);
	ck_assert_int_eq(ASN1_STRING_length(t->value.utctime), 13);

	/* signing-certificate-v2: SHA-256 of the signer, whatever the key. */
	t = attr_value(si, OBJ_nid2obj(NID_id_smime_aa_signingCertificateV2));
	ck_assert_int_eq(ASN1_TYPE_get(t), V_ASN1_SEQUENCE);
	check_ess(t->value.sequence, p.seal);
	ck_assert_int_lt(CMS_signed_get_attr_by_NID(
	                     si, NID_id_smime_aa_signingCertificate, -1),
	    0);

	t = attr_value(si, img);
	ck_assert_int_eq(ASN1_TYPE_get(t), V_ASN1_SEQUENCE);
	check_image(t->value.sequence, image);

	/* The signer and the issuing CA (a DER SET: any order), not the root.
	 */
	certs = CMS_get1_certs(cms);
	ck_assert_int_eq(sk_X509_num(certs), 2);
	i = X509_cmp(sk_X509_value(certs, 0), p.seal) == 0 ? 0 : 1;
	ck_assert_int_eq(X509_cmp(sk_X509_value(certs, i), p.seal), 0);
	ck_assert_int_eq(X509_cmp(sk_X509_value(certs, 1 - i), p.sub), 0);
	sk_X509_pop_free(certs, X509_free);
	ck_assert_int_eq(ERR_peek_error(), 0);

	ASN1_OBJECT_free(img);
	CMS_ContentInfo_free(cms);
	buf_free(der);
	pki_release(&p);
}
END_TEST

/* The printout of "openssl cms -cmsout -print" names the same attributes. */
START_TEST(cmsout_print_lists_attributes)
{
	char dir[PATH_MAX], sealp[PATH_MAX + 16], outp[PATH_MAX + 16];
	struct buf *der, *out = NULL;
	struct pki p;
	const char *s;

	pki_init(&p, keys[KEY_P256]);
	der = seal(keys[KEY_P256], &p, image);
	testutil_tmpdir(dir, sizeof(dir));
	write_file(dir, "seal.p7s", der->data, der->len, sealp, sizeof(sealp));
	ck_assert_int_lt(
	    snprintf(outp, sizeof(outp), "%s/print", dir), (int)sizeof(outp));
	{
		char *argv[] = {"openssl", "cms", "-cmsout", "-print",
		    "-inform", "DER", "-in", sealp, "-out", outp, NULL};

		ck_assert_int_eq(testutil_run(argv), 0);
	}
	ck_assert_int_eq(cs_file_read(outp, 1 << 20, &out, NULL), CS_OK);
	s = (const char *)out->data;
	ck_assert_ptr_nonnull(strstr(s, "contentType (1.2.840.113549.1.9.3)"));
	ck_assert_ptr_nonnull(
	    strstr(s, "messageDigest (1.2.840.113549.1.9.4)"));
	ck_assert_ptr_nonnull(strstr(s, "signingTime (1.2.840.113549.1.9.5)"));
	ck_assert_ptr_nonnull(strstr(s, "id-smime-aa-signingCertificateV2"));
	ck_assert_ptr_nonnull(strstr(s, CRYPTO_OID_SEAL_IMAGE_HASH));
	ck_assert_ptr_null(strstr(s, "SMIMECapabilities"));
	ck_assert_ptr_nonnull(strstr(s, "eContent: <ABSENT>"));
	buf_free(out);
	buf_free(der);
	pki_release(&p);
}
END_TEST

START_TEST(seal_without_image)
{
	struct crypto_cms_result res;
	struct pki p;
	struct buf *der;
	CMS_ContentInfo *cms;
	ASN1_OBJECT *img = image_oid();

	pki_init(&p, keys[_i]);
	der = seal(keys[_i], &p, NULL);
	cms = parse(der);
	ck_assert_int_eq(CMS_signed_get_attr_count(signer_info(cms)), 4);
	ck_assert_int_lt(
	    CMS_signed_get_attr_by_OBJ(signer_info(cms), img, -1), 0);
	verify(DOC, strlen(DOC), der, p.root, &res);
	ck_assert(res.signature_ok && res.chain_ok);
	ck_assert(!res.has_image_hash);
	crypto_cms_result_release(&res);
	ck_assert_int_eq(
	    openssl_verify(DOC, strlen(DOC), der, p.root, "any"), 0);
	ASN1_OBJECT_free(img);
	CMS_ContentInfo_free(cms);
	buf_free(der);
	pki_release(&p);
}
END_TEST

/* Empty and binary documents are sealed byte for byte (no MIME rules). */
START_TEST(binary_and_empty_documents)
{
	static const unsigned char bin[] = {
	    0x00, '\r', '\n', 0xff, '\n', 0x80, '\r', 0x00};
	struct crypto_cms_result res;
	struct crypto_seal_opts o;
	struct buf *der = NULL;
	struct pki p;

	pki_init(&p, keys[KEY_P256]);
	memset(&o, 0, sizeof(o));
	o.key = keys[KEY_P256];
	o.cert = p.seal;
	ck_assert_int_eq(
	    crypto_cms_seal(&o, bin, sizeof(bin), &der, NULL), CS_OK);
	verify(bin, sizeof(bin), der, p.root, &res);
	ck_assert(res.signature_ok);
	/* Without the chain in the seal, the issuing CA cannot be found. */
	ck_assert(!res.chain_ok);
	ck_assert_str_eq(res.reason, "unable to get local issuer certificate");
	crypto_cms_result_release(&res);
	buf_free(der);

	ck_assert_int_eq(crypto_cms_seal(&o, NULL, 0, &der, NULL), CS_OK);
	verify(NULL, 0, der, p.root, &res);
	ck_assert(res.signature_ok);
	crypto_cms_result_release(&res);
	verify("x", 1, der, p.root, &res);
	ck_assert(!res.signature_ok);
	crypto_cms_result_release(&res);
	buf_free(der);
	pki_release(&p);
}
END_TEST

/* The root and duplicates in the chain are left out. */
START_TEST(chain_leaves_out_root_and_duplicates)
{
	struct crypto_seal_opts o;
	struct buf *der = NULL;
	STACK_OF(X509) *chain = sk_X509_new_null(), *certs;
	CMS_ContentInfo *cms;
	struct pki p;

	pki_init(&p, keys[KEY_P256]);
	ck_assert_int_gt(sk_X509_push(chain, p.seal), 0);
	ck_assert_int_gt(sk_X509_push(chain, p.sub), 0);
	ck_assert_int_gt(sk_X509_push(chain, p.root), 0);
	ck_assert_int_gt(sk_X509_push(chain, p.sub), 0);
	memset(&o, 0, sizeof(o));
	o.key = keys[KEY_P256];
	o.cert = p.seal;
	o.chain = chain;
	ck_assert_int_eq(crypto_cms_seal(&o, (const unsigned char *)DOC,
	                     strlen(DOC), &der, NULL),
	    CS_OK);
	cms = parse(der);
	certs = CMS_get1_certs(cms);
	ck_assert_int_eq(sk_X509_num(certs), 2);
	sk_X509_pop_free(certs, X509_free);
	CMS_ContentInfo_free(cms);
	buf_free(der);
	sk_X509_free(chain);
	pki_release(&p);
}
END_TEST

START_TEST(seal_bad_arguments)
{
	struct crypto_seal_opts o;
	struct buf *der = (struct buf *)&der;
	struct cs_err err;
	struct pki p;

#define BAD(frag)                                                              \
	do {                                                                   \
		cs_err_clear(&err);                                            \
		ck_assert_int_eq(                                              \
		    crypto_cms_seal(&o, (const unsigned char *)DOC,            \
		        strlen(DOC), &der, &err),                              \
		    CS_ERR_INVALID);                                           \
		ck_assert_ptr_null(der);                                       \
		ck_assert_msg(strstr(err.msg, frag) != NULL, "%s", err.msg);   \
		ck_assert_int_eq(ERR_peek_error(), 0);                         \
	} while (0)

	pki_init(&p, keys[KEY_P256]);
	memset(&o, 0, sizeof(o));
	BAD("key");
	o.key = keys[KEY_P256];
	BAD("certificate");
	o.cert = p.seal;
	o.key = keys[KEY_P384];
	BAD("does not match");
	o.key = sub_key;
	o.cert = p.sub; /* a CA certificate: keyCertSign, cRLSign only */
	BAD("key usage");
	o.key = keys[KEY_P256];
	o.cert = p.seal;
	cs_err_clear(&err);
	ck_assert_int_eq(crypto_cms_seal(NULL, (const unsigned char *)DOC,
	                     strlen(DOC), &der, &err),
	    CS_ERR_INVALID);
	ck_assert_int_eq(
	    crypto_cms_seal(&o, NULL, 1, &der, &err), CS_ERR_INVALID);
#undef BAD
	pki_release(&p);
}
END_TEST

/* --- what CMS_verify() alone would let through ------------------------- */

typedef void (*tweak_fn)(CMS_SignerInfo *si, X509 *other);

/*
 * A seal made with OpenSSL directly, for what certsvc never makes: md as
 * the digest, cades for OpenSSL's own signing-certificate-v2, tweak run on
 * the SignerInfo before signing.
 */
static struct buf *
raw_seal(struct pki *p, EVP_PKEY *key, const EVP_MD *md, int cades,
    tweak_fn tweak, X509 *other)
{
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si;
	struct buf *der;
	BIO *in = BIO_new_mem_buf(DOC, (int)strlen(DOC));
	unsigned char *p8 = NULL;
	int len;

	cms = CMS_sign(
	    NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_DETACHED | CMS_BINARY);
	ck_assert_ptr_nonnull(cms);
	si = CMS_add1_signer(cms, p->seal, key, md,
	    CMS_BINARY | CMS_NOSMIMECAP | (cades ? CMS_CADES : 0));
	ck_assert_ptr_nonnull(si);
	ck_assert_int_eq(CMS_add1_cert(cms, p->sub), 1);
	if (tweak != NULL)
		tweak(si, other);
	ck_assert_int_eq(
	    CMS_final(cms, in, NULL, CMS_DETACHED | CMS_BINARY), 1);
	len = i2d_CMS_ContentInfo(cms, &p8);
	ck_assert_int_gt(len, 0);
	der = buf_from(p8, (size_t)len);
	OPENSSL_free(p8);
	BIO_free(in);
	CMS_ContentInfo_free(cms);
	return der;
}

static void
ess_of(CMS_SignerInfo *si, X509 *other)
{
	ESS_SIGNING_CERT_V2 *sc;
	unsigned char *d = NULL;
	int len;

	sc = OSSL_ESS_signing_cert_v2_new_init(EVP_sha256(), other, NULL, 0);
	len = i2d_ESS_SIGNING_CERT_V2(sc, &d);
	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(
	    CMS_signed_add1_attr_by_NID(si,
	        NID_id_smime_aa_signingCertificateV2, V_ASN1_SEQUENCE, d, len),
	    1);
	OPENSSL_free(d);
	ESS_SIGNING_CERT_V2_free(sc);
}

static void
image_attr(CMS_SignerInfo *si, const unsigned char *v, int len)
{
	ASN1_OBJECT *obj = image_oid();

	ck_assert_int_eq(
	    CMS_signed_add1_attr_by_OBJ(si, obj, V_ASN1_SEQUENCE, v, len), 1);
	ASN1_OBJECT_free(obj);
}

/* id-sha384 instead of id-sha256. */
static void
image_sha384(CMS_SignerInfo *si, X509 *other)
{
	unsigned char v[17 + 32] = {0x30, 0x2f, 0x30, 0x0b, 0x06, 0x09, 0x60,
	    0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x04, 0x20};

	(void)other;
	image_attr(si, v, (int)sizeof(v));
}

/* A 31-byte hash. */
static void
image_short(CMS_SignerInfo *si, X509 *other)
{
	unsigned char v[17 + 31] = {0x30, 0x2e, 0x30, 0x0b, 0x06, 0x09, 0x60,
	    0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x04, 0x1f};

	(void)other;
	image_attr(si, v, (int)sizeof(v));
}

/* NULL parameters: RFC 5754 says accept. */
static void
image_null_params(CMS_SignerInfo *si, X509 *other)
{
	unsigned char v[19 + 32] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
	    0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04,
	    0x20};

	(void)other;
	memcpy(v + 19, image, 32);
	image_attr(si, v, (int)sizeof(v));
}

/* The attribute twice. */
static void
image_twice(CMS_SignerInfo *si, X509 *other)
{
	unsigned char v[17 + 32] = {0x30, 0x2f, 0x30, 0x0b, 0x06, 0x09, 0x60,
	    0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x04, 0x20};

	(void)other;
	image_attr(si, v, (int)sizeof(v));
	image_attr(si, v, (int)sizeof(v));
}

/* One attribute with two values. */
static void
image_two_values(CMS_SignerInfo *si, X509 *other)
{
	unsigned char v[17 + 32] = {0x30, 0x2f, 0x30, 0x0b, 0x06, 0x09, 0x60,
	    0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x04, 0x20};
	ASN1_OBJECT *obj = image_oid();
	X509_ATTRIBUTE *a;

	(void)other;
	a = X509_ATTRIBUTE_create_by_OBJ(
	    NULL, obj, V_ASN1_SEQUENCE, v, (int)sizeof(v));
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(
	    X509_ATTRIBUTE_set1_data(a, V_ASN1_SEQUENCE, v, (int)sizeof(v)), 1);
	ck_assert_int_eq(X509_ATTRIBUTE_count(a), 2);
	ck_assert_int_eq(CMS_signed_add1_attr(si, a), 1);
	X509_ATTRIBUTE_free(a);
	ASN1_OBJECT_free(obj);
}

static void
time_generalized(CMS_SignerInfo *si, X509 *other)
{
	/* 2030 must be UTCTime (RFC 5652 11.3). */
	ASN1_GENERALIZEDTIME *t = ASN1_GENERALIZEDTIME_new();

	(void)other;
	ck_assert_int_eq(
	    ASN1_GENERALIZEDTIME_set_string(t, "20300101000000Z"), 1);
	ck_assert_int_eq(CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime,
	                     V_ASN1_GENERALIZEDTIME, t, -1),
	    1);
	ASN1_GENERALIZEDTIME_free(t);
}

static void
time_far(CMS_SignerInfo *si, X509 *other)
{
	/* 2051 is GeneralizedTime: accepted. */
	ASN1_GENERALIZEDTIME *t = ASN1_GENERALIZEDTIME_new();

	(void)other;
	ck_assert_int_eq(
	    ASN1_GENERALIZEDTIME_set_string(t, "20510101000000Z"), 1);
	ck_assert_int_eq(CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime,
	                     V_ASN1_GENERALIZEDTIME, t, -1),
	    1);
	ASN1_GENERALIZEDTIME_free(t);
}

static void
raw_verify(struct buf *der, struct pki *p, struct crypto_cms_result *res)
{
	verify(DOC, strlen(DOC), der, p->root, res);
	ck_assert(res->parsed);
	ck_assert(res->chain_ok);
}

START_TEST(verify_checks_signing_certificate)
{
	struct crypto_cms_result res;
	struct buf *der;
	struct pki p;

	pki_init(&p, keys[KEY_P256]);
	/* OpenSSL's own CAdES seal verifies: the ESS check is not ours only. */
	der = raw_seal(&p, keys[KEY_P256], EVP_sha256(), 1, NULL, NULL);
	raw_verify(der, &p, &res);
	ck_assert_msg(res.signature_ok, "%s", res.reason);
	crypto_cms_result_release(&res);
	buf_free(der);
	/* ... also with SHA-384 for the certificate (P-384 signer). */
	{
		struct pki q;

		pki_init(&q, keys[KEY_P384]);
		der = raw_seal(&q, keys[KEY_P384], EVP_sha384(), 1, NULL, NULL);
		raw_verify(der, &q, &res);
		ck_assert_msg(res.signature_ok, "%s", res.reason);
		crypto_cms_result_release(&res);
		buf_free(der);
		pki_release(&q);
	}
	/*
	 * Naming another certificate is a bad seal: CMS_verify() says 1 (and
	 * "openssl cms -verify" without -cades says yes).
	 */
	der = raw_seal(&p, keys[KEY_P256], EVP_sha256(), 0, ess_of, p.sub);
	raw_verify(der, &p, &res);
	ck_assert(!res.signature_ok);
	ck_assert_msg(strstr(res.reason, "signing-certificate") != NULL, "%s",
	    res.reason);
	crypto_cms_result_release(&res);
	ck_assert_int_eq(
	    openssl_verify(DOC, strlen(DOC), der, p.root, "any"), 0);
	ck_assert_int_ne(
	    openssl_verify_ex(DOC, strlen(DOC), der, p.root, "any", true), 0);
	buf_free(der);
	pki_release(&p);
}
END_TEST

START_TEST(verify_checks_digest_algorithm)
{
	struct crypto_cms_result res;
	struct buf *der;
	struct pki p;

	/* P-256 with SHA-384: valid CMS, not our profile. */
	pki_init(&p, keys[KEY_P256]);
	der = raw_seal(&p, keys[KEY_P256], EVP_sha384(), 0, NULL, NULL);
	raw_verify(der, &p, &res);
	ck_assert(!res.signature_ok);
	ck_assert_msg(
	    strstr(res.reason, "digest algorithm") != NULL, "%s", res.reason);
	crypto_cms_result_release(&res);
	buf_free(der);
	/* The profile's digest without CAdES attributes verifies. */
	der = raw_seal(&p, keys[KEY_P256], EVP_sha256(), 0, NULL, NULL);
	raw_verify(der, &p, &res);
	ck_assert_msg(res.signature_ok, "%s", res.reason);
	ck_assert(!res.has_image_hash);
	crypto_cms_result_release(&res);
	buf_free(der);
	pki_release(&p);
}
END_TEST

START_TEST(verify_checks_image_hash)
{
	static const struct {
		tweak_fn fn;
		bool ok;
	} cases[] = {
	    {image_sha384, false},
	    {image_short, false},
	    {image_twice, false},
	    {image_two_values, false},
	    {image_null_params, true},
	};
	struct crypto_cms_result res;
	struct buf *der;
	struct pki p;
	size_t i;

	pki_init(&p, keys[KEY_P256]);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		der = raw_seal(
		    &p, keys[KEY_P256], EVP_sha256(), 1, cases[i].fn, NULL);
		raw_verify(der, &p, &res);
		ck_assert_msg(res.signature_ok == cases[i].ok, "case %zu: %s",
		    i, res.reason);
		if (cases[i].ok) {
			ck_assert(res.has_image_hash);
			ck_assert_mem_eq(res.image_sha256, image, 32);
		} else {
			ck_assert(!res.has_image_hash);
			ck_assert_ptr_nonnull(strstr(res.reason, "image"));
		}
		crypto_cms_result_release(&res);
		buf_free(der);
	}
	pki_release(&p);
}
END_TEST

START_TEST(verify_checks_signing_time)
{
	struct crypto_cms_result res;
	struct buf *der;
	struct pki p;

	pki_init(&p, keys[KEY_P256]);
	der = raw_seal(
	    &p, keys[KEY_P256], EVP_sha256(), 1, time_generalized, NULL);
	raw_verify(der, &p, &res);
	ck_assert(!res.signature_ok);
	ck_assert_ptr_nonnull(strstr(res.reason, "signing-time"));
	crypto_cms_result_release(&res);
	buf_free(der);

	der = raw_seal(&p, keys[KEY_P256], EVP_sha256(), 1, time_far, NULL);
	raw_verify(der, &p, &res);
	ck_assert_msg(res.signature_ok, "%s", res.reason);
	ck_assert_int_eq(res.signing_time, 2556144000LL); /* 2051-01-01 */
	crypto_cms_result_release(&res);
	buf_free(der);
	pki_release(&p);
}
END_TEST

START_TEST(verify_rejects_embedded_and_two_signers)
{
	struct pki p;
	CMS_ContentInfo *cms;
	BIO *in;
	unsigned char *d = NULL;
	int len;

	pki_init(&p, keys[KEY_P256]);
	/* Content inside: not a detached seal. */
	in = BIO_new_mem_buf(DOC, (int)strlen(DOC));
	cms = CMS_sign(p.seal, keys[KEY_P256], p.chain, in, CMS_BINARY);
	ck_assert_ptr_nonnull(cms);
	len = i2d_CMS_ContentInfo(cms, &d);
	not_a_seal(d, (size_t)len, p.root, "detached");
	OPENSSL_free(d);
	d = NULL;
	CMS_ContentInfo_free(cms);
	BIO_free(in);

	/* Two signers. */
	in = BIO_new_mem_buf(DOC, (int)strlen(DOC));
	cms = CMS_sign(
	    NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_DETACHED | CMS_BINARY);
	ck_assert_ptr_nonnull(CMS_add1_signer(
	    cms, p.seal, keys[KEY_P256], EVP_sha256(), CMS_BINARY));
	ck_assert_ptr_nonnull(
	    CMS_add1_signer(cms, p.sub, sub_key, EVP_sha256(), CMS_BINARY));
	ck_assert_int_eq(
	    CMS_final(cms, in, NULL, CMS_DETACHED | CMS_BINARY), 1);
	len = i2d_CMS_ContentInfo(cms, &d);
	not_a_seal(d, (size_t)len, p.root, "one signer");
	OPENSSL_free(d);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	pki_release(&p);
}
END_TEST

/* A seal whose signer certificate is left out cannot be checked. */
START_TEST(verify_needs_signer_certificate)
{
	struct crypto_cms_result res;
	struct buf *der;
	struct pki p;
	CMS_ContentInfo *cms;
	BIO *in = BIO_new_mem_buf(DOC, (int)strlen(DOC));
	unsigned char *d = NULL;
	int len;

	pki_init(&p, keys[KEY_P256]);
	cms = CMS_sign(p.seal, keys[KEY_P256], NULL, in,
	    CMS_DETACHED | CMS_BINARY | CMS_NOCERTS);
	ck_assert_ptr_nonnull(cms);
	len = i2d_CMS_ContentInfo(cms, &d);
	der = buf_from(d, (size_t)len);
	verify(DOC, strlen(DOC), der, p.root, &res);
	ck_assert(res.parsed);
	ck_assert(!res.signature_ok);
	ck_assert(!res.chain_ok);
	ck_assert_ptr_null(res.signer);
	ck_assert_ptr_nonnull(strstr(res.reason, "signer certificate"));
	crypto_cms_result_release(&res);
	buf_free(der);
	OPENSSL_free(d);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	pki_release(&p);
}
END_TEST

/* --- token-backed keys -----------------------------------------------------
 */

START_TEST(token_key_seals)
{
	struct certfix_signer s = {keys[_i], CS_OK, 0, false};
	EVP_PKEY *tk = certfix_token_key(&s);
	struct crypto_cms_result res;
	struct pki p;
	struct buf *der;
	CMS_ContentInfo *cms;

	ck_assert_ptr_nonnull(tk);
	pki_init(&p, keys[_i]);
	der = seal(tk, &p, image); /* CMS_CADES through the provider */
	ck_assert_int_eq(s.calls, 1);
	verify(DOC, strlen(DOC), der, p.root, &res);
	ck_assert_msg(res.signature_ok && res.chain_ok, "%s", res.reason);
	ck_assert(res.has_image_hash);
	crypto_cms_result_release(&res);
	ck_assert_int_eq(
	    openssl_verify(DOC, strlen(DOC), der, p.root, "any"), 0);
	cms = parse(der);
	check_ess(attr_value(signer_info(cms),
	              OBJ_nid2obj(NID_id_smime_aa_signingCertificateV2))
	              ->value.sequence,
	    p.seal);
	CMS_ContentInfo_free(cms);
	buf_free(der);
	pki_release(&p);
	EVP_PKEY_free(tk);
}
END_TEST

/*
 * A glitched token: an RSA seal is refused before it leaves (a faulty
 * RSA-CRT signature reveals the key); an ECDSA one comes out and its
 * verification fails.
 */
START_TEST(faulty_signature_rsa_refused_ecdsa_unverifiable)
{
	struct certfix_signer s = {keys[_i], CS_OK, 0, true};
	EVP_PKEY *tk = certfix_token_key(&s);
	struct crypto_seal_opts o;
	struct crypto_cms_result res;
	struct cs_err err = {0};
	struct buf *der = NULL;
	struct pki p;

	ck_assert_ptr_nonnull(tk);
	pki_init(&p, keys[_i]);
	seal_opts(&o, tk, &p, NULL);
	if (_i == KEY_RSA3072) {
		ck_assert_int_eq(crypto_cms_seal(&o, (const unsigned char *)DOC,
		                     strlen(DOC), &der, &err),
		    CS_ERR_CRYPTO);
		ck_assert_ptr_null(der);
		ck_assert_ptr_nonnull(strstr(err.msg, "faulty"));
	} else {
		ck_assert_int_eq(crypto_cms_seal(&o, (const unsigned char *)DOC,
		                     strlen(DOC), &der, &err),
		    CS_OK);
		verify(DOC, strlen(DOC), der, p.root, &res);
		ck_assert(!res.signature_ok);
		crypto_cms_result_release(&res);
		buf_free(der);
	}
	ck_assert_int_eq(ERR_peek_error(), 0);
	pki_release(&p);
	EVP_PKEY_free(tk);
}
END_TEST

START_TEST(token_failure_is_reported)
{
	struct certfix_signer s = {keys[_i], CS_ERR_TOKEN, 0, false};
	EVP_PKEY *tk = certfix_token_key(&s);
	struct crypto_seal_opts o;
	struct buf *der = (struct buf *)&der;
	struct cs_err err;
	struct pki p;

	ck_assert_ptr_nonnull(tk);
	pki_init(&p, keys[_i]);
	seal_opts(&o, tk, &p, NULL);
	cs_err_clear(&err);
	ck_assert_int_eq(crypto_cms_seal(&o, (const unsigned char *)DOC,
	                     strlen(DOC), &der, &err),
	    CS_ERR_TOKEN);
	ck_assert_ptr_null(der);
	ck_assert_str_ne(err.msg, "");
	ck_assert_int_eq(ERR_peek_error(), 0);
	pki_release(&p);
	EVP_PKEY_free(tk);
}
END_TEST

/* A template seals what crypto_cms_seal() seals, verifiably. */
START_TEST(template_seals_verify)
{
	struct certfix_signer s = {keys[_i], CS_OK, 0, false};
	EVP_PKEY *tk = certfix_token_key(&s);
	struct crypto_seal_tmpl *t = NULL;
	struct crypto_seal_opts o;
	struct crypto_cms_result res;
	struct cs_err err = {0};
	struct buf *der = NULL;
	struct pki p;
	int64_t now;
	int round;

	ck_assert_ptr_nonnull(tk);
	pki_init(&p, keys[_i]);
	/* Through the provider, as a token key signs. */
	seal_opts(&o, tk, &p, image);
	ck_assert_msg(
	    crypto_seal_tmpl_new(&o, &t, &err) == CS_OK, "%s", err.msg);
	for (round = 0; round < 3; round++) {
		const char *doc = round == 0 ? DOC : round == 1 ? "" : "x";

		now = (int64_t)time(NULL);
		ck_assert_msg(
		    crypto_seal_tmpl_seal(t, (const unsigned char *)doc,
		        strlen(doc), &der, &err) == CS_OK,
		    "%s", err.msg);
		verify(doc, strlen(doc), der, p.root, &res);
		ck_assert(res.parsed);
		ck_assert(res.signature_ok);
		ck_assert(res.chain_ok);
		ck_assert(res.has_image_hash);
		ck_assert_mem_eq(res.image_sha256, image, sizeof(image));
		ck_assert_int_ge(res.signing_time, now);
		ck_assert_int_le(res.signing_time, now + 2);
		crypto_cms_result_release(&res);
		/* Not over another document. */
		verify("y", 1, der, p.root, &res);
		ck_assert(!res.signature_ok);
		crypto_cms_result_release(&res);
		buf_free(der);
		der = NULL;
	}
	/* A signer that turns faulty: an RSA seal never leaves. */
	s.faulty = true;
	if (_i == KEY_RSA3072) {
		ck_assert_int_eq(
		    crypto_seal_tmpl_seal(
		        t, (const unsigned char *)DOC, strlen(DOC), &der, &err),
		    CS_ERR_CRYPTO);
		ck_assert_ptr_null(der);
		ck_assert_ptr_nonnull(strstr(err.msg, "faulty"));
	}
	s.faulty = false;
	s.fail = CS_ERR_TOKEN;
	ck_assert_int_eq(crypto_seal_tmpl_seal(t, (const unsigned char *)DOC,
	                     strlen(DOC), &der, &err),
	    CS_ERR_TOKEN);
	ck_assert_ptr_null(der);
	ck_assert_int_eq(ERR_peek_error(), 0);
	crypto_seal_tmpl_free(t);
	pki_release(&p);
	EVP_PKEY_free(tk);
}
END_TEST

/*
 * With a deterministic signature (RSA PKCS#1 v1.5), a template's seal is
 * crypto_cms_seal()'s, octet for octet, when both fall in one second.
 */
START_TEST(template_is_octet_identical)
{
	struct crypto_seal_tmpl *t = NULL;
	struct crypto_seal_opts o;
	struct buf *a = NULL, *b = NULL, *c = NULL;
	struct pki p;
	int tries;
	bool compared = false;

	pki_init(&p, keys[KEY_RSA3072]);
	seal_opts(&o, keys[KEY_RSA3072], &p, image);
	ck_assert_int_eq(crypto_seal_tmpl_new(&o, &t, NULL), CS_OK);
	for (tries = 0; tries < 5 && !compared; tries++) {
		ck_assert_int_eq(crypto_cms_seal(&o, (const unsigned char *)DOC,
		                     strlen(DOC), &a, NULL),
		    CS_OK);
		ck_assert_int_eq(
		    crypto_seal_tmpl_seal(
		        t, (const unsigned char *)DOC, strlen(DOC), &b, NULL),
		    CS_OK);
		ck_assert_int_eq(crypto_cms_seal(&o, (const unsigned char *)DOC,
		                     strlen(DOC), &c, NULL),
		    CS_OK);
		if (a->len == c->len && memcmp(a->data, c->data, a->len) == 0) {
			ck_assert_uint_eq(b->len, a->len);
			ck_assert_mem_eq(b->data, a->data, a->len);
			compared = true;
		}
		buf_free(a);
		buf_free(b);
		buf_free(c);
	}
	ck_assert_msg(compared, "never two seals in one second");
	crypto_seal_tmpl_free(t);
	pki_release(&p);
}
END_TEST

/* One parse per certificate; the least recently used goes when full. */
START_TEST(cert_cache_reuses_and_evicts)
{
	struct crypto_cert_cache *c = NULL;
	struct buf *d[3] = {NULL, NULL, NULL};
	X509 *a, *b, *x;
	struct pki p;
	bool valid = false;
	int i;

	pki_init(&p, keys[KEY_P256]);
	ck_assert_int_eq(crypto_cert_to_der(p.seal, &d[0], NULL), CS_OK);
	ck_assert_int_eq(crypto_cert_to_der(p.sub, &d[1], NULL), CS_OK);
	ck_assert_int_eq(crypto_cert_to_der(p.root, &d[2], NULL), CS_OK);
	ck_assert_int_eq(crypto_cert_cache_new(0, &c, NULL), CS_ERR_INVALID);
	ck_assert_int_eq(crypto_cert_cache_new(2, &c, NULL), CS_OK);
	ck_assert_int_eq(
	    crypto_cert_cache_get(c, d[0]->data, d[0]->len, &a, NULL), CS_OK);
	ck_assert_int_eq(
	    crypto_cert_cache_get(c, d[0]->data, d[0]->len, &b, NULL), CS_OK);
	ck_assert_ptr_eq(a, b); /* parsed once */
	ck_assert_int_eq(X509_cmp(a, p.seal), 0);
	X509_free(b);
	/* A good chain is remembered for that object, a bad one is not. */
	ck_assert_int_eq(crypto_cert_cache_chain(
	                     c, a, p.root, p.chain, 0, &valid, NULL, 0, NULL),
	    CS_OK);
	ck_assert(valid);
	ck_assert_int_eq(crypto_cert_cache_chain(
	                     c, a, p.root, NULL, 0, &valid, NULL, 0, NULL),
	    CS_OK);
	ck_assert(valid); /* from the memo: the chain is not needed again */
	ck_assert_int_eq(crypto_cert_cache_chain(
	                     c, a, p.sub, NULL, 0, &valid, NULL, 0, NULL),
	    CS_OK);
	ck_assert(!valid); /* another anchor: verified, and it fails */
	/* Two more: the seal's (least recently used) entry goes. */
	for (i = 1; i < 3; i++) {
		ck_assert_int_eq(
		    crypto_cert_cache_get(c, d[i]->data, d[i]->len, &x, NULL),
		    CS_OK);
		X509_free(x);
	}
	ck_assert_int_eq(
	    crypto_cert_cache_get(c, d[0]->data, d[0]->len, &b, NULL), CS_OK);
	ck_assert_ptr_ne(a, b);
	X509_free(a);
	X509_free(b);
	/* Garbage is no certificate. */
	ck_assert_int_eq(
	    crypto_cert_cache_get(
	        c, (const unsigned char *)"\x30\x03\x02\x01\x01", 5, &x, NULL),
	    CS_ERR_INVALID);
	crypto_cert_cache_free(c);
	for (i = 0; i < 3; i++)
		buf_free(d[i]);
	pki_release(&p);
	ck_assert_int_eq(ERR_peek_error(), 0);
}
END_TEST

START_TEST(oid_is_under_uuid_arc)
{
	ASN1_OBJECT *obj = image_oid();
	char txt[128];

	ck_assert_int_eq(strncmp(CRYPTO_OID_SEAL_IMAGE_HASH, "2.25.", 5), 0);
	ck_assert_int_gt(OBJ_obj2txt(txt, sizeof(txt), obj, 1), 0);
	ck_assert_str_eq(txt, CRYPTO_OID_SEAL_IMAGE_HASH);
	ASN1_OBJECT_free(obj);
}
END_TEST

static Suite *
cms_suite(void)
{
	Suite *s = suite_create("cms");
	TCase *tc;

	tc = tcase_create("seal");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, seal_verifies, 0, KEY_N);
	tcase_add_loop_test(tc, tampered_document_fails, 0, KEY_N);
	tcase_add_test(tc, wrong_root_breaks_chain);
	tcase_add_test(tc, binary_and_empty_documents);
	suite_add_tcase(s, tc);

	tc = tcase_create("profile");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, signed_attributes_exact, 0, KEY_N);
	tcase_add_test(tc, cmsout_print_lists_attributes);
	tcase_add_loop_test(tc, seal_without_image, 0, KEY_N);
	tcase_add_test(tc, chain_leaves_out_root_and_duplicates);
	tcase_add_test(tc, oid_is_under_uuid_arc);
	tcase_add_test(tc, cert_cache_reuses_and_evicts);
	tcase_add_loop_test(tc, template_seals_verify, 0, KEY_N);
	tcase_add_test(tc, template_is_octet_identical);
	suite_add_tcase(s, tc);

	tc = tcase_create("input");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, malformed_seals_are_answers, 0, KEY_N);
	tcase_add_test(tc, seal_bad_arguments);
	tcase_add_test(tc, verify_rejects_embedded_and_two_signers);
	tcase_add_test(tc, verify_needs_signer_certificate);
	suite_add_tcase(s, tc);

	tc = tcase_create("strict");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, verify_checks_signing_certificate);
	tcase_add_test(tc, verify_checks_digest_algorithm);
	tcase_add_test(tc, verify_checks_image_hash);
	tcase_add_test(tc, verify_checks_signing_time);
	suite_add_tcase(s, tc);

	tc = tcase_create("token");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, token_key_seals, 0, KEY_N);
	tcase_add_loop_test(tc, token_failure_is_reported, 0, KEY_N);
	tcase_add_loop_test(
	    tc, faulty_signature_rsa_refused_ecdsa_unverifiable, 0, KEY_N);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int nfailed, i;

	keys[KEY_P256] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	keys[KEY_P384] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	keys[KEY_RSA3072] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
	root_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	sub_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	other_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	for (i = 0; i < KEY_N; i++)
		if (keys[i] == NULL)
			return EXIT_FAILURE;
	if (root_key == NULL || sub_key == NULL || other_key == NULL ||
	    EVP_Digest("seal image", 10, image, NULL, EVP_sha256(), NULL) != 1)
		return EXIT_FAILURE;
	sr = srunner_create(cms_suite());
	srunner_run_all(sr, CK_NORMAL);
	nfailed = srunner_ntests_failed(sr);
	srunner_free(sr);
	EVP_PKEY_free(other_key);
	EVP_PKEY_free(sub_key);
	EVP_PKEY_free(root_key);
	for (i = 0; i < KEY_N; i++)
		EVP_PKEY_free(keys[i]);
	return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
