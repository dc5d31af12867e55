/*
 * jcs.c: strict JSON parsing and RFC 8785 canonical encoding.  certsvc
 * signs the bytes jcs_encode() gives, and verifies by parsing a document
 * and encoding it again, so two invariants hold:
 *
 *   - whatever jcs_encode() writes for an object or array, jcs_parse()
 *     accepts and reads back to an equal value (numbers compared by
 *     value), so a signed document can always be verified again;
 *   - jcs_encode() depends on nothing but the value: no locale, no hash
 *     order, no insertion order.
 *
 * The first is why jcs_encode() also refuses doubles in [2^53, 1e21)
 * (they print as integers that jcs_parse() must refuse, RFC 7493 I-JSON)
 * and strings holding U+0000, and why both use the same depth limit.
 * jcs_parse() takes only objects and arrays at the top (jansson's default,
 * no JSON_DECODE_ANY): every certsvc document is an object, and a bare
 * scalar is never worth signing; jcs_encode() takes any value.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certsvc/jcs.h"

/* 2^53 - 1, the largest integer every IEEE double reader keeps exact. */
#define JCS_INT_MAX 9007199254740991LL
#define JCS_INT_MAX_STR "9007199254740991"
#define JCS_NUM_MAX 32

/* --- parse ---------------------------------------------------------------- */

/*
 * Line and column of offset off in p, as jansson counts them: lines from
 * 1, columns in UTF-8 characters from 1.  Only an error needs them, so
 * the scan below counts offsets and this walks the text again.
 */
static void
scan_position(const unsigned char *p, size_t off, int *line, int *column)
{
	size_t i;

	*line = 1;
	*column = 1;
	for (i = 0; i < off; i++) {
		if (p[i] == '\n') {
			(*line)++;
			*column = 1;
		} else if ((p[i] & 0xc0) != 0x80) {
			(*column)++;
		}
	}
}

static bool
is_number_char(unsigned char c)
{
	return (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.' ||
	    c == 'e' || c == 'E';
}

/*
 * Is the integer token t[0..n) (an optional '-', then digits without
 * leading zeros, as jansson has already checked) within +-(2^53 - 1)?
 * Compared as text, so no token is too long to judge.
 */
static bool
int_token_in_range(const unsigned char *t, size_t n)
{
	size_t maxlen = sizeof(JCS_INT_MAX_STR) - 1;

	if (n > 0 && t[0] == '-') {
		t++;
		n--;
	}
	if (n != maxlen)
		return n < maxlen;
	return memcmp(t, JCS_INT_MAX_STR, maxlen) <= 0;
}

/*
 * The end of the string whose opening quote is at p[i]: the offset just
 * past its closing quote.  The text is valid JSON, so the quote is there;
 * memchr skips the long runs (base64 members) between quotes and escapes.
 */
static size_t
scan_string(const unsigned char *p, size_t len, size_t i)
{
	const unsigned char *q;
	size_t k;

	i++;
	while (i < len) {
		q = memchr(p + i, '"', len - i);
		if (q == NULL)
			return len;
		i = (size_t)(q - p);
		/*
		 * The quote ends the string unless an odd run of '\' precedes
		 * it; the opening quote stops the run.
		 */
		for (k = i; p[k - 1] == '\\'; k--)
			;
		if ((i - k) % 2 == 0)
			return i + 1;
		i++;
	}
	return len;
}

/*
 * The limits jansson does not know: nesting depth and the integer range.
 * Done on the text rather than on the tree so that the error can say
 * where; the text is valid JSON by now, so the scan need not check it.
 */
static enum cs_rc
scan_limits(const void *text, size_t len, struct cs_err *err)
{
	const unsigned char *p = text;
	size_t i = 0, start;
	int depth = 0, line, column;
	bool integer;

	while (i < len) {
		unsigned char c = p[i];

		if (c == '"') {
			i = scan_string(p, len, i);
		} else if (c == '[' || c == '{') {
			if (++depth > JCS_MAX_DEPTH) {
				scan_position(p, i + 1, &line, &column);
				return cs_err_set(err, CS_ERR_INVALID,
				    "line %d column %d: nesting deeper than %d",
				    line, column - 1, JCS_MAX_DEPTH);
			}
			i++;
		} else if (c == ']' || c == '}') {
			depth--;
			i++;
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			start = i;
			integer = true;
			i++;
			while (i < len && is_number_char(p[i])) {
				if (p[i] == '.' || p[i] == 'e' || p[i] == 'E')
					integer = false;
				i++;
			}
			/* Unquoted: a holder id can be such a number. */
			if (integer &&
			    !int_token_in_range(p + start, i - start)) {
				scan_position(p, start, &line, &column);
				return cs_err_set(err, CS_ERR_INVALID,
				    "line %d column %d: integer outside "
				    "+-(2^53-1)",
				    line, column);
			}
		} else {
			i++;
		}
	}
	return CS_OK;
}

enum cs_rc
jcs_parse(const void *p, size_t len, json_t **out, struct cs_err *err)
{
	json_error_t jerr;
	char *near;
	json_t *v;
	enum cs_rc rc;

	*out = NULL;
	if (p == NULL)
		p = "";
	v = json_loadb(p, len, JSON_REJECT_DUPLICATES, &jerr);
	if (v == NULL) {
		/*
		 * jansson adds " near '<input>'": up to 20 bytes of what the
		 * client sent, which may be a holder id or a token.  The
		 * position says where without quoting it.
		 */
		near = strstr(jerr.text, " near ");
		if (near != NULL)
			*near = '\0';
		return cs_err_set(err, CS_ERR_INVALID, "line %d column %d: %s",
		    jerr.line, jerr.column, jerr.text);
	}
	rc = scan_limits(p, len, err);
	if (rc != CS_OK) {
		json_decref(v);
		return rc;
	}
	*out = v;
	return CS_OK;
}

/* --- numbers -------------------------------------------------------------- */

/* Does the decimal digits[0..k) x 10^e read back as exactly d? */
static bool
digits_round_trip(const char *digits, int k, int e, double d)
{
	char text[64];
	int n;

	/* No decimal point, so the reading does not depend on the locale. */
	n = snprintf(text, sizeof(text), "%.*se%d", k, digits, e);
	if (n < 0 || (size_t)n >= sizeof(text))
		return false;
	return strtod(text, NULL) == d;
}

/*
 * The shortest decimal digits[0..*k) with value digits x 10^(*n - *k) that
 * reads back as d (finite, > 0); of those with that many digits, the
 * nearest to d.  For each precision, printf's correctly rounded digits are
 * the nearest; they may miss where a shorter string above d would not,
 * only at a power of two whose gap below is half the gap above, so then
 * the next string up is tried too.
 */
static void
shortest_digits(double d, char digits[18], int *k, int *n)
{
	char text[40];
	const char *t;
	int p, i, e, carry;

	for (p = 1; p <= 17; p++) {
		snprintf(text, sizeof(text), "%.*e", p - 1, d);
		/* d.ddde+XX; the radix character depends on the locale. */
		i = 0;
		for (t = text; *t != 'e' && *t != '\0'; t++)
			if (*t >= '0' && *t <= '9')
				digits[i++] = *t;
		digits[i] = '\0';
		e = (int)strtol(t + 1, NULL, 10);
		/* digits x 10^(e - p + 1) */
		if (digits_round_trip(digits, p, e - p + 1, d))
			break;
		if (p == 17)
			break; /* 17 digits always round-trip */
		/* The next p-digit decimal above. */
		carry = 1;
		for (i = p - 1; i >= 0 && carry; i--) {
			if (digits[i] == '9') {
				digits[i] = '0';
			} else {
				digits[i]++;
				carry = 0;
			}
		}
		if (carry) {
			/* 99..9 + 1: 100..0, one more in the exponent */
			digits[0] = '1';
			e++;
		}
		if (digits_round_trip(digits, p, e - p + 1, d))
			break;
	}
	/* Drop trailing zeros: they make no digit of ECMAScript's k. */
	while (p > 1 && digits[p - 1] == '0')
		p--;
	digits[p] = '\0';
	*k = p;
	*n = e + 1;
}

enum cs_rc
jcs_number(double d, char *out, size_t outsz, struct cs_err *err)
{
	char digits[18], text[JCS_NUM_MAX];
	size_t o = 0;
	int k, n, i;

	if (isnan(d) || isinf(d))
		return cs_err_set(err, CS_ERR_INVALID,
		    "number %s has no JSON form",
		    isnan(d) ? "NaN" : "Infinity");
	if (d == 0) { /* and -0 */
		if (!cs_strlcpy(out, "0", outsz))
			return cs_err_set(
			    err, CS_ERR_INVALID, "number buffer too small");
		return CS_OK;
	}
	if (d < 0) {
		text[o++] = '-';
		d = -d;
	}
	shortest_digits(d, digits, &k, &n);
	/* ECMA-262 Number::toString: value = digits x 10^(n - k) */
	if (k <= n && n <= 21) {
		memcpy(text + o, digits, (size_t)k);
		o += (size_t)k;
		for (i = 0; i < n - k; i++)
			text[o++] = '0';
	} else if (0 < n && n < k) { /* ECMA: 0 < n <= 21; k <= 17 */
		memcpy(text + o, digits, (size_t)n);
		o += (size_t)n;
		text[o++] = '.';
		memcpy(text + o, digits + n, (size_t)(k - n));
		o += (size_t)(k - n);
	} else if (-6 < n && n <= 0) {
		text[o++] = '0';
		text[o++] = '.';
		for (i = 0; i < -n; i++)
			text[o++] = '0';
		memcpy(text + o, digits, (size_t)k);
		o += (size_t)k;
	} else {
		text[o++] = digits[0];
		if (k > 1) {
			text[o++] = '.';
			memcpy(text + o, digits + 1, (size_t)(k - 1));
			o += (size_t)(k - 1);
		}
		/* At most "-d.dddddddddddddddde-324": 24 of 32 bytes. */
		i = snprintf(text + o, sizeof(text) - o, "e%c%d",
		    n - 1 < 0 ? '-' : '+', abs(n - 1));
		if (i < 0 || (size_t)i >= sizeof(text) - o)
			return cs_err_set(
			    err, CS_ERR_INVALID, "number buffer too small");
		o += (size_t)i;
	}
	text[o] = '\0';
	if (!cs_strlcpy(out, text, outsz))
		return cs_err_set(
		    err, CS_ERR_INVALID, "number buffer too small");
	return CS_OK;
}

/* --- encode --------------------------------------------------------------- */

/*
 * Decode one UTF-8 character of s[0..len) at *i into *cp, advancing *i.
 * Strict: no overlong forms, no surrogates, nothing above U+10FFFF.
 */
static bool
utf8_next(const unsigned char *s, size_t len, size_t *i, uint32_t *cp)
{
	unsigned char c = s[*i];
	uint32_t v, min;
	size_t n, j;

	if (c < 0x80) {
		*cp = c;
		(*i)++;
		return true;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 1;
		v = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 2;
		v = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3;
		v = c & 0x07;
		min = 0x10000;
	} else {
		return false;
	}
	if (len - *i <= n)
		return false;
	for (j = 1; j <= n; j++) {
		if ((s[*i + j] & 0xc0) != 0x80)
			return false;
		v = (v << 6) | (s[*i + j] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return false;
	*cp = v;
	*i += n + 1;
	return true;
}

/*
 * A weight that orders code points as their UTF-16 code units do: BMP
 * characters from U+E000 sort after every supplementary character, whose
 * first unit is a surrogate (U+D800-U+DBFF).  Between two supplementary
 * characters, code point order is code unit order.
 */
static uint32_t
utf16_weight(uint32_t cp)
{
	if (cp >= 0xe000 && cp <= 0xffff)
		return cp + 0x110000;
	return cp;
}

struct member {
	const char *key;
	size_t len;
	json_t *value;
};

/*
 * RFC 8785 3.2.3: keys as arrays of UTF-16 code units; all valid UTF-8.
 * UTF-8 bytes sort as code points do, so the keys compare as bytes up to
 * the first character that differs; only that pair needs the UTF-16 rule.
 */
static int
member_cmp(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	const unsigned char *s = (const unsigned char *)x->key;
	const unsigned char *t = (const unsigned char *)y->key;
	size_t i = 0, j, n = x->len < y->len ? x->len : y->len;
	uint32_t c, d;

	while (i < n && s[i] == t[i])
		i++;
	if (i == n)
		return x->len < y->len ? -1 : x->len > y->len;
	/* Back to the start of the character; the bytes before are equal. */
	while (i > 0 && (s[i] & 0xc0) == 0x80)
		i--;
	j = i;
	if (!utf8_next(s, x->len, &i, &c) || !utf8_next(t, y->len, &j, &d))
		return 0; /* unreachable: keys are checked first */
	return utf16_weight(c) < utf16_weight(d) ? -1 : 1;
}

static enum cs_rc
put(struct buf *b, const void *p, size_t len, struct cs_err *err)
{
	if (buf_append(b, p, len) != CS_OK)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	return CS_OK;
}

/* Is s[0..len) valid UTF-8? */
static bool
utf8_valid(const char *s, size_t len)
{
	size_t i = 0;
	uint32_t cp;

	while (i < len)
		if (!utf8_next((const unsigned char *)s, len, &i, &cp))
			return false;
	return true;
}

/*
 * RFC 8785 3.2.2.2: the JSON.stringify() escapes, nothing more.  One pass:
 * runs of characters written as they are, each checked as UTF-8.
 */
static enum cs_rc
put_string(struct buf *b, const char *str, size_t len, struct cs_err *err)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	char esc[7];
	size_t i = 0, run;
	uint32_t cp;
	enum cs_rc rc;

	rc = put(b, "\"", 1, err);
	while (rc == CS_OK && i < len) {
		run = i;
		while (i < len) {
			if (s[i] >= 0x80) {
				if (!utf8_next(s, len, &i, &cp))
					return cs_err_set(err, CS_ERR_INVALID,
					    "string is not UTF-8");
			} else if (s[i] >= 0x20 && s[i] != '"' &&
			    s[i] != '\\') {
				i++;
			} else {
				break;
			}
		}
		if (i > run)
			rc = put(b, s + run, i - run, err);
		if (rc != CS_OK || i == len)
			break;
		/* RFC 8785 would write \u0000, but jcs_parse() refuses it. */
		if (s[i] == '\0')
			return cs_err_set(
			    err, CS_ERR_INVALID, "string contains NUL");
		esc[0] = '\\';
		switch (s[i]) {
		case '"':
		case '\\':
			esc[1] = (char)s[i];
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[s[i] >> 4];
			esc[5] = hex[s[i] & 0xf];
			rc = put(b, esc, 6, err);
			i++;
			continue;
		}
		rc = put(b, esc, 2, err);
		i++;
	}
	if (rc == CS_OK)
		rc = put(b, "\"", 1, err);
	return rc;
}

static enum cs_rc
put_number(struct buf *b, const json_t *v, struct cs_err *err)
{
	char text[JCS_NUM_MAX];
	json_int_t i;
	double d;
	enum cs_rc rc;

	if (json_is_integer(v)) {
		i = json_integer_value(v);
		if (i < -JCS_INT_MAX || i > JCS_INT_MAX)
			return cs_err_set(
			    err, CS_ERR_INVALID, "integer outside +-(2^53-1)");
		d = (double)i;
	} else {
		d = json_real_value(v);
		/* Printed without exponent, so read back as an integer. */
		if (fabs(d) > (double)JCS_INT_MAX && fabs(d) < 1e21)
			return cs_err_set(err, CS_ERR_INVALID,
			    "double prints as an integer outside +-(2^53-1)");
	}
	rc = jcs_number(d, text, sizeof(text), err);
	if (rc == CS_OK)
		rc = put(b, text, strlen(text), err);
	return rc;
}

static enum cs_rc put_value(
    struct buf *b, const json_t *v, int depth, struct cs_err *err);

static enum cs_rc
put_object(struct buf *b, const json_t *v, int depth, struct cs_err *err)
{
	struct member *m = NULL;
	size_t n, i = 0;
	void *it;
	enum cs_rc rc = CS_OK;

	n = json_object_size(v);
	if (n == 0)
		return put(b, "{}", 2, err);
	m = calloc(n, sizeof(*m));
	if (m == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	for (it = json_object_iter((json_t *)v); it != NULL && i < n;
	     it = json_object_iter_next((json_t *)v, it), i++) {
		m[i].key = json_object_iter_key(it);
		m[i].len = json_object_iter_key_len(it);
		m[i].value = json_object_iter_value(it);
		if (!utf8_valid(m[i].key, m[i].len)) {
			rc = cs_err_set(
			    err, CS_ERR_INVALID, "object key is not UTF-8");
			goto out;
		}
	}
	n = i;
	qsort(m, n, sizeof(*m), member_cmp);
	rc = put(b, "{", 1, err);
	for (i = 0; rc == CS_OK && i < n; i++) {
		if (i > 0)
			rc = put(b, ",", 1, err);
		if (rc == CS_OK)
			rc = put_string(b, m[i].key, m[i].len, err);
		if (rc == CS_OK)
			rc = put(b, ":", 1, err);
		if (rc == CS_OK)
			rc = put_value(b, m[i].value, depth, err);
	}
	if (rc == CS_OK)
		rc = put(b, "}", 1, err);
out:
	free(m);
	return rc;
}

static enum cs_rc
put_value(struct buf *b, const json_t *v, int depth, struct cs_err *err)
{
	enum cs_rc rc = CS_OK;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
	case JSON_ARRAY:
		if (depth >= JCS_MAX_DEPTH)
			return cs_err_set(err, CS_ERR_INVALID,
			    "nesting deeper than %d", JCS_MAX_DEPTH);
		if (json_is_object(v))
			return put_object(b, v, depth + 1, err);
		rc = put(b, "[", 1, err);
		for (i = 0; rc == CS_OK && i < json_array_size(v); i++) {
			if (i > 0)
				rc = put(b, ",", 1, err);
			if (rc == CS_OK)
				rc = put_value(
				    b, json_array_get(v, i), depth + 1, err);
		}
		if (rc == CS_OK)
			rc = put(b, "]", 1, err);
		return rc;
	case JSON_STRING:
		return put_string(
		    b, json_string_value(v), json_string_length(v), err);
	case JSON_INTEGER:
	case JSON_REAL:
		return put_number(b, v, err);
	case JSON_TRUE:
		return put(b, "true", 4, err);
	case JSON_FALSE:
		return put(b, "false", 5, err);
	case JSON_NULL:
		return put(b, "null", 4, err);
	}
	return cs_err_set(err, CS_ERR_INVALID, "unknown JSON type");
}

enum cs_rc
jcs_encode(const json_t *v, struct buf **out, struct cs_err *err)
{
	struct buf *b;
	enum cs_rc rc;

	*out = NULL;
	if (v == NULL)
		return cs_err_set(err, CS_ERR_INVALID, "no value to encode");
	b = buf_new(2048);
	if (b == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	rc = put_value(b, v, 0, err);
	if (rc != CS_OK) {
		buf_free(b);
		return rc;
	}
	*out = b;
	return CS_OK;
}
