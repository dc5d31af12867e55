/*
 * certcache.c: parsed certificates by the SHA-256 of their DER, and the
 * outcome of verifying their chain (crypto.h).
 *
 * Why: with OpenSSL 3, decoding a certificate decodes its public key
 * through the provider decoder machinery, which takes global read locks
 * and costs far more than verifying a P-256 signature; every seal carries
 * the same two certificates (its seal's and the issuing CA's), so a
 * verifier that parses them once per process instead of once per request
 * spends its time on the one signature that is new.  The chain of a known
 * certificate is verified once and the result kept for a short while
 * (CRYPTO_CHAIN_MEMO_S, and never past the validity of the certificate
 * checked): path validation depends only on the certificates, the trust
 * anchor, the purpose (the memo is for one: a seal certificate that
 * chains for X509_PURPOSE_ANY is not thereby a TSA's) and the time.
 * Revocation is not part of it (the caller checks status separately), so
 * nothing here can hide a revocation.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

#define CRYPTO_CHAIN_MEMO_S 300

struct certcache_entry {
	unsigned char sha256[32];
	X509 *cert;
	const X509 *root;       /* the anchor the memo is for */
	int purpose;            /* ... and the purpose (X509_PURPOSE_*) */
	int64_t chain_ok_until; /* Unix seconds; 0: not known good */
	uint64_t used;          /* clock of the last use, for eviction */
};

struct crypto_cert_cache {
	pthread_mutex_t mu;
	size_t n, max;
	uint64_t clock;
	struct certcache_entry *e;
};

enum cs_rc
crypto_cert_cache_new(
    size_t max, struct crypto_cert_cache **out, struct cs_err *err)
{
	struct crypto_cert_cache *c;

	*out = NULL;
	if (max == 0 || max > 65536)
		return cs_err_set(err, CS_ERR_INVALID,
		    "certificate cache size must be 1 to 65536");
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	c->e = calloc(max, sizeof(*c->e));
	if (c->e == NULL || pthread_mutex_init(&c->mu, NULL) != 0) {
		free(c->e);
		free(c);
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	}
	c->max = max;
	*out = c;
	return CS_OK;
}

void
crypto_cert_cache_free(struct crypto_cert_cache *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++)
		X509_free(c->e[i].cert);
	pthread_mutex_destroy(&c->mu);
	free(c->e);
	free(c);
}

/* The entry of hash, or NULL; mu held. */
static struct certcache_entry *
certcache_find(struct crypto_cert_cache *c, const unsigned char *h)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (memcmp(c->e[i].sha256, h, 32) == 0) {
			c->e[i].used = ++c->clock;
			return &c->e[i];
		}
	return NULL;
}

/* True when x encodes again to exactly the len bytes at der. */
static bool
certcache_is_der(X509 *x, const unsigned char *der, size_t len)
{
	unsigned char *enc = NULL;
	int n = i2d_X509(x, &enc);
	bool same = n > 0 && (size_t)n == len && memcmp(enc, der, len) == 0;

	OPENSSL_free(enc);
	return same;
}

enum cs_rc
crypto_cert_cache_get(struct crypto_cert_cache *c, const unsigned char *der,
    size_t len, X509 **out, struct cs_err *err)
{
	unsigned char h[32];
	struct certcache_entry *e;
	X509 *x = NULL;
	enum cs_rc rc;
	size_t i, old;

	*out = NULL;
	if (c == NULL)
		return crypto_cert_from_der(der, len, out, err);
	if (EVP_Digest(der, len, h, NULL, EVP_sha256(), NULL) != 1)
		return cs_err_ossl(err, CS_ERR_CRYPTO, "SHA-256 failed");
	pthread_mutex_lock(&c->mu);
	e = certcache_find(c, h);
	if (e != NULL && X509_up_ref(e->cert) == 1)
		x = e->cert;
	pthread_mutex_unlock(&c->mu);
	if (x != NULL) {
		*out = x;
		return CS_OK;
	}
	/* Parsed outside the lock: it is the slow part. */
	rc = crypto_cert_from_der(der, len, &x, err);
	if (rc != CS_OK)
		return rc;
	/*
	 * DER, as crypto_cms_verify() demands of a whole seal by encoding
	 * it again: a certificate cut out of a seal must be too (found by
	 * fuzz/: a BIT STRING with unused bits set passed here only).
	 */
	if (!certcache_is_der(x, der, len)) {
		X509_free(x);
		return cs_err_set(
		    err, CS_ERR_INVALID, "certificate is not DER");
	}
	pthread_mutex_lock(&c->mu);
	if (certcache_find(c, h) == NULL) {
		if (c->n < c->max) {
			i = c->n++;
		} else {
			for (i = 0, old = 0; i < c->n; i++)
				if (c->e[i].used < c->e[old].used)
					old = i;
			i = old;
			X509_free(c->e[i].cert);
		}
		memset(&c->e[i], 0, sizeof(c->e[i]));
		memcpy(c->e[i].sha256, h, 32);
		if (X509_up_ref(x) == 1)
			c->e[i].cert = x;
		c->e[i].used = ++c->clock;
		if (c->e[i].cert == NULL)
			c->n--; /* never happens with a valid X509 */
	}
	pthread_mutex_unlock(&c->mu);
	*out = x;
	return CS_OK;
}

/* The cached entry holding x (same object), or NULL; mu held. */
static struct certcache_entry *
certcache_of(struct crypto_cert_cache *c, const X509 *x)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (c->e[i].cert == x)
			return &c->e[i];
	return NULL;
}

static int64_t
certcache_not_after(const X509 *x)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

enum cs_rc
crypto_cert_cache_chain(struct crypto_cert_cache *c, X509 *cert, X509 *root,
    STACK_OF(X509) * untrusted, int purpose, bool *valid, char *reason,
    size_t reasonsz, struct cs_err *err)
{
	struct certcache_entry *e;
	int64_t now = (int64_t)time(NULL), until;
	enum cs_rc rc;
	int i;

	if (c != NULL) {
		pthread_mutex_lock(&c->mu);
		e = certcache_of(c, cert);
		*valid = e != NULL && e->root == root &&
		    e->purpose == purpose && e->chain_ok_until > now;
		pthread_mutex_unlock(&c->mu);
		if (*valid) {
			if (reason != NULL && reasonsz > 0)
				reason[0] = '\0';
			return CS_OK;
		}
	}
	rc = crypto_chain_verify(
	    cert, root, untrusted, purpose, valid, reason, reasonsz, err);
	if (rc != CS_OK || !*valid || c == NULL)
		return rc;
	/* Good until the memo ends or a certificate of the path expires. */
	until = now + CRYPTO_CHAIN_MEMO_S;
	if (certcache_not_after(cert) < until)
		until = certcache_not_after(cert);
	for (i = 0; i < sk_X509_num(untrusted); i++)
		if (certcache_not_after(sk_X509_value(untrusted, i)) < until)
			until =
			    certcache_not_after(sk_X509_value(untrusted, i));
	if (certcache_not_after(root) < until)
		until = certcache_not_after(root);
	pthread_mutex_lock(&c->mu);
	e = certcache_of(c, cert);
	if (e != NULL) {
		e->root = root;
		e->purpose = purpose;
		e->chain_ok_until = until;
	}
	pthread_mutex_unlock(&c->mu);
	return CS_OK;
}
