/*
 * crypto_int.h: what the files of crypto/ share and nobody else sees: the
 * mapping of a failed OpenSSL call to an enum cs_rc, the error queue drain
 * and chain verification with a purpose.
 */
#ifndef CERTSVC_CRYPTO_INT_H
#define CERTSVC_CRYPTO_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/x509.h>

#include "certsvc/err.h"

/*
 * The code of a failed OpenSSL call: the enum cs_rc a token signer left
 * as an ERR_LIB_USER reason (pkcs11/p11_prov.c), else dflt.  Peeks only:
 * the caller still drains the queue (cs_err_ossl()).
 */
enum cs_rc crypto_ossl_rc(enum cs_rc dflt);

/* Log and drop whatever OpenSSL left (for paths without an err to fill). */
void crypto_ossl_drain(void);

/*
 * Verify cert against the single trust anchor root, with untrusted
 * intermediates (may be NULL), X509_V_FLAG_X509_STRICT, at the current
 * time, for purpose (an X509_PURPOSE_* id, or 0 for none).  *valid is true
 * only when X509_verify_cert() says 1; reason (may be NULL) receives its
 * error string.  An error code only when the verification could not run.
 */
enum cs_rc crypto_chain_verify(X509 *cert, X509 *root,
    STACK_OF(X509) * untrusted, int purpose, bool *valid, char *reason,
    size_t reasonsz, struct cs_err *err);

#endif
