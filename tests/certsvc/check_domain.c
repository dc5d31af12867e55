/*
 * check_domain.c: certsvc/dept.c, certsvc/ltype.c and certsvc/client.c
 * (its principal cache too, against a second store on the same database
 * standing for certsvc-admin).
 * Each test gets a struct svc made by hand around a fresh store, with a
 * fixed test holder key; credit codes are built with the GB 32100 check
 * characters from codes.c.  store_test_fail_after() plays the failing disk.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "certsvc/client.h"
#include "certsvc/codes.h"
#include "certsvc/dept.h"
#include "certsvc/ltype.h"
#include "certsvc/mem.h"
#include "certsvc/store.h"
#include "certsvc/store_test.h"
#include "certsvc/svc.h"
#include "tests/svcfix.h"

static char dir[PATH_MAX];
static char dbpath[PATH_MAX + 16];
static struct svc *svc;
static char d1[CODES_CREDIT_LEN + 1], d2[CODES_CREDIT_LEN + 1];

static void
setup(void)
{
	struct cs_err err = {0};

	testutil_tmpdir(dir, sizeof(dir));
	snprintf(dbpath, sizeof(dbpath), "%s/certsvc.db", dir);
	svc = calloc(1, sizeof(*svc));
	ck_assert_ptr_nonnull(svc);
	ck_assert_msg(
	    store_open(dbpath, 4, &svc->store, &err) == CS_OK, "%s", err.msg);
	memset(svc->holder_key, 0x42, sizeof(svc->holder_key));
	svc->has_holder_key = true;
	svcfix_code("91110105MA012345", d1);
	svcfix_code("12110000MB012345", d2);
}

static void
teardown(void)
{
	client_cache_free(svc);
	store_free(svc->store);
	free(svc);
	svc = NULL;
}

/* Setup plus two departments, d1 and d2. */
static void
setup_depts(void)
{
	struct cs_err err = {0};

	setup();
	ck_assert_msg(dept_add(svc, d1, "Planning Bureau", "110105", "admin",
	                  &err) == CS_OK,
	    "%s", err.msg);
	ck_assert_msg(dept_add(svc, d2, "Market Bureau", "110000", "admin",
	                  &err) == CS_OK,
	    "%s", err.msg);
}

static int64_t
audit_count(void)
{
	struct cs_err err = {0};
	int64_t count, last;

	ck_assert_int_eq(
	    store_audit_head(svc->store, &count, &last, &err), CS_OK);
	return count;
}

/* The newest audit event, copied. */
struct last_event {
	char actor[STORE_NAME_MAX];
	char action[STORE_NAME_MAX];
	char object[STORE_URI_MAX];
	char detail[1024];
};

static bool
last_fn(void *arg, const struct store_audit_row *row)
{
	struct last_event *e = arg;

	snprintf(e->actor, sizeof(e->actor), "%s", row->actor);
	snprintf(e->action, sizeof(e->action), "%s", row->action);
	snprintf(e->object, sizeof(e->object), "%s", row->object);
	snprintf(e->detail, sizeof(e->detail), "%s",
	    row->detail != NULL ? (const char *)row->detail->data : "");
	return true;
}

static void
last_event(struct last_event *e)
{
	struct cs_err err = {0};

	memset(e, 0, sizeof(*e));
	ck_assert_int_eq(
	    store_audit_scan(svc->store, 1, last_fn, e, &err), CS_OK);
}

/* --- departments ---------------------------------------------------------- */

START_TEST(dept_add_get_list)
{
	static const char name[] = "\xe5\x8c\x97\xe4\xba\xac\xe5\xb8\x82"
	                           "\xe8\xa7\x84\xe5\x88\x92\xe5\xb1\x80";
	struct store_dept d, *v = NULL;
	struct last_event e;
	struct cs_err err = {0};
	char object[64];
	size_t n = 0;

	ck_assert_msg(dept_add(svc, d1, name, "110105", "admin", &err) == CS_OK,
	    "%s", err.msg);
	ck_assert_int_eq(dept_get(svc, d1, &d, &err), CS_OK);
	ck_assert_str_eq(d.name, name);
	ck_assert_str_eq(d.region, "110105");
	ck_assert_int_eq(dept_list(svc, &v, &n, &err), CS_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(v[0].code, d1);
	free(v);

	ck_assert_int_eq(audit_count(), 1);
	last_event(&e);
	snprintf(object, sizeof(object), "dept:%s", d1);
	ck_assert_str_eq(e.actor, "admin");
	ck_assert_str_eq(e.action, "dept.add");
	ck_assert_str_eq(e.object, object);
	ck_assert_ptr_nonnull(strstr(e.detail, "\"region\":\"110105\""));

	ck_assert_int_eq(dept_get(svc, d2, &d, &err), CS_ERR_NOT_FOUND);
}
END_TEST

START_TEST(dept_add_refuses_bad_credit_codes)
{
	struct cs_err err = {0};
	char code[CODES_CREDIT_LEN + 1], want[160];

	/* Wrong check character: the message names position 18. */
	memcpy(code, d1, sizeof(code));
	code[17] = code[17] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(
	    dept_add(svc, code, "x", "110105", "admin", &err), CS_ERR_INVALID);
	snprintf(want, sizeof(want),
	    "credit code '%s': character 18 should be '%c'", code, d1[17]);
	ck_assert_str_eq(err.msg, want);

	/* Wrong organisation code check: position 17. */
	memcpy(code, d1, sizeof(code));
	code[16] = code[16] == '1' ? '2' : '1';
	ck_assert_int_eq(
	    dept_add(svc, code, "x", "110105", "admin", &err), CS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "character 17 should be"));

	ck_assert_int_eq(dept_add(svc, "9111", "x", "110105", "admin", &err),
	    CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, "credit code '9111': must be 18 characters");
	ck_assert_int_eq(
	    dept_add(svc, NULL, "x", "110105", "admin", &err), CS_ERR_INVALID);
	ck_assert_int_eq(audit_count(), 0);
}
END_TEST

START_TEST(dept_add_refuses_duplicates)
{
	struct cs_err err = {0};
	char want[128];

	ck_assert_int_eq(
	    dept_add(svc, d1, "One", "110105", "admin", &err), CS_OK);
	ck_assert_int_eq(dept_add(svc, d1, "Other", "110105", "admin", &err),
	    CS_ERR_CONFLICT);
	snprintf(want, sizeof(want), "department '%s' exists already", d1);
	ck_assert_str_eq(err.msg, want);
	ck_assert_int_eq(audit_count(), 1);
}
END_TEST

START_TEST(dept_add_refuses_bad_names_and_regions)
{
	static const char *const regions[] = {
	    "", "11010", "1101055", "11010a", " 10105", NULL};
	static const char *const names[] = {"", "tab\there", "del\x7f",
	    "c1\xc2\x85", "bad\xff", "overlong\xc0\xaf",
	    "surrogate\xed\xa0\x80", "cut\xe5\x8c", NULL};
	struct cs_err err = {0};
	char longname[130];
	int i;

	for (i = 0; regions[i] != NULL; i++) {
		ck_assert_int_eq(
		    dept_add(svc, d1, "x", regions[i], "admin", &err),
		    CS_ERR_INVALID);
		ck_assert_str_eq(
		    err.msg, "department region must be 6 digits (GB/T 2260)");
	}
	ck_assert_int_eq(
	    dept_add(svc, d1, "x", NULL, "admin", &err), CS_ERR_INVALID);
	for (i = 0; names[i] != NULL; i++) {
		ck_assert_int_eq(
		    dept_add(svc, d1, names[i], "110105", "admin", &err),
		    CS_ERR_INVALID);
		ck_assert_str_eq(err.msg,
		    "department name must be 1 to 128 bytes of UTF-8 text "
		    "without control characters");
	}
	memset(longname, 'n', 129);
	longname[129] = '\0';
	ck_assert_int_eq(dept_add(svc, d1, longname, "110105", "admin", &err),
	    CS_ERR_INVALID);
	longname[128] = '\0';
	ck_assert_int_eq(
	    dept_add(svc, d1, longname, "110105", "admin", &err), CS_OK);
	/* A bad actor fails the audit event, and with it the department. */
	ck_assert_int_eq(
	    dept_add(svc, d2, "x", "110105", NULL, &err), CS_ERR_INVALID);
	ck_assert_int_eq(
	    dept_get(svc, d2, &(struct store_dept){0}, &err), CS_ERR_NOT_FOUND);
}
END_TEST

/* Steps: BEGIN, insert, chain head, event, COMMIT. */
START_TEST(dept_add_failing_store_leaves_nothing)
{
	struct store_dept d;
	struct cs_err err = {0};
	enum cs_rc rc;
	int n = _i;

	store_test_fail_after(svc->store, n);
	rc = dept_add(svc, d1, "x", "110105", "admin", &err);
	store_test_fail_after(svc->store, 0);
	if (n <= 5) {
		ck_assert_int_eq(rc, CS_ERR_STORE);
		ck_assert_int_eq(dept_get(svc, d1, &d, &err), CS_ERR_NOT_FOUND);
		ck_assert_int_eq(audit_count(), 0);
	} else {
		ck_assert_int_eq(rc, CS_OK);
		ck_assert_int_eq(audit_count(), 1);
	}
	ck_assert_int_eq(
	    dept_add(svc, d2, "y", "110000", "admin", &err), CS_OK);
}
END_TEST

/* --- licence types ---------------------------------------------------------
 */

/* A good definition; @1 and @2 stand for d1 and d2. */
static const char good_def[] =
    "{\"code\": \"JZ01\", \"name\": \"Planning permit\","
    " \"departments\": [\"@1\", \"@2\"], \"validity_days\": 1825,"
    " \"fields\": ["
    "  {\"name\": \"project\", \"type\": \"string\", \"required\": true,"
    "   \"max_length\": 20},"
    "  {\"name\": \"area\", \"type\": \"number\", \"required\": true},"
    "  {\"name\": \"floors\", \"type\": \"integer\"},"
    "  {\"name\": \"public\", \"type\": \"boolean\", \"required\": false},"
    "  {\"name\": \"approved_on\", \"type\": \"date\", \"required\": true},"
    "  {\"name\": \"owner_id\", \"type\": \"string\", \"sensitive\": true}"
    " ]}";

/* text with @1 and @2 replaced by d1 and d2, into out. */
static void
subst(const char *text, char *out, size_t outsz)
{
	size_t o = 0;

	for (; *text != '\0'; text++) {
		ck_assert_uint_lt(o + CODES_CREDIT_LEN + 1, outsz);
		if (text[0] == '@' && (text[1] == '1' || text[1] == '2')) {
			memcpy(out + o, text[1] == '1' ? d1 : d2,
			    CODES_CREDIT_LEN);
			o += CODES_CREDIT_LEN;
			text++;
		} else {
			out[o++] = *text;
		}
	}
	out[o] = '\0';
}

START_TEST(ltype_parse_accepts_good_definition)
{
	struct ltype *lt = NULL;
	struct cs_err err = {0};
	char text[2048];

	subst(good_def, text, sizeof(text));
	ck_assert_msg(
	    ltype_parse(text, strlen(text), &lt, &err) == CS_OK, "%s", err.msg);
	ck_assert_str_eq(lt->code, "JZ01");
	ck_assert_str_eq(lt->name, "Planning permit");
	ck_assert_uint_eq(lt->validity_days, 1825);
	ck_assert_uint_eq(lt->ndepts, 2);
	ck_assert_str_eq(lt->depts[0], d1);
	ck_assert_str_eq(lt->depts[1], d2);
	ck_assert_uint_eq(lt->nfields, 6);
	ck_assert_str_eq(lt->fields[0].name, "project");
	ck_assert_int_eq(lt->fields[0].type, LTYPE_STRING);
	ck_assert(lt->fields[0].required);
	ck_assert(!lt->fields[0].sensitive);
	ck_assert_uint_eq(lt->fields[0].max_length, 20);
	ck_assert_int_eq(lt->fields[1].type, LTYPE_NUMBER);
	ck_assert_int_eq(lt->fields[2].type, LTYPE_INTEGER);
	ck_assert(!lt->fields[2].required);
	ck_assert_int_eq(lt->fields[3].type, LTYPE_BOOLEAN);
	ck_assert_int_eq(lt->fields[4].type, LTYPE_DATE);
	ck_assert(lt->fields[5].sensitive);
	ck_assert_uint_eq(lt->fields[5].max_length, 0);
	ltype_free(lt);
	ltype_free(NULL);

	/* No fields at all is a type too; the smallest definition. */
	subst("{\"code\":\"AB\",\"name\":\"n\",\"departments\":[\"@1\"],"
	      "\"validity_days\":1}",
	    text, sizeof(text));
	ck_assert_int_eq(ltype_parse(text, strlen(text), &lt, &err), CS_OK);
	ck_assert_uint_eq(lt->nfields, 0);
	ltype_free(lt);
}
END_TEST

/* The example of docs/licence-types.md, as printed there. */
START_TEST(ltype_docs_example_is_valid)
{
	static const char doc_def[] =
	    "{\n"
	    "  \"code\": \"JZ01\",\n"
	    "  \"name\": \"\xe5\xbb\xba\xe8\xae\xbe\xe5\xb7\xa5\xe7\xa8\x8b"
	    "\xe8\xa7\x84\xe5\x88\x92\xe8\xae\xb8\xe5\x8f\xaf\xe8\xaf\x81\",\n"
	    "  \"departments\": [\"91110105MA0123453U\"],\n"
	    "  \"validity_days\": 1825,\n"
	    "  \"fields\": [\n"
	    "    {\"name\": \"project\", \"type\": \"string\", \"required\": "
	    "true, \"max_length\": 200},\n"
	    "    {\"name\": \"site_area\", \"type\": \"number\", \"required\": "
	    "true},\n"
	    "    {\"name\": \"floors\", \"type\": \"integer\"},\n"
	    "    {\"name\": \"public_use\", \"type\": \"boolean\"},\n"
	    "    {\"name\": \"approved_on\", \"type\": \"date\", \"required\": "
	    "true},\n"
	    "    {\"name\": \"owner_id\", \"type\": \"string\", \"sensitive\": "
	    "true, \"max_length\": 64}\n"
	    "  ]\n"
	    "}\n";
	static const char doc_fields[] =
	    "{\"project\": \"No. 3 School\", \"site_area\": 1250.5, "
	    "\"floors\": 4, \"approved_on\": \"2024-02-29\"}";
	struct ltype *lt = NULL;
	struct cs_err err = {0};
	json_t *f;

	ck_assert_msg(ltype_parse(doc_def, strlen(doc_def), &lt, &err) == CS_OK,
	    "%s", err.msg);
	ck_assert_str_eq(lt->depts[0], d1);
	f = json_loads(doc_fields, JSON_REJECT_DUPLICATES, NULL);
	ck_assert_ptr_nonnull(f);
	ck_assert_msg(ltype_check_fields(lt, f, &err) == CS_OK, "%s", err.msg);
	json_decref(f);
	ltype_free(lt);

	/* The longest field name: 63 characters. */
	{
		char text[512];

		snprintf(text, sizeof(text),
		    "{\"code\":\"JZ01\",\"name\":\"n\",\"departments\":"
		    "[\"%s\"],\"validity_days\":1,\"fields\":[{\"name\":"
		    "\"a12345678901234567890123456789012345678901234567890123"
		    "456789012\",\"type\":\"date\"}]}",
		    d1);
		ck_assert_int_eq(
		    ltype_parse(text, strlen(text), &lt, &err), CS_OK);
		ck_assert_uint_eq(strlen(lt->fields[0].name), 63);
		ltype_free(lt);
	}
}
END_TEST

#define DEF_HEAD                                                               \
	"{\"code\":\"JZ01\",\"name\":\"n\",\"departments\":[\"@1\"],"          \
	"\"validity_days\":10"
#define DEF_FIELDS(f) DEF_HEAD ",\"fields\":[" f "]}"

static const struct {
	const char *text;
	const char *msg; /* @1, @2 replaced as in the text */
} bad_defs[] = {
    {"[]", "definition: must be a JSON object"},
    {"{\"code\":\"JZ01\",\"code\":\"JZ02\"}",
        "definition: line 1 column 21: duplicate object key near "
        "'\"code\"'"},
    {"{\"code\":",
        "definition: line 1 column 8: unexpected token near end of file"},
    {DEF_HEAD ",\"colour\":\"red\"}", "colour: unknown member"},
    {DEF_HEAD ",\"Colour\":\"red\"}",
        "definition: a member has an unknown name"},
    {"{\"name\":\"n\"}", "code: required"},
    {"{\"code\":5}", "code: must be a string"},
    {"{\"code\":\"jz01\"}",
        "code: licence type 'jz01': character 1 'j' is not allowed (A-Z, "
        "0-9)"},
    {"{\"code\":\"1Z\"}", "code: licence type '1Z': must start with a letter"},
    {"{\"code\":\"JZ01\"}", "name: required"},
    {"{\"code\":\"JZ01\",\"name\":\"\"}",
        "name: must be a string of 1 to 128 bytes without control "
        "characters"},
    {"{\"code\":\"JZ01\",\"name\":\"a\\tb\"}",
        "name: must be a string of 1 to 128 bytes without control "
        "characters"},
    {"{\"code\":\"JZ01\",\"name\":7}",
        "name: must be a string of 1 to 128 bytes without control "
        "characters"},
    {"{\"code\":\"JZ01\",\"name\":\"n\"}", "validity_days: required"},
    {"{\"code\":\"JZ01\",\"name\":\"n\",\"validity_days\":0}",
        "validity_days: must be an integer from 1 to 36500"},
    {"{\"code\":\"JZ01\",\"name\":\"n\",\"validity_days\":36501}",
        "validity_days: must be an integer from 1 to 36500"},
    {"{\"code\":\"JZ01\",\"name\":\"n\",\"validity_days\":365.0}",
        "validity_days: must be an integer from 1 to 36500"},
    {"{\"code\":\"JZ01\",\"name\":\"n\",\"validity_days\":\"365\"}",
        "validity_days: must be an integer from 1 to 36500"},
    {"{\"code\":\"JZ01\",\"name\":\"n\",\"validity_days\":1}",
        "departments: required"},
    {"{\"code\":\"JZ01\",\"name\":\"n\",\"validity_days\":1,"
     "\"departments\":[]}",
        "departments: must be an array of 1 to 1024 credit codes"},
    {"{\"code\":\"JZ01\",\"name\":\"n\",\"validity_days\":1,"
     "\"departments\":\"@1\"}",
        "departments: must be an array of 1 to 1024 credit codes"},
    {"{\"code\":\"JZ01\",\"name\":\"n\",\"validity_days\":1,"
     "\"departments\":[\"@1\",5]}",
        "departments[1]: must be a string"},
    {"{\"code\":\"JZ01\",\"name\":\"n\",\"validity_days\":1,"
     "\"departments\":[\"@1\",\"91110105MA01234\"]}",
        "departments[1]: credit code '91110105MA01234': must be 18 "
        "characters"},
    {"{\"code\":\"JZ01\",\"name\":\"n\",\"validity_days\":1,"
     "\"departments\":[\"@2\",\"@1\",\"@2\"]}",
        "departments[2]: duplicate of departments[0]"},
    {DEF_HEAD ",\"fields\":{}}",
        "fields: must be an array of at most 64 fields"},
    {DEF_FIELDS("5"), "fields[0]: must be an object"},
    {DEF_FIELDS("{\"type\":\"string\"}"), "fields[0].name: required"},
    {DEF_FIELDS("{\"name\":\"Project\",\"type\":\"string\"}"),
        "fields[0].name: must match [a-z][a-z0-9_]{0,62}"},
    {DEF_FIELDS("{\"name\":\"_p\",\"type\":\"string\"}"),
        "fields[0].name: must match [a-z][a-z0-9_]{0,62}"},
    {DEF_FIELDS("{\"name\":\"a-b\",\"type\":\"string\"}"),
        "fields[0].name: must match [a-z][a-z0-9_]{0,62}"},
    {DEF_FIELDS("{\"name\":\"a123456789012345678901234567890123456789012345"
                "678901234567890123\",\"type\":\"string\"}"),
        "fields[0].name: must match [a-z][a-z0-9_]{0,62}"},
    {DEF_FIELDS("{\"name\":\"a\",\"type\":\"string\"},"
                "{\"name\":\"b\",\"type\":\"date\"},"
                "{\"name\":\"a\",\"type\":\"date\"}"),
        "fields[2].name: duplicate of fields[0].name"},
    {DEF_FIELDS("{\"name\":\"a\"}"), "fields[0].type: required"},
    {DEF_FIELDS("{\"name\":\"a\",\"type\":\"string\"},"
                "{\"name\":\"b\",\"type\":\"date\"},"
                "{\"name\":\"c\",\"type\":\"text\"}"),
        "fields[2].type: must be one of string, integer, number, boolean, "
        "date"},
    {DEF_FIELDS("{\"name\":\"a\",\"type\":[\"string\"]}"),
        "fields[0].type: must be one of string, integer, number, boolean, "
        "date"},
    {DEF_FIELDS("{\"name\":\"a\",\"type\":\"string\",\"required\":\"yes\"}"),
        "fields[0].required: must be true or false"},
    {DEF_FIELDS("{\"name\":\"a\",\"type\":\"string\",\"sensitive\":1}"),
        "fields[0].sensitive: must be true or false"},
    {DEF_FIELDS("{\"name\":\"a\",\"type\":\"integer\",\"max_length\":5}"),
        "fields[0].max_length: only string fields have one"},
    {DEF_FIELDS("{\"name\":\"a\",\"type\":\"string\",\"max_length\":0}"),
        "fields[0].max_length: must be an integer from 1 to 65536"},
    {DEF_FIELDS("{\"name\":\"a\",\"type\":\"string\",\"max_length\":65537}"),
        "fields[0].max_length: must be an integer from 1 to 65536"},
    {DEF_FIELDS("{\"name\":\"a\",\"type\":\"string\",\"max_length\":\"9\"}"),
        "fields[0].max_length: must be an integer from 1 to 65536"},
    {DEF_FIELDS("{\"name\":\"a\",\"type\":\"string\",\"default\":\"x\"}"),
        "fields[0].default: unknown member"},
    {DEF_FIELDS("{\"name\":\"a\",\"type\":\"string\",\"\xe5\x90\x8d\":1}"),
        "fields[0]: a member has an unknown name"},
};

START_TEST(ltype_parse_refuses_bad_definitions)
{
	struct ltype *lt = NULL;
	struct cs_err err = {0};
	char text[1024], want[512];
	size_t i;

	for (i = 0; i < sizeof(bad_defs) / sizeof(bad_defs[0]); i++) {
		subst(bad_defs[i].text, text, sizeof(text));
		subst(bad_defs[i].msg, want, sizeof(want));
		ck_assert_msg(ltype_parse(text, strlen(text), &lt, &err) ==
		        CS_ERR_INVALID,
		    "case %zu accepted: %s", i, text);
		ck_assert_ptr_null(lt);
		ck_assert_msg(strcmp(err.msg, want) == 0,
		    "case %zu: got \"%s\", want \"%s\"", i, err.msg, want);
	}
}
END_TEST

START_TEST(ltype_parse_refuses_bad_sizes)
{
	struct ltype *lt = NULL;
	struct cs_err err = {0};
	struct buf *b;
	int i;

	ck_assert_int_eq(ltype_parse("", 0, &lt, &err), CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, "definition: empty");
	ck_assert_int_eq(ltype_parse("{}\0{}", 5, &lt, &err), CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, "definition: holds a NUL byte");

	/* 65 fields: one too many. */
	b = buf_new(4096);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(buf_printf(b,
	                     "{\"code\":\"JZ01\",\"name\":\"n\","
	                     "\"departments\":[\"%s\"],\"validity_days\":1,"
	                     "\"fields\":[",
	                     d1),
	    CS_OK);
	for (i = 0; i < LTYPE_MAX_FIELDS + 1; i++)
		ck_assert_int_eq(
		    buf_printf(b, "%s{\"name\":\"f%d\",\"type\":\"string\"}",
		        i > 0 ? "," : "", i),
		    CS_OK);
	ck_assert_int_eq(buf_append_str(b, "]}"), CS_OK);
	ck_assert_int_eq(ltype_parse((const char *)b->data, b->len, &lt, &err),
	    CS_ERR_INVALID);
	ck_assert_str_eq(
	    err.msg, "fields: must be an array of at most 64 fields");
	buf_free(b);
}
END_TEST

START_TEST(ltype_add_load_and_audit)
{
	struct store_ltype row;
	struct last_event e;
	struct ltype *lt = NULL;
	struct cs_err err = {0};
	char text[2048];
	bool allowed = false;

	subst(good_def, text, sizeof(text));
	ck_assert_msg(
	    ltype_add(svc, text, strlen(text), "admin", &err) == CS_OK, "%s",
	    err.msg);
	/* Stored as given, byte for byte. */
	ck_assert_int_eq(
	    store_ltype_get(svc->store, "JZ01", &row, &err), CS_OK);
	ck_assert_str_eq((const char *)row.definition->data, text);
	store_ltype_release(&row);
	ck_assert_int_eq(
	    store_ltype_dept_allowed(svc->store, "JZ01", d2, &allowed, &err),
	    CS_OK);
	ck_assert(allowed);

	ck_assert_int_eq(ltype_load(svc, "JZ01", &lt, &err), CS_OK);
	ck_assert_uint_eq(lt->nfields, 6);
	ck_assert_str_eq(lt->fields[4].name, "approved_on");
	ltype_free(lt);
	ck_assert_int_eq(ltype_load(svc, "NO01", &lt, &err), CS_ERR_NOT_FOUND);
	ck_assert_ptr_null(lt);

	last_event(&e);
	ck_assert_str_eq(e.action, "type.add");
	ck_assert_str_eq(e.object, "type:JZ01");
	ck_assert_ptr_nonnull(strstr(e.detail, d2));

	ck_assert_int_eq(
	    ltype_add(svc, text, strlen(text), "admin", &err), CS_ERR_CONFLICT);
	ck_assert_str_eq(err.msg, "licence type 'JZ01' exists already");
	ck_assert_int_eq(audit_count(), 3);
}
END_TEST

START_TEST(ltype_add_refuses_unknown_department)
{
	struct ltype *lt = NULL;
	struct cs_err err = {0};
	char text[512], want[128], d3[CODES_CREDIT_LEN + 1];

	svcfix_code("93440300MC012345", d3);
	snprintf(text, sizeof(text),
	    "{\"code\":\"JZ02\",\"name\":\"n\",\"departments\":"
	    "[\"%s\",\"%s\"],\"validity_days\":30}",
	    d1, d3);
	ck_assert_int_eq(ltype_add(svc, text, strlen(text), "admin", &err),
	    CS_ERR_NOT_FOUND);
	snprintf(want, sizeof(want), "department '%s' not found", d3);
	ck_assert_str_eq(err.msg, want);
	ck_assert_int_eq(ltype_load(svc, "JZ02", &lt, &err), CS_ERR_NOT_FOUND);
	ck_assert_int_eq(audit_count(), 2);
	/* A bad definition is refused before the store sees it. */
	ck_assert_int_eq(
	    ltype_add(svc, "{}", 2, "admin", &err), CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, "code: required");
}
END_TEST

START_TEST(ltype_load_refuses_corrupt_definition)
{
	const char *depts[] = {d1};
	struct store_tx *tx;
	struct ltype *lt = NULL;
	struct cs_err err = {0};

	ck_assert_int_eq(store_tx_begin(svc->store, &tx, &err), CS_OK);
	ck_assert_int_eq(store_ltype_put(tx, "JZ09", "n", "{\"code\":\"JZ09\"}",
	                     depts, 1, &err),
	    CS_OK);
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_OK);
	ck_assert_int_eq(ltype_load(svc, "JZ09", &lt, &err), CS_ERR_STORE);
	ck_assert_str_eq(err.msg,
	    "stored definition of licence type 'JZ09' is "
	    "invalid: name: required");
	ck_assert_ptr_null(lt);
}
END_TEST

#define REQ "\"project\":\"P\",\"area\":1,\"approved_on\":\"2024-01-01\""

static const struct {
	const char *fields;
	const char *msg; /* NULL: accepted */
} field_cases[] = {
    {"{" REQ "}", NULL},
    {"[]", "fields: must be an object"},
    {"{}", "fields.project: required"},
    {"{\"project\":\"P\",\"approved_on\":\"2024-01-01\"}",
        "fields.area: required"},
    {"{" REQ ",\"colour\":\"red\"}",
        "fields.colour: not a field of type 'JZ01'"},
    {"{" REQ ",\"Colour\":\"red\"}",
        "fields: a member is not a field of type 'JZ01'"},
    /* string */
    {"{\"project\":5,\"area\":1,\"approved_on\":\"2024-01-01\"}",
        "fields.project: must be a string"},
    {"{\"project\":\"123456789012345678901\",\"area\":1,"
     "\"approved_on\":\"2024-01-01\"}",
        "fields.project: must be at most 20 characters"},
    {"{\"project\":\"12345678901234567890\",\"area\":1,"
     "\"approved_on\":\"2024-01-01\"}",
        NULL},
    /* 20 characters of 3 bytes each: max_length counts characters. */
    {"{\"project\":\"\xe8\xa7\x84\xe8\xa7\x84\xe8\xa7\x84\xe8\xa7\x84"
     "\xe8\xa7\x84\xe8\xa7\x84\xe8\xa7\x84\xe8\xa7\x84\xe8\xa7\x84"
     "\xe8\xa7\x84\xe8\xa7\x84\xe8\xa7\x84\xe8\xa7\x84\xe8\xa7\x84"
     "\xe8\xa7\x84\xe8\xa7\x84\xe8\xa7\x84\xe8\xa7\x84\xe8\xa7\x84"
     "\xe8\xa7\x84\",\"area\":1,\"approved_on\":\"2024-01-01\"}",
        NULL},
    /* number */
    {"{\"project\":\"P\",\"area\":\"12\",\"approved_on\":\"2024-01-01\"}",
        "fields.area: must be a number"},
    {"{\"project\":\"P\",\"area\":1.5e3,\"approved_on\":\"2024-01-01\"}", NULL},
    {"{\"project\":\"P\",\"area\":-0.25,\"approved_on\":\"2024-01-01\"}", NULL},
    {"{\"project\":\"P\",\"area\":true,\"approved_on\":\"2024-01-01\"}",
        "fields.area: must be a number"},
    {"{\"project\":\"P\",\"area\":null,\"approved_on\":\"2024-01-01\"}",
        "fields.area: must be a number"},
    {"{\"project\":\"P\",\"area\":9007199254740992,"
     "\"approved_on\":\"2024-01-01\"}",
        "fields.area: must be within +-(2^53-1)"},
    /* integer */
    {"{" REQ ",\"floors\":3}", NULL},
    {"{" REQ ",\"floors\":3.0}", NULL},
    {"{" REQ ",\"floors\":-9007199254740991}", NULL},
    {"{" REQ ",\"floors\":9007199254740992}",
        "fields.floors: must be within +-(2^53-1)"},
    {"{" REQ ",\"floors\":2.5}", "fields.floors: must be an integer"},
    {"{" REQ ",\"floors\":1e300}", "fields.floors: must be an integer"},
    {"{" REQ ",\"floors\":\"3\"}", "fields.floors: must be an integer"},
    /* boolean */
    {"{" REQ ",\"public\":false}", NULL},
    {"{" REQ ",\"public\":\"true\"}", "fields.public: must be true or false"},
    {"{" REQ ",\"public\":1}", "fields.public: must be true or false"},
    /* date */
    {"{\"project\":\"P\",\"area\":1,\"approved_on\":\"2024-02-29\"}", NULL},
    {"{\"project\":\"P\",\"area\":1,\"approved_on\":\"2000-02-29\"}", NULL},
    {"{\"project\":\"P\",\"area\":1,\"approved_on\":\"2024-12-31\"}", NULL},
    {"{\"project\":\"P\",\"area\":1,\"approved_on\":\"2023-02-29\"}",
        "fields.approved_on: must be a date (YYYY-MM-DD)"},
    {"{\"project\":\"P\",\"area\":1,\"approved_on\":\"1900-02-29\"}",
        "fields.approved_on: must be a date (YYYY-MM-DD)"},
    {"{\"project\":\"P\",\"area\":1,\"approved_on\":\"2024-04-31\"}",
        "fields.approved_on: must be a date (YYYY-MM-DD)"},
    {"{\"project\":\"P\",\"area\":1,\"approved_on\":\"2024-13-01\"}",
        "fields.approved_on: must be a date (YYYY-MM-DD)"},
    {"{\"project\":\"P\",\"area\":1,\"approved_on\":\"2024-00-10\"}",
        "fields.approved_on: must be a date (YYYY-MM-DD)"},
    {"{\"project\":\"P\",\"area\":1,\"approved_on\":\"0000-01-01\"}",
        "fields.approved_on: must be a date (YYYY-MM-DD)"},
    {"{\"project\":\"P\",\"area\":1,\"approved_on\":\"2024-4-01\"}",
        "fields.approved_on: must be a date (YYYY-MM-DD)"},
    {"{\"project\":\"P\",\"area\":1,\"approved_on\":\"2024-01-01T00:00\"}",
        "fields.approved_on: must be a date (YYYY-MM-DD)"},
    {"{\"project\":\"P\",\"area\":1,\"approved_on\":20240101}",
        "fields.approved_on: must be a date (YYYY-MM-DD)"},
};

START_TEST(ltype_check_fields_table)
{
	struct ltype *lt = NULL;
	struct cs_err err = {0};
	json_error_t jerr;
	json_t *v;
	char text[2048];
	enum cs_rc rc;
	size_t i;

	subst(good_def, text, sizeof(text));
	ck_assert_int_eq(ltype_parse(text, strlen(text), &lt, &err), CS_OK);
	for (i = 0; i < sizeof(field_cases) / sizeof(field_cases[0]); i++) {
		v = json_loads(
		    field_cases[i].fields, JSON_REJECT_DUPLICATES, &jerr);
		ck_assert_msg(v != NULL, "case %zu: %s", i, jerr.text);
		memset(&err, 0, sizeof(err));
		rc = ltype_check_fields(lt, v, &err);
		json_decref(v);
		if (field_cases[i].msg == NULL) {
			ck_assert_msg(rc == CS_OK, "case %zu: %s", i, err.msg);
			continue;
		}
		ck_assert_msg(rc == CS_ERR_INVALID, "case %zu accepted", i);
		ck_assert_msg(strcmp(err.msg, field_cases[i].msg) == 0,
		    "case %zu: got \"%s\", want \"%s\"", i, err.msg,
		    field_cases[i].msg);
	}
	ck_assert_int_eq(ltype_check_fields(lt, NULL, &err), CS_ERR_INVALID);
	ck_assert_int_eq(ltype_check_fields(NULL, NULL, &err), CS_ERR_INVALID);
	ltype_free(lt);
}
END_TEST

START_TEST(ltype_check_fields_default_string_limit)
{
	struct ltype *lt = NULL;
	struct cs_err err = {0};
	json_t *f;
	char text[2048], *big;

	subst(good_def, text, sizeof(text));
	ck_assert_int_eq(ltype_parse(text, strlen(text), &lt, &err), CS_OK);
	big = calloc(1, 1026);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', 1024);
	f = json_pack("{s:s, s:i, s:s, s:s}", "project", "P", "area", 1,
	    "approved_on", "2024-01-01", "owner_id", big);
	ck_assert_int_eq(ltype_check_fields(lt, f, &err), CS_OK);
	json_decref(f);
	big[1024] = 'x';
	f = json_pack("{s:s, s:i, s:s, s:s}", "project", "P", "area", 1,
	    "approved_on", "2024-01-01", "owner_id", big);
	ck_assert_int_eq(ltype_check_fields(lt, f, &err), CS_ERR_INVALID);
	ck_assert_str_eq(
	    err.msg, "fields.owner_id: must be at most 1024 characters");
	json_decref(f);
	/* A string built without the UTF-8 check is still checked. */
	f = json_pack("{s:s, s:i, s:s}", "project", "P", "area", 1,
	    "approved_on", "2024-01-01");
	ck_assert_int_eq(json_object_set_new(
	                     f, "owner_id", json_stringn_nocheck("a\xff", 2)),
	    0);
	ck_assert_int_eq(ltype_check_fields(lt, f, &err), CS_ERR_INVALID);
	ck_assert_str_eq(
	    err.msg, "fields.owner_id: must be UTF-8 text without NUL");
	json_decref(f);
	free(big);
	ltype_free(lt);
}
END_TEST

/* --- clients
 * ------------------------------------------------------------------ */

static void
add_client(enum client_role role, const char *dept, const char *ref, char *id,
    char *secret)
{
	struct cs_err err = {0};

	ck_assert_msg(
	    client_add(svc, role, "test client", dept, ref, "admin", id,
	        STORE_CODE_MAX, secret, CLIENT_SECRET_MAX, &err) == CS_OK,
	    "%s", err.msg);
}

static enum cs_rc
auth(const char *header, struct client_principal *p, struct cs_err *err)
{
	return client_authenticate(svc, header, p, err);
}

START_TEST(client_add_each_role_and_authenticate)
{
	struct client_principal p;
	struct cs_err err = {0};
	char id[STORE_CODE_MAX], secret[CLIENT_SECRET_MAX], ref[72];
	char hdr[128];
	size_t i;

	ck_assert_int_eq(holder_ref_make(svc, "resident_id",
	                     "11010519491231002X", ref, sizeof(ref), &err),
	    CS_OK);

	add_client(CLIENT_ISSUER, d1, NULL, id, secret);
	ck_assert_uint_eq(strlen(id), 18);
	ck_assert(strncmp(id, "C-", 2) == 0);
	ck_assert_uint_eq(strlen(secret), 46);
	ck_assert(strncmp(secret, "cs_", 3) == 0);
	for (i = 3; i < 46; i++)
		ck_assert(
		    strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrst"
		           "uvwxyz0123456789-_",
		        secret[i]) != NULL);
	snprintf(hdr, sizeof(hdr), "Bearer %s", secret);
	ck_assert_msg(auth(hdr, &p, &err) == CS_OK, "%s", err.msg);
	ck_assert_str_eq(p.id, id);
	ck_assert_int_eq(p.role, CLIENT_ISSUER);
	ck_assert_str_eq(p.dept, d1);
	ck_assert_str_eq(p.holder_ref, "");

	add_client(CLIENT_VERIFIER, NULL, NULL, id, secret);
	snprintf(hdr, sizeof(hdr), "bearer %s", secret); /* any case */
	ck_assert_int_eq(auth(hdr, &p, &err), CS_OK);
	ck_assert_int_eq(p.role, CLIENT_VERIFIER);
	ck_assert_str_eq(p.dept, "");

	add_client(CLIENT_HOLDER, "", ref, id, secret);
	snprintf(hdr, sizeof(hdr), "BEARER %s", secret);
	ck_assert_int_eq(auth(hdr, &p, &err), CS_OK);
	ck_assert_int_eq(p.role, CLIENT_HOLDER);
	ck_assert_str_eq(p.holder_ref, ref);
	/* RFC 6750: "Bearer" 1*SP b64token. */
	snprintf(hdr, sizeof(hdr), "Bearer   %s", secret);
	ck_assert_int_eq(auth(hdr, &p, &err), CS_OK);
	OPENSSL_cleanse(secret, sizeof(secret));
}
END_TEST

START_TEST(client_authenticate_refuses_bad_tokens)
{
	static const char *const headers[] = {"", "Basic x", "Bearer",
	    "Bearer ", "Bearer  x", "Bearerx",
	    "Bearer cs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* unknown
	                                                              */
	    "Bearer cs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  /* short */
	    "Bearer cs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* long */
	    "Bearer cs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", NULL};
	struct client_principal p;
	struct cs_err err = {0};
	char id[STORE_CODE_MAX], secret[CLIENT_SECRET_MAX], hdr[128];
	int i;

	add_client(CLIENT_VERIFIER, NULL, NULL, id, secret);
	for (i = 0; headers[i] != NULL; i++) {
		ck_assert_msg(auth(headers[i], &p, &err) == CS_ERR_AUTH,
		    "header %d accepted", i);
		ck_assert_str_eq(err.msg, "missing or invalid bearer token");
		ck_assert_str_eq(p.id, "");
	}
	ck_assert_int_eq(auth(NULL, &p, &err), CS_ERR_AUTH);
	ck_assert_str_eq(err.msg, "missing or invalid bearer token");

	/* The right token in the wrong form. */
	snprintf(hdr, sizeof(hdr), "Basic %s", secret);
	ck_assert_int_eq(auth(hdr, &p, &err), CS_ERR_AUTH);
	snprintf(hdr, sizeof(hdr), "Bearer %s ", secret);
	ck_assert_int_eq(auth(hdr, &p, &err), CS_ERR_AUTH);
	snprintf(hdr, sizeof(hdr), "Bearer\t%s", secret);
	ck_assert_int_eq(auth(hdr, &p, &err), CS_ERR_AUTH);
	/* One character off. */
	snprintf(hdr, sizeof(hdr), "Bearer %s", secret);
	hdr[20] = hdr[20] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(auth(hdr, &p, &err), CS_ERR_AUTH);
	ck_assert_str_eq(err.msg, "missing or invalid bearer token");
	/* A failing store is not the token's fault. */
	snprintf(hdr, sizeof(hdr), "Bearer %s", secret);
	store_test_fail_after(svc->store, 1);
	ck_assert_int_eq(auth(hdr, &p, &err), CS_ERR_STORE);
	ck_assert_int_eq(auth(hdr, &p, &err), CS_OK);
}
END_TEST

START_TEST(client_revoke_ends_authentication)
{
	struct client_principal p;
	struct last_event e;
	struct cs_err err = {0};
	char id[STORE_CODE_MAX], secret[CLIENT_SECRET_MAX], hdr[128];
	char object[64], want[96];

	add_client(CLIENT_ISSUER, d1, NULL, id, secret);
	snprintf(hdr, sizeof(hdr), "Bearer %s", secret);
	ck_assert_int_eq(auth(hdr, &p, &err), CS_OK);
	ck_assert_int_eq(client_revoke(svc, id, "admin", &err), CS_OK);
	last_event(&e);
	snprintf(object, sizeof(object), "client:%s", id);
	ck_assert_str_eq(e.action, "client.revoke");
	ck_assert_str_eq(e.object, object);
	ck_assert_int_eq(auth(hdr, &p, &err), CS_ERR_AUTH);
	ck_assert_str_eq(err.msg, "missing or invalid bearer token");
	ck_assert_int_eq(
	    client_revoke(svc, id, "admin", &err), CS_ERR_CONFLICT);
	snprintf(want, sizeof(want), "client '%s' is revoked already", id);
	ck_assert_str_eq(err.msg, want);
	ck_assert_int_eq(
	    client_revoke(svc, "C-0000000000000000", "admin", &err),
	    CS_ERR_NOT_FOUND);
	ck_assert_int_eq(audit_count(), 2 + 2);
}
END_TEST

/*
 * Another process (certsvc-admin) on the same database: its own store
 * and svc, without a cache.
 */
static struct svc *
other_process(void)
{
	struct svc *o = calloc(1, sizeof(*o));
	struct cs_err err = {0};

	ck_assert_ptr_nonnull(o);
	ck_assert_msg(
	    store_open(dbpath, 1, &o->store, &err) == CS_OK, "%s", err.msg);
	return o;
}

static void
other_process_end(struct svc *o)
{
	store_free(o->store);
	free(o);
}

START_TEST(client_cache_ends_at_a_revocation_elsewhere)
{
	char id[STORE_CODE_MAX], secret[CLIENT_SECRET_MAX], hdr[128];
	char id2[STORE_CODE_MAX], secret2[CLIENT_SECRET_MAX];
	struct client_principal p;
	struct cs_err err = {0};
	struct svc *o;

	ck_assert_int_eq(client_cache_init(svc, &err), CS_OK);
	add_client(CLIENT_ISSUER, d1, NULL, id, secret);
	snprintf(hdr, sizeof(hdr), "Bearer %s", secret);
	ck_assert_int_eq(auth(hdr, &p, &err), CS_OK); /* read and kept */
	/*
	 * Served from the cache: only the generation is read (step 1), so a
	 * failing second step (the row) is never reached.
	 */
	store_test_fail_after(svc->store, 2);
	ck_assert_int_eq(auth(hdr, &p, &err), CS_OK);
	ck_assert_str_eq(p.id, id);
	ck_assert_int_eq(p.role, CLIENT_ISSUER);
	ck_assert_str_eq(p.dept, d1);
	store_test_fail_after(svc->store, 0);

	/* New clients elsewhere (a holder per licence) keep the cache. */
	o = other_process();
	ck_assert_int_eq(
	    client_add(o, CLIENT_VERIFIER, "v", NULL, NULL, "admin", id2,
	        sizeof(id2), secret2, sizeof(secret2), &err),
	    CS_OK);
	store_test_fail_after(svc->store, 2);
	ck_assert_int_eq(auth(hdr, &p, &err), CS_OK);
	store_test_fail_after(svc->store, 0);

	/* Revoked by the other process: refused by the very next request. */
	ck_assert_int_eq(client_revoke(o, id, "admin", &err), CS_OK);
	ck_assert_int_eq(auth(hdr, &p, &err), CS_ERR_AUTH);
	ck_assert_str_eq(err.msg, "missing or invalid bearer token");
	ck_assert_str_eq(p.id, "");
	ck_assert_int_eq(auth(hdr, &p, &err), CS_ERR_AUTH);
	/* The other client, read again after the change, is kept again. */
	snprintf(hdr, sizeof(hdr), "Bearer %s", secret2);
	ck_assert_int_eq(auth(hdr, &p, &err), CS_OK);
	store_test_fail_after(svc->store, 2);
	ck_assert_int_eq(auth(hdr, &p, &err), CS_OK);
	ck_assert_str_eq(p.id, id2);
	store_test_fail_after(svc->store, 0);
	other_process_end(o);
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(secret2, sizeof(secret2));
}
END_TEST

START_TEST(client_cache_without_generation_reads_the_row)
{
	char id[STORE_CODE_MAX], secret[CLIENT_SECRET_MAX], hdr[128];
	struct client_principal p;
	struct cs_err err = {0};

	ck_assert_int_eq(client_cache_init(svc, &err), CS_OK);
	add_client(CLIENT_VERIFIER, NULL, NULL, id, secret);
	snprintf(hdr, sizeof(hdr), "Bearer %s", secret);
	/* The generation cannot be read: the row decides, and is not kept. */
	store_test_fail_after(svc->store, 1);
	ck_assert_int_eq(auth(hdr, &p, &err), CS_OK);
	ck_assert_str_eq(p.id, id);
	store_test_fail_after(svc->store, 2);
	ck_assert_int_eq(auth(hdr, &p, &err), CS_ERR_STORE);
	/* A revocation through this process is seen at once too. */
	ck_assert_int_eq(auth(hdr, &p, &err), CS_OK);
	ck_assert_int_eq(client_revoke(svc, id, "admin", &err), CS_OK);
	ck_assert_int_eq(auth(hdr, &p, &err), CS_ERR_AUTH);
	client_cache_free(svc);
	ck_assert_ptr_null(svc->clients);
	client_cache_free(svc);
	client_cache_free(NULL);
	OPENSSL_cleanse(secret, sizeof(secret));
}
END_TEST

START_TEST(client_add_refuses_bad_arguments)
{
	struct store_client *v = NULL;
	struct cs_err err = {0};
	char id[STORE_CODE_MAX], secret[CLIENT_SECRET_MAX], want[96];
	char d3[CODES_CREDIT_LEN + 1];
	size_t n;

	svcfix_code("93440300MC012345", d3);
	ck_assert_int_eq(client_add(svc, CLIENT_ISSUER, "x", d3, NULL, "admin",
	                     id, sizeof(id), secret, sizeof(secret), &err),
	    CS_ERR_NOT_FOUND);
	snprintf(want, sizeof(want), "department '%s' not found", d3);
	ck_assert_str_eq(err.msg, want);
	ck_assert_str_eq(secret, "");
	ck_assert_str_eq(id, "");
	ck_assert_int_eq(
	    client_add(svc, CLIENT_ISSUER, "x", NULL, NULL, "admin", id,
	        sizeof(id), secret, sizeof(secret), &err),
	    CS_ERR_INVALID);
	ck_assert_int_eq(
	    client_add(svc, CLIENT_ISSUER, "x", d1,
	        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	        "aaaaaaaaaaaaaaaa",
	        "admin", id, sizeof(id), secret, sizeof(secret), &err),
	    CS_ERR_INVALID);
	ck_assert_int_eq(
	    client_add(svc, CLIENT_HOLDER, "x", NULL, NULL, "admin", id,
	        sizeof(id), secret, sizeof(secret), &err),
	    CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, "a holder client needs a holder_ref");
	ck_assert_int_eq(
	    client_add(svc, CLIENT_HOLDER, "x", NULL, "not-hex", "admin", id,
	        sizeof(id), secret, sizeof(secret), &err),
	    CS_ERR_INVALID);
	ck_assert_int_eq(
	    client_add(svc, CLIENT_VERIFIER, "x", d1, NULL, "admin", id,
	        sizeof(id), secret, sizeof(secret), &err),
	    CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, "only issuer clients have a department");
	ck_assert_int_eq(
	    client_add(svc, (enum client_role)9, "x", NULL, NULL, "admin", id,
	        sizeof(id), secret, sizeof(secret), &err),
	    CS_ERR_INVALID);
	ck_assert_int_eq(
	    client_add(svc, CLIENT_VERIFIER, "", NULL, NULL, "admin", id,
	        sizeof(id), secret, sizeof(secret), &err),
	    CS_ERR_INVALID);
	ck_assert_int_eq(client_add(svc, CLIENT_VERIFIER, "x", NULL, NULL,
	                     "admin", id, sizeof(id), secret, 20, &err),
	    CS_ERR_INVALID);
	/* A failing audit event takes the client with it. */
	ck_assert_int_eq(client_add(svc, CLIENT_VERIFIER, "x", NULL, NULL, NULL,
	                     id, sizeof(id), secret, sizeof(secret), &err),
	    CS_ERR_INVALID);
	ck_assert_str_eq(secret, "");
	ck_assert_int_eq(client_list(svc, &v, &n, &err), CS_OK);
	ck_assert_uint_eq(n, 0);
	free(v);
	ck_assert_int_eq(audit_count(), 2);
}
END_TEST

START_TEST(client_add_tx_follows_the_callers_tx)
{
	struct store_client *v = NULL;
	struct client_principal p;
	struct store_tx *tx;
	struct cs_err err = {0};
	char id[STORE_CODE_MAX], secret[CLIENT_SECRET_MAX], hdr[128];
	size_t n;

	ck_assert_int_eq(store_tx_begin(svc->store, &tx, &err), CS_OK);
	ck_assert_int_eq(
	    client_add_tx(svc, tx, CLIENT_VERIFIER, "rp", NULL, NULL, id,
	        sizeof(id), secret, sizeof(secret), &err),
	    CS_OK);
	store_tx_rollback(tx);
	snprintf(hdr, sizeof(hdr), "Bearer %s", secret);
	ck_assert_int_eq(auth(hdr, &p, &err), CS_ERR_AUTH);

	ck_assert_int_eq(store_tx_begin(svc->store, &tx, &err), CS_OK);
	ck_assert_int_eq(
	    client_add_tx(svc, tx, CLIENT_VERIFIER, "rp", NULL, NULL, id,
	        sizeof(id), secret, sizeof(secret), &err),
	    CS_OK);
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_OK);
	snprintf(hdr, sizeof(hdr), "Bearer %s", secret);
	ck_assert_int_eq(auth(hdr, &p, &err), CS_OK);
	ck_assert_int_eq(client_list(svc, &v, &n, &err), CS_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(v[0].id, id);
	ck_assert_str_eq(v[0].role, "verifier");
	free(v);
	ck_assert_int_eq(
	    client_add_tx(svc, NULL, CLIENT_VERIFIER, "rp", NULL, NULL, id,
	        sizeof(id), secret, sizeof(secret), &err),
	    CS_ERR_INVALID);
}
END_TEST

/* memmem over a whole file; false when the file does not exist. */
static bool
file_has(const char *path, const char *needle)
{
	struct buf *b = NULL;
	bool found;

	if (cs_file_read(path, 64 * 1024 * 1024, &b, NULL) != CS_OK)
		return false;
	found = memmem(b->data, b->len, needle, strlen(needle)) != NULL;
	buf_free(b);
	return found;
}

struct secret_scan {
	const char *secret;
	int rows;
	bool found;
};

static bool
secret_fn(void *arg, const struct store_audit_row *row)
{
	struct secret_scan *s = arg;

	s->rows++;
	if (strstr(row->actor, s->secret) != NULL ||
	    strstr(row->action, s->secret) != NULL ||
	    strstr(row->object, s->secret) != NULL ||
	    strstr(row->outcome, s->secret) != NULL ||
	    (row->detail != NULL &&
	        strstr((const char *)row->detail->data, s->secret) != NULL))
		s->found = true;
	return true;
}

START_TEST(client_secret_is_never_stored)
{
	struct secret_scan scan = {0};
	struct last_event e;
	struct cs_err err = {0};
	char id[STORE_CODE_MAX], secret[CLIENT_SECRET_MAX];
	char path[PATH_MAX + 32];

	add_client(CLIENT_ISSUER, d1, NULL, id, secret);
	last_event(&e);
	ck_assert_str_eq(e.action, "client.add");
	ck_assert_ptr_nonnull(strstr(e.detail, "\"role\":\"issuer\""));
	scan.secret = secret + 3; /* without the prefix, to be thorough */
	ck_assert_int_eq(
	    store_audit_scan(svc->store, 1, secret_fn, &scan, &err), CS_OK);
	ck_assert_int_eq(scan.rows, 3);
	ck_assert(!scan.found);
	/* Nor anywhere in the database files. */
	ck_assert(!file_has(dbpath, secret + 3));
	snprintf(path, sizeof(path), "%s-wal", dbpath);
	ck_assert(file_has(path, id)); /* the scan does see the client row */
	ck_assert(!file_has(path, secret + 3));
}
END_TEST

/* --- holder references --------------------------------------------------- */

START_TEST(holder_ref_is_keyed_and_deterministic)
{
	struct cs_err err = {0};
	char a[72], b[72], c[72];
	size_t i;

	ck_assert_int_eq(holder_ref_make(svc, "resident_id",
	                     "11010519491231002X", a, sizeof(a), &err),
	    CS_OK);
	ck_assert_uint_eq(strlen(a), 64);
	for (i = 0; i < 64; i++)
		ck_assert(strchr("0123456789abcdef", a[i]) != NULL);
	ck_assert_int_eq(holder_ref_make(svc, "resident_id",
	                     "11010519491231002X", b, sizeof(b), &err),
	    CS_OK);
	ck_assert_str_eq(a, b);
	/* Case of a resident id's check character does not matter. */
	ck_assert_int_eq(holder_ref_make(svc, "resident_id",
	                     "11010519491231002x", b, sizeof(b), &err),
	    CS_OK);
	ck_assert_str_eq(a, b);
	/* The type is part of the input. */
	ck_assert_int_eq(holder_ref_make(svc, "other", "11010519491231002X", b,
	                     sizeof(b), &err),
	    CS_OK);
	ck_assert_str_ne(a, b);
	/* Another key, another reference. */
	svc->holder_key[0] ^= 1;
	ck_assert_int_eq(holder_ref_make(svc, "resident_id",
	                     "11010519491231002X", c, sizeof(c), &err),
	    CS_OK);
	ck_assert_str_ne(a, c);
	svc->has_holder_key = false;
	ck_assert_int_eq(holder_ref_make(svc, "resident_id",
	                     "11010519491231002X", c, sizeof(c), &err),
	    CS_ERR_INVALID);
	ck_assert_str_eq(c, "");
}
END_TEST

/* Known answer: HMAC-SHA256(0x42 * 32, "passport:E12345678"). */
START_TEST(holder_ref_known_answer)
{
	struct cs_err err = {0};
	unsigned char md[32];
	unsigned mdlen = 0;
	char ref[72], want[65];
	size_t i;

	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), svc->holder_key, 32,
	    (const unsigned char *)"passport:E12345678", 18, md, &mdlen));
	for (i = 0; i < 32; i++)
		snprintf(want + 2 * i, 3, "%02x", md[i]);
	ck_assert_int_eq(holder_ref_make(svc, "passport", "E12345678", ref,
	                     sizeof(ref), &err),
	    CS_OK);
	ck_assert_str_eq(ref, want);
}
END_TEST

START_TEST(holder_ref_refuses_bad_input)
{
	static const char *const numbers[] = {"", "has space", "tab\t",
	    "\xe4\xb8\xad", "x\x7f",
	    "12345678901234567890123456789012345678901234567890123456789012345",
	    NULL};
	struct cs_err err = {0};
	char ref[72];
	int i;

	ck_assert_int_eq(
	    holder_ref_make(svc, "licence", "1", ref, sizeof(ref), &err),
	    CS_ERR_INVALID);
	ck_assert_str_eq(err.msg,
	    "holder id_type must be one of resident_id, "
	    "passport, credit_code, other");
	ck_assert_int_eq(
	    holder_ref_make(svc, NULL, "1", ref, sizeof(ref), &err),
	    CS_ERR_INVALID);
	for (i = 0; numbers[i] != NULL; i++) {
		ck_assert_int_eq(holder_ref_make(svc, "other", numbers[i], ref,
		                     sizeof(ref), &err),
		    CS_ERR_INVALID);
		ck_assert_str_eq(err.msg,
		    "holder id_number must be 1 to 64 "
		    "printable ASCII characters");
	}
	ck_assert_int_eq(
	    holder_ref_make(svc, "other", NULL, ref, sizeof(ref), &err),
	    CS_ERR_INVALID);
	ck_assert_int_eq(
	    holder_ref_make(svc, "other", "1", ref, 64, &err), CS_ERR_INVALID);
	/* 64 characters are fine. */
	ck_assert_int_eq(holder_ref_make(svc, "other",
	                     "1234567890123456789012345678901234567890123456789"
	                     "012345678901234",
	                     ref, sizeof(ref), &err),
	    CS_OK);
}
END_TEST

START_TEST(holder_id_mask_hides_the_middle)
{
	char out[64];

	holder_id_mask("11010519491231002X", out, sizeof(out));
	ck_assert_str_eq(out, "1101**********002X");
	holder_id_mask("E123456789", out, sizeof(out));
	ck_assert_str_eq(out, "E123**6789");
	holder_id_mask("123456789", out, sizeof(out));
	ck_assert_str_eq(out, "1234*6789");
	holder_id_mask("12345678", out, sizeof(out));
	ck_assert_str_eq(out, "******78");
	holder_id_mask("123", out, sizeof(out));
	ck_assert_str_eq(out, "*23");
	holder_id_mask("12", out, sizeof(out));
	ck_assert_str_eq(out, "**");
	holder_id_mask("", out, sizeof(out));
	ck_assert_str_eq(out, "");
	holder_id_mask(NULL, out, sizeof(out));
	ck_assert_str_eq(out, "");
	holder_id_mask("1101\n519491231\x01X", out, sizeof(out));
	ck_assert_str_eq(out, "1101********31?X");
	/* Too small a buffer cuts the masked form, never shows more. */
	holder_id_mask("11010519491231002X", out, 8);
	ck_assert_str_eq(out, "1101***");
	holder_id_mask("11010519491231002X", NULL, 0);
}
END_TEST

START_TEST(role_names_round_trip)
{
	enum client_role r = 0;

	ck_assert(client_role_parse("issuer", &r));
	ck_assert_int_eq(r, CLIENT_ISSUER);
	ck_assert_str_eq(client_role_name(r), "issuer");
	ck_assert(client_role_parse("verifier", &r));
	ck_assert_str_eq(client_role_name(r), "verifier");
	ck_assert(client_role_parse("holder", &r));
	ck_assert_str_eq(client_role_name(r), "holder");
	ck_assert(!client_role_parse("Issuer", &r));
	ck_assert(!client_role_parse(NULL, &r));
	ck_assert_str_eq(client_role_name((enum client_role)0), "unknown");
}
END_TEST

static Suite *
domain_suite(void)
{
	Suite *s = suite_create("domain");
	TCase *tc;

	tc = tcase_create("dept");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, dept_add_get_list);
	tcase_add_test(tc, dept_add_refuses_bad_credit_codes);
	tcase_add_test(tc, dept_add_refuses_duplicates);
	tcase_add_test(tc, dept_add_refuses_bad_names_and_regions);
	tcase_add_loop_test(tc, dept_add_failing_store_leaves_nothing, 1, 7);
	suite_add_tcase(s, tc);

	tc = tcase_create("ltype");
	tcase_add_checked_fixture(tc, setup_depts, teardown);
	tcase_add_test(tc, ltype_parse_accepts_good_definition);
	tcase_add_test(tc, ltype_docs_example_is_valid);
	tcase_add_test(tc, ltype_parse_refuses_bad_definitions);
	tcase_add_test(tc, ltype_parse_refuses_bad_sizes);
	tcase_add_test(tc, ltype_add_load_and_audit);
	tcase_add_test(tc, ltype_add_refuses_unknown_department);
	tcase_add_test(tc, ltype_load_refuses_corrupt_definition);
	tcase_add_test(tc, ltype_check_fields_table);
	tcase_add_test(tc, ltype_check_fields_default_string_limit);
	suite_add_tcase(s, tc);

	tc = tcase_create("client");
	tcase_add_checked_fixture(tc, setup_depts, teardown);
	tcase_add_test(tc, client_add_each_role_and_authenticate);
	tcase_add_test(tc, client_authenticate_refuses_bad_tokens);
	tcase_add_test(tc, client_revoke_ends_authentication);
	tcase_add_test(tc, client_cache_ends_at_a_revocation_elsewhere);
	tcase_add_test(tc, client_cache_without_generation_reads_the_row);
	tcase_add_test(tc, client_add_refuses_bad_arguments);
	tcase_add_test(tc, client_add_tx_follows_the_callers_tx);
	tcase_add_test(tc, client_secret_is_never_stored);
	tcase_add_test(tc, role_names_round_trip);
	suite_add_tcase(s, tc);

	tc = tcase_create("holder");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, holder_ref_is_keyed_and_deterministic);
	tcase_add_test(tc, holder_ref_known_answer);
	tcase_add_test(tc, holder_ref_refuses_bad_input);
	tcase_add_test(tc, holder_id_mask_hides_the_middle);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(domain_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
