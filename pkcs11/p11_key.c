/*
 * p11_key.c: keys in the token: generation, listing, description, public
 * key export and signing a digest.
 *
 * Private keys are generated inside the token, sensitive and never
 * extractable; we only ever hold object handles.  Handles are found by URI
 * once and cached (URI -> handle, key type) under a read-write lock; an
 * entry is valid while its generation equals tok->key_gen, which recovery
 * bumps, because handles may change when a token comes back.  Signatures
 * leave here in their standard encodings: a DER ECDSA-Sig-Value built from
 * the token's raw r||s, and PKCS#1 v1.5 over a DER DigestInfo we build
 * ourselves, so the token's CKM_RSA_PKCS mechanism is all we need.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "certsvc/err.h"
#include "certsvc/log.h"
#include "certsvc/mem.h"
#include "pkcs11/p11.h"
#include "pkcs11/p11_int.h"

#define KEY_ID_LEN 16
#define SIG_RAW_MAX 1024 /* RSA-8192 or any EC curve */

/* DER OIDs of the curves we generate, as CKA_EC_PARAMS wants them. */
static const unsigned char oid_p256[] = {
    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const unsigned char oid_p384[] = {
    0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};

/* DER DigestInfo prefixes (RFC 8017 section 9.2, note 1). */
static const unsigned char di_sha256[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09,
    0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04,
    0x20};
static const unsigned char di_sha384[] = {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09,
    0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04,
    0x30};
static const unsigned char di_sha512[] = {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09,
    0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04,
    0x40};

/* --- finding keys ------------------------------------------------------- */

static uint64_t
key_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	while (*s != '\0') {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

/* Parse uri and check that it can name a key of this token. */
static enum cs_rc
key_uri(struct p11_token *tok, const char *uri, struct p11_uri *u,
    struct cs_err *err)
{
	enum cs_rc rc;

	rc = p11_uri_parse(uri, u, err);
	if (rc != CS_OK)
		return rc;
	if (!u->has_object && !u->has_id)
		return cs_err_set(
		    err, CS_ERR_INVALID, "pkcs11 uri: names no object or id");
	if (u->has_token && strcmp(u->token, tok->label) != 0)
		return cs_err_set(err, CS_ERR_NOT_FOUND,
		    "key uri names token '%s', not '%s'", u->token, tok->label);
	return CS_OK;
}

/* After finding nothing: was it because the login was lost meanwhile? */
static enum cs_rc
key_not_found(struct p11_token *tok, CK_SESSION_HANDLE h,
    const struct p11_uri *u, CK_RV *rv, struct cs_err *err)
{
	CK_SESSION_INFO si;

	*rv = tok->f->C_GetSessionInfo(h, &si);
	if (*rv == CKR_OK && si.state != CKS_RO_USER_FUNCTIONS &&
	    si.state != CKS_RW_USER_FUNCTIONS)
		*rv = CKR_USER_NOT_LOGGED_IN;
	if (*rv != CKR_OK)
		return cs_err_set(err, CS_ERR_TOKEN, "token session lost");
	if (u->has_object)
		return cs_err_set(
		    err, CS_ERR_NOT_FOUND, "key '%s' not found", u->object);
	return cs_err_set(err, CS_ERR_NOT_FOUND, "key not found");
}

/*
 * Find the one object of class cls that u names.  CS_ERR_NOT_FOUND if there
 * is none, CS_ERR_CONFLICT if the URI matches several.
 */
static enum cs_rc
key_find(struct p11_token *tok, CK_SESSION_HANDLE h, const struct p11_uri *u,
    CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE *obj, CK_RV *rv, struct cs_err *err)
{
	CK_FUNCTION_LIST *f = tok->f;
	CK_ATTRIBUTE t[3];
	CK_OBJECT_HANDLE found[2];
	CK_ULONG n = 0, nt = 0;
	char rvbuf[32];

	t[nt].type = CKA_CLASS;
	t[nt].pValue = &cls;
	t[nt++].ulValueLen = sizeof(cls);
	if (u->has_object) {
		t[nt].type = CKA_LABEL;
		t[nt].pValue = (void *)u->object;
		t[nt++].ulValueLen = strlen(u->object);
	}
	if (u->has_id) {
		t[nt].type = CKA_ID;
		t[nt].pValue = (void *)u->id;
		t[nt++].ulValueLen = u->id_len;
	}
	*rv = f->C_FindObjectsInit(h, t, nt);
	if (*rv != CKR_OK)
		goto fail;
	*rv = f->C_FindObjects(h, found, 2, &n);
	f->C_FindObjectsFinal(h);
	if (*rv != CKR_OK)
		goto fail;
	if (n == 0)
		return key_not_found(tok, h, u, rv, err);
	if (n > 1)
		return cs_err_set(
		    err, CS_ERR_CONFLICT, "key uri matches more than one key");
	*obj = found[0];
	return CS_OK;
fail:
	return cs_err_set(err, p11_rv_rc(*rv), "token find failed: %s",
	    p11_rv_name(*rv, rvbuf, sizeof(rvbuf)));
}

/* Read one attribute of any length up to P11_ATTR_MAX; *val is given. */
static enum cs_rc
attr_get(struct p11_token *tok, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj,
    CK_ATTRIBUTE_TYPE type, unsigned char **val, size_t *len, CK_RV *rv,
    struct cs_err *err)
{
	CK_ATTRIBUTE a = {type, NULL, 0};
	char rvbuf[32];

	*val = NULL;
	*len = 0;
	*rv = tok->f->C_GetAttributeValue(h, obj, &a, 1);
	if (*rv != CKR_OK)
		goto fail;
	if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION ||
	    a.ulValueLen > P11_ATTR_MAX)
		return cs_err_set(err, CS_ERR_TOKEN,
		    "token attribute 0x%lx unavailable", (unsigned long)type);
	a.pValue = calloc(1, a.ulValueLen + 1);
	if (a.pValue == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	*rv = tok->f->C_GetAttributeValue(h, obj, &a, 1);
	if (*rv != CKR_OK) {
		free(a.pValue);
		goto fail;
	}
	*val = a.pValue;
	*len = a.ulValueLen;
	return CS_OK;
fail:
	return cs_err_set(err, p11_rv_rc(*rv), "token read failed: %s",
	    p11_rv_name(*rv, rvbuf, sizeof(rvbuf)));
}

/* --- the key handle cache ----------------------------------------------- */

static bool
cache_get(struct p11_token *tok, const char *uri, uint64_t hash,
    CK_OBJECT_HANDLE *obj, CK_KEY_TYPE *type)
{
	uint64_t gen = atomic_load(&tok->key_gen);
	bool hit = false;
	size_t i;

	pthread_rwlock_rdlock(&tok->cache_mu);
	for (i = 0; i < tok->ncache; i++) {
		struct p11_key_ent *e = &tok->cache[i];

		if (e->hash == hash && e->gen == gen &&
		    strcmp(e->uri, uri) == 0) {
			*obj = e->obj;
			*type = e->type;
			hit = true;
			break;
		}
	}
	pthread_rwlock_unlock(&tok->cache_mu);
	return hit;
}

static void
cache_put(struct p11_token *tok, const char *uri, uint64_t hash,
    CK_OBJECT_HANDLE obj, CK_KEY_TYPE type, uint64_t gen)
{
	struct p11_key_ent *e = NULL;
	size_t i;
	char *copy;

	pthread_rwlock_wrlock(&tok->cache_mu);
	for (i = 0; i < tok->ncache; i++)
		if (tok->cache[i].hash == hash &&
		    strcmp(tok->cache[i].uri, uri) == 0) {
			e = &tok->cache[i];
			break;
		}
	if (e == NULL) {
		if (tok->cache == NULL) {
			tok->cache = calloc(P11_CACHE_MAX, sizeof(*tok->cache));
			if (tok->cache == NULL)
				goto out;
		}
		if (tok->ncache == P11_CACHE_MAX) {
			/* Full: start again rather than grow without bound. */
			for (i = 0; i < tok->ncache; i++)
				free(tok->cache[i].uri);
			tok->ncache = 0;
		}
		copy = strdup(uri);
		if (copy == NULL)
			goto out;
		e = &tok->cache[tok->ncache++];
		e->uri = copy;
		e->hash = hash;
	}
	e->obj = obj;
	e->type = type;
	e->gen = gen;
out:
	pthread_rwlock_unlock(&tok->cache_mu);
}

void
p11_cache_release(struct p11_token *tok)
{
	size_t i;

	for (i = 0; i < tok->ncache; i++)
		free(tok->cache[i].uri);
	free(tok->cache);
	tok->cache = NULL;
	tok->ncache = 0;
}

/* --- signing ------------------------------------------------------------ */

struct sign_op {
	const char *uri;
	uint64_t hash;
	const unsigned char *tbs_ec; /* the digest */
	size_t dlen;
	unsigned char di[sizeof(di_sha512) + 64]; /* DigestInfo for RSA */
	size_t dilen;
	CK_KEY_TYPE type;
	unsigned char raw[SIG_RAW_MAX];
	CK_ULONG rawlen;
};

static enum cs_rc
sign_op(struct p11_token *tok, CK_SESSION_HANDLE h, void *arg, CK_RV *rv,
    struct cs_err *err)
{
	struct sign_op *op = arg;
	CK_FUNCTION_LIST *f = tok->f;
	CK_MECHANISM mech = {0, NULL, 0};
	CK_OBJECT_HANDLE obj;
	CK_KEY_TYPE type;
	CK_ATTRIBUTE a;
	struct p11_uri u;
	unsigned char *data;
	CK_ULONG dlen;
	char rvbuf[32];
	uint64_t gen;
	enum cs_rc rc;

	if (!cache_get(tok, op->uri, op->hash, &obj, &type)) {
		gen = atomic_load(&tok->key_gen);
		rc = key_uri(tok, op->uri, &u, err);
		if (rc != CS_OK)
			return rc;
		if (u.type == P11_URI_PUBLIC)
			return cs_err_set(err, CS_ERR_INVALID,
			    "pkcs11 uri: names a public key, cannot sign");
		rc = key_find(tok, h, &u, CKO_PRIVATE_KEY, &obj, rv, err);
		if (rc != CS_OK)
			return rc;
		a.type = CKA_KEY_TYPE;
		a.pValue = &type;
		a.ulValueLen = sizeof(type);
		*rv = f->C_GetAttributeValue(h, obj, &a, 1);
		if (*rv != CKR_OK)
			return cs_err_set(err, p11_rv_rc(*rv),
			    "token read failed: %s",
			    p11_rv_name(*rv, rvbuf, sizeof(rvbuf)));
		cache_put(tok, op->uri, op->hash, obj, type, gen);
	}
	op->type = type;
	if (type == CKK_EC) {
		mech.mechanism = CKM_ECDSA;
		data = (unsigned char *)op->tbs_ec;
		dlen = op->dlen;
	} else if (type == CKK_RSA) {
		mech.mechanism = CKM_RSA_PKCS;
		data = op->di;
		dlen = op->dilen;
	} else {
		return cs_err_set(err, CS_ERR_CRYPTO,
		    "key type 0x%lx cannot sign", (unsigned long)type);
	}
	*rv = f->C_SignInit(h, &mech, obj);
	if (*rv != CKR_OK)
		return cs_err_set(err, p11_rv_rc(*rv), "token sign failed: %s",
		    p11_rv_name(*rv, rvbuf, sizeof(rvbuf)));
	op->rawlen = sizeof(op->raw);
	*rv = f->C_Sign(h, data, dlen, op->raw, &op->rawlen);
	if (*rv != CKR_OK)
		return cs_err_set(err, p11_rv_rc(*rv), "token sign failed: %s",
		    p11_rv_name(*rv, rvbuf, sizeof(rvbuf)));
	return CS_OK;
}

static size_t
der_len(unsigned char *p, size_t len)
{
	if (len < 0x80) {
		if (p != NULL)
			p[0] = (unsigned char)len;
		return 1;
	}
	if (p != NULL) {
		p[0] = 0x81;
		p[1] = (unsigned char)len;
	}
	return 2;
}

/* Encode one unsigned big-endian integer as a DER INTEGER at p (if set). */
static size_t
der_uint(unsigned char *p, const unsigned char *v, size_t n)
{
	size_t pad, ilen, hl;

	while (n > 1 && v[0] == 0) {
		v++;
		n--;
	}
	pad = (v[0] & 0x80) ? 1 : 0;
	ilen = n + pad;
	if (p == NULL)
		return 1 + der_len(NULL, ilen) + ilen;
	p[0] = 0x02;
	hl = 1 + der_len(p + 1, ilen);
	if (pad)
		p[hl] = 0;
	memcpy(p + hl + pad, v, n);
	return hl + ilen;
}

/* raw r||s (each half the length) -> DER ECDSA-Sig-Value into out. */
static enum cs_rc
ecdsa_der(const unsigned char *raw, size_t rawlen, unsigned char *out,
    size_t *outlen, struct cs_err *err)
{
	size_t half = rawlen / 2, body, total, n;

	if (rawlen == 0 || rawlen % 2 != 0 || half > 127)
		return cs_err_set(err, CS_ERR_CRYPTO,
		    "token returned a malformed ECDSA signature");
	body = der_uint(NULL, raw, half) + der_uint(NULL, raw + half, half);
	total = 1 + der_len(NULL, body) + body;
	if (total > *outlen)
		return cs_err_set(
		    err, CS_ERR_INVALID, "signature buffer too small");
	out[0] = 0x30;
	n = 1 + der_len(out + 1, body);
	n += der_uint(out + n, raw, half);
	n += der_uint(out + n, raw + half, half);
	*outlen = n;
	return CS_OK;
}

enum cs_rc
p11_sign_digest(struct p11_token *tok, const char *uri, int md_nid,
    const unsigned char *dgst, size_t dlen, unsigned char *sig, size_t *siglen,
    struct cs_err *err)
{
	const unsigned char *prefix;
	struct sign_op op;
	size_t want, plen;
	uint64_t t0 = cs_now_ns();
	enum cs_rc rc;

	switch (md_nid) {
	case NID_sha256:
		want = 32;
		prefix = di_sha256;
		plen = sizeof(di_sha256);
		break;
	case NID_sha384:
		want = 48;
		prefix = di_sha384;
		plen = sizeof(di_sha384);
		break;
	case NID_sha512:
		want = 64;
		prefix = di_sha512;
		plen = sizeof(di_sha512);
		break;
	default:
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "unsupported digest for signing (nid %d)", md_nid);
		goto out;
	}
	if (tok == NULL || uri == NULL || dgst == NULL || sig == NULL ||
	    siglen == NULL) {
		rc = cs_err_set(err, CS_ERR_INVALID, "missing sign argument");
		goto out;
	}
	if (dlen != want) {
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "digest length %zu does not match %s", dlen,
		    OBJ_nid2sn(md_nid));
		goto out;
	}
	op.uri = uri;
	op.hash = key_hash(uri);
	op.tbs_ec = dgst;
	op.dlen = dlen;
	memcpy(op.di, prefix, plen);
	memcpy(op.di + plen, dgst, dlen);
	op.dilen = plen + dlen;
	op.rawlen = 0;
	rc = p11_pool_run(tok, sign_op, &op, err);
	if (rc != CS_OK)
		goto out;
	if (op.type == CKK_EC) {
		rc = ecdsa_der(op.raw, op.rawlen, sig, siglen, err);
	} else if (op.rawlen > *siglen) {
		rc = cs_err_set(
		    err, CS_ERR_INVALID, "signature buffer too small");
	} else {
		memcpy(sig, op.raw, op.rawlen);
		*siglen = op.rawlen;
	}
out:
	if (tok != NULL) {
		enum p11_purpose pp = p11_uri_purpose(uri);
		uint64_t ns = cs_now_ns() - t0;

		if (rc == CS_OK) {
			atomic_fetch_add_explicit(
			    &tok->st_signs, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(
			    &tok->st_sign_ns, ns, memory_order_relaxed);
			atomic_fetch_add_explicit(
			    &tok->st_p_signs[pp], 1, memory_order_relaxed);
			cs_hist_observe(&tok->st_p_latency[pp], ns);
		} else {
			atomic_fetch_add_explicit(
			    &tok->st_sign_failures, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(
			    &tok->st_p_failures[pp], 1, memory_order_relaxed);
		}
	}
	return rc;
}

static const char *const p11_purpose_names[P11_NPURPOSE] = {
    "ca", "seal", "ocsp", "tsa", "audit", "report", "other"};

const char *
p11_purpose_name(enum p11_purpose p)
{
	return (unsigned)p < P11_NPURPOSE ? p11_purpose_names[p] : "other";
}

enum p11_purpose
p11_uri_purpose(const char *uri)
{
	const char *o;
	size_t n, i;

	if (uri == NULL)
		return P11_PURPOSE_OTHER;
	o = strstr(uri, "object=");
	if (o == NULL)
		return P11_PURPOSE_OTHER;
	o += strlen("object=");
	n = strcspn(o, "-;?");
	if (o[n] != '-') /* a label of one word names no purpose */
		return P11_PURPOSE_OTHER;
	for (i = 0; i < P11_PURPOSE_OTHER; i++)
		if (strlen(p11_purpose_names[i]) == n &&
		    strncmp(o, p11_purpose_names[i], n) == 0)
			return (enum p11_purpose)i;
	return P11_PURPOSE_OTHER;
}

/* --- describing keys ---------------------------------------------------- */

static enum p11_alg
key_alg(struct p11_token *tok, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj,
    CK_KEY_TYPE type)
{
	unsigned char *v = NULL;
	enum p11_alg alg = 0;
	size_t len, bits;
	CK_RV rv;

	if (type == CKK_EC) {
		if (attr_get(tok, h, obj, CKA_EC_PARAMS, &v, &len, &rv, NULL) !=
		    CS_OK)
			return 0;
		if (len == sizeof(oid_p256) && memcmp(v, oid_p256, len) == 0)
			alg = P11_ALG_P256;
		else if (len == sizeof(oid_p384) &&
		    memcmp(v, oid_p384, len) == 0)
			alg = P11_ALG_P384;
	} else if (type == CKK_RSA) {
		if (attr_get(tok, h, obj, CKA_MODULUS, &v, &len, &rv, NULL) !=
		    CS_OK)
			return 0;
		bits = len * 8;
		for (size_t i = 0; i < len && v[i] == 0; i++)
			bits -= 8;
		if (bits == 3072)
			alg = P11_ALG_RSA3072;
	}
	free(v);
	return alg;
}

/* Fill info for the private key obj. */
static enum cs_rc
key_describe(struct p11_token *tok, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj,
    struct p11_key_info *info, CK_RV *rv, struct cs_err *err)
{
	CK_BBOOL sens = 0, extr = 1, asens = 0, nextr = 0;
	CK_KEY_TYPE type = (CK_KEY_TYPE)-1;
	CK_ATTRIBUTE t[] = {
	    {CKA_SENSITIVE, &sens, sizeof(sens)},
	    {CKA_EXTRACTABLE, &extr, sizeof(extr)},
	    {CKA_ALWAYS_SENSITIVE, &asens, sizeof(asens)},
	    {CKA_NEVER_EXTRACTABLE, &nextr, sizeof(nextr)},
	    {CKA_KEY_TYPE, &type, sizeof(type)},
	};
	struct p11_uri u;
	unsigned char *label = NULL, *id = NULL;
	size_t llen, idlen;
	char rvbuf[32];
	enum cs_rc rc;

	memset(info, 0, sizeof(*info));
	*rv = tok->f->C_GetAttributeValue(h, obj, t, 5);
	if (*rv != CKR_OK && *rv != CKR_ATTRIBUTE_TYPE_INVALID &&
	    *rv != CKR_ATTRIBUTE_SENSITIVE)
		return cs_err_set(err, p11_rv_rc(*rv), "token read failed: %s",
		    p11_rv_name(*rv, rvbuf, sizeof(rvbuf)));
	*rv = CKR_OK;
	info->sensitive = t[0].ulValueLen == sizeof(sens) && sens;
	info->extractable = t[1].ulValueLen != sizeof(extr) || extr;
	info->always_sensitive = t[2].ulValueLen == sizeof(asens) && asens;
	info->never_extractable = t[3].ulValueLen == sizeof(nextr) && nextr;
	if (t[4].ulValueLen == sizeof(type))
		info->alg = key_alg(tok, h, obj, type);
	rc = attr_get(tok, h, obj, CKA_LABEL, &label, &llen, rv, err);
	if (rc != CS_OK)
		goto out;
	rc = attr_get(tok, h, obj, CKA_ID, &id, &idlen, rv, err);
	if (rc != CS_OK)
		goto out;
	memset(&u, 0, sizeof(u));
	cs_strlcpy(u.token, tok->label, sizeof(u.token));
	u.has_token = true;
	/* A label or id we cannot name in a URI is left out of it. */
	if (llen > 0 && llen < sizeof(u.object) &&
	    memchr(label, '\0', llen) == NULL) {
		memcpy(u.object, label, llen);
		u.has_object = true;
	}
	p11_field_str(info->label, sizeof(info->label), label, llen);
	if (idlen > 0 && idlen <= sizeof(u.id)) {
		memcpy(u.id, id, idlen);
		u.id_len = idlen;
		u.has_id = true;
	}
	u.type = P11_URI_PRIVATE;
	rc = p11_uri_format(&u, info->uri, sizeof(info->uri), err);
out:
	free(label);
	free(id);
	return rc;
}

struct info_op {
	struct p11_uri u;
	struct p11_key_info *info;
};

static enum cs_rc
info_op(struct p11_token *tok, CK_SESSION_HANDLE h, void *arg, CK_RV *rv,
    struct cs_err *err)
{
	struct info_op *op = arg;
	CK_OBJECT_HANDLE obj;
	enum cs_rc rc;

	rc = key_find(tok, h, &op->u, CKO_PRIVATE_KEY, &obj, rv, err);
	if (rc != CS_OK)
		return rc;
	return key_describe(tok, h, obj, op->info, rv, err);
}

enum cs_rc
p11_key_info(struct p11_token *tok, const char *uri, struct p11_key_info *info,
    struct cs_err *err)
{
	struct info_op op;
	enum cs_rc rc;

	memset(info, 0, sizeof(*info));
	rc = key_uri(tok, uri, &op.u, err);
	if (rc != CS_OK)
		return rc;
	if (op.u.type == P11_URI_PUBLIC)
		return cs_err_set(err, CS_ERR_INVALID,
		    "pkcs11 uri: names a public key, not a key pair");
	op.info = info;
	return p11_pool_run(tok, info_op, &op, err);
}

struct list_op {
	struct p11_key_info *keys;
	size_t n;
};

static enum cs_rc
list_op(struct p11_token *tok, CK_SESSION_HANDLE h, void *arg, CK_RV *rv,
    struct cs_err *err)
{
	struct list_op *op = arg;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t = {CKA_CLASS, &cls, sizeof(cls)};
	CK_OBJECT_HANDLE *objs = NULL;
	CK_ULONG got, n = 0;
	char rvbuf[32];
	size_t i;
	enum cs_rc rc;

	free(op->keys); /* from an attempt before a recovery */
	op->keys = NULL;
	op->n = 0;
	objs = calloc(P11_KEYS_MAX, sizeof(*objs));
	if (objs == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	*rv = tok->f->C_FindObjectsInit(h, &t, 1);
	if (*rv != CKR_OK)
		goto fail;
	do {
		got = 0;
		*rv = tok->f->C_FindObjects(h, objs + n,
		    P11_KEYS_MAX - n < 64 ? P11_KEYS_MAX - n : 64, &got);
		n += got;
	} while (*rv == CKR_OK && got > 0 && n < P11_KEYS_MAX);
	tok->f->C_FindObjectsFinal(h);
	if (*rv != CKR_OK)
		goto fail;
	op->keys = calloc(n ? n : 1, sizeof(*op->keys));
	if (op->keys == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		rc = key_describe(tok, h, objs[i], &op->keys[i], rv, err);
		if (rc != CS_OK)
			goto out;
	}
	op->n = n;
	rc = CS_OK;
	goto out;
fail:
	rc = cs_err_set(err, p11_rv_rc(*rv), "token find failed: %s",
	    p11_rv_name(*rv, rvbuf, sizeof(rvbuf)));
out:
	free(objs);
	return rc;
}

enum cs_rc
p11_key_list(struct p11_token *tok, struct p11_key_info **keys, size_t *n,
    struct cs_err *err)
{
	struct list_op op = {NULL, 0};
	enum cs_rc rc;

	*keys = NULL;
	*n = 0;
	rc = p11_pool_run(tok, list_op, &op, err);
	if (rc != CS_OK) {
		free(op.keys);
		return rc;
	}
	*keys = op.keys;
	*n = op.n;
	return CS_OK;
}

/* --- generation --------------------------------------------------------- */

struct gen_op {
	enum p11_alg alg;
	const char *label;
	unsigned char id[KEY_ID_LEN];
};

static enum cs_rc
gen_op(struct p11_token *tok, CK_SESSION_HANDLE h, void *arg, CK_RV *rv,
    struct cs_err *err)
{
	struct gen_op *op = arg;
	CK_FUNCTION_LIST *f = tok->f;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG bits = 3072, llen = strlen(op->label), n = 0, npub = 5;
	CK_BYTE exp[] = {0x01, 0x00, 0x01};
	CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
	CK_OBJECT_HANDLE pub, priv, found;
	CK_ATTRIBUTE lt = {CKA_LABEL, (void *)op->label, llen};
	CK_ATTRIBUTE pubt[7] = {
	    {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_PRIVATE, &no, sizeof(no)},
	    {CKA_VERIFY, &yes, sizeof(yes)},
	    {CKA_LABEL, (void *)op->label, llen},
	    {CKA_ID, op->id, sizeof(op->id)},
	};
	CK_ATTRIBUTE privt[] = {
	    {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_PRIVATE, &yes, sizeof(yes)},
	    {CKA_SENSITIVE, &yes, sizeof(yes)},
	    {CKA_EXTRACTABLE, &no, sizeof(no)},
	    {CKA_SIGN, &yes, sizeof(yes)},
	    {CKA_DECRYPT, &no, sizeof(no)},
	    {CKA_UNWRAP, &no, sizeof(no)},
	    {CKA_DERIVE, &no, sizeof(no)},
	    {CKA_LABEL, (void *)op->label, llen},
	    {CKA_ID, op->id, sizeof(op->id)},
	};
	char rvbuf[32];

	/* The label must be free: no object of any class may carry it. */
	*rv = f->C_FindObjectsInit(h, &lt, 1);
	if (*rv == CKR_OK) {
		*rv = f->C_FindObjects(h, &found, 1, &n);
		f->C_FindObjectsFinal(h);
	}
	if (*rv != CKR_OK)
		return cs_err_set(err, p11_rv_rc(*rv), "token find failed: %s",
		    p11_rv_name(*rv, rvbuf, sizeof(rvbuf)));
	if (n > 0)
		return cs_err_set(
		    err, CS_ERR_CONFLICT, "key '%s' exists already", op->label);

	if (op->alg == P11_ALG_RSA3072) {
		mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
		pubt[npub].type = CKA_MODULUS_BITS;
		pubt[npub].pValue = &bits;
		pubt[npub++].ulValueLen = sizeof(bits);
		pubt[npub].type = CKA_PUBLIC_EXPONENT;
		pubt[npub].pValue = exp;
		pubt[npub++].ulValueLen = sizeof(exp);
	} else {
		pubt[npub].type = CKA_EC_PARAMS;
		if (op->alg == P11_ALG_P256) {
			pubt[npub].pValue = (void *)oid_p256;
			pubt[npub++].ulValueLen = sizeof(oid_p256);
		} else {
			pubt[npub].pValue = (void *)oid_p384;
			pubt[npub++].ulValueLen = sizeof(oid_p384);
		}
	}
	*rv = f->C_GenerateKeyPair(h, &mech, pubt, npub, privt,
	    sizeof(privt) / sizeof(privt[0]), &pub, &priv);
	if (*rv != CKR_OK)
		return cs_err_set(err, p11_rv_rc(*rv),
		    "key generation failed: %s",
		    p11_rv_name(*rv, rvbuf, sizeof(rvbuf)));
	return CS_OK;
}

static bool
key_label_ok(const char *label)
{
	size_t len, i;

	if (label == NULL)
		return false;
	len = strlen(label);
	if (len == 0 || len >= P11_LABEL_MAX)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)label[i] < 0x20 || label[i] == 0x7f)
			return false;
	return true;
}

enum cs_rc
p11_key_generate(struct p11_token *tok, enum p11_alg alg, const char *label,
    char *uri, size_t urisz, struct cs_err *err)
{
	struct gen_op op;
	struct p11_uri u;
	enum cs_rc rc;

	if (uri != NULL && urisz > 0)
		uri[0] = '\0';
	if (alg != P11_ALG_P256 && alg != P11_ALG_P384 &&
	    alg != P11_ALG_RSA3072)
		return cs_err_set(err, CS_ERR_INVALID, "unknown key algorithm");
	if (!key_label_ok(label))
		return cs_err_set(err, CS_ERR_INVALID,
		    "key label must be 1 to %d printable bytes",
		    P11_LABEL_MAX - 1);
	if (uri == NULL || urisz < P11_URI_MAX)
		return cs_err_set(err, CS_ERR_INVALID, "uri buffer too small");
	op.alg = alg;
	op.label = label;
	if (RAND_bytes(op.id, sizeof(op.id)) != 1)
		return cs_err_ossl(err, CS_ERR_CRYPTO, "RAND_bytes failed");
	pthread_mutex_lock(&tok->gen_mu);
	rc = p11_pool_run(tok, gen_op, &op, err);
	pthread_mutex_unlock(&tok->gen_mu);
	if (rc != CS_OK)
		return rc;
	memset(&u, 0, sizeof(u));
	u.has_token = true;
	cs_strlcpy(u.token, tok->label, sizeof(u.token));
	u.has_object = true;
	cs_strlcpy(u.object, label, sizeof(u.object));
	u.has_id = true;
	memcpy(u.id, op.id, sizeof(op.id));
	u.id_len = sizeof(op.id);
	u.type = P11_URI_PRIVATE;
	rc = p11_uri_format(&u, uri, urisz, err);
	if (rc == CS_OK)
		cs_log(CS_LOG_INFO, "key '%s' (%s) generated in token '%s'",
		    label, p11_alg_name(alg), tok->label);
	return rc;
}

/* --- public keys -------------------------------------------------------- */

struct pub_op {
	struct p11_uri u;
	CK_KEY_TYPE type;
	unsigned char *a; /* EC params or RSA modulus */
	size_t alen;
	unsigned char *b; /* EC point or RSA exponent */
	size_t blen;
};

static void
pub_op_reset(struct pub_op *op)
{
	free(op->a);
	free(op->b);
	op->a = op->b = NULL;
	op->alen = op->blen = 0;
}

static enum cs_rc
pub_read(struct p11_token *tok, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj,
    struct pub_op *op, CK_RV *rv, struct cs_err *err)
{
	enum cs_rc rc;

	pub_op_reset(op);
	if (op->type == CKK_EC) {
		rc = attr_get(
		    tok, h, obj, CKA_EC_PARAMS, &op->a, &op->alen, rv, err);
		if (rc == CS_OK)
			rc = attr_get(tok, h, obj, CKA_EC_POINT, &op->b,
			    &op->blen, rv, err);
	} else if (op->type == CKK_RSA) {
		rc = attr_get(
		    tok, h, obj, CKA_MODULUS, &op->a, &op->alen, rv, err);
		if (rc == CS_OK)
			rc = attr_get(tok, h, obj, CKA_PUBLIC_EXPONENT, &op->b,
			    &op->blen, rv, err);
	} else {
		rc = cs_err_set(err, CS_ERR_CRYPTO,
		    "key type 0x%lx not supported", (unsigned long)op->type);
	}
	return rc;
}

static enum cs_rc
pub_op(struct p11_token *tok, CK_SESSION_HANDLE h, void *arg, CK_RV *rv,
    struct cs_err *err)
{
	struct pub_op *op = arg;
	CK_ATTRIBUTE a;
	CK_OBJECT_HANDLE obj, pub;
	struct p11_uri pu;
	unsigned char *id = NULL;
	size_t idlen;
	char rvbuf[32];
	enum cs_rc rc;

	pub_op_reset(op);
	rc = key_find(tok, h, &op->u,
	    op->u.type == P11_URI_PUBLIC ? CKO_PUBLIC_KEY : CKO_PRIVATE_KEY,
	    &obj, rv, err);
	if (rc != CS_OK)
		return rc;
	a.type = CKA_KEY_TYPE;
	a.pValue = &op->type;
	a.ulValueLen = sizeof(op->type);
	*rv = tok->f->C_GetAttributeValue(h, obj, &a, 1);
	if (*rv != CKR_OK)
		return cs_err_set(err, p11_rv_rc(*rv), "token read failed: %s",
		    p11_rv_name(*rv, rvbuf, sizeof(rvbuf)));
	if (op->u.type == P11_URI_PUBLIC)
		return pub_read(tok, h, obj, op, rv, err);

	/* The public half carries the same CKA_ID (or label if no id). */
	rc = attr_get(tok, h, obj, CKA_ID, &id, &idlen, rv, err);
	if (rc != CS_OK)
		return rc;
	pu = op->u;
	pu.type = P11_URI_PUBLIC;
	if (idlen > 0 && idlen <= sizeof(pu.id)) {
		memcpy(pu.id, id, idlen);
		pu.id_len = idlen;
		pu.has_id = true;
	}
	free(id);
	rc = key_find(tok, h, &pu, CKO_PUBLIC_KEY, &pub, rv, err);
	if (rc == CS_OK)
		return pub_read(tok, h, pub, op, rv, err);
	if (rc != CS_ERR_NOT_FOUND || op->type != CKK_RSA)
		return rc;
	/* An RSA private key carries its public half itself. */
	return pub_read(tok, h, obj, op, rv, err);
}

static enum cs_rc
pub_ec(const struct pub_op *op, EVP_PKEY **out, struct cs_err *err)
{
	const unsigned char *p = op->a, *pt;
	ASN1_OBJECT *oid = NULL;
	ASN1_OCTET_STRING *os = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EC_GROUP *group = NULL;
	const char *curve;
	size_t flen, ptlen;
	int nid;
	enum cs_rc rc;

	oid = d2i_ASN1_OBJECT(NULL, &p, (long)op->alen);
	nid = oid != NULL ? OBJ_obj2nid(oid) : NID_undef;
	curve = nid != NID_undef ? OSSL_EC_curve_nid2name(nid) : NULL;
	group = nid != NID_undef ? EC_GROUP_new_by_curve_name(nid) : NULL;
	if (curve == NULL || group == NULL) {
		rc = cs_err_ossl(
		    err, CS_ERR_CRYPTO, "token key has an unsupported curve");
		goto out;
	}
	flen = ((size_t)EC_GROUP_get_degree(group) + 7) / 8;
	/* SoftHSM wraps the point in a DER OCTET STRING; some don't. */
	if (op->blen == 1 + 2 * flen && op->b[0] == 0x04) {
		pt = op->b;
		ptlen = op->blen;
	} else {
		p = op->b;
		os = d2i_ASN1_OCTET_STRING(NULL, &p, (long)op->blen);
		if (os == NULL) {
			rc = cs_err_ossl(err, CS_ERR_CRYPTO,
			    "token key has a malformed EC point");
			goto out;
		}
		pt = ASN1_STRING_get0_data(os);
		ptlen = (size_t)ASN1_STRING_length(os);
	}
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(
	        bld, OSSL_PKEY_PARAM_GROUP_NAME, curve, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(
	        bld, OSSL_PKEY_PARAM_PUB_KEY, pt, ptlen) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "OSSL_PARAM_BLD failed");
		goto out;
	}
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO,
		    "token key has an invalid EC public key");
		goto out;
	}
	rc = CS_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EC_GROUP_free(group);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(oid);
	return rc;
}

static enum cs_rc
pub_rsa(const struct pub_op *op, EVP_PKEY **out, struct cs_err *err)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	BIGNUM *n = NULL, *e = NULL;
	enum cs_rc rc;

	n = BN_bin2bn(op->a, (int)op->alen, NULL);
	e = BN_bin2bn(op->b, (int)op->blen, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (n == NULL || e == NULL || bld == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "OSSL_PARAM_BLD failed");
		goto out;
	}
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO,
		    "token key has an invalid RSA public key");
		goto out;
	}
	rc = CS_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(e);
	BN_free(n);
	return rc;
}

enum cs_rc
p11_key_public(
    struct p11_token *tok, const char *uri, EVP_PKEY **out, struct cs_err *err)
{
	struct pub_op op;
	EVP_PKEY *pkey = NULL;
	enum cs_rc rc;

	*out = NULL;
	memset(&op, 0, sizeof(op));
	rc = key_uri(tok, uri, &op.u, err);
	if (rc != CS_OK)
		return rc;
	rc = p11_pool_run(tok, pub_op, &op, err);
	if (rc != CS_OK)
		goto out;
	if (op.type == CKK_EC)
		rc = pub_ec(&op, &pkey, err);
	else
		rc = pub_rsa(&op, &pkey, err);
	if (rc != CS_OK)
		goto out;
	*out = pkey;
out:
	pub_op_reset(&op);
	return rc;
}
