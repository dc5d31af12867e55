/*
 * check_log.c: certsvc/log.c: JSON records that parse, level filtering,
 * log_file with O_APPEND and its reopen after a rename (logrotate), the
 * buffered mode of certsvcd (info lines held at most the bound, warn
 * written at once with what came before, reopen and stop writing the
 * buffer, whole lines from many threads), and the histograms of /metrics
 * (bucket edges, cumulative rendering, _count equal to the +Inf bucket).
 */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
	cs_log_buffer_stop();
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

/* "pad":"xxx..." of len bytes into m (len + 1 bytes). */
static void
pad_members(char *m, size_t len)
{
	memset(m, 'x', len);
	memcpy(m, "\"pad\":\"", 7);
	m[len - 1] = '"';
	m[len] = '\0';
}

/*
 * Members too long for a line are dropped, the record stays JSON.  With
 * msg "long", the fixed part of a line is 65 bytes, then ",", the members
 * and "}\n": 4027 bytes of members make a line of 4095, the most.
 */
START_TEST(too_long_members_are_dropped_whole)
{
	char *members = malloc(5001);
	json_t *arr, *r;

	ck_assert_ptr_nonnull(members);
	pad_members(members, 5000);
	cs_log_rec(CS_LOG_INFO, "long", members);
	pad_members(members, 4028);
	cs_log_rec(CS_LOG_INFO, "long", members);
	pad_members(members, 4027);
	cs_log_rec(CS_LOG_INFO, "long", members);
	free(members);
	arr = read_lines(path);
	ck_assert_uint_eq(json_array_size(arr), 3);
	r = json_array_get(arr, 0);
	ck_assert_str_eq(json_string_value(json_object_get(r, "msg")), "long");
	ck_assert(json_is_true(json_object_get(r, "truncated")));
	ck_assert_ptr_null(json_object_get(r, "pad"));
	r = json_array_get(arr, 1);
	ck_assert(json_is_true(json_object_get(r, "truncated")));
	r = json_array_get(arr, 2);
	ck_assert_ptr_null(json_object_get(r, "truncated"));
	ck_assert_uint_eq(
	    strlen(json_string_value(json_object_get(r, "pad"))), 4027 - 8);
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

/* The lines of f whose msg is msg. */
static size_t
count_msg(const char *f, const char *msg)
{
	json_t *arr = read_lines(f), *v;
	size_t i, n = 0;

	json_array_foreach(arr, i, v)
	{
		if (strcmp(json_string_value(json_object_get(v, "msg")), msg) ==
		    0)
			n++;
	}
	json_decref(arr);
	return n;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* An info line is held back, then written by the flusher alone. */
START_TEST(buffered_info_reaches_the_file_within_the_bound)
{
	uint64_t t0, t;
	size_t n;

	ck_assert_int_eq(cs_log_buffer_start(NULL), CS_OK);
	t0 = now_ms();
	cs_log(CS_LOG_INFO, "held");
	n = count_msg(path, "held");
	/* The flusher waits 50 ms: earlier than 40, the line is not there. */
	if (now_ms() - t0 < 40)
		ck_assert_uint_eq(n, 0);
	/* No more logging, no flush: the flusher writes it (a generous 20
	 * times the bound, for a loaded machine; it takes about 50 ms). */
	while ((n = count_msg(path, "held")) == 0 &&
	    now_ms() - t0 < 20 * CS_LOG_FLUSH_BOUND_MS)
		usleep(5000);
	t = now_ms() - t0;
	ck_assert_uint_eq(n, 1);
	ck_assert_msg(t < 20 * CS_LOG_FLUSH_BOUND_MS, "written after %llu ms",
	    (unsigned long long)t);
}
END_TEST

/* A warning writes all that is buffered, then itself, before returning. */
START_TEST(warn_is_written_at_once_after_the_buffered_lines)
{
	json_t *arr;

	ck_assert_int_eq(cs_log_buffer_start(NULL), CS_OK);
	cs_log(CS_LOG_INFO, "first");
	cs_log_rec(CS_LOG_INFO, "second", "\"status\":200");
	cs_log(CS_LOG_DEBUG, "filtered out");
	cs_log_rec(CS_LOG_WARN, "third", "\"status\":503");
	arr = read_lines(path);
	ck_assert_uint_eq(json_array_size(arr), 3);
	ck_assert_str_eq(
	    json_string_value(json_object_get(json_array_get(arr, 0), "msg")),
	    "first");
	ck_assert_str_eq(
	    json_string_value(json_object_get(json_array_get(arr, 1), "msg")),
	    "second");
	ck_assert_str_eq(
	    json_string_value(json_object_get(json_array_get(arr, 2), "msg")),
	    "third");
	json_decref(arr);
	cs_log(CS_LOG_ERR, "fourth");
	ck_assert_uint_eq(count_msg(path, "fourth"), 1);
}
END_TEST

/* SIGHUP after logrotate: what was logged before goes to the old file. */
START_TEST(buffered_lines_go_to_the_file_they_were_logged_for)
{
	char rotated[PATH_MAX + 32];

	ck_assert_int_eq(cs_log_buffer_start(NULL), CS_OK);
	cs_log(CS_LOG_INFO, "before");
	snprintf(rotated, sizeof(rotated), "%s.1", path);
	ck_assert_int_eq(rename(path, rotated), 0);
	cs_log(CS_LOG_INFO, "logged before the reopen");
	ck_assert_int_eq(cs_log_reopen(NULL), CS_OK);
	ck_assert_uint_eq(count_msg(rotated, "before"), 1);
	ck_assert_uint_eq(count_msg(rotated, "logged before the reopen"), 1);
	cs_log(CS_LOG_INFO, "after");
	cs_log_buffer_stop();
	ck_assert_uint_eq(count_msg(path, "after"), 1);
	ck_assert_uint_eq(count_msg(rotated, "after"), 0);
	/* Stopped: unbuffered again, written at once. */
	cs_log(CS_LOG_INFO, "unbuffered");
	ck_assert_uint_eq(count_msg(path, "unbuffered"), 1);
}
END_TEST

/* cs_log_flush() and cs_log_open() write what is buffered. */
START_TEST(flush_and_open_write_the_buffer)
{
	char other[PATH_MAX + 32];

	ck_assert_int_eq(cs_log_buffer_start(NULL), CS_OK);
	cs_log(CS_LOG_INFO, "flushed");
	cs_log_flush();
	ck_assert_uint_eq(count_msg(path, "flushed"), 1);
	cs_log(CS_LOG_INFO, "then another file");
	snprintf(other, sizeof(other), "%s.other", path);
	ck_assert_int_eq(cs_log_open(other, NULL), CS_OK);
	ck_assert_uint_eq(count_msg(path, "then another file"), 1);
	cs_log(CS_LOG_WARN, "in the other");
	ck_assert_uint_eq(count_msg(other, "in the other"), 1);
	ck_assert_uint_eq(count_msg(path, "in the other"), 0);
}
END_TEST

/* Without log_file, stderr is buffered the same way. */
START_TEST(stderr_is_buffered_too)
{
	char err_path[PATH_MAX + 32];
	int fd, saved;

	snprintf(err_path, sizeof(err_path), "%s/stderr", dir);
	fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	saved = dup(STDERR_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	ck_assert_int_eq(cs_log_open(NULL, NULL), CS_OK);
	ck_assert_int_eq(cs_log_buffer_start(NULL), CS_OK);
	cs_log(CS_LOG_INFO, "to stderr");
	cs_log(CS_LOG_WARN, "warned");
	cs_log(CS_LOG_INFO, "last");
	cs_log_buffer_stop();
	ck_assert_int_eq(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	ck_assert_uint_eq(count_msg(err_path, "to stderr"), 1);
	ck_assert_uint_eq(count_msg(err_path, "warned"), 1);
	ck_assert_uint_eq(count_msg(err_path, "last"), 1);
	ck_assert_uint_eq(count_msg(path, "to stderr"), 0);
}
END_TEST

#define LOG_THREADS 8
#define LOG_LINES 4000

static void *
log_thread(void *arg)
{
	char members[1200], pad[1000];
	int t = (int)(intptr_t)arg, i;

	/* Lines of varying length, up to ~1 KiB: buffers fill mid-line. */
	memset(pad, 'x', sizeof(pad));
	for (i = 0; i < LOG_LINES; i++) {
		pad[(i * 37 + t * 11) % (int)sizeof(pad)] = '\0';
		snprintf(members, sizeof(members),
		    "\"thread\":%d,\"seq\":%d,\"pad\":\"%s\"", t, i, pad);
		pad[(i * 37 + t * 11) % (int)sizeof(pad)] = 'x';
		cs_log_rec(i % 500 == 499 ? CS_LOG_WARN : CS_LOG_INFO, "line",
		    members);
	}
	return NULL;
}

/* Many threads, many buffer swaps: every line whole, each thread's in
 * order, none lost. */
START_TEST(threads_lines_stay_whole_and_in_order)
{
	pthread_t th[LOG_THREADS];
	json_int_t next[LOG_THREADS] = {0};
	json_t *arr, *v;
	size_t i;
	int t;

	ck_assert_int_eq(cs_log_buffer_start(NULL), CS_OK);
	for (t = 0; t < LOG_THREADS; t++)
		ck_assert_int_eq(pthread_create(&th[t], NULL, log_thread,
		                     (void *)(intptr_t)t),
		    0);
	for (t = 0; t < LOG_THREADS; t++)
		pthread_join(th[t], NULL);
	cs_log_buffer_stop();
	arr = read_lines(path); /* asserts each line is one JSON object */
	ck_assert_uint_eq(json_array_size(arr), LOG_THREADS * LOG_LINES);
	json_array_foreach(arr, i, v)
	{
		t = (int)json_integer_value(json_object_get(v, "thread"));
		ck_assert_int_ge(t, 0);
		ck_assert_int_lt(t, LOG_THREADS);
		ck_assert_int_eq(
		    json_integer_value(json_object_get(v, "seq")), next[t]);
		next[t]++;
	}
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
	tcase_add_test(tc, too_long_members_are_dropped_whole);
	tcase_add_test(tc, escape_cuts_at_a_whole_escape);
	tcase_add_test(tc, escape_keeps_utf8_replaces_the_rest);
	tcase_add_test(tc, level_filters);
	tcase_add_test(tc, reopen_follows_a_rotated_file);
	tcase_add_test(tc, open_fails_cleanly);
	suite_add_tcase(s, tc);
	tc = tcase_create("buffered");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, buffered_info_reaches_the_file_within_the_bound);
	tcase_add_test(tc, warn_is_written_at_once_after_the_buffered_lines);
	tcase_add_test(tc, buffered_lines_go_to_the_file_they_were_logged_for);
	tcase_add_test(tc, flush_and_open_write_the_buffer);
	tcase_add_test(tc, stderr_is_buffered_too);
	tcase_add_test(tc, threads_lines_stay_whole_and_in_order);
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
