/*
 * dept.c: issuing departments (发证部门).  A department is known by its
 * unified social credit code, checked against GB 32100 (codes.c) before
 * anything is stored, so every code in the store has a valid check
 * character.  The row and its audit event are written in one transaction:
 * a department that exists has been audited.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "certsvc/codes.h"
#include "certsvc/dept.h"
#include "certsvc/mem.h"

#define DEPT_NAME_MAX 128
#define DEPT_REGION_LEN 6

static bool
region_ok(const char *region)
{
	size_t i;

	if (region == NULL || strlen(region) != DEPT_REGION_LEN)
		return false;
	for (i = 0; i < DEPT_REGION_LEN; i++)
		if (region[i] < '0' || region[i] > '9')
			return false;
	return true;
}

/* The audit detail of a new department: its name and region, no more. */
static enum cs_rc
dept_detail(
    const char *name, const char *region, char **out, struct cs_err *err)
{
	json_t *obj;

	*out = NULL;
	obj = json_pack("{s:s, s:s}", "name", name, "region", region);
	if (obj != NULL)
		*out = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(obj);
	if (*out == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	return CS_OK;
}

enum cs_rc
dept_add(struct svc *svc, const char *code, const char *name,
    const char *region, const char *actor, struct cs_err *err)
{
	struct store_audit_event ev = {0};
	struct store_tx *tx = NULL;
	struct store_dept d;
	char object[STORE_CODE_MAX + 8];
	char *detail = NULL;
	enum cs_rc rc;
	size_t n;

	memset(&d, 0, sizeof(d));
	if (svc == NULL || svc->store == NULL)
		return cs_err_set(err, CS_ERR_INVALID, "store is not open");
	rc = codes_credit_check(code, err);
	if (rc != CS_OK)
		return rc;
	n = name == NULL ? 0 : strlen(name);
	if (n == 0 || n > DEPT_NAME_MAX || cs_utf8_count(name, n, false) < 0)
		return cs_err_set(err, CS_ERR_INVALID,
		    "department name must be 1 to %d bytes of UTF-8 text "
		    "without control characters",
		    DEPT_NAME_MAX);
	if (!region_ok(region))
		return cs_err_set(err, CS_ERR_INVALID,
		    "department region must be %d digits (GB/T 2260)",
		    DEPT_REGION_LEN);
	/* Checked above: each fits. */
	cs_strlcpy(d.code, code, sizeof(d.code));
	cs_strlcpy(d.name, name, sizeof(d.name));
	cs_strlcpy(d.region, region, sizeof(d.region));
	snprintf(object, sizeof(object), "dept:%s", code);
	rc = dept_detail(name, region, &detail, err);
	if (rc != CS_OK)
		goto out;
	ev.actor = actor;
	ev.action = "dept.add";
	ev.object = object;
	ev.outcome = "ok";
	ev.detail = detail;

	rc = store_tx_begin(svc->store, &tx, err);
	if (rc != CS_OK)
		goto out;
	rc = store_dept_put(tx, &d, err);
	if (rc != CS_OK)
		goto out;
	rc = store_audit_append(tx, &ev, NULL, err);
	if (rc != CS_OK)
		goto out;
	rc = store_tx_commit(tx, err);
	tx = NULL; /* commit ends it either way */
out:
	store_tx_rollback(tx);
	free(detail);
	return rc;
}

enum cs_rc
dept_get(
    struct svc *svc, const char *code, struct store_dept *d, struct cs_err *err)
{
	if (svc == NULL || svc->store == NULL) {
		memset(d, 0, sizeof(*d));
		return cs_err_set(err, CS_ERR_INVALID, "store is not open");
	}
	return store_dept_get(svc->store, code, d, err);
}

enum cs_rc
dept_list(
    struct svc *svc, struct store_dept **out, size_t *n, struct cs_err *err)
{
	if (svc == NULL || svc->store == NULL) {
		*out = NULL;
		*n = 0;
		return cs_err_set(err, CS_ERR_INVALID, "store is not open");
	}
	return store_dept_list(svc->store, out, n, err);
}
