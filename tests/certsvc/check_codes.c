/*
 * check_codes.c: certsvc/codes.c.  Real published credit codes, verified
 * by hand below; codes generated from hand-picked bodies with the module's
 * own check functions; exact messages for every kind of wrong input; and
 * the detection properties of both check characters, exhaustively where
 * the state space is small.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certsvc/codes.h"

#define ALNUM "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define CREDIT_ALPHABET "0123456789ABCDEFGHJKLMNPQRTUWXY"

/*
 * Published codes of registered companies (public record), checked by hand
 * with the weights of GB 11714 (3 7 9 10 5 8 4 2) and GB 32100 (1 3 9 27
 * 19 26 16 17 20 29 25 13 8 24 10 30 28; values by index in
 * 0123456789ABCDEFGHJKLMNPQRTUWXY, so M = 21, T = 26, Y = 30).
 *
 * 91350100M000100Y43
 *   char 17: M000100Y = 22 0 0 0 1 0 0 34 (A = 10 .. Z = 35):
 *     22*3 + 1*5 + 34*2 = 139; 139 mod 11 = 7; 11 - 7 = 4      -> '4'
 *   char 18: 9*1 + 1*3 + 3*9 + 5*27 + 1*26 + M 21*20 + 1*8 + Y 30*30
 *     + 4*28 = 9+3+27+135+26+420+8+900+112 = 1640;
 *     1640 mod 31 = 28; 31 - 28 = 3                             -> '3'
 * 914403001922038216
 *   char 17: 1 9 2 2 0 3 8 2: 3+63+18+20+0+24+32+4 = 164;
 *     164 mod 11 = 10; 11 - 10 = 1                              -> '1'
 *   char 18: 9+3+36+108+78+20+261+50+26+0+72+80+60+28 = 831;
 *     831 mod 31 = 25; 31 - 25 = 6                              -> '6'
 * 91440300708461136T
 *   char 17: 7 0 8 4 6 1 1 3: 21+0+72+40+30+8+4+6 = 181;
 *     181 mod 11 = 5; 11 - 5 = 6                                -> '6'
 *   char 18: 9+3+36+108+78+140+0+200+52+48+24+10+90+168 = 966;
 *     966 mod 31 = 5; 31 - 5 = 26                               -> 'T'
 */
static const char *const real_codes[] = {
    "91350100M000100Y43",
    "914403001922038216",
    "91440300708461136T",
};

/*
 * Hand-picked first 16 characters: every registration authority, the
 * organisation check's special values ('X' for 10, '0' for 11) and the
 * credit check's (31 -> '0').
 */
static const char *const bodies[] = {
    "1111000000000006", /* char 17 'X' */
    "2191000000000000", /* char 17 '0' */
    "3144030012345678",
    "4211010087654321",
    "5132000050000000",
    "6231000011223344",
    "7344010099999999",
    "8153010010000000",
    "9144030070846113",
    "A111010000000001",
    "N252010000000002",
    "Y162010000000003",
    "91110000MA01ABCD",
    "9211000000000000",
};

/* body (16 characters) completed with both check characters */
static void
complete(const char *body, char out[19])
{
	memcpy(out, body, 16);
	out[16] = codes_org_check_char(body + 8);
	ck_assert_int_ne(out[16], 0);
	out[17] = codes_credit_check_char(out);
	ck_assert_int_ne(out[17], 0);
	out[18] = '\0';
}

static void
credit_fails(const char *code, const char *msg)
{
	struct cs_err err = {0};

	ck_assert_int_eq(codes_credit_check(code, &err), CS_ERR_INVALID);
	ck_assert_int_eq(err.rc, CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, msg);
}

/* --- credit codes ----------------------------------------------------------*/

START_TEST(credit_real_codes_are_valid)
{
	struct cs_err err = {0};
	size_t i;

	for (i = 0; i < sizeof(real_codes) / sizeof(real_codes[0]); i++)
		ck_assert_msg(codes_credit_check(real_codes[i], &err) == CS_OK,
		    "%s", err.msg);
	/* The intermediate values of the comment above. */
	ck_assert_int_eq(codes_org_check_char("M000100Y"), '4');
	ck_assert_int_eq(codes_credit_check_char("91350100M000100Y4"), '3');
	ck_assert_int_eq(codes_org_check_char("19220382"), '1');
	ck_assert_int_eq(codes_credit_check_char("91440300192203821"), '6');
	ck_assert_int_eq(codes_org_check_char("70846113"), '6');
	ck_assert_int_eq(codes_credit_check_char("91440300708461136"), 'T');
	ck_assert_int_eq(codes_credit_check(real_codes[0], NULL), CS_OK);
}
END_TEST

START_TEST(credit_generated_codes_are_valid)
{
	struct cs_err err = {0};
	char code[19];
	size_t i;

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		complete(bodies[i], code);
		ck_assert_msg(codes_credit_check(code, &err) == CS_OK, "%s: %s",
		    code, err.msg);
	}
	complete(bodies[0], code);
	ck_assert_str_eq(code + 16, "XN");
	complete(bodies[1], code);
	ck_assert_int_eq(code[16], '0');
	/* 31 - (sum mod 31) = 31 is written '0'. */
	ck_assert_int_eq(codes_credit_check_char("00000000000000000"), '0');
	ck_assert_int_eq(codes_credit_check_char("10000000000000000"), 'Y');
}
END_TEST

START_TEST(credit_check_chars_refuse_bad_input)
{
	ck_assert_int_eq(codes_credit_check_char(NULL), 0);
	ck_assert_int_eq(codes_credit_check_char("9135010"), 0);
	ck_assert_int_eq(codes_credit_check_char("91350100I000100Y4"), 0);
	ck_assert_int_eq(codes_credit_check_char("91350100m000100Y4"), 0);
	ck_assert_int_eq(codes_org_check_char(NULL), 0);
	ck_assert_int_eq(codes_org_check_char("1234567"), 0);
	ck_assert_int_eq(codes_org_check_char("1234567a"), 0);
	ck_assert_int_eq(codes_org_check_char("00000000"), '0');
	ck_assert_int_eq(codes_org_check_char("00000006"), 'X');
}
END_TEST

static const struct {
	const char *code;
	const char *msg;
} credit_invalid[] = {
    {"", "credit code '': must be 18 characters"},
    {"91350100M000100Y4",
        "credit code '91350100M000100Y4': must be 18 characters"},
    {"91350100M000100Y433",
        "credit code '91350100M000100Y433': must be 18 characters"},
    {"913501I0M000100Y43",
        "credit code '913501I0M000100Y43': character 7 'I' is not allowed"},
    {"91350100m000100Y43",
        "credit code '91350100m000100Y43': character 9 'm' is not allowed"},
    {"91350100M000100O43",
        "credit code '91350100M000100O43': character 16 'O' is not allowed"},
    {"91350100M000100Y4Z",
        "credit code '91350100M000100Y4Z': character 18 'Z' is not allowed"},
    {"9135\x01"
     "100M000100Y43",
        "credit code '9135?100M000100Y43': character 5 0x01 is not allowed"},
    {"9135'100M000100Y43",
        "credit code '9135?100M000100Y43': character 5 0x27 is not allowed"},
    {"01350100M000100Y43",
        "credit code '01350100M000100Y43': character 1 "
        "'0' is not a registration authority (1-9, A, N, "
        "Y)"},
    {"B1350100M000100Y43",
        "credit code 'B1350100M000100Y43': character 1 "
        "'B' is not a registration authority (1-9, A, N, "
        "Y)"},
    {"90350100M000100Y43",
        "credit code '90350100M000100Y43': character 2 "
        "'0' is not an organisation category (1-9)"},
    {"9A350100M000100Y43",
        "credit code '9A350100M000100Y43': character 2 "
        "'A' is not an organisation category (1-9)"},
    {"913A0100M000100Y43",
        "credit code '913A0100M000100Y43': character 4 "
        "must be a digit (region code)"},
    {"9135010YM000100Y43",
        "credit code '9135010YM000100Y43': character 8 "
        "must be a digit (region code)"},
    {"91350100M000100Y53",
        "credit code '91350100M000100Y53': character 17 "
        "should be '4' (organisation code check)"},
    {"91350100M000100Y44",
        "credit code '91350100M000100Y44': character 18 "
        "should be '3'"},
    {"91350100M000100Y4A",
        "credit code '91350100M000100Y4A': character 18 "
        "should be '3'"},
    /* The first wrong position wins. */
    {"0A3501I0m000100Y4Z",
        "credit code '0A3501I0m000100Y4Z': character 1 "
        "'0' is not a registration authority (1-9, A, N, "
        "Y)"},
    {"91350100M000100Y",
        "credit code '91350100M000100Y': must be 18 "
        "characters"},
    /* Lengths are in bytes: "é" is two. */
    {"91350100M000100Y4\xc3\xa9",
        "credit code '91350100M000100Y4?"
        "?': must be 18 characters"},
    {"91350100M000100Y\xc3\xa9",
        "credit code '91350100M000100Y?"
        "?': character 17 0xc3 is not "
        "allowed"},
};

START_TEST(credit_invalid_codes_name_the_position)
{
	credit_fails(credit_invalid[_i].code, credit_invalid[_i].msg);
}
END_TEST

START_TEST(credit_messages_are_bounded)
{
	char code[200], want[256];

	memset(code, '9', sizeof(code) - 1);
	code[sizeof(code) - 1] = '\0';
	snprintf(want, sizeof(want),
	    "credit code '%.64s...': must be 18 characters", code);
	credit_fails(code, want);
	credit_fails(NULL, "credit code '': must be 18 characters");
}
END_TEST

START_TEST(credit_position_18_substitutions_rejected)
{
	struct cs_err err = {0};
	char code[19];
	size_t i;
	int c;

	for (i = 0; i < sizeof(real_codes) / sizeof(real_codes[0]); i++) {
		for (c = 1; c < 256; c++) {
			memcpy(code, real_codes[i], 19);
			if (c == code[17])
				continue;
			code[17] = (char)c;
			ck_assert_int_eq(
			    codes_credit_check(code, &err), CS_ERR_INVALID);
			ck_assert_ptr_nonnull(strstr(err.msg, "character 18 "));
		}
	}
}
END_TEST

START_TEST(credit_every_substitution_rejected)
{
	/* Weights are units mod 31 (and mod 11): one change moves the sum. */
	const char *alphabet = CREDIT_ALPHABET;
	char code[19];
	size_t i, pos, a;

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		complete(bodies[i], code);
		for (pos = 0; pos < 18; pos++) {
			for (a = 0; alphabet[a] != '\0'; a++) {
				char save = code[pos];

				if (alphabet[a] == save)
					continue;
				code[pos] = alphabet[a];
				ck_assert_msg(codes_credit_check(code, NULL) ==
				        CS_ERR_INVALID,
				    "%s", code);
				code[pos] = save;
			}
		}
	}
}
END_TEST

START_TEST(credit_every_authority_accepted)
{
	const char *authorities = "123456789ANY";
	char body[17], code[19];
	size_t i;

	for (i = 0; authorities[i] != '\0'; i++) {
		memcpy(body, "9135010012345678", 17);
		body[0] = authorities[i];
		complete(body, code);
		ck_assert_int_eq(codes_credit_check(code, NULL), CS_OK);
	}
}
END_TEST

/* --- licence types ---------------------------------------------------------*/

START_TEST(type_valid)
{
	static const char *const ok[] = {
	    "AB", "FOODBIZ", "A1", "Z9Z9", "ABCDEFGHIJKLMNOP"};
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		ck_assert_int_eq(codes_type_check(ok[i], NULL), CS_OK);
}
END_TEST

static const struct {
	const char *code;
	const char *msg;
} type_invalid[] = {
    {"", "licence type '': must be 2 to 16 characters"},
    {"A", "licence type 'A': must be 2 to 16 characters"},
    {"ABCDEFGHIJKLMNOPQ",
        "licence type 'ABCDEFGHIJKLMNOPQ': must be 2 to 16 characters"},
    {"1AB", "licence type '1AB': must start with a letter"},
    {"Ab", "licence type 'Ab': character 2 'b' is not allowed (A-Z, 0-9)"},
    {"A-B", "licence type 'A-B': character 2 '-' is not allowed (A-Z, 0-9)"},
    {"A\tB",
        "licence type 'A?B': character 2 0x09 is not allowed (A-Z, "
        "0-9)"},
    {"-AB", "licence type '-AB': character 1 '-' is not allowed (A-Z, 0-9)"},
};

START_TEST(type_invalid_named)
{
	struct cs_err err = {0};

	ck_assert_int_eq(
	    codes_type_check(type_invalid[_i].code, &err), CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, type_invalid[_i].msg);
}
END_TEST

START_TEST(type_null_refused)
{
	struct cs_err err = {0};

	ck_assert_int_eq(codes_type_check(NULL, &err), CS_ERR_INVALID);
	ck_assert_str_eq(
	    err.msg, "licence type '': must be 2 to 16 characters");
}
END_TEST

/* --- licence ids -----------------------------------------------------------*/

START_TEST(licence_id_known_answer)
{
	struct cs_err err = {0};
	char id[CODES_LICENCE_ID_MAX + 1];

	/* Check independently computed (Python, same recurrence): 'H'. */
	ck_assert_int_eq(codes_licence_id("FOODBIZ", "91350100M000100Y43", 2024,
	                     123, id, sizeof(id), &err),
	    CS_OK);
	ck_assert_str_eq(id, "FOODBIZ-91350100M000100Y43-2024-00000123-H");
	ck_assert_int_eq(
	    codes_mod3736("FOODBIZ91350100M000100Y43202400000123"), 'H');
	ck_assert_int_eq(codes_licence_id_check(id, &err), CS_OK);
}
END_TEST

START_TEST(licence_id_round_trip)
{
	static const char *const types[] = {"AB", "FOODBIZ", "DRV2", "Z9"};
	static const int years[] = {1970, 2024, 2099, 9999};
	static const int64_t serials[] = {
	    1, 42, 99999999, 100000000, 1234567890, INT64_C(99999999999)};
	struct cs_err err = {0};
	char id[CODES_LICENCE_ID_MAX + 1], want[64];
	size_t t, r, y, s;

	for (t = 0; t < sizeof(types) / sizeof(types[0]); t++)
		for (r = 0; r < sizeof(real_codes) / sizeof(real_codes[0]); r++)
			for (y = 0; y < 4; y++)
				for (s = 0; s < 6; s++) {
					ck_assert_int_eq(
					    codes_licence_id(types[t],
					        real_codes[r], years[y],
					        serials[s], id, sizeof(id),
					        &err),
					    CS_OK);
					ck_assert_msg(codes_licence_id_check(
					                  id, &err) == CS_OK,
					    "%s: %s", id, err.msg);
					snprintf(want, sizeof(want),
					    "%s-%s-%04d-%08lld-", types[t],
					    real_codes[r], years[y],
					    (long long)serials[s]);
					ck_assert_int_eq(
					    strncmp(id, want, strlen(want)), 0);
					ck_assert_uint_eq(
					    strlen(id), strlen(want) + 1);
				}
}
END_TEST

START_TEST(licence_id_refuses_bad_parts)
{
	struct cs_err err = {0};
	char id[CODES_LICENCE_ID_MAX + 1] = "x";
	const char *ok = real_codes[0];

	ck_assert_int_eq(
	    codes_licence_id("1X", ok, 2024, 1, id, sizeof(id), &err),
	    CS_ERR_INVALID);
	ck_assert_str_eq(
	    err.msg, "licence type '1X': must start with a letter");
	ck_assert_str_eq(id, "");
	ck_assert_int_eq(codes_licence_id("AB", "91350100M000100Y44", 2024, 1,
	                     id, sizeof(id), &err),
	    CS_ERR_INVALID);
	ck_assert_str_eq(err.msg,
	    "credit code '91350100M000100Y44': character 18 should be '3'");
	ck_assert_int_eq(
	    codes_licence_id("AB", ok, 1969, 1, id, sizeof(id), &err),
	    CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, "licence year 1969 is outside 1970 to 9999");
	ck_assert_int_eq(
	    codes_licence_id("AB", ok, 10000, 1, id, sizeof(id), &err),
	    CS_ERR_INVALID);
	ck_assert_int_eq(
	    codes_licence_id("AB", ok, 2024, 0, id, sizeof(id), &err),
	    CS_ERR_INVALID);
	ck_assert_str_eq(
	    err.msg, "licence serial 0 is outside 1 to 99999999999");
	ck_assert_int_eq(
	    codes_licence_id("AB", ok, 2024, -5, id, sizeof(id), &err),
	    CS_ERR_INVALID);
	ck_assert_int_eq(codes_licence_id("AB", ok, 2024, INT64_C(100000000000),
	                     id, sizeof(id), &err),
	    CS_ERR_INVALID);
	/* "AB-" 18 "-2024-00000001-C": 37 characters and a NUL. */
	ck_assert_int_eq(
	    codes_licence_id("AB", ok, 2024, 1, id, 37, &err), CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, "licence id buffer too small");
	ck_assert_str_eq(id, "");
	ck_assert_int_eq(
	    codes_licence_id("AB", ok, 2024, 1, id, 38, &err), CS_OK);
	ck_assert_uint_eq(strlen(id), 37);
}
END_TEST

static const struct {
	const char *id;
	const char *msg;
} id_invalid[] = {
    {"", "licence id '': must be <type>-<issuer>-<year>-<serial>-<check>"},
    {"FOODBIZ-91350100M000100Y43-2024-00000123",
        "licence id 'FOODBIZ-91350100M000100Y43-2024-00000123': must be "
        "<type>-<issuer>-<year>-<serial>-<check>"},
    {"FOODBIZ-91350100M000100Y43-2024-00000123-H-",
        "licence id 'FOODBIZ-91350100M000100Y43-2024-00000123-H-': must be "
        "<type>-<issuer>-<year>-<serial>-<check>"},
    {"F-91350100M000100Y43-2024-00000123-H",
        "licence id 'F-91350100M000100Y43-2024-00000123-H': type: must be 2 "
        "to 16 characters"},
    {"FOODbIZ-91350100M000100Y43-2024-00000123-H",
        "licence id 'FOODbIZ-91350100M000100Y43-2024-00000123-H': type: "
        "character 5 'b' is not allowed (A-Z, 0-9)"},
    {"FOODBIZ-91350100M000100Y44-2024-00000123-H",
        "licence id 'FOODBIZ-91350100M000100Y44-2024-00000123-H': issuer: "
        "character 18 should be '3'"},
    {"FOODBIZ-913501-2024-00000123-H",
        "licence id 'FOODBIZ-913501-2024-00000123-H': issuer: must be 18 "
        "characters"},
    {"FOODBIZ-91350100M000100Y43-1969-00000123-H",
        "licence id 'FOODBIZ-91350100M000100Y43-1969-00000123-H': year: "
        "must be 4 digits from 1970 to 9999"},
    {"FOODBIZ-91350100M000100Y43-024-00000123-H",
        "licence id 'FOODBIZ-91350100M000100Y43-024-00000123-H': year: must "
        "be 4 digits from 1970 to 9999"},
    {"FOODBIZ-91350100M000100Y43-20A4-00000123-H",
        "licence id 'FOODBIZ-91350100M000100Y43-20A4-00000123-H': year: "
        "must be 4 digits from 1970 to 9999"},
    {"FOODBIZ-91350100M000100Y43-2024-0000123-H",
        "licence id 'FOODBIZ-91350100M000100Y43-2024-0000123-H': serial: "
        "must be at least 8 digits"},
    {"FOODBIZ-91350100M000100Y43-2024-000000123-H",
        "licence id 'FOODBIZ-91350100M000100Y43-2024-000000123-H': serial: "
        "has extra leading zeros"},
    {"FOODBIZ-91350100M000100Y43-2024-0000012X-H",
        "licence id 'FOODBIZ-91350100M000100Y43-2024-0000012X-H': serial: "
        "must be digits"},
    {"FOODBIZ-91350100M000100Y43-2024-00000000-H",
        "licence id 'FOODBIZ-91350100M000100Y43-2024-00000000-H': serial: "
        "must be 1 to 99999999999"},
    {"FOODBIZ-91350100M000100Y43-2024-100000000000-H",
        "licence id 'FOODBIZ-91350100M000100Y43-2024-100000000000-H': "
        "serial: must be 1 to 99999999999"},
    {"FOODBIZ-91350100M000100Y43-2024-00000123-",
        "licence id 'FOODBIZ-91350100M000100Y43-2024-00000123-': check: "
        "must be one of 0-9, A-Z"},
    {"FOODBIZ-91350100M000100Y43-2024-00000123-h",
        "licence id 'FOODBIZ-91350100M000100Y43-2024-00000123-h': check: "
        "must be one of 0-9, A-Z"},
    {"FOODBIZ-91350100M000100Y43-2024-00000123-HH",
        "licence id 'FOODBIZ-91350100M000100Y43-2024-00000123-HH': check: "
        "must be one of 0-9, A-Z"},
    {"FOODBIZ-91350100M000100Y43-2024-00000123-G",
        "licence id 'FOODBIZ-91350100M000100Y43-2024-00000123-G': check "
        "character should be 'H'"},
    {"FOODBIZ-91350100M000100Y43-2024-00000132-H",
        "licence id 'FOODBIZ-91350100M000100Y43-2024-00000132-H': check "
        "character should be 'F'"},
};

START_TEST(licence_id_segment_errors)
{
	struct cs_err err = {0};

	ck_assert_int_eq(
	    codes_licence_id_check(id_invalid[_i].id, &err), CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, id_invalid[_i].msg);
}
END_TEST

START_TEST(licence_id_too_long_or_null)
{
	struct cs_err err = {0};
	char id[200], want[256];

	memset(id, 'A', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	snprintf(want, sizeof(want),
	    "licence id '%.64s...': longer than 96 characters", id);
	ck_assert_int_eq(codes_licence_id_check(id, &err), CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, want);
	ck_assert_int_eq(codes_licence_id_check(NULL, &err), CS_ERR_INVALID);
	ck_assert_str_eq(err.msg,
	    "licence id '': must be <type>-<issuer>-<year>-<serial>-<check>");
}
END_TEST

/* --- ISO/IEC 7064 MOD 37,36 ------------------------------------------------*/

START_TEST(mod3736_known_answers)
{
	/* ISO/IEC 7064's example, also GRid's: A1-2425G-ABC1234002-M. */
	ck_assert_int_eq(codes_mod3736("A12425GABC1234002"), 'M');
	ck_assert_int_eq(codes_mod3736(""), '1');
	ck_assert_int_eq(codes_mod3736(NULL), 0);
	ck_assert_int_eq(codes_mod3736("a1"), 0);
	ck_assert_int_eq(codes_mod3736("A-1"), 0);
}
END_TEST

/*
 * The state after one character from the start runs through all 36 values
 * (P = 2 * (a or 36) mod 37), so prefixes of one character reach every
 * state: checking each pair after each of them is exhaustive.
 */
START_TEST(mod3736_detects_every_substitution)
{
	char s[8], t[8];
	int p, a, b;

	for (p = 0; p < 36; p++)
		for (a = 0; a < 36; a++)
			for (b = 0; b < 36; b++) {
				if (a == b)
					continue;
				snprintf(
				    s, sizeof(s), "%c%c7Q", ALNUM[p], ALNUM[a]);
				snprintf(
				    t, sizeof(t), "%c%c7Q", ALNUM[p], ALNUM[b]);
				ck_assert_int_ne(
				    codes_mod3736(s), codes_mod3736(t));
			}
}
END_TEST

/*
 * Adjacent transpositions: the hybrid system misses exactly the swaps of
 * two characters whose values are neighbours mod 36 ("01", "9A", "Z0"),
 * each in one of the 36 states: 72 of 45360 (0.16%).
 */
START_TEST(mod3736_adjacent_transpositions)
{
	char s[8], t[8];
	int p, a, b, missed = 0, d;

	for (p = 0; p < 36; p++)
		for (a = 0; a < 36; a++)
			for (b = 0; b < 36; b++) {
				if (a == b)
					continue;
				snprintf(s, sizeof(s), "%c%c%cK", ALNUM[p],
				    ALNUM[a], ALNUM[b]);
				snprintf(t, sizeof(t), "%c%c%cK", ALNUM[p],
				    ALNUM[b], ALNUM[a]);
				if (codes_mod3736(s) != codes_mod3736(t))
					continue;
				missed++;
				d = (a - b + 36) % 36;
				ck_assert_msg(d == 1 || d == 35, "%s", s);
			}
	ck_assert_int_eq(missed, 72);
}
END_TEST

/* Swapping the last character with the check: 2 misses ("9" then 0/1). */
START_TEST(mod3736_check_transpositions)
{
	char s[4], c;
	int p, a, missed = 0;

	for (p = 0; p < 36; p++)
		for (a = 0; a < 36; a++) {
			snprintf(s, sizeof(s), "%c%c", ALNUM[p], ALNUM[a]);
			c = codes_mod3736(s);
			if (c == ALNUM[a])
				continue;
			s[1] = c;
			if (codes_mod3736(s) == ALNUM[a]) {
				missed++;
				ck_assert_int_eq(ALNUM[p], '9');
			}
		}
	ck_assert_int_eq(missed, 2);
}
END_TEST

/* xorshift64: fixed seed, the same sample on every run. */
static uint64_t
next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

START_TEST(licence_id_sample_detection)
{
	static const char *const types[] = {"FOODBIZ", "DRV2", "ZX"};
	char id[CODES_LICENCE_ID_MAX + 1], save, other;
	uint64_t x = 0x2545f4914f6cdd1dULL;
	size_t pos, len, a;
	int i, swaps = 0, missed = 0;

	for (i = 0; i < 200; i++) {
		ck_assert_int_eq(
		    codes_licence_id(types[next(&x) % 3],
		        real_codes[next(&x) % 3], 1970 + (int)(next(&x) % 100),
		        (int64_t)(next(&x) % 99999999999) + 1, id, sizeof(id),
		        NULL),
		    CS_OK);
		len = strlen(id);
		for (pos = 0; pos < len; pos++) {
			if (id[pos] == '-')
				continue;
			save = id[pos];
			for (a = 0; a < 36; a++) {
				if (ALNUM[a] == save)
					continue;
				id[pos] = ALNUM[a];
				ck_assert_msg(codes_licence_id_check(
				                  id, NULL) == CS_ERR_INVALID,
				    "%s", id);
			}
			id[pos] = save;
			/* Swap with the next character of the same segment. */
			other = id[pos + 1];
			if (other == '-' || other == '\0' || other == save)
				continue;
			id[pos] = other;
			id[pos + 1] = save;
			swaps++;
			if (codes_licence_id_check(id, NULL) == CS_OK)
				missed++;
			id[pos] = save;
			id[pos + 1] = other;
		}
	}
	ck_assert_int_gt(swaps, 5000);
	/* Expected near 0.16%; the credit code catches some of those. */
	ck_assert_msg(missed * 200 < swaps, "%d of %d", missed, swaps);
}
END_TEST

static Suite *
codes_suite(void)
{
	Suite *s = suite_create("codes");
	TCase *tc;

	tc = tcase_create("credit");
	tcase_add_test(tc, credit_real_codes_are_valid);
	tcase_add_test(tc, credit_generated_codes_are_valid);
	tcase_add_test(tc, credit_check_chars_refuse_bad_input);
	tcase_add_loop_test(tc, credit_invalid_codes_name_the_position, 0,
	    sizeof(credit_invalid) / sizeof(credit_invalid[0]));
	tcase_add_test(tc, credit_messages_are_bounded);
	tcase_add_test(tc, credit_position_18_substitutions_rejected);
	tcase_add_test(tc, credit_every_substitution_rejected);
	tcase_add_test(tc, credit_every_authority_accepted);
	suite_add_tcase(s, tc);

	tc = tcase_create("type");
	tcase_add_test(tc, type_valid);
	tcase_add_loop_test(tc, type_invalid_named, 0,
	    sizeof(type_invalid) / sizeof(type_invalid[0]));
	tcase_add_test(tc, type_null_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("licence_id");
	tcase_add_test(tc, licence_id_known_answer);
	tcase_add_test(tc, licence_id_round_trip);
	tcase_add_test(tc, licence_id_refuses_bad_parts);
	tcase_add_loop_test(tc, licence_id_segment_errors, 0,
	    sizeof(id_invalid) / sizeof(id_invalid[0]));
	tcase_add_test(tc, licence_id_too_long_or_null);
	tcase_add_test(tc, licence_id_sample_detection);
	suite_add_tcase(s, tc);

	tc = tcase_create("mod3736");
	tcase_add_test(tc, mod3736_known_answers);
	tcase_add_test(tc, mod3736_detects_every_substitution);
	tcase_add_test(tc, mod3736_adjacent_transpositions);
	tcase_add_test(tc, mod3736_check_transpositions);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(codes_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
