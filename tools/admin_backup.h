/*
 * admin_backup.h: certsvc-admin backup and restore (tools/admin_backup.c).
 */
#ifndef CERTSVC_ADMIN_BACKUP_H
#define CERTSVC_ADMIN_BACKUP_H

#include "tools/admin.h"

int admin_backup(struct admin_ctx *ctx, int argc, char **argv);
int admin_restore(struct admin_ctx *ctx, int argc, char **argv);

#endif
