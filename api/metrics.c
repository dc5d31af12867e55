/*
 * metrics.c: the parts of /metrics that issue #7 added (docs/observability.md):
 * token signatures and their latency by key purpose, time spent waiting
 * for a token session, the audit trail's growth and the age of its last
 * checkpoint, and how old the pre-signed OCSP responses, CRLs and status
 * lists are.  Everything is read from atomics or snapshots in memory,
 * except the audit tip: one indexed read of the store per scrape.
 * Ages and times are in seconds, as Prometheus wants.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "certsvc/log.h"
#include "certsvc/pkistatus.h"
#include "certsvc/statuslist.h"
#include "certsvc/store.h"
#include "pkcs11/p11.h"

/* One "# HELP" and "# TYPE" pair. */
static enum cs_rc
metric_head(
    struct buf *out, const char *name, const char *type, const char *help)
{
	return buf_printf(
	    out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A counter with one sample per key purpose. */
static enum cs_rc
metrics_by_purpose(struct buf *out, const char *name, const char *help,
    const uint64_t v[P11_NPURPOSE])
{
	enum cs_rc rc;
	unsigned i;

	rc = metric_head(out, name, "counter", help);
	for (i = 0; rc == CS_OK && i < P11_NPURPOSE; i++)
		rc = buf_printf(out, "%s{purpose=\"%s\"} %llu\n", name,
		    p11_purpose_name((enum p11_purpose)i),
		    (unsigned long long)v[i]);
	return rc;
}

static enum cs_rc
metrics_token(struct api_req *req, struct buf *out)
{
	const struct cs_hist *lat[P11_NPURPOSE];
	uint64_t signs[P11_NPURPOSE], fails[P11_NPURPOSE];
	struct p11_stats st;
	char label[32];
	enum cs_rc rc;
	unsigned i;

	if (req->svc->token == NULL)
		return CS_OK;
	p11_stats_get(req->svc->token, &st);
	for (i = 0; i < P11_NPURPOSE; i++)
		p11_stats_purpose(req->svc->token, (enum p11_purpose)i,
		    &signs[i], &fails[i], &lat[i]);
	rc = metrics_by_purpose(out, "certsvc_token_purpose_signatures_total",
	    "Token signatures by key purpose.", signs);
	if (rc == CS_OK)
		rc = metrics_by_purpose(out,
		    "certsvc_token_purpose_sign_failures_total",
		    "Failed token signing calls by key purpose.", fails);
	if (rc == CS_OK)
		rc = metric_head(out, "certsvc_token_sign_duration_seconds",
		    "histogram",
		    "Latency of successful token signatures (session wait "
		    "included) by key purpose.");
	for (i = 0; rc == CS_OK && i < P11_NPURPOSE; i++) {
		snprintf(label, sizeof(label), "purpose=\"%s\"",
		    p11_purpose_name((enum p11_purpose)i));
		rc = cs_hist_render(
		    lat[i], "certsvc_token_sign_duration_seconds", label, out);
	}
	if (rc == CS_OK)
		rc = metric_head(out, "certsvc_token_pool_wait_seconds_total",
		    "counter",
		    "Time session check-outs spent waiting for a free "
		    "session.");
	if (rc == CS_OK)
		rc = buf_printf(out,
		    "certsvc_token_pool_wait_seconds_total %.9f\n",
		    (double)st.pool_wait_ns / 1e9);
	return rc;
}

static enum cs_rc
metrics_audit(struct api_req *req, struct buf *out, int64_t now)
{
	struct store_audit_tip t;
	struct cs_err err = {0};
	enum cs_rc rc;

	if (req->svc->store == NULL)
		return CS_OK;
	if (store_audit_tip(req->svc->store, &t, &err) != CS_OK) {
		/* A scrape still answers: the store's health is /readyz's. */
		cs_log(CS_LOG_WARN, "metrics: %s", err.msg);
		return CS_OK;
	}
	rc = metric_head(out, "certsvc_audit_events_total", "counter",
	    "Audit events appended (the sequence number of the newest, by "
	    "any process).");
	if (rc == CS_OK)
		rc = buf_printf(
		    out, "certsvc_audit_events_total %lld\n", (long long)t.seq);
	if (rc == CS_OK)
		rc = metric_head(out, "certsvc_audit_events_unsigned", "gauge",
		    "Audit events after the newest signed checkpoint.");
	if (rc == CS_OK)
		rc = buf_printf(out, "certsvc_audit_events_unsigned %lld\n",
		    (long long)(t.seq - t.cp_seq));
	if (rc != CS_OK || t.cp_seq == 0)
		return rc; /* no checkpoint yet: no age to give */
	rc = metric_head(out, "certsvc_audit_checkpoint_age_seconds", "gauge",
	    "Seconds since the newest signed audit checkpoint was made.");
	if (rc == CS_OK)
		rc = buf_printf(out,
		    "certsvc_audit_checkpoint_age_seconds %lld\n",
		    (long long)(now - t.cp_time));
	return rc;
}

/* name{labels} age and time-left pair of one pre-signed object. */
static enum cs_rc
metrics_times(struct buf *out, const char *what, const char *labels,
    int64_t signed_at, int64_t next, int64_t now)
{
	const char *lb = *labels != '\0' ? "{" : "", *rb = lb[0] ? "}" : "";

	if (signed_at == 0)
		return CS_OK;
	return buf_printf(out,
	    "certsvc_%s_age_seconds%s%s%s %lld\n"
	    "certsvc_%s_expiry_seconds%s%s%s %lld\n",
	    what, lb, labels, rb, (long long)(now - signed_at), what, lb,
	    labels, rb, (long long)(next - now));
}

static enum cs_rc
metrics_presigned(struct api_req *req, struct buf *out, int64_t now)
{
	static const char *const kinds[][3] = {
	    {"ocsp", "the oldest pre-signed OCSP response (thisUpdate)",
	        "the soonest nextUpdate of the OCSP responses"},
	    {"crl", "the CRL of each CA (thisUpdate)", "the CRL's nextUpdate"},
	    {"status_list", "the oldest signed status list (iat)",
	        "the soonest exp of the status lists"},
	};
	struct pkistatus_times pt;
	int64_t iat = 0, exp = 0;
	size_t lists = 0, i;
	enum cs_rc rc = CS_OK;

	pkistatus_times(req->svc, &pt);
	statuslist_times(req->svc, &lists, &iat, &exp);
	for (i = 0; rc == CS_OK && i < 3; i++) {
		char name[64], help[160];

		snprintf(
		    name, sizeof(name), "certsvc_%s_age_seconds", kinds[i][0]);
		snprintf(help, sizeof(help), "Seconds since the signing of %s.",
		    kinds[i][1]);
		rc = metric_head(out, name, "gauge", help);
		snprintf(name, sizeof(name), "certsvc_%s_expiry_seconds",
		    kinds[i][0]);
		snprintf(help, sizeof(help),
		    "Seconds left until %s (negative: past it, not served).",
		    kinds[i][2]);
		if (rc == CS_OK)
			rc = metric_head(out, name, "gauge", help);
	}
	if (rc == CS_OK)
		rc = metrics_times(
		    out, "ocsp", "", pt.ocsp_oldest, pt.ocsp_next, now);
	if (rc == CS_OK)
		rc = metrics_times(out, "crl", "ca=\"root\"", pt.crl_this[0],
		    pt.crl_next[0], now);
	if (rc == CS_OK)
		rc = metrics_times(out, "crl", "ca=\"issuing\"", pt.crl_this[1],
		    pt.crl_next[1], now);
	if (rc == CS_OK)
		rc = metrics_times(out, "status_list", "", iat, exp, now);
	if (rc == CS_OK)
		rc = metric_head(out, "certsvc_status_lists", "gauge",
		    "Signed status lists held in memory.");
	if (rc == CS_OK)
		rc = buf_printf(out, "certsvc_status_lists %zu\n", lists);
	return rc;
}

enum cs_rc
api_metrics_evidence(struct api_req *req, struct buf *out)
{
	int64_t now = (int64_t)time(NULL);
	enum cs_rc rc;

	rc = metrics_token(req, out);
	if (rc == CS_OK)
		rc = metrics_audit(req, out, now);
	if (rc == CS_OK)
		rc = metrics_presigned(req, out, now);
	return rc;
}
