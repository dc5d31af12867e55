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

	ck_assert_int_eq(store_schema_version(st), 1);
	ck_assert(store_ping(st));
	raw_query("PRAGMA journal_mode", ans, sizeof(ans));
	ck_assert_str_eq(ans, "wal");
	raw_query("SELECT count(*) FROM sqlite_master WHERE type = 'table'"
	          " AND name IN ('audit_events', 'ca', 'keys')",
	    ans, sizeof(ans));
	ck_assert_str_eq(ans, "3");
	raw_query("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'",
	    ans, sizeof(ans));
	ck_assert_str_eq(ans, "2");
	raw_query("PRAGMA user_version", ans, sizeof(ans));
	ck_assert_str_eq(ans, "1");
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
	ck_assert_int_eq(store_schema_version(st), 1);
	store_free(st);
	st = NULL;
	ck_assert_int_eq(store_open(dbpath, 0, &st, &err), CS_OK);
	ck_assert_int_eq(store_ca_get(st, "root", &ca, &err), CS_OK);
	store_ca_release(&ca);
	verify_expect(0, 1);
	raw_query("SELECT count(*) FROM sqlite_master WHERE type = 'table'",
	    ans, sizeof(ans));
	ck_assert_str_eq(ans, "3");
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
