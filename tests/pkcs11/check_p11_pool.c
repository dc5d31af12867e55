/*
 * check_p11_pool.c: the session pool under concurrency and its recovery,
 * through the fault-injecting module p11fault.so in front of SoftHSM2:
 * lost sessions, a lost login, a token that goes away and comes back, a
 * refused PIN at re-login, and a pool with no free session.  Every wait is
 * measured: no call may take much longer than the configured timeout.
 */
#include <check.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/objects.h>

#include "certsvc/err.h"
#include "certsvc/mem.h"
#include "pkcs11/p11.h"
#include "pkcs11/p11_int.h"
#include "tests/testutil.h"

#define LABEL "pool-test"
#define MS 1000000ULL
/* What a call may take beyond its timeout (scheduling, sanitizers). */
#define SLACK_MS 200

static struct testutil_token tt;
static struct p11_token *tok;
static void *fault_dl;
static int (*fault_cmd)(const char *);
static unsigned long (*fault_signs)(void);
static unsigned long (*fault_logins)(void);
static char ctl[PATH_MAX];
static char uri[P11_URI_MAX];

/* The PIN the pin function hands out; tests change it. */
static char pin_now[16] = TESTUTIL_PIN;
static _Atomic unsigned pin_calls;

static enum cs_rc
pin_fn(void *arg, char *pin, size_t pinsz, struct cs_err *err)
{
	(void)arg;
	atomic_fetch_add(&pin_calls, 1);
	if (!cs_strlcpy(pin, pin_now, pinsz))
		return cs_err_set(err, CS_ERR_INVALID, "pin too long");
	return CS_OK;
}

static void
setup(void)
{
	char dir[PATH_MAX];

	testutil_softhsm(&tt, LABEL);
	setenv("P11FAULT_MODULE", tt.module, 1);
	testutil_tmpdir(dir, sizeof(dir));
	if (snprintf(ctl, sizeof(ctl), "%s/p11fault.ctl", dir) >=
	    (int)sizeof(ctl))
		ck_abort_msg("path too long");
	setenv("P11FAULT_CONTROL", ctl, 1);
}

static void
teardown(void)
{
	p11_token_free(tok);
	tok = NULL;
	if (fault_dl != NULL)
		dlclose(fault_dl);
	fault_dl = NULL;
	testutil_softhsm_remove(&tt);
}

/* Open the token through p11fault.so and make one P-256 key. */
static void
open_fault(unsigned pool_size, unsigned timeout_ms)
{
	const char *so = getenv("P11FAULT_SO");
	struct p11_config cfg;
	struct cs_err err;

	ck_assert_msg(so != NULL && *so != '\0', "P11FAULT_SO not set");
	memset(&cfg, 0, sizeof(cfg));
	cfg.module = so;
	cfg.token_label = LABEL;
	cfg.pool_size = pool_size;
	cfg.timeout_ms = timeout_ms;
	cfg.pin_fn = pin_fn;
	cs_err_clear(&err);
	ck_assert_msg(
	    p11_token_open(&cfg, &tok, &err) == CS_OK, "open: %s", err.msg);
	fault_dl = dlopen(so, RTLD_NOW | RTLD_NOLOAD);
	ck_assert_ptr_nonnull(fault_dl);
	*(void **)&fault_cmd = dlsym(fault_dl, "p11fault_command");
	*(void **)&fault_signs = dlsym(fault_dl, "p11fault_sign_count");
	*(void **)&fault_logins = dlsym(fault_dl, "p11fault_login_count");
	ck_assert(
	    fault_cmd != NULL && fault_signs != NULL && fault_logins != NULL);
	ck_assert_int_eq(
	    p11_key_generate(tok, P11_ALG_P256, "k", uri, sizeof(uri), &err),
	    CS_OK);
}

static enum cs_rc
sign(struct cs_err *err)
{
	unsigned char dgst[32], sig[128];
	size_t siglen = sizeof(sig);

	memset(dgst, 0x5a, sizeof(dgst));
	return p11_sign_digest(
	    tok, uri, NID_sha256, dgst, sizeof(dgst), sig, &siglen, err);
}

static void
sign_ok(void)
{
	struct cs_err err;

	cs_err_clear(&err);
	ck_assert_msg(sign(&err) == CS_OK, "sign: %s", err.msg);
}

static uint64_t
ms_since(uint64_t t0)
{
	return (cs_now_ns() - t0) / MS;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* --- recovery ------------------------------------------------------------ */

START_TEST(recovers_after_sessions_invalidated)
{
	struct p11_stats st;
	int i;

	open_fault(4, 2000);
	sign_ok();
	ck_assert_int_eq(fault_cmd("invalidate"), 0);
	sign_ok();
	p11_stats_get(tok, &st);
	ck_assert_uint_ge(st.recoveries, 1);
	/* Every other pooled session was lost too, and recovers alike. */
	for (i = 0; i < 8; i++)
		sign_ok();
	ck_assert(p11_token_ready(tok));
	p11_stats_get(tok, &st);
	ck_assert_uint_eq(st.sign_failures, 0);
}
END_TEST

START_TEST(recovers_after_logout)
{
	struct p11_stats st;
	unsigned calls;

	open_fault(2, 2000);
	sign_ok();
	calls = atomic_load(&pin_calls);
	ck_assert_int_eq(fault_cmd("logout"), 0);
	sign_ok();
	p11_stats_get(tok, &st);
	ck_assert_uint_ge(st.recoveries, 1);
	/* The PIN was asked for again, once: the login is the token's. */
	ck_assert_uint_eq(atomic_load(&pin_calls), calls + 1);
	sign_ok();
	sign_ok();
	ck_assert_uint_eq(atomic_load(&pin_calls), calls + 1);
}
END_TEST

START_TEST(transient_faults_are_retried)
{
	static const char *const cmds[] = {
	    "fail CKR_SESSION_HANDLE_INVALID 100",
	    "fail CKR_KEY_HANDLE_INVALID 100",
	    "fail CKR_USER_NOT_LOGGED_IN 100", "fail CKR_DEVICE_ERROR 100",
	    "fail 0x32 100", /* CKR_DEVICE_REMOVED */
	};
	uint64_t t0, ms;
	size_t i;

	open_fault(2, 2000);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		sign_ok();
		ck_assert_int_eq(fault_cmd(cmds[i]), 0);
		t0 = cs_now_ns();
		sign_ok();
		ms = ms_since(t0);
		ck_assert_msg(ms >= 90 && ms < 2000 + SLACK_MS,
		    "%s: took %llu ms", cmds[i], (unsigned long long)ms);
	}
}
END_TEST

START_TEST(unknown_failure_gives_up_at_deadline)
{
	struct cs_err err;
	uint64_t t0, ms;

	/* Every session call fails: the session cannot be trusted. */
	open_fault(2, 300);
	sign_ok();
	ck_assert_int_eq(fault_cmd("fail CKR_FUNCTION_FAILED 0"), 0);
	t0 = cs_now_ns();
	ck_assert_int_eq(sign(&err), CS_ERR_TOKEN);
	ms = ms_since(t0);
	ck_assert_uint_le(ms, 300 + SLACK_MS);
	ck_assert_str_eq(err.msg, "token unavailable: CKR_FUNCTION_FAILED");
	ck_assert_int_eq(fault_cmd("clear"), 0);
	sleep_ms(300);
	sign_ok();
}
END_TEST

START_TEST(token_away_until_cleared)
{
	struct p11_token_status st;
	struct cs_err err;
	uint64_t t0, ms;

	open_fault(2, 300);
	sign_ok();
	ck_assert_int_eq(fault_cmd("fail CKR_TOKEN_NOT_PRESENT 0"), 0);
	t0 = cs_now_ns();
	ck_assert(!p11_token_ready(tok));
	ck_assert_uint_le(ms_since(t0), 300 + SLACK_MS);
	ck_assert_int_eq(p11_token_info(tok, &st, &err), CS_ERR_TOKEN);
	ck_assert(!st.present);
	ck_assert_str_eq(st.label, LABEL);
	t0 = cs_now_ns();
	ck_assert_int_eq(sign(&err), CS_ERR_TOKEN);
	ms = ms_since(t0);
	ck_assert_uint_le(ms, 300 + SLACK_MS);
	ck_assert_str_eq(err.msg, "token unavailable: CKR_TOKEN_NOT_PRESENT");
	ck_assert_int_eq(fault_cmd("clear"), 0);
	sleep_ms(300); /* past the longest backoff */
	ck_assert(p11_token_ready(tok));
	ck_assert_int_eq(p11_token_info(tok, &st, &err), CS_OK);
	ck_assert(st.present && st.logged_in);
	sign_ok();
}
END_TEST

START_TEST(refused_pin_is_not_retried)
{
	struct cs_err err;
	unsigned long logins;
	int i;

	open_fault(2, 500);
	sign_ok();
	cs_strlcpy(pin_now, "0000", sizeof(pin_now));
	ck_assert_int_eq(fault_cmd("logout"), 0);
	logins = fault_logins();
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(sign(&err), CS_ERR_TOKEN);
		ck_assert_msg(strstr(err.msg, "CKR_PIN_INCORRECT") != NULL,
		    "%s", err.msg);
		ck_assert_ptr_null(strstr(err.msg, "0000"));
		sleep_ms(30);
	}
	/* One C_Login with the wrong PIN, then none until the PIN changes. */
	ck_assert_uint_eq(fault_logins(), logins + 1);
	cs_strlcpy(pin_now, TESTUTIL_PIN, sizeof(pin_now));
	sleep_ms(300);
	sign_ok();
	ck_assert_uint_eq(fault_logins(), logins + 2);
}
END_TEST

START_TEST(control_file_steers_faults)
{
	char tmp[PATH_MAX + 8];
	struct cs_err err;
	FILE *f;

	open_fault(2, 300);
	sign_ok();
	ck_assert_int_lt(
	    snprintf(tmp, sizeof(tmp), "%s.tmp", ctl), (int)sizeof(tmp));
	f = fopen(tmp, "w");
	ck_assert_ptr_nonnull(f);
	fputs("fail CKR_DEVICE_REMOVED 0\n", f);
	fclose(f);
	ck_assert_int_eq(rename(tmp, ctl), 0);
	sleep_ms(50);
	ck_assert_int_eq(sign(&err), CS_ERR_TOKEN);
	ck_assert_str_eq(err.msg, "token unavailable: CKR_DEVICE_REMOVED");
	f = fopen(tmp, "w");
	ck_assert_ptr_nonnull(f);
	fputs("clear\n", f);
	fclose(f);
	ck_assert_int_eq(rename(tmp, ctl), 0);
	sleep_ms(300);
	sign_ok();
}
END_TEST

START_TEST(forked_child_is_refused)
{
	struct cs_err err;
	pid_t pid;
	int status;

	open_fault(2, 500);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		enum cs_rc rc = sign(&err);

		_exit(
		    rc == CS_ERR_TOKEN && strstr(err.msg, "before fork") != NULL
		        ? 0
		        : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	sign_ok();
}
END_TEST

/* --- the pool ------------------------------------------------------------ */

START_TEST(checkout_never_waits_forever)
{
	struct p11_sess *held;
	struct p11_stats st;
	struct cs_err err;
	uint64_t t0, ms;

	open_fault(1, 300);
	ck_assert_int_eq(
	    p11_pool_checkout(tok, p11_deadline(tok), &held, NULL), CS_OK);
	t0 = cs_now_ns();
	ck_assert_int_eq(sign(&err), CS_ERR_TOKEN);
	ms = ms_since(t0);
	ck_assert_str_eq(err.msg, "token unavailable: no free session");
	ck_assert_msg(ms >= 290 && ms <= 300 + SLACK_MS, "waited %llu ms",
	    (unsigned long long)ms);
	t0 = cs_now_ns();
	ck_assert(!p11_token_ready(tok));
	ck_assert_uint_le(ms_since(t0), 300 + SLACK_MS);
	p11_pool_checkin(tok, held);
	sign_ok();
	p11_stats_get(tok, &st);
	ck_assert_uint_eq(st.pool_timeouts, 2);
	ck_assert_uint_ge(st.pool_waits, 2);
	ck_assert_uint_eq(st.signs, 1);
	ck_assert_uint_eq(st.sign_failures, 1);
}
END_TEST

static void *
sign_in_thread(void *arg)
{
	struct cs_err err;

	*(enum cs_rc *)arg = sign(&err);
	return NULL;
}

/*
 * queue_max: with the one session taken and one caller already waiting,
 * the next is refused at once (not after the timeout), and the waiter
 * still gets the session when it comes back.
 */
START_TEST(full_queue_is_shed_at_once)
{
	struct p11_sess *held;
	struct p11_stats st;
	struct cs_err err;
	enum cs_rc waiter_rc = CS_ERR_INVALID;
	pthread_t t;
	unsigned waiting = 0, i;
	uint64_t t0, ms;

	open_fault(1, 2000);
	tok->queue_max = 1;
	ck_assert_int_eq(
	    p11_pool_checkout(tok, p11_deadline(tok), &held, NULL), CS_OK);
	ck_assert_int_eq(
	    pthread_create(&t, NULL, sign_in_thread, &waiter_rc), 0);
	for (i = 0; i < 200 && waiting == 0; i++) {
		sleep_ms(5);
		pthread_mutex_lock(&tok->pool_mu);
		waiting = tok->waiters;
		pthread_mutex_unlock(&tok->pool_mu);
	}
	ck_assert_uint_eq(waiting, 1);
	t0 = cs_now_ns();
	ck_assert_int_eq(sign(&err), CS_ERR_TOKEN);
	ms = ms_since(t0);
	ck_assert_str_eq(err.msg, "token busy: 1 requests waiting");
	ck_assert_msg(ms < 50, "shed after %llu ms", (unsigned long long)ms);
	p11_pool_checkin(tok, held);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(waiter_rc, CS_OK);
	p11_stats_get(tok, &st);
	ck_assert_uint_eq(st.pool_shed, 1);
	ck_assert_uint_eq(st.pool_timeouts, 0);
	ck_assert_uint_eq(st.signs, 1);
}
END_TEST

#define NTHREADS 4

struct signer {
	pthread_t t;
	uint64_t stop_ns;
	uint64_t clear_ns; /* the fault is over (plus one backoff) */
	unsigned ok, fail, ok_after, bad_rc;
	uint64_t max_ns;
	char msg[CS_ERR_MSG_MAX];
};

static void *
signer_run(void *arg)
{
	struct signer *s = arg;
	struct cs_err err;
	uint64_t t0, ns;
	enum cs_rc rc;

	while ((t0 = cs_now_ns()) < s->stop_ns) {
		rc = sign(&err);
		ns = cs_now_ns() - t0;
		if (ns > s->max_ns)
			s->max_ns = ns;
		if (rc == CS_OK) {
			s->ok++;
			if (s->clear_ns != 0 && t0 > s->clear_ns)
				s->ok_after++;
		} else {
			s->fail++;
			if (rc != CS_ERR_TOKEN ||
			    strncmp(err.msg, "token unavailable", 17) != 0) {
				s->bad_rc++;
				memcpy(s->msg, err.msg, sizeof(s->msg));
			}
		}
	}
	return NULL;
}

START_TEST(concurrent_signers_share_the_pool)
{
	struct signer s[NTHREADS];
	struct p11_stats st;
	unsigned long signs0;
	unsigned ok = 0;
	int i;

	open_fault(2, 2000);
	signs0 = fault_signs();
	memset(s, 0, sizeof(s));
	for (i = 0; i < NTHREADS; i++) {
		s[i].stop_ns = cs_now_ns() + 500 * MS;
		ck_assert_int_eq(
		    pthread_create(&s[i].t, NULL, signer_run, &s[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(s[i].t, NULL);
		ck_assert_uint_eq(s[i].fail, 0);
		ck_assert_uint_gt(s[i].ok, 0);
		ok += s[i].ok;
	}
	p11_stats_get(tok, &st);
	ck_assert_uint_eq(st.signs, ok);
	ck_assert_uint_eq(fault_signs() - signs0, ok);
	ck_assert_uint_eq(p11_pool_idle(tok), 2);
}
END_TEST

START_TEST(device_removed_under_load)
{
	const unsigned timeout = 300;
	struct signer s[NTHREADS];
	struct p11_stats st;
	uint64_t start, max = 0;
	unsigned fail = 0, ok_after = 0;
	int i;

	open_fault(NTHREADS, timeout);
	sign_ok();
	start = cs_now_ns();
	memset(s, 0, sizeof(s));
	for (i = 0; i < NTHREADS; i++) {
		s[i].stop_ns = start + 2500 * MS;
		/* 300 ms in, the fault lasts 1 s; allow one backoff after. */
		s[i].clear_ns = start + (300 + 1000 + 300) * MS;
		ck_assert_int_eq(
		    pthread_create(&s[i].t, NULL, signer_run, &s[i]), 0);
	}
	sleep_ms(300);
	ck_assert_int_eq(fault_cmd("fail CKR_DEVICE_REMOVED 1000"), 0);
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(s[i].t, NULL);
		ck_assert_msg(
		    s[i].bad_rc == 0, "unexpected error: %s", s[i].msg);
		fail += s[i].fail;
		ok_after += s[i].ok_after;
		if (s[i].max_ns > max)
			max = s[i].max_ns;
	}
	fprintf(stderr,
	    "device_removed_under_load: max latency %llu ms, %u failed, "
	    "%u ok after the fault\n",
	    (unsigned long long)(max / MS), fail, ok_after);
	ck_assert_uint_gt(fail, 0);
	ck_assert_msg(max / MS <= timeout + SLACK_MS, "max latency %llu ms",
	    (unsigned long long)(max / MS));
	ck_assert_uint_gt(ok_after, 0);
	/* The same token object signs again, nothing was reopened by hand. */
	sign_ok();
	ck_assert(p11_token_ready(tok));
	p11_stats_get(tok, &st);
	ck_assert_uint_eq(st.sign_failures, fail);
}
END_TEST

static Suite *
p11_pool_suite(void)
{
	Suite *s = suite_create("p11_pool");
	TCase *tc;

	tc = tcase_create("recovery");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, recovers_after_sessions_invalidated);
	tcase_add_test(tc, recovers_after_logout);
	tcase_add_test(tc, transient_faults_are_retried);
	tcase_add_test(tc, unknown_failure_gives_up_at_deadline);
	tcase_add_test(tc, token_away_until_cleared);
	tcase_add_test(tc, refused_pin_is_not_retried);
	tcase_add_test(tc, control_file_steers_faults);
	tcase_add_test(tc, forked_child_is_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("pool");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, checkout_never_waits_forever);
	tcase_add_test(tc, full_queue_is_shed_at_once);
	tcase_add_test(tc, concurrent_signers_share_the_pool);
	tcase_add_test(tc, device_removed_under_load);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(p11_pool_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
