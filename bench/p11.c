/*
 * bench/p11.c: token signatures per second with 1, 2 and 4 threads, for
 * P-256 and RSA-3072, three ways:
 *   (a) raw:  C_SignInit + C_Sign, one session per thread, on the module
 *             loaded with its own dlopen() and no certsvc code at all;
 *   (b) pool: p11_sign_digest() through the session pool;
 *   (c) evp:  EVP_DigestSign() with the EVP_PKEY of p11_key_get(), the way
 *             X509_sign() and CMS signing reach the token.
 * The ceiling is (a); the target is (b) and (c) >= 90% of it at every
 * thread count.  The token is a throwaway SoftHSM2 token in a temp dir.
 *
 *   p11 [--seconds S] [--rounds N] [--json] [--module PATH]
 *       [--alg p256|rsa3072] [--threads N] [--path raw|pool|evp]
 *
 * Each measurement runs S seconds (default 3); with N rounds each
 * measurement is repeated N times, interleaved, and the best kept.
 * --alg, --threads (1 to 64) and --path select one algorithm, one thread
 * count and one path instead of the whole table (bench/issue.sh takes the
 * raw rate at its own parallelism this way); ratios are printed only when
 * all three paths were measured.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/objects.h>

#include <p11-kit/pkcs11.h>

#include "certsvc/err.h"
#include "certsvc/mem.h"
#include "pkcs11/p11.h"

#define BENCH_LABEL "bench"
#define BENCH_PIN "1234"
#define BENCH_SO_PIN "5678"
#define BENCH_TARGET 0.90
#define BENCH_MAX_THREADS 64

extern char **environ;

enum bench_path { PATH_RAW, PATH_POOL, PATH_EVP, PATH_N };

struct bench_alg {
	const char *name;
	enum p11_alg alg;
	const char *label;
	char uri[P11_URI_MAX];
	EVP_PKEY *evp;
};

/* The raw side: the module as a plain PKCS#11 application sees it. */
struct raw {
	void *dl;
	CK_FUNCTION_LIST *f;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE login; /* keeps the login alive */
	bool finalize;
};

struct bench {
	struct p11_token *tok;
	struct raw raw;
	double seconds;
	unsigned char dgst[32];
	unsigned char di[51]; /* DigestInfo(sha256, dgst) for raw RSA */
	unsigned char msg[100];
};

struct worker {
	pthread_t t;
	struct bench *b;
	struct bench_alg *alg;
	enum bench_path path;
	pthread_barrier_t *start;
	atomic_bool *stop;
	unsigned long ops;
	bool failed;
};

static void
die(const char *what)
{
	fprintf(stderr, "bench/p11: %s\n", what);
	exit(1);
}

/* Run argv with its stdout on /dev/null (keeps --json output clean). */
static int
run(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st, rc;

	if (posix_spawn_file_actions_init(&fa) != 0)
		return -1;
	posix_spawn_file_actions_addopen(
	    &fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return -1;
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A SoftHSM2 token in a new temp dir; SOFTHSM2_CONF points at it. */
static void
make_token(char *dir, size_t dirsz)
{
	char conf[PATH_MAX + 32], tokdir[PATH_MAX + 16];
	FILE *f;
	char tmpl[] = "/tmp/certsvc-bench.XXXXXX";

	if (mkdtemp(tmpl) == NULL)
		die("mkdtemp failed");
	cs_strlcpy(dir, tmpl, dirsz);
	snprintf(tokdir, sizeof(tokdir), "%s/tokens", dir);
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", dir);
	{
		char *argv[] = {"mkdir", tokdir, NULL};

		if (run(argv) != 0)
			die("mkdir failed");
	}
	f = fopen(conf, "w");
	if (f == NULL)
		die("cannot write softhsm2.conf");
	fprintf(f,
	    "directories.tokendir = %s\nobjectstore.backend = file\n"
	    "log.level = ERROR\nslots.removable = false\n",
	    tokdir);
	fclose(f);
	setenv("SOFTHSM2_CONF", conf, 1);
	{
		char *argv[] = {"softhsm2-util", "--init-token", "--free",
		    "--label", BENCH_LABEL, "--pin", BENCH_PIN, "--so-pin",
		    BENCH_SO_PIN, NULL};

		if (run(argv) != 0)
			die("softhsm2-util --init-token failed");
	}
}

static enum cs_rc
pin_fn(void *arg, char *pin, size_t pinsz, struct cs_err *err)
{
	(void)arg;
	if (!cs_strlcpy(pin, BENCH_PIN, pinsz))
		return cs_err_set(err, CS_ERR_INVALID, "pin too long");
	return CS_OK;
}

/* --- (a) raw PKCS#11 ----------------------------------------------------- */

static void
raw_open(struct raw *r, const char *module)
{
	CK_C_INITIALIZE_ARGS args;
	CK_C_GetFunctionList getfl;
	CK_SLOT_ID slots[64];
	CK_ULONG n = 64, i;
	CK_TOKEN_INFO ti;
	CK_RV rv;

	memset(r, 0, sizeof(*r));
	r->dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	if (r->dl == NULL)
		die("raw: dlopen failed");
	*(void **)&getfl = dlsym(r->dl, "C_GetFunctionList");
	if (getfl == NULL || getfl(&r->f) != CKR_OK)
		die("raw: C_GetFunctionList failed");
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	rv = r->f->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
		die("raw: C_Initialize failed");
	r->finalize = rv == CKR_OK;
	if (r->f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
		die("raw: C_GetSlotList failed");
	for (i = 0; i < n; i++)
		if (r->f->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
		    memcmp(ti.label, BENCH_LABEL, strlen(BENCH_LABEL)) == 0 &&
		    ti.label[strlen(BENCH_LABEL)] == ' ')
			break;
	if (i == n)
		die("raw: token not found");
	r->slot = slots[i];
	if (r->f->C_OpenSession(
	        r->slot, CKF_SERIAL_SESSION, NULL, NULL, &r->login) != CKR_OK)
		die("raw: C_OpenSession failed");
	rv = r->f->C_Login(
	    r->login, CKU_USER, (CK_UTF8CHAR *)BENCH_PIN, strlen(BENCH_PIN));
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
		die("raw: C_Login failed");
}

static void
raw_close(struct raw *r)
{
	r->f->C_CloseSession(r->login);
	if (r->finalize)
		r->f->C_Finalize(NULL);
	dlclose(r->dl);
}

static void
raw_worker(struct worker *w)
{
	struct raw *r = &w->b->raw;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_LABEL, (void *)w->alg->label, strlen(w->alg->label)},
	};
	CK_MECHANISM mech = {
	    w->alg->alg == P11_ALG_RSA3072 ? CKM_RSA_PKCS : CKM_ECDSA, NULL, 0};
	unsigned char *data =
	    w->alg->alg == P11_ALG_RSA3072 ? w->b->di : w->b->dgst;
	CK_ULONG dlen = w->alg->alg == P11_ALG_RSA3072 ? sizeof(w->b->di)
	                                               : sizeof(w->b->dgst);
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE key;
	CK_ULONG n = 0, siglen;
	unsigned char sig[512];

	if (r->f->C_OpenSession(r->slot, CKF_SERIAL_SESSION, NULL, NULL, &h) !=
	    CKR_OK)
		die("raw: C_OpenSession failed");
	if (r->f->C_FindObjectsInit(h, t, 2) != CKR_OK ||
	    r->f->C_FindObjects(h, &key, 1, &n) != CKR_OK || n != 1)
		die("raw: key not found");
	r->f->C_FindObjectsFinal(h);
	pthread_barrier_wait(w->start);
	while (!atomic_load_explicit(w->stop, memory_order_relaxed)) {
		siglen = sizeof(sig);
		if (r->f->C_SignInit(h, &mech, key) != CKR_OK ||
		    r->f->C_Sign(h, data, dlen, sig, &siglen) != CKR_OK) {
			w->failed = true;
			break;
		}
		w->ops++;
	}
	r->f->C_CloseSession(h);
}

/* --- (b) the pool, (c) EVP ----------------------------------------------- */

static void
pool_worker(struct worker *w)
{
	unsigned char sig[512];
	size_t siglen;

	pthread_barrier_wait(w->start);
	while (!atomic_load_explicit(w->stop, memory_order_relaxed)) {
		siglen = sizeof(sig);
		if (p11_sign_digest(w->b->tok, w->alg->uri, NID_sha256,
		        w->b->dgst, sizeof(w->b->dgst), sig, &siglen,
		        NULL) != CS_OK) {
			w->failed = true;
			break;
		}
		w->ops++;
	}
}

static void
evp_worker(struct worker *w)
{
	unsigned char sig[512];
	EVP_MD_CTX *ctx;
	size_t siglen;

	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		die("EVP_MD_CTX_new failed");
	pthread_barrier_wait(w->start);
	while (!atomic_load_explicit(w->stop, memory_order_relaxed)) {
		siglen = sizeof(sig);
		if (EVP_DigestSignInit(
		        ctx, NULL, EVP_sha256(), NULL, w->alg->evp) != 1 ||
		    EVP_DigestSign(
		        ctx, sig, &siglen, w->b->msg, sizeof(w->b->msg)) != 1) {
			w->failed = true;
			break;
		}
		w->ops++;
	}
	EVP_MD_CTX_free(ctx);
}

static void *
worker_run(void *arg)
{
	struct worker *w = arg;

	switch (w->path) {
	case PATH_RAW:
		raw_worker(w);
		break;
	case PATH_POOL:
		pool_worker(w);
		break;
	case PATH_EVP:
		evp_worker(w);
		break;
	case PATH_N:
		break;
	}
	return NULL;
}

/* Signatures per second over nthreads running path for b->seconds. */
static double
measure(struct bench *b, struct bench_alg *alg, enum bench_path path,
    unsigned nthreads)
{
	struct worker w[BENCH_MAX_THREADS];
	pthread_barrier_t start;
	atomic_bool stop;
	struct timespec ts;
	uint64_t t0, t1;
	unsigned long ops = 0;
	unsigned i;

	atomic_init(&stop, false);
	pthread_barrier_init(&start, NULL, nthreads + 1);
	memset(w, 0, sizeof(w));
	for (i = 0; i < nthreads; i++) {
		w[i].b = b;
		w[i].alg = alg;
		w[i].path = path;
		w[i].start = &start;
		w[i].stop = &stop;
		if (pthread_create(&w[i].t, NULL, worker_run, &w[i]) != 0)
			die("pthread_create failed");
	}
	pthread_barrier_wait(&start);
	t0 = cs_now_ns();
	ts.tv_sec = (time_t)b->seconds;
	ts.tv_nsec = (long)((b->seconds - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
	atomic_store(&stop, true);
	for (i = 0; i < nthreads; i++) {
		pthread_join(w[i].t, NULL);
		if (w[i].failed)
			die("a signature failed");
		ops += w[i].ops;
	}
	t1 = cs_now_ns();
	pthread_barrier_destroy(&start);
	return (double)ops / ((double)(t1 - t0) / 1e9);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: p11 [--seconds S] [--rounds N] [--json] "
	    "[--module PATH]\n"
	    "           [--alg p256|rsa3072] [--threads N] "
	    "[--path raw|pool|evp]\n");
	exit(2);
}

static const char *const path_names[PATH_N] = {"raw", "pool", "evp"};

/* One line (or JSON object) per measured cell, for a partial selection. */
static void
print_cells(const struct bench_alg *algs, const bool *alg_on, unsigned nthreads,
    const bool *path_on, double rate[][1][PATH_N], bool json, double seconds,
    long long rounds)
{
	unsigned ai, p;
	bool first = true;

	if (json)
		printf("{\"seconds\": %.3g, \"rounds\": %lld, \"results\": [",
		    seconds, rounds);
	for (ai = 0; ai < 2; ai++) {
		if (!alg_on[ai])
			continue;
		if (json) {
			printf("%s{\"alg\": \"%s\", \"threads\": %u",
			    first ? "" : ", ", algs[ai].name, nthreads);
			for (p = 0; p < PATH_N; p++)
				if (path_on[p])
					printf(", \"%s\": %.0f", path_names[p],
					    rate[ai][0][p]);
			printf("}");
		} else {
			for (p = 0; p < PATH_N; p++)
				if (path_on[p])
					printf("%-8s %7u %5s/s %10.0f\n",
					    algs[ai].name, nthreads,
					    path_names[p], rate[ai][0][p]);
		}
		first = false;
	}
	if (json)
		printf("]}\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"seconds", required_argument, NULL, 's'},
	    {"rounds", required_argument, NULL, 'r'},
	    {"json", no_argument, NULL, 'j'},
	    {"module", required_argument, NULL, 'm'},
	    {"alg", required_argument, NULL, 'a'},
	    {"threads", required_argument, NULL, 't'},
	    {"path", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	unsigned threads[3] = {1, 2, 4}, nthreads = 3;
	static const unsigned char di_sha256[] = {0x30, 0x31, 0x30, 0x0d, 0x06,
	    0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
	    0x00, 0x04, 0x20};
	struct bench_alg algs[] = {
	    {"p256", P11_ALG_P256, "bench-p256", "", NULL},
	    {"rsa3072", P11_ALG_RSA3072, "bench-rsa3072", "", NULL},
	};
	double rate[2][3][PATH_N], one[2][1][PATH_N], r, worst = 1e9;
	bool alg_on[2] = {true, true}, path_on[PATH_N] = {true, true, true};
	bool partial = false;
	long long nt = 0;
	const char *module = getenv("CERTSVC_TEST_MODULE");
	struct p11_config cfg;
	struct bench b;
	struct cs_err err;
	char dir[PATH_MAX], *end;
	long long rounds = 1;
	bool json = false;
	unsigned ai, ti, p;
	long long k;
	int c;

	memset(&b, 0, sizeof(b));
	b.seconds = 3;
	if (module == NULL || *module == '\0')
		module = "/usr/lib/softhsm/libsofthsm2.so";
	while (
	    (c = getopt_long(argc, argv, "s:r:jm:a:t:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			b.seconds = strtod(optarg, &end);
			if (*end != '\0' || !(b.seconds > 0 && b.seconds < 600))
				usage();
			break;
		case 'r':
			if (!cs_parse_ll(optarg, 1, 100, &rounds))
				usage();
			break;
		case 'j':
			json = true;
			break;
		case 'm':
			module = optarg;
			break;
		case 'a':
			alg_on[0] = strcmp(optarg, algs[0].name) == 0;
			alg_on[1] = strcmp(optarg, algs[1].name) == 0;
			if (!alg_on[0] && !alg_on[1])
				usage();
			partial = true;
			break;
		case 't':
			if (!cs_parse_ll(optarg, 1, BENCH_MAX_THREADS, &nt))
				usage();
			threads[0] = (unsigned)nt;
			nthreads = 1;
			partial = true;
			break;
		case 'p':
			for (p = 0; p < PATH_N; p++)
				path_on[p] = strcmp(optarg, path_names[p]) == 0;
			if (!path_on[PATH_RAW] && !path_on[PATH_POOL] &&
			    !path_on[PATH_EVP])
				usage();
			partial = true;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	make_token(dir, sizeof(dir));
	memset(&cfg, 0, sizeof(cfg));
	cfg.module = module;
	cfg.token_label = BENCH_LABEL;
	cfg.pin_fn = pin_fn;
	cs_err_clear(&err);
	if (p11_token_open(&cfg, &b.tok, &err) != CS_OK)
		die(err.msg);
	for (ai = 0; ai < 2; ai++) {
		if (!alg_on[ai])
			continue;
		if (p11_key_generate(b.tok, algs[ai].alg, algs[ai].label,
		        algs[ai].uri, sizeof(algs[ai].uri), &err) != CS_OK)
			die(err.msg);
		if (p11_key_get(b.tok, algs[ai].uri, &algs[ai].evp, &err) !=
		    CS_OK)
			die(err.msg);
	}
	raw_open(&b.raw, module);
	memset(b.dgst, 0x42, sizeof(b.dgst));
	memcpy(b.di, di_sha256, sizeof(di_sha256));
	memcpy(b.di + sizeof(di_sha256), b.dgst, sizeof(b.dgst));
	memset(b.msg, 0x17, sizeof(b.msg));

	if (partial) {
		/* A selection: one result (JSON: one line) per thread count. */
		for (ti = 0; ti < nthreads; ti++) {
			memset(one, 0, sizeof(one));
			for (ai = 0; ai < 2; ai++)
				for (k = 0; k < rounds && alg_on[ai]; k++)
					for (p = 0; p < PATH_N; p++) {
						if (!path_on[p])
							continue;
						r = measure(&b, &algs[ai], p,
						    threads[ti]);
						if (r > one[ai][0][p])
							one[ai][0][p] = r;
					}
			print_cells(algs, alg_on, threads[ti], path_on, one,
			    json, b.seconds, rounds);
		}
		goto out;
	}
	memset(rate, 0, sizeof(rate));
	for (ai = 0; ai < 2; ai++)
		for (ti = 0; ti < 3; ti++)
			for (k = 0; k < rounds; k++)
				for (p = 0; p < PATH_N; p++) {
					r = measure(
					    &b, &algs[ai], p, threads[ti]);
					if (r > rate[ai][ti][p])
						rate[ai][ti][p] = r;
				}

	if (json)
		printf(
		    "{\"seconds\": %.3g, \"rounds\": %lld, \"target\": %.2f, "
		    "\"results\": [",
		    b.seconds, rounds, BENCH_TARGET);
	else
		printf("%-8s %7s %10s %10s %10s %9s %9s\n", "alg", "threads",
		    "raw/s", "pool/s", "evp/s", "pool/raw", "evp/raw");
	for (ai = 0; ai < 2; ai++)
		for (ti = 0; ti < 3; ti++) {
			double *x = rate[ai][ti];
			double pr = x[PATH_POOL] / x[PATH_RAW];
			double er = x[PATH_EVP] / x[PATH_RAW];

			if (pr < worst)
				worst = pr;
			if (er < worst)
				worst = er;
			if (json)
				printf("%s{\"alg\": \"%s\", \"threads\": %u, "
				       "\"raw\": %.0f, \"pool\": %.0f, "
				       "\"evp\": %.0f, \"pool_ratio\": %.3f, "
				       "\"evp_ratio\": %.3f}",
				    ai + ti ? ", " : "", algs[ai].name,
				    threads[ti], x[PATH_RAW], x[PATH_POOL],
				    x[PATH_EVP], pr, er);
			else
				printf("%-8s %7u %10.0f %10.0f %10.0f %8.1f%% "
				       "%8.1f%%\n",
				    algs[ai].name, threads[ti], x[PATH_RAW],
				    x[PATH_POOL], x[PATH_EVP], 100 * pr,
				    100 * er);
		}
	if (json)
		printf("], \"worst_ratio\": %.3f, \"pass\": %s}\n", worst,
		    worst >= BENCH_TARGET ? "true" : "false");
	else
		printf("worst ratio %.1f%% (target %.0f%%): %s\n", 100 * worst,
		    100 * BENCH_TARGET,
		    worst >= BENCH_TARGET ? "pass" : "below target");

out:
	for (ai = 0; ai < 2; ai++)
		EVP_PKEY_free(algs[ai].evp);
	raw_close(&b.raw);
	p11_token_free(b.tok);
	{
		char *argv_rm[] = {"rm", "-rf", dir, NULL};

		run(argv_rm);
	}
	return 0;
}
