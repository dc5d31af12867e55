/*
 * admin_audit.c: certsvc-admin audit verify|checkpoint|export (issue #7).
 * verify exits 0 only when the chain and every checkpoint hold, else 1
 * with the first broken sequence number; a third party's exported
 * checkpoint (--from-checkpoint) shows a truncated or rewritten tail.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "certsvc/audit.h"
#include "certsvc/licence.h"
#include "certsvc/mem.h"
#include "tools/admin.h"

#define AUDIT_EXPORT_FILE_MAX (1 << 20)

int
admin_audit_verify(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"from-checkpoint", required_argument, NULL, 'f'},
	    ADMIN_COMMON_OPTIONS,
	};
	struct audit_verify_result res;
	struct cs_err err = {0};
	struct svc *svc = NULL;
	struct buf *file = NULL;
	const char *from = NULL;
	int ch, ret;

	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE)
		if (ch == 'f')
			from = optarg;
	if (ret != -1)
		return ret;
	if (from != NULL &&
	    cs_file_read(from, AUDIT_EXPORT_FILE_MAX, &file, &err) != CS_OK)
		return admin_fail(ctx, &err);
	ret = admin_open(ctx, SVC_OPEN_STORE, &svc);
	if (ret != ADMIN_EXIT_OK)
		goto out;
	if (audit_verify(svc, file != NULL ? file->data : NULL,
	        file != NULL ? file->len : 0, &res, &err) != CS_OK) {
		ret = admin_fail(ctx, &err);
		goto out;
	}
	ret = res.bad_seq == 0 ? ADMIN_EXIT_OK : ADMIN_EXIT_FAIL;
	if (ctx->json) {
		admin_print_json(json_pack("{s:b,s:I,s:I,s:I,s:I,s:s,s:o}",
		    "ok", res.bad_seq == 0, "events", (json_int_t)res.events,
		    "last_seq", (json_int_t)res.last_seq, "bad_seq",
		    (json_int_t)res.bad_seq, "checkpoints",
		    (json_int_t)res.checkpoints, "reason", res.reason,
		    "exported_seq",
		    res.exported ? json_integer(res.exported_seq)
		                 : json_null()));
	} else if (res.bad_seq == 0) {
		printf("audit trail intact: %lld events (last %lld), %lld "
		       "signed checkpoint%s hold%s",
		    (long long)res.events, (long long)res.last_seq,
		    (long long)res.checkpoints, res.checkpoints == 1 ? "" : "s",
		    res.checkpoints == 1 ? "s" : "");
		if (res.exported)
			printf(", and the exported checkpoint at event %lld",
			    (long long)res.exported_seq);
		printf("\n");
	} else {
		fprintf(stderr,
		    "certsvc-admin %s: audit trail broken at event %lld: %s\n",
		    ctx->cmd, (long long)res.bad_seq, res.reason);
	}
out:
	buf_free(file);
	svc_free(svc);
	return ret;
}

int
admin_audit_checkpoint(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"export", required_argument, NULL, 'e'},
	    ADMIN_COMMON_OPTIONS,
	};
	struct store_checkpoint cp;
	struct cs_err err = {0};
	struct svc *svc = NULL;
	const char *exp = NULL;
	char *text = NULL;
	json_t *obj = NULL;
	bool made = false;
	int ch, ret;

	memset(&cp, 0, sizeof(cp));
	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE)
		if (ch == 'e')
			exp = optarg;
	if (ret != -1)
		return ret;
	ret = admin_open(ctx, SVC_OPEN_ALL, &svc);
	if (ret != ADMIN_EXIT_OK)
		return ret;
	if (audit_checkpoint(svc, &cp, &made, &err) != CS_OK) {
		ret = admin_fail(ctx, &err);
		goto out;
	}
	if (exp != NULL) {
		obj = audit_checkpoint_export(&cp);
		text = obj != NULL ? json_dumps(obj, JSON_INDENT(2)) : NULL;
		if (text == NULL) {
			cs_err_set(&err, CS_ERR_NOMEM, "out of memory");
			ret = admin_fail(ctx, &err);
			goto out;
		}
		if (cs_file_write(exp, text, strlen(text), 0644, false, &err) !=
		    CS_OK) {
			ret = admin_fail(ctx, &err);
			goto out;
		}
	}
	if (ctx->json)
		admin_print_json(
		    json_pack("{s:I,s:b,s:s}", "seq", (json_int_t)cp.seq, "new",
		        made, "certificate", cp.cert_serial));
	else
		printf("%s checkpoint at event %lld%s%s\n",
		    made ? "signed a new" : "the newest", (long long)cp.seq,
		    exp != NULL ? ", exported to " : "",
		    exp != NULL ? exp : "");
out:
	free(text);
	json_decref(obj);
	store_checkpoint_release(&cp);
	svc_free(svc);
	return ret;
}

struct export_filter {
	int64_t since, until; /* Unix seconds, 0: open */
	const char *actor;
	const char *object; /* prefix */
	FILE *out;
	int64_t n;
	bool failed;
};

static bool
export_row(void *arg, const struct store_audit_row *row)
{
	struct export_filter *f = arg;
	char prev[2 * STORE_HASH_LEN + 1], hash[2 * STORE_HASH_LEN + 1];
	json_t *obj, *detail = NULL;
	char *line;

	if ((f->since > 0 && row->time < f->since) ||
	    (f->until > 0 && row->time >= f->until) ||
	    (f->actor != NULL && strcmp(row->actor, f->actor) != 0) ||
	    (f->object != NULL &&
	        strncmp(row->object, f->object, strlen(f->object)) != 0))
		return true;
	cs_hex(row->prev_hash, STORE_HASH_LEN, prev);
	cs_hex(row->hash, STORE_HASH_LEN, hash);
	if (row->detail != NULL)
		detail = json_loadb(
		    (const char *)row->detail->data, row->detail->len, 0, NULL);
	obj = json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:s?,s:o?,s:s,s:s}", "seq",
	    (json_int_t)row->seq, "time", (json_int_t)row->time, "actor",
	    row->actor, "action", row->action, "object", row->object, "outcome",
	    row->outcome, "request_id",
	    row->request_id[0] != '\0' ? row->request_id : NULL, "detail",
	    detail, "prev_hash", prev, "hash", hash);
	line = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	if (line == NULL || fprintf(f->out, "%s\n", line) < 0) {
		free(line);
		f->failed = true;
		return false;
	}
	free(line);
	f->n++;
	return true;
}

/* "YYYY-MM-DD" (China Standard Time, like licences) to Unix seconds. */
static bool
export_date(const char *s, int64_t *t)
{
	int64_t days;

	if (!licence_date_parse(s, &days))
		return false;
	*t = days * 86400 - 8 * 3600;
	return true;
}

int
admin_audit_export(struct admin_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"since", required_argument, NULL, 's'},
	    {"until", required_argument, NULL, 'u'},
	    {"actor", required_argument, NULL, 'a'},
	    {"object", required_argument, NULL, 'o'},
	    {"out", required_argument, NULL, 'O'},
	    ADMIN_COMMON_OPTIONS,
	};
	struct export_filter f;
	struct cs_err err = {0};
	struct svc *svc = NULL;
	const char *out = NULL;
	int ch, ret;

	memset(&f, 0, sizeof(f));
	while ((ret = admin_next(ctx, argc, argv, longopts, &ch)) ==
	    ADMIN_CONTINUE) {
		if (ch == 's' && !export_date(optarg, &f.since))
			return admin_usage_error(
			    ctx, "--since must be a date YYYY-MM-DD");
		if (ch == 'u' && !export_date(optarg, &f.until))
			return admin_usage_error(
			    ctx, "--until must be a date YYYY-MM-DD");
		if (ch == 'u')
			f.until += 86400; /* the whole day */
		if (ch == 'a')
			f.actor = optarg;
		if (ch == 'o')
			f.object = optarg;
		if (ch == 'O')
			out = optarg;
	}
	if (ret != -1)
		return ret;
	ret = admin_open(ctx, SVC_OPEN_STORE, &svc);
	if (ret != ADMIN_EXIT_OK)
		return ret;
	f.out = out != NULL ? fopen(out, "w") : stdout;
	if (f.out == NULL) {
		cs_err_set(&err, CS_ERR_INVALID, "cannot write '%s'", out);
		svc_free(svc);
		fprintf(stderr, "certsvc-admin %s: %s\n", ctx->cmd, err.msg);
		return ADMIN_EXIT_IO;
	}
	if (store_audit_scan(svc->store, 1, export_row, &f, &err) != CS_OK)
		ret = admin_fail(ctx, &err);
	else if (f.failed)
		ret = ADMIN_EXIT_IO;
	if (out != NULL && fclose(f.out) != 0)
		ret = ADMIN_EXIT_IO;
	if (ret == ADMIN_EXIT_OK && out != NULL)
		fprintf(stderr, "exported %lld events to %s\n", (long long)f.n,
		    out);
	svc_free(svc);
	return ret;
}
