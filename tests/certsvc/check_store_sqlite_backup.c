/*
 * check_store_sqlite_backup.c: certsvc/store_sqlite_backup.c.  The online
 * backup is one snapshot: a commit made by another connection while pages
 * are being copied (from the progress callback, between two steps) is not
 * in the copy, and the copy does not restart.  store_serials_skip() moves
 * every counter, within the largest serial an identifier can spell.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "certsvc/mem.h"
#include "certsvc/store.h"
#include "certsvc/store_test.h"
#include "tests/testutil.h"

#define FILL_EVENTS 1500 /* of 2 KiB detail: several backup steps */

static char dir[PATH_MAX];
static char dbpath[PATH_MAX + 16];
static char copy[PATH_MAX + 16];
static struct store *st;

static void
setup(void)
{
	struct cs_err err = {0};

	testutil_tmpdir(dir, sizeof(dir));
	snprintf(dbpath, sizeof(dbpath), "%s/certsvc.db", dir);
	snprintf(copy, sizeof(copy), "%s/copy.db", dir);
	ck_assert_msg(store_open(dbpath, 4, &st, &err) == CS_OK, "%s", err.msg);
}

static void
teardown(void)
{
	store_free(st);
	st = NULL;
}

static void
append_events(int n, size_t detail_len)
{
	struct store_audit_event ev = {.actor = "admin",
	    .action = "test",
	    .object = "t:1",
	    .outcome = "ok"};
	struct cs_err err = {0};
	struct store_tx *tx = NULL;
	char *detail;
	int i;

	detail = calloc(1, detail_len + 16);
	ck_assert_ptr_nonnull(detail);
	snprintf(
	    detail, detail_len + 16, "{\"x\":\"%*s\"}", (int)detail_len, "");
	ev.detail = detail;
	ck_assert(store_tx_begin(st, &tx, &err) == CS_OK);
	for (i = 0; i < n; i++)
		ck_assert_msg(store_audit_append(tx, &ev, NULL, &err) == CS_OK,
		    "%s", err.msg);
	ck_assert_msg(store_tx_commit(tx, &err) == CS_OK, "%s", err.msg);
	free(detail);
}

/* max(seq) of the audit trail in the file path, read with raw sqlite3. */
static long long
raw_audit_head(const char *path)
{
	sqlite3_stmt *s = NULL;
	sqlite3 *db = NULL;
	long long v;

	ck_assert_int_eq(
	    sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ck_assert_int_eq(
	    sqlite3_prepare_v2(db,
	        "SELECT coalesce(max(seq), 0) FROM audit_events", -1, &s, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

struct progress_log {
	int calls;
	int64_t last_done, total;
	bool monotonic;
	bool wrote; /* committed an event mid-copy */
};

static void
progress_write_midway(void *arg, int64_t done, int64_t total)
{
	struct progress_log *p = arg;

	if (done < p->last_done || (p->total != 0 && total != p->total))
		p->monotonic = false;
	p->last_done = done;
	p->total = total;
	p->calls++;
	if (!p->wrote && done < total) {
		append_events(1, 10); /* another connection, committed */
		p->wrote = true;
	}
}

START_TEST(backup_is_one_snapshot_while_others_commit)
{
	struct progress_log p = {.monotonic = true};
	struct store_backup_info info;
	struct cs_err err = {0};
	struct store *cp = NULL;
	int64_t bad = -1, checked = 0, count = 0, last = 0;

	append_events(FILL_EVENTS, 2048);
	ck_assert_msg(store_backup(st, copy, progress_write_midway, &p, &info,
	                  &err) == CS_OK,
	    "%s", err.msg);
	ck_assert(p.wrote);
	ck_assert_int_gt(
	    p.calls, 2);        /* several steps: the write fell between */
	ck_assert(p.monotonic); /* and the copy never started over */
	ck_assert_int_eq(p.last_done, p.total);
	ck_assert_int_eq(info.pages, p.total);
	ck_assert_int_gt(info.bytes, FILL_EVENTS * 2048);
	ck_assert_int_eq(info.schema_version, store_schema_version(st));
	ck_assert_int_eq(info.audit_last_seq, FILL_EVENTS);
	/* The live trail has the event written mid-copy; the copy does not. */
	ck_assert_int_eq(raw_audit_head(dbpath), FILL_EVENTS + 1);
	ck_assert_int_eq(raw_audit_head(copy), FILL_EVENTS);
	/* The copy is a database of its own whose chain holds. */
	ck_assert_msg(store_open(copy, 2, &cp, &err) == CS_OK, "%s", err.msg);
	ck_assert(store_audit_head(cp, &count, &last, &err) == CS_OK);
	ck_assert_int_eq(last, FILL_EVENTS);
	ck_assert(store_audit_verify(cp, &bad, &checked, &err) == CS_OK);
	ck_assert_int_eq(bad, 0);
	ck_assert_int_eq(checked, FILL_EVENTS);
	store_free(cp);
}
END_TEST

START_TEST(backup_file_is_new_and_0600)
{
	struct store_backup_info info;
	struct cs_err err = {0};
	struct stat sb;

	append_events(3, 10);
	umask(0);
	ck_assert(store_backup(st, copy, NULL, NULL, &info, &err) == CS_OK);
	umask(022);
	ck_assert_int_eq(stat(copy, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	ck_assert_int_eq(info.audit_last_seq, 3);
	ck_assert_int_eq(raw_audit_head(copy), 3);
}
END_TEST

START_TEST(backup_refuses_an_existing_file)
{
	struct store_backup_info info;
	struct cs_err err = {0};
	struct buf *b = NULL;

	ck_assert(cs_file_write(copy, "keep", 4, 0600, true, &err) == CS_OK);
	ck_assert_int_eq(
	    store_backup(st, copy, NULL, NULL, &info, &err), CS_ERR_CONFLICT);
	ck_assert_ptr_nonnull(strstr(err.msg, "copy.db"));
	ck_assert(cs_file_read(copy, 16, &b, &err) == CS_OK);
	ck_assert_int_eq(b->len, 4);
	ck_assert_mem_eq(b->data, "keep", 4);
	buf_free(b);
}
END_TEST

START_TEST(backup_into_a_missing_dir_fails_cleanly)
{
	struct store_backup_info info;
	struct cs_err err = {0};
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/none/copy.db", dir);
	ck_assert_int_eq(
	    store_backup(st, path, NULL, NULL, &info, &err), CS_ERR_IO);
	ck_assert_int_ne(access(path, F_OK), 0);
}
END_TEST

/* A department, a type and two serial counters (2026, 2027). */
static void
serial_fixture(int64_t *first26, int64_t *first27)
{
	static const char *const depts[] = {"D1"};
	struct store_dept d = {
	    .code = "D1", .name = "dept", .region = "110000"};
	struct cs_err err = {0};
	struct store_tx *tx = NULL;

	ck_assert(store_tx_begin(st, &tx, &err) == CS_OK);
	ck_assert_msg(store_dept_put(tx, &d, &err) == CS_OK, "%s", err.msg);
	ck_assert_msg(
	    store_ltype_put(tx, "T1", "type", "{}", depts, 1, &err) == CS_OK,
	    "%s", err.msg);
	ck_assert(store_serial_reserve(
	              tx, "T1", "D1", 2026, 10, first26, &err) == CS_OK);
	ck_assert(store_serial_reserve(
	              tx, "T1", "D1", 2027, 5, first27, &err) == CS_OK);
	ck_assert_msg(store_tx_commit(tx, &err) == CS_OK, "%s", err.msg);
}

static int64_t
reserve_one(int year)
{
	struct cs_err err = {0};
	struct store_tx *tx = NULL;
	int64_t first = 0;
	enum cs_rc rc;

	ck_assert(store_tx_begin(st, &tx, &err) == CS_OK);
	rc = store_serial_reserve(tx, "T1", "D1", year, 1, &first, &err);
	ck_assert(store_tx_commit(tx, &err) == CS_OK);
	return rc == CS_OK ? first : -1;
}

START_TEST(serials_skip_moves_every_counter)
{
	struct cs_err err = {0};
	struct store_tx *tx = NULL;
	int64_t f26, f27, rows = 0;

	serial_fixture(&f26, &f27);
	ck_assert_int_eq(f26, 1);
	ck_assert_int_eq(f27, 1);
	ck_assert(store_tx_begin(st, &tx, &err) == CS_OK);
	ck_assert(store_serials_skip(tx, 1000, &rows, &err) == CS_OK);
	ck_assert(store_tx_commit(tx, &err) == CS_OK);
	ck_assert_int_eq(rows, 2);
	ck_assert_int_eq(reserve_one(2026), 11 + 1000);
	ck_assert_int_eq(reserve_one(2027), 6 + 1000);
}
END_TEST

START_TEST(serials_skip_stops_at_the_largest_serial)
{
	struct cs_err err = {0};
	struct store_tx *tx = NULL;
	int64_t f26, f27, rows = 0;
	int i;

	serial_fixture(&f26, &f27);
	ck_assert(store_tx_begin(st, &tx, &err) == CS_OK);
	/* 11 + 9 x 10^10 < 10^11; the tenth skip lands on 10^11 exactly. */
	for (i = 0; i < 10; i++) {
		ck_assert(store_serials_skip(tx, 10000000000LL, &rows, &err) ==
		    CS_OK);
		ck_assert_int_eq(rows, 2);
	}
	ck_assert(store_serials_skip(tx, 1, &rows, &err) == CS_OK);
	ck_assert_int_eq(rows, 0); /* exhausted: 99 999 999 999 was the last */
	ck_assert(store_tx_commit(tx, &err) == CS_OK);
	ck_assert_int_eq(reserve_one(2026), 100000000000LL);
}
END_TEST

START_TEST(serials_skip_refuses_bad_input_and_failing_disk)
{
	struct cs_err err = {0};
	struct store_tx *tx = NULL;
	int64_t f26, f27, rows = 7;

	serial_fixture(&f26, &f27);
	ck_assert(store_tx_begin(st, &tx, &err) == CS_OK);
	ck_assert_int_eq(
	    store_serials_skip(tx, -1, &rows, &err), CS_ERR_INVALID);
	ck_assert_int_eq(rows, 0);
	store_tx_rollback(tx);
	ck_assert_int_eq(
	    store_serials_skip(NULL, 5, &rows, &err), CS_ERR_INVALID);
	/* The UPDATE fails: the tx is good only for rollback. */
	ck_assert(store_tx_begin(st, &tx, &err) == CS_OK);
	store_test_fail_after(st, 1);
	ck_assert_int_eq(store_serials_skip(tx, 5, &rows, &err), CS_ERR_STORE);
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_ERR_STORE);
	ck_assert_int_eq(reserve_one(2026), 11);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("store_sqlite_backup");
	TCase *tc;

	tc = tcase_create("backup");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, backup_is_one_snapshot_while_others_commit);
	tcase_add_test(tc, backup_file_is_new_and_0600);
	tcase_add_test(tc, backup_refuses_an_existing_file);
	tcase_add_test(tc, backup_into_a_missing_dir_fails_cleanly);
	suite_add_tcase(s, tc);
	tc = tcase_create("serials_skip");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, serials_skip_moves_every_counter);
	tcase_add_test(tc, serials_skip_stops_at_the_largest_serial);
	tcase_add_test(tc, serials_skip_refuses_bad_input_and_failing_disk);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
