/*
 * check_cfg.c: certsvc/cfg.c.  Every test writes its own certsvc.conf in a
 * fresh directory and starts with no CERTSVC_* overrides in the
 * environment.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certsvc/cfg.h"
#include "certsvc/mem.h"
#include "tests/testutil.h"

static const char *const env_keys[] = {"CERTSVC_LISTEN", "CERTSVC_PUBLIC_URL",
    "CERTSVC_DB_PATH", "CERTSVC_MODULE", "CERTSVC_TOKEN_LABEL",
    "CERTSVC_PIN_FILE", "CERTSVC_SOFTHSM2_CONF", "CERTSVC_CA_ORG",
    "CERTSVC_CA_COUNTRY", "CERTSVC_LOG_LEVEL", "CERTSVC_POOL_SIZE",
    "CERTSVC_TOKEN_TIMEOUT_MS", "CERTSVC_HTTP_THREADS", "CERTSVC_MAX_BODY",
    "CERTSVC_DB_CONNS", "CERTSVC_PIN"};

static char dir[PATH_MAX];
static char conf[PATH_MAX + 32];

static void
env_clear(void)
{
	size_t i;

	for (i = 0; i < sizeof(env_keys) / sizeof(env_keys[0]); i++)
		unsetenv(env_keys[i]);
}

static void
setup(void)
{
	char tmp[PATH_MAX];

	env_clear();
	testutil_tmpdir(tmp, sizeof(tmp));
	/* cfg_load() resolves the directory: compare with the real one. */
	ck_assert_ptr_nonnull(realpath(tmp, dir));
	snprintf(conf, sizeof(conf), "%s/certsvc.conf", dir);
}

static void
teardown(void)
{
	env_clear();
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	ck_assert_int_eq(
	    cs_file_write(path, text, strlen(text), mode, false, NULL), CS_OK);
}

/* Load text as certsvc.conf; the result code, message in err. */
static enum cs_rc
load(const char *text, struct cfg *cfg, struct cs_err *err)
{
	write_file(conf, text, 0600);
	return cfg_load(conf, cfg, err);
}

/* --- defaults ----------------------------------------------------------- */

START_TEST(defaults_fill_every_key)
{
	struct cfg cfg;

	cfg_defaults(&cfg, "/srv/cs/");
	ck_assert_str_eq(cfg.data_dir, "/srv/cs");
	ck_assert_str_eq(cfg.path, "/srv/cs/certsvc.conf");
	ck_assert_str_eq(cfg.listen, "127.0.0.1:8080");
	ck_assert_str_eq(cfg.public_url, "http://127.0.0.1:8080");
	ck_assert_str_eq(cfg.db_path, "/srv/cs/certsvc.db");
	ck_assert_str_eq(cfg.module, "/usr/lib/softhsm/libsofthsm2.so");
	ck_assert_str_eq(cfg.token_label, "certsvc");
	ck_assert_str_eq(cfg.pin_file, "/srv/cs/pin");
	ck_assert_str_eq(cfg.softhsm2_conf, "/srv/cs/softhsm2.conf");
	ck_assert_str_eq(cfg.ca_org, "certsvc demo");
	ck_assert_str_eq(cfg.ca_country, "CN");
	ck_assert_str_eq(cfg.log_level, "info");
	ck_assert_uint_eq(cfg.pool_size, 0);
	ck_assert_uint_eq(cfg.token_timeout_ms, 2000);
	ck_assert_uint_eq(cfg.http_threads, 0);
	ck_assert_uint_eq(cfg.max_body, 1048576);
	ck_assert_uint_eq(cfg.db_conns, 8);
}
END_TEST

/* --- the file ---------------------------------------------------------------
 */

START_TEST(load_parses_comments_quotes_and_paths)
{
	struct cfg cfg;
	struct cs_err err = {0};
	char want[PATH_MAX + 64];

	ck_assert_msg(load("# a comment\n"
	                   "\n"
	                   "   # indented comment\n"
	                   "listen = 0.0.0.0:9000\r\n"
	                   "\tpublic_url=https://cs.example.org  # trailing\n"
	                   "db_path = db/main.db\n"
	                   "pin_file = \"/etc/certsvc/pin\"\n"
	                   "softhsm2_conf =\n"
	                   "ca_org = \"Bureau \\\"A\\\" # 1\"   # comment\n"
	                   "token_label = my#label\n"
	                   "pool_size = 16\n"
	                   "db_conns=  2  \n"
	                   "log_level = debug",
	                  &cfg, &err) == CS_OK,
	    "%s", err.msg);
	ck_assert_str_eq(cfg.data_dir, dir);
	ck_assert_str_eq(cfg.path, conf);
	ck_assert_str_eq(cfg.listen, "0.0.0.0:9000");
	ck_assert_str_eq(cfg.public_url, "https://cs.example.org");
	snprintf(want, sizeof(want), "%s/db/main.db", dir);
	ck_assert_str_eq(cfg.db_path, want);
	ck_assert_str_eq(cfg.pin_file, "/etc/certsvc/pin");
	ck_assert_str_eq(cfg.softhsm2_conf, "");
	ck_assert_str_eq(cfg.ca_org, "Bureau \"A\" # 1");
	ck_assert_str_eq(cfg.token_label, "my#label");
	ck_assert_uint_eq(cfg.pool_size, 16);
	ck_assert_uint_eq(cfg.db_conns, 2);
	ck_assert_str_eq(cfg.log_level, "debug");
	/* Untouched keys keep their defaults, relative to the file's dir. */
	ck_assert_str_eq(cfg.token_label, "my#label");
	ck_assert_uint_eq(cfg.max_body, 1048576);
	ck_assert_str_eq(cfg.module, "/usr/lib/softhsm/libsofthsm2.so");
}
END_TEST

START_TEST(load_resolves_the_directory)
{
	struct cfg cfg;
	struct cs_err err = {0};
	char cwd[PATH_MAX], want[PATH_MAX + 32];

	write_file(conf, "db_path = x.db\n", 0600);
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(dir), 0);
	ck_assert_msg(
	    cfg_load("./certsvc.conf", &cfg, &err) == CS_OK, "%s", err.msg);
	ck_assert_int_eq(chdir(cwd), 0);
	ck_assert_str_eq(cfg.data_dir, dir);
	ck_assert_str_eq(cfg.path, conf);
	snprintf(want, sizeof(want), "%s/x.db", dir);
	ck_assert_str_eq(cfg.db_path, want);
}
END_TEST

START_TEST(unknown_key_names_line)
{
	struct cfg cfg;
	struct cs_err err = {0};

	ck_assert_int_eq(
	    load("# c\nlisten = 127.0.0.1:1\nlisen = x\n", &cfg, &err),
	    CS_ERR_INVALID);
	ck_assert_str_eq(err.msg, "certsvc.conf line 3: unknown key 'lisen'");
}
END_TEST

START_TEST(pin_is_not_a_key)
{
	struct cfg cfg;
	struct cs_err err = {0};

	ck_assert_int_eq(load("pin = 987654\n", &cfg, &err), CS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "line 1: unknown key 'pin'"));
	ck_assert_ptr_null(strstr(err.msg, "987654"));
}
END_TEST

START_TEST(bad_number_names_line_key_and_range)
{
	struct cfg cfg;
	struct cs_err err = {0};

	ck_assert_int_eq(
	    load("listen = 127.0.0.1:1\npool_size = 2000\n", &cfg, &err),
	    CS_ERR_INVALID);
	ck_assert_str_eq(err.msg,
	    "certsvc.conf line 2: pool_size must be an "
	    "integer from 0 to 1024");
	ck_assert_int_eq(load("max_body = 12k\n", &cfg, &err), CS_ERR_INVALID);
	ck_assert_str_eq(err.msg,
	    "certsvc.conf line 1: max_body must be an "
	    "integer from 1024 to 67108864");
	ck_assert_int_eq(load("db_conns = -1\n", &cfg, &err), CS_ERR_INVALID);
	ck_assert_int_eq(load("db_conns =\n", &cfg, &err), CS_ERR_INVALID);
	ck_assert_int_eq(
	    load("token_timeout_ms = 0\n", &cfg, &err), CS_ERR_INVALID);
}
END_TEST

START_TEST(bad_lines_are_refused)
{
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
	    {"listen\n", "certsvc.conf line 1: expected 'key = value'"},
	    {"= x\n", "certsvc.conf line 1: expected 'key = value'"},
	    {"Listen = x\n", "certsvc.conf line 1: expected 'key = value'"},
	    {"ca_org = \"open\n",
	        "certsvc.conf line 1: unterminated quoted "
	        "value"},
	    {"ca_org = \"a\" b\n",
	        "certsvc.conf line 1: text after the "
	        "closing quote"},
	    {"ca_org = \"a\\n\"\n",
	        "certsvc.conf line 1: only \\\" and \\\\ "
	        "may be escaped in a quoted value"},
	    {"\nlisten = 1.2.3.4\n",
	        "certsvc.conf line 2: listen must be "
	        "host:port with a port from 0 to 65535"},
	    {"listen = :80\n",
	        "certsvc.conf line 1: listen must be host:port "
	        "with a port from 0 to 65535"},
	    {"public_url = ftp://x\n",
	        "certsvc.conf line 1: public_url must "
	        "start with http:// or https://"},
	    {"ca_country = cn\n",
	        "certsvc.conf line 1: ca_country must be "
	        "two capital letters"},
	    {"log_level = loud\n",
	        "certsvc.conf line 1: log_level must be "
	        "error, warn, info or debug"},
	    {"token_label = 123456789012345678901234567890123\n",
	        "certsvc.conf line 1: token_label must have 1 to 32 bytes"},
	    {"module = \"\"\n",
	        "certsvc.conf line 1: module must not be "
	        "empty"},
	    {"ca_org = a\x01z\n",
	        "certsvc.conf line 1: ca_org must not "
	        "contain control characters"},
	    {"db_conns = 2\ndb_conns = 3\n",
	        "certsvc.conf line 2: db_conns "
	        "is set twice"},
	};
	struct cfg cfg;
	struct cs_err err;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&err, 0, sizeof(err));
		ck_assert_msg(load(cases[i].text, &cfg, &err) == CS_ERR_INVALID,
		    "case %zu accepted", i);
		ck_assert_str_eq(err.msg, cases[i].msg);
	}
}
END_TEST

START_TEST(oversized_input_is_refused)
{
	struct cfg cfg;
	struct cs_err err = {0};
	struct buf *b;
	size_t i;

	/* A path that does not fit. */
	b = buf_new(PATH_MAX + 32);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(buf_append_str(b, "db_path = "), CS_OK);
	for (i = 0; i < PATH_MAX; i++)
		ck_assert_int_eq(buf_append_str(b, "a"), CS_OK);
	ck_assert_int_eq(buf_append_str(b, "\n"), CS_OK);
	ck_assert_int_eq(
	    load((const char *)b->data, &cfg, &err), CS_ERR_INVALID);
	ck_assert_str_eq(
	    err.msg, "certsvc.conf line 1: db_path is longer than 4095 bytes");
	buf_free(b);

	/* A file over the size limit. */
	b = buf_new(70000);
	ck_assert_ptr_nonnull(b);
	for (i = 0; i < 7000; i++)
		ck_assert_int_eq(buf_append_str(b, "# comment\n"), CS_OK);
	ck_assert_int_eq(
	    load((const char *)b->data, &cfg, &err), CS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "larger than"));
	buf_free(b);
}
END_TEST

START_TEST(missing_file_is_not_found)
{
	struct cfg cfg;
	struct cs_err err = {0};
	char path[PATH_MAX + 32];

	ck_assert_int_eq(cfg_load(conf, &cfg, &err), CS_ERR_NOT_FOUND);
	snprintf(path, sizeof(path), "%s/nodir/certsvc.conf", dir);
	ck_assert_int_eq(cfg_load(path, &cfg, &err), CS_ERR_NOT_FOUND);
}
END_TEST

/* --- environment ------------------------------------------------------------
 */

START_TEST(env_overrides_win)
{
	struct cfg cfg;
	struct cs_err err = {0};
	char want[PATH_MAX + 32];

	setenv("CERTSVC_LISTEN", "[::1]:8443", 1);
	setenv("CERTSVC_POOL_SIZE", "3", 1);
	setenv("CERTSVC_DB_PATH", "other.db", 1);
	setenv("CERTSVC_SOFTHSM2_CONF", "", 1);
	ck_assert_msg(
	    load("listen = 127.0.0.1:1\npool_size = 9\n", &cfg, &err) == CS_OK,
	    "%s", err.msg);
	ck_assert_str_eq(cfg.listen, "[::1]:8443");
	ck_assert_uint_eq(cfg.pool_size, 3);
	snprintf(want, sizeof(want), "%s/other.db", dir);
	ck_assert_str_eq(cfg.db_path, want);
	ck_assert_str_eq(cfg.softhsm2_conf, "");
}
END_TEST

START_TEST(bad_env_names_the_variable)
{
	struct cfg cfg;
	struct cs_err err = {0};

	setenv("CERTSVC_POOL_SIZE", "many", 1);
	ck_assert_int_eq(load("", &cfg, &err), CS_ERR_INVALID);
	ck_assert_str_eq(err.msg,
	    "CERTSVC_POOL_SIZE: pool_size must be an "
	    "integer from 0 to 1024");
	unsetenv("CERTSVC_POOL_SIZE");
	setenv("CERTSVC_CA_COUNTRY", "", 1);
	ck_assert_int_eq(load("", &cfg, &err), CS_ERR_INVALID);
	ck_assert_str_eq(err.msg,
	    "CERTSVC_CA_COUNTRY: ca_country must not "
	    "be empty");
}
END_TEST

/* Every member of a and b equal (char arrays as strings). */
static void
cfg_assert_eq(const struct cfg *a, const struct cfg *b)
{
	ck_assert_str_eq(a->path, b->path);
	ck_assert_str_eq(a->data_dir, b->data_dir);
	ck_assert_str_eq(a->listen, b->listen);
	ck_assert_str_eq(a->public_url, b->public_url);
	ck_assert_str_eq(a->db_path, b->db_path);
	ck_assert_str_eq(a->module, b->module);
	ck_assert_str_eq(a->token_label, b->token_label);
	ck_assert_str_eq(a->pin_file, b->pin_file);
	ck_assert_str_eq(a->softhsm2_conf, b->softhsm2_conf);
	ck_assert_str_eq(a->ca_org, b->ca_org);
	ck_assert_str_eq(a->ca_country, b->ca_country);
	ck_assert_str_eq(a->log_level, b->log_level);
	ck_assert_uint_eq(a->pool_size, b->pool_size);
	ck_assert_uint_eq(a->token_timeout_ms, b->token_timeout_ms);
	ck_assert_uint_eq(a->http_threads, b->http_threads);
	ck_assert_uint_eq(a->max_body, b->max_body);
	ck_assert_uint_eq(a->db_conns, b->db_conns);
}

/* --- rendering ---------------------------------------------------------------
 */

START_TEST(render_round_trips)
{
	struct cfg a, b;
	struct cs_err err = {0};
	char *text = NULL;

	cfg_defaults(&a, dir);
	ck_assert_int_eq(cfg_render(&a, &text, &err), CS_OK);
	ck_assert_ptr_nonnull(strstr(text, "\ndb_path = certsvc.db\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nca_org = \"certsvc demo\"\n"));
	ck_assert_ptr_nonnull(strstr(text, "# Default: 2000 (from 1 to "));
	ck_assert_ptr_null(strstr(text, dir)); /* the dir can be moved */
	ck_assert_int_eq(load(text, &b, &err), CS_OK);
	cfg_assert_eq(&a, &b);
	free(text);

	/* Values that need quoting, and paths outside the dir. */
	snprintf(a.ca_org, sizeof(a.ca_org), " a \"b\" \\ #c ");
	snprintf(a.module, sizeof(a.module), "/opt/hsm/lib.so");
	a.softhsm2_conf[0] = '\0';
	a.max_body = 2048;
	ck_assert_int_eq(cfg_render(&a, &text, &err), CS_OK);
	ck_assert_ptr_nonnull(strstr(text, "\nsofthsm2_conf = \"\"\n"));
	ck_assert_int_eq(load(text, &b, &err), CS_OK);
	ck_assert_str_eq(b.ca_org, a.ca_org);
	cfg_assert_eq(&a, &b);
	free(text);

	a.ca_org[1] = '\n';
	ck_assert_int_eq(cfg_render(&a, &text, &err), CS_ERR_INVALID);
	ck_assert_ptr_null(text);
}
END_TEST

START_TEST(example_matches_render)
{
	const char *src = getenv("CERTSVC_SRCDIR");
	struct buf *file = NULL;
	struct cfg cfg;
	struct cs_err err = {0};
	char path[PATH_MAX], *text = NULL;

	snprintf(path, sizeof(path), "%s/docs/certsvc.conf.example",
	    src != NULL ? src : ".");
	ck_assert_msg(
	    cs_file_read(path, 65536, &file, &err) == CS_OK, "%s", err.msg);
	cfg_defaults(&cfg, "/var/lib/certsvc");
	ck_assert_int_eq(cfg_render(&cfg, &text, &err), CS_OK);
	ck_assert_str_eq((const char *)file->data, text);
	free(text);
	buf_free(file);
}
END_TEST

/* --- the PIN -----------------------------------------------------------------
 */

START_TEST(pin_from_env)
{
	struct cfg cfg;
	struct cs_err err = {0};
	char pin[64];

	cfg_defaults(&cfg, dir); /* no pin file there: env is enough */
	setenv("CERTSVC_PIN", "24681357", 1);
	ck_assert_int_eq(cfg_pin_read(&cfg, pin, sizeof(pin), &err), CS_OK);
	ck_assert_str_eq(pin, "24681357");
	ck_assert_int_eq(cfg_pin_read(&cfg, pin, 5, &err), CS_ERR_INVALID);
	ck_assert_ptr_null(strstr(err.msg, "2468"));
	ck_assert_str_eq(pin, "");
	/* Empty means unset: the (missing) file is tried. */
	setenv("CERTSVC_PIN", "", 1);
	ck_assert_int_eq(
	    cfg_pin_read(&cfg, pin, sizeof(pin), &err), CS_ERR_NOT_FOUND);
}
END_TEST

START_TEST(pin_from_file)
{
	struct cfg cfg;
	struct cs_err err = {0};
	char pin[64];

	cfg_defaults(&cfg, dir);
	write_file(cfg.pin_file, "11223344\r\nsecond line\n", 0600);
	ck_assert_int_eq(cfg_pin_read(&cfg, pin, sizeof(pin), &err), CS_OK);
	ck_assert_str_eq(pin, "11223344");
	write_file(cfg.pin_file, "5566", 0400);
	ck_assert_int_eq(cfg_pin_read(&cfg, pin, sizeof(pin), &err), CS_OK);
	ck_assert_str_eq(pin, "5566");
}
END_TEST

START_TEST(pin_file_mode_0644_refused)
{
	struct cfg cfg;
	struct cs_err err = {0};
	char pin[64], want[PATH_MAX + 64];

	cfg_defaults(&cfg, dir);
	write_file(cfg.pin_file, "99887766\n", 0644);
	ck_assert_int_eq(
	    cfg_pin_read(&cfg, pin, sizeof(pin), &err), CS_ERR_INVALID);
	snprintf(want, sizeof(want),
	    "pin file '%s' must have mode 0600 or stricter", cfg.pin_file);
	ck_assert_str_eq(err.msg, want);
	ck_assert_ptr_null(strstr(err.msg, "9988"));
	write_file(cfg.pin_file, "99887766\n", 0620);
	ck_assert_int_eq(
	    cfg_pin_read(&cfg, pin, sizeof(pin), &err), CS_ERR_INVALID);
}
END_TEST

START_TEST(pin_file_missing_or_not_a_file)
{
	struct cfg cfg;
	struct cs_err err = {0};
	char pin[64];

	cfg_defaults(&cfg, dir);
	ck_assert_int_eq(
	    cfg_pin_read(&cfg, pin, sizeof(pin), &err), CS_ERR_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(err.msg, "cannot open pin file"));
	ck_assert_int_eq(mkdir(cfg.pin_file, 0700), 0);
	ck_assert_int_eq(
	    cfg_pin_read(&cfg, pin, sizeof(pin), &err), CS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "not a regular file"));
	cfg.pin_file[0] = '\0';
	ck_assert_int_eq(
	    cfg_pin_read(&cfg, pin, sizeof(pin), &err), CS_ERR_INVALID);
}
END_TEST

START_TEST(pin_oversized_or_empty_refused)
{
	struct cfg cfg;
	struct cs_err err = {0};
	char pin[9], big[5000];

	cfg_defaults(&cfg, dir);
	write_file(cfg.pin_file, "123456789\n", 0600);
	ck_assert_int_eq(
	    cfg_pin_read(&cfg, pin, sizeof(pin), &err), CS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "longer than 8 bytes"));
	ck_assert_ptr_null(strstr(err.msg, "1234"));
	ck_assert_str_eq(pin, "");
	write_file(cfg.pin_file, "12345678\n", 0600);
	ck_assert_int_eq(cfg_pin_read(&cfg, pin, sizeof(pin), &err), CS_OK);
	ck_assert_str_eq(pin, "12345678");

	memset(big, '7', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_file(cfg.pin_file, big, 0600);
	ck_assert_int_eq(
	    cfg_pin_read(&cfg, pin, sizeof(pin), &err), CS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "larger than"));

	write_file(cfg.pin_file, "\nsecond\n", 0600);
	ck_assert_int_eq(
	    cfg_pin_read(&cfg, pin, sizeof(pin), &err), CS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "no pin"));
	ck_assert_int_eq(cfg_pin_read(&cfg, pin, 1, &err), CS_ERR_INVALID);
}
END_TEST

static Suite *
cfg_suite(void)
{
	Suite *s = suite_create("cfg");
	TCase *tc;

	tc = tcase_create("defaults");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, defaults_fill_every_key);
	suite_add_tcase(s, tc);

	tc = tcase_create("file");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, load_parses_comments_quotes_and_paths);
	tcase_add_test(tc, load_resolves_the_directory);
	tcase_add_test(tc, unknown_key_names_line);
	tcase_add_test(tc, pin_is_not_a_key);
	tcase_add_test(tc, bad_number_names_line_key_and_range);
	tcase_add_test(tc, bad_lines_are_refused);
	tcase_add_test(tc, oversized_input_is_refused);
	tcase_add_test(tc, missing_file_is_not_found);
	suite_add_tcase(s, tc);

	tc = tcase_create("env");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, env_overrides_win);
	tcase_add_test(tc, bad_env_names_the_variable);
	suite_add_tcase(s, tc);

	tc = tcase_create("render");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, render_round_trips);
	tcase_add_test(tc, example_matches_render);
	suite_add_tcase(s, tc);

	tc = tcase_create("pin");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, pin_from_env);
	tcase_add_test(tc, pin_from_file);
	tcase_add_test(tc, pin_file_mode_0644_refused);
	tcase_add_test(tc, pin_file_missing_or_not_a_file);
	tcase_add_test(tc, pin_oversized_or_empty_refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(cfg_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
