/*
 * backup.h: what certsvc-admin backup and restore need from the service
 * (issue #9; docs/operations.md): a consistent copy of the database taken
 * while certsvcd runs, and the audit events that record a backup or a
 * restore.  Copying the other files of a data dir is the tool's work
 * (tools/admin_backup.c).
 */
#ifndef CERTSVC_BACKUP_H
#define CERTSVC_BACKUP_H

#include <stdint.h>

#include <jansson.h>

#include "certsvc/store.h"
#include "certsvc/svc.h"

#define BACKUP_FORMAT "certsvc-backup/1"
#define BACKUP_MANIFEST "manifest.json"

/*
 * Copy svc's database into the new file path (0600): store_backup(), one
 * consistent snapshot while other processes keep writing.  info is
 * filled; progress (may be NULL) gets pages done and total.
 */
enum cs_rc backup_database(struct svc *svc, const char *path,
    void (*progress)(void *arg, int64_t done, int64_t total), void *arg,
    struct store_backup_info *info, struct cs_err *err);

/*
 * Append the audit event action ("backup" or "restore") on object
 * ("backup:<dir>") by actor, with detail (a JSON object, lent; no
 * secrets), in a transaction of its own.  *seq (may be NULL) receives its
 * sequence number.
 */
enum cs_rc backup_audit(struct svc *svc, const char *actor, const char *action,
    const char *object, const json_t *detail, int64_t *seq, struct cs_err *err);

/*
 * After a restore, in one transaction: move every licence serial counter
 * skip ahead (store_serials_skip: the licences issued after the backup
 * keep identifiers nobody else gets) and append the "restore" event on
 * object with detail (lent) plus "serial_skip" and "serial_counters".
 */
enum cs_rc backup_restored(struct svc *svc, const char *actor,
    const char *object, const json_t *detail, int64_t skip, int64_t *seq,
    struct cs_err *err);

#endif
