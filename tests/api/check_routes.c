/*
 * check_routes.c: the route table.  Each route's name labels its series in
 * /metrics and its log lines, so two routes with one name would give
 * Prometheus duplicate series: names are unique, and so are the pairs of
 * method and path a request is matched against.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "api/api.h"

START_TEST(names_are_unique)
{
	const struct api_route *a, *b;

	for (a = api_routes; a->method != NULL; a++)
		for (b = a + 1; b->method != NULL; b++)
			ck_assert_msg(strcmp(a->name, b->name) != 0,
			    "two routes are named '%s'", a->name);
}
END_TEST

START_TEST(method_and_path_pairs_are_unique)
{
	const struct api_route *a, *b;

	for (a = api_routes; a->method != NULL; a++)
		for (b = a + 1; b->method != NULL; b++)
			ck_assert_msg(strcmp(a->method, b->method) != 0 ||
			        strcmp(a->path, b->path) != 0,
			    "%s %s is in the table twice", a->method, a->path);
}
END_TEST

START_TEST(every_route_is_complete)
{
	const struct api_route *r;
	size_t n = 0;

	for (r = api_routes; r->method != NULL; r++, n++) {
		ck_assert_ptr_nonnull(r->path);
		ck_assert_ptr_nonnull(r->name);
		ck_assert_ptr_nonnull(r->fn);
		ck_assert_msg(r->path[0] == '/', "%s: not absolute", r->path);
	}
	ck_assert_uint_gt(n, 20);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("routes");
	TCase *tc = tcase_create("routes");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, names_are_unique);
	tcase_add_test(tc, method_and_path_pairs_are_unique);
	tcase_add_test(tc, every_route_is_complete);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
