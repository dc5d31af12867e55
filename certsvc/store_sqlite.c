/*
 * store_sqlite.c: the core of the SQLite backend of store.h (with the
 * store_sqlite_<area>.c files that share certsvc/store_int.h, the only
 * files that include sqlite3.h).
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
 * Issuance therefore writes several licences per transaction, each in a
 * savepoint (group commit, licence.c and docs/store.md).
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
 *
 * References (migration 2): departments, licence types, seals, clients and
 * licences refer to each other through foreign keys (PRAGMA foreign_keys
 * is on for every connection), so a row can never name what does not
 * exist; a violated key is CS_ERR_NOT_FOUND naming the missing object.
 *
 * Newest versions: licences are read far more often than written and are
 * listed per holder and per department, newest version only.  Each row
 * carries latest = 1 on the newest version of its licence (the insert
 * computes it, trigger licences_supersede clears it on the older ones), and
 * the listings read a partial index on (holder_ref | dept, issued_at, id)
 * WHERE latest = 1 backwards: no grouping, no sort, cost proportional to
 * the page, not to the table.  At 1.1M rows a page of 100 takes about
 * 30 us, against 200 ms for GROUP BY max(version).
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
#include "certsvc/store_int.h"
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
    /*
     * 2: departments, licence types, seals, clients, licences, serials,
     * idempotency keys (issue #4).  licences.latest is 1 on the newest
     * version of each licence only: the insert computes it and the trigger
     * clears it on the older versions, so the listings read one partial
     * index in order instead of grouping every version of every licence.
     */
    "CREATE TABLE departments ("
    " code TEXT PRIMARY KEY NOT NULL,"
    " name TEXT NOT NULL,"
    " region TEXT NOT NULL,"
    " created INTEGER NOT NULL"
    ") STRICT;"
    "CREATE TABLE licence_types ("
    " code TEXT PRIMARY KEY NOT NULL,"
    " name TEXT NOT NULL,"
    " definition TEXT NOT NULL,"
    " created INTEGER NOT NULL"
    ") STRICT;"
    "CREATE TABLE type_departments ("
    " type_code TEXT NOT NULL REFERENCES licence_types (code),"
    " dept_code TEXT NOT NULL REFERENCES departments (code),"
    " PRIMARY KEY (type_code, dept_code)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX type_departments_dept ON type_departments (dept_code);"
    "CREATE TABLE seals ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " dept TEXT NOT NULL REFERENCES departments (code),"
    " name TEXT NOT NULL,"
    " alg TEXT NOT NULL,"
    " key_uri TEXT NOT NULL,"
    " cert_der BLOB NOT NULL,"
    " image BLOB,"
    " image_sha256 BLOB CHECK (length(image_sha256) = 32),"
    " status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),"
    " reason TEXT NOT NULL,"
    " created INTEGER NOT NULL,"
    " revoked_at INTEGER,"
    " CHECK ((image IS NULL) = (image_sha256 IS NULL))"
    ") STRICT;"
    "CREATE INDEX seals_dept ON seals (dept, created);"
    "CREATE TABLE clients ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " name TEXT NOT NULL,"
    " role TEXT NOT NULL CHECK (role IN ('issuer', 'verifier', 'holder')),"
    " dept TEXT REFERENCES departments (code),"
    " holder_ref TEXT,"
    " secret_hash BLOB NOT NULL UNIQUE CHECK (length(secret_hash) = 32),"
    " status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),"
    " created INTEGER NOT NULL,"
    " revoked_at INTEGER,"
    " CHECK ((role = 'issuer') = (dept IS NOT NULL)),"
    " CHECK ((role = 'holder') = (holder_ref IS NOT NULL))"
    ") STRICT;"
    "CREATE TABLE licences ("
    " id TEXT NOT NULL,"
    " version INTEGER NOT NULL CHECK (version > 0),"
    " type TEXT NOT NULL REFERENCES licence_types (code),"
    " dept TEXT NOT NULL REFERENCES departments (code),"
    " seal_id TEXT NOT NULL REFERENCES seals (id),"
    " holder_ref TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " issued_at INTEGER NOT NULL,"
    " valid_from INTEGER NOT NULL,"
    " valid_until INTEGER NOT NULL,"
    " document BLOB NOT NULL,"
    " seal BLOB NOT NULL,"
    " latest INTEGER NOT NULL CHECK (latest IN (0, 1)),"
    " PRIMARY KEY (id, version)"
    ") STRICT;"
    "CREATE INDEX licences_holder ON licences (holder_ref, issued_at, id)"
    " WHERE latest = 1;"
    "CREATE INDEX licences_dept ON licences (dept, issued_at, id)"
    " WHERE latest = 1;"
    "CREATE TRIGGER licences_supersede AFTER INSERT ON licences"
    " WHEN NEW.latest = 1 BEGIN"
    " UPDATE licences SET latest = 0"
    " WHERE id = NEW.id AND version < NEW.version AND latest = 1;"
    " END;"
    "CREATE TABLE serials ("
    " type TEXT NOT NULL REFERENCES licence_types (code),"
    " dept TEXT NOT NULL REFERENCES departments (code),"
    " year INTEGER NOT NULL,"
    " next INTEGER NOT NULL CHECK (next BETWEEN 1 AND 1000000000000000),"
    " PRIMARY KEY (type, dept, year)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE TABLE idempotency ("
    " client TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " req_hash BLOB NOT NULL CHECK (length(req_hash) = 32),"
    " licence_id TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " created INTEGER NOT NULL,"
    " PRIMARY KEY (client, key),"
    " FOREIGN KEY (licence_id, version) REFERENCES licences (id, version)"
    ") STRICT, WITHOUT ROWID;"
    "PRAGMA user_version = 2;",
    /*
     * 3: issue #5.  Licence lifecycle (status reason and time; each
     * version's slot in a status list, unique), objections, the
     * certificates certsvc issues to its own services (OCSP responder,
     * report signer, TSA, audit), and change generations that certsvcd's
     * refresher polls so that what it pre-signs follows changes made by
     * any process: triggers bump them, so no writer can forget to.
     */
    "ALTER TABLE licences ADD COLUMN status_reason TEXT NOT NULL"
    " DEFAULT '';"
    "ALTER TABLE licences ADD COLUMN status_changed INTEGER NOT NULL"
    " DEFAULT 0;"
    "ALTER TABLE licences ADD COLUMN status_list INTEGER;"
    "ALTER TABLE licences ADD COLUMN status_idx INTEGER;"
    "CREATE UNIQUE INDEX licences_status_slot"
    " ON licences (status_list, status_idx) WHERE status_list IS NOT NULL;"
    "CREATE TABLE status_alloc ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " next INTEGER NOT NULL CHECK (next >= 0)"
    ") STRICT;"
    "INSERT INTO status_alloc (id, next) VALUES (1, 0);"
    "CREATE TABLE generations ("
    " name TEXT PRIMARY KEY NOT NULL,"
    " value INTEGER NOT NULL"
    ") STRICT, WITHOUT ROWID;"
    "INSERT INTO generations (name, value) VALUES ('certs', 1),"
    " ('licences', 1);"
    "CREATE TABLE status_lists ("
    " list INTEGER PRIMARY KEY CHECK (list >= 0),"
    " gen INTEGER NOT NULL"
    ") STRICT;"
    "CREATE TRIGGER licences_status_changed AFTER UPDATE OF status"
    " ON licences WHEN NEW.status IS NOT OLD.status BEGIN"
    " UPDATE generations SET value = value + 1 WHERE name = 'licences';"
    " INSERT INTO status_lists (list, gen)"
    " SELECT NEW.status_list, 1 WHERE NEW.status_list IS NOT NULL"
    " ON CONFLICT (list) DO UPDATE SET gen = gen + 1;"
    " END;"
    "CREATE TRIGGER licences_status_new AFTER INSERT ON licences"
    " WHEN NEW.status_list IS NOT NULL BEGIN"
    " INSERT INTO status_lists (list, gen) VALUES (NEW.status_list, 1)"
    " ON CONFLICT (list) DO UPDATE SET gen = gen + 1"
    " WHERE NEW.status IS NOT 'valid';"
    " END;"
    "CREATE TRIGGER seals_status_changed AFTER UPDATE OF status ON seals"
    " BEGIN"
    " UPDATE generations SET value = value + 1 WHERE name = 'certs';"
    " END;"
    "CREATE TRIGGER seals_new AFTER INSERT ON seals BEGIN"
    " UPDATE generations SET value = value + 1 WHERE name = 'certs';"
    " END;"
    "CREATE TABLE objections ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " licence_id TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " dept TEXT NOT NULL REFERENCES departments (code),"
    " holder_ref TEXT NOT NULL,"
    " client TEXT NOT NULL,"
    " text TEXT NOT NULL,"
    " status TEXT NOT NULL"
    "  CHECK (status IN ('open', 'corrected', 'rejected')),"
    " resolution TEXT NOT NULL DEFAULT '',"
    " new_version INTEGER,"
    " created INTEGER NOT NULL,"
    " resolved_at INTEGER,"
    " resolved_by TEXT,"
    " FOREIGN KEY (licence_id, version) REFERENCES licences (id, version)"
    ") STRICT;"
    "CREATE INDEX objections_dept ON objections (dept, status, created);"
    "CREATE INDEX objections_holder ON objections (holder_ref, created);"
    "CREATE TABLE service_certs ("
    " serial TEXT PRIMARY KEY NOT NULL,"
    " ca TEXT NOT NULL REFERENCES ca (name),"
    " purpose TEXT NOT NULL"
    "  CHECK (purpose IN ('ocsp', 'report', 'tsa', 'audit')),"
    " key_uri TEXT,"
    " cert_der BLOB NOT NULL,"
    " not_before INTEGER NOT NULL,"
    " not_after INTEGER NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),"
    " reason TEXT NOT NULL DEFAULT '',"
    " revoked_at INTEGER,"
    " created INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX service_certs_purpose ON service_certs (purpose, not_after);"
    "CREATE TRIGGER service_certs_new AFTER INSERT ON service_certs BEGIN"
    " UPDATE generations SET value = value + 1 WHERE name = 'certs';"
    " END;"
    "CREATE TRIGGER service_certs_status AFTER UPDATE OF status"
    " ON service_certs BEGIN"
    " UPDATE generations SET value = value + 1 WHERE name = 'certs';"
    " END;"
    "CREATE TABLE audit_checkpoints ("
    " seq INTEGER PRIMARY KEY CHECK (seq > 0),"
    " time INTEGER NOT NULL,"
    " head_hash BLOB NOT NULL CHECK (length(head_hash) = 32),"
    " cert_serial TEXT NOT NULL,"
    " document BLOB NOT NULL,"
    " seal BLOB NOT NULL"
    ") STRICT;"
    "PRAGMA user_version = 3;",
    /*
     * 4: issue #6.  免证办 codes (hashes and a nonce, never a code),
     * usage records, and verifier clients' usage lists (用证清单).
     */
    "CREATE TABLE client_types ("
    " client TEXT NOT NULL REFERENCES clients (id),"
    " type TEXT NOT NULL REFERENCES licence_types (code),"
    " PRIMARY KEY (client, type)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE TABLE pcodes ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " long_hash BLOB NOT NULL UNIQUE CHECK (length(long_hash) = 32),"
    " short_hash BLOB NOT NULL UNIQUE CHECK (length(short_hash) = 32),"
    " nonce BLOB NOT NULL CHECK (length(nonce) = 32),"
    " licence_id TEXT NOT NULL,"
    " holder_ref TEXT NOT NULL,"
    " client TEXT NOT NULL REFERENCES clients (id),"
    " purpose TEXT NOT NULL,"
    " rp TEXT REFERENCES clients (id),"
    " created INTEGER NOT NULL,"
    " expires INTEGER NOT NULL,"
    " max_uses INTEGER NOT NULL CHECK (max_uses >= 1),"
    " uses INTEGER NOT NULL CHECK (uses BETWEEN 0 AND max_uses),"
    " status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),"
    " revoked_at INTEGER"
    ") STRICT;"
    "CREATE INDEX pcodes_holder ON pcodes (holder_ref, expires);"
    "CREATE TABLE usage_records ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " code_id TEXT NOT NULL REFERENCES pcodes (id),"
    " licence_id TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " type TEXT NOT NULL,"
    " dept TEXT NOT NULL,"
    " holder_ref TEXT NOT NULL,"
    " rp TEXT NOT NULL REFERENCES clients (id),"
    " purpose TEXT NOT NULL,"
    " report_id TEXT NOT NULL,"
    " time INTEGER NOT NULL,"
    " FOREIGN KEY (licence_id, version) REFERENCES licences (id, version)"
    ") STRICT;"
    "CREATE INDEX usage_holder ON usage_records (holder_ref, time);"
    "CREATE INDEX usage_dept ON usage_records (dept, time);"
    "CREATE INDEX usage_licence ON usage_records (licence_id, time);"
    "PRAGMA user_version = 4;",
    /*
     * 5: issue #9.  Seal key rotation: every key and certificate a seal
     * had before its current one (OCSP, CRLs and verification go on
     * answering for what they sealed, and one can be revoked on its own
     * after a compromise; store_sqlite_rotate.c), when a token
     * key was destroyed, and a "seals" generation that signers cached in
     * any process compare with (seal.c), so a rotation or revocation made
     * by certsvc-admin takes effect in certsvcd at once.
     */
    "CREATE TABLE seal_keys ("
    " seal_id TEXT NOT NULL REFERENCES seals (id),"
    " key_uri TEXT NOT NULL,"
    " alg TEXT NOT NULL,"
    " cert_der BLOB NOT NULL,"
    " cert_sha256 BLOB NOT NULL CHECK (length(cert_sha256) = 32),"
    " retired_at INTEGER NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN ('retired', 'revoked')),"
    " reason TEXT NOT NULL DEFAULT '',"
    " revoked_at INTEGER,"
    " PRIMARY KEY (seal_id, cert_sha256)"
    ") STRICT;"
    "CREATE INDEX seal_keys_uri ON seal_keys (key_uri);"
    "CREATE TRIGGER seal_keys_status AFTER UPDATE OF status ON seal_keys"
    " BEGIN"
    " UPDATE generations SET value = value + 1 WHERE name = 'certs';"
    " END;"
    "ALTER TABLE keys ADD COLUMN destroyed_at INTEGER;"
    "INSERT INTO generations (name, value) VALUES ('seals', 1);"
    "CREATE TRIGGER seals_changed AFTER UPDATE ON seals BEGIN"
    " UPDATE generations SET value = value + 1 WHERE name = 'seals';"
    " END;"
    "CREATE TRIGGER seals_added AFTER INSERT ON seals BEGIN"
    " UPDATE generations SET value = value + 1 WHERE name = 'seals';"
    " END;"
    "CREATE TRIGGER seals_rekeyed AFTER UPDATE OF cert_der ON seals BEGIN"
    " UPDATE generations SET value = value + 1 WHERE name = 'certs';"
    " END;"
    "PRAGMA user_version = 5;",
    /*
     * 6: a "clients" generation that certsvcd's principal cache (client.c)
     * compares with on every request, so a client revoked by certsvc-admin
     * is refused by certsvcd at once.  Only changes to existing rows move
     * it: a new client (every issuance adds a holder) invalidates nothing.
     */
    "INSERT INTO generations (name, value) VALUES ('clients', 1);"
    "CREATE TRIGGER clients_changed AFTER UPDATE ON clients BEGIN"
    " UPDATE generations SET value = value + 1 WHERE name = 'clients';"
    " END;"
    "CREATE TRIGGER clients_deleted AFTER DELETE ON clients BEGIN"
    " UPDATE generations SET value = value + 1 WHERE name = 'clients';"
    " END;"
    "PRAGMA user_version = 6;",
};

#define STORE_SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* --- statements ---------------------------------------------------------- */

enum stmt_id {
	STMT_BEGIN,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_SAVEPOINT,
	STMT_RELEASE,
	STMT_ROLLBACK_TO,
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
	STMT_DEPT_INSERT,
	STMT_DEPT_GET,
	STMT_DEPT_LIST,
	STMT_LTYPE_INSERT,
	STMT_LTYPE_DEPT_INSERT,
	STMT_LTYPE_GET,
	STMT_LTYPE_LIST,
	STMT_LTYPE_DEPT_ALLOWED,
	STMT_SEAL_INSERT,
	STMT_SEAL_GET,
	STMT_SEAL_LIST,
	STMT_SEAL_LIST_DEPT,
	STMT_SEAL_REVOKE,
	STMT_SEAL_STATUS,
	STMT_CLIENT_INSERT,
	STMT_CLIENT_BY_HASH,
	STMT_CLIENT_GET,
	STMT_CLIENT_LIST,
	STMT_CLIENT_REVOKE,
	STMT_CLIENT_STATUS,
	STMT_LICENCE_INSERT,
	STMT_LICENCE_GET,
	STMT_LICENCE_GET_LATEST,
	STMT_LICENCE_LIST_HOLDER,
	STMT_LICENCE_LIST_DEPT,
	STMT_SERIAL_RESERVE,
	STMT_IDEM_GET,
	STMT_IDEM_INSERT,
	STMT_COUNT
};

_Static_assert(STMT_COUNT <= STORE_STMT_FIXED, "raise STORE_STMT_FIXED");

/* Columns read by the row_* fillers, in their order. */
#define SEAL_COLS                                                              \
	"id, dept, name, alg, key_uri, status, reason, created,"               \
	" coalesce(revoked_at, 0), image_sha256"
#define CLIENT_COLS                                                            \
	"id, name, role, coalesce(dept, ''), coalesce(holder_ref, ''),"        \
	" secret_hash, status, created, coalesce(revoked_at, 0)"
#define LICENCE_COLS                                                           \
	"id, version, type, dept, seal_id, holder_ref, status, issued_at,"     \
	" valid_from, valid_until, status_reason, status_changed,"             \
	" coalesce(status_list, -1), coalesce(status_idx, -1)"

/* The SQL of each statement, and the operation named in error messages. */
static const struct {
	const char *sql;
	const char *op;
} stmt_sql[STMT_COUNT] = {
    [STMT_BEGIN] = {"BEGIN IMMEDIATE", "begin transaction"},
    [STMT_COMMIT] = {"COMMIT", "commit transaction"},
    [STMT_ROLLBACK] = {"ROLLBACK", "roll back transaction"},
    [STMT_SAVEPOINT] = {"SAVEPOINT store_sp", "open savepoint"},
    [STMT_RELEASE] = {"RELEASE store_sp", "release savepoint"},
    [STMT_ROLLBACK_TO] = {"ROLLBACK TO store_sp", "roll back to savepoint"},
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
    [STMT_DEPT_INSERT] = {"INSERT INTO departments (code, name, region,"
                          " created) VALUES (?1, ?2, ?3, ?4)",
        "insert department"},
    [STMT_DEPT_GET] = {"SELECT code, name, region, created FROM departments"
                       " WHERE code = ?1",
        "read department"},
    [STMT_DEPT_LIST] = {"SELECT code, name, region, created FROM departments"
                        " ORDER BY code",
        "list departments"},
    [STMT_LTYPE_INSERT] = {"INSERT INTO licence_types (code, name,"
                           " definition, created) VALUES (?1, ?2, ?3, ?4)",
        "insert licence type"},
    [STMT_LTYPE_DEPT_INSERT] = {"INSERT INTO type_departments (type_code,"
                                " dept_code) VALUES (?1, ?2)",
        "insert issuing department"},
    [STMT_LTYPE_GET] = {"SELECT code, name, definition, created"
                        " FROM licence_types WHERE code = ?1",
        "read licence type"},
    [STMT_LTYPE_LIST] = {"SELECT code, name, definition, created"
                         " FROM licence_types ORDER BY code",
        "list licence types"},
    [STMT_LTYPE_DEPT_ALLOWED] = {"SELECT 1 FROM type_departments"
                                 " WHERE type_code = ?1 AND dept_code = ?2",
        "read issuance list"},
    [STMT_SEAL_INSERT] = {"INSERT INTO seals (id, dept, name, alg, key_uri,"
                          " cert_der, image, image_sha256, status, reason,"
                          " created, revoked_at) VALUES (?1, ?2, ?3, ?4,"
                          " ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        "insert seal"},
    [STMT_SEAL_GET] = {"SELECT " SEAL_COLS ", cert_der, image FROM seals"
                       " WHERE id = ?1",
        "read seal"},
    [STMT_SEAL_LIST] = {"SELECT " SEAL_COLS " FROM seals"
                        " ORDER BY created DESC, rowid DESC",
        "list seals"},
    [STMT_SEAL_LIST_DEPT] = {"SELECT " SEAL_COLS " FROM seals WHERE dept = ?1"
                             " ORDER BY created DESC, rowid DESC",
        "list seals"},
    [STMT_SEAL_REVOKE] = {"UPDATE seals SET status = 'revoked', reason = ?2,"
                          " revoked_at = ?3"
                          " WHERE id = ?1 AND status = 'active'",
        "revoke seal"},
    [STMT_SEAL_STATUS] = {"SELECT status FROM seals WHERE id = ?1",
        "read seal status"},
    [STMT_CLIENT_INSERT] = {"INSERT INTO clients (id, name, role, dept,"
                            " holder_ref, secret_hash, status, created,"
                            " revoked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
                            " ?7, ?8, ?9)",
        "insert client"},
    [STMT_CLIENT_BY_HASH] = {"SELECT " CLIENT_COLS " FROM clients"
                             " WHERE secret_hash = ?1",
        "read client"},
    [STMT_CLIENT_GET] = {"SELECT " CLIENT_COLS " FROM clients WHERE id = ?1",
        "read client"},
    [STMT_CLIENT_LIST] = {"SELECT " CLIENT_COLS " FROM clients"
                          " ORDER BY created, rowid",
        "list clients"},
    [STMT_CLIENT_REVOKE] = {"UPDATE clients SET status = 'revoked',"
                            " revoked_at = ?2"
                            " WHERE id = ?1 AND status = 'active'",
        "revoke client"},
    [STMT_CLIENT_STATUS] = {"SELECT status FROM clients WHERE id = ?1",
        "read client status"},
    [STMT_LICENCE_INSERT] = {"INSERT INTO licences (id, version, type, dept,"
                             " seal_id, holder_ref, status, issued_at,"
                             " valid_from, valid_until, document, seal,"
                             " status_list, status_idx, latest)"
                             " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
                             " ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
                             " NOT EXISTS (SELECT 1"
                             " FROM licences WHERE id = ?1 AND version > ?2))",
        "insert licence"},
    [STMT_LICENCE_GET] = {"SELECT " LICENCE_COLS ", document, seal"
                          " FROM licences WHERE id = ?1 AND version = ?2",
        "read licence"},
    [STMT_LICENCE_GET_LATEST] = {"SELECT " LICENCE_COLS ", document, seal"
                                 " FROM licences"
                                 " WHERE id = ?1 AND latest = 1",
        "read licence"},
    [STMT_LICENCE_LIST_HOLDER] = {"SELECT " LICENCE_COLS " FROM licences"
                                  " WHERE holder_ref = ?1 AND latest = 1"
                                  " ORDER BY issued_at DESC, id DESC"
                                  " LIMIT ?2",
        "list licences"},
    [STMT_LICENCE_LIST_DEPT] = {"SELECT " LICENCE_COLS " FROM licences"
                                " WHERE dept = ?1 AND latest = 1"
                                " ORDER BY issued_at DESC, id DESC"
                                " LIMIT ?2",
        "list licences"},
    [STMT_SERIAL_RESERVE] = {"INSERT INTO serials (type, dept, year, next)"
                             " VALUES (?1, ?2, ?3, 1 + ?4)"
                             " ON CONFLICT (type, dept, year)"
                             " DO UPDATE SET next = next + ?4"
                             " RETURNING next - ?4",
        "reserve serial numbers"},
    [STMT_IDEM_GET] = {"SELECT req_hash, licence_id, version"
                       " FROM idempotency WHERE client = ?1 AND key = ?2",
        "read idempotency key"},
    [STMT_IDEM_INSERT] = {"INSERT INTO idempotency (client, key, req_hash,"
                          " licence_id, version, created)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        "insert idempotency key"},
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
	for (i = 0; i <= STORE_XSTMT_MAX; i++) {
		sqlite3_finalize(c->xstmt[i]);
		c->xstmt[i] = NULL;
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
void
store_conn_put(struct store *st, struct store_conn *c, bool writer)
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
enum cs_rc
store_conn_get(
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
			store_conn_put(st, c, writer);
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
 * Map a failed sqlite call r of statement id to CS_ERR_CONFLICT (unique key),
 * CS_ERR_NOT_FOUND (a foreign key names a row that does not exist) or
 * CS_ERR_STORE.  The message names the operation, never the values.
 */
enum cs_rc
store_op_fail(struct store_conn *c, const char *op, int r, struct cs_err *err)
{
	if (r == SQLITE_CONSTRAINT_PRIMARYKEY || r == SQLITE_CONSTRAINT_UNIQUE)
		return cs_err_set(
		    err, CS_ERR_CONFLICT, "cannot %s: it exists", op);
	if (r == SQLITE_CONSTRAINT_FOREIGNKEY)
		return cs_err_set(err, CS_ERR_NOT_FOUND,
		    "cannot %s: it refers to a row that does not exist", op);
	/* errmsg is stale when r did not come from this connection. */
	cs_log(CS_LOG_WARN, "store: cannot %s: %s", op,
	    sqlite3_extended_errcode(c->db) == r ? sqlite3_errmsg(c->db)
	                                         : sqlite3_errstr(r));
	return cs_err_set(
	    err, CS_ERR_STORE, "cannot %s: %s", op, sqlite3_errstr(r));
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
	r = id == STMT_ROLLBACK || id == STMT_ROLLBACK_TO ? sqlite3_step(s)
	                                                  : stmt_step(st, s);
	if (r != SQLITE_DONE)
		rc = store_op_fail(c, stmt_sql[id].op, r, err);
	stmt_done(s);
	return rc;
}

int
store_bind_str(sqlite3_stmt *s, int i, const char *p)
{
	if (p == NULL)
		return sqlite3_bind_null(s, i);
	return sqlite3_bind_text64(
	    s, i, p, strlen(p), SQLITE_STATIC, SQLITE_UTF8);
}

/* Copy text column i into dst of size dstsz, truncated if need be. */
void
store_col_copy(sqlite3_stmt *s, int i, char *dst, size_t dstsz)
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
		rc = store_op_fail(c, stmt_sql[STMT_VERSION].op,
		    r == SQLITE_DONE ? SQLITE_ERROR : r, err);
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

	if (store_conn_get(st, false, &c, NULL) != CS_OK)
		return false;
	if (stmt_get(c, STMT_PING, &s, NULL) == CS_OK) {
		ok = stmt_step(st, s) == SQLITE_ROW;
		stmt_done(s);
	}
	store_conn_put(st, c, false);
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
	rc = store_conn_get(st, true, &tx->c, err);
	if (rc != CS_OK)
		goto out;
	rc = stmt_exec(st, tx->c, STMT_BEGIN, err);
	if (rc != CS_OK)
		goto out;
	*out = tx;
	tx = NULL;
out:
	if (tx != NULL && tx->c != NULL)
		store_conn_put(st, tx->c, true);
	free(tx);
	return rc;
}

/*
 * Roll back what is still open, hand the connection back and free tx.  A
 * connection that cannot roll back is in an unknown state: close it, and
 * store_conn_get() opens a fresh one next time.
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
	store_conn_put(tx->st, c, true);
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

/*
 * Savepoints: the unit of group commit.  licence.c writes several
 * issuances in one transaction, each between store_tx_savepoint() and
 * store_tx_release(); one that fails is undone with store_tx_rollback_to()
 * (ROLLBACK TO + RELEASE), which also clears tx->failed: the transaction
 * is then exactly as it was when the savepoint was opened, which was a
 * usable state (a savepoint is only opened in a usable transaction), so
 * the next issuance can go on.  The audit chain stays continuous: the
 * rolled-back event's seq is free again and store_audit_append() of the
 * next one reads the head inside the transaction, so it takes that seq.
 *
 * The undo statements are never failed on purpose by
 * store_test_fail_after(), like ROLLBACK: they are the way out of a
 * failure.  After some errors (I/O, disk full, out of memory) SQLite rolls
 * the whole transaction back by itself; a savepoint cannot bring that
 * back, and later statements would run in autocommit mode.  So when an
 * undo fails, or the connection is no longer inside a transaction, the
 * transaction is marked broken: it stays failed, and store_tx_commit()
 * rolls back and reports it.
 */
enum cs_rc
store_tx_savepoint(struct store_tx *tx, struct cs_err *err)
{
	enum cs_rc rc;

	rc = store_tx_usable(tx, err);
	if (rc != CS_OK)
		return rc;
	rc = stmt_exec(tx->st, tx->c, STMT_SAVEPOINT, err);
	if (rc != CS_OK) {
		/*
		 * Nothing was opened; the tx is as it was, unless SQLite
		 * ended it (then only a rollback helps).
		 */
		if (sqlite3_get_autocommit(tx->c->db))
			tx->failed = tx->broken = true;
		return rc;
	}
	tx->savepoints++;
	return CS_OK;
}

enum cs_rc
store_tx_release(struct store_tx *tx, struct cs_err *err)
{
	enum cs_rc rc;

	if (tx == NULL)
		return cs_err_set(err, CS_ERR_INVALID, "no transaction");
	if (tx->savepoints == 0)
		return cs_err_set(err, CS_ERR_INVALID, "no savepoint open");
	if (tx->failed)
		return cs_err_set(err, CS_ERR_STORE,
		    "failed inside the savepoint: roll back to it");
	rc = stmt_exec(tx->st, tx->c, STMT_RELEASE, err);
	if (rc != CS_OK) {
		/* Still open: the caller rolls back to it. */
		tx->failed = true;
		return rc;
	}
	tx->savepoints--;
	return CS_OK;
}

enum cs_rc
store_tx_rollback_to(struct store_tx *tx, struct cs_err *err)
{
	sqlite3_stmt *s;
	enum cs_rc rc;
	int r;

	if (tx == NULL)
		return cs_err_set(err, CS_ERR_INVALID, "no transaction");
	if (tx->savepoints == 0)
		return cs_err_set(err, CS_ERR_INVALID, "no savepoint open");
	rc = tx->broken ? cs_err_set(err, CS_ERR_STORE,
	                      "transaction broken by an earlier failure")
	                : stmt_exec(tx->st, tx->c, STMT_ROLLBACK_TO, err);
	if (rc == CS_OK)
		rc = stmt_get(tx->c, STMT_RELEASE, &s, err);
	/* SQLite may have ended the whole transaction after an error. */
	if (rc == CS_OK && sqlite3_get_autocommit(tx->c->db))
		rc = cs_err_set(
		    err, CS_ERR_STORE, "transaction ended by the failure");
	if (rc == CS_OK) {
		/* Not stmt_step(): part of the way out, never failed on
		 * purpose. */
		r = sqlite3_step(s);
		if (r != SQLITE_DONE)
			rc = store_op_fail(
			    tx->c, stmt_sql[STMT_RELEASE].op, r, err);
		stmt_done(s);
	}
	tx->savepoints--;
	if (rc != CS_OK) {
		tx->failed = tx->broken = true;
		if (rc != CS_ERR_NOMEM) {
			rc = CS_ERR_STORE;
			if (err != NULL)
				err->rc = rc;
		}
		return rc;
	}
	tx->failed = false;
	return CS_OK;
}

/* Refuse work in a missing or failed transaction. */
enum cs_rc
store_tx_usable(struct store_tx *tx, struct cs_err *err)
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
	rc = store_tx_usable(tx, err);
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
		rc = store_op_fail(tx->c, stmt_sql[STMT_AUDIT_LAST].op, r, err);
		goto out;
	}
	stmt_done(s);
	s = NULL;

	now = (int64_t)time(NULL);
	/* ASCII events (most) skip jansson: store_sqlite_audit.c. */
	if (!store_audit_fast_hash(
	        tx->st->sha256, prev, last + 1, now, f, hash)) {
		rc = audit_encode(last + 1, now, f, &enc, err);
		if (rc != CS_OK)
			goto out;
		rc = audit_hash(tx->st->sha256, prev, enc, hash, err);
		if (rc != CS_OK)
			goto out;
	}

	rc = stmt_get(tx->c, STMT_AUDIT_INSERT, &s, err);
	if (rc != CS_OK)
		goto out;
	r = sqlite3_bind_int64(s, 1, last + 1);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(s, 2, now);
	for (i = 0; i < AUDIT_NSTR && r == SQLITE_OK; i++)
		r = store_bind_str(s, 3 + i, f[i].p);
	if (r == SQLITE_OK)
		r = sqlite3_bind_blob(
		    s, 9, prev, STORE_HASH_LEN, SQLITE_STATIC);
	if (r == SQLITE_OK)
		r = sqlite3_bind_blob(
		    s, 10, hash, STORE_HASH_LEN, SQLITE_STATIC);
	if (r == SQLITE_OK)
		r = stmt_step(tx->st, s);
	if (r != SQLITE_DONE) {
		rc = store_op_fail(
		    tx->c, stmt_sql[STMT_AUDIT_INSERT].op, r, err);
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
	rc = store_conn_get(st, false, &c, err);
	if (rc != CS_OK)
		return rc;
	rc = stmt_get(c, STMT_AUDIT_HEAD, &s, err);
	if (rc != CS_OK)
		goto out;
	r = stmt_step(st, s);
	if (r != SQLITE_ROW) {
		rc = store_op_fail(c, stmt_sql[STMT_AUDIT_HEAD].op, r, err);
		goto out;
	}
	*count = sqlite3_column_int64(s, 0);
	*last_seq = sqlite3_column_int64(s, 1);
out:
	stmt_done(s);
	store_conn_put(st, c, false);
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
	store_col_copy(s, 2, row->actor, sizeof(row->actor));
	store_col_copy(s, 3, row->action, sizeof(row->action));
	store_col_copy(s, 4, row->object, sizeof(row->object));
	store_col_copy(s, 5, row->outcome, sizeof(row->outcome));
	store_col_copy(s, 6, row->request_id, sizeof(row->request_id));
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
	rc = store_conn_get(st, false, &c, err);
	if (rc != CS_OK)
		return rc;
	rc = stmt_get(c, STMT_AUDIT_SCAN, &s, err);
	if (rc != CS_OK)
		goto out;
	r = sqlite3_bind_int64(s, 1, from);
	if (r != SQLITE_OK) {
		rc = store_op_fail(c, stmt_sql[STMT_AUDIT_SCAN].op, r, err);
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
		rc = store_op_fail(c, stmt_sql[STMT_AUDIT_SCAN].op, r, err);
out:
	stmt_done(s);
	store_conn_put(st, c, false);
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
	/* Most rows hold: shown without jansson (store_sqlite_audit.c). */
	if (store_audit_fast_match(md, prev, expect, sqlite3_column_int64(s, 1),
	        f, sqlite3_column_blob(s, 9))) {
		memcpy(prev, sqlite3_column_blob(s, 9), STORE_HASH_LEN);
		*good = true;
		return CS_OK;
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
	rc = store_conn_get(st, false, &c, err);
	if (rc != CS_OK)
		return rc;
	rc = stmt_get(c, STMT_AUDIT_SCAN, &s, err);
	if (rc != CS_OK)
		goto out;
	r = sqlite3_bind_int64(s, 1, INT64_MIN);
	if (r != SQLITE_OK) {
		rc = store_op_fail(c, stmt_sql[STMT_AUDIT_SCAN].op, r, err);
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
		rc = store_op_fail(c, stmt_sql[STMT_AUDIT_SCAN].op, r, err);
	}
out:
	stmt_done(s);
	store_conn_put(st, c, false);
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

	rc = store_tx_usable(tx, err);
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
	r = store_bind_str(s, 1, name);
	if (r == SQLITE_OK)
		r = store_bind_str(s, 2, key_uri);
	if (r == SQLITE_OK)
		r = sqlite3_bind_blob64(s, 3, der, derlen, SQLITE_STATIC);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(s, 4, (int64_t)time(NULL));
	if (r == SQLITE_OK)
		r = stmt_step(tx->st, s);
	if (r != SQLITE_DONE) {
		rc = store_op_fail(tx->c, stmt_sql[STMT_CA_INSERT].op, r, err);
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
	rc = store_conn_get(st, false, &c, err);
	if (rc != CS_OK)
		return rc;
	rc = stmt_get(c, STMT_CA_GET, &s, err);
	if (rc != CS_OK)
		goto out;
	r = store_bind_str(s, 1, name);
	if (r == SQLITE_OK)
		r = stmt_step(st, s);
	if (r == SQLITE_DONE) {
		rc = cs_err_set(
		    err, CS_ERR_NOT_FOUND, "ca '%s' not found", name);
		goto out;
	}
	if (r != SQLITE_ROW) {
		rc = store_op_fail(c, stmt_sql[STMT_CA_GET].op, r, err);
		goto out;
	}
	cs_strlcpy(ca->name, name, sizeof(ca->name));
	store_col_copy(s, 0, ca->key_uri, sizeof(ca->key_uri));
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
	store_conn_put(st, c, false);
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

	rc = store_tx_usable(tx, err);
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
	r = store_bind_str(s, 1, key->uri);
	if (r == SQLITE_OK)
		r = store_bind_str(s, 2, key->label);
	if (r == SQLITE_OK)
		r = store_bind_str(s, 3, key->alg);
	if (r == SQLITE_OK)
		r = store_bind_str(s, 4, key->purpose);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(s, 5,
		    key->created > 0 ? key->created : (int64_t)time(NULL));
	if (r == SQLITE_OK)
		r = stmt_step(tx->st, s);
	if (r != SQLITE_DONE) {
		rc = store_op_fail(tx->c, stmt_sql[STMT_KEY_INSERT].op, r, err);
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
	rc = store_conn_get(st, false, &c, err);
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
		store_col_copy(s, 0, v[len].uri, sizeof(v[len].uri));
		store_col_copy(s, 1, v[len].label, sizeof(v[len].label));
		store_col_copy(s, 2, v[len].alg, sizeof(v[len].alg));
		store_col_copy(s, 3, v[len].purpose, sizeof(v[len].purpose));
		v[len].created = sqlite3_column_int64(s, 4);
		len++;
	}
	if (r != SQLITE_DONE) {
		rc = store_op_fail(c, stmt_sql[STMT_KEY_LIST].op, r, err);
		goto out;
	}
	*keys = v;
	*n = len;
	v = NULL;
out:
	stmt_done(s);
	store_conn_put(st, c, false);
	free(v);
	return rc;
}

/* --- issue #4: helpers --------------------------------------------------- */

#define STORE_DEFINITION_MAX (256 * 1024)
#define STORE_BLOB_MAX (4 * 1024 * 1024)
#define STORE_LTYPE_DEPTS_MAX 1024
#define STORE_SERIAL_BLOCK_MAX 1000000

void
store_q_end(struct store_q *q)
{
	stmt_done(q->s);
	q->s = NULL;
	if (q->pooled && q->c != NULL)
		store_conn_put(q->st, q->c, false);
	q->c = NULL;
	q->pooled = false;
}

static enum cs_rc
query_start(struct store *st, struct store_tx *tx, enum stmt_id id,
    struct store_q *q, struct cs_err *err)
{
	enum cs_rc rc;

	memset(q, 0, sizeof(*q));
	q->op = stmt_sql[id].op;
	if (tx != NULL) {
		q->st = tx->st;
		q->c = tx->c;
	} else {
		q->st = st;
		rc = store_conn_get(st, false, &q->c, err);
		if (rc != CS_OK)
			return rc;
		q->pooled = true;
	}
	rc = stmt_get(q->c, id, &q->s, err);
	if (rc != CS_OK)
		store_q_end(q);
	return rc;
}

/*
 * Slots handed out to struct store_sql definitions.  Process-wide like the
 * definitions themselves (static in their files): a slot means the same
 * statement in every connection of every store.
 */
static atomic_int xstmt_slots;

/* def's slot in the statement caches, assigned on first use. */
static int
xstmt_slot(struct store_sql *def)
{
	int slot = atomic_load(&def->slot), want, none = 0;

	if (slot != 0)
		return slot;
	want = atomic_fetch_add(&xstmt_slots, 1) + 1;
	if (want > STORE_XSTMT_MAX)
		return -1;
	/* A racing thread may win: then its slot is the one (ours unused). */
	if (!atomic_compare_exchange_strong(&def->slot, &none, want))
		return none;
	return want;
}

enum cs_rc
store_q_begin(struct store *st, struct store_tx *tx, struct store_sql *def,
    struct store_q *q, struct cs_err *err)
{
	enum cs_rc rc;
	int slot, r;

	memset(q, 0, sizeof(*q));
	q->op = def->op;
	slot = xstmt_slot(def);
	if (slot < 0)
		return cs_err_set(err, CS_ERR_STORE,
		    "more than %d store statements", STORE_XSTMT_MAX);
	if (tx != NULL) {
		q->st = tx->st;
		q->c = tx->c;
	} else {
		q->st = st;
		rc = store_conn_get(st, false, &q->c, err);
		if (rc != CS_OK)
			return rc;
		q->pooled = true;
	}
	if (q->c->xstmt[slot] == NULL) {
		r = sqlite3_prepare_v3(q->c->db, def->sql, -1,
		    SQLITE_PREPARE_PERSISTENT, &q->c->xstmt[slot], NULL);
		if (r != SQLITE_OK) {
			cs_log(CS_LOG_ERR, "store: cannot prepare '%s': %s",
			    def->op, sqlite3_errmsg(q->c->db));
			q->c->xstmt[slot] = NULL;
			store_q_end(q);
			return cs_err_set(err, CS_ERR_STORE, "cannot %s: %s",
			    def->op, sqlite3_errstr(r));
		}
	}
	q->s = q->c->xstmt[slot];
	return CS_OK;
}

int
store_q_step(struct store_q *q)
{
	return stmt_step(q->st, q->s);
}

enum cs_rc
store_q_fail(struct store_q *q, int r, struct cs_err *err)
{
	/* A statement that ended without its row is a store failure too. */
	if (r == SQLITE_DONE || r == SQLITE_ROW || r == SQLITE_OK)
		r = SQLITE_ERROR;
	return store_op_fail(q->c, q->op, r, err);
}

/*
 * Check a text argument against its column's size sz (NUL included): it
 * must end within sz bytes and, unless optional, not be empty.  NULL is
 * the empty string.  what names the field in the message.
 */
enum cs_rc
store_text_check(const char *what, const char *s, size_t sz, bool optional,
    struct cs_err *err)
{
	size_t n = s == NULL ? 0 : strnlen(s, sz);

	if (n == sz || (n == 0 && !optional))
		return cs_err_set(err, CS_ERR_INVALID,
		    "%s must have %d to %zu bytes", what, optional ? 0 : 1,
		    sz - 1);
	return CS_OK;
}

/* Bind p, or SQL NULL when p is NULL or empty. */
int
store_bind_opt(sqlite3_stmt *s, int i, const char *p)
{
	return store_bind_str(s, i, p != NULL && *p != '\0' ? p : NULL);
}

/* Bind the contents of b (an empty blob when b holds nothing). */
int
store_bind_buf(sqlite3_stmt *s, int i, const struct buf *b)
{
	if (b == NULL || b->len == 0)
		return sqlite3_bind_zeroblob(s, i, 0);
	return sqlite3_bind_blob64(s, i, b->data, b->len, SQLITE_STATIC);
}

/* *out = a copy of blob column i (NULL for SQL NULL when nullable). */
enum cs_rc
store_col_buf(
    sqlite3_stmt *s, int i, bool nullable, struct buf **out, struct cs_err *err)
{
	const void *p;
	size_t n;

	*out = NULL;
	if (nullable && sqlite3_column_type(s, i) == SQLITE_NULL)
		return CS_OK;
	p = sqlite3_column_blob(s, i);
	n = (size_t)sqlite3_column_bytes(s, i);
	*out = buf_from(p != NULL ? p : "", p != NULL ? n : 0);
	if (*out == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	return CS_OK;
}

/* Copy a blob column of exactly len bytes; false when it is not one. */
bool
store_col_fixed(sqlite3_stmt *s, int i, uint8_t *dst, size_t len)
{
	const void *p = sqlite3_column_blob(s, i);

	if (p == NULL || (size_t)sqlite3_column_bytes(s, i) != len)
		return false;
	memcpy(dst, p, len);
	return true;
}

/*
 * Make room in the array v (cap elements of elsz bytes) for element len.
 * Returns the array, moved perhaps, or NULL with *rc set (v unchanged).
 */
static void *
store_list_grow(void *v, size_t *cap, size_t len, size_t elsz, const char *what,
    enum cs_rc *rc, struct cs_err *err)
{
	void *nv;
	size_t ncap;

	if (len < *cap)
		return v;
	if (*cap >= STORE_LIST_MAX) {
		*rc = cs_err_set(
		    err, CS_ERR_STORE, "more than %d %s", STORE_LIST_MAX, what);
		return NULL;
	}
	ncap = *cap == 0 ? 16 : *cap * 2;
	if (ncap > STORE_LIST_MAX)
		ncap = STORE_LIST_MAX;
	nv = reallocarray(v, ncap, elsz);
	if (nv == NULL) {
		*rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		return NULL;
	}
	*cap = ncap;
	return nv;
}

enum cs_rc
store_q_collect(struct store_q *q, int r, size_t elsz, const char *what,
    enum cs_rc (*row)(sqlite3_stmt *s, void *el, struct cs_err *err),
    void (*release)(void *el), void **out, size_t *n, struct cs_err *err)
{
	unsigned char *v = NULL, *nv;
	size_t len = 0, cap = 0, i;
	enum cs_rc rc = CS_OK;

	*out = NULL;
	*n = 0;
	while (r == SQLITE_OK && (r = store_q_step(q)) == SQLITE_ROW) {
		nv = store_list_grow(v, &cap, len, elsz, what, &rc, err);
		if (nv == NULL)
			goto fail;
		v = nv;
		memset(v + len * elsz, 0, elsz);
		rc = row(q->s, v + len * elsz, err);
		len++; /* a row function leaves a releasable element anyway */
		if (rc != CS_OK)
			goto fail;
		r = SQLITE_OK;
	}
	if (r != SQLITE_DONE) {
		rc = store_q_fail(q, r, err);
		goto fail;
	}
	*out = v;
	*n = len;
	return CS_OK;
fail:
	for (i = 0; release != NULL && i < len; i++)
		release(v + i * elsz);
	free(v);
	return rc;
}

int64_t
store_time_or_now(int64_t t)
{
	return t > 0 ? t : (int64_t)time(NULL);
}

/*
 * Revoke row id with statement rev (?1 = id, then the caller's bindings
 * already made), then tell "not found" from "already revoked" with the
 * status statement.  noun names the object in messages.
 */
static enum cs_rc
revoke_finish(struct store_tx *tx, struct store_q *q, const char *noun,
    const char *id, enum stmt_id status_id, struct cs_err *err)
{
	struct store_q qs;
	enum cs_rc rc;
	int r;

	r = store_q_step(q);
	if (r != SQLITE_DONE)
		return store_q_fail(q, r, err);
	if (sqlite3_changes(tx->c->db) == 1)
		return CS_OK;
	rc = query_start(NULL, tx, status_id, &qs, err);
	if (rc != CS_OK)
		return rc;
	r = store_bind_str(qs.s, 1, id);
	if (r == SQLITE_OK)
		r = store_q_step(&qs);
	if (r == SQLITE_ROW)
		rc = cs_err_set(err, CS_ERR_CONFLICT,
		    "%s '%s' is revoked already", noun, id);
	else if (r == SQLITE_DONE)
		rc = cs_err_set(
		    err, CS_ERR_NOT_FOUND, "%s '%s' not found", noun, id);
	else
		rc = store_q_fail(&qs, r, err);
	store_q_end(&qs);
	return rc;
}

/* --- departments --------------------------------------------------------- */

enum cs_rc
store_dept_put(
    struct store_tx *tx, const struct store_dept *d, struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	rc = store_tx_usable(tx, err);
	if (rc != CS_OK)
		return rc;
	if (d == NULL) {
		rc = cs_err_set(err, CS_ERR_INVALID, "no department");
		goto out;
	}
	rc = store_text_check(
	    "department code", d->code, sizeof(d->code), false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "department name", d->name, sizeof(d->name), false, err);
	if (rc == CS_OK)
		rc = store_text_check("department region", d->region,
		    sizeof(d->region), false, err);
	if (rc != CS_OK)
		goto out;
	rc = query_start(NULL, tx, STMT_DEPT_INSERT, &q, err);
	if (rc != CS_OK)
		goto out;
	r = store_bind_str(q.s, 1, d->code);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 2, d->name);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 3, d->region);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 4, store_time_or_now(d->created));
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r != SQLITE_DONE) {
		rc = store_q_fail(&q, r, err);
		if (rc == CS_ERR_CONFLICT)
			rc = cs_err_set(err, CS_ERR_CONFLICT,
			    "department '%s' exists already", d->code);
	}
out:
	store_q_end(&q);
	if (rc != CS_OK)
		tx->failed = true;
	return rc;
}

static void
row_dept(sqlite3_stmt *s, struct store_dept *d)
{
	memset(d, 0, sizeof(*d));
	store_col_copy(s, 0, d->code, sizeof(d->code));
	store_col_copy(s, 1, d->name, sizeof(d->name));
	store_col_copy(s, 2, d->region, sizeof(d->region));
	d->created = sqlite3_column_int64(s, 3);
}

enum cs_rc
store_dept_get(struct store *st, const char *code, struct store_dept *d,
    struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	memset(d, 0, sizeof(*d));
	rc = store_text_check(
	    "department code", code, STORE_CODE_MAX, false, err);
	if (rc != CS_OK)
		return rc;
	rc = query_start(st, NULL, STMT_DEPT_GET, &q, err);
	if (rc != CS_OK)
		return rc;
	r = store_bind_str(q.s, 1, code);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r == SQLITE_ROW)
		row_dept(q.s, d);
	else if (r == SQLITE_DONE)
		rc = cs_err_set(
		    err, CS_ERR_NOT_FOUND, "department '%s' not found", code);
	else
		rc = store_q_fail(&q, r, err);
	store_q_end(&q);
	return rc;
}

STORE_ROW_FN(row_dept_el, row_dept, struct store_dept)

enum cs_rc
store_dept_list(
    struct store *st, struct store_dept **out, size_t *n, struct cs_err *err)
{
	struct store_q q = {0};
	void *arr = NULL;
	enum cs_rc rc;

	*out = NULL;
	*n = 0;
	rc = query_start(st, NULL, STMT_DEPT_LIST, &q, err);
	if (rc != CS_OK)
		return rc;
	rc = store_q_collect(&q, SQLITE_OK, sizeof(**out), "departments",
	    row_dept_el, NULL, &arr, n, err);
	store_q_end(&q);
	*out = arr;
	return rc;
}

/* --- licence types ------------------------------------------------------- */

enum cs_rc
store_ltype_put(struct store_tx *tx, const char *code, const char *name,
    const char *definition, const char *const *depts, size_t ndepts,
    struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	size_t i;
	int r;

	rc = store_tx_usable(tx, err);
	if (rc != CS_OK)
		return rc;
	rc = store_text_check(
	    "licence type code", code, STORE_CODE_MAX, false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "licence type name", name, STORE_TEXT_MAX, false, err);
	if (rc == CS_OK)
		rc = store_text_check("licence type definition", definition,
		    STORE_DEFINITION_MAX + 1, false, err);
	if (rc != CS_OK)
		goto out;
	if (depts == NULL || ndepts == 0 || ndepts > STORE_LTYPE_DEPTS_MAX) {
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "licence type must have 1 to %d departments",
		    STORE_LTYPE_DEPTS_MAX);
		goto out;
	}
	for (i = 0; i < ndepts; i++) {
		rc = store_text_check(
		    "department code", depts[i], STORE_CODE_MAX, false, err);
		if (rc != CS_OK)
			goto out;
	}
	rc = query_start(NULL, tx, STMT_LTYPE_INSERT, &q, err);
	if (rc != CS_OK)
		goto out;
	r = store_bind_str(q.s, 1, code);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 2, name);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 3, definition);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 4, (int64_t)time(NULL));
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r != SQLITE_DONE) {
		rc = store_q_fail(&q, r, err);
		if (rc == CS_ERR_CONFLICT)
			rc = cs_err_set(err, CS_ERR_CONFLICT,
			    "licence type '%s' exists already", code);
		goto out;
	}
	store_q_end(&q);
	for (i = 0; i < ndepts; i++) {
		rc = query_start(NULL, tx, STMT_LTYPE_DEPT_INSERT, &q, err);
		if (rc != CS_OK)
			goto out;
		r = store_bind_str(q.s, 1, code);
		if (r == SQLITE_OK)
			r = store_bind_str(q.s, 2, depts[i]);
		if (r == SQLITE_OK)
			r = store_q_step(&q);
		if (r != SQLITE_DONE) {
			rc = store_q_fail(&q, r, err);
			/* The type is ours, so the missing row is the dept. */
			if (rc == CS_ERR_NOT_FOUND)
				rc = cs_err_set(err, CS_ERR_NOT_FOUND,
				    "department '%s' not found", depts[i]);
			else if (rc == CS_ERR_CONFLICT)
				rc = cs_err_set(err, CS_ERR_INVALID,
				    "department '%s' is listed twice",
				    depts[i]);
			goto out;
		}
		store_q_end(&q);
	}
out:
	store_q_end(&q);
	if (rc != CS_OK)
		tx->failed = true;
	return rc;
}

/* Fill lt from a row of code, name, definition, created. */
static enum cs_rc
row_ltype(sqlite3_stmt *s, struct store_ltype *lt, struct cs_err *err)
{
	const unsigned char *p;
	size_t n;

	memset(lt, 0, sizeof(*lt));
	store_col_copy(s, 0, lt->code, sizeof(lt->code));
	store_col_copy(s, 1, lt->name, sizeof(lt->name));
	p = sqlite3_column_text(s, 2);
	n = (size_t)sqlite3_column_bytes(s, 2);
	lt->definition = buf_from(
	    p != NULL ? p : (const unsigned char *)"", p != NULL ? n : 0);
	if (lt->definition == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	lt->created = sqlite3_column_int64(s, 3);
	return CS_OK;
}

enum cs_rc
store_ltype_get(struct store *st, const char *code, struct store_ltype *lt,
    struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	memset(lt, 0, sizeof(*lt));
	rc = store_text_check(
	    "licence type code", code, STORE_CODE_MAX, false, err);
	if (rc != CS_OK)
		return rc;
	rc = query_start(st, NULL, STMT_LTYPE_GET, &q, err);
	if (rc != CS_OK)
		return rc;
	r = store_bind_str(q.s, 1, code);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r == SQLITE_ROW)
		rc = row_ltype(q.s, lt, err);
	else if (r == SQLITE_DONE)
		rc = cs_err_set(
		    err, CS_ERR_NOT_FOUND, "licence type '%s' not found", code);
	else
		rc = store_q_fail(&q, r, err);
	store_q_end(&q);
	if (rc != CS_OK)
		store_ltype_release(lt);
	return rc;
}

void
store_ltype_release(struct store_ltype *lt)
{
	if (lt == NULL)
		return;
	buf_free(lt->definition);
	memset(lt, 0, sizeof(*lt));
}

void
store_ltype_list_free(struct store_ltype *arr, size_t n)
{
	size_t i;

	if (arr == NULL)
		return;
	for (i = 0; i < n; i++)
		store_ltype_release(&arr[i]);
	free(arr);
}

static enum cs_rc
row_ltype_el(sqlite3_stmt *s, void *el, struct cs_err *err)
{
	return row_ltype(s, el, err);
}

static void
ltype_release_el(void *el)
{
	store_ltype_release(el);
}

enum cs_rc
store_ltype_list(
    struct store *st, struct store_ltype **out, size_t *n, struct cs_err *err)
{
	struct store_q q = {0};
	void *arr = NULL;
	enum cs_rc rc;

	*out = NULL;
	*n = 0;
	rc = query_start(st, NULL, STMT_LTYPE_LIST, &q, err);
	if (rc != CS_OK)
		return rc;
	rc = store_q_collect(&q, SQLITE_OK, sizeof(**out), "licence types",
	    row_ltype_el, ltype_release_el, &arr, n, err);
	store_q_end(&q);
	*out = arr;
	return rc;
}

enum cs_rc
store_ltype_dept_allowed(struct store *st, const char *type, const char *dept,
    bool *allowed, struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	*allowed = false;
	rc = store_text_check(
	    "licence type code", type, STORE_CODE_MAX, false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "department code", dept, STORE_CODE_MAX, false, err);
	if (rc != CS_OK)
		return rc;
	rc = query_start(st, NULL, STMT_LTYPE_DEPT_ALLOWED, &q, err);
	if (rc != CS_OK)
		return rc;
	r = store_bind_str(q.s, 1, type);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 2, dept);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r == SQLITE_ROW)
		*allowed = true;
	else if (r != SQLITE_DONE)
		rc = store_q_fail(&q, r, err);
	store_q_end(&q);
	return rc;
}

/* --- seals --------------------------------------------------------------- */

static bool
status_ok(const char *status)
{
	return strcmp(status, "active") == 0 || strcmp(status, "revoked") == 0;
}

/* Check a seal before it is written; *status is what to store. */
static enum cs_rc
seal_check(struct store *st, const struct store_seal *s, const char **status,
    struct cs_err *err)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	enum cs_rc rc;

	rc = store_text_check("seal id", s->id, sizeof(s->id), false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "seal department", s->dept, sizeof(s->dept), false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "seal name", s->name, sizeof(s->name), false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "seal alg", s->alg, sizeof(s->alg), false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "seal key_uri", s->key_uri, sizeof(s->key_uri), false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "seal status", s->status, sizeof(s->status), true, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "seal reason", s->reason, sizeof(s->reason), true, err);
	if (rc != CS_OK)
		return rc;
	if (uri_has_pin(s->key_uri))
		return cs_err_set(
		    err, CS_ERR_INVALID, "seal key_uri must not hold a pin");
	*status = s->status[0] == '\0' ? "active" : s->status;
	if (!status_ok(*status))
		return cs_err_set(err, CS_ERR_INVALID,
		    "seal status must be 'active' or 'revoked'");
	if (s->cert_der == NULL || s->cert_der->len == 0 ||
	    s->cert_der->len > STORE_DER_MAX)
		return cs_err_set(err, CS_ERR_INVALID,
		    "seal certificate must have 1 to %d bytes", STORE_DER_MAX);
	if (!s->has_image)
		return CS_OK;
	if (s->image == NULL || s->image->len == 0 ||
	    s->image->len > STORE_DER_MAX)
		return cs_err_set(err, CS_ERR_INVALID,
		    "seal image must have 1 to %d bytes", STORE_DER_MAX);
	/* The hash is bound into signatures: it must be the image's. */
	if (EVP_Digest(s->image->data, s->image->len, md, &mdlen, st->sha256,
	        NULL) != 1 ||
	    mdlen != STORE_HASH_LEN)
		return cs_err_ossl(
		    err, CS_ERR_CRYPTO, "cannot hash seal image");
	if (memcmp(md, s->image_sha256, STORE_HASH_LEN) != 0)
		return cs_err_set(err, CS_ERR_INVALID,
		    "seal image_sha256 is not the hash of the image");
	return CS_OK;
}

enum cs_rc
store_seal_put(
    struct store_tx *tx, const struct store_seal *s, struct cs_err *err)
{
	struct store_q q = {0};
	const char *status = NULL;
	enum cs_rc rc;
	int r;

	rc = store_tx_usable(tx, err);
	if (rc != CS_OK)
		return rc;
	if (s == NULL) {
		rc = cs_err_set(err, CS_ERR_INVALID, "no seal");
		goto out;
	}
	rc = seal_check(tx->st, s, &status, err);
	if (rc != CS_OK)
		goto out;
	rc = query_start(NULL, tx, STMT_SEAL_INSERT, &q, err);
	if (rc != CS_OK)
		goto out;
	r = store_bind_str(q.s, 1, s->id);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 2, s->dept);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 3, s->name);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 4, s->alg);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 5, s->key_uri);
	if (r == SQLITE_OK)
		r = store_bind_buf(q.s, 6, s->cert_der);
	if (r == SQLITE_OK && s->has_image)
		r = store_bind_buf(q.s, 7, s->image);
	if (r == SQLITE_OK && s->has_image)
		r = sqlite3_bind_blob(
		    q.s, 8, s->image_sha256, STORE_HASH_LEN, SQLITE_STATIC);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 9, status);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 10, s->reason);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 11, store_time_or_now(s->created));
	if (r == SQLITE_OK && s->revoked_at > 0)
		r = sqlite3_bind_int64(q.s, 12, s->revoked_at);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r != SQLITE_DONE) {
		rc = store_q_fail(&q, r, err);
		if (rc == CS_ERR_CONFLICT)
			rc = cs_err_set(err, CS_ERR_CONFLICT,
			    "seal '%s' exists already", s->id);
		else if (rc == CS_ERR_NOT_FOUND)
			rc = cs_err_set(err, CS_ERR_NOT_FOUND,
			    "department '%s' not found", s->dept);
	}
out:
	store_q_end(&q);
	if (rc != CS_OK)
		tx->failed = true;
	return rc;
}

/* Fill s from a row of SEAL_COLS (cert and image not loaded). */
static void
row_seal(sqlite3_stmt *st, struct store_seal *s)
{
	memset(s, 0, sizeof(*s));
	store_col_copy(st, 0, s->id, sizeof(s->id));
	store_col_copy(st, 1, s->dept, sizeof(s->dept));
	store_col_copy(st, 2, s->name, sizeof(s->name));
	store_col_copy(st, 3, s->alg, sizeof(s->alg));
	store_col_copy(st, 4, s->key_uri, sizeof(s->key_uri));
	store_col_copy(st, 5, s->status, sizeof(s->status));
	store_col_copy(st, 6, s->reason, sizeof(s->reason));
	s->created = sqlite3_column_int64(st, 7);
	s->revoked_at = sqlite3_column_int64(st, 8);
	s->has_image = store_col_fixed(st, 9, s->image_sha256, STORE_HASH_LEN);
}

enum cs_rc
store_seal_get(
    struct store *st, const char *id, struct store_seal *s, struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	memset(s, 0, sizeof(*s));
	rc = store_text_check("seal id", id, STORE_CODE_MAX, false, err);
	if (rc != CS_OK)
		return rc;
	rc = query_start(st, NULL, STMT_SEAL_GET, &q, err);
	if (rc != CS_OK)
		return rc;
	r = store_bind_str(q.s, 1, id);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r == SQLITE_ROW) {
		row_seal(q.s, s);
		rc = store_col_buf(q.s, 10, false, &s->cert_der, err);
		if (rc == CS_OK && s->has_image)
			rc = store_col_buf(q.s, 11, false, &s->image, err);
	} else if (r == SQLITE_DONE) {
		rc = cs_err_set(
		    err, CS_ERR_NOT_FOUND, "seal '%s' not found", id);
	} else {
		rc = store_q_fail(&q, r, err);
	}
	store_q_end(&q);
	if (rc != CS_OK)
		store_seal_release(s);
	return rc;
}

void
store_seal_release(struct store_seal *s)
{
	if (s == NULL)
		return;
	buf_free(s->cert_der);
	buf_free(s->image);
	memset(s, 0, sizeof(*s));
}

STORE_ROW_FN(row_seal_el, row_seal, struct store_seal)

enum cs_rc
store_seal_list(struct store *st, const char *dept, struct store_seal **out,
    size_t *n, struct cs_err *err)
{
	struct store_q q = {0};
	void *arr = NULL;
	enum cs_rc rc;
	int r = SQLITE_OK;

	*out = NULL;
	*n = 0;
	if (dept != NULL) {
		rc = store_text_check(
		    "department code", dept, STORE_CODE_MAX, false, err);
		if (rc != CS_OK)
			return rc;
	}
	rc = query_start(st, NULL,
	    dept != NULL ? STMT_SEAL_LIST_DEPT : STMT_SEAL_LIST, &q, err);
	if (rc != CS_OK)
		return rc;
	if (dept != NULL)
		r = store_bind_str(q.s, 1, dept);
	rc = store_q_collect(
	    &q, r, sizeof(**out), "seals", row_seal_el, NULL, &arr, n, err);
	store_q_end(&q);
	*out = arr;
	return rc;
}

enum cs_rc
store_seal_revoke(struct store_tx *tx, const char *id, const char *reason,
    int64_t when, struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	rc = store_tx_usable(tx, err);
	if (rc != CS_OK)
		return rc;
	rc = store_text_check("seal id", id, STORE_CODE_MAX, false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "revocation reason", reason, STORE_TEXT_MAX, true, err);
	if (rc != CS_OK)
		goto out;
	rc = query_start(NULL, tx, STMT_SEAL_REVOKE, &q, err);
	if (rc != CS_OK)
		goto out;
	r = store_bind_str(q.s, 1, id);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 2, reason != NULL ? reason : "");
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 3, store_time_or_now(when));
	if (r != SQLITE_OK) {
		rc = store_q_fail(&q, r, err);
		goto out;
	}
	rc = revoke_finish(tx, &q, "seal", id, STMT_SEAL_STATUS, err);
out:
	store_q_end(&q);
	if (rc != CS_OK)
		tx->failed = true;
	return rc;
}

/* --- clients ------------------------------------------------------------- */

static enum cs_rc
client_check(
    const struct store_client *c, const char **status, struct cs_err *err)
{
	bool issuer, holder;
	enum cs_rc rc;

	rc = store_text_check("client id", c->id, sizeof(c->id), false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "client name", c->name, sizeof(c->name), false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "client role", c->role, sizeof(c->role), false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "client dept", c->dept, sizeof(c->dept), true, err);
	if (rc == CS_OK)
		rc = store_text_check("client holder_ref", c->holder_ref,
		    sizeof(c->holder_ref), true, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "client status", c->status, sizeof(c->status), true, err);
	if (rc != CS_OK)
		return rc;
	issuer = strcmp(c->role, "issuer") == 0;
	holder = strcmp(c->role, "holder") == 0;
	if (!issuer && !holder && strcmp(c->role, "verifier") != 0)
		return cs_err_set(err, CS_ERR_INVALID,
		    "client role must be issuer, verifier or holder");
	if (issuer != (c->dept[0] != '\0'))
		return cs_err_set(err, CS_ERR_INVALID,
		    "client dept is for issuers, and issuers need one");
	if (holder != (c->holder_ref[0] != '\0'))
		return cs_err_set(err, CS_ERR_INVALID,
		    "client holder_ref is for holders, and holders need one");
	*status = c->status[0] == '\0' ? "active" : c->status;
	if (!status_ok(*status))
		return cs_err_set(err, CS_ERR_INVALID,
		    "client status must be 'active' or 'revoked'");
	return CS_OK;
}

enum cs_rc
store_client_put(
    struct store_tx *tx, const struct store_client *c, struct cs_err *err)
{
	struct store_q q = {0};
	const char *status = NULL;
	enum cs_rc rc;
	int r;

	rc = store_tx_usable(tx, err);
	if (rc != CS_OK)
		return rc;
	if (c == NULL) {
		rc = cs_err_set(err, CS_ERR_INVALID, "no client");
		goto out;
	}
	rc = client_check(c, &status, err);
	if (rc != CS_OK)
		goto out;
	rc = query_start(NULL, tx, STMT_CLIENT_INSERT, &q, err);
	if (rc != CS_OK)
		goto out;
	r = store_bind_str(q.s, 1, c->id);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 2, c->name);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 3, c->role);
	if (r == SQLITE_OK)
		r = store_bind_opt(q.s, 4, c->dept);
	if (r == SQLITE_OK)
		r = store_bind_opt(q.s, 5, c->holder_ref);
	if (r == SQLITE_OK)
		r = sqlite3_bind_blob(
		    q.s, 6, c->secret_hash, STORE_HASH_LEN, SQLITE_STATIC);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 7, status);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 8, store_time_or_now(c->created));
	if (r == SQLITE_OK && c->revoked_at > 0)
		r = sqlite3_bind_int64(q.s, 9, c->revoked_at);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r != SQLITE_DONE) {
		rc = store_q_fail(&q, r, err);
		if (rc == CS_ERR_CONFLICT)
			rc = cs_err_set(err, CS_ERR_CONFLICT,
			    "client '%s' or its secret exists already", c->id);
		else if (rc == CS_ERR_NOT_FOUND)
			rc = cs_err_set(err, CS_ERR_NOT_FOUND,
			    "department '%s' not found", c->dept);
	}
out:
	store_q_end(&q);
	if (rc != CS_OK)
		tx->failed = true;
	return rc;
}

/* Fill c from a row of CLIENT_COLS. */
static void
row_client(sqlite3_stmt *s, struct store_client *c)
{
	memset(c, 0, sizeof(*c));
	store_col_copy(s, 0, c->id, sizeof(c->id));
	store_col_copy(s, 1, c->name, sizeof(c->name));
	store_col_copy(s, 2, c->role, sizeof(c->role));
	store_col_copy(s, 3, c->dept, sizeof(c->dept));
	store_col_copy(s, 4, c->holder_ref, sizeof(c->holder_ref));
	(void)store_col_fixed(s, 5, c->secret_hash, STORE_HASH_LEN);
	store_col_copy(s, 6, c->status, sizeof(c->status));
	c->created = sqlite3_column_int64(s, 7);
	c->revoked_at = sqlite3_column_int64(s, 8);
}

/* One client by key (bound by the caller as ?1); what names it. */
static enum cs_rc
client_get_by(struct store *st, enum stmt_id id, const void *key, size_t keylen,
    const char *what, struct store_client *c, struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	memset(c, 0, sizeof(*c));
	rc = query_start(st, NULL, id, &q, err);
	if (rc != CS_OK)
		return rc;
	if (id == STMT_CLIENT_BY_HASH)
		r = sqlite3_bind_blob(q.s, 1, key, (int)keylen, SQLITE_STATIC);
	else
		r = store_bind_str(q.s, 1, key);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r == SQLITE_ROW)
		row_client(q.s, c);
	else if (r == SQLITE_DONE)
		rc = cs_err_set(err, CS_ERR_NOT_FOUND, "%s not found", what);
	else
		rc = store_q_fail(&q, r, err);
	store_q_end(&q);
	return rc;
}

/*
 * The lookup by hash is an ordinary index search, not constant time: it
 * can leak at most how much of a SHA-256 the guess shares with a stored
 * one, which helps no one find a secret.
 */
enum cs_rc
store_client_by_hash(struct store *st, const uint8_t hash[STORE_HASH_LEN],
    struct store_client *c, struct cs_err *err)
{
	memset(c, 0, sizeof(*c));
	if (hash == NULL)
		return cs_err_set(err, CS_ERR_INVALID, "no secret hash");
	return client_get_by(
	    st, STMT_CLIENT_BY_HASH, hash, STORE_HASH_LEN, "client", c, err);
}

enum cs_rc
store_client_get(struct store *st, const char *id, struct store_client *c,
    struct cs_err *err)
{
	char what[STORE_CODE_MAX + 16];
	enum cs_rc rc;

	memset(c, 0, sizeof(*c));
	rc = store_text_check("client id", id, STORE_CODE_MAX, false, err);
	if (rc != CS_OK)
		return rc;
	snprintf(what, sizeof(what), "client '%s'", id);
	return client_get_by(st, STMT_CLIENT_GET, id, 0, what, c, err);
}

STORE_ROW_FN(row_client_el, row_client, struct store_client)

enum cs_rc
store_client_list(
    struct store *st, struct store_client **out, size_t *n, struct cs_err *err)
{
	struct store_q q = {0};
	void *arr = NULL;
	enum cs_rc rc;

	*out = NULL;
	*n = 0;
	rc = query_start(st, NULL, STMT_CLIENT_LIST, &q, err);
	if (rc != CS_OK)
		return rc;
	rc = store_q_collect(&q, SQLITE_OK, sizeof(**out), "clients",
	    row_client_el, NULL, &arr, n, err);
	store_q_end(&q);
	*out = arr;
	return rc;
}

enum cs_rc
store_client_revoke(
    struct store_tx *tx, const char *id, int64_t when, struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	rc = store_tx_usable(tx, err);
	if (rc != CS_OK)
		return rc;
	rc = store_text_check("client id", id, STORE_CODE_MAX, false, err);
	if (rc != CS_OK)
		goto out;
	rc = query_start(NULL, tx, STMT_CLIENT_REVOKE, &q, err);
	if (rc != CS_OK)
		goto out;
	r = store_bind_str(q.s, 1, id);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 2, store_time_or_now(when));
	if (r != SQLITE_OK) {
		rc = store_q_fail(&q, r, err);
		goto out;
	}
	rc = revoke_finish(tx, &q, "client", id, STMT_CLIENT_STATUS, err);
out:
	store_q_end(&q);
	if (rc != CS_OK)
		tx->failed = true;
	return rc;
}

/* --- licences ------------------------------------------------------------ */

static enum cs_rc
licence_check(const struct store_licence *l, struct cs_err *err)
{
	enum cs_rc rc;

	rc = store_text_check("licence id", l->id, sizeof(l->id), false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "licence type", l->type, sizeof(l->type), false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "licence dept", l->dept, sizeof(l->dept), false, err);
	if (rc == CS_OK)
		rc = store_text_check("licence seal_id", l->seal_id,
		    sizeof(l->seal_id), false, err);
	if (rc == CS_OK)
		rc = store_text_check("licence holder_ref", l->holder_ref,
		    sizeof(l->holder_ref), false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "licence status", l->status, sizeof(l->status), false, err);
	if (rc != CS_OK)
		return rc;
	if (l->version < 1)
		return cs_err_set(
		    err, CS_ERR_INVALID, "licence version must be 1 or more");
	if (l->document == NULL || l->document->len == 0 ||
	    l->document->len > STORE_BLOB_MAX)
		return cs_err_set(err, CS_ERR_INVALID,
		    "licence document must have 1 to %d bytes", STORE_BLOB_MAX);
	if (l->seal_der == NULL || l->seal_der->len == 0 ||
	    l->seal_der->len > STORE_BLOB_MAX)
		return cs_err_set(err, CS_ERR_INVALID,
		    "licence seal must have 1 to %d bytes", STORE_BLOB_MAX);
	return CS_OK;
}

/*
 * The insert sets latest when no newer version exists; the trigger
 * licences_supersede then clears it on the older ones (migration 2).
 */
enum cs_rc
store_licence_put(
    struct store_tx *tx, const struct store_licence *l, struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	rc = store_tx_usable(tx, err);
	if (rc != CS_OK)
		return rc;
	if (l == NULL) {
		rc = cs_err_set(err, CS_ERR_INVALID, "no licence");
		goto out;
	}
	rc = licence_check(l, err);
	if (rc != CS_OK)
		goto out;
	rc = query_start(NULL, tx, STMT_LICENCE_INSERT, &q, err);
	if (rc != CS_OK)
		goto out;
	r = store_bind_str(q.s, 1, l->id);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int(q.s, 2, l->version);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 3, l->type);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 4, l->dept);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 5, l->seal_id);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 6, l->holder_ref);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 7, l->status);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 8, store_time_or_now(l->issued_at));
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 9, l->valid_from);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 10, l->valid_until);
	if (r == SQLITE_OK)
		r = store_bind_buf(q.s, 11, l->document);
	if (r == SQLITE_OK)
		r = store_bind_buf(q.s, 12, l->seal_der);
	if (r == SQLITE_OK)
		r = l->has_status_slot
		    ? sqlite3_bind_int64(q.s, 13, l->status_list)
		    : sqlite3_bind_null(q.s, 13);
	if (r == SQLITE_OK)
		r = l->has_status_slot
		    ? sqlite3_bind_int64(q.s, 14, l->status_idx)
		    : sqlite3_bind_null(q.s, 14);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r != SQLITE_DONE) {
		rc = store_q_fail(&q, r, err);
		if (rc == CS_ERR_CONFLICT)
			rc = cs_err_set(err, CS_ERR_CONFLICT,
			    "licence '%s' version %d exists already", l->id,
			    l->version);
		else if (rc == CS_ERR_NOT_FOUND)
			rc = cs_err_set(err, CS_ERR_NOT_FOUND,
			    "licence '%s': its type, department or seal does "
			    "not exist",
			    l->id);
	}
out:
	store_q_end(&q);
	if (rc != CS_OK)
		tx->failed = true;
	return rc;
}

/* Fill l from a row of LICENCE_COLS (document and seal not loaded). */
static void
row_licence(sqlite3_stmt *s, struct store_licence *l)
{
	memset(l, 0, sizeof(*l));
	store_col_copy(s, 0, l->id, sizeof(l->id));
	l->version = sqlite3_column_int(s, 1);
	store_col_copy(s, 2, l->type, sizeof(l->type));
	store_col_copy(s, 3, l->dept, sizeof(l->dept));
	store_col_copy(s, 4, l->seal_id, sizeof(l->seal_id));
	store_col_copy(s, 5, l->holder_ref, sizeof(l->holder_ref));
	store_col_copy(s, 6, l->status, sizeof(l->status));
	l->issued_at = sqlite3_column_int64(s, 7);
	l->valid_from = sqlite3_column_int64(s, 8);
	l->valid_until = sqlite3_column_int64(s, 9);
	store_col_copy(s, 10, l->status_reason, sizeof(l->status_reason));
	l->status_changed = sqlite3_column_int64(s, 11);
	l->status_list = sqlite3_column_int64(s, 12);
	l->status_idx = sqlite3_column_int64(s, 13);
	l->has_status_slot = l->status_list >= 0 && l->status_idx >= 0;
}

enum cs_rc
store_licence_get(struct store *st, const char *id, int version,
    struct store_licence *l, struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	memset(l, 0, sizeof(*l));
	rc = store_text_check(
	    "licence id", id, STORE_LICENCE_ID_MAX, false, err);
	if (rc != CS_OK)
		return rc;
	if (version < 0)
		return cs_err_set(
		    err, CS_ERR_INVALID, "licence version must be 0 or more");
	rc = query_start(st, NULL,
	    version == 0 ? STMT_LICENCE_GET_LATEST : STMT_LICENCE_GET, &q, err);
	if (rc != CS_OK)
		return rc;
	r = store_bind_str(q.s, 1, id);
	if (r == SQLITE_OK && version > 0)
		r = sqlite3_bind_int(q.s, 2, version);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r == SQLITE_ROW) {
		row_licence(q.s, l);
		rc = store_col_buf(q.s, 14, false, &l->document, err);
		if (rc == CS_OK)
			rc = store_col_buf(q.s, 15, false, &l->seal_der, err);
	} else if (r == SQLITE_DONE) {
		if (version == 0)
			rc = cs_err_set(err, CS_ERR_NOT_FOUND,
			    "licence '%s' not found", id);
		else
			rc = cs_err_set(err, CS_ERR_NOT_FOUND,
			    "licence '%s' version %d not found", id, version);
	} else {
		rc = store_q_fail(&q, r, err);
	}
	store_q_end(&q);
	if (rc != CS_OK)
		store_licence_release(l);
	return rc;
}

void
store_licence_release(struct store_licence *l)
{
	if (l == NULL)
		return;
	buf_free(l->document);
	buf_free(l->seal_der);
	memset(l, 0, sizeof(*l));
}

STORE_ROW_FN(row_licence_el, row_licence, struct store_licence)

enum cs_rc
store_licence_list(struct store *st, const char *holder_ref, const char *dept,
    size_t limit, struct store_licence **out, size_t *n, struct cs_err *err)
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
	if (rc != CS_OK)
		return rc;
	if (limit == 0 || limit > STORE_LIST_MAX)
		limit = STORE_LIST_MAX;
	rc = query_start(st, NULL,
	    holder_ref != NULL ? STMT_LICENCE_LIST_HOLDER
	                       : STMT_LICENCE_LIST_DEPT,
	    &q, err);
	if (rc != CS_OK)
		return rc;
	r = store_bind_str(q.s, 1, holder_ref != NULL ? holder_ref : dept);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 2, (int64_t)limit);
	rc = store_q_collect(&q, r, sizeof(**out), "licences", row_licence_el,
	    NULL, &arr, n, err);
	store_q_end(&q);
	*out = arr;
	return rc;
}

/* --- serial numbers ------------------------------------------------------ */

enum cs_rc
store_serial_reserve(struct store_tx *tx, const char *type, const char *dept,
    int year, int count, int64_t *first, struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	*first = 0;
	rc = store_tx_usable(tx, err);
	if (rc != CS_OK)
		return rc;
	rc = store_text_check(
	    "licence type code", type, STORE_CODE_MAX, false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "department code", dept, STORE_CODE_MAX, false, err);
	if (rc != CS_OK)
		goto out;
	if (year < 1970 || year > 9999) {
		rc = cs_err_set(
		    err, CS_ERR_INVALID, "serial year must be 1970 to 9999");
		goto out;
	}
	if (count < 1 || count > STORE_SERIAL_BLOCK_MAX) {
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "serial count must be 1 to %d", STORE_SERIAL_BLOCK_MAX);
		goto out;
	}
	rc = query_start(NULL, tx, STMT_SERIAL_RESERVE, &q, err);
	if (rc != CS_OK)
		goto out;
	r = store_bind_str(q.s, 1, type);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 2, dept);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int(q.s, 3, year);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int(q.s, 4, count);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	/* RETURNING: the row is written by this first step. */
	if (r == SQLITE_ROW) {
		*first = sqlite3_column_int64(q.s, 0);
		goto out;
	}
	rc = store_q_fail(&q, r, err);
	if (rc == CS_ERR_NOT_FOUND)
		rc = cs_err_set(err, CS_ERR_NOT_FOUND,
		    "licence type '%s' or department '%s' not found", type,
		    dept);
	else if (r == SQLITE_CONSTRAINT_CHECK)
		rc = cs_err_set(err, CS_ERR_CONFLICT,
		    "serial numbers of '%s' for '%s' in %d are exhausted", type,
		    dept, year);
out:
	store_q_end(&q);
	if (rc != CS_OK)
		tx->failed = true;
	return rc;
}

/* --- idempotency keys ---------------------------------------------------- */

/*
 * With tx, the read runs on the transaction's connection, so that a
 * writer holding the write lock sees a key a concurrent request could not
 * have added since: check, issue and put are then atomic.  CS_ERR_NOT_FOUND
 * is an answer and leaves tx usable; any other failure spoils it.
 */
enum cs_rc
store_idem_get(struct store *st, struct store_tx *tx, const char *client,
    const char *key, uint8_t req_hash[STORE_HASH_LEN], char *licence_id,
    size_t idsz, int *version, struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	memset(req_hash, 0, STORE_HASH_LEN);
	if (idsz > 0)
		licence_id[0] = '\0';
	*version = 0;
	if (tx != NULL) {
		rc = store_tx_usable(tx, err);
		if (rc != CS_OK)
			return rc;
	}
	rc = store_text_check("client id", client, STORE_CODE_MAX, false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "idempotency key", key, STORE_IDEM_KEY_MAX, false, err);
	if (rc == CS_OK && idsz < STORE_LICENCE_ID_MAX)
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "licence id buffer must have %d bytes",
		    STORE_LICENCE_ID_MAX);
	if (rc != CS_OK)
		goto out;
	rc = query_start(st, tx, STMT_IDEM_GET, &q, err);
	if (rc != CS_OK)
		goto out;
	r = store_bind_str(q.s, 1, client);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 2, key);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r == SQLITE_ROW) {
		if (!store_col_fixed(q.s, 0, req_hash, STORE_HASH_LEN)) {
			rc = cs_err_set(err, CS_ERR_STORE,
			    "idempotency key has a corrupt request hash");
			goto out;
		}
		store_col_copy(q.s, 1, licence_id, idsz);
		*version = sqlite3_column_int(q.s, 2);
	} else if (r == SQLITE_DONE) {
		rc = cs_err_set(
		    err, CS_ERR_NOT_FOUND, "idempotency key not found");
	} else {
		rc = store_q_fail(&q, r, err);
	}
out:
	store_q_end(&q);
	if (tx != NULL && rc != CS_OK && rc != CS_ERR_NOT_FOUND)
		tx->failed = true;
	return rc;
}

enum cs_rc
store_idem_put(struct store_tx *tx, const char *client, const char *key,
    const uint8_t req_hash[STORE_HASH_LEN], const char *licence_id, int version,
    struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	rc = store_tx_usable(tx, err);
	if (rc != CS_OK)
		return rc;
	rc = store_text_check("client id", client, STORE_CODE_MAX, false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "idempotency key", key, STORE_IDEM_KEY_MAX, false, err);
	if (rc == CS_OK)
		rc = store_text_check(
		    "licence id", licence_id, STORE_LICENCE_ID_MAX, false, err);
	if (rc == CS_OK && (req_hash == NULL || version < 1))
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "idempotency key needs a request hash and a version");
	if (rc != CS_OK)
		goto out;
	rc = query_start(NULL, tx, STMT_IDEM_INSERT, &q, err);
	if (rc != CS_OK)
		goto out;
	r = store_bind_str(q.s, 1, client);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 2, key);
	if (r == SQLITE_OK)
		r = sqlite3_bind_blob(
		    q.s, 3, req_hash, STORE_HASH_LEN, SQLITE_STATIC);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 4, licence_id);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int(q.s, 5, version);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 6, (int64_t)time(NULL));
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r != SQLITE_DONE) {
		rc = store_q_fail(&q, r, err);
		if (rc == CS_ERR_CONFLICT)
			rc = cs_err_set(err, CS_ERR_CONFLICT,
			    "idempotency key is used already");
		else if (rc == CS_ERR_NOT_FOUND)
			rc = cs_err_set(err, CS_ERR_NOT_FOUND,
			    "licence '%s' version %d not found", licence_id,
			    version);
	}
out:
	store_q_end(&q);
	if (rc != CS_OK)
		tx->failed = true;
	return rc;
}
