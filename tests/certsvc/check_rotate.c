/*
 * check_rotate.c: certsvc/rotate.c on a real SoftHSM2 token and store:
 * a rotated seal seals with its new key at once (in this process and in
 * another one sharing the store), licences sealed with the old key keep
 * verifying, the old key can be destroyed (not while in use), re-sealing
 * makes one new version per licence and never a second one, and a store
 * failing at every statement of a rotation leaves nothing half-written.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "certsvc/ca.h"
#include "certsvc/licence.h"
#include "certsvc/lifecycle.h"
#include "certsvc/mem.h"
#include "certsvc/pkistatus.h"
#include "certsvc/report.h"
#include "certsvc/rotate.h"
#include "certsvc/seal.h"
#include "certsvc/store_test.h"
#include "certsvc/verify.h"
#include "crypto/crypto.h"
#include "tests/svcfix.h"

static struct svcfix fx;
static struct svc *svc;

static void
setup(void)
{
	struct svcfix_opts o = {.pool_size = 2};

	svcfix_open_world(&fx, "rot-test", &o);
	svc = fx.svc;
	ck_assert_int_eq(report_refresh(svc, NULL), CS_OK);
}

static void
teardown(void)
{
	svcfix_close(&fx);
	svc = NULL;
}

static void
rotate(const char *id, struct rotate_seal_result *r)
{
	struct rotate_seal_opts o;
	struct cs_err err = {0};

	memset(&o, 0, sizeof(o));
	o.id = id;
	ck_assert_msg(rotate_seal(svc, &o, r, &err) == CS_OK, "%s", err.msg);
}

/* The SHA-256 (hex) of the certificate that sealed version of id. */
static void
signer_of(const char *id, int version, char hex[65])
{
	struct crypto_cms_result res;
	struct store_licence l;
	unsigned char md[32];
	unsigned len = 0;

	ck_assert_int_eq(
	    store_licence_get(svc->store, id, version, &l, NULL), CS_OK);
	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(
	    crypto_cms_verify(l.document->data, l.document->len,
	        l.seal_der->data, l.seal_der->len, svc->root, &res, NULL),
	    CS_OK);
	ck_assert_msg(res.signature_ok && res.chain_ok, "%s", res.reason);
	ck_assert_int_eq(X509_digest(res.signer, EVP_sha256(), md, &len), 1);
	cs_hex(md, sizeof(md), hex);
	crypto_cms_result_release(&res);
	store_licence_release(&l);
}

/* The result of check name when verifying version of id as it was sealed. */
static void
verify_version(const char *id, int version, const char *result,
    const char *name, const char *check)
{
	struct store_licence l;
	struct buf *d = NULL, *s = NULL;
	json_t *req, *out = NULL, *c;
	struct cs_err err = {0};
	size_t i;
	bool seen = false;

	ck_assert_int_eq(
	    store_licence_get(svc->store, id, version, &l, NULL), CS_OK);
	ck_assert_int_eq(
	    crypto_b64_encode(l.document->data, l.document->len, &d, NULL),
	    CS_OK);
	ck_assert_int_eq(
	    crypto_b64_encode(l.seal_der->data, l.seal_der->len, &s, NULL),
	    CS_OK);
	req = json_pack("{s:s,s:s}", "document", (const char *)d->data, "seal",
	    (const char *)s->data);
	ck_assert_msg(
	    verify_request(svc, &fx.verifier, req, &out, &err) == CS_OK, "%s",
	    err.msg);
	if (result != NULL)
		ck_assert_str_eq(
		    json_string_value(json_object_get(out, "result")), result);
	json_array_foreach(json_object_get(out, "checks"), i, c)
	{
		if (strcmp(json_string_value(json_object_get(c, "name")),
		        name) != 0)
			continue;
		ck_assert_msg(
		    strcmp(json_string_value(json_object_get(c, "result")),
		        check) == 0,
		    "%s: %s (%s)", name,
		    json_string_value(json_object_get(c, "result")),
		    json_string_value(json_object_get(c, "reason")));
		seen = true;
	}
	ck_assert(seen);
	json_decref(out);
	json_decref(req);
	buf_free(d);
	buf_free(s);
	store_licence_release(&l);
}

START_TEST(rotation_seals_new_licences_with_the_new_key)
{
	struct rotate_seal_result r;
	struct store_seal_key *keys = NULL;
	struct store_seal seal;
	char id1[STORE_LICENCE_ID_MAX], id2[STORE_LICENCE_ID_MAX];
	char h1[65], h2[65];
	int64_t audit0;
	size_t n = 0;

	svcfix_issue(&fx, &fx.issuer_a, false, id1, NULL);
	signer_of(id1, 1, h1);
	audit0 = svcfix_audit_count(&fx);
	rotate(fx.seal_a, &r);
	ck_assert_int_eq(svcfix_audit_count(&fx), audit0 + 1);
	ck_assert_str_eq(r.old_sha256, h1);
	ck_assert_str_ne(r.new_sha256, h1);
	ck_assert_str_ne(r.new_uri, r.old_uri);
	ck_assert_int_eq(
	    store_seal_get(svc->store, fx.seal_a, &seal, NULL), CS_OK);
	ck_assert_str_eq(seal.key_uri, r.new_uri);
	ck_assert_str_eq(seal.status, "active");
	store_seal_release(&seal);
	ck_assert_int_eq(
	    store_seal_key_list(svc->store, fx.seal_a, &keys, &n, NULL), CS_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(keys[0].key_uri, r.old_uri);
	store_seal_key_list_free(keys, n);

	/* The next licence: same seal id, the new certificate. */
	svcfix_issue(&fx, &fx.issuer_a, false, id2, NULL);
	signer_of(id2, 1, h2);
	ck_assert_str_eq(h2, r.new_sha256);
	/* Both verify: the old certificate stays valid and unrevoked. */
	verify_version(id1, 1, "valid", "certificate_status", "pass");
	verify_version(id1, 1, "valid", "certificate_chain", "pass");
	verify_version(id2, 1, "valid", "certificate_status", "pass");
}
END_TEST

START_TEST(another_process_sees_the_rotation_at_once)
{
	struct rotate_seal_result r;
	struct seal_signer *before = NULL, *after = NULL;
	struct svc *other = NULL;
	struct cs_err err = {0};
	char hex[65];
	struct timespec ms = {0, 2000000};

	ck_assert_msg(svc_open(fx.conf, SVC_OPEN_ALL, &other, &err) == CS_OK,
	    "%s", err.msg);
	ck_assert_int_eq(
	    seal_signer_get(other, NULL, fx.dept_a, &before, NULL), CS_OK);
	rotate(fx.seal_a, &r);
	nanosleep(&ms, NULL); /* past SEAL_GEN_CHECK_NS */
	ck_assert_int_eq(
	    seal_signer_get(other, NULL, fx.dept_a, &after, NULL), CS_OK);
	cs_hex(before->cert_sha256, 32, hex);
	ck_assert_str_eq(hex, r.old_sha256);
	cs_hex(after->cert_sha256, 32, hex);
	ck_assert_str_eq(hex, r.new_sha256);
	seal_signer_free(before);
	seal_signer_free(after);
	svc_free(other);
}
END_TEST

START_TEST(rotation_refuses_unknown_and_revoked_seals)
{
	struct rotate_seal_result r;
	struct rotate_seal_opts o;
	struct cs_err err = {0};

	memset(&o, 0, sizeof(o));
	o.id = "S-0000000000000000";
	ck_assert_int_eq(rotate_seal(svc, &o, &r, &err), CS_ERR_NOT_FOUND);
	ck_assert_int_eq(
	    seal_revoke(svc, fx.seal_b, "keyCompromise", NULL, NULL), CS_OK);
	o.id = fx.seal_b;
	ck_assert_int_eq(rotate_seal(svc, &o, &r, &err), CS_ERR_CONFLICT);
	ck_assert_ptr_nonnull(strstr(err.msg, "revoked"));
}
END_TEST

START_TEST(destroy_refuses_keys_in_use_and_removes_retired_ones)
{
	struct rotate_seal_result r;
	struct p11_key_info info;
	struct store_key k;
	struct cs_err err = {0};
	char id1[STORE_LICENCE_ID_MAX], uri[STORE_URI_MAX];
	int64_t audit0, destroyed_at = 0;

	svcfix_issue(&fx, &fx.issuer_a, false, id1, NULL);
	rotate(fx.seal_a, &r);
	/* The seal's new key, and the CA keys, are in use. */
	ck_assert_int_eq(
	    rotate_key_destroy(svc, r.new_uri, NULL, uri, sizeof(uri), &err),
	    CS_ERR_CONFLICT);
	ck_assert_ptr_nonnull(strstr(err.msg, fx.seal_a));
	ck_assert_int_eq(
	    store_key_find(svc->store, r.old_uri, &k, &destroyed_at, NULL),
	    CS_OK);
	ck_assert_int_eq(destroyed_at, 0);
	ck_assert_int_eq(
	    p11_key_info(svc->token, r.old_uri, &info, NULL), CS_OK);
	audit0 = svcfix_audit_count(&fx);
	/* By label, as an operator would. */
	ck_assert_msg(rotate_key_destroy(
	                  svc, k.label, NULL, uri, sizeof(uri), &err) == CS_OK,
	    "%s", err.msg);
	ck_assert_str_eq(uri, r.old_uri);
	ck_assert_int_eq(svcfix_audit_count(&fx), audit0 + 1);
	ck_assert_int_eq(
	    p11_key_info(svc->token, r.old_uri, &info, NULL), CS_ERR_NOT_FOUND);
	ck_assert_int_eq(
	    rotate_key_destroy(svc, r.old_uri, NULL, NULL, 0, &err),
	    CS_ERR_CONFLICT);
	ck_assert_int_eq(svcfix_audit_count(&fx), audit0 + 1);
	ck_assert_int_eq(
	    rotate_key_destroy(svc, "no-such-key", NULL, NULL, 0, &err),
	    CS_ERR_NOT_FOUND);
	/* Verification needs only the certificate. */
	verify_version(id1, 1, "valid", "certificate_status", "pass");
}
END_TEST

START_TEST(reseal_makes_one_new_version_each)
{
	struct rotate_seal_result r;
	enum rotate_reseal_outcome out;
	struct store_licence cur;
	struct cs_err err = {0};
	char a[STORE_LICENCE_ID_MAX], b[STORE_LICENCE_ID_MAX], h[65], why[128];
	int64_t audit0;
	json_t *body = json_pack("{s:s}", "reason", "check");

	svcfix_issue(&fx, &fx.issuer_a, false, a, NULL);
	svcfix_issue(&fx, &fx.issuer_a, false, b, NULL);
	ck_assert_int_eq(lifecycle_apply(svc, &fx.issuer_a, b,
	                     LIFECYCLE_SUSPEND, body, &cur, NULL),
	    CS_OK);
	store_licence_release(&cur);
	/* Nothing to do before a rotation. */
	ck_assert_int_eq(rotate_reseal(svc, a, fx.seal_a, NULL, "admin", &out,
	                     why, sizeof(why), &err),
	    CS_OK);
	ck_assert_int_eq(out, ROTATE_CURRENT);
	rotate(fx.seal_a, &r);
	audit0 = svcfix_audit_count(&fx);
	ck_assert_msg(rotate_reseal(svc, a, fx.seal_a, NULL, "admin", &out, why,
	                  sizeof(why), &err) == CS_OK,
	    "%s", err.msg);
	ck_assert_int_eq(out, ROTATE_RESEALED);
	ck_assert_int_eq(svcfix_audit_count(&fx), audit0 + 1);
	ck_assert_int_eq(svcfix_newest_version(&fx, a), 2);
	ck_assert_str_eq(svcfix_state(&fx, a, 1), LICENCE_SUPERSEDED);
	ck_assert_str_eq(svcfix_state(&fx, a, 2), LICENCE_VALID);
	signer_of(a, 2, h);
	ck_assert_str_eq(h, r.new_sha256);
	verify_version(a, 2, "valid", "certificate_status", "pass");
	/* Again: already current, no third version, no event. */
	ck_assert_int_eq(rotate_reseal(svc, a, fx.seal_a, NULL, "admin", &out,
	                     why, sizeof(why), &err),
	    CS_OK);
	ck_assert_int_eq(out, ROTATE_CURRENT);
	ck_assert_int_eq(svcfix_newest_version(&fx, a), 2);
	ck_assert_int_eq(svcfix_audit_count(&fx), audit0 + 1);
	/* A suspended licence is left as it is. */
	ck_assert_int_eq(rotate_reseal(svc, b, fx.seal_a, NULL, "admin", &out,
	                     why, sizeof(why), &err),
	    CS_OK);
	ck_assert_int_eq(out, ROTATE_SKIPPED);
	ck_assert_ptr_nonnull(strstr(why, "suspended"));
	ck_assert_int_eq(svcfix_newest_version(&fx, b), 1);
	/* Another department's seal is refused. */
	ck_assert_int_eq(rotate_reseal(svc, a, fx.seal_a, fx.seal_b, "admin",
	                     &out, why, sizeof(why), &err),
	    CS_ERR_DENIED);
	json_decref(body);
}
END_TEST

START_TEST(reseal_with_another_seal_lists_by_seal)
{
	char a[STORE_LICENCE_ID_MAX], s2[STORE_CODE_MAX], why[128];
	char(*ids)[STORE_LICENCE_ID_MAX] = NULL;
	enum rotate_reseal_outcome out;
	struct store_licence l;
	struct cs_err err = {0};
	size_t n = 0;

	svcfix_issue(&fx, &fx.issuer_a, false, a, NULL);
	svcfix_seal(&fx, fx.dept_a, s2);
	ck_assert_int_eq(store_licence_ids_by_seal(
	                     svc->store, fx.seal_a, "", 100, &ids, &n, NULL),
	    CS_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(ids[0], a);
	free(ids);
	ck_assert_msg(rotate_reseal(svc, a, fx.seal_a, s2, "admin", &out, why,
	                  sizeof(why), &err) == CS_OK,
	    "%s", err.msg);
	ck_assert_int_eq(out, ROTATE_RESEALED);
	ck_assert_int_eq(store_licence_get(svc->store, a, 0, &l, NULL), CS_OK);
	ck_assert_str_eq(l.seal_id, s2);
	store_licence_release(&l);
	ck_assert_int_eq(store_licence_ids_by_seal(
	                     svc->store, fx.seal_a, "", 100, &ids, &n, NULL),
	    CS_OK);
	ck_assert_uint_eq(n, 0);
	free(ids);
}
END_TEST

START_TEST(failing_store_leaves_rotation_unwritten)
{
	struct rotate_seal_result r;
	struct rotate_seal_opts o;
	struct store_seal seal;
	struct cs_err err;
	char uri0[STORE_URI_MAX];
	int64_t audit0;
	int n, failures = 0;
	enum cs_rc rc = CS_ERR_STORE;

	ck_assert_int_eq(
	    store_seal_get(svc->store, fx.seal_a, &seal, NULL), CS_OK);
	cs_strlcpy(uri0, seal.key_uri, sizeof(uri0));
	store_seal_release(&seal);
	audit0 = svcfix_audit_count(&fx);
	memset(&o, 0, sizeof(o));
	o.id = fx.seal_a;
	for (n = 1; n < 60; n++) {
		memset(&err, 0, sizeof(err));
		store_test_fail_after(svc->store, n);
		rc = rotate_seal(svc, &o, &r, &err);
		store_test_fail_after(svc->store, 0);
		if (rc == CS_OK)
			break;
		ck_assert_msg(
		    rc == CS_ERR_STORE, "n=%d: rc %d (%s)", n, rc, err.msg);
		failures++;
		ck_assert_int_eq(
		    store_seal_get(svc->store, fx.seal_a, &seal, NULL), CS_OK);
		ck_assert_str_eq(seal.key_uri, uri0);
		store_seal_release(&seal);
		ck_assert_int_eq(svcfix_audit_count(&fx), audit0);
	}
	ck_assert_int_eq(rc, CS_OK);
	ck_assert_int_ge(failures, 3);
	ck_assert_int_eq(svcfix_audit_count(&fx), audit0 + 1);
}
END_TEST

START_TEST(a_retired_certificate_is_revoked_on_its_own)
{
	struct rotate_seal_result r;
	struct cs_err err = {0};
	char id1[STORE_LICENCE_ID_MAX], id2[STORE_LICENCE_ID_MAX];
	int64_t audit0;

	svcfix_issue(&fx, &fx.issuer_a, false, id1, NULL);
	rotate(fx.seal_a, &r);
	svcfix_issue(&fx, &fx.issuer_a, false, id2, NULL);
	audit0 = svcfix_audit_count(&fx);
	sleep(1); /* E1 sealed in an earlier second than the revocation */
	ck_assert_int_eq(
	    rotate_revoke_retired(svc, fx.seal_a, "zz", "x", NULL, &err),
	    CS_ERR_INVALID);
	/* The current certificate is not a retired one. */
	ck_assert_int_eq(rotate_revoke_retired(svc, fx.seal_a, r.new_sha256,
	                     "keyCompromise", NULL, &err),
	    CS_ERR_NOT_FOUND);
	ck_assert_msg(rotate_revoke_retired(svc, fx.seal_a, r.old_sha256,
	                  "keyCompromise: stolen", NULL, &err) == CS_OK,
	    "%s", err.msg);
	ck_assert_int_eq(svcfix_audit_count(&fx), audit0 + 1);
	ck_assert_int_eq(rotate_revoke_retired(svc, fx.seal_a, r.old_sha256,
	                     "keyCompromise", NULL, &err),
	    CS_ERR_CONFLICT);
	/* No timestamp proves E1 predates the revocation: not valid now. */
	verify_version(id1, 1, NULL, "certificate_status", "indeterminate");
	/* The seal and its current certificate are untouched. */
	verify_version(id2, 1, "valid", "certificate_status", "pass");
	ck_assert_int_eq(rotate_reseal(svc, id1, fx.seal_a, NULL, "admin",
	                     &(enum rotate_reseal_outcome){0}, NULL, 0, &err),
	    CS_OK);
	verify_version(id1, 2, "valid", "certificate_status", "pass");
}
END_TEST

START_TEST(failing_store_leaves_reseal_unwritten)
{
	struct rotate_seal_result r;
	enum rotate_reseal_outcome out;
	struct cs_err err;
	char id[STORE_LICENCE_ID_MAX], why[128];
	int64_t audit0;
	int n, failures = 0;
	enum cs_rc rc = CS_ERR_STORE;

	svcfix_issue(&fx, &fx.issuer_a, false, id, NULL);
	rotate(fx.seal_a, &r);
	audit0 = svcfix_audit_count(&fx);
	for (n = 1; n < 80; n++) {
		memset(&err, 0, sizeof(err));
		store_test_fail_after(svc->store, n);
		rc = rotate_reseal(svc, id, fx.seal_a, NULL, "admin", &out, why,
		    sizeof(why), &err);
		store_test_fail_after(svc->store, 0);
		if (rc == CS_OK)
			break;
		ck_assert_msg(
		    rc == CS_ERR_STORE, "n=%d: rc %d (%s)", n, rc, err.msg);
		failures++;
		ck_assert_int_eq(svcfix_newest_version(&fx, id), 1);
		ck_assert_str_eq(svcfix_state(&fx, id, 1), LICENCE_VALID);
		ck_assert_int_eq(svcfix_audit_count(&fx), audit0);
	}
	ck_assert_int_eq(rc, CS_OK);
	ck_assert_int_eq(out, ROTATE_RESEALED);
	ck_assert_int_ge(failures, 5);
	ck_assert_int_eq(svcfix_newest_version(&fx, id), 2);
	ck_assert_int_eq(svcfix_audit_count(&fx), audit0 + 1);
}
END_TEST

/* The seal certificate of seal id. */
static X509 *
seal_cert(const char *id)
{
	struct store_seal s;
	X509 *x = NULL;

	ck_assert_int_eq(store_seal_get(svc->store, id, &s, NULL), CS_OK);
	ck_assert_int_eq(
	    crypto_cert_from_der(s.cert_der->data, s.cert_der->len, &x, NULL),
	    CS_OK);
	store_seal_release(&s);
	return x;
}

/* pkistatus answers "good" for cert of issuer, signed so OpenSSL accepts. */
static void
ocsp_good(X509 *cert, X509 *issuer)
{
	struct pkistatus_answer a;
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	OCSP_CERTID *id;
	X509_STORE *st = X509_STORE_new();
	STACK_OF(X509) *more = sk_X509_new_null();
	const unsigned char *p;
	unsigned char *der = NULL;
	int len, ok, status = -1, reason = -1;
	char why[256];
	size_t i;

	ck_assert_ptr_nonnull(OCSP_request_add0_id(
	    req, OCSP_cert_to_id(EVP_sha1(), cert, issuer)));
	len = i2d_OCSP_REQUEST(req, &der);
	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(
	    pkistatus_ocsp(svc, der, (size_t)len, &a, NULL), CS_OK);
	p = a.body->data;
	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)a.body->len);
	ck_assert_ptr_nonnull(resp);
	ck_assert_int_eq(OCSP_response_status(resp), 0);
	bs = OCSP_response_get1_basic(resp);
	X509_STORE_add_cert(st, svc->root);
	for (i = 0; i < svc->cas->n; i++)
		sk_X509_push(more, svc->cas->e[i].cert);
	ok = OCSP_basic_verify(bs, more, st, 0);
	ERR_error_string_n(ERR_peek_last_error(), why, sizeof(why));
	ERR_clear_error();
	ck_assert_msg(ok == 1, "OCSP_basic_verify: %s", why);
	id = OCSP_cert_to_id(EVP_sha1(), cert, issuer);
	ck_assert_int_eq(
	    OCSP_resp_find_status(bs, id, &status, &reason, NULL, NULL, NULL),
	    1);
	ck_assert_int_eq(status, V_OCSP_CERTSTATUS_GOOD);
	OCSP_CERTID_free(id);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	sk_X509_free(more);
	X509_STORE_free(st);
	OPENSSL_free(der);
	OCSP_REQUEST_free(req);
	pkistatus_answer_release(&a);
}

START_TEST(ca_rollover_issues_with_the_new_ca)
{
	struct ca_rollover_opts o;
	struct pkistatus_answer crl;
	struct cs_err err = {0};
	char name[STORE_NAME_MAX], id[STORE_LICENCE_ID_MAX], s2[STORE_CODE_MAX];
	char h[65];
	struct seal_signer *sg = NULL;
	struct svc *before = NULL;
	X509 *old, *x1, *x2;
	int64_t audit0 = svcfix_audit_count(&fx);

	old = svc->issuing;
	X509_up_ref(old);
	/* A process that loaded its CAs before the rollover (a certsvcd). */
	ck_assert_msg(svc_open(fx.conf, SVC_OPEN_ALL, &before, &err) == CS_OK,
	    "%s", err.msg);
	memset(&o, 0, sizeof(o));
	ck_assert_msg(ca_rollover(svc, &o, name, sizeof(name), &err) == CS_OK,
	    "%s", err.msg);
	ck_assert_str_eq(name, "issuing-2");
	ck_assert_int_eq(svcfix_audit_count(&fx), audit0 + 1);
	ck_assert_uint_eq(svc->cas->n, 3);
	ck_assert_str_eq(ca_current_name(svc), "issuing-2");
	ck_assert_int_ne(X509_cmp(svc->issuing, old), 0);
	ck_assert_int_eq(X509_cmp(ca_by_name(svc, "issuing")->cert, old), 0);
	ck_assert_int_eq(X509_check_issued(svc->root, svc->issuing), X509_V_OK);
	/* A new seal is certified by the new CA, the old seal stays. */
	svcfix_seal(&fx, fx.dept_a, s2);
	x1 = seal_cert(fx.seal_a);
	x2 = seal_cert(s2);
	ck_assert_int_eq(X509_check_issued(old, x1), X509_V_OK);
	ck_assert_int_eq(X509_check_issued(svc->issuing, x2), X509_V_OK);
	ck_assert_int_ne(X509_check_issued(old, x2), X509_V_OK);
	ck_assert_int_eq(X509_cmp(ca_issuer_of(svc, x1), old), 0);
	/* It refuses to seal with the new CA's certificate until restarted. */
	ck_assert_int_eq(
	    seal_signer_get(before, s2, fx.dept_a, &sg, &err), CS_ERR_CONFLICT);
	ck_assert_ptr_nonnull(strstr(err.msg, "restart certsvcd"));
	ck_assert_int_eq(
	    seal_signer_get(before, fx.seal_a, fx.dept_a, &sg, &err), CS_OK);
	seal_signer_free(sg);
	svc_free(before);
	/* The old seal still seals, chained through the old CA. */
	seal_cache_drop(svc, NULL);
	svcfix_issue(&fx, &fx.issuer_a, false, id, NULL);
	signer_of(id, 1, h);
	/* OCSP for both, the old CA's answers signed by the old CA. */
	ck_assert_msg(pkistatus_refresh(svc, &err) == CS_OK, "%s", err.msg);
	ocsp_good(x1, old);
	ocsp_good(x2, svc->issuing);
	ocsp_good(svc->issuing, svc->root);
	ocsp_good(old, svc->root);
	ck_assert_int_eq(pkistatus_crl(svc, "issuing", &crl, NULL), CS_OK);
	pkistatus_answer_release(&crl);
	ck_assert_int_eq(pkistatus_crl(svc, "issuing-2", &crl, NULL), CS_OK);
	pkistatus_answer_release(&crl);
	ck_assert_int_eq(
	    pkistatus_crl(svc, "issuing-3", &crl, NULL), CS_ERR_NOT_FOUND);
	/* And again: the third. */
	ck_assert_int_eq(ca_rollover(svc, &o, name, sizeof(name), &err), CS_OK);
	ck_assert_str_eq(name, "issuing-3");
	X509_free(x1);
	X509_free(x2);
	X509_free(old);
}
END_TEST

static Suite *
rotate_suite(void)
{
	Suite *s = suite_create("rotate");
	TCase *tc = tcase_create("rotate");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, rotation_seals_new_licences_with_the_new_key);
	tcase_add_test(tc, another_process_sees_the_rotation_at_once);
	tcase_add_test(tc, rotation_refuses_unknown_and_revoked_seals);
	tcase_add_test(
	    tc, destroy_refuses_keys_in_use_and_removes_retired_ones);
	tcase_add_test(tc, reseal_makes_one_new_version_each);
	tcase_add_test(tc, reseal_with_another_seal_lists_by_seal);
	tcase_add_test(tc, failing_store_leaves_rotation_unwritten);
	tcase_add_test(tc, ca_rollover_issues_with_the_new_ca);
	tcase_add_test(tc, a_retired_certificate_is_revoked_on_its_own);
	tcase_add_test(tc, failing_store_leaves_reseal_unwritten);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(rotate_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
