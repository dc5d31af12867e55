/*
 * store_sqlite.c: the SQLite backend of store.h, and the only file that
 * includes sqlite3.h.
 *
 * Connections: a fixed pool of nconn connections, all opened by
 * store_open().  A connection is used by one thread at a time, so it is
 * opened SQLITE_OPEN_NOMUTEX and handed out through a mutex + condition
 * variable free list.  Each connection caches its prepared statements
 * (SQLITE_PREPARE_PERSISTENT); every statement is a constant in stmt_sql[],
 * values are only ever bound, never spliced into SQL.
 *
 * Writers: SQLite admits one writer at a time.  Instead of letting threads
 * poll the database lock in SQLite's busy handler (sleeps of up to 100 ms),
 * the writers of this process queue on the condition variable for the one
 * write slot; the busy timeout only arbitrates between processes (certsvcd
 * and certsvc-admin).  Waiting for a connection or the slot gives up after
 * STORE_BUSY_MS with CS_ERR_STORE, so a thread that begins a transaction
 * while holding one fails instead of hanging.
 *
 * Durability: journal_mode=WAL with synchronous=FULL.  Every commit syncs
 * the WAL before store_tx_commit() returns, so a licence or an audit event
 * reported as written survives a power loss.  synchronous=NORMAL keeps the
 * database consistent too but may lose the last commits; a registry that
 * has handed a licence to its holder, or an audit chain that has been
 * exported up to some event, must not forget them.  The price is one fsync
 * per transaction: on the 2-core development VM one-row transactions run
 * at about 6k/s with FULL against 136k/s with NORMAL (docs/audit.md).
 *
 * Failures: a failed operation inside a transaction (a statement, or input
 * refused before any statement ran) leaves the transaction good only for
 * rollback: store_tx_commit() then rolls back and returns CS_ERR_STORE.  A
 * caller can therefore never commit a state change whose audit event was
 * not written.
 *
 * Schema: migrations[] is append-only; PRAGMA user_version (written inside
 * each migration's own transaction) counts those applied.  A database newer
 * than this code is refused rather than written by code that does not know
 * its schema.
 *
 * Audit chain: docs/audit.md describes the encoding implemented by
 * audit_encode() and audit_hash().
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "certsvc/log.h"
#include "certsvc/store.h"
#include "certsvc/store_test.h"

#define STORE_CONN_DEFAULT 4
#define STORE_CONN_MAX 64
#define STORE_BUSY_MS 5000
#define STORE_DETAIL_MAX 65536
#define STORE_DER_MAX (1024 * 1024)
#define STORE_KEYS_MAX 100000

/* --- schema ------------------------------------------------------------ */

/*
 * Append only: never edit a migration that has shipped.  Each script ends by
 * setting user_version to its own number (1-based index).
 */
static const char *const migrations[] = {
    /* 1: audit trail, CAs, key inventory */
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
    "PRAGMA user_version = 1;",
};

#define STORE_SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* --- statements ---------------------------------------------------------- */

enum stmt_id {
	STMT_BEGIN,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_VERSION,
	STMT_PING,
	STMT_AUDIT_LAST,
	STMT_AUDIT_INSERT,
	STMT_AUDIT_HEAD,
	STMT_AUDIT_SCAN,
	STMT_CA_INSERT,
	STMT_CA_GET,
	STMT_KEY_INSERT,
	STMT_KEY_LIST,
	STMT_COUNT
};

/* The SQL of each statement, and the operation named in error messages. */
static const struct {
	const char *sql;
	const char *op;
} stmt_sql[STMT_COUNT] = {
    [STMT_BEGIN] = {"BEGIN IMMEDIATE", "begin transaction"},
    [STMT_COMMIT] = {"COMMIT", "commit transaction"},
    [STMT_ROLLBACK] = {"ROLLBACK", "roll back transaction"},
    [STMT_VERSION] = {"PRAGMA user_version", "read schema version"},
    [STMT_PING] = {"SELECT 1", "ping"},
    [STMT_AUDIT_LAST] = {"SELECT seq, hash FROM audit_events"
                         " ORDER BY seq DESC LIMIT 1",
        "read audit chain head"},
    [STMT_AUDIT_INSERT] = {"INSERT INTO audit_events (seq, time, actor,"
                           " action, object, outcome, request_id, detail,"
                           " prev_hash, hash)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        "append audit event"},
    [STMT_AUDIT_HEAD] = {"SELECT count(*), coalesce(max(seq), 0)"
                         " FROM audit_events",
        "count audit events"},
    [STMT_AUDIT_SCAN] = {"SELECT seq, time, actor, action, object, outcome,"
                         " request_id, detail, prev_hash, hash"
                         " FROM audit_events WHERE seq >= ?1 ORDER BY seq",
        "read audit events"},
    [STMT_CA_INSERT] = {"INSERT INTO ca (name, key_uri, cert_der, created)"
                        " VALUES (?1, ?2, ?3, ?4)",
        "insert ca"},
    [STMT_CA_GET] = {"SELECT key_uri, cert_der, created FROM ca"
                     " WHERE name = ?1",
        "read ca"},
    [STMT_KEY_INSERT] = {"INSERT INTO keys (uri, label, alg, purpose,"
                         " created) VALUES (?1, ?2, ?3, ?4, ?5)",
        "insert key"},
    [STMT_KEY_LIST] = {"SELECT uri, label, alg, purpose, created FROM keys"
                       " ORDER BY created, rowid",
        "list keys"},
};

/* --- types --------------------------------------------------------------- */

struct store_conn {
	sqlite3 *db; /* NULL after a failed rollback: reopened on next use */
	sqlite3_stmt *stmt[STMT_COUNT];
	struct store_conn *next; /* in the idle list */
};

struct store {
	char path[PATH_MAX];
	pthread_mutex_t mu;
	pthread_cond_t cv;        /* a connection or the write slot came free */
	struct store_conn *conns; /* nconn of them */
	unsigned nconn;
	struct store_conn *idle; /* guarded by mu */
	bool writing;            /* the write slot is taken; guarded by mu */
	int version;
	EVP_MD *sha256;
	atomic_int fail_after; /* store_test_fail_after() */
	bool mu_ok, cv_ok;
};

struct store_tx {
	struct store *st;
	struct store_conn *c;
	bool failed;
};

/* A string with its length; p == NULL is SQL/JSON null. */
struct store_str {
	const char *p;
	size_t len;
};

/* --- connections ------------------------------------------------------- */

static void
conn_close(struct store_conn *c)
{
	size_t i;

	for (i = 0; i < STMT_COUNT; i++) {
		sqlite3_finalize(c->stmt[i]);
		c->stmt[i] = NULL;
	}
	if (c->db != NULL && sqlite3_close(c->db) != SQLITE_OK)
		cs_log(CS_LOG_ERR, "store: cannot close connection: %s",
		    sqlite3_errmsg(c->db));
	c->db = NULL;
}

static enum cs_rc
conn_open(struct store *st, struct store_conn *c, struct cs_err *err)
{
	sqlite3 *db = NULL;
	enum cs_rc rc = CS_OK;
	int r;

	r = sqlite3_open_v2(st->path, &db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
	        SQLITE_OPEN_EXRESCODE,
	    NULL);
	if (r != SQLITE_OK) {
		rc = cs_err_set(err, CS_ERR_STORE,
		    "cannot open database '%s': %s", st->path,
		    sqlite3_errstr(r));
		goto out;
	}
	r = sqlite3_busy_timeout(db, STORE_BUSY_MS);
	if (r == SQLITE_OK)
		r = sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	if (r == SQLITE_OK)
		r = sqlite3_db_config(
		    db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	if (r == SQLITE_OK)
		r = sqlite3_exec(db,
		    "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;",
		    NULL, NULL, NULL);
	if (r != SQLITE_OK) {
		rc = cs_err_set(err, CS_ERR_STORE,
		    "cannot configure database '%s': %s", st->path,
		    sqlite3_errstr(r));
		goto out;
	}
	c->db = db;
	db = NULL;
out:
	sqlite3_close(db);
	return rc;
}

/* Return c to the idle list (and the write slot with it). */
static void
conn_put(struct store *st, struct store_conn *c, bool writer)
{
	pthread_mutex_lock(&st->mu);
	c->next = st->idle;
	st->idle = c;
	if (writer)
		st->writing = false;
	pthread_cond_broadcast(&st->cv);
	pthread_mutex_unlock(&st->mu);
}

/* Take an idle connection (and the write slot when writer). */
static enum cs_rc
conn_get(
    struct store *st, bool writer, struct store_conn **out, struct cs_err *err)
{
	struct timespec deadline;
	struct store_conn *c;
	enum cs_rc rc;

	*out = NULL;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += STORE_BUSY_MS / 1000;
	pthread_mutex_lock(&st->mu);
	while (st->idle == NULL || (writer && st->writing)) {
		if (pthread_cond_timedwait(&st->cv, &st->mu, &deadline) ==
		    ETIMEDOUT)
			break;
	}
	if (st->idle == NULL || (writer && st->writing)) {
		pthread_mutex_unlock(&st->mu);
		return cs_err_set(err, CS_ERR_STORE,
		    "store busy: no %s free within %d ms",
		    writer ? "write slot" : "connection", STORE_BUSY_MS);
	}
	c = st->idle;
	st->idle = c->next;
	c->next = NULL;
	if (writer)
		st->writing = true;
	pthread_mutex_unlock(&st->mu);
	if (c->db == NULL) {
		rc = conn_open(st, c, err);
		if (rc != CS_OK) {
			conn_put(st, c, writer);
			return rc;
		}
	}
	*out = c;
	return CS_OK;
}

/* --- statements ---------------------------------------------------------- */

static enum cs_rc
stmt_get(struct store_conn *c, enum stmt_id id, sqlite3_stmt **out,
    struct cs_err *err)
{
	int r;

	*out = NULL;
	if (c->stmt[id] == NULL) {
		r = sqlite3_prepare_v3(c->db, stmt_sql[id].sql, -1,
		    SQLITE_PREPARE_PERSISTENT, &c->stmt[id], NULL);
		if (r != SQLITE_OK) {
			cs_log(CS_LOG_ERR, "store: cannot prepare '%s': %s",
			    stmt_sql[id].op, sqlite3_errmsg(c->db));
			c->stmt[id] = NULL;
			return cs_err_set(err, CS_ERR_STORE, "cannot %s: %s",
			    stmt_sql[id].op, sqlite3_errstr(r));
		}
	}
	*out = c->stmt[id];
	return CS_OK;
}

/* Make s ready for its next use and drop the pointers bound to it. */
static void
stmt_done(sqlite3_stmt *s)
{
	if (s == NULL)
		return;
	/* Both return the last step's error, which the caller has handled. */
	(void)sqlite3_reset(s);
	(void)sqlite3_clear_bindings(s);
}

/* sqlite3_step(), unless store_test_fail_after() says this one fails. */
static int
stmt_step(struct store *st, sqlite3_stmt *s)
{
	if (atomic_load(&st->fail_after) > 0 &&
	    atomic_fetch_sub(&st->fail_after, 1) == 1)
		return SQLITE_IOERR;
	return sqlite3_step(s);
}

/*
 * Map a failed sqlite call r of statement id to CS_ERR_CONFLICT (unique key)
 * or CS_ERR_STORE.  The message names the operation, never the values.
 */
static enum cs_rc
stmt_fail(struct store_conn *c, enum stmt_id id, int r, struct cs_err *err)
{
	if (r == SQLITE_CONSTRAINT_PRIMARYKEY || r == SQLITE_CONSTRAINT_UNIQUE)
		return cs_err_set(err, CS_ERR_CONFLICT, "cannot %s: it exists",
		    stmt_sql[id].op);
	/* errmsg is stale when r did not come from this connection. */
	cs_log(CS_LOG_WARN, "store: cannot %s: %s", stmt_sql[id].op,
	    sqlite3_extended_errcode(c->db) == r ? sqlite3_errmsg(c->db)
	                                         : sqlite3_errstr(r));
	return cs_err_set(err, CS_ERR_STORE, "cannot %s: %s", stmt_sql[id].op,
	    sqlite3_errstr(r));
}

/* Run statement id, which takes no parameters and returns no rows. */
static enum cs_rc
stmt_exec(
    struct store *st, struct store_conn *c, enum stmt_id id, struct cs_err *err)
{
	sqlite3_stmt *s;
	enum cs_rc rc;
	int r;

	rc = stmt_get(c, id, &s, err);
	if (rc != CS_OK)
		return rc;
	/* ROLLBACK is the way out of a failure: never fail it on purpose. */
	r = id == STMT_ROLLBACK ? sqlite3_step(s) : stmt_step(st, s);
	if (r != SQLITE_DONE)
		rc = stmt_fail(c, id, r, err);
	stmt_done(s);
	return rc;
}

static int
bind_str(sqlite3_stmt *s, int i, const char *p)
{
	if (p == NULL)
		return sqlite3_bind_null(s, i);
	return sqlite3_bind_text64(
	    s, i, p, strlen(p), SQLITE_STATIC, SQLITE_UTF8);
}

/* Copy text column i into dst of size dstsz, truncated if need be. */
static void
col_copy(sqlite3_stmt *s, int i, char *dst, size_t dstsz)
{
	const unsigned char *p;
	size_t n;

	p = sqlite3_column_text(s, i);
	n = (size_t)sqlite3_column_bytes(s, i);
	if (p == NULL)
		n = 0;
	if (n >= dstsz)
		n = dstsz - 1;
	if (n > 0)
		memcpy(dst, p, n);
	dst[n] = '\0';
}

/* --- schema migrations --------------------------------------------------- */

static enum cs_rc
schema_read(
    struct store *st, struct store_conn *c, int *version, struct cs_err *err)
{
	sqlite3_stmt *s;
	enum cs_rc rc;
	int r;

	rc = stmt_get(c, STMT_VERSION, &s, err);
	if (rc != CS_OK)
		return rc;
	r = stmt_step(st, s);
	if (r == SQLITE_ROW)
		*version = sqlite3_column_int(s, 0);
	else
		rc = stmt_fail(
		    c, STMT_VERSION, r == SQLITE_DONE ? SQLITE_ERROR : r, err);
	stmt_done(s);
	return rc;
}

static enum cs_rc
schema_too_new(struct store *st, int version, struct cs_err *err)
{
	return cs_err_set(err, CS_ERR_STORE,
	    "database '%s' has schema version %d, newer than the %d this "
	    "certsvc knows: upgrade certsvc",
	    st->path, version, STORE_SCHEMA_VERSION);
}

/*
 * Apply the pending migrations, each in its own transaction.  The version
 * is read again under the write lock, so two processes opening the same
 * new database apply each migration once.
 */
static enum cs_rc
schema_migrate(struct store *st, struct store_conn *c, struct cs_err *err)
{
	enum cs_rc rc;
	int v, after, r;

	for (;;) {
		rc = schema_read(st, c, &v, err);
		if (rc != CS_OK)
			return rc;
		if (v > STORE_SCHEMA_VERSION)
			return schema_too_new(st, v, err);
		if (v < 0)
			return cs_err_set(err, CS_ERR_STORE,
			    "database '%s' has an invalid schema version %d",
			    st->path, v);
		if (v == STORE_SCHEMA_VERSION)
			break;
		rc = stmt_exec(st, c, STMT_BEGIN, err);
		if (rc != CS_OK)
			return rc;
		rc = schema_read(st, c, &v, err);
		if (rc != CS_OK)
			goto rollback;
		if (v < 0 || v >= STORE_SCHEMA_VERSION) {
			/* Another process got there first (or went further). */
			(void)stmt_exec(st, c, STMT_ROLLBACK, NULL);
			continue;
		}
		r = sqlite3_exec(c->db, migrations[v], NULL, NULL, NULL);
		if (r != SQLITE_OK) {
			cs_log(CS_LOG_ERR, "store: migration %d: %s", v + 1,
			    sqlite3_errmsg(c->db));
			rc = cs_err_set(err, CS_ERR_STORE,
			    "cannot apply schema migration %d: %s", v + 1,
			    sqlite3_errstr(r));
			goto rollback;
		}
		rc = schema_read(st, c, &after, err);
		if (rc != CS_OK)
			goto rollback;
		if (after != v + 1) {
			rc = cs_err_set(err, CS_ERR_STORE,
			    "schema migration %d set version %d", v + 1, after);
			goto rollback;
		}
		rc = stmt_exec(st, c, STMT_COMMIT, err);
		if (rc != CS_OK)
			goto rollback;
		cs_log(
		    CS_LOG_INFO, "store: applied schema migration %d", v + 1);
	}
	st->version = v;
	return CS_OK;
rollback:
	if (!sqlite3_get_autocommit(c->db))
		(void)stmt_exec(st, c, STMT_ROLLBACK, NULL);
	return rc;
}

/* Switch the database to WAL; the mode is kept in the file. */
static enum cs_rc
store_wal(struct store *st, struct store_conn *c, struct cs_err *err)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *mode;
	enum cs_rc rc = CS_OK;
	int r;

	r = sqlite3_prepare_v2(
	    c->db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
	if (r == SQLITE_OK)
		r = sqlite3_step(s);
	if (r != SQLITE_ROW) {
		rc = cs_err_set(err, CS_ERR_STORE,
		    "cannot set WAL mode on '%s': %s", st->path,
		    sqlite3_errstr(r));
		goto out;
	}
	mode = sqlite3_column_text(s, 0);
	if (mode == NULL || strcasecmp((const char *)mode, "wal") != 0) {
		rc = cs_err_set(err, CS_ERR_STORE,
		    "database '%s' refused WAL mode", st->path);
		goto out;
	}
out:
	sqlite3_finalize(s);
	return rc;
}

/* --- store --------------------------------------------------------------- */

enum cs_rc
store_open(
    const char *path, unsigned nconn, struct store **out, struct cs_err *err)
{
	pthread_condattr_t cattr;
	struct store *st = NULL;
	enum cs_rc rc = CS_OK;
	unsigned i;
	int fd;

	*out = NULL;
	if (nconn == 0)
		nconn = STORE_CONN_DEFAULT;
	if (nconn > STORE_CONN_MAX)
		return cs_err_set(err, CS_ERR_INVALID,
		    "store connections must be from 1 to %d", STORE_CONN_MAX);
	if (sqlite3_threadsafe() == 0)
		return cs_err_set(err, CS_ERR_STORE,
		    "sqlite was built without thread support");
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	if (path == NULL || !cs_strlcpy(st->path, path, sizeof(st->path))) {
		rc = cs_err_set(err, CS_ERR_INVALID, "database path too long");
		goto out;
	}
	if (pthread_mutex_init(&st->mu, NULL) != 0) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "cannot create mutex");
		goto out;
	}
	st->mu_ok = true;
	if (pthread_condattr_init(&cattr) != 0) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "cannot create condvar");
		goto out;
	}
	if (pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC) == 0 &&
	    pthread_cond_init(&st->cv, &cattr) == 0)
		st->cv_ok = true;
	pthread_condattr_destroy(&cattr);
	if (!st->cv_ok) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "cannot create condvar");
		goto out;
	}
	st->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (st->sha256 == NULL) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "cannot fetch SHA-256");
		goto out;
	}
	st->conns = calloc(nconn, sizeof(*st->conns));
	if (st->conns == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	st->nconn = nconn;
	/*
	 * Create the file ourselves so it is private: it holds the audit trail
	 * (and later holder data).  SQLite gives -wal and -shm the same mode.
	 */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = cs_err_set(err, CS_ERR_STORE,
		    "cannot create database '%s': %s", path, strerror(errno));
		goto out;
	}
	close(fd);
	rc = conn_open(st, &st->conns[0], err);
	if (rc != CS_OK)
		goto out;
	rc = store_wal(st, &st->conns[0], err);
	if (rc != CS_OK)
		goto out;
	rc = schema_migrate(st, &st->conns[0], err);
	if (rc != CS_OK)
		goto out;
	for (i = 1; i < nconn; i++) {
		rc = conn_open(st, &st->conns[i], err);
		if (rc != CS_OK)
			goto out;
	}
	for (i = nconn; i > 0; i--) {
		st->conns[i - 1].next = st->idle;
		st->idle = &st->conns[i - 1];
	}
	*out = st;
	st = NULL;
out:
	store_free(st);
	return rc;
}

void
store_free(struct store *st)
{
	unsigned i;

	if (st == NULL)
		return;
	for (i = 0; st->conns != NULL && i < st->nconn; i++)
		conn_close(&st->conns[i]);
	free(st->conns);
	EVP_MD_free(st->sha256);
	if (st->cv_ok)
		pthread_cond_destroy(&st->cv);
	if (st->mu_ok)
		pthread_mutex_destroy(&st->mu);
	free(st);
}

int
store_schema_version(struct store *st)
{
	return st->version;
}

bool
store_ping(struct store *st)
{
	struct store_conn *c;
	sqlite3_stmt *s;
	bool ok = false;

	if (conn_get(st, false, &c, NULL) != CS_OK)
		return false;
	if (stmt_get(c, STMT_PING, &s, NULL) == CS_OK) {
		ok = stmt_step(st, s) == SQLITE_ROW;
		stmt_done(s);
	}
	conn_put(st, c, false);
	return ok;
}

void
store_test_fail_after(struct store *st, int n)
{
	atomic_store(&st->fail_after, n > 0 ? n : 0);
}

/* --- transactions -------------------------------------------------------- */

enum cs_rc
store_tx_begin(struct store *st, struct store_tx **out, struct cs_err *err)
{
	struct store_tx *tx;
	enum cs_rc rc;

	*out = NULL;
	tx = calloc(1, sizeof(*tx));
	if (tx == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	tx->st = st;
	rc = conn_get(st, true, &tx->c, err);
	if (rc != CS_OK)
		goto out;
	rc = stmt_exec(st, tx->c, STMT_BEGIN, err);
	if (rc != CS_OK)
		goto out;
	*out = tx;
	tx = NULL;
out:
	if (tx != NULL && tx->c != NULL)
		conn_put(st, tx->c, true);
	free(tx);
	return rc;
}

/*
 * Roll back what is still open, hand the connection back and free tx.  A
 * connection that cannot roll back is in an unknown state: close it, and
 * conn_get() opens a fresh one next time.
 */
static void
tx_end(struct store_tx *tx, bool rollback)
{
	struct store_conn *c = tx->c;

	if (rollback && !sqlite3_get_autocommit(c->db)) {
		(void)stmt_exec(tx->st, c, STMT_ROLLBACK, NULL);
		if (!sqlite3_get_autocommit(c->db)) {
			cs_log(CS_LOG_ERR,
			    "store: rollback failed, "
			    "closing the connection");
			conn_close(c);
		}
	}
	conn_put(tx->st, c, true);
	free(tx);
}

enum cs_rc
store_tx_commit(struct store_tx *tx, struct cs_err *err)
{
	enum cs_rc rc;

	if (tx == NULL)
		return cs_err_set(err, CS_ERR_INVALID, "no transaction");
	if (tx->failed) {
		tx_end(tx, true);
		return cs_err_set(err, CS_ERR_STORE,
		    "transaction rolled back after an earlier failure");
	}
	rc = stmt_exec(tx->st, tx->c, STMT_COMMIT, err);
	if (rc != CS_OK && rc != CS_ERR_NOMEM) {
		rc = CS_ERR_STORE;
		if (err != NULL)
			err->rc = rc;
	}
	tx_end(tx, rc != CS_OK);
	return rc;
}

void
store_tx_rollback(struct store_tx *tx)
{
	if (tx == NULL)
		return;
	tx_end(tx, true);
}

/* Refuse work in a missing or failed transaction. */
static enum cs_rc
tx_usable(struct store_tx *tx, struct cs_err *err)
{
	if (tx == NULL)
		return cs_err_set(err, CS_ERR_INVALID, "no transaction");
	if (tx->failed)
		return cs_err_set(err, CS_ERR_STORE,
		    "transaction failed earlier: roll it back");
	return CS_OK;
}

/* --- audit trail --------------------------------------------------------- */

static const char *const audit_names[] = {
    "actor", "action", "object", "outcome", "request_id", "detail"};

#define AUDIT_NSTR 6

/*
 * The canonical encoding of an event, hashed into the chain: a JSON object
 * with the members action, actor, detail, object, outcome, request_id, seq
 * and time, made by json_dumps(JSON_COMPACT | JSON_SORT_KEYS): keys sorted
 * by byte value, no whitespace, strings as UTF-8 (not JSON_ENSURE_ASCII,
 * which RFC 8785 would not do either), seq and time as integers,
 * request_id and detail null when absent.  detail is a JSON string holding
 * the exact detail text, not the parsed object, so that any bytes the row
 * holds are covered.  For these ASCII keys and integers below 2^53 the
 * output coincides with RFC 8785 (JCS); issue 7 formalises it.  *out is
 * given (free()); CS_ERR_INVALID when a string is not UTF-8 or a required
 * one is missing.
 */
static enum cs_rc
audit_encode(int64_t seq, int64_t t, const struct store_str f[AUDIT_NSTR],
    char **out, struct cs_err *err)
{
	json_t *obj, *v;
	enum cs_rc rc = CS_OK;
	size_t i;

	*out = NULL;
	obj = json_object();
	if (obj == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	v = json_integer(seq);
	if (json_object_set_new(obj, "seq", v) != 0) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	v = json_integer(t);
	if (json_object_set_new(obj, "time", v) != 0) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < AUDIT_NSTR; i++) {
		if (i < 4 && f[i].p == NULL) {
			rc = cs_err_set(err, CS_ERR_INVALID,
			    "audit event has no %s", audit_names[i]);
			goto out;
		}
		v = f[i].p == NULL ? json_null()
		                   : json_stringn(f[i].p, f[i].len);
		if (v == NULL) {
			rc = cs_err_set(err, CS_ERR_INVALID,
			    "audit %s is not UTF-8", audit_names[i]);
			goto out;
		}
		if (json_object_set_new(obj, audit_names[i], v) != 0) {
			rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	*out = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	if (*out == NULL)
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
out:
	json_decref(obj);
	return rc;
}

/* hash = SHA-256(prev || enc). */
static enum cs_rc
audit_hash(const EVP_MD *md, const uint8_t prev[STORE_HASH_LEN],
    const char *enc, uint8_t hash[STORE_HASH_LEN], struct cs_err *err)
{
	EVP_MD_CTX *ctx;
	unsigned n = 0;
	enum cs_rc rc = CS_OK;

	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return cs_err_ossl(err, CS_ERR_NOMEM, "out of memory");
	if (EVP_DigestInit_ex(ctx, md, NULL) != 1 ||
	    EVP_DigestUpdate(ctx, prev, STORE_HASH_LEN) != 1 ||
	    EVP_DigestUpdate(ctx, enc, strlen(enc)) != 1 ||
	    EVP_DigestFinal_ex(ctx, hash, &n) != 1 || n != STORE_HASH_LEN)
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "cannot hash audit event");
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* Check an event before it is written; f receives its strings. */
static enum cs_rc
audit_check(const struct store_audit_event *ev, struct store_str f[AUDIT_NSTR],
    struct cs_err *err)
{
	static const size_t max[AUDIT_NSTR] = {STORE_NAME_MAX, STORE_NAME_MAX,
	    STORE_URI_MAX, STORE_NAME_MAX, STORE_NAME_MAX, STORE_DETAIL_MAX};
	json_t *detail;
	size_t i;

	if (ev == NULL)
		return cs_err_set(err, CS_ERR_INVALID, "no audit event");
	f[0].p = ev->actor;
	f[1].p = ev->action;
	f[2].p = ev->object;
	f[3].p = ev->outcome;
	f[4].p = ev->request_id;
	f[5].p = ev->detail;
	for (i = 0; i < AUDIT_NSTR; i++) {
		if (f[i].p == NULL) {
			if (i < 4)
				return cs_err_set(err, CS_ERR_INVALID,
				    "audit event has no %s", audit_names[i]);
			f[i].len = 0;
			continue;
		}
		f[i].len = strlen(f[i].p);
		/* The row must fit struct store_audit_row when read back. */
		if ((i < 4 && f[i].len == 0) || f[i].len >= max[i])
			return cs_err_set(err, CS_ERR_INVALID,
			    "audit %s must have 1 to %zu bytes", audit_names[i],
			    max[i] - 1);
	}
	if (ev->detail != NULL) {
		detail =
		    json_loadb(f[5].p, f[5].len, JSON_REJECT_DUPLICATES, NULL);
		if (!json_is_object(detail)) {
			json_decref(detail);
			return cs_err_set(err, CS_ERR_INVALID,
			    "audit detail is not a JSON object");
		}
		json_decref(detail);
	}
	return CS_OK;
}

enum cs_rc
store_audit_append(struct store_tx *tx, const struct store_audit_event *ev,
    int64_t *seq, struct cs_err *err)
{
	uint8_t prev[STORE_HASH_LEN] = {0}, hash[STORE_HASH_LEN];
	struct store_str f[AUDIT_NSTR];
	sqlite3_stmt *s = NULL;
	char *enc = NULL;
	int64_t last = 0, now;
	enum cs_rc rc;
	int r, i;

	if (seq != NULL)
		*seq = 0;
	rc = tx_usable(tx, err);
	if (rc != CS_OK)
		return rc;
	rc = audit_check(ev, f, err);
	if (rc != CS_OK)
		goto out;

	rc = stmt_get(tx->c, STMT_AUDIT_LAST, &s, err);
	if (rc != CS_OK)
		goto out;
	r = stmt_step(tx->st, s);
	if (r == SQLITE_ROW) {
		last = sqlite3_column_int64(s, 0);
		if (sqlite3_column_bytes(s, 1) != STORE_HASH_LEN || last <= 0 ||
		    last == INT64_MAX) {
			rc = cs_err_set(
			    err, CS_ERR_STORE, "audit chain head is corrupt");
			goto out;
		}
		memcpy(prev, sqlite3_column_blob(s, 1), STORE_HASH_LEN);
	} else if (r != SQLITE_DONE) {
		rc = stmt_fail(tx->c, STMT_AUDIT_LAST, r, err);
		goto out;
	}
	stmt_done(s);
	s = NULL;

	now = (int64_t)time(NULL);
	rc = audit_encode(last + 1, now, f, &enc, err);
	if (rc != CS_OK)
		goto out;
	rc = audit_hash(tx->st->sha256, prev, enc, hash, err);
	if (rc != CS_OK)
		goto out;

	rc = stmt_get(tx->c, STMT_AUDIT_INSERT, &s, err);
	if (rc != CS_OK)
		goto out;
	r = sqlite3_bind_int64(s, 1, last + 1);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(s, 2, now);
	for (i = 0; i < AUDIT_NSTR && r == SQLITE_OK; i++)
		r = bind_str(s, 3 + i, f[i].p);
	if (r == SQLITE_OK)
		r = sqlite3_bind_blob(
		    s, 9, prev, STORE_HASH_LEN, SQLITE_STATIC);
	if (r == SQLITE_OK)
		r = sqlite3_bind_blob(
		    s, 10, hash, STORE_HASH_LEN, SQLITE_STATIC);
	if (r == SQLITE_OK)
		r = stmt_step(tx->st, s);
	if (r != SQLITE_DONE) {
		rc = stmt_fail(tx->c, STMT_AUDIT_INSERT, r, err);
		/* A clash of seq means the chain moved under us: not 409. */
		if (rc == CS_ERR_CONFLICT)
			rc = cs_err_set(err, CS_ERR_STORE,
			    "cannot append audit event: sequence taken");
		goto out;
	}
	if (seq != NULL)
		*seq = last + 1;
out:
	stmt_done(s);
	free(enc);
	if (rc != CS_OK)
		tx->failed = true;
	return rc;
}

enum cs_rc
store_audit_head(
    struct store *st, int64_t *count, int64_t *last_seq, struct cs_err *err)
{
	struct store_conn *c;
	sqlite3_stmt *s = NULL;
	enum cs_rc rc;
	int r;

	*count = 0;
	*last_seq = 0;
	rc = conn_get(st, false, &c, err);
	if (rc != CS_OK)
		return rc;
	rc = stmt_get(c, STMT_AUDIT_HEAD, &s, err);
	if (rc != CS_OK)
		goto out;
	r = stmt_step(st, s);
	if (r != SQLITE_ROW) {
		rc = stmt_fail(c, STMT_AUDIT_HEAD, r, err);
		goto out;
	}
	*count = sqlite3_column_int64(s, 0);
	*last_seq = sqlite3_column_int64(s, 1);
out:
	stmt_done(s);
	conn_put(st, c, false);
	return rc;
}

/* Fill row from the current row of an STMT_AUDIT_SCAN statement. */
static enum cs_rc
audit_row_fill(sqlite3_stmt *s, struct store_audit_row *row, struct cs_err *err)
{
	const void *p;
	size_t n;

	memset(row, 0, sizeof(*row));
	row->seq = sqlite3_column_int64(s, 0);
	row->time = sqlite3_column_int64(s, 1);
	col_copy(s, 2, row->actor, sizeof(row->actor));
	col_copy(s, 3, row->action, sizeof(row->action));
	col_copy(s, 4, row->object, sizeof(row->object));
	col_copy(s, 5, row->outcome, sizeof(row->outcome));
	col_copy(s, 6, row->request_id, sizeof(row->request_id));
	if (sqlite3_column_type(s, 7) != SQLITE_NULL) {
		p = sqlite3_column_text(s, 7);
		n = (size_t)sqlite3_column_bytes(s, 7);
		row->detail = buf_from(p != NULL ? p : "", p != NULL ? n : 0);
		if (row->detail == NULL)
			return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	}
	p = sqlite3_column_blob(s, 8);
	n = (size_t)sqlite3_column_bytes(s, 8);
	if (p != NULL)
		memcpy(
		    row->prev_hash, p, n < STORE_HASH_LEN ? n : STORE_HASH_LEN);
	p = sqlite3_column_blob(s, 9);
	n = (size_t)sqlite3_column_bytes(s, 9);
	if (p != NULL)
		memcpy(row->hash, p, n < STORE_HASH_LEN ? n : STORE_HASH_LEN);
	return CS_OK;
}

enum cs_rc
store_audit_scan(struct store *st, int64_t from,
    bool (*fn)(void *arg, const struct store_audit_row *row), void *arg,
    struct cs_err *err)
{
	struct store_audit_row row;
	struct store_conn *c;
	sqlite3_stmt *s = NULL;
	enum cs_rc rc;
	bool more = true;
	int r = SQLITE_DONE;

	if (fn == NULL)
		return cs_err_set(err, CS_ERR_INVALID, "no scan callback");
	rc = conn_get(st, false, &c, err);
	if (rc != CS_OK)
		return rc;
	rc = stmt_get(c, STMT_AUDIT_SCAN, &s, err);
	if (rc != CS_OK)
		goto out;
	r = sqlite3_bind_int64(s, 1, from);
	if (r != SQLITE_OK) {
		rc = stmt_fail(c, STMT_AUDIT_SCAN, r, err);
		goto out;
	}
	/* One statement: the whole scan reads one snapshot. */
	while (more && (r = stmt_step(st, s)) == SQLITE_ROW) {
		rc = audit_row_fill(s, &row, err);
		if (rc == CS_OK)
			more = fn(arg, &row);
		buf_free(row.detail);
		if (rc != CS_OK)
			goto out;
	}
	if (more && r != SQLITE_DONE)
		rc = stmt_fail(c, STMT_AUDIT_SCAN, r, err);
out:
	stmt_done(s);
	conn_put(st, c, false);
	return rc;
}

/*
 * Check the current row of an STMT_AUDIT_SCAN statement against the chain:
 * expect is its sequence number and prev the hash before it, replaced by
 * its own hash when it is good.  *good says whether it is.
 */
static enum cs_rc
audit_row_verify(const EVP_MD *md, sqlite3_stmt *s, int64_t expect,
    uint8_t prev[STORE_HASH_LEN], bool *good, struct cs_err *err)
{
	struct store_str f[AUDIT_NSTR];
	uint8_t hash[STORE_HASH_LEN];
	char *enc = NULL;
	enum cs_rc rc = CS_OK;
	int i;

	*good = false;
	if (sqlite3_column_type(s, 0) != SQLITE_INTEGER ||
	    sqlite3_column_int64(s, 0) != expect ||
	    sqlite3_column_type(s, 1) != SQLITE_INTEGER)
		return CS_OK;
	if (sqlite3_column_type(s, 8) != SQLITE_BLOB ||
	    sqlite3_column_bytes(s, 8) != STORE_HASH_LEN ||
	    memcmp(sqlite3_column_blob(s, 8), prev, STORE_HASH_LEN) != 0)
		return CS_OK;
	if (sqlite3_column_type(s, 9) != SQLITE_BLOB ||
	    sqlite3_column_bytes(s, 9) != STORE_HASH_LEN)
		return CS_OK;
	for (i = 0; i < AUDIT_NSTR; i++) {
		if (sqlite3_column_type(s, 2 + i) == SQLITE_NULL) {
			f[i].p = NULL;
			f[i].len = 0;
			continue;
		}
		if (sqlite3_column_type(s, 2 + i) != SQLITE_TEXT)
			return CS_OK;
		f[i].p = (const char *)sqlite3_column_text(s, 2 + i);
		if (f[i].p == NULL)
			return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		f[i].len = (size_t)sqlite3_column_bytes(s, 2 + i);
	}
	rc = audit_encode(expect, sqlite3_column_int64(s, 1), f, &enc, NULL);
	if (rc == CS_ERR_INVALID)
		return CS_OK; /* a broken row, not a failure to verify */
	if (rc != CS_OK)
		return cs_err_set(err, rc, "out of memory");
	rc = audit_hash(md, prev, enc, hash, err);
	free(enc);
	if (rc != CS_OK)
		return rc;
	if (memcmp(sqlite3_column_blob(s, 9), hash, STORE_HASH_LEN) != 0)
		return CS_OK;
	memcpy(prev, hash, STORE_HASH_LEN);
	*good = true;
	return CS_OK;
}

/*
 * *bad_seq is the first sequence number at which the chain breaks: a row
 * whose fields, prev_hash or hash do not match, or the first missing
 * number of a gap.  *checked counts the good events before it (all of them
 * when *bad_seq is 0).  Deleting the newest events leaves a shorter valid
 * chain: that needs a checkpoint to detect (store_audit_head + hash).
 */
enum cs_rc
store_audit_verify(
    struct store *st, int64_t *bad_seq, int64_t *checked, struct cs_err *err)
{
	uint8_t prev[STORE_HASH_LEN] = {0};
	struct store_conn *c;
	sqlite3_stmt *s = NULL;
	int64_t expect = 1;
	enum cs_rc rc;
	bool good = true;
	int r = SQLITE_DONE;

	*bad_seq = 0;
	*checked = 0;
	rc = conn_get(st, false, &c, err);
	if (rc != CS_OK)
		return rc;
	rc = stmt_get(c, STMT_AUDIT_SCAN, &s, err);
	if (rc != CS_OK)
		goto out;
	r = sqlite3_bind_int64(s, 1, INT64_MIN);
	if (r != SQLITE_OK) {
		rc = stmt_fail(c, STMT_AUDIT_SCAN, r, err);
		goto out;
	}
	while (good && (r = stmt_step(st, s)) == SQLITE_ROW) {
		rc = audit_row_verify(st->sha256, s, expect, prev, &good, err);
		if (rc != CS_OK)
			goto out;
		if (!good) {
			*bad_seq = expect;
			break;
		}
		(*checked)++;
		expect++;
	}
	if (good && r != SQLITE_DONE) {
		*checked = 0;
		rc = stmt_fail(c, STMT_AUDIT_SCAN, r, err);
	}
out:
	stmt_done(s);
	conn_put(st, c, false);
	return rc;
}

/* --- certificate authorities -------------------------------------------- */

/* A URI with a PIN in it must never be stored (STYLE.md section 5). */
static bool
uri_has_pin(const char *uri)
{
	return strstr(uri, "pin-value") != NULL ||
	    strstr(uri, "pin-source") != NULL;
}

enum cs_rc
store_ca_put(struct store_tx *tx, const char *name, const char *key_uri,
    const uint8_t *der, size_t derlen, struct cs_err *err)
{
	sqlite3_stmt *s = NULL;
	enum cs_rc rc;
	int r;

	rc = tx_usable(tx, err);
	if (rc != CS_OK)
		return rc;
	if (name == NULL || *name == '\0' || strlen(name) >= STORE_NAME_MAX) {
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "ca name must have 1 to %d bytes", STORE_NAME_MAX - 1);
		goto out;
	}
	if (key_uri == NULL || *key_uri == '\0' ||
	    strlen(key_uri) >= STORE_URI_MAX || uri_has_pin(key_uri)) {
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "ca key_uri must have 1 to %d bytes and no pin",
		    STORE_URI_MAX - 1);
		goto out;
	}
	if (der == NULL || derlen == 0 || derlen > STORE_DER_MAX) {
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "ca certificate must have 1 to %d bytes", STORE_DER_MAX);
		goto out;
	}
	rc = stmt_get(tx->c, STMT_CA_INSERT, &s, err);
	if (rc != CS_OK)
		goto out;
	r = bind_str(s, 1, name);
	if (r == SQLITE_OK)
		r = bind_str(s, 2, key_uri);
	if (r == SQLITE_OK)
		r = sqlite3_bind_blob64(s, 3, der, derlen, SQLITE_STATIC);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(s, 4, (int64_t)time(NULL));
	if (r == SQLITE_OK)
		r = stmt_step(tx->st, s);
	if (r != SQLITE_DONE) {
		rc = stmt_fail(tx->c, STMT_CA_INSERT, r, err);
		if (rc == CS_ERR_CONFLICT)
			rc = cs_err_set(err, CS_ERR_CONFLICT,
			    "ca '%s' exists already", name);
		goto out;
	}
out:
	stmt_done(s);
	if (rc != CS_OK)
		tx->failed = true;
	return rc;
}

enum cs_rc
store_ca_get(
    struct store *st, const char *name, struct store_ca *ca, struct cs_err *err)
{
	struct store_conn *c;
	sqlite3_stmt *s = NULL;
	const void *p;
	enum cs_rc rc;
	size_t n;
	int r;

	memset(ca, 0, sizeof(*ca));
	if (name == NULL || *name == '\0' || strlen(name) >= STORE_NAME_MAX)
		return cs_err_set(err, CS_ERR_INVALID,
		    "ca name must have 1 to %d bytes", STORE_NAME_MAX - 1);
	rc = conn_get(st, false, &c, err);
	if (rc != CS_OK)
		return rc;
	rc = stmt_get(c, STMT_CA_GET, &s, err);
	if (rc != CS_OK)
		goto out;
	r = bind_str(s, 1, name);
	if (r == SQLITE_OK)
		r = stmt_step(st, s);
	if (r == SQLITE_DONE) {
		rc = cs_err_set(
		    err, CS_ERR_NOT_FOUND, "ca '%s' not found", name);
		goto out;
	}
	if (r != SQLITE_ROW) {
		rc = stmt_fail(c, STMT_CA_GET, r, err);
		goto out;
	}
	cs_strlcpy(ca->name, name, sizeof(ca->name));
	col_copy(s, 0, ca->key_uri, sizeof(ca->key_uri));
	p = sqlite3_column_blob(s, 1);
	n = (size_t)sqlite3_column_bytes(s, 1);
	ca->cert_der = buf_from(p != NULL ? p : "", p != NULL ? n : 0);
	if (ca->cert_der == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	ca->created = sqlite3_column_int64(s, 2);
out:
	stmt_done(s);
	conn_put(st, c, false);
	if (rc != CS_OK)
		store_ca_release(ca);
	return rc;
}

void
store_ca_release(struct store_ca *ca)
{
	if (ca == NULL)
		return;
	buf_free(ca->cert_der);
	memset(ca, 0, sizeof(*ca));
}

/* --- key inventory ------------------------------------------------------- */

/* True when s is a non-empty NUL-terminated string within sz bytes. */
static bool
field_ok(const char *s, size_t sz)
{
	return s[0] != '\0' && memchr(s, '\0', sz) != NULL;
}

enum cs_rc
store_key_put(
    struct store_tx *tx, const struct store_key *key, struct cs_err *err)
{
	sqlite3_stmt *s = NULL;
	enum cs_rc rc;
	int r;

	rc = tx_usable(tx, err);
	if (rc != CS_OK)
		return rc;
	if (key == NULL || !field_ok(key->uri, sizeof(key->uri)) ||
	    uri_has_pin(key->uri)) {
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "key uri must have 1 to %zu bytes and no pin",
		    sizeof(key->uri) - 1);
		goto out;
	}
	if (!field_ok(key->label, sizeof(key->label)) ||
	    !field_ok(key->alg, sizeof(key->alg)) ||
	    !field_ok(key->purpose, sizeof(key->purpose))) {
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "key needs a label, an alg and a purpose");
		goto out;
	}
	rc = stmt_get(tx->c, STMT_KEY_INSERT, &s, err);
	if (rc != CS_OK)
		goto out;
	r = bind_str(s, 1, key->uri);
	if (r == SQLITE_OK)
		r = bind_str(s, 2, key->label);
	if (r == SQLITE_OK)
		r = bind_str(s, 3, key->alg);
	if (r == SQLITE_OK)
		r = bind_str(s, 4, key->purpose);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(s, 5,
		    key->created > 0 ? key->created : (int64_t)time(NULL));
	if (r == SQLITE_OK)
		r = stmt_step(tx->st, s);
	if (r != SQLITE_DONE) {
		rc = stmt_fail(tx->c, STMT_KEY_INSERT, r, err);
		if (rc == CS_ERR_CONFLICT)
			rc = cs_err_set(err, CS_ERR_CONFLICT,
			    "key '%s' is already in the inventory", key->label);
		goto out;
	}
out:
	stmt_done(s);
	if (rc != CS_OK)
		tx->failed = true;
	return rc;
}

enum cs_rc
store_key_list(
    struct store *st, struct store_key **keys, size_t *n, struct cs_err *err)
{
	struct store_key *v = NULL, *nv;
	struct store_conn *c;
	sqlite3_stmt *s = NULL;
	size_t len = 0, cap = 0;
	enum cs_rc rc;
	int r;

	*keys = NULL;
	*n = 0;
	rc = conn_get(st, false, &c, err);
	if (rc != CS_OK)
		return rc;
	rc = stmt_get(c, STMT_KEY_LIST, &s, err);
	if (rc != CS_OK)
		goto out;
	while ((r = stmt_step(st, s)) == SQLITE_ROW) {
		if (len == cap) {
			if (cap >= STORE_KEYS_MAX) {
				rc = cs_err_set(err, CS_ERR_STORE,
				    "more than %d keys", STORE_KEYS_MAX);
				goto out;
			}
			cap = cap == 0 ? 16 : cap * 2;
			nv = reallocarray(v, cap, sizeof(*v));
			if (nv == NULL) {
				rc = cs_err_set(
				    err, CS_ERR_NOMEM, "out of memory");
				goto out;
			}
			v = nv;
		}
		memset(&v[len], 0, sizeof(v[len]));
		col_copy(s, 0, v[len].uri, sizeof(v[len].uri));
		col_copy(s, 1, v[len].label, sizeof(v[len].label));
		col_copy(s, 2, v[len].alg, sizeof(v[len].alg));
		col_copy(s, 3, v[len].purpose, sizeof(v[len].purpose));
		v[len].created = sqlite3_column_int64(s, 4);
		len++;
	}
	if (r != SQLITE_DONE) {
		rc = stmt_fail(c, STMT_KEY_LIST, r, err);
		goto out;
	}
	*keys = v;
	*n = len;
	v = NULL;
out:
	stmt_done(s);
	conn_put(st, c, false);
	free(v);
	return rc;
}
