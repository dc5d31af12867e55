/*
 * p11_pool.c: the session pool and recovery.
 *
 * Every operation runs on a session checked out of a fixed pool.  The pool
 * mutex guards the free stack only: no module call is ever made while it
 * is held, so signers run in parallel as far as the module lets them.  A
 * check-out waits at most until the call's deadline (a condition variable
 * on CLOCK_MONOTONIC), so it never blocks forever (unlike libp11 #525).
 * With queue_max set, a check-out that finds that many already waiting is
 * refused at once (load shedding: a 503 now beats a timeout later).
 *
 * A session is validated on check-out with C_GetSessionInfo: it must be in
 * a user state, because the login belongs to the token and can be lost
 * behind our back (libp11 #521 trusted a flag instead).  When a session,
 * the login, a key handle or the token itself was lost, recovery re-opens
 * the session (finding the slot by label again: ids change on
 * re-insertion), logs in again if the session is not in a user state,
 * invalidates the key handle cache, and the operation is retried.
 *
 * Recovery is the only place that takes rec_mu, so at most one thread
 * talks to a missing token at a time.  A failed attempt records "down
 * until T" with a growing backoff; other callers wait for T instead of
 * asking again, and give up as soon as T lies past their own deadline.
 * No call takes much longer than timeout_ms unless the module itself
 * blocks inside a call.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "certsvc/err.h"
#include "certsvc/log.h"
#include "certsvc/mem.h"
#include "pkcs11/p11_int.h"

#define P11_BACKOFF_MIN_NS (20ULL * 1000000ULL)
#define P11_BACKOFF_MAX_NS (250ULL * 1000000ULL)

static struct timespec
pool_ts(uint64_t ns)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ns / 1000000000ULL);
	ts.tv_nsec = (long)(ns % 1000000000ULL);
	return ts;
}

static void
pool_sleep_until(uint64_t ns)
{
	struct timespec ts = pool_ts(ns);

	while (
	    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static bool
sess_user(CK_STATE st)
{
	return st == CKS_RO_USER_FUNCTIONS || st == CKS_RW_USER_FUNCTIONS;
}

static enum cs_rc
sess_open(
    struct p11_token *tok, CK_SLOT_ID slot, CK_SESSION_HANDLE *h, CK_RV *rv)
{
	*rv = tok->f->C_OpenSession(
	    slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, h);
	return *rv == CKR_OK ? CS_OK : CS_ERR_TOKEN;
}

enum cs_rc
p11_pool_init(struct p11_token *tok, struct cs_err *err)
{
	CK_SESSION_INFO si;
	CK_SLOT_ID slot = atomic_load(&tok->slot);
	char rvbuf[32];
	unsigned i;
	CK_RV rv;
	enum cs_rc rc;

	tok->sess = calloc(tok->pool_size, sizeof(*tok->sess));
	tok->free = calloc(tok->pool_size, sizeof(*tok->free));
	if (tok->sess == NULL || tok->free == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	for (i = 0; i < tok->pool_size; i++) {
		rc = sess_open(tok, slot, &tok->sess[i].h, &rv);
		if (rc != CS_OK)
			return cs_err_set(err, CS_ERR_TOKEN,
			    "token '%s': cannot open session: %s", tok->label,
			    p11_rv_name(rv, rvbuf, sizeof(rvbuf)));
		/* The login is the token's: one is enough for all sessions. */
		if (i == 0) {
			rv = tok->f->C_GetSessionInfo(tok->sess[i].h, &si);
			if (rv != CKR_OK)
				return cs_err_set(err, CS_ERR_TOKEN,
				    "token '%s': C_GetSessionInfo failed: %s",
				    tok->label,
				    p11_rv_name(rv, rvbuf, sizeof(rvbuf)));
			if (!sess_user(si.state)) {
				rc = p11_login(tok, tok->sess[i].h, &rv, err);
				if (rc != CS_OK)
					return rc;
			}
		}
	}
	/* Stack order: sess[0] is checked out first. */
	for (i = 0; i < tok->pool_size; i++)
		tok->free[i] = &tok->sess[tok->pool_size - 1 - i];
	tok->nfree = tok->pool_size;
	return CS_OK;
}

void
p11_pool_release(struct p11_token *tok)
{
	unsigned i;

	if (tok->sess != NULL && tok->f != NULL && tok->pid == getpid())
		for (i = 0; i < tok->pool_size; i++)
			if (tok->sess[i].h != CK_INVALID_HANDLE)
				tok->f->C_CloseSession(tok->sess[i].h);
	free(tok->sess);
	free(tok->free);
	tok->sess = NULL;
	tok->free = NULL;
	tok->nfree = 0;
}

enum cs_rc
p11_pool_checkout(struct p11_token *tok, uint64_t deadline,
    struct p11_sess **out, struct cs_err *err)
{
	struct timespec ts;
	int e = 0;

	*out = NULL;
	pthread_mutex_lock(&tok->pool_mu);
	if (tok->nfree == 0 && tok->queue_max > 0 &&
	    tok->waiters >= tok->queue_max) {
		/* Shed load: waiting would only make every waiter later. */
		pthread_mutex_unlock(&tok->pool_mu);
		atomic_fetch_add_explicit(
		    &tok->st_pool_shed, 1, memory_order_relaxed);
		return cs_err_set(err, CS_ERR_TOKEN,
		    "token busy: %u requests waiting", tok->queue_max);
	}
	if (tok->nfree == 0) {
		uint64_t t0 = cs_now_ns();

		atomic_fetch_add_explicit(
		    &tok->st_pool_waits, 1, memory_order_relaxed);
		ts = pool_ts(deadline);
		tok->waiters++;
		while (tok->nfree == 0 && e == 0)
			e = pthread_cond_timedwait(
			    &tok->pool_cv, &tok->pool_mu, &ts);
		tok->waiters--;
		atomic_fetch_add_explicit(&tok->st_pool_wait_ns,
		    cs_now_ns() - t0, memory_order_relaxed);
		if (tok->nfree == 0) {
			pthread_mutex_unlock(&tok->pool_mu);
			atomic_fetch_add_explicit(
			    &tok->st_pool_timeouts, 1, memory_order_relaxed);
			return cs_err_set(err, CS_ERR_TOKEN,
			    "token unavailable: no free session");
		}
	}
	*out = tok->free[--tok->nfree];
	pthread_mutex_unlock(&tok->pool_mu);
	return CS_OK;
}

void
p11_pool_checkin(struct p11_token *tok, struct p11_sess *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&tok->pool_mu);
	tok->free[tok->nfree++] = s;
	if (tok->waiters > 0)
		pthread_cond_signal(&tok->pool_cv);
	pthread_mutex_unlock(&tok->pool_mu);
}

unsigned
p11_pool_idle(struct p11_token *tok)
{
	unsigned n;

	pthread_mutex_lock(&tok->pool_mu);
	n = tok->nfree;
	pthread_mutex_unlock(&tok->pool_mu);
	return n;
}

/* --- recovery ----------------------------------------------------------- */

static bool
rv_pin(CK_RV rv)
{
	return rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID ||
	    rv == CKR_PIN_LEN_RANGE || rv == CKR_PIN_EXPIRED ||
	    rv == CKR_PIN_LOCKED || rv == CKR_USER_PIN_NOT_INITIALIZED;
}

/* The error of a call that gave up; why is the last failure it saw. */
static enum cs_rc
rec_unavailable(struct p11_token *tok, CK_RV why, struct cs_err *err)
{
	CK_RV down = atomic_load(&tok->down_rv);
	char rvbuf[32];

	if (atomic_load(&tok->down_until_ns) != 0 && down != CKR_OK)
		why = down;
	if (rv_pin(why))
		return cs_err_set(err, CS_ERR_TOKEN, "token login failed: %s",
		    p11_rv_name(why, rvbuf, sizeof(rvbuf)));
	return cs_err_set(err, CS_ERR_TOKEN, "token unavailable: %s",
	    p11_rv_name(why, rvbuf, sizeof(rvbuf)));
}

/* Under rec_mu: the token did not answer; back off before the next try. */
static void
rec_down(struct p11_token *tok, CK_RV rv)
{
	uint64_t hold;
	char rvbuf[32];

	if (tok->backoff_ns == 0 && !rv_pin(rv))
		cs_log(CS_LOG_WARN, "token '%s' unavailable: %s", tok->label,
		    p11_rv_name(rv, rvbuf, sizeof(rvbuf)));
	hold = tok->backoff_ns ? tok->backoff_ns : P11_BACKOFF_MIN_NS;
	tok->backoff_ns =
	    hold * 2 > P11_BACKOFF_MAX_NS ? P11_BACKOFF_MAX_NS : hold * 2;
	atomic_store(&tok->down_rv, rv);
	atomic_store(&tok->down_until_ns, cs_now_ns() + hold);
}

/* Under rec_mu: the token answers again. */
static void
rec_up(struct p11_token *tok)
{
	if (tok->backoff_ns != 0)
		cs_log(CS_LOG_INFO, "token '%s' available again", tok->label);
	tok->backoff_ns = 0;
	atomic_store(&tok->down_until_ns, 0);
	atomic_store(&tok->down_rv, CKR_OK);
}

/*
 * Under rec_mu: make s a logged-in session again after why.  Returns CS_OK
 * when it is; CS_ERR_TOKEN with *hard false when the token is away (down
 * recorded), with *hard true when retrying cannot help (a refused PIN).
 */
static enum cs_rc
rec_locked(struct p11_token *tok, struct p11_sess *s, CK_RV why, bool *hard,
    struct cs_err *err)
{
	CK_FUNCTION_LIST *f = tok->f;
	CK_SESSION_INFO si;
	CK_SLOT_ID slot;
	bool acted = false;
	CK_RV rv = CKR_OK;
	enum cs_rc rc;

	*hard = false;
	if (why == CKR_KEY_HANDLE_INVALID || why == CKR_OBJECT_HANDLE_INVALID)
		acted = true; /* the cache is stale; refill it below */
	if (s->h != CK_INVALID_HANDLE && why == CKR_OPERATION_ACTIVE) {
		/* PKCS#11 2.40 has no other way to end a stuck operation. */
		f->C_CloseSession(s->h);
		s->h = CK_INVALID_HANDLE;
	}
	if (s->h != CK_INVALID_HANDLE) {
		rv = f->C_GetSessionInfo(s->h, &si);
		if (rv == CKR_OK) {
			if (sess_user(si.state))
				goto ok; /* fine, or fixed by another thread */
			goto login;
		}
		if (rv != CKR_SESSION_HANDLE_INVALID &&
		    rv != CKR_SESSION_CLOSED) {
			/* Is the token there at all (maybe in a new slot)? */
			rc = p11_slot_find(f, tok->label, &slot, &rv, NULL);
			if (rc != CS_OK) {
				rec_down(tok, rv);
				return CS_ERR_TOKEN;
			}
			atomic_store(&tok->slot, slot);
			f->C_CloseSession(s->h); /* best effort */
		}
		s->h = CK_INVALID_HANDLE;
	}
	rc = sess_open(tok, atomic_load(&tok->slot), &s->h, &rv);
	if (rc != CS_OK) {
		s->h = CK_INVALID_HANDLE;
		rc = p11_slot_find(f, tok->label, &slot, &rv, NULL);
		if (rc == CS_OK) {
			atomic_store(&tok->slot, slot);
			rc = sess_open(tok, slot, &s->h, &rv);
		}
		if (rc != CS_OK) {
			s->h = CK_INVALID_HANDLE;
			rec_down(tok, rv);
			return CS_ERR_TOKEN;
		}
	}
	acted = true;
	rv = f->C_GetSessionInfo(s->h, &si);
	if (rv != CKR_OK) {
		f->C_CloseSession(s->h);
		s->h = CK_INVALID_HANDLE;
		rec_down(tok, rv);
		return CS_ERR_TOKEN;
	}
	if (sess_user(si.state))
		goto ok;
login:
	acted = true;
	rc = p11_login(tok, s->h, &rv, err);
	if (rc != CS_OK) {
		rec_down(tok, rv);
		*hard = rv_pin(rv);
		return CS_ERR_TOKEN;
	}
ok:
	if (acted) {
		atomic_fetch_add(&tok->key_gen, 1);
		atomic_fetch_add_explicit(
		    &tok->st_recoveries, 1, memory_order_relaxed);
	}
	rec_up(tok);
	return CS_OK;
}

/*
 * Make s usable again after why, trying until deadline: wait out a known
 * outage, then recover under rec_mu.
 */
static enum cs_rc
pool_recover(struct p11_token *tok, struct p11_sess *s, CK_RV why,
    uint64_t deadline, struct cs_err *err)
{
	struct timespec ts;
	uint64_t now, down;
	bool hard;
	enum cs_rc rc;

	for (;;) {
		now = cs_now_ns();
		down = atomic_load(&tok->down_until_ns);
		if (down > now) {
			if (down >= deadline)
				return rec_unavailable(tok, why, err);
			pool_sleep_until(down);
			continue;
		}
		if (now >= deadline)
			return rec_unavailable(tok, why, err);
		ts = pool_ts(deadline);
		if (pthread_mutex_clocklock(
		        &tok->rec_mu, CLOCK_MONOTONIC, &ts) != 0)
			return rec_unavailable(tok, why, err);
		rc = rec_locked(tok, s, why, &hard, err);
		pthread_mutex_unlock(&tok->rec_mu);
		if (rc == CS_OK)
			return CS_OK;
		if (hard)
			return rc;
	}
}

enum cs_rc
p11_pool_run(struct p11_token *tok, p11_op_fn op, void *arg, struct cs_err *err)
{
	struct p11_sess *s = NULL;
	CK_SESSION_INFO si;
	uint64_t deadline, pause;
	unsigned attempt;
	CK_RV rv, why = CKR_OK;
	enum cs_rc rc;

	if (tok == NULL)
		return cs_err_set(err, CS_ERR_TOKEN, "token not open");
	if (tok->pid != getpid())
		return cs_err_set(err, CS_ERR_TOKEN,
		    "token opened before fork; open it again");
	deadline = p11_deadline(tok);
	rc = p11_pool_checkout(tok, deadline, &s, err);
	if (rc != CS_OK)
		return rc;
	for (attempt = 0;; attempt++) {
		if (why == CKR_OK && s->h != CK_INVALID_HANDLE) {
			rv = tok->f->C_GetSessionInfo(s->h, &si);
			if (rv == CKR_OK && !sess_user(si.state))
				rv = CKR_USER_NOT_LOGGED_IN;
			why = rv;
		} else if (why == CKR_OK) {
			why = CKR_SESSION_HANDLE_INVALID;
		}
		if (why != CKR_OK) {
			if (attempt >= 2) {
				/* Failing again right after recovery: pause. */
				pause = P11_BACKOFF_MIN_NS
				    << (attempt - 2 > 3 ? 3 : attempt - 2);
				if (cs_now_ns() + pause >= deadline) {
					rc = rec_unavailable(tok, why, err);
					break;
				}
				pool_sleep_until(cs_now_ns() + pause);
			}
			rc = pool_recover(tok, s, why, deadline, err);
			if (rc != CS_OK)
				break;
		}
		rv = CKR_OK;
		rc = op(tok, s->h, arg, &rv, err);
		if (rc == CS_OK || !p11_rv_recoverable(rv))
			break;
		why = rv;
		if (cs_now_ns() >= deadline) {
			rc = rec_unavailable(tok, why, err);
			break;
		}
	}
	p11_pool_checkin(tok, s);
	return rc;
}
