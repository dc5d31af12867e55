/*
 * admin_common.c: what every certsvc-admin command shares: the common
 * options, error reporting with stable exit codes, JSON output.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certsvc/mem.h"
#include "tools/admin.h"

int
admin_common_option(struct admin_ctx *ctx, int ch)
{
	switch (ch) {
	case 'D':
		if (!cs_strlcpy(ctx->data_dir, optarg, sizeof(ctx->data_dir)) ||
		    snprintf(ctx->config, sizeof(ctx->config),
		        "%s/certsvc.conf",
		        ctx->data_dir) >= (int)sizeof(ctx->config))
			return admin_usage_error(ctx, "data dir path too long");
		return ADMIN_CONTINUE;
	case 'J':
		ctx->json = true;
		return ADMIN_CONTINUE;
	case 'h':
		admin_command_help(ctx);
		return ADMIN_EXIT_OK;
	case '?':
	case ':':
		fprintf(stderr, "try 'certsvc-admin %s --help'\n", ctx->cmd);
		return ADMIN_EXIT_USAGE;
	default:
		return -1;
	}
}

int
admin_next(struct admin_ctx *ctx, int argc, char **argv,
    const struct option *longopts, int *ch)
{
	int ret;

	for (;;) {
		*ch = getopt_long(argc, argv, "h", longopts, NULL);
		if (*ch == -1)
			return optind == argc
			    ? -1
			    : admin_usage_error(ctx, "unexpected argument '%s'",
			          argv[optind]);
		ret = admin_common_option(ctx, *ch);
		if (ret == ADMIN_CONTINUE)
			continue;
		if (ret >= 0)
			return ret;
		return ADMIN_CONTINUE;
	}
}

void
admin_command_help(const struct admin_ctx *ctx)
{
	const struct admin_command *c;
	char name[64];

	for (c = admin_commands; c->noun != NULL; c++) {
		snprintf(name, sizeof(name), "%s%s%s", c->noun,
		    c->verb != NULL ? " " : "", c->verb != NULL ? c->verb : "");
		if (strcmp(name, ctx->cmd) != 0)
			continue;
		printf("usage: certsvc-admin %s %s\n\n%s\n\n%s"
		       "  --data-dir DIR    data directory (default: "
		       "$CERTSVC_DATA, else ./var)\n"
		       "  --json            machine-readable output\n"
		       "  -h, --help        this text\n",
		    name, c->args, c->summary, c->help);
		return;
	}
}

int
admin_fail(const struct admin_ctx *ctx, const struct cs_err *err)
{
	fprintf(stderr, "certsvc-admin: %s: %s\n", ctx->cmd,
	    err->msg[0] != '\0' ? err->msg : cs_rc_name(err->rc));
	switch (err->rc) {
	case CS_OK:
		return ADMIN_EXIT_OK;
	case CS_ERR_INVALID:
		return ADMIN_EXIT_USAGE;
	case CS_ERR_NOT_FOUND:
		return ADMIN_EXIT_NOT_FOUND;
	case CS_ERR_CONFLICT:
		return ADMIN_EXIT_CONFLICT;
	case CS_ERR_TOKEN:
		return ADMIN_EXIT_TOKEN;
	case CS_ERR_STORE:
		return ADMIN_EXIT_STORE;
	case CS_ERR_CRYPTO:
		return ADMIN_EXIT_CRYPTO;
	case CS_ERR_IO:
		return ADMIN_EXIT_IO;
	case CS_ERR_DENIED:
	case CS_ERR_AUTH:
	case CS_ERR_NOMEM:
		break;
	}
	return ADMIN_EXIT_FAIL;
}

int
admin_usage_error(const struct admin_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "certsvc-admin: %s: ", ctx->cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\ntry 'certsvc-admin %s --help'\n", ctx->cmd);
	return ADMIN_EXIT_USAGE;
}

void
admin_print_json(json_t *obj)
{
	char *text;

	if (obj == NULL)
		return;
	text = json_dumps(obj, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(obj);
	if (text != NULL) {
		puts(text);
		free(text);
	}
}

int
admin_open(const struct admin_ctx *ctx, unsigned flags, struct svc **out)
{
	struct cs_err err = {0};

	if (svc_open(ctx->config, flags, out, &err) != CS_OK) {
		if (err.rc == CS_ERR_NOT_FOUND)
			cs_err_set(&err, CS_ERR_NOT_FOUND,
			    "no certsvc data in '%s' (run 'certsvc-admin init "
			    "--data-dir %s' first)",
			    ctx->data_dir, ctx->data_dir);
		return admin_fail(ctx, &err);
	}
	return ADMIN_EXIT_OK;
}
