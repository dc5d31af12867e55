/*
 * bench/issue_parts.c: where the time of one issuance goes.  On a data dir
 * made by bench/issue.sh (certsvc-admin init --demo), one thread times each
 * step licence_issue() and api_licence_issue() take, with the same public
 * functions and the same inputs, then licence_issue() itself; per step the
 * wall and the thread CPU time per call.  It does not replace the ratios of
 * bench/issue.sh: it names the costs behind them.
 *
 *   issue_parts --config PATH --token-file F --body F [--only STEP]
 *               [--iterations N] [--json]
 *
 * The token file holds the issuer's bearer token (never in argv); the body
 * is the request of bench/issue.sh, whose "seal" member picks the seal.
 * Steps that are static in certsvc (the document, the serial) are rebuilt
 * here from the same calls; "licence_issue" is the real thing (its store
 * transaction included).  --only STEP runs one step (to profile it).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "certsvc/client.h"
#include "certsvc/codes.h"
#include "certsvc/err.h"
#include "certsvc/jcs.h"
#include "certsvc/licence.h"
#include "certsvc/ltype.h"
#include "certsvc/mem.h"
#include "certsvc/seal.h"
#include "certsvc/svc.h"
#include "crypto/crypto.h"

#define PARTS_AUTH_MAX 128

struct parts {
	struct svc *svc;
	char auth[PARTS_AUTH_MAX];
	struct client_principal p;
	struct buf *body;
	json_t *req;
	const char *type, *seal_id;
	const json_t *fields, *holder;
	struct ltype *lt;
	struct store_dept dept;
	struct seal_signer *seal;
	STACK_OF(X509) * chain;
	STACK_OF(X509) * signer;
	struct buf *doc;
	struct buf *der;
	CMS_ContentInfo *cms;
	unsigned char tbs[256]; /* about the size of CMS signed attributes */
	unsigned long seq;
	bool no_holder;      /* store_tx without its holder client */
	struct store *other; /* a second handle on the DB: "another writer" */
	uint64_t part_cpu_ns, part_wall_ns; /* what *_cold steps time */
};

typedef bool (*step_fn)(struct parts *ps);

struct step {
	const char *name;
	const char *what;
	step_fn fn;
	double wall_us;
	double cpu_us;
};

static void
die(const char *what)
{
	fprintf(stderr, "bench/issue_parts: %s\n", what);
	exit(1);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: issue_parts --config PATH --token-file F --body F "
	    "[--only STEP] [--iterations N] [--json]\n");
	exit(2);
}

static uint64_t
cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* --- the steps, in the order of api_licence_issue() ---------------------- */

static bool
st_request_id(struct parts *ps)
{
	unsigned char rnd[16];

	(void)ps;
	return RAND_bytes(rnd, sizeof(rnd)) == 1;
}

static bool
st_auth(struct parts *ps)
{
	struct client_principal p;

	return client_authenticate(ps->svc, ps->auth, &p, NULL) == CS_OK;
}

/* The same without the principal cache: the client row every time. */
static bool
st_auth_row(struct parts *ps)
{
	struct client_cache *cache = ps->svc->clients;
	struct client_principal p;
	bool ok;

	ps->svc->clients = NULL;
	ok = client_authenticate(ps->svc, ps->auth, &p, NULL) == CS_OK;
	ps->svc->clients = cache;
	return ok;
}

static bool
st_parse(struct parts *ps)
{
	json_t *v = NULL;
	bool ok;

	ok = jcs_parse(ps->body->data, ps->body->len, &v, NULL) == CS_OK;
	json_decref(v);
	return ok;
}

static bool
st_canon_hash(struct parts *ps)
{
	unsigned char md[32];
	struct buf *canon = NULL;
	bool ok;

	ok = jcs_encode(ps->req, &canon, NULL) == CS_OK &&
	    EVP_Digest(canon->data, canon->len, md, NULL, EVP_sha256(), NULL) ==
	        1;
	buf_free(canon);
	return ok;
}

static bool
st_jcs_number(struct parts *ps)
{
	char out[32];

	(void)ps;
	return jcs_number(500000.0, out, sizeof(out), NULL) == CS_OK;
}

static bool
st_idem_get(struct parts *ps)
{
	uint8_t h[STORE_HASH_LEN];
	char id[STORE_LICENCE_ID_MAX], key[64];
	int version = 0;

	snprintf(key, sizeof(key), "parts-absent-%lu", ps->seq++);
	return store_idem_get(ps->svc->store, NULL, ps->p.id, key, h, id,
	           sizeof(id), &version, NULL) == CS_ERR_NOT_FOUND;
}

static bool
st_ltype_load(struct parts *ps)
{
	struct ltype *lt = NULL;
	bool ok;

	ok = ltype_load(ps->svc, ps->type, &lt, NULL) == CS_OK;
	ltype_free(lt);
	return ok;
}

static bool
st_dept_allowed(struct parts *ps)
{
	bool allowed = false;

	return store_ltype_dept_allowed(ps->svc->store, ps->lt->code,
	           ps->p.dept, &allowed, NULL) == CS_OK &&
	    allowed;
}

/*
 * As in certsvcd, where another connection has committed since this one
 * last read (SQLite then reads every page again, page 1 first): a commit
 * through a second handle, then client_authenticate() and the request's
 * next read (licence_issue's store_ltype_dept_allowed) are timed, as the
 * first read after the commit pays for page 1 whichever it is.
 */
static bool
auth_cold(struct parts *ps, bool row)
{
	struct client_cache *cache = ps->svc->clients;
	struct client_principal p;
	struct store_tx *tx = NULL;
	struct store_audit_event ev;
	uint64_t w0, c0;
	bool ok;

	memset(&ev, 0, sizeof(ev));
	ev.actor = "bench";
	ev.action = "bench.commit";
	ev.object = "bench";
	ev.outcome = "ok";
	if (store_tx_begin(ps->other, &tx, NULL) != CS_OK)
		return false;
	if (store_audit_append(tx, &ev, NULL, NULL) != CS_OK) {
		store_tx_rollback(tx);
		return false;
	}
	if (store_tx_commit(tx, NULL) != CS_OK)
		return false;
	if (row)
		ps->svc->clients = NULL;
	w0 = cs_now_ns();
	c0 = cpu_ns();
	ok = client_authenticate(ps->svc, ps->auth, &p, NULL) == CS_OK &&
	    st_dept_allowed(ps);
	ps->part_cpu_ns += cpu_ns() - c0;
	ps->part_wall_ns += cs_now_ns() - w0;
	ps->svc->clients = cache;
	return ok;
}

static bool
st_auth_cold(struct parts *ps)
{
	return auth_cold(ps, false);
}

static bool
st_auth_row_cold(struct parts *ps)
{
	return auth_cold(ps, true);
}

static bool
st_check_fields(struct parts *ps)
{
	return ltype_check_fields(ps->lt, ps->fields, NULL) == CS_OK;
}

static bool
st_dept_get(struct parts *ps)
{
	struct store_dept d;

	return store_dept_get(ps->svc->store, ps->p.dept, &d, NULL) == CS_OK;
}

static bool
st_holder_ref(struct parts *ps)
{
	char ref[72];

	return holder_ref_make(ps->svc,
	           json_string_value(json_object_get(ps->holder, "id_type")),
	           json_string_value(json_object_get(ps->holder, "id_number")),
	           ref, sizeof(ref), NULL) == CS_OK;
}

static bool
st_seal_get(struct parts *ps)
{
	struct seal_signer *s = NULL;
	bool ok;

	ok = seal_signer_get(ps->svc, ps->seal_id, ps->p.dept, &s, NULL) ==
	    CS_OK;
	seal_signer_free(s);
	return ok;
}

static bool
st_licence_id(struct parts *ps)
{
	char id[STORE_LICENCE_ID_MAX];

	return codes_licence_id(ps->lt->code, ps->p.dept, 2026,
	           (int64_t)++ps->seq, id, sizeof(id), NULL) == CS_OK;
}

/* licence.c's licence_document(): the same json_pack and jcs_encode. */
static bool
st_document(struct parts *ps)
{
	json_t *doc;
	bool ok;

	doc = json_pack("{s:s,s:s,s:i,s:{s:s,s:s},s:{s:s,s:s,s:s},"
	                "s:{s:s,s:s,s:s},s:O,s:s,s:s,s:s,s:{s:s,s:s}}",
	    "format", "certsvc-licence/1", "id",
	    "DEMO01-91110000MA01DEM15M-2026-00000001-G", "version", 1, "type",
	    "code", ps->lt->code, "name", ps->lt->name, "issuer", "credit_code",
	    ps->dept.code, "name", ps->dept.name, "region", ps->dept.region,
	    "holder", "name",
	    json_string_value(json_object_get(ps->holder, "name")), "id_type",
	    json_string_value(json_object_get(ps->holder, "id_type")),
	    "id_number",
	    json_string_value(json_object_get(ps->holder, "id_number")),
	    "fields", ps->fields, "issued_at", "2026-11-25T09:04:39Z",
	    "valid_from", "2026-11-25", "valid_until", "2031-11-24", "seal",
	    "id", ps->seal->id, "certificate_sha256",
	    "2a6f29668838926708b33072d4adeec9ecb6b73cbca519165d0baa6d0248b464");
	if (doc == NULL)
		return false;
	buf_free(ps->doc);
	ps->doc = NULL;
	ok = jcs_encode(doc, &ps->doc, NULL) == CS_OK;
	json_decref(doc);
	return ok;
}

static bool
st_cms_seal(struct parts *ps)
{
	struct crypto_seal_opts so;
	struct buf *der = NULL;

	memset(&so, 0, sizeof(so));
	so.key = ps->seal->key;
	so.cert = ps->seal->cert;
	so.chain = ps->chain;
	so.image_sha256 = ps->seal->has_image ? ps->seal->image_sha256 : NULL;
	if (crypto_cms_seal(&so, ps->doc->data, ps->doc->len, &der, NULL) !=
	    CS_OK)
		return false;
	buf_free(ps->der);
	ps->der = der;
	return true;
}

/* Inside crypto_cms_seal: the token signature of the signed attributes. */
static bool
st_token_sign(struct parts *ps)
{
	unsigned char sig[512];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok;

	ok = ctx != NULL &&
	    EVP_DigestSignInit(ctx, NULL, crypto_md_for_key(ps->seal->key),
	        NULL, ps->seal->key) == 1 &&
	    EVP_DigestSign(ctx, sig, &siglen, ps->tbs, sizeof(ps->tbs)) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* Inside crypto_cms_seal: crypto_seal_check()'s key/certificate match. */
static bool
st_check_key(struct parts *ps)
{
	return X509_check_private_key(ps->seal->cert, ps->seal->key) == 1;
}

/* Inside crypto_cms_seal: crypto_sig_verify() of the fresh seal. */
static bool
st_cms_verify(struct parts *ps)
{
	BIO *in = BIO_new_mem_buf(ps->doc->data, (int)ps->doc->len);
	int r;

	if (in == NULL)
		return false;
	r = CMS_verify(ps->cms, ps->signer, NULL, in, NULL,
	    CMS_DETACHED | CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY |
	        CMS_NOINTERN);
	BIO_free(in);
	return r == 1;
}

/* The answer's licence: the document and seal made above. */
static void
parts_issued(struct parts *ps, struct licence_issued *out)
{
	struct store_licence *l = &out->lic;

	memset(out, 0, sizeof(*out));
	cs_strlcpy(
	    l->id, "DEMO01-91110000MA01DEM15M-2026-00000001-G", sizeof(l->id));
	l->version = 1;
	cs_strlcpy(l->type, ps->lt->code, sizeof(l->type));
	cs_strlcpy(l->dept, ps->p.dept, sizeof(l->dept));
	cs_strlcpy(l->seal_id, ps->seal->id, sizeof(l->seal_id));
	cs_strlcpy(l->status, "valid", sizeof(l->status));
	l->issued_at = 1795000000;
	l->valid_from = 1795000000;
	l->valid_until = 1795000000 + 5 * 365 * 86400;
	l->document = ps->doc;
	l->seal_der = ps->der;
	cs_strlcpy(out->holder_token,
	    "cs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	    sizeof(out->holder_token));
	cs_strlcpy(out->holder_client, "C-0011223344556677",
	    sizeof(out->holder_client));
}

/* api_licence_issue(): the answer, as licence_issued_text() writes it. */
static bool
st_response(struct parts *ps)
{
	struct licence_issued out;
	char *text = NULL;
	size_t len = 0;
	bool ok;

	parts_issued(ps, &out);
	ok = licence_issued_text(&out, &text, &len, NULL) == CS_OK;
	free(text);
	return ok;
}

/* The same answer through jansson: summary + envelope + json_dumps. */
static bool
st_response_json(struct parts *ps)
{
	struct licence_issued out;
	json_t *obj;
	char *text;

	parts_issued(ps, &out);
	obj = licence_summary(&out.lic);
	if (obj == NULL)
		return false;
	json_object_set_new(obj, "envelope", licence_envelope(&out.lic));
	json_object_set_new(obj, "replayed", json_false());
	json_object_set_new(obj, "holder_token", json_string(out.holder_token));
	json_object_set_new(
	    obj, "holder_client", json_string(out.holder_client));
	text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	free(text);
	return text != NULL;
}

/*
 * licence_issue()'s transaction, call for call: the idempotency check in
 * the tx, the licence, its holder client (client_add_tx), the key and the
 * audit event, commit.
 */
static bool
st_store_tx(struct parts *ps)
{
	char id[STORE_LICENCE_ID_MAX], key[64],
	    object[STORE_LICENCE_ID_MAX + 16];
	char hid[STORE_CODE_MAX], hsec[CLIENT_SECRET_MAX];
	char prev[STORE_LICENCE_ID_MAX];
	uint8_t h[STORE_HASH_LEN];
	struct store_audit_event ev;
	struct store_licence l;
	struct store_tx *tx = NULL;
	int version = 0;
	bool ok;

	ps->seq++;
	snprintf(key, sizeof(key), "parts-tx-%lu-%lu",
	    (unsigned long)time(NULL), ps->seq);
	if (codes_licence_id(ps->lt->code, ps->p.dept, 2099,
	        (int64_t)(time(NULL) % 100000) * 100000 + (int64_t)ps->seq, id,
	        sizeof(id), NULL) != CS_OK)
		return false;
	memset(&l, 0, sizeof(l));
	cs_strlcpy(l.id, id, sizeof(l.id));
	l.version = 1;
	cs_strlcpy(l.type, ps->lt->code, sizeof(l.type));
	cs_strlcpy(l.dept, ps->p.dept, sizeof(l.dept));
	cs_strlcpy(l.seal_id, ps->seal->id, sizeof(l.seal_id));
	cs_strlcpy(l.status, "valid", sizeof(l.status));
	memset(l.holder_ref, 'a', 64);
	l.issued_at = (int64_t)time(NULL);
	l.valid_from = l.issued_at;
	l.valid_until = l.issued_at + 5 * 365 * 86400;
	l.document = ps->doc;
	l.seal_der = ps->der;
	snprintf(object, sizeof(object), "licence:%s/1", id);
	memset(&ev, 0, sizeof(ev));
	ev.actor = ps->p.id;
	ev.action = "licence.issue";
	ev.object = object;
	ev.outcome = "ok";
	ev.detail = "{\"dept\":\"91110000MA01DEM15M\",\"seal\":"
	            "\"S-bcb2edec85d0b73b\",\"type\":\"DEMO01\"}";
	memset(h, 0x5a, sizeof(h));
	if (store_tx_begin(ps->svc->store, &tx, NULL) != CS_OK)
		return false;
	ok = store_idem_get(ps->svc->store, tx, ps->p.id, key, h, prev,
	         sizeof(prev), &version, NULL) == CS_ERR_NOT_FOUND &&
	    store_licence_put(tx, &l, NULL) == CS_OK &&
	    (ps->no_holder ||
	        client_add_tx(ps->svc, tx, CLIENT_HOLDER, "holder", NULL,
	            l.holder_ref, hid, sizeof(hid), hsec, sizeof(hsec),
	            NULL) == CS_OK) &&
	    store_idem_put(tx, ps->p.id, key, h, id, 1, NULL) == CS_OK &&
	    store_audit_append(tx, &ev, NULL, NULL) == CS_OK;
	OPENSSL_cleanse(hsec, sizeof(hsec));
	if (!ok) {
		store_tx_rollback(tx);
		return false;
	}
	return store_tx_commit(tx, NULL) == CS_OK;
}

/* The same transaction without the holder client: its share. */
static bool
st_store_tx_no_holder(struct parts *ps)
{
	bool ok;

	ps->no_holder = true;
	ok = st_store_tx(ps);
	ps->no_holder = false;
	return ok;
}

/* The real thing: licence_issue() with a new Idempotency-Key each time. */
static bool
st_licence_issue(struct parts *ps)
{
	struct licence_issued out;
	char key[64];
	bool ok;

	snprintf(key, sizeof(key), "parts-%lu-%lu", (unsigned long)time(NULL),
	    ps->seq++);
	ok = licence_issue(ps->svc, &ps->p, ps->req, key, 0, &out, NULL) ==
	    CS_OK;
	licence_issued_release(&out);
	return ok;
}

static void
run_step(struct parts *ps, struct step *s, unsigned long n)
{
	uint64_t w0, c0;
	unsigned long i;

	/* Warm caches (seal cache, statements) first. */
	for (i = 0; i < n / 10 + 1; i++)
		if (!s->fn(ps))
			die(s->name);
	ps->part_cpu_ns = 0;
	ps->part_wall_ns = 0;
	w0 = cs_now_ns();
	c0 = cpu_ns();
	for (i = 0; i < n; i++)
		if (!s->fn(ps))
			die(s->name);
	s->cpu_us = (double)(cpu_ns() - c0) / 1e3 / (double)n;
	s->wall_us = (double)(cs_now_ns() - w0) / 1e3 / (double)n;
	if (ps->part_cpu_ns > 0) { /* the step timed its part itself */
		s->cpu_us = (double)ps->part_cpu_ns / 1e3 / (double)n;
		s->wall_us = (double)ps->part_wall_ns / 1e3 / (double)n;
	}
}

static struct buf *
read_file(const char *path)
{
	struct buf *b = NULL;
	struct cs_err err = {0};

	if (cs_file_read(path, 1 << 20, &b, &err) != CS_OK)
		die(err.msg);
	while (b->len > 0 &&
	    (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == '\r' ||
	        b->data[b->len - 1] == ' '))
		b->data[--b->len] = '\0';
	return b;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"token-file", required_argument, NULL, 't'},
	    {"body", required_argument, NULL, 'b'},
	    {"iterations", required_argument, NULL, 'n'},
	    {"json", no_argument, NULL, 'j'},
	    {"only", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct step steps[] = {
	    {"request_id", "api: X-Request-Id (RAND_bytes)", st_request_id, 0,
	        0},
	    {"auth", "client_authenticate (SHA-256 + generation, cached)",
	        st_auth, 0, 0},
	    {"auth_row", "  the same uncached (SHA-256 + client row)",
	        st_auth_row, 0, 0},
	    {"auth_cold", "  cached + next read, after a commit elsewhere",
	        st_auth_cold, 0, 0},
	    {"auth_row_cold",
	        "  uncached + next read, after a commit elsewhere",
	        st_auth_row_cold, 0, 0},
	    {"parse", "jcs_parse of the body", st_parse, 0, 0},
	    {"canon_hash", "jcs_encode(request) + SHA-256", st_canon_hash, 0,
	        0},
	    {"jcs_number", "  of which one jcs_number()", st_jcs_number, 0, 0},
	    {"idem_get", "store_idem_get (outside the tx)", st_idem_get, 0, 0},
	    {"ltype_load", "ltype_load (row + ltype_parse)", st_ltype_load, 0,
	        0},
	    {"dept_allowed", "store_ltype_dept_allowed", st_dept_allowed, 0, 0},
	    {"check_fields", "ltype_check_fields", st_check_fields, 0, 0},
	    {"dept_get", "store_dept_get", st_dept_get, 0, 0},
	    {"holder_ref", "holder_ref_make (HMAC)", st_holder_ref, 0, 0},
	    {"seal_get", "seal_signer_get (cached)", st_seal_get, 0, 0},
	    {"licence_id", "codes_licence_id", st_licence_id, 0, 0},
	    {"document", "document: json_pack + jcs_encode", st_document, 0, 0},
	    {"cms_seal", "crypto_cms_seal, all of it", st_cms_seal, 0, 0},
	    {"check_key", "  of which X509_check_private_key", st_check_key, 0,
	        0},
	    {"token_sign", "  of which the token signature (EVP)",
	        st_token_sign, 0, 0},
	    {"cms_verify", "  of which CMS_verify of the fresh seal",
	        st_cms_verify, 0, 0},
	    {"response", "answer: licence_issued_text", st_response, 0, 0},
	    {"response_json", "  the same through json_dumps (before)",
	        st_response_json, 0, 0},
	    {"store_tx", "its transaction (as store_tx, this DB)", st_store_tx,
	        0, 0},
	    {"tx_no_holder", "  the same without the holder client",
	        st_store_tx_no_holder, 0, 0},
	    {"licence_issue", "licence_issue() itself, tx included",
	        st_licence_issue, 0, 0},
	};
	const size_t nsteps = sizeof(steps) / sizeof(steps[0]);
	const char *config = NULL, *token_file = NULL, *body_file = NULL;
	const char *only = NULL;
	bool first = true;
	struct parts ps;
	struct cs_err err = {0};
	struct buf *tok;
	const unsigned char *p;
	long long iterations = 2000;
	bool json = false;
	size_t i;
	int c;

	while (
	    (c = getopt_long(argc, argv, "c:t:b:n:o:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 't':
			token_file = optarg;
			break;
		case 'b':
			body_file = optarg;
			break;
		case 'n':
			if (!cs_parse_ll(optarg, 1, 10000000, &iterations))
				usage();
			break;
		case 'j':
			json = true;
			break;
		case 'o':
			only = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || config == NULL || token_file == NULL ||
	    body_file == NULL)
		usage();

	memset(&ps, 0, sizeof(ps));
	if (svc_open(config, SVC_OPEN_ALL, &ps.svc, &err) != CS_OK)
		die(err.msg);
	tok = read_file(token_file);
	snprintf(ps.auth, sizeof(ps.auth), "Bearer %s", (char *)tok->data);
	buf_free(tok);
	if (client_authenticate(ps.svc, ps.auth, &ps.p, &err) != CS_OK ||
	    store_open(ps.svc->cfg.db_path, 1, &ps.other, &err) != CS_OK)
		die(err.msg);
	ps.body = read_file(body_file);
	if (jcs_parse(ps.body->data, ps.body->len, &ps.req, &err) != CS_OK)
		die(err.msg);
	ps.type = json_string_value(json_object_get(ps.req, "type"));
	ps.seal_id = json_string_value(json_object_get(ps.req, "seal"));
	ps.fields = json_object_get(ps.req, "fields");
	ps.holder = json_object_get(ps.req, "holder");
	if (ps.type == NULL || ps.fields == NULL || ps.holder == NULL)
		die("body: not a licence request");
	if (ltype_load(ps.svc, ps.type, &ps.lt, &err) != CS_OK ||
	    store_dept_get(ps.svc->store, ps.p.dept, &ps.dept, &err) != CS_OK ||
	    seal_signer_get(ps.svc, ps.seal_id, ps.p.dept, &ps.seal, &err) !=
	        CS_OK)
		die(err.msg);
	ps.chain = sk_X509_new_null();
	ps.signer = sk_X509_new_null();
	if (ps.chain == NULL || !sk_X509_push(ps.chain, ps.svc->issuing) ||
	    ps.signer == NULL || !sk_X509_push(ps.signer, ps.seal->cert))
		die("out of memory");
	memset(ps.tbs, 0x31, sizeof(ps.tbs));
	/* A seal to verify and answer with. */
	if (!st_document(&ps) || !st_cms_seal(&ps))
		die("cannot make a seal");
	p = ps.der->data;
	ps.cms = d2i_CMS_ContentInfo(NULL, &p, (long)ps.der->len);
	if (ps.cms == NULL)
		die("cannot parse the seal");

	for (i = 0; i < nsteps; i++)
		if (only == NULL || strcmp(only, steps[i].name) == 0)
			run_step(&ps, &steps[i],
			    strcmp(steps[i].name, "licence_issue") == 0 ||
			            strncmp(steps[i].name, "auth_", 5) == 0 ||
			            strcmp(steps[i].name, "store_tx") == 0 ||
			            strcmp(steps[i].name, "tx_no_holder") == 0
			        ? (unsigned long)iterations / 4 + 1
			        : (unsigned long)iterations);

	if (json)
		printf("{\"alg\": \"%s\", \"iterations\": %lld, \"steps\": [",
		    EVP_PKEY_get_base_id(ps.seal->key) == EVP_PKEY_RSA
		        ? "rsa3072"
		        : "p256",
		    iterations);
	else
		printf(
		    "%-14s %9s %9s  %s\n", "step", "wall_us", "cpu_us", "what");
	for (i = 0; i < nsteps; i++) {
		if (only != NULL && strcmp(only, steps[i].name) != 0)
			continue;
		if (json)
			printf("%s{\"step\": \"%s\", \"wall_us\": %.2f, "
			       "\"cpu_us\": %.2f}",
			    first ? "" : ", ", steps[i].name, steps[i].wall_us,
			    steps[i].cpu_us);
		else
			printf("%-14s %9.2f %9.2f  %s\n", steps[i].name,
			    steps[i].wall_us, steps[i].cpu_us, steps[i].what);
		first = false;
	}
	if (json)
		printf("]}\n");

	CMS_ContentInfo_free(ps.cms);
	sk_X509_free(ps.chain);
	sk_X509_free(ps.signer);
	buf_free(ps.doc);
	buf_free(ps.der);
	buf_free(ps.body);
	seal_signer_free(ps.seal);
	ltype_free(ps.lt);
	json_decref(ps.req);
	OPENSSL_cleanse(ps.auth, sizeof(ps.auth));
	store_free(ps.other);
	svc_free(ps.svc);
	return 0;
}
