/*
 * pcode.h: 免证办 codes (issue #6, docs/codes.md).  A holder grants one
 * relying party (or any) a few uses of one of their licences for a few
 * minutes; the relying party redeems the code for the licence envelope
 * and a fresh signed verification report, and every redemption leaves a
 * usage record (用证记录) that the holder and the issuing department see.
 */
#ifndef CERTSVC_PCODE_H
#define CERTSVC_PCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "certsvc/client.h"
#include "certsvc/store.h"
#include "certsvc/svc.h"

#define PCODE_LONG_LEN 43    /* base64url of 256 bits, no padding */
#define PCODE_SHORT_DATA 10  /* random characters of the short form */
#define PCODE_SHORT_LEN 11   /* + one check character */
#define PCODE_SHORT_SHOWN 13 /* "XXXX-XXXX-XXX" */
#define PCODE_RADIX 31
#define PCODE_TTL_DEFAULT 300
#define PCODE_TTL_MAX 86400
#define PCODE_USES_MAX 1000000
#define PCODE_PURPOSE_MAX 200 /* bytes of UTF-8 */
#define PCODE_LIMITER_SLOTS 16384

/* The short form's alphabet: no 0, 1, I, L, O. */
extern const char pcode_alphabet[PCODE_RADIX + 1];

/*
 * The check character of the data characters s[0..n-1] (n <= 29, each in
 * pcode_alphabet): the one that makes sum (i + 1) * value(s[i]) over all
 * n + 1 characters 0 modulo 31.  '\0' when s holds another character.
 */
char pcode_check_char(const char *s, size_t n);

/*
 * Normalise a typed short form: drop '-' and spaces, upper-case, then
 * require PCODE_SHORT_LEN characters of the alphabet whose last is the
 * check character.  out gets the PCODE_SHORT_LEN characters and a NUL.
 */
bool pcode_short_parse(const char *in, char out[PCODE_SHORT_LEN + 1]);

/* True when s is a long form: PCODE_LONG_LEN base64url characters. */
bool pcode_long_parse(const char *s);

/* What pcode_create() gives back: the code's row and both forms. */
struct pcode_created {
	struct store_pcode code;
	char long_code[PCODE_LONG_LEN + 1];
	char short_code[PCODE_SHORT_SHOWN + 1];
};

/*
 * Create a code for holder p from req {"licence_id", "purpose",
 * "relying_party"?, "ttl"?, "max_uses"?}: the licence must be p's
 * (else CS_ERR_NOT_FOUND, as for an unknown one), relying_party an active
 * verifier client (CS_ERR_INVALID), ttl 1..PCODE_TTL_MAX seconds
 * (default PCODE_TTL_DEFAULT), max_uses 1..PCODE_USES_MAX (default 1).
 * Stored with its audit event.  out is filled; the caller shows both
 * forms once and wipes out (OPENSSL_cleanse).
 */
enum cs_rc pcode_create(struct svc *svc, const struct client_principal *p,
    const json_t *req, struct pcode_created *out, struct cs_err *err);

/* p's usable codes, latest expiry first; *out given (free()). */
enum cs_rc pcode_list(struct svc *svc, const struct client_principal *p,
    struct store_pcode **out, size_t *n, struct cs_err *err);

/*
 * Revoke p's code id with its audit event.  CS_ERR_NOT_FOUND when it is
 * not an active code of p's (another holder's code is unknown).
 */
enum cs_rc pcode_revoke(struct svc *svc, const struct client_principal *p,
    const char *id, struct cs_err *err);

/*
 * The long form of p's usable code id (for its QR), re-derived from the
 * stored nonce; CS_ERR_NOT_FOUND when it is not p's or no longer usable.
 * The caller wipes out.
 */
enum cs_rc pcode_long_of(struct svc *svc, const struct client_principal *p,
    const char *id, char out[PCODE_LONG_LEN + 1], struct cs_err *err);

/*
 * Redeem {"code": "..."} (either form) for verifier p calling from
 * source (an address text, "" when unknown).  On success *out (given) is
 * the answer: the verification answer (result, checks, licence_id,
 * version, report) plus envelope, purpose, code_id and usage_id.  Every
 * refusal that concerns the code (unknown, expired, used up, revoked,
 * meant for another relying party, licence type outside p's usage list,
 * licence no longer valid) is CS_ERR_NOT_FOUND with one fixed message;
 * the audit trail records the reason.  When p or source has too many
 * recent failures, nothing is tried: CS_ERR_DENIED with *retry_after the
 * seconds to wait (else *retry_after is 0).  A body that is not
 * {"code": string} is CS_ERR_INVALID, a caller who is not a verifier
 * CS_ERR_DENIED with *retry_after 0; with no report key yet every code
 * gets CS_ERR_TOKEN, before any lookup.
 */
enum cs_rc pcode_redeem(struct svc *svc, const struct client_principal *p,
    const char *source, const json_t *req, json_t **out, unsigned *retry_after,
    struct cs_err *err) __attribute__((warn_unused_result));

/* The one answer of every refused redemption. */
#define PCODE_REFUSED "unknown code"

/*
 * Usage records p may see: a holder's own, an issuer's department's;
 * of licence_id only when not NULL.  *out given (free()).  CS_ERR_DENIED
 * for verifiers.
 */
enum cs_rc pcode_usage_list(struct svc *svc, const struct client_principal *p,
    const char *licence_id, struct store_usage **out, size_t *n,
    struct cs_err *err);

/* JSON of a code (no hash, no nonce) and of a usage record (no holder). */
json_t *pcode_json(const struct store_pcode *c);
json_t *pcode_usage_json(const struct store_usage *u);

/* Create / free svc->code_limits from svc->cfg (svc_open, svc_free). */
enum cs_rc pcode_limits_init(struct svc *svc, struct cs_err *err);
void pcode_limits_free(struct svc *svc);

#endif
