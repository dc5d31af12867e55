/*
 * fuzz_cfg.c: certsvc.conf (certsvc/cfg.c).  cfg_parse() is what
 * cfg_load() runs on the file's bytes (this file includes cfg.c to reach
 * it; cfg_load() adds only reading the file and the environment, which
 * fuzz_init() empties).  What parses must render (cfg_render) into a file
 * that parses again to a configuration rendered the same.
 */
#include "certsvc/cfg.c"

#include "fuzz/fuzz.h"

#define FUZZ_DIR "/var/lib/certsvc-fuzz"

static char *
fuzz_render(const struct cfg *c)
{
	struct cs_err err = {0};
	char *out = NULL;

	FUZZ_CHECK(cfg_render(c, &out, &err) == CS_OK);
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	struct cfg a, b;
	struct cs_err err = {0};
	char *text, *r1, *r2;

	if (!init) {
		fuzz_init();
		init = true;
	}
	text = fuzz_strndup(data, size);
	cfg_defaults(&a, FUZZ_DIR);
	if (cfg_parse(&a, text, size, "certsvc.conf", &err) != CS_OK) {
		FUZZ_CHECK(err.rc == CS_ERR_INVALID);
		free(text);
		return 0;
	}
	r1 = fuzz_render(&a);
	cfg_defaults(&b, FUZZ_DIR);
	if (cfg_parse(&b, r1, strlen(r1), "rendered", &err) != CS_OK) {
		fprintf(
		    stderr, "rendered config does not parse: %s\n", err.msg);
		abort();
	}
	free(r1); /* cfg_parse() cut it into lines: render again */
	r1 = fuzz_render(&a);
	r2 = fuzz_render(&b);
	FUZZ_CHECK(strcmp(r1, r2) == 0);
	free(r1);
	free(r2);
	free(text);
	return 0;
}
