/*
 * codes.h: the identifier schemes certsvc validates on every input:
 * unified social credit codes (GB 32100-2015) and e-licence identifiers
 * (docs/identifiers.md).
 */
#ifndef CERTSVC_CODES_H
#define CERTSVC_CODES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certsvc/err.h"

#define CODES_CREDIT_LEN 18
#define CODES_LICENCE_ID_MAX 96

/*
 * Check a unified social credit code: 18 characters from the GB 32100
 * alphabet (digits and upper-case letters without I, O, S, V, Z), a valid
 * registration-authority and category pair, a six-digit region code, and
 * both check characters (position 17 per GB 11714, position 18 per GB
 * 32100).  CS_ERR_INVALID names the first wrong position, e.g. "credit
 * code 'X': character 18 should be 'A'".
 */
enum cs_rc codes_credit_check(const char *code, struct cs_err *err);

/* The GB 32100 check character for the first 17 characters, or 0. */
char codes_credit_check_char(const char *first17);

/*
 * The GB 11714 organisation code check character ('0'-'9' or 'X') for the
 * first 8 characters ([0-9A-Z]), or 0.  In a credit code it is character
 * 17, over characters 9 to 16.
 */
char codes_org_check_char(const char *first8);

/*
 * Licence type codes: 2 to 16 characters of [A-Z0-9], starting with a
 * letter.
 */
enum cs_rc codes_type_check(const char *code, struct cs_err *err);

/*
 * Make the identifier of a licence, "<type>-<issuer>-<year>-<serial>-<c>":
 * type code, issuing department's credit code, four-digit year, serial as
 * at least 8 digits, and an ISO/IEC 7064 MOD 37,36 check character over
 * the other characters without the hyphens.
 */
enum cs_rc codes_licence_id(const char *type, const char *issuer, int year,
    int64_t serial, char *out, size_t outsz, struct cs_err *err);

/* Validate an identifier's form and check character; CS_ERR_INVALID. */
enum cs_rc codes_licence_id_check(const char *id, struct cs_err *err);

/* ISO/IEC 7064 MOD 37,36 check character of s ([0-9A-Z]*), or 0. */
char codes_mod3736(const char *s);

#endif
