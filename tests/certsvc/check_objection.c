/*
 * check_objection.c: certsvc/objection.c (and its store operations) on a
 * real SoftHSM2 token and store: holders file objections only against
 * their own licences, with the text checked; holders and issuers list
 * what is theirs; an issuer resolves by rejection or by a correction made
 * in the same transaction; resolving twice (also concurrently) gives one
 * resolution; a store failing at every statement of a resolution leaves
 * nothing half-written.
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
#include "certsvc/lifecycle.h"
#include "certsvc/objection.h"
#include "certsvc/ltype.h"
#include "certsvc/mem.h"
#include "certsvc/seal.h"
#include "certsvc/statuslist.h"
#include "certsvc/store_test.h"
#include "certsvc/svc.h"
#include "crypto/crypto.h"
#include "tests/svcfix.h"

static struct svcfix fx;
static struct svc *svc;

static void
setup(void)
{
	struct svcfix_opts o = {.public_url = "https://certsvc.example/"};

	svcfix_open_world(&fx, "obj-test", &o);
	svc = fx.svc;
}

static void
teardown(void)
{
	svcfix_close(&fx);
	svc = NULL;
}

static json_t *
file_body(const char *id, const char *text)
{
	json_t *b = json_pack("{s:s,s:s}", "licence_id", id, "text", text);

	ck_assert_ptr_nonnull(b);
	return b;
}

/* Issue a licence and file an objection as its holder. */
static void
filed(char *lid, struct client_principal *holder, struct store_objection *o)
{
	struct cs_err err = {0};
	json_t *b;

	svcfix_issue(&fx, &fx.issuer_a, false, lid, holder);
	b = file_body(lid, "经营范围有误\nscope is wrong");
	ck_assert_msg(
	    objection_file(svc, holder, b, o, &err) == CS_OK, "%s", err.msg);
	json_decref(b);
}

START_TEST(holder_files_against_own_licence_only)
{
	char lid[STORE_LICENCE_ID_MAX], other[STORE_LICENCE_ID_MAX];
	char text[OBJECTION_TEXT_MAX + 2];
	struct client_principal holder, holder2;
	struct store_objection o, got;
	struct cs_err err = {0};
	int64_t audit0;
	json_t *b, *j;

	svcfix_issue(&fx, &fx.issuer_a, false, lid, &holder);
	audit0 = svcfix_audit_count(&fx);
	b = file_body(lid, "the scope is wrong");
	ck_assert_msg(
	    objection_file(svc, &holder, b, &o, &err) == CS_OK, "%s", err.msg);
	json_decref(b);
	ck_assert_int_eq(strncmp(o.id, "O-", 2), 0);
	ck_assert_uint_eq(strlen(o.id), 18);
	ck_assert_str_eq(o.status, "open");
	ck_assert_int_eq(o.version, 1);
	ck_assert_str_eq(o.dept, fx.dept_a);
	ck_assert_int_eq(svcfix_audit_count(&fx), audit0 + 1);
	ck_assert_int_eq(
	    store_objection_get(svc->store, o.id, &got, NULL), CS_OK);
	ck_assert_str_eq(got.text, "the scope is wrong");
	ck_assert_str_eq(got.client, holder.id);
	j = objection_json(&got);
	ck_assert_ptr_null(json_object_get(j, "holder_ref"));
	ck_assert_ptr_null(json_object_get(j, "resolution"));
	json_decref(j);

	/* Another holder's licence: as unknown. */
	ck_assert_int_eq(
	    client_add(svc, CLIENT_HOLDER, "h", NULL,
	        "00000000000000000000000000000000000000000000000"
	        "00000000000000000",
	        "t", other, sizeof(other), text, sizeof(text), NULL),
	    CS_OK);
	{
		char auth[CLIENT_SECRET_MAX + 16];

		snprintf(auth, sizeof(auth), "Bearer %.*s",
		    (int)CLIENT_SECRET_MAX, text);
		ck_assert_int_eq(
		    client_authenticate(svc, auth, &holder2, NULL), CS_OK);
	}
	b = file_body(lid, "not mine");
	ck_assert_int_eq(
	    objection_file(svc, &holder2, b, &o, NULL), CS_ERR_NOT_FOUND);
	ck_assert_int_eq(
	    objection_file(svc, &fx.issuer_a, b, &o, NULL), CS_ERR_DENIED);
	ck_assert_int_eq(
	    objection_file(svc, &fx.verifier, b, &o, NULL), CS_ERR_DENIED);
	json_decref(b);
	b = file_body("TA01-unknown", "x");
	ck_assert_int_eq(
	    objection_file(svc, &holder, b, &o, NULL), CS_ERR_NOT_FOUND);
	json_decref(b);

	/* Text: 1 to 2000 bytes, line breaks but no other controls. */
	memset(text, 'a', sizeof(text));
	text[OBJECTION_TEXT_MAX] = '\0';
	b = file_body(lid, text);
	ck_assert_int_eq(objection_file(svc, &holder, b, &o, NULL), CS_OK);
	json_decref(b);
	text[OBJECTION_TEXT_MAX] = 'a';
	text[OBJECTION_TEXT_MAX + 1] = '\0';
	b = file_body(lid, text);
	ck_assert_int_eq(
	    objection_file(svc, &holder, b, &o, &err), CS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "text"));
	json_decref(b);
	b = file_body(lid, "");
	ck_assert_int_eq(
	    objection_file(svc, &holder, b, &o, NULL), CS_ERR_INVALID);
	json_decref(b);
	b = file_body(lid, "bell\a");
	ck_assert_int_eq(
	    objection_file(svc, &holder, b, &o, NULL), CS_ERR_INVALID);
	json_decref(b);
	b = json_pack(
	    "{s:s,s:s,s:i}", "licence_id", lid, "text", "x", "extra", 1);
	ck_assert_int_eq(
	    objection_file(svc, &holder, b, &o, &err), CS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "extra"));
	json_decref(b);
	/* Two objections and holder2's client: refusals leave no event. */
	ck_assert_int_eq(svcfix_audit_count(&fx), audit0 + 3);
}
END_TEST

START_TEST(lists_are_scoped)
{
	char lid[STORE_LICENCE_ID_MAX];
	struct client_principal holder;
	struct store_objection o, *list = NULL;
	size_t n = 0;

	filed(lid, &holder, &o);
	ck_assert_int_eq(
	    objection_list(svc, &holder, NULL, NULL, &list, &n, NULL), CS_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(list[0].id, o.id);
	free(list);
	ck_assert_int_eq(
	    objection_list(svc, &fx.issuer_a, NULL, "open", &list, &n, NULL),
	    CS_OK);
	ck_assert_uint_eq(n, 1);
	free(list);
	ck_assert_int_eq(objection_list(svc, &fx.issuer_a, NULL, "rejected",
	                     &list, &n, NULL),
	    CS_OK);
	ck_assert_uint_eq(n, 0);
	free(list);
	ck_assert_int_eq(
	    objection_list(svc, &fx.issuer_b, NULL, NULL, &list, &n, NULL),
	    CS_OK);
	ck_assert_uint_eq(n, 0);
	free(list);
	ck_assert_int_eq(
	    objection_list(svc, &fx.verifier, NULL, NULL, &list, &n, NULL),
	    CS_ERR_DENIED);
	ck_assert_int_eq(
	    objection_list(svc, &fx.issuer_a, NULL, "bogus", &list, &n, NULL),
	    CS_ERR_INVALID);
	ck_assert_int_eq(
	    objection_list(svc, NULL, fx.dept_b, NULL, &list, &n, NULL), CS_OK);
	ck_assert_uint_eq(n, 0);
	free(list);
	ck_assert_int_eq(
	    objection_list(svc, NULL, NULL, NULL, &list, &n, NULL), CS_OK);
	ck_assert_uint_eq(n, 1);
	free(list);
}
END_TEST

START_TEST(rejection_is_final_and_visible)
{
	char lid[STORE_LICENCE_ID_MAX];
	struct client_principal holder;
	struct store_objection o, r, *list = NULL;
	struct store_licence lic;
	struct cs_err err = {0};
	int64_t audit0;
	size_t n = 0;
	json_t *b, *j;

	filed(lid, &holder, &o);
	audit0 = svcfix_audit_count(&fx);
	b = json_pack("{s:s,s:s}", "outcome", "rejected", "reason",
	    "the record is right");
	ck_assert_int_eq(
	    objection_resolve(svc, &fx.issuer_b, o.id, b, &r, &lic, NULL),
	    CS_ERR_NOT_FOUND);
	ck_assert_int_eq(
	    objection_resolve(svc, &holder, o.id, b, &r, &lic, NULL),
	    CS_ERR_DENIED);
	ck_assert_int_eq(objection_resolve(svc, &fx.issuer_a,
	                     "O-0000000000000000", b, &r, &lic, NULL),
	    CS_ERR_NOT_FOUND);
	ck_assert_msg(objection_resolve(
	                  svc, &fx.issuer_a, o.id, b, &r, &lic, &err) == CS_OK,
	    "%s", err.msg);
	ck_assert_str_eq(r.status, "rejected");
	ck_assert_ptr_null(lic.document);
	ck_assert_int_eq(svcfix_audit_count(&fx), audit0 + 1);
	ck_assert_int_eq(
	    objection_resolve(svc, &fx.issuer_a, o.id, b, &r, &lic, &err),
	    CS_ERR_CONFLICT);
	ck_assert_ptr_nonnull(strstr(err.msg, "rejected"));
	json_decref(b);
	ck_assert_int_eq(svcfix_audit_count(&fx), audit0 + 1);
	/* The holder sees the outcome; the licence is untouched. */
	ck_assert_int_eq(
	    objection_list(svc, &holder, NULL, NULL, &list, &n, NULL), CS_OK);
	ck_assert_uint_eq(n, 1);
	j = objection_json(&list[0]);
	ck_assert_str_eq(
	    json_string_value(json_object_get(j, "status")), "rejected");
	ck_assert_str_eq(json_string_value(json_object_get(j, "resolution")),
	    "the record is right");
	ck_assert_ptr_null(json_object_get(j, "new_version"));
	json_decref(j);
	free(list);
	ck_assert_str_eq(svcfix_state(&fx, lid, 1), LICENCE_VALID);
	ck_assert_int_eq(svcfix_newest_version(&fx, lid), 1);
}
END_TEST

START_TEST(bad_resolutions_name_the_member)
{
	static const char *const bodies[][2] = {
	    {"{\"reason\":\"x\"}", "outcome"},
	    {"{\"outcome\":\"maybe\",\"reason\":\"x\"}", "outcome"},
	    {"{\"outcome\":\"rejected\"}", "reason"},
	    {"{\"outcome\":\"rejected\",\"reason\":\"x\",\"fields\":{}}",
	        "fields"},
	    {"{\"outcome\":\"corrected\",\"reason\":\"x\"}", "fields"},
	    {"{\"outcome\":\"corrected\",\"reason\":\"x\",\"fields\":"
	     "{\"scope\":1}}",
	        "fields.scope"},
	};
	char lid[STORE_LICENCE_ID_MAX];
	struct client_principal holder;
	struct store_objection o, r, got;
	struct store_licence lic;
	struct cs_err err;
	int64_t audit0;
	json_t *b;
	size_t i;

	filed(lid, &holder, &o);
	audit0 = svcfix_audit_count(&fx);
	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		b = json_loads(bodies[i][0], 0, NULL);
		ck_assert_ptr_nonnull(b);
		memset(&err, 0, sizeof(err));
		ck_assert_int_eq(objection_resolve(svc, &fx.issuer_a, o.id, b,
		                     &r, &lic, &err),
		    CS_ERR_INVALID);
		ck_assert_msg(strstr(err.msg, bodies[i][1]) != NULL,
		    "case %zu: '%s' lacks '%s'", i, err.msg, bodies[i][1]);
		json_decref(b);
	}
	ck_assert_int_eq(svcfix_audit_count(&fx), audit0);
	ck_assert_int_eq(
	    store_objection_get(svc->store, o.id, &got, NULL), CS_OK);
	ck_assert_str_eq(got.status, "open");
}
END_TEST

START_TEST(correction_resolves_in_one_transaction)
{
	char lid[STORE_LICENCE_ID_MAX];
	struct client_principal holder;
	struct store_objection o, r, got;
	struct store_licence lic, v2;
	struct crypto_cms_result res;
	struct cs_err err = {0};
	int64_t audit0;
	json_t *b, *doc = NULL;

	filed(lid, &holder, &o);
	audit0 = svcfix_audit_count(&fx);
	b = json_pack("{s:s,s:{s:s,s:f},s:s}", "outcome", "corrected", "fields",
	    "scope", "retail", "capital", 1.5, "reason", "scope corrected");
	ck_assert_msg(objection_resolve(
	                  svc, &fx.issuer_a, o.id, b, &r, &lic, &err) == CS_OK,
	    "%s", err.msg);
	json_decref(b);
	ck_assert_str_eq(r.status, "corrected");
	ck_assert_int_eq(r.new_version, 2);
	ck_assert_int_eq(lic.version, 2);
	ck_assert_str_eq(lic.id, lid);
	/* licence.correct + objection.resolve */
	ck_assert_int_eq(svcfix_audit_count(&fx), audit0 + 2);
	ck_assert_str_eq(svcfix_state(&fx, lid, 1), LICENCE_SUPERSEDED);
	ck_assert_str_eq(svcfix_state(&fx, lid, 2), LICENCE_VALID);
	ck_assert_int_eq(
	    store_objection_get(svc->store, o.id, &got, NULL), CS_OK);
	ck_assert_str_eq(got.status, "corrected");
	ck_assert_int_eq(got.new_version, 2);
	ck_assert_str_eq(got.resolution, "scope corrected");
	ck_assert_str_eq(got.resolved_by, fx.issuer_a.id);
	ck_assert_int_eq(
	    store_licence_get(svc->store, lid, 2, &v2, NULL), CS_OK);
	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(
	    crypto_cms_verify(v2.document->data, v2.document->len,
	        v2.seal_der->data, v2.seal_der->len, svc->root, &res, NULL),
	    CS_OK);
	ck_assert_msg(res.signature_ok && res.chain_ok, "%s", res.reason);
	crypto_cms_result_release(&res);
	ck_assert_int_eq(
	    jcs_parse(v2.document->data, v2.document->len, &doc, NULL), CS_OK);
	ck_assert_str_eq(json_string_value(json_object_get(
	                     json_object_get(doc, "fields"), "scope")),
	    "retail");
	json_decref(doc);
	store_licence_release(&v2);
	store_licence_release(&lic);
}
END_TEST

START_TEST(correction_refused_by_state_leaves_objection_open)
{
	char lid[STORE_LICENCE_ID_MAX];
	struct client_principal holder;
	struct store_objection o, r, got;
	struct store_licence lic, out;
	int64_t audit0;
	json_t *b;

	filed(lid, &holder, &o);
	ck_assert_int_eq(lifecycle_apply(svc, &fx.issuer_a, lid,
	                     LIFECYCLE_SUSPEND, NULL, &out, NULL),
	    CS_OK);
	store_licence_release(&out);
	audit0 = svcfix_audit_count(&fx);
	b = json_pack("{s:s,s:{s:s},s:s}", "outcome", "corrected", "fields",
	    "scope", "retail", "reason", "x");
	ck_assert_int_eq(
	    objection_resolve(svc, &fx.issuer_a, o.id, b, &r, &lic, NULL),
	    CS_ERR_CONFLICT);
	json_decref(b);
	ck_assert_int_eq(svcfix_audit_count(&fx), audit0);
	ck_assert_int_eq(
	    store_objection_get(svc->store, o.id, &got, NULL), CS_OK);
	ck_assert_str_eq(got.status, "open");
	ck_assert_int_eq(svcfix_newest_version(&fx, lid), 1);
}
END_TEST

START_TEST(failing_store_leaves_resolution_unwritten)
{
	char lid[STORE_LICENCE_ID_MAX];
	struct client_principal holder;
	struct store_objection o, r, got;
	struct store_licence lic;
	struct cs_err err;
	int64_t audit0;
	int n, failures = 0;
	enum cs_rc rc = CS_ERR_STORE;
	json_t *b;

	filed(lid, &holder, &o);
	audit0 = svcfix_audit_count(&fx);
	b = json_pack("{s:s,s:{s:s},s:s}", "outcome", "corrected", "fields",
	    "scope", "retail", "reason", "x");
	for (n = 1; n < 60; n++) {
		memset(&err, 0, sizeof(err));
		store_test_fail_after(svc->store, n);
		rc = objection_resolve(
		    svc, &fx.issuer_a, o.id, b, &r, &lic, &err);
		store_test_fail_after(svc->store, 0);
		if (rc == CS_OK)
			break;
		ck_assert_msg(
		    rc == CS_ERR_STORE, "n=%d: rc %d (%s)", n, rc, err.msg);
		failures++;
		ck_assert_int_eq(svcfix_audit_count(&fx), audit0);
		ck_assert_int_eq(svcfix_newest_version(&fx, lid), 1);
		ck_assert_str_eq(svcfix_state(&fx, lid, 1), LICENCE_VALID);
		ck_assert_int_eq(
		    store_objection_get(svc->store, o.id, &got, NULL), CS_OK);
		ck_assert_str_eq(got.status, "open");
	}
	json_decref(b);
	ck_assert_int_eq(rc, CS_OK);
	ck_assert_int_ge(failures, 4);
	ck_assert_int_eq(svcfix_audit_count(&fx), audit0 + 2);
	store_licence_release(&lic);
}
END_TEST

struct race {
	const char *id;
	pthread_barrier_t *go;
	enum cs_rc rc;
};

static void *
race_run(void *arg)
{
	struct race *r = arg;
	struct store_objection o;
	json_t *b =
	    json_pack("{s:s,s:s}", "outcome", "rejected", "reason", "no");

	pthread_barrier_wait(r->go);
	r->rc = objection_resolve(svc, &fx.issuer_a, r->id, b, &o, NULL, NULL);
	json_decref(b);
	return NULL;
}

START_TEST(concurrent_resolutions_one_wins)
{
	char lid[STORE_LICENCE_ID_MAX];
	struct client_principal holder;
	struct store_objection o;
	pthread_barrier_t go;
	struct race r[4];
	pthread_t t[4];
	int64_t audit0;
	int i, ok = 0, conflict = 0;

	filed(lid, &holder, &o);
	audit0 = svcfix_audit_count(&fx);
	ck_assert_int_eq(pthread_barrier_init(&go, NULL, 4), 0);
	for (i = 0; i < 4; i++) {
		r[i].id = o.id;
		r[i].go = &go;
		ck_assert_int_eq(
		    pthread_create(&t[i], NULL, race_run, &r[i]), 0);
	}
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	for (i = 0; i < 4; i++) {
		ok += r[i].rc == CS_OK;
		conflict += r[i].rc == CS_ERR_CONFLICT;
	}
	ck_assert_int_eq(ok, 1);
	ck_assert_int_eq(conflict, 3);
	ck_assert_int_eq(svcfix_audit_count(&fx), audit0 + 1);
}
END_TEST

static Suite *
objection_suite(void)
{
	Suite *s = suite_create("objection");
	TCase *tc = tcase_create("objection");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, holder_files_against_own_licence_only);
	tcase_add_test(tc, lists_are_scoped);
	tcase_add_test(tc, rejection_is_final_and_visible);
	tcase_add_test(tc, bad_resolutions_name_the_member);
	tcase_add_test(tc, correction_resolves_in_one_transaction);
	tcase_add_test(tc, correction_refused_by_state_leaves_objection_open);
	tcase_add_test(tc, failing_store_leaves_resolution_unwritten);
	tcase_add_test(tc, concurrent_resolutions_one_wins);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(objection_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
