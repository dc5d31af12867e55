/*
 * testutil.c: every suite gets its own SoftHSM2 token directory so suites
 * can run in parallel and never see each other's keys.
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "certsvc/mem.h"
#include "tests/testutil.h"

extern char **environ;

static void
testutil_die(const char *what)
{
	fprintf(stderr, "testutil: %s\n", what);
	abort();
}

enum cs_rc
testutil_sw_sign(EVP_PKEY *priv, int md_nid, const unsigned char *dgst,
    size_t dlen, unsigned char *sig, size_t *siglen, struct cs_err *err)
{
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
	enum cs_rc rc = CS_OK;

	if (pctx == NULL || EVP_PKEY_sign_init(pctx) <= 0 ||
	    EVP_PKEY_CTX_set_signature_md(pctx, EVP_get_digestbynid(md_nid)) <=
	        0 ||
	    (EVP_PKEY_is_a(priv, "RSA") &&
	        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0) ||
	    EVP_PKEY_sign(pctx, sig, siglen, dgst, dlen) <= 0)
		rc = cs_err_ossl(err, CS_ERR_CRYPTO, "software signer failed");
	EVP_PKEY_CTX_free(pctx);
	return rc;
}

void
testutil_tmpdir(char *out, size_t outsz)
{
	const char *base = getenv("CERTSVC_TEST_TMP");
	char tmpl[PATH_MAX];

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (snprintf(tmpl, sizeof(tmpl), "%s/t.XXXXXX", base) >=
	    (int)sizeof(tmpl))
		testutil_die("temp path too long");
	if (mkdtemp(tmpl) == NULL)
		testutil_die("mkdtemp failed");
	if (!cs_strlcpy(out, tmpl, outsz))
		testutil_die("temp path too long");
}

int
testutil_run(char *const argv[])
{
	pid_t pid;
	int status;

	if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		return -1;
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void
testutil_softhsm(struct testutil_token *t, const char *label)
{
	char tokdir[PATH_MAX + 16], conf[PATH_MAX + 256];
	const char *module = getenv("CERTSVC_TEST_MODULE");
	FILE *f;

	memset(t, 0, sizeof(*t));
	if (module == NULL || *module == '\0')
		module = "/usr/lib/softhsm/libsofthsm2.so";
	cs_strlcpy(t->module, module, sizeof(t->module));
	if (!cs_strlcpy(t->label, label, sizeof(t->label)))
		testutil_die("label too long");
	testutil_tmpdir(t->dir, sizeof(t->dir));
	if (snprintf(tokdir, sizeof(tokdir), "%s/tokens", t->dir) >=
	    (int)sizeof(tokdir))
		testutil_die("path too long");
	if (mkdir(tokdir, 0700) != 0)
		testutil_die("mkdir tokens failed");
	if (snprintf(t->conf, sizeof(t->conf), "%s/softhsm2.conf", t->dir) >=
	    (int)sizeof(t->conf))
		testutil_die("path too long");
	f = fopen(t->conf, "w");
	if (f == NULL)
		testutil_die("cannot write softhsm2.conf");
	snprintf(conf, sizeof(conf),
	    "directories.tokendir = %s\nobjectstore.backend = file\n"
	    "log.level = ERROR\nslots.removable = false\n",
	    tokdir);
	fputs(conf, f);
	fclose(f);
	setenv("SOFTHSM2_CONF", t->conf, 1);
	{
		char *argv[] = {"softhsm2-util", "--init-token", "--free",
		    "--label", t->label, "--pin", TESTUTIL_PIN, "--so-pin",
		    TESTUTIL_SO_PIN, NULL};
		if (testutil_run(argv) != 0)
			testutil_die("softhsm2-util --init-token failed");
	}
}

void
testutil_softhsm_remove(struct testutil_token *t)
{
	char *argv[] = {"rm", "-rf", t->dir, NULL};

	if (t->dir[0] != '\0')
		testutil_run(argv);
}

enum cs_rc
testutil_pin_fn(void *arg, char *pin, size_t pinsz, struct cs_err *err)
{
	(void)arg;
	if (!cs_strlcpy(pin, TESTUTIL_PIN, pinsz))
		return cs_err_set(err, CS_ERR_INVALID, "pin buffer too small");
	return CS_OK;
}

enum cs_rc
testutil_bad_pin_fn(void *arg, char *pin, size_t pinsz, struct cs_err *err)
{
	(void)arg;
	if (!cs_strlcpy(pin, "0000", pinsz))
		return cs_err_set(err, CS_ERR_INVALID, "pin buffer too small");
	return CS_OK;
}
