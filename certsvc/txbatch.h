/*
 * txbatch.h: group commit.  Writes that many threads make at once (an
 * issuance, a code redemption) each need a transaction with its audit
 * event, and with synchronous=FULL each transaction is an fsync: alone,
 * the store is their bottleneck.  txbatch_run() gives a write its own
 * savepoint inside a transaction shared with whatever writes are queued at
 * that moment, and one fsync for all of them (docs/store.md).
 */
#ifndef CERTSVC_TXBATCH_H
#define CERTSVC_TXBATCH_H

#include <stdint.h>

#include "certsvc/err.h"
#include "certsvc/store.h"
#include "certsvc/svc.h"

#define TXBATCH_MAX 64 /* writes in one transaction */

/*
 * One write: it runs in tx between a savepoint and its release, on the
 * thread of whichever caller leads the batch (not always its own), and
 * must take no lock of ours and wait on nothing but the store.  On
 * failure its writes alone are undone and its rc and err are its answer.
 */
typedef enum cs_rc (*txbatch_write_fn)(
    struct svc *svc, struct store_tx *tx, void *arg, struct cs_err *err);

/* Create / free svc->batcher (svc_open / svc_free call them). */
enum cs_rc txbatch_init(struct svc *svc, struct cs_err *err);
void txbatch_free(struct svc *svc);

/*
 * Run write(svc, tx, arg) in the next shared transaction and return once
 * that transaction has committed or failed: CS_OK only when the write
 * succeeded and its transaction committed.  A failed COMMIT (or BEGIN, or
 * an undo that fails) fails every write of the batch that had not failed
 * already, with the store's error: none of them is stored, never half of
 * one.  The audit chain has no gap: a write undone gives its sequence
 * number to the next (store_tx_rollback_to).
 */
enum cs_rc txbatch_run(struct svc *svc, txbatch_write_fn write, void *arg,
    struct cs_err *err) __attribute__((warn_unused_result));

/* What the batcher has done since svc_open(). */
struct txbatch_stats {
	uint64_t batches; /* transactions committed or attempted */
	uint64_t jobs;    /* writes in them */
	uint64_t failed;  /* writes that failed, alone or with their batch */
	uint64_t queued;  /* now: waiting for a batch to take them */
	uint64_t pending; /* now: submitted, not yet done */
};

/* Fill out (zeros before txbatch_init()). */
void txbatch_stats(struct svc *svc, struct txbatch_stats *out);

#endif
