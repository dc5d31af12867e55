/*
 * report.c: the report signer.  Verification reports and status lists are
 * answers to reads, so they are signed with a P-256 key that lives only in
 * this process's memory: the token signs one certificate for it
 * (CRYPTO_CERT_REPORT, REPORT_CERT_HOURS) when it is made, every
 * REPORT_ROTATE_HOURS, and no read ever waits on the token.
 *
 * The key is never stored or exported, so a restart makes a new one; its
 * certificate is recorded in service_certs (with an audit event, in one
 * transaction) before the key signs anything, so OCSP and CRLs can answer
 * for every certificate a report was ever signed under.  Keys are shared
 * by reference: a rotation swaps the current key under the mutex and the
 * old one is freed when the last request using it puts its reference.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "certsvc/ca.h"
#include "certsvc/jcs.h"
#include "certsvc/log.h"
#include "certsvc/report.h"
#include "certsvc/svckey.h"
#include "certsvc/tsa.h"
#include "crypto/crypto.h"

/*
 * Make a new key before the current certificate has less than this left
 * (it can be shorter than REPORT_CERT_HOURS when the issuing CA expires
 * sooner), but never more often than REPORT_MIN_AGE.
 */
#define REPORT_MARGIN_S 3600
#define REPORT_MIN_AGE_S 60

struct report_state {
	pthread_mutex_t mu;
	struct report_key *cur; /* guarded by mu; NULL until the first */
};

enum cs_rc
report_init(struct svc *svc, struct cs_err *err)
{
	struct report_state *st;

	st = CS_LOCKED_NEW(struct report_state);
	if (st == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	svc->reports = st;
	return CS_OK;
}

void
report_free(struct svc *svc)
{
	struct report_state *st = svc != NULL ? svc->reports : NULL;

	if (st == NULL)
		return;
	report_key_put(st->cur);
	pthread_mutex_destroy(&st->mu);
	free(st);
	svc->reports = NULL;
}

void
report_key_put(struct report_key *k)
{
	if (k == NULL || atomic_fetch_sub(&k->refs, 1) != 1)
		return;
	crypto_seal_tmpl_free(k->tmpl);
	EVP_PKEY_free(k->key);
	X509_free(k->cert);
	X509_free(k->issuer);
	OPENSSL_cleanse(k, sizeof(*k));
	free(k);
}

enum cs_rc
report_key_get(struct svc *svc, struct report_key **out, struct cs_err *err)
{
	struct report_state *st = svc->reports;
	struct report_key *k = NULL;
	int64_t now = (int64_t)time(NULL);

	*out = NULL;
	if (st == NULL)
		return cs_err_set(err, CS_ERR_TOKEN, "no report signer");
	pthread_mutex_lock(&st->mu);
	if (st->cur != NULL && st->cur->not_after > now) {
		k = st->cur;
		atomic_fetch_add(&k->refs, 1);
	}
	pthread_mutex_unlock(&st->mu);
	if (k == NULL)
		return cs_err_set(err, CS_ERR_TOKEN,
		    "no report signing key yet: the token has not been "
		    "reachable to certify one, try again shortly");
	*out = k;
	return CS_OK;
}

/* A new key pair and its certificate from the issuing CA (token). */

/* k's CMS template, chain the issuing CA: a report is one signature. */
static enum cs_rc
report_template(struct report_key *k, struct cs_err *err)
{
	return crypto_seal_tmpl_for(
	    k->key, k->cert, k->issuer, NULL, &k->tmpl, err);
}

static enum cs_rc
report_make(
    struct svc *svc, time_t now, struct report_key **out, struct cs_err *err)
{
	char cn[64];
	struct crypto_cert_spec spec;
	struct store_svc_cert c;
	struct report_key *k = NULL;
	struct tm tm;
	enum cs_rc rc;

	*out = NULL;
	memset(&c, 0, sizeof(c));
	k = calloc(1, sizeof(*k));
	if (k == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	atomic_init(&k->refs, 1);
	k->made = (int64_t)now;
	k->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (k->key == NULL) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "cannot make a P-256 key");
		goto out;
	}
	gmtime_r(&now, &tm);
	strftime(cn, sizeof(cn), "certsvc report signer %Y-%m-%dT%H:%MZ", &tm);
	memset(&spec, 0, sizeof(spec));
	spec.profile = CRYPTO_CERT_REPORT;
	spec.common_name = cn;
	spec.organization = svc->cfg.ca_org[0] != '\0' ? svc->cfg.ca_org : NULL;
	spec.country =
	    svc->cfg.ca_country[0] != '\0' ? svc->cfg.ca_country : NULL;
	spec.hours = REPORT_CERT_HOURS;
	spec.subject_key = k->key;
	rc = ca_issue(svc, &spec, &k->cert, err);
	if (rc == CS_OK)
		rc = svckey_cert_info(k->cert, &c, err);
	if (rc != CS_OK)
		goto out;
	if (X509_up_ref(svc->issuing) != 1) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "cannot keep the issuer");
		goto out;
	}
	k->issuer = svc->issuing;
	rc = report_template(k, err);
	if (rc != CS_OK)
		goto out;
	cs_strlcpy(k->serial, c.serial, sizeof(k->serial));
	k->not_before = c.not_before;
	k->not_after = c.not_after;
	*out = k;
	k = NULL;
out:
	report_key_put(k);
	return rc;
}

/* Record k's certificate in service_certs with its audit event. */
static enum cs_rc
report_record(struct svc *svc, const struct report_key *k, struct cs_err *err)
{
	struct store_svc_cert c;
	enum cs_rc rc;

	memset(&c, 0, sizeof(c));
	cs_strlcpy(c.serial, k->serial, sizeof(c.serial));
	cs_strlcpy(c.ca, "issuing", sizeof(c.ca));
	cs_strlcpy(c.purpose, "report", sizeof(c.purpose));
	c.not_before = k->not_before;
	c.not_after = k->not_after;
	c.created = k->made;
	rc = crypto_cert_to_der(k->cert, &c.cert_der, err);
	if (rc == CS_OK)
		rc = svckey_record(svc, NULL, &c, "system", err);
	buf_free(c.cert_der);
	return rc;
}

enum cs_rc
report_rotate(struct svc *svc, struct cs_err *err)
{
	struct report_state *st = svc->reports;
	struct report_key *k = NULL, *old;
	enum cs_rc rc;

	if (st == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "no report signer");
	if (svc->store == NULL || svc->token == NULL || svc->issuing == NULL)
		return cs_err_set(err, CS_ERR_NOT_FOUND,
		    "no CA yet (run 'certsvc-admin ca init')");
	rc = report_make(svc, time(NULL), &k, err);
	if (rc != CS_OK)
		return rc;
	/* Recorded first: no report is signed under an unknown cert. */
	rc = report_record(svc, k, err);
	if (rc != CS_OK) {
		report_key_put(k);
		return rc;
	}
	pthread_mutex_lock(&st->mu);
	old = st->cur;
	st->cur = k;
	pthread_mutex_unlock(&st->mu);
	report_key_put(old);
	cs_log(CS_LOG_INFO, "report signer certificate %s valid until %lld",
	    k->serial, (long long)k->not_after);
	return CS_OK;
}

enum cs_rc
report_refresh(struct svc *svc, struct cs_err *err)
{
	struct report_state *st = svc->reports;
	int64_t now = (int64_t)time(NULL);
	bool due;

	if (st == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "no report signer");
	/* Nothing to certify with yet: no report key, reads get 503. */
	if (svc->store == NULL || svc->token == NULL || svc->issuing == NULL)
		return CS_OK;
	pthread_mutex_lock(&st->mu);
	due = st->cur == NULL ||
	    now - st->cur->made >= (int64_t)REPORT_ROTATE_HOURS * 3600 ||
	    (now - st->cur->made >= REPORT_MIN_AGE_S &&
	        st->cur->not_after - now < REPORT_MARGIN_S);
	pthread_mutex_unlock(&st->mu);
	if (!due)
		return CS_OK;
	return report_rotate(svc, err);
}

enum cs_rc
report_sign(struct svc *svc, const json_t *report, struct buf **doc,
    struct buf **seal, struct cs_err *err)
{
	struct crypto_seal_opts so;
	struct report_key *k = NULL;
	STACK_OF(X509) *chain = NULL;
	struct buf *d = NULL, *s = NULL;
	enum cs_rc rc;

	*doc = NULL;
	*seal = NULL;
	rc = jcs_encode(report, &d, err);
	if (rc != CS_OK)
		goto out;
	rc = report_key_get(svc, &k, err);
	if (rc != CS_OK)
		goto out;
	chain = sk_X509_new_null();
	if (chain == NULL || sk_X509_push(chain, k->issuer) <= 0) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	memset(&so, 0, sizeof(so));
	so.key = k->key;
	so.cert = k->cert;
	so.chain = chain;
	rc = k->tmpl != NULL
	    ? crypto_seal_tmpl_seal(k->tmpl, d->data, d->len, &s, err)
	    : crypto_cms_seal(&so, d->data, d->len, &s, err);
	/* A token signature per report: off unless configured. */
	if (rc == CS_OK && svc->cfg.timestamp_reports)
		rc = tsa_stamp_seal(svc, &s, err);
	if (rc != CS_OK)
		goto out;
	*doc = d;
	*seal = s;
	d = s = NULL;
out:
	sk_X509_free(chain);
	report_key_put(k);
	buf_free(d);
	buf_free(s);
	return rc;
}

/* --- offline verification ------------------------------------------------ */

/* A report signer: the report profile's name, no orgId, no EKU. */
static bool
report_is_signer(X509 *x)
{
	X509_NAME *name = X509_get_subject_name(x);
	static const char prefix[] = "certsvc report signer ";
	char cn[128];
	int n;

	n = X509_NAME_get_text_by_NID(name, NID_commonName, cn, sizeof(cn));
	return n > 0 && strncmp(cn, prefix, sizeof(prefix) - 1) == 0 &&
	    X509_NAME_get_index_by_NID(name, NID_organizationIdentifier, -1) <
	    0 &&
	    (X509_get_extension_flags(x) & EXFLAG_XKUSAGE) == 0;
}

static void report_fail(struct report_verified *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
report_fail(struct report_verified *out, const char *fmt, ...)
{
	va_list ap;

	if (out->reason[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
}

enum cs_rc
report_verify(const json_t *in, X509 *root, struct report_verified *out,
    struct cs_err *err)
{
	const json_t *env = in, *d, *s;
	struct crypto_cms_result res;
	struct buf *doc = NULL, *seal = NULL, *canon = NULL;
	const char *fmt;
	json_t *rep = NULL;
	enum cs_rc rc;

	memset(out, 0, sizeof(*out));
	memset(&res, 0, sizeof(res));
	if (json_is_object(json_object_get(in, "report")))
		env = json_object_get(in, "report");
	d = json_object_get(env, "document");
	s = json_object_get(env, "seal");
	if (!json_is_string(d) || !json_is_string(s))
		return cs_err_set(err, CS_ERR_INVALID,
		    "not a report envelope: needs document and seal "
		    "(base64 strings)");
	rc = crypto_b64_decode(
	    json_string_value(d), json_string_length(d), &doc, NULL);
	if (rc == CS_OK)
		rc = crypto_b64_decode(
		    json_string_value(s), json_string_length(s), &seal, NULL);
	if (rc != CS_OK) {
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "report envelope: document and seal must be base64");
		goto out;
	}
	rc = crypto_cms_verify(
	    doc->data, doc->len, seal->data, seal->len, root, &res, err);
	if (rc != CS_OK)
		goto out;
	if (res.signer != NULL)
		crypto_cert_subject(
		    res.signer, out->signer, sizeof(out->signer));
	if (!res.parsed || !res.signature_ok || !res.chain_ok) {
		report_fail(out, "%s", res.reason);
		goto out;
	}
	if (!report_is_signer(res.signer)) {
		report_fail(out, "the signer is not a certsvc report signer");
		goto out;
	}
	if (jcs_parse(doc->data, doc->len, &rep, NULL) != CS_OK ||
	    jcs_encode(rep, &canon, NULL) != CS_OK || canon->len != doc->len ||
	    memcmp(canon->data, doc->data, doc->len) != 0) {
		report_fail(out, "the report is not canonical JSON");
		goto out;
	}
	fmt = json_string_value(json_object_get(rep, "format"));
	if (fmt == NULL || strcmp(fmt, REPORT_FORMAT) != 0) {
		report_fail(
		    out, "the report's format is not %s", REPORT_FORMAT);
		goto out;
	}
	out->ok = true;
	out->report = rep;
	rep = NULL;
out:
	json_decref(rep);
	crypto_cms_result_release(&res);
	buf_free(canon);
	buf_free(doc);
	buf_free(seal);
	return rc;
}

void
report_verified_release(struct report_verified *out)
{
	if (out == NULL)
		return;
	json_decref(out->report);
	memset(out, 0, sizeof(*out));
}
