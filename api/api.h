/*
 * api.h: certsvcd's HTTP layer (libmicrohttpd).  Routes are a static table;
 * each request gets one struct api_req that owns everything allocated for
 * it and is freed in MHD's completed callback.
 */
#ifndef CERTSVC_API_H
#define CERTSVC_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "certsvc/err.h"
#include "certsvc/mem.h"
#include "certsvc/client.h"
#include "certsvc/svc.h"

struct api_server;

struct api_req {
	struct api_server *srv;
	struct svc *svc;
	struct MHD_Connection *conn;
	const char *method;
	const char *url;
	struct buf *body; /* request body, NULL when none */
	bool body_too_large;
	int route;  /* index in the route table, -1 if none */
	int status; /* status of the response queued */
	uint64_t start_ns;
	char request_id[33];
	/* The authenticated client (api_authenticate), "" before: logs. */
	char client_id[STORE_CODE_MAX];
};

typedef enum MHD_Result (*api_handler_fn)(struct api_req *req);

struct api_route {
	const char *method; /* "GET", "POST", ... */
	const char *path;   /* exact path, or prefix when it ends in '*' */
	const char *name;   /* route name in metrics and logs */
	api_handler_fn fn;
};

/* The table of api/routes_*.c, terminated by a NULL method. */
extern const struct api_route api_routes[];

struct api_options {
	const char *listen; /* host:port; port 0 picks a free one */
	unsigned threads;   /* 0 = online cores */
	size_t max_body;
	unsigned conn_timeout_s;
	unsigned conn_limit;
	/* PEM texts (lent until api_server_stop); both set: HTTPS only. */
	const char *tls_cert_pem;
	const char *tls_key_pem;
};

/*
 * Start serving svc (which must outlive the server).  *out is given
 * (api_server_stop).  The bound port is returned by api_server_port().
 */
enum cs_rc api_server_start(struct svc *svc, const struct api_options *opts,
    struct api_server **out, struct cs_err *err);
unsigned api_server_port(const struct api_server *srv);
void api_server_stop(struct api_server *srv);

/* Queue a response; they return what the MHD access handler returns. */
enum MHD_Result api_reply(struct api_req *req, int status,
    const char *content_type, const void *data, size_t len);
/*
 * api_reply() with more headers: headers is NULL or a NULL-terminated list
 * of name, value pairs (lent; MHD copies them).  An empty body with status
 * 304 is allowed.
 */
enum MHD_Result api_reply_ex(struct api_req *req, int status,
    const char *content_type, const void *data, size_t len,
    const char *const *headers);
enum MHD_Result api_reply_json(struct api_req *req, int status, json_t *obj);
enum MHD_Result api_reply_error(
    struct api_req *req, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
enum MHD_Result api_reply_rc(struct api_req *req, const struct cs_err *err);

/*
 * Authenticate the request's bearer token.  On failure a 401 (with
 * WWW-Authenticate) is queued, *ret holds what to return and false comes
 * back.
 */
bool api_authenticate(
    struct api_req *req, struct client_principal *p, enum MHD_Result *ret);

/*
 * Parse the body as a JSON object, requiring Content-Type application/json
 * (415 otherwise) and a well-formed body (400 with line and column).  On
 * failure a response is queued, *ret holds what to return, NULL comes
 * back; else the value is given (json_decref).
 */
json_t *api_json_body(struct api_req *req, enum MHD_Result *ret);

/* The path after prefix (which url starts with), e.g. an id. */
const char *api_path_rest(const struct api_req *req, const char *prefix);

/*
 * Write the HTTP request counters and the latency histograms per route in
 * Prometheus text format.
 */
enum cs_rc api_metrics_http(struct api_server *srv, struct buf *out);

/*
 * Token signatures by key purpose, the audit trail and the age of what is
 * pre-signed (api/metrics.c, docs/observability.md).
 */
enum cs_rc api_metrics_evidence(struct api_req *req, struct buf *out);

#endif
