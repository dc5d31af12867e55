/*
 * check_crl.c: crypto/crl.c with software keys, checked against RFC 5280
 * section 5 by parsing the DER back field by field (version, issuer,
 * times and their encodings, entry order, reasonCode, authorityKeyIdentifier
 * and cRLNumber), by X509_CRL_verify and by OpenSSL's path validation with
 * X509_V_FLAG_CRL_CHECK (what "openssl verify -crl_check" does).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certsvc/err.h"
#include "certsvc/mem.h"
#include "crypto/crypto.h"
#include "tests/certfix.h"

/* Made once in main(): root, issuing CA, two seals; a P-384 issuing CA. */
static struct certfix_pki pki;
static EVP_PKEY *p384_key;
static X509 *iss384;

static X509_CRL *
parse(const struct buf *der)
{
	const unsigned char *p = der->data;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)der->len);

	ck_assert_ptr_nonnull(crl);
	ck_assert(p == der->data + der->len);
	return crl;
}

static int64_t
t_of(const ASN1_TIME *t)
{
	struct tm tm;

	ck_assert_int_eq(ASN1_TIME_to_tm(t, &tm), 1);
	return (int64_t)timegm(&tm);
}

START_TEST(empty_crl_is_exact)
{
	int64_t now = (int64_t)time(NULL);
	struct buf *der = NULL;
	X509_CRL *crl;
	AUTHORITY_KEYID *akid;
	ASN1_INTEGER *num;
	X509_EXTENSION *ext;
	int i, crit = -1;

	ck_assert_int_eq(crypto_crl_sign(pki.iss, pki.iss_key, NULL, 0, now,
	                     now + 86400, 1234567, &der, NULL),
	    CS_OK);
	crl = parse(der);
	ck_assert_int_eq(X509_CRL_get_version(crl), X509_CRL_VERSION_2);
	ck_assert_int_eq(X509_CRL_verify(crl, X509_get0_pubkey(pki.iss)), 1);
	ck_assert_int_eq(X509_NAME_cmp(X509_CRL_get_issuer(crl),
	                     X509_get_subject_name(pki.iss)),
	    0);
	ck_assert_int_eq(t_of(X509_CRL_get0_lastUpdate(crl)), now);
	ck_assert_int_eq(t_of(X509_CRL_get0_nextUpdate(crl)), now + 86400);
	ck_assert_int_eq(
	    ASN1_STRING_type(X509_CRL_get0_lastUpdate(crl)), V_ASN1_UTCTIME);
	/* 5.1.2.6: no revokedCertificates at all, not an empty list. */
	ck_assert_ptr_null(X509_CRL_get_REVOKED(crl));
	ck_assert_int_eq(
	    X509_CRL_get_signature_nid(crl), NID_ecdsa_with_SHA256);
	/* Exactly AKI and cRLNumber, both non-critical. */
	ck_assert_int_eq(X509_CRL_get_ext_count(crl), 2);
	for (i = 0; i < 2; i++) {
		ext = X509_CRL_get_ext(crl, i);
		ck_assert_int_eq(X509_EXTENSION_get_critical(ext), 0);
	}
	akid = X509_CRL_get_ext_d2i(
	    crl, NID_authority_key_identifier, &crit, NULL);
	ck_assert_ptr_nonnull(akid);
	ck_assert_ptr_nonnull(akid->keyid);
	ck_assert_ptr_null(akid->issuer);
	ck_assert_int_eq(ASN1_OCTET_STRING_cmp(
	                     akid->keyid, X509_get0_subject_key_id(pki.iss)),
	    0);
	AUTHORITY_KEYID_free(akid);
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL);
	ck_assert_ptr_nonnull(num);
	ck_assert_int_eq(ASN1_INTEGER_get(num), 1234567);
	ASN1_INTEGER_free(num);
	X509_CRL_free(crl);
	buf_free(der);
}
END_TEST

START_TEST(entries_sorted_with_reasons)
{
	struct crypto_crl_entry e[3];
	struct buf *der = NULL;
	ASN1_INTEGER *small = ASN1_INTEGER_new();
	ASN1_ENUMERATED *reason;
	STACK_OF(X509_REVOKED) * rev;
	X509_REVOKED *r;
	X509_CRL *crl;
	int64_t now = (int64_t)time(NULL);
	int i, crit;

	ck_assert_int_eq(ASN1_INTEGER_set(small, 5), 1);
	e[0].serial = X509_get0_serialNumber(pki.seal);
	e[0].revoked_at = 1700000000;
	e[0].reason = CRYPTO_REASON_KEY_COMPROMISE;
	e[1].serial = small;
	e[1].revoked_at = 1700000100;
	e[1].reason = CRYPTO_REASON_UNSPECIFIED;
	e[2].serial = X509_get0_serialNumber(pki.seal2);
	e[2].revoked_at = 1700000200;
	e[2].reason = CRYPTO_REASON_SUPERSEDED;
	ck_assert_int_eq(crypto_crl_sign(pki.iss, pki.iss_key, e, 3, now,
	                     now + 3600, now, &der, NULL),
	    CS_OK);
	crl = parse(der);
	ck_assert_int_eq(X509_CRL_verify(crl, X509_get0_pubkey(pki.iss)), 1);
	rev = X509_CRL_get_REVOKED(crl);
	ck_assert_int_eq(sk_X509_REVOKED_num(rev), 3);
	for (i = 1; i < 3; i++)
		ck_assert_int_lt(
		    ASN1_INTEGER_cmp(X509_REVOKED_get0_serialNumber(
		                         sk_X509_REVOKED_value(rev, i - 1)),
		        X509_REVOKED_get0_serialNumber(
		            sk_X509_REVOKED_value(rev, i))),
		    0);
	for (i = 0; i < 3; i++) {
		r = sk_X509_REVOKED_value(rev, i);
		crit = -1;
		reason =
		    X509_REVOKED_get_ext_d2i(r, NID_crl_reason, &crit, NULL);
		if (ASN1_INTEGER_cmp(
		        X509_REVOKED_get0_serialNumber(r), small) == 0) {
			/* 5.3.1: unspecified is left out. */
			ck_assert_ptr_null(reason);
			ck_assert_int_eq(X509_REVOKED_get_ext_count(r), 0);
			ck_assert_int_eq(
			    t_of(X509_REVOKED_get0_revocationDate(r)),
			    1700000100);
			continue;
		}
		ck_assert_ptr_nonnull(reason);
		ck_assert_int_eq(crit, 0);
		ck_assert_int_eq(ASN1_ENUMERATED_get(reason),
		    ASN1_INTEGER_cmp(X509_REVOKED_get0_serialNumber(r),
		        X509_get0_serialNumber(pki.seal)) == 0
		        ? 1
		        : 4);
		ASN1_ENUMERATED_free(reason);
	}
	X509_CRL_free(crl);
	ASN1_INTEGER_free(small);
	buf_free(der);
}
END_TEST

/* X509_verify_cert of cert with crl, like openssl verify -crl_check. */
static int
verify_with_crl(X509 *cert, const struct buf *der, int *error)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509_CRL *crl = parse(der);
	int r;

	ck_assert_int_eq(X509_STORE_add_cert(st, pki.root), 1);
	ck_assert_int_eq(X509_STORE_add_crl(st, crl), 1);
	ck_assert_int_gt(sk_X509_push(untrusted, pki.iss), 0);
	X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
	ck_assert_int_eq(X509_STORE_CTX_init(ctx, st, cert, untrusted), 1);
	r = X509_verify_cert(ctx);
	*error = X509_STORE_CTX_get_error(ctx);
	X509_CRL_free(crl);
	sk_X509_free(untrusted);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	return r;
}

START_TEST(path_validation_uses_the_crl)
{
	struct crypto_crl_entry e;
	struct buf *der = NULL;
	int64_t now = (int64_t)time(NULL) - 60;
	int error = 0;

	e.serial = X509_get0_serialNumber(pki.seal);
	e.revoked_at = now;
	e.reason = CRYPTO_REASON_KEY_COMPROMISE;
	ck_assert_int_eq(crypto_crl_sign(pki.iss, pki.iss_key, &e, 1, now,
	                     now + 3600, now, &der, NULL),
	    CS_OK);
	ck_assert_int_eq(verify_with_crl(pki.seal2, der, &error), 1);
	ck_assert_int_eq(verify_with_crl(pki.seal, der, &error), 0);
	ck_assert_int_eq(error, X509_V_ERR_CERT_REVOKED);
	buf_free(der);
	/* An expired CRL does not pass either. */
	ck_assert_int_eq(crypto_crl_sign(pki.iss, pki.iss_key, NULL, 0,
	                     now - 7200, now - 3600, now, &der, NULL),
	    CS_OK);
	ck_assert_int_eq(verify_with_crl(pki.seal2, der, &error), 0);
	ck_assert_int_eq(error, X509_V_ERR_CRL_HAS_EXPIRED);
	buf_free(der);
}
END_TEST

START_TEST(time_encodings_and_algorithms)
{
	/* 2051: GeneralizedTime (5.1.2.4); P-384 signs with SHA-384. */
	int64_t t = 2556144000LL;
	struct buf *der = NULL;
	X509_CRL *crl;

	ck_assert_int_eq(crypto_crl_sign(iss384, p384_key, NULL, 0, t, t + 3600,
	                     1, &der, NULL),
	    CS_OK);
	crl = parse(der);
	ck_assert_int_eq(ASN1_STRING_type(X509_CRL_get0_lastUpdate(crl)),
	    V_ASN1_GENERALIZEDTIME);
	ck_assert_int_eq(t_of(X509_CRL_get0_nextUpdate(crl)), t + 3600);
	ck_assert_int_eq(
	    X509_CRL_get_signature_nid(crl), NID_ecdsa_with_SHA384);
	ck_assert_int_eq(X509_CRL_verify(crl, X509_get0_pubkey(iss384)), 1);
	X509_CRL_free(crl);
	buf_free(der);
}
END_TEST

START_TEST(bad_input_is_invalid)
{
	struct buf *der = NULL;
	struct crypto_crl_entry e = {NULL, 0, CRYPTO_REASON_NONE};
	int64_t now = (int64_t)time(NULL);

	/* A seal certificate is not a CA and has no cRLSign. */
	ck_assert_int_eq(crypto_crl_sign(pki.seal, pki.seal_key, NULL, 0, now,
	                     now + 60, 1, &der, NULL),
	    CS_ERR_INVALID);
	ck_assert_int_eq(crypto_crl_sign(pki.iss, pki.root_key, NULL, 0, now,
	                     now + 60, 1, &der, NULL),
	    CS_ERR_INVALID);
	ck_assert_int_eq(crypto_crl_sign(pki.iss, pki.iss_key, NULL, 0, now,
	                     now, 1, &der, NULL),
	    CS_ERR_INVALID);
	ck_assert_int_eq(crypto_crl_sign(pki.iss, pki.iss_key, NULL, 0, now,
	                     now + 60, -1, &der, NULL),
	    CS_ERR_INVALID);
	ck_assert_int_eq(crypto_crl_sign(pki.iss, pki.iss_key, &e, 1, now,
	                     now + 60, 1, &der, NULL),
	    CS_ERR_INVALID);
	ck_assert_int_eq(crypto_crl_sign(NULL, pki.iss_key, NULL, 0, now,
	                     now + 60, 1, &der, NULL),
	    CS_ERR_INVALID);
	ck_assert_ptr_null(der);
}
END_TEST

static Suite *
crl_suite(void)
{
	Suite *s = suite_create("crl");
	TCase *tc;

	tc = tcase_create("crl");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, empty_crl_is_exact);
	tcase_add_test(tc, entries_sorted_with_reasons);
	tcase_add_test(tc, path_validation_uses_the_crl);
	tcase_add_test(tc, time_encodings_and_algorithms);
	tcase_add_test(tc, bad_input_is_invalid);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int nfailed;

	p384_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	if (!certfix_pki_init(&pki) || p384_key == NULL)
		return EXIT_FAILURE;
	iss384 = certfix_issue(CRYPTO_CERT_SUB_CA, "Issuing 384", p384_key,
	    pki.root, pki.root_key);
	if (iss384 == NULL)
		return EXIT_FAILURE;
	sr = srunner_create(crl_suite());
	srunner_run_all(sr, CK_NORMAL);
	nfailed = srunner_ntests_failed(sr);
	srunner_free(sr);
	X509_free(iss384);
	EVP_PKEY_free(p384_key);
	certfix_pki_free(&pki);
	return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
