/*
 * check_statuslist.c: certsvc/statuslist.c and store_sqlite_slist.c.
 * The byte array and its encoding against the test vectors of
 * draft-ietf-oauth-status-list, the Status List Token checked the way an
 * independent verifier would (its own base64url, jansson, the signature's
 * r||s turned back into DER for OpenSSL), the state mapping, and lists
 * built, signed and served from a real store (statuses changed with raw
 * SQL, as any process could).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sqlite3.h>

#include "certsvc/licence.h"
#include "certsvc/mem.h"
#include "certsvc/statuslist.h"
#include "certsvc/store.h"
#include "certsvc/store_test.h"
#include "certsvc/svc.h"
#include "crypto/crypto.h"
#include "tests/certfix.h"
#include "tests/testutil.h"

/* --- draft-ietf-oauth-status-list, section 4.1 and appendix (vectors) --- */

#define LONG_SIZE (1u << 20)
static const char LONG1_LST[] =
    "eNrt3AENwCAMAEGogklACtKQPg9LugC9k_ACvreiogEAAKkeCQAAAAAAAAAAAAAAAAAAAIBy"
    "lgQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAXG9IAAAAAAAAAPws"
    "JAAAAAAAAAAAAAAAvhsSAAAAAAAAAAAA7KpLAAAAAAAAAAAAAAAAAAAAAJsLCQAAAAAAAAAA"
    "ADjelAAAAAAAAAAAKjDMAQAAAACAZC8L2AEb";
static const char LONG2_LST[] =
    "eNrt2zENACEQAEEuoaBABP5VIO01fCjIHTMStt9ovGVIAAAAAABAbiEBAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAEB5WwIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAI"
    "D0ugQAAAAAAAAAAAAAAAAAQG12SgAAAAAAAAAAAAAAAAAAAAAAAAAAAOCSIQEAAAAAAAAA"
    "AAAAAAAAAAAAAAD8ExIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAwJEuAQAAAA"
    "AAAAAAAAAAAAAAAAAAAMB9SwIAAAAAAAAAAAAAAAAAAACoYUoAAAAAAAAAAAAAAEBqH81g"
    "AQw";
static const struct {
	uint64_t idx;
	unsigned v1, v2; /* value in the 1-bit and in the 2-bit example */
} long_entries[] = {
    {0, 1, 1},
    {1993, 1, 2},
    {25460, 1, 1},
    {159495, 1, 3},
    {495669, 1, 1},
    {554353, 1, 1},
    {645645, 1, 2},
    {723232, 1, 1},
    {854545, 1, 1},
    {934534, 1, 2},
    {1000345, 1, 3},
};

START_TEST(draft_vector_1bit)
{
	static const unsigned st[16] = {
	    1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1};
	uint8_t bytes[2] = {0};
	struct buf *lst = NULL, *back = NULL;
	unsigned i, v;

	for (i = 0; i < 16; i++)
		ck_assert_int_eq(
		    statuslist_set(bytes, 2, 1, i, st[i], NULL), CS_OK);
	ck_assert_uint_eq(bytes[0], 0xb9);
	ck_assert_uint_eq(bytes[1], 0xa3);
	ck_assert_int_eq(statuslist_encode(bytes, 2, &lst, NULL), CS_OK);
	ck_assert_str_eq((const char *)lst->data, "eNrbuRgAAhcBXQ");
	ck_assert_int_eq(statuslist_decode((const char *)lst->data, lst->len,
	                     16, &back, NULL),
	    CS_OK);
	ck_assert_uint_eq(back->len, 2);
	for (i = 0; i < 16; i++) {
		ck_assert_int_eq(
		    statuslist_value_at(back->data, back->len, 1, i, &v, NULL),
		    CS_OK);
		ck_assert_uint_eq(v, st[i]);
	}
	buf_free(lst);
	buf_free(back);
}
END_TEST

START_TEST(draft_vector_2bit)
{
	static const unsigned st[12] = {1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3};
	uint8_t bytes[3] = {0};
	struct buf *lst = NULL, *back = NULL;
	unsigned i, v;

	for (i = 0; i < 12; i++)
		ck_assert_int_eq(
		    statuslist_set(bytes, 3, 2, i, st[i], NULL), CS_OK);
	ck_assert_uint_eq(bytes[0], 0xc9);
	ck_assert_uint_eq(bytes[1], 0x44);
	ck_assert_uint_eq(bytes[2], 0xf9);
	ck_assert_int_eq(statuslist_encode(bytes, 3, &lst, NULL), CS_OK);
	ck_assert_str_eq((const char *)lst->data, "eNo76fITAAPfAgc");
	ck_assert_int_eq(
	    statuslist_decode("eNo76fITAAPfAgc", 15, 3, &back, NULL), CS_OK);
	ck_assert_uint_eq(back->len, 3);
	ck_assert_mem_eq(back->data, bytes, 3);
	for (i = 0; i < 12; i++) {
		ck_assert_int_eq(
		    statuslist_value_at(back->data, 3, 2, i, &v, NULL), CS_OK);
		ck_assert_uint_eq(v, st[i]);
	}
	buf_free(lst);
	buf_free(back);
}
END_TEST

/* The appendix vectors: 2^20 entries, a few set. */
static void
long_vector(unsigned bits, const char *want)
{
	size_t len = LONG_SIZE * bits / 8, i, k, nonzero = 0;
	struct buf *lst = NULL, *back = NULL;
	uint8_t *bytes = calloc(len, 1);
	unsigned v, w;

	ck_assert_ptr_nonnull(bytes);
	for (k = 0; k < sizeof(long_entries) / sizeof(long_entries[0]); k++)
		ck_assert_int_eq(
		    statuslist_set(bytes, len, bits, long_entries[k].idx,
		        bits == 1 ? long_entries[k].v1 : long_entries[k].v2,
		        NULL),
		    CS_OK);
	ck_assert_int_eq(statuslist_encode(bytes, len, &lst, NULL), CS_OK);
	ck_assert_str_eq((const char *)lst->data, want);
	ck_assert_int_eq(
	    statuslist_decode(want, strlen(want), len, &back, NULL), CS_OK);
	ck_assert_uint_eq(back->len, len);
	ck_assert_mem_eq(back->data, bytes, len);
	for (i = 0; i < LONG_SIZE; i++) {
		ck_assert_int_eq(
		    statuslist_value_at(back->data, len, bits, i, &v, NULL),
		    CS_OK);
		w = 0;
		for (k = 0; k < sizeof(long_entries) / sizeof(long_entries[0]);
		     k++)
			if (long_entries[k].idx == i)
				w = bits == 1 ? long_entries[k].v1
				              : long_entries[k].v2;
		if (v != 0)
			nonzero++;
		ck_assert_uint_eq(v, w);
	}
	ck_assert_uint_eq(nonzero, 11);
	free(bytes);
	buf_free(lst);
	buf_free(back);
}

START_TEST(draft_vector_long_1bit)
{
	long_vector(1, LONG1_LST);
}
END_TEST

START_TEST(draft_vector_long_2bit)
{
	long_vector(2, LONG2_LST);
}
END_TEST

/* Each of the 4 positions in a byte, each value, leaves the others alone. */
START_TEST(bit_placement_every_position)
{
	uint8_t bytes[4];
	unsigned pos, val, other, v;

	for (pos = 0; pos < 4; pos++)
		for (val = 0; val < 4; val++) {
			memset(bytes, 0, sizeof(bytes));
			ck_assert_int_eq(
			    statuslist_set(bytes, 4, 2, 4 + pos, val, NULL),
			    CS_OK);
			/* entry 4 + pos sits in byte 1, bits 2*pos.. */
			ck_assert_uint_eq(bytes[0], 0);
			ck_assert_uint_eq(bytes[1], val << (2 * pos));
			ck_assert_uint_eq(bytes[2], 0);
			/* and over all ones it clears only its own bits */
			memset(bytes, 0xff, sizeof(bytes));
			ck_assert_int_eq(
			    statuslist_set(bytes, 4, 2, 4 + pos, val, NULL),
			    CS_OK);
			ck_assert_uint_eq(bytes[1],
			    (0xffu & ~(3u << (2 * pos))) | (val << (2 * pos)));
			for (other = 0; other < 16; other++) {
				ck_assert_int_eq(statuslist_value_at(bytes, 4,
				                     2, other, &v, NULL),
				    CS_OK);
				ck_assert_uint_eq(
				    v, other == 4 + pos ? val : 3);
			}
		}
}
END_TEST

START_TEST(set_and_get_refuse_bad_input)
{
	uint8_t bytes[2] = {0};
	unsigned v = 9;

	ck_assert_int_eq(
	    statuslist_set(bytes, 2, 2, 8, 1, NULL), CS_ERR_INVALID);
	ck_assert_int_eq(
	    statuslist_set(bytes, 2, 2, 0, 4, NULL), CS_ERR_INVALID);
	ck_assert_int_eq(
	    statuslist_set(bytes, 2, 3, 0, 1, NULL), CS_ERR_INVALID);
	ck_assert_int_eq(
	    statuslist_value_at(bytes, 2, 2, 8, &v, NULL), CS_ERR_INVALID);
	ck_assert_int_eq(statuslist_value_at(bytes, 2, 1, UINT64_MAX, &v, NULL),
	    CS_ERR_INVALID);
	ck_assert_int_eq(statuslist_value_at(bytes, 2, 2, 7, &v, NULL), CS_OK);
	ck_assert_uint_eq(v, 0);
	ck_assert_uint_eq(bytes[0] | bytes[1], 0);
}
END_TEST

START_TEST(sizes_hold_every_entry)
{
	uint8_t *bytes = calloc(STATUSLIST_BYTES, 1);
	struct buf *lst = NULL, *back = NULL;
	unsigned v;

	ck_assert_int_eq(
	    STATUSLIST_BYTES * 8 / STATUSLIST_BITS, STATUSLIST_ENTRIES);
	ck_assert_ptr_nonnull(bytes);
	ck_assert_int_eq(statuslist_set(bytes, STATUSLIST_BYTES,
	                     STATUSLIST_BITS, STATUSLIST_ENTRIES - 1, 3, NULL),
	    CS_OK);
	ck_assert_int_eq(statuslist_set(bytes, STATUSLIST_BYTES,
	                     STATUSLIST_BITS, STATUSLIST_ENTRIES, 3, NULL),
	    CS_ERR_INVALID);
	ck_assert_uint_eq(bytes[STATUSLIST_BYTES - 1], 0xc0);
	ck_assert_int_eq(
	    statuslist_encode(bytes, STATUSLIST_BYTES, &lst, NULL), CS_OK);
	/* an almost empty list compresses to almost nothing */
	ck_assert_uint_lt(lst->len, 200);
	ck_assert_int_eq(statuslist_decode((const char *)lst->data, lst->len,
	                     STATUSLIST_BYTES, &back, NULL),
	    CS_OK);
	ck_assert_uint_eq(back->len, STATUSLIST_BYTES);
	ck_assert_int_eq(statuslist_value_at(back->data, back->len,
	                     STATUSLIST_BITS, STATUSLIST_ENTRIES - 1, &v, NULL),
	    CS_OK);
	ck_assert_uint_eq(v, 3);
	buf_free(back);
	/* a limit one byte short refuses it: no unbounded inflation */
	ck_assert_int_eq(statuslist_decode((const char *)lst->data, lst->len,
	                     STATUSLIST_BYTES - 1, &back, NULL),
	    CS_ERR_INVALID);
	ck_assert_ptr_null(back);
	buf_free(lst);
	free(bytes);
}
END_TEST

START_TEST(decode_refuses_malformed_lst)
{
	static const char *const bad[] = {
	    "",                         /* nothing */
	    "eNrbuRgAAhcBXQ==",         /* padding */
	    "eNrbuRgAAhcBX",            /* 4k+1 characters */
	    "eNrbuRgAAhcBXR",           /* non-zero pad bits */
	    "eNrbuRgAAhcB+Q",           /* standard alphabet */
	    "eNrbuRgAAhcB XQ",          /* whitespace */
	    "eNrbuRgAAhc",              /* truncated stream */
	    "eNrbuRgAAhcBXQAA",         /* data after the stream */
	    "AAAAAAAAAA",               /* not ZLIB */
	    "H4sIAAAAAAAAA9u5GAACFwFd", /* gzip, not ZLIB */
	};
	struct buf *out = NULL;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(statuslist_decode(bad[i], strlen(bad[i]), 64,
		                  &out, NULL) == CS_ERR_INVALID,
		    "accepted '%s'", bad[i]);
		ck_assert_ptr_null(out);
	}
	ck_assert_int_eq(statuslist_decode("eNrbuRgAAhcBXQ", 14, 1, &out, NULL),
	    CS_ERR_INVALID);
	ck_assert_int_eq(
	    statuslist_decode("eNrbuRgAAhcBXQ", 14, 2, &out, NULL), CS_OK);
	buf_free(out);
}
END_TEST

START_TEST(state_mapping)
{
	static const struct {
		const char *state;
		enum statuslist_value v;
	} want[] = {
	    {LICENCE_VALID, STATUSLIST_VALID},
	    {LICENCE_EXPIRED, STATUSLIST_VALID},
	    {LICENCE_SUSPENDED, STATUSLIST_SUSPENDED},
	    {LICENCE_REVOKED, STATUSLIST_INVALID},
	    {LICENCE_PENALTY_REVOKED, STATUSLIST_INVALID},
	    {LICENCE_CANCELLED, STATUSLIST_INVALID},
	    {LICENCE_TRANSFERRED, STATUSLIST_INVALID},
	    {LICENCE_SUPERSEDED, STATUSLIST_SUPERSEDED},
	};
	enum statuslist_value v;
	size_t i;

	ck_assert_int_eq(STATUSLIST_VALID, 0);
	ck_assert_int_eq(STATUSLIST_INVALID, 1);
	ck_assert_int_eq(STATUSLIST_SUSPENDED, 2);
	ck_assert_int_eq(STATUSLIST_SUPERSEDED, 3);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		v = 9;
		ck_assert(statuslist_value_for_state(want[i].state, &v));
		ck_assert_msg(v == want[i].v, "%s", want[i].state);
	}
	v = STATUSLIST_VALID;
	ck_assert(!statuslist_value_for_state("frozen", &v));
	ck_assert_int_eq(v, STATUSLIST_INVALID);
	v = STATUSLIST_VALID;
	ck_assert(!statuslist_value_for_state(NULL, &v));
	ck_assert_int_eq(v, STATUSLIST_INVALID);
}
END_TEST

START_TEST(slot_split_and_uri)
{
	struct svc s;
	char uri[STATUSLIST_URI_MAX], tiny[8];
	int64_t list, idx;

	statuslist_slot_split(0, &list, &idx);
	ck_assert(list == 0 && idx == 0);
	statuslist_slot_split(STATUSLIST_ENTRIES - 1, &list, &idx);
	ck_assert(list == 0 && idx == STATUSLIST_ENTRIES - 1);
	statuslist_slot_split(3 * (int64_t)STATUSLIST_ENTRIES + 5, &list, &idx);
	ck_assert(list == 3 && idx == 5);
	memset(&s, 0, sizeof(s));
	cs_strlcpy(s.cfg.public_url, "https://certsvc.example.gov.cn//",
	    sizeof(s.cfg.public_url));
	ck_assert(statuslist_uri(&s, 7, uri, sizeof(uri)));
	ck_assert_str_eq(
	    uri, "https://certsvc.example.gov.cn/v1/status-lists/7");
	ck_assert(!statuslist_uri(&s, 7, tiny, sizeof(tiny)));
}
END_TEST

/* --- the token, checked as an independent verifier would --------------- */

static EVP_PKEY *root_key, *ca_key, *rep_key, *other_key;
static X509 *root_cert, *ca_cert, *rep_cert;

static void
pki_setup(void)
{
	root_key = EVP_EC_gen("P-256");
	ca_key = EVP_EC_gen("P-256");
	rep_key = EVP_EC_gen("P-256");
	other_key = EVP_EC_gen("P-256");
	ck_assert(root_key && ca_key && rep_key && other_key);
	root_cert = certfix_issue(
	    CRYPTO_CERT_ROOT_CA, "root", root_key, NULL, root_key);
	ca_cert = certfix_issue(
	    CRYPTO_CERT_SUB_CA, "issuing", ca_key, root_cert, root_key);
	rep_cert = certfix_issue(
	    CRYPTO_CERT_REPORT, "report", rep_key, ca_cert, ca_key);
	ck_assert(root_cert && ca_cert && rep_cert);
}

static void
pki_teardown(void)
{
	X509_free(rep_cert);
	X509_free(ca_cert);
	X509_free(root_cert);
	EVP_PKEY_free(other_key);
	EVP_PKEY_free(rep_key);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(root_key);
}

/* The test's own base64url decoder: through the standard alphabet. */
static struct buf *
t_b64url(const char *s, size_t len)
{
	struct buf *std = buf_new(len + 4), *out = NULL;
	size_t i;

	ck_assert_ptr_nonnull(std);
	for (i = 0; i < len; i++) {
		char ch = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];

		ck_assert_msg(
		    s[i] != '+' && s[i] != '/' && s[i] != '=', "not base64url");
		ck_assert_int_eq(buf_append(std, &ch, 1), CS_OK);
	}
	while (std->len % 4 != 0)
		ck_assert_int_eq(buf_append(std, "=", 1), CS_OK);
	ck_assert_int_eq(
	    crypto_b64_decode((const char *)std->data, std->len, &out, NULL),
	    CS_OK);
	buf_free(std);
	return out;
}

struct jwt_parts {
	json_t *hdr, *pl;
	struct buf *sig;
	size_t signed_len; /* header.payload */
};

static void
jwt_split(const char *jwt, struct jwt_parts *p)
{
	const char *d1 = strchr(jwt, '.'), *d2;
	struct buf *b;

	memset(p, 0, sizeof(*p));
	ck_assert_ptr_nonnull(d1);
	d2 = strchr(d1 + 1, '.');
	ck_assert_ptr_nonnull(d2);
	ck_assert_ptr_null(strchr(d2 + 1, '.'));
	b = t_b64url(jwt, (size_t)(d1 - jwt));
	p->hdr = json_loadb(
	    (const char *)b->data, b->len, JSON_REJECT_DUPLICATES, NULL);
	buf_free(b);
	b = t_b64url(d1 + 1, (size_t)(d2 - d1 - 1));
	p->pl = json_loadb(
	    (const char *)b->data, b->len, JSON_REJECT_DUPLICATES, NULL);
	buf_free(b);
	p->sig = t_b64url(d2 + 1, strlen(d2 + 1));
	p->signed_len = (size_t)(d2 - jwt);
	ck_assert_ptr_nonnull(p->hdr);
	ck_assert_ptr_nonnull(p->pl);
}

static void
jwt_parts_free(struct jwt_parts *p)
{
	json_decref(p->hdr);
	json_decref(p->pl);
	buf_free(p->sig);
}

/* ES256 check: r||s back to DER, EVP_DigestVerify; true only on 1. */
static bool
es256_verify(EVP_PKEY *pub, const char *in, size_t inlen, const struct buf *rs)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	unsigned char *der = NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	BIGNUM *r, *s;
	int derlen, ok;

	ck_assert_uint_eq(rs->len, 64);
	r = BN_bin2bn(rs->data, 32, NULL);
	s = BN_bin2bn(rs->data + 32, 32, NULL);
	ck_assert(sig && md && r && s);
	ck_assert_int_eq(ECDSA_SIG_set0(sig, r, s), 1);
	derlen = i2d_ECDSA_SIG(sig, &der);
	ck_assert_int_gt(derlen, 0);
	ck_assert_int_eq(
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub), 1);
	ok = EVP_DigestVerify(
	    md, der, (size_t)derlen, (const unsigned char *)in, inlen);
	ERR_clear_error();
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	return ok == 1;
}

/* The certificate of x5c[i]. */
static X509 *
x5c_cert(json_t *hdr, size_t i)
{
	json_t *a = json_object_get(hdr, "x5c");
	const char *s = json_string_value(json_array_get(a, i));
	struct buf *der = NULL;
	X509 *x = NULL;

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(crypto_b64_decode(s, strlen(s), &der, NULL), CS_OK);
	ck_assert_int_eq(
	    crypto_cert_from_der(der->data, der->len, &x, NULL), CS_OK);
	buf_free(der);
	return x;
}

static struct buf *
sign_sample(
    const char *lst, EVP_PKEY *key, X509 *cert, X509 *issuer, enum cs_rc want)
{
	struct statuslist_claims c = {"https://c.example/v1/status-lists/0",
	    1700000000, 1700000000 + STATUSLIST_LIFETIME, STATUSLIST_TTL, 2,
	    lst};
	struct buf *jwt = NULL;
	struct cs_err err = {0};

	ck_assert_msg(
	    statuslist_token_sign(key, cert, issuer, &c, &jwt, &err) == want,
	    "%s", err.msg);
	return jwt;
}

START_TEST(token_has_the_draft_form_and_verifies)
{
	struct buf *jwt =
	    sign_sample("eNo76fITAAPfAgc", rep_key, rep_cert, ca_cert, CS_OK);
	struct jwt_parts p;
	STACK_OF(X509) *chain = sk_X509_new_null();
	X509 *x0, *x1;
	json_t *sl;
	bool valid = false;
	char reason[128];

	jwt_split((const char *)jwt->data, &p);
	ck_assert_str_eq(
	    json_string_value(json_object_get(p.hdr, "alg")), "ES256");
	ck_assert_str_eq(
	    json_string_value(json_object_get(p.hdr, "typ")), "statuslist+jwt");
	ck_assert_uint_eq(json_array_size(json_object_get(p.hdr, "x5c")), 2);
	ck_assert_uint_eq(json_object_size(p.hdr), 3);
	x0 = x5c_cert(p.hdr, 0);
	x1 = x5c_cert(p.hdr, 1);
	ck_assert_int_eq(X509_cmp(x0, rep_cert), 0);
	ck_assert_int_eq(X509_cmp(x1, ca_cert), 0);
	/* x5c chains to the root */
	ck_assert_int_eq(sk_X509_push(chain, x1), 1);
	ck_assert_int_eq(crypto_cert_verify(x0, root_cert, chain, &valid,
	                     reason, sizeof(reason), NULL),
	    CS_OK);
	ck_assert_msg(valid, "%s", reason);
	ck_assert_str_eq(json_string_value(json_object_get(p.pl, "sub")),
	    "https://c.example/v1/status-lists/0");
	ck_assert_int_eq(
	    json_integer_value(json_object_get(p.pl, "iat")), 1700000000);
	ck_assert_int_eq(json_integer_value(json_object_get(p.pl, "exp")),
	    1700000000 + 86400);
	ck_assert_int_eq(json_integer_value(json_object_get(p.pl, "ttl")), 300);
	sl = json_object_get(p.pl, "status_list");
	ck_assert_int_eq(json_integer_value(json_object_get(sl, "bits")), 2);
	ck_assert_str_eq(
	    json_string_value(json_object_get(sl, "lst")), "eNo76fITAAPfAgc");
	ck_assert_uint_eq(json_object_size(sl), 2);
	/* the signature, with the public key of x5c[0] */
	ck_assert(es256_verify(X509_get0_pubkey(x0), (const char *)jwt->data,
	    p.signed_len, p.sig));
	/* and not with another key */
	ck_assert(!es256_verify(
	    other_key, (const char *)jwt->data, p.signed_len, p.sig));
	sk_X509_free(chain);
	X509_free(x0);
	X509_free(x1);
	jwt_parts_free(&p);
	buf_free(jwt);
}
END_TEST

START_TEST(token_tampered_payload_fails)
{
	struct buf *jwt =
	    sign_sample("eNo76fITAAPfAgc", rep_key, rep_cert, ca_cert, CS_OK);
	struct jwt_parts p;
	char *d1, *at;

	jwt_split((const char *)jwt->data, &p);
	ck_assert(es256_verify(X509_get0_pubkey(rep_cert),
	    (const char *)jwt->data, p.signed_len, p.sig));
	/* one character of the payload changed */
	d1 = strchr((char *)jwt->data, '.');
	at = d1 + 10;
	*at = *at == 'A' ? 'B' : 'A';
	ck_assert(!es256_verify(X509_get0_pubkey(rep_cert),
	    (const char *)jwt->data, p.signed_len, p.sig));
	*at = *at == 'A' ? 'B' : 'A';
	/* one bit of s changed */
	p.sig->data[63] ^= 1;
	ck_assert(!es256_verify(X509_get0_pubkey(rep_cert),
	    (const char *)jwt->data, p.signed_len, p.sig));
	jwt_parts_free(&p);
	buf_free(jwt);
}
END_TEST

START_TEST(token_sign_refuses_bad_input)
{
	struct statuslist_claims c = {"u", 10, 5, 300, 2, "eNo76fITAAPfAgc"};
	EVP_PKEY *p384 = EVP_EC_gen("P-384");
	X509 *c384;
	struct buf *jwt = NULL;

	/* key not matching the certificate */
	ck_assert_ptr_null(
	    sign_sample("x", other_key, rep_cert, ca_cert, CS_ERR_INVALID));
	/* not P-256 */
	ck_assert_ptr_nonnull(p384);
	c384 = certfix_issue(CRYPTO_CERT_REPORT, "r384", p384, ca_cert, ca_key);
	ck_assert_ptr_nonnull(c384);
	ck_assert_ptr_null(
	    sign_sample("x", p384, c384, ca_cert, CS_ERR_INVALID));
	/* exp before iat */
	ck_assert_int_eq(
	    statuslist_token_sign(rep_key, rep_cert, NULL, &c, &jwt, NULL),
	    CS_ERR_INVALID);
	ck_assert_ptr_null(jwt);
	/* without an issuer x5c holds the signer only */
	c.exp = 20;
	ck_assert_int_eq(
	    statuslist_token_sign(rep_key, rep_cert, NULL, &c, &jwt, NULL),
	    CS_OK);
	{
		struct jwt_parts p;

		jwt_split((const char *)jwt->data, &p);
		ck_assert_uint_eq(
		    json_array_size(json_object_get(p.hdr, "x5c")), 1);
		jwt_parts_free(&p);
	}
	buf_free(jwt);
	X509_free(c384);
	EVP_PKEY_free(p384);
}
END_TEST

/* --- lists from a store ---------------------------------------------------
 */

static char dir[PATH_MAX];
static char dbpath[PATH_MAX + 16];
static struct svc *svc;

static void
raw_exec(const char *sql)
{
	sqlite3 *db = NULL;

	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK,
	    "%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_close(db);
}

static void
put_licence(
    const char *id, int version, const char *status, int64_t list, int64_t idx)
{
	struct store_licence l;
	struct store_tx *tx;
	struct cs_err err = {0};

	memset(&l, 0, sizeof(l));
	snprintf(l.id, sizeof(l.id), "%s", id);
	l.version = version;
	snprintf(l.type, sizeof(l.type), "JZ01");
	snprintf(l.dept, sizeof(l.dept), "D1");
	snprintf(l.seal_id, sizeof(l.seal_id), "S-1");
	snprintf(l.holder_ref, sizeof(l.holder_ref), "h");
	snprintf(l.status, sizeof(l.status), "%s", status);
	l.issued_at = l.valid_from = 1700000000;
	l.valid_until = 1800000000;
	l.has_status_slot = list >= 0;
	l.status_list = list;
	l.status_idx = idx;
	l.document = buf_from("{}", 2);
	l.seal_der = buf_from("\x30\x00", 2);
	ck_assert_int_eq(store_tx_begin(svc->store, &tx, &err), CS_OK);
	ck_assert_msg(store_licence_put(tx, &l, &err) == CS_OK, "%s", err.msg);
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_OK);
	store_licence_release(&l);
}

/* A service with a store only (no token): what the status lists need. */
static void
store_setup(void)
{
	struct store_dept d = {0};
	struct store_seal s;
	const char *depts[] = {"D1"};
	struct store_tx *tx;
	struct cs_err err = {0};

	pki_setup();
	testutil_tmpdir(dir, sizeof(dir));
	snprintf(dbpath, sizeof(dbpath), "%s/certsvc.db", dir);
	svc = calloc(1, sizeof(*svc));
	ck_assert_ptr_nonnull(svc);
	cs_strlcpy(svc->cfg.public_url, "http://127.0.0.1:8080/",
	    sizeof(svc->cfg.public_url));
	ck_assert_msg(
	    store_open(dbpath, 4, &svc->store, &err) == CS_OK, "%s", err.msg);
	ck_assert_int_eq(statuslist_init(svc, &err), CS_OK);
	snprintf(d.code, sizeof(d.code), "D1");
	snprintf(d.name, sizeof(d.name), "Department");
	snprintf(d.region, sizeof(d.region), "110105");
	memset(&s, 0, sizeof(s));
	snprintf(s.id, sizeof(s.id), "S-1");
	snprintf(s.dept, sizeof(s.dept), "D1");
	snprintf(s.name, sizeof(s.name), "Seal");
	snprintf(s.alg, sizeof(s.alg), "p256");
	snprintf(s.key_uri, sizeof(s.key_uri), "pkcs11:object=s;type=private");
	s.cert_der = buf_from("\x30\x03\x02\x01\x01", 5);
	ck_assert_int_eq(store_tx_begin(svc->store, &tx, &err), CS_OK);
	ck_assert_int_eq(store_dept_put(tx, &d, &err), CS_OK);
	ck_assert_int_eq(
	    store_ltype_put(tx, "JZ01", "Permit", "{}", depts, 1, &err), CS_OK);
	ck_assert_int_eq(store_seal_put(tx, &s, &err), CS_OK);
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_OK);
	store_seal_release(&s);
}

static void
store_teardown(void)
{
	statuslist_free(svc);
	store_free(svc->store);
	free(svc);
	svc = NULL;
	pki_teardown();
}

/* Licences in list 0 in every state, one in list 2, one without a slot. */
static const struct {
	const char *id;
	const char *status;
	int64_t idx;
	unsigned want;
} rows[] = {
    {"L-valid", LICENCE_VALID, 0, 0},
    {"L-susp", LICENCE_SUSPENDED, 1, 2},
    {"L-rev", LICENCE_REVOKED, 2, 1},
    {"L-pen", LICENCE_PENALTY_REVOKED, 3, 1},
    {"L-can", LICENCE_CANCELLED, 5, 1},
    {"L-sup", LICENCE_SUPERSEDED, 6, 3},
    {"L-tra", LICENCE_TRANSFERRED, 7, 1},
    {"L-odd", "mystery", 100, 1},
    {"L-last", LICENCE_SUSPENDED, STATUSLIST_ENTRIES - 1, 2},
};

static void
put_rows(void)
{
	char sql[256];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		put_licence(rows[i].id, 1, LICENCE_VALID, 0, rows[i].idx);
	put_licence("L-other", 1, LICENCE_VALID, 2, 0);
	put_licence("L-noslot", 1, LICENCE_VALID, -1, -1);
	/* statuses changed the way any process would */
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		snprintf(sql, sizeof(sql),
		    "UPDATE licences SET status = '%s' WHERE id = '%s'",
		    rows[i].status, rows[i].id);
		raw_exec(sql);
	}
}

static void
check_bytes(const uint8_t *bytes, size_t len)
{
	unsigned v, want;
	size_t i, k;

	ck_assert_uint_eq(len, STATUSLIST_BYTES);
	for (i = 0; i < STATUSLIST_ENTRIES; i++) {
		want = 0;
		for (k = 0; k < sizeof(rows) / sizeof(rows[0]); k++)
			if ((size_t)rows[k].idx == i)
				want = rows[k].want;
		ck_assert_int_eq(
		    statuslist_value_at(bytes, len, 2, i, &v, NULL), CS_OK);
		ck_assert_msg(v == want, "entry %zu: %u, want %u", i, v, want);
	}
}

START_TEST(build_from_store_every_entry)
{
	struct buf *bytes = NULL;
	int64_t gen0 = 0, gen = 0;
	struct cs_err err = {0};

	ck_assert_int_eq(statuslist_build(svc->store, 0, &bytes, &gen, &err),
	    CS_ERR_NOT_FOUND);
	put_licence("L-first", 1, LICENCE_VALID, 0, 9);
	ck_assert_int_eq(
	    statuslist_build(svc->store, 0, &bytes, &gen0, &err), CS_OK);
	buf_free(bytes);
	raw_exec("DELETE FROM licences WHERE id = 'L-first'");
	put_rows();
	ck_assert_msg(
	    statuslist_build(svc->store, 0, &bytes, &gen, &err) == CS_OK, "%s",
	    err.msg);
	/* every status change moved the gen (L-valid stayed valid) */
	ck_assert_int_eq(gen, gen0 + 8);
	check_bytes(bytes->data, bytes->len);
	buf_free(bytes);
	/* list 2: its one licence, valid */
	ck_assert_int_eq(
	    statuslist_build(svc->store, 2, &bytes, &gen, &err), CS_OK);
	ck_assert_uint_eq(bytes->data[0], 0);
	buf_free(bytes);
	/* list 1 has no slot at all */
	ck_assert_int_eq(statuslist_build(svc->store, 1, &bytes, &gen, &err),
	    CS_ERR_NOT_FOUND);
	ck_assert_ptr_null(bytes);
}
END_TEST

START_TEST(build_refuses_index_outside_the_list)
{
	struct buf *bytes = NULL;
	int64_t gen;

	put_licence("L-big", 1, LICENCE_VALID, 0, STATUSLIST_ENTRIES);
	ck_assert_int_eq(
	    statuslist_build(svc->store, 0, &bytes, &gen, NULL), CS_ERR_STORE);
	ck_assert_ptr_null(bytes);
}
END_TEST

START_TEST(inserted_non_valid_licence_moves_the_gen)
{
	struct store_slist *l = NULL;
	size_t n = 0;
	int64_t g1;

	put_licence("L-a", 1, LICENCE_VALID, 4, 0);
	ck_assert_int_eq(store_slist_list(svc->store, &l, &n, NULL), CS_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(l[0].list, 4);
	g1 = l[0].gen;
	free(l);
	put_licence("L-b", 1, LICENCE_VALID, 4, 1);
	ck_assert_int_eq(store_slist_list(svc->store, &l, &n, NULL), CS_OK);
	ck_assert_int_eq(l[0].gen, g1); /* a new valid entry changes nothing */
	free(l);
	put_licence("L-c", 1, LICENCE_SUSPENDED, 4, 2);
	ck_assert_int_eq(store_slist_list(svc->store, &l, &n, NULL), CS_OK);
	ck_assert_int_gt(l[0].gen, g1);
	free(l);
}
END_TEST

/* The list query uses the slot index: no scan of all licences. */
START_TEST(list_query_uses_the_slot_index)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	char plan[1024] = "";
	size_t used = 0;

	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db,
	                     "EXPLAIN QUERY PLAN SELECT s.gen, l.status_idx,"
	                     " l.status FROM status_lists AS s"
	                     " LEFT JOIN licences AS l"
	                     " ON l.status_list = s.list WHERE s.list = ?1"
	                     " ORDER BY l.status_idx",
	                     -1, &s, NULL),
	    SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW)
		used += (size_t)snprintf(plan + used, sizeof(plan) - used,
		    "%s|", (const char *)sqlite3_column_text(s, 3));
	sqlite3_finalize(s);
	sqlite3_close(db);
	ck_assert_msg(strstr(plan, "licences_status_slot") != NULL, "%s", plan);
	ck_assert_msg(strstr(plan, "SCAN") == NULL, "%s", plan);
	ck_assert_msg(strstr(plan, "TEMP B-TREE") == NULL, "%s", plan);
}
END_TEST

static struct statuslist_signer
signer(void)
{
	struct statuslist_signer sg = {rep_key, rep_cert, ca_cert, 0};

	sg.not_after = (int64_t)time(NULL) + 2 * 86400;
	return sg;
}

/* Fetch list n and return its decoded byte array and payload. */
static struct buf *
fetch_bytes(int64_t n, struct statuslist_token *tok, json_t **payload)
{
	struct jwt_parts p;
	struct cs_err err = {0};
	struct buf *bytes = NULL;
	const char *lst;

	ck_assert_msg(
	    statuslist_fetch(svc, n, tok, &err) == CS_OK, "%s", err.msg);
	jwt_split((const char *)tok->jwt->data, &p);
	ck_assert(es256_verify(X509_get0_pubkey(rep_cert),
	    (const char *)tok->jwt->data, p.signed_len, p.sig));
	lst = json_string_value(
	    json_object_get(json_object_get(p.pl, "status_list"), "lst"));
	ck_assert_ptr_nonnull(lst);
	ck_assert_int_eq(
	    statuslist_decode(lst, strlen(lst), STATUSLIST_BYTES, &bytes, NULL),
	    CS_OK);
	*payload = json_incref(p.pl);
	jwt_parts_free(&p);
	return bytes;
}

START_TEST(refresh_signs_serves_and_follows_changes)
{
	struct statuslist_signer sg = signer();
	struct statuslist_token tok, tok2;
	struct cs_err err = {0};
	struct buf *bytes, *body = NULL;
	const char *mt = NULL;
	int64_t now = (int64_t)time(NULL), at = 0;
	json_t *pl;
	unsigned v;

	/* nothing yet */
	ck_assert_int_eq(
	    statuslist_fetch(svc, 0, &tok, &err), CS_ERR_NOT_FOUND);
	ck_assert_int_eq(statuslist_refresh_with(svc, &sg, now, &err), CS_OK);
	ck_assert_int_eq(
	    statuslist_fetch(svc, 0, &tok, &err), CS_ERR_NOT_FOUND);
	put_rows();
	ck_assert_msg(statuslist_refresh_with(svc, &sg, now, &err) == CS_OK,
	    "%s", err.msg);
	bytes = fetch_bytes(0, &tok, &pl);
	check_bytes(bytes->data, bytes->len);
	buf_free(bytes);
	ck_assert_str_eq(json_string_value(json_object_get(pl, "sub")),
	    "http://127.0.0.1:8080/v1/status-lists/0");
	ck_assert_int_eq(json_integer_value(json_object_get(pl, "iat")), now);
	ck_assert_int_eq(json_integer_value(json_object_get(pl, "exp")),
	    now + STATUSLIST_LIFETIME);
	ck_assert_int_eq(
	    json_integer_value(json_object_get(pl, "ttl")), STATUSLIST_TTL);
	json_decref(pl);
	ck_assert(tok.iat == now && tok.exp == now + STATUSLIST_LIFETIME);
	/* list 2 is served too, list 1 is not */
	ck_assert_int_eq(statuslist_fetch(svc, 2, &tok2, NULL), CS_OK);
	statuslist_token_release(&tok2);
	ck_assert_int_eq(
	    statuslist_fetch(svc, 1, &tok2, NULL), CS_ERR_NOT_FOUND);
	/* statuslist_get: the same token */
	ck_assert_int_eq(statuslist_get(svc, 0, &body, &mt, &at, NULL), CS_OK);
	ck_assert_str_eq(mt, "application/statuslist+jwt");
	ck_assert_int_eq(at, now);
	ck_assert_uint_eq(body->len, tok.jwt->len);
	ck_assert_mem_eq(body->data, tok.jwt->data, body->len);
	buf_free(body);

	/* nothing changed: not re-signed (ECDSA would give new bytes) */
	ck_assert_int_eq(
	    statuslist_refresh_with(svc, &sg, now + 5, &err), CS_OK);
	ck_assert_int_eq(statuslist_fetch(svc, 0, &tok2, NULL), CS_OK);
	ck_assert_uint_eq(tok2.jwt->len, tok.jwt->len);
	ck_assert_mem_eq(tok2.jwt->data, tok.jwt->data, tok.jwt->len);
	ck_assert_int_eq(tok2.iat, now);
	statuslist_token_release(&tok2);

	/* a status change: re-signed with the new value */
	raw_exec("UPDATE licences SET status = 'valid' WHERE id = 'L-susp'");
	ck_assert_int_eq(
	    statuslist_refresh_with(svc, &sg, now + 6, &err), CS_OK);
	bytes = fetch_bytes(0, &tok2, &pl);
	ck_assert_int_eq(tok2.iat, now + 6);
	ck_assert_int_gt(tok2.gen, tok.gen);
	ck_assert_int_eq(
	    statuslist_value_at(bytes->data, bytes->len, 2, 1, &v, NULL),
	    CS_OK);
	ck_assert_uint_eq(v, STATUSLIST_VALID);
	buf_free(bytes);
	json_decref(pl);
	statuslist_token_release(&tok2);

	/* half of the lifetime: re-signed although nothing changed */
	ck_assert_int_eq(statuslist_refresh_with(svc, &sg,
	                     now + 6 + STATUSLIST_LIFETIME / 2 - 1, &err),
	    CS_OK);
	ck_assert_int_eq(statuslist_fetch(svc, 0, &tok2, NULL), CS_OK);
	ck_assert_int_eq(tok2.iat, now + 6);
	statuslist_token_release(&tok2);
	ck_assert_int_eq(statuslist_refresh_with(
	                     svc, &sg, now + 6 + STATUSLIST_LIFETIME / 2, &err),
	    CS_OK);
	ck_assert_int_eq(statuslist_fetch(svc, 0, &tok2, NULL), CS_OK);
	ck_assert_int_eq(tok2.iat, now + 6 + STATUSLIST_LIFETIME / 2);
	statuslist_token_release(&tok2);
	statuslist_token_release(&tok);
}
END_TEST

/* The shared form: the same bytes, alive until unheld across a re-sign. */
START_TEST(shared_fetch_outlives_a_resign)
{
	struct statuslist_signer sg = signer();
	struct statuslist_token tok, stok, tok2;
	struct cs_err err = {0};
	const struct buf *jwt = NULL;
	struct buf *copy;
	void *hold = NULL;
	int64_t now = (int64_t)time(NULL);

	ck_assert_int_eq(
	    statuslist_fetch_shared(svc, 0, &stok, &jwt, &hold, &err),
	    CS_ERR_NOT_FOUND);
	ck_assert_ptr_null(jwt);
	ck_assert_ptr_null(hold);
	put_rows();
	ck_assert_int_eq(statuslist_refresh_with(svc, &sg, now, &err), CS_OK);
	ck_assert_int_eq(statuslist_fetch(svc, 0, &tok, NULL), CS_OK);
	ck_assert_int_eq(
	    statuslist_fetch_shared(svc, 0, &stok, &jwt, &hold, NULL), CS_OK);
	ck_assert_ptr_null(stok.jwt);
	ck_assert_ptr_nonnull(hold);
	ck_assert(stok.iat == tok.iat && stok.exp == tok.exp &&
	    stok.ttl == tok.ttl && stok.gen == tok.gen);
	ck_assert_uint_eq(jwt->len, tok.jwt->len);
	ck_assert_mem_eq(jwt->data, tok.jwt->data, jwt->len);
	copy = buf_from(jwt->data, jwt->len);
	ck_assert_ptr_nonnull(copy);
	/* A change re-signs: the cache moves on, the held bytes stay. */
	raw_exec("UPDATE licences SET status = 'valid' WHERE id = 'L-susp'");
	ck_assert_int_eq(
	    statuslist_refresh_with(svc, &sg, now + 6, &err), CS_OK);
	ck_assert_int_eq(statuslist_fetch(svc, 0, &tok2, NULL), CS_OK);
	ck_assert_int_gt(tok2.gen, tok.gen);
	ck_assert_uint_eq(jwt->len, copy->len);
	ck_assert_mem_eq(jwt->data, copy->data, copy->len);
	statuslist_unhold(hold);
	statuslist_unhold(NULL);
	buf_free(copy);
	statuslist_token_release(&tok2);
	statuslist_token_release(&tok);
}
END_TEST

START_TEST(exp_capped_by_certificate_and_never_served_past)
{
	struct statuslist_signer sg = signer();
	struct statuslist_token tok;
	struct cs_err err = {0};
	int64_t now = (int64_t)time(NULL);

	put_licence("L-a", 1, LICENCE_VALID, 0, 0);
	sg.not_after = now + 600;
	ck_assert_int_eq(statuslist_refresh_with(svc, &sg, now, &err), CS_OK);
	ck_assert_int_eq(statuslist_fetch(svc, 0, &tok, NULL), CS_OK);
	ck_assert_int_eq(tok.exp, now + 600);
	statuslist_token_release(&tok);
	/* signed long ago: expired, so not served */
	put_licence("L-b", 1, LICENCE_VALID, 1, 0);
	sg.not_after = 0;
	ck_assert_int_eq(statuslist_refresh_with(
	                     svc, &sg, now - STATUSLIST_LIFETIME - 10, &err),
	    CS_OK);
	ck_assert_int_eq(statuslist_fetch(svc, 1, &tok, &err), CS_ERR_TOKEN);
	ck_assert_ptr_null(tok.jwt);
	/* a certificate that has expired signs nothing */
	sg.not_after = now - 1;
	raw_exec("UPDATE licences SET status = 'revoked' WHERE id = 'L-a'");
	ck_assert_int_eq(
	    statuslist_refresh_with(svc, &sg, now, &err), CS_ERR_TOKEN);
}
END_TEST

START_TEST(store_failure_keeps_serving_the_last_list)
{
	struct statuslist_signer sg = signer();
	struct statuslist_token tok;
	struct cs_err err = {0};
	int64_t now = (int64_t)time(NULL);
	int i;
	enum cs_rc rc;

	put_licence("L-a", 1, LICENCE_VALID, 0, 0);
	ck_assert_int_eq(statuslist_refresh_with(svc, &sg, now, &err), CS_OK);
	raw_exec("UPDATE licences SET status = 'revoked' WHERE id = 'L-a'");
	/* fail each statement step of the refresh in turn */
	for (i = 1; i < 10; i++) {
		store_test_fail_after(svc->store, i);
		rc = statuslist_refresh_with(svc, &sg, now + 1, &err);
		store_test_fail_after(svc->store, 0);
		ck_assert_int_eq(statuslist_fetch(svc, 0, &tok, NULL), CS_OK);
		if (rc == CS_OK) {
			/* ran past the failures: the new list is out */
			ck_assert_int_eq(tok.iat, now + 1);
			statuslist_token_release(&tok);
			break;
		}
		ck_assert_int_eq(rc, CS_ERR_STORE);
		ck_assert_int_eq(tok.iat, now); /* the old list stays */
		statuslist_token_release(&tok);
	}
	ck_assert_int_gt(i, 1);
	ck_assert_int_lt(i, 10);
}
END_TEST

START_TEST(refresh_without_report_key_fails_cleanly)
{
	struct statuslist_token tok;
	struct cs_err err = {0};

	/* nothing due: nothing asked of the report signer */
	ck_assert_int_eq(statuslist_refresh(svc, &err), CS_OK);
	put_licence("L-a", 1, LICENCE_VALID, 0, 0);
	/* svc has no report signer (svc->reports is NULL) */
	ck_assert_int_eq(statuslist_refresh(svc, &err), CS_ERR_TOKEN);
	ck_assert(strlen(err.msg) > 0);
	ck_assert_int_eq(
	    statuslist_fetch(svc, 0, &tok, NULL), CS_ERR_NOT_FOUND);
}
END_TEST

static Suite *
statuslist_suite(void)
{
	Suite *s = suite_create("statuslist");
	TCase *tc;

	tc = tcase_create("encoding");
	tcase_add_test(tc, draft_vector_1bit);
	tcase_add_test(tc, draft_vector_2bit);
	tcase_add_test(tc, draft_vector_long_1bit);
	tcase_add_test(tc, draft_vector_long_2bit);
	tcase_add_test(tc, bit_placement_every_position);
	tcase_add_test(tc, set_and_get_refuse_bad_input);
	tcase_add_test(tc, sizes_hold_every_entry);
	tcase_add_test(tc, decode_refuses_malformed_lst);
	tcase_add_test(tc, state_mapping);
	tcase_add_test(tc, slot_split_and_uri);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("token");
	tcase_add_checked_fixture(tc, pki_setup, pki_teardown);
	tcase_add_test(tc, token_has_the_draft_form_and_verifies);
	tcase_add_test(tc, token_tampered_payload_fails);
	tcase_add_test(tc, token_sign_refuses_bad_input);
	suite_add_tcase(s, tc);

	tc = tcase_create("store");
	tcase_add_checked_fixture(tc, store_setup, store_teardown);
	tcase_add_test(tc, build_from_store_every_entry);
	tcase_add_test(tc, build_refuses_index_outside_the_list);
	tcase_add_test(tc, inserted_non_valid_licence_moves_the_gen);
	tcase_add_test(tc, list_query_uses_the_slot_index);
	tcase_add_test(tc, refresh_signs_serves_and_follows_changes);
	tcase_add_test(tc, shared_fetch_outlives_a_resign);
	tcase_add_test(tc, exp_capped_by_certificate_and_never_served_past);
	tcase_add_test(tc, store_failure_keeps_serving_the_last_list);
	tcase_add_test(tc, refresh_without_report_key_fails_cleanly);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(statuslist_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
