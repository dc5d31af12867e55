/*
 * store_sqlite_gen.c: change generations (store.h).  Triggers of migration
 * 3 bump them inside the transaction that makes the change, so a reader
 * that sees a new value also sees the change.
 */
#include <string.h>

#include "certsvc/store_int.h"

static struct store_sql q_generation = STORE_SQL(
    "SELECT value FROM generations WHERE name = ?1", "read generation");

enum cs_rc
store_generation(
    struct store *st, const char *name, int64_t *value, struct cs_err *err)
{
	struct store_q q;
	enum cs_rc rc;
	int r;

	*value = 0;
	rc = store_q_begin(st, NULL, &q_generation, &q, err);
	if (rc != CS_OK)
		return rc;
	r = store_bind_str(q.s, 1, name);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r == SQLITE_ROW)
		*value = sqlite3_column_int64(q.s, 0);
	else if (r == SQLITE_DONE)
		rc = cs_err_set(
		    err, CS_ERR_NOT_FOUND, "no generation '%.32s'", name);
	else
		rc = store_q_fail(&q, r, err);
	store_q_end(&q);
	return rc;
}
