/*
 * admin_life.h: certsvc-admin's licence lifecycle and objection commands
 * (tools/admin_life.c).
 */
#ifndef CERTSVC_ADMIN_LIFE_H
#define CERTSVC_ADMIN_LIFE_H

#include "tools/admin.h"

/*
 * "licence suspend|reinstate|revoke|cancel|transfer|renew|correct": the
 * verb is taken from ctx->cmd.  Acts as the administrator ("admin"), on
 * any department's licence, through lifecycle_apply().
 */
int admin_licence_change(struct admin_ctx *ctx, int argc, char **argv);

/* "objection list" and "objection resolve". */
int admin_objection_list(struct admin_ctx *ctx, int argc, char **argv);
int admin_objection_resolve(struct admin_ctx *ctx, int argc, char **argv);

#endif
