/*
 * check_licence.c: certsvc/licence.c and certsvc/seal.c on a real SoftHSM2
 * token and store: issuance, idempotency (also under threads), entitlement,
 * validation, readers' scopes, a store failing at every statement of an
 * issuance leaving nothing half-written, and group commit (several
 * issuances in one transaction, each still atomic on its own).
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "certsvc/ca.h"
#include "certsvc/client.h"
#include "certsvc/codes.h"
#include "certsvc/dept.h"
#include "certsvc/jcs.h"
#include "certsvc/licence.h"
#include "certsvc/txbatch.h"
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

/* The answer as api_licence_issue() made it before: jansson throughout. */
static char *
issued_json_dumps(const struct licence_issued *out)
{
	json_t *obj = licence_summary(&out->lic);
	char *text;

	ck_assert_ptr_nonnull(obj);
	json_object_set_new(obj, "envelope", licence_envelope(&out->lic));
	json_object_set_new(obj, "replayed", json_boolean(out->replayed));
	if (!out->replayed) {
		json_object_set_new(
		    obj, "holder_token", json_string(out->holder_token));
		json_object_set_new(
		    obj, "holder_client", json_string(out->holder_client));
	}
	text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	ck_assert_ptr_nonnull(text);
	return text;
}

START_TEST(issued_text_is_the_json_answer)
{
	struct licence_issued a, b;
	struct cs_err err = {0};
	json_t *req = svcfix_request("TA01", "food"), *v, *env;
	struct buf *doc = NULL;
	char *text = NULL, *want;
	size_t len = 0;

	ck_assert_int_eq(
	    licence_issue(svc, &fx.issuer_a, req, "t", 0, &a, NULL), CS_OK);
	ck_assert_int_eq(
	    licence_issue(svc, &fx.issuer_a, req, "t", 0, &b, NULL), CS_OK);
	ck_assert(b.replayed);
	/* Byte for byte what json_dumps made, new and replayed. */
	ck_assert_int_eq(licence_issued_text(&a, &text, &len, &err), CS_OK);
	want = issued_json_dumps(&a);
	ck_assert_str_eq(text, want);
	ck_assert_uint_eq(len, strlen(want));
	free(want);
	v = json_loads(text, 0, NULL);
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(json_string_value(json_object_get(v, "holder_token")),
	    a.holder_token);
	env = json_object_get(v, "envelope");
	ck_assert_int_eq(
	    crypto_b64_decode(
	        json_string_value(json_object_get(env, "document")),
	        json_string_length(json_object_get(env, "document")), &doc,
	        NULL),
	    CS_OK);
	ck_assert_uint_eq(doc->len, a.lic.document->len);
	ck_assert_mem_eq(doc->data, a.lic.document->data, doc->len);
	buf_free(doc);
	json_decref(v);
	OPENSSL_clear_free(text, len);
	ck_assert_int_eq(licence_issued_text(&b, &text, &len, &err), CS_OK);
	want = issued_json_dumps(&b);
	ck_assert_str_eq(text, want);
	ck_assert_ptr_null(strstr(text, "holder_token"));
	free(want);
	free(text);
	/* What would need escaping is refused, never written raw. */
	b.lic.id[3] = '"';
	ck_assert_int_eq(
	    licence_issued_text(&b, &text, &len, &err), CS_ERR_INVALID);
	ck_assert_ptr_null(text);
	ck_assert_uint_eq(len, 0);
	licence_issued_release(&b);
	licence_issued_release(&a);
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
	/* A body that is not an object is refused before anything else. */
	req = json_array();
	memset(&err, 0, sizeof(err));
	ck_assert_int_eq(
	    licence_issue(svc, &fx.issuer_a, req, "arr", 0, &out, &err),
	    CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, "body: must be a JSON object");
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

/* --- group commit ----------------------------------------------------------
 *
 * To make batches deterministic the test holds the store's write slot
 * (an open transaction) while N threads issue: the first becomes leader,
 * takes its own job and waits for the slot; the others queue behind it.
 * Once all N are in the batcher the slot is given back: batch 1 is the
 * leader's job(s), batch 2 everything else.
 */
#define GC_THREADS 8
/* Statement steps of one job with LICENCE_NO_HOLDER_TOKEN: SAVEPOINT, read
 * key, insert licence, insert key, read chain head, insert event, RELEASE. */
#define GC_JOB_STEPS 7
#define GC_FAIL_COMMIT (-1) /* gc_run_held(): fail batch 2's COMMIT */

struct gc_job {
	json_t *req;
	char key[32];
	unsigned flags;
	struct licence_issued out;
	struct cs_err err;
	enum cs_rc rc;
};

static void *
gc_run(void *arg)
{
	struct gc_job *j = arg;

	j->rc = licence_issue(
	    svc, &fx.issuer_a, j->req, j->key, j->flags, &j->out, &j->err);
	return NULL;
}

/* A first licence: serial and status-slot blocks reserved, caches warm. */
static void
gc_warm_up(void)
{
	struct licence_issued out;
	json_t *req = svcfix_request("TA01", "warm");

	ck_assert_int_eq(
	    licence_issue(svc, &fx.issuer_a, req, "warm", 0, &out, NULL),
	    CS_OK);
	licence_issued_release(&out);
	json_decref(req);
}

static void
gc_wait_pending(uint64_t n)
{
	struct txbatch_stats bs;
	int i;

	for (i = 0; i < 4000; i++) { /* the leader gives up after 5 s */
		txbatch_stats(svc, &bs);
		if (bs.pending == n)
			return;
		usleep(1000);
	}
	ck_abort_msg("only %llu of %llu issuances reached the batcher",
	    (unsigned long long)bs.pending, (unsigned long long)n);
}

/*
 * Run jobs[0..n) in threads while the write slot is held until all are
 * queued; fail_at (0: none) arms store_test_fail_after() relative to the
 * first step of batch 2 (1 = its BEGIN), or at its COMMIT (GC_FAIL_COMMIT).
 * *first gets batch 1's size.
 */
static void
gc_run_held(struct gc_job *jobs, int n, int fail_at, uint64_t *first)
{
	struct txbatch_stats bs;
	struct store_tx *hold = NULL;
	pthread_t t[GC_THREADS];
	int i;

	ck_assert_int_le(n, GC_THREADS);
	ck_assert_int_eq(store_tx_begin(svc->store, &hold, NULL), CS_OK);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(
		    pthread_create(&t[i], NULL, gc_run, &jobs[i]), 0);
	gc_wait_pending((uint64_t)n);
	txbatch_stats(svc, &bs);
	*first = (uint64_t)n - bs.queued;
	ck_assert_uint_ge(*first, 1);
	if (fail_at == GC_FAIL_COMMIT) /* BEGIN, its jobs, COMMIT */
		fail_at = 1 + GC_JOB_STEPS * (int)bs.queued + 1;
	if (fail_at > 0) /* after batch 1: BEGIN, its jobs, COMMIT */
		store_test_fail_after(
		    svc->store, (int)(2 + GC_JOB_STEPS * *first) + fail_at);
	store_tx_rollback(hold);
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	store_test_fail_after(svc->store, 0);
}

static void
gc_jobs_init(struct gc_job *jobs, int n, unsigned flags)
{
	int i;

	for (i = 0; i < n; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].req = svcfix_request("TA01", "food");
		snprintf(jobs[i].key, sizeof(jobs[i].key), "gc-%d", i);
		jobs[i].flags = flags;
	}
}

static void
gc_jobs_free(struct gc_job *jobs, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		licence_issued_release(&jobs[i].out);
		json_decref(jobs[i].req);
	}
}

static void
gc_chain_verifies(int64_t expect_count)
{
	int64_t bad = -1, checked = -1;

	ck_assert_int_eq(
	    store_audit_verify(svc->store, &bad, &checked, NULL), CS_OK);
	ck_assert_int_eq(bad, 0);
	ck_assert_int_eq(checked, expect_count);
	ck_assert_int_eq(svcfix_audit_count(&fx), expect_count);
}

START_TEST(concurrent_issues_share_a_commit)
{
	struct gc_job jobs[GC_THREADS];
	struct txbatch_stats b0, b1;
	int64_t audit0;
	uint64_t first;
	int i, k;

	gc_warm_up();
	audit0 = svcfix_audit_count(&fx);
	gc_jobs_init(jobs, GC_THREADS, 0);
	txbatch_stats(svc, &b0);
	gc_run_held(jobs, GC_THREADS, 0, &first);
	txbatch_stats(svc, &b1);
	for (i = 0; i < GC_THREADS; i++) {
		ck_assert_msg(
		    jobs[i].rc == CS_OK, "job %d: %s", i, jobs[i].err.msg);
		ck_assert(!jobs[i].out.replayed);
		ck_assert_int_eq(
		    strncmp(jobs[i].out.holder_token, "cs_", 3), 0);
		for (k = 0; k < i; k++) {
			ck_assert_str_ne(
			    jobs[i].out.lic.id, jobs[k].out.lic.id);
			ck_assert_str_ne(
			    jobs[i].out.holder_token, jobs[k].out.holder_token);
		}
	}
	/* 8 licences, 2 commits: the leader's own, then all the others. */
	ck_assert_uint_eq(b1.jobs - b0.jobs, GC_THREADS);
	ck_assert_uint_eq(b1.batches - b0.batches, 2);
	ck_assert_uint_eq(b1.failed, b0.failed);
	ck_assert_uint_eq(b1.pending, 0);
	ck_assert_uint_eq(count_licences(fx.dept_a), GC_THREADS + 1);
	gc_chain_verifies(audit0 + GC_THREADS);
	/* Every holder token works: its client was committed too. */
	for (i = 0; i < GC_THREADS; i++) {
		struct client_principal h;
		char auth[128];

		snprintf(
		    auth, sizeof(auth), "Bearer %s", jobs[i].out.holder_token);
		ck_assert_int_eq(
		    client_authenticate(svc, auth, &h, NULL), CS_OK);
		ck_assert_int_eq(h.role, CLIENT_HOLDER);
	}
	gc_jobs_free(jobs, GC_THREADS);
}
END_TEST

/* Without the held slot: whatever batches form, the result is the same. */
START_TEST(free_running_issuers_all_succeed)
{
	struct gc_job jobs[GC_THREADS * 3];
	pthread_t t[GC_THREADS];
	struct txbatch_stats b0, b1;
	int64_t audit0;
	int i, r, k;

	gc_warm_up();
	audit0 = svcfix_audit_count(&fx);
	gc_jobs_init(jobs, GC_THREADS * 3, 0);
	txbatch_stats(svc, &b0);
	for (r = 0; r < 3; r++) {
		for (i = 0; i < GC_THREADS; i++)
			ck_assert_int_eq(pthread_create(&t[i], NULL, gc_run,
			                     &jobs[r * GC_THREADS + i]),
			    0);
		for (i = 0; i < GC_THREADS; i++)
			pthread_join(t[i], NULL);
	}
	txbatch_stats(svc, &b1);
	for (i = 0; i < GC_THREADS * 3; i++) {
		ck_assert_msg(
		    jobs[i].rc == CS_OK, "job %d: %s", i, jobs[i].err.msg);
		for (k = 0; k < i; k++)
			ck_assert_str_ne(
			    jobs[i].out.lic.id, jobs[k].out.lic.id);
	}
	ck_assert_uint_eq(b1.jobs - b0.jobs, GC_THREADS * 3);
	ck_assert_uint_le(b1.batches - b0.batches, GC_THREADS * 3);
	ck_assert_uint_eq(count_licences(fx.dept_a), GC_THREADS * 3 + 1);
	gc_chain_verifies(audit0 + GC_THREADS * 3);
	gc_jobs_free(jobs, GC_THREADS * 3);
}
END_TEST

/*
 * One batch holding: a failing job (its licence insert fails), a key used
 * twice with the same body (one licence, one replay), the same key with
 * another body (409), and fresh keys.  Only the failing job and the 409
 * are without a licence; the chain has no gap where the failed job's
 * event was rolled back.
 */
START_TEST(failing_job_spares_the_rest_of_its_batch)
{
	struct gc_job jobs[GC_THREADS];
	struct txbatch_stats b0, b1;
	int64_t audit0;
	uint64_t first;
	int i, ok = 0, store_fail = 0, conflict = 0, replay = 0, winner;

	gc_warm_up();
	audit0 = svcfix_audit_count(&fx);
	gc_jobs_init(jobs, GC_THREADS, LICENCE_NO_HOLDER_TOKEN);
	/* Jobs 5, 6, 7 share a key; 7 with another body. */
	snprintf(jobs[6].key, sizeof(jobs[6].key), "%s", jobs[5].key);
	snprintf(jobs[7].key, sizeof(jobs[7].key), "%s", jobs[5].key);
	json_decref(jobs[7].req);
	jobs[7].req = svcfix_request("TA01", "other");
	txbatch_stats(svc, &b0);
	/* Batch 2: BEGIN, then its first job's SAVEPOINT, key, licence. */
	gc_run_held(jobs, GC_THREADS, 1 + 3, &first);
	txbatch_stats(svc, &b1);
	for (i = 0; i < GC_THREADS; i++) {
		switch (jobs[i].rc) {
		case CS_OK:
			ok++;
			replay += jobs[i].out.replayed;
			break;
		case CS_ERR_STORE:
			store_fail++;
			break;
		case CS_ERR_CONFLICT:
			conflict++;
			break;
		default:
			ck_abort_msg("job %d: %s", i, jobs[i].err.msg);
		}
	}
	ck_assert_int_eq(store_fail, 1);
	ck_assert_int_eq(ok + store_fail + conflict, GC_THREADS);
	ck_assert_uint_eq(b1.batches - b0.batches, 2);
	ck_assert_uint_eq(b1.failed - b0.failed, store_fail);
	ck_assert_uint_eq(count_licences(fx.dept_a), 1 + ok - replay);
	gc_chain_verifies(audit0 + ok - replay);
	/*
	 * The shared key made one licence, whichever of 5-7 came first; each
	 * other one (but a failed one) replays it with the same body (5, 6)
	 * and gets 409 with another (7, or 5 and 6 when 7 won).
	 */
	winner = -1;
	for (i = 5; i < GC_THREADS; i++)
		if (jobs[i].rc == CS_OK && !jobs[i].out.replayed) {
			ck_assert_int_eq(winner, -1);
			winner = i;
		}
	ck_assert_int_ge(winner, 5);
	for (i = 5; i < GC_THREADS; i++) {
		if (i == winner || jobs[i].rc == CS_ERR_STORE)
			continue;
		if ((i == 7) != (winner == 7)) {
			ck_assert_int_eq(jobs[i].rc, CS_ERR_CONFLICT);
			continue;
		}
		ck_assert_int_eq(jobs[i].rc, CS_OK);
		ck_assert(jobs[i].out.replayed);
		ck_assert_str_eq(jobs[i].out.lic.id, jobs[winner].out.lic.id);
	}
	gc_jobs_free(jobs, GC_THREADS);
}
END_TEST

/*
 * Batch 2's COMMIT fails: none of its jobs is stored, not even its keys
 * (a retry with the same key issues anew), batch 1's job is.
 */
START_TEST(failed_commit_fails_the_whole_batch)
{
	struct gc_job jobs[GC_THREADS];
	struct txbatch_stats b0, b1;
	int64_t audit0;
	uint64_t first;
	int i, ok = 0;

	gc_warm_up();
	audit0 = svcfix_audit_count(&fx);
	gc_jobs_init(jobs, GC_THREADS, LICENCE_NO_HOLDER_TOKEN);
	txbatch_stats(svc, &b0);
	gc_run_held(jobs, GC_THREADS, GC_FAIL_COMMIT, &first);
	txbatch_stats(svc, &b1);
	for (i = 0; i < GC_THREADS; i++) {
		if (jobs[i].rc == CS_OK) {
			ok++;
			continue;
		}
		ck_assert_int_eq(jobs[i].rc, CS_ERR_STORE);
		ck_assert_ptr_nonnull(strstr(jobs[i].err.msg, "commit"));
	}
	ck_assert_uint_eq(ok, first);
	ck_assert_uint_eq(b1.failed - b0.failed, GC_THREADS - first);
	ck_assert_uint_eq(count_licences(fx.dept_a), 1 + first);
	gc_chain_verifies(audit0 + (int64_t)first);

	for (i = 0; i < GC_THREADS; i++) {
		if (jobs[i].rc == CS_OK)
			continue;
		licence_issued_release(&jobs[i].out);
		gc_run(&jobs[i]);
		ck_assert_msg(jobs[i].rc == CS_OK, "%s", jobs[i].err.msg);
		ck_assert(!jobs[i].out.replayed);
	}
	ck_assert_uint_eq(count_licences(fx.dept_a), 1 + GC_THREADS);
	gc_chain_verifies(audit0 + GC_THREADS);
	gc_jobs_free(jobs, GC_THREADS);
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
	tcase_add_test(tc, issued_text_is_the_json_answer);
	tcase_add_test(tc, concurrent_duplicates_make_one_licence);
	tcase_add_test(tc, entitlement_is_enforced);
	tcase_add_test(tc, bad_requests_name_the_field);
	tcase_add_test(tc, failing_store_leaves_nothing_half_written);
	tcase_add_test(tc, readers_see_only_their_own);
	tcase_add_test(tc, revoked_seal_signs_nothing);
	tcase_add_test(tc, batch_issue_makes_no_holder_token);
	suite_add_tcase(s, tc);

	tc = tcase_create("group_commit");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, concurrent_issues_share_a_commit);
	tcase_add_test(tc, free_running_issuers_all_succeed);
	tcase_add_test(tc, failing_job_spares_the_rest_of_its_batch);
	tcase_add_test(tc, failed_commit_fails_the_whole_batch);
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
