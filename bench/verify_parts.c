/*
 * bench/verify_parts.c: where the CPU time of one verification goes, without
 * HTTP.  On a data dir made by bench/verify.sh (or any certsvc-admin init
 * --demo with one licence issued), one thread calls verify_request() on a
 * request body through verify_request_text(), as POST /v1/verify does, and
 * prints the thread CPU time per call.  The lead's profiler runs
 * on it (perf record) to name the costs behind bench/verify.sh's ratios.
 *
 *   verify_parts --config PATH --token-file F --body F [--iterations N]
 *
 * The token file holds a verifier's bearer token (never in argv).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "certsvc/client.h"
#include "certsvc/err.h"
#include "certsvc/jcs.h"
#include "certsvc/mem.h"
#include "certsvc/svc.h"
#include "certsvc/verify.h"

static void
die(const char *what, const struct cs_err *err)
{
	fprintf(stderr, "bench/verify_parts: %s%s%s\n", what,
	    err != NULL ? ": " : "", err != NULL ? err->msg : "");
	exit(1);
}

static uint64_t
cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* One request as the route handles it: auth, parse, verify, encode. */
static void
one(struct svc *svc, const char *auth, const struct buf *body)
{
	struct client_principal p;
	struct cs_err err = {0};
	json_t *req = NULL;
	char *text = NULL;
	size_t len;

	if (client_authenticate(svc, auth, &p, &err) != CS_OK)
		die("authenticate", &err);
	if (jcs_parse(body->data, body->len, &req, &err) != CS_OK)
		die("parse", &err);
	if (verify_request_text(svc, &p, req, &text, &len, &err) != CS_OK)
		die("verify_request_text", &err);
	free(text);
	json_decref(req);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", 1, NULL, 'c'},
	    {"token-file", 1, NULL, 't'}, {"body", 1, NULL, 'b'},
	    {"iterations", 1, NULL, 'n'}, {NULL, 0, NULL, 0}};
	const char *config = NULL, *token = NULL, *bodyf = NULL;
	struct buf *body = NULL, *tok = NULL;
	struct cs_err err = {0};
	struct svc *svc = NULL;
	char auth[160];
	long n = 20000, i;
	uint64_t t0;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'c')
			config = optarg;
		else if (c == 't')
			token = optarg;
		else if (c == 'b')
			bodyf = optarg;
		else if (c == 'n')
			n = strtol(optarg, NULL, 10);
		else
			die("usage: verify_parts --config PATH --token-file F "
			    "--body F [--iterations N]",
			    NULL);
	}
	if (config == NULL || token == NULL || bodyf == NULL || n < 1)
		die("--config, --token-file and --body are required", NULL);
	if (cs_file_read(token, 256, &tok, &err) != CS_OK ||
	    cs_file_read(bodyf, 4 << 20, &body, &err) != CS_OK)
		die("read", &err);
	snprintf(auth, sizeof(auth), "Bearer %.*s",
	    (int)strcspn((char *)tok->data, "\n"), (const char *)tok->data);
	if (svc_open(config, SVC_OPEN_ALL, &svc, &err) != CS_OK)
		die("svc_open", &err);
	if (svc_refresh(svc, &err) != CS_OK)
		die("svc_refresh", &err);
	for (i = 0; i < 200; i++) /* warm the caches */
		one(svc, auth, body);
	t0 = cpu_ns();
	for (i = 0; i < n; i++)
		one(svc, auth, body);
	printf("verify_request: %.1f us CPU per call (%ld calls)\n",
	    (double)(cpu_ns() - t0) / 1e3 / (double)n, n);
	svc_free(svc);
	buf_free(body);
	buf_free(tok);
	return 0;
}
