/*
 * check_report.c: certsvc/report.c on a real SoftHSM2 token and store: the
 * in-memory report key and its certificate (profile, validity, record and
 * audit event), refresh doing nothing when nothing is due, rotation with
 * the old key alive while referenced, a failing store keeping the current
 * key, signed reports verifying against the root, and report_verify()
 * telling authentic reports from tampered ones and from look-alikes signed
 * by a seal.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509v3.h>

#include "certsvc/ca.h"
#include "certsvc/codes.h"
#include "certsvc/dept.h"
#include "certsvc/jcs.h"
#include "certsvc/mem.h"
#include "certsvc/report.h"
#include "certsvc/seal.h"
#include "certsvc/store_test.h"
#include "certsvc/svc.h"
#include "crypto/crypto.h"
#include "tests/svcfix.h"

static struct svcfix fx;
static struct svc *svc;
static char dept[CODES_CREDIT_LEN + 1];

static void
setup(void)
{
	struct svcfix_opts o = {.pool_size = 2, .no_holder_key = true};

	svcfix_open(&fx, "report-test", &o);
	svc = fx.svc;
	svcfix_dept(&fx, SVCFIX_DEPT_A, "A", "110105", dept);
}

static void
teardown(void)
{
	svcfix_close(&fx);
	svc = NULL;
}

static size_t
count_svc_certs(const char *purpose)
{
	struct store_svc_cert *list = NULL;
	size_t n = 0, i, k = 0;

	ck_assert_int_eq(
	    store_svc_cert_list(svc->store, &list, &n, NULL), CS_OK);
	for (i = 0; i < n; i++)
		k += strcmp(list[i].purpose, purpose) == 0;
	store_svc_cert_list_free(list, n);
	return k;
}

struct audit_find {
	const char *action;
	int n;
};

static bool
audit_cb(void *arg, const struct store_audit_row *row)
{
	struct audit_find *f = arg;

	f->n += strcmp(row->action, f->action) == 0;
	return true;
}

static int
count_audit(const char *action)
{
	struct audit_find f = {action, 0};

	ck_assert_int_eq(
	    store_audit_scan(svc->store, 1, audit_cb, &f, NULL), CS_OK);
	return f.n;
}

static int64_t
asn1_unix(const ASN1_TIME *t)
{
	ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
	int d = 0, s = 0;

	ck_assert_int_eq(ASN1_TIME_diff(&d, &s, epoch, t), 1);
	ASN1_TIME_free(epoch);
	return (int64_t)d * 86400 + s;
}

START_TEST(no_key_before_the_first_refresh)
{
	struct report_key *k = (void *)1;
	struct cs_err err = {0};
	struct buf *doc = NULL, *seal = NULL;
	json_t *r = json_pack("{s:s}", "format", REPORT_FORMAT);

	ck_assert_int_eq(report_key_get(svc, &k, &err), CS_ERR_TOKEN);
	ck_assert_ptr_null(k);
	ck_assert_ptr_nonnull(strstr(err.msg, "report signing key"));
	ck_assert_int_eq(report_sign(svc, r, &doc, &seal, NULL), CS_ERR_TOKEN);
	ck_assert_ptr_null(doc);
	ck_assert_ptr_null(seal);
	json_decref(r);
}
END_TEST

START_TEST(refresh_makes_a_certified_in_memory_key)
{
	struct store_svc_cert cur;
	struct report_key *k = NULL;
	struct cs_err err = {0};
	bool valid = false;
	char reason[256], cn[128], o[128], c[8];
	const X509_NAME *name;
	int64_t nb, na, now = (int64_t)time(NULL);
	int crit = -1;
	ASN1_BIT_STRING *ku;
	STACK_OF(X509) *chain = sk_X509_new_null();

	ck_assert_msg(report_refresh(svc, &err) == CS_OK, "%s", err.msg);
	ck_assert_int_eq(report_key_get(svc, &k, NULL), CS_OK);
	ck_assert(X509_check_private_key(k->cert, k->key) == 1);
	ck_assert(EVP_PKEY_is_a(k->key, "EC"));
	ck_assert_int_eq(EVP_PKEY_get_bits(k->key), 256);
	/* Issued by the issuing CA, chains to the root. */
	ck_assert_int_eq(X509_check_issued(svc->issuing, k->cert), X509_V_OK);
	sk_X509_push(chain, svc->issuing);
	ck_assert_int_eq(crypto_cert_verify(k->cert, svc->root, chain, &valid,
	                     reason, sizeof(reason), NULL),
	    CS_OK);
	ck_assert_msg(valid, "%s", reason);
	sk_X509_free(chain);
	/* Validity: REPORT_CERT_HOURS from now. */
	nb = asn1_unix(X509_get0_notBefore(k->cert));
	na = asn1_unix(X509_get0_notAfter(k->cert));
	ck_assert_int_eq(na - nb, REPORT_CERT_HOURS * 3600);
	ck_assert(nb >= now - 5 && nb <= now + 5);
	ck_assert_int_eq(k->not_after, na);
	/* Profile: critical KU digitalSignature+nonRepudiation, no EKU/BC. */
	ku = X509_get_ext_d2i(k->cert, NID_key_usage, &crit, NULL);
	ck_assert_ptr_nonnull(ku);
	ck_assert_int_eq(crit, 1);
	ASN1_BIT_STRING_free(ku);
	ck_assert_uint_eq(X509_get_key_usage(k->cert),
	    KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION);
	ck_assert_int_lt(
	    X509_get_ext_by_NID(k->cert, NID_ext_key_usage, -1), 0);
	ck_assert_int_lt(
	    X509_get_ext_by_NID(k->cert, NID_basic_constraints, -1), 0);
	ck_assert_int_ge(
	    X509_get_ext_by_NID(k->cert, NID_crl_distribution_points, -1), 0);
	ck_assert_int_ge(X509_get_ext_by_NID(k->cert, NID_info_access, -1), 0);
	name = X509_get_subject_name(k->cert);
	ck_assert_int_gt(X509_NAME_get_text_by_NID(
	                     (X509_NAME *)name, NID_commonName, cn, sizeof(cn)),
	    0);
	ck_assert_msg(strncmp(cn, "certsvc report signer 20", 24) == 0 &&
	        cn[strlen(cn) - 1] == 'Z',
	    "%s", cn);
	ck_assert_int_gt(X509_NAME_get_text_by_NID((X509_NAME *)name,
	                     NID_organizationName, o, sizeof(o)),
	    0);
	ck_assert_str_eq(o, svc->cfg.ca_org);
	ck_assert_int_gt(X509_NAME_get_text_by_NID(
	                     (X509_NAME *)name, NID_countryName, c, sizeof(c)),
	    0);
	ck_assert_str_eq(c, svc->cfg.ca_country);
	/* Recorded, with its audit event. */
	memset(&cur, 0, sizeof(cur));
	ck_assert_int_eq(
	    store_svc_cert_current(svc->store, "report", now, &cur, NULL),
	    CS_OK);
	ck_assert_str_eq(cur.serial, k->serial);
	ck_assert_str_eq(cur.key_uri, "");
	ck_assert_str_eq(cur.ca, "issuing");
	ck_assert_int_eq(cur.not_after, na);
	store_svc_cert_release(&cur);
	ck_assert_int_eq(count_audit("report.certify"), 1);
	report_key_put(k);
}
END_TEST

START_TEST(refresh_does_nothing_when_nothing_is_due)
{
	struct report_key *k1 = NULL, *k2 = NULL;

	ck_assert_int_eq(report_refresh(svc, NULL), CS_OK);
	ck_assert_int_eq(report_key_get(svc, &k1, NULL), CS_OK);
	ck_assert_int_eq(report_refresh(svc, NULL), CS_OK);
	ck_assert_int_eq(report_refresh(svc, NULL), CS_OK);
	ck_assert_int_eq(report_key_get(svc, &k2, NULL), CS_OK);
	ck_assert_ptr_eq(k1, k2);
	ck_assert_uint_eq(count_svc_certs("report"), 1);
	ck_assert_int_eq(count_audit("report.certify"), 1);
	report_key_put(k1);
	report_key_put(k2);
}
END_TEST

START_TEST(rotation_keeps_the_old_key_alive_while_referenced)
{
	static const unsigned char msg[] = "still signing";
	struct crypto_seal_opts so;
	struct crypto_cms_result res;
	struct report_key *k1 = NULL, *k2 = NULL;
	struct buf *der = NULL;
	char serial1[80];

	ck_assert_int_eq(report_refresh(svc, NULL), CS_OK);
	ck_assert_int_eq(report_key_get(svc, &k1, NULL), CS_OK);
	cs_strlcpy(serial1, k1->serial, sizeof(serial1));
	ck_assert_int_eq(report_rotate(svc, NULL), CS_OK);
	ck_assert_int_eq(report_key_get(svc, &k2, NULL), CS_OK);
	ck_assert_ptr_ne(k1, k2);
	ck_assert_str_ne(k2->serial, serial1);
	ck_assert_uint_eq(count_svc_certs("report"), 2);
	ck_assert_int_eq(count_audit("report.certify"), 2);
	/* The old key still signs (ASan: no use after free). */
	memset(&so, 0, sizeof(so));
	so.key = k1->key;
	so.cert = k1->cert;
	ck_assert_int_eq(
	    crypto_cms_seal(&so, msg, sizeof(msg) - 1, &der, NULL), CS_OK);
	ck_assert_int_eq(crypto_cms_verify(msg, sizeof(msg) - 1, der->data,
	                     der->len, svc->root, &res, NULL),
	    CS_OK);
	ck_assert(res.signature_ok);
	ck_assert_int_eq(X509_cmp(res.signer, k1->cert), 0);
	crypto_cms_result_release(&res);
	buf_free(der);
	report_key_put(k1);
	report_key_put(k2);
}
END_TEST

START_TEST(failing_store_keeps_the_current_key)
{
	struct report_key *k1 = NULL, *k2 = NULL;
	int n;

	ck_assert_int_eq(report_refresh(svc, NULL), CS_OK);
	ck_assert_int_eq(report_key_get(svc, &k1, NULL), CS_OK);
	/* Fail each statement of the record in turn. */
	for (n = 1; n <= 4; n++) {
		store_test_fail_after(svc->store, n);
		ck_assert_int_eq(report_rotate(svc, NULL), CS_ERR_STORE);
		store_test_fail_after(svc->store, 0);
		ck_assert_int_eq(report_key_get(svc, &k2, NULL), CS_OK);
		ck_assert_ptr_eq(k1, k2);
		report_key_put(k2);
	}
	ck_assert_uint_eq(count_svc_certs("report"), 1);
	ck_assert_int_eq(count_audit("report.certify"), 1);
	report_key_put(k1);
}
END_TEST

static json_t *
envelope(const struct buf *doc, const struct buf *seal)
{
	struct buf *d = NULL, *s = NULL;
	json_t *env;

	ck_assert_int_eq(
	    crypto_b64_encode(doc->data, doc->len, &d, NULL), CS_OK);
	ck_assert_int_eq(
	    crypto_b64_encode(seal->data, seal->len, &s, NULL), CS_OK);
	env = json_pack("{s:{s:s,s:s}}", "report", "document", (char *)d->data,
	    "seal", (char *)s->data);
	buf_free(d);
	buf_free(s);
	return env;
}

START_TEST(signed_reports_verify_against_the_root)
{
	struct report_verified rv;
	struct crypto_cms_result res;
	struct report_key *k = NULL;
	struct buf *doc = NULL, *seal = NULL, *canon = NULL;
	json_t *r, *env, *parsed = NULL;

	r = json_pack("{s:s,s:s,s:[{s:s}]}", "format", REPORT_FORMAT, "result",
	    "valid", "checks", "name", "x");
	ck_assert_int_eq(report_refresh(svc, NULL), CS_OK);
	ck_assert_int_eq(report_sign(svc, r, &doc, &seal, NULL), CS_OK);
	ck_assert_int_eq(jcs_encode(r, &canon, NULL), CS_OK);
	ck_assert_uint_eq(canon->len, doc->len);
	ck_assert(memcmp(canon->data, doc->data, doc->len) == 0);
	ck_assert_int_eq(crypto_cms_verify(doc->data, doc->len, seal->data,
	                     seal->len, svc->root, &res, NULL),
	    CS_OK);
	ck_assert_msg(
	    res.parsed && res.signature_ok && res.chain_ok, "%s", res.reason);
	ck_assert_int_eq(report_key_get(svc, &k, NULL), CS_OK);
	ck_assert_int_eq(X509_cmp(res.signer, k->cert), 0);
	report_key_put(k);
	crypto_cms_result_release(&res);

	/* report_verify: authentic, whole response or envelope alone. */
	env = envelope(doc, seal);
	ck_assert_int_eq(report_verify(env, svc->root, &rv, NULL), CS_OK);
	ck_assert_msg(rv.ok, "%s", rv.reason);
	ck_assert_str_eq(
	    json_string_value(json_object_get(rv.report, "result")), "valid");
	ck_assert_ptr_nonnull(strstr(rv.signer, "certsvc report signer"));
	report_verified_release(&rv);
	ck_assert_int_eq(
	    report_verify(json_object_get(env, "report"), svc->root, &rv, NULL),
	    CS_OK);
	ck_assert(rv.ok);
	report_verified_release(&rv);
	json_decref(env);

	/* One byte changed: not authentic. */
	doc->data[doc->len - 3] ^= 0x01;
	env = envelope(doc, seal);
	ck_assert_int_eq(report_verify(env, svc->root, &rv, NULL), CS_OK);
	ck_assert(!rv.ok);
	ck_assert_ptr_null(rv.report);
	ck_assert_str_ne(rv.reason, "");
	report_verified_release(&rv);
	json_decref(env);

	/* Not an envelope, bad base64: invalid input. */
	env = json_pack("{s:s}", "document", "e30=");
	ck_assert_int_eq(
	    report_verify(env, svc->root, &rv, NULL), CS_ERR_INVALID);
	json_decref(env);
	env = json_pack("{s:s,s:s}", "document", "e30", "seal", "AAAA");
	ck_assert_int_eq(
	    report_verify(env, svc->root, &rv, NULL), CS_ERR_INVALID);
	json_decref(env);
	json_decref(parsed);
	json_decref(r);
	buf_free(canon);
	buf_free(doc);
	buf_free(seal);
}
END_TEST

START_TEST(a_seal_cannot_pass_for_a_report_signer)
{
	struct seal_create_opts o;
	struct seal_signer *s = NULL;
	struct crypto_seal_opts so;
	struct report_verified rv;
	char id[STORE_CODE_MAX];
	struct buf *doc = NULL, *der = NULL;
	STACK_OF(X509) *chain = sk_X509_new_null();
	json_t *r, *env;

	memset(&o, 0, sizeof(o));
	o.dept = dept;
	o.name = "seal";
	o.alg = P11_ALG_P256;
	ck_assert_int_eq(seal_create(svc, &o, id, sizeof(id), NULL), CS_OK);
	ck_assert_int_eq(seal_signer_get(svc, id, dept, &s, NULL), CS_OK);
	r = json_pack("{s:s,s:s}", "format", REPORT_FORMAT, "result", "valid");
	ck_assert_int_eq(jcs_encode(r, &doc, NULL), CS_OK);
	sk_X509_push(chain, svc->issuing);
	memset(&so, 0, sizeof(so));
	so.key = s->key;
	so.cert = s->cert;
	so.chain = chain;
	ck_assert_int_eq(
	    crypto_cms_seal(&so, doc->data, doc->len, &der, NULL), CS_OK);
	env = envelope(doc, der);
	ck_assert_int_eq(report_verify(env, svc->root, &rv, NULL), CS_OK);
	ck_assert(!rv.ok);
	ck_assert_str_eq(
	    rv.reason, "the signer is not a certsvc report signer");
	report_verified_release(&rv);
	json_decref(env);
	json_decref(r);
	sk_X509_free(chain);
	seal_signer_free(s);
	buf_free(doc);
	buf_free(der);
}
END_TEST

static Suite *
report_suite(void)
{
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("key");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, no_key_before_the_first_refresh);
	tcase_add_test(tc, refresh_makes_a_certified_in_memory_key);
	tcase_add_test(tc, refresh_does_nothing_when_nothing_is_due);
	tcase_add_test(tc, rotation_keeps_the_old_key_alive_while_referenced);
	tcase_add_test(tc, failing_store_keeps_the_current_key);
	suite_add_tcase(s, tc);
	tc = tcase_create("sign");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, signed_reports_verify_against_the_root);
	tcase_add_test(tc, a_seal_cannot_pass_for_a_report_signer);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(report_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
