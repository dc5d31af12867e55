/*
 * jreq.h: the shapes every request parser in certsvc/ checks the same
 * way on a jansson object: members outside a fixed list are refused (so a
 * misspelt optional member is an error, not silently ignored), and
 * optional strings are read as "a non-empty string or absent".
 */
#ifndef CERTSVC_JREQ_H
#define CERTSVC_JREQ_H

#include <jansson.h>

#include "certsvc/err.h"

/*
 * The name of the first member of obj that is not in allowed (a
 * NULL-terminated list), or NULL when every member is (or obj is not an
 * object).  The name is lent by obj.
 */
const char *jreq_unknown(const json_t *obj, const char *const *allowed);

/*
 * CS_OK when every member of obj is in allowed, else CS_ERR_INVALID
 * "<path>.<name>: unknown member" ("<name>: ..." when path is "").
 */
enum cs_rc jreq_only(const json_t *obj, const char *path,
    const char *const *allowed, struct cs_err *err);

/*
 * A request body's first check: CS_ERR_INVALID "body: must be a JSON
 * object" unless body is one, then jreq_only(body, "", allowed, err).
 */
enum cs_rc jreq_body(
    const json_t *body, const char *const *allowed, struct cs_err *err);

/* obj[key] when it is a non-empty string (lent by obj), else NULL. */
const char *jreq_str(const json_t *obj, const char *key);

#endif
