/*
 * p11_int.h: what the files of pkcs11/ share and nobody else sees: the
 * token structure, the session pool and its recovery, RFC 7512 URIs and the
 * process-wide module registry.  Tests of this directory include it to reach
 * the pool directly (holding a session, reading raw attributes).
 */
#ifndef CERTSVC_P11_INT_H
#define CERTSVC_P11_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <p11-kit/pkcs11.h>

#include "certsvc/err.h"
#include "certsvc/log.h"
#include "pkcs11/p11.h"

#define P11_TOKEN_LABEL_MAX 33 /* CK_TOKEN_INFO.label is 32 bytes */
#define P11_ID_MAX 64          /* longest CKA_ID we name in a URI */
#define P11_ATTR_MAX 8192      /* longest attribute value we read */
#define P11_POOL_MAX 1024      /* most sessions in a pool */
#define P11_KEYS_MAX 4096      /* most keys p11_key_list returns */
#define P11_CACHE_MAX 256      /* most URIs in the key handle cache */

/* --- RFC 7512 URIs (p11_uri.c) ------------------------------------------ */

enum p11_uri_type {
	P11_URI_ANY = 0, /* no type attribute */
	P11_URI_PRIVATE,
	P11_URI_PUBLIC,
};

/* The attributes of a key URI we understand; the rest are rejected. */
struct p11_uri {
	bool has_token;
	bool has_object;
	bool has_id;
	char token[P11_TOKEN_LABEL_MAX];
	char object[P11_LABEL_MAX];
	unsigned char id[P11_ID_MAX];
	size_t id_len;
	enum p11_uri_type type;
};

/*
 * Parse s ("pkcs11:token=...;object=...;id=%01...;type=private") into u.
 * CS_ERR_INVALID with a message naming the problem for anything malformed:
 * another scheme, an unknown or repeated attribute, a bad percent-encoding,
 * a character outside RFC 7512's set, a value too long, a NUL in a label,
 * or any query attribute (a pin-value is refused without being echoed).
 */
enum cs_rc p11_uri_parse(const char *s, struct p11_uri *u, struct cs_err *err);

/*
 * Write u as a URI into out (size outsz): token, object, id, type, in that
 * order, each only if set; unreserved characters as they are, all others
 * percent-encoded (id always).  CS_ERR_INVALID if it does not fit.
 */
enum cs_rc p11_uri_format(
    const struct p11_uri *u, char *out, size_t outsz, struct cs_err *err);

/* --- the module registry (p11.c) ---------------------------------------- */

/*
 * A loaded and C_Initialize'd module.  PKCS#11 initialisation is per
 * process, so this is the one global of the layer: modules are shared by
 * every p11_token of the process and finalised when the last one goes.
 */
struct p11_module;

enum cs_rc p11_module_load(const char *path, struct p11_module **out,
    CK_FUNCTION_LIST **fl, struct cs_err *err);
void p11_module_unload(struct p11_module *m);

/*
 * Find the slot holding an initialised token whose label is label (space
 * padding ignored).  CS_ERR_TOKEN if the slot list cannot be read (*rv says
 * why) or no token has that label (*rv is CKR_TOKEN_NOT_PRESENT).
 */
enum cs_rc p11_slot_find(CK_FUNCTION_LIST *f, const char *label,
    CK_SLOT_ID *slot, CK_RV *rv, struct cs_err *err);

/* "CKR_PIN_INCORRECT", or "CKR_0x%lx" for codes it does not know. */
const char *p11_rv_name(CK_RV rv, char *buf, size_t bufsz);

/* The cs_rc for a failed module call that recovery cannot cure. */
enum cs_rc p11_rv_rc(CK_RV rv);

/* A session, logged-in token or key handle was lost: recovery may cure it. */
bool p11_rv_recoverable(CK_RV rv);

/* Copy a blank-padded PKCS#11 string field into a C string, trimmed. */
void p11_field_str(
    char *dst, size_t dstsz, const unsigned char *src, size_t srclen);

/* --- the token ----------------------------------------------------------- */

/* One pooled session; h is CK_INVALID_HANDLE while it is closed. */
struct p11_sess {
	CK_SESSION_HANDLE h;
};

struct p11_key_ent {
	uint64_t hash;
	char *uri;
	CK_OBJECT_HANDLE obj;
	CK_KEY_TYPE type;
	uint64_t gen; /* valid while equal to tok->key_gen */
};

struct p11_token {
	/* Set by p11_token_open and never changed after. */
	struct p11_module *mod;
	CK_FUNCTION_LIST *f;
	char label[P11_TOKEN_LABEL_MAX];
	char library[P11_LABEL_MAX];
	unsigned pool_size;
	unsigned timeout_ms;
	unsigned queue_max; /* 0: no limit */
	p11_pin_fn pin_fn;
	void *pin_arg;
	pid_t pid;

	/* The slot can change when the token is re-inserted. */
	_Atomic CK_SLOT_ID slot;

	/* The pool (p11_pool.c); pool_mu guards only the free stack. */
	pthread_mutex_t pool_mu;
	pthread_cond_t pool_cv;
	struct p11_sess *sess;
	struct p11_sess **free;
	unsigned nfree;
	unsigned waiters;

	/*
	 * Recovery: rec_mu serialises re-opening and logging in, taken only
	 * on the failure path.  down_until_ns says "the token was away at the
	 * last try; do not ask again before then", down_rv why.
	 */
	pthread_mutex_t rec_mu;
	_Atomic uint64_t down_until_ns;
	_Atomic CK_RV down_rv;
	uint64_t backoff_ns; /* under rec_mu */

	/* Key handle cache (p11_key.c), invalidated by bumping key_gen. */
	_Atomic uint64_t key_gen;
	pthread_rwlock_t cache_mu;
	struct p11_key_ent *cache;
	size_t ncache;

	/*
	 * A salted hash of the last PIN the token refused (under rec_mu), so
	 * that recovery never offers the same wrong PIN twice and cannot lock
	 * the token; it tries again once the PIN source gives another PIN.
	 */
	unsigned char pin_salt[16];
	unsigned char bad_pin[32];
	bool has_bad_pin;

	/* Serialises key generation so that the label check holds. */
	pthread_mutex_t gen_mu;

	/* Counters for p11_stats_get. */
	_Atomic uint64_t st_signs;
	_Atomic uint64_t st_sign_failures;
	_Atomic uint64_t st_sign_ns;
	_Atomic uint64_t st_pool_waits;
	_Atomic uint64_t st_pool_timeouts;
	_Atomic uint64_t st_pool_shed;
	_Atomic uint64_t st_pool_wait_ns;
	_Atomic uint64_t st_recoveries;
	/* By key purpose (p11_uri_purpose): signatures, failures, latency. */
	_Atomic uint64_t st_p_signs[P11_NPURPOSE];
	_Atomic uint64_t st_p_failures[P11_NPURPOSE];
	struct cs_hist st_p_latency[P11_NPURPOSE];
};

/* Log in on session h with the PIN from tok->pin_fn, wiped right after. */
enum cs_rc p11_login(
    struct p11_token *tok, CK_SESSION_HANDLE h, CK_RV *rv, struct cs_err *err);

/* Monotonic deadline timeout_ms from now, in ns. */
uint64_t p11_deadline(const struct p11_token *tok);

/* --- the session pool (p11_pool.c) -------------------------------------- */

/* Allocate the pool and open and log in its sessions on tok->slot. */
enum cs_rc p11_pool_init(struct p11_token *tok, struct cs_err *err);

/* Close the sessions (unless forked) and free the pool. */
void p11_pool_release(struct p11_token *tok);

/*
 * Take a session from the pool, waiting until deadline (monotonic ns) at
 * most: CS_ERR_TOKEN "token unavailable: no free session" after that.  The
 * session is not validated; p11_pool_run() does that.
 */
enum cs_rc p11_pool_checkout(struct p11_token *tok, uint64_t deadline,
    struct p11_sess **out, struct cs_err *err);
void p11_pool_checkin(struct p11_token *tok, struct p11_sess *s);

/* Sessions in the free stack now. */
unsigned p11_pool_idle(struct p11_token *tok);

/*
 * An operation on a checked-out session that is logged in.  Returns CS_OK
 * or an error; a failed module call leaves its code in *rv so that the
 * runner can tell a lost session from a real failure.
 */
typedef enum cs_rc (*p11_op_fn)(struct p11_token *tok, CK_SESSION_HANDLE h,
    void *arg, CK_RV *rv, struct cs_err *err);

/*
 * Run op on a pooled session within tok->timeout_ms: check out, validate
 * (C_GetSessionInfo in a user state), recover when the session, the login,
 * a key handle or the token was lost, and retry until op succeeds, fails
 * for a reason recovery cannot cure, or the deadline passes (CS_ERR_TOKEN
 * "token unavailable: ...").
 */
enum cs_rc p11_pool_run(
    struct p11_token *tok, p11_op_fn op, void *arg, struct cs_err *err);

/* --- keys (p11_key.c) --------------------------------------------------- */

/* Free the key handle cache. */
void p11_cache_release(struct p11_token *tok);

#endif
