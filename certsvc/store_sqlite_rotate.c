/*
 * store_sqlite_rotate.c: key rotation (store.h, migration 5).  A seal's
 * current key and certificate stay in the seals row; a rotation moves them
 * to seal_keys in the same statement pair that installs the new ones, so
 * no certificate a licence was ever sealed with is lost: OCSP, CRLs and
 * verification read seal_keys to answer for them.  The triggers of
 * migration 5 move the "seals" and "certs" generations with every change.
 */
#include <stdlib.h>
#include <string.h>

#include "certsvc/store_int.h"

static struct store_sql q_retire = STORE_SQL(
    "INSERT INTO seal_keys (seal_id, key_uri, alg, cert_der, cert_sha256,"
    " retired_at, status) SELECT id, key_uri, alg, cert_der, ?3, ?4,"
    " 'retired' FROM seals"
    " WHERE id = ?1 AND key_uri = ?2 AND status = 'active'",
    "retire seal key");
static struct store_sql q_rekey =
    STORE_SQL("UPDATE seals SET key_uri = ?3, alg = ?4, cert_der = ?5"
              " WHERE id = ?1 AND key_uri = ?2 AND status = 'active'",
        "rekey seal");
static struct store_sql q_seal_exists =
    STORE_SQL("SELECT status FROM seals WHERE id = ?1", "read seal status");

#define SEAL_KEY_COLS                                                          \
	"seal_id, key_uri, alg, cert_der, cert_sha256, retired_at, status,"    \
	" reason, coalesce(revoked_at, 0)"

static struct store_sql q_sk_list =
    STORE_SQL("SELECT " SEAL_KEY_COLS " FROM seal_keys"
              " WHERE ?1 IS NULL OR seal_id = ?1 ORDER BY retired_at, rowid",
        "list retired seal keys");
static struct store_sql q_sk_get =
    STORE_SQL("SELECT " SEAL_KEY_COLS " FROM seal_keys WHERE seal_id"
              " = ?1 AND cert_sha256 = ?2",
        "read retired seal key");
static struct store_sql q_sk_revoke =
    STORE_SQL("UPDATE seal_keys SET status = 'revoked', reason = ?3,"
              " revoked_at = ?4 WHERE seal_id = ?1 AND cert_sha256 = ?2"
              " AND status = 'retired'",
        "revoke retired seal key");
static struct store_sql q_key_find =
    STORE_SQL("SELECT uri, label, alg, purpose, created,"
              " coalesce(destroyed_at, 0) FROM keys"
              " WHERE uri = ?1 OR label = ?1 ORDER BY uri = ?1 DESC LIMIT 2",
        "read key");
static struct store_sql q_key_user = STORE_SQL(
    "SELECT 'seal ' || id FROM seals WHERE key_uri = ?1 AND status = 'active'"
    " UNION ALL SELECT 'CA ' || name FROM ca WHERE key_uri = ?1"
    " UNION ALL SELECT purpose || ' certificate ' || serial"
    " FROM service_certs WHERE key_uri = ?1 AND status = 'active'"
    " AND not_after > ?2 LIMIT 1",
    "read key users");
static struct store_sql q_key_destroyed =
    STORE_SQL("UPDATE keys SET destroyed_at = ?2"
              " WHERE uri = ?1 AND destroyed_at IS NULL",
        "mark key destroyed");
static struct store_sql q_ca_list =
    STORE_SQL("SELECT name, key_uri, cert_der, created FROM ca ORDER BY rowid",
        "list CAs");
static struct store_sql q_ids_by_seal =
    STORE_SQL("SELECT id FROM licences WHERE seal_id = ?1 AND latest = 1"
              " AND id > ?2 ORDER BY id LIMIT ?3",
        "list licences by seal");

/* Step q (bound up to r) once; CS_ERR_CONFLICT when it changed no row. */
static enum cs_rc
step_one_change(struct store_tx *tx, struct store_q *q, int r, const char *what,
    struct cs_err *err)
{
	if (r == SQLITE_OK)
		r = store_q_step(q);
	if (r != SQLITE_DONE)
		return store_q_fail(q, r, err);
	if (sqlite3_changes(tx->c->db) != 1)
		return cs_err_set(err, CS_ERR_CONFLICT, "%s", what);
	return CS_OK;
}

/* Why a rekey of seal id changed nothing: unknown, revoked or raced. */
static enum cs_rc
rekey_refused(struct store_tx *tx, const char *id, struct cs_err *err)
{
	struct store_q q = {0};
	char status[16] = "";
	enum cs_rc rc;
	int r;

	rc = store_q_begin(NULL, tx, &q_seal_exists, &q, err);
	if (rc != CS_OK)
		return rc;
	r = store_bind_str(q.s, 1, id);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r == SQLITE_ROW)
		store_col_copy(q.s, 0, status, sizeof(status));
	if (r == SQLITE_DONE)
		rc = cs_err_set(err, CS_ERR_NOT_FOUND, "no seal '%.40s'", id);
	else if (r != SQLITE_ROW)
		rc = store_q_fail(&q, r, err);
	else if (strcmp(status, "active") != 0)
		rc = cs_err_set(
		    err, CS_ERR_CONFLICT, "seal '%.40s' is %s", id, status);
	else
		rc = cs_err_set(err, CS_ERR_CONFLICT,
		    "seal '%.40s' was rotated meanwhile", id);
	store_q_end(&q);
	return rc;
}

enum cs_rc
store_seal_rekey(struct store_tx *tx, const char *id, const char *old_uri,
    const uint8_t old_sha256[STORE_HASH_LEN], const char *new_uri,
    const char *alg, const struct buf *new_der, int64_t when,
    struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	rc = store_tx_usable(tx, err);
	if (rc != CS_OK)
		return rc;
	rc = store_text_check("seal id", id, STORE_CODE_MAX, false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "key URI", new_uri, STORE_URI_MAX, false, err);
	if (rc == CS_OK)
		rc = store_text_check("alg", alg, 16, false, err);
	if (rc == CS_OK && (new_der == NULL || new_der->len == 0))
		rc = cs_err_set(err, CS_ERR_INVALID, "no certificate");
	if (rc != CS_OK)
		goto out;
	rc = store_q_begin(NULL, tx, &q_retire, &q, err);
	if (rc != CS_OK)
		goto out;
	r = store_bind_str(q.s, 1, id);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 2, old_uri);
	if (r == SQLITE_OK)
		r = sqlite3_bind_blob(
		    q.s, 3, old_sha256, STORE_HASH_LEN, SQLITE_STATIC);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 4, store_time_or_now(when));
	rc = step_one_change(tx, &q, r, "", err);
	store_q_end(&q);
	if (rc == CS_ERR_CONFLICT)
		rc = rekey_refused(tx, id, err);
	if (rc != CS_OK)
		goto out;
	rc = store_q_begin(NULL, tx, &q_rekey, &q, err);
	if (rc != CS_OK)
		goto out;
	r = store_bind_str(q.s, 1, id);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 2, old_uri);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 3, new_uri);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 4, alg);
	if (r == SQLITE_OK)
		r = store_bind_buf(q.s, 5, new_der);
	rc = step_one_change(tx, &q, r, "seal changed meanwhile", err);
out:
	store_q_end(&q);
	if (rc != CS_OK)
		tx->failed = true;
	return rc;
}

void
store_seal_key_list_free(struct store_seal_key *arr, size_t n)
{
	size_t i;

	for (i = 0; arr != NULL && i < n; i++)
		buf_free(arr[i].cert_der);
	free(arr);
}

static enum cs_rc
row_seal_key(sqlite3_stmt *s, void *el, struct cs_err *err)
{
	struct store_seal_key *k = el;

	store_col_copy(s, 0, k->seal_id, sizeof(k->seal_id));
	store_col_copy(s, 1, k->key_uri, sizeof(k->key_uri));
	store_col_copy(s, 2, k->alg, sizeof(k->alg));
	(void)store_col_fixed(s, 4, k->cert_sha256, sizeof(k->cert_sha256));
	k->retired_at = sqlite3_column_int64(s, 5);
	store_col_copy(s, 6, k->status, sizeof(k->status));
	store_col_copy(s, 7, k->reason, sizeof(k->reason));
	k->revoked_at = sqlite3_column_int64(s, 8);
	return store_col_buf(s, 3, false, &k->cert_der, err);
}

static void
release_seal_key(void *el)
{
	struct store_seal_key *k = el;

	buf_free(k->cert_der);
	k->cert_der = NULL;
}

enum cs_rc
store_seal_key_list(struct store *st, const char *id,
    struct store_seal_key **out, size_t *n, struct cs_err *err)
{
	struct store_q q = {0};
	void *arr = NULL;
	enum cs_rc rc;
	int r;

	*out = NULL;
	*n = 0;
	rc = store_q_begin(st, NULL, &q_sk_list, &q, err);
	if (rc != CS_OK)
		return rc;
	r = store_bind_str(q.s, 1, id);
	rc = store_q_collect(&q, r, sizeof(struct store_seal_key),
	    "retired seal keys", row_seal_key, release_seal_key, &arr, n, err);
	store_q_end(&q);
	*out = arr;
	return rc;
}

enum cs_rc
store_seal_key_get(struct store *st, const char *id,
    const uint8_t sha256[STORE_HASH_LEN], struct store_seal_key *k,
    struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	memset(k, 0, sizeof(*k));
	rc = store_q_begin(st, NULL, &q_sk_get, &q, err);
	if (rc != CS_OK)
		return rc;
	r = store_bind_str(q.s, 1, id);
	if (r == SQLITE_OK)
		r = sqlite3_bind_blob(
		    q.s, 2, sha256, STORE_HASH_LEN, SQLITE_STATIC);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r == SQLITE_ROW)
		rc = row_seal_key(q.s, k, err);
	else if (r == SQLITE_DONE)
		rc = cs_err_set(err, CS_ERR_NOT_FOUND,
		    "seal '%.40s' had no such certificate", id);
	else
		rc = store_q_fail(&q, r, err);
	store_q_end(&q);
	if (rc != CS_OK)
		release_seal_key(k);
	return rc;
}

enum cs_rc
store_key_find(struct store *st, const char *name, struct store_key *k,
    int64_t *destroyed_at, struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	memset(k, 0, sizeof(*k));
	*destroyed_at = 0;
	rc = store_text_check("key", name, STORE_URI_MAX, false, err);
	if (rc != CS_OK)
		return rc;
	rc = store_q_begin(st, NULL, &q_key_find, &q, err);
	if (rc != CS_OK)
		return rc;
	r = store_bind_str(q.s, 1, name);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r == SQLITE_ROW) {
		store_col_copy(q.s, 0, k->uri, sizeof(k->uri));
		store_col_copy(q.s, 1, k->label, sizeof(k->label));
		store_col_copy(q.s, 2, k->alg, sizeof(k->alg));
		store_col_copy(q.s, 3, k->purpose, sizeof(k->purpose));
		k->created = sqlite3_column_int64(q.s, 4);
		*destroyed_at = sqlite3_column_int64(q.s, 5);
		/* A label shared by two keys names neither: ask for a URI. */
		if (strcmp(k->uri, name) != 0 && store_q_step(&q) == SQLITE_ROW)
			rc = cs_err_set(err, CS_ERR_CONFLICT,
			    "label '%.64s' names several keys: give the URI",
			    name);
	} else if (r == SQLITE_DONE) {
		rc = cs_err_set(err, CS_ERR_NOT_FOUND,
		    "no key '%.64s' in the inventory", name);
	} else {
		rc = store_q_fail(&q, r, err);
	}
	store_q_end(&q);
	return rc;
}

enum cs_rc
store_key_user(struct store *st, const char *uri, int64_t now, char *what,
    size_t whatsz, struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	what[0] = '\0';
	rc = store_q_begin(st, NULL, &q_key_user, &q, err);
	if (rc != CS_OK)
		return rc;
	r = store_bind_str(q.s, 1, uri);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 2, store_time_or_now(now));
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r == SQLITE_ROW)
		store_col_copy(q.s, 0, what, whatsz);
	else if (r != SQLITE_DONE)
		rc = store_q_fail(&q, r, err);
	store_q_end(&q);
	return rc;
}

enum cs_rc
store_key_destroyed(
    struct store_tx *tx, const char *uri, int64_t when, struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	rc = store_tx_usable(tx, err);
	if (rc != CS_OK)
		return rc;
	rc = store_q_begin(NULL, tx, &q_key_destroyed, &q, err);
	if (rc != CS_OK)
		goto out;
	r = store_bind_str(q.s, 1, uri);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 2, store_time_or_now(when));
	rc = step_one_change(
	    tx, &q, r, "key is destroyed already or unknown", err);
out:
	store_q_end(&q);
	if (rc != CS_OK)
		tx->failed = true;
	return rc;
}

static enum cs_rc
row_id(sqlite3_stmt *s, void *el, struct cs_err *err)
{
	(void)err;
	store_col_copy(s, 0, el, STORE_LICENCE_ID_MAX);
	return CS_OK;
}

enum cs_rc
store_licence_ids_by_seal(struct store *st, const char *id, const char *after,
    size_t limit, char (**out)[STORE_LICENCE_ID_MAX], size_t *n,
    struct cs_err *err)
{
	struct store_q q = {0};
	void *arr = NULL;
	enum cs_rc rc;
	int r;

	*out = NULL;
	*n = 0;
	if (limit == 0 || limit > STORE_LIST_MAX)
		return cs_err_set(
		    err, CS_ERR_INVALID, "limit: 1 to %d", STORE_LIST_MAX);
	rc = store_q_begin(st, NULL, &q_ids_by_seal, &q, err);
	if (rc != CS_OK)
		return rc;
	r = store_bind_str(q.s, 1, id);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 2, after != NULL ? after : "");
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 3, (sqlite3_int64)limit);
	rc = store_q_collect(&q, r, STORE_LICENCE_ID_MAX, "licences", row_id,
	    NULL, &arr, n, err);
	store_q_end(&q);
	*out = arr;
	return rc;
}

static enum cs_rc
row_ca(sqlite3_stmt *s, void *el, struct cs_err *err)
{
	struct store_ca *c = el;

	store_col_copy(s, 0, c->name, sizeof(c->name));
	store_col_copy(s, 1, c->key_uri, sizeof(c->key_uri));
	c->created = sqlite3_column_int64(s, 3);
	return store_col_buf(s, 2, false, &c->cert_der, err);
}

static void
release_ca(void *el)
{
	store_ca_release(el);
}

void
store_ca_list_free(struct store_ca *arr, size_t n)
{
	size_t i;

	for (i = 0; arr != NULL && i < n; i++)
		store_ca_release(&arr[i]);
	free(arr);
}

enum cs_rc
store_ca_list(
    struct store *st, struct store_ca **out, size_t *n, struct cs_err *err)
{
	struct store_q q = {0};
	void *arr = NULL;
	enum cs_rc rc;

	*out = NULL;
	*n = 0;
	rc = store_q_begin(st, NULL, &q_ca_list, &q, err);
	if (rc != CS_OK)
		return rc;
	rc = store_q_collect(&q, SQLITE_OK, sizeof(struct store_ca), "CAs",
	    row_ca, release_ca, &arr, n, err);
	store_q_end(&q);
	*out = arr;
	return rc;
}

enum cs_rc
store_seal_key_revoke(struct store_tx *tx, const char *id,
    const uint8_t sha256[STORE_HASH_LEN], const char *reason, int64_t when,
    struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	rc = store_tx_usable(tx, err);
	if (rc != CS_OK)
		return rc;
	rc = store_text_check(
	    "revocation reason", reason, STORE_TEXT_MAX, false, err);
	if (rc != CS_OK)
		goto out;
	rc = store_q_begin(NULL, tx, &q_sk_revoke, &q, err);
	if (rc != CS_OK)
		goto out;
	r = store_bind_str(q.s, 1, id);
	if (r == SQLITE_OK)
		r = sqlite3_bind_blob(
		    q.s, 2, sha256, STORE_HASH_LEN, SQLITE_STATIC);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 3, reason);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 4, store_time_or_now(when));
	rc = step_one_change(tx, &q, r, "", err);
	store_q_end(&q);
	if (rc != CS_ERR_CONFLICT)
		goto out;
	/* Unknown, or revoked already? (read on tx's connection) */
	rc = store_q_begin(NULL, tx, &q_sk_get, &q, err);
	if (rc != CS_OK)
		goto out;
	r = store_bind_str(q.s, 1, id);
	if (r == SQLITE_OK)
		r = sqlite3_bind_blob(
		    q.s, 2, sha256, STORE_HASH_LEN, SQLITE_STATIC);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r == SQLITE_ROW)
		rc = cs_err_set(err, CS_ERR_CONFLICT,
		    "that certificate of seal '%.40s' is revoked already", id);
	else if (r == SQLITE_DONE)
		rc = cs_err_set(err, CS_ERR_NOT_FOUND,
		    "seal '%.40s' has no such retired certificate", id);
	else
		rc = store_q_fail(&q, r, err);
out:
	store_q_end(&q);
	if (rc != CS_OK)
		tx->failed = true;
	return rc;
}
