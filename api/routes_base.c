/*
 * routes_base.c: the routes every deployment needs before any licence
 * exists: liveness, readiness, the CA certificates and metrics.  This file
 * also holds the route table (later issues add their rows here).
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/routes.h"
#include "certsvc/ca.h"
#include "certsvc/licence.h"
#include "certsvc/txbatch.h"
#include "crypto/crypto.h"
#include "pkcs11/p11.h"

static enum MHD_Result
api_healthz(struct api_req *req)
{
	return api_reply(
	    req, 200, "application/json", "{\"status\":\"ok\"}", 15);
}

/* Ready = the token signs and the store answers; 503 says which is not. */
static enum MHD_Result
api_readyz(struct api_req *req)
{
	bool token_ok, store_ok, ca_ok;

	token_ok = p11_token_ready(req->svc->token);
	store_ok = store_ping(req->svc->store);
	ca_ok = req->svc->root != NULL && req->svc->issuing != NULL;
	return api_reply_json(req, token_ok && store_ok && ca_ok ? 200 : 503,
	    json_pack("{s:s,s:s,s:s,s:s}", "status",
	        token_ok && store_ok && ca_ok ? "ready" : "not_ready", "token",
	        token_ok ? "ok" : "unavailable", "store",
	        store_ok ? "ok" : "unavailable", "ca",
	        ca_ok ? "ok" : "missing"));
}

/*
 * GET /ca/{name}.{pem,cer} (RFC 2585 type for DER): root, issuing and the
 * issuing CAs of rollovers (issuing-2, ...; certsvc/ca.h).
 */
static enum MHD_Result
api_ca_cert(struct api_req *req)
{
	const char *name = req->url + strlen("/ca/");
	const struct ca_entry *ca = NULL;
	char base[STORE_NAME_MAX];
	struct cs_err err = {0};
	struct buf *out = NULL;
	enum MHD_Result ret;
	size_t len = strlen(name);
	X509 *cert = NULL;
	bool pem;

	if (len > 4 && len - 4 < sizeof(base) &&
	    (strcmp(name + len - 4, ".pem") == 0 ||
	        strcmp(name + len - 4, ".cer") == 0)) {
		memcpy(base, name, len - 4);
		base[len - 4] = '\0';
		ca = ca_by_name(req->svc, base);
	}
	if (ca != NULL)
		cert = ca->cert;
	if (cert == NULL)
		return api_reply_error(
		    req, 404, "not_found", "no certificate '%s'", name);
	pem = strcmp(name + strlen(name) - 4, ".pem") == 0;
	if ((pem ? crypto_cert_to_pem(cert, &out, &err)
	         : crypto_cert_to_der(cert, &out, &err)) != CS_OK)
		return api_reply_rc(req, &err);
	ret = api_reply(req, 200,
	    pem ? "application/x-pem-file" : "application/pkix-cert", out->data,
	    out->len);
	buf_free(out);
	return ret;
}

static enum cs_rc
api_metrics_token(struct api_req *req, struct buf *out)
{
	struct p11_token_status st;
	struct p11_stats s;
	enum cs_rc rc;

	p11_stats_get(req->svc->token, &s);
	memset(&st, 0, sizeof(st));
	if (p11_token_info(req->svc->token, &st, NULL) != CS_OK)
		st.present = false;
	rc = buf_printf(out,
	    "# HELP certsvc_token_signatures_total Signatures made by the "
	    "token.\n# TYPE certsvc_token_signatures_total counter\n"
	    "certsvc_token_signatures_total %llu\n"
	    "# HELP certsvc_token_sign_failures_total Signing calls that "
	    "failed.\n# TYPE certsvc_token_sign_failures_total counter\n"
	    "certsvc_token_sign_failures_total %llu\n"
	    "# HELP certsvc_token_sign_seconds Time spent in successful token "
	    "signatures.\n# TYPE certsvc_token_sign_seconds summary\n"
	    "certsvc_token_sign_seconds_sum %.9f\n"
	    "certsvc_token_sign_seconds_count %llu\n"
	    "# HELP certsvc_token_pool_waits_total Session check-outs that "
	    "waited.\n# TYPE certsvc_token_pool_waits_total counter\n"
	    "certsvc_token_pool_waits_total %llu\n"
	    "# HELP certsvc_token_pool_timeouts_total Session check-outs that "
	    "gave up.\n# TYPE certsvc_token_pool_timeouts_total counter\n"
	    "certsvc_token_pool_timeouts_total %llu\n"
	    "# HELP certsvc_token_recoveries_total Sessions re-opened or "
	    "logged in again.\n# TYPE certsvc_token_recoveries_total counter\n"
	    "certsvc_token_recoveries_total %llu\n"
	    "# HELP certsvc_token_pool_sessions Sessions in the pool.\n"
	    "# TYPE certsvc_token_pool_sessions gauge\n"
	    "certsvc_token_pool_sessions %u\n"
	    "# HELP certsvc_token_pool_idle Idle sessions in the pool.\n"
	    "# TYPE certsvc_token_pool_idle gauge\n"
	    "certsvc_token_pool_idle %u\n"
	    "# HELP certsvc_token_present Whether the token answers.\n"
	    "# TYPE certsvc_token_present gauge\ncertsvc_token_present %d\n",
	    (unsigned long long)s.signs, (unsigned long long)s.sign_failures,
	    (double)s.sign_ns / 1e9, (unsigned long long)s.signs,
	    (unsigned long long)s.pool_waits,
	    (unsigned long long)s.pool_timeouts,
	    (unsigned long long)s.recoveries, st.pool_size, st.pool_idle,
	    st.present ? 1 : 0);
	if (rc == CS_OK)
		rc = buf_printf(out,
		    "# HELP certsvc_token_pool_shed_total Session check-outs "
		    "refused at once: token_queue_max were waiting.\n"
		    "# TYPE certsvc_token_pool_shed_total counter\n"
		    "certsvc_token_pool_shed_total %llu\n",
		    (unsigned long long)s.pool_shed);
	return rc;
}

/* Group commit of issuances (licence.c): transactions and their jobs. */
static enum cs_rc
api_metrics_batches(struct api_req *req, struct buf *out)
{
	struct txbatch_stats b;

	txbatch_stats(req->svc, &b);
	return buf_printf(out,
	    "# HELP certsvc_store_batches_total Shared write transactions "
	    "(group commits: issuances, redemptions).\n# TYPE "
	    "certsvc_store_batches_total counter\n"
	    "certsvc_store_batches_total %llu\n"
	    "# HELP certsvc_store_batch_jobs_total Writes done in "
	    "them.\n# TYPE certsvc_store_batch_jobs_total counter\n"
	    "certsvc_store_batch_jobs_total %llu\n",
	    (unsigned long long)b.batches, (unsigned long long)b.jobs);
}

static enum MHD_Result
api_metrics(struct api_req *req)
{
	enum MHD_Result ret;
	struct buf *out;

	out = buf_new(4096);
	if (out == NULL || api_metrics_http(req->srv, out) != CS_OK ||
	    api_metrics_token(req, out) != CS_OK ||
	    api_metrics_batches(req, out) != CS_OK ||
	    api_metrics_evidence(req, out) != CS_OK) {
		buf_free(out);
		return api_reply_error(
		    req, 500, "out_of_memory", "cannot render metrics");
	}
	ret = api_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8",
	    out->data, out->len);
	buf_free(out);
	return ret;
}

const struct api_route api_routes[] = {
    {"GET", "/healthz", "/healthz", api_healthz},
    {"GET", "/readyz", "/readyz", api_readyz},
    {"GET", "/metrics", "/metrics", api_metrics},
    {"GET", "/ca/*", "/ca/{name}", api_ca_cert},
    {"POST", "/v1/licences", "/v1/licences", api_licence_issue},
    {"GET", "/v1/licences/*", "/v1/licences/{id}", api_licence_get},
    {"GET", "/v1/holder/licences", "/v1/holder/licences", api_holder_licences},
    {"POST", "/v1/licences/*", "/v1/licences/{id}/{action}",
        api_licence_action},
    {"POST", "/v1/holder/objections", "POST /v1/holder/objections",
        api_holder_objection_file},
    {"GET", "/v1/holder/objections", "/v1/holder/objections",
        api_holder_objections},
    {"GET", "/v1/objections", "/v1/objections", api_objections_list},
    {"POST", "/v1/objections/*", "/v1/objections/{id}/resolve",
        api_objection_resolve},
    {"POST", "/v1/verify", "/v1/verify", api_verify},
    {"POST", "/ocsp", "/ocsp", api_ocsp_post},
    {"GET", "/ocsp/*", "/ocsp/{request}", api_ocsp_get},
    {"GET", "/crl/*", "/crl/{ca}.crl", api_crl},
    {"GET", "/v1/status-lists/*", "/v1/status-lists/{n}", api_status_list},
    {"POST", "/v1/holder/codes", "POST /v1/holder/codes",
        api_holder_code_create},
    {"GET", "/v1/holder/codes", "/v1/holder/codes", api_holder_codes_list},
    {"GET", "/v1/holder/codes/*", "/v1/holder/codes/{id}/{qr}",
        api_holder_code_get},
    {"DELETE", "/v1/holder/codes/*", "/v1/holder/codes/{id}",
        api_holder_code_revoke},
    {"GET", "/v1/holder/usage", "/v1/holder/usage", api_holder_usage},
    {"GET", "/v1/usage", "/v1/usage", api_usage_list},
    {"POST", "/v1/codes/redeem", "/v1/codes/redeem", api_codes_redeem},
    {"GET", "/verify", "/verify", api_web_page},
    {"POST", "/verify", "POST /verify", api_web_verify},
    {"GET", "/static/*", "/static/{file}", api_web_static},
    {"POST", "/tsa", "/tsa", api_tsa},
    {NULL, NULL, NULL, NULL},
};
