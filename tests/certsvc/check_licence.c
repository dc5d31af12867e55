/*
 * check_licence.c: certsvc/licence.c and certsvc/seal.c on a real SoftHSM2
 * token and store: issuance, idempotency (also under threads), entitlement,
 * validation, readers' scopes, and a store failing at every statement of
 * an issuance leaving nothing half-written.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certsvc/ca.h"
#include "certsvc/client.h"
#include "certsvc/codes.h"
#include "certsvc/dept.h"
#include "certsvc/jcs.h"
#include "certsvc/licence.h"
#include "certsvc/ltype.h"
#include "certsvc/mem.h"
#include "certsvc/seal.h"
#include "certsvc/store_test.h"
#include "certsvc/svc.h"
#include "crypto/crypto.h"
#include "tests/svcfix.h"

static struct svcfix fx;
static struct svc *svc;

static void
setup(void)
{
	svcfix_open_world(&fx, "lic-test", NULL);
	ck_assert(fx.svc->has_holder_key);
	svc = fx.svc;
}

static void
teardown(void)
{
	svcfix_close(&fx);
	svc = NULL;
}

static size_t
count_licences(const char *dept)
{
	struct store_licence *list = NULL;
	size_t n = 0, i;

	ck_assert_int_eq(
	    store_licence_list(svc->store, NULL, dept, 1000, &list, &n, NULL),
	    CS_OK);
	for (i = 0; i < n; i++)
		store_licence_release(&list[i]);
	free(list);
	return n;
}

START_TEST(issue_seals_a_verifiable_document)
{
	struct crypto_cms_result res;
	struct licence_issued out;
	struct cs_err err = {0};
	struct seal_signer *s = NULL;
	json_t *req = svcfix_request("TA01", "food"), *doc;
	struct buf *again = NULL;

	ck_assert_msg(
	    licence_issue(svc, &fx.issuer_a, req, "k1", 0, &out, &err) == CS_OK,
	    "%s", err.msg);
	ck_assert(!out.replayed);
	ck_assert_int_eq(codes_licence_id_check(out.lic.id, NULL), CS_OK);
	ck_assert_int_eq(out.lic.version, 1);
	ck_assert_str_eq(out.lic.status, "valid");
	ck_assert_str_eq(out.lic.seal_id, fx.seal_a);
	ck_assert_int_eq(strncmp(out.holder_token, "cs_", 3), 0);
	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(crypto_cms_verify(out.lic.document->data,
	                     out.lic.document->len, out.lic.seal_der->data,
	                     out.lic.seal_der->len, svc->root, &res, NULL),
	    CS_OK);
	ck_assert_msg(res.signature_ok && res.chain_ok, "%s", res.reason);
	ck_assert_int_eq(
	    seal_signer_get(svc, fx.seal_a, fx.dept_a, &s, NULL), CS_OK);
	ck_assert_int_eq(X509_cmp(res.signer, s->cert), 0);
	crypto_cms_result_release(&res);
	/* The document is canonical: parse + encode gives the same bytes. */
	ck_assert_int_eq(jcs_parse(out.lic.document->data,
	                     out.lic.document->len, &doc, NULL),
	    CS_OK);
	ck_assert_int_eq(jcs_encode(doc, &again, NULL), CS_OK);
	ck_assert_mem_eq(again->data, out.lic.document->data, again->len);
	ck_assert_str_eq(
	    json_string_value(json_object_get(doc, "id")), out.lic.id);
	ck_assert_str_eq(json_string_value(json_object_get(
	                     json_object_get(doc, "issuer"), "credit_code")),
	    fx.dept_a);
	json_decref(doc);
	buf_free(again);
	seal_signer_free(s);
	licence_issued_release(&out);
	json_decref(req);
}
END_TEST

START_TEST(same_key_replays_other_body_conflicts)
{
	struct licence_issued a, b;
	struct cs_err err = {0};
	json_t *req = svcfix_request("TA01", "food"),
	       *other = svcfix_request("TA01", "x");

	ck_assert_int_eq(
	    licence_issue(svc, &fx.issuer_a, req, "k", 0, &a, NULL), CS_OK);
	ck_assert_int_eq(
	    licence_issue(svc, &fx.issuer_a, req, "k", 0, &b, NULL), CS_OK);
	ck_assert(b.replayed);
	ck_assert_str_eq(a.lic.id, b.lic.id);
	ck_assert_str_eq(b.holder_token, "");
	ck_assert_mem_eq(
	    a.lic.seal_der->data, b.lic.seal_der->data, a.lic.seal_der->len);
	licence_issued_release(&b);
	ck_assert_int_eq(
	    licence_issue(svc, &fx.issuer_a, other, "k", 0, &b, &err),
	    CS_ERR_CONFLICT);
	/* Keys are per client: B's "k" is another key. */
	ck_assert_uint_eq(count_licences(fx.dept_a), 1);
	licence_issued_release(&a);
	json_decref(req);
	json_decref(other);
}
END_TEST

struct race {
	json_t *req;
	struct licence_issued out;
	enum cs_rc rc;
};

static void *
race_run(void *arg)
{
	struct race *r = arg;

	r->rc =
	    licence_issue(svc, &fx.issuer_a, r->req, "race", 0, &r->out, NULL);
	return NULL;
}

START_TEST(concurrent_duplicates_make_one_licence)
{
	struct race r[8];
	pthread_t t[8];
	int i, fresh = 0;

	for (i = 0; i < 8; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].req = svcfix_request("TA01", "food");
		ck_assert_int_eq(
		    pthread_create(&t[i], NULL, race_run, &r[i]), 0);
	}
	for (i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < 8; i++) {
		ck_assert_int_eq(r[i].rc, CS_OK);
		ck_assert_str_eq(r[i].out.lic.id, r[0].out.lic.id);
		fresh += !r[i].out.replayed;
	}
	ck_assert_int_eq(fresh, 1);
	ck_assert_uint_eq(count_licences(fx.dept_a), 1);
	for (i = 0; i < 8; i++) {
		licence_issued_release(&r[i].out);
		json_decref(r[i].req);
	}
}
END_TEST

START_TEST(entitlement_is_enforced)
{
	struct licence_issued out;
	struct cs_err err = {0};
	json_t *req = svcfix_request("TA01", "food"),
	       *own = svcfix_request("TB01", "x");

	ck_assert_int_eq(
	    licence_issue(svc, &fx.issuer_b, req, "e1", 0, &out, &err),
	    CS_ERR_DENIED);
	ck_assert_ptr_nonnull(strstr(err.msg, "TA01"));
	ck_assert_int_eq(
	    licence_issue(svc, &fx.verifier, req, "e2", 0, &out, NULL),
	    CS_ERR_DENIED);
	json_object_set_new(own, "seal", json_string(fx.seal_a));
	ck_assert_int_eq(
	    licence_issue(svc, &fx.issuer_b, own, "e3", 0, &out, &err),
	    CS_ERR_DENIED);
	ck_assert_ptr_nonnull(strstr(err.msg, "another department"));
	json_object_set_new(own, "seal", json_string(fx.seal_b));
	ck_assert_int_eq(
	    licence_issue(svc, &fx.issuer_b, own, "e4", 0, &out, NULL), CS_OK);
	licence_issued_release(&out);
	ck_assert_uint_eq(count_licences(fx.dept_a), 0);
	json_decref(req);
	json_decref(own);
}
END_TEST

START_TEST(bad_requests_name_the_field)
{
	static const struct {
		const char *patch; /* JSON merged into the request */
		const char *msg;
	} cases[] = {
	    {"{\"type\":\"NOPE01\"}", "type: unknown licence type"},
	    {"{\"fields\":{\"capital\":2}}", "fields.scope"},
	    {"{\"fields\":{\"scope\":\"a\",\"capital\":\"x\"}}",
	        "fields.capital"},
	    {"{\"fields\":{\"scope\":\"a\",\"extra\":1}}", "fields.extra"},
	    {"{\"colour\":\"red\"}", "colour: unknown member"},
	    {"{\"valid_from\":\"2026-02-30\"}", "valid_from"},
	    {"{\"valid_from\":\"2026-05-01\",\"valid_until\":\"2026-04-01\"}",
	        "valid_until"},
	    {"{\"holder\":{\"name\":\"x\",\"id_type\":\"resident_id\"}}",
	        "holder.id_number"},
	    {"{\"seal\":\"S-0000000000000000\"}", "seal"},
	};
	struct licence_issued out;
	struct cs_err err;
	json_t *req, *patch;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		req = svcfix_request("TA01", "food");
		patch = json_loads(cases[i].patch, 0, NULL);
		ck_assert_ptr_nonnull(patch);
		json_object_update(req, patch);
		memset(&err, 0, sizeof(err));
		ck_assert_int_ne(
		    licence_issue(svc, &fx.issuer_a, req, "bad", 0, &out, &err),
		    CS_OK);
		ck_assert_msg(strstr(err.msg, cases[i].msg) != NULL,
		    "case %zu: '%s' lacks '%s'", i, err.msg, cases[i].msg);
		json_decref(patch);
		json_decref(req);
	}
	req = svcfix_request("TA01", "x");
	ck_assert_int_eq(
	    licence_issue(svc, &fx.issuer_a, req, "", 0, &out, &err),
	    CS_ERR_INVALID);
	json_decref(req);
	ck_assert_uint_eq(count_licences(fx.dept_a), 0);
}
END_TEST

/* Fail the Nth store statement of an issuance, for every N it has. */
START_TEST(failing_store_leaves_nothing_half_written)
{
	struct licence_issued out;
	struct cs_err err;
	json_t *req = svcfix_request("TA01", "food");
	int64_t audit0 = svcfix_audit_count(&fx);
	size_t clients0, clients;
	struct store_client *cl = NULL;
	int n, failures = 0;
	enum cs_rc rc;

	ck_assert_int_eq(client_list(svc, &cl, &clients0, NULL), CS_OK);
	free(cl);
	for (n = 1; n < 60; n++) {
		memset(&err, 0, sizeof(err));
		store_test_fail_after(svc->store, n);
		rc = licence_issue(
		    svc, &fx.issuer_a, req, "fail", 0, &out, &err);
		store_test_fail_after(svc->store, 0);
		if (rc == CS_OK)
			break;
		failures++;
		ck_assert_uint_eq(count_licences(fx.dept_a), 0);
		ck_assert_int_eq(svcfix_audit_count(&fx), audit0);
		ck_assert_int_eq(client_list(svc, &cl, &clients, NULL), CS_OK);
		free(cl);
		ck_assert_uint_eq(clients, clients0);
	}
	ck_assert_int_eq(rc, CS_OK);
	ck_assert_int_ge(failures, 5);
	ck_assert(!out.replayed);
	ck_assert_uint_eq(count_licences(fx.dept_a), 1);
	ck_assert_int_eq(svcfix_audit_count(&fx), audit0 + 1);
	licence_issued_release(&out);
	json_decref(req);
}
END_TEST

START_TEST(readers_see_only_their_own)
{
	char auth[128], id[STORE_CODE_MAX], secret[CLIENT_SECRET_MAX];
	struct client_principal holder;
	struct licence_issued out;
	struct store_licence l;
	json_t *req = svcfix_request("TA01", "food");

	ck_assert_int_eq(
	    licence_issue(svc, &fx.issuer_a, req, "r", 0, &out, NULL), CS_OK);
	ck_assert_int_eq(
	    licence_read(svc, &fx.issuer_a, out.lic.id, 0, &l, NULL), CS_OK);
	ck_assert_mem_eq(
	    l.document->data, out.lic.document->data, l.document->len);
	store_licence_release(&l);
	ck_assert_int_eq(
	    licence_read(svc, &fx.issuer_b, out.lic.id, 0, &l, NULL),
	    CS_ERR_NOT_FOUND);
	ck_assert_int_eq(
	    licence_read(svc, &fx.verifier, out.lic.id, 0, &l, NULL),
	    CS_ERR_NOT_FOUND);
	ck_assert_int_eq(
	    licence_read(svc, &fx.issuer_a, "garbage", 0, &l, NULL),
	    CS_ERR_NOT_FOUND);
	snprintf(auth, sizeof(auth), "Bearer %s", out.holder_token);
	ck_assert_int_eq(client_authenticate(svc, auth, &holder, NULL), CS_OK);
	ck_assert_int_eq(
	    licence_read(svc, &holder, out.lic.id, 0, &l, NULL), CS_OK);
	store_licence_release(&l);
	/* Another holder does not see it. */
	ck_assert_int_eq(client_add(svc, CLIENT_HOLDER, "h", NULL,
	                     "00000000000000000000000000000000000000000000000"
	                     "00000000000000000",
	                     "t", id, sizeof(id), secret, sizeof(secret), NULL),
	    CS_OK);
	snprintf(auth, sizeof(auth), "Bearer %s", secret);
	ck_assert_int_eq(client_authenticate(svc, auth, &holder, NULL), CS_OK);
	ck_assert_int_eq(licence_read(svc, &holder, out.lic.id, 0, &l, NULL),
	    CS_ERR_NOT_FOUND);
	licence_issued_release(&out);
	json_decref(req);
}
END_TEST

START_TEST(revoked_seal_signs_nothing)
{
	struct licence_issued out;
	struct cs_err err = {0};
	json_t *req = svcfix_request("TA01", "food");

	ck_assert_int_eq(
	    seal_revoke(svc, fx.seal_a, "key compromise", "t", NULL), CS_OK);
	json_object_set_new(req, "seal", json_string(fx.seal_a));
	ck_assert_int_eq(
	    licence_issue(svc, &fx.issuer_a, req, "rv1", 0, &out, &err),
	    CS_ERR_CONFLICT);
	json_object_del(req, "seal");
	/* No active seal left for A. */
	ck_assert_int_eq(
	    licence_issue(svc, &fx.issuer_a, req, "rv2", 0, &out, &err),
	    CS_ERR_NOT_FOUND);
	ck_assert_int_eq(
	    seal_revoke(svc, fx.seal_a, "again", "t", NULL), CS_ERR_CONFLICT);
	json_decref(req);
}
END_TEST

START_TEST(batch_issue_makes_no_holder_token)
{
	struct licence_issued out;
	struct store_client *cl = NULL;
	size_t before, after;
	json_t *req = svcfix_request("TA01", "food");

	ck_assert_int_eq(client_list(svc, &cl, &before, NULL), CS_OK);
	free(cl);
	ck_assert_int_eq(licence_issue(svc, &fx.issuer_a, req, "batch",
	                     LICENCE_NO_HOLDER_TOKEN, &out, NULL),
	    CS_OK);
	ck_assert_str_eq(out.holder_token, "");
	ck_assert_int_eq(client_list(svc, &cl, &after, NULL), CS_OK);
	free(cl);
	ck_assert_uint_eq(after, before);
	ck_assert_uint_eq(count_licences(fx.dept_a), 1);
	licence_issued_release(&out);
	json_decref(req);
}
END_TEST

static Suite *
licence_suite(void)
{
	Suite *s = suite_create("licence");
	TCase *tc = tcase_create("issue");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, issue_seals_a_verifiable_document);
	tcase_add_test(tc, same_key_replays_other_body_conflicts);
	tcase_add_test(tc, concurrent_duplicates_make_one_licence);
	tcase_add_test(tc, entitlement_is_enforced);
	tcase_add_test(tc, bad_requests_name_the_field);
	tcase_add_test(tc, failing_store_leaves_nothing_half_written);
	tcase_add_test(tc, readers_see_only_their_own);
	tcase_add_test(tc, revoked_seal_signs_nothing);
	tcase_add_test(tc, batch_issue_makes_no_holder_token);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(licence_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
