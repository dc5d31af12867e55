/*
 * jreq.c: request member checks shared by the licence, lifecycle,
 * objection and verification parsers (jreq.h).  Names in messages are cut
 * at 64 bytes: they come from the request and end up in the answer.
 */
#include <string.h>

#include "certsvc/jreq.h"

const char *
jreq_unknown(const json_t *obj, const char *const *allowed)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach((json_t *)obj, key, v)
	{
		(void)v;
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL)
			return key;
	}
	return NULL;
}

enum cs_rc
jreq_only(const json_t *obj, const char *path, const char *const *allowed,
    struct cs_err *err)
{
	const char *key = jreq_unknown(obj, allowed);

	if (key == NULL)
		return CS_OK;
	return cs_err_set(err, CS_ERR_INVALID, "%s%s%.64s: unknown member",
	    path, path[0] != '\0' ? "." : "", key);
}

enum cs_rc
jreq_body(const json_t *body, const char *const *allowed, struct cs_err *err)
{
	if (!json_is_object(body))
		return cs_err_set(
		    err, CS_ERR_INVALID, "body: must be a JSON object");
	return jreq_only(body, "", allowed, err);
}

const char *
jreq_str(const json_t *obj, const char *key)
{
	const json_t *s = json_object_get(obj, key);

	return json_is_string(s) && json_string_length(s) > 0
	    ? json_string_value(s)
	    : NULL;
}
