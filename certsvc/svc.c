/*
 * svc.c: opens the pieces of a running certsvc in a fixed order (config,
 * store, token, CA) and closes them in reverse.  The PIN is read through
 * svc_pin_fn() at every login, so it is in memory only for the duration of
 * a login unless it came from the environment, where it cannot be read a
 * second time once unset.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "certsvc/ca.h"
#include "certsvc/client.h"
#include "certsvc/licence.h"
#include "certsvc/txbatch.h"
#include "certsvc/log.h"
#include "certsvc/ltype.h"
#include "certsvc/mem.h"
#include "certsvc/pcode.h"
#include "certsvc/pkistatus.h"
#include "certsvc/ratelimit.h"
#include "certsvc/report.h"
#include "certsvc/seal.h"
#include "certsvc/statuslist.h"
#include "certsvc/svc.h"
#include "certsvc/tsa.h"
#include "crypto/crypto.h"

/* Seal and CA certificates kept parsed (crypto_cert_cache). */
#define SVC_CERT_CACHE 1024

enum cs_rc
svc_pin_fn(void *arg, char *pin, size_t pinsz, struct cs_err *err)
{
	struct svc *svc = arg;

	if (svc->pin_copy != NULL) {
		if (!cs_strlcpy(pin, svc->pin_copy, pinsz))
			return cs_err_set(err, CS_ERR_INVALID, "PIN too long");
		return CS_OK;
	}
	return cfg_pin_read(&svc->cfg, pin, pinsz, err);
}

/* Move CERTSVC_PIN into the secure heap and remove it from the env. */
static enum cs_rc
svc_take_env_pin(struct svc *svc, struct cs_err *err)
{
	char *env = getenv("CERTSVC_PIN");
	size_t n;

	if (env == NULL || *env == '\0')
		return CS_OK;
	n = strlen(env);
	if (n > P11_PIN_MAX)
		return cs_err_set(err, CS_ERR_INVALID,
		    "CERTSVC_PIN is longer than %d bytes", P11_PIN_MAX);
	svc->pin_copy = OPENSSL_secure_zalloc(n + 1);
	if (svc->pin_copy == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	memcpy(svc->pin_copy, env, n);
	OPENSSL_cleanse(env, n);
	unsetenv("CERTSVC_PIN");
	return CS_OK;
}

enum cs_rc
svc_load_ca(struct svc *svc, struct cs_err *err)
{
	/* The root and every issuing CA, the newest current (issue #9). */
	return ca_set_load(svc, err);
}

/*
 * DATA/holder-key: 64 hex characters, the HMAC key of holder references.
 * Missing is fine (an old data dir; issuance then refuses), readable by
 * others is not.
 */
static enum cs_rc
svc_load_holder_key(struct svc *svc, struct cs_err *err)
{
	char path[PATH_MAX + 16];
	struct buf *b = NULL;
	struct stat sb;
	enum cs_rc rc = CS_OK;
	size_t i;
	int hi, lo;

	if (snprintf(path, sizeof(path), "%s/holder-key", svc->cfg.data_dir) >=
	    (int)sizeof(path))
		return cs_err_set(err, CS_ERR_INVALID, "path too long");
	if (stat(path, &sb) != 0)
		return CS_OK;
	if ((sb.st_mode & 077) != 0)
		return cs_err_set(err, CS_ERR_INVALID,
		    "'%s' must have mode 0600 or stricter", path);
	rc = cs_file_read(path, 256, &b, err);
	if (rc != CS_OK)
		return rc;
	if (b->len < 64) {
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "'%s' must hold 64 hex characters", path);
		goto out;
	}
	for (i = 0; i < 32; i++) {
		hi = OPENSSL_hexchar2int(b->data[2 * i]);
		lo = OPENSSL_hexchar2int(b->data[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			rc = cs_err_set(err, CS_ERR_INVALID,
			    "'%s' must hold 64 hex characters", path);
			OPENSSL_cleanse(
			    svc->holder_key, sizeof(svc->holder_key));
			goto out;
		}
		svc->holder_key[i] = (unsigned char)(hi << 4 | lo);
	}
	svc->has_holder_key = true;
out:
	buf_free(b);
	return rc;
}

enum cs_rc
svc_open(const char *config_path, unsigned flags, struct svc **out,
    struct cs_err *err)
{
	struct p11_config pc;
	struct svc *svc;
	enum cs_rc rc;

	*out = NULL;
	svc = calloc(1, sizeof(*svc));
	if (svc == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	rc = cfg_load(config_path, &svc->cfg, err);
	if (rc != CS_OK)
		goto fail;
	if (svc->cfg.softhsm2_conf[0] != '\0' &&
	    access(svc->cfg.softhsm2_conf, R_OK) == 0)
		setenv("SOFTHSM2_CONF", svc->cfg.softhsm2_conf, 1);
	rc = svc_take_env_pin(svc, err);
	if (rc != CS_OK)
		goto fail;
	rc = svc_load_holder_key(svc, err);
	if (rc == CS_OK)
		rc = seal_cache_init(svc, err);
	if (rc == CS_OK)
		rc = client_cache_init(svc, err);
	if (rc == CS_OK)
		rc = licence_serials_init(svc, err);
	if (rc == CS_OK)
		rc = txbatch_init(svc, err);
	if (rc == CS_OK)
		rc = crypto_cert_cache_new(SVC_CERT_CACHE, &svc->certs, err);
	if (rc == CS_OK)
		rc = ltype_cache_init(svc, err);
	if (rc == CS_OK)
		rc = report_init(svc, err);
	if (rc == CS_OK)
		rc = pkistatus_init(svc, err);
	if (rc == CS_OK)
		rc = statuslist_init(svc, err);
	if (rc == CS_OK)
		rc = pcode_limits_init(svc, err);
	/* routes_web.c: requests to POST /verify per address (0: none). */
	if (rc == CS_OK && svc->cfg.web_verify_limit_addr > 0)
		rc = ratelimit_new(svc->cfg.web_verify_limit_addr,
		    svc->cfg.web_verify_window_seconds, PCODE_LIMITER_SLOTS,
		    &svc->web_limit, err);
	if (rc == CS_OK)
		rc = tsa_init(svc, err);
	if (rc != CS_OK)
		goto fail;
	if (flags & SVC_OPEN_STORE) {
		rc = store_open(
		    svc->cfg.db_path, svc->cfg.db_conns, &svc->store, err);
		if (rc != CS_OK)
			goto fail;
		rc = svc_load_ca(svc, err);
		if (rc == CS_ERR_NOT_FOUND) {
			cs_err_clear(err);
			rc = CS_OK;
		}
		if (rc != CS_OK)
			goto fail;
	}
	if (flags & SVC_OPEN_TOKEN) {
		memset(&pc, 0, sizeof(pc));
		pc.module = svc->cfg.module;
		pc.token_label = svc->cfg.token_label;
		pc.pool_size = svc->cfg.pool_size;
		pc.timeout_ms = svc->cfg.token_timeout_ms;
		pc.queue_max = svc->cfg.token_queue_max;
		pc.pin_fn = svc_pin_fn;
		pc.pin_arg = svc;
		rc = p11_token_open(&pc, &svc->token, err);
		if (rc != CS_OK)
			goto fail;
	}
	*out = svc;
	return CS_OK;
fail:
	svc_free(svc);
	return rc;
}

void
svc_free(struct svc *svc)
{
	if (svc == NULL)
		return;
	svc_refresher_stop(svc);
	tsa_free(svc);
	statuslist_free(svc);
	pcode_limits_free(svc);
	ratelimit_free(svc->web_limit);
	pkistatus_free(svc);
	report_free(svc);
	crypto_cert_cache_free(svc->certs);
	ltype_cache_free(svc);
	seal_cache_free(svc);
	client_cache_free(svc);
	txbatch_free(svc);
	licence_serials_free(svc);
	p11_token_free(svc->token);
	store_free(svc->store);
	X509_free(svc->root);
	X509_free(svc->issuing);
	ca_set_free(svc);
	if (svc->pin_copy != NULL)
		OPENSSL_secure_clear_free(
		    svc->pin_copy, strlen(svc->pin_copy) + 1);
	OPENSSL_cleanse(svc, sizeof(*svc));
	free(svc);
}

void
svc_url(const struct svc *svc, const char *path, char *out, size_t outsz)
{
	const char *base = svc->cfg.public_url;
	size_t n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		n--;
	snprintf(out, outsz, "%.*s%s", (int)n, base, path);
}
