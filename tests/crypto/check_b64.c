/*
 * check_b64.c: RFC 4648 base64, the test vectors of its section 10, the
 * strict decoder's refusals and round trips of random binary.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "certsvc/err.h"
#include "certsvc/mem.h"
#include "crypto/crypto.h"

static const struct {
	const char *plain;
	const char *b64;
} vectors[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

#define NVECTORS ((int)(sizeof(vectors) / sizeof(vectors[0])))

static void
reject(const char *s, size_t len)
{
	struct buf *out = (struct buf *)&out;
	struct cs_err err;

	cs_err_clear(&err);
	ck_assert_msg(crypto_b64_decode(s, len, &out, &err) == CS_ERR_INVALID,
	    "accepted \"%.*s\"", (int)len, s);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(err.rc, CS_ERR_INVALID);
	ck_assert_str_ne(err.msg, "");
}

START_TEST(rfc4648_vectors)
{
	const char *plain = vectors[_i].plain, *b64 = vectors[_i].b64;
	struct buf *enc = NULL, *dec = NULL;

	ck_assert_int_eq(
	    crypto_b64_encode(plain, strlen(plain), &enc, NULL), CS_OK);
	ck_assert_uint_eq(enc->len, strlen(b64));
	ck_assert_str_eq((const char *)enc->data, b64); /* NUL-terminated */
	ck_assert_int_eq(
	    crypto_b64_decode(b64, strlen(b64), &dec, NULL), CS_OK);
	ck_assert_uint_eq(dec->len, strlen(plain));
	ck_assert_mem_eq(dec->data, plain, dec->len);
	ck_assert_int_eq(dec->data[dec->len], '\0');
	buf_free(dec);
	buf_free(enc);
}
END_TEST

START_TEST(empty_and_null)
{
	struct buf *out = NULL;

	ck_assert_int_eq(crypto_b64_encode(NULL, 0, &out, NULL), CS_OK);
	ck_assert_uint_eq(out->len, 0);
	buf_free(out);
	ck_assert_int_eq(crypto_b64_decode(NULL, 0, &out, NULL), CS_OK);
	ck_assert_uint_eq(out->len, 0);
	buf_free(out);
	ck_assert_int_eq(
	    crypto_b64_encode(NULL, 1, &out, NULL), CS_ERR_INVALID);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(
	    crypto_b64_decode(NULL, 4, &out, NULL), CS_ERR_INVALID);
	ck_assert_ptr_null(out);
}
END_TEST

START_TEST(strict_rejects)
{
	static const char *const bad[] = {
	    "Zg=",            /* short */
	    "Zg",             /* unpadded */
	    "Zm9",            /* unpadded */
	    "Zh==",           /* non-zero pad bits (4) */
	    "Zm9=",           /* non-zero pad bits (2) */
	    "Zm8=Zm8=",       /* padding inside */
	    "Zg==Zm9v",       /* padding inside */
	    "Z===",           /* too much padding */
	    "====",           /* only padding */
	    "=Zm9",           /* padding first */
	    "Zm=v",           /* padding in the middle */
	    "Zm9v\n",         /* line break */
	    "Zm9v\r\n",       /* line break */
	    " Zm9v",          /* space */
	    "Zm 9v",          /* space */
	    "Zm9\tv",         /* tab */
	    "Zm9-",           /* URL-safe alphabet */
	    "Zm9_",           /* URL-safe alphabet */
	    "Zm9v*A==",       /* not in any alphabet */
	    "Zm9v\xc3\xa9==", /* UTF-8 */
	    "Zm9v\x80\x80\x80\x80",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		reject(bad[i], strlen(bad[i]));
	/* An embedded NUL, counted in len. */
	reject("Zm\0v", 4);
	reject("Zm9vYg=\0", 8);
	/* len shorter than the string: "Zm9vYg" without its padding. */
	reject("Zm9vYg==", 6);
}
END_TEST

/* Every 4-character group with pad bits set is refused; clear, accepted. */
START_TEST(pad_bits_exhaustive)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char s[5];
	struct buf *out = NULL;
	int v;

	for (v = 0; v < 64; v++) {
		snprintf(s, sizeof(s), "A%c==", alpha[v]);
		if ((v & 0x0f) == 0) {
			ck_assert_int_eq(
			    crypto_b64_decode(s, 4, &out, NULL), CS_OK);
			ck_assert_uint_eq(out->len, 1);
			ck_assert_uint_eq(out->data[0], (unsigned)v >> 4);
			buf_free(out);
		} else {
			reject(s, 4);
		}
		snprintf(s, sizeof(s), "AA%c=", alpha[v]);
		if ((v & 0x03) == 0) {
			ck_assert_int_eq(
			    crypto_b64_decode(s, 4, &out, NULL), CS_OK);
			ck_assert_uint_eq(out->len, 2);
			buf_free(out);
		} else {
			reject(s, 4);
		}
	}
}
END_TEST

/* All 256 byte values: only the 64 of the alphabet decode. */
START_TEST(every_byte)
{
	char s[5] = "AAAA";
	struct buf *out = NULL;
	int c, ok = 0;

	for (c = 0; c < 256; c++) {
		s[3] = (char)c;
		if (crypto_b64_decode(s, 4, &out, NULL) == CS_OK) {
			ok++;
			buf_free(out);
			out = NULL;
		} else {
			ck_assert_ptr_null(out);
		}
	}
	ck_assert_int_eq(ok, 64 + 1); /* and '=' as padding */
}
END_TEST

/*
 * All 256 byte values at each of the 16 places of "AAAA...": the decoder
 * takes eight characters at a time and then four, so a place in either
 * half of a word and in the last group is tried.
 */
START_TEST(every_byte_every_place)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char s[17];
	struct buf *out = NULL;
	const char *at;
	int c, place, ok;
	unsigned v, w;

	for (place = 0; place < 16; place++) {
		ok = 0;
		for (c = 0; c < 256; c++) {
			memset(s, 'A', 16);
			s[16] = '\0';
			s[place] = (char)c;
			if (crypto_b64_decode(s, 16, &out, NULL) != CS_OK) {
				ck_assert_ptr_null(out);
				continue;
			}
			ok++;
			if (c == '=' && place == 15) {
				/* "...AAA=": padding, the only other way. */
				ck_assert_uint_eq(out->len, 11);
				buf_free(out);
				out = NULL;
				continue;
			}
			ck_assert_uint_eq(out->len, 12);
			/* The value sits at bits 18 - 6 * (place % 4) of its
			 * group. */
			at = memchr(alpha, c, 64);
			ck_assert_ptr_nonnull(at);
			v = (unsigned)(at - alpha);
			w = (unsigned)out->data[place / 4 * 3] << 16 |
			    (unsigned)out->data[place / 4 * 3 + 1] << 8 |
			    out->data[place / 4 * 3 + 2];
			ck_assert_uint_eq(w, v << (18 - 6 * (place % 4)));
			buf_free(out);
			out = NULL;
		}
		ck_assert_int_eq(ok, place == 15 ? 65 : 64);
	}
}
END_TEST

/* Random binary of every length 0..300: round trip, and what OpenSSL says. */
START_TEST(random_round_trip)
{
	unsigned char in[300], ref[4 * 100 + 1];
	struct buf *enc = NULL, *dec = NULL;
	size_t len;
	int n;

	for (len = 0; len <= sizeof(in); len++) {
		ck_assert_int_eq(RAND_bytes(in, sizeof(in)), 1);
		ck_assert_int_eq(crypto_b64_encode(in, len, &enc, NULL), CS_OK);
		ck_assert_uint_eq(enc->len, (len + 2) / 3 * 4);
		n = EVP_EncodeBlock(ref, in, (int)len);
		ck_assert_int_eq(n, (int)enc->len);
		ck_assert_mem_eq(enc->data, ref, enc->len);
		ck_assert_int_eq(crypto_b64_decode((const char *)enc->data,
		                     enc->len, &dec, NULL),
		    CS_OK);
		ck_assert_uint_eq(dec->len, len);
		if (len > 0)
			ck_assert_mem_eq(dec->data, in, len);
		buf_free(dec);
		buf_free(enc);
	}
}
END_TEST

static Suite *
b64_suite(void)
{
	Suite *s = suite_create("b64");
	TCase *tc;

	tc = tcase_create("rfc4648");
	tcase_add_loop_test(tc, rfc4648_vectors, 0, NVECTORS);
	tcase_add_test(tc, empty_and_null);
	tcase_add_test(tc, random_round_trip);
	suite_add_tcase(s, tc);

	tc = tcase_create("strict");
	tcase_add_test(tc, strict_rejects);
	tcase_add_test(tc, pad_bits_exhaustive);
	tcase_add_test(tc, every_byte);
	tcase_add_test(tc, every_byte_every_place);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(b64_suite());
	int nfailed;

	srunner_run_all(sr, CK_NORMAL);
	nfailed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
