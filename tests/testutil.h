/*
 * testutil.h: fixtures shared by the Check suites: a throwaway SoftHSM2
 * token in its own directory, and paths under the run's temp dir.
 */
#ifndef CERTSVC_TESTUTIL_H
#define CERTSVC_TESTUTIL_H

#include <limits.h>
#include <stddef.h>

#include <openssl/types.h>

#include "certsvc/err.h"

#define TESTUTIL_PIN "1234"
#define TESTUTIL_SO_PIN "5678"

struct testutil_token {
	char dir[PATH_MAX];    /* token directory + softhsm2.conf */
	char conf[PATH_MAX];   /* softhsm2.conf, exported as SOFTHSM2_CONF */
	char module[PATH_MAX]; /* the real module (CERTSVC_TEST_MODULE) */
	char label[33];
};

/*
 * Create a new SoftHSM2 token labelled label in a new directory under
 * $CERTSVC_TEST_TMP (or /tmp), initialised with TESTUTIL_PIN, and point
 * SOFTHSM2_CONF at it.  Aborts the test process on failure.
 */
void testutil_softhsm(struct testutil_token *t, const char *label);

/* Remove the token directory. */
void testutil_softhsm_remove(struct testutil_token *t);

/* A p11_pin_fn that supplies TESTUTIL_PIN (arg unused). */
enum cs_rc testutil_pin_fn(
    void *arg, char *pin, size_t pinsz, struct cs_err *err);

/* A p11_pin_fn that supplies a wrong PIN. */
enum cs_rc testutil_bad_pin_fn(
    void *arg, char *pin, size_t pinsz, struct cs_err *err);

/* A fresh directory under the run's temp dir; path written to out. */
/*
 * Sign dgst (made with md_nid) with the software key priv as a token
 * would: ECDSA, or RSA with PKCS#1 v1.5 padding.  The signing callback of
 * the suites' stand-in signers.
 */
enum cs_rc testutil_sw_sign(EVP_PKEY *priv, int md_nid,
    const unsigned char *dgst, size_t dlen, unsigned char *sig, size_t *siglen,
    struct cs_err *err);

void testutil_tmpdir(char *out, size_t outsz);

/* Run argv (argv[0] looked up in PATH) and return its exit status. */
int testutil_run(char *const argv[]);

#endif
