/*
 * seal.c: e-seals.  Creating one generates its key in the token and has
 * the issuing CA certify it; the certificate, key inventory and audit
 * event are one transaction.
 *
 * Issuance needs a seal's signer on every request, so signers are cached
 * in svc (key handle, certificate, image hash).  An entry lives
 * SEAL_CACHE_TTL_NS at most, and only while the store's "seals"
 * generation (moved by triggers on every seal change, whichever process
 * made it) is the one it was loaded under: the generation is read at most
 * every SEAL_GEN_CHECK_NS, so a rotation or revocation made by
 * certsvc-admin while certsvcd runs takes effect there within that, and
 * changes made through this process drop the entry at once.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "certsvc/ca.h"
#include "certsvc/log.h"
#include "certsvc/mem.h"
#include "certsvc/seal.h"
#include "crypto/crypto.h"

#define SEAL_CACHE_TTL_NS (5ULL * 1000000000ULL)
#define SEAL_CACHE_MAX 256
#define SEAL_GEN_CHECK_NS (1000000ULL)

struct seal_cache_entry {
	char key[STORE_CODE_MAX + 2]; /* seal id, or "@" + dept for defaults */
	uint64_t expires;
	int64_t gen; /* the "seals" generation it was loaded under */
	struct seal_signer *signer;
};

struct seal_cache {
	pthread_mutex_t mu;
	size_t n;
	int64_t gen;          /* the newest "seals" generation seen */
	uint64_t gen_checked; /* when it was read */
	struct seal_cache_entry e[SEAL_CACHE_MAX];
};

static const unsigned char png_magic[8] = {
    0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

static bool
seal_name_ok(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n <= 128 && cs_utf8_count(name, n, false) > 0;
}

static void
seal_new_id(char *id, size_t idsz)
{
	unsigned char rnd[8];
	size_t i;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		memset(rnd, 0, sizeof(rnd));
	cs_strlcpy(id, "S-", idsz);
	for (i = 0; i < sizeof(rnd) && 2 + 2 * i + 2 < idsz; i++)
		snprintf(id + 2 + 2 * i, idsz - 2 - 2 * i, "%02x", rnd[i]);
}

enum cs_rc
seal_certify(struct svc *svc, const struct seal_create_opts *o,
    const struct store_dept *dept, const char *uri, X509 **out,
    struct cs_err *err)
{
	char orgid[STORE_CODE_MAX + 16];
	struct crypto_cert_spec spec;
	EVP_PKEY *pub = NULL;
	enum cs_rc rc;

	rc = p11_key_public(svc->token, uri, &pub, err);
	if (rc != CS_OK)
		return rc;
	snprintf(
	    orgid, sizeof(orgid), "NTR%s-%s", svc->cfg.ca_country, dept->code);
	memset(&spec, 0, sizeof(spec));
	spec.profile = CRYPTO_CERT_SEAL;
	spec.common_name = o->name;
	spec.organization = dept->name;
	spec.country = svc->cfg.ca_country;
	spec.org_identifier = orgid;
	spec.days = o->days > 0 ? o->days : SEAL_DAYS_DEFAULT;
	spec.subject_key = pub;
	rc = ca_issue(svc, &spec, out, err);
	EVP_PKEY_free(pub);
	return rc;
}

enum cs_rc
seal_create(struct svc *svc, const struct seal_create_opts *o, char *id,
    size_t idsz, struct cs_err *err)
{
	char uri[P11_URI_MAX], label[STORE_CODE_MAX + 8];
	char object[STORE_CODE_MAX + 8], detail[256];
	struct store_audit_event ev;
	struct store_dept dept;
	struct store_seal seal;
	struct store_key key;
	struct store_tx *tx = NULL;
	struct buf *der = NULL;
	X509 *cert = NULL;
	enum cs_rc rc;

	memset(&seal, 0, sizeof(seal));
	if (svc->issuing == NULL)
		return cs_err_set(err, CS_ERR_NOT_FOUND,
		    "no CA yet (run 'certsvc-admin ca init')");
	if (o->name == NULL || !seal_name_ok(o->name))
		return cs_err_set(err, CS_ERR_INVALID,
		    "name: must be 1 to 128 bytes without control characters");
	if (o->image != NULL &&
	    (o->image_len < sizeof(png_magic) ||
	        o->image_len > SEAL_IMAGE_MAX ||
	        memcmp(o->image, png_magic, sizeof(png_magic)) != 0))
		return cs_err_set(err, CS_ERR_INVALID,
		    "image: must be a PNG file of at most %d bytes",
		    SEAL_IMAGE_MAX);
	rc = store_dept_get(svc->store, o->dept, &dept, err);
	if (rc != CS_OK)
		return rc;
	seal_new_id(seal.id, sizeof(seal.id));
	snprintf(label, sizeof(label), "seal-%s", seal.id);
	rc = p11_key_generate(svc->token, o->alg, label, uri, sizeof(uri), err);
	if (rc != CS_OK)
		return rc;
	rc = seal_certify(svc, o, &dept, uri, &cert, err);
	if (rc != CS_OK)
		goto out;
	rc = crypto_cert_to_der(cert, &der, err);
	if (rc != CS_OK)
		goto out;

	cs_strlcpy(seal.dept, dept.code, sizeof(seal.dept));
	cs_strlcpy(seal.name, o->name, sizeof(seal.name));
	cs_strlcpy(seal.alg, p11_alg_name(o->alg), sizeof(seal.alg));
	cs_strlcpy(seal.key_uri, uri, sizeof(seal.key_uri));
	seal.cert_der = der;
	if (o->image != NULL) {
		seal.image = buf_from(o->image, o->image_len);
		if (seal.image == NULL) {
			rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
			goto out;
		}
		seal.has_image = true;
		if (EVP_Digest(o->image, o->image_len, seal.image_sha256, NULL,
		        EVP_sha256(), NULL) != 1) {
			rc = cs_err_ossl(err, CS_ERR_CRYPTO, "SHA-256 failed");
			goto out;
		}
	}
	cs_strlcpy(seal.status, "active", sizeof(seal.status));
	seal.created = (int64_t)time(NULL);
	memset(&key, 0, sizeof(key));
	cs_strlcpy(key.uri, uri, sizeof(key.uri));
	cs_strlcpy(key.label, label, sizeof(key.label));
	cs_strlcpy(key.alg, seal.alg, sizeof(key.alg));
	cs_strlcpy(key.purpose, "seal", sizeof(key.purpose));
	key.created = seal.created;
	snprintf(object, sizeof(object), "seal:%s", seal.id);
	snprintf(detail, sizeof(detail),
	    "{\"alg\":\"%s\",\"dept\":\"%s\",\"image\":%s}", seal.alg,
	    dept.code, seal.has_image ? "true" : "false");
	memset(&ev, 0, sizeof(ev));
	ev.actor = o->actor != NULL ? o->actor : "admin";
	ev.action = "seal.create";
	ev.object = object;
	ev.outcome = "ok";
	ev.detail = detail;
	rc = store_tx_begin(svc->store, &tx, err);
	if (rc != CS_OK)
		goto out;
	rc = store_seal_put(tx, &seal, err);
	if (rc == CS_OK)
		rc = store_key_put(tx, &key, err);
	if (rc == CS_OK)
		rc = store_audit_append(tx, &ev, NULL, err);
	if (rc != CS_OK)
		goto out;
	rc = store_tx_commit(tx, err);
	tx = NULL;
	if (rc != CS_OK)
		goto out;
	if (!cs_strlcpy(id, seal.id, idsz))
		rc = cs_err_set(err, CS_ERR_INVALID, "id buffer too small");
	seal_cache_drop(svc, NULL);
out:
	/* A key without its seal row is reported by 'key list' as unused. */
	store_tx_rollback(tx);
	X509_free(cert);
	buf_free(seal.image);
	buf_free(der);
	return rc;
}

void
seal_signer_free(struct seal_signer *s)
{
	if (s == NULL)
		return;
	EVP_PKEY_free(s->key);
	X509_free(s->cert);
	crypto_seal_tmpl_free(s->tmpl);
	free(s);
}

static struct seal_signer *
seal_signer_dup(const struct seal_signer *s)
{
	struct seal_signer *d;

	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	*d = *s;
	EVP_PKEY_up_ref(d->key);
	X509_up_ref(d->cert);
	crypto_seal_tmpl_ref(d->tmpl);
	return d;
}

enum cs_rc
seal_cache_init(struct svc *svc, struct cs_err *err)
{
	struct seal_cache *c;

	c = CS_LOCKED_NEW(struct seal_cache);
	if (c == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	svc->seals = c;
	return CS_OK;
}

/* A copy of the cached signer under key, or NULL. */
static struct seal_signer *
seal_cache_find(struct svc *svc, const char *key)
{
	struct seal_cache *c = svc->seals;
	struct seal_signer *s = NULL;
	uint64_t now = cs_now_ns();
	size_t i;

	if (c == NULL)
		return NULL;
	pthread_mutex_lock(&c->mu);
	for (i = 0; i < c->n; i++) {
		if (strcmp(c->e[i].key, key) != 0)
			continue;
		if (c->e[i].expires > now && c->e[i].gen == c->gen)
			s = seal_signer_dup(c->e[i].signer);
		break;
	}
	pthread_mutex_unlock(&c->mu);
	return s;
}

/*
 * The "seals" generation into *gen, read from the store at most every
 * SEAL_GEN_CHECK_NS; entries loaded under another one are stale.  *gen
 * tags what is loaded next.  A failed read fails the caller: a store that
 * cannot be read cannot say whether the seal changed.
 */
static enum cs_rc
seal_cache_sync(struct svc *svc, int64_t *gen, struct cs_err *err)
{
	struct seal_cache *c = svc->seals;
	uint64_t now = cs_now_ns();
	enum cs_rc rc;

	*gen = 0;
	if (c == NULL)
		return CS_OK;
	pthread_mutex_lock(&c->mu);
	*gen = c->gen;
	if (c->gen_checked != 0 && now - c->gen_checked < SEAL_GEN_CHECK_NS) {
		pthread_mutex_unlock(&c->mu);
		return CS_OK;
	}
	pthread_mutex_unlock(&c->mu);
	rc = store_generation(svc->store, "seals", gen, err);
	if (rc != CS_OK)
		return rc;
	pthread_mutex_lock(&c->mu);
	c->gen_checked = now;
	if (*gen > c->gen)
		c->gen = *gen;
	*gen = c->gen;
	pthread_mutex_unlock(&c->mu);
	return CS_OK;
}

static void
seal_cache_put(
    struct svc *svc, const char *key, const struct seal_signer *s, int64_t gen)
{
	struct seal_cache *c = svc->seals;
	struct seal_signer *copy;
	size_t i;

	if (c == NULL)
		return;
	copy = seal_signer_dup(s);
	if (copy == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	for (i = 0; i < c->n; i++)
		if (strcmp(c->e[i].key, key) == 0)
			break;
	if (i == c->n) {
		if (c->n == SEAL_CACHE_MAX) {
			/* Full: drop the oldest-expiring entry. */
			size_t j, old = 0;

			for (j = 1; j < c->n; j++)
				if (c->e[j].expires < c->e[old].expires)
					old = j;
			i = old;
		} else {
			c->n++;
		}
	}
	seal_signer_free(c->e[i].signer); /* NULL for a new slot */
	cs_strlcpy(c->e[i].key, key, sizeof(c->e[i].key));
	c->e[i].expires = cs_now_ns() + SEAL_CACHE_TTL_NS;
	c->e[i].gen = gen;
	c->e[i].signer = copy;
	pthread_mutex_unlock(&c->mu);
}

void
seal_cache_drop(struct svc *svc, const char *id)
{
	struct seal_cache *c = svc->seals;
	size_t i;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	for (i = 0; i < c->n; i++) {
		if (id != NULL && c->e[i].key[0] != '@' &&
		    strcmp(c->e[i].key, id) != 0)
			continue;
		c->e[i].expires = 0;
	}
	pthread_mutex_unlock(&c->mu);
}

void
seal_cache_free(struct svc *svc)
{
	struct seal_cache *c = svc->seals;
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++)
		seal_signer_free(c->e[i].signer);
	pthread_mutex_destroy(&c->mu);
	free(c);
	svc->seals = NULL;
}

/* Build a signer from the stored seal id. */

/*
 * s's CMS template: a signer is loaded once per cache lifetime and seals
 * many licences, each then one digest and one token signature.  This also
 * checks, once, that the token key matches the certificate.
 */
static enum cs_rc
seal_template(struct svc *svc, struct seal_signer *s, struct cs_err *err)
{
	/* Chained by the CA that issued it, older ones too (ca.h). */
	X509 *issuer = ca_issuer_of(svc, s->cert);

	/*
	 * A certificate of an issuing CA made by a rollover after this
	 * process loaded its CAs: refuse rather than seal with a chain that
	 * does not lead to the root.
	 */
	if (issuer == NULL || X509_check_issued(issuer, s->cert) != X509_V_OK)
		return cs_err_set(err, CS_ERR_CONFLICT,
		    "seal '%s': its certificate's issuing CA is not loaded "
		    "here (restart certsvcd after 'ca rollover')",
		    s->id);
	return crypto_seal_tmpl_for(s->key, s->cert, issuer,
	    s->has_image ? s->image_sha256 : NULL, &s->tmpl, err);
}

static enum cs_rc
seal_signer_load(struct svc *svc, const char *id, struct seal_signer **out,
    struct cs_err *err)
{
	struct store_seal seal;
	struct seal_signer *s;
	enum cs_rc rc;
	unsigned len = 0;

	*out = NULL;
	memset(&seal, 0, sizeof(seal));
	rc = store_seal_get(svc->store, id, &seal, err);
	if (rc != CS_OK)
		return rc;
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	cs_strlcpy(s->id, seal.id, sizeof(s->id));
	cs_strlcpy(s->dept, seal.dept, sizeof(s->dept));
	s->has_image = seal.has_image;
	memcpy(s->image_sha256, seal.image_sha256, sizeof(s->image_sha256));
	if (strcmp(seal.status, "active") != 0) {
		rc = cs_err_set(
		    err, CS_ERR_CONFLICT, "seal '%s' is %s", id, seal.status);
		goto out;
	}
	rc = crypto_cert_from_der(
	    seal.cert_der->data, seal.cert_der->len, &s->cert, err);
	if (rc != CS_OK)
		goto out;
	if (X509_digest(s->cert, EVP_sha256(), s->cert_sha256, &len) != 1) {
		rc = cs_err_ossl(
		    err, CS_ERR_CRYPTO, "certificate digest failed");
		goto out;
	}
	rc = p11_key_get(svc->token, seal.key_uri, &s->key, err);
	if (rc != CS_OK)
		goto out;
	rc = seal_template(svc, s, err);
	if (rc != CS_OK)
		goto out;
	*out = s;
	s = NULL;
out:
	seal_signer_free(s);
	store_seal_release(&seal);
	return rc;
}

/* The id of dept's newest active seal. */
static enum cs_rc
seal_default_id(struct svc *svc, const char *dept, char *id, size_t idsz,
    struct cs_err *err)
{
	struct store_seal *list = NULL;
	enum cs_rc rc;
	size_t n = 0, i;

	rc = store_seal_list(svc->store, dept, &list, &n, err);
	if (rc != CS_OK)
		return rc;
	rc = cs_err_set(
	    err, CS_ERR_NOT_FOUND, "department '%s' has no active seal", dept);
	for (i = 0; i < n; i++) {
		if (strcmp(list[i].status, "active") == 0) {
			cs_strlcpy(id, list[i].id, idsz);
			cs_err_clear(err);
			rc = CS_OK;
			break;
		}
	}
	for (i = 0; i < n; i++)
		store_seal_release(&list[i]);
	free(list);
	return rc;
}

enum cs_rc
seal_signer_get(struct svc *svc, const char *id, const char *dept,
    struct seal_signer **out, struct cs_err *err)
{
	char key[STORE_CODE_MAX + 2], sid[STORE_CODE_MAX];
	struct seal_signer *s;
	int64_t gen;
	enum cs_rc rc;

	*out = NULL;
	rc = seal_cache_sync(svc, &gen, err);
	if (rc != CS_OK)
		return rc;
	if (id == NULL) {
		snprintf(key, sizeof(key), "@%s", dept);
		s = seal_cache_find(svc, key);
		if (s != NULL)
			goto found;
		rc = seal_default_id(svc, dept, sid, sizeof(sid), err);
		if (rc != CS_OK)
			return rc;
		id = sid;
	} else {
		key[0] = '\0';
	}
	s = seal_cache_find(svc, id);
	if (s == NULL) {
		rc = seal_signer_load(svc, id, &s, err);
		if (rc == CS_ERR_NOT_FOUND)
			return cs_err_set(
			    err, CS_ERR_NOT_FOUND, "seal: no seal '%s'", id);
		if (rc != CS_OK)
			return rc;
		seal_cache_put(svc, id, s, gen);
	}
	if (key[0] != '\0')
		seal_cache_put(svc, key, s, gen);
found:
	if (strcmp(s->dept, dept) != 0) {
		seal_signer_free(s);
		return cs_err_set(err, CS_ERR_DENIED,
		    "seal '%s' belongs to another department", id);
	}
	*out = s;
	return CS_OK;
}

enum cs_rc
seal_revoke(struct svc *svc, const char *id, const char *reason,
    const char *actor, struct cs_err *err)
{
	struct store_audit_event ev;
	struct store_tx *tx = NULL;
	char object[STORE_CODE_MAX + 8], detail[64];
	enum cs_rc rc;

	if (reason == NULL || *reason == '\0' || strlen(reason) > 200 ||
	    cs_utf8_count(reason, strlen(reason), false) < 0)
		return cs_err_set(err, CS_ERR_INVALID,
		    "reason: must be 1 to 200 bytes without control "
		    "characters");
	snprintf(object, sizeof(object), "seal:%s", id);
	/* The CRLReason that CRLs and OCSP will carry, for the audit trail. */
	snprintf(detail, sizeof(detail), "{\"crl_reason\":\"%s\"}",
	    crypto_reason_name(crypto_reason_from_text(reason)));
	memset(&ev, 0, sizeof(ev));
	ev.actor = actor != NULL ? actor : "admin";
	ev.action = "seal.revoke";
	ev.object = object;
	ev.outcome = "ok";
	ev.detail = detail;
	rc = store_tx_begin(svc->store, &tx, err);
	if (rc != CS_OK)
		return rc;
	rc = store_seal_revoke(tx, id, reason, (int64_t)time(NULL), err);
	if (rc == CS_OK)
		rc = store_audit_append(tx, &ev, NULL, err);
	if (rc != CS_OK) {
		store_tx_rollback(tx);
		return rc;
	}
	rc = store_tx_commit(tx, err);
	seal_cache_drop(svc, id);
	/*
	 * The "certs" generation moved with the status (a trigger): in
	 * certsvcd the refresher re-signs OCSP and the CRL now; another
	 * process's change is seen at its next one-second tick.
	 */
	if (rc == CS_OK)
		svc_refresher_nudge(svc);
	return rc;
}
