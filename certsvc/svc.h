/*
 * svc.h: the service context that both binaries open: configuration, store,
 * token and the CA certificates.  api/ and tools/ reach state only through
 * certsvc/ functions that take a struct svc.
 */
#ifndef CERTSVC_SVC_H
#define CERTSVC_SVC_H

#include <stdbool.h>

#include <openssl/x509.h>

#include "certsvc/cfg.h"
#include "certsvc/err.h"
#include "certsvc/store.h"
#include "pkcs11/p11.h"

struct seal_cache;
struct serial_alloc;

struct svc {
	struct cfg cfg;
	struct store *store;     /* NULL unless SVC_OPEN_STORE */
	struct p11_token *token; /* NULL unless SVC_OPEN_TOKEN */
	X509 *root;              /* NULL until the CA exists */
	X509 *issuing;
	char *pin_copy; /* secure heap, when the PIN came from env */
	/* Key of holder_ref_make(): DATA/holder-key, 32 bytes as 64 hex. */
	unsigned char holder_key[32];
	bool has_holder_key;
	struct seal_cache *seals;     /* seal.c: signers by seal id */
	struct serial_alloc *serials; /* licence.c: serial blocks */
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

#endif
