/*
 * check_ts.c: the RFC 3161 timestamp authority of crypto/ts.c.  Requests
 * are built with OpenSSL's own TS_REQ API (and by hand for what it cannot
 * make), answers are read back with d2i_TS_RESP and granted ones verified
 * with TS_RESP_verify_response() against the root, as a client would.
 * The TSA key is a software key behind p11_evp_from_signer(), so the
 * token's path through the provider is the one exercised, and a failing
 * signer stands in for a token that went away.
 */
#include <check.h>
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
#include <openssl/pkcs7.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certsvc/err.h"
#include "certsvc/mem.h"
#include "crypto/crypto.h"
#include "tests/certfix.h"

#define DOC "{\"id\":\"L-2025-000001\"}"

static struct certfix_pki pki;
static EVP_PKEY *tsa_priv;
static X509 *tsa_cert;

/* The DER of q (given buffer). */
static struct buf *
req_der(TS_REQ *q)
{
	unsigned char *d = NULL;
	struct buf *b;
	int n = i2d_TS_REQ(q, &d);

	ck_assert_int_gt(n, 0);
	b = buf_from(d, (size_t)n);
	OPENSSL_free(d);
	ck_assert_ptr_nonnull(b);
	return b;
}

/* A request for the SHA-256 of DOC through OpenSSL, as `openssl ts`. */
static TS_REQ *
make_req(int md_nid, int mdlen, bool nonce, bool cert_req)
{
	unsigned char h[EVP_MAX_MD_SIZE];
	TS_REQ *q = TS_REQ_new();
	TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
	X509_ALGOR *alg = X509_ALGOR_new();
	ASN1_INTEGER *n = ASN1_INTEGER_new();

	memset(h, 0x5a, sizeof(h));
	if (md_nid == NID_sha256)
		EVP_Digest(DOC, strlen(DOC), h, NULL, EVP_sha256(), NULL);
	ck_assert(q != NULL && mi != NULL && alg != NULL && n != NULL);
	ck_assert_int_eq(
	    X509_ALGOR_set0(alg, OBJ_nid2obj(md_nid), V_ASN1_UNDEF, NULL), 1);
	ck_assert_int_eq(TS_MSG_IMPRINT_set_algo(mi, alg), 1);
	ck_assert_int_eq(TS_MSG_IMPRINT_set_msg(mi, h, mdlen), 1);
	ck_assert_int_eq(TS_REQ_set_version(q, 1), 1);
	ck_assert_int_eq(TS_REQ_set_msg_imprint(q, mi), 1);
	ck_assert_int_eq(ASN1_INTEGER_set_uint64(n, 0x1122334455667788ull), 1);
	if (nonce)
		ck_assert_int_eq(TS_REQ_set_nonce(q, n), 1);
	ck_assert_int_eq(TS_REQ_set_cert_req(q, cert_req), 1);
	ASN1_INTEGER_free(n);
	X509_ALGOR_free(alg);
	TS_MSG_IMPRINT_free(mi);
	return q;
}

struct tsa {
	struct certfix_signer sw;
	EVP_PKEY *key;
	STACK_OF(X509) * chain;
	struct crypto_ts_tmpl *tmpl;
	struct crypto_ts_signer s;
};

/*
 * The TSA of the loop tests: _i 0 signs through TS_RESP_CTX, _i 1 through
 * a template (made while the signer works; then it fails with fail).
 */
static void
tsa_init_mode(struct tsa *t, enum cs_rc fail, int mode)
{
	memset(t, 0, sizeof(*t));
	t->sw.priv = tsa_priv;
	t->key = certfix_token_key(&t->sw);
	ck_assert_ptr_nonnull(t->key);
	t->chain = sk_X509_new_null();
	ck_assert_int_gt(sk_X509_push(t->chain, pki.iss), 0);
	t->s.key = t->key;
	t->s.cert = tsa_cert;
	t->s.chain = t->chain;
	if (mode == 1) {
		ck_assert_int_eq(
		    crypto_ts_tmpl_new(&t->s, &t->tmpl, NULL), CS_OK);
		t->s.tmpl = t->tmpl;
	}
	t->sw.calls = 0;
	t->sw.fail = fail;
}

static void
tsa_init(struct tsa *t, enum cs_rc fail)
{
	tsa_init_mode(t, fail, 0);
}

static void
tsa_release(struct tsa *t)
{
	crypto_ts_tmpl_free(t->tmpl);
	sk_X509_free(t->chain);
	EVP_PKEY_free(t->key);
}

/* Answer der with t; the parsed response (TS_RESP_free). */
static TS_RESP *
answer(struct tsa *t, const struct buf *der, struct crypto_ts_req *r)
{
	const unsigned char *p;
	struct buf *resp = NULL;
	struct cs_err err = {0};
	unsigned char *re = NULL;
	TS_RESP *tr;
	int n;

	ck_assert_msg(crypto_ts_respond(&t->s, der != NULL ? der->data : NULL,
	                  der != NULL ? der->len : 0, &resp, r, &err) == CS_OK,
	    "%s", err.msg);
	ck_assert_int_eq(ERR_peek_error(), 0);
	p = resp->data;
	tr = d2i_TS_RESP(NULL, &p, (long)resp->len);
	ck_assert_ptr_nonnull(tr);
	ck_assert(p == resp->data + resp->len);
	/* DER: OpenSSL encodes what it parsed to exactly the same bytes. */
	n = i2d_TS_RESP(tr, &re);
	ck_assert_int_eq(n, (int)resp->len);
	ck_assert_mem_eq(re, resp->data, resp->len);
	OPENSSL_free(re);
	buf_free(resp);
	return tr;
}

static long
status_of(TS_RESP *tr)
{
	return ASN1_INTEGER_get(
	    TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(tr)));
}

/* A rejection with exactly failure bit f (and a statusString). */
static void
assert_rejected(TS_RESP *tr, int f)
{
	const ASN1_BIT_STRING *fi;
	int i;

	ck_assert_int_eq(status_of(tr), TS_STATUS_REJECTION);
	ck_assert_ptr_null(TS_RESP_get_token(tr));
	fi = TS_STATUS_INFO_get0_failure_info(TS_RESP_get_status_info(tr));
	ck_assert_ptr_nonnull(fi);
	for (i = 0; i < 32; i++)
		ck_assert_int_eq(ASN1_BIT_STRING_get_bit(fi, i), i == f);
	ck_assert_int_eq(sk_ASN1_UTF8STRING_num(TS_STATUS_INFO_get0_text(
	                     TS_RESP_get_status_info(tr))),
	    1);
}

/* TS_RESP_verify_response() for request q against the root. */
static int
client_verify(TS_REQ *q, TS_RESP *tr)
{
	TS_VERIFY_CTX *ctx = TS_REQ_to_TS_VERIFY_CTX(q, NULL);
	X509_STORE *st = X509_STORE_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	int ok;

	ck_assert(ctx != NULL && st != NULL && untrusted != NULL);
	ck_assert_int_eq(X509_STORE_add_cert(st, pki.root), 1);
	ck_assert_int_gt(sk_X509_push(untrusted, X509_dup(pki.iss)), 0);
	TS_VERIFY_CTX_set_store(ctx, st);
	TS_VERIFY_CTS_set_certs(ctx, untrusted);
	ok = TS_RESP_verify_response(ctx, tr);
	ERR_clear_error();
	TS_VERIFY_CTX_free(ctx);
	return ok;
}

static TS_TST_INFO *
info_of(TS_RESP *tr)
{
	TS_TST_INFO *ti = TS_RESP_get_tst_info(tr);

	ck_assert_ptr_nonnull(ti);
	return ti;
}

/* --- granted ----------------------------------------------------------- */

START_TEST(good_request_verifies)
{
	TS_REQ *q = make_req(NID_sha256, 32, true, true);
	struct buf *der = req_der(q);
	struct crypto_ts_req r;
	struct tsa t;
	TS_RESP *tr;
	TS_TST_INFO *ti;
	const ASN1_GENERALIZEDTIME *gt;
	ASN1_OBJECT *pol = OBJ_txt2obj(CRYPTO_TS_POLICY, 1);

	tsa_init_mode(&t, CS_OK, _i);
	tr = answer(&t, der, &r);
	ck_assert_int_eq(r.fail, CRYPTO_TS_OK);
	ck_assert_int_eq(status_of(tr), TS_STATUS_GRANTED);
	ck_assert_int_eq(t.sw.calls, 1);
	ck_assert_int_eq(client_verify(q, tr), 1);
	ti = info_of(tr);
	ck_assert_int_eq(TS_TST_INFO_get_version(ti), 1);
	ck_assert_int_eq(OBJ_cmp(TS_TST_INFO_get_policy_id(ti), pol), 0);
	ck_assert_int_eq(TS_TST_INFO_get_ordering(ti), 0);
	ck_assert_ptr_nonnull(TS_TST_INFO_get_accuracy(ti));
	gt = TS_TST_INFO_get_time(ti);
	/* YYYYMMDDHHMMSSZ: whole seconds, UTC. */
	ck_assert_int_eq(ASN1_STRING_length(gt), 15);
	ck_assert_int_eq(ASN1_STRING_get0_data(gt)[14], 'Z');
	ck_assert_int_lt(labs((long)(ASN1_TIME_cmp_time_t(gt, time(NULL)))), 2);
	/* certReq: the TSA certificate and its issuer are included. */
	ck_assert_int_eq(sk_X509_num(TS_RESP_get_token(tr)->d.sign->cert), 2);
	ASN1_OBJECT_free(pol);
	TS_RESP_free(tr);
	buf_free(der);
	TS_REQ_free(q);
	tsa_release(&t);
}
END_TEST

START_TEST(nonce_is_echoed_and_serials_differ)
{
	TS_REQ *q = make_req(NID_sha256, 32, true, false);
	struct buf *der = req_der(q);
	struct tsa t;
	TS_RESP *a, *b;
	const ASN1_INTEGER *sa, *sb;
	int n;

	tsa_init_mode(&t, CS_OK, _i);
	a = answer(&t, der, NULL);
	b = answer(&t, der, NULL);
	ck_assert_int_eq(ASN1_INTEGER_cmp(TS_TST_INFO_get_nonce(info_of(a)),
	                     TS_REQ_get_nonce(q)),
	    0);
	sa = TS_TST_INFO_get_serial(info_of(a));
	sb = TS_TST_INFO_get_serial(info_of(b));
	ck_assert_int_ne(ASN1_INTEGER_cmp(sa, sb), 0);
	ck_assert_int_eq(ASN1_STRING_type(sa), V_ASN1_INTEGER); /* positive */
	ck_assert_int_eq(ASN1_STRING_length(sa), 16);
	/*
	 * Always 16 octets: a first octet of zero would be dropped from the
	 * minimal DER (one serial in 256 before), so try two thousand.
	 */
	for (n = 0; n < 2000; n++) {
		TS_RESP *c = answer(&t, der, NULL);

		ck_assert_int_eq(
		    ASN1_STRING_length(TS_TST_INFO_get_serial(info_of(c))), 16);
		TS_RESP_free(c);
	}
	/* No certReq: no certificates, and the client needs them given. */
	ck_assert_int_le(sk_X509_num(TS_RESP_get_token(a)->d.sign->cert), 0);
	TS_RESP_free(a);
	TS_RESP_free(b);
	buf_free(der);
	TS_REQ_free(q);
	tsa_release(&t);
}
END_TEST

START_TEST(sha384_sha512_and_our_policy_accepted)
{
	static const int nids[] = {NID_sha384, NID_sha512};
	ASN1_OBJECT *pol = OBJ_txt2obj(CRYPTO_TS_POLICY, 1);
	struct tsa t;
	TS_RESP *tr;
	TS_REQ *q;
	struct buf *der;
	size_t i;

	tsa_init_mode(&t, CS_OK, _i);
	for (i = 0; i < 2; i++) {
		q = make_req(
		    nids[i], nids[i] == NID_sha384 ? 48 : 64, false, true);
		ck_assert_int_eq(TS_REQ_set_policy_id(q, pol), 1);
		der = req_der(q);
		tr = answer(&t, der, NULL);
		ck_assert_int_eq(status_of(tr), TS_STATUS_GRANTED);
		ck_assert_int_eq(client_verify(q, tr), 1);
		TS_RESP_free(tr);
		buf_free(der);
		TS_REQ_free(q);
	}
	ASN1_OBJECT_free(pol);
	tsa_release(&t);
}
END_TEST

/* --- rejected ---------------------------------------------------------- */

static void
expect_rejection(TS_REQ *q, int f)
{
	struct buf *der = req_der(q);
	struct crypto_ts_req r;
	struct tsa t;
	TS_RESP *tr;

	tsa_init(&t, CS_OK);
	tr = answer(&t, der, &r);
	assert_rejected(tr, f);
	ck_assert_int_eq((int)r.fail, f);
	ck_assert_int_eq(t.sw.calls, 0);
	TS_RESP_free(tr);
	buf_free(der);
	TS_REQ_free(q);
	tsa_release(&t);
}

START_TEST(bad_version)
{
	TS_REQ *q = make_req(NID_sha256, 32, false, true);

	ck_assert_int_eq(TS_REQ_set_version(q, 2), 1);
	expect_rejection(q, TS_INFO_BAD_REQUEST);
}
END_TEST

START_TEST(bad_hash_length)
{
	expect_rejection(
	    make_req(NID_sha256, 31, false, true), TS_INFO_BAD_DATA_FORMAT);
	expect_rejection(
	    make_req(NID_sha512, 32, false, true), TS_INFO_BAD_DATA_FORMAT);
}
END_TEST

START_TEST(unknown_or_weak_alg)
{
	expect_rejection(make_req(NID_sha1, 20, false, true), TS_INFO_BAD_ALG);
	expect_rejection(make_req(NID_md5, 16, false, true), TS_INFO_BAD_ALG);
	expect_rejection(
	    make_req(NID_sha3_256, 32, false, true), TS_INFO_BAD_ALG);
}
END_TEST

START_TEST(other_policy)
{
	TS_REQ *q = make_req(NID_sha256, 32, false, true);
	ASN1_OBJECT *pol = OBJ_txt2obj("1.3.6.1.4.1.4146.2.2", 1);

	ck_assert_int_eq(TS_REQ_set_policy_id(q, pol), 1);
	ASN1_OBJECT_free(pol);
	expect_rejection(q, TS_INFO_UNACCEPTED_POLICY);
}
END_TEST

START_TEST(extensions_refused)
{
	TS_REQ *q = make_req(NID_sha256, 32, false, true);
	ASN1_OCTET_STRING *v = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext;

	ck_assert_int_eq(
	    ASN1_OCTET_STRING_set(v, (unsigned char *)"\x05\x00", 2), 1);
	ext = X509_EXTENSION_create_by_NID(NULL, NID_id_pkix_OCSP_Nonce, 0, v);
	ck_assert_ptr_nonnull(ext);
	ck_assert_int_eq(TS_REQ_add_ext(q, ext, -1), 1);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(v);
	expect_rejection(q, TS_INFO_UNACCEPTED_EXTENSION);
}
END_TEST

/* Bytes that are not one DER TimeStampReq: badDataFormat, no signature. */
static void
expect_bad_format(const unsigned char *p, size_t len)
{
	struct buf *der = len > 0 ? buf_from(p, len) : NULL;
	struct crypto_ts_req r;
	struct tsa t;
	TS_RESP *tr;

	tsa_init(&t, CS_OK);
	tr = answer(&t, der, &r);
	assert_rejected(tr, TS_INFO_BAD_DATA_FORMAT);
	ck_assert_int_eq(t.sw.calls, 0);
	TS_RESP_free(tr);
	buf_free(der);
	tsa_release(&t);
}

START_TEST(garbage_and_ber_refused)
{
	TS_REQ *q = make_req(NID_sha256, 32, true, true);
	struct buf *good = req_der(q), *b;
	unsigned char big[CRYPTO_TS_REQ_MAX + 1];

	expect_bad_format((const unsigned char *)"hello, world", 12);
	expect_bad_format(NULL, 0);
	memset(big, 0x30, sizeof(big));
	expect_bad_format(big, sizeof(big));
	/* Truncated, and with a trailing byte. */
	expect_bad_format(good->data, good->len - 1);
	b = buf_new(good->len + 1);
	ck_assert_int_eq(buf_append(b, good->data, good->len), CS_OK);
	ck_assert_int_eq(buf_append(b, "\0", 1), CS_OK);
	expect_bad_format(b->data, b->len);
	buf_free(b);
	/* BER: the outer length in the long form (0x81 n). */
	ck_assert_int_lt(good->data[1], 0x80);
	b = buf_new(good->len + 1);
	ck_assert_int_eq(buf_append(b, "\x30\x81", 2), CS_OK);
	ck_assert_int_eq(buf_append(b, good->data + 1, good->len - 1), CS_OK);
	expect_bad_format(b->data, b->len);
	/* certReq FALSE written out (DER leaves a default out). */
	buf_free(b);
	TS_REQ_free(q);
	q = make_req(NID_sha256, 32, false, false);
	buf_free(good);
	good = req_der(q);
	b = buf_new(good->len + 3);
	ck_assert_int_eq(buf_append(b, good->data, good->len), CS_OK);
	ck_assert_int_eq(buf_append(b, "\x01\x01\x00", 3), CS_OK);
	b->data[1] += 3;
	ck_assert_int_lt(b->data[1], 0x80);
	expect_bad_format(b->data, b->len);
	buf_free(b);
	buf_free(good);
	TS_REQ_free(q);
}
END_TEST

START_TEST(token_down_is_system_failure)
{
	TS_REQ *q = make_req(NID_sha256, 32, true, true);
	struct buf *der = req_der(q), *resp = NULL;
	struct crypto_ts_req r;
	struct tsa t;
	TS_RESP *tr;

	tsa_init_mode(&t, CS_ERR_TOKEN, _i);
	tr = answer(&t, der, &r);
	assert_rejected(tr, TS_INFO_SYSTEM_FAILURE);
	ck_assert_int_eq(r.fail, CRYPTO_TS_SYSTEM_FAILURE);
	ck_assert_int_eq(r.sys_rc, CS_ERR_TOKEN);
	ck_assert_int_eq(t.sw.calls, 1);
	TS_RESP_free(tr);
	/* No signer at all: the same answer, nothing signed. */
	ck_assert_int_eq(
	    crypto_ts_respond(NULL, der->data, der->len, &resp, &r, NULL),
	    CS_OK);
	ck_assert_int_eq(r.fail, CRYPTO_TS_SYSTEM_FAILURE);
	ck_assert_int_eq(r.sys_rc, CS_ERR_TOKEN);
	ck_assert_ptr_nonnull(resp);
	buf_free(resp);
	buf_free(der);
	TS_REQ_free(q);
	tsa_release(&t);
}
END_TEST

START_TEST(check_matches_respond)
{
	TS_REQ *q = make_req(NID_sha256, 32, true, true);
	struct buf *der = req_der(q);
	struct crypto_ts_req r;

	crypto_ts_check(der->data, der->len, &r);
	ck_assert_int_eq(r.fail, CRYPTO_TS_OK);
	ck_assert(r.cert_req && r.has_nonce);
	ck_assert_ptr_eq(r.md, EVP_sha256());
	crypto_ts_check(der->data, der->len - 2, &r);
	ck_assert_int_eq(r.fail, CRYPTO_TS_BAD_DATA_FORMAT);
	ck_assert_ptr_null(r.md);
	buf_free(der);
	TS_REQ_free(q);
}
END_TEST

/* --- CAdES-T ----------------------------------------------------------- */

/* A seal of DOC by certfix's seal key. */
static struct buf *
make_seal(void)
{
	struct crypto_seal_opts o;
	STACK_OF(X509) *chain = sk_X509_new_null();
	struct buf *der = NULL;

	ck_assert_int_gt(sk_X509_push(chain, pki.iss), 0);
	memset(&o, 0, sizeof(o));
	o.key = pki.seal_key;
	o.cert = pki.seal;
	o.chain = chain;
	ck_assert_int_eq(crypto_cms_seal(&o, (const unsigned char *)DOC,
	                     strlen(DOC), &der, NULL),
	    CS_OK);
	sk_X509_free(chain);
	return der;
}

/* The token over the SHA-256 of p; the TSA certificate in it if cert_req. */
static struct buf *
token_req(struct tsa *t, const unsigned char *p, size_t len, bool cert_req)
{
	unsigned char md[32];
	struct buf *q = NULL, *resp = NULL, *tok = NULL;

	ck_assert_int_eq(EVP_Digest(p, len, md, NULL, EVP_sha256(), NULL), 1);
	ck_assert_int_eq(
	    crypto_ts_request(EVP_sha256(), md, 32, cert_req, &q, NULL), CS_OK);
	ck_assert_int_eq(
	    crypto_ts_respond(&t->s, q->data, q->len, &resp, NULL, NULL),
	    CS_OK);
	ck_assert_int_eq(
	    crypto_ts_token(resp->data, resp->len, &tok, NULL), CS_OK);
	buf_free(q);
	buf_free(resp);
	return tok;
}

static struct buf *
token_over(struct tsa *t, const unsigned char *p, size_t len)
{
	return token_req(t, p, len, true);
}

/* The certificate cache of the cached verification, one per process. */
static struct crypto_cert_cache *cache;

/*
 * OpenSSL's own verification of tok over the signature value of seal, as
 * crypto/cms.c did it before it verified tokens the way it verifies seals
 * (TS_RESP_verify_token, TS_VFY_SIGNATURE | TS_VFY_VERSION | TS_VFY_DATA,
 * the root alone trusted, X509_V_FLAG_X509_STRICT): the reference.
 */
static bool
reference_ok(const struct buf *seal, const struct buf *tok)
{
	const unsigned char *sig, *p = tok->data;
	size_t siglen;
	PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)tok->len);
	TS_VERIFY_CTX *ctx = TS_VERIFY_CTX_new();
	X509_STORE *st = X509_STORE_new();
	int ok = 0;

	ck_assert_int_eq(crypto_cms_signature_value(
	                     seal->data, seal->len, &sig, &siglen, NULL),
	    CS_OK);
	ck_assert(ctx != NULL && st != NULL);
	ck_assert_int_eq(X509_STORE_add_cert(st, pki.root), 1);
	X509_STORE_set_flags(st, X509_V_FLAG_X509_STRICT);
	TS_VERIFY_CTX_set_store(ctx, st);
	TS_VERIFY_CTX_set_data(ctx, BIO_new_mem_buf(sig, (int)siglen));
	TS_VERIFY_CTX_set_flags(
	    ctx, TS_VFY_SIGNATURE | TS_VFY_VERSION | TS_VFY_DATA);
	if (p7 != NULL)
		ok = TS_RESP_verify_token(ctx, p7);
	ERR_clear_error();
	TS_VERIFY_CTX_free(ctx);
	PKCS7_free(p7);
	return ok == 1;
}

/*
 * seal with tok as its timestamp, verified every way: crypto_cms_verify(),
 * crypto_cms_verify_cached() twice (certificates parsed, then cached:
 * the seal certificate's chain is remembered before the token is looked
 * at) and crypto_cms_timestamp().  The seal itself verifies; the
 * timestamp is present and ok exactly when why is NULL (and OpenSSL's
 * reference_ok() says the same), else its reason contains why.
 */
static void
assert_ts(const struct buf *seal, const struct buf *tok, const char *why)
{
	struct crypto_cms_result res;
	struct crypto_ts_result tr;
	struct buf *ts = NULL;
	int round;

	ck_assert_int_eq(reference_ok(seal, tok), why == NULL);
	ck_assert_int_eq(crypto_cms_add_timestamp(seal->data, seal->len,
	                     tok->data, tok->len, &ts, NULL),
	    CS_OK);
	for (round = 0; round < 3; round++) {
		ck_assert_int_eq(
		    crypto_cms_verify_cached((const unsigned char *)DOC,
		        strlen(DOC), ts->data, ts->len, pki.root,
		        round == 0 ? NULL : cache, &res, NULL),
		    CS_OK);
		ck_assert_int_eq(ERR_peek_error(), 0);
		ck_assert_msg(res.parsed && res.signature_ok && res.chain_ok,
		    "%s", res.reason);
		ck_assert(res.ts_present);
		if (why == NULL) {
			ck_assert_msg(
			    res.ts_ok, "round %d: %s", round, res.ts_reason);
			ck_assert_int_gt(res.ts_time, 0);
		} else {
			ck_assert_msg(!res.ts_ok, "round %d", round);
			ck_assert_int_eq(res.ts_time, 0);
			ck_assert_msg(strstr(res.ts_reason, why) != NULL,
			    "round %d: '%s' does not say '%s'", round,
			    res.ts_reason, why);
		}
		crypto_cms_result_release(&res);
	}
	ck_assert_int_eq(
	    crypto_cms_timestamp(ts->data, ts->len, pki.root, &tr, NULL),
	    CS_OK);
	ck_assert_int_eq(ERR_peek_error(), 0);
	ck_assert(tr.present);
	ck_assert_int_eq(tr.ok, why == NULL);
	ck_assert(why == NULL || strstr(tr.reason, why) != NULL);
	buf_free(ts);
}

/*
 * A token of the TSTInfo of good (one of ours) signed by cert and key with
 * OpenSSL's CMS API, not its TS one (which refuses a signer that is not a
 * TSA): signing-certificate-v2 by CMS_CADES (ess NULL) or naming cert then
 * the certificates of ess, content-type id-ct-TSTInfo, certs and cert in
 * the certificates.
 */
static struct buf *
token_by_ess(const struct buf *good, X509 *cert, EVP_PKEY *key,
    STACK_OF(X509) * certs, STACK_OF(X509) * ess)
{
	ESS_SIGNING_CERT_V2 *sc = NULL;
	unsigned char *scd = NULL;
	CMS_SignerInfo *si;
	int scn = 0;
	const unsigned char *p = good->data;
	PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)good->len);
	const unsigned int flags = CMS_BINARY | CMS_NOSMIMECAP;
	unsigned char *tst = NULL, *d = NULL;
	TS_TST_INFO *ti;
	CMS_ContentInfo *cms;
	struct buf *b;
	BIO *in;
	int n;

	ck_assert_ptr_nonnull(p7);
	ti = PKCS7_to_TS_TST_INFO(p7);
	ck_assert_ptr_nonnull(ti);
	n = i2d_TS_TST_INFO(ti, &tst);
	ck_assert_int_gt(n, 0);
	in = BIO_new_mem_buf(tst, n);
	cms = CMS_sign(NULL, NULL, certs, NULL, flags | CMS_PARTIAL);
	ck_assert(in != NULL && cms != NULL);
	ck_assert_int_eq(
	    CMS_set1_eContentType(cms, OBJ_nid2obj(NID_id_smime_ct_TSTInfo)),
	    1);
	si = CMS_add1_signer(cms, cert, key, EVP_sha256(),
	    flags | (ess == NULL ? CMS_CADES : 0));
	ck_assert_ptr_nonnull(si);
	if (ess != NULL) {
		sc = OSSL_ESS_signing_cert_v2_new_init(
		    EVP_sha256(), cert, ess, 1);
		ck_assert_ptr_nonnull(sc);
		scn = i2d_ESS_SIGNING_CERT_V2(sc, &scd);
		ck_assert_int_gt(scn, 0);
		ck_assert_int_eq(CMS_signed_add1_attr_by_NID(si,
		                     NID_id_smime_aa_signingCertificateV2,
		                     V_ASN1_SEQUENCE, scd, scn),
		    1);
		OPENSSL_free(scd);
		ESS_SIGNING_CERT_V2_free(sc);
	}
	ck_assert_int_eq(CMS_final(cms, in, NULL, flags), 1);
	n = i2d_CMS_ContentInfo(cms, &d);
	ck_assert_int_gt(n, 0);
	b = buf_from(d, (size_t)n);
	ck_assert_ptr_nonnull(b);
	OPENSSL_free(d);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	OPENSSL_free(tst);
	TS_TST_INFO_free(ti);
	PKCS7_free(p7);
	ck_assert_int_eq(ERR_peek_error(), 0);
	return b;
}

static struct buf *
token_by(
    const struct buf *good, X509 *cert, EVP_PKEY *key, STACK_OF(X509) * certs)
{
	return token_by_ess(good, cert, key, certs, NULL);
}

/* Our token over the seal's signature value, by t. */
static struct buf *
token_of_seal(struct tsa *t, const struct buf *seal, bool cert_req)
{
	const unsigned char *sig;
	size_t siglen;

	ck_assert_int_eq(crypto_cms_signature_value(
	                     seal->data, seal->len, &sig, &siglen, NULL),
	    CS_OK);
	return token_req(t, sig, siglen, cert_req);
}

/*
 * Our token over a seal by the TSA of mode (the control: it verifies),
 * then the same TSTInfo signed by cert and key with the issuing CA in the
 * token: assert_ts(why).
 */
static void
assert_forged(int mode, X509 *cert, EVP_PKEY *key, const char *why)
{
	struct buf *seal = make_seal(), *good, *tok;
	STACK_OF(X509) *certs = sk_X509_new_null();
	struct tsa t;

	tsa_init_mode(&t, CS_OK, mode);
	good = token_of_seal(&t, seal, true);
	assert_ts(seal, good, NULL);
	ck_assert_int_gt(sk_X509_push(certs, pki.iss), 0);
	tok = token_by(good, cert, key, certs);
	assert_ts(seal, tok, why);
	buf_free(tok);
	buf_free(good);
	sk_X509_free(certs);
	buf_free(seal);
	tsa_release(&t);
}

/* The forger of token_by() with the TSA's key and certificate: good. */
START_TEST(cades_t_forger_control)
{
	assert_forged(_i, tsa_cert, tsa_priv, NULL);
}
END_TEST

/*
 * signing-certificate-v2 naming more than the TSA certificate: the others
 * must be on its path to the root (RFC 5816 via OpenSSL's ESS check), not
 * merely in the token.
 */
START_TEST(cades_t_ess_names_the_path)
{
	struct buf *seal = make_seal(), *good, *tok;
	STACK_OF(X509) *certs = sk_X509_new_null();
	STACK_OF(X509) *ess = sk_X509_new_null();
	struct tsa t;

	tsa_init_mode(&t, CS_OK, _i);
	good = token_of_seal(&t, seal, true);
	ck_assert_int_gt(sk_X509_push(certs, pki.iss), 0);
	ck_assert_int_gt(sk_X509_push(ess, pki.iss), 0);
	tok = token_by_ess(good, tsa_cert, tsa_priv, certs, ess);
	assert_ts(seal, tok, NULL);
	buf_free(tok);
	/* The seal certificate is in the token but not on the TSA's path. */
	ck_assert_int_gt(sk_X509_push(certs, pki.seal), 0);
	ck_assert_int_gt(sk_X509_push(ess, pki.seal), 0);
	tok = token_by_ess(good, tsa_cert, tsa_priv, certs, ess);
	assert_ts(seal, tok, "signing-certificate attribute does not name");
	buf_free(tok);
	buf_free(good);
	sk_X509_free(ess);
	sk_X509_free(certs);
	buf_free(seal);
	tsa_release(&t);
}
END_TEST

/* Over other bytes than the signature value: the imprint differs. */
START_TEST(cades_t_imprint_over_other_bytes)
{
	struct buf *seal = make_seal(), *tok;
	struct tsa t;

	tsa_init_mode(&t, CS_OK, _i);
	tok = token_over(&t, (const unsigned char *)DOC, strlen(DOC));
	assert_ts(seal, tok, "imprint is not the digest");
	buf_free(tok);
	buf_free(seal);
	tsa_release(&t);
}
END_TEST

/*
 * Signed by the seal certificate (no timeStamping EKU), which chains to
 * the root and whose chain the cache has just remembered for the seal.
 */
START_TEST(cades_t_signer_not_a_tsa)
{
	assert_forged(
	    _i, pki.seal, pki.seal_key, "unsuitable certificate purpose");
}
END_TEST

/* A TSA certificate of another PKI: it does not chain to our root. */
START_TEST(cades_t_untrusted_ca)
{
	struct buf *seal = make_seal(), *good, *tok;
	STACK_OF(X509) *certs = sk_X509_new_null();
	struct certfix_pki other;
	X509 *tsa2;
	struct tsa t;

	tsa_init_mode(&t, CS_OK, _i);
	ck_assert(certfix_pki_init(&other));
	tsa2 = certfix_issue(
	    CRYPTO_CERT_TSA, "TSA", tsa_priv, other.iss, other.iss_key);
	ck_assert_ptr_nonnull(tsa2);
	good = token_of_seal(&t, seal, true);
	ck_assert_int_gt(sk_X509_push(certs, other.iss), 0);
	tok = token_by(good, tsa2, tsa_priv, certs);
	assert_ts(seal, tok, "unable to get local issuer certificate");
	buf_free(tok);
	/* And with the other root too: still not ours. */
	ck_assert_int_gt(sk_X509_push(certs, other.root), 0);
	tok = token_by(good, tsa2, tsa_priv, certs);
	assert_ts(seal, tok, "TSA certificate chain");
	buf_free(tok);
	buf_free(good);
	sk_X509_free(certs);
	X509_free(tsa2);
	certfix_pki_free(&other);
	buf_free(seal);
	tsa_release(&t);
}
END_TEST

/* One octet of the TSTInfo changed (its imprint): the signature fails. */
START_TEST(cades_t_tampered_tstinfo)
{
	struct buf *seal = make_seal(), *tok;
	const unsigned char *sig;
	unsigned char md[32], *at;
	size_t siglen;
	struct tsa t;

	tsa_init_mode(&t, CS_OK, _i);
	tok = token_of_seal(&t, seal, true);
	ck_assert_int_eq(crypto_cms_signature_value(
	                     seal->data, seal->len, &sig, &siglen, NULL),
	    CS_OK);
	ck_assert_int_eq(
	    EVP_Digest(sig, siglen, md, NULL, EVP_sha256(), NULL), 1);
	at = memmem(tok->data, tok->len, md, sizeof(md));
	ck_assert_ptr_nonnull(at);
	at[31] ^= 0x01;
	assert_ts(seal, tok, "does not verify: bad signature");
	buf_free(tok);
	buf_free(seal);
	tsa_release(&t);
}
END_TEST

/* Asked without certReq: the token does not carry the TSA certificate. */
START_TEST(cades_t_tsa_certificate_missing)
{
	struct buf *seal = make_seal(), *tok;
	struct tsa t;

	tsa_init_mode(&t, CS_OK, _i);
	tok = token_of_seal(&t, seal, false);
	assert_ts(seal, tok, "does not carry the TSA certificate");
	buf_free(tok);
	buf_free(seal);
	tsa_release(&t);
}
END_TEST

START_TEST(cades_t_seal_verifies)
{
	struct buf *seal = make_seal(), *tok, *ts = NULL, *again = NULL;
	const unsigned char *sig, *sig2;
	size_t siglen, siglen2;
	struct crypto_cms_result res;
	struct crypto_ts_result tr;
	struct tsa t;
	int64_t now = (int64_t)time(NULL);

	tsa_init_mode(&t, CS_OK, _i);
	ck_assert_int_eq(crypto_cms_signature_value(
	                     seal->data, seal->len, &sig, &siglen, NULL),
	    CS_OK);
	ck_assert_int_gt(siglen, 60);
	tok = token_over(&t, sig, siglen);
	ck_assert_int_eq(crypto_cms_add_timestamp(seal->data, seal->len,
	                     tok->data, tok->len, &ts, NULL),
	    CS_OK);
	/* The signed part is untouched: the same signature value. */
	ck_assert_int_eq(crypto_cms_signature_value(
	                     ts->data, ts->len, &sig2, &siglen2, NULL),
	    CS_OK);
	ck_assert_uint_eq(siglen2, siglen);
	ck_assert_mem_eq(sig2, sig, siglen);
	ck_assert_int_eq(
	    crypto_cms_verify((const unsigned char *)DOC, strlen(DOC), ts->data,
	        ts->len, pki.root, &res, NULL),
	    CS_OK);
	ck_assert_msg(
	    res.parsed && res.signature_ok && res.chain_ok, "%s", res.reason);
	ck_assert_msg(res.ts_present && res.ts_ok, "%s", res.ts_reason);
	ck_assert_int_le(llabs(res.ts_time - now), 2);
	crypto_cms_result_release(&res);
	ck_assert_int_eq(
	    crypto_cms_timestamp(ts->data, ts->len, pki.root, &tr, NULL),
	    CS_OK);
	ck_assert(tr.present && tr.ok);
	/* One timestamp only: a second is refused. */
	ck_assert_int_eq(crypto_cms_add_timestamp(ts->data, ts->len, tok->data,
	                     tok->len, &again, NULL),
	    CS_ERR_INVALID);
	ck_assert_ptr_null(again);
	/* Without the attribute: no timestamp. */
	ck_assert_int_eq(
	    crypto_cms_timestamp(seal->data, seal->len, pki.root, &tr, NULL),
	    CS_OK);
	ck_assert(!tr.present && !tr.ok);
	buf_free(ts);
	buf_free(tok);
	buf_free(seal);
	tsa_release(&t);
}
END_TEST

START_TEST(cades_t_wrong_imprint_or_root_fails)
{
	struct buf *seal = make_seal(), *tok, *ts = NULL;
	struct crypto_ts_result tr;
	struct tsa t;

	tsa_init_mode(&t, CS_OK, _i);
	/* A token over the document, not over the signature value. */
	tok = token_over(&t, (const unsigned char *)DOC, strlen(DOC));
	ck_assert_int_eq(crypto_cms_add_timestamp(seal->data, seal->len,
	                     tok->data, tok->len, &ts, NULL),
	    CS_OK);
	ck_assert_int_eq(
	    crypto_cms_timestamp(ts->data, ts->len, pki.root, &tr, NULL),
	    CS_OK);
	ck_assert(tr.present && !tr.ok);
	ck_assert_str_ne(tr.reason, "");
	/* Another root: the TSA does not chain. */
	buf_free(ts);
	buf_free(tok);
	ts = NULL;
	{
		const unsigned char *sig;
		size_t siglen;

		ck_assert_int_eq(crypto_cms_signature_value(seal->data,
		                     seal->len, &sig, &siglen, NULL),
		    CS_OK);
		tok = token_over(&t, sig, siglen);
	}
	ck_assert_int_eq(crypto_cms_add_timestamp(seal->data, seal->len,
	                     tok->data, tok->len, &ts, NULL),
	    CS_OK);
	ck_assert_int_eq(
	    crypto_cms_timestamp(ts->data, ts->len, pki.iss, &tr, NULL), CS_OK);
	ck_assert(tr.present && !tr.ok);
	buf_free(ts);
	buf_free(tok);
	buf_free(seal);
	tsa_release(&t);
}
END_TEST

START_TEST(splice_refuses_what_is_not_a_seal)
{
	struct buf *out = NULL;
	const unsigned char *sig;
	size_t siglen;

	ck_assert_int_eq(crypto_cms_add_timestamp((const unsigned char *)"0", 1,
	                     (const unsigned char *)"x", 1, &out, NULL),
	    CS_ERR_INVALID);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(
	    crypto_cms_signature_value(
	        (const unsigned char *)"\x30\x00", 2, &sig, &siglen, NULL),
	    CS_ERR_INVALID);
	ck_assert_int_eq(
	    crypto_ts_token((const unsigned char *)"\x30\x00", 2, &out, NULL),
	    CS_ERR_INVALID);
	ck_assert_int_eq(
	    crypto_ts_request(EVP_sha256(), (const unsigned char *)"short", 5,
	        true, &out, NULL),
	    CS_ERR_INVALID);
	ck_assert_int_eq(ERR_peek_error(), 0);
}
END_TEST

/*
 * crypto_ts_token walks the response as DER: it gives exactly the token
 * OpenSSL finds in it, refuses a rejection, trailing bytes and a token
 * that is not a SignedData, and leaves no OpenSSL error behind.
 */
START_TEST(token_is_what_openssl_finds)
{
	TS_REQ *q = make_req(NID_sha256, 32, false, true);
	struct buf *der = req_der(q), *resp = NULL, *tok = NULL, *bad;
	const unsigned char *p;
	unsigned char *ref = NULL;
	struct tsa t;
	TS_RESP *tr;
	int n;

	tsa_init(&t, CS_OK);
	ck_assert_int_eq(
	    crypto_ts_respond(&t.s, der->data, der->len, &resp, NULL, NULL),
	    CS_OK);
	ck_assert_int_eq(
	    crypto_ts_token(resp->data, resp->len, &tok, NULL), CS_OK);
	p = resp->data;
	tr = d2i_TS_RESP(NULL, &p, (long)resp->len);
	ck_assert_ptr_nonnull(tr);
	n = i2d_PKCS7(TS_RESP_get_token(tr), &ref);
	ck_assert_int_eq(n, (int)tok->len);
	ck_assert_mem_eq(tok->data, ref, tok->len);
	OPENSSL_free(ref);
	TS_RESP_free(tr);
	buf_free(tok);
	tok = NULL;
	/* one byte more, one byte less */
	bad = buf_from(resp->data, resp->len);
	ck_assert_int_eq(buf_append(bad, "", 1), CS_OK);
	ck_assert_int_eq(
	    crypto_ts_token(bad->data, bad->len, &tok, NULL), CS_ERR_INVALID);
	ck_assert_int_eq(crypto_ts_token(bad->data, resp->len - 1, &tok, NULL),
	    CS_ERR_INVALID);
	/* the token's content type made id-data (last OID byte 2 -> 1) */
	memcpy(bad->data, resp->data, resp->len);
	bad->len = resp->len;
	p = memmem(bad->data, bad->len,
	    "\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02", 11);
	ck_assert_ptr_nonnull(p);
	bad->data[p - bad->data + 10] = 0x01;
	ck_assert_int_eq(
	    crypto_ts_token(bad->data, bad->len, &tok, NULL), CS_ERR_INVALID);
	ck_assert_ptr_null(tok);
	buf_free(bad);
	buf_free(resp);
	buf_free(der);
	TS_REQ_free(q);
	/* a rejection (bad version) has no token */
	q = make_req(NID_sha256, 32, false, true);
	ck_assert_int_eq(TS_REQ_set_version(q, 2), 1);
	der = req_der(q);
	ck_assert_int_eq(
	    crypto_ts_respond(&t.s, der->data, der->len, &resp, NULL, NULL),
	    CS_OK);
	ck_assert_int_eq(
	    crypto_ts_token(resp->data, resp->len, &tok, NULL), CS_ERR_INVALID);
	ck_assert_ptr_null(tok);
	ck_assert_int_eq(ERR_peek_error(), 0);
	buf_free(resp);
	buf_free(der);
	TS_REQ_free(q);
	tsa_release(&t);
}
END_TEST

/* The TSA certificate profile: critical EKU timeStamping, nothing else. */
START_TEST(tsa_certificate_profile)
{
	EXTENDED_KEY_USAGE *eku;
	int crit = -1;

	eku = X509_get_ext_d2i(tsa_cert, NID_ext_key_usage, &crit, NULL);
	ck_assert_ptr_nonnull(eku);
	ck_assert_int_eq(crit, 1);
	ck_assert_int_eq(sk_ASN1_OBJECT_num(eku), 1);
	ck_assert_int_eq(
	    OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)), NID_time_stamp);
	ck_assert_int_eq(
	    X509_check_purpose(tsa_cert, X509_PURPOSE_TIMESTAMP_SIGN, 0), 1);
	EXTENDED_KEY_USAGE_free(eku);
}
END_TEST

static Suite *
ts_suite(void)
{
	Suite *s = suite_create("ts");
	TCase *tc;

	tc = tcase_create("granted");
	tcase_add_loop_test(tc, good_request_verifies, 0, 2);
	tcase_add_loop_test(tc, nonce_is_echoed_and_serials_differ, 0, 2);
	tcase_add_loop_test(tc, sha384_sha512_and_our_policy_accepted, 0, 2);
	tcase_add_test(tc, check_matches_respond);
	tcase_add_test(tc, tsa_certificate_profile);
	suite_add_tcase(s, tc);
	tc = tcase_create("rejected");
	tcase_add_test(tc, bad_version);
	tcase_add_test(tc, bad_hash_length);
	tcase_add_test(tc, unknown_or_weak_alg);
	tcase_add_test(tc, other_policy);
	tcase_add_test(tc, extensions_refused);
	tcase_add_test(tc, garbage_and_ber_refused);
	tcase_add_test(tc, token_is_what_openssl_finds);
	tcase_add_loop_test(tc, token_down_is_system_failure, 0, 2);
	suite_add_tcase(s, tc);
	tc = tcase_create("cades_t");
	tcase_add_loop_test(tc, cades_t_seal_verifies, 0, 2);
	tcase_add_loop_test(tc, cades_t_wrong_imprint_or_root_fails, 0, 2);
	tcase_add_test(tc, splice_refuses_what_is_not_a_seal);
	tcase_add_loop_test(tc, cades_t_forger_control, 0, 2);
	tcase_add_loop_test(tc, cades_t_ess_names_the_path, 0, 2);
	tcase_add_loop_test(tc, cades_t_imprint_over_other_bytes, 0, 2);
	tcase_add_loop_test(tc, cades_t_signer_not_a_tsa, 0, 2);
	tcase_add_loop_test(tc, cades_t_untrusted_ca, 0, 2);
	tcase_add_loop_test(tc, cades_t_tampered_tstinfo, 0, 2);
	tcase_add_loop_test(tc, cades_t_tsa_certificate_missing, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int nfailed;

	tsa_priv = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (tsa_priv == NULL || !certfix_pki_init(&pki))
		return EXIT_FAILURE;
	tsa_cert = certfix_issue(
	    CRYPTO_CERT_TSA, "TSA", tsa_priv, pki.iss, pki.iss_key);
	if (tsa_cert == NULL ||
	    crypto_cert_cache_new(64, &cache, NULL) != CS_OK)
		return EXIT_FAILURE;
	sr = srunner_create(ts_suite());
	srunner_run_all(sr, CK_NORMAL);
	nfailed = srunner_ntests_failed(sr);
	srunner_free(sr);
	crypto_cert_cache_free(cache);
	X509_free(tsa_cert);
	EVP_PKEY_free(tsa_priv);
	certfix_pki_free(&pki);
	return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
