/*
 * store.h: the one interface to persistent state.  The embedded backend is
 * SQLite (store_sqlite.c, the only file that includes sqlite3.h); the
 * interface is kept narrow (typed operations, explicit transactions, no SQL
 * outside the backend) so that a PostgreSQL backend can sit behind it.
 *
 * Every state change is made inside one struct store_tx together with its
 * audit event: store_audit_append() in the same transaction, then
 * store_tx_commit().  If either fails the whole change is rolled back.
 *
 * A struct store is safe to share between threads: each transaction or
 * read takes one connection from an internal pool.
 */
#ifndef CERTSVC_STORE_H
#define CERTSVC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certsvc/err.h"
#include "certsvc/mem.h"

struct store;
struct store_tx;

#define STORE_NAME_MAX 64
#define STORE_URI_MAX 512
#define STORE_HASH_LEN 32

/*
 * Open (creating if needed, mode 0600) the database at path, in WAL mode,
 * and apply every pending schema migration, each in its own transaction.
 * A database whose schema is newer than this code is refused (CS_ERR_STORE).
 * nconn is the size of the connection pool (0 = 4, at most 64).  *out is
 * given (store_free).
 */
enum cs_rc store_open(
    const char *path, unsigned nconn, struct store **out, struct cs_err *err);

/* Close every connection (no tx may be open); NULL does nothing. */
void store_free(struct store *st);

/* The schema version now in force (the number of the last migration). */
int store_schema_version(struct store *st);

/* True when a trivial query succeeds (for /readyz). */
bool store_ping(struct store *st);

/*
 * Begin a write transaction (BEGIN IMMEDIATE, waits for the write lock up to
 * the busy timeout).  *out is given: end it with store_tx_commit() or
 * store_tx_rollback(), which free it.  After any failed operation in a tx
 * it is good only for rollback: store_tx_commit() then rolls back and
 * returns CS_ERR_STORE.  Reads (store_ca_get, ...) made while a tx is open
 * use another connection and do not see its uncommitted changes; one thread
 * must not begin a second tx while it holds one (it would fail after the
 * busy timeout).
 */
enum cs_rc store_tx_begin(
    struct store *st, struct store_tx **out, struct cs_err *err);

/* Commit and free tx; on failure everything in tx is rolled back. */
enum cs_rc store_tx_commit(struct store_tx *tx, struct cs_err *err);

/* Roll back and free tx; NULL does nothing. */
void store_tx_rollback(struct store_tx *tx);

/* --- audit trail (append-only, hash-chained) --- */

struct store_audit_event {
	const char *actor;      /* "admin", "client:<id>", "system" */
	const char *action;     /* "ca.init", "key.generate", ... */
	const char *object;     /* what it acted on, e.g. "ca:root" */
	const char *outcome;    /* "ok" or "denied:<why>", ... */
	const char *request_id; /* may be NULL */
	const char *detail;     /* JSON object text or NULL; no secrets */
};

/*
 * Append ev in tx.  The event gets the next sequence number, the time, the
 * previous event's hash and its own hash = SHA-256(prev_hash || canonical
 * encoding of the event).  *seq (may be NULL) receives its sequence number.
 */
enum cs_rc store_audit_append(struct store_tx *tx,
    const struct store_audit_event *ev, int64_t *seq, struct cs_err *err);

struct store_audit_row {
	int64_t seq;
	int64_t time; /* Unix seconds */
	char actor[STORE_NAME_MAX];
	char action[STORE_NAME_MAX];
	char object[STORE_URI_MAX];
	char outcome[STORE_NAME_MAX];
	char request_id[STORE_NAME_MAX];
	struct buf *detail; /* may be NULL */
	uint8_t prev_hash[STORE_HASH_LEN];
	uint8_t hash[STORE_HASH_LEN];
};

/* Number of audit events and the newest sequence number (0 if none). */
enum cs_rc store_audit_head(
    struct store *st, int64_t *count, int64_t *last_seq, struct cs_err *err);

/*
 * Call fn for every audit event with from <= seq, in order, until fn returns
 * false.  The row is lent to fn for the duration of the call.
 */
enum cs_rc store_audit_scan(struct store *st, int64_t from,
    bool (*fn)(void *arg, const struct store_audit_row *row), void *arg,
    struct cs_err *err);

/*
 * Recompute the chain; *bad_seq = first broken sequence number (for a gap,
 * the first missing one) or 0, *checked = good events before it.  A broken
 * chain is an answer, not an error: CS_OK.  See docs/audit.md.
 */
enum cs_rc store_audit_verify(
    struct store *st, int64_t *bad_seq, int64_t *checked, struct cs_err *err);

/* --- certificate authorities --- */

struct store_ca {
	char name[STORE_NAME_MAX]; /* "root", "issuing" */
	char key_uri[STORE_URI_MAX];
	struct buf *cert_der;
	int64_t created; /* Unix seconds */
};

/* Insert a CA; CS_ERR_CONFLICT if the name exists. */
enum cs_rc store_ca_put(struct store_tx *tx, const char *name,
    const char *key_uri, const uint8_t *der, size_t derlen, struct cs_err *err);

/* Fill ca (caller calls store_ca_release); CS_ERR_NOT_FOUND if none. */
enum cs_rc store_ca_get(struct store *st, const char *name, struct store_ca *ca,
    struct cs_err *err);
void store_ca_release(struct store_ca *ca);

/* --- key inventory: which token key serves which purpose --- */

struct store_key {
	char uri[STORE_URI_MAX];
	char label[STORE_NAME_MAX];
	char alg[16];     /* "p256", "p384", "rsa3072" */
	char purpose[32]; /* "ca-root", "ca-issuing", "seal", "admin", ... */
	int64_t created;
};

enum cs_rc store_key_put(
    struct store_tx *tx, const struct store_key *key, struct cs_err *err);

/* All keys, oldest first; *keys is given (free()). */
enum cs_rc store_key_list(
    struct store *st, struct store_key **keys, size_t *n, struct cs_err *err);

#endif
