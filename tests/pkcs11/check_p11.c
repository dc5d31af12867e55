/*
 * check_p11.c: the token layer against a real SoftHSM2 token: opening
 * (and every way it fails), key generation with the exact attributes the
 * keys must carry, listing, public keys, and signatures that OpenSSL
 * verifies with the exported public key.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

#include "certsvc/err.h"
#include "certsvc/mem.h"
#include "pkcs11/p11.h"
#include "pkcs11/p11_int.h"
#include "tests/testutil.h"

#define LABEL "certsvc-test"

static struct testutil_token tt;
static struct p11_token *tok;

static enum cs_rc
pin_arg_fn(void *arg, char *pin, size_t pinsz, struct cs_err *err)
{
	if (!cs_strlcpy(pin, arg, pinsz))
		return cs_err_set(err, CS_ERR_INVALID, "pin too long");
	return CS_OK;
}

static enum cs_rc
open_token(const char *label, p11_pin_fn fn, void *arg, struct p11_token **out,
    struct cs_err *err)
{
	struct p11_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.module = tt.module;
	cfg.token_label = label;
	cfg.pool_size = 4;
	cfg.timeout_ms = 2000;
	cfg.pin_fn = fn;
	cfg.pin_arg = arg;
	return p11_token_open(&cfg, out, err);
}

static void
setup(void)
{
	struct cs_err err;

	testutil_softhsm(&tt, LABEL);
	cs_err_clear(&err);
	if (open_token(LABEL, testutil_pin_fn, NULL, &tok, &err) != CS_OK)
		ck_abort_msg("open: %s", err.msg);
}

static void
teardown(void)
{
	p11_token_free(tok);
	tok = NULL;
	testutil_softhsm_remove(&tt);
}

static void
setup_bare(void)
{
	testutil_softhsm(&tt, LABEL);
}

static void
teardown_bare(void)
{
	testutil_softhsm_remove(&tt);
}

static void
digest(int md_nid, const char *msg, unsigned char *out, size_t *outlen)
{
	unsigned int n = 0;

	ck_assert_int_eq(EVP_Digest(msg, strlen(msg), out, &n,
	                     EVP_get_digestbynid(md_nid), NULL),
	    1);
	*outlen = n;
}

/* 1 when sig verifies over dgst with pub, 0 when it does not. */
static int
verify(EVP_PKEY *pub, int md_nid, const unsigned char *dgst, size_t dlen,
    const unsigned char *sig, size_t siglen)
{
	EVP_PKEY_CTX *ctx;
	int ok;

	ctx = EVP_PKEY_CTX_new(pub, NULL);
	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(EVP_PKEY_verify_init(ctx), 1);
	if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA)
		ck_assert_int_gt(
		    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 0);
	ck_assert_int_gt(
	    EVP_PKEY_CTX_set_signature_md(ctx, EVP_get_digestbynid(md_nid)), 0);
	ok = EVP_PKEY_verify(ctx, sig, siglen, dgst, dlen);
	EVP_PKEY_CTX_free(ctx);
	return ok == 1;
}

static void
sign_and_verify(const char *uri, int md_nid)
{
	unsigned char dgst[64], sig[1024];
	size_t dlen, siglen = sizeof(sig);
	EVP_PKEY *pub = NULL;
	struct cs_err err;

	digest(md_nid, "licence 42", dgst, &dlen);
	ck_assert_int_eq(p11_key_public(tok, uri, &pub, &err), CS_OK);
	ck_assert_int_eq(
	    p11_sign_digest(tok, uri, md_nid, dgst, dlen, sig, &siglen, &err),
	    CS_OK);
	ck_assert_msg(verify(pub, md_nid, dgst, dlen, sig, siglen),
	    "signature does not verify");
	dgst[0] ^= 1;
	ck_assert(!verify(pub, md_nid, dgst, dlen, sig, siglen));
	EVP_PKEY_free(pub);
}

/* --- opening ------------------------------------------------------------ */

START_TEST(open_describes_token)
{
	struct p11_token_status st;
	struct p11_stats stats;
	struct cs_err err;

	ck_assert_int_eq(p11_token_info(tok, &st, &err), CS_OK);
	ck_assert_str_eq(st.label, LABEL);
	ck_assert(st.present);
	ck_assert(st.logged_in);
	ck_assert_uint_eq(st.pool_size, 4);
	ck_assert_uint_eq(st.pool_idle, 4);
	ck_assert_str_eq(st.manufacturer, "SoftHSM project");
	ck_assert_uint_gt(strlen(st.serial), 0);
	ck_assert_uint_gt(strlen(st.library), 0);
	ck_assert(p11_token_ready(tok));
	p11_stats_get(tok, &stats);
	ck_assert_uint_eq(stats.signs, 0);
	ck_assert_uint_eq(stats.recoveries, 0);
}
END_TEST

START_TEST(open_wrong_pin_fails)
{
	struct p11_token *t2 = NULL;
	struct cs_err err;

	cs_err_clear(&err);
	ck_assert_int_eq(
	    open_token(LABEL, testutil_bad_pin_fn, NULL, &t2, &err),
	    CS_ERR_TOKEN);
	ck_assert_ptr_null(t2);
	ck_assert_ptr_nonnull(strstr(err.msg, "login failed"));
	ck_assert_ptr_nonnull(strstr(err.msg, "CKR_PIN_INCORRECT"));
	ck_assert_ptr_null(strstr(err.msg, "0000"));
	/* The right PIN still works: nothing was locked. */
	ck_assert_int_eq(
	    open_token(LABEL, testutil_pin_fn, NULL, &t2, &err), CS_OK);
	p11_token_free(t2);
}
END_TEST

START_TEST(open_unknown_label_fails)
{
	struct p11_token *t2 = NULL;
	struct cs_err err;

	ck_assert_int_eq(
	    open_token("nope", testutil_pin_fn, NULL, &t2, &err), CS_ERR_TOKEN);
	ck_assert_ptr_null(t2);
	ck_assert_str_eq(err.msg, "token 'nope' not found");
}
END_TEST

START_TEST(open_bad_module_fails)
{
	struct p11_config cfg;
	struct p11_token *t2 = NULL;
	struct cs_err err;

	memset(&cfg, 0, sizeof(cfg));
	cfg.module = "/nonexistent/libnothing.so";
	cfg.token_label = LABEL;
	cfg.pin_fn = testutil_pin_fn;
	ck_assert_int_eq(p11_token_open(&cfg, &t2, &err), CS_ERR_TOKEN);
	ck_assert_ptr_nonnull(strstr(err.msg, "cannot load pkcs11 module"));
	cfg.module = "/usr/lib/x86_64-linux-gnu/libc.so.6";
	if (access(cfg.module, R_OK) == 0) {
		ck_assert_int_eq(p11_token_open(&cfg, &t2, &err), CS_ERR_TOKEN);
		ck_assert_ptr_nonnull(strstr(err.msg, "C_GetFunctionList"));
	}
}
END_TEST

START_TEST(open_rejects_bad_config)
{
	struct p11_config cfg;
	struct p11_token *t2 = NULL;
	struct cs_err err;

	memset(&cfg, 0, sizeof(cfg));
	cfg.module = tt.module;
	cfg.token_label = "a-label-that-is-longer-than-32-bytes";
	cfg.pin_fn = testutil_pin_fn;
	ck_assert_int_eq(p11_token_open(&cfg, &t2, &err), CS_ERR_INVALID);
	cfg.token_label = LABEL;
	cfg.pin_fn = NULL;
	ck_assert_int_eq(p11_token_open(&cfg, &t2, &err), CS_ERR_INVALID);
	cfg.pin_fn = testutil_pin_fn;
	cfg.module = NULL;
	ck_assert_int_eq(p11_token_open(&cfg, &t2, &err), CS_ERR_INVALID);
	ck_assert_ptr_null(t2);
}
END_TEST

START_TEST(open_twice_shares_module)
{
	char uri[P11_URI_MAX];
	struct p11_token *t2 = NULL;
	struct cs_err err;

	ck_assert_int_eq(
	    p11_key_generate(tok, P11_ALG_P256, "k", uri, sizeof(uri), &err),
	    CS_OK);
	ck_assert_int_eq(
	    open_token(LABEL, testutil_pin_fn, NULL, &t2, &err), CS_OK);
	sign_and_verify(uri, NID_sha256);
	p11_token_free(t2); /* must not finalise the module under tok */
	sign_and_verify(uri, NID_sha256);
	/* Close the last one and open again: the module is initialised anew. */
	p11_token_free(tok);
	tok = NULL;
	ck_assert_int_eq(
	    open_token(LABEL, testutil_pin_fn, NULL, &tok, &err), CS_OK);
	sign_and_verify(uri, NID_sha256);
}
END_TEST

START_TEST(token_init_and_exists)
{
	struct p11_token *t2 = NULL;
	struct cs_err err;

	ck_assert(p11_token_exists(tt.module, LABEL));
	ck_assert(!p11_token_exists(tt.module, "second"));
	ck_assert(!p11_token_exists("/nonexistent.so", LABEL));
	ck_assert_int_eq(
	    p11_token_init(tt.module, "second", "87654321", "4321", &err),
	    CS_OK);
	ck_assert(p11_token_exists(tt.module, "second"));
	ck_assert_int_eq(
	    p11_token_init(tt.module, "second", "87654321", "4321", &err),
	    CS_ERR_CONFLICT);
	ck_assert_str_eq(err.msg, "token 'second' exists already");
	ck_assert_int_eq(
	    p11_token_init(tt.module, LABEL, "87654321", "4321", &err),
	    CS_ERR_CONFLICT);
	ck_assert_int_eq(
	    p11_token_init(tt.module, "a-label-that-is-longer-than-32-bytes",
	        "1", "2", &err),
	    CS_ERR_INVALID);
	ck_assert_int_eq(
	    p11_token_init(tt.module, "third", "", "2", &err), CS_ERR_INVALID);
	ck_assert_int_eq(
	    open_token("second", pin_arg_fn, "4321", &t2, &err), CS_OK);
	ck_assert(p11_token_ready(t2));
	p11_token_free(t2);
	t2 = NULL;
	ck_assert_int_eq(
	    open_token("second", pin_arg_fn, "1234", &t2, &err), CS_ERR_TOKEN);
}
END_TEST

START_TEST(alg_names)
{
	enum p11_alg alg;

	ck_assert(p11_alg_parse("p256", &alg));
	ck_assert_int_eq(alg, P11_ALG_P256);
	ck_assert(p11_alg_parse("p384", &alg));
	ck_assert_int_eq(alg, P11_ALG_P384);
	ck_assert(p11_alg_parse("rsa3072", &alg));
	ck_assert_int_eq(alg, P11_ALG_RSA3072);
	ck_assert(!p11_alg_parse("rsa2048", &alg));
	ck_assert(!p11_alg_parse("", &alg));
	ck_assert(!p11_alg_parse(NULL, &alg));
	ck_assert_str_eq(p11_alg_name(P11_ALG_P256), "p256");
	ck_assert_str_eq(p11_alg_name(P11_ALG_P384), "p384");
	ck_assert_str_eq(p11_alg_name(P11_ALG_RSA3072), "rsa3072");
}
END_TEST

/* --- key generation ------------------------------------------------------ */

static const enum p11_alg gen_algs[] = {
    P11_ALG_P256, P11_ALG_P384, P11_ALG_RSA3072};

/* Read CK_BBOOL/ulong attributes of the object of class cls and label. */
static CK_OBJECT_HANDLE
raw_find(CK_SESSION_HANDLE h, CK_OBJECT_CLASS cls, const char *label)
{
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_LABEL, (void *)label, strlen(label)},
	};
	CK_OBJECT_HANDLE obj[2];
	CK_ULONG n = 0;

	ck_assert_int_eq(tok->f->C_FindObjectsInit(h, t, 2), CKR_OK);
	ck_assert_int_eq(tok->f->C_FindObjects(h, obj, 2, &n), CKR_OK);
	ck_assert_int_eq(tok->f->C_FindObjectsFinal(h), CKR_OK);
	ck_assert_uint_eq(n, 1);
	return obj[0];
}

static bool
raw_bool(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type)
{
	CK_BBOOL v = 2;
	CK_ATTRIBUTE a = {type, &v, sizeof(v)};

	ck_assert_int_eq(tok->f->C_GetAttributeValue(h, obj, &a, 1), CKR_OK);
	ck_assert(v == CK_TRUE || v == CK_FALSE);
	return v == CK_TRUE;
}

static void
raw_check(const char *label, enum p11_alg alg, const struct p11_uri *u)
{
	static const unsigned char p256[] = {
	    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
	static const unsigned char p384[] = {
	    0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
	unsigned char id[64], id2[64], buf[64];
	CK_ULONG bits = 0;
	CK_KEY_TYPE kt = 0;
	CK_ATTRIBUTE a;
	CK_OBJECT_HANDLE priv, pub;
	struct p11_sess *s;
	CK_SESSION_HANDLE h;

	ck_assert_int_eq(
	    p11_pool_checkout(tok, p11_deadline(tok), &s, NULL), CS_OK);
	h = s->h;
	priv = raw_find(h, CKO_PRIVATE_KEY, label);
	ck_assert(raw_bool(h, priv, CKA_TOKEN));
	ck_assert(raw_bool(h, priv, CKA_PRIVATE));
	ck_assert(raw_bool(h, priv, CKA_SENSITIVE));
	ck_assert(!raw_bool(h, priv, CKA_EXTRACTABLE));
	ck_assert(raw_bool(h, priv, CKA_SIGN));
	ck_assert(raw_bool(h, priv, CKA_ALWAYS_SENSITIVE));
	ck_assert(raw_bool(h, priv, CKA_NEVER_EXTRACTABLE));
	ck_assert(!raw_bool(h, priv, CKA_DECRYPT));
	a = (CK_ATTRIBUTE){CKA_KEY_TYPE, &kt, sizeof(kt)};
	ck_assert_int_eq(tok->f->C_GetAttributeValue(h, priv, &a, 1), CKR_OK);
	ck_assert_uint_eq(kt, alg == P11_ALG_RSA3072 ? CKK_RSA : CKK_EC);
	a = (CK_ATTRIBUTE){CKA_ID, id, sizeof(id)};
	ck_assert_int_eq(tok->f->C_GetAttributeValue(h, priv, &a, 1), CKR_OK);
	ck_assert_uint_eq(a.ulValueLen, 16);
	ck_assert_uint_eq(u->id_len, 16);
	ck_assert_mem_eq(id, u->id, 16);
	/* The private value cannot be read. */
	a = (CK_ATTRIBUTE){
	    alg == P11_ALG_RSA3072 ? CKA_PRIVATE_EXPONENT : CKA_VALUE, buf,
	    sizeof(buf)};
	ck_assert_int_eq(tok->f->C_GetAttributeValue(h, priv, &a, 1),
	    CKR_ATTRIBUTE_SENSITIVE);

	pub = raw_find(h, CKO_PUBLIC_KEY, label);
	ck_assert(raw_bool(h, pub, CKA_TOKEN));
	ck_assert(raw_bool(h, pub, CKA_VERIFY));
	a = (CK_ATTRIBUTE){CKA_ID, id2, sizeof(id2)};
	ck_assert_int_eq(tok->f->C_GetAttributeValue(h, pub, &a, 1), CKR_OK);
	ck_assert_uint_eq(a.ulValueLen, 16);
	ck_assert_mem_eq(id, id2, 16);
	if (alg == P11_ALG_RSA3072) {
		a = (CK_ATTRIBUTE){CKA_MODULUS_BITS, &bits, sizeof(bits)};
		ck_assert_int_eq(
		    tok->f->C_GetAttributeValue(h, pub, &a, 1), CKR_OK);
		ck_assert_uint_eq(bits, 3072);
		a = (CK_ATTRIBUTE){CKA_PUBLIC_EXPONENT, buf, sizeof(buf)};
		ck_assert_int_eq(
		    tok->f->C_GetAttributeValue(h, pub, &a, 1), CKR_OK);
		ck_assert_uint_eq(a.ulValueLen, 3);
		ck_assert_mem_eq(buf, "\x01\x00\x01", 3);
	} else {
		a = (CK_ATTRIBUTE){CKA_EC_PARAMS, buf, sizeof(buf)};
		ck_assert_int_eq(
		    tok->f->C_GetAttributeValue(h, pub, &a, 1), CKR_OK);
		if (alg == P11_ALG_P256) {
			ck_assert_uint_eq(a.ulValueLen, sizeof(p256));
			ck_assert_mem_eq(buf, p256, sizeof(p256));
		} else {
			ck_assert_uint_eq(a.ulValueLen, sizeof(p384));
			ck_assert_mem_eq(buf, p384, sizeof(p384));
		}
	}
	p11_pool_checkin(tok, s);
}

START_TEST(generate_has_exact_attributes)
{
	enum p11_alg alg = gen_algs[_i];
	char uri[P11_URI_MAX], label[32];
	struct p11_key_info info;
	struct p11_uri u;
	EVP_PKEY *pub = NULL;
	struct cs_err err;

	snprintf(label, sizeof(label), "key-%s", p11_alg_name(alg));
	cs_err_clear(&err);
	ck_assert_msg(
	    p11_key_generate(tok, alg, label, uri, sizeof(uri), &err) == CS_OK,
	    "generate: %s", err.msg);
	ck_assert_int_eq(p11_uri_parse(uri, &u, NULL), CS_OK);
	ck_assert_str_eq(u.token, LABEL);
	ck_assert_str_eq(u.object, label);
	ck_assert_int_eq(u.type, P11_URI_PRIVATE);
	raw_check(label, alg, &u);

	ck_assert_int_eq(p11_key_info(tok, uri, &info, &err), CS_OK);
	ck_assert_str_eq(info.label, label);
	ck_assert_str_eq(info.uri, uri);
	ck_assert_int_eq(info.alg, alg);
	ck_assert(info.sensitive);
	ck_assert(!info.extractable);
	ck_assert(info.always_sensitive);
	ck_assert(info.never_extractable);

	ck_assert_int_eq(p11_key_public(tok, uri, &pub, &err), CS_OK);
	switch (alg) {
	case P11_ALG_P256:
		ck_assert_int_eq(EVP_PKEY_get_base_id(pub), EVP_PKEY_EC);
		ck_assert_int_eq(EVP_PKEY_get_bits(pub), 256);
		break;
	case P11_ALG_P384:
		ck_assert_int_eq(EVP_PKEY_get_base_id(pub), EVP_PKEY_EC);
		ck_assert_int_eq(EVP_PKEY_get_bits(pub), 384);
		break;
	case P11_ALG_RSA3072:
		ck_assert_int_eq(EVP_PKEY_get_base_id(pub), EVP_PKEY_RSA);
		ck_assert_int_eq(EVP_PKEY_get_bits(pub), 3072);
		break;
	}
	EVP_PKEY_free(pub);

	sign_and_verify(uri, NID_sha256);
	sign_and_verify(uri, NID_sha384);
	sign_and_verify(uri, NID_sha512);
}
END_TEST

START_TEST(generate_duplicate_label_conflicts)
{
	char uri[P11_URI_MAX];
	struct cs_err err;

	ck_assert_int_eq(
	    p11_key_generate(tok, P11_ALG_P256, "dup", uri, sizeof(uri), &err),
	    CS_OK);
	ck_assert_int_eq(
	    p11_key_generate(tok, P11_ALG_P256, "dup", uri, sizeof(uri), &err),
	    CS_ERR_CONFLICT);
	ck_assert_str_eq(err.msg, "key 'dup' exists already");
	ck_assert_str_eq(uri, "");
	ck_assert_int_eq(
	    p11_key_generate(tok, P11_ALG_P384, "dup", uri, sizeof(uri), &err),
	    CS_ERR_CONFLICT);
}
END_TEST

START_TEST(generate_rejects_bad_input)
{
	char uri[P11_URI_MAX], longl[P11_LABEL_MAX + 1];
	struct cs_err err;

	memset(longl, 'x', sizeof(longl) - 1);
	longl[sizeof(longl) - 1] = '\0';
	ck_assert_int_eq(
	    p11_key_generate(tok, P11_ALG_P256, "", uri, sizeof(uri), &err),
	    CS_ERR_INVALID);
	ck_assert_int_eq(
	    p11_key_generate(tok, P11_ALG_P256, "a\nb", uri, sizeof(uri), &err),
	    CS_ERR_INVALID);
	ck_assert_int_eq(
	    p11_key_generate(tok, P11_ALG_P256, longl, uri, sizeof(uri), &err),
	    CS_ERR_INVALID);
	ck_assert_int_eq(p11_key_generate(tok, (enum p11_alg)99, "a", uri,
	                     sizeof(uri), &err),
	    CS_ERR_INVALID);
	ck_assert_int_eq(
	    p11_key_generate(tok, P11_ALG_P256, "a", uri, 16, &err),
	    CS_ERR_INVALID);
	longl[P11_LABEL_MAX - 1] = '\0'; /* the longest label that fits */
	ck_assert_int_eq(
	    p11_key_generate(tok, P11_ALG_P256, longl, uri, sizeof(uri), &err),
	    CS_OK);
	sign_and_verify(uri, NID_sha256);
}
END_TEST

START_TEST(list_keys)
{
	char a[P11_URI_MAX], b[P11_URI_MAX];
	struct p11_key_info *keys = NULL;
	size_t n = 99, i;
	struct cs_err err;
	bool seen_a = false, seen_b = false;

	ck_assert_int_eq(p11_key_list(tok, &keys, &n, &err), CS_OK);
	ck_assert_uint_eq(n, 0);
	free(keys);
	ck_assert_int_eq(
	    p11_key_generate(tok, P11_ALG_P256, "seal a", a, sizeof(a), &err),
	    CS_OK);
	ck_assert_int_eq(
	    p11_key_generate(tok, P11_ALG_P384, "seal/b", b, sizeof(b), &err),
	    CS_OK);
	ck_assert_int_eq(p11_key_list(tok, &keys, &n, &err), CS_OK);
	ck_assert_uint_eq(n, 2);
	for (i = 0; i < n; i++) {
		ck_assert(keys[i].sensitive && !keys[i].extractable);
		if (strcmp(keys[i].label, "seal a") == 0) {
			ck_assert_str_eq(keys[i].uri, a);
			ck_assert_int_eq(keys[i].alg, P11_ALG_P256);
			seen_a = true;
		} else if (strcmp(keys[i].label, "seal/b") == 0) {
			ck_assert_str_eq(keys[i].uri, b);
			ck_assert_int_eq(keys[i].alg, P11_ALG_P384);
			seen_b = true;
		}
	}
	ck_assert(seen_a && seen_b);
	free(keys);
}
END_TEST

/* --- signing and lookup errors ------------------------------------------ */

START_TEST(sign_rejects_bad_digest)
{
	char uri[P11_URI_MAX];
	unsigned char dgst[64] = {0}, sig[1024];
	size_t siglen = sizeof(sig);
	struct p11_stats st;
	struct cs_err err;

	ck_assert_int_eq(
	    p11_key_generate(tok, P11_ALG_P256, "k", uri, sizeof(uri), &err),
	    CS_OK);
	ck_assert_int_eq(
	    p11_sign_digest(tok, uri, NID_sha256, dgst, 31, sig, &siglen, &err),
	    CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, "digest length 31 does not match SHA256");
	ck_assert_int_eq(
	    p11_sign_digest(tok, uri, NID_sha384, dgst, 32, sig, &siglen, &err),
	    CS_ERR_INVALID);
	ck_assert_int_eq(
	    p11_sign_digest(tok, uri, NID_sha1, dgst, 20, sig, &siglen, &err),
	    CS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "unsupported digest"));
	ck_assert_int_eq(
	    p11_sign_digest(tok, uri, NID_sha256, NULL, 32, sig, &siglen, &err),
	    CS_ERR_INVALID);
	siglen = 8;
	ck_assert_int_eq(
	    p11_sign_digest(tok, uri, NID_sha256, dgst, 32, sig, &siglen, &err),
	    CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, "signature buffer too small");
	siglen = sizeof(sig);
	ck_assert_int_eq(
	    p11_sign_digest(tok, uri, NID_sha256, dgst, 32, sig, &siglen, &err),
	    CS_OK);
	p11_stats_get(tok, &st);
	ck_assert_uint_eq(st.signs, 1);
	ck_assert_uint_eq(st.sign_failures, 5);
	ck_assert_uint_gt(st.sign_ns, 0);
}
END_TEST

START_TEST(unknown_key_not_found)
{
	const char *uri = "pkcs11:token=" LABEL ";object=nope;type=private";
	unsigned char dgst[32] = {0}, sig[256];
	size_t siglen = sizeof(sig);
	struct p11_key_info info;
	EVP_PKEY *pub = NULL;
	struct cs_err err;

	ck_assert_int_eq(
	    p11_sign_digest(tok, uri, NID_sha256, dgst, 32, sig, &siglen, &err),
	    CS_ERR_NOT_FOUND);
	ck_assert_str_eq(err.msg, "key 'nope' not found");
	ck_assert_int_eq(
	    p11_key_public(tok, uri, &pub, &err), CS_ERR_NOT_FOUND);
	ck_assert_ptr_null(pub);
	ck_assert_int_eq(p11_key_info(tok, uri, &info, &err), CS_ERR_NOT_FOUND);
	ck_assert_int_eq(p11_sign_digest(tok, "pkcs11:id=%01%02", NID_sha256,
	                     dgst, 32, sig, &siglen, &err),
	    CS_ERR_NOT_FOUND);
	ck_assert_str_eq(err.msg, "key not found");
	/* Another token's key is not ours. */
	ck_assert_int_eq(p11_sign_digest(tok, "pkcs11:token=other;object=k",
	                     NID_sha256, dgst, 32, sig, &siglen, &err),
	    CS_ERR_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(err.msg, "'other'"));
}
END_TEST

START_TEST(bad_uris_invalid)
{
	char uri[P11_URI_MAX], pubu[P11_URI_MAX];
	unsigned char dgst[32] = {0}, sig[256];
	size_t siglen = sizeof(sig);
	struct p11_key_info info;
	EVP_PKEY *pub = NULL;
	struct p11_uri u;
	struct cs_err err;

	ck_assert_int_eq(p11_sign_digest(tok, "file:///etc/passwd", NID_sha256,
	                     dgst, 32, sig, &siglen, &err),
	    CS_ERR_INVALID);
	ck_assert_int_eq(p11_sign_digest(tok, "pkcs11:type=private", NID_sha256,
	                     dgst, 32, sig, &siglen, &err),
	    CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, "pkcs11 uri: names no object or id");
	ck_assert_int_eq(
	    p11_key_public(tok, "pkcs11:object=a?pin-value=1", &pub, &err),
	    CS_ERR_INVALID);
	ck_assert_int_eq(
	    p11_key_info(tok, "pkcs11:object=%", &info, &err), CS_ERR_INVALID);

	/* A public key URI exports its key but cannot sign. */
	ck_assert_int_eq(
	    p11_key_generate(tok, P11_ALG_P256, "k", uri, sizeof(uri), &err),
	    CS_OK);
	ck_assert_int_eq(p11_uri_parse(uri, &u, NULL), CS_OK);
	u.type = P11_URI_PUBLIC;
	ck_assert_int_eq(p11_uri_format(&u, pubu, sizeof(pubu), NULL), CS_OK);
	ck_assert_int_eq(p11_sign_digest(tok, pubu, NID_sha256, dgst, 32, sig,
	                     &siglen, &err),
	    CS_ERR_INVALID);
	ck_assert_int_eq(p11_key_public(tok, pubu, &pub, &err), CS_OK);
	EVP_PKEY_free(pub);
}
END_TEST

START_TEST(sign_by_label_or_id_alone)
{
	char uri[P11_URI_MAX], alt[P11_URI_MAX];
	struct p11_uri u, v;

	ck_assert_int_eq(p11_key_generate(tok, P11_ALG_RSA3072, "rsa", uri,
	                     sizeof(uri), NULL),
	    CS_OK);
	ck_assert_int_eq(p11_uri_parse(uri, &u, NULL), CS_OK);
	memset(&v, 0, sizeof(v));
	v.has_object = true;
	cs_strlcpy(v.object, u.object, sizeof(v.object));
	ck_assert_int_eq(p11_uri_format(&v, alt, sizeof(alt), NULL), CS_OK);
	sign_and_verify(alt, NID_sha256);
	memset(&v, 0, sizeof(v));
	v.has_id = true;
	memcpy(v.id, u.id, u.id_len);
	v.id_len = u.id_len;
	ck_assert_int_eq(p11_uri_format(&v, alt, sizeof(alt), NULL), CS_OK);
	sign_and_verify(alt, NID_sha384);
}
END_TEST

START_TEST(sign_refused_by_token_fails_at_once)
{
	static const unsigned char p256[] = {
	    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
	CK_ATTRIBUTE pubt[] = {
	    {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_EC_PARAMS, (void *)p256, sizeof(p256)},
	    {CKA_LABEL, "nosign", 6},
	};
	CK_ATTRIBUTE privt[] = {
	    {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_PRIVATE, &yes, sizeof(yes)},
	    {CKA_SIGN, &no, sizeof(no)},
	    {CKA_LABEL, "nosign", 6},
	};
	CK_OBJECT_HANDLE pub, priv;
	unsigned char dgst[32] = {0}, sig[256];
	size_t siglen = sizeof(sig);
	struct p11_sess *s;
	struct cs_err err;
	uint64_t t0;

	/* A key the token will not sign with, made behind the layer's back. */
	ck_assert_int_eq(
	    p11_pool_checkout(tok, p11_deadline(tok), &s, NULL), CS_OK);
	ck_assert_int_eq(tok->f->C_GenerateKeyPair(
	                     s->h, &mech, pubt, 3, privt, 4, &pub, &priv),
	    CKR_OK);
	p11_pool_checkin(tok, s);
	t0 = cs_now_ns();
	ck_assert_int_eq(p11_sign_digest(tok, "pkcs11:object=nosign",
	                     NID_sha256, dgst, 32, sig, &siglen, &err),
	    CS_ERR_CRYPTO);
	ck_assert_uint_lt(cs_now_ns() - t0, 100000000ULL);
	ck_assert_str_eq(
	    err.msg, "token sign failed: CKR_KEY_FUNCTION_NOT_PERMITTED");
}
END_TEST

static Suite *
p11_suite(void)
{
	Suite *s = suite_create("p11");
	TCase *tc;

	tc = tcase_create("open");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, open_describes_token);
	tcase_add_test(tc, open_bad_module_fails);
	tcase_add_test(tc, open_rejects_bad_config);
	tcase_add_test(tc, open_twice_shares_module);
	suite_add_tcase(s, tc);

	tc = tcase_create("init");
	tcase_add_checked_fixture(tc, setup_bare, teardown_bare);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, token_init_and_exists);
	tcase_add_test(tc, open_wrong_pin_fails);
	tcase_add_test(tc, open_unknown_label_fails);
	tcase_add_test(tc, alg_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("keys");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, generate_has_exact_attributes, 0,
	    (int)(sizeof(gen_algs) / sizeof(gen_algs[0])));
	tcase_add_test(tc, generate_duplicate_label_conflicts);
	tcase_add_test(tc, generate_rejects_bad_input);
	tcase_add_test(tc, list_keys);
	suite_add_tcase(s, tc);

	tc = tcase_create("sign");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, sign_rejects_bad_digest);
	tcase_add_test(tc, unknown_key_not_found);
	tcase_add_test(tc, bad_uris_invalid);
	tcase_add_test(tc, sign_by_label_or_id_alone);
	tcase_add_test(tc, sign_refused_by_token_fails_at_once);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(p11_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
