/*
 * store_sqlite_life.c: the licence lifecycle and objections area of
 * store.h (migration 3): status-list slot reservation, guarded status
 * changes and objections.
 *
 * A status change is an UPDATE guarded by the status it expects and by
 * latest = 1, and succeeds only when it changed exactly one row: two
 * concurrent changes of one licence both read "valid", but only the first
 * to take the write lock still finds it so; the second changes nothing and
 * gets CS_ERR_CONFLICT.  Resolving an objection is guarded the same way by
 * status = 'open'.  The triggers of migration 3 bump the generations the
 * refresher polls, inside the same transaction.
 */
#include <stdlib.h>
#include <string.h>

#include "certsvc/store_int.h"

#define STORE_SLOT_BLOCK_MAX 1000000

#define OBJECTION_COLS                                                         \
	"id, licence_id, version, dept, holder_ref, client, text, status,"     \
	" resolution, coalesce(new_version, 0), created,"                      \
	" coalesce(resolved_at, 0), coalesce(resolved_by, '')"

static struct store_sql q_slots =
    STORE_SQL("UPDATE status_alloc SET next = next + ?1 WHERE id = 1"
              " RETURNING next - ?1",
        "reserve status-list slots");
static struct store_sql q_set_status =
    STORE_SQL("UPDATE licences SET status = ?4, status_reason = ?5,"
              " status_changed = ?6"
              " WHERE id = ?1 AND version = ?2 AND status = ?3"
              " AND latest = 1",
        "change licence status");
static struct store_sql q_obj_put = STORE_SQL(
    "INSERT INTO objections (id, licence_id, version, dept, holder_ref,"
    " client, text, status, resolution, new_version, created, resolved_at,"
    " resolved_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, '', NULL, ?9,"
    " NULL, NULL)",
    "insert objection");
static struct store_sql q_obj_get =
    STORE_SQL("SELECT " OBJECTION_COLS " FROM objections WHERE id = ?1",
        "read objection");
static struct store_sql q_obj_list_holder =
    STORE_SQL("SELECT " OBJECTION_COLS " FROM objections"
              " WHERE holder_ref = ?1 AND (?2 IS NULL OR status = ?2)"
              " ORDER BY created DESC, id DESC LIMIT ?3",
        "list objections");
static struct store_sql q_obj_list_dept =
    STORE_SQL("SELECT " OBJECTION_COLS " FROM objections"
              " WHERE dept = ?1 AND (?2 IS NULL OR status = ?2)"
              " ORDER BY created DESC, id DESC LIMIT ?3",
        "list objections");
static struct store_sql q_obj_list_all =
    STORE_SQL("SELECT " OBJECTION_COLS " FROM objections"
              " WHERE ?1 IS NULL AND (?2 IS NULL OR status = ?2)"
              " ORDER BY created DESC, id DESC LIMIT ?3",
        "list objections");
static struct store_sql q_obj_resolve =
    STORE_SQL("UPDATE objections SET status = ?2, resolution = ?3,"
              " new_version = ?4, resolved_at = ?5, resolved_by = ?6"
              " WHERE id = ?1 AND status = 'open'",
        "resolve objection");

enum cs_rc
store_status_slots_reserve(
    struct store_tx *tx, int count, int64_t *first, struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	*first = 0;
	rc = store_tx_usable(tx, err);
	if (rc != CS_OK)
		return rc;
	if (count < 1 || count > STORE_SLOT_BLOCK_MAX) {
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "slot count must be 1 to %d", STORE_SLOT_BLOCK_MAX);
		goto out;
	}
	rc = store_q_begin(NULL, tx, &q_slots, &q, err);
	if (rc != CS_OK)
		goto out;
	r = sqlite3_bind_int(q.s, 1, count);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	/* RETURNING: the row is written by this first step. */
	if (r == SQLITE_ROW) {
		*first = sqlite3_column_int64(q.s, 0);
		goto out;
	}
	rc = store_q_fail(&q, r, err);
out:
	store_q_end(&q);
	if (rc != CS_OK)
		tx->failed = true;
	return rc;
}

enum cs_rc
store_licence_set_status(struct store_tx *tx, const char *id, int version,
    const char *from, const char *to, const char *reason, int64_t when,
    struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	rc = store_tx_usable(tx, err);
	if (rc != CS_OK)
		return rc;
	rc = store_text_check(
	    "licence id", id, STORE_LICENCE_ID_MAX, false, err);
	if (rc == CS_OK)
		rc = store_text_check("licence status", from, 16, false, err);
	if (rc == CS_OK)
		rc = store_text_check("licence status", to, 16, false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "status reason", reason, STORE_TEXT_MAX, true, err);
	if (rc == CS_OK && version < 1)
		rc = cs_err_set(
		    err, CS_ERR_INVALID, "licence version must be 1 or more");
	if (rc != CS_OK)
		goto out;
	rc = store_q_begin(NULL, tx, &q_set_status, &q, err);
	if (rc != CS_OK)
		goto out;
	r = store_bind_str(q.s, 1, id);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int(q.s, 2, version);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 3, from);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 4, to);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 5, reason != NULL ? reason : "");
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 6, store_time_or_now(when));
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r != SQLITE_DONE) {
		rc = store_q_fail(&q, r, err);
		goto out;
	}
	if (sqlite3_changes(q.c->db) != 1)
		rc = cs_err_set(err, CS_ERR_CONFLICT,
		    "licence '%s' version %d is no longer the newest %s "
		    "version",
		    id, version, from);
out:
	store_q_end(&q);
	if (rc != CS_OK)
		tx->failed = true;
	return rc;
}

/* --- objections ----------------------------------------------------------- */

static bool
objection_status_ok(const char *s)
{
	return s != NULL &&
	    (strcmp(s, "open") == 0 || strcmp(s, "corrected") == 0 ||
	        strcmp(s, "rejected") == 0);
}

enum cs_rc
store_objection_put(
    struct store_tx *tx, const struct store_objection *o, struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	rc = store_tx_usable(tx, err);
	if (rc != CS_OK)
		return rc;
	if (o == NULL) {
		rc = cs_err_set(err, CS_ERR_INVALID, "no objection");
		goto out;
	}
	rc = store_text_check("objection id", o->id, sizeof(o->id), false, err);
	if (rc == CS_OK)
		rc = store_text_check("licence id", o->licence_id,
		    sizeof(o->licence_id), false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "department code", o->dept, sizeof(o->dept), false, err);
	if (rc == CS_OK)
		rc = store_text_check("holder_ref", o->holder_ref,
		    sizeof(o->holder_ref), false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "client id", o->client, sizeof(o->client), false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "objection text", o->text, sizeof(o->text), false, err);
	if (rc == CS_OK && o->status[0] != '\0' &&
	    strcmp(o->status, "open") != 0)
		rc = cs_err_set(
		    err, CS_ERR_INVALID, "a new objection must be open");
	if (rc == CS_OK && o->version < 1)
		rc = cs_err_set(
		    err, CS_ERR_INVALID, "licence version must be 1 or more");
	if (rc != CS_OK)
		goto out;
	rc = store_q_begin(NULL, tx, &q_obj_put, &q, err);
	if (rc != CS_OK)
		goto out;
	r = store_bind_str(q.s, 1, o->id);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 2, o->licence_id);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int(q.s, 3, o->version);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 4, o->dept);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 5, o->holder_ref);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 6, o->client);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 7, o->text);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 8, "open");
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 9, store_time_or_now(o->created));
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r != SQLITE_DONE) {
		rc = store_q_fail(&q, r, err);
		if (rc == CS_ERR_CONFLICT)
			rc = cs_err_set(err, CS_ERR_CONFLICT,
			    "objection '%s' exists already", o->id);
		else if (rc == CS_ERR_NOT_FOUND)
			rc = cs_err_set(err, CS_ERR_NOT_FOUND,
			    "licence '%s' version %d or its department does "
			    "not exist",
			    o->licence_id, o->version);
	}
out:
	store_q_end(&q);
	if (rc != CS_OK)
		tx->failed = true;
	return rc;
}

/* Fill o from a row of OBJECTION_COLS. */
static void
row_objection(sqlite3_stmt *s, struct store_objection *o)
{
	memset(o, 0, sizeof(*o));
	store_col_copy(s, 0, o->id, sizeof(o->id));
	store_col_copy(s, 1, o->licence_id, sizeof(o->licence_id));
	o->version = sqlite3_column_int(s, 2);
	store_col_copy(s, 3, o->dept, sizeof(o->dept));
	store_col_copy(s, 4, o->holder_ref, sizeof(o->holder_ref));
	store_col_copy(s, 5, o->client, sizeof(o->client));
	store_col_copy(s, 6, o->text, sizeof(o->text));
	store_col_copy(s, 7, o->status, sizeof(o->status));
	store_col_copy(s, 8, o->resolution, sizeof(o->resolution));
	o->new_version = sqlite3_column_int(s, 9);
	o->created = sqlite3_column_int64(s, 10);
	o->resolved_at = sqlite3_column_int64(s, 11);
	store_col_copy(s, 12, o->resolved_by, sizeof(o->resolved_by));
}

enum cs_rc
store_objection_get(struct store *st, const char *id, struct store_objection *o,
    struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	memset(o, 0, sizeof(*o));
	rc = store_text_check("objection id", id, STORE_CODE_MAX, false, err);
	if (rc != CS_OK)
		return rc;
	rc = store_q_begin(st, NULL, &q_obj_get, &q, err);
	if (rc != CS_OK)
		return rc;
	r = store_bind_str(q.s, 1, id);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r == SQLITE_ROW)
		row_objection(q.s, o);
	else if (r == SQLITE_DONE)
		rc = cs_err_set(
		    err, CS_ERR_NOT_FOUND, "objection '%.40s' not found", id);
	else
		rc = store_q_fail(&q, r, err);
	store_q_end(&q);
	return rc;
}

STORE_ROW_FN(row_objection_el, row_objection, struct store_objection)

enum cs_rc
store_objection_list(struct store *st, const char *holder_ref, const char *dept,
    const char *status, size_t limit, struct store_objection **out, size_t *n,
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
	else if (dept != NULL)
		rc = store_text_check(
		    "department code", dept, STORE_CODE_MAX, false, err);
	else
		rc = CS_OK;
	if (rc != CS_OK)
		return rc;
	if (status != NULL && !objection_status_ok(status))
		return cs_err_set(err, CS_ERR_INVALID,
		    "status: must be open, corrected or rejected");
	if (limit == 0 || limit > STORE_LIST_MAX)
		limit = STORE_LIST_MAX;
	rc = store_q_begin(st, NULL,
	    holder_ref != NULL ? &q_obj_list_holder
	        : dept != NULL ? &q_obj_list_dept
	                       : &q_obj_list_all,
	    &q, err);
	if (rc != CS_OK)
		return rc;
	r = store_bind_str(q.s, 1, holder_ref != NULL ? holder_ref : dept);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 2, status);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 3, (int64_t)limit);
	rc = store_q_collect(&q, r, sizeof(**out), "objections",
	    row_objection_el, NULL, &arr, n, err);
	store_q_end(&q);
	*out = arr;
	return rc;
}

enum cs_rc
store_objection_resolve(struct store_tx *tx, const char *id, const char *status,
    const char *resolution, int new_version, int64_t when, const char *by,
    struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	rc = store_tx_usable(tx, err);
	if (rc != CS_OK)
		return rc;
	rc = store_text_check("objection id", id, STORE_CODE_MAX, false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "resolution", resolution, STORE_TEXT_MAX, true, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "resolved by", by, STORE_NAME_MAX, false, err);
	if (rc == CS_OK &&
	    !((status != NULL && strcmp(status, "corrected") == 0 &&
	          new_version >= 1) ||
	        (status != NULL && strcmp(status, "rejected") == 0 &&
	            new_version == 0)))
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "an objection is resolved as corrected (with a new "
		    "version) or rejected");
	if (rc != CS_OK)
		goto out;
	rc = store_q_begin(NULL, tx, &q_obj_resolve, &q, err);
	if (rc != CS_OK)
		goto out;
	r = store_bind_str(q.s, 1, id);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 2, status);
	if (r == SQLITE_OK)
		r = store_bind_str(
		    q.s, 3, resolution != NULL ? resolution : "");
	if (r == SQLITE_OK)
		r = new_version > 0 ? sqlite3_bind_int(q.s, 4, new_version)
		                    : sqlite3_bind_null(q.s, 4);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 5, store_time_or_now(when));
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 6, by);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r != SQLITE_DONE) {
		rc = store_q_fail(&q, r, err);
		goto out;
	}
	if (sqlite3_changes(q.c->db) != 1)
		rc = cs_err_set(
		    err, CS_ERR_CONFLICT, "objection '%.40s' is not open", id);
out:
	store_q_end(&q);
	if (rc != CS_OK)
		tx->failed = true;
	return rc;
}
