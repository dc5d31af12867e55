/*
 * p11fault.c: a PKCS#11 module that forwards every call to a real module
 * (env P11FAULT_MODULE, default SoftHSM2) and injects faults on command, so
 * that the token layer's recovery can be tested without unplugging
 * anything.  Commands (one per string):
 *
 *   fail <CKR_NAME|number> [ms]  make calls fail with that code for ms
 *                                milliseconds (0 or absent: until cleared)
 *   clear                        stop failing
 *   invalidate                   C_CloseAllSessions on the real module:
 *                                every open handle becomes invalid
 *   logout                       C_Logout on the real module: the login
 *                                of all sessions is lost
 *   delay <ms>                   every C_Sign takes ms milliseconds more
 *                                (a slow token; 0 ends it)
 *
 * A failing code hits every call that takes a session (and login, crypto,
 * objects); "token absent" codes (CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT,
 * CKR_DEVICE_ERROR) also hit C_GetSlotList, C_GetSlotInfo, C_GetTokenInfo,
 * C_GetMechanism* and C_OpenSession.  C_Initialize, C_Finalize, C_GetInfo
 * and C_GetFunctionList never fail.
 *
 * Commands come from p11fault_command() (in-process tests) or from the
 * file named by env P11FAULT_CONTROL, re-read when it changes (checked at
 * most every 20 ms, from inside the calls), so a test can steer a running
 * certsvcd.  p11fault_sign_count() and p11fault_login_count() count the
 * C_Sign and C_Login calls that reached the real module.
 *
 * A module is process-global by nature, so the state here is too.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#define FAULT_DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define FAULT_POLL_NS (20ULL * 1000000ULL)

int p11fault_command(const char *cmd);
unsigned long p11fault_sign_count(void);
unsigned long p11fault_login_count(void);

static pthread_once_t fault_once = PTHREAD_ONCE_INIT;
static CK_FUNCTION_LIST *real;
static CK_FUNCTION_LIST wrap;
static char ctl_path[4096];

static _Atomic CK_RV fail_rv;
static _Atomic uint64_t fail_until; /* monotonic ns; 0: until cleared */
static _Atomic unsigned long sign_count;
static _Atomic unsigned long login_count;
static _Atomic unsigned long sign_delay_ms;
static _Atomic uint64_t ctl_checked;
static pthread_mutex_t ctl_mu = PTHREAD_MUTEX_INITIALIZER;
static struct stat ctl_st; /* under ctl_mu */

enum fault_cls {
	FAULT_NEVER,
	FAULT_SLOT,    /* only for "token absent" codes */
	FAULT_SESSION, /* for every code */
};

static const struct {
	const char *name;
	CK_RV rv;
} fault_names[] = {
#define RV(x)                                                                  \
	{                                                                      \
#x, x                                                          \
	}
    RV(CKR_GENERAL_ERROR),
    RV(CKR_FUNCTION_FAILED),
    RV(CKR_DEVICE_ERROR),
    RV(CKR_DEVICE_MEMORY),
    RV(CKR_DEVICE_REMOVED),
    RV(CKR_TOKEN_NOT_PRESENT),
    RV(CKR_SESSION_HANDLE_INVALID),
    RV(CKR_SESSION_CLOSED),
    RV(CKR_USER_NOT_LOGGED_IN),
    RV(CKR_KEY_HANDLE_INVALID),
    RV(CKR_OBJECT_HANDLE_INVALID),
    RV(CKR_OPERATION_ACTIVE),
    RV(CKR_PIN_INCORRECT),
    RV(CKR_PIN_LOCKED),
    RV(CKR_HOST_MEMORY),
#undef RV
};

static uint64_t
fault_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void
fault_load(void)
{
	CK_C_GetFunctionList getfl;
	const char *path = getenv("P11FAULT_MODULE");
	void *dl;

	if (path == NULL || *path == '\0')
		path = FAULT_DEFAULT_MODULE;
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (dl == NULL) {
		fprintf(
		    stderr, "p11fault: cannot load %s: %s\n", path, dlerror());
		return;
	}
	*(void **)&getfl = dlsym(dl, "C_GetFunctionList");
	if (getfl == NULL || getfl(&real) != CKR_OK)
		real = NULL;
}

static bool
fault_absent(CK_RV rv)
{
	return rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT ||
	    rv == CKR_DEVICE_ERROR;
}

static bool
fault_parse_rv(const char *s, CK_RV *rv)
{
	char *end;
	size_t i;
	unsigned long v;

	for (i = 0; i < sizeof(fault_names) / sizeof(fault_names[0]); i++)
		if (strcmp(s, fault_names[i].name) == 0) {
			*rv = fault_names[i].rv;
			return true;
		}
	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || v == 0)
		return false;
	*rv = v;
	return true;
}

/* Every slot with a token, for invalidate and logout. */
static CK_ULONG
fault_slots(CK_SLOT_ID *slots, CK_ULONG max)
{
	CK_ULONG n = max;

	if (real->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
		return 0;
	return n;
}

int
p11fault_command(const char *cmd)
{
	char buf[256], *words[4], *p;
	CK_SLOT_ID slots[64];
	CK_SESSION_HANDLE h;
	CK_ULONG n, i;
	CK_RV rv;
	unsigned long ms = 0;
	char *end;
	int nw = 0;

	pthread_once(&fault_once, fault_load);
	if (cmd == NULL || strlen(cmd) >= sizeof(buf))
		return -1;
	memcpy(buf, cmd, strlen(cmd) + 1);
	/* Split on blanks into at most 4 words. */
	for (p = buf; *p != '\0';) {
		while (*p != '\0' && strchr(" \t\r\n", *p) != NULL)
			*p++ = '\0';
		if (*p == '\0')
			break;
		if (nw == 4)
			return -1;
		words[nw++] = p;
		while (*p != '\0' && strchr(" \t\r\n", *p) == NULL)
			p++;
	}
	if (nw == 0)
		return -1;
	if (strcmp(words[0], "clear") == 0 && nw == 1) {
		atomic_store(&fail_rv, CKR_OK);
		atomic_store(&fail_until, 0);
		return 0;
	}
	if (strcmp(words[0], "fail") == 0 && (nw == 2 || nw == 3)) {
		if (!fault_parse_rv(words[1], &rv))
			return -1;
		if (nw == 3) {
			errno = 0;
			ms = strtoul(words[2], &end, 10);
			if (errno != 0 || end == words[2] || *end != '\0')
				return -1;
		}
		/* Set the end first so that no reader sees a stale one. */
		atomic_store(&fail_rv, CKR_OK);
		atomic_store(
		    &fail_until, ms ? fault_now() + ms * 1000000ULL : 0);
		atomic_store(&fail_rv, rv);
		return 0;
	}
	if (strcmp(words[0], "delay") == 0 && nw == 2) {
		errno = 0;
		ms = strtoul(words[1], &end, 10);
		if (errno != 0 || end == words[1] || *end != '\0')
			return -1;
		atomic_store(&sign_delay_ms, ms);
		return 0;
	}
	if (real == NULL)
		return -1;
	if (strcmp(words[0], "invalidate") == 0 && nw == 1) {
		n = fault_slots(slots, 64);
		for (i = 0; i < n; i++)
			real->C_CloseAllSessions(slots[i]);
		return 0;
	}
	if (strcmp(words[0], "logout") == 0 && nw == 1) {
		n = fault_slots(slots, 64);
		for (i = 0; i < n; i++) {
			if (real->C_OpenSession(slots[i], CKF_SERIAL_SESSION,
			        NULL, NULL, &h) != CKR_OK)
				continue;
			real->C_Logout(h);
			real->C_CloseSession(h);
		}
		return 0;
	}
	return -1;
}

unsigned long
p11fault_sign_count(void)
{
	return atomic_load(&sign_count);
}

unsigned long
p11fault_login_count(void)
{
	return atomic_load(&login_count);
}

/* Re-read the control file if it changed; cheap when it did not. */
static void
fault_poll(void)
{
	uint64_t now, last;
	struct stat st;
	char buf[256];
	ssize_t n;
	int fd;

	if (ctl_path[0] == '\0')
		return;
	now = fault_now();
	last = atomic_load(&ctl_checked);
	if (now - last < FAULT_POLL_NS ||
	    !atomic_compare_exchange_strong(&ctl_checked, &last, now))
		return;
	if (pthread_mutex_trylock(&ctl_mu) != 0)
		return;
	if (stat(ctl_path, &st) != 0 ||
	    (st.st_mtim.tv_sec == ctl_st.st_mtim.tv_sec &&
	        st.st_mtim.tv_nsec == ctl_st.st_mtim.tv_nsec &&
	        st.st_ino == ctl_st.st_ino && st.st_size == ctl_st.st_size))
		goto out;
	ctl_st = st;
	fd = open(ctl_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto out;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		goto out;
	buf[n] = '\0';
	if (p11fault_command(buf) != 0)
		fprintf(stderr, "p11fault: bad command in %s\n", ctl_path);
out:
	pthread_mutex_unlock(&ctl_mu);
}

static CK_RV
fault(enum fault_cls cls)
{
	CK_RV rv;
	uint64_t until;

	fault_poll();
	rv = atomic_load(&fail_rv);
	if (rv == CKR_OK || cls == FAULT_NEVER)
		return CKR_OK;
	until = atomic_load(&fail_until);
	if (until != 0 && fault_now() >= until) {
		atomic_compare_exchange_strong(&fail_rv, &rv, CKR_OK);
		return CKR_OK;
	}
	if (cls == FAULT_SLOT && !fault_absent(rv))
		return CKR_OK;
	return rv;
}

/* Forwarders: W(name, class, (parameters), (arguments)). */
#define W(name, cls, params, args)                                             \
	static CK_RV w_##name params                                           \
	{                                                                      \
		CK_RV rv_ = fault(cls);                                        \
		if (rv_ != CKR_OK)                                             \
			return rv_;                                            \
		return real->name args;                                        \
	}

/* A new initialisation starts without faults and re-reads the control. */
static CK_RV
w_C_Initialize(void *a)
{
	const char *ctl = getenv("P11FAULT_CONTROL");

	pthread_once(&fault_once, fault_load);
	if (real == NULL)
		return CKR_GENERAL_ERROR;
	atomic_store(&fail_rv, CKR_OK);
	atomic_store(&fail_until, 0);
	pthread_mutex_lock(&ctl_mu);
	ctl_path[0] = '\0';
	if (ctl != NULL && strlen(ctl) < sizeof(ctl_path))
		memcpy(ctl_path, ctl, strlen(ctl) + 1);
	memset(&ctl_st, 0, sizeof(ctl_st));
	atomic_store(&ctl_checked, 0);
	pthread_mutex_unlock(&ctl_mu);
	return real->C_Initialize(a);
}

W(C_Finalize, FAULT_NEVER, (void *a), (a))
W(C_GetInfo, FAULT_NEVER, (CK_INFO * a), (a))
W(C_GetSlotList, FAULT_SLOT, (CK_BBOOL a, CK_SLOT_ID *b, CK_ULONG *c),
    (a, b, c))
W(C_GetSlotInfo, FAULT_SLOT, (CK_SLOT_ID a, CK_SLOT_INFO *b), (a, b))
W(C_GetTokenInfo, FAULT_SLOT, (CK_SLOT_ID a, CK_TOKEN_INFO *b), (a, b))
W(C_GetMechanismList, FAULT_SLOT,
    (CK_SLOT_ID a, CK_MECHANISM_TYPE *b, CK_ULONG *c), (a, b, c))
W(C_GetMechanismInfo, FAULT_SLOT,
    (CK_SLOT_ID a, CK_MECHANISM_TYPE b, CK_MECHANISM_INFO *c), (a, b, c))
W(C_InitToken, FAULT_SLOT,
    (CK_SLOT_ID a, CK_UTF8CHAR *b, CK_ULONG c, CK_UTF8CHAR *d), (a, b, c, d))
W(C_InitPIN, FAULT_SESSION, (CK_SESSION_HANDLE a, CK_UTF8CHAR *b, CK_ULONG c),
    (a, b, c))
W(C_SetPIN, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_UTF8CHAR *b, CK_ULONG c, CK_UTF8CHAR *d,
        CK_ULONG e),
    (a, b, c, d, e))
W(C_OpenSession, FAULT_SLOT,
    (CK_SLOT_ID a, CK_FLAGS b, void *c, CK_NOTIFY d, CK_SESSION_HANDLE *e),
    (a, b, c, d, e))
W(C_CloseSession, FAULT_SESSION, (CK_SESSION_HANDLE a), (a))
W(C_CloseAllSessions, FAULT_SESSION, (CK_SLOT_ID a), (a))
W(C_GetSessionInfo, FAULT_SESSION, (CK_SESSION_HANDLE a, CK_SESSION_INFO *b),
    (a, b))
W(C_GetOperationState, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG *c), (a, b, c))
W(C_SetOperationState, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_OBJECT_HANDLE d,
        CK_OBJECT_HANDLE e),
    (a, b, c, d, e))
W(C_Logout, FAULT_SESSION, (CK_SESSION_HANDLE a), (a))
W(C_CreateObject, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_ATTRIBUTE *b, CK_ULONG c, CK_OBJECT_HANDLE *d),
    (a, b, c, d))
W(C_CopyObject, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE *c, CK_ULONG d,
        CK_OBJECT_HANDLE *e),
    (a, b, c, d, e))
W(C_DestroyObject, FAULT_SESSION, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b),
    (a, b))
W(C_GetObjectSize, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ULONG *c), (a, b, c))
W(C_GetAttributeValue, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE *c, CK_ULONG d),
    (a, b, c, d))
W(C_SetAttributeValue, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE *c, CK_ULONG d),
    (a, b, c, d))
W(C_FindObjectsInit, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_ATTRIBUTE *b, CK_ULONG c), (a, b, c))
W(C_FindObjects, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE *b, CK_ULONG c, CK_ULONG *d),
    (a, b, c, d))
W(C_FindObjectsFinal, FAULT_SESSION, (CK_SESSION_HANDLE a), (a))
W(C_EncryptInit, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_OBJECT_HANDLE c), (a, b, c))
W(C_Encrypt, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e),
    (a, b, c, d, e))
W(C_EncryptUpdate, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e),
    (a, b, c, d, e))
W(C_EncryptFinal, FAULT_SESSION, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG *c),
    (a, b, c))
W(C_DecryptInit, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_OBJECT_HANDLE c), (a, b, c))
W(C_Decrypt, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e),
    (a, b, c, d, e))
W(C_DecryptUpdate, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e),
    (a, b, c, d, e))
W(C_DecryptFinal, FAULT_SESSION, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG *c),
    (a, b, c))
W(C_DigestInit, FAULT_SESSION, (CK_SESSION_HANDLE a, CK_MECHANISM *b), (a, b))
W(C_Digest, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e),
    (a, b, c, d, e))
W(C_DigestUpdate, FAULT_SESSION, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c),
    (a, b, c))
W(C_DigestKey, FAULT_SESSION, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b), (a, b))
W(C_DigestFinal, FAULT_SESSION, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG *c),
    (a, b, c))
W(C_SignInit, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_OBJECT_HANDLE c), (a, b, c))
W(C_SignUpdate, FAULT_SESSION, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c),
    (a, b, c))
W(C_SignFinal, FAULT_SESSION, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG *c),
    (a, b, c))
W(C_SignRecoverInit, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_OBJECT_HANDLE c), (a, b, c))
W(C_SignRecover, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e),
    (a, b, c, d, e))
W(C_VerifyInit, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_OBJECT_HANDLE c), (a, b, c))
W(C_Verify, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG e),
    (a, b, c, d, e))
W(C_VerifyUpdate, FAULT_SESSION, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c),
    (a, b, c))
W(C_VerifyFinal, FAULT_SESSION, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c),
    (a, b, c))
W(C_VerifyRecoverInit, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_OBJECT_HANDLE c), (a, b, c))
W(C_VerifyRecover, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e),
    (a, b, c, d, e))
W(C_DigestEncryptUpdate, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e),
    (a, b, c, d, e))
W(C_DecryptDigestUpdate, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e),
    (a, b, c, d, e))
W(C_SignEncryptUpdate, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e),
    (a, b, c, d, e))
W(C_DecryptVerifyUpdate, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e),
    (a, b, c, d, e))
W(C_GenerateKey, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_ATTRIBUTE *c, CK_ULONG d,
        CK_OBJECT_HANDLE *e),
    (a, b, c, d, e))
W(C_GenerateKeyPair, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_ATTRIBUTE *c, CK_ULONG d,
        CK_ATTRIBUTE *e, CK_ULONG f, CK_OBJECT_HANDLE *g, CK_OBJECT_HANDLE *h),
    (a, b, c, d, e, f, g, h))
W(C_WrapKey, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_OBJECT_HANDLE c,
        CK_OBJECT_HANDLE d, CK_BYTE *e, CK_ULONG *f),
    (a, b, c, d, e, f))
W(C_UnwrapKey, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_OBJECT_HANDLE c, CK_BYTE *d,
        CK_ULONG e, CK_ATTRIBUTE *f, CK_ULONG g, CK_OBJECT_HANDLE *h),
    (a, b, c, d, e, f, g, h))
W(C_DeriveKey, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_OBJECT_HANDLE c, CK_ATTRIBUTE *d,
        CK_ULONG e, CK_OBJECT_HANDLE *f),
    (a, b, c, d, e, f))
W(C_SeedRandom, FAULT_SESSION, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c),
    (a, b, c))
W(C_GenerateRandom, FAULT_SESSION,
    (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c), (a, b, c))
W(C_GetFunctionStatus, FAULT_SESSION, (CK_SESSION_HANDLE a), (a))
W(C_CancelFunction, FAULT_SESSION, (CK_SESSION_HANDLE a), (a))
W(C_WaitForSlotEvent, FAULT_NEVER, (CK_FLAGS a, CK_SLOT_ID *b, void *c),
    (a, b, c))

static CK_RV
w_C_Sign(CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e)
{
	CK_RV rv = fault(FAULT_SESSION);
	unsigned long ms = atomic_load(&sign_delay_ms);
	struct timespec ts = {
	    (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

	if (rv != CKR_OK)
		return rv;
	if (ms > 0)
		nanosleep(&ts, NULL);
	atomic_fetch_add(&sign_count, 1);
	return real->C_Sign(a, b, c, d, e);
}

static CK_RV
w_C_Login(CK_SESSION_HANDLE a, CK_USER_TYPE b, CK_UTF8CHAR *c, CK_ULONG d)
{
	CK_RV rv = fault(FAULT_SESSION);

	if (rv != CKR_OK)
		return rv;
	atomic_fetch_add(&login_count, 1);
	return real->C_Login(a, b, c, d);
}

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST **list)
{
	pthread_once(&fault_once, fault_load);
	if (real == NULL)
		return CKR_GENERAL_ERROR;
	if (list == NULL)
		return CKR_ARGUMENTS_BAD;
	wrap.version = real->version;
#define F(name) wrap.name = w_##name
	F(C_Initialize);
	F(C_Finalize);
	F(C_GetInfo);
	wrap.C_GetFunctionList = C_GetFunctionList;
	F(C_GetSlotList);
	F(C_GetSlotInfo);
	F(C_GetTokenInfo);
	F(C_GetMechanismList);
	F(C_GetMechanismInfo);
	F(C_InitToken);
	F(C_InitPIN);
	F(C_SetPIN);
	F(C_OpenSession);
	F(C_CloseSession);
	F(C_CloseAllSessions);
	F(C_GetSessionInfo);
	F(C_GetOperationState);
	F(C_SetOperationState);
	F(C_Login);
	F(C_Logout);
	F(C_CreateObject);
	F(C_CopyObject);
	F(C_DestroyObject);
	F(C_GetObjectSize);
	F(C_GetAttributeValue);
	F(C_SetAttributeValue);
	F(C_FindObjectsInit);
	F(C_FindObjects);
	F(C_FindObjectsFinal);
	F(C_EncryptInit);
	F(C_Encrypt);
	F(C_EncryptUpdate);
	F(C_EncryptFinal);
	F(C_DecryptInit);
	F(C_Decrypt);
	F(C_DecryptUpdate);
	F(C_DecryptFinal);
	F(C_DigestInit);
	F(C_Digest);
	F(C_DigestUpdate);
	F(C_DigestKey);
	F(C_DigestFinal);
	F(C_SignInit);
	F(C_Sign);
	F(C_SignUpdate);
	F(C_SignFinal);
	F(C_SignRecoverInit);
	F(C_SignRecover);
	F(C_VerifyInit);
	F(C_Verify);
	F(C_VerifyUpdate);
	F(C_VerifyFinal);
	F(C_VerifyRecoverInit);
	F(C_VerifyRecover);
	F(C_DigestEncryptUpdate);
	F(C_DecryptDigestUpdate);
	F(C_SignEncryptUpdate);
	F(C_DecryptVerifyUpdate);
	F(C_GenerateKey);
	F(C_GenerateKeyPair);
	F(C_WrapKey);
	F(C_UnwrapKey);
	F(C_DeriveKey);
	F(C_SeedRandom);
	F(C_GenerateRandom);
	F(C_GetFunctionStatus);
	F(C_CancelFunction);
	F(C_WaitForSlotEvent);
#undef F
	*list = &wrap;
	return CKR_OK;
}
