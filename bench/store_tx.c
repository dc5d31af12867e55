/*
 * bench/store_tx.c: the store building block of DESIGN.md section 6 for
 * issuance.  Transactions per second of the one transaction
 * licence_issue() commits, through the store API and with rows of the
 * same shape and size:
 *
 *   store_tx_begin
 *   store_licence_put     a licence with a --doc byte document and a
 *                         --seal byte detached CMS
 *   store_client_put      its holder client (random secret hash)
 *   store_idem_put        the issuer's Idempotency-Key
 *   store_audit_append    the "licence.issue" event
 *   store_tx_commit
 *
 * on a fresh database made by store_open() (WAL, synchronous=FULL, the
 * pool size of certsvcd's default db_conns) in a new temp dir, by
 * --threads threads for --seconds.  Every thread writes its own ids, so
 * nothing conflicts; the writers queue on the store's one write slot as
 * certsvcd's do.
 *
 * --batch N writes N issuances per transaction, each in its own savepoint,
 * as group commit does (licence.c); the rate counts issuances.
 * --no-audit leaves the audit event out: bench/audit.sh measures the
 * event's share of the transaction from the two rates (issue #7).
 *
 *   store_tx [--threads N] [--seconds S] [--doc BYTES] [--seal BYTES]
 *            [--batch N] [--no-audit] [--json]
 */
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "certsvc/err.h"
#include "certsvc/mem.h"
#include "certsvc/store.h"

#define TX_MAX_THREADS 64
#define TX_DB_CONNS 8 /* certsvcd's default db_conns */
#define TX_DEPT "91110000MA01DEM15M"
#define TX_TYPE "DEMO01"
#define TX_SEAL "S-0123456789abcdef"
#define TX_ISSUER "C-00000000000000aa"

struct txb {
	struct store *st;
	size_t doc_len;
	size_t seal_len;
	double seconds;
	unsigned batch; /* issuances per transaction */
	bool audit;     /* with the audit event */
};

struct worker {
	pthread_t t;
	struct txb *b;
	unsigned idx;
	pthread_barrier_t *start;
	atomic_bool *stop;
	unsigned long ops;
	char msg[CS_ERR_MSG_MAX];
};

static void
die(const char *what)
{
	fprintf(stderr, "bench/store_tx: %s\n", what);
	exit(1);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: store_tx [--threads N] [--seconds S] [--doc BYTES] "
	    "[--seal BYTES] [--batch N] [--no-audit] [--json]\n");
	exit(2);
}

static double
tv_us(const struct timeval *tv)
{
	return (double)tv->tv_sec * 1e6 + (double)tv->tv_usec;
}

static struct buf *
random_buf(size_t n)
{
	struct buf *b = buf_new(n);

	if (b == NULL || RAND_bytes(b->data, (int)n) != 1)
		die("cannot make a random buffer");
	b->len = n;
	return b;
}

/* The department, type and seal a licence row refers to. */
static void
setup(struct store *st)
{
	static const char *const depts[] = {TX_DEPT};
	struct store_audit_event ev = {0};
	struct store_dept d = {0};
	struct store_seal s = {0};
	struct store_tx *tx = NULL;
	struct cs_err err = {0};

	cs_strlcpy(d.code, TX_DEPT, sizeof(d.code));
	cs_strlcpy(d.name, "bench department", sizeof(d.name));
	cs_strlcpy(d.region, "110000", sizeof(d.region));
	cs_strlcpy(s.id, TX_SEAL, sizeof(s.id));
	cs_strlcpy(s.dept, TX_DEPT, sizeof(s.dept));
	cs_strlcpy(s.name, "bench seal", sizeof(s.name));
	cs_strlcpy(s.alg, "p256", sizeof(s.alg));
	cs_strlcpy(
	    s.key_uri, "pkcs11:token=bench;object=seal", sizeof(s.key_uri));
	s.cert_der = random_buf(600);
	ev.actor = "admin";
	ev.action = "bench.setup";
	ev.object = "bench";
	ev.outcome = "ok";
	if (store_tx_begin(st, &tx, &err) != CS_OK ||
	    store_dept_put(tx, &d, &err) != CS_OK ||
	    store_ltype_put(tx, TX_TYPE, "bench type", "{}", depts, 1, &err) !=
	        CS_OK ||
	    store_seal_put(tx, &s, &err) != CS_OK ||
	    store_audit_append(tx, &ev, NULL, &err) != CS_OK) {
		store_tx_rollback(tx);
		die(err.msg);
	}
	if (store_tx_commit(tx, &err) != CS_OK)
		die(err.msg);
	buf_free(s.cert_der);
}

/* One issuance's rows in tx; n numbers it within the worker. */
static enum cs_rc
issue_rows(struct worker *w, struct store_tx *tx, unsigned long n,
    struct store_licence *l, struct cs_err *err)
{
	char object[STORE_LICENCE_ID_MAX + 16], key[64], detail[256];
	struct store_audit_event ev = {0};
	struct store_client c = {0};
	uint8_t req_hash[STORE_HASH_LEN];
	enum cs_rc rc;

	/* An id of the documented form and length, unique per worker. */
	snprintf(l->id, sizeof(l->id), "%s-%s-2026-%02u%08lu-X", TX_TYPE,
	    TX_DEPT, w->idx, n);
	snprintf(c.id, sizeof(c.id), "C-%02x%014lx", w->idx, n);
	cs_strlcpy(c.name, "holder", sizeof(c.name));
	cs_strlcpy(c.role, "holder", sizeof(c.role));
	cs_strlcpy(c.holder_ref, l->holder_ref, sizeof(c.holder_ref));
	cs_strlcpy(c.status, "active", sizeof(c.status));
	if (RAND_bytes(c.secret_hash, sizeof(c.secret_hash)) != 1 ||
	    RAND_bytes(req_hash, sizeof(req_hash)) != 1)
		return cs_err_set(err, CS_ERR_CRYPTO, "RAND_bytes failed");
	snprintf(key, sizeof(key), "bench-%u-%lu", w->idx, n);
	snprintf(object, sizeof(object), "licence:%s/1", l->id);
	/* As licence_issue() writes it, holder_ref included. */
	snprintf(detail, sizeof(detail),
	    "{\"dept\":\"%s\",\"holder_ref\":\"%s\",\"seal\":\"%s\","
	    "\"type\":\"%s\"}",
	    TX_DEPT, l->holder_ref, TX_SEAL, TX_TYPE);
	ev.actor = TX_ISSUER;
	ev.action = "licence.issue";
	ev.object = object;
	ev.outcome = "ok";
	ev.detail = detail;
	l->issued_at = (int64_t)time(NULL);
	l->valid_from = l->issued_at;
	l->valid_until = l->issued_at + 5 * 365 * 86400;

	rc = w->b->batch > 1 ? store_tx_savepoint(tx, err) : CS_OK;
	if (rc == CS_OK)
		rc = store_licence_put(tx, l, err);
	if (rc == CS_OK)
		rc = store_client_put(tx, &c, err);
	if (rc == CS_OK)
		rc =
		    store_idem_put(tx, TX_ISSUER, key, req_hash, l->id, 1, err);
	if (rc == CS_OK && w->b->audit)
		rc = store_audit_append(tx, &ev, NULL, err);
	if (rc == CS_OK && w->b->batch > 1)
		rc = store_tx_release(tx, err);
	return rc;
}

/* One transaction of b->batch issuances, numbered from *n on. */
static enum cs_rc
issue_tx(struct worker *w, unsigned long *n, struct store_licence *l,
    struct cs_err *err)
{
	struct store_tx *tx = NULL;
	enum cs_rc rc;
	unsigned i;

	rc = store_tx_begin(w->b->st, &tx, err);
	if (rc != CS_OK)
		return rc;
	for (i = 0; rc == CS_OK && i < w->b->batch; i++)
		rc = issue_rows(w, tx, (*n)++, l, err);
	if (rc != CS_OK) {
		store_tx_rollback(tx);
		return rc;
	}
	return store_tx_commit(tx, err);
}

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct store_licence l;
	struct cs_err err = {0};
	unsigned long n = 0;

	memset(&l, 0, sizeof(l));
	l.version = 1;
	cs_strlcpy(l.type, TX_TYPE, sizeof(l.type));
	cs_strlcpy(l.dept, TX_DEPT, sizeof(l.dept));
	cs_strlcpy(l.seal_id, TX_SEAL, sizeof(l.seal_id));
	cs_strlcpy(l.status, "valid", sizeof(l.status));
	/* One holder for all, as in the benchmark's requests. */
	memset(l.holder_ref, 'a', 64);
	l.document = random_buf(w->b->doc_len);
	l.seal_der = random_buf(w->b->seal_len);
	pthread_barrier_wait(w->start);
	while (!atomic_load_explicit(w->stop, memory_order_relaxed)) {
		if (issue_tx(w, &n, &l, &err) != CS_OK) {
			cs_strlcpy(w->msg, err.msg, sizeof(w->msg));
			if (w->msg[0] == '\0')
				cs_strlcpy(w->msg, "failed", sizeof(w->msg));
			break;
		}
		w->ops += w->b->batch;
	}
	buf_free(l.document);
	buf_free(l.seal_der);
	return NULL;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"threads", required_argument, NULL, 't'},
	    {"seconds", required_argument, NULL, 's'},
	    {"doc", required_argument, NULL, 'd'},
	    {"seal", required_argument, NULL, 'S'},
	    {"json", no_argument, NULL, 'j'},
	    {"batch", required_argument, NULL, 'b'},
	    {"no-audit", no_argument, NULL, 'A'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct worker w[TX_MAX_THREADS];
	char tmpl[] = "/tmp/certsvc-bench-tx.XXXXXX";
	char path[PATH_MAX];
	pthread_barrier_t start;
	struct timespec ts;
	struct cs_err err = {0};
	struct txb b;
	atomic_bool stop;
	long long threads = 1, doc = 650, seal = 1900, batch = 1;
	unsigned long ops = 0;
	struct rusage ru0, ru1;
	uint64_t t0, t1;
	double rate, cpu_us;
	bool json = false;
	char *end;
	unsigned i;
	int c;

	memset(&b, 0, sizeof(b));
	b.seconds = 3;
	b.audit = true;
	while (
	    (c = getopt_long(argc, argv, "t:s:d:S:jb:Ah", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (!cs_parse_ll(optarg, 1, TX_MAX_THREADS, &threads))
				usage();
			break;
		case 's':
			b.seconds = strtod(optarg, &end);
			if (*end != '\0' || !(b.seconds > 0 && b.seconds < 600))
				usage();
			break;
		case 'd':
			if (!cs_parse_ll(optarg, 1, 1 << 20, &doc))
				usage();
			break;
		case 'S':
			if (!cs_parse_ll(optarg, 1, 1 << 20, &seal))
				usage();
			break;
		case 'j':
			json = true;
			break;
		case 'b':
			if (!cs_parse_ll(optarg, 1, 10000, &batch))
				usage();
			break;
		case 'A':
			b.audit = false;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	b.doc_len = (size_t)doc;
	b.seal_len = (size_t)seal;
	b.batch = (unsigned)batch;

	if (mkdtemp(tmpl) == NULL)
		die("mkdtemp failed");
	snprintf(path, sizeof(path), "%s/bench.db", tmpl);
	if (store_open(path, TX_DB_CONNS, &b.st, &err) != CS_OK)
		die(err.msg);
	setup(b.st);

	atomic_init(&stop, false);
	pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
	memset(w, 0, sizeof(w));
	for (i = 0; i < (unsigned)threads; i++) {
		w[i].b = &b;
		w[i].idx = i;
		w[i].start = &start;
		w[i].stop = &stop;
		if (pthread_create(&w[i].t, NULL, worker_run, &w[i]) != 0)
			die("pthread_create failed");
	}
	pthread_barrier_wait(&start);
	getrusage(RUSAGE_SELF, &ru0);
	t0 = cs_now_ns();
	ts.tv_sec = (time_t)b.seconds;
	ts.tv_nsec = (long)((b.seconds - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
	atomic_store(&stop, true);
	for (i = 0; i < (unsigned)threads; i++) {
		pthread_join(w[i].t, NULL);
		if (w[i].msg[0] != '\0')
			die(w[i].msg);
		ops += w[i].ops;
	}
	t1 = cs_now_ns();
	getrusage(RUSAGE_SELF, &ru1);
	pthread_barrier_destroy(&start);
	rate = (double)ops / ((double)(t1 - t0) / 1e9);
	/* CPU (user + system, the fsync's kernel work included) per tx. */
	cpu_us = (tv_us(&ru1.ru_utime) - tv_us(&ru0.ru_utime) +
	             tv_us(&ru1.ru_stime) - tv_us(&ru0.ru_stime)) /
	    (double)(ops > 0 ? ops : 1);
	if (json)
		printf("{\"threads\": %lld, \"seconds\": %.3g, \"doc\": %lld, "
		       "\"seal\": %lld, \"batch\": %lld, \"audit\": %s, "
		       "\"tx\": %lu, \"tx_per_s\": %.0f, "
		       "\"cpu_us_per_tx\": %.1f}\n",
		    threads, b.seconds, doc, seal, batch,
		    b.audit ? "true" : "false", ops, rate, cpu_us);
	else
		printf("threads %lld, batch %lld%s: %lu issuances in %.2f s, "
		       "%.0f/s (%.1f us each, %.1f us CPU)\n",
		    threads, batch, b.audit ? "" : ", no audit", ops,
		    (double)(t1 - t0) / 1e9, rate, 1e6 / rate, cpu_us);

	store_free(b.st);
	{
		char f[PATH_MAX + 8];

		snprintf(f, sizeof(f), "%s-wal", path);
		unlink(f);
		snprintf(f, sizeof(f), "%s-shm", path);
		unlink(f);
		unlink(path);
		rmdir(tmpl);
	}
	return 0;
}
