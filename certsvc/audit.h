/*
 * audit.h: signed checkpoints of the audit trail and its verification
 * (issue #7; docs/audit.md).  The chain itself (store_audit_append,
 * store_audit_verify) proves that no event was changed or removed in the
 * middle; a checkpoint, the head's sequence number and hash signed with
 * the audit key in the token, proves what the head was, so a truncated or
 * rewritten tail shows against it.  Checkpoints are made by certsvcd every
 * audit_checkpoint_events events or audit_checkpoint_seconds, and on
 * demand (certsvc-admin audit checkpoint); exported, a third party keeps
 * them.
 */
#ifndef CERTSVC_AUDIT_H
#define CERTSVC_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "certsvc/store.h"
#include "certsvc/svc.h"

#define AUDIT_CHECKPOINT_FORMAT "certsvc-audit-checkpoint/1"
#define AUDIT_EXPORT_FORMAT "certsvc-checkpoint-export/1"
#define AUDIT_KEY_DAYS 365

/*
 * Checkpoint the current head: sign it with the audit key (made when
 * there is none) and store it.  When the newest checkpoint already covers
 * the head, that one is returned and *made is false.  CS_ERR_NOT_FOUND
 * when the trail is empty.  out is filled (store_checkpoint_release).
 */
enum cs_rc audit_checkpoint(struct svc *svc, struct store_checkpoint *out,
    bool *made, struct cs_err *err);

/* The export form of c: {"format", "seq", "document", "seal"} (base64). */
json_t *audit_checkpoint_export(const struct store_checkpoint *c);

struct audit_verify_result {
	int64_t events;   /* events in the trail */
	int64_t last_seq; /* the newest one's sequence number */
	/*
	 * 0 when everything holds, else the first sequence number at which
	 * the trail is broken: a changed or missing event, or the first
	 * event a checkpoint proves missing (truncation) or rewritten.
	 */
	int64_t bad_seq;
	char reason[256]; /* what is wrong, "" when nothing */
	int64_t
	    checkpoints; /* stored checkpoints whose signature and head hold */
	bool exported;   /* an exported checkpoint was checked */
	int64_t exported_seq;
};

/*
 * Recompute the chain, check every stored checkpoint (signature by an
 * audit certificate chaining to the root, head hash equal to the chain's
 * at its sequence number) and, when exported is not NULL, the exported
 * checkpoint of len bytes (audit_checkpoint_export's form) the same way.
 * A broken trail or a bad checkpoint is an answer: CS_OK with res filled
 * (bad_seq, reason).  CS_ERR_INVALID only for an exported file that is not
 * a checkpoint export at all.
 */
enum cs_rc audit_verify(struct svc *svc, const unsigned char *exported,
    size_t len, struct audit_verify_result *res, struct cs_err *err)
    __attribute__((warn_unused_result));

/*
 * The refresher's step: a checkpoint when audit_checkpoint_events events
 * or audit_checkpoint_seconds have passed since the newest one (and
 * there is something new).  Checks at most every 10 seconds.
 */
enum cs_rc audit_refresh(struct svc *svc, struct cs_err *err);

#endif
