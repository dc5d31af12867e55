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
#include "tests/testutil.h"

static struct testutil_token tok;
static char dir[PATH_MAX];
static struct svc *svc;
static char dept_a[CODES_CREDIT_LEN + 1], dept_b[CODES_CREDIT_LEN + 1];
static char seal_a[STORE_CODE_MAX], seal_b[STORE_CODE_MAX];
static struct client_principal issuer_a, issuer_b, verifier;

static void
make_code(const char *first16, char out[CODES_CREDIT_LEN + 1])
{
	memcpy(out, first16, 16);
	out[16] = codes_org_check_char(first16 + 8);
	out[17] = '\0';
	out[17] = codes_credit_check_char(out);
	out[18] = '\0';
	ck_assert_int_eq(codes_credit_check(out, NULL), CS_OK);
}

static void
add_client(enum client_role role, const char *dept, struct client_principal *p)
{
	char id[STORE_CODE_MAX], secret[CLIENT_SECRET_MAX], auth[128];
	struct cs_err err = {0};

	ck_assert_msg(client_add(svc, role, "t", dept, NULL, "test", id,
	                  sizeof(id), secret, sizeof(secret), &err) == CS_OK,
	    "%s", err.msg);
	snprintf(auth, sizeof(auth), "Bearer %s", secret);
	ck_assert_int_eq(client_authenticate(svc, auth, p, NULL), CS_OK);
}

static void
add_type(const char *code, const char *dept)
{
	char def[512];
	struct cs_err err = {0};

	snprintf(def, sizeof(def),
	    "{\"code\":\"%s\",\"name\":\"T\",\"departments\":[\"%s\"],"
	    "\"validity_days\":365,\"fields\":[{\"name\":\"scope\","
	    "\"type\":\"string\",\"required\":true},{\"name\":\"capital\","
	    "\"type\":\"number\"}]}",
	    code, dept);
	ck_assert_msg(ltype_add(svc, def, strlen(def), "test", &err) == CS_OK,
	    "%s", err.msg);
}

static void
add_seal(const char *dept, char *id)
{
	struct seal_create_opts o;
	struct cs_err err = {0};

	memset(&o, 0, sizeof(o));
	o.dept = dept;
	o.name = "seal";
	o.alg = P11_ALG_P256;
	o.actor = "test";
	ck_assert_msg(seal_create(svc, &o, id, STORE_CODE_MAX, &err) == CS_OK,
	    "%s", err.msg);
}

/* A whole service: token, CA, two departments with a type and a seal each. */
static void
setup(void)
{
	char conf[PATH_MAX + 32], path[PATH_MAX + 32];
	struct ca_init_opts copts = {P11_ALG_P256, "test"};
	struct cs_err err = {0};
	struct cfg cfg;
	char *text = NULL;
	bool created;

	testutil_softhsm(&tok, "lic-test");
	testutil_tmpdir(dir, sizeof(dir));
	cfg_defaults(&cfg, dir);
	cs_strlcpy(cfg.module, tok.module, sizeof(cfg.module));
	cs_strlcpy(cfg.token_label, tok.label, sizeof(cfg.token_label));
	cs_strlcpy(cfg.softhsm2_conf, tok.conf, sizeof(cfg.softhsm2_conf));
	cfg.pool_size = 4;
	ck_assert_int_eq(cfg_render(&cfg, &text, NULL), CS_OK);
	snprintf(conf, sizeof(conf), "%s/certsvc.conf", dir);
	ck_assert_int_eq(
	    cs_file_write(conf, text, strlen(text), 0600, false, NULL), CS_OK);
	free(text);
	snprintf(path, sizeof(path), "%s/pin", dir);
	ck_assert_int_eq(
	    cs_file_write(path, TESTUTIL_PIN "\n", 5, 0600, false, NULL),
	    CS_OK);
	snprintf(path, sizeof(path), "%s/holder-key", dir);
	ck_assert_int_eq(cs_file_write(path,
	                     "000102030405060708090a0b0c0d0e0f"
	                     "101112131415161718191a1b1c1d1e1f\n",
	                     65, 0600, false, NULL),
	    CS_OK);
	unsetenv("CERTSVC_PIN");
	ck_assert_msg(
	    svc_open(conf, SVC_OPEN_ALL, &svc, &err) == CS_OK, "%s", err.msg);
	ck_assert(svc->has_holder_key);
	ck_assert_int_eq(ca_init(svc, &copts, &created, NULL), CS_OK);
	make_code("91110105MA012345", dept_a);
	make_code("12110000MB012345", dept_b);
	ck_assert_int_eq(
	    dept_add(svc, dept_a, "A", "110105", "t", NULL), CS_OK);
	ck_assert_int_eq(
	    dept_add(svc, dept_b, "B", "110000", "t", NULL), CS_OK);
	add_type("TA01", dept_a);
	add_type("TB01", dept_b);
	add_seal(dept_a, seal_a);
	add_seal(dept_b, seal_b);
	add_client(CLIENT_ISSUER, dept_a, &issuer_a);
	add_client(CLIENT_ISSUER, dept_b, &issuer_b);
	add_client(CLIENT_VERIFIER, NULL, &verifier);
}

static void
teardown(void)
{
	svc_free(svc);
	svc = NULL;
	testutil_softhsm_remove(&tok);
}

static json_t *
request(const char *type, const char *scope)
{
	json_t *r = json_pack("{s:s,s:{s:s,s:s,s:s},s:{s:s,s:f}}", "type", type,
	    "holder", "name", "张三", "id_type", "resident_id", "id_number",
	    "110101199003070011", "fields", "scope", scope, "capital", 1.5);

	ck_assert_ptr_nonnull(r);
	return r;
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

static int64_t
count_audit(void)
{
	int64_t count = 0, last = 0;

	ck_assert_int_eq(
	    store_audit_head(svc->store, &count, &last, NULL), CS_OK);
	return count;
}

START_TEST(issue_seals_a_verifiable_document)
{
	struct crypto_cms_result res;
	struct licence_issued out;
	struct cs_err err = {0};
	struct seal_signer *s = NULL;
	json_t *req = request("TA01", "food"), *doc;
	struct buf *again = NULL;

	ck_assert_msg(
	    licence_issue(svc, &issuer_a, req, "k1", 0, &out, &err) == CS_OK,
	    "%s", err.msg);
	ck_assert(!out.replayed);
	ck_assert_int_eq(codes_licence_id_check(out.lic.id, NULL), CS_OK);
	ck_assert_int_eq(out.lic.version, 1);
	ck_assert_str_eq(out.lic.status, "valid");
	ck_assert_str_eq(out.lic.seal_id, seal_a);
	ck_assert_int_eq(strncmp(out.holder_token, "cs_", 3), 0);
	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(crypto_cms_verify(out.lic.document->data,
	                     out.lic.document->len, out.lic.seal_der->data,
	                     out.lic.seal_der->len, svc->root, &res, NULL),
	    CS_OK);
	ck_assert_msg(res.signature_ok && res.chain_ok, "%s", res.reason);
	ck_assert_int_eq(seal_signer_get(svc, seal_a, dept_a, &s, NULL), CS_OK);
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
	    dept_a);
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
	json_t *req = request("TA01", "food"), *other = request("TA01", "x");

	ck_assert_int_eq(
	    licence_issue(svc, &issuer_a, req, "k", 0, &a, NULL), CS_OK);
	ck_assert_int_eq(
	    licence_issue(svc, &issuer_a, req, "k", 0, &b, NULL), CS_OK);
	ck_assert(b.replayed);
	ck_assert_str_eq(a.lic.id, b.lic.id);
	ck_assert_str_eq(b.holder_token, "");
	ck_assert_mem_eq(
	    a.lic.seal_der->data, b.lic.seal_der->data, a.lic.seal_der->len);
	licence_issued_release(&b);
	ck_assert_int_eq(licence_issue(svc, &issuer_a, other, "k", 0, &b, &err),
	    CS_ERR_CONFLICT);
	/* Keys are per client: B's "k" is another key. */
	ck_assert_uint_eq(count_licences(dept_a), 1);
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

	r->rc = licence_issue(svc, &issuer_a, r->req, "race", 0, &r->out, NULL);
	return NULL;
}

START_TEST(concurrent_duplicates_make_one_licence)
{
	struct race r[8];
	pthread_t t[8];
	int i, fresh = 0;

	for (i = 0; i < 8; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].req = request("TA01", "food");
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
	ck_assert_uint_eq(count_licences(dept_a), 1);
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
	json_t *req = request("TA01", "food"), *own = request("TB01", "x");

	ck_assert_int_eq(
	    licence_issue(svc, &issuer_b, req, "e1", 0, &out, &err),
	    CS_ERR_DENIED);
	ck_assert_ptr_nonnull(strstr(err.msg, "TA01"));
	ck_assert_int_eq(
	    licence_issue(svc, &verifier, req, "e2", 0, &out, NULL),
	    CS_ERR_DENIED);
	json_object_set_new(own, "seal", json_string(seal_a));
	ck_assert_int_eq(
	    licence_issue(svc, &issuer_b, own, "e3", 0, &out, &err),
	    CS_ERR_DENIED);
	ck_assert_ptr_nonnull(strstr(err.msg, "another department"));
	json_object_set_new(own, "seal", json_string(seal_b));
	ck_assert_int_eq(
	    licence_issue(svc, &issuer_b, own, "e4", 0, &out, NULL), CS_OK);
	licence_issued_release(&out);
	ck_assert_uint_eq(count_licences(dept_a), 0);
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
		req = request("TA01", "food");
		patch = json_loads(cases[i].patch, 0, NULL);
		ck_assert_ptr_nonnull(patch);
		json_object_update(req, patch);
		memset(&err, 0, sizeof(err));
		ck_assert_int_ne(
		    licence_issue(svc, &issuer_a, req, "bad", 0, &out, &err),
		    CS_OK);
		ck_assert_msg(strstr(err.msg, cases[i].msg) != NULL,
		    "case %zu: '%s' lacks '%s'", i, err.msg, cases[i].msg);
		json_decref(patch);
		json_decref(req);
	}
	req = request("TA01", "x");
	ck_assert_int_eq(licence_issue(svc, &issuer_a, req, "", 0, &out, &err),
	    CS_ERR_INVALID);
	json_decref(req);
	ck_assert_uint_eq(count_licences(dept_a), 0);
}
END_TEST

/* Fail the Nth store statement of an issuance, for every N it has. */
START_TEST(failing_store_leaves_nothing_half_written)
{
	struct licence_issued out;
	struct cs_err err;
	json_t *req = request("TA01", "food");
	int64_t audit0 = count_audit();
	size_t clients0, clients;
	struct store_client *cl = NULL;
	int n, failures = 0;
	enum cs_rc rc;

	ck_assert_int_eq(client_list(svc, &cl, &clients0, NULL), CS_OK);
	free(cl);
	for (n = 1; n < 60; n++) {
		memset(&err, 0, sizeof(err));
		store_test_fail_after(svc->store, n);
		rc = licence_issue(svc, &issuer_a, req, "fail", 0, &out, &err);
		store_test_fail_after(svc->store, 0);
		if (rc == CS_OK)
			break;
		failures++;
		ck_assert_uint_eq(count_licences(dept_a), 0);
		ck_assert_int_eq(count_audit(), audit0);
		ck_assert_int_eq(client_list(svc, &cl, &clients, NULL), CS_OK);
		free(cl);
		ck_assert_uint_eq(clients, clients0);
	}
	ck_assert_int_eq(rc, CS_OK);
	ck_assert_int_ge(failures, 5);
	ck_assert(!out.replayed);
	ck_assert_uint_eq(count_licences(dept_a), 1);
	ck_assert_int_eq(count_audit(), audit0 + 1);
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
	json_t *req = request("TA01", "food");

	ck_assert_int_eq(
	    licence_issue(svc, &issuer_a, req, "r", 0, &out, NULL), CS_OK);
	ck_assert_int_eq(
	    licence_read(svc, &issuer_a, out.lic.id, 0, &l, NULL), CS_OK);
	ck_assert_mem_eq(
	    l.document->data, out.lic.document->data, l.document->len);
	store_licence_release(&l);
	ck_assert_int_eq(licence_read(svc, &issuer_b, out.lic.id, 0, &l, NULL),
	    CS_ERR_NOT_FOUND);
	ck_assert_int_eq(licence_read(svc, &verifier, out.lic.id, 0, &l, NULL),
	    CS_ERR_NOT_FOUND);
	ck_assert_int_eq(licence_read(svc, &issuer_a, "garbage", 0, &l, NULL),
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
	json_t *req = request("TA01", "food");

	ck_assert_int_eq(
	    seal_revoke(svc, seal_a, "key compromise", "t", NULL), CS_OK);
	json_object_set_new(req, "seal", json_string(seal_a));
	ck_assert_int_eq(
	    licence_issue(svc, &issuer_a, req, "rv1", 0, &out, &err),
	    CS_ERR_CONFLICT);
	json_object_del(req, "seal");
	/* No active seal left for A. */
	ck_assert_int_eq(
	    licence_issue(svc, &issuer_a, req, "rv2", 0, &out, &err),
	    CS_ERR_NOT_FOUND);
	ck_assert_int_eq(
	    seal_revoke(svc, seal_a, "again", "t", NULL), CS_ERR_CONFLICT);
	json_decref(req);
}
END_TEST

START_TEST(batch_issue_makes_no_holder_token)
{
	struct licence_issued out;
	struct store_client *cl = NULL;
	size_t before, after;
	json_t *req = request("TA01", "food");

	ck_assert_int_eq(client_list(svc, &cl, &before, NULL), CS_OK);
	free(cl);
	ck_assert_int_eq(licence_issue(svc, &issuer_a, req, "batch",
	                     LICENCE_NO_HOLDER_TOKEN, &out, NULL),
	    CS_OK);
	ck_assert_str_eq(out.holder_token, "");
	ck_assert_int_eq(client_list(svc, &cl, &after, NULL), CS_OK);
	free(cl);
	ck_assert_uint_eq(after, before);
	ck_assert_uint_eq(count_licences(dept_a), 1);
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
