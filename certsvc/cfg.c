/*
 * cfg.c: certsvc.conf and its environment overrides, and the PIN.
 *
 * One table (cfg_keys[]) drives parsing, environment overrides, validation
 * and the rendered documentation, so a key cannot be parsed but
 * undocumented, or documented but unknown.  The file is strict: an unknown
 * key, a duplicate key or a value out of range is an error naming the line,
 * because a typo that silently leaves a default in force (say, listening on
 * the wrong address) is worse than a refusal to start.
 *
 * Syntax: "key = value" per line; blank lines and lines whose first
 * non-blank character is '#' are ignored; a '#' after blank space ends an
 * unquoted value; a value may be double-quoted, with \" and \\ inside.
 * Relative paths, in the file or the environment, are relative to the
 * directory of the file, so that a data dir can be moved as a whole.
 *
 * The PIN is never a configuration value: cfg_pin_read() takes it from
 * CERTSVC_PIN or from pin_file, wipes every copy it makes and never puts it
 * in a message.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "certsvc/cfg.h"
#include "certsvc/log.h"
#include "certsvc/mem.h"

#define CFG_FILE_MAX (64 * 1024) /* certsvc.conf */
#define CFG_LINE_MAX 8192
#define CFG_PIN_FILE_MAX 4096

enum cfg_type {
	CFG_STR,  /* char array */
	CFG_PATH, /* char array, relative to the data dir */
	CFG_UINT, /* unsigned within [min, max] */
};

typedef const char *(*cfg_check_fn)(const char *value);

struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t off;  /* of the member in struct cfg */
	size_t size; /* of a char array */
	unsigned min, max;
	bool optional;      /* may be empty */
	cfg_check_fn check; /* NULL, or what is wrong with value */
	const char *doc;    /* comment lines above the key, '\n'-separated */
};

static const char *cfg_check_listen(const char *v);
static const char *cfg_check_url(const char *v);
static const char *cfg_check_label(const char *v);
static const char *cfg_check_org(const char *v);
static const char *cfg_check_country(const char *v);
static const char *cfg_check_level(const char *v);

/* clang-format off */
#define CFG_SIZE(n) sizeof(((struct cfg *)0)->n)
#define CFG_S(n, t, chk, opt, d) \
	{ #n, t, offsetof(struct cfg, n), CFG_SIZE(n), 0, 0, opt, chk, d }
#define CFG_U(n, lo, hi, d) \
	{ #n, CFG_UINT, offsetof(struct cfg, n), 0, lo, hi, false, NULL, d }
/* clang-format on */

static const struct cfg_key cfg_keys[] = {
    CFG_S(listen, CFG_STR, cfg_check_listen, false,
        "Address and port the HTTP API listens on, as host:port\n"
        "(an IPv6 host in brackets: [::1]:8080)."),
    CFG_S(public_url, CFG_STR, cfg_check_url, false,
        "Base URL under which clients reach this service; it is written\n"
        "into certificates (OCSP and CRL addresses) and reports."),
    CFG_S(db_path, CFG_PATH, NULL, false, "The SQLite database."),
    CFG_S(module, CFG_PATH, NULL, false,
        "The PKCS#11 module (shared library) of the token."),
    CFG_S(token_label, CFG_STR, cfg_check_label, false,
        "Label of the token that holds certsvc's keys (at most 32 bytes)."),
    CFG_S(pin_file, CFG_PATH, NULL, true,
        "File whose first line is the token's user PIN; it must have mode\n"
        "0600 or stricter.  The environment variable CERTSVC_PIN, when set,\n"
        "is used instead."),
    CFG_S(softhsm2_conf, CFG_PATH, NULL, true,
        "SoftHSM2 configuration, exported as SOFTHSM2_CONF; empty to leave\n"
        "the environment alone (another PKCS#11 module)."),
    CFG_S(ca_org, CFG_STR, cfg_check_org, false,
        "Organisation (O=) in the names of certsvc's CA certificates."),
    CFG_S(ca_country, CFG_STR, cfg_check_country, false,
        "Country (C=) in those names: two capital letters."),
    CFG_S(log_level, CFG_STR, cfg_check_level, false,
        "Most verbose log level written: error, warn, info or debug."),
    CFG_U(pool_size, 0, 1024,
        "Token sessions kept open; 0 means twice the number of CPU cores."),
    CFG_U(token_timeout_ms, 1, 600000,
        "How long a request waits for a token session, in milliseconds."),
    CFG_U(token_queue_max, 0, 100000,
        "Requests that may wait for a token session at once; beyond\n"
        "that, signing requests are answered 503 at once instead of\n"
        "piling up.  0: no limit but the HTTP threads."),
    CFG_U(http_threads, 0, 1024,
        "HTTP worker threads; 0 means four per CPU core."),
    CFG_U(max_body, 1024, 64 * 1024 * 1024,
        "Largest request body accepted, in bytes."),
    CFG_U(http_conn_timeout, 1, 3600,
        "Seconds an HTTP connection may stay idle (a slow or silent\n"
        "client included) before it is closed."),
    CFG_U(http_conn_limit, 1, 65536,
        "Most HTTP connections open at once; more are refused."),
    CFG_S(tls_cert, CFG_PATH, NULL, true,
        "PEM certificate chain for HTTPS (the server's certificate\n"
        "first); with tls_key, certsvcd serves HTTPS only (TLS 1.2 or\n"
        "newer).  Empty: plain HTTP, behind a TLS-terminating proxy."),
    CFG_S(tls_key, CFG_PATH, NULL, true,
        "PEM private key of tls_cert, mode 0600 or stricter."),
    CFG_U(db_conns, 1, 64, "Database connections in the pool."),
    CFG_U(audit_checkpoint_events, 1, 100000000,
        "Sign an audit checkpoint after this many new events."),
    CFG_U(audit_checkpoint_seconds, 10, 86400 * 7,
        "Or after this many seconds, when there are new events."),
    CFG_S(log_file, CFG_PATH, NULL, true,
        "File the log is appended to, one JSON line per record (SIGHUP\n"
        "reopens it, for logrotate); empty for standard error."),
    CFG_S(web_dir, CFG_PATH, NULL, true,
        "Directory of the verification page served at /verify; empty for\n"
        "the one installed with certsvc."),
    CFG_U(code_fail_limit_client, 1, 1000000,
        "Failed code redemptions a verifier client may make in one\n"
        "window before it is answered 429."),
    CFG_U(code_fail_limit_addr, 1, 1000000,
        "Failed code redemptions one source address may make in one\n"
        "window before it is answered 429."),
    CFG_U(code_fail_window_seconds, 1, 86400,
        "The window of both limits above, in seconds."),
    CFG_U(web_verify_limit_addr, 0, 1000000,
        "Requests one source address may make to POST /verify (the\n"
        "public verification page, no token) in one window before it is\n"
        "answered 429; 0: no limit (say, behind a proxy that limits, as\n"
        "every request then comes from the proxy's address)."),
    CFG_U(web_verify_window_seconds, 1, 86400,
        "The window of that limit, in seconds."),
    CFG_U(timestamp_seals, 0, 1,
        "1: licence seals carry an RFC 3161 timestamp from certsvc's own\n"
        "timestamp authority (CAdES-T); 0: CAdES-BES seals."),
    CFG_U(timestamp_reports, 0, 1,
        "1: verification reports carry a timestamp as well (a token\n"
        "signature per report); 0: they do not."),
};

#define CFG_NKEYS (sizeof(cfg_keys) / sizeof(cfg_keys[0]))

/* The unsigned member of cfg that k describes. */
static unsigned
cfg_uint_get(const struct cfg *cfg, const struct cfg_key *k)
{
	unsigned v;

	memcpy(&v, (const char *)cfg + k->off, sizeof(v));
	return v;
}

/* --- validation ---------------------------------------------------------- */

static const char *
cfg_check_listen(const char *v)
{
	const char *colon = strrchr(v, ':');
	long long port;

	if (colon == NULL || colon == v ||
	    !cs_parse_ll(colon + 1, 0, 65535, &port))
		return "must be host:port with a port from 0 to 65535";
	return NULL;
}

static const char *
cfg_check_url(const char *v)
{
	const char *p;

	if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
		return "must start with http:// or https://";
	for (p = v; *p != '\0'; p++)
		if (isspace((unsigned char)*p))
			return "must not contain blank space";
	return NULL;
}

static const char *
cfg_check_label(const char *v)
{
	return strlen(v) > 32 ? "must have 1 to 32 bytes" : NULL;
}

static const char *
cfg_check_org(const char *v)
{
	return strlen(v) > 64 ? "must have 1 to 64 bytes" : NULL;
}

static const char *
cfg_check_country(const char *v)
{
	if (strlen(v) != 2 || v[0] < 'A' || v[0] > 'Z' || v[1] < 'A' ||
	    v[1] > 'Z')
		return "must be two capital letters";
	return NULL;
}

static const char *
cfg_check_level(const char *v)
{
	enum cs_log_level level;

	if (!cs_log_level_parse(v, &level))
		return "must be error, warn, info or debug";
	return NULL;
}

/*
 * Set key k of cfg from value; where is "certsvc.conf line N" or the name
 * of an environment variable, for messages.
 */
static enum cs_rc
cfg_set(struct cfg *cfg, const struct cfg_key *k, const char *value,
    const char *where, struct cs_err *err)
{
	char *dst = (char *)cfg + k->off;
	const char *why;
	const char *p;
	long long n;
	unsigned u;
	int len;

	for (p = value; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return cs_err_set(err, CS_ERR_INVALID,
			    "%s: %s must not contain control characters", where,
			    k->name);
	if (k->type == CFG_UINT) {
		if (!cs_parse_ll(value, k->min, k->max, &n))
			return cs_err_set(err, CS_ERR_INVALID,
			    "%s: %s must be an integer from %u to %u", where,
			    k->name, k->min, k->max);
		u = (unsigned)n;
		memcpy(dst, &u, sizeof(u));
		return CS_OK;
	}
	if (*value == '\0' && !k->optional)
		return cs_err_set(err, CS_ERR_INVALID,
		    "%s: %s must not be empty", where, k->name);
	if (*value != '\0' && k->check != NULL) {
		why = k->check(value);
		if (why != NULL)
			return cs_err_set(err, CS_ERR_INVALID, "%s: %s %s",
			    where, k->name, why);
	}
	memset(dst, 0, k->size);
	if (k->type == CFG_PATH && *value != '\0' && *value != '/')
		len = snprintf(dst, k->size, "%s/%s", cfg->data_dir, value);
	else
		len = snprintf(dst, k->size, "%s", value);
	if (len < 0 || (size_t)len >= k->size) {
		dst[0] = '\0';
		return cs_err_set(err, CS_ERR_INVALID,
		    "%s: %s is longer than %zu bytes", where, k->name,
		    k->size - 1);
	}
	return CS_OK;
}

/* --- defaults ------------------------------------------------------------ */

/* dst = dir/name; "" (which no path key accepts) when it does not fit. */
static bool
cfg_join(char *dst, size_t dstsz, const char *dir, const char *name)
{
	int n;

	n = snprintf(dst, dstsz, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= dstsz) {
		dst[0] = '\0';
		return false;
	}
	return true;
}

void
cfg_defaults(struct cfg *cfg, const char *data_dir)
{
	size_t n;

	memset(cfg, 0, sizeof(*cfg));
	if (data_dir == NULL || *data_dir == '\0')
		data_dir = ".";
	snprintf(cfg->data_dir, sizeof(cfg->data_dir), "%s", data_dir);
	/* "var/" and "var" are the same dir: keep joined paths tidy. */
	n = strlen(cfg->data_dir);
	while (n > 1 && cfg->data_dir[n - 1] == '/')
		cfg->data_dir[--n] = '\0';
	cfg_join(cfg->path, sizeof(cfg->path), cfg->data_dir, "certsvc.conf");
	snprintf(cfg->listen, sizeof(cfg->listen), "127.0.0.1:8080");
	snprintf(
	    cfg->public_url, sizeof(cfg->public_url), "http://127.0.0.1:8080");
	cfg_join(
	    cfg->db_path, sizeof(cfg->db_path), cfg->data_dir, "certsvc.db");
	snprintf(cfg->module, sizeof(cfg->module),
	    "/usr/lib/softhsm/libsofthsm2.so");
	snprintf(cfg->token_label, sizeof(cfg->token_label), "certsvc");
	cfg_join(cfg->pin_file, sizeof(cfg->pin_file), cfg->data_dir, "pin");
	cfg_join(cfg->softhsm2_conf, sizeof(cfg->softhsm2_conf), cfg->data_dir,
	    "softhsm2.conf");
	snprintf(cfg->ca_org, sizeof(cfg->ca_org), "certsvc demo");
	snprintf(cfg->ca_country, sizeof(cfg->ca_country), "CN");
	snprintf(cfg->log_level, sizeof(cfg->log_level), "info");
	cfg->pool_size = 0;
	cfg->token_timeout_ms = 2000;
	cfg->token_queue_max = 0;
	cfg->http_threads = 0;
	cfg->max_body = 1048576;
	cfg->http_conn_timeout = 30;
	cfg->http_conn_limit = 1024;
	cfg->tls_cert[0] = '\0';
	cfg->tls_key[0] = '\0';
	cfg->db_conns = 8;
	cfg->audit_checkpoint_events = 1000;
	cfg->audit_checkpoint_seconds = 3600;
	cfg->log_file[0] = '\0';
	cfg->web_dir[0] = '\0';
	cfg->code_fail_limit_client = 20;
	cfg->code_fail_limit_addr = 20;
	cfg->code_fail_window_seconds = 300;
	cfg->web_verify_limit_addr = 60;
	cfg->web_verify_window_seconds = 60;
	cfg->timestamp_seals = 1;
	cfg->timestamp_reports = 0;
}

/* --- the file ------------------------------------------------------------ */

static const struct cfg_key *
cfg_key_find(const char *name)
{
	size_t i;

	for (i = 0; i < CFG_NKEYS; i++)
		if (strcmp(cfg_keys[i].name, name) == 0)
			return &cfg_keys[i];
	return NULL;
}

/*
 * Split line (NUL-terminated, modified in place) into *key and *value.
 * Returns NULL, or what is wrong with the line.  *key is NULL for a blank
 * or comment line.
 */
static const char *
cfg_line_split(char *line, char **key, char **value)
{
	char *p, *q, *end;

	*key = NULL;
	*value = NULL;
	for (p = line; *p == ' ' || *p == '\t'; p++)
		;
	if (*p == '\0' || *p == '#')
		return NULL;
	*key = p;
	while (*p == '_' || islower((unsigned char)*p) ||
	    isdigit((unsigned char)*p))
		p++;
	end = p;
	while (*p == ' ' || *p == '\t')
		p++;
	if (end == *key || *p != '=')
		return "expected 'key = value'";
	*end = '\0';
	for (p++; *p == ' ' || *p == '\t'; p++)
		;
	if (*p == '"') {
		/* Quoted: unescape in place up to the closing quote. */
		*value = q = ++p;
		for (; *p != '"'; p++) {
			if (*p == '\0')
				return "unterminated quoted value";
			if (*p == '\\') {
				p++;
				if (*p != '"' && *p != '\\')
					return "only \\\" and \\\\ may be "
					       "escaped in a quoted value";
			}
			*q++ = *p;
		}
		*q = '\0';
		for (p++; *p == ' ' || *p == '\t'; p++)
			;
		if (*p != '\0' && *p != '#')
			return "text after the closing quote";
		return NULL;
	}
	*value = p;
	/* Unquoted: up to a '#' after blank space, then trim. */
	for (q = p; *q != '\0'; q++) {
		if (*q == '#' && q > p && (q[-1] == ' ' || q[-1] == '\t')) {
			*q = '\0';
			break;
		}
	}
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return NULL;
}

/* Parse text (NUL-terminated, modified in place) over cfg. */
static enum cs_rc
cfg_parse(struct cfg *cfg, char *text, size_t len, const char *name,
    struct cs_err *err)
{
	bool seen[CFG_NKEYS] = {false};
	const struct cfg_key *k;
	char where[128], *line, *next, *key, *value;
	const char *why;
	unsigned lineno = 0;
	enum cs_rc rc;
	size_t n;

	if (memchr(text, '\0', len) != NULL)
		return cs_err_set(
		    err, CS_ERR_INVALID, "%s: NUL byte in file", name);
	for (line = text; line != NULL && *line != '\0'; line = next) {
		lineno++;
		snprintf(where, sizeof(where), "%s line %u", name, lineno);
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		n = strlen(line);
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if (n > CFG_LINE_MAX)
			return cs_err_set(err, CS_ERR_INVALID,
			    "%s: longer than %d bytes", where, CFG_LINE_MAX);
		why = cfg_line_split(line, &key, &value);
		if (why != NULL)
			return cs_err_set(
			    err, CS_ERR_INVALID, "%s: %s", where, why);
		if (key == NULL)
			continue;
		k = cfg_key_find(key);
		if (k == NULL &&
		    (strcmp(key, "pin") == 0 || strcmp(key, "user_pin") == 0))
			return cs_err_set(err, CS_ERR_INVALID,
			    "%s: unknown key '%s' (the PIN is read from "
			    "pin_file or CERTSVC_PIN, never from here)",
			    where, key);
		if (k == NULL)
			return cs_err_set(err, CS_ERR_INVALID,
			    "%s: unknown key '%.64s'", where, key);
		if (seen[k - cfg_keys])
			return cs_err_set(err, CS_ERR_INVALID,
			    "%s: %s is set twice", where, k->name);
		seen[k - cfg_keys] = true;
		rc = cfg_set(cfg, k, value, where, err);
		if (rc != CS_OK)
			return rc;
	}
	return CS_OK;
}

/* Apply CERTSVC_<KEY> for every key. */
static enum cs_rc
cfg_env(struct cfg *cfg, struct cs_err *err)
{
	char var[64];
	const char *value;
	enum cs_rc rc;
	size_t i, j;

	for (i = 0; i < CFG_NKEYS; i++) {
		snprintf(var, sizeof(var), "CERTSVC_%s", cfg_keys[i].name);
		for (j = 8; var[j] != '\0'; j++)
			var[j] = (char)toupper((unsigned char)var[j]);
		value = getenv(var);
		if (value == NULL)
			continue;
		rc = cfg_set(cfg, &cfg_keys[i], value, var, err);
		if (rc != CS_OK)
			return rc;
	}
	return CS_OK;
}

enum cs_rc
cfg_load(const char *path, struct cfg *cfg, struct cs_err *err)
{
	char dir[PATH_MAX], base[PATH_MAX], real[PATH_MAX];
	struct buf *text = NULL;
	enum cs_rc rc;

	if (path == NULL || !cs_strlcpy(dir, path, sizeof(dir)) ||
	    !cs_strlcpy(base, path, sizeof(base)))
		return cs_err_set(
		    err, CS_ERR_INVALID, "configuration path too long");
	/* dirname() and basename() may modify their argument: copies. */
	if (realpath(dirname(dir), real) == NULL)
		return cs_err_set(err,
		    errno == ENOENT ? CS_ERR_NOT_FOUND : CS_ERR_IO,
		    "cannot resolve the directory of '%s': %s", path,
		    strerror(errno));
	cfg_defaults(cfg, real);
	if (snprintf(cfg->path, sizeof(cfg->path), "%s/%s", cfg->data_dir,
	        basename(base)) >= (int)sizeof(cfg->path))
		return cs_err_set(
		    err, CS_ERR_INVALID, "configuration path too long");
	rc = cs_file_read(cfg->path, CFG_FILE_MAX, &text, err);
	if (rc != CS_OK)
		goto out;
	rc = cfg_parse(cfg, (char *)text->data, text->len, basename(base), err);
	if (rc != CS_OK)
		goto out;
	rc = cfg_env(cfg, err);
out:
	buf_free(text);
	return rc;
}

/* --- rendering ----------------------------------------------------------- */

/* The text of value as the file would hold it (quoted if need be). */
static enum cs_rc
cfg_render_value(struct buf *b, const char *v)
{
	bool quote;
	const char *p;
	enum cs_rc rc;

	quote = *v == '\0' || *v == ' ' || *v == '"' ||
	    v[strlen(v) - 1] == ' ' || strpbrk(v, "#\\\" \t") != NULL;
	if (!quote)
		return buf_append_str(b, v);
	rc = buf_append_str(b, "\"");
	for (p = v; *p != '\0' && rc == CS_OK; p++) {
		if (*p == '"' || *p == '\\')
			rc = buf_append(b, "\\", 1);
		if (rc == CS_OK)
			rc = buf_append(b, p, 1);
	}
	if (rc == CS_OK)
		rc = buf_append_str(b, "\"");
	return rc;
}

/* A path as the file holds it: relative when it is inside data_dir. */
static const char *
cfg_rel(const struct cfg *cfg, const char *path)
{
	size_t n = strlen(cfg->data_dir);

	if (n > 0 && strncmp(path, cfg->data_dir, n) == 0 && path[n] == '/' &&
	    path[n + 1] != '\0')
		return path + n + 1;
	return path;
}

/* Append the comment lines of doc, each prefixed with "# ". */
static enum cs_rc
cfg_render_doc(struct buf *b, const char *doc)
{
	const char *p, *nl;
	enum cs_rc rc = CS_OK;

	for (p = doc; rc == CS_OK && *p != '\0'; p = nl) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			nl = p + strlen(p);
		rc = buf_printf(b, "# %.*s\n", (int)(nl - p), p);
		if (*nl == '\n')
			nl++;
	}
	return rc;
}

static const char cfg_header[] =
    "# certsvc.conf: configuration of certsvcd and certsvc-admin.\n"
    "#\n"
    "# One \"key = value\" per line.  Lines starting with '#' are comments,\n"
    "# and so is the rest of a line from a '#' after blank space.  Values\n"
    "# may be double-quoted (with \\\" and \\\\ inside).  Relative paths are\n"
    "# relative to the directory of this file.  Unknown keys are errors.\n"
    "# Every key can be overridden by the environment variable\n"
    "# CERTSVC_<KEY> in capitals, e.g. CERTSVC_LISTEN=0.0.0.0:8080.\n"
    "#\n"
    "# The token PIN is never written here: it is read from pin_file, or\n"
    "# from the environment variable CERTSVC_PIN.\n";

enum cs_rc
cfg_render(const struct cfg *cfg, char **out, struct cs_err *err)
{
	struct cfg defs;
	const struct cfg_key *k;
	const char *v, *dv, *p;
	struct buf *b;
	enum cs_rc rc;
	size_t i;

	*out = NULL;
	cfg_defaults(&defs, cfg->data_dir);
	b = buf_new(4096);
	if (b == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	rc = buf_append_str(b, cfg_header);
	for (i = 0; i < CFG_NKEYS && rc == CS_OK; i++) {
		k = &cfg_keys[i];
		rc = buf_append_str(b, "\n");
		if (rc == CS_OK)
			rc = cfg_render_doc(b, k->doc);
		if (rc != CS_OK)
			break;
		if (k->type == CFG_UINT) {
			rc = buf_printf(b,
			    "# Default: %u (from %u to %u)\n%s = %u\n",
			    cfg_uint_get(&defs, k), k->min, k->max, k->name,
			    cfg_uint_get(cfg, k));
			continue;
		}
		v = (const char *)cfg + k->off;
		dv = (const char *)&defs + k->off;
		for (p = v; *p != '\0'; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				rc = cs_err_set(err, CS_ERR_INVALID,
				    "%s must not contain control characters",
				    k->name);
				goto out;
			}
		}
		if (k->type == CFG_PATH) {
			v = cfg_rel(cfg, v);
			dv = cfg_rel(&defs, dv);
		}
		rc = buf_printf(b,
		    "# Default: %s%s\n%s = ", *dv ? dv : "(empty)",
		    k->type == CFG_PATH && *dv != '/' && *dv != '\0'
		        ? " (in this directory)"
		        : "",
		    k->name);
		if (rc == CS_OK)
			rc = cfg_render_value(b, v);
		if (rc == CS_OK)
			rc = buf_append_str(b, "\n");
	}
	if (rc != CS_OK) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* b->data is calloc()ed and NUL-terminated: hand it over as is. */
	*out = (char *)b->data;
	free(b);
	b = NULL;
out:
	buf_free(b);
	return rc;
}

/* --- the PIN ------------------------------------------------------------- */

enum cs_rc
cfg_pin_read(const struct cfg *cfg, char *pin, size_t pinsz, struct cs_err *err)
{
	char tmp[CFG_PIN_FILE_MAX + 1];
	const char *env;
	struct stat sb;
	size_t len = 0, n;
	ssize_t got;
	enum cs_rc rc = CS_OK;
	int fd = -1;

	if (pin == NULL || pinsz < 2)
		return cs_err_set(err, CS_ERR_INVALID, "pin buffer too small");
	OPENSSL_cleanse(pin, pinsz);
	env = getenv("CERTSVC_PIN");
	if (env != NULL && *env != '\0') {
		if (!cs_strlcpy(pin, env, pinsz))
			return cs_err_set(err, CS_ERR_INVALID,
			    "CERTSVC_PIN is longer than %zu bytes", pinsz - 1);
		return CS_OK;
	}
	if (cfg->pin_file[0] == '\0')
		return cs_err_set(
		    err, CS_ERR_INVALID, "no pin: set pin_file or CERTSVC_PIN");
	fd = open(cfg->pin_file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return cs_err_set(err,
		    errno == ENOENT ? CS_ERR_NOT_FOUND : CS_ERR_IO,
		    "cannot open pin file '%s': %s", cfg->pin_file,
		    strerror(errno));
	if (fstat(fd, &sb) != 0) {
		rc = cs_err_set(err, CS_ERR_IO, "cannot stat pin file '%s': %s",
		    cfg->pin_file, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "pin file '%s' is not a regular file", cfg->pin_file);
		goto out;
	}
	if ((sb.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "pin file '%s' must have mode 0600 or stricter",
		    cfg->pin_file);
		goto out;
	}
	for (;;) {
		got = read(fd, tmp + len, sizeof(tmp) - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = cs_err_set(err, CS_ERR_IO,
			    "cannot read pin file '%s': %s", cfg->pin_file,
			    strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		len += (size_t)got;
		if (len == sizeof(tmp)) {
			rc = cs_err_set(err, CS_ERR_INVALID,
			    "pin file '%s' is larger than %d bytes",
			    cfg->pin_file, CFG_PIN_FILE_MAX);
			goto out;
		}
	}
	/* The first line, without its line end. */
	for (n = 0; n < len && tmp[n] != '\n'; n++)
		;
	if (n > 0 && tmp[n - 1] == '\r')
		n--;
	if (n == 0 || memchr(tmp, '\0', n) != NULL) {
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "pin file '%s' has no pin on its first line",
		    cfg->pin_file);
		goto out;
	}
	if (n >= pinsz) {
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "pin in pin file '%s' is longer than %zu bytes",
		    cfg->pin_file, pinsz - 1);
		goto out;
	}
	memcpy(pin, tmp, n);
	pin[n] = '\0';
out:
	OPENSSL_cleanse(tmp, sizeof(tmp));
	if (rc != CS_OK)
		OPENSSL_cleanse(pin, pinsz);
	if (fd >= 0)
		close(fd);
	return rc;
}
