/*
 * rotate.h: key rotation (issue #9).  A seal gets a new key and
 * certificate while keeping its identity; its earlier certificates stay
 * valid and unrevoked, so what they sealed keeps verifying, and their keys
 * never seal again and can be destroyed in the token.  Licences can be
 * re-sealed in bulk, each as a new version, e.g. after a compromise.
 * docs/operations.md "Rotation" gives the procedure.
 */
#ifndef CERTSVC_ROTATE_H
#define CERTSVC_ROTATE_H

#include <stdbool.h>

#include "certsvc/store.h"
#include "certsvc/svc.h"
#include "pkcs11/p11.h"

struct rotate_seal_opts {
	const char *id;
	bool has_alg; /* else the seal's current algorithm */
	enum p11_alg alg;
	unsigned days; /* 0 = SEAL_DAYS_DEFAULT */
	const char *actor;
};

/* What a rotation did. */
struct rotate_seal_result {
	char old_uri[STORE_URI_MAX], new_uri[STORE_URI_MAX];
	char old_sha256[65], new_sha256[65]; /* certificates, lower-case hex */
	char alg[16];
};

/*
 * Rotate active seal o->id: a new key in the token, certified for the
 * same seal by the issuing CA; the seal row takes the new key and
 * certificate and the old ones are retired (never used to seal again,
 * still answered for by OCSP and CRLs), with the audit event, one
 * transaction.  Every process's signer cache sees it at once (the "seals"
 * generation).  CS_ERR_NOT_FOUND for an unknown seal, CS_ERR_CONFLICT for
 * a revoked one or a concurrent rotation (the new key is then left unused
 * in the token, as 'key list' shows).
 */
enum cs_rc rotate_seal(struct svc *svc, const struct rotate_seal_opts *o,
    struct rotate_seal_result *out, struct cs_err *err);

/*
 * Revoke the retired certificate of seal id whose SHA-256 is sha256_hex
 * (64 hex digits, as 'seal rotate' prints it) on its own, after a
 * compromise of its key; the seal and its current certificate stay.  The
 * reason is as for seal_revoke() ("keyCompromise: ...").  One transaction
 * with the audit event "seal.revoke-key"; OCSP and the CRL follow within a
 * second.  CS_ERR_INVALID for a bad hash or reason, CS_ERR_NOT_FOUND when
 * the seal has no such retired certificate, CS_ERR_CONFLICT when it is
 * revoked already.
 */
enum cs_rc rotate_revoke_retired(struct svc *svc, const char *id,
    const char *sha256_hex, const char *reason, const char *actor,
    struct cs_err *err);

/*
 * Destroy the token key named by name (a URI or a label of the key
 * inventory) and record it, with the audit event.  Refused
 * (CS_ERR_CONFLICT, naming the user) while an active seal, a CA or an
 * active unexpired service certificate uses it, or when it was destroyed
 * already; CS_ERR_NOT_FOUND when the inventory has no such key.  uri
 * (size urisz, may be NULL) receives its URI.
 */
enum cs_rc rotate_key_destroy(struct svc *svc, const char *name,
    const char *actor, char *uri, size_t urisz, struct cs_err *err);

enum rotate_reseal_outcome {
	ROTATE_RESEALED = 0, /* a new version was made */
	ROTATE_CURRENT,      /* already sealed with the target's current key */
	ROTATE_SKIPPED,      /* not valid (suspended, revoked, ...): left */
};

/*
 * Re-seal licence id if its newest version is sealed by seal `from` with
 * another key than the current one of seal `to` (NULL: from): a new
 * version (version + 1, same content, sealed by `to`), the old one
 * superseded, and the audit event "licence.reseal", one transaction.
 * Idempotent: a licence already sealed with the current key is
 * ROTATE_CURRENT.  Only valid licences are re-sealed; others are
 * ROTATE_SKIPPED (reason in why, size whysz).  CS_ERR_DENIED when `to`
 * belongs to another department, CS_ERR_CONFLICT when it is not active.
 */
enum cs_rc rotate_reseal(struct svc *svc, const char *id, const char *from,
    const char *to, const char *actor, enum rotate_reseal_outcome *outcome,
    char *why, size_t whysz, struct cs_err *err);

#endif
