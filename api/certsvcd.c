/*
 * certsvcd.c: the daemon.  Opens the service, serves HTTP until SIGTERM or
 * SIGINT, then stops accepting, finishes requests in flight and closes the
 * token and store.  Core dumps are disabled: the process holds a logged-in
 * token session and, briefly, the PIN.
 */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "api/api.h"
#include "certsvc/ca.h"
#include "certsvc/log.h"
#include "certsvc/svc.h"

#define TLS_PEM_MAX (256 * 1024)

static void
usage(FILE *f)
{
	fputs("usage: certsvcd [--config FILE] [--help]\n"
	      "\n"
	      "Serve certsvc's HTTP API.\n"
	      "\n"
	      "  -c, --config FILE  configuration file (default: "
	      "$CERTSVC_DATA/certsvc.conf,\n"
	      "                     else ./var/certsvc.conf)\n"
	      "  -h, --help         this text\n"
	      "\n"
	      "The token PIN comes from the config's pin_file or from "
	      "CERTSVC_PIN.\n"
	      "SIGHUP reopens log_file (after logrotate moved it) and "
	      "brings the pre-signed\n"
	      "OCSP responses, CRLs and status lists up to date at once.\n"
	      "Exit codes: 0 clean shutdown, 1 start-up failure, 2 usage.\n",
	    f);
}

static void
no_core_dumps(void)
{
	struct rlimit rl = {0, 0};

	setrlimit(RLIMIT_CORE, &rl);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/*
 * HTTPS: tls_cert and tls_key both set, or neither.  The key must not be
 * readable by group or others, like pin_file.
 */
static enum cs_rc
tls_load(const struct cfg *cfg, struct buf **cert, struct buf **key,
    struct cs_err *err)
{
	struct stat st;
	enum cs_rc rc;

	*cert = *key = NULL;
	if (cfg->tls_cert[0] == '\0' && cfg->tls_key[0] == '\0')
		return CS_OK;
	if (cfg->tls_cert[0] == '\0' || cfg->tls_key[0] == '\0')
		return cs_err_set(
		    err, CS_ERR_INVALID, "tls_cert and tls_key go together");
	if (stat(cfg->tls_key, &st) != 0 || (st.st_mode & 077) != 0)
		return cs_err_set(err, CS_ERR_INVALID,
		    "tls_key '%s' must exist with mode 0600 or stricter",
		    cfg->tls_key);
	rc = cs_file_read(cfg->tls_cert, TLS_PEM_MAX, cert, err);
	if (rc == CS_OK)
		rc = cs_file_read(cfg->tls_key, TLS_PEM_MAX, key, err);
	if (rc != CS_OK) {
		buf_free(*cert);
		*cert = NULL;
	}
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char config[PATH_MAX];
	struct api_options opts;
	struct api_server *srv = NULL;
	struct buf *tls_cert = NULL, *tls_key = NULL;
	struct svc *svc = NULL;
	struct cs_err err = {0};
	enum cs_log_level level;
	const char *data;
	sigset_t sigs;
	int ch, sig = 0, status = 1;

	data = getenv("CERTSVC_DATA");
	snprintf(config, sizeof(config), "%s/certsvc.conf",
	    data != NULL && *data != '\0' ? data : "var");
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			if (!cs_strlcpy(config, optarg, sizeof(config))) {
				fputs(
				    "certsvcd: config path too long\n", stderr);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	no_core_dumps();
	CRYPTO_secure_malloc_init(32768, 32);
	cs_log_set_json(true);

	/* Block the stop signals before any thread starts; main waits. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP); /* reopen log_file (logrotate) */
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (svc_open(config, SVC_OPEN_ALL, &svc, &err) != CS_OK) {
		cs_log(CS_LOG_ERR, "cannot start: %s", err.msg);
		goto out;
	}
	if (cs_log_level_parse(svc->cfg.log_level, &level))
		cs_log_set_level(level);
	if (cs_log_open(svc->cfg.log_file, &err) != CS_OK) {
		cs_log(CS_LOG_ERR, "cannot start: %s", err.msg);
		goto out;
	}
	/* Info lines in bulk (log.c); flushed by cs_log_buffer_stop(). */
	if (cs_log_buffer_start(&err) != CS_OK)
		cs_log(CS_LOG_WARN, "%s: logging unbuffered", err.msg);
	if (svc->root == NULL)
		cs_log(CS_LOG_WARN, "no CA yet: run 'certsvc-admin ca init'");
	else if (ca_export_files(svc, &err) != CS_OK)
		cs_log(CS_LOG_WARN, "cannot export CA files: %s", err.msg);
	if (svc_refresher_start(svc, &err) != CS_OK) {
		cs_log(CS_LOG_ERR, "cannot start: %s", err.msg);
		goto out;
	}
	memset(&opts, 0, sizeof(opts));
	opts.listen = svc->cfg.listen;
	opts.threads = svc->cfg.http_threads;
	opts.max_body = svc->cfg.max_body;
	opts.conn_timeout_s = svc->cfg.http_conn_timeout;
	opts.conn_limit = svc->cfg.http_conn_limit;
	if (tls_load(&svc->cfg, &tls_cert, &tls_key, &err) != CS_OK) {
		cs_log(CS_LOG_ERR, "cannot start: %s", err.msg);
		goto out;
	}
	opts.tls_cert_pem = tls_cert != NULL ? (char *)tls_cert->data : NULL;
	opts.tls_key_pem = tls_key != NULL ? (char *)tls_key->data : NULL;
	if (api_server_start(svc, &opts, &srv, &err) != CS_OK) {
		cs_log(CS_LOG_ERR, "cannot start: %s", err.msg);
		goto out;
	}
	cs_log(CS_LOG_INFO, "listening on %s (port %u)", svc->cfg.listen,
	    api_server_port(srv));
	while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP) {
		if (cs_log_reopen(&err) != CS_OK)
			cs_log(CS_LOG_ERR, "%s", err.msg);
		cs_log(CS_LOG_INFO, "SIGHUP: reloading pre-signed data");
		svc_refresher_reload(svc); /* re-sign what changed, now */
	}
	cs_log(CS_LOG_INFO, "signal %d: shutting down", sig);
	status = 0;
out:
	api_server_stop(srv);
	buf_free(tls_key); /* wipes it */
	buf_free(tls_cert);
	svc_free(svc);
	if (status == 0)
		cs_log(CS_LOG_INFO, "stopped");
	cs_log_buffer_stop(); /* the buffered lines, "stopped" last */
	return status;
}
