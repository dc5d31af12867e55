/*
 * svc.h: the service context that both binaries open: configuration, store,
 * token and the CA certificates.  api/ and tools/ reach state only through
 * certsvc/ functions that take a struct svc.
 */
#ifndef CERTSVC_SVC_H
#define CERTSVC_SVC_H

#include <pthread.h>
#include <stdbool.h>

#include <openssl/x509.h>

#include "certsvc/cfg.h"
#include "certsvc/err.h"
#include "certsvc/store.h"
#include "pkcs11/p11.h"

struct ratelimit;
struct client_cache;
struct seal_cache;
struct serial_alloc;
struct txbatch;
struct report_state;
struct pkistatus;
struct statuslist_cache;
struct svc_refresher;
struct crypto_cert_cache;
struct ltype_cache;
struct ca_set;

struct svc {
	struct cfg cfg;
	struct store *store;     /* NULL unless SVC_OPEN_STORE */
	struct p11_token *token; /* NULL unless SVC_OPEN_TOKEN */
	X509 *root;              /* NULL until the CA exists */
	X509 *issuing;           /* the current issuing CA */
	struct ca_set *cas;      /* ca.c: every CA, older issuing ones too */
	char *pin_copy;          /* secure heap, when the PIN came from env */
	/* Key of holder_ref_make(): DATA/holder-key, 32 bytes as 64 hex. */
	unsigned char holder_key[32];
	bool has_holder_key;
	struct seal_cache *seals;        /* seal.c: signers by seal id */
	struct client_cache *clients;    /* client.c: principals */
	struct serial_alloc *serials;    /* licence.c: serial blocks */
	struct txbatch *batcher;         /* txbatch.c: group commit */
	struct report_state *reports;    /* report.c: in-memory report key */
	struct pkistatus *pki;           /* pkistatus.c: OCSP responses, CRLs */
	struct statuslist_cache *slists; /* statuslist.c: signed lists */
	struct svc_refresher *refresher; /* svc_refresher_start() */
	struct crypto_cert_cache *certs; /* parsed seal certificates */
	struct ltype_cache *ltypes;      /* ltype.c: parsed licence types */
	uint64_t audit_next_check_ns;    /* audit_refresh(): refresher only */
	struct code_limiter *code_limits; /* pcode.c: failed redemptions */
	struct ratelimit *web_limit;      /* routes_web.c: POST /verify */
	struct tsa_state *tsa;            /* tsa.c: timestamp authority */
};

enum svc_open_flags {
	SVC_OPEN_STORE = 1 << 0,
	SVC_OPEN_TOKEN = 1 << 1,
	SVC_OPEN_ALL = SVC_OPEN_STORE | SVC_OPEN_TOKEN,
};

/*
 * Load config_path, export SOFTHSM2_CONF when the config names one that
 * exists, then open what flags ask for, and load the CA certificates when
 * they exist.  If the PIN comes from CERTSVC_PIN it is moved into the
 * secure heap and the variable is unset, so that re-logins after token
 * recovery need no operator and the environment holds no PIN.
 * *out is given (svc_free).
 */
enum cs_rc svc_open(const char *config_path, unsigned flags, struct svc **out,
    struct cs_err *err);

/* Close everything and wipe the PIN copy; NULL does nothing. */
void svc_free(struct svc *svc);

/* (Re)load root and issuing certificates from the store. */
enum cs_rc svc_load_ca(struct svc *svc, struct cs_err *err);

/* The p11_pin_fn that svc_open() gives the token layer. */
enum cs_rc svc_pin_fn(void *arg, char *pin, size_t pinsz, struct cs_err *err);

/*
 * Bring everything certsvcd signs ahead of time up to date: the report key
 * (report_refresh), then OCSP responses and CRLs (pkistatus_refresh), then
 * status lists (statuslist_refresh, signed with the report key).  Each
 * step is cheap when nothing changed; a failing step is logged and the
 * next ones still run.  Returns the first failure.
 */
enum cs_rc svc_refresh(struct svc *svc, struct cs_err *err);

/*
 * Run svc_refresh() in a background thread: once at start, then every
 * second and whenever svc_refresh_nudge() asks (after a change made by
 * this process).  svc_refresher_stop() joins it (svc_free calls it).
 */
enum cs_rc svc_refresher_start(struct svc *svc, struct cs_err *err);
void svc_refresher_nudge(struct svc *svc);
/*
 * SIGHUP: like a nudge, and the refresher logs the outcome of that run
 * ("reload: ..."), so an operator sees that changes made by another
 * process (certsvc-admin) are served now.
 */
void svc_refresher_reload(struct svc *svc);
void svc_refresher_stop(struct svc *svc);

/* public_url (without trailing slashes) + path into out. */
void svc_url(const struct svc *svc, const char *path, char *out, size_t outsz);

#endif
