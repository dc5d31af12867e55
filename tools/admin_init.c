/*
 * admin_init.c: "certsvc-admin init".  Every step first checks whether its
 * result exists and only then creates it, so init can be re-run after an
 * interruption and a second run reports that nothing changed.  Secrets it
 * makes (PIN, SO PIN) are random, written 0600 and wiped from memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "certsvc/ca.h"
#include "certsvc/client.h"
#include "certsvc/codes.h"
#include "certsvc/dept.h"
#include "certsvc/ltype.h"
#include "certsvc/seal.h"
#include "certsvc/log.h"
#include "certsvc/mem.h"
#include "tools/admin.h"

struct init_report {
	json_t *created;
	json_t *unchanged;
	bool json;
};

static void
init_step(struct init_report *rep, bool created, const char *what)
{
	json_array_append_new(
	    created ? rep->created : rep->unchanged, json_string(what));
	if (!rep->json)
		printf("%-9s %s\n", created ? "created" : "exists", what);
}

/* Write nbytes random bytes as hex to path (0600) unless it exists. */
static enum cs_rc
init_secret_file(
    const char *path, size_t nbytes, bool *created, struct cs_err *err)
{
	unsigned char rnd[32];
	char secret[2 * sizeof(rnd) + 2];
	enum cs_rc rc;

	*created = false;
	if (access(path, F_OK) == 0)
		return CS_OK;
	if (nbytes > sizeof(rnd))
		nbytes = sizeof(rnd);
	if (RAND_bytes(rnd, (int)nbytes) != 1)
		return cs_err_ossl(err, CS_ERR_CRYPTO, "RAND_bytes failed");
	cs_hex(rnd, nbytes, secret);
	secret[2 * nbytes] = '\n';
	secret[2 * nbytes + 1] = '\0';
	rc = cs_file_write(path, secret, strlen(secret), 0600, true, err);
	OPENSSL_cleanse(rnd, sizeof(rnd));
	OPENSSL_cleanse(secret, sizeof(secret));
	if (rc == CS_OK)
		*created = true;
	return rc;
}

/* Read the first line of a secret file into out; wiped by the caller. */
static enum cs_rc
init_read_secret(const char *path, char *out, size_t outsz, struct cs_err *err)
{
	struct buf *b = NULL;
	enum cs_rc rc;
	size_t n;

	rc = cs_file_read(path, 1024, &b, err);
	if (rc != CS_OK)
		return rc;
	n = strcspn((char *)b->data, "\r\n");
	if (n == 0 || n >= outsz) {
		buf_free(b);
		return cs_err_set(err, CS_ERR_INVALID,
		    "'%s' holds no usable "
		    "secret",
		    path);
	}
	memcpy(out, b->data, n);
	out[n] = '\0';
	buf_free(b);
	return CS_OK;
}

static bool
init_is_softhsm(const struct cfg *cfg)
{
	return strstr(cfg->module, "softhsm") != NULL;
}

/* softhsm2.conf and tokens/ inside the data dir. */
static enum cs_rc
init_softhsm_conf(
    const struct cfg *cfg, struct init_report *rep, struct cs_err *err)
{
	char tokdir[PATH_MAX + 16];
	char text[PATH_MAX + 256];
	enum cs_rc rc;

	if (cfg->softhsm2_conf[0] == '\0')
		return cs_err_set(err, CS_ERR_INVALID,
		    "softhsm2_conf is not set in %s", cfg->path);
	if (access(cfg->softhsm2_conf, F_OK) == 0) {
		init_step(rep, false, cfg->softhsm2_conf);
		goto env;
	}
	if (snprintf(tokdir, sizeof(tokdir), "%s/tokens", cfg->data_dir) >=
	    (int)sizeof(tokdir))
		return cs_err_set(err, CS_ERR_INVALID, "path too long");
	rc = cs_mkdir_p(tokdir, 0700, err);
	if (rc != CS_OK)
		return rc;
	snprintf(text, sizeof(text),
	    "# SoftHSM2 configuration for certsvc's token (written by "
	    "certsvc-admin init).\n"
	    "directories.tokendir = %s\n"
	    "objectstore.backend = file\n"
	    "log.level = ERROR\n"
	    "slots.removable = false\n",
	    tokdir);
	rc = cs_file_write(
	    cfg->softhsm2_conf, text, strlen(text), 0600, true, err);
	if (rc != CS_OK)
		return rc;
	init_step(rep, true, cfg->softhsm2_conf);
env:
	setenv("SOFTHSM2_CONF", cfg->softhsm2_conf, 1);
	return CS_OK;
}

static enum cs_rc
init_token(const struct cfg *cfg, struct init_report *rep, struct cs_err *err)
{
	char pin[P11_PIN_MAX + 1], so_pin[P11_PIN_MAX + 1];
	char so_path[PATH_MAX + 8], what[CFG_STR_MAX + 16];
	enum cs_rc rc;
	bool created;

	snprintf(what, sizeof(what), "token '%s'", cfg->token_label);
	if (p11_token_exists(cfg->module, cfg->token_label)) {
		init_step(rep, false, what);
		return CS_OK;
	}
	if (!init_is_softhsm(cfg))
		return cs_err_set(err, CS_ERR_NOT_FOUND,
		    "token '%s' not found in '%s'; initialise it with the "
		    "HSM's own tools, then run init again",
		    cfg->token_label, cfg->module);
	if (snprintf(so_path, sizeof(so_path), "%s/so-pin", cfg->data_dir) >=
	    (int)sizeof(so_path))
		return cs_err_set(err, CS_ERR_INVALID, "path too long");
	rc = init_secret_file(so_path, 16, &created, err);
	if (rc != CS_OK)
		return rc;
	if (created)
		init_step(rep, true, so_path);
	rc = init_read_secret(so_path, so_pin, sizeof(so_pin), err);
	if (rc == CS_OK)
		rc = cfg_pin_read(cfg, pin, sizeof(pin), err);
	if (rc == CS_OK)
		rc = p11_token_init(
		    cfg->module, cfg->token_label, so_pin, pin, err);
	OPENSSL_cleanse(pin, sizeof(pin));
	OPENSSL_cleanse(so_pin, sizeof(so_pin));
	if (rc == CS_OK)
		init_step(rep, true, what);
	return rc;
}

#define DEMO_HOLDER_ID_TYPE "resident_id"
#define DEMO_HOLDER_ID "110101199003070011"

/*
 * A valid demo credit code: a fixed body with whatever position 17 (the
 * GB 11714 check) and position 18 (the GB 32100 check) make it valid.
 */
static bool
init_demo_code(char code[CODES_CREDIT_LEN + 1])
{
	static const char alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
	const char *c;

	memcpy(code, "91110000MA01DEM1", 16);
	for (c = alphabet; *c != '\0'; c++) {
		code[16] = *c;
		code[17] = codes_credit_check_char(code);
		code[18] = '\0';
		if (code[17] != 0 && codes_credit_check(code, NULL) == CS_OK)
			return true;
	}
	return false;
}

/* The demo department's active seal, created if it has none. */
static enum cs_rc
init_demo_seal(struct svc *svc, const char *code, char *seal, size_t sealsz,
    struct cs_err *err)
{
	struct seal_create_opts so;
	struct store_seal *list = NULL;
	size_t n = 0, i;
	enum cs_rc rc;
	bool found = false;

	rc = store_seal_list(svc->store, code, &list, &n, err);
	if (rc != CS_OK)
		return rc;
	for (i = 0; i < n; i++) {
		if (!found && strcmp(list[i].status, "active") == 0)
			found = cs_strlcpy(seal, list[i].id, sealsz);
		store_seal_release(&list[i]);
	}
	free(list);
	if (found)
		return CS_OK;
	memset(&so, 0, sizeof(so));
	so.dept = code;
	so.name = "示例市市场监督管理局电子印章";
	so.alg = P11_ALG_P256;
	so.actor = "admin";
	return seal_create(svc, &so, seal, sealsz, err);
}

/* The demo objects of DESIGN.md section 7, once (demo-tokens.json). */
static enum cs_rc
init_demo(struct svc *svc, struct init_report *rep, struct cs_err *err)
{
	char path[PATH_MAX + 32], code[CODES_CREDIT_LEN + 1];
	char seal[STORE_CODE_MAX], ids[3][STORE_CODE_MAX];
	char secrets[3][CLIENT_SECRET_MAX], ref[72], *text = NULL, *def = NULL;
	static const char *const demo_types[] = {"DEMO01"};
	enum cs_rc rc;
	json_t *obj = NULL;

	snprintf(path, sizeof(path), "%s/demo-tokens.json", svc->cfg.data_dir);
	if (access(path, F_OK) == 0) {
		init_step(rep, false, path);
		return CS_OK;
	}
	if (!init_demo_code(code))
		return cs_err_set(err, CS_ERR_INVALID, "no demo credit code");
	/* Each step reuses what an interrupted earlier run left. */
	rc =
	    dept_add(svc, code, "示例市市场监督管理局", "110000", "admin", err);
	if (rc == CS_ERR_CONFLICT)
		rc = CS_OK;
	if (rc != CS_OK)
		return rc;
	obj = json_pack("{s:s,s:s,s:[s],s:i,s:[{s:s,s:s,s:b,s:i},"
	                "{s:s,s:s,s:b},{s:s,s:s,s:b}]}",
	    "code", "DEMO01", "name", "示例经营许可证", "departments", code,
	    "validity_days", 1825, "fields", "name", "business_scope", "type",
	    "string", "required", 1, "max_length", 500, "name",
	    "registered_capital", "type", "number", "required", 0, "name",
	    "established", "type", "date", "required", 1);
	def = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	obj = NULL;
	if (def == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	rc = ltype_add(svc, def, strlen(def), "admin", err);
	free(def);
	if (rc == CS_ERR_CONFLICT)
		rc = CS_OK;
	if (rc != CS_OK)
		return rc;
	rc = init_demo_seal(svc, code, seal, sizeof(seal), err);
	if (rc != CS_OK)
		return rc;
	rc = holder_ref_make(
	    svc, DEMO_HOLDER_ID_TYPE, DEMO_HOLDER_ID, ref, sizeof(ref), err);
	if (rc == CS_OK)
		rc = client_add(svc, CLIENT_ISSUER, "demo issuer", code, NULL,
		    "admin", ids[0], sizeof(ids[0]), secrets[0],
		    sizeof(secrets[0]), err);
	if (rc == CS_OK)
		/* Its usage list (用证清单): the demo type's codes. */
		rc = client_add_verifier(svc, "demo verifier", demo_types, 1,
		    "admin", ids[1], sizeof(ids[1]), secrets[1],
		    sizeof(secrets[1]), err);
	if (rc == CS_OK)
		rc = client_add(svc, CLIENT_HOLDER, "demo holder", NULL, ref,
		    "admin", ids[2], sizeof(ids[2]), secrets[2],
		    sizeof(secrets[2]), err);
	if (rc != CS_OK)
		goto out;
	obj = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:{s:s,s:{s:s,s:s,s:s},"
	                "s:{s:s,s:f,s:s}}}",
	    "issuer", secrets[0], "verifier", secrets[1], "holder", secrets[2],
	    "department", code, "seal", seal, "licence_type", "DEMO01",
	    "sample_licence_request", "type", "DEMO01", "holder", "name",
	    "张三", "id_type", DEMO_HOLDER_ID_TYPE, "id_number", DEMO_HOLDER_ID,
	    "fields", "business_scope", "餐饮服务", "registered_capital",
	    500000.0, "established", "2020-06-01");
	text = obj != NULL ? json_dumps(obj, JSON_INDENT(2)) : NULL;
	if (text == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = cs_file_write(path, text, strlen(text), 0600, true, err);
	if (rc == CS_OK)
		init_step(rep, true, path);
out:
	if (text != NULL)
		OPENSSL_clear_free(text, strlen(text));
	json_decref(obj);
	OPENSSL_cleanse(secrets, sizeof(secrets));
	return rc;
}

static enum cs_rc
init_config(struct admin_ctx *ctx, struct init_report *rep, struct cs_err *err)
{
	char abs[PATH_MAX];
	struct cfg cfg;
	char *text = NULL;
	enum cs_rc rc;

	rc = cs_mkdir_p(ctx->data_dir, 0700, err);
	if (rc != CS_OK)
		return rc;
	if (realpath(ctx->data_dir, abs) == NULL)
		return cs_err_set(err, CS_ERR_IO, "cannot resolve '%s': %s",
		    ctx->data_dir, strerror(errno));
	if (access(ctx->config, F_OK) == 0) {
		init_step(rep, false, ctx->config);
		return CS_OK;
	}
	cfg_defaults(&cfg, abs);
	rc = cfg_render(&cfg, &text, err);
	if (rc != CS_OK)
		return rc;
	rc = cs_file_write(ctx->config, text, strlen(text), 0640, true, err);
	free(text);
	if (rc == CS_OK)
		init_step(rep, true, ctx->config);
	return rc;
}

int
admin_init(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"demo", no_argument, NULL, 'd'},
	    {"alg", required_argument, NULL, 'a'},
	    ADMIN_COMMON_OPTIONS,
	};
	struct init_report rep = {0};
	struct ca_init_opts copts = {P11_ALG_P256, "admin"};
	char pin_path[PATH_MAX];
	struct cs_err err = {0};
	struct svc *svc = NULL;
	struct cfg cfg;
	bool demo = false, created;
	int ch, ret;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		ret = admin_common_option(ctx, ch);
		if (ret >= 0 || ret == ADMIN_EXIT_USAGE)
			return ret;
		if (ret == ADMIN_CONTINUE)
			continue;
		if (ch == 'd')
			demo = true;
		else if (ch == 'a' && !p11_alg_parse(optarg, &copts.alg))
			return admin_usage_error(ctx,
			    "unknown algorithm '%s' "
			    "(p256, p384, rsa3072)",
			    optarg);
	}
	if (optind != argc)
		return admin_usage_error(
		    ctx, "unexpected argument '%s'", argv[optind]);
	rep.json = ctx->json;
	rep.created = json_array();
	rep.unchanged = json_array();
	if (rep.created == NULL || rep.unchanged == NULL) {
		cs_err_set(&err, CS_ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (init_config(ctx, &rep, &err) != CS_OK)
		goto fail;
	if (cfg_load(ctx->config, &cfg, &err) != CS_OK)
		goto fail;
	/* A PIN file only when the PIN does not come from the environment. */
	if (getenv("CERTSVC_PIN") == NULL || *getenv("CERTSVC_PIN") == '\0') {
		cs_strlcpy(pin_path, cfg.pin_file, sizeof(pin_path));
		if (init_secret_file(pin_path, 16, &created, &err) != CS_OK)
			goto fail;
		init_step(&rep, created, pin_path);
	}
	if (snprintf(pin_path, sizeof(pin_path), "%s/holder-key",
	        cfg.data_dir) >= (int)sizeof(pin_path)) {
		cs_err_set(&err, CS_ERR_INVALID, "path too long");
		goto fail;
	}
	if (init_secret_file(pin_path, 32, &created, &err) != CS_OK)
		goto fail;
	init_step(&rep, created, pin_path);
	if (init_is_softhsm(&cfg) &&
	    init_softhsm_conf(&cfg, &rep, &err) != CS_OK)
		goto fail;
	if (init_token(&cfg, &rep, &err) != CS_OK)
		goto fail;
	created = access(cfg.db_path, F_OK) != 0;
	if (svc_open(ctx->config, SVC_OPEN_ALL, &svc, &err) != CS_OK)
		goto fail;
	init_step(&rep, created, cfg.db_path);
	if (ca_init(svc, &copts, &created, &err) != CS_OK)
		goto fail;
	init_step(&rep, created, "CA root + issuing");
	if (demo && init_demo(svc, &rep, &err) != CS_OK)
		goto fail;
	if (json_array_size(rep.created) == 0 && !ctx->json)
		printf("nothing to do: '%s' is already initialised\n",
		    ctx->data_dir);
	if (ctx->json)
		admin_print_json(
		    json_pack("{s:s,s:O,s:O,s:b}", "data_dir", cfg.data_dir,
		        "created", rep.created, "unchanged", rep.unchanged,
		        "changed", json_array_size(rep.created) > 0));
	svc_free(svc);
	json_decref(rep.created);
	json_decref(rep.unchanged);
	return ADMIN_EXIT_OK;
fail:
	svc_free(svc);
	json_decref(rep.created);
	json_decref(rep.unchanged);
	return admin_fail(ctx, &err);
}
