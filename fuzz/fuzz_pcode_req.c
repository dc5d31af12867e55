/*
 * fuzz_pcode_req.c: the JSON bodies of POST /v1/holder/codes (a holder
 * asks for a 免证办 code) and POST /v1/codes/redeem (a verifier redeems
 * one), through the functions the routes call, against a store-only
 * service (certsvc/pcode.c, included for its static redeem_parse() and
 * redeem_find()).
 *
 * Creating goes through pcode_create() itself for a holder: the body's
 * shape, purpose, ttl, max_uses and relying_party checks, then the
 * licence lookup, which finds nothing in the empty store.  Redeeming
 * goes through pcode_redeem() for a verifier, which parses the body and
 * then, with no report key, stops before any lookup (CS_ERR_TOKEN, as
 * just after start); the code it would have looked up then goes through
 * redeem_find() with a holder key: both forms, their hashes and the
 * store lookup by hash.
 *
 * Input: byte 0 picks creating (even) or redeeming (odd), the rest is the
 * body.
 */
#include "certsvc/pcode.c"

#include "certsvc/jcs.h"
#include "fuzz/fuzz.h"

static const uint8_t zero_created[sizeof(struct pcode_created)];

static void
fuzz_create(const json_t *body)
{
	struct client_principal p;
	struct pcode_created out;
	struct cs_err err = {0};
	enum cs_rc rc;

	fuzz_principal(&p, CLIENT_HOLDER, "C-holder");
	rc = pcode_create(fuzz_svc(), &p, body, &out, &err);
	/* No licence exists: every body is refused, nothing is left. */
	FUZZ_CHECK(rc == CS_ERR_INVALID || rc == CS_ERR_NOT_FOUND);
	FUZZ_CHECK(err.rc == rc && FUZZ_MSG_OK(&err));
	FUZZ_CHECK(memcmp(&out, zero_created, sizeof(out)) == 0);
	/* Not found only for a body that names a licence. */
	if (rc == CS_ERR_NOT_FOUND)
		FUZZ_CHECK(jreq_str(body, "licence_id") != NULL);
}

static void
fuzz_redeem(const json_t *body)
{
	struct client_principal p;
	struct cs_err perr = {0}, err = {0};
	struct redeem r;
	const char *code = NULL;
	char short_code[PCODE_SHORT_LEN + 1];
	unsigned retry = 1;
	json_t *ans = NULL;
	enum cs_rc prc, rc;

	fuzz_principal(&p, CLIENT_VERIFIER, "C-verifier");
	prc = redeem_parse(body, &code, &perr);
	rc =
	    pcode_redeem(fuzz_svc(), &p, "192.0.2.1", body, &ans, &retry, &err);
	FUZZ_CHECK(ans == NULL && retry == 0);
	FUZZ_CHECK(FUZZ_MSG_OK(&err));
	if (prc != CS_OK) {
		/* The route's answer is the parser's. */
		FUZZ_CHECK(prc == CS_ERR_INVALID && code == NULL);
		FUZZ_CHECK(rc == prc && strcmp(err.msg, perr.msg) == 0);
		return;
	}
	FUZZ_CHECK(code != NULL && rc == CS_ERR_TOKEN);
	memset(&r, 0, sizeof(r));
	r.svc = fuzz_svc();
	r.p = &p;
	r.source = "192.0.2.1";
	r.now = (int64_t)time(NULL);
	cs_err_clear(&err);
	FUZZ_CHECK(redeem_find(&r, code, &err) == CS_OK);
	/* The store is empty: malformed, or well formed and unknown. */
	if (pcode_long_parse(code))
		FUZZ_CHECK(r.why == WHY_UNKNOWN && strcmp(r.form, "long") == 0);
	else if (pcode_short_parse(code, short_code))
		FUZZ_CHECK(
		    r.why == WHY_UNKNOWN && strcmp(r.form, "short") == 0);
	else
		FUZZ_CHECK(
		    r.why == WHY_MALFORMED && strcmp(r.form, "none") == 0);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct svc *svc;

	(void)argc;
	(void)argv;
	fuzz_init();
	svc = fuzz_svc();
	/* redeem_find() hashes a short form under the holder key. */
	memset(svc->holder_key, 0x5a, sizeof(svc->holder_key));
	svc->has_holder_key = true;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_json_pick(data, size, fuzz_create, fuzz_redeem);
}
