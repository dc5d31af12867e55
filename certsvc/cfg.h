/*
 * cfg.h: certsvc.conf, one "key = value" per line ('#' comments), every key
 * overridable by the environment as CERTSVC_<KEY> (upper case).  Relative
 * paths in the file are relative to the file's directory, so a data dir can
 * be moved as a whole.  The PIN is never a config value: it comes from
 * pin_file or from CERTSVC_PIN.
 */
#ifndef CERTSVC_CFG_H
#define CERTSVC_CFG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "certsvc/err.h"

#define CFG_STR_MAX 256

struct cfg {
	char path[PATH_MAX];           /* the file it was loaded from */
	char data_dir[PATH_MAX];       /* directory of the file */
	char listen[CFG_STR_MAX];      /* host:port, default 127.0.0.1:8080 */
	char public_url[CFG_STR_MAX];  /* base URL in certificates */
	char db_path[PATH_MAX];        /* default DATA/certsvc.db */
	char module[PATH_MAX];         /* PKCS#11 module */
	char token_label[CFG_STR_MAX]; /* default "certsvc" */
	char pin_file[PATH_MAX];       /* default DATA/pin */
	char softhsm2_conf[PATH_MAX];  /* exported as SOFTHSM2_CONF if set */
	char ca_org[CFG_STR_MAX];      /* O= of certsvc's CA names */
	char ca_country[8];         /* C= of certsvc's CA names, default CN */
	char log_level[16];         /* error|warn|info|debug */
	unsigned pool_size;         /* token sessions, 0 = 2 x cores */
	unsigned token_timeout_ms;  /* default 2000 */
	unsigned token_queue_max;   /* waiters for a session, 0 = no limit */
	unsigned http_threads;      /* 0 = cores */
	unsigned max_body;          /* request body limit, default 1 MiB */
	unsigned http_conn_timeout; /* idle seconds, default 30 */
	unsigned http_conn_limit;   /* open connections, default 1024 */
	char tls_cert[PATH_MAX];    /* "" = plain HTTP */
	char tls_key[PATH_MAX];
	unsigned db_conns;                  /* store connections, default 8 */
	unsigned audit_checkpoint_events;   /* checkpoint after N events */
	unsigned audit_checkpoint_seconds;  /* or after T seconds */
	char log_file[PATH_MAX];            /* "" = stderr */
	char web_dir[PATH_MAX];             /* "" = CERTSVC_WEB_DIR */
	unsigned code_fail_limit_client;    /* failed redemptions a window */
	unsigned code_fail_limit_addr;      /* the same per source address */
	unsigned code_fail_window_seconds;  /* the window of both limits */
	unsigned web_verify_limit_addr;     /* POST /verify a window, 0 = off */
	unsigned web_verify_window_seconds; /* its window */
	unsigned timestamp_seals;           /* 1: CAdES-T licence seals */
	unsigned timestamp_reports;         /* 1: timestamped reports */
};

/* Fill cfg with defaults for a data dir (no file read). */
void cfg_defaults(struct cfg *cfg, const char *data_dir);

/*
 * Load path over the defaults for its directory, then apply CERTSVC_<KEY>
 * environment overrides.  CS_ERR_INVALID names the line and key of a bad
 * entry; unknown keys are errors (a typo must not pass silently).
 */
enum cs_rc cfg_load(const char *path, struct cfg *cfg, struct cs_err *err);

/* The documented configuration file text for cfg (*out given, free()). */
enum cs_rc cfg_render(const struct cfg *cfg, char **out, struct cs_err *err);

/*
 * Read the user PIN: CERTSVC_PIN if set, else the first line of pin_file
 * (which must not be readable by group or others).  pin is NUL-terminated;
 * the caller wipes it right after use.
 */
enum cs_rc cfg_pin_read(
    const struct cfg *cfg, char *pin, size_t pinsz, struct cs_err *err);

#endif
