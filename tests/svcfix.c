/*
 * svcfix.c: the service fixture of the certsvc/, api/ and tools/ suites
 * (svcfix.h).  Everything goes through the public functions (cfg_render,
 * svc_open, ca_init, dept_add, ltype_add, seal_create, client_add,
 * licence_issue), so a fixture is exactly what an administrator and an
 * issuer would have made; each step asserts, naming what failed.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certsvc/ca.h"
#include "certsvc/dept.h"
#include "certsvc/licence.h"
#include "certsvc/ltype.h"
#include "certsvc/mem.h"
#include "certsvc/seal.h"
#include "tests/svcfix.h"

/* 32 bytes of hex: the holder key every fixture's service uses. */
#define SVCFIX_HOLDER_KEY                                                      \
	"000102030405060708090a0b0c0d0e0f"                                     \
	"101112131415161718191a1b1c1d1e1f\n"

/* Write text to DATA/name (0600). */
static void
svcfix_file(const struct svcfix *f, const char *name, const char *text)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	ck_assert_int_eq(
	    cs_file_write(path, text, strlen(text), 0600, false, NULL), CS_OK);
}

void
svcfix_config(struct svcfix *f, const char *label, const struct svcfix_opts *o)
{
	static const struct svcfix_opts defaults = {0};
	struct cfg cfg;
	char *text = NULL;

	if (o == NULL)
		o = &defaults;
	memset(f, 0, sizeof(*f));
	testutil_softhsm(&f->tok, label);
	testutil_tmpdir(f->dir, sizeof(f->dir));
	cfg_defaults(&cfg, f->dir);
	cs_strlcpy(cfg.module, f->tok.module, sizeof(cfg.module));
	cs_strlcpy(cfg.token_label, f->tok.label, sizeof(cfg.token_label));
	cs_strlcpy(cfg.softhsm2_conf, f->tok.conf, sizeof(cfg.softhsm2_conf));
	if (o->public_url != NULL)
		cs_strlcpy(
		    cfg.public_url, o->public_url, sizeof(cfg.public_url));
	cfg.pool_size = o->pool_size > 0 ? o->pool_size : 4;
	cfg.timestamp_seals = o->timestamp_seals ? 1 : 0;
	ck_assert_int_eq(cfg_render(&cfg, &text, NULL), CS_OK);
	snprintf(f->conf, sizeof(f->conf), "%s/certsvc.conf", f->dir);
	svcfix_file(f, "certsvc.conf", text);
	free(text);
	svcfix_file(f, "pin", TESTUTIL_PIN "\n");
	if (!o->no_holder_key)
		svcfix_file(f, "holder-key", SVCFIX_HOLDER_KEY);
	unsetenv("CERTSVC_PIN");
}

void
svcfix_open(struct svcfix *f, const char *label, const struct svcfix_opts *o)
{
	struct ca_init_opts copts = {P11_ALG_P256, "test"};
	struct cs_err err = {0};
	bool created;

	svcfix_config(f, label, o);
	ck_assert_msg(svc_open(f->conf, SVC_OPEN_ALL, &f->svc, &err) == CS_OK,
	    "%s", err.msg);
	ck_assert_msg(
	    ca_init(f->svc, &copts, &created, &err) == CS_OK, "%s", err.msg);
}

void
svcfix_open_world(
    struct svcfix *f, const char *label, const struct svcfix_opts *o)
{
	svcfix_open(f, label, o);
	svcfix_world(f);
}

void
svcfix_close(struct svcfix *f)
{
	svc_free(f->svc);
	f->svc = NULL;
	testutil_softhsm_remove(&f->tok);
}

void
svcfix_code(const char *first16, char out[CODES_CREDIT_LEN + 1])
{
	ck_assert_uint_eq(strlen(first16), 16);
	memcpy(out, first16, 16);
	out[16] = codes_org_check_char(first16 + 8);
	out[17] = '\0';
	out[17] = codes_credit_check_char(out);
	out[18] = '\0';
	ck_assert_int_eq(codes_credit_check(out, NULL), CS_OK);
}

void
svcfix_dept(struct svcfix *f, const char *first16, const char *name,
    const char *region, char out[CODES_CREDIT_LEN + 1])
{
	struct cs_err err = {0};

	svcfix_code(first16, out);
	ck_assert_msg(dept_add(f->svc, out, name, region, "t", &err) == CS_OK,
	    "%s", err.msg);
}

void
svcfix_type(struct svcfix *f, const char *code, const char *dept)
{
	char def[512];
	struct cs_err err = {0};

	snprintf(def, sizeof(def),
	    "{\"code\":\"%s\",\"name\":\"T\",\"departments\":[\"%s\"],"
	    "\"validity_days\":365,\"fields\":[{\"name\":\"scope\","
	    "\"type\":\"string\",\"required\":true},{\"name\":\"capital\","
	    "\"type\":\"number\"}]}",
	    code, dept);
	ck_assert_msg(
	    ltype_add(f->svc, def, strlen(def), "test", &err) == CS_OK, "%s",
	    err.msg);
}

void
svcfix_seal(struct svcfix *f, const char *dept, char *id)
{
	char own[STORE_CODE_MAX];
	struct seal_create_opts o;
	struct cs_err err = {0};

	memset(&o, 0, sizeof(o));
	o.dept = dept;
	o.name = "seal";
	o.alg = P11_ALG_P256;
	o.actor = "test";
	ck_assert_msg(seal_create(f->svc, &o, id != NULL ? id : own,
	                  STORE_CODE_MAX, &err) == CS_OK,
	    "%s", err.msg);
}

void
svcfix_client(struct svcfix *f, enum client_role role, const char *dept,
    struct client_principal *p)
{
	char id[STORE_CODE_MAX], secret[CLIENT_SECRET_MAX], auth[128];
	struct cs_err err = {0};

	ck_assert_msg(client_add(f->svc, role, "t", dept, NULL, "test", id,
	                  sizeof(id), secret, sizeof(secret), &err) == CS_OK,
	    "%s", err.msg);
	snprintf(auth, sizeof(auth), "Bearer %s", secret);
	ck_assert_int_eq(client_authenticate(f->svc, auth, p, NULL), CS_OK);
}

void
svcfix_world(struct svcfix *f)
{
	svcfix_dept(f, SVCFIX_DEPT_A, "A", "110105", f->dept_a);
	svcfix_dept(f, SVCFIX_DEPT_B, "B", "110000", f->dept_b);
	svcfix_type(f, "TA01", f->dept_a);
	svcfix_type(f, "TB01", f->dept_b);
	svcfix_seal(f, f->dept_a, f->seal_a);
	svcfix_seal(f, f->dept_b, f->seal_b);
	svcfix_client(f, CLIENT_ISSUER, f->dept_a, &f->issuer_a);
	svcfix_client(f, CLIENT_ISSUER, f->dept_b, &f->issuer_b);
	svcfix_client(f, CLIENT_VERIFIER, NULL, &f->verifier);
}

json_t *
svcfix_request(const char *type, const char *scope)
{
	json_t *r = json_pack("{s:s,s:{s:s,s:s,s:s},s:{s:s,s:f}}", "type", type,
	    "holder", "name", "张三", "id_type", "resident_id", "id_number",
	    "110101199003070011", "fields", "scope", scope, "capital", 1.5);

	ck_assert_ptr_nonnull(r);
	return r;
}

void
svcfix_issue(struct svcfix *f, const struct client_principal *issuer,
    bool expired, char *id, struct client_principal *holder)
{
	char key[32], auth[128];
	struct licence_issued out;
	struct cs_err err = {0};
	json_t *req = svcfix_request("TA01", "food");

	if (expired) {
		json_object_set_new(
		    req, "valid_from", json_string("2020-01-01"));
		json_object_set_new(
		    req, "valid_until", json_string("2020-12-31"));
	}
	snprintf(key, sizeof(key), "k%d", ++f->key_n);
	ck_assert_msg(
	    licence_issue(f->svc, issuer, req, key, 0, &out, &err) == CS_OK,
	    "%s", err.msg);
	cs_strlcpy(id, out.lic.id, STORE_LICENCE_ID_MAX);
	if (holder != NULL) {
		snprintf(auth, sizeof(auth), "Bearer %s", out.holder_token);
		ck_assert_int_eq(
		    client_authenticate(f->svc, auth, holder, NULL), CS_OK);
	}
	licence_issued_release(&out);
	json_decref(req);
}

const char *
svcfix_state(struct svcfix *f, const char *id, int version)
{
	static char s[16];
	struct store_licence l;

	ck_assert_int_eq(
	    store_licence_get(f->svc->store, id, version, &l, NULL), CS_OK);
	cs_strlcpy(s, l.status, sizeof(s));
	store_licence_release(&l);
	return s;
}

int
svcfix_newest_version(struct svcfix *f, const char *id)
{
	struct store_licence l;
	int v;

	ck_assert_int_eq(
	    store_licence_get(f->svc->store, id, 0, &l, NULL), CS_OK);
	v = l.version;
	store_licence_release(&l);
	return v;
}

int64_t
svcfix_audit_count(struct svcfix *f)
{
	int64_t count = 0, last = 0;

	ck_assert_int_eq(
	    store_audit_head(f->svc->store, &count, &last, NULL), CS_OK);
	return count;
}
