/*
 * fuzz_codes.c: unified social credit codes, licence type codes and
 * licence identifiers (certsvc/codes.c), checked on every request that
 * names a department or a licence.  A credit code that passes has the
 * check characters the generators compute; an identifier that
 * codes_licence_id() makes passes codes_licence_id_check().
 *
 * Input: the text checked; for the generator also "type|issuer|rest"
 * with year and serial taken from the first bytes.
 */
#include <string.h>

#include "certsvc/codes.h"
#include "fuzz/fuzz.h"

static void
fuzz_make_id(const uint8_t *data, size_t size, char *s)
{
	char id[CODES_LICENCE_ID_MAX];
	struct cs_err err = {0};
	char *type = s, *issuer, *bar;
	int64_t serial = 0;
	int year;

	if (size < 4)
		return;
	year = 1900 + data[0] * 2 + (data[1] & 1);
	memcpy(&serial, data, size >= 8 ? 8 : size);
	serial = serial < 0 ? -(serial + 1) : serial;
	if (data[2] & 1)
		serial %= 100000000000LL;
	bar = strchr(type, '|');
	if (bar == NULL)
		return;
	*bar = '\0';
	issuer = bar + 1;
	bar = strchr(issuer, '|');
	if (bar != NULL)
		*bar = '\0';
	if (codes_licence_id(
	        type, issuer, year, serial, id, sizeof(id), &err) == CS_OK) {
		FUZZ_CHECK(strlen(id) < sizeof(id));
		FUZZ_CHECK(codes_licence_id_check(id, &err) == CS_OK);
	} else {
		FUZZ_CHECK(FUZZ_MSG_OK(&err));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size);
	char first17[18];
	struct cs_err err = {0};

	if (codes_credit_check(s, &err) == CS_OK) {
		FUZZ_CHECK(strlen(s) == CODES_CREDIT_LEN);
		memcpy(first17, s, 17);
		first17[17] = '\0';
		FUZZ_CHECK(codes_credit_check_char(first17) == s[17]);
		FUZZ_CHECK(codes_org_check_char(s + 8) == s[16]);
	} else {
		FUZZ_CHECK(FUZZ_MSG_OK(&err));
	}
	cs_err_clear(&err);
	if (codes_licence_id_check(s, &err) != CS_OK)
		FUZZ_CHECK(FUZZ_MSG_OK(&err));
	cs_err_clear(&err);
	if (codes_type_check(s, &err) != CS_OK)
		FUZZ_CHECK(FUZZ_MSG_OK(&err));
	(void)codes_mod3736(s);
	(void)codes_credit_check_char(s);
	(void)codes_org_check_char(s);
	fuzz_make_id(data, size, s);
	free(s);
	return 0;
}
