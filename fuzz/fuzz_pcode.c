/*
 * fuzz_pcode.c: the two forms of a 免证办 code (certsvc/pcode.c), parsed
 * from every POST /v1/codes/redeem body before anything is looked up.  A
 * short form that parses is PCODE_SHORT_LEN characters whose last is the
 * check character of the others, and parsing it again gives the same; a
 * long form that parses is PCODE_LONG_LEN base64url characters.
 *
 * Input: the text a relying party typed or scanned.
 */
#include <string.h>

#include "certsvc/pcode.h"
#include "fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size);
	char out[PCODE_SHORT_LEN + 1], again[PCODE_SHORT_LEN + 1];
	size_t i;

	if (pcode_short_parse(s, out)) {
		FUZZ_CHECK(strlen(out) == PCODE_SHORT_LEN);
		FUZZ_CHECK(pcode_check_char(out, PCODE_SHORT_LEN - 1) ==
		    out[PCODE_SHORT_LEN - 1]);
		FUZZ_CHECK(pcode_short_parse(out, again));
		FUZZ_CHECK(strcmp(out, again) == 0);
	}
	if (pcode_long_parse(s)) {
		FUZZ_CHECK(strlen(s) == PCODE_LONG_LEN);
		for (i = 0; i < PCODE_LONG_LEN; i++)
			FUZZ_CHECK(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
			                  "klmnopqrstuvwxyz0123456789-_",
			               s[i]) != NULL &&
			    s[i] != '\0');
	}
	if (strlen(s) <= 29)
		(void)pcode_check_char(s, strlen(s));
	free(s);
	return 0;
}
