/*
 * admin.h: shared pieces of certsvc-admin's commands: the context built from
 * the common options, output in text or JSON, and exit codes.
 */
#ifndef CERTSVC_ADMIN_H
#define CERTSVC_ADMIN_H

#include <getopt.h>
#include <limits.h>
#include <stdbool.h>

#include <jansson.h>

#include "certsvc/err.h"
#include "certsvc/svc.h"

/* Exit codes, documented in --help and docs/cli.md. */
enum admin_exit {
	ADMIN_EXIT_OK = 0,
	ADMIN_EXIT_FAIL = 1,  /* anything not listed below */
	ADMIN_EXIT_USAGE = 2, /* bad command line or invalid input */
	ADMIN_EXIT_NOT_FOUND = 3,
	ADMIN_EXIT_CONFLICT = 4, /* exists already, or state forbids it */
	ADMIN_EXIT_TOKEN = 5,    /* token unavailable or login failed */
	ADMIN_EXIT_STORE = 6,    /* database failure, rolled back */
	ADMIN_EXIT_CRYPTO = 7,
	ADMIN_EXIT_IO = 8,      /* file or permission problem */
	ADMIN_EXIT_PARTIAL = 9, /* some input rows rejected, the rest done */
};

struct admin_ctx {
	char data_dir[PATH_MAX];
	char config[PATH_MAX];
	bool json;
	const char *cmd; /* "key generate", for messages */
};

struct admin_command {
	const char *noun;
	const char *verb; /* NULL for one-word commands */
	const char *args; /* option synopsis */
	const char *summary;
	const char *help; /* the options, one per line */
	int (*fn)(struct admin_ctx *ctx, int argc, char **argv);
};

extern const struct admin_command admin_commands[];

/* Long options every command takes; end a command's table with these. */
#define ADMIN_COMMON_OPTIONS                                                   \
	{"data-dir", required_argument, NULL, 'D'},                            \
	    {"json", no_argument, NULL, 'J'},                                  \
	    {"help", no_argument, NULL, 'h'},                                  \
	{                                                                      \
		NULL, 0, NULL, 0                                               \
	}

/*
 * Handle a common option returned by getopt_long.  Returns -1 when ch is
 * not one, else the exit code to return now (-2 meaning "carry on").
 */
int admin_common_option(struct admin_ctx *ctx, int ch);
#define ADMIN_CONTINUE (-2)

/*
 * getopt_long over longopts, the common options handled: returns
 * ADMIN_CONTINUE with *ch set for a command option, -1 at the end, or an
 * exit code to return now.
 */
int admin_next(struct admin_ctx *ctx, int argc, char **argv,
    const struct option *longopts, int *ch);

/* Print the command's help (its table row) to stdout. */
void admin_command_help(const struct admin_ctx *ctx);

/* Report err on stderr as "certsvc-admin: <cmd>: <msg>" and map it. */
int admin_fail(const struct admin_ctx *ctx, const struct cs_err *err);

/* Report a usage problem and return ADMIN_EXIT_USAGE. */
int admin_usage_error(const struct admin_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Print obj (stolen) as indented JSON on stdout. */
void admin_print_json(json_t *obj);

/* Open the service of ctx's data dir with flags; reports failures. */
int admin_open(const struct admin_ctx *ctx, unsigned flags, struct svc **out);

/* Commands (tools/admin_*.c). */
int admin_init(struct admin_ctx *ctx, int argc, char **argv);
int admin_token_status(struct admin_ctx *ctx, int argc, char **argv);
int admin_key_generate(struct admin_ctx *ctx, int argc, char **argv);
int admin_key_list(struct admin_ctx *ctx, int argc, char **argv);
int admin_ca_init(struct admin_ctx *ctx, int argc, char **argv);
int admin_ca_show(struct admin_ctx *ctx, int argc, char **argv);
int admin_ca_rollover(struct admin_ctx *ctx, int argc, char **argv);
int admin_dept_add(struct admin_ctx *ctx, int argc, char **argv);
int admin_dept_list(struct admin_ctx *ctx, int argc, char **argv);
int admin_dept_show(struct admin_ctx *ctx, int argc, char **argv);
int admin_type_add(struct admin_ctx *ctx, int argc, char **argv);
int admin_type_list(struct admin_ctx *ctx, int argc, char **argv);
int admin_type_show(struct admin_ctx *ctx, int argc, char **argv);
int admin_seal_create(struct admin_ctx *ctx, int argc, char **argv);
int admin_seal_list(struct admin_ctx *ctx, int argc, char **argv);
int admin_seal_show(struct admin_ctx *ctx, int argc, char **argv);
int admin_seal_revoke(struct admin_ctx *ctx, int argc, char **argv);
int admin_client_add(struct admin_ctx *ctx, int argc, char **argv);
int admin_client_list(struct admin_ctx *ctx, int argc, char **argv);
int admin_client_revoke(struct admin_ctx *ctx, int argc, char **argv);
int admin_licence_issue(struct admin_ctx *ctx, int argc, char **argv);
int admin_licence_show(struct admin_ctx *ctx, int argc, char **argv);
int admin_licence_import(struct admin_ctx *ctx, int argc, char **argv);
int admin_report_verify(struct admin_ctx *ctx, int argc, char **argv);

/* admin_rotate.c (issue #9) */
int admin_seal_rotate(struct admin_ctx *ctx, int argc, char **argv);
int admin_seal_revoke_key(struct admin_ctx *ctx, int argc, char **argv);
int admin_key_destroy(struct admin_ctx *ctx, int argc, char **argv);
int admin_licence_reseal(struct admin_ctx *ctx, int argc, char **argv);

/* admin_audit.c */
int admin_audit_verify(struct admin_ctx *ctx, int argc, char **argv);
int admin_audit_checkpoint(struct admin_ctx *ctx, int argc, char **argv);
int admin_audit_export(struct admin_ctx *ctx, int argc, char **argv);

#endif
