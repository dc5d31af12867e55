/*
 * store_sqlite_audit.c: audit checkpoints (store.h, migration 3).  The
 * table holds what certsvc signed; verification (audit.c) never trusts it
 * and checks each checkpoint's signature and its hash against the chain.
 */
#include <string.h>

#include "certsvc/store_int.h"

#define CHECKPOINT_COLS "seq, time, head_hash, cert_serial, document, seal"

static struct store_sql q_put = STORE_SQL(
    "INSERT INTO audit_checkpoints (seq, time, head_hash, cert_serial,"
    " document, seal) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    "insert audit checkpoint");
static struct store_sql q_last =
    STORE_SQL("SELECT " CHECKPOINT_COLS " FROM audit_checkpoints"
              " ORDER BY seq DESC LIMIT 1",
        "read audit checkpoint");
static struct store_sql q_scan =
    STORE_SQL("SELECT " CHECKPOINT_COLS " FROM audit_checkpoints ORDER BY seq",
        "read audit checkpoints");
static struct store_sql q_hash_at = STORE_SQL(
    "SELECT hash FROM audit_events WHERE seq = ?1", "read audit event hash");

enum cs_rc
store_checkpoint_put(
    struct store_tx *tx, const struct store_checkpoint *c, struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	rc = store_tx_usable(tx, err);
	if (rc != CS_OK)
		return rc;
	if (c == NULL || c->seq <= 0 || c->document == NULL ||
	    c->seal == NULL) {
		rc = cs_err_set(err, CS_ERR_INVALID, "incomplete checkpoint");
		goto out;
	}
	rc = store_text_check("certificate serial", c->cert_serial,
	    sizeof(c->cert_serial), false, err);
	if (rc == CS_OK)
		rc = store_q_begin(NULL, tx, &q_put, &q, err);
	if (rc != CS_OK)
		goto out;
	r = sqlite3_bind_int64(q.s, 1, c->seq);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 2, store_time_or_now(c->time));
	if (r == SQLITE_OK)
		r = sqlite3_bind_blob(
		    q.s, 3, c->head_hash, STORE_HASH_LEN, SQLITE_STATIC);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 4, c->cert_serial);
	if (r == SQLITE_OK)
		r = store_bind_buf(q.s, 5, c->document);
	if (r == SQLITE_OK)
		r = store_bind_buf(q.s, 6, c->seal);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r != SQLITE_DONE) {
		rc = store_q_fail(&q, r, err);
		if (rc == CS_ERR_CONFLICT)
			rc = cs_err_set(err, CS_ERR_CONFLICT,
			    "a checkpoint at event %lld exists already",
			    (long long)c->seq);
	}
out:
	store_q_end(&q);
	if (rc != CS_OK)
		tx->failed = true;
	return rc;
}

static enum cs_rc
row_checkpoint(sqlite3_stmt *s, struct store_checkpoint *c, struct cs_err *err)
{
	enum cs_rc rc;

	memset(c, 0, sizeof(*c));
	c->seq = sqlite3_column_int64(s, 0);
	c->time = sqlite3_column_int64(s, 1);
	if (!store_col_fixed(s, 2, c->head_hash, STORE_HASH_LEN))
		return cs_err_set(err, CS_ERR_STORE,
		    "checkpoint %lld: malformed head hash", (long long)c->seq);
	store_col_copy(s, 3, c->cert_serial, sizeof(c->cert_serial));
	rc = store_col_buf(s, 4, false, &c->document, err);
	if (rc == CS_OK)
		rc = store_col_buf(s, 5, false, &c->seal, err);
	if (rc != CS_OK)
		store_checkpoint_release(c);
	return rc;
}

enum cs_rc
store_checkpoint_last(
    struct store *st, struct store_checkpoint *c, struct cs_err *err)
{
	struct store_q q;
	enum cs_rc rc;
	int r;

	memset(c, 0, sizeof(*c));
	rc = store_q_begin(st, NULL, &q_last, &q, err);
	if (rc != CS_OK)
		return rc;
	r = store_q_step(&q);
	if (r == SQLITE_ROW)
		rc = row_checkpoint(q.s, c, err);
	else if (r == SQLITE_DONE)
		rc = cs_err_set(err, CS_ERR_NOT_FOUND, "no checkpoint yet");
	else
		rc = store_q_fail(&q, r, err);
	store_q_end(&q);
	return rc;
}

void
store_checkpoint_release(struct store_checkpoint *c)
{
	if (c == NULL)
		return;
	buf_free(c->document);
	buf_free(c->seal);
	c->document = c->seal = NULL;
}

enum cs_rc
store_checkpoint_scan(struct store *st,
    bool (*fn)(void *arg, const struct store_checkpoint *c), void *arg,
    struct cs_err *err)
{
	struct store_checkpoint c;
	struct store_q q;
	enum cs_rc rc;
	bool more = true;
	int r;

	rc = store_q_begin(st, NULL, &q_scan, &q, err);
	if (rc != CS_OK)
		return rc;
	while (more && (r = store_q_step(&q)) == SQLITE_ROW) {
		rc = row_checkpoint(q.s, &c, err);
		if (rc != CS_OK)
			goto out;
		more = fn(arg, &c);
		store_checkpoint_release(&c);
	}
	if (more && r != SQLITE_DONE)
		rc = store_q_fail(&q, r, err);
out:
	store_q_end(&q);
	return rc;
}

enum cs_rc
store_audit_hash_at(struct store *st, int64_t seq, uint8_t hash[STORE_HASH_LEN],
    struct cs_err *err)
{
	struct store_q q;
	enum cs_rc rc;
	int r;

	rc = store_q_begin(st, NULL, &q_hash_at, &q, err);
	if (rc != CS_OK)
		return rc;
	r = sqlite3_bind_int64(q.s, 1, seq);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r == SQLITE_ROW) {
		if (!store_col_fixed(q.s, 0, hash, STORE_HASH_LEN))
			rc = cs_err_set(err, CS_ERR_STORE,
			    "event %lld: malformed hash", (long long)seq);
	} else if (r == SQLITE_DONE) {
		rc = cs_err_set(err, CS_ERR_NOT_FOUND, "no audit event %lld",
		    (long long)seq);
	} else {
		rc = store_q_fail(&q, r, err);
	}
	store_q_end(&q);
	return rc;
}
