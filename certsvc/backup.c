/*
 * backup.c: the service's part of backup and restore (backup.h).  A
 * backup is a read, but it is recorded in the audit trail in its own
 * transaction, after the copy, so the trail shows who copied the data and
 * where; the copy itself ends at the event before it.  A restore appends
 * its event to the restored trail, so the restored chain records where it
 * came from, in the transaction that moves the serial counters past the
 * licences the backup does not know.
 */
#include <stdlib.h>

#include "certsvc/backup.h"

enum cs_rc
backup_database(struct svc *svc, const char *path,
    void (*progress)(void *arg, int64_t done, int64_t total), void *arg,
    struct store_backup_info *info, struct cs_err *err)
{
	if (svc == NULL || svc->store == NULL)
		return cs_err_set(err, CS_ERR_INVALID, "store is not open");
	return store_backup(svc->store, path, progress, arg, info, err);
}

/*
 * One transaction: when skip >= 0, the serial counters move skip ahead
 * and detail gains "serial_skip" and "serial_counters"; then the event.
 */
static enum cs_rc
backup_event(struct svc *svc, const char *actor, const char *action,
    const char *object, const json_t *detail, int64_t skip, int64_t *seq,
    struct cs_err *err)
{
	struct store_audit_event ev = {0};
	struct store_tx *tx = NULL;
	json_t *d = NULL;
	char *text = NULL;
	int64_t rows = 0;
	enum cs_rc rc;

	if (svc == NULL || svc->store == NULL)
		return cs_err_set(err, CS_ERR_INVALID, "store is not open");
	rc = store_tx_begin(svc->store, &tx, err);
	if (rc != CS_OK)
		return rc;
	if (skip >= 0) {
		rc = store_serials_skip(tx, skip, &rows, err);
		if (rc != CS_OK)
			goto out;
	}
	d = detail != NULL ? json_deep_copy(detail) : json_object();
	if (d == NULL ||
	    (skip >= 0 &&
	        (json_object_set_new(d, "serial_skip", json_integer(skip)) !=
	                0 ||
	            json_object_set_new(
	                d, "serial_counters", json_integer(rows)) != 0)) ||
	    (text = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	ev.actor = actor;
	ev.action = action;
	ev.object = object;
	ev.outcome = "ok";
	ev.detail = text;
	rc = store_audit_append(tx, &ev, seq, err);
	if (rc != CS_OK)
		goto out;
	rc = store_tx_commit(tx, err);
	tx = NULL; /* commit ends it either way */
out:
	store_tx_rollback(tx);
	json_decref(d);
	free(text);
	return rc;
}

enum cs_rc
backup_audit(struct svc *svc, const char *actor, const char *action,
    const char *object, const json_t *detail, int64_t *seq, struct cs_err *err)
{
	return backup_event(svc, actor, action, object, detail, -1, seq, err);
}

enum cs_rc
backup_restored(struct svc *svc, const char *actor, const char *object,
    const json_t *detail, int64_t skip, int64_t *seq, struct cs_err *err)
{
	if (skip < 0)
		return cs_err_set(err, CS_ERR_INVALID, "serial skip below 0");
	return backup_event(
	    svc, actor, "restore", object, detail, skip, seq, err);
}
