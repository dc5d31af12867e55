/*
 * ca.c: creating certsvc's CA.  The certificates and the key inventory are
 * committed in one transaction with their audit event, so a crash leaves
 * either no CA or a whole one; the only thing that can be left behind is a
 * key in the token, which the next run finds by label and reuses instead of
 * piling up orphans.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certsvc/ca.h"
#include "certsvc/log.h"
#include "certsvc/mem.h"
#include "crypto/crypto.h"

#define CA_ROOT_LABEL "ca-root"
#define CA_ISSUING_LABEL "ca-issuing-1"

/* Find the private key labelled label, or generate one. */
static enum cs_rc
ca_key_obtain(struct svc *svc, enum p11_alg alg, const char *label, char *uri,
    size_t urisz, struct cs_err *err)
{
	struct p11_key_info *keys = NULL;
	size_t n = 0, i;
	enum cs_rc rc;

	rc = p11_key_list(svc->token, &keys, &n, err);
	if (rc != CS_OK)
		return rc;
	for (i = 0; i < n; i++) {
		if (strcmp(keys[i].label, label) != 0)
			continue;
		if (keys[i].alg != alg) {
			rc = cs_err_set(err, CS_ERR_CONFLICT,
			    "token key '%s' exists with algorithm %s", label,
			    p11_alg_name(keys[i].alg));
		} else if (!cs_strlcpy(uri, keys[i].uri, urisz)) {
			rc =
			    cs_err_set(err, CS_ERR_INVALID, "key URI too long");
		} else {
			cs_log(CS_LOG_INFO, "reusing token key '%s'", label);
		}
		free(keys);
		return rc;
	}
	free(keys);
	return p11_key_generate(svc->token, alg, label, uri, urisz, err);
}

static enum cs_rc
ca_store(struct svc *svc, const char *root_uri, X509 *root,
    const char *issuing_uri, X509 *issuing, const struct ca_init_opts *opts,
    struct cs_err *err)
{
	struct store_audit_event ev;
	struct store_key key;
	struct store_tx *tx = NULL;
	struct buf *rder = NULL, *ider = NULL;
	char detail[256];
	enum cs_rc rc;

	rc = crypto_cert_to_der(root, &rder, err);
	if (rc != CS_OK)
		goto out;
	rc = crypto_cert_to_der(issuing, &ider, err);
	if (rc != CS_OK)
		goto out;
	rc = store_tx_begin(svc->store, &tx, err);
	if (rc != CS_OK)
		goto out;
	rc = store_ca_put(tx, "root", root_uri, rder->data, rder->len, err);
	if (rc != CS_OK)
		goto out;
	rc = store_ca_put(
	    tx, "issuing", issuing_uri, ider->data, ider->len, err);
	if (rc != CS_OK)
		goto out;
	memset(&key, 0, sizeof(key));
	cs_strlcpy(key.uri, root_uri, sizeof(key.uri));
	cs_strlcpy(key.label, CA_ROOT_LABEL, sizeof(key.label));
	cs_strlcpy(key.alg, p11_alg_name(opts->alg), sizeof(key.alg));
	cs_strlcpy(key.purpose, "ca-root", sizeof(key.purpose));
	key.created = (int64_t)time(NULL);
	rc = store_key_put(tx, &key, err);
	if (rc != CS_OK)
		goto out;
	cs_strlcpy(key.uri, issuing_uri, sizeof(key.uri));
	cs_strlcpy(key.label, CA_ISSUING_LABEL, sizeof(key.label));
	cs_strlcpy(key.purpose, "ca-issuing", sizeof(key.purpose));
	rc = store_key_put(tx, &key, err);
	if (rc != CS_OK)
		goto out;
	snprintf(detail, sizeof(detail), "{\"alg\":\"%s\"}",
	    p11_alg_name(opts->alg));
	memset(&ev, 0, sizeof(ev));
	ev.actor = opts->actor != NULL ? opts->actor : "admin";
	ev.action = "ca.init";
	ev.object = "ca:root,issuing";
	ev.outcome = "ok";
	ev.detail = detail;
	rc = store_audit_append(tx, &ev, NULL, err);
	if (rc != CS_OK)
		goto out;
	rc = store_tx_commit(tx, err);
	tx = NULL;
out:
	store_tx_rollback(tx);
	buf_free(rder);
	buf_free(ider);
	return rc;
}

enum cs_rc
ca_init(struct svc *svc, const struct ca_init_opts *opts, bool *created,
    struct cs_err *err)
{
	char root_uri[P11_URI_MAX], issuing_uri[P11_URI_MAX];
	char crl[CFG_STR_MAX + 32], ocsp[CFG_STR_MAX + 32];
	char issuers[CFG_STR_MAX + 32];
	struct crypto_cert_spec spec;
	EVP_PKEY *root_key = NULL, *issuing_key = NULL;
	X509 *root = NULL, *issuing = NULL;
	enum cs_rc rc;

	*created = false;
	if (svc->root != NULL && svc->issuing != NULL)
		return ca_export_files(svc, err);
	rc = ca_key_obtain(
	    svc, opts->alg, CA_ROOT_LABEL, root_uri, sizeof(root_uri), err);
	if (rc != CS_OK)
		goto out;
	rc = ca_key_obtain(svc, opts->alg, CA_ISSUING_LABEL, issuing_uri,
	    sizeof(issuing_uri), err);
	if (rc != CS_OK)
		goto out;
	rc = p11_key_get(svc->token, root_uri, &root_key, err);
	if (rc != CS_OK)
		goto out;
	rc = p11_key_get(svc->token, issuing_uri, &issuing_key, err);
	if (rc != CS_OK)
		goto out;

	memset(&spec, 0, sizeof(spec));
	spec.profile = CRYPTO_CERT_ROOT_CA;
	spec.common_name = "certsvc Root CA";
	spec.organization = svc->cfg.ca_org;
	spec.country = svc->cfg.ca_country;
	spec.days = CA_ROOT_DAYS;
	spec.subject_key = root_key;
	rc = crypto_cert_issue(&spec, NULL, root_key, &root, err);
	if (rc != CS_OK)
		goto out;

	svc_url(svc, "/crl/root.crl", crl, sizeof(crl));
	svc_url(svc, "/ocsp", ocsp, sizeof(ocsp));
	svc_url(svc, "/ca/root.cer", issuers, sizeof(issuers));
	memset(&spec, 0, sizeof(spec));
	spec.profile = CRYPTO_CERT_SUB_CA;
	spec.common_name = "certsvc Issuing CA 1";
	spec.organization = svc->cfg.ca_org;
	spec.country = svc->cfg.ca_country;
	spec.days = CA_ISSUING_DAYS;
	spec.subject_key = issuing_key;
	spec.crl_url = crl;
	spec.ocsp_url = ocsp;
	spec.ca_issuers_url = issuers;
	rc = crypto_cert_issue(&spec, root, root_key, &issuing, err);
	if (rc != CS_OK)
		goto out;

	rc = ca_store(svc, root_uri, root, issuing_uri, issuing, opts, err);
	if (rc != CS_OK)
		goto out;
	rc = svc_load_ca(svc, err);
	if (rc != CS_OK)
		goto out;
	*created = true;
	rc = ca_export_files(svc, err);
out:
	X509_free(root);
	X509_free(issuing);
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(issuing_key);
	return rc;
}

enum cs_rc
ca_issue(struct svc *svc, const struct crypto_cert_spec *spec, X509 **out,
    struct cs_err *err)
{
	char crl[CFG_STR_MAX + 32], ocsp[CFG_STR_MAX + 32];
	char issuers[CFG_STR_MAX + 32];
	struct crypto_cert_spec s = *spec;
	struct store_ca ca;
	EVP_PKEY *ca_key = NULL;
	enum cs_rc rc;

	*out = NULL;
	memset(&ca, 0, sizeof(ca));
	rc = store_ca_get(svc->store, "issuing", &ca, err);
	if (rc != CS_OK)
		return rc;
	rc = p11_key_get(svc->token, ca.key_uri, &ca_key, err);
	if (rc != CS_OK)
		goto out;
	svc_url(svc, "/crl/issuing.crl", crl, sizeof(crl));
	svc_url(svc, "/ocsp", ocsp, sizeof(ocsp));
	svc_url(svc, "/ca/issuing.cer", issuers, sizeof(issuers));
	s.crl_url = crl;
	s.ocsp_url = s.profile == CRYPTO_CERT_OCSP ? NULL : ocsp;
	s.ca_issuers_url = issuers;
	rc = crypto_cert_issue(&s, svc->issuing, ca_key, out, err);
out:
	EVP_PKEY_free(ca_key);
	store_ca_release(&ca);
	return rc;
}

static enum cs_rc
ca_export_one(const char *dir, const char *name, X509 *cert, struct cs_err *err)
{
	char path[PATH_MAX + 32];
	struct buf *pem = NULL, *old = NULL;
	enum cs_rc rc;

	if (snprintf(path, sizeof(path), "%s/%s.pem", dir, name) >=
	    (int)sizeof(path))
		return cs_err_set(err, CS_ERR_INVALID, "path too long");
	rc = crypto_cert_to_pem(cert, &pem, err);
	if (rc != CS_OK)
		return rc;
	if (cs_file_read(path, 1 << 20, &old, NULL) == CS_OK &&
	    old->len == pem->len && memcmp(old->data, pem->data, pem->len) == 0)
		goto out;
	rc = cs_file_write(path, pem->data, pem->len, 0644, false, err);
out:
	buf_free(old);
	buf_free(pem);
	return rc;
}

enum cs_rc
ca_export_files(struct svc *svc, struct cs_err *err)
{
	char dir[PATH_MAX + 8];
	enum cs_rc rc;

	if (svc->root == NULL || svc->issuing == NULL)
		return cs_err_set(err, CS_ERR_NOT_FOUND, "no CA yet");
	if (snprintf(dir, sizeof(dir), "%s/ca", svc->cfg.data_dir) >=
	    (int)sizeof(dir))
		return cs_err_set(err, CS_ERR_INVALID, "path too long");
	rc = cs_mkdir_p(dir, 0755, err);
	if (rc != CS_OK)
		return rc;
	rc = ca_export_one(dir, "root", svc->root, err);
	if (rc != CS_OK)
		return rc;
	return ca_export_one(dir, "issuing", svc->issuing, err);
}
