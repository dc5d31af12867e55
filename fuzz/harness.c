/*
 * harness.c: the helpers of fuzz.h.  Only the fuzz targets link it.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "certsvc/jcs.h"
#include "certsvc/log.h"
#include "certsvc/mem.h"
#include "fuzz/fuzz.h"

#ifndef FUZZ_DATA_DIR
#define FUZZ_DATA_DIR "fuzz/data"
#endif

static char fuzz_tmp[PATH_MAX];
static char fuzz_conf[PATH_MAX + 16];

char *
fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	FUZZ_CHECK(s != NULL);
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

bool
fuzz_msg_ok(const struct cs_err *e)
{
	size_t n = strlen(e->msg);

	if (cs_utf8_count(e->msg, n, true) >= 0)
		return true;
	fprintf(stderr, "fuzz: message is not UTF-8: ");
	fwrite(e->msg, 1, n, stderr);
	fprintf(stderr, "\n");
	return false;
}

const char *
fuzz_data_dir(void)
{
	const char *d = getenv("FUZZ_DATA");

	return d != NULL && d[0] != '\0' ? d : FUZZ_DATA_DIR;
}

X509 *
fuzz_cert(const char *name)
{
	char path[4096];
	X509 *x = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fuzz_data_dir(), name);
	f = fopen(path, "r");
	if (f != NULL) {
		x = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (x == NULL) {
		fprintf(stderr, "fuzz: cannot read certificate %s\n", path);
		abort();
	}
	return x;
}

void
fuzz_init(void)
{
	extern char **environ;
	char **e;

	cs_log_set_level(CS_LOG_ERR);
	/* cfg_load() reads CERTSVC_<KEY>: the inputs alone must decide. */
	for (e = environ; e != NULL && *e != NULL;) {
		if (strncmp(*e, "CERTSVC_", 8) == 0) {
			char name[128];
			size_t n = strcspn(*e, "=");

			if (n >= sizeof(name))
				n = sizeof(name) - 1;
			memcpy(name, *e, n);
			name[n] = '\0';
			unsetenv(name);
			e = environ;
			continue;
		}
		e++;
	}
}

static void
fuzz_cleanup(void)
{
	static const char *const files[] = {"certsvc.conf", "certsvc.db",
	    "certsvc.db-wal", "certsvc.db-shm", NULL};
	char path[PATH_MAX + 32];
	size_t i;

	if (fuzz_tmp[0] == '\0')
		return;
	for (i = 0; files[i] != NULL; i++) {
		snprintf(path, sizeof(path), "%s/%s", fuzz_tmp, files[i]);
		unlink(path);
	}
	rmdir(fuzz_tmp);
}

void
fuzz_principal(
    struct client_principal *p, enum client_role role, const char *id)
{
	memset(p, 0, sizeof(*p));
	p->role = role;
	cs_strlcpy(p->id, id, sizeof(p->id));
	if (role == CLIENT_HOLDER)
		memset(p->holder_ref, 'a', 64);
}

struct svc *
fuzz_svc(void)
{
	static struct svc *svc;
	struct cs_err err = {0};
	const char *tmp = getenv("TMPDIR");
	FILE *f;

	if (svc != NULL)
		return svc;
	fuzz_init();
	snprintf(fuzz_tmp, sizeof(fuzz_tmp), "%s/certsvc-fuzz.XXXXXX",
	    tmp != NULL && strlen(tmp) < PATH_MAX - 32 ? tmp : "/tmp");
	FUZZ_CHECK(mkdtemp(fuzz_tmp) != NULL);
	atexit(fuzz_cleanup);
	snprintf(fuzz_conf, sizeof(fuzz_conf), "%s/certsvc.conf", fuzz_tmp);
	f = fopen(fuzz_conf, "w");
	FUZZ_CHECK(f != NULL);
	fputs("# certsvc fuzzing: store only\ndb_conns = 1\n", f);
	fclose(f);
	if (svc_open(fuzz_conf, SVC_OPEN_STORE, &svc, &err) != CS_OK) {
		fprintf(stderr, "fuzz: svc_open: %s\n", err.msg);
		abort();
	}
	svc->root = fuzz_cert("root.pem");
	svc->issuing = fuzz_cert("issuing.pem");
	return svc;
}

int
fuzz_json_pick(const uint8_t *data, size_t size, void (*even)(const json_t *),
    void (*odd)(const json_t *))
{
	json_t *body = NULL;

	if (size < 1 || jcs_parse(data + 1, size - 1, &body, NULL) != CS_OK)
		return 0;
	if (data[0] % 2 == 0)
		even(body);
	else
		odd(body);
	json_decref(body);
	return 0;
}
