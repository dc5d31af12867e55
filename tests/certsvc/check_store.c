/*
 * check_store.c: certsvc/store_sqlite.c.  Each test gets a fresh database
 * in its own directory.  The tamper tests open the file with raw sqlite3,
 * as an attacker with file access would, and drop the append-only triggers
 * first; store_test_fail_after() plays the failing disk.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "certsvc/mem.h"
#include "certsvc/store.h"
#include "certsvc/store_test.h"
#include "tests/testutil.h"

static char dir[PATH_MAX];
static char dbpath[PATH_MAX + 16];
static struct store *st;

static void
setup(void)
{
	struct cs_err err = {0};

	testutil_tmpdir(dir, sizeof(dir));
	snprintf(dbpath, sizeof(dbpath), "%s/certsvc.db", dir);
	ck_assert_msg(store_open(dbpath, 4, &st, &err) == CS_OK, "%s", err.msg);
}

static void
teardown(void)
{
	store_free(st);
	st = NULL;
}

/* Run sql on the file with a raw connection; the sqlite result code. */
static int
raw_exec(const char *sql)
{
	sqlite3 *db = NULL;
	int r;

	r = sqlite3_open(dbpath, &db);
	ck_assert_int_eq(r, SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	r = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return r;
}

/* The single text or integer answer of sql, as text. */
static void
raw_query(const char *sql, char *out, size_t outsz)
{
	sqlite3_stmt *s = NULL;
	sqlite3 *db = NULL;

	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	snprintf(out, outsz, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(db);
}

static const struct store_audit_event ev_ok = {
    .actor = "admin",
    .action = "ca.init",
    .object = "ca:root",
    .outcome = "ok",
    .request_id = NULL,
    .detail = "{\"b\":1,\"a\":\"x\"}",
};

/* Append n events, one transaction each. */
static void
append_n(int n)
{
	struct store_tx *tx;
	struct cs_err err = {0};
	int64_t seq;
	int i;

	for (i = 0; i < n; i++) {
		ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
		ck_assert_msg(
		    store_audit_append(tx, &ev_ok, &seq, &err) == CS_OK, "%s",
		    err.msg);
		ck_assert_int_eq(store_tx_commit(tx, &err), CS_OK);
		ck_assert_int_gt(seq, 0);
	}
}

static void
verify_expect(int64_t bad, int64_t checked)
{
	struct cs_err err = {0};
	int64_t b = -1, c = -1;

	ck_assert_msg(
	    store_audit_verify(st, &b, &c, &err) == CS_OK, "%s", err.msg);
	ck_assert_int_eq(b, bad);
	ck_assert_int_eq(c, checked);
}

/* --- open and schema ------------------------------------------------------ */

START_TEST(open_creates_schema_in_wal_mode)
{
	char ans[64];
	struct stat sb;

	ck_assert_int_eq(store_schema_version(st), 6);
	ck_assert(store_ping(st));
	raw_query("PRAGMA journal_mode", ans, sizeof(ans));
	ck_assert_str_eq(ans, "wal");
	raw_query("SELECT count(*) FROM sqlite_master WHERE type = 'table'"
	          " AND name IN ('audit_events', 'ca', 'keys')",
	    ans, sizeof(ans));
	ck_assert_str_eq(ans, "3");
	raw_query("SELECT count(*) FROM sqlite_master WHERE type = 'table'"
	          " AND name IN ('departments', 'licence_types',"
	          " 'type_departments', 'seals', 'clients', 'licences',"
	          " 'serials', 'idempotency')",
	    ans, sizeof(ans));
	ck_assert_str_eq(ans, "8");
	raw_query("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'",
	    ans, sizeof(ans));
	ck_assert_str_eq(ans, "15");
	raw_query("PRAGMA user_version", ans, sizeof(ans));
	ck_assert_str_eq(ans, "6");
	ck_assert_int_eq(stat(dbpath, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0077, 0);
}
END_TEST

START_TEST(reopen_is_idempotent)
{
	struct store_ca ca;
	struct store_tx *tx;
	struct cs_err err = {0};
	char ans[64];

	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(store_ca_put(tx, "root", "pkcs11:object=root",
	                     (const uint8_t *)"\x30\x00", 2, &err),
	    CS_OK);
	ck_assert_int_eq(store_audit_append(tx, &ev_ok, NULL, &err), CS_OK);
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_OK);
	store_free(st);
	st = NULL;
	ck_assert_int_eq(store_open(dbpath, 2, &st, &err), CS_OK);
	ck_assert_int_eq(store_schema_version(st), 6);
	store_free(st);
	st = NULL;
	ck_assert_int_eq(store_open(dbpath, 0, &st, &err), CS_OK);
	ck_assert_int_eq(store_ca_get(st, "root", &ca, &err), CS_OK);
	store_ca_release(&ca);
	verify_expect(0, 1);
	raw_query("SELECT count(*) FROM sqlite_master WHERE type = 'table'",
	    ans, sizeof(ans));
	ck_assert_str_eq(ans, "21"); /* migrations 1 to 5 */
}
END_TEST

START_TEST(newer_schema_is_refused)
{
	struct store *st2 = NULL;
	struct cs_err err = {0};

	ck_assert_int_eq(raw_exec("PRAGMA user_version = 99"), SQLITE_OK);
	ck_assert_int_eq(store_open(dbpath, 1, &st2, &err), CS_ERR_STORE);
	ck_assert_ptr_null(st2);
	ck_assert_ptr_nonnull(strstr(err.msg, "schema version 99, newer"));
}
END_TEST

START_TEST(negative_schema_is_refused)
{
	struct store *st2 = NULL;
	struct cs_err err = {0};

	ck_assert_int_eq(raw_exec("PRAGMA user_version = -1"), SQLITE_OK);
	ck_assert_int_eq(store_open(dbpath, 1, &st2, &err), CS_ERR_STORE);
	ck_assert_ptr_nonnull(strstr(err.msg, "invalid schema version"));
}
END_TEST

START_TEST(open_refuses_bad_arguments)
{
	struct store *st2 = NULL;
	struct cs_err err = {0};
	char path[PATH_MAX + 32];

	ck_assert_int_eq(store_open(dbpath, 65, &st2, &err), CS_ERR_INVALID);
	snprintf(path, sizeof(path), "%s/no/such/dir/x.db", dir);
	ck_assert_int_eq(store_open(path, 1, &st2, &err), CS_ERR_STORE);
	ck_assert_ptr_null(st2);
	/* A file that is not a database. */
	snprintf(path, sizeof(path), "%s/junk.db", dir);
	{
		FILE *f = fopen(path, "w");
		ck_assert_ptr_nonnull(f);
		fputs("this is not an sqlite database, not at all....", f);
		fclose(f);
	}
	ck_assert_int_eq(store_open(path, 1, &st2, &err), CS_ERR_STORE);
	ck_assert_ptr_null(st2);
}
END_TEST

START_TEST(free_and_rollback_accept_null)
{
	store_free(NULL);
	store_tx_rollback(NULL);
	store_ca_release(NULL);
	ck_assert_int_eq(store_tx_commit(NULL, NULL), CS_ERR_INVALID);
}
END_TEST

/* --- CAs --------------------------------------------------------------------
 */

START_TEST(ca_put_get_conflict_not_found)
{
	static const uint8_t der[] = {0x30, 0x03, 0x02, 0x01, 0x05};
	struct store_ca ca;
	struct store_tx *tx;
	struct cs_err err = {0};

	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(store_ca_put(tx, "root",
	                     "pkcs11:token=certsvc;object=root;type=private",
	                     der, sizeof(der), &err),
	    CS_OK);
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_OK);

	ck_assert_int_eq(store_ca_get(st, "root", &ca, &err), CS_OK);
	ck_assert_str_eq(ca.name, "root");
	ck_assert_str_eq(
	    ca.key_uri, "pkcs11:token=certsvc;object=root;type=private");
	ck_assert_uint_eq(ca.cert_der->len, sizeof(der));
	ck_assert_mem_eq(ca.cert_der->data, der, sizeof(der));
	ck_assert_int_gt(ca.created, 1600000000);
	store_ca_release(&ca);
	ck_assert_ptr_null(ca.cert_der);

	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(store_ca_put(tx, "root", "pkcs11:object=other", der,
	                     sizeof(der), &err),
	    CS_ERR_CONFLICT);
	ck_assert_str_eq(err.msg, "ca 'root' exists already");
	store_tx_rollback(tx);

	ck_assert_int_eq(
	    store_ca_get(st, "issuing", &ca, &err), CS_ERR_NOT_FOUND);
	ck_assert_str_eq(err.msg, "ca 'issuing' not found");
	ck_assert_ptr_null(ca.cert_der);
}
END_TEST

START_TEST(ca_put_refuses_bad_input)
{
	static const uint8_t der[] = {0x30, 0x00};
	struct store_ca ca;
	struct store_tx *tx;
	struct cs_err err = {0};
	char longname[STORE_NAME_MAX + 1];

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(
	    store_ca_put(tx, longname, "pkcs11:object=a", der, 2, &err),
	    CS_ERR_INVALID);
	store_tx_rollback(tx);
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(store_ca_put(tx, "root",
	                     "pkcs11:object=a;pin-value=1234", der, 2, &err),
	    CS_ERR_INVALID);
	ck_assert_ptr_null(strstr(err.msg, "1234"));
	store_tx_rollback(tx);
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(
	    store_ca_put(tx, "root", "pkcs11:object=a", der, 0, &err),
	    CS_ERR_INVALID);
	store_tx_rollback(tx);
	ck_assert_int_eq(store_ca_get(st, "", &ca, &err), CS_ERR_INVALID);
}
END_TEST

/* --- keys --------------------------------------------------------------------
 */

START_TEST(key_put_and_list)
{
	struct store_key k = {0}, *keys = NULL;
	struct store_tx *tx;
	struct cs_err err = {0};
	size_t n = 99;

	ck_assert_int_eq(store_key_list(st, &keys, &n, &err), CS_OK);
	ck_assert_uint_eq(n, 0);
	free(keys);

	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	snprintf(k.uri, sizeof(k.uri), "pkcs11:object=b;type=private");
	snprintf(k.label, sizeof(k.label), "b");
	snprintf(k.alg, sizeof(k.alg), "p256");
	snprintf(k.purpose, sizeof(k.purpose), "seal");
	k.created = 200;
	ck_assert_int_eq(store_key_put(tx, &k, &err), CS_OK);
	snprintf(k.uri, sizeof(k.uri), "pkcs11:object=a;type=private");
	snprintf(k.label, sizeof(k.label), "a");
	snprintf(k.purpose, sizeof(k.purpose), "ca-root");
	k.created = 100;
	ck_assert_int_eq(store_key_put(tx, &k, &err), CS_OK);
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_OK);

	ck_assert_int_eq(store_key_list(st, &keys, &n, &err), CS_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(keys[0].label, "a"); /* oldest first */
	ck_assert_str_eq(keys[0].purpose, "ca-root");
	ck_assert_int_eq(keys[0].created, 100);
	ck_assert_str_eq(keys[1].uri, "pkcs11:object=b;type=private");
	ck_assert_str_eq(keys[1].alg, "p256");
	free(keys);

	/* The same URI again is a conflict, and spoils the transaction. */
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(store_key_put(tx, &k, &err), CS_ERR_CONFLICT);
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_ERR_STORE);

	/* Missing fields and PINs in URIs are refused. */
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	k.purpose[0] = '\0';
	ck_assert_int_eq(store_key_put(tx, &k, &err), CS_ERR_INVALID);
	store_tx_rollback(tx);
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	snprintf(k.purpose, sizeof(k.purpose), "seal");
	snprintf(k.uri, sizeof(k.uri), "pkcs11:object=c?pin-value=1234");
	ck_assert_int_eq(store_key_put(tx, &k, &err), CS_ERR_INVALID);
	store_tx_rollback(tx);
}
END_TEST

/* --- audit chain -------------------------------------------------------------
 */

struct collect {
	struct store_audit_row rows[8];
	char detail[8][64];
	int n;
	int stop_after;
};

static bool
collect_fn(void *arg, const struct store_audit_row *row)
{
	struct collect *c = arg;

	ck_assert_int_lt(c->n, 8);
	c->rows[c->n] = *row;
	c->rows[c->n].detail = NULL; /* lent: copy what we need */
	if (row->detail != NULL)
		snprintf(c->detail[c->n], sizeof(c->detail[0]), "%s",
		    (const char *)row->detail->data);
	c->n++;
	return c->stop_after == 0 || c->n < c->stop_after;
}

START_TEST(audit_chain_links_and_verifies)
{
	static const uint8_t zero[STORE_HASH_LEN] = {0};
	struct store_audit_event ev2 = ev_ok;
	struct collect c = {0};
	struct store_tx *tx;
	struct cs_err err = {0};
	int64_t count, last, seq;
	char enc[512];
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen;
	EVP_MD_CTX *ctx;
	int i;

	append_n(2);
	ev2.request_id = "req-1";
	ev2.detail = NULL;
	ev2.actor = "client:\xe5\x8f\x91\xe8\xaf\x81"; /* UTF-8 */
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(store_audit_append(tx, &ev2, &seq, &err), CS_OK);
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_OK);
	ck_assert_int_eq(seq, 3);

	ck_assert_int_eq(store_audit_head(st, &count, &last, &err), CS_OK);
	ck_assert_int_eq(count, 3);
	ck_assert_int_eq(last, 3);
	ck_assert_int_eq(store_audit_scan(st, 1, collect_fn, &c, &err), CS_OK);
	ck_assert_int_eq(c.n, 3);
	ck_assert_mem_eq(c.rows[0].prev_hash, zero, STORE_HASH_LEN);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(c.rows[i].seq, i + 1);
	for (i = 1; i < 3; i++)
		ck_assert_mem_eq(
		    c.rows[i].prev_hash, c.rows[i - 1].hash, STORE_HASH_LEN);
	ck_assert_str_eq(c.detail[0], "{\"b\":1,\"a\":\"x\"}");
	ck_assert_str_eq(c.rows[2].request_id, "req-1");
	ck_assert_str_eq(c.rows[2].actor, ev2.actor);
	ck_assert_str_eq(c.detail[2], "");

	/* Known answer for the encoding of docs/audit.md. */
	snprintf(enc, sizeof(enc),
	    "{\"action\":\"ca.init\",\"actor\":\"admin\","
	    "\"detail\":\"{\\\"b\\\":1,\\\"a\\\":\\\"x\\\"}\","
	    "\"object\":\"ca:root\",\"outcome\":\"ok\",\"request_id\":null,"
	    "\"seq\":1,\"time\":%lld}",
	    (long long)c.rows[0].time);
	ctx = EVP_MD_CTX_new();
	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
	ck_assert_int_eq(EVP_DigestUpdate(ctx, zero, sizeof(zero)), 1);
	ck_assert_int_eq(EVP_DigestUpdate(ctx, enc, strlen(enc)), 1);
	ck_assert_int_eq(EVP_DigestFinal_ex(ctx, md, &mdlen), 1);
	EVP_MD_CTX_free(ctx);
	ck_assert_uint_eq(mdlen, STORE_HASH_LEN);
	ck_assert_mem_eq(c.rows[0].hash, md, STORE_HASH_LEN);

	verify_expect(0, 3);
}
END_TEST

/* The worked example of docs/audit.md verifies, and the chain goes on. */
START_TEST(audit_verify_accepts_documented_example)
{
	ck_assert_int_eq(
	    raw_exec("INSERT INTO audit_events VALUES (1,"
	             " 1700000000, 'admin', 'ca.init', 'ca:root',"
	             " 'ok', NULL, '{\"alg\":\"p256\"}',"
	             " zeroblob(32), X'd4374652f1a952ade53d3e7206e5"
	             "3bf6a5976793de4ae8825501f68859412eb6')"),
	    SQLITE_OK);
	verify_expect(0, 1);
	append_n(2);
	verify_expect(0, 3);
}
END_TEST

START_TEST(audit_scan_from_and_stop)
{
	struct collect c = {0};
	struct cs_err err = {0};
	int64_t count, last;

	ck_assert_int_eq(store_audit_head(st, &count, &last, &err), CS_OK);
	ck_assert_int_eq(count, 0);
	ck_assert_int_eq(last, 0);
	verify_expect(0, 0);
	append_n(5);
	ck_assert_int_eq(store_audit_scan(st, 3, collect_fn, &c, &err), CS_OK);
	ck_assert_int_eq(c.n, 3);
	ck_assert_int_eq(c.rows[0].seq, 3);
	memset(&c, 0, sizeof(c));
	c.stop_after = 2;
	ck_assert_int_eq(store_audit_scan(st, 0, collect_fn, &c, &err), CS_OK);
	ck_assert_int_eq(c.n, 2);
	ck_assert_int_eq(
	    store_audit_scan(st, 0, NULL, &c, &err), CS_ERR_INVALID);
}
END_TEST

START_TEST(audit_append_refuses_bad_events)
{
	struct store_audit_event ev = ev_ok;
	struct store_tx *tx;
	struct cs_err err = {0};
	char big[STORE_URI_MAX + 1];
	int64_t count, last;
	int64_t seq = 7;

	memset(big, 'o', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ev.actor = NULL;
	ck_assert_int_eq(
	    store_audit_append(tx, &ev, &seq, &err), CS_ERR_INVALID);
	ck_assert_int_eq(seq, 0);
	ck_assert_str_eq(err.msg, "audit event has no actor");
	/* The transaction is spoilt: commit rolls back. */
	ck_assert_int_eq(
	    store_audit_append(tx, &ev_ok, NULL, &err), CS_ERR_STORE);
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_ERR_STORE);

	ev = ev_ok;
	ev.detail = "[1,2]";
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(
	    store_audit_append(tx, &ev, NULL, &err), CS_ERR_INVALID);
	store_tx_rollback(tx);

	ev = ev_ok;
	ev.object = big;
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(
	    store_audit_append(tx, &ev, NULL, &err), CS_ERR_INVALID);
	store_tx_rollback(tx);

	ev = ev_ok;
	ev.outcome = "\xff\xfe";
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(
	    store_audit_append(tx, &ev, NULL, &err), CS_ERR_INVALID);
	store_tx_rollback(tx);

	ck_assert_int_eq(
	    store_audit_append(NULL, &ev_ok, NULL, &err), CS_ERR_INVALID);
	ck_assert_int_eq(store_audit_head(st, &count, &last, &err), CS_OK);
	ck_assert_int_eq(count, 0);
}
END_TEST

START_TEST(audit_triggers_refuse_update_and_delete)
{
	append_n(2);
	ck_assert_int_eq(
	    raw_exec("UPDATE audit_events SET outcome = 'x' WHERE seq = 1"),
	    SQLITE_CONSTRAINT);
	ck_assert_int_eq(raw_exec("DELETE FROM audit_events WHERE seq = 2"),
	    SQLITE_CONSTRAINT);
	verify_expect(0, 2);
}
END_TEST

START_TEST(audit_verify_finds_changed_field)
{
	append_n(4);
	ck_assert_int_eq(raw_exec("DROP TRIGGER audit_events_no_update;"
	                          "UPDATE audit_events SET outcome = 'denied'"
	                          " WHERE seq = 3"),
	    SQLITE_OK);
	verify_expect(3, 2);
}
END_TEST

START_TEST(audit_verify_finds_changed_detail)
{
	append_n(3);
	ck_assert_int_eq(raw_exec("DROP TRIGGER audit_events_no_update;"
	                          "UPDATE audit_events SET detail ="
	                          " '{\"a\":\"x\",\"b\":1}' WHERE seq = 1"),
	    SQLITE_OK);
	verify_expect(1, 0);
}
END_TEST

START_TEST(audit_verify_finds_changed_hash)
{
	append_n(3);
	ck_assert_int_eq(raw_exec("DROP TRIGGER audit_events_no_update;"
	                          "UPDATE audit_events SET hash = zeroblob(32)"
	                          " WHERE seq = 2"),
	    SQLITE_OK);
	verify_expect(2, 1);
}
END_TEST

START_TEST(audit_verify_finds_gap)
{
	append_n(4);
	ck_assert_int_eq(raw_exec("DROP TRIGGER audit_events_no_delete;"
	                          "DELETE FROM audit_events WHERE seq = 2"),
	    SQLITE_OK);
	verify_expect(2, 1);
}
END_TEST

START_TEST(audit_verify_finds_renumbered_rows)
{
	append_n(3);
	/* Close the gap by renumbering: the hashes still give it away. */
	ck_assert_int_eq(
	    raw_exec("DROP TRIGGER audit_events_no_delete;"
	             "DROP TRIGGER audit_events_no_update;"
	             "DELETE FROM audit_events WHERE seq = 2;"
	             "UPDATE audit_events SET seq = 2 WHERE seq = 3"),
	    SQLITE_OK);
	verify_expect(2, 1);
}
END_TEST

/* --- transactions and failures -------------------------------------------- */

/*
 * A CA and its audit event in one transaction, with the nth step failing:
 * steps are BEGIN, insert ca, read chain head, insert event, COMMIT.
 * Whichever fails, nothing is left behind and the chain still verifies.
 */
START_TEST(failed_step_rolls_back_everything)
{
	static const uint8_t der[] = {0x30, 0x00};
	struct store_ca ca;
	struct store_tx *tx = NULL;
	struct cs_err err = {0};
	int64_t count, last;
	enum cs_rc rc;
	int n = _i;

	append_n(1);
	store_test_fail_after(st, n);
	rc = store_tx_begin(st, &tx, &err);
	if (rc == CS_OK)
		rc = store_ca_put(
		    tx, "root", "pkcs11:object=root", der, 2, &err);
	if (rc == CS_OK)
		rc = store_audit_append(tx, &ev_ok, NULL, &err);
	if (tx != NULL)
		rc = store_tx_commit(tx, rc == CS_OK ? &err : NULL);
	store_test_fail_after(st, 0);

	ck_assert_int_eq(store_audit_head(st, &count, &last, &err), CS_OK);
	if (n <= 5) {
		ck_assert_int_eq(rc, CS_ERR_STORE);
		ck_assert_int_eq(
		    store_ca_get(st, "root", &ca, &err), CS_ERR_NOT_FOUND);
		ck_assert_int_eq(count, 1);
	} else {
		ck_assert_int_eq(rc, CS_OK);
		ck_assert_int_eq(store_ca_get(st, "root", &ca, &err), CS_OK);
		store_ca_release(&ca);
		ck_assert_int_eq(count, 2);
	}
	verify_expect(0, count);
	/* The connections are all usable again. */
	append_n(5);
	verify_expect(0, count + 5);
}
END_TEST

START_TEST(failed_reads_report_store_errors)
{
	struct store_key *keys = NULL;
	struct store_ca ca;
	struct collect c = {0};
	struct cs_err err = {0};
	int64_t a, b;
	size_t n;

	append_n(2);
	store_test_fail_after(st, 1);
	ck_assert_int_eq(store_audit_head(st, &a, &b, &err), CS_ERR_STORE);
	store_test_fail_after(st, 2);
	ck_assert_int_eq(
	    store_audit_scan(st, 1, collect_fn, &c, &err), CS_ERR_STORE);
	ck_assert_int_eq(c.n, 1);
	store_test_fail_after(st, 1);
	ck_assert_int_eq(store_audit_verify(st, &a, &b, &err), CS_ERR_STORE);
	ck_assert_int_eq(a, 0);
	store_test_fail_after(st, 1);
	ck_assert_int_eq(store_key_list(st, &keys, &n, &err), CS_ERR_STORE);
	ck_assert_ptr_null(keys);
	store_test_fail_after(st, 1);
	ck_assert_int_eq(store_ca_get(st, "root", &ca, &err), CS_ERR_STORE);
	ck_assert_ptr_nonnull(strstr(err.msg, "read ca"));
	store_test_fail_after(st, 1);
	ck_assert(!store_ping(st));
	ck_assert(store_ping(st));
}
END_TEST

START_TEST(rollback_discards_changes)
{
	static const uint8_t der[] = {0x30, 0x00};
	struct store_ca ca;
	struct store_tx *tx;
	struct cs_err err = {0};
	int64_t count, last;

	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(
	    store_ca_put(tx, "root", "pkcs11:object=r", der, 2, &err), CS_OK);
	ck_assert_int_eq(store_audit_append(tx, &ev_ok, NULL, &err), CS_OK);
	store_tx_rollback(tx);
	ck_assert_int_eq(store_ca_get(st, "root", &ca, &err), CS_ERR_NOT_FOUND);
	ck_assert_int_eq(store_audit_head(st, &count, &last, &err), CS_OK);
	ck_assert_int_eq(count, 0);
}
END_TEST

START_TEST(writer_waits_for_write_slot)
{
	struct store_tx *tx1, *tx2 = NULL;
	struct cs_err err = {0};

	/* A second writer in the same thread would wait forever: it times out.
	 */
	ck_assert_int_eq(store_tx_begin(st, &tx1, &err), CS_OK);
	ck_assert_int_eq(store_tx_begin(st, &tx2, &err), CS_ERR_STORE);
	ck_assert_ptr_null(tx2);
	ck_assert_ptr_nonnull(strstr(err.msg, "store busy"));
	/* Reads still work beside the writer. */
	ck_assert(store_ping(st));
	store_tx_rollback(tx1);
	ck_assert_int_eq(store_tx_begin(st, &tx2, &err), CS_OK);
	store_tx_rollback(tx2);
}
END_TEST

#define THREADS 4
#define PER_THREAD 200

static void *
appender(void *arg)
{
	struct store_audit_event ev = ev_ok;
	struct store_tx *tx;
	struct cs_err err;
	int i;

	ev.actor = arg;
	for (i = 0; i < PER_THREAD; i++) {
		if (store_tx_begin(st, &tx, &err) != CS_OK)
			return "begin";
		if (store_audit_append(tx, &ev, NULL, &err) != CS_OK) {
			store_tx_rollback(tx);
			return "append";
		}
		if (store_tx_commit(tx, &err) != CS_OK)
			return "commit";
	}
	return NULL;
}

START_TEST(concurrent_appends_keep_the_chain)
{
	static char actors[THREADS][32];
	pthread_t th[THREADS];
	struct cs_err err = {0};
	int64_t count, last;
	void *res;
	int i;

	for (i = 0; i < THREADS; i++) {
		snprintf(actors[i], sizeof(actors[i]), "thread-%d", i);
		ck_assert_int_eq(
		    pthread_create(&th[i], NULL, appender, actors[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		ck_assert_int_eq(pthread_join(th[i], &res), 0);
		ck_assert_msg(
		    res == NULL, "thread %d failed: %s", i, (const char *)res);
	}
	ck_assert_int_eq(store_audit_head(st, &count, &last, &err), CS_OK);
	ck_assert_int_eq(count, THREADS * PER_THREAD);
	ck_assert_int_eq(last, THREADS * PER_THREAD);
	verify_expect(0, THREADS * PER_THREAD);
}
END_TEST

/* --- savepoints (group commit) -------------------------------------------- */

static const uint8_t sp_der[] = {0x30, 0x00};

/* A CA row and its audit event inside one savepoint; seq gets its seq. */
static enum cs_rc
sp_part(struct store_tx *tx, const char *name, int64_t *seq, struct cs_err *err)
{
	enum cs_rc rc;

	*seq = 0;
	rc = store_tx_savepoint(tx, err);
	if (rc != CS_OK)
		return rc;
	rc = store_ca_put(tx, name, "pkcs11:object=sp", sp_der, 2, err);
	if (rc == CS_OK)
		rc = store_audit_append(tx, &ev_ok, seq, err);
	if (rc == CS_OK)
		rc = store_tx_release(tx, err);
	if (rc != CS_OK)
		ck_assert_int_eq(store_tx_rollback_to(tx, NULL), CS_OK);
	return rc;
}

static bool
ca_exists(const char *name)
{
	struct store_ca ca;
	enum cs_rc rc;

	rc = store_ca_get(st, name, &ca, NULL);
	ck_assert(rc == CS_OK || rc == CS_ERR_NOT_FOUND);
	if (rc == CS_OK)
		store_ca_release(&ca);
	return rc == CS_OK;
}

/*
 * Three parts in one transaction; the second is rolled back to its
 * savepoint after its audit event was written.  The third takes the
 * second's seq, so the chain has no gap, and a failed statement (a
 * conflict) inside a savepoint does not spoil the transaction either.
 */
START_TEST(savepoint_rollback_undoes_only_its_part)
{
	struct store_tx *tx;
	struct cs_err err = {0};
	int64_t seq, count, last;

	append_n(1);
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(sp_part(tx, "a", &seq, &err), CS_OK);
	ck_assert_int_eq(seq, 2);

	ck_assert_int_eq(store_tx_savepoint(tx, &err), CS_OK);
	ck_assert_int_eq(
	    store_ca_put(tx, "b", "pkcs11:object=b", sp_der, 2, &err), CS_OK);
	ck_assert_int_eq(store_audit_append(tx, &ev_ok, &seq, &err), CS_OK);
	ck_assert_int_eq(seq, 3);
	ck_assert_int_eq(store_tx_rollback_to(tx, &err), CS_OK);

	ck_assert_int_eq(sp_part(tx, "c", &seq, &err), CS_OK);
	ck_assert_int_eq(seq, 3); /* b's seq, reused */

	/* "a" exists already: the conflict fails only this part. */
	ck_assert_int_eq(sp_part(tx, "a", &seq, &err), CS_ERR_CONFLICT);
	ck_assert_int_eq(sp_part(tx, "d", &seq, &err), CS_OK);
	ck_assert_int_eq(seq, 4);
	/* Nothing is visible to others before the commit. */
	ck_assert(!ca_exists("a"));
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_OK);

	ck_assert(ca_exists("a"));
	ck_assert(!ca_exists("b"));
	ck_assert(ca_exists("c"));
	ck_assert(ca_exists("d"));
	ck_assert_int_eq(store_audit_head(st, &count, &last, &err), CS_OK);
	ck_assert_int_eq(count, 4);
	ck_assert_int_eq(last, 4);
	verify_expect(0, 4);
}
END_TEST

/* Nested savepoints undo innermost first; misuse is refused. */
START_TEST(savepoint_nesting_and_misuse)
{
	struct store_tx *tx;
	struct cs_err err = {0};

	ck_assert_int_eq(store_tx_savepoint(NULL, &err), CS_ERR_INVALID);
	ck_assert_int_eq(store_tx_release(NULL, &err), CS_ERR_INVALID);
	ck_assert_int_eq(store_tx_rollback_to(NULL, &err), CS_ERR_INVALID);
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(store_tx_release(tx, &err), CS_ERR_INVALID);
	ck_assert_int_eq(store_tx_rollback_to(tx, &err), CS_ERR_INVALID);

	ck_assert_int_eq(store_tx_savepoint(tx, &err), CS_OK);
	ck_assert_int_eq(
	    store_ca_put(tx, "outer", "pkcs11:object=o", sp_der, 2, &err),
	    CS_OK);
	ck_assert_int_eq(store_tx_savepoint(tx, &err), CS_OK);
	ck_assert_int_eq(
	    store_ca_put(tx, "inner", "pkcs11:object=i", sp_der, 2, &err),
	    CS_OK);
	ck_assert_int_eq(store_tx_rollback_to(tx, &err), CS_OK); /* inner */
	ck_assert_int_eq(store_tx_release(tx, &err), CS_OK);     /* outer */
	ck_assert_int_eq(store_tx_release(tx, &err), CS_ERR_INVALID);

	/* A failure inside a savepoint: release refuses, rollback cures. */
	ck_assert_int_eq(store_tx_savepoint(tx, &err), CS_OK);
	ck_assert_int_eq(
	    store_ca_put(tx, "outer", "pkcs11:object=o", sp_der, 2, &err),
	    CS_ERR_CONFLICT);
	ck_assert_int_eq(store_tx_savepoint(tx, &err), CS_ERR_STORE);
	ck_assert_int_eq(store_tx_release(tx, &err), CS_ERR_STORE);
	ck_assert_int_eq(store_tx_rollback_to(tx, &err), CS_OK);
	ck_assert_int_eq(store_audit_append(tx, &ev_ok, NULL, &err), CS_OK);
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_OK);
	ck_assert(ca_exists("outer"));
	ck_assert(!ca_exists("inner"));
	verify_expect(0, 1);
}
END_TEST

/*
 * One part committed, then the nth step from the second part's SAVEPOINT
 * on fails: SAVEPOINT, insert ca, chain head, insert event, RELEASE,
 * COMMIT.  Up to RELEASE only the second part is lost, the transaction
 * commits the first; a failed COMMIT loses both; later, nothing fails.
 */
START_TEST(failed_step_inside_savepoint)
{
	struct store_tx *tx;
	struct cs_err err = {0};
	int64_t seq, count, last;
	enum cs_rc rc, crc;
	int n = _i;

	append_n(1);
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(sp_part(tx, "a", &seq, &err), CS_OK);
	store_test_fail_after(st, n);
	rc = sp_part(tx, "b", &seq, &err);
	crc = store_tx_commit(tx, &err);
	store_test_fail_after(st, 0);
	ck_assert_int_eq(store_audit_head(st, &count, &last, &err), CS_OK);
	if (n <= 5) {
		ck_assert_int_eq(rc, CS_ERR_STORE);
		ck_assert_int_eq(crc, CS_OK);
		ck_assert(ca_exists("a"));
		ck_assert(!ca_exists("b"));
		ck_assert_int_eq(count, 2);
	} else if (n == 6) {
		ck_assert_int_eq(rc, CS_OK);
		ck_assert_int_eq(crc, CS_ERR_STORE);
		ck_assert(!ca_exists("a"));
		ck_assert(!ca_exists("b"));
		ck_assert_int_eq(count, 1);
	} else {
		ck_assert_int_eq(rc, CS_OK);
		ck_assert_int_eq(crc, CS_OK);
		ck_assert(ca_exists("a"));
		ck_assert(ca_exists("b"));
		ck_assert_int_eq(count, 3);
	}
	verify_expect(0, count);
	append_n(2); /* the writer is usable again */
	verify_expect(0, count + 2);
}
END_TEST

/* --- migration from schema 1 ---------------------------------------------- */

/* Migration 1 exactly as shipped: a database made by the first release. */
static const char v1_schema[] =
    "CREATE TABLE audit_events ("
    " seq INTEGER PRIMARY KEY CHECK (seq > 0),"
    " time INTEGER NOT NULL,"
    " actor TEXT NOT NULL,"
    " action TEXT NOT NULL,"
    " object TEXT NOT NULL,"
    " outcome TEXT NOT NULL,"
    " request_id TEXT,"
    " detail TEXT,"
    " prev_hash BLOB NOT NULL CHECK (length(prev_hash) = 32),"
    " hash BLOB NOT NULL CHECK (length(hash) = 32)"
    ") STRICT;"
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events"
    " BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;"
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events"
    " BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;"
    "CREATE TABLE ca ("
    " name TEXT PRIMARY KEY NOT NULL,"
    " key_uri TEXT NOT NULL,"
    " cert_der BLOB NOT NULL,"
    " created INTEGER NOT NULL"
    ") STRICT;"
    "CREATE TABLE keys ("
    " uri TEXT PRIMARY KEY NOT NULL,"
    " label TEXT NOT NULL,"
    " alg TEXT NOT NULL,"
    " purpose TEXT NOT NULL,"
    " created INTEGER NOT NULL"
    ") STRICT;"
    "PRAGMA user_version = 1;";

START_TEST(migrates_a_version_1_database)
{
	struct store *st1 = NULL;
	struct store_dept d = {0};
	struct store_ca ca;
	struct store_tx *tx;
	struct cs_err err = {0};
	char path[PATH_MAX + 16];
	sqlite3 *db = NULL;

	snprintf(path, sizeof(path), "%s/v1.db", dir);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(
	    sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(
	    sqlite3_exec(db, v1_schema, NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db,
	                     "INSERT INTO ca VALUES ('root', 'pkcs11:object=r',"
	                     " X'3000', 1700000000)",
	                     NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);

	ck_assert_msg(store_open(path, 2, &st1, &err) == CS_OK, "%s", err.msg);
	ck_assert_int_eq(store_schema_version(st1), 6);
	ck_assert_int_eq(store_ca_get(st1, "root", &ca, &err), CS_OK);
	ck_assert_int_eq(ca.created, 1700000000);
	store_ca_release(&ca);
	snprintf(d.code, sizeof(d.code), "D1");
	snprintf(d.name, sizeof(d.name), "dept one");
	snprintf(d.region, sizeof(d.region), "110000");
	ck_assert_int_eq(store_tx_begin(st1, &tx, &err), CS_OK);
	ck_assert_int_eq(store_dept_put(tx, &d, &err), CS_OK);
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_OK);
	store_free(st1);
	/* And again: nothing more to apply. */
	ck_assert_int_eq(store_open(path, 1, &st1, &err), CS_OK);
	ck_assert_int_eq(store_schema_version(st1), 6);
	ck_assert_int_eq(store_dept_get(st1, "D1", &d, &err), CS_OK);
	store_free(st1);
}
END_TEST

/* --- issue #4 fixtures ------------------------------------------------------
 */

#define HOLDER_A                                                               \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HOLDER_B                                                               \
	"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void
add_dept(const char *code)
{
	struct store_dept d = {0};
	struct store_tx *tx;
	struct cs_err err = {0};

	snprintf(d.code, sizeof(d.code), "%s", code);
	snprintf(d.name, sizeof(d.name), "Department %s", code);
	snprintf(d.region, sizeof(d.region), "110105");
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_msg(store_dept_put(tx, &d, &err) == CS_OK, "%s", err.msg);
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_OK);
}

static void
add_type(const char *code, const char *dept)
{
	const char *depts[] = {dept};
	struct store_tx *tx;
	struct cs_err err = {0};

	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_msg(
	    store_ltype_put(tx, code, "A type", "{}", depts, 1, &err) == CS_OK,
	    "%s", err.msg);
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_OK);
}

static void
seal_fill(struct store_seal *s, const char *id, const char *dept)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "%s", id);
	snprintf(s->dept, sizeof(s->dept), "%s", dept);
	snprintf(s->name, sizeof(s->name), "Seal %s", id);
	snprintf(s->alg, sizeof(s->alg), "p256");
	snprintf(s->key_uri, sizeof(s->key_uri),
	    "pkcs11:token=certsvc;object=seal-%s;type=private", id);
	s->cert_der = buf_from("\x30\x03\x02\x01\x01", 5);
	ck_assert_ptr_nonnull(s->cert_der);
}

static void
add_seal(const char *id, const char *dept, int64_t created)
{
	struct store_seal s;
	struct store_tx *tx;
	struct cs_err err = {0};

	seal_fill(&s, id, dept);
	s.created = created;
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_msg(store_seal_put(tx, &s, &err) == CS_OK, "%s", err.msg);
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_OK);
	store_seal_release(&s);
}

static void
licence_fill(struct store_licence *l, const char *id, int version,
    const char *holder, const char *dept, int64_t issued)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->id, sizeof(l->id), "%s", id);
	l->version = version;
	snprintf(l->type, sizeof(l->type), "JZ01");
	snprintf(l->dept, sizeof(l->dept), "%s", dept);
	snprintf(l->seal_id, sizeof(l->seal_id), "S-1");
	snprintf(l->holder_ref, sizeof(l->holder_ref), "%s", holder);
	snprintf(l->status, sizeof(l->status), "valid");
	l->issued_at = issued;
	l->valid_from = issued;
	l->valid_until = issued + 86400;
	l->document = buf_new(64);
	ck_assert_ptr_nonnull(l->document);
	ck_assert_int_eq(
	    buf_printf(l->document, "{\"id\":\"%s\",\"v\":%d}", id, version),
	    CS_OK);
	l->seal_der = buf_from("\x30\x80\x00\x00", 4);
	ck_assert_ptr_nonnull(l->seal_der);
}

static enum cs_rc
put_licence(const char *id, int version, const char *holder, const char *dept,
    int64_t issued, struct cs_err *err)
{
	struct store_licence l;
	struct store_tx *tx;
	enum cs_rc rc;

	licence_fill(&l, id, version, holder, dept, issued);
	ck_assert_int_eq(store_tx_begin(st, &tx, err), CS_OK);
	rc = store_licence_put(tx, &l, err);
	if (rc == CS_OK)
		rc = store_tx_commit(tx, err);
	else
		store_tx_rollback(tx);
	store_licence_release(&l);
	return rc;
}

/* Two departments, a type both may issue, a seal of D1. */
static void
setup_registry(void)
{
	setup();
	add_dept("D1");
	add_dept("D2");
	{
		const char *depts[] = {"D1", "D2"};
		struct store_tx *tx;
		struct cs_err err = {0};

		ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
		ck_assert_int_eq(store_ltype_put(tx, "JZ01", "Permit",
		                     "{\"code\":\"JZ01\"}", depts, 2, &err),
		    CS_OK);
		ck_assert_int_eq(store_tx_commit(tx, &err), CS_OK);
	}
	add_seal("S-1", "D1", 100);
}

/* --- departments ------------------------------------------------------------
 */

START_TEST(dept_put_get_list)
{
	struct store_dept d = {0}, *v = NULL;
	struct store_tx *tx;
	struct cs_err err = {0};
	size_t n = 9;

	ck_assert_int_eq(store_dept_list(st, &v, &n, &err), CS_OK);
	ck_assert_uint_eq(n, 0);
	free(v);
	add_dept("D2");
	add_dept("D1");
	ck_assert_int_eq(store_dept_get(st, "D1", &d, &err), CS_OK);
	ck_assert_str_eq(d.code, "D1");
	ck_assert_str_eq(d.name, "Department D1");
	ck_assert_str_eq(d.region, "110105");
	ck_assert_int_gt(d.created, 1600000000);
	ck_assert_int_eq(store_dept_list(st, &v, &n, &err), CS_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(v[0].code, "D1");
	ck_assert_str_eq(v[1].code, "D2");
	free(v);

	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(store_dept_put(tx, &d, &err), CS_ERR_CONFLICT);
	ck_assert_str_eq(err.msg, "department 'D1' exists already");
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_ERR_STORE);

	ck_assert_int_eq(store_dept_get(st, "D3", &d, &err), CS_ERR_NOT_FOUND);
	ck_assert_str_eq(err.msg, "department 'D3' not found");
	ck_assert_str_eq(d.code, "");
}
END_TEST

START_TEST(dept_put_refuses_bad_fields)
{
	struct store_dept d = {0};
	struct store_tx *tx;
	struct cs_err err = {0};
	char longcode[STORE_CODE_MAX + 1];

	snprintf(d.code, sizeof(d.code), "D1");
	snprintf(d.region, sizeof(d.region), "110000");
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(store_dept_put(tx, &d, &err), CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, "department name must have 1 to 255 bytes");
	store_tx_rollback(tx);
	/* A name without its NUL inside the member. */
	memset(d.name, 'n', sizeof(d.name));
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(store_dept_put(tx, &d, &err), CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, "department name must have 1 to 255 bytes");
	store_tx_rollback(tx);
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(store_dept_put(tx, NULL, &err), CS_ERR_INVALID);
	store_tx_rollback(tx);
	memset(longcode, 'C', sizeof(longcode) - 1);
	longcode[sizeof(longcode) - 1] = '\0';
	ck_assert_int_eq(
	    store_dept_get(st, longcode, &d, &err), CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, "department code must have 1 to 39 bytes");
	ck_assert_int_eq(store_dept_put(NULL, &d, &err), CS_ERR_INVALID);
}
END_TEST

/* --- licence types
 * ------------------------------------------------------------ */

START_TEST(ltype_put_get_list_allowed)
{
	struct store_ltype lt, *v = NULL;
	struct cs_err err = {0};
	bool allowed = false;
	size_t n = 0;

	add_dept("D3");
	add_type("ZZ02", "D3");
	ck_assert_int_eq(store_ltype_get(st, "JZ01", &lt, &err), CS_OK);
	ck_assert_str_eq(lt.code, "JZ01");
	ck_assert_str_eq(lt.name, "Permit");
	ck_assert_str_eq(
	    (const char *)lt.definition->data, "{\"code\":\"JZ01\"}");
	ck_assert_int_gt(lt.created, 0);
	store_ltype_release(&lt);
	ck_assert_ptr_null(lt.definition);
	store_ltype_release(NULL);

	ck_assert_int_eq(store_ltype_list(st, &v, &n, &err), CS_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(v[0].code, "JZ01");
	ck_assert_str_eq(v[1].code, "ZZ02");
	ck_assert_str_eq((const char *)v[1].definition->data, "{}");
	store_ltype_list_free(v, n);
	store_ltype_list_free(NULL, 0);

	ck_assert_int_eq(
	    store_ltype_dept_allowed(st, "JZ01", "D2", &allowed, &err), CS_OK);
	ck_assert(allowed);
	ck_assert_int_eq(
	    store_ltype_dept_allowed(st, "JZ01", "D3", &allowed, &err), CS_OK);
	ck_assert(!allowed);
	ck_assert_int_eq(
	    store_ltype_dept_allowed(st, "XX", "D1", &allowed, &err), CS_OK);
	ck_assert(!allowed);

	ck_assert_int_eq(
	    store_ltype_get(st, "NOPE", &lt, &err), CS_ERR_NOT_FOUND);
	ck_assert_str_eq(err.msg, "licence type 'NOPE' not found");
}
END_TEST

START_TEST(ltype_put_refuses_unknown_dept_and_conflicts)
{
	const char *depts[] = {"D1", "D9", "D8"};
	const char *twice[] = {"D1", "D1"};
	struct store_ltype lt;
	struct store_tx *tx;
	struct cs_err err = {0};

	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(store_ltype_put(tx, "AB1", "x", "{}", depts, 3, &err),
	    CS_ERR_NOT_FOUND);
	ck_assert_str_eq(err.msg, "department 'D9' not found");
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_ERR_STORE);
	ck_assert_int_eq(
	    store_ltype_get(st, "AB1", &lt, &err), CS_ERR_NOT_FOUND);

	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(store_ltype_put(tx, "JZ01", "x", "{}", depts, 1, &err),
	    CS_ERR_CONFLICT);
	ck_assert_str_eq(err.msg, "licence type 'JZ01' exists already");
	store_tx_rollback(tx);

	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(store_ltype_put(tx, "AB2", "x", "{}", twice, 2, &err),
	    CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, "department 'D1' is listed twice");
	store_tx_rollback(tx);

	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(store_ltype_put(tx, "AB3", "x", "{}", depts, 0, &err),
	    CS_ERR_INVALID);
	store_tx_rollback(tx);
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(store_ltype_put(tx, "AB3", "", "{}", depts, 1, &err),
	    CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, "licence type name must have 1 to 255 bytes");
	store_tx_rollback(tx);
}
END_TEST

/*
 * A type with three issuing departments and its audit event, the nth step
 * failing: BEGIN, type, 3 departments, chain head, event, COMMIT.  Until
 * the commit, nothing of it is ever visible.
 */
START_TEST(failed_step_in_multi_row_tx_leaves_nothing)
{
	const char *depts[] = {"D1", "D2", "D3"};
	struct store_ltype lt;
	struct store_tx *tx = NULL;
	struct cs_err err = {0};
	int64_t count, last;
	bool allowed = true;
	enum cs_rc rc;
	int n = _i;

	add_dept("D3");
	store_test_fail_after(st, n);
	rc = store_tx_begin(st, &tx, &err);
	if (rc == CS_OK)
		rc = store_ltype_put(tx, "MR01", "multi", "{}", depts, 3, &err);
	if (rc == CS_OK)
		rc = store_audit_append(tx, &ev_ok, NULL, &err);
	if (tx != NULL)
		rc = store_tx_commit(tx, rc == CS_OK ? &err : NULL);
	store_test_fail_after(st, 0);
	ck_assert_int_eq(store_audit_head(st, &count, &last, &err), CS_OK);
	ck_assert_int_eq(
	    store_ltype_dept_allowed(st, "MR01", "D1", &allowed, &err), CS_OK);
	if (n <= 8) {
		ck_assert_int_eq(rc, CS_ERR_STORE);
		ck_assert_int_eq(
		    store_ltype_get(st, "MR01", &lt, &err), CS_ERR_NOT_FOUND);
		ck_assert(!allowed);
		ck_assert_int_eq(count, 0);
	} else {
		ck_assert_int_eq(rc, CS_OK);
		ck_assert_int_eq(store_ltype_get(st, "MR01", &lt, &err), CS_OK);
		store_ltype_release(&lt);
		ck_assert(allowed);
		ck_assert_int_eq(count, 1);
	}
	add_dept("D4"); /* the writer is usable again */
}
END_TEST

/* --- seals
 * -------------------------------------------------------------------- */

START_TEST(seal_put_get_list)
{
	static const uint8_t png[] = {0x89, 'P', 'N', 'G', 1, 2, 3};
	struct store_seal s, *v = NULL;
	struct store_tx *tx;
	struct cs_err err = {0};
	unsigned mdlen;
	size_t n;

	seal_fill(&s, "S-2", "D1");
	s.image = buf_from(png, sizeof(png));
	s.has_image = true;
	ck_assert_int_eq(EVP_Digest(png, sizeof(png), s.image_sha256, &mdlen,
	                     EVP_sha256(), NULL),
	    1);
	s.created = 200;
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_msg(store_seal_put(tx, &s, &err) == CS_OK, "%s", err.msg);
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_OK);
	store_seal_release(&s);
	add_seal("S-3", "D2", 300);

	ck_assert_int_eq(store_seal_get(st, "S-2", &s, &err), CS_OK);
	ck_assert_str_eq(s.dept, "D1");
	ck_assert_str_eq(s.name, "Seal S-2");
	ck_assert_str_eq(s.alg, "p256");
	ck_assert_str_eq(s.status, "active");
	ck_assert_str_eq(s.reason, "");
	ck_assert_int_eq(s.created, 200);
	ck_assert_int_eq(s.revoked_at, 0);
	ck_assert(s.has_image);
	ck_assert_uint_eq(s.image->len, sizeof(png));
	ck_assert_mem_eq(s.image->data, png, sizeof(png));
	ck_assert_uint_eq(s.cert_der->len, 5);
	store_seal_release(&s);
	ck_assert_int_eq(store_seal_get(st, "S-1", &s, &err), CS_OK);
	ck_assert(!s.has_image);
	ck_assert_ptr_null(s.image);
	store_seal_release(&s);
	store_seal_release(NULL);

	/* Newest first; without certificates. */
	ck_assert_int_eq(store_seal_list(st, NULL, &v, &n, &err), CS_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(v[0].id, "S-3");
	ck_assert_str_eq(v[1].id, "S-2");
	ck_assert(v[1].has_image);
	ck_assert_str_eq(v[2].id, "S-1");
	ck_assert_ptr_null(v[0].cert_der);
	free(v);
	ck_assert_int_eq(store_seal_list(st, "D1", &v, &n, &err), CS_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(v[0].id, "S-2");
	ck_assert_str_eq(v[1].id, "S-1");
	free(v);
	ck_assert_int_eq(store_seal_list(st, "D9", &v, &n, &err), CS_OK);
	ck_assert_uint_eq(n, 0);
	free(v);

	ck_assert_int_eq(store_seal_get(st, "S-9", &s, &err), CS_ERR_NOT_FOUND);
	ck_assert_str_eq(err.msg, "seal 'S-9' not found");
}
END_TEST

START_TEST(seal_put_refuses_conflicts_and_bad_input)
{
	struct store_seal s;
	struct store_tx *tx;
	struct cs_err err = {0};

	seal_fill(&s, "S-1", "D1");
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(store_seal_put(tx, &s, &err), CS_ERR_CONFLICT);
	ck_assert_str_eq(err.msg, "seal 'S-1' exists already");
	store_tx_rollback(tx);

	snprintf(s.id, sizeof(s.id), "S-5");
	snprintf(s.dept, sizeof(s.dept), "D9");
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(store_seal_put(tx, &s, &err), CS_ERR_NOT_FOUND);
	ck_assert_str_eq(err.msg, "department 'D9' not found");
	store_tx_rollback(tx);

	snprintf(s.dept, sizeof(s.dept), "D1");
	s.has_image = true;
	s.image = buf_from("img", 3);
	memset(s.image_sha256, 0x11, sizeof(s.image_sha256));
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(store_seal_put(tx, &s, &err), CS_ERR_INVALID);
	ck_assert_str_eq(
	    err.msg, "seal image_sha256 is not the hash of the image");
	store_tx_rollback(tx);

	s.has_image = false;
	snprintf(s.key_uri, sizeof(s.key_uri), "pkcs11:object=a?pin-value=1");
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(store_seal_put(tx, &s, &err), CS_ERR_INVALID);
	store_tx_rollback(tx);

	snprintf(s.key_uri, sizeof(s.key_uri), "pkcs11:object=a");
	snprintf(s.status, sizeof(s.status), "lost");
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(store_seal_put(tx, &s, &err), CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, "seal status must be 'active' or 'revoked'");
	store_tx_rollback(tx);
	store_seal_release(&s);
}
END_TEST

START_TEST(seal_revoke_twice_conflicts)
{
	struct store_seal s;
	struct store_tx *tx;
	struct cs_err err = {0};

	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(
	    store_seal_revoke(tx, "S-1", "key compromise", 1234, &err), CS_OK);
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_OK);
	ck_assert_int_eq(store_seal_get(st, "S-1", &s, &err), CS_OK);
	ck_assert_str_eq(s.status, "revoked");
	ck_assert_str_eq(s.reason, "key compromise");
	ck_assert_int_eq(s.revoked_at, 1234);
	store_seal_release(&s);

	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(
	    store_seal_revoke(tx, "S-1", "again", 0, &err), CS_ERR_CONFLICT);
	ck_assert_str_eq(err.msg, "seal 'S-1' is revoked already");
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_ERR_STORE);
	ck_assert_int_eq(store_seal_get(st, "S-1", &s, &err), CS_OK);
	ck_assert_str_eq(s.reason, "key compromise");
	store_seal_release(&s);

	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(
	    store_seal_revoke(tx, "S-7", NULL, 0, &err), CS_ERR_NOT_FOUND);
	ck_assert_str_eq(err.msg, "seal 'S-7' not found");
	store_tx_rollback(tx);
}
END_TEST

/* --- clients
 * ------------------------------------------------------------------ */

static void
client_fill(
    struct store_client *c, const char *id, const char *role, uint8_t hashbyte)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->name, sizeof(c->name), "client %s", id);
	snprintf(c->role, sizeof(c->role), "%s", role);
	if (strcmp(role, "issuer") == 0)
		snprintf(c->dept, sizeof(c->dept), "D1");
	if (strcmp(role, "holder") == 0)
		snprintf(c->holder_ref, sizeof(c->holder_ref), HOLDER_A);
	memset(c->secret_hash, hashbyte, sizeof(c->secret_hash));
}

static enum cs_rc
put_client(const struct store_client *c, struct cs_err *err)
{
	struct store_tx *tx;
	enum cs_rc rc;

	ck_assert_int_eq(store_tx_begin(st, &tx, err), CS_OK);
	rc = store_client_put(tx, c, err);
	if (rc == CS_OK)
		return store_tx_commit(tx, err);
	store_tx_rollback(tx);
	return rc;
}

START_TEST(client_put_find_list_revoke)
{
	struct store_client c, *v = NULL;
	struct store_tx *tx;
	struct cs_err err = {0};
	uint8_t h[STORE_HASH_LEN];
	int64_t gen0, gen;
	size_t n;

	ck_assert_int_eq(store_generation(st, "clients", &gen0, &err), CS_OK);
	client_fill(&c, "C-1", "issuer", 1);
	ck_assert_int_eq(put_client(&c, &err), CS_OK);
	client_fill(&c, "C-2", "verifier", 2);
	ck_assert_int_eq(put_client(&c, &err), CS_OK);
	client_fill(&c, "C-3", "holder", 3);
	ck_assert_int_eq(put_client(&c, &err), CS_OK);

	memset(h, 3, sizeof(h));
	ck_assert_int_eq(store_client_by_hash(st, h, &c, &err), CS_OK);
	ck_assert_str_eq(c.id, "C-3");
	ck_assert_str_eq(c.role, "holder");
	ck_assert_str_eq(c.holder_ref, HOLDER_A);
	ck_assert_str_eq(c.dept, "");
	ck_assert_str_eq(c.status, "active");
	ck_assert_mem_eq(c.secret_hash, h, sizeof(h));
	memset(h, 9, sizeof(h));
	ck_assert_int_eq(
	    store_client_by_hash(st, h, &c, &err), CS_ERR_NOT_FOUND);
	ck_assert_int_eq(store_client_get(st, "C-1", &c, &err), CS_OK);
	ck_assert_str_eq(c.dept, "D1");
	ck_assert_str_eq(c.name, "client C-1");
	ck_assert_int_eq(
	    store_client_get(st, "C-9", &c, &err), CS_ERR_NOT_FOUND);
	ck_assert_str_eq(err.msg, "client 'C-9' not found");

	ck_assert_int_eq(store_client_list(st, &v, &n, &err), CS_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(v[0].id, "C-1");
	ck_assert_str_eq(v[2].id, "C-3");
	free(v);

	/* New clients leave the "clients" generation; a revocation moves it. */
	ck_assert_int_eq(store_generation(st, "clients", &gen, &err), CS_OK);
	ck_assert_int_eq(gen, gen0);
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(store_client_revoke(tx, "C-2", 555, &err), CS_OK);
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_OK);
	ck_assert_int_eq(store_generation(st, "clients", &gen, &err), CS_OK);
	ck_assert_int_eq(gen, gen0 + 1);
	ck_assert_int_eq(store_client_get(st, "C-2", &c, &err), CS_OK);
	ck_assert_str_eq(c.status, "revoked");
	ck_assert_int_eq(c.revoked_at, 555);
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(
	    store_client_revoke(tx, "C-2", 0, &err), CS_ERR_CONFLICT);
	ck_assert_str_eq(err.msg, "client 'C-2' is revoked already");
	store_tx_rollback(tx);
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(
	    store_client_revoke(tx, "C-8", 0, &err), CS_ERR_NOT_FOUND);
	store_tx_rollback(tx);
}
END_TEST

START_TEST(client_put_refuses_conflicts_and_bad_roles)
{
	struct store_client c;
	struct cs_err err = {0};

	client_fill(&c, "C-1", "verifier", 1);
	ck_assert_int_eq(put_client(&c, &err), CS_OK);
	client_fill(&c, "C-1", "verifier", 2); /* same id */
	ck_assert_int_eq(put_client(&c, &err), CS_ERR_CONFLICT);
	client_fill(&c, "C-2", "verifier", 1); /* same secret hash */
	ck_assert_int_eq(put_client(&c, &err), CS_ERR_CONFLICT);
	ck_assert_str_eq(err.msg, "client 'C-2' or its secret exists already");

	client_fill(&c, "C-3", "issuer", 3);
	snprintf(c.dept, sizeof(c.dept), "D9");
	ck_assert_int_eq(put_client(&c, &err), CS_ERR_NOT_FOUND);
	ck_assert_str_eq(err.msg, "department 'D9' not found");
	c.dept[0] = '\0';
	ck_assert_int_eq(put_client(&c, &err), CS_ERR_INVALID);
	client_fill(&c, "C-3", "verifier", 3);
	snprintf(c.holder_ref, sizeof(c.holder_ref), HOLDER_B);
	ck_assert_int_eq(put_client(&c, &err), CS_ERR_INVALID);
	client_fill(&c, "C-3", "admin", 3);
	ck_assert_int_eq(put_client(&c, &err), CS_ERR_INVALID);
	ck_assert_str_eq(
	    err.msg, "client role must be issuer, verifier or holder");
}
END_TEST

/* --- licences
 * ----------------------------------------------------------------- */

START_TEST(licence_get_selects_versions)
{
	struct store_licence l;
	struct cs_err err = {0};
	char ans[32];

	ck_assert_int_eq(
	    put_licence("L1", 1, HOLDER_A, "D1", 1000, &err), CS_OK);
	ck_assert_int_eq(
	    put_licence("L1", 2, HOLDER_A, "D1", 2000, &err), CS_OK);
	ck_assert_int_eq(store_licence_get(st, "L1", 0, &l, &err), CS_OK);
	ck_assert_int_eq(l.version, 2);
	ck_assert_str_eq(
	    (const char *)l.document->data, "{\"id\":\"L1\",\"v\":2}");
	ck_assert_uint_eq(l.seal_der->len, 4);
	ck_assert_str_eq(l.type, "JZ01");
	ck_assert_str_eq(l.seal_id, "S-1");
	ck_assert_str_eq(l.status, "valid");
	ck_assert_int_eq(l.issued_at, 2000);
	ck_assert_int_eq(l.valid_until, 2000 + 86400);
	store_licence_release(&l);
	ck_assert_int_eq(store_licence_get(st, "L1", 1, &l, &err), CS_OK);
	ck_assert_int_eq(l.version, 1);
	ck_assert_str_eq(
	    (const char *)l.document->data, "{\"id\":\"L1\",\"v\":1}");
	store_licence_release(&l);
	store_licence_release(NULL);

	/* An older version stored late does not become the newest. */
	ck_assert_int_eq(
	    put_licence("L1", 4, HOLDER_A, "D1", 4000, &err), CS_OK);
	ck_assert_int_eq(
	    put_licence("L1", 3, HOLDER_A, "D1", 3000, &err), CS_OK);
	ck_assert_int_eq(store_licence_get(st, "L1", 0, &l, &err), CS_OK);
	ck_assert_int_eq(l.version, 4);
	store_licence_release(&l);
	raw_query("SELECT group_concat(version) FROM licences"
	          " WHERE id = 'L1' AND latest = 1",
	    ans, sizeof(ans));
	ck_assert_str_eq(ans, "4");

	ck_assert_int_eq(
	    put_licence("L1", 4, HOLDER_A, "D1", 5000, &err), CS_ERR_CONFLICT);
	ck_assert_str_eq(err.msg, "licence 'L1' version 4 exists already");
	ck_assert_int_eq(store_licence_get(st, "L1", 0, &l, &err), CS_OK);
	ck_assert_int_eq(l.issued_at, 4000);
	store_licence_release(&l);

	ck_assert_int_eq(
	    store_licence_get(st, "L1", 9, &l, &err), CS_ERR_NOT_FOUND);
	ck_assert_str_eq(err.msg, "licence 'L1' version 9 not found");
	ck_assert_int_eq(
	    store_licence_get(st, "L2", 0, &l, &err), CS_ERR_NOT_FOUND);
	ck_assert_str_eq(err.msg, "licence 'L2' not found");
	ck_assert_ptr_null(l.document);
	ck_assert_int_eq(
	    store_licence_get(st, "L1", -1, &l, &err), CS_ERR_INVALID);
}
END_TEST

START_TEST(licence_put_refuses_unknown_references)
{
	struct store_licence l;
	struct store_tx *tx;
	struct cs_err err = {0};

	licence_fill(&l, "L1", 1, HOLDER_A, "D1", 1000);
	snprintf(l.type, sizeof(l.type), "XX99");
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(store_licence_put(tx, &l, &err), CS_ERR_NOT_FOUND);
	ck_assert_str_eq(err.msg,
	    "licence 'L1': its type, department or seal does not exist");
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_ERR_STORE);

	snprintf(l.type, sizeof(l.type), "JZ01");
	snprintf(l.seal_id, sizeof(l.seal_id), "S-404");
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(store_licence_put(tx, &l, &err), CS_ERR_NOT_FOUND);
	store_tx_rollback(tx);

	snprintf(l.seal_id, sizeof(l.seal_id), "S-1");
	l.version = 0;
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(store_licence_put(tx, &l, &err), CS_ERR_INVALID);
	store_tx_rollback(tx);
	l.version = 1;
	buf_free(l.document);
	l.document = NULL;
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(store_licence_put(tx, &l, &err), CS_ERR_INVALID);
	ck_assert_str_eq(
	    err.msg, "licence document must have 1 to 4194304 bytes");
	store_tx_rollback(tx);
	store_licence_release(&l);
	ck_assert_int_eq(
	    store_licence_get(st, "L1", 0, &l, &err), CS_ERR_NOT_FOUND);
}
END_TEST

START_TEST(licence_list_by_holder_and_dept)
{
	struct store_licence *v = NULL;
	struct cs_err err = {0};
	size_t n = 0;

	add_seal("S-2", "D2", 100);
	ck_assert_int_eq(
	    put_licence("L1", 1, HOLDER_A, "D1", 1000, &err), CS_OK);
	ck_assert_int_eq(
	    put_licence("L2", 1, HOLDER_A, "D1", 2000, &err), CS_OK);
	ck_assert_int_eq(
	    put_licence("L3", 1, HOLDER_B, "D1", 3000, &err), CS_OK);
	/* L1 corrected later: its new version is the newest of A's. */
	ck_assert_int_eq(
	    put_licence("L1", 2, HOLDER_A, "D1", 4000, &err), CS_OK);
	/* L2 moves to holder B in version 2: A no longer sees it. */
	ck_assert_int_eq(
	    put_licence("L2", 2, HOLDER_B, "D1", 5000, &err), CS_OK);

	ck_assert_int_eq(
	    store_licence_list(st, HOLDER_A, NULL, 10, &v, &n, &err), CS_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(v[0].id, "L1");
	ck_assert_int_eq(v[0].version, 2);
	ck_assert_ptr_null(v[0].document);
	free(v);

	ck_assert_int_eq(
	    store_licence_list(st, HOLDER_B, NULL, 10, &v, &n, &err), CS_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(v[0].id, "L2");
	ck_assert_int_eq(v[0].version, 2);
	ck_assert_str_eq(v[1].id, "L3");
	free(v);

	ck_assert_int_eq(
	    store_licence_list(st, NULL, "D1", 0, &v, &n, &err), CS_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(v[0].id, "L2");
	ck_assert_str_eq(v[1].id, "L1");
	ck_assert_int_eq(v[1].version, 2);
	ck_assert_str_eq(v[2].id, "L3");
	free(v);
	ck_assert_int_eq(
	    store_licence_list(st, NULL, "D1", 2, &v, &n, &err), CS_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(v[1].id, "L1");
	free(v);
	ck_assert_int_eq(
	    store_licence_list(st, NULL, "D2", 5, &v, &n, &err), CS_OK);
	ck_assert_uint_eq(n, 0);
	free(v);
	ck_assert_int_eq(store_licence_list(st, NULL, NULL, 5, &v, &n, &err),
	    CS_ERR_INVALID);
	ck_assert_ptr_null(v);
}
END_TEST

/* The plan of a listing: its partial index, in order, no sort. */
static void
plan_expect(const char *sql, const char *index)
{
	sqlite3_stmt *s = NULL;
	sqlite3 *db = NULL;
	char plan[1024] = "";
	size_t len = 0;

	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW && len < sizeof(plan))
		len += (size_t)snprintf(plan + len, sizeof(plan) - len, "%s; ",
		    (const char *)sqlite3_column_text(s, 3));
	sqlite3_finalize(s);
	sqlite3_close(db);
	ck_assert_msg(strstr(plan, index) != NULL, "plan: %s", plan);
	ck_assert_msg(strstr(plan, "TEMP B-TREE") == NULL, "plan: %s", plan);
}

START_TEST(licence_lists_use_their_indexes)
{
	plan_expect("EXPLAIN QUERY PLAN SELECT id, version FROM licences"
	            " WHERE holder_ref = 'x' AND latest = 1"
	            " ORDER BY issued_at DESC, id DESC LIMIT 10",
	    "USING INDEX licences_holder");
	plan_expect("EXPLAIN QUERY PLAN SELECT id, version FROM licences"
	            " WHERE dept = 'x' AND latest = 1"
	            " ORDER BY issued_at DESC, id DESC LIMIT 10",
	    "USING INDEX licences_dept");
	plan_expect("EXPLAIN QUERY PLAN SELECT id FROM licences"
	            " WHERE id = 'x' AND latest = 1",
	    "USING INDEX sqlite_autoindex_licences_1");
}
END_TEST

/* --- serial numbers
 * -------------------------------------------------------------- */

static int64_t
reserve(const char *type, const char *dept, int year, int count)
{
	struct store_tx *tx;
	struct cs_err err = {0};
	int64_t first = -1;

	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_msg(store_serial_reserve(
	                  tx, type, dept, year, count, &first, &err) == CS_OK,
	    "%s", err.msg);
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_OK);
	return first;
}

START_TEST(serial_blocks_do_not_overlap)
{
	struct store_tx *tx;
	struct cs_err err = {0};
	int64_t a, b, c, first;

	a = reserve("JZ01", "D1", 2025, 100);
	b = reserve("JZ01", "D1", 2025, 50);
	c = reserve("JZ01", "D1", 2025, 1);
	ck_assert_int_eq(a, 1);
	ck_assert_int_eq(b, 101); /* a's block is 1..100 */
	ck_assert_int_eq(c, 151);
	/* Other years and departments count on their own. */
	ck_assert_int_eq(reserve("JZ01", "D1", 2026, 10), 1);
	ck_assert_int_eq(reserve("JZ01", "D2", 2025, 10), 1);
	ck_assert_int_eq(reserve("JZ01", "D1", 2025, 1), 152);

	/* A rolled-back reservation hands out nothing. */
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(
	    store_serial_reserve(tx, "JZ01", "D1", 2025, 1000, &first, &err),
	    CS_OK);
	ck_assert_int_eq(first, 153);
	store_tx_rollback(tx);
	ck_assert_int_eq(reserve("JZ01", "D1", 2025, 1), 153);

	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(
	    store_serial_reserve(tx, "NO1", "D1", 2025, 1, &first, &err),
	    CS_ERR_NOT_FOUND);
	ck_assert_int_eq(first, 0);
	store_tx_rollback(tx);
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(
	    store_serial_reserve(tx, "JZ01", "D1", 2025, 0, &first, &err),
	    CS_ERR_INVALID);
	store_tx_rollback(tx);
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(
	    store_serial_reserve(tx, "JZ01", "D1", 1969, 1, &first, &err),
	    CS_ERR_INVALID);
	store_tx_rollback(tx);
}
END_TEST

/* --- idempotency keys
 * ------------------------------------------------------------ */

START_TEST(idem_put_get_conflict)
{
	uint8_t h1[STORE_HASH_LEN], h2[STORE_HASH_LEN], got[STORE_HASH_LEN];
	char lid[STORE_LICENCE_ID_MAX];
	struct store_licence l;
	struct store_tx *tx;
	struct cs_err err = {0};
	int version = -1;

	memset(h1, 0xa1, sizeof(h1));
	memset(h2, 0xb2, sizeof(h2));
	ck_assert_int_eq(store_idem_get(st, NULL, "C-1", "k1", got, lid,
	                     sizeof(lid), &version, &err),
	    CS_ERR_NOT_FOUND);

	/* Check, issue and record in one transaction, as issuance does. */
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(store_idem_get(st, tx, "C-1", "k1", got, lid,
	                     sizeof(lid), &version, &err),
	    CS_ERR_NOT_FOUND);
	licence_fill(&l, "L1", 1, HOLDER_A, "D1", 1000);
	ck_assert_int_eq(store_licence_put(tx, &l, &err), CS_OK);
	store_licence_release(&l);
	ck_assert_int_eq(
	    store_idem_put(tx, "C-1", "k1", h1, "L1", 1, &err), CS_OK);
	/* The transaction sees its own key, the pool does not yet. */
	ck_assert_int_eq(store_idem_get(st, tx, "C-1", "k1", got, lid,
	                     sizeof(lid), &version, &err),
	    CS_OK);
	ck_assert_int_eq(store_idem_get(st, NULL, "C-1", "k1", got, lid,
	                     sizeof(lid), &version, &err),
	    CS_ERR_NOT_FOUND);
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_OK);

	ck_assert_int_eq(store_idem_get(st, NULL, "C-1", "k1", got, lid,
	                     sizeof(lid), &version, &err),
	    CS_OK);
	ck_assert_mem_eq(got, h1, sizeof(h1));
	ck_assert_str_eq(lid, "L1");
	ck_assert_int_eq(version, 1);
	/* Keys are per client. */
	ck_assert_int_eq(store_idem_get(st, NULL, "C-2", "k1", got, lid,
	                     sizeof(lid), &version, &err),
	    CS_ERR_NOT_FOUND);

	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(store_idem_put(tx, "C-1", "k1", h2, "L1", 1, &err),
	    CS_ERR_CONFLICT);
	ck_assert_str_eq(err.msg, "idempotency key is used already");
	store_tx_rollback(tx);
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(
	    store_idem_put(tx, "C-2", "k1", h2, "L1", 1, &err), CS_OK);
	ck_assert_int_eq(store_tx_commit(tx, &err), CS_OK);
	/* A key must name a licence that exists. */
	ck_assert_int_eq(store_tx_begin(st, &tx, &err), CS_OK);
	ck_assert_int_eq(store_idem_put(tx, "C-2", "k2", h2, "L1", 7, &err),
	    CS_ERR_NOT_FOUND);
	store_tx_rollback(tx);
	ck_assert_int_eq(store_idem_get(st, NULL, "C-1", "", got, lid,
	                     sizeof(lid), &version, &err),
	    CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, "idempotency key must have 1 to 128 bytes");
}
END_TEST

START_TEST(new_reads_report_store_errors)
{
	struct store_licence l, *lv = NULL;
	struct store_dept d, *dv = NULL;
	struct store_client c;
	struct store_seal s;
	struct cs_err err = {0};
	size_t n;

	ck_assert_int_eq(
	    put_licence("L1", 1, HOLDER_A, "D1", 1000, &err), CS_OK);
	store_test_fail_after(st, 1);
	ck_assert_int_eq(store_dept_get(st, "D1", &d, &err), CS_ERR_STORE);
	ck_assert_str_eq(err.msg, "cannot read department: disk I/O error");
	store_test_fail_after(st, 2);
	ck_assert_int_eq(store_dept_list(st, &dv, &n, &err), CS_ERR_STORE);
	ck_assert_ptr_null(dv);
	store_test_fail_after(st, 1);
	ck_assert_int_eq(store_seal_get(st, "S-1", &s, &err), CS_ERR_STORE);
	ck_assert_ptr_null(s.cert_der);
	store_test_fail_after(st, 1);
	ck_assert_int_eq(store_client_get(st, "C-1", &c, &err), CS_ERR_STORE);
	store_test_fail_after(st, 1);
	ck_assert_int_eq(
	    store_licence_get(st, "L1", 0, &l, &err), CS_ERR_STORE);
	ck_assert_ptr_null(l.document);
	store_test_fail_after(st, 1);
	ck_assert_int_eq(
	    store_licence_list(st, HOLDER_A, NULL, 5, &lv, &n, &err),
	    CS_ERR_STORE);
	ck_assert_ptr_null(lv);
	ck_assert_int_eq(
	    store_licence_list(st, HOLDER_A, NULL, 5, &lv, &n, &err), CS_OK);
	ck_assert_uint_eq(n, 1);
	free(lv);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc;

	tc = tcase_create("open");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, open_creates_schema_in_wal_mode);
	tcase_add_test(tc, reopen_is_idempotent);
	tcase_add_test(tc, newer_schema_is_refused);
	tcase_add_test(tc, negative_schema_is_refused);
	tcase_add_test(tc, open_refuses_bad_arguments);
	tcase_add_test(tc, free_and_rollback_accept_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("ca");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ca_put_get_conflict_not_found);
	tcase_add_test(tc, ca_put_refuses_bad_input);
	suite_add_tcase(s, tc);

	tc = tcase_create("keys");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, key_put_and_list);
	suite_add_tcase(s, tc);

	tc = tcase_create("audit");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, audit_chain_links_and_verifies);
	tcase_add_test(tc, audit_verify_accepts_documented_example);
	tcase_add_test(tc, audit_scan_from_and_stop);
	tcase_add_test(tc, audit_append_refuses_bad_events);
	tcase_add_test(tc, audit_triggers_refuse_update_and_delete);
	suite_add_tcase(s, tc);

	tc = tcase_create("tamper");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, audit_verify_finds_changed_field);
	tcase_add_test(tc, audit_verify_finds_changed_detail);
	tcase_add_test(tc, audit_verify_finds_changed_hash);
	tcase_add_test(tc, audit_verify_finds_gap);
	tcase_add_test(tc, audit_verify_finds_renumbered_rows);
	suite_add_tcase(s, tc);

	tc = tcase_create("failure");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, failed_step_rolls_back_everything, 1, 7);
	tcase_add_test(tc, failed_reads_report_store_errors);
	tcase_add_test(tc, rollback_discards_changes);
	tcase_add_test(tc, writer_waits_for_write_slot);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("savepoints");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, savepoint_rollback_undoes_only_its_part);
	tcase_add_test(tc, savepoint_nesting_and_misuse);
	tcase_add_loop_test(tc, failed_step_inside_savepoint, 1, 8);
	suite_add_tcase(s, tc);

	tc = tcase_create("migration");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, migrates_a_version_1_database);
	suite_add_tcase(s, tc);

	tc = tcase_create("departments");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, dept_put_get_list);
	tcase_add_test(tc, dept_put_refuses_bad_fields);
	suite_add_tcase(s, tc);

	tc = tcase_create("licence_types");
	tcase_add_checked_fixture(tc, setup_registry, teardown);
	tcase_add_test(tc, ltype_put_get_list_allowed);
	tcase_add_test(tc, ltype_put_refuses_unknown_dept_and_conflicts);
	tcase_add_loop_test(
	    tc, failed_step_in_multi_row_tx_leaves_nothing, 1, 10);
	suite_add_tcase(s, tc);

	tc = tcase_create("seals");
	tcase_add_checked_fixture(tc, setup_registry, teardown);
	tcase_add_test(tc, seal_put_get_list);
	tcase_add_test(tc, seal_put_refuses_conflicts_and_bad_input);
	tcase_add_test(tc, seal_revoke_twice_conflicts);
	suite_add_tcase(s, tc);

	tc = tcase_create("clients");
	tcase_add_checked_fixture(tc, setup_registry, teardown);
	tcase_add_test(tc, client_put_find_list_revoke);
	tcase_add_test(tc, client_put_refuses_conflicts_and_bad_roles);
	suite_add_tcase(s, tc);

	tc = tcase_create("licences");
	tcase_add_checked_fixture(tc, setup_registry, teardown);
	tcase_add_test(tc, licence_get_selects_versions);
	tcase_add_test(tc, licence_put_refuses_unknown_references);
	tcase_add_test(tc, licence_list_by_holder_and_dept);
	tcase_add_test(tc, licence_lists_use_their_indexes);
	tcase_add_test(tc, serial_blocks_do_not_overlap);
	tcase_add_test(tc, idem_put_get_conflict);
	tcase_add_test(tc, new_reads_report_store_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("concurrency");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, concurrent_appends_keep_the_chain);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(store_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
