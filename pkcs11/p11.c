/*
 * p11.c: loading a PKCS#11 module, finding a token by label, logging in,
 * and the token's life: init, open, describe, free.
 *
 * We talk raw Cryptoki through dlopen() and C_GetFunctionList() rather
 * than libp11 (docs/pkcs11.md says why).  C_Initialize is per process, so
 * the modules are kept in a small registry: the one global of this layer,
 * which PKCS#11 makes unavoidable.  A module is initialised with
 * CKF_OS_LOCKING_OK when its first token opens and finalised when its last
 * one is freed; it is loaded RTLD_NODELETE because modules (SoftHSM2 among
 * them) do not survive being unloaded and loaded again in one process.
 *
 * The PIN is asked of cfg->pin_fn at every login, lives on the stack only
 * while C_Login runs, and is wiped right after on every path.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "certsvc/err.h"
#include "certsvc/log.h"
#include "certsvc/mem.h"
#include "pkcs11/p11.h"
#include "pkcs11/p11_int.h"

#define P11_TIMEOUT_DEFAULT 2000
#define P11_SLOTS_MAX 4096

struct p11_module {
	struct p11_module *next;
	void *dl;
	CK_FUNCTION_LIST *f;
	unsigned refs;
	pid_t pid;     /* the process that initialised it */
	bool finalize; /* we initialised it, so we finalise it */
};

/* The module registry: see the comment at the top. */
static pthread_mutex_t p11_modules_mu = PTHREAD_MUTEX_INITIALIZER;
static struct p11_module *p11_modules;

static const struct {
	CK_RV rv;
	const char *name;
} p11_rv_names[] = {
#define RV(x)                                                                  \
	{                                                                      \
		x, #x                                                          \
	}
    RV(CKR_OK),
    RV(CKR_CANCEL),
    RV(CKR_HOST_MEMORY),
    RV(CKR_SLOT_ID_INVALID),
    RV(CKR_GENERAL_ERROR),
    RV(CKR_FUNCTION_FAILED),
    RV(CKR_ARGUMENTS_BAD),
    RV(CKR_ATTRIBUTE_READ_ONLY),
    RV(CKR_ATTRIBUTE_SENSITIVE),
    RV(CKR_ATTRIBUTE_TYPE_INVALID),
    RV(CKR_ATTRIBUTE_VALUE_INVALID),
    RV(CKR_DATA_INVALID),
    RV(CKR_DATA_LEN_RANGE),
    RV(CKR_DEVICE_ERROR),
    RV(CKR_DEVICE_MEMORY),
    RV(CKR_DEVICE_REMOVED),
    RV(CKR_FUNCTION_CANCELED),
    RV(CKR_FUNCTION_NOT_SUPPORTED),
    RV(CKR_KEY_HANDLE_INVALID),
    RV(CKR_KEY_SIZE_RANGE),
    RV(CKR_KEY_TYPE_INCONSISTENT),
    RV(CKR_KEY_FUNCTION_NOT_PERMITTED),
    RV(CKR_MECHANISM_INVALID),
    RV(CKR_MECHANISM_PARAM_INVALID),
    RV(CKR_OBJECT_HANDLE_INVALID),
    RV(CKR_OPERATION_ACTIVE),
    RV(CKR_OPERATION_NOT_INITIALIZED),
    RV(CKR_PIN_INCORRECT),
    RV(CKR_PIN_INVALID),
    RV(CKR_PIN_LEN_RANGE),
    RV(CKR_PIN_EXPIRED),
    RV(CKR_PIN_LOCKED),
    RV(CKR_SESSION_CLOSED),
    RV(CKR_SESSION_COUNT),
    RV(CKR_SESSION_HANDLE_INVALID),
    RV(CKR_SESSION_READ_ONLY),
    RV(CKR_SESSION_EXISTS),
    RV(CKR_SIGNATURE_INVALID),
    RV(CKR_TEMPLATE_INCOMPLETE),
    RV(CKR_TEMPLATE_INCONSISTENT),
    RV(CKR_TOKEN_NOT_PRESENT),
    RV(CKR_TOKEN_NOT_RECOGNIZED),
    RV(CKR_TOKEN_WRITE_PROTECTED),
    RV(CKR_USER_ALREADY_LOGGED_IN),
    RV(CKR_USER_NOT_LOGGED_IN),
    RV(CKR_USER_PIN_NOT_INITIALIZED),
    RV(CKR_USER_TYPE_INVALID),
    RV(CKR_BUFFER_TOO_SMALL),
    RV(CKR_CRYPTOKI_NOT_INITIALIZED),
    RV(CKR_CRYPTOKI_ALREADY_INITIALIZED),
#undef RV
};

const char *
p11_rv_name(CK_RV rv, char *buf, size_t bufsz)
{
	size_t i;

	for (i = 0; i < sizeof(p11_rv_names) / sizeof(p11_rv_names[0]); i++)
		if (p11_rv_names[i].rv == rv)
			return p11_rv_names[i].name;
	snprintf(buf, bufsz, "CKR_0x%lx", (unsigned long)rv);
	return buf;
}

enum cs_rc
p11_rv_rc(CK_RV rv)
{
	switch (rv) {
	case CKR_OK:
		return CS_OK;
	case CKR_HOST_MEMORY:
		return CS_ERR_NOMEM;
	case CKR_DATA_INVALID:
	case CKR_DATA_LEN_RANGE:
	case CKR_KEY_SIZE_RANGE:
	case CKR_KEY_TYPE_INCONSISTENT:
	case CKR_KEY_FUNCTION_NOT_PERMITTED:
	case CKR_MECHANISM_INVALID:
	case CKR_MECHANISM_PARAM_INVALID:
	case CKR_TEMPLATE_INCOMPLETE:
	case CKR_TEMPLATE_INCONSISTENT:
	case CKR_ATTRIBUTE_VALUE_INVALID:
	case CKR_ATTRIBUTE_TYPE_INVALID:
		return CS_ERR_CRYPTO;
	default:
		return CS_ERR_TOKEN;
	}
}

bool
p11_rv_recoverable(CK_RV rv)
{
	switch (rv) {
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
	case CKR_DEVICE_ERROR:
	case CKR_DEVICE_REMOVED:
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_USER_NOT_LOGGED_IN:
	case CKR_KEY_HANDLE_INVALID:
	case CKR_OBJECT_HANDLE_INVALID:
	case CKR_OPERATION_ACTIVE:
		return true;
	default:
		return false;
	}
}

void
p11_field_str(char *dst, size_t dstsz, const unsigned char *src, size_t srclen)
{
	size_t n = srclen;

	while (n > 0 && (src[n - 1] == ' ' || src[n - 1] == '\0'))
		n--;
	if (n >= dstsz)
		n = dstsz - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* p11_thread_deadline_set(): the calling thread's request deadline. */
static _Thread_local uint64_t p11_request_deadline;

void
p11_thread_deadline_set(uint64_t ns)
{
	p11_request_deadline = ns;
}

uint64_t
p11_deadline(const struct p11_token *tok)
{
	uint64_t d = cs_now_ns() + (uint64_t)tok->timeout_ms * 1000000ULL;

	return p11_request_deadline != 0 && p11_request_deadline < d
	    ? p11_request_deadline
	    : d;
}

/* --- the module registry ------------------------------------------------ */

enum cs_rc
p11_module_load(const char *path, struct p11_module **out,
    CK_FUNCTION_LIST **fl, struct cs_err *err)
{
	CK_C_INITIALIZE_ARGS args;
	CK_C_GetFunctionList getfl;
	struct p11_module *m = NULL;
	char rvbuf[32];
	void *dl;
	CK_RV rv;
	enum cs_rc rc;

	*out = NULL;
	*fl = NULL;
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (dl == NULL)
		return cs_err_set(
		    err, CS_ERR_TOKEN, "cannot load pkcs11 module '%s'", path);
	pthread_mutex_lock(&p11_modules_mu);
	for (m = p11_modules; m != NULL; m = m->next)
		if (m->dl == dl && m->pid == getpid())
			break;
	if (m != NULL) {
		m->refs++;
		dlclose(dl); /* m holds one reference already */
		*out = m;
		*fl = m->f;
		rc = CS_OK;
		goto out;
	}
	*(void **)&getfl = dlsym(dl, "C_GetFunctionList");
	if (getfl == NULL) {
		rc = cs_err_set(err, CS_ERR_TOKEN,
		    "pkcs11 module '%s' has no C_GetFunctionList", path);
		goto fail;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto fail;
	}
	rv = getfl(&m->f);
	if (rv != CKR_OK || m->f == NULL) {
		rc = cs_err_set(err, CS_ERR_TOKEN,
		    "pkcs11 module '%s': C_GetFunctionList failed: %s", path,
		    p11_rv_name(rv, rvbuf, sizeof(rvbuf)));
		goto fail;
	}
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	rv = m->f->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		rc = cs_err_set(err, CS_ERR_TOKEN,
		    "pkcs11 module '%s': C_Initialize failed: %s", path,
		    p11_rv_name(rv, rvbuf, sizeof(rvbuf)));
		goto fail;
	}
	/* Initialised by someone else in this process: theirs to finalise. */
	m->finalize = rv == CKR_OK;
	m->dl = dl;
	m->refs = 1;
	m->pid = getpid();
	m->next = p11_modules;
	p11_modules = m;
	*out = m;
	*fl = m->f;
	rc = CS_OK;
	goto out;
fail:
	free(m);
	dlclose(dl);
out:
	pthread_mutex_unlock(&p11_modules_mu);
	return rc;
}

void
p11_module_unload(struct p11_module *m)
{
	struct p11_module **pp;

	if (m == NULL)
		return;
	pthread_mutex_lock(&p11_modules_mu);
	if (--m->refs > 0) {
		pthread_mutex_unlock(&p11_modules_mu);
		return;
	}
	for (pp = &p11_modules; *pp != NULL; pp = &(*pp)->next)
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	if (m->finalize && m->pid == getpid())
		m->f->C_Finalize(NULL);
	dlclose(m->dl);
	free(m);
	pthread_mutex_unlock(&p11_modules_mu);
}

/* --- slots and login ---------------------------------------------------- */

enum cs_rc
p11_slot_find(CK_FUNCTION_LIST *f, const char *label, CK_SLOT_ID *slot,
    CK_RV *rv, struct cs_err *err)
{
	CK_SLOT_ID *slots = NULL;
	CK_TOKEN_INFO ti;
	CK_ULONG n = 0, i;
	char name[P11_TOKEN_LABEL_MAX], rvbuf[32];
	enum cs_rc rc;
	int tries;

	for (tries = 0; tries < 4; tries++) {
		*rv = f->C_GetSlotList(CK_TRUE, NULL, &n);
		if (*rv != CKR_OK)
			break;
		if (n > P11_SLOTS_MAX)
			n = P11_SLOTS_MAX;
		free(slots);
		slots = calloc(n + 1, sizeof(*slots));
		if (slots == NULL) {
			rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
			goto out;
		}
		*rv = f->C_GetSlotList(CK_TRUE, slots, &n);
		if (*rv != CKR_BUFFER_TOO_SMALL)
			break;
	}
	if (*rv != CKR_OK) {
		rc = cs_err_set(err, CS_ERR_TOKEN,
		    "token unavailable: cannot list slots: %s",
		    p11_rv_name(*rv, rvbuf, sizeof(rvbuf)));
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue; /* a slot may be going away */
		if ((ti.flags & CKF_TOKEN_INITIALIZED) == 0)
			continue;
		p11_field_str(name, sizeof(name), ti.label, sizeof(ti.label));
		if (strcmp(name, label) == 0) {
			*slot = slots[i];
			rc = CS_OK;
			goto out;
		}
	}
	*rv = CKR_TOKEN_NOT_PRESENT;
	rc = cs_err_set(err, CS_ERR_TOKEN, "token '%s' not found", label);
out:
	free(slots);
	return rc;
}

static bool
p11_pin_error(CK_RV rv)
{
	return rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID ||
	    rv == CKR_PIN_LEN_RANGE || rv == CKR_PIN_EXPIRED ||
	    rv == CKR_PIN_LOCKED || rv == CKR_USER_PIN_NOT_INITIALIZED;
}

static bool
p11_pin_hash(const struct p11_token *tok, const char *pin, size_t len,
    unsigned char out[32])
{
	EVP_MD_CTX *ctx;
	unsigned int n = 0;
	bool ok;

	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return false;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, tok->pin_salt, sizeof(tok->pin_salt)) == 1 &&
	    EVP_DigestUpdate(ctx, pin, len) == 1 &&
	    EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == 32;
	EVP_MD_CTX_free(ctx);
	return ok;
}

enum cs_rc
p11_login(
    struct p11_token *tok, CK_SESSION_HANDLE h, CK_RV *rv, struct cs_err *err)
{
	char pin[P11_PIN_MAX + 1];
	unsigned char hash[32];
	char rvbuf[32];
	struct cs_err perr;
	bool hashed;
	size_t len;
	enum cs_rc rc;

	*rv = CKR_OK;
	memset(pin, 0, sizeof(pin));
	cs_err_clear(&perr);
	rc = tok->pin_fn(tok->pin_arg, pin, sizeof(pin), &perr);
	if (rc != CS_OK) {
		*rv = CKR_PIN_INVALID;
		rc = cs_err_set(err, CS_ERR_TOKEN,
		    "token login failed: cannot read pin: %s", perr.msg);
		goto out;
	}
	pin[sizeof(pin) - 1] = '\0';
	len = strlen(pin);
	hashed = p11_pin_hash(tok, pin, len, hash);
	if (hashed && tok->has_bad_pin &&
	    CRYPTO_memcmp(hash, tok->bad_pin, sizeof(hash)) == 0) {
		*rv = CKR_PIN_INCORRECT;
		rc = cs_err_set(err, CS_ERR_TOKEN,
		    "token login failed: CKR_PIN_INCORRECT (pin unchanged)");
		goto out;
	}
	*rv = tok->f->C_Login(h, CKU_USER, (CK_UTF8CHAR *)pin, len);
	if (*rv == CKR_USER_ALREADY_LOGGED_IN)
		*rv = CKR_OK;
	if (*rv == CKR_OK) {
		tok->has_bad_pin = false;
		rc = CS_OK;
		goto out;
	}
	if (p11_pin_error(*rv) && hashed) {
		memcpy(tok->bad_pin, hash, sizeof(hash));
		tok->has_bad_pin = true;
	}
	rc = cs_err_set(err, CS_ERR_TOKEN, "token login failed: %s",
	    p11_rv_name(*rv, rvbuf, sizeof(rvbuf)));
	cs_log(CS_LOG_WARN, "token '%s': login failed: %s", tok->label,
	    p11_rv_name(*rv, rvbuf, sizeof(rvbuf)));
out:
	OPENSSL_cleanse(pin, sizeof(pin));
	OPENSSL_cleanse(hash, sizeof(hash));
	return rc;
}

/* --- algorithms --------------------------------------------------------- */

bool
p11_alg_parse(const char *name, enum p11_alg *alg)
{
	if (name == NULL)
		return false;
	if (strcmp(name, "p256") == 0)
		*alg = P11_ALG_P256;
	else if (strcmp(name, "p384") == 0)
		*alg = P11_ALG_P384;
	else if (strcmp(name, "rsa3072") == 0)
		*alg = P11_ALG_RSA3072;
	else
		return false;
	return true;
}

const char *
p11_alg_name(enum p11_alg alg)
{
	switch (alg) {
	case P11_ALG_P256:
		return "p256";
	case P11_ALG_P384:
		return "p384";
	case P11_ALG_RSA3072:
		return "rsa3072";
	}
	return "unknown";
}

/* --- tokens ------------------------------------------------------------- */

static bool
p11_label_ok(const char *label)
{
	size_t len;

	if (label == NULL)
		return false;
	len = strlen(label);
	return len > 0 && len < P11_TOKEN_LABEL_MAX;
}

enum cs_rc
p11_token_init(const char *module, const char *label, const char *so_pin,
    const char *user_pin, struct cs_err *err)
{
	struct p11_module *mod = NULL;
	CK_FUNCTION_LIST *f = NULL;
	CK_SLOT_ID *slots = NULL, slot = 0;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	CK_TOKEN_INFO ti;
	CK_UTF8CHAR padded[32];
	CK_ULONG n = 0, i;
	char name[P11_TOKEN_LABEL_MAX], rvbuf[32];
	bool found = false, so = false;
	CK_RV rv;
	enum cs_rc rc;

	if (module == NULL || !p11_label_ok(label))
		return cs_err_set(
		    err, CS_ERR_INVALID, "token label must be 1 to 32 bytes");
	if (so_pin == NULL || user_pin == NULL || *so_pin == '\0' ||
	    *user_pin == '\0' || strlen(so_pin) > P11_PIN_MAX ||
	    strlen(user_pin) > P11_PIN_MAX)
		return cs_err_set(err, CS_ERR_INVALID,
		    "token pins must be 1 to %d bytes", P11_PIN_MAX);
	rc = p11_module_load(module, &mod, &f, err);
	if (rc != CS_OK)
		return rc;
	rv = f->C_GetSlotList(CK_FALSE, NULL, &n);
	if (rv == CKR_OK && n > 0 && n <= P11_SLOTS_MAX) {
		slots = calloc(n, sizeof(*slots));
		if (slots == NULL) {
			rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
			goto out;
		}
		rv = f->C_GetSlotList(CK_FALSE, slots, &n);
	}
	if (rv != CKR_OK) {
		rc = cs_err_set(err, CS_ERR_TOKEN, "cannot list slots: %s",
		    p11_rv_name(rv, rvbuf, sizeof(rvbuf)));
		goto out;
	}
	for (i = 0; slots != NULL && i < n; i++) {
		if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		if ((ti.flags & CKF_TOKEN_INITIALIZED) == 0) {
			if (!found) {
				slot = slots[i];
				found = true;
			}
			continue;
		}
		p11_field_str(name, sizeof(name), ti.label, sizeof(ti.label));
		if (strcmp(name, label) == 0) {
			rc = cs_err_set(err, CS_ERR_CONFLICT,
			    "token '%s' exists already", label);
			goto out;
		}
	}
	if (!found) {
		rc = cs_err_set(
		    err, CS_ERR_TOKEN, "no free slot for token '%s'", label);
		goto out;
	}
	memset(padded, ' ', sizeof(padded));
	memcpy(padded, label, strlen(label));
	rv =
	    f->C_InitToken(slot, (CK_UTF8CHAR *)so_pin, strlen(so_pin), padded);
	if (rv != CKR_OK) {
		rc = cs_err_set(err, CS_ERR_TOKEN, "C_InitToken failed: %s",
		    p11_rv_name(rv, rvbuf, sizeof(rvbuf)));
		goto out;
	}
	rv = f->C_OpenSession(
	    slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h);
	if (rv != CKR_OK) {
		/* Some modules move a token to a new slot when initialised. */
		rc = p11_slot_find(f, label, &slot, &rv, err);
		if (rc != CS_OK)
			goto out;
		rv = f->C_OpenSession(
		    slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h);
	}
	if (rv != CKR_OK) {
		rc = cs_err_set(err, CS_ERR_TOKEN, "C_OpenSession failed: %s",
		    p11_rv_name(rv, rvbuf, sizeof(rvbuf)));
		goto out;
	}
	rv = f->C_Login(h, CKU_SO, (CK_UTF8CHAR *)so_pin, strlen(so_pin));
	if (rv != CKR_OK) {
		rc = cs_err_set(err, CS_ERR_TOKEN, "so login failed: %s",
		    p11_rv_name(rv, rvbuf, sizeof(rvbuf)));
		goto out;
	}
	so = true;
	rv = f->C_InitPIN(h, (CK_UTF8CHAR *)user_pin, strlen(user_pin));
	if (rv != CKR_OK) {
		rc = cs_err_set(err, CS_ERR_TOKEN, "C_InitPIN failed: %s",
		    p11_rv_name(rv, rvbuf, sizeof(rvbuf)));
		goto out;
	}
	cs_log(CS_LOG_INFO, "token '%s' initialised", label);
	rc = CS_OK;
out:
	if (so)
		f->C_Logout(h);
	if (h != CK_INVALID_HANDLE)
		f->C_CloseSession(h);
	free(slots);
	p11_module_unload(mod);
	return rc;
}

bool
p11_token_exists(const char *module, const char *label)
{
	struct p11_module *mod = NULL;
	CK_FUNCTION_LIST *f = NULL;
	CK_SLOT_ID slot;
	CK_RV rv;
	bool found;

	if (module == NULL || !p11_label_ok(label))
		return false;
	if (p11_module_load(module, &mod, &f, NULL) != CS_OK)
		return false;
	found = p11_slot_find(f, label, &slot, &rv, NULL) == CS_OK;
	p11_module_unload(mod);
	return found;
}

enum cs_rc
p11_token_open(
    const struct p11_config *cfg, struct p11_token **out, struct cs_err *err)
{
	struct p11_token *tok;
	pthread_condattr_t ca;
	CK_INFO info;
	CK_SLOT_ID slot = 0;
	CK_RV rv;
	long ncpu;
	enum cs_rc rc;

	*out = NULL;
	if (cfg == NULL || cfg->module == NULL || *cfg->module == '\0')
		return cs_err_set(err, CS_ERR_INVALID, "pkcs11 module not set");
	if (!p11_label_ok(cfg->token_label))
		return cs_err_set(
		    err, CS_ERR_INVALID, "token label must be 1 to 32 bytes");
	if (cfg->pin_fn == NULL)
		return cs_err_set(
		    err, CS_ERR_INVALID, "token pin source not set");
	tok = calloc(1, sizeof(*tok));
	if (tok == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	tok->pid = getpid();
	cs_strlcpy(tok->label, cfg->token_label, sizeof(tok->label));
	tok->pin_fn = cfg->pin_fn;
	tok->pin_arg = cfg->pin_arg;
	tok->timeout_ms =
	    cfg->timeout_ms ? cfg->timeout_ms : P11_TIMEOUT_DEFAULT;
	tok->pool_size = cfg->pool_size;
	tok->queue_max = cfg->queue_max;
	if (tok->pool_size == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		tok->pool_size = ncpu > 0 ? 2 * (unsigned)ncpu : 2;
	}
	if (tok->pool_size > P11_POOL_MAX)
		tok->pool_size = P11_POOL_MAX;
	atomic_init(&tok->slot, 0);
	atomic_init(&tok->down_until_ns, 0);
	atomic_init(&tok->down_rv, CKR_OK);
	atomic_init(&tok->key_gen, 1);
	pthread_mutex_init(&tok->pool_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&tok->pool_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&tok->rec_mu, NULL);
	pthread_rwlock_init(&tok->cache_mu, NULL);
	pthread_mutex_init(&tok->gen_mu, NULL);
	if (RAND_bytes(tok->pin_salt, sizeof(tok->pin_salt)) != 1) {
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "RAND_bytes failed");
		goto fail;
	}

	rc = p11_module_load(cfg->module, &tok->mod, &tok->f, err);
	if (rc != CS_OK)
		goto fail;
	if (tok->f->C_GetInfo(&info) == CKR_OK)
		p11_field_str(tok->library, sizeof(tok->library),
		    info.libraryDescription, sizeof(info.libraryDescription));
	rc = p11_slot_find(tok->f, tok->label, &slot, &rv, err);
	if (rc != CS_OK)
		goto fail;
	atomic_store(&tok->slot, slot);
	rc = p11_pool_init(tok, err);
	if (rc != CS_OK)
		goto fail;
	cs_log(CS_LOG_INFO, "token '%s' open: slot %lu, %u sessions",
	    tok->label, (unsigned long)slot, tok->pool_size);
	*out = tok;
	return CS_OK;
fail:
	p11_token_free(tok);
	return rc;
}

void
p11_token_free(struct p11_token *tok)
{
	if (tok == NULL)
		return;
	p11_pool_release(tok);
	p11_cache_release(tok);
	/* A forked child must not touch the parent's module state. */
	if (tok->pid == getpid())
		p11_module_unload(tok->mod);
	pthread_mutex_destroy(&tok->gen_mu);
	pthread_rwlock_destroy(&tok->cache_mu);
	pthread_mutex_destroy(&tok->rec_mu);
	pthread_cond_destroy(&tok->pool_cv);
	pthread_mutex_destroy(&tok->pool_mu);
	OPENSSL_cleanse(tok, sizeof(*tok));
	free(tok);
}

struct info_op {
	CK_TOKEN_INFO ti;
};

static enum cs_rc
info_op(struct p11_token *tok, CK_SESSION_HANDLE h, void *arg, CK_RV *rv,
    struct cs_err *err)
{
	struct info_op *op = arg;
	char rvbuf[32];

	(void)h;
	*rv = tok->f->C_GetTokenInfo(atomic_load(&tok->slot), &op->ti);
	if (*rv != CKR_OK)
		return cs_err_set(err, CS_ERR_TOKEN, "token unavailable: %s",
		    p11_rv_name(*rv, rvbuf, sizeof(rvbuf)));
	return CS_OK;
}

enum cs_rc
p11_token_info(
    struct p11_token *tok, struct p11_token_status *st, struct cs_err *err)
{
	struct info_op op;
	enum cs_rc rc;

	memset(st, 0, sizeof(*st));
	cs_strlcpy(st->label, tok->label, sizeof(st->label));
	cs_strlcpy(st->library, tok->library, sizeof(st->library));
	st->pool_size = tok->pool_size;
	memset(&op, 0, sizeof(op));
	rc = p11_pool_run(tok, info_op, &op, err);
	st->slot_id = (unsigned long)atomic_load(&tok->slot);
	st->pool_idle = p11_pool_idle(tok);
	if (rc != CS_OK)
		return rc;
	st->present = true;
	st->logged_in = true; /* p11_pool_run ran op in a user session */
	p11_field_str(st->manufacturer, sizeof(st->manufacturer),
	    op.ti.manufacturerID, sizeof(op.ti.manufacturerID));
	p11_field_str(
	    st->model, sizeof(st->model), op.ti.model, sizeof(op.ti.model));
	p11_field_str(st->serial, sizeof(st->serial), op.ti.serialNumber,
	    sizeof(op.ti.serialNumber));
	return CS_OK;
}

static enum cs_rc
ready_op(struct p11_token *tok, CK_SESSION_HANDLE h, void *arg, CK_RV *rv,
    struct cs_err *err)
{
	(void)tok;
	(void)h;
	(void)arg;
	(void)rv;
	(void)err;
	return CS_OK;
}

bool
p11_token_ready(struct p11_token *tok)
{
	return p11_pool_run(tok, ready_op, NULL, NULL) == CS_OK;
}

void
p11_stats_get(struct p11_token *tok, struct p11_stats *st)
{
	st->signs = atomic_load_explicit(&tok->st_signs, memory_order_relaxed);
	st->sign_failures =
	    atomic_load_explicit(&tok->st_sign_failures, memory_order_relaxed);
	st->sign_ns =
	    atomic_load_explicit(&tok->st_sign_ns, memory_order_relaxed);
	st->pool_waits =
	    atomic_load_explicit(&tok->st_pool_waits, memory_order_relaxed);
	st->pool_timeouts =
	    atomic_load_explicit(&tok->st_pool_timeouts, memory_order_relaxed);
	st->pool_wait_ns =
	    atomic_load_explicit(&tok->st_pool_wait_ns, memory_order_relaxed);
	st->pool_shed =
	    atomic_load_explicit(&tok->st_pool_shed, memory_order_relaxed);
	st->recoveries =
	    atomic_load_explicit(&tok->st_recoveries, memory_order_relaxed);
}

void
p11_stats_purpose(struct p11_token *tok, enum p11_purpose p, uint64_t *signs,
    uint64_t *failures, const struct cs_hist **latency)
{
	if ((unsigned)p >= P11_NPURPOSE)
		p = P11_PURPOSE_OTHER;
	*signs =
	    atomic_load_explicit(&tok->st_p_signs[p], memory_order_relaxed);
	*failures =
	    atomic_load_explicit(&tok->st_p_failures[p], memory_order_relaxed);
	*latency = &tok->st_p_latency[p];
}
