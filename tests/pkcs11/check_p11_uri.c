/*
 * check_p11_uri.c: RFC 7512 URIs: what parses, what round-trips, and that
 * every malformed URI is refused with a message naming the problem.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "certsvc/err.h"
#include "certsvc/mem.h"
#include "pkcs11/p11_int.h"

START_TEST(parse_full)
{
	struct p11_uri u;
	struct cs_err err;
	const unsigned char id[] = {0x01, 0x02, 0xab, 0xff};

	ck_assert_int_eq(p11_uri_parse("pkcs11:token=certsvc;object=ca-root;"
	                               "id=%01%02%ab%FF;type=private",
	                     &u, &err),
	    CS_OK);
	ck_assert(u.has_token);
	ck_assert_str_eq(u.token, "certsvc");
	ck_assert(u.has_object);
	ck_assert_str_eq(u.object, "ca-root");
	ck_assert(u.has_id);
	ck_assert_uint_eq(u.id_len, sizeof(id));
	ck_assert_mem_eq(u.id, id, sizeof(id));
	ck_assert_int_eq(u.type, P11_URI_PRIVATE);
}
END_TEST

START_TEST(parse_minimal_and_empty)
{
	struct p11_uri u;

	ck_assert_int_eq(p11_uri_parse("pkcs11:object=a", &u, NULL), CS_OK);
	ck_assert(!u.has_token);
	ck_assert(!u.has_id);
	ck_assert_str_eq(u.object, "a");
	ck_assert_int_eq(u.type, P11_URI_ANY);
	ck_assert_int_eq(p11_uri_parse("pkcs11:", &u, NULL), CS_OK);
	ck_assert(!u.has_object);
	ck_assert_int_eq(p11_uri_parse("pkcs11:type=public", &u, NULL), CS_OK);
	ck_assert_int_eq(u.type, P11_URI_PUBLIC);
	/* The scheme is case-insensitive (RFC 3986), attribute names not. */
	ck_assert_int_eq(p11_uri_parse("PKCS11:object=a", &u, NULL), CS_OK);
	ck_assert_str_eq(u.object, "a");
	ck_assert_int_eq(
	    p11_uri_parse("pkcs11:Object=a", &u, NULL), CS_ERR_INVALID);
}
END_TEST

START_TEST(parse_percent_decodes_labels)
{
	struct p11_uri u;

	ck_assert_int_eq(p11_uri_parse("pkcs11:object=seal%20%E5%8D%B0;"
	                               "token=a:b@c",
	                     &u, NULL),
	    CS_OK);
	ck_assert_str_eq(u.object, "seal \xe5\x8d\xb0");
	ck_assert_str_eq(u.token, "a:b@c");
}
END_TEST

struct bad_uri {
	const char *uri;
	const char *msg; /* a substring of the error message */
};

static const struct bad_uri bad_uris[] = {
    {"pkcs12:object=a", "does not start with 'pkcs11:'"},
    {"object=a", "does not start with 'pkcs11:'"},
    {"pkcs11object=a", "does not start with 'pkcs11:'"},
    {"pkcs11:object=a;;id=%01", "empty attribute"},
    {"pkcs11:object=a;", "empty attribute"},
    {"pkcs11:;object=a", "empty attribute"},
    {"pkcs11:object", "without name=value"},
    {"pkcs11:=a", "without name=value"},
    {"pkcs11:object=a;object=b", "attribute 'object' repeated"},
    {"pkcs11:id=%01;id=%02", "attribute 'id' repeated"},
    {"pkcs11:type=private;type=public", "attribute 'type' repeated"},
    {"pkcs11:serial=1234", "unsupported attribute 'serial'"},
    {"pkcs11:x-vendor=1", "unsupported attribute 'x-vendor'"},
    {"pkcs11:ob.ject=a", "bad attribute name"},
    {"pkcs11:object=a%2", "bad percent-encoding in 'object'"},
    {"pkcs11:object=a%", "bad percent-encoding in 'object'"},
    {"pkcs11:id=%zz", "bad percent-encoding in 'id'"},
    {"pkcs11:object=a b", "character not allowed in 'object'"},
    {"pkcs11:object=a/b", "character not allowed in 'object'"},
    {"pkcs11:object=\"a\"", "character not allowed in 'object'"},
    {"pkcs11:object=\xe5\x8d\xb0", "character not allowed in 'object'"},
    {"pkcs11:object=a%00b", "'object' contains a NUL"},
    {"pkcs11:object=", "'object' is empty"},
    {"pkcs11:id=", "'id' is empty"},
    {"pkcs11:type=cert", "unsupported type 'cert'"},
    {"pkcs11:type=", "'type' is empty"},
    {"pkcs11:object=a?pin-value=1234", "pin-value is not accepted"},
    {"pkcs11:object=a?module-path=/x.so", "query attributes"},
    {"pkcs11:object=a#frag", "fragment not allowed"},
    {"pkcs11:token=%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41"
     "%41%41%41%41%41%41%41%41%41%41%41%41%41%41",
        "'token' is too long"},
};

START_TEST(parse_rejects_malformed)
{
	const struct bad_uri *b = &bad_uris[_i];
	struct p11_uri u;
	struct cs_err err;

	cs_err_clear(&err);
	ck_assert_int_eq(p11_uri_parse(b->uri, &u, &err), CS_ERR_INVALID);
	ck_assert_int_eq(err.rc, CS_ERR_INVALID);
	ck_assert_msg(
	    strstr(err.msg, b->msg) != NULL, "'%s': got '%s'", b->uri, err.msg);
	ck_assert_msg(strstr(err.msg, "1234") == NULL, "pin echoed");
	ck_assert(!u.has_object && !u.has_id && !u.has_token);
}
END_TEST

START_TEST(parse_rejects_long_and_null)
{
	char big[P11_URI_MAX + 16];
	char id[3 * (P11_ID_MAX + 1) + 16];
	struct cs_err err;
	struct p11_uri u;
	size_t i;

	memcpy(big, "pkcs11:object=", 14);
	memset(big + 14, 'a', sizeof(big) - 15);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(p11_uri_parse(big, &u, &err), CS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "longer than"));
	/* An object label of P11_LABEL_MAX bytes does not fit. */
	memset(big + 14, 'a', P11_LABEL_MAX);
	big[14 + P11_LABEL_MAX] = '\0';
	ck_assert_int_eq(p11_uri_parse(big, &u, &err), CS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "'object' is too long"));
	big[14 + P11_LABEL_MAX - 1] = '\0';
	ck_assert_int_eq(p11_uri_parse(big, &u, &err), CS_OK);
	/* An id of P11_ID_MAX + 1 bytes does not fit either. */
	memcpy(id, "pkcs11:id=", 10);
	for (i = 0; i <= P11_ID_MAX; i++)
		memcpy(id + 10 + 3 * i, "%01", 3);
	id[10 + 3 * (P11_ID_MAX + 1)] = '\0';
	ck_assert_int_eq(p11_uri_parse(id, &u, &err), CS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "'id' is too long"));
	ck_assert_int_eq(p11_uri_parse(NULL, &u, &err), CS_ERR_INVALID);
}
END_TEST

START_TEST(format_round_trip)
{
	struct p11_uri u, v;
	char out[P11_URI_MAX];
	size_t i;

	memset(&u, 0, sizeof(u));
	u.has_token = true;
	cs_strlcpy(u.token, "certsvc", sizeof(u.token));
	u.has_object = true;
	cs_strlcpy(u.object, "seal; 1/2?#%\xe5\x8d\xb0", sizeof(u.object));
	u.has_id = true;
	u.id_len = 16;
	for (i = 0; i < u.id_len; i++)
		u.id[i] = (unsigned char)(i * 17);
	u.type = P11_URI_PRIVATE;
	ck_assert_int_eq(p11_uri_format(&u, out, sizeof(out), NULL), CS_OK);
	ck_assert_str_eq(out,
	    "pkcs11:token=certsvc;object=seal%3B%201%2F2%3F%23%25%E5%8D%B0;"
	    "id=%00%11%22%33%44%55%66%77%88%99%AA%BB%CC%DD%EE%FF;"
	    "type=private");
	ck_assert_int_eq(p11_uri_parse(out, &v, NULL), CS_OK);
	ck_assert_str_eq(v.token, u.token);
	ck_assert_str_eq(v.object, u.object);
	ck_assert_uint_eq(v.id_len, u.id_len);
	ck_assert_mem_eq(v.id, u.id, u.id_len);
	ck_assert_int_eq(v.type, P11_URI_PRIVATE);
}
END_TEST

START_TEST(format_partial_and_too_small)
{
	struct p11_uri u;
	char out[P11_URI_MAX];
	struct cs_err err;

	memset(&u, 0, sizeof(u));
	ck_assert_int_eq(p11_uri_format(&u, out, sizeof(out), NULL), CS_OK);
	ck_assert_str_eq(out, "pkcs11:");
	u.has_id = true;
	u.id_len = 1;
	u.id[0] = 0x7f;
	u.type = P11_URI_PUBLIC;
	ck_assert_int_eq(p11_uri_format(&u, out, sizeof(out), NULL), CS_OK);
	ck_assert_str_eq(out, "pkcs11:id=%7F;type=public");
	ck_assert_int_eq(p11_uri_format(&u, out, 12, &err), CS_ERR_INVALID);
	ck_assert_str_eq(out, "");
	ck_assert_ptr_nonnull(strstr(err.msg, "too long"));
	ck_assert_int_eq(p11_uri_format(&u, out, 4, &err), CS_ERR_INVALID);
	/* Exactly enough room: 25 characters and the NUL. */
	ck_assert_int_eq(p11_uri_format(&u, out, 26, &err), CS_OK);
	ck_assert_int_eq(p11_uri_format(&u, out, 25, &err), CS_ERR_INVALID);
}
END_TEST

static Suite *
p11_uri_suite(void)
{
	Suite *s = suite_create("p11_uri");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_test(tc, parse_full);
	tcase_add_test(tc, parse_minimal_and_empty);
	tcase_add_test(tc, parse_percent_decodes_labels);
	tcase_add_loop_test(tc, parse_rejects_malformed, 0,
	    (int)(sizeof(bad_uris) / sizeof(bad_uris[0])));
	tcase_add_test(tc, parse_rejects_long_and_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("format");
	tcase_add_test(tc, format_round_trip);
	tcase_add_test(tc, format_partial_and_too_small);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(p11_uri_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
