/*
 * store_sqlite_codes.c: the 免证办 area of store.h (migration 4): codes,
 * usage records and verifier usage lists (用证清单).
 *
 * A code row holds no code: only SHA-256 of the long form, a keyed hash
 * of the short form and the nonce the long form is derived from under a
 * key outside the database (certsvc/pcode.c).  Codes are found by the
 * hash of what was presented, through a unique index.
 *
 * A use is an UPDATE guarded by everything that makes a code usable
 * (active, not expired, uses < max_uses) and succeeds only when it
 * changed exactly one row: of two concurrent redemptions of a
 * single-use code only the first to take the write lock still finds
 * uses < max_uses, so the second changes nothing and gets
 * CS_ERR_CONFLICT.  Revocation is guarded the same way by the owner's
 * holder_ref and status = 'active'.
 */
#include <stdlib.h>
#include <string.h>

#include "certsvc/store_int.h"

#define PCODE_COLS                                                             \
	"id, long_hash, short_hash, nonce, licence_id, holder_ref, client,"    \
	" purpose, coalesce(rp, ''), created, expires, max_uses, uses,"        \
	" status, coalesce(revoked_at, 0)"

#define USAGE_COLS                                                             \
	"u.id, u.code_id, u.licence_id, u.version, u.type, u.dept,"            \
	" u.holder_ref, u.rp, coalesce(c.name, ''), u.purpose, u.report_id,"   \
	" u.time"

static struct store_sql q_pcode_put = STORE_SQL(
    "INSERT INTO pcodes (id, long_hash, short_hash, nonce, licence_id,"
    " holder_ref, client, purpose, rp, created, expires, max_uses, uses,"
    " status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 0,"
    " 'active')",
    "insert code");
static struct store_sql q_pcode_by_long = STORE_SQL(
    "SELECT " PCODE_COLS " FROM pcodes WHERE long_hash = ?1", "find code");
static struct store_sql q_pcode_by_short = STORE_SQL(
    "SELECT " PCODE_COLS " FROM pcodes WHERE short_hash = ?1", "find code");
static struct store_sql q_pcode_get =
    STORE_SQL("SELECT " PCODE_COLS " FROM pcodes WHERE id = ?1", "read code");
static struct store_sql q_pcode_list =
    STORE_SQL("SELECT " PCODE_COLS " FROM pcodes"
              " WHERE holder_ref = ?1 AND expires > ?2 AND status = 'active'"
              " AND uses < max_uses ORDER BY expires DESC, id LIMIT ?3",
        "list codes");
static struct store_sql q_pcode_revoke =
    STORE_SQL("UPDATE pcodes SET status = 'revoked', revoked_at = ?3"
              " WHERE id = ?1 AND holder_ref = ?2 AND status = 'active'",
        "revoke code");
static struct store_sql q_pcode_use =
    STORE_SQL("UPDATE pcodes SET uses = uses + 1 WHERE id = ?1"
              " AND status = 'active' AND expires > ?2 AND uses < max_uses",
        "use code");
static struct store_sql q_usage_put = STORE_SQL(
    "INSERT INTO usage_records (id, code_id, licence_id, version, type,"
    " dept, holder_ref, rp, purpose, report_id, time) VALUES (?1, ?2, ?3,"
    " ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    "insert usage record");
static struct store_sql q_usage_holder =
    STORE_SQL("SELECT " USAGE_COLS " FROM usage_records u LEFT JOIN clients c"
              " ON c.id = u.rp WHERE u.holder_ref = ?1"
              " AND (?2 IS NULL OR u.licence_id = ?2)"
              " ORDER BY u.time DESC, u.id LIMIT ?3",
        "list usage records");
static struct store_sql q_usage_dept =
    STORE_SQL("SELECT " USAGE_COLS " FROM usage_records u LEFT JOIN clients c"
              " ON c.id = u.rp WHERE u.dept = ?1"
              " AND (?2 IS NULL OR u.licence_id = ?2)"
              " ORDER BY u.time DESC, u.id LIMIT ?3",
        "list usage records");
static struct store_sql q_ctype_put =
    STORE_SQL("INSERT INTO client_types (client, type) VALUES (?1, ?2)",
        "add to usage list");
static struct store_sql q_ctype_list =
    STORE_SQL("SELECT type FROM client_types WHERE client = ?1 ORDER BY type",
        "read usage list");
static struct store_sql q_ctype_has =
    STORE_SQL("SELECT 1 FROM client_types WHERE client = ?1 AND type = ?2",
        "read usage list");

static int
bind_hash(sqlite3_stmt *s, int i, const uint8_t *h)
{
	return sqlite3_bind_blob(s, i, h, STORE_HASH_LEN, SQLITE_STATIC);
}

/* --- codes -----------------------------------------------------------------
 */

static enum cs_rc
pcode_check(const struct store_pcode *c, struct cs_err *err)
{
	enum cs_rc rc;

	rc = store_text_check("code id", c->id, sizeof(c->id), false, err);
	if (rc == CS_OK)
		rc = store_text_check("licence id", c->licence_id,
		    sizeof(c->licence_id), false, err);
	if (rc == CS_OK)
		rc = store_text_check("holder_ref", c->holder_ref,
		    sizeof(c->holder_ref), false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "client id", c->client, sizeof(c->client), false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "purpose", c->purpose, sizeof(c->purpose), false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "relying party", c->rp, sizeof(c->rp), true, err);
	if (rc == CS_OK && (c->max_uses < 1 || c->expires <= c->created))
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "a code needs max_uses >= 1 and an expiry after its "
		    "creation");
	return rc;
}

enum cs_rc
store_pcode_put(
    struct store_tx *tx, const struct store_pcode *c, struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	rc = store_tx_usable(tx, err);
	if (rc != CS_OK)
		return rc;
	rc = c == NULL ? cs_err_set(err, CS_ERR_INVALID, "no code")
	               : pcode_check(c, err);
	if (rc != CS_OK)
		goto out;
	rc = store_q_begin(NULL, tx, &q_pcode_put, &q, err);
	if (rc != CS_OK)
		goto out;
	r = store_bind_str(q.s, 1, c->id);
	if (r == SQLITE_OK)
		r = bind_hash(q.s, 2, c->long_hash);
	if (r == SQLITE_OK)
		r = bind_hash(q.s, 3, c->short_hash);
	if (r == SQLITE_OK)
		r = sqlite3_bind_blob(
		    q.s, 4, c->nonce, sizeof(c->nonce), SQLITE_STATIC);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 5, c->licence_id);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 6, c->holder_ref);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 7, c->client);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 8, c->purpose);
	if (r == SQLITE_OK)
		r = store_bind_opt(q.s, 9, c->rp);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 10, c->created);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 11, c->expires);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 12, c->max_uses);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r != SQLITE_DONE) {
		rc = store_q_fail(&q, r, err);
		if (rc == CS_ERR_CONFLICT)
			rc = cs_err_set(err, CS_ERR_CONFLICT,
			    "code '%s' or one of its hashes exists already",
			    c->id);
		else if (rc == CS_ERR_NOT_FOUND)
			rc = cs_err_set(err, CS_ERR_NOT_FOUND,
			    "the code's client or relying party does not "
			    "exist");
	}
out:
	store_q_end(&q);
	if (rc != CS_OK)
		tx->failed = true;
	return rc;
}

/* Fill c from a row of PCODE_COLS. */
static void
row_pcode(sqlite3_stmt *s, struct store_pcode *c)
{
	memset(c, 0, sizeof(*c));
	store_col_copy(s, 0, c->id, sizeof(c->id));
	(void)store_col_fixed(s, 1, c->long_hash, STORE_HASH_LEN);
	(void)store_col_fixed(s, 2, c->short_hash, STORE_HASH_LEN);
	(void)store_col_fixed(s, 3, c->nonce, sizeof(c->nonce));
	store_col_copy(s, 4, c->licence_id, sizeof(c->licence_id));
	store_col_copy(s, 5, c->holder_ref, sizeof(c->holder_ref));
	store_col_copy(s, 6, c->client, sizeof(c->client));
	store_col_copy(s, 7, c->purpose, sizeof(c->purpose));
	store_col_copy(s, 8, c->rp, sizeof(c->rp));
	c->created = sqlite3_column_int64(s, 9);
	c->expires = sqlite3_column_int64(s, 10);
	c->max_uses = sqlite3_column_int64(s, 11);
	c->uses = sqlite3_column_int64(s, 12);
	store_col_copy(s, 13, c->status, sizeof(c->status));
	c->revoked_at = sqlite3_column_int64(s, 14);
}

/* One code by the statement def with its first parameter bound by bind. */
static enum cs_rc
pcode_get_by(struct store *st, struct store_sql *def, const void *key,
    size_t keylen, struct store_pcode *c, struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	rc = store_q_begin(st, NULL, def, &q, err);
	if (rc != CS_OK)
		return rc;
	r = keylen > 0
	    ? sqlite3_bind_blob(q.s, 1, key, (int)keylen, SQLITE_STATIC)
	    : store_bind_str(q.s, 1, key);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r == SQLITE_ROW)
		row_pcode(q.s, c);
	else if (r == SQLITE_DONE)
		rc = cs_err_set(err, CS_ERR_NOT_FOUND, "no such code");
	else
		rc = store_q_fail(&q, r, err);
	store_q_end(&q);
	return rc;
}

enum cs_rc
store_pcode_by_hash(struct store *st, bool is_short,
    const uint8_t hash[STORE_HASH_LEN], struct store_pcode *c,
    struct cs_err *err)
{
	memset(c, 0, sizeof(*c));
	if (hash == NULL)
		return cs_err_set(err, CS_ERR_INVALID, "no code hash");
	return pcode_get_by(st, is_short ? &q_pcode_by_short : &q_pcode_by_long,
	    hash, STORE_HASH_LEN, c, err);
}

enum cs_rc
store_pcode_get(
    struct store *st, const char *id, struct store_pcode *c, struct cs_err *err)
{
	enum cs_rc rc;

	memset(c, 0, sizeof(*c));
	rc = store_text_check("code id", id, STORE_CODE_MAX, false, err);
	if (rc != CS_OK)
		return rc;
	return pcode_get_by(st, &q_pcode_get, id, 0, c, err);
}

STORE_ROW_FN(row_pcode_el, row_pcode, struct store_pcode)

enum cs_rc
store_pcode_list(struct store *st, const char *holder_ref, int64_t now,
    size_t limit, struct store_pcode **out, size_t *n, struct cs_err *err)
{
	struct store_q q = {0};
	void *arr = NULL;
	enum cs_rc rc;
	int r;

	*out = NULL;
	*n = 0;
	rc = store_text_check(
	    "holder_ref", holder_ref, sizeof((*out)->holder_ref), false, err);
	if (rc != CS_OK)
		return rc;
	if (limit == 0 || limit > STORE_LIST_MAX)
		limit = STORE_LIST_MAX;
	rc = store_q_begin(st, NULL, &q_pcode_list, &q, err);
	if (rc != CS_OK)
		return rc;
	r = store_bind_str(q.s, 1, holder_ref);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 2, store_time_or_now(now));
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 3, (int64_t)limit);
	rc = store_q_collect(
	    &q, r, sizeof(**out), "codes", row_pcode_el, NULL, &arr, n, err);
	store_q_end(&q);
	*out = arr;
	return rc;
}

/*
 * Run a guarded UPDATE of one code (def, id and then the text and time
 * parameters that are not NULL / 0) in tx: CS_ERR_CONFLICT unless it
 * changed exactly one row.
 */
static enum cs_rc
pcode_guarded(struct store_tx *tx, struct store_sql *def, const char *id,
    const char *text, int64_t when, const char *conflict, struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r, i = 2;

	rc = store_tx_usable(tx, err);
	if (rc != CS_OK)
		return rc;
	rc = store_text_check("code id", id, STORE_CODE_MAX, false, err);
	if (rc != CS_OK)
		goto out;
	rc = store_q_begin(NULL, tx, def, &q, err);
	if (rc != CS_OK)
		goto out;
	r = store_bind_str(q.s, 1, id);
	if (r == SQLITE_OK && text != NULL)
		r = store_bind_str(q.s, i++, text);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, i, store_time_or_now(when));
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r != SQLITE_DONE) {
		rc = store_q_fail(&q, r, err);
		goto out;
	}
	if (sqlite3_changes(q.c->db) != 1)
		rc = cs_err_set(
		    err, CS_ERR_CONFLICT, "code '%.40s' %s", id, conflict);
out:
	store_q_end(&q);
	if (rc != CS_OK)
		tx->failed = true;
	return rc;
}

enum cs_rc
store_pcode_revoke(struct store_tx *tx, const char *id, const char *holder_ref,
    int64_t when, struct cs_err *err)
{
	if (holder_ref == NULL || *holder_ref == '\0') {
		if (tx != NULL)
			tx->failed = true;
		return cs_err_set(err, CS_ERR_INVALID, "no holder_ref");
	}
	return pcode_guarded(tx, &q_pcode_revoke, id, holder_ref, when,
	    "is not an active code of this holder", err);
}

enum cs_rc
store_pcode_use(
    struct store_tx *tx, const char *id, int64_t now, struct cs_err *err)
{
	return pcode_guarded(
	    tx, &q_pcode_use, id, NULL, now, "cannot be used any more", err);
}

/* --- usage records ------------------------------------------------------- */

enum cs_rc
store_usage_put(
    struct store_tx *tx, const struct store_usage *u, struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	rc = store_tx_usable(tx, err);
	if (rc != CS_OK)
		return rc;
	if (u == NULL) {
		rc = cs_err_set(err, CS_ERR_INVALID, "no usage record");
		goto out;
	}
	rc = store_text_check("usage id", u->id, sizeof(u->id), false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "code id", u->code_id, sizeof(u->code_id), false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "type", u->type, sizeof(u->type), false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "department", u->dept, sizeof(u->dept), false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "relying party", u->rp, sizeof(u->rp), false, err);
	if (rc == CS_OK)
		rc = store_text_check("report id", u->report_id,
		    sizeof(u->report_id), false, err);
	if (rc != CS_OK)
		goto out;
	rc = store_q_begin(NULL, tx, &q_usage_put, &q, err);
	if (rc != CS_OK)
		goto out;
	r = store_bind_str(q.s, 1, u->id);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 2, u->code_id);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 3, u->licence_id);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int(q.s, 4, u->version);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 5, u->type);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 6, u->dept);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 7, u->holder_ref);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 8, u->rp);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 9, u->purpose);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 10, u->report_id);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 11, store_time_or_now(u->time));
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r != SQLITE_DONE)
		rc = store_q_fail(&q, r, err);
out:
	store_q_end(&q);
	if (rc != CS_OK)
		tx->failed = true;
	return rc;
}

/* Fill u from a row of USAGE_COLS. */
static void
row_usage(sqlite3_stmt *s, struct store_usage *u)
{
	memset(u, 0, sizeof(*u));
	store_col_copy(s, 0, u->id, sizeof(u->id));
	store_col_copy(s, 1, u->code_id, sizeof(u->code_id));
	store_col_copy(s, 2, u->licence_id, sizeof(u->licence_id));
	u->version = sqlite3_column_int(s, 3);
	store_col_copy(s, 4, u->type, sizeof(u->type));
	store_col_copy(s, 5, u->dept, sizeof(u->dept));
	store_col_copy(s, 6, u->holder_ref, sizeof(u->holder_ref));
	store_col_copy(s, 7, u->rp, sizeof(u->rp));
	store_col_copy(s, 8, u->rp_name, sizeof(u->rp_name));
	store_col_copy(s, 9, u->purpose, sizeof(u->purpose));
	store_col_copy(s, 10, u->report_id, sizeof(u->report_id));
	u->time = sqlite3_column_int64(s, 11);
}

STORE_ROW_FN(row_usage_el, row_usage, struct store_usage)

enum cs_rc
store_usage_list(struct store *st, const char *holder_ref, const char *dept,
    const char *licence_id, size_t limit, struct store_usage **out, size_t *n,
    struct cs_err *err)
{
	struct store_q q = {0};
	void *arr = NULL;
	enum cs_rc rc;
	int r;

	*out = NULL;
	*n = 0;
	if (holder_ref != NULL)
		rc = store_text_check("holder_ref", holder_ref,
		    sizeof((*out)->holder_ref), false, err);
	else
		rc = store_text_check(
		    "department code", dept, STORE_CODE_MAX, false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "licence id", licence_id, STORE_LICENCE_ID_MAX, true, err);
	if (rc != CS_OK)
		return rc;
	if (limit == 0 || limit > STORE_LIST_MAX)
		limit = STORE_LIST_MAX;
	rc = store_q_begin(st, NULL,
	    holder_ref != NULL ? &q_usage_holder : &q_usage_dept, &q, err);
	if (rc != CS_OK)
		return rc;
	r = store_bind_str(q.s, 1, holder_ref != NULL ? holder_ref : dept);
	if (r == SQLITE_OK)
		r = store_bind_opt(q.s, 2, licence_id);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 3, (int64_t)limit);
	rc = store_q_collect(&q, r, sizeof(**out), "usage records",
	    row_usage_el, NULL, &arr, n, err);
	store_q_end(&q);
	*out = arr;
	return rc;
}

/* --- verifier usage lists (用证清单) ---------------------------------- */

enum cs_rc
store_client_types_put(struct store_tx *tx, const char *client,
    const char *const *types, size_t ntypes, struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	size_t i;
	int r;

	rc = store_tx_usable(tx, err);
	if (rc != CS_OK)
		return rc;
	rc = store_text_check("client id", client, STORE_CODE_MAX, false, err);
	for (i = 0; rc == CS_OK && i < ntypes; i++) {
		rc = store_text_check(
		    "licence type", types[i], STORE_CODE_MAX, false, err);
		if (rc == CS_OK)
			rc = store_q_begin(NULL, tx, &q_ctype_put, &q, err);
		if (rc != CS_OK)
			break;
		r = store_bind_str(q.s, 1, client);
		if (r == SQLITE_OK)
			r = store_bind_str(q.s, 2, types[i]);
		if (r == SQLITE_OK)
			r = store_q_step(&q);
		if (r != SQLITE_DONE) {
			rc = store_q_fail(&q, r, err);
			if (rc == CS_ERR_NOT_FOUND)
				rc = cs_err_set(err, CS_ERR_NOT_FOUND,
				    "licence type '%s' not found", types[i]);
			else if (rc == CS_ERR_CONFLICT)
				rc = cs_err_set(err, CS_ERR_CONFLICT,
				    "licence type '%s' is listed twice",
				    types[i]);
		}
		store_q_end(&q);
	}
	if (rc != CS_OK)
		tx->failed = true;
	return rc;
}

static enum cs_rc
row_type(sqlite3_stmt *s, void *el, struct cs_err *err)
{
	(void)err;
	store_col_copy(s, 0, el, STORE_CODE_MAX);
	return CS_OK;
}

enum cs_rc
store_client_types_get(struct store *st, const char *client,
    char (**out)[STORE_CODE_MAX], size_t *n, struct cs_err *err)
{
	struct store_q q = {0};
	void *arr = NULL;
	enum cs_rc rc;
	int r;

	*out = NULL;
	*n = 0;
	rc = store_text_check("client id", client, STORE_CODE_MAX, false, err);
	if (rc != CS_OK)
		return rc;
	rc = store_q_begin(st, NULL, &q_ctype_list, &q, err);
	if (rc != CS_OK)
		return rc;
	r = store_bind_str(q.s, 1, client);
	rc = store_q_collect(&q, r, STORE_CODE_MAX, "licence types", row_type,
	    NULL, &arr, n, err);
	store_q_end(&q);
	*out = arr;
	return rc;
}

enum cs_rc
store_client_type_allowed(struct store *st, const char *client,
    const char *type, bool *allowed, struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	*allowed = false;
	rc = store_text_check("client id", client, STORE_CODE_MAX, false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "licence type", type, STORE_CODE_MAX, false, err);
	if (rc != CS_OK)
		return rc;
	rc = store_q_begin(st, NULL, &q_ctype_has, &q, err);
	if (rc != CS_OK)
		return rc;
	r = store_bind_str(q.s, 1, client);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 2, type);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r == SQLITE_ROW)
		*allowed = true;
	else if (r != SQLITE_DONE)
		rc = store_q_fail(&q, r, err);
	store_q_end(&q);
	return rc;
}
