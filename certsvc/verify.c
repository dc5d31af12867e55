/*
 * verify.c: licence verification (POST /v1/verify) and its signed report.
 *
 * Every check is reported on its own, in a fixed order, with one of pass,
 * fail, indeterminate or not_applicable and a reason a person can act on;
 * docs/verification.md gives the rules.  The overall result is invalid if
 * any check fails, else indeterminate if any is indeterminate, else valid.
 * A bad seal, an unknown licence or a revoked one is an answer (CS_OK); only
 * a malformed request (CS_ERR_INVALID naming the member), a caller who is
 * not a verifier, or a failure to run the checks is an error.
 *
 * The answer is itself evidence: a report (canonical JSON, certsvc-report/1)
 * sealed with the in-memory report key (report.c), so no request costs a
 * token operation.  Reports and reasons never carry holder identifiers:
 * they name the licence, the hashes of what was presented and the checks.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "certsvc/codes.h"
#include "certsvc/jcs.h"
#include "certsvc/jreq.h"
#include "certsvc/licence.h"
#include "certsvc/ltype.h"
#include "certsvc/mem.h"
#include "certsvc/report.h"
#include "certsvc/verify.h"
#include "crypto/crypto.h"

#define VERIFY_DOC_MAX (1 << 20)    /* largest document verified */
#define VERIFY_TZ_OFFSET (8 * 3600) /* China Standard Time */
#define VERIFY_VERSION_MAX 1000000
#define VERIFY_REASON_MAX 256
#define ENVELOPE_FORMAT "certsvc-envelope/1"

enum verify_outcome {
	VERIFY_PASS,
	VERIFY_FAIL,
	VERIFY_INDETERMINATE,
	VERIFY_NOT_APPLICABLE,
};

static const char *const verify_outcome_names[] = {
    "pass", "fail", "indeterminate", "not_applicable"};

/* The checks, in the order they are reported. */
enum verify_check_id {
	CHECK_DOCUMENT_FORMAT,
	CHECK_SEAL_SIGNATURE,
	CHECK_CERTIFICATE_CHAIN,
	CHECK_CERTIFICATE_STATUS,
	CHECK_LICENCE_STATUS,
	CHECK_VALIDITY_PERIOD,
	CHECK_TIMESTAMP,
	CHECK_COUNT,
};

static const char *const verify_check_names[CHECK_COUNT] = {
    "document_format",
    "seal_signature",
    "certificate_chain",
    "certificate_status",
    "licence_status",
    "validity_period",
    "timestamp",
};

struct verify_check {
	enum verify_outcome result;
	char reason[VERIFY_REASON_MAX];
};

/* What the document says, each member set only when well-formed. */
struct verify_doc {
	json_t *root; /* the parsed document, or NULL */
	const char *format;
	const char *id;
	int version; /* 0: unknown */
	const char *type_code;
	const char *issuer_code;
	const char *seal_id;
	const char *cert_sha256; /* 64 lower-case hex */
	const json_t *fields;
	bool has_dates;
	int64_t from_day, until_day; /* days since the epoch, CST */
	char from[16], until[16];    /* as written */
};

struct verify_run {
	struct svc *svc;
	struct buf *doc, *seal; /* what is verified (owned) */
	bool from_store;        /* the licence_id form */
	char id[STORE_LICENCE_ID_MAX];
	int version;
	/* The licence_id form: the row read (no document or seal) */
	struct store_licence row;
	struct verify_doc d;
	struct crypto_cms_result cms;
	struct crypto_ts_result ts;
	unsigned char signer_sha256[32];
	bool has_signer_sha256;
	int64_t now;
	struct verify_check c[CHECK_COUNT];
};

/* --- small helpers ------------------------------------------------------- */

static void verify_set(struct verify_run *v, enum verify_check_id id,
    enum verify_outcome r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Set check id; the reason is cut at a character boundary if too long
 * (reports are canonical JSON, which must be UTF-8).
 */
static void
verify_set(struct verify_run *v, enum verify_check_id id, enum verify_outcome r,
    const char *fmt, ...)
{
	struct verify_check *c = &v->c[id];
	va_list ap;
	size_t n;

	c->result = r;
	va_start(ap, fmt);
	vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
	va_end(ap);
	n = strlen(c->reason);
	while (n > 0 && cs_utf8_count(c->reason, n, true) < 0)
		c->reason[--n] = '\0';
}

static bool
verify_is_hex64(const char *s)
{
	size_t i;

	if (s == NULL || strlen(s) != 64)
		return false;
	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		        (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* --- the request --------------------------------------------------------- */

/* Decode member name (base64 text s) into *out, at most max bytes. */
static enum cs_rc
verify_b64(const char *name, const json_t *s, size_t max, struct buf **out,
    struct cs_err *err)
{
	size_t n;

	*out = NULL;
	if (!json_is_string(s))
		return cs_err_set(
		    err, CS_ERR_INVALID, "%s: required, a base64 string", name);
	n = json_string_length(s);
	if (n == 0)
		return cs_err_set(err, CS_ERR_INVALID, "%s: empty", name);
	if (n > (max + 2) / 3 * 4)
		return cs_err_set(err, CS_ERR_INVALID,
		    "%s: at most %zu bytes (before base64)", name, max);
	if (crypto_b64_decode(json_string_value(s), n, out, NULL) != CS_OK)
		return cs_err_set(err, CS_ERR_INVALID,
		    "%s: not base64 (RFC 4648, padded, no line breaks)", name);
	if ((*out)->len > max) {
		buf_free(*out);
		*out = NULL;
		return cs_err_set(err, CS_ERR_INVALID,
		    "%s: at most %zu bytes (before base64)", name, max);
	}
	return CS_OK;
}

/* document and seal from a {document, seal} object (the body or env). */
static enum cs_rc
verify_pair(struct verify_run *v, const json_t *obj, const char *path,
    struct cs_err *err)
{
	char name[32];
	enum cs_rc rc;

	snprintf(name, sizeof(name), "%sdocument", path);
	rc = verify_b64(name, json_object_get(obj, "document"), VERIFY_DOC_MAX,
	    &v->doc, err);
	if (rc != CS_OK)
		return rc;
	snprintf(name, sizeof(name), "%sseal", path);
	return verify_b64(
	    name, json_object_get(obj, "seal"), CRYPTO_CMS_MAX, &v->seal, err);
}

/* The licence_id form: the stored document and seal of (id, version). */
static enum cs_rc
verify_by_id(struct verify_run *v, const json_t *req, struct cs_err *err)
{
	const json_t *id = json_object_get(req, "licence_id");
	const json_t *ver = json_object_get(req, "version");
	struct store_licence l;
	json_int_t n = 0;
	enum cs_rc rc;

	if (!json_is_string(id) || json_string_length(id) >= sizeof(v->id) ||
	    codes_licence_id_check(json_string_value(id), NULL) != CS_OK)
		return cs_err_set(err, CS_ERR_INVALID,
		    "licence_id: must be a licence identifier "
		    "(docs/identifiers.md)");
	if (ver != NULL) {
		n = json_is_integer(ver) ? json_integer_value(ver) : 0;
		if (n < 1 || n > VERIFY_VERSION_MAX)
			return cs_err_set(err, CS_ERR_INVALID,
			    "version: must be an integer from 1 to %d",
			    VERIFY_VERSION_MAX);
	}
	memset(&l, 0, sizeof(l));
	rc = store_licence_get(
	    v->svc->store, json_string_value(id), (int)n, &l, err);
	if (rc == CS_ERR_NOT_FOUND) {
		if (n > 0)
			return cs_err_set(err, CS_ERR_NOT_FOUND,
			    "no licence '%.96s' version %d",
			    json_string_value(id), (int)n);
		return cs_err_set(err, CS_ERR_NOT_FOUND, "no licence '%.96s'",
		    json_string_value(id));
	}
	if (rc != CS_OK)
		return rc;
	cs_strlcpy(v->id, l.id, sizeof(v->id));
	v->version = l.version;
	v->from_store = true;
	v->doc = l.document;
	v->seal = l.seal_der;
	l.document = l.seal_der = NULL;
	/* Its status is read with its bytes: check_licence_status uses it. */
	v->row = l;
	return CS_OK;
}

static enum cs_rc
verify_parse(struct verify_run *v, const json_t *req, struct cs_err *err)
{
	static const char *const top[] = {
	    "envelope", "document", "seal", "licence_id", "version", NULL};
	static const char *const env[] = {
	    "format", "id", "version", "document", "seal", NULL};
	const char *usage = "body: give one of {\"envelope\": {...}}, "
	                    "{\"document\", \"seal\"} or {\"licence_id\"}";
	const json_t *e = json_object_get(req, "envelope");
	bool pair = json_object_get(req, "document") != NULL ||
	    json_object_get(req, "seal") != NULL;
	bool byid = json_object_get(req, "licence_id") != NULL;
	const char *fmt;
	enum cs_rc rc;

	rc = jreq_body(req, top, err);
	if (rc != CS_OK)
		return rc;
	if ((e != NULL) + pair + byid != 1)
		return cs_err_set(err, CS_ERR_INVALID, "%s", usage);
	if (!byid && json_object_get(req, "version") != NULL)
		return cs_err_set(
		    err, CS_ERR_INVALID, "version: only with licence_id");
	if (byid)
		return verify_by_id(v, req, err);
	if (pair)
		return verify_pair(v, req, "", err);
	if (!json_is_object(e))
		return cs_err_set(
		    err, CS_ERR_INVALID, "envelope: must be an object");
	rc = jreq_only(e, "envelope", env, err);
	if (rc != CS_OK)
		return rc;
	fmt = jreq_str(e, "format");
	if (json_object_get(e, "format") != NULL &&
	    (fmt == NULL || strcmp(fmt, ENVELOPE_FORMAT) != 0))
		return cs_err_set(err, CS_ERR_INVALID,
		    "envelope.format: must be '%s'", ENVELOPE_FORMAT);
	return verify_pair(v, e, "envelope.", err);
}

/* --- document_format ----------------------------------------------------- */

/* Pick out the members the other checks use, each when well-formed. */
static void
verify_doc_read(struct verify_doc *d)
{
	const json_t *r = d->root, *ver, *o;
	const char *from, *until;

	d->format = jreq_str(r, "format");
	d->id = jreq_str(r, "id");
	if (d->id != NULL && codes_licence_id_check(d->id, NULL) != CS_OK)
		d->id = NULL;
	ver = json_object_get(r, "version");
	if (json_is_integer(ver) && json_integer_value(ver) >= 1 &&
	    json_integer_value(ver) <= VERIFY_VERSION_MAX)
		d->version = (int)json_integer_value(ver);
	d->type_code = jreq_str(json_object_get(r, "type"), "code");
	d->issuer_code = jreq_str(json_object_get(r, "issuer"), "credit_code");
	o = json_object_get(r, "seal");
	d->seal_id = jreq_str(o, "id");
	d->cert_sha256 = jreq_str(o, "certificate_sha256");
	if (!verify_is_hex64(d->cert_sha256))
		d->cert_sha256 = NULL;
	o = json_object_get(r, "fields");
	d->fields = json_is_object(o) ? o : NULL;
	from = jreq_str(r, "valid_from");
	until = jreq_str(r, "valid_until");
	if (from != NULL && until != NULL &&
	    licence_date_parse(from, &d->from_day) &&
	    licence_date_parse(until, &d->until_day) &&
	    d->until_day >= d->from_day) {
		d->has_dates = true;
		cs_strlcpy(d->from, from, sizeof(d->from));
		cs_strlcpy(d->until, until, sizeof(d->until));
	}
}

/* The members of a certsvc-licence/1 document (docs/envelope.md). */
static const char *const verify_v1_members[] = {"fields", "format", "holder",
    "id", "issued_at", "issuer", "seal", "type", "valid_from", "valid_until",
    "version", NULL};

static enum cs_rc
check_document(struct verify_run *v, struct cs_err *err)
{
	struct verify_doc *d = &v->d;
	const enum verify_check_id id = CHECK_DOCUMENT_FORMAT;
	struct cs_err e = {0};
	struct buf *canon = NULL;
	struct ltype *lt = NULL;
	const json_t *h;
	size_t i, n;
	enum cs_rc rc;

	if (jcs_parse(v->doc->data, v->doc->len, &d->root, &e) != CS_OK) {
		verify_set(
		    v, id, VERIFY_FAIL, "document is not JSON: %s", e.msg);
		return CS_OK;
	}
	if (!json_is_object(d->root)) {
		verify_set(v, id, VERIFY_FAIL, "document is not a JSON object");
		return CS_OK;
	}
	verify_doc_read(d);
	rc = jcs_encode(d->root, &canon, &e);
	if (rc != CS_OK || canon->len != v->doc->len ||
	    memcmp(canon->data, v->doc->data, canon->len) != 0) {
		buf_free(canon);
		verify_set(v, id, VERIFY_FAIL,
		    "document is not in canonical form (RFC 8785), so it is "
		    "not bytes certsvc issued");
		return CS_OK;
	}
	buf_free(canon);
	if (d->format == NULL ||
	    (strcmp(d->format, "certsvc-licence/1") != 0 &&
	        strcmp(d->format, "certsvc-licence/2") != 0)) {
		verify_set(v, id, VERIFY_FAIL,
		    "format: must be certsvc-licence/1 or certsvc-licence/2");
		return CS_OK;
	}
	if (strcmp(d->format, "certsvc-licence/1") == 0) {
		n = 0;
		for (i = 0; verify_v1_members[i] != NULL; i++)
			n += json_object_get(d->root, verify_v1_members[i]) !=
			    NULL;
		if (n != json_object_size(d->root) || n != i) {
			verify_set(v, id, VERIFY_FAIL,
			    "members are not those of certsvc-licence/1");
			return CS_OK;
		}
	}
	h = json_object_get(d->root, "holder");
	if (d->id == NULL)
		verify_set(v, id, VERIFY_FAIL,
		    "id: not a licence identifier (bad form or check "
		    "character)");
	else if (d->version == 0)
		verify_set(v, id, VERIFY_FAIL,
		    "version: must be an integer from 1 to %d",
		    VERIFY_VERSION_MAX);
	else if (d->type_code == NULL || d->issuer_code == NULL)
		verify_set(v, id, VERIFY_FAIL,
		    "type.code and issuer.credit_code: required strings");
	else if (d->seal_id == NULL || d->cert_sha256 == NULL)
		verify_set(v, id, VERIFY_FAIL,
		    "seal: needs id and certificate_sha256 (64 hex)");
	else if (!json_is_object(h) || jreq_str(h, "name") == NULL ||
	    jreq_str(h, "id_type") == NULL || jreq_str(h, "id_number") == NULL)
		verify_set(v, id, VERIFY_FAIL,
		    "holder: needs name, id_type and id_number");
	else if (d->fields == NULL)
		verify_set(v, id, VERIFY_FAIL, "fields: required, an object");
	else if (jreq_str(d->root, "issued_at") == NULL)
		verify_set(v, id, VERIFY_FAIL, "issued_at: required");
	else if (!d->has_dates)
		verify_set(v, id, VERIFY_FAIL,
		    "valid_from, valid_until: must be dates, not reversed");
	else if (strncmp(d->id, d->type_code, strlen(d->type_code)) != 0 ||
	    d->id[strlen(d->type_code)] != '-' ||
	    strncmp(d->id + strlen(d->type_code) + 1, d->issuer_code,
	        strlen(d->issuer_code)) != 0)
		verify_set(v, id, VERIFY_FAIL,
		    "id does not name the document's type and issuer");
	else
		goto type;
	return CS_OK;
type:
	rc = ltype_load(v->svc, d->type_code, &lt, &e);
	if (rc == CS_ERR_NOT_FOUND) {
		verify_set(v, id, VERIFY_PASS,
		    "canonical %s document; type '%.40s' is not known here, "
		    "so its fields were not checked",
		    d->format, d->type_code);
		return CS_OK;
	}
	if (rc != CS_OK) {
		*err = e;
		return rc;
	}
	if (ltype_check_fields(lt, d->fields, &e) != CS_OK)
		verify_set(v, id, VERIFY_FAIL, "%s", e.msg);
	else
		verify_set(v, id, VERIFY_PASS,
		    "canonical %s document, fields as type '%s' defines",
		    d->format, lt->code);
	ltype_free(lt);
	return CS_OK;
}

/* --- seal_signature, certificate_chain ----------------------------------- */

static enum cs_rc
check_seal(struct verify_run *v, struct cs_err *err)
{
	enum cs_rc rc;
	unsigned len = 0;

	rc = crypto_cms_verify_cached(v->doc->data, v->doc->len, v->seal->data,
	    v->seal->len, v->svc->root, v->svc->certs, &v->cms, err);
	if (rc != CS_OK)
		return rc;
	/* The timestamp comes from the same parse. */
	v->ts.present = v->cms.ts_present;
	v->ts.ok = v->cms.ts_ok;
	v->ts.time = v->cms.ts_time;
	memcpy(v->ts.reason, v->cms.ts_reason, sizeof(v->ts.reason));
	if (v->cms.signer != NULL &&
	    X509_digest(v->cms.signer, EVP_sha256(), v->signer_sha256, &len) ==
	        1 &&
	    len == sizeof(v->signer_sha256))
		v->has_signer_sha256 = true;
	if (!v->cms.parsed)
		verify_set(v, CHECK_SEAL_SIGNATURE, VERIFY_FAIL,
		    "seal is not a DER detached CMS SignedData: %s",
		    v->cms.reason);
	else if (!v->cms.signature_ok)
		verify_set(v, CHECK_SEAL_SIGNATURE, VERIFY_FAIL,
		    "the seal's signature does not cover these document "
		    "bytes: %s",
		    v->cms.reason);
	else
		verify_set(v, CHECK_SEAL_SIGNATURE, VERIFY_PASS,
		    "the seal's signature covers the exact document bytes");
	return CS_OK;
}

/* organizationIdentifier of x into out ("" if none). */
static void
verify_org_id(X509 *x, char *out, size_t outsz)
{
	X509_NAME *name = X509_get_subject_name(x);
	int i =
	    X509_NAME_get_index_by_NID(name, NID_organizationIdentifier, -1);
	ASN1_STRING *s;
	unsigned char *utf8 = NULL;
	int n;

	out[0] = '\0';
	if (i < 0)
		return;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	n = ASN1_STRING_to_UTF8(&utf8, s);
	if (n > 0 && (size_t)n < outsz) {
		memcpy(out, utf8, (size_t)n);
		out[n] = '\0';
	}
	OPENSSL_free(utf8);
}

static enum cs_rc
check_chain(struct verify_run *v, struct cs_err *err)
{
	const enum verify_check_id id = CHECK_CERTIFICATE_CHAIN;
	char orgid[128], want[128], why[256], hex[65];
	STACK_OF(X509) *untrusted = NULL;
	bool ok = false;
	enum cs_rc rc;

	if (v->cms.signer == NULL) {
		verify_set(v, id, VERIFY_FAIL,
		    "the seal carries no signer certificate");
		return CS_OK;
	}
	if (!v->cms.chain_ok) {
		/* The result's reason may be the signature's: ask again. */
		why[0] = '\0';
		untrusted = sk_X509_new_null();
		if (untrusted == NULL ||
		    (v->svc->issuing != NULL &&
		        sk_X509_push(untrusted, v->svc->issuing) <= 0)) {
			sk_X509_free(untrusted);
			return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		}
		rc = crypto_cert_verify(v->cms.signer, v->svc->root, untrusted,
		    &ok, why, sizeof(why), err);
		sk_X509_free(untrusted);
		if (rc != CS_OK)
			return rc;
		verify_set(v, id, VERIFY_FAIL,
		    "the seal certificate does not chain to the certsvc "
		    "root: %s",
		    why[0] != '\0' ? why : v->cms.reason);
		return CS_OK;
	}
	if (v->d.issuer_code == NULL || v->d.cert_sha256 == NULL) {
		verify_set(v, id, VERIFY_INDETERMINATE,
		    "chains to the certsvc root, but the document names no "
		    "issuer or seal certificate to match it against");
		return CS_OK;
	}
	verify_org_id(v->cms.signer, orgid, sizeof(orgid));
	snprintf(want, sizeof(want), "NTR%s-%s", v->svc->cfg.ca_country,
	    v->d.issuer_code);
	if (strcmp(orgid, want) != 0) {
		verify_set(v, id, VERIFY_FAIL,
		    "the signer is not a seal of the issuing department "
		    "'%.40s'",
		    v->d.issuer_code);
		return CS_OK;
	}
	cs_hex(v->signer_sha256, sizeof(v->signer_sha256), hex);
	if (!v->has_signer_sha256 || strcmp(hex, v->d.cert_sha256) != 0) {
		verify_set(v, id, VERIFY_FAIL,
		    "the signer is not the certificate the document names "
		    "(seal.certificate_sha256)");
		return CS_OK;
	}
	verify_set(v, id, VERIFY_PASS,
	    "seal certificate of department '%s', chains to the certsvc root",
	    v->d.issuer_code);
	return CS_OK;
}

/* --- certificate_status -------------------------------------------------- */

/*
 * True when the signer is a certificate seal s had before a rotation
 * (rotate.c): it stays valid, so what it sealed keeps verifying, unless
 * it was revoked on its own (then s says so, from then on).
 */
static bool
verify_retired_cert(struct verify_run *v, struct store_seal *s)
{
	struct store_seal_key k;

	if (store_seal_key_get(
	        v->svc->store, s->id, v->signer_sha256, &k, NULL) != CS_OK)
		return false;
	if (strcmp(k.status, "revoked") == 0 &&
	    (s->revoked_at <= 0 || k.revoked_at < s->revoked_at)) {
		cs_strlcpy(s->status, "revoked", sizeof(s->status));
		s->revoked_at = k.revoked_at;
	}
	buf_free(k.cert_der);
	return true;
}

static enum cs_rc
check_cert_status(struct verify_run *v, struct cs_err *err)
{
	const enum verify_check_id id = CHECK_CERTIFICATE_STATUS;
	unsigned char md[32];
	char rev[32], t[32];
	struct store_seal s;
	int64_t claimed;
	enum cs_rc rc;

	if (v->d.seal_id == NULL) {
		verify_set(
		    v, id, VERIFY_INDETERMINATE, "the document names no seal");
		return CS_OK;
	}
	memset(&s, 0, sizeof(s));
	rc = store_seal_get(v->svc->store, v->d.seal_id, &s, err);
	if (rc == CS_ERR_NOT_FOUND) {
		cs_err_clear(err);
		verify_set(v, id, VERIFY_INDETERMINATE,
		    "seal '%.40s' is unknown here", v->d.seal_id);
		return CS_OK;
	}
	if (rc != CS_OK)
		return rc;
	if (v->has_signer_sha256 &&
	    (EVP_Digest(s.cert_der->data, s.cert_der->len, md, NULL,
	         EVP_sha256(), NULL) != 1 ||
	        memcmp(md, v->signer_sha256, sizeof(md)) != 0) &&
	    !verify_retired_cert(v, &s)) {
		verify_set(v, id, VERIFY_FAIL,
		    "the signer is not the certificate of seal '%s'", s.id);
		goto out;
	}
	if (v->d.issuer_code != NULL && strcmp(s.dept, v->d.issuer_code) != 0) {
		verify_set(v, id, VERIFY_FAIL,
		    "seal '%s' belongs to another department", s.id);
		goto out;
	}
	if (s.revoked_at <= 0 && strcmp(s.status, "revoked") != 0) {
		verify_set(
		    v, id, VERIFY_PASS, "seal '%s' is not revoked", s.id);
		goto out;
	}
	cs_time_utc(s.revoked_at, rev, sizeof(rev));
	if (v->ts.ok && v->ts.time < s.revoked_at) {
		cs_time_utc(v->ts.time, t, sizeof(t));
		verify_set(v, id, VERIFY_PASS,
		    "seal '%s' was revoked at %s; a timestamp proves the "
		    "sealing by %s, before",
		    s.id, rev, t);
		goto out;
	}
	claimed = v->cms.signature_ok ? v->cms.signing_time : 0;
	if (claimed > 0 && claimed >= s.revoked_at) {
		cs_time_utc(claimed, t, sizeof(t));
		verify_set(v, id, VERIFY_FAIL,
		    "sealed at %s, after seal '%s' was revoked at %s", t, s.id,
		    rev);
		goto out;
	}
	if (claimed > 0)
		cs_time_utc(claimed, t, sizeof(t));
	verify_set(v, id, VERIFY_INDETERMINATE,
	    "seal '%s' was revoked at %s; the seal says it was made at %s, "
	    "but no timestamp proves it",
	    s.id, rev, claimed > 0 ? t : "an unknown time");
out:
	store_seal_release(&s);
	return CS_OK;
}

/* --- licence_status ------------------------------------------------------ */

static const char *
verify_state_zh(const char *status)
{
	static const struct {
		const char *en, *zh;
	} names[] = {
	    {LICENCE_VALID, "有效"},
	    {LICENCE_SUSPENDED, "暂扣"},
	    {LICENCE_REVOKED, "撤销"},
	    {LICENCE_PENALTY_REVOKED, "吊销"},
	    {LICENCE_CANCELLED, "注销"},
	    {LICENCE_SUPERSEDED, "变更/延续"},
	    {LICENCE_TRANSFERRED, "转出"},
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(status, names[i].en) == 0)
			return names[i].zh;
	return NULL;
}

static enum cs_rc
check_licence_status(struct verify_run *v, struct cs_err *err)
{
	const enum verify_check_id id = CHECK_LICENCE_STATUS;
	struct store_licence l, newest;
	const char *lid = v->from_store ? v->id : v->d.id;
	int ver = v->from_store ? v->version : v->d.version;
	const char *zh;
	char why[STORE_TEXT_MAX + 4];
	enum cs_rc rc;

	if (lid == NULL || ver == 0) {
		verify_set(v, id, VERIFY_INDETERMINATE,
		    "unknown: the document names no licence and version");
		return CS_OK;
	}
	memset(&l, 0, sizeof(l));
	if (v->from_store) {
		l = v->row;
		rc = CS_OK;
	} else {
		rc = store_licence_get(v->svc->store, lid, ver, &l, err);
	}
	if (rc == CS_ERR_NOT_FOUND) {
		cs_err_clear(err);
		verify_set(v, id, VERIFY_INDETERMINATE,
		    "unknown: licence '%s' version %d is not in the store", lid,
		    ver);
		return CS_OK;
	}
	if (rc != CS_OK)
		return rc;
	why[0] = '\0';
	if (l.status_reason[0] != '\0')
		snprintf(why, sizeof(why), ": %s", l.status_reason);
	zh = verify_state_zh(l.status);
	if (!v->from_store &&
	    (l.document->len != v->doc->len ||
	        memcmp(l.document->data, v->doc->data, v->doc->len) != 0))
		verify_set(v, id, VERIFY_FAIL,
		    "the document is not the one issued as licence '%s' "
		    "version %d",
		    lid, ver);
	else if (strcmp(l.status, LICENCE_VALID) == 0)
		verify_set(v, id, VERIFY_PASS, "valid (有效)");
	else if (strcmp(l.status, LICENCE_SUPERSEDED) == 0) {
		memset(&newest, 0, sizeof(newest));
		rc = store_licence_get(v->svc->store, lid, 0, &newest, err);
		if (rc == CS_OK)
			verify_set(v, id, VERIFY_FAIL,
			    "superseded (变更/延续) by version %d%s",
			    newest.version, why);
		store_licence_release(&newest);
	} else if (zh != NULL)
		verify_set(v, id, VERIFY_FAIL, "%s (%s)%s", l.status, zh, why);
	else
		verify_set(v, id, VERIFY_INDETERMINATE,
		    "the stored state '%.16s' is not one certsvc knows",
		    l.status);
	store_licence_release(&l);
	return rc;
}

/* --- validity_period, timestamp ------------------------------------------ */

static void
check_validity(struct verify_run *v)
{
	const enum verify_check_id id = CHECK_VALIDITY_PERIOD;
	int64_t today = (v->now + VERIFY_TZ_OFFSET) / 86400;

	if (!v->d.has_dates)
		verify_set(v, id, VERIFY_INDETERMINATE,
		    "the document gives no readable validity period");
	else if (today < v->d.from_day)
		verify_set(v, id, VERIFY_FAIL,
		    "not yet valid: valid from %s (China Standard Time)",
		    v->d.from);
	else if (today > v->d.until_day)
		verify_set(v, id, VERIFY_FAIL,
		    "expired (失效): valid until %s (China Standard Time)",
		    v->d.until);
	else
		verify_set(v, id, VERIFY_PASS,
		    "valid from %s until %s (China Standard Time)", v->d.from,
		    v->d.until);
}

static void
check_timestamp(struct verify_run *v)
{
	const enum verify_check_id id = CHECK_TIMESTAMP;
	char t[32];

	if (!v->ts.present)
		verify_set(v, id, VERIFY_NOT_APPLICABLE,
		    "the seal carries no timestamp");
	else if (!v->ts.ok)
		verify_set(v, id, VERIFY_FAIL, "%s", v->ts.reason);
	else {
		cs_time_utc(v->ts.time, t, sizeof(t));
		verify_set(v, id, VERIFY_PASS,
		    "an RFC 3161 timestamp proves the seal existed at %s", t);
	}
}

/* --- the answer ---------------------------------------------------------- */

static const char *
verify_overall(const struct verify_run *v)
{
	bool indeterminate = false;
	size_t i;

	for (i = 0; i < CHECK_COUNT; i++) {
		if (v->c[i].result == VERIFY_FAIL)
			return "invalid";
		if (v->c[i].result == VERIFY_INDETERMINATE)
			indeterminate = true;
	}
	return indeterminate ? "indeterminate" : "valid";
}

static json_t *
verify_checks_json(const struct verify_run *v)
{
	json_t *arr = json_array(), *o;
	size_t i;

	for (i = 0; arr != NULL && i < CHECK_COUNT; i++) {
		o = json_pack("{s:s,s:s,s:s}", "name", verify_check_names[i],
		    "result", verify_outcome_names[v->c[i].result], "reason",
		    v->c[i].reason);
		if (o == NULL || json_array_append_new(arr, o) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

/* The signed report of a run and what the response body needs of it. */
struct verify_signed {
	char rid[2 + 32 + 1];
	const char *result;
	char lid[STORE_LICENCE_ID_MAX]; /* "" when unknown */
	int ver;
	json_t *checks;
	struct buf *b64d, *b64s; /* the report's document and seal */
};

static void
verify_signed_release(struct verify_signed *a)
{
	json_decref(a->checks);
	buf_free(a->b64d);
	buf_free(a->b64s);
}

static enum cs_rc
verify_sign(struct verify_run *v, const struct client_principal *p,
    struct verify_signed *a, struct cs_err *err)
{
	unsigned char rnd[16], dmd[32], smd[32];
	char dhex[65], shex[65], now[32];
	struct buf *rdoc = NULL, *rseal = NULL;
	json_t *report = NULL;
	enum cs_rc rc;
	const char *lid = v->from_store ? v->id : v->d.id;

	memset(a, 0, sizeof(*a));
	if (lid != NULL)
		cs_strlcpy(a->lid, lid, sizeof(a->lid));
	a->ver = v->from_store ? v->version : v->d.version;
	a->result = verify_overall(v);
	if (RAND_bytes(rnd, sizeof(rnd)) != 1 ||
	    EVP_Digest(v->doc->data, v->doc->len, dmd, NULL, EVP_sha256(),
	        NULL) != 1 ||
	    EVP_Digest(v->seal->data, v->seal->len, smd, NULL, EVP_sha256(),
	        NULL) != 1)
		return cs_err_ossl(err, CS_ERR_CRYPTO, "digest or RNG failed");
	memcpy(a->rid, "R-", 2);
	cs_hex(rnd, sizeof(rnd), a->rid + 2);
	cs_hex(dmd, sizeof(dmd), dhex);
	cs_hex(smd, sizeof(smd), shex);
	cs_time_utc(v->now, now, sizeof(now));
	a->checks = verify_checks_json(v);
	if (a->checks == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	report = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:s,s:s,s:O,s:s}",
	    "format", REPORT_FORMAT, "id", a->rid, "time", now, "verifier",
	    p->id, "licence_id",
	    a->lid[0] != '\0' ? json_string(a->lid) : json_null(), "version",
	    a->ver > 0 ? json_integer(a->ver) : json_null(), "document_sha256",
	    dhex, "seal_sha256", shex, "checks", a->checks, "result",
	    a->result);
	if (report == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	rc = report_sign(v->svc, report, &rdoc, &rseal, err);
	json_decref(report);
	if (rc == CS_OK)
		rc = crypto_b64_encode(rdoc->data, rdoc->len, &a->b64d, err);
	if (rc == CS_OK)
		rc = crypto_b64_encode(rseal->data, rseal->len, &a->b64s, err);
	buf_free(rdoc);
	buf_free(rseal);
	return rc;
}

/* The response body without its report, or with it when with_report. */
static json_t *
verify_body(const struct verify_signed *a, bool with_report)
{
	json_t *body;

	body = json_pack("{s:s,s:O,s:o,s:o}", "result", a->result, "checks",
	    a->checks, "licence_id",
	    a->lid[0] != '\0' ? json_string(a->lid) : json_null(), "version",
	    a->ver > 0 ? json_integer(a->ver) : json_null());
	if (body != NULL && with_report &&
	    json_object_set_new(body, "report",
	        json_pack("{s:s,s:s,s:s,s:s}", "format", ENVELOPE_FORMAT, "id",
	            a->rid, "document", (const char *)a->b64d->data, "seal",
	            (const char *)a->b64s->data)) != 0) {
		json_decref(body);
		body = NULL;
	}
	return body;
}

/*
 * The whole body as text: the members without the report through
 * json_dumps, then the report appended as it is.  Its base64 and its id
 * need no escaping, and they are most of the body: jansson would look at
 * each of those bytes once more for nothing.
 */
static enum cs_rc
verify_text(
    const struct verify_signed *a, char **text, size_t *len, struct cs_err *err)
{
	json_t *body = verify_body(a, false);
	char *head = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	size_t hlen, n;
	char *t;
	int w;

	json_decref(body);
	if (head == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	hlen = strlen(head); /* "{...}": the closing brace is replaced */
	n = hlen + a->b64d->len + a->b64s->len + 128;
	t = malloc(n);
	if (t == NULL) {
		free(head);
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	}
	w = snprintf(t, n,
	    "%.*s,\"report\":{\"format\":\"%s\",\"id\":\"%s\","
	    "\"document\":\"%s\",\"seal\":\"%s\"}}",
	    (int)(hlen - 1), head, ENVELOPE_FORMAT, a->rid,
	    (const char *)a->b64d->data, (const char *)a->b64s->data);
	free(head);
	if (w < 0 || (size_t)w >= n) {
		free(t);
		return cs_err_set(err, CS_ERR_NOMEM, "response too long");
	}
	*text = t;
	*len = (size_t)w;
	return CS_OK;
}

/*
 * Run every check for req; then *a holds the signed report (release it
 * with verify_signed_release, also on failure).
 */
static enum cs_rc
verify_run(struct svc *svc, const struct client_principal *p, const json_t *req,
    struct verify_signed *a, struct cs_err *err)
{
	struct verify_run *v;
	enum cs_rc rc;

	memset(a, 0, sizeof(*a));
	if (p == NULL || p->role != CLIENT_VERIFIER)
		return cs_err_set(err, CS_ERR_DENIED,
		    "only verifier clients verify licences");
	if (svc->root == NULL || svc->store == NULL)
		return cs_err_set(err, CS_ERR_NOT_FOUND, "no CA yet");
	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	v->svc = svc;
	v->now = (int64_t)time(NULL);
	rc = verify_parse(v, req, err);
	if (rc != CS_OK)
		goto out;
	/* check_seal also reads the timestamp certificate_status relies on. */
	rc = check_document(v, err);
	if (rc == CS_OK)
		rc = check_seal(v, err);
	if (rc == CS_OK)
		rc = check_chain(v, err);
	if (rc == CS_OK)
		rc = check_cert_status(v, err);
	if (rc == CS_OK)
		rc = check_licence_status(v, err);
	if (rc != CS_OK)
		goto out;
	check_validity(v);
	check_timestamp(v);
	rc = verify_sign(v, p, a, err);
out:
	crypto_cms_result_release(&v->cms);
	json_decref(v->d.root);
	buf_free(v->doc);
	buf_free(v->seal);
	free(v);
	return rc;
}

enum cs_rc
verify_request(struct svc *svc, const struct client_principal *p,
    const json_t *req, json_t **out, struct cs_err *err)
{
	struct verify_signed a;
	enum cs_rc rc;

	*out = NULL;
	rc = verify_run(svc, p, req, &a, err);
	if (rc == CS_OK) {
		*out = verify_body(&a, true);
		if (*out == NULL)
			rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	}
	verify_signed_release(&a);
	return rc;
}

enum cs_rc
verify_request_text(struct svc *svc, const struct client_principal *p,
    const json_t *req, char **text, size_t *len, struct cs_err *err)
{
	struct verify_signed a;
	enum cs_rc rc;

	*text = NULL;
	*len = 0;
	rc = verify_run(svc, p, req, &a, err);
	if (rc == CS_OK)
		rc = verify_text(&a, text, len, err);
	verify_signed_release(&a);
	return rc;
}
