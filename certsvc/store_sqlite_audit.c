/*
 * store_sqlite_audit.c: audit checkpoints (store.h, migration 3).  The
 * table holds what certsvc signed; verification (audit.c) never trusts it
 * and checks each checkpoint's signature and its hash against the chain.
 *
 * Also the fast path of chain verification.  Encoding each event through
 * jansson (audit_encode: an object, eight members, a sorted dump) was
 * three quarters of `audit verify`'s time; store_audit_fast_match() writes
 * the same bytes with a few memcpy.  It needs no proof of being exact: the
 * encoding it writes is injective (quotes and backslashes escaped, null
 * apart from strings, integers in decimal), so a hash equal to the stored
 * one shows the row is the one hashed when it was appended; anything else
 * goes to audit_encode(), which decides.
 *
 * Appending uses it too, but only where it is exact by construction:
 * every text field printable ASCII, for which jansson writes the bytes
 * as they are but for \" and \\ (store_audit_fast_hash).  Any other
 * byte (UTF-8, a control character) takes audit_encode().
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "certsvc/store_int.h"

#define CHECKPOINT_COLS "seq, time, head_hash, cert_serial, document, seal"

static struct store_sql q_put = STORE_SQL(
    "INSERT INTO audit_checkpoints (seq, time, head_hash, cert_serial,"
    " document, seal) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    "insert audit checkpoint");
static struct store_sql q_last =
    STORE_SQL("SELECT " CHECKPOINT_COLS " FROM audit_checkpoints"
              " ORDER BY seq DESC LIMIT 1",
        "read audit checkpoint");
static struct store_sql q_scan =
    STORE_SQL("SELECT " CHECKPOINT_COLS " FROM audit_checkpoints ORDER BY seq",
        "read audit checkpoints");
static struct store_sql q_hash_at = STORE_SQL(
    "SELECT hash FROM audit_events WHERE seq = ?1", "read audit event hash");
/* Each subquery reads one end of a primary key: O(log n), never a scan. */
static struct store_sql q_tip =
    STORE_SQL("SELECT (SELECT seq FROM audit_events ORDER BY seq DESC LIMIT 1),"
              " (SELECT time FROM audit_events ORDER BY seq DESC LIMIT 1),"
              " (SELECT seq FROM audit_checkpoints ORDER BY seq DESC LIMIT 1),"
              " (SELECT time FROM audit_checkpoints ORDER BY seq DESC LIMIT 1)",
        "read audit tip");

enum cs_rc
store_checkpoint_put(
    struct store_tx *tx, const struct store_checkpoint *c, struct cs_err *err)
{
	struct store_q q = {0};
	enum cs_rc rc;
	int r;

	rc = store_tx_usable(tx, err);
	if (rc != CS_OK)
		return rc;
	if (c == NULL || c->seq <= 0 || c->document == NULL ||
	    c->seal == NULL) {
		rc = cs_err_set(err, CS_ERR_INVALID, "incomplete checkpoint");
		goto out;
	}
	rc = store_text_check("certificate serial", c->cert_serial,
	    sizeof(c->cert_serial), false, err);
	if (rc == CS_OK)
		rc = store_q_begin(NULL, tx, &q_put, &q, err);
	if (rc != CS_OK)
		goto out;
	r = sqlite3_bind_int64(q.s, 1, c->seq);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(q.s, 2, store_time_or_now(c->time));
	if (r == SQLITE_OK)
		r = sqlite3_bind_blob(
		    q.s, 3, c->head_hash, STORE_HASH_LEN, SQLITE_STATIC);
	if (r == SQLITE_OK)
		r = store_bind_str(q.s, 4, c->cert_serial);
	if (r == SQLITE_OK)
		r = store_bind_buf(q.s, 5, c->document);
	if (r == SQLITE_OK)
		r = store_bind_buf(q.s, 6, c->seal);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r != SQLITE_DONE) {
		rc = store_q_fail(&q, r, err);
		if (rc == CS_ERR_CONFLICT)
			rc = cs_err_set(err, CS_ERR_CONFLICT,
			    "a checkpoint at event %lld exists already",
			    (long long)c->seq);
	}
out:
	store_q_end(&q);
	if (rc != CS_OK)
		tx->failed = true;
	return rc;
}

static enum cs_rc
row_checkpoint(sqlite3_stmt *s, struct store_checkpoint *c, struct cs_err *err)
{
	enum cs_rc rc;

	memset(c, 0, sizeof(*c));
	c->seq = sqlite3_column_int64(s, 0);
	c->time = sqlite3_column_int64(s, 1);
	if (!store_col_fixed(s, 2, c->head_hash, STORE_HASH_LEN))
		return cs_err_set(err, CS_ERR_STORE,
		    "checkpoint %lld: malformed head hash", (long long)c->seq);
	store_col_copy(s, 3, c->cert_serial, sizeof(c->cert_serial));
	rc = store_col_buf(s, 4, false, &c->document, err);
	if (rc == CS_OK)
		rc = store_col_buf(s, 5, false, &c->seal, err);
	if (rc != CS_OK)
		store_checkpoint_release(c);
	return rc;
}

enum cs_rc
store_checkpoint_last(
    struct store *st, struct store_checkpoint *c, struct cs_err *err)
{
	struct store_q q;
	enum cs_rc rc;
	int r;

	memset(c, 0, sizeof(*c));
	rc = store_q_begin(st, NULL, &q_last, &q, err);
	if (rc != CS_OK)
		return rc;
	r = store_q_step(&q);
	if (r == SQLITE_ROW)
		rc = row_checkpoint(q.s, c, err);
	else if (r == SQLITE_DONE)
		rc = cs_err_set(err, CS_ERR_NOT_FOUND, "no checkpoint yet");
	else
		rc = store_q_fail(&q, r, err);
	store_q_end(&q);
	return rc;
}

void
store_checkpoint_release(struct store_checkpoint *c)
{
	if (c == NULL)
		return;
	buf_free(c->document);
	buf_free(c->seal);
	c->document = c->seal = NULL;
}

enum cs_rc
store_checkpoint_scan(struct store *st,
    bool (*fn)(void *arg, const struct store_checkpoint *c), void *arg,
    struct cs_err *err)
{
	struct store_checkpoint c;
	struct store_q q;
	enum cs_rc rc;
	bool more = true;
	int r;

	rc = store_q_begin(st, NULL, &q_scan, &q, err);
	if (rc != CS_OK)
		return rc;
	while (more && (r = store_q_step(&q)) == SQLITE_ROW) {
		rc = row_checkpoint(q.s, &c, err);
		if (rc != CS_OK)
			goto out;
		more = fn(arg, &c);
		store_checkpoint_release(&c);
	}
	if (more && r != SQLITE_DONE)
		rc = store_q_fail(&q, r, err);
out:
	store_q_end(&q);
	return rc;
}

enum cs_rc
store_audit_hash_at(struct store *st, int64_t seq, uint8_t hash[STORE_HASH_LEN],
    struct cs_err *err)
{
	struct store_q q;
	enum cs_rc rc;
	int r;

	rc = store_q_begin(st, NULL, &q_hash_at, &q, err);
	if (rc != CS_OK)
		return rc;
	r = sqlite3_bind_int64(q.s, 1, seq);
	if (r == SQLITE_OK)
		r = store_q_step(&q);
	if (r == SQLITE_ROW) {
		if (!store_col_fixed(q.s, 0, hash, STORE_HASH_LEN))
			rc = cs_err_set(err, CS_ERR_STORE,
			    "event %lld: malformed hash", (long long)seq);
	} else if (r == SQLITE_DONE) {
		rc = cs_err_set(err, CS_ERR_NOT_FOUND, "no audit event %lld",
		    (long long)seq);
	} else {
		rc = store_q_fail(&q, r, err);
	}
	store_q_end(&q);
	return rc;
}

enum cs_rc
store_audit_tip(struct store *st, struct store_audit_tip *t, struct cs_err *err)
{
	struct store_q q;
	enum cs_rc rc;
	int r;

	memset(t, 0, sizeof(*t));
	rc = store_q_begin(st, NULL, &q_tip, &q, err);
	if (rc != CS_OK)
		return rc;
	r = store_q_step(&q);
	if (r == SQLITE_ROW) {
		t->seq = sqlite3_column_int64(q.s, 0);
		t->time = sqlite3_column_int64(q.s, 1);
		t->cp_seq = sqlite3_column_int64(q.s, 2);
		t->cp_time = sqlite3_column_int64(q.s, 3);
	} else {
		rc = store_q_fail(&q, r, err);
	}
	store_q_end(&q);
	return rc;
}

#define FAST_BUF 4096

/*
 * Append s (len bytes) as a JSON string the way jansson dumps it; ascii:
 * refuse anything but printable ASCII (the append path's condition).
 */
static bool
fast_str(char *b, size_t *o, const char *s, size_t len, bool ascii)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, n = *o;
	unsigned char c;

	if (n + 2 > FAST_BUF)
		return false;
	b[n++] = '"';
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (n + 7 > FAST_BUF || (ascii && (c < 0x20 || c > 0x7e)))
			return false;
		if (c == '"' || c == '\\') {
			b[n++] = '\\';
			b[n++] = (char)c;
		} else if (c >= 0x20) {
			b[n++] = (char)c;
		} else if (c == '\b' || c == '\f' || c == '\n' || c == '\r' ||
		    c == '\t') {
			b[n++] = '\\';
			b[n++] = c == '\b' ? 'b'
			    : c == '\f'    ? 'f'
			    : c == '\n'    ? 'n'
			    : c == '\r'    ? 'r'
			                   : 't';
		} else {
			memcpy(b + n, "\\u00", 4);
			b[n + 4] = hex[c >> 4];
			b[n + 5] = hex[c & 15];
			n += 6;
		}
	}
	b[n++] = '"';
	*o = n;
	return true;
}

/* Append a literal (a key and its colon, punctuation). */
static bool
fast_lit(char *b, size_t *o, const char *lit)
{
	size_t n = strlen(lit);

	if (*o + n > FAST_BUF)
		return false;
	memcpy(b + *o, lit, n);
	*o += n;
	return true;
}

/* SHA-256(prev || E) into hash; false when not made (see above). */
static bool
fast_hash(const EVP_MD *md, const uint8_t *prev, int64_t seq, int64_t t,
    const struct store_str *f, bool ascii, uint8_t hash[STORE_HASH_LEN])
{
	/* Members in key order; f's order is actor, action, object, ... */
	static const struct {
		const char *key;
		int f;
	} m[] = {{"{\"action\":", 1}, {",\"actor\":", 0}, {",\"detail\":", 5},
	    {",\"object\":", 2}, {",\"outcome\":", 3}, {",\"request_id\":", 4}};
	uint8_t md_out[EVP_MAX_MD_SIZE];
	char b[FAST_BUF];
	unsigned hlen = 0;
	size_t o = STORE_HASH_LEN, i;
	int n;

	memcpy(b, prev, STORE_HASH_LEN);
	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		if (!fast_lit(b, &o, m[i].key))
			return false;
		if (f[m[i].f].p == NULL) {
			if (m[i].f < 4 || !fast_lit(b, &o, "null"))
				return false;
		} else if (!fast_str(
		               b, &o, f[m[i].f].p, f[m[i].f].len, ascii)) {
			return false;
		}
	}
	n = snprintf(b + o, FAST_BUF - o, ",\"seq\":%lld,\"time\":%lld}",
	    (long long)seq, (long long)t);
	if (n < 0 || (size_t)n >= FAST_BUF - o)
		return false;
	o += (size_t)n;
	if (EVP_Digest(b, o, md_out, &hlen, md, NULL) != 1 ||
	    hlen != STORE_HASH_LEN) {
		ERR_clear_error(); /* the slow path will say what fails */
		return false;
	}
	memcpy(hash, md_out, STORE_HASH_LEN);
	return true;
}

bool
store_audit_fast_match(const EVP_MD *md, const uint8_t *prev, int64_t seq,
    int64_t t, const struct store_str *f, const uint8_t *want)
{
	uint8_t hash[STORE_HASH_LEN];

	return want != NULL && fast_hash(md, prev, seq, t, f, false, hash) &&
	    memcmp(hash, want, STORE_HASH_LEN) == 0;
}

bool
store_audit_fast_hash(const EVP_MD *md, const uint8_t *prev, int64_t seq,
    int64_t t, const struct store_str *f, uint8_t hash[STORE_HASH_LEN])
{
	return fast_hash(md, prev, seq, t, f, true, hash);
}
