/*
 * tsa.c: the timestamp authority's service side (tsa.h).  The key is
 * looked up once (svckey_load) and made when there is none (svckey_create:
 * a P-256 token key, a CRYPTO_CERT_TSA certificate from the issuing CA and
 * its audit event "tsa.certify", in one transaction), then shared by
 * reference between requests.  When a third of the certificate's validity
 * is left a new key is made; if that fails, the old one goes on signing
 * until it expires and the renewal is retried a minute later.
 *
 * A timestamp costs exactly one token signature; the DER work is in
 * crypto/ts.c.  Nothing here holds a store transaction across it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "certsvc/log.h"
#include "certsvc/svckey.h"
#include "certsvc/tsa.h"

#define TSA_RETRY_S 60

struct tsa_key {
	atomic_int refs;
	struct svckey k;
	STACK_OF(X509) * chain; /* the issuing CA */
	struct crypto_ts_signer s;
	struct crypto_ts_tmpl *tmpl; /* s.tmpl: the fast path, or NULL */
	int64_t renew_at;            /* make a new key from then on */
};

struct tsa_state {
	pthread_mutex_t mu;
	struct tsa_key *cur; /* guarded by mu; NULL until first use */
	atomic_uint_fast64_t granted, rejected, failed;
};

static void
tsa_key_put(struct tsa_key *k)
{
	if (k == NULL || atomic_fetch_sub(&k->refs, 1) != 1)
		return;
	crypto_ts_tmpl_free(k->tmpl);
	sk_X509_pop_free(k->chain, X509_free);
	svckey_release(&k->k);
	free(k);
}

enum cs_rc
tsa_init(struct svc *svc, struct cs_err *err)
{
	struct tsa_state *st;

	st = CS_LOCKED_NEW(struct tsa_state);
	if (st == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	svc->tsa = st;
	return CS_OK;
}

void
tsa_free(struct svc *svc)
{
	struct tsa_state *st = svc != NULL ? svc->tsa : NULL;

	if (st == NULL)
		return;
	tsa_key_put(st->cur);
	pthread_mutex_destroy(&st->mu);
	free(st);
	svc->tsa = NULL;
}

/* Load (make == false) or make the TSA key into *out. */
static enum cs_rc
tsa_key_open(
    struct svc *svc, bool make, struct tsa_key **out, struct cs_err *err)
{
	struct store_svc_cert info;
	struct tsa_key *k;
	X509 *iss = NULL;
	enum cs_rc rc;

	*out = NULL;
	if (svc->issuing == NULL)
		return cs_err_set(err, CS_ERR_NOT_FOUND,
		    "no CA yet (run 'certsvc-admin ca init')");
	k = calloc(1, sizeof(*k));
	if (k == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	atomic_init(&k->refs, 1);
	rc = make
	    ? svckey_create(svc, "tsa", CRYPTO_CERT_TSA, "Timestamp Authority",
	          TSA_KEY_DAYS, "system", &k->k, err)
	    : svckey_load(svc, "tsa", &k->k, err);
	if (rc != CS_OK)
		goto out;
	memset(&info, 0, sizeof(info));
	rc = svckey_cert_info(k->k.cert, &info, err);
	if (rc != CS_OK)
		goto out;
	k->renew_at = info.not_after - (info.not_after - info.not_before) / 3;
	k->chain = sk_X509_new_null();
	if (k->chain == NULL || X509_up_ref(svc->issuing) != 1) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	iss = svc->issuing;
	if (sk_X509_push(k->chain, iss) <= 0) {
		X509_free(iss);
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	k->s.key = k->k.key;
	k->s.cert = k->k.cert;
	k->s.chain = k->chain;
	/* One token signature now saves the TS_RESP_CTX work on every one. */
	rc = crypto_ts_tmpl_new(&k->s, &k->tmpl, err);
	if (rc == CS_ERR_TOKEN)
		goto out;
	if (rc != CS_OK) {
		cs_log(CS_LOG_WARN, "TSA without a template: %s",
		    err != NULL ? err->msg : "");
		cs_err_clear(err);
		rc = CS_OK;
	}
	k->s.tmpl = k->tmpl;
	*out = k;
	k = NULL;
out:
	tsa_key_put(k);
	return rc;
}

/*
 * The current key (a reference: tsa_key_put), loading or making it when
 * there is none or it is due.  The mutex is held across the token work so
 * that one thread makes the key while the others wait for it.
 */
static enum cs_rc
tsa_key_get(struct svc *svc, struct tsa_key **out, struct cs_err *err)
{
	struct tsa_state *st = svc->tsa;
	struct tsa_key *k = NULL;
	int64_t now = (int64_t)time(NULL);
	enum cs_rc rc = CS_OK;

	*out = NULL;
	if (st == NULL)
		return cs_err_set(err, CS_ERR_TOKEN, "no timestamp authority");
	pthread_mutex_lock(&st->mu);
	if (st->cur != NULL && now < st->cur->renew_at)
		goto take;
	if (st->cur == NULL) {
		rc = tsa_key_open(svc, false, &k, err);
		if (rc == CS_ERR_NOT_FOUND && svc->issuing != NULL) {
			cs_err_clear(err);
			rc = tsa_key_open(svc, true, &k, err);
		}
	} else {
		rc = tsa_key_open(svc, true, &k, err);
		if (rc != CS_OK && st->cur->k.not_after > now) {
			cs_log(CS_LOG_WARN, "cannot renew the TSA key: %s",
			    err != NULL ? err->msg : "");
			cs_err_clear(err);
			st->cur->renew_at = now + TSA_RETRY_S;
			rc = CS_OK;
		}
	}
	if (k != NULL) {
		tsa_key_put(st->cur);
		st->cur = k;
		cs_log(CS_LOG_INFO, "TSA certificate %s", k->k.serial);
	}
take:
	if (rc == CS_OK) {
		atomic_fetch_add(&st->cur->refs, 1);
		*out = st->cur;
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* Count the outcome r of one answer. */
static void
tsa_count(struct svc *svc, const struct crypto_ts_req *r)
{
	struct tsa_state *st = svc->tsa;

	if (st == NULL)
		return;
	if (r->fail == CRYPTO_TS_OK)
		atomic_fetch_add(&st->granted, 1);
	else if (r->fail == CRYPTO_TS_SYSTEM_FAILURE)
		atomic_fetch_add(&st->failed, 1);
	else
		atomic_fetch_add(&st->rejected, 1);
}

enum cs_rc
tsa_respond(struct svc *svc, const unsigned char *der, size_t len,
    struct buf **resp, struct crypto_ts_req *r, struct cs_err *err)
{
	struct crypto_ts_req mine;
	struct tsa_key *k = NULL;
	struct cs_err kerr;
	enum cs_rc rc;

	*resp = NULL;
	if (r == NULL)
		r = &mine;
	/* Without a key the answer is systemFailure (or what the request
	 * earns on its own: crypto_ts_respond() checks it first). */
	cs_err_clear(&kerr);
	if (tsa_key_get(svc, &k, &kerr) != CS_OK)
		cs_log(CS_LOG_WARN, "timestamp authority: %s", kerr.msg);
	rc =
	    crypto_ts_respond(k != NULL ? &k->s : NULL, der, len, resp, r, err);
	if (rc == CS_OK)
		tsa_count(svc, r);
	if (rc == CS_OK && r->fail == CRYPTO_TS_SYSTEM_FAILURE)
		cs_log(CS_LOG_WARN, "timestamp refused: %s", r->reason);
	tsa_key_put(k);
	return rc;
}

enum cs_rc
tsa_stamp_seal(struct svc *svc, struct buf **seal, struct cs_err *err)
{
	unsigned char md[32];
	const unsigned char *sig;
	size_t siglen;
	struct crypto_ts_req r;
	struct buf *req = NULL, *resp = NULL, *tok = NULL, *out = NULL;
	struct tsa_key *k = NULL;
	enum cs_rc rc;

	rc = crypto_cms_signature_value(
	    (*seal)->data, (*seal)->len, &sig, &siglen, err);
	if (rc != CS_OK)
		return rc;
	if (EVP_Digest(sig, siglen, md, NULL, EVP_sha256(), NULL) != 1)
		return cs_err_ossl(err, CS_ERR_CRYPTO, "SHA-256 failed");
	rc = tsa_key_get(svc, &k, err);
	if (rc == CS_ERR_NOT_FOUND) /* no CA: as if the token were away */
		rc =
		    cs_err_set(err, CS_ERR_TOKEN, "no timestamp authority key");
	if (rc == CS_OK)
		rc = crypto_ts_request(
		    EVP_sha256(), md, sizeof(md), true, &req, err);
	if (rc == CS_OK)
		rc = crypto_ts_respond(
		    &k->s, req->data, req->len, &resp, &r, err);
	if (rc != CS_OK)
		goto out;
	tsa_count(svc, &r);
	if (r.fail != CRYPTO_TS_OK) {
		rc = cs_err_set(err,
		    r.fail == CRYPTO_TS_SYSTEM_FAILURE ? r.sys_rc
		                                       : CS_ERR_CRYPTO,
		    "cannot timestamp the seal: %s", r.reason);
		goto out;
	}
	rc = crypto_ts_token(resp->data, resp->len, &tok, err);
	if (rc == CS_OK)
		rc = crypto_cms_add_timestamp((*seal)->data, (*seal)->len,
		    tok->data, tok->len, &out, err);
	if (rc != CS_OK)
		goto out;
	buf_free(*seal);
	*seal = out;
out:
	tsa_key_put(k);
	buf_free(tok);
	buf_free(resp);
	buf_free(req);
	return rc;
}

void
tsa_stats(struct svc *svc, struct tsa_stats *out)
{
	struct tsa_state *st = svc != NULL ? svc->tsa : NULL;

	memset(out, 0, sizeof(*out));
	if (st == NULL)
		return;
	out->granted = atomic_load(&st->granted);
	out->rejected = atomic_load(&st->rejected);
	out->failed = atomic_load(&st->failed);
}
