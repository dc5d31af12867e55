/*
 * check_err.c: certsvc/err.c.  Messages reach clients inside JSON, so
 * whatever a format cuts (a "%.Ns" of request text, the message limit),
 * the message is UTF-8 (fuzz/regress/ holds the inputs that found it).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "certsvc/err.h"
#include "certsvc/mem.h"

START_TEST(message_cut_inside_a_character_is_utf8)
{
	struct cs_err err = {0};

	/* 中 is 3 bytes: "%.5s" keeps 'a', 中 and the first byte of 文. */
	ck_assert_int_eq(
	    cs_err_set(&err, CS_ERR_INVALID, "%.5s: unknown member", "a中文"),
	    CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, "a中?: unknown member");
	ck_assert_int_ge(cs_utf8_count(err.msg, strlen(err.msg), true), 0);
}
END_TEST

START_TEST(message_cut_at_the_limit_is_utf8)
{
	struct cs_err err = {0};
	char text[CS_ERR_MSG_MAX * 2];
	size_t i;

	/* 'x' then 中 over and over: the limit falls inside a character. */
	text[0] = 'x';
	for (i = 1; i + 3 < sizeof(text); i += 3)
		memcpy(text + i, "中", 3);
	text[i] = '\0';
	cs_err_set(&err, CS_ERR_INVALID, "%s", text);
	ck_assert_uint_eq(strlen(err.msg), CS_ERR_MSG_MAX - 1);
	ck_assert_int_ge(cs_utf8_count(err.msg, strlen(err.msg), true), 0);
	ck_assert_int_eq(err.msg[CS_ERR_MSG_MAX - 2], '?');
}
END_TEST

START_TEST(valid_messages_are_unchanged)
{
	struct cs_err err = {0};

	cs_err_set(
	    &err, CS_ERR_NOT_FOUND, "no licence '%s'\t(%d)", "证照-1", 7);
	ck_assert_str_eq(err.msg, "no licence '证照-1'\t(7)");
	cs_err_set(&err, CS_ERR_INVALID, "%s", "\xff\xfe ok \xc0\xaf");
	ck_assert_str_eq(err.msg, "?? ok ??");
	ck_assert_int_eq(cs_err_set(NULL, CS_ERR_IO, "x"), CS_ERR_IO);
}
END_TEST

static Suite *
err_suite(void)
{
	Suite *s = suite_create("err");
	TCase *tc = tcase_create("utf8");

	tcase_add_test(tc, message_cut_inside_a_character_is_utf8);
	tcase_add_test(tc, message_cut_at_the_limit_is_utf8);
	tcase_add_test(tc, valid_messages_are_unchanged);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(err_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
