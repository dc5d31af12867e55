/*
 * svcfix.h: a whole certsvc service for the certsvc/, api/ and tools/
 * suites: a SoftHSM2 token, a data directory with its certsvc.conf, PIN
 * and holder-key files, the opened service with its CA, and helpers that
 * add departments, licence types, seals and clients and issue licences
 * through the same functions the API calls.  Every helper asserts success
 * (Check), so a suite's setup reads as the list of what it needs.
 * (tests/testutil.h stays for the pkcs11/ and crypto/ suites, which must
 * not link certsvc/.)
 */
#ifndef CERTSVC_TESTS_SVCFIX_H
#define CERTSVC_TESTS_SVCFIX_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "certsvc/client.h"
#include "certsvc/codes.h"
#include "certsvc/store.h"
#include "certsvc/svc.h"
#include "tests/testutil.h"

/* The credit codes svcfix_world() gives its departments A and B. */
#define SVCFIX_DEPT_A "91110105MA012345"
#define SVCFIX_DEPT_B "12110000MB012345"

/* How svcfix_config() writes certsvc.conf; a zeroed one is the default. */
struct svcfix_opts {
	int pool_size;          /* token sessions; 0: 4 */
	const char *public_url; /* NULL: cfg_defaults()' */
	bool no_holder_key;     /* no DATA/holder-key file */
	bool timestamp_seals;   /* CAdES-T licence seals; false: CAdES-BES */
};

struct svcfix {
	struct testutil_token tok;
	char dir[PATH_MAX];       /* the data directory */
	char conf[PATH_MAX + 32]; /* DATA/certsvc.conf */
	struct svc *svc;          /* svcfix_open(); freed by svcfix_close() */
	int key_n;                /* Idempotency-Keys used by svcfix_issue() */
	/* svcfix_world(): departments A and B, a type, seal, issuer each. */
	char dept_a[CODES_CREDIT_LEN + 1], dept_b[CODES_CREDIT_LEN + 1];
	char seal_a[STORE_CODE_MAX], seal_b[STORE_CODE_MAX];
	struct client_principal issuer_a, issuer_b, verifier;
};

/*
 * A new token labelled label and a data directory whose certsvc.conf
 * points at it, with the PIN file (and unless o->no_holder_key the
 * holder-key file); CERTSVC_PIN is unset.  o may be NULL.  Nothing is
 * opened: f->conf is ready for svc_open().
 */
void svcfix_config(
    struct svcfix *f, const char *label, const struct svcfix_opts *o);

/* svcfix_config(), then svc_open(SVC_OPEN_ALL) into f->svc and ca_init(). */
void svcfix_open(
    struct svcfix *f, const char *label, const struct svcfix_opts *o);

/* svcfix_open() plus svcfix_world(): the service most suites start from. */
void svcfix_open_world(
    struct svcfix *f, const char *label, const struct svcfix_opts *o);

/* Free f->svc (if open) and remove the token and its directory. */
void svcfix_close(struct svcfix *f);

/* A valid credit code from its first 16 characters. */
void svcfix_code(const char *first16, char out[CODES_CREDIT_LEN + 1]);

/* Add the department whose code starts with first16; its code into out. */
void svcfix_dept(struct svcfix *f, const char *first16, const char *name,
    const char *region, char out[CODES_CREDIT_LEN + 1]);

/*
 * Add licence type code for dept: valid 365 days, fields "scope" (a
 * required string) and "capital" (an optional number).
 */
void svcfix_type(struct svcfix *f, const char *code, const char *dept);

/* Create a P-256 seal of dept; its id into id (STORE_CODE_MAX) if not NULL. */
void svcfix_seal(struct svcfix *f, const char *dept, char *id);

/* Add a client of role (of dept) and authenticate it into p. */
void svcfix_client(struct svcfix *f, enum client_role role, const char *dept,
    struct client_principal *p);

/*
 * Departments A (110105) and B (110000) with types TA01 and TB01 and a
 * seal each, issuers issuer_a and issuer_b and a verifier, into f.
 */
void svcfix_world(struct svcfix *f);

/*
 * {"type", "holder": 张三 resident_id 110101199003070011, "fields":
 * {"scope", "capital": 1.5}}: an issuance request (json_decref).
 */
json_t *svcfix_request(const char *type, const char *scope);

/*
 * Issue a TA01 licence (scope "food") as issuer with a new
 * Idempotency-Key, valid 2020 only when expired; its id into id
 * (STORE_LICENCE_ID_MAX), and when holder is not NULL the holder's
 * principal from the holder token.
 */
void svcfix_issue(struct svcfix *f, const struct client_principal *issuer,
    bool expired, char *id, struct client_principal *holder);

/* The status of licence id at version (0: newest); valid until the next call.
 */
const char *svcfix_state(struct svcfix *f, const char *id, int version);

/* The newest version of licence id. */
int svcfix_newest_version(struct svcfix *f, const char *id);

/* The number of audit events. */
int64_t svcfix_audit_count(struct svcfix *f);

#endif
