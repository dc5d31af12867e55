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

/* Write a random hex secret to path (0600) unless it exists. */
static enum cs_rc
init_secret_file(const char *path, bool *created, struct cs_err *err)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[16];
	char secret[2 * sizeof(rnd) + 2];
	enum cs_rc rc;
	size_t i;

	*created = false;
	if (access(path, F_OK) == 0)
		return CS_OK;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return cs_err_ossl(err, CS_ERR_CRYPTO, "RAND_bytes failed");
	for (i = 0; i < sizeof(rnd); i++) {
		secret[2 * i] = hex[rnd[i] >> 4];
		secret[2 * i + 1] = hex[rnd[i] & 15];
	}
	secret[2 * sizeof(rnd)] = '\n';
	secret[2 * sizeof(rnd) + 1] = '\0';
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
	rc = init_secret_file(so_path, &created, err);
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
		if (init_secret_file(pin_path, &created, &err) != CS_OK)
			goto fail;
		init_step(&rep, created, pin_path);
	}
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
	if (demo && !ctx->json)
		printf("demo: departments, seals and API clients are not part "
		       "of this build yet\n");
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
