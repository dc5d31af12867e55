/*
 * routes_pki.c: the public certificate status endpoints: OCSP (RFC 6960)
 * by POST /ocsp and GET /ocsp/{base64 of the DER request}, and one CRL per
 * CA at GET /crl/{root,issuing}.crl, the URLs that certsvc's certificates
 * carry.  Everything served here was signed ahead of time
 * (certsvc/pkistatus.c); a handler only looks it up and adds the RFC 5019
 * section 6 caching headers, so these routes never wait on the token.
 *
 * OCSP errors (malformedRequest, unauthorized, tryLater) are OCSP
 * responses too: status 200, application/ocsp-response, not cacheable.
 * A POST must say Content-Type: application/ocsp-request (RFC 6960
 * appendix A.1, what `openssl ocsp -url` sends); another type, or none,
 * is not an OCSP request at all and gets an HTTP 415 with the JSON error
 * body.  Past that, a DER parse decides.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/api.h"
#include "api/routes.h"
#include "certsvc/pkistatus.h"
#include "crypto/crypto.h"

#define API_OCSP_REQ_TYPE "application/ocsp-request"

/* Base64 of the largest request we parse, URL-encoded at worst. */
#define API_OCSP_GET_MAX (3 * (4 * (CRYPTO_OCSP_REQ_MAX / 3 + 1)))

/*
 * An HTTP-date (RFC 9110 5.6.7, IMF-fixdate) of Unix time t, in arithmetic:
 * gmtime_r() takes glibc's time-zone lock, and every OCSP answer writes
 * two dates.  Days to a civil date as in H. Hinnant's days_from_civil
 * inverse (proleptic Gregorian, eras of 400 years).
 */
static void
api_http_date(int64_t t, char *out, size_t outsz)
{
	static const char wday[7][4] = {
	    "Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
	static const char mon[12][4] = {"Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	int64_t days, secs, era, doe, yoe, doy, mp, y, d, m;

	if (t < 0 || t > INT64_C(253402300799)) { /* 0001..9999 only */
		out[0] = '\0';
		return;
	}
	days = t / 86400;
	secs = t % 86400;
	/* Days from 0000-03-01, so that leap days end a year. */
	era = (days + 719468) / 146097;
	doe = days + 719468 - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y = yoe + era * 400 + (m <= 2);
	snprintf(out, outsz, "%s, %02d %s %04d %02d:%02d:%02d GMT",
	    wday[days % 7], (int)d, mon[m - 1], (int)y, (int)(secs / 3600),
	    (int)(secs / 60 % 60), (int)(secs % 60));
}

/* True when If-None-Match names etag (or is "*"). */
static bool
api_etag_matches(struct api_req *req, const char *etag)
{
	const char *inm, *p;
	size_t n = strlen(etag);

	inm = MHD_lookup_connection_value(
	    req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
	if (inm == NULL || n == 0)
		return false;
	if (strcmp(inm, "*") == 0)
		return true;
	for (p = inm; (p = strstr(p, etag)) != NULL; p += n) {
		/* Whole list members only, weak ones included (W/"..."). */
		char after = p[n];

		if (after == '\0' || after == ',' || after == ' ')
			return true;
	}
	return false;
}

/* Send a, with caching headers when it is cacheable. */
static enum MHD_Result
api_pki_send(struct api_req *req, const char *type,
    const struct pkistatus_answer *a, bool conditional)
{
	char cc[96], lm[40], ex[40];
	const char *hdr[16];
	int64_t now = (int64_t)time(NULL), age;
	size_t n = 0;

	if (!a->cacheable) {
		hdr[n++] = MHD_HTTP_HEADER_CACHE_CONTROL;
		hdr[n++] = "no-store";
		hdr[n] = NULL;
		return api_reply_ex(
		    req, 200, type, a->body->data, a->body->len, hdr);
	}
	age = a->next_update - now;
	if (age < 0)
		age = 0;
	snprintf(cc, sizeof(cc),
	    "max-age=%lld, public, no-transform, must-revalidate",
	    (long long)age);
	api_http_date(a->this_update, lm, sizeof(lm));
	api_http_date(a->next_update, ex, sizeof(ex));
	hdr[n++] = MHD_HTTP_HEADER_CACHE_CONTROL;
	hdr[n++] = cc;
	hdr[n++] = MHD_HTTP_HEADER_LAST_MODIFIED;
	hdr[n++] = lm;
	hdr[n++] = MHD_HTTP_HEADER_EXPIRES;
	hdr[n++] = ex;
	hdr[n++] = MHD_HTTP_HEADER_ETAG;
	hdr[n++] = a->etag;
	hdr[n] = NULL;
	if (conditional && api_etag_matches(req, a->etag))
		return api_reply_ex(req, 304, NULL, "", 0, hdr);
	return api_reply_ex(req, 200, type, a->body->data, a->body->len, hdr);
}

static enum MHD_Result
api_ocsp_answer(
    struct api_req *req, const uint8_t *der, size_t len, bool conditional)
{
	struct pkistatus_answer a;
	struct cs_err err = {0};
	enum MHD_Result ret;

	if (pkistatus_ocsp(req->svc, der, len, &a, &err) != CS_OK)
		return api_reply_rc(req, &err);
	ret = api_pki_send(req, "application/ocsp-response", &a, conditional);
	pkistatus_answer_release(&a);
	return ret;
}

/* True when the Content-Type is application/ocsp-request[;...]. */
static bool
api_ocsp_is_request(struct api_req *req)
{
	const char *ct = MHD_lookup_connection_value(
	    req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	size_t n = strlen(API_OCSP_REQ_TYPE);

	if (ct == NULL || strncasecmp(ct, API_OCSP_REQ_TYPE, n) != 0)
		return false;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

enum MHD_Result
api_ocsp_post(struct api_req *req)
{
	if (!api_ocsp_is_request(req))
		return api_reply_error(req, 415, "unsupported_media_type",
		    "Content-Type must be " API_OCSP_REQ_TYPE);
	if (req->body == NULL)
		return api_ocsp_answer(req, NULL, 0, false);
	return api_ocsp_answer(req, req->body->data, req->body->len, false);
}

static int
api_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decode s (when MHD has not already: base64 has no '%', so a
 * second pass cannot change it) into out of size outsz.  False for a bad
 * escape or no room.
 */
static bool
api_pct_decode(const char *s, char *out, size_t outsz)
{
	size_t n = 0;
	int hi, lo;

	for (; *s != '\0'; s++) {
		if (n + 1 >= outsz)
			return false;
		if (*s != '%') {
			out[n++] = *s;
			continue;
		}
		hi = api_hexval(s[1]);
		lo = hi >= 0 ? api_hexval(s[2]) : -1;
		if (lo < 0)
			return false;
		out[n++] = (char)(hi * 16 + lo);
		s += 2;
	}
	out[n] = '\0';
	return true;
}

enum MHD_Result
api_ocsp_get(struct api_req *req)
{
	const char *rest = api_path_rest(req, "/ocsp/");
	static char empty[1];
	struct buf *text = NULL, *der = NULL;
	enum MHD_Result ret;
	size_t len = strlen(rest);

	/* Anything we cannot decode is a malformed request, said in OCSP. */
	if (len == 0 || len > API_OCSP_GET_MAX)
		return api_ocsp_answer(req, (const uint8_t *)empty, 0, true);
	text = buf_new(len + 1);
	if (text == NULL)
		return api_reply_error(
		    req, 500, "out_of_memory", "out of memory");
	if (api_pct_decode(rest, (char *)text->data, len + 1))
		text->len = strlen((char *)text->data);
	if (text->len == 0 ||
	    crypto_b64_decode((char *)text->data, text->len, &der, NULL) !=
	        CS_OK)
		ret = api_ocsp_answer(req, (const uint8_t *)empty, 0, true);
	else
		ret = api_ocsp_answer(req, der->data, der->len, true);
	buf_free(der);
	buf_free(text);
	return ret;
}

enum MHD_Result
api_crl(struct api_req *req)
{
	const char *rest = api_path_rest(req, "/crl/");
	struct pkistatus_answer a;
	struct cs_err err = {0};
	enum MHD_Result ret;
	char name[16];
	size_t n = strlen(rest);

	if (n <= 4 || n - 4 >= sizeof(name) ||
	    strcmp(rest + n - 4, ".crl") != 0)
		return api_reply_error(
		    req, 404, "not_found", "no CRL '%.64s'", rest);
	memcpy(name, rest, n - 4);
	name[n - 4] = '\0';
	if (pkistatus_crl(req->svc, name, &a, &err) != CS_OK)
		return api_reply_rc(req, &err);
	ret = api_pki_send(req, "application/pkix-crl", &a, true);
	pkistatus_answer_release(&a);
	return ret;
}
