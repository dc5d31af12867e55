/*
 * p11_prov.c: EVP_PKEYs whose private operations call a signing callback
 * (p11_sign_fn), so that OpenSSL signs certificates, CRLs, OCSP responses,
 * CMS and timestamps with keys that never leave the token.
 *
 * It is a small OpenSSL 3 provider, "certsvc-token", built into the
 * process (OSSL_PROVIDER_add_builtin), with a key manager and a signature
 * implementation for EC and RSA.  docs/openssl-binding.md says why this
 * and not libp11 or the deprecated RSA_METHOD/EC_KEY_METHOD.  Invariants:
 *
 * - The provider lives in a library context of its own, next to a
 *   "default" provider of that context.  The global context is never
 *   touched: nothing is loaded into it (so "default" still loads there
 *   automatically) and no fetch made by the rest of the process can land
 *   on our algorithms, so software keys are never routed here.
 * - OpenSSL reaches our signature through the key: EVP_DigestSignInit and
 *   EVP_PKEY_sign_init first try the signature fetched by name (the global
 *   default provider's) and export the key to that provider; our export
 *   refuses any selection that includes the private key, so that attempt
 *   fails and OpenSSL falls back to the signature of the key's own
 *   provider, ours.  Exporting the public part alone works, which is what
 *   encoders (X509_set_pubkey, i2d_PUBKEY) ask for.
 * - Import accepts a public key (EVP_PKEY_eq and X509_check_private_key
 *   compare keys by importing the other one here) or the hand-off from
 *   p11_evp_from_signer(); it refuses anything carrying a private key.
 * - A key (struct p11_prov_key) is immutable after creation and reference
 *   counted, so threads share it without a lock; every signature costs one
 *   digest and one callback, nothing global.
 * - A failing callback raises ERR_LIB_USER with its enum cs_rc as the
 *   reason and its message as data, so a caller can tell "token
 *   unavailable" (503) from an OpenSSL failure after the operation fails.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/proverr.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>

#include "certsvc/err.h"
#include "pkcs11/p11.h"

#define P11_PROV_NAME "certsvc-token"
#define P11_PROV_PROPS "provider=certsvc-token"
/* Key-creation parameter carrying a struct p11_prov_handoff pointer. */
#define P11_PROV_PARAM_SIGNER "certsvc-signer"
#define P11_PROV_NAMES_EC "EC:id-ecPublicKey:1.2.840.10045.2.1"
#define P11_PROV_NAMES_RSA "RSA:rsaEncryption:1.2.840.113549.1.1.1"

enum p11_prov_type {
	P11_PROV_EC = 1,
	P11_PROV_RSA,
};

/* The digests a token signs; the AlgorithmIdentifiers are fixed DER. */
enum {
	P11_PROV_SHA256 = 0,
	P11_PROV_SHA384,
	P11_PROV_SHA512,
	P11_PROV_NMD,
};

struct p11_prov_md {
	int nid;
	const char *name; /* the name we report back */
	const char *alias[4];
	size_t size;
	const unsigned char *ec_aid; /* ecdsa-with-SHAx, RFC 5758: absent */
	size_t ec_aid_len;
	const unsigned char *rsa_aid; /* shaxWithRSAEncryption, NULL params */
	size_t rsa_aid_len;
};

static const unsigned char p11_prov_aid_ec256[] = {
    0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
static const unsigned char p11_prov_aid_ec384[] = {
    0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03};
static const unsigned char p11_prov_aid_ec512[] = {
    0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04};
static const unsigned char p11_prov_aid_rsa256[] = {0x30, 0x0d, 0x06, 0x09,
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00};
static const unsigned char p11_prov_aid_rsa384[] = {0x30, 0x0d, 0x06, 0x09,
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c, 0x05, 0x00};
static const unsigned char p11_prov_aid_rsa512[] = {0x30, 0x0d, 0x06, 0x09,
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d, 0x05, 0x00};

static const struct p11_prov_md p11_prov_mds[P11_PROV_NMD] = {
    {NID_sha256, "SHA256", {"SHA256", "SHA2-256", "SHA-256", NULL}, 32,
        p11_prov_aid_ec256, sizeof(p11_prov_aid_ec256), p11_prov_aid_rsa256,
        sizeof(p11_prov_aid_rsa256)},
    {NID_sha384, "SHA384", {"SHA384", "SHA2-384", "SHA-384", NULL}, 48,
        p11_prov_aid_ec384, sizeof(p11_prov_aid_ec384), p11_prov_aid_rsa384,
        sizeof(p11_prov_aid_rsa384)},
    {NID_sha512, "SHA512", {"SHA512", "SHA2-512", "SHA-512", NULL}, 64,
        p11_prov_aid_ec512, sizeof(p11_prov_aid_ec512), p11_prov_aid_rsa512,
        sizeof(p11_prov_aid_rsa512)},
};

/*
 * The one piece of process state: an OpenSSL provider is process-wide by
 * nature.  Written once under pthread_once, read-only afterwards.
 */
static struct {
	pthread_once_t once;
	bool ok;
	OSSL_LIB_CTX *libctx;
	OSSL_PROVIDER *dflt;
	OSSL_PROVIDER *self;
	EVP_MD *md[P11_PROV_NMD];
} p11_prov = {.once = PTHREAD_ONCE_INIT};

struct p11_prov_key {
	atomic_int refs;
	enum p11_prov_type type;
	EVP_PKEY *pub;  /* a plain public key */
	p11_sign_fn fn; /* NULL: a public key imported for a comparison */
	void *arg;
	void (*arg_free)(void *);
	size_t sigmax; /* EVP_PKEY_get_size(pub) */
	int bits;
};

/* What p11_evp_from_signer() hands to the key manager's import. */
struct p11_prov_handoff {
	EVP_PKEY *pub;
	p11_sign_fn fn;
	void *arg;
	struct p11_prov_key *made; /* set by import */
};

/* One signature operation. */
struct p11_prov_ctx {
	enum p11_prov_type type; /* of the algorithm fetched */
	struct p11_prov_key *key;
	const struct p11_prov_md *md; /* NULL until known */
	EVP_MD_CTX *mdctx;            /* digest_sign/verify only */
	bool verify;
	bool digesting; /* a digest operation is running: md is fixed */
};

/* --- helpers -------------------------------------------------------------- */

static const struct p11_prov_md *
p11_prov_md_find(const char *name)
{
	size_t i, j;

	if (name == NULL)
		return NULL;
	/* The usual spellings first: EVP_MD_is_a() takes a namemap lock. */
	for (i = 0; i < P11_PROV_NMD; i++)
		for (j = 0; p11_prov_mds[i].alias[j] != NULL; j++)
			if (strcasecmp(name, p11_prov_mds[i].alias[j]) == 0)
				return &p11_prov_mds[i];
	for (i = 0; i < P11_PROV_NMD; i++)
		if (p11_prov.md[i] != NULL && EVP_MD_is_a(p11_prov.md[i], name))
			return &p11_prov_mds[i];
	return NULL;
}

static EVP_MD *
p11_prov_md_obj(const struct p11_prov_md *md)
{
	return p11_prov.md[md - p11_prov_mds];
}

/* certsvc's choice (crypto_md_for_key): SHA-384 for P-384, else SHA-256. */
static const struct p11_prov_md *
p11_prov_md_default(const struct p11_prov_key *kd)
{
	if (kd->type == P11_PROV_EC && kd->bits == 384)
		return &p11_prov_mds[P11_PROV_SHA384];
	return &p11_prov_mds[P11_PROV_SHA256];
}

static void
p11_prov_key_unref(struct p11_prov_key *kd)
{
	if (kd == NULL)
		return;
	if (atomic_fetch_sub_explicit(&kd->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (kd->arg_free != NULL)
		kd->arg_free(kd->arg);
	EVP_PKEY_free(kd->pub);
	free(kd);
}

static void
p11_prov_key_ref(struct p11_prov_key *kd)
{
	atomic_fetch_add_explicit(&kd->refs, 1, memory_order_relaxed);
}

static bool
p11_prov_pub_set(struct p11_prov_key *kd, EVP_PKEY *pub)
{
	int bits = EVP_PKEY_get_bits(pub);
	int size = EVP_PKEY_get_size(pub);

	if (bits <= 0 || size <= 0)
		return false;
	kd->pub = pub;
	kd->bits = bits;
	kd->sigmax = (size_t)size;
	return true;
}

/* --- key manager -----------------------------------------------------------
 */

static struct p11_prov_key *
p11_prov_key_new(enum p11_prov_type type)
{
	struct p11_prov_key *kd;

	kd = calloc(1, sizeof(*kd));
	if (kd == NULL)
		return NULL;
	atomic_init(&kd->refs, 1);
	kd->type = type;
	return kd;
}

static void *
p11_prov_ec_new(void *provctx)
{
	(void)provctx;
	return p11_prov_key_new(P11_PROV_EC);
}

static void *
p11_prov_rsa_new(void *provctx)
{
	(void)provctx;
	return p11_prov_key_new(P11_PROV_RSA);
}

static void
p11_prov_free(void *keydata)
{
	p11_prov_key_unref(keydata);
}

static int
p11_prov_has(const void *keydata, int selection)
{
	const struct p11_prov_key *kd = keydata;

	if (kd == NULL)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_ALL) == 0)
		return 1;
	if (kd->pub == NULL)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 &&
	    kd->fn == NULL)
		return 0;
	return 1;
}

static int
p11_prov_import_signer(struct p11_prov_key *kd, const OSSL_PARAM *p)
{
	struct p11_prov_handoff *h;
	const char *want = kd->type == P11_PROV_EC ? "EC" : "RSA";

	if (p->data_type != OSSL_PARAM_OCTET_STRING ||
	    p->data_size != sizeof(h))
		return 0;
	memcpy(&h, p->data, sizeof(h));
	if (h == NULL || h->pub == NULL || h->fn == NULL ||
	    !EVP_PKEY_is_a(h->pub, want))
		return 0;
	if (!EVP_PKEY_up_ref(h->pub))
		return 0;
	if (!p11_prov_pub_set(kd, h->pub)) {
		EVP_PKEY_free(h->pub);
		ERR_raise(ERR_LIB_PROV, PROV_R_INVALID_KEY);
		return 0;
	}
	kd->fn = h->fn;
	kd->arg = h->arg;
	h->made = kd;
	return 1;
}

static int
p11_prov_import(void *keydata, int selection, const OSSL_PARAM params[])
{
	struct p11_prov_key *kd = keydata;
	const OSSL_PARAM *p;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *pub = NULL;
	int ok = 0;

	if (kd == NULL || kd->pub != NULL || params == NULL)
		return 0;
	p = OSSL_PARAM_locate_const(params, P11_PROV_PARAM_SIGNER);
	if (p != NULL)
		return p11_prov_import_signer(kd, p);
	/* Never hold a software private key: it would lose it. */
	if (OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PRIV_KEY) != NULL ||
	    OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_D) != NULL)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) == 0)
		return 0;
	pctx = EVP_PKEY_CTX_new_from_name(p11_prov.libctx,
	    kd->type == P11_PROV_EC ? "EC" : "RSA", "provider=default");
	if (pctx == NULL || EVP_PKEY_fromdata_init(pctx) <= 0)
		goto out;
	if (EVP_PKEY_fromdata(
	        pctx, &pub, EVP_PKEY_PUBLIC_KEY, (OSSL_PARAM *)params) <= 0)
		goto out;
	if (!p11_prov_pub_set(kd, pub))
		goto out;
	pub = NULL;
	ok = 1;
out:
	EVP_PKEY_free(pub);
	EVP_PKEY_CTX_free(pctx);
	return ok;
}

static const OSSL_PARAM p11_prov_ec_types[] = {
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM p11_prov_rsa_types[] = {
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *
p11_prov_ec_types_fn(int selection)
{
	(void)selection;
	return p11_prov_ec_types;
}

static const OSSL_PARAM *
p11_prov_rsa_types_fn(int selection)
{
	(void)selection;
	return p11_prov_rsa_types;
}

static int
p11_prov_export(void *keydata, int selection, OSSL_CALLBACK *cb, void *cbarg)
{
	struct p11_prov_key *kd = keydata;

	if (kd == NULL || kd->pub == NULL)
		return 0;
	/* The private key stays in the token; see the top of this file. */
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 &&
	    kd->fn != NULL)
		return 0;
	return EVP_PKEY_export(
	    kd->pub, selection & ~OSSL_KEYMGMT_SELECT_PRIVATE_KEY, cb, cbarg);
}

static int
p11_prov_get_params(void *keydata, OSSL_PARAM params[])
{
	struct p11_prov_key *kd = keydata;
	OSSL_PARAM *p;

	if (kd == NULL || kd->pub == NULL)
		return 0;
	if (!EVP_PKEY_get_params(kd->pub, params))
		return 0;
	p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_DEFAULT_DIGEST);
	if (p != NULL &&
	    !OSSL_PARAM_set_utf8_string(p, p11_prov_md_default(kd)->name))
		return 0;
	return 1;
}

static const OSSL_PARAM p11_prov_ec_gettable[] = {
    OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM p11_prov_rsa_gettable[] = {
    OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *
p11_prov_ec_gettable_fn(void *provctx)
{
	(void)provctx;
	return p11_prov_ec_gettable;
}

static const OSSL_PARAM *
p11_prov_rsa_gettable_fn(void *provctx)
{
	(void)provctx;
	return p11_prov_rsa_gettable;
}

static int
p11_prov_match(const void *keydata1, const void *keydata2, int selection)
{
	const struct p11_prov_key *a = keydata1, *b = keydata2;

	if (a == NULL || b == NULL || a->pub == NULL || b->pub == NULL)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0)
		return EVP_PKEY_eq(a->pub, b->pub) == 1;
	if ((selection & OSSL_KEYMGMT_SELECT_ALL_PARAMETERS) != 0)
		return EVP_PKEY_parameters_eq(a->pub, b->pub) == 1;
	return 1;
}

static void *
p11_prov_dup(const void *keydata, int selection)
{
	struct p11_prov_key *kd = (struct p11_prov_key *)keydata, *nk;

	if (kd == NULL)
		return NULL;
	/* Immutable, so a copy with everything is the same object. */
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 ||
	    kd->fn == NULL) {
		p11_prov_key_ref(kd);
		return kd;
	}
	nk = p11_prov_key_new(kd->type);
	if (nk == NULL)
		return NULL;
	if (kd->pub != NULL) {
		if (!EVP_PKEY_up_ref(kd->pub)) {
			free(nk);
			return NULL;
		}
		nk->pub = kd->pub;
		nk->bits = kd->bits;
		nk->sigmax = kd->sigmax;
	}
	return nk;
}

static const char *
p11_prov_ec_opname(int operation_id)
{
	return operation_id == OSSL_OP_SIGNATURE ? "ECDSA" : NULL;
}

static const char *
p11_prov_rsa_opname(int operation_id)
{
	return operation_id == OSSL_OP_SIGNATURE ? "RSA" : NULL;
}

#define P11_PROV_FN(id, f)                                                     \
	{                                                                      \
		OSSL_FUNC_KEYMGMT_##id, (void (*)(void))(f)                    \
	}

static const OSSL_DISPATCH p11_prov_ec_keymgmt[] = {
    P11_PROV_FN(NEW, p11_prov_ec_new),
    P11_PROV_FN(FREE, p11_prov_free),
    P11_PROV_FN(HAS, p11_prov_has),
    P11_PROV_FN(MATCH, p11_prov_match),
    P11_PROV_FN(IMPORT, p11_prov_import),
    P11_PROV_FN(IMPORT_TYPES, p11_prov_ec_types_fn),
    P11_PROV_FN(EXPORT, p11_prov_export),
    P11_PROV_FN(EXPORT_TYPES, p11_prov_ec_types_fn),
    P11_PROV_FN(GET_PARAMS, p11_prov_get_params),
    P11_PROV_FN(GETTABLE_PARAMS, p11_prov_ec_gettable_fn),
    P11_PROV_FN(QUERY_OPERATION_NAME, p11_prov_ec_opname),
    P11_PROV_FN(DUP, p11_prov_dup),
    {0, NULL},
};

static const OSSL_DISPATCH p11_prov_rsa_keymgmt[] = {
    P11_PROV_FN(NEW, p11_prov_rsa_new),
    P11_PROV_FN(FREE, p11_prov_free),
    P11_PROV_FN(HAS, p11_prov_has),
    P11_PROV_FN(MATCH, p11_prov_match),
    P11_PROV_FN(IMPORT, p11_prov_import),
    P11_PROV_FN(IMPORT_TYPES, p11_prov_rsa_types_fn),
    P11_PROV_FN(EXPORT, p11_prov_export),
    P11_PROV_FN(EXPORT_TYPES, p11_prov_rsa_types_fn),
    P11_PROV_FN(GET_PARAMS, p11_prov_get_params),
    P11_PROV_FN(GETTABLE_PARAMS, p11_prov_rsa_gettable_fn),
    P11_PROV_FN(QUERY_OPERATION_NAME, p11_prov_rsa_opname),
    P11_PROV_FN(DUP, p11_prov_dup),
    {0, NULL},
};

#undef P11_PROV_FN

/* --- signature -------------------------------------------------------------
 */

static void *
p11_prov_ctx_new(enum p11_prov_type type)
{
	struct p11_prov_ctx *ctx;

	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL)
		return NULL;
	ctx->type = type;
	return ctx;
}

static void *
p11_prov_ec_newctx(void *provctx, const char *propq)
{
	(void)provctx;
	(void)propq;
	return p11_prov_ctx_new(P11_PROV_EC);
}

static void *
p11_prov_rsa_newctx(void *provctx, const char *propq)
{
	(void)provctx;
	(void)propq;
	return p11_prov_ctx_new(P11_PROV_RSA);
}

static void
p11_prov_freectx(void *vctx)
{
	struct p11_prov_ctx *ctx = vctx;

	if (ctx == NULL)
		return;
	EVP_MD_CTX_free(ctx->mdctx);
	p11_prov_key_unref(ctx->key);
	free(ctx);
}

static void *
p11_prov_dupctx(void *vctx)
{
	struct p11_prov_ctx *src = vctx, *dst;

	dst = calloc(1, sizeof(*dst));
	if (dst == NULL)
		return NULL;
	*dst = *src;
	dst->mdctx = NULL;
	if (dst->key != NULL)
		p11_prov_key_ref(dst->key);
	if (src->mdctx != NULL) {
		dst->mdctx = EVP_MD_CTX_new();
		if (dst->mdctx == NULL ||
		    !EVP_MD_CTX_copy_ex(dst->mdctx, src->mdctx)) {
			p11_prov_freectx(dst);
			return NULL;
		}
	}
	return dst;
}

static int
p11_prov_set_md(struct p11_prov_ctx *ctx, const char *name)
{
	const struct p11_prov_md *md = p11_prov_md_find(name);

	if (md == NULL) {
		ERR_raise_data(ERR_LIB_PROV, PROV_R_INVALID_DIGEST,
		    "digest %s is not supported by the token", name);
		return 0;
	}
	if (ctx->digesting && md != ctx->md) {
		ERR_raise(ERR_LIB_PROV, PROV_R_DIGEST_NOT_ALLOWED);
		return 0;
	}
	ctx->md = md;
	return 1;
}

static int
p11_prov_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
	struct p11_prov_ctx *ctx = vctx;
	const OSSL_PARAM *p;
	const char *s;
	int pad;

	if (ctx == NULL)
		return 0;
	if (params == NULL)
		return 1;
	p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_DIGEST);
	if (p != NULL) {
		if (!OSSL_PARAM_get_utf8_string_ptr(p, &s) ||
		    !p11_prov_set_md(ctx, s))
			return 0;
	}
	p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PAD_MODE);
	if (p != NULL && ctx->type == P11_PROV_RSA) {
		/* The token makes PKCS#1 v1.5 signatures and nothing else. */
		if (p->data_type == OSSL_PARAM_UTF8_STRING) {
			if (!OSSL_PARAM_get_utf8_string_ptr(p, &s) ||
			    strcmp(s, OSSL_PKEY_RSA_PAD_MODE_PKCSV15) != 0)
				goto badpad;
		} else if (!OSSL_PARAM_get_int(p, &pad) ||
		    pad != RSA_PKCS1_PADDING) {
			goto badpad;
		}
	}
	return 1;
badpad:
	ERR_raise_data(ERR_LIB_PROV, PROV_R_INVALID_PADDING_MODE,
	    "the token signs with PKCS#1 v1.5 padding only");
	return 0;
}

static int
p11_prov_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
	struct p11_prov_ctx *ctx = vctx;
	OSSL_PARAM *p;

	if (ctx == NULL)
		return 0;
	p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID);
	if (p != NULL && ctx->md != NULL) {
		if (ctx->type == P11_PROV_EC) {
			if (!OSSL_PARAM_set_octet_string(
			        p, ctx->md->ec_aid, ctx->md->ec_aid_len))
				return 0;
		} else if (!OSSL_PARAM_set_octet_string(
		               p, ctx->md->rsa_aid, ctx->md->rsa_aid_len)) {
			return 0;
		}
	}
	p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST);
	if (p != NULL && ctx->md != NULL &&
	    !OSSL_PARAM_set_utf8_string(p, ctx->md->name))
		return 0;
	p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST_SIZE);
	if (p != NULL && ctx->md != NULL &&
	    !OSSL_PARAM_set_size_t(p, ctx->md->size))
		return 0;
	p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PAD_MODE);
	if (p != NULL && ctx->type == P11_PROV_RSA) {
		if (p->data_type == OSSL_PARAM_UTF8_STRING) {
			if (!OSSL_PARAM_set_utf8_string(
			        p, OSSL_PKEY_RSA_PAD_MODE_PKCSV15))
				return 0;
		} else if (!OSSL_PARAM_set_int(p, RSA_PKCS1_PADDING)) {
			return 0;
		}
	}
	return 1;
}

static const OSSL_PARAM p11_prov_ec_ctx_gettable[] = {
    OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
    OSSL_PARAM_size_t(OSSL_SIGNATURE_PARAM_DIGEST_SIZE, NULL),
    OSSL_PARAM_END,
};

static const OSSL_PARAM p11_prov_rsa_ctx_gettable[] = {
    OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
    OSSL_PARAM_size_t(OSSL_SIGNATURE_PARAM_DIGEST_SIZE, NULL),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM p11_prov_ec_ctx_settable[] = {
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PROPERTIES, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM p11_prov_rsa_ctx_settable[] = {
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PROPERTIES, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *
p11_prov_ec_ctx_gettable_fn(void *vctx, void *provctx)
{
	(void)vctx;
	(void)provctx;
	return p11_prov_ec_ctx_gettable;
}

static const OSSL_PARAM *
p11_prov_rsa_ctx_gettable_fn(void *vctx, void *provctx)
{
	(void)vctx;
	(void)provctx;
	return p11_prov_rsa_ctx_gettable;
}

static const OSSL_PARAM *
p11_prov_ec_ctx_settable_fn(void *vctx, void *provctx)
{
	(void)vctx;
	(void)provctx;
	return p11_prov_ec_ctx_settable;
}

static const OSSL_PARAM *
p11_prov_rsa_ctx_settable_fn(void *vctx, void *provctx)
{
	(void)vctx;
	(void)provctx;
	return p11_prov_rsa_ctx_settable;
}

static int
p11_prov_op_init(struct p11_prov_ctx *ctx, void *provkey, bool verify,
    const OSSL_PARAM params[])
{
	struct p11_prov_key *kd = provkey;

	if (ctx == NULL || kd == NULL || kd->pub == NULL) {
		ERR_raise(ERR_LIB_PROV, PROV_R_MISSING_KEY);
		return 0;
	}
	if (kd->type != ctx->type) {
		ERR_raise(ERR_LIB_PROV,
		    PROV_R_OPERATION_NOT_SUPPORTED_FOR_THIS_KEYTYPE);
		return 0;
	}
	if (!verify && kd->fn == NULL) {
		ERR_raise(ERR_LIB_PROV, PROV_R_NOT_A_PRIVATE_KEY);
		return 0;
	}
	if (ctx->key != kd) {
		p11_prov_key_ref(kd);
		p11_prov_key_unref(ctx->key);
		ctx->key = kd;
	}
	ctx->verify = verify;
	ctx->digesting = false;
	ctx->md = NULL;
	return p11_prov_set_ctx_params(ctx, params);
}

static int
p11_prov_sign_init(void *vctx, void *provkey, const OSSL_PARAM params[])
{
	return p11_prov_op_init(vctx, provkey, false, params);
}

static int
p11_prov_verify_init(void *vctx, void *provkey, const OSSL_PARAM params[])
{
	return p11_prov_op_init(vctx, provkey, true, params);
}

/*
 * The digest a raw EVP_PKEY_sign() was given: the one set, or for ECDSA
 * (where it only names the length) the one of that length.
 */
static const struct p11_prov_md *
p11_prov_md_for(const struct p11_prov_ctx *ctx, size_t dlen)
{
	size_t i;

	if (ctx->md != NULL)
		return ctx->md->size == dlen ? ctx->md : NULL;
	if (ctx->type != P11_PROV_EC)
		return NULL;
	for (i = 0; i < P11_PROV_NMD; i++)
		if (p11_prov_mds[i].size == dlen)
			return &p11_prov_mds[i];
	return NULL;
}

/* Hand the digest to the callback: the only place a signature is made. */
static int
p11_prov_sign_dgst(struct p11_prov_ctx *ctx, const struct p11_prov_md *md,
    const unsigned char *dgst, size_t dlen, unsigned char *sig, size_t *siglen,
    size_t sigsize)
{
	struct p11_prov_key *kd = ctx->key;
	struct cs_err err;
	size_t n;
	enum cs_rc rc;

	n = sigsize < kd->sigmax ? sigsize : kd->sigmax;
	cs_err_clear(&err);
	rc = kd->fn(kd->arg, md->nid, dgst, dlen, sig, &n, &err);
	if (rc != CS_OK) {
		ERR_raise_data(ERR_LIB_USER, (int)rc, "token signer: %s",
		    err.msg[0] != '\0' ? err.msg : cs_rc_name(rc));
		return 0;
	}
	if (n == 0 || n > sigsize || n > kd->sigmax) {
		ERR_raise(ERR_LIB_PROV, PROV_R_INVALID_SIGNATURE_SIZE);
		return 0;
	}
	*siglen = n;
	return 1;
}

static int
p11_prov_sign(void *vctx, unsigned char *sig, size_t *siglen, size_t sigsize,
    const unsigned char *tbs, size_t tbslen)
{
	struct p11_prov_ctx *ctx = vctx;
	const struct p11_prov_md *md;

	if (ctx == NULL || ctx->key == NULL || ctx->verify) {
		ERR_raise(ERR_LIB_PROV, PROV_R_MISSING_KEY);
		return 0;
	}
	if (sig == NULL) {
		*siglen = ctx->key->sigmax;
		return 1;
	}
	md = p11_prov_md_for(ctx, tbslen);
	if (md == NULL) {
		ERR_raise(ERR_LIB_PROV, PROV_R_INVALID_DIGEST_LENGTH);
		return 0;
	}
	return p11_prov_sign_dgst(ctx, md, tbs, tbslen, sig, siglen, sigsize);
}

/* Check sig over the digest tbs with the plain public key. */
static int
p11_prov_verify(void *vctx, const unsigned char *sig, size_t siglen,
    const unsigned char *tbs, size_t tbslen)
{
	struct p11_prov_ctx *ctx = vctx;
	const struct p11_prov_md *md;
	EVP_PKEY_CTX *pctx = NULL;
	int ok = 0;

	if (ctx == NULL || ctx->key == NULL)
		return 0;
	md = p11_prov_md_for(ctx, tbslen);
	if (md == NULL) {
		ERR_raise(ERR_LIB_PROV, PROV_R_INVALID_DIGEST_LENGTH);
		return 0;
	}
	pctx = EVP_PKEY_CTX_new_from_pkey(
	    p11_prov.libctx, ctx->key->pub, "provider=default");
	if (pctx == NULL || EVP_PKEY_verify_init(pctx) <= 0 ||
	    EVP_PKEY_CTX_set_signature_md(pctx, p11_prov_md_obj(md)) <= 0)
		goto out;
	if (ctx->type == P11_PROV_RSA &&
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0)
		goto out;
	ok = EVP_PKEY_verify(pctx, sig, siglen, tbs, tbslen) == 1;
out:
	EVP_PKEY_CTX_free(pctx);
	return ok;
}

static int
p11_prov_digest_init(void *vctx, const char *mdname, void *provkey, bool verify,
    const OSSL_PARAM params[])
{
	struct p11_prov_ctx *ctx = vctx;

	if (!p11_prov_op_init(ctx, provkey, verify, params))
		return 0;
	if (mdname != NULL && mdname[0] != '\0') {
		if (!p11_prov_set_md(ctx, mdname))
			return 0;
	} else if (ctx->md == NULL) {
		ctx->md = p11_prov_md_default(ctx->key);
	}
	if (ctx->mdctx == NULL) {
		ctx->mdctx = EVP_MD_CTX_new();
		if (ctx->mdctx == NULL)
			return 0;
	}
	if (!EVP_DigestInit_ex(ctx->mdctx, p11_prov_md_obj(ctx->md), NULL))
		return 0;
	ctx->digesting = true;
	return 1;
}

static int
p11_prov_digest_sign_init(
    void *vctx, const char *mdname, void *provkey, const OSSL_PARAM params[])
{
	return p11_prov_digest_init(vctx, mdname, provkey, false, params);
}

static int
p11_prov_digest_verify_init(
    void *vctx, const char *mdname, void *provkey, const OSSL_PARAM params[])
{
	return p11_prov_digest_init(vctx, mdname, provkey, true, params);
}

static int
p11_prov_digest_update(void *vctx, const unsigned char *data, size_t len)
{
	struct p11_prov_ctx *ctx = vctx;

	if (ctx == NULL || !ctx->digesting)
		return 0;
	return EVP_DigestUpdate(ctx->mdctx, data, len);
}

static int
p11_prov_digest_sign_final(
    void *vctx, unsigned char *sig, size_t *siglen, size_t sigsize)
{
	struct p11_prov_ctx *ctx = vctx;
	unsigned char dgst[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;

	if (ctx == NULL || !ctx->digesting || ctx->verify)
		return 0;
	if (sig == NULL) {
		*siglen = ctx->key->sigmax;
		return 1;
	}
	if (!EVP_DigestFinal_ex(ctx->mdctx, dgst, &dlen))
		return 0;
	ctx->digesting = false;
	return p11_prov_sign_dgst(
	    ctx, ctx->md, dgst, dlen, sig, siglen, sigsize);
}

/* One-shot EVP_DigestSign(), as X509_sign() uses: no context copy. */
static int
p11_prov_digest_sign(void *vctx, unsigned char *sig, size_t *siglen,
    size_t sigsize, const unsigned char *tbs, size_t tbslen)
{
	struct p11_prov_ctx *ctx = vctx;

	if (ctx == NULL || !ctx->digesting || ctx->verify)
		return 0;
	if (sig == NULL) {
		*siglen = ctx->key->sigmax;
		return 1;
	}
	if (!EVP_DigestUpdate(ctx->mdctx, tbs, tbslen))
		return 0;
	return p11_prov_digest_sign_final(ctx, sig, siglen, sigsize);
}

static int
p11_prov_digest_verify_final(
    void *vctx, const unsigned char *sig, size_t siglen)
{
	struct p11_prov_ctx *ctx = vctx;
	unsigned char dgst[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;

	if (ctx == NULL || !ctx->digesting || !ctx->verify)
		return 0;
	if (!EVP_DigestFinal_ex(ctx->mdctx, dgst, &dlen))
		return 0;
	ctx->digesting = false;
	return p11_prov_verify(ctx, sig, siglen, dgst, dlen);
}

#define P11_PROV_FN(id, f)                                                     \
	{                                                                      \
		OSSL_FUNC_SIGNATURE_##id, (void (*)(void))(f)                  \
	}
#define P11_PROV_SIG_COMMON                                                    \
	P11_PROV_FN(FREECTX, p11_prov_freectx),                                \
	    P11_PROV_FN(DUPCTX, p11_prov_dupctx),                              \
	    P11_PROV_FN(SIGN_INIT, p11_prov_sign_init),                        \
	    P11_PROV_FN(SIGN, p11_prov_sign),                                  \
	    P11_PROV_FN(VERIFY_INIT, p11_prov_verify_init),                    \
	    P11_PROV_FN(VERIFY, p11_prov_verify),                              \
	    P11_PROV_FN(DIGEST_SIGN_INIT, p11_prov_digest_sign_init),          \
	    P11_PROV_FN(DIGEST_SIGN_UPDATE, p11_prov_digest_update),           \
	    P11_PROV_FN(DIGEST_SIGN_FINAL, p11_prov_digest_sign_final),        \
	    P11_PROV_FN(DIGEST_SIGN, p11_prov_digest_sign),                    \
	    P11_PROV_FN(DIGEST_VERIFY_INIT, p11_prov_digest_verify_init),      \
	    P11_PROV_FN(DIGEST_VERIFY_UPDATE, p11_prov_digest_update),         \
	    P11_PROV_FN(DIGEST_VERIFY_FINAL, p11_prov_digest_verify_final),    \
	    P11_PROV_FN(GET_CTX_PARAMS, p11_prov_get_ctx_params),              \
	    P11_PROV_FN(SET_CTX_PARAMS, p11_prov_set_ctx_params)

static const OSSL_DISPATCH p11_prov_ec_signature[] = {
    P11_PROV_FN(NEWCTX, p11_prov_ec_newctx),
    P11_PROV_SIG_COMMON,
    P11_PROV_FN(GETTABLE_CTX_PARAMS, p11_prov_ec_ctx_gettable_fn),
    P11_PROV_FN(SETTABLE_CTX_PARAMS, p11_prov_ec_ctx_settable_fn),
    {0, NULL},
};

static const OSSL_DISPATCH p11_prov_rsa_signature[] = {
    P11_PROV_FN(NEWCTX, p11_prov_rsa_newctx),
    P11_PROV_SIG_COMMON,
    P11_PROV_FN(GETTABLE_CTX_PARAMS, p11_prov_rsa_ctx_gettable_fn),
    P11_PROV_FN(SETTABLE_CTX_PARAMS, p11_prov_rsa_ctx_settable_fn),
    {0, NULL},
};

#undef P11_PROV_SIG_COMMON
#undef P11_PROV_FN

/* --- the provider ----------------------------------------------------------
 */

static const OSSL_ALGORITHM p11_prov_keymgmts[] = {
    {P11_PROV_NAMES_EC, P11_PROV_PROPS, p11_prov_ec_keymgmt,
        "certsvc token EC key"},
    {P11_PROV_NAMES_RSA, P11_PROV_PROPS, p11_prov_rsa_keymgmt,
        "certsvc token RSA key"},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM p11_prov_signatures[] = {
    {"ECDSA", P11_PROV_PROPS, p11_prov_ec_signature,
        "ECDSA by the certsvc token"},
    {P11_PROV_NAMES_RSA, P11_PROV_PROPS, p11_prov_rsa_signature,
        "RSA PKCS#1 v1.5 by the certsvc token"},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM *
p11_prov_query(void *provctx, int operation_id, int *no_cache)
{
	(void)provctx;
	*no_cache = 0;
	switch (operation_id) {
	case OSSL_OP_KEYMGMT:
		return p11_prov_keymgmts;
	case OSSL_OP_SIGNATURE:
		return p11_prov_signatures;
	}
	return NULL;
}

static const OSSL_DISPATCH p11_prov_dispatch[] = {
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))p11_prov_query},
    {0, NULL},
};

static int
p11_prov_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
    const OSSL_DISPATCH **out, void **provctx)
{
	(void)in;
	*out = p11_prov_dispatch;
	*provctx = (void *)handle;
	return 1;
}

static void
p11_prov_once(void)
{
	OSSL_LIB_CTX *libctx;
	size_t i;

	libctx = OSSL_LIB_CTX_new();
	if (libctx == NULL)
		return;
	if (!OSSL_PROVIDER_add_builtin(
	        libctx, P11_PROV_NAME, p11_prov_provider_init))
		goto fail;
	p11_prov.dflt = OSSL_PROVIDER_load(libctx, "default");
	if (p11_prov.dflt == NULL)
		goto fail;
	p11_prov.self = OSSL_PROVIDER_load(libctx, P11_PROV_NAME);
	if (p11_prov.self == NULL)
		goto fail;
	/* Inside our context too, everything but our keys is default's. */
	if (!EVP_set_default_properties(libctx, "?provider=default"))
		goto fail;
	for (i = 0; i < P11_PROV_NMD; i++) {
		p11_prov.md[i] = EVP_MD_fetch(
		    libctx, p11_prov_mds[i].name, "provider=default");
		if (p11_prov.md[i] == NULL)
			goto fail;
	}
	p11_prov.libctx = libctx;
	p11_prov.ok = true;
	return;
fail:
	for (i = 0; i < P11_PROV_NMD; i++) {
		EVP_MD_free(p11_prov.md[i]);
		p11_prov.md[i] = NULL;
	}
	if (p11_prov.self != NULL)
		OSSL_PROVIDER_unload(p11_prov.self);
	if (p11_prov.dflt != NULL)
		OSSL_PROVIDER_unload(p11_prov.dflt);
	p11_prov.self = p11_prov.dflt = NULL;
	OSSL_LIB_CTX_free(libctx);
}

static enum cs_rc
p11_prov_start(struct cs_err *err)
{
	if (pthread_once(&p11_prov.once, p11_prov_once) != 0 || !p11_prov.ok)
		return cs_err_ossl(
		    err, CS_ERR_CRYPTO, "cannot load the token provider");
	return CS_OK;
}

/* --- public ----------------------------------------------------------------
 */

enum cs_rc
p11_evp_from_signer(EVP_PKEY *pub, p11_sign_fn fn, void *arg,
    void (*arg_free)(void *), EVP_PKEY **out, struct cs_err *err)
{
	struct p11_prov_handoff h = {pub, fn, arg, NULL};
	struct p11_prov_handoff *hp = &h;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *pkey = NULL;
	OSSL_PARAM params[2];
	const char *type;
	enum cs_rc rc;

	*out = NULL;
	if (pub == NULL || fn == NULL)
		return cs_err_set(err, CS_ERR_INVALID,
		    "signer key needs a public key and a signer");
	if (EVP_PKEY_is_a(pub, "EC"))
		type = "EC";
	else if (EVP_PKEY_is_a(pub, "RSA"))
		type = "RSA";
	else
		return cs_err_set(err, CS_ERR_INVALID,
		    "signer key type '%s' is not supported",
		    EVP_PKEY_get0_type_name(pub));
	rc = p11_prov_start(err);
	if (rc != CS_OK)
		return rc;
	pctx =
	    EVP_PKEY_CTX_new_from_name(p11_prov.libctx, type, P11_PROV_PROPS);
	if (pctx == NULL || EVP_PKEY_fromdata_init(pctx) <= 0) {
		rc = cs_err_ossl(
		    err, CS_ERR_CRYPTO, "signer key: no key manager");
		goto out;
	}
	params[0] = OSSL_PARAM_construct_octet_string(
	    P11_PROV_PARAM_SIGNER, &hp, sizeof(hp));
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_KEYPAIR, params) <= 0 ||
	    h.made == NULL) {
		rc = cs_err_ossl(
		    err, CS_ERR_CRYPTO, "signer key: cannot make the key");
		goto out;
	}
	/* From here on the key owns arg. */
	h.made->arg_free = arg_free;
	*out = pkey;
	pkey = NULL;
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(pctx);
	return rc;
}

struct p11_prov_tok {
	struct p11_token *tok;
	char uri[P11_URI_MAX];
};

static enum cs_rc
p11_prov_tok_sign(void *arg, int md_nid, const unsigned char *dgst, size_t dlen,
    unsigned char *sig, size_t *siglen, struct cs_err *err)
{
	struct p11_prov_tok *t = arg;

	return p11_sign_digest(
	    t->tok, t->uri, md_nid, dgst, dlen, sig, siglen, err);
}

static void
p11_prov_tok_free(void *arg)
{
	/* A URI may name a pin-value: wipe it. */
	OPENSSL_clear_free(arg, sizeof(struct p11_prov_tok));
}

enum cs_rc
p11_key_get(
    struct p11_token *tok, const char *uri, EVP_PKEY **out, struct cs_err *err)
{
	struct p11_prov_tok *t = NULL;
	EVP_PKEY *pub = NULL, *pkey = NULL;
	enum cs_rc rc;

	*out = NULL;
	if (tok == NULL || uri == NULL)
		return cs_err_set(err, CS_ERR_INVALID, "key uri is missing");
	if (strlen(uri) >= sizeof(t->uri))
		return cs_err_set(err, CS_ERR_INVALID, "key uri is too long");
	rc = p11_key_public(tok, uri, &pub, err);
	if (rc != CS_OK)
		goto out;
	t = OPENSSL_zalloc(sizeof(*t));
	if (t == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	t->tok = tok;
	memcpy(t->uri, uri, strlen(uri) + 1);
	rc = p11_evp_from_signer(
	    pub, p11_prov_tok_sign, t, p11_prov_tok_free, &pkey, err);
	if (rc != CS_OK)
		goto out;
	t = NULL; /* pkey owns it */
	*out = pkey;
	pkey = NULL;
out:
	if (t != NULL)
		p11_prov_tok_free(t);
	EVP_PKEY_free(pkey);
	EVP_PKEY_free(pub);
	return rc;
}
