/*
 * bench/lookup.c: the "status lookup alone" building block of issue #5.
 * Reads one licence (metadata, status, document and seal: what
 * verification by id needs) with store_licence_get() from an existing
 * database, in --threads threads for --seconds, through the store's
 * connection pool as certsvcd does.  Prints lookups per second.
 *
 *   lookup --db PATH --id LICENCE_ID [--threads N] [--seconds S] [--json]
 */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certsvc/err.h"
#include "certsvc/mem.h"
#include "certsvc/store.h"

#define LOOKUP_MAX_THREADS 64
#define LOOKUP_DB_CONNS 8 /* certsvcd's default db_conns */

struct lookup {
	struct store *st;
	const char *id;
	atomic_bool stop;
	atomic_ulong ops;
	atomic_int failed;
};

static void *
lookup_run(void *arg)
{
	struct lookup *lk = arg;
	struct store_licence l;
	struct cs_err err = {0};
	unsigned long n = 0;

	while (!atomic_load_explicit(&lk->stop, memory_order_relaxed)) {
		if (store_licence_get(lk->st, lk->id, 0, &l, &err) != CS_OK) {
			fprintf(stderr, "bench/lookup: %s\n", err.msg);
			atomic_store(&lk->failed, 1);
			break;
		}
		store_licence_release(&l);
		n++;
	}
	atomic_fetch_add(&lk->ops, n);
	return NULL;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"db", required_argument, NULL, 'd'},
	    {"id", required_argument, NULL, 'i'},
	    {"threads", required_argument, NULL, 't'},
	    {"seconds", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0},
	};
	pthread_t t[LOOKUP_MAX_THREADS];
	struct lookup lk;
	struct cs_err err = {0};
	const char *db = NULL;
	long long threads = 1, seconds = 3;
	uint64_t t0, t1;
	double rate;
	bool json = false;
	int c, i;

	memset(&lk, 0, sizeof(lk));
	while ((c = getopt_long(argc, argv, "d:i:t:s:j", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			db = optarg;
			break;
		case 'i':
			lk.id = optarg;
			break;
		case 't':
			if (!cs_parse_ll(
			        optarg, 1, LOOKUP_MAX_THREADS, &threads))
				goto usage;
			break;
		case 's':
			if (!cs_parse_ll(optarg, 1, 600, &seconds))
				goto usage;
			break;
		case 'j':
			json = true;
			break;
		default:
			goto usage;
		}
	}
	if (db == NULL || lk.id == NULL || optind != argc)
		goto usage;
	if (store_open(db, LOOKUP_DB_CONNS, &lk.st, &err) != CS_OK) {
		fprintf(stderr, "bench/lookup: %s\n", err.msg);
		return 1;
	}
	t0 = cs_now_ns();
	for (i = 0; i < threads; i++)
		if (pthread_create(&t[i], NULL, lookup_run, &lk) != 0) {
			fprintf(
			    stderr, "bench/lookup: pthread_create failed\n");
			return 1;
		}
	{
		struct timespec ts = {(time_t)seconds, 0};

		nanosleep(&ts, NULL);
	}
	atomic_store(&lk.stop, true);
	for (i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	t1 = cs_now_ns();
	store_free(lk.st);
	if (atomic_load(&lk.failed))
		return 1;
	rate = (double)atomic_load(&lk.ops) / ((double)(t1 - t0) / 1e9);
	if (json)
		printf("{\"threads\": %lld, \"lookups_per_s\": %.0f}\n",
		    threads, rate);
	else
		printf("threads %lld: %.0f lookups/s (%.1f us each)\n", threads,
		    rate, 1e6 / rate);
	return 0;
usage:
	fprintf(stderr,
	    "usage: lookup --db PATH --id LICENCE_ID [--threads N] "
	    "[--seconds S] [--json]\n");
	return 2;
}
