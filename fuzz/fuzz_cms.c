/*
 * fuzz_cms.c: a seal presented for verification (POST /v1/verify, report
 * verification) is any DER: crypto_cms_verify() over a fixed document
 * (fuzz/data/document.json) against the fixed root, with and without the
 * certificate cache, then the seal's timestamp.  Each leaves the OpenSSL
 * error queue empty.  The cache gives the same answers except that it
 * remembers a chain it verified before: a known seal certificate still
 * chains to the root when a later seal carries it with a broken
 * intermediate (the path exists; certcache.c), so the cached chain_ok is
 * at least the plain one.
 */
#include <openssl/err.h>

#include "crypto/crypto.h"
#include "fuzz/fuzz.h"

static X509 *root;
static struct buf *doc;
static struct crypto_cert_cache *cache;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[4096];
	struct cs_err err = {0};

	(void)argc;
	(void)argv;
	fuzz_init();
	root = fuzz_cert("root.pem");
	snprintf(path, sizeof(path), "%s/document.json", fuzz_data_dir());
	FUZZ_CHECK(cs_file_read(path, 1 << 20, &doc, &err) == CS_OK);
	FUZZ_CHECK(crypto_cert_cache_new(64, &cache, &err) == CS_OK);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct crypto_cms_result a, b;
	struct crypto_ts_result ts;
	struct cs_err err = {0};

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	FUZZ_CHECK(crypto_cms_verify(doc->data, doc->len, data, size, root, &a,
	               &err) == CS_OK);
	FUZZ_CHECK(ERR_peek_error() == 0);
	FUZZ_CHECK(!a.signature_ok || a.parsed);
	FUZZ_CHECK(!a.chain_ok || a.signer != NULL);
	FUZZ_CHECK(memchr(a.reason, '\0', sizeof(a.reason)) != NULL);
	FUZZ_CHECK(crypto_cms_verify_cached(doc->data, doc->len, data, size,
	               root, cache, &b, &err) == CS_OK);
	FUZZ_CHECK(ERR_peek_error() == 0);
	FUZZ_CHECK(a.parsed == b.parsed && a.signature_ok == b.signature_ok);
	FUZZ_CHECK(!a.chain_ok || b.chain_ok);
	FUZZ_CHECK(!b.chain_ok || b.signer != NULL);
	FUZZ_CHECK(a.signing_time == b.signing_time &&
	    a.has_image_hash == b.has_image_hash);
	crypto_cms_result_release(&a);
	crypto_cms_result_release(&b);
	FUZZ_CHECK(crypto_cms_timestamp(data, size, root, &ts, &err) == CS_OK);
	FUZZ_CHECK(!ts.ok || ts.present);
	FUZZ_CHECK(ERR_peek_error() == 0);
	return 0;
}
