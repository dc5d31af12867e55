/*
 * check_ca.c: certsvc/ca.c and certsvc/svc.c against a real SoftHSM2 token
 * and a real store: creation, idempotence, reuse of keys left by an
 * interrupted run, and a failing store leaving nothing half-written.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certsvc/ca.h"
#include "certsvc/mem.h"
#include "certsvc/store_test.h"
#include "certsvc/svc.h"
#include "crypto/crypto.h"
#include "tests/svcfix.h"

static struct svcfix fx;

/* A data dir whose config points at the test token. */
static void
setup(void)
{
	struct svcfix_opts o = {.pool_size = 2, .no_holder_key = true};

	svcfix_config(&fx, "ca-test", &o);
}

static void
teardown(void)
{
	svcfix_close(&fx);
}

static struct svc *
open_svc(void)
{
	struct cs_err err = {0};
	struct svc *svc = NULL;

	ck_assert_msg(svc_open(fx.conf, SVC_OPEN_ALL, &svc, &err) == CS_OK,
	    "%s", err.msg);
	return svc;
}

static size_t
count_keys(struct svc *svc)
{
	struct p11_key_info *keys = NULL;
	size_t n = 0;

	ck_assert_int_eq(p11_key_list(svc->token, &keys, &n, NULL), CS_OK);
	free(keys);
	return n;
}

START_TEST(ca_init_creates_a_verifying_chain)
{
	struct ca_init_opts opts = {P11_ALG_P256, "test"};
	char path[PATH_MAX + 32], reason[256];
	struct svc *svc = open_svc();
	struct cs_err err = {0};
	bool created = false, valid = false;

	ck_assert_ptr_null(svc->root);
	ck_assert_msg(
	    ca_init(svc, &opts, &created, &err) == CS_OK, "%s", err.msg);
	ck_assert(created);
	ck_assert_ptr_nonnull(svc->root);
	ck_assert_int_eq(crypto_cert_verify(svc->issuing, svc->root, NULL,
	                     &valid, reason, sizeof(reason), NULL),
	    CS_OK);
	ck_assert_msg(valid, "%s", reason);
	snprintf(path, sizeof(path), "%s/ca/root.pem", fx.dir);
	ck_assert_int_eq(access(path, R_OK), 0);
	snprintf(path, sizeof(path), "%s/ca/issuing.pem", fx.dir);
	ck_assert_int_eq(access(path, R_OK), 0);
	ck_assert_uint_eq(count_keys(svc), 2);
	svc_free(svc);
}
END_TEST

START_TEST(ca_init_twice_changes_nothing)
{
	struct ca_init_opts opts = {P11_ALG_P256, "test"};
	unsigned char md1[32], md2[32];
	unsigned len = 0;
	int64_t count1 = 0, count2 = 0, last = 0;
	struct svc *svc = open_svc();
	bool created = false;

	ck_assert_int_eq(ca_init(svc, &opts, &created, NULL), CS_OK);
	ck_assert(created);
	X509_digest(svc->root, EVP_sha256(), md1, &len);
	ck_assert_int_eq(
	    store_audit_head(svc->store, &count1, &last, NULL), CS_OK);
	svc_free(svc);

	svc = open_svc();
	ck_assert_ptr_nonnull(svc->root);
	ck_assert_int_eq(ca_init(svc, &opts, &created, NULL), CS_OK);
	ck_assert(!created);
	X509_digest(svc->root, EVP_sha256(), md2, &len);
	ck_assert_mem_eq(md1, md2, sizeof(md1));
	ck_assert_int_eq(
	    store_audit_head(svc->store, &count2, &last, NULL), CS_OK);
	ck_assert_int_eq(count1, count2);
	ck_assert_uint_eq(count_keys(svc), 2);
	svc_free(svc);
}
END_TEST

/*
 * Every statement of the CA transaction fails in turn: each time nothing is
 * stored, and the next attempt reuses the keys already in the token.
 */
START_TEST(ca_init_store_failure_rolls_back_and_retry_reuses_keys)
{
	struct ca_init_opts opts = {P11_ALG_P256, "test"};
	struct svc *svc = open_svc();
	struct store_ca ca;
	struct cs_err err = {0};
	bool created = false;
	int64_t count = 0, last = 0;
	int n;

	for (n = 1; n <= 6; n++) {
		store_test_fail_after(svc->store, n);
		ck_assert_int_ne(ca_init(svc, &opts, &created, &err), CS_OK);
		ck_assert(!created);
		store_test_fail_after(svc->store, 0);
		ck_assert_int_eq(store_ca_get(svc->store, "root", &ca, NULL),
		    CS_ERR_NOT_FOUND);
		ck_assert_int_eq(
		    store_audit_head(svc->store, &count, &last, NULL), CS_OK);
		ck_assert_int_eq(count, 0);
		ck_assert_ptr_null(svc->root);
		ck_assert_uint_eq(count_keys(svc), 2);
	}
	ck_assert_msg(
	    ca_init(svc, &opts, &created, &err) == CS_OK, "%s", err.msg);
	ck_assert(created);
	ck_assert_uint_eq(count_keys(svc), 2);
	ck_assert_int_eq(
	    store_audit_head(svc->store, &count, &last, NULL), CS_OK);
	ck_assert_int_eq(count, 1);
	svc_free(svc);
}
END_TEST

START_TEST(ca_key_with_other_algorithm_is_a_conflict)
{
	struct ca_init_opts opts = {P11_ALG_P384, "test"};
	char uri[P11_URI_MAX];
	struct svc *svc = open_svc();
	struct cs_err err = {0};
	bool created = true;

	ck_assert_int_eq(p11_key_generate(svc->token, P11_ALG_P256, "ca-root",
	                     uri, sizeof(uri), NULL),
	    CS_OK);
	ck_assert_int_eq(ca_init(svc, &opts, &created, &err), CS_ERR_CONFLICT);
	ck_assert(!created);
	ck_assert_ptr_nonnull(strstr(err.msg, "ca-root"));
	svc_free(svc);
}
END_TEST

START_TEST(svc_open_moves_env_pin_to_secure_heap)
{
	struct svc *svc;

	setenv("CERTSVC_PIN", TESTUTIL_PIN, 1);
	svc = open_svc();
	ck_assert_ptr_null(getenv("CERTSVC_PIN"));
	ck_assert_ptr_nonnull(svc->pin_copy);
	ck_assert_str_eq(svc->pin_copy, TESTUTIL_PIN);
	svc_free(svc);
}
END_TEST

START_TEST(svc_open_wrong_pin_is_token_error)
{
	struct cs_err err = {0};
	struct svc *svc = NULL;

	setenv("CERTSVC_PIN", "9999", 1);
	ck_assert_int_eq(
	    svc_open(fx.conf, SVC_OPEN_ALL, &svc, &err), CS_ERR_TOKEN);
	ck_assert_ptr_null(svc);
	ck_assert_ptr_null(strstr(err.msg, "9999"));
}
END_TEST

static Suite *
ca_suite(void)
{
	Suite *s = suite_create("ca");
	TCase *tc;

	tc = tcase_create("init");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, ca_init_creates_a_verifying_chain);
	tcase_add_test(tc, ca_init_twice_changes_nothing);
	tcase_add_test(
	    tc, ca_init_store_failure_rolls_back_and_retry_reuses_keys);
	tcase_add_test(tc, ca_key_with_other_algorithm_is_a_conflict);
	suite_add_tcase(s, tc);
	tc = tcase_create("svc");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, svc_open_moves_env_pin_to_secure_heap);
	tcase_add_test(tc, svc_open_wrong_pin_is_token_error);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(ca_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
