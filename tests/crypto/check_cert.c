/*
 * check_cert.c: the root, issuing-CA and e-seal certificates, checked by
 * parsing them back field by field against RFC 5280, by crypto_cert_verify()
 * and by "openssl verify -x509_strict".
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certsvc/err.h"
#include "certsvc/mem.h"
#include "crypto/crypto.h"
#include "tests/certfix.h"
#include "tests/testutil.h"

#define CRL_URL "http://certsvc.example.gov.cn/crl/root.crl"
#define OCSP_URL "http://certsvc.example.gov.cn/ocsp"
#define ISSUERS_URL "http://certsvc.example.gov.cn/ca/root.pem"
#define CN_ZH "电子证照根CA" /* UTF-8 */
#define SEAL_CN "某市市场监督管理局行政审批专用章"
#define SEAL_O "某市市场监督管理局"
#define ORG_ID "NTRCN-11350100MB0123456X"
#define SEAL_CRL "http://certsvc.example.gov.cn/crl/issuing.crl"
#define SEAL_OCSP "http://certsvc.example.gov.cn/ocsp"
#define SEAL_ISSUERS "http://certsvc.example.gov.cn/ca/issuing.cer"

enum { KEY_P256, KEY_P384, KEY_RSA3072, KEY_N };

/* Made once in main(): forked tests do not pay for RSA key generation. */
static EVP_PKEY *keys[KEY_N];
static EVP_PKEY *other_key;

static void
spec_init(struct crypto_cert_spec *s, enum crypto_profile profile,
    const char *cn, EVP_PKEY *key)
{
	memset(s, 0, sizeof(*s));
	s->profile = profile;
	s->common_name = cn;
	s->organization = "某市数据局";
	s->country = "CN";
	s->days = profile == CRYPTO_CERT_ROOT_CA ? 3650 : 1825;
	s->subject_key = key;
}

static X509 *
mk_root(EVP_PKEY *key, const char *cn)
{
	struct crypto_cert_spec s;
	struct cs_err err;
	X509 *x = NULL;

	spec_init(&s, CRYPTO_CERT_ROOT_CA, cn, key);
	ck_assert_msg(
	    crypto_cert_issue(&s, NULL, key, &x, &err) == CS_OK, "%s", err.msg);
	return x;
}

static X509 *
mk_sub(EVP_PKEY *key, X509 *root, EVP_PKEY *root_key, unsigned days)
{
	struct crypto_cert_spec s;
	struct cs_err err;
	X509 *x = NULL;

	spec_init(&s, CRYPTO_CERT_SUB_CA, "certsvc issuing CA", key);
	s.days = days;
	s.crl_url = CRL_URL;
	s.ocsp_url = OCSP_URL;
	s.ca_issuers_url = ISSUERS_URL;
	ck_assert_msg(crypto_cert_issue(&s, root, root_key, &x, &err) == CS_OK,
	    "%s", err.msg);
	return x;
}

static bool
verify(X509 *cert, X509 *root, X509 *inter, char *reason, size_t reasonsz)
{
	STACK_OF(X509) *chain = sk_X509_new_null();
	struct cs_err err;
	bool valid = false;

	if (inter != NULL)
		ck_assert_int_gt(sk_X509_push(chain, inter), 0);
	ck_assert_int_eq(crypto_cert_verify(
	                     cert, root, chain, &valid, reason, reasonsz, &err),
	    CS_OK);
	sk_X509_free(chain);
	ck_assert_int_eq(ERR_peek_error(), 0);
	return valid;
}

static void
write_pem(const char *dir, const char *name, X509 *x, char *path, size_t pathsz)
{
	struct buf *pem = NULL;

	ck_assert_int_lt(
	    snprintf(path, pathsz, "%s/%s", dir, name), (int)pathsz);
	ck_assert_int_eq(crypto_cert_to_pem(x, &pem, NULL), CS_OK);
	ck_assert_int_eq(
	    cs_file_write(path, pem->data, pem->len, 0644, false, NULL), CS_OK);
	buf_free(pem);
}

static const X509_EXTENSION *
ext_get(X509 *x, int nid)
{
	int i = X509_get_ext_by_NID(x, nid, -1);

	ck_assert_int_ge(i, 0);
	ck_assert_int_lt(X509_get_ext_by_NID(x, nid, i), 0); /* only one */
	return X509_get_ext(x, i);
}

/* Exactly the extensions in nids, in that order. */
static void
ext_exactly(X509 *x, const int *nids, int n)
{
	int i;

	ck_assert_int_eq(X509_get_ext_count(x), n);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(
		    OBJ_obj2nid(X509_EXTENSION_get_object(X509_get_ext(x, i))),
		    nids[i]);
}

static void
ext_der(X509 *x, int nid, const unsigned char *want, size_t wantlen)
{
	const ASN1_OCTET_STRING *v =
	    X509_EXTENSION_get_data((X509_EXTENSION *)ext_get(x, nid));

	ck_assert_int_eq(ASN1_STRING_length(v), (int)wantlen);
	ck_assert_mem_eq(ASN1_STRING_get0_data(v), want, wantlen);
}

static void
check_serial(X509 *x)
{
	const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
	unsigned char *der = NULL;
	int len;

	ck_assert_int_eq(ASN1_STRING_type(sn), V_ASN1_INTEGER); /* positive */
	len = i2d_ASN1_INTEGER(sn, &der);
	/* 02 10 <16 octets>, the first neither 00 nor >= 80. */
	ck_assert_int_eq(len, 18);
	ck_assert_int_eq(der[0], 0x02);
	ck_assert_int_eq(der[1], 16);
	ck_assert_int_ne(der[2], 0x00);
	ck_assert_int_lt(der[2], 0x80);
	OPENSSL_free(der);
}

static void
check_ski(X509 *x)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(x);
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(x);

	/* Method 1 computed independently over the BIT STRING value. */
	ck_assert_int_eq(
	    EVP_Digest(ASN1_STRING_get0_data(bits),
	        (size_t)ASN1_STRING_length(bits), md, &mdlen, EVP_sha1(), NULL),
	    1);
	ck_assert_ptr_nonnull(ski);
	ck_assert_int_eq(ASN1_STRING_length(ski), 20);
	ck_assert_mem_eq(ASN1_STRING_get0_data(ski), md, mdlen);
	ck_assert_int_eq(
	    X509_EXTENSION_get_critical(ext_get(x, NID_subject_key_identifier)),
	    0);
}

/* AKI holds keyIdentifier == want and nothing else. */
static void
check_aki(X509 *x, const ASN1_OCTET_STRING *want)
{
	AUTHORITY_KEYID *akid;

	ck_assert_int_eq(X509_EXTENSION_get_critical(
	                     ext_get(x, NID_authority_key_identifier)),
	    0);
	akid = X509_get_ext_d2i(x, NID_authority_key_identifier, NULL, NULL);
	ck_assert_ptr_nonnull(akid);
	ck_assert_ptr_nonnull(akid->keyid);
	ck_assert_ptr_null(akid->issuer);
	ck_assert_ptr_null(akid->serial);
	ck_assert_int_eq(ASN1_OCTET_STRING_cmp(akid->keyid, want), 0);
	AUTHORITY_KEYID_free(akid);
}

static void
check_sig_alg(X509 *x, int i)
{
	const X509_ALGOR *alg = X509_get0_tbs_sigalg(x);
	const ASN1_OBJECT *obj;
	const void *pval;
	int ptype;

	X509_ALGOR_get0(&obj, &ptype, &pval, alg);
	ck_assert_int_eq(OBJ_obj2nid(obj),
	    i == KEY_P256       ? NID_ecdsa_with_SHA256
	        : i == KEY_P384 ? NID_ecdsa_with_SHA384
	                        : NID_sha256WithRSAEncryption);
	ck_assert_int_eq(ptype, i == KEY_RSA3072 ? V_ASN1_NULL : V_ASN1_UNDEF);
}

/* basicConstraints: critical, cA TRUE, pathLen as given (-1: absent). */
static void
check_bc(X509 *x, long pathlen)
{
	BASIC_CONSTRAINTS *bc;

	ck_assert_int_eq(
	    X509_EXTENSION_get_critical(ext_get(x, NID_basic_constraints)), 1);
	bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
	ck_assert_ptr_nonnull(bc);
	ck_assert_int_eq(bc->ca, 0xff);
	if (pathlen < 0)
		ck_assert_ptr_null(bc->pathlen);
	else
		ck_assert_int_eq(ASN1_INTEGER_get(bc->pathlen), pathlen);
	BASIC_CONSTRAINTS_free(bc);
}

static void
check_ku(X509 *x)
{
	/* BIT STRING, 1 unused bit, 0000 0110: keyCertSign, cRLSign. */
	static const unsigned char ku[] = {0x03, 0x02, 0x01, 0x06};

	ck_assert_int_eq(
	    X509_EXTENSION_get_critical(ext_get(x, NID_key_usage)), 1);
	ext_der(x, NID_key_usage, ku, sizeof(ku));
	ck_assert_uint_eq(
	    X509_get_key_usage(x), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
}

static void
check_uri(const GENERAL_NAME *gn, const char *want)
{
	int type;
	const ASN1_IA5STRING *uri = GENERAL_NAME_get0_value(gn, &type);

	ck_assert_int_eq(type, GEN_URI);
	ck_assert_int_eq(ASN1_STRING_length(uri), (int)strlen(want));
	ck_assert_mem_eq(ASN1_STRING_get0_data(uri), want, strlen(want));
}

/* A non-critical CRL distribution point: one full name, the URI crl. */
static void
check_cdp(X509 *x, const char *crl)
{
	CRL_DIST_POINTS *dps;
	DIST_POINT *dp;

	ck_assert_int_eq(X509_EXTENSION_get_critical(
	                     ext_get(x, NID_crl_distribution_points)),
	    0);
	dps = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
	ck_assert_int_eq(sk_DIST_POINT_num(dps), 1);
	dp = sk_DIST_POINT_value(dps, 0);
	ck_assert_ptr_null(dp->reasons);
	ck_assert_ptr_null(dp->CRLissuer);
	ck_assert_int_eq(dp->distpoint->type, 0);
	ck_assert_int_eq(sk_GENERAL_NAME_num(dp->distpoint->name.fullname), 1);
	check_uri(sk_GENERAL_NAME_value(dp->distpoint->name.fullname, 0), crl);
	CRL_DIST_POINTS_free(dps);
}

/* A non-critical AIA: OCSP at ocsp, then caIssuers at issuers. */
static void
check_aia(X509 *x, const char *ocsp, const char *issuers)
{
	AUTHORITY_INFO_ACCESS *aia;
	ACCESS_DESCRIPTION *ad;

	ck_assert_int_eq(
	    X509_EXTENSION_get_critical(ext_get(x, NID_info_access)), 0);
	aia = X509_get_ext_d2i(x, NID_info_access, NULL, NULL);
	ck_assert_int_eq(sk_ACCESS_DESCRIPTION_num(aia), 2);
	ad = sk_ACCESS_DESCRIPTION_value(aia, 0);
	ck_assert_int_eq(OBJ_obj2nid(ad->method), NID_ad_OCSP);
	check_uri(ad->location, ocsp);
	ad = sk_ACCESS_DESCRIPTION_value(aia, 1);
	ck_assert_int_eq(OBJ_obj2nid(ad->method), NID_ad_ca_issuers);
	check_uri(ad->location, issuers);
	AUTHORITY_INFO_ACCESS_free(aia);
}

/* The DN entry nid at position pos: its string type and value. */
static void
check_dn(X509 *x, int pos, int nid, int type, const char *want)
{
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_ENTRY *e = X509_NAME_get_entry(name, pos);
	const ASN1_STRING *s = X509_NAME_ENTRY_get_data(e);

	ck_assert_int_eq(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)), nid);
	ck_assert_int_eq(ASN1_STRING_type(s), type);
	ck_assert_int_eq(ASN1_STRING_length(s), (int)strlen(want));
	ck_assert_mem_eq(ASN1_STRING_get0_data(s), want, strlen(want));
}

/* Encode and decode: what a verifier elsewhere would read. */
static X509 *
reparse(X509 *x)
{
	struct buf *der = NULL;
	X509 *back = NULL;

	ck_assert_int_eq(crypto_cert_to_der(x, &der, NULL), CS_OK);
	ck_assert_int_eq(
	    crypto_cert_from_der(der->data, der->len, &back, NULL), CS_OK);
	buf_free(der);
	return back;
}

/* --- tests ---------------------------------------------------------------- */

START_TEST(chain_verifies)
{
	X509 *root = mk_root(keys[_i], "certsvc root CA");
	X509 *sub = mk_sub(keys[(_i + 1) % KEY_N], root, keys[_i], 1825);
	char reason[128] = "x", dir[PATH_MAX];
	char rootp[PATH_MAX + 16], subp[PATH_MAX + 16];

	ck_assert(verify(root, root, NULL, reason, sizeof(reason)));
	ck_assert_str_eq(reason, "");
	ck_assert(verify(sub, root, NULL, reason, sizeof(reason)));
	ck_assert(crypto_cert_matches_key(sub, keys[(_i + 1) % KEY_N]));
	ck_assert(crypto_cert_matches_key(root, keys[_i]));
	ck_assert(!crypto_cert_matches_key(sub, keys[_i]));
	ck_assert_int_eq(ERR_peek_error(), 0);

	testutil_tmpdir(dir, sizeof(dir));
	write_pem(dir, "root.pem", root, rootp, sizeof(rootp));
	write_pem(dir, "issuing.pem", sub, subp, sizeof(subp));
	{
		char *argv[] = {"openssl", "verify", "-x509_strict", "-CAfile",
		    rootp, subp, NULL};

		ck_assert_int_eq(testutil_run(argv), 0);
	}
	X509_free(sub);
	X509_free(root);
}
END_TEST

START_TEST(root_is_exact)
{
	static const int nids[] = {NID_basic_constraints, NID_key_usage,
	    NID_subject_key_identifier, NID_authority_key_identifier};
	X509 *made = mk_root(keys[_i], "certsvc root CA");
	X509 *x = reparse(made);

	ck_assert_int_eq(X509_get_version(x), X509_VERSION_3);
	check_serial(x);
	check_sig_alg(x, _i);
	ext_exactly(x, nids, 4);
	check_bc(x, -1);
	check_ku(x);
	check_ski(x);
	check_aki(x, X509_get0_subject_key_id(x)); /* self: AKI = SKI */
	ck_assert_int_eq(
	    X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)),
	    0);
	ck_assert_int_eq(X509_check_issued(x, x), X509_V_OK);
	X509_free(x);
	X509_free(made);
}
END_TEST

START_TEST(sub_ca_is_exact)
{
	static const int nids[] = {NID_basic_constraints, NID_key_usage,
	    NID_subject_key_identifier, NID_authority_key_identifier,
	    NID_crl_distribution_points, NID_info_access};
	X509 *root = mk_root(keys[KEY_P384], "certsvc root CA");
	X509 *made = mk_sub(keys[_i], root, keys[KEY_P384], 1825);
	X509 *x = reparse(made);

	ck_assert_int_eq(X509_get_version(x), X509_VERSION_3);
	check_serial(x);
	check_sig_alg(x, KEY_P384); /* the issuer's key decides */
	ext_exactly(x, nids, 6);
	check_bc(x, 0);
	check_ku(x);
	check_ski(x);
	check_aki(x, X509_get0_subject_key_id(root));
	ck_assert_int_eq(
	    X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(root)),
	    0);

	check_cdp(x, CRL_URL);
	check_aia(x, OCSP_URL, ISSUERS_URL);

	X509_free(x);
	X509_free(made);
	X509_free(root);
}
END_TEST

START_TEST(only_asked_extensions)
{
	static const int ocsp_only[] = {NID_basic_constraints, NID_key_usage,
	    NID_subject_key_identifier, NID_authority_key_identifier,
	    NID_info_access};
	X509 *root = mk_root(keys[KEY_P256], "root");
	struct crypto_cert_spec s;
	AUTHORITY_INFO_ACCESS *aia;
	X509 *x = NULL;

	spec_init(&s, CRYPTO_CERT_SUB_CA, "sub", keys[KEY_P384]);
	s.ocsp_url = OCSP_URL;
	ck_assert_int_eq(
	    crypto_cert_issue(&s, root, keys[KEY_P256], &x, NULL), CS_OK);
	ext_exactly(x, ocsp_only, 5);
	aia = X509_get_ext_d2i(x, NID_info_access, NULL, NULL);
	ck_assert_int_eq(sk_ACCESS_DESCRIPTION_num(aia), 1);
	AUTHORITY_INFO_ACCESS_free(aia);
	X509_free(x);
	X509_free(root);
}
END_TEST

START_TEST(dn_types_and_utf8_round_trip)
{
	X509 *made = mk_root(keys[KEY_P256], CN_ZH);
	X509 *x = reparse(made);
	char subj[256];

	ck_assert_int_eq(X509_NAME_entry_count(X509_get_subject_name(x)), 3);
	check_dn(x, 0, NID_countryName, V_ASN1_PRINTABLESTRING, "CN");
	check_dn(x, 1, NID_organizationName, V_ASN1_UTF8STRING, "某市数据局");
	check_dn(x, 2, NID_commonName, V_ASN1_UTF8STRING, CN_ZH);
	crypto_cert_subject(x, subj, sizeof(subj));
	ck_assert_str_eq(subj, "CN=" CN_ZH ", O=某市数据局, C=CN");
	/* Truncation never splits a character: "CN=" + 2 of 3 bytes. */
	crypto_cert_subject(x, subj, 6);
	ck_assert_str_eq(subj, "CN=");
	crypto_cert_subject(x, subj, 7);
	ck_assert_str_eq(subj, "CN=电");
	X509_free(x);
	X509_free(made);
}
END_TEST

START_TEST(validity_time_types)
{
	struct crypto_cert_spec s;
	X509 *x = NULL;
	int days = -1, secs = -1;

	spec_init(&s, CRYPTO_CERT_ROOT_CA, "root", keys[KEY_P256]);
	s.days = 3650;
	ck_assert_int_eq(
	    crypto_cert_issue(&s, NULL, keys[KEY_P256], &x, NULL), CS_OK);
	ck_assert_int_eq(
	    ASN1_STRING_type(X509_get0_notBefore(x)), V_ASN1_UTCTIME);
	ck_assert_int_eq(
	    ASN1_STRING_type(X509_get0_notAfter(x)), V_ASN1_UTCTIME);
	ck_assert_int_eq(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x),
	                     X509_get0_notAfter(x)),
	    1);
	ck_assert_int_eq(days, 3650);
	ck_assert_int_eq(secs, 0);
	X509_free(x);

	/* Past 2049, RFC 5280 4.1.2.5 wants GeneralizedTime. */
	s.days = 36500;
	ck_assert_int_eq(
	    crypto_cert_issue(&s, NULL, keys[KEY_P256], &x, NULL), CS_OK);
	ck_assert_int_eq(
	    ASN1_STRING_type(X509_get0_notBefore(x)), V_ASN1_UTCTIME);
	ck_assert_int_eq(
	    ASN1_STRING_type(X509_get0_notAfter(x)), V_ASN1_GENERALIZEDTIME);
	ck_assert(verify(x, x, NULL, NULL, 0));
	X509_free(x);
}
END_TEST

START_TEST(wrong_root_is_invalid)
{
	X509 *root = mk_root(keys[KEY_P256], "certsvc root CA");
	X509 *other = mk_root(other_key, "certsvc root CA"); /* same name */
	X509 *stranger = mk_root(keys[KEY_P384], "another root");
	X509 *sub = mk_sub(keys[KEY_P384], root, keys[KEY_P256], 100);
	char reason[128], dir[PATH_MAX];
	char rootp[PATH_MAX + 16], subp[PATH_MAX + 16];

	ck_assert(!verify(sub, stranger, NULL, reason, sizeof(reason)));
	ck_assert_str_eq(reason, "unable to get local issuer certificate");
	ck_assert(!verify(sub, other, NULL, reason, sizeof(reason)));
	ck_assert_str_ne(reason, "");
	/* Another root in the chain is no trust anchor. */
	ck_assert(!verify(sub, stranger, root, reason, sizeof(reason)));
	ck_assert(!verify(stranger, root, NULL, reason, sizeof(reason)));

	testutil_tmpdir(dir, sizeof(dir));
	write_pem(dir, "other.pem", other, rootp, sizeof(rootp));
	write_pem(dir, "issuing.pem", sub, subp, sizeof(subp));
	{
		char *argv[] = {"openssl", "verify", "-x509_strict", "-CAfile",
		    rootp, subp, NULL};

		ck_assert_int_ne(testutil_run(argv), 0);
	}
	X509_free(sub);
	X509_free(stranger);
	X509_free(other);
	X509_free(root);
}
END_TEST

START_TEST(expired_is_invalid)
{
	X509 *root = mk_root(keys[KEY_P256], "root");
	X509 *sub = mk_sub(keys[KEY_P384], root, keys[KEY_P256], 0);
	char reason[128];

	/* days = 0: notAfter is now, which is past by the time we look. */
	ck_assert(!verify(sub, root, NULL, reason, sizeof(reason)));
	ck_assert_str_eq(reason, "certificate has expired");
	X509_free(sub);
	X509_free(root);
}
END_TEST

START_TEST(not_yet_valid_and_tampered_are_invalid)
{
	X509 *root = mk_root(keys[KEY_P256], "root");
	X509 *sub = mk_sub(keys[KEY_P384], root, keys[KEY_P256], 100);
	X509 *early = X509_dup(sub), *bad;
	char reason[128];
	struct buf *der = NULL;

	ck_assert_ptr_nonnull(
	    X509_time_adj_ex(X509_getm_notBefore(early), 1, 0, NULL));
	ck_assert_int_gt(X509_sign(early, keys[KEY_P256], EVP_sha256()), 0);
	ck_assert(!verify(early, root, NULL, reason, sizeof(reason)));
	ck_assert_str_eq(reason, "certificate is not yet valid");

	/* Flip a bit in the signature. */
	ck_assert_int_eq(crypto_cert_to_der(sub, &der, NULL), CS_OK);
	der->data[der->len - 5] ^= 0x01;
	ck_assert_int_eq(
	    crypto_cert_from_der(der->data, der->len, &bad, NULL), CS_OK);
	ck_assert(!verify(bad, root, NULL, reason, sizeof(reason)));
	ck_assert_str_ne(reason, "");
	buf_free(der);
	X509_free(bad);
	X509_free(early);
	X509_free(sub);
	X509_free(root);
}
END_TEST

START_TEST(bad_specs_are_invalid)
{
	X509 *root = mk_root(keys[KEY_P256], "root");
	struct crypto_cert_spec s;
	struct cs_err err;
	X509 *x = (X509 *)&x;
	char longcn[80];
	EVP_PKEY *small;

#define BAD(expr, frag)                                                        \
	do {                                                                   \
		expr;                                                          \
		cs_err_clear(&err);                                            \
		ck_assert_int_eq(                                              \
		    crypto_cert_issue(&s,                                      \
		        s.profile == CRYPTO_CERT_SUB_CA ? root : NULL,         \
		        s.profile == CRYPTO_CERT_SUB_CA ? keys[KEY_P256]       \
		                                        : s.subject_key,       \
		        &x, &err),                                             \
		    CS_ERR_INVALID);                                           \
		ck_assert_ptr_null(x);                                         \
		ck_assert_msg(strstr(err.msg, frag) != NULL, "%s", err.msg);   \
		ck_assert_int_eq(ERR_peek_error(), 0);                         \
		spec_init(&s, CRYPTO_CERT_SUB_CA, "sub", keys[KEY_P384]);      \
	} while (0)

	spec_init(&s, CRYPTO_CERT_SUB_CA, "sub", keys[KEY_P384]);
	BAD(s.country = "cn", "country");
	BAD(s.country = "CHN", "country");
	BAD(s.common_name = "", "common name");
	BAD(s.common_name = NULL, "common name");
	memset(longcn, 'a', 65);
	longcn[65] = '\0';
	BAD(s.common_name = longcn, "common name");
	BAD(s.common_name = "\xc3\x28", "common name"); /* invalid UTF-8 */
	BAD(s.organization = "a\tb", "organization");
	BAD(s.crl_url = "ftp://x/crl", "CRL URL");
	BAD(s.ocsp_url = "http://x/o csp", "OCSP URL");
	BAD(s.ca_issuers_url = "http://", "CA issuers URL");
	BAD(s.days = 100000, "validity");
	BAD(s.profile = 0, "profile");
	BAD(s.profile = 42, "profile");
	BAD(s.subject_key = NULL, "subject key");
	small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	BAD(s.subject_key = small, "2048");
	EVP_PKEY_free(small);
	small = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
	BAD(s.subject_key = small, "P-256");
	EVP_PKEY_free(small);
	BAD(spec_init(&s, CRYPTO_CERT_SUB_CA, "root", keys[KEY_P384]),
	    "differ"); /* same DN as its issuer */
#undef BAD

	/* Wrong pairings of profile, issuer and keys. */
	spec_init(&s, CRYPTO_CERT_ROOT_CA, "root", keys[KEY_P384]);
	ck_assert_int_eq(crypto_cert_issue(&s, NULL, keys[KEY_P256], &x, &err),
	    CS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "subject key"));
	ck_assert_int_eq(crypto_cert_issue(&s, root, keys[KEY_P256], &x, &err),
	    CS_ERR_INVALID);
	spec_init(&s, CRYPTO_CERT_SUB_CA, "sub", keys[KEY_P384]);
	ck_assert_int_eq(crypto_cert_issue(&s, NULL, keys[KEY_P384], &x, &err),
	    CS_ERR_INVALID);
	ck_assert_int_eq(crypto_cert_issue(&s, root, keys[KEY_P384], &x, &err),
	    CS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "issuer key"));
	ck_assert_int_eq(ERR_peek_error(), 0);
	X509_free(root);
}
END_TEST

START_TEST(encodings_round_trip)
{
	X509 *x = mk_root(keys[KEY_P256], CN_ZH), *y = NULL;
	struct buf *pem = NULL, *der = NULL, *der2 = NULL, *junk;
	struct cs_err err;

	ck_assert_int_eq(crypto_cert_to_pem(x, &pem, &err), CS_OK);
	ck_assert_ptr_nonnull(
	    strstr((char *)pem->data, "-----BEGIN CERTIFICATE-----"));
	ck_assert_int_eq(
	    crypto_cert_from_pem(pem->data, pem->len, &y, &err), CS_OK);
	ck_assert_int_eq(X509_cmp(x, y), 0);
	ck_assert_int_eq(crypto_cert_to_der(x, &der, &err), CS_OK);
	ck_assert_int_eq(crypto_cert_to_der(y, &der2, &err), CS_OK);
	ck_assert_int_eq(der->len, der2->len);
	ck_assert_mem_eq(der->data, der2->data, der->len);
	X509_free(y);
	y = (X509 *)&y;

	/* Truncated, trailing, garbage, empty, oversized. */
	ck_assert_int_eq(
	    crypto_cert_from_der(der->data, der->len - 1, &y, &err),
	    CS_ERR_INVALID);
	ck_assert_ptr_null(y);
	junk = buf_from(der->data, der->len);
	ck_assert_int_eq(buf_append(junk, "x", 1), CS_OK);
	ck_assert_int_eq(crypto_cert_from_der(junk->data, junk->len, &y, &err),
	    CS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "trailing"));
	ck_assert_int_eq(
	    crypto_cert_from_pem("hello", 5, &y, &err), CS_ERR_INVALID);
	ck_assert_int_eq(
	    crypto_cert_from_pem(pem->data, pem->len / 2, &y, &err),
	    CS_ERR_INVALID);
	ck_assert_int_eq(crypto_cert_from_der("", 0, &y, &err), CS_ERR_INVALID);
	ck_assert_int_eq(
	    crypto_cert_from_der(der->data, 2 * 1024 * 1024, &y, &err),
	    CS_ERR_INVALID);
	ck_assert_int_eq(ERR_peek_error(), 0);
	buf_free(junk);
	buf_free(der2);
	buf_free(der);
	buf_free(pem);
	X509_free(x);
}
END_TEST

START_TEST(md_follows_key)
{
	ck_assert_ptr_eq(crypto_md_for_key(keys[KEY_P256]), EVP_sha256());
	ck_assert_ptr_eq(crypto_md_for_key(keys[KEY_P384]), EVP_sha384());
	ck_assert_ptr_eq(crypto_md_for_key(keys[KEY_RSA3072]), EVP_sha256());
}
END_TEST

/* --- e-seal certificates ----------------------------------------------------
 */

static void
seal_spec(struct crypto_cert_spec *s, EVP_PKEY *key, unsigned days)
{
	memset(s, 0, sizeof(*s));
	s->profile = CRYPTO_CERT_SEAL;
	s->common_name = SEAL_CN;
	s->organization = SEAL_O;
	s->country = "CN";
	s->org_identifier = ORG_ID;
	s->days = days;
	s->subject_key = key;
	s->crl_url = SEAL_CRL;
	s->ocsp_url = SEAL_OCSP;
	s->ca_issuers_url = SEAL_ISSUERS;
}

static X509 *
mk_seal(EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, unsigned days)
{
	struct crypto_cert_spec s;
	struct cs_err err;
	X509 *x = NULL;

	seal_spec(&s, key, days);
	ck_assert_msg(
	    crypto_cert_issue(&s, issuer, issuer_key, &x, &err) == CS_OK, "%s",
	    err.msg);
	ck_assert_int_eq(ERR_peek_error(), 0);
	return x;
}

/* A CA-shaped certificate for other_key signed by issuer's key, as if. */
static X509 *
mk_cert_by(X509 *issuer, EVP_PKEY *issuer_key)
{
	X509 *x = X509_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(X509_set_version(x, X509_VERSION_3), 1);
	ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(x), -60));
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	ck_assert_int_eq(
	    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	        MBSTRING_UTF8, (const unsigned char *)"below", -1, -1, 0),
	    1);
	ck_assert_int_eq(
	    X509_set_issuer_name(x, X509_get_subject_name(issuer)), 1);
	ck_assert_int_eq(X509_set_pubkey(x, other_key), 1);
	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(
	    NULL, &v3, NID_authority_key_identifier, "keyid:always");
	ck_assert_ptr_nonnull(ext);
	ck_assert_int_eq(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	ck_assert_int_gt(
	    X509_sign(x, issuer_key, crypto_md_for_key(issuer_key)), 0);
	return x;
}

/* Seconds from notBefore to notAfter. */
static long
lifetime(X509 *x)
{
	int days = 0, secs = 0;

	ck_assert_int_eq(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x),
	                     X509_get0_notAfter(x)),
	    1);
	return (long)days * 86400 + secs;
}

START_TEST(seal_is_exact)
{
	/* keyUsage, SKI, AKI, CRL DP, AIA: no basicConstraints, no EKU. */
	static const int nids[] = {NID_key_usage, NID_subject_key_identifier,
	    NID_authority_key_identifier, NID_crl_distribution_points,
	    NID_info_access};
	/* BIT STRING, 6 unused bits, 1100 0000: digitalSignature, nonRep. */
	static const unsigned char ku[] = {0x03, 0x02, 0x06, 0xc0};
	X509 *root = mk_root(keys[KEY_P384], "certsvc root CA");
	X509 *sub = mk_sub(keys[KEY_P256], root, keys[KEY_P384], 1825);
	X509 *made = mk_seal(keys[_i], sub, keys[KEY_P256], 730);
	X509 *x = reparse(made);

	ck_assert_int_eq(X509_get_version(x), X509_VERSION_3);
	check_serial(x);
	check_sig_alg(x, KEY_P256); /* the issuer's key decides */
	ext_exactly(x, nids, 5);
	ck_assert_int_lt(X509_get_ext_by_NID(x, NID_basic_constraints, -1), 0);
	ck_assert_int_lt(X509_get_ext_by_NID(x, NID_ext_key_usage, -1), 0);
	ck_assert_int_eq(
	    X509_EXTENSION_get_critical(ext_get(x, NID_key_usage)), 1);
	ext_der(x, NID_key_usage, ku, sizeof(ku));
	ck_assert_uint_eq(
	    X509_get_key_usage(x), KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION);
	ck_assert_int_eq(X509_check_ca(x), 0);
	ck_assert_uint_eq(X509_get_extended_key_usage(x), UINT32_MAX);
	check_ski(x);
	check_aki(x, X509_get0_subject_key_id(sub));
	ck_assert_int_eq(
	    X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(sub)),
	    0);
	ck_assert_int_eq(X509_check_issued(sub, x), X509_V_OK);
	ck_assert(crypto_cert_matches_key(x, keys[_i]));
	ck_assert_int_eq(lifetime(x), 730L * 86400);

	check_cdp(x, SEAL_CRL);
	check_aia(x, SEAL_OCSP, SEAL_ISSUERS);

	/* Purposes a verifier may ask for: S/MIME signing and any. */
	ck_assert_int_eq(X509_check_purpose(x, X509_PURPOSE_SMIME_SIGN, 0), 1);
	ck_assert_int_eq(X509_check_purpose(x, X509_PURPOSE_ANY, 0), 1);
	ck_assert_int_eq(ERR_peek_error(), 0);
	X509_free(x);
	X509_free(made);
	X509_free(sub);
	X509_free(root);
}
END_TEST

START_TEST(seal_dn_types_and_utf8_round_trip)
{
	X509 *root = mk_root(keys[KEY_P384], "certsvc root CA");
	X509 *sub = mk_sub(keys[KEY_P256], root, keys[KEY_P384], 1825);
	X509 *made = mk_seal(keys[KEY_P256], sub, keys[KEY_P256], 365);
	X509 *x = reparse(made);
	char subj[512];

	ck_assert_int_eq(X509_NAME_entry_count(X509_get_subject_name(x)), 4);
	check_dn(x, 0, NID_countryName, V_ASN1_PRINTABLESTRING, "CN");
	check_dn(x, 1, NID_organizationName, V_ASN1_UTF8STRING, SEAL_O);
	check_dn(x, 2, NID_organizationIdentifier, V_ASN1_UTF8STRING, ORG_ID);
	check_dn(x, 3, NID_commonName, V_ASN1_UTF8STRING, SEAL_CN);
	{
		ASN1_OBJECT *oi = OBJ_txt2obj("2.5.4.97", 1);

		ck_assert_int_eq(OBJ_obj2nid(oi), NID_organizationIdentifier);
		ASN1_OBJECT_free(oi);
	}
	crypto_cert_subject(x, subj, sizeof(subj));
	ck_assert_str_eq(subj,
	    "CN=" SEAL_CN ", organizationIdentifier=" ORG_ID ", O=" SEAL_O
	    ", C=CN");
	X509_free(x);
	X509_free(made);
	X509_free(sub);
	X509_free(root);
}
END_TEST

START_TEST(seal_chain_verifies)
{
	X509 *root = mk_root(keys[KEY_P384], "certsvc root CA");
	X509 *sub = mk_sub(keys[KEY_RSA3072], root, keys[KEY_P384], 1825);
	X509 *x = mk_seal(keys[_i], sub, keys[KEY_RSA3072], 365);
	char reason[128] = "x", dir[PATH_MAX];
	char rootp[PATH_MAX + 16], subp[PATH_MAX + 16], sealp[PATH_MAX + 16];

	ck_assert_msg(
	    verify(x, root, sub, reason, sizeof(reason)), "%s", reason);
	ck_assert_str_eq(reason, "");
	ck_assert(!verify(x, root, NULL, reason, sizeof(reason)));
	ck_assert_str_eq(reason, "unable to get local issuer certificate");
	/* A seal certificate certifies nothing. */
	{
		X509 *below = mk_cert_by(x, keys[_i]);

		ck_assert(!verify(below, root, sub, reason, sizeof(reason)));
		X509_free(below);
	}

	testutil_tmpdir(dir, sizeof(dir));
	write_pem(dir, "root.pem", root, rootp, sizeof(rootp));
	write_pem(dir, "issuing.pem", sub, subp, sizeof(subp));
	write_pem(dir, "seal.pem", x, sealp, sizeof(sealp));
	{
		char *argv[] = {"openssl", "verify", "-x509_strict", "-CAfile",
		    rootp, "-untrusted", subp, sealp, NULL};

		ck_assert_int_eq(testutil_run(argv), 0);
	}
	{
		char *argv[] = {"openssl", "verify", "-x509_strict", "-purpose",
		    "smimesign", "-CAfile", rootp, "-untrusted", subp, sealp,
		    NULL};

		ck_assert_int_eq(testutil_run(argv), 0);
	}
	X509_free(x);
	X509_free(sub);
	X509_free(root);
}
END_TEST

START_TEST(seal_validity_capped_by_issuer)
{
	X509 *root = mk_root(keys[KEY_P384], "certsvc root CA");
	X509 *sub = mk_sub(keys[KEY_P256], root, keys[KEY_P384], 100);
	X509 *x = mk_seal(keys[KEY_P256], sub, keys[KEY_P256], 3650);
	X509 *shorter = mk_seal(keys[KEY_P256], sub, keys[KEY_P256], 30);
	X509 *sub_long = mk_sub(keys[KEY_P256], root, keys[KEY_P384], 36500);

	/* Never after the issuer's notAfter... */
	ck_assert_int_eq(
	    ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(sub)),
	    0);
	ck_assert_int_le(lifetime(x), 100L * 86400);
	ck_assert_int_ge(lifetime(x), 100L * 86400 - 5);
	ck_assert(verify(x, root, sub, NULL, 0));
	/* ... and as asked when it fits. */
	ck_assert_int_eq(lifetime(shorter), 30L * 86400);
	/* The sub-CA is capped by its root in the same way. */
	ck_assert_int_eq(ASN1_TIME_compare(X509_get0_notAfter(sub_long),
	                     X509_get0_notAfter(root)),
	    0);
	X509_free(sub_long);
	X509_free(shorter);
	X509_free(x);
	X509_free(sub);
	X509_free(root);
}
END_TEST

START_TEST(seal_needs_live_issuer)
{
	X509 *root = mk_root(keys[KEY_P384], "certsvc root CA");
	X509 *sub = mk_sub(keys[KEY_P256], root, keys[KEY_P384], 100);
	X509 *old = X509_dup(sub), *x = (X509 *)&x;
	struct crypto_cert_spec s;
	struct cs_err err;

	/* An issuer that expired yesterday issues nothing. */
	ck_assert_ptr_nonnull(
	    X509_time_adj_ex(X509_getm_notBefore(old), -10, 0, NULL));
	ck_assert_ptr_nonnull(
	    X509_time_adj_ex(X509_getm_notAfter(old), -1, 0, NULL));
	ck_assert_int_gt(X509_sign(old, keys[KEY_P384], EVP_sha384()), 0);
	seal_spec(&s, keys[KEY_P256], 365);
	ck_assert_int_eq(crypto_cert_issue(&s, old, keys[KEY_P256], &x, &err),
	    CS_ERR_INVALID);
	ck_assert_ptr_null(x);
	ck_assert_ptr_nonnull(strstr(err.msg, "expired"));
	ck_assert_int_eq(ERR_peek_error(), 0);
	X509_free(old);
	X509_free(sub);
	X509_free(root);
}
END_TEST

START_TEST(seal_bad_specs_are_invalid)
{
	X509 *root = mk_root(keys[KEY_P384], "certsvc root CA");
	X509 *sub = mk_sub(keys[KEY_P256], root, keys[KEY_P384], 1825);
	struct crypto_cert_spec s;
	struct cs_err err;
	X509 *x = (X509 *)&x;
	char longid[80];

#define BAD(expr, frag)                                                        \
	do {                                                                   \
		seal_spec(&s, keys[KEY_P384], 365);                            \
		expr;                                                          \
		cs_err_clear(&err);                                            \
		ck_assert_int_eq(                                              \
		    crypto_cert_issue(&s, sub, keys[KEY_P256], &x, &err),      \
		    CS_ERR_INVALID);                                           \
		ck_assert_ptr_null(x);                                         \
		ck_assert_msg(strstr(err.msg, frag) != NULL, "%s", err.msg);   \
		ck_assert_int_eq(ERR_peek_error(), 0);                         \
	} while (0)

	BAD(s.org_identifier = NULL, "organization identifier");
	BAD(s.organization = NULL, "organization");
	BAD(s.country = NULL, "country");
	BAD(s.org_identifier = "", "organization identifier");
	BAD(s.org_identifier = "ntrcn-11350100MB0123456X", "organization");
	BAD(s.org_identifier = "ABCCN-11350100MB0123456X", "organization");
	BAD(s.org_identifier = "NTRcn-11350100MB0123456X", "organization");
	BAD(s.org_identifier = "NTRCN11350100MB0123456X", "organization");
	BAD(s.org_identifier = "NTRCN-", "organization");
	BAD(s.org_identifier = "NTRCN-11350100MB0123456", "18");
	BAD(s.org_identifier = "NTRCN-11350100MB0123456XX", "18");
	BAD(s.org_identifier = "NTRCN-11350100MI0123456X", "'I'");
	BAD(s.org_identifier = "NTRCN-11350100MO0123456X", "'O'");
	BAD(s.org_identifier = "NTRCN-11350100MB0123456x", "character");
	BAD(s.org_identifier = "NTRCN-1135 0100MB0123456", "character");
	BAD(s.org_identifier = "NTRCN-电子证照电子证照", "character");
	memset(longid, '1', sizeof(longid) - 1);
	memcpy(longid, "VATBE-", 6);
	longid[65] = '\0';
	BAD(s.org_identifier = longid, "64");
	BAD(s.days = 100000, "validity");
	/* A seal is issued by a CA, never self-signed. */
	seal_spec(&s, keys[KEY_P384], 365);
	ck_assert_int_eq(crypto_cert_issue(&s, NULL, keys[KEY_P384], &x, &err),
	    CS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "issuer"));
	/* Nor by another seal. */
	{
		X509 *seal = mk_seal(keys[KEY_P384], sub, keys[KEY_P256], 365);

		seal_spec(&s, keys[KEY_RSA3072], 365);
		s.common_name = "below a seal";
		ck_assert_int_eq(
		    crypto_cert_issue(&s, seal, keys[KEY_P384], &x, &err),
		    CS_ERR_INVALID);
		ck_assert_ptr_nonnull(strstr(err.msg, "not a CA"));
		X509_free(seal);
	}
#undef BAD
	/* Other ETSI identity types pass through. */
	seal_spec(&s, keys[KEY_P384], 365);
	s.org_identifier = "VATBE-0123.456.789";
	ck_assert_int_eq(
	    crypto_cert_issue(&s, sub, keys[KEY_P256], &x, &err), CS_OK);
	X509_free(x);
	X509_free(sub);
	X509_free(root);
}
END_TEST

/* --- token-backed keys (software signer standing in for the token) ------ */

START_TEST(token_keys_issue_chain)
{
	struct certfix_signer rs = {.priv = keys[_i]};
	struct certfix_signer ss = {.priv = keys[(_i + 2) % KEY_N]};
	EVP_PKEY *rk = certfix_token_key(&rs), *sk = certfix_token_key(&ss);
	const OSSL_PROVIDER *prov;
	X509 *root, *sub;

	ck_assert(rk != NULL && sk != NULL);
	root = mk_root(rk, "token root");
	sub = mk_sub(sk, root, rk, 1825);
	ck_assert(verify(sub, root, NULL, NULL, 0));
	check_sig_alg(sub, _i);
	/* The certificates hold plain public keys, not token handles. */
	prov = EVP_PKEY_get0_provider(X509_get0_pubkey(sub));
	ck_assert_str_eq(OSSL_PROVIDER_get0_name(prov), "default");
	ck_assert(crypto_cert_matches_key(sub, sk));
	ck_assert(crypto_cert_matches_key(sub, keys[(_i + 2) % KEY_N]));
	X509_free(sub);
	X509_free(root);
	EVP_PKEY_free(sk);
	EVP_PKEY_free(rk);
}
END_TEST

START_TEST(token_key_issues_seal)
{
	struct certfix_signer rs = {.priv = keys[KEY_P384]};
	struct certfix_signer ss = {.priv = keys[_i]};
	EVP_PKEY *rk = certfix_token_key(&rs), *sk = certfix_token_key(&ss);
	X509 *root, *sub, *seal;

	ck_assert(rk != NULL && sk != NULL);
	root = mk_root(rk, "token root");
	sub = mk_sub(keys[KEY_P256], root, rk, 1825);
	seal = mk_seal(sk, sub, keys[KEY_P256], 365);
	ck_assert(verify(seal, root, sub, NULL, 0));
	ck_assert(crypto_cert_matches_key(seal, keys[_i]));
	X509_free(seal);
	X509_free(sub);
	X509_free(root);
	EVP_PKEY_free(sk);
	EVP_PKEY_free(rk);
}
END_TEST

START_TEST(token_failure_is_reported)
{
	struct certfix_signer rs = {.priv = keys[_i]};
	EVP_PKEY *rk = certfix_token_key(&rs);
	X509 *root, *x = (X509 *)&x;
	struct crypto_cert_spec s;
	struct cs_err err;

	ck_assert_ptr_nonnull(rk);
	root = mk_root(rk, "token root");
	rs.fail = CS_ERR_TOKEN;
	spec_init(&s, CRYPTO_CERT_SUB_CA, "sub", keys[KEY_P256]);
	ck_assert_int_eq(
	    crypto_cert_issue(&s, root, rk, &x, &err), CS_ERR_TOKEN);
	ck_assert_ptr_null(x);
	ck_assert_ptr_nonnull(strstr(err.msg, "cannot sign"));
	ck_assert_int_eq(ERR_peek_error(), 0);
	X509_free(root);
	EVP_PKEY_free(rk);
}
END_TEST

static Suite *
cert_suite(void)
{
	Suite *s = suite_create("cert");
	TCase *tc;

	tc = tcase_create("issue");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, chain_verifies, 0, KEY_N);
	tcase_add_loop_test(tc, root_is_exact, 0, KEY_N);
	tcase_add_loop_test(tc, sub_ca_is_exact, 0, KEY_N);
	tcase_add_test(tc, only_asked_extensions);
	tcase_add_test(tc, dn_types_and_utf8_round_trip);
	tcase_add_test(tc, validity_time_types);
	tcase_add_test(tc, md_follows_key);
	suite_add_tcase(s, tc);

	tc = tcase_create("verify");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, wrong_root_is_invalid);
	tcase_add_test(tc, expired_is_invalid);
	tcase_add_test(tc, not_yet_valid_and_tampered_are_invalid);
	suite_add_tcase(s, tc);

	tc = tcase_create("input");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, bad_specs_are_invalid);
	tcase_add_test(tc, encodings_round_trip);
	suite_add_tcase(s, tc);

	tc = tcase_create("seal");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, seal_is_exact, 0, KEY_N);
	tcase_add_test(tc, seal_dn_types_and_utf8_round_trip);
	tcase_add_loop_test(tc, seal_chain_verifies, 0, KEY_N);
	tcase_add_test(tc, seal_validity_capped_by_issuer);
	tcase_add_test(tc, seal_needs_live_issuer);
	tcase_add_test(tc, seal_bad_specs_are_invalid);
	suite_add_tcase(s, tc);

	tc = tcase_create("token");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, token_keys_issue_chain, 0, KEY_N);
	tcase_add_loop_test(tc, token_key_issues_seal, 0, KEY_N);
	tcase_add_loop_test(tc, token_failure_is_reported, 0, KEY_N);
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
	other_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	for (i = 0; i < KEY_N; i++)
		if (keys[i] == NULL)
			return EXIT_FAILURE;
	if (other_key == NULL)
		return EXIT_FAILURE;
	sr = srunner_create(cert_suite());
	srunner_run_all(sr, CK_NORMAL);
	nfailed = srunner_ntests_failed(sr);
	srunner_free(sr);
	EVP_PKEY_free(other_key);
	for (i = 0; i < KEY_N; i++)
		EVP_PKEY_free(keys[i]);
	return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
