/*
 * check_log.c: certsvc/log.c: JSON records that parse, level filtering,
 * log_file with O_APPEND and its reopen after a rename (logrotate), and
 * the histograms of /metrics (bucket edges, cumulative rendering, _count
 * equal to the +Inf bucket).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "certsvc/log.h"
#include "certsvc/mem.h"
#include "tests/testutil.h"

static char dir[PATH_MAX];
static char path[PATH_MAX + 16];

static void
setup(void)
{
	testutil_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/certsvc.log", dir);
	cs_log_set_json(true);
	cs_log_set_level(CS_LOG_INFO);
	ck_assert_int_eq(cs_log_open(path, NULL), CS_OK);
}

static void
teardown(void)
{
	ck_assert_int_eq(cs_log_open(NULL, NULL), CS_OK);
	cs_log_set_json(false);
}

/* The lines of file f as JSON objects (an array, given). */
static json_t *
read_lines(const char *f)
{
	json_t *arr = json_array(), *v;
	char line[8192];
	FILE *fp = fopen(f, "r");

	ck_assert_ptr_nonnull(fp);
	while (fgets(line, sizeof(line), fp) != NULL) {
		ck_assert_msg(strchr(line, '\n') != NULL, "line not ended");
		v = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
		ck_assert_msg(json_is_object(v), "not JSON: %s", line);
		json_array_append_new(arr, v);
	}
	fclose(fp);
	return arr;
}

START_TEST(json_records_parse_and_escape)
{
	char members[256], esc[64];
	json_t *arr, *r;

	cs_log(
	    CS_LOG_INFO, "quote \" backslash \\ newline\n tab\t ctl\x01 中文");
	cs_log_escape("a\"b\\c\x7f", esc, sizeof(esc));
	snprintf(
	    members, sizeof(members), "\"status\":201,\"path\":\"%s\"", esc);
	cs_log_rec(CS_LOG_WARN, "request", members);
	cs_log(CS_LOG_DEBUG, "not written at info");
	arr = read_lines(path);
	ck_assert_uint_eq(json_array_size(arr), 2);
	r = json_array_get(arr, 0);
	ck_assert_str_eq(
	    json_string_value(json_object_get(r, "level")), "info");
	ck_assert_str_eq(json_string_value(json_object_get(r, "msg")),
	    "quote \" backslash \\ newline\n tab\t ctl\x01 中文");
	ck_assert_int_eq(
	    strlen(json_string_value(json_object_get(r, "time"))), 27);
	r = json_array_get(arr, 1);
	ck_assert_str_eq(
	    json_string_value(json_object_get(r, "level")), "warn");
	ck_assert_int_eq(json_integer_value(json_object_get(r, "status")), 201);
	ck_assert_str_eq(
	    json_string_value(json_object_get(r, "path")), "a\"b\\c\x7f");
	json_decref(arr);
}
END_TEST

START_TEST(escape_cuts_at_a_whole_escape)
{
	char out[8];

	cs_log_escape("abc\"def", out, sizeof(out));
	ck_assert_str_eq(out, "abc\\\"de");
	cs_log_escape("ab\x01", out, sizeof(out));
	ck_assert_str_eq(out, "ab"); /* \u0001 does not fit: dropped whole */
	cs_log_escape("", out, sizeof(out));
	ck_assert_str_eq(out, "");
}
END_TEST

/* JSON text is UTF-8: other bytes (a decoded %FF in a path) are U+FFFD. */
START_TEST(escape_keeps_utf8_replaces_the_rest)
{
	char out[64];

	cs_log_escape("中\xc3\xa9\xf0\x9f\x98\x80", out, sizeof(out));
	ck_assert_str_eq(out, "中\xc3\xa9\xf0\x9f\x98\x80");
	cs_log_escape("/a\xff/\xc3(\xe0\x80\x80\xed\xa0\x80", out, sizeof(out));
	ck_assert_str_eq(out,
	    "/a\\ufffd/\\ufffd(\\ufffd\\ufffd\\ufffd"
	    "\\ufffd\\ufffd\\ufffd");
	cs_log_escape("\xe4\xb8", out, sizeof(out)); /* cut short by the NUL */
	ck_assert_str_eq(out, "\\ufffd\\ufffd");
	cs_log_escape("ab\xe4\xb8\xad", out, 5); /* 3 bytes do not fit */
	ck_assert_str_eq(out, "ab");
}
END_TEST

START_TEST(level_filters)
{
	json_t *arr;

	cs_log_set_level(CS_LOG_WARN);
	ck_assert(!cs_log_enabled(CS_LOG_INFO));
	ck_assert(cs_log_enabled(CS_LOG_ERR));
	cs_log(CS_LOG_INFO, "hidden");
	cs_log_rec(CS_LOG_INFO, "request", "\"status\":200");
	cs_log(CS_LOG_ERR, "shown");
	arr = read_lines(path);
	ck_assert_uint_eq(json_array_size(arr), 1);
	ck_assert_str_eq(
	    json_string_value(json_object_get(json_array_get(arr, 0), "msg")),
	    "shown");
	json_decref(arr);
}
END_TEST

START_TEST(reopen_follows_a_rotated_file)
{
	char rotated[PATH_MAX + 32];
	json_t *arr;

	cs_log(CS_LOG_INFO, "before");
	snprintf(rotated, sizeof(rotated), "%s.1", path);
	ck_assert_int_eq(rename(path, rotated), 0);
	cs_log(CS_LOG_INFO, "still the old file");
	ck_assert_int_eq(cs_log_reopen(NULL), CS_OK);
	cs_log(CS_LOG_INFO, "after");
	arr = read_lines(rotated);
	ck_assert_uint_eq(json_array_size(arr), 2);
	json_decref(arr);
	arr = read_lines(path);
	ck_assert_uint_eq(json_array_size(arr), 1);
	ck_assert_str_eq(
	    json_string_value(json_object_get(json_array_get(arr, 0), "msg")),
	    "after");
	json_decref(arr);
}
END_TEST

START_TEST(open_fails_cleanly)
{
	struct cs_err err = {0};
	json_t *arr;

	ck_assert_int_eq(
	    cs_log_open("/nonexistent/dir/x.log", &err), CS_ERR_IO);
	ck_assert_ptr_nonnull(strstr(err.msg, "log_file"));
	cs_log(CS_LOG_INFO, "still logging to the old file");
	arr = read_lines(path);
	ck_assert_uint_eq(json_array_size(arr), 1);
	json_decref(arr);
}
END_TEST

/* Render h and return the value of the sample starting with prefix. */
static unsigned long long
sample(const struct buf *b, const char *prefix)
{
	const char *p = strstr((const char *)b->data, prefix);

	ck_assert_msg(p != NULL, "no %s", prefix);
	return strtoull(p + strlen(prefix), NULL, 10);
}

START_TEST(histogram_buckets_and_render)
{
	struct cs_hist *h = calloc(1, sizeof(*h));
	struct buf *b = buf_new(4096);

	ck_assert_ptr_nonnull(h);
	ck_assert_ptr_nonnull(b);
	cs_hist_observe(h, 50000);        /* on the edge: le 0.00005 */
	cs_hist_observe(h, 50001);        /* just over: le 0.0001 */
	cs_hist_observe(h, 1000000);      /* 1 ms */
	cs_hist_observe(h, 31000000000u); /* beyond 30 s: +Inf only */
	ck_assert_uint_eq(cs_hist_count(h), 4);
	ck_assert_int_eq(
	    cs_hist_render(h, "x_seconds", "route=\"/a\"", b), CS_OK);
	ck_assert_int_eq(buf_append(b, "", 1), CS_OK);
	ck_assert_uint_eq(
	    sample(b, "x_seconds_bucket{route=\"/a\",le=\"0.00005\"} "), 1);
	ck_assert_uint_eq(
	    sample(b, "x_seconds_bucket{route=\"/a\",le=\"0.0001\"} "), 2);
	ck_assert_uint_eq(
	    sample(b, "x_seconds_bucket{route=\"/a\",le=\"0.0005\"} "), 2);
	ck_assert_uint_eq(
	    sample(b, "x_seconds_bucket{route=\"/a\",le=\"0.001\"} "), 3);
	ck_assert_uint_eq(
	    sample(b, "x_seconds_bucket{route=\"/a\",le=\"30\"} "), 3);
	ck_assert_uint_eq(
	    sample(b, "x_seconds_bucket{route=\"/a\",le=\"+Inf\"} "), 4);
	ck_assert_uint_eq(sample(b, "x_seconds_count{route=\"/a\"} "), 4);
	ck_assert_ptr_nonnull(strstr((const char *)b->data,
	    "x_seconds_sum{route=\"/a\"} 31.001100001\n"));
	/* Without labels: no empty braces. */
	b->len = 0;
	ck_assert_int_eq(cs_hist_render(h, "y", "", b), CS_OK);
	ck_assert_int_eq(buf_append(b, "", 1), CS_OK);
	ck_assert_ptr_nonnull(
	    strstr((const char *)b->data, "y_bucket{le=\"1\"} 3\n"));
	ck_assert_ptr_nonnull(strstr((const char *)b->data, "\ny_count 4\n"));
	ck_assert_ptr_null(strstr((const char *)b->data, "{}"));
	buf_free(b);
	free(h);
}
END_TEST

static Suite *
log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc;

	tc = tcase_create("records");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, json_records_parse_and_escape);
	tcase_add_test(tc, escape_cuts_at_a_whole_escape);
	tcase_add_test(tc, escape_keeps_utf8_replaces_the_rest);
	tcase_add_test(tc, level_filters);
	tcase_add_test(tc, reopen_follows_a_rotated_file);
	tcase_add_test(tc, open_fails_cleanly);
	suite_add_tcase(s, tc);
	tc = tcase_create("histogram");
	tcase_add_test(tc, histogram_buckets_and_render);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(log_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
