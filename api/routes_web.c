/*
 * routes_web.c: the verification page (issue #6).  GET /verify is
 * web/verify.html, GET /static/<name> the page's other files, both read
 * from cfg.web_dir (else the CERTSVC_WEB_DIR the build names) at each
 * request: they are a few kilobytes, and an operator's edit shows at once.
 *
 * Only names made of [a-z0-9-] with one extension we know a type for
 * reach the file system, so no request can name a path (no '/', no '..',
 * nothing MHD decoded from %2e or %2f).  Every answer forbids sniffing,
 * framing and inline script (Content-Security-Policy), so that a file
 * someone manages to place in the directory cannot run as the page.
 *
 * POST /verify is the page's way to verify an envelope without a token:
 * POST /v1/verify's answer for {"envelope"} or {"document", "seal"} under
 * the principal "public", never the licence_id form, so an anonymous
 * caller cannot ask about licences it does not hold.  Each verification
 * costs a signed report, and no token names the caller, so every request
 * is counted per source address (the key of redemption's limit,
 * api_source_key()) in svc->web_limit: web_verify_limit_addr requests a
 * web_verify_window_seconds window, then 429 with Retry-After until the
 * window closes.  POST /v1/verify, with a token, does not count.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "api/routes.h"
#include "certsvc/ratelimit.h"
#include "certsvc/verify.h"

#ifndef CERTSVC_WEB_DIR
#define CERTSVC_WEB_DIR "/usr/local/share/certsvc/web"
#endif

#define WEB_NAME_MAX 64
#define WEB_FILE_MAX (1024 * 1024)

static const char web_csp[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: blob:; connect-src 'self'; media-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

static const struct {
	const char *ext;
	const char *type;
} web_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".svg", "image/svg+xml; charset=utf-8"},
    {".png", "image/png"},
};

/*
 * The Content-Type of a safe file name, or NULL when name is not one: at
 * most WEB_NAME_MAX characters, a non-empty stem of [a-z0-9-] and one
 * known extension (.html only when html: the page, never under /static/).
 */
static const char *
web_name_type(const char *name, bool html)
{
	size_t n = strlen(name), stem, i;
	const char *dot = strchr(name, '.');

	if (n == 0 || n > WEB_NAME_MAX || dot == NULL || dot == name)
		return NULL;
	stem = (size_t)(dot - name);
	for (i = 0; i < stem; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		        c == '-'))
			return NULL;
	}
	for (i = 0; i < sizeof(web_types) / sizeof(web_types[0]); i++) {
		if (strcmp(dot, web_types[i].ext) != 0)
			continue;
		if (!html && i == 0)
			return NULL;
		return web_types[i].type;
	}
	return NULL;
}

/* Serve the file name (already checked) of the web directory. */
static enum MHD_Result
web_serve(
    struct api_req *req, const char *name, const char *type, const char *cache)
{
	const char *dir = req->svc->cfg.web_dir[0] != '\0'
	    ? req->svc->cfg.web_dir
	    : CERTSVC_WEB_DIR;
	const char *const headers[] = {"Cache-Control", cache,
	    "Content-Security-Policy", web_csp, "Referrer-Policy",
	    "no-referrer", "X-Frame-Options", "DENY", NULL};
	char path[PATH_MAX];
	struct cs_err err = {0};
	struct buf *b = NULL;
	enum MHD_Result ret;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path))
		return api_reply_error(
		    req, 404, "not_found", "no file '%s'", name);
	if (cs_file_read(path, WEB_FILE_MAX, &b, &err) != CS_OK)
		return api_reply_error(
		    req, 404, "not_found", "no file '%s'", name);
	ret = api_reply_ex(req, 200, type, b->data, b->len, headers);
	buf_free(b);
	return ret;
}

enum MHD_Result
api_web_page(struct api_req *req)
{
	return web_serve(
	    req, "verify.html", web_name_type("verify.html", true), "no-cache");
}

enum MHD_Result
api_web_static(struct api_req *req)
{
	const char *name = api_path_rest(req, "/static/");
	const char *type = web_name_type(name, false);

	if (type == NULL)
		return api_reply_error(req, 404, "not_found", "no such file");
	return web_serve(req, name, type, "public, max-age=300");
}

/*
 * Count this request of the caller's address; the seconds to wait when
 * the address has used up its window (the refused request not counted),
 * else 0.
 */
static unsigned
web_limit_take(struct api_req *req)
{
	struct ratelimit *rl = req->svc->web_limit;
	char source[API_SOURCE_MAX];
	int64_t now = (int64_t)time(NULL);
	unsigned wait;

	if (rl == NULL)
		return 0;
	api_source_key(req, source, sizeof(source));
	if (source[0] == '\0')
		return 0;
	wait = ratelimit_check(rl, source, strlen(source), now);
	if (wait == 0)
		ratelimit_fail(rl, source, strlen(source), now);
	return wait;
}

enum MHD_Result
api_web_verify(struct api_req *req)
{
	struct client_principal p = {.role = CLIENT_VERIFIER};
	struct cs_err err = {0};
	enum MHD_Result ret;
	json_t *body, *out = NULL;
	unsigned wait;
	enum cs_rc rc;

	wait = web_limit_take(req);
	if (wait > 0)
		return api_reply_too_many(req, wait,
		    "too many verifications from this address: use POST "
		    "/v1/verify with a verifier token, or retry later");
	body = api_json_body(req, &ret);
	if (body == NULL)
		return ret;
	if (json_object_get(body, "licence_id") != NULL ||
	    json_object_get(body, "version") != NULL) {
		json_decref(body);
		return api_reply_error(req, 400, "invalid",
		    "licence_id: not accepted here; give an envelope, or use "
		    "POST /v1/verify with a verifier token");
	}
	(void)cs_strlcpy(p.id, "public", sizeof(p.id));
	rc = verify_request(req->svc, &p, body, &out, &err);
	json_decref(body);
	if (rc != CS_OK) {
		if (err.rc == CS_OK)
			cs_err_set(&err, rc, "verification failed");
		return api_reply_rc(req, &err);
	}
	return api_reply_json(req, 200, out);
}
