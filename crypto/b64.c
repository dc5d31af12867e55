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
 * the position of padding are public.  Eight characters at a time, the
 * same masks work on the bytes of a 64-bit word (SWAR): each byte's test
 * is kept in its top bit and no sum carries into the next byte.
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

/* --- eight at a time ------------------------------------------------------ */

#define B64_ONES 0x0101010101010101ULL
#define B64_TOP 0x8080808080808080ULL
#define B64_REP(c) ((uint64_t)(c)*B64_ONES)

/*
 * For each byte x (0..127) of w: top bit set when x >= lo (1 <= lo <=
 * 128): x + 128 - lo stays below 256, so nothing carries.
 */
static inline __attribute__((always_inline)) uint64_t
b64_ge8(uint64_t w, unsigned lo)
{
	return (w + B64_REP(0x80U - lo)) & B64_TOP;
}

/* Top bit set when x <= hi (x, hi 0..127): 128 + hi - x never borrows. */
static inline __attribute__((always_inline)) uint64_t
b64_le8(uint64_t w, unsigned hi)
{
	return (B64_REP(0x80U + hi) - w) & B64_TOP;
}

/* A byte of all ones where the top bit of t (top bits only) is set. */
static inline __attribute__((always_inline)) uint64_t
b64_fill8(uint64_t t)
{
	return (t >> 7) * 0xffU;
}

/*
 * The 6-bit values of the eight characters of w (byte i: character i) in
 * the same bytes; *bad gets top bits for characters outside the alphabet.
 */
static inline __attribute__((always_inline)) uint64_t
b64_value8(uint64_t w, uint64_t *bad)
{
	uint64_t high = w & B64_TOP, x = w & ~B64_TOP, v = 0, ok = 0, m;

	/* Per byte, (x | 128) - lo is 128 + x - lo on the matching bytes. */
	m = b64_ge8(x, 'A') & b64_le8(x, 'Z');
	v |= b64_fill8(m) & (((x | B64_TOP) - B64_REP('A')) & ~B64_TOP);
	ok |= m;
	m = b64_ge8(x, 'a') & b64_le8(x, 'z');
	v |= b64_fill8(m) &
	    ((((x | B64_TOP) - B64_REP('a')) & ~B64_TOP) + B64_REP(26));
	ok |= m;
	m = b64_ge8(x, '0') & b64_le8(x, '9');
	v |= b64_fill8(m) &
	    ((((x | B64_TOP) - B64_REP('0')) & ~B64_TOP) + B64_REP(52));
	ok |= m;
	m = b64_ge8(x, '+') & b64_le8(x, '+');
	v |= b64_fill8(m) & B64_REP(62);
	ok |= m;
	m = b64_ge8(x, '/') & b64_le8(x, '/');
	v |= b64_fill8(m) & B64_REP(63);
	ok |= m;
	*bad |= high | (~ok & B64_TOP);
	return v;
}

/*
 * The characters of the eight 6-bit values in the bytes of v: 'A' + v,
 * then +6 from 26 ('a'), -75 from 52 ('0'), -15 at 62 ('+'), +3 at 63
 * ('/').  The additions and the subtractions are summed apart so that no
 * byte carries or borrows.
 */
static inline __attribute__((always_inline)) uint64_t
b64_char8(uint64_t v)
{
	uint64_t up, down;

	up = v + B64_REP('A') + (b64_fill8(b64_ge8(v, 26)) & B64_REP(6)) +
	    (b64_fill8(b64_ge8(v, 63)) & B64_REP(3));
	down = (b64_fill8(b64_ge8(v, 52)) & B64_REP(75)) +
	    (b64_fill8(b64_ge8(v, 62)) & B64_REP(15));
	return up - down;
}

static inline __attribute__((always_inline)) uint64_t
b64_load8(const unsigned char *p)
{
	uint64_t w = 0;
	int i;

	for (i = 7; i >= 0; i--)
		w = w << 8 | p[i];
	return w;
}

static inline __attribute__((always_inline)) void
b64_store8(unsigned char *p, uint64_t w)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(w >> (8 * i));
}

enum cs_rc
crypto_b64_encode(
    const void *p, size_t len, struct buf **out, struct cs_err *err)
{
	const unsigned char *in = p;
	struct buf *b;
	size_t i, n, olen;
	unsigned w, w2;
	uint64_t v;
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
	for (i = 0; i + 6 <= len; i += 6, o += 8) {
		w = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 |
		    in[i + 2];
		w2 = (unsigned)in[i + 3] << 16 | (unsigned)in[i + 4] << 8 |
		    in[i + 5];
		v = (uint64_t)(w >> 18) | (uint64_t)((w >> 12) & 0x3f) << 8 |
		    (uint64_t)((w >> 6) & 0x3f) << 16 |
		    (uint64_t)(w & 0x3f) << 24 | (uint64_t)(w2 >> 18) << 32 |
		    (uint64_t)((w2 >> 12) & 0x3f) << 40 |
		    (uint64_t)((w2 >> 6) & 0x3f) << 48 |
		    (uint64_t)(w2 & 0x3f) << 56;
		b64_store8(o, b64_char8(v));
	}
	for (; i + 3 <= len; i += 3) {
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
	uint64_t bad8 = 0, v;
	size_t i, full, pad = 0, olen;
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
	full = len - (pad > 0 ? 4 : 0); /* the groups without padding */
	for (i = 0; i + 8 <= full; i += 8) {
		v = b64_value8(b64_load8(in + i), &bad8);
		w = (unsigned)(v & 0x3f) << 18 |
		    (unsigned)(v >> 8 & 0x3f) << 12 |
		    (unsigned)(v >> 16 & 0x3f) << 6 |
		    (unsigned)(v >> 24 & 0x3f);
		*o++ = (uint8_t)(w >> 16);
		*o++ = (uint8_t)(w >> 8);
		*o++ = (uint8_t)w;
		w = (unsigned)(v >> 32 & 0x3f) << 18 |
		    (unsigned)(v >> 40 & 0x3f) << 12 |
		    (unsigned)(v >> 48 & 0x3f) << 6 |
		    (unsigned)(v >> 56 & 0x3f);
		*o++ = (uint8_t)(w >> 16);
		*o++ = (uint8_t)(w >> 8);
		*o++ = (uint8_t)w;
	}
	for (; i + 4 <= full; i += 4) {
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
	bad |= 0U - (bad8 != 0);
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
