/*
 * check_ocsp.c: crypto/ocsp.c with software keys: responses parsed back and
 * checked with OpenSSL's own OCSP client code (OCSP_basic_verify against
 * the root, OCSP_resp_find_status), request parsing of good, SHA-256,
 * nonce-carrying, multi-request, empty, truncated, oversized and garbage
 * input, error responses and CRLReason names.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certsvc/err.h"
#include "certsvc/mem.h"
#include "crypto/crypto.h"
#include "tests/certfix.h"

/* Made once in main(): root, issuing CA, OCSP responder, a seal; another CA. */
static struct certfix_pki pki;
static EVP_PKEY *resp_key, *other_key;
static X509 *responder, *other_ca;

static OCSP_BASICRESP *
parse_basic(const struct buf *der)
{
	const unsigned char *p = der->data;
	OCSP_RESPONSE *r = d2i_OCSP_RESPONSE(NULL, &p, (long)der->len);
	OCSP_BASICRESP *bs;

	ck_assert_ptr_nonnull(r);
	ck_assert(p == der->data + der->len);
	ck_assert_int_eq(
	    OCSP_response_status(r), OCSP_RESPONSE_STATUS_SUCCESSFUL);
	bs = OCSP_response_get1_basic(r);
	OCSP_RESPONSE_free(r);
	ck_assert_ptr_nonnull(bs);
	return bs;
}

/* 1 when OpenSSL's client accepts bs with only the root trusted. */
static int
client_verify(OCSP_BASICRESP *bs)
{
	X509_STORE *st = X509_STORE_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	int r;

	ck_assert_int_eq(X509_STORE_add_cert(st, pki.root), 1);
	/* What a client knows: the issuers of what it asks about. */
	ck_assert_int_gt(sk_X509_push(untrusted, pki.iss), 0);
	ck_assert_int_gt(sk_X509_push(untrusted, pki.root), 0);
	r = OCSP_basic_verify(bs, untrusted, st, 0);
	sk_X509_free(untrusted);
	X509_STORE_free(st);
	return r;
}

static int64_t
t_of(const ASN1_GENERALIZEDTIME *t)
{
	struct tm tm;

	ck_assert_int_eq(ASN1_TIME_to_tm(t, &tm), 1);
	return (int64_t)timegm(&tm);
}

static void
single_init(
    struct crypto_ocsp_single *s, X509 *cert, X509 *issuer, const EVP_MD *md)
{
	memset(s, 0, sizeof(*s));
	s->cert = cert;
	s->issuer = issuer;
	s->md = md;
	s->reason = CRYPTO_REASON_NONE;
	s->this_update = (int64_t)time(NULL) - 10;
	s->next_update = s->this_update + 86400;
}

START_TEST(good_response_verifies_with_root)
{
	const EVP_MD *md = _i == 0 ? EVP_sha1() : EVP_sha256();
	struct crypto_ocsp_single s;
	struct buf *der = NULL;
	OCSP_BASICRESP *bs;
	OCSP_CERTID *id;
	ASN1_GENERALIZEDTIME *tu = NULL, *nu = NULL, *rt = NULL;
	const ASN1_OCTET_STRING *keyid = NULL;
	const X509_NAME *name = NULL;
	int status = -9, reason = -9;

	single_init(&s, pki.seal, pki.iss, md);
	ck_assert_int_eq(
	    crypto_ocsp_sign(&s, responder, resp_key, &der, NULL), CS_OK);
	bs = parse_basic(der);
	ck_assert_int_eq(client_verify(bs), 1);
	id = OCSP_cert_to_id(md, pki.seal, pki.iss);
	ck_assert_int_eq(
	    OCSP_resp_find_status(bs, id, &status, &reason, &rt, &tu, &nu), 1);
	ck_assert_int_eq(status, V_OCSP_CERTSTATUS_GOOD);
	ck_assert_int_eq(ASN1_STRING_type(tu), V_ASN1_GENERALIZEDTIME);
	ck_assert_int_eq(t_of(tu), s.this_update);
	ck_assert_int_eq(t_of(nu), s.next_update);
	ck_assert_int_eq(OCSP_check_validity(tu, nu, 0, -1), 1);
	/* RFC 5019: one SingleResponse, byKey, no nonce, signer included. */
	ck_assert_int_eq(OCSP_resp_count(bs), 1);
	ck_assert_int_eq(OCSP_resp_get0_id(bs, &keyid, &name), 1);
	ck_assert_ptr_nonnull(keyid);
	ck_assert_ptr_null(name);
	ck_assert_int_eq(OCSP_BASICRESP_get_ext_count(bs), 0);
	ck_assert_int_eq(sk_X509_num(OCSP_resp_get0_certs(bs)), 1);
	ck_assert_int_eq(
	    X509_cmp(sk_X509_value(OCSP_resp_get0_certs(bs), 0), responder), 0);
	OCSP_CERTID_free(id);
	OCSP_BASICRESP_free(bs);
	buf_free(der);
}
END_TEST

START_TEST(revoked_carries_time_and_reason)
{
	struct crypto_ocsp_single s;
	struct buf *der = NULL;
	OCSP_BASICRESP *bs;
	OCSP_CERTID *id;
	ASN1_GENERALIZEDTIME *tu = NULL, *nu = NULL, *rt = NULL;
	int status = -9, reason = -9;

	single_init(&s, pki.seal, pki.iss, EVP_sha1());
	s.revoked = true;
	s.revoked_at = 1700000000;
	s.reason =
	    _i == 0 ? CRYPTO_REASON_KEY_COMPROMISE : CRYPTO_REASON_UNSPECIFIED;
	ck_assert_int_eq(
	    crypto_ocsp_sign(&s, responder, resp_key, &der, NULL), CS_OK);
	bs = parse_basic(der);
	ck_assert_int_eq(client_verify(bs), 1);
	id = OCSP_cert_to_id(EVP_sha1(), pki.seal, pki.iss);
	ck_assert_int_eq(
	    OCSP_resp_find_status(bs, id, &status, &reason, &rt, &tu, &nu), 1);
	ck_assert_int_eq(status, V_OCSP_CERTSTATUS_REVOKED);
	ck_assert_int_eq(t_of(rt), 1700000000);
	/* unspecified is left out, like in a CRL (RFC 5280 5.3.1) */
	ck_assert_int_eq(reason, _i == 0 ? 1 : -1);
	OCSP_CERTID_free(id);
	OCSP_BASICRESP_free(bs);
	buf_free(der);
}
END_TEST

START_TEST(ca_answers_for_its_own_certificates)
{
	struct crypto_ocsp_single s;
	struct buf *der = NULL;
	OCSP_BASICRESP *bs;

	/* The root answers for the issuing CA: no certificate included. */
	single_init(&s, pki.iss, pki.root, EVP_sha1());
	ck_assert_int_eq(
	    crypto_ocsp_sign(&s, pki.root, pki.root_key, &der, NULL), CS_OK);
	bs = parse_basic(der);
	ck_assert_ptr_null(OCSP_resp_get0_certs(bs)); /* certs absent */
	ck_assert_int_eq(client_verify(bs), 1);
	OCSP_BASICRESP_free(bs);
	buf_free(der);
}
END_TEST

START_TEST(sign_refuses_bad_input)
{
	struct crypto_ocsp_single s;
	struct buf *der = NULL;
	struct cs_err err = {0};

	single_init(&s, pki.seal, pki.iss, EVP_sha1());
	/* A seal certificate may not answer for its issuer. */
	ck_assert_int_eq(
	    crypto_ocsp_sign(&s, pki.seal2, pki.seal_key, &der, &err),
	    CS_ERR_INVALID);
	ck_assert_ptr_null(der);
	/* The responder of another issuer may not either. */
	single_init(&s, pki.iss, pki.root, EVP_sha1());
	ck_assert_int_eq(crypto_ocsp_sign(&s, responder, resp_key, &der, &err),
	    CS_ERR_INVALID);
	/* Key and certificate must match. */
	single_init(&s, pki.seal, pki.iss, EVP_sha1());
	ck_assert_int_eq(crypto_ocsp_sign(&s, responder, other_key, &der, &err),
	    CS_ERR_INVALID);
	s.next_update = s.this_update;
	ck_assert_int_eq(crypto_ocsp_sign(&s, responder, resp_key, &der, &err),
	    CS_ERR_INVALID);
	ck_assert_int_eq(
	    crypto_ocsp_sign(NULL, responder, resp_key, &der, &err),
	    CS_ERR_INVALID);
	ck_assert_ptr_null(der);
}
END_TEST

/* DER of a request for certs (n of them), with a nonce if asked. */
static struct buf *
mk_request(const EVP_MD *md, X509 **certs, X509 *issuer, int n, bool nonce)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	unsigned char *p = NULL;
	struct buf *b;
	int i, len;

	for (i = 0; i < n; i++)
		ck_assert_ptr_nonnull(OCSP_request_add0_id(
		    req, OCSP_cert_to_id(md, certs[i], issuer)));
	if (nonce)
		ck_assert_int_eq(OCSP_request_add1_nonce(req, NULL, 16), 1);
	len = i2d_OCSP_REQUEST(req, &p);
	ck_assert_int_gt(len, 0);
	b = buf_from(p, (size_t)len);
	OPENSSL_free(p);
	OCSP_REQUEST_free(req);
	return b;
}

START_TEST(request_key_matches_certificate)
{
	const EVP_MD *md = _i == 0 ? EVP_sha1() : EVP_sha256();
	struct crypto_ocsp_key k, want, other;
	struct buf *req;

	ck_assert_int_eq(
	    crypto_ocsp_key_for(md, pki.seal, pki.iss, &want, NULL), CS_OK);
	req = mk_request(md, &pki.seal, pki.iss, 1, false);
	ck_assert_int_eq(
	    crypto_ocsp_request_parse(req->data, req->len, &k, NULL), CS_OK);
	ck_assert_uint_eq(k.len, want.len);
	ck_assert_mem_eq(k.b, want.b, k.len);
	buf_free(req);
	/* A nonce is ignored: the same key. */
	req = mk_request(md, &pki.seal, pki.iss, 1, true);
	ck_assert_int_eq(
	    crypto_ocsp_request_parse(req->data, req->len, &k, NULL), CS_OK);
	ck_assert_mem_eq(k.b, want.b, want.len);
	buf_free(req);
	/* Another hash, another serial, another issuer: other keys. */
	ck_assert_int_eq(
	    crypto_ocsp_key_for(_i == 0 ? EVP_sha256() : EVP_sha1(), pki.seal,
	        pki.iss, &other, NULL),
	    CS_OK);
	ck_assert(
	    other.len != want.len || memcmp(other.b, want.b, want.len) != 0);
	ck_assert_int_eq(
	    crypto_ocsp_key_for(md, pki.seal2, pki.iss, &other, NULL), CS_OK);
	ck_assert(memcmp(other.b, want.b, want.len) != 0);
	ck_assert_int_eq(
	    crypto_ocsp_key_for(md, pki.seal, other_ca, &other, NULL), CS_OK);
	ck_assert(memcmp(other.b, want.b, want.len) != 0);
}
END_TEST

START_TEST(malformed_requests_are_invalid)
{
	X509 *two[2] = {pki.seal, pki.seal2};
	unsigned char junk[64];
	struct crypto_ocsp_key k;
	struct cs_err err = {0};
	struct buf *req, *big;

	/* Two requests: RFC 5019 asks for exactly one. */
	req = mk_request(EVP_sha1(), two, pki.iss, 2, false);
	ck_assert_int_eq(
	    crypto_ocsp_request_parse(req->data, req->len, &k, &err),
	    CS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "exactly one"));
	buf_free(req);
	req = mk_request(EVP_sha1(), two, pki.iss, 0, false);
	ck_assert_int_eq(
	    crypto_ocsp_request_parse(req->data, req->len, &k, &err),
	    CS_ERR_INVALID);
	buf_free(req);
	req = mk_request(EVP_sha1(), &pki.seal, pki.iss, 1, false);
	/* Truncated at every length, and one byte too many. */
	for (size_t n = 0; n < req->len; n++)
		ck_assert_int_eq(
		    crypto_ocsp_request_parse(req->data, n, &k, NULL),
		    CS_ERR_INVALID);
	ck_assert_int_eq(buf_append(req, "", 1), CS_OK);
	ck_assert_int_eq(
	    crypto_ocsp_request_parse(req->data, req->len, &k, &err),
	    CS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "trailing"));
	buf_free(req);
	memset(junk, 0x30, sizeof(junk));
	ck_assert_int_eq(
	    crypto_ocsp_request_parse(junk, sizeof(junk), &k, NULL),
	    CS_ERR_INVALID);
	ck_assert_int_eq(
	    crypto_ocsp_request_parse(NULL, 0, &k, NULL), CS_ERR_INVALID);
	big = buf_new(CRYPTO_OCSP_REQ_MAX + 1);
	memset(big->data, 0x30, CRYPTO_OCSP_REQ_MAX + 1);
	ck_assert_int_eq(crypto_ocsp_request_parse(
	                     big->data, CRYPTO_OCSP_REQ_MAX + 1, &k, NULL),
	    CS_ERR_INVALID);
	buf_free(big);
}
END_TEST

START_TEST(error_responses_are_bare_statuses)
{
	static const enum crypto_ocsp_rstatus st[] = {CRYPTO_OCSP_MALFORMED,
	    CRYPTO_OCSP_INTERNAL_ERROR, CRYPTO_OCSP_TRY_LATER,
	    CRYPTO_OCSP_UNAUTHORIZED};
	const unsigned char *p;
	OCSP_RESPONSE *r;
	struct buf *der = NULL;
	size_t i;

	for (i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		ck_assert_int_eq(
		    crypto_ocsp_error_response(st[i], &der, NULL), CS_OK);
		/* SEQUENCE { ENUMERATED st }, no responseBytes */
		ck_assert_uint_eq(der->len, 5);
		ck_assert_uint_eq(der->data[4], (unsigned)st[i]);
		p = der->data;
		r = d2i_OCSP_RESPONSE(NULL, &p, (long)der->len);
		ck_assert_ptr_nonnull(r);
		ck_assert_int_eq(OCSP_response_status(r), (int)st[i]);
		ck_assert_ptr_null(OCSP_response_get1_basic(r));
		OCSP_RESPONSE_free(r);
		buf_free(der);
	}
	ck_assert_int_eq(
	    crypto_ocsp_error_response(CRYPTO_OCSP_SUCCESSFUL, &der, NULL),
	    CS_ERR_INVALID);
	ck_assert_ptr_null(der);
}
END_TEST

START_TEST(reason_names)
{
	ck_assert_int_eq(crypto_reason_from_text("keyCompromise"),
	    CRYPTO_REASON_KEY_COMPROMISE);
	ck_assert_int_eq(crypto_reason_from_text("key compromise: lost"),
	    CRYPTO_REASON_KEY_COMPROMISE);
	ck_assert_int_eq(crypto_reason_from_text("AFFILIATION_CHANGED"),
	    CRYPTO_REASON_AFFILIATION_CHANGED);
	ck_assert_int_eq(
	    crypto_reason_from_text("superseded"), CRYPTO_REASON_SUPERSEDED);
	ck_assert_int_eq(crypto_reason_from_text("cessationOfOperation: x"),
	    CRYPTO_REASON_CESSATION);
	ck_assert_int_eq(crypto_reason_from_text("moved to another office"),
	    CRYPTO_REASON_UNSPECIFIED);
	ck_assert_int_eq(
	    crypto_reason_from_text(""), CRYPTO_REASON_UNSPECIFIED);
	ck_assert_int_eq(
	    crypto_reason_from_text(NULL), CRYPTO_REASON_UNSPECIFIED);
	ck_assert_str_eq(crypto_reason_name(CRYPTO_REASON_CESSATION),
	    "cessationOfOperation");
	ck_assert_ptr_null(crypto_reason_name(CRYPTO_REASON_NONE));
	ck_assert_ptr_null(crypto_reason_name((enum crypto_reason)7));
}
END_TEST

static Suite *
ocsp_suite(void)
{
	Suite *s = suite_create("ocsp");
	TCase *tc;

	tc = tcase_create("response");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, good_response_verifies_with_root, 0, 2);
	tcase_add_loop_test(tc, revoked_carries_time_and_reason, 0, 2);
	tcase_add_test(tc, ca_answers_for_its_own_certificates);
	tcase_add_test(tc, sign_refuses_bad_input);
	tcase_add_test(tc, error_responses_are_bare_statuses);
	suite_add_tcase(s, tc);

	tc = tcase_create("request");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, request_key_matches_certificate, 0, 2);
	tcase_add_test(tc, malformed_requests_are_invalid);
	tcase_add_test(tc, reason_names);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int nfailed;

	resp_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	other_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!certfix_pki_init(&pki) || resp_key == NULL || other_key == NULL)
		return EXIT_FAILURE;
	responder = certfix_issue(
	    CRYPTO_CERT_OCSP, "Responder", resp_key, pki.iss, pki.iss_key);
	other_ca = certfix_issue(
	    CRYPTO_CERT_ROOT_CA, "Other", other_key, NULL, other_key);
	if (responder == NULL || other_ca == NULL)
		return EXIT_FAILURE;
	sr = srunner_create(ocsp_suite());
	srunner_run_all(sr, CK_NORMAL);
	nfailed = srunner_ntests_failed(sr);
	srunner_free(sr);
	X509_free(responder);
	X509_free(other_ca);
	EVP_PKEY_free(resp_key);
	EVP_PKEY_free(other_key);
	certfix_pki_free(&pki);
	return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
