/*
 * p11_uri.c: RFC 7512 PKCS#11 URIs, the only way certsvc names a key.
 * We understand the path attributes token, object, id and type, and refuse
 * everything else instead of ignoring it: an attribute we skipped could
 * make a URI select another key than the one its author meant.  Query
 * attributes are refused too, pin-value above all (the PIN comes from the
 * configured PIN source, never from a URI), and a refused value is never
 * echoed into the error message.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "certsvc/err.h"
#include "pkcs11/p11_int.h"

#define URI_SCHEME "pkcs11:"

static bool
uri_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

/* RFC 7512 pk11-pchar without pct-encoded: unreserved + path-res-avail. */
static bool
uri_pchar(unsigned char c)
{
	return uri_unreserved(c) || (c != '\0' && strchr(":[]@!$'()*+,=&", c));
}

static int
uri_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decode the value v (length vlen) of attribute name into out (size
 * outsz); *outlen is the decoded length.
 */
static enum cs_rc
uri_decode(const char *name, const char *v, size_t vlen, unsigned char *out,
    size_t outsz, size_t *outlen, struct cs_err *err)
{
	size_t i, n = 0;
	int hi, lo;
	unsigned char c;

	for (i = 0; i < vlen; i++) {
		c = (unsigned char)v[i];
		if (c == '%') {
			if (i + 2 >= vlen)
				return cs_err_set(err, CS_ERR_INVALID,
				    "pkcs11 uri: bad percent-encoding in '%s'",
				    name);
			hi = uri_hex((unsigned char)v[i + 1]);
			lo = uri_hex((unsigned char)v[i + 2]);
			if (hi < 0 || lo < 0)
				return cs_err_set(err, CS_ERR_INVALID,
				    "pkcs11 uri: bad percent-encoding in '%s'",
				    name);
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else if (!uri_pchar(c)) {
			return cs_err_set(err, CS_ERR_INVALID,
			    "pkcs11 uri: character not allowed in '%s'", name);
		}
		if (n >= outsz)
			return cs_err_set(err, CS_ERR_INVALID,
			    "pkcs11 uri: '%s' is too long", name);
		out[n++] = c;
	}
	*outlen = n;
	return CS_OK;
}

/* Decode a label-like value into a NUL-terminated string. */
static enum cs_rc
uri_decode_str(const char *name, const char *v, size_t vlen, char *out,
    size_t outsz, struct cs_err *err)
{
	size_t n;
	enum cs_rc rc;

	rc =
	    uri_decode(name, v, vlen, (unsigned char *)out, outsz - 1, &n, err);
	if (rc != CS_OK)
		return rc;
	if (memchr(out, '\0', n) != NULL)
		return cs_err_set(err, CS_ERR_INVALID,
		    "pkcs11 uri: '%s' contains a NUL", name);
	if (n == 0)
		return cs_err_set(
		    err, CS_ERR_INVALID, "pkcs11 uri: '%s' is empty", name);
	out[n] = '\0';
	return CS_OK;
}

static enum cs_rc
uri_attr(struct p11_uri *u, const char *a, size_t alen, struct cs_err *err)
{
	const char *eq, *v;
	char name[24], type[16];
	size_t nlen, vlen, i;
	enum cs_rc rc;

	eq = memchr(a, '=', alen);
	if (eq == NULL || eq == a)
		return cs_err_set(err, CS_ERR_INVALID,
		    "pkcs11 uri: attribute without name=value");
	nlen = (size_t)(eq - a);
	v = eq + 1;
	vlen = alen - nlen - 1;
	if (nlen >= sizeof(name))
		return cs_err_set(
		    err, CS_ERR_INVALID, "pkcs11 uri: unsupported attribute");
	for (i = 0; i < nlen; i++) {
		unsigned char c = (unsigned char)a[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return cs_err_set(err, CS_ERR_INVALID,
			    "pkcs11 uri: bad attribute name");
	}
	memcpy(name, a, nlen);
	name[nlen] = '\0';

	if (strcmp(name, "token") == 0) {
		if (u->has_token)
			goto dup;
		rc = uri_decode_str(
		    name, v, vlen, u->token, sizeof(u->token), err);
		if (rc != CS_OK)
			return rc;
		u->has_token = true;
	} else if (strcmp(name, "object") == 0) {
		if (u->has_object)
			goto dup;
		rc = uri_decode_str(
		    name, v, vlen, u->object, sizeof(u->object), err);
		if (rc != CS_OK)
			return rc;
		u->has_object = true;
	} else if (strcmp(name, "id") == 0) {
		if (u->has_id)
			goto dup;
		rc = uri_decode(
		    name, v, vlen, u->id, sizeof(u->id), &u->id_len, err);
		if (rc != CS_OK)
			return rc;
		if (u->id_len == 0)
			return cs_err_set(
			    err, CS_ERR_INVALID, "pkcs11 uri: 'id' is empty");
		u->has_id = true;
	} else if (strcmp(name, "type") == 0) {
		if (u->type != P11_URI_ANY)
			goto dup;
		rc = uri_decode_str(name, v, vlen, type, sizeof(type), err);
		if (rc != CS_OK)
			return rc;
		if (strcmp(type, "private") == 0)
			u->type = P11_URI_PRIVATE;
		else if (strcmp(type, "public") == 0)
			u->type = P11_URI_PUBLIC;
		else
			return cs_err_set(err, CS_ERR_INVALID,
			    "pkcs11 uri: unsupported type '%s'", type);
	} else {
		return cs_err_set(err, CS_ERR_INVALID,
		    "pkcs11 uri: unsupported attribute '%s'", name);
	}
	return CS_OK;
dup:
	return cs_err_set(
	    err, CS_ERR_INVALID, "pkcs11 uri: attribute '%s' repeated", name);
}

static enum cs_rc
uri_parse(const char *s, struct p11_uri *u, struct cs_err *err)
{
	const char *p, *end, *semi;
	size_t len;
	enum cs_rc rc;

	if (s == NULL)
		return cs_err_set(err, CS_ERR_INVALID, "pkcs11 uri: missing");
	len = strnlen(s, P11_URI_MAX);
	if (len >= P11_URI_MAX)
		return cs_err_set(err, CS_ERR_INVALID,
		    "pkcs11 uri: longer than %d bytes", P11_URI_MAX - 1);
	/* RFC 3986: the scheme is case-insensitive. */
	if (strncasecmp(s, URI_SCHEME, strlen(URI_SCHEME)) != 0)
		return cs_err_set(err, CS_ERR_INVALID,
		    "pkcs11 uri: does not start with 'pkcs11:'");
	if (strchr(s, '?') != NULL) {
		if (strstr(s, "pin-value") != NULL)
			return cs_err_set(err, CS_ERR_INVALID,
			    "pkcs11 uri: pin-value is not accepted");
		return cs_err_set(err, CS_ERR_INVALID,
		    "pkcs11 uri: query attributes are not supported");
	}
	if (strchr(s, '#') != NULL)
		return cs_err_set(
		    err, CS_ERR_INVALID, "pkcs11 uri: fragment not allowed");
	p = s + strlen(URI_SCHEME);
	end = s + len;
	while (p < end) {
		semi = memchr(p, ';', (size_t)(end - p));
		if (semi == NULL)
			semi = end;
		if (semi == p)
			return cs_err_set(
			    err, CS_ERR_INVALID, "pkcs11 uri: empty attribute");
		rc = uri_attr(u, p, (size_t)(semi - p), err);
		if (rc != CS_OK)
			return rc;
		if (semi == end)
			break;
		p = semi + 1;
		if (p == end)
			return cs_err_set(
			    err, CS_ERR_INVALID, "pkcs11 uri: empty attribute");
	}
	return CS_OK;
}

enum cs_rc
p11_uri_parse(const char *s, struct p11_uri *u, struct cs_err *err)
{
	enum cs_rc rc;

	memset(u, 0, sizeof(*u));
	rc = uri_parse(s, u, err);
	if (rc != CS_OK)
		memset(u, 0, sizeof(*u)); /* nothing half-parsed */
	return rc;
}

/* Append name=value, value percent-encoded (all of it when all). */
static bool
uri_put(char *out, size_t outsz, size_t *pos, const char *name,
    const unsigned char *v, size_t vlen, bool all)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, n = *pos;
	int w;

	w = snprintf(
	    out + n, outsz - n, "%s%s=", out[n - 1] == ':' ? "" : ";", name);
	if (w < 0 || (size_t)w >= outsz - n)
		return false;
	n += (size_t)w;
	for (i = 0; i < vlen; i++) {
		if (!all && uri_unreserved(v[i])) {
			if (n + 1 >= outsz)
				return false;
			out[n++] = (char)v[i];
		} else {
			if (n + 3 >= outsz)
				return false;
			out[n++] = '%';
			out[n++] = hex[v[i] >> 4];
			out[n++] = hex[v[i] & 0x0f];
		}
	}
	out[n] = '\0';
	*pos = n;
	return true;
}

enum cs_rc
p11_uri_format(
    const struct p11_uri *u, char *out, size_t outsz, struct cs_err *err)
{
	const char *type = NULL;
	size_t n;

	if (outsz < sizeof(URI_SCHEME))
		goto toolong;
	memcpy(out, URI_SCHEME, sizeof(URI_SCHEME));
	n = strlen(URI_SCHEME);
	if (u->has_token &&
	    !uri_put(out, outsz, &n, "token", (const unsigned char *)u->token,
	        strlen(u->token), false))
		goto toolong;
	if (u->has_object &&
	    !uri_put(out, outsz, &n, "object", (const unsigned char *)u->object,
	        strlen(u->object), false))
		goto toolong;
	if (u->has_id && !uri_put(out, outsz, &n, "id", u->id, u->id_len, true))
		goto toolong;
	if (u->type == P11_URI_PRIVATE)
		type = "private";
	else if (u->type == P11_URI_PUBLIC)
		type = "public";
	if (type != NULL &&
	    !uri_put(out, outsz, &n, "type", (const unsigned char *)type,
	        strlen(type), false))
		goto toolong;
	return CS_OK;
toolong:
	if (outsz > 0)
		out[0] = '\0';
	return cs_err_set(err, CS_ERR_INVALID, "pkcs11 uri: too long");
}
