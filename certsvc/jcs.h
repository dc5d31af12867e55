/*
 * jcs.h: JSON for documents that get signed.  Parsing is strict (UTF-8
 * checked, duplicate keys rejected, errors give line and column) and
 * encoding follows RFC 8785 (JSON Canonicalization Scheme): keys sorted by
 * UTF-16 code units, no insignificant whitespace, ECMAScript number
 * formatting, minimal string escapes.  The bytes jcs_encode() gives for a
 * value are the only bytes certsvc ever signs for it.
 */
#ifndef CERTSVC_JCS_H
#define CERTSVC_JCS_H

#include <stddef.h>

#include <jansson.h>

#include "certsvc/err.h"
#include "certsvc/mem.h"

/* Largest nesting depth accepted by jcs_parse(). */
#define JCS_MAX_DEPTH 32

/*
 * Parse len bytes of JSON text into *out (given, json_decref).  Rejects
 * duplicate keys, invalid UTF-8, NUL in strings, nesting deeper than
 * JCS_MAX_DEPTH, integers outside +-(2^53-1) and non-finite numbers.
 * CS_ERR_INVALID with "line L column C: what" on failure.
 */
enum cs_rc jcs_parse(
    const void *p, size_t len, json_t **out, struct cs_err *err);

/*
 * The RFC 8785 canonical form of v into *out (given).  CS_ERR_INVALID for
 * what jcs_parse() would refuse to read back: NaN, infinities, integers
 * (and doubles printed as integers, 2^53 <= |d| < 1e21) beyond
 * +-(2^53-1), strings or keys that are not UTF-8 or hold U+0000, nesting
 * deeper than JCS_MAX_DEPTH.
 */
enum cs_rc jcs_encode(const json_t *v, struct buf **out, struct cs_err *err);

/* ECMAScript Number.prototype.toString of d into out (>= 32 bytes). */
enum cs_rc jcs_number(double d, char *out, size_t outsz, struct cs_err *err);

#endif
