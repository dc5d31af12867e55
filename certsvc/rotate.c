/*
 * rotate.c: seal key rotation, key destruction and bulk re-sealing (issue
 * #9).
 *
 * A rotation never revokes: the old certificate stays valid, so every
 * licence sealed with it keeps verifying (the seal carries the certificate
 * and verification finds it among the seal's retired ones).  The old key
 * only stops sealing; once nothing needs it, 'key destroy' removes it from
 * the token.  A compromise is handled by rotating, re-sealing and then
 * revoking what must be revoked (docs/operations.md).
 *
 * Each change is one transaction with its audit event.  Re-sealing goes
 * licence by licence, each in its own transaction, and decides from the
 * stored newest version whether there is anything to do, so an interrupted
 * run is resumed by running it again and a repeated run changes nothing.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "certsvc/licence.h"
#include "certsvc/log.h"
#include "certsvc/mem.h"
#include "certsvc/rotate.h"
#include "certsvc/seal.h"
#include "crypto/crypto.h"

/* The audit detail of json (consumed); NULL when out of memory. */
static char *
rotate_detail(json_t *j)
{
	char *s = NULL;

	if (j != NULL)
		s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return s;
}

/* Append an audit event "action" on object with detail to tx. */
static enum cs_rc
rotate_audit(struct store_tx *tx, const char *actor, const char *action,
    const char *object, const char *detail, struct cs_err *err)
{
	struct store_audit_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.actor = actor != NULL ? actor : "admin";
	ev.action = action;
	ev.object = object;
	ev.outcome = "ok";
	ev.detail = detail;
	return store_audit_append(tx, &ev, NULL, err);
}

static void
rotate_sha256_hex(const struct buf *der, uint8_t md[32], char hex[65])
{
	if (EVP_Digest(der->data, der->len, md, NULL, EVP_sha256(), NULL) != 1)
		memset(md, 0, 32);
	cs_hex(md, 32, hex);
}

enum cs_rc
rotate_seal(struct svc *svc, const struct rotate_seal_opts *o,
    struct rotate_seal_result *out, struct cs_err *err)
{
	char label[STORE_NAME_MAX], object[STORE_CODE_MAX + 8];
	struct seal_create_opts co;
	struct store_dept dept;
	struct store_seal seal;
	struct store_key key;
	struct store_tx *tx = NULL;
	struct buf *der = NULL;
	uint8_t old_md[32], new_md[32], rnd[4];
	char rhex[9];
	enum p11_alg alg;
	X509 *cert = NULL;
	char *detail = NULL;
	int64_t now = (int64_t)time(NULL);
	enum cs_rc rc;

	memset(out, 0, sizeof(*out));
	memset(&seal, 0, sizeof(seal));
	rc = store_seal_get(svc->store, o->id, &seal, err);
	if (rc == CS_ERR_NOT_FOUND || rc == CS_ERR_INVALID)
		return cs_err_set(
		    err, CS_ERR_NOT_FOUND, "no seal '%.40s'", o->id);
	if (rc != CS_OK)
		return rc;
	if (strcmp(seal.status, "active") != 0) {
		rc = cs_err_set(err, CS_ERR_CONFLICT,
		    "seal '%s' is %s: a revoked seal is not rotated", seal.id,
		    seal.status);
		goto out;
	}
	alg = o->alg;
	if (!o->has_alg && !p11_alg_parse(seal.alg, &alg)) {
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "seal '%s' has algorithm '%s': give --alg", seal.id,
		    seal.alg);
		goto out;
	}
	rc = store_dept_get(svc->store, seal.dept, &dept, err);
	if (rc != CS_OK)
		goto out;
	/*
	 * Labels stay unique (the token refuses a second key with one, and
	 * a failed attempt leaves its key): the time and a random suffix.
	 */
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "RAND_bytes failed");
		goto out;
	}
	cs_hex(rnd, sizeof(rnd), rhex);
	snprintf(label, sizeof(label), "seal-%s-%lld-%s", seal.id,
	    (long long)now, rhex);
	rc = p11_key_generate(
	    svc->token, alg, label, out->new_uri, sizeof(out->new_uri), err);
	if (rc != CS_OK)
		goto out;
	memset(&co, 0, sizeof(co));
	co.dept = seal.dept;
	co.name = seal.name;
	co.alg = alg;
	co.days = o->days;
	rc = seal_certify(svc, &co, &dept, out->new_uri, &cert, err);
	if (rc == CS_OK)
		rc = crypto_cert_to_der(cert, &der, err);
	if (rc != CS_OK)
		goto out;
	cs_strlcpy(out->old_uri, seal.key_uri, sizeof(out->old_uri));
	cs_strlcpy(out->alg, p11_alg_name(alg), sizeof(out->alg));
	rotate_sha256_hex(seal.cert_der, old_md, out->old_sha256);
	rotate_sha256_hex(der, new_md, out->new_sha256);

	memset(&key, 0, sizeof(key));
	cs_strlcpy(key.uri, out->new_uri, sizeof(key.uri));
	cs_strlcpy(key.label, label, sizeof(key.label));
	cs_strlcpy(key.alg, out->alg, sizeof(key.alg));
	cs_strlcpy(key.purpose, "seal", sizeof(key.purpose));
	key.created = now;
	snprintf(object, sizeof(object), "seal:%s", seal.id);
	detail = rotate_detail(
	    json_pack("{s:s,s:s,s:s,s:s,s:s}", "alg", out->alg, "old_key",
	        out->old_uri, "new_key", out->new_uri, "old_certificate_sha256",
	        out->old_sha256, "new_certificate_sha256", out->new_sha256));
	if (detail == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = store_tx_begin(svc->store, &tx, err);
	if (rc != CS_OK)
		goto out;
	rc = store_seal_rekey(tx, seal.id, seal.key_uri, old_md, out->new_uri,
	    out->alg, der, now, err);
	if (rc == CS_OK)
		rc = store_key_put(tx, &key, err);
	if (rc == CS_OK)
		rc = rotate_audit(
		    tx, o->actor, "seal.rotate", object, detail, err);
	if (rc != CS_OK)
		goto out;
	rc = store_tx_commit(tx, err);
	tx = NULL;
	if (rc != CS_OK)
		goto out;
	seal_cache_drop(svc, seal.id);
	svc_refresher_nudge(svc);
out:
	/* A key without its seal row is reported by 'key list' as unused. */
	store_tx_rollback(tx);
	free(detail);
	X509_free(cert);
	buf_free(der);
	store_seal_release(&seal);
	return rc;
}

/* 64 hex digits into 32 bytes; false when they are not. */
static bool
rotate_unhex(const char *hex, uint8_t out[32])
{
	unsigned v;
	size_t i;

	if (hex == NULL || strlen(hex) != 64)
		return false;
	for (i = 0; i < 32; i++) {
		if (!isxdigit((unsigned char)hex[2 * i]) ||
		    !isxdigit((unsigned char)hex[2 * i + 1]) ||
		    sscanf(hex + 2 * i, "%2x", &v) != 1)
			return false;
		out[i] = (uint8_t)v;
	}
	return true;
}

enum cs_rc
rotate_revoke_retired(struct svc *svc, const char *id, const char *sha256_hex,
    const char *reason, const char *actor, struct cs_err *err)
{
	char object[STORE_CODE_MAX + 8];
	struct store_tx *tx = NULL;
	uint8_t md[32];
	char *detail = NULL;
	enum cs_rc rc;

	if (!rotate_unhex(sha256_hex, md))
		return cs_err_set(err, CS_ERR_INVALID,
		    "certificate: must be its SHA-256, 64 hex digits");
	if (reason == NULL || *reason == '\0' || strlen(reason) > 200 ||
	    cs_utf8_count(reason, strlen(reason), false) < 0)
		return cs_err_set(err, CS_ERR_INVALID,
		    "reason: must be 1 to 200 bytes without control "
		    "characters");
	snprintf(object, sizeof(object), "seal:%s", id);
	detail = rotate_detail(json_pack("{s:s,s:s}", "certificate_sha256",
	    sha256_hex, "crl_reason",
	    crypto_reason_name(crypto_reason_from_text(reason))));
	if (detail == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	rc = store_tx_begin(svc->store, &tx, err);
	if (rc != CS_OK)
		goto out;
	rc = store_seal_key_revoke(tx, id, md, reason, 0, err);
	if (rc == CS_OK)
		rc = rotate_audit(
		    tx, actor, "seal.revoke-key", object, detail, err);
	if (rc != CS_OK)
		goto out;
	rc = store_tx_commit(tx, err);
	tx = NULL;
	/* certsvcd re-signs OCSP and the CRL ("certs" moved, a trigger). */
	if (rc == CS_OK)
		svc_refresher_nudge(svc);
out:
	store_tx_rollback(tx);
	free(detail);
	return rc;
}

enum cs_rc
rotate_key_destroy(struct svc *svc, const char *name, const char *actor,
    char *uri, size_t urisz, struct cs_err *err)
{
	char user[STORE_TEXT_MAX], object[STORE_NAME_MAX + 8];
	struct store_key k;
	struct store_tx *tx = NULL;
	struct cs_err perr = {0};
	int64_t destroyed_at = 0, now = (int64_t)time(NULL);
	char *detail = NULL;
	bool absent = false;
	enum cs_rc rc;

	if (uri != NULL && urisz > 0)
		uri[0] = '\0';
	rc = store_key_find(svc->store, name, &k, &destroyed_at, err);
	if (rc != CS_OK)
		return rc;
	if (uri != NULL)
		cs_strlcpy(uri, k.uri, urisz);
	if (destroyed_at > 0)
		return cs_err_set(err, CS_ERR_CONFLICT,
		    "key '%s' was destroyed already", k.label);
	rc = store_key_user(svc->store, k.uri, now, user, sizeof(user), err);
	if (rc != CS_OK)
		return rc;
	if (user[0] != '\0')
		return cs_err_set(err, CS_ERR_CONFLICT,
		    "key '%s' is still in use by %s", k.label, user);
	snprintf(object, sizeof(object), "key:%s", k.label);
	rc = store_tx_begin(svc->store, &tx, err);
	if (rc != CS_OK)
		return rc;
	rc = store_key_destroyed(tx, k.uri, now, err);
	if (rc != CS_OK)
		goto out;
	/*
	 * Destroyed while the transaction holds the write lock: a failure
	 * here writes nothing, and only a failed commit after it could leave
	 * the inventory behind the token (a second run then records it).
	 */
	rc = p11_key_destroy(svc->token, k.uri, &perr);
	if (rc == CS_ERR_NOT_FOUND) {
		absent = true;
		rc = CS_OK;
	} else if (rc != CS_OK) {
		rc = cs_err_set(err, rc, "%s", perr.msg);
		goto out;
	}
	detail = rotate_detail(json_pack("{s:s,s:s,s:b}", "uri", k.uri,
	    "purpose", k.purpose, "absent", absent));
	if (detail == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = rotate_audit(tx, actor, "key.destroy", object, detail, err);
	if (rc != CS_OK)
		goto out;
	rc = store_tx_commit(tx, err);
	tx = NULL;
out:
	store_tx_rollback(tx);
	free(detail);
	return rc;
}

/* seal.certificate_sha256 of a stored document, or "" (out: 65 bytes). */
static void
rotate_doc_cert(const struct buf *doc, char out[65])
{
	json_t *j;
	const char *s;

	out[0] = '\0';
	if (doc == NULL)
		return;
	j = json_loadb((const char *)doc->data, doc->len, 0, NULL);
	s = json_string_value(
	    json_object_get(json_object_get(j, "seal"), "certificate_sha256"));
	if (s != NULL && strlen(s) == 64)
		cs_strlcpy(out, s, 65);
	json_decref(j);
}

/* Write the new version next of cur with its audit event, one tx. */
static enum cs_rc
rotate_reseal_write(struct svc *svc, const struct store_licence *cur,
    const struct store_licence *next, const char *old_cert, const char *actor,
    struct cs_err *err)
{
	char object[STORE_LICENCE_ID_MAX + 32];
	struct store_tx *tx = NULL;
	char *detail;
	enum cs_rc rc;

	snprintf(
	    object, sizeof(object), "licence:%s/%d", cur->id, cur->version);
	detail = rotate_detail(json_pack("{s:s,s:s,s:s,s:s,s:i}", "from",
	    cur->status, "to", LICENCE_SUPERSEDED, "seal", cur->seal_id,
	    "old_certificate_sha256", old_cert, "new_version", next->version));
	if (detail == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	rc = store_tx_begin(svc->store, &tx, err);
	if (rc != CS_OK)
		goto out;
	rc = store_licence_set_status(tx, cur->id, cur->version, cur->status,
	    LICENCE_SUPERSEDED, "resealed", 0, err);
	if (rc == CS_ERR_CONFLICT)
		rc = cs_err_set(err, CS_ERR_CONFLICT,
		    "licence '%.96s' version %d changed meanwhile", cur->id,
		    cur->version);
	if (rc == CS_OK)
		rc = store_licence_put(tx, next, err);
	if (rc == CS_OK)
		rc = rotate_audit(
		    tx, actor, "licence.reseal", object, detail, err);
	if (rc != CS_OK)
		goto out;
	rc = store_tx_commit(tx, err);
	tx = NULL;
out:
	store_tx_rollback(tx);
	free(detail);
	return rc;
}

enum cs_rc
rotate_reseal(struct svc *svc, const char *id, const char *from, const char *to,
    const char *actor, enum rotate_reseal_outcome *outcome, char *why,
    size_t whysz, struct cs_err *err)
{
	struct store_licence cur, next;
	struct seal_signer *target = NULL;
	struct licence_edit e;
	char have[65], want[65];
	enum cs_rc rc;

	*outcome = ROTATE_SKIPPED;
	if (why != NULL && whysz > 0)
		why[0] = '\0';
	if (to == NULL)
		to = from;
	memset(&cur, 0, sizeof(cur));
	memset(&next, 0, sizeof(next));
	rc = store_licence_get(svc->store, id, 0, &cur, err);
	if (rc != CS_OK)
		return rc;
	if (strcmp(cur.seal_id, from) != 0 && strcmp(cur.seal_id, to) != 0) {
		snprintf(why, whysz, "sealed by seal '%s'", cur.seal_id);
		goto out;
	}
	rc = seal_signer_get(svc, to, cur.dept, &target, err);
	if (rc != CS_OK)
		goto out;
	rotate_doc_cert(cur.document, have);
	cs_hex(target->cert_sha256, sizeof(target->cert_sha256), want);
	if (strcmp(cur.seal_id, to) == 0 && strcmp(have, want) == 0) {
		*outcome = ROTATE_CURRENT;
		goto out;
	}
	if (strcmp(cur.status, LICENCE_VALID) != 0) {
		snprintf(
		    why, whysz, "version %d is %s", cur.version, cur.status);
		goto out;
	}
	memset(&e, 0, sizeof(e));
	e.from_day = e.until_day = -1;
	e.seal_id = to;
	rc = licence_new_version(svc, &cur, &e, &next, err);
	if (rc == CS_OK)
		rc = rotate_reseal_write(svc, &cur, &next, have, actor, err);
	if (rc == CS_OK)
		*outcome = ROTATE_RESEALED;
out:
	seal_signer_free(target);
	store_licence_release(&next);
	store_licence_release(&cur);
	return rc;
}
