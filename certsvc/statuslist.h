/*
 * statuslist.h: licence status lists in the IETF Token Status List form
 * (issue #5; docs/status-list.md).  Every licence version gets a slot
 * (list number, index) when it is issued, written into its document; the
 * lists are built from the store, compressed, signed with the in-memory
 * report key by the refresher and served from memory.
 */
#ifndef CERTSVC_STATUSLIST_H
#define CERTSVC_STATUSLIST_H

#include <stddef.h>
#include <stdint.h>

#include "certsvc/mem.h"
#include "certsvc/svc.h"

#define STATUSLIST_BITS 2
#define STATUSLIST_ENTRIES 131072 /* entries per list: list = n / this */

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

/* Re-sign the lists that changed (refresher only). */
enum cs_rc statuslist_refresh(struct svc *svc, struct cs_err *err);

/*
 * The signed list n (the token as served, its media type and its time of
 * signing); CS_ERR_NOT_FOUND for a list that has no slot yet.
 */
enum cs_rc statuslist_get(struct svc *svc, int64_t n, struct buf **body,
    const char **media_type, int64_t *signed_at, struct cs_err *err);

#endif
