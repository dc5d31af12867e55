/*
 * check_pkistatus.c: certsvc/pkistatus.c on a real SoftHSM2 token and store
 * (CA, one department, two seals): the first refresh issues the OCSP
 * responder certificate and signs everything; answers verify with
 * OpenSSL's OCSP client code; a revocation shows after the next refresh in
 * OCSP and the CRL; an unchanged refresh signs nothing; a responder near
 * its end is renewed; a store failing at any step of a refresh leaves the
 * old answers served; and the service certificate store functions.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certsvc/ca.h"
#include "certsvc/codes.h"
#include "certsvc/dept.h"
#include "certsvc/mem.h"
#include "certsvc/pkistatus.h"
#include "certsvc/seal.h"
#include "certsvc/store_test.h"
#include "certsvc/svc.h"
#include "crypto/crypto.h"
#include "tests/certfix.h"
#include "tests/svcfix.h"

static struct svcfix fx;
static struct svc *svc;
static char dept[CODES_CREDIT_LEN + 1];
static char seal_a[STORE_CODE_MAX], seal_b[STORE_CODE_MAX];

static void
setup(void)
{
	struct svcfix_opts o = {.pool_size = 2, .no_holder_key = true};

	svcfix_open(&fx, "pki-test", &o);
	svc = fx.svc;
	svcfix_dept(&fx, SVCFIX_DEPT_A, "A", "110105", dept);
	svcfix_seal(&fx, dept, seal_a);
	svcfix_seal(&fx, dept, seal_b);
}

static void
teardown(void)
{
	svcfix_close(&fx);
	svc = NULL;
}

static X509 *
seal_cert(const char *id)
{
	struct store_seal s;
	X509 *x = NULL;

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(store_seal_get(svc->store, id, &s, NULL), CS_OK);
	ck_assert_int_eq(
	    crypto_cert_from_der(s.cert_der->data, s.cert_der->len, &x, NULL),
	    CS_OK);
	store_seal_release(&s);
	return x;
}

static struct buf *
request_for(X509 *cert, X509 *issuer, const EVP_MD *md)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	unsigned char *p = NULL;
	struct buf *b;
	int len;

	ck_assert_ptr_nonnull(
	    OCSP_request_add0_id(req, OCSP_cert_to_id(md, cert, issuer)));
	len = i2d_OCSP_REQUEST(req, &p);
	ck_assert_int_gt(len, 0);
	b = buf_from(p, (size_t)len);
	OPENSSL_free(p);
	OCSP_REQUEST_free(req);
	return b;
}

/*
 * Ask about cert; returns the OCSPResponseStatus, and for a successful
 * answer checks it with OpenSSL's client code and fills status/reason.
 */
static int
ask(X509 *cert, X509 *issuer, const EVP_MD *md, int *status, int *reason,
    struct pkistatus_answer *keep)
{
	struct pkistatus_answer a;
	struct buf *req = request_for(cert, issuer, md);
	const unsigned char *p;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	OCSP_CERTID *id;
	X509_STORE *st;
	STACK_OF(X509) * more;
	ASN1_GENERALIZEDTIME *tu, *nu, *rt;
	int rs;

	ck_assert_int_eq(
	    pkistatus_ocsp(svc, req->data, req->len, &a, NULL), CS_OK);
	buf_free(req);
	p = a.body->data;
	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)a.body->len);
	ck_assert_ptr_nonnull(resp);
	rs = OCSP_response_status(resp);
	ck_assert_int_eq(rs, a.ocsp_status);
	ck_assert(a.cacheable == (rs == 0));
	if (rs != 0)
		goto out;
	ck_assert_int_eq(a.next_update - a.this_update, PKISTATUS_OCSP_LIFE);
	ck_assert_str_ne(a.etag, "");
	bs = OCSP_response_get1_basic(resp);
	st = X509_STORE_new();
	more = sk_X509_new_null();
	X509_STORE_add_cert(st, svc->root);
	sk_X509_push(more, svc->issuing);
	sk_X509_push(more, svc->root);
	ck_assert_int_eq(OCSP_basic_verify(bs, more, st, 0), 1);
	id = OCSP_cert_to_id(md, cert, issuer);
	ck_assert_int_eq(
	    OCSP_resp_find_status(bs, id, status, reason, &rt, &tu, &nu), 1);
	ck_assert_int_eq(OCSP_check_validity(tu, nu, 5, -1), 1);
	OCSP_CERTID_free(id);
	sk_X509_free(more);
	X509_STORE_free(st);
	OCSP_BASICRESP_free(bs);
out:
	OCSP_RESPONSE_free(resp);
	if (keep != NULL)
		*keep = a;
	else
		pkistatus_answer_release(&a);
	return rs;
}

static void
refresh(void)
{
	struct cs_err err = {0};

	ck_assert_msg(
	    pkistatus_refresh(svc, &err) == CS_OK, "refresh: %s", err.msg);
}

START_TEST(before_first_refresh_try_later)
{
	struct pkistatus_answer a;
	X509 *x = seal_cert(seal_a);
	int st = -1, re = -1;

	ck_assert_int_eq(
	    ask(x, svc->issuing, EVP_sha1(), &st, &re, NULL), 3 /* tryLater */);
	ck_assert_int_eq(pkistatus_crl(svc, "issuing", &a, NULL), CS_ERR_TOKEN);
	X509_free(x);
}
END_TEST

START_TEST(refresh_issues_responder_and_answers_good)
{
	struct store_svc_cert *list = NULL;
	struct store_svc_cert cur;
	X509 *x = seal_cert(seal_a), *resp = NULL;
	STACK_OF(X509) * chain;
	size_t n = 0, nresp;
	int64_t gen, crln;
	int st = -1, re = -2;
	bool valid = false;

	refresh();
	memset(&cur, 0, sizeof(cur));
	ck_assert_int_eq(store_svc_cert_current(svc->store, "ocsp",
	                     (int64_t)time(NULL), &cur, NULL),
	    CS_OK);
	ck_assert_str_eq(cur.ca, "issuing");
	ck_assert_int_ne(cur.key_uri[0], '\0');
	ck_assert_int_eq(
	    cur.not_after - cur.not_before, PKISTATUS_RESPONDER_DAYS * 86400);
	ck_assert_int_eq(crypto_cert_from_der(cur.cert_der->data,
	                     cur.cert_der->len, &resp, NULL),
	    CS_OK);
	ck_assert(X509_get_extended_key_usage(resp) & XKU_OCSP_SIGN);
	ck_assert_int_ge(
	    X509_get_ext_by_NID(resp, NID_id_pkix_OCSP_noCheck, -1), 0);
	chain = sk_X509_new_null();
	ck_assert_int_gt(sk_X509_push(chain, svc->issuing), 0);
	ck_assert_int_eq(
	    crypto_cert_verify(resp, svc->root, chain, &valid, NULL, 0, NULL),
	    CS_OK);
	ck_assert(valid);
	sk_X509_free(chain);
	/* SHA-1 (RFC 5019) and SHA-256 CertIDs. */
	ck_assert_int_eq(ask(x, svc->issuing, EVP_sha1(), &st, &re, NULL), 0);
	ck_assert_int_eq(st, V_OCSP_CERTSTATUS_GOOD);
	ck_assert_int_eq(ask(x, svc->issuing, EVP_sha256(), &st, &re, NULL), 0);
	ck_assert_int_eq(st, V_OCSP_CERTSTATUS_GOOD);
	/* The issuing CA, answered by the root itself. */
	ck_assert_int_eq(
	    ask(svc->issuing, svc->root, EVP_sha1(), &st, &re, NULL), 0);
	ck_assert_int_eq(st, V_OCSP_CERTSTATUS_GOOD);
	/* The responder's own certificate is answered too. */
	ck_assert_int_eq(
	    ask(resp, svc->issuing, EVP_sha1(), &st, &re, NULL), 0);
	ck_assert_int_eq(st, V_OCSP_CERTSTATUS_GOOD);
	/* Two responses per certificate: issuing CA, seals, services. */
	ck_assert_int_eq(
	    store_svc_cert_list(svc->store, &list, &n, NULL), CS_OK);
	pkistatus_stats(svc, &nresp, &gen, &crln);
	ck_assert_uint_eq(nresp, 2 * (1 + 2 + n));
	ck_assert_int_gt(crln, 0);
	store_svc_cert_list_free(list, n);
	store_svc_cert_release(&cur);
	X509_free(resp);
	X509_free(x);
}
END_TEST

START_TEST(unknown_and_garbage_requests)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	struct pkistatus_answer a;
	X509 *other, *x = seal_cert(seal_a);
	int st, re;

	refresh();
	other = certfix_issue(CRYPTO_CERT_ROOT_CA, "Other CA", k, NULL, k);
	ck_assert_ptr_nonnull(other);
	/* Another issuer, and our seal named under another issuer. */
	ck_assert_int_eq(ask(other, other, EVP_sha1(), &st, &re, NULL), 6);
	ck_assert_int_eq(ask(x, other, EVP_sha1(), &st, &re, NULL), 6);
	/* The root is a trust anchor: nobody answers for it. */
	ck_assert_int_eq(
	    ask(svc->root, svc->root, EVP_sha1(), &st, &re, NULL), 6);
	/* A hash we do not pre-sign for is as unknown. */
	ck_assert_int_eq(ask(x, svc->issuing, EVP_sha384(), &st, &re, NULL), 6);
	ck_assert_int_eq(pkistatus_ocsp(svc,
	                     (const uint8_t *)"\x30\x03\x0a\x01", 4, &a, NULL),
	    CS_OK);
	ck_assert_int_eq(a.ocsp_status, 1);
	ck_assert(!a.cacheable);
	ck_assert_uint_eq(a.body->len, 5);
	pkistatus_answer_release(&a);
	ck_assert_int_eq(pkistatus_ocsp(svc, NULL, 0, &a, NULL), CS_OK);
	ck_assert_int_eq(a.ocsp_status, 1);
	pkistatus_answer_release(&a);
	ck_assert_int_eq(
	    pkistatus_crl(svc, "other", &a, NULL), CS_ERR_NOT_FOUND);
	X509_free(x);
	X509_free(other);
	EVP_PKEY_free(k);
}
END_TEST

static X509_CRL *
crl_of(const char *ca, struct pkistatus_answer *a)
{
	const unsigned char *p;
	X509_CRL *crl;

	ck_assert_int_eq(pkistatus_crl(svc, ca, a, NULL), CS_OK);
	ck_assert(a->cacheable);
	ck_assert_int_eq(a->next_update - a->this_update, PKISTATUS_CRL_LIFE);
	p = a->body->data;
	crl = d2i_X509_CRL(NULL, &p, (long)a->body->len);
	ck_assert_ptr_nonnull(crl);
	return crl;
}

START_TEST(revocation_shows_after_refresh)
{
	struct pkistatus_answer a, before;
	X509 *x = seal_cert(seal_a), *y = seal_cert(seal_b);
	X509_REVOKED *rev = NULL;
	X509_CRL *crl;
	ASN1_ENUMERATED *reason;
	int64_t n1, n2, gen1, gen2;
	size_t nr;
	int st = -1, re = -2;

	refresh();
	crl = crl_of("issuing", &a);
	ck_assert_int_eq(
	    X509_CRL_verify(crl, X509_get0_pubkey(svc->issuing)), 1);
	ck_assert_ptr_null(X509_CRL_get_REVOKED(crl));
	X509_CRL_free(crl);
	pkistatus_answer_release(&a);
	crl = crl_of("root", &a);
	ck_assert_int_eq(X509_CRL_verify(crl, X509_get0_pubkey(svc->root)), 1);
	X509_CRL_free(crl);
	pkistatus_answer_release(&a);
	pkistatus_stats(svc, &nr, &gen1, &n1);

	ck_assert_int_eq(
	    seal_revoke(svc, seal_a, "keyCompromise: lost", "test", NULL),
	    CS_OK);
	/* Pre-signed: nothing changes until the refresher runs. */
	ck_assert_int_eq(
	    ask(x, svc->issuing, EVP_sha1(), &st, &re, &before), 0);
	ck_assert_int_eq(st, V_OCSP_CERTSTATUS_GOOD);
	refresh();
	ck_assert_int_eq(ask(x, svc->issuing, EVP_sha1(), &st, &re, &a), 0);
	ck_assert_int_eq(st, V_OCSP_CERTSTATUS_REVOKED);
	ck_assert_int_eq(re, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
	ck_assert_str_ne(a.etag, before.etag);
	pkistatus_answer_release(&a);
	pkistatus_answer_release(&before);
	ck_assert_int_eq(ask(x, svc->issuing, EVP_sha256(), &st, &re, NULL), 0);
	ck_assert_int_eq(st, V_OCSP_CERTSTATUS_REVOKED);
	ck_assert_int_eq(ask(y, svc->issuing, EVP_sha1(), &st, &re, NULL), 0);
	ck_assert_int_eq(st, V_OCSP_CERTSTATUS_GOOD);
	crl = crl_of("issuing", &a);
	ck_assert_int_eq(
	    X509_CRL_verify(crl, X509_get0_pubkey(svc->issuing)), 1);
	ck_assert_int_eq(X509_CRL_get0_by_cert(crl, &rev, x), 1);
	reason = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
	ck_assert_ptr_nonnull(reason);
	ck_assert_int_eq(ASN1_ENUMERATED_get(reason), 1);
	ASN1_ENUMERATED_free(reason);
	ck_assert_int_eq(X509_CRL_get0_by_cert(crl, &rev, y), 0);
	X509_CRL_free(crl);
	pkistatus_answer_release(&a);
	pkistatus_stats(svc, &nr, &gen2, &n2);
	ck_assert_int_gt(gen2, gen1);
	ck_assert_int_gt(n2, n1);
	X509_free(x);
	X509_free(y);
}
END_TEST

START_TEST(unchanged_refresh_signs_nothing)
{
	struct p11_stats s1, s2;
	char seal_c[STORE_CODE_MAX];
	size_t n1, n2;
	int64_t g, c1, c2;

	refresh();
	pkistatus_stats(svc, &n1, &g, &c1);
	p11_stats_get(svc->token, &s1);
	refresh();
	refresh();
	p11_stats_get(svc->token, &s2);
	ck_assert_uint_eq(s2.signs, s1.signs);
	/* A new seal: its two responses only; the CRL is unchanged. */
	svcfix_seal(&fx, dept, seal_c);
	p11_stats_get(svc->token, &s1);
	refresh();
	p11_stats_get(svc->token, &s2);
	ck_assert_uint_eq(s2.signs - s1.signs, 2);
	pkistatus_stats(svc, &n2, &g, &c2);
	ck_assert_uint_eq(n2, n1 + 2);
	ck_assert_int_eq(c2, c1);
}
END_TEST

/* A certificate with the OCSP profile for a software key (not stored). */
static struct buf *
ocsp_cert_der(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	struct crypto_cert_spec spec;
	struct buf *der = NULL;
	X509 *x = NULL;

	memset(&spec, 0, sizeof(spec));
	spec.profile = CRYPTO_CERT_OCSP;
	spec.common_name = "old responder";
	spec.days = 30;
	spec.subject_key = k;
	ck_assert_int_eq(ca_issue(svc, &spec, &x, NULL), CS_OK);
	ck_assert_int_eq(crypto_cert_to_der(x, &der, NULL), CS_OK);
	X509_free(x);
	EVP_PKEY_free(k);
	return der;
}

START_TEST(responder_near_its_end_is_renewed)
{
	struct store_svc_cert c, cur;
	struct store_tx *tx = NULL;
	int64_t now = (int64_t)time(NULL);

	/* Recorded as 25 of 30 days gone: less than a third left. */
	memset(&c, 0, sizeof(c));
	cs_strlcpy(c.serial, "0A0B0C", sizeof(c.serial));
	cs_strlcpy(c.ca, "issuing", sizeof(c.ca));
	cs_strlcpy(c.purpose, "ocsp", sizeof(c.purpose));
	c.cert_der = ocsp_cert_der();
	c.not_before = now - 25 * 86400;
	c.not_after = now + 5 * 86400;
	ck_assert_int_eq(store_tx_begin(svc->store, &tx, NULL), CS_OK);
	ck_assert_int_eq(store_svc_cert_put(tx, &c, NULL), CS_OK);
	ck_assert_int_eq(store_tx_commit(tx, NULL), CS_OK);
	refresh();
	memset(&cur, 0, sizeof(cur));
	ck_assert_int_eq(
	    store_svc_cert_current(svc->store, "ocsp", now, &cur, NULL), CS_OK);
	ck_assert_str_ne(cur.serial, "0A0B0C");
	ck_assert_int_gt(cur.not_after, c.not_after);
	store_svc_cert_release(&cur);
	buf_free(c.cert_der);
}
END_TEST

START_TEST(store_failure_keeps_old_answers)
{
	X509 *x = seal_cert(seal_a);
	struct cs_err err = {0};
	int st = -1, re, n, fails = 0;
	enum cs_rc rc = CS_ERR_STORE;

	refresh();
	ck_assert_int_eq(
	    seal_revoke(svc, seal_a, "superseded", "test", NULL), CS_OK);
	for (n = 1; n < 200 && rc != CS_OK; n++) {
		store_test_fail_after(svc->store, n);
		rc = pkistatus_refresh(svc, &err);
		store_test_fail_after(svc->store, 0);
		if (rc == CS_OK)
			break;
		fails++;
		ck_assert_int_eq(rc, CS_ERR_STORE);
		/* The old snapshot is still served, untouched. */
		ck_assert_int_eq(
		    ask(x, svc->issuing, EVP_sha1(), &st, &re, NULL), 0);
		ck_assert_int_eq(st, V_OCSP_CERTSTATUS_GOOD);
	}
	ck_assert_int_eq(rc, CS_OK);
	ck_assert_int_gt(fails, 3);
	ck_assert_int_eq(ask(x, svc->issuing, EVP_sha1(), &st, &re, NULL), 0);
	ck_assert_int_eq(st, V_OCSP_CERTSTATUS_REVOKED);
	ck_assert_int_eq(re, OCSP_REVOKED_STATUS_SUPERSEDED);
	X509_free(x);
}
END_TEST

START_TEST(service_cert_store_functions)
{
	struct store_svc_cert c, got, *list = NULL;
	struct store_tx *tx = NULL;
	int64_t now = (int64_t)time(NULL);
	size_t n = 0, i;
	bool found = false;
	X509 *x = NULL;
	int st, re;

	memset(&c, 0, sizeof(c));
	cs_strlcpy(c.serial, "ABCDEF", sizeof(c.serial));
	cs_strlcpy(c.ca, "issuing", sizeof(c.ca));
	cs_strlcpy(c.purpose, "tsa", sizeof(c.purpose));
	c.cert_der = ocsp_cert_der();
	c.not_before = now - 10;
	c.not_after = now + 86400;
	ck_assert_int_eq(store_tx_begin(svc->store, &tx, NULL), CS_OK);
	ck_assert_int_eq(store_svc_cert_put(tx, &c, NULL), CS_OK);
	ck_assert_int_eq(store_tx_commit(tx, NULL), CS_OK);
	/* Same serial again; unknown purpose; unknown CA. */
	ck_assert_int_eq(store_tx_begin(svc->store, &tx, NULL), CS_OK);
	ck_assert_int_eq(store_svc_cert_put(tx, &c, NULL), CS_ERR_CONFLICT);
	store_tx_rollback(tx);
	cs_strlcpy(c.serial, "ABCDF0", sizeof(c.serial));
	cs_strlcpy(c.purpose, "web", sizeof(c.purpose));
	ck_assert_int_eq(store_tx_begin(svc->store, &tx, NULL), CS_OK);
	ck_assert_int_eq(store_svc_cert_put(tx, &c, NULL), CS_ERR_INVALID);
	store_tx_rollback(tx);
	cs_strlcpy(c.purpose, "tsa", sizeof(c.purpose));
	cs_strlcpy(c.ca, "nope", sizeof(c.ca));
	ck_assert_int_eq(store_tx_begin(svc->store, &tx, NULL), CS_OK);
	ck_assert_int_eq(store_svc_cert_put(tx, &c, NULL), CS_ERR_NOT_FOUND);
	store_tx_rollback(tx);

	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(
	    store_svc_cert_current(svc->store, "tsa", now, &got, NULL), CS_OK);
	ck_assert_str_eq(got.serial, "ABCDEF");
	ck_assert_mem_eq(got.cert_der->data, c.cert_der->data, c.cert_der->len);
	store_svc_cert_release(&got);
	ck_assert_int_eq(store_svc_cert_current(
	                     svc->store, "tsa", now + 2 * 86400, &got, NULL),
	    CS_ERR_NOT_FOUND);
	ck_assert_int_eq(
	    store_svc_cert_list(svc->store, &list, &n, NULL), CS_OK);
	for (i = 0; i < n; i++)
		if (strcmp(list[i].serial, "ABCDEF") == 0)
			found = strcmp(list[i].status, "active") == 0;
	ck_assert(found);
	store_svc_cert_list_free(list, n);

	refresh();
	ck_assert_int_eq(
	    crypto_cert_from_der(c.cert_der->data, c.cert_der->len, &x, NULL),
	    CS_OK);
	ck_assert_int_eq(ask(x, svc->issuing, EVP_sha1(), &st, &re, NULL), 0);
	ck_assert_int_eq(st, V_OCSP_CERTSTATUS_GOOD);
	ck_assert_int_eq(store_tx_begin(svc->store, &tx, NULL), CS_OK);
	ck_assert_int_eq(store_svc_cert_revoke(
	                     tx, "ABCDEF", "cessationOfOperation", 0, NULL),
	    CS_OK);
	ck_assert_int_eq(store_tx_commit(tx, NULL), CS_OK);
	ck_assert_int_eq(store_tx_begin(svc->store, &tx, NULL), CS_OK);
	ck_assert_int_eq(
	    store_svc_cert_revoke(tx, "ABCDEF", "", 0, NULL), CS_ERR_CONFLICT);
	store_tx_rollback(tx);
	ck_assert_int_eq(store_tx_begin(svc->store, &tx, NULL), CS_OK);
	ck_assert_int_eq(
	    store_svc_cert_revoke(tx, "999999", "", 0, NULL), CS_ERR_NOT_FOUND);
	store_tx_rollback(tx);
	ck_assert_int_eq(
	    store_svc_cert_current(svc->store, "tsa", now, &got, NULL),
	    CS_ERR_NOT_FOUND);
	refresh();
	ck_assert_int_eq(ask(x, svc->issuing, EVP_sha1(), &st, &re, NULL), 0);
	ck_assert_int_eq(st, V_OCSP_CERTSTATUS_REVOKED);
	ck_assert_int_eq(re, OCSP_REVOKED_STATUS_CESSATIONOFOPERATION);
	X509_free(x);
	buf_free(c.cert_der);
}
END_TEST

/* Nothing is served at or past its nextUpdate, whatever the refresher does. */
START_TEST(never_served_past_next_update)
{
	struct pkistatus_answer a, crl;
	int64_t now = (int64_t)time(NULL);
	X509 *x = seal_cert(seal_a);
	int st, re;

	refresh();
	ck_assert_int_eq(ask(x, svc->issuing, EVP_sha256(), &st, &re, &a), 0);
	ck_assert_int_eq(pkistatus_crl(svc, "issuing", &crl, NULL), CS_OK);
	/* One second before: still the signed answers. */
	pkistatus_test_skew_set(a.next_update - 1 - now);
	ck_assert_int_eq(ask(x, svc->issuing, EVP_sha256(), &st, &re, NULL), 0);
	pkistatus_test_skew_set(crl.next_update - 1 - now);
	pkistatus_answer_release(&crl);
	ck_assert_int_eq(pkistatus_crl(svc, "issuing", &crl, NULL), CS_OK);
	/* At nextUpdate and after: tryLater, and no CRL (503). */
	pkistatus_test_skew_set(a.next_update - now);
	ck_assert_int_eq(ask(x, svc->issuing, EVP_sha256(), &st, &re, NULL), 3);
	pkistatus_test_skew_set(a.next_update + 86400 - now);
	ck_assert_int_eq(ask(x, svc->issuing, EVP_sha1(), &st, &re, NULL), 3);
	pkistatus_test_skew_set(crl.next_update - now);
	pkistatus_answer_release(&crl);
	ck_assert_int_eq(
	    pkistatus_crl(svc, "issuing", &crl, NULL), CS_ERR_TOKEN);
	pkistatus_test_skew_set(0);
	ck_assert_int_eq(ask(x, svc->issuing, EVP_sha256(), &st, &re, NULL), 0);
	pkistatus_answer_release(&a);
	pkistatus_answer_release(&crl);
	X509_free(x);
}
END_TEST

static Suite *
pkistatus_suite(void)
{
	Suite *s = suite_create("pkistatus");
	TCase *tc;

	tc = tcase_create("pkistatus");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, before_first_refresh_try_later);
	tcase_add_test(tc, refresh_issues_responder_and_answers_good);
	tcase_add_test(tc, unknown_and_garbage_requests);
	tcase_add_test(tc, revocation_shows_after_refresh);
	tcase_add_test(tc, unchanged_refresh_signs_nothing);
	tcase_add_test(tc, responder_near_its_end_is_renewed);
	tcase_add_test(tc, store_failure_keeps_old_answers);
	tcase_add_test(tc, service_cert_store_functions);
	tcase_add_test(tc, never_served_past_next_update);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(pkistatus_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
