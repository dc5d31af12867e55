/*
 * check_tsa.c: certsvc/tsa.c on a real SoftHSM2 token and store.  The TSA
 * key is made on first use, recorded once and reused; answers verify with
 * OpenSSL's own TS_RESP_verify_response() against the service's root;
 * licences issued with timestamp_seals are CAdES-T and verification reports
 * the proven time; timestamp_reports timestamps reports; without a CA the
 * TSA answers systemFailure and a seal cannot be timestamped (503).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ts.h>
#include <openssl/x509.h>

#include "certsvc/report.h"
#include "certsvc/tsa.h"
#include "certsvc/verify.h"
#include "crypto/crypto.h"
#include "tests/certfix.h"
#include "tests/svcfix.h"

static struct svcfix fx;
static struct svc *svc;

static void
setup(void)
{
	struct svcfix_opts o = {.pool_size = 2, .timestamp_seals = true};

	svcfix_open_world(&fx, "tsa-test", &o);
	svc = fx.svc;
}

static void
teardown(void)
{
	svcfix_close(&fx);
	svc = NULL;
}

/* A query for the SHA-256 of text, with certReq. */
static struct buf *
query(const char *text)
{
	unsigned char md[32];
	struct buf *q = NULL;

	ck_assert_int_eq(
	    EVP_Digest(text, strlen(text), md, NULL, EVP_sha256(), NULL), 1);
	ck_assert_int_eq(
	    crypto_ts_request(EVP_sha256(), md, sizeof(md), true, &q, NULL),
	    CS_OK);
	return q;
}

/* The number of TSA certificates recorded. */
static size_t
tsa_certs(void)
{
	struct store_svc_cert *c = NULL;
	size_t n = 0, i, k = 0;

	ck_assert_int_eq(store_svc_cert_list(svc->store, &c, &n, NULL), CS_OK);
	for (i = 0; i < n; i++)
		if (strcmp(c[i].purpose, "tsa") == 0)
			k++;
	store_svc_cert_list_free(c, n);
	return k;
}

/* TS_RESP_verify_response() of resp for the SHA-256 of text. */
static int
client_verify(const struct buf *resp, const char *text)
{
	const unsigned char *p = resp->data;
	TS_RESP *tr = d2i_TS_RESP(NULL, &p, (long)resp->len);
	TS_VERIFY_CTX *ctx = TS_VERIFY_CTX_new();
	X509_STORE *st = X509_STORE_new();
	int ok;

	ck_assert(tr != NULL && ctx != NULL && st != NULL);
	ck_assert_int_eq(X509_STORE_add_cert(st, svc->root), 1);
	TS_VERIFY_CTX_set_store(ctx, st);
	TS_VERIFY_CTX_set_data(ctx, BIO_new_mem_buf(text, (int)strlen(text)));
	/* The token carries the TSA and issuing certificates. */
	TS_VERIFY_CTX_set_flags(
	    ctx, TS_VFY_VERSION | TS_VFY_SIGNATURE | TS_VFY_DATA);
	ok = TS_RESP_verify_response(ctx, tr);
	ERR_clear_error();
	TS_VERIFY_CTX_free(ctx);
	TS_RESP_free(tr);
	return ok;
}

START_TEST(responds_with_one_key)
{
	struct buf *q = query("hello"), *resp = NULL;
	struct crypto_ts_req r;
	struct tsa_stats st;
	int i;

	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(
		    tsa_respond(svc, q->data, q->len, &resp, &r, NULL), CS_OK);
		ck_assert_int_eq(r.fail, CRYPTO_TS_OK);
		buf_free(resp);
		resp = NULL;
	}
	ck_assert_uint_eq(tsa_certs(), 1);
	ck_assert_int_eq(
	    tsa_respond(svc, q->data, q->len, &resp, NULL, NULL), CS_OK);
	ck_assert_int_eq(client_verify(resp, "hello"), 1);
	ck_assert_int_ne(client_verify(resp, "hellO"), 1);
	buf_free(resp);
	ck_assert_int_eq(
	    tsa_respond(svc, (const unsigned char *)"junk", 4, &resp, &r, NULL),
	    CS_OK);
	ck_assert_int_eq(r.fail, CRYPTO_TS_BAD_DATA_FORMAT);
	buf_free(resp);
	tsa_stats(svc, &st);
	ck_assert_uint_eq(st.granted, 4);
	ck_assert_uint_eq(st.rejected, 1);
	ck_assert_uint_eq(st.failed, 0);
	buf_free(q);
}
END_TEST

/* A licence by id through verify_request(): the answer (json_decref). */
static json_t *
verify_id(const char *id)
{
	json_t *req = json_pack("{s:s}", "licence_id", id), *out = NULL;
	struct cs_err err = {0};

	ck_assert_msg(
	    verify_request(svc, &fx.verifier, req, &out, &err) == CS_OK, "%s",
	    err.msg);
	json_decref(req);
	return out;
}

static const char *
check_reason(json_t *out, const char *name, const char **result)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(out, "checks"), i, c)
	{
		if (strcmp(json_string_value(json_object_get(c, "name")),
		        name) == 0) {
			*result =
			    json_string_value(json_object_get(c, "result"));
			return json_string_value(json_object_get(c, "reason"));
		}
	}
	ck_abort_msg("no check %s", name);
	return NULL;
}

START_TEST(licences_are_cades_t)
{
	char id[STORE_LICENCE_ID_MAX];
	struct store_licence l;
	struct crypto_cms_result res;
	const char *result, *reason;
	json_t *out;
	int64_t now = (int64_t)time(NULL);

	ck_assert_int_eq(report_refresh(svc, NULL), CS_OK);
	svcfix_issue(&fx, &fx.issuer_a, false, id, NULL);
	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(store_licence_get(svc->store, id, 1, &l, NULL), CS_OK);
	ck_assert_int_eq(
	    crypto_cms_verify(l.document->data, l.document->len,
	        l.seal_der->data, l.seal_der->len, svc->root, &res, NULL),
	    CS_OK);
	ck_assert_msg(res.signature_ok && res.chain_ok, "%s", res.reason);
	ck_assert_msg(res.ts_present && res.ts_ok, "%s", res.ts_reason);
	ck_assert_int_le(llabs(res.ts_time - now), 5);
	crypto_cms_result_release(&res);
	store_licence_release(&l);
	out = verify_id(id);
	ck_assert_str_eq(
	    json_string_value(json_object_get(out, "result")), "valid");
	reason = check_reason(out, "timestamp", &result);
	ck_assert_str_eq(result, "pass");
	ck_assert_ptr_nonnull(strstr(reason, "existed at 20"));
	json_decref(out);
}
END_TEST

START_TEST(reports_timestamped_when_asked)
{
	char id[STORE_LICENCE_ID_MAX];
	struct crypto_ts_result tr;
	struct buf *seal = NULL;
	json_t *out, *s;

	ck_assert_int_eq(report_refresh(svc, NULL), CS_OK);
	svc->cfg.timestamp_seals = 0;
	svcfix_issue(&fx, &fx.issuer_a, false, id, NULL);
	svc->cfg.timestamp_reports = 1;
	out = verify_id(id);
	s = json_object_get(json_object_get(out, "report"), "seal");
	ck_assert_int_eq(crypto_b64_decode(json_string_value(s),
	                     json_string_length(s), &seal, NULL),
	    CS_OK);
	ck_assert_int_eq(
	    crypto_cms_timestamp(seal->data, seal->len, svc->root, &tr, NULL),
	    CS_OK);
	ck_assert_msg(tr.present && tr.ok, "%s", tr.reason);
	buf_free(seal);
	json_decref(out);
}
END_TEST

START_TEST(no_ca_is_system_failure)
{
	struct svcfix f2;
	struct buf *q = query("x"), *resp = NULL, *seal = NULL, *before;
	struct crypto_seal_opts o;
	struct certfix_pki pki;
	struct crypto_ts_req r;
	struct cs_err err = {0};

	svcfix_config(&f2, "tsa-noca", NULL);
	ck_assert_int_eq(svc_open(f2.conf, SVC_OPEN_ALL, &f2.svc, &err), CS_OK);
	ck_assert_int_eq(
	    tsa_respond(f2.svc, q->data, q->len, &resp, &r, NULL), CS_OK);
	ck_assert_int_eq(r.fail, CRYPTO_TS_SYSTEM_FAILURE);
	ck_assert_int_eq(r.sys_rc, CS_ERR_TOKEN);
	ck_assert_ptr_nonnull(resp);
	buf_free(resp);
	/* A good seal: only the missing TSA key stops it. */
	ck_assert(certfix_pki_init(&pki));
	memset(&o, 0, sizeof(o));
	o.key = pki.seal_key;
	o.cert = pki.seal;
	ck_assert_int_eq(
	    crypto_cms_seal(&o, (const unsigned char *)"x", 1, &seal, NULL),
	    CS_OK);
	before = seal;
	ck_assert_int_eq(tsa_stamp_seal(f2.svc, &seal, &err), CS_ERR_TOKEN);
	ck_assert_ptr_eq(seal, before); /* left as it was */
	buf_free(seal);
	certfix_pki_free(&pki);
	svcfix_close(&f2);
	buf_free(q);
}
END_TEST

static Suite *
tsa_suite(void)
{
	Suite *s = suite_create("tsa");
	TCase *tc = tcase_create("tsa");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, responds_with_one_key);
	tcase_add_test(tc, licences_are_cades_t);
	tcase_add_test(tc, reports_timestamped_when_asked);
	suite_add_tcase(s, tc);
	tc = tcase_create("no_ca");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, no_ca_is_system_failure);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(tsa_suite());
	int nfailed;

	srunner_run_all(sr, CK_NORMAL);
	nfailed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
