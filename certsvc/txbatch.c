/*
 * txbatch.c: group commit (txbatch.h).
 *
 * A caller queues its job and:
 *
 *   - if no batch is being written, its thread becomes the leader: it
 *     takes up to TXBATCH_MAX queued jobs (its own among them), begins ONE
 *     transaction, runs each job between a savepoint and its release, and
 *     commits once: one fsync for the whole batch;
 *   - otherwise it waits (on b->done) until a leader has run its job, or
 *     until the batch ends and it may lead the next one.
 *
 * Each job stays atomic on its own: a job that fails (a constraint, a
 * failed statement, a guarded update that found nothing) is rolled back
 * to its savepoint and gets its own error; the others go on.
 *
 * Latency: a leader never waits for company; it takes what is queued and
 * starts at once, so a write alone is committed as soon as it is ready.
 * Batches form by themselves under load: whoever arrives while a batch is
 * being written queues for the next one.  Making a leader linger for
 * stragglers (100 us when others were queued) was measured with
 * bench/import.sh and gained nothing at 2 or 8 workers, so it does not.
 *
 * Locking: b->mu guards the queue, busy and the jobs' outcomes; the leader
 * releases it while it writes.  A leader takes no other lock of ours
 * while holding the write slot, and no thread holds one while it waits
 * here, so no cycle can form.  Shutdown: the batcher belongs to svc;
 * svc_free() must not run while writes are under way (certsvcd stops the
 * HTTP server first, the import joins its workers), so txbatch_free()
 * finds an empty queue.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "certsvc/txbatch.h"

struct txbatch_job {
	txbatch_write_fn write; /* in, lent by the waiting caller */
	void *arg;
	enum cs_rc rc; /* out, valid once done */
	struct cs_err err;
	bool done;
	struct txbatch_job *next;
};

struct txbatch {
	pthread_mutex_t mu;
	pthread_cond_t done; /* a batch ended: jobs done, leader free */
	struct txbatch_job *head, *tail;
	size_t queued;  /* in the queue, not yet taken by a leader */
	size_t pending; /* submitted, not yet done */
	bool busy;      /* a leader is writing a batch */
	uint64_t batches, jobs, failed;
	bool mu_ok, done_ok;
};

enum cs_rc
txbatch_init(struct svc *svc, struct cs_err *err)
{
	struct txbatch *b;

	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	b->mu_ok = pthread_mutex_init(&b->mu, NULL) == 0;
	b->done_ok = pthread_cond_init(&b->done, NULL) == 0;
	svc->batcher = b;
	if (!b->mu_ok || !b->done_ok) {
		txbatch_free(svc);
		return cs_err_set(err, CS_ERR_NOMEM, "out of memory");
	}
	return CS_OK;
}

void
txbatch_free(struct svc *svc)
{
	struct txbatch *b = svc->batcher;

	if (b == NULL)
		return;
	if (b->done_ok)
		pthread_cond_destroy(&b->done);
	if (b->mu_ok)
		pthread_mutex_destroy(&b->mu);
	free(b);
	svc->batcher = NULL;
}

void
txbatch_stats(struct svc *svc, struct txbatch_stats *out)
{
	struct txbatch *b = svc->batcher;

	memset(out, 0, sizeof(*out));
	if (b == NULL)
		return;
	pthread_mutex_lock(&b->mu);
	out->batches = b->batches;
	out->jobs = b->jobs;
	out->failed = b->failed;
	out->queued = b->queued;
	out->pending = b->pending;
	pthread_mutex_unlock(&b->mu);
}

/*
 * Run job j in tx between a savepoint and its release; on failure roll
 * back to the savepoint, so tx stays usable for the next job (unless the
 * undo itself fails: then tx is broken and its commit fails).
 */
static void
txbatch_one(struct svc *svc, struct store_tx *tx, struct txbatch_job *j)
{
	enum cs_rc rc;

	rc = store_tx_savepoint(tx, &j->err);
	if (rc == CS_OK) {
		rc = j->write(svc, tx, j->arg, &j->err);
		if (rc == CS_OK)
			rc = store_tx_release(tx, &j->err);
		if (rc != CS_OK)
			(void)store_tx_rollback_to(tx, NULL);
	}
	if (rc != CS_OK && j->err.rc == CS_OK)
		cs_err_set(&j->err, rc, "write failed");
	j->rc = rc;
}

/* Run n jobs in one transaction; each gets its outcome. */
static void
txbatch_write(struct svc *svc, struct txbatch_job **jobs, size_t n)
{
	struct store_tx *tx = NULL;
	struct cs_err cerr;
	bool begun;
	enum cs_rc rc;
	size_t i;

	memset(&cerr, 0, sizeof(cerr));
	rc = store_tx_begin(svc->store, &tx, &cerr);
	begun = rc == CS_OK;
	if (begun) {
		for (i = 0; i < n; i++)
			txbatch_one(svc, tx, jobs[i]);
		rc = store_tx_commit(tx, &cerr);
	}
	if (rc == CS_OK)
		return;
	/* Nothing of this batch is stored: every job fails. */
	for (i = 0; i < n; i++) {
		if (begun && jobs[i]->rc != CS_OK)
			continue; /* its own failure says more */
		jobs[i]->rc = rc;
		jobs[i]->err = cerr;
	}
}

/*
 * Called with b->mu held and b->busy taken by this thread: form a batch
 * from the queue, write it without the lock, hand out the outcomes.
 */
static void
txbatch_lead(struct svc *svc, struct txbatch *b)
{
	struct txbatch_job *jobs[TXBATCH_MAX];
	size_t n = 0, i;

	while (n < TXBATCH_MAX && b->head != NULL) {
		jobs[n++] = b->head;
		b->head = b->head->next;
		b->queued--;
	}
	if (b->head == NULL)
		b->tail = NULL;
	pthread_mutex_unlock(&b->mu);

	txbatch_write(svc, jobs, n);

	pthread_mutex_lock(&b->mu);
	b->batches++;
	for (i = 0; i < n; i++) {
		b->jobs++;
		if (jobs[i]->rc != CS_OK)
			b->failed++;
		jobs[i]->done = true;
		b->pending--;
	}
	b->busy = false;
	pthread_cond_broadcast(&b->done);
}

enum cs_rc
txbatch_run(
    struct svc *svc, txbatch_write_fn write, void *arg, struct cs_err *err)
{
	struct txbatch *b = svc->batcher;
	struct txbatch_job j;

	if (b == NULL)
		return cs_err_set(err, CS_ERR_NOMEM, "no batcher");
	memset(&j, 0, sizeof(j));
	j.write = write;
	j.arg = arg;
	j.rc = CS_ERR_STORE;
	pthread_mutex_lock(&b->mu);
	if (b->tail != NULL)
		b->tail->next = &j;
	else
		b->head = &j;
	b->tail = &j;
	b->queued++;
	b->pending++;
	while (!j.done) {
		if (!b->busy) {
			b->busy = true;
			txbatch_lead(svc, b); /* returns with mu held */
			continue;
		}
		pthread_cond_wait(&b->done, &b->mu);
	}
	pthread_mutex_unlock(&b->mu);
	if (j.rc != CS_OK && err != NULL)
		*err = j.err;
	return j.rc;
}
