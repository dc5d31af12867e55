/*
 * err.c: error codes, their names and HTTP statuses, and the OpenSSL error
 * queue drain that every OpenSSL failure goes through.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "certsvc/err.h"
#include "certsvc/log.h"
#include "certsvc/mem.h"

/*
 * Replace each byte that starts no well-formed UTF-8 character with '?'.
 * Messages quote request text cut to a length ("%.64s") and are cut to
 * CS_ERR_MSG_MAX, both possibly inside a character; the message reaches
 * clients inside JSON, which must be UTF-8 (found by fuzz/).
 */
static void
err_utf8_fix(char *msg)
{
	size_t n = strlen(msg), i = 0, k;

	while (i < n) {
		for (k = 1; k <= 4 && k <= n - i; k++)
			if (cs_utf8_count(msg + i, k, true) == 1)
				break;
		if (k > 4 || k > n - i) {
			msg[i++] = '?';
			continue;
		}
		i += k;
	}
}

static void __attribute__((format(printf, 3, 0)))
err_vset(struct cs_err *err, enum cs_rc rc, const char *fmt, va_list ap)
{
	if (err == NULL)
		return;
	err->rc = rc;
	if (vsnprintf(err->msg, sizeof(err->msg), fmt, ap) < 0)
		err->msg[0] = '\0';
	err_utf8_fix(err->msg);
}

enum cs_rc
cs_err_set(struct cs_err *err, enum cs_rc rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(err, rc, fmt, ap);
	va_end(ap);
	return rc;
}

static int
err_ossl_line(const char *str, size_t len, void *u)
{
	(void)u;
	cs_log(CS_LOG_DEBUG, "openssl: %.*s", (int)len, str);
	return 1;
}

enum cs_rc
cs_err_ossl(struct cs_err *err, enum cs_rc rc, const char *fmt, ...)
{
	va_list ap;

	ERR_print_errors_cb(err_ossl_line, NULL);
	ERR_clear_error();
	va_start(ap, fmt);
	err_vset(err, rc, fmt, ap);
	va_end(ap);
	return rc;
}

void
cs_err_clear(struct cs_err *err)
{
	if (err == NULL)
		return;
	err->rc = CS_OK;
	err->msg[0] = '\0';
}

const char *
cs_rc_name(enum cs_rc rc)
{
	switch (rc) {
	case CS_OK:
		return "ok";
	case CS_ERR_NOMEM:
		return "out_of_memory";
	case CS_ERR_INVALID:
		return "invalid";
	case CS_ERR_DENIED:
		return "denied";
	case CS_ERR_NOT_FOUND:
		return "not_found";
	case CS_ERR_CONFLICT:
		return "conflict";
	case CS_ERR_TOKEN:
		return "token_unavailable";
	case CS_ERR_STORE:
		return "store";
	case CS_ERR_CRYPTO:
		return "crypto";
	case CS_ERR_IO:
		return "io";
	case CS_ERR_AUTH:
		return "unauthenticated";
	}
	return "internal";
}

int
cs_rc_http_status(enum cs_rc rc)
{
	switch (rc) {
	case CS_OK:
		return 200;
	case CS_ERR_INVALID:
		return 400;
	case CS_ERR_AUTH:
		return 401;
	case CS_ERR_DENIED:
		return 403;
	case CS_ERR_NOT_FOUND:
		return 404;
	case CS_ERR_CONFLICT:
		return 409;
	case CS_ERR_TOKEN:
	case CS_ERR_STORE: /* rolled back, audit event included: retry */
		return 503;
	case CS_ERR_NOMEM:
	case CS_ERR_CRYPTO:
	case CS_ERR_IO:
		break;
	}
	return 500;
}
