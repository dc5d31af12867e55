/*
 * admin_rotate.c: "seal rotate", "key destroy" and "licence reseal"
 * (issue #9, certsvc/rotate.c).  Destroying a key cannot be undone, so it
 * asks for the key's label to be typed (or --yes); re-sealing works one
 * licence per transaction behind a progress bar and is resumed by running
 * it again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certsvc/mem.h"
#include "certsvc/rotate.h"
#include "certsvc/seal.h"
#include "crypto/crypto.h"
#include "tools/admin.h"

#define RESEAL_PAGE 500
#define RESEAL_DRAW_NS 100000000ULL /* redraw at most 10 times a second */

int
admin_seal_rotate(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"seal", required_argument, NULL, 's'},
	    {"alg", required_argument, NULL, 'a'},
	    {"days", required_argument, NULL, 'd'},
	    ADMIN_COMMON_OPTIONS,
	};
	struct rotate_seal_opts o;
	struct rotate_seal_result r;
	struct cs_err err = {0};
	struct svc *svc = NULL;
	long long days;
	char *end;
	int ch, ret;

	memset(&o, 0, sizeof(o));
	o.actor = "admin";
	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE) {
		if (ch == 's') {
			o.id = optarg;
		} else if (ch == 'a') {
			if (!p11_alg_parse(optarg, &o.alg))
				return admin_usage_error(
				    ctx, "--alg must be p256, p384 or rsa3072");
			o.has_alg = true;
		} else if (ch == 'd') {
			days = strtoll(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || days < 1 ||
			    days > 36500)
				return admin_usage_error(
				    ctx, "--days must be 1 to 36500");
			o.days = (unsigned)days;
		}
	}
	if (ret != -1)
		return ret;
	if (o.id == NULL)
		return admin_usage_error(ctx, "--seal is required");
	ret = admin_open(ctx, SVC_OPEN_ALL, &svc);
	if (ret != ADMIN_EXIT_OK)
		return ret;
	if (rotate_seal(svc, &o, &r, &err) != CS_OK)
		ret = admin_fail(ctx, &err);
	else if (ctx->json)
		admin_print_json(json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "id",
		    o.id, "alg", r.alg, "key_uri", r.new_uri, "retired_key_uri",
		    r.old_uri, "certificate_sha256", r.new_sha256,
		    "retired_certificate_sha256", r.old_sha256));
	else
		printf("rotated seal %s: new key %s\n"
		       "  certificate sha256 %s\n"
		       "retired key %s (seals nothing more; its certificate "
		       "stays valid)\n"
		       "  certificate sha256 %s\n",
		    o.id, r.new_uri, r.new_sha256, r.old_uri, r.old_sha256);
	svc_free(svc);
	return ret;
}

int
admin_seal_revoke_key(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"seal", required_argument, NULL, 's'},
	    {"certificate", required_argument, NULL, 'c'},
	    {"reason", required_argument, NULL, 'r'},
	    {"comment", required_argument, NULL, 'm'},
	    ADMIN_COMMON_OPTIONS,
	};
	const char *id = NULL, *cert = NULL, *reason = NULL, *comment = NULL;
	char text[STORE_TEXT_MAX];
	struct cs_err err = {0};
	struct svc *svc = NULL;
	enum crypto_reason r;
	int ch, ret;

	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE) {
		if (ch == 's')
			id = optarg;
		else if (ch == 'c')
			cert = optarg;
		else if (ch == 'r')
			reason = optarg;
		else if (ch == 'm')
			comment = optarg;
	}
	if (ret != -1)
		return ret;
	if (id == NULL || cert == NULL || reason == NULL)
		return admin_usage_error(
		    ctx, "--seal, --certificate and --reason are required");
	/* The CRLReasons that fit a key (RFC 5280 5.3.1), by name. */
	r = crypto_reason_from_text(reason);
	if (strcmp(crypto_reason_name(r), reason) != 0 ||
	    (r != CRYPTO_REASON_KEY_COMPROMISE &&
	        r != CRYPTO_REASON_SUPERSEDED && r != CRYPTO_REASON_CESSATION &&
	        r != CRYPTO_REASON_UNSPECIFIED))
		return admin_usage_error(ctx,
		    "--reason must be keyCompromise, superseded, "
		    "cessationOfOperation or unspecified");
	if (snprintf(text, sizeof(text), "%s%s%s", reason,
	        comment != NULL ? ": " : "",
	        comment != NULL ? comment : "") >= (int)sizeof(text))
		return admin_usage_error(ctx, "--comment is too long");
	ret = admin_open(ctx, SVC_OPEN_STORE, &svc);
	if (ret != ADMIN_EXIT_OK)
		return ret;
	if (rotate_revoke_retired(svc, id, cert, text, "admin", &err) != CS_OK)
		ret = admin_fail(ctx, &err);
	else if (ctx->json)
		admin_print_json(json_pack("{s:s,s:s,s:s,s:s}", "id", id,
		    "certificate_sha256", cert, "status", "revoked", "reason",
		    reason));
	else
		printf("revoked the retired certificate %s of seal %s (%s); "
		       "the seal and its current certificate stay\n",
		    cert, id, reason);
	svc_free(svc);
	return ret;
}

/* Read one line from stdin and compare it with label. */
static bool
confirm_label(const char *label)
{
	char line[STORE_NAME_MAX + 2];
	size_t n;

	if (isatty(STDIN_FILENO))
		fprintf(stderr,
		    "this destroys key '%s' in the token for good.\n"
		    "type its label to confirm: ",
		    label);
	if (fgets(line, sizeof(line), stdin) == NULL)
		return false;
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	return strcmp(line, label) == 0;
}

int
admin_key_destroy(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"uri", required_argument, NULL, 'u'},
	    {"label", required_argument, NULL, 'l'},
	    {"yes", no_argument, NULL, 'y'},
	    ADMIN_COMMON_OPTIONS,
	};
	const char *name = NULL;
	char uri[STORE_URI_MAX];
	struct store_key k;
	struct cs_err err = {0};
	struct svc *svc = NULL;
	int64_t destroyed_at;
	bool yes = false;
	int ch, ret;

	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE) {
		if (ch == 'u' || ch == 'l') {
			if (name != NULL)
				return admin_usage_error(
				    ctx, "give one of --uri and --label");
			name = optarg;
		} else if (ch == 'y') {
			yes = true;
		}
	}
	if (ret != -1)
		return ret;
	if (name == NULL)
		return admin_usage_error(ctx, "--uri or --label is required");
	ret = admin_open(ctx, SVC_OPEN_ALL, &svc);
	if (ret != ADMIN_EXIT_OK)
		return ret;
	if (store_key_find(svc->store, name, &k, &destroyed_at, &err) !=
	    CS_OK) {
		ret = admin_fail(ctx, &err);
		goto out;
	}
	if (!yes && !confirm_label(k.label)) {
		ret = admin_usage_error(
		    ctx, "not confirmed: type the key's label, or give --yes");
		goto out;
	}
	if (rotate_key_destroy(svc, k.uri, "admin", uri, sizeof(uri), &err) !=
	    CS_OK)
		ret = admin_fail(ctx, &err);
	else if (ctx->json)
		admin_print_json(json_pack("{s:s,s:s,s:s,s:b}", "uri", uri,
		    "label", k.label, "purpose", k.purpose, "destroyed", 1));
	else
		printf("destroyed key %s (%s)\n", k.label, uri);
out:
	svc_free(svc);
	return ret;
}

struct reseal_run {
	struct svc *svc;
	const char *from, *to;
	bool progress;
	uint64_t t0, drawn;
	size_t total, resealed, current, skipped, failed;
};

static void
reseal_draw(struct reseal_run *r, bool force)
{
	uint64_t now = cs_now_ns();
	size_t done = r->resealed + r->current + r->skipped + r->failed;
	double secs = (double)(now - r->t0) / 1e9;
	char bar[21];
	size_t i, fill;

	if (!r->progress || (!force && now - r->drawn < RESEAL_DRAW_NS))
		return;
	r->drawn = now;
	fill = r->total > 0 ? 20 * done / r->total : 20;
	for (i = 0; i < 20; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[20] = '\0';
	fprintf(stderr, "\r[%s] %zu/%zu licences %3u%%  %.0f/s\033[K", bar,
	    done, r->total,
	    r->total > 0 ? (unsigned)(100 * done / r->total) : 100,
	    secs > 0 ? (double)done / secs : 0.0);
	fflush(stderr);
}

/*
 * Call fn for every licence whose newest version seal r->from seals, page
 * by page (the identifiers are read again per page, so the ones re-sealed
 * under r->to drop out and no list of all of them is held).
 */
static enum cs_rc
reseal_each(struct reseal_run *r, bool (*fn)(struct reseal_run *, const char *),
    struct cs_err *err)
{
	char after[STORE_LICENCE_ID_MAX] = "";
	char(*ids)[STORE_LICENCE_ID_MAX] = NULL;
	size_t n, i;
	enum cs_rc rc;

	for (;;) {
		rc = store_licence_ids_by_seal(
		    r->svc->store, r->from, after, RESEAL_PAGE, &ids, &n, err);
		if (rc != CS_OK || n == 0)
			break;
		for (i = 0; i < n; i++)
			if (!fn(r, ids[i]))
				break;
		cs_strlcpy(after, ids[n - 1], sizeof(after));
		free(ids);
		ids = NULL;
		if (i < n)
			break;
	}
	free(ids);
	return rc;
}

static bool
reseal_count(struct reseal_run *r, const char *id)
{
	(void)id;
	r->total++;
	return true;
}

static bool
reseal_one(struct reseal_run *r, const char *id)
{
	enum rotate_reseal_outcome out;
	struct cs_err err = {0};
	char why[128];

	if (rotate_reseal(r->svc, id, r->from, r->to, "admin", &out, why,
	        sizeof(why), &err) != CS_OK) {
		r->failed++;
		fprintf(stderr, "%scertsvc-admin: licence reseal: %s: %s\n",
		    r->progress ? "\r\033[K" : "", id, err.msg);
	} else if (out == ROTATE_RESEALED) {
		r->resealed++;
	} else if (out == ROTATE_CURRENT) {
		r->current++;
	} else {
		r->skipped++;
		if (!r->progress)
			fprintf(stderr, "skipped %s: %s\n", id, why);
	}
	reseal_draw(r, false);
	return true;
}

/* Both seals exist, to is active and of from's department. */
static enum cs_rc
reseal_check(
    struct svc *svc, const char *from, const char *to, struct cs_err *err)
{
	struct store_seal a, b;
	enum cs_rc rc;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	rc = store_seal_get(svc->store, from, &a, err);
	if (rc == CS_OK)
		rc = store_seal_get(svc->store, to, &b, err);
	if (rc == CS_ERR_INVALID)
		rc = cs_err_set(err, CS_ERR_NOT_FOUND, "no such seal");
	if (rc == CS_OK && strcmp(b.status, "active") != 0)
		rc = cs_err_set(err, CS_ERR_CONFLICT,
		    "seal '%s' is %s: re-seal with an active one", b.id,
		    b.status);
	if (rc == CS_OK && strcmp(a.dept, b.dept) != 0)
		rc = cs_err_set(err, CS_ERR_INVALID,
		    "seal '%s' belongs to another department than '%s'", b.id,
		    a.id);
	store_seal_release(&a);
	store_seal_release(&b);
	return rc;
}

int
admin_licence_reseal(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"seal", required_argument, NULL, 's'},
	    {"new-seal", required_argument, NULL, 'n'},
	    ADMIN_COMMON_OPTIONS,
	};
	struct reseal_run r;
	struct cs_err err = {0};
	int ch, ret;

	memset(&r, 0, sizeof(r));
	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE) {
		if (ch == 's')
			r.from = optarg;
		else if (ch == 'n')
			r.to = optarg;
	}
	if (ret != -1)
		return ret;
	if (r.from == NULL)
		return admin_usage_error(ctx, "--seal is required");
	if (r.to == NULL)
		r.to = r.from;
	ret = admin_open(ctx, SVC_OPEN_ALL, &r.svc);
	if (ret != ADMIN_EXIT_OK)
		return ret;
	if (reseal_check(r.svc, r.from, r.to, &err) != CS_OK ||
	    reseal_each(&r, reseal_count, &err) != CS_OK) {
		ret = admin_fail(ctx, &err);
		goto out;
	}
	r.progress = !ctx->json && isatty(STDERR_FILENO);
	r.t0 = cs_now_ns();
	reseal_draw(&r, true);
	if (reseal_each(&r, reseal_one, &err) != CS_OK) {
		ret = admin_fail(ctx, &err);
		goto out;
	}
	reseal_draw(&r, true);
	if (r.progress)
		fputc('\n', stderr);
	svc_refresher_nudge(r.svc);
	if (ctx->json)
		admin_print_json(
		    json_pack("{s:s,s:s,s:I,s:I,s:I,s:I}", "seal", r.from,
		        "new_seal", r.to, "resealed", (json_int_t)r.resealed,
		        "current", (json_int_t)r.current, "skipped",
		        (json_int_t)r.skipped, "failed", (json_int_t)r.failed));
	else
		printf("resealed %zu licences with seal %s (%zu already "
		       "current, %zu skipped, %zu failed)\n",
		    r.resealed, r.to, r.current, r.skipped, r.failed);
	if (r.failed > 0)
		ret = ADMIN_EXIT_PARTIAL;
out:
	svc_free(r.svc);
	return ret;
}
