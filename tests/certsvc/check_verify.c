/*
 * check_verify.c: certsvc/verify.c on a real SoftHSM2 token and store.  A
 * table of cases, each with the exact result of every check and of the
 * whole: good licences in the three request forms, tampered documents and
 * seals, a wrong root, revoked seals (sealed after the revocation, before
 * it without and with a timestamp), each licence state (set with SQL: the
 * lifecycle API is not needed to test what verification reads), expiry,
 * unknown licences, malformed and huge requests.  Then the signed report
 * itself: it verifies, names what was checked and holds no holder data.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/cms.h>
#include <openssl/ts.h>
#include <sqlite3.h>

#include "certsvc/ca.h"
#include "certsvc/client.h"
#include "certsvc/codes.h"
#include "certsvc/dept.h"
#include "certsvc/jcs.h"
#include "certsvc/licence.h"
#include "certsvc/ltype.h"
#include "certsvc/mem.h"
#include "certsvc/report.h"
#include "certsvc/seal.h"
#include "certsvc/svc.h"
#include "certsvc/verify.h"
#include "crypto/crypto.h"
#include "tests/certfix.h"
#include "tests/svcfix.h"

#define HOLDER_NAME "张三"
#define HOLDER_ID "110101199003070011"

static struct svcfix fx;
static struct svc *svc;
static char dept[CODES_CREDIT_LEN + 1], seal_id[STORE_CODE_MAX];
static struct client_principal issuer, verifier;

/* The licence every case starts from, and what a case presents. */
struct vctx {
	struct licence_issued lic;
	struct buf *doc, *seal;
	json_t *req; /* set by a case to replace the request of its form */
	int64_t signing_time;
	X509 *saved_root; /* a case that swaps svc->root puts it here */
};

static void
setup_common(bool report_key)
{
	struct svcfix_opts o = {.pool_size = 2};

	svcfix_open(&fx, "verify-test", &o);
	svc = fx.svc;
	svcfix_dept(&fx, SVCFIX_DEPT_A, "A", "110105", dept);
	svcfix_type(&fx, "TA01", dept);
	svcfix_seal(&fx, dept, seal_id);
	svcfix_client(&fx, CLIENT_ISSUER, dept, &issuer);
	svcfix_client(&fx, CLIENT_VERIFIER, NULL, &verifier);
	if (report_key)
		ck_assert_int_eq(report_refresh(svc, NULL), CS_OK);
}

static void
setup(void)
{
	setup_common(true);
}

static void
setup_no_report_key(void)
{
	setup_common(false);
}

static void
teardown(void)
{
	svcfix_close(&fx);
	svc = NULL;
}

/* Run SQL on the store's file, as another process would. */
static void sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
sql(const char *fmt, ...)
{
	char q[1024];
	sqlite3 *db = NULL;
	char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q, sizeof(q), fmt, ap);
	va_end(ap);
	ck_assert_int_eq(sqlite3_open(svc->cfg.db_path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	ck_assert_msg(sqlite3_exec(db, q, NULL, NULL, &msg) == SQLITE_OK,
	    "%s: %s", q, msg != NULL ? msg : "?");
	sqlite3_close(db);
}

static void
issue(struct vctx *x, const char *from, const char *until)
{
	struct crypto_cms_result res;
	struct cs_err err = {0};
	json_t *req;

	req = json_pack("{s:s,s:{s:s,s:s,s:s},s:{s:s}}", "type", "TA01",
	    "holder", "name", HOLDER_NAME, "id_type", "resident_id",
	    "id_number", HOLDER_ID, "fields", "scope", "food");
	if (from != NULL)
		json_object_set_new(req, "valid_from", json_string(from));
	if (until != NULL)
		json_object_set_new(req, "valid_until", json_string(until));
	licence_issued_release(&x->lic);
	ck_assert_msg(
	    licence_issue(svc, &issuer, req, from != NULL ? from : "k",
	        LICENCE_NO_HOLDER_TOKEN, &x->lic, &err) == CS_OK,
	    "%s", err.msg);
	json_decref(req);
	buf_free(x->doc);
	buf_free(x->seal);
	x->doc = buf_from(x->lic.lic.document->data, x->lic.lic.document->len);
	x->seal = buf_from(x->lic.lic.seal_der->data, x->lic.lic.seal_der->len);
	ck_assert_int_eq(
	    crypto_cms_verify(x->doc->data, x->doc->len, x->seal->data,
	        x->seal->len, svc->root, &res, NULL),
	    CS_OK);
	ck_assert(res.signature_ok);
	x->signing_time = res.signing_time;
	ck_assert_int_gt(x->signing_time, 0);
	crypto_cms_result_release(&res);
}

/* --- timestamps: a TSA certified by the issuing CA, a software key ------- */

static int
fixed_time_cb(struct TS_resp_ctx *ctx, void *arg, long *sec, long *usec)
{
	(void)ctx;
	*sec = *(long *)arg;
	*usec = 0;
	return 1;
}

/*
 * Add to x->seal a signatureTimeStampToken at gen_time over the signature
 * value (or over other bytes when wrong_imprint).
 */
static void
add_timestamp(struct vctx *x, long gen_time, bool wrong_imprint)
{
	struct crypto_cert_spec spec;
	const unsigned char *p = x->seal->data;
	unsigned char dgst[32], *tokder = NULL, *out = NULL;
	EVP_PKEY *tsa_key;
	X509 *tsa = NULL;
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si;
	ASN1_OCTET_STRING *sig;
	TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
	X509_ALGOR *alg = X509_ALGOR_new();
	TS_REQ *req = TS_REQ_new();
	TS_RESP_CTX *rctx = TS_RESP_CTX_new();
	ASN1_OBJECT *policy = OBJ_txt2obj("1.3.6.1.4.1.99999.1", 1);
	BIO *reqbio = BIO_new(BIO_s_mem());
	TS_RESP *resp;
	int toklen, len;

	tsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	memset(&spec, 0, sizeof(spec));
	spec.profile = CRYPTO_CERT_TSA;
	spec.common_name = "test TSA";
	spec.days = 30;
	spec.subject_key = tsa_key;
	ck_assert_int_eq(ca_issue(svc, &spec, &tsa, NULL), CS_OK);

	cms = d2i_CMS_ContentInfo(NULL, &p, (long)x->seal->len);
	ck_assert_ptr_nonnull(cms);
	si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
	sig = CMS_SignerInfo_get0_signature(si);
	if (wrong_imprint)
		ck_assert_int_eq(
		    EVP_Digest("other", 5, dgst, NULL, EVP_sha256(), NULL), 1);
	else
		ck_assert_int_eq(EVP_Digest(ASN1_STRING_get0_data(sig),
		                     (size_t)ASN1_STRING_length(sig), dgst,
		                     NULL, EVP_sha256(), NULL),
		    1);
	ck_assert_int_eq(
	    X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL),
	    1);
	ck_assert_int_eq(TS_MSG_IMPRINT_set_algo(mi, alg), 1);
	ck_assert_int_eq(TS_MSG_IMPRINT_set_msg(mi, dgst, sizeof(dgst)), 1);
	ck_assert_int_eq(TS_REQ_set_version(req, 1), 1);
	ck_assert_int_eq(TS_REQ_set_msg_imprint(req, mi), 1);
	ck_assert_int_eq(TS_REQ_set_cert_req(req, 1), 1);
	ck_assert_int_eq(i2d_TS_REQ_bio(reqbio, req), 1);
	ck_assert_int_eq(TS_RESP_CTX_set_signer_cert(rctx, tsa), 1);
	ck_assert_int_eq(TS_RESP_CTX_set_signer_key(rctx, tsa_key), 1);
	ck_assert_int_eq(TS_RESP_CTX_set_signer_digest(rctx, EVP_sha256()), 1);
	ck_assert_int_eq(
	    TS_RESP_CTX_set_ess_cert_id_digest(rctx, EVP_sha256()), 1);
	ck_assert_int_eq(TS_RESP_CTX_set_def_policy(rctx, policy), 1);
	ck_assert_int_eq(TS_RESP_CTX_add_md(rctx, EVP_sha256()), 1);
	{
		STACK_OF(X509) *certs = sk_X509_new_null();

		sk_X509_push(certs, svc->issuing);
		ck_assert_int_eq(TS_RESP_CTX_set_certs(rctx, certs), 1);
		sk_X509_free(certs);
	}
	TS_RESP_CTX_set_time_cb(rctx, fixed_time_cb, &gen_time);
	resp = TS_RESP_create_response(rctx, reqbio);
	ck_assert_ptr_nonnull(resp);
	ck_assert_int_eq(ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(
	                     TS_RESP_get_status_info(resp))),
	    TS_STATUS_GRANTED);
	toklen = i2d_PKCS7(TS_RESP_get_token(resp), &tokder);
	ck_assert_int_gt(toklen, 0);
	ck_assert_int_eq(
	    CMS_unsigned_add1_attr_by_NID(si, NID_id_smime_aa_timeStampToken,
	        V_ASN1_SEQUENCE, tokder, toklen),
	    1);
	len = i2d_CMS_ContentInfo(cms, &out);
	ck_assert_int_gt(len, 0);
	buf_free(x->seal);
	x->seal = buf_from(out, (size_t)len);
	OPENSSL_free(out);
	OPENSSL_free(tokder);
	TS_RESP_free(resp);
	BIO_free(reqbio);
	ASN1_OBJECT_free(policy);
	TS_RESP_CTX_free(rctx);
	TS_REQ_free(req);
	TS_MSG_IMPRINT_free(mi);
	X509_ALGOR_free(alg);
	CMS_ContentInfo_free(cms);
	X509_free(tsa);
	EVP_PKEY_free(tsa_key);
}

/* --- the cases ----------------------------------------------------------- */

/* Replace the first occurrence of from by to (same length) in b. */
static void
patch(struct buf *b, const char *from, const char *to)
{
	char *at = strstr((char *)b->data, from);

	ck_assert_ptr_nonnull(at);
	ck_assert_uint_eq(strlen(from), strlen(to));
	memcpy(at, to, strlen(to));
}

static void
set_status(struct vctx *x, const char *status, const char *reason)
{
	sql("UPDATE licences SET status = '%s', status_reason = '%s'"
	    " WHERE id = '%s' AND version = 1",
	    status, reason, x->lic.lic.id);
}

static void
revoke_seal(int64_t when)
{
	sql("UPDATE seals SET status = 'revoked', reason = 'key compromise',"
	    " revoked_at = %lld WHERE id = '%s'",
	    (long long)when, seal_id);
}

static void
prep_none(struct vctx *x)
{
	(void)x;
}

static void
prep_tamper_doc(struct vctx *x)
{
	patch(x->doc, "\"scope\":\"food\"", "\"scope\":\"fooe\"");
}

static void
prep_not_canonical(struct vctx *x)
{
	ck_assert_int_eq(buf_append(x->doc, " ", 1), CS_OK);
}

static void
prep_tamper_seal(struct vctx *x)
{
	/* The last octet is the end of the ECDSA signature value. */
	x->seal->data[x->seal->len - 1] ^= 0x01;
}

static void
prep_truncate_seal(struct vctx *x)
{
	x->seal->len /= 2;
}

static void
prep_wrong_root(struct vctx *x)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *other;

	other = certfix_issue(CRYPTO_CERT_ROOT_CA, "another root", k, NULL, k);
	ck_assert_ptr_nonnull(other);
	EVP_PKEY_free(k);
	x->saved_root = svc->root;
	svc->root = other;
}

static void
prep_sealed_after_revocation(struct vctx *x)
{
	revoke_seal(x->signing_time - 60);
}

static void
prep_sealed_before_revocation(struct vctx *x)
{
	revoke_seal(x->signing_time + 60);
}

static void
prep_timestamp_before_revocation(struct vctx *x)
{
	add_timestamp(x, (long)x->signing_time + 10, false);
	revoke_seal(x->signing_time + 60);
}

static void
prep_timestamp_after_revocation(struct vctx *x)
{
	add_timestamp(x, (long)x->signing_time + 100, false);
	revoke_seal(x->signing_time + 60);
}

static void
prep_timestamp_good(struct vctx *x)
{
	add_timestamp(x, (long)x->signing_time + 10, false);
}

static void
prep_timestamp_bad(struct vctx *x)
{
	add_timestamp(x, (long)x->signing_time + 10, true);
}

static void
prep_suspended(struct vctx *x)
{
	set_status(x, "suspended", "under investigation");
}

static void
prep_revoked(struct vctx *x)
{
	set_status(x, "revoked", "issued in error");
}

static void
prep_penalty_revoked(struct vctx *x)
{
	set_status(x, "penalty_revoked", "fraud");
}

static void
prep_cancelled(struct vctx *x)
{
	set_status(x, "cancelled", "");
}

static void
prep_transferred(struct vctx *x)
{
	set_status(x, "transferred", "moved to 440300");
}

static void
prep_reinstated(struct vctx *x)
{
	set_status(x, "suspended", "under investigation");
	set_status(x, "valid", "reinstated");
}

static void
prep_superseded(struct vctx *x)
{
	struct store_licence v2 = x->lic.lic;
	struct store_tx *tx = NULL;

	v2.version = 2;
	v2.has_status_slot = false;
	ck_assert_int_eq(store_tx_begin(svc->store, &tx, NULL), CS_OK);
	ck_assert_int_eq(store_licence_put(tx, &v2, NULL), CS_OK);
	ck_assert_int_eq(store_tx_commit(tx, NULL), CS_OK);
	set_status(x, "superseded", "corrected");
}

static void
prep_expired(struct vctx *x)
{
	issue(x, "2020-01-01", "2020-12-31");
}

static void
prep_not_yet_valid(struct vctx *x)
{
	issue(x, "2099-01-01", "2099-12-31");
}

static void
prep_unknown_licence(struct vctx *x)
{
	/* Raw sqlite3 leaves foreign keys off: the row just goes. */
	sql("DELETE FROM licences WHERE id = '%s'", x->lic.lic.id);
}

static void
prep_doc_not_json(struct vctx *x)
{
	buf_free(x->doc);
	x->doc = buf_from("not json", 8);
}

static void
prep_doc_wrong_type(struct vctx *x)
{
	patch(x->doc, "\"scope\":\"food\"", "\"scopf\":\"food\"");
}

/* A request body given as JSON text, "@ID@" standing for the licence id. */
static void
req_text(struct vctx *x, const char *tmpl)
{
	const char *at = strstr(tmpl, "@ID@");
	struct buf *b = buf_new(256);

	if (at != NULL) {
		ck_assert_int_eq(
		    buf_append(b, tmpl, (size_t)(at - tmpl)), CS_OK);
		ck_assert_int_eq(buf_append_str(b, x->lic.lic.id), CS_OK);
		ck_assert_int_eq(buf_append_str(b, at + 4), CS_OK);
	} else {
		ck_assert_int_eq(buf_append_str(b, tmpl), CS_OK);
	}
	ck_assert_int_eq(jcs_parse(b->data, b->len, &x->req, NULL), CS_OK);
	buf_free(b);
}

static void
prep_empty_body(struct vctx *x)
{
	req_text(x, "{}");
}

static void
prep_bad_b64(struct vctx *x)
{
	req_text(x, "{\"document\":\"e30\",\"seal\":\"AAAA\"}");
}

static void
prep_b64_whitespace(struct vctx *x)
{
	req_text(x, "{\"document\":\"e3 0=\",\"seal\":\"AAAA\"}");
}

static void
prep_missing_seal(struct vctx *x)
{
	req_text(x, "{\"document\":\"e30=\"}");
}

static void
prep_envelope_not_object(struct vctx *x)
{
	req_text(x, "{\"envelope\":\"e30=\"}");
}

static void
prep_envelope_unknown_member(struct vctx *x)
{
	req_text(x,
	    "{\"envelope\":{\"document\":\"e30=\",\"seal\":\"AAAA\","
	    "\"extra\":1}}");
}

static void
prep_envelope_bad_format(struct vctx *x)
{
	req_text(x,
	    "{\"envelope\":{\"format\":\"x\",\"document\":\"e30=\","
	    "\"seal\":\"AAAA\"}}");
}

static void
prep_id_wrong_type(struct vctx *x)
{
	req_text(x, "{\"licence_id\":5}");
}

static void
prep_id_malformed(struct vctx *x)
{
	req_text(x, "{\"licence_id\":\"TA01-nope\"}");
}

static void
prep_id_version_string(struct vctx *x)
{
	req_text(x, "{\"licence_id\":\"@ID@\",\"version\":\"1\"}");
}

static void
prep_id_version_zero(struct vctx *x)
{
	req_text(x, "{\"licence_id\":\"@ID@\",\"version\":0}");
}

static void
prep_id_unknown_version(struct vctx *x)
{
	req_text(x, "{\"licence_id\":\"@ID@\",\"version\":7}");
}

static void
prep_id_unknown(struct vctx *x)
{
	char id[CODES_LICENCE_ID_MAX];

	ck_assert_int_eq(codes_licence_id("TA01", dept, 2026, 99999999, id,
	                     sizeof(id), NULL),
	    CS_OK);
	x->req = json_pack("{s:s}", "licence_id", id);
}

static void
prep_mixed_forms(struct vctx *x)
{
	req_text(x,
	    "{\"licence_id\":\"@ID@\",\"document\":\"e30=\",\"seal\":"
	    "\"AAAA\"}");
}

static void
prep_unknown_member(struct vctx *x)
{
	req_text(x, "{\"licence_id\":\"@ID@\",\"foo\":1}");
}

static void
prep_version_without_id(struct vctx *x)
{
	req_text(x, "{\"document\":\"e30=\",\"seal\":\"AAAA\",\"version\":1}");
}

/* A base64 string decoding to n bytes of 'A' ("QUFB" repeated). */
static json_t *
b64_of_size(size_t n)
{
	struct buf *raw = buf_new(n), *b64 = NULL;
	json_t *s;

	memset(raw->data, 'A', n);
	raw->len = n;
	ck_assert_int_eq(crypto_b64_encode(raw->data, n, &b64, NULL), CS_OK);
	s = json_stringn((const char *)b64->data, b64->len);
	buf_free(raw);
	buf_free(b64);
	return s;
}

static void
prep_huge_document(struct vctx *x)
{
	x->req = json_pack("{s:o,s:s}", "document", b64_of_size((1 << 20) + 1),
	    "seal", "AAAA");
}

static void
prep_huge_seal(struct vctx *x)
{
	x->req = json_pack("{s:s,s:o}", "document", "e30=", "seal",
	    b64_of_size(CRYPTO_CMS_MAX + 1));
}

static void
prep_largest_document(struct vctx *x)
{
	/* Exactly 1 MiB is verified: an answer, not a 400. */
	buf_free(x->doc);
	x->doc = buf_new(1 << 20);
	memset(x->doc->data, ' ', 1 << 20);
	x->doc->len = 1 << 20;
}

enum form { ENVELOPE, PAIR, BY_ID, RAW };

#define P "pass"
#define F "fail"
#define I "indeterminate"
#define N "not_applicable"

struct vcase {
	const char *name;
	void (*prep)(struct vctx *);
	enum form form;
	enum cs_rc rc;
	const char *result;
	const char *checks[7];
	int why_check;   /* index of the check whose reason is looked at */
	const char *why; /* substring of that reason (or of err.msg) */
};

static const char *const check_names[7] = {"document_format", "seal_signature",
    "certificate_chain", "certificate_status", "licence_status",
    "validity_period", "timestamp"};

static const struct vcase cases[] = {
    {"good envelope", prep_none, ENVELOPE, CS_OK, "valid",
        {P, P, P, P, P, P, N}, 4, "valid (有效)"},
    {"good document and seal", prep_none, PAIR, CS_OK, "valid",
        {P, P, P, P, P, P, N}, 6, "no timestamp"},
    {"good licence id", prep_none, BY_ID, CS_OK, "valid", {P, P, P, P, P, P, N},
        2, "chains to the certsvc root"},
    {"tampered document", prep_tamper_doc, PAIR, CS_OK, "invalid",
        {P, F, P, P, F, P, N}, 1, "does not cover"},
    {"document not canonical", prep_not_canonical, PAIR, CS_OK, "invalid",
        {F, F, P, P, F, P, N}, 0, "canonical form"},
    {"document not JSON", prep_doc_not_json, PAIR, CS_OK, "invalid",
        {F, F, I, I, I, I, N}, 0, "not JSON"},
    {"fields not of the type", prep_doc_wrong_type, PAIR, CS_OK, "invalid",
        {F, F, P, P, F, P, N}, 0, "fields."},
    {"tampered seal", prep_tamper_seal, PAIR, CS_OK, "invalid",
        {P, F, P, P, P, P, N}, 1, "does not cover"},
    {"truncated seal", prep_truncate_seal, PAIR, CS_OK, "invalid",
        {P, F, F, P, P, P, N}, 1, "not a DER"},
    {"wrong root", prep_wrong_root, ENVELOPE, CS_OK, "invalid",
        {P, P, F, P, P, P, N}, 2, "does not chain"},
    {"sealed after the seal's revocation", prep_sealed_after_revocation,
        ENVELOPE, CS_OK, "invalid", {P, P, P, F, P, P, N}, 3, "after seal"},
    {"sealed before revocation, no timestamp", prep_sealed_before_revocation,
        ENVELOPE, CS_OK, "indeterminate", {P, P, P, I, P, P, N}, 3,
        "no timestamp proves it"},
    {"sealed before revocation, timestamp proves it",
        prep_timestamp_before_revocation, PAIR, CS_OK, "valid",
        {P, P, P, P, P, P, P}, 3, "a timestamp proves"},
    {"timestamp after the revocation proves nothing",
        prep_timestamp_after_revocation, PAIR, CS_OK, "indeterminate",
        {P, P, P, I, P, P, P}, 3, "no timestamp proves it"},
    {"good timestamp", prep_timestamp_good, PAIR, CS_OK, "valid",
        {P, P, P, P, P, P, P}, 6, "RFC 3161"},
    {"timestamp over other data", prep_timestamp_bad, PAIR, CS_OK, "invalid",
        {P, P, P, P, P, P, F}, 6, "does not verify"},
    {"suspended", prep_suspended, ENVELOPE, CS_OK, "invalid",
        {P, P, P, P, F, P, N}, 4, "suspended (暂扣): under investigation"},
    {"revoked", prep_revoked, BY_ID, CS_OK, "invalid", {P, P, P, P, F, P, N}, 4,
        "revoked (撤销): issued in error"},
    {"penalty revoked", prep_penalty_revoked, ENVELOPE, CS_OK, "invalid",
        {P, P, P, P, F, P, N}, 4, "penalty_revoked (吊销): fraud"},
    {"cancelled", prep_cancelled, ENVELOPE, CS_OK, "invalid",
        {P, P, P, P, F, P, N}, 4, "cancelled (注销)"},
    {"transferred", prep_transferred, ENVELOPE, CS_OK, "invalid",
        {P, P, P, P, F, P, N}, 4, "transferred (转出)"},
    {"reinstated", prep_reinstated, ENVELOPE, CS_OK, "valid",
        {P, P, P, P, P, P, N}, 4, "valid (有效)"},
    {"superseded", prep_superseded, ENVELOPE, CS_OK, "invalid",
        {P, P, P, P, F, P, N}, 4,
        "superseded (变更/延续) by version 2: corrected"},
    {"expired", prep_expired, ENVELOPE, CS_OK, "invalid", {P, P, P, P, P, F, N},
        5, "expired (失效): valid until 2020-12-31"},
    {"not yet valid", prep_not_yet_valid, BY_ID, CS_OK, "invalid",
        {P, P, P, P, P, F, N}, 5, "not yet valid: valid from 2099-01-01"},
    {"unknown licence", prep_unknown_licence, ENVELOPE, CS_OK, "indeterminate",
        {P, P, P, P, I, P, N}, 4, "unknown"},
    {"largest document (1 MiB)", prep_largest_document, PAIR, CS_OK, "invalid",
        {F, F, I, I, I, I, N}, 0, "not JSON"},
    {"unknown licence id", prep_id_unknown, RAW, CS_ERR_NOT_FOUND, NULL, {NULL},
        0, "no licence"},
    {"unknown version", prep_id_unknown_version, RAW, CS_ERR_NOT_FOUND, NULL,
        {NULL}, 0, "version 7"},
    {"empty body", prep_empty_body, RAW, CS_ERR_INVALID, NULL, {NULL}, 0,
        "body: give one of"},
    {"bad base64", prep_bad_b64, RAW, CS_ERR_INVALID, NULL, {NULL}, 0,
        "document: not base64"},
    {"base64 with a space", prep_b64_whitespace, RAW, CS_ERR_INVALID, NULL,
        {NULL}, 0, "document: not base64"},
    {"missing seal", prep_missing_seal, RAW, CS_ERR_INVALID, NULL, {NULL}, 0,
        "seal: required"},
    {"envelope not an object", prep_envelope_not_object, RAW, CS_ERR_INVALID,
        NULL, {NULL}, 0, "envelope: must be an object"},
    {"envelope with an unknown member", prep_envelope_unknown_member, RAW,
        CS_ERR_INVALID, NULL, {NULL}, 0, "envelope.extra: unknown member"},
    {"envelope of another format", prep_envelope_bad_format, RAW,
        CS_ERR_INVALID, NULL, {NULL}, 0, "envelope.format"},
    {"licence_id not a string", prep_id_wrong_type, RAW, CS_ERR_INVALID, NULL,
        {NULL}, 0, "licence_id: must be"},
    {"licence_id malformed", prep_id_malformed, RAW, CS_ERR_INVALID, NULL,
        {NULL}, 0, "licence_id: must be"},
    {"version a string", prep_id_version_string, RAW, CS_ERR_INVALID, NULL,
        {NULL}, 0, "version: must be an integer"},
    {"version 0", prep_id_version_zero, RAW, CS_ERR_INVALID, NULL, {NULL}, 0,
        "version: must be an integer"},
    {"two forms at once", prep_mixed_forms, RAW, CS_ERR_INVALID, NULL, {NULL},
        0, "body: give one of"},
    {"unknown member", prep_unknown_member, RAW, CS_ERR_INVALID, NULL, {NULL},
        0, "foo: unknown member"},
    {"version without licence_id", prep_version_without_id, RAW, CS_ERR_INVALID,
        NULL, {NULL}, 0, "version: only with licence_id"},
    {"document over 1 MiB", prep_huge_document, RAW, CS_ERR_INVALID, NULL,
        {NULL}, 0, "document: at most 1048576 bytes"},
    {"seal over CRYPTO_CMS_MAX", prep_huge_seal, RAW, CS_ERR_INVALID, NULL,
        {NULL}, 0, "seal: at most 4194304 bytes"},
};

#define NCASES ((int)(sizeof(cases) / sizeof(cases[0])))

static json_t *
pair_json(const struct vctx *x)
{
	struct buf *d = NULL, *s = NULL;
	json_t *o;

	ck_assert_int_eq(
	    crypto_b64_encode(x->doc->data, x->doc->len, &d, NULL), CS_OK);
	ck_assert_int_eq(
	    crypto_b64_encode(x->seal->data, x->seal->len, &s, NULL), CS_OK);
	o = json_pack(
	    "{s:s,s:s}", "document", (char *)d->data, "seal", (char *)s->data);
	buf_free(d);
	buf_free(s);
	return o;
}

START_TEST(verify_table)
{
	const struct vcase *c = &cases[_i];
	struct cs_err err = {0};
	struct vctx x;
	json_t *req, *out = NULL, *checks, *ck;
	const char *reason;
	enum cs_rc rc;
	size_t i;

	memset(&x, 0, sizeof(x));
	issue(&x, NULL, NULL);
	c->prep(&x);
	switch (c->form) {
	case ENVELOPE:
		req = json_pack("{s:o}", "envelope", pair_json(&x));
		json_object_set_new(json_object_get(req, "envelope"), "format",
		    json_string("certsvc-envelope/1"));
		break;
	case PAIR:
		req = pair_json(&x);
		break;
	case BY_ID:
		req = json_pack("{s:s}", "licence_id", x.lic.lic.id);
		break;
	case RAW:
	default:
		req = json_incref(x.req);
		break;
	}
	ck_assert_ptr_nonnull(req);
	rc = verify_request(svc, &verifier, req, &out, &err);
	if (x.saved_root != NULL) {
		X509_free(svc->root);
		svc->root = x.saved_root;
	}
	ck_assert_msg(rc == c->rc, "%s: rc %d, want %d (%s)", c->name, rc,
	    c->rc, err.msg);
	if (c->rc != CS_OK) {
		ck_assert_ptr_null(out);
		ck_assert_msg(strstr(err.msg, c->why) != NULL,
		    "%s: message '%s' lacks '%s'", c->name, err.msg, c->why);
		goto done;
	}
	ck_assert_str_eq(
	    json_string_value(json_object_get(out, "result")), c->result);
	checks = json_object_get(out, "checks");
	ck_assert_uint_eq(json_array_size(checks), 7);
	for (i = 0; i < 7; i++) {
		ck = json_array_get(checks, i);
		ck_assert_str_eq(json_string_value(json_object_get(ck, "name")),
		    check_names[i]);
		ck_assert_msg(
		    strcmp(json_string_value(json_object_get(ck, "result")),
		        c->checks[i]) == 0,
		    "%s: %s is %s (%s), want %s", c->name, check_names[i],
		    json_string_value(json_object_get(ck, "result")),
		    json_string_value(json_object_get(ck, "reason")),
		    c->checks[i]);
		ck_assert_str_ne(
		    json_string_value(json_object_get(ck, "reason")), "");
	}
	reason = json_string_value(
	    json_object_get(json_array_get(checks, c->why_check), "reason"));
	ck_assert_msg(strstr(reason, c->why) != NULL,
	    "%s: %s reason '%s' lacks '%s'", c->name, check_names[c->why_check],
	    reason, c->why);
	ck_assert(json_is_object(json_object_get(out, "report")));
done:
	json_decref(out);
	json_decref(req);
	json_decref(x.req);
	buf_free(x.doc);
	buf_free(x.seal);
	licence_issued_release(&x.lic);
}
END_TEST

/* --- the report, roles, no report key ------------------------------------ */

static void
sha256_hex(const struct buf *b, char out[65])
{
	unsigned char md[32];
	size_t i;

	ck_assert_int_eq(
	    EVP_Digest(b->data, b->len, md, NULL, EVP_sha256(), NULL), 1);
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

START_TEST(report_is_signed_and_minimal)
{
	struct report_verified rv;
	struct vctx x;
	struct cs_err err = {0};
	char dh[65], sh[65];
	json_t *req, *out = NULL, *rep;
	char *text;

	memset(&x, 0, sizeof(x));
	issue(&x, NULL, NULL);
	req = pair_json(&x);
	ck_assert_msg(verify_request(svc, &verifier, req, &out, &err) == CS_OK,
	    "%s", err.msg);
	ck_assert_str_eq(json_string_value(json_object_get(out, "licence_id")),
	    x.lic.lic.id);
	ck_assert_int_eq(
	    json_integer_value(json_object_get(out, "version")), 1);
	ck_assert_int_eq(report_verify(out, svc->root, &rv, NULL), CS_OK);
	ck_assert_msg(rv.ok, "%s", rv.reason);
	rep = rv.report;
	ck_assert_str_eq(
	    json_string_value(json_object_get(rep, "format")), REPORT_FORMAT);
	ck_assert_str_eq(
	    json_string_value(json_object_get(rep, "result")), "valid");
	ck_assert_str_eq(
	    json_string_value(json_object_get(rep, "verifier")), verifier.id);
	ck_assert_str_eq(json_string_value(json_object_get(rep, "licence_id")),
	    x.lic.lic.id);
	ck_assert_int_eq(
	    json_integer_value(json_object_get(rep, "version")), 1);
	ck_assert(json_equal(
	    json_object_get(rep, "checks"), json_object_get(out, "checks")));
	sha256_hex(x.doc, dh);
	sha256_hex(x.seal, sh);
	ck_assert_str_eq(
	    json_string_value(json_object_get(rep, "document_sha256")), dh);
	ck_assert_str_eq(
	    json_string_value(json_object_get(rep, "seal_sha256")), sh);
	ck_assert_int_eq(
	    strncmp(json_string_value(json_object_get(rep, "id")), "R-", 2), 0);
	ck_assert_uint_eq(
	    strlen(json_string_value(json_object_get(rep, "id"))), 34);
	ck_assert_str_eq(json_string_value(json_object_get(rep, "id")),
	    json_string_value(
	        json_object_get(json_object_get(out, "report"), "id")));
	/* No holder identifiers anywhere in the answer. */
	text = json_dumps(out, JSON_COMPACT | JSON_ENSURE_ASCII);
	ck_assert_ptr_null(strstr(text, HOLDER_ID));
	free(text);
	text = json_dumps(rep, 0);
	ck_assert_ptr_null(strstr(text, HOLDER_ID));
	ck_assert_ptr_null(strstr(text, HOLDER_NAME));
	free(text);
	report_verified_release(&rv);
	json_decref(out);
	json_decref(req);
	buf_free(x.doc);
	buf_free(x.seal);
	licence_issued_release(&x.lic);
}
END_TEST

START_TEST(only_verifiers_verify)
{
	struct vctx x;
	struct cs_err err = {0};
	json_t *req, *out = NULL;

	memset(&x, 0, sizeof(x));
	issue(&x, NULL, NULL);
	req = json_pack("{s:s}", "licence_id", x.lic.lic.id);
	ck_assert_int_eq(
	    verify_request(svc, &issuer, req, &out, &err), CS_ERR_DENIED);
	ck_assert_ptr_null(out);
	ck_assert_ptr_nonnull(strstr(err.msg, "verifier"));
	json_decref(req);
	buf_free(x.doc);
	buf_free(x.seal);
	licence_issued_release(&x.lic);
}
END_TEST

START_TEST(no_report_key_is_503)
{
	struct vctx x;
	struct cs_err err = {0};
	json_t *req, *out = NULL;

	memset(&x, 0, sizeof(x));
	issue(&x, NULL, NULL);
	req = json_pack("{s:s}", "licence_id", x.lic.lic.id);
	ck_assert_int_eq(
	    verify_request(svc, &verifier, req, &out, &err), CS_ERR_TOKEN);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(cs_rc_http_status(err.rc), 503);
	ck_assert_ptr_nonnull(strstr(err.msg, "report signing key"));
	/* Once the refresher has made one, the same request is answered. */
	ck_assert_int_eq(report_refresh(svc, NULL), CS_OK);
	ck_assert_int_eq(
	    verify_request(svc, &verifier, req, &out, &err), CS_OK);
	json_decref(out);
	json_decref(req);
	buf_free(x.doc);
	buf_free(x.seal);
	licence_issued_release(&x.lic);
}
END_TEST

static Suite *
verify_suite(void)
{
	Suite *s = suite_create("verify");
	TCase *tc = tcase_create("table");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, verify_table, 0, NCASES);
	suite_add_tcase(s, tc);
	tc = tcase_create("report");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, report_is_signed_and_minimal);
	tcase_add_test(tc, only_verifiers_verify);
	suite_add_tcase(s, tc);
	tc = tcase_create("no report key");
	tcase_add_checked_fixture(tc, setup_no_report_key, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, no_report_key_is_503);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(verify_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
