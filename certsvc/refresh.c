/*
 * refresh.c: certsvcd's refresher, the one thread that makes token
 * signatures for answers to reads.  OCSP responses, CRLs, status lists and
 * the report key are all made here ahead of time, so a read never waits on
 * the token: when the token is away, reads go on being served from what
 * was signed (never past its nextUpdate) while the refresher retries.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "certsvc/audit.h"
#include "certsvc/log.h"
#include "certsvc/pkistatus.h"
#include "certsvc/report.h"
#include "certsvc/statuslist.h"
#include "certsvc/svc.h"

#define REFRESH_PERIOD_MS 1000

struct svc_refresher {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;   /* guarded by mu */
	bool nudged; /* guarded by mu */
	bool reload; /* guarded by mu: svc_refresher_reload() asked */
};

enum cs_rc
svc_refresh(struct svc *svc, struct cs_err *err)
{
	static const struct {
		const char *what;
		enum cs_rc (*fn)(struct svc *, struct cs_err *);
	} steps[] = {
	    {"report key", report_refresh},
	    {"certificate status", pkistatus_refresh},
	    {"status lists", statuslist_refresh},
	    {"audit checkpoint", audit_refresh},
	};
	struct cs_err e;
	enum cs_rc rc, first = CS_OK;
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		cs_err_clear(&e);
		rc = steps[i].fn(svc, &e);
		if (rc == CS_OK)
			continue;
		cs_log(CS_LOG_WARN, "refresh %s: %s", steps[i].what, e.msg);
		if (first == CS_OK) {
			first = rc;
			if (err != NULL)
				*err = e;
		}
	}
	return first;
}

static void *
refresher_main(void *arg)
{
	struct svc *svc = arg;
	struct svc_refresher *r = svc->refresher;
	struct timespec deadline;
	struct cs_err e;
	bool reload = false;

	for (;;) {
		cs_err_clear(&e);
		if (svc_refresh(svc, &e) != CS_OK && reload)
			cs_log(
			    CS_LOG_WARN, "reload: pre-signed data: %s", e.msg);
		else if (reload)
			cs_log(CS_LOG_INFO,
			    "reload: pre-signed data is up to date");
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_nsec += (long)REFRESH_PERIOD_MS * 1000000L;
		deadline.tv_sec += deadline.tv_nsec / 1000000000L;
		deadline.tv_nsec %= 1000000000L;
		pthread_mutex_lock(&r->mu);
		while (!r->stop && !r->nudged)
			if (pthread_cond_timedwait(&r->cv, &r->mu, &deadline) ==
			    ETIMEDOUT)
				break;
		r->nudged = false;
		reload = r->reload;
		r->reload = false;
		if (r->stop) {
			pthread_mutex_unlock(&r->mu);
			break;
		}
		pthread_mutex_unlock(&r->mu);
	}
	return NULL;
}

enum cs_rc
svc_refresher_start(struct svc *svc, struct cs_err *err)
{
	struct svc_refresher *r;

	if (svc->refresher != NULL)
		return CS_OK;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	if (pthread_mutex_init(&r->mu, NULL) != 0) {
		free(r);
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	}
	if (pthread_cond_init(&r->cv, NULL) != 0) {
		pthread_mutex_destroy(&r->mu);
		free(r);
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	}
	svc->refresher = r;
	if (pthread_create(&r->thread, NULL, refresher_main, svc) != 0) {
		svc->refresher = NULL;
		pthread_cond_destroy(&r->cv);
		pthread_mutex_destroy(&r->mu);
		free(r);
		return cs_err_set(
		    err, CS_ERR_NOMEM, "cannot start the refresher thread");
	}
	return CS_OK;
}

/* Wake the refresher; with reload, it logs the outcome of that run. */
static void
refresher_wake(struct svc *svc, bool reload)
{
	struct svc_refresher *r = svc != NULL ? svc->refresher : NULL;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	r->nudged = true;
	r->reload = r->reload || reload;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

void
svc_refresher_nudge(struct svc *svc)
{
	refresher_wake(svc, false);
}

void
svc_refresher_reload(struct svc *svc)
{
	refresher_wake(svc, true);
}

void
svc_refresher_stop(struct svc *svc)
{
	struct svc_refresher *r = svc != NULL ? svc->refresher : NULL;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
	svc->refresher = NULL;
}
