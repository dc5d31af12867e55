/*
 * b64.c: base64 as RFC 4648 section 4 defines it, nothing more: the
 * standard alphabet, '=' padding to a multiple of 4 characters, no line
 * breaks.  The decoder accepts exactly the strings the encoder produces
 * (RFC 4648 3.5 canonical encoding: the pad bits are zero), so a value
 * has one encoding and a signed envelope cannot be re-encoded unnoticed;
 * whitespace, the URL-safe alphabet, NULs, misplaced or missing padding
 * are all rejected.
 *
 * Documents (which hold holder identifiers) go through here, so neither
 * direction branches or indexes a table on data: characters are mapped by
 * arithmetic masks, as in libsodium and BoringSSL.  Only the length and
 * the position of padding are public.
 */
#include <stdint.h>
#include <string.h>

#include "certsvc/err.h"
#include "certsvc/mem.h"
#include "crypto/crypto.h"

/* All ones when lo <= c <= hi, else 0 (c, lo, hi small), no branch. */
static inline __attribute__((always_inline)) unsigned
b64_in(unsigned c, unsigned lo, unsigned hi)
{
	return 0U -
	    (((lo - 1U - c) & (c - hi - 1U)) >> (sizeof(unsigned) * 8 - 1));
}

/* The character of 6-bit value v. */
static inline __attribute__((always_inline)) unsigned char
b64_char(unsigned v)
{
	unsigned c = 0;

	c |= b64_in(v, 0, 25) & (v + 'A');
	c |= b64_in(v, 26, 51) & (v - 26 + 'a');
	c |= b64_in(v, 52, 61) & (v - 52 + '0');
	c |= b64_in(v, 62, 62) & '+';
	c |= b64_in(v, 63, 63) & '/';
	return (unsigned char)c;
}

/* The 6-bit value of c; *bad gets all ones unless c is in the alphabet. */
static inline __attribute__((always_inline)) unsigned
b64_value(unsigned c, unsigned *bad)
{
	unsigned v = 0, ok = 0, m;

	m = b64_in(c, 'A', 'Z');
	v |= m & (c - 'A');
	ok |= m;
	m = b64_in(c, 'a', 'z');
	v |= m & (c - 'a' + 26);
	ok |= m;
	m = b64_in(c, '0', '9');
	v |= m & (c - '0' + 52);
	ok |= m;
	m = b64_in(c, '+', '+');
	v |= m & 62;
	ok |= m;
	m = b64_in(c, '/', '/');
	v |= m & 63;
	ok |= m;
	*bad |= ~ok;
	return v;
}

enum cs_rc
crypto_b64_encode(
    const void *p, size_t len, struct buf **out, struct cs_err *err)
{
	const unsigned char *in = p;
	struct buf *b;
	size_t i, n, olen;
	unsigned w;
	uint8_t *o;

	*out = NULL;
	if (p == NULL && len > 0)
		return cs_err_set(err, CS_ERR_INVALID, "nothing to encode");
	if (len > (SIZE_MAX - 1) / 4 * 3 - 2)
		return cs_err_set(err, CS_ERR_INVALID, "input too long");
	olen = (len + 2) / 3 * 4;
	b = buf_new(olen);
	if (b == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	o = b->data;
	for (i = 0; i + 3 <= len; i += 3) {
		w = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 |
		    in[i + 2];
		*o++ = b64_char(w >> 18);
		*o++ = b64_char((w >> 12) & 0x3f);
		*o++ = b64_char((w >> 6) & 0x3f);
		*o++ = b64_char(w & 0x3f);
	}
	n = len - i;
	if (n > 0) {
		w = (unsigned)in[i] << 16;
		if (n == 2)
			w |= (unsigned)in[i + 1] << 8;
		*o++ = b64_char(w >> 18);
		*o++ = b64_char((w >> 12) & 0x3f);
		*o++ = n == 2 ? b64_char((w >> 6) & 0x3f) : '=';
		*o++ = '=';
	}
	*o = '\0';
	b->len = olen;
	*out = b;
	return CS_OK;
}

enum cs_rc
crypto_b64_decode(
    const char *s, size_t len, struct buf **out, struct cs_err *err)
{
	const unsigned char *in = (const unsigned char *)s;
	unsigned bad = 0, w;
	size_t i, pad = 0, olen;
	struct buf *b;
	uint8_t *o;

	*out = NULL;
	if (s == NULL && len > 0)
		return cs_err_set(err, CS_ERR_INVALID, "nothing to decode");
	if (len % 4 != 0)
		return cs_err_set(err, CS_ERR_INVALID,
		    "base64 length is not a multiple of 4");
	if (len > 0 && in[len - 1] == '=')
		pad = in[len - 2] == '=' ? 2 : 1;
	olen = len / 4 * 3 - pad;
	b = buf_new(olen);
	if (b == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	o = b->data;
	for (i = 0; i + 4 <= len - (pad > 0 ? 4 : 0); i += 4) {
		w = b64_value(in[i], &bad) << 18 |
		    b64_value(in[i + 1], &bad) << 12 |
		    b64_value(in[i + 2], &bad) << 6 |
		    b64_value(in[i + 3], &bad);
		*o++ = (uint8_t)(w >> 16);
		*o++ = (uint8_t)(w >> 8);
		*o++ = (uint8_t)w;
	}
	if (pad > 0) {
		/* "xx==" or "xxx=": the bits after the last byte are zero. */
		w = b64_value(in[i], &bad) << 18 |
		    b64_value(in[i + 1], &bad) << 12;
		if (pad == 1)
			w |= b64_value(in[i + 2], &bad) << 6;
		*o++ = (uint8_t)(w >> 16);
		if (pad == 1)
			*o++ = (uint8_t)(w >> 8);
		bad |= 0U - ((pad == 2 ? w & 0xffff : w & 0xff) != 0);
	}
	*o = '\0';
	if (bad != 0) {
		buf_free(b);
		return cs_err_set(err, CS_ERR_INVALID,
		    "base64 has a character outside the alphabet, misplaced "
		    "padding or non-zero pad bits");
	}
	b->len = olen;
	*out = b;
	return CS_OK;
}
