/*
 * server.c: libmicrohttpd set-up, routing, body limits and the error shape
 * {"error":{"code","message"}} of every failure.  Counters and latency
 * histograms are atomics indexed by route and status, so /metrics costs no
 * lock on the hot path.  Every request ends with one log record (request
 * id, route, method, path, status, latency, client id): never a header, a
 * body or a query string, so no secret and no holder identifier.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "api/api.h"
#include "certsvc/jcs.h"
#include "certsvc/log.h"
#include "pkcs11/p11.h"

#define API_MAX_ROUTES 64
#define API_THREADS_PER_CORE 4 /* http_threads = 0 */
#define API_ROUTE_OTHER (API_MAX_ROUTES - 1)

static const int api_status_codes[] = {
    200, 201, 204, 304, 400, 401, 403, 404, 405, 409, 413, 415, 429, 500, 503};
#define API_NSTATUS (sizeof(api_status_codes) / sizeof(api_status_codes[0]))

struct api_server {
	struct svc *svc;
	struct MHD_Daemon *mhd;
	size_t max_body;
	unsigned port;
	/* [route][status index]; the last status column counts "other". */
	atomic_uint_fast64_t requests[API_MAX_ROUTES][API_NSTATUS + 1];
	struct cs_hist latency[API_MAX_ROUTES]; /* by route */
	uint64_t rid_prefix;                    /* api_request_id() */
	atomic_uint_fast64_t rid_next;
};

static int
api_status_index(int status)
{
	size_t i;

	for (i = 0; i < API_NSTATUS; i++)
		if (api_status_codes[i] == status)
			return (int)i;
	return (int)API_NSTATUS;
}

/* Whether url is r's path, or starts with it when it ends in '*'. */
static bool
api_route_matches(const struct api_route *r, const char *url)
{
	size_t n = strlen(r->path);

	if (n > 0 && r->path[n - 1] == '*')
		return strncmp(url, r->path, n - 1) == 0;
	return strcmp(url, r->path) == 0;
}

enum MHD_Result
api_reply(struct api_req *req, int status, const char *content_type,
    const void *data, size_t len)
{
	return api_reply_ex(req, status, content_type, data, len, NULL);
}

enum MHD_Result
api_reply_ex(struct api_req *req, int status, const char *content_type,
    const void *data, size_t len, const char *const *headers)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t i;

	resp = MHD_create_response_from_buffer(
	    len, (void *)data, MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	if (content_type != NULL)
		MHD_add_response_header(
		    resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	for (i = 0;
	     headers != NULL && headers[i] != NULL && headers[i + 1] != NULL;
	     i += 2) {
		if (MHD_add_response_header(resp, headers[i], headers[i + 1]) !=
		    MHD_YES) {
			MHD_destroy_response(resp);
			return MHD_NO;
		}
	}
	MHD_add_response_header(resp, "X-Request-Id", req->request_id);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (status == 405) {
		/* Allow lists the methods the path does take. */
		char allow[64] = "";
		const struct api_route *r;

		for (r = api_routes; r->method != NULL; r++) {
			if (!api_route_matches(r, req->url) ||
			    strstr(allow, r->method) != NULL)
				continue;
			if (allow[0] != '\0')
				strncat(allow, ", ",
				    sizeof(allow) - strlen(allow) - 1);
			strncat(allow, r->method,
			    sizeof(allow) - strlen(allow) - 1);
			if (strcmp(r->method, "GET") == 0)
				strncat(allow, ", HEAD",
				    sizeof(allow) - strlen(allow) - 1);
		}
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	}
	req->status = status;
	ret = MHD_queue_response(req->conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result
api_reply_json(struct api_req *req, int status, json_t *obj)
{
	enum MHD_Result ret;
	char *text;

	text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (text == NULL)
		return api_reply_error(
		    req, 500, "out_of_memory", "cannot encode response");
	ret = api_reply(req, status, "application/json", text, strlen(text));
	free(text);
	return ret;
}

/* The answer when not even the error can be encoded. */
static const char api_oom[] =
    "{\"error\":{\"code\":\"out_of_memory\",\"message\":\"\"}}";

/* {"error":{"code","message"}} with status and headers (may be NULL). */
static enum MHD_Result
api_reply_error_hdr(struct api_req *req, int status, const char *const *headers,
    const char *code, const char *msg)
{
	enum MHD_Result ret;
	json_t *obj;
	char *text;

	obj = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
	text = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	if (text == NULL)
		return api_reply(
		    req, 500, "application/json", api_oom, sizeof(api_oom) - 1);
	ret = api_reply_ex(
	    req, status, "application/json", text, strlen(text), headers);
	free(text);
	return ret;
}

enum MHD_Result
api_reply_error(
    struct api_req *req, int status, const char *code, const char *fmt, ...)
{
	char msg[CS_ERR_MSG_MAX];
	struct cs_err e = {0};
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	/* UTF-8, as JSON needs, whatever a "%.64s" of the URL cut. */
	cs_err_set(&e, CS_ERR_INVALID, "%s", msg);
	return api_reply_error_hdr(req, status, NULL, code, e.msg);
}

enum MHD_Result
api_reply_rc(struct api_req *req, const struct cs_err *err)
{
	static const char *const retry[] = {"Retry-After", "1", NULL};
	int status = cs_rc_http_status(err->rc);

	/*
	 * 503: the token or the store failed and nothing was written (a
	 * state change and its audit event commit together or not at all):
	 * not the caller's fault, worth a retry.
	 */
	return api_reply_error_hdr(req, status, status == 503 ? retry : NULL,
	    cs_rc_name(err->rc), err->msg);
}

bool
api_authenticate(
    struct api_req *req, struct client_principal *p, enum MHD_Result *ret)
{
	struct MHD_Response *resp;
	struct cs_err err = {0};
	const char *auth;
	char *text;

	auth = MHD_lookup_connection_value(
	    req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (client_authenticate(req->svc, auth, p, &err) == CS_OK) {
		cs_strlcpy(req->client_id, p->id, sizeof(req->client_id));
		return true;
	}
	if (err.rc != CS_ERR_AUTH) {
		*ret = api_reply_rc(req, &err);
		return false;
	}
	text = "{\"error\":{\"code\":\"unauthenticated\",\"message\":"
	       "\"missing or invalid bearer token\"}}";
	resp = MHD_create_response_from_buffer(
	    strlen(text), text, MHD_RESPMEM_PERSISTENT);
	if (resp == NULL) {
		*ret = MHD_NO;
		return false;
	}
	MHD_add_response_header(
	    resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(
	    resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"certsvc\"");
	MHD_add_response_header(resp, "X-Request-Id", req->request_id);
	req->status = 401;
	*ret = MHD_queue_response(req->conn, 401, resp);
	MHD_destroy_response(resp);
	return false;
}

json_t *
api_json_body(struct api_req *req, enum MHD_Result *ret)
{
	struct cs_err err = {0};
	const char *ct;
	json_t *v = NULL;
	size_t n;

	ct = MHD_lookup_connection_value(
	    req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	n = strlen("application/json");
	if (ct == NULL || strncasecmp(ct, "application/json", n) != 0 ||
	    (ct[n] != '\0' && ct[n] != ';' && ct[n] != ' ')) {
		*ret = api_reply_error(req, 415, "unsupported_media_type",
		    "Content-Type must be application/json");
		return NULL;
	}
	if (req->body == NULL || req->body->len == 0) {
		*ret = api_reply_error(
		    req, 400, "invalid", "body: a JSON object is required");
		return NULL;
	}
	if (jcs_parse(req->body->data, req->body->len, &v, &err) != CS_OK) {
		*ret =
		    api_reply_error(req, 400, "invalid", "body: %s", err.msg);
		return NULL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		*ret = api_reply_error(
		    req, 400, "invalid", "body: must be a JSON object");
		return NULL;
	}
	return v;
}

const char *
api_path_rest(const struct api_req *req, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(req->url, prefix, n) == 0 ? req->url + n : "";
}

/* Find the route for method and url; *path_match tells a 405 from a 404. */
static int
api_route_find(const char *method, const char *url, bool *path_match)
{
	const struct api_route *r;
	int i;

	*path_match = false;
	for (i = 0, r = api_routes; r->method != NULL; r++, i++) {
		if (!api_route_matches(r, url))
			continue;
		*path_match = true;
		if (strcmp(method, r->method) == 0 ||
		    (strcmp(method, "HEAD") == 0 &&
		        strcmp(r->method, "GET") == 0))
			return i;
	}
	return -1;
}

/*
 * Request ids: a random 64-bit prefix drawn when the server starts and a
 * counter, as 32 hex digits.  Unique per process and unpredictable across
 * restarts, without a DRBG call (and its lock) per request.
 */
static void
api_request_id(struct api_server *srv, char out[33])
{
	static const char hex[] = "0123456789abcdef";
	uint64_t n = atomic_fetch_add(&srv->rid_next, 1), p = srv->rid_prefix;
	int i;

	for (i = 15; i >= 0; i--, p >>= 4)
		out[i] = hex[p & 15];
	for (i = 31; i >= 16; i--, n >>= 4)
		out[i] = hex[n & 15];
	out[32] = '\0';
}

static enum MHD_Result
api_access(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_size, void **con_cls)
{
	struct api_server *srv = cls;
	struct api_req *req = *con_cls;
	enum MHD_Result ret;
	bool path_match;

	(void)version;
	if (req == NULL) {
		req = calloc(1, sizeof(*req));
		if (req == NULL)
			return MHD_NO;
		req->srv = srv;
		req->svc = srv->svc;
		req->conn = conn;
		req->method = method;
		req->url = url;
		req->start_ns = cs_now_ns();
		api_request_id(srv, req->request_id);
		req->route = api_route_find(method, url, &path_match);
		if (req->route < 0)
			req->route = path_match ? -2 : -1;
		*con_cls = req;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (!req->body_too_large && req->body == NULL)
			req->body = buf_new(*upload_size);
		if (req->body_too_large || req->body == NULL ||
		    req->body->len + *upload_size > srv->max_body ||
		    buf_append(req->body, upload_data, *upload_size) != CS_OK) {
			req->body_too_large = true;
			buf_free(req->body);
			req->body = NULL;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (req->route == -1)
		return api_reply_error(
		    req, 404, "not_found", "no route for '%s'", url);
	if (req->route == -2)
		return api_reply_error(req, 405, "method_not_allowed",
		    "method %s not allowed on '%s'", method, url);
	if (req->body_too_large)
		return api_reply_error(req, 413, "too_large",
		    "request body is larger than %zu bytes", srv->max_body);
	/* All the token calls of one request share one token_timeout_ms. */
	p11_thread_deadline_set(cs_now_ns() +
	    (uint64_t)req->svc->cfg.token_timeout_ms * 1000000ULL);
	ret = api_routes[req->route].fn(req);
	p11_thread_deadline_set(0);
	return ret;
}

/*
 * The request's log record.  The path is the URL without its query
 * string (MHD keeps that apart): ids only, by design of the routes (a
 * holder's paths name codes and licences by id, never the holder).
 */
static void
api_log_request(const struct api_req *req, uint64_t ns, bool completed)
{
	char members[1024], path[320], method[24];
	enum cs_log_level level;
	uint64_t us = ns / 1000;

	level =
	    req->status >= 500 || req->status == 0 ? CS_LOG_WARN : CS_LOG_INFO;
	if (!cs_log_enabled(level))
		return;
	cs_log_escape(req->url != NULL ? req->url : "", path, sizeof(path));
	cs_log_escape(
	    req->method != NULL ? req->method : "", method, sizeof(method));
	snprintf(members, sizeof(members),
	    "\"request_id\":\"%s\",\"route\":\"%s\",\"method\":\"%s\","
	    "\"path\":\"%s\",\"status\":%d,\"latency_ms\":%llu.%03u%s%s%s%s",
	    req->request_id,
	    req->route >= 0 ? api_routes[req->route].name : "other", method,
	    path, req->status, (unsigned long long)(us / 1000),
	    (unsigned)(us % 1000), /* integers: %f is the costly conversion */
	    req->client_id[0] != '\0' ? ",\"client_id\":\"" : "",
	    req->client_id, req->client_id[0] != '\0' ? "\"" : "",
	    completed ? "" : ",\"aborted\":true");
	cs_log_rec(level, "request", members);
}

static void
api_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct api_server *srv = cls;
	struct api_req *req = *con_cls;
	uint64_t ns;
	int route;

	(void)conn;
	if (req == NULL)
		return;
	ns = cs_now_ns() - req->start_ns;
	route = req->route >= 0 && req->route < API_ROUTE_OTHER
	    ? req->route
	    : API_ROUTE_OTHER;
	if (req->status != 0) {
		atomic_fetch_add_explicit(
		    &srv->requests[route][api_status_index(req->status)], 1,
		    memory_order_relaxed);
		cs_hist_observe(&srv->latency[route], ns);
	}
	api_log_request(req, ns, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
	buf_free(req->body);
	free(req);
	*con_cls = NULL;
}

/* MHD's format string: the attribute lets clang check the vsnprintf. */
static void __attribute__((format(printf, 2, 0)))
api_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		return;
	msg[strcspn(msg, "\n")] = '\0';
	cs_log(CS_LOG_WARN, "http: %s", msg);
}

/* Split "host:port" or "[v6]:port" and resolve it. */
static enum cs_rc
api_parse_listen(const char *listen, struct sockaddr_storage *ss,
    socklen_t *sslen, struct cs_err *err)
{
	char host[256], port[16];
	const char *colon;
	struct addrinfo hints, *res = NULL;
	size_t hlen;

	if (listen[0] == '[') {
		colon = strstr(listen, "]:");
		if (colon == NULL)
			goto bad;
		hlen = (size_t)(colon - listen - 1);
		if (hlen >= sizeof(host))
			goto bad;
		memcpy(host, listen + 1, hlen);
		colon++;
	} else {
		colon = strrchr(listen, ':');
		if (colon == NULL)
			goto bad;
		hlen = (size_t)(colon - listen);
		if (hlen >= sizeof(host))
			goto bad;
		memcpy(host, listen, hlen);
	}
	host[hlen] = '\0';
	if (!cs_strlcpy(port, colon + 1, sizeof(port)) || port[0] == '\0')
		goto bad;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	if (getaddrinfo(hlen > 0 ? host : NULL, port, &hints, &res) != 0 ||
	    res == NULL)
		goto bad;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return CS_OK;
bad:
	return cs_err_set(err, CS_ERR_INVALID,
	    "listen address '%s' is not host:port", listen);
}

enum cs_rc
api_server_start(struct svc *svc, const struct api_options *opts,
    struct api_server **out, struct cs_err *err)
{
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	struct MHD_OptionItem tls[4];
	struct api_server *srv;
	socklen_t sslen;
	unsigned flags, threads;
	long ncpu;
	enum cs_rc rc;

	*out = NULL;
	rc = api_parse_listen(opts->listen, &ss, &sslen, err);
	if (rc != CS_OK)
		return rc;
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	if (RAND_bytes((unsigned char *)&srv->rid_prefix,
	        sizeof(srv->rid_prefix)) != 1) {
		free(srv);
		return cs_err_ossl(err, CS_ERR_CRYPTO, "no random bytes");
	}
	srv->svc = svc;
	srv->max_body = opts->max_body > 0 ? opts->max_body : 1 << 20;
	threads = opts->threads;
	if (threads == 0) {
		/*
		 * Four a core: issuance handlers block on the token and on the
		 * commit, and issuances waiting together share one commit
		 * (group commit), so more handlers than cores fill both
		 * (BENCHMARKS.md); answers served from memory do not mind.
		 */
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		threads = ncpu > 0 ? (unsigned)ncpu * API_THREADS_PER_CORE
		                   : API_THREADS_PER_CORE;
	}
	flags =
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	memset(tls, 0, sizeof(tls));
	tls[0].option = MHD_OPTION_END;
	if (opts->tls_cert_pem != NULL && opts->tls_key_pem != NULL) {
		/* TLS 1.2 minimum (GnuTLS priority string). */
		flags |= MHD_USE_TLS;
		tls[0] = (struct MHD_OptionItem){
		    MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)opts->tls_cert_pem};
		tls[1] = (struct MHD_OptionItem){
		    MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)opts->tls_key_pem};
		tls[2] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
		    (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"};
		tls[3].option = MHD_OPTION_END;
	}
	srv->mhd = MHD_start_daemon(flags, 0, NULL, NULL, api_access, srv,
	    MHD_OPTION_EXTERNAL_LOGGER, api_mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE, threads,
	    MHD_OPTION_CONNECTION_TIMEOUT,
	    opts->conn_timeout_s > 0 ? opts->conn_timeout_s : 30u,
	    MHD_OPTION_CONNECTION_LIMIT,
	    opts->conn_limit > 0 ? opts->conn_limit : 1024u,
	    MHD_OPTION_NOTIFY_COMPLETED, api_completed, srv,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
	    /* RFC 7230: 400 for no Host, no space before a header's colon. */
	    MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_ARRAY, tls,
	    MHD_OPTION_END);
	if (srv->mhd == NULL) {
		free(srv);
		return cs_err_set(err, CS_ERR_IO, "cannot listen on '%s'%s",
		    opts->listen,
		    (flags & MHD_USE_TLS) != 0
		        ? " (or tls_cert and tls_key do not match)"
		        : "");
	}
	info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = info != NULL ? info->port : 0;
	*out = srv;
	return CS_OK;
}

unsigned
api_server_port(const struct api_server *srv)
{
	return srv->port;
}

void
api_server_stop(struct api_server *srv)
{
	if (srv == NULL)
		return;
	MHD_stop_daemon(srv->mhd);
	free(srv);
}

enum cs_rc
api_metrics_http(struct api_server *srv, struct buf *out)
{
	uint64_t v;
	size_t r, s;
	int code;

	if (buf_append_str(out,
	        "# HELP certsvc_http_requests_total HTTP requests by route and "
	        "status.\n# TYPE certsvc_http_requests_total counter\n") !=
	    CS_OK)
		return CS_ERR_NOMEM;
	for (r = 0; r < API_MAX_ROUTES; r++) {
		for (s = 0; s <= API_NSTATUS; s++) {
			v = atomic_load_explicit(
			    &srv->requests[r][s], memory_order_relaxed);
			if (v == 0)
				continue;
			code = s < API_NSTATUS ? api_status_codes[s] : 0;
			if (buf_printf(out,
			        "certsvc_http_requests_total"
			        "{route=\"%s\",code=\"%s%.0d\"} %llu\n",
			        r == API_ROUTE_OTHER ? "other"
			                             : api_routes[r].name,
			        code == 0 ? "other" : "", code,
			        (unsigned long long)v) != CS_OK)
				return CS_ERR_NOMEM;
		}
	}
	if (buf_append_str(out,
	        "# HELP certsvc_http_request_duration_seconds Time from the "
	        "request's first byte to the end of its response, by route.\n"
	        "# TYPE certsvc_http_request_duration_seconds histogram\n") !=
	    CS_OK)
		return CS_ERR_NOMEM;
	for (r = 0; r < API_MAX_ROUTES; r++) {
		char label[96];

		if (cs_hist_count(&srv->latency[r]) == 0)
			continue;
		snprintf(label, sizeof(label), "route=\"%s\"",
		    r == API_ROUTE_OTHER ? "other" : api_routes[r].name);
		if (cs_hist_render(&srv->latency[r],
		        "certsvc_http_request_duration_seconds", label,
		        out) != CS_OK)
			return CS_ERR_NOMEM;
	}
	return CS_OK;
}
