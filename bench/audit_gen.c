/*
 * bench/audit_gen.c: append N audit events to an existing certsvc database
 * through store_audit_append(), the code path every state change takes,
 * --batch events per transaction so that a million take seconds, not an
 * fsync each.  The events look like a registry's day: issuances with the
 * detail licence_issue() writes, suspensions, verifier reads.  bench/audit.sh
 * then times `certsvc-admin audit verify` over them (issue #7: 1,000,000
 * events in <= 5 s).
 *
 *   audit_gen --db FILE [--events N] [--batch N] [--json]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certsvc/err.h"
#include "certsvc/mem.h"
#include "certsvc/store.h"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: audit_gen --db FILE [--events N] [--batch N] [--json]\n");
	exit(2);
}

static void
die(const char *what)
{
	fprintf(stderr, "bench/audit_gen: %s\n", what);
	exit(1);
}

/* Event i of the generated day. */
static void
gen_event(long long i, struct store_audit_event *ev, char *object, size_t objsz,
    char *detail, size_t detsz)
{
	static const char *const actions[] = {"licence.issue", "licence.issue",
	    "licence.issue", "licence.suspend", "code.create", "code.redeem"};
	const char *action = actions[i % 6];

	memset(ev, 0, sizeof(*ev));
	snprintf(object, objsz,
	    "licence:DEMO01-91110000MA01DEM15M-2026-%08lld-X/1", i / 3 + 1);
	if (strcmp(action, "licence.issue") == 0)
		snprintf(detail, detsz,
		    "{\"dept\":\"91110000MA01DEM15M\",\"holder_ref\":"
		    "\"%064llx\",\"seal\":\"S-0123456789abcdef\",\"type\":"
		    "\"DEMO01\"}",
		    (unsigned long long)i * 2654435761ull);
	else if (strcmp(action, "licence.suspend") == 0)
		snprintf(detail, detsz,
		    "{\"from\":\"valid\",\"reason\":\"bench\",\"to\":"
		    "\"suspended\"}");
	else
		snprintf(
		    detail, detsz, "{\"purpose\":\"bench approval %lld\"}", i);
	ev->actor = i % 2 == 0 ? "C-00000000000000aa" : "C-00000000000000bb";
	ev->action = action;
	ev->object = object;
	ev->outcome = "ok";
	ev->request_id = "0123456789abcdef0123456789abcdef";
	ev->detail = detail;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"db", required_argument, NULL, 'd'},
	    {"events", required_argument, NULL, 'n'},
	    {"batch", required_argument, NULL, 'b'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char object[STORE_URI_MAX], detail[512];
	struct store_audit_event ev;
	struct store_tx *tx = NULL;
	struct store *st = NULL;
	struct cs_err err = {0};
	long long events = 1000000, batch = 20000, i = 0, j;
	const char *db = NULL;
	bool json = false;
	uint64_t t0, t1;
	int c;

	while ((c = getopt_long(argc, argv, "d:n:b:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			db = optarg;
			break;
		case 'n':
			if (!cs_parse_ll(optarg, 1, 100000000, &events))
				usage();
			break;
		case 'b':
			if (!cs_parse_ll(optarg, 1, 1000000, &batch))
				usage();
			break;
		case 'j':
			json = true;
			break;
		default:
			usage();
		}
	}
	if (db == NULL || optind != argc)
		usage();
	if (store_open(db, 2, &st, &err) != CS_OK)
		die(err.msg);
	t0 = cs_now_ns();
	while (i < events) {
		if (store_tx_begin(st, &tx, &err) != CS_OK)
			die(err.msg);
		for (j = 0; j < batch && i < events; j++, i++) {
			gen_event(i, &ev, object, sizeof(object), detail,
			    sizeof(detail));
			if (store_audit_append(tx, &ev, NULL, &err) != CS_OK)
				die(err.msg);
		}
		if (store_tx_commit(tx, &err) != CS_OK)
			die(err.msg);
	}
	t1 = cs_now_ns();
	store_free(st);
	if (json)
		printf("{\"events\": %lld, \"seconds\": %.3f, "
		       "\"events_per_s\": %.0f}\n",
		    events, (double)(t1 - t0) / 1e9,
		    (double)events / ((double)(t1 - t0) / 1e9));
	else
		printf("appended %lld events in %.2f s (%.0f/s)\n", events,
		    (double)(t1 - t0) / 1e9,
		    (double)events / ((double)(t1 - t0) / 1e9));
	return 0;
}
