/*
 * fuzz_bearer.c: the Authorization header of every authenticated route,
 * resolved by client_authenticate() (certsvc/client.c) against a
 * store-only service that has no clients: whatever the header, the answer
 * is the one CS_ERR_AUTH.
 */
#include "certsvc/client.h"
#include "fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct client_principal p;
	struct cs_err err = {0};
	char *h = fuzz_strndup(data, size);

	FUZZ_CHECK(client_authenticate(fuzz_svc(), h, &p, &err) == CS_ERR_AUTH);
	FUZZ_CHECK(p.id[0] == '\0');
	free(h);
	return 0;
}
