/*
 * store_sqlite_backup.c: a consistent copy of the database while certsvcd
 * runs (issue #9), with SQLite's online backup API.
 *
 * The copy is one snapshot: a read transaction is opened on the source
 * connection before the first page is copied and held to the last, so in
 * WAL mode writers go on committing (readers never block them) and the
 * backup never restarts, whatever they do meanwhile.  The audit head and
 * schema version are read in that same snapshot, so what the manifest says
 * about the copy is what the copy holds.  The copy is checked with
 * PRAGMA quick_check before it is closed; a failed backup leaves no file.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "certsvc/store_int.h"

#define BACKUP_STEP_PAGES 256
#define BACKUP_BUSY_RETRIES 200 /* of 50 ms: 10 s */

/* One integer from sql on db (in the current transaction). */
static int
backup_int(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *s = NULL;
	int r;

	r = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (r == SQLITE_OK) {
		r = sqlite3_step(s);
		if (r == SQLITE_ROW) {
			*out = sqlite3_column_int64(s, 0);
			r = SQLITE_OK;
		}
	}
	sqlite3_finalize(s);
	return r;
}

/* PRAGMA quick_check on db: SQLITE_OK only when it answers "ok". */
static int
backup_check(sqlite3 *db)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *t;
	int r;

	r = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &s, NULL);
	if (r == SQLITE_OK) {
		r = sqlite3_step(s);
		t = r == SQLITE_ROW ? sqlite3_column_text(s, 0) : NULL;
		r = t != NULL && strcmp((const char *)t, "ok") == 0
		    ? SQLITE_OK
		    : SQLITE_CORRUPT;
	}
	sqlite3_finalize(s);
	return r;
}

/* Copy every page of src into dst, reporting progress. */
static enum cs_rc
backup_copy(sqlite3 *dst, sqlite3 *src,
    void (*progress)(void *arg, int64_t done, int64_t total), void *arg,
    struct store_backup_info *info, struct cs_err *err)
{
	sqlite3_backup *b;
	int r, busy = 0, total;

	b = sqlite3_backup_init(dst, "main", src, "main");
	if (b == NULL)
		return cs_err_set(err, CS_ERR_STORE, "cannot start backup: %s",
		    sqlite3_errmsg(dst));
	for (;;) {
		r = sqlite3_backup_step(b, BACKUP_STEP_PAGES);
		total = sqlite3_backup_pagecount(b);
		if (progress != NULL)
			progress(
			    arg, total - sqlite3_backup_remaining(b), total);
		if (r == SQLITE_OK)
			continue;
		if ((r == SQLITE_BUSY || r == SQLITE_LOCKED) &&
		    busy++ < BACKUP_BUSY_RETRIES) {
			sqlite3_sleep(50);
			continue;
		}
		break;
	}
	info->pages = sqlite3_backup_pagecount(b);
	sqlite3_backup_finish(b);
	if (r != SQLITE_DONE)
		return cs_err_set(
		    err, CS_ERR_STORE, "backup failed: %s", sqlite3_errstr(r));
	return CS_OK;
}

enum cs_rc
store_backup(struct store *st, const char *path,
    void (*progress)(void *arg, int64_t done, int64_t total), void *arg,
    struct store_backup_info *info, struct cs_err *err)
{
	struct store_conn *c = NULL;
	sqlite3 *dst = NULL;
	int64_t page_size = 0, v = 0;
	bool created = false, reading = false;
	enum cs_rc rc;
	int fd, r;

	memset(info, 0, sizeof(*info));
	/* Created here, so that it is new and 0600 whatever the umask. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return cs_err_set(err,
		    errno == EEXIST ? CS_ERR_CONFLICT : CS_ERR_IO,
		    "cannot create '%s': %s", path, strerror(errno));
	close(fd);
	created = true;
	rc = store_conn_get(st, false, &c, err);
	if (rc != CS_OK)
		goto out;
	/* The snapshot: every read below and every page copied sees it. */
	r = sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL);
	reading = r == SQLITE_OK;
	if (r == SQLITE_OK)
		r = backup_int(c->db,
		    "SELECT coalesce(max(seq), 0) FROM audit_events",
		    &info->audit_last_seq);
	if (r == SQLITE_OK)
		r = backup_int(c->db, "PRAGMA user_version", &v);
	if (r == SQLITE_OK)
		r = backup_int(c->db, "PRAGMA page_size", &page_size);
	if (r != SQLITE_OK) {
		rc = cs_err_set(err, CS_ERR_STORE,
		    "cannot read the database for backup: %s",
		    sqlite3_errstr(r));
		goto out;
	}
	info->schema_version = (int)v;
	r = sqlite3_open_v2(
	    path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (r != SQLITE_OK) {
		rc = cs_err_set(err, CS_ERR_STORE, "cannot open '%s': %s", path,
		    sqlite3_errstr(r));
		goto out;
	}
	rc = backup_copy(dst, c->db, progress, arg, info, err);
	if (rc != CS_OK)
		goto out;
	info->bytes = info->pages * page_size;
	if (backup_check(dst) != SQLITE_OK) {
		rc = cs_err_set(err, CS_ERR_STORE,
		    "the copy in '%s' fails its integrity check", path);
		goto out;
	}
out:
	if (reading)
		sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
	if (c != NULL)
		store_conn_put(st, c, false);
	if (dst != NULL && sqlite3_close(dst) != SQLITE_OK && rc == CS_OK)
		rc = cs_err_set(err, CS_ERR_STORE, "cannot close '%s'", path);
	if (rc != CS_OK && created)
		unlink(path);
	return rc;
}

/*
 * After a restore: the licences issued between the backup and the loss are
 * gone from the database but not from the world, so their serial numbers
 * must not be handed out again.  Every counter moves n ahead (at most to
 * the largest serial an identifier can spell, docs/identifiers.md).
 */
static struct store_sql q_serials_skip =
    STORE_SQL("UPDATE serials SET next = min(next + ?1, 100000000000)"
              " WHERE next < 100000000000",
        "skip serial numbers");

enum cs_rc
store_serials_skip(
    struct store_tx *tx, int64_t n, int64_t *rows, struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	*rows = 0;
	rc = store_tx_usable(tx, err);
	if (rc != CS_OK)
		return rc;
	if (n < 0 || n > 10000000000LL)
		return cs_err_set(err, CS_ERR_INVALID,
		    "serial skip must be 0 to 10000000000");
	rc = store_q_begin(NULL, tx, &q_serials_skip, &q, err);
	if (rc != CS_OK)
		return rc;
	r = sqlite3_bind_int64(q.s, 1, n);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r != SQLITE_DONE)
		rc = store_q_fail(&q, r, err);
	else
		*rows = sqlite3_changes(q.c->db);
	store_q_end(&q);
	if (rc != CS_OK)
		tx->failed = true;
	return rc;
}
