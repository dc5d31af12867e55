/*
 * fuzz.h: what the libFuzzer targets in fuzz/ share (docs/robustness.md).
 *
 * A target is one file, fuzz/fuzz_<name>.c, that defines
 * LLVMFuzzerTestOneInput() (and LLVMFuzzerInitialize() when it needs
 * one-time setup), plus one line "<name> <max_len>" in fuzz/targets.
 * Seeds go to fuzz/corpus/<name>/, inputs that once crashed to
 * fuzz/regress/<name>/.  A target that needs a parser's static functions
 * includes that .c file: the archive member it replaces is then never
 * linked.
 */
#ifndef CERTSVC_FUZZ_H
#define CERTSVC_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "certsvc/client.h"
#include "certsvc/err.h"
#include "certsvc/mem.h"
#include "certsvc/svc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/*
 * An invariant of the code under test: when it does not hold, abort, which
 * libFuzzer records as a crash with the input that caused it.
 */
#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",       \
			    __FILE__, __LINE__, #cond);                        \
			abort();                                               \
		}                                                              \
	} while (0)

/*
 * True when e's message is valid UTF-8: it reaches clients inside JSON,
 * and a message that is not UTF-8 turns a 400 into a 500.
 */
#define FUZZ_MSG_OK(e) fuzz_msg_ok(e)
bool fuzz_msg_ok(const struct cs_err *e);

/* A NUL-terminated copy of the input (free()); aborts when out of memory. */
char *fuzz_strndup(const uint8_t *data, size_t size);

/*
 * The directory of the fixed test PKI (fuzz/data): $FUZZ_DATA, else the
 * one the build was made from.
 */
const char *fuzz_data_dir(void);

/* The PEM certificate fuzz/data/<name> (X509_free); aborts on failure. */
X509 *fuzz_cert(const char *name);

/*
 * Quiet logging and no CERTSVC_* overrides: every target's first step.
 */
void fuzz_init(void);

/*
 * The principal client_authenticate() would give a client id of role; a
 * holder's holder reference is 64 'a's.
 */
void fuzz_principal(
    struct client_principal *p, enum client_role role, const char *id);

/*
 * The body of a target that fuzzes two routes' JSON bodies: data[0] picks
 * even (0) or odd (1), the rest is parsed with jcs_parse() and, when it is
 * JSON, handed to that function.  Returns 0, as LLVMFuzzerTestOneInput.
 */
int fuzz_json_pick(const uint8_t *data, size_t size,
    void (*even)(const json_t *), void (*odd)(const json_t *));

/*
 * A service opened with its store only (no token) in a fresh temporary
 * directory, removed at exit, with the root and issuing CA of fuzz/data:
 * enough for the code paths that read the store and verify seals.  Made on
 * the first call (after fuzz_init()); aborts on failure.
 */
struct svc *fuzz_svc(void);

#endif
