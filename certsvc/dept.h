/*
 * dept.h: issuing departments (发证部门).
 */
#ifndef CERTSVC_DEPT_H
#define CERTSVC_DEPT_H

#include "certsvc/store.h"
#include "certsvc/svc.h"

/*
 * Add a department: credit code validated (codes_credit_check), name 1-128
 * UTF-8 bytes, region six digits; stored with its audit event by actor.
 * CS_ERR_CONFLICT if the code exists.
 */
enum cs_rc dept_add(struct svc *svc, const char *code, const char *name,
    const char *region, const char *actor, struct cs_err *err);

enum cs_rc dept_get(struct svc *svc, const char *code, struct store_dept *d,
    struct cs_err *err);
enum cs_rc dept_list(
    struct svc *svc, struct store_dept **out, size_t *n, struct cs_err *err);

#endif
