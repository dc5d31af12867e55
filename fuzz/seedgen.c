/*
 * seedgen.c: makes the fixed test PKI of fuzz/data and the seeds that must
 * be signed with it (fuzz/make-seeds.sh runs it).  The PKI is software
 * keys made here and thrown away: only certificates are kept, valid for a
 * century, so that the seeds' chains verify whenever the targets run.
 *
 *   seedgen OUTDIR   writes OUTDIR/data/{root,issuing,seal}.pem,
 *                    OUTDIR/data/document.json, seeds under
 *                    OUTDIR/corpus/{cms,verify,report,jcs,ocsp_der}/ and
 *                    the regression inputs OUTDIR/regress/cms/
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "certsvc/codes.h"
#include "certsvc/jcs.h"
#include "certsvc/mem.h"
#include "crypto/crypto.h"

#define DAYS 36500

static const char *outdir;

static void
die(const char *what, const struct cs_err *err)
{
	fprintf(stderr, "seedgen: %s%s%s\n", what, err != NULL ? ": " : "",
	    err != NULL ? err->msg : "");
	exit(1);
}

static void
put(const char *rel, const void *p, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, rel);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(p, 1, len, f) != len || fclose(f) != 0)
		die(path, NULL);
}

static void
put_json(const char *rel, json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);

	if (s == NULL)
		die("json_dumps", NULL);
	put(rel, s, strlen(s));
	free(s);
	json_decref(v);
}

static EVP_PKEY *
p256(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	if (k == NULL)
		die("EVP_EC_gen", NULL);
	return k;
}

static X509 *
issue(enum crypto_profile p, const char *cn, const char *orgid, EVP_PKEY *key,
    X509 *issuer, EVP_PKEY *issuer_key, unsigned days)
{
	struct crypto_cert_spec s;
	struct cs_err err = {0};
	X509 *x = NULL;

	memset(&s, 0, sizeof(s));
	s.profile = p;
	s.common_name = cn;
	s.organization = "某市数据局";
	s.country = "CN";
	s.org_identifier = orgid;
	s.days = days;
	s.subject_key = key;
	if (crypto_cert_issue(&s, issuer, issuer_key, &x, &err) != CS_OK)
		die("crypto_cert_issue", &err);
	return x;
}

static void
put_pem(const char *rel, X509 *x)
{
	struct buf *b = NULL;
	struct cs_err err = {0};

	if (crypto_cert_to_pem(x, &b, &err) != CS_OK)
		die("crypto_cert_to_pem", &err);
	put(rel, b->data, b->len);
	buf_free(b);
}

/* Seal doc with key/cert (chain: issuer), DER into *out. */
static struct buf *
seal(EVP_PKEY *key, X509 *cert, X509 *issuer, const struct buf *doc)
{
	struct crypto_seal_opts o;
	STACK_OF(X509) *chain = sk_X509_new_null();
	struct buf *der = NULL;
	struct cs_err err = {0};

	if (chain == NULL || !sk_X509_push(chain, issuer))
		die("sk_X509_push", NULL);
	memset(&o, 0, sizeof(o));
	o.key = key;
	o.cert = cert;
	o.chain = chain;
	if (crypto_cms_seal(&o, doc->data, doc->len, &der, &err) != CS_OK)
		die("crypto_cms_seal", &err);
	sk_X509_free(chain);
	return der;
}

static char *
b64(const struct buf *b)
{
	struct buf *t = NULL;
	struct cs_err err = {0};
	char *s;

	if (crypto_b64_encode(b->data, b->len, &t, &err) != CS_OK)
		die("crypto_b64_encode", &err);
	s = strdup((const char *)t->data);
	buf_free(t);
	return s;
}

static struct buf *
canon(json_t *v)
{
	struct buf *b = NULL;
	struct cs_err err = {0};

	if (v == NULL || jcs_encode(v, &b, &err) != CS_OK)
		die("jcs_encode", &err);
	json_decref(v);
	return b;
}

int
main(int argc, char **argv)
{
	char credit[CODES_CREDIT_LEN + 1], orgid[64], id[CODES_LICENCE_ID_MAX];
	unsigned char md[32];
	char hex[65];
	unsigned mdlen = 0;
	EVP_PKEY *rk, *ik, *sk, *pk;
	X509 *root, *iss, *sc, *rc;
	struct buf *doc, *der, *rep, *rder, *ocsp = NULL;
	struct cs_err err = {0};
	char *d64, *s64;
	const char *dirs[] = {"data", "corpus", "corpus/cms", "corpus/verify",
	    "corpus/report", "corpus/jcs", "corpus/ocsp_der", "regress",
	    "regress/cms", NULL};
	X509 *broken;
	struct buf *bder;
	char path[4096];
	size_t i;

	if (argc != 2)
		die("usage: seedgen OUTDIR", NULL);
	outdir = argv[1];
	for (i = 0; dirs[i] != NULL; i++) {
		snprintf(path, sizeof(path), "%s/%s", outdir, dirs[i]);
		mkdir(path, 0755);
	}
	memcpy(credit, "91110105MA012345", 16);
	credit[16] = codes_org_check_char(credit + 8);
	credit[17] = '\0';
	credit[17] = codes_credit_check_char(credit);
	credit[18] = '\0';
	if (codes_credit_check(credit, &err) != CS_OK)
		die("credit code", &err);
	snprintf(orgid, sizeof(orgid), "NTRCN-%s", credit);
	if (codes_licence_id("TA01", credit, 2026, 1, id, sizeof(id), &err) !=
	    CS_OK)
		die("codes_licence_id", &err);

	rk = p256();
	ik = p256();
	sk = p256();
	pk = p256();
	root = issue(
	    CRYPTO_CERT_ROOT_CA, "certsvc fuzz root", NULL, rk, NULL, rk, DAYS);
	iss = issue(CRYPTO_CERT_SUB_CA, "certsvc fuzz issuing CA", NULL, ik,
	    root, rk, DAYS - 1);
	sc = issue(CRYPTO_CERT_SEAL, "某市数据局电子印章", orgid, sk, iss, ik,
	    DAYS - 2);
	rc = issue(CRYPTO_CERT_REPORT, "certsvc report signer fuzz", NULL, pk,
	    iss, ik, DAYS - 2);
	put_pem("data/root.pem", root);
	put_pem("data/issuing.pem", iss);
	put_pem("data/seal.pem", sc);

	/* A licence document as licence.c makes it (docs/envelope.md). */
	if (X509_digest(sc, EVP_sha256(), md, &mdlen) != 1)
		die("X509_digest", NULL);
	cs_hex(md, sizeof(md), hex);
	doc = canon(json_pack("{s:s,s:s,s:i,s:{s:s,s:s},s:{s:s,s:s,s:s},"
	                      "s:{s:s,s:s,s:s},s:{s:s,s:f,s:b,s:s},s:s,s:s,"
	                      "s:s,s:{s:s,s:s},s:{s:{s:i,s:s}}}",
	    "format", "certsvc-licence/2", "id", id, "version", 1, "type",
	    "code", "TA01", "name", "食品经营许可证", "issuer", "credit_code",
	    credit, "name", "某区市场监督管理局", "region", "110105", "holder",
	    "name", "张三", "id_type", "resident_id", "id_number",
	    "110101199003070011", "fields", "scope", "预包装食品销售",
	    "capital", 1.5, "chain", 1, "since", "2020-01-31", "issued_at",
	    "2026-11-25T08:00:00Z", "valid_from", "2026-11-25", "valid_until",
	    "2099-11-24", "seal", "id", "S-0123456789abcdef",
	    "certificate_sha256", hex, "status", "status_list", "idx", 4711,
	    "uri", "https://certsvc.example.gov/v1/status-lists/0"));
	put("data/document.json", doc->data, doc->len);
	put("corpus/jcs/document.json", doc->data, doc->len);
	der = seal(sk, sc, iss, doc);
	put("corpus/cms/seal.der", der->data, der->len);
	/*
	 * The regression pair of the cms target (docs/robustness.md): the
	 * seal, then a seal by the same certificate whose issuing CA copy
	 * has another key, so that the chain holds only through the cache.
	 */
	put("regress/cms/1-seal.der", der->data, der->len);
	broken = X509_dup(iss);
	/* X509_sign() re-encodes: X509_set_pubkey() alone would not. */
	if (broken == NULL || X509_set_pubkey(broken, pk) != 1 ||
	    X509_sign(broken, pk, EVP_sha256()) <= 0)
		die("X509_set_pubkey", NULL);
	bder = seal(sk, sc, broken, doc);
	put("regress/cms/2-seal-broken-intermediate.der", bder->data,
	    bder->len);
	buf_free(bder);
	X509_free(broken);
	/*
	 * The seal with its ContentInfo tag primitive (0x10): BER that the
	 * cached path once repaired and accepted as valid.
	 */
	bder = buf_from(der->data, der->len);
	if (bder == NULL)
		die("buf_from", NULL);
	bder->data[0] = 0x10;
	put("regress/cms/5-seal-primitive-content-info.der", bder->data,
	    bder->len);
	buf_free(bder);
	d64 = b64(doc);
	s64 = b64(der);
	put_json("corpus/verify/envelope.json",
	    json_pack("{s:{s:s,s:s,s:i,s:s,s:s}}", "envelope", "format",
	        "certsvc-envelope/1", "id", id, "version", 1, "document", d64,
	        "seal", s64));
	put_json("corpus/verify/pair.json",
	    json_pack("{s:s,s:s}", "document", d64, "seal", s64));
	put_json("corpus/verify/by-id.json",
	    json_pack("{s:s,s:i}", "licence_id", id, "version", 1));
	free(d64);
	free(s64);

	/* A report as verify.c makes it, sealed by a report signer. */
	rep = canon(json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:[{s:s,s:s,"
	                      "s:s}],s:s}",
	    "format", "certsvc-report/1", "id",
	    "R-00112233445566778899aabbccddeeff", "time",
	    "2026-11-25T08:00:00Z", "verifier", "C-fuzz", "licence_id", id,
	    "version", 1, "document_sha256", hex, "seal_sha256", hex, "checks",
	    "name", "seal_signature", "result", "pass", "reason",
	    "the seal's signature covers the exact document bytes", "result",
	    "valid"));
	rder = seal(pk, rc, iss, rep);
	d64 = b64(rep);
	s64 = b64(rder);
	put_json("corpus/report/envelope.json",
	    json_pack("{s:s,s:s,s:s,s:s}", "format", "certsvc-envelope/1", "id",
	        "R-00112233445566778899aabbccddeeff", "document", d64, "seal",
	        s64));
	put_json("corpus/report/response.json",
	    json_pack("{s:s,s:{s:s,s:s}}", "result", "valid", "report",
	        "document", d64, "seal", s64));
	free(d64);
	free(s64);
	/* A licence seal is no report: the signer check must refuse it. */
	put("corpus/cms/report-seal.der", rder->data, rder->len);

	if (crypto_ocsp_plain_request(EVP_sha1(), sc, iss, &ocsp, &err) !=
	    CS_OK)
		die("crypto_ocsp_plain_request", &err);
	put("corpus/ocsp_der/plain-sha1.der", ocsp->data, ocsp->len);
	buf_free(ocsp);

	buf_free(doc);
	buf_free(der);
	buf_free(rep);
	buf_free(rder);
	X509_free(root);
	X509_free(iss);
	X509_free(sc);
	X509_free(rc);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(ik);
	EVP_PKEY_free(sk);
	EVP_PKEY_free(pk);
	return 0;
}
