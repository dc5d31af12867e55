/*
 * ltype.c: licence types (证照类型).  A type is a JSON definition
 * (docs/licence-types.md) parsed strictly: duplicate keys and unknown
 * members are errors, so that a misspelt "requried" fails when the type is
 * added instead of being ignored for every licence issued after.  The
 * definition is stored exactly as given and parsed again on load, so the
 * store, a backup and the audit trail all show what the operator wrote.
 *
 * Every error names the member path and the rule it broke:
 * "fields[2].type: must be one of string, integer, number, boolean, date"
 * for a definition, "fields.area: must be a number" for a licence's
 * fields.  Names that came from the input are echoed only when they are
 * well-formed field names, so that messages stay short printable ASCII.
 *
 * String lengths (max_length) count Unicode code points, not bytes: the
 * limit is what a form shows the user ("at most 200 characters"), and a
 * byte limit would allow a third as many Chinese characters as Latin ones.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "certsvc/codes.h"
#include "certsvc/ltype.h"
#include "certsvc/mem.h"
#include "certsvc/store.h"

#define LTYPE_NAME_MAX 128
#define LTYPE_DEPTS_MAX 1024
#define LTYPE_VALIDITY_MAX 36500
#define LTYPE_STRING_MAX 65536
#define LTYPE_STRING_DEFAULT 1024
#define LTYPE_DEFINITION_MAX (256 * 1024)
#define LTYPE_SAFE_INT 9007199254740991LL /* 2^53 - 1, exact in a double */
#define LTYPE_PATH_MAX 48

static const char *const root_members[] = {
    "code", "name", "validity_days", "departments", "fields", NULL};
static const char *const field_members[] = {
    "name", "type", "required", "sensitive", "max_length", NULL};

static const struct {
	const char *name;
	enum ltype_field_type type;
} field_types[] = {
    {"string", LTYPE_STRING},
    {"integer", LTYPE_INTEGER},
    {"number", LTYPE_NUMBER},
    {"boolean", LTYPE_BOOLEAN},
    {"date", LTYPE_DATE},
};

#define FIELD_TYPES_TEXT "string, integer, number, boolean, date"

/* --- text helpers -------------------------------------------------------- */

/* [a-z][a-z0-9_]{0,62}: a field name, and any name we echo back. */
static bool
field_name_ok(const char *s)
{
	size_t i;

	if (s == NULL || s[0] < 'a' || s[0] > 'z')
		return false;
	for (i = 1; s[i] != '\0'; i++) {
		if (i >= LTYPE_FIELD_NAME_MAX - 1)
			return false;
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		        (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	}
	return true;
}

/* Well-formed UTF-8 without C0, DEL or C1 control characters. */
static bool
label_ok(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i;

	if (cs_utf8_count(s, len, true) < 0)
		return false;
	for (i = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return false;
		/* U+0080..U+009F are C2 80..C2 9F. */
		if (p[i] == 0xc2 && i + 1 < len && p[i + 1] <= 0x9f)
			return false;
	}
	return true;
}

/* Copy a parser message with anything but printable ASCII as '?'. */
static void
ascii_copy(char *dst, size_t dstsz, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < dstsz && src[i] != '\0'; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[i] = '\0';
}

static bool
key_in(const char *key, const char *const *allowed)
{
	size_t i;

	for (i = 0; allowed[i] != NULL; i++)
		if (strcmp(key, allowed[i]) == 0)
			return true;
	return false;
}

/*
 * Refuse a member of obj not in allowed.  owner names obj in messages
 * ("definition", "fields[2]"), prefix goes before a member ("",
 * "fields[2].").
 */
static enum cs_rc
members_known(json_t *obj, const char *const *allowed, const char *owner,
    const char *prefix, struct cs_err *err)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
	{
		if (key_in(key, allowed))
			continue;
		if (field_name_ok(key))
			return cs_err_set(err, CS_ERR_INVALID,
			    "%s%s: unknown member", prefix, key);
		return cs_err_set(err, CS_ERR_INVALID,
		    "%s: a member has an unknown name", owner);
	}
	return CS_OK;
}

/* Strip the "credit code 'X': " of another module's message: path first. */
static enum cs_rc
prefixed(struct cs_err *err, const char *path, const struct cs_err *inner)
{
	return cs_err_set(err, CS_ERR_INVALID, "%s: %s", path, inner->msg);
}

/* --- parsing ------------------------------------------------------------- */

static enum cs_rc
parse_code(json_t *root, struct ltype *lt, struct cs_err *err)
{
	struct cs_err e = {0};
	json_t *v = json_object_get(root, "code");

	if (v == NULL)
		return cs_err_set(err, CS_ERR_INVALID, "code: required");
	if (!json_is_string(v))
		return cs_err_set(
		    err, CS_ERR_INVALID, "code: must be a string");
	if (codes_type_check(json_string_value(v), &e) != CS_OK)
		return prefixed(err, "code", &e);
	if (!cs_strlcpy(lt->code, json_string_value(v), sizeof(lt->code)))
		return cs_err_set(err, CS_ERR_INVALID, "code: too long");
	return CS_OK;
}

static enum cs_rc
parse_name(json_t *root, struct ltype *lt, struct cs_err *err)
{
	json_t *v = json_object_get(root, "name");
	size_t n;

	if (v == NULL)
		return cs_err_set(err, CS_ERR_INVALID, "name: required");
	n = json_is_string(v) ? json_string_length(v) : 0;
	if (n == 0 || n > LTYPE_NAME_MAX ||
	    !label_ok(json_string_value(v), n) ||
	    !cs_strlcpy(lt->name, json_string_value(v), sizeof(lt->name)))
		return cs_err_set(err, CS_ERR_INVALID,
		    "name: must be a string of 1 to %d bytes without control "
		    "characters",
		    LTYPE_NAME_MAX);
	return CS_OK;
}

static enum cs_rc
parse_validity(json_t *root, struct ltype *lt, struct cs_err *err)
{
	json_t *v = json_object_get(root, "validity_days");
	json_int_t days;

	if (v == NULL)
		return cs_err_set(
		    err, CS_ERR_INVALID, "validity_days: required");
	days = json_is_integer(v) ? json_integer_value(v) : 0;
	if (days < 1 || days > LTYPE_VALIDITY_MAX)
		return cs_err_set(err, CS_ERR_INVALID,
		    "validity_days: must be an integer from 1 to %d",
		    LTYPE_VALIDITY_MAX);
	lt->validity_days = (unsigned)days;
	return CS_OK;
}

static enum cs_rc
parse_depts(json_t *root, struct ltype *lt, struct cs_err *err)
{
	struct cs_err e = {0};
	json_t *arr = json_object_get(root, "departments"), *v;
	char path[LTYPE_PATH_MAX];
	size_t i, j, n;

	if (arr == NULL)
		return cs_err_set(err, CS_ERR_INVALID, "departments: required");
	n = json_is_array(arr) ? json_array_size(arr) : 0;
	if (n == 0 || n > LTYPE_DEPTS_MAX)
		return cs_err_set(err, CS_ERR_INVALID,
		    "departments: must be an array of 1 to %d credit codes",
		    LTYPE_DEPTS_MAX);
	lt->depts = calloc(n, sizeof(*lt->depts));
	if (lt->depts == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	json_array_foreach(arr, i, v)
	{
		snprintf(path, sizeof(path), "departments[%zu]", i);
		if (!json_is_string(v))
			return cs_err_set(
			    err, CS_ERR_INVALID, "%s: must be a string", path);
		if (codes_credit_check(json_string_value(v), &e) != CS_OK)
			return prefixed(err, path, &e);
		/* A valid credit code has 18 characters: it fits. */
		cs_strlcpy(
		    lt->depts[i], json_string_value(v), sizeof(lt->depts[i]));
		for (j = 0; j < i; j++)
			if (strcmp(lt->depts[j], lt->depts[i]) == 0)
				return cs_err_set(err, CS_ERR_INVALID,
				    "%s: duplicate of departments[%zu]", path,
				    j);
		lt->ndepts = i + 1;
	}
	return CS_OK;
}

static enum cs_rc
parse_bool(json_t *f, const char *member, const char *prefix, bool *out,
    struct cs_err *err)
{
	json_t *v = json_object_get(f, member);

	*out = false;
	if (v == NULL)
		return CS_OK;
	if (!json_is_boolean(v))
		return cs_err_set(err, CS_ERR_INVALID,
		    "%s%s: must be true or false", prefix, member);
	*out = json_is_true(v);
	return CS_OK;
}

/* Field i of a definition, into lt->fields[i]. */
static enum cs_rc
parse_field(json_t *f, size_t i, struct ltype *lt, struct cs_err *err)
{
	struct ltype_field *lf = &lt->fields[i];
	char owner[LTYPE_PATH_MAX], prefix[LTYPE_PATH_MAX];
	const char *s;
	json_t *v;
	json_int_t ml;
	enum cs_rc rc;
	size_t j, k;

	snprintf(owner, sizeof(owner), "fields[%zu]", i);
	snprintf(prefix, sizeof(prefix), "fields[%zu].", i);
	if (!json_is_object(f))
		return cs_err_set(
		    err, CS_ERR_INVALID, "%s: must be an object", owner);
	rc = members_known(f, field_members, owner, prefix, err);
	if (rc != CS_OK)
		return rc;

	v = json_object_get(f, "name");
	if (v == NULL)
		return cs_err_set(
		    err, CS_ERR_INVALID, "%sname: required", prefix);
	s = json_string_value(v);
	if (s == NULL || !field_name_ok(s) ||
	    strlen(s) != json_string_length(v))
		return cs_err_set(err, CS_ERR_INVALID,
		    "%sname: must match [a-z][a-z0-9_]{0,62}", prefix);
	cs_strlcpy(lf->name, s, sizeof(lf->name));
	for (j = 0; j < i; j++)
		if (strcmp(lt->fields[j].name, lf->name) == 0)
			return cs_err_set(err, CS_ERR_INVALID,
			    "%sname: duplicate of fields[%zu].name", prefix, j);

	v = json_object_get(f, "type");
	if (v == NULL)
		return cs_err_set(
		    err, CS_ERR_INVALID, "%stype: required", prefix);
	s = json_string_value(v);
	for (k = 0;
	     s != NULL && k < sizeof(field_types) / sizeof(field_types[0]); k++)
		if (strcmp(s, field_types[k].name) == 0)
			lf->type = field_types[k].type;
	if (lf->type == 0)
		return cs_err_set(err, CS_ERR_INVALID,
		    "%stype: must be one of " FIELD_TYPES_TEXT, prefix);

	rc = parse_bool(f, "required", prefix, &lf->required, err);
	if (rc == CS_OK)
		rc = parse_bool(f, "sensitive", prefix, &lf->sensitive, err);
	if (rc != CS_OK)
		return rc;

	v = json_object_get(f, "max_length");
	if (v == NULL)
		return CS_OK;
	if (lf->type != LTYPE_STRING)
		return cs_err_set(err, CS_ERR_INVALID,
		    "%smax_length: only string fields have one", prefix);
	ml = json_is_integer(v) ? json_integer_value(v) : 0;
	if (ml < 1 || ml > LTYPE_STRING_MAX)
		return cs_err_set(err, CS_ERR_INVALID,
		    "%smax_length: must be an integer from 1 to %d", prefix,
		    LTYPE_STRING_MAX);
	lf->max_length = (size_t)ml;
	return CS_OK;
}

static enum cs_rc
parse_fields(json_t *root, struct ltype *lt, struct cs_err *err)
{
	json_t *arr = json_object_get(root, "fields"), *f;
	enum cs_rc rc;
	size_t i;

	if (arr == NULL)
		return CS_OK; /* a type may have no fields of its own */
	if (!json_is_array(arr) || json_array_size(arr) > LTYPE_MAX_FIELDS)
		return cs_err_set(err, CS_ERR_INVALID,
		    "fields: must be an array of at most %d fields",
		    LTYPE_MAX_FIELDS);
	json_array_foreach(arr, i, f)
	{
		rc = parse_field(f, i, lt, err);
		if (rc != CS_OK)
			return rc;
		lt->nfields = i + 1;
	}
	return CS_OK;
}

enum cs_rc
ltype_parse(
    const char *json_text, size_t len, struct ltype **out, struct cs_err *err)
{
	char why[JSON_ERROR_TEXT_LENGTH];
	struct ltype *lt = NULL;
	json_error_t jerr;
	json_t *root = NULL;
	enum cs_rc rc;

	*out = NULL;
	if (json_text == NULL || len == 0)
		return cs_err_set(err, CS_ERR_INVALID, "definition: empty");
	if (len > LTYPE_DEFINITION_MAX)
		return cs_err_set(err, CS_ERR_INVALID,
		    "definition: larger than %d bytes", LTYPE_DEFINITION_MAX);
	/* It is stored as a C string: a NUL would cut it short. */
	if (memchr(json_text, '\0', len) != NULL)
		return cs_err_set(
		    err, CS_ERR_INVALID, "definition: holds a NUL byte");
	root = json_loadb(json_text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		ascii_copy(why, sizeof(why), jerr.text);
		return cs_err_set(err, CS_ERR_INVALID,
		    "definition: line %d column %d: %s", jerr.line, jerr.column,
		    why);
	}
	if (!json_is_object(root)) {
		rc = cs_err_set(
		    err, CS_ERR_INVALID, "definition: must be a JSON object");
		goto out;
	}
	lt = calloc(1, sizeof(*lt));
	if (lt != NULL)
		atomic_init(&lt->refs, 1);
	if (lt == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = members_known(root, root_members, "definition", "", err);
	if (rc == CS_OK)
		rc = parse_code(root, lt, err);
	if (rc == CS_OK)
		rc = parse_name(root, lt, err);
	if (rc == CS_OK)
		rc = parse_validity(root, lt, err);
	if (rc == CS_OK)
		rc = parse_depts(root, lt, err);
	if (rc == CS_OK)
		rc = parse_fields(root, lt, err);
	if (rc != CS_OK)
		goto out;
	*out = lt;
	lt = NULL;
out:
	ltype_free(lt);
	json_decref(root);
	return rc;
}

void
ltype_free(struct ltype *lt)
{
	if (lt == NULL || atomic_fetch_sub(&lt->refs, 1) != 1)
		return;
	free(lt->depts);
	free(lt);
}

/* --- storing and loading ------------------------------------------------- */

/* The audit detail of a new type: name and issuance list. */
static enum cs_rc
ltype_detail(const struct ltype *lt, char **out, struct cs_err *err)
{
	json_t *obj, *arr;
	size_t i;
	int bad = 0;

	*out = NULL;
	arr = json_array();
	for (i = 0; arr != NULL && i < lt->ndepts; i++)
		bad |= json_array_append_new(arr, json_string(lt->depts[i]));
	obj = json_pack("{s:s, s:o}", "name", lt->name, "departments", arr);
	if (obj != NULL && bad == 0)
		*out = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(obj);
	if (*out == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	return CS_OK;
}

enum cs_rc
ltype_add(struct svc *svc, const char *json_text, size_t len, const char *actor,
    struct cs_err *err)
{
	struct store_audit_event ev = {0};
	struct store_tx *tx = NULL;
	struct ltype *lt = NULL;
	const char **depts = NULL;
	char object[STORE_CODE_MAX + 8];
	char *text = NULL, *detail = NULL;
	enum cs_rc rc;
	size_t i;

	if (svc == NULL || svc->store == NULL)
		return cs_err_set(err, CS_ERR_INVALID, "store is not open");
	rc = ltype_parse(json_text, len, &lt, err);
	if (rc != CS_OK)
		return rc;
	text = malloc(len + 1);
	depts = calloc(lt->ndepts, sizeof(*depts));
	if (text == NULL || depts == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	memcpy(text, json_text, len);
	text[len] = '\0';
	for (i = 0; i < lt->ndepts; i++)
		depts[i] = lt->depts[i];
	rc = ltype_detail(lt, &detail, err);
	if (rc != CS_OK)
		goto out;
	snprintf(object, sizeof(object), "type:%s", lt->code);
	ev.actor = actor;
	ev.action = "type.add";
	ev.object = object;
	ev.outcome = "ok";
	ev.detail = detail;

	rc = store_tx_begin(svc->store, &tx, err);
	if (rc != CS_OK)
		goto out;
	/* CS_ERR_NOT_FOUND "department 'X' not found" for the first missing. */
	rc = store_ltype_put(
	    tx, lt->code, lt->name, text, depts, lt->ndepts, err);
	if (rc != CS_OK)
		goto out;
	rc = store_audit_append(tx, &ev, NULL, err);
	if (rc != CS_OK)
		goto out;
	rc = store_tx_commit(tx, err);
	tx = NULL;
out:
	store_tx_rollback(tx);
	free(detail);
	free(depts);
	free(text);
	ltype_free(lt);
	return rc;
}

#define LTYPE_CACHE_MAX 256

struct ltype_cache {
	pthread_mutex_t mu;
	size_t n;
	struct ltype *lt[LTYPE_CACHE_MAX];
};

enum cs_rc
ltype_cache_init(struct svc *svc, struct cs_err *err)
{
	struct ltype_cache *c = CS_LOCKED_NEW(struct ltype_cache);

	if (c == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	svc->ltypes = c;
	return CS_OK;
}

void
ltype_cache_free(struct svc *svc)
{
	struct ltype_cache *c = svc != NULL ? svc->ltypes : NULL;
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++)
		ltype_free(c->lt[i]);
	pthread_mutex_destroy(&c->mu);
	free(c);
	svc->ltypes = NULL;
}

/* A reference to the cached type code, or NULL. */
static struct ltype *
ltype_cached(struct svc *svc, const char *code)
{
	struct ltype_cache *c = svc->ltypes;
	struct ltype *lt = NULL;
	size_t i;

	if (c == NULL)
		return NULL;
	pthread_mutex_lock(&c->mu);
	for (i = 0; i < c->n; i++)
		if (strcmp(c->lt[i]->code, code) == 0) {
			lt = c->lt[i];
			atomic_fetch_add(&lt->refs, 1);
			break;
		}
	pthread_mutex_unlock(&c->mu);
	return lt;
}

/* Keep a reference to lt (when there is room and it is not there). */
static void
ltype_keep(struct svc *svc, struct ltype *lt)
{
	struct ltype_cache *c = svc->ltypes;
	size_t i;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	for (i = 0; i < c->n; i++)
		if (strcmp(c->lt[i]->code, lt->code) == 0)
			break;
	if (i == c->n && c->n < LTYPE_CACHE_MAX) {
		atomic_fetch_add(&lt->refs, 1);
		c->lt[c->n++] = lt;
	}
	pthread_mutex_unlock(&c->mu);
}

enum cs_rc
ltype_load(
    struct svc *svc, const char *code, struct ltype **out, struct cs_err *err)
{
	struct store_ltype row;
	struct cs_err e = {0};
	struct ltype *lt = NULL;
	enum cs_rc rc;

	*out = NULL;
	memset(&row, 0, sizeof(row));
	if (svc == NULL || svc->store == NULL)
		return cs_err_set(err, CS_ERR_INVALID, "store is not open");
	*out = ltype_cached(svc, code);
	if (*out != NULL)
		return CS_OK;
	rc = store_ltype_get(svc->store, code, &row, err);
	if (rc != CS_OK)
		return rc;
	/* What was valid when stored is valid now, unless the file changed. */
	if (ltype_parse((const char *)row.definition->data, row.definition->len,
	        &lt, &e) != CS_OK ||
	    strcmp(lt->code, row.code) != 0) {
		rc = cs_err_set(err, CS_ERR_STORE,
		    "stored definition of licence type '%s' is invalid: %s",
		    row.code, e.msg[0] != '\0' ? e.msg : "code differs");
		goto out;
	}
	ltype_keep(svc, lt);
	*out = lt;
	lt = NULL;
out:
	ltype_free(lt);
	store_ltype_release(&row);
	return rc;
}

/* --- checking a licence's fields ---------------------------------------- */

/* YYYY-MM-DD naming a day that exists (Gregorian, years 0001-9999). */
static bool
date_ok(const char *s, size_t len)
{
	static const int mdays[12] = {
	    31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, m, d, i;
	bool leap;

	if (len != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
	    (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1 || m < 1 || m > 12 || d < 1)
		return false;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return d <= mdays[m - 1] + (m == 2 && leap ? 1 : 0);
}

/* An integer that every JSON reader (and RFC 8785) holds exactly. */
static bool
safe_int(json_int_t v)
{
	return v >= -LTYPE_SAFE_INT && v <= LTYPE_SAFE_INT;
}

static enum cs_rc
check_value(const struct ltype_field *lf, json_t *v, struct cs_err *err)
{
	const char *s;
	size_t max;
	double d;
	long n;

	switch (lf->type) {
	case LTYPE_STRING:
		s = json_string_value(v);
		if (s == NULL)
			return cs_err_set(err, CS_ERR_INVALID,
			    "fields.%s: must be a string", lf->name);
		n = cs_utf8_count(s, json_string_length(v), true);
		if (n < 0)
			return cs_err_set(err, CS_ERR_INVALID,
			    "fields.%s: must be UTF-8 text without NUL",
			    lf->name);
		max =
		    lf->max_length > 0 ? lf->max_length : LTYPE_STRING_DEFAULT;
		if ((size_t)n > max)
			return cs_err_set(err, CS_ERR_INVALID,
			    "fields.%s: must be at most %zu characters",
			    lf->name, max);
		return CS_OK;
	case LTYPE_INTEGER:
		if (json_is_integer(v)) {
			if (!safe_int(json_integer_value(v)))
				return cs_err_set(err, CS_ERR_INVALID,
				    "fields.%s: must be within +-(2^53-1)",
				    lf->name);
			return CS_OK;
		}
		d = json_is_real(v) ? json_real_value(v) : 0.5;
		if (!isfinite(d) || fabs(d) > (double)LTYPE_SAFE_INT ||
		    d != (double)(long long)d)
			return cs_err_set(err, CS_ERR_INVALID,
			    "fields.%s: must be an integer", lf->name);
		return CS_OK;
	case LTYPE_NUMBER:
		if (json_is_integer(v) && !safe_int(json_integer_value(v)))
			return cs_err_set(err, CS_ERR_INVALID,
			    "fields.%s: must be within +-(2^53-1)", lf->name);
		if (!json_is_number(v) ||
		    (json_is_real(v) && !isfinite(json_real_value(v))))
			return cs_err_set(err, CS_ERR_INVALID,
			    "fields.%s: must be a number", lf->name);
		return CS_OK;
	case LTYPE_BOOLEAN:
		if (!json_is_boolean(v))
			return cs_err_set(err, CS_ERR_INVALID,
			    "fields.%s: must be true or false", lf->name);
		return CS_OK;
	case LTYPE_DATE:
		s = json_string_value(v);
		if (s == NULL || !date_ok(s, json_string_length(v)))
			return cs_err_set(err, CS_ERR_INVALID,
			    "fields.%s: must be a date (YYYY-MM-DD)", lf->name);
		return CS_OK;
	}
	return cs_err_set(
	    err, CS_ERR_INVALID, "fields.%s: has no type", lf->name);
}

static const struct ltype_field *
field_find(const struct ltype *lt, const char *name)
{
	size_t i;

	for (i = 0; i < lt->nfields; i++)
		if (strcmp(lt->fields[i].name, name) == 0)
			return &lt->fields[i];
	return NULL;
}

enum cs_rc
ltype_check_fields(
    const struct ltype *lt, const json_t *fields, struct cs_err *err)
{
	/* jansson's accessors take no const; nothing here writes. */
	json_t *obj = (json_t *)(uintptr_t)fields, *v;
	const char *key;
	enum cs_rc rc;
	size_t i;

	if (lt == NULL)
		return cs_err_set(err, CS_ERR_INVALID, "no licence type");
	if (!json_is_object(obj))
		return cs_err_set(
		    err, CS_ERR_INVALID, "fields: must be an object");
	json_object_foreach(obj, key, v)
	{
		if (field_find(lt, key) != NULL)
			continue;
		if (field_name_ok(key))
			return cs_err_set(err, CS_ERR_INVALID,
			    "fields.%s: not a field of type '%s'", key,
			    lt->code);
		return cs_err_set(err, CS_ERR_INVALID,
		    "fields: a member is not a field of type '%s'", lt->code);
	}
	for (i = 0; i < lt->nfields; i++) {
		v = json_object_get(obj, lt->fields[i].name);
		if (v == NULL) {
			if (lt->fields[i].required)
				return cs_err_set(err, CS_ERR_INVALID,
				    "fields.%s: required", lt->fields[i].name);
			continue;
		}
		rc = check_value(&lt->fields[i], v, err);
		if (rc != CS_OK)
			return rc;
	}
	return CS_OK;
}
