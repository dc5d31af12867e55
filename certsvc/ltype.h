/*
 * ltype.h: licence types (证照类型): which fields a licence of the type has,
 * which departments may issue it (发证清单), its default validity.
 *
 * A definition is JSON (docs/licence-types.md):
 *   {"code": "JZ01", "name": "...", "departments": ["<credit code>", ...],
 *    "validity_days": 1825,
 *    "fields": [{"name": "project", "type": "string", "required": true,
 *                "sensitive": false, "max_length": 200}, ...]}
 * Field types: string, integer, number, boolean, date (YYYY-MM-DD).
 */
#ifndef CERTSVC_LTYPE_H
#define CERTSVC_LTYPE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "certsvc/svc.h"

#define LTYPE_MAX_FIELDS 64
#define LTYPE_FIELD_NAME_MAX 64

enum ltype_field_type {
	LTYPE_STRING = 1,
	LTYPE_INTEGER,
	LTYPE_NUMBER,
	LTYPE_BOOLEAN,
	LTYPE_DATE,
};

struct ltype_field {
	char name[LTYPE_FIELD_NAME_MAX]; /* [a-z][a-z0-9_]* */
	enum ltype_field_type type;
	bool required;
	bool sensitive;
	size_t max_length; /* strings; 0 = 1024 */
};

struct ltype {
	char code[STORE_CODE_MAX];
	char name[STORE_TEXT_MAX];
	unsigned validity_days; /* 1 .. 36500 */
	size_t nfields;
	struct ltype_field fields[LTYPE_MAX_FIELDS];
	size_t ndepts;
	char (*depts)[STORE_CODE_MAX]; /* owned */
	atomic_int refs; /* ltype_load() shares parsed types: read only */
};

/*
 * Parse and validate a definition (*out given, ltype_free).  CS_ERR_INVALID
 * names the member and the rule ("fields[2].type: must be one of ...").
 */
enum cs_rc ltype_parse(
    const char *json_text, size_t len, struct ltype **out, struct cs_err *err);
/* Drop a reference (the last one frees); NULL does nothing. */
void ltype_free(struct ltype *lt);

/*
 * Add a type from its definition: departments must exist (CS_ERR_NOT_FOUND
 * naming the first missing one); stored with its audit event.
 */
enum cs_rc ltype_add(struct svc *svc, const char *json_text, size_t len,
    const char *actor, struct cs_err *err);

/*
 * A stored type (*out: a shared, read-only reference; ltype_free), parsed
 * once per process; CS_ERR_NOT_FOUND.
 */
enum cs_rc ltype_load(
    struct svc *svc, const char *code, struct ltype **out, struct cs_err *err);

/*
 * Check a licence's "fields" object against lt: every required field
 * present, no unknown field, each value of its type (dates real calendar
 * dates, strings valid UTF-8 within max_length).  CS_ERR_INVALID names the
 * field and the rule: "fields.area: must be a number".
 */
enum cs_rc ltype_check_fields(
    const struct ltype *lt, const json_t *fields, struct cs_err *err);

/*
 * The parsed types of svc, shared by ltype_load(): a type never changes
 * once stored, so it is parsed once per process.  svc_open / svc_free.
 */
enum cs_rc ltype_cache_init(struct svc *svc, struct cs_err *err);
void ltype_cache_free(struct svc *svc);

#endif
