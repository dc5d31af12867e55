/*
 * statuslist.c: licence status lists as IETF Token Status Lists
 * (draft-ietf-oauth-status-list; docs/status-list.md).
 *
 * Every list has all its STATUSLIST_ENTRIES entries (2 bits each), however
 * few slots are taken, so neither its size nor its content tells how many
 * licences it holds.  The refresher (statuslist_refresh) builds a list from
 * the store with one indexed query, compresses it, signs it with the
 * in-memory report key and publishes the token as an immutable, reference
 * counted snapshot; readers (statuslist_fetch, the HTTP path) only take a
 * reference under a short lock, so they never wait on building, the store
 * or signing.  A list is re-signed when its gen in the store moved (a
 * licence in it changed status, whichever process changed it), and before
 * half of its lifetime has passed; a token past its exp is never served.
 */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <zlib.h>

#include "certsvc/licence.h"
#include "certsvc/log.h"
#include "certsvc/report.h"
#include "certsvc/statuslist.h"
#include "crypto/crypto.h"

/* One signed list; immutable once published. */
struct slist_snap {
	atomic_int refs;
	int64_t list, gen, iat, exp, ttl;
	struct buf *jwt;
};

struct statuslist_cache {
	pthread_mutex_t mu;        /* guards snaps, n, cap: held briefly */
	pthread_mutex_t refresh;   /* one refresh at a time */
	struct slist_snap **snaps; /* by list number */
	size_t n, cap;
};

static void
snap_put(struct slist_snap *s)
{
	if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	buf_free(s->jwt);
	free(s);
}

enum cs_rc
statuslist_init(struct svc *svc, struct cs_err *err)
{
	struct statuslist_cache *c;

	if (svc->slists != NULL)
		return CS_OK;
	c = CS_LOCKED_NEW(struct statuslist_cache);
	if (c == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	if (pthread_mutex_init(&c->refresh, NULL) != 0) {
		pthread_mutex_destroy(&c->mu);
		free(c);
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	}
	svc->slists = c;
	return CS_OK;
}

void
statuslist_free(struct svc *svc)
{
	struct statuslist_cache *c = svc != NULL ? svc->slists : NULL;
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++)
		snap_put(c->snaps[i]);
	free(c->snaps);
	pthread_mutex_destroy(&c->refresh);
	pthread_mutex_destroy(&c->mu);
	free(c);
	svc->slists = NULL;
}

/* Position of list in c->snaps, or where it would go; c->mu held. */
static size_t
snap_find(const struct statuslist_cache *c, int64_t list, bool *found)
{
	size_t lo = 0, hi = c->n, mid;

	*found = false;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (c->snaps[mid]->list == list) {
			*found = true;
			return mid;
		}
		if (c->snaps[mid]->list < list)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* A reference to the snapshot of list, or NULL (snap_put). */
static struct slist_snap *
snap_get(struct statuslist_cache *c, int64_t list)
{
	struct slist_snap *s = NULL;
	bool found;
	size_t i;

	pthread_mutex_lock(&c->mu);
	i = snap_find(c, list, &found);
	if (found) {
		s = c->snaps[i];
		atomic_fetch_add(&s->refs, 1);
	}
	pthread_mutex_unlock(&c->mu);
	return s;
}

/* Publish s (its reference passes to the cache), dropping the old one. */
static enum cs_rc
snap_publish(
    struct statuslist_cache *c, struct slist_snap *s, struct cs_err *err)
{
	struct slist_snap *old = NULL, **grown;
	bool found;
	size_t i, ncap;

	pthread_mutex_lock(&c->mu);
	i = snap_find(c, s->list, &found);
	if (found) {
		old = c->snaps[i];
		c->snaps[i] = s;
		pthread_mutex_unlock(&c->mu);
		snap_put(old);
		return CS_OK;
	}
	if (c->n == c->cap) {
		ncap = c->cap == 0 ? 8 : c->cap * 2;
		grown = reallocarray(c->snaps, ncap, sizeof(*grown));
		if (grown == NULL) {
			pthread_mutex_unlock(&c->mu);
			snap_put(s);
			return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		}
		c->snaps = grown;
		c->cap = ncap;
	}
	memmove(
	    &c->snaps[i + 1], &c->snaps[i], (c->n - i) * sizeof(c->snaps[0]));
	c->snaps[i] = s;
	c->n++;
	pthread_mutex_unlock(&c->mu);
	return CS_OK;
}

/*
 * The snapshot of list n, referenced (snap_put), and tok's members but
 * jwt; fails as statuslist_fetch() says.
 */
static enum cs_rc
fetch_snap(struct svc *svc, int64_t n, struct statuslist_token *tok,
    struct slist_snap **out, struct cs_err *err)
{
	struct slist_snap *s;

	memset(tok, 0, sizeof(*tok));
	*out = NULL;
	if (svc->slists == NULL || n < 0)
		return cs_err_set(err, CS_ERR_NOT_FOUND, "no status list");
	s = snap_get(svc->slists, n);
	if (s == NULL)
		return cs_err_set(
		    err, CS_ERR_NOT_FOUND, "no status list %lld", (long long)n);
	if ((int64_t)time(NULL) >= s->exp) {
		snap_put(s);
		return cs_err_set(err, CS_ERR_TOKEN,
		    "status list %lld has expired and could not be re-signed",
		    (long long)n);
	}
	tok->list = s->list;
	tok->gen = s->gen;
	tok->iat = s->iat;
	tok->exp = s->exp;
	tok->ttl = s->ttl;
	*out = s;
	return CS_OK;
}

enum cs_rc
statuslist_fetch_shared(struct svc *svc, int64_t n,
    struct statuslist_token *tok, const struct buf **jwt, void **hold,
    struct cs_err *err)
{
	struct slist_snap *s;
	enum cs_rc rc;

	*jwt = NULL;
	*hold = NULL;
	rc = fetch_snap(svc, n, tok, &s, err);
	if (rc != CS_OK)
		return rc;
	*jwt = s->jwt;
	*hold = s;
	return CS_OK;
}

enum cs_rc
statuslist_fetch(struct svc *svc, int64_t n, struct statuslist_token *tok,
    struct cs_err *err)
{
	const struct buf *jwt;
	void *hold;
	enum cs_rc rc;

	rc = statuslist_fetch_shared(svc, n, tok, &jwt, &hold, err);
	if (rc != CS_OK)
		return rc;
	tok->jwt = buf_from(jwt->data, jwt->len);
	statuslist_unhold(hold);
	if (tok->jwt == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	return CS_OK;
}

void
statuslist_unhold(void *hold)
{
	snap_put(hold);
}

void
statuslist_token_release(struct statuslist_token *tok)
{
	if (tok == NULL)
		return;
	buf_free(tok->jwt);
	tok->jwt = NULL;
}

enum cs_rc
statuslist_get(struct svc *svc, int64_t n, struct buf **body,
    const char **media_type, int64_t *signed_at, struct cs_err *err)
{
	struct statuslist_token tok;
	enum cs_rc rc;

	*body = NULL;
	rc = statuslist_fetch(svc, n, &tok, err);
	if (rc != CS_OK)
		return rc;
	*body = tok.jwt; /* the caller owns it now */
	if (media_type != NULL)
		*media_type = STATUSLIST_MEDIA_TYPE;
	if (signed_at != NULL)
		*signed_at = tok.iat;
	return CS_OK;
}

/* --- the byte array ------------------------------------------------------ */

bool
statuslist_value_for_state(const char *state, enum statuslist_value *v)
{
	static const struct {
		const char *state;
		enum statuslist_value v;
	} map[] = {
	    {LICENCE_VALID, STATUSLIST_VALID},
	    {LICENCE_EXPIRED, STATUSLIST_VALID}, /* derived: see above */
	    {LICENCE_SUSPENDED, STATUSLIST_SUSPENDED},
	    {LICENCE_REVOKED, STATUSLIST_INVALID},
	    {LICENCE_PENALTY_REVOKED, STATUSLIST_INVALID},
	    {LICENCE_CANCELLED, STATUSLIST_INVALID},
	    {LICENCE_TRANSFERRED, STATUSLIST_INVALID},
	    {LICENCE_SUPERSEDED, STATUSLIST_SUPERSEDED},
	};
	size_t i;

	for (i = 0; state != NULL && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(state, map[i].state) == 0) {
			*v = map[i].v;
			return true;
		}
	*v = STATUSLIST_INVALID; /* fail closed */
	return false;
}

/* Byte and shift of entry idx; false when it is outside len bytes. */
static bool
entry_pos(
    size_t len, unsigned bits, uint64_t idx, size_t *byte, unsigned *shift)
{
	uint64_t per = 8 / bits;

	if (bits != 1 && bits != 2 && bits != 4 && bits != 8)
		return false;
	if (idx / per >= len)
		return false;
	*byte = (size_t)(idx / per);
	*shift = (unsigned)(idx % per) * bits;
	return true;
}

enum cs_rc
statuslist_set(uint8_t *bytes, size_t len, unsigned bits, uint64_t idx,
    unsigned value, struct cs_err *err)
{
	unsigned shift, mask;
	size_t byte;

	if (!entry_pos(len, bits, idx, &byte, &shift))
		return cs_err_set(err, CS_ERR_INVALID,
		    "status list index %llu out of range",
		    (unsigned long long)idx);
	mask = (1u << bits) - 1;
	if (value > mask)
		return cs_err_set(err, CS_ERR_INVALID,
		    "status value %u does not fit in %u bits", value, bits);
	bytes[byte] =
	    (uint8_t)((bytes[byte] & ~(mask << shift)) | (value << shift));
	return CS_OK;
}

enum cs_rc
statuslist_value_at(const uint8_t *bytes, size_t len, unsigned bits,
    uint64_t idx, unsigned *value, struct cs_err *err)
{
	unsigned shift;
	size_t byte;

	*value = 0;
	if (!entry_pos(len, bits, idx, &byte, &shift))
		return cs_err_set(err, CS_ERR_INVALID,
		    "status list index %llu out of range",
		    (unsigned long long)idx);
	*value = (bytes[byte] >> shift) & ((1u << bits) - 1);
	return CS_OK;
}

/* base64url without padding (RFC 7515 section 2) of len bytes at p. */
static enum cs_rc
b64url_append(struct buf *out, const void *p, size_t len, struct cs_err *err)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                          "abcdefghijklmnopqrstuvwxyz0123456789-_";
	const uint8_t *b = p;
	char quad[4];
	uint32_t v;
	size_t i, n;

	if (len > (SIZE_MAX - out->len) / 4 * 3 - 3 ||
	    buf_reserve(out, (len + 2) / 3 * 4) != CS_OK)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	for (i = 0; i < len; i += 3) {
		n = len - i < 3 ? len - i : 3;
		v = (uint32_t)b[i] << 16;
		if (n > 1)
			v |= (uint32_t)b[i + 1] << 8;
		if (n > 2)
			v |= b[i + 2];
		quad[0] = tab[(v >> 18) & 63];
		quad[1] = tab[(v >> 12) & 63];
		quad[2] = tab[(v >> 6) & 63];
		quad[3] = tab[v & 63];
		if (buf_append(out, quad, n + 1) != CS_OK)
			return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	}
	return CS_OK;
}

static int
b64url_val(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '-')
		return 62;
	if (ch == '_')
		return 63;
	return -1;
}

/*
 * Strict base64url without padding: any other byte, a length of 4k+1 or
 * non-zero unused bits is CS_ERR_INVALID.  *out is given.
 */
static enum cs_rc
b64url_decode(const char *s, size_t len, struct buf **out, struct cs_err *err)
{
	struct buf *b;
	uint32_t acc = 0;
	unsigned nbits = 0;
	uint8_t byte;
	size_t i;
	int v;

	*out = NULL;
	if (len % 4 == 1)
		return cs_err_set(err, CS_ERR_INVALID, "bad base64url length");
	b = buf_new(len / 4 * 3 + 3);
	if (b == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	for (i = 0; i < len; i++) {
		v = b64url_val((unsigned char)s[i]);
		if (v < 0) {
			buf_free(b);
			return cs_err_set(err, CS_ERR_INVALID,
			    "bad base64url character at %zu", i);
		}
		acc = (acc << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			byte = (uint8_t)(acc >> nbits);
			acc &= (1u << nbits) - 1;
			(void)buf_append(b, &byte, 1); /* room reserved */
		}
	}
	if (acc != 0) {
		buf_free(b);
		return cs_err_set(
		    err, CS_ERR_INVALID, "non-zero base64url pad bits");
	}
	*out = b;
	return CS_OK;
}

enum cs_rc
statuslist_encode(
    const uint8_t *bytes, size_t len, struct buf **lst, struct cs_err *err)
{
	struct buf *z = NULL, *out = NULL;
	uLongf zlen;
	enum cs_rc rc;

	*lst = NULL;
	if (len == 0 || len > ULONG_MAX / 2)
		return cs_err_set(err, CS_ERR_INVALID, "empty status list");
	zlen = compressBound((uLong)len);
	z = buf_new(zlen);
	if (z == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	if (compress2(z->data, &zlen, bytes, (uLong)len, Z_BEST_COMPRESSION) !=
	    Z_OK) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "cannot compress list");
		goto out;
	}
	z->len = zlen;
	out = buf_new(zlen / 3 * 4 + 8);
	if (out == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = b64url_append(out, z->data, z->len, err);
	if (rc != CS_OK)
		goto out;
	*lst = out;
	out = NULL;
out:
	buf_free(out);
	buf_free(z);
	return rc;
}

enum cs_rc
statuslist_decode(const char *lst, size_t len, size_t max, struct buf **bytes,
    struct cs_err *err)
{
	struct buf *z = NULL, *out = NULL;
	z_stream zs;
	bool zinit = false;
	enum cs_rc rc;
	int r;

	*bytes = NULL;
	if (max == 0 || max > UINT_MAX - 1)
		return cs_err_set(err, CS_ERR_INVALID, "bad status list limit");
	rc = b64url_decode(lst, len, &z, err);
	if (rc != CS_OK)
		return rc;
	if (z->len > UINT_MAX) {
		rc = cs_err_set(err, CS_ERR_INVALID, "status list too large");
		goto out;
	}
	out = buf_new(max + 1);
	if (out == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	memset(&zs, 0, sizeof(zs));
	if (inflateInit(&zs) != Z_OK) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "cannot inflate list");
		goto out;
	}
	zinit = true;
	zs.next_in = z->data;
	zs.avail_in = (uInt)z->len;
	zs.next_out = out->data;
	zs.avail_out = (uInt)max + 1; /* one more: to see it overflow */
	r = inflate(&zs, Z_FINISH);
	if (zs.total_out > max)
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "status list inflates to more than %zu bytes", max);
	else if (r != Z_STREAM_END)
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "status list is not a complete ZLIB stream");
	else if (zs.avail_in != 0)
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "data after the status list's ZLIB stream");
	else if (zs.total_out == 0)
		rc = cs_err_set(err, CS_ERR_INVALID, "empty status list");
	if (rc != CS_OK)
		goto out;
	out->len = zs.total_out;
	out->data[out->len] = '\0';
	*bytes = out;
	out = NULL;
out:
	if (zinit)
		inflateEnd(&zs);
	buf_free(out);
	buf_free(z);
	return rc;
}

/* --- building from the store -------------------------------------------- */

struct build_ctx {
	uint8_t *bytes;
	int64_t bad_idx; /* -1, or the first index outside the list */
	size_t unknown;  /* states statuslist_value_for_state() did not know */
};

static bool
build_row(void *arg, int64_t idx, const char *status)
{
	struct build_ctx *b = arg;
	enum statuslist_value v;

	if (!statuslist_value_for_state(status, &v))
		b->unknown++;
	if (idx < 0 ||
	    statuslist_set(b->bytes, STATUSLIST_BYTES, STATUSLIST_BITS,
	        (uint64_t)idx, v, NULL) != CS_OK) {
		b->bad_idx = idx;
		return false;
	}
	return true;
}

enum cs_rc
statuslist_build(struct store *st, int64_t list, struct buf **bytes,
    int64_t *gen, struct cs_err *err)
{
	struct build_ctx b;
	struct buf *arr;
	enum cs_rc rc;

	*bytes = NULL;
	*gen = 0;
	arr = buf_new(STATUSLIST_BYTES);
	if (arr == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	memset(arr->data, 0, STATUSLIST_BYTES); /* never assigned: VALID */
	arr->len = STATUSLIST_BYTES;
	b.bytes = arr->data;
	b.bad_idx = -1;
	b.unknown = 0;
	rc = store_slist_scan(st, list, gen, build_row, &b, err);
	if (rc == CS_OK && b.bad_idx != -1)
		rc = cs_err_set(err, CS_ERR_STORE,
		    "status list %lld has index %lld outside it",
		    (long long)list, (long long)b.bad_idx);
	if (rc != CS_OK) {
		buf_free(arr);
		return rc;
	}
	if (b.unknown > 0)
		cs_log(CS_LOG_WARN,
		    "status list %lld: %zu licences in an unknown state, "
		    "listed as invalid",
		    (long long)list, b.unknown);
	*bytes = arr;
	return CS_OK;
}

bool
statuslist_uri(const struct svc *svc, int64_t n, char *out, size_t outsz)
{
	const char *base = svc->cfg.public_url;
	size_t len = strlen(base);
	int w;

	while (len > 0 && base[len - 1] == '/')
		len--;
	w = snprintf(out, outsz, "%.*s/v1/status-lists/%lld", (int)len, base,
	    (long long)n);
	return w > 0 && (size_t)w < outsz;
}

void
statuslist_slot_split(int64_t slot, int64_t *list, int64_t *idx)
{
	*list = slot / STATUSLIST_ENTRIES;
	*idx = slot % STATUSLIST_ENTRIES;
}

/* --- the token ------------------------------------------------------------ */

/* True for an EC key on P-256 (the only curve of ES256). */
static bool
key_is_p256(EVP_PKEY *key)
{
	char group[64];

	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC)
		return false;
	if (EVP_PKEY_get_group_name(key, group, sizeof(group), NULL) != 1)
		return false;
	return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
}

/* Append the standard base64 of cert's DER to the JSON array a. */
static enum cs_rc
x5c_append(json_t *a, X509 *cert, struct cs_err *err)
{
	unsigned char *der = NULL;
	struct buf *b64 = NULL;
	enum cs_rc rc;
	int len;

	len = i2d_X509(cert, &der);
	if (len <= 0)
		return cs_err_ossl(err, CS_ERR_CRYPTO, "cannot encode x5c");
	rc = crypto_b64_encode(der, (size_t)len, &b64, err);
	OPENSSL_free(der);
	if (rc != CS_OK)
		return rc;
	if (json_array_append_new(a, json_string((const char *)b64->data)) != 0)
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	buf_free(b64);
	return rc;
}

/* Append the base64url of the compact JSON of obj to out. */
static enum cs_rc
json_b64url_append(struct buf *out, const json_t *obj, struct cs_err *err)
{
	enum cs_rc rc;
	char *text;

	text = json_dumps(obj, JSON_COMPACT);
	if (text == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	rc = b64url_append(out, text, strlen(text), err);
	free(text);
	return rc;
}

/* ES256 over the signing input: the raw 32-byte r and s, appended. */
static enum cs_rc
es256_sign(EVP_PKEY *key, const uint8_t *in, size_t inlen, uint8_t rs[64],
    struct cs_err *err)
{
	EVP_MD_CTX *md = NULL;
	ECDSA_SIG *sig = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	const BIGNUM *r, *s;
	size_t derlen = 0;
	enum cs_rc rc = CS_OK;

	md = EVP_MD_CTX_new();
	if (md == NULL ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, NULL, &derlen, in, inlen) != 1) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "cannot sign status list");
		goto out;
	}
	der = OPENSSL_malloc(derlen);
	if (der == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (EVP_DigestSign(md, der, &derlen, in, inlen) != 1) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "cannot sign status list");
		goto out;
	}
	/* RFC 7518 section 3.4: JWS wants r || s, not the DER of X9.62. */
	p = der;
	sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
	if (sig == NULL || p != der + derlen) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "bad ECDSA signature");
		goto out;
	}
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_bn2binpad(r, rs, 32) != 32 || BN_bn2binpad(s, rs + 32, 32) != 32)
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "bad ECDSA signature");
out:
	ECDSA_SIG_free(sig);
	OPENSSL_free(der);
	EVP_MD_CTX_free(md);
	return rc;
}

enum cs_rc
statuslist_token_sign(EVP_PKEY *key, X509 *cert, X509 *issuer,
    const struct statuslist_claims *c, struct buf **jwt, struct cs_err *err)
{
	json_t *hdr = NULL, *x5c = NULL, *pl = NULL;
	struct buf *out = NULL;
	uint8_t rs[64];
	enum cs_rc rc;

	*jwt = NULL;
	if (key == NULL || cert == NULL || c == NULL || c->sub == NULL ||
	    c->lst == NULL)
		return cs_err_set(
		    err, CS_ERR_INVALID, "incomplete status list");
	if (!key_is_p256(key) || !crypto_cert_matches_key(cert, key))
		return cs_err_set(err, CS_ERR_INVALID,
		    "status lists need a P-256 key matching its certificate");
	if (c->exp <= c->iat || c->ttl <= 0 ||
	    (c->bits != 1 && c->bits != 2 && c->bits != 4 && c->bits != 8))
		return cs_err_set(
		    err, CS_ERR_INVALID, "bad status list claims");
	x5c = json_array();
	if (x5c == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = x5c_append(x5c, cert, err);
	if (rc == CS_OK && issuer != NULL)
		rc = x5c_append(x5c, issuer, err);
	if (rc != CS_OK)
		goto out;
	hdr = json_pack("{s:s,s:s,s:O}", "alg", "ES256", "typ",
	    "statuslist+jwt", "x5c", x5c);
	pl = json_pack("{s:I,s:I,s:{s:i,s:s},s:s,s:I}", "exp",
	    (json_int_t)c->exp, "iat", (json_int_t)c->iat, "status_list",
	    "bits", (int)c->bits, "lst", c->lst, "sub", c->sub, "ttl",
	    (json_int_t)c->ttl);
	out = buf_new(256 + strlen(c->lst) * 2);
	if (hdr == NULL || pl == NULL || out == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = json_b64url_append(out, hdr, err);
	if (rc == CS_OK && buf_append(out, ".", 1) != CS_OK)
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	if (rc == CS_OK)
		rc = json_b64url_append(out, pl, err);
	if (rc == CS_OK)
		rc = es256_sign(key, out->data, out->len, rs, err);
	if (rc == CS_OK && buf_append(out, ".", 1) != CS_OK)
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	if (rc == CS_OK)
		rc = b64url_append(out, rs, sizeof(rs), err);
	if (rc != CS_OK)
		goto out;
	*jwt = out;
	out = NULL;
out:
	buf_free(out);
	json_decref(pl);
	json_decref(hdr);
	json_decref(x5c);
	return rc;
}

/* --- refreshing ----------------------------------------------------------- */

/* Does the list need a new signature at now? */
static bool
needs_signing(const struct slist_snap *s, int64_t gen, int64_t now)
{
	if (s == NULL || s->gen != gen)
		return true;
	return now >= s->iat + (s->exp - s->iat) / 2;
}

/* Build list, sign it and publish it. */
static enum cs_rc
resign(struct svc *svc, const struct statuslist_signer *sg, int64_t list,
    int64_t now, struct cs_err *err)
{
	char uri[STATUSLIST_URI_MAX];
	struct statuslist_claims c;
	struct slist_snap *s = NULL;
	struct buf *bytes = NULL, *lst = NULL, *jwt = NULL;
	int64_t gen;
	enum cs_rc rc;

	if (!statuslist_uri(svc, list, uri, sizeof(uri)))
		return cs_err_set(err, CS_ERR_INVALID, "public_url too long");
	rc = statuslist_build(svc->store, list, &bytes, &gen, err);
	if (rc == CS_OK)
		rc = statuslist_encode(bytes->data, bytes->len, &lst, err);
	if (rc != CS_OK)
		goto out;
	memset(&c, 0, sizeof(c));
	c.sub = uri;
	c.iat = now;
	c.exp = now + STATUSLIST_LIFETIME;
	if (sg->not_after > 0 && c.exp > sg->not_after)
		c.exp = sg->not_after; /* never outlive the certificate */
	c.ttl = STATUSLIST_TTL;
	c.bits = STATUSLIST_BITS;
	c.lst = (const char *)lst->data;
	if (c.exp <= c.iat) {
		rc = cs_err_set(
		    err, CS_ERR_TOKEN, "the report certificate has expired");
		goto out;
	}
	rc =
	    statuslist_token_sign(sg->key, sg->cert, sg->issuer, &c, &jwt, err);
	if (rc != CS_OK)
		goto out;
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	atomic_init(&s->refs, 1);
	s->list = list;
	s->gen = gen;
	s->iat = c.iat;
	s->exp = c.exp;
	s->ttl = c.ttl;
	s->jwt = jwt;
	jwt = NULL;
	rc = snap_publish(svc->slists, s, err); /* takes s */
	if (rc == CS_OK)
		cs_log(CS_LOG_DEBUG, "status list %lld signed (gen %lld)",
		    (long long)list, (long long)gen);
out:
	buf_free(jwt);
	buf_free(lst);
	buf_free(bytes);
	return rc;
}

/* The lists that need a signature at now; *out given (free()). */
static enum cs_rc
due_lists(struct svc *svc, int64_t now, struct store_slist **out, size_t *n,
    struct cs_err *err)
{
	struct store_slist *all = NULL;
	struct slist_snap *s;
	size_t len = 0, i, k = 0;
	enum cs_rc rc;

	*out = NULL;
	*n = 0;
	rc = store_slist_list(svc->store, &all, &len, err);
	if (rc != CS_OK)
		return rc;
	for (i = 0; i < len; i++) {
		s = snap_get(svc->slists, all[i].list);
		if (needs_signing(s, all[i].gen, now))
			all[k++] = all[i];
		snap_put(s);
	}
	if (k == 0) {
		free(all);
		return CS_OK;
	}
	*out = all;
	*n = k;
	return CS_OK;
}

enum cs_rc
statuslist_refresh_with(struct svc *svc, const struct statuslist_signer *s,
    int64_t now, struct cs_err *err)
{
	struct store_slist *due = NULL;
	struct cs_err e;
	enum cs_rc rc, first = CS_OK;
	size_t n = 0, i;

	if (svc->slists == NULL || svc->store == NULL)
		return cs_err_set(err, CS_ERR_INVALID, "no status list cache");
	pthread_mutex_lock(&svc->slists->refresh);
	rc = due_lists(svc, now, &due, &n, err);
	for (i = 0; rc == CS_OK && i < n; i++) {
		cs_err_clear(&e);
		if (resign(svc, s, due[i].list, now, &e) == CS_OK)
			continue;
		/* One bad list must not keep the others stale. */
		cs_log(CS_LOG_WARN, "status list %lld: %s",
		    (long long)due[i].list, e.msg);
		if (first == CS_OK) {
			first = e.rc;
			if (err != NULL)
				*err = e;
		}
	}
	pthread_mutex_unlock(&svc->slists->refresh);
	free(due);
	return rc != CS_OK ? rc : first;
}

enum cs_rc
statuslist_refresh(struct svc *svc, struct cs_err *err)
{
	struct statuslist_signer sg;
	struct store_slist *due = NULL;
	struct report_key *k = NULL;
	int64_t now = (int64_t)time(NULL);
	size_t n = 0;
	enum cs_rc rc;

	if (svc->slists == NULL || svc->store == NULL)
		return CS_OK; /* nothing to serve from (certsvc-admin) */
	/* Cheap when nothing is due: no report key taken. */
	rc = due_lists(svc, now, &due, &n, err);
	free(due);
	if (rc != CS_OK || n == 0)
		return rc;
	rc = report_key_get(svc, &k, err);
	if (rc != CS_OK)
		return rc;
	sg.key = k->key;
	sg.cert = k->cert;
	sg.issuer = k->issuer != NULL ? k->issuer : svc->issuing;
	sg.not_after = k->not_after;
	rc = statuslist_refresh_with(svc, &sg, now, err);
	report_key_put(k);
	return rc;
}

void
statuslist_times(
    struct svc *svc, size_t *lists, int64_t *oldest_iat, int64_t *next_exp)
{
	struct statuslist_cache *c = svc != NULL ? svc->slists : NULL;
	size_t i;

	*lists = 0;
	*oldest_iat = *next_exp = 0;
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	for (i = 0; i < c->n; i++) {
		if (*oldest_iat == 0 || c->snaps[i]->iat < *oldest_iat)
			*oldest_iat = c->snaps[i]->iat;
		if (*next_exp == 0 || c->snaps[i]->exp < *next_exp)
			*next_exp = c->snaps[i]->exp;
	}
	*lists = c->n;
	pthread_mutex_unlock(&c->mu);
}
