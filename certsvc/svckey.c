/*
 * svckey.c: token keys of certsvc's own services (svckey.h).  The key is
 * generated before the transaction (a token operation never runs under the
 * store's write lock); a crash between the two leaves a key that 'key
 * list' reports as unused, never a certificate without its key.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include "certsvc/ca.h"
#include "certsvc/log.h"
#include "certsvc/svckey.h"

/* Unix seconds of an ASN1_TIME. */
static bool
svckey_time(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return false;
	*out = (int64_t)timegm(&tm);
	return true;
}

enum cs_rc
svckey_cert_info(X509 *cert, struct store_svc_cert *c, struct cs_err *err)
{
	BIGNUM *bn;
	char *hex;
	enum cs_rc rc = CS_OK;

	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	if (hex == NULL || !cs_strlcpy(c->serial, hex, sizeof(c->serial)) ||
	    !svckey_time(X509_get0_notBefore(cert), &c->not_before) ||
	    !svckey_time(X509_get0_notAfter(cert), &c->not_after))
		rc = cs_err_ossl(err, CS_ERR_CRYPTO,
		    "cannot read the serial and validity of a certificate");
	OPENSSL_free(hex);
	BN_free(bn);
	return rc;
}

enum cs_rc
svckey_record(struct svc *svc, const struct store_key *key,
    const struct store_svc_cert *c, const char *actor, struct cs_err *err)
{
	char object[STORE_SERIAL_MAX + 16], action[32], detail[128];
	struct store_audit_event ev;
	struct store_tx *tx = NULL;
	enum cs_rc rc;

	snprintf(object, sizeof(object), "cert:%s", c->serial);
	snprintf(detail, sizeof(detail),
	    "{\"not_after\":%lld,\"purpose\":\"%s\"}", (long long)c->not_after,
	    c->purpose);
	snprintf(action, sizeof(action), "%s.certify", c->purpose);
	memset(&ev, 0, sizeof(ev));
	ev.actor = actor != NULL ? actor : "system";
	ev.action = action;
	ev.object = object;
	ev.outcome = "ok";
	ev.detail = detail;
	rc = store_tx_begin(svc->store, &tx, err);
	if (rc != CS_OK)
		return rc;
	if (key != NULL)
		rc = store_key_put(tx, key, err);
	if (rc == CS_OK)
		rc = store_svc_cert_put(tx, c, err);
	if (rc == CS_OK)
		rc = store_audit_append(tx, &ev, NULL, err);
	if (rc != CS_OK)
		goto out;
	rc = store_tx_commit(tx, err);
	tx = NULL;
out:
	store_tx_rollback(tx);
	return rc;
}

/* Certify the public key at uri with the issuing CA. */
static enum cs_rc
svckey_certify(struct svc *svc, const char *uri, enum crypto_profile profile,
    const char *cn, unsigned days, X509 **out, struct cs_err *err)
{
	char name[STORE_TEXT_MAX];
	struct crypto_cert_spec spec;
	EVP_PKEY *pub = NULL;
	enum cs_rc rc;

	rc = p11_key_public(svc->token, uri, &pub, err);
	if (rc != CS_OK)
		return rc;
	snprintf(name, sizeof(name), "certsvc %s", cn);
	memset(&spec, 0, sizeof(spec));
	spec.profile = profile;
	spec.common_name = name;
	spec.organization = svc->cfg.ca_org;
	spec.country = svc->cfg.ca_country;
	spec.days = days;
	spec.subject_key = pub;
	rc = ca_issue(svc, &spec, out, err);
	EVP_PKEY_free(pub);
	return rc;
}

enum cs_rc
svckey_create(struct svc *svc, const char *purpose, enum crypto_profile profile,
    const char *cn, unsigned days, const char *actor, struct svckey *out,
    struct cs_err *err)
{
	char label[STORE_NAME_MAX], stamp[32];
	struct store_svc_cert sc;
	struct store_key key;
	time_t now = time(NULL);
	struct tm tm;
	enum cs_rc rc;

	memset(out, 0, sizeof(*out));
	memset(&sc, 0, sizeof(sc));
	if (svc->issuing == NULL || svc->token == NULL || svc->store == NULL)
		return cs_err_set(err, CS_ERR_NOT_FOUND,
		    "no CA yet (run 'certsvc-admin ca init')");
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(label, sizeof(label), "%s-%s", purpose, stamp);
	cs_strlcpy(out->purpose, purpose, sizeof(out->purpose));
	rc = p11_key_generate(svc->token, P11_ALG_P256, label, out->key_uri,
	    sizeof(out->key_uri), err);
	if (rc == CS_ERR_CONFLICT) {
		/* Two in the same second: a second later is another label. */
		snprintf(label, sizeof(label), "%s-%s-%u", purpose, stamp,
		    (unsigned)(cs_now_ns() % 100000u));
		rc = p11_key_generate(svc->token, P11_ALG_P256, label,
		    out->key_uri, sizeof(out->key_uri), err);
	}
	if (rc != CS_OK)
		goto out;
	rc = svckey_certify(
	    svc, out->key_uri, profile, cn, days, &out->cert, err);
	if (rc == CS_OK)
		rc = crypto_cert_to_der(out->cert, &sc.cert_der, err);
	if (rc == CS_OK)
		rc = svckey_cert_info(out->cert, &sc, err);
	if (rc != CS_OK)
		goto out;
	cs_strlcpy(out->serial, sc.serial, sizeof(out->serial));
	out->not_after = sc.not_after;

	memset(&key, 0, sizeof(key));
	cs_strlcpy(key.uri, out->key_uri, sizeof(key.uri));
	cs_strlcpy(key.label, label, sizeof(key.label));
	cs_strlcpy(key.alg, "p256", sizeof(key.alg));
	cs_strlcpy(key.purpose, purpose, sizeof(key.purpose));
	key.created = (int64_t)now;
	cs_strlcpy(sc.ca, ca_current_name(svc), sizeof(sc.ca));
	cs_strlcpy(sc.purpose, purpose, sizeof(sc.purpose));
	cs_strlcpy(sc.key_uri, out->key_uri, sizeof(sc.key_uri));
	sc.created = (int64_t)now;
	rc = svckey_record(svc, &key, &sc, actor, err);
	if (rc != CS_OK)
		goto out;
	rc = p11_key_get(svc->token, out->key_uri, &out->key, err);
	if (rc == CS_OK)
		cs_log(CS_LOG_INFO, "new %s key, certificate %s", purpose,
		    out->serial);
out:
	buf_free(sc.cert_der);
	if (rc != CS_OK)
		svckey_release(out);
	return rc;
}

enum cs_rc
svckey_load(struct svc *svc, const char *purpose, struct svckey *out,
    struct cs_err *err)
{
	struct store_svc_cert sc;
	enum cs_rc rc;

	memset(out, 0, sizeof(*out));
	if (svc->store == NULL || svc->token == NULL)
		return cs_err_set(err, CS_ERR_NOT_FOUND, "no store or token");
	rc = store_svc_cert_current(
	    svc->store, purpose, (int64_t)time(NULL), &sc, err);
	if (rc != CS_OK)
		return rc;
	cs_strlcpy(out->purpose, purpose, sizeof(out->purpose));
	cs_strlcpy(out->key_uri, sc.key_uri, sizeof(out->key_uri));
	cs_strlcpy(out->serial, sc.serial, sizeof(out->serial));
	out->not_after = sc.not_after;
	if (sc.key_uri[0] == '\0')
		rc = cs_err_set(err, CS_ERR_NOT_FOUND,
		    "the %s certificate has no token key", purpose);
	if (rc == CS_OK)
		rc = crypto_cert_from_der(
		    sc.cert_der->data, sc.cert_der->len, &out->cert, err);
	/* After a CA rollover: made anew by the current issuing CA. */
	if (rc == CS_OK &&
	    (svc->issuing == NULL ||
	        X509_check_issued(svc->issuing, out->cert) != X509_V_OK))
		rc = cs_err_set(err, CS_ERR_NOT_FOUND,
		    "the %s certificate is not the current issuing CA's",
		    purpose);
	if (rc == CS_OK)
		rc = p11_key_get(svc->token, sc.key_uri, &out->key, err);
	store_svc_cert_release(&sc);
	if (rc != CS_OK)
		svckey_release(out);
	return rc;
}

void
svckey_release(struct svckey *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->key);
	X509_free(k->cert);
	memset(k, 0, sizeof(*k));
}
