/*
 * licence.c: issuing and reading e-licences.
 *
 * Issuance does the slow, stateless work first (validation, document,
 * token signature) and then writes the licence, its holder token, its
 * idempotency key and its audit event in one short transaction, so the
 * write lock is never held across a token operation.  Two requests with
 * the same Idempotency-Key may both seal, but only the first to write
 * keeps its licence: the second finds the key inside the transaction
 * (even when both are in the same group commit), writes nothing and
 * answers with the first one's licence.
 *
 * Serial numbers come from blocks reserved in the store (hi/lo), so most
 * issuances need no extra transaction; a crash leaves a gap in serials,
 * never a duplicate.  Status-list slots are handed out the same way: the
 * slot is written into the document, which is sealed before the
 * transaction, so it cannot be allocated inside it.  Dates are calendar
 * dates in China Standard Time (UTC+8, no daylight saving).
 *
 * Group commit: with synchronous=FULL every commit costs an fsync, so
 * issuances that are ready to write at the same time share one
 * transaction (see "group commit" below and docs/store.md).
 *
 * Every version of a licence is made by one path, licence_seal_version():
 * issuance builds its content from the request, renewal and correction
 * (licence_new_version) from the previous version's document with their
 * changes applied, so all versions have the same form (docs/envelope.md).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "certsvc/ca.h"
#include "certsvc/codes.h"
#include "certsvc/jcs.h"
#include "certsvc/jreq.h"
#include "certsvc/licence.h"
#include "certsvc/txbatch.h"
#include "certsvc/log.h"
#include "certsvc/ltype.h"
#include "certsvc/mem.h"
#include "certsvc/seal.h"
#include "certsvc/statuslist.h"
#include "certsvc/tsa.h"
#include "crypto/crypto.h"

#define LICENCE_TZ_OFFSET (8 * 3600)
#define LICENCE_SERIAL_BLOCK 64
#define LICENCE_SERIAL_SLOTS 128
#define LICENCE_SLOT_BLOCK 64
#define LICENCE_FORMAT "certsvc-licence/2"
#define ENVELOPE_FORMAT "certsvc-envelope/1"

struct serial_slot {
	char key[2 * STORE_CODE_MAX + 16];
	int64_t next;
	int64_t end; /* exclusive */
};

struct serial_alloc {
	pthread_mutex_t mu;
	size_t n;
	struct serial_slot s[LICENCE_SERIAL_SLOTS];
	int64_t slot_next; /* status-list slots: the block in hand */
	int64_t slot_end;  /* exclusive */
};

enum cs_rc
licence_serials_init(struct svc *svc, struct cs_err *err)
{
	struct serial_alloc *a;

	a = CS_LOCKED_NEW(struct serial_alloc);
	if (a == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	svc->serials = a;
	return CS_OK;
}

void
licence_serials_free(struct svc *svc)
{
	if (svc->serials == NULL)
		return;
	pthread_mutex_destroy(&svc->serials->mu);
	free(svc->serials);
	svc->serials = NULL;
}

/* The next serial of (type, dept, year); reserves a block when needed. */
static enum cs_rc
serial_next(struct svc *svc, const char *type, const char *dept, int year,
    int64_t *serial, struct cs_err *err)
{
	struct serial_alloc *a = svc->serials;
	struct store_tx *tx = NULL;
	struct serial_slot *slot;
	char key[sizeof(slot->key)];
	int64_t first = 0;
	enum cs_rc rc = CS_OK;
	size_t i;

	if (a == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	snprintf(key, sizeof(key), "%s|%s|%d", type, dept, year);
	/* Held across the (rare) reservation: blocks never interleave. */
	pthread_mutex_lock(&a->mu);
	for (i = 0; i < a->n; i++)
		if (strcmp(a->s[i].key, key) == 0)
			break;
	if (i == a->n) {
		if (a->n == LICENCE_SERIAL_SLOTS)
			i = 0; /* forget one block: a gap, never a duplicate */
		else
			a->n++;
		cs_strlcpy(a->s[i].key, key, sizeof(a->s[i].key));
		a->s[i].next = a->s[i].end = 0;
	}
	slot = &a->s[i];
	if (slot->next >= slot->end) {
		rc = store_tx_begin(svc->store, &tx, err);
		if (rc == CS_OK)
			rc = store_serial_reserve(tx, type, dept, year,
			    LICENCE_SERIAL_BLOCK, &first, err);
		if (rc == CS_OK) {
			rc = store_tx_commit(tx, err);
			tx = NULL;
		}
		store_tx_rollback(tx);
		if (rc == CS_OK) {
			slot->next = first;
			slot->end = first + LICENCE_SERIAL_BLOCK;
		}
	}
	if (rc == CS_OK)
		*serial = slot->next++;
	pthread_mutex_unlock(&a->mu);
	return rc;
}

/* The next status-list slot number; reserves a block when needed. */
static enum cs_rc
slot_next(struct svc *svc, int64_t *slot, struct cs_err *err)
{
	struct serial_alloc *a = svc->serials;
	struct store_tx *tx = NULL;
	int64_t first = 0;
	enum cs_rc rc = CS_OK;

	if (a == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	pthread_mutex_lock(&a->mu);
	if (a->slot_next >= a->slot_end) {
		rc = store_tx_begin(svc->store, &tx, err);
		if (rc == CS_OK)
			rc = store_status_slots_reserve(
			    tx, LICENCE_SLOT_BLOCK, &first, err);
		if (rc == CS_OK) {
			rc = store_tx_commit(tx, err);
			tx = NULL;
		}
		store_tx_rollback(tx);
		if (rc == CS_OK) {
			a->slot_next = first;
			a->slot_end = first + LICENCE_SLOT_BLOCK;
		}
	}
	if (rc == CS_OK)
		*slot = a->slot_next++;
	pthread_mutex_unlock(&a->mu);
	return rc;
}

/* --- group commit ----------------------------------------------------------
 *
 * Every issuance ends in the same short write: its licence, its holder
 * client, its idempotency key and its audit event.  It goes through
 * txbatch_run() (txbatch.h), so concurrent issuances share a transaction
 * and its fsync, each still atomic with its idempotency key and event.  A
 * job whose Idempotency-Key is found in the transaction (committed
 * earlier, or written by an earlier job of the same batch) writes nothing
 * and is answered as a replay after the commit, by its own thread.
 */
struct issue_job {
	/* In, lent by the issuing thread, which waits until done. */
	const struct client_principal *p;
	const char *idem_key;
	const uint8_t *req_hash;
	const struct store_audit_event *ev;
	unsigned flags;
	struct licence_issued *out; /* lic to write; holder token written */
	/* Out, valid once txbatch_run() returned CS_OK. */
	bool replay; /* the key was there: stored_hash, prev_id/version */
	uint8_t stored_hash[STORE_HASH_LEN];
	char prev_id[CODES_LICENCE_ID_MAX];
	int prev_version;
};

/* The write of one issuance (a txbatch_write_fn). */
static enum cs_rc
issue_write(struct svc *svc, struct store_tx *tx, void *arg, struct cs_err *err)
{
	struct issue_job *j = arg;
	struct licence_issued *out = j->out;
	enum cs_rc rc;

	j->replay = false;
	rc = store_idem_get(svc->store, tx, j->p->id, j->idem_key,
	    j->stored_hash, j->prev_id, sizeof(j->prev_id), &j->prev_version,
	    err);
	if (rc == CS_OK) {
		/* A concurrent retry came first: answered after the commit. */
		j->replay = true;
		return CS_OK;
	}
	if (rc != CS_ERR_NOT_FOUND)
		return rc;
	cs_err_clear(err);
	rc = store_licence_put(tx, &out->lic, err);
	if (rc == CS_OK && !(j->flags & LICENCE_NO_HOLDER_TOKEN))
		rc = client_add_tx(svc, tx, CLIENT_HOLDER, "holder", NULL,
		    out->lic.holder_ref, out->holder_client,
		    sizeof(out->holder_client), out->holder_token,
		    sizeof(out->holder_token), err);
	if (rc == CS_OK)
		rc = store_idem_put(tx, j->p->id, j->idem_key, j->req_hash,
		    out->lic.id, 1, err);
	if (rc == CS_OK)
		rc = store_audit_append(tx, j->ev, NULL, err);
	return rc;
}

bool
licence_date_parse(const char *s, int64_t *days)
{
	static const int mdays[] = {
	    31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, m, d, i;
	int64_t n;
	bool leap;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
	    (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (y < 1970 || m < 1 || m > 12 || d < 1 ||
	    d > mdays[m - 1] + (m == 2 && leap ? 1 : 0))
		return false;
	/* Days from civil (Howard Hinnant's algorithm). */
	y -= m <= 2;
	n = (int64_t)(y / 400) * 146097;
	{
		int yoe = y - (y / 400) * 400;
		int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
		int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

		n += doe - 719468;
	}
	*days = n;
	return true;
}

int64_t
licence_today(time_t now)
{
	return ((int64_t)now + LICENCE_TZ_OFFSET) / 86400;
}

bool
licence_is_expired(const struct store_licence *l, time_t now)
{
	return l->valid_until < (int64_t)now;
}

static void
licence_date_format(int64_t days, char *out, size_t outsz)
{
	time_t t = (time_t)(days * 86400);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, outsz, "%Y-%m-%d", &tm);
}

/* The request's members, checked for shape (not yet against the type). */
struct licence_req {
	const char *type;
	const char *seal;
	const char *holder_name;
	const char *id_type;
	const char *id_number;
	const json_t *fields;
	int64_t from_day;  /* -1: not given */
	int64_t until_day; /* -1: not given */
};

static enum cs_rc
req_string(const json_t *obj, const char *key, const char *path, bool need,
    const char **out, struct cs_err *err)
{
	const json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL) {
		if (need)
			return cs_err_set(
			    err, CS_ERR_INVALID, "%s: required", path);
		return CS_OK;
	}
	if (!json_is_string(v) || json_string_length(v) == 0)
		return cs_err_set(err, CS_ERR_INVALID,
		    "%s: must be a non-empty string", path);
	*out = json_string_value(v);
	return CS_OK;
}

static enum cs_rc
req_parse(const json_t *req, struct licence_req *r, struct cs_err *err)
{
	static const char *const top[] = {"type", "holder", "fields",
	    "valid_from", "valid_until", "seal", NULL};
	static const char *const holder[] = {
	    "name", "id_type", "id_number", NULL};
	const char *from = NULL, *until = NULL;
	const json_t *h;
	enum cs_rc rc;

	memset(r, 0, sizeof(*r));
	r->from_day = r->until_day = -1;
	rc = jreq_body(req, top, err);
	if (rc == CS_OK)
		rc = req_string(req, "type", "type", true, &r->type, err);
	if (rc == CS_OK)
		rc = req_string(req, "seal", "seal", false, &r->seal, err);
	if (rc == CS_OK)
		rc = req_string(
		    req, "valid_from", "valid_from", false, &from, err);
	if (rc == CS_OK)
		rc = req_string(
		    req, "valid_until", "valid_until", false, &until, err);
	if (rc != CS_OK)
		return rc;
	h = json_object_get(req, "holder");
	if (!json_is_object(h))
		return cs_err_set(
		    err, CS_ERR_INVALID, "holder: required, an object");
	rc = jreq_only(h, "holder", holder, err);
	if (rc == CS_OK)
		rc = req_string(
		    h, "name", "holder.name", true, &r->holder_name, err);
	if (rc == CS_OK)
		rc = req_string(
		    h, "id_type", "holder.id_type", true, &r->id_type, err);
	if (rc == CS_OK)
		rc = req_string(h, "id_number", "holder.id_number", true,
		    &r->id_number, err);
	if (rc != CS_OK)
		return rc;
	if (strlen(r->holder_name) > 128)
		return cs_err_set(
		    err, CS_ERR_INVALID, "holder.name: at most 128 bytes");
	r->fields = json_object_get(req, "fields");
	if (r->fields == NULL || !json_is_object(r->fields))
		return cs_err_set(
		    err, CS_ERR_INVALID, "fields: required, an object");
	if (from != NULL && !licence_date_parse(from, &r->from_day))
		return cs_err_set(err, CS_ERR_INVALID,
		    "valid_from: must be a date YYYY-MM-DD");
	if (until != NULL && !licence_date_parse(until, &r->until_day))
		return cs_err_set(err, CS_ERR_INVALID,
		    "valid_until: must be a date YYYY-MM-DD");
	return CS_OK;
}

static bool
idem_key_ok(const char *key)
{
	size_t n = key != NULL ? strlen(key) : 0, i;

	if (n == 0 || n > LICENCE_IDEM_KEY_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (key[i] < 0x21 || key[i] > 0x7e)
			return false;
	return true;
}

/* What a version's document says besides its type, issuer and seal. */
struct licence_content {
	const char *holder_name;
	const char *id_type;
	const char *id_number;
	const json_t *fields;
	int64_t from;   /* day numbers */
	int64_t until;  /* inclusive */
	int supersedes; /* the version it replaces, or 0 */
};

/* The licence document (canonical JSON bytes given in *out). */
static enum cs_rc
licence_document(const struct svc *svc, const struct licence_content *c,
    const struct ltype *lt, const struct store_dept *dept,
    const struct seal_signer *seal, const char *id, int version, time_t now,
    int64_t slot, struct buf **out, struct cs_err *err)
{
	char issued[32], dfrom[16], duntil[16], certhex[65];
	char uri[CFG_STR_MAX + 64];
	const char *base = svc->cfg.public_url;
	size_t blen = strlen(base);
	struct tm tm;
	json_t *doc;
	enum cs_rc rc;

	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	snprintf(uri, sizeof(uri), "%.*s/v1/status-lists/%lld", (int)blen, base,
	    (long long)(slot / STATUSLIST_ENTRIES));
	gmtime_r(&now, &tm);
	strftime(issued, sizeof(issued), "%Y-%m-%dT%H:%M:%SZ", &tm);
	licence_date_format(c->from, dfrom, sizeof(dfrom));
	licence_date_format(c->until, duntil, sizeof(duntil));
	cs_hex(seal->cert_sha256, sizeof(seal->cert_sha256), certhex);
	doc = json_pack("{s:s,s:s,s:i,s:{s:s,s:s},s:{s:s,s:s,s:s},"
	                "s:{s:s,s:s,s:s},s:O,s:s,s:s,s:s,s:{s:s,s:s},"
	                "s:{s:{s:I,s:s}}}",
	    "format", LICENCE_FORMAT, "id", id, "version", version, "type",
	    "code", lt->code, "name", lt->name, "issuer", "credit_code",
	    dept->code, "name", dept->name, "region", dept->region, "holder",
	    "name", c->holder_name, "id_type", c->id_type, "id_number",
	    c->id_number, "fields", c->fields, "issued_at", issued,
	    "valid_from", dfrom, "valid_until", duntil, "seal", "id", seal->id,
	    "certificate_sha256", certhex, "status", "status_list", "idx",
	    (json_int_t)(slot % STATUSLIST_ENTRIES), "uri", uri);
	if (doc != NULL && c->supersedes > 0 &&
	    json_object_set_new(
	        doc, "supersedes", json_integer(c->supersedes)) != 0) {
		json_decref(doc);
		doc = NULL;
	}
	if (doc == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "cannot build document");
	rc = jcs_encode(doc, out, err);
	json_decref(doc);
	return rc;
}

/*
 * Make version `version` of licence id: a status-list slot, the document,
 * the seal.  out gets every column but holder_ref (the caller's), status
 * "valid"; its document and seal are given.  No transaction is open: the
 * token signature never runs under the write lock.
 */
static enum cs_rc
licence_seal_version(struct svc *svc, const struct licence_content *c,
    const struct ltype *lt, const struct store_dept *dept,
    const struct seal_signer *seal, const char *id, int version, time_t now,
    struct store_licence *out, struct cs_err *err)
{
	struct crypto_seal_opts so;
	struct buf *doc = NULL, *der = NULL;
	STACK_OF(X509) *chain = NULL;
	int64_t slot = 0;
	enum cs_rc rc;

	rc = slot_next(svc, &slot, err);
	if (rc != CS_OK)
		goto out;
	rc = licence_document(
	    svc, c, lt, dept, seal, id, version, now, slot, &doc, err);
	if (rc != CS_OK)
		goto out;
	chain = sk_X509_new_null();
	if (chain == NULL ||
	    !sk_X509_push(chain, ca_issuer_of(svc, seal->cert))) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	memset(&so, 0, sizeof(so));
	so.key = seal->key;
	so.cert = seal->cert;
	so.chain = chain;
	so.image_sha256 = seal->has_image ? seal->image_sha256 : NULL;
	rc = seal->tmpl != NULL
	    ? crypto_seal_tmpl_seal(seal->tmpl, doc->data, doc->len, &der, err)
	    : crypto_cms_seal(&so, doc->data, doc->len, &der, err);
	/* CAdES-T: a second token signature, still outside any transaction. */
	if (rc == CS_OK && svc->cfg.timestamp_seals)
		rc = tsa_stamp_seal(svc, &der, err);
	if (rc != CS_OK)
		goto out;
	cs_strlcpy(out->id, id, sizeof(out->id));
	out->version = version;
	cs_strlcpy(out->type, lt->code, sizeof(out->type));
	cs_strlcpy(out->dept, dept->code, sizeof(out->dept));
	cs_strlcpy(out->seal_id, seal->id, sizeof(out->seal_id));
	cs_strlcpy(out->status, LICENCE_VALID, sizeof(out->status));
	out->issued_at = (int64_t)now;
	out->valid_from = c->from * 86400 - LICENCE_TZ_OFFSET;
	out->valid_until = (c->until + 1) * 86400 - LICENCE_TZ_OFFSET - 1;
	out->has_status_slot = true;
	out->status_list = slot / STATUSLIST_ENTRIES;
	out->status_idx = slot % STATUSLIST_ENTRIES;
	out->document = doc;
	out->seal_der = der;
	doc = der = NULL;
out:
	sk_X509_free(chain);
	buf_free(doc);
	buf_free(der);
	return rc;
}

/* Fill out from a stored licence (an idempotent replay). */
static enum cs_rc
licence_replay(struct svc *svc, const uint8_t stored[STORE_HASH_LEN],
    const uint8_t mine[STORE_HASH_LEN], const char *key, const char *id,
    int version, struct licence_issued *out, struct cs_err *err)
{
	enum cs_rc rc;

	if (CRYPTO_memcmp(stored, mine, STORE_HASH_LEN) != 0)
		return cs_err_set(err, CS_ERR_CONFLICT,
		    "Idempotency-Key '%.64s' was used with another request "
		    "body",
		    key);
	rc = store_licence_get(svc->store, id, version, &out->lic, err);
	if (rc == CS_OK)
		out->replayed = true;
	return rc;
}

enum cs_rc
licence_issue(struct svc *svc, const struct client_principal *p,
    const json_t *req, const char *idem_key, unsigned flags,
    struct licence_issued *out, struct cs_err *err)
{
	uint8_t req_hash[STORE_HASH_LEN], stored_hash[STORE_HASH_LEN];
	char id[CODES_LICENCE_ID_MAX], prev_id[CODES_LICENCE_ID_MAX];
	char object[CODES_LICENCE_ID_MAX + 16], detail[384];
	struct licence_content content;
	struct store_audit_event ev;
	struct licence_req r;
	struct store_dept dept;
	struct issue_job job;
	struct seal_signer *seal = NULL;
	struct ltype *lt = NULL;
	struct buf *canon = NULL;
	int64_t serial = 0, today, from, until;
	bool allowed = false;
	time_t now;
	struct tm tm;
	int prev_version = 0;
	enum cs_rc rc;

	memset(out, 0, sizeof(*out));
	if (p->role != CLIENT_ISSUER)
		return cs_err_set(
		    err, CS_ERR_DENIED, "only issuer clients issue licences");
	if (!idem_key_ok(idem_key))
		return cs_err_set(err, CS_ERR_INVALID,
		    "Idempotency-Key: required, 1 to %d printable ASCII "
		    "characters",
		    LICENCE_IDEM_KEY_MAX);
	rc = req_parse(req, &r, err);
	if (rc != CS_OK)
		goto out;
	rc = ltype_load(svc, r.type, &lt, err);
	if (rc == CS_ERR_NOT_FOUND)
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "type: unknown licence type '%.40s'", r.type);
	if (rc != CS_OK)
		goto out;
	rc = store_ltype_dept_allowed(
	    svc->store, lt->code, p->dept, &allowed, err);
	if (rc != CS_OK)
		goto out;
	if (!allowed) {
		rc = cs_err_set(err, CS_ERR_DENIED,
		    "department '%s' may not issue licences of type '%s'",
		    p->dept, lt->code);
		goto out;
	}
	rc = ltype_check_fields(lt, r.fields, err);
	if (rc != CS_OK)
		goto out;
	/*
	 * Validated first (types never change, so a replay validates as its
	 * original did), so that every refusal names its field; then the
	 * body's canonical form: a retry need not repeat the bytes.
	 */
	rc = jcs_encode(req, &canon, err);
	if (rc != CS_OK)
		goto out;
	if (EVP_Digest(canon->data, canon->len, req_hash, NULL, EVP_sha256(),
	        NULL) != 1) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "SHA-256 failed");
		goto out;
	}
	rc = store_idem_get(svc->store, NULL, p->id, idem_key, stored_hash,
	    prev_id, sizeof(prev_id), &prev_version, err);
	if (rc == CS_OK) {
		rc = licence_replay(svc, stored_hash, req_hash, idem_key,
		    prev_id, prev_version, out, err);
		goto out;
	}
	if (rc != CS_ERR_NOT_FOUND)
		goto out;
	cs_err_clear(err);
	memset(&dept, 0, sizeof(dept));
	rc = store_dept_get(svc->store, p->dept, &dept, err);
	if (rc != CS_OK)
		goto out;
	rc = holder_ref_make(svc, r.id_type, r.id_number, out->lic.holder_ref,
	    sizeof(out->lic.holder_ref), err);
	if (rc != CS_OK)
		goto out;

	now = time(NULL);
	today = licence_today(now);
	from = r.from_day >= 0 ? r.from_day : today;
	until = r.until_day >= 0 ? r.until_day
	                         : from + (int64_t)lt->validity_days - 1;
	if (until < from) {
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "valid_until: must not be before valid_from");
		goto out;
	}
	rc = seal_signer_get(svc, r.seal, p->dept, &seal, err);
	if (rc != CS_OK)
		goto out;
	{
		time_t local = now + LICENCE_TZ_OFFSET;

		gmtime_r(&local, &tm);
	}
	rc = serial_next(
	    svc, lt->code, p->dept, tm.tm_year + 1900, &serial, err);
	if (rc != CS_OK)
		goto out;
	rc = codes_licence_id(
	    lt->code, p->dept, tm.tm_year + 1900, serial, id, sizeof(id), err);
	if (rc != CS_OK)
		goto out;
	memset(&content, 0, sizeof(content));
	content.holder_name = r.holder_name;
	content.id_type = r.id_type;
	content.id_number = r.id_number;
	content.fields = r.fields;
	content.from = from;
	content.until = until;
	rc = licence_seal_version(
	    svc, &content, lt, &dept, seal, id, 1, now, &out->lic, err);
	if (rc != CS_OK)
		goto out;

	snprintf(object, sizeof(object), "licence:%s/1", id);
	/* The holder by keyed hash only (audit export --holder finds it). */
	snprintf(detail, sizeof(detail),
	    "{\"dept\":\"%s\",\"holder_ref\":\"%s\",\"seal\":\"%s\","
	    "\"type\":\"%s\"}",
	    p->dept, out->lic.holder_ref, seal->id, lt->code);
	memset(&ev, 0, sizeof(ev));
	ev.actor = p->id;
	ev.action = "licence.issue";
	ev.object = object;
	ev.outcome = "ok";
	ev.detail = detail;
	memset(&job, 0, sizeof(job));
	job.p = p;
	job.idem_key = idem_key;
	job.req_hash = req_hash;
	job.ev = &ev;
	job.flags = flags;
	job.out = out;
	rc = txbatch_run(svc, issue_write, &job, err);
	if (rc == CS_OK && job.replay) {
		/* A concurrent retry committed first: answer with its licence.
		 */
		store_licence_release(&out->lic);
		memset(&out->lic, 0, sizeof(out->lic));
		rc = licence_replay(svc, job.stored_hash, req_hash, idem_key,
		    job.prev_id, job.prev_version, out, err);
	}
out:
	if (rc != CS_OK)
		licence_issued_release(out);
	seal_signer_free(seal);
	ltype_free(lt);
	buf_free(canon);
	return rc;
}

/* A member of the parsed previous document that must be a string. */
static const char *
doc_string(const json_t *obj, const char *key)
{
	const char *v = json_string_value(json_object_get(obj, key));

	return v != NULL && *v != '\0' ? v : NULL;
}

enum cs_rc
licence_new_version(struct svc *svc, const struct store_licence *cur,
    const struct licence_edit *e, struct store_licence *next,
    struct cs_err *err)
{
	struct licence_content c;
	struct store_dept dept;
	struct seal_signer *seal = NULL;
	struct ltype *lt = NULL;
	json_t *doc = NULL, *holder;
	const char *from, *until, *type;
	bool allowed = false;
	enum cs_rc rc;

	memset(next, 0, sizeof(*next));
	memset(&c, 0, sizeof(c));
	if (cur->document == NULL)
		return cs_err_set(err, CS_ERR_INVALID, "no previous document");
	/* The content of a new version is the previous version's. */
	rc = jcs_parse(cur->document->data, cur->document->len, &doc, err);
	if (rc != CS_OK) {
		rc = cs_err_set(err, CS_ERR_STORE,
		    "licence '%s' version %d: stored document unreadable",
		    cur->id, cur->version);
		goto out;
	}
	holder = json_object_get(doc, "holder");
	c.holder_name = doc_string(holder, "name");
	c.id_type = doc_string(holder, "id_type");
	c.id_number = doc_string(holder, "id_number");
	c.fields = json_object_get(doc, "fields");
	from = doc_string(doc, "valid_from");
	until = doc_string(doc, "valid_until");
	type = doc_string(json_object_get(doc, "type"), "code");
	if (c.holder_name == NULL || c.id_type == NULL || c.id_number == NULL ||
	    !json_is_object(c.fields) || from == NULL || until == NULL ||
	    type == NULL || strcmp(type, cur->type) != 0 ||
	    !licence_date_parse(from, &c.from) ||
	    !licence_date_parse(until, &c.until)) {
		rc = cs_err_set(err, CS_ERR_STORE,
		    "licence '%s' version %d: stored document malformed",
		    cur->id, cur->version);
		goto out;
	}
	if (e->fields != NULL)
		c.fields = e->fields;
	if (e->holder_name != NULL) {
		if (*e->holder_name == '\0' || strlen(e->holder_name) > 128 ||
		    cs_utf8_count(
		        e->holder_name, strlen(e->holder_name), false) < 1) {
			rc = cs_err_set(err, CS_ERR_INVALID,
			    "holder.name: 1 to 128 bytes of UTF-8");
			goto out;
		}
		c.holder_name = e->holder_name;
	}
	if (e->from_day >= 0)
		c.from = e->from_day;
	if (e->until_day >= 0)
		c.until = e->until_day;
	if (c.until < c.from) {
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "valid_until: must not be before valid_from");
		goto out;
	}
	c.supersedes = cur->version;
	rc = ltype_load(svc, cur->type, &lt, err);
	if (rc != CS_OK)
		goto out;
	rc = store_ltype_dept_allowed(
	    svc->store, lt->code, cur->dept, &allowed, err);
	if (rc != CS_OK)
		goto out;
	if (!allowed) {
		rc = cs_err_set(err, CS_ERR_DENIED,
		    "department '%s' may no longer issue licences of type "
		    "'%s'",
		    cur->dept, lt->code);
		goto out;
	}
	rc = ltype_check_fields(lt, c.fields, err);
	if (rc != CS_OK)
		goto out;
	memset(&dept, 0, sizeof(dept));
	rc = store_dept_get(svc->store, cur->dept, &dept, err);
	if (rc != CS_OK)
		goto out;
	/* Sealed anew with the department's current seal (or e's). */
	rc = seal_signer_get(svc, e->seal_id, cur->dept, &seal, err);
	if (rc != CS_OK)
		goto out;
	rc = licence_seal_version(svc, &c, lt, &dept, seal, cur->id,
	    cur->version + 1, time(NULL), next, err);
	if (rc != CS_OK)
		goto out;
	cs_strlcpy(next->holder_ref, cur->holder_ref, sizeof(next->holder_ref));
out:
	if (rc != CS_OK)
		store_licence_release(next);
	if (c.id_number != NULL)
		OPENSSL_cleanse((char *)(uintptr_t)c.id_number,
		    strlen(c.id_number)); /* jansson's copy */
	json_decref(doc);
	seal_signer_free(seal);
	ltype_free(lt);
	return rc;
}

void
licence_issued_release(struct licence_issued *out)
{
	if (out == NULL)
		return;
	store_licence_release(&out->lic);
	OPENSSL_cleanse(out, sizeof(*out));
}

enum cs_rc
licence_read(struct svc *svc, const struct client_principal *p, const char *id,
    int version, struct store_licence *l, struct cs_err *err)
{
	bool mine;
	enum cs_rc rc;

	memset(l, 0, sizeof(*l));
	if (codes_licence_id_check(id, NULL) != CS_OK)
		return cs_err_set(
		    err, CS_ERR_NOT_FOUND, "no licence '%.96s'", id);
	rc = store_licence_get(svc->store, id, version, l, err);
	if (rc == CS_ERR_NOT_FOUND)
		return cs_err_set(
		    err, CS_ERR_NOT_FOUND, "no licence '%.96s'", id);
	if (rc != CS_OK)
		return rc;
	switch (p->role) {
	case CLIENT_ISSUER:
		mine = strcmp(l->dept, p->dept) == 0;
		break;
	case CLIENT_HOLDER:
		mine = CRYPTO_memcmp(l->holder_ref, p->holder_ref,
		           sizeof(l->holder_ref)) == 0;
		break;
	case CLIENT_VERIFIER:
	default:
		mine = false;
		break;
	}
	if (!mine) {
		store_licence_release(l);
		memset(l, 0, sizeof(*l));
		/* The same answer as for an unknown id: no existence leak. */
		return cs_err_set(
		    err, CS_ERR_NOT_FOUND, "no licence '%.96s'", id);
	}
	return CS_OK;
}

json_t *
licence_envelope(const struct store_licence *l)
{
	struct buf *doc = NULL, *seal = NULL;
	json_t *env = NULL;

	if (crypto_b64_encode(
	        l->document->data, l->document->len, &doc, NULL) == CS_OK &&
	    crypto_b64_encode(
	        l->seal_der->data, l->seal_der->len, &seal, NULL) == CS_OK)
		env = json_pack("{s:s,s:s,s:i,s:s,s:s}", "format",
		    ENVELOPE_FORMAT, "id", l->id, "version", l->version,
		    "document", (char *)doc->data, "seal", (char *)seal->data);
	buf_free(doc);
	buf_free(seal);
	return env;
}

/* Goes into a JSON string as it is: printable ASCII, no quote, no backslash. */
static bool
json_plain(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x20 || *s > 0x7e || *s == '"' || *s == '\\')
			return false;
	return true;
}

/*
 * The members after the summary are written here, not through jansson:
 * the base64 document and seal are most of the answer, need no escaping,
 * and jansson would copy them into strings, check them as UTF-8 and scan
 * them again to escape nothing.  The holder token is copied only into the
 * answer, which the caller wipes.
 */
enum cs_rc
licence_issued_text(const struct licence_issued *out, char **text, size_t *len,
    struct cs_err *err)
{
	const struct store_licence *l = &out->lic;
	struct buf *doc = NULL, *seal = NULL;
	json_t *sum = NULL;
	char *head = NULL, *t = NULL;
	size_t hlen, n;
	enum cs_rc rc;
	int w;

	*text = NULL;
	*len = 0;
	if (!json_plain(l->id) || !json_plain(out->holder_token) ||
	    !json_plain(out->holder_client))
		return cs_err_set(err, CS_ERR_INVALID,
		    "licence answer: id or holder token not plain text");
	rc = crypto_b64_encode(l->document->data, l->document->len, &doc, err);
	if (rc == CS_OK)
		rc = crypto_b64_encode(
		    l->seal_der->data, l->seal_der->len, &seal, err);
	if (rc != CS_OK)
		goto out;
	sum = licence_summary(l);
	head = sum != NULL ? json_dumps(sum, JSON_COMPACT) : NULL;
	hlen = head != NULL ? strlen(head) : 0;
	n = hlen + doc->len + seal->len + strlen(l->id) +
	    strlen(out->holder_token) + strlen(out->holder_client) + 256;
	t = hlen > 1 ? malloc(n) : NULL;
	if (t == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* "{...}": its closing brace makes way for the other members. */
	w = snprintf(t, n,
	    "%.*s,\"envelope\":{\"format\":\"%s\",\"id\":\"%s\","
	    "\"version\":%d,\"document\":\"%s\",\"seal\":\"%s\"},"
	    "\"replayed\":%s",
	    (int)(hlen - 1), head, ENVELOPE_FORMAT, l->id, l->version,
	    (const char *)doc->data, (const char *)seal->data,
	    out->replayed ? "true" : "false");
	if (w > 0 && (size_t)w < n && !out->replayed)
		w += snprintf(t + w, n - (size_t)w,
		    ",\"holder_token\":\"%s\",\"holder_client\":\"%s\"",
		    out->holder_token, out->holder_client);
	if (w > 0 && (size_t)w + 1 < n) {
		t[w++] = '}';
		t[w] = '\0';
	} else {
		rc = cs_err_set(err, CS_ERR_NOMEM, "licence answer too long");
		goto out;
	}
	*text = t;
	*len = (size_t)w;
	t = NULL;
out:
	if (t != NULL)
		OPENSSL_clear_free(t, n);
	free(head);
	json_decref(sum);
	buf_free(seal);
	buf_free(doc);
	return rc;
}

json_t *
licence_summary(const struct store_licence *l)
{
	char issued[32], from[32], until[32];

	char changed[32];
	json_t *obj;

	cs_time_utc(l->issued_at, issued, sizeof(issued));
	cs_time_utc(l->valid_from, from, sizeof(from));
	cs_time_utc(l->valid_until, until, sizeof(until));
	obj = json_pack("{s:s,s:i,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "id", l->id,
	    "version", l->version, "type", l->type, "issuer", l->dept, "seal",
	    l->seal_id, "status", l->status, "issued_at", issued, "valid_from",
	    from, "valid_until", until);
	/* The last status change, once there was one. */
	if (obj != NULL && l->status_changed != 0) {
		cs_time_utc(l->status_changed, changed, sizeof(changed));
		json_object_set_new(
		    obj, "status_reason", json_string(l->status_reason));
		json_object_set_new(
		    obj, "status_changed", json_string(changed));
	}
	return obj;
}
