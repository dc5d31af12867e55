/*
 * pkistatus.c: certificate status answers, signed ahead of time and served
 * from memory (DESIGN.md section 5).
 *
 * What is signed lives in one immutable snapshot: an array of pre-signed
 * OCSP responses sorted by CertID key (two per certificate, for SHA-1
 * CertIDs as RFC 5019 asks and for SHA-256 ones), and one CRL per CA.
 * Readers take the read lock, binary-search, copy the bytes and let go;
 * only the refresher builds a new snapshot (outside the lock, token
 * signatures included) and swaps the pointer under the write lock, so a
 * request never waits on the token or the store.
 *
 * Who signs what: the issuing CA's certificates (seals and certsvc's
 * service certificates) are answered by a delegated OCSP responder (RFC
 * 6960 4.2.2.2: id-kp-OCSPSigning, ocsp-nocheck, issued by the issuing CA
 * for PKISTATUS_RESPONDER_DAYS and renewed, with a new token key, when a
 * third of that is left).  The issuing CA's own certificate is answered
 * with responses the root key signs itself (the CA answering for what it
 * issued, 4.2.2.2 case 1): the root key signs two responses and one CRL
 * per half lifetime, so no second responder certificate is needed.  The
 * root certificate is a trust anchor: no CertID can name it (unauthorized).
 *
 * After an issuing-CA rollover (ca.h) the process knows several issuing
 * CAs: the current one answers through its delegated responder as above
 * (a responder certificate of an older CA is replaced by one of the
 * current CA), and each older one answers for what it issued with its own
 * key, as the root does, and signs its own CRL (/crl/<name>.crl).
 *
 * When things are re-signed: the snapshot remembers the "certs" generation
 * (store_generation) it was built from.  The refresher rebuilds when the
 * generation moved, when the responder certificate changed, or when
 * anything in it is half-way to its nextUpdate; a rebuild re-signs only
 * what changed or is half-way (the rest is copied), so creating a seal
 * costs two signatures, not two per certificate.  A response or CRL past
 * its nextUpdate is never served (tryLater / 503).
 *
 * cRLNumber: max(thisUpdate in Unix seconds, previous number + 1), one
 * sequence for both CAs, so it increases with every CRL a process signs
 * and across restarts as long as the clock does not go back.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certsvc/ca.h"
#include "certsvc/log.h"
#include "certsvc/pkistatus.h"
#include "certsvc/svckey.h"
#include "crypto/crypto.h"
#include "pkcs11/p11.h"

/* CA indexes are those of svc->cas: the root, then the issuing CAs. */
enum { PKI_ROOT = 0, PKI_ISSUING = 1, PKI_NCA = CA_MAX };

/* How many CAs svc knows; the last is the current issuing CA. */
static int
pki_nca(const struct svc *svc)
{
	return svc->cas != NULL ? (int)svc->cas->n : 0;
}

static int
pki_current(const struct svc *svc)
{
	return pki_nca(svc) - 1;
}

static X509 *
pki_ca_cert(const struct svc *svc, int ca)
{
	return svc->cas->e[ca].cert;
}

/* One pre-signed OCSP response and what it says. */
struct pki_resp {
	struct crypto_ocsp_key key;
	struct buf *der;
	int64_t this_update, next_update, produced_at;
	char etag[72];
	bool revoked;
	int64_t revoked_at;
	enum crypto_reason reason;
	char signer[STORE_SERIAL_MAX]; /* responder serial, or "root" */
	struct buf *plain;             /* crypto_ocsp_plain_request() for it */
};

struct pki_crl {
	struct buf *der;
	int64_t this_update, next_update, number;
	char etag[72];
	unsigned char content[32]; /* SHA-256 of the entries it lists */
};

struct pki_snap {
	int64_t gen;
	int64_t refresh_at; /* the earliest half-life of what it holds */
	char responder[STORE_SERIAL_MAX];
	struct pki_resp *resp; /* sorted by key */
	size_t n;
	/*
	 * resp sorted by the bytes of their plain request: most clients send
	 * exactly those (RFC 5019 clients make no nonce), so the answer is
	 * found without parsing the request.
	 */
	const struct pki_resp **plain;
	struct pki_crl crl[PKI_NCA];
};

struct pkistatus {
	pthread_rwlock_t lock;
	pthread_mutex_t refresh_mu; /* one refresh at a time */
	struct pki_snap *snap;      /* guarded by lock */
	int64_t crl_number;         /* last cRLNumber, under refresh_mu */
	struct buf *err_der[4];     /* malformed, unauthorized, tryLater,
	                               internalError */
};

enum { PKI_ERR_MALFORMED, PKI_ERR_UNAUTH, PKI_ERR_TRYLATER, PKI_ERR_INTERNAL };

static const enum crypto_ocsp_rstatus pki_err_status[4] = {
    CRYPTO_OCSP_MALFORMED, CRYPTO_OCSP_UNAUTHORIZED, CRYPTO_OCSP_TRY_LATER,
    CRYPTO_OCSP_INTERNAL_ERROR};

/* A certificate to answer for. */
struct pki_subject {
	X509 *cert;
	int ca; /* who issued it: an index of svc->cas */
	bool revoked;
	int64_t revoked_at;
	enum crypto_reason reason;
};

/* What a rebuild signs with, loaded when first needed. */
struct pki_signers {
	struct svc *svc;
	const struct store_svc_cert *responder_row;
	X509 *responder;
	EVP_PKEY *responder_key;
	EVP_PKEY *ca_key[PKI_NCA];
};

static void
pki_snap_free(struct pki_snap *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++) {
		buf_free(s->resp[i].der);
		buf_free(s->resp[i].plain);
	}
	free(s->resp);
	free(s->plain);
	for (i = 0; i < PKI_NCA; i++)
		buf_free(s->crl[i].der);
	free(s);
}

enum cs_rc
pkistatus_init(struct svc *svc, struct cs_err *err)
{
	struct pkistatus *p;
	enum cs_rc rc = CS_OK;
	size_t i;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	if (pthread_rwlock_init(&p->lock, NULL) != 0) {
		free(p);
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	}
	if (pthread_mutex_init(&p->refresh_mu, NULL) != 0) {
		pthread_rwlock_destroy(&p->lock);
		free(p);
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	}
	svc->pki = p;
	for (i = 0; i < 4 && rc == CS_OK; i++)
		rc = crypto_ocsp_error_response(
		    pki_err_status[i], &p->err_der[i], err);
	if (rc != CS_OK)
		pkistatus_free(svc);
	return rc;
}

void
pkistatus_free(struct svc *svc)
{
	struct pkistatus *p = svc != NULL ? svc->pki : NULL;
	size_t i;

	if (p == NULL)
		return;
	pki_snap_free(p->snap);
	for (i = 0; i < 4; i++)
		buf_free(p->err_der[i]);
	pthread_mutex_destroy(&p->refresh_mu);
	pthread_rwlock_destroy(&p->lock);
	free(p);
	svc->pki = NULL;
}

static int
pki_key_cmp(const struct crypto_ocsp_key *a, const struct crypto_ocsp_key *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->b, b->b, n);

	if (c != 0)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

static int
pki_resp_cmp(const void *a, const void *b)
{
	return pki_key_cmp(&((const struct pki_resp *)a)->key,
	    &((const struct pki_resp *)b)->key);
}

static int
pki_bytes_cmp(const uint8_t *a, size_t alen, const struct buf *b)
{
	if (alen != b->len)
		return alen < b->len ? -1 : 1;
	return memcmp(a, b->data, alen);
}

static int
pki_plain_cmp(const void *a, const void *b)
{
	const struct pki_resp *x = *(const struct pki_resp *const *)a;
	const struct pki_resp *y = *(const struct pki_resp *const *)b;

	return pki_bytes_cmp(x->plain->data, x->plain->len, y->plain);
}

/* The response whose plain request is exactly req, or NULL. */
static const struct pki_resp *
pki_find_plain(const struct pki_snap *s, const uint8_t *req, size_t len)
{
	size_t lo = 0, hi, mid;
	int c;

	if (s == NULL || s->plain == NULL)
		return NULL;
	hi = s->n;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = pki_bytes_cmp(req, len, s->plain[mid]->plain);
		if (c == 0)
			return s->plain[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static const struct pki_resp *
pki_find(const struct pki_snap *s, const struct crypto_ocsp_key *k)
{
	size_t lo = 0, hi, mid;
	int c;

	if (s == NULL)
		return NULL;
	hi = s->n;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = pki_key_cmp(k, &s->resp[mid].key);
		if (c == 0)
			return &s->resp[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* A quoted strong ETag: the SHA-256 of the bytes, in hex. */
static void
pki_etag(const struct buf *b, char out[72])
{
	unsigned char md[32];
	size_t i;

	out[0] = '\0';
	if (EVP_Digest(b->data, b->len, md, NULL, EVP_sha256(), NULL) != 1) {
		(void)cs_err_ossl(NULL, CS_ERR_CRYPTO, "SHA-256 failed");
		return;
	}
	out[0] = '"';
	for (i = 0; i < sizeof(md); i++)
		snprintf(out + 1 + 2 * i, 3, "%02x", md[i]);
	out[65] = '"';
	out[66] = '\0';
}

/* --- the OCSP responder certificate ------------------------------------ */

/* True when c was issued by the current issuing CA (not before a rollover). */
static bool
pki_issued_by_current(struct svc *svc, const struct store_svc_cert *c)
{
	X509 *x = NULL;
	bool ok;

	if (crypto_cert_from_der(
	        c->cert_der->data, c->cert_der->len, &x, NULL) != CS_OK)
		return false;
	ok = X509_check_issued(svc->issuing, x) == X509_V_OK;
	X509_free(x);
	return ok;
}

/*
 * The current responder certificate into *cur (store_svc_cert_release),
 * issuing one when there is none or a third of its validity is left.  If
 * renewal fails while the old one is still valid, the old one is used.
 */
static enum cs_rc
pki_responder(struct svc *svc, int64_t now, struct store_svc_cert *cur,
    struct cs_err *err)
{
	struct svckey k;
	int64_t k_not_before;
	enum cs_rc rc;
	bool have;

	rc = store_svc_cert_current(svc->store, "ocsp", now, cur, err);
	if (rc != CS_OK && rc != CS_ERR_NOT_FOUND)
		return rc;
	have = rc == CS_OK && pki_issued_by_current(svc, cur);
	if (have &&
	    (cur->not_after - now) * 3 > cur->not_after - cur->not_before)
		return CS_OK;
	cs_err_clear(err);
	rc = svckey_create(svc, "ocsp", CRYPTO_CERT_OCSP, "OCSP Responder",
	    PKISTATUS_RESPONDER_DAYS, "system", &k, err);
	k_not_before = now;
	if (rc == CS_OK) {
		struct store_svc_cert info;

		memset(&info, 0, sizeof(info));
		if (svckey_cert_info(k.cert, &info, NULL) == CS_OK)
			k_not_before = info.not_before;
		store_svc_cert_release(&info);
	}
	svckey_release(&k);
	if (rc != CS_OK) {
		if (!have)
			return rc;
		cs_log(CS_LOG_WARN, "cannot renew the OCSP responder: %s",
		    err != NULL ? err->msg : "");
		cs_err_clear(err);
		return CS_OK;
	}
	store_svc_cert_release(cur);
	/*
	 * The new certificate may start in a later second than the refresh
	 * did: read it at its own start, which the caller's now then follows
	 * (no answer may predate its responder's certificate).
	 */
	return store_svc_cert_current(svc->store, "ocsp",
	    now > k_not_before ? now : k_not_before, cur, err);
}

/* --- building a snapshot ----------------------------------------------- */

struct pki_subjects {
	struct pki_subject *v;
	size_t n, cap;
};

static void
pki_subjects_free(struct pki_subjects *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		X509_free(s->v[i].cert);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/*
 * Add der, a certificate issued by the root (ca PKI_ROOT) or by one of the
 * issuing CAs (PKI_ISSUING: whichever did), unless none of them did.
 */
static enum cs_rc
pki_subject_add(struct svc *svc, struct pki_subjects *s, int ca,
    const struct buf *der, const char *status, const char *reason,
    int64_t revoked_at, struct cs_err *err)
{
	struct pki_subject *grown;
	X509 *x = NULL;
	enum cs_rc rc;
	int i;

	if (der == NULL)
		return CS_OK;
	rc = crypto_cert_from_der(der->data, der->len, &x, err);
	if (rc != CS_OK)
		return rc;
	for (i = ca; i < (ca == PKI_ROOT ? 1 : pki_nca(svc)); i++)
		if (X509_check_issued(pki_ca_cert(svc, i), x) == X509_V_OK)
			break;
	if (i >= (ca == PKI_ROOT ? 1 : pki_nca(svc))) {
		/* From a CA this process does not know: not ours. */
		X509_free(x);
		return CS_OK;
	}
	ca = i;
	if (s->n == s->cap) {
		size_t cap = s->cap == 0 ? 16 : 2 * s->cap;

		grown = reallocarray(s->v, cap, sizeof(*grown));
		if (grown == NULL) {
			X509_free(x);
			return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		}
		s->v = grown;
		s->cap = cap;
	}
	memset(&s->v[s->n], 0, sizeof(s->v[s->n]));
	s->v[s->n].cert = x;
	s->v[s->n].ca = ca;
	s->v[s->n].revoked = strcmp(status, "revoked") == 0;
	s->v[s->n].revoked_at = revoked_at;
	s->v[s->n].reason = crypto_reason_from_text(reason);
	s->n++;
	return CS_OK;
}

/*
 * The certificates seals had before a rotation (rotate.c): valid until
 * they expire, revoked with their seal or on their own.
 */
static enum cs_rc
pki_collect_retired(struct svc *svc, struct pki_subjects *s,
    const struct store_seal *seals, size_t nseals, struct cs_err *err)
{
	struct store_seal_key *keys = NULL;
	size_t n = 0, i, j;
	enum cs_rc rc;

	rc = store_seal_key_list(svc->store, NULL, &keys, &n, err);
	for (i = 0; i < n && rc == CS_OK; i++) {
		for (j = 0; j < nseals; j++)
			if (strcmp(seals[j].id, keys[i].seal_id) == 0)
				break;
		if (j == nseals)
			continue;
		/* Revoked on its own, or else with its seal. */
		if (strcmp(keys[i].status, "revoked") == 0 &&
		    (seals[j].revoked_at <= 0 ||
		        keys[i].revoked_at < seals[j].revoked_at))
			rc = pki_subject_add(svc, s, PKI_ISSUING,
			    keys[i].cert_der, "revoked", keys[i].reason,
			    keys[i].revoked_at, err);
		else
			rc = pki_subject_add(svc, s, PKI_ISSUING,
			    keys[i].cert_der, seals[j].status, seals[j].reason,
			    seals[j].revoked_at, err);
	}
	store_seal_key_list_free(keys, n);
	return rc;
}

/* Every certificate the two CAs issued: issuing CA, seals, services. */
static enum cs_rc
pki_collect(struct svc *svc, struct pki_subjects *s, struct cs_err *err)
{
	struct store_svc_cert *certs = NULL;
	struct store_seal *seals = NULL, one;
	struct buf *der = NULL;
	size_t nseals = 0, ncerts = 0, i;
	enum cs_rc rc = CS_OK;
	int ca;

	/* Every issuing CA's own certificate, answered for by the root. */
	for (ca = PKI_ISSUING; ca < pki_nca(svc) && rc == CS_OK; ca++) {
		rc = crypto_cert_to_der(pki_ca_cert(svc, ca), &der, err);
		if (rc == CS_OK)
			rc = pki_subject_add(
			    svc, s, PKI_ROOT, der, "active", "", 0, err);
		buf_free(der);
		der = NULL;
	}
	if (rc != CS_OK)
		return rc;
	rc = store_seal_list(svc->store, NULL, &seals, &nseals, err);
	if (rc != CS_OK)
		goto out;
	for (i = 0; i < nseals && rc == CS_OK; i++) {
		memset(&one, 0, sizeof(one));
		rc = store_seal_get(svc->store, seals[i].id, &one, err);
		if (rc == CS_OK)
			rc = pki_subject_add(svc, s, PKI_ISSUING, one.cert_der,
			    one.status, one.reason, one.revoked_at, err);
		store_seal_release(&one);
	}
	if (rc == CS_OK)
		rc = pki_collect_retired(svc, s, seals, nseals, err);
	if (rc != CS_OK)
		goto out;
	rc = store_svc_cert_list(svc->store, &certs, &ncerts, err);
	for (i = 0; i < ncerts && rc == CS_OK; i++)
		rc = pki_subject_add(svc, s,
		    strcmp(certs[i].ca, "root") == 0 ? PKI_ROOT : PKI_ISSUING,
		    certs[i].cert_der, certs[i].status, certs[i].reason,
		    certs[i].revoked_at, err);
out:
	store_svc_cert_list_free(certs, ncerts);
	for (i = 0; i < nseals; i++)
		store_seal_release(&seals[i]);
	free(seals);
	return rc;
}

/* CA ca's own key (root: OCSP for the issuing CA and its CRL). */
static enum cs_rc
pki_ca_key(struct pki_signers *g, int ca, EVP_PKEY **key, struct cs_err *err)
{
	enum cs_rc rc;

	*key = g->ca_key[ca];
	if (*key != NULL)
		return CS_OK;
	rc = p11_key_get(
	    g->svc->token, g->svc->cas->e[ca].key_uri, &g->ca_key[ca], err);
	*key = g->ca_key[ca];
	return rc;
}

/* The key and certificate that answer for CA ca's certificates. */
static enum cs_rc
pki_signer(struct pki_signers *g, int ca, X509 **cert, EVP_PKEY **key,
    struct cs_err *err)
{
	enum cs_rc rc;

	if (ca == pki_current(g->svc)) {
		if (g->responder == NULL) {
			rc = crypto_cert_from_der(
			    g->responder_row->cert_der->data,
			    g->responder_row->cert_der->len, &g->responder,
			    err);
			if (rc != CS_OK)
				return rc;
		}
		if (g->responder_key == NULL) {
			rc = p11_key_get(g->svc->token,
			    g->responder_row->key_uri, &g->responder_key, err);
			if (rc != CS_OK)
				return rc;
		}
		*cert = g->responder;
		*key = g->responder_key;
		return CS_OK;
	}
	/* The root, or an issuing CA before a rollover: the CA itself. */
	rc = pki_ca_key(g, ca, key, err);
	*cert = pki_ca_cert(g->svc, ca);
	return rc;
}

static void
pki_signers_release(struct pki_signers *g)
{
	size_t i;

	X509_free(g->responder);
	EVP_PKEY_free(g->responder_key);
	for (i = 0; i < PKI_NCA; i++)
		EVP_PKEY_free(g->ca_key[i]);
}

/*
 * Fill r (key already set) for subject j with hash md: copied from the old
 * snapshot when it says the same, was signed by the same signer and is not
 * half-way to its nextUpdate, else signed now.
 */
static enum cs_rc
pki_resp_make(struct pki_signers *g, const struct pki_snap *old,
    const struct pki_subject *j, const EVP_MD *md, const char *signer_id,
    int64_t now, struct pki_resp *r, struct cs_err *err)
{
	const struct pki_resp *o = pki_find(old, &r->key);
	struct crypto_ocsp_single one;
	EVP_PKEY *key = NULL;
	X509 *signer = NULL;
	enum cs_rc rc;

	r->revoked = j->revoked;
	r->revoked_at = j->revoked ? j->revoked_at : 0;
	r->reason = j->revoked ? j->reason : CRYPTO_REASON_NONE;
	cs_strlcpy(r->signer, signer_id, sizeof(r->signer));
	if (o != NULL && o->revoked == r->revoked &&
	    o->revoked_at == r->revoked_at && o->reason == r->reason &&
	    strcmp(o->signer, r->signer) == 0 &&
	    now < o->this_update + PKISTATUS_OCSP_LIFE / 2) {
		r->der = buf_from(o->der->data, o->der->len);
		if (r->der == NULL)
			return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		r->this_update = o->this_update;
		r->next_update = o->next_update;
		r->produced_at = o->produced_at;
		memcpy(r->etag, o->etag, sizeof(r->etag));
		return CS_OK;
	}
	rc = pki_signer(g, j->ca, &signer, &key, err);
	if (rc != CS_OK)
		return rc;
	memset(&one, 0, sizeof(one));
	one.cert = j->cert;
	one.issuer = pki_ca_cert(g->svc, j->ca);
	one.md = md;
	one.revoked = r->revoked;
	one.revoked_at = r->revoked_at;
	one.reason = r->reason;
	one.this_update = now;
	one.next_update = now + PKISTATUS_OCSP_LIFE;
	rc = crypto_ocsp_sign(&one, signer, key, &r->der, err);
	if (rc != CS_OK)
		return rc;
	r->this_update = one.this_update;
	r->next_update = one.next_update;
	r->produced_at = now;
	pki_etag(r->der, r->etag);
	return CS_OK;
}

static int
pki_entry_cmp(const void *a, const void *b)
{
	return ASN1_INTEGER_cmp(((const struct crypto_crl_entry *)a)->serial,
	    ((const struct crypto_crl_entry *)b)->serial);
}

/* SHA-256 over the (sorted) entries: serial, time, reason. */
static enum cs_rc
pki_crl_content(const struct crypto_crl_entry *e, size_t n,
    unsigned char out[32], struct cs_err *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char num[16];
	enum cs_rc rc = CS_OK;
	size_t i;
	int k;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "SHA-256 failed");
		goto out;
	}
	for (i = 0; i < n; i++) {
		int64_t t = e[i].revoked_at;
		const unsigned char *sp = ASN1_STRING_get0_data(e[i].serial);
		int sl = ASN1_STRING_length(e[i].serial);

		for (k = 0; k < 8; k++)
			num[k] = (unsigned char)((uint64_t)t >> (56 - 8 * k));
		num[8] = (unsigned char)(e[i].reason + 1);
		num[9] = (unsigned char)sl;
		if (EVP_DigestUpdate(ctx, num, 10) != 1 ||
		    EVP_DigestUpdate(ctx, sp, (size_t)sl) != 1) {
			rc = cs_err_ossl(err, CS_ERR_CRYPTO, "SHA-256 failed");
			goto out;
		}
	}
	if (EVP_DigestFinal_ex(ctx, out, NULL) != 1)
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "SHA-256 failed");
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* The CRL of CA ca into c: copied from old when unchanged and fresh. */
static enum cs_rc
pki_crl_make(struct pkistatus *p, struct pki_signers *g,
    const struct pki_snap *old, const struct pki_subjects *s, int ca,
    int64_t now, struct pki_crl *c, struct cs_err *err)
{
	struct crypto_crl_entry *e;
	const struct pki_crl *o = old != NULL ? &old->crl[ca] : NULL;
	X509 *issuer = pki_ca_cert(g->svc, ca);
	EVP_PKEY *key = NULL;
	size_t i, n = 0;
	enum cs_rc rc;

	e = calloc(s->n + 1, sizeof(*e));
	if (e == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	for (i = 0; i < s->n; i++) {
		if (s->v[i].ca != ca || !s->v[i].revoked)
			continue;
		e[n].serial = X509_get0_serialNumber(s->v[i].cert);
		e[n].revoked_at = s->v[i].revoked_at;
		e[n].reason = s->v[i].reason;
		n++;
	}
	qsort(e, n, sizeof(*e), pki_entry_cmp);
	rc = pki_crl_content(e, n, c->content, err);
	if (rc != CS_OK)
		goto out;
	if (o != NULL && o->der != NULL &&
	    memcmp(o->content, c->content, sizeof(c->content)) == 0 &&
	    now < o->this_update + PKISTATUS_CRL_LIFE / 2) {
		c->der = buf_from(o->der->data, o->der->len);
		if (c->der == NULL) {
			rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
			goto out;
		}
		c->this_update = o->this_update;
		c->next_update = o->next_update;
		c->number = o->number;
		memcpy(c->etag, o->etag, sizeof(c->etag));
		goto out;
	}
	rc = pki_ca_key(g, ca, &key, err);
	if (rc != CS_OK)
		goto out;
	c->this_update = now;
	c->next_update = now + PKISTATUS_CRL_LIFE;
	c->number = now > p->crl_number ? now : p->crl_number + 1;
	rc = crypto_crl_sign(issuer, key, e, n, c->this_update, c->next_update,
	    c->number, &c->der, err);
	if (rc != CS_OK)
		goto out;
	p->crl_number = c->number;
	pki_etag(c->der, c->etag);
out:
	free(e);
	return rc;
}

/* A new snapshot for generation gen (*out given). */
static enum cs_rc
pki_build(struct svc *svc, const struct store_svc_cert *responder, int64_t gen,
    int64_t now, struct pki_snap **out, struct cs_err *err)
{
	static const char *const mds[] = {"SHA1", "SHA256"};
	struct pkistatus *p = svc->pki;
	struct pki_subjects subj;
	struct pki_signers g;
	struct pki_snap *s = NULL;
	const struct pki_snap *old = p->snap; /* only the refresher swaps it */
	const EVP_MD *md;
	X509 *issuer;
	size_t i, k, w;
	int64_t half;
	enum cs_rc rc;

	*out = NULL;
	memset(&subj, 0, sizeof(subj));
	memset(&g, 0, sizeof(g));
	g.svc = svc;
	g.responder_row = responder;
	rc = pki_collect(svc, &subj, err);
	if (rc != CS_OK)
		goto out;
	s = calloc(1, sizeof(*s));
	if (s != NULL)
		s->resp = calloc(2 * subj.n + 1, sizeof(*s->resp));
	if (s == NULL || s->resp == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	s->gen = gen;
	cs_strlcpy(s->responder, responder->serial, sizeof(s->responder));
	for (i = 0; i < subj.n; i++) {
		for (k = 0; k < 2; k++) {
			struct pki_resp *r = &s->resp[s->n];

			md = EVP_get_digestbyname(mds[k]);
			issuer = pki_ca_cert(svc, subj.v[i].ca);
			rc = crypto_ocsp_key_for(
			    md, subj.v[i].cert, issuer, &r->key, err);
			if (rc == CS_OK)
				rc = crypto_ocsp_plain_request(
				    md, subj.v[i].cert, issuer, &r->plain, err);
			if (rc == CS_OK)
				rc = pki_resp_make(&g, old, &subj.v[i], md,
				    subj.v[i].ca == pki_current(svc)
				        ? responder->serial
				        : svc->cas->e[subj.v[i].ca].name,
				    now, r, err);
			if (r->der != NULL) {
				s->n++;
			} else {
				buf_free(r->plain);
				r->plain = NULL;
			}
			if (rc != CS_OK)
				goto out;
		}
	}
	qsort(s->resp, s->n, sizeof(*s->resp), pki_resp_cmp);
	/* Two certificates with one serial cannot both be answered. */
	for (i = 0, w = 0; i < s->n; i++) {
		if (w > 0 &&
		    pki_key_cmp(&s->resp[w - 1].key, &s->resp[i].key) == 0) {
			buf_free(s->resp[i].der);
			buf_free(s->resp[i].plain);
			continue;
		}
		s->resp[w++] = s->resp[i];
	}
	s->n = w;
	s->plain = calloc(s->n + 1, sizeof(*s->plain));
	if (s->plain == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < s->n; i++)
		s->plain[i] = &s->resp[i];
	qsort(s->plain, s->n, sizeof(*s->plain), pki_plain_cmp);
	for (i = 0; i < (size_t)pki_nca(svc) && rc == CS_OK; i++)
		rc = pki_crl_make(
		    p, &g, old, &subj, (int)i, now, &s->crl[i], err);
	if (rc != CS_OK)
		goto out;
	s->refresh_at = INT64_MAX;
	for (i = 0; i < s->n; i++) {
		half = s->resp[i].this_update + PKISTATUS_OCSP_LIFE / 2;
		if (half < s->refresh_at)
			s->refresh_at = half;
	}
	for (i = 0; i < (size_t)pki_nca(svc); i++) {
		half = s->crl[i].this_update + PKISTATUS_CRL_LIFE / 2;
		if (half < s->refresh_at)
			s->refresh_at = half;
	}
	*out = s;
	s = NULL;
out:
	pki_snap_free(s);
	pki_signers_release(&g);
	pki_subjects_free(&subj);
	return rc;
}

enum cs_rc
pkistatus_refresh(struct svc *svc, struct cs_err *err)
{
	struct pkistatus *p = svc->pki;
	struct store_svc_cert responder;
	struct pki_snap *s = NULL, *old;
	int64_t now = (int64_t)time(NULL), gen = 0;
	enum cs_rc rc;

	/* Nothing to answer for before the CA exists. */
	if (p == NULL || svc->store == NULL || svc->token == NULL ||
	    svc->root == NULL || svc->issuing == NULL || pki_nca(svc) < 2)
		return CS_OK;
	memset(&responder, 0, sizeof(responder));
	pthread_mutex_lock(&p->refresh_mu);
	rc = pki_responder(svc, now, &responder, err);
	if (rc == CS_OK && responder.not_before > now)
		now = responder.not_before;
	if (rc != CS_OK)
		goto out;
	/* Read before the data: a change made meanwhile is seen next time. */
	rc = store_generation(svc->store, "certs", &gen, err);
	if (rc != CS_OK)
		goto out;
	old = p->snap;
	if (old != NULL && old->gen == gen &&
	    strcmp(old->responder, responder.serial) == 0 &&
	    now < old->refresh_at)
		goto out;
	rc = pki_build(svc, &responder, gen, now, &s, err);
	if (rc != CS_OK)
		goto out;
	pthread_rwlock_wrlock(&p->lock);
	p->snap = s;
	pthread_rwlock_unlock(&p->lock);
	cs_log(CS_LOG_DEBUG,
	    "certificate status: %zu OCSP responses, generation %lld", s->n,
	    (long long)gen);
	s = old; /* no reader can hold it now */
out:
	pthread_mutex_unlock(&p->refresh_mu);
	pki_snap_free(s);
	store_svc_cert_release(&responder);
	return rc;
}

/* --- answers ------------------------------------------------------------ */

static enum cs_rc
pki_answer_error(struct pkistatus *p, int which, int status,
    struct pkistatus_answer *a, struct cs_err *err)
{
	a->body = buf_from(p->err_der[which]->data, p->err_der[which]->len);
	if (a->body == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	a->ocsp_status = status;
	return CS_OK;
}

/* Seconds added to the clock of the answers, for tests (pkistatus.h). */
static _Atomic int64_t pki_skew;

void
pkistatus_test_skew_set(int64_t seconds)
{
	pki_skew = seconds;
}

/* The clock the answers are judged by: never one past its nextUpdate. */
static int64_t
pki_now(void)
{
	return (int64_t)time(NULL) + pki_skew;
}

enum cs_rc
pkistatus_ocsp(struct svc *svc, const uint8_t *req, size_t len,
    struct pkistatus_answer *a, struct cs_err *err)
{
	struct pkistatus *p = svc->pki;
	struct crypto_ocsp_key key;
	const struct pki_resp *r;
	int64_t now = pki_now();
	int which = -1;

	memset(a, 0, sizeof(*a));
	if (p == NULL)
		return cs_err_set(err, CS_ERR_INVALID, "no status service");
	/* The common request, byte for byte, needs no parsing. */
	pthread_rwlock_rdlock(&p->lock);
	r = pki_find_plain(p->snap, req, len);
	if (r == NULL) {
		pthread_rwlock_unlock(&p->lock);
		if (crypto_ocsp_request_parse(req, len, &key, NULL) != CS_OK)
			return pki_answer_error(p, PKI_ERR_MALFORMED,
			    CRYPTO_OCSP_MALFORMED, a, err);
		pthread_rwlock_rdlock(&p->lock);
	}
	if (p->snap == NULL) {
		which = PKI_ERR_TRYLATER;
	} else if (r == NULL && (r = pki_find(p->snap, &key)) == NULL) {
		which = PKI_ERR_UNAUTH;
	} else if (now >= r->next_update) {
		which = PKI_ERR_TRYLATER;
	} else {
		a->body = buf_from(r->der->data, r->der->len);
		a->cacheable = true;
		a->this_update = r->this_update;
		a->next_update = r->next_update;
		a->produced_at = r->produced_at;
		memcpy(a->etag, r->etag, sizeof(a->etag));
	}
	pthread_rwlock_unlock(&p->lock);
	if (which == PKI_ERR_TRYLATER)
		return pki_answer_error(
		    p, which, CRYPTO_OCSP_TRY_LATER, a, err);
	if (which == PKI_ERR_UNAUTH)
		return pki_answer_error(
		    p, which, CRYPTO_OCSP_UNAUTHORIZED, a, err);
	if (a->body == NULL) {
		memset(a, 0, sizeof(*a));
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	}
	return CS_OK;
}

enum cs_rc
pkistatus_crl(struct svc *svc, const char *name, struct pkistatus_answer *a,
    struct cs_err *err)
{
	struct pkistatus *p = svc->pki;
	const struct pki_crl *c;
	int64_t now = pki_now();
	enum cs_rc rc = CS_OK;
	int ca;

	memset(a, 0, sizeof(*a));
	for (ca = 0; name != NULL && ca < pki_nca(svc); ca++)
		if (strcmp(name, svc->cas->e[ca].name) == 0)
			break;
	if (name == NULL || ca >= pki_nca(svc))
		return cs_err_set(err, CS_ERR_NOT_FOUND, "no CRL '%.32s'",
		    name != NULL ? name : "");
	if (p == NULL)
		return cs_err_set(err, CS_ERR_TOKEN, "no status service");
	pthread_rwlock_rdlock(&p->lock);
	c = p->snap != NULL ? &p->snap->crl[ca] : NULL;
	if (c == NULL || c->der == NULL) {
		rc = cs_err_set(err, CS_ERR_TOKEN,
		    "the CRL is not signed yet: try again shortly");
	} else if (now >= c->next_update) {
		rc = cs_err_set(err, CS_ERR_TOKEN,
		    "the CRL is out of date: try again shortly");
	} else {
		a->body = buf_from(c->der->data, c->der->len);
		a->cacheable = true;
		a->this_update = c->this_update;
		a->next_update = c->next_update;
		a->produced_at = c->this_update;
		memcpy(a->etag, c->etag, sizeof(a->etag));
		if (a->body == NULL)
			rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	}
	pthread_rwlock_unlock(&p->lock);
	if (rc != CS_OK)
		memset(a, 0, sizeof(*a));
	return rc;
}

void
pkistatus_answer_release(struct pkistatus_answer *a)
{
	if (a == NULL)
		return;
	buf_free(a->body);
	memset(a, 0, sizeof(*a));
}

void
pkistatus_stats(
    struct svc *svc, size_t *responses, int64_t *gen, int64_t *crl_number)
{
	struct pkistatus *p = svc != NULL ? svc->pki : NULL;

	*responses = 0;
	*gen = 0;
	*crl_number = 0;
	if (p == NULL)
		return;
	pthread_rwlock_rdlock(&p->lock);
	if (p->snap != NULL) {
		*responses = p->snap->n;
		*gen = p->snap->gen;
		*crl_number = p->snap->crl[pki_current(svc)].number;
	}
	pthread_rwlock_unlock(&p->lock);
}

void
pkistatus_times(struct svc *svc, struct pkistatus_times *t)
{
	struct pkistatus *p = svc != NULL ? svc->pki : NULL;
	const struct pki_snap *s;
	size_t i;
	int k;

	memset(t, 0, sizeof(*t));
	if (p == NULL)
		return;
	pthread_rwlock_rdlock(&p->lock);
	s = p->snap;
	for (i = 0; s != NULL && i < s->n; i++) {
		if (t->ocsp_oldest == 0 ||
		    s->resp[i].this_update < t->ocsp_oldest)
			t->ocsp_oldest = s->resp[i].this_update;
		if (t->ocsp_next == 0 || s->resp[i].next_update < t->ocsp_next)
			t->ocsp_next = s->resp[i].next_update;
	}
	/* Index 0 the root's CRL, 1 the current issuing CA's. */
	for (i = 0; s != NULL && i < 2 && pki_nca(svc) >= 2; i++) {
		k = i == 0 ? PKI_ROOT : pki_current(svc);
		if (s->crl[k].der == NULL)
			continue;
		t->crl_this[i] = s->crl[k].this_update;
		t->crl_next[i] = s->crl[k].next_update;
	}
	pthread_rwlock_unlock(&p->lock);
}
