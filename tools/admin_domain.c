/*
 * admin_domain.c: departments, licence types, seals and API clients.
 * Each command is a thin shell over its certsvc/ function, which does the
 * validation and writes the change with its audit event.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "certsvc/client.h"
#include "certsvc/dept.h"
#include "certsvc/ltype.h"
#include "certsvc/mem.h"
#include "certsvc/seal.h"
#include "crypto/crypto.h"
#include "tools/admin.h"

/* --- dept ----------------------------------------------------------------- */

int
admin_dept_add(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"code", required_argument, NULL, 'c'},
	    {"name", required_argument, NULL, 'n'},
	    {"region", required_argument, NULL, 'r'},
	    ADMIN_COMMON_OPTIONS,
	};
	const char *code = NULL, *name = NULL, *region = NULL;
	struct cs_err err = {0};
	struct svc *svc = NULL;
	int ch, ret;

	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE) {
		if (ch == 'c')
			code = optarg;
		else if (ch == 'n')
			name = optarg;
		else if (ch == 'r')
			region = optarg;
	}
	if (ret != -1)
		return ret;
	if (code == NULL || name == NULL || region == NULL)
		return admin_usage_error(
		    ctx, "--code, --name and --region are required");
	ret = admin_open(ctx, SVC_OPEN_STORE, &svc);
	if (ret != ADMIN_EXIT_OK)
		return ret;
	if (dept_add(svc, code, name, region, "admin", &err) != CS_OK) {
		ret = admin_fail(ctx, &err);
	} else if (ctx->json) {
		admin_print_json(json_pack("{s:s,s:s,s:s}", "code", code,
		    "name", name, "region", region));
	} else {
		printf("added department %s (%s)\n", code, name);
	}
	svc_free(svc);
	return ret;
}

static json_t *
dept_json(const struct store_dept *d)
{
	char created[32];

	cs_time_utc(d->created, created, sizeof(created));
	return json_pack("{s:s,s:s,s:s,s:s}", "code", d->code, "name", d->name,
	    "region", d->region, "created", created);
}

int
admin_dept_list(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {ADMIN_COMMON_OPTIONS};
	struct store_dept *list = NULL;
	struct cs_err err = {0};
	struct svc *svc = NULL;
	json_t *arr;
	size_t n = 0, i;
	int ch, ret;

	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE)
		;
	if (ret != -1)
		return ret;
	ret = admin_open(ctx, SVC_OPEN_STORE, &svc);
	if (ret != ADMIN_EXIT_OK)
		return ret;
	if (dept_list(svc, &list, &n, &err) != CS_OK) {
		ret = admin_fail(ctx, &err);
		goto out;
	}
	arr = json_array();
	if (!ctx->json)
		printf("%-18s  %-6s  %s\n", "CODE", "REGION", "NAME");
	for (i = 0; i < n; i++) {
		if (ctx->json)
			json_array_append_new(arr, dept_json(&list[i]));
		else
			printf("%-18s  %-6s  %s\n", list[i].code,
			    list[i].region, list[i].name);
	}
	if (ctx->json)
		admin_print_json(arr);
	else
		json_decref(arr);
out:
	free(list);
	svc_free(svc);
	return ret;
}

int
admin_dept_show(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"code", required_argument, NULL, 'c'},
	    ADMIN_COMMON_OPTIONS,
	};
	const char *code = NULL;
	struct store_dept d;
	struct cs_err err = {0};
	struct svc *svc = NULL;
	json_t *obj;
	int ch, ret;

	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE)
		if (ch == 'c')
			code = optarg;
	if (ret != -1)
		return ret;
	if (code == NULL)
		return admin_usage_error(ctx, "--code is required");
	ret = admin_open(ctx, SVC_OPEN_STORE, &svc);
	if (ret != ADMIN_EXIT_OK)
		return ret;
	if (dept_get(svc, code, &d, &err) != CS_OK) {
		ret = admin_fail(ctx, &err);
	} else {
		obj = dept_json(&d);
		if (!ctx->json)
			printf("code:    %s\nname:    %s\nregion:  %s\n"
			       "created: %s\n",
			    d.code, d.name, d.region,
			    json_string_value(json_object_get(obj, "created")));
		if (ctx->json)
			admin_print_json(obj);
		else
			json_decref(obj);
	}
	svc_free(svc);
	return ret;
}

/* --- type ----------------------------------------------------------------- */

int
admin_type_add(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"file", required_argument, NULL, 'f'},
	    ADMIN_COMMON_OPTIONS,
	};
	const char *file = NULL;
	struct cs_err err = {0};
	struct svc *svc = NULL;
	struct buf *def = NULL;
	int ch, ret;

	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE)
		if (ch == 'f')
			file = optarg;
	if (ret != -1)
		return ret;
	if (file == NULL)
		return admin_usage_error(
		    ctx, "--file DEFINITION.json is required");
	if (cs_file_read(file, 1 << 20, &def, &err) != CS_OK)
		return admin_fail(ctx, &err);
	ret = admin_open(ctx, SVC_OPEN_STORE, &svc);
	if (ret == ADMIN_EXIT_OK) {
		if (ltype_add(svc, (char *)def->data, def->len, "admin",
		        &err) != CS_OK)
			ret = admin_fail(ctx, &err);
		else if (ctx->json)
			admin_print_json(json_pack("{s:b}", "added", 1));
		else
			printf("added licence type from %s\n", file);
	}
	buf_free(def);
	svc_free(svc);
	return ret;
}

int
admin_type_list(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {ADMIN_COMMON_OPTIONS};
	struct store_ltype *list = NULL;
	struct cs_err err = {0};
	struct svc *svc = NULL;
	json_t *arr, *def;
	size_t n = 0, i;
	int ch, ret;

	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE)
		;
	if (ret != -1)
		return ret;
	ret = admin_open(ctx, SVC_OPEN_STORE, &svc);
	if (ret != ADMIN_EXIT_OK)
		return ret;
	if (store_ltype_list(svc->store, &list, &n, &err) != CS_OK) {
		ret = admin_fail(ctx, &err);
		goto out;
	}
	arr = json_array();
	if (!ctx->json)
		printf("%-16s  %s\n", "CODE", "NAME");
	for (i = 0; i < n; i++) {
		if (!ctx->json) {
			printf("%-16s  %s\n", list[i].code, list[i].name);
			continue;
		}
		def = list[i].definition != NULL
		    ? json_loadb((char *)list[i].definition->data,
		          list[i].definition->len, 0, NULL)
		    : NULL;
		json_array_append_new(arr,
		    def != NULL ? def
		                : json_pack("{s:s,s:s}", "code", list[i].code,
		                      "name", list[i].name));
	}
	if (ctx->json)
		admin_print_json(arr);
	else
		json_decref(arr);
out:
	store_ltype_list_free(list, n);
	svc_free(svc);
	return ret;
}

int
admin_type_show(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"code", required_argument, NULL, 'c'},
	    ADMIN_COMMON_OPTIONS,
	};
	const char *code = NULL;
	struct store_ltype lt;
	struct cs_err err = {0};
	struct svc *svc = NULL;
	int ch, ret;

	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE)
		if (ch == 'c')
			code = optarg;
	if (ret != -1)
		return ret;
	if (code == NULL)
		return admin_usage_error(ctx, "--code is required");
	ret = admin_open(ctx, SVC_OPEN_STORE, &svc);
	if (ret != ADMIN_EXIT_OK)
		return ret;
	memset(&lt, 0, sizeof(lt));
	if (store_ltype_get(svc->store, code, &lt, &err) != CS_OK)
		ret = admin_fail(ctx, &err);
	else
		printf("%s\n", (char *)lt.definition->data);
	store_ltype_release(&lt);
	svc_free(svc);
	return ret;
}

/* --- seal ----------------------------------------------------------------- */

int
admin_seal_create(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"dept", required_argument, NULL, 'd'},
	    {"name", required_argument, NULL, 'n'},
	    {"image", required_argument, NULL, 'i'},
	    {"alg", required_argument, NULL, 'a'},
	    {"days", required_argument, NULL, 'y'},
	    ADMIN_COMMON_OPTIONS,
	};
	struct seal_create_opts o;
	char id[STORE_CODE_MAX];
	const char *image = NULL;
	struct cs_err err = {0};
	struct svc *svc = NULL;
	struct buf *png = NULL;
	long long days = 0;
	int ch, ret;

	memset(&o, 0, sizeof(o));
	o.alg = P11_ALG_P256;
	o.actor = "admin";
	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE) {
		if (ch == 'd')
			o.dept = optarg;
		else if (ch == 'n')
			o.name = optarg;
		else if (ch == 'i')
			image = optarg;
		else if (ch == 'a' && !p11_alg_parse(optarg, &o.alg))
			return admin_usage_error(ctx,
			    "unknown algorithm '%s' "
			    "(p256, p384, rsa3072)",
			    optarg);
		else if (ch == 'y' && !cs_parse_ll(optarg, 1, 3650, &days))
			return admin_usage_error(
			    ctx, "--days must be 1 to 3650");
	}
	if (ret != -1)
		return ret;
	if (o.dept == NULL || o.name == NULL)
		return admin_usage_error(ctx, "--dept and --name are required");
	o.days = (unsigned)days;
	if (image != NULL) {
		if (cs_file_read(image, SEAL_IMAGE_MAX, &png, &err) != CS_OK)
			return admin_fail(ctx, &err);
		o.image = png->data;
		o.image_len = png->len;
	}
	ret = admin_open(ctx, SVC_OPEN_ALL, &svc);
	if (ret == ADMIN_EXIT_OK) {
		if (seal_create(svc, &o, id, sizeof(id), &err) != CS_OK)
			ret = admin_fail(ctx, &err);
		else if (ctx->json)
			admin_print_json(json_pack("{s:s,s:s,s:s}", "id", id,
			    "dept", o.dept, "alg", p11_alg_name(o.alg)));
		else
			printf("created seal %s for %s\n", id, o.dept);
	}
	buf_free(png);
	svc_free(svc);
	return ret;
}

static json_t *
seal_json(const struct store_seal *s)
{
	char created[32], revoked[32];

	cs_time_utc(s->created, created, sizeof(created));
	cs_time_utc(s->revoked_at, revoked, sizeof(revoked));
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s?,s:s?}", "id", s->id,
	    "dept", s->dept, "name", s->name, "alg", s->alg, "status",
	    s->status, "created", created, "revoked_at",
	    s->revoked_at != 0 ? revoked : NULL, "reason",
	    s->reason[0] != '\0' ? s->reason : NULL);
}

int
admin_seal_list(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"dept", required_argument, NULL, 'd'},
	    ADMIN_COMMON_OPTIONS,
	};
	struct store_seal *list = NULL;
	const char *dept = NULL;
	struct cs_err err = {0};
	struct svc *svc = NULL;
	json_t *arr;
	size_t n = 0, i;
	int ch, ret;

	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE)
		if (ch == 'd')
			dept = optarg;
	if (ret != -1)
		return ret;
	ret = admin_open(ctx, SVC_OPEN_STORE, &svc);
	if (ret != ADMIN_EXIT_OK)
		return ret;
	if (store_seal_list(svc->store, dept, &list, &n, &err) != CS_OK) {
		ret = admin_fail(ctx, &err);
		goto out;
	}
	arr = json_array();
	if (!ctx->json)
		printf("%-18s  %-18s  %-7s  %-8s  %s\n", "ID", "DEPT", "ALG",
		    "STATUS", "NAME");
	for (i = 0; i < n; i++) {
		if (ctx->json)
			json_array_append_new(arr, seal_json(&list[i]));
		else
			printf("%-18s  %-18s  %-7s  %-8s  %s\n", list[i].id,
			    list[i].dept, list[i].alg, list[i].status,
			    list[i].name);
	}
	if (ctx->json)
		admin_print_json(arr);
	else
		json_decref(arr);
out:
	for (i = 0; i < n; i++)
		store_seal_release(&list[i]);
	free(list);
	svc_free(svc);
	return ret;
}

int
admin_seal_show(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"seal", required_argument, NULL, 's'},
	    {"pem", no_argument, NULL, 'p'},
	    ADMIN_COMMON_OPTIONS,
	};
	const char *id = NULL;
	struct store_seal s;
	struct cs_err err = {0};
	struct svc *svc = NULL;
	struct buf *pem = NULL;
	X509 *cert = NULL;
	bool want_pem = false;
	json_t *obj;
	int ch, ret;

	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE) {
		if (ch == 's')
			id = optarg;
		else if (ch == 'p')
			want_pem = true;
	}
	if (ret != -1)
		return ret;
	if (id == NULL)
		return admin_usage_error(ctx, "--seal ID is required");
	ret = admin_open(ctx, SVC_OPEN_STORE, &svc);
	if (ret != ADMIN_EXIT_OK)
		return ret;
	memset(&s, 0, sizeof(s));
	if (store_seal_get(svc->store, id, &s, &err) != CS_OK ||
	    crypto_cert_from_der(
	        s.cert_der->data, s.cert_der->len, &cert, &err) != CS_OK ||
	    crypto_cert_to_pem(cert, &pem, &err) != CS_OK) {
		ret = admin_fail(ctx, &err);
		goto out;
	}
	obj = seal_json(&s);
	json_object_set_new(
	    obj, "certificate", json_stringn((char *)pem->data, pem->len));
	if (ctx->json) {
		admin_print_json(obj);
	} else {
		printf("id:      %s\ndept:    %s\nname:    %s\nalg:     %s\n"
		       "status:  %s\nimage:   %s\n",
		    s.id, s.dept, s.name, s.alg, s.status,
		    s.has_image ? "yes" : "no");
		if (want_pem)
			fwrite(pem->data, 1, pem->len, stdout);
		json_decref(obj);
	}
out:
	X509_free(cert);
	buf_free(pem);
	store_seal_release(&s);
	svc_free(svc);
	return ret;
}

int
admin_seal_revoke(struct admin_ctx *ctx, int argc, char **argv)
{
	/* The CRLReasons that fit a seal (RFC 5280 5.3.1). */
	static const enum crypto_reason reasons[] = {
	    CRYPTO_REASON_KEY_COMPROMISE, CRYPTO_REASON_AFFILIATION_CHANGED,
	    CRYPTO_REASON_SUPERSEDED, CRYPTO_REASON_CESSATION,
	    CRYPTO_REASON_UNSPECIFIED};
	static const struct option longopts[] = {
	    {"seal", required_argument, NULL, 's'},
	    {"reason", required_argument, NULL, 'r'},
	    {"comment", required_argument, NULL, 'c'},
	    ADMIN_COMMON_OPTIONS,
	};
	const char *id = NULL, *reason = NULL, *comment = NULL, *name = NULL;
	char text[STORE_TEXT_MAX];
	struct cs_err err = {0};
	struct svc *svc = NULL;
	size_t i;
	int ch, ret;

	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE) {
		if (ch == 's')
			id = optarg;
		else if (ch == 'r')
			reason = optarg;
		else if (ch == 'c')
			comment = optarg;
	}
	if (ret != -1)
		return ret;
	if (id == NULL || reason == NULL)
		return admin_usage_error(
		    ctx, "--seal and --reason are required");
	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (strcmp(reason, crypto_reason_name(reasons[i])) == 0)
			name = reason;
	if (name == NULL)
		return admin_usage_error(ctx,
		    "--reason must be keyCompromise, affiliationChanged, "
		    "superseded, cessationOfOperation or unspecified");
	/* Stored as "<CRLReason>[: comment]" (seal_revoke). */
	if (snprintf(text, sizeof(text), "%s%s%s", name,
	        comment != NULL ? ": " : "",
	        comment != NULL ? comment : "") >= (int)sizeof(text))
		return admin_usage_error(ctx, "--comment is too long");
	ret = admin_open(ctx, SVC_OPEN_STORE, &svc);
	if (ret != ADMIN_EXIT_OK)
		return ret;
	if (seal_revoke(svc, id, text, "admin", &err) != CS_OK)
		ret = admin_fail(ctx, &err);
	else if (ctx->json)
		admin_print_json(json_pack("{s:s,s:s,s:s}", "id", id, "status",
		    "revoked", "reason", name));
	else
		printf("revoked seal %s (%s)\n", id, name);
	svc_free(svc);
	return ret;
}

/* --- client --------------------------------------------------------------- */

#define ADMIN_TYPES_MAX 64

/*
 * Split "T1,T2" (copied into buf) into types; false when empty, too long
 * or more than ADMIN_TYPES_MAX.
 */
static bool
split_types(
    const char *arg, char *buf, size_t bufsz, const char **types, size_t *n)
{
	char *p, *comma;

	*n = 0;
	if (!cs_strlcpy(buf, arg, bufsz) || *buf == '\0')
		return false;
	for (p = buf; p != NULL; p = comma) {
		comma = strchr(p, ',');
		if (comma != NULL)
			*comma++ = '\0';
		if (*p == '\0' || *n == ADMIN_TYPES_MAX)
			return false;
		types[(*n)++] = p;
	}
	return true;
}

/* A verifier's usage list as "T1,T2" (or "-") and as a JSON array. */
static void
client_types(struct svc *svc, const struct store_client *c, char *text,
    size_t textsz, json_t **arr)
{
	char(*types)[STORE_CODE_MAX] = NULL;
	size_t n = 0, i, off = 0;
	int w;

	snprintf(text, textsz, "-");
	*arr = NULL;
	if (strcmp(c->role, "verifier") != 0)
		return;
	*arr = json_array();
	if (store_client_types_get(svc->store, c->id, &types, &n, NULL) !=
	    CS_OK)
		n = 0;
	for (i = 0; i < n; i++) {
		json_array_append_new(*arr, json_string(types[i]));
		w = snprintf(text + off, textsz - off, "%s%s", i > 0 ? "," : "",
		    types[i]);
		if (w < 0 || (size_t)w >= textsz - off)
			break;
		off += (size_t)w;
	}
	free(types);
}

int
admin_client_add(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"role", required_argument, NULL, 'r'},
	    {"dept", required_argument, NULL, 'd'},
	    {"name", required_argument, NULL, 'n'},
	    {"holder-id-type", required_argument, NULL, 't'},
	    {"holder-id-number-file", required_argument, NULL, 'f'},
	    {"types", required_argument, NULL, 'T'},
	    ADMIN_COMMON_OPTIONS,
	};
	char id[STORE_CODE_MAX], secret[CLIENT_SECRET_MAX], ref[72];
	char typebuf[ADMIN_TYPES_MAX * STORE_CODE_MAX];
	const char *types[ADMIN_TYPES_MAX];
	size_t ntypes = 0;
	const char *dept = NULL, *name = NULL, *idtype = NULL, *idfile = NULL;
	enum client_role role = 0;
	struct cs_err err = {0};
	struct svc *svc = NULL;
	struct buf *idnum = NULL;
	int ch, ret;

	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE) {
		if (ch == 'r' && !client_role_parse(optarg, &role))
			return admin_usage_error(ctx,
			    "unknown role '%s' "
			    "(issuer, verifier, holder)",
			    optarg);
		else if (ch == 'd')
			dept = optarg;
		else if (ch == 'n')
			name = optarg;
		else if (ch == 't')
			idtype = optarg;
		else if (ch == 'f')
			idfile = optarg;
		else if (ch == 'T' &&
		    !split_types(
		        optarg, typebuf, sizeof(typebuf), types, &ntypes))
			return admin_usage_error(ctx,
			    "--types: at most %d comma-separated type codes",
			    ADMIN_TYPES_MAX);
	}
	if (ret != -1)
		return ret;
	if (role == 0)
		return admin_usage_error(ctx, "--role is required");
	if (ntypes > 0 && role != CLIENT_VERIFIER)
		return admin_usage_error(ctx, "only a verifier has --types");
	if (role == CLIENT_ISSUER && dept == NULL)
		return admin_usage_error(ctx, "an issuer needs --dept");
	if (role == CLIENT_HOLDER && (idtype == NULL || idfile == NULL))
		return admin_usage_error(ctx,
		    "a holder needs --holder-id-type "
		    "and --holder-id-number-file");
	ret = admin_open(ctx, SVC_OPEN_STORE, &svc);
	if (ret != ADMIN_EXIT_OK)
		return ret;
	ref[0] = '\0';
	if (role == CLIENT_HOLDER) {
		/* The identifier is read from a file: never on argv. */
		if (cs_file_read(idfile, 256, &idnum, &err) != CS_OK)
			goto fail;
		idnum->data[strcspn((char *)idnum->data, "\r\n")] = '\0';
		if (holder_ref_make(svc, idtype, (char *)idnum->data, ref,
		        sizeof(ref), &err) != CS_OK)
			goto fail;
	}
	if (role == CLIENT_VERIFIER
	        ? client_add_verifier(svc, name != NULL ? name : "verifier",
	              types, ntypes, "admin", id, sizeof(id), secret,
	              sizeof(secret), &err) != CS_OK
	        : client_add(svc, role,
	              name != NULL ? name : client_role_name(role), dept,
	              role == CLIENT_HOLDER ? ref : NULL, "admin", id,
	              sizeof(id), secret, sizeof(secret), &err) != CS_OK)
		goto fail;
	if (ctx->json)
		admin_print_json(json_pack("{s:s,s:s,s:s}", "id", id, "role",
		    client_role_name(role), "secret", secret));
	else
		printf("client %s (%s)\nsecret (shown once): %s\n", id,
		    client_role_name(role), secret);
	OPENSSL_cleanse(secret, sizeof(secret));
	buf_free(idnum);
	svc_free(svc);
	return ADMIN_EXIT_OK;
fail:
	OPENSSL_cleanse(secret, sizeof(secret));
	buf_free(idnum);
	svc_free(svc);
	return admin_fail(ctx, &err);
}

int
admin_client_list(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {ADMIN_COMMON_OPTIONS};
	struct store_client *list = NULL;
	char created[32], types[512];
	json_t *tarr;
	struct cs_err err = {0};
	struct svc *svc = NULL;
	json_t *arr;
	size_t n = 0, i;
	int ch, ret;

	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE)
		;
	if (ret != -1)
		return ret;
	ret = admin_open(ctx, SVC_OPEN_STORE, &svc);
	if (ret != ADMIN_EXIT_OK)
		return ret;
	if (client_list(svc, &list, &n, &err) != CS_OK) {
		ret = admin_fail(ctx, &err);
		goto out;
	}
	arr = json_array();
	if (!ctx->json)
		printf("%-18s  %-8s  %-8s  %-18s  %-12s  %s\n", "ID", "ROLE",
		    "STATUS", "DEPT", "TYPES", "NAME");
	for (i = 0; i < n; i++) {
		cs_time_utc(list[i].created, created, sizeof(created));
		client_types(svc, &list[i], types, sizeof(types), &tarr);
		if (ctx->json)
			json_array_append_new(arr,
			    json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o*}", "id",
			        list[i].id, "role", list[i].role, "status",
			        list[i].status, "dept", list[i].dept, "name",
			        list[i].name, "created", created, "types",
			        tarr));
		else {
			json_decref(tarr);
			printf("%-18s  %-8s  %-8s  %-18s  %-12s  %s\n",
			    list[i].id, list[i].role, list[i].status,
			    list[i].dept[0] != '\0' ? list[i].dept : "-", types,
			    list[i].name);
		}
	}
	if (ctx->json)
		admin_print_json(arr);
	else
		json_decref(arr);
out:
	free(list);
	svc_free(svc);
	return ret;
}

int
admin_client_revoke(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"client", required_argument, NULL, 'c'},
	    ADMIN_COMMON_OPTIONS,
	};
	const char *id = NULL;
	struct cs_err err = {0};
	struct svc *svc = NULL;
	int ch, ret;

	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE)
		if (ch == 'c')
			id = optarg;
	if (ret != -1)
		return ret;
	if (id == NULL)
		return admin_usage_error(ctx, "--client ID is required");
	ret = admin_open(ctx, SVC_OPEN_STORE, &svc);
	if (ret != ADMIN_EXIT_OK)
		return ret;
	if (client_revoke(svc, id, "admin", &err) != CS_OK)
		ret = admin_fail(ctx, &err);
	else if (ctx->json)
		admin_print_json(
		    json_pack("{s:s,s:s}", "id", id, "status", "revoked"));
	else
		printf("revoked client %s\n", id);
	svc_free(svc);
	return ret;
}
