/*
 * err.h: the one error idiom of certsvc.  Every command returns an enum
 * cs_rc; detail for humans travels in an optional struct cs_err whose msg
 * may reach clients, so it never holds a secret or a holder identifier.
 */
#ifndef CERTSVC_ERR_H
#define CERTSVC_ERR_H

#include <stdarg.h>

/* One code per outcome; the comment gives the HTTP status. */
enum cs_rc {
	CS_OK = 0,
	CS_ERR_NOMEM,     /* 500 */
	CS_ERR_INVALID,   /* 400: malformed input, msg names the field */
	CS_ERR_DENIED,    /* 403 */
	CS_ERR_NOT_FOUND, /* 404 */
	CS_ERR_CONFLICT,  /* 409: state forbids it (revoked, code used) */
	CS_ERR_TOKEN,     /* 503: token absent or login failed */
	CS_ERR_STORE,     /* 503: transaction rolled back */
	CS_ERR_CRYPTO,    /* 500: OpenSSL failed, never "bad signature" */
	CS_ERR_IO,        /* 500: a file or socket operation failed */
	CS_ERR_AUTH,      /* 401: no credentials, or unknown/revoked ones */
};

#define CS_ERR_MSG_MAX 256

struct cs_err {
	enum cs_rc rc;
	char msg[CS_ERR_MSG_MAX];
};

/*
 * Fill err (which may be NULL) with rc and a printf-style message and
 * return rc, so that callers can write "return cs_err_set(...)".
 */
enum cs_rc cs_err_set(struct cs_err *err, enum cs_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Like cs_err_set(), for a failed OpenSSL call: logs and clears OpenSSL's
 * error queue (the queue never outlives the failure that filled it).
 */
enum cs_rc cs_err_ossl(struct cs_err *err, enum cs_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reset err to CS_OK with an empty message; NULL does nothing. */
void cs_err_clear(struct cs_err *err);

/* A stable lower-case name for rc, used as the API error code. */
const char *cs_rc_name(enum cs_rc rc);

/* The HTTP status for rc (200 for CS_OK). */
int cs_rc_http_status(enum cs_rc rc);

#endif
