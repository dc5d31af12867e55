/*
 * check_p11_prov.c: EVP_PKEYs backed by a signing callback.  A software
 * signer (EVP_PKEY_sign over the digest, PKCS#1 v1.5 for RSA) stands in
 * for the token, exactly as the token behaves; the public key the
 * provider sees never holds a private part.  Every structure certsvc makes
 * is signed with such a key and verified by OpenSSL and by the CLI.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certsvc/err.h"
#include "certsvc/mem.h"
#include "pkcs11/p11.h"
#include "tests/testutil.h"

enum { KEY_P256, KEY_P384, KEY_RSA3072, KEY_N };

static const char *const key_names[KEY_N] = {"P-256", "P-384", "RSA-3072"};

/* Made once in main() so forked tests do not pay for RSA key generation. */
static EVP_PKEY *keys[KEY_N];
static EVP_PKEY *root_key;
static X509 *root_cert;

/* --- the software signer ---------------------------------------------- */

struct sw_signer {
	EVP_PKEY *priv;
	atomic_int calls;
	enum cs_rc fail; /* CS_OK: sign; else fail with it */
	atomic_int *freed;
};

static enum cs_rc
sw_sign(void *arg, int md_nid, const unsigned char *dgst, size_t dlen,
    unsigned char *sig, size_t *siglen, struct cs_err *err)
{
	struct sw_signer *s = arg;
	enum cs_rc rc;

	atomic_fetch_add(&s->calls, 1);
	if (s->fail != CS_OK)
		return cs_err_set(err, s->fail, "token unavailable");
	rc = testutil_sw_sign(s->priv, md_nid, dgst, dlen, sig, siglen, err);
	return rc;
}

static void
sw_free(void *arg)
{
	struct sw_signer *s = arg;

	if (s->freed != NULL)
		atomic_fetch_add(s->freed, 1);
	free(s);
}

static EVP_PKEY *
pub_only(EVP_PKEY *k)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *pub;
	int len;

	len = i2d_PUBKEY(k, &der);
	ck_assert_int_gt(len, 0);
	p = der;
	pub = d2i_PUBKEY(NULL, &p, len);
	ck_assert_ptr_nonnull(pub);
	OPENSSL_free(der);
	return pub;
}

/* A token-like key for keys[i]; *sp (may be NULL) gets its signer. */
static void root_init(void);

static EVP_PKEY *
token_key(int i, struct sw_signer **sp)
{
	struct sw_signer *s;
	EVP_PKEY *pub, *tk = NULL;

	root_init();
	s = calloc(1, sizeof(*s));
	ck_assert_ptr_nonnull(s);
	s->priv = keys[i];
	pub = pub_only(keys[i]);
	ck_assert_int_eq(
	    p11_evp_from_signer(pub, sw_sign, s, sw_free, &tk, NULL), CS_OK);
	EVP_PKEY_free(pub); /* the key holds its own reference */
	if (sp != NULL)
		*sp = s;
	return tk;
}

static const EVP_MD *
md_for(int i)
{
	return i == KEY_P384 ? EVP_sha384() : EVP_sha256();
}

/* --- certificates for the tests --------------------------------------- */

enum cert_kind { CERT_CA, CERT_TSA, CERT_LEAF };

static void
add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *ext;

	ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);
	ck_assert_ptr_nonnull(ext);
	ck_assert_int_eq(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/* issuer NULL: self-signed by ikey. */
static X509 *
mk_cert(EVP_PKEY *subject, const char *cn, X509 *issuer, EVP_PKEY *ikey,
    const EVP_MD *md, enum cert_kind kind)
{
	unsigned char serial[8];
	X509V3_CTX v3;
	BIGNUM *bn;
	X509 *x;

	x = X509_new();
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(X509_set_version(x, X509_VERSION_3), 1);
	ck_assert_int_eq(RAND_bytes(serial, sizeof(serial)), 1);
	serial[0] &= 0x7f;
	serial[0] |= 0x01;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	ck_assert_ptr_nonnull(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)));
	BN_free(bn);
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	ck_assert_int_eq(
	    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	        MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0),
	    1);
	ck_assert_int_eq(X509_set_issuer_name(x,
	                     issuer != NULL ? X509_get_subject_name(issuer)
	                                    : X509_get_subject_name(x)),
	    1);
	ck_assert_int_eq(X509_set_pubkey(x, subject), 1);
	X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	switch (kind) {
	case CERT_CA:
		add_ext(x, &v3, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, &v3, NID_key_usage,
		    "critical,keyCertSign,cRLSign,digitalSignature");
		break;
	case CERT_TSA:
		add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(x, &v3, NID_key_usage, "critical,digitalSignature");
		add_ext(x, &v3, NID_ext_key_usage, "critical,timeStamping");
		break;
	case CERT_LEAF:
		add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(x, &v3, NID_key_usage, "critical,digitalSignature");
		break;
	}
	add_ext(x, &v3, NID_subject_key_identifier, "hash");
	if (issuer != NULL)
		add_ext(x, &v3, NID_authority_key_identifier, "keyid:always");
	ck_assert_int_gt(X509_sign(x, ikey, md), 0);
	return x;
}

/* Made in each test that needs it (ck_assert works only inside tests). */
static void
root_init(void)
{
	if (root_cert == NULL)
		root_cert = mk_cert(root_key, "test root", NULL, root_key,
		    EVP_sha256(), CERT_CA);
}

/* A store trusting root_cert (and extra, if not NULL). */
static X509_STORE *
mk_store(X509 *extra)
{
	X509_STORE *st = X509_STORE_new();

	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(X509_STORE_add_cert(st, root_cert), 1);
	if (extra != NULL)
		ck_assert_int_eq(X509_STORE_add_cert(st, extra), 1);
	return st;
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
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long len;

	ck_assert_int_eq(PEM_write_bio_X509(b, x), 1);
	len = BIO_get_mem_data(b, &data);
	write_file(dir, name, data, (size_t)len, path, pathsz);
	BIO_free(b);
}

/* The AlgorithmIdentifier certsvc expects for key i (DER). */
static void
check_sig_alg(const X509_ALGOR *alg, int i)
{
	const ASN1_OBJECT *obj;
	const void *pval;
	int ptype;
	int want;

	X509_ALGOR_get0(&obj, &ptype, &pval, alg);
	want = i == KEY_P256 ? NID_ecdsa_with_SHA256
	    : i == KEY_P384  ? NID_ecdsa_with_SHA384
	                     : NID_sha256WithRSAEncryption;
	ck_assert_int_eq(OBJ_obj2nid(obj), want);
	/* RFC 5758: absent for ECDSA; RFC 4055: NULL for RSA. */
	ck_assert_int_eq(ptype, i == KEY_RSA3072 ? V_ASN1_NULL : V_ASN1_UNDEF);
}

/* --- tests -------------------------------------------------------------- */

START_TEST(key_describes_itself)
{
	struct sw_signer *s;
	EVP_PKEY *tk = token_key(_i, &s);
	unsigned char *a = NULL, *b = NULL;
	char mdname[64];
	int alen, blen;

	ck_assert_int_eq(EVP_PKEY_get_bits(tk), EVP_PKEY_get_bits(keys[_i]));
	ck_assert_int_eq(EVP_PKEY_get_security_bits(tk),
	    EVP_PKEY_get_security_bits(keys[_i]));
	ck_assert_int_eq(EVP_PKEY_get_size(tk), EVP_PKEY_get_size(keys[_i]));
	ck_assert(EVP_PKEY_is_a(tk, _i == KEY_RSA3072 ? "RSA" : "EC"));
	ck_assert_int_eq(EVP_PKEY_get_base_id(tk),
	    _i == KEY_RSA3072 ? EVP_PKEY_RSA : EVP_PKEY_EC);
	ck_assert_int_gt(
	    EVP_PKEY_get_default_digest_name(tk, mdname, sizeof(mdname)), 0);
	ck_assert_str_eq(mdname, _i == KEY_P384 ? "SHA384" : "SHA256");
	/* Same SubjectPublicKeyInfo as the software key. */
	alen = i2d_PUBKEY(tk, &a);
	blen = i2d_PUBKEY(keys[_i], &b);
	ck_assert_int_gt(alen, 0);
	ck_assert_int_eq(alen, blen);
	ck_assert_mem_eq(a, b, (size_t)alen);
	ck_assert_int_eq(EVP_PKEY_eq(keys[_i], tk), 1);
	ck_assert_int_eq(EVP_PKEY_eq(tk, keys[(_i + 1) % KEY_N]) == 1, 0);
	ck_assert_int_eq(s->calls, 0);
	ERR_clear_error();
	OPENSSL_free(a);
	OPENSSL_free(b);
	EVP_PKEY_free(tk);
}
END_TEST

START_TEST(x509_self_signed_verifies)
{
	struct sw_signer *s;
	EVP_PKEY *tk = token_key(_i, &s);
	X509 *x;

	x = mk_cert(tk, "token self-signed", NULL, tk, md_for(_i), CERT_CA);
	ck_assert_int_eq(s->calls, 1);
	ck_assert_int_eq(X509_verify(x, X509_get0_pubkey(x)), 1);
	ck_assert_int_eq(X509_verify(x, keys[_i]), 1);
	ck_assert_int_eq(X509_check_private_key(x, tk), 1);
	check_sig_alg(X509_get0_tbs_sigalg(x), _i);
	{
		const X509_ALGOR *outer;

		X509_get0_signature(NULL, &outer, x);
		check_sig_alg(outer, _i);
	}
	ck_assert_int_eq(ERR_peek_error(), 0);
	X509_free(x);
	EVP_PKEY_free(tk);
}
END_TEST

START_TEST(x509_issued_by_token_verifies_in_chain)
{
	EVP_PKEY *tk = token_key(_i, NULL);
	X509 *ca, *leaf;
	X509_STORE *st;
	X509_STORE_CTX *vctx;
	STACK_OF(X509) *chain = sk_X509_new_null();

	ca =
	    mk_cert(tk, "token CA", root_cert, root_key, EVP_sha256(), CERT_CA);
	leaf = mk_cert(root_key, "leaf", ca, tk, md_for(_i), CERT_LEAF);
	st = mk_store(NULL);
	vctx = X509_STORE_CTX_new();
	ck_assert_int_eq(sk_X509_push(chain, ca), 1);
	ck_assert_int_eq(X509_STORE_CTX_init(vctx, st, leaf, chain), 1);
	X509_STORE_CTX_set_flags(vctx, X509_V_FLAG_X509_STRICT);
	ck_assert_msg(X509_verify_cert(vctx) == 1, "%s",
	    X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx)));
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(st);
	sk_X509_free(chain);
	X509_free(leaf);
	X509_free(ca);
	EVP_PKEY_free(tk);
}
END_TEST

START_TEST(cms_detached_verifies)
{
	static const char doc[] = "{\"licence\":\"L-1\",\"holder\":\"x\"}";
	struct sw_signer *s;
	EVP_PKEY *tk = token_key(_i, &s);
	unsigned int flags = CMS_DETACHED | CMS_BINARY | CMS_PARTIAL;
	CMS_ContentInfo *cms, *back;
	X509 *ca;
	X509_STORE *st;
	BIO *data, *der, *in;
	char dir[PATH_MAX], cmsp[PATH_MAX + 16], docp[PATH_MAX + 16];
	char rootp[PATH_MAX + 16];
	unsigned char *p;
	const unsigned char *cp;
	long len;

	ca = mk_cert(
	    tk, "token signer", root_cert, root_key, EVP_sha256(), CERT_CA);
	data = BIO_new_mem_buf(doc, (int)strlen(doc));
	cms = CMS_sign(NULL, NULL, NULL, NULL, flags);
	ck_assert_ptr_nonnull(cms);
	ck_assert_ptr_nonnull(
	    CMS_add1_signer(cms, ca, tk, md_for(_i), flags & ~CMS_PARTIAL));
	ck_assert_int_eq(CMS_final(cms, data, NULL, flags & ~CMS_PARTIAL), 1);
	ck_assert_int_eq(s->calls, 1);
	der = BIO_new(BIO_s_mem());
	ck_assert_int_eq(i2d_CMS_bio(der, cms), 1);
	len = BIO_get_mem_data(der, (char **)&p);
	ck_assert_int_gt(len, 0);

	/* Verify what was written, not the in-memory structure. */
	cp = p;
	back = d2i_CMS_ContentInfo(NULL, &cp, len);
	ck_assert_ptr_nonnull(back);
	st = mk_store(NULL);
	in = BIO_new_mem_buf(doc, (int)strlen(doc));
	ck_assert_int_eq(CMS_verify(back, NULL, st, in, NULL, CMS_BINARY), 1);
	{
		STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(back);
		CMS_SignerInfo *si = sk_CMS_SignerInfo_value(sis, 0);
		X509_ALGOR *dig, *sig;

		ck_assert_int_gt(CMS_signed_get_attr_count(si), 0);
		CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, &sig);
		ck_assert_int_eq(
		    OBJ_obj2nid(dig->algorithm), EVP_MD_get_type(md_for(_i)));
		ck_assert_int_eq(OBJ_obj2nid(sig->algorithm),
		    _i == KEY_RSA3072    ? NID_rsaEncryption
		        : _i == KEY_P384 ? NID_ecdsa_with_SHA384
		                         : NID_ecdsa_with_SHA256);
	}

	testutil_tmpdir(dir, sizeof(dir));
	write_file(dir, "seal.der", p, (size_t)len, cmsp, sizeof(cmsp));
	write_file(dir, "doc.json", doc, strlen(doc), docp, sizeof(docp));
	write_pem(dir, "root.pem", root_cert, rootp, sizeof(rootp));
	{
		char *argv[] = {"openssl", "cms", "-verify", "-binary",
		    "-inform", "DER", "-in", cmsp, "-content", docp, "-CAfile",
		    rootp, "-purpose", "any", "-out", "/dev/null", NULL};

		ck_assert_int_eq(testutil_run(argv), 0);
	}
	BIO_free(in);
	BIO_free(der);
	BIO_free(data);
	X509_STORE_free(st);
	CMS_ContentInfo_free(back);
	CMS_ContentInfo_free(cms);
	X509_free(ca);
	EVP_PKEY_free(tk);
}
END_TEST

START_TEST(cms_without_attributes_verifies)
{
	static const char doc[] = "raw signature path";
	EVP_PKEY *tk = token_key(_i, NULL);
	unsigned int flags = CMS_DETACHED | CMS_BINARY | CMS_NOATTR;
	CMS_ContentInfo *cms;
	X509_STORE *st;
	X509 *ca;
	BIO *data, *in;

	ca = mk_cert(
	    tk, "token signer", root_cert, root_key, EVP_sha256(), CERT_CA);
	data = BIO_new_mem_buf(doc, (int)strlen(doc));
	cms = CMS_sign(ca, tk, NULL, data, flags);
	ck_assert_ptr_nonnull(cms);
	st = mk_store(NULL);
	in = BIO_new_mem_buf(doc, (int)strlen(doc));
	ck_assert_int_eq(CMS_verify(cms, NULL, st, in, NULL, CMS_BINARY), 1);
	BIO_free(in);
	BIO_free(data);
	X509_STORE_free(st);
	CMS_ContentInfo_free(cms);
	X509_free(ca);
	EVP_PKEY_free(tk);
}
END_TEST

/* CMS_KEY_PARAM: CMS asks the signing context for its padding and digest. */
START_TEST(cms_key_param_queries)
{
	static const char doc[] = "key param";
	EVP_PKEY *tk = token_key(_i, NULL);
	unsigned int flags = CMS_DETACHED | CMS_BINARY | CMS_PARTIAL;
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si;
	EVP_PKEY_CTX *pctx;
	const EVP_MD *md = NULL;
	X509_STORE *st;
	X509 *ca;
	BIO *data, *in;
	int pad = 0;

	ca = mk_cert(
	    tk, "token signer", root_cert, root_key, EVP_sha256(), CERT_CA);
	cms = CMS_sign(NULL, NULL, NULL, NULL, flags);
	si = CMS_add1_signer(cms, ca, tk, md_for(_i), CMS_KEY_PARAM | flags);
	ck_assert_ptr_nonnull(si);
	pctx = CMS_SignerInfo_get0_pkey_ctx(si);
	ck_assert_ptr_nonnull(pctx);
	ck_assert_int_eq(EVP_PKEY_CTX_get_signature_md(pctx, &md), 1);
	ck_assert_int_eq(EVP_MD_get_type(md), EVP_MD_get_type(md_for(_i)));
	if (_i == KEY_RSA3072) {
		ck_assert_int_eq(
		    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING), 1);
		/* > 0: OpenSSL 3.0's ctrl translation returns 5 here. */
		ck_assert_int_gt(EVP_PKEY_CTX_get_rsa_padding(pctx, &pad), 0);
		ck_assert_int_eq(pad, RSA_PKCS1_PADDING);
	}
	data = BIO_new_mem_buf(doc, (int)strlen(doc));
	ck_assert_int_eq(CMS_final(cms, data, NULL, flags & ~CMS_PARTIAL), 1);
	st = mk_store(NULL);
	in = BIO_new_mem_buf(doc, (int)strlen(doc));
	ck_assert_int_eq(CMS_verify(cms, NULL, st, in, NULL, CMS_BINARY), 1);
	ck_assert_int_eq(ERR_peek_error(), 0);
	BIO_free(in);
	BIO_free(data);
	X509_STORE_free(st);
	CMS_ContentInfo_free(cms);
	X509_free(ca);
	EVP_PKEY_free(tk);
}
END_TEST

START_TEST(ocsp_response_verifies)
{
	EVP_PKEY *tk = token_key(_i, NULL);
	OCSP_BASICRESP *bs, *back;
	OCSP_CERTID *id;
	X509 *ca, *leaf;
	X509_STORE *st;
	STACK_OF(X509) *certs = sk_X509_new_null();
	ASN1_TIME *now;
	unsigned char *der = NULL;
	const unsigned char *p;
	int len;

	ca =
	    mk_cert(tk, "token CA", root_cert, root_key, EVP_sha256(), CERT_CA);
	leaf = mk_cert(root_key, "leaf", ca, tk, md_for(_i), CERT_LEAF);
	id = OCSP_cert_to_id(NULL, leaf, ca);
	bs = OCSP_BASICRESP_new();
	now = X509_gmtime_adj(NULL, 0);
	ck_assert_ptr_nonnull(OCSP_basic_add1_status(
	    bs, id, V_OCSP_CERTSTATUS_GOOD, 0, NULL, now, NULL));
	ck_assert_int_eq(OCSP_basic_sign(bs, ca, tk, md_for(_i), NULL, 0), 1);
	len = i2d_OCSP_BASICRESP(bs, &der);
	ck_assert_int_gt(len, 0);
	p = der;
	back = d2i_OCSP_BASICRESP(NULL, &p, len);
	ck_assert_ptr_nonnull(back);
	check_sig_alg(OCSP_resp_get0_tbs_sigalg(back), _i);
	st = mk_store(NULL);
	ck_assert_int_eq(OCSP_basic_verify(back, certs, st, 0), 1);
	X509_STORE_free(st);
	OCSP_BASICRESP_free(back);
	OPENSSL_free(der);
	ASN1_TIME_free(now);
	OCSP_BASICRESP_free(bs);
	OCSP_CERTID_free(id);
	sk_X509_free(certs);
	X509_free(leaf);
	X509_free(ca);
	EVP_PKEY_free(tk);
}
END_TEST

START_TEST(crl_verifies)
{
	EVP_PKEY *tk = token_key(_i, NULL);
	X509_CRL *crl;
	X509_REVOKED *rev;
	ASN1_INTEGER *serial;
	ASN1_TIME *t;
	X509 *ca;

	ca =
	    mk_cert(tk, "token CA", root_cert, root_key, EVP_sha256(), CERT_CA);
	crl = X509_CRL_new();
	ck_assert_int_eq(X509_CRL_set_version(crl, X509_CRL_VERSION_2), 1);
	ck_assert_int_eq(
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)), 1);
	t = X509_gmtime_adj(NULL, 0);
	ck_assert_int_eq(X509_CRL_set1_lastUpdate(crl, t), 1);
	ck_assert_ptr_nonnull(X509_gmtime_adj(t, 86400));
	ck_assert_int_eq(X509_CRL_set1_nextUpdate(crl, t), 1);
	rev = X509_REVOKED_new();
	serial = ASN1_INTEGER_new();
	ck_assert_int_eq(ASN1_INTEGER_set(serial, 4242), 1);
	ck_assert_int_eq(X509_REVOKED_set_serialNumber(rev, serial), 1);
	ck_assert_int_eq(X509_REVOKED_set_revocationDate(rev, t), 1);
	ck_assert_int_eq(X509_CRL_add0_revoked(crl, rev), 1);
	ck_assert_int_eq(X509_CRL_sort(crl), 1);
	ck_assert_int_gt(X509_CRL_sign(crl, tk, md_for(_i)), 0);
	ck_assert_int_eq(X509_CRL_verify(crl, X509_get0_pubkey(ca)), 1);
	{
		const X509_ALGOR *alg;

		X509_CRL_get0_signature(crl, NULL, &alg);
		check_sig_alg(alg, _i);
	}
	ASN1_INTEGER_free(serial);
	ASN1_TIME_free(t);
	X509_CRL_free(crl);
	X509_free(ca);
	EVP_PKEY_free(tk);
}
END_TEST

static TS_REQ *
mk_ts_req(const unsigned char *data, size_t len)
{
	unsigned char dgst[32];
	TS_REQ *req = TS_REQ_new();
	TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
	X509_ALGOR *alg = X509_ALGOR_new();
	ASN1_INTEGER *nonce = ASN1_INTEGER_new();

	ck_assert_int_eq(
	    EVP_Digest(data, len, dgst, NULL, EVP_sha256(), NULL), 1);
	ck_assert_int_eq(
	    X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL),
	    1);
	ck_assert_int_eq(TS_MSG_IMPRINT_set_algo(mi, alg), 1);
	ck_assert_int_eq(TS_MSG_IMPRINT_set_msg(mi, dgst, sizeof(dgst)), 1);
	ck_assert_int_eq(TS_REQ_set_version(req, 1), 1);
	ck_assert_int_eq(TS_REQ_set_msg_imprint(req, mi), 1);
	ck_assert_int_eq(ASN1_INTEGER_set(nonce, 777), 1);
	ck_assert_int_eq(TS_REQ_set_nonce(req, nonce), 1);
	ck_assert_int_eq(TS_REQ_set_cert_req(req, 1), 1);
	ASN1_INTEGER_free(nonce);
	X509_ALGOR_free(alg);
	TS_MSG_IMPRINT_free(mi);
	return req;
}

START_TEST(ts_response_verifies)
{
	static const unsigned char doc[] = "timestamp me";
	EVP_PKEY *tk = token_key(_i, NULL);
	TS_RESP_CTX *rctx;
	TS_VERIFY_CTX *vctx;
	TS_RESP *resp;
	TS_REQ *req;
	ASN1_OBJECT *policy;
	X509 *tsa;
	BIO *reqbio;
	char dir[PATH_MAX], respp[PATH_MAX + 16], docp[PATH_MAX + 16];
	char rootp[PATH_MAX + 16];
	unsigned char *der = NULL;
	int len;

	tsa = mk_cert(
	    tk, "token TSA", root_cert, root_key, EVP_sha256(), CERT_TSA);
	req = mk_ts_req(doc, sizeof(doc) - 1);
	reqbio = BIO_new(BIO_s_mem());
	ck_assert_int_eq(i2d_TS_REQ_bio(reqbio, req), 1);

	rctx = TS_RESP_CTX_new();
	policy = OBJ_txt2obj("1.3.6.1.4.1.99999.1", 1);
	ck_assert_int_eq(TS_RESP_CTX_set_signer_cert(rctx, tsa), 1);
	ck_assert_int_eq(TS_RESP_CTX_set_signer_key(rctx, tk), 1);
	ck_assert_int_eq(TS_RESP_CTX_set_signer_digest(rctx, md_for(_i)), 1);
	ck_assert_int_eq(
	    TS_RESP_CTX_set_ess_cert_id_digest(rctx, EVP_sha256()), 1);
	ck_assert_int_eq(TS_RESP_CTX_set_def_policy(rctx, policy), 1);
	ck_assert_int_eq(TS_RESP_CTX_add_md(rctx, EVP_sha256()), 1);
	resp = TS_RESP_create_response(rctx, reqbio);
	ck_assert_ptr_nonnull(resp);
	ck_assert_int_eq(ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(
	                     TS_RESP_get_status_info(resp))),
	    TS_STATUS_GRANTED);

	vctx = TS_REQ_to_TS_VERIFY_CTX(req, NULL);
	ck_assert_ptr_nonnull(vctx);
	TS_VERIFY_CTX_add_flags(vctx, TS_VFY_SIGNATURE);
	TS_VERIFY_CTX_set_store(vctx, mk_store(NULL));
	ck_assert_int_eq(TS_RESP_verify_response(vctx, resp), 1);

	len = i2d_TS_RESP(resp, &der);
	ck_assert_int_gt(len, 0);
	testutil_tmpdir(dir, sizeof(dir));
	write_file(dir, "resp.tsr", der, (size_t)len, respp, sizeof(respp));
	write_file(dir, "doc.txt", doc, sizeof(doc) - 1, docp, sizeof(docp));
	write_pem(dir, "root.pem", root_cert, rootp, sizeof(rootp));
	{
		char *argv[] = {"openssl", "ts", "-verify", "-data", docp,
		    "-in", respp, "-CAfile", rootp, NULL};

		ck_assert_int_eq(testutil_run(argv), 0);
	}
	OPENSSL_free(der);
	TS_VERIFY_CTX_free(vctx);
	TS_RESP_free(resp);
	TS_RESP_CTX_free(rctx);
	ASN1_OBJECT_free(policy);
	BIO_free(reqbio);
	TS_REQ_free(req);
	X509_free(tsa);
	EVP_PKEY_free(tk);
}
END_TEST

START_TEST(digest_sign_verifies_with_public_key)
{
	static const char msg[] = "report 2024-0001";
	EVP_PKEY *tk = token_key(_i, NULL);
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	unsigned char sig[512];
	size_t siglen = sizeof(sig);

	ck_assert_int_eq(
	    EVP_DigestSignInit(mctx, NULL, md_for(_i), NULL, tk), 1);
	ck_assert_int_eq(EVP_DigestSign(mctx, sig, &siglen,
	                     (const unsigned char *)msg, strlen(msg)),
	    1);
	EVP_MD_CTX_reset(mctx);
	ck_assert_int_eq(
	    EVP_DigestVerifyInit(mctx, NULL, md_for(_i), NULL, keys[_i]), 1);
	ck_assert_int_eq(EVP_DigestVerify(mctx, sig, siglen,
	                     (const unsigned char *)msg, strlen(msg)),
	    1);
	/* The token key verifies too (with its public half). */
	EVP_MD_CTX_reset(mctx);
	ck_assert_int_eq(
	    EVP_DigestVerifyInit(mctx, NULL, md_for(_i), NULL, tk), 1);
	ck_assert_int_eq(EVP_DigestVerify(mctx, sig, siglen,
	                     (const unsigned char *)msg, strlen(msg)),
	    1);
	sig[siglen / 2] ^= 0x01;
	EVP_MD_CTX_reset(mctx);
	ck_assert_int_eq(
	    EVP_DigestVerifyInit(mctx, NULL, md_for(_i), NULL, keys[_i]), 1);
	ck_assert_int_ne(EVP_DigestVerify(mctx, sig, siglen,
	                     (const unsigned char *)msg, strlen(msg)),
	    1);
	ERR_clear_error();
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_free(tk);
}
END_TEST

START_TEST(streaming_digest_sign_verifies)
{
	static const char a[] = "part one, ", b[] = "part two";
	EVP_PKEY *tk = token_key(_i, NULL);
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	unsigned char *sig;
	size_t siglen = 0;
	char whole[64];

	ck_assert_int_eq(
	    EVP_DigestSignInit(mctx, NULL, md_for(_i), NULL, tk), 1);
	ck_assert_int_eq(EVP_DigestSignUpdate(mctx, a, strlen(a)), 1);
	ck_assert_int_eq(EVP_DigestSignUpdate(mctx, b, strlen(b)), 1);
	ck_assert_int_eq(EVP_DigestSignFinal(mctx, NULL, &siglen), 1);
	ck_assert_int_eq(siglen, (size_t)EVP_PKEY_get_size(tk));
	sig = malloc(siglen);
	ck_assert_int_eq(EVP_DigestSignFinal(mctx, sig, &siglen), 1);
	EVP_MD_CTX_reset(mctx);
	snprintf(whole, sizeof(whole), "%s%s", a, b);
	ck_assert_int_eq(
	    EVP_DigestVerifyInit(mctx, NULL, md_for(_i), NULL, keys[_i]), 1);
	ck_assert_int_eq(EVP_DigestVerify(mctx, sig, siglen,
	                     (const unsigned char *)whole, strlen(whole)),
	    1);
	free(sig);
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_free(tk);
}
END_TEST

START_TEST(raw_pkey_sign_verifies)
{
	unsigned char dgst[64], sig[512];
	size_t siglen = sizeof(sig);
	const EVP_MD *md = md_for(_i);
	EVP_PKEY *tk = token_key(_i, NULL);
	EVP_PKEY_CTX *pctx;
	unsigned int dlen;

	ck_assert_int_eq(EVP_Digest("x", 1, dgst, &dlen, md, NULL), 1);
	pctx = EVP_PKEY_CTX_new_from_pkey(NULL, tk, NULL);
	ck_assert_int_eq(EVP_PKEY_sign_init(pctx), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_signature_md(pctx, md), 1);
	if (_i == KEY_RSA3072) {
		ck_assert_int_eq(
		    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING), 1);
		/* The token cannot make PSS signatures: refused. */
		ck_assert_int_le(
		    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING),
		    0);
		ERR_clear_error();
	}
	ck_assert_int_eq(EVP_PKEY_sign(pctx, sig, &siglen, dgst, dlen), 1);
	EVP_PKEY_CTX_free(pctx);
	pctx = EVP_PKEY_CTX_new_from_pkey(NULL, keys[_i], NULL);
	ck_assert_int_eq(EVP_PKEY_verify_init(pctx), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_signature_md(pctx, md), 1);
	ck_assert_int_eq(EVP_PKEY_verify(pctx, sig, siglen, dgst, dlen), 1);
	EVP_PKEY_CTX_free(pctx);
	EVP_PKEY_free(tk);
}
END_TEST

static int
find_user_reason(void)
{
	const char *data = NULL;
	unsigned long e;
	int flags = 0, reason = 0;

	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0)
		if (ERR_GET_LIB(e) == ERR_LIB_USER)
			reason = ERR_GET_REASON(e);
	return reason;
}

START_TEST(failing_signer_fails_cleanly)
{
	static const char doc[] = "doc";
	struct sw_signer *s;
	EVP_PKEY *tk = token_key(_i, &s);
	CMS_ContentInfo *cms;
	OCSP_BASICRESP *bs;
	X509_CRL *crl;
	X509 *ca, *x;
	BIO *data;
	struct cs_err err;

	ca =
	    mk_cert(tk, "token CA", root_cert, root_key, EVP_sha256(), CERT_CA);
	s->fail = CS_ERR_TOKEN;

	x = X509_dup(ca);
	ck_assert_int_eq(X509_sign(x, tk, md_for(_i)), 0);
	ck_assert_int_eq(find_user_reason(), CS_ERR_TOKEN);
	ck_assert_int_eq(ERR_peek_error(), 0);

	data = BIO_new_mem_buf(doc, (int)strlen(doc));
	cms = CMS_sign(ca, tk, NULL, data, CMS_DETACHED | CMS_BINARY);
	ck_assert_ptr_null(cms);
	ck_assert_int_ne(ERR_peek_error(), 0);
	/* cs_err_ossl() logs and drains: nothing is left behind. */
	ck_assert_int_eq(
	    cs_err_ossl(&err, CS_ERR_CRYPTO, "cms failed"), CS_ERR_CRYPTO);
	ck_assert_int_eq(ERR_peek_error(), 0);

	bs = OCSP_BASICRESP_new();
	ck_assert_int_eq(OCSP_basic_sign(bs, ca, tk, md_for(_i), NULL, 0), 0);
	ck_assert_int_eq(find_user_reason(), CS_ERR_TOKEN);

	crl = X509_CRL_new();
	ck_assert_int_eq(
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)), 1);
	ck_assert_int_eq(X509_CRL_sign(crl, tk, md_for(_i)), 0);
	ck_assert_int_eq(find_user_reason(), CS_ERR_TOKEN);
	ck_assert_int_ge(s->calls, 4);

	/* And it recovers when the signer does. */
	s->fail = CS_OK;
	ck_assert_int_gt(X509_sign(x, tk, md_for(_i)), 0);
	ck_assert_int_eq(X509_verify(x, keys[_i]), 1);

	X509_CRL_free(crl);
	OCSP_BASICRESP_free(bs);
	BIO_free(data);
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(tk);
}
END_TEST

static enum cs_rc
short_sign(void *arg, int md_nid, const unsigned char *dgst, size_t dlen,
    unsigned char *sig, size_t *siglen, struct cs_err *err)
{
	(void)arg;
	(void)md_nid;
	(void)dgst;
	(void)dlen;
	(void)sig;
	(void)err;
	*siglen = 0; /* a broken signer: claims success, returns nothing */
	return CS_OK;
}

START_TEST(broken_signer_is_an_error)
{
	EVP_PKEY *pub = pub_only(keys[KEY_P256]), *tk = NULL;
	X509 *x = X509_new();

	ck_assert_int_eq(
	    p11_evp_from_signer(pub, short_sign, NULL, NULL, &tk, NULL), CS_OK);
	ck_assert_int_eq(X509_set_pubkey(x, tk), 1);
	ck_assert_int_eq(X509_sign(x, tk, EVP_sha256()), 0);
	ck_assert_int_ne(ERR_peek_error(), 0);
	ERR_clear_error();
	X509_free(x);
	EVP_PKEY_free(tk);
	EVP_PKEY_free(pub);
}
END_TEST

START_TEST(arg_freed_with_key)
{
	atomic_int freed = 0;
	struct sw_signer *s;
	EVP_PKEY *tk = token_key(KEY_P256, &s), *dup;
	X509 *x;

	s->freed = &freed;
	dup = EVP_PKEY_dup(tk);
	ck_assert_ptr_nonnull(dup);
	x = mk_cert(tk, "t", NULL, dup, EVP_sha256(), CERT_CA);
	EVP_PKEY_free(tk);
	EVP_PKEY_free(dup);
	ck_assert_int_eq(freed, 0); /* x holds the key it was given */
	X509_free(x);
	ck_assert_int_eq(freed, 1);
}
END_TEST

START_TEST(bad_arguments_are_invalid)
{
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *out = (EVP_PKEY *)&out;
	struct cs_err err;

	ck_assert_int_eq(
	    p11_evp_from_signer(NULL, sw_sign, NULL, NULL, &out, &err),
	    CS_ERR_INVALID);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(
	    p11_evp_from_signer(keys[0], NULL, NULL, NULL, &out, &err),
	    CS_ERR_INVALID);
	ck_assert_int_eq(
	    p11_evp_from_signer(ed, sw_sign, NULL, NULL, &out, &err),
	    CS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "ED25519"));
	EVP_PKEY_free(ed);
}
END_TEST

static const char *
prov_name(const EVP_PKEY *k)
{
	const OSSL_PROVIDER *p = EVP_PKEY_get0_provider(k);

	return p == NULL ? "(legacy)" : OSSL_PROVIDER_get0_name(p);
}

START_TEST(software_keys_untouched)
{
	static const char msg[] = "software";
	EVP_PKEY *tk = token_key(_i, NULL); /* the provider is loaded now */
	EVP_PKEY *sw, *pub, *rd;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	unsigned char sig[512];
	size_t siglen = sizeof(sig);
	X509 *x;
	BIO *b;

	if (_i == KEY_RSA3072)
		sw = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else
		sw = EVP_PKEY_Q_keygen(
		    NULL, NULL, "EC", _i == KEY_P256 ? "P-256" : "P-384");
	ck_assert_ptr_nonnull(sw);
	ck_assert_str_eq(prov_name(sw), "default");
	ck_assert_int_eq(
	    EVP_DigestSignInit(mctx, NULL, EVP_sha256(), NULL, sw), 1);
	ck_assert_int_eq(EVP_DigestSign(mctx, sig, &siglen,
	                     (const unsigned char *)msg, strlen(msg)),
	    1);
	EVP_MD_CTX_reset(mctx);
	ck_assert_int_eq(
	    EVP_DigestVerifyInit(mctx, NULL, EVP_sha256(), NULL, sw), 1);
	ck_assert_int_eq(EVP_DigestVerify(mctx, sig, siglen,
	                     (const unsigned char *)msg, strlen(msg)),
	    1);

	/* A certificate's public key decodes to the default provider. */
	x = mk_cert(tk, "t", NULL, tk, md_for(_i), CERT_CA);
	{
		unsigned char *der = NULL;
		const unsigned char *p;
		X509 *back;
		int len = i2d_X509(x, &der);

		ck_assert_int_gt(len, 0);
		p = der;
		back = d2i_X509(NULL, &p, len);
		ck_assert_ptr_nonnull(back);
		pub = X509_get_pubkey(back);
		X509_free(back);
		OPENSSL_free(der);
	}
	ck_assert_str_eq(prov_name(pub), "default");
	ck_assert_str_eq(prov_name(X509_get0_pubkey(root_cert)), "default");

	/* So does a PEM private key, and it still signs. */
	b = BIO_new(BIO_s_mem());
	ck_assert_int_eq(
	    PEM_write_bio_PrivateKey(b, sw, NULL, NULL, 0, NULL, NULL), 1);
	rd = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	ck_assert_ptr_nonnull(rd);
	ck_assert_str_eq(prov_name(rd), "default");
	EVP_MD_CTX_reset(mctx);
	siglen = sizeof(sig);
	ck_assert_int_eq(
	    EVP_DigestSignInit(mctx, NULL, EVP_sha256(), NULL, rd), 1);
	ck_assert_int_eq(EVP_DigestSign(mctx, sig, &siglen,
	                     (const unsigned char *)msg, strlen(msg)),
	    1);
	ck_assert_int_eq(ERR_peek_error(), 0);

	BIO_free(b);
	EVP_PKEY_free(rd);
	EVP_PKEY_free(pub);
	X509_free(x);
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_free(sw);
	EVP_PKEY_free(tk);
}
END_TEST

struct thr {
	EVP_PKEY *tk;
	EVP_PKEY *pub;
	int ok;
};

static void *
thr_main(void *vt)
{
	struct thr *t = vt;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	unsigned char sig[512];
	size_t siglen;
	int n;

	for (n = 0; n < 50; n++) {
		siglen = sizeof(sig);
		if (EVP_DigestSignInit(mctx, NULL, EVP_sha256(), NULL, t->tk) !=
		        1 ||
		    EVP_DigestSign(mctx, sig, &siglen,
		        (const unsigned char *)&n, sizeof(n)) != 1)
			break;
		EVP_MD_CTX_reset(mctx);
		if (EVP_DigestVerifyInit(
		        mctx, NULL, EVP_sha256(), NULL, t->pub) != 1 ||
		    EVP_DigestVerify(mctx, sig, siglen,
		        (const unsigned char *)&n, sizeof(n)) != 1)
			break;
		EVP_MD_CTX_reset(mctx);
		t->ok++;
	}
	EVP_MD_CTX_free(mctx);
	return NULL;
}

START_TEST(threads_share_a_key)
{
	struct sw_signer *s;
	EVP_PKEY *tk = token_key(_i, &s);
	pthread_t th[4];
	struct thr t[4];
	int i;

	for (i = 0; i < 4; i++) {
		t[i].tk = tk;
		t[i].pub = keys[_i];
		t[i].ok = 0;
		ck_assert_int_eq(
		    pthread_create(&th[i], NULL, thr_main, &t[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
		ck_assert_int_eq(t[i].ok, 50);
	}
	ck_assert_int_eq(s->calls, 200);
	EVP_PKEY_free(tk);
}
END_TEST

/* --- a real SoftHSM2 token ----------------------------------------------- */

static struct testutil_token tt;
static struct p11_token *tok;

static void
token_setup(void)
{
	struct p11_config cfg;
	struct cs_err err;

	testutil_softhsm(&tt, "provtest");
	memset(&cfg, 0, sizeof(cfg));
	cfg.module = tt.module;
	cfg.token_label = tt.label;
	cfg.pool_size = 2;
	cfg.pin_fn = testutil_pin_fn;
	cs_err_clear(&err);
	if (p11_token_open(&cfg, &tok, &err) != CS_OK)
		ck_abort_msg("token open: %s", err.msg);
	/* SoftHSM2 shares our OpenSSL and may leave its own errors. */
	ERR_clear_error();
}

static void
token_teardown(void)
{
	p11_token_free(tok);
	tok = NULL;
	testutil_softhsm_remove(&tt);
}

static const enum p11_alg token_algs[KEY_N] = {
    P11_ALG_P256, P11_ALG_P384, P11_ALG_RSA3072};

START_TEST(token_key_signs_certificate)
{
	char uri[P11_URI_MAX];
	struct cs_err err;
	EVP_PKEY *tk = NULL, *pub = NULL;
	X509 *ca, *leaf;
	X509_STORE *st;
	X509_STORE_CTX *vctx;
	STACK_OF(X509) *chain = sk_X509_new_null();

	root_init();
	cs_err_clear(&err);
	ck_assert_msg(p11_key_generate(tok, token_algs[_i], "prov-ca", uri,
	                  sizeof(uri), &err) == CS_OK,
	    "%s", err.msg);
	ck_assert_msg(p11_key_get(tok, uri, &tk, &err) == CS_OK, "%s", err.msg);
	ck_assert_int_eq(p11_key_public(tok, uri, &pub, &err), CS_OK);
	ck_assert_int_eq(EVP_PKEY_eq(pub, tk), 1);

	/* The token key as subject (certified by root) and as issuer. */
	ca =
	    mk_cert(tk, "token CA", root_cert, root_key, EVP_sha256(), CERT_CA);
	leaf = mk_cert(root_key, "leaf", ca, tk, md_for(_i), CERT_LEAF);
	ck_assert_int_eq(X509_verify(leaf, pub), 1);
	check_sig_alg(X509_get0_tbs_sigalg(leaf), _i);
	st = mk_store(NULL);
	vctx = X509_STORE_CTX_new();
	ck_assert_int_eq(sk_X509_push(chain, ca), 1);
	ck_assert_int_eq(X509_STORE_CTX_init(vctx, st, leaf, chain), 1);
	X509_STORE_CTX_set_flags(vctx, X509_V_FLAG_X509_STRICT);
	ck_assert_msg(X509_verify_cert(vctx) == 1, "%s",
	    X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx)));

	X509_STORE_CTX_free(vctx);
	X509_STORE_free(st);
	sk_X509_free(chain);
	X509_free(leaf);
	X509_free(ca);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(tk);
}
END_TEST

START_TEST(token_key_get_errors)
{
	char uri[P11_URI_MAX];
	struct cs_err err;
	EVP_PKEY *tk = (EVP_PKEY *)&tk;

	ck_assert_int_eq(
	    p11_key_get(tok, "pkcs11:token=provtest;object=none;type=private",
	        &tk, &err),
	    CS_ERR_NOT_FOUND);
	ck_assert_ptr_null(tk);
	ck_assert_int_eq(
	    p11_key_get(tok, "http://example", &tk, &err), CS_ERR_INVALID);
	memset(uri, 'a', sizeof(uri) - 1);
	uri[sizeof(uri) - 1] = '\0';
	ck_assert_int_eq(p11_key_get(tok, uri, &tk, &err), CS_ERR_INVALID);
	ck_assert_int_eq(ERR_peek_error(), 0);
}
END_TEST

/* The key outlives nothing but the token: the session pool recovers. */
START_TEST(token_key_signs_ocsp_and_cms)
{
	static const char doc[] = "sealed";
	char uri[P11_URI_MAX];
	struct cs_err err;
	EVP_PKEY *tk = NULL;
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
	CMS_ContentInfo *cms;
	X509_STORE *st;
	X509 *ca;
	BIO *data, *in;

	root_init();
	ck_assert_int_eq(p11_key_generate(tok, P11_ALG_P256, "prov-ocsp", uri,
	                     sizeof(uri), &err),
	    CS_OK);
	ck_assert_int_eq(p11_key_get(tok, uri, &tk, &err), CS_OK);
	ca =
	    mk_cert(tk, "token CA", root_cert, root_key, EVP_sha256(), CERT_CA);
	ck_assert_int_eq(OCSP_basic_sign(bs, ca, tk, EVP_sha256(), NULL, 0), 1);
	data = BIO_new_mem_buf(doc, (int)strlen(doc));
	cms = CMS_sign(ca, tk, NULL, data, CMS_DETACHED | CMS_BINARY);
	ck_assert_ptr_nonnull(cms);
	st = mk_store(NULL);
	in = BIO_new_mem_buf(doc, (int)strlen(doc));
	ck_assert_int_eq(CMS_verify(cms, NULL, st, in, NULL, CMS_BINARY), 1);
	BIO_free(in);
	X509_STORE_free(st);
	CMS_ContentInfo_free(cms);
	BIO_free(data);
	X509_free(ca);
	OCSP_BASICRESP_free(bs);
	EVP_PKEY_free(tk);
}
END_TEST

static Suite *
p11_prov_suite(void)
{
	Suite *s = suite_create("p11_prov");
	TCase *tc;

	tc = tcase_create("key");
	tcase_add_loop_test(tc, key_describes_itself, 0, KEY_N);
	tcase_add_test(tc, arg_freed_with_key);
	tcase_add_test(tc, bad_arguments_are_invalid);
	suite_add_tcase(s, tc);

	tc = tcase_create("x509");
	tcase_add_loop_test(tc, x509_self_signed_verifies, 0, KEY_N);
	tcase_add_loop_test(
	    tc, x509_issued_by_token_verifies_in_chain, 0, KEY_N);
	suite_add_tcase(s, tc);

	tc = tcase_create("cms");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, cms_detached_verifies, 0, KEY_N);
	tcase_add_loop_test(tc, cms_without_attributes_verifies, 0, KEY_N);
	tcase_add_loop_test(tc, cms_key_param_queries, 0, KEY_N);
	suite_add_tcase(s, tc);

	tc = tcase_create("ocsp");
	tcase_add_loop_test(tc, ocsp_response_verifies, 0, KEY_N);
	suite_add_tcase(s, tc);

	tc = tcase_create("crl");
	tcase_add_loop_test(tc, crl_verifies, 0, KEY_N);
	suite_add_tcase(s, tc);

	tc = tcase_create("ts");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, ts_response_verifies, 0, KEY_N);
	suite_add_tcase(s, tc);

	tc = tcase_create("evp");
	tcase_add_loop_test(tc, digest_sign_verifies_with_public_key, 0, KEY_N);
	tcase_add_loop_test(tc, streaming_digest_sign_verifies, 0, KEY_N);
	tcase_add_loop_test(tc, raw_pkey_sign_verifies, 0, KEY_N);
	suite_add_tcase(s, tc);

	tc = tcase_create("failure");
	tcase_add_loop_test(tc, failing_signer_fails_cleanly, 0, KEY_N);
	tcase_add_test(tc, broken_signer_is_an_error);
	suite_add_tcase(s, tc);

	tc = tcase_create("isolation");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, software_keys_untouched, 0, KEY_N);
	suite_add_tcase(s, tc);

	tc = tcase_create("threads");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, threads_share_a_key, 0, KEY_N);
	suite_add_tcase(s, tc);

	tc = tcase_create("token");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, token_setup, token_teardown);
	tcase_add_loop_test(tc, token_key_signs_certificate, 0, KEY_N);
	tcase_add_test(tc, token_key_get_errors);
	tcase_add_test(tc, token_key_signs_ocsp_and_cms);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int nfailed;
	int i;

	keys[KEY_P256] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	keys[KEY_P384] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	keys[KEY_RSA3072] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
	root_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	for (i = 0; i < KEY_N; i++)
		if (keys[i] == NULL) {
			fprintf(stderr, "cannot make a %s key\n", key_names[i]);
			return EXIT_FAILURE;
		}
	if (root_key == NULL)
		return EXIT_FAILURE;

	sr = srunner_create(p11_prov_suite());
	srunner_run_all(sr, CK_NORMAL);
	nfailed = srunner_ntests_failed(sr);
	srunner_free(sr);
	X509_free(root_cert);
	EVP_PKEY_free(root_key);
	for (i = 0; i < KEY_N; i++)
		EVP_PKEY_free(keys[i]);
	return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
