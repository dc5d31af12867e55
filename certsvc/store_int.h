/*
 * store_int.h: what the files of the SQLite backend (certsvc/store_sqlite*.c,
 * the only files that include sqlite3.h) share.  store_sqlite.c owns the
 * connection pool, transactions, migrations and the issue #3/#4 tables;
 * each store_sqlite_<area>.c adds the typed operations of one area of
 * store.h with statements declared where they are used:
 *
 *	static struct store_sql q_get = STORE_SQL("SELECT ...", "read foo");
 *	...
 *	rc = store_q_begin(st, tx, &q_get, &q, err);
 *
 * A struct store_sql gets a slot in every connection's statement cache the
 * first time it is used (at most STORE_XSTMT_MAX of them in a process), so
 * it is prepared once per connection, like the statements of stmt_sql[].
 * Values are only ever bound, never spliced into SQL.
 */
#ifndef CERTSVC_STORE_INT_H
#define CERTSVC_STORE_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "certsvc/store.h"

#define STORE_XSTMT_MAX 256
#define STORE_STMT_FIXED 48 /* >= STMT_COUNT of store_sqlite.c */

/* A statement declared outside store_sqlite.c (see above). */
struct store_sql {
	const char *sql;
	const char *op;  /* what it does, for error messages: "read foo" */
	atomic_int slot; /* 0 until first use, then 1..STORE_XSTMT_MAX */
};

#define STORE_SQL(sql_, op_)                                                   \
	{                                                                      \
		(sql_), (op_), 0                                               \
	}

struct store_conn {
	sqlite3 *db; /* NULL after a failed rollback: reopened on next use */
	sqlite3_stmt *stmt[STORE_STMT_FIXED];
	sqlite3_stmt *xstmt[STORE_XSTMT_MAX + 1];
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
	bool failed; /* set by any failed operation: commit then rolls back */
	int savepoints; /* open ones: store_tx_savepoint() */
	bool broken;    /* an undo failed: not even a savepoint can help */
};

/* A string with its length; p == NULL is SQL/JSON null. */
struct store_str {
	const char *p;
	size_t len;
};

/*
 * The fast path of audit verification (store_sqlite_audit.c): true when
 * SHA-256(prev || E) equals want, E being the canonical encoding of the
 * event (seq, t, f = actor, action, object, outcome, request_id, detail)
 * written directly instead of through jansson.  False means "not shown":
 * the caller then decides with audit_encode(), so this can only make
 * verification faster, never accept a row audit_encode() would refuse.
 */
bool store_audit_fast_match(const EVP_MD *md, const uint8_t *prev, int64_t seq,
    int64_t t, const struct store_str *f, const uint8_t *want);

/*
 * The append path's: hash = SHA-256(prev || E) when every text field is
 * printable ASCII (where the direct encoding is jansson's by
 * construction); false otherwise, and audit_encode() must make E.
 */
bool store_audit_fast_hash(const EVP_MD *md, const uint8_t *prev, int64_t seq,
    int64_t t, const struct store_str *f, uint8_t hash[STORE_HASH_LEN]);

/*
 * A statement on a connection: tx's when tx is not NULL, else one from the
 * pool, given back by store_q_end().
 */
struct store_q {
	struct store *st;
	struct store_conn *c;
	bool pooled;
	const char *op;
	sqlite3_stmt *s;
};

/* Start def on tx's connection (tx != NULL) or a pooled one (st). */
enum cs_rc store_q_begin(struct store *st, struct store_tx *tx,
    struct store_sql *def, struct store_q *q, struct cs_err *err);
/* Reset the statement, give a pooled connection back; idempotent. */
void store_q_end(struct store_q *q);
/* sqlite3_step(), unless store_test_fail_after() says this one fails. */
int store_q_step(struct store_q *q);
/*
 * Map failure r of q (SQLITE_DONE/ROW/OK count as failures too) to
 * CS_ERR_CONFLICT (unique key), CS_ERR_NOT_FOUND (foreign key) or
 * CS_ERR_STORE, with a message naming the operation, never the values.
 */
enum cs_rc store_q_fail(struct store_q *q, int r, struct cs_err *err);
enum cs_rc store_op_fail(
    struct store_conn *c, const char *op, int r, struct cs_err *err);

/* CS_ERR_INVALID for a NULL tx, CS_ERR_STORE for a failed one. */
enum cs_rc store_tx_usable(struct store_tx *tx, struct cs_err *err);

/* Pool: take a connection (and the write slot when writer) / give back. */
enum cs_rc store_conn_get(
    struct store *st, bool writer, struct store_conn **out, struct cs_err *err);
void store_conn_put(struct store *st, struct store_conn *c, bool writer);

/*
 * Check a text argument against its column's size sz (NUL included): it
 * must end within sz bytes and, unless optional, not be empty.
 */
enum cs_rc store_text_check(const char *what, const char *s, size_t sz,
    bool optional, struct cs_err *err);

/* Bindings (SQLITE_STATIC: the value must live until store_q_end). */
int store_bind_str(sqlite3_stmt *s, int i, const char *p); /* NULL: null */
int store_bind_opt(sqlite3_stmt *s, int i, const char *p); /* "": null */
int store_bind_buf(sqlite3_stmt *s, int i, const struct buf *b);

/* Columns: text into dst (truncated, NUL-ended), blob copies. */
void store_col_copy(sqlite3_stmt *s, int i, char *dst, size_t dstsz);
enum cs_rc store_col_buf(sqlite3_stmt *s, int i, bool nullable,
    struct buf **out, struct cs_err *err);
bool store_col_fixed(sqlite3_stmt *s, int i, uint8_t *dst, size_t len);

/*
 * Step q to its end (after bindings whose last result is r), one element
 * of elsz bytes per row, zeroed then filled by row(), into a growing array
 * of at most STORE_LIST_MAX: *out given (free(), after releasing the
 * elements when they own buffers), *n its length.  On failure every
 * element made is passed to release (when not NULL) and nothing is
 * given.  what names the rows in messages.  q stays the caller's to end.
 */
enum cs_rc store_q_collect(struct store_q *q, int r, size_t elsz,
    const char *what,
    enum cs_rc (*row)(sqlite3_stmt *s, void *el, struct cs_err *err),
    void (*release)(void *el), void **out, size_t *n, struct cs_err *err);

/*
 * A store_q_collect() row function name for the filler fill of type,
 * which cannot fail.
 */
#define STORE_ROW_FN(name, fill, type)                                         \
	static enum cs_rc name(sqlite3_stmt *s, void *el, struct cs_err *err)  \
	{                                                                      \
		(void)err;                                                     \
		fill(s, (type *)el);                                           \
		return CS_OK;                                                  \
	}

/* t, or the current time when t <= 0. */
int64_t store_time_or_now(int64_t t);

#endif
