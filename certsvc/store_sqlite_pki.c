/*
 * store_sqlite_pki.c: service certificates (store.h, migration 3).  The
 * table's triggers bump the "certs" generation on every insert and status
 * change, which tells certsvcd's refresher to re-sign OCSP and CRLs.
 */
#include <stdlib.h>
#include <string.h>

#include "certsvc/store_int.h"

#define SVC_CERT_COLS                                                          \
	"serial, ca, purpose, coalesce(key_uri, ''), cert_der, not_before,"    \
	" not_after, status, reason, coalesce(revoked_at, 0), created"

static struct store_sql q_put = STORE_SQL(
    "INSERT INTO service_certs (serial, ca, purpose, key_uri, cert_der,"
    " not_before, not_after, status, reason, revoked_at, created)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, '', NULL, ?9)",
    "insert service certificate");
static struct store_sql q_current =
    STORE_SQL("SELECT " SVC_CERT_COLS " FROM service_certs"
              " WHERE purpose = ?1"
              " AND status = 'active'"
              " AND not_before <= ?2"
              " AND not_after > ?2"
              " ORDER BY not_after DESC"
              " LIMIT 1",
        "read service certificate");
static struct store_sql q_list = STORE_SQL(
    "SELECT " SVC_CERT_COLS " FROM service_certs ORDER BY created, serial",
    "list service certificates");
static struct store_sql q_revoke =
    STORE_SQL("UPDATE service_certs SET status = 'revoked', reason = ?2,"
              " revoked_at = ?3 WHERE serial = ?1 AND status = 'active'",
        "revoke service certificate");
static struct store_sql q_status =
    STORE_SQL("SELECT status FROM service_certs WHERE serial = ?1",
        "read service certificate status");

static bool
purpose_ok(const char *p)
{
	static const char *const ok[] = {"ocsp", "report", "tsa", "audit"};
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (p != NULL && strcmp(p, ok[i]) == 0)
			return true;
	return false;
}

enum cs_rc
store_svc_cert_put(
    struct store_tx *tx, const struct store_svc_cert *c, struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	rc = store_tx_usable(tx, err);
	if (rc != CS_OK)
		return rc;
	if (c == NULL || !purpose_ok(c->purpose)) {
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "service certificate purpose must be ocsp, report, tsa or "
		    "audit");
		goto out;
	}
	rc = store_text_check(
	    "certificate serial", c->serial, sizeof(c->serial), false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "CA name", c->ca, sizeof(c->ca), false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "key URI", c->key_uri, sizeof(c->key_uri), true, err);
	if (rc == CS_OK && (c->cert_der == NULL || c->cert_der->len == 0))
		rc = cs_err_set(err, CS_ERR_INVALID, "no certificate");
	if (rc != CS_OK)
		goto out;
	rc = store_q_begin(NULL, tx, &q_put, &q, err);
	if (rc != CS_OK)
		goto out;
	r = store_bind_str(q.s, 1, c->serial);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 2, c->ca);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 3, c->purpose);
	if (r == SQLITE_OK)
		r = store_bind_opt(q.s, 4, c->key_uri);
	if (r == SQLITE_OK)
		r = store_bind_buf(q.s, 5, c->cert_der);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 6, c->not_before);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 7, c->not_after);
	if (r == SQLITE_OK)
		r = store_bind_str(
		    q.s, 8, c->status[0] != '\0' ? c->status : "active");
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 9, store_time_or_now(c->created));
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r != SQLITE_DONE) {
		rc = store_q_fail(&q, r, err);
		if (rc == CS_ERR_CONFLICT)
			rc = cs_err_set(err, CS_ERR_CONFLICT,
			    "certificate serial '%.64s' exists already",
			    c->serial);
	}
out:
	store_q_end(&q);
	if (rc != CS_OK)
		tx->failed = true;
	return rc;
}

/* Fill c from a row of SVC_CERT_COLS. */
static enum cs_rc
row_svc_cert(sqlite3_stmt *s, struct store_svc_cert *c, struct cs_err *err)
{
	memset(c, 0, sizeof(*c));
	store_col_copy(s, 0, c->serial, sizeof(c->serial));
	store_col_copy(s, 1, c->ca, sizeof(c->ca));
	store_col_copy(s, 2, c->purpose, sizeof(c->purpose));
	store_col_copy(s, 3, c->key_uri, sizeof(c->key_uri));
	c->not_before = sqlite3_column_int64(s, 5);
	c->not_after = sqlite3_column_int64(s, 6);
	store_col_copy(s, 7, c->status, sizeof(c->status));
	store_col_copy(s, 8, c->reason, sizeof(c->reason));
	c->revoked_at = sqlite3_column_int64(s, 9);
	c->created = sqlite3_column_int64(s, 10);
	return store_col_buf(s, 4, false, &c->cert_der, err);
}

enum cs_rc
store_svc_cert_current(struct store *st, const char *purpose, int64_t now,
    struct store_svc_cert *c, struct cs_err *err)
{
	struct store_q q;
	enum cs_rc rc;
	int r;

	memset(c, 0, sizeof(*c));
	rc = store_q_begin(st, NULL, &q_current, &q, err);
	if (rc != CS_OK)
		return rc;
	r = store_bind_str(q.s, 1, purpose);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 2, now);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r == SQLITE_ROW)
		rc = row_svc_cert(q.s, c, err);
	else if (r == SQLITE_DONE)
		rc = cs_err_set(err, CS_ERR_NOT_FOUND,
		    "no current %.16s certificate", purpose);
	else
		rc = store_q_fail(&q, r, err);
	store_q_end(&q);
	if (rc != CS_OK)
		store_svc_cert_release(c);
	return rc;
}

void
store_svc_cert_release(struct store_svc_cert *c)
{
	if (c == NULL)
		return;
	buf_free(c->cert_der);
	c->cert_der = NULL;
}

static enum cs_rc
row_svc_cert_el(sqlite3_stmt *s, void *el, struct cs_err *err)
{
	return row_svc_cert(s, el, err);
}

static void
svc_cert_release_el(void *el)
{
	store_svc_cert_release(el);
}

enum cs_rc
store_svc_cert_list(struct store *st, struct store_svc_cert **out, size_t *n,
    struct cs_err *err)
{
	struct store_q q;
	void *arr = NULL;
	enum cs_rc rc;

	*out = NULL;
	*n = 0;
	rc = store_q_begin(st, NULL, &q_list, &q, err);
	if (rc != CS_OK)
		return rc;
	rc = store_q_collect(&q, SQLITE_OK, sizeof(**out),
	    "service certificates", row_svc_cert_el, svc_cert_release_el, &arr,
	    n, err);
	store_q_end(&q);
	*out = arr;
	return rc;
}

void
store_svc_cert_list_free(struct store_svc_cert *arr, size_t n)
{
	size_t i;

	for (i = 0; arr != NULL && i < n; i++)
		store_svc_cert_release(&arr[i]);
	free(arr);
}

enum cs_rc
store_svc_cert_revoke(struct store_tx *tx, const char *serial,
    const char *reason, int64_t when, struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	rc = store_tx_usable(tx, err);
	if (rc != CS_OK)
		return rc;
	rc = store_text_check(
	    "revocation reason", reason, STORE_TEXT_MAX, true, err);
	if (rc != CS_OK)
		goto out;
	rc = store_q_begin(NULL, tx, &q_revoke, &q, err);
	if (rc != CS_OK)
		goto out;
	r = store_bind_str(q.s, 1, serial);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 2, reason != NULL ? reason : "");
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 3, store_time_or_now(when));
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r != SQLITE_DONE) {
		rc = store_q_fail(&q, r, err);
		goto out;
	}
	if (sqlite3_changes(tx->c->db) == 1)
		goto out;
	store_q_end(&q);
	rc = store_q_begin(NULL, tx, &q_status, &q, err);
	if (rc != CS_OK)
		goto out;
	r = store_bind_str(q.s, 1, serial);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r == SQLITE_ROW)
		rc = cs_err_set(err, CS_ERR_CONFLICT,
		    "certificate '%.64s' is revoked already", serial);
	else if (r == SQLITE_DONE)
		rc = cs_err_set(err, CS_ERR_NOT_FOUND,
		    "no service certificate '%.64s'", serial);
	else
		rc = store_q_fail(&q, r, err);
out:
	store_q_end(&q);
	if (rc != CS_OK)
		tx->failed = true;
	return rc;
}
