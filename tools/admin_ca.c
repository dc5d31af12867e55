/*
 * admin_ca.c: "ca init" and "ca show".
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "certsvc/ca.h"
#include "certsvc/mem.h"
#include "crypto/crypto.h"
#include "tools/admin.h"

int
admin_ca_init(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"alg", required_argument, NULL, 'a'},
	    ADMIN_COMMON_OPTIONS,
	};
	struct ca_init_opts opts = {P11_ALG_P256, "admin"};
	struct cs_err err = {0};
	struct svc *svc = NULL;
	bool created = false;
	int ch, ret;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		ret = admin_common_option(ctx, ch);
		if (ret >= 0)
			return ret;
		if (ret == ADMIN_CONTINUE)
			continue;
		if (ch == 'a' && !p11_alg_parse(optarg, &opts.alg))
			return admin_usage_error(ctx,
			    "unknown algorithm '%s' "
			    "(p256, p384, rsa3072)",
			    optarg);
	}
	if (optind != argc)
		return admin_usage_error(
		    ctx, "unexpected argument '%s'", argv[optind]);
	ret = admin_open(ctx, SVC_OPEN_ALL, &svc);
	if (ret != ADMIN_EXIT_OK)
		return ret;
	if (ca_init(svc, &opts, &created, &err) != CS_OK) {
		ret = admin_fail(ctx, &err);
		goto out;
	}
	if (ctx->json)
		admin_print_json(json_pack("{s:b,s:s}", "created", created,
		    "data_dir", svc->cfg.data_dir));
	else if (created)
		printf("created root and issuing CA; certificates in %s/ca/\n",
		    svc->cfg.data_dir);
	else
		printf("nothing to do: the CA exists already\n");
out:
	svc_free(svc);
	return ret;
}

static void
ca_time(const ASN1_TIME *t, char *out, size_t outsz)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1 ||
	    strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		cs_strlcpy(out, "?", outsz);
}

static json_t *
ca_describe(const char *name, X509 *cert, const char *uri)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char subject[512], issuer[512], nb[32], na[32], fp[3 * 32 + 1];
	char *serial = NULL;
	unsigned mdlen = 0, i;
	BIGNUM *bn;
	json_t *obj;

	crypto_cert_subject(cert, subject, sizeof(subject));
	X509_NAME_oneline(X509_get_issuer_name(cert), issuer, sizeof(issuer));
	ca_time(X509_get0_notBefore(cert), nb, sizeof(nb));
	ca_time(X509_get0_notAfter(cert), na, sizeof(na));
	fp[0] = '\0';
	if (X509_digest(cert, EVP_sha256(), md, &mdlen) == 1)
		for (i = 0; i < mdlen && i < 32; i++)
			snprintf(fp + 3 * i, sizeof(fp) - 3 * i, "%02X%s",
			    md[i], i + 1 < mdlen ? ":" : "");
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	if (bn != NULL)
		serial = BN_bn2hex(bn);
	BN_free(bn);
	obj = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "name", name,
	    "subject", subject, "issuer", issuer, "serial",
	    serial != NULL ? serial : "?", "not_before", nb, "not_after", na,
	    "sha256_fingerprint", fp, "key_uri", uri);
	OPENSSL_free(serial);
	return obj;
}

int
admin_ca_show(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"pem", no_argument, NULL, 'p'},
	    ADMIN_COMMON_OPTIONS,
	};
	const struct ca_entry *ca;
	struct cs_err err = {0};
	struct svc *svc = NULL;
	struct buf *pem = NULL;
	json_t *arr, *one;
	bool want_pem = false;
	X509 *cert;
	int ch, ret;
	size_t i;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		ret = admin_common_option(ctx, ch);
		if (ret >= 0)
			return ret;
		if (ret == ADMIN_CONTINUE)
			continue;
		if (ch == 'p')
			want_pem = true;
	}
	if (optind != argc)
		return admin_usage_error(
		    ctx, "unexpected argument '%s'", argv[optind]);
	ret = admin_open(ctx, SVC_OPEN_STORE, &svc);
	if (ret != ADMIN_EXIT_OK)
		return ret;
	if (svc->root == NULL || svc->cas == NULL) {
		cs_err_set(&err, CS_ERR_NOT_FOUND,
		    "no CA yet (run 'certsvc-admin ca init')");
		ret = admin_fail(ctx, &err);
		goto out;
	}
	arr = json_array();
	/* The root, then every issuing CA; the last one is current. */
	for (i = 0; i < svc->cas->n; i++) {
		ca = &svc->cas->e[i];
		cert = ca->cert;
		one = ca_describe(ca->name, cert, ca->key_uri);
		json_object_set_new(one, "current",
		    json_boolean(i == 0 || i + 1 == svc->cas->n));
		if (want_pem && crypto_cert_to_pem(cert, &pem, &err) == CS_OK) {
			json_object_set_new(one, "pem",
			    json_stringn((char *)pem->data, pem->len));
			buf_free(pem);
			pem = NULL;
		}
		if (!ctx->json) {
			printf("%s CA%s\n  subject:     %s\n  issuer:      %s\n"
			       "  serial:      %s\n  valid:       %s .. %s\n"
			       "  sha256:      %s\n  key:         %s\n",
			    ca->name,
			    i > 0 && i + 1 < svc->cas->n
			        ? " (previous: answers for what it issued)"
			        : "",
			    json_string_value(json_object_get(one, "subject")),
			    json_string_value(json_object_get(one, "issuer")),
			    json_string_value(json_object_get(one, "serial")),
			    json_string_value(
			        json_object_get(one, "not_before")),
			    json_string_value(
			        json_object_get(one, "not_after")),
			    json_string_value(
			        json_object_get(one, "sha256_fingerprint")),
			    json_string_value(json_object_get(one, "key_uri")));
			if (want_pem)
				fputs(json_string_value(
				          json_object_get(one, "pem")),
				    stdout);
		}
		json_array_append_new(arr, one);
	}
	if (ctx->json)
		admin_print_json(arr);
	else
		json_decref(arr);
out:
	svc_free(svc);
	return ret;
}

int
admin_ca_rollover(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"alg", required_argument, NULL, 'a'},
	    ADMIN_COMMON_OPTIONS,
	};
	const struct ca_entry *cur;
	struct ca_rollover_opts o;
	char name[STORE_NAME_MAX], sub[256];
	struct cs_err err = {0};
	struct svc *svc = NULL;
	int ch, ret;

	memset(&o, 0, sizeof(o));
	o.actor = "admin";
	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE) {
		if (ch == 'a') {
			if (!p11_alg_parse(optarg, &o.alg))
				return admin_usage_error(
				    ctx, "--alg must be p256, p384 or rsa3072");
			o.has_alg = true;
		}
	}
	if (ret != -1)
		return ret;
	ret = admin_open(ctx, SVC_OPEN_ALL, &svc);
	if (ret != ADMIN_EXIT_OK)
		return ret;
	sub[0] = '\0';
	if (ca_rollover(svc, &o, name, sizeof(name), &err) != CS_OK) {
		ret = admin_fail(ctx, &err);
		goto out;
	}
	cur = ca_by_name(svc, name);
	if (cur != NULL)
		X509_NAME_oneline(
		    X509_get_subject_name(cur->cert), sub, sizeof(sub));
	if (ctx->json)
		admin_print_json(json_pack("{s:s,s:s,s:b}", "name", name,
		    "subject", sub, "restart_certsvcd", 1));
	else
		printf("new issuing CA '%s' (DATA/ca/%s.pem): it issues every "
		       "new seal and service\ncertificate from now on.  "
		       "Restart certsvcd, then rotate the seals\n"
		       "('seal rotate') to move them to it "
		       "(docs/operations.md).\n",
		    name, name);
out:
	svc_free(svc);
	return ret;
}
