/*
 * check_store_sqlite_audit.c: certsvc/store_sqlite_audit.c: the fast path
 * of chain verification writes exactly the bytes jansson writes (so that
 * it is fast on real rows) and refuses what it cannot show (so that the
 * slow path decides), and store_audit_tip() reports the trail's ends.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "certsvc/mem.h"
#include "certsvc/store.h"
#include "certsvc/store_int.h"
#include "tests/testutil.h"

static char dir[PATH_MAX];
static char dbpath[PATH_MAX + 16];
static struct store *st;
static EVP_MD *md;

static void
setup(void)
{
	struct cs_err err = {0};

	testutil_tmpdir(dir, sizeof(dir));
	snprintf(dbpath, sizeof(dbpath), "%s/certsvc.db", dir);
	ck_assert_msg(store_open(dbpath, 2, &st, &err) == CS_OK, "%s", err.msg);
	md = EVP_MD_fetch(NULL, "SHA256", NULL);
	ck_assert_ptr_nonnull(md);
}

static void
teardown(void)
{
	store_free(st);
	st = NULL;
	EVP_MD_free(md);
	md = NULL;
}

/*
 * The reference: docs/audit.md's encoding made with jansson as
 * audit_encode() makes it, hashed after prev.
 */
static void
ref_hash(const uint8_t prev[32], int64_t seq, int64_t t,
    const struct store_str f[6], uint8_t out[32])
{
	static const char *const names[6] = {
	    "actor", "action", "object", "outcome", "request_id", "detail"};
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	json_t *obj = json_object();
	char *enc;
	size_t i;

	json_object_set_new(obj, "seq", json_integer(seq));
	json_object_set_new(obj, "time", json_integer(t));
	for (i = 0; i < 6; i++)
		json_object_set_new(obj, names[i],
		    f[i].p == NULL ? json_null()
		                   : json_stringn(f[i].p, f[i].len));
	enc = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_ptr_nonnull(enc);
	ck_assert_int_eq(EVP_DigestInit_ex(ctx, md, NULL), 1);
	ck_assert_int_eq(EVP_DigestUpdate(ctx, prev, 32), 1);
	ck_assert_int_eq(EVP_DigestUpdate(ctx, enc, strlen(enc)), 1);
	ck_assert_int_eq(EVP_DigestFinal_ex(ctx, out, NULL), 1);
	EVP_MD_CTX_free(ctx);
	free(enc);
	json_decref(obj);
}

static void
fields(struct store_str f[6], const char *actor, const char *action,
    const char *object, const char *outcome, const char *rid,
    const char *detail)
{
	const char *v[6] = {actor, action, object, outcome, rid, detail};
	size_t i;

	for (i = 0; i < 6; i++) {
		f[i].p = v[i];
		f[i].len = v[i] != NULL ? strlen(v[i]) : 0;
	}
}

START_TEST(fast_path_writes_jansson_bytes)
{
	static const char *const tricky[] = {"plain",
	    "quote \" and backslash \\ and slash /",
	    "\b\f\n\r\t controls \x01\x1f and DEL \x7f",
	    "中文 UTF-8 and an emoji \xf0\x9f\x98\x80",
	    "{\"holder_ref\":\"ab\",\"n\":[1,2]}", ""};
	uint8_t prev[32], want[32];
	struct store_str f[6];
	size_t i;

	memset(prev, 0x5a, sizeof(prev));
	for (i = 0; i < sizeof(tricky) / sizeof(tricky[0]); i++) {
		fields(f, "C-0123", "licence.issue", tricky[i], "ok",
		    tricky[i][0] != '\0' ? tricky[i] : NULL, tricky[i]);
		ref_hash(
		    prev, (int64_t)i + 1, 1795000000 + (int64_t)i, f, want);
		ck_assert_msg(store_audit_fast_match(md, prev, (int64_t)i + 1,
		                  1795000000 + (int64_t)i, f, want),
		    "case %zu", i);
	}
	/* null detail and request id, a negative time, a large seq */
	fields(f, "admin", "ca.init", "ca:root", "ok", NULL, NULL);
	ref_hash(prev, 9007199254740991LL, -5, f, want);
	ck_assert(
	    store_audit_fast_match(md, prev, 9007199254740991LL, -5, f, want));
}
END_TEST

START_TEST(fast_path_refuses_what_it_cannot_show)
{
	uint8_t prev[32] = {0}, want[32];
	struct store_str f[6];
	char *big;

	fields(f, "admin", "ca.init", "ca:root", "ok", NULL, "{\"a\":1}");
	ref_hash(prev, 1, 1700000000, f, want);
	ck_assert(store_audit_fast_match(md, prev, 1, 1700000000, f, want));
	/* Any other seq, time, field or previous hash: no. */
	ck_assert(!store_audit_fast_match(md, prev, 2, 1700000000, f, want));
	ck_assert(!store_audit_fast_match(md, prev, 1, 1700000001, f, want));
	f[3].p = "ko";
	ck_assert(!store_audit_fast_match(md, prev, 1, 1700000000, f, want));
	f[3].p = "ok";
	prev[0] = 1;
	ck_assert(!store_audit_fast_match(md, prev, 1, 1700000000, f, want));
	prev[0] = 0;
	/* A string and a null never encode alike. */
	f[4].p = "null";
	f[4].len = 4;
	ck_assert(!store_audit_fast_match(md, prev, 1, 1700000000, f, want));
	f[4].p = NULL;
	f[4].len = 0;
	/* A required field missing: left to the slow path. */
	f[0].p = NULL;
	ck_assert(!store_audit_fast_match(md, prev, 1, 1700000000, f, want));
	f[0].p = "admin";
	ck_assert(!store_audit_fast_match(md, prev, 1, 1700000000, f, NULL));
	/* Too long for its buffer (a 64 KiB detail): the slow path's. */
	big = malloc(65000);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', 64999);
	big[64999] = '\0';
	f[5].p = big;
	f[5].len = 64999;
	ref_hash(prev, 1, 1700000000, f, want);
	ck_assert(!store_audit_fast_match(md, prev, 1, 1700000000, f, want));
	free(big);
}
END_TEST

/* Through the store: rows the fast path cannot show still verify. */
START_TEST(verify_mixes_fast_and_slow_rows)
{
	static char detail[20000];
	struct store_audit_event ev = {0};
	struct store_tx *tx = NULL;
	struct cs_err err = {0};
	int64_t bad = -1, checked = 0;
	int i;

	memset(detail, 0, sizeof(detail));
	detail[0] = '{';
	detail[1] = '"';
	detail[2] = 'k';
	detail[3] = '"';
	detail[4] = ':';
	detail[5] = '"';
	memset(detail + 6, 'x', 5000); /* longer than the fast buffer */
	memcpy(detail + 5006, "\"}", 3);
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	for (i = 0; i < 6; i++) {
		ev.actor = "admin";
		ev.action = "test.event";
		ev.object = i % 2 == 0 ? "obj:\"quoted\"\n" : "obj:中文";
		ev.outcome = "ok";
		ev.request_id = i % 3 == 0 ? NULL : "rid";
		ev.detail = i == 3 ? detail : NULL;
		ck_assert_msg(store_audit_append(tx, &ev, NULL, &err) == CS_OK,
		    "%s", err.msg);
	}
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_OK);
	ck_assert_int_eq(store_audit_verify(st, &bad, &checked, &err), CS_OK);
	ck_assert_int_eq(bad, 0);
	ck_assert_int_eq(checked, 6);
}
END_TEST

struct rows {
	struct store_audit_row r[4];
	int n;
};

static bool
keep_row(void *arg, const struct store_audit_row *row)
{
	struct rows *rs = arg;

	if (rs->n < 4)
		rs->r[rs->n++] = *row; /* detail is lent: not kept */
	return true;
}

/* Appended hashes, fast (ASCII) or through jansson, are jansson's. */
START_TEST(appended_hashes_are_the_documented_encoding)
{
	static const char *const objects[] = {"licence:A-1/1",
	    "licence:\"q\"\\/1", "objection:中文", "ctl:\t\x01"};
	static const char *const details[] = {
	    "{\"holder_ref\":\"ab\"}", NULL, "{\"reason\":\"错误\"}", "{}"};
	struct store_audit_event ev = {0};
	uint8_t prev[32] = {0}, want[32];
	struct store_tx *tx = NULL;
	struct cs_err err = {0};
	struct store_str f[6];
	struct rows rs;
	int i;

	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	for (i = 0; i < 4; i++) {
		ev.actor = "C-00aa";
		ev.action = "test.event";
		ev.object = objects[i];
		ev.outcome = "ok";
		ev.request_id = i == 1 ? NULL : "0123abcd";
		ev.detail = details[i];
		ck_assert_msg(store_audit_append(tx, &ev, NULL, &err) == CS_OK,
		    "%s", err.msg);
	}
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_OK);
	memset(&rs, 0, sizeof(rs));
	ck_assert_int_eq(store_audit_scan(st, 1, keep_row, &rs, &err), CS_OK);
	ck_assert_int_eq(rs.n, 4);
	for (i = 0; i < 4; i++) {
		fields(f, "C-00aa", "test.event", objects[i], "ok",
		    i == 1 ? NULL : "0123abcd", details[i]);
		ref_hash(prev, i + 1, rs.r[i].time, f, want);
		ck_assert_msg(
		    memcmp(want, rs.r[i].hash, 32) == 0, "event %d", i);
		memcpy(prev, want, 32);
	}
}
END_TEST

START_TEST(tip_reports_both_ends)
{
	struct store_audit_event ev = {0};
	struct store_checkpoint cp;
	struct store_audit_tip t;
	struct store_tx *tx = NULL;
	struct cs_err err = {0};
	int i;

	ck_assert_int_eq(store_audit_tip(st, &t, &err), CS_OK);
	ck_assert_int_eq(t.seq, 0);
	ck_assert_int_eq(t.cp_seq, 0);
	ev.actor = "admin";
	ev.action = "test.event";
	ev.object = "x";
	ev.outcome = "ok";
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(
		    store_audit_append(tx, &ev, NULL, &err), CS_OK);
	memset(&cp, 0, sizeof(cp));
	cp.seq = 2;
	cp.time = 1700000000;
	cp.document = buf_from("{}", 2);
	cp.seal = buf_from("x", 1);
	cs_strlcpy(cp.cert_serial, "01", sizeof(cp.cert_serial));
	ck_assert_int_eq(store_checkpoint_put(tx, &cp, &err), CS_OK);
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_OK);
	store_checkpoint_release(&cp);
	ck_assert_int_eq(store_audit_tip(st, &t, &err), CS_OK);
	ck_assert_int_eq(t.seq, 3);
	ck_assert_int_gt(t.time, 1700000000);
	ck_assert_int_eq(t.cp_seq, 2);
	ck_assert_int_eq(t.cp_time, 1700000000);
}
END_TEST

static Suite *
audit_suite(void)
{
	Suite *s = suite_create("store_sqlite_audit");
	TCase *tc;

	tc = tcase_create("fast path");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, fast_path_writes_jansson_bytes);
	tcase_add_test(tc, fast_path_refuses_what_it_cannot_show);
	tcase_add_test(tc, verify_mixes_fast_and_slow_rows);
	tcase_add_test(tc, appended_hashes_are_the_documented_encoding);
	suite_add_tcase(s, tc);
	tc = tcase_create("tip");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, tip_reports_both_ends);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(audit_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
