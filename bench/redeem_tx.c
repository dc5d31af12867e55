/*
 * bench/redeem_tx.c: the store building block of DESIGN.md section 6 for
 * POST /v1/codes/redeem.  Transactions per second of the one transaction
 * a redemption commits, through the store API, on a copy of a real
 * certsvc database that holds a pool of codes with large use limits:
 *
 *   store_tx_begin
 *   store_pcode_use       the guarded use count of a code of the pool
 *   store_usage_put       the usage record
 *   store_audit_append    the "code.redeem" event, detail as pcode.c's
 *   store_tx_commit
 *
 * by --threads threads for --seconds, each taking the pool's codes in
 * turn; the writers queue on the store's one write slot as certsvcd's do.
 *
 *   redeem_tx --db FILE --codes FILE --rp CLIENT [--threads N]
 *             [--seconds S] [--json]
 * --codes holds code ids (P-...), one a line.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "certsvc/err.h"
#include "certsvc/mem.h"
#include "certsvc/store.h"

#define RTX_THREADS_MAX 64
#define RTX_CODES_MAX 4096

struct rtx {
	struct store *st;
	char (*codes)[STORE_CODE_MAX];
	size_t ncodes;
	struct store_usage proto; /* licence, holder, rp, purpose */
	pthread_barrier_t start;
	atomic_bool stop;
};

struct rtx_worker {
	pthread_t t;
	struct rtx *r;
	unsigned idx;
	unsigned long ops;
	char msg[CS_ERR_MSG_MAX];
};

static void
die(const char *what)
{
	fprintf(stderr, "bench/redeem_tx: %s\n", what);
	exit(1);
}

/* One redemption's transaction, of code c. */
static enum cs_rc
redeem_once(struct rtx_worker *w, const char *c, struct cs_err *err)
{
	struct store_usage u = w->r->proto;
	struct store_audit_event ev = {0};
	char object[STORE_CODE_MAX + 8], detail[512];
	uint8_t raw[16];
	struct store_tx *tx = NULL;
	enum cs_rc rc;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return cs_err_set(err, CS_ERR_CRYPTO, "RAND_bytes failed");
	memcpy(u.id, "U-", 2);
	cs_hex(raw, 8, u.id + 2);
	memcpy(u.report_id, "R-", 2);
	cs_hex(raw, 16, u.report_id + 2);
	cs_strlcpy(u.code_id, c, sizeof(u.code_id));
	u.time = (int64_t)time(NULL);
	snprintf(object, sizeof(object), "code:%s", c);
	snprintf(detail, sizeof(detail),
	    "{\"licence_id\":\"%s\",\"report_id\":\"%s\",\"source\":"
	    "\"127.0.0.1\",\"usage_id\":\"%s\",\"version\":%d}",
	    u.licence_id, u.report_id, u.id, u.version);
	ev.actor = u.rp;
	ev.action = "code.redeem";
	ev.object = object;
	ev.outcome = "ok";
	ev.detail = detail;
	rc = store_tx_begin(w->r->st, &tx, err);
	if (rc == CS_OK)
		rc = store_pcode_use(tx, c, u.time, err);
	if (rc == CS_OK)
		rc = store_usage_put(tx, &u, err);
	if (rc == CS_OK)
		rc = store_audit_append(tx, &ev, NULL, err);
	if (rc != CS_OK) {
		store_tx_rollback(tx);
		return rc;
	}
	return store_tx_commit(tx, err);
}

static void *
rtx_run(void *arg)
{
	struct rtx_worker *w = arg;
	struct cs_err err = {0};
	size_t i = w->idx * 7;

	pthread_barrier_wait(&w->r->start);
	while (!atomic_load_explicit(&w->r->stop, memory_order_relaxed)) {
		if (redeem_once(w, w->r->codes[i++ % w->r->ncodes], &err) !=
		    CS_OK) {
			snprintf(w->msg, sizeof(w->msg), "%s",
			    err.msg[0] != '\0' ? err.msg : "failed");
			break;
		}
		w->ops++;
	}
	return NULL;
}

/* The pool's ids from path, and the usage record every use writes. */
static void
load(struct rtx *r, const char *path, const char *rp)
{
	struct store_licence l;
	struct store_pcode c;
	struct cs_err err = {0};
	struct buf *b = NULL;
	char *line, *next;

	if (cs_file_read(path, 1 << 20, &b, &err) != CS_OK)
		die(err.msg);
	r->codes = calloc(RTX_CODES_MAX, sizeof(*r->codes));
	if (r->codes == NULL)
		die("out of memory");
	for (line = (char *)b->data; *line != '\0' && r->ncodes < RTX_CODES_MAX;
	     line = next) {
		next = line + strcspn(line, "\n");
		if (*next != '\0')
			*next++ = '\0';
		if (*line != '\0' &&
		    !cs_strlcpy(r->codes[r->ncodes++], line, STORE_CODE_MAX))
			die("a code id is too long");
	}
	buf_free(b);
	if (r->ncodes == 0)
		die("no code ids");
	if (store_pcode_get(r->st, r->codes[0], &c, &err) != CS_OK ||
	    store_licence_get(r->st, c.licence_id, 0, &l, &err) != CS_OK)
		die(err.msg);
	cs_strlcpy(r->proto.licence_id, l.id, sizeof(r->proto.licence_id));
	r->proto.version = l.version;
	cs_strlcpy(r->proto.type, l.type, sizeof(r->proto.type));
	cs_strlcpy(r->proto.dept, l.dept, sizeof(r->proto.dept));
	cs_strlcpy(
	    r->proto.holder_ref, c.holder_ref, sizeof(r->proto.holder_ref));
	cs_strlcpy(r->proto.purpose, c.purpose, sizeof(r->proto.purpose));
	if (!cs_strlcpy(r->proto.rp, rp, sizeof(r->proto.rp)))
		die("--rp is too long");
	store_licence_release(&l);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"db", required_argument, NULL, 'D'},
	    {"codes", required_argument, NULL, 'c'},
	    {"rp", required_argument, NULL, 'r'},
	    {"threads", required_argument, NULL, 't'},
	    {"seconds", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0},
	};
	const char *db = NULL, *codes = NULL, *rp = NULL;
	struct rtx_worker w[RTX_THREADS_MAX];
	long long threads = 1, seconds = 3;
	struct cs_err err = {0};
	struct timespec nap;
	unsigned long ops = 0;
	uint64_t t0, t1;
	struct rtx r;
	bool json = false;
	double rate;
	unsigned i;
	int ch;

	memset(&r, 0, sizeof(r));
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'D')
			db = optarg;
		else if (ch == 'c')
			codes = optarg;
		else if (ch == 'r')
			rp = optarg;
		else if (ch == 'j')
			json = true;
		else if (!(ch == 't' &&
		             cs_parse_ll(
		                 optarg, 1, RTX_THREADS_MAX, &threads)) &&
		    !(ch == 's' && cs_parse_ll(optarg, 1, 600, &seconds)))
			ch = '?';
		if (ch == '?') {
			fprintf(stderr,
			    "usage: redeem_tx --db FILE --codes FILE --rp "
			    "CLIENT [--threads N] [--seconds S] [--json]\n");
			return 2;
		}
	}
	if (db == NULL || codes == NULL || rp == NULL)
		die("--db, --codes and --rp are required");
	if (store_open(db, 8, &r.st, &err) != CS_OK)
		die(err.msg);
	load(&r, codes, rp);
	if (pthread_barrier_init(&r.start, NULL, (unsigned)threads + 1) != 0)
		die("pthread_barrier_init failed");
	memset(w, 0, sizeof(w));
	for (i = 0; i < (unsigned)threads; i++) {
		w[i].r = &r;
		w[i].idx = i;
		if (pthread_create(&w[i].t, NULL, rtx_run, &w[i]) != 0)
			die("pthread_create failed");
	}
	pthread_barrier_wait(&r.start);
	t0 = cs_now_ns();
	nap.tv_sec = (time_t)seconds;
	nap.tv_nsec = 0;
	nanosleep(&nap, NULL);
	atomic_store(&r.stop, true);
	for (i = 0; i < (unsigned)threads; i++) {
		pthread_join(w[i].t, NULL);
		if (w[i].msg[0] != '\0')
			die(w[i].msg);
		ops += w[i].ops;
	}
	t1 = cs_now_ns();
	rate = (double)ops / ((double)(t1 - t0) / 1e9);
	if (json)
		printf(
		    "{\"threads\": %lld, \"seconds\": %.3f, \"redemptions\": "
		    "%lu, \"tx_per_s\": %.1f}\n",
		    threads, (double)(t1 - t0) / 1e9, ops, rate);
	else
		printf("%lu redemption transactions in %.2f s, %lld threads: "
		       "%.0f/s\n",
		    ops, (double)(t1 - t0) / 1e9, threads, rate);
	pthread_barrier_destroy(&r.start);
	free(r.codes);
	store_free(r.st);
	return 0;
}
