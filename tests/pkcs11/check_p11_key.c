/*
 * check_p11_key.c: what pkcs11/p11_key.c counts for /metrics: the purpose
 * of a key read from its URI's label, and signatures, failures and their
 * latency histogram kept per purpose against a real SoftHSM2 token.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/objects.h>

#include "certsvc/err.h"
#include "certsvc/log.h"
#include "pkcs11/p11.h"
#include "tests/testutil.h"

#define LABEL "certsvc-test"

static struct testutil_token tt;
static struct p11_token *tok;

static void
setup(void)
{
	struct p11_config cfg;
	struct cs_err err = {0};

	testutil_softhsm(&tt, LABEL);
	memset(&cfg, 0, sizeof(cfg));
	cfg.module = tt.module;
	cfg.token_label = LABEL;
	cfg.pool_size = 2;
	cfg.timeout_ms = 2000;
	cfg.pin_fn = testutil_pin_fn;
	if (p11_token_open(&cfg, &tok, &err) != CS_OK)
		ck_abort_msg("open: %s", err.msg);
}

static void
teardown(void)
{
	p11_token_free(tok);
	tok = NULL;
	testutil_softhsm_remove(&tt);
}

START_TEST(purpose_from_the_label)
{
	static const struct {
		const char *uri;
		enum p11_purpose p;
	} cases[] = {
	    {"pkcs11:token=certsvc;object=ca-root;type=private",
	        P11_PURPOSE_CA},
	    {"pkcs11:token=certsvc;object=ca-issuing-1;id=%01;type=private",
	        P11_PURPOSE_CA},
	    {"pkcs11:token=certsvc;object=seal-S-12ab;type=private",
	        P11_PURPOSE_SEAL},
	    {"pkcs11:object=ocsp-20261125T131259Z;token=x", P11_PURPOSE_OCSP},
	    {"pkcs11:token=t;object=tsa-20261125T131259Z-2", P11_PURPOSE_TSA},
	    {"pkcs11:token=t;object=audit-1", P11_PURPOSE_AUDIT},
	    {"pkcs11:token=t;object=report-1", P11_PURPOSE_REPORT},
	    {"pkcs11:token=t;object=seal", P11_PURPOSE_OTHER},    /* one word */
	    {"pkcs11:token=t;object=sealx-1", P11_PURPOSE_OTHER}, /* not seal */
	    {"pkcs11:token=t;object=se-1", P11_PURPOSE_OTHER},
	    {"pkcs11:token=t;id=%01", P11_PURPOSE_OTHER},
	    {"", P11_PURPOSE_OTHER},
	    {NULL, P11_PURPOSE_OTHER},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(
		    p11_uri_purpose(cases[i].uri) == cases[i].p, "case %zu", i);
	ck_assert_str_eq(p11_purpose_name(P11_PURPOSE_SEAL), "seal");
	ck_assert_str_eq(p11_purpose_name(P11_PURPOSE_OTHER), "other");
	ck_assert_str_eq(p11_purpose_name((enum p11_purpose)99), "other");
}
END_TEST

START_TEST(signatures_counted_by_purpose)
{
	unsigned char dgst[32] = {1}, sig[512];
	char seal[P11_URI_MAX], ocsp[P11_URI_MAX];
	const struct cs_hist *lat;
	struct cs_err err = {0};
	uint64_t signs, fails;
	size_t siglen;
	int i;

	ck_assert_int_eq(p11_key_generate(tok, P11_ALG_P256, "seal-S-1", seal,
	                     sizeof(seal), &err),
	    CS_OK);
	ck_assert_int_eq(p11_key_generate(tok, P11_ALG_P256, "ocsp-1", ocsp,
	                     sizeof(ocsp), &err),
	    CS_OK);
	for (i = 0; i < 3; i++) {
		siglen = sizeof(sig);
		ck_assert_int_eq(p11_sign_digest(tok, seal, NID_sha256, dgst,
		                     sizeof(dgst), sig, &siglen, &err),
		    CS_OK);
	}
	siglen = sizeof(sig);
	ck_assert_int_eq(p11_sign_digest(tok, ocsp, NID_sha256, dgst,
	                     sizeof(dgst), sig, &siglen, &err),
	    CS_OK);
	/* A digest of the wrong length fails: counted against its purpose. */
	siglen = sizeof(sig);
	ck_assert_int_eq(p11_sign_digest(tok, ocsp, NID_sha256, dgst, 20, sig,
	                     &siglen, &err),
	    CS_ERR_INVALID);

	p11_stats_purpose(tok, P11_PURPOSE_SEAL, &signs, &fails, &lat);
	ck_assert_uint_eq(signs, 3);
	ck_assert_uint_eq(fails, 0);
	ck_assert_uint_eq(cs_hist_count(lat), 3);
	ck_assert_uint_gt(atomic_load(&lat->sum_ns), 0);
	p11_stats_purpose(tok, P11_PURPOSE_OCSP, &signs, &fails, &lat);
	ck_assert_uint_eq(signs, 1);
	ck_assert_uint_eq(fails, 1);
	ck_assert_uint_eq(cs_hist_count(lat), 1);
	p11_stats_purpose(tok, P11_PURPOSE_CA, &signs, &fails, &lat);
	ck_assert_uint_eq(signs, 0);
	ck_assert_uint_eq(cs_hist_count(lat), 0);
}
END_TEST

static Suite *
key_suite(void)
{
	Suite *s = suite_create("p11_key");
	TCase *tc;

	tc = tcase_create("purpose");
	tcase_add_test(tc, purpose_from_the_label);
	suite_add_tcase(s, tc);
	tc = tcase_create("stats");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, signatures_counted_by_purpose);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(key_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
