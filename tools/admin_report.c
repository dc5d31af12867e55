/*
 * admin_report.c: "report verify FILE": check a verification report
 * offline, as an approval system does with the one it filed.  FILE is a
 * report envelope or a whole POST /v1/verify response; the seal is
 * checked against the root certificate (DATA/ca/root.pem unless --root)
 * by report_verify(), so no token, store or network is needed.  The exit
 * code says whether the report is authentic (0) or not (1), whatever
 * verdict the report itself records: that is printed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certsvc/jcs.h"
#include "certsvc/mem.h"
#include "certsvc/report.h"
#include "crypto/crypto.h"
#include "tools/admin.h"

#define REPORT_FILE_MAX (16 * 1024 * 1024)
#define REPORT_PEM_MAX (64 * 1024)

/* Print the report's verdict and checks as text. */
static void
report_print(const struct report_verified *rv)
{
	const json_t *rep = rv->report, *checks, *c, *ver;
	const char *id;
	size_t i;

	printf("report %s: authentic, signed by %s\n",
	    json_string_value(json_object_get(rep, "id")), rv->signer);
	printf(
	    "time:     %s\n", json_string_value(json_object_get(rep, "time")));
	printf("verifier: %s\n",
	    json_string_value(json_object_get(rep, "verifier")));
	id = json_string_value(json_object_get(rep, "licence_id"));
	ver = json_object_get(rep, "version");
	if (id != NULL && json_is_integer(ver))
		printf("licence:  %s version %lld\n", id,
		    (long long)json_integer_value(ver));
	else
		printf("licence:  unknown\n");
	printf("result:   %s\n",
	    json_string_value(json_object_get(rep, "result")));
	checks = json_object_get(rep, "checks");
	json_array_foreach(checks, i, c)
	{
		printf("  %-19s %-14s %s\n",
		    json_string_value(json_object_get(c, "name")),
		    json_string_value(json_object_get(c, "result")),
		    json_string_value(json_object_get(c, "reason")));
	}
}

int
admin_report_verify(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"root", required_argument, NULL, 'r'},
	    ADMIN_COMMON_OPTIONS,
	};
	char rootpath[PATH_MAX + 16];
	struct report_verified rv;
	struct cs_err err = {0};
	struct buf *text = NULL, *pem = NULL;
	const char *root_opt = NULL, *file;
	json_t *in = NULL;
	X509 *root = NULL;
	int ch, ret;

	memset(&rv, 0, sizeof(rv));
	for (;;) {
		ch = getopt_long(argc, argv, "h", longopts, NULL);
		if (ch == -1)
			break;
		ret = admin_common_option(ctx, ch);
		if (ret == ADMIN_CONTINUE)
			continue;
		if (ret >= 0)
			return ret;
		if (ch == 'r')
			root_opt = optarg;
	}
	if (optind != argc - 1)
		return admin_usage_error(ctx, "give one FILE to verify");
	file = argv[optind];
	if (root_opt == NULL) {
		snprintf(rootpath, sizeof(rootpath), "%s/ca/root.pem",
		    ctx->data_dir);
		root_opt = rootpath;
	}
	if (cs_file_read(root_opt, REPORT_PEM_MAX, &pem, &err) != CS_OK ||
	    crypto_cert_from_pem(pem->data, pem->len, &root, &err) != CS_OK) {
		ret = admin_fail(ctx, &err);
		goto out;
	}
	if (cs_file_read(file, REPORT_FILE_MAX, &text, &err) != CS_OK ||
	    jcs_parse(text->data, text->len, &in, &err) != CS_OK ||
	    report_verify(in, root, &rv, &err) != CS_OK) {
		ret = admin_fail(ctx, &err);
		goto out;
	}
	if (ctx->json) {
		admin_print_json(json_pack("{s:b,s:s,s:s,s:O?}", "authentic",
		    rv.ok, "reason", rv.reason, "signer", rv.signer, "report",
		    rv.report));
	} else if (rv.ok) {
		report_print(&rv);
	} else {
		printf("report is NOT authentic: %s\n", rv.reason);
	}
	ret = rv.ok ? ADMIN_EXIT_OK : ADMIN_EXIT_FAIL;
out:
	report_verified_release(&rv);
	json_decref(in);
	X509_free(root);
	buf_free(pem);
	buf_free(text);
	return ret;
}
