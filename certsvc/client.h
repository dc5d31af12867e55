/*
 * client.h: API clients and their bearer tokens.  A secret is 256 random
 * bits shown once (base64url, 43 characters, prefixed "cs_"); only its
 * SHA-256 is stored, so a copy of the database yields no usable token.
 * Deny by default: a request without a known, active token gets 401.
 */
#ifndef CERTSVC_CLIENT_H
#define CERTSVC_CLIENT_H

#include <stdbool.h>

#include "certsvc/store.h"
#include "certsvc/svc.h"

#define CLIENT_SECRET_MAX 64

enum client_role {
	CLIENT_ISSUER = 1,
	CLIENT_VERIFIER,
	CLIENT_HOLDER,
};

bool client_role_parse(const char *name, enum client_role *role);
const char *client_role_name(enum client_role role);

/* Who is calling: filled by client_authenticate(). */
struct client_principal {
	char id[STORE_CODE_MAX];
	enum client_role role;
	char dept[STORE_CODE_MAX]; /* issuers */
	char holder_ref[72];       /* holders */
};

/*
 * Create a client.  Issuers need dept (which must exist); holders need
 * holder_ref (holder_ref_make()).  The new id goes to id, the secret to
 * secret (at least CLIENT_SECRET_MAX bytes; the caller shows it once and
 * wipes it).  Stored with its audit event.
 */
enum cs_rc client_add(struct svc *svc, enum client_role role, const char *name,
    const char *dept, const char *holder_ref, const char *actor, char *id,
    size_t idsz, char *secret, size_t secretsz, struct cs_err *err);

/*
 * client_add() for a verifier with its usage list (用证清单, DESIGN.md
 * section 4): the licence types (each must exist: CS_ERR_NOT_FOUND naming
 * it) whose codes it may redeem.  A verifier with no list redeems no
 * code at all (deny by default); it can still verify licences it holds.
 * The list is part of the client's audit event.
 */
enum cs_rc client_add_verifier(struct svc *svc, const char *name,
    const char *const *types, size_t ntypes, const char *actor, char *id,
    size_t idsz, char *secret, size_t secretsz, struct cs_err *err);

/* Same, inside the caller's transaction (issuance makes holder tokens). */
enum cs_rc client_add_tx(struct svc *svc, struct store_tx *tx,
    enum client_role role, const char *name, const char *dept,
    const char *holder_ref, char *id, size_t idsz, char *secret,
    size_t secretsz, struct cs_err *err);

/*
 * Resolve an Authorization header value ("Bearer <secret>") to a
 * principal.  CS_ERR_AUTH for a missing, malformed, unknown or revoked
 * token (one message for all, so it reveals nothing).  With svc's cache,
 * an active principal is kept for a few seconds, and dropped as soon as
 * any process changes a client row (the store's "clients" generation).
 */
enum cs_rc client_authenticate(struct svc *svc, const char *authorization,
    struct client_principal *p, struct cs_err *err);

/*
 * Create svc's principal cache (svc_open calls it); without one,
 * client_authenticate() reads the client row on every call.
 * client_cache_free() wipes and frees it; NULL svc or cache does nothing.
 */
enum cs_rc client_cache_init(struct svc *svc, struct cs_err *err);
void client_cache_free(struct svc *svc);

enum cs_rc client_revoke(
    struct svc *svc, const char *id, const char *actor, struct cs_err *err);
enum cs_rc client_list(
    struct svc *svc, struct store_client **out, size_t *n, struct cs_err *err);

/*
 * The keyed reference of a holder: HMAC-SHA256 under svc->holder_key of
 * "<id_type>:<id_number>", hex.  Lets certsvc find a holder's licences
 * without storing the identifier in clear outside the document.
 */
enum cs_rc holder_ref_make(const struct svc *svc, const char *id_type,
    const char *id_number, char *out, size_t outsz, struct cs_err *err);

/* Mask an identifier for logs: keep 4 first and 4 last, '*' between. */
void holder_id_mask(const char *id, char *out, size_t outsz);

#endif
