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

#include "certsvc/log.h"
#include "certsvc/svckey.h"

/* The serial of cert as upper-case hex into out. */
static enum cs_rc
svckey_serial(X509 *cert, char *out, size_t outsz, struct cs_err *err)
{
	BIGNUM *bn;
	char *hex;
	enum cs_rc rc = CS_OK;

	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	if (hex == NULL)
		rc = cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
	else if (!cs_strlcpy(out, hex, outsz))
		rc = cs_err_set(err, CS_ERR_INVALID, "serial too long");
	OPENSSL_free(hex);
	BN_free(bn);
	return rc;
}

/* notAfter of cert in Unix seconds. */
static int64_t
svckey_not_after(X509 *cert)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

static int64_t
svckey_not_before(X509 *cert)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(X509_get0_notBefore(cert), &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

/* Certify the public key at uri with the issuing CA. */
static enum cs_rc
svckey_certify(struct svc *svc, const char *uri, enum crypto_profile profile,
    const char *cn, unsigned days, X509 **out, struct cs_err *err)
{
	char crl[CFG_STR_MAX + 32], ocsp[CFG_STR_MAX + 32];
	char issuers[CFG_STR_MAX + 32], name[STORE_TEXT_MAX];
	struct crypto_cert_spec spec;
	struct store_ca ca;
	EVP_PKEY *pub = NULL, *ca_key = NULL;
	enum cs_rc rc;

	memset(&ca, 0, sizeof(ca));
	rc = store_ca_get(svc->store, "issuing", &ca, err);
	if (rc != CS_OK)
		return rc;
	rc = p11_key_get(svc->token, ca.key_uri, &ca_key, err);
	if (rc == CS_OK)
		rc = p11_key_public(svc->token, uri, &pub, err);
	if (rc != CS_OK)
		goto out;
	svc_url(svc, "/crl/issuing.crl", crl, sizeof(crl));
	svc_url(svc, "/ocsp", ocsp, sizeof(ocsp));
	svc_url(svc, "/ca/issuing.cer", issuers, sizeof(issuers));
	snprintf(name, sizeof(name), "certsvc %s", cn);
	memset(&spec, 0, sizeof(spec));
	spec.profile = profile;
	spec.common_name = name;
	spec.organization = svc->cfg.ca_org;
	spec.country = svc->cfg.ca_country;
	spec.days = days;
	spec.subject_key = pub;
	spec.crl_url = crl;
	/* An OCSP responder's own status is not checked (ocsp-nocheck). */
	spec.ocsp_url = profile == CRYPTO_CERT_OCSP ? NULL : ocsp;
	spec.ca_issuers_url = issuers;
	rc = crypto_cert_issue(&spec, svc->issuing, ca_key, out, err);
out:
	EVP_PKEY_free(pub);
	EVP_PKEY_free(ca_key);
	store_ca_release(&ca);
	return rc;
}

enum cs_rc
svckey_create(struct svc *svc, const char *purpose, enum crypto_profile profile,
    const char *cn, unsigned days, const char *actor, struct svckey *out,
    struct cs_err *err)
{
	char label[STORE_NAME_MAX], object[STORE_SERIAL_MAX + 16];
	char stamp[32], detail[128];
	struct store_audit_event ev;
	struct store_svc_cert sc;
	struct store_key key;
	struct store_tx *tx = NULL;
	struct buf *der = NULL;
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
		rc = crypto_cert_to_der(out->cert, &der, err);
	if (rc == CS_OK)
		rc = svckey_serial(
		    out->cert, out->serial, sizeof(out->serial), err);
	if (rc != CS_OK)
		goto out;
	out->not_after = svckey_not_after(out->cert);

	memset(&key, 0, sizeof(key));
	cs_strlcpy(key.uri, out->key_uri, sizeof(key.uri));
	cs_strlcpy(key.label, label, sizeof(key.label));
	cs_strlcpy(key.alg, "p256", sizeof(key.alg));
	cs_strlcpy(key.purpose, purpose, sizeof(key.purpose));
	key.created = (int64_t)now;
	cs_strlcpy(sc.serial, out->serial, sizeof(sc.serial));
	cs_strlcpy(sc.ca, "issuing", sizeof(sc.ca));
	cs_strlcpy(sc.purpose, purpose, sizeof(sc.purpose));
	cs_strlcpy(sc.key_uri, out->key_uri, sizeof(sc.key_uri));
	sc.cert_der = der;
	sc.not_before = svckey_not_before(out->cert);
	sc.not_after = out->not_after;
	sc.created = (int64_t)now;
	snprintf(object, sizeof(object), "cert:%s", out->serial);
	snprintf(detail, sizeof(detail),
	    "{\"not_after\":%lld,\"purpose\":\"%s\"}",
	    (long long)out->not_after, purpose);
	memset(&ev, 0, sizeof(ev));
	ev.actor = actor != NULL ? actor : "system";
	snprintf(stamp, sizeof(stamp), "%s.certify", purpose);
	ev.action = stamp;
	ev.object = object;
	ev.outcome = "ok";
	ev.detail = detail;
	rc = store_tx_begin(svc->store, &tx, err);
	if (rc != CS_OK)
		goto out;
	rc = store_key_put(tx, &key, err);
	if (rc == CS_OK)
		rc = store_svc_cert_put(tx, &sc, err);
	if (rc == CS_OK)
		rc = store_audit_append(tx, &ev, NULL, err);
	if (rc != CS_OK)
		goto out;
	rc = store_tx_commit(tx, err);
	tx = NULL;
	if (rc != CS_OK)
		goto out;
	rc = p11_key_get(svc->token, out->key_uri, &out->key, err);
	if (rc == CS_OK)
		cs_log(CS_LOG_INFO, "new %s key, certificate %s", purpose,
		    out->serial);
out:
	store_tx_rollback(tx);
	buf_free(der);
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
