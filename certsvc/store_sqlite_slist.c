/*
 * store_sqlite_slist.c: what the status lists are built from (store.h,
 * migration 3).  A list is read with one statement, so the gen and the
 * rows come from the same read snapshot (WAL): a change committed after
 * that snapshot always shows as a higher gen at the next look, and the
 * refresher can never keep a list signed from rows older than its gen.
 */
#include <stdlib.h>
#include <string.h>

#include "certsvc/store_int.h"

static struct store_sql q_lists = STORE_SQL(
    "SELECT list, gen FROM status_lists ORDER BY list", "list status lists");
/*
 * The LEFT JOIN keeps the gen of a list without rows (status NULL); the
 * join term on status_list uses the partial index licences_status_slot
 * (status_list, status_idx), which also gives the order.
 */
static struct store_sql q_scan =
    STORE_SQL("SELECT s.gen, l.status_idx, l.status"
              " FROM status_lists AS s"
              " LEFT JOIN licences AS l ON l.status_list = s.list"
              " WHERE s.list = ?1"
              " ORDER BY l.status_idx",
        "read status list");

static enum cs_rc
row_slist(sqlite3_stmt *s, void *el, struct cs_err *err)
{
	struct store_slist *l = el;

	(void)err;
	l->list = sqlite3_column_int64(s, 0);
	l->gen = sqlite3_column_int64(s, 1);
	return CS_OK;
}

enum cs_rc
store_slist_list(
    struct store *st, struct store_slist **out, size_t *n, struct cs_err *err)
{
	struct store_q q;
	void *arr = NULL;
	enum cs_rc rc;

	*out = NULL;
	*n = 0;
	rc = store_q_begin(st, NULL, &q_lists, &q, err);
	if (rc != CS_OK)
		return rc;
	rc = store_q_collect(&q, SQLITE_OK, sizeof(**out), "status lists",
	    row_slist, NULL, &arr, n, err);
	store_q_end(&q);
	*out = arr;
	return rc;
}

enum cs_rc
store_slist_scan(struct store *st, int64_t list, int64_t *gen,
    bool (*fn)(void *arg, int64_t idx, const char *status), void *arg,
    struct cs_err *err)
{
	const char *status;
	struct store_q q;
	bool found = false;
	enum cs_rc rc;
	int r;

	*gen = 0;
	rc = store_q_begin(st, NULL, &q_scan, &q, err);
	if (rc != CS_OK)
		return rc;
	r = sqlite3_bind_int64(q.s, 1, list);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	while (r == SQLITE_ROW) {
		if (!found) {
			*gen = sqlite3_column_int64(q.s, 0);
			found = true;
		}
		if (sqlite3_column_type(q.s, 1) != SQLITE_NULL) {
			status = (const char *)sqlite3_column_text(q.s, 2);
			if (status == NULL) { /* NOT NULL column: no memory */
				rc = cs_err_set(
				    err, CS_ERR_NOMEM, "out of memory");
				goto out;
			}
			if (!fn(arg, sqlite3_column_int64(q.s, 1), status))
				break;
		}
		r = store_q_step(&q);
	}
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		rc = store_q_fail(&q, r, err);
	else if (!found)
		rc = cs_err_set(err, CS_ERR_NOT_FOUND, "no status list %lld",
		    (long long)list);
out:
	store_q_end(&q);
	return rc;
}
