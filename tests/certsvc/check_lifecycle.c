/*
 * check_lifecycle.c: certsvc/lifecycle.c (and the new-version path of
 * licence.c, store_sqlite_life.c) on a real SoftHSM2 token and store:
 * every stored state x every action through lifecycle_apply(), the pure
 * state machine with expiry, concurrent changes, renewals and corrections
 * (version + 1, same id, old superseded, new status-list slot, documents
 * that verify), validation and scopes, and a store failing at every
 * statement of a change leaving nothing half-written.
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

	svcfix_open_world(&fx, "life-test", &o);
	svc = fx.svc;
}

static void
teardown(void)
{
	svcfix_close(&fx);
	svc = NULL;
}

/* Put version 1 of id into state s directly through the store. */
static void
force_state(const char *id, const char *s)
{
	struct store_tx *tx = NULL;

	if (strcmp(s, LICENCE_VALID) == 0)
		return;
	ck_assert_int_eq(store_tx_begin(svc->store, &tx, NULL), CS_OK);
	ck_assert_int_eq(store_licence_set_status(
	                     tx, id, 1, LICENCE_VALID, s, "test", 0, NULL),
	    CS_OK);
	ck_assert_int_eq(store_tx_commit(tx, NULL), CS_OK);
}

/* The body of an action that the table applies. */
static json_t *
action_body(int col, enum lifecycle_action *a)
{
	switch (col) {
	case 0:
		*a = LIFECYCLE_SUSPEND;
		return json_pack("{s:s}", "reason", "inspection");
	case 1:
		*a = LIFECYCLE_REINSTATE;
		return NULL;
	case 2:
		*a = LIFECYCLE_REVOKE;
		return json_pack("{s:s}", "reason", "obtained by fraud");
	case 3:
		*a = LIFECYCLE_REVOKE;
		return json_pack(
		    "{s:s,s:s}", "reason", "violation", "kind", "penalty");
	case 4:
		*a = LIFECYCLE_CANCEL;
		return NULL;
	case 5:
		*a = LIFECYCLE_TRANSFER;
		return json_pack("{s:s}", "to", "another city");
	case 6:
		*a = LIFECYCLE_RENEW;
		return json_pack("{s:s}", "valid_until", "2099-12-31");
	default:
		*a = LIFECYCLE_CORRECT;
		return json_pack("{s:{s:s,s:f},s:s}", "fields", "scope",
		    "food and drink", "capital", 2.5, "reason", "typo");
	}
}

#define NACTIONS 8
#define CONFL "409" /* conflict: state unchanged */

/*
 * Every stored state (and valid/suspended also expired) x every action:
 * the resulting state of version 1, or CONFL for 409.  Renew and correct also
 * make version 2, valid.
 */
static const struct {
	const char *state;
	bool expired;
	const char *want[NACTIONS]; /* suspend reinstate revoke revoke(penalty)
	                               cancel transfer renew correct */
} table[] = {
    {LICENCE_VALID, false,
        {"suspended", CONFL, "revoked", "penalty_revoked", "cancelled",
            "transferred", "superseded", "superseded"}},
    {LICENCE_SUSPENDED, false,
        {CONFL, "valid", "revoked", "penalty_revoked", "cancelled", CONFL,
            CONFL, CONFL}},
    {LICENCE_VALID, true,
        {CONFL, CONFL, "revoked", "penalty_revoked", "cancelled", CONFL,
            "superseded", "superseded"}},
    {LICENCE_SUSPENDED, true,
        {CONFL, CONFL, "revoked", "penalty_revoked", "cancelled", CONFL, CONFL,
            CONFL}},
    {LICENCE_REVOKED, false,
        {CONFL, CONFL, CONFL, CONFL, CONFL, CONFL, CONFL, CONFL}},
    {LICENCE_PENALTY_REVOKED, false,
        {CONFL, CONFL, CONFL, CONFL, CONFL, CONFL, CONFL, CONFL}},
    {LICENCE_CANCELLED, false,
        {CONFL, CONFL, CONFL, CONFL, CONFL, CONFL, CONFL, CONFL}},
    {LICENCE_TRANSFERRED, false,
        {CONFL, CONFL, CONFL, CONFL, CONFL, CONFL, CONFL, CONFL}},
    {LICENCE_SUPERSEDED, false,
        {CONFL, CONFL, CONFL, CONFL, CONFL, CONFL, CONFL, CONFL}},
};

START_TEST(every_state_times_every_action)
{
	char id[STORE_LICENCE_ID_MAX];
	struct store_licence out;
	struct cs_err err;
	enum lifecycle_action a;
	const char *want;
	int64_t audit0;
	json_t *body;
	enum cs_rc rc;
	int col;

	for (col = 0; col < NACTIONS; col++) {
		svcfix_issue(&fx, &fx.issuer_a, table[_i].expired, id, NULL);
		force_state(id, table[_i].state);
		audit0 = svcfix_audit_count(&fx);
		body = action_body(col, &a);
		memset(&err, 0, sizeof(err));
		rc =
		    lifecycle_apply(svc, &fx.issuer_a, id, a, body, &out, &err);
		json_decref(body);
		want = table[_i].want[col];
		if (strcmp(want, CONFL) == 0) {
			ck_assert_msg(rc == CS_ERR_CONFLICT,
			    "%s%s x %d: rc %d (%s), want 409", table[_i].state,
			    table[_i].expired ? "+exp" : "", col, rc, err.msg);
			/* The message names the state and the action. */
			ck_assert_ptr_nonnull(strstr(err.msg, table[_i].state));
			ck_assert_ptr_nonnull(
			    strstr(err.msg, lifecycle_action_name(a)));
			ck_assert_str_eq(
			    svcfix_state(&fx, id, 1), table[_i].state);
			ck_assert_int_eq(svcfix_newest_version(&fx, id), 1);
			ck_assert_int_eq(svcfix_audit_count(&fx), audit0);
			continue;
		}
		ck_assert_msg(rc == CS_OK, "%s%s x %d: rc %d (%s)",
		    table[_i].state, table[_i].expired ? "+exp" : "", col, rc,
		    err.msg);
		ck_assert_str_eq(svcfix_state(&fx, id, 1), want);
		ck_assert_int_eq(svcfix_audit_count(&fx), audit0 + 1);
		if (a == LIFECYCLE_RENEW || a == LIFECYCLE_CORRECT) {
			ck_assert_int_eq(out.version, 2);
			ck_assert_str_eq(out.status, LICENCE_VALID);
			ck_assert_int_eq(svcfix_newest_version(&fx, id), 2);
			ck_assert_str_eq(
			    svcfix_state(&fx, id, 2), LICENCE_VALID);
		} else {
			ck_assert_int_eq(out.version, 1);
			ck_assert_str_eq(out.status, want);
			ck_assert_int_eq(svcfix_newest_version(&fx, id), 1);
		}
		store_licence_release(&out);
	}
}
END_TEST

START_TEST(state_machine_is_pure_and_documented)
{
	/* The derived state "expired" is never a stored input that passes. */
	ck_assert_ptr_null(
	    lifecycle_next(LICENCE_EXPIRED, false, LIFECYCLE_RENEW, false));
	ck_assert_str_eq(
	    lifecycle_next(LICENCE_VALID, true, LIFECYCLE_RENEW, false),
	    LICENCE_SUPERSEDED);
	ck_assert_ptr_null(
	    lifecycle_next(LICENCE_SUSPENDED, false, LIFECYCLE_RENEW, false));
	ck_assert_str_eq(
	    lifecycle_next(LICENCE_SUSPENDED, true, LIFECYCLE_REVOKE, true),
	    LICENCE_PENALTY_REVOKED);
	ck_assert_ptr_null(
	    lifecycle_next(LICENCE_VALID, true, LIFECYCLE_TRANSFER, false));
	ck_assert_ptr_null(lifecycle_next(
	    LICENCE_SUPERSEDED, false, LIFECYCLE_CORRECT, false));
}
END_TEST

struct race {
	const char *id;
	enum lifecycle_action a;
	pthread_barrier_t *go;
	enum cs_rc rc;
};

static void *
race_run(void *arg)
{
	struct race *r = arg;
	struct store_licence out;

	pthread_barrier_wait(r->go);
	r->rc =
	    lifecycle_apply(svc, &fx.issuer_a, r->id, r->a, NULL, &out, NULL);
	if (r->rc == CS_OK)
		store_licence_release(&out);
	return NULL;
}

START_TEST(concurrent_changes_exactly_one_passes)
{
	char id[STORE_LICENCE_ID_MAX];
	pthread_barrier_t go;
	struct race r[4];
	pthread_t t[4];
	int64_t audit0;
	int i, ok = 0, conflict = 0;

	svcfix_issue(&fx, &fx.issuer_a, false, id, NULL);
	audit0 = svcfix_audit_count(&fx);
	ck_assert_int_eq(pthread_barrier_init(&go, NULL, 4), 0);
	for (i = 0; i < 4; i++) {
		r[i].id = id;
		r[i].a = LIFECYCLE_SUSPEND;
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
	ck_assert_str_eq(svcfix_state(&fx, id, 1), LICENCE_SUSPENDED);
	ck_assert_int_eq(svcfix_audit_count(&fx), audit0 + 1);
}
END_TEST

/* Check l's seal against the root and return its parsed document. */
static json_t *
verified_document(const struct store_licence *l)
{
	struct crypto_cms_result res;
	json_t *doc = NULL;

	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(
	    crypto_cms_verify(l->document->data, l->document->len,
	        l->seal_der->data, l->seal_der->len, svc->root, &res, NULL),
	    CS_OK);
	ck_assert_msg(res.signature_ok && res.chain_ok, "%s", res.reason);
	crypto_cms_result_release(&res);
	ck_assert_int_eq(
	    jcs_parse(l->document->data, l->document->len, &doc, NULL), CS_OK);
	return doc;
}

/* The document's status claim matches the stored slot. */
static void
check_slot(const struct store_licence *l, const json_t *doc)
{
	const json_t *sl =
	    json_object_get(json_object_get(doc, "status"), "status_list");
	char uri[128];

	ck_assert(l->has_status_slot);
	ck_assert_int_eq(
	    json_integer_value(json_object_get(sl, "idx")), l->status_idx);
	snprintf(uri, sizeof(uri),
	    "https://certsvc.example/v1/status-lists/%lld",
	    (long long)l->status_list);
	ck_assert_str_eq(json_string_value(json_object_get(sl, "uri")), uri);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "format")),
	    "certsvc-licence/2");
}

START_TEST(renew_and_correct_make_new_sealed_versions)
{
	char id[STORE_LICENCE_ID_MAX];
	struct store_licence v1, v2, v3, again;
	json_t *d1, *d2, *d3, *body;
	struct cs_err err = {0};

	svcfix_issue(&fx, &fx.issuer_a, false, id, NULL);
	ck_assert_int_eq(
	    store_licence_get(svc->store, id, 1, &v1, NULL), CS_OK);
	d1 = verified_document(&v1);
	check_slot(&v1, d1);
	ck_assert_ptr_null(json_object_get(d1, "supersedes"));

	body = json_pack("{s:s,s:s}", "valid_until", "2099-12-31", "reason",
	    "renewal application");
	ck_assert_msg(lifecycle_apply(svc, &fx.issuer_a, id, LIFECYCLE_RENEW,
	                  body, &v2, &err) == CS_OK,
	    "%s", err.msg);
	json_decref(body);
	ck_assert_str_eq(v2.id, id);
	ck_assert_int_eq(v2.version, 2);
	d2 = verified_document(&v2);
	check_slot(&v2, d2);
	ck_assert(
	    v2.status_list != v1.status_list || v2.status_idx != v1.status_idx);
	ck_assert_int_eq(
	    json_integer_value(json_object_get(d2, "supersedes")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(d2, "valid_until")),
	    "2099-12-31");
	/* Holder and fields carried over, id number included. */
	ck_assert(json_equal(
	    json_object_get(d1, "holder"), json_object_get(d2, "holder")));
	ck_assert(json_equal(
	    json_object_get(d1, "fields"), json_object_get(d2, "fields")));
	ck_assert_str_eq(svcfix_state(&fx, id, 1), LICENCE_SUPERSEDED);
	/* What was returned is what is stored. */
	ck_assert_int_eq(
	    store_licence_get(svc->store, id, 0, &again, NULL), CS_OK);
	ck_assert_int_eq(again.version, 2);
	ck_assert_mem_eq(
	    again.document->data, v2.document->data, v2.document->len);
	store_licence_release(&again);

	body = json_pack("{s:{s:s},s:{s:s},s:s}", "fields", "scope", "catering",
	    "holder", "name", "张叁", "reason", "objection");
	ck_assert_msg(lifecycle_apply(svc, &fx.issuer_a, id, LIFECYCLE_CORRECT,
	                  body, &v3, &err) == CS_OK,
	    "%s", err.msg);
	json_decref(body);
	ck_assert_int_eq(v3.version, 3);
	d3 = verified_document(&v3);
	check_slot(&v3, d3);
	ck_assert_str_eq(json_string_value(json_object_get(
	                     json_object_get(d3, "fields"), "scope")),
	    "catering");
	ck_assert_ptr_null(
	    json_object_get(json_object_get(d3, "fields"), "capital"));
	ck_assert_str_eq(json_string_value(json_object_get(
	                     json_object_get(d3, "holder"), "name")),
	    "张叁");
	ck_assert_str_eq(json_string_value(json_object_get(
	                     json_object_get(d3, "holder"), "id_number")),
	    "110101199003070011");
	ck_assert_str_eq(json_string_value(json_object_get(d3, "valid_until")),
	    "2099-12-31");
	ck_assert_str_eq(svcfix_state(&fx, id, 2), LICENCE_SUPERSEDED);
	ck_assert_str_eq(svcfix_state(&fx, id, 3), LICENCE_VALID);
	ck_assert_str_eq(v3.holder_ref, v1.holder_ref);
	json_decref(d1);
	json_decref(d2);
	json_decref(d3);
	store_licence_release(&v1);
	store_licence_release(&v2);
	store_licence_release(&v3);
}
END_TEST

START_TEST(bad_requests_and_scopes)
{
	static const struct {
		enum lifecycle_action a;
		const char *body;
		const char *msg;
	} cases[] = {
	    {LIFECYCLE_REVOKE, "{}", "reason: required"},
	    {LIFECYCLE_REVOKE, "{\"reason\":\"\"}", "reason"},
	    {LIFECYCLE_REVOKE, "{\"reason\":\"x\",\"kind\":\"big\"}", "kind"},
	    {LIFECYCLE_SUSPEND, "{\"colour\":\"red\"}", "colour"},
	    {LIFECYCLE_SUSPEND, "{\"reason\":\"a\\u0007b\"}", "reason"},
	    {LIFECYCLE_RENEW, "{}", "valid_until"},
	    {LIFECYCLE_RENEW, "{\"valid_until\":\"2001-01-01\"}",
	        "valid_until: must be after"},
	    {LIFECYCLE_RENEW, "{\"valid_until\":\"2099-02-30\"}",
	        "valid_until"},
	    {LIFECYCLE_CORRECT, "{\"reason\":\"x\"}", "fields"},
	    {LIFECYCLE_CORRECT, "{\"reason\":\"x\",\"fields\":{\"capital\":1}}",
	        "fields.scope"},
	    {LIFECYCLE_CORRECT,
	        "{\"reason\":\"x\",\"fields\":{\"scope\":\"a\"},"
	        "\"holder\":{\"id_number\":\"1\"}}",
	        "holder"},
	};
	char id[STORE_LICENCE_ID_MAX], big[300];
	struct client_principal holder;
	struct store_licence out;
	struct cs_err err;
	int64_t audit0;
	json_t *body;
	size_t i;

	svcfix_issue(&fx, &fx.issuer_a, false, id, &holder);
	audit0 = svcfix_audit_count(&fx);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		body = json_loads(cases[i].body, 0, NULL);
		ck_assert_ptr_nonnull(body);
		memset(&err, 0, sizeof(err));
		ck_assert_int_eq(lifecycle_apply(svc, &fx.issuer_a, id,
		                     cases[i].a, body, &out, &err),
		    CS_ERR_INVALID);
		ck_assert_msg(strstr(err.msg, cases[i].msg) != NULL,
		    "case %zu: '%s' lacks '%s'", i, err.msg, cases[i].msg);
		json_decref(body);
	}
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	body = json_pack("{s:s}", "reason", big);
	ck_assert_int_eq(lifecycle_apply(svc, &fx.issuer_a, id,
	                     LIFECYCLE_REVOKE, body, &out, NULL),
	    CS_ERR_INVALID);
	json_decref(body);
	/* Scopes: B and strangers see nothing, holders and verifiers may not.
	 */
	ck_assert_int_eq(lifecycle_apply(svc, &fx.issuer_b, id,
	                     LIFECYCLE_SUSPEND, NULL, &out, NULL),
	    CS_ERR_NOT_FOUND);
	ck_assert_int_eq(lifecycle_apply(svc, &holder, id, LIFECYCLE_CANCEL,
	                     NULL, &out, NULL),
	    CS_ERR_DENIED);
	ck_assert_int_eq(lifecycle_apply(svc, &fx.verifier, id,
	                     LIFECYCLE_SUSPEND, NULL, &out, NULL),
	    CS_ERR_DENIED);
	ck_assert_int_eq(lifecycle_apply(svc, &fx.issuer_a, "TA01-nope",
	                     LIFECYCLE_SUSPEND, NULL, &out, NULL),
	    CS_ERR_NOT_FOUND);
	ck_assert_int_eq(svcfix_audit_count(&fx), audit0);
	ck_assert_str_eq(svcfix_state(&fx, id, 1), LICENCE_VALID);
	/* The administrator (NULL) acts on any department's licence. */
	ck_assert_int_eq(
	    lifecycle_apply(svc, NULL, id, LIFECYCLE_SUSPEND, NULL, &out, NULL),
	    CS_OK);
	ck_assert_str_eq(out.status, LICENCE_SUSPENDED);
	store_licence_release(&out);
	ck_assert_int_eq(svcfix_audit_count(&fx), audit0 + 1);
}
END_TEST

START_TEST(status_change_records_reason_and_time)
{
	char id[STORE_LICENCE_ID_MAX];
	struct store_licence out, l;
	json_t *body = json_pack("{s:s}", "reason", "site inspection");
	json_t *sum;

	svcfix_issue(&fx, &fx.issuer_a, false, id, NULL);
	ck_assert_int_eq(lifecycle_apply(svc, &fx.issuer_a, id,
	                     LIFECYCLE_SUSPEND, body, &out, NULL),
	    CS_OK);
	ck_assert_int_eq(store_licence_get(svc->store, id, 1, &l, NULL), CS_OK);
	ck_assert_str_eq(l.status_reason, "site inspection");
	ck_assert_int_ne(l.status_changed, 0);
	sum = licence_summary(&l);
	ck_assert_str_eq(
	    json_string_value(json_object_get(sum, "status_reason")),
	    "site inspection");
	json_decref(sum);
	store_licence_release(&l);
	store_licence_release(&out);
	json_decref(body);
}
END_TEST

/*
 * Fail the Nth store statement of a change, for every N it has: the
 * licence and the audit trail are as before until the change succeeds.
 */
static void
fail_every_statement(enum lifecycle_action a, const char *body_text)
{
	char id[STORE_LICENCE_ID_MAX];
	struct store_licence out;
	struct cs_err err;
	int64_t audit0;
	json_t *body = json_loads(body_text, 0, NULL);
	int n, failures = 0;
	enum cs_rc rc = CS_ERR_STORE;

	ck_assert_ptr_nonnull(body);
	svcfix_issue(&fx, &fx.issuer_a, false, id, NULL);
	audit0 = svcfix_audit_count(&fx);
	for (n = 1; n < 60; n++) {
		memset(&err, 0, sizeof(err));
		store_test_fail_after(svc->store, n);
		rc =
		    lifecycle_apply(svc, &fx.issuer_a, id, a, body, &out, &err);
		store_test_fail_after(svc->store, 0);
		if (rc == CS_OK)
			break;
		ck_assert_msg(
		    rc == CS_ERR_STORE, "n=%d: rc %d (%s)", n, rc, err.msg);
		failures++;
		ck_assert_str_eq(svcfix_state(&fx, id, 1), LICENCE_VALID);
		ck_assert_int_eq(svcfix_newest_version(&fx, id), 1);
		ck_assert_int_eq(svcfix_audit_count(&fx), audit0);
	}
	ck_assert_int_eq(rc, CS_OK);
	ck_assert_int_ge(failures, 3);
	ck_assert_int_eq(svcfix_audit_count(&fx), audit0 + 1);
	store_licence_release(&out);
	json_decref(body);
}

START_TEST(failing_store_leaves_status_change_unwritten)
{
	fail_every_statement(LIFECYCLE_REVOKE, "{\"reason\":\"fraud\"}");
}
END_TEST

START_TEST(failing_store_leaves_correction_unwritten)
{
	fail_every_statement(LIFECYCLE_CORRECT,
	    "{\"reason\":\"typo\",\"fields\":{\"scope\":\"x\"}}");
}
END_TEST

START_TEST(slots_are_unique_and_in_the_documents)
{
	char id[STORE_LICENCE_ID_MAX];
	struct store_licence l;
	int64_t seen[70];
	json_t *doc;
	int i, j;

	for (i = 0; i < 70; i++) { /* more than one reserved block */
		svcfix_issue(&fx, &fx.issuer_a, false, id, NULL);
		ck_assert_int_eq(
		    store_licence_get(svc->store, id, 1, &l, NULL), CS_OK);
		doc = verified_document(&l);
		check_slot(&l, doc);
		seen[i] = l.status_list * STATUSLIST_ENTRIES + l.status_idx;
		for (j = 0; j < i; j++)
			ck_assert(seen[j] != seen[i]);
		json_decref(doc);
		store_licence_release(&l);
	}
}
END_TEST

static Suite *
lifecycle_suite(void)
{
	Suite *s = suite_create("lifecycle");
	TCase *tc = tcase_create("lifecycle");
	TCase *tt = tcase_create("table");

	tcase_add_checked_fixture(tt, setup, teardown);
	tcase_set_timeout(tt, 300);
	tcase_add_loop_test(tt, every_state_times_every_action, 0,
	    (int)(sizeof(table) / sizeof(table[0])));
	suite_add_tcase(s, tt);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, state_machine_is_pure_and_documented);
	tcase_add_test(tc, concurrent_changes_exactly_one_passes);
	tcase_add_test(tc, renew_and_correct_make_new_sealed_versions);
	tcase_add_test(tc, bad_requests_and_scopes);
	tcase_add_test(tc, status_change_records_reason_and_time);
	tcase_add_test(tc, failing_store_leaves_status_change_unwritten);
	tcase_add_test(tc, failing_store_leaves_correction_unwritten);
	tcase_add_test(tc, slots_are_unique_and_in_the_documents);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(lifecycle_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
