/*
 * codes.c: unified social credit codes (GB 32100-2015, with the GB
 * 11714-1997 organisation code inside) and e-licence identifiers
 * (docs/identifiers.md).  Pure functions of their input: no allocation,
 * no locale (character classes are spelled out, not <ctype.h>).
 *
 * Each check is written once as a "why" function that says what is wrong
 * with an identifier without naming it, so that a licence id's message can
 * name the segment ("issuer: character 18 should be 'A'") and a credit
 * code's can name the code.  Identifiers are quoted in messages only in a
 * sanitised, truncated form: they come from clients.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "certsvc/codes.h"

/* GB 32100: digits and upper-case letters without I, O, S, V, Z. */
static const char credit_alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
#define CREDIT_RADIX 31

/* W_i = 3^(i-1) mod 31, i = 1..17. */
static const int credit_weights[17] = {
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};

/* GB 11714 weights over the 8 body characters. */
static const int org_weights[8] = {3, 7, 9, 10, 5, 8, 4, 2};

/*
 * Registration authorities (character 1): GB 32100-2015 table 1 has 1
 * (机构编制), 5 (民政), 9 (工商) and Y (其他); later notices added 2 (外交),
 * 3 (司法行政), 4 (文化), 6 (旅游), 7 (宗教), 8 (工会), A (中央军委改革和编制
 * 办公室) and N (农业).  Real codes with each of them are in circulation.
 */
static const char credit_authorities[] = "123456789ANY";

#define TYPE_MIN 2
#define TYPE_MAX 16
#define YEAR_MIN 1970
#define YEAR_MAX 9999
#define SERIAL_MIN_DIGITS 8
#define SERIAL_MAX INT64_C(99999999999)

#define WHY_MAX 128
#define QUOTE_MAX 68 /* 64 bytes, "...", NUL */

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

/* [0-9A-Z] as 0..35 (ISO 7064 and GB 11714), or -1. */
static int
alnum_value(char c)
{
	if (is_digit(c))
		return c - '0';
	if (is_upper(c))
		return c - 'A' + 10;
	return -1;
}

/* Index in the GB 32100 alphabet, or -1. */
static int
credit_value(char c)
{
	const char *p;

	if (c == '\0')
		return -1;
	p = strchr(credit_alphabet, c);
	return p == NULL ? -1 : (int)(p - credit_alphabet);
}

/*
 * s for a message: at most 64 bytes, anything but printable ASCII (and the
 * quote) as '?', "..." when cut.  Clients chose these bytes.
 */
static const char *
quote(const char *s, char out[QUOTE_MAX])
{
	size_t i;

	if (s == NULL)
		s = "";
	for (i = 0; i < QUOTE_MAX - 4 && s[i] != '\0'; i++)
		out[i] =
		    s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\'' ? s[i] : '?';
	if (s[i] != '\0') {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
	return out;
}

/* A character for a message: 'A', or 0x01 when it is not printable. */
static const char *
quote_char(char c, char out[8])
{
	unsigned char u = (unsigned char)c;

	if (u >= 0x20 && u < 0x7f && c != '\'')
		snprintf(out, 8, "'%c'", c);
	else
		snprintf(out, 8, "0x%02x", u);
	return out;
}

/* --- GB 11714 and GB 32100 ------------------------------------------------ */

char
codes_org_check_char(const char *first8)
{
	int i, v, sum = 0, c;

	if (first8 == NULL)
		return 0;
	for (i = 0; i < 8; i++) {
		v = alnum_value(first8[i]);
		if (v < 0)
			return 0;
		sum += v * org_weights[i];
	}
	c = 11 - sum % 11;
	if (c == 10)
		return 'X';
	if (c == 11)
		return '0';
	return (char)('0' + c);
}

char
codes_credit_check_char(const char *first17)
{
	int i, v, sum = 0;

	if (first17 == NULL)
		return 0;
	for (i = 0; i < 17; i++) {
		v = credit_value(first17[i]);
		if (v < 0)
			return 0;
		sum += v * credit_weights[i];
	}
	return credit_alphabet[(CREDIT_RADIX - sum % CREDIT_RADIX) %
	    CREDIT_RADIX];
}

/* What is wrong with a credit code, into why; false if anything is. */
static bool
credit_why(const char *code, char *why, size_t whysz)
{
	char qc[8], want;
	int i;

	if (code == NULL || strlen(code) != CODES_CREDIT_LEN) {
		snprintf(why, whysz, "must be %d characters", CODES_CREDIT_LEN);
		return false;
	}
	/* Left to right, so the message names the first wrong position. */
	for (i = 0; i < CODES_CREDIT_LEN; i++) {
		char c = code[i];

		if (credit_value(c) < 0) {
			snprintf(why, whysz, "character %d %s is not allowed",
			    i + 1, quote_char(c, qc));
			return false;
		}
		if (i == 0 && strchr(credit_authorities, c) == NULL) {
			snprintf(why, whysz,
			    "character 1 %s is not a registration authority "
			    "(1-9, A, N, Y)",
			    quote_char(c, qc));
			return false;
		}
		if (i == 1 && (c < '1' || c > '9')) {
			snprintf(why, whysz,
			    "character 2 %s is not an organisation category "
			    "(1-9)",
			    quote_char(c, qc));
			return false;
		}
		if (i >= 2 && i <= 7 && !is_digit(c)) {
			snprintf(why, whysz,
			    "character %d must be a digit (region code)",
			    i + 1);
			return false;
		}
		if (i == 16) {
			want = codes_org_check_char(code + 8);
			if (c != want) {
				snprintf(why, whysz,
				    "character 17 should be '%c' "
				    "(organisation code check)",
				    want);
				return false;
			}
		}
		if (i == 17) {
			want = codes_credit_check_char(code);
			if (c != want) {
				snprintf(why, whysz,
				    "character 18 should be '%c'", want);
				return false;
			}
		}
	}
	return true;
}

enum cs_rc
codes_credit_check(const char *code, struct cs_err *err)
{
	char why[WHY_MAX], q[QUOTE_MAX];

	if (credit_why(code, why, sizeof(why)))
		return CS_OK;
	return cs_err_set(
	    err, CS_ERR_INVALID, "credit code '%s': %s", quote(code, q), why);
}

/* --- licence types -------------------------------------------------------- */

static bool
type_why(const char *code, char *why, size_t whysz)
{
	char qc[8];
	size_t i, n;

	n = code == NULL ? 0 : strlen(code);
	if (n < TYPE_MIN || n > TYPE_MAX) {
		snprintf(why, whysz, "must be %d to %d characters", TYPE_MIN,
		    TYPE_MAX);
		return false;
	}
	for (i = 0; i < n; i++) {
		if (alnum_value(code[i]) < 0) {
			snprintf(why, whysz,
			    "character %zu %s is not allowed (A-Z, 0-9)", i + 1,
			    quote_char(code[i], qc));
			return false;
		}
	}
	if (!is_upper(code[0])) {
		snprintf(why, whysz, "must start with a letter");
		return false;
	}
	return true;
}

enum cs_rc
codes_type_check(const char *code, struct cs_err *err)
{
	char why[WHY_MAX], q[QUOTE_MAX];

	if (type_why(code, why, sizeof(why)))
		return CS_OK;
	return cs_err_set(
	    err, CS_ERR_INVALID, "licence type '%s': %s", quote(code, q), why);
}

/* --- ISO/IEC 7064 MOD 37,36 and licence ids --------------------------------
 */

/*
 * The hybrid system with M = 36: P = M; for each character a, S = (P + a)
 * mod M (M for 0), P = 2S mod (M + 1); the check character c makes
 * (P + c) mod M = 1.
 */
char
codes_mod3736(const char *s)
{
	int p = 36, v, sum;

	if (s == NULL)
		return 0;
	for (; *s != '\0'; s++) {
		v = alnum_value(*s);
		if (v < 0)
			return 0;
		sum = (p + v) % 36;
		if (sum == 0)
			sum = 36;
		p = sum * 2 % 37;
	}
	v = (37 - p) % 36;
	return (char)(v < 10 ? '0' + v : 'A' + v - 10);
}

enum cs_rc
codes_licence_id(const char *type, const char *issuer, int year, int64_t serial,
    char *out, size_t outsz, struct cs_err *err)
{
	char body[CODES_LICENCE_ID_MAX], check;
	enum cs_rc rc;
	int n;

	if (outsz > 0)
		out[0] = '\0';
	rc = codes_type_check(type, err);
	if (rc != CS_OK)
		return rc;
	rc = codes_credit_check(issuer, err);
	if (rc != CS_OK)
		return rc;
	if (year < YEAR_MIN || year > YEAR_MAX)
		return cs_err_set(err, CS_ERR_INVALID,
		    "licence year %d is outside %d to %d", year, YEAR_MIN,
		    YEAR_MAX);
	if (serial < 1 || serial > SERIAL_MAX)
		return cs_err_set(err, CS_ERR_INVALID,
		    "licence serial %" PRId64 " is outside 1 to %" PRId64,
		    serial, SERIAL_MAX);
	n = snprintf(body, sizeof(body), "%s%s%04d%08" PRId64, type, issuer,
	    year, serial);
	if (n < 0 || (size_t)n >= sizeof(body))
		return cs_err_set(err, CS_ERR_INVALID, "licence id too long");
	check = codes_mod3736(body);
	n = snprintf(out, outsz, "%s-%s-%04d-%08" PRId64 "-%c", type, issuer,
	    year, serial, check);
	if (n < 0 || (size_t)n >= outsz) {
		if (outsz > 0)
			out[0] = '\0';
		return cs_err_set(
		    err, CS_ERR_INVALID, "licence id buffer too small");
	}
	return CS_OK;
}

/* serial: 8 or more digits, zero-padded to 8 and no further, 1 to max. */
static bool
serial_why(const char *s, char *why, size_t whysz)
{
	int64_t v = 0;
	size_t i, n = strlen(s);

	for (i = 0; i < n; i++) {
		if (!is_digit(s[i])) {
			snprintf(why, whysz, "serial: must be digits");
			return false;
		}
	}
	if (n < SERIAL_MIN_DIGITS) {
		snprintf(why, whysz, "serial: must be at least %d digits",
		    SERIAL_MIN_DIGITS);
		return false;
	}
	/* One serial, one spelling: no padding beyond 8 digits. */
	if (n > SERIAL_MIN_DIGITS && s[0] == '0') {
		snprintf(why, whysz, "serial: has extra leading zeros");
		return false;
	}
	for (i = 0; i < n && v <= SERIAL_MAX; i++)
		v = v * 10 + (s[i] - '0');
	if (v < 1 || v > SERIAL_MAX) {
		snprintf(
		    why, whysz, "serial: must be 1 to %" PRId64, SERIAL_MAX);
		return false;
	}
	return true;
}

/* Exactly four digits. */
static bool
year_parse(const char *s, int *year)
{
	int i;

	*year = 0;
	for (i = 0; i < 4; i++) {
		if (!is_digit(s[i]))
			return false;
		*year = *year * 10 + (s[i] - '0');
	}
	return s[4] == '\0';
}

static bool
licence_id_why(const char *id, char *why, size_t whysz)
{
	char copy[CODES_LICENCE_ID_MAX + 1], body[CODES_LICENCE_ID_MAX + 1];
	char inner[WHY_MAX - 16], *seg[5], *p, want;
	size_t n;
	int i, year;

	n = strlen(id);
	if (n > CODES_LICENCE_ID_MAX) {
		snprintf(why, whysz, "longer than %d characters",
		    CODES_LICENCE_ID_MAX);
		return false;
	}
	memcpy(copy, id, n + 1);
	seg[0] = copy;
	for (i = 1, p = copy; *p != '\0'; p++) {
		if (*p != '-')
			continue;
		if (i == 5) {
			i++;
			break;
		}
		*p = '\0';
		seg[i++] = p + 1;
	}
	if (i != 5) {
		snprintf(why, whysz,
		    "must be <type>-<issuer>-<year>-<serial>-<check>");
		return false;
	}
	if (!type_why(seg[0], inner, sizeof(inner))) {
		snprintf(why, whysz, "type: %s", inner);
		return false;
	}
	if (!credit_why(seg[1], inner, sizeof(inner))) {
		snprintf(why, whysz, "issuer: %s", inner);
		return false;
	}
	if (!year_parse(seg[2], &year) || year < YEAR_MIN) {
		snprintf(why, whysz, "year: must be 4 digits from %d to %d",
		    YEAR_MIN, YEAR_MAX);
		return false;
	}
	if (!serial_why(seg[3], why, whysz))
		return false;
	if (strlen(seg[4]) != 1 || alnum_value(seg[4][0]) < 0) {
		snprintf(why, whysz, "check: must be one of 0-9, A-Z");
		return false;
	}
	/* The id without its hyphens and check: the segments are in place. */
	for (n = 0, p = copy; p < seg[4]; p++)
		if (*p != '\0')
			body[n++] = *p;
	body[n] = '\0';
	want = codes_mod3736(body);
	if (seg[4][0] != want) {
		snprintf(why, whysz, "check character should be '%c'", want);
		return false;
	}
	return true;
}

enum cs_rc
codes_licence_id_check(const char *id, struct cs_err *err)
{
	char why[WHY_MAX], q[QUOTE_MAX];

	if (id == NULL)
		id = "";
	if (licence_id_why(id, why, sizeof(why)))
		return CS_OK;
	return cs_err_set(
	    err, CS_ERR_INVALID, "licence id '%s': %s", quote(id, q), why);
}
