/*
 * check_backup.c: certsvc/backup.c.  A backup copies through the service's
 * store and is recorded by its own event; a restore's event and its serial
 * skip are one transaction, so a failing disk leaves neither.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certsvc/backup.h"
#include "certsvc/mem.h"
#include "certsvc/store_test.h"
#include "tests/svcfix.h"

static struct svcfix f;
static char dept[CODES_CREDIT_LEN + 1];

static void
setup(void)
{
	svcfix_open(&f, "backup", NULL);
	svcfix_dept(&f, "91110105MA0BK001", "dept", "110105", dept);
	svcfix_type(&f, "TBK1", dept);
}

static void
teardown(void)
{
	svcfix_close(&f);
}

/* The next serial the store hands out for (TBK1, dept, 2026). */
static int64_t
next_serial(void)
{
	struct cs_err err = {0};
	struct store_tx *tx = NULL;
	int64_t first = 0;

	ck_assert(store_tx_begin(f.svc->store, &tx, &err) == CS_OK);
	ck_assert_msg(store_serial_reserve(
	                  tx, "TBK1", dept, 2026, 1, &first, &err) == CS_OK,
	    "%s", err.msg);
	ck_assert(store_tx_commit(tx, &err) == CS_OK);
	return first;
}

/* The newest audit event's action and detail. */
struct last_event {
	char action[STORE_NAME_MAX];
	char detail[1024];
};

static bool
keep_last(void *arg, const struct store_audit_row *row)
{
	struct last_event *e = arg;

	snprintf(e->action, sizeof(e->action), "%s", row->action);
	snprintf(e->detail, sizeof(e->detail), "%s",
	    row->detail != NULL ? (const char *)row->detail->data : "");
	return true;
}

static void
last_event(struct last_event *e)
{
	struct cs_err err = {0};

	memset(e, 0, sizeof(*e));
	ck_assert(
	    store_audit_scan(f.svc->store, 1, keep_last, e, &err) == CS_OK);
}

START_TEST(backup_database_copies_and_backup_is_audited)
{
	struct store_backup_info info;
	struct cs_err err = {0};
	struct last_event e;
	char path[PATH_MAX + 16];
	int64_t before = svcfix_audit_count(&f), seq = 0;
	json_t *detail;

	snprintf(path, sizeof(path), "%s/copy.db", f.dir);
	ck_assert_msg(
	    backup_database(f.svc, path, NULL, NULL, &info, &err) == CS_OK,
	    "%s", err.msg);
	ck_assert_int_eq(info.audit_last_seq, before);
	detail = json_pack("{s:s}", "to", "/backups/x");
	ck_assert(backup_audit(f.svc, "admin", "backup", "backup:/backups/x",
	              detail, &seq, &err) == CS_OK);
	json_decref(detail);
	ck_assert_int_eq(seq, before + 1);
	last_event(&e);
	ck_assert_str_eq(e.action, "backup");
	ck_assert_str_eq(e.detail, "{\"to\":\"/backups/x\"}");
}
END_TEST

START_TEST(restored_skips_serials_with_its_event)
{
	struct cs_err err = {0};
	struct last_event e;
	int64_t first, seq = 0;

	first = next_serial();
	ck_assert(backup_restored(f.svc, "admin", "backup:/b", NULL, 5000, &seq,
	              &err) == CS_OK);
	ck_assert_int_eq(next_serial(), first + 1 + 5000);
	last_event(&e);
	ck_assert_str_eq(e.action, "restore");
	ck_assert_str_eq(
	    e.detail, "{\"serial_counters\":1,\"serial_skip\":5000}");
}
END_TEST

START_TEST(restored_is_all_or_nothing)
{
	struct cs_err err = {0};
	int64_t first, count, seq = 0;
	enum cs_rc rc;
	int n;

	first = next_serial();
	count = svcfix_audit_count(&f);
	/*
	 * Fail each statement of the transaction in turn (BEGIN, the skip,
	 * the event's, COMMIT) until none is left to fail: every failure
	 * leaves neither the event nor the skip.
	 */
	for (n = 1;; n++) {
		store_test_fail_after(f.svc->store, n);
		rc = backup_restored(
		    f.svc, "admin", "backup:/b", NULL, 5000, &seq, &err);
		store_test_fail_after(f.svc->store, 0);
		if (rc == CS_OK)
			break;
		ck_assert_int_eq(rc, CS_ERR_STORE);
		ck_assert_int_eq(svcfix_audit_count(&f), count);
		ck_assert_int_eq(next_serial(), first + n);
	}
	ck_assert_int_ge(n, 5);
	ck_assert_int_eq(svcfix_audit_count(&f), count + 1);
	ck_assert_int_eq(next_serial(), first + n + 5000);
	ck_assert_int_eq(
	    backup_restored(f.svc, "admin", "backup:/b", NULL, -1, &seq, &err),
	    CS_ERR_INVALID);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("backup");
	TCase *tc = tcase_create("backup");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, backup_database_copies_and_backup_is_audited);
	tcase_add_test(tc, restored_skips_serials_with_its_event);
	tcase_add_test(tc, restored_is_all_or_nothing);
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
