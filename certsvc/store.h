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

/* What store_backup() copied: all of it from one snapshot. */
struct store_backup_info {
	int64_t pages, bytes;
	int schema_version;
	int64_t audit_last_seq; /* the copy's newest audit event, 0 if none */
};

/*
 * Copy the database into a new file path (created 0600; CS_ERR_CONFLICT
 * when it exists) with SQLite's online backup API while other connections
 * and processes keep writing: the copy is one consistent snapshot
 * (store_sqlite_backup.c).  progress (may be NULL) gets pages done and
 * total after each step.  The copy passes PRAGMA quick_check or the call
 * fails (CS_ERR_STORE); on failure no file is left.
 */
enum cs_rc store_backup(struct store *st, const char *path,
    void (*progress)(void *arg, int64_t done, int64_t total), void *arg,
    struct store_backup_info *info, struct cs_err *err);

/*
 * In tx, move every licence serial counter n ahead (at most to the
 * largest serial an identifier can spell), so that after a restore the
 * serials of licences issued after the backup are not handed out again.
 * *rows = counters moved.
 */
enum cs_rc store_serials_skip(
    struct store_tx *tx, int64_t n, int64_t *rows, struct cs_err *err);

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

/*
 * Savepoints (SQLite SAVEPOINT, nestable): a part of a transaction that can
 * be undone on its own, so that one transaction can carry several
 * independent changes (group commit, licence.c) and one failing change
 * does not fail the others.
 *
 * store_tx_savepoint() opens one in a usable tx: CS_ERR_INVALID without a
 * tx, CS_ERR_STORE in a failed one or when SAVEPOINT fails (the tx is then
 * unchanged, or failed if SQLite ended it).
 * store_tx_release() keeps what was done since the matching savepoint (it
 * becomes part of the enclosing savepoint or transaction): CS_ERR_INVALID
 * when none is open, CS_ERR_STORE when something failed inside it (roll
 * back to it instead) or when RELEASE fails (the savepoint is then still
 * open and tx failed: roll back to it).  store_tx_rollback_to() undoes
 * everything since the innermost open savepoint and closes it; the tx is
 * then usable again (its failed state is cleared).  If the undo itself
 * fails (CS_ERR_STORE) the tx is good only for rollback for good, and
 * store_tx_commit() will roll everything back.  Nothing is committed
 * until store_tx_commit(): a failed commit loses every released savepoint
 * too.
 */
enum cs_rc store_tx_savepoint(struct store_tx *tx, struct cs_err *err);
enum cs_rc store_tx_release(struct store_tx *tx, struct cs_err *err);
enum cs_rc store_tx_rollback_to(struct store_tx *tx, struct cs_err *err);

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

/* --- issue #4: departments, licence types, seals, clients, licences ---
 *
 * Text limits below are byte sizes including the NUL; a longer value is
 * CS_ERR_INVALID naming the field.  Lists are given arrays (free with the
 * matching *_list_free, or free() when the element owns no buffers).
 */

#define STORE_CODE_MAX 40  /* credit codes (18), type codes, ids */
#define STORE_TEXT_MAX 256 /* names */
#define STORE_LICENCE_ID_MAX 96
#define STORE_IDEM_KEY_MAX 129 /* idempotency keys: 1-128 bytes */
#define STORE_LIST_MAX 100000  /* rows in one list; also the largest limit */

struct store_dept {
	char code[STORE_CODE_MAX]; /* unified social credit code */
	char name[STORE_TEXT_MAX];
	char region[16]; /* GB/T 2260 region code, 6 digits */
	int64_t created;
};

/* CS_ERR_CONFLICT if the code exists. */
enum cs_rc store_dept_put(
    struct store_tx *tx, const struct store_dept *d, struct cs_err *err);
enum cs_rc store_dept_get(struct store *st, const char *code,
    struct store_dept *d, struct cs_err *err);
enum cs_rc store_dept_list(
    struct store *st, struct store_dept **out, size_t *n, struct cs_err *err);

struct store_ltype {
	char code[STORE_CODE_MAX];
	char name[STORE_TEXT_MAX];
	struct buf *definition; /* the type's JSON definition, as given */
	int64_t created;
};

/*
 * Insert a type and its issuing departments (each must exist: else
 * CS_ERR_NOT_FOUND naming it).  CS_ERR_CONFLICT if the code exists.
 */
enum cs_rc store_ltype_put(struct store_tx *tx, const char *code,
    const char *name, const char *definition, const char *const *depts,
    size_t ndepts, struct cs_err *err);
/* Fill lt (store_ltype_release); CS_ERR_NOT_FOUND. */
enum cs_rc store_ltype_get(struct store *st, const char *code,
    struct store_ltype *lt, struct cs_err *err);
void store_ltype_release(struct store_ltype *lt);
enum cs_rc store_ltype_list(
    struct store *st, struct store_ltype **out, size_t *n, struct cs_err *err);
void store_ltype_list_free(struct store_ltype *arr, size_t n);
/* *allowed = dept is on the type's issuance list (发证清单). */
enum cs_rc store_ltype_dept_allowed(struct store *st, const char *type,
    const char *dept, bool *allowed, struct cs_err *err);

struct store_seal {
	char id[STORE_CODE_MAX]; /* "S-" + 16 hex */
	char dept[STORE_CODE_MAX];
	char name[STORE_TEXT_MAX];
	char alg[16];
	char key_uri[STORE_URI_MAX];
	struct buf *cert_der;
	struct buf *image; /* PNG or NULL */
	bool has_image;
	uint8_t image_sha256[STORE_HASH_LEN];
	char status[16]; /* "active", "revoked" */
	char reason[STORE_TEXT_MAX];
	int64_t created;
	int64_t revoked_at; /* 0 when not revoked */
};

/*
 * status "" is "active", revoked_at 0 none, created 0 now.  With has_image
 * the image_sha256 must be the image's (else CS_ERR_INVALID).
 * CS_ERR_CONFLICT if the id exists, CS_ERR_NOT_FOUND for an unknown dept.
 */
enum cs_rc store_seal_put(
    struct store_tx *tx, const struct store_seal *s, struct cs_err *err);
/* Fill s (store_seal_release); CS_ERR_NOT_FOUND. */
enum cs_rc store_seal_get(
    struct store *st, const char *id, struct store_seal *s, struct cs_err *err);
void store_seal_release(struct store_seal *s);
/* Seals of dept (all when dept is NULL), newest first; no cert/image. */
enum cs_rc store_seal_list(struct store *st, const char *dept,
    struct store_seal **out, size_t *n, struct cs_err *err);
/* CS_ERR_NOT_FOUND if no such seal, CS_ERR_CONFLICT if already revoked. */
enum cs_rc store_seal_revoke(struct store_tx *tx, const char *id,
    const char *reason, int64_t when, struct cs_err *err);

struct store_client {
	char id[STORE_CODE_MAX]; /* "C-" + 16 hex */
	char name[STORE_TEXT_MAX];
	char role[16];             /* "issuer", "verifier", "holder" */
	char dept[STORE_CODE_MAX]; /* issuers: their department, else "" */
	char holder_ref[72];       /* holders: keyed hash of the holder id */
	uint8_t secret_hash[STORE_HASH_LEN];
	char status[16]; /* "active", "revoked" */
	int64_t created;
	int64_t revoked_at;
};

/* CS_ERR_CONFLICT if the id or the secret hash exists. */
/*
 * Issuers need dept (CS_ERR_NOT_FOUND when it does not exist), holders
 * holder_ref, verifiers neither (else CS_ERR_INVALID); status "" is
 * "active", created 0 now.
 */
enum cs_rc store_client_put(
    struct store_tx *tx, const struct store_client *c, struct cs_err *err);
/* The client whose secret hashes to hash; CS_ERR_NOT_FOUND. */
enum cs_rc store_client_by_hash(struct store *st,
    const uint8_t hash[STORE_HASH_LEN], struct store_client *c,
    struct cs_err *err);
enum cs_rc store_client_get(struct store *st, const char *id,
    struct store_client *c, struct cs_err *err);
enum cs_rc store_client_list(
    struct store *st, struct store_client **out, size_t *n, struct cs_err *err);
/* CS_ERR_NOT_FOUND, or CS_ERR_CONFLICT if already revoked. */
enum cs_rc store_client_revoke(
    struct store_tx *tx, const char *id, int64_t when, struct cs_err *err);

struct store_licence {
	char id[STORE_LICENCE_ID_MAX];
	int version; /* 1, 2, ... */
	char type[STORE_CODE_MAX];
	char dept[STORE_CODE_MAX];
	char seal_id[STORE_CODE_MAX];
	char holder_ref[72];
	char status[16]; /* LICENCE_VALID, ... (licence.h) */
	int64_t issued_at;
	int64_t valid_from;
	int64_t valid_until;
	char status_reason[STORE_TEXT_MAX]; /* why the last change, or "" */
	int64_t status_changed; /* time of the last status change, or 0 */
	/*
	 * Slot in the status lists (statuslist.h); documents of format
	 * certsvc-licence/1 have none (has_status_slot false, both -1 when
	 * read).  A slot is unique (CS_ERR_CONFLICT).
	 */
	bool has_status_slot;
	int64_t status_list;
	int64_t status_idx;
	struct buf *document; /* the exact sealed bytes */
	struct buf *seal_der; /* detached CMS, DER */
};

/* CS_ERR_CONFLICT if (id, version) exists. */
/*
 * CS_ERR_NOT_FOUND if its type, dept or seal does not exist.  Storing an
 * older version after a newer one leaves the newer one the newest.
 */
enum cs_rc store_licence_put(
    struct store_tx *tx, const struct store_licence *l, struct cs_err *err);
/*
 * Fill l (store_licence_release) with version of id, or its newest
 * version when version is 0; CS_ERR_NOT_FOUND.
 */
enum cs_rc store_licence_get(struct store *st, const char *id, int version,
    struct store_licence *l, struct cs_err *err);
void store_licence_release(struct store_licence *l);
/*
 * Newest version of each licence of holder_ref (or of dept when holder_ref
 * is NULL), newest first, at most limit; documents and seals not loaded.
 * limit 0 (or above STORE_LIST_MAX) means STORE_LIST_MAX.  *out is given
 * (free()).
 */
enum cs_rc store_licence_list(struct store *st, const char *holder_ref,
    const char *dept, size_t limit, struct store_licence **out, size_t *n,
    struct cs_err *err);

/*
 * Reserve count serial numbers for (type, dept, year) in tx: *first is the
 * first of them (starting at 1).  Callers hand them out from memory, so a
 * crash leaves a gap, never a duplicate.  count 1 to 1000000, year 1970 to
 * 9999; CS_ERR_NOT_FOUND for an unknown type or dept.
 */
enum cs_rc store_serial_reserve(struct store_tx *tx, const char *type,
    const char *dept, int year, int count, int64_t *first, struct cs_err *err);

/*
 * Idempotency keys, per client.  get: CS_ERR_NOT_FOUND when unknown, else
 * the hash of the first request's body and the licence it produced.  put:
 * CS_ERR_CONFLICT when (client, key) exists.
 * get with tx reads on tx's connection (sees tx's own puts); its
 * CS_ERR_NOT_FOUND leaves tx usable, any other failure spoils it.
 * licence_id needs idsz >= STORE_LICENCE_ID_MAX.  put: the licence
 * (licence_id, version) must exist (CS_ERR_NOT_FOUND).
 */
enum cs_rc store_idem_get(struct store *st, struct store_tx *tx,
    const char *client, const char *key, uint8_t req_hash[STORE_HASH_LEN],
    char *licence_id, size_t idsz, int *version, struct cs_err *err);
enum cs_rc store_idem_put(struct store_tx *tx, const char *client,
    const char *key, const uint8_t req_hash[STORE_HASH_LEN],
    const char *licence_id, int version, struct cs_err *err);

/* --- issue #5 -------------------------------------------------------------
 * Migration 3 (store_sqlite.c) holds the schema of all of it; each area's
 * operations live in its own store_sqlite_<area>.c (certsvc/store_int.h).
 */

/*
 * Change generations (store_sqlite_gen.c): counters that triggers bump on
 * every change of what certsvcd pre-signs, whichever process made it.
 * "certs": a seal or service certificate was added or changed status;
 * "licences": a licence version changed status; "clients": a client row
 * changed (revoked) or was deleted, never for a new one.  CS_ERR_NOT_FOUND
 * for an unknown name.
 */
enum cs_rc store_generation(
    struct store *st, const char *name, int64_t *value, struct cs_err *err);

/* --- audit checkpoints (store_sqlite_audit.c, issue #7) ---
 * A checkpoint is the chain's head (sequence number and hash) at some
 * moment, signed with the audit key in the token: kept here and exported
 * to third parties, it makes a truncated or rewritten tail detectable.
 */

struct store_checkpoint {
	int64_t seq;  /* the last event it covers */
	int64_t time; /* Unix seconds */
	uint8_t head_hash[STORE_HASH_LEN];
	char cert_serial[80]; /* the audit certificate that signed it */
	struct buf *document; /* canonical JSON (audit.h) */
	struct buf *seal;     /* detached CMS over document, DER */
};

/* CS_ERR_CONFLICT when a checkpoint of that seq exists. */
enum cs_rc store_checkpoint_put(
    struct store_tx *tx, const struct store_checkpoint *c, struct cs_err *err);
/* The newest checkpoint (store_checkpoint_release); CS_ERR_NOT_FOUND. */
enum cs_rc store_checkpoint_last(
    struct store *st, struct store_checkpoint *c, struct cs_err *err);
void store_checkpoint_release(struct store_checkpoint *c);
/*
 * Call fn for every checkpoint in seq order until it returns false; the
 * row is lent for the call.
 */
enum cs_rc store_checkpoint_scan(struct store *st,
    bool (*fn)(void *arg, const struct store_checkpoint *c), void *arg,
    struct cs_err *err);
/* The stored hash of event seq; CS_ERR_NOT_FOUND when there is none. */
enum cs_rc store_audit_hash_at(struct store *st, int64_t seq,
    uint8_t hash[STORE_HASH_LEN], struct cs_err *err);

/* The newest event and checkpoint (0 when none), in one indexed read. */
struct store_audit_tip {
	int64_t seq, time;       /* the newest event */
	int64_t cp_seq, cp_time; /* the newest checkpoint */
};
enum cs_rc store_audit_tip(
    struct store *st, struct store_audit_tip *t, struct cs_err *err);

/* --- issue #5: licence lifecycle and objections (store_sqlite_life.c) --- */

/*
 * Reserve count status-list slot numbers in tx (status_alloc): *first is
 * the first of them (from 0).  Slot n is entry n % STATUSLIST_ENTRIES of
 * list n / STATUSLIST_ENTRIES (statuslist.h).  Callers hand them out from
 * memory, so a crash leaves unused slots, never a duplicate.  count 1 to
 * 1000000, else CS_ERR_INVALID.
 */
enum cs_rc store_status_slots_reserve(
    struct store_tx *tx, int count, int64_t *first, struct cs_err *err);

/*
 * Change the status of licence (id, version) from `from` to `to`, with
 * reason ("" for none, at most STORE_TEXT_MAX - 1 bytes) and time when (0:
 * now), only while it is the newest version and its status is still
 * `from`: CS_ERR_CONFLICT otherwise (another change came first, a newer
 * version exists, or no such row), so two concurrent changes cannot both
 * pass.  Triggers bump the "licences" generation and the slot's list.
 */
enum cs_rc store_licence_set_status(struct store_tx *tx, const char *id,
    int version, const char *from, const char *to, const char *reason,
    int64_t when, struct cs_err *err);

#define STORE_OBJECTION_TEXT_MAX 2001 /* 1 to 2000 bytes of UTF-8 + NUL */

/* An objection (异议) of a holder against a licence version. */
struct store_objection {
	char id[STORE_CODE_MAX]; /* "O-" + 16 hex */
	char licence_id[STORE_LICENCE_ID_MAX];
	int version;               /* the version objected to */
	char dept[STORE_CODE_MAX]; /* the licence's issuing department */
	char holder_ref[72];
	char client[STORE_CODE_MAX]; /* the holder client that filed it */
	char text[STORE_OBJECTION_TEXT_MAX];
	char status[16];                 /* "open", "corrected", "rejected" */
	char resolution[STORE_TEXT_MAX]; /* the issuer's reason, or "" */
	int new_version; /* "corrected": the version made, else 0 */
	int64_t created;
	int64_t resolved_at; /* 0 while open */
	char resolved_by[STORE_NAME_MAX];
};

/*
 * Insert o (status "" is "open", created 0 now).  CS_ERR_CONFLICT if the
 * id exists, CS_ERR_NOT_FOUND if the licence version or dept does not.
 */
enum cs_rc store_objection_put(
    struct store_tx *tx, const struct store_objection *o, struct cs_err *err);
/* Fill o; CS_ERR_NOT_FOUND. */
enum cs_rc store_objection_get(struct store *st, const char *id,
    struct store_objection *o, struct cs_err *err);
/*
 * Objections of holder_ref (or of dept when holder_ref is NULL, or all
 * when both are), with
 * status (NULL: any), newest first, at most limit (0 or above
 * STORE_LIST_MAX: STORE_LIST_MAX).  *out is given (free()).
 */
enum cs_rc store_objection_list(struct store *st, const char *holder_ref,
    const char *dept, const char *status, size_t limit,
    struct store_objection **out, size_t *n, struct cs_err *err);
/*
 * Resolve an open objection: status "corrected" (with new_version >= 1)
 * or "rejected" (new_version 0), the reason, time when (0: now) and who.
 * CS_ERR_CONFLICT when it is not open (or does not exist).
 */
enum cs_rc store_objection_resolve(struct store_tx *tx, const char *id,
    const char *status, const char *resolution, int new_version, int64_t when,
    const char *by, struct cs_err *err);

/* --- issue #5: service certificates (store_sqlite_pki.c) ---
 * Certificates the issuing CA issues to certsvc's own services: the OCSP
 * responder, report signers, the TSA and the audit key.  OCSP and CRLs
 * answer for them as for seals.
 */

#define STORE_SERIAL_MAX 80 /* certificate serial, upper-case hex */

struct store_svc_cert {
	char serial[STORE_SERIAL_MAX];
	char ca[STORE_NAME_MAX];     /* issuer: "issuing" (or "root") */
	char purpose[16];            /* "ocsp", "report", "tsa", "audit" */
	char key_uri[STORE_URI_MAX]; /* "" for an in-memory key (reports) */
	struct buf *cert_der;
	int64_t not_before, not_after;
	char status[16]; /* "active", "revoked" */
	char reason[STORE_TEXT_MAX];
	int64_t revoked_at; /* 0 when not revoked */
	int64_t created;
};

/*
 * Record a certificate; status "" is "active", created 0 now.
 * CS_ERR_CONFLICT if the serial exists, CS_ERR_NOT_FOUND for an unknown
 * CA, CS_ERR_INVALID for an unknown purpose.
 */
enum cs_rc store_svc_cert_put(
    struct store_tx *tx, const struct store_svc_cert *c, struct cs_err *err);
/*
 * The active certificate of purpose with the latest not_after among those
 * valid at now (store_svc_cert_release); CS_ERR_NOT_FOUND if none.
 */
enum cs_rc store_svc_cert_current(struct store *st, const char *purpose,
    int64_t now, struct store_svc_cert *c, struct cs_err *err);
void store_svc_cert_release(struct store_svc_cert *c);
/* Every service certificate, oldest first, certificates loaded. */
enum cs_rc store_svc_cert_list(struct store *st, struct store_svc_cert **out,
    size_t *n, struct cs_err *err);
void store_svc_cert_list_free(struct store_svc_cert *arr, size_t n);
/* CS_ERR_NOT_FOUND, or CS_ERR_CONFLICT if already revoked. */
enum cs_rc store_svc_cert_revoke(struct store_tx *tx, const char *serial,
    const char *reason, int64_t when, struct cs_err *err);

/* --- issue #5: status lists (store_sqlite_slist.c) ---
 * A status list exists once a licence version has a slot in it: triggers of
 * migration 3 insert its status_lists row with the first such licence and
 * bump its gen whenever a licence with a slot in it changes status (or is
 * inserted with a status other than valid), whichever process made the
 * change.  certsvcd re-signs a list when its gen moves (statuslist.c).
 */

struct store_slist {
	int64_t list; /* list number, >= 0 */
	int64_t gen;  /* change generation */
};

/*
 * Every list with its gen, by number, at most STORE_LIST_MAX.  *out is
 * given (free()); none is CS_OK with *n 0.
 */
enum cs_rc store_slist_list(
    struct store *st, struct store_slist **out, size_t *n, struct cs_err *err);

/*
 * Read list in one snapshot: *gen its gen, then fn(arg, idx, status) for
 * every licence version with a slot in list, by idx, until fn returns false
 * (then CS_OK: the caller keeps its own verdict in arg).  status is lent
 * for the call.  The gen is that of the rows read: a change committed
 * after them has a higher gen.  One indexed query (licences_status_slot).
 * CS_ERR_NOT_FOUND when the list does not exist.
 */
enum cs_rc store_slist_scan(struct store *st, int64_t list, int64_t *gen,
    bool (*fn)(void *arg, int64_t idx, const char *status), void *arg,
    struct cs_err *err);

/* --- issue #6: 免证办 codes, usage records and verifier usage lists
 * (store_sqlite_codes.c, migration 4) --- */

#define STORE_PURPOSE_MAX 201 /* 1 to 200 bytes of UTF-8 + NUL */

/*
 * A 免证办 code: no code in it, only hashes (certsvc/pcode.c says which)
 * and the nonce its long form is derived from under a key that is not in
 * the database.
 */
struct store_pcode {
	char id[STORE_CODE_MAX]; /* "P-" + 16 hex */
	uint8_t long_hash[STORE_HASH_LEN];
	uint8_t short_hash[STORE_HASH_LEN];
	uint8_t nonce[32];
	char licence_id[STORE_LICENCE_ID_MAX];
	char holder_ref[72];
	char client[STORE_CODE_MAX]; /* the holder client that made it */
	char purpose[STORE_PURPOSE_MAX];
	char rp[STORE_CODE_MAX];  /* the intended verifier client, "" any */
	int64_t created, expires; /* Unix seconds; usable while now < expires */
	int64_t max_uses, uses;
	char status[16]; /* "active", "revoked" */
	int64_t revoked_at;
};

/*
 * Insert c (uses 0, status active).  CS_ERR_CONFLICT when its id or one
 * of its hashes exists, CS_ERR_NOT_FOUND when its client or rp does not.
 */
enum cs_rc store_pcode_put(
    struct store_tx *tx, const struct store_pcode *c, struct cs_err *err);
/* The code whose short (or long) hash is hash; CS_ERR_NOT_FOUND. */
enum cs_rc store_pcode_by_hash(struct store *st, bool is_short,
    const uint8_t hash[STORE_HASH_LEN], struct store_pcode *c,
    struct cs_err *err);
enum cs_rc store_pcode_get(struct store *st, const char *id,
    struct store_pcode *c, struct cs_err *err);
/*
 * The usable codes of holder_ref at now (0: the current time): active,
 * not expired, not used up; latest expiry first, at most limit (0: all).
 * *out given (free()).
 */
enum cs_rc store_pcode_list(struct store *st, const char *holder_ref,
    int64_t now, size_t limit, struct store_pcode **out, size_t *n,
    struct cs_err *err);
/* Revoke an active code of holder_ref; CS_ERR_CONFLICT otherwise. */
enum cs_rc store_pcode_revoke(struct store_tx *tx, const char *id,
    const char *holder_ref, int64_t when, struct cs_err *err);
/*
 * Count one use of code id at now, only while it is active, unexpired at
 * now and below max_uses: CS_ERR_CONFLICT otherwise, so of concurrent
 * uses no more than max_uses pass.
 */
enum cs_rc store_pcode_use(
    struct store_tx *tx, const char *id, int64_t now, struct cs_err *err);

/* A usage record (用证记录): one redemption of a code. */
struct store_usage {
	char id[STORE_CODE_MAX]; /* "U-" + 16 hex */
	char code_id[STORE_CODE_MAX];
	char licence_id[STORE_LICENCE_ID_MAX];
	int version;
	char type[STORE_CODE_MAX];
	char dept[STORE_CODE_MAX]; /* the licence's issuing department */
	char holder_ref[72];
	char rp[STORE_CODE_MAX];      /* the verifier client */
	char rp_name[STORE_TEXT_MAX]; /* its name (read only) */
	char purpose[STORE_PURPOSE_MAX];
	char report_id[STORE_CODE_MAX]; /* the report handed out */
	int64_t time;
};

/* CS_ERR_NOT_FOUND when the code, licence version or client does not exist. */
enum cs_rc store_usage_put(
    struct store_tx *tx, const struct store_usage *u, struct cs_err *err);
/*
 * Usage records of holder_ref (or, when NULL, of licences of dept), of
 * licence_id only when not NULL, newest first, at most limit (0: all).
 * *out given (free()).
 */
enum cs_rc store_usage_list(struct store *st, const char *holder_ref,
    const char *dept, const char *licence_id, size_t limit,
    struct store_usage **out, size_t *n, struct cs_err *err);

/*
 * A verifier client's usage list (用证清单): the licence types it may
 * use.  put: CS_ERR_NOT_FOUND naming an unknown type.  get: *out given
 * (free()), sorted.
 */
enum cs_rc store_client_types_put(struct store_tx *tx, const char *client,
    const char *const *types, size_t ntypes, struct cs_err *err);
enum cs_rc store_client_types_get(struct store *st, const char *client,
    char (**out)[STORE_CODE_MAX], size_t *n, struct cs_err *err);
enum cs_rc store_client_type_allowed(struct store *st, const char *client,
    const char *type, bool *allowed, struct cs_err *err);

/* --- issue #9: key rotation (store_sqlite_rotate.c, migration 5) --- */

/* A key and certificate a seal had before its current one. */
struct store_seal_key {
	char seal_id[STORE_CODE_MAX];
	char key_uri[STORE_URI_MAX];
	char alg[16];
	struct buf *cert_der;
	uint8_t cert_sha256[STORE_HASH_LEN];
	int64_t retired_at; /* when it stopped sealing */
	char status[16];    /* "retired", "revoked" (on its own) */
	char reason[STORE_TEXT_MAX];
	int64_t revoked_at; /* 0 unless revoked */
};

/*
 * Give active seal id a new key and certificate: its current ones (key
 * old_uri, certificate hashing to old_sha256) move to the seal's retired
 * keys, and new_uri, alg and new_der take their place, at when (0: now).
 * CS_ERR_CONFLICT when the seal is not active or its key is no longer
 * old_uri (another rotation came first), CS_ERR_NOT_FOUND for no seal.
 * Triggers move the "seals" and "certs" generations.
 */
enum cs_rc store_seal_rekey(struct store_tx *tx, const char *id,
    const char *old_uri, const uint8_t old_sha256[STORE_HASH_LEN],
    const char *new_uri, const char *alg, const struct buf *new_der,
    int64_t when, struct cs_err *err);
/*
 * Retired keys of seal id (all seals when NULL), oldest first, with their
 * certificates.  *out given (store_seal_key_list_free).
 */
enum cs_rc store_seal_key_list(struct store *st, const char *id,
    struct store_seal_key **out, size_t *n, struct cs_err *err);
void store_seal_key_list_free(struct store_seal_key *arr, size_t n);
/* The retired key of seal id whose certificate hashes to sha256. */
enum cs_rc store_seal_key_get(struct store *st, const char *id,
    const uint8_t sha256[STORE_HASH_LEN], struct store_seal_key *k,
    struct cs_err *err);

/*
 * Revoke the retired certificate (hashing to sha256) of seal id on its
 * own, with reason, at when (0: now): after a compromise of that key, the
 * seal and its current certificate stay.  CS_ERR_NOT_FOUND when the seal
 * has no such retired certificate, CS_ERR_CONFLICT when it is revoked
 * already.  A trigger moves the "certs" generation.
 */
enum cs_rc store_seal_key_revoke(struct store_tx *tx, const char *id,
    const uint8_t sha256[STORE_HASH_LEN], const char *reason, int64_t when,
    struct cs_err *err);

/*
 * The inventory entry whose URI or label is name; *destroyed_at its
 * destruction time or 0.  CS_ERR_NOT_FOUND.
 */
enum cs_rc store_key_find(struct store *st, const char *name,
    struct store_key *k, int64_t *destroyed_at, struct cs_err *err);
/*
 * What still uses key uri at now, into what ("" when nothing): an active
 * seal, a CA, or an active service certificate valid at now.
 */
enum cs_rc store_key_user(struct store *st, const char *uri, int64_t now,
    char *what, size_t whatsz, struct cs_err *err);
/* Mark key uri destroyed at when (0: now); CS_ERR_CONFLICT if it is. */
enum cs_rc store_key_destroyed(
    struct store_tx *tx, const char *uri, int64_t when, struct cs_err *err);

/*
 * Every CA, in the order they were made (the root, the issuing CA of
 * ca_init, then one per rollover), certificates loaded.  *out given
 * (store_ca_list_free).
 */
enum cs_rc store_ca_list(
    struct store *st, struct store_ca **out, size_t *n, struct cs_err *err);
void store_ca_list_free(struct store_ca *arr, size_t n);

/*
 * Identifiers of licences whose newest version is sealed by seal id,
 * greater than after ("" from the start), in order, at most limit (1 to
 * STORE_LIST_MAX).  *out given (free()).
 */
enum cs_rc store_licence_ids_by_seal(struct store *st, const char *id,
    const char *after, size_t limit, char (**out)[STORE_LICENCE_ID_MAX],
    size_t *n, struct cs_err *err);

#endif
