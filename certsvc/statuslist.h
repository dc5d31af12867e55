/*
 * statuslist.h: licence status lists in the IETF Token Status List form
 * (issue #5; docs/status-list.md).  Every licence version gets a slot
 * (list number, index) when it is issued, written into its document; the
 * lists are built from the store, compressed, signed with the in-memory
 * report key by the refresher and served from memory.
 */
#ifndef CERTSVC_STATUSLIST_H
#define CERTSVC_STATUSLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certsvc/mem.h"
#include "certsvc/store.h"
#include "certsvc/svc.h"

#define STATUSLIST_BITS 2
#define STATUSLIST_ENTRIES 131072 /* entries per list: list = n / this */
/* Bytes of one uncompressed list: every list has all its entries. */
#define STATUSLIST_BYTES (STATUSLIST_ENTRIES * STATUSLIST_BITS / 8)
/* "ttl" claim and Cache-Control max-age, seconds. */
#define STATUSLIST_TTL 300
/* "exp" - "iat": lists are re-signed after half of it at the latest. */
#define STATUSLIST_LIFETIME (24 * 3600)
#define STATUSLIST_MEDIA_TYPE "application/statuslist+jwt"
/* The longest statuslist_uri() (public_url is < CFG_STR_MAX). */
#define STATUSLIST_URI_MAX 600

/* Status values (2 bits), draft-ietf-oauth-status-list section 7.1. */
enum statuslist_value {
	STATUSLIST_VALID = 0x00,
	STATUSLIST_INVALID = 0x01,
	STATUSLIST_SUSPENDED = 0x02,
	STATUSLIST_SUPERSEDED = 0x03, /* application-specific */
};

/* Create / free svc->slists (svc_open / svc_free call them). */
enum cs_rc statuslist_init(struct svc *svc, struct cs_err *err);
void statuslist_free(struct svc *svc);

/*
 * Re-sign the lists that changed (refresher only): every list whose gen
 * moved since it was signed, that has not been signed yet, or that is past
 * half of its lifetime, with the current report key (report_key_get).
 * The lists already signed stay served when this fails (CS_ERR_TOKEN when
 * there is no report key yet, CS_ERR_STORE, ...).
 */
enum cs_rc statuslist_refresh(struct svc *svc, struct cs_err *err);

/*
 * The signed list n (the token as served, its media type and its time of
 * signing); CS_ERR_NOT_FOUND for a list that has no slot yet.
 */
enum cs_rc statuslist_get(struct svc *svc, int64_t n, struct buf **body,
    const char **media_type, int64_t *signed_at, struct cs_err *err);

/*
 * For /metrics: how many lists are signed, the oldest "iat" and the
 * soonest "exp" among them (0 when none).
 */
void statuslist_times(
    struct svc *svc, size_t *lists, int64_t *oldest_iat, int64_t *next_exp);

/* --- the parts, for tests, the refresher and verifiers ------------------ */

/* A signed list as statuslist_fetch() hands it out. */
struct statuslist_token {
	struct buf *jwt; /* the compact JWS, given */
	int64_t list;
	int64_t gen; /* the store's gen of the rows it was built from */
	int64_t iat, exp, ttl;
};

/*
 * Like statuslist_get() with every detail: tok is filled (release with
 * statuslist_token_release).  CS_ERR_NOT_FOUND for a list never signed,
 * CS_ERR_TOKEN for one whose last signature has expired (never served past
 * its exp).  Takes a lock only long enough to take a reference: it never
 * waits on building or signing.
 */
enum cs_rc statuslist_fetch(struct svc *svc, int64_t n,
    struct statuslist_token *tok, struct cs_err *err);
void statuslist_token_release(struct statuslist_token *tok);

/*
 * statuslist_fetch() without copying the list: tok->jwt stays NULL and
 * *jwt is the cached snapshot's own bytes, unchanged and alive until
 * statuslist_unhold(*hold), which may run on any thread (an HTTP answer
 * handed to a writer that frees it later).
 */
enum cs_rc statuslist_fetch_shared(struct svc *svc, int64_t n,
    struct statuslist_token *tok, const struct buf **jwt, void **hold,
    struct cs_err *err);
void statuslist_unhold(void *hold);

/*
 * What a stored licence status (LICENCE_*, licence.h) shows in a list:
 * valid VALID; suspended SUSPENDED; revoked, penalty_revoked, cancelled and
 * transferred INVALID; superseded STATUSLIST_SUPERSEDED; expired VALID (it
 * is derived from valid_until, which the verifier checks in the document).
 * An unknown state gives INVALID and false.
 */
bool statuslist_value_for_state(const char *state, enum statuslist_value *v);

/*
 * Entry idx of the byte array bytes (len bytes, bits 1, 2, 4 or 8 per
 * entry, entry i in bits (i*bits % 8) upwards of byte i*bits/8, counted
 * from the least significant bit).  CS_ERR_INVALID for a bad bits, an idx
 * out of the array or a value that does not fit.
 */
enum cs_rc statuslist_set(uint8_t *bytes, size_t len, unsigned bits,
    uint64_t idx, unsigned value, struct cs_err *err);
enum cs_rc statuslist_value_at(const uint8_t *bytes, size_t len, unsigned bits,
    uint64_t idx, unsigned *value, struct cs_err *err);

/*
 * The "lst" of a byte array: DEFLATE in the ZLIB format (RFC 1950) at the
 * highest compression, base64url without padding.  *lst is given (text).
 * CS_ERR_NOMEM, CS_ERR_INVALID for an empty array.
 */
enum cs_rc statuslist_encode(
    const uint8_t *bytes, size_t len, struct buf **lst, struct cs_err *err);

/*
 * The byte array of an "lst" (len characters): strict base64url without
 * padding, then one complete ZLIB stream and nothing after it, inflating to
 * at most max bytes.  *bytes is given.  CS_ERR_INVALID for anything else.
 */
enum cs_rc statuslist_decode(const char *lst, size_t len, size_t max,
    struct buf **bytes, struct cs_err *err);

/*
 * Build list from the store: *bytes (STATUSLIST_BYTES, given) holds the
 * value of every slot, 0 (VALID) for slots never assigned; *gen the gen of
 * the rows read.  CS_ERR_NOT_FOUND when the list does not exist,
 * CS_ERR_STORE for an index outside the list.
 */
enum cs_rc statuslist_build(struct store *st, int64_t list, struct buf **bytes,
    int64_t *gen, struct cs_err *err);

/*
 * The URI of list n: "<public_url>/v1/status-lists/<n>" (trailing slashes
 * of public_url dropped), the "sub" of its token and the "uri" in the
 * documents.  False when outsz is too small.
 */
bool statuslist_uri(const struct svc *svc, int64_t n, char *out, size_t outsz);

/* The list and index of a slot number (slot >= 0). */
void statuslist_slot_split(int64_t slot, int64_t *list, int64_t *idx);

/* The claims of a Status List Token. */
struct statuslist_claims {
	const char *sub;       /* the list's URI */
	int64_t iat, exp, ttl; /* exp > iat, ttl > 0 */
	unsigned bits;
	const char *lst; /* statuslist_encode() */
};

/*
 * Sign c as a Status List Token in JWT form (compact JWS): header
 * {"alg":"ES256","typ":"statuslist+jwt","x5c":[cert, issuer]}, payload
 * {"exp","iat","status_list":{"bits","lst"},"sub","ttl"}, signature the raw
 * r||s of RFC 7518 section 3.4.  key must be a P-256 key matching cert
 * (CS_ERR_INVALID otherwise); issuer may be NULL (x5c then holds cert
 * only).  *jwt is given (text).
 */
enum cs_rc statuslist_token_sign(EVP_PKEY *key, X509 *cert, X509 *issuer,
    const struct statuslist_claims *c, struct buf **jwt, struct cs_err *err);

/* A report key as statuslist_refresh_with() uses it (all lent). */
struct statuslist_signer {
	EVP_PKEY *key;
	X509 *cert;
	X509 *issuer;
	int64_t not_after; /* of cert: exp never goes past it */
};

/*
 * statuslist_refresh() with the signer given and the time now: what the
 * refresher does once it holds the report key (tests call it with a
 * software key).
 */
enum cs_rc statuslist_refresh_with(struct svc *svc,
    const struct statuslist_signer *s, int64_t now, struct cs_err *err);

#endif
