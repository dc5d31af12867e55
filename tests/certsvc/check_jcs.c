/*
 * check_jcs.c: certsvc/jcs.c.  Known answers from RFC 8785 (Appendix B
 * numbers, the 3.2.2 and 3.2.3 examples), the parser's refusals with their
 * positions, and a property test over random values from a fixed-seed
 * generator: encode, parse, compare, encode again.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certsvc/jcs.h"

/* --- helpers ---------------------------------------------------------------*/

static double
from_bits(uint64_t bits)
{
	double d;

	memcpy(&d, &bits, sizeof(d));
	return d;
}

/* Parse text, which must succeed. */
static json_t *
parse_ok(const char *text)
{
	struct cs_err err = {0};
	json_t *v = NULL;

	ck_assert_msg(jcs_parse(text, strlen(text), &v, &err) == CS_OK,
	    "%s: %s", text, err.msg);
	ck_assert_ptr_nonnull(v);
	return v;
}

/* Parse text, which must fail with msg. */
static void
parse_fails(const char *text, size_t len, const char *msg)
{
	struct cs_err err = {0};
	json_t *v = (json_t *)1;

	ck_assert_int_eq(jcs_parse(text, len, &v, &err), CS_ERR_INVALID);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(err.rc, CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, msg);
}

/* The canonical form of v as a string (caller frees). */
static char *
encode_str(const json_t *v)
{
	struct cs_err err = {0};
	struct buf *b = NULL;
	char *s;

	ck_assert_msg(jcs_encode(v, &b, &err) == CS_OK, "%s", err.msg);
	ck_assert_uint_eq(strlen((char *)b->data), b->len);
	s = strdup((char *)b->data);
	ck_assert_ptr_nonnull(s);
	buf_free(b);
	return s;
}

static void
encode_fails(const json_t *v, const char *msg)
{
	struct cs_err err = {0};
	struct buf *b = (struct buf *)1;

	ck_assert_int_eq(jcs_encode(v, &b, &err), CS_ERR_INVALID);
	ck_assert_ptr_null(b);
	ck_assert_str_eq(err.msg, msg);
}

/* Parse text and check its canonical form. */
static void
canonical_is(const char *text, const char *want)
{
	json_t *v = parse_ok(text);
	char *got = encode_str(v);

	ck_assert_str_eq(got, want);
	free(got);
	json_decref(v);
}

/* depth nested arrays: [[[...]]] */
static char *
nested(int depth)
{
	char *s = calloc((size_t)depth * 2 + 1, 1);
	int i;

	ck_assert_ptr_nonnull(s);
	for (i = 0; i < depth; i++) {
		s[i] = '[';
		s[depth * 2 - 1 - i] = ']';
	}
	return s;
}

/* depth alternating objects and arrays: {"k":[{"k":[...1...]}]} */
static char *
nested_mixed(int depth)
{
	char *s = calloc((size_t)depth * 6 + 2, 1);
	size_t n = 0;
	int i;

	ck_assert_ptr_nonnull(s);
	for (i = 0; i < depth; i++) {
		if (i % 2 == 0) {
			memcpy(s + n, "{\"k\":", 5);
			n += 5;
		} else {
			s[n++] = '[';
		}
	}
	s[n++] = '1';
	for (i = depth - 1; i >= 0; i--)
		s[n++] = i % 2 == 0 ? '}' : ']';
	s[n] = '\0';
	return s;
}

/* --- numbers ---------------------------------------------------------------*/

struct number_vector {
	uint64_t bits;
	const char *text;
};

/* RFC 8785 Appendix B, checked against node's Number.prototype.toString. */
static const struct number_vector rfc8785_numbers[] = {
    {0x0000000000000000, "0"},
    {0x8000000000000000, "0"},
    {0x0000000000000001, "5e-324"},
    {0x8000000000000001, "-5e-324"},
    {0x7fefffffffffffff, "1.7976931348623157e+308"},
    {0xffefffffffffffff, "-1.7976931348623157e+308"},
    {0x4340000000000000, "9007199254740992"},
    {0xc340000000000000, "-9007199254740992"},
    {0x4430000000000000, "295147905179352830000"},
    {0x44b52d02c7e14af5, "9.999999999999997e+22"},
    {0x44b52d02c7e14af6, "1e+23"},
    {0x44b52d02c7e14af7, "1.0000000000000001e+23"},
    {0x444b1ae4d6e2ef4e, "999999999999999700000"},
    {0x444b1ae4d6e2ef4f, "999999999999999900000"},
    {0x444b1ae4d6e2ef50, "1e+21"},
    {0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
    {0x3eb0c6f7a0b5ed8d, "0.000001"},
    {0x41b3de4355555553, "333333333.3333332"},
    {0x41b3de4355555554, "333333333.33333325"},
    {0x41b3de4355555555, "333333333.3333333"},
    {0x41b3de4355555556, "333333333.3333334"},
    {0x41b3de4355555557, "333333333.33333343"},
    {0xbecbf647612f3696, "-0.0000033333333333333333"},
    {0x43143ff3c1cb0959, "1424953923781206.2"},
};

/*
 * Powers of two where the correctly rounded 16 digits do not read back but
 * the next 16-digit decimal up does (the gap below is half the gap above):
 * a "%.*e until it round-trips" search alone gives 17 digits for them.
 */
static const struct number_vector power_of_two_numbers[] = {
    {0x3e70000000000000, "5.960464477539063e-8"},  /* 2^-24 */
    {0x3d30000000000000, "5.684341886080802e-14"}, /* 2^-44 */
    {0x4580000000000000, "6.189700196426902e+26"}, /* 2^89 */
    {0x0060000000000000, "7.120236347223045e-307"},
    {0x7cf0000000000000, "6.386688990511104e+293"},
};

/* Each branch of ECMA-262 Number::toString, and its edges. */
static const struct {
	double d;
	const char *text;
} format_numbers[] = {
    {1, "1"},
    {-1, "-1"},
    {100, "100"},
    {1.5, "1.5"},
    {0.1, "0.1"},
    {-0.5, "-0.5"},
    {123456789012345680000.0, "123456789012345680000"},
    {1e21, "1e+21"},
    {1.5e21, "1.5e+21"},
    {1e-6, "0.000001"},
    {1.25e-6, "0.00000125"},
    {1e-7, "1e-7"},
    {1.25e-7, "1.25e-7"},
    {4.5, "4.5"},
    {0.002, "0.002"},
    {1e30, "1e+30"},
    {1e-27, "1e-27"},
    {9007199254740991.0, "9007199254740991"},
    {2.2250738585072014e-308, "2.2250738585072014e-308"},
};

START_TEST(number_rfc8785_appendix_b)
{
	const struct number_vector *t = &rfc8785_numbers[_i];
	char out[32];

	ck_assert_int_eq(
	    jcs_number(from_bits(t->bits), out, sizeof(out), NULL), CS_OK);
	ck_assert_str_eq(out, t->text);
}
END_TEST

START_TEST(number_power_of_two_shortest)
{
	const struct number_vector *t = &power_of_two_numbers[_i];
	char out[32];

	ck_assert_int_eq(
	    jcs_number(from_bits(t->bits), out, sizeof(out), NULL), CS_OK);
	ck_assert_str_eq(out, t->text);
	ck_assert(strtod(out, NULL) == from_bits(t->bits));
}
END_TEST

START_TEST(number_format_branches)
{
	char out[32];

	ck_assert_int_eq(
	    jcs_number(format_numbers[_i].d, out, sizeof(out), NULL), CS_OK);
	ck_assert_str_eq(out, format_numbers[_i].text);
}
END_TEST

START_TEST(number_nan_and_infinity_rejected)
{
	/* RFC 8785 Appendix B: 7fffffffffffffff NaN, 7ff0000000000000 Inf */
	static const uint64_t bad[] = {0x7fffffffffffffff, 0x7ff8000000000000,
	    0x7ff0000000000000, 0xfff0000000000000};
	struct cs_err err = {0};
	char out[32];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(
		    jcs_number(from_bits(bad[i]), out, sizeof(out), &err),
		    CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, "number Infinity has no JSON form");
	ck_assert_int_eq(
	    jcs_number(NAN, out, sizeof(out), &err), CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, "number NaN has no JSON form");
}
END_TEST

START_TEST(number_small_buffer_rejected)
{
	struct cs_err err = {0};
	char out[8];

	ck_assert_int_eq(jcs_number(1.5, out, sizeof(out), &err), CS_OK);
	ck_assert_str_eq(out, "1.5");
	ck_assert_int_eq(jcs_number(-5e-324, out, 7, &err), CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, "number buffer too small");
	ck_assert_int_eq(jcs_number(0, out, 1, &err), CS_ERR_INVALID);
}
END_TEST

/* --- encode ----------------------------------------------------------------*/

START_TEST(encode_rfc8785_example)
{
	/* RFC 8785 3.2.2 (input) and 3.2.3 (canonical form) */
	canonical_is("{\n"
	             "  \"numbers\": [333333333.33333329, 1E30, 4.50, 2e-3, "
	             "0.000000000000000000000000001],\n"
	             "  \"string\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022"
	             "\\u005c\\\\\\\"\\/\",\n"
	             "  \"literals\": [null, true, false]\n"
	             "}",
	    "{\"literals\":[null,true,false],"
	    "\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
	    "\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
}
END_TEST

START_TEST(encode_sorts_by_utf16_code_units)
{
	/*
	 * RFC 8785 3.2.3.  In UTF-8 byte order U+FB33 (ef ac b3) would come
	 * before U+1F600 (f0 9f 98 80); in UTF-16 the surrogate d83d sorts
	 * before fb33.
	 */
	canonical_is("{\n"
	             "  \"\\u20ac\": \"Euro Sign\",\n"
	             "  \"\\r\": \"Carriage Return\",\n"
	             "  \"\\ufb33\": \"Hebrew Letter Dalet With Dagesh\",\n"
	             "  \"1\": \"One\",\n"
	             "  \"\\ud83d\\ude00\": \"Emoji: Grinning Face\",\n"
	             "  \"\\u0080\": \"Control\",\n"
	             "  \"\\u00f6\": \"Latin Small Letter O With Diaeresis\"\n"
	             "}",
	    "{\"\\r\":\"Carriage Return\","
	    "\"1\":\"One\","
	    "\"\xc2\x80\":\"Control\","
	    "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\","
	    "\"\xe2\x82\xac\":\"Euro Sign\","
	    "\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\","
	    "\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}");
}
END_TEST

START_TEST(encode_sort_prefix_and_supplementary)
{
	/* Prefixes first; U+E000 after U+10000; U+D7FF before it. */
	canonical_is("{\"ab\":1,\"a\":2,\"\":3,\"\\ue000\":4,"
	             "\"\\ud800\\udc00\":5,\"\\ud7ff\":6,\"\\uffff\":7,"
	             "\"\\udbff\\udfff\":8}",
	    "{\"\":3,\"a\":2,\"ab\":1,\"\xed\x9f\xbf\":6,"
	    "\"\xf0\x90\x80\x80\":5,\"\xf4\x8f\xbf\xbf\":8,"
	    "\"\xee\x80\x80\":4,\"\xef\xbf\xbf\":7}");
}
END_TEST

START_TEST(encode_escapes_minimally)
{
	char in[32], want[512];
	json_t *v;
	char *got;
	int c;

	/* Every control character but NUL, then 0x7f and '/'. */
	for (c = 1; c < 0x20; c++)
		in[c - 1] = (char)c;
	memcpy(in + 31, "", 1);
	v = json_pack("[s, s]", in, "\x7f/\"\\\xe2\x80\xa8\xe2\x80\xa9");
	ck_assert_ptr_nonnull(v);
	got = encode_str(v);
	snprintf(want, sizeof(want), "%s",
	    "[\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007"
	    "\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f"
	    "\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017"
	    "\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\","
	    "\"\x7f/\\\"\\\\\xe2\x80\xa8\xe2\x80\xa9\"]");
	ck_assert_str_eq(got, want);
	free(got);
	json_decref(v);
}
END_TEST

START_TEST(encode_literals_and_empties)
{
	json_t *v = json_pack("{s:[], s:{}, s:b, s:b, s:n, s:s, s:I, s:f}", "a",
	    "o", "t", 1, "f", 0, "n", "s", "", "i", (json_int_t)-42, "r", -0.0);
	char *got;

	ck_assert_ptr_nonnull(v);
	got = encode_str(v);
	ck_assert_str_eq(got,
	    "{\"a\":[],\"f\":false,\"i\":-42,\"n\":null,\"o\":{},\"r\":0,"
	    "\"s\":\"\",\"t\":true}");
	free(got);
	json_decref(v);
}
END_TEST

START_TEST(encode_twice_is_identical)
{
	json_t *a = parse_ok("{\"z\":[1,2.5,{\"y\":null,\"x\":\"\\u00e9\"}],"
	                     "\"a\":{\"c\":true,\"b\":false}}");
	json_t *b = json_object();
	struct buf *x = NULL, *y = NULL, *z = NULL;

	ck_assert_int_eq(jcs_encode(a, &x, NULL), CS_OK);
	ck_assert_int_eq(jcs_encode(a, &y, NULL), CS_OK);
	ck_assert_uint_eq(x->len, y->len);
	ck_assert_mem_eq(x->data, y->data, x->len);
	/* Same members, other insertion order: same bytes. */
	ck_assert_int_eq(json_object_set(b, "a", json_object_get(a, "a")), 0);
	ck_assert_int_eq(json_object_set(b, "z", json_object_get(a, "z")), 0);
	ck_assert_int_eq(jcs_encode(b, &z, NULL), CS_OK);
	ck_assert_uint_eq(x->len, z->len);
	ck_assert_mem_eq(x->data, z->data, x->len);
	buf_free(x);
	buf_free(y);
	buf_free(z);
	json_decref(a);
	json_decref(b);
}
END_TEST

START_TEST(encode_integer_range)
{
	json_t *v;
	char *got;

	v = json_pack("[I, I, f, f]", (json_int_t)9007199254740991LL,
	    (json_int_t)-9007199254740991LL, 9007199254740991.0, 1e21);
	got = encode_str(v);
	ck_assert_str_eq(
	    got, "[9007199254740991,-9007199254740991,9007199254740991,1e+21]");
	free(got);
	json_decref(v);

	v = json_integer(9007199254740992LL);
	encode_fails(v, "integer outside +-(2^53-1)");
	json_decref(v);
	v = json_integer(-9007199254740992LL);
	encode_fails(v, "integer outside +-(2^53-1)");
	json_decref(v);
	/* A double that would print as an integer jcs_parse() refuses. */
	v = json_real(9007199254740992.0);
	encode_fails(v, "double prints as an integer outside +-(2^53-1)");
	json_decref(v);
	v = json_real(-999999999999999900000.0);
	encode_fails(v, "double prints as an integer outside +-(2^53-1)");
	json_decref(v);
}
END_TEST

START_TEST(encode_rejects_bad_strings)
{
	json_t *v;

	v = json_stringn_nocheck("\xc3\x28", 2);
	encode_fails(v, "string is not UTF-8");
	json_decref(v);
	v = json_stringn_nocheck("\xed\xa0\x80", 3); /* a lone surrogate */
	encode_fails(v, "string is not UTF-8");
	json_decref(v);
	v = json_stringn_nocheck("\xc0\xaf", 2); /* overlong '/' */
	encode_fails(v, "string is not UTF-8");
	json_decref(v);
	v = json_stringn_nocheck("\xf4\x90\x80\x80", 4); /* > U+10FFFF */
	encode_fails(v, "string is not UTF-8");
	json_decref(v);
	v = json_stringn_nocheck("\xe2\x82", 2); /* cut short */
	encode_fails(v, "string is not UTF-8");
	json_decref(v);
	v = json_stringn("a\0b", 3);
	encode_fails(v, "string contains NUL");
	json_decref(v);

	v = json_object();
	ck_assert_int_eq(
	    json_object_setn_nocheck(v, "\xff", 1, json_null()), 0);
	encode_fails(v, "object key is not UTF-8");
	json_decref(v);
	v = json_object();
	ck_assert_int_eq(json_object_setn(v, "k\0", 2, json_null()), 0);
	encode_fails(v, "string contains NUL");
	json_decref(v);
	encode_fails(NULL, "no value to encode");
}
END_TEST

START_TEST(encode_depth_limit)
{
	char *text = nested(JCS_MAX_DEPTH);
	json_t *v = parse_ok(text), *outer;
	char *got = encode_str(v);

	ck_assert_str_eq(got, text);
	free(got);
	outer = json_pack("{s:o}", "k", v);
	encode_fails(outer, "nesting deeper than 32");
	json_decref(outer);
	free(text);
}
END_TEST

/* --- parse -----------------------------------------------------------------*/

START_TEST(parse_rejects_duplicate_key)
{
	const char *t = "{\n  \"a\": 1,\n  \"b\": {\"x\": 1, \"x\": 2}\n}";

	parse_fails(t, strlen(t), "line 3 column 19: duplicate object key");
}
END_TEST

START_TEST(parse_rejects_invalid_utf8)
{
	static const char *const bad[] = {
	    "[\"\xc3\x28\"]",         /* bad continuation */
	    "[\"\xed\xa0\x80\"]",     /* encoded surrogate */
	    "[\"\xc0\xaf\"]",         /* overlong */
	    "[\"\xf4\x90\x80\x80\"]", /* beyond U+10FFFF */
	    "{\"\xff\": 1}",          /* in a key */
	};
	struct cs_err err = {0};
	json_t *v = NULL;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(jcs_parse(bad[i], strlen(bad[i]), &v, &err),
		    CS_ERR_INVALID);
		ck_assert_ptr_null(v);
		ck_assert_msg(
		    strncmp(err.msg,
		        "line 1 column 2: unable to decode byte 0x", 41) == 0,
		    "%s", err.msg);
	}
	parse_fails(
	    "[\"\xc3\x28\"]", 6, "line 1 column 2: unable to decode byte 0xc3");
}
END_TEST

START_TEST(parse_rejects_trailing_garbage)
{
	const char *t = "{\"a\": 1}\n x";

	parse_fails(t, strlen(t), "line 2 column 2: end of file expected");
	/* Trailing white space is fine. */
	json_decref(parse_ok("{\"a\": 1} \n\t"));
	/* A NUL byte within len is garbage too. */
	parse_fails("{}\0{}", 5, "line 1 column 3: end of file expected");
}
END_TEST

START_TEST(parse_depth_limit)
{
	char *ok = nested(JCS_MAX_DEPTH), *deep = nested(JCS_MAX_DEPTH + 1);

	json_decref(parse_ok(ok));
	parse_fails(
	    deep, strlen(deep), "line 1 column 33: nesting deeper than 32");
	free(ok);
	free(deep);
	/* Objects count too; the position is the opening bracket's. */
	deep = nested_mixed(JCS_MAX_DEPTH + 1);
	parse_fails(
	    deep, strlen(deep), "line 1 column 97: nesting deeper than 32");
	free(deep);
}
END_TEST

START_TEST(parse_integer_range)
{
	const char *t;

	json_decref(parse_ok("[9007199254740991, -9007199254740991, 0, -0]"));
	t = "[1,\n 9007199254740992]";
	parse_fails(
	    t, strlen(t), "line 2 column 2: integer outside +-(2^53-1)");
	t = "{\"n\": -9007199254740992}";
	parse_fails(
	    t, strlen(t), "line 1 column 7: integer outside +-(2^53-1)");
	t = "[10000000000000000]";
	parse_fails(
	    t, strlen(t), "line 1 column 2: integer outside +-(2^53-1)");
	/* jansson itself refuses what does not fit a long long. */
	t = "[99999999999999999999999]";
	parse_fails(t, strlen(t), "line 1 column 24: too big integer");
	/* Reals of any size are numbers, not integers. */
	json_decref(parse_ok("[9007199254740992.0, 1e300, 1E30]"));
	/* Digits inside strings are not numbers. */
	json_decref(parse_ok("{\"9007199254740992\": \"9007199254740992\"}"));
	/* Escaped quotes and backslashes end no string early. */
	json_decref(parse_ok("[\"a\\\" 9007199254740992 \\\\\\\"\"]"));
	t = "[\"\\\\\", \"\xe4\xb8\xad\\\"\", 9007199254740992]";
	parse_fails(
	    t, strlen(t), "line 1 column 15: integer outside +-(2^53-1)");
}
END_TEST

START_TEST(parse_rejects_non_finite)
{
	const char *t;

	t = "[NaN]";
	parse_fails(t, strlen(t), "line 1 column 4: invalid token");
	t = "[Infinity]";
	parse_fails(t, strlen(t), "line 1 column 9: invalid token");
	t = "[-Infinity]";
	parse_fails(t, strlen(t), "line 1 column 2: invalid token");
	t = "[1e400]";
	parse_fails(t, strlen(t), "line 1 column 6: real number overflow");
}
END_TEST

START_TEST(parse_rejects_other_malformed)
{
	const char *t;

	t = "[\"a\\u0000b\"]";
	parse_fails(t, strlen(t),
	    "line 1 column 11: \\u0000 is not allowed without JSON_ALLOW_NUL");
	t = "[\"\\ud800\"]"; /* a lone surrogate escape */
	parse_fails(t, strlen(t), "line 1 column 9: invalid Unicode '\\uD800'");
	t = "[\"a\tb\"]";
	parse_fails(t, strlen(t), "line 1 column 3: control character 0x9");
	t = "\"scalar\"";
	parse_fails(t, strlen(t), "line 1 column 8: '[' or '{' expected");
	parse_fails("", 0, "line 1 column 0: '[' or '{' expected");
	parse_fails(NULL, 0, "line 1 column 0: '[' or '{' expected");
	t = "{\"a\": [1, 2}";
	parse_fails(t, strlen(t), "line 1 column 12: ']' expected");
}
END_TEST

START_TEST(parse_error_counts_characters_not_bytes)
{
	/* jansson counts columns in characters: "€" is one. */
	const char *t =
	    "{\"\xe2\x82\xac\": 1,\n \"k\": [1, 12345678901234567]}";

	parse_fails(
	    t, strlen(t), "line 2 column 11: integer outside +-(2^53-1)");
	t = "{\"\xe2\x82\xac\": [9007199254740992]}";
	parse_fails(
	    t, strlen(t), "line 1 column 8: integer outside +-(2^53-1)");
}
END_TEST

START_TEST(parse_errors_do_not_quote_input)
{
	/* STYLE.md 3: messages reach clients and logs, holder ids must not. */
	static const char *const bad[] = {
	    "{\"holder\": 110101199003071234}",
	    "{\"holder\": \"110101199003071234",
	    "{\"holder\": 110101199003071234x}",
	    "{\"holder\": \"110101199003071234\", \"holder\": 1}",
	};
	struct cs_err err = {0};
	json_t *v = NULL;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(jcs_parse(bad[i], strlen(bad[i]), &v, &err),
		    CS_ERR_INVALID);
		ck_assert_msg(strstr(err.msg, "1101") == NULL, "%s", err.msg);
		ck_assert_msg(strstr(err.msg, "holder") == NULL, "%s", err.msg);
	}
	ck_assert_str_eq(err.msg, "line 1 column 41: duplicate object key");
}
END_TEST

START_TEST(parse_null_err_is_allowed)
{
	json_t *v = (json_t *)1;

	ck_assert_int_eq(jcs_parse("[", 1, &v, NULL), CS_ERR_INVALID);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(jcs_parse("[1e999]", 7, &v, NULL), CS_ERR_INVALID);
	ck_assert_int_eq(
	    jcs_parse("[9007199254740992]", 18, &v, NULL), CS_ERR_INVALID);
	ck_assert_ptr_null(v);
}
END_TEST

/* --- property: parse(encode(x)) == x ---------------------------------------*/

/* xorshift64*: fixed seed, same values on every run and platform. */
struct prng {
	uint64_t s;
};

static uint64_t
prng_next(struct prng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1DULL;
}

static uint32_t
prng_below(struct prng *r, uint32_t n)
{
	return (uint32_t)((prng_next(r) >> 32) % n);
}

/* Append the UTF-8 of code point cp to s at *n. */
static void
put_utf8(char *s, size_t *n, uint32_t cp)
{
	if (cp < 0x80) {
		s[(*n)++] = (char)cp;
	} else if (cp < 0x800) {
		s[(*n)++] = (char)(0xc0 | cp >> 6);
		s[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		s[(*n)++] = (char)(0xe0 | cp >> 12);
		s[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		s[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		s[(*n)++] = (char)(0xf0 | cp >> 18);
		s[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		s[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		s[(*n)++] = (char)(0x80 | (cp & 0x3f));
	}
}

/* A random string of up to 8 characters from every range that matters. */
static size_t
random_string(struct prng *r, char s[40])
{
	size_t n = 0, len = prng_below(r, 9), i;
	uint32_t cp;

	for (i = 0; i < len; i++) {
		switch (prng_below(r, 6)) {
		case 0:
			cp = 1 + prng_below(r, 0x1f); /* controls */
			break;
		case 1:
			cp = 0x20 + prng_below(r, 0x60); /* ASCII incl. 7f */
			break;
		case 2:
			cp = 0x80 + prng_below(r, 0x780);
			break;
		case 3:
			cp = 0x800 + prng_below(r, 0xd800 - 0x800);
			break;
		case 4:
			cp =
			    0xe000 + prng_below(r, 0x2000); /* vs. surrogates */
			break;
		default:
			cp = 0x10000 + prng_below(r, 0x100000);
			break;
		}
		put_utf8(s, &n, cp);
	}
	s[n] = '\0';
	return n;
}

static json_t *
random_number(struct prng *r)
{
	double d;

	switch (prng_below(r, 4)) {
	case 0: /* integers of every magnitude */
		return json_integer(
		    (json_int_t)(prng_next(r) >> (11 + prng_below(r, 53))) *
		    (prng_below(r, 2) ? 1 : -1));
	case 1: /* short decimals */
		return json_real(
		    (double)(int32_t)prng_next(r) / pow(10, prng_below(r, 12)));
	default: /* any finite double outside [2^53, 1e21) */
		do {
			d = from_bits(prng_next(r));
		} while (!isfinite(d) ||
		    (fabs(d) > 9007199254740991.0 && fabs(d) < 1e21));
		return json_real(d);
	}
}

static json_t *
random_value(struct prng *r, int depth)
{
	char s[40];
	json_t *v;
	size_t n, i, len;

	if (depth < JCS_MAX_DEPTH && prng_below(r, 3 + depth) < 2) {
		len = prng_below(r, 5);
		if (prng_below(r, 2)) {
			v = json_array();
			for (i = 0; i < len; i++)
				json_array_append_new(
				    v, random_value(r, depth + 1));
			return v;
		}
		v = json_object();
		for (i = 0; i < len; i++) {
			n = random_string(r, s);
			json_object_setn_new(
			    v, s, n, random_value(r, depth + 1));
		}
		return v;
	}
	switch (prng_below(r, 5)) {
	case 0:
		n = random_string(r, s);
		return json_stringn(s, n);
	case 1:
		return json_boolean(prng_below(r, 2));
	case 2:
		return json_null();
	default:
		return random_number(r);
	}
}

/* json_equal(), but numbers compare by value: 4.0 reads back as 4. */
static int
same(const json_t *a, const json_t *b)
{
	const char *key;
	size_t i, klen;
	json_t *va;

	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) == json_number_value(b);
	if (json_typeof(a) != json_typeof(b))
		return 0;
	if (json_is_array(a)) {
		if (json_array_size(a) != json_array_size(b))
			return 0;
		for (i = 0; i < json_array_size(a); i++)
			if (!same(json_array_get(a, i), json_array_get(b, i)))
				return 0;
		return 1;
	}
	if (json_is_object(a)) {
		if (json_object_size(a) != json_object_size(b))
			return 0;
		json_object_keylen_foreach((json_t *)a, key, klen, va)
		{
			json_t *vb = json_object_getn(b, key, klen);

			if (vb == NULL || !same(va, vb))
				return 0;
		}
		return 1;
	}
	return json_equal(a, b);
}

START_TEST(property_round_trip)
{
	struct prng r = {0x9e3779b97f4a7c15ULL};
	struct cs_err err = {0};
	struct buf *x, *y;
	json_t *v, *w;
	int i;

	for (i = 0; i < 3000; i++) {
		v = prng_below(&r, 2) ? json_array() : json_object();
		if (json_is_array(v))
			json_array_append_new(v, random_value(&r, 1));
		else
			json_object_set_new(v, "k", random_value(&r, 1));
		x = NULL;
		y = NULL;
		w = NULL;
		ck_assert_msg(
		    jcs_encode(v, &x, &err) == CS_OK, "%d: %s", i, err.msg);
		ck_assert_msg(jcs_parse(x->data, x->len, &w, &err) == CS_OK,
		    "%d: %s: %s", i, err.msg, (char *)x->data);
		ck_assert_msg(same(v, w), "%d: %s", i, (char *)x->data);
		/* The canonical form of the canonical form is itself. */
		ck_assert_int_eq(jcs_encode(w, &y, &err), CS_OK);
		ck_assert_uint_eq(x->len, y->len);
		ck_assert_mem_eq(x->data, y->data, x->len);
		buf_free(x);
		buf_free(y);
		json_decref(v);
		json_decref(w);
	}
}
END_TEST

START_TEST(property_numbers_round_trip)
{
	struct prng r = {0x0123456789abcdefULL};
	char out[32];
	double d;
	int i;

	for (i = 0; i < 200000; i++) {
		d = from_bits(prng_next(&r));
		if (!isfinite(d))
			continue;
		ck_assert_int_eq(jcs_number(d, out, sizeof(out), NULL), CS_OK);
		ck_assert_msg(strtod(out, NULL) == d, "%a -> %s", d, out);
	}
}
END_TEST

static Suite *
jcs_suite(void)
{
	Suite *s = suite_create("jcs");
	TCase *tc;

	tc = tcase_create("number");
	tcase_add_loop_test(tc, number_rfc8785_appendix_b, 0,
	    sizeof(rfc8785_numbers) / sizeof(rfc8785_numbers[0]));
	tcase_add_loop_test(tc, number_power_of_two_shortest, 0,
	    sizeof(power_of_two_numbers) / sizeof(power_of_two_numbers[0]));
	tcase_add_loop_test(tc, number_format_branches, 0,
	    sizeof(format_numbers) / sizeof(format_numbers[0]));
	tcase_add_test(tc, number_nan_and_infinity_rejected);
	tcase_add_test(tc, number_small_buffer_rejected);
	suite_add_tcase(s, tc);

	tc = tcase_create("encode");
	tcase_add_test(tc, encode_rfc8785_example);
	tcase_add_test(tc, encode_sorts_by_utf16_code_units);
	tcase_add_test(tc, encode_sort_prefix_and_supplementary);
	tcase_add_test(tc, encode_escapes_minimally);
	tcase_add_test(tc, encode_literals_and_empties);
	tcase_add_test(tc, encode_twice_is_identical);
	tcase_add_test(tc, encode_integer_range);
	tcase_add_test(tc, encode_rejects_bad_strings);
	tcase_add_test(tc, encode_depth_limit);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_test(tc, parse_rejects_duplicate_key);
	tcase_add_test(tc, parse_rejects_invalid_utf8);
	tcase_add_test(tc, parse_rejects_trailing_garbage);
	tcase_add_test(tc, parse_depth_limit);
	tcase_add_test(tc, parse_integer_range);
	tcase_add_test(tc, parse_rejects_non_finite);
	tcase_add_test(tc, parse_rejects_other_malformed);
	tcase_add_test(tc, parse_error_counts_characters_not_bytes);
	tcase_add_test(tc, parse_errors_do_not_quote_input);
	tcase_add_test(tc, parse_null_err_is_allowed);
	suite_add_tcase(s, tc);

	tc = tcase_create("property");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, property_round_trip);
	tcase_add_test(tc, property_numbers_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(jcs_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
