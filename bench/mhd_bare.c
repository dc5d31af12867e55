/*
 * bench/mhd_bare.c: the HTTP building block of DESIGN.md section 6.  A
 * bare libmicrohttpd server in certsvcd's threading mode and options
 * (api/server.c: internal polling thread + epoll, a thread pool of
 * --threads (certsvcd's default: 4 per online core), the same connection
 * timeout, limit and backlog, a completion callback) that answers every
 * request, GET or POST, with a fixed body of --size bytes and the headers an
 * issuance answer carries (Content-Type, Location, X-Request-Id,
 * Cache-Control), status --status. A request body is read and discarded.  No
 * other work: its rate under the load generator is the ceiling of HTTP alone
 * for an answer of that size.
 *
 *   mhd_bare --size N [--port P] [--threads T] [--status S]
 *
 * Listens on 127.0.0.1 only; prints "port N" on stdout once listening and
 * runs until SIGTERM or SIGINT.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "certsvc/mem.h"

#define BARE_SIZE_MAX (16 << 20)

struct bare {
	char *body;
	size_t size;
	unsigned status;
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: mhd_bare --size N [--port P] [--threads T] "
	    "[--status S]\n");
	exit(2);
}

static enum MHD_Result
bare_access(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_size, void **con_cls)
{
	const struct bare *b = cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	(void)url;
	(void)method;
	(void)version;
	(void)upload_data;
	if (*con_cls == NULL) {
		*con_cls = cls; /* marks the request as started */
		return MHD_YES;
	}
	if (*upload_size > 0) {
		*upload_size = 0; /* read and discarded */
		return MHD_YES;
	}
	resp = MHD_create_response_from_buffer(
	    b->size, b->body, MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	/* The header set and lengths of an issuance answer. */
	MHD_add_response_header(
	    resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION,
	    "/v1/licences/DEMO01-91110000MA01DEM15M-2026-00000001-G");
	MHD_add_response_header(
	    resp, "X-Request-Id", "0123456789abcdef0123456789abcdef");
	MHD_add_response_header(
	    resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(conn, b->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void
bare_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	*con_cls = NULL;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"size", required_argument, NULL, 's'},
	    {"port", required_argument, NULL, 'p'},
	    {"threads", required_argument, NULL, 't'},
	    {"status", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const union MHD_DaemonInfo *info;
	struct sockaddr_in sin;
	struct MHD_Daemon *mhd;
	struct bare b;
	long long size = -1, port = 0, threads = 0, status = 201;
	sigset_t sigs;
	size_t i;
	long ncpu;
	int c, sig;

	while ((c = getopt_long(argc, argv, "s:p:t:S:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!cs_parse_ll(optarg, 0, BARE_SIZE_MAX, &size))
				usage();
			break;
		case 'p':
			if (!cs_parse_ll(optarg, 0, 65535, &port))
				usage();
			break;
		case 't':
			if (!cs_parse_ll(optarg, 0, 1024, &threads))
				usage();
			break;
		case 'S':
			if (!cs_parse_ll(optarg, 100, 599, &status))
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc || size < 0)
		usage();
	if (threads == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		threads = ncpu > 0 ? ncpu : 1;
	}

	/* A JSON-looking body; only its size matters. */
	memset(&b, 0, sizeof(b));
	b.size = (size_t)size;
	b.status = (unsigned)status;
	b.body = malloc(b.size + 1);
	if (b.body == NULL) {
		fprintf(stderr, "mhd_bare: out of memory\n");
		return 1;
	}
	for (i = 0; i < b.size; i++)
		b.body[i] = (char)('a' + i % 26);
	if (b.size >= 2) {
		b.body[0] = '"';
		b.body[b.size - 1] = '"';
	}
	b.body[b.size] = '\0';

	/* Like certsvcd: stop signals blocked before any thread starts. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	mhd = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, bare_access, &b, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&sin, MHD_OPTION_THREAD_POOL_SIZE,
	    (unsigned)threads, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
	    MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_NOTIFY_COMPLETED,
	    bare_completed, NULL, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
	    MHD_OPTION_END);
	if (mhd == NULL) {
		fprintf(stderr, "mhd_bare: cannot listen on 127.0.0.1:%lld\n",
		    port);
		free(b.body);
		return 1;
	}
	info = MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_BIND_PORT);
	printf("port %u\n", info != NULL ? (unsigned)info->port : 0u);
	fflush(stdout);
	if (sigwait(&sigs, &sig) != 0)
		sig = 0;
	MHD_stop_daemon(mhd);
	free(b.body);
	return 0;
}
