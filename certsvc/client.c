/*
 * client.c: API clients, their bearer tokens and holder references.
 *
 * A secret is "cs_" + base64url (no padding) of 32 bytes from RAND_bytes:
 * 46 characters, shown once.  Only SHA-256 of the whole secret string is
 * stored; a plain hash suffices because the input has 256 bits of
 * entropy, so there is nothing to brute-force.  Every copy of a secret
 * made here is wiped on every path; the caller wipes the one it is given.
 *
 * Authentication answers CS_ERR_AUTH with one message for a missing,
 * malformed, unknown or revoked token, so the answer says nothing about
 * which tokens exist.  A failing store is not the token's fault and
 * keeps its own code (500), as it says nothing about the token either.
 * The scheme name is case-insensitive (RFC 7235 section 2.1) and may be
 * followed by one or more spaces (RFC 6750 section 2.1: "Bearer" 1*SP
 * b64token).
 *
 * Principals are cached (svc->clients) by the SHA-256 of the secret, the
 * key of the store's lookup, for CLIENT_CACHE_TTL_NS at most.  Every
 * request still reads the store's "clients" generation, which a trigger
 * moves in the transaction that revokes (or otherwise changes) a client,
 * whichever process commits it; a request that sees a new generation
 * empties the cache first, so a client revoked by certsvc-admin is
 * refused by the next request certsvcd reads after the commit.  New
 * clients leave the generation alone: issuance adds a holder client per
 * licence, and only answers that were active are cached.  The one-row
 * generation read is cheaper than the client lookup it replaces because
 * it touches fewer pages, which every commit of another connection makes
 * SQLite read again.
 *
 * client_add_tx() writes no audit event: it serves a caller (issuance)
 * whose own event in the same transaction covers the token it hands out.
 * client_add() writes "client.add".  Neither event holds the secret.
 *
 * Holder references are HMAC-SHA256 under the service's holder key of
 * "<id_type>:<id_number>", so licences can be found by holder without
 * keeping identifiers in clear outside the sealed documents; without the
 * key a reference cannot be tested against guessed identifiers.  The id
 * types are resident_id, passport, credit_code and other; resident ids
 * and credit codes are upper-cased first (a resident id's check character
 * 'x' is 'X'), so one person gets one reference however it was typed.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "certsvc/client.h"
#include "certsvc/mem.h"

#define CLIENT_SECRET_PREFIX "cs_"
#define CLIENT_SECRET_PREFIX_LEN 3
#define CLIENT_SECRET_RAW 32
#define CLIENT_SECRET_B64 43 /* base64url of 32 bytes, no padding */
#define CLIENT_SECRET_LEN (CLIENT_SECRET_PREFIX_LEN + CLIENT_SECRET_B64)
#define CLIENT_ID_RAW 8 /* "C-" + 16 hex */
#define CLIENT_ID_LEN (2 + 2 * CLIENT_ID_RAW)
#define CLIENT_NAME_MAX 128
#define HOLDER_REF_LEN 64 /* hex of HMAC-SHA256 */
#define HOLDER_ID_MAX 64
#define HOLDER_TYPE_MAX 16
#define CLIENT_CACHE_SLOTS 256 /* direct-mapped on the hash's first byte */
#define CLIENT_CACHE_TTL_NS (5ULL * 1000000000ULL)

struct client_cache_entry {
	uint8_t hash[STORE_HASH_LEN]; /* SHA-256 of the secret */
	uint64_t expires;             /* 0: empty */
	struct client_principal p;
};

struct client_cache {
	pthread_mutex_t mu;
	int64_t gen; /* the newest "clients" generation seen */
	struct client_cache_entry e[CLIENT_CACHE_SLOTS];
};

static const char auth_fail[] = "missing or invalid bearer token";

static const char *const holder_id_types[] = {
    "resident_id", "passport", "credit_code", "other", NULL};

/* --- roles --------------------------------------------------------------- */

bool
client_role_parse(const char *name, enum client_role *role)
{
	if (name == NULL)
		return false;
	if (strcmp(name, "issuer") == 0)
		*role = CLIENT_ISSUER;
	else if (strcmp(name, "verifier") == 0)
		*role = CLIENT_VERIFIER;
	else if (strcmp(name, "holder") == 0)
		*role = CLIENT_HOLDER;
	else
		return false;
	return true;
}

/* The role's name, or "unknown" for a value outside the enum. */
const char *
client_role_name(enum client_role role)
{
	switch (role) {
	case CLIENT_ISSUER:
		return "issuer";
	case CLIENT_VERIFIER:
		return "verifier";
	case CLIENT_HOLDER:
		return "holder";
	}
	return "unknown";
}

/* --- helpers ------------------------------------------------------------- */

static bool
b64url_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/*
 * base64url (RFC 4648 section 5) of n bytes without padding into out,
 * which has room for (4n + 2) / 3 + 1 bytes.
 */
static void
b64url_encode(const uint8_t *in, size_t n, char *out)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                          "abcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		    in[i + 2];
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
		out[o++] = tab[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)in[i] << 16;
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
	} else if (n - i == 2) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
	}
	out[o] = '\0';
}

static bool
hex_lower(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		        (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[n] == '\0';
}

/* A name shown to administrators: 1-128 bytes, no ASCII controls. */
static bool
client_name_ok(const char *name)
{
	size_t i, n = name == NULL ? 0 : strlen(name);

	if (n == 0 || n > CLIENT_NAME_MAX)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return false;
	return true;
}

static enum cs_rc
sha256(const void *p, size_t n, uint8_t md[STORE_HASH_LEN], struct cs_err *err)
{
	unsigned mdlen = 0;

	if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != STORE_HASH_LEN)
		return cs_err_ossl(err, CS_ERR_CRYPTO, "cannot hash secret");
	return CS_OK;
}

/* Check what a client of role may have; NULL and "" are the same. */
static enum cs_rc
client_args_check(enum client_role role, const char *name, const char *dept,
    const char *holder_ref, struct cs_err *err)
{
	bool has_dept = dept != NULL && *dept != '\0';
	bool has_ref = holder_ref != NULL && *holder_ref != '\0';

	if (role != CLIENT_ISSUER && role != CLIENT_VERIFIER &&
	    role != CLIENT_HOLDER)
		return cs_err_set(err, CS_ERR_INVALID,
		    "client role must be issuer, verifier or holder");
	if (!client_name_ok(name))
		return cs_err_set(err, CS_ERR_INVALID,
		    "client name must be 1 to %d bytes without control "
		    "characters",
		    CLIENT_NAME_MAX);
	if (role == CLIENT_ISSUER && !has_dept)
		return cs_err_set(
		    err, CS_ERR_INVALID, "an issuer client needs a department");
	if (role != CLIENT_ISSUER && has_dept)
		return cs_err_set(err, CS_ERR_INVALID,
		    "only issuer clients have a department");
	if (has_dept && strlen(dept) >= STORE_CODE_MAX)
		return cs_err_set(
		    err, CS_ERR_NOT_FOUND, "department not found");
	if (role == CLIENT_HOLDER && !has_ref)
		return cs_err_set(
		    err, CS_ERR_INVALID, "a holder client needs a holder_ref");
	if (role != CLIENT_HOLDER && has_ref)
		return cs_err_set(err, CS_ERR_INVALID,
		    "only holder clients have a holder_ref");
	if (has_ref &&
	    (strlen(holder_ref) != HOLDER_REF_LEN ||
	        !hex_lower(holder_ref, HOLDER_REF_LEN)))
		return cs_err_set(err, CS_ERR_INVALID,
		    "holder_ref must be %d lower-case hex digits",
		    HOLDER_REF_LEN);
	return CS_OK;
}

/* --- adding -------------------------------------------------------------- */

enum cs_rc
client_add_tx(struct svc *svc, struct store_tx *tx, enum client_role role,
    const char *name, const char *dept, const char *holder_ref, char *id,
    size_t idsz, char *secret, size_t secretsz, struct cs_err *err)
{
	uint8_t raw[CLIENT_SECRET_RAW], idraw[CLIENT_ID_RAW];
	char sec[CLIENT_SECRET_LEN + 1];
	struct store_client c;
	enum cs_rc rc;

	(void)svc; /* the store is reached through tx */
	memset(&c, 0, sizeof(c));
	if (id != NULL && idsz > 0)
		id[0] = '\0';
	if (secret != NULL && secretsz > 0)
		secret[0] = '\0';
	if (id == NULL || idsz <= CLIENT_ID_LEN || secret == NULL ||
	    secretsz < CLIENT_SECRET_MAX)
		return cs_err_set(err, CS_ERR_INVALID,
		    "client id or secret buffer too small");
	if (tx == NULL)
		return cs_err_set(err, CS_ERR_INVALID, "no transaction");
	rc = client_args_check(role, name, dept, holder_ref, err);
	if (rc != CS_OK)
		return rc;

	if (RAND_bytes(idraw, sizeof(idraw)) != 1 ||
	    RAND_bytes(raw, sizeof(raw)) != 1) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "cannot get random bytes");
		goto out;
	}
	memcpy(c.id, "C-", 2);
	cs_hex(idraw, sizeof(idraw), c.id + 2);
	memcpy(sec, CLIENT_SECRET_PREFIX, CLIENT_SECRET_PREFIX_LEN);
	b64url_encode(raw, sizeof(raw), sec + CLIENT_SECRET_PREFIX_LEN);
	rc = sha256(sec, CLIENT_SECRET_LEN, c.secret_hash, err);
	if (rc != CS_OK)
		goto out;
	/* Checked above: each fits. */
	cs_strlcpy(c.name, name, sizeof(c.name));
	cs_strlcpy(c.role, client_role_name(role), sizeof(c.role));
	if (role == CLIENT_ISSUER)
		cs_strlcpy(c.dept, dept, sizeof(c.dept));
	if (role == CLIENT_HOLDER)
		cs_strlcpy(c.holder_ref, holder_ref, sizeof(c.holder_ref));
	cs_strlcpy(c.status, "active", sizeof(c.status));
	/* An issuer's unknown department: "department 'X' not found". */
	rc = store_client_put(tx, &c, err);
	if (rc != CS_OK)
		goto out;
	cs_strlcpy(id, c.id, idsz);
	memcpy(secret, sec, sizeof(sec));
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(sec, sizeof(sec));
	OPENSSL_cleanse(&c, sizeof(c));
	return rc;
}

/* The audit detail of a new client: who it is, never its secret. */
static enum cs_rc
client_detail(enum client_role role, const char *name, const char *dept,
    const char *const *types, size_t ntypes, char **out, struct cs_err *err)
{
	json_t *obj, *arr = NULL;
	size_t i;

	*out = NULL;
	obj = json_pack(
	    "{s:s, s:s}", "role", client_role_name(role), "name", name);
	if (obj != NULL && role == CLIENT_ISSUER &&
	    json_object_set_new(obj, "dept", json_string(dept)) != 0) {
		json_decref(obj);
		obj = NULL;
	}
	if (obj != NULL && role == CLIENT_VERIFIER)
		arr = json_array();
	for (i = 0; arr != NULL && i < ntypes; i++)
		json_array_append_new(arr, json_string(types[i]));
	if (arr != NULL && json_object_set_new(obj, "types", arr) != 0) {
		json_decref(obj);
		obj = NULL;
	}
	if (obj != NULL)
		*out = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(obj);
	if (*out == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	return CS_OK;
}

/* client_add() with a verifier's usage list (types, ntypes). */
static enum cs_rc
client_add_with(struct svc *svc, enum client_role role, const char *name,
    const char *dept, const char *holder_ref, const char *const *types,
    size_t ntypes, const char *actor, char *id, size_t idsz, char *secret,
    size_t secretsz, struct cs_err *err)
{
	struct store_audit_event ev = {0};
	struct store_tx *tx = NULL;
	char object[STORE_CODE_MAX + 8];
	char *detail = NULL;
	enum cs_rc rc;

	if (svc == NULL || svc->store == NULL)
		return cs_err_set(err, CS_ERR_INVALID, "store is not open");
	rc = client_args_check(role, name, dept, holder_ref, err);
	if (rc != CS_OK)
		return rc;
	if (ntypes > 0 && role != CLIENT_VERIFIER)
		return cs_err_set(err, CS_ERR_INVALID,
		    "only verifier clients have a usage list");
	rc = client_detail(role, name, dept, types, ntypes, &detail, err);
	if (rc != CS_OK)
		return rc;
	rc = store_tx_begin(svc->store, &tx, err);
	if (rc != CS_OK)
		goto out;
	rc = client_add_tx(svc, tx, role, name, dept, holder_ref, id, idsz,
	    secret, secretsz, err);
	if (rc != CS_OK)
		goto out;
	if (ntypes > 0)
		rc = store_client_types_put(tx, id, types, ntypes, err);
	if (rc != CS_OK)
		goto out;
	snprintf(object, sizeof(object), "client:%s", id);
	ev.actor = actor;
	ev.action = "client.add";
	ev.object = object;
	ev.outcome = "ok";
	ev.detail = detail;
	rc = store_audit_append(tx, &ev, NULL, err);
	if (rc != CS_OK)
		goto out;
	rc = store_tx_commit(tx, err);
	tx = NULL;
out:
	store_tx_rollback(tx);
	free(detail);
	if (rc != CS_OK && secret != NULL && secretsz > 0) {
		/* A secret whose client was not stored must not be shown. */
		OPENSSL_cleanse(secret, secretsz);
		secret[0] = '\0';
		if (id != NULL && idsz > 0)
			id[0] = '\0';
	}
	return rc;
}

enum cs_rc
client_add(struct svc *svc, enum client_role role, const char *name,
    const char *dept, const char *holder_ref, const char *actor, char *id,
    size_t idsz, char *secret, size_t secretsz, struct cs_err *err)
{
	return client_add_with(svc, role, name, dept, holder_ref, NULL, 0,
	    actor, id, idsz, secret, secretsz, err);
}

enum cs_rc
client_add_verifier(struct svc *svc, const char *name, const char *const *types,
    size_t ntypes, const char *actor, char *id, size_t idsz, char *secret,
    size_t secretsz, struct cs_err *err)
{
	return client_add_with(svc, CLIENT_VERIFIER, name, NULL, NULL, types,
	    ntypes, actor, id, idsz, secret, secretsz, err);
}

/* --- authentication ------------------------------------------------------ */

/*
 * The secret in an Authorization value, or NULL: "Bearer" in any case,
 * one or more spaces, then exactly a secret of ours.
 */
static const char *
bearer_secret(const char *authorization)
{
	const char *s;
	size_t i;

	if (authorization == NULL ||
	    strncasecmp(authorization, "Bearer", 6) != 0 ||
	    authorization[6] != ' ')
		return NULL;
	s = authorization + 6;
	while (*s == ' ')
		s++;
	if (strnlen(s, CLIENT_SECRET_LEN + 1) != CLIENT_SECRET_LEN ||
	    memcmp(s, CLIENT_SECRET_PREFIX, CLIENT_SECRET_PREFIX_LEN) != 0)
		return NULL;
	for (i = CLIENT_SECRET_PREFIX_LEN; i < CLIENT_SECRET_LEN; i++)
		if (!b64url_char(s[i]))
			return NULL;
	return s;
}

enum cs_rc
client_cache_init(struct svc *svc, struct cs_err *err)
{
	struct client_cache *c;

	c = CS_LOCKED_NEW(struct client_cache);
	if (c == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	svc->clients = c;
	return CS_OK;
}

void
client_cache_free(struct svc *svc)
{
	if (svc == NULL || svc->clients == NULL)
		return;
	pthread_mutex_destroy(&svc->clients->mu);
	OPENSSL_clear_free(svc->clients, sizeof(*svc->clients));
	svc->clients = NULL;
}

/*
 * The cached principal of hash into *p when there is one and gen, just
 * read from the store, is the cache's; a newer gen empties the cache.
 */
static bool
client_cache_get(struct client_cache *c, const uint8_t *hash, int64_t gen,
    struct client_principal *p)
{
	struct client_cache_entry *e = &c->e[hash[0] % CLIENT_CACHE_SLOTS];
	bool hit = false;

	pthread_mutex_lock(&c->mu);
	if (gen > c->gen) {
		OPENSSL_cleanse(c->e, sizeof(c->e));
		c->gen = gen;
	}
	if (gen == c->gen && e->expires > cs_now_ns() &&
	    CRYPTO_memcmp(e->hash, hash, STORE_HASH_LEN) == 0) {
		*p = e->p;
		hit = true;
	}
	pthread_mutex_unlock(&c->mu);
	return hit;
}

/*
 * Remember p for hash, read from rows no older than generation gen.  An
 * older gen than the cache's may predate a revocation: not kept.
 */
static void
client_cache_put(struct client_cache *c, const uint8_t *hash, int64_t gen,
    const struct client_principal *p)
{
	struct client_cache_entry *e = &c->e[hash[0] % CLIENT_CACHE_SLOTS];

	pthread_mutex_lock(&c->mu);
	if (gen == c->gen) {
		memcpy(e->hash, hash, STORE_HASH_LEN);
		e->p = *p;
		e->expires = cs_now_ns() + CLIENT_CACHE_TTL_NS;
	}
	pthread_mutex_unlock(&c->mu);
}

enum cs_rc
client_authenticate(struct svc *svc, const char *authorization,
    struct client_principal *p, struct cs_err *err)
{
	uint8_t hash[STORE_HASH_LEN];
	struct store_client c;
	struct cs_err e = {0};
	const char *secret;
	bool use_cache = false;
	int64_t gen = 0;
	enum cs_rc rc;

	memset(p, 0, sizeof(*p));
	memset(&c, 0, sizeof(c));
	if (svc == NULL || svc->store == NULL)
		return cs_err_set(err, CS_ERR_INVALID, "store is not open");
	secret = bearer_secret(authorization);
	if (secret == NULL)
		return cs_err_set(err, CS_ERR_AUTH, "%s", auth_fail);
	rc = sha256(secret, CLIENT_SECRET_LEN, hash, err);
	if (rc != CS_OK)
		goto out;
	/* Read before the row: what is cached is no older than gen. */
	if (svc->clients != NULL &&
	    store_generation(svc->store, "clients", &gen, NULL) == CS_OK) {
		use_cache = true;
		if (client_cache_get(svc->clients, hash, gen, p))
			goto out;
	}
	/* Without a generation the row decides alone, and is not kept. */
	rc = store_client_by_hash(svc->store, hash, &c, &e);
	if (rc == CS_ERR_NOT_FOUND) {
		rc = cs_err_set(err, CS_ERR_AUTH, "%s", auth_fail);
		goto out;
	}
	if (rc != CS_OK) {
		rc = cs_err_set(err, rc, "%s", e.msg);
		goto out;
	}
	if (CRYPTO_memcmp(c.secret_hash, hash, STORE_HASH_LEN) != 0 ||
	    strcmp(c.status, "active") != 0 ||
	    !client_role_parse(c.role, &p->role)) {
		memset(p, 0, sizeof(*p));
		rc = cs_err_set(err, CS_ERR_AUTH, "%s", auth_fail);
		goto out;
	}
	cs_strlcpy(p->id, c.id, sizeof(p->id));
	cs_strlcpy(p->dept, c.dept, sizeof(p->dept));
	cs_strlcpy(p->holder_ref, c.holder_ref, sizeof(p->holder_ref));
	if (use_cache)
		client_cache_put(svc->clients, hash, gen, p);
out:
	OPENSSL_cleanse(hash, sizeof(hash));
	OPENSSL_cleanse(&c, sizeof(c));
	return rc;
}

/* --- revoking and listing ----------------------------------------------- */

enum cs_rc
client_revoke(
    struct svc *svc, const char *id, const char *actor, struct cs_err *err)
{
	struct store_audit_event ev = {0};
	struct store_tx *tx = NULL;
	char object[STORE_CODE_MAX + 8];
	enum cs_rc rc;

	if (svc == NULL || svc->store == NULL)
		return cs_err_set(err, CS_ERR_INVALID, "store is not open");
	if (id == NULL || *id == '\0' || strlen(id) >= STORE_CODE_MAX)
		return cs_err_set(err, CS_ERR_INVALID,
		    "client id must have 1 to %d bytes", STORE_CODE_MAX - 1);
	snprintf(object, sizeof(object), "client:%s", id);
	ev.actor = actor;
	ev.action = "client.revoke";
	ev.object = object;
	ev.outcome = "ok";
	rc = store_tx_begin(svc->store, &tx, err);
	if (rc != CS_OK)
		goto out;
	rc = store_client_revoke(tx, id, 0, err);
	if (rc != CS_OK)
		goto out;
	rc = store_audit_append(tx, &ev, NULL, err);
	if (rc != CS_OK)
		goto out;
	rc = store_tx_commit(tx, err);
	tx = NULL;
out:
	store_tx_rollback(tx);
	return rc;
}

enum cs_rc
client_list(
    struct svc *svc, struct store_client **out, size_t *n, struct cs_err *err)
{
	if (svc == NULL || svc->store == NULL) {
		*out = NULL;
		*n = 0;
		return cs_err_set(err, CS_ERR_INVALID, "store is not open");
	}
	return store_client_list(svc->store, out, n, err);
}

/* --- holders ------------------------------------------------------------- */

enum cs_rc
holder_ref_make(const struct svc *svc, const char *id_type,
    const char *id_number, char *out, size_t outsz, struct cs_err *err)
{
	char msg[HOLDER_TYPE_MAX + 1 + HOLDER_ID_MAX + 1];
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	enum cs_rc rc = CS_OK;
	bool upper;
	size_t i, n, t;

	if (out != NULL && outsz > 0)
		out[0] = '\0';
	if (out == NULL || outsz <= HOLDER_REF_LEN)
		return cs_err_set(
		    err, CS_ERR_INVALID, "holder_ref buffer too small");
	if (svc == NULL || !svc->has_holder_key)
		return cs_err_set(err, CS_ERR_INVALID,
		    "no holder key: holder references cannot be made");
	for (t = 0; holder_id_types[t] != NULL; t++)
		if (id_type != NULL && strcmp(id_type, holder_id_types[t]) == 0)
			break;
	if (holder_id_types[t] == NULL)
		return cs_err_set(err, CS_ERR_INVALID,
		    "holder id_type must be one of resident_id, passport, "
		    "credit_code, other");
	/* The number itself never goes into a message. */
	n = id_number == NULL ? 0 : strnlen(id_number, HOLDER_ID_MAX + 1);
	if (n == 0 || n > HOLDER_ID_MAX)
		return cs_err_set(err, CS_ERR_INVALID,
		    "holder id_number must be 1 to %d printable ASCII "
		    "characters",
		    HOLDER_ID_MAX);
	for (i = 0; i < n; i++)
		if (id_number[i] <= 0x20 || id_number[i] >= 0x7f)
			return cs_err_set(err, CS_ERR_INVALID,
			    "holder id_number must be 1 to %d printable ASCII "
			    "characters",
			    HOLDER_ID_MAX);

	t = strlen(id_type);
	memcpy(msg, id_type, t);
	msg[t++] = ':';
	upper = strcmp(id_type, "resident_id") == 0 ||
	    strcmp(id_type, "credit_code") == 0;
	for (i = 0; i < n; i++)
		msg[t++] = upper && id_number[i] >= 'a' && id_number[i] <= 'z'
		    ? (char)(id_number[i] - 'a' + 'A')
		    : id_number[i];
	if (HMAC(EVP_sha256(), svc->holder_key, sizeof(svc->holder_key),
	        (const unsigned char *)msg, t, md, &mdlen) == NULL ||
	    mdlen != 32) {
		rc = cs_err_ossl(
		    err, CS_ERR_CRYPTO, "cannot compute holder_ref");
		goto out;
	}
	cs_hex(md, 32, out);
out:
	OPENSSL_cleanse(msg, sizeof(msg));
	OPENSSL_cleanse(md, sizeof(md));
	return rc;
}

/*
 * Long ids keep their first 4 and last 4 characters ("1101**********1234");
 * ids of 8 or fewer keep only the last 2, and ids of 2 or fewer nothing.
 * Characters kept that are not printable ASCII show as '?'.  A small out
 * truncates the masked form, which only hides more.
 */
void
holder_id_mask(const char *id, char *out, size_t outsz)
{
	size_t i, n;
	bool keep;

	if (out == NULL || outsz == 0)
		return;
	out[0] = '\0';
	if (id == NULL)
		return;
	n = strlen(id);
	for (i = 0; i < n && i + 1 < outsz; i++) {
		if (n > 8)
			keep = i < 4 || i >= n - 4;
		else
			keep = n > 2 && i >= n - 2;
		if (!keep)
			out[i] = '*';
		else if (id[i] >= 0x20 && id[i] < 0x7f)
			out[i] = id[i];
		else
			out[i] = '?';
	}
	out[i] = '\0';
}
