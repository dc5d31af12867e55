/*
 * ca.c: creating certsvc's CA.  The certificates and the key inventory are
 * committed in one transaction with their audit event, so a crash leaves
 * either no CA or a whole one; the only thing that can be left behind is a
 * key in the token, which the next run finds by label and reuses instead of
 * piling up orphans.
 *
 * A rollover adds issuing CAs ("issuing-2", ...; ca.h): every process
 * loads them all at start (ca_set_load), issues with the newest and still
 * knows the older ones, to chain the certificates they issued and to
 * answer for them (pkistatus.c).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509v3.h>

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

/* An issuing CA certificate named cn for key, signed by the root. */
static enum cs_rc
ca_issuing_cert(struct svc *svc, X509 *root, EVP_PKEY *root_key, EVP_PKEY *key,
    const char *cn, X509 **out, struct cs_err *err)
{
	char crl[CFG_STR_MAX + 32], ocsp[CFG_STR_MAX + 32];
	char issuers[CFG_STR_MAX + 32];
	struct crypto_cert_spec spec;

	svc_url(svc, "/crl/root.crl", crl, sizeof(crl));
	svc_url(svc, "/ocsp", ocsp, sizeof(ocsp));
	svc_url(svc, "/ca/root.cer", issuers, sizeof(issuers));
	memset(&spec, 0, sizeof(spec));
	spec.profile = CRYPTO_CERT_SUB_CA;
	spec.common_name = cn;
	spec.organization = svc->cfg.ca_org;
	spec.country = svc->cfg.ca_country;
	spec.days = CA_ISSUING_DAYS;
	spec.subject_key = key;
	spec.crl_url = crl;
	spec.ocsp_url = ocsp;
	spec.ca_issuers_url = issuers;
	return crypto_cert_issue(&spec, root, root_key, out, err);
}

enum cs_rc
ca_init(struct svc *svc, const struct ca_init_opts *opts, bool *created,
    struct cs_err *err)
{
	char root_uri[P11_URI_MAX], issuing_uri[P11_URI_MAX];
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

	rc = ca_issuing_cert(svc, root, root_key, issuing_key,
	    "certsvc Issuing CA 1", &issuing, err);
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
	char crl[CFG_STR_MAX + 32 + STORE_NAME_MAX];
	char issuers[CFG_STR_MAX + 32 + STORE_NAME_MAX];
	char ocsp[CFG_STR_MAX + 32], path[STORE_NAME_MAX + 16];
	struct crypto_cert_spec s = *spec;
	const struct ca_set *cas = svc->cas;
	const struct ca_entry *cur;
	EVP_PKEY *ca_key = NULL;
	enum cs_rc rc;

	*out = NULL;
	if (cas == NULL || cas->n < 2 || svc->issuing == NULL)
		return cs_err_set(err, CS_ERR_NOT_FOUND,
		    "no CA yet (run 'certsvc-admin ca init')");
	/* The newest issuing CA, under its own name's URLs. */
	cur = &cas->e[cas->n - 1];
	rc = p11_key_get(svc->token, cur->key_uri, &ca_key, err);
	if (rc != CS_OK)
		return rc;
	snprintf(path, sizeof(path), "/crl/%s.crl", cur->name);
	svc_url(svc, path, crl, sizeof(crl));
	svc_url(svc, "/ocsp", ocsp, sizeof(ocsp));
	snprintf(path, sizeof(path), "/ca/%s.cer", cur->name);
	svc_url(svc, path, issuers, sizeof(issuers));
	s.crl_url = crl;
	s.ocsp_url = s.profile == CRYPTO_CERT_OCSP ? NULL : ocsp;
	s.ca_issuers_url = issuers;
	rc = crypto_cert_issue(&s, svc->issuing, ca_key, out, err);
	EVP_PKEY_free(ca_key);
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
	size_t i;

	if (svc->root == NULL || svc->issuing == NULL)
		return cs_err_set(err, CS_ERR_NOT_FOUND, "no CA yet");
	if (snprintf(dir, sizeof(dir), "%s/ca", svc->cfg.data_dir) >=
	    (int)sizeof(dir))
		return cs_err_set(err, CS_ERR_INVALID, "path too long");
	rc = cs_mkdir_p(dir, 0755, err);
	if (rc != CS_OK)
		return rc;
	if (svc->cas == NULL) {
		rc = ca_export_one(dir, "root", svc->root, err);
		if (rc == CS_OK)
			rc = ca_export_one(dir, "issuing", svc->issuing, err);
		return rc;
	}
	for (i = 0, rc = CS_OK; i < svc->cas->n && rc == CS_OK; i++)
		rc = ca_export_one(
		    dir, svc->cas->e[i].name, svc->cas->e[i].cert, err);
	return rc;
}

void
ca_set_free(struct svc *svc)
{
	size_t i;

	if (svc == NULL || svc->cas == NULL)
		return;
	for (i = 0; i < svc->cas->n; i++)
		X509_free(svc->cas->e[i].cert);
	free(svc->cas);
	svc->cas = NULL;
}

enum cs_rc
ca_set_load(struct svc *svc, struct cs_err *err)
{
	struct store_ca *rows = NULL;
	struct ca_set *set;
	size_t n = 0, i, k;
	enum cs_rc rc;

	set = calloc(1, sizeof(*set));
	if (set == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	rc = store_ca_list(svc->store, &rows, &n, err);
	if (rc != CS_OK)
		goto out;
	/* The root first, then the issuing CAs in the order they came. */
	for (k = 0; k < 2 && rc == CS_OK; k++) {
		for (i = 0; i < n && rc == CS_OK; i++) {
			if ((strcmp(rows[i].name, "root") == 0) != (k == 0))
				continue;
			if (set->n == CA_MAX) {
				rc = cs_err_set(err, CS_ERR_STORE,
				    "more than %d CAs", CA_MAX);
				break;
			}
			cs_strlcpy(set->e[set->n].name, rows[i].name,
			    sizeof(set->e[set->n].name));
			cs_strlcpy(set->e[set->n].key_uri, rows[i].key_uri,
			    sizeof(set->e[set->n].key_uri));
			rc = crypto_cert_from_der(rows[i].cert_der->data,
			    rows[i].cert_der->len, &set->e[set->n].cert, err);
			if (rc == CS_OK)
				set->n++;
		}
		if (rc == CS_OK && k == 0 && set->n != 1)
			rc = cs_err_set(err, CS_ERR_NOT_FOUND, "no root CA");
	}
	if (rc == CS_OK && set->n < 2)
		rc = cs_err_set(err, CS_ERR_NOT_FOUND, "no issuing CA");
	if (rc != CS_OK)
		goto out;
	if (X509_up_ref(set->e[0].cert) != 1 ||
	    X509_up_ref(set->e[set->n - 1].cert) != 1) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	ca_set_free(svc);
	X509_free(svc->root);
	X509_free(svc->issuing);
	svc->root = set->e[0].cert;
	svc->issuing = set->e[set->n - 1].cert;
	svc->cas = set;
	set = NULL;
out:
	if (set != NULL) {
		for (i = 0; i < set->n; i++)
			X509_free(set->e[i].cert);
		free(set);
	}
	store_ca_list_free(rows, n);
	return rc;
}

X509 *
ca_issuer_of(const struct svc *svc, X509 *cert)
{
	size_t i;

	for (i = 1; svc->cas != NULL && i < svc->cas->n; i++)
		if (X509_check_issued(svc->cas->e[i].cert, cert) == X509_V_OK)
			return svc->cas->e[i].cert;
	return svc->issuing;
}

const struct ca_entry *
ca_by_name(const struct svc *svc, const char *name)
{
	size_t i;

	for (i = 0; svc->cas != NULL && name != NULL && i < svc->cas->n; i++)
		if (strcmp(svc->cas->e[i].name, name) == 0)
			return &svc->cas->e[i];
	return NULL;
}

const char *
ca_current_name(const struct svc *svc)
{
	if (svc->cas == NULL || svc->cas->n < 2)
		return "issuing";
	return svc->cas->e[svc->cas->n - 1].name;
}

/* Write the new issuing CA with its key inventory and audit event. */
static enum cs_rc
ca_rollover_store(struct svc *svc, const char *name, const char *label,
    const char *uri, const char *alg, X509 *cert, const char *actor,
    struct cs_err *err)
{
	char object[STORE_NAME_MAX + 8], detail[STORE_NAME_MAX + 96];
	struct store_audit_event ev;
	struct store_key key;
	struct store_tx *tx = NULL;
	struct buf *der = NULL;
	enum cs_rc rc;

	rc = crypto_cert_to_der(cert, &der, err);
	if (rc != CS_OK)
		return rc;
	memset(&key, 0, sizeof(key));
	cs_strlcpy(key.uri, uri, sizeof(key.uri));
	cs_strlcpy(key.label, label, sizeof(key.label));
	cs_strlcpy(key.alg, alg, sizeof(key.alg));
	cs_strlcpy(key.purpose, "ca-issuing", sizeof(key.purpose));
	key.created = (int64_t)time(NULL);
	snprintf(object, sizeof(object), "ca:%s", name);
	snprintf(detail, sizeof(detail), "{\"alg\":\"%s\",\"previous\":\"%s\"}",
	    alg, ca_current_name(svc));
	memset(&ev, 0, sizeof(ev));
	ev.actor = actor != NULL ? actor : "admin";
	ev.action = "ca.rollover";
	ev.object = object;
	ev.outcome = "ok";
	ev.detail = detail;
	rc = store_tx_begin(svc->store, &tx, err);
	if (rc != CS_OK)
		goto out;
	rc = store_ca_put(tx, name, uri, der->data, der->len, err);
	if (rc == CS_OK)
		rc = store_key_put(tx, &key, err);
	if (rc == CS_OK)
		rc = store_audit_append(tx, &ev, NULL, err);
	if (rc != CS_OK)
		goto out;
	rc = store_tx_commit(tx, err);
	tx = NULL;
out:
	store_tx_rollback(tx);
	buf_free(der);
	return rc;
}

enum cs_rc
ca_rollover(struct svc *svc, const struct ca_rollover_opts *o, char *name,
    size_t namesz, struct cs_err *err)
{
	char label[STORE_NAME_MAX], cn[64], uri[P11_URI_MAX];
	char newname[STORE_NAME_MAX];
	struct store_key cur;
	EVP_PKEY *root_key = NULL, *key = NULL;
	X509 *cert = NULL;
	enum p11_alg alg = o->alg;
	int64_t destroyed_at;
	size_t gen;
	enum cs_rc rc;

	if (svc->cas == NULL || svc->cas->n < 2)
		return cs_err_set(err, CS_ERR_NOT_FOUND,
		    "no CA yet (run 'certsvc-admin ca init')");
	if (svc->cas->n == CA_MAX)
		return cs_err_set(err, CS_ERR_CONFLICT,
		    "there are %d issuing CAs already", CA_MAX - 1);
	if (!o->has_alg) {
		rc = store_key_find(svc->store,
		    svc->cas->e[svc->cas->n - 1].key_uri, &cur, &destroyed_at,
		    err);
		if (rc != CS_OK)
			return rc;
		if (!p11_alg_parse(cur.alg, &alg))
			return cs_err_set(err, CS_ERR_INVALID,
			    "the current issuing CA's algorithm '%s' is "
			    "unknown: give one",
			    cur.alg);
	}
	/* The original issuing CA is number 1 ("issuing", "ca-issuing-1"). */
	gen = svc->cas->n;
	snprintf(newname, sizeof(newname), "issuing-%zu", gen);
	snprintf(label, sizeof(label), "ca-issuing-%zu", gen);
	snprintf(cn, sizeof(cn), "certsvc Issuing CA %zu", gen);
	rc = ca_key_obtain(svc, alg, label, uri, sizeof(uri), err);
	if (rc == CS_OK)
		rc = p11_key_get(svc->token, uri, &key, err);
	if (rc == CS_OK)
		rc = p11_key_get(
		    svc->token, svc->cas->e[0].key_uri, &root_key, err);
	if (rc == CS_OK)
		rc = ca_issuing_cert(
		    svc, svc->root, root_key, key, cn, &cert, err);
	if (rc == CS_OK)
		rc = ca_rollover_store(svc, newname, label, uri,
		    p11_alg_name(alg), cert, o->actor, err);
	if (rc == CS_OK)
		rc = ca_set_load(svc, err);
	if (rc == CS_OK)
		rc = ca_export_files(svc, err);
	if (rc == CS_OK && !cs_strlcpy(name, newname, namesz))
		rc = cs_err_set(err, CS_ERR_INVALID, "name buffer too small");
	X509_free(cert);
	EVP_PKEY_free(key);
	EVP_PKEY_free(root_key);
	return rc;
}
