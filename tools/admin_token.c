/*
 * admin_token.c: "token status", "key generate", "key list".  Key material
 * never passes through here: the token generates keys and we only see
 * their URIs and public attributes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certsvc/mem.h"
#include "tools/admin.h"

/* Parse only the common options; returns ADMIN_CONTINUE to go on. */
static int
admin_plain_options(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {ADMIN_COMMON_OPTIONS};
	int ch, ret;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		ret = admin_common_option(ctx, ch);
		if (ret != ADMIN_CONTINUE)
			return ret < 0 ? ADMIN_EXIT_USAGE : ret;
	}
	if (optind != argc)
		return admin_usage_error(
		    ctx, "unexpected argument '%s'", argv[optind]);
	return ADMIN_CONTINUE;
}

int
admin_token_status(struct admin_ctx *ctx, int argc, char **argv)
{
	struct p11_token_status st;
	struct cs_err err = {0};
	struct svc *svc = NULL;
	int ret;

	ret = admin_plain_options(ctx, argc, argv);
	if (ret != ADMIN_CONTINUE)
		return ret;
	ret = admin_open(ctx, SVC_OPEN_TOKEN, &svc);
	if (ret != ADMIN_EXIT_OK)
		return ret;
	if (p11_token_info(svc->token, &st, &err) != CS_OK) {
		ret = admin_fail(ctx, &err);
		goto out;
	}
	if (ctx->json) {
		admin_print_json(
		    json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:b,s:b,s:i,s:i}",
		        "module", svc->cfg.module, "label", st.label,
		        "manufacturer", st.manufacturer, "model", st.model,
		        "serial", st.serial, "library", st.library, "slot",
		        (json_int_t)st.slot_id, "present", st.present,
		        "logged_in", st.logged_in, "pool_size",
		        (int)st.pool_size, "pool_idle", (int)st.pool_idle));
	} else {
		printf("module:       %s\n"
		       "library:      %s\n"
		       "token:        %s (slot %lu)\n"
		       "manufacturer: %s\n"
		       "model:        %s\n"
		       "serial:       %s\n"
		       "present:      %s\n"
		       "logged in:    %s\n"
		       "pool:         %u sessions, %u idle\n",
		    svc->cfg.module, st.library, st.label, st.slot_id,
		    st.manufacturer, st.model, st.serial,
		    st.present ? "yes" : "no", st.logged_in ? "yes" : "no",
		    st.pool_size, st.pool_idle);
	}
out:
	svc_free(svc);
	return ret;
}

int
admin_key_generate(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"label", required_argument, NULL, 'l'},
	    {"alg", required_argument, NULL, 'a'},
	    {"purpose", required_argument, NULL, 'p'},
	    ADMIN_COMMON_OPTIONS,
	};
	struct store_audit_event ev;
	struct store_key key;
	struct store_tx *tx = NULL;
	struct cs_err err = {0};
	struct svc *svc = NULL;
	enum p11_alg alg = P11_ALG_P256;
	const char *label = NULL, *purpose = "admin";
	char uri[P11_URI_MAX], object[P11_URI_MAX + 8];
	int ch, ret;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		ret = admin_common_option(ctx, ch);
		if (ret >= 0 || ret == ADMIN_EXIT_USAGE)
			return ret;
		if (ret == ADMIN_CONTINUE)
			continue;
		if (ch == 'l')
			label = optarg;
		else if (ch == 'p')
			purpose = optarg;
		else if (ch == 'a' && !p11_alg_parse(optarg, &alg))
			return admin_usage_error(ctx,
			    "unknown algorithm '%s' "
			    "(p256, p384, rsa3072)",
			    optarg);
	}
	if (optind != argc)
		return admin_usage_error(
		    ctx, "unexpected argument '%s'", argv[optind]);
	if (label == NULL || *label == '\0')
		return admin_usage_error(ctx, "--label is required");
	if (strlen(label) >= STORE_NAME_MAX || strlen(purpose) >= 32)
		return admin_usage_error(ctx, "--label or --purpose too long");
	ret = admin_open(ctx, SVC_OPEN_ALL, &svc);
	if (ret != ADMIN_EXIT_OK)
		return ret;
	if (p11_key_generate(svc->token, alg, label, uri, sizeof(uri), &err) !=
	    CS_OK)
		goto fail;
	memset(&key, 0, sizeof(key));
	cs_strlcpy(key.uri, uri, sizeof(key.uri));
	cs_strlcpy(key.label, label, sizeof(key.label));
	cs_strlcpy(key.alg, p11_alg_name(alg), sizeof(key.alg));
	cs_strlcpy(key.purpose, purpose, sizeof(key.purpose));
	key.created = (int64_t)time(NULL);
	snprintf(object, sizeof(object), "key:%s", label);
	memset(&ev, 0, sizeof(ev));
	ev.actor = "admin";
	ev.action = "key.generate";
	ev.object = object;
	ev.outcome = "ok";
	if (store_tx_begin(svc->store, &tx, &err) != CS_OK ||
	    store_key_put(tx, &key, &err) != CS_OK ||
	    store_audit_append(tx, &ev, NULL, &err) != CS_OK)
		goto fail;
	ret = store_tx_commit(tx, &err);
	tx = NULL;
	if (ret != CS_OK)
		goto fail;
	if (ctx->json)
		admin_print_json(json_pack("{s:s,s:s,s:s,s:s}", "label", label,
		    "alg", p11_alg_name(alg), "purpose", purpose, "uri", uri));
	else
		printf("generated %s key '%s'\n%s\n", p11_alg_name(alg), label,
		    uri);
	svc_free(svc);
	return ADMIN_EXIT_OK;
fail:
	store_tx_rollback(tx);
	svc_free(svc);
	return admin_fail(ctx, &err);
}

int
admin_key_list(struct admin_ctx *ctx, int argc, char **argv)
{
	struct p11_key_info *keys = NULL;
	struct store_key *inv = NULL;
	struct cs_err err = {0};
	struct svc *svc = NULL;
	size_t n = 0, ninv = 0, i, j;
	const char *purpose;
	json_t *arr = NULL;
	int ret;

	ret = admin_plain_options(ctx, argc, argv);
	if (ret != ADMIN_CONTINUE)
		return ret;
	ret = admin_open(ctx, SVC_OPEN_ALL, &svc);
	if (ret != ADMIN_EXIT_OK)
		return ret;
	if (p11_key_list(svc->token, &keys, &n, &err) != CS_OK ||
	    store_key_list(svc->store, &inv, &ninv, &err) != CS_OK) {
		ret = admin_fail(ctx, &err);
		goto out;
	}
	arr = json_array();
	if (!ctx->json)
		printf("%-20s %-8s %-9s %-11s %-12s %s\n", "LABEL", "ALG",
		    "SENSITIVE", "EXTRACTABLE", "PURPOSE", "URI");
	for (i = 0; i < n; i++) {
		purpose = "-";
		for (j = 0; j < ninv; j++)
			if (strcmp(inv[j].uri, keys[i].uri) == 0)
				purpose = inv[j].purpose;
		if (ctx->json) {
			json_array_append_new(arr,
			    json_pack("{s:s,s:s,s:b,s:b,s:b,s:b,s:s,s:s}",
			        "label", keys[i].label, "alg",
			        p11_alg_name(keys[i].alg), "sensitive",
			        keys[i].sensitive, "extractable",
			        keys[i].extractable, "always_sensitive",
			        keys[i].always_sensitive, "never_extractable",
			        keys[i].never_extractable, "purpose", purpose,
			        "uri", keys[i].uri));
		} else {
			printf("%-20s %-8s %-9s %-11s %-12s %s\n",
			    keys[i].label, p11_alg_name(keys[i].alg),
			    keys[i].sensitive ? "yes" : "no",
			    keys[i].extractable ? "yes" : "no", purpose,
			    keys[i].uri);
		}
	}
	if (ctx->json) {
		admin_print_json(arr);
		arr = NULL;
	}
out:
	json_decref(arr);
	free(keys);
	free(inv);
	svc_free(svc);
	return ret;
}
