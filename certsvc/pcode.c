/*
 * pcode.c: 免证办 codes, short-lived grants from a holder to a relying
 * party, their redemption and the usage records it leaves (docs/codes.md).
 *
 * A code has two forms, both derived from a random 256-bit nonce under
 * keys derived from the service's holder key (DATA/holder-key, never in
 * the database):
 *   long  = base64url(HMAC-SHA256(K_long, id || nonce)), 43 characters,
 *           256 bits: what the QR carries;
 *   short = 10 characters of a 31-letter alphabet (49.5 bits) drawn from
 *           HMAC-SHA256(K_short, ...) + 1 check character, typed at
 *           counters.
 * The row keeps SHA-256(long), HMAC-SHA256(K_hash, short) and the nonce.
 * A copy of the database therefore yields no usable code: the long form
 * cannot be recomputed without the key, nor the short form tested
 * offline.  The service, which has the key, re-derives the long form to
 * draw the QR again.
 *
 * Redemption answers every refusal that concerns the code with one
 * CS_ERR_NOT_FOUND and one message, so a relying party cannot tell an
 * unknown code from an expired, used, revoked or foreign one, or from a
 * licence it may not use; the audit trail records the real reason.  The
 * code is found by the hash of what was presented (an index lookup whose
 * timing depends on the hash, not on how much of a code was right) and
 * the hash is compared again with CRYPTO_memcmp.  Failed redemptions are
 * counted per verifier client and per source address (ratelimit.c).
 *
 * A redemption's verification report is made before the transaction, so
 * that a use is never counted without its answer; the transaction then
 * counts the use by a guarded UPDATE (of two concurrent redemptions of a
 * single-use code only one passes), writes the usage record and the
 * audit event.  Audit events never carry holder identifiers or codes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "certsvc/jreq.h"
#include "certsvc/licence.h"
#include "certsvc/lifecycle.h"
#include "certsvc/log.h"
#include "certsvc/mem.h"
#include "certsvc/pcode.h"
#include "certsvc/txbatch.h"
#include "certsvc/ratelimit.h"
#include "certsvc/report.h"
#include "certsvc/verify.h"

#define PCODE_ID_RAW 8 /* "P-" + 16 hex */
#define PCODE_INPUT_MAX 64
#define PCODE_CREATE_TRIES 3

const char pcode_alphabet[PCODE_RADIX + 1] = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";

struct code_limiter {
	struct ratelimit *client;
	struct ratelimit *addr;
};

/* Why a redemption was refused: the audit outcome "denied:<name>". */
enum redeem_why {
	WHY_OK,
	WHY_MALFORMED,
	WHY_UNKNOWN,
	WHY_REVOKED,
	WHY_EXPIRED,
	WHY_USED_UP,
	WHY_OTHER_RP,
	WHY_USAGE_LIST,
	WHY_LICENCE,
};

static const char *const why_names[] = {
    [WHY_OK] = "ok",
    [WHY_MALFORMED] = "denied:malformed",
    [WHY_UNKNOWN] = "denied:unknown",
    [WHY_REVOKED] = "denied:revoked",
    [WHY_EXPIRED] = "denied:expired",
    [WHY_USED_UP] = "denied:used_up",
    [WHY_OTHER_RP] = "denied:other_relying_party",
    [WHY_USAGE_LIST] = "denied:not_in_usage_list",
    [WHY_LICENCE] = "denied:licence_not_valid",
};

/* --- the short form ------------------------------------------------------ */

static int
alpha_value(char c)
{
	const char *p;

	if (c == '\0')
		return -1;
	p = strchr(pcode_alphabet, c);
	return p == NULL ? -1 : (int)(p - pcode_alphabet);
}

char
pcode_check_char(const char *s, size_t n)
{
	unsigned sum = 0;
	size_t i;
	int v;

	if (n + 1 >= PCODE_RADIX)
		return '\0';
	for (i = 0; i < n; i++) {
		v = alpha_value(s[i]);
		if (v < 0)
			return '\0';
		sum += (unsigned)(i + 1) * (unsigned)v;
	}
	/*
	 * (n + 1) * c = -sum (mod 31); 31 is prime, so c is unique and any
	 * single substitution or transposition changes the weighted sum.
	 */
	for (v = 0; v < PCODE_RADIX; v++)
		if ((sum + (unsigned)(n + 1) * (unsigned)v) % PCODE_RADIX == 0)
			return pcode_alphabet[v];
	return '\0';
}

bool
pcode_short_parse(const char *in, char out[PCODE_SHORT_LEN + 1])
{
	size_t i, n = 0;
	char c;

	out[0] = '\0';
	if (in == NULL || strnlen(in, PCODE_INPUT_MAX + 1) > PCODE_INPUT_MAX)
		return false;
	for (i = 0; in[i] != '\0'; i++) {
		c = in[i];
		if (c == '-' || c == ' ')
			continue;
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (n == PCODE_SHORT_LEN || alpha_value(c) < 0)
			return false;
		out[n++] = c;
	}
	out[n] = '\0';
	if (n != PCODE_SHORT_LEN ||
	    pcode_check_char(out, PCODE_SHORT_DATA) != out[PCODE_SHORT_DATA]) {
		out[0] = '\0';
		return false;
	}
	return true;
}

bool
pcode_long_parse(const char *s)
{
	size_t i;

	if (s == NULL || strnlen(s, PCODE_LONG_LEN + 1) != PCODE_LONG_LEN)
		return false;
	for (i = 0; i < PCODE_LONG_LEN; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		        (s[i] >= 'a' && s[i] <= 'z') ||
		        (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		        s[i] == '_'))
			return false;
	return true;
}

/* --- keys, forms and hashes ---------------------------------------------- */

/* HMAC-SHA256 under K_<label> = HMAC(holder key, label) of msg. */
static enum cs_rc
pcode_mac(const struct svc *svc, const char *label, const void *msg, size_t len,
    uint8_t md[32], struct cs_err *err)
{
	uint8_t key[32];
	unsigned klen = 0, mdlen = 0;
	enum cs_rc rc = CS_OK;

	if (!svc->has_holder_key)
		return cs_err_set(err, CS_ERR_INVALID,
		    "no holder key: codes cannot be made or redeemed");
	if (HMAC(EVP_sha256(), svc->holder_key, sizeof(svc->holder_key),
	        (const unsigned char *)label, strlen(label), key,
	        &klen) == NULL ||
	    klen != 32 ||
	    HMAC(EVP_sha256(), key, sizeof(key), msg, len, md, &mdlen) ==
	        NULL ||
	    mdlen != 32)
		rc = cs_err_ossl(
		    err, CS_ERR_CRYPTO, "cannot compute a code MAC");
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

/* Both forms of code (id, nonce): long, and short normalised. */
static enum cs_rc
pcode_forms(const struct svc *svc, const char *id, const uint8_t nonce[32],
    char long_code[PCODE_LONG_LEN + 1], char short_code[PCODE_SHORT_LEN + 1],
    struct cs_err *err)
{
	/* msg = counter || id || nonce; the long form MACs id || nonce. */
	uint8_t msg[1 + STORE_CODE_MAX + 32], md[32];
	unsigned char b64[48];
	size_t idlen = strnlen(id, STORE_CODE_MAX - 1), n = 0, i;
	enum cs_rc rc;

	msg[0] = 0;
	memcpy(msg + 1, id, idlen);
	memcpy(msg + 1 + idlen, nonce, 32);
	rc = pcode_mac(
	    svc, "certsvc pcode long/1", msg + 1, idlen + 32, md, err);
	if (rc != CS_OK)
		goto out;
	if (EVP_EncodeBlock(b64, md, sizeof(md)) != 44) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "cannot encode a code");
		goto out;
	}
	for (i = 0; i < PCODE_LONG_LEN; i++)
		long_code[i] = b64[i] == '+' ? '-'
		    : b64[i] == '/'          ? '_'
		                             : (char)b64[i];
	long_code[PCODE_LONG_LEN] = '\0';
	/* Uniform characters: bytes below 248 = 8 * 31, others skipped. */
	for (; n < PCODE_SHORT_DATA && rc == CS_OK; msg[0]++) {
		rc = pcode_mac(
		    svc, "certsvc pcode short/1", msg, 1 + idlen + 32, md, err);
		for (i = 0;
		     rc == CS_OK && i < sizeof(md) && n < PCODE_SHORT_DATA; i++)
			if (md[i] < 8 * PCODE_RADIX)
				short_code[n++] =
				    pcode_alphabet[md[i] % PCODE_RADIX];
	}
	if (rc != CS_OK)
		goto out;
	short_code[PCODE_SHORT_DATA] =
	    pcode_check_char(short_code, PCODE_SHORT_DATA);
	short_code[PCODE_SHORT_LEN] = '\0';
out:
	OPENSSL_cleanse(msg, sizeof(msg));
	OPENSSL_cleanse(md, sizeof(md));
	OPENSSL_cleanse(b64, sizeof(b64));
	return rc;
}

static enum cs_rc
hash_long(const char *long_code, uint8_t h[STORE_HASH_LEN], struct cs_err *err)
{
	unsigned len = 0;

	if (EVP_Digest(
	        long_code, PCODE_LONG_LEN, h, &len, EVP_sha256(), NULL) != 1 ||
	    len != STORE_HASH_LEN)
		return cs_err_ossl(err, CS_ERR_CRYPTO, "cannot hash a code");
	return CS_OK;
}

static enum cs_rc
hash_short(const struct svc *svc, const char *short_code,
    uint8_t h[STORE_HASH_LEN], struct cs_err *err)
{
	return pcode_mac(svc, "certsvc pcode short-hash/1", short_code,
	    PCODE_SHORT_LEN, h, err);
}

/* "XXXX-XXXX-XXX" of a normalised short form. */
static void
short_show(const char *s, char out[PCODE_SHORT_SHOWN + 1])
{
	memcpy(out, s, 4);
	out[4] = '-';
	memcpy(out + 5, s + 4, 4);
	out[9] = '-';
	memcpy(out + 10, s + 8, 3);
	out[13] = '\0';
}

static bool
pcode_usable(const struct store_pcode *c, int64_t now)
{
	return strcmp(c->status, "active") == 0 && now < c->expires &&
	    c->uses < c->max_uses;
}

/* --- audit ----------------------------------------------------------- */

/* Append an event: detail is a JSON object (stolen) or NULL. */
static enum cs_rc
pcode_audit(struct store_tx *tx, const char *actor, const char *action,
    const char *id, const char *outcome, json_t *detail, struct cs_err *err)
{
	struct store_audit_event ev = {0};
	char object[STORE_CODE_MAX + 8];
	char *text = NULL;
	enum cs_rc rc;

	snprintf(object, sizeof(object), "code:%s", id[0] != '\0' ? id : "-");
	if (detail != NULL) {
		text = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(detail);
		if (text == NULL)
			return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	}
	ev.actor = actor;
	ev.action = action;
	ev.object = object;
	ev.outcome = outcome;
	ev.detail = text;
	rc = store_audit_append(tx, &ev, NULL, err);
	free(text);
	return rc;
}

/* --- creating, listing, revoking -------------------------------------------
 */

static enum cs_rc
holder_only(const struct client_principal *p, struct cs_err *err)
{
	if (p == NULL || p->role != CLIENT_HOLDER || p->holder_ref[0] == '\0')
		return cs_err_set(
		    err, CS_ERR_DENIED, "only holder clients have codes");
	return CS_OK;
}

/* An optional integer member within [min, max], dflt when absent. */
static enum cs_rc
opt_int(const json_t *req, const char *name, json_int_t min, json_int_t max,
    json_int_t dflt, int64_t *out, struct cs_err *err)
{
	const json_t *v = json_object_get(req, name);

	*out = dflt;
	if (v == NULL)
		return CS_OK;
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max)
		return cs_err_set(err, CS_ERR_INVALID,
		    "%s: must be an integer from %lld to %lld", name,
		    (long long)min, (long long)max);
	*out = json_integer_value(v);
	return CS_OK;
}

/* Parse a create request into c (everything but id, hashes, nonce). */
static enum cs_rc
create_parse(struct svc *svc, const struct client_principal *p,
    const json_t *req, struct store_pcode *c, struct cs_err *err)
{
	static const char *const allowed[] = {
	    "licence_id", "purpose", "relying_party", "ttl", "max_uses", NULL};
	const json_t *rp = json_object_get(req, "relying_party");
	struct store_client vc;
	struct store_licence l;
	const char *lid;
	int64_t ttl;
	enum cs_rc rc;

	rc = jreq_body(req, allowed, err);
	if (rc == CS_OK)
		rc = lifecycle_text(json_object_get(req, "purpose"), "purpose",
		    true, PCODE_PURPOSE_MAX, c->purpose, sizeof(c->purpose),
		    err);
	if (rc == CS_OK)
		rc = opt_int(
		    req, "ttl", 1, PCODE_TTL_MAX, PCODE_TTL_DEFAULT, &ttl, err);
	if (rc == CS_OK)
		rc = opt_int(
		    req, "max_uses", 1, PCODE_USES_MAX, 1, &c->max_uses, err);
	if (rc != CS_OK)
		return rc;
	if (rp != NULL && rp != json_null()) {
		memset(&vc, 0, sizeof(vc));
		if (!json_is_string(rp) ||
		    store_client_get(svc->store, json_string_value(rp), &vc,
		        NULL) != CS_OK ||
		    strcmp(vc.role, "verifier") != 0 ||
		    strcmp(vc.status, "active") != 0)
			rc = cs_err_set(err, CS_ERR_INVALID,
			    "relying_party: must be the id of an active "
			    "verifier client");
		else
			cs_strlcpy(c->rp, vc.id, sizeof(c->rp));
		OPENSSL_cleanse(&vc, sizeof(vc));
		if (rc != CS_OK)
			return rc;
	}
	lid = jreq_str(req, "licence_id");
	if (lid == NULL)
		return cs_err_set(err, CS_ERR_INVALID,
		    "licence_id: required, a licence identifier");
	/* Holders read only their own: another's is "no licence". */
	rc = licence_read(svc, p, lid, 0, &l, err);
	if (rc != CS_OK)
		return rc;
	if (strcmp(l.status, LICENCE_VALID) != 0 ||
	    licence_is_expired(&l, time(NULL)))
		rc = cs_err_set(err, CS_ERR_CONFLICT,
		    "licence '%.96s' is %s: no code can be made for it", l.id,
		    strcmp(l.status, LICENCE_VALID) != 0 ? l.status
		                                         : LICENCE_EXPIRED);
	cs_strlcpy(c->licence_id, l.id, sizeof(c->licence_id));
	store_licence_release(&l);
	if (rc != CS_OK)
		return rc;
	cs_strlcpy(c->holder_ref, p->holder_ref, sizeof(c->holder_ref));
	cs_strlcpy(c->client, p->id, sizeof(c->client));
	cs_strlcpy(c->status, "active", sizeof(c->status));
	c->created = (int64_t)time(NULL);
	c->expires = c->created + ttl;
	return CS_OK;
}

/* One attempt: new id and nonce, derive, hash, store with the event. */
static enum cs_rc
create_once(struct svc *svc, struct pcode_created *out, struct cs_err *err)
{
	struct store_pcode *c = &out->code;
	char short_code[PCODE_SHORT_LEN + 1];
	uint8_t idraw[PCODE_ID_RAW];
	struct store_tx *tx = NULL;
	json_t *detail;
	enum cs_rc rc;

	if (RAND_bytes(idraw, sizeof(idraw)) != 1 ||
	    RAND_bytes(c->nonce, sizeof(c->nonce)) != 1)
		return cs_err_ossl(
		    err, CS_ERR_CRYPTO, "cannot get random bytes");
	memcpy(c->id, "P-", 2);
	cs_hex(idraw, sizeof(idraw), c->id + 2);
	rc = pcode_forms(svc, c->id, c->nonce, out->long_code, short_code, err);
	if (rc == CS_OK)
		rc = hash_long(out->long_code, c->long_hash, err);
	if (rc == CS_OK)
		rc = hash_short(svc, short_code, c->short_hash, err);
	if (rc != CS_OK)
		goto out;
	short_show(short_code, out->short_code);
	/* No holder identifier, no code, no purpose text: the references. */
	detail = json_pack("{s:s,s:I,s:I}", "licence_id", c->licence_id, "ttl",
	    (json_int_t)(c->expires - c->created), "max_uses",
	    (json_int_t)c->max_uses);
	if (detail != NULL && c->rp[0] != '\0')
		json_object_set_new(
		    detail, "relying_party", json_string(c->rp));
	if (detail == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = store_tx_begin(svc->store, &tx, err);
	if (rc != CS_OK) {
		json_decref(detail);
		goto out;
	}
	rc = store_pcode_put(tx, c, err);
	if (rc == CS_OK)
		rc = pcode_audit(
		    tx, c->client, "code.create", c->id, "ok", detail, err);
	else
		json_decref(detail);
	if (rc != CS_OK)
		goto out;
	rc = store_tx_commit(tx, err);
	tx = NULL;
out:
	store_tx_rollback(tx);
	OPENSSL_cleanse(short_code, sizeof(short_code));
	return rc;
}

enum cs_rc
pcode_create(struct svc *svc, const struct client_principal *p,
    const json_t *req, struct pcode_created *out, struct cs_err *err)
{
	enum cs_rc rc;
	int i;

	memset(out, 0, sizeof(*out));
	rc = holder_only(p, err);
	if (rc == CS_OK)
		rc = create_parse(svc, p, req, &out->code, err);
	/* A hash collision with an older code: new nonce, new forms. */
	for (i = 0; rc == CS_OK && i < PCODE_CREATE_TRIES; i++) {
		rc = create_once(svc, out, err);
		if (rc != CS_ERR_CONFLICT)
			break;
		if (i + 1 < PCODE_CREATE_TRIES) {
			cs_err_clear(err);
			rc = CS_OK;
		}
	}
	if (rc != CS_OK)
		OPENSSL_cleanse(out, sizeof(*out));
	return rc;
}

enum cs_rc
pcode_list(struct svc *svc, const struct client_principal *p,
    struct store_pcode **out, size_t *n, struct cs_err *err)
{
	enum cs_rc rc;

	*out = NULL;
	*n = 0;
	rc = holder_only(p, err);
	if (rc != CS_OK)
		return rc;
	return store_pcode_list(
	    svc->store, p->holder_ref, (int64_t)time(NULL), 0, out, n, err);
}

enum cs_rc
pcode_revoke(struct svc *svc, const struct client_principal *p, const char *id,
    struct cs_err *err)
{
	struct store_tx *tx = NULL;
	enum cs_rc rc;

	rc = holder_only(p, err);
	if (rc != CS_OK)
		return rc;
	if (id == NULL || *id == '\0' || strlen(id) >= STORE_CODE_MAX)
		return cs_err_set(err, CS_ERR_NOT_FOUND, "no code");
	rc = store_tx_begin(svc->store, &tx, err);
	if (rc != CS_OK)
		return rc;
	rc = store_pcode_revoke(tx, id, p->holder_ref, 0, err);
	if (rc == CS_ERR_CONFLICT) {
		/* Another holder's, unknown or already revoked: the same. */
		rc = cs_err_set(
		    err, CS_ERR_NOT_FOUND, "no active code '%.40s'", id);
		goto out;
	}
	if (rc == CS_OK)
		rc = pcode_audit(tx, p->id, "code.revoke", id, "ok", NULL, err);
	if (rc != CS_OK)
		goto out;
	rc = store_tx_commit(tx, err);
	tx = NULL;
out:
	store_tx_rollback(tx);
	return rc;
}

enum cs_rc
pcode_long_of(struct svc *svc, const struct client_principal *p, const char *id,
    char out[PCODE_LONG_LEN + 1], struct cs_err *err)
{
	char short_code[PCODE_SHORT_LEN + 1];
	struct store_pcode c;
	enum cs_rc rc;

	out[0] = '\0';
	rc = holder_only(p, err);
	if (rc != CS_OK)
		return rc;
	rc = store_pcode_get(svc->store, id, &c, NULL);
	if (rc == CS_ERR_NOT_FOUND || rc == CS_ERR_INVALID ||
	    (rc == CS_OK &&
	        (strcmp(c.holder_ref, p->holder_ref) != 0 ||
	            !pcode_usable(&c, (int64_t)time(NULL)))))
		rc = cs_err_set(err, CS_ERR_NOT_FOUND, "no active code '%.40s'",
		    id != NULL ? id : "");
	else if (rc != CS_OK)
		rc = cs_err_set(err, rc, "cannot read code '%.40s'", id);
	if (rc == CS_OK)
		rc = pcode_forms(svc, c.id, c.nonce, out, short_code, err);
	OPENSSL_cleanse(short_code, sizeof(short_code));
	OPENSSL_cleanse(&c, sizeof(c));
	if (rc != CS_OK)
		OPENSSL_cleanse(out, PCODE_LONG_LEN + 1);
	return rc;
}

/* --- redemption ---------------------------------------------------------- */

struct redeem {
	struct svc *svc;
	const struct client_principal *p;
	const char *source;
	const char *form; /* "long", "short" or "none" */
	int64_t now;
	struct store_pcode code;  /* when found */
	struct store_licence lic; /* its newest version, when read */
	enum redeem_why why;
};

/* Find the code r->p presented and check everything but the use count. */
static enum cs_rc
redeem_find(struct redeem *r, const char *text, struct cs_err *err)
{
	char short_code[PCODE_SHORT_LEN + 1];
	uint8_t h[STORE_HASH_LEN];
	bool is_short = false, allowed = false;
	enum cs_rc rc;

	r->why = WHY_MALFORMED;
	r->form = "none";
	if (pcode_long_parse(text)) {
		r->form = "long";
		rc = hash_long(text, h, err);
	} else if (pcode_short_parse(text, short_code)) {
		r->form = "short";
		is_short = true;
		rc = hash_short(r->svc, short_code, h, err);
	} else
		return CS_OK;
	OPENSSL_cleanse(short_code, sizeof(short_code));
	if (rc != CS_OK)
		return rc;
	r->why = WHY_UNKNOWN;
	rc = store_pcode_by_hash(r->svc->store, is_short, h, &r->code, err);
	if (rc == CS_ERR_NOT_FOUND) {
		cs_err_clear(err);
		return CS_OK;
	}
	if (rc != CS_OK)
		return rc;
	if (CRYPTO_memcmp(is_short ? r->code.short_hash : r->code.long_hash, h,
	        STORE_HASH_LEN) != 0)
		return CS_OK;
	if (strcmp(r->code.status, "active") != 0)
		r->why = WHY_REVOKED;
	else if (r->now >= r->code.expires)
		r->why = WHY_EXPIRED;
	else if (r->code.uses >= r->code.max_uses)
		r->why = WHY_USED_UP;
	else if (r->code.rp[0] != '\0' && strcmp(r->code.rp, r->p->id) != 0)
		r->why = WHY_OTHER_RP;
	else
		r->why = WHY_OK;
	if (r->why != WHY_OK)
		return CS_OK;
	rc = store_licence_get(
	    r->svc->store, r->code.licence_id, 0, &r->lic, err);
	if (rc == CS_ERR_NOT_FOUND) {
		cs_err_clear(err);
		r->why = WHY_LICENCE;
		return CS_OK;
	}
	if (rc != CS_OK)
		return rc;
	if (strcmp(r->lic.holder_ref, r->code.holder_ref) != 0 ||
	    strcmp(r->lic.status, LICENCE_VALID) != 0 ||
	    licence_is_expired(&r->lic, (time_t)r->now)) {
		r->why = WHY_LICENCE;
		return CS_OK;
	}
	rc = store_client_type_allowed(
	    r->svc->store, r->p->id, r->lic.type, &allowed, err);
	if (rc != CS_OK)
		return rc;
	if (!allowed)
		r->why = WHY_USAGE_LIST;
	return CS_OK;
}

/* The refusal: its audit event in a transaction of its own, the counts. */
static enum cs_rc
redeem_refuse(struct redeem *r, struct cs_err *err)
{
	struct code_limiter *lim = r->svc->code_limits;
	struct store_tx *tx = NULL;
	json_t *detail;
	enum cs_rc rc;

	if (lim != NULL) {
		ratelimit_fail(lim->client, r->p->id, strlen(r->p->id), r->now);
		if (r->source[0] != '\0')
			ratelimit_fail(
			    lim->addr, r->source, strlen(r->source), r->now);
	}
	detail = json_pack("{s:s,s:s}", "form", r->form, "source", r->source);
	if (detail == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	rc = store_tx_begin(r->svc->store, &tx, err);
	if (rc != CS_OK) {
		json_decref(detail);
		return rc;
	}
	rc = pcode_audit(tx, r->p->id, "code.redeem",
	    r->why == WHY_MALFORMED || r->why == WHY_UNKNOWN ? "" : r->code.id,
	    why_names[r->why], detail, err);
	if (rc == CS_OK)
		rc = store_tx_commit(tx, err);
	else
		store_tx_rollback(tx);
	if (rc != CS_OK)
		return rc;
	return cs_err_set(err, CS_ERR_NOT_FOUND, PCODE_REFUSED);
}

/* What redeem_use() writes. */
struct redeem_use {
	const struct redeem *r;
	const struct store_usage *u;
	json_t *detail; /* taken by pcode_audit() */
};

/* The use, its usage record and its event (a txbatch_write_fn). */
static enum cs_rc
redeem_use(struct svc *svc, struct store_tx *tx, void *arg, struct cs_err *err)
{
	struct redeem_use *w = arg;
	json_t *detail = w->detail;
	enum cs_rc rc;

	(void)svc;
	w->detail = NULL;
	rc = store_pcode_use(tx, w->r->code.id, w->r->now, err);
	if (rc == CS_OK)
		rc = store_usage_put(tx, w->u, err);
	if (rc != CS_OK) {
		json_decref(detail);
		return rc;
	}
	return pcode_audit(
	    tx, w->r->p->id, "code.redeem", w->r->code.id, "ok", detail, err);
}

/*
 * Count the use, write the usage record and the event: one transaction,
 * shared with the other redemptions and issuances of the moment (group
 * commit, txbatch.h), the use count still guarded in it.
 */
static enum cs_rc
redeem_write(struct redeem *r, const char *report_id, char *usage_id,
    size_t usz, struct cs_err *err)
{
	struct redeem_use w;
	struct store_usage u;
	uint8_t raw[8];
	enum cs_rc rc;

	memset(&u, 0, sizeof(u));
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return cs_err_ossl(
		    err, CS_ERR_CRYPTO, "cannot get random bytes");
	memcpy(u.id, "U-", 2);
	cs_hex(raw, sizeof(raw), u.id + 2);
	cs_strlcpy(u.code_id, r->code.id, sizeof(u.code_id));
	cs_strlcpy(u.licence_id, r->lic.id, sizeof(u.licence_id));
	u.version = r->lic.version;
	cs_strlcpy(u.type, r->lic.type, sizeof(u.type));
	cs_strlcpy(u.dept, r->lic.dept, sizeof(u.dept));
	cs_strlcpy(u.holder_ref, r->code.holder_ref, sizeof(u.holder_ref));
	cs_strlcpy(u.rp, r->p->id, sizeof(u.rp));
	cs_strlcpy(u.purpose, r->code.purpose, sizeof(u.purpose));
	cs_strlcpy(u.report_id, report_id, sizeof(u.report_id));
	u.time = r->now;
	w.r = r;
	w.u = &u;
	w.detail = json_pack("{s:s,s:i,s:s,s:s,s:s}", "licence_id",
	    u.licence_id, "version", u.version, "usage_id", u.id, "report_id",
	    u.report_id, "source", r->source);
	if (w.detail == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	rc = txbatch_run(r->svc, redeem_use, &w, err);
	json_decref(w.detail); /* when the write never ran */
	if (rc == CS_OK)
		cs_strlcpy(usage_id, u.id, usz);
	return rc;
}

/*
 * The code text of a redemption body {"code": string} into *code (req's,
 * either form or anything: redeem_find() tells); else CS_ERR_INVALID.
 */
static enum cs_rc
redeem_parse(const json_t *req, const char **code, struct cs_err *err)
{
	static const char *const allowed[] = {"code", NULL};
	const json_t *c = json_object_get(req, "code");
	enum cs_rc rc;

	*code = NULL;
	rc = jreq_body(req, allowed, err);
	if (rc != CS_OK)
		return rc;
	if (!json_is_string(c))
		return cs_err_set(err, CS_ERR_INVALID,
		    "code: required, a string (either form of a code)");
	*code = json_string_value(c);
	return CS_OK;
}

enum cs_rc
pcode_redeem(struct svc *svc, const struct client_principal *p,
    const char *source, const json_t *req, json_t **out, unsigned *retry_after,
    struct cs_err *err)
{
	struct code_limiter *lim = svc->code_limits;
	char usage_id[STORE_CODE_MAX];
	json_t *vreq = NULL, *ans = NULL;
	struct report_key *key = NULL;
	const char *rid, *code;
	struct redeem r;
	unsigned wait = 0, w;
	enum cs_rc rc;

	*out = NULL;
	*retry_after = 0;
	if (p == NULL || p->role != CLIENT_VERIFIER)
		return cs_err_set(
		    err, CS_ERR_DENIED, "only verifier clients redeem codes");
	rc = redeem_parse(req, &code, err);
	if (rc != CS_OK)
		return rc;
	memset(&r, 0, sizeof(r));
	r.svc = svc;
	r.p = p;
	r.source = source != NULL ? source : "";
	r.now = (int64_t)time(NULL);
	if (lim != NULL) {
		wait =
		    ratelimit_check(lim->client, p->id, strlen(p->id), r.now);
		w = r.source[0] != '\0' ? ratelimit_check(lim->addr, r.source,
		                              strlen(r.source), r.now)
		                        : 0;
		if (w > wait)
			wait = w;
	}
	if (wait > 0) {
		*retry_after = wait;
		return cs_err_set(err, CS_ERR_DENIED,
		    "too many failed redemptions: retry after %u seconds",
		    wait);
	}
	/*
	 * No report key yet (just after start): 503 for every code, so that
	 * a good code does not answer differently from a bad one.
	 */
	rc = report_key_get(svc, &key, err);
	if (rc != CS_OK)
		return rc;
	report_key_put(key);
	rc = redeem_find(&r, code, err);
	if (rc != CS_OK)
		goto out;
	if (r.why != WHY_OK) {
		rc = redeem_refuse(&r, err);
		goto out;
	}
	/* The report first: a use is never counted without its answer. */
	vreq = json_pack(
	    "{s:s,s:i}", "licence_id", r.lic.id, "version", r.lic.version);
	if (vreq == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = verify_request(svc, p, vreq, &ans, err);
	if (rc != CS_OK)
		goto out;
	rid = json_string_value(
	    json_object_get(json_object_get(ans, "report"), "id"));
	rc = redeem_write(
	    &r, rid != NULL ? rid : "", usage_id, sizeof(usage_id), err);
	if (rc == CS_ERR_CONFLICT) {
		/* A concurrent redemption took the last use, or a revocation.
		 */
		cs_err_clear(err);
		r.why = WHY_USED_UP;
		rc = redeem_refuse(&r, err);
	}
	if (rc != CS_OK)
		goto out;
	if (json_object_set_new(ans, "envelope", licence_envelope(&r.lic)) !=
	        0 ||
	    json_object_set_new(ans, "purpose", json_string(r.code.purpose)) !=
	        0 ||
	    json_object_set_new(ans, "code_id", json_string(r.code.id)) != 0 ||
	    json_object_set_new(ans, "usage_id", json_string(usage_id)) != 0) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	*out = ans;
	ans = NULL;
out:
	json_decref(vreq);
	json_decref(ans);
	store_licence_release(&r.lic);
	OPENSSL_cleanse(&r.code, sizeof(r.code));
	return rc;
}

/* --- usage records, JSON, limits ---------------------------------------- */

enum cs_rc
pcode_usage_list(struct svc *svc, const struct client_principal *p,
    const char *licence_id, struct store_usage **out, size_t *n,
    struct cs_err *err)
{
	*out = NULL;
	*n = 0;
	if (licence_id != NULL && strlen(licence_id) >= STORE_LICENCE_ID_MAX)
		return cs_err_set(err, CS_ERR_INVALID,
		    "licence: at most %d bytes", STORE_LICENCE_ID_MAX - 1);
	if (p != NULL && p->role == CLIENT_HOLDER)
		return store_usage_list(svc->store, p->holder_ref, NULL,
		    licence_id, 0, out, n, err);
	if (p != NULL && p->role == CLIENT_ISSUER)
		return store_usage_list(
		    svc->store, NULL, p->dept, licence_id, 0, out, n, err);
	return cs_err_set(
	    err, CS_ERR_DENIED, "only holders and issuers list usage records");
}

json_t *
pcode_json(const struct store_pcode *c)
{
	char created[32], expires[32];

	cs_time_utc(c->created, created, sizeof(created));
	cs_time_utc(c->expires, expires, sizeof(expires));
	return json_pack("{s:s,s:s,s:s,s:o,s:s,s:s,s:I,s:I,s:s}", "id", c->id,
	    "licence_id", c->licence_id, "purpose", c->purpose, "relying_party",
	    c->rp[0] != '\0' ? json_string(c->rp) : json_null(), "created",
	    created, "expires", expires, "max_uses", (json_int_t)c->max_uses,
	    "uses", (json_int_t)c->uses, "status", c->status);
}

json_t *
pcode_usage_json(const struct store_usage *u)
{
	char t[32];

	cs_time_utc(u->time, t, sizeof(t));
	return json_pack("{s:s,s:s,s:s,s:i,s:s,s:s,s:{s:s,s:s},s:s,s:s,s:s}",
	    "id", u->id, "code_id", u->code_id, "licence_id", u->licence_id,
	    "version", u->version, "type", u->type, "issuer", u->dept,
	    "relying_party", "id", u->rp, "name", u->rp_name, "purpose",
	    u->purpose, "report_id", u->report_id, "time", t);
}

enum cs_rc
pcode_limits_init(struct svc *svc, struct cs_err *err)
{
	struct code_limiter *lim;
	enum cs_rc rc;

	lim = calloc(1, sizeof(*lim));
	if (lim == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	rc = ratelimit_new(svc->cfg.code_fail_limit_client,
	    svc->cfg.code_fail_window_seconds, PCODE_LIMITER_SLOTS,
	    &lim->client, err);
	if (rc == CS_OK)
		rc = ratelimit_new(svc->cfg.code_fail_limit_addr,
		    svc->cfg.code_fail_window_seconds, PCODE_LIMITER_SLOTS,
		    &lim->addr, err);
	if (rc != CS_OK) {
		ratelimit_free(lim->client);
		free(lim);
		return rc;
	}
	svc->code_limits = lim;
	return CS_OK;
}

void
pcode_limits_free(struct svc *svc)
{
	if (svc == NULL || svc->code_limits == NULL)
		return;
	ratelimit_free(svc->code_limits->client);
	ratelimit_free(svc->code_limits->addr);
	free(svc->code_limits);
	svc->code_limits = NULL;
}
