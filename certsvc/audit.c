/*
 * audit.c: audit checkpoints and the verification of the whole trail
 * (audit.h).  A checkpoint is not itself an audit event: it records the
 * trail, and an event per checkpoint would move the head it signs.  The
 * checkpoint document is canonical JSON signed like a licence (a detached
 * CAdES-BES CMS), so `openssl cms -verify` checks an exported one too.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "certsvc/audit.h"
#include "certsvc/jcs.h"
#include "certsvc/log.h"
#include "certsvc/svckey.h"
#include "crypto/crypto.h"

#define AUDIT_REFRESH_EVERY_NS (10ull * 1000000000ull)

/* The audit key, made on first use. */
static enum cs_rc
audit_key(struct svc *svc, struct svckey *k, struct cs_err *err)
{
	enum cs_rc rc;

	rc = svckey_load(svc, "audit", k, err);
	if (rc != CS_ERR_NOT_FOUND)
		return rc;
	cs_err_clear(err);
	return svckey_create(svc, "audit", CRYPTO_CERT_AUDIT,
	    "audit checkpoint signer", AUDIT_KEY_DAYS, "system", k, err);
}

/* Sign (seq, head, time) into c->document and c->seal. */
static enum cs_rc
audit_sign(struct svc *svc, struct svckey *k, struct store_checkpoint *c,
    int64_t events, struct cs_err *err)
{
	char head[2 * STORE_HASH_LEN + 1], when[32];
	struct crypto_seal_opts so;
	STACK_OF(X509) *chain = NULL;
	json_t *doc = NULL;
	enum cs_rc rc;

	cs_hex(c->head_hash, STORE_HASH_LEN, head);
	cs_time_utc(c->time, when, sizeof(when));
	doc = json_pack("{s:s,s:I,s:s,s:s,s:I}", "format",
	    AUDIT_CHECKPOINT_FORMAT, "seq", (json_int_t)c->seq, "head_hash",
	    head, "time", when, "events", (json_int_t)events);
	chain = sk_X509_new_null();
	if (doc == NULL || chain == NULL ||
	    !sk_X509_push(chain, svc->issuing)) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = jcs_encode(doc, &c->document, err);
	if (rc != CS_OK)
		goto out;
	memset(&so, 0, sizeof(so));
	so.key = k->key;
	so.cert = k->cert;
	so.chain = chain;
	rc = crypto_cms_seal(
	    &so, c->document->data, c->document->len, &c->seal, err);
	if (rc == CS_OK)
		cs_strlcpy(c->cert_serial, k->serial, sizeof(c->cert_serial));
out:
	sk_X509_free(chain);
	json_decref(doc);
	return rc;
}

enum cs_rc
audit_checkpoint(struct svc *svc, struct store_checkpoint *out, bool *made,
    struct cs_err *err)
{
	struct store_tx *tx = NULL;
	struct svckey k;
	int64_t count = 0, last = 0;
	enum cs_rc rc;

	memset(out, 0, sizeof(*out));
	*made = false;
	/* First the key: its certification is an event the head covers. */
	rc = audit_key(svc, &k, err);
	if (rc != CS_OK)
		return rc;
	rc = store_audit_head(svc->store, &count, &last, err);
	if (rc != CS_OK)
		goto out;
	if (last == 0) {
		rc = cs_err_set(err, CS_ERR_NOT_FOUND, "no audit events yet");
		goto out;
	}
	rc = store_checkpoint_last(svc->store, out, err);
	if (rc == CS_OK && out->seq >= last)
		goto out;
	if (rc != CS_OK && rc != CS_ERR_NOT_FOUND)
		goto out;
	cs_err_clear(err);
	store_checkpoint_release(out);
	memset(out, 0, sizeof(*out));
	out->seq = last;
	out->time = (int64_t)time(NULL);
	rc = store_audit_hash_at(svc->store, last, out->head_hash, err);
	if (rc == CS_OK)
		rc = audit_sign(svc, &k, out, count, err);
	if (rc == CS_OK)
		rc = store_tx_begin(svc->store, &tx, err);
	if (rc == CS_OK)
		rc = store_checkpoint_put(tx, out, err);
	if (rc == CS_OK) {
		rc = store_tx_commit(tx, err);
		tx = NULL;
	}
	store_tx_rollback(tx);
	if (rc == CS_OK)
		*made = true;
out:
	if (rc != CS_OK)
		store_checkpoint_release(out);
	svckey_release(&k);
	return rc;
}

json_t *
audit_checkpoint_export(const struct store_checkpoint *c)
{
	struct buf *doc = NULL, *seal = NULL;
	json_t *obj = NULL;

	if (crypto_b64_encode(
	        c->document->data, c->document->len, &doc, NULL) == CS_OK &&
	    crypto_b64_encode(c->seal->data, c->seal->len, &seal, NULL) ==
	        CS_OK)
		obj = json_pack("{s:s,s:I,s:s,s:s}", "format",
		    AUDIT_EXPORT_FORMAT, "seq", (json_int_t)c->seq, "document",
		    (char *)doc->data, "seal", (char *)seal->data);
	buf_free(doc);
	buf_free(seal);
	return obj;
}

/*
 * Is c genuine: signed by an audit certificate of this certsvc that chains
 * to the root, over a document that says what c says?  why gets the
 * reason when not.
 */
static enum cs_rc
audit_checkpoint_genuine(struct svc *svc, const struct store_checkpoint *c,
    bool *ok, char *why, size_t whysz, struct cs_err *err)
{
	struct crypto_cms_result res;
	struct store_svc_cert sc;
	char head[2 * STORE_HASH_LEN + 1];
	const char *fmt, *hh;
	json_int_t seq = 0;
	json_t *doc = NULL;
	unsigned char *der = NULL;
	int derlen;
	enum cs_rc rc;

	*ok = false;
	memset(&res, 0, sizeof(res));
	memset(&sc, 0, sizeof(sc));
	rc = crypto_cms_verify(c->document->data, c->document->len,
	    c->seal->data, c->seal->len, svc->root, &res, err);
	if (rc != CS_OK)
		return rc;
	if (!res.parsed || !res.signature_ok || !res.chain_ok) {
		snprintf(why, whysz, "signature does not verify: %.100s",
		    res.reason);
		goto out;
	}
	/* Only an audit key of this certsvc signs checkpoints. */
	derlen = i2d_X509(res.signer, &der);
	if (derlen <= 0) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "cannot encode signer");
		goto out;
	}
	rc = store_svc_cert_current(svc->store, "audit", 0, &sc, err);
	if (rc == CS_ERR_NOT_FOUND) {
		/* _current() wants validity at a time: look through all. */
		struct store_svc_cert *all = NULL;
		size_t n = 0, i;

		cs_err_clear(err);
		rc = store_svc_cert_list(svc->store, &all, &n, err);
		for (i = 0; rc == CS_OK && i < n; i++)
			if (strcmp(all[i].purpose, "audit") == 0 &&
			    all[i].cert_der->len == (size_t)derlen &&
			    memcmp(all[i].cert_der->data, der,
			        (size_t)derlen) == 0)
				break;
		if (rc == CS_OK && i == n)
			snprintf(why, whysz,
			    "signed by a certificate that is not an audit "
			    "certificate of this certsvc");
		store_svc_cert_list_free(all, n);
		if (rc != CS_OK || i == n)
			goto out;
	} else if (rc != CS_OK) {
		goto out;
	}
	doc = json_loadb((const char *)c->document->data, c->document->len,
	    JSON_REJECT_DUPLICATES, NULL);
	if (json_unpack(doc, "{s:s,s:I,s:s}", "format", &fmt, "seq", &seq,
	        "head_hash", &hh) != 0 ||
	    strcmp(fmt, AUDIT_CHECKPOINT_FORMAT) != 0) {
		snprintf(why, whysz, "not a checkpoint document");
		goto out;
	}
	cs_hex(c->head_hash, STORE_HASH_LEN, head);
	if ((int64_t)seq != c->seq || strcmp(hh, head) != 0) {
		snprintf(why, whysz, "the signed document says event %lld",
		    (long long)seq);
		goto out;
	}
	*ok = true;
out:
	json_decref(doc);
	OPENSSL_free(der);
	store_svc_cert_release(&sc);
	crypto_cms_result_release(&res);
	return rc;
}

struct audit_scan {
	struct svc *svc;
	struct audit_verify_result *res;
	enum cs_rc rc;
	struct cs_err *err;
	int64_t prev_seq; /* last good checkpoint */
};

/* Check one checkpoint against the chain; false stops at the first bad. */
static bool
audit_check_one(
    struct audit_scan *s, const struct store_checkpoint *c, const char *what)
{
	struct audit_verify_result *res = s->res;
	uint8_t hash[STORE_HASH_LEN];
	char why[200];
	bool ok = false;

	s->rc =
	    audit_checkpoint_genuine(s->svc, c, &ok, why, sizeof(why), s->err);
	if (s->rc != CS_OK)
		return false;
	if (!ok) {
		res->bad_seq = c->seq;
		snprintf(res->reason, sizeof(res->reason),
		    "%s at event %lld: %.160s", what, (long long)c->seq, why);
		return false;
	}
	if (c->seq > res->last_seq) {
		/* The trail ends before what was signed: truncated. */
		res->bad_seq = res->last_seq + 1;
		snprintf(res->reason, sizeof(res->reason),
		    "%s covers event %lld but the trail ends at %lld: events "
		    "%lld to %lld are missing",
		    what, (long long)c->seq, (long long)res->last_seq,
		    (long long)res->last_seq + 1, (long long)c->seq);
		return false;
	}
	s->rc = store_audit_hash_at(s->svc->store, c->seq, hash, s->err);
	if (s->rc != CS_OK)
		return false;
	if (CRYPTO_memcmp(hash, c->head_hash, STORE_HASH_LEN) != 0) {
		/* Rewritten with recomputed hashes after the last good one. */
		res->bad_seq = s->prev_seq + 1;
		snprintf(res->reason, sizeof(res->reason),
		    "%s at event %lld does not match the trail: events "
		    "after %lld were rewritten",
		    what, (long long)c->seq, (long long)s->prev_seq);
		return false;
	}
	s->prev_seq = c->seq;
	return true;
}

static bool
audit_scan_fn(void *arg, const struct store_checkpoint *c)
{
	struct audit_scan *s = arg;

	if (!audit_check_one(s, c, "checkpoint"))
		return false;
	s->res->checkpoints++;
	return true;
}

/* Parse an exported checkpoint into c (document and seal given). */
static enum cs_rc
audit_parse_export(const unsigned char *p, size_t len,
    struct store_checkpoint *c, struct cs_err *err)
{
	const char *fmt, *doc, *seal, *hh;
	json_int_t seq;
	json_t *obj, *inner = NULL;
	struct buf *hb = NULL;
	enum cs_rc rc = CS_OK;
	size_t i;

	memset(c, 0, sizeof(*c));
	obj = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, NULL);
	if (json_unpack(obj, "{s:s,s:I,s:s,s:s}", "format", &fmt, "seq", &seq,
	        "document", &doc, "seal", &seal) != 0 ||
	    strcmp(fmt, AUDIT_EXPORT_FORMAT) != 0 || seq <= 0) {
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "not an exported checkpoint (format %s)",
		    AUDIT_EXPORT_FORMAT);
		goto out;
	}
	c->seq = (int64_t)seq;
	rc = crypto_b64_decode(doc, strlen(doc), &c->document, err);
	if (rc == CS_OK)
		rc = crypto_b64_decode(seal, strlen(seal), &c->seal, err);
	if (rc != CS_OK)
		goto out;
	/* The head as the document says; its signature is checked later. */
	inner = json_loadb(
	    (const char *)c->document->data, c->document->len, 0, NULL);
	if (json_unpack(inner, "{s:s}", "head_hash", &hh) != 0 ||
	    strlen(hh) != 2 * STORE_HASH_LEN) {
		rc = cs_err_set(
		    err, CS_ERR_INVALID, "exported checkpoint: no head hash");
		goto out;
	}
	for (i = 0; i < STORE_HASH_LEN; i++) {
		unsigned v;

		if (sscanf(hh + 2 * i, "%2x", &v) != 1) {
			rc = cs_err_set(err, CS_ERR_INVALID,
			    "exported checkpoint: malformed head hash");
			goto out;
		}
		c->head_hash[i] = (uint8_t)v;
	}
out:
	if (rc != CS_OK)
		store_checkpoint_release(c);
	json_decref(inner);
	json_decref(obj);
	buf_free(hb);
	return rc;
}

enum cs_rc
audit_verify(struct svc *svc, const unsigned char *exported, size_t len,
    struct audit_verify_result *res, struct cs_err *err)
{
	struct store_checkpoint ext;
	struct audit_scan s;
	int64_t checked = 0;
	enum cs_rc rc;

	memset(res, 0, sizeof(*res));
	memset(&ext, 0, sizeof(ext));
	if (svc->root == NULL)
		return cs_err_set(err, CS_ERR_NOT_FOUND, "no CA yet");
	if (exported != NULL) {
		rc = audit_parse_export(exported, len, &ext, err);
		if (rc != CS_OK)
			return rc;
	}
	rc = store_audit_head(svc->store, &res->events, &res->last_seq, err);
	if (rc == CS_OK)
		rc = store_audit_verify(
		    svc->store, &res->bad_seq, &checked, err);
	if (rc != CS_OK)
		goto out;
	if (res->bad_seq != 0) {
		snprintf(res->reason, sizeof(res->reason),
		    "the chain breaks at event %lld (%lld good events before "
		    "it)",
		    (long long)res->bad_seq, (long long)checked);
		goto out;
	}
	memset(&s, 0, sizeof(s));
	s.svc = svc;
	s.res = res;
	s.err = err;
	rc = store_checkpoint_scan(svc->store, audit_scan_fn, &s, err);
	if (rc == CS_OK)
		rc = s.rc;
	if (rc != CS_OK || res->bad_seq != 0 || exported == NULL)
		goto out;
	res->exported = true;
	res->exported_seq = ext.seq;
	s.prev_seq = 0; /* the export is checked on its own */
	(void)audit_check_one(&s, &ext, "exported checkpoint");
	rc = s.rc;
out:
	store_checkpoint_release(&ext);
	return rc;
}

enum cs_rc
audit_refresh(struct svc *svc, struct cs_err *err)
{
	struct store_checkpoint last, made_cp;
	int64_t count = 0, seq = 0, now;
	uint64_t t = cs_now_ns();
	bool made = false, due;
	enum cs_rc rc;

	if (svc->store == NULL || svc->token == NULL || svc->issuing == NULL ||
	    t < svc->audit_next_check_ns)
		return CS_OK;
	svc->audit_next_check_ns = t + AUDIT_REFRESH_EVERY_NS;
	rc = store_audit_head(svc->store, &count, &seq, err);
	if (rc != CS_OK || seq == 0)
		return rc;
	now = (int64_t)time(NULL);
	rc = store_checkpoint_last(svc->store, &last, err);
	if (rc == CS_ERR_NOT_FOUND) {
		cs_err_clear(err);
		due = true;
	} else if (rc != CS_OK) {
		return rc;
	} else {
		due = seq > last.seq &&
		    (seq - last.seq >=
		            (int64_t)svc->cfg.audit_checkpoint_events ||
		        now - last.time >=
		            (int64_t)svc->cfg.audit_checkpoint_seconds);
		store_checkpoint_release(&last);
	}
	if (!due)
		return CS_OK;
	rc = audit_checkpoint(svc, &made_cp, &made, err);
	if (rc == CS_OK && made)
		cs_log(CS_LOG_INFO, "audit checkpoint at event %lld",
		    (long long)made_cp.seq);
	store_checkpoint_release(&made_cp);
	return rc;
}
